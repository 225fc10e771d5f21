#!/bin/sh
# make scrape-cost: what one scrape costs the event loop with 10,000 sessions. Starts
# the fixture echo server and mconnd with SCRAPE_SESSIONS (default 10000) persistent
# sessions spread over SCRAPE_TARGETS targets (default 100; try 10 or 1000), every
# session echoing every 10 s, then scrapes /metrics SCRAPE_COUNT times (default 50)
# over HTTP and as many through `mconnctl metrics`. Rendering happens inside one turn
# of the loop, so its time is what a scrape stalls the sessions; the daemon measures
# it (status -j: .metrics). Fails if renders took more than SCRAPE_MAX_MS (default 50)
# on average, or any cycle failed. (The maximum is reported, not judged: on a shared
# machine one render now and then is preempted.) Then bytes on the wire and scrape
# time with and without gzip (Accept-Encoding), and what compressing cost the loop.
set -u
BUILD=${BUILD:-build}
SESS=${SCRAPE_SESSIONS:-10000}
NT=${SCRAPE_TARGETS:-100}
N=${SCRAPE_COUNT:-50}
MAXMS=${SCRAPE_MAX_MS:-50}
# The sessions need that many descriptors: skip (exit 77) where the hard limit is lower.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((SESS + 200)) ]; then
	echo "SKIP: ${MCONN_TEST:-scrape_cost}: an open-files hard limit of $((SESS + 200)) (ulimit -Hn is $hard)"
	exit 77
fi
T=$(mktemp -d /tmp/mconn-scrape.XXXXXX)
SOCK="$T/mconnd.sock"
pids=""
trap 'for p in $pids; do kill -TERM $p 2>/dev/null; done; wait; rm -rf "$T"' EXIT
ctl() { "$BUILD/mconnctl" -s "$SOCK" "$@"; }
# until SECONDS COMMAND...: poll every 50 ms, bounded.
until_ok() {
	n=$(($1 * 20)); shift
	while [ "$n" -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; n=$((n - 1)); done
	return 1
}

"$BUILD/echod" -q -l 127.0.0.1:0 -p "$T/port" &
pids="$pids $!"
until_ok 5 test -s "$T/port" || { echo "scrape-cost: echod did not start"; exit 1; }
port=$(cat "$T/port")
per=$((SESS / NT))
{
	printf '[daemon]\ncontrol_socket = %s\nmetrics_listen = 127.0.0.1:0\n' "$SOCK"
	i=0
	while [ $i -lt "$NT" ]; do
		printf '[target "t%04d"]\naddress = 127.0.0.1:%s\nconnections = %s\n' $i "$port" "$per"
		printf 'mode = persistent\ninterval = 10s\n'
		i=$((i + 1))
	done
} >"$T/c.conf"
"$BUILD/mconnd" -c "$T/c.conf" 2>"$T/mconnd.log" &
mpid=$!
pids="$mpid $pids"
until_ok 10 ctl version || { echo "scrape-cost: mconnd did not start"; cat "$T/mconnd.log"; exit 1; }
all_up() { [ "$(ctl -j status | jq '[.targets[] | select(.state == "up")] | length')" = "$NT" ]; }
until_ok 60 all_up || { echo "scrape-cost: not every target came up"; exit 1; }
addr=$(ctl -j status | jq -r .metrics.listen)
echo "scrape-cost: $((per * NT)) sessions over $NT targets; $N scrapes over HTTP, $N with mconnctl metrics"
i=0
while [ $i -lt "$N" ]; do
	curl -s -m 10 -o "$T/m.txt" "http://$addr/metrics" || { echo "scrape-cost: curl failed"; exit 1; }
	ctl metrics >/dev/null || exit 1
	i=$((i + 1))
done
ctl -j status >"$T/s.json"
jq -r '.metrics | "scrape-cost: \(.renders) renders of \(.last_bytes) bytes; mean \(.mean_render_ms) ms, max \(.max_render_ms) ms of loop time"' "$T/s.json"
# The same scrape over HTTP with and without gzip: bytes on the wire (body and
# headers as curl received them) and the scraper's time from request to last byte,
# averaged over N scrapes each; then what compressing cost the loop.
# wire ENCODING: "BYTES SECONDS" per scrape, N lines.
wire() {
	i=0
	while [ $i -lt "$N" ]; do
		curl -s -m 10 -H "Accept-Encoding: $1" -o /dev/null -w '%{size_download} %{size_header} %{time_total}\n' \
			"http://$addr/metrics" || return 1
		i=$((i + 1))
	done
}
for enc in identity gzip; do
	wire "$enc" | awk -v e="$enc" '{ b += $1 + $2; t += $3 } END {
		printf "scrape-cost: Accept-Encoding: %s: %.0f bytes on the wire, %.2f ms per scrape (mean of %d)\n", e, b / NR, 1000 * t / NR, NR }'
done
ctl -j status | jq -r '.metrics | "scrape-cost: gzip: \(.http_gzip) responses compressed in \(.http_gzip_ms) ms of loop time in all (\(if .http_gzip > 0 then .http_gzip_ms / .http_gzip else 0 end) ms each)"'
promtool check metrics <"$T/m.txt" >/dev/null 2>&1 || { echo "scrape-cost: promtool rejects the output"; exit 1; }
status=0
bad=$(jq '([.targets[].cycles_failed] | add) + .loop.unexpected_events' "$T/s.json")
[ "$bad" = 0 ] || { echo "scrape-cost: FAIL: $bad cycles failed"; status=1; }
over=$(jq --argjson m "$MAXMS" '.metrics.mean_render_ms > $m' "$T/s.json")
[ "$over" = false ] || { echo "scrape-cost: FAIL: renders took more than $MAXMS ms on average"; status=1; }
exit $status
