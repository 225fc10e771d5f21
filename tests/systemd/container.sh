#!/bin/sh
# mconnd under a real systemd: boot Debian 12 with systemd as PID 1 in a
# systemd-nspawn container, install the Debian package (make deb) into it with
# dpkg, and check what an operator would see: the service enabled and running
# after the install, socket activation, a socket restart that leaves the checks
# alone, the sandbox, the journal's fields, reload, the watchdog, permissions,
# stop; then a reboot of the container (the service runs and checks again, with
# no client), and removal and purge (nothing left). Needs root.
# There is no machined and no host systemd here: nspawn runs with --register=no
# --keep-unit, commands go in through nsenter (machinectl and systemctl -M cannot
# work). The container's root is an overlay over the cached root file system, its
# upper layer on a tmpfs of the test's own: the cache stays pristine and the
# installed package survives the reboot. --private-network gives the container a
# loopback of its own, so the echo server can use the echo port, 7 (RFC 862).
. "$(dirname "$0")/../integration/lib.sh"
unset MCONND_SOCKET

# What booting a container needs, probed before the root file system is built: root;
# a root directory that is a mount point (nspawn makes / a slave mount in a namespace
# of its own, which fails in a chroot: "Failed to mount n/a ... on /"); then a
# container nspawn can start at all (it cannot inside an unprivileged container).
[ "$(id -u)" = 0 ] || skip "root (systemd-nspawn boots a container)"
unshare -m --propagation slave true 2>/dev/null ||
	skip "a mount namespace whose / can be made a slave mount (/ is not a mount point in a chroot; no CAP_SYS_ADMIN in an unprivileged container)"
START=$(date +%s)
ROOTFS=$(sh "$TOP/tests/systemd/rootfs.sh") || { fail "no root file system (tests/systemd/rootfs.sh)"; exit 1; }
systemd-nspawn -q -D "$ROOTFS" --register=no --keep-unit --volatile=overlay /bin/true \
	>"$T/probe.log" 2>&1 ||
	skip "a container systemd-nspawn can start ($(grep -v '^$' "$T/probe.log" | tail -n 1))"
NAME="mconn-check-$$"
NSPAWN_PID=""
LEADER=""
# The package 'make deb' built, and the container's root: ROOTFS below, T/ovl above.
DEB=$(ls "$B"/deb/mconn_*_*.deb 2>/dev/null | head -n 1)
[ -n "$DEB" ] || { fail "no package in $B/deb (make deb)"; exit 1; }
ROOT="$T/root"
mkdir -p "$T/ovl" "$ROOT"
if ! mount -t tmpfs -o size=512m,mode=0755 mconn-ovl "$T/ovl" ||
	! mkdir "$T/ovl/upper" "$T/ovl/work" ||
	! mount -t overlay mconn-root -o "lowerdir=$ROOTFS,upperdir=$T/ovl/upper,workdir=$T/ovl/work" "$ROOT"; then
	umount "$T/ovl" 2>/dev/null
	skip "an overlay mount over the cached root file system (mount -t overlay)"
fi
unmount_root() {
	umount "$ROOT" 2>/dev/null || umount -l "$ROOT"
	umount "$T/ovl" 2>/dev/null || umount -l "$T/ovl"
}

# Run a command inside the container, as root, with a clean environment.
in_ct() {
	nsenter -t "$LEADER" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
# as USER COMMAND...: the same as an unprivileged user with that user's groups.
as() {
	u=$1
	shift
	in_ct setpriv --reuid="$u" --regid="$u" --init-groups "$@"
}
quiet() { "$@" >/dev/null; }
ctl_json() { in_ct mconnctl -j status | jq -r "$1"; }
tfield() { ctl_json ".targets[] | select(.name == \"$1\") | .$2"; }
# silent COMMAND...: show its output only when it fails.
silent() { "$@" >"$T/last.out" 2>&1 || { sed 's/^/    /' "$T/last.out"; return 1; }; }
# A file in the container's root, written from here.
ct_path() { printf '/proc/%s/root%s' "$LEADER" "$1"; }
show() { in_ct systemctl show -P "$2" "$1"; }
# is_pid VALUE: a real process id, not empty and not 0.
is_pid() { case $1 in '' | 0 | *[!0-9]*) return 1 ;; esac; }
is_running() {
	in_ct timeout 30 systemctl is-system-running --wait 2>/dev/null | grep -qE '^(running|degraded)$'
}
# journal_has UNIT REGEX [FIELD=VALUE...]: an entry of UNIT matching REGEX (and fields).
journal_has() {
	u=$1
	re=$2
	shift 2
	in_ct journalctl -q --no-pager -u "$u" "$@" -o cat | grep -qE "$re"
}

