#!/bin/sh
# Reload under load: unchanged targets keep their sessions and counters, a changed
# connection count adds or retires sessions, a changed address restarts a target under
# a new generation, removed targets go and new ones start; a bad file changes nothing
# and its exact error comes back; 1,000 reloads leak neither fds nor memory; SIGHUP
# reloads and a storm of them coalesces; drop-in files add targets.
. "$(dirname "$0")/lib.sh"

# 5,000 sessions; under valgrind, a tenth of it (and of the reload count).
S=10
RELOADS=1000
SANITIZED=
case $B in */asan*) SANITIZED=1 RELOADS=200 ;; esac
if [ -n "${VALGRIND:-}" ]; then
	S=1
	RELOADS=100
fi

start_echod a echo -l 127.0.0.1:0
start_echod b echo -l 127.0.0.1:0

# write_conf KEEP GROW SHRINK MOVE_PORT WITH_GONE WITH_NEW
write_conf() {
	{
		conf_header
		printf '[target "keep"]\naddress = 127.0.0.1:%s\nconnections = %d\ninterval = 1s\n' "$a_PORT" $((200 * S))
		printf '[target "grow"]\naddress = 127.0.0.1:%s\nconnections = %d\ninterval = 1s\n' "$a_PORT" "$1"
		printf '[target "shrink"]\naddress = 127.0.0.1:%s\nconnections = %d\ninterval = 1s\n' "$a_PORT" "$2"
		printf '[target "move"]\naddress = 127.0.0.1:%s\nconnections = %d\ninterval = 1s\n' "$3" $((50 * S))
		[ "$4" = 1 ] && printf '[target "gone"]\naddress = 127.0.0.1:%s\nconnections = %d\ninterval = 1s\n' "$a_PORT" $((50 * S))
		[ "$5" = 1 ] && printf '[target "new"]\naddress = 127.0.0.1:%s\nconnections = %d\ninterval = 1s\n' "$b_PORT" $((10 * S))
		:
	} >"$T/m.conf"
}

