/* Unit tests for the control server (ctl.c) with its dispatcher, through real sockets:
 * a daemon is set up from a configuration held in memory, its control socket lives in
 * a scratch directory, AF_UNIX clients connect to it, and each test turns the daemon's
 * loop one iteration at a time until the bytes a client expects have arrived; the
 * harness in ctlharness.c does the setting up, turning and collecting. The timeouts are
 * tested without waiting: ctl_sweep() and ctl_handle_event() take the time as a
 * parameter. After every test, daemon_free() must leave no fd open. */
#include <check.h>
#include <dirent.h>
#include <grp.h>
#include <poll.h>
#include <errno.h>
#include <linux/sockios.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "ctlcmd.h"
#include "daemon.h"
#include "metrics.h"
#include "pool.h"
#include "proto.h"
#include "reconcile.h"
#include "render.h"
#include "view.h"
#include "util.h"
#include "check_main.h"
#include "ctlharness.h"

/* Enough turns to fill a client's socket with replies it does not read. */
#define STALL_TURNS 2000
#define SEC NSEC_PER_SEC
#define IDLE_TIMEOUT (30 * SEC)
#define IO_TIMEOUT (5 * SEC)
#define VERSION_REPLY "OK\nmconnd " MCONN_VERSION "\n\n"
#define NOSUCH_REPLY "ERR no such target: nosuch\n\n"

/* Made per test, in the forked child. */
static struct daemon *d;
static unsigned fds_before;

static unsigned count_fds(void)
{
	DIR *dh = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	ck_assert_ptr_nonnull(dh);
	while ((e = readdir(dh)))
		n += e->d_name[0] != '.';
	closedir(dh);
	return n;
}

static void daemon_setup(void)
{
	char text[512];

	fds_before = count_fds();
	snprintf(text, sizeof(text),
		 "[daemon]\ncontrol_socket = %s\ncontrol_idle_timeout = 30s\ncontrol_io_timeout = 5s\n"
		 "[target \"refused\"]\naddress = 127.0.0.1:%u\nconnections = 2\ninterval = 1h\n",
		 harness.sock_path, harness.port);
	d = harness_daemon_start(text, harness.conf_path);
	ck_assert_int_eq(d->ctl.idle_timeout, IDLE_TIMEOUT);
	ck_assert_int_eq(d->ctl.io_timeout, IO_TIMEOUT);
}

static void daemon_stop(void)
{
	harness_daemon_free(d);
	d = NULL;
}

/* Every test ends here: whatever it did, nothing of the daemon stays open. */
static void daemon_teardown(void)
{
	harness_clients_close_all();
	daemon_stop();
	ck_assert_uint_eq(count_fds(), fds_before);
}

/* Connect and turn the loop until the daemon has taken the client into a slot. */
static int client_accepted(uint32_t *ret_slot)
{
	uint32_t gen[CTL_MAX_CLIENTS];
	int fd;

	/* A slot taken anew has a new generation, also one taken from an evicted client. */
	memcpy(gen, d->ctl.gen, sizeof(gen));
	fd = harness_client_connect();
	for (int t = 0; t <= HARNESS_MAX_TURNS; t++) {
		for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++) {
			if (gen[i] != d->ctl.gen[i] && d->ctl.clients[i]) {
				*ret_slot = i;
				return fd;
			}
		}
		harness_turn(d);
	}
	ck_abort_msg("the daemon did not accept a client in %d turns", HARNESS_MAX_TURNS);
	return -1;
}

/* The bytes of unanswered requests the daemon holds for the client in slot. */
static size_t held_bytes(uint32_t slot)
{
	ck_assert_msg(d->ctl.clients[slot] != NULL, "the client in slot %u was closed", slot);
	return d->ctl.clients[slot]->in_len;
}

/* Turn the loop until the daemon closes fd. */
static void pump_eof(int fd, struct harness_rx *rx)
{
	for (int t = 0; harness_rx_drain(fd, rx), !rx->eof && !rx->err; t++) {
		ck_assert_msg(t < HARNESS_MAX_TURNS, "still open after %d turns",
			      HARNESS_MAX_TURNS);
		harness_turn(d);
	}
}

/* Send one request and assert its whole reply, and that nothing follows it. */
static void assert_request(int fd, const char *req, const char *want)
{
	struct harness_rx rx = { 0 };
	char got[HARNESS_RX_MAX];

	harness_client_send(fd, req, strlen(req));
	harness_pump_replies(d, fd, &rx, 1);
	ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)), want);
	ck_assert_uint_eq(rx.len, 0);
}

/* Read whatever was sent until the connection ends: 0 at EOF, -errno on a reset or
 * -EAGAIN when the daemon has not closed it. */
static int drain_to_close(int fd)
{
	char sink[65536];

	for (;;) {
		ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);

		if (n == 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* Bytes fd has sent that the daemon has not read yet. */
static int client_unread(int fd)
{
	int n = -1;

	ck_assert_int_eq(ioctl(fd, SIOCOUTQ, &n), 0);
	return n;
}

/* Send `help` on fd one request at a time, each once the daemon has read the one
 * before, never reading a reply, until a reply is stuck in the daemon: then it holds
 * output for the client and no request of it. */
static void client_stall(int fd, uint32_t slot)
{
	for (int t = 0;; t++) {
		const struct ctl_client *cl = d->ctl.clients[slot];

		ck_assert_ptr_nonnull(cl);
		if (cl->out.len > 0 && !cl->writable && client_unread(fd) == 0)
			break;
		ck_assert_msg(t < STALL_TURNS, "replies still flow after %d turns", STALL_TURNS);
		if (client_unread(fd) == 0)
			HARNESS_SEND_STR(fd, "help\n");
		harness_turn(d);
	}
	ck_assert_uint_eq(d->ctl.clients[slot]->in_len, 0);
}

START_TEST(test_request_reply)
{
	uint32_t slot;
	int fd = client_accepted(&slot);
	struct harness_rx rx = { 0 };
	char got[HARNESS_RX_MAX];

	assert_request(fd, "version\n", VERSION_REPLY);
	assert_request(fd, "version -j\n", "OK\n{\"version\":\"" MCONN_VERSION "\"}\n\n");
	HARNESS_SEND_STR(fd, "help\n");
	harness_pump_replies(d, fd, &rx, 1);
	harness_rx_pop(&rx, got, sizeof(got));
	ck_assert_msg(strncmp(got, "OK\nstatus [-j] [TARGET] ", 24) == 0, "help: '%s'", got);
	assert_request(fd, "status nosuch\n", NOSUCH_REPLY);
	ck_assert_uint_eq(d->ctl.n_clients, 1);
}
END_TEST

START_TEST(test_pipelined_in_order)
{
	static const char *const want[] = {
		"OK\n{\"version\":\"" MCONN_VERSION "\"}\n\n", NOSUCH_REPLY, VERSION_REPLY, NULL,
		"ERR usage: sessions [-j] TARGET\n\n", VERSION_REPLY, NOSUCH_REPLY,
	};
	uint32_t slot;
	int fd = client_accepted(&slot);
	struct harness_rx rx = { 0 };
	char got[HARNESS_RX_MAX];

	HARNESS_SEND_STR(fd, "version -j\nstatus nosuch\nversion\nhelp\nsessions\nversion\n"
			     "sessions nosuch\n");
	harness_pump_replies(d, fd, &rx, ELEMENTSOF(want));
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		harness_rx_pop(&rx, got, sizeof(got));
		if (want[i])
			ck_assert_str_eq(got, want[i]);
		else
			ck_assert_msg(strncmp(got, "OK\nstatus ", 10) == 0, "reply %zu: '%s'", i, got);
	}
	ck_assert_uint_eq(rx.len, 0);
	assert_request(fd, "version\n", VERSION_REPLY);
}
END_TEST

/* Requests split across writes are put together before they are answered. */
START_TEST(test_request_split_across_writes)
{
	uint32_t slot;
	int fd = client_accepted(&slot);
	struct harness_rx rx = { 0 };
	char got[HARNESS_RX_MAX];

	HARNESS_SEND_STR(fd, "vers");
	HARNESS_TURN_UNTIL(d, held_bytes(slot) == 4);
	HARNESS_SEND_STR(fd, "ion\nstatus no");
	harness_pump_replies(d, fd, &rx, 1);
	ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)), VERSION_REPLY);
	HARNESS_TURN_UNTIL(d, held_bytes(slot) == 9);
	ck_assert_uint_eq(rx.len, 0);
	HARNESS_SEND_STR(fd, "such\n");
	harness_pump_replies(d, fd, &rx, 1);
	ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)), NOSUCH_REPLY);
}
END_TEST

