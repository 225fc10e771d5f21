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

start_echod e echo -l 127.0.0.1:0
{
	conf_header
	printf '[target "e"]\naddress = 127.0.0.1:%s\nconnections = 4\ninterval = 100ms\nrise = 1\n' "$e_PORT"
} >"$T/c.conf"

# Datagrams received so far whose fields match an extended regex.
count() { grep -cE "$1" "$LOG"; }
has() { grep -qE "$1" "$LOG"; }
quiet() { "$@" >/dev/null; }
# pings_at_least N: N watchdog pings received (a command, so wait_for re-runs it).
pings_at_least() { [ "$(count ' WATCHDOG=1$')" -ge "$1" ]; }

NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=$WD_USEC start_mconnd "$T/c.conf"
check "READY=1 arrives once the control socket answers" wait_for 5 has ' READY=1$'
check "the first datagram is READY=1" test "$(head -n 1 "$LOG" | cut -d' ' -f2-)" = READY=1
check "STATUS= reports the target up, its sessions and a cycle rate" wait_for 10 has \
	' STATUS=1 target: 1 up, 0 degraded, 0 down, 0 unknown; 4 sessions; [1-9][0-9]*\.[0-9] cycles/s'
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
	  if ($1 < half / 2) early++; if ($1 >= full) late++ }
	END { printf "%d gaps, min %d us, mean %d us, max %d us, early %d, late %d\n",
		n, min, sum / n, max, early, late }' >"$T/wd.stats"
say "watchdog pings (WATCHDOG_USEC=$WD_USEC): $(cat "$T/wd.stats"); stall gap $stall us"
check "no ping while the process was stopped (gap of $stall us)" test "$stall" -ge 900000
# Receipt times carry the scheduling delays of a busy machine: a ping read late
# makes the next gap short, so the bound below is loose and the mean is the test.
check "no ping comes sooner than a quarter of WATCHDOG_USEC after the previous one" \
	grep -q ' early 0,' "$T/wd.stats"
check "every ping comes before WATCHDOG_USEC has passed" grep -q ' late 0$' "$T/wd.stats"
check "pings come every half of WATCHDOG_USEC: the mean gap is within 190-300 ms" awk '{ m = $7 + 0; exit !(m >= 190000 && m <= 300000) }' "$T/wd.stats"

# Reloads, by mconnctl and by SIGHUP, good and bad: each is RELOADING=1 with
# MONOTONIC_USEC (CLOCK_MONOTONIC, the clock notifyrecv stamps with), then READY=1.
reloads_at_least() { [ "$(count ' RELOADING=1 MONOTONIC_USEC=[0-9]+$')" -ge "$1" ]; }
check "mconnctl reload succeeds" quiet "$MCONNCTL" reload
check "RELOADING=1 with MONOTONIC_USEC= is sent" reloads_at_least 1
check "MONOTONIC_USEC is the time of the reload (within a second of receipt)" awk '
	/ RELOADING=1 / { split($3, a, "="); d = $1 - a[2]; exit !(d >= 0 && d < 1000000) }' "$LOG"
check "STATUS= tells the result of the last reload" wait_for 5 has \
	' STATUS=.*; last reload [0-9:]{8}: reloaded: 0 added, 0 removed, 0 changed, 1 unchanged$'
kill -HUP "$MCONND_PID"
check "SIGHUP reloads the same way" wait_for 5 reloads_at_least 2
printf 'bogus = 1\n' >>"$T/c.conf"
"$MCONNCTL" reload >"$T/reload.out" 2>&1
check "a bad file: mconnctl reload exits 1" test $? = 1
check "and RELOADING=1 is still followed by READY=1" wait_for 5 reloads_at_least 3
check "STATUS= tells the reload failed, and why" wait_for 5 has \
	" STATUS=1 target: 1 up, .*; last reload [0-9:]{8}: failed: $T/c.conf:[0-9]+: bogus"

# The status line stays current: the server goes away, the target goes down.
stop_pid "$e_PID"
check "STATUS= follows the target down" wait_for 10 has \
	' STATUS=1 target: 0 up, 0 degraded, 1 down, 0 unknown; 4 sessions; '

stop_mconnd
last_is() { [ "$(tail -n 1 "$LOG" | cut -d' ' -f2-)" = "$1" ]; }
check "STOPPING=1 is the last datagram" wait_for 5 last_is STOPPING=1
# Everything but the pings and status lines, in order.
grep -vE '^[0-9]+ (WATCHDOG=1|STATUS=.*)$' "$LOG" | cut -d' ' -f2- |
	sed 's/MONOTONIC_USEC=[0-9]*$/MONOTONIC_USEC=N/' >"$T/seq"
printf 'READY=1\n' >"$T/seq.want"
for i in 1 2 3; do printf 'RELOADING=1 MONOTONIC_USEC=N\nREADY=1\n' >>"$T/seq.want"; done
printf 'STOPPING=1\n' >>"$T/seq.want"
check "READY=1, then RELOADING=1 and READY=1 per reload, then STOPPING=1, and nothing else" \
	cmp -s "$T/seq" "$T/seq.want"
cmp -s "$T/seq" "$T/seq.want" || diff "$T/seq.want" "$T/seq" | sed 's/^/    /'
finish
