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
 *   ctlprobe -s SOCK flood KIND N SECONDS [REQUEST]
 *                                           keep N abusive clients connected for SECONDS,
 *                                           each reconnecting when dropped. KIND: slowline
 *                                           (one byte, no newline), silent (nothing),
 *                                           unread (REQUEST, never read), bigread
 *                                           (REQUEST, read the whole reply, again)
 *   ctlprobe -s SOCK probe EVERY_MS SECONDS MAX_MS
 *                                           a status request on a fresh connection every
 *                                           EVERY_MS for SECONDS; fail when one is not
 *                                           answered OK or the p99 is over MAX_MS
 *
 * Every wait is bounded (10 s). Exit 0 when the probe saw what it expects, 1 if not,
 * 2 on usage errors. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000
#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))
#define MIN_INT(a, b) ((a) < (b) ? (a) : (b))
#define MAX_CLIENTS 1024
/* How long a probe waits for its reply before counting it unanswered. */
#define PROBE_WAIT_MS 2000

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

/* One abusive client of a flood. */
struct flooder {
	int fd;
	size_t sent;
	char last;
};

enum flood_kind { FLOOD_SLOWLINE, FLOOD_SILENT, FLOOD_UNREAD, FLOOD_BIGREAD };

struct flood_counts {
	unsigned long long connects, drops, busy, replies, bytes;
};

/* Connect without waiting (a full backlog is tried again on the next round) and send
 * what this kind sends first. */
static void flood_dial(struct flooder *f, enum flood_kind kind, const char *req,
		       struct flood_counts *n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return;
	}
	f->fd = fd;
	f->sent = 0;
	f->last = 0;
	n->connects++;
	if (kind == FLOOD_SLOWLINE)
		(void)!send(fd, "s", 1, MSG_NOSIGNAL);
	else if (kind == FLOOD_UNREAD || kind == FLOOD_BIGREAD)
		(void)!send(fd, req, strlen(req), MSG_NOSIGNAL);
}

/* Read what came for a flooder; a bigread one asks again after each whole reply.
 * Returns false when the daemon dropped it. */
static bool flood_read(struct flooder *f, enum flood_kind kind, const char *req,
		       struct flood_counts *n)
{
	static char chunk[1 << 16];

	for (;;) {
		ssize_t r = recv(f->fd, chunk, sizeof(chunk), MSG_DONTWAIT);

		if (r < 0 && errno == EAGAIN)
			return true;
		if (r <= 0)
			return false;
		if (strncmp(chunk, "ERR busy", 8) == 0)
			n->busy++;
		n->bytes += (unsigned long long)r;
		for (ssize_t i = 0; i < r; i++) {
			if (chunk[i] == '\n' && f->last == '\n') {
				n->replies++;
				if (kind == FLOOD_BIGREAD)
					(void)!send(f->fd, req, strlen(req), MSG_NOSIGNAL);
				f->last = 0;
				continue;
			}
			f->last = chunk[i];
		}
	}
}

static int probe_flood(const char *kind_name, int count, double seconds, const char *req)
{
	static const char *const kinds[] = { "slowline", "silent", "unread", "bigread" };
	static struct flooder fl[MAX_CLIENTS];
	static struct pollfd p[MAX_CLIENTS];
	struct flood_counts n = { 0 };
	long long end = mono_us() + (long long)(seconds * 1e6);
	enum flood_kind kind = FLOOD_SLOWLINE;
	size_t k;

	for (k = 0; k < ELEMENTS(kinds) && strcmp(kinds[k], kind_name) != 0; k++)
		;
	if (k == ELEMENTS(kinds) || count < 1 || count > MAX_CLIENTS ||
	    ((k == FLOOD_UNREAD || k == FLOOD_BIGREAD) && !req))
		return 2;
	kind = (enum flood_kind)k;
	if (req) {
		static char line[4096];

		snprintf(line, sizeof(line), "%s\n", req);
		req = line;
	}
	for (int i = 0; i < count; i++)
		fl[i].fd = -1;
	while (mono_us() < end) {
		for (int i = 0; i < count; i++) {
			if (fl[i].fd < 0)
				flood_dial(&fl[i], kind, req, &n);
			/* An unread client asks for nothing: only a drop (HUP) wakes it. */
			p[i] = (struct pollfd){ .fd = fl[i].fd, .events = kind == FLOOD_UNREAD ? 0 : POLLIN };
		}
		if (poll(p, (nfds_t)count, 10) < 0 && errno != EINTR)
			return 1;
		for (int i = 0; i < count; i++) {
			if (fl[i].fd < 0 || !p[i].revents)
				continue;
			if (!(p[i].revents & (POLLHUP | POLLERR)) && flood_read(&fl[i], kind, req, &n))
				continue;
			close(fl[i].fd);
			fl[i].fd = -1;
			n.drops++;
		}
	}
	for (int i = 0; i < count; i++)
		if (fl[i].fd >= 0)
			close(fl[i].fd);
	printf("flood %s x%d for %.1f s: %llu connects, %llu dropped, %llu told busy, "
	       "%llu replies, %llu bytes read\n", kind_name, count, seconds, n.connects, n.drops,
	       n.busy, n.replies, n.bytes);
	return 0;
}