START_TEST(test_unterminated_at_eof)
{
	uint32_t slot;
	int fd = client_accepted(&slot);
	struct harness_rx rx = { 0 };
	char got[HARNESS_RX_MAX];

	HARNESS_SEND_STR(fd, "version");
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	harness_pump_replies(d, fd, &rx, 1);
	ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)), VERSION_REPLY);
	pump_eof(fd, &rx);
	ck_assert(rx.eof);
	ck_assert_uint_eq(rx.len, 0);
	ck_assert_uint_eq(d->ctl.n_clients, 0);
}
END_TEST

/* More requests than one turn answers, then a last one without a newline, then EOF. */
START_TEST(test_unterminated_after_pipelined)
{
	static const char *const want[] = {
		VERSION_REPLY, NOSUCH_REPLY, VERSION_REPLY, VERSION_REPLY, VERSION_REPLY,
		VERSION_REPLY, "OK\n{\"version\":\"" MCONN_VERSION "\"}\n\n",
	};
	uint32_t slot;
	int fd = client_accepted(&slot);
	struct harness_rx rx = { 0 };
	char got[HARNESS_RX_MAX];

	HARNESS_SEND_STR(fd, "version\nstatus nosuch\nversion\nversion\nversion\nversion\n"
			     "version -j");
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	harness_pump_replies(d, fd, &rx, ELEMENTSOF(want));
	for (size_t i = 0; i < ELEMENTSOF(want); i++)
		ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)), want[i]);
	pump_eof(fd, &rx);
	ck_assert(rx.eof);
	ck_assert_uint_eq(rx.len, 0);
}
END_TEST

/* A client writes many requests and EOF, then reads nothing until the daemon cannot
 * send: every request is still answered once it reads, none dropped at EOF. */
