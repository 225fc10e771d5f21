#!/bin/sh
# make load: 1,000 sessions over 3 targets at interval 100ms against the fixture echo
# server for LOAD_SECONDS (default 60). Prints RSS, open fds and cycle counts every
# 5 s; fails if any cycle failed, if RSS grew after the first samples, or if open fds
# ever exceeded the sessions plus the daemon's own few (which would mean a leak).
set -u
BUILD=${BUILD:-build}
SECS=${LOAD_SECONDS:-60}
# 1,000 sessions need that many descriptors: skip (exit 77) where the hard limit is lower.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 1200 ]; then
	echo "SKIP: ${MCONN_TEST:-load}: an open-files hard limit of 1200 (ulimit -Hn is $hard)"
	exit 77
fi
T=$(mktemp -d /tmp/mconn-load.XXXXXX)
SOCK="$T/mconnd.sock"
pids=""
trap 'for p in $pids; do kill -TERM $p 2>/dev/null; done; wait; rm -rf "$T"' EXIT

"$BUILD/echod" -q -l 127.0.0.1:0 -p "$T/port" &
pids="$pids $!"
i=0; while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
port=$(cat "$T/port")
{
	printf '[daemon]\ncontrol_socket = %s\n' "$SOCK"
	for n in 1 2 3; do
		c=333; [ $n = 1 ] && c=334
		printf '[target "load%s"]\naddress = 127.0.0.1:%s\nconnections = %s\ninterval = 100ms\n' "$n" "$port" "$c"
	done
} >"$T/c.conf"
"$BUILD/mconnd" -c "$T/c.conf" 2>"$T/mconnd.log" &
mpid=$!
pids="$mpid $pids"
i=0; while ! "$BUILD/mconnctl" -s "$SOCK" version >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

sample() {
	rss=$(awk '/^VmRSS/ {print $2}' /proc/$mpid/status)
	fds=$(ls /proc/$mpid/fd | wc -l)
	"$BUILD/mconnctl" -s "$SOCK" -j status >"$T/s.json"
	okc=$(jq '[.targets[].cycles_ok] | add' "$T/s.json")
	bad=$(jq '([.targets[].cycles_failed] | add) + .loop.unexpected_events' "$T/s.json")
	cpu=$(awk '{print $14 + $15}' /proc/$mpid/stat)
	echo "$1 $rss $fds $okc $bad $cpu"
}
echo "load: 1000 sessions, 3 targets, interval 100ms, ${SECS}s"
echo "  t_s  rss_kib  fds  cycles_ok  cycles_failed  cpu_ticks"
t=0
first=""
maxfd=0
while [ $t -le "$SECS" ]; do
	line=$(sample $t)
	printf '  %s\n' "$line" | awk '{printf "  %3d  %7d  %3d  %9d  %13d  %9d\n", $1, $2, $3, $4, $5, $6}'
	[ -z "$first" ] && [ $t -ge 5 ] && first=$line
	last=$line
	set -- $line
	[ "$3" -gt "$maxfd" ] && maxfd=$3
	t=$((t + 5))
	[ $t -le "$SECS" ] && sleep 5
done
"$BUILD/mconnctl" -s "$SOCK" status
set -- $first; rss0=$2
set -- $last; rss1=$2; okc=$4; bad=$5; cpu=$6
rate=$(echo "$okc $SECS" | awk '{printf "%.0f", $1 / $2}')
cpus=$(echo "$cpu $SECS" | awk '{printf "%.1f", $1 / 100 / $2 * 100}')
echo "load: $okc cycles ok (~$rate/s), $bad failed; RSS $rss0 -> $rss1 KiB; at most $maxfd fds open; CPU $cpus % of one core"
status=0
[ "$bad" = 0 ] || { echo "load: FAIL: $bad cycles failed (or events refused)"; status=1; }
# 1,000 sessions at 100 ms make at most 10,000 cycles/s; a quarter of that is a floor
# far below any healthy run, there to catch a stalled loop, not to time anything.
[ "$rate" -ge 2500 ] || { echo "load: FAIL: only $rate cycles/s"; status=1; }
[ "$maxfd" -le 1016 ] || { echo "load: FAIL: $maxfd fds open for 1000 sessions"; status=1; }
[ "$rss1" -le $((rss0 + 1024)) ] || { echo "load: FAIL: RSS grew by more than 1 MiB"; status=1; }
exit $status
