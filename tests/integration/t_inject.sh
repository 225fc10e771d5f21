#!/bin/sh
# Fault injection against a live daemon with sessions cycling: out of fds (the open
# files limit lowered and raised on the running process), out of local ports (a tiny
# ephemeral range in a network namespace of our own), an echo server killed and
# restarted again and again, a server that accepts and never answers, and a long
# SIGSTOP. Each time the daemon stays up, answers `mconnctl status`, counts the right
# failure class, and recovers.
. "$(dirname "$0")/lib.sh"

# status_answers: the control socket gives a whole reply, now.
status_answers() {
	"$MCONNCTL" status >/dev/null
}

# cpu_ticks PID: user + system time of PID in clock ticks.
cpu_ticks() {
	awk '{print $14 + $15}' "/proc/$1/stat"
}

# rss_kib PID
rss_kib() {
	awk '/^VmRSS/ {print $2}' "/proc/$1/status"
}

# nfds PID
nfds() {
	ls "/proc/$1/fd" | wc -l
}

# quiet_fds: pause the cycling targets a and c of the storm test, wait until they hold
# no connection, print the daemon's open fds (b's held connections and the daemon's
# own: what a leak would make grow), and resume them.
quiet_fds() {
	"$MCONNCTL" pause a >/dev/null && "$MCONNCTL" pause c >/dev/null &&
		wait_for 10 tjs_true a '.sessions_active == 0' &&
		wait_for 10 tjs_true c '.sessions_active == 0' &&
		wait_for 10 tjs_true b ".sessions_active == $STORM_B" || return 1
	nfds "$MCONND_PID"
	"$MCONNCTL" resume a >/dev/null && "$MCONNCTL" resume c >/dev/null
}

# others TARGET CLASS...: the failures of TARGET outside the classes named.
others() {
	t=$1
	shift
	keep=$(printf '"%s",' "$@")
	tjs "$t" "[.errors | to_entries[] | select(.key as \$k | [${keep%,}] | index(\$k) | not) | .value] | add"
}

# since TARGET EXPR VALUE: EXPR (a number) has grown past VALUE.
grown() {
	[ "$(tjs "$1" "$2 > $3")" = true ]
}

HZ=$(getconf CLK_TCK)
# Under valgrind the daemon runs some 20 times slower: fewer sessions, and no fds
# part (valgrind keeps fds of its own under the process's limit).
MUTE_N=2000
PAUSE_N=300
if [ -n "${VALGRIND:-}" ]; then
	MUTE_N=200
	PAUSE_N=40
fi
# ASan keeps freed memory in quarantine, so RSS says nothing about leaks there
# (LeakSanitizer checks those at exit): RSS bounds apply to the plain build.
# RSS is judged in the plain build only: ASan's and valgrind's allocators hold freed
# blocks in a quarantine (valgrind's --freelist-vol: 20 MB by default), so the process
# grows with what was freed; there the sanitizer's and memcheck's leak checks at exit
# are what holds memory to account (a leak fails the run).
rss_bounded() { # BEFORE AFTER SLACK_KIB
	if [ -n "${VALGRIND:-}" ] || ldd "$MCONND" 2>/dev/null | grep -q libasan; then
		say "(RSS not judged under a checked allocator; its leak check stands for it)"
		return 0
	fi
	[ "$2" -le $(($1 + $3)) ]
}
start_echod echo echo -l 127.0.0.1:0