START_TEST(test_backpressure_then_eof)
{
	enum { N = 400 };
	static char req[N * 8];
	int small = 4096;
	uint32_t slot;
	int fd = client_accepted(&slot);
	struct harness_rx rx = { 0 };
	struct ctl_client *cl = d->ctl.clients[slot];

	for (size_t i = 0; i < N; i++)
		memcpy(req + 8 * i, "version\n", 8);
	ck_assert_int_eq(setsockopt(cl->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	harness_client_send(fd, req, sizeof(req));
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	HARNESS_TURN_UNTIL(d, d->ctl.clients[slot] && cl->eof && cl->out.len > 0 && !cl->writable);
	pump_eof(fd, &rx);
	ck_assert(rx.eof);
	ck_assert_uint_eq(harness_rx_replies(&rx), N);
}
END_TEST

/* One client's ten pipelined requests take several turns, at most
 * CTL_REQUESTS_PER_TURN each, while another client is answered in the first. The
 * client reads its replies between turns, as any client does. */
START_TEST(test_requests_per_turn)
{
	const size_t one = sizeof(VERSION_REPLY) - 1;
	uint32_t slot_a, slot_b;
	int a = client_accepted(&slot_a), b = client_accepted(&slot_b);
	struct harness_rx rx_a = { 0 }, rx_b = { 0 };
	char got[HARNESS_RX_MAX], ten[10 * 8 + 1] = "";
	size_t before;

	assert_request(a, "version\n", VERSION_REPLY);
	assert_request(b, "version\n", VERSION_REPLY);
	for (int i = 0; i < 10; i++)
		strcat(ten, "version\n");
	harness_client_send(a, ten, strlen(ten));
	HARNESS_SEND_STR(b, "version\n");
	harness_turn(d);
	harness_rx_drain(a, &rx_a);
	harness_rx_drain(b, &rx_b);
	ck_assert_uint_eq(harness_rx_replies(&rx_a), CTL_REQUESTS_PER_TURN);
	ck_assert_uint_eq(rx_a.len, CTL_REQUESTS_PER_TURN * one);
	ck_assert_uint_eq(harness_rx_replies(&rx_b), 1);
	ck_assert_str_eq(rx_b.data, VERSION_REPLY);
	for (int t = 0; harness_rx_replies(&rx_a) < 10; t++) {
		ck_assert_msg(t < HARNESS_MAX_TURNS, "%zu of 10 replies after %d turns",
			      harness_rx_replies(&rx_a), HARNESS_MAX_TURNS);
		before = harness_rx_replies(&rx_a);
		harness_turn(d);
		harness_rx_drain(a, &rx_a);
		ck_assert_msg(harness_rx_replies(&rx_a) - before <= CTL_REQUESTS_PER_TURN,
			      "%zu requests of one client answered in one turn (turn %d after the first)",
			      harness_rx_replies(&rx_a) - before, t + 1);
	}
	ck_assert_uint_eq(rx_a.len, 10 * one);
	for (int i = 0; i < 10; i++)
		ck_assert_str_eq(harness_rx_pop(&rx_a, got, sizeof(got)), VERSION_REPLY);
}
END_TEST

/* Forty clients that each ask again as soon as they read a reply want more than a
 * turn answers; a client that connects meanwhile is answered within a few turns all
 * the same, and so is every flooder. The control
 * server once served the clients whose requests arrived in a turn before those
 * waiting from earlier ones, and put the waiting ones off while any client had news:
 * under a flood like this one a newcomer waited for as long as the flood went on
 * (status probes of 400 ms in t_ctlflood). */
START_TEST(test_newcomer_not_starved)
{
	enum { FLOODERS = 40, WARM = 5 };
	/* Every waiting client's request, the newcomer's among them, a turn's answers at a
	 * time; twice that for where in the round a client lands. */
	const int bound = 2 * ((FLOODERS + 1) / CTL_ANSWERS_PER_TURN + 1);
	static struct harness_rx rx[FLOODERS];
	struct harness_rx nrx = { 0 };
	int fl[FLOODERS], last[FLOODERS], newcomer = -1, answered = -1;
	uint32_t slot;

	for (int i = 0; i < FLOODERS; i++) {
		fl[i] = client_accepted(&slot);
		HARNESS_SEND_STR(fl[i], "version\n");
		last[i] = 0;
	}
	for (int t = 1; t <= WARM + HARNESS_MAX_TURNS; t++) {
		char got[sizeof(VERSION_REPLY)];

		harness_turn(d);
		for (int i = 0; i < FLOODERS; i++) {
			harness_rx_drain(fl[i], &rx[i]);
			/* Ask again for every reply read. */
			while (harness_rx_replies(&rx[i]) > 0) {
				ck_assert_str_eq(harness_rx_pop(&rx[i], got, sizeof(got)), VERSION_REPLY);
				HARNESS_SEND_STR(fl[i], "version\n");
				last[i] = t;
			}
			ck_assert_msg(t - last[i] <= bound,
				      "flooder %d had no reply for %d turns (at most %d)", i,
				      t - last[i], bound);
		}
		if (t == WARM) {
			newcomer = harness_client_connect();
			HARNESS_SEND_STR(newcomer, "version\n");
		}
		if (newcomer < 0 || answered >= 0) {
			if (answered >= 0 && t - answered > bound)
				return;
			continue;
		}
		harness_rx_drain(newcomer, &nrx);
		if (harness_rx_replies(&nrx) == 1) {
			ck_assert_str_eq(nrx.data, VERSION_REPLY);
			ck_assert_msg(t - WARM <= bound,
				      "the newcomer waited %d turns behind %d flooders (at most %d)",
				      t - WARM, FLOODERS, bound);
			answered = t;
		}
	}
	ck_abort_msg("the newcomer had no reply in %d turns of a flood", HARNESS_MAX_TURNS);
}
END_TEST

START_TEST(test_line_too_long)
{
	char line[CTL_MAX_LINE], want[64];
	uint32_t slot;
	int fd = client_accepted(&slot);
	struct harness_rx rx = { 0 };
	char got[HARNESS_RX_MAX];

	memset(line, 'x', sizeof(line));
	harness_client_send(fd, line, sizeof(line));
	harness_pump_replies(d, fd, &rx, 1);
	snprintf(want, sizeof(want), "ERR line too long (at most %d bytes)\n\n", CTL_MAX_LINE - 1);
	ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)), want);
	pump_eof(fd, &rx);
	ck_assert_msg(rx.eof, "closed with %s, not EOF", strerror(rx.err));
	ck_assert_uint_eq(rx.len, 0);
	ck_assert_uint_eq(d->ctl.n_clients, 0);
}
END_TEST

/* A request answered first, then a line that grows too long behind it. */
START_TEST(test_line_too_long_after_request)
{
	char line[8 + CTL_MAX_LINE], want[64];
	uint32_t slot;
	int fd = client_accepted(&slot);
	struct harness_rx rx = { 0 };
	char got[HARNESS_RX_MAX];

	memcpy(line, "version\n", 8);
	memset(line + 8, 'x', CTL_MAX_LINE);
	harness_client_send(fd, line, sizeof(line));
	harness_pump_replies(d, fd, &rx, 2);
	ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)), VERSION_REPLY);
	snprintf(want, sizeof(want), "ERR line too long (at most %d bytes)\n\n", CTL_MAX_LINE - 1);
	ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)), want);
	pump_eof(fd, &rx);
	ck_assert(rx.eof);
	ck_assert_uint_eq(rx.len, 0);
}
END_TEST

/* A line of CTL_MAX_LINE bytes with its newline is a request like any other. */
START_TEST(test_longest_line_accepted)
{
	char line[CTL_MAX_LINE + 1], want[128];
	uint32_t slot;
	int fd = client_accepted(&slot);

	memset(line, ' ', CTL_MAX_LINE - 1);
	memcpy(line, "version", 7);
	line[CTL_MAX_LINE - 1] = '\n';
	line[CTL_MAX_LINE] = '\0';
	assert_request(fd, line, VERSION_REPLY);
	memset(line, 'x', CTL_MAX_LINE - 1);
	snprintf(want, sizeof(want), "ERR unknown command '%.32s'; try 'help'\n\n", line);
	assert_request(fd, line, want);
	assert_request(fd, "version\n", VERSION_REPLY);
	ck_assert_uint_eq(d->ctl.n_clients, 1);
}
END_TEST

/* The longest line, its newline sent only once the daemon holds the rest. */
START_TEST(test_longest_line_newline_later)
{
	char line[CTL_MAX_LINE - 1];
	uint32_t slot;
	int fd = client_accepted(&slot);

	memset(line, ' ', sizeof(line));
	memcpy(line, "version", 7);
	harness_client_send(fd, line, sizeof(line));
	HARNESS_TURN_UNTIL(d, held_bytes(slot) == sizeof(line));
	assert_request(fd, "\n", VERSION_REPLY);
}
END_TEST

/* At EOF, an unterminated line of CTL_MAX_LINE - 1 bytes is a request; one more byte
 * makes it too long. */
START_TEST(test_longest_line_at_eof)
{
	char line[CTL_MAX_LINE], want[64], got[HARNESS_RX_MAX];
	struct harness_rx rx = { 0 };
	uint32_t slot;
	int fd;

	memset(line, ' ', sizeof(line));
	memcpy(line, "version", 7);
	for (size_t len = CTL_MAX_LINE - 1; len <= CTL_MAX_LINE; len++) {
		fd = client_accepted(&slot);
		harness_client_send(fd, line, len);
		ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
		memset(&rx, 0, sizeof(rx));
		harness_pump_replies(d, fd, &rx, 1);
		snprintf(want, sizeof(want), "ERR line too long (at most %d bytes)\n\n",
			 CTL_MAX_LINE - 1);
		ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)),
				 len < CTL_MAX_LINE ? VERSION_REPLY : want);
		pump_eof(fd, &rx);
		ck_assert(rx.eof);
		ck_assert_uint_eq(rx.len, 0);
		harness_client_close(fd);
	}
}
END_TEST

