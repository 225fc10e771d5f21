#!/bin/sh
# mconnctl check follows the monitoring-plugins guidelines: one line "MCONN STATE: ..."
# with perfdata, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; thresholds on the last
# minute's p99 and failure ratio in the plugins' range syntax; a state per condition
# (down CRITICAL, paused OK with "paused" in the line, ... each one chosen with
# --CONDITION=STATE); --help, --version (exit 3, as the plugins do), -t SECONDS, -v.
. "$(dirname "$0")/lib.sh"

start_echod echo echo -l 127.0.0.1:0
# drip: every byte of the echo 2 ms apart, so a cycle of 44 bytes takes ~90 ms.
start_echod slow drip -d 2 -l 127.0.0.1:0
start_echod bad corrupt -l 127.0.0.1:0
{
	conf_header
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 50ms\n' "$echo_PORT"
	printf '[target "slow"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 50ms\n' "$slow_PORT"
	printf '[target "off"]\naddress = 127.0.0.1:1\ninterval = 50ms\nfall = 2\n'
	printf '[target "new"]\naddress = 127.0.0.1:%s\ninterval = 1h\nrise = 2\n' "$echo_PORT"
	printf '[target "bad"]\naddress = 127.0.0.1:%s\ninterval = 50ms\n' "$bad_PORT"
	printf '[target "held"]\naddress = 127.0.0.1:%s\ninterval = 50ms\n' "$echo_PORT"
} >"$T/c.conf"
start_mconnd "$T/c.conf"
check "web, slow up and off down" wait_for 10 sh -c "\"$MCONNCTL\" status | grep -q '^web .* up ' &&
	\"$MCONNCTL\" status | grep -q '^slow .* up ' && \"$MCONNCTL\" status | grep -q '^off .* down '"
slow_enough() { [ "$(tjs slow '.latency_ms.p50 > 40')" = true ]; }
check "slow's cycles take tens of ms" wait_for 10 slow_enough

# run_check WANT_RC PATTERN ARGS...: one check, its exit status and its line.
run_check() {
	want=$1
	pat=$2
	shift 2
	out=$("$MCONNCTL" check "$@")
	rc=$?
	if [ "$rc" = "$want" ] && printf '%s\n' "$out" | grep -qE "$pat" &&
		[ "$(printf '%s\n' "$out" | wc -l)" = 1 ]; then
		ok "check $* -> $rc: $out"
	else
		fail "check $* -> $rc (want $want, /$pat/): $out"
	fi
}
PERF='\| cycles_ok=[0-9]+c cycles_failed=[0-9]+c fail_ratio=[0-9.]+%;[^;]*;[^;]*;0;100 p50=[0-9.]+ms;;;0 p99=[0-9.]+ms;[^;]*;[^;]*;0$'
run_check 0 "^MCONN OK: web up for [^,]+, last minute: [0-9]+ cycles, 0.00% failed, p50 [0-9.]+(us|ms), p99 [0-9.]+(us|ms) $PERF" web
run_check 0 '^MCONN OK: .*fail_ratio=0.00%;1;5;0;100 .* p99=[0-9.]+ms;1000;2000;0$' web -w p99=1s,fail=1 -c p99=2000ms,fail=5
run_check 0 "^MCONN OK: slow up .*$PERF" slow -w p99=1s -c p99=2s
run_check 1 "^MCONN WARNING: slow up .*p99=[0-9.]+ms;20;5000;0$" slow -w p99=20ms -c p99=5s
run_check 2 "^MCONN CRITICAL: slow up .*p99=[0-9.]+ms;10;20;0$" slow -w p99=10 -c p99=20ms
run_check 1 '^MCONN WARNING: web up .*fail_ratio=0.00%;@0:0;;0;100 ' web -w fail=@0:0
run_check 2 '^MCONN CRITICAL: web up ' web -w p99=1s -c 'p99=~:1us'
run_check 2 "^MCONN CRITICAL: off down for [^,]+, last minute: [0-9]+ cycles, 100.00% failed, p50 -, p99 - \| cycles_ok=0c cycles_failed=[0-9]+c fail_ratio=100.00%;;;0;100 p50=U;;;0 p99=U;;;0$" off
run_check 2 '^MCONN CRITICAL: off down ' off -w fail=101 -c fail=101
run_check 3 '^MCONN UNKNOWN: new unknown for ' new
run_check 3 '^MCONN UNKNOWN: no such target: nope$' nope
run_check 3 "^MCONN UNKNOWN: usage: -w: bad threshold 'p50=3'; expected p99=RANGE, fail=RANGE or cert=DAYS$" web -w p50=3
run_check 3 "^MCONN UNKNOWN: usage: -c: bad range in 'fail=9:1': start above end$" web -c fail=9:1
run_check 3 '^MCONN UNKNOWN: usage: mconnctl check TARGET' web extra
run_check 3 '^MCONN UNKNOWN: usage: missing argument to -w' web -w
out=$("$MCONNCTL" -s "$T/nothing.sock" check web)
rc=$?
check "unreachable daemon: UNKNOWN, exit 3 (got $rc: $out)" sh -c "[ $rc = 3 ] && printf '%s' '$out' | grep -q '^MCONN UNKNOWN: cannot connect to $T/nothing.sock'"
"$MCONNCTL" check --help >"$T/help.txt"
rc=$?
check "check --help exits 3, as the plugins' --help does (got $rc)" test "$rc" = 3
for w in 'p99=RANGE,fail=RANGE' '--paused=STATE' '--mismatch=STATE' '--down=STATE' '-t, --timeout=SECONDS' '-V, --version'; do
	check "check --help names $w" grep -qF -- "$w" "$T/help.txt"
