/*
 * limit: the "limit" baseline of make bench. A minimal echo client doing exactly
 * mconnd's cycle (connect without blocking, send each message and read its echo
 * back, compare, close with FIN or RST; or in persistent mode one connection and
 * round trips) with one edge-triggered epoll loop and no bookkeeping beyond a count:
 * the best the kernel allows here.
 *
 * It sets the same socket options mconnd sets (TCP_NODELAY, TCP_QUICKACK off before
 * connect, SO_LINGER for RST, IP_BIND_ADDRESS_NO_PORT before binding a source) and makes no syscall mconnd does
 * not need: a read is attempted only after an EPOLLIN edge.
 *
 * Output, once the run ends: one JSON line
 *   {"ops":N,"failed":N,"secs":S,"cpu_s":S,"p99_lateness_ms":MS}
 * counting completed cycles (or round trips) and CPU (user+sys) over the measured
 * window only, after the warm-up; with an interval, the 99th percentile of how late
 * a cycle started after its slot, from the start as mconnd counts its own, and over
 * the measured window only (steady state, without the first connects).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

#define LIMIT_MAX_SOURCES 32
#define LIMIT_MAX_EVENTS 512

static const char *const cycle_msgs[] = { "Message 1 from client.", "Message 2 from client." };
static const char *const rt_msgs[] = { "mconn-bench-16b." };

struct sess {
	int fd;
	uint8_t msg;
	uint8_t connected;
	uint32_t sent;
	uint32_t recvd;
	uint32_t src;
};

struct limit {
	struct sockaddr_in to;
	struct sockaddr_in src[LIMIT_MAX_SOURCES];
	unsigned n_src;
	bool persistent, rst;
	const char *const *msgs;
	unsigned n_msgs;
	uint32_t len[2];
	int epfd;
	uint32_t n;
	int64_t interval_ns;
	struct sess *s;
	uint64_t ops, failed;
	uint64_t counted_ops, counted_failed;
	bool counting;
	int64_t *late;
	size_t n_late, cap_late, late_window;
};

static int parse_addr(const char *s, struct sockaddr_in *ret, bool want_port)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t hl = want_port && colon ? (size_t)(colon - s) : strlen(s);

	if ((want_port && !colon) || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(ret, 0, sizeof(*ret));
	ret->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &ret->sin_addr) != 1)
		return -1;
	if (want_port)
		ret->sin_port = htons((uint16_t)atoi(colon + 1));
	return 0;
}

static void sess_close(struct limit *l, struct sess *s)
{
	if (s->fd < 0)
		return;
	if (l->rst) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(s->fd);
	s->fd = -1;
}

/* Open and start connecting; 0, or -1 after counting a failure. */
static int sess_connect(struct limit *l, struct sess *s, uint32_t idx)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  .data.u32 = idx };
	int one = 1, zero = 0;

	s->msg = 0;
	s->sent = s->recvd = 0;
	s->connected = 0;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		goto fail;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero));
	if (l->n_src) {
		const struct sockaddr_in *src = &l->src[s->src];

		if (setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) < 0 ||
		    bind(s->fd, (const struct sockaddr *)src, sizeof(*src)) < 0)
			goto fail;
	}
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0)
		goto fail;
	if (connect(s->fd, (const struct sockaddr *)&l->to, sizeof(l->to)) < 0 &&
	    errno != EINPROGRESS)
		goto fail;
	return 0;
fail:
	l->failed++;
	sess_close(l, s);
	return -1;
}

/* Send the rest of the current message; 1 when all of it is out, 0 on EAGAIN, -1. */
static int sess_send(struct limit *l, struct sess *s)
{
	const char *m = l->msgs[s->msg];
	uint32_t len = l->len[s->msg];

	while (s->sent < len) {
		ssize_t w = send(s->fd, m + s->sent, len - s->sent, MSG_NOSIGNAL);

		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		s->sent += (uint32_t)w;
	}
	return 1;
}