static const struct {
	const char *req;
	size_t len;
	const char *want;
} garbage_cases[] = {
#define GARBAGE(r, w) { (r), sizeof(r) - 1, (w) }
	GARBAGE("\x01\xff\n", "ERR invalid characters in request\n\n"),
	GARBAGE("version\x1b[2J\n", "ERR invalid characters in request\n\n"),
	GARBAGE("\xff\n", "ERR unknown command '?'; try 'help'\n\n"),
	GARBAGE("\n", "ERR empty request; try 'help'\n\n"),
	GARBAGE(" \t \r\n", "ERR empty request; try 'help'\n\n"),
	GARBAGE("version a b c d e f g h i j k l m n o p\n", "ERR too many words in request\n\n"),
	GARBAGE("version a b c d e f g h i j k l m n o\n", "ERR usage: version [-j]\n\n"),
	GARBAGE("status -x\n", "ERR unknown option; only -j is accepted\n\n"),
	GARBAGE("-j\n", "ERR no command; try 'help'\n\n"),
	GARBAGE("nosuch\n", "ERR unknown command 'nosuch'; try 'help'\n\n"),
	GARBAGE("sessions\n", "ERR usage: sessions [-j] TARGET\n\n"),
	GARBAGE("\tstatus\t-j  nosuch\r\n", NOSUCH_REPLY),
	/* A NUL is a control character too; it must not cut the request short. */
	GARBAGE("version\0 junk\n", "ERR invalid characters in request\n\n"),
#undef GARBAGE
};

/* A bad request gets its error, and the next request on the connection its answer. */
START_TEST(test_garbage)
{
	uint32_t slot;
	int fd = client_accepted(&slot);
	struct harness_rx rx = { 0 };
	char got[HARNESS_RX_MAX];

	harness_client_send(fd, garbage_cases[_i].req, garbage_cases[_i].len);
	HARNESS_SEND_STR(fd, "version\n");
	harness_pump_replies(d, fd, &rx, 2);
	ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)), garbage_cases[_i].want);
	ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)), VERSION_REPLY);
	ck_assert_uint_eq(rx.len, 0);
	ck_assert(!rx.eof && !rx.err);
	ck_assert_uint_eq(d->ctl.n_clients, 1);
}
END_TEST

/* Every slot held with half a request (a slow-line flood): a newcomer still gets in, in
 * the slot of the client whose line has waited longest, and is answered. */
START_TEST(test_evict_partial)
{
	int fds[CTL_MAX_CLIENTS], fresh;
	uint32_t slots[CTL_MAX_CLIENTS], slot;
	struct harness_rx rx = { 0 };
	char got[HARNESS_RX_MAX];

	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		fds[i] = client_accepted(&slots[i]);
		HARNESS_SEND_STR(fds[i], "vers");
		HARNESS_TURN_UNTIL(d, d->ctl.clients[slots[i]]->in_len == 4);
	}
	ck_assert_uint_eq(d->ctl.n_clients, CTL_MAX_CLIENTS);
	fresh = client_accepted(&slot);
	ck_assert_uint_eq(slot, slots[0]);
	ck_assert_uint_eq(d->ctl.evicted, 1);
	ck_assert_uint_eq(d->ctl.rejected_busy, 0);
	pump_eof(fds[0], &rx);
	assert_request(fresh, "version\n", VERSION_REPLY);
	assert_request(fds[CTL_MAX_CLIENTS - 1], "ion\n", VERSION_REPLY);
	HARNESS_SEND_STR(fresh, "status -j\n");
	memset(&rx, 0, sizeof(rx));
	harness_pump_replies(d, fresh, &rx, 1);
	harness_rx_pop(&rx, got, sizeof(got));
	ck_assert_msg(strstr(got, "\"control\":{\"clients\":64,\"rejected_busy\":0,\"timed_out\":0,"
				  "\"evicted\":1,"), "%s", got);
}
END_TEST

/* ERR busy only when no slot can be taken: every client waits for a deferred reply. */
START_TEST(test_busy_all_deferred)
{
	uint32_t slots[CTL_MAX_CLIENTS];
	struct harness_rx rx = { 0 };
	int extra;

	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		client_accepted(&slots[i]);
		ck_assert_uint_ne(ctl_defer(&d->ctl, d->ctl.clients[slots[i]]), 0);
	}
	extra = harness_client_connect();
	HARNESS_TURN_UNTIL(d, d->ctl.rejected_busy == 1);
	pump_eof(extra, &rx);
	ck_assert_str_eq(rx.data, "ERR busy\n\n");
	ck_assert_uint_eq(d->ctl.evicted, 0);
	ck_assert_uint_eq(d->ctl.n_clients, CTL_MAX_CLIENTS);
}
END_TEST

/* With every slot held, newcomers take the slots in this order: an idle client, one
 * silent for over CTL_EVICT_GRACE, one that does not read its reply, one with half a
 * request, then the silent newcomer that has waited longest; among equals the oldest. */
START_TEST(test_evict_order)
{
	enum { IDLE = 10, SILENT_OLD = 20, STALLED = 30, PARTIAL = 40, OLDEST_SILENT = 0 };
	static const int order[] = { IDLE, SILENT_OLD, STALLED, PARTIAL, OLDEST_SILENT };
	int fds[CTL_MAX_CLIENTS];
	uint32_t slots[CTL_MAX_CLIENTS], slot;

	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		fds[i] = client_accepted(&slots[i]);
	assert_request(fds[IDLE], "version\n", VERSION_REPLY);
	d->ctl.clients[slots[SILENT_OLD]]->connected_at -= 2 * CTL_EVICT_GRACE;
	client_stall(fds[STALLED], slots[STALLED]);
	HARNESS_SEND_STR(fds[PARTIAL], "vers");
	HARNESS_TURN_UNTIL(d, d->ctl.clients[slots[PARTIAL]]->in_len == 4);
	for (size_t k = 0; k < ELEMENTSOF(order); k++) {
		client_accepted(&slot);
		ck_assert_msg(slot == slots[order[k]], "newcomer %zu took slot %u, not that of client %d",
			      k, slot, order[k]);
		ck_assert_uint_eq(d->ctl.evicted, k + 1);
	}
	/* The newcomers are silent too, and younger: the next oldest silent one goes. */
	client_accepted(&slot);
	ck_assert_uint_eq(slot, slots[1]);
	ck_assert_uint_eq(d->ctl.rejected_busy, 0);
}
END_TEST

/* Among clients doing the same with their slots, a newcomer displaces one of the
 * process holding the most: a lone client of another process, silent longest (slow
 * to send its request), keeps its slot against a flood of one process. */
