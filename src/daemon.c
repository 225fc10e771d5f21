/* The event loop: one epoll instance, edge-triggered, with signals through signalfd,
 * session deadlines from the timer heap, and the control server. Every session
 * lives in one array indexed by id; ids are reused through a free list. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "reconcile.h"
#include "target.h"

#define SIG_EVDATA (EVDATA_OTHER | 0u)
#define CTL_NEST_EVDATA (EVDATA_OTHER | 2u)
_Static_assert(HTTP_EVDATA != SIG_EVDATA && HTTP_EVDATA != CTL_NEST_EVDATA &&
		       HTTP_EVDATA != CTL_EVDATA_LISTEN && CTL_NEST_EVDATA != CTL_EVDATA_LISTEN,
	       "every descriptor in the epoll set has its own data");
#define TICK_NS NSEC_PER_SEC
#define RESOURCE_QUIET_NS (5 * NSEC_PER_SEC)
/* File descriptors kept free of sessions: control clients, the journal, spares. */
#define FD_RESERVE (CTL_MAX_CLIENTS + 32)

static struct daemon *daemon_of(struct session_env *env)
{
	return (struct daemon *)((char *)env - offsetof(struct daemon, env));
}

/* A shortage of fds, ports or memory is logged when it starts and, once no session
 * has hit it for RESOURCE_QUIET_NS, when it ends: twice per episode, however long. */
static void daemon_note_resource(struct daemon *d, struct session *s,
				 const struct session_result *res, int64_t now)
{
	d->resource_last = now;
	d->resource_in_episode++;
	if (d->resource_episode)
		return;
	d->resource_episode = true;
	log_target(LOG_WARNING, s->target->conf, NULL, "resource", NULL,
		   "out of local resources (%s); sessions keep retrying with backoff",
		   strerror(res->err_no));
}

static void daemon_end_resource_episode(struct daemon *d, int64_t now)
{
	if (!d->resource_episode || now - d->resource_last < RESOURCE_QUIET_NS)
		return;
	d->resource_episode = false;
	log_msg(LOG_NOTICE, "local resources available again after %llu failed attempts",
		(unsigned long long)d->resource_in_episode);
	d->resource_in_episode = 0;
}

static void daemon_log_health(const struct target *t, const struct health_change *hc)
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

static int64_t daemon_on_result(struct session_env *env, struct session *s,
				const struct session_result *res, int64_t now)
{
	struct daemon *d = daemon_of(env);
	struct health_change hc;

	d->cycles_total++;
	if (target_record_result(s->target, res, now, &hc))
		daemon_log_health(s->target, &hc);
	if (res->err == SERR_RESOURCE)
		daemon_note_resource(d, s, res, now);
	if (res->err != SERR_NONE && log_enabled(LOG_DEBUG))
		log_target(LOG_DEBUG, s->target->conf, NULL, session_error_name(res->err), NULL,
			   "target %s session %u: %s (%s)", s->target->conf->name, s->id,
			   session_error_name(res->err), res->err_no ? strerror(res->err_no) : "echo");
	return target_pause(s->target, s->fails, res->err);
}

