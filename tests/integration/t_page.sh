#!/bin/sh
# The status page for people: GET / on metrics_listen serves one self-contained HTML
# page (no script, no external asset, a meta refresh it states in words). Three
# targets, one up, one down, one paused: each row's state, sessions and p50 agree with
# `mconnctl -j status` read just before and just after the page; HEAD works, other
# paths are 404. Headless Chromium (Debian's chromium) takes a screenshot of it.
. "$(dirname "$0")/lib.sh"

start_echod echo echo -l 127.0.0.1:0
{
	conf_header
	printf 'metrics_listen = 127.0.0.1:0\n'
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 4\ninterval = 100ms\n' "$echo_PORT"
	printf '[target "gone"]\naddress = 127.0.0.1:1\nconnections = 2\ninterval = 100ms\n'
	printf 'rise = 1\nfall = 1\n'
	printf '[target "held"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 100ms\n' "$echo_PORT"
} >"$T/c.conf"
start_mconnd "$T/c.conf"
ADDR=$(js .metrics.listen)
check "web comes up" wait_for 20 tjs_true web '.state == "up" and .latency_ms.p50 != null'
check "gone goes down" wait_for 20 tjs_true gone '.state == "down"'
check "held comes up" wait_for 20 tjs_true held '.state == "up"'
"$MCONNCTL" pause held >/dev/null
check "held is paused" tjs_true held '.state == "paused"'

"$MCONNCTL" -j status >"$T/before.json"
code=$(curl -s -m 10 -o "$T/page.html" -D "$T/page.hdr" -w '%{http_code}' "http://$ADDR/")
"$MCONNCTL" -j status >"$T/after.json"
check "GET / is 200 (got $code)" test "$code" = 200
check "Content-Type is HTML in UTF-8" grep -qi '^Content-Type: text/html; charset=utf-8' "$T/page.hdr"
check "one whole HTML document" sh -c "head -c 15 '$T/page.html' | grep -qi '^<!DOCTYPE html>' && tail -c 20 '$T/page.html' | grep -q '</html>'"
check "it refreshes itself every 10 s, and says so" \
	sh -c "grep -q '<meta http-equiv=\"refresh\" content=\"10\">' '$T/page.html' && grep -q 'refreshes itself every 10 s' '$T/page.html'"
check "no script, no external asset" \
	sh -c "! grep -qiE '<script|<link|<img|<iframe|src=|url\\(|@import|https?://' '$T/page.html'"
check "one inline SVG chart per target" test "$(grep -c '<svg' "$T/page.html")" = 3

# row TARGET: the page's row of TARGET (one line per target).
row() { grep "<tr class=\"target\" id=\"t-$1\"" "$T/page.html"; }
# cell TARGET CLASS: the text of a cell (its first text, tags removed).
cell() { row "$1" | sed -n "s/.*<td class=\"$2[^\"]*\">\\([^<]*\\).*/\\1/p"; }
# to_ms TEXT: a duration as the page writes it (us, ms, s), in ms.
to_ms() { echo "$1" | awk '/us$/ { print $0 / 1000; next } /ms$/ { print $0 + 0; next } /s$/ { print $0 * 1000 }'; }
# half_unit TEXT: half the last digit the page wrote, in ms (its rounding).
half_unit() {
	echo "$1" | awk '{ u = /us$/ ? 0.001 : (/ms$/ ? 1 : 1000); v = $0; sub(/[a-z]+$/, "", v);
		d = index(v, ".") ? length(v) - index(v, ".") : 0; print u * 0.5 / (10 ^ d) }'
}
# p50_agrees TARGET: the page's p50 lies within its rounding of the status p50 read
# before or after it, or between the two, give or take two histogram buckets (6 %): the
# p50 is a bucket's midpoint and can move a bucket and back between the three reads
# (ASan: 0.099 ms before and after, 101us on the page in between).
p50_agrees() {
	page=$(cell "$1" p50)
	b=$(jq -r --arg t "$1" '.targets[] | select(.name == $t) | .latency_ms.p50' "$T/before.json")
	a=$(jq -r --arg t "$1" '.targets[] | select(.name == $t) | .latency_ms.p50' "$T/after.json")
	say "$1: p50 on the page $page; in status $b before, $a after"
	awk -v p="$(to_ms "$page")" -v h="$(half_unit "$page")" -v b="$b" -v a="$a" \
		'BEGIN { lo = b < a ? b : a; hi = b < a ? a : b;
			exit !(p >= lo * 0.94 - h - 1e-9 && p <= hi * 1.06 + h + 1e-9) }'
}
for t in web gone held; do
	for f in before after; do
		eval "st_$f=\$(jq -r --arg t $t '.targets[] | select(.name == \$t) | \"\\(.state) \\(.sessions)\"' $T/$f.json)"
	done
	page="$(cell $t 'state' | tr -d ' ') $(cell $t sess)"
	say "$t: page '$page', status '$st_before' before, '$st_after' after"
	check "$t: state and sessions as in status" sh -c "[ '$page' = '$st_before' ] || [ '$page' = '$st_after' ]"
