/*
 * echod: the fixture echo server used by mconn's integration tests and
 * benchmarks.
 *
 * One thread drives one edge-triggered epoll instance holding the
 * listeners, a signalfd and the connections.  Each connection keeps the
 * mode that was current when it was accepted, so tests can provoke every
 * failure the checker must recognise (silence, a corrupted byte, early EOF,
 * reset, slow echo, a full accept queue) and make the server recover with
 * SIGUSR1 without restarting it.
 *
 * With -u the listeners are UDP sockets (RFC 862's UDP echo): each datagram is
 * echoed as one datagram, or, by mode, dropped (silent), corrupted, sent twice (dup),
 * sent after -D us (delay, at most ECHOD_UDP_QUEUE held) or dropped for -r percent
 * of them (lossy).
 *
 * Everything a client can grow is bounded: connections by -n, pending
 * output by ECHOD_CONN_BUF per connection (reading stops while it is full),
 * reads per wakeup by ECHOD_READ_BUDGET, self-connections by backlog + 8.
 *
 * -F (fast, for benchmarks) saves the read that would only return EAGAIN: a read
 * that returns less than it asked for has emptied the socket, and with
 * edge-triggered epoll the next arrival brings a new event (nginx does the same).
 * Once the peer's FIN was signalled (EPOLLRDHUP), reads go on to EOF as usual.
 *
 * -m delay -D US is a path of known cost: each echo leaves US microseconds after the
 * kernel received the bytes it answers (their SO_TIMESTAMPING RX stamp), so echod's
 * own lateness in reading them does not add to it; the wait is timed in ns
 * (epoll_pwait2, 1 ns timer slack). Bytes that come while an echo is held go out
 * with it, at the later time: a byte is never held less than US.
 *
 * -c FILE keeps the count of accepted connections in FILE (8 bytes, native byte
 * order, mapped shared) so a benchmark reads it at any time without asking.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* After <time.h>: net_tstamp.h is fine alone, errqueue.h is not needed. */
#include <linux/net_tstamp.h>

#define ECHOD_MAX_LISTENERS 16
#define ECHOD_CONN_BUF 65536
#define ECHOD_READ_BUDGET 16
#define ECHOD_MAX_EVENTS 256
#define ECHOD_FILL_WAIT_MS 50
#define ECHOD_FIN_DRAIN_ROUNDS 64
#define ECHOD_DEFAULT_LISTEN "127.0.0.1:65432"
#define ECHOD_UDP_QUEUE 1024
#define ECHOD_UDP_RCVBUF (8 << 20)

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

enum echod_mode {
	MODE_ECHO,
	MODE_SILENT,
	MODE_CORRUPT,
	MODE_CLOSE,
	MODE_RESET,
	MODE_DRIP,
	MODE_NOACCEPT,
	MODE_DELAY,
	MODE_DUP,
	MODE_LOSSY,
	MODE_SPLIT,
	MODE_COUNT
};

/* A datagram held back by the delay mode until due. */
struct udp_held {
	uint64_t due;
	int fd;
	struct sockaddr_storage to;
	socklen_t tolen;
	size_t len;
	unsigned char *data;
};

enum handle_kind {
	HANDLE_LISTENER,
	HANDLE_SIGNAL,
	HANDLE_CONN
};

/* What a connection handler asks of the single close path. */
enum conn_verdict {
	VERDICT_KEEP = 0,
	VERDICT_CLOSE,
	VERDICT_FIN,
	VERDICT_RST
};

/* A list head with no members, or a node in no list, points at itself. */
struct link {
	struct link *prev, *next;
};

/* The first member of everything registered with epoll; fd is -1 once closed. */
struct handle {
	enum handle_kind kind;
	int fd;
};

struct listener {
	struct handle h;
	struct sockaddr_storage ss;
	socklen_t len;
};

struct conn {
	struct handle h;
	enum echod_mode mode;
	bool readable, writable, eof, rdhup;
	uint64_t received;
	unsigned char *buf;
	size_t start, end;
	/* When the pending bytes may go: the next drip, or the end of a delay's hold. */
	uint64_t drip_due;
	/* In d->drip, or in d->held (delay mode): the same node, never both. */
	struct link all, posted, drip;
};

struct echod {
	enum echod_mode opt_mode, mode;
	long drip_ms, backlog, maxconn;
	/* -D: the hold of -m delay in us, and a socket that keeps RX stamps on. */
	long hold_us;
	int stamp_keeper;
	/* -r: the share of accepted connections reset at once, in percent, and the
	 * state of the generator that picks them (a fixed seed: runs repeat). */
	long reset_pct;
	uint64_t rng;
	const char *portfile, *countfile;
	/* -c: the mapped count of accepted connections, or NULL. */
	uint64_t *accepted;
	bool quiet, stop, fast, udp;
	/* -u -m delay: a ring of datagrams in the order they fall due. */
	struct udp_held udp_held[ECHOD_UDP_QUEUE];
	size_t udp_head, udp_n;
	int epfd;
	struct handle sig;
	struct listener listeners[ECHOD_MAX_LISTENERS];
	size_t nlisteners, nconns;
	struct link conns, dead, posted, drip, held;
	int *selfconns;
	size_t nselfconns;
	unsigned char scratch[ECHOD_CONN_BUF];
};

