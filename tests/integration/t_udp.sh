#!/bin/sh
# UDP echo (RFC 862) against peers no one on this project wrote (socat, inetd's
# built-in echo) and the fixture server's UDP faults: each cause counted under its
# class and under no other; duplicates and late echoes counted and never taken for a
# cycle; ICMP port unreachable as refused with the kernel's detail; keys that make no
# sense for UDP refused by mconnd -t with FILE:LINE.
. "$(dirname "$0")/lib.sh"

command -v socat >/dev/null 2>&1 || skip "socat (the UDP echo peer)"

# only_class TARGET CLASS: CLASS counted, every other class and cycles_ok zero.
only_class() {
	tjs "$1" "[.cycles_ok, (.errors | to_entries[] | select(.key != \"$2\") | .value)] | add" >"$T/other"
	[ "$(tjs "$1" ".errors.$2 > 0")" = true ] && [ "$(cat "$T/other")" = 0 ]
}

# A UDP port nothing listens on: one echod bound and stopped.
start_echod gone echo -u -l 127.0.0.1:0
stop_pid "$gone_PID"
start_echod silent silent -u -l 127.0.0.1:0
start_echod corrupt corrupt -u -l 127.0.0.1:0
start_echod dup dup -u -l 127.0.0.1:0
start_echod lossy lossy -u -r 30 -l 127.0.0.1:0
start_echod delay delay -u -D 300000 -l 127.0.0.1:0
start_echod six echo -u -l '[::1]:0'

# socat: a port picked from this shell's pid, below the ephemeral range (32768 up,
# where any outgoing socket may hold a port), moved on while another owns it. The
# loop's counter is its own: wait_for uses i.
port=$((20000 + $$ % 10000))
socat_up() { ss -Huln "sport = :$port" | grep -q .; }
# Up, or the socat of pid $1 has exited (its bind failed).
socat_settled() { socat_up || ! kill -0 "$1" 2>/dev/null; }
try=0
while [ $try -lt 20 ]; do
	if ! socat_up; then
		# -T 1: a forked child waits for its peer's next datagram; idle for 1 s it
		# ends, so none outlives the test (killing the parent leaves them).
		socat -T 1 UDP4-RECVFROM:$port,bind=127.0.0.1,fork PIPE >/dev/null 2>"$T/socat.log" &
		spid=$!
		PIDS="$PIDS $spid"
		wait_for 5 socat_settled $spid
		kill -0 $spid 2>/dev/null && socat_up && break
	fi
	port=$((port + 1))
	try=$((try + 1))
done
socat_up || skip "no UDP port for socat ($(cat "$T/socat.log"))"


target() { # NAME ADDRESS [EXTRA...]; C, I and F override connections, interval, fall
	printf '[target "%s"]\naddress = %s\nprotocol = udp\nconnections = %s\n' "$1" "$2" "${C:-2}"
	printf 'interval = %s\ntimeout = 150ms\nfall = %s\n' "${I:-100ms}" "${F:-2}"
	shift 2
	for k in "$@"; do printf '%s\n' "$k"; done
}
write_conf() { # [EXTRA KEY OF TARGET six]
	conf_header
	printf 'metrics_listen = 127.0.0.1:0\n'
	# One session: socat's forked children share its socket, and one still alive
	# takes (and drops) datagrams of other peers: about half of them with 8 flows
	# every 20 ms. N flows run against echod and inetd below.
	C=1 target socat "127.0.0.1:$port"
	target six "[::1]:$six_PORT" "message = a\\x00b" "message = $(head -c 1400 /dev/zero | tr '\0' 'x')" "$@"
	target refused "127.0.0.1:$gone_PORT"
	target silent "127.0.0.1:$silent_PORT"
	target corrupt "127.0.0.1:$corrupt_PORT"
	target dup "127.0.0.1:$dup_PORT"
	C=4 I=20ms F=1000 target lossy "127.0.0.1:$lossy_PORT"
	target late "127.0.0.1:$delay_PORT" "mode = persistent" "udp_tag = yes"
	target latenotag "127.0.0.1:$delay_PORT"
}
write_conf >"$T/c.conf"

check "mconnd -t accepts protocol = udp" sh -c "'$MCONND' -t -c '$T/c.conf' | grep -q 'configuration OK'"
start_mconnd "$T/c.conf"

for t in socat six; do
	check "$t: up, every cycle ok" \
		wait_for 10 tjs_true "$t" '.state == "up" and .cycles_ok >= 10 and .cycles_failed == 0'
done
check "protocol shown in JSON" tjs_true socat '.protocol == "udp"'
check "persistent UDP holds its sockets" tjs_true late '.sessions_active == 2'

check "refused: counted as refused and nothing else" wait_for 10 only_class refused refused
check "refused: ICMP detail in last_error_detail" \
	wait_for 5 sh -c "'$MCONNCTL' -j status | jq -r '.targets[] | select(.name == \"refused\") | .last_error_detail' | grep -q 'port unreachable'"
check "silent: counted as loss and nothing else" wait_for 10 only_class silent loss
check "silent: down" wait_for 10 tjs_true silent '.state == "down"'
check "corrupt: counted as mismatch and nothing else" wait_for 10 only_class corrupt mismatch
check "dup: duplicates counted, every cycle ok" \
	wait_for 10 tjs_true dup '.udp.duplicates >= 10 and .cycles_ok >= 10 and .cycles_failed == 0'
check "lossy: some loss, some ok, nothing else" \
	wait_for 15 tjs_true lossy '.errors.loss >= 20 and .cycles_ok >= 20 and .cycles_failed == .errors.loss'
