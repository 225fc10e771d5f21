#!/bin/sh
# Health follows rise and fall: down after `fall` consecutive failures when the echo
# server goes away, up after `rise` successes when it comes back on the same port.
. "$(dirname "$0")/lib.sh"

start_echod echo echo -l 127.0.0.1:0
port=$echo_PORT
{
	conf_header
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 1\ninterval = 50ms\n' "$port"
	printf 'rise = 4\nfall = 3\nbackoff_max = 200ms\n'
} >"$T/c.conf"
start_mconnd "$T/c.conf"

check "up after rise successes" wait_for 10 tjs_true web '.state == "up"'
check "health change counted" tjs_true web '.health_changes == 1'
check "up logged" grep -q 'target web is up after 4 successes' "$T/mconnd.log"

stop_pid "$echo_PID"
check "down after the server goes away" wait_for 10 tjs_true web '.state == "down"'
check "exactly fall failures made it down" grep -q 'target web is down after 3 failures: refused' "$T/mconnd.log"
check "refused counted" tjs_true web '.errors.refused >= 3 and .last_error == "refused"'

start_echod echo echo -l "127.0.0.1:$port"
check "up again after the server returns" wait_for 10 tjs_true web '.state == "up" and .health_changes == 3'
check "up again logged with the time it was down" grep -qE 'target web is up after 4 successes \(was down for [0-9.]+(ms|s)\)' "$T/mconnd.log"
stop_mconnd
finish