static const char *const mode_names[MODE_COUNT] = {
	[MODE_ECHO] = "echo",
	[MODE_SILENT] = "silent",
	[MODE_CORRUPT] = "corrupt",
	[MODE_CLOSE] = "close",
	[MODE_RESET] = "reset",
	[MODE_DRIP] = "drip",
	[MODE_NOACCEPT] = "noaccept",
	[MODE_DELAY] = "delay",
	[MODE_DUP] = "dup",
	[MODE_LOSSY] = "lossy",
	[MODE_SPLIT] = "split",
};

static const char *mode_name(enum echod_mode mode)
{
	return mode < MODE_COUNT ? mode_names[mode] : "unknown";
}

static int mode_parse(const char *s, enum echod_mode *ret)
{
	for (int m = 0; m < MODE_COUNT; m++) {
		if (strcmp(s, mode_names[m]) == 0) {
			*ret = (enum echod_mode)m;
			return 0;
		}
	}
	return -EINVAL;
}

static void link_init(struct link *l)
{
	l->prev = l->next = l;
}

static bool link_empty(const struct link *l)
{
	return l->next == l;
}

static void link_add_tail(struct link *head, struct link *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static void link_del(struct link *n)
{
	/* echod_reap() unlinks each node before freeing it; the analyzer loses the
	 * relinking across its loop's iterations and sees the freed node here. */
	n->prev->next = n->next; /* NOLINT(clang-analyzer-unix.Malloc) */
	n->next->prev = n->prev;
	link_init(n);
}

static uint64_t clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int parse_long(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Parses "IPV4:PORT" or "[IPV6]:PORT"; port 0 lets the kernel choose. */
static int listener_parse(const char *s, struct listener *ret)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	const char *colon = strrchr(s, ':');
	size_t v6 = s[0] == '[', hlen;
	unsigned char addr[sizeof(struct in6_addr)];
	char host[INET6_ADDRSTRLEN];
	struct addrinfo *ai;
	long port;

	if (!colon || parse_long(colon + 1, 0, 65535, &port) < 0)
		return -EINVAL;
	hlen = (size_t)(colon - s) - 2 * v6;
	if (hlen == 0 || hlen >= sizeof(host) || (v6 && colon[-1] != ']'))
		return -EINVAL;
	memcpy(host, s + v6, hlen);
	host[hlen] = '\0';
	hints.ai_family = v6 ? AF_INET6 : AF_INET;
	/* inet_pton first: getaddrinfo would also take shorthands like 127.1. */
	if (inet_pton(hints.ai_family, host, addr) != 1 ||
	    getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -EINVAL;
	memcpy(&ret->ss, ai->ai_addr, ai->ai_addrlen);
	ret->len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static void listener_format(const struct listener *l, char *buf, size_t len)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo((const struct sockaddr *)&l->ss, l->len, host, sizeof(host),
			serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, len, "(unprintable address)");
		return;
	}
	snprintf(buf, len, l->ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

static unsigned listener_port(const struct listener *l)
{
	if (l->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&l->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&l->ss)->sin_port);
}

static void usage(FILE *f)
{
	fputs("usage: echod [-l ADDR:PORT]... [-m MODE] [-d MS] [-D US] [-b BACKLOG]"
	      " [-n MAXCONN] [-r PERCENT] [-p PORTFILE] [-c COUNTFILE] [-q] [-F] [-u]\n"
	      "  -l  listen address, repeatable (default " ECHOD_DEFAULT_LISTEN
	      ", IPv6 as [::1]:0)\n"
	      "  -m  echo|silent|corrupt|close|reset|drip|noaccept|delay|split (default echo);\n"
	      "      with -u: echo|silent|corrupt|dup|delay|lossy\n"
	      "  -d  drip interval in ms (default 100)\n"
	      "  -D  delay: hold each echo this many us after the kernel received it\n"
	      "      (default 10000; with -u, after echod read it)\n"
	      "  -b  listen backlog (default 4096)\n"
	      "  -n  maximum connections (default 50000)\n"
	      "  -r  reset this share of accepted connections at once, in percent;\n"
	      "      with -u -m lossy, drop this share of datagrams\n"
	      "  -p  write the first listener's port here once listening\n"
	      "  -c  keep the count of accepted connections in this file (8 bytes)\n"
	      "  -q  do not announce listeners on stderr\n"
	      "  -F  fast: end a read burst at a short read (benchmarks)\n"
	      "  -u  UDP: echo datagrams (RFC 862) instead of TCP\n"
	      "SIGUSR1 switches new connections to echo, SIGUSR2 back to -m.\n", f);
}

static int options_add_listen(struct echod *d, const char *arg)
{
	struct listener *l = &d->listeners[d->nlisteners];

	if (d->nlisteners == ECHOD_MAX_LISTENERS) {
		fprintf(stderr, "echod: -l %s: at most %d listeners\n",
			arg, ECHOD_MAX_LISTENERS);
		return -EINVAL;
	}
	if (listener_parse(arg, l) < 0) {
		fprintf(stderr, "echod: -l %s: expected IPV4:PORT or [IPV6]:PORT\n", arg);
		return -EINVAL;
	}
	l->h.kind = HANDLE_LISTENER;
	l->h.fd = -1;
	d->nlisteners++;
	return 0;
}

static int options_long(int opt, const char *arg, long min, long max, long *ret)
{
	if (parse_long(arg, min, max, ret) == 0)
		return 0;
	fprintf(stderr, "echod: -%c %s: expected an integer in [%ld, %ld]\n",
		opt, arg, min, max);
	return -EINVAL;
}

/* Whether the mode is one of the transport's: the UDP modes need -u, and close,
 * reset, drip and noaccept are TCP's. */
static bool options_mode_fits(const struct echod *d)
{
	switch (d->opt_mode) {
	case MODE_ECHO:
	case MODE_SILENT:
	case MODE_CORRUPT:
	case MODE_DELAY:
		return true;
	case MODE_DUP:
	case MODE_LOSSY:
		return d->udp;
	default:
		return !d->udp;
	}
}

/* Returns 0 to run, 1 after -h, or -EINVAL once the error is printed. */
static int options_parse(struct echod *d, int argc, char **argv)
{
	int opt, r = 0;

	while (r == 0 && (opt = getopt(argc, argv, "l:m:d:D:b:n:r:p:c:qFuh")) != -1) {
		switch (opt) {
		case 'l':
			r = options_add_listen(d, optarg);
			break;
		case 'm':
			r = mode_parse(optarg, &d->opt_mode);
			if (r < 0)
				fprintf(stderr, "echod: -m %s: unknown mode\n", optarg);
			break;
		case 'd':
			r = options_long(opt, optarg, 1, 3600000, &d->drip_ms);
			break;
		case 'D':
			r = options_long(opt, optarg, 1, 60000000, &d->hold_us);
			break;
		case 'b':
			r = options_long(opt, optarg, 1, 65535, &d->backlog);
			break;
		case 'n':
			r = options_long(opt, optarg, 1, 1000000, &d->maxconn);
			break;
		case 'r':
			r = options_long(opt, optarg, 0, 100, &d->reset_pct);
			break;
		case 'p':
			d->portfile = optarg;
			break;
		case 'c':
			d->countfile = optarg;
			break;
		case 'q':
			d->quiet = true;
			break;
		case 'F':
			d->fast = true;
			break;
		case 'u':
			d->udp = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (r == 0 && optind < argc) {
		fprintf(stderr, "echod: unexpected argument '%s'\n", argv[optind]);
		r = -EINVAL;
	}
	if (r == 0 && d->nlisteners == 0)
		r = options_add_listen(d, ECHOD_DEFAULT_LISTEN);
	if (r == 0 && !options_mode_fits(d)) {
		fprintf(stderr, "echod: -m %s does not apply to %s\n", mode_name(d->opt_mode),
			d->udp ? "UDP (-u)" : "TCP (without -u)");
		r = -EINVAL;
	}
	return r;
}

static int echod_watch(struct echod *d, struct handle *h, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, h->fd, &ev) < 0 ? -errno : 0;
}

static size_t conn_pending(const struct conn *c)
{
	return c->end - c->start;
}

/* Idle connections hold no buffer, so many of them stay cheap. */
static void conn_release_buf(struct conn *c)
{
	if (conn_pending(c) > 0)
		return;
	free(c->buf);
	c->buf = NULL;
	c->start = c->end = 0;
}

/* The caller guarantees that n fits beside what is already pending. */
static int conn_append(struct conn *c, const unsigned char *data, size_t n)
{
	if (!c->buf) {
		c->buf = malloc(ECHOD_CONN_BUF);
		if (!c->buf)
			return -ENOMEM;
	}
	if (c->end + n > ECHOD_CONN_BUF) {
		memmove(c->buf, c->buf + c->start, conn_pending(c));
		c->end -= c->start;
		c->start = 0;
	}
	memcpy(c->buf + c->end, data, n);
	c->end += n;
	return 0;
}

/* Sends until done or EAGAIN; a short count is not an error. */
static int conn_send(struct conn *c, const unsigned char *data, size_t n,
		     size_t *ret_sent)
{
	size_t off = 0;

	while (off < n && c->writable) {
		ssize_t w = send(c->h.fd, data + off, n - off, MSG_NOSIGNAL);
		if (w >= 0)
			off += (size_t)w;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			c->writable = false;
		else if (errno != EINTR)
			return -errno;
	}
	*ret_sent = off;
	return 0;
}

/* Sends up to max pending bytes; drip sends one, everyone else all. */
static int conn_flush(struct conn *c, size_t max)
{
	size_t sent = 0, n = conn_pending(c) < max ? conn_pending(c) : max;
	int r = conn_send(c, c->buf + c->start, n, &sent);

	if (r < 0)
		return r;
	c->start += sent;
	conn_release_buf(c);
	return 0;
}

static int conn_echo(struct conn *c, const unsigned char *data, size_t n)
{
	size_t sent = 0;
	int r = conn_pending(c) == 0 ? conn_send(c, data, n, &sent) : 0;

	if (r < 0)
		return r;
	return sent < n ? conn_append(c, data + sent, n - sent) : 0;
}

/* Every drip uses the same interval, so appending keeps the list sorted. */
static void conn_drip_schedule(struct echod *d, struct conn *c, uint64_t now)
{
	if (!link_empty(&c->drip) || conn_pending(c) == 0)
		return;
	c->drip_due = now + (uint64_t)d->drip_ms * 1000000u;
	link_add_tail(&d->drip, &c->drip);
}

static int64_t clock_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Hold what is pending until hold_us after stamp (the kernel's RX time, realtime ns;
 * 0 for none: from now), keeping d->held sorted by due time. */
static void conn_hold(struct echod *d, struct conn *c, int64_t stamp)
{
	uint64_t now = clock_now_ns();
	int64_t ahead = d->hold_us * 1000;
	struct link *at;

	if (stamp > 0)
		ahead += stamp - clock_real_ns();
	c->drip_due = ahead > 0 ? now + (uint64_t)ahead : now;
	link_del(&c->drip);
	at = d->held.prev;
	while (at != &d->held && container_of(at, struct conn, drip)->drip_due > c->drip_due)
		at = at->prev;
	link_add_tail(at->next, &c->drip);
}

/* Returns a negative errno or an enum conn_verdict. */
static int conn_consume(struct echod *d, struct conn *c, unsigned char *data, size_t n,
			int64_t stamp)
{
	uint64_t first = c->received;
	int r;

	c->received += n;
	switch (c->mode) {
	case MODE_SILENT:
		return VERDICT_KEEP;
	case MODE_CLOSE:
		return VERDICT_FIN;
	case MODE_RESET:
		return VERDICT_RST;
	case MODE_DRIP:
		r = conn_append(c, data, n);
		conn_drip_schedule(d, c, clock_now_ns());
		return r;
	case MODE_DELAY:
		r = conn_append(c, data, n);
		conn_hold(d, c, stamp);
		return r;
	case MODE_SPLIT:
		/* Two writes with Nagle on: the second waits for the ACK of the first. */
		r = conn_echo(c, data, n / 2);
		return r < 0 ? r : conn_echo(c, data + n / 2, n - n / 2);
	case MODE_CORRUPT:
		if (first <= 2 && first + n > 2)
			data[2 - first] ^= 0xff;
		return conn_echo(c, data, n);
	default:
		/* MODE_ECHO: nothing is ever accepted while in MODE_NOACCEPT. */
		return conn_echo(c, data, n);
	}
}

/* recv(), with the kernel's RX stamp of the data in *ret_stamp when it gave one. */
static ssize_t conn_recv(struct conn *c, void *p, size_t n, int64_t *ret_stamp)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec) * 3)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = p, .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	ssize_t r = recvmsg(c->h.fd, &mh, 0);

	for (struct cmsghdr *cm = r > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPING) {
			struct timespec ts[3];

			memcpy(ts, CMSG_DATA(cm), sizeof(ts));
			*ret_stamp = (int64_t)ts[0].tv_sec * 1000000000 + ts[0].tv_nsec;
		}
	}
	return r;
}

