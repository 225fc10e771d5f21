#!/bin/sh
# Names resolved off the loop. A DNS server of the test's own (tests/dnsd.py) on port
# 53 of a 127.x address, and a resolv.conf naming it bound over /etc/resolv.conf in a
# mount namespace of this test: the machine's resolver is never asked. With a resolver
# that drops queries, one that answers NXDOMAIN, and one that answers late with a
# different address each time, a reload must keep the loop's pace (an unrelated
# target's cycle rate within 5 %), answer status in under 10 ms, keep the watchdog
# pinging, and end in an error naming the target and the name. A name resolving to the
# address in use is no change; resolve_every follows a moving name and counts failures.

# Into a mount namespace of our own first (the bind mount dies with it).
if [ -z "${MCONN_RESOLVE_NS:-}" ]; then
	missing=""
	command -v unshare >/dev/null 2>&1 || missing="unshare (util-linux)"
	command -v python3 >/dev/null 2>&1 || missing="${missing:+$missing, }python3"
	# Root or CAP_SYS_ADMIN, and a / that is a mount point (not in a chroot: "cannot
	# change root filesystem propagation"); the reason is unshare's own.
	if [ -z "$missing" ] && ! err=$(unshare -m true 2>&1); then
		missing="a private mount namespace ($err)"
	fi
	if [ -n "$missing" ]; then
		echo "SKIP: t_resolve.sh: $missing"
		exit 77
	fi
	MCONN_RESOLVE_NS=1 exec unshare -m sh "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

NOTIFYRECV="$B/notifyrecv"
CTLPROBE="$B/ctlprobe"
WD_USEC=400000
WINDOW_MS=3000
# A 127.x address of this run's own for the DNS server (resolv.conf has no port).
DNS_IP=127.53.$(($$ / 250 % 250 + 1)).$(($$ % 250 + 1))
ZONES="$T/zones"

mount --make-rprivate / 2>/dev/null
printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$DNS_IP" >"$T/resolv.conf"
if ! mount --bind "$T/resolv.conf" /etc/resolv.conf; then
	echo "SKIP: t_resolve.sh: cannot bind a resolv.conf over /etc/resolv.conf"
	exit 77
fi
: >"$ZONES"
python3 "$TOP/tests/dnsd.py" -l "$DNS_IP:53" -z "$ZONES" -p "$T/dns.port" -q "$T/dns.log" \
	2>"$T/dnsd.err" &
PIDS="$PIDS $!"
if ! wait_for 5 test -s "$T/dns.port"; then
	echo "SKIP: t_resolve.sh: cannot listen on $DNS_IP:53: $(tail -n 1 "$T/dnsd.err")"
	exit 77
fi

start_echod s echo -l 127.0.0.1:0
start_echod n echo -l 127.0.0.1:0
# The same port on 127.0.0.2, for a name whose address moves.
start_echod n2 echo -l "127.0.0.2:$n_PORT"

zone() { printf '%s\n' "$@" >"$ZONES"; }
zone "one.mconn.test answer 127.0.0.1" "dead.mconn.test drop" "nx.mconn.test nxdomain" \
	"slow.mconn.test delay 300 127.0.0.1,127.0.0.2" "dead2.mconn.test drop"
check "the test's DNS server answers through the bound resolv.conf" \
	wait_for 5 sh -c 'getent ahostsv4 one.mconn.test | grep -q 127.0.0.1'