# --- Out of file descriptors -------------------------------------------------------
# 200 sessions against a server that echoes a byte every 40 ms, so each holds its
# connection most of the time; the soft limit drops to 150 while they cycle. The
# daemon follows the new limit and keeps its reserve (96) for the control socket, so
# status answers throughout; when the limit comes back, so do all the sessions.
fds_fault() {
	start_echod drip drip -d 40 -l 127.0.0.1:0
	{
		conf_header
		printf '[target "fds"]\naddress = 127.0.0.1:%s\nconnections = 200\ninterval = 20ms\n' "$drip_PORT"
		printf 'message = ping\ntimeout = 2s\nconnect_timeout = 1s\n'
	} >"$T/fds.conf"
	start_mconnd "$T/fds.conf"
	check "fds: cycling before the fault" wait_for 10 tjs_true fds '.cycles_ok > 400 and .sessions_active > 150'
	hard=$(prlimit --pid "$MCONND_PID" --nofile --noheadings --raw --output HARD)
	prlimit --pid "$MCONND_PID" --nofile=150:"$hard"
	check "fds: resource counted while the limit is low" wait_for 10 tjs_true fds '.errors.resource > 100'
	r1=$(tjs fds .errors.resource)
	ok1=$(tjs fds .cycles_ok)
	check "fds: status answers while sessions are short of fds" status_answers
	check "fds: 20 requests in a row all answered" sh -c \
		"for i in \$(seq 20); do '$MCONNCTL' status >/dev/null || exit 1; done"
	check "fds: the sessions keep to the limit less the reserve" wait_for 10 tjs_true fds '.sessions_active <= 54'
	check "fds: some sessions still cycle within the limit" wait_for 10 grown fds .cycles_ok "$ok1"
	check "fds: the new limit is logged" grep -q 'open files limit changed: at most 54 connections' "$T/mconnd.log"
	check "fds: only resource failures" test "$(others fds resource)" = 0
	check "fds: the shortage is logged" grep -q 'out of local resources (Too many open files)' "$T/mconnd.log"
	prlimit --pid "$MCONND_PID" --nofile="$hard":"$hard"
	check "fds: recovery logged once the limit is back" \
		wait_for 15 grep -q 'local resources available again' "$T/mconnd.log"
	r2=$(tjs fds .errors.resource)
	ok2=$(tjs fds .cycles_ok)
	check "fds: all 200 sessions cycle again" wait_for 10 tjs_true fds ".cycles_ok > $ok2 + 400 and .sessions_active > 150"
	check "fds: no resource failure after recovery ($r1 -> $r2 -> $(tjs fds .errors.resource))" \
		test "$(tjs fds .errors.resource)" = "$r2"
	check "fds: up throughout" tjs_true fds '.state == "up"'
	stop_mconnd
	stop_pid "$drip_PID"
}
if [ -z "${VALGRIND:-}" ]; then fds_fault; else say "skip: fds (under valgrind)"; fi

# --- Out of local ports ------------------------------------------------------------
# In a network namespace of our own, loopback up, ephemeral ports 40000-40001, 20
# sessions from source 127.0.0.1 with FIN close: TIME_WAIT holds the two ports, so
# most connects fail with EADDRNOTAVAIL. That is a local shortage (resource), the
# sessions back off instead of spinning, and the daemon's CPU stays low.
missing=$(netns_missing)
if [ -z "$missing" ]; then
	{
		conf_header
		printf '[target "ports"]\naddress = 127.0.0.1:7\nsource = 127.0.0.1\nconnections = 20\n'
		printf 'interval = 50ms\nbackoff_max = 1s\n'
	} >"$T/ports.conf"
	start_in_netns "$T/ports.conf" \
		'echo "40000 40001" >/proc/sys/net/ipv4/ip_local_port_range || exit 1' "-l 127.0.0.1:7"
	check "ports: daemon answers" wait_for 10 status_answers ||
		sed -n '1,20p' "$T/mconnd.log"
	check "ports: resource counted" wait_for 10 tjs_true ports '.errors.resource > 20 and .cycles_ok > 0'
	check "ports: only resource failures" test "$(others ports resource)" = 0
	check "ports: the shortage is named" \
		grep -q 'out of local resources (Cannot assign requested address)' "$T/mconnd.log"
	c0=$(cpu_ticks "$MCONND_PID")
	f0=$(tjs ports .errors.resource)
	sleep 3 # a measuring window for CPU and attempts; nothing is waited for
	c1=$(cpu_ticks "$MCONND_PID")
	f1=$(tjs ports .errors.resource)
	check "ports: CPU stays low ($((c1 - c0)) ticks of $((3 * HZ)) in 3 s)" \
		test $((c1 - c0)) -le $((3 * HZ / 10))
	check "ports: failed attempts back off ($((f1 - f0)) in 3 s for 20 sessions)" \
		test $((f1 - f0)) -le 600
	check "ports: status answers" status_answers
	# Two ports held in TIME_WAIT for a minute: no session gets rise cycles in a row,
	# so no verdict yet (unknown), and none of them down.
	check "ports: a local shortage does not make the target down" \
		tjs_true ports '.state != "down" and .sessions_down == 0 and .sessions_starved > 0'
	stop_mconnd
	stop_pid "$(cat "$T/ns.pid")"
else
	skip_part "ports: $missing"
fi

# --- The echo server killed and restarted again and again ---------------------------
start_echod flap echo -l 127.0.0.1:0
port=$flap_PORT
{
	conf_header
	printf '[target "flap"]\naddress = 127.0.0.1:%s\nconnections = 8\ninterval = 50ms\n' "$port"
	printf 'rise = 2\nfall = 2\ntimeout = 500ms\nconnect_timeout = 300ms\nbackoff_max = 200ms\n'
} >"$T/flap.conf"
start_mconnd "$T/flap.conf"
check "flap: up" wait_for 10 tjs_true flap '.state == "up"'
for round in 1 2 3 4; do
	kill -KILL "$flap_PID"
	wait "$flap_PID" 2>/dev/null
	check "flap $round: down after the server is killed" wait_for 10 tjs_true flap '.state == "down"'
	start_echod flap echo -l "127.0.0.1:$port"
	check "flap $round: up after it is back" wait_for 10 tjs_true flap '.state == "up"'