static int conn_read_once(struct echod *d, struct conn *c)
{
	size_t want = ECHOD_CONN_BUF - conn_pending(c);
	int64_t stamp = 0;
	ssize_t n = c->mode == MODE_DELAY ? conn_recv(c, d->scratch, want, &stamp)
					  : recv(c->h.fd, d->scratch, want, 0);

	if (n > 0 && d->fast && !c->rdhup && (size_t)n < want)
		c->readable = false;
	if (n > 0)
		return conn_consume(d, c, d->scratch, (size_t)n, stamp);
	if (n == 0)
		c->eof = true;
	else if (errno == EAGAIN || errno == EWOULDBLOCK)
		c->readable = false;
	else if (errno != EINTR)
		return -errno;
	return VERDICT_KEEP;
}

/* Sends FIN first, so that discarding unread input cannot turn close into RST. */
static void conn_shutdown_fin(struct echod *d, struct conn *c)
{
	shutdown(c->h.fd, SHUT_WR);
	for (int i = 0; i < ECHOD_FIN_DRAIN_ROUNDS; i++) {
		if (recv(c->h.fd, d->scratch, sizeof(d->scratch), 0) <= 0)
			break;
	}
}

/* The one close path; the memory waits on the dead list until the batch ends. */
static void conn_close(struct echod *d, struct conn *c, enum conn_verdict how)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (how == VERDICT_RST)
		setsockopt(c->h.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	else if (how == VERDICT_FIN)
		conn_shutdown_fin(d, c);
	close(c->h.fd);
	c->h.fd = -1;
	c->start = c->end = 0;
	conn_release_buf(c);
	link_del(&c->posted);
	link_del(&c->drip);
	link_del(&c->all);
	link_add_tail(&d->dead, &c->all);
	d->nconns--;
}

