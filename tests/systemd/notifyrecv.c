/* notifyrecv: stand in for systemd's notification socket in tests. Binds an AF_UNIX
 * datagram socket at PATH and prints every datagram received as one line:
 * "<CLOCK_MONOTONIC in microseconds> <fields, newlines turned into spaces>".
 * File descriptors passed along (systemd-notify's BARRIER=1) are closed at once, which
 * is what releases the sender. Stops on SIGTERM or SIGINT, or after -t SECONDS. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_DATAGRAM 4096
#define MAX_FDS 16

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long long mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Close every descriptor that came with the message. */
static void close_passed_fds(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;
		int fds[MAX_FDS];

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (n > MAX_FDS)
			n = MAX_FDS;
		memcpy(fds, CMSG_DATA(c), n * sizeof(int));
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
	}
}

static void print_datagram(char *buf, ssize_t n, int truncated)
{
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\0')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	printf("%lld %.*s%s\n", mono_usec(), (int)n, buf, truncated ? " (TRUNCATED)" : "");
	fflush(stdout);
}

/* Print one waiting datagram: 1 when there was one, 0 when none, or -errno. */
static int receive_one(int fd)
{
	char buf[MAX_DATAGRAM];
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
			     .msg_controllen = sizeof(control) };
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	close_passed_fds(&mh);
	print_datagram(buf, n, (mh.msg_flags & MSG_TRUNC) != 0);
	return 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sigaction act = { .sa_handler = on_signal };
	long long deadline = 0;
	struct pollfd p;
	int fd, opt;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't')
			goto usage;
		deadline = mono_usec() + atoll(optarg) * 1000000;
	}
	if (optind != argc - 1 || strlen(argv[optind]) >= sizeof(sa.sun_path))
		goto usage;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[optind]);
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("notifyrecv: bind");
		return 1;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (!stop && (!deadline || mono_usec() < deadline)) {
		int r = poll(&p, 1, 100);

		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && receive_one(fd) < 0)
			break;
	}
	while (receive_one(fd) > 0)
		;
	unlink(sa.sun_path);
	close(fd);
	return 0;
usage:
	fprintf(stderr, "usage: notifyrecv [-t SECONDS] PATH\n");
	return 2;
}