done
check "check -h is --help" sh -c "\"$MCONNCTL\" check -h | cmp -s - '$T/help.txt'"
out=$("$MCONNCTL" check --version)
rc=$?
check "check --version: one line with the version, exit 3 (got $rc: $out)" \
	sh -c "[ $rc = 3 ] && [ '$out' = 'mconnctl check (mconn) $("$MCONNCTL" -V | cut -d' ' -f2)' ]"
run_check 3 '^MCONN UNKNOWN: usage: unknown option --bogus; see mconnctl check --help$' web --bogus

# A state per condition (issue 14): paused is OK by default, with "paused" in the line.
"$MCONNCTL" pause held >/dev/null
run_check 0 '^MCONN OK: held paused \(its sessions are stopped; it was (up|unknown)\) \| ' held
run_check 2 '^MCONN CRITICAL: held paused ' held --paused=critical
run_check 1 '^MCONN WARNING: held paused ' held --paused warning
run_check 3 "^MCONN UNKNOWN: usage: --paused: 'sometimes'; expected ok, warning, critical or unknown$" held --paused=sometimes
run_check 1 '^MCONN WARNING: off down ' off --down=warning
run_check 0 '^MCONN OK: new unknown ' new --unknown=ok
wrong() { "$MCONNCTL" check bad >/dev/null; [ $? = 2 ]; }
check "bad's echoes come back wrong: down" wait_for 10 wrong
run_check 2 '^MCONN CRITICAL: bad down .*\(mismatch in [0-9]+ cycles of the last minute\)' bad
run_check 1 '^MCONN WARNING: bad down .*mismatch' bad --down=warning
run_check 2 '^MCONN CRITICAL: bad down ' bad --down=warning --mismatch=critical
run_check 0 '^MCONN OK: web up ' web --mismatch=critical

# -t: a daemon that accepts and never answers is UNKNOWN after SECONDS.
socat UNIX-LISTEN:"$T/mute.sock",fork SYSTEM:'sleep 20' 2>/dev/null &
PIDS="$PIDS $!"
check "a mute control socket listens" wait_for 5 test -S "$T/mute.sock"
start=$(date +%s%N)
out=$("$MCONNCTL" -s "$T/mute.sock" check web -t 1)
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
check "-t 1 against a mute daemon: UNKNOWN within 1-3 s (exit $rc after $ms ms: $out)" \
	sh -c "[ $rc = 3 ] && [ $ms -ge 900 ] && [ $ms -lt 3000 ] && [ '$out' = 'MCONN UNKNOWN: no answer from mconnd within 1 s (-t 1)' ]"
run_check 3 "^MCONN UNKNOWN: usage: -t: '0'; expected whole seconds from 1 to 3600$" web -t 0
run_check 0 '^MCONN OK: web up ' web --timeout=5
lines=$("$MCONNCTL" check web -vv | wc -l)
check "-vv adds the daemon's stats lines after the first ($lines lines)" test "$lines" -ge 3
stop_mconnd
finish
