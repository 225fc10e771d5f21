#!/bin/sh
# Latency from the kernel: a target behind a path of known cost (the fixture server
# holding each echo D after the kernel received it, at real-time priority) reads at
# that cost while the same daemon runs 2,000 more sessions cycling every 200 ms and
# answers a scrape every second: p50 within 1 % and p99 within one histogram bucket
# (5.2 %) of 2 x D (a cycle makes two round trips; its connect costs no hold). The
# loop's clock, which counted the time each event waited in the busy loop, read
# several times the cost here.
. "$(dirname "$0")/lib.sh"

LOAD=2000
# 2 x D = 20.186 ms is the midpoint of the histogram bucket status -j reads it
# from (19.923-20.447 ms), so its p50 and p99 say the cycles' own values within the
# bucket's +-1.3 %, not the bucket edge's rounding.
D_US=10093
COST_MS=20.186

chrt -f 20 true 2>/dev/null || skip "real-time priority for the delay line (chrt -f 20: $(chrt -f 20 true 2>&1 | head -n 1))"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((2 * LOAD + 200)) ] ||
	skip "$((2 * LOAD + 200)) open files for $LOAD sessions and their echoes (ulimit -n is $(ulimit -n))"

# The delay line at real-time priority: its own wake-ups are not the path's cost.
rm -f "$T/path.port"
chrt -f 20 "$ECHOD" -q -m delay -D $D_US -l 127.0.0.1:0 -p "$T/path.port" 2>"$T/path.log" &
PIDS="$PIDS $!"
wait_for 5 test -s "$T/path.port" || { fail "the delay line did not start: $(cat "$T/path.log")"; exit 1; }
start_echod load echo -F -l 127.0.0.1:0 -n 10000
{
	conf_header | sed 's/^log_level = debug$/log_level = notice/'
	printf 'metrics_listen = 127.0.0.1:0\n'
	printf '[target "path"]\naddress = 127.0.0.1:%s\nconnections = 10\ninterval = 100ms\ntimeout = 5s\n' \
		"$(cat "$T/path.port")"
	printf '[target "load"]\naddress = 127.0.0.1:%s\nconnections = %s\ninterval = 200ms\n' "$load_PORT" $LOAD
	printf 'timeout = 5s\nconnect_timeout = 5s\n'
} >"$T/c.conf"
start_mconnd "$T/c.conf"
ADDR=$(js .metrics.listen)

# A scrape every second for as long as the test runs: load, not synchronisation.
(while :; do curl -s -m 5 -o /dev/null "http://$ADDR/metrics"; sleep 1; done) &
PIDS="$PIDS $!"

check "path comes up" wait_for 10 tjs_true path '.state == "up"'
check "the load runs: 2,000 sessions cycling" wait_for 15 tjs_true load '.cycles_ok >= 8000'
check "enough cycles of path to judge (600)" wait_for 25 tjs_true path '.latency_ms.count >= 600'
"$MCONNCTL" -j status path >"$T/st.json"
p50=$(jq -r '.targets[] | select(.name == "path") | .latency_ms.p50' "$T/st.json")
p99=$(jq -r '.targets[] | select(.name == "path") | .latency_ms.p99' "$T/st.json")
lateness=$(jq -r '.loop.lateness_ms.p99' "$T/st.json")
say "path costs $COST_MS ms; reported p50 $p50 ms, p99 $p99 ms; the loop's own lateness p99 $lateness ms"
within() { awk -v v="$1" -v c="$COST_MS" -v pct="$2" 'BEGIN { d = (v - c) / c * 100; exit !(d >= -pct && d <= pct) }'; }
check "p50 within 1 % of the path's cost under load" within "$p50" 1
# The histogram's buckets are about 5 % apart here (status reads 20.186 ms for
# 19.923-20.447 and 21.234 ms for the next one up), so 5 % is the histogram's own
# resolution: when just over 1 % of the cycles take more than 1.3 % over the path's
# cost (a late wake-up of the delay line, rare), p99 reads one bucket up, +5.2 %: a
# quiet CI run and a run beside two spin loops did. p99 may read that next bucket,
# not beyond (main before kernel timing read +7,990 % here).
check "p99 within one histogram bucket (5.2 %) of the path's cost under load" within "$p99" 5.2
check "no cycle of path failed" tjs_true path '.cycles_failed == 0'
stop_mconnd
finish
