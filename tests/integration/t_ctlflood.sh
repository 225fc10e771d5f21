#!/bin/sh
# Control socket floods, each beside a status probe on a fresh connection every 50 ms:
# partial lines, silent clients, clients that never read a big reply, clients that
# read big replies in a loop. Every probe must be answered OK with p99 under 100 ms,
# the loop must keep its pace (cycle start lateness p99 under 10 ms) and no stall of
# its own making may be logged. The big replies come from a target of 99,900 sessions
# in cycle mode with a one-hour interval, so that only a few of its sessions hold an fd
# at any time (`sessions -j big` is about 20 MB); a 100-session target at 100 ms gives
# the loop its pace and must see no failure. Then a second daemon with 1,000 one-session
# targets, whose status page and metrics (about 5 MB) HTTP readers of metrics_listen
# fetch in a loop.
. "$(dirname "$0")/lib.sh"

PROBE="$B/ctlprobe"
FLOOD_S=${FLOOD_S:-6}
MAX_MS=100
LATE_MS=10
# A whole render of the 1,001-target exposition held the loop about 160 ms here; 16
# slices (one per scraper) about 15 ms, more when the loaded machine preempts it.
HELD_MS=40
case $B in */asan*) HELD_MS=100 ;; esac
# Under valgrind the daemon is ~30x slower: the bounds are reported, not held.
if [ -n "${VALGRIND:-}" ]; then
	MAX_MS=5000
	LATE_MS=1000
	HELD_MS=5000
fi

start_echod echo echo -l 127.0.0.1:0
{
	conf_header | sed 's/^log_level = debug$/log_level = info/'
	printf '[target "big"]\naddress = 127.0.0.1:%s\nconnections = 99900\ninterval = 1h\n' "$echo_PORT"
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 100\ninterval = 100ms\n' "$echo_PORT"
	printf 'connect_timeout = 1s\ntimeout = 1s\n'
} >"$T/c.conf"
start_mconnd "$T/c.conf"
check "target web up" wait_for 20 tjs_true web '.state == "up"'
"$MCONNCTL" -j sessions big >"$T/big.json"
check "sessions -j big is a whole JSON document of 99900 sessions" \
	test "$(jq '.sessions | length' "$T/big.json")" = 99900
say "sessions -j big: $(wc -c <"$T/big.json") bytes; loop lateness p99 $(js .loop.lateness_ms.p99) ms, max $(js .loop.lateness_ms.max) ms"

# flood NAME KIND N [REQUEST]: run the flood for FLOOD_S seconds beside the probe.
flood() {
	name=$1
	shift
	nice -n 19 "$PROBE" -s "$SOCK" flood "$1" "$2" "$FLOOD_S" ${3:+"$3"} >"$T/$name.flood" 2>&1 &
	fpid=$!
	PIDS="$PIDS $fpid"
	"$PROBE" -s "$SOCK" probe 50 "$FLOOD_S" "$MAX_MS" >"$T/$name.probe" 2>&1
	rc=$?
	wait "$fpid"
	say "$name: $(cat "$T/$name.probe")"
	say "$name: $(cat "$T/$name.flood")"
	say "$name: loop lateness p99 $(js .loop.lateness_ms.p99) ms, max $(js .loop.lateness_ms.max) ms so far"
	check "$name: every status probe answered OK, p99 under $MAX_MS ms" test "$rc" = 0
}

# The machine's own pace first: the same probe with no flood. On a loaded machine
# (other work on both cores) the loop is late by scheduling alone; then the floods
# may not make it later than half as much again as that.
# The floods' own clients run at nice 19: what is under test is what serving them
# costs mconnd's loop, not how much CPU they take from it on a machine already full.
"$PROBE" -s "$SOCK" probe 50 "$FLOOD_S" "$MAX_MS" >"$T/quiet.probe" 2>&1
quiet=$(js .loop.lateness_ms.p99)
say "quiet: $(cat "$T/quiet.probe"); loop lateness p99 $quiet ms"
LATE_MS=$(echo "$quiet $LATE_MS" | awk '{ b = $1 * 1.5; print (b > $2) ? b : $2 }')

flood slowline slowline 64
flood silent silent 64
flood unread unread 6 "sessions -j big"
flood bigread bigread 20 "sessions -j big"
flood metrics bigread 20 "metrics"

say "loop: lateness p99 $(js .loop.lateness_ms.p99) ms over the last minute, stalls $(js .loop.stalls);" \
	"control server: busy $(js .control.busy_s) s in all, at most $(js .control.busy_max_ms) ms at once"
check "loop lateness p99 under $LATE_MS ms" \
	test "$(js ".loop.lateness_ms.p99 < $LATE_MS")" = true
# A stall the daemon blames on its own work (a callback that held the loop) fails; one
# in which it was not run (preempted by the floods' own clients on a loaded machine, or
# waiting in the kernel) is reported, not failed.
machine_stalls() { grep -c 'loop did not run' "$T/mconnd.log"; }
say "stalls in which the loop was not run: $(machine_stalls)"
check "no stall of mconnd's own making counted" \
	test "$(js .loop.stalls)" = "$(machine_stalls)"
check "none logged" sh -c "! grep -q 'was held' '$T/mconnd.log'"
check "web saw no failure meanwhile" tjs_true web '.cycles_failed == 0 and .state == "up"'
check "the daemon still answers" "$MCONNCTL" version
stop_mconnd