/* A full output buffer stops reading: that is the backpressure. */
static void conn_run(struct echod *d, struct conn *c)
{
	int budget = ECHOD_READ_BUDGET;
	/* Drip and delay send from their timers; a delay's bytes once their hold ends. */
	bool hold = c->mode == MODE_DRIP || (c->mode == MODE_DELAY && !link_empty(&c->drip));
	int r = hold ? 0 : conn_flush(c, SIZE_MAX);

	while (r == VERDICT_KEEP && c->readable && !c->eof &&
	       conn_pending(c) < ECHOD_CONN_BUF) {
		if (budget-- == 0) {
			/* Let the other connections have this wakeup; resume next turn. */
			if (link_empty(&c->posted))
				link_add_tail(&d->posted, &c->posted);
			return;
		}
		r = conn_read_once(d, c);
	}
	if (r == VERDICT_KEEP && c->eof && conn_pending(c) == 0)
		r = VERDICT_CLOSE;
	if (r != VERDICT_KEEP)
		conn_close(d, c, r < 0 ? VERDICT_CLOSE : (enum conn_verdict)r);
}

static void conn_on_event(struct echod *d, struct conn *c, uint32_t events)
{
	/* EPOLLERR and EPOLLHUP mean both: the next I/O call reports the error. */
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
		c->readable = true;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		c->writable = true;
	if (events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP))
		c->rdhup = true;
	conn_run(d, c);
}

