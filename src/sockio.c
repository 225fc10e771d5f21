/* Socket calls behind the session I/O table. Each connection is registered once with
 * EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET; the generation in its epoll data lets the
 * loop drop events of an fd that was closed and reused in the same batch. A UDP
 * session's socket is connected, so the kernel filters what comes back to its
 * target's address and reports ICMP errors to it; IP_RECVERR queues their detail. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* After <time.h>: errqueue.h uses struct timespec without including it. */
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>

#include "config.h"
#include "loop.h"
#include "sockio.h"

/* What each connection asks the kernel to stamp: its sends (software, on the error
 * queue, a key per send and no copy of the data) and what it receives. */
#define SOCKIO_STAMP_FLAGS                                                                 \
	(SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_RX_SOFTWARE |                     \
	 SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_ID | SOF_TIMESTAMPING_OPT_TSONLY)
/* Error queue entries read looking for one stamp: a cycle queues one per send. */
#define SOCKIO_ERRQUEUE_READS 8

/* Bind to the configured source without picking a port, so connect() chooses one
 * per destination and TIME_WAIT reuse keeps working. */
static int sockio_bind_source(int fd, const struct target_conf *tc)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) < 0)
		return -errno;
	if (bind(fd, (const struct sockaddr *)&tc->source.ss, tc->source.len) < 0)
		return -errno;
	return 0;
}

void sockio_init(struct sockio *io, struct loop *loop)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	unsigned lo = 1, hi = 65535;

	if (f) {
		/* The kernel writes this file; out-of-range values are caught just after. */
		if (fscanf(f, "%u %u", &lo, &hi) != 2 || lo > hi || hi > 65535) { /* NOLINT(cert-err34-c) */
			lo = 1;
			hi = 65535;
		}
		fclose(f);
	}
	*io = (struct sockio){ .loop = loop, .max_open = UINT32_MAX, .port_lo = (uint16_t)lo,
			       .port_hi = (uint16_t)hi, .stamp_keeper = -1 };
}

int sockio_enable_stamps(struct sockio *io)
{
	int flags = SOF_TIMESTAMPING_RX_SOFTWARE, fd;

	if (io->stamp_keeper >= 0)
		return 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	io->stamp_keeper = fd;
	return 0;
}

void sockio_free(struct sockio *io)
{
	if (io->stamp_keeper >= 0)
		close(io->stamp_keeper);
	io->stamp_keeper = -1;
}

static uint16_t sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* A connect to a local port in the ephemeral range can pick that very port as its
 * source and connect to itself (a TCP simultaneous open), echoing its own bytes. */
static int sockio_check_self(const struct sockio *io, int fd, const struct sockaddr_any *to)
{
	struct sockaddr_storage me;
	socklen_t len = sizeof(me);
	uint16_t port = sockaddr_port(&to->ss);

	if (port < io->port_lo || port > io->port_hi)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&me, &len) < 0)
		return -errno;
	if (len == to->len && memcmp(&me, &to->ss, len) == 0)
		return -ECONNREFUSED;
	return 0;
}

static int sockio_connect(void *ctx, struct session *s, const struct target_conf *tc,
			  enum io_phase *ret_phase)
{
	struct sockio *io = ctx;
	bool udp = tc->protocol == TPROTO_UDP;
	int one = 1, zero = 0, r, fd;

