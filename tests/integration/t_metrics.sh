#!/bin/sh
# Prometheus metrics: `mconnctl metrics` and the metrics_listen HTTP endpoint both pass
# promtool's checks and agree; gzip-compressed when the scraper asks for it; only GET
# and HEAD of /metrics (and of the status page at /, t_page.sh) are served; the
# listener's connection and request-size limits hold while sessions keep cycling; a
# bad or busy metrics_listen is a clear startup error.
. "$(dirname "$0")/lib.sh"

start_echod echo echo -l 127.0.0.1:0
{
	conf_header
	printf 'metrics_listen = 127.0.0.1:0\n'
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 4\ninterval = 50ms\n' "$echo_PORT"
	printf '[target "off"]\naddress = 127.0.0.1:1\ninterval = 50ms\n'
} >"$T/c.conf"
start_mconnd "$T/c.conf"
ADDR=$(js .metrics.listen)
check "the listener's address is in status" sh -c "expr '$ADDR' : '127\.0\.0\.1:[0-9][0-9]*\$' >/dev/null"
check "the address is logged" grep -q "serving metrics on http://$ADDR/metrics" "$T/mconnd.log"
check "web comes up" wait_for 10 tjs_true web '.state == "up"'

"$MCONNCTL" metrics >"$T/m.txt"
check "mconnctl metrics exits 0" test $? = 0
check "promtool accepts mconnctl metrics" promtool check metrics <"$T/m.txt"
code=$(curl -s -m 10 -o "$T/h.txt" -D "$T/h.hdr" -w '%{http_code}' "http://$ADDR/metrics")
check "GET /metrics is 200 (got $code)" test "$code" = 200
check "promtool accepts the HTTP endpoint" promtool check metrics <"$T/h.txt"
check "Content-Type is the 0.0.4 text format" \
	grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$T/h.hdr"
# The same families and series both ways (values move between the two reads).
series() { grep -v '^#' "$1" | sed 's/ [^ ]*$//' | sort; }
check "both ways give the same series" test "$(series "$T/m.txt")" = "$(series "$T/h.txt")"
for f in mconn_build_info mconn_config_reloads_total mconn_config_last_reload_successful \
	mconn_target_up mconn_target_paused mconn_target_state mconn_sessions \
	mconn_sessions_active mconn_cycles_total mconn_cycle_duration_seconds \
	mconn_connect_duration_seconds mconn_health_changes_total mconn_start_time_seconds; do
	check "HELP and TYPE for $f" sh -c "grep -q '^# HELP $f ' '$T/h.txt' && grep -q '^# TYPE $f ' '$T/h.txt'"
done
check "web is up in the metrics" grep -q "^mconn_target_up{target=\"web\"} 1$" "$T/h.txt"
check "web's address is in mconn_target_info" \
	grep -q "^mconn_target_info{target=\"web\",address=\"127.0.0.1:$echo_PORT\",resolved=\"127.0.0.1:$echo_PORT\",protocol=\"tcp\",mode=\"cycle\"} 1$" "$T/h.txt"
# gzip (issue 14): when the scraper asks for it, and only then; the same exposition.
curl -s -m 10 -H 'Accept-Encoding: gzip' -o "$T/g.gz" -D "$T/g.hdr" "http://$ADDR/metrics"
check "Accept-Encoding: gzip gets Content-Encoding: gzip" grep -qi '^Content-Encoding: gzip' "$T/g.hdr"
check "and Vary: Accept-Encoding" grep -qi '^Vary: Accept-Encoding' "$T/g.hdr"
check "the body is one whole gzip stream" sh -c "gzip -dc <'$T/g.gz' >'$T/g.txt'"
check "promtool accepts it unpacked" promtool check metrics <"$T/g.txt"
check "with the same series as the plain text" test "$(series "$T/g.txt")" = "$(series "$T/h.txt")"
check "in fewer bytes ($(wc -c <"$T/g.gz") for $(wc -c <"$T/h.txt"))" \
	test "$(wc -c <"$T/g.gz")" -lt "$(($(wc -c <"$T/h.txt") / 4))"