done
# Each round: up, degraded (the first session down), down (all 8), degraded (the first
# one up again), up (all 8).
check "flap: every flip counted (1 + 4 x 4 changes)" tjs_true flap '.health_changes == 17'
check "flap: it is flapping (16 changes in a minute, flap_threshold 5)" tjs_true flap '.flapping'
check "flap: flapping logged once" test "$(grep -c 'target flap is flapping' "$T/mconnd.log")" = 1
check "flap: failures are refused or reset only" test "$(others flap refused reset eof)" = 0
# No session stuck: each of the 8 makes new successful cycles after the last restart.
"$MCONNCTL" -j sessions flap | jq '[.sessions[].cycles_ok]' >"$T/s0"
check "flap: every session cycles after the last restart" wait_for 10 sh -c \
	"'$MCONNCTL' -j sessions flap | jq -e --argjson a \"\$(cat '$T/s0')\" '[.sessions[].cycles_ok] as \$b | [range(0; \$a | length) | \$b[.] > \$a[.]] | all' >/dev/null"
check "flap: status answers" status_answers
stop_mconnd

# --- A server that accepts thousands of connections and never answers --------------
start_echod silent silent -l 127.0.0.1:0
{
	conf_header
	printf '[target "mute"]\naddress = 127.0.0.1:%s\nconnections = %s\ninterval = 100ms\n' "$silent_PORT" "$MUTE_N"
	printf 'timeout = 300ms\nconnect_timeout = 200ms\nbackoff_max = 200ms\n'
} >"$T/mute.conf"
start_mconnd "$T/mute.conf"
check "mute: timeouts counted" wait_for 15 tjs_true mute ".errors.timeout > $MUTE_N"
check "mute: down" wait_for 10 tjs_true mute '.state == "down"'
rss0=$(rss_kib "$MCONND_PID")
t0=$(tjs mute .errors.timeout)
check "mute: many more timeouts" wait_for 15 tjs_true mute ".errors.timeout > $t0 + 5 * $MUTE_N"
rss1=$(rss_kib "$MCONND_PID")
check "mute: memory bounded (RSS $rss0 -> $rss1 KiB)" rss_bounded "$rss0" "$rss1" 1024
check "mute: fds bounded ($(nfds "$MCONND_PID") for $MUTE_N sessions)" test "$(nfds "$MCONND_PID")" -le $((MUTE_N + 20))
check "mute: timeouts and nothing else" test "$(others mute timeout)" = 0
check "mute: status answers" status_answers
stop_mconnd
stop_pid "$silent_PID"

# --- A long pause of the daemon (SIGSTOP / SIGCONT) ----------------------------------
# During a 2 s stop every deadline passes while the echoes wait in the sockets. After
# SIGCONT the sessions find their answers (the last look before failing a deadline):
# no burst of timeouts, at most one per session that was in flight.
{
	conf_header
	printf '[target "pause"]\naddress = 127.0.0.1:%s\nconnections = %s\ninterval = 50ms\n' "$echo_PORT" "$PAUSE_N"
	printf 'timeout = 200ms\nconnect_timeout = 200ms\n'
} >"$T/pause.conf"
start_mconnd "$T/pause.conf"
check "pause: cycling" wait_for 10 tjs_true pause ".cycles_ok > 10 * $PAUSE_N"
e0=$(tjs pause '.cycles_failed')
ok0=$(tjs pause '.cycles_ok')
kill -STOP "$MCONND_PID"
sleep 2 # the fault under test is the length of this stop
kill -CONT "$MCONND_PID"
check "pause: cycling again after SIGCONT" wait_for 10 tjs_true pause ".cycles_ok > $ok0 + 10 * $PAUSE_N"
e1=$(tjs pause '.cycles_failed')
check "pause: no failure from the stop ($((e1 - e0)) for $PAUSE_N sessions)" test $((e1 - e0)) = 0 ||
	{ tjs pause .errors; grep -v debug "$T/mconnd.log" | tail -n 5; }
check "pause: the stop is counted as a stall of about 2 s" \
	test "$(js '.loop.stalls >= 1 and .loop.stalled_s >= 1.5')" = true
check "pause: the stall is logged" grep -q 'the loop did not run for' "$T/mconnd.log"
check "pause: still up" tjs_true pause '.state == "up"'
stop_mconnd