done
check "web: p50 as in status, within the page's rounding" p50_agrees web
check "gone: no p50 (no good cycle)" test "$(cell gone p50)" = "-"
check "gone: refusals among its failures by class" sh -c "grep 'id=\"t-gone\"' '$T/page.html' | grep -q 'refused [1-9]'"
check "states are coloured by class and written in words" \
	sh -c "grep -q 'class=\"state s-up\"' '$T/page.html' && grep -q 'class=\"state s-down\"' '$T/page.html' && grep -q 'class=\"state s-paused\"' '$T/page.html'"
check "the summary counts the states" grep -q '3 targets: 1 up, 0 degraded, 1 down, 0 unknown, 1 paused' "$T/page.html"

code=$(curl -s -m 10 -I -o "$T/head.hdr" -w '%{http_code} %{size_download}' "http://$ADDR/")
check "HEAD / is 200 without a body (got $code)" test "$code" = "200 0"
check "HEAD / says HTML" grep -qi '^Content-Type: text/html' "$T/head.hdr"
code=$(curl -s -m 10 -o "$T/nf.txt" -w '%{http_code}' "http://$ADDR/index.html")
check "/index.html is 404 (got $code)" test "$code" = 404
check "the 404 names what is served" grep -q '/metrics' "$T/nf.txt"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST -d 'x=1' "http://$ADDR/")
check "POST / is 405 (got $code)" test "$code" = 405
check "/metrics still serves the exposition" \
	sh -c "curl -s -m 10 'http://$ADDR/metrics' | grep -q '^mconn_target_up{target=\"web\"'"

# A real browser: headless Chromium renders the page to a PNG of the window's size.
if ! command -v chromium >/dev/null 2>&1; then
	skip_part "no screenshot: chromium is not installed (Debian package chromium; .ci/deps.sh test installs it)"
else
	# As root Chromium needs --no-sandbox; its profile stays in the test's directory.
	# One more try when the first fails: a browser starting on a loaded machine can
	# lose one of its own helper processes.
	shot() {
		rm -rf "$T/chromium" "$T/page.png"
		HOME="$T" timeout 90 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
			--no-first-run --disable-extensions --disable-background-networking \
			--disable-dev-shm-usage --user-data-dir="$T/chromium" --window-size=1280,420 \
			--screenshot="$T/page.png" "http://$ADDR/" >>"$T/chromium.log" 2>&1 &&
			test -s "$T/page.png"
	}
	shot || shot
	rc=$?
	check "chromium took the screenshot (exit $rc)" test "$rc" = 0 || tail -n 5 "$T/chromium.log"
	size=$(stat -c %s "$T/page.png" 2>/dev/null || echo 0)
	dims=$(od -An -tu1 -j16 -N8 "$T/page.png" 2>/dev/null |
		awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 "x" $5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }')
	say "screenshot: $size bytes, $dims"
	check "the screenshot is a PNG" sh -c "head -c 8 '$T/page.png' | od -An -c | grep -q 'P   N   G'"
	check "the screenshot is the window's size (got $dims)" test "$dims" = 1280x420
	# A blank or one-colour page compresses to about 2 KB; text, colours and charts do not.
	check "the screenshot is not trivial ($size bytes)" test "$size" -gt 20000
	[ -n "${PAGE_SCREENSHOT:-}" ] && cp "$T/page.png" "$PAGE_SCREENSHOT"
fi
stop_mconnd
finish
