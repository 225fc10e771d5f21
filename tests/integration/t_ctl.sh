#!/bin/sh
# The control socket's limits: an over-long request line, more clients than allowed,
# a half-closed request; each limit answered with ERR, and the daemon carries on.
. "$(dirname "$0")/lib.sh"

start_echod echo echo -l 127.0.0.1:0
{
	conf_header
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 50ms\n' "$echo_PORT"
} >"$T/c.conf"
start_mconnd "$T/c.conf"

head -c 5000 /dev/zero | tr '\0' 'a' >"$T/long"
echo >>"$T/long"
socat -t 5 - UNIX-CONNECT:"$SOCK" <"$T/long" >"$T/reply"
check "a 5000-byte line gets ERR line too long" grep -q '^ERR line too long' "$T/reply"
check "a request without a newline is answered at EOF" \
	sh -c "printf version | socat -t 5 - UNIX-CONNECT:'$SOCK' | grep -q '^mconnd 0.1.0'"

# Hold 64 connections open, each after one answered request (so we know it holds a
# slot, without asking the daemon): the next client is told it is busy.
holders=""
i=0
while [ $i -lt 64 ]; do
	(echo version; exec sleep 30) | socat - UNIX-CONNECT:"$SOCK" >"$T/h.$i" &
	holders="$holders $!"
	i=$((i + 1))
done
PIDS="$PIDS $holders"
served() { [ "$(cat "$T"/h.* | grep -c '^mconnd ')" = 64 ]; }
check "64 clients served and holding" wait_for 20 served
busy() { "$MCONNCTL" version 2>&1 | grep -q 'busy'; }
check "client 65 gets ERR busy" wait_for 10 busy
"$MCONNCTL" version >/dev/null 2>&1
check "mconnctl exits 1 on ERR busy" test $? = 1
for p in $holders; do kill "$p" 2>/dev/null; done
pkill -f "socat - UNIX-CONNECT:$SOCK" 2>/dev/null
pkill -P $$ -x sleep 2>/dev/null
check "serves again once clients leave" wait_for 10 "$MCONNCTL" version
check "busy rejections are counted" test "$(js '.control.rejected_busy > 0')" = true
check "sessions kept cycling" tjs_true web '.cycles_failed == 0 and .state == "up"'
stop_mconnd INT
finish
