/* The session pool: one array of sessions indexed by id, ids reused through a free
 * list, the targets that own them, and the glue between the loop and the session
 * state machine: events and deadlines in, results out to the targets' health. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "config.h"
#include "log.h"
#include "loop.h"
#include "pool.h"
#include "target.h"

/* The first cycles of a target start within this much of its sessions' creation. */
#define POOL_PHASE_MAX NSEC_PER_SEC
/* A shortage is over once no session has met one for this long. */
#define RESOURCE_QUIET_NS (5 * NSEC_PER_SEC)

static struct pool *pool_of(struct session_env *env)
{
	return (struct pool *)((char *)env - offsetof(struct pool, env));
}

/* A shortage of fds, ports or memory is logged when it starts and, once no session
 * has hit it for RESOURCE_QUIET_NS, when it ends: twice per episode, however long. */
static void pool_note_resource(struct pool *p, const struct session *s,
			       const struct session_result *res, int64_t now)
{
	p->resource_last = now;
	p->resource_in_episode++;
	if (p->resource_episode)
		return;
	p->resource_episode = true;
	log_target(LOG_WARNING, s->target->conf, NULL, "resource", NULL,
		   "out of local resources (%s); sessions keep retrying with backoff",
		   strerror(res->err_no));
}

void pool_tick(struct pool *p, int64_t now)
{
	if (!p->resource_episode || now - p->resource_last < RESOURCE_QUIET_NS)
		return;
	p->resource_episode = false;
	log_msg(LOG_NOTICE, "local resources available again after %llu failed attempts",
		(unsigned long long)p->resource_in_episode);
	p->resource_in_episode = 0;
}

static void pool_log_health(const struct target *t, const struct health_change *hc)
{
	char dur[32];

	format_duration(hc->in_previous_ns, dur, sizeof(dur));
	if (hc->to == HEALTH_DOWN)
		log_target(LOG_WARNING, t->conf, "down", session_error_name(hc->reason),
			   MCONN_MESSAGE_HEALTH, "target %s is down after %u failure%s: %s (was %s for %s)",
			   t->conf->name, hc->count, plural_s(hc->count), session_error_name(hc->reason),
			   health_state_name(hc->from), dur);
	else
		log_target(LOG_NOTICE, t->conf, "up", NULL, MCONN_MESSAGE_HEALTH,
			   "target %s is up after %u success%s (was %s for %s)", t->conf->name,
			   hc->count, hc->count == 1 ? "" : "es", health_state_name(hc->from), dur);
}

static int64_t pool_on_result(struct session_env *env, struct session *s,
			      const struct session_result *res, int64_t now)
{
	struct pool *p = pool_of(env);
	struct health_change hc;

	p->cycles_total++;
	if (target_record_result(s->target, res, now, &hc))
		pool_log_health(s->target, &hc);
	if (res->err == SERR_RESOURCE)
		pool_note_resource(p, s, res, now);
	if (res->err != SERR_NONE && log_enabled(LOG_DEBUG))
		log_target(LOG_DEBUG, s->target->conf, NULL, session_error_name(res->err), NULL,
			   "target %s session %u: %s (%s)", s->target->conf->name, s->id,
			   session_error_name(res->err), res->err_no ? strerror(res->err_no) : "echo");
	return target_pause(s->target, s->fails, res->err);
}

/* Give a session its deadline (already taken off the heap); a cycle that starts
 * counts how late it starts. */
static void pool_fire(struct pool *p, struct session *s, int64_t due, int64_t now)
{
	if (s->state == SESS_IDLE || s->state == SESS_HOLDING)
		latency_record(&p->lateness, now - due, now);
	if (session_deadline(s, &p->env, due, now) < 0)
		p->unexpected_events++;
}

/* A deadline of a session: in a batch, one that would judge a cycle under way waits
 * until the batch's I/O has been read; a cycle start goes at once. */
static int pool_due(void *owner, uint32_t id, int64_t due, int64_t now, bool in_batch)
{
	struct pool *p = owner;
	struct session *s = &p->sess[id];

	if (in_batch && (s->state == SESS_CONNECTING || s->state == SESS_EXCHANGING))
		return LOOP_DEFER;
	pool_fire(p, s, due, now);
	return 0;
}

static void pool_io(void *owner, uint64_t data, uint32_t events, int64_t now)
{
	struct pool *p = owner;
	uint32_t id = loop_data_id(data);
	struct session *s;
	int64_t due;

	if (id >= p->cap_sess || (p->sess[id].gen & 0x7fffffffu) != loop_data_gen(data) ||
	    p->sess[id].fd < 0) {
		p->stale_events++;
		return;
	}
	s = &p->sess[id];
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		s->ready |= SESS_READY_IN;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		s->ready |= SESS_READY_OUT;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		s->ready |= SESS_READY_HUP;
	if (session_handle(s, &p->env, SEV_IO, now) < 0) {
		p->unexpected_events++;
		return;
	}
	/* A cycle that ended with its next one due at once (interval 0) starts here, not
	 * a turn later: at most one start per event, so nothing can chain. */
	due = timer_due(&p->loop->timers, id);
	if ((s->state == SESS_IDLE || s->state == SESS_HOLDING) && due <= now) {
		timer_cancel(&p->loop->timers, id);
		pool_fire(p, s, due, now);
	}
}

/* The loop did not run for lost ns: each cycle under way moves on by as much and
 * gets at least a whole step from now (session_stalled()). */