# Each container gets cgroups of its own (so several can run at once); nspawn runs
# in the foreground of a shell that moved itself there, so $! is nspawn itself.
boot() {
	sh -c 'for c in systemd unified; do
			mkdir -p "/sys/fs/cgroup/$c/$1" && echo $$ >"/sys/fs/cgroup/$c/$1/cgroup.procs"
		done
		exec systemd-nspawn -D "$2" -M "$1" --register=no --keep-unit --console=passive \
			--private-network --bind-ro="$3:/usr/local/libexec/mconn-echod" -b' \
		boot "$NAME" "$ROOT" "$B/echod" >>"$T/nspawn.log" 2>&1 &
	NSPAWN_PID=$!
	wait_for 20 find_leader || return 1
	i=0
	# systemctl may not reach the manager at first ("Failed to connect to bus").
	while [ $i -lt 60 ] && ! is_running; do
		i=$((i + 1))
		sleep 0.25
	done
	is_running
}

# The container's PID 1: nspawn's child running systemd.
find_leader() {
	LEADER=$(ps -o pid= -o comm= --ppid "$NSPAWN_PID" | awk '$2 == "systemd" { print $1; exit }')
	[ -n "$LEADER" ]
}

# reap: wait (10 s at most) for nspawn to exit, then kill it; NSPAWN_RC is its status.
reap() {
	i=0
	while [ $i -lt 100 ] && kill -0 "$NSPAWN_PID" 2>/dev/null; do
		i=$((i + 1))
		sleep 0.1
	done
	kill -KILL "$NSPAWN_PID" 2>/dev/null
	wait "$NSPAWN_PID" 2>/dev/null
	NSPAWN_RC=$?
	NSPAWN_PID=""
	for c in systemd unified; do
		[ -d "/sys/fs/cgroup/$c/$NAME" ] &&
			find "/sys/fs/cgroup/$c/$NAME" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}

halt() {
	[ -n "$NSPAWN_PID" ] || return 0
	kill -TERM "$NSPAWN_PID" 2>/dev/null
	reap
}
trap 'halt; unmount_root; cleanup' EXIT
trap 'exit 1' INT TERM

if ! boot; then
	fail "container did not boot: $(tail -n 5 "$T/nspawn.log")"
	exit 1
fi
ok "container $NAME booted with systemd as PID 1 ($(($(date +%s) - START)) s so far)"

# --- The package: dpkg -i, and its maintainer scripts do the rest.
cp "$DEB" "$(ct_path /root/)"
check "dpkg -i $(basename "$DEB") in the container" silent in_ct dpkg -i "/root/$(basename "$DEB")"
check "its postinst created the admin group mconn (sysusers.d)" silent in_ct getent group mconn
check "and enabled mconnd.service and mconnd.socket" \
	test "$(in_ct systemctl is-enabled mconnd.service mconnd.socket | paste -sd ' ')" = "enabled enabled"
check "and started the service, with no client (the checks run from the install on)" \
	test "$(show mconnd.service ActiveState) $(show mconnd.socket ActiveState)" = "active active"
check "/etc/mconnd/mconnd.conf is a conffile" \
	sh -c "$(command -v nsenter) -t $LEADER -a dpkg-query -W -f='\${Conffiles}' mconn | grep -q '^ /etc/mconnd/mconnd.conf '"
check "the package ships the man pages and the example drop-in" \
	in_ct test -s /usr/share/man/man8/mconnd.8.gz -a -s /usr/share/man/man5/mconnd.conf.5.gz \
	-a -s /usr/share/man/man7/mconn.7.gz \
	-a -s /usr/share/man/man8/mconnctl.8.gz -a -s /usr/share/doc/mconn/local-echo.conf.example
check "SystemCallErrorNumber=EPERM in force (a filtered call fails, it does not kill)" \
	test "$(show mconnd.service SystemCallErrorNumber)" = 1