/* Take a free session id, growing the array and the timer heap when needed. */
static int daemon_alloc_session(struct daemon *d, uint32_t *ret_id)
{
	if (d->n_free == 0) {
		uint32_t cap = d->cap_sess ? d->cap_sess * 2 : 1024;
		struct session *v = realloc(d->sess, (size_t)cap * sizeof(*v));
		uint32_t *f;

		if (!v)
			return -ENOMEM;
		d->sess = v;
		memset(v + d->cap_sess, 0, (size_t)(cap - d->cap_sess) * sizeof(*v));
		f = realloc(d->free_ids, (size_t)cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		d->free_ids = f;
		if (timer_heap_grow(&d->timers, cap) < 0)
			return -ENOMEM;
		for (uint32_t i = cap; i > d->cap_sess; i--)
			d->free_ids[d->n_free++] = i - 1;
		d->cap_sess = cap;
	}
	*ret_id = d->free_ids[--d->n_free];
	d->n_sess++;
	return 0;
}

int daemon_add_sessions(struct daemon *d, struct target *t, uint32_t count, int64_t now)
{
	const struct target_conf *c = t->conf;
	uint32_t *v;

	if (count == 0)
		return 0;
	v = realloc(t->sess, (size_t)(t->n_sess + count) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->sess = v;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t id;
		int r = daemon_alloc_session(d, &id);

		if (r < 0)
			return r;
		session_init(&d->sess[id], &d->env, t, id,
			     now + (int64_t)((double)c->interval * i / count));
		t->sess[t->n_sess++] = id;
	}
	return 0;
}

void daemon_retire_sessions(struct daemon *d, struct target *t, uint32_t keep)
{
	while (t->n_sess > keep) {
		uint32_t id = t->sess[--t->n_sess];

		session_handle(&d->sess[id], &d->env, SEV_STOP, 0);
		d->free_ids[d->n_free++] = id;
		d->n_sess--;
	}
}

void daemon_reschedule_sessions(struct daemon *d, struct target *t,
				const struct target_conf *was, int64_t now)
{
	for (uint32_t i = 0; i < t->n_sess; i++) {
		uint32_t id = t->sess[i];
		const struct session *s = &d->sess[id];
		int64_t due, end;

		if ((s->state != SESS_IDLE && s->state != SESS_HOLDING) ||
		    !timer_armed(&d->timers, id))
			continue;
		/* When the last cycle ended, from the pause it was given; a session that
		 * has not cycled yet gets the end its first start implies. */
		end = timer_due(&d->timers, id) - target_pause_under(t, was, s->fails,
								      (enum session_error)s->last_result);
		due = end + target_pause(t, s->fails, (enum session_error)s->last_result);
		if (due < now)
			due = now + (int64_t)((double)t->conf->interval * i / t->n_sess);
		timer_set(&d->timers, id, due);
	}
}

static int daemon_open_signals(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = SIG_EVDATA };
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0)
		return -errno;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->sigfd, &ev) < 0)
		return -errno;
	return 0;
}

/* Keep FD_RESERVE of the open-files limit out of the sessions' reach, so the control
 * socket answers even when sessions run out, and HTTP_MAX_CLIENTS more with a metrics
 * listener (cfg says whether there is one). Called once a second too: the limit of a
 * running process can be changed from outside (prlimit). Returns true when the
 * sessions' share changed. */
static bool daemon_fd_budget(struct daemon *d, const struct config *cfg)
{
	uint64_t reserve = FD_RESERVE + (cfg->metrics_listen_text ? HTTP_MAX_CLIENTS : 0);
	struct rlimit rl;
	uint32_t max = UINT32_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur > reserve ? (uint32_t)MIN(rl.rlim_cur - reserve, UINT32_MAX) : 0;
	if (max == d->sio.max_open)
		return false;
	d->sio.max_open = max;
	return true;
}

/* Raise the soft open-files limit to the hard one and take the sessions' share. */
static void daemon_raise_nofile(struct daemon *d, const struct config *cfg)
{
	struct rlimit rl;
	uint64_t cur;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	cur = rl.rlim_cur;
	daemon_fd_budget(d, cfg);
	if (cfg->total_connections > d->sio.max_open)
		log_msg(LOG_WARNING,
			"%llu connections configured but only %u may be open at once (open files limit %llu); a session that finds none free counts a 'resource' failure",
			(unsigned long long)cfg->total_connections, d->sio.max_open,
			(unsigned long long)cur);
}

/* The control server gets an epoll instance of its own, registered in the main one:
 * the main ready list is a FIFO that a thousand busy sessions keep long, and a control
 * request queued behind them waited for all of them (status p50 38 ms under churn). */
static int daemon_open_control_epoll(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = CTL_NEST_EVDATA };

	d->ctl_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->ctl_epfd < 0)
		return -errno;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->ctl_epfd, &ev) < 0)
		return -errno;
	return 0;
}