for enc in 'gzip;q=0' identity 'deflate, br'; do
	curl -s -m 10 -H "Accept-Encoding: $enc" -o "$T/n.txt" -D "$T/n.hdr" "http://$ADDR/metrics"
	check "Accept-Encoding: $enc gets plain text" sh -c "! grep -qi '^Content-Encoding' '$T/n.hdr' && promtool check metrics <'$T/n.txt'"
done
curl -s -m 10 -H 'Accept-Encoding: deflate, GZIP;q=0.5' -o /dev/null -D "$T/g.hdr" "http://$ADDR/metrics"
check "a gzip among other codings, in capitals, with a q" grep -qi '^Content-Encoding: gzip' "$T/g.hdr"
check "off's refusals are counted" \
	grep -qE '^mconn_cycles_total\{target="off",result="refused"\} [1-9]' "$T/h.txt"

code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://$ADDR/nosuch")
check "/nosuch is 404 (got $code)" test "$code" = 404
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "http://$ADDR/metrics/x")
check "/metrics/x is 404 (got $code)" test "$code" = 404
code=$(curl -s -m 10 -o /dev/null -D "$T/p.hdr" -w '%{http_code}' -X POST -d 'x=1' "http://$ADDR/metrics")
check "POST is 405 (got $code)" test "$code" = 405
check "405 says Allow: GET, HEAD" grep -qi '^Allow: GET, HEAD' "$T/p.hdr"
code=$(curl -s -m 10 -I -o "$T/head.hdr" -w '%{http_code} %{size_download}' "http://$ADDR/metrics")
check "HEAD is 200 without a body (got $code)" test "$code" = "200 0"
check "the listener counted them" test "$(js '.metrics.http_not_found == 2 and .metrics.http_bad_method == 1')" = true

# A request header far beyond the per-connection memory: refused, nothing else hurt.
big=$(head -c 65536 /dev/zero | tr '\0' 'a')
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "X-Big: $big" "http://$ADDR/metrics")
check "a 64 KiB header is refused (got $code)" sh -c "[ '$code' = 431 ] || [ '$code' = 413 ] || [ '$code' = 000 ]"

# Hold every connection the listener serves (16), each after one answered request
# so we know it holds a slot: one more gets no answer; once they go, scrapes work.
hold 16 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' "TCP:$ADDR" "$T/hold"
holders=$HOLDERS
held() { [ "$(grep -l '^HTTP/1.1 200' "$T"/hold.* | wc -l)" = 16 ]; }
check "16 connections served and held" wait_for 20 held
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$ADDR/metrics")
check "connection 17 is not served (got $code)" test "$code" = 000
check "the control socket still answers" sh -c "\"$MCONNCTL\" version >/dev/null"
for p in $holders; do kill "$p" 2>/dev/null; done
pkill -P $$ -x sleep 2>/dev/null
scrape() { [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$ADDR/metrics")" = 200 ]; }
check "scrapes work again once they leave" wait_for 20 scrape
check "sessions kept cycling without failure" tjs_true web '.cycles_failed == 0 and .cycles_ok > 20'
check "every render was accounted" test "$(js '.metrics.renders >= 19 and .metrics.max_render_ms > 0')" = true

