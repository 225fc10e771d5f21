/* The harness the control-socket suites (check_ctl, check_render) share: a scratch
 * directory and a loopback port that refuses, a daemon started in-process from a
 * configuration held in memory, its loop turned one iteration at a time, and AF_UNIX
 * clients that send requests and collect the replies. The daemon is the test's own and
 * is passed in; the rest lives in the one struct harness. */
#ifndef MCONN_CTLHARNESS_H
#define MCONN_CTLHARNESS_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/un.h>

#include "ctl.h"

struct daemon;

/* How many turns a wait may take before the test fails. */
#define HARNESS_MAX_TURNS 200
/* The most reply bytes one client collects. */
#define HARNESS_RX_MAX 65536
/* The most clients a test opens: every slot, and some the daemon turns away. */
#define HARNESS_MAX_OPEN (CTL_MAX_CLIENTS + 8)

/* What a test case works in. The scratch directory and the TCP port bound on loopback
 * that never listens, so that sessions are refused, are made once per test case in the
 * parent; the clients per test, in the forked child. */
struct harness {
	char dir[64];
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char conf_path[128];
	int port_fd;
	unsigned port;
	int open_fds[HARNESS_MAX_OPEN];
	size_t n_open;
};

/* What one client has received so far, NUL-terminated. */
struct harness_rx {
	size_t len;
	bool eof;
	int err;
	char data[HARNESS_RX_MAX + 1];
};

/* Check's fixtures take no argument, so the harness is one object. */
extern struct harness harness;

/* Unchecked fixture: make the scratch directory, its paths and the refusing port. */
void harness_scratch_setup(void);

/* Unchecked fixture: remove the port, a socket a failed test left, and the directory. */
void harness_scratch_teardown(void);

/* Start a daemon on config text as if read from path, control socket open, no clients yet. */
struct daemon *harness_daemon_start(const char *text, const char *path);

/* Free a daemon from harness_daemon_start(); NULL is a no-op. */
void harness_daemon_free(struct daemon *d);

/* Turn the daemon's loop once and assert that the turn succeeded. */
void harness_turn(struct daemon *d);

/* Turn d's loop until cond holds, at most HARNESS_MAX_TURNS times. */
#define HARNESS_TURN_UNTIL(d, cond)                                                        \
	do {                                                                               \
		int turns_ = 0;                                                            \
		while (!(cond)) {                                                          \
			ck_assert_msg(turns_++ < HARNESS_MAX_TURNS,                        \
				      "still not %s after %d turns", #cond,                \
				      HARNESS_MAX_TURNS);                                  \
			harness_turn(d);                                                   \
		}                                                                          \
	} while (0)

/* Connect a client to the control socket, kept for harness_clients_close_all(). */
int harness_client_connect(void);

/* Close one client early, so that harness_clients_close_all() leaves it be. */
void harness_client_close(int fd);

/* Close every client still open: a test's teardown calls this. */
void harness_clients_close_all(void);

/* Send n bytes on fd, all in one call. */
void harness_client_send(int fd, const void *p, size_t n);

/* Send a string literal on fd, without its NUL. */
#define HARNESS_SEND_STR(fd, s) harness_client_send((fd), (s), sizeof(s) - 1)

/* Take what has arrived on fd into rx without waiting. */
void harness_rx_drain(int fd, struct harness_rx *rx);

/* How many complete replies rx holds. */
size_t harness_rx_replies(const struct harness_rx *rx);

/* Move the first complete reply out of rx into out, of n bytes; return out. */
const char *harness_rx_pop(struct harness_rx *rx, char *out, size_t n);

/* Turn d's loop until n complete replies have arrived on fd. */
void harness_pump_replies(struct daemon *d, int fd, struct harness_rx *rx, size_t n);

#endif