int daemon_init(struct daemon *d, struct config *cfg, const char *config_path)
{
	int64_t now = now_ns();
	int r;

	memset(d, 0, sizeof(*d));
	d->epfd = d->ctl_epfd = d->sigfd = d->ctl.listen_fd = -1;
	d->config_path = config_path;
	d->start_mono = now;
	d->start_wall = wall_ns();
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -errno;
	sockio_init(&d->sio, d->epfd);
	r = daemon_open_control_epoll(d);
	if (r < 0)
		return r;
	d->env = (struct session_env){ .io = &sockio_ops, .io_ctx = &d->sio, .timers = &d->timers,
				       .on_result = daemon_on_result, .scratch = d->scratch,
				       .scratch_len = sizeof(d->scratch) };
	r = timer_heap_init(&d->timers, 0);
	if (r < 0)
		return r;
	r = daemon_open_signals(d);
	if (r < 0)
		return r;
	daemon_raise_nofile(d, cfg);
	d->targets = calloc(cfg->n_targets ? cfg->n_targets : 1, sizeof(*d->targets));
	if (!d->targets)
		return -ENOMEM;
	d->cfg = cfg;
	for (size_t i = 0; i < cfg->n_targets; i++) {
		d->targets[i] = target_new(cfg->targets[i], now);
		if (!d->targets[i])
			return -ENOMEM;
		d->n_targets++;
		r = daemon_add_sessions(d, d->targets[i], cfg->targets[i]->connections, now);
		if (r < 0)
			return r;
	}
	return 0;
}

int daemon_open_control(struct daemon *d)
{
	char err[256];
	int r = ctl_open(&d->ctl, d->cfg->control_socket, d->ctl_epfd, err, sizeof(err));

	if (r < 0) {
		log_msg(LOG_ERR, "%s", err);
		return r;
	}
	r = ctl_set_access(&d->ctl, d->cfg->control_mode, d->cfg->control_gid, err, sizeof(err));
	if (r < 0) {
		log_msg(LOG_ERR, "%s", err);
		return r;
	}
	d->ctl.idle_timeout = d->cfg->control_idle_timeout;
	d->ctl.io_timeout = d->cfg->control_io_timeout;
	return 0;
}

int daemon_open_metrics(struct daemon *d)
{
	char err[256];
	int r;

	if (!d->cfg->metrics_listen_text)
		return 0;
	r = http_open(&d->http, d, &d->cfg->metrics_listen, err, sizeof(err));
	if (r < 0) {
		log_msg(LOG_ERR, "%s", err);
		return r;
	}
	log_msg(LOG_INFO, "serving metrics on http://%s/metrics", http_address(d->http));
	return 0;
}

/* Give a session its timer event (already taken off the heap); a cycle that starts
 * counts how late it starts. */
static void daemon_fire(struct daemon *d, struct session *s, int64_t due, int64_t now)
{
	if (s->state == SESS_IDLE || s->state == SESS_HOLDING)
		latency_record(&d->lateness, now - due, now);
	if (session_deadline(s, &d->env, due, now) < 0)
		d->unexpected_events++;
}

/* Fire timers due at now, at most a bounded number per turn. Each handler gets a
 * fresh clock reading, so a cycle's timings do not include its wait in this batch. */
static bool daemon_run_timers(struct daemon *d, int64_t now)
{
	uint32_t id;

	for (int i = 0; i < DAEMON_MAX_TIMERS_PER_TURN; i++) {
		int64_t due = timer_next_due(&d->timers);

		if (timer_pop_due(&d->timers, now, &id) < 0)
			return false;
		daemon_fire(d, &d->sess[id], due, now_ns());
	}
	return true;
}

static void daemon_session_event(struct daemon *d, uint64_t data, uint32_t events, int64_t now)
{
	uint32_t id = evdata_id(data);
	struct session *s;
	int64_t due;
	int r;

	if (id >= d->cap_sess || (d->sess[id].gen & 0x7fffffffu) != evdata_gen(data) ||
	    d->sess[id].fd < 0) {
		d->stale_events++;
		return;
	}
	s = &d->sess[id];
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		s->ready |= SESS_READY_IN;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		s->ready |= SESS_READY_OUT;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		s->ready |= SESS_READY_HUP;
	d->sio.ev_fd = s->fd;
	d->sio.ev = events;
	r = session_handle(s, &d->env, SEV_IO, now);
	d->sio.ev_fd = -1;
	if (r < 0) {
		d->unexpected_events++;
		return;
	}
	/* A cycle that ended with its next one due at once (interval 0) starts here, not
	 * a turn later: at most one start per event, so nothing can chain. */
	due = timer_due(&d->timers, id);
	if ((s->state == SESS_IDLE || s->state == SESS_HOLDING) && due <= now) {
		timer_cancel(&d->timers, id);
		daemon_fire(d, s, due, now);
	}
}