# write_conf NAMED_ADDRESS [EXTRA_DAEMON_LINE [EXTRA_TARGET_LINES]]
write_conf() {
	{
		conf_header
		[ -n "${2:-}" ] && printf '%s\n' "$2"
		printf '[target "steady"]\naddress = 127.0.0.1:%s\nconnections = 10\ninterval = 20ms\nrise = 1\n' "$s_PORT"
		printf '[target "named"]\naddress = %s\nconnections = 2\ninterval = 100ms\nrise = 1\n' "$1"
		[ -n "${3:-}" ] && printf '%s\n' "$3"
		:
	} >"$T/r.conf"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
cycles() { tjs steady '.cycles_ok + .cycles_failed'; }
# rate_over MS: the steady target's cycles per second over a window of MS.
rate_over() {
	c0=$(cycles)
	t0=$(now_ms)
	sleep "$(echo "$1" | awk '{ printf "%.3f", $1 / 1000 }')"
	c1=$(cycles)
	t1=$(now_ms)
	echo $(((c1 - c0) * 1000 / (t1 - t0)))
}
# within_pct A B PCT: A is not more than PCT percent below B. The cycles are timer
# driven, so a loop held up can only lower the rate; a rate above the baseline is the
# baseline's window losing CPU to the rest of a loaded machine, not a fault.
within_pct() { awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { exit !(b > 0 && (b - a) * 100 <= b * p) }'; }

# check_timing DESCRIPTION COMMAND...: a check of time or rate; under valgrind the
# daemon runs tens of times slower, so these are shown but not judged there.
check_timing() {
	if [ -n "${VALGRIND:-}" ]; then
		say "not judged under valgrind: $1"
		return
	fi
	check "$@"
}

# reload_watched NAME: `mconnctl reload` while status is asked every 50 ms on fresh
# connections; sets RC, MS (the reload's time, to the 50 ms probe period), RATE
# (steady's cycles/s over the reload, at least WINDOW_MS),
# SMAX (the slowest status, ms) and leaves the reply in $T/NAME.out.
reload_watched() {
	rm -f "$T/$1.rc" "$T/$1.probe"
	MS=""
	# The baseline right before, over the same window: the machine's load drifts.
	BASE=$(rate_over "$WINDOW_MS")
	c0=$(cycles)
	t0=$(now_ms)
	("$MCONNCTL" reload >"$T/$1.out" 2>&1; echo $? >"$T/$1.rc") &
	rpid=$!
	# Probe until the reload is over, and for at least WINDOW_MS: a short window
	# measures the sampling, not the rate.
	while [ ! -s "$T/$1.rc" ] || [ $(($(now_ms) - t0)) -lt "$WINDOW_MS" ]; do
		"$CTLPROBE" -s "$SOCK" latency 1 5000 >>"$T/$1.probe" 2>&1
		[ -s "$T/$1.rc" ] && [ -z "${MS:-}" ] && MS=$(($(now_ms) - t0))
		sleep 0.05
	done
	wait "$rpid"
	t1=$(now_ms)
	c1=$(cycles)
	RC=$(cat "$T/$1.rc")
	RATE=$(((c1 - c0) * 1000 / (t1 - t0)))
	awk '/max/ { print $(NF - 1) + 0 }' "$T/$1.probe" | sort -n >"$T/$1.lat"
	NPROBE=$(wc -l <"$T/$1.lat")
	SMAX=$(tail -n 1 "$T/$1.lat")
	SP50=$(sed -n "$(((NPROBE + 1) / 2))p" "$T/$1.lat")
	SP99=$(sed -n "$(((NPROBE * 99 + 99) / 100))p" "$T/$1.lat")
	say "$1: reload exit $RC after $MS ms; steady $RATE cycles/s over $((t1 - t0)) ms (baseline $BASE); status p50 $SP50, p99 $SP99, max $SMAX ms over $NPROBE probes"
	echo "| $1 | $BASE | $RATE | $SP50 / $SP99 / $SMAX | $MS ms, exit $RC |" >>"$T/table"
}

# status_fast NAME: the status probes of a reload were answered in under 10 ms: the
# median, and all but 5 % of them (a loaded machine deschedules the probe itself at
# times: 1 or 2 of 40), none over 250 ms: a loop held by the look-up would hold a
# probe for all of it, 300 ms to 2 s here.
status_fast() {
	awk '{ n++; if ($1 >= 10) slow++; if ($1 > 250) stuck++; v[n] = $1 }
		END { exit !(n > 0 && v[int((n + 1) / 2)] < 10 && slow * 20 <= n && !stuck) }' "$T/$1.lat"
}

"$NOTIFYRECV" -t 300 "$T/notify.sock" >"$T/notify.log" 2>"$T/notifyrecv.err" &
PIDS="$PIDS $!"
wait_for 5 test -S "$T/notify.sock" || { fail "notifyrecv did not start"; exit 1; }

write_conf "127.0.0.1:$n_PORT"
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=$WD_USEC start_mconnd "$T/r.conf"
check "both targets come up" wait_for 10 sh -c "$MCONNCTL status | grep -q '^named .* up' && $MCONNCTL status | grep -q '^steady .* up'"

# The same address written as a name is no change: no restart, sessions kept.
write_conf "one.mconn.test:$n_PORT"
"$MCONNCTL" reload >"$T/same.out" 2>&1
check "127.0.0.1:$n_PORT -> one.mconn.test:$n_PORT: reload reports no change ($(tail -n 1 "$T/same.out"))" \
	grep -q 'reloaded: 0 added, 0 removed, 0 changed, 2 unchanged' "$T/same.out"
check "and the target keeps its generation (0): its sessions were not restarted" \
	test "$(tjs named .generation)" = 0
check "status shows the address as now written" test "$(tjs named .address)" = "one.mconn.test:$n_PORT"

echo "| trouble | steady cycles/s before | during the reload | status p50 / p99 / max (ms) | reload outcome |" >"$T/table"
echo "|---|---|---|---|---|" >>"$T/table"

# 1. A resolver that never answers (glibc gives up after its 2 s timeout).
write_conf "dead.mconn.test:$n_PORT"
reload_watched drop
check "drop: the reload fails (exit 1)" test "$RC" = 1
check "drop: the error names the target, the key and the name" \
	grep -q "address: \[target \"named\"\]: cannot resolve 'dead.mconn.test'" "$T/drop.out"
check_timing "drop: the steady target's rate stays within 5 % ($RATE vs $BASE)" within_pct "$RATE" "$BASE" 5
check_timing "drop: status answered in under 10 ms ($SP50 / $SP99 / $SMAX ms)" status_fast drop
check "drop: nothing changed" test "$(tjs named .address)" = "one.mconn.test:$n_PORT"

# 2. The same with resolve_timeout shorter than the resolver's own.
write_conf "dead.mconn.test:$n_PORT" "resolve_timeout = 1s"
reload_watched timeout
check_timing "resolve_timeout: the reload fails after about 1 s ($MS ms)" \
	sh -c "[ $RC = 1 ] && [ $MS -ge 900 ] && [ $MS -lt 1900 ]"
check "resolve_timeout: the error says no answer came within resolve_timeout" \
	grep -q "cannot resolve 'dead.mconn.test': no answer within 1s (resolve_timeout)" "$T/timeout.out"
check_timing "resolve_timeout: rate within 5 % ($RATE vs $BASE)" within_pct "$RATE" "$BASE" 5
check_timing "resolve_timeout: status under 10 ms ($SP50 / $SP99 / $SMAX ms)" status_fast timeout

# 3. NXDOMAIN.
write_conf "nx.mconn.test:$n_PORT"
reload_watched nxdomain
check "nxdomain: the reload fails naming the name as unknown" \
	sh -c "[ $RC = 1 ] && grep -q \"\[target \\\"named\\\"\]: cannot resolve 'nx.mconn.test': no such name\" '$T/nxdomain.out'"
check_timing "nxdomain: rate within 5 % ($RATE vs $BASE)" within_pct "$RATE" "$BASE" 5
check "nxdomain: nothing changed" test "$(tjs named .address)" = "one.mconn.test:$n_PORT"

# 4. Slow answers, a different address each time, looked up again every second.
write_conf "slow.mconn.test:$n_PORT" "" "resolve_every = 1s"
reload_watched slow
check "slow: the reload succeeds once the late answer is in (>= 300 ms: $MS ms)" \
	sh -c "[ $RC = 0 ] && [ $MS -ge 300 ]"
check_timing "slow: status under 10 ms while it waited ($SP50 / $SP99 / $SMAX ms)" status_fast slow
gen=$(tjs named .generation)
check "resolve_every: a new address restarts the target (generation $gen -> more)" \
	wait_for 10 tjs_true named ".generation >= $((gen + 2))"
RATE=$(rate_over 3000)
say "steady while named moves every second: $RATE cycles/s (baseline $BASE)"
echo "| slow, moving (resolve_every 1s), 3 s | $BASE | $RATE | - | - |" >>"$T/table"
check_timing "resolve_every: the steady target's rate stays within 5 % ($RATE vs $BASE)" within_pct "$RATE" "$BASE" 5
check "resolve_every: the moving target stays up" wait_for 5 tjs_true named '.state == "up"'

# 5. The name stops resolving: the address in use stays, failures are counted and shown.
addr=$(tjs named .resolved)
zone "one.mconn.test answer 127.0.0.1" "dead.mconn.test drop" "slow.mconn.test nxdomain" \
	"dead2.mconn.test drop"
check "a failed re-resolution is counted" wait_for 10 tjs_true named '.resolve.failures > 0'
check "its error is in the JSON status" \
	sh -c "$MCONNCTL -j status | jq -r '.targets[] | select(.name == \"named\") | .resolve.error' | grep -q \"cannot resolve 'slow.mconn.test'\""
check "and in the text status" sh -c "$MCONNCTL status | grep -q \"failing since .*cannot resolve 'slow.mconn.test'\""
check "and in the metrics" sh -c "$MCONNCTL metrics | grep -Eq '^mconn_resolve_failures_total\{target=\"named\".* [1-9]'"
check "the last address stays in use ($addr)" test "$(tjs named .resolved)" = "$addr"
check "and the target stays up" tjs_true named '.state == "up"'

# 6. SIGHUP goes the same way: the loop answers at once, the outcome is logged.
# hup_failures: how many reloads logged the dead name's failure so far.
hup_failures() {
	grep -c "reload: .*\[target \"named\"\]: cannot resolve 'dead.mconn.test': no answer within 1s" "$T/mconnd.log"
}
hup_logged() { [ "$(hup_failures)" -gt "$hups" ]; }
write_conf "dead.mconn.test:$n_PORT" "resolve_timeout = 1s"
hups=$(hup_failures)
kill -HUP "$MCONND_PID"
check_timing "SIGHUP: status answers in under 10 ms while the names resolve" \
	sh -c "\"$CTLPROBE\" -s \"$SOCK\" latency 10 10 >/dev/null"
check "SIGHUP: the failure is logged naming the target and the name" wait_for 5 hup_logged

# 7. A reload asked for while one resolves makes one more after it, which reads the
# files as they are then; each client gets the outcome of the reload it waited for.
# A name of its own: a look-up of the SIGHUP's reload may still be asking for dead.
write_conf "dead2.mconn.test:$n_PORT" "resolve_timeout = 1s"
"$MCONNCTL" reload >"$T/first.out" 2>&1 &
first=$!
check "the first reload is resolving" wait_for 5 grep -q 'dead2.mconn.test' "$T/dns.log"
write_conf "one.mconn.test:$n_PORT" "resolve_timeout = 1s"
"$MCONNCTL" reload >"$T/second.out" 2>&1
second_rc=$?
wait "$first"
first_rc=$?
check "the first reload fails (dead name, exit $first_rc)" test "$first_rc" = 1
check "the second, asked for meanwhile, runs after it and succeeds (exit $second_rc)" \
	sh -c "[ $second_rc = 0 ] && grep -q 'reloaded:' '$T/second.out'"
check "and it is the one in force" test "$(tjs named .address)" = "one.mconn.test:$n_PORT"

# 8. family: a name with only IPv4 addresses refused for ipv6; groups go the same way.
write_conf "one.mconn.test:$n_PORT" "admin_group = no_such_group_mconn" "family = ipv6"
"$MCONNCTL" reload >"$T/family.out" 2>&1
check "family = ipv6: the IPv4-only name is an error naming the family" \
	grep -q "cannot resolve 'one.mconn.test' to an address of family ipv6" "$T/family.out"
check "an admin_group that does not exist is an error of the reload" \
	grep -q "admin_group: no such group 'no_such_group_mconn'" "$T/family.out"

# 9. At start, a dead resolver is an error after resolve_timeout, not a hang.
write_conf "dead.mconn.test:$n_PORT" "resolve_timeout = 1s"
t0=$(now_ms)
"$MCONND" -t -c "$T/r.conf" >"$T/t.out" 2>&1
rc=$?
took=$(($(now_ms) - t0))
check_timing "mconnd -t with a dead resolver: exit 1 after about resolve_timeout ($took ms)" \
	sh -c "[ $rc = 1 ] && [ $took -lt 1900 ]"
check "mconnd -t names the target and the name" \
	grep -q "\[target \"named\"\]: cannot resolve 'dead.mconn.test': no answer within 1s" "$T/t.out"

# The watchdog never missed a beat: every gap between pings under WATCHDOG_USEC.
grep ' WATCHDOG=1$' "$T/notify.log" | awk 'NR > 1 { print $1 - prev } { prev = $1 }' | sort -n >"$T/gaps"
gmax=$(tail -n 1 "$T/gaps")
say "watchdog: $(wc -l <"$T/gaps") gaps, the longest $gmax us"
check_timing "the watchdog kept pinging through every reload (longest gap $gmax us < $WD_USEC)" \
	test "${gmax:-999999999}" -lt "$WD_USEC"
check "RELOADING=1 and READY=1 around each reload" \
	test "$(grep -c ' RELOADING=1' "$T/notify.log")" -ge 5

say "figures:"
sed 's/^/    /' "$T/table"
stop_mconnd
finish
