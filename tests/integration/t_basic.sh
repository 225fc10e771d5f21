#!/bin/sh
# The daemon against a healthy echo server, in both modes and over IPv4 and IPv6:
# targets come up, cycles count, nothing fails; mconnctl's output and exit codes.
. "$(dirname "$0")/lib.sh"

start_echod echo echo -l 127.0.0.1:0
start_echod echo6 echo -l '[::1]:0'
{
	conf_header
	printf '[target "cyc"]\naddress = 127.0.0.1:%s\nconnections = 5\ninterval = 50ms\n' "$echo_PORT"
	printf '[target "per"]\naddress = 127.0.0.1:%s\nconnections = 3\ninterval = 50ms\nmode = persistent\nclose = rst\n' "$echo_PORT"
	printf '[target "six"]\naddress = [::1]:%s\nconnections = 2\ninterval = 50ms\n' "$echo6_PORT"
	printf 'message = a\\x00b\\r\\n\nmessage = %s\n' "$(head -c 3000 /dev/zero | tr '\0' 'x')"
	printf '[target "src"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 50ms\n' "$echo_PORT"
	printf 'mode = persistent\nsource = 127.0.0.2\n'
} >"$T/c.conf"

check "mconnd -t accepts the file" sh -c "'$MCONND' -t -c '$T/c.conf' | grep -q 'configuration OK'"
start_mconnd "$T/c.conf"

for t in cyc per six src; do
	check "$t comes up" wait_for 10 tjs_true "$t" '.state == "up" and .cycles_ok >= 20'
done
check "no cycle failed" test "$(js '[.targets[].cycles_failed] | add')" = 0
check "every failure class is present and zero" \
	test "$(js '[.targets[].errors | to_entries[] | .value] | length')" = 40
# The held connections of "src" come from 127.0.0.2 (0200007F in /proc/net/tcp).
port_hex=$(printf '%04X' "$echo_PORT")
held_from_src() { [ "$(grep -c " 0200007F:[0-9A-F]* 0100007F:$port_hex 01 " "/proc/$MCONND_PID/net/tcp")" = 2 ]; }
check "source binds the local address" wait_for 10 held_from_src
check "latency percentiles are numbers" tjs_true cyc '(.latency_ms.p50 > 0) and (.latency_ms.p99 >= .latency_ms.p50) and (.latency_ms.max >= .latency_ms.p99)'
check "json has version, pid, uptime, config" \
	test "$(js '[.version, (.pid|tostring), (.uptime_s > 0|tostring), .config] | join(" ")')" = "0.1.0 $MCONND_PID true $T/c.conf"
check "persistent sessions hold their connection" tjs_true per '.sessions_active == 3 and .mode == "persistent"'

"$MCONNCTL" status >"$T/status.txt"
check "text status lists all four targets" test "$(grep -cE '^(cyc|per|six|src) ' "$T/status.txt")" = 4
check "text status shows the header" grep -q '^TARGET ' "$T/status.txt"
"$MCONNCTL" status six >"$T/six.txt"
check "status TARGET shows that target" grep -q '^six ' "$T/six.txt"
check "status TARGET shows no other" test "$(grep -cE '^(cyc|per|src) ' "$T/six.txt")" = 0
check "sessions lists every session" sh -c "'$MCONNCTL' sessions cyc | tail -n +2 | wc -l | grep -qx 5"
check "sessions -j has per-session cycles" \
	sh -c "'$MCONNCTL' -j sessions per | jq -e '[.sessions[].cycles_ok] | min > 0' >/dev/null"

"$MCONNCTL" status nosuch 2>"$T/err.txt"
check "unknown target: exit 1" test $? = 1
check "unknown target: says so" grep -q 'no such target: nosuch' "$T/err.txt"
"$MCONNCTL" 2>/dev/null
check "no command: exit 2" test $? = 2
"$MCONNCTL" -s "$T/nothing.sock" status 2>/dev/null
check "no daemon: exit 3" test $? = 3
MCONND_SOCKET="$T/nothing.sock" "$MCONNCTL" -s "$SOCK" version >/dev/null
check "-s wins over MCONND_SOCKET" test $? = 0
check "a person can use socat, two requests on one connection" \
	sh -c "printf 'version\nstatus cyc\n' | socat -t 5 - UNIX-CONNECT:'$SOCK' | grep -c '^OK' | grep -qx 2"
check "garbage gets ERR and the daemon carries on" \
	sh -c "printf 'x\001\377y\n' | socat -t 5 - UNIX-CONNECT:'$SOCK' | grep -q '^ERR '"
check "still answering" "$MCONNCTL" version

stop_mconnd
check "control socket removed on exit" test ! -e "$SOCK"

# Each program's own version and help, short and long, without a daemon.
version=$("$MCONNCTL" -V)
check "mconnctl -V prints its version ($version)" expr "$version" : 'mconnctl [0-9][0-9.]*$'
for p in "$MCONNCTL" "$MCONND"; do
	n=$(basename "$p")
	check "$n --version is $n -V" test "$("$p" --version 2>&1)" = "$("$p" -V 2>&1)"
	check "$n --help is $n -h" test "$("$p" --help 2>&1)" = "$("$p" -h 2>&1)"
	"$p" --bogus >/dev/null 2>"$T/bogus.err"
	check "$n --bogus: exit 2" test $? = 2
	check "$n --bogus: says which option" grep -qx "$n: unknown option --bogus" "$T/bogus.err"
done
finish