	*ret_phase = PHASE_SOCKET;
	if (io->open >= io->max_open)
		return -EMFILE;
	fd = socket(tc->addr.ss.ss_family,
		    (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (udp && tc->addr.ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
	else if (udp)
		(void)setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	if (!udp) {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* Quick ACKs off until the handshake: its last ACK rides on the first
		 * request and the echo is not acknowledged alone before the close, two
		 * segments fewer per cycle (HAProxy's checks do the same); t_packets.sh
		 * counts them. Not for TLS: a server with Nagle on that writes its first
		 * flight in two parts holds the second until the first is acknowledged,
		 * and a delayed ACK made that 20 to 40 ms of the TLS handshake. */
		if (tc->protocol == TPROTO_TCP)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero));
	}
	if (tc->has_source) {
		*ret_phase = PHASE_BIND;
		r = sockio_bind_source(fd, tc);
		if (r < 0)
			goto fail;
	}
	s->gen++;
	*ret_phase = PHASE_SOCKET;
	/* A UDP socket is writable but for a full send buffer (session.c). */
	r = loop_add_bulk_fd(io->loop, fd,
			     udp ? EPOLLIN | EPOLLET : EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
			     loop_data_session(s->id, s->gen));
	if (r < 0)
		goto fail;
	*ret_phase = PHASE_CONNECT;
	s->fd = fd;
	io->open++;
	if (connect(fd, (const struct sockaddr *)&tc->addr.ss, tc->addr.len) == 0)
		r = sockio_check_self(io, fd, &tc->addr);
	else
		r = -errno;
	/* OPT_ID needs a socket past CLOSE: its key then counts bytes from the first. */
	if ((r == 0 || r == -EINPROGRESS) && io->stamp_keeper >= 0 && tc->protocol == TPROTO_TCP &&
	    tc->timestamps == TIMESTAMPS_KERNEL) {
		int flags = SOCKIO_STAMP_FLAGS;

		(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags));
	}
	if (r == 0)
		return 0;
	if (r == -EINPROGRESS)
		return r;
	s->fd = -1;
	io->open--;
fail:
	close(fd);
	return r;
}

static int sockio_connect_result(void *ctx, int fd, const struct target_conf *tc,
				 unsigned ready)
{
	const struct sockio *io = ctx;
	int err = 0;
	socklen_t len = sizeof(err);

	/* Writable with no error or hang-up flag: the connect succeeded, no SO_ERROR. */
	if ((ready & (SESS_READY_OUT | SESS_READY_HUP)) == SESS_READY_OUT)
		return sockio_check_self(io, fd, &tc->addr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (err)
		return -err;
	return sockio_check_self(ctx, fd, &tc->addr);
}

static ssize_t sockio_send(void *ctx, int fd, const void *p, size_t n)
{
	ssize_t r = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)ctx;
	return r < 0 ? -errno : r;
}

static ssize_t sockio_recv(void *ctx, int fd, void *p, size_t n)
{
	ssize_t r = recv(fd, p, n, MSG_DONTWAIT);

	(void)ctx;
	return r < 0 ? -errno : r;
}

static int64_t timespec_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NSEC_PER_SEC + ts->tv_nsec;
}

/* The software stamp of a message's SCM_TIMESTAMPING, or 0. */
static int64_t sockio_cmsg_stamp(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
			struct scm_timestamping ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			return timespec_ns(&ts.ts[0]);
		}
	}
	return 0;
}

static ssize_t sockio_recv_stamped(void *ctx, int fd, void *p, size_t n, int64_t *ret_stamp)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct scm_timestamping))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = p, .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	ssize_t r = recvmsg(fd, &mh, MSG_DONTWAIT);
	int64_t stamp;

	(void)ctx;
	if (r < 0)
		return -errno;
	stamp = r > 0 ? sockio_cmsg_stamp(&mh) : 0;
	if (stamp > 0)
		*ret_stamp = stamp;
	return r;
}

/* The OPT_ID key of an error queue entry that is a TX stamp, or -1. */
static int64_t sockio_cmsg_key(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		struct sock_extended_err ee;

		if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
		      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
			continue;
		memcpy(&ee, CMSG_DATA(c), sizeof(ee));
		if (ee.ee_errno == ENOMSG && ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING &&
		    ee.ee_info == SCM_TSTAMP_SND)
			return ee.ee_data;
	}
	return -1;
}

/* Read the error queue until the stamp keyed key, its end, or a bound: each entry is
 * one the kernel queued for a send of this session's, so none is anyone else's news. */
static int64_t sockio_tx_stamp(void *ctx, int fd, uint32_t key)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct scm_timestamping)) +
			 CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6))];
		struct cmsghdr align;
	} ctl;

	(void)ctx;
	for (int i = 0; i < SOCKIO_ERRQUEUE_READS; i++) {
		struct msghdr mh = { .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		int64_t stamp;

		if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return -1;
		stamp = sockio_cmsg_stamp(&mh);
		if (stamp > 0 && sockio_cmsg_key(&mh) == (int64_t)key)
			return stamp;
	}
	return -1;
}

static int sockio_tcp_info(void *ctx, int fd, struct sess_tcp *ret)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	(void)ctx;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	*ret = (struct sess_tcp){ .rtt_us = ti.tcpi_rtt, .rttvar_us = ti.tcpi_rttvar,
				  .total_retrans = ti.tcpi_total_retrans };
	return 0;
}

/* TCP_QUICKACK on sends an ACK that is due at once; the kernel may turn delayed
 * ACKs back on later by itself, so this is asked again at each partial echo. */