static int conn_open(struct echod *d, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->h.kind = HANDLE_CONN;
	c->h.fd = fd;
	c->mode = d->mode;
	c->writable = true;
	link_init(&c->posted);
	link_init(&c->drip);
	if (c->mode == MODE_DELAY) {
		int flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;

		setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags));
	}
	r = echod_watch(d, &c->h, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
	if (r < 0) {
		free(c);
		return r;
	}
	link_add_tail(&d->conns, &c->all);
	d->nconns++;
	return 0;
}

/* Whether -r picks this connection to be reset: xorshift64, so the share holds
 * over any run of connections without a pattern the sessions could fall into. */
static bool echod_pick_reset(struct echod *d)
{
	if (d->reset_pct <= 0)
		return false;
	d->rng ^= d->rng << 13;
	d->rng ^= d->rng >> 7;
	d->rng ^= d->rng << 17;
	return (long)(d->rng % 100) < d->reset_pct;
}

/* Refuse one accepted connection the way a server that cannot take it does: RST. */
static void echod_reset_fd(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void listener_accept_all(struct echod *d, struct listener *l)
{
	for (;;) {
		int fd = accept4(l->h.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		/* EAGAIN ends the edge; after EMFILE the next arrival re-arms it. */
		if (fd < 0)
			return;
		if (d->accepted)
			__atomic_store_n(d->accepted, *d->accepted + 1, __ATOMIC_RELAXED);
		if (echod_pick_reset(d))
			echod_reset_fd(fd);
		else if (d->nconns >= (size_t)d->maxconn || conn_open(d, fd) < 0)
			close(fd);
	}
}

static int listener_open(struct echod *d, struct listener *l)
{
	int one = 1;
	int fd = socket(l->ss.ss_family, (d->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK |
			SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	l->h.fd = fd;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return -errno;
	/* V6ONLY lets [::]:P and 0.0.0.0:P be two listeners of one process. */
	if (l->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		return -errno;
	/* A burst of first datagrams from many sessions (a bench starts 1,000 at once)
	 * must not overflow the default buffer (about 270 small datagrams): a datagram
	 * dropped here is a flow the minimal client never restarts. */
	if (d->udp && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &(int){ ECHOD_UDP_RCVBUF },
				 sizeof(int)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &(int){ ECHOD_UDP_RCVBUF }, sizeof(int));
	if (bind(fd, (struct sockaddr *)&l->ss, l->len) < 0 ||
	    (!d->udp && listen(fd, (int)d->backlog) < 0))
		return -errno;
	l->len = sizeof(l->ss);
	if (getsockname(fd, (struct sockaddr *)&l->ss, &l->len) < 0)
		return -errno;
	return echod_watch(d, &l->h, EPOLLIN | EPOLLET);
}

/* Returns a connected fd, or -ETIMEDOUT once the kernel drops our SYN. */
static int selfconn_connect(const struct listener *l)
{
	struct pollfd p = { .events = POLLOUT };
	int err = 0, r;
	socklen_t len = sizeof(err);

	/* Linux connects a wildcard destination (0.0.0.0, ::) to loopback. */
	p.fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p.fd < 0)
		return -errno;
	r = connect(p.fd, (const struct sockaddr *)&l->ss, l->len) < 0 ? -errno : 0;
	if (r == -EINPROGRESS) {
		r = poll(&p, 1, ECHOD_FILL_WAIT_MS);
		r = r > 0 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
	}
	if (r == 0 && getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		r = -errno;
	if (r == 0 && err != 0)
		r = -err;
	if (r == 0)
		return p.fd;
	close(p.fd);
	return r;
}

/*
 * Fills the accept queue with connections to ourselves until one is no
 * longer completed: from then on the kernel drops new clients' SYNs.
 * selfconns was sized for backlog + 8 per listener at startup.
 */
static void listener_fill_queue(struct echod *d, struct listener *l)
{
	for (long i = 0; i < d->backlog + 8; i++) {
		int fd = selfconn_connect(l);
		if (fd < 0)
			return;
		d->selfconns[d->nselfconns++] = fd;
	}
}

static void selfconn_close_all(struct echod *d)
{
	for (size_t i = 0; i < d->nselfconns; i++)
		close(d->selfconns[i]);
	d->nselfconns = 0;
}

static void echod_set_mode(struct echod *d, enum echod_mode mode)
{
	enum echod_mode old = d->mode;

	if (mode == old)
		return;
	d->mode = mode;
	if (old == MODE_NOACCEPT) {
		/* The queued self-connections are accepted too and see EOF at once. */
		selfconn_close_all(d);
		for (size_t i = 0; i < d->nlisteners; i++)
			listener_accept_all(d, &d->listeners[i]);
	} else if (mode == MODE_NOACCEPT) {
		for (size_t i = 0; i < d->nlisteners; i++)
			listener_fill_queue(d, &d->listeners[i]);
	}
}

static void signals_read(struct echod *d)
{
	struct signalfd_siginfo si;

	while (read(d->sig.fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			d->stop = true;
		else if (si.ssi_signo == SIGUSR1)
			echod_set_mode(d, MODE_ECHO);
		else if (si.ssi_signo == SIGUSR2)
			echod_set_mode(d, d->opt_mode);
	}
}

static int signals_open(struct echod *d)
{
	sigset_t set;

	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -errno;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	d->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sig.fd < 0)
		return -errno;
	return echod_watch(d, &d->sig, EPOLLIN | EPOLLET);
}

/* Tests poll for the file, so it must never be seen half written. */
static int portfile_write(const char *path, unsigned port)
{
	char tmp[PATH_MAX];
	FILE *f;
	int r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	if (fprintf(f, "%u\n", port) < 0)
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

/* -c: a zeroed 8-byte file mapped shared, so readers see each accept at once. */
static int countfile_map(struct echod *d)
{
	void *p;
	int fd = open(d->countfile, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, sizeof(*d->accepted)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	p = mmap(NULL, sizeof(*d->accepted), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	d->accepted = p;
	return 0;
}

static int echod_open_listeners(struct echod *d)
{
	char name[INET6_ADDRSTRLEN + 16];

	for (size_t i = 0; i < d->nlisteners; i++) {
		struct listener *l = &d->listeners[i];
		int r = listener_open(d, l);
		listener_format(l, name, sizeof(name));
		if (r < 0) {
			fprintf(stderr, "echod: cannot listen on %s: %s\n", name, strerror(-r));
			return r;
		}
		if (d->mode == MODE_NOACCEPT)
			listener_fill_queue(d, l);
		if (!d->quiet)
			fprintf(stderr, "echod: listening on %s mode %s\n", name,
				mode_name(d->opt_mode));
	}
	return 0;
}

static int echod_start(struct echod *d)
{
	struct rlimit rl;
	int r;

	/* Benchmarks open tens of thousands of sockets. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (d->opt_mode == MODE_NOACCEPT) {
		d->selfconns = calloc(d->nlisteners * (size_t)(d->backlog + 8), sizeof(int));
		if (!d->selfconns)
			return -ENOMEM;
	}
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	r = d->epfd < 0 ? -errno : signals_open(d);
	if (r < 0) {
		fprintf(stderr, "echod: cannot set up epoll and signals: %s\n", strerror(-r));
		return r;
	}
	if (d->countfile) {
		r = countfile_map(d);
		if (r < 0) {
			fprintf(stderr, "echod: cannot map %s: %s\n", d->countfile, strerror(-r));
			return r;
		}
	}
	r = echod_open_listeners(d);
	if (r < 0 || !d->portfile)
		return r;
	r = portfile_write(d->portfile, listener_port(&d->listeners[0]));
	if (r < 0)
		fprintf(stderr, "echod: cannot write %s: %s\n", d->portfile, strerror(-r));
	return r;
}

/* The earliest due time of a sorted list, or UINT64_MAX. */
static uint64_t echod_first_due(const struct link *l)
{
	return link_empty(l) ? UINT64_MAX : container_of(l->next, struct conn, drip)->drip_due;
}

/* How long to wait, in *ret (ns); NULL for no limit. */
static struct timespec *echod_timeout(const struct echod *d, uint64_t now, struct timespec *ret)
{
	uint64_t due = echod_first_due(&d->drip), held = echod_first_due(&d->held);

	if (held < due)
		due = held;
	if (d->udp_n && d->udp_held[d->udp_head].due < due)
		due = d->udp_held[d->udp_head].due;
	if (!link_empty(&d->posted) || due <= now)
		due = now;
	if (due == UINT64_MAX)
		return NULL;
	ret->tv_sec = (time_t)((due - now) / 1000000000u);
	ret->tv_nsec = (long)((due - now) % 1000000000u);
	return ret;
}

/* Hold a datagram back for -D us; a full queue drops it, as a full line would. */
static void udp_hold(struct echod *d, int fd, const struct sockaddr_storage *to,
		     socklen_t tolen, const unsigned char *p, size_t n)
{
	struct udp_held *h;

	if (d->udp_n == ECHOD_UDP_QUEUE)
		return;
	h = &d->udp_held[(d->udp_head + d->udp_n) % ECHOD_UDP_QUEUE];
	h->data = malloc(n ? n : 1);
	if (!h->data)
		return;
	memcpy(h->data, p, n);
	h->len = n;
	h->fd = fd;
	h->to = *to;
	h->tolen = tolen;
	h->due = clock_now_ns() + (uint64_t)d->hold_us * 1000u;
	d->udp_n++;
}

/* Send the held datagrams that are due. */
static void udp_run_held(struct echod *d)
{
	uint64_t now = clock_now_ns();

	while (d->udp_n && d->udp_held[d->udp_head].due <= now) {
		struct udp_held *h = &d->udp_held[d->udp_head];

		(void)sendto(h->fd, h->data, h->len, MSG_DONTWAIT, (struct sockaddr *)&h->to,
			     h->tolen);
		free(h->data);
		h->data = NULL;
		d->udp_head = (d->udp_head + 1) % ECHOD_UDP_QUEUE;
		d->udp_n--;
	}
}

/* Answer every datagram waiting on a UDP listener, as the mode says. */
static void udp_serve(struct echod *d, struct listener *l)
{
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(l->h.fd, d->scratch, sizeof(d->scratch), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fromlen);
		int copies = 1;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		switch (d->mode) {
		case MODE_SILENT:
			continue;
		case MODE_LOSSY:
			if (echod_pick_reset(d))
				continue;
			break;
		case MODE_CORRUPT:
			if (n > 0)
				d->scratch[n - 1] ^= 0x01;
			break;
		case MODE_DUP:
			copies = 2;
			break;
		case MODE_DELAY:
			udp_hold(d, l->h.fd, &from, fromlen, d->scratch, (size_t)n);
			continue;
		default:
			break;
		}
		while (copies--)
			(void)sendto(l->h.fd, d->scratch, (size_t)n, MSG_DONTWAIT,
				     (struct sockaddr *)&from, fromlen);
	}
}

static void echod_dispatch(struct echod *d, struct handle *h, uint32_t events)
{
	switch (h->kind) {
	case HANDLE_LISTENER:
		if (d->udp)
			udp_serve(d, container_of(h, struct listener, h));
		else if (d->mode != MODE_NOACCEPT)
			listener_accept_all(d, container_of(h, struct listener, h));
		break;
	case HANDLE_SIGNAL:
		signals_read(d);
		break;
	case HANDLE_CONN:
		/* A connection closed earlier in this batch still owns its memory. */
		if (h->fd >= 0)
			conn_on_event(d, container_of(h, struct conn, h), events);
		break;
	}
}

/* Runs the connections posted before this turn; those they re-post wait. */
static void echod_run_posted(struct echod *d)
{
	struct link *last = d->posted.prev;
	bool done = link_empty(&d->posted);

	while (!done) {
		struct conn *c = container_of(d->posted.next, struct conn, posted);
		done = &c->posted == last;
		link_del(&c->posted);
		conn_run(d, c);
	}
}

static void echod_run_drip(struct echod *d)
{
	uint64_t now = clock_now_ns();

	while (!link_empty(&d->drip)) {
		struct conn *c = container_of(d->drip.next, struct conn, drip);
		if (c->drip_due > now)
			break;
		link_del(&c->drip);
		if (conn_flush(c, 1) < 0) {
			conn_close(d, c, VERDICT_CLOSE);
			continue;
		}
		conn_drip_schedule(d, c, now);
		conn_run(d, c);
	}
}

/* Send the held echoes whose hold has ended. */
static void echod_run_held(struct echod *d)
{
	uint64_t now = clock_now_ns();

	while (!link_empty(&d->held)) {
		struct conn *c = container_of(d->held.next, struct conn, drip);

		if (c->drip_due > now)
			break;
		link_del(&c->drip);
		conn_run(d, c);
	}
}

static void echod_reap(struct echod *d)
{
	while (!link_empty(&d->dead)) {
		struct conn *c = container_of(d->dead.next, struct conn, all);
		link_del(&c->all);
		free(c);
	}
}

static int echod_run(struct echod *d)
{
	struct epoll_event evs[ECHOD_MAX_EVENTS];

	while (!d->stop) {
		struct timespec ts;
		int n = epoll_pwait2(d->epfd, evs, ECHOD_MAX_EVENTS,
				     echod_timeout(d, clock_now_ns(), &ts), NULL);
		if (n < 0 && errno != EINTR) {
			int r = -errno;
			fprintf(stderr, "echod: epoll_wait: %s\n", strerror(-r));
			return r;
		}
		for (int i = 0; i < n; i++)
			echod_dispatch(d, evs[i].data.ptr, evs[i].events);
		echod_run_posted(d);
		echod_run_drip(d);
		echod_run_held(d);
		udp_run_held(d);
		echod_reap(d);
	}
	return 0;
}

static struct echod *echod_new(void)
{
	struct echod *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->opt_mode = MODE_ECHO;
	d->rng = 0x9e3779b97f4a7c15ull;
	d->drip_ms = 100;
	d->backlog = 4096;
	d->maxconn = 50000;
	d->epfd = -1;
	d->sig.kind = HANDLE_SIGNAL;
	d->sig.fd = -1;
	link_init(&d->conns);
	link_init(&d->dead);
	link_init(&d->posted);
	link_init(&d->drip);
	link_init(&d->held);
	d->hold_us = 10000;
	d->stamp_keeper = -1;
	return d;
}

static void echod_free(struct echod *d)
{
	while (!link_empty(&d->conns))
		conn_close(d, container_of(d->conns.next, struct conn, all), VERDICT_CLOSE);
	echod_reap(d);
	for (size_t i = 0; i < d->nlisteners; i++) {
		if (d->listeners[i].h.fd >= 0)
			close(d->listeners[i].h.fd);
	}
	selfconn_close_all(d);
	free(d->selfconns);
	if (d->accepted)
		munmap(d->accepted, sizeof(*d->accepted));
	while (d->udp_n) {
		free(d->udp_held[d->udp_head].data);
		d->udp_head = (d->udp_head + 1) % ECHOD_UDP_QUEUE;
		d->udp_n--;
	}
	if (d->sig.fd >= 0)
		close(d->sig.fd);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->stamp_keeper >= 0)
		close(d->stamp_keeper);
	free(d);
}

/* Delay mode: RX stamps on for good (the kernel turns them on asynchronously while
 * one socket wants them) and wake-ups as exact as the kernel makes them. */
static void echod_delay_setup(struct echod *d)
{
	int flags = SOF_TIMESTAMPING_RX_SOFTWARE;

	d->stamp_keeper = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (d->stamp_keeper >= 0)
		setsockopt(d->stamp_keeper, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags));
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
}

int main(int argc, char **argv)
{
	struct echod *d = echod_new();
	int r;

	if (!d) {
		fputs("echod: out of memory\n", stderr);
		return 1;
	}
	r = options_parse(d, argc, argv);
	if (r != 0) {
		echod_free(d);
		return r > 0 ? 0 : 2;
	}
	d->mode = d->opt_mode;
	if (d->mode == MODE_DELAY)
		echod_delay_setup(d);
	r = echod_start(d);
	if (r == 0)
		r = echod_run(d);
	echod_free(d);
	return r == 0 ? 0 : 1;
}
