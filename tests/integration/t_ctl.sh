#!/bin/sh
# The control socket's limits: an over-long request line, more clients than allowed,
# a half-closed request, a flood of pipelined requests, clients that stall or idle;
# each limit answered with ERR or a dropped connection, and sessions keep cycling.
. "$(dirname "$0")/lib.sh"

start_echod echo echo -l 127.0.0.1:0
{
	conf_header
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 20\ninterval = 20ms\n' "$echo_PORT"
	printf 'connect_timeout = 300ms\ntimeout = 300ms\n'
} >"$T/c.conf"
start_mconnd "$T/c.conf"

head -c 5000 /dev/zero | tr '\0' 'a' >"$T/long"
echo >>"$T/long"
socat -t 5 - UNIX-CONNECT:"$SOCK" <"$T/long" >"$T/reply"
check "a 5000-byte line gets ERR line too long" grep -q '^ERR line too long' "$T/reply"
check "a request without a newline is answered at EOF" \
	sh -c "printf version | socat -t 5 - UNIX-CONNECT:'$SOCK' | grep -q '^mconnd 0.1.0'"
check "so is a pipelined last one" \
	sh -c "printf 'version\nversion' | socat -t 5 - UNIX-CONNECT:'$SOCK' | grep -c '^mconnd 0.1.0' | grep -qx 2"
check "-j alone is not a command" \
	sh -c "printf -- '-j\n' | socat -t 5 - UNIX-CONNECT:'$SOCK' | grep -q '^ERR no command'"

# Hold 64 connections open, each after one answered request (so we know it holds a
# slot, without asking the daemon) and with half of the next one sent, so that none is
# idle: the next client still gets in, in the slot of the holder whose half line has
# waited longest, and that holder is told ERR busy.
hold 64 'version\nvers' UNIX-CONNECT:"$SOCK" "$T/h"
holders=$HOLDERS
served() { [ "$(cat "$T"/h.* | grep -c '^mconnd ')" = 64 ]; }
check "64 clients served and holding" wait_for 20 served
check "client 65 is served all the same" "$MCONNCTL" version
told() { grep -q '^ERR busy' "$T"/h.*; }
check "the holder it displaced is told ERR busy" wait_for 10 told
check "evictions are counted, no rejection" \
	test "$(js '.control.evicted > 0 and .control.rejected_busy == 0')" = true
for p in $holders; do kill "$p" 2>/dev/null; done
pkill -f "socat - UNIX-CONNECT:$SOCK" 2>/dev/null
pkill -P $$ -x sleep 2>/dev/null
check "serves again once clients leave" wait_for 10 "$MCONNCTL" version
check "sessions kept cycling" tjs_true web '.cycles_failed == 0 and .state == "up"'

# A flood of 20,000 pipelined requests from one client that reads its replies: all
# answered, and the sessions (timeout 300ms) never miss their deadlines meanwhile.
before=$(tjs web .cycles_ok)
awk 'BEGIN { for (i = 0; i < 20000; i++) print "version" }' >"$T/flood"
socat -t 30 - UNIX-CONNECT:"$SOCK" <"$T/flood" >"$T/flood.out"
check "all 20000 pipelined requests answered" test "$(grep -c '^mconnd 0.1.0' "$T/flood.out")" = 20000
check "sessions kept cycling through the flood" \
	tjs_true web ".cycles_failed == 0 and .cycles_ok > $before"
stop_mconnd INT

# Short control timeouts: a client that sends half a line, one that never reads its
# replies, and one that says nothing are dropped; everyone else is served.
{
	conf_header
	printf 'control_io_timeout = 1s\ncontrol_idle_timeout = 2s\n'
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 2000\ninterval = 1s\n' "$echo_PORT"
} >"$T/t.conf"
start_mconnd "$T/t.conf"
(printf 'vers'; exec sleep 20) | socat - UNIX-CONNECT:"$SOCK" >/dev/null &
half=$!
# This one writes requests until its socket is full and never reads: once dropped,
# its blocked write fails and it exits.
yes 'sessions web' | socat -u - UNIX-CONNECT:"$SOCK" 2>/dev/null &
noread=$!
(exec sleep 20) | socat - UNIX-CONNECT:"$SOCK" >/dev/null &
idle=$!
PIDS="$PIDS $half $noread $idle"
gone() { ! kill -0 "$1" 2>/dev/null; }
check "a client stuck in the middle of a line is dropped" wait_for 10 gone "$half"
check "a client that never reads its replies is dropped" wait_for 10 gone "$noread"
check "a client that says nothing is dropped" wait_for 10 gone "$idle"
check "the drops are counted" test "$(js .control.timed_out)" = 3
check "mconnctl still answers" "$MCONNCTL" version
pkill -P $$ -x sleep 2>/dev/null
stop_mconnd
finish
