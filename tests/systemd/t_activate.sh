#!/bin/sh
# Socket activation without systemd: systemd-socket-activate holds a listening socket,
# execs mconnd on the first connection and passes the socket the way systemd does
# (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES).
. "$(dirname "$0")/../integration/lib.sh"

ACT="$T/act.sock"
quiet() { "$@" >/dev/null; }
start_echod e echo -l 127.0.0.1:0
{
	conf_header
	printf '[target "e"]\naddress = 127.0.0.1:%s\nconnections = 2\ninterval = 100ms\nrise = 1\n' "$e_PORT"
} >"$T/c.conf"

systemd-socket-activate -l "$ACT" --fdname=control "$MCONND" -c "$T/c.conf" \
	2>"$T/mconnd.log" &
MCONND_PID=$!
PIDS="$PIDS $MCONND_PID"
export MCONND_SOCKET="$ACT"
check "systemd-socket-activate listens on $ACT" wait_for 5 test -S "$ACT"
check "mconnd is not running before the first connection" \
	test "$(cat /proc/$MCONND_PID/comm)" = systemd-socket-
check "the first 'mconnctl status' starts the daemon and is answered" \
	wait_for 10 "$MCONNCTL" status
check "the daemon took the activator's place (pid $MCONND_PID)" test "$(js .pid)" = "$MCONND_PID"
check "it uses the passed socket, and creates none at control_socket" test ! -e "$SOCK"
check "the target comes up through the activated daemon" wait_for 10 tjs_true e '.state == "up"'
check "a second client is served on the same socket" quiet "$MCONNCTL" sessions e
stop_mconnd
check "the inherited socket is left in place on exit" test -S "$ACT"
check "no warning about passed descriptors" test -z "$(grep -i 'passed file descriptor' "$T/mconnd.log")"

# A passed descriptor that is not a UNIX stream socket is refused with a warning,
# and the daemon creates its own socket at control_socket.
DGRAM="$T/dgram.sock"
systemd-socket-activate --datagram -l "$DGRAM" "$MCONND" -c "$T/c.conf" 2>"$T/mconnd.log" &
MCONND_PID=$!
PIDS="$PIDS $MCONND_PID"
export MCONND_SOCKET="$SOCK"
wait_for 5 test -S "$DGRAM"
printf 'wake\n' | socat - "UNIX-SENDTO:$DGRAM"
check "given a datagram socket, the daemon creates its own at control_socket" \
	wait_for 10 "$MCONNCTL" status
check "and says why" grep -q 'ignoring 1 passed file descriptors: expected one UNIX stream socket' \
	"$T/mconnd.log"
stop_mconnd
check "its own socket is removed on exit" test ! -e "$SOCK"
finish
