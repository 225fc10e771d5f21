#!/bin/sh
# The kernel's table of a process's file descriptors grows by doubling, and in a
# threaded process (mconnd has its resolver threads) each step waits for an RCU grace
# period: growing to 10,000 fds blocked the caller for about 90 ms in all here, up to
# 20 ms a step. mconnd sizes the table for every session once, at start and when a
# reload or `set` adds sessions, so the loop never waits for it in the middle of the
# work.
. "$(dirname "$0")/lib.sh"

fdsize() { awk '/^FDSize:/ { print $2 }' "/proc/$MCONND_PID/status"; }

start_echod echo echo -l 127.0.0.1:0
conf() {
	conf_header
	printf '[target "many"]\naddress = 127.0.0.1:%s\nconnections = %s\ninterval = 2s\n' "$echo_PORT" "$1"
}
conf 3000 >"$T/c.conf"
start_mconnd "$T/c.conf"
if [ -n "${VALGRIND:-}" ]; then
	# valgrind keeps descriptors of its own at the top of the table.
	say "the table's size is valgrind's here; not checked"
else
	size=$(fdsize)
	check "at start the table holds every session's fd (FDSize $size for 3000 sessions)" \
		test "$size" -ge 3000
	conf 6000 >"$T/c.conf"
	"$MCONNCTL" reload >/dev/null
	size=$(fdsize)
	check "a reload to 6000 sessions grows it before they start (FDSize $size)" \
		test "$size" -ge 6000
	if [ "$(js .open_files_limit)" -gt 9500 ]; then
		"$MCONNCTL" set many connections 9000 >/dev/null
		size=$(fdsize)
		check "so does set connections 9000 (FDSize $size)" test "$size" -ge 9000
	else
		skip_part "set connections 9000: an open-files limit above 9,500 (it is $(js .open_files_limit))"
	fi
fi
check "the sessions cycle" wait_for 20 tjs_true many ".cycles_ok >= 3000"
stop_mconnd
finish
