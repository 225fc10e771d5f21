#!/bin/sh
# The unit files as installed: 'make install' into a prefix of our own, then
# systemd-analyze verify (any output on stderr is a failure: it exits 0 on
# warnings) and the sandbox's exposure level from systemd-analyze security.
. "$(dirname "$0")/../integration/lib.sh"

# Exposure level the service must not exceed: 0-10, one decimal (--threshold takes it x10).
MAX_EXPOSURE=${MAX_EXPOSURE:-1.5}
P="$T/prefix"
UNITS="$P/units"
make -s -C "$TOP" BUILD="$BUILD" install DESTDIR= PREFIX="$P" SYSCONFDIR="$P/etc" \
	UNITDIR="$UNITS" SYSUSERSDIR="$P/sysusers.d" >"$T/install.log" 2>&1
check "make install with PREFIX, SYSCONFDIR, UNITDIR and SYSUSERSDIR" test $? = 0
for f in "$UNITS/mconnd.service" "$UNITS/mconnd.socket" "$P/sysusers.d/mconnd.conf" \
	"$P/sbin/mconnd" "$P/bin/mconnctl" "$P/etc/mconnd/mconnd.conf" "$P/share/man/man7/mconn.7"; do
	check "installed ${f#"$P"/}" test -s "$f"
done
check "no placeholder left in the units" test -z "$(grep -l '@[A-Z]*@' "$UNITS"/*)"
check "the units run the installed programs" \
	grep -qx "ExecStart=$P/sbin/mconnd -c $P/etc/mconnd/mconnd.conf" "$UNITS/mconnd.service"
check "reload goes through mconnctl, synchronously" \
	grep -qx "ExecReload=$P/bin/mconnctl -s /run/mconnd.sock reload" "$UNITS/mconnd.service"
check "the sysusers.d entry creates the admin group mconn" \
	grep -qx 'g mconn - -' "$P/sysusers.d/mconnd.conf"

# Issue 14: the checks start at boot, a socket restart does not stop them, a filtered
# system call fails instead of killing, and the open-files limit covers the maximum.
SVC="$UNITS/mconnd.service"
check "the service starts at boot (WantedBy=multi-user.target)" \
	grep -qx 'WantedBy=multi-user.target' "$SVC"
check "the service only wants the socket (Requires= would stop it with the socket)" \
	sh -c "grep -q '^Wants=.*mconnd.socket' '$SVC' && ! grep -qE '^(Requires|BindsTo|PartOf)=.*mconnd.socket' '$SVC'"
check "SystemCallErrorNumber=EPERM" grep -qx 'SystemCallErrorNumber=EPERM' "$SVC"
# What the daemon may open: every session, its reserve and the HTTP clients.
hdr() { sed -n "s/^#define $1 \([0-9]*\)u*\$/\1/p" "$TOP/$2"; }
need=$(($(hdr CONFIG_MAX_TOTAL_CONNECTIONS include/config.h) + $(hdr CTL_MAX_CLIENTS include/ctl.h) + 32 +
	$(hdr HTTP_MAX_CLIENTS include/http.h)))
grep -q '^#define FD_RESERVE (CTL_MAX_CLIENTS + 32)$' "$TOP/src/daemon.c" ||
	fail "FD_RESERVE in src/daemon.c changed: update this test"
nofile=$(sed -n 's/^LimitNOFILE=//p' "$SVC")
check "LimitNOFILE=$nofile is at least what mconnd may need ($need)" test "${nofile:-0}" -ge "$need"

# verify runs man(1) for Documentation=: let it find the pages just installed.
(cd "$UNITS" && MANPATH="$P/share/man:" systemd-analyze verify mconnd.socket mconnd.service) \
	>"$T/verify.out" 2>"$T/verify.err"
rc=$?
check "systemd-analyze verify exits 0" test "$rc" = 0
check "systemd-analyze verify prints nothing on stderr" test ! -s "$T/verify.err"
[ -s "$T/verify.err" ] && sed 's/^/    /' "$T/verify.err"

systemd-analyze security --offline=true --threshold=$(echo "$MAX_EXPOSURE" | tr -d .) \
	"$UNITS/mconnd.service" >"$T/security.out" 2>&1
rc=$?
level=$(sed -n 's/.*Overall exposure level for mconnd.service: \([0-9.]*\).*/\1/p' "$T/security.out")
say "exposure level of mconnd.service: ${level:-?} (systemd-analyze security --offline=true)"
check "exposure level is at most $MAX_EXPOSURE" test "$rc" = 0 -a -n "$level"
finish
