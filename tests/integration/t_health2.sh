#!/bin/sh
# The health model for N sessions, against echo servers the test controls: every
# session failing (down within fall x interval of the first failure), a steady 50 % of
# connections reset (one state, no flapping between up and down), recovery (up within
# rise x interval_changing of the server's return, far sooner than the interval would
# allow), a paused target, and 200 persistent sessions against a server that takes 100.
# Each asserts the states and the number of transitions.
. "$(dirname "$0")/lib.sh"

# start_mconnd_stamped CONFFILE: as start_mconnd, each log line prefixed with the time
# it was written (seconds, ms resolution), so the test can measure the daemon's delays.
start_mconnd_stamped() {
	mkfifo "$T/log.fifo"
	perl -MTime::HiRes=time -ne 'BEGIN { $| = 1 } printf "%.3f %s", time, $_' \
		<"$T/log.fifo" >"$T/mconnd.log" &
	PIDS="$PIDS $!"
	MCONND_LOG_SINK="$T/log.fifo" start_mconnd "$1"
}

# stamp PATTERN [NTH]: the time of the NTH (default first) log line matching PATTERN.
stamp() {
	grep -E "$1" "$T/mconnd.log" | sed -n "${2:-1}p" | cut -d' ' -f1
}

# within A B LIMIT: B - A <= LIMIT (seconds, decimals allowed); says the figure.
within() {
	dt=$(echo "$1 $2" | awk '{ printf "%.3f", $2 - $1 }')
	say "measured: $dt s (limit $3 s)"
	[ -n "$1" ] && [ -n "$2" ] && awk -v d="$dt" -v l="$3" 'BEGIN { exit !(d <= l) }'
}

now_s() { perl -MTime::HiRes=time -e 'printf "%.3f", time'; }

start_echod down echo -l 127.0.0.1:0
start_echod half echo -r 50 -l 127.0.0.1:0
start_echod back echo -l 127.0.0.1:0
start_echod paws echo -l 127.0.0.1:0
# As 'ncat -l -k --max-conns 100' does: connections past the 100th closed at once.
start_echod cap echo -n 100 -l 127.0.0.1:0
back_port=$back_PORT
{
	conf_header
	printf 'metrics_listen = 127.0.0.1:0\n'
	# Four sessions, every one failing at once: down after fall failures of each.
	printf '[target "all"]\naddress = 127.0.0.1:%s\nconnections = 4\ninterval = 400ms\n' "$down_PORT"
	printf 'rise = 2\nfall = 3\nbackoff_max = 0\n'
	# Ten sessions, half the connections reset: the flapping window scaled down to 10 s.
	printf '[target "half"]\naddress = 127.0.0.1:%s\nconnections = 10\ninterval = 100ms\n' "$half_PORT"
	printf 'rise = 2\nfall = 3\nflap_threshold = 2\nflap_window = 10s\n'
	# Checked every 2 s while steady, every 100 ms while changing or down.
	printf '[target "back"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 2s\n' "$back_port"
	printf 'rise = 3\nfall = 2\ninterval_changing = 100ms\ninterval_down = 100ms\nbackoff_max = 0\n'
	printf '[target "paws"]\naddress = 127.0.0.1:%s\nconnections = 3\ninterval = 100ms\n' "$paws_PORT"
	# 200 persistent sessions at 1 s against a server that takes 100.
	printf '[target "cap"]\naddress = 127.0.0.1:%s\nconnections = 200\ninterval = 1s\nmode = persistent\n' "$cap_PORT"
} >"$T/c.conf"
check "mconnd -t accepts the health keys" "$MCONND" -t -c "$T/c.conf"
start_mconnd_stamped "$T/c.conf"

check "all: up once its 4 sessions are" wait_for 10 tjs_true all '.state == "up" and .sessions_up == 4'
check "back: up" wait_for 10 tjs_true back '.state == "up"'
check "paws: up" wait_for 10 tjs_true paws '.state == "up"'

# --- Every session failing ----------------------------------------------------------
changes=$(tjs all .health_changes)
stop_pid "$down_PID"
check "all: down when every session is" wait_for 10 tjs_true all '.state == "down" and .sessions_down == 4'
first=$(stamp 'target all session [0-9]+: refused')
down=$(stamp 'target all is down')
# The last session's first failure comes within one interval of the first (the starts
# are spread over it), its fall-th two intervals later: under 1.2 s; 0.2 s more for a
# machine shared with other test runs (stamps are taken as the lines are read).
check "all: down within fall x interval (3 x 400ms) of the first failure" within "$first" "$down" 1.4
check "all: at most 2 transitions on the way (up, degraded, down)" \
	test $(($(tjs all .health_changes) - changes)) -le 2
check "all: the down line says how many sessions" grep -q 'target all is down after 3 failures: refused (was [a-z]* for [0-9.a-z]*); 4 of 4 sessions down' "$T/mconnd.log"
"$MCONNCTL" check all >"$T/check.all"
check "all: check says CRITICAL (exit 2)" test $? = 2
check "all: check names the state" grep -q '^MCONN CRITICAL: all down for' "$T/check.all"

