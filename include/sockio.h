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
	/* A socket that asks for RX stamps and lives as long as the daemon: the kernel
	 * turns RX stamping on for everyone, asynchronously, while one socket wants it,
	 * so the sessions' short-lived sockets find it on. -1 when stamps are off. */
	int stamp_keeper;
};

/* Prepare the context: the loop, no fd limit yet, the ephemeral ports. */
void sockio_init(struct sockio *io, struct loop *loop);

/* Turn the kernel's RX stamping on for good (the keeper socket); 0 or -errno. */
int sockio_enable_stamps(struct sockio *io);

/* Close what sockio_init() and sockio_enable_stamps() opened. */
void sockio_free(struct sockio *io);

/* The real I/O, timed by the loop's clock. */
extern const struct session_io sockio_ops;

/* The same with the kernel's timing: SO_TIMESTAMPING TX/RX stamps and TCP_INFO. */
extern const struct session_io sockio_stamped_ops;

#endif
