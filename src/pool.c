/* The session pool: one array of sessions indexed by id, ids reused through a free
 * list, the targets that own them, and the glue between the loop and the session
 * state machine: events and deadlines in, results out to the targets' health. */
#include <errno.h>
#include <stdio.h>
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

/* Sessions of every target starved of local resources at their last try. */
uint32_t pool_starved(const struct pool *p)
{
	uint32_t n = 0;

	for (size_t i = 0; i < p->n_targets; i++)
		n += p->targets[i]->sess_starved;
	return n;
}

/* A shortage of fds, ports or memory is logged when it starts and once no session has
 * been starved for RESOURCE_QUIET_NS (pool_tick), however many backoff rounds it
 * takes: twice per episode. */
static void pool_note_resource(struct pool *p, const struct session *s,
			       const struct session_result *res, int64_t now)
{
	p->resource_last = now;
	p->resource_errno = res->err_no;
	p->resource_in_episode++;
	if (p->resource_episode)
		return;
	p->resource_episode = true;
	p->resource_started = now;
	log_target(LOG_WARNING, s->target->conf, NULL, "resource", NULL,
		   "mconnd cannot run every session: out of local resources (%s); the sessions concerned are counted as starved, not as failures of their targets, and retry with backoff",
		   strerror(res->err_no));
}

/* The end of a shortage: no session starved for the quiet period. */
static void pool_tick_resource(struct pool *p, int64_t now)
{
	char dur[32];

	if (!p->resource_episode)
		return;
	if (pool_starved(p) > 0)
		p->resource_last = now;
	if (now - p->resource_last < RESOURCE_QUIET_NS)
		return;
	p->resource_episode = false;
	format_duration(p->resource_last - p->resource_started, dur, sizeof(dur));
	log_msg(LOG_NOTICE, "local resources available again: every session runs (the shortage lasted %s, %llu attempts failed for it)",
		dur, (unsigned long long)p->resource_in_episode);
	p->resource_in_episode = 0;
}

/* "1 of 4 sessions down, 25.0% of recent cycles failed" into out. */
static void pool_format_sessions(const struct health_change *hc, char *out, size_t n)
{
	int o = snprintf(out, n, "%u of %u session%s down", hc->down, hc->sessions,
			 plural_s(hc->sessions));

	if (o > 0 && (size_t)o < n && hc->quorum < hc->sessions)
		o += snprintf(out + o, n - (size_t)o, " (down_quorum %u)", hc->quorum);
	if (o > 0 && (size_t)o < n && hc->ratio >= 0)
		snprintf(out + o, n - (size_t)o, ", %.1f%% of recent cycles failed", hc->ratio * 100);
}

/* The journal fields of a health message: sessions by verdict, ratio, flapping. */
static void pool_health_fields(const struct target *t, const struct health_change *hc,
			       char *out, size_t n)
{
	snprintf(out, n, "SESSIONS=%u\nSESSIONS_DOWN=%u\nSESSIONS_UP=%u\nSESSIONS_STARVED=%u\n"
		 "DOWN_QUORUM=%u\nFAIL_RATIO=%.4f\nFLAPPING=%d", hc->sessions, hc->down, hc->up,
		 t->sess_starved, hc->quorum, hc->ratio, t->flapping);
}

static void pool_log_state(const struct target *t, const struct health_change *hc,
			   const char *fields)
{
	const char *to = health_state_name(hc->to);
	char dur[32], sess[128], why[64] = "";
	int prio = hc->to == HEALTH_UP ? LOG_NOTICE : LOG_WARNING;

	/* While flapping, changes are not news: the start and the end of it are. */
	if (t->flapping && !(hc->what & HC_FLAP_START))
		prio = LOG_DEBUG;
	/* What the session whose result made the change had run into; none from a tick. */
	if (hc->count && hc->reason == SERR_NONE)
		snprintf(why, sizeof(why), " after %u success%s", hc->count,
			 hc->count == 1 ? "" : "es");
	else if (hc->count)
		snprintf(why, sizeof(why), " after %u failure%s: %s", hc->count,
			 plural_s(hc->count), session_error_name(hc->reason));
	format_duration(hc->in_previous_ns, dur, sizeof(dur));
	pool_format_sessions(hc, sess, sizeof(sess));
	log_target_fields(prio, t->conf, to,
			  hc->reason != SERR_NONE ? session_error_name(hc->reason) : NULL,
			  MCONN_MESSAGE_HEALTH, fields, "target %s is %s%s (was %s for %s); %s",
			  t->conf->name, to, why, health_state_name(hc->from), dur, sess);
}