static void pool_stall(void *owner, int64_t lost)
{
	struct pool *p = owner;
	int64_t now = now_ns();

	for (uint32_t i = 0; i < p->cap_sess; i++)
		session_stalled(&p->sess[i], &p->env, lost, now);
}

int pool_init(struct pool *p, struct loop *l)
{
	memset(p, 0, sizeof(*p));
	p->loop = l;
	sockio_init(&p->sio, l);
	p->env = (struct session_env){ .io = &sockio_ops, .io_ctx = &p->sio, .timers = &l->timers,
				       .on_result = pool_on_result, .scratch = p->scratch,
				       .scratch_len = sizeof(p->scratch) };
	loop_set_bulk(l, pool_io, pool_due, pool_stall, p);
	return 0;
}

/* Take a free session id, growing the array and the timer heap when needed. */
static int pool_alloc_session(struct pool *p, uint32_t *ret_id)
{
	if (p->n_free == 0) {
		uint32_t cap = p->cap_sess ? p->cap_sess * 2 : 1024;
		struct session *v = realloc(p->sess, (size_t)cap * sizeof(*v));
		uint32_t *f;

		if (!v)
			return -ENOMEM;
		p->sess = v;
		memset(v + p->cap_sess, 0, (size_t)(cap - p->cap_sess) * sizeof(*v));
		f = realloc(p->free_ids, (size_t)cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		p->free_ids = f;
		if (timer_heap_grow(&p->loop->timers, cap) < 0)
			return -ENOMEM;
		for (uint32_t i = cap; i > p->cap_sess; i--)
			p->free_ids[p->n_free++] = i - 1;
		p->cap_sess = cap;
	}
	*ret_id = p->free_ids[--p->n_free];
	p->n_sess++;
	return 0;
}

/* Where a target's first cycle falls in the first slot of its spread: a fraction of
 * the slot (interval / count, at most POOL_PHASE_MAX) taken from a hash of its name,
 * so that many targets started together (a thousand one-session targets) do not all
 * connect in the same millisecond, and a target keeps its phase across restarts. */
static int64_t pool_phase(const struct target_conf *c, uint32_t count)
{
	uint64_t h = 1469598103934665603ull;
	int64_t slot = c->interval / (int64_t)count;

	if (slot <= 0)
		return 0;
	if (slot > POOL_PHASE_MAX)
		slot = POOL_PHASE_MAX;
	for (const char *n = c->name; *n; n++)
		h = (h ^ (uint8_t)*n) * 1099511628211ull;
	return (int64_t)(h % (uint64_t)slot);
}

int pool_add_sessions(struct pool *p, struct target *t, uint32_t count, int64_t now)
{
	const struct target_conf *c = t->conf;
	int64_t phase;
	uint32_t *v;

	if (count == 0)
		return 0;
	phase = pool_phase(c, count);
	v = realloc(t->sess, (size_t)(t->n_sess + count) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->sess = v;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t id;
		int r = pool_alloc_session(p, &id);

		if (r < 0)
			return r;
		session_init(&p->sess[id], &p->env, t, id,
			     now + phase + (int64_t)((double)c->interval * i / count));
		t->sess[t->n_sess++] = id;
	}
	return 0;
}

void pool_retire_sessions(struct pool *p, struct target *t, uint32_t keep)
{
	while (t->n_sess > keep) {
		uint32_t id = t->sess[--t->n_sess];

		session_handle(&p->sess[id], &p->env, SEV_STOP, 0);
		p->free_ids[p->n_free++] = id;
		p->n_sess--;
	}
}

void pool_reschedule_sessions(struct pool *p, struct target *t, const struct target_conf *was,
			      int64_t now)
{
	struct timer_heap *h = &p->loop->timers;

	for (uint32_t i = 0; i < t->n_sess; i++) {
		uint32_t id = t->sess[i];
		const struct session *s = &p->sess[id];
		enum session_error last = (enum session_error)s->last_result;
		int64_t due, end;

		if ((s->state != SESS_IDLE && s->state != SESS_HOLDING) || !timer_armed(h, id))
			continue;
		/* When the last cycle ended, from the pause it was given; a session that
		 * has not cycled yet gets the end its first start implies. */
		end = timer_due(h, id) - target_pause_under(t, was, s->fails, last);
		due = end + target_pause(t, s->fails, last);
		if (due < now)
			due = now + (int64_t)((double)t->conf->interval * i / t->n_sess);
		timer_set(h, id, due);
	}
}

uint32_t pool_target_active(const struct pool *p, const struct target *t)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->n_sess; i++)
		n += p->sess[t->sess[i]].fd >= 0;
	return n;
}

struct target *pool_find_target(const struct pool *p, const char *name)
{
	for (size_t i = 0; i < p->n_targets; i++)
		if (strcmp(p->targets[i]->conf->name, name) == 0)
			return p->targets[i];
	return NULL;
}

bool pool_set_max_open(struct pool *p, uint32_t max_open)
{
	if (max_open == p->sio.max_open)
		return false;
	p->sio.max_open = max_open;
	return true;
}

void pool_free(struct pool *p)
{
	for (size_t i = 0; i < p->n_targets; i++) {
		struct target *t = p->targets[i];

		pool_retire_sessions(p, t, 0);
		target_free(t);
	}
	free(p->targets);
	free(p->sess);
	free(p->free_ids);
	p->targets = NULL;
	p->sess = NULL;
	p->free_ids = NULL;
	p->n_targets = 0;
}