# An upgrade (the same version again): postinst restarts the service and the socket.
MAIN=$(show mconnd.service MainPID)
check "dpkg -i again, as an upgrade" silent in_ct dpkg -i "/root/$(basename "$DEB")"
check "restarted the service (a new process), both units active" \
	test "$(show mconnd.service ActiveState) $(show mconnd.socket ActiveState)" = "active active" -a \
	"$(show mconnd.service MainPID)" != "$MAIN"
check "cleanly: no failed start, no restart (the socket was left alone)" \
	test "$(show mconnd.service NRestarts)" = 0
in_ct useradd -M -G mconn alice
in_ct useradd -M bob

# The fixture echo server, inside, as a transient service; it starts in 'corrupt'
# mode and is switched to echo at once, so that USR2 can break it later.
in_ct systemd-run -q --unit=mconn-echod -p RuntimeDirectory=mconn-echod \
	/usr/local/libexec/mconn-echod -q -m corrupt -l 127.0.0.1:0 -p /run/mconn-echod/port
check "echod runs in the container" wait_for 10 test -s "$(ct_path /run/mconn-echod/port)"
in_ct systemctl kill -s USR1 mconn-echod
PORT=$(cat "$(ct_path /run/mconn-echod/port)")

check "the installed configuration names the admin group" \
	grep -qx 'admin_group = mconn' "$(ct_path /etc/mconnd/mconnd.conf)"
check "and passes 'mconnd -t' once the group exists" silent in_ct mconnd -t
# The test's own configuration: one target on the echo server; drop-ins come later.
printf '[daemon]\nadmin_group = mconn\nmetrics_listen = 127.0.0.1:0\n[target "echo1"]\naddress = 127.0.0.1:%s\n%s\n' \
	"$PORT" 'connections = 2
interval = 200ms
rise = 1
fall = 2
backoff_max = 0' >"$(ct_path /etc/mconnd/mconnd.conf)"
DROPIN=$(ct_path /etc/mconnd/conf.d/echo2.conf)
# Test-only settings: a short watchdog, no core dump from its SIGABRT, and a soft
# open-files limit below the hard one, for mconnd to raise.
mkdir -p "$(ct_path /etc/systemd/system/mconnd.service.d)"
printf '[Service]\nWatchdogSec=2s\nLimitCORE=0\nLimitNOFILE=1024:4096\n' \
	>"$(ct_path /etc/systemd/system/mconnd.service.d/test.conf)"
in_ct systemctl daemon-reload
# The socket takes over from here: with the service stopped, the first client starts it.
check "systemctl stop mconnd.service" silent in_ct systemctl stop mconnd.service
check "the socket is root:mconn 0660 at /run/mconnd.sock" \
	test "$(in_ct stat -c '%U:%G %a %F' /run/mconnd.sock)" = "root:mconn 660 socket"
check "systemd-analyze verify of the installed units prints nothing" \
	test -z "$(in_ct systemd-analyze verify --man=no mconnd.socket mconnd.service 2>&1)"

# --- Activation by the first client.
check "mconnd.service is not running before the first client" \
	test "$(show mconnd.service ActiveState)" = inactive
check "the first 'mconnctl status', by alice of group mconn, is answered" \
	quiet as alice mconnctl status
check "and started mconnd.service" test "$(show mconnd.service ActiveState)" = active
check "the daemon left the socket's owner and mode alone" \
	test "$(in_ct stat -c '%U:%G %a' /run/mconnd.sock)" = "root:mconn 660"
MAIN=$(show mconnd.service MainPID)
check "the daemon got the socket from systemd (no socket of its own)" \
	journal_has mconnd.service "started: 1 target, 2 sessions, control socket passed by systemd"
status=$(in_ct cat "/proc/$MAIN/status")
check "it runs as a dynamic user, not root" \
	test "$(echo "$status" | awk '/^Uid:/ { print $2 }')" -ne 0
check "with no capabilities at all" test "$(echo "$status" | awk '/^CapEff:/ { print $2 }')" = 0000000000000000
check "under a system call filter" test "$(echo "$status" | awk '/^Seccomp:/ { print $2 }')" = 2
check "it raised its soft open-files limit to the hard one (1024 -> 4096)" \
	test "$(in_ct cat "/proc/$MAIN/limits" | awk '/^Max open files/ { print $4, $5 }')" = "4096 4096"
