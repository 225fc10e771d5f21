#!/bin/sh
# Issue 14: a real Prometheus scrapes two targets with labels every second, with the
# sample alert rules (MconnTargetDown's for: shortened to 8 s). While the alert on
# "moved" (down: connections refused) is pending, a reload changes moved's address
# (refused there too). Then: the alert fires with the activeAt it had before the
# reload (its for: was not reset) and the new address in its summary; each series of
# both targets has one identity over the whole run (only mconn_target_info gets a
# series for the new address); the target's own labels are on its series.
. "$(dirname "$0")/lib.sh"

FOR_S=8
start_echod echo echo -l 127.0.0.1:0
conf() { # ADDRESS_OF_MOVED
	conf_header
	printf 'metrics_listen = 127.0.0.1:0\n'
	printf '[target "steady"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 100ms\n' "$echo_PORT"
	printf 'labels = team=web, tier=edge\n'
	printf '[target "moved"]\naddress = %s\nconnections = 2\ninterval = 100ms\n' "$1"
	printf 'fall = 2\nbackoff_max = 200ms\nlabels = team=db\n'
}
conf 127.0.0.1:1 >"$T/c.conf"
start_mconnd "$T/c.conf"
ADDR=$(js .metrics.listen)
curl -s -m 10 "http://$ADDR/metrics" >"$T/m.txt"
check "promtool check metrics: clean with labels and mconn_target_info" sh -c "promtool check metrics <'$T/m.txt'"

sed "s/for: [0-9a-z]*/for: ${FOR_S}s/" "$TOP/conf/mconn-alerts.yml" >"$T/alerts.yml"
prom_config "$T/alerts.yml" "$ADDR" >"$T/prom.yml"
start_prometheus "$T/prom.yml"

# alert STATE: moved's MconnTargetDown alert as JSON when it is in STATE.
alert() {
	prom_api alerts | jq -ce --arg s "$1" '.data.alerts[] |
		select(.labels.alertname == "MconnTargetDown" and .labels.target == "moved" and .state == $s)'
}
alert_is() { alert "$1" >/dev/null; }
check "the alert on moved is pending" wait_for 20 alert_is pending
pending=$(alert pending)
active_before=$(printf '%s' "$pending" | jq -r .activeAt)
conf 127.0.0.2:1 >"$T/c.conf"
"$MCONNCTL" reload >"$T/reload.out" 2>&1
check "the reload restarts moved at its new address" grep -q '^restarted moved: address' "$T/reload.out"
check "and the alert was still pending then (for: ${FOR_S}s)" alert_is pending
check "moved stays down across the reload" tjs_true moved '.state == "down" and .generation == 1'

check "the alert fires" wait_for $((FOR_S + 10)) alert_is firing
firing=$(alert firing)
check "with the activeAt of before the reload: for: not reset ($active_before)" \
	test "$(printf '%s' "$firing" | jq -r .activeAt)" = "$active_before"
check "with moved's own label team=db" test "$(printf '%s' "$firing" | jq -r .labels.team)" = db
summary=$(printf '%s' "$firing" | jq -r .annotations.summary)
check "and the new address in its summary ($summary)" test "$summary" = "echo target moved (127.0.0.2:1) is down, seen from $ADDR"

# series NAME_AND_MATCHERS: how many series matched over the whole run.
series() { prom_query "count(count_over_time($1[10m]))"; }
check "steady's cycles: one series over the run" test "$(series 'mconn_cycles_total{target="steady",result="ok"}')" = 1
check "steady's latency buckets: one series over the run" \
	test "$(series 'mconn_cycle_duration_seconds_bucket{target="steady",le="0.1"}')" = 1
check "moved's refusals: one series across the address change" \
	test "$(series 'mconn_cycles_total{target="moved",result="refused"}')" = 1
check "moved's state: one series across the address change" \
	test "$(series 'mconn_target_state{target="moved",state="down"}')" = 1
check "mconn_target_info: one series per address of moved" test "$(series 'mconn_target_info{target="moved"}')" = 2
check "steady's series carry team=web, tier=edge" \
	test "$(prom_query 'mconn_target_up{target="steady",team="web",tier="edge"}')" = 1
check "steady's address is in mconn_target_info" \
	test "$(prom_query "mconn_target_info{target=\"steady\",address=\"127.0.0.1:$echo_PORT\",team=\"web\"}")" = 1
# (Latency alerts may fire on a loaded machine: only the state's alert is asked about.)
steady_quiet() {
	! prom_api alerts | jq -e '.data.alerts[] | select(.labels.target == "steady" and .labels.alertname == "MconnTargetDown")' >/dev/null
}
check "no MconnTargetDown on steady" steady_quiet
stop_pid "$PROM_PID"
stop_mconnd
finish