static void pool_log_health(const struct target *t, const struct health_change *hc)
{
	const struct target_conf *c = t->conf;
	char fields[256], win[32];

	pool_health_fields(t, hc, fields, sizeof(fields));
	if (hc->what & HC_STATE)
		pool_log_state(t, hc, fields);
	format_duration(c->flap_window, win, sizeof(win));
	if (hc->what & HC_FLAP_START)
		log_target_fields(LOG_WARNING, c, health_state_name(t->health), NULL,
				  MCONN_MESSAGE_HEALTH, fields,
				  "target %s is flapping: %u state changes within %s (flap_threshold %u); now %s, further changes are logged at debug level",
				  c->name, hc->changes_in_window, win, c->flap_threshold,
				  health_state_name(t->health));
	if (hc->what & HC_FLAP_END)
		log_target_fields(LOG_NOTICE, c, health_state_name(t->health), NULL,
				  MCONN_MESSAGE_HEALTH, fields,
				  "target %s stopped flapping: %u state change%s within %s; it is %s",
				  c->name, hc->changes_in_window, plural_s(hc->changes_in_window), win,
				  health_state_name(t->health));
}

void pool_tick(struct pool *p, int64_t now)
{
	struct health_change hc;

	pool_tick_resource(p, now);
	for (size_t i = 0; i < p->n_targets; i++)
		if (target_tick(p->targets[i], now, &hc))
			pool_log_health(p->targets[i], &hc);
}

static int64_t pool_on_result(struct session_env *env, struct session *s,
			      const struct session_result *res, int64_t now)
{
	struct pool *p = pool_of(env);
	struct health_change hc;

	p->cycles_total++;
	if (target_record_result(s->target, &s->health, res, now, &hc))
		pool_log_health(s->target, &hc);
	if (res->err == SERR_RESOURCE)
		pool_note_resource(p, s, res, now);
	if (res->err != SERR_NONE && log_enabled(LOG_DEBUG))
		log_target(LOG_DEBUG, s->target->conf, NULL, session_error_name(res->err), NULL,
			   "target %s session %u: %s (%s)", s->target->conf->name, s->id,
			   session_error_name(res->err), res->err_no ? strerror(res->err_no) : "echo");
	return target_pause(s->target, &s->health, s->fails, res->err);
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

	if (in_batch && (s->state == SESS_CONNECTING || s->state == SESS_HANDSHAKE ||
			 s->state == SESS_EXCHANGING))
		return LOOP_DEFER;
	pool_fire(p, s, due, now);
	return 0;
}

/* With TX stamps on, EPOLLERR also says a stamp waits in the error queue (read when
 * the echo is in, session_stamp_echoed()). Once connected, TCP's real errors (a
 * reset, a retransmission timeout) come with EPOLLHUP, so a bare EPOLLERR is a stamp
 * and means no readiness: taking it as one would cost a read per send, and a held
 * connection would read to EAGAIN ever after. A missed error still shows at the
 * deadline's last look, which polls the socket. */
static uint32_t pool_io_events(const struct pool *p, const struct session *s, uint32_t events)
{
	const struct target_conf *c = s->conf ? s->conf : s->target->conf;

	if (!p->env.io->tx_stamp || c->timestamps != TIMESTAMPS_KERNEL || c->protocol != TPROTO_TCP ||
	    s->state == SESS_CONNECTING || (events & EPOLLHUP))
		return events;
	return events & ~(uint32_t)EPOLLERR;
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
	events = pool_io_events(p, s, events);
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
	/* Without the kernel's stamps (an old kernel, a seccomp filter) the loop's clock
	 * times the cycles, as it always did. */
	p->env = (struct session_env){ .io = sockio_enable_stamps(&p->sio) == 0 ? &sockio_stamped_ops
										: &sockio_ops,
				       .io_ctx = &p->sio, .timers = &l->timers,
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
		target_add_session(t, &p->sess[id].health);
		t->sess[t->n_sess++] = id;
	}
	return 0;
}

void pool_retire_sessions(struct pool *p, struct target *t, uint32_t keep)
{
	while (t->n_sess > keep) {
		uint32_t id = t->sess[--t->n_sess];

		session_handle(&p->sess[id], &p->env, SEV_STOP, 0);
		target_drop_session(t, &p->sess[id].health);
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
		end = timer_due(h, id) - target_pause_under(t, was, &s->health, s->fails, last);
		due = end + target_pause(t, &s->health, s->fails, last);
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
	sockio_free(&p->sio);
	free(p->targets);
	free(p->sess);
	free(p->free_ids);
	p->targets = NULL;
	p->sess = NULL;
	p->free_ids = NULL;
	p->n_targets = 0;
}