/* One status request on a fresh connection: its time in us, or -1 unanswered, -2 busy.
 * A reply of any length is read to its end; only its first bytes and last two are kept. */
static long long probe_once(void)
{
	char buf[1 << 16], head[16] = "", tail[2] = { 0, 0 };
	long long t0 = mono_us();
	struct pollfd p;
	size_t total = 0;
	int fd = dial();

	if (fd < 0)
		return -1;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	(void)!send(fd, "status\n", 7, MSG_NOSIGNAL);
	for (;;) {
		long long left = PROBE_WAIT_MS - (mono_us() - t0) / 1000;
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		r = recv(fd, buf, sizeof(buf), 0);
		if (r <= 0)
			break;
		if (total < sizeof(head) - 1)
			memcpy(head + total, buf, MIN_INT((int)(sizeof(head) - 1 - total), (int)r));
		tail[0] = r >= 2 ? buf[r - 2] : tail[1];
		tail[1] = buf[r - 1];
		total += (size_t)r;
		if (tail[0] == '\n' && tail[1] == '\n')
			break;
	}
	close(fd);
	if (strncmp(head, "ERR busy", 8) == 0)
		return -2;
	if (strncmp(head, "OK\n", 3) != 0 || total < 2 || tail[0] != '\n' || tail[1] != '\n')
		return -1;
	return mono_us() - t0;
}

static int probe_paced(int every_ms, double seconds, double max_ms)
{
	int count = (int)(seconds * 1000 / every_ms), answered = 0, busy = 0;
	long long *t = calloc((size_t)count + 1, sizeof(*t));
	struct timespec next;
	long long p99;

	if (!t || count < 1)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (int i = 0; i < count; i++) {
		long long r = probe_once();

		if (r >= 0)
			t[answered++] = r;
		busy += r == -2;
		next.tv_nsec += every_ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		/* Pacing, not synchronisation: one probe every EVERY_MS. */
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	qsort(t, (size_t)answered, sizeof(*t), cmp_ll);
	p99 = answered ? t[MIN_INT((answered * 99) / 100, answered - 1)] : 0;
	printf("probes %d: %d answered, %d busy, %d other; p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       count, answered, busy, count - answered - busy,
	       answered ? t[answered / 2] / 1000.0 : 0.0, p99 / 1000.0,
	       answered ? t[answered - 1] / 1000.0 : 0.0);
	free(t);
	return answered == count && p99 <= (long long)(max_ms * 1000) ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[1], "-s") != 0) {
		fprintf(stderr, "usage: ctlprobe -s SOCK latency|hold|longline|garbage|noread|flood|probe ARGS\n");
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
	if (strcmp(argv[3], "flood") == 0 && (argc == 7 || argc == 8))
		return probe_flood(argv[4], atoi(argv[5]), atof(argv[6]), argc == 8 ? argv[7] : NULL);
	if (strcmp(argv[3], "probe") == 0 && argc == 7)
		return probe_paced(atoi(argv[4]), atof(argv[5]), atof(argv[6]));
	fprintf(stderr, "ctlprobe: bad arguments\n");
	return 2;
}