static void sockio_ack_now(void *ctx, int fd)
{
	int one = 1;

	(void)ctx;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

static void sockio_close(void *ctx, int fd, bool rst)
{
	struct sockio *io = ctx;

	io->open--;
	if (rst) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(fd);
}

static unsigned sockio_ready(void *ctx, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT | POLLRDHUP };
	unsigned r = 0;

	(void)ctx;
	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))
		r |= SESS_READY_IN;
	if (p.revents & (POLLOUT | POLLHUP | POLLERR))
		r |= SESS_READY_OUT;
	if (p.revents & (POLLRDHUP | POLLHUP | POLLERR))
		r |= SESS_READY_HUP;
	return r;
}

/* An ICMP (or ICMPv6) message in words: the common ones by name. */
static void sockio_icmp_text(const struct sock_extended_err *ee, char *out, size_t n)
{
	static const char *const v4[] = { [0] = "network unreachable", [1] = "host unreachable",
					   [2] = "protocol unreachable", [3] = "port unreachable",
					   [4] = "fragmentation needed", [13] = "administratively prohibited" };
	static const char *const v6[] = { [0] = "no route", [1] = "administratively prohibited",
					   [3] = "address unreachable", [4] = "port unreachable" };
	bool is6 = ee->ee_origin == SO_EE_ORIGIN_ICMP6;
	const char *name = NULL;

	if (!is6 && ee->ee_type == 3 && ee->ee_code < sizeof(v4) / sizeof(v4[0]))
		name = v4[ee->ee_code];
	if (is6 && ee->ee_type == 1 && ee->ee_code < sizeof(v6) / sizeof(v6[0]))
		name = v6[ee->ee_code];
	if (name)
		snprintf(out, n, "ICMP%s %s", is6 ? "v6" : "", name);
	else
		snprintf(out, n, "ICMP%s type %u code %u", is6 ? "v6" : "", ee->ee_type, ee->ee_code);
}

/* Say who sent the error queued in ee, after what it said. */
static void sockio_offender_text(const struct sock_extended_err *ee, char *out, size_t n)
{
	/* Where SO_EE_OFFENDER() points, without its cast that drops const. */
	const struct sockaddr *off = (const void *)(ee + 1);
	char addr[INET6_ADDRSTRLEN];
	size_t len = strlen(out);

	if (off->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)off)->sin_addr, addr, sizeof(addr));
	else if (off->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)off)->sin6_addr, addr, sizeof(addr));
	else
		return;
	snprintf(out + len, n - len, " from %s", addr);
}

/* Read one queued error into out; false when the queue is empty. */
static bool sockio_read_errqueue(int fd, char *out, size_t n)
{
	char ctl[512];
	uint8_t byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			    .msg_controllen = sizeof(ctl) };

	if (recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
		return false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		const struct sock_extended_err *ee = (const void *)CMSG_DATA(c);

		if (!((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
		      (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)))
			continue;
		if (ee->ee_origin == SO_EE_ORIGIN_ICMP || ee->ee_origin == SO_EE_ORIGIN_ICMP6) {
			sockio_icmp_text(ee, out, n);
			sockio_offender_text(ee, out, n);
		} else {
			snprintf(out, n, "%s", strerror((int)ee->ee_errno));
		}
	}
	return true;
}

/* The error queue holds at most a socket buffer's worth; read a bounded number of
 * entries and keep the newest one's words. */
static const char *sockio_error_detail(void *ctx, int fd, char *out, size_t n)
{
	bool any = false;

	(void)ctx;
	out[0] = '\0';
	for (int i = 0; i < 16 && sockio_read_errqueue(fd, out, n); i++)
		any = true;
	return any && out[0] ? out : NULL;
}

/* The calls both tables share. */
#define SOCKIO_BASE_OPS                                                                    \
	.connect = sockio_connect, .connect_result = sockio_connect_result,               \
	.send = sockio_send, .recv = sockio_recv, .close = sockio_close, .ready = sockio_ready, \
	.error_detail = sockio_error_detail, .ack_now = sockio_ack_now

const struct session_io sockio_ops = { SOCKIO_BASE_OPS };

const struct session_io sockio_stamped_ops = {
	SOCKIO_BASE_OPS,
	.recv_stamped = sockio_recv_stamped,
	.tx_stamp = sockio_tx_stamp,
	.tcp_info = sockio_tcp_info,
};
