#!/bin/sh
# make demo: start the fixture echo server on 127.0.0.1:65432 and mconnd with
# conf/mconnd.conf (control socket in a private directory), show `mconnctl status`
# every few seconds, and stop after DEMO_SECONDS (default 15) or on Ctrl-C, leaving
# no process behind.
set -u
BUILD=${BUILD:-build}
SECONDS_TO_RUN=${DEMO_SECONDS:-15}
dir=$(mktemp -d /tmp/mconn-demo.XXXXXX)
sock="$dir/mconnd.sock"
echo_pid=""
mconnd_pid=""

stop() {
	[ -n "$mconnd_pid" ] && kill -TERM "$mconnd_pid" 2>/dev/null && wait "$mconnd_pid" 2>/dev/null
	[ -n "$echo_pid" ] && kill -TERM "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
	rm -rf "$dir"
}
trap 'stop; exit 0' INT TERM HUP PIPE
trap stop EXIT

sed "s|^control_socket = .*|control_socket = $sock|" conf/mconnd.conf >"$dir/mconnd.conf"
cp -r conf/conf.d "$dir/"
"$BUILD/echod" -q -l 127.0.0.1:65432 -p "$dir/echo.port" &
echo_pid=$!
i=0
while [ ! -s "$dir/echo.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -s "$dir/echo.port" ] || { echo "demo: the echo server did not start" >&2; exit 1; }

# Outside systemd mconnd's log lines carry the time and the priority
# ("2026-12-07T19:51:19.123+00:00 notice: ..."): they go to stderr as they are.
"$BUILD/mconnd" -c "$dir/mconnd.conf" &
mconnd_pid=$!
i=0
while ! "$BUILD/mconnctl" -s "$sock" version >/dev/null 2>&1 && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
echo "demo: mconnd (pid $mconnd_pid) checks the echo server on 127.0.0.1:65432; status every 3 s for ${SECONDS_TO_RUN} s, Ctrl-C stops"
end=$(($(date +%s) + SECONDS_TO_RUN))
# The first status as soon as the target's health is known (a few seconds at most).
i=0
while "$BUILD/mconnctl" -s "$sock" status | grep -q ' unknown ' && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
while :; do
	echo
	"$BUILD/mconnctl" -s "$sock" status || exit 1
	left=$((end - $(date +%s)))
	[ "$left" -gt 0 ] || break
	sleep $((left < 3 ? left : 3))
done
echo
echo "demo: the same in JSON (mconnctl -j status):"
"$BUILD/mconnctl" -s "$sock" -j status | jq .