check "the target comes up" wait_for 10 sh -c "$(command -v nsenter) -t $LEADER -a mconnctl -j status | jq -e '.targets[0].state == \"up\"' >/dev/null"
# The metrics listener works in the sandbox (the system call filter, the dynamic user):
# the host's curl, in the container's network namespace.
metrics_served() {
	a=$(in_ct mconnctl -j status | jq -r .metrics.listen) || return 1
	nsenter -t "$LEADER" -n curl -s -m 5 "http://$a/metrics" |
		grep -q '^mconn_target_up{target="echo1"} 1$'
}
check "the metrics listener serves /metrics under the sandbox" wait_for 10 metrics_served
check "StatusText shows targets, sessions and the cycle rate" wait_for 5 sh -c \
	"$(command -v nsenter) -t $LEADER -a systemctl show -P StatusText mconnd | grep -qE '^1 target: 1 up, 0 degraded, 0 down, 0 unknown; 2 sessions; [0-9.]+ cycles/s'"

# --- Restarting the socket leaves the checks alone (Wants=, not Requires=). systemd
# 252 will not listen again while the service runs ("Socket service mconnd.service
# already active, refusing": the socket unit fails); the daemon keeps the listening
# socket, and RemoveOnStop=no keeps its path, so mconnctl still reaches it.
MAIN=$(show mconnd.service MainPID)
before=$(tfield echo1 cycles_ok)
in_ct systemctl restart mconnd.socket >/dev/null 2>&1
say "systemctl restart mconnd.socket: exit $?; mconnd.socket is now $(show mconnd.socket ActiveState)"
check "restarting mconnd.socket leaves the service running, the same process" \
	test "$(show mconnd.service ActiveState) $(show mconnd.service MainPID)" = "active $MAIN"
check "which keeps checking (cycles_ok grows past $before)" \
	wait_for 5 sh -c "[ \"\$($(command -v nsenter) -t $LEADER -a mconnctl -j status | jq '.targets[0].cycles_ok')\" -gt $before ]"
check "and answers mconnctl on the same path" quiet as alice mconnctl version
check "systemctl restart mconnd.service brings the socket back (Wants=)" \
	silent in_ct systemctl restart mconnd.service
check "both active again" \
	test "$(show mconnd.service ActiveState) $(show mconnd.socket ActiveState)" = "active active"
check "and a client is answered" quiet as alice mconnctl version

# --- The journal's structured fields.
HEALTH=2f6a5e5b9c1d4b7e8a0f3c2d1e4b5a69
check "journalctl -u mconnd TARGET=echo1 finds the health change" \
	journal_has mconnd.service '^target echo1 is up after 1 success' TARGET=echo1
check "with MESSAGE_ID, STATE=up and ADDRESS" journal_has mconnd.service 'is up' \
	MESSAGE_ID=$HEALTH STATE=up "ADDRESS=127.0.0.1:$PORT"
in_ct systemctl kill -s USR2 mconn-echod
check "a corrupting server makes it down, logged with ERROR_CLASS=mismatch at warning priority" \
	wait_for 10 journal_has mconnd.service '^target echo1 is down after 2 failures: mismatch' \
	TARGET=echo1 STATE=down ERROR_CLASS=mismatch PRIORITY=4 MESSAGE_ID=$HEALTH
check "with the health model's fields: both sessions down, not flapping" \
	journal_has mconnd.service '^target echo1 is down' SESSIONS=2 SESSIONS_DOWN=2 DOWN_QUORUM=2 FLAPPING=0
in_ct systemctl kill -s USR1 mconn-echod
# One session up again makes it degraded (1 of 2 down), the other up.
check "and up again when it echoes" wait_for 10 journal_has mconnd.service 'echo1 is up after 1 success \(was (down|degraded)' \
	STATE=up
check "a message not about a target has no TARGET= field" \
	test -z "$(in_ct journalctl -q -u mconnd.service -o export MESSAGE='mconnd 0.1.0 started: 1 target, 2 sessions, control socket passed by systemd' | grep -a '^TARGET=')"

# --- systemctl reload: synchronous, and failing on a bad file.
status_has() { show mconnd.service StatusText | grep -qE "$1"; }
MAIN=$(show mconnd.service MainPID)
before=$(tfield echo1 cycles_ok)
printf '[target "echo2"]\naddress = 127.0.0.1:%s\nconnections = 1\ninterval = 200ms\n' "$PORT" \
	>"$DROPIN"
