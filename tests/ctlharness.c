/* The harness for the suites that drive the daemon's control socket in-process: the
 * scratch directory and refusing port of a test case, a daemon started from memory,
 * turns of its loop, and AF_UNIX clients with what they receive. Every failure is a
 * Check assertion, so a test needs no error paths of its own. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "ctlcmd.h"
#include "daemon.h"
#include "proto.h"
#include "ctlharness.h"

/* How long one turn may wait for an event. */
#define HARNESS_TURN_MS 50

struct harness harness = { .port_fd = -1 };

void harness_scratch_setup(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	snprintf(harness.dir, sizeof(harness.dir), "/tmp/ctltest-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(harness.dir));
	snprintf(harness.sock_path, sizeof(harness.sock_path), "%s/s.sock", harness.dir);
	snprintf(harness.conf_path, sizeof(harness.conf_path), "%s/t.conf", harness.dir);
	harness.port_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(harness.port_fd, 0);
	ck_assert_int_eq(bind(harness.port_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(harness.port_fd, (struct sockaddr *)&sa, &len), 0);
	harness.port = ntohs(sa.sin_port);
}

/* Remove only what the harness made: a test writes nothing else in the directory. */
void harness_scratch_teardown(void)
{
	if (harness.port_fd >= 0)
		close(harness.port_fd);
	harness.port_fd = -1;
	unlink(harness.sock_path);
	rmdir(harness.dir);
}

struct daemon *harness_daemon_start(const char *text, const char *path)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	struct daemon *d;

	/* A test's clients are the ones it opens from here on. */
	harness.n_open = 0;
	ck_assert_int_eq(config_load_string(text, path, false, &cfg, &errs), 0);
	d = malloc(sizeof(*d));
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(daemon_init(d, cfg, path), 0);
	ck_assert_int_eq(daemon_open_control(d, ctlcmd_dispatch, d), 0);
	return d;
}

void harness_daemon_free(struct daemon *d)
{
	if (!d)
		return;
	daemon_free(d);
	free(d);
}

void harness_turn(struct daemon *d)
{
	ck_assert_int_eq(daemon_turn(d, HARNESS_TURN_MS), 0);
}

int harness_client_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(harness.n_open, HARNESS_MAX_OPEN);
	harness.open_fds[harness.n_open++] = fd;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", harness.sock_path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

void harness_client_close(int fd)
{
	for (size_t i = 0; i < harness.n_open; i++)
		if (harness.open_fds[i] == fd)
			harness.open_fds[i] = -1;
	close(fd);
}

void harness_clients_close_all(void)
{
	for (size_t i = 0; i < harness.n_open; i++)
		if (harness.open_fds[i] >= 0)
			close(harness.open_fds[i]);
	harness.n_open = 0;
}

void harness_client_send(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* The daemon writes within its turn, so between turns nothing is in flight. */
void harness_rx_drain(int fd, struct harness_rx *rx)
{
	while (!rx->eof && !rx->err) {
		ssize_t n;

		ck_assert_msg(rx->len < HARNESS_RX_MAX, "more than %d bytes of replies",
			      HARNESS_RX_MAX);
		n = recv(fd, rx->data + rx->len, HARNESS_RX_MAX - rx->len, MSG_DONTWAIT);
		if (n > 0) {
			rx->len += (size_t)n;
			rx->data[rx->len] = '\0';
		} else if (n == 0) {
			rx->eof = true;
		} else if (errno == EAGAIN) {
			return;
		} else if (errno != EINTR) {
			rx->err = errno;
		}
	}
}

size_t harness_rx_replies(const struct harness_rx *rx)
{
	size_t n = 0, off = 0, k;

	while ((k = proto_reply_length(rx->data + off, rx->len - off)) > 0) {
		off += k;
		n++;
	}
	return n;
}

const char *harness_rx_pop(struct harness_rx *rx, char *out, size_t n)
{
	size_t k = proto_reply_length(rx->data, rx->len);

	ck_assert_msg(k > 0, "no complete reply in '%s'", rx->data);
	ck_assert_uint_lt(k, n);
	memcpy(out, rx->data, k);
	out[k] = '\0';
	memmove(rx->data, rx->data + k, rx->len - k + 1);
	rx->len -= k;
	return out;
}

void harness_pump_replies(struct daemon *d, int fd, struct harness_rx *rx, size_t n)
{
	for (int t = 0; harness_rx_drain(fd, rx), harness_rx_replies(rx) < n; t++) {
		ck_assert_msg(!rx->eof && !rx->err, "closed (%s) after %zu of %zu replies: '%s'",
			      rx->err ? strerror(rx->err) : "EOF", harness_rx_replies(rx), n,
			      rx->data);
		ck_assert_msg(t < HARNESS_MAX_TURNS, "%zu of %zu replies after %d turns: '%s'",
			      harness_rx_replies(rx), n, HARNESS_MAX_TURNS, rx->data);
		harness_turn(d);
	}
}
