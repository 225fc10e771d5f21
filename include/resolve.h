/* Name and group look-ups off the event loop. A small pool of threads calls
 * getaddrinfo() and getgrnam_r() (so /etc/hosts, nsswitch.conf and NSS modules count
 * as they do everywhere else) and hands each answer back through an eventfd. The
 * module knows no loop: its owner watches resolve_fd(), calls resolve_dispatch() when
 * it is readable or when resolve_next_due() has passed, and gets each answer through
 * the callback given with the query. */
#ifndef MCONN_RESOLVE_H
#define MCONN_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "parse.h"

/* Threads that look names up at once; a look-up stuck in the resolver holds one
 * until the resolver gives up (glibc: timeout x attempts of resolv.conf). */
#define RESOLVE_THREADS 4
/* Queries queued, running or abandoned but still running: more get -EAGAIN. */
#define RESOLVE_MAX_JOBS 2048

struct resolver;

enum resolve_kind {
	RESOLVE_ADDRESS,
	RESOLVE_GROUP,
};

/* What to look up: a host name and the port to put in its address, or a group name. */
struct resolve_query {
	enum resolve_kind kind;
	char name[256];
	uint16_t port;
	enum addr_family family;
	/* CLOCK_MONOTONIC; an answer not in by then is -ETIMEDOUT. */
	int64_t deadline;
};

/* The outcome: err 0 with addr (or gid), else -ETIMEDOUT (no answer in time),
 * -EHOSTUNREACH (no such name), -EAGAIN (the resolver failed for now), -ENODATA (no
 * address of the family asked for), -EADDRNOTAVAIL (not a unicast address), -ENOENT
 * (no such group), -EAGAIN also when the queue is full; msg in words. */
struct resolve_answer {
	int err;
	char msg[128];
	struct sockaddr_any addr;
	gid_t gid;
	int64_t took_ns;
};

typedef void (*resolve_cb)(void *owner, uint64_t id, const struct resolve_answer *a);

/* Start the resolver with threads threads (RESOLVE_THREADS; signals blocked in them;
 * 0 for tests: nothing is ever answered but by its deadline); 0 or -errno. */
int resolver_new(unsigned threads, struct resolver **ret);

/* Stop taking queries and free the resolver; threads still stuck in a look-up free
 * what they share when they return. NULL does nothing. */
void resolver_free(struct resolver *r);

/* The file descriptor that becomes readable when answers are in. */
int resolve_fd(const struct resolver *r);

/* Queue a query; cb(owner, id, answer) is called from resolve_dispatch() exactly once
 * unless resolve_cancel(id) comes first. 0 with ret_id, or -EAGAIN when full. */
int resolve_submit(struct resolver *r, const struct resolve_query *q, resolve_cb cb,
		   void *owner, uint64_t *ret_id);

/* Forget a query: its callback is not called. Unknown ids are ignored. */
void resolve_cancel(struct resolver *r, uint64_t id);

/* Deliver the answers that are in and time out queries past their deadline. */
void resolve_dispatch(struct resolver *r, int64_t now);

/* The earliest deadline of a query still waiting, or INT64_MAX. */
int64_t resolve_next_due(struct resolver *r);

/* Queries whose callback has not been called yet. */
size_t resolve_pending(struct resolver *r);

/* Dispatch until no query is pending, waiting on the fd in between: for the start,
 * before any loop runs. The queries' deadlines bound the wait. */
void resolve_wait(struct resolver *r);

/* Run one query on the calling thread, blocking, without deadline: what the threads
 * do, for tools that may block (tests). */
void resolve_run(const struct resolve_query *q, struct resolve_answer *a);

#endif
