/* mconnctl: send one request to mconnd's control socket and print the reply.
 * Exit status: 0 done, 1 the daemon answered ERR, 2 usage, 3 daemon unreachable. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"
#include "util.h"

#define EXIT_ERR 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3
#define REPLY_TIMEOUT_MS 10000

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mconnctl [-s SOCKET] [-j] COMMAND [ARGS]\n"
		"Ask a running mconnd.\n"
		"\n"
		"Commands:\n"
		"  status [TARGET]     health, counters, failures by class, latency\n"
		"  sessions TARGET     each session's state, cycles, last result and latency\n"
		"  help                the commands the daemon knows\n"
		"  version             the daemon's version\n"
		"Commands that change the daemon (root, mconnd's user or admin_group):\n"
		"  reload              read the configuration files again, apply what changed\n"
		"  set TARGET KEY VALUE  change connections, interval, connect_timeout,\n"
		"                      timeout, rise or fall until the next reload\n"
		"  pause TARGET        close a target's sessions, keep its counters\n"
		"  resume TARGET       start a paused target again\n"
		"\n"
		"Options:\n"
		"  -s SOCKET  control socket (default: $MCONND_SOCKET, else %s)\n"
		"  -j         JSON output\n"
		"  -h         show this help;  -V  show mconnctl's version\n"
		"\n"
		"Exit status: 0 done, 1 the daemon answered ERR, 2 usage, 3 daemon unreachable.\n"
		"See mconnctl(8).\n",
		CTL_DEFAULT_SOCKET);
}

/* Join the command words into one request line; -EINVAL on unusable words. */
static int build_request(int argc, char **argv, bool json, struct buf *req)
{
	for (int i = 0; i < argc; i++) {
		if (argv[i][0] == '\0' || strpbrk(argv[i], " \t\r\n"))
			return -EINVAL;
		buf_printf(req, "%s%s", i ? " " : "", argv[i]);
	}
	if (json)
		buf_printf(req, " -j");
	buf_printf(req, "\n");
	return req->overflow ? -E2BIG : 0;
}

static int connect_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		fprintf(stderr, "mconnctl: cannot connect to %s: %s%s\n", path, strerror(e),
			e == EACCES ? " (the socket's mode and group do not let this user in; see control_mode and control_group in mconnd.conf(5))"
			: e == ENOENT || e == ECONNREFUSED ? " (is mconnd running, and is this its control_socket?)"
			: "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send the request and read until the reply's empty line; returns its length or -1. */
static ssize_t exchange(int fd, const struct buf *req, struct buf *reply)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char chunk[65536];
	size_t end;

	/* A daemon that refuses us (ERR busy) may close before reading the request:
	 * read its reply even when the send fails. */
	(void)!send(fd, req->data, req->len, MSG_NOSIGNAL);
	while ((end = proto_reply_length(reply->data, reply->len)) == 0) {
		ssize_t n;

		if (poll(&p, 1, REPLY_TIMEOUT_MS) <= 0) {
			fprintf(stderr, "mconnctl: no reply within %d s\n", REPLY_TIMEOUT_MS / 1000);
			return -1;
		}
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && errno == ECONNRESET && reply->len == 0) {
			fprintf(stderr, "mconnctl: the daemon closed the connection\n");
			return -1;
		}
		if (n <= 0) {
			fprintf(stderr, "mconnctl: connection closed before the reply ended\n");
			return -1;
		}
		if (buf_append(reply, chunk, (size_t)n) < 0) {
			fprintf(stderr, "mconnctl: reply too large\n");
			return -1;
		}
	}
	return (ssize_t)end;
}

/* Print the reply's body; returns the exit status its first line calls for. */
static int print_reply(const char *data, size_t len)
{
	const char *nl = memchr(data, '\n', len);
	size_t first = (size_t)(nl - data);

	if (first >= 4 && strncmp(data, "ERR ", 4) == 0) {
		fprintf(stderr, "mconnctl: %.*s\n", (int)(first - 4), data + 4);
		fwrite(nl + 1, 1, len - first - 2, stderr);
		return EXIT_ERR;
	}
	if (first != 2 || strncmp(data, "OK", 2) != 0) {
		fprintf(stderr, "mconnctl: unexpected reply: %.*s\n", (int)MIN(first, 80), data);
		return EXIT_UNREACHABLE;
	}
	fwrite(nl + 1, 1, len - first - 2, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = getenv("MCONND_SOCKET");
	struct buf req, reply;
	bool json = false;
	ssize_t end;
	int opt, fd, rc;

	if (path && !*path)
		path = NULL;
	opterr = 0;
	while ((opt = getopt(argc, argv, "+:s:jhV")) != -1) {
		switch (opt) {
		case 's': path = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("mconnctl %s\n", MCONN_VERSION); return 0;
		case ':':
			fprintf(stderr, "mconnctl: option -%c needs an argument\n", optopt);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "mconnctl: unknown option -%c\n", optopt);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "mconnctl: no command given\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (path && !*path) {
		fprintf(stderr, "mconnctl: empty socket path\n");
		return EXIT_USAGE;
	}
	if (!path)
		path = CTL_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "mconnctl: socket path too long (at most %zu bytes): %s\n",
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1, path);
		return EXIT_USAGE;
	}
	buf_init(&req, CTL_MAX_LINE);
	buf_init(&reply, CTL_MAX_REPLY);
	rc = build_request(argc - optind, argv + optind, json, &req);
	if (rc < 0) {
		if (rc == -E2BIG)
			fprintf(stderr, "mconnctl: request too long (at most %d bytes)\n", CTL_MAX_LINE);
		else
			fprintf(stderr, "mconnctl: arguments must be non-empty words without spaces\n");
		buf_free(&req);
		return EXIT_USAGE;
	}
	fd = connect_socket(path);
	rc = EXIT_UNREACHABLE;
	if (fd >= 0) {
		end = exchange(fd, &req, &reply);
		if (end > 0)
			rc = print_reply(reply.data, (size_t)end);
		close(fd);
	}
	buf_free(&req);
	buf_free(&reply);
	return rc;
}