START_TEST(test_evict_flooder_first)
{
	uint32_t lone_slot = CTL_MAX_CLIENTS, slot;
	int go[2], done[2];
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(done), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		close(done[1]);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", harness.sock_path);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(2);
		(void)!write(go[1], "x", 1);
		(void)!read(done[0], &c, 1);
		_exit(0);
	}
	close(done[0]);
	ck_assert_int_eq(read(go[0], &c, 1), 1);
	HARNESS_TURN_UNTIL(d, d->ctl.n_clients == 1);
	for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++)
		if (d->ctl.clients[i])
			lone_slot = i;
	for (int i = 1; i < CTL_MAX_CLIENTS; i++)
		client_accepted(&slot);
	ck_assert_uint_eq(d->ctl.n_clients, CTL_MAX_CLIENTS);
	client_accepted(&slot);
	ck_assert_uint_ne(slot, lone_slot);
	ck_assert_uint_eq(d->ctl.evicted, 1);
	ck_assert_int_eq(d->ctl.clients[lone_slot]->pid, pid);
	close(done[1]);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	close(go[0]);
	close(go[1]);
}
END_TEST

/* With every slot held by an idle client, a newcomer takes the slot of the one idle
 * longest; a client with half a request is not the one while idle ones are there. */
START_TEST(test_evict_idle)
{
	int fds[CTL_MAX_CLIENTS], extra;
	uint32_t slots[CTL_MAX_CLIENTS];
	struct harness_rx rx = { 0 };

	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		fds[i] = client_accepted(&slots[i]);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		assert_request(fds[i], "version\n", VERSION_REPLY);
	/* The oldest has half a request: the next oldest goes instead. */
	HARNESS_SEND_STR(fds[0], "vers");
	HARNESS_TURN_UNTIL(d, d->ctl.clients[slots[0]]->in_len == 4);
	extra = harness_client_connect();
	HARNESS_TURN_UNTIL(d, d->ctl.evicted == 1);
	ck_assert_ptr_nonnull(d->ctl.clients[slots[0]]);
	ck_assert_uint_eq(d->ctl.rejected_busy, 0);
	ck_assert_uint_eq(d->ctl.n_clients, CTL_MAX_CLIENTS);
	pump_eof(fds[1], &rx);
	ck_assert(rx.eof);
	ck_assert_uint_eq(rx.len, 0);
	assert_request(extra, "version\n", VERSION_REPLY);
	assert_request(fds[0], "ion\n", VERSION_REPLY);
}
END_TEST

/* An idle client is dropped after idle_timeout; one with a request answered since is not. */
START_TEST(test_sweep_idle)
{
	uint32_t idle_slot, recent_slot;
	int idle = client_accepted(&idle_slot), recent = client_accepted(&recent_slot);
	int64_t now = now_ns(), later = now + IDLE_TIMEOUT + SEC;
	struct harness_rx rx = { 0 };

	ctl_sweep(&d->ctl, now + IDLE_TIMEOUT - SEC);
	ck_assert_uint_eq(d->ctl.timed_out, 0);
	ck_assert_uint_eq(d->ctl.n_clients, 2);

	HARNESS_SEND_STR(recent, "version\n");
	ctl_handle_event(&d->ctl, CTL_EVDATA_CLIENT(recent_slot, d->ctl.gen[recent_slot]), EPOLLIN,
			 later - SEC);
	harness_rx_drain(recent, &rx);
	ck_assert_str_eq(rx.data, VERSION_REPLY);

	ctl_sweep(&d->ctl, later);
	ck_assert_uint_eq(d->ctl.timed_out, 1);
	ck_assert_ptr_null(d->ctl.clients[idle_slot]);
	ck_assert_ptr_nonnull(d->ctl.clients[recent_slot]);
	memset(&rx, 0, sizeof(rx));
	harness_rx_drain(idle, &rx);
	ck_assert(rx.eof);
	ck_assert_uint_eq(rx.len, 0);
	assert_request(recent, "version\n", VERSION_REPLY);
}
END_TEST

/* A request line left unfinished for io_timeout gets its client dropped. */
START_TEST(test_sweep_partial_line)
{
	uint32_t part_slot, idle_slot;
	int part = client_accepted(&part_slot), idle = client_accepted(&idle_slot);
	struct harness_rx rx = { 0 };
	int64_t now;

	assert_request(idle, "version\n", VERSION_REPLY);
	HARNESS_SEND_STR(part, "vers");
	HARNESS_TURN_UNTIL(d, held_bytes(part_slot) == 4);
	now = now_ns();

	ctl_sweep(&d->ctl, now + IO_TIMEOUT - SEC);
	ck_assert_uint_eq(d->ctl.timed_out, 0);
	ck_assert_ptr_nonnull(d->ctl.clients[part_slot]);

	ctl_sweep(&d->ctl, now + IO_TIMEOUT + SEC);
	ck_assert_uint_eq(d->ctl.timed_out, 1);
	ck_assert_ptr_null(d->ctl.clients[part_slot]);
	ck_assert_ptr_nonnull(d->ctl.clients[idle_slot]);
	harness_rx_drain(part, &rx);
	ck_assert(rx.eof);
	ck_assert_uint_eq(rx.len, 0);
	assert_request(idle, "version\n", VERSION_REPLY);
}
END_TEST

/* A client that does not read its replies is dropped after io_timeout. */
/* A client still taking its reply, with its next request already sent, is not
 * stalled: io_timeout counts for an unfinished line only once no reply is waiting. */
START_TEST(test_sweep_reading_with_pipelined_request)
{
	uint32_t slot;
	int fd = client_accepted(&slot);
	struct ctl_client *cl;
	int64_t now;

	client_stall(fd, slot);
	/* As if "help\nversion\n" had come in one read: the second line waits. */
	cl = d->ctl.clients[slot];
	memcpy(cl->in, "version\n", 8);
	cl->in_len = 8;
	cl->line_since = now_ns();
	now = cl->line_since + IO_TIMEOUT + SEC;
	/* The reply moved a moment ago: the client reads, slowly but steadily. */
	cl->last_active = now - SEC;
	ctl_sweep(&d->ctl, now);
	ck_assert_uint_eq(d->ctl.timed_out, 0);
	ck_assert_ptr_nonnull(d->ctl.clients[slot]);
}
END_TEST

START_TEST(test_sweep_reply_pending)
{
	uint32_t stall_slot, idle_slot;
	int stall = client_accepted(&stall_slot), idle = client_accepted(&idle_slot);
	int64_t now;
	int r;

	assert_request(idle, "version\n", VERSION_REPLY);
	client_stall(stall, stall_slot);
	ck_assert_int_eq(d->ctl.clients[stall_slot]->line_since, 0);
	now = now_ns();

	ctl_sweep(&d->ctl, now + IO_TIMEOUT - SEC);
	ck_assert_uint_eq(d->ctl.timed_out, 0);
	ck_assert_ptr_nonnull(d->ctl.clients[stall_slot]);

	ctl_sweep(&d->ctl, now + IO_TIMEOUT + SEC);
	ck_assert_uint_eq(d->ctl.timed_out, 1);
	ck_assert_ptr_null(d->ctl.clients[stall_slot]);
	ck_assert_ptr_nonnull(d->ctl.clients[idle_slot]);
	r = drain_to_close(stall);
	ck_assert_msg(r == 0 || r == -ECONNRESET, "not closed: %s", strerror(-r));
	assert_request(idle, "version\n", VERSION_REPLY);
}
END_TEST

