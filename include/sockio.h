/* The real session I/O: non-blocking TCP sockets registered once, edge-triggered,
 * with the epoll instance of the daemon. */
#ifndef MCONN_SOCKIO_H
#define MCONN_SOCKIO_H

#include <stdint.h>

#include "session.h"

/* epoll data of a session: generation in bits 32-62, id below; bit 63 marks others. */
#define EVDATA_OTHER (1ull << 63)

static inline uint64_t evdata_session(uint32_t id, uint32_t gen)
{
	return ((uint64_t)(gen & 0x7fffffffu) << 32) | id;
}

static inline uint32_t evdata_id(uint64_t d)
{
	return (uint32_t)d;
}

static inline uint32_t evdata_gen(uint64_t d)
{
	return (uint32_t)(d >> 32) & 0x7fffffffu;
}

/* The context of the real I/O table. */
struct sockio {
	int epfd;
	uint32_t open;
	uint32_t max_open;
	uint16_t port_lo;
	uint16_t port_hi;
	/* The readiness just reported for ev_fd (epoll events or poll revents): a connect
	 * that became writable with no error flag has succeeded, no SO_ERROR needed. */
	int ev_fd;
	uint32_t ev;
};

/* Prepare the context: the epoll instance, no fd limit yet, the ephemeral ports. */
void sockio_init(struct sockio *io, int epfd);

extern const struct session_io sockio_ops;

#endif
