#!/bin/sh
# mconnd's own shortage beside the target's health: under an open files limit of 150,
# 46 of 100 persistent sessions cannot run. They are counted as starved (status, JSON,
# stats), leave the target up, stay out of check's failure ratio, and make check say
# WARNING about mconnd; the shortage is logged once when it starts and once when it has
# really ended (no session starved for the quiet period), not at
# every backoff round.
. "$(dirname "$0")/lib.sh"

start_echod echo echo -l 127.0.0.1:0
{
	conf_header
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 100\n' "$echo_PORT"
	printf 'interval = 100ms\nmode = persistent\nbackoff_max = 5s\n'
} >"$T/c.conf"
WRAP="prlimit --nofile=150:150 $WRAP"
start_mconnd "$T/c.conf"

check "web: up" wait_for 10 tjs_true web '.state == "up"'
check "46 sessions starved of open files" wait_for 10 sh -c "[ \"\$(MCONND_SOCKET='$SOCK' '$MCONNCTL' -j status | jq -r '[.sessions_starved, .starved_of, .open_files_limit] | join(\" \")')\" = '46 nofile 150' ]"
check "web: 46 starved, 54 up, none down" tjs_true web '.sessions_starved == 46 and .sessions_up == 54 and .sessions_down == 0'
check "status text says what mconnd cannot run" sh -c "'$MCONNCTL' status | grep -qx 'mconnd cannot run 46 of 100 sessions: open files limit 150'"
check "stats lines carry the figures" sh -c "'$MCONNCTL' stats | grep -q ' starved=46 starved_of=nofile nofile=150' && '$MCONNCTL' stats web | grep -q ' starved=46 '"
"$MCONNCTL" check web -w fail=1 >"$T/check"
rc=$?
say "$(cat "$T/check")"
check "check says WARNING (exit 1) about mconnd" test "$rc" = 1
check "check: 'mconnd cannot run 46 of 100 sessions: open files limit 150'" \
	grep -q '^MCONN WARNING - web up (mconnd cannot run 46 of 100 sessions: open files limit 150) for' "$T/check"
check "check: resource failures are not the target's failures (fail_ratio 0)" \
	grep -q 'fail_ratio=0.00%' "$T/check"

# Past two backoff rounds of 5 s: the target stays up, the episode is not logged again.
changes=$(tjs web .health_changes)
states=$(sample_for 12 web '"\(.state),\(.sessions_starved > 0)"')
check "12 s of shortage: up and starved all along" test "$states" = "up,true"
check "no health change from the shortage" test "$(tjs web .health_changes)" = "$changes"
check "the shortage's start logged once" test "$(grep -c 'mconnd cannot run every session' "$T/mconnd.log")" = 1
check "its end not logged while it lasts" test "$(grep -c 'local resources available again' "$T/mconnd.log")" = 0

# Fewer sessions than fds (raising a hard limit needs a privilege tests may not have):
# every session runs, and the end is logged once after the quiet period.
check "set connections 50" "$MCONNCTL" set web connections 50
check "no session starved with 50 sessions" wait_for 20 tjs_true web '.sessions_starved == 0 and .sessions_up == 50'
check "the shortage's end logged once" wait_for 20 sh -c "[ \$(grep -c 'local resources available again: every session runs' '$T/mconnd.log') = 1 ]"
"$MCONNCTL" check web >"$T/check"
check "check says OK again" test $? = 0
check "still one start line" test "$(grep -c 'mconnd cannot run every session' "$T/mconnd.log")" = 1
stop_mconnd
finish
