#!/bin/sh
# A fleet of four mconnd, each in a network namespace of its own joined by a veth pair
# to a namespace that holds the echo server and one real Prometheus, which scrapes all
# four with conf/mconn-fleet-rules.yml ('for' shortened). One shared file of 200
# targets (a drop-in every checker includes), replicas = 2, shard = K/4 in each
# checker's own main file. It shows: every target checked by exactly 2 checkers; a
# target unreachable from one checker only (its route removed there) does not fire
# MconnFleetTargetDown, one unreachable from all does; a fifth checker moves the
# targets `mconnd -t --shards` predicted (about 1/5) and each target stays on exactly
# 2; a checker stopped fires MconnFleetCheckerNotReporting and no target alert.
# Addresses: 10.77.K.0/24 on the veth of checker K, 10.78.x.y on the server's lo,
# all inside the test's own namespaces.
. "$(dirname "$0")/../integration/lib.sh"

missing=$(netns_missing)
[ -z "$missing" ] || skip "$missing"
command -v ip >/dev/null 2>&1 || skip "ip (iproute2)"
ip netns add "mcf$$probe" 2>/dev/null || skip "ip netns add (named network namespaces)"
# ip -n enters the namespace with a mount namespace of its own whose / it makes a
# slave mount: in a chroot (/ is not a mount point) that fails, and so would every
# step below.
probe=$(ip -n "mcf$$probe" link set lo up 2>&1) || {
	ip netns del "mcf$$probe"
	skip "ip -n (a mount namespace whose / can be made a slave mount: $(echo "$probe" | head -n 1))"
}
ip netns del "mcf$$probe"
command -v prometheus >/dev/null 2>&1 || skip "prometheus"
command -v nsenter >/dev/null 2>&1 || skip "nsenter (util-linux)"

START=$(date +%s)
SRV=mcf$$s
NSS=""
fleet_cleanup() {
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	for ns in $NSS; do ip netns del "$ns" 2>/dev/null; done
	cleanup
}
trap fleet_cleanup EXIT

# inns NS COMMAND...: run COMMAND in namespace NS. What runs in the background is
# started by nsenter itself, which execs it, so that $! is the daemon's pid (ip netns
# exec forks, and so would a shell function run with &).
inns() {
	ns_=$1
	shift
	nsenter --net="/run/netns/$ns_" "$@"
}
# t: seconds since the start, for the log.
t() { echo "$(($(date +%s) - START))s"; }

ip netns add "$SRV" && NSS="$SRV"
ip -n "$SRV" link set lo up
for a in 10.78.0.1 10.78.1.1 10.78.1.2; do ip -n "$SRV" addr add "$a/32" dev lo; done

# add_checker K: namespace mcfPIDcK, veth to the server's namespace, routes to the
# three server addresses (10.78.0.1 for most targets, 10.78.1.1 for ta, 10.78.1.2 for tb).
add_checker() {
	ns=mcf$$c$1
	ip netns add "$ns" && NSS="$NSS $ns"
	ip link add "vf$$a$1" netns "$ns" type veth peer name "vf$$b$1" netns "$SRV"
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "10.77.$1.2/24" dev "vf$$a$1"
	ip -n "$ns" link set "vf$$a$1" up
	ip -n "$SRV" addr add "10.77.$1.1/24" dev "vf$$b$1"
	ip -n "$SRV" link set "vf$$b$1" up
	for a in 10.78.0.1 10.78.1.1 10.78.1.2; do ip -n "$ns" route add "$a/32" via "10.77.$1.1"; done
}

