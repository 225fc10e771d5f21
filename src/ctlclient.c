/* Talking to mconnd's control socket from the client side: one connection per query,
 * bounded reply, bounded wait. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlclient.h"
#include "proto.h"
#include "util.h"

static int ctlclient_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot connect to %s: %s%s", path, strerror(e),
			 e == EACCES ? " (the socket's mode and group do not let this user in; see control_mode and control_group in mconnd.conf(5))"
			 : e == ENOENT || e == ECONNREFUSED ? " (is mconnd running, and is this its control_socket?)"
			 : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Look for the reply's end (its empty line) in the bytes from scanned on, each byte
 * once however the reply arrives; returns its length or 0, and moves scanned on. */
static size_t ctlclient_reply_end(const struct buf *reply, size_t *scanned)
{
	const char *p = reply->data, *end = reply->data + reply->len;
	const char *at = p + (*scanned ? *scanned - 1 : 0);

	while (at < end && (at = memchr(at, '\n', (size_t)(end - at))) != NULL) {
		if (at + 1 < end && at[1] == '\n')
			return (size_t)(at - p) + 2;
		if (at + 1 == end)
			break;
		at++;
	}
	*scanned = reply->len;
	return 0;
}

/* Send the request and read until the reply's empty line; returns its length or 0. */
static size_t ctlclient_exchange(int fd, const char *req, size_t len, struct buf *reply,
				 char *err, size_t errlen)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int wait_ms = strncmp(req, "reload", 6) == 0 && (req[6] == '\n' || req[6] == ' ')
			      ? CTLCLIENT_SLOW_TIMEOUT_MS : CTLCLIENT_TIMEOUT_MS;
	char chunk[65536];
	size_t end, scanned = 0;

	/* A daemon that refuses us (ERR busy) may close before reading the request:
	 * read its reply even when the send fails. */
	(void)!send(fd, req, len, MSG_NOSIGNAL);
	while ((end = ctlclient_reply_end(reply, &scanned)) == 0) {
		ssize_t n;

		if (poll(&p, 1, wait_ms) <= 0) {
			snprintf(err, errlen, "no reply within %d s", wait_ms / 1000);
			return 0;
		}
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && errno == ECONNRESET && reply->len == 0) {
			snprintf(err, errlen, "the daemon closed the connection");
			return 0;
		}
		if (n <= 0) {
			snprintf(err, errlen, "connection closed before the reply ended");
			return 0;
		}
		if (buf_append(reply, chunk, (size_t)n) < 0) {
			snprintf(err, errlen, "reply too large");
			return 0;
		}
	}
	return end;
}

/* Keep only the body of a reply of end bytes (an ERR reply's lines after the first
 * too); say what its first line means. */
static enum ctl_outcome ctlclient_body(struct buf *reply, size_t end, char *err, size_t errlen)
{
	const char *nl = memchr(reply->data, '\n', end);
	size_t first = (size_t)(nl - reply->data);
	enum ctl_outcome r = CTL_OK;

	if (first >= 4 && strncmp(reply->data, "ERR ", 4) == 0) {
		snprintf(err, errlen, "%.*s", (int)(first - 4), reply->data + 4);
		r = CTL_ERR;
	} else if (first != 2 || strncmp(reply->data, "OK", 2) != 0) {
		snprintf(err, errlen, "unexpected reply: %.*s", (int)MIN(first, 80), reply->data);
		return CTL_UNREACHABLE;
	}
	/* Once per reply, so a copy costs no more than reading it did. */
	reply->len = end - 1 - (first + 1);
	memmove(reply->data, reply->data + first + 1, reply->len);
	reply->data[reply->len] = '\0';
	return r;
}

enum ctl_outcome ctlclient_query(const char *path, const char *request, struct buf *reply,
				 char *err, size_t errlen)
{
	struct buf req;
	enum ctl_outcome r = CTL_UNREACHABLE;
	size_t end;
	int fd;

	reply->len = 0;
	reply->overflow = false;
	buf_init(&req, CTL_MAX_LINE);
	if (buf_printf(&req, "%s\n", request) < 0) {
		snprintf(err, errlen, "request too long (at most %d bytes)", CTL_MAX_LINE - 1);
		buf_free(&req);
		return CTL_UNREACHABLE;
	}
	fd = ctlclient_connect(path, err, errlen);
	if (fd >= 0) {
		end = ctlclient_exchange(fd, req.data, req.len, reply, err, errlen);
		if (end > 0)
			r = ctlclient_body(reply, end, err, errlen);
		close(fd);
	}
	buf_free(&req);
	return r;
}

bool ctlclient_word(const char *line, const char *key, char *out, size_t n)
{
	size_t klen = strlen(key);
	const char *end = line + strcspn(line, "\n");

	for (const char *p = line; p < end; p++) {
		size_t vlen;

		if ((p != line && p[-1] != ' ') || strncmp(p, key, klen) != 0 || p[klen] != '=')
			continue;
		p += klen + 1;
		vlen = strcspn(p, " \n");
		if (vlen >= n)
			return false;
		memcpy(out, p, vlen);
		out[vlen] = '\0';
		return true;
	}
	return false;
}

bool ctlclient_word_i64(const char *line, const char *key, int64_t *ret)
{
	char v[32], *end;
	long long x;

	if (!ctlclient_word(line, key, v, sizeof(v)) || !v[0])
		return false;
	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno || *end)
		return false;
	*ret = x;
	return true;
}