/* The cycle or round trip is complete: count it and start the next one now (or
 * leave it to the scheduler when there is an interval). */
static void sess_done(struct limit *l, struct sess *s, uint32_t idx)
{
	l->ops++;
	s->msg = 0;
	s->sent = s->recvd = 0;
	if (!l->persistent) {
		sess_close(l, s);
		if (l->interval_ns == 0)
			sess_connect(l, s, idx);
		return;
	}
	if (l->interval_ns == 0 && sess_send(l, s) < 0) {
		l->failed++;
		sess_close(l, s);
		sess_connect(l, s, idx);
	}
}

static void sess_event(struct limit *l, uint32_t idx, uint32_t events)
{
	struct sess *s = &l->s[idx];
	char buf[256];
	int r;

	if (s->fd < 0)
		return;
	if (events & (EPOLLERR | EPOLLHUP))
		goto fail;
	if (!s->connected) {
		if (!(events & EPOLLOUT))
			return;
		s->connected = 1;
		if (l->persistent && l->interval_ns)
			return;
		if (sess_send(l, s) < 0)
			goto fail;
		return;
	}
	if (s->sent < l->len[s->msg]) {
		if (sess_send(l, s) < 0)
			goto fail;
		return;
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP)))
		return;
	for (;;) {
		uint32_t len = l->len[s->msg];
		ssize_t n = recv(s->fd, buf, len - s->recvd, 0);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0 || memcmp(buf, l->msgs[s->msg] + s->recvd, (size_t)n) != 0)
			goto fail;
		s->recvd += (uint32_t)n;
		if (s->recvd < len)
			return;
		if (++s->msg == l->n_msgs) {
			sess_done(l, s, idx);
			return;
		}
		s->sent = s->recvd = 0;
		r = sess_send(l, s);
		if (r < 0)
			goto fail;
		return;
	}
fail:
	l->failed++;
	sess_close(l, s);
	if (l->interval_ns == 0 || l->persistent)
		sess_connect(l, s, idx);
}

/* With an interval, session i starts at t0 + i * interval / n + k * interval. */
static void start_due(struct limit *l, int64_t t0, uint64_t *cursor, int64_t now)
{
	for (;;) {
		uint64_t c = *cursor;
		int64_t due = t0 + (int64_t)(c / l->n) * l->interval_ns +
			      (int64_t)((double)l->interval_ns * (double)(c % l->n) / l->n);
		uint32_t idx = (uint32_t)(c % l->n);
		struct sess *s = &l->s[idx];

		if (due > now)
			return;
		(*cursor)++;
		if (l->n_late < l->cap_late)
			l->late[l->n_late++] = now - due;
		if (!l->persistent) {
			if (s->fd < 0)
				sess_connect(l, s, idx);
		} else if (s->fd < 0) {
			sess_connect(l, s, idx);
		} else if (s->connected && s->msg == 0 && s->sent == 0 && sess_send(l, s) < 0) {
			l->failed++;
			sess_close(l, s);
		}
	}
}

static int next_wait_ms(const struct limit *l, int64_t t0, uint64_t cursor, int64_t now,
			int64_t end)
{
	int64_t due = end;

	if (l->interval_ns)
		due = t0 + (int64_t)(cursor / l->n) * l->interval_ns +
		      (int64_t)((double)l->interval_ns * (double)(cursor % l->n) / l->n);
	if (due > end)
		due = end;
	return due <= now ? 0 : (int)((due - now + 999999) / 1000000);
}

static void usage(void)
{
	fputs("usage: limit -a IP:PORT [-S SRC_IP]... [-n N] [-m cycle|persistent] [-c fin|rst]\n"
	      "             [-w WARM_S] [-d SECONDS] [-i INTERVAL_MS]\n", stderr);
	exit(2);
}

