/* Small helpers shared by every part of mconn: the monotonic clock, a bounded growable
 * buffer, and string escaping for JSON. */
#ifndef MCONN_UTIL_H
#define MCONN_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NSEC_PER_USEC 1000LL
#define NSEC_PER_MSEC 1000000LL
#define NSEC_PER_SEC 1000000000LL

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* A byte buffer that grows on demand up to a hard limit; overflow is sticky. Bytes are
 * appended at len and taken from head (buf_consume), so a reader that takes a little
 * at a time costs no copying: the unread bytes are data[head, len), and head and len
 * go back to 0 once everything is read. The limit counts unread bytes. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit;
	bool overflow;
	size_t head;
};

/* Return "s" unless n is 1, for "%llu target%s". */
static inline const char *plural_s(unsigned long long n)
{
	return n == 1 ? "" : "s";
}

/* Return CLOCK_MONOTONIC in nanoseconds. */
int64_t now_ns(void);

/* The option getopt() or getopt_long() just refused, as written: "-x", or the whole
 * "--word" (getopt_long() leaves optopt 0 for a long one). */
const char *util_bad_option(char *const *argv, char *buf, size_t len);

/* Return CLOCK_REALTIME in nanoseconds since the Unix epoch. */
int64_t wall_ns(void);

/* Prepare an empty buffer that never grows beyond limit bytes. */
void buf_init(struct buf *b, size_t limit);

/* Release the buffer's memory and leave it empty; safe on a zeroed buffer. */
void buf_free(struct buf *b);

/* Append bytes; returns 0 or -ENOBUFS when the limit would be passed. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Append a formatted string; returns 0 or -ENOBUFS. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Return true when s (n bytes) is valid UTF-8 without control characters. */
bool utf8_printable(const char *s, size_t n);

/* Append a quoted JSON string for the n bytes at s; returns 0 or -ENOBUFS. */
int buf_json_string(struct buf *b, const char *s, size_t n);

/* Mark the first n unread bytes as read: no copying; the space they held is reused
 * when a later append needs it. */
void buf_consume(struct buf *b, size_t n);

/* The bytes not read yet, and how many there are. */
static inline const char *buf_unread(const struct buf *b)
{
	return b->data + b->head;
}

static inline size_t buf_unread_len(const struct buf *b)
{
	return b->len - b->head;
}

#endif
