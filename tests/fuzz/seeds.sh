#!/bin/sh
# Write the seed corpora of the fuzz harnesses into tests/fuzz/corpus/HARNESS/ from the
# project's own material: the default configuration, the integration tests'
# configurations, the values the man page documents and the control requests
# mconnctl sends. Run again after those change; the files are committed. Files named
# regress-* are reproducers of crashes once found: this script never touches them.
set -eu
cd "$(dirname "$0")"
TOP=../..
C=corpus
mkdir -p $C/config $C/ctl $C/parse $C/udp $C/cert
find $C -type f -name 'seed-*' -delete

n=0
# seed HARNESS TEXT: one seed file, numbered in the order written.
seed() {
	n=$((n + 1))
	printf '%s' "$2" >"$C/$1/seed-$(printf %03d $n)"
}

# config: the default file, then shapes the integration tests and man page use.
cp $TOP/conf/mconnd.conf $C/config/seed-default.conf
seed config '[daemon]
control_socket = /tmp/x/mconnd.sock
log_level = debug
[target "refused"]
address = 127.0.0.1:9
connections = 2
interval = 100ms
connect_timeout = 300ms
timeout = 500ms
fall = 2
mode = persistent
'
seed config '[target "v6"]
address = [::1]:7
source = ::1
close = rst
message = GET / HTTP/1.0\r\n\r\n
message = \x00\xff\t\\
backoff_max = 0
interval = 0
rise = 1000
'
seed config '[daemon]
control_idle_timeout = 86400s
control_io_timeout = 100ms
log_level = 7
[target "a"]
address = localhost:80
[target "a"]
address = 127.0.0.1:0
connect_timeout = 10s
timeout = 1s
source = 10.0.0.1
unknown = 1
[bad section
; comment
# comment
'
seed config '[daemon]
include = /nonexistent/conf.d/*.conf
admin_group = root
control_group = 0
control_mode = 0660
[target "x"]
address = 127.0.0.1:9
'
seed config '[target "many"]
address = 127.0.0.1:1
connections = 100000
[target "more"]
address = 127.0.0.1:2
connections = 1
'
seed config '[target "labelled"]
address = [fe80::1%lo]:20001
timeout = 1s
labels = team=web, tier = e"d\\ge ,x_1=a b
[target "bad labels"]
address = [fe80::1%nosuchif]:7
labels = __x=1,,address=2,team=
'

# Named, not numbered: the numbered seeds after it keep their names.
printf '%s' '[target "u"]
address = 127.0.0.1:7
protocol = udp
udp_tag = yes
mode = persistent
timeout = 150ms
[target "bad"]
address = 127.0.0.1:7
protocol = udp
close = rst
connect_timeout = 1s
[target "t"]
address = 127.0.0.1:7
protocol = sctp
udp_tag = maybe
' >$C/config/seed-udp.conf

printf '%s' '[target "s"]
address = localhost:443
protocol = tls
tls_server_name = echo.example
tls_verify = yes
tls_min_version = 1.3
tls_resume = yes
mode = persistent
close = rst
[target "ip"]
address = 127.0.0.1:4433
protocol = tls
tls_server_name = none
tls_verify = no
tls_ca = /nonexistent/ca.pem
[target "half"]
address = [::1]:4433
protocol = tls
tls_cert = client.pem
tls_min_version = 1.1
timestamps = loop
[target "u"]
address = 127.0.0.1:7
protocol = udp
tls_resume = yes
echo = no
[target "c"]
address = 127.0.0.1:7
echo = no
[target "cm"]
address = 127.0.0.1:7
protocol = tls
echo = no
message = x
mode = persistent
' >$C/config/seed-tls.conf

# ctl: every request mconnctl can send, then malformed ones.
for r in 'status' 'status -j' 'status web' '-j status db.1' 'sessions web' \
	'sessions -j edge:2' 'help' 'version' 'version -j' 'status nosuch' \
	'sessions' 'status a b' 'status -x' '-j' '' '   ' 'bogus' "$(printf 'status\tweb\r')" \
	'reload' 'set web interval 2s' 'set web connections 5' 'set db.1 mode cycle' \
	'set web nosuchkey 1' 'pause web' 'resume web' 'pause nosuch' \
	"$(printf 'status\nstatus -j\nsessions web\nhelp\n')" \
	"$(printf 'set web rise 3\nstatus -j web\nreload\nstatus web\n')"; do
	seed ctl "$r"
done

# parse: durations, numbers, escapes, addresses and names as the man page writes them.
for v in 0 1 250us 1500ms 1.5s 2s 5m 1h 8784h 0.000000001s 99999999999999999999 \
	18446744073709551615 007 '1.s' '.5s' 'Message 1 from client.' '\x41\x42\n\r\t\\' \
	'\x4' '\q' '\x20lead' 127.0.0.1:80 '[::1]:7' '[::ffff:127.0.0.1]:1' \
	'224.0.0.1:5' '0.0.0.0:1' '127.1:80' '0x7f.1:80' 'localhost:80' '::1' '[fe80::1]' \
	10.0.0.1 'web-1.example_x:2' "$(printf 'a%.0s' $(seq 1 70))"; do
	seed parse "$v"
done
# udp: flags (1 tag, 2 cycle ended), cycle number, message awaited, echoes of the
# cycle before, message count - 1, the messages (a length byte each), the datagram.
# useed NAME HEX: one binary seed, from hex pairs.
useed() {
	hex=$2
	: >"$C/udp/seed-$1"
	while [ -n "$hex" ]; do
		rest=${hex#??}
		# shellcheck disable=SC2059
		printf "\\$(printf %o "0x${hex%"$rest"}")" >>"$C/udp/seed-$1"
		hex=$rest
	done
}
msg1=4d6573736167652031  # "Message 1"
msg2=4d6573736167652032  # "Message 2"
useed echo 00000000070000010909${msg1}09${msg2}${msg1}
useed dup 00000000070100010909${msg1}09${msg2}${msg1}
useed mismatch 000000000700000109${msg1}09${msg2}4d65737361676520
useed tagged 010000000701000109${msg1}09${msg2}6d63000100000007${msg2}
useed late 030000000701000109${msg1}09${msg2}6d63000100000007${msg2}
useed older 010000000700020109${msg1}09${msg2}6d63000000000002${msg1}
useed short 01000000070100010909${msg1}09${msg2}6d63
# cert: DER certificates (one with a UTCTime notAfter, one GeneralizedTime after
# 2049), then ASN1 times alone: a type byte (even UTCTime, odd GeneralizedTime) and
# the text.
mkdir -p $C/cert
certseed() {
	k=$(mktemp)
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$k" \
		-subj "/CN=$1" -days "$2" -outform DER -out "$C/cert/seed-$1.der" 2>/dev/null
	rm -f "$k"
}
certseed short 30
certseed long 10000
printf '\000491231235959Z' >$C/cert/seed-utctime
printf '\00120500101000000Z' >$C/cert/seed-generalized
printf '\00120240229120000.5+0130' >$C/cert/seed-fraction
echo "seeds: $(find $C -type f | wc -l) files under tests/fuzz/$C"