static void options(struct limit *l, int argc, char **argv, double *warm, double *dur)
{
	int o;

	while ((o = getopt(argc, argv, "a:S:n:m:c:w:d:i:")) != -1) {
		switch (o) {
		case 'a':
			if (parse_addr(optarg, &l->to, true) < 0)
				usage();
			break;
		case 'S':
			if (l->n_src == LIMIT_MAX_SOURCES || parse_addr(optarg, &l->src[l->n_src++], false) < 0)
				usage();
			break;
		case 'n': l->n = (uint32_t)atoi(optarg); break;
		case 'm': l->persistent = strcmp(optarg, "persistent") == 0; break;
		case 'c': l->rst = strcmp(optarg, "rst") == 0; break;
		case 'w': *warm = atof(optarg); break;
		case 'd': *dur = atof(optarg); break;
		case 'i': l->interval_ns = (int64_t)(atof(optarg) * 1e6); break;
		default: usage();
		}
	}
	if (!l->to.sin_port || l->n == 0)
		usage();
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static struct limit l;
	struct epoll_event ev[LIMIT_MAX_EVENTS];
	double warm = 1, dur = 5, cpu0 = 0;
	struct rlimit rl;
	int64_t t0, end, t_count = 0, now;
	uint64_t cursor = 0;

	options(&l, argc, argv, &warm, &dur);
	l.msgs = l.persistent ? rt_msgs : cycle_msgs;
	l.n_msgs = l.persistent ? 1 : 2;
	for (unsigned i = 0; i < l.n_msgs; i++)
		l.len[i] = (uint32_t)strlen(l.msgs[i]);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	l.epfd = epoll_create1(EPOLL_CLOEXEC);
	l.s = calloc(l.n, sizeof(*l.s));
	if (l.interval_ns) {
		l.cap_late = (size_t)((warm + dur + 1) * 1e9 / (double)l.interval_ns * l.n);
		l.late = calloc(l.cap_late, sizeof(*l.late));
		if (!l.late)
			return 1;
	}
	if (l.epfd < 0 || !l.s)
		return 1;
	for (uint32_t i = 0; i < l.n; i++) {
		l.s[i].fd = -1;
		l.s[i].src = l.n_src ? i % l.n_src : 0;
	}
	t0 = mono_ns();
	end = t0 + (int64_t)(warm * 1e9);
	if (l.interval_ns == 0)
		for (uint32_t i = 0; i < l.n; i++)
			sess_connect(&l, &l.s[i], i);
	for (;;) {
		int n;

		now = mono_ns();
		if (now >= end) {
			if (l.counting)
				break;
			l.counting = true;
			l.counted_ops = l.ops;
			l.counted_failed = l.failed;
			l.late_window = l.n_late;
			cpu0 = cpu_s();
			t_count = now;
			end = now + (int64_t)(dur * 1e9);
		}
		if (l.interval_ns)
			start_due(&l, t0, &cursor, now);
		n = epoll_wait(l.epfd, ev, LIMIT_MAX_EVENTS, next_wait_ms(&l, t0, cursor, now, end));
		for (int i = 0; i < n; i++)
			sess_event(&l, ev[i].data.u32, ev[i].events);
	}
	printf("{\"ops\":%llu,\"failed\":%llu,\"secs\":%.3f,\"cpu_s\":%.4f",
	       (unsigned long long)(l.ops - l.counted_ops),
	       (unsigned long long)(l.failed - l.counted_failed), (double)(now - t_count) / 1e9,
	       cpu_s() - cpu0);
	if (l.n_late > l.late_window) {
		size_t w = l.n_late - l.late_window;

		qsort(l.late + l.late_window, w, sizeof(*l.late), cmp_i64);
		printf(",\"p99_lateness_window_ms\":%.3f",
		       (double)l.late[l.late_window + w * 99 / 100] / 1e6);
		qsort(l.late, l.n_late, sizeof(*l.late), cmp_i64);
		printf(",\"p99_lateness_ms\":%.3f", (double)l.late[l.n_late * 99 / 100] / 1e6);
	}
	printf("}\n");
	return 0;
}
