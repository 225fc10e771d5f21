/* The session pool and the target set: every session in one array indexed by id (ids
 * reused through a free list), the targets that own them, and what a finished cycle
 * does to its target. The pool is the loop's bulk source: it decodes its own epoll
 * data and deadlines and hands them to the session state machine. */
#ifndef MCONN_POOL_H
#define MCONN_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "histogram.h"
#include "session.h"
#include "sockio.h"

struct loop;
struct target;
struct target_conf;

#define POOL_SCRATCH 65536

struct pool {
	struct loop *loop;
	struct sockio sio;
	struct session_env env;
	struct session *sess;
	uint32_t n_sess;
	uint32_t cap_sess;
	uint32_t *free_ids;
	uint32_t n_free;
	struct target **targets;
	size_t n_targets;
	/* A local shortage (fds, ports, memory) under way, logged at start and end. */
	bool resource_episode;
	int64_t resource_started;
	int64_t resource_last;
	int resource_errno;
	uint64_t resource_in_episode;
	uint64_t cycles_total;
	uint64_t stale_events;
	uint64_t unexpected_events;
	/* How late each cycle started after its scheduled time: the loop keeping up. */
	struct latency lateness;
	uint8_t scratch[POOL_SCRATCH];
};

/* Set up an empty pool whose sessions run in loop l; 0 or -errno. */
int pool_init(struct pool *p, struct loop *l);

/* Stop every session and free the targets and the pool. */
void pool_free(struct pool *p);

/* Start count more sessions of t, their first cycles spread over one interval. */
int pool_add_sessions(struct pool *p, struct target *t, uint32_t count, int64_t now);

/* Stop the sessions of t past the first keep (closing their fds) and free their ids. */
void pool_retire_sessions(struct pool *p, struct target *t, uint32_t keep);

/* Move the next cycle of every waiting session of t to what t->conf now says: the
 * pause after its last cycle is worked out again (it was was's); a session that has
 * waited longer than that from its last cycle's end starts now, spread over the new
 * interval as at start rather than all at once. Cycles under way are left alone. */
void pool_reschedule_sessions(struct pool *p, struct target *t, const struct target_conf *was,
			      int64_t now);

/* Count the sessions of t that have a connection or a connect in progress. */
uint32_t pool_target_active(const struct pool *p, const struct target *t);

/* Find a target by name, or NULL. */
struct target *pool_find_target(const struct pool *p, const char *name);

/* Let sessions hold at most max_open fds at once; true when the share changed. */
bool pool_set_max_open(struct pool *p, uint32_t max_open);

/* Once a second: the end of a resource shortage once no session has been starved for
 * a while, and every target's state and flapping as time passes; logs what changed. */
void pool_tick(struct pool *p, int64_t now);

/* Return the sessions of all targets that found no local fd, port or memory at their
 * last try. */
uint32_t pool_starved(const struct pool *p);

#endif