/* A deferred reply: the client's next request waits behind it, no timeout or eviction
 * takes the client meanwhile, and the completed reply goes out first, in order. */
START_TEST(test_defer_complete)
{
	static const char later[] = "OK\nlater\n\n";
	uint32_t slot;
	int fd = client_accepted(&slot);
	struct harness_rx rx = { 0 };
	char got[HARNESS_RX_MAX];
	uint64_t ticket;
	int64_t now;

	ticket = ctl_defer(&d->ctl, d->ctl.clients[slot]);
	ck_assert_uint_ne(ticket, 0);
	HARNESS_SEND_STR(fd, "version\n");
	HARNESS_TURN_UNTIL(d, held_bytes(slot) == 8);
	harness_turn(d);
	harness_rx_drain(fd, &rx);
	ck_assert_uint_eq(rx.len, 0);
	now = now_ns();
	ctl_sweep(&d->ctl, now + IDLE_TIMEOUT + SEC);
	ck_assert_uint_eq(d->ctl.timed_out, 0);
	ck_assert_ptr_nonnull(d->ctl.clients[slot]);

	ck_assert(ctl_complete(&d->ctl, ticket, later, sizeof(later) - 1));
	ck_assert(!ctl_complete(&d->ctl, ticket, later, sizeof(later) - 1));
	harness_pump_replies(d, fd, &rx, 2);
	ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)), later);
	ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)), VERSION_REPLY);
}
END_TEST

/* A client that half-closes after its request still gets the deferred reply; one that
 * is gone makes ctl_complete() say so. */
START_TEST(test_defer_client_gone)
{
	static const char later[] = "ERR failed\n\n";
	uint32_t half_slot, gone_slot;
	int half = client_accepted(&half_slot), gone = client_accepted(&gone_slot);
	uint64_t t_half = ctl_defer(&d->ctl, d->ctl.clients[half_slot]);
	uint64_t t_gone = ctl_defer(&d->ctl, d->ctl.clients[gone_slot]);
	struct harness_rx rx = { 0 };

	ck_assert_uint_ne(t_half, t_gone);
	ck_assert_int_eq(shutdown(half, SHUT_WR), 0);
	harness_client_close(gone);
	HARNESS_TURN_UNTIL(d, d->ctl.clients[gone_slot] == NULL);
	ck_assert_ptr_nonnull(d->ctl.clients[half_slot]);
	ck_assert(!ctl_complete(&d->ctl, t_gone, later, sizeof(later) - 1));
	ck_assert(ctl_complete(&d->ctl, t_half, later, sizeof(later) - 1));
	pump_eof(half, &rx);
	ck_assert_str_eq(rx.data, later);
}
END_TEST

/* A deferred reply that does not come within CTL_DEFER_MAX becomes an error, and the
 * ticket is void. */
START_TEST(test_defer_expires)
{
	static const char later[] = "OK\n\n";
	uint32_t slot;
	int fd = client_accepted(&slot);
	uint64_t ticket = ctl_defer(&d->ctl, d->ctl.clients[slot]);
	int64_t at = d->ctl.clients[slot]->deferred_at;
	struct harness_rx rx = { 0 };
	char got[HARNESS_RX_MAX];

	ctl_sweep(&d->ctl, at + CTL_DEFER_MAX - SEC);
	ck_assert_uint_eq(d->ctl.clients[slot]->deferred, ticket);
	ctl_sweep(&d->ctl, at + CTL_DEFER_MAX + SEC);
	ck_assert(!ctl_complete(&d->ctl, ticket, later, sizeof(later) - 1));
	harness_pump_replies(d, fd, &rx, 1);
	ck_assert_str_eq(harness_rx_pop(&rx, got, sizeof(got)), "ERR no reply within 90s\n\n");
	assert_request(fd, "version\n", VERSION_REPLY);
}
END_TEST

/* A peer in admin_group among more than 512 supplementary groups is an admin: the
 * SO_PEERGROUPS buffer grows until they fit. The peer is a child that takes 600
 * groups, the admin group last, and uid nobody, then asks to pause a target. */
