#!/bin/sh
# An echo that comes back in two segments from a server with Nagle on (echod -m split
# writes each echo in two halves, the second held by the server's kernel until the
# first is acknowledged) is timed as the path and the server make it, not as mconnd's
# delayed ACK would: a partial echo is acknowledged at once. Without that, each
# message's echo waits for the client's delayed-ACK timer (40 ms or more on Linux)
# and the cycle's latency is the client's own artefact.
. "$(dirname "$0")/lib.sh"

start_echod split split -l 127.0.0.1:0
start_echod whole echo -l 127.0.0.1:0
{
	conf_header
	printf '[target "split"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 20ms\n' "$split_PORT"
	printf 'timeout = 2s\nmessage = Message 1 from client.\nmessage = Message 2 from client.\n'
	printf '[target "loop"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 20ms\n' "$split_PORT"
	printf 'timeout = 2s\ntimestamps = loop\nmessage = Message 1 from client.\nmessage = Message 2 from client.\n'
	printf '[target "whole"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 20ms\n' "$whole_PORT"
	printf 'timeout = 2s\nmessage = Message 1 from client.\nmessage = Message 2 from client.\n'
} >"$T/c.conf"
start_mconnd "$T/c.conf"

check "split comes up with 40 cycles" wait_for 20 tjs_true split '.cycles_ok >= 40'
check "loop (timed by the loop's clock) comes up with 40 cycles" wait_for 20 tjs_true loop '.cycles_ok >= 40'
check "whole comes up with 40 cycles" wait_for 20 tjs_true whole '.cycles_ok >= 40'
"$MCONNCTL" -j status >"$T/s.json"
p50() { jq -r --arg t "$1" '.targets[] | select(.name == $t) | .latency_ms.p50' "$T/s.json"; }
say "p50: split $(p50 split) ms, loop $(p50 loop) ms, whole $(p50 whole) ms"
# The delayed-ACK timer is at least 40 ms; the loopback path is well under 1 ms.
p50_under() { jq -e --arg t "$1" ".targets[] | select(.name == \$t) | .latency_ms.p50 < $2" "$T/s.json" >/dev/null; }
check "a split echo's p50 is under 20 ms (no delayed-ACK wait)" p50_under split 20
check "so is the loop-timed one's" p50_under loop 20
check "no cycle of split failed" tjs_true split '.cycles_failed == 0'
stop_mconnd
finish
