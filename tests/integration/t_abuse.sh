#!/bin/sh
# Control socket abuse while sessions cycle: a 1 MiB line, 200 clients at once, a
# client that never reads, random bytes. Meanwhile a well-behaved status request is
# answered within 100 ms every time and no session cycle fails.
. "$(dirname "$0")/lib.sh"

PROBE="$B/ctlprobe"
# Under valgrind the daemon is ~30x slower: the latency bound is reported, not held.
MAX_MS=100
[ -n "${VALGRIND:-}" ] && MAX_MS=5000

start_echod echo echo -l 127.0.0.1:0
{
	conf_header
	printf 'control_io_timeout = 2s\n'
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 200\ninterval = 100ms\n' "$echo_PORT"
	printf 'connect_timeout = 300ms\ntimeout = 300ms\n'
} >"$T/c.conf"
start_mconnd "$T/c.conf"
check "target up" wait_for 10 tjs_true web '.state == "up"'

# Start every abuser, then measure status latency while they run. The three single
# abusers connect first; a client that has said nothing yet is safe from eviction for
# a second, and these speak at once.
"$PROBE" -s "$SOCK" noread >"$T/noread.out" 2>&1 &
noread_pid=$!
"$PROBE" -s "$SOCK" longline 1048576 >"$T/long.out" 2>&1 &
long_pid=$!
"$PROBE" -s "$SOCK" garbage 262144 7 >"$T/garbage.out" 2>&1 &
garbage_pid=$!
all_connected() { for f in noread long garbage; do grep -q '^connected' "$T/$f.out" || return 1; done; }
check "the three are connected before the crowd comes" wait_for 10 all_connected
mkfifo "$T/hold.in"
"$PROBE" -s "$SOCK" hold 200 <"$T/hold.in" >"$T/hold.out" 2>&1 &
hold_pid=$!
exec 7>"$T/hold.in"
check "200 clients at once: every one answered OK or ERR busy" \
	wait_for 20 grep -q 'held 200 clients: .* 0 other' "$T/hold.out"
say "$(cat "$T/hold.out")"
check "never more than 64 at once: the rest evicted idle ones or were told busy" \
	test "$(js '.control.clients <= 64 and .control.evicted + .control.rejected_busy >= 136')" = true
# Idle holders make room for a newcomer: status gets in while they hold.
"$PROBE" -s "$SOCK" latency 50 "$MAX_MS" >"$T/latency.out" 2>&1
check "status answered within $MAX_MS ms every time under abuse" test $? = 0
say "$(cat "$T/latency.out")"
exec 7>&-
wait "$hold_pid"
wait "$long_pid"
say "$(grep -v '^connected' "$T/long.out")"
check "a 1 MiB line gets ERR line too long and the connection is closed" \
	grep -q 'reply: ERR line too long.*closed: yes' "$T/long.out"
wait "$garbage_pid"
check "random bytes get ERR replies and nothing else" grep -q 'not OK/ERR$' "$T/garbage.out"
check "none of them other than OK or ERR" grep -q ', 0 not OK/ERR$' "$T/garbage.out"
wait "$noread_pid"
check "a client that never reads is dropped" grep -q '^dropped by the daemon' "$T/noread.out"
check "no session cycle failed meanwhile" tjs_true web '.cycles_failed == 0 and .state == "up"'
check "the daemon still answers" "$MCONNCTL" version
stop_mconnd
finish
