/*
 * udplimit: the UDP baseline of make bench. A minimal UDP echo client doing what a
 * persistent mconnd UDP session does (RFC 862): N connected UDP sockets, each with
 * one 16-byte datagram in flight; when its echo comes back whole and equal, the next
 * goes out. One edge-triggered epoll loop, a read only after an EPOLLIN edge, read
 * until EAGAIN, no bookkeeping beyond a count: the best the kernel allows here.
 *
 * usage: udplimit -a IPV4:PORT -n N [-w WARM_S] [-d DUR_S]
 * Output, once the run ends: one JSON line {"ops":N,"failed":N,"secs":S,"cpu_s":S}
 * counting round trips and CPU (user+sys) over the measured window only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
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

#define UDPLIMIT_MAX_EVENTS 512

static const char msg[] = "mconn-bench-16b.";

static int parse_to(const char *s, struct sockaddr_in *ret)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(ret, 0, sizeof(*ret));
	ret->sin_family = AF_INET;
	ret->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &ret->sin_addr) == 1 ? 0 : -1;
}

/* One connected socket, registered edge-triggered, its first datagram sent. */
static int open_one(int epfd, const struct sockaddr_in *to, uint32_t idx)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u32 = idx };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ||
	    send(fd, msg, sizeof(msg) - 1, 0) != (ssize_t)sizeof(msg) - 1)
		return -1;
	return fd;
}

/* Read until the echo: it is a round trip and sends the next datagram. With one
 * datagram in flight nothing else can be queued behind it, and each arrival brings an
 * edge of its own, so the read that would only say EAGAIN is saved (as mconnd does). */
static void on_readable(int fd, uint64_t *ops, uint64_t *failed)
{
	char buf[2048];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0)
			return;
		if (n != (ssize_t)sizeof(msg) - 1 || memcmp(buf, msg, (size_t)n) != 0) {
			++*failed;
			continue;
		}
		++*ops;
		if (send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT) < 0)
			++*failed;
		return;
	}
}

int main(int argc, char **argv)
{
	struct epoll_event ev[UDPLIMIT_MAX_EVENTS];
	struct sockaddr_in to;
	double warm = 1, dur = 4, cpu0 = 0;
	uint64_t ops = 0, failed = 0, ops0 = 0, failed0 = 0;
	int64_t end, t_count = 0, now;
	long n = 0;
	int opt, epfd, *fds;
	int counting = 0, have_to = 0;

	while ((opt = getopt(argc, argv, "a:n:w:d:")) != -1) {
		if (opt == 'a')
			have_to = parse_to(optarg, &to) == 0;
		else if (opt == 'n')
			n = atol(optarg);
		else if (opt == 'w')
			warm = atof(optarg);
		else if (opt == 'd')
			dur = atof(optarg);
	}
	if (!have_to || n <= 0 || n > 100000) {
		fputs("usage: udplimit -a IPV4:PORT -n N [-w WARM_S] [-d DUR_S]\n", stderr);
		return 2;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	fds = calloc((size_t)n, sizeof(*fds));
	if (epfd < 0 || !fds)
		return 1;
	for (long i = 0; i < n; i++)
		if ((fds[i] = open_one(epfd, &to, (uint32_t)i)) < 0)
			return 1;
	end = mono_ns() + (int64_t)(warm * 1e9);
	for (;;) {
		int k;

		now = mono_ns();
		if (now >= end) {
			if (counting)
				break;
			counting = 1;
			ops0 = ops;
			failed0 = failed;
			cpu0 = cpu_s();
			t_count = now;
			end = now + (int64_t)(dur * 1e9);
		}
		k = epoll_wait(epfd, ev, UDPLIMIT_MAX_EVENTS, (int)((end - now) / 1000000 + 1));
		for (int i = 0; i < k; i++)
			on_readable(fds[ev[i].data.u32], &ops, &failed);
	}
	printf("{\"ops\":%llu,\"failed\":%llu,\"secs\":%.3f,\"cpu_s\":%.4f}\n",
	       (unsigned long long)(ops - ops0), (unsigned long long)(failed - failed0),
	       (double)(now - t_count) / 1e9, cpu_s() - cpu0);
	return 0;
}
