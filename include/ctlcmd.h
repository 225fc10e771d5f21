/* The control command table: parse a request line, check who may run it, run it. */
#ifndef MCONN_CTLCMD_H
#define MCONN_CTLCMD_H

#include <stddef.h>

struct buf;
struct ctl_client;

/* Run one request line of len bytes (a NUL after them) for the daemon owner (a
 * struct daemon) and append the whole framed reply to out: a ctl_dispatch_fn. */
void ctlcmd_dispatch(void *owner, const struct ctl_client *c, char *line, size_t len,
		     struct buf *out);

#endif