check "lossy: loss ratio near the 30 % of datagrams echod drops" \
	tjs_true lossy '.udp.loss_ratio > 0.1 and .udp.loss_ratio < 0.5'
check "late: loss counted, late echoes counted, none taken for a cycle" \
	wait_for 10 tjs_true late '.udp.late >= 3 and .cycles_ok == 0 and .errors.loss >= 3 and .cycles_failed == .errors.loss'
check "latenotag: loss and nothing else (a fresh socket per cycle)" wait_for 10 only_class latenotag loss

"$MCONNCTL" status >"$T/status.txt"
check "text status shows the UDP line" grep -q '^  udp: .* datagrams sent, loss' "$T/status.txt"
"$MCONNCTL" metrics >"$T/metrics.txt"
check "metrics: protocol in mconn_target_info" grep -q '^mconn_target_info{target="socat",[^}]*protocol="udp"' "$T/metrics.txt"
check "metrics: loss ratio series" grep -q '^mconn_udp_loss_ratio{target="lossy"[^}]*} 0\.[1-4]' "$T/metrics.txt"
check "metrics: loss is a result" grep -q '^mconn_cycles_total{target="silent"[^}]*result="loss"} [1-9]' "$T/metrics.txt"

# A reload that turns tags on restarts that target's sessions, and they tag. (Not on
# socat's target: its forked children share one socket and may answer one another's
# peers, which tags would rightly count as strays.)
write_conf "udp_tag = yes" >"$T/c.conf"
"$MCONNCTL" reload >"$T/reload.out" 2>&1
check "reload: udp_tag restarts six" tjs_true six '.restart_changes == ["udp_tag"] and .udp.tag'
before=$(tjs six .cycles_ok)
check "reload: six cycles on, tagged, nothing failed" \
	wait_for 10 tjs_true six ".cycles_ok >= $before + 10 and .cycles_failed == 0" ||
	tjs six '[.errors, .last_error_detail, .udp]'
stop_mconnd

# inetd's built-in UDP echo (openbsd-inetd) ignores datagrams from 127/8 (a guard
# against loops through spoofed loopback sources), and internal services listen on
# their official port (7): so it runs with a second mconnd in a network namespace of
# this test's own, on 192.0.2.1 (TEST-NET-1) added to that namespace's loopback.
why=$(netns_missing)
if ! command -v inetd >/dev/null 2>&1; then
	skip_part "inetd (openbsd-inetd) is not installed"
elif [ -n "$why" ]; then
	skip_part "inetd: $why"
else
	printf '192.0.2.1:echo dgram udp wait root internal\n' >"$T/inetd.conf"
	{
		printf '[daemon]\ncontrol_socket = %s\n' "$T/ns.sock"
		target inetd 192.0.2.1:7 "message = $(head -c 1000 /dev/zero | tr '\0' 'y')" \
			"mode = persistent" "udp_tag = yes"
	} >"$T/ns.conf"
	cat >"$T/ns.sh" <<EOF
ip link set lo up && ip addr add 192.0.2.1/32 dev lo || exit 1
inetd -d "$T/inetd.conf" >"$T/inetd.log" 2>&1 &
echo \$! >"$T/inetd.pid"
i=0
while [ \$i -lt 100 ] && ! ss -Huln 'src 192.0.2.1:7' | grep -q .; do sleep 0.05; i=\$((i + 1)); done
exec $WRAP "$MCONND" -c "$T/ns.conf"
EOF
	unshare -n sh "$T/ns.sh" >/dev/null 2>"$T/ns.log" &
	NS_PID=$!
	PIDS="$PIDS $NS_PID"
	nsjs() { MCONND_SOCKET="$T/ns.sock" "$MCONNCTL" -j status | jq -r ".targets[0] | $1"; }
	ns_up() { [ "$(nsjs '.state == "up" and .cycles_ok >= 20 and .cycles_failed == 0')" = true ]; }
	check "inetd: up, every cycle ok (persistent, tagged)" wait_for 15 ns_up ||
		cat "$T/ns.log" "$T/inetd.log"
	check "inetd: both sockets held" test "$(nsjs '.sessions_active')" = 2
	kill -TERM "$NS_PID"
	wait "$NS_PID"
	rc=$?
	check "inetd: mconnd exits 0 (got $rc)" test "$rc" = 0
	kill "$(cat "$T/inetd.pid")" 2>/dev/null
fi

# Keys that make no sense for a protocol: FILE:LINE, key, why.
{
	conf_header
	printf '[target "u"]\naddress = 127.0.0.1:7\nprotocol = udp\nclose = rst\n'
	printf '[target "t"]\naddress = 127.0.0.1:7\nudp_tag = yes\n'
	printf '[target "v"]\naddress = 127.0.0.1:7\nprotocol = udp\nconnect_timeout = 1s\n'
	printf '[target "w"]\naddress = 127.0.0.1:7\nprotocol = sctp\n'
} >"$T/bad.conf"
"$MCONND" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1
check "mconnd -t refuses the file" test $? != 0
check "close under udp: FILE:LINE" grep -q "bad.conf:7: close: .*udp" "$T/bad.out"
check "udp_tag under tcp: FILE:LINE" grep -q "bad.conf:10: udp_tag: .*tcp" "$T/bad.out"
check "connect_timeout under udp: FILE:LINE" grep -q "bad.conf:14: connect_timeout: .*udp" "$T/bad.out"
check "protocol lists what it accepts" grep -q "bad.conf:17: protocol: invalid value 'sctp'; expected tcp, udp or tls" "$T/bad.out" ||
	cat "$T/bad.out"
finish