# HTTP scrapers: every connection the listener serves, each reading /metrics slowly
# in a loop (a scrape of these 1,001 targets is rendered in slices as it is sent).
{
	conf_header | sed 's/^log_level = debug$/log_level = info/'
	printf 'metrics_listen = 127.0.0.1:0\n'
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 100\ninterval = 100ms\n' "$echo_PORT"
	printf 'connect_timeout = 1s\ntimeout = 1s\n'
	i=0
	while [ $i -lt 1000 ]; do
		printf '[target "t%d"]\naddress = 127.0.0.1:%s\nconnections = 1\ninterval = 1h\n' "$i" "$echo_PORT"
		i=$((i + 1))
	done
} >"$T/h.conf"
start_mconnd "$T/h.conf"
check "second daemon: target web up" wait_for 20 tjs_true web '.state == "up"'
"$PROBE" -s "$SOCK" probe 50 "$FLOOD_S" "$MAX_MS" >"$T/quiet2.probe" 2>&1
quiet=$(js .loop.lateness_ms.p99)
say "quiet (1,001 targets): $(cat "$T/quiet2.probe"); loop lateness p99 $quiet ms"
LATE_MS=$(echo "$quiet $LATE_MS" | awk '{ b = $1 * 1.5; print (b > $2) ? b : $2 }')
http=$(js .metrics.listen)
# http_flood NAME PATH RATE: 16 readers (every connection the listener serves) fetch
# PATH at RATE bytes/s each in a loop for FLOOD_S seconds beside the status probe;
# then the probe's verdict, and no failed request. The page is a sixth of the
# exposition's size: read at a sixth of the rate, about as many curl processes start.
http_flood() {
	end=$(($(date +%s) + FLOOD_S))
	k=0
	scrapers=""
	while [ $k -lt 16 ]; do
		nice -n 19 sh -c 'while [ "$(date +%s)" -lt "$1" ]; do curl -s --max-time 10 --limit-rate "$4" -o /dev/null "http://$2$3"; done' \
			scraper "$end" "$http" "$2" "$3" &
		scrapers="$scrapers $!"
		k=$((k + 1))
	done
	PIDS="$PIDS $scrapers"
	"$PROBE" -s "$SOCK" probe 50 "$FLOOD_S" "$MAX_MS" >"$T/$1.probe" 2>&1
	rc=$?
	for p in $scrapers; do wait "$p"; done
	say "$1: $(cat "$T/$1.probe"); $(js '"\(.metrics.http_requests) requests so far, \(.metrics.http_failed) failed"')"
	say "$1: loop lateness p99 $(js .loop.lateness_ms.p99) ms, max $(js .loop.lateness_ms.max) ms so far;" \
		"the metrics listener held the loop at most $(js '.loop.callback_max_ms["metrics listener"]') ms at once" \
		"($(js '.loop.callback_wall_max_ms["metrics listener"]') ms on the wall clock, waits for a CPU included)"
	check "$1: every status probe answered OK, p99 under $MAX_MS ms" test "$rc" = 0
	check "$1: no request failed" test "$(js .metrics.http_failed)" = 0
	# A whole render holds the loop for tens of ms at a time; a slice, a few ms. The
	# hold is the daemon's own (callback_max_ms leaves out the time a loaded machine
	# kept it waiting for a CPU mid-slice; a chroot run beside other builds read 40+
	# ms on the wall clock).
	check "$1: the metrics listener never held the loop $HELD_MS ms at once" \
		test "$(js ".loop.callback_max_ms[\"metrics listener\"] < $HELD_MS")" = true
}

# The status page of the same 1,001 targets first (so the listener's longest hold
# so far is the page's), then the exposition. Their histories are nearly empty here
# (an hour's interval); check_page's test_thousand_targets measures full ones.
curl -sf --max-time 20 -o "$T/page.html" "http://$http/"
say "status page over HTTP: $(wc -c <"$T/page.html") bytes;" \
	"sampling the history held the tick at most $(js '.loop.callback_max_ms.tick') ms"
check "a whole status page of 1,001 rows" \
	sh -c "test \$(grep -c '^<tr class=\"target\"' '$T/page.html') = 1001 && tail -c 20 '$T/page.html' | grep -q '</html>'"
http_flood page / 700K
curl -sf --max-time 20 -o "$T/scrape.txt" "http://$http/metrics"
say "metrics over HTTP: $(wc -c <"$T/scrape.txt") bytes"
"$MCONNCTL" metrics >"$T/ctl-scrape.txt"
check "a whole exposition over HTTP (every family the control socket's has, in order, and the last target)" \
	sh -c "grep -c '^mconn_' '$T/scrape.txt' | awk '\$1 > 20000 { ok = 1 } END { exit !ok }' &&
		[ \"\$(grep '^# TYPE' '$T/scrape.txt')\" = \"\$(grep '^# TYPE' '$T/ctl-scrape.txt')\" ] &&
		[ \"\$(tail -n 1 '$T/scrape.txt' | cut -d ' ' -f 1)\" = \"\$(tail -n 1 '$T/ctl-scrape.txt' | cut -d ' ' -f 1)\" ] &&
		grep -q '^mconn_target_up{target=\"t999\"} ' '$T/scrape.txt'"
http_flood http /metrics 4M

say "http: loop lateness p99 $(js .loop.lateness_ms.p99) ms, stalls $(js .loop.stalls)"
check "http: loop lateness p99 under $(echo "$LATE_MS" | awk '{ print $1 * 2 }') ms (twice the bound: 16 curl processes share the 2 cores)" \
	test "$(js ".loop.lateness_ms.p99 < $LATE_MS * 2")" = true
say "http: stalls in which the loop was not run: $(machine_stalls)"
check "http: no stall of mconnd's own making counted" \
	test "$(js .loop.stalls)" = "$(machine_stalls)"
check "http: none logged" sh -c "! grep -q 'was held' '$T/mconnd.log'"
check "http: web saw no failure meanwhile" tjs_true web '.cycles_failed == 0 and .state == "up"'
stop_mconnd
finish
