#!/bin/sh
# Packets per cycle: a check cycle (connect, one message and its echo, close) sends
# no more TCP segments than it needs. The handshake's last ACK rides on the request
# and the echo is not acknowledged on its own before the close (TCP_QUICKACK off
# before connect, as HAProxy's checks do). Counted in a network namespace of the
# test's own, where nothing else sends: an nft counter of what the checker sends to
# the server over 1,000 cycles, per cycle (and, for the record, the namespace's Tcp
# OutSegs, both ends).
. "$(dirname "$0")/lib.sh"

missing=$(netns_missing)
[ -z "$missing" ] || skip "$missing"
command -v nft >/dev/null && unshare -n nft add table inet probe 2>/dev/null ||
	skip "nft (nftables) in a network namespace of our own"

# outsegs PID: Tcp OutSegs of the network namespace PID lives in.
outsegs() {
	awk '/^Tcp:/ { if (!n) { for (i = 1; i <= NF; i++) if ($i == "OutSegs") c = i; n = 1 }
		else print $c }' "/proc/$1/net/snmp"
}

# client_segs PID: segments the checker sent to port 7 (an nft counter in that namespace).
client_segs() {
	nsenter -t "$1" -n nft list chain inet seg out | awk '/packets/ { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }'
}

cycles() {
	tjs seg '.cycles_ok + .cycles_failed'
}

at_least() {
	[ "$(cycles)" -ge "$1" ]
}

# segments CLOSE MAX: 10 sessions at 10 ms closing with CLOSE; the checker sends at
# most MAX segments per cycle on average over 1,000 cycles after 200 of warm-up.
segments() {
	{
		conf_header
		printf '[target "seg"]\naddress = 127.0.0.1:7\nconnections = 10\ninterval = 10ms\n'
		printf 'close = %s\nmessage = Message 1 from client.\n' "$1"
	} >"$T/seg.conf"
	start_in_netns "$T/seg.conf" "nft add table inet seg && nft add chain inet seg out \
		'{ type filter hook output priority 0; }' && \
		nft add rule inet seg out tcp dport 7 counter || exit 1" "-F -l 127.0.0.1:7"
	if ! check "$1: daemon answers" wait_for 10 "$MCONNCTL" version; then
		sed -n '1,20p' "$T/mconnd.log"
		return
	fi
	check "$1: 200 cycles of warm-up" wait_for 20 at_least 200
	c0=$(cycles)
	o0=$(outsegs "$MCONND_PID")
	k0=$(client_segs "$MCONND_PID")
	check "$1: 1,000 cycles more" wait_for 30 at_least $((c0 + 1000))
	o1=$(outsegs "$MCONND_PID")
	k1=$(client_segs "$MCONND_PID")
	c1=$(cycles)
	per=$(awk -v s=$((o1 - o0)) -v c=$((c1 - c0)) 'BEGIN { printf "%.2f", s / c }')
	kper=$(awk -v s=$((k1 - k0)) -v c=$((c1 - c0)) 'BEGIN { printf "%.2f", s / c }')
	say "$1: $per segments per cycle from both ends"
	check "$1: no failed cycle" test "$(tjs seg .cycles_failed)" = 0
	check "$1: the checker sends $kper segments per cycle (at most $2)" \
		awk -v p="$kper" -v m="$2" 'BEGIN { exit !(p <= m) }'
	stop_mconnd
	stop_pid "$(cat "$T/ns.pid")"
}

# Measured here, the checker's segments per cycle: RST close 4.5-4.8 with the bare
# ACKs (SYN, ACK, request, ACK of the echo in most cycles, RST), 2.8-2.9 without;
# FIN close 5.7-5.8 and 3.9.
segments rst 3.5
segments fin 4.5
finish
