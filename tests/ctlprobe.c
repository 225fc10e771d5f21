/* ctlprobe: a test client for the control socket that does what mconnctl will not.
 *
 *   ctlprobe -s SOCK latency COUNT MAX_MS   time COUNT status requests, one connection
 *                                           each; fail when one takes over MAX_MS
 *   ctlprobe -s SOCK hold COUNT             open COUNT connections at once, each sends
 *                                           "version"; report how many were served and
 *                                           how many told busy; hold them until stdin
 *                                           reaches EOF
 *   ctlprobe -s SOCK longline BYTES         send one line of BYTES bytes; print the reply
 *                                           and whether the daemon closed the connection
 *   ctlprobe -s SOCK garbage BYTES SEED     send BYTES pseudo-random bytes (no newline
 *                                           byte is special); print every reply's first line
 *   ctlprobe -s SOCK noread                 send status requests until the socket is
 *                                           full, never read; exit when dropped
 *
 * Every wait is bounded (10 s). Exit 0 when the probe saw what it expects, 1 if not,
 * 2 on usage errors. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000
#define MAX_CLIENTS 1024

static const char *sock_path;

static long long mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int dial(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ctlprobe: connect %s: %s\n", sock_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Read into buf until a reply ends (an empty line), EOF or the wait runs out.
 * Returns the bytes read; *closed tells whether the peer closed. */
static size_t read_reply(int fd, char *buf, size_t n, int *closed)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long long deadline = mono_us() + WAIT_MS * 1000LL;
	size_t len = 0;

	*closed = 0;
	while (len + 1 < n) {
		int left = (int)((deadline - mono_us()) / 1000);
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		r = recv(fd, buf + len, n - 1 - len, 0);
		if (r <= 0) {
			*closed = 1;
			break;
		}
		len += (size_t)r;
		buf[len] = '\0';
		if (strstr(buf, "\n\n"))
			break;
	}
	buf[len] = '\0';
	return len;
}

/* Say that fd is connected, so a test can order what follows after it. */
static void say_connected(void)
{
	printf("connected\n");
	fflush(stdout);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static int probe_latency(int count, double max_ms)
{
	long long *t = calloc((size_t)count, sizeof(*t));
	char buf[1 << 16];
	int bad = 0, closed;

	if (!t)
		return 1;
	for (int i = 0; i < count; i++) {
		long long t0 = mono_us();
		int fd = dial();

		if (fd < 0)
			return 1;
		if (send(fd, "status\n", 7, MSG_NOSIGNAL) != 7 ||
		    read_reply(fd, buf, sizeof(buf), &closed) < 3 || strncmp(buf, "OK\n", 3) != 0) {
			fprintf(stderr, "ctlprobe: request %d: bad reply: %.80s\n", i, buf);
			bad++;
		}
		t[i] = mono_us() - t0;
		close(fd);
	}
	qsort(t, (size_t)count, sizeof(*t), cmp_ll);
	printf("status latency over %d requests: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", count,
	       t[count / 2] / 1000.0, t[(count * 99) / 100 < count ? (count * 99) / 100 : count - 1] / 1000.0,
	       t[count - 1] / 1000.0);
	bad += t[count - 1] > (long long)(max_ms * 1000);
	free(t);
	return bad ? 1 : 0;
}

static int probe_hold(int count)
{
	static int fds[MAX_CLIENTS];
	char buf[4096], c;
	int served = 0, busy = 0, other = 0, closed;

	if (count > MAX_CLIENTS)
		return 2;
	for (int i = 0; i < count; i++) {
		fds[i] = dial();
		if (fds[i] < 0)
			return 1;
		(void)!send(fds[i], "version\n", 8, MSG_NOSIGNAL);
	}
	for (int i = 0; i < count; i++) {
		read_reply(fds[i], buf, sizeof(buf), &closed);
		if (strncmp(buf, "OK\n", 3) == 0)
			served++;
		else if (strncmp(buf, "ERR busy", 8) == 0)
			busy++;
		else
			other++;
	}
	printf("held %d clients: %d served, %d busy, %d other\n", count, served, busy, other);
	fflush(stdout);
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	for (int i = 0; i < count; i++)
		close(fds[i]);
	return other ? 1 : 0;
}

static int probe_longline(size_t bytes)
{
	char *line = malloc(bytes + 1), buf[4096];
	int fd = dial(), closed;
	size_t off = 0;

	if (!line || fd < 0)
		return 1;
	say_connected();
	memset(line, 'a', bytes);
	line[bytes] = '\n';
	while (off < bytes + 1) {
		ssize_t r = send(fd, line + off, bytes + 1 - off, MSG_NOSIGNAL);

		if (r <= 0)
			break;
		off += (size_t)r;
	}
	read_reply(fd, buf, sizeof(buf), &closed);
	if (!closed) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char more[4096];

		/* The daemon closes after its reply; what it had not read may still come. */
		while (poll(&p, 1, WAIT_MS) > 0 && recv(fd, more, sizeof(more), 0) > 0)
			;
		closed = 1;
	}
	printf("sent %zu of %zu bytes; reply: %.*s; closed: %s\n", off, bytes + 1,
	       (int)strcspn(buf, "\n"), buf, closed ? "yes" : "no");
	free(line);
	close(fd);
	return strncmp(buf, "ERR line too long", 17) == 0 ? 0 : 1;
}