# --- SIGHUP and `mconnctl set` storms under load -------------------------------------
# 1,000 sessions over three targets. A storm of SIGHUPs with the file flipping
# between two valid versions, a storm of `set`, `pause` and `resume`, then both at
# once; then a last reload puts back what the file says. Throughout, status answers,
# and a session whose target was not touched never fails; at the end the sessions are
# what the file says, every one cycles, and fds and memory are what they were.
storm_conf() { # CONNECTIONS_OF_A INTERVAL_OF_A
	conf_header
	printf '[target "a"]\naddress = 127.0.0.1:%s\nconnections = %s\ninterval = %s\n' "$echo_PORT" "$1" "$2"
	printf '[target "b"]\naddress = 127.0.0.1:%s\nconnections = %s\ninterval = 50ms\nmode = persistent\n' \
		"$echo_PORT" "$STORM_B"
	printf '[target "c"]\naddress = 127.0.0.1:%s\nconnections = %s\ninterval = 50ms\nclose = rst\n' \
		"$echo_PORT" "$STORM_C"
}
STORM_A=500 STORM_B=300 STORM_C=200 STORMS=300
if [ -n "${VALGRIND:-}" ]; then STORM_A=50 STORM_B=30 STORM_C=20 STORMS=30; fi
storm_conf "$STORM_A" 50ms >"$T/storm.conf"
start_mconnd "$T/storm.conf"
check "storm: cycling" wait_for 10 tjs_true b ".cycles_ok > 5 * $STORM_B"
fds0=$(quiet_fds)
rss0=$(rss_kib "$MCONND_PID")
okb=$(tjs b .cycles_ok)
hup_storm() {
	i=0
	while [ $i -lt "$STORMS" ]; do
		if [ $((i % 2)) = 0 ]; then
			storm_conf $((STORM_A - STORM_A / 5)) 20ms >"$T/storm.new"
		else
			storm_conf "$STORM_A" 50ms >"$T/storm.new"
		fi
		mv "$T/storm.new" "$T/storm.conf"
		kill -HUP "$MCONND_PID"
		i=$((i + 1))
	done
}
set_storm() {
	i=0
	while [ $i -lt "$STORMS" ]; do
		case $((i % 6)) in
		0) "$MCONNCTL" set a connections $((STORM_A / 2)) ;;
		1) "$MCONNCTL" set a interval 20ms ;;
		2) "$MCONNCTL" pause c ;;
		3) "$MCONNCTL" set a connections "$STORM_A" ;;
		4) "$MCONNCTL" resume c ;;
		5) "$MCONNCTL" set a timeout 3s ;;
		esac >/dev/null || return 1
		i=$((i + 1))
	done
}
hup_storm
check "storm: status answers after $STORMS SIGHUPs" status_answers
check "storm: SIGHUPs reloaded (coalesced: $(js .reload.ok) reloads)" test "$(js '.reload.ok > 0 and .reload.failed == 0')" = true
check "storm: every set, pause and resume answered OK" set_storm
hup_storm &
hpid=$!
check "storm: set storm during a SIGHUP storm answered OK" set_storm
wait $hpid
check "storm: status answers after both storms" status_answers
check "storm: a last reload puts back the file" sh -c "'$MCONNCTL' resume c >/dev/null 2>&1; '$MCONNCTL' reload >/dev/null"
check "storm: the sessions the file asks for ($(js .sessions))" \
	test "$(js .sessions)" = $((STORM_A + STORM_B + STORM_C))
check "storm: b, never touched, never failed" tjs_true b '.cycles_failed == 0'
check "storm: b kept its counters through every reload" tjs_true b ".cycles_ok >= $okb"
check "storm: no target failed a cycle" test "$(js '[.targets[].cycles_failed] | add')" = 0
"$MCONNCTL" -j sessions a | jq '[.sessions[].cycles_ok]' >"$T/s0"
check "storm: every session of a cycles after the storms" wait_for 10 sh -c \
	"'$MCONNCTL' -j sessions a | jq -e --argjson a \"\$(cat '$T/s0')\" '[.sessions[].cycles_ok] as \$b | [range(0; \$a | length) | \$b[.] > \$a[.]] | all' >/dev/null"
fds1=$(quiet_fds)
check "storm: with a and c paused, the fds open as before ($fds0 -> $fds1)" test "$fds1" -le "$fds0"
rss1=$(rss_kib "$MCONND_PID")
check "storm: memory bounded (RSS $rss0 -> $rss1 KiB)" rss_bounded "$rss0" "$rss1" 2048
stop_mconnd
finish