static void daemon_signal_event(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_msg(LOG_NOTICE, "received SIG%s, stopping", sigabbrev_np((int)si.ssi_signo));
			d->stopping = true;
		} else if (si.ssi_signo == SIGHUP) {
			d->reload_requested = true;
		}
	}
}

/* Write "; last reload HH:MM:SS: <summary or first error>" to buf, or "" before any. */
static void daemon_format_reload(const struct daemon *d, char *buf, size_t len)
{
	time_t at = (time_t)(d->last_reload_wall / NSEC_PER_SEC);
	char hms[16] = "?";
	struct tm tm;

	buf[0] = '\0';
	if (!d->last_reload_wall)
		return;
	if (localtime_r(&at, &tm))
		strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	snprintf(buf, len, "; last reload %s: %s", hms, d->last_reload_msg);
}

void daemon_notify_status(struct daemon *d)
{
	size_t up = 0, down = 0, unknown = 0;
	char reload[320];

	for (size_t i = 0; i < d->n_targets; i++) {
		up += d->targets[i]->health == HEALTH_UP;
		down += d->targets[i]->health == HEALTH_DOWN;
		unknown += d->targets[i]->health == HEALTH_UNKNOWN;
	}
	daemon_format_reload(d, reload, sizeof(reload));
	sd_notifyf(0, "STATUS=%zu target%s: %zu up, %zu down, %zu unknown; %u session%s; %.1f cycles/s%s",
		   d->n_targets, plural_s(d->n_targets), up, down, unknown, d->n_sess,
		   plural_s(d->n_sess), d->status_rate, reload);
}

/* Every turn: the watchdog, when due. Once a second: the cycle rate and the status
 * line for systemd, the end of a resource episode, idle control clients. */
static void daemon_tick(struct daemon *d, int64_t now)
{
	if (d->watchdog_ns && now >= d->next_watchdog) {
		sd_notify(0, "WATCHDOG=1");
		/* From the time of sending: now may be late by this turn's timers. */
		d->next_watchdog = now_ns() + d->watchdog_ns / 2;
	}
	if (now < d->next_tick)
		return;
	d->next_tick = now + TICK_NS;
	if (d->status_at && now > d->status_at)
		d->status_rate = (double)(d->cycles_total - d->status_cycles) * NSEC_PER_SEC /
				 (double)(now - d->status_at);
	d->status_at = now;
	d->status_cycles = d->cycles_total;
	daemon_notify_status(d);
	if (daemon_fd_budget(d, d->cfg))
		log_msg(LOG_NOTICE, "open files limit changed: at most %u connections may be open at once",
			d->sio.max_open);
	daemon_end_resource_episode(d, now);
	ctl_sweep(d, now);
}