# Reloads: counted by result, the last one's outcome shown, and no counter of a kept
# or changed target goes back (web's interval changes, which restarts its sessions).
metric() { curl -s -m 10 "http://$ADDR/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
web_ok='mconn_cycles_total{target="web",result="ok"}'
off_refused='mconn_cycles_total{target="off",result="refused"}'
ok0=$(metric "$web_ok")
ref0=$(metric "$off_refused")
check "no reload yet: last_reload_successful is 1" test "$(metric mconn_config_last_reload_successful)" = 1
sed -e 's/^interval = 50ms$/interval = 40ms/' -e 's/^metrics_listen = .*/metrics_listen = 127.0.0.1:1/' \
	"$T/c.conf" >"$T/c2.conf"
cp "$T/c.conf" "$T/c1.conf"
cp "$T/c2.conf" "$T/c.conf"
"$MCONNCTL" reload >"$T/reload.out" 2>&1
check "reload succeeds" grep -q '^reloaded: 0 added, 0 removed, 2 changed' "$T/reload.out"
check "and says the listener stays" grep -q '^metrics_listen changed to 127.0.0.1:1; it takes effect at the next start, 127.0.0.1:0 stays in use' "$T/reload.out"
check "the listener still answers at $ADDR" scrape
check "mconn_config_reloads_total{result=\"ok\"} is 1" test "$(metric 'mconn_config_reloads_total{result="ok"}')" = 1
ok1=$(metric "$web_ok")
ref1=$(metric "$off_refused")
check "web's ok counter did not go back over the reload ($ok0 -> $ok1)" test "$ok1" -ge "$ok0"
check "off's refused counter did not go back ($ref0 -> $ref1)" test "$ref1" -ge "$ref0"
printf 'bogus_key = 1\n' >>"$T/c.conf"
"$MCONNCTL" reload >/dev/null 2>&1
check "a bad file's reload fails" test $? = 1
check "mconn_config_reloads_total{result=\"failed\"} is 1" test "$(metric 'mconn_config_reloads_total{result="failed"}')" = 1
check "mconn_config_last_reload_successful is 0" test "$(metric mconn_config_last_reload_successful)" = 0
cp "$T/c2.conf" "$T/c.conf"
check "a good reload again" sh -c "\"$MCONNCTL\" reload >/dev/null"
check "mconn_config_last_reload_successful is 1 again" test "$(metric mconn_config_last_reload_successful)" = 1
"$MCONNCTL" pause web >/dev/null
check "a paused target: mconn_target_paused 1, mconn_target_up 0" sh -c "
	[ \"\$(curl -s -m 10 'http://$ADDR/metrics' | grep -c '^mconn_target_paused{target=\"web\".*} 1\$')\" = 1 ] &&
	[ \"\$(curl -s -m 10 'http://$ADDR/metrics' | grep -c '^mconn_target_up{target=\"web\".*} 0\$')\" = 1 ]"
"$MCONNCTL" check web >"$T/check.out"
rc=$?
check "mconnctl check calls a paused target OK, paused (exit $rc: $(cat "$T/check.out"))" sh -c "[ $rc = 0 ] && grep -qE '^MCONN OK: web paused \(its sessions are stopped; it was (up|unknown)\)' '$T/check.out'"
"$MCONNCTL" resume web >/dev/null
check "promtool still accepts the metrics" sh -c "curl -s -m 10 'http://$ADDR/metrics' | promtool check metrics"
stop_mconnd

# Bad and busy listen addresses.
sed 's/^metrics_listen = .*/metrics_listen = localhost:9/' "$T/c.conf" >"$T/bad.conf"
"$MCONND" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1
check "mconnd -t rejects a name in metrics_listen" grep -q "metrics_listen: invalid address 'localhost:9'; expected a numeric ADDR:PORT" "$T/bad.out"
# Take a port that is in use: the fixture server's.
sed "s/^metrics_listen = .*/metrics_listen = 127.0.0.1:$echo_PORT/" "$T/c.conf" >"$T/busy.conf"
$WRAP "$MCONND" -c "$T/busy.conf" 2>"$T/busy.log"
rc=$?
check "mconnd exits 1 when metrics_listen is taken (got $rc)" test "$rc" = 1
check "and says why" grep -q "metrics_listen 127.0.0.1:$echo_PORT: Address already in use" "$T/busy.log"
finish
