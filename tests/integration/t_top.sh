#!/bin/sh
# mconnctl top: batch frames against a running daemon, and the interactive view in a
# pseudo-terminal (tmux): it starts, refreshes, colors states, and q or Ctrl-C end it
# with the terminal as it was (same stty settings, main screen back).
. "$(dirname "$0")/lib.sh"

start_echod echo echo -l 127.0.0.1:0
{
	conf_header
	printf '[target "web"]\naddress = 127.0.0.1:%s\nconnections = 3\ninterval = 50ms\n' "$echo_PORT"
	# No doubling: off fails every 100 ms (the floor), not seconds apart once down.
	printf '[target "off"]\naddress = 127.0.0.1:1\ninterval = 50ms\nfall = 2\nbackoff_max = 0\n'
} >"$T/c.conf"
start_mconnd "$T/c.conf"
check "web up, off down" wait_for 10 sh -c "\"$MCONNCTL\" status | grep -q '^web .* up ' && \"$MCONNCTL\" status | grep -q '^off .* down '"

# Two frames 0.3 s apart; the rates of the second need cycles and failures inside
# that window, which a loaded machine can miss: take pairs until one has both, for
# at most 20 s, then check that pair.
top_pair() {
	"$MCONNCTL" top -b -n 2 -d 0.3 >"$T/top.out"
	echo $? >"$T/top.rc"
	grep -qE '^web +up +3 +[0-9]+ +[1-9][0-9.]* +0\.0 ' "$T/top.out" &&
		grep -qE '^    failures/s: refused [1-9][0-9.]*$' "$T/top.out"
}
wait_for 20 top_pair
rc=$(cat "$T/top.rc")
check "top -b -n 2 exits 0 (got $rc)" test "$rc" = 0
check "two frames" test "$(grep -c '^mconnd 0.1.0, up ' "$T/top.out")" = 2
check "each with the column header" test "$(grep -c '^TARGET  *STATE  *SESS  *ACT  *OK/s  *FAIL/s  *P50  *P99  *LATENCY' "$T/top.out")" = 2
check "the first frame has no rates yet" grep -qE '^web +up +3 +[0-9]+ +- +- ' "$T/top.out"
check "the second has web's cycles/s" grep -qE '^web +up +3 +[0-9]+ +[1-9][0-9.]* +0\.0 ' "$T/top.out"
check "and off's failures/s by class" grep -qE '^    failures/s: refused [1-9][0-9.]*$' "$T/top.out"
check "frames are numbered" sh -c "grep -q 'frame 1, every 300.0ms' '$T/top.out' && grep -q 'frame 2, every 300.0ms' '$T/top.out'"
check "no line is wider than 78 columns" sh -c "! awk 'length > 78' '$T/top.out' | grep -q ."
check "no escape sequence in batch mode" sh -c "! grep -q \"\$(printf '\\033')\" '$T/top.out'"
"$MCONNCTL" -s "$T/none.sock" top -b -n 1 >/dev/null 2>"$T/top.err"
rc=$?
check "top against no daemon exits 3 (got $rc)" test "$rc" = 3
check "and says why" grep -q "^mconnctl top: cannot connect to $T/none.sock" "$T/top.err"
"$MCONNCTL" top -d 0 -b -n 1 >/dev/null 2>&1
check "top -d 0 is a usage error" test $? = 2

# The interactive view in tmux, 80x24, one tmux server per run. The pane runs a shell
# that records the terminal settings before and after top and top's exit status (its
# trap keeps it alive through the Ctrl-C that is meant for top).
run_in_pane() {
	rm -f "$T/rc" "$T/stty.before" "$T/stty.after"
	$TM new-session -d -x 80 -y 24 -s top "sh -c 'trap : INT; stty -a >\"$T/stty.before\"; MCONND_SOCKET=\"$SOCK\" \"$MCONNCTL\" top -d 0.2; echo \$? >\"$T/rc.tmp\"; stty -a >\"$T/stty.after\"; mv \"$T/rc.tmp\" \"$T/rc\"; exec sleep 60'"
	PIDS="$PIDS $($TM display -p -t top '#{pid}')"
}
pane() { $TM capture-pane -p -t top "$@"; }
shows() { pane | grep -qE "$1"; }
# frame_at_least N: the frame counter has reached N.
frame_at_least() { n=$(pane | sed -n 's/.*frame \([0-9]*\),.*/\1/p' | head -1); [ -n "$n" ] && [ "$n" -ge "$1" ]; }
colored() { pane -e | grep -q "$(printf '\033')\[32mup"; }
restored() {
	[ -s "$T/rc" ] && cmp -s "$T/stty.before" "$T/stty.after"
}

for how in q C-c; do
	TM="tmux -S $T/tmux.$how.sock -f /dev/null"
	run_in_pane
	check "[$how] top starts in the pane" wait_for 10 shows '^TARGET +STATE'
	check "[$how] shows the targets" wait_for 10 shows '^web +up '
	check "[$how] refreshes" wait_for 10 frame_at_least 4
	check "[$how] colors the state" colored
	$TM send-keys -t top "$how"
	check "[$how] exits and the shell records it" wait_for 10 test -s "$T/rc"
	check "[$how] exit status 0 (got $(cat "$T/rc" 2>/dev/null))" test "$(cat "$T/rc" 2>/dev/null)" = 0
	check "[$how] terminal settings restored" restored
	check "[$how] back on the main screen" sh -c "! $TM capture-pane -p -t top | grep -q '^TARGET'"
	$TM kill-server 2>/dev/null
done
stop_mconnd
finish
