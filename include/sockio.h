/* The real session I/O: non-blocking TCP sockets registered once, edge-triggered,
 * with the loop as its bulk source. */
#ifndef MCONN_SOCKIO_H
#define MCONN_SOCKIO_H

#include <stdint.h>

#include "session.h"

struct loop;

/* The context of the real I/O table. */
struct sockio {
	struct loop *loop;
	uint32_t open;
	uint32_t max_open;
	uint16_t port_lo;
	uint16_t port_hi;
};

/* Prepare the context: the loop, no fd limit yet, the ephemeral ports. */
void sockio_init(struct sockio *io, struct loop *loop);

extern const struct session_io sockio_ops;

#endif