static int probe_garbage(size_t bytes, unsigned seed)
{
	char *junk = malloc(bytes), buf[1 << 16];
	int fd = dial(), closed, bad = 0, replies = 0;
	size_t len;

	if (!junk || fd < 0)
		return 1;
	say_connected();
	srand(seed);
	for (size_t i = 0; i < bytes; i++)
		junk[i] = (char)(rand() & 0xff);
	(void)!send(fd, junk, bytes, MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	do {
		len = read_reply(fd, buf, sizeof(buf), &closed);
		for (char *p = buf; p && p < buf + len; p = strstr(p, "\n\n")) {
			while (*p == '\n')
				p++;
			if (!*p)
				break;
			replies++;
			if (strncmp(p, "ERR ", 4) != 0 && strncmp(p, "OK\n", 3) != 0)
				bad++;
		}
	} while (len > 0 && !closed);
	printf("garbage of %zu bytes: %d replies, %d not OK/ERR\n", bytes, replies, bad);
	free(junk);
	close(fd);
	return bad ? 1 : 0;
}

static int probe_noread(void)
{
	struct pollfd p;
	int fd = dial();
	long long deadline = mono_us() + 3LL * WAIT_MS * 1000;

	if (fd < 0)
		return 1;
	say_connected();
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	while (mono_us() < deadline) {
		ssize_t r = send(fd, "status\n", 7, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r < 0 && errno == EAGAIN) {
			if (poll(&p, 1, 100) < 0)
				break;
			continue;
		}
		if (r < 0) {
			printf("dropped by the daemon: %s\n", strerror(errno));
			close(fd);
			return 0;
		}
	}
	printf("not dropped within %d s\n", 3 * WAIT_MS / 1000);
	close(fd);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[1], "-s") != 0) {
		fprintf(stderr, "usage: ctlprobe -s SOCK latency|hold|longline|garbage|noread ARGS\n");
		return 2;
	}
	sock_path = argv[2];
	if (strcmp(argv[3], "latency") == 0 && argc == 6)
		return probe_latency(atoi(argv[4]), atof(argv[5]));
	if (strcmp(argv[3], "hold") == 0 && argc == 5)
		return probe_hold(atoi(argv[4]));
	if (strcmp(argv[3], "longline") == 0 && argc == 5)
		return probe_longline((size_t)atol(argv[4]));
	if (strcmp(argv[3], "garbage") == 0 && argc == 6)
		return probe_garbage((size_t)atol(argv[4]), (unsigned)atoi(argv[5]));
	if (strcmp(argv[3], "noread") == 0 && argc == 4)
		return probe_noread();
	fprintf(stderr, "ctlprobe: bad arguments\n");
	return 2;
}