check "systemctl reload with a new target in a drop-in file succeeds" \
	silent in_ct systemctl reload mconnd.service
check "the new target is there as soon as it returns" \
	test "$(ctl_json '[.targets[].name] | join(",")')" = "echo1,echo2"
check "echo1 kept its counters ($before successful cycles before the reload)" \
	test "$(tfield echo1 cycles_ok)" -ge "$before"
check "the same process reloaded" test "$(show mconnd.service MainPID)" = "$MAIN"
check "the journal has the summary" \
	journal_has mconnd.service '^reloaded: 1 added, 0 removed, 0 changed, 1 unchanged$'
check "StatusText tells the last reload" wait_for 5 status_has \
	'; last reload [0-9:]{8}: reloaded: 1 added, 0 removed, 0 changed, 1 unchanged$'
printf '[target "echo2"]\naddress = 127.0.0.1:%s\nconnections = 3\ninterval = soon\n' "$PORT" \
	>"$DROPIN"
in_ct systemctl reload mconnd.service >"$T/reload.out" 2>&1
check "systemctl reload with a bad file fails" test $? != 0
check "the daemon keeps running, the same process" \
	test "$(show mconnd.service ActiveState) $(show mconnd.service MainPID)" = "active $MAIN"
check "with the old configuration (echo2 still has 1 session)" test "$(tfield echo2 sessions)" = 1
in_ct systemctl status --no-pager -l -n 30 mconnd.service >"$T/status.out" 2>&1
check "systemctl status shows the error: file, line, key" \
	grep -qE '/etc/mconnd/conf.d/echo2.conf:[0-9]+: interval' "$T/status.out"
check "and that the reload failed" grep -q 'Reload failed for' "$T/status.out"
check "the journal has the error, from mconnd at error priority" \
	journal_has mconnd.service '/etc/mconnd/conf.d/echo2.conf:[0-9]+: interval' \
	SYSLOG_IDENTIFIER=mconnd PRIORITY=3
check "StatusText tells the reload failed" wait_for 5 status_has \
	'; last reload [0-9:]{8}: failed: /etc/mconnd/conf.d/echo2.conf:[0-9]+: interval'
[ "$FAILS" = 0 ] || sed 's/^/    /' "$T/reload.out" "$T/status.out"
printf '[target "echo2"]\naddress = 127.0.0.1:%s\nconnections = 1\ninterval = 200ms\n' "$PORT" \
	>"$DROPIN"
check "a good file reloads again" silent in_ct systemctl reload mconnd.service

# --- Permissions: the socket admits group mconn; the daemon's own check admits
# admin_group (mconn) to changing commands and nobody else.
check "alice (group mconn) may 'mconnctl set echo1 interval 300ms'" \
	silent as alice mconnctl set echo1 interval 300ms
check "and it took effect" test "$(tfield echo1 interval_ms)" = 300
as bob mconnctl status >"$T/bob.out" 2>&1
check "bob, not in group mconn, cannot even connect (exit 3, permission denied)" \
	test $? = 3 -a -n "$(grep -i 'permission denied' "$T/bob.out")"
in_ct chmod 0666 /run/mconnd.sock
check "with the socket opened to all, bob may read the status" quiet as bob mconnctl status
as bob mconnctl set echo1 interval 1s >"$T/bob.out" 2>&1
check "but 'mconnctl set' is refused by the daemon (exit 1, permission denied)" \
	test $? = 1 -a -n "$(grep -x "mconnctl: permission denied" "$T/bob.out")"
check "and changed nothing" test "$(tfield echo1 interval_ms)" = 300
in_ct chmod 0660 /run/mconnd.sock

# --- The watchdog: a stopped loop stops pinging; systemd kills and restarts it.
# Never 'kill -STOP 0' (systemd's MainPID when there is none): that would stop
# this script's own process group.
MAIN=$(show mconnd.service MainPID)
if is_pid "$MAIN"; then
	ok "the service has a main process to stop ($MAIN)"
	in_ct kill -STOP "$MAIN"
else
	fail "the service has no main process to stop (MainPID '$MAIN')"
