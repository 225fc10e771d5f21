# Shared helpers of the integration tests: start real processes on loopback, wait
# for conditions with bounded polls (never a bare sleep), assert, and clean up.
# Sourced by each t_*.sh; BUILD names the build directory (build or build/asan).
#
# Skips: a test that cannot run here (a capability, a namespace, a directory uid
# 65534 can search) probes for exactly that and calls 'skip WHAT' (the whole test)
# or 'skip_part WHAT' (one part; the rest runs). Either prints
# "SKIP: <test>: <what is missing>"; the test then exits 77 unless a check failed.
# The runner (tests/run.sh) counts 77 as skipped, never as passed, and as failed
# under MCONN_REQUIRE_ALL=1 (CI sets it).

set -u
BUILD=${BUILD:-build}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
case $BUILD in
/*) B=$BUILD ;;
*) B=$TOP/$BUILD ;;
esac
MCONND="$B/mconnd"
MCONNCTL="$B/mconnctl"
ECHOD="$B/echod"
T=$(mktemp -d /tmp/mconn-test.XXXXXX)
SOCK="$T/mconnd.sock"
export MCONND_SOCKET="$SOCK"
PIDS=""
# VALGRIND=1 runs the daemon under memcheck: any error or leak fails its exit status.
WRAP=""
if [ -n "${VALGRIND:-}" ]; then
	WRAP="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --track-fds=no"
fi
FAILS=0
CHECKS=0
SKIPS=0
# The name SKIP lines give: the script's, or what the runner says (systemd/t_units).
MCONN_TEST=${MCONN_TEST:-$(basename "$0" .sh)}
# Sanitizer builds: fail on the first error, report leaks at exit.
export ASAN_OPTIONS="abort_on_error=0:detect_leaks=1:exitcode=86"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87"

# MCONN_KEEP_TMP=1 keeps the test's directory (logs, configs) and says where.
cleanup() {
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	if [ -n "${MCONN_KEEP_TMP:-}" ]; then
		say "kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

say() { printf '  %s\n' "$*"; }

ok() {
	CHECKS=$((CHECKS + 1))
	say "ok: $*"
}

fail() {
	CHECKS=$((CHECKS + 1))
	FAILS=$((FAILS + 1))
	say "FAIL: $*"
}

# skip WHAT: this test cannot run here because WHAT is missing; ends it (exit 77).
skip() {
	echo "SKIP: $MCONN_TEST: $*"
	exit 77
}

# skip_part WHAT: one part cannot run here; the test goes on and finish exits 77.
skip_part() {
	SKIPS=$((SKIPS + 1))
	echo "SKIP: $MCONN_TEST: $*"
}

# netns_missing: nothing when this process can make a network namespace, bring its
# loopback up (CAP_NET_ADMIN) and write its /proc/sys/net (not mounted read-only, as
# in a container); else what is missing, for skip.
netns_missing() {
	r=/proc/sys/net/ipv4/ip_local_port_range
	if ! unshare -n true 2>/dev/null; then
		echo "a network namespace (unshare -n: $(unshare -n true 2>&1 | head -n 1))"
	elif ! unshare -n ip link set lo up 2>/dev/null; then
		echo "CAP_NET_ADMIN (ip link set lo up in a network namespace of our own)"
	elif ! unshare -n sh -c "cat $r >$r" 2>/dev/null; then
		echo "a writable /proc/sys ($r in a network namespace of our own)"
	fi
}

# check DESCRIPTION COMMAND...: one assertion; returns 1 when it failed, so that
# 'check ... || show_why' can add what a person needs to see.
check() {
	d=$1
	shift
	if "$@"; then ok "$d"; else fail "$d"; return 1; fi
}

# wait_for SECONDS COMMAND...: poll COMMAND every 50 ms until it succeeds.
wait_for() {
	limit=$(($1 * 20))
	shift
	i=0
	while [ $i -lt $limit ]; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		i=$((i + 1))
		sleep 0.05
	done
	return 1
}

# start_echod NAME MODE [ARGS...]: start the fixture server; sets NAME_PORT and NAME_PID.
start_echod() {
	name=$1
	mode=$2
	shift 2
	rm -f "$T/$name.port"
	"$ECHOD" -q -m "$mode" -p "$T/$name.port" "$@" 2>"$T/$name.log" &
	pid=$!
	PIDS="$PIDS $pid"
	if ! wait_for 5 test -s "$T/$name.port"; then
		fail "echod $name ($mode) did not start: $(cat "$T/$name.log")"
		exit 1
	fi
	eval "${name}_PORT=\$(cat \"\$T/\$name.port\")"
	eval "${name}_PID=$pid"
}

# hold N REQUEST SOCAT_ADDRESS OUTPREFIX: N clients that each send REQUEST (printf
# format) and then keep the connection open for 30 s, their output in OUTPREFIX.I;
# sets HOLDERS to their PIDs (also killed at exit).
hold() {
	HOLDERS=""
	i=0
	while [ "$i" -lt "$1" ]; do
		(printf "$2"; exec sleep 30) | socat - "$3" >"$4.$i" 2>/dev/null &
		HOLDERS="$HOLDERS $!"
		i=$((i + 1))
	done
	PIDS="$PIDS $HOLDERS"
}

stop_pid() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# start_prometheus CONFIG: a real Prometheus on a loopback port (it cannot listen on
# port 0: take a port the kernel hands out, free it, try again with another if someone
# took it meanwhile), its data under $T/prom; sets PROM_PORT and PROM_PID, or fails
# the test with Prometheus's last words.
start_prometheus() {
	for attempt in 1 2 3; do
		start_echod probe echo -l 127.0.0.1:0
		PROM_PORT=$probe_PORT
		stop_pid "$probe_PID"
		prometheus --config.file="$1" --storage.tsdb.path="$T/prom" \
			--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn 2>"$T/prom.log" &
		PROM_PID=$!
		PIDS="$PIDS $PROM_PID"
		if wait_for 30 prom_ready; then
			ok "prometheus listens on 127.0.0.1:$PROM_PORT"
			return 0
		fi
		kill "$PROM_PID" 2>/dev/null
		wait "$PROM_PID" 2>/dev/null
		grep -q 'address already in use' "$T/prom.log" || break
	done
	fail "prometheus did not start: $(tail -5 "$T/prom.log")"
	exit 1
}
# prom_config RULES ADDR: a Prometheus configuration that scrapes mconnd at ADDR every
# second and evaluates the rule file RULES as often.
prom_config() {
	cat <<EOT
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
rule_files:
  - $1
scrape_configs:
  - job_name: mconn
    static_configs:
      - targets: ["$2"]
EOT
}
prom_ready() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PROM_PORT/-/ready")" = 200 ]; }
# prom_api PATH: GET Prometheus's /api/v1/PATH.
prom_api() { curl -s -m 5 "http://127.0.0.1:$PROM_PORT/api/v1/$1"; }
# prom_query EXPR: the first sample's value of an instant query (EXPR URL-encoded by
# curl), or nothing.
prom_query() {
	curl -s -m 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
		jq -r '.data.result[0].value[1] // empty'
}

# start_mconnd CONFFILE: start the daemon and wait until it answers; sets MCONND_PID.
# Its log goes to $T/mconnd.log, or to MCONND_LOG_SINK when set (a FIFO, say).
start_mconnd() {
	$WRAP "$MCONND" -c "$1" 2>"${MCONND_LOG_SINK:-$T/mconnd.log}" &
	MCONND_PID=$!
	PIDS="$PIDS $MCONND_PID"
	if ! wait_for 10 "$MCONNCTL" version; then
		fail "mconnd did not start: $(cat "$T/mconnd.log")"
		exit 1
	fi
}

# stop_mconnd [SIGNAL]: SIGTERM (or SIGNAL), expect exit 0 and no sanitizer report.
stop_mconnd() {
	sig=${1:-TERM}
	check "no event was refused by a session's state machine" \
		test "$(js .loop.unexpected_events)" = 0
	kill -"$sig" "$MCONND_PID"
	wait "$MCONND_PID"
	rc=$?
	check "mconnd exits 0 on SIG$sig (got $rc)" test "$rc" = 0
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:|==[0-9]+== [A-Z]' "$T/mconnd.log"; then
		fail "sanitizer report in mconnd's log:"
		sed -n '1,40p' "$T/mconnd.log"
	fi
}

# start_in_netns CONF SETUP ECHOD_ARGS: in a network namespace of its own with loopback
# up, run the shell commands SETUP, start echod with ECHOD_ARGS (its pid in $T/ns.pid)
# and exec the daemon with CONF (its log in $T/mconnd.log); sets MCONND_PID.
start_in_netns() {
	rm -f "$T/ns.port"
	cat >"$T/ns.sh" <<-NS
		ip link set lo up || exit 1
		$2
		"$ECHOD" -q $3 -p "$T/ns.port" 2>"$T/nsecho.log" &
		echo \$! >"$T/ns.pid"
		i=0; while [ ! -s "$T/ns.port" ] && [ \$i -lt 100 ]; do sleep 0.05; i=\$((i + 1)); done
		exec $WRAP "$MCONND" -c "$1"
	NS
	unshare -n sh "$T/ns.sh" 2>"$T/mconnd.log" &
	MCONND_PID=$!
	PIDS="$PIDS $MCONND_PID"
}

# conf_header: the [daemon] section every test config starts with.
conf_header() {
	printf '[daemon]\ncontrol_socket = %s\nlog_level = debug\n' "$SOCK"
}

# js FILTER: evaluate a jq filter on 'mconnctl -j status'.
js() {
	"$MCONNCTL" -j status | jq -r "$1"
}

# tjs TARGET EXPR: jq expression evaluated on one target's object.
tjs() {
	"$MCONNCTL" -j status | jq -r --arg t "$1" ".targets[] | select(.name == \$t) | $2"
}

# test_true TARGET EXPR: succeed when the jq expression is true for the target.
tjs_true() {
	[ "$(tjs "$1" "$2")" = true ]
}

# only_class TARGET CLASS: CLASS counted, every other class and cycles_ok zero.
only_class() {
	tjs "$1" "[.cycles_ok, (.errors | to_entries[] | select(.key != \"$2\") | .value)] | add" >"$T/other"
	[ "$(tjs "$1" ".errors.$2 > 0")" = true ] && [ "$(cat "$T/other")" = 0 ]
}

# finish: the test's last command; its status is the test's (0, 1, or 77 skipped).
finish() {
	skipped=""
	[ "$SKIPS" = 0 ] || skipped=", $SKIPS skipped"
	echo "  $CHECKS checks, $FAILS failed$skipped"
	[ "$FAILS" = 0 ] || return 1
	[ "$SKIPS" = 0 ] || return 77
}

# sample_for SECONDS TARGET EXPR: evaluate the jq EXPR on TARGET five times a second
# for SECONDS (a measurement window, not a wait); print each distinct value once.
sample_for() {
	n=$(($1 * 5))
	i=0
	: >"$T/samples"
	while [ $i -lt $n ]; do
		tjs "$2" "$3" >>"$T/samples"
		sleep 0.2
		i=$((i + 1))
	done
	sort -u "$T/samples"
}
