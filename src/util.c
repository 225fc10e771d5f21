/* Clock, bounded buffers, JSON string escaping and option errors used across mconn. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

int64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

const char *util_bad_option(char *const *argv, char *buf, size_t len)
{
	if (optopt)
		snprintf(buf, len, "-%c", optopt);
	else
		snprintf(buf, len, "%s", argv[optind - 1]);
	return buf;
}

void buf_init(struct buf *b, size_t limit)
{
	*b = (struct buf){ .limit = limit };
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = b->head = 0;
	b->overflow = false;
}

/* Move the unread bytes to the front once at least as many have been read: each byte
 * is moved at most once per byte read before it, so appending and consuming stay
 * linear. */
static void buf_compact(struct buf *b)
{
	size_t unread = b->len - b->head;

	if (b->head == 0 || b->head < unread)
		return;
	memmove(b->data, b->data + b->head, unread);
	b->len = unread;
	b->head = 0;
	b->data[b->len] = '\0';
}

/* Make room for n more bytes plus a terminating NUL. */
static int buf_reserve(struct buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (b->len + n + 1 > b->cap)
		buf_compact(b);
	if (b->overflow || n > b->limit || b->len - b->head > b->limit - n) {
		b->overflow = true;
		return -ENOBUFS;
	}
	want = b->len + n + 1;
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->overflow = true;
		return -ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int r = buf_reserve(b, n);

	if (r < 0)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* Formatting is done once when it fits in the room already there (most lines do),
 * twice otherwise. */
int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	if (!b->overflow && b->data && b->cap > b->len + 1) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->data + b->len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->data[b->len] = '\0';
			return -EINVAL;
		}
		if ((size_t)n < room && b->len - b->head + (size_t)n <= b->limit) {
			b->len += (size_t)n;
			return 0;
		}
		b->data[b->len] = '\0';
	}
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r = buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* Return the length of the valid UTF-8 sequence at p (2 to 4 bytes), or 0. */
static size_t utf8_length(const unsigned char *p, size_t n)
{
	size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
	uint32_t cp;

	if (p[0] < 0xc2 || p[0] > 0xf4 || len > n)
		return 0;
	cp = p[0] & (0x3f >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool utf8_printable(const char *s, size_t n)
{
	for (size_t i = 0, k; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x80 && (k = utf8_length((const unsigned char *)s + i, n - i)) > 0)
			i += k - 1;
		else if (c < 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

int buf_json_string(struct buf *b, const char *s, size_t n)
{
	size_t k;
	static const char hex[] = "0123456789abcdef";
	char esc[7];
	int r = buf_append(b, "\"", 1);

	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			r = buf_append(b, esc, 2);
		} else if (c >= 0x80 && (k = utf8_length((const unsigned char *)s + i, n - i)) > 0) {
			r = buf_append(b, &s[i], k);
			i += k - 1;
		} else if (c < 0x20 || c >= 0x7f) {
			/* esc is counted bytes for buf_append(), never a string. */
			memcpy(esc, "\\u00", 4); /* NOLINT(bugprone-not-null-terminated-result) */
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			r = buf_append(b, esc, 6);
		} else {
			r = buf_append(b, &s[i], 1);
		}
	}
	return r < 0 ? r : buf_append(b, "\"", 1);
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len - b->head) {
		b->len = b->head = 0;
		if (b->data)
			b->data[0] = '\0';
	} else {
		b->head += n;
	}
}
