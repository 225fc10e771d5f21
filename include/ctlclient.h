/* The client side of the control protocol, for mconnctl and its check and top
 * commands: connect, send one request, read one reply; read the KEY=VALUE words of
 * the `stats` reply. Errors come back as text, for the caller to show its own way. */
#ifndef MCONN_CTLCLIENT_H
#define MCONN_CTLCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct buf;

/* How long to wait for the next bytes of a reply; for a reload, which the daemon may
 * answer only once names are resolved, longer than the daemon ever takes. */
#define CTLCLIENT_TIMEOUT_MS 10000
#define CTLCLIENT_SLOW_TIMEOUT_MS ((CTL_DEFER_MAX_S + 10) * 1000)

/* What a request came to. */
enum ctl_outcome {
	CTL_OK,          /* The daemon answered OK; the body is in the reply. */
	CTL_ERR,         /* ERR: the reason in err, any further lines in the reply. */
	CTL_UNREACHABLE, /* No answer: cannot connect, closed, timed out, garbled. */
};

/* Send one request line (without its newline) to the socket at path. On CTL_OK the
 * reply buffer holds the body (the lines between "OK" and the empty line); else err
 * says why. */
enum ctl_outcome ctlclient_query(const char *path, const char *request, struct buf *reply,
				 char *err, size_t errlen);

/* Find the value of KEY in a line of KEY=VALUE words; copies it into out (n bytes)
 * and returns true, or returns false when the line has no such key. */
bool ctlclient_word(const char *line, const char *key, char *out, size_t n);

/* Read an integer KEY from a line of KEY=VALUE words; false when missing or bad. */
bool ctlclient_word_i64(const char *line, const char *key, int64_t *ret);

#endif