# --- Recovery -------------------------------------------------------------------------
stop_pid "$back_PID"
check "back: down" wait_for 10 tjs_true back '.state == "down"'
changes=$(tjs back .health_changes)
returned=$(now_s)
start_echod back echo -l "127.0.0.1:$back_port"
check "back: up again" wait_for 10 tjs_true back '.state == "up"'
up=$(stamp 'target back is up after 3 successes' 2)
# rise x interval_changing (300ms), plus the first retry (interval_down, 100ms) and
# the fixture's start; the plain interval would need (rise - 1) x 2 s = 4 s at least.
check "back: up within rise x interval_changing of the server's return" within "$returned" "$up" 1.4
check "back: at most 2 transitions on the way (down, degraded, up)" \
	test $(($(tjs back .health_changes) - changes)) -le 2

# --- A steady 50 % of connections reset ----------------------------------------------
check "half: degraded" wait_for 10 tjs_true half '.state == "degraded"'
check "half: half of the cycles fail" wait_for 10 tjs_true half '.errors.reset > 20 and .cycles_ok > 20'
# Watch it for 12 s (a fifth of a minute), sampling 5 times a second.
changes=$(tjs half .health_changes)
states=$(sample_for 12 half .state)
after=$(tjs half .health_changes)
flapping=$(tjs half .flapping)
say "half: health changes before and after 12 s: $changes, $after; flapping $flapping"
# The issue's bar: one state, or else flapping set; and never up at 50 % failures.
check "half: never up" sh -c "! printf '%s\n' '$states' | grep -qx up"
check "half: one state (degraded) without a transition in 12 s, or flapping set" \
	test \( "$states" = degraded -a "$after" -eq "$changes" \) -o "$flapping" = true
check "half: at most 2 transitions since start, or flapping set" \
	test "$after" -le 2 -o "$flapping" = true
check "half: never logged up" sh -c "! grep -q 'target half is up' '$T/mconnd.log'"
"$MCONNCTL" check half >"$T/check.half"
check "half: check says WARNING (exit 1)" test $? = 1
check "half: check names the state" grep -q '^MCONN WARNING: half degraded' "$T/check.half"
check "half: status text has the sessions' line" sh -c "'$MCONNCTL' status half | grep -qE '^  sessions: [0-9]+ up, [0-9]+ down, [0-9]+ unknown, 0 starved; [0-9.]+% of recent cycles failed'"
"$MCONNCTL" top -b -n 1 >"$T/top"
check "half: top shows it degraded, with its sessions' line" \
	sh -c "grep -qE '^half +degraded ' '$T/top' && grep -qE '^    sessions: [0-9]+ up, [0-9]+ down, [0-9]+ unknown, 0 starved' '$T/top'"
check "top's header counts degraded targets" grep -qE 'targets?, [0-9]+ up, [1-9][0-9]* degraded, [0-9]+ down' "$T/top"
check "top's header fits 78 columns, whole" sh -c "head -1 '$T/top' | grep -qE '; [0-9]+ sessions\$' && [ \$(head -1 '$T/top' | wc -c) -le 79 ]"

# --- 200 persistent sessions, a server that takes 100 (it has run all along) ---------
check "cap: degraded, 100 sessions up and 100 down by their own verdicts" \
	tjs_true cap '.state == "degraded" and .sessions_up == 100 and .sessions_down == 100'
check "cap: one transition since start (unknown to degraded)" test "$(tjs cap .health_changes)" = 1

# --- The new states in the metrics ---------------------------------------------------
curl -s -m 10 "http://$(js .metrics.listen)/metrics" >"$T/metrics"
check "promtool check metrics: clean" sh -c "promtool check metrics <'$T/metrics'"
metric() { # NAME TARGET [LABELS]: the sample's value
	grep -E "^$1\{target=\"$2\"${3:+,$3}\} " "$T/metrics" | cut -d' ' -f2
}
check "metrics: half degraded" test "$(metric mconn_target_state half 'state="degraded"')" = 1
check "metrics: half not up" test "$(metric mconn_target_up half)" = 0
check "metrics: all down" test "$(metric mconn_target_state all 'state="down"')" = 1
check "metrics: all's 4 sessions down by their own verdict" test "$(metric mconn_sessions_verdict all 'verdict="down"')" = 4
check "metrics: the flapping gauge" test "$(metric mconn_target_flapping half)" = "$([ "$flapping" = true ] && echo 1 || echo 0)"
check "metrics: no session starved" test "$(metric mconn_sessions_starved half)" = 0

# --- A paused target ------------------------------------------------------------------
changes=$(tjs paws .health_changes)
check "paws: pause" "$MCONNCTL" pause paws
check "paws: paused, no session counted" tjs_true paws '.state == "paused" and .sessions_up + .sessions_down + .sessions_unknown + .sessions_starved == 0'
"$MCONNCTL" check paws >"$T/check.paws"
check "paws: check says OK (exit 0) while paused, the default of --paused" test $? = 0
check "paws: no health change while paused" test "$(tjs paws .health_changes)" = "$changes"
check "paws: resume" "$MCONNCTL" resume paws
check "paws: up again after resume" wait_for 10 tjs_true paws '.state == "up" and .sessions_up == 3'
check "paws: one transition (unknown to up)" test "$(tjs paws .health_changes)" = $((changes + 1))

check "no target flapping but the ones expected" test "$(js '[.targets[] | select(.flapping) | .name] | join(",")' | sed 's/half//')" = ""
stop_mconnd
finish
