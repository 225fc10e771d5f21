#!/bin/sh
# Every fault mode of the fixture server, and the local faults, each counted under its
# own failure class and under no other; the daemon keeps answering throughout.
. "$(dirname "$0")/lib.sh"

CLASSES="refused connect_timeout timeout reset eof mismatch unreachable resource loss tls"

start_echod gone echo -l 127.0.0.1:0
stop_pid "$gone_PID"
start_echod silent silent -l 127.0.0.1:0
start_echod corrupt corrupt -l 127.0.0.1:0
start_echod close close -l 127.0.0.1:0
start_echod reset reset -l 127.0.0.1:0
start_echod drip drip -d 200 -l 127.0.0.1:0
start_echod noaccept noaccept -b 1 -l 127.0.0.1:0

target() { # NAME PORT
	printf '[target "%s"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 100ms\n' "$1" "$2"
	printf 'connect_timeout = 300ms\ntimeout = 500ms\nfall = 2\nmode = %s\n' "$MODE"
}
expect() { # TARGET CLASS
	check "$MODE $1: counted as $2 and nothing else" wait_for 10 only_class "$1" "$2"
	check "$MODE $1: down" wait_for 10 tjs_true "$1" '.state == "down"'
	check "$MODE $1: last_error is $2" test "$(tjs "$1" .last_error)" = "$2"
}
for MODE in cycle persistent; do
	{
		conf_header
		target refused "$gone_PORT"
		target silent "$silent_PORT"
		target corrupt "$corrupt_PORT"
		target close "$close_PORT"
		target reset "$reset_PORT"
		target drip "$drip_PORT"
		target noaccept "$noaccept_PORT"
	} >"$T/c.conf"
	start_mconnd "$T/c.conf"
	expect refused refused
	expect silent timeout
	expect corrupt mismatch
	expect close eof
	expect reset reset
	expect drip timeout
	expect noaccept connect_timeout
	check "$MODE: a timeout names the limit" \
		test "$(tjs silent .last_error_detail)" = "no complete echo within timeout (500.0ms)"
	check "$MODE: a connect timeout names the limit" \
		test "$(tjs noaccept .last_error_detail)" = "not connected within connect_timeout (300.0ms)"
	check "$MODE: status still answers" sh -c "'$MCONNCTL' status >/dev/null"
	check "$MODE: down logged with the reason" \
		grep -q 'target corrupt is down after 2 failures: mismatch' "$T/mconnd.log"
	stop_mconnd
done

# A failing session never retries at once, even at interval 0: at most one attempt
# per 100 ms floor (about 20 in 2 s), not tens of thousands.
{
	conf_header
	printf '[target "eager"]\naddress = 127.0.0.1:%s\ninterval = 0\nbackoff_max = 0\n' "$gone_PORT"
} >"$T/e.conf"
start_mconnd "$T/e.conf"
check "eager: refused counted" wait_for 10 tjs_true eager '.errors.refused >= 5'
n1=$(tjs eager .cycles_failed)
sleep 2 # a measuring window: we count attempts in it, we wait for nothing
n2=$(tjs eager .cycles_failed)
check "eager: about 10 attempts a second, not a busy loop ($n1 -> $n2 in 2 s)" \
	test $((n2 - n1)) -le 30
stop_mconnd

# Unreachable: a network namespace of our own whose loopback is down (as root, or
# in a user namespace of our own).
NS=""
if unshare -rn true 2>/dev/null; then NS="unshare -rn"; elif unshare -n true 2>/dev/null; then NS="unshare -n"; fi
if [ -n "$NS" ]; then
	{
		conf_header
		printf '[target "unreach"]\naddress = 127.0.0.1:9\ninterval = 100ms\nfall = 2\n'
	} >"$T/u.conf"
	$NS $WRAP "$MCONND" -c "$T/u.conf" 2>"$T/mconnd.log" &
	MCONND_PID=$!
	PIDS="$PIDS $MCONND_PID"
	check "unreach: counted as unreachable and nothing else" wait_for 10 only_class unreach unreachable ||
		sed -n '1,20p' "$T/mconnd.log"
	stop_mconnd
else
	skip_part "unreach: a network namespace (unshare -n as root, or unshare -rn: $(unshare -rn true 2>&1 | head -n 1))"
fi

# Resource: an open-files limit too low for the sessions; the control socket still
# answers, the shortage is logged once, and the healthy sessions keep cycling.
start_echod echo echo -l 127.0.0.1:0
{
	conf_header
	printf '[target "many"]\naddress = 127.0.0.1:%s\nconnections = 60\ninterval = 20ms\n' "$echo_PORT"
} >"$T/r.conf"
prlimit --nofile=130:130 "$MCONND" -c "$T/r.conf" 2>"$T/mconnd.log" &
MCONND_PID=$!
PIDS="$PIDS $MCONND_PID"
check "many: resource counted" wait_for 10 tjs_true many '.errors.resource > 0 and .cycles_ok > 100'
check "many: no other failure class" \
	test "$(tjs many '[.errors | to_entries[] | select(.key != "resource") | .value] | add')" = 0
check "many: shortage logged once" test "$(grep -c 'out of local resources' "$T/mconnd.log")" = 1
check "many: control socket answers" sh -c "'$MCONNCTL' status >/dev/null"
check "many: a local shortage does not make the target down" tjs_true many '.state == "up"'

stop_mconnd
finish
