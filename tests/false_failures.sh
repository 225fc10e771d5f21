#!/bin/sh
# make false-failures: the table of issue 11. The daemon is stopped (SIGSTOP) for
# 50 ms, 200 ms, 1 s and 3 s while 100 sessions cycle against a healthy fixture
# server, with timeout (and connect_timeout) 50 ms, 200 ms and 1 s; each cell is the
# number of failed cycles over STOPS stops (default 5). The target answers every
# request within microseconds, so every failure counted is mconnd blaming a target
# for its own stop. Not part of make check: it takes about 90 s.
# BUILD selects the build directory (default build), INTERVAL the sessions' interval
# (default 20ms: about 5,000 cycles a second, so every stop finds cycles under way);
# REV names the commit the build is of (default: this tree's HEAD); TIMEOUTS and
# STOP_LENGTHS (seconds) choose the cells; SHOW_LOG=1 copies the daemon's log.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$HERE/.." && cd "${BUILD:-build}" && pwd)
export BUILD
. "$HERE/integration/lib.sh"

STOPS=${STOPS:-5}
INTERVAL=${INTERVAL:-20ms}
TIMEOUTS=${TIMEOUTS:-50ms 200ms 1s}
STOP_LENGTHS=${STOP_LENGTHS:-0.05 0.2 1 3}
SESSIONS=100

ok_of() { tjs h .cycles_ok; }
ok_above() { [ "$(ok_of)" -gt "$1" ]; }

start_echod e echo -l 127.0.0.1:0

# cell TIMEOUT STOP_SECONDS: failed cycles over STOPS stops.
cell() {
	{
		conf_header
		printf '[target "h"]\naddress = 127.0.0.1:%s\nconnections = %s\ninterval = %s\n' \
			"$e_PORT" "$SESSIONS" "$INTERVAL"
		printf 'connect_timeout = %s\ntimeout = %s\nclose = rst\n' "$1" "$1"
	} >"$T/f.conf"
	start_mconnd "$T/f.conf" >&2
	wait_for 10 ok_above $((SESSIONS * 5)) || echo "  warning: slow start" >&2
	f0=$(tjs h .cycles_failed)
	k=0
	while [ "$k" -lt "$STOPS" ]; do
		ok0=$(ok_of)
		kill -STOP "$MCONND_PID"
		sleep "$2" # the length of the stop
		kill -CONT "$MCONND_PID"
		wait_for 10 ok_above $((ok0 + SESSIONS * 2)) || echo "  warning: slow to recover" >&2
		k=$((k + 1))
	done
	f1=$(tjs h .cycles_failed)
	stalls=$(js .loop.stalls)
	[ -n "${SHOW_LOG:-}" ] && grep -v '^[^ ]* debug: ' "$T/mconnd.log" >&2
	kill -TERM "$MCONND_PID"
	wait "$MCONND_PID" 2>/dev/null
	echo "  timeout $1, stop $2 s: $((f1 - f0)) failed, $stalls stalls detected" >&2
	printf '%s' "$((f1 - f0))"
}

rev=${REV:-$(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo "?")}
{
	echo "false failures: $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n), $(nproc) CPUs, kernel $(uname -r), commit $rev"
	echo "$SESSIONS sessions, interval $INTERVAL, close = rst, healthy echod; failed cycles over $STOPS SIGSTOPs per cell"
	echo
	printf '| timeout \\ stop (s) |'
	for st in $STOP_LENGTHS; do printf ' %s |' "$st"; done
	printf '\n|---|'
	for st in $STOP_LENGTHS; do printf -- '---|'; done
	printf '\n'
} >"$T/table"
for to in $TIMEOUTS; do
	row="| $to |"
	for st in $STOP_LENGTHS; do
		row="$row $(cell "$to" "$st") |"
	done
	echo "$row" >>"$T/table"
done
cat "$T/table"