START_TEST(test_admin_many_groups)
{
	enum { N_GROUPS = 600, ADMIN_GID = 4242, NOBODY = 65534 };
	char text[512], reply[256] = "";
	int pfd[2], status = 0;
	ssize_t n;
	pid_t pid;

	daemon_stop();
	snprintf(text, sizeof(text),
		 "[daemon]\ncontrol_socket = %s\ncontrol_mode = 0666\nadmin_group = %d\n"
		 "[target \"refused\"]\naddress = 127.0.0.1:%u\nconnections = 2\ninterval = 1h\n",
		 harness.sock_path, ADMIN_GID, harness.port);
	d = harness_daemon_start(text, harness.conf_path);
	ck_assert_int_eq(chmod(harness.dir, 0711), 0);
	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		gid_t groups[N_GROUPS];
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		struct pollfd p;
		int fd;
		size_t len = 0;

		for (int i = 0; i < N_GROUPS; i++)
			groups[i] = (gid_t)(10000 + i);
		groups[N_GROUPS - 1] = ADMIN_GID;
		if (setgroups(N_GROUPS, groups) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(2);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", harness.sock_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    send(fd, "pause refused\n", 14, MSG_NOSIGNAL) != 14)
			_exit(3);
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		while (len < sizeof(reply) - 1 && !strstr(reply, "\n\n") && poll(&p, 1, 10000) > 0) {
			ssize_t r = recv(fd, reply + len, sizeof(reply) - 1 - len, 0);

			if (r <= 0)
				break;
			len += (size_t)r;
			reply[len] = '\0';
		}
		(void)!write(pfd[1], reply, len);
		_exit(0);
	}
	close(pfd[1]);
	HARNESS_TURN_UNTIL(d, waitpid(pid, &status, WNOHANG) == pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	n = read(pfd[0], reply, sizeof(reply) - 1);
	close(pfd[0]);
	ck_assert_int_ge(n, 0);
	reply[n] = '\0';
	ck_assert_str_eq(reply, "OK\nrefused paused\n\n");
}
END_TEST

/* The daemon of the slice tests: three targets of SLICE_SESS sessions, an hour apart,
 * written to the configuration file too, so that a reload can change the list. */
#define SLICE_SESS 300

/* Write the configuration with one target per letter of names into text and the
 * file. */
static void slice_conf(const char *names, char *text, size_t size)
{
	size_t n = (size_t)snprintf(text, size, "[daemon]\ncontrol_socket = %s\n", harness.sock_path);
	FILE *f;

	for (const char *p = names; *p; p++)
		n += (size_t)snprintf(text + n, size - n,
				      "[target \"%c\"]\naddress = 127.0.0.1:%u\nconnections = %d\n"
				      "interval = 1h\n", *p, harness.port, SLICE_SESS);
	f = fopen(harness.conf_path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void slice_daemon(const char *names)
{
	char text[2048];

	daemon_stop();
	slice_conf(names, text, sizeof(text));
	d = harness_daemon_start(text, harness.conf_path);
}

/* Rewrite the configuration with these targets and reload it. */
static void slice_reload(const char *names)
{
	char text[2048];

	slice_conf(names, text, sizeof(text));
	ck_assert_int_eq(daemon_reload(d, NULL), 0);
}

/* Run a command line as the daemon's own caller would (admin, whole reply). */
static void slice_command(const char *line)
{
	char copy[128];
	struct buf out;

	buf_init(&out, CTL_MAX_REPLY);
	snprintf(copy, sizeof(copy), "%s", line);
	ctlcmd_dispatch(d, NULL, copy, strlen(copy), &out, NULL);
	ck_assert_msg(strncmp(out.data, "OK\n", 3) == 0, "%s: %s", line, out.data);
	buf_free(&out);
}

static size_t count_of(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
		n++;
	return n;
}

/* Every listing rendered one row per slice is byte for byte the listing rendered
 * whole, the metrics exposition one target's lines per slice too. */
/* Remove the process_* sample lines of an exposition in place. */
static void drop_process_samples(char *text)
{
	char *in = text, *out = text;

	while (*in) {
		size_t n = strcspn(in, "\n");

		n += in[n] == '\n';
		if (strncmp(in, "process_", 8) != 0) {
			memmove(out, in, n);
			out += n;
		}
		in += n;
	}
	*out = '\0';
}

START_TEST(test_slices_equal_whole)
{
	struct buf whole, sliced;
	struct view v;
	int64_t now = now_ns();
	struct target *t;

	slice_daemon("abc");
	t = pool_find_target(&d->pool, "b");
	daemon_view(d, &v);
	for (int k = 0; k < 6; k++) {
		static const enum render_kind kinds[] = { RENDER_STATUS, RENDER_STATUS, RENDER_STATS,
							  RENDER_SESSIONS, RENDER_SESSIONS, RENDER_STATUS };
		struct render_cursor cur;
		size_t slices = 0;
		bool json = k == 1 || k == 4;
		const struct target *about = kinds[k] == RENDER_SESSIONS || k == 5 ? t : NULL;

		buf_init(&whole, CTL_MAX_REPLY);
		buf_init(&sliced, CTL_MAX_REPLY);
		render_begin(&cur, kinds[k], about, json, now);
		while (!render_slice(&v, &cur, &whole, SIZE_MAX))
			;
		render_begin(&cur, kinds[k], about, json, now);
		while (!render_slice(&v, &cur, &sliced, 1))
			slices++;
		ck_assert_str_eq(sliced.data, whole.data);
		ck_assert_msg(slices >= (kinds[k] == RENDER_SESSIONS ? SLICE_SESS : about ? 0 : 3),
			      "listing %d in %zu slices", k, slices);
		buf_free(&whole);
		buf_free(&sliced);
	}
	{
		struct metrics_cursor mc;
		size_t slices = 0;

		buf_init(&whole, CTL_MAX_REPLY);
		buf_init(&sliced, CTL_MAX_REPLY);
		metrics_render(&v, now, &whole);
		metrics_begin(&mc, now);
		while (!metrics_render_slice(&v, &mc, &sliced, 1))
			slices++;
		/* The process's CPU time and memory move between the two renders. */
		drop_process_samples(whole.data);
		drop_process_samples(sliced.data);
		ck_assert_str_eq(sliced.data, whole.data);
		ck_assert_uint_ge(slices, 9 * 3);
		buf_free(&whole);
		buf_free(&sliced);
	}
}
END_TEST

/* Sessions retired or added between slices: the listing stops short of the retired
 * ones or goes on to the new ones, every index once, in order, valid JSON. */
START_TEST(test_sessions_cursor_changes)
{
	static const int later[] = { 100, 450 };

	slice_daemon("a");
	for (size_t k = 0; k < ELEMENTSOF(later); k++) {
		struct render_cursor cur;
		struct buf out;
		struct view v;
		char want[64], cmd[64];

		buf_init(&out, CTL_MAX_REPLY);
		daemon_view(d, &v);
		render_begin(&cur, RENDER_SESSIONS, pool_find_target(&d->pool, "a"), true, now_ns());
		ck_assert(!render_slice(&v, &cur, &out, 2000));
		ck_assert_uint_lt(cur.rows, 100);
		snprintf(cmd, sizeof(cmd), "set a connections %d", later[k]);
		slice_command(cmd);
		daemon_view(d, &v);
		while (!render_slice(&v, &cur, &out, 2000))
			;
		ck_assert_uint_eq(count_of(out.data, "{\"index\":"), (size_t)later[k]);
		snprintf(want, sizeof(want), "{\"index\":%d,", later[k] - 1);
		ck_assert_ptr_nonnull(strstr(out.data, want));
		ck_assert_str_eq(out.data + out.len - 3, "]}\n");
		for (int i = 0; i < later[k]; i++) {
			snprintf(want, sizeof(want), "{\"index\":%d,", i);
			ck_assert_uint_eq(count_of(out.data, want), 1);
		}
		buf_free(&out);
		slice_command("set a connections 300");
	}
}
END_TEST

/* A reload between slices: a session listing of a removed target ends with a word of
 * why; a status listing goes on after the last target it showed. */
START_TEST(test_cursor_across_reload)
{
	static const char ended[] = "],\"ended\":\"the target was removed\"}\n";
	struct render_cursor sess, stat, text;
	struct buf s_out, j_out, t_out;
	struct view v;
	int64_t now = now_ns();

	slice_daemon("abc");
	buf_init(&s_out, CTL_MAX_REPLY);
	buf_init(&j_out, CTL_MAX_REPLY);
	buf_init(&t_out, CTL_MAX_REPLY);
	daemon_view(d, &v);
	render_begin(&sess, RENDER_SESSIONS, pool_find_target(&d->pool, "b"), true, now);
	render_begin(&text, RENDER_SESSIONS, pool_find_target(&d->pool, "b"), false, now);
	render_begin(&stat, RENDER_STATUS, NULL, true, now);
	ck_assert(!render_slice(&v, &sess, &s_out, 1000));
	ck_assert(!render_slice(&v, &text, &t_out, 1000));
	while (stat.rows == 0)
		ck_assert(!render_slice(&v, &stat, &j_out, 1));
	ck_assert_ptr_nonnull(strstr(j_out.data, "{\"name\":\"a\""));
	slice_reload("ca");
	daemon_view(d, &v);
	while (!render_slice(&v, &sess, &s_out, 1000))
		;
	while (!render_slice(&v, &text, &t_out, 1000))
		;
	while (!render_slice(&v, &stat, &j_out, 1))
		;
	ck_assert_str_eq(s_out.data + s_out.len - strlen(ended), ended);
	ck_assert_ptr_nonnull(strstr(t_out.data, "\n(the target was removed; the listing ends here)\n"));
	/* After a, which the new list has last: nothing more, and b never. */
	ck_assert_uint_eq(count_of(j_out.data, "{\"name\":"), 1);
	ck_assert_str_eq(j_out.data + j_out.len - 3, "]}\n");
	buf_free(&s_out);
	buf_free(&j_out);
	buf_free(&t_out);
}
END_TEST

/* A client that asks for a long reply and does not read it holds a slice or two in
 * the daemon, not the reply; read, it gets all of it, in at most CTL_TURN_BYTES plus
 * a slice per loop turn. */
START_TEST(test_long_reply_in_slices)
{
	static char got[2 << 20];
	size_t len = 0, most = 0;
	uint32_t slot;
	ssize_t n;
	int fd;

	slice_daemon("a");
	slice_command("set a connections 3000");
	fd = client_accepted(&slot);
	HARNESS_SEND_STR(fd, "sessions -j a\n");
	for (int t = 0; t < 50; t++)
		harness_turn(d);
	ck_assert_ptr_nonnull(d->ctl.clients[slot]);
	ck_assert_ptr_nonnull(d->ctl.clients[slot]->stream.next);
	ck_assert_uint_le(d->ctl.clients[slot]->out.cap, 2 * (size_t)CTL_SLICE_BYTES);
	/* What the socket holds already; from here on, what each turn sends. */
	while ((n = recv(fd, got + len, sizeof(got) - 1 - len, MSG_DONTWAIT)) > 0)
		len += (size_t)n;
	for (int t = 0; len < 4 || memcmp(got + len - 4, "]}\n\n", 4) != 0; t++) {
		size_t before = len;

		ck_assert_msg(t < 10 * HARNESS_MAX_TURNS, "%zu bytes after %d turns", len, t);
		harness_turn(d);
		while ((n = recv(fd, got + len, sizeof(got) - 1 - len, MSG_DONTWAIT)) > 0)
			len += (size_t)n;
		most = MAX(most, len - before);
		got[len] = '\0';
	}
	ck_assert_uint_eq(count_of(got, "{\"index\":"), 3000);
	ck_assert_str_eq(got + len - 4, "]}\n\n");
	ck_assert_uint_le(most, (size_t)CTL_TURN_BYTES + 3 * (size_t)CTL_SLICE_BYTES);
}
END_TEST

/* daemon_free() with a full house: every client in some state, one evicted for a
 * newcomer. */
START_TEST(test_free_closes_everything)
{
	int fds[CTL_MAX_CLIENTS], extra;
	uint32_t slots[CTL_MAX_CLIENTS];
	char ten[10 * 8 + 1] = "";

	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		fds[i] = client_accepted(&slots[i]);
	client_stall(fds[2], slots[2]);
	HARNESS_SEND_STR(fds[0], "vers");
	for (int i = 0; i < 10; i++)
		strcat(ten, "version\n");
	harness_client_send(fds[1], ten, strlen(ten));
	HARNESS_TURN_UNTIL(d, d->ctl.pending != 0);
	HARNESS_TURN_UNTIL(d, held_bytes(slots[0]) == 4);
	extra = harness_client_connect();
	/* Busy while the silent ones are new; one evicted should the test be slow. */
	HARNESS_TURN_UNTIL(d, d->ctl.evicted + d->ctl.rejected_busy == 1);
	ck_assert_uint_eq(d->ctl.n_clients, CTL_MAX_CLIENTS);

	daemon_stop();
	ck_assert_int_eq(access(harness.sock_path, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		int r = drain_to_close(fds[i]);

		ck_assert_msg(r == 0 || r == -ECONNRESET, "client %d: %s", i, strerror(-r));
	}
	ck_assert_int_eq(drain_to_close(extra), 0);
	harness_clients_close_all();
	ck_assert_uint_eq(count_fds(), fds_before);
}
END_TEST

static Suite *ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc;

	tc = tcase_create("requests");
	tcase_add_unchecked_fixture(tc, harness_scratch_setup, harness_scratch_teardown);
	tcase_add_checked_fixture(tc, daemon_setup, daemon_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_request_reply);
	tcase_add_test(tc, test_pipelined_in_order);
	tcase_add_test(tc, test_request_split_across_writes);
	tcase_add_test(tc, test_unterminated_at_eof);
	tcase_add_test(tc, test_unterminated_after_pipelined);
	tcase_add_test(tc, test_backpressure_then_eof);
	tcase_add_test(tc, test_sweep_reading_with_pipelined_request);
	tcase_add_test(tc, test_requests_per_turn);
	tcase_add_test(tc, test_newcomer_not_starved);
	tcase_add_loop_test(tc, test_garbage, 0, ELEMENTSOF(garbage_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_unchecked_fixture(tc, harness_scratch_setup, harness_scratch_teardown);
	tcase_add_checked_fixture(tc, daemon_setup, daemon_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_line_too_long_after_request);
	tcase_add_test(tc, test_longest_line_accepted);
	tcase_add_test(tc, test_longest_line_newline_later);
	tcase_add_test(tc, test_longest_line_at_eof);
	tcase_add_test(tc, test_evict_partial);
	tcase_add_test(tc, test_busy_all_deferred);
	tcase_add_test(tc, test_evict_order);
	tcase_add_test(tc, test_evict_flooder_first);
	tcase_add_test(tc, test_evict_idle);
	tcase_add_test(tc, test_free_closes_everything);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeouts");
	tcase_add_unchecked_fixture(tc, harness_scratch_setup, harness_scratch_teardown);
	tcase_add_checked_fixture(tc, daemon_setup, daemon_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sweep_idle);
	tcase_add_test(tc, test_sweep_partial_line);
	tcase_add_test(tc, test_sweep_reply_pending);
	tcase_add_test(tc, test_admin_many_groups);
	tcase_add_test(tc, test_defer_complete);
	tcase_add_test(tc, test_defer_client_gone);
	tcase_add_test(tc, test_defer_expires);
	suite_add_tcase(s, tc);

	tc = tcase_create("slices");
	tcase_add_unchecked_fixture(tc, harness_scratch_setup, harness_scratch_teardown);
	tcase_add_checked_fixture(tc, daemon_setup, daemon_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_slices_equal_whole);
	tcase_add_test(tc, test_sessions_cursor_changes);
	tcase_add_test(tc, test_cursor_across_reload);
	tcase_add_test(tc, test_long_reply_in_slices);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ctl_suite)
