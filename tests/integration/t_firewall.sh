#!/bin/sh
# What a local firewall does to a check, as mconnd(8) tells it (issue 14): in a network
# namespace of our own, an nftables output rule per target port. A rule that drops
# the SYN makes the kernel retransmit it until connect_timeout; a reject with the
# default ICMP port unreachable or with a TCP reset is refused, like a closed port; a
# reject with an ICMP admin-prohibited or host-unreachable is unreachable. A target
# without a rule stays up. Needs a network namespace and nft (nftables).
. "$(dirname "$0")/lib.sh"

if [ -z "${MCONN_IN_NETNS:-}" ]; then
	command -v nft >/dev/null 2>&1 || skip "nft (nftables) to add firewall rules"
	NS=""
	if unshare -n true 2>/dev/null; then NS="unshare -n"; elif unshare -rn true 2>/dev/null; then NS="unshare -rn"; fi
	[ -n "$NS" ] || skip "a network namespace (unshare -n as root, or unshare -rn: $(unshare -rn true 2>&1 | head -n 1))"
	rm -rf "$T"
	trap - EXIT
	exec $NS env MCONN_IN_NETNS=1 sh "$0" "$@"
fi
ip link set lo up 2>/dev/null || skip "ip link set lo up in a network namespace of our own (iproute2, CAP_NET_ADMIN)"
nft add table inet mconn_fw 2>"$T/nft.err" || skip "nftables in a network namespace: $(head -n 1 "$T/nft.err")"
nft add chain inet mconn_fw out '{ type filter hook output priority 0; }'

# rule NAME NFT_VERDICT: a fixture server whose port the output chain treats so.
rule() {
	start_echod "$1" echo -l 127.0.0.1:0
	eval "port=\$${1}_PORT"
	[ -z "$2" ] || nft add rule inet mconn_fw out tcp dport "$port" $2
	printf '[target "%s"]\naddress = 127.0.0.1:%s\ninterval = 100ms\nconnect_timeout = 300ms\n' "$1" "$port" >>"$T/c.conf"
	printf 'timeout = 500ms\nfall = 2\nbackoff_max = 200ms\n' >>"$T/c.conf"
}
conf_header >"$T/c.conf"
rule open ""
rule drop "drop"
rule reject "reject"
rule reset "reject with tcp reset"
rule prohib "reject with icmp type admin-prohibited"
rule hostun "reject with icmp type host-unreachable"
start_mconnd "$T/c.conf"

check "no rule: up" wait_for 10 tjs_true open '.state == "up"'
check "drop: the SYN is retransmitted until connect_timeout" wait_for 10 only_class drop connect_timeout
check "reject (ICMP port unreachable): refused, like a closed port" wait_for 10 only_class reject refused
check "reject with tcp reset: refused" wait_for 10 only_class reset refused
check "reject with icmp admin-prohibited: unreachable" wait_for 10 only_class prohib unreachable
check "reject with icmp host-unreachable: unreachable" wait_for 10 only_class hostun unreachable
check "the rules that fail every connection make the target down" \
	wait_for 10 sh -c "[ \"\$(\"$MCONNCTL\" -j status | jq '[.targets[] | select(.state == \"down\")] | length')\" = 5 ]"
stop_mconnd
finish
