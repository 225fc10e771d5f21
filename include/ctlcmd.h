/* The control command table: parse a request line, check who may run it, run it. */
#ifndef MCONN_CTLCMD_H
#define MCONN_CTLCMD_H

struct buf;
struct ctl_client;
struct daemon;

/* Run one request line and append the whole framed reply to out. */
void ctlcmd_dispatch(struct daemon *d, const struct ctl_client *c, char *line, struct buf *out);

#endif