fds() { ls "/proc/$MCONND_PID/fd" | wc -l; }
# The last mconnctl's connection closes on the daemon's side a turn later.
fds_at_most() { [ "$(fds)" -le "$1" ]; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$MCONND_PID/status"; }
ok_of() { tjs "$1" .cycles_ok; }
# ok_above TARGET N: the target's cycles_ok is above N now.
ok_above() { [ "$(ok_of "$1")" -gt "$2" ]; }
# up_count N: N targets are up now.
up_count() { [ "$(js '[.targets[] | select(.state == "up")] | length')" = "$1" ]; }
# The part of status that only a configuration change may alter.
shape() {
	"$MCONNCTL" -j status | jq -c '[.targets[] | {name, address, connections, sessions, generation, mode, interval_ms, paused}]'
}

write_conf $((100 * S)) $((100 * S)) "$a_PORT" 1 0
start_mconnd "$T/m.conf"
check "all $((500 * S)) sessions start" test "$(js .sessions)" = $((500 * S))
check "every target up" wait_for 20 up_count 5
check "keep has cycled" wait_for 10 ok_above keep $((200 * S))

# A good reload under load.
keep_before=$(ok_of keep)
move_before=$(ok_of move)
write_conf $((150 * S)) $((50 * S)) "$b_PORT" 0 1
"$MCONNCTL" reload >"$T/reload.out" 2>&1
check "reload exits 0" test $? = 0
check "reload says what happened" grep -qx 'reloaded: 1 added, 1 removed, 3 changed, 1 unchanged' "$T/reload.out"
check "reload names the restart" grep -qx 'restarted move: address' "$T/reload.out"
check "and the log says so too" wait_for 5 grep -q 'reloaded: 1 added, 1 removed, 3 changed, 1 unchanged' "$T/mconnd.log"
check "keep's counters carried on" test "$(ok_of keep)" -ge "$keep_before"
check "keep kept its sessions and generation" \
	tjs_true keep ".sessions == $((200 * S)) and .generation == 0 and .state == \"up\""
check "grow has its new sessions" tjs_true grow ".sessions == $((150 * S)) and .connections == $((150 * S))"
check "shrink retired the surplus" tjs_true shrink ".sessions == $((50 * S))"
check "move restarted under a new generation, counters kept" \
	tjs_true move ".generation == 1 and .restart_changes == [\"address\"] and .restarted_at != null and .cycles_ok >= $move_before"
check "gone is gone" test "$(js '[.targets[] | select(.name == "gone")] | length')" = 0
check "new started" tjs_true new ".sessions == $((10 * S))"
check "total sessions add up" test "$(js .sessions)" = $((460 * S))
check "status shows the reload" test "$(js '.reload.ok == 1 and .reload.last_ok and (.reload.last_result | startswith("reloaded:"))')" = true
check "keep's counters keep growing" wait_for 10 ok_above keep $((keep_before + 100 * S))
check "move is up at its new address" wait_for 20 tjs_true move ".state == \"up\" and .address == \"127.0.0.1:$b_PORT\""
check "new comes up" wait_for 20 tjs_true new '.state == "up"'
check "no cycle failed through the reload" test "$(js '[.targets[].cycles_failed] | add')" = 0

# A bad file: exact error, exit 1, nothing changes.
shape >"$T/shape.before"
cp "$T/m.conf" "$T/m.good"
printf '[target "bad"]\naddress = 127.0.0.1:%s\nconnections = 0\n' "$a_PORT" >>"$T/m.conf"
line=$(grep -n '^connections = 0' "$T/m.conf" | cut -d: -f1)
"$MCONNCTL" reload >"$T/bad.out" 2>"$T/bad.err"
check "a bad reload exits 1" test $? = 1
check "the ERR line says the configuration is unchanged" \
	grep -qx 'mconnctl: reload failed; the running configuration is unchanged' "$T/bad.err"
check "the exact error comes back" grep -qxF \
	"$T/m.conf:$line: connections: out of range: '0'; expected a whole number from 1 to 100000" "$T/bad.err"
check "and is logged" wait_for 5 grep -qF "m.conf:$line: connections: out of range" "$T/mconnd.log"
shape >"$T/shape.after"
check "status is the same after a bad reload" cmp -s "$T/shape.before" "$T/shape.after"
check "the failure is counted and shown" \
	test "$(js '.reload.failed == 1 and (.reload.last_ok | not) and (.reload.last_result | contains("out of range"))')" = true
keep_now=$(ok_of keep)
check "counters still grow" wait_for 10 ok_above keep "$keep_now"
cp "$T/m.good" "$T/m.conf"

# Runtime changes and pause/resume go through the same path.
"$MCONNCTL" set grow connections $((20 * S)) >/dev/null
check "set connections retires sessions" tjs_true grow ".sessions == $((20 * S)) and .runtime_set == [\"connections\"]"
"$MCONNCTL" set grow interval 500ms >/dev/null
check "set interval applies" tjs_true grow '.interval_ms == 500 and .runtime_set == ["connections","interval"]'
"$MCONNCTL" status grow >"$T/grow.txt"
check "status marks runtime values" \
	grep -qF "set at run time (until the next reload): connections $((20 * S)), interval 500ms" "$T/grow.txt"
"$MCONNCTL" set grow connect_timeout 6s 2>"$T/set.err"
check "a bad set exits 1" test $? = 1
check "with the file's message" grep -qF 'connect_timeout: [target "grow"]: connect_timeout (6.00s) is longer than timeout (5.00s); it must not be' "$T/set.err"
"$MCONNCTL" set grow address 127.0.0.1:1 2>"$T/set.err"
check "address cannot be set at run time" grep -qF 'address: cannot be set at run time' "$T/set.err"
grow_ok=$(ok_of grow)
"$MCONNCTL" pause grow >/dev/null
check "a paused target has no sessions" tjs_true grow '.paused and .state == "paused" and .sessions == 0 and .sessions_active == 0'
check "pausing keeps counters" test "$(ok_of grow)" -ge "$grow_ok"
"$MCONNCTL" reload >/dev/null
check "a reload keeps the pause but drops runtime values" \
	tjs_true grow ".paused and .runtime_set == [] and .connections == $((150 * S)) and .sessions == 0"
"$MCONNCTL" resume grow >/dev/null
check "resume starts the sessions again" tjs_true grow ".paused == false and .sessions == $((150 * S))"
check "and it comes up" wait_for 20 tjs_true grow '.state == "up"'

# 1,000 reloads in a row under load, alternating two files: no fd or memory growth.
# fds are counted with every target paused, so no session holds one.
pause_all() { for t in keep grow shrink move new; do "$MCONNCTL" "$1" "$t" >/dev/null; done; }
write_conf $((150 * S)) $((50 * S)) "$b_PORT" 0 1
cp "$T/m.conf" "$T/m.one"
write_conf $((140 * S)) $((60 * S)) "$b_PORT" 0 1
cp "$T/m.conf" "$T/m.two"
i=0
while [ $i -lt 50 ]; do
	cp "$T/m.one" "$T/m.conf"; "$MCONNCTL" reload >/dev/null
	cp "$T/m.two" "$T/m.conf"; "$MCONNCTL" reload >/dev/null
	i=$((i + 1))
done
pause_all pause
fds_before=$(fds)
rss_before=$(rss_kb)
pause_all resume
t0=$(date +%s%N)
i=0
failed=0
while [ $i -lt $((RELOADS / 2)) ]; do
	cp "$T/m.one" "$T/m.conf"; "$MCONNCTL" reload >/dev/null || failed=$((failed + 1))
	cp "$T/m.two" "$T/m.conf"; "$MCONNCTL" reload >/dev/null || failed=$((failed + 1))
	i=$((i + 1))
done
say "$RELOADS reloads took $((($(date +%s%N) - t0) / 1000000)) ms"
check "$RELOADS reloads all succeeded" test "$failed" = 0
pause_all pause
wait_for 5 fds_at_most "$fds_before"
fds_after=$(fds)
rss_after=$(rss_kb)
say "after $RELOADS reloads: fds $fds_before -> $fds_after, RSS $rss_before -> $rss_after KiB"
check "no fd leaked" wait_for 5 fds_at_most "$fds_before"
# ASan and valgrind hold on to freed memory (quarantine, their own allocators): there,
# the leak check at exit is the check.
if [ -z "$SANITIZED" ] && [ -z "${VALGRIND:-}" ]; then
	check "RSS did not grow past 512 KiB" test "$rss_after" -le $((rss_before + 512))
fi
pause_all resume
check "still cycling after the reloads" wait_for 20 up_count 5
check "no cycle failed through $RELOADS reloads ($("$MCONNCTL" -j status | jq -c '[.targets[] | select(.cycles_failed > 0) | {(.name): .errors | with_entries(select(.value > 0))}] | add')); $(grep -c 'loop did not run' "$T/mconnd.log") stalls logged" \
	test "$(js '[.targets[].cycles_failed] | add')" = 0

# SIGHUP reloads; a storm of them coalesces into fewer reloads.
n0=$(js .reload.ok)
printf '[target "hup"]\naddress = 127.0.0.1:%s\n' "$a_PORT" >>"$T/m.conf"
kill -HUP "$MCONND_PID"
check "SIGHUP reloads" wait_for 10 tjs_true hup '.sessions == 1'
n1=$(js .reload.ok)
check "one SIGHUP, one reload" test "$n1" = $((n0 + 1))
i=0
while [ $i -lt 200 ]; do kill -HUP "$MCONND_PID"; i=$((i + 1)); done
check "the daemon answers after a SIGHUP storm" wait_for 10 "$MCONNCTL" version
reloads_above() { [ "$(js .reload.ok)" -gt "$1" ]; }
check "at least one reload ran" wait_for 10 reloads_above "$n1"
n2=$(js .reload.ok)
say "200 SIGHUPs made $((n2 - n1)) reloads"
check "200 SIGHUPs coalesced into fewer reloads" test $((n2 - n1)) -lt 200

# Drop-ins: conf.d/*.conf next to the main file, read in sorted order.
mkdir "$T/conf.d"
printf '[target "dropped"]\naddress = 127.0.0.1:%s\n' "$a_PORT" >"$T/conf.d/20-dropped.conf"
"$MCONNCTL" reload >/dev/null
check "a drop-in adds a target" tjs_true dropped '.sessions == 1'
printf '[target "keep"]\naddress = 127.0.0.1:%s\n' "$a_PORT" >"$T/conf.d/10-twice.conf"
"$MCONNCTL" reload 2>"$T/twice.err"
check "a target defined twice is refused, naming both places" \
	grep -qF "$T/conf.d/10-twice.conf:1: target \"keep\" is defined twice; first at $T/m.conf:" "$T/twice.err"
"$MCONND" -t -c "$T/m.conf" >"$T/t.out" 2>&1
check "mconnd -t checks the whole set" test $? = 1
check "and names the drop-in" grep -qF "$T/conf.d/10-twice.conf:1: target" "$T/t.out"
rm "$T/conf.d/10-twice.conf"
check "without it the set is good again" sh -c "\"$MCONND\" -t -c \"$T/m.conf\" >/dev/null"

stop_mconnd
finish
