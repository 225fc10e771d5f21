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
# The limit the daemon sees: 150, less what valgrind keeps for itself when it runs
# under valgrind. The sessions get all but 96 of it (control clients, spares).
LIMIT=150
if [ -n "${VALGRIND:-}" ]; then
	wait_for 10 sh -c "[ \"\$(MCONND_SOCKET='$SOCK' '$MCONNCTL' -j status | jq -r '.open_files_limit')\" -gt 0 ]"
	LIMIT=$(js .open_files_limit)
fi
UP=$((LIMIT - 96))
N=$((100 - UP))
check "$N sessions starved of open files" wait_for 10 sh -c "[ \"\$(MCONND_SOCKET='$SOCK' '$MCONNCTL' -j status | jq -r '[.sessions_starved, .starved_of, .open_files_limit] | join(\" \")')\" = '$N nofile $LIMIT' ]"
check "web: $N starved, $UP up, none down" tjs_true web ".sessions_starved == $N and .sessions_up == $UP and .sessions_down == 0"
check "status text says what mconnd cannot run" sh -c "'$MCONNCTL' status | grep -qx 'mconnd cannot run $N of 100 sessions: open files limit $LIMIT'"
check "stats lines carry the figures" sh -c "'$MCONNCTL' stats | grep -q ' starved=$N starved_of=nofile nofile=$LIMIT' && '$MCONNCTL' stats web | grep -q ' starved=$N '"
"$MCONNCTL" check web -w fail=1 >"$T/check"
rc=$?
say "$(cat "$T/check")"
check "check says WARNING (exit 1) about mconnd" test "$rc" = 1
check "check: 'mconnd cannot run $N of 100 sessions: open files limit $LIMIT'" \
	grep -q "^MCONN WARNING: web up (mconnd cannot run $N of 100 sessions: open files limit $LIMIT) for" "$T/check"
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
check "set connections 40" "$MCONNCTL" set web connections 40
check "no session starved with 40 sessions" wait_for 20 tjs_true web '.sessions_starved == 0 and .sessions_up == 40'
check "the shortage's end logged once" wait_for 20 sh -c "[ \$(grep -c 'local resources available again: every session runs' '$T/mconnd.log') = 1 ]"
"$MCONNCTL" check web >"$T/check"
check "check says OK again" test $? = 0
check "still one start line" test "$(grep -c 'mconnd cannot run every session' "$T/mconnd.log")" = 1
stop_mconnd
finish