/* How long epoll_wait may sleep: until the next deadline, at most a second. */
static int daemon_wait_ms(const struct daemon *d, int64_t now)
{
	int64_t due = MIN(timer_next_due(&d->timers), d->next_tick);

	if (d->watchdog_ns)
		due = MIN(due, d->next_watchdog);
	if (d->http)
		due = MIN(due, http_next_due(d->http, now));
	if (due <= now)
		return 0;
	if (due - now >= TICK_NS)
		return 1000;
	return (int)((due - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
}

/* Read the clock at a point of the loop; more than DAEMON_STALL_NS beyond the
 * previous point (plus the wait asked for in between) means the loop was not running
 * (a SIGSTOP, a starved process) while the peers' answers waited unread. Every
 * deadline, and the start of every cycle under way, then moves on by the time lost,
 * so that it is not blamed on the targets. Returns the time read. */
static int64_t daemon_mark(struct daemon *d, int64_t waited)
{
	int64_t now = now_ns(), lost = now - d->mark - waited;
	char dur[32];

	if (d->mark == 0 || lost < DAEMON_STALL_NS) {
		d->mark = now;
		return now;
	}
	d->mark = now;
	timer_shift(&d->timers, lost);
	for (uint32_t i = 0; i < d->cap_sess; i++) {
		struct session *s = &d->sess[i];

		if (s->state != SESS_CONNECTING && s->state != SESS_EXCHANGING)
			continue;
		s->cycle_start += lost;
		if (s->connected_at)
			s->connected_at += lost;
	}
	d->stalls++;
	d->stalled_ns += lost;
	log_msg(LOG_NOTICE, "the loop did not run for %s (stopped or starved); deadlines moved on by as much",
		format_duration(lost, dur, sizeof(dur)));
	return now;
}

/* Answer whatever the control server has ready, without waiting. The loop calls this,
 * and fires due timers, every DAEMON_CTL_EVERY session events: a full batch of
 * connects and closes takes milliseconds, and neither a request nor a cycle start
 * should wait for all of it. */
static void daemon_run_control(struct daemon *d)
{
	struct epoll_event ev[CTL_MAX_CLIENTS + 1];

	/* A second look answers a client accepted by the first, whose request is there. */
	for (int round = 0; round < 2; round++) {
		int n = epoll_wait(d->ctl_epfd, ev, (int)ELEMENTSOF(ev), 0);

		if (n <= 0)
			return;
		for (int i = 0; i < n; i++)
			ctl_handle_event(d, ev[i].data.u64, ev[i].events, now_ns());
	}
}

int daemon_turn(struct daemon *d, int max_wait_ms)
{
	struct epoll_event ev[DAEMON_MAX_EVENTS];
	int64_t now = daemon_mark(d, 0);
	bool more = daemon_run_timers(d, now);
	bool http_ready = false;
	int n, wait, since_ctl = 0;

	ctl_run_pending(d, now);
	more |= d->ctl.pending != 0;
	if (d->reload_requested) {
		log_msg(LOG_NOTICE, "received SIGHUP, reloading %s", d->config_path);
		daemon_reload(d, NULL);
	}
	daemon_tick(d, now);
	wait = MIN(more ? 0 : daemon_wait_ms(d, now), max_wait_ms);
	daemon_mark(d, 0);
	n = epoll_wait(d->epfd, ev, DAEMON_MAX_EVENTS, wait);
	if (n < 0 && errno != EINTR)
		return -errno;
	daemon_mark(d, (int64_t)wait * NSEC_PER_MSEC);
	for (int i = 0; i < n; i++) {
		uint64_t data = ev[i].data.u64;

		now = now_ns();
		if (!(data & EVDATA_OTHER)) {
			daemon_session_event(d, data, ev[i].events, now);
			if (++since_ctl == DAEMON_CTL_EVERY) {
				since_ctl = 0;
				daemon_run_control(d);
				(void)daemon_run_timers(d, daemon_mark(d, 0));
			}
		} else if (data == SIG_EVDATA) {
			daemon_signal_event(d);
		} else if (data == CTL_NEST_EVDATA) {
			daemon_run_control(d);
		} else if (data == HTTP_EVDATA) {
			http_ready = true;
		}
	}
	now = now_ns();
	if (d->http && (http_ready || http_next_due(d->http, now) <= now))
		http_run(d->http);
	d->loop_turns++;
	daemon_mark(d, 0);
	return 0;
}

int daemon_run(struct daemon *d)
{
	uint64_t usec;
	int r = 0;

	if (sd_watchdog_enabled(0, &usec) > 0)
		d->watchdog_ns = (int64_t)usec * NSEC_PER_USEC;
	sd_notify(0, "READY=1");
	while (!d->stopping && r == 0)
		r = daemon_turn(d, 1000);
	sd_notify(0, "STOPPING=1");
	return r;
}

uint32_t daemon_target_active(const struct daemon *d, const struct target *t)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->n_sess; i++)
		n += d->sess[t->sess[i]].fd >= 0;
	return n;
}

struct target *daemon_find_target(const struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_targets; i++)
		if (strcmp(d->targets[i]->conf->name, name) == 0)
			return d->targets[i];
	return NULL;
}

void daemon_free(struct daemon *d)
{
	for (size_t i = 0; i < d->n_targets; i++) {
		struct target *t = d->targets[i];

		for (uint32_t k = 0; k < t->n_sess; k++)
			session_handle(&d->sess[t->sess[k]], &d->env, SEV_STOP, 0);
		target_free(t);
	}
	ctl_close(&d->ctl);
	http_close(d->http);
	free(d->targets);
	free(d->sess);
	free(d->free_ids);
	timer_heap_free(&d->timers);
	config_free(d->cfg);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->ctl_epfd >= 0)
		close(d->ctl_epfd);
	if (d->epfd >= 0)
		close(d->epfd);
	memset(d, 0, sizeof(*d));
	d->epfd = d->ctl_epfd = d->sigfd = -1;
}
