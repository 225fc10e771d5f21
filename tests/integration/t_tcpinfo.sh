#!/bin/sh
# The kernel's view of the path per session (TCP_INFO: RTT, RTT variation,
# retransmits) in `mconnctl sessions`, text and JSON, with each session's verdict;
# retransmitted segments counted per target in status and metrics (SYNs dropped by a
# full accept queue are retransmitted); and the health model's keys set at run time
# with the configuration's checks.
. "$(dirname "$0")/lib.sh"

start_echod echo echo -l 127.0.0.1:0
start_echod full noaccept -b 1 -l 127.0.0.1:0
{
	conf_header
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 50ms\n' "$echo_PORT"
	printf 'rise = 2\n'
	printf '[target "full"]\naddress = 127.0.0.1:%s\nconnections = 1\ninterval = 100ms\n' "$full_PORT"
	printf 'connect_timeout = 1500ms\ntimeout = 2s\n'
} >"$T/c.conf"
start_mconnd "$T/c.conf"

check "web comes up" wait_for 10 tjs_true web '.state == "up"'
"$MCONNCTL" sessions web >"$T/s.txt"
check "sessions has VERDICT, RTT, RTTVAR and RETRANS columns" \
	grep -qE '^ +INDEX +STATE +FD +OK +FAILED +LAST +VERDICT +LATENCY +RTT +RTTVAR +RETRANS$' "$T/s.txt"
check "each session's verdict and RTT are shown" \
	sh -c "[ \$(grep -cE '^ +[01] +[a-z]+ +-?[0-9]+ +[0-9]+ +0 +ok +up +[0-9.]+(us|ms) +[0-9.]+(us|ms) +[0-9.]+(us|ms) +0$' '$T/s.txt') = 2 ]" ||
	cat "$T/s.txt"
"$MCONNCTL" -j sessions web >"$T/s.json"
check "sessions -j has rtt_ms, rttvar_ms and retransmits" \
	jq -e '[.sessions[] | (.rtt_ms > 0 and .rttvar_ms > 0 and .retransmits == 0 and .verdict == "up")] | all' "$T/s.json" >/dev/null

# SYNs into a full accept queue are dropped and sent again after a second.
check "a dropped SYN's retransmit is counted for the target" wait_for 10 tjs_true full '.retransmits >= 1'
check "and its cycles failed as connect_timeout" tjs_true full '.errors.connect_timeout >= 1'
check "web retransmitted nothing" tjs_true web '.retransmits == 0'
"$MCONNCTL" metrics >"$T/m.txt"
check "mconn_target_retransmits_total in the metrics" \
	grep -qE '^mconn_target_retransmits_total\{target="full"\} [1-9][0-9]*$' "$T/m.txt"
if command -v promtool >/dev/null; then
	check "promtool accepts the metrics" promtool check metrics <"$T/m.txt"
fi
check "kernel-timed cycles: none fell back to the loop's clock once stamps were on" \
	tjs_true web '.cycles_loop_timed != null and .cycles_loop_timed < 5'

# The health keys of item 1 at run time, with the file's checks.
quiet() { "$@" >/dev/null; }
check "set web down_quorum 1" quiet "$MCONNCTL" set web down_quorum 1
check "set web degraded_ratio 25%" quiet "$MCONNCTL" set web degraded_ratio 25%
check "set web interval_changing 20ms" quiet "$MCONNCTL" set web interval_changing 20ms
check "status shows the set values" tjs_true web '.down_quorum == 1 and .degraded_ratio == 0.25'
check "runtime_set names them" \
	tjs_true web '.runtime_set | (index("down_quorum") != null and index("degraded_ratio") != null and index("interval_changing") != null)'
"$MCONNCTL" set web flap_window 0s >"$T/bad.out" 2>&1
check "a value out of range is refused (exit $?)" grep -q 'flap_window' "$T/bad.out" || cat "$T/bad.out"
check "and the error says what is accepted" grep -qiE 'expected|from' "$T/bad.out" || cat "$T/bad.out"
stop_mconnd
finish
