#!/bin/sh
# The sd_notify protocol without systemd: the daemon's datagrams are captured on a
# NOTIFY_SOCKET of our own (notifyrecv prints each with its CLOCK_MONOTONIC time)
# and checked for order, content and the watchdog's period.
. "$(dirname "$0")/../integration/lib.sh"

NOTIFYRECV="$B/notifyrecv"
LOG="$T/notify.log"
# The watchdog interval systemd would pass: pings are due every half of it.
WD_USEC=400000

"$NOTIFYRECV" -t 120 "$T/notify.sock" >"$LOG" 2>"$T/notifyrecv.err" &
RECV_PID=$!
PIDS="$PIDS $RECV_PID"
wait_for 5 test -S "$T/notify.sock" || { fail "notifyrecv did not start"; exit 1; }

start_echod e echo
{
	conf_header
	printf '[target "e"]\naddress = 127.0.0.1:%s\nconnections = 4\ninterval = 100ms\nrise = 1\n' "$e_PORT"
} >"$T/c.conf"

# Datagrams received so far whose fields match an extended regex.
count() { grep -cE "$1" "$LOG"; }
has() { grep -qE "$1" "$LOG"; }
# pings_at_least N: N watchdog pings received (a command, so wait_for re-runs it).
pings_at_least() { [ "$(count ' WATCHDOG=1$')" -ge "$1" ]; }

NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=$WD_USEC start_mconnd "$T/c.conf"
check "READY=1 arrives once the control socket answers" wait_for 5 has ' READY=1$'
check "the first datagram is READY=1" test "$(head -n 1 "$LOG" | cut -d' ' -f2-)" = READY=1
check "STATUS= reports the target up, its sessions and a cycle rate" wait_for 10 has \
	' STATUS=1 target: 1 up, 0 down, 0 unknown; 4 sessions; [1-9][0-9]*\.[0-9] cycles/s'
check "at least 12 watchdog pings" wait_for 10 pings_at_least 12

# A stalled loop must not ping: stop the process for a second (the stall itself, not
# a synchronisation), and find the gap it leaves among the pings.
before=$(count ' WATCHDOG=1$')
kill -STOP "$MCONND_PID"
sleep 1
kill -CONT "$MCONND_PID"
check "pings resume once it runs again" wait_for 5 pings_at_least $((before + 6))

# Gaps between consecutive pings, in microseconds; the largest is the stall.
grep ' WATCHDOG=1$' "$LOG" | awk 'NR > 1 { print $1 - prev } { prev = $1 }' | sort -n >"$T/gaps"
stall=$(tail -n 1 "$T/gaps")
sed '$d' "$T/gaps" | awk -v half=$((WD_USEC / 2)) -v full=$WD_USEC '
	{ n++; if (n == 1) min = $1; max = $1; sum += $1
	  if ($1 < half * 0.9) early++; if ($1 >= full) late++ }
	END { printf "%d gaps, min %d us, mean %d us, max %d us, early %d, late %d\n",
		n, min, sum / n, max, early, late }' >"$T/wd.stats"
say "watchdog pings (WATCHDOG_USEC=$WD_USEC): $(cat "$T/wd.stats"); stall gap $stall us"
check "no ping while the process was stopped (gap of $stall us)" test "$stall" -ge 900000
check "no ping comes before half of WATCHDOG_USEC (10% slack for the clock)" \
	grep -q ' early 0,' "$T/wd.stats"
check "every ping comes before WATCHDOG_USEC has passed" grep -q ' late 0$' "$T/wd.stats"
check "pings average within 190-300 ms" awk '{ m = $7 + 0; exit !(m >= 190000 && m <= 300000) }' "$T/wd.stats"

stop_mconnd
last_is() { [ "$(tail -n 1 "$LOG" | cut -d' ' -f2-)" = "$1" ]; }
check "STOPPING=1 is the last datagram" wait_for 5 last_is STOPPING=1
check "READY=1 came exactly once" test "$(count ' READY=1$')" = 1
check "nothing unexpected was sent" test "$(grep -cvE ' (READY=1|STOPPING=1|WATCHDOG=1|STATUS=.*)$' "$LOG")" = 0
finish
