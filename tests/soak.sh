#!/bin/sh
# make soak: 10,000 sessions over four targets for SOAK_SECONDS (default 600) with
# periodic faults and reloads, against the fixture echo servers on loopback:
#   - every 60 s the echo server of target "flap" is killed, and restarted 10 s later;
#   - every 90 s the daemon is stopped (SIGSTOP) for 1 s;
#   - every 120 s the daemon's open-files limit drops below what it uses for 10 s;
#   - every 30 s a reload (SIGHUP); every 40 s `mconnctl set rst interval 1s`, undone
#     20 s later by `mconnctl reload`.
# Samples RSS, open fds and CPU every 10 s and prints the series. Fails if the daemon
# dies or stops answering, if a session's machine refused an event, if RSS grew by
# more than SOAK_RSS_KIB (default 2048) or the fds not held by a session (open fds
# less the connections status counts; a leak shows there) by more than 64 after the
# warm-up (the first 60 s, or the first fifth of a shorter run).
set -u
BUILD=${BUILD:-build}
SECS=${SOAK_SECONDS:-600}
RSS_BOUND=${SOAK_RSS_KIB:-2048}
T=$(mktemp -d /tmp/mconn-soak.XXXXXX)
SOCK="$T/mconnd.sock"
export MCONND_SOCKET="$SOCK"
pids=""
mpid=""
flap_pid=""
trap '[ -n "$mpid" ] && kill -CONT $mpid 2>/dev/null; for p in $mpid $flap_pid $pids; do kill -TERM $p 2>/dev/null; done; wait; rm -rf "$T"' EXIT

die() {
	echo "soak: FAIL: $*"
	exit 1
}

# wait_file FILE: until it exists and is not empty, at most 5 s.
wait_file() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$1" ]
}

# echod NAME [LISTEN]: start a fixture echo server; its pid in NAME.pid, port in NAME.port.
echod() {
	rm -f "$T/$1.port"
	"$BUILD/echod" -q -l "${2:-127.0.0.1:0}" -p "$T/$1.port" 2>>"$T/$1.log" &
	echo $! >"$T/$1.pid"
	wait_file "$T/$1.port" || die "echod $1 did not start: $(cat "$T/$1.log")"
}

echod main
echod flap
pids=$(cat "$T/main.pid")
flap_pid=$(cat "$T/flap.pid")
main=$(cat "$T/main.port")
flap=$(cat "$T/flap.port")
{
	printf '[daemon]\ncontrol_socket = %s\n' "$SOCK"
	printf '[target "cycle"]\naddress = 127.0.0.1:%s\nconnections = 4000\ninterval = 2s\n' "$main"
	printf '[target "persistent"]\naddress = 127.0.0.1:%s\nconnections = 3000\ninterval = 2s\nmode = persistent\n' "$main"
	printf '[target "rst"]\naddress = 127.0.0.1:%s\nconnections = 2000\ninterval = 2s\nclose = rst\n' "$main"
	printf '[target "flap"]\naddress = 127.0.0.1:%s\nconnections = 1000\ninterval = 2s\nrise = 2\nfall = 2\nbackoff_max = 5s\n' "$flap"
} >"$T/c.conf"
"$BUILD/mconnd" -c "$T/c.conf" 2>"$T/mconnd.log" &
mpid=$!
i=0
while ! "$BUILD/mconnctl" version >/dev/null 2>&1 && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
"$BUILD/mconnctl" version >/dev/null 2>&1 || die "mconnd did not start: $(cat "$T/mconnd.log")"