# checker_conf K N: checker K's own main file, shard = K/N, the shared targets included.
checker_conf() {
	cat >"$T/c$1.conf" <<EOT
[daemon]
control_socket = $T/c$1.sock
metrics_listen = 10.77.$1.2:9100
log_level = info
shard = $1/$2
replicas = 2
include = $T/fleet.d/*.conf
EOT
}

start_checker() {
	nsenter --net="/run/netns/mcf$$c$1" "$MCONND" -c "$T/c$1.conf" 2>"$T/c$1.log" &
	eval "C$1_PID=$!"
	PIDS="$PIDS $!"
	wait_for 10 "$MCONNCTL" -s "$T/c$1.sock" version || { fail "checker $1 did not start: $(cat "$T/c$1.log")"; exit 1; }
}

mkdir "$T/fleet.d"
{
	i=0
	while [ $i -lt 198 ]; do
		printf '[target "e%03d"]\naddress = 10.78.0.1:7\n' $i
		i=$((i + 1))
	done
	printf '[target "ta"]\naddress = 10.78.1.1:7\n[target "tb"]\naddress = 10.78.1.2:7\n'
} >"$T/fleet.d/targets.conf"
# The same timings for all: down within about a second, up again as fast.
sed -i 's/^address = .*/&\ninterval = 500ms\nconnect_timeout = 300ms\ntimeout = 400ms\nfall = 2\nrise = 2\nbackoff_max = 500ms/' "$T/fleet.d/targets.conf"

nsenter --net="/run/netns/$SRV" "$ECHOD" -q -m echo -l 10.78.0.1:7 -l 10.78.1.1:7 -l 10.78.1.2:7 -p "$T/echo.port" 2>"$T/echo.log" &
PIDS="$PIDS $!"
wait_for 5 test -s "$T/echo.port" || { fail "echod did not start: $(cat "$T/echo.log")"; exit 1; }

for k in 1 2 3 4; do
	add_checker $k
	checker_conf $k 4
done
check "mconnd -t accepts checker 1's file and says what it runs" \
	sh -c "'$MCONND' -c '$T/c1.conf' -t | grep -q '^shard 1/4, replicas 2: runs [0-9]* of 200 targets, skips'"
"$MCONND" -c "$T/c1.conf" --shards >"$T/shards4.txt"
OWNERS_TA=$(awk '$1 == "ta" { print $2 }' "$T/shards4.txt")
PREDICTED=$(sed -n 's/^growing to 5 checkers moves \([0-9]*\) of 400 assignments.*/\1/p' "$T/shards4.txt")
check "mconnd --shards lists ta on 2 checkers ($OWNERS_TA) and predicts a move to 5 ($PREDICTED of 400)" \
	sh -c "echo '$OWNERS_TA' | grep -qx '[1-4],[1-4]' && [ -n '$PREDICTED' ]"
for k in 1 2 3 4; do start_checker $k; done

# Prometheus in the server's namespace: its own loopback, so port 9090 is free.
sed 's/for: [0-9a-z]*/for: 0s/' "$TOP/conf/mconn-fleet-rules.yml" >"$T/rules.yml"
prom_conf() {
	{
		printf 'global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n'
		printf 'rule_files:\n  - %s\nscrape_configs:\n  - job_name: mconn\n' "$T/rules.yml"
		printf '    metric_relabel_configs:\n      - source_labels: [__name__]\n'
		printf '        regex: mconn_connect_duration_seconds.*\n        action: drop\n'
		printf '    static_configs:\n      - targets: ['
		k=1
		while [ $k -le "$1" ]; do printf '%s"10.77.%s.2:9100"' "$([ $k = 1 ] || echo ,)" $k; k=$((k + 1)); done
		printf ']\n'
	} >"$T/prom.yml"
}
prom_conf 4
nsenter --net="/run/netns/$SRV" prometheus --config.file="$T/prom.yml" --storage.tsdb.path="$T/prom" \
	--web.listen-address=127.0.0.1:9090 --log.level=warn 2>"$T/prom.log" &
PROM_PID=$!
PIDS="$PIDS $PROM_PID"
prom_ready() { [ "$(inns "$SRV" curl -s -m 2 -o /dev/null -w '%{http_code}' http://127.0.0.1:9090/-/ready)" = 200 ]; }
wait_for 30 prom_ready || { fail "prometheus did not start: $(tail -5 "$T/prom.log")"; exit 1; }
ok "prometheus runs in the server's namespace ($(t))"

# pq EXPR: the first sample's value of an instant query, or nothing.
pq() { inns "$SRV" curl -s -m 5 -G --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query | jq -r '.data.result[0].value[1] // empty'; }
# is EXPR VALUE: the query's first value is VALUE.
is() { [ "$(pq "$1")" = "$2" ]; }
# firing ALERT [LABEL VALUE]: the alert fires (for that label value).
firing() {
	inns "$SRV" curl -s -m 5 http://127.0.0.1:9090/api/v1/alerts |
		jq -e --arg a "$1" --arg l "${2:-alertname}" --arg v "${3:-$1}" \
			'.data.alerts[] | select(.labels.alertname == $a and .labels[$l] == $v and .state == "firing")' >/dev/null
}
not_firing() { ! firing "$@"; }
# has EXPR: the query has a result.
has() { [ -n "$(pq "$1")" ]; }

check "all 200 targets up, each seen by exactly 2 checkers" \
	wait_for 40 is 'count(mconn_fleet:target_checkers:sum{state="up"} == 2)' 200
check "no target is seen by any other number of checkers" \
	is 'count(count by (target) (mconn_target_state{state="up"}) != 2) or vector(0)' 0
check "the four checkers' shard info" is 'count(mconn_shard_info{shards="4",replicas="2"})' 4

say "at $(t)"
# ta unreachable from its first checker only, tb from all four.
A=${OWNERS_TA%,*}
ip -n "mcf$$c$A" route del 10.78.1.1/32
for k in 1 2 3 4; do ip -n "mcf$$c$k" route del 10.78.1.2/32; done
check "tb, unreachable from all, fires MconnFleetTargetDown" wait_for 20 firing MconnFleetTargetDown target tb
check "ta is down from checker $A only" wait_for 10 is 'mconn_fleet:target_down_votes:sum{target="ta"}' 1
# Three evaluations with that one vote: the alert rules have seen it too.
check "ta's one vote recorded for 3 evaluations" \
	wait_for 10 has 'count_over_time(mconn_fleet:target_down_votes:sum{target="ta"}[4s]) >= 3 and mconn_fleet:target_down_votes:sum{target="ta"} == 1'
check "ta, unreachable from one checker, fires no alert" not_firing MconnFleetTargetDown target ta
check "checker $A says why: unreachable" \
	sh -c "'$MCONNCTL' -s '$T/c$A.sock' -j status ta | jq -e '.targets[0].state == \"down\" and .targets[0].errors.unreachable > 0' >/dev/null"
ip -n "mcf$$c$A" route add 10.78.1.1/32 via "10.77.$A.1"
for k in 1 2 3 4; do ip -n "mcf$$c$k" route add 10.78.1.2/32 via "10.77.$k.1"; done
check "the routes back, the alert ends" wait_for 20 not_firing MconnFleetTargetDown target tb

say "at $(t)"
# A fifth checker: the four reload with shard = K/5 and move out what it takes.
add_checker 5
for k in 1 2 3 4 5; do checker_conf $k 5; done
start_checker 5
moved_out=0
moved_in=0
for k in 1 2 3 4; do
	"$MCONNCTL" -s "$T/c$k.sock" reload >"$T/reload$k.txt" 2>&1 || fail "reload of checker $k: $(cat "$T/reload$k.txt")"
	moved_out=$((moved_out + $(grep -c '^moved out ' "$T/reload$k.txt")))
	moved_in=$((moved_in + $(grep -c '^moved in ' "$T/reload$k.txt")))
done
runs5=$("$MCONNCTL" -s "$T/c5.sock" -j status | jq '.shard.runs')
check "growing to 5 moved $moved_out of 400 assignments, as mconnd --shards predicted ($PREDICTED), all to the new checker ($runs5), none between the old ($moved_in)" \
	sh -c "[ $moved_out = $PREDICTED ] && [ $runs5 = $moved_out ] && [ $moved_in = 0 ] && [ $moved_out -le 100 ]"
for k in 1 2 3 4 5; do "$MCONNCTL" -s "$T/c$k.sock" -j status | jq -r '.targets[].name'; done | sort | uniq -c >"$T/counts"
check "with 5 checkers each of the 200 targets runs on exactly 2" \
	sh -c "[ \$(wc -l <'$T/counts') = 200 ] && ! awk '\$1 != 2' '$T/counts' | grep -q ."
prom_conf 5
kill -HUP "$PROM_PID"
check "prometheus scrapes the fifth checker" wait_for 20 is 'count(up{job="mconn"} == 1)' 5
check "every target up on 2 checkers again" \
	wait_for 20 is 'count(mconn_fleet:target_checkers:sum{state="up"} == 2)' 200

say "at $(t)"
# A checker stopped: it does not report; its targets still have one vantage point.
kill -TERM "$C2_PID"
wait "$C2_PID"
check "checker 2 stopped: MconnFleetCheckerNotReporting fires for it" \
	wait_for 20 firing MconnFleetCheckerNotReporting instance 10.77.2.2:9100
check "no target alert with a checker gone" not_firing MconnFleetTargetDown
check "the other checkers still see all 200 targets up" \
	is 'count(mconn_fleet:target_checkers:sum{state="up"} >= 1)' 200
for k in 1 3 4 5; do
	kill -TERM "$(eval echo \$C${k}_PID)"
	wait "$(eval echo \$C${k}_PID)"
	rc=$?
	check "checker $k exits 0 on SIGTERM (got $rc)" test "$rc" = 0
done
grep -hE 'AddressSanitizer|LeakSanitizer|runtime error:' "$T"/c*.log && fail "sanitizer report in a checker's log"
say "t_fleet took $(($(date +%s) - START)) s"
finish
