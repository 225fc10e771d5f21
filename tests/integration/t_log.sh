#!/bin/sh
# Logging outside systemd (issue 14): on stderr by default, one line per message
# with an ISO 8601 time and the priority as a word, no "<N>" prefixes; the "<N>"
# form only when JOURNAL_STREAM names that stderr (the journal's own stream, when its
# socket cannot be reached); log_target and --log-target choose; syslog datagrams on
# /dev/log (a socket of the test's, in a mount namespace of its own), which never
# block the daemon: a full socket drops messages and says how many, an absent
# syslog daemon sends them to stderr.
. "$(dirname "$0")/lib.sh"

# "2026-12-07T19:51:19.123+01:00 notice: text"
ISO='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} (emerg|alert|crit|error|warning|notice|info|debug): '

start_echod e echo -l 127.0.0.1:0
conf() {
	conf_header
	[ -z "${1:-}" ] || printf 'log_target = %s\n' "$1"
	printf '[target "t"]\naddress = 127.0.0.1:%s\nconnections = 1\ninterval = 100ms\nrise = 1\n' "$e_PORT"
}
conf >"$T/auto.conf"
conf stderr >"$T/stderr.conf"
conf syslog >"$T/syslog.conf"

# run NAME CONFFILE: start, wait for the target's up line, stop; keep the log as NAME.log.
run() {
	start_mconnd "$2"
	wait_for 10 grep -q 'target t is up' "$T/mconnd.log"
	stop_mconnd
	cp "$T/mconnd.log" "$T/$1.log"
}
# all_lines NAME ERE: the log has lines, and every one matches.
all_lines() {
	[ -s "$T/$1.log" ] && ! grep -vqE "$2" "$T/$1.log"
}
show_log() { sed -n '1,5p' "$T/$1.log" | sed 's/^/    /'; }

# --- Default: stderr is a file, not the journal.
unset JOURNAL_STREAM
run plain "$T/auto.conf"
check "default: every line is 'TIME PRIORITY: text' with an ISO 8601 time" all_lines plain "$ISO" ||
	show_log plain
check "the start at notice" grep -qE "$ISO"'mconnd [0-9.]+ started: 1 target' "$T/plain.log"
check "no '<N>' prefix" sh -c "! grep -q '^<' '$T/plain.log'"
stamp=$(head -n 1 "$T/plain.log" | cut -d' ' -f1)
t=$(date -d "$stamp" +%s 2>/dev/null || echo 0)
check "the time is now ($stamp, within 60 s of the clock)" test $(($(date +%s) - t)) -le 60 -a $(($(date +%s) - t)) -ge -60

# --- JOURNAL_STREAM names our stderr: the journal; without its socket, "<N>text".
if [ -e /run/systemd/journal/socket ]; then
	skip_part "the '<N>' fallback: a journal runs here (/run/systemd/journal/socket), it would take the messages"
else
	: >"$T/mconnd.log"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$T/mconnd.log")
	export JOURNAL_STREAM
	run journal "$T/auto.conf"
	check "JOURNAL_STREAM=$JOURNAL_STREAM (our stderr): '<N>text' lines" all_lines journal '^<[0-7]>' ||
		show_log journal
	check "the start at notice, <5>" grep -qE '^<5>mconnd [0-9.]+ started' "$T/journal.log"
	run forced "$T/stderr.conf"
	check "log_target = stderr: time and priority even so" all_lines forced "$ISO" || show_log forced
	unset JOURNAL_STREAM
fi

# --- --log-target overrides the file; a bad one is refused.
"$MCONND" -c "$T/syslog.conf" --log-target=loud >"$T/bad.out" 2>&1
check "--log-target=loud: exit 2" test $? = 2
check "saying what is accepted" grep -q 'expected auto, journal, stderr or syslog' "$T/bad.out"
printf '[daemon]\nlog_target = loud\n' >"$T/bad.conf"
"$MCONND" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1
check "mconnd -t: log_target = loud is an error with file, line and what is accepted" \
	grep -qx "$T/bad.conf:2: log_target: invalid value 'loud'; expected auto, journal, stderr or syslog" "$T/bad.out"

# --- syslog: /dev/log is the test's socket, in a mount namespace of our own.
if ! unshare -m true 2>/dev/null; then
	skip_part "syslog: a mount namespace of our own (unshare -m) to put a socket at /dev/log"
	finish
	exit
fi
# The syslog daemon: one line per datagram.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "ab", buffering=0)
while True:
    out.write(s.recv(65536) + b"\n")
' "$T/devlog" "$T/syslog.out" 2>"$T/syslogd.err" &
SYSLOGD=$!
PIDS="$PIDS $SYSLOGD"
wait_for 5 test -S "$T/devlog" || fail "the test's syslog daemon did not start: $(cat "$T/syslogd.err")"
# A /dev of our own: the host's null, and log pointing at the test's socket.
unshare -m sh -c 'mkdir "$1/hostdev" && mount --rbind /dev "$1/hostdev" &&
	mount -t tmpfs mconn-dev /dev && ln -s "$1/hostdev/null" /dev/null &&
	ln -s "$1/devlog" /dev/log && exec $2 "$3" -c "$4" --log-target=syslog' \
	sh "$T" "$WRAP" "$MCONND" "$T/auto.conf" 2>"$T/mconnd.log" &
MCONND_PID=$!
PIDS="$PIDS $MCONND_PID"
wait_for 10 "$MCONNCTL" version || fail "mconnd did not start: $(cat "$T/mconnd.log")"
check "--log-target=syslog: the start on /dev/log as '<29>Mmm dd hh:mm:ss mconnd[PID]: ...' (daemon.notice)" \
	wait_for 5 grep -qE '^<29>[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} mconnd\[[0-9]+\]: mconnd [0-9.]+ started' "$T/syslog.out"
check "the health change too" wait_for 5 grep -q 'mconnd\[[0-9]*\]: target t is up' "$T/syslog.out"

# A syslog daemon that stops reading: the socket fills (max_dgram_qlen, 10 by
# default), messages are dropped, and the daemon goes on answering (one blocked on
# the socket would never answer while syslog is stopped); then it says how many.
kill -STOP "$SYSLOGD"
start=$(date +%s)
i=0
while [ $i -lt 20 ]; do
	timeout 20 "$MCONNCTL" reload >/dev/null || break
	i=$((i + 1))
done
check "20 reloads answered while syslog does not read ($(($(date +%s) - start)) s)" test $i = 20
kill -CONT "$SYSLOGD"
"$MCONNCTL" reload >/dev/null
check "then: 'N log messages dropped: the syslog socket was full'" \
	wait_for 5 grep -qE 'mconnd\[[0-9]+\]: [0-9]+ log messages dropped: the syslog socket was full' "$T/syslog.out"
check "and the message after it" wait_for 5 sh -c "tail -n 1 '$T/syslog.out' | grep -q 'reloaded: 0 added'"

# No syslog daemon at all: the messages go to stderr instead.
kill -KILL "$SYSLOGD"
wait "$SYSLOGD" 2>/dev/null
rm -f "$T/devlog"
"$MCONNCTL" reload >/dev/null
check "syslog gone: the message on stderr, with time and priority" \
	wait_for 5 grep -qE "$ISO"'reloaded: 0 added' "$T/mconnd.log"
kill -TERM "$MCONND_PID"
wait "$MCONND_PID"
check "mconnd exits 0" test $? = 0
check "no sanitizer report" sh -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' '$T/mconnd.log'"
finish
