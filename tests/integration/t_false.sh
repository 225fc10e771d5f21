#!/bin/sh
# Nothing mconnd does is blamed on a target, and timers follow the configuration:
# - a lower interval, from set or from a reload, re-schedules waiting sessions at
#   once, spread over the new interval (not one burst);
# - a reload raising connect_timeout mid-connect leaves the cycle under way to the
#   value it started with: it fails as connect_timeout, and the next cycle waits the
#   new value;
# - the daemon stopped (SIGSTOP) for 200 ms, or 1 s, while 100 sessions cycle against a
#   healthy target with timeout 50 ms: no cycle fails; the target itself stopped: its
#   cycles fail, as timeout, within a bounded time.
. "$(dirname "$0")/lib.sh"

start_echod e echo -l 127.0.0.1:0
start_echod hang noaccept -b 1 -l 127.0.0.1:0

ok_of() { tjs "$1" .cycles_ok; }
ok_above() { [ "$(ok_of "$1")" -gt "$2" ]; }
failed_at_least() { [ "$(tjs "$1" .cycles_failed)" -ge "$2" ]; }
now_ms() { date +%s%3N; }
# quiet TARGET: no cycle of TARGET ended in the last second.
quiet() {
	q0=$(ok_of "$1")
	i=0
	while [ $i -lt 20 ]; do
		sleep 0.05
		[ "$(ok_of "$1")" = "$q0" ] || return 1
		i=$((i + 1))
	done
}

# 1. Timers follow the configuration.
timers_conf() { # REL_INTERVAL
	conf_header
	printf '[target "set"]\naddress = 127.0.0.1:%s\nconnections = 20\ninterval = 1h\nclose = rst\n' "$e_PORT"
	printf '[target "rel"]\naddress = 127.0.0.1:%s\nconnections = 20\ninterval = %s\nclose = rst\n' "$e_PORT" "$1"
}
timers_conf 1h >"$T/t.conf"
start_mconnd "$T/t.conf"
check "the first session of each target cycles at once" \
	wait_for 10 sh -c "[ \"\$('$MCONNCTL' -j status | jq '[.targets[].cycles_ok] | min')\" -ge 1 ]"
before=$(ok_of set)
"$MCONNCTL" set set interval 10s >/dev/null
after=$(ok_of set)
check "set interval 1h -> 10s: the waiting sessions do not start in one burst ($((after - before)) at once)" \
	test $((after - before)) -le 5
check "set interval 1h -> 10s: waiting sessions start within 3 s" wait_for 3 ok_above set $((before + 2))
before=$(ok_of set)
"$MCONNCTL" set set interval 1s >/dev/null
check "set interval 10s -> 1s: every session cycles twice within 10 s" \
	wait_for 10 ok_above set $((before + 39))

before=$(ok_of rel)
timers_conf 1s >"$T/t.conf"
"$MCONNCTL" reload >/dev/null
check "reload interval 1h -> 1s: every session cycles within 5 s" wait_for 5 ok_above rel $((before + 19))

# The issue's case: 1h, a wait, then 1s.
"$MCONNCTL" set rel interval 1h >/dev/null
check "set interval 1h: the cycles stop" wait_for 10 quiet rel
before=$(ok_of rel)
"$MCONNCTL" set rel interval 1s >/dev/null
check "then set interval 1s: every session cycles within 5 s" wait_for 5 ok_above rel $((before + 19))
check "no cycle failed" test "$(js '[.targets[].cycles_failed] | add')" = 0
stop_mconnd

# 2. A cycle keeps the connect_timeout it started with.
hang_conf() { # CONNECT_TIMEOUT
	conf_header
	printf '[target "hang"]\naddress = 127.0.0.1:%s\nconnections = 1\ninterval = 1s\n' "$hang_PORT"
	printf 'connect_timeout = %s\ntimeout = 10s\n' "$1"
}
hang_conf 2s >"$T/h.conf"
start_mconnd "$T/h.conf"
check "the session is connecting to a server that accepts nothing" \
	wait_for 5 tjs_true hang '.sessions_active == 1'
hang_conf 5s >"$T/h.conf"
"$MCONNCTL" reload >/dev/null
check "the cycle under way fails within its own connect_timeout (2 s)" \
	wait_for 4 failed_at_least hang 1
t1=$(now_ms)
check "as connect_timeout, not timeout" \
	tjs_true hang '.errors.connect_timeout == 1 and .errors.timeout == 0'
check "the next cycle waits the new connect_timeout (5 s)" wait_for 12 failed_at_least hang 2
t2=$(now_ms)
check "(the failures came $((t2 - t1)) ms apart: pause 1 s + 5 s)" test $((t2 - t1)) -ge 5000
check "also as connect_timeout" tjs_true hang '.errors.connect_timeout == 2 and .errors.timeout == 0'
stop_mconnd

# 3. A stopped daemon blames no target; a stopped target is blamed.
{
	conf_header
	printf '[target "h"]\naddress = 127.0.0.1:%s\nconnections = 100\ninterval = 20ms\n' "$e_PORT"
	printf 'connect_timeout = 50ms\ntimeout = 50ms\nclose = rst\n'
} >"$T/s.conf"
start_mconnd "$T/s.conf"
check "100 sessions cycle" wait_for 10 ok_above h 1000
# stops SECONDS: stop the daemon 5 times for SECONDS, each once it has cycled again;
# sets FAILED to the cycles that failed meanwhile.
stops() {
	f0=$(tjs h .cycles_failed)
	k=0
	while [ $k -lt 5 ]; do
		ok0=$(ok_of h)
		kill -STOP "$MCONND_PID"
		sleep "$1" # the length of the stop, not a synchronisation
		kill -CONT "$MCONND_PID"
		wait_for 5 ok_above h $((ok0 + 200))
		k=$((k + 1))
	done
	FAILED=$(($(tjs h .cycles_failed) - f0))
}
errors() { "$MCONNCTL" -j status | jq -c .targets[0].errors; }
stops 0.2
check "5 stops of 200 ms with timeout 50 ms: no cycle failed ($FAILED did: $(errors))" \
	test "$FAILED" = 0
stops 1
check "5 stops of 1 s (stalls the loop moves deadlines for): no cycle failed ($FAILED did: $(errors))" \
	test "$FAILED" = 0
kill -STOP "$e_PID"
check "the target stopped: its cycles fail as timeout within 2 s" \
	wait_for 2 tjs_true h '.errors.timeout > 0'
kill -CONT "$e_PID"
stop_mconnd
finish
