#!/bin/sh
# Who may do what: anyone who can connect may read; set, pause, resume and reload need
# root, mconnd's own user or a member of admin_group (primary or supplementary). The
# socket gets control_mode and control_group; a socket directory writable by others is
# refused. Non-root clients are run with setpriv as uid 65534.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "root (setpriv switches to uid 65534)"
ADMIN_GID=4242
OTHER_GID=4343
# The clients run as nobody: they need to reach the socket and mconnctl, which they
# run from a copy in the test's directory (the build may be where uid 65534 cannot
# search, as in a clone under /root).
chmod 755 "$T"
mkdir "$T/bin"
cp "$MCONNCTL" "$T/bin/mconnctl"
MCONNCTL=$T/bin/mconnctl
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
as_admin_supp() { setpriv --reuid=65534 --regid=65534 --groups="$OTHER_GID,$ADMIN_GID" "$@"; }
as_admin_primary() { setpriv --reuid=65534 --regid="$ADMIN_GID" --clear-groups "$@"; }

as_nobody true 2>/dev/null ||
	skip "switching to uid 65534 ($(as_nobody true 2>&1 | head -n 1))"
as_nobody test -x "$MCONNCTL" ||
	skip "a directory uid 65534 can search for a copy of mconnctl ($T)"

start_echod echo echo -l 127.0.0.1:0
{
	conf_header
	printf 'control_mode = 0666\nadmin_group = %s\n' "$ADMIN_GID"
	printf '[target "web"]\naddress = 127.0.0.1:%s\ninterval = 100ms\n' "$echo_PORT"
} >"$T/c.conf"
start_mconnd "$T/c.conf"

check "the socket has control_mode" test "$(stat -c %a "$SOCK")" = 666
as_nobody "$MCONNCTL" status web >"$T/status.out"
check "an unprivileged user may read status" test $? = 0
check "and gets it" grep -q '^web ' "$T/status.out"
as_nobody "$MCONNCTL" set web interval 200ms 2>"$T/denied.err"
check "an unprivileged user may not set (exit 1)" test $? = 1
check "and is told permission denied" grep -qx 'mconnctl: permission denied' "$T/denied.err"
check "and who may" grep -qx "'set' needs root, mconnd's user (uid 0) or a member of admin_group $ADMIN_GID" "$T/denied.err"
for cmd in "pause web" "resume web" reload; do
	# shellcheck disable=SC2086
	as_nobody "$MCONNCTL" $cmd 2>/dev/null
	check "nor $cmd" test $? = 1
done
check "the denial is logged with the uid" grep -q "control: 'set' denied to uid 65534" "$T/mconnd.log"
check "nothing changed" tjs_true web '.interval_ms == 100 and .paused == false'
as_admin_supp "$MCONNCTL" set web interval 200ms >/dev/null
check "a member of admin_group (supplementary) may set" test $? = 0
check "and the value applies" tjs_true web '.interval_ms == 200 and .runtime_set == ["interval"]'
as_admin_primary "$MCONNCTL" pause web >/dev/null
check "admin_group as the primary group may pause" tjs_true web '.paused'
"$MCONNCTL" resume web >/dev/null
check "root may resume" tjs_true web '.paused == false'
sed -i 's/^control_mode = 0666$/control_mode = 0640/' "$T/c.conf"
"$MCONNCTL" reload >"$T/mode.out"
check "a reload says which [daemon] keys changed" grep -qx 'changed \[daemon\]: control_mode' "$T/mode.out"
check "and applies the new mode to the socket" test "$(stat -c %a "$SOCK")" = 640
stop_mconnd

# control_mode 0600: only the owner (root) may connect.
{
	conf_header
	printf 'control_mode = 0600\ncontrol_group = %s\n' "$OTHER_GID"
	printf '[target "web"]\naddress = 127.0.0.1:%s\n' "$echo_PORT"
} >"$T/c.conf"
start_mconnd "$T/c.conf"
check "the socket has mode 0600 and control_group" test "$(stat -c '%a %g' "$SOCK")" = "600 $OTHER_GID"
as_nobody "$MCONNCTL" status 2>/dev/null
check "others cannot connect (exit 3)" test $? = 3
stop_mconnd

# A socket directory that others may write to is refused, at start and by -t.
mkdir "$T/open"
chmod 777 "$T/open"
{
	printf '[daemon]\ncontrol_socket = %s/open/s.sock\n' "$T"
	printf '[target "web"]\naddress = 127.0.0.1:%s\n' "$echo_PORT"
} >"$T/open.conf"
"$MCONND" -c "$T/open.conf" 2>"$T/open.err"
check "mconnd refuses a socket directory writable by others" test $? = 1
check "and says why" grep -q "control socket directory $T/open is writable by others; refusing" "$T/open.err"
"$MCONND" -t -c "$T/open.conf" >/dev/null 2>&1
check "mconnd -t refuses it too" test $? = 1
finish
