#!/bin/sh
# A real Prometheus scrapes mconnd's metrics_listen every second, with the sample
# alert rules (conf/mconn-alerts.yml, their 'for' shortened): its HTTP API shows
# mconn_cycles_total{result="ok"} growing, then mconn_target_up going to 0 and the
# MconnTargetDown alert firing once the fixture echo server is stopped. The sample
# configuration files pass promtool's checks, and the alert and fleet rules their
# promtool unit tests (tests/promtool/).
. "$(dirname "$0")/lib.sh"

check "promtool accepts conf/prometheus.yml" sh -c "promtool check config '$TOP/conf/prometheus.yml' >/dev/null"
check "promtool accepts conf/mconn-alerts.yml" sh -c "promtool check rules '$TOP/conf/mconn-alerts.yml' >/dev/null"
check "promtool accepts conf/mconn-recording.yml" sh -c "promtool check rules '$TOP/conf/mconn-recording.yml' >/dev/null"
check "promtool test rules: down, degraded, flapping, reload failed, the failure ratio without resource" \
	sh -c "promtool test rules '$TOP/tests/promtool/alerts_test.yml' >/dev/null"
check "promtool accepts conf/mconn-fleet-rules.yml" sh -c "promtool check rules '$TOP/conf/mconn-fleet-rules.yml' >/dev/null"
check "promtool test rules: fleet quorum, unhealthy and silent checkers, joined p99" \
	sh -c "promtool test rules '$TOP/tests/promtool/fleet_test.yml' >/dev/null"
check "promtool test rules: the SLO recording rules" \
	sh -c "promtool test rules '$TOP/tests/promtool/recording_test.yml' >/dev/null"

start_echod echo echo -l 127.0.0.1:0
{
	conf_header
	printf 'metrics_listen = 127.0.0.1:0\n'
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 100ms\n' "$echo_PORT"
	printf 'fall = 2\nbackoff_max = 200ms\n'
} >"$T/c.conf"
start_mconnd "$T/c.conf"
ADDR=$(js .metrics.listen)

sed 's/for: [0-9a-z]*/for: 0s/' "$TOP/conf/mconn-alerts.yml" >"$T/alerts.yml"
prom_config "$T/alerts.yml" "$ADDR" >"$T/prom.yml"
start_prometheus "$T/prom.yml"
api() { prom_api "$1"; }

# query EXPR: the first sample's value, or nothing.
query() { api "query?query=$1" | jq -r '.data.result[0].value[1] // empty'; }
ok_total() { query 'mconn_cycles_total%7Btarget%3D%22web%22%2Cresult%3D%22ok%22%7D'; }
scraped() { [ -n "$(ok_total)" ]; }
check "prometheus scraped mconn_cycles_total{result=\"ok\"}" wait_for 20 scraped
first=$(ok_total)
grown() { v=$(ok_total); [ -n "$v" ] && [ "$v" -gt "$first" ]; }
check "mconn_cycles_total{result=\"ok\"} grows (from $first)" wait_for 15 grown
check "the scrape job is up" test "$(query 'up%7Bjob%3D%22mconn%22%7D')" = 1
is_up() { [ "$(query 'mconn_target_up%7Btarget%3D%22web%22%7D')" = "$1" ]; }
check "mconn_target_up is 1 while the server answers" wait_for 10 is_up 1

stop_pid "$echo_PID"
check "mconn_target_up goes to 0 once the server is stopped" wait_for 15 is_up 0
firing() { api alerts | jq -e '.data.alerts[] | select(.labels.alertname == "MconnTargetDown" and .labels.target == "web" and .state == "firing")' >/dev/null; }
check "the sample rule MconnTargetDown fires" wait_for 15 firing
check "refusals reached Prometheus" sh -c "[ \"\$(curl -s -m 10 'http://127.0.0.1:$PROM_PORT/api/v1/query?query=mconn_cycles_total%7Bresult%3D%22refused%22%7D' | jq -r '.data.result[0].value[1]')\" -ge 2 ]"
stop_pid "$PROM_PID"
stop_mconnd
finish