hz=$(getconf CLK_TCK)
warm=60
[ $((SECS / 5)) -lt $warm ] && warm=$((SECS / 5))
echo "soak: 10000 sessions, 4 targets, interval 2s, ${SECS}s; warm-up ${warm}s"
echo "   t_s  rss_kib    fds  other  cpu_%  cycles_ok  failed  resource  flap  fault"
t=0
cpu0=$(awk '{print $14 + $15}' /proc/$mpid/stat)
rss_w=""
fds_w=""
rss_max=0
fds_max=0
other_w=""
other_max=0
fault=""
status=0
start=$(date +%s)
while :; do
	kill -0 $mpid 2>/dev/null || die "mconnd died at ${t}s: $(tail -n 5 "$T/mconnd.log")"
	"$BUILD/mconnctl" -j status >"$T/s.json" 2>/dev/null || die "status did not answer at ${t}s"
	fds=$(ls /proc/$mpid/fd | wc -l)
	rss=$(awk '/^VmRSS/ {print $2}' /proc/$mpid/status)
	cpu1=$(awk '{print $14 + $15}' /proc/$mpid/stat)
	cpu=$(echo "$cpu0 $cpu1 $hz" | awk '{printf "%.1f", ($2 - $1) / $3 / 10 * 100}')
	cpu0=$cpu1
	set -- $(jq -r '[([.targets[].cycles_ok] | add), ([.targets[].cycles_failed] | add),
		([.targets[].errors.resource] | add), (.targets[] | select(.name == "flap") | .state),
		.sessions, .loop.unexpected_events, ([.targets[].sessions_active] | add)] | @tsv' "$T/s.json")
	other=$((fds - $7))
	printf '  %4d  %7d  %5d  %5d  %5s  %9d  %6d  %8d  %4s  %s\n' $t "$rss" "$fds" "$other" "$cpu" \
		"$1" "$2" "$3" "$4" "$fault"
	[ "$5" = 10000 ] || die "$5 sessions, not 10000"
	[ "$6" = 0 ] || die "$6 events refused by a session's state machine"
	if [ $t -ge $warm ]; then
		[ -z "$rss_w" ] && rss_w=$rss && fds_w=$fds
		[ "$rss" -gt "$rss_max" ] && rss_max=$rss
		[ -z "$other_w" ] && other_w=$other
		[ "$fds" -gt "$fds_max" ] && fds_max=$fds
		[ "$other" -gt "$other_max" ] && other_max=$other
	fi
	[ $t -ge "$SECS" ] && break
	# The faults, on a schedule of 10 s steps.
	k=$((t / 10 + 1))
	fault=""
	if [ $((k % 6)) = 0 ]; then
		kill -KILL $flap_pid 2>/dev/null
		wait $flap_pid 2>/dev/null
		fault="$fault flap-killed"
	elif [ $((k % 6)) = 1 ] && [ $k -gt 1 ]; then
		echod flap "127.0.0.1:$flap"
		flap_pid=$(cat "$T/flap.pid")
		fault="$fault flap-back"
	fi
	if [ $((k % 3)) = 0 ]; then
		kill -HUP $mpid
		fault="$fault reload"
	fi
	if [ $((k % 4)) = 1 ]; then
		"$BUILD/mconnctl" set rst interval 1s >/dev/null || die "set failed at ${t}s"
		fault="$fault set"
	elif [ $((k % 4)) = 3 ]; then
		"$BUILD/mconnctl" reload >/dev/null || die "reload failed at ${t}s"
		fault="$fault reload-ctl"
	fi
	if [ $((k % 12)) = 0 ]; then
		prlimit --pid $mpid --nofile=$((fds - 500)):
		fault="$fault nofile=$((fds - 500))"
	elif [ $((k % 12)) = 1 ] && [ $k -gt 1 ]; then
		hard=$(prlimit --pid $mpid --nofile --noheadings --raw --output HARD)
		prlimit --pid $mpid --nofile="$hard":
		fault="$fault nofile=$hard"
	fi
	if [ $((k % 9)) = 0 ]; then
		kill -STOP $mpid
		sleep 1 # the fault: a 1 s stop
		kill -CONT $mpid
		fault="$fault stop-1s"
	fi
	# Sleep to the next 10 s mark of the run, whatever the faults took.
	t=$((t + 10))
	now=$(date +%s)
	[ $((start + t)) -gt "$now" ] && sleep $((start + t - now))
done
"$BUILD/mconnctl" status | sed -n '1,12p'
echo "soak: RSS $rss_w KiB after warm-up, at most $rss_max since; fds $fds_w after warm-up, at most $fds_max since; fds held by no session $other_w after warm-up, at most $other_max since"
jq -r '.targets[] | "soak: \(.name): \(.cycles_ok) ok, \(.cycles_failed) failed \(.errors | to_entries | map(select(.value > 0) | "\(.key)=\(.value)") | join(" "))"' "$T/s.json"
[ "$rss_max" -le $((rss_w + RSS_BOUND)) ] || { echo "soak: FAIL: RSS grew by $((rss_max - rss_w)) KiB"; status=1; }
[ "$other_max" -le $((other_w + 64)) ] || { echo "soak: FAIL: fds held by no session grew by $((other_max - other_w))"; status=1; }
grep -E 'AddressSanitizer|runtime error' "$T/mconnd.log" && status=1
[ $status = 0 ] && echo "soak: passed: RSS and fds flat"
exit $status
