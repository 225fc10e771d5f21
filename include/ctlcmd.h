/* The control command table: parse a request line, check who may run it, run it. */
#ifndef MCONN_CTLCMD_H
#define MCONN_CTLCMD_H

#include <stddef.h>

struct buf;
struct ctl_client;
struct ctl_stream;

/* What a command handler returns when it has called ctl_defer() and will give the
 * whole framed reply later through ctl_complete(): the dispatcher then writes nothing
 * for this request. */
#define CTLCMD_DEFERRED 1

/* Run one request line of len bytes (a NUL after them) for the daemon owner (a struct
 * daemon) and append the framed reply to out: a ctl_dispatch_fn. A long reply (status,
 * sessions, stats, metrics) comes in slices: with stream not NULL, out gets the first
 * slice, and, when more is to come, *stream is set for the caller to render the rest
 * as the socket drains (and to end the reply with its empty line); with stream NULL,
 * out gets the whole reply at once. */
void ctlcmd_dispatch(void *owner, const struct ctl_client *c, char *line, size_t len,
		     struct buf *out, struct ctl_stream *stream);

#endif