fi
restarted() { p=$(show mconnd.service MainPID); [ "$p" != 0 ] && [ "$p" != "$MAIN" ] && [ "$(show mconnd.service ActiveState)" = active ]; }
check "kill -STOP of the main PID: killed by the watchdog and restarted" wait_for 20 restarted
check "the journal says why" journal_has mconnd.service 'Watchdog timeout'
check "with Result=watchdog" journal_has mconnd.service "Failed with result 'watchdog'"
check "NRestarts counts it" test "$(show mconnd.service NRestarts)" -ge 1
check "the restarted daemon answers on the same socket" quiet as alice mconnctl version

# --- A clean stop, and activation again.
MAIN=$(show mconnd.service MainPID)
check "systemctl stop mconnd.service succeeds" silent in_ct systemctl stop mconnd.service
check "the daemon exited 0" test "$(show mconnd.service ExecMainStatus)" = 0
check "with Result=success" test "$(show mconnd.service Result)" = success
check "after logging its stop" journal_has mconnd.service '^mconnd stopped$'
check "the socket stays, held by mconnd.socket" test "$(in_ct stat -c %F /run/mconnd.sock)" = socket
check "the next client starts the daemon again" quiet as alice mconnctl version
check "as a new process" test "$(show mconnd.service MainPID)" != "$MAIN"
check "no unit failed in the container" test -z "$(in_ct systemctl list-units --failed --plain --no-legend)"

# --- A reboot: the service starts at boot and checks, before any client asks.
# An echo server that starts at boot too, on the echo port; a target on it.
printf '[Unit]\nDescription=echo server for mconn\n[Service]\nExecStart=%s\n[Install]\nWantedBy=multi-user.target\n' \
	'/usr/local/libexec/mconn-echod -q -l 127.0.0.1:7' >"$(ct_path /etc/systemd/system/mconn-echo7.service)"
in_ct systemctl daemon-reload
silent in_ct systemctl enable mconn-echo7.service
printf '[target "boot"]\naddress = 127.0.0.1:7\nconnections = 2\ninterval = 200ms\nrise = 1\n' \
	>"$(ct_path /etc/mconnd/conf.d/boot.conf)"
in_ct systemctl reboot
reap
check "systemctl reboot: the container went down for a reboot (nspawn exits 133)" test "$NSPAWN_RC" = 133
if boot; then
	ok "the container booted again ($(($(date +%s) - START)) s so far)"
else
	fail "the container did not boot again: $(tail -n 5 "$T/nspawn.log")"
	exit 1
fi
check "after the reboot mconnd.service is active, with no client having asked" \
	test "$(show mconnd.service ActiveState)" = active
check "the target on the echo port comes up (mconnctl in the container)" wait_for 10 sh -c \
	"$(command -v nsenter) -t $LEADER -a mconnctl -j status | jq -e '.targets[] | select(.name == \"boot\") | .state == \"up\"' >/dev/null"

# --- Removal stops it all and keeps the configuration; purge leaves nothing.
# The test's own files first, as an admin would: a purge leaves what it did not install.
rm -f "$(ct_path /etc/mconnd/conf.d/boot.conf)" "$(ct_path /etc/mconnd/conf.d/echo2.conf)"
rm -rf "$(ct_path /etc/systemd/system/mconnd.service.d)"
check "dpkg -r mconn" silent in_ct dpkg -r mconn
check "stopped the service and the socket" \
	test "$(show mconnd.service ActiveState) $(show mconnd.socket ActiveState)" = "inactive inactive"
check "the control socket is gone" in_ct test ! -e /run/mconnd.sock
check "the configuration stays" in_ct test -s /etc/mconnd/mconnd.conf
check "dpkg -P mconn" silent in_ct dpkg -P mconn
left=$(in_ct find /etc /lib/systemd /usr /var/lib/systemd /run -name '*mconnd*' 2>/dev/null)
check "nothing named mconnd is left in /etc, /lib/systemd, /usr, /var/lib/systemd, /run${left:+: $left}" test -z "$left"
check "dpkg forgot the package" sh -c "! $(command -v nsenter) -t $LEADER -a dpkg-query -W mconn 2>/dev/null"

say "check-systemd took $(($(date +%s) - START)) s before shutdown"
if [ "$FAILS" != 0 ]; then
	echo "  --- journal of mconnd.service in the container:"
	in_ct journalctl -q --no-pager -u mconnd.service -n 60 | sed 's/^/    /'
fi
halt
check "the container shut down" test -z "$NSPAWN_PID"
say "check-systemd: $(($(date +%s) - START)) s in all"
finish
