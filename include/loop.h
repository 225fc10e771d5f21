/* The event loop: one edge-triggered epoll instance, signals through signalfd, and
 * deadlines. It knows nothing of sessions or control clients: whatever has an fd or a
 * deadline registers with it and gets its events as arguments. Two kinds of source:
 * - handles, a few (the control server, the metrics listener, the resolver, the
 *   periodic tick), each with an fd and/or one deadline and callbacks of its own;
 * - one bulk source, the session pool: many fds whose epoll data the pool encodes
 *   itself, and a deadline heap indexed by the pool's ids.
 * A turn waits, hands out every event epoll reported, then expires deadlines: ready
 * I/O is always seen before a deadline that it would have met. */
#ifndef MCONN_LOOP_H
#define MCONN_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "timer.h"
#include "util.h"

/* epoll data, the one place its tags are defined: bit 63 set marks a handle (slot in
 * the low byte, the slot's generation above it); clear, the bulk source's own data,
 * which for sessions is the generation in bits 32-62 and the id below. */
#define LOOP_DATA_HANDLE (1ull << 63)

static inline uint64_t loop_data_session(uint32_t id, uint32_t gen)
{
	return ((uint64_t)(gen & 0x7fffffffu) << 32) | id;
}

static inline uint32_t loop_data_id(uint64_t d)
{
	return (uint32_t)d;
}

static inline uint32_t loop_data_gen(uint64_t d)
{
	return (uint32_t)(d >> 32) & 0x7fffffffu;
}

#define LOOP_MAX_HANDLES 16
#define LOOP_MAX_EVENTS 512
/* Bulk deadlines expired per turn, so a burst of them cannot hold the loop. */
#define LOOP_MAX_TIMERS_PER_TURN 256
/* Inside a long batch of bulk events, the interleaved handles (the control server)
 * and due cycle starts get a go every this many events. */
#define LOOP_INTERLEAVE_EVERY 64
/* A loop that did not run for this long beyond what it asked for was stopped or
 * starved: every deadline moves on by the time lost. */
#define LOOP_STALL_NS (250 * NSEC_PER_MSEC)
/* A handle's callback that takes this long is named as the cause in the stall log. */
#define LOOP_SLOW_CALLBACK_NS (20 * NSEC_PER_MSEC)

/* A handle's fd reported events (the epoll mask). */
typedef void (*loop_io_fn)(void *owner, uint32_t events, int64_t now);
/* A handle's deadline passed; it is disarmed first, the callback may set it again. */
typedef void (*loop_due_fn)(void *owner, int64_t now);
/* The bulk source: an fd of its reported events; data is what it registered. */
typedef void (*loop_bulk_io_fn)(void *owner, uint64_t data, uint32_t events, int64_t now);
/* The bulk source: id's deadline (due) passed. In a batch (in_batch), a deadline that
 * would judge I/O still queued in the batch is put off by returning LOOP_DEFER; it
 * is handed back, with in_batch false, once the batch is over. */
typedef int (*loop_bulk_due_fn)(void *owner, uint32_t id, int64_t due, int64_t now,
				bool in_batch);
/* The loop did not run for lost ns (a stop, a starved process): move what the bulk
 * source times by as much. */
typedef void (*loop_stall_fn)(void *owner, int64_t lost);
/* A signal arrived through the signalfd. */
typedef void (*loop_signal_fn)(void *owner, int signo);

#define LOOP_DEFER 1

struct loop_handle {
	const char *name;
	int fd;
	uint32_t gen;
	bool used;
	/* Called every LOOP_INTERLEAVE_EVERY bulk events too, with events 0. */
	bool interleave;
	int64_t due;
	loop_io_fn on_io;
	loop_due_fn on_due;
	void *owner;
};

/* What the loop itself has seen, for status and metrics. */
struct loop_stats {
	uint64_t turns;
	uint64_t stalls;
	int64_t stalled_ns;
	/* Per handle slot: its name and the longest one of its callbacks held the loop,
	 * less the time the kernel kept the thread waiting for a CPU meanwhile (on a
	 * busy machine, preemption is not the callback's work); and the same on the
	 * wall clock. */
	const char *handle_name[LOOP_MAX_HANDLES];
	int64_t handle_max_ns[LOOP_MAX_HANDLES];
	int64_t handle_wall_max_ns[LOOP_MAX_HANDLES];
};

struct loop {
	int epfd;
	int sigfd;
	bool stopping;
	struct timer_heap timers;
	struct loop_handle h[LOOP_MAX_HANDLES];
	loop_bulk_io_fn bulk_io;
	loop_bulk_due_fn bulk_due;
	loop_stall_fn bulk_stall;
	void *bulk_owner;
	loop_signal_fn on_signal;
	void *signal_owner;
	uint32_t deferred[LOOP_MAX_EVENTS];
	/* When each deferred deadline was due: how late it fires matters to its owner. */
	int64_t deferred_due[LOOP_MAX_EVENTS];
	uint32_t n_deferred;
	int64_t mark;
	/* The loop thread's /proc schedstat (its run delay: time spent runnable but not
	 * running), or -1 where the kernel has none. */
	int schedstat_fd;
	/* The handle callback that held the loop longest since the last mark. */
	const char *held_by;
	int64_t held_ns;
	struct loop_stats stats;
};

/* Create the epoll instance and an empty deadline heap; 0 or -errno. */
int loop_init(struct loop *l);

/* Block signals (each of the 0-terminated list) and deliver them through fn. */
int loop_signals(struct loop *l, const int *signals, loop_signal_fn fn, void *owner);

/* Close everything the loop owns; the handles' fds are their owners'. */
void loop_free(struct loop *l);

/* Register the bulk source's callbacks. */
void loop_set_bulk(struct loop *l, loop_bulk_io_fn io, loop_bulk_due_fn due,
		   loop_stall_fn stall, void *owner);

/* Register a handle: fd (or -1 for a deadline only) watched for events (EPOLLET is the
 * caller's choice), callbacks, owner. Returns the slot (>= 0) or -errno. */
int loop_add(struct loop *l, const char *name, int fd, uint32_t events, loop_io_fn on_io,
	     loop_due_fn on_due, void *owner);

/* Unregister a handle; its fd stays open (the owner closes it). */
void loop_remove(struct loop *l, int slot);

/* Arm (or, with INT64_MAX, disarm) a handle's deadline. */
void loop_set_due(struct loop *l, int slot, int64_t due);

/* Call a handle every LOOP_INTERLEAVE_EVERY bulk events of a long batch as well. */
void loop_set_interleave(struct loop *l, int slot, bool on);

/* Add a bulk fd with the bulk source's own data; 0 or -errno. */
int loop_add_bulk_fd(struct loop *l, int fd, uint32_t events, uint64_t data);

/* One turn: wait at most max_wait_ms (less when a deadline is nearer), hand out the
 * events, then the expired deadlines. 0 or -errno. */
int loop_turn(struct loop *l, int max_wait_ms);

/* Read the clock and check the loop has not been held since the last reading. */
int64_t loop_now(struct loop *l);

#endif
