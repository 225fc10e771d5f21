/* The daemon: wires the loop, the session pool, the control server, the metrics
 * listener and a periodic tick (watchdog, status line, fd budget) together. What each
 * part does lives in its own module; this one only holds them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "page.h"
#include "proto.h"
#include "resolve.h"
#include "target.h"
#include "tls.h"

/* File descriptors kept free of sessions: control clients, the journal, spares. */
#define FD_RESERVE (CTL_MAX_CLIENTS + 32)

bool daemon_fd_budget(struct daemon *d)
{
	uint64_t reserve = FD_RESERVE + (d->cfg->metrics_listen_text ? HTTP_MAX_CLIENTS : 0);
	struct rlimit rl;
	uint32_t max = UINT32_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur > reserve ? (uint32_t)MIN(rl.rlim_cur - reserve, UINT32_MAX) : 0;
	return pool_set_max_open(&d->pool, max);
}

/* The kernel grows the table by doubling, and in a threaded process (the resolver's
 * threads) each step waits for an RCU grace period: growing to 10,000 descriptors
 * blocked the caller for about 90 ms here, up to 20 ms a step, which the loop would
 * pay in the middle of its work. Growing it in one step, at start before the loop runs
 * and when a reload or `set` added sessions, costs one grace period at most. */
static void daemon_fd_reserve_for(struct daemon *d, uint64_t sessions)
{
	uint64_t want = MIN(sessions, (uint64_t)d->pool.sio.max_open) + FD_RESERVE + HTTP_MAX_CLIENTS;
	struct rlimit rl;
	int fd;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		want = MIN(want, (uint64_t)rl.rlim_cur);
	if (want <= d->fd_reserved || want > INT_MAX)
		return;
	/* The lowest free descriptor at or above want - 1 makes the table hold want. */
	fd = fcntl(d->loop.epfd, F_DUPFD_CLOEXEC, (int)(want - 1));
	if (fd >= 0)
		close(fd);
	d->fd_reserved = want;
}

void daemon_fd_reserve(struct daemon *d)
{
	daemon_fd_reserve_for(d, d->pool.n_sess);
}

/* Raise the soft open-files limit to the hard one and take the sessions' share. */
static void daemon_raise_nofile(struct daemon *d)
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
	daemon_fd_budget(d);
	if (d->cfg->total_connections > d->pool.sio.max_open)
		log_msg(LOG_WARNING,
			"%llu connections configured but only %u may be open at once (open files limit %llu); a session that finds none free counts a 'resource' failure",
			(unsigned long long)d->cfg->total_connections, d->pool.sio.max_open,
			(unsigned long long)cur);
}

/* Write "; last reload HH:MM:SS: <summary or first error>" to buf, or "" before any. */
static void daemon_format_reload(const struct daemon *d, char *buf, size_t len)
{
	time_t at = (time_t)(d->reload.last_wall / NSEC_PER_SEC);
	char hms[16] = "?";
	struct tm tm;

	buf[0] = '\0';
	if (!d->reload.last_wall)
		return;
	if (localtime_r(&at, &tm))
		strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	snprintf(buf, len, "; last reload %s: %s", hms, d->reload.last_msg);
}

/* "; 2 flapping; 46 sessions starved (open files limit)" or "" into buf. */
static void daemon_format_health_notes(const struct pool *p, size_t flapping, char *buf,
				       size_t len)
{
	uint32_t starved = pool_starved(p);
	char why[64];
	int o = 0;

	buf[0] = '\0';
	if (flapping)
		o = snprintf(buf, len, ", %zu flapping", flapping);
	if (starved && o >= 0 && (size_t)o < len)
		snprintf(buf + o, len - (size_t)o, "; %u session%s starved (%s)", starved,
			 plural_s(starved),
			 proto_resource_text(proto_resource_kind(p->resource_errno), 0, why, sizeof(why)));
}

void daemon_notify_status(struct daemon *d)
{
	const struct pool *p = &d->pool;
	size_t n[_HEALTH_MAX] = { 0 }, flapping = 0;
	char reload[320], notes[128];

	for (size_t i = 0; i < p->n_targets; i++) {
		n[p->targets[i]->health]++;
		flapping += p->targets[i]->flapping;
	}
	daemon_format_reload(d, reload, sizeof(reload));
	daemon_format_health_notes(p, flapping, notes, sizeof(notes));
	sd_notifyf(0, "STATUS=%zu target%s: %zu up, %zu degraded, %zu down, %zu unknown%s; %u session%s; %.1f cycles/s%s",
		   p->n_targets, plural_s(p->n_targets), n[HEALTH_UP], n[HEALTH_DEGRADED],
		   n[HEALTH_DOWN], n[HEALTH_UNKNOWN], notes, p->n_sess, plural_s(p->n_sess),
		   d->status_rate, reload);
}

/* The tick's deadline: the next second, or the watchdog's ping if sooner. */
static void daemon_arm_tick(struct daemon *d)
{
	int64_t due = d->next_tick;

	if (d->watchdog_ns)
		due = MIN(due, d->next_watchdog);
	loop_set_due(&d->loop, d->tick_slot, due);
}

/* The watchdog when due; once a second, the cycle rate and the status line for
 * systemd, the end of a resource episode, the fd budget, idle control clients. */
static void daemon_tick(void *owner, int64_t now)
{
	struct daemon *d = owner;

	if (d->watchdog_ns && now >= d->next_watchdog) {
		sd_notify(0, "WATCHDOG=1");
		d->next_watchdog = now + d->watchdog_ns / 2;
	}
	if (now >= d->next_tick) {
		d->next_tick = now + DAEMON_TICK_NS;
		if (d->status_at && now > d->status_at)
			d->status_rate = (double)(d->pool.cycles_total - d->status_cycles) *
					 NSEC_PER_SEC / (double)(now - d->status_at);
		d->status_at = now;
		d->status_cycles = d->pool.cycles_total;
		daemon_notify_status(d);
		if (daemon_fd_budget(d))
			log_msg(LOG_NOTICE, "open files limit changed: at most %u connections may be open at once",
				d->pool.sio.max_open);
		daemon_fd_reserve(d);
		pool_tick(&d->pool, now);
	}
	daemon_arm_tick(d);
}

void daemon_warn_tls_keys(const struct config *c)
{
	for (size_t i = 0; i < c->n_all; i++) {
		const struct target_conf *t = c->all[i];

		if (t->protocol == TPROTO_TLS && t->tls_key[0] && tls_key_is_shared(t->tls_key))
			log_msg(LOG_WARNING,
				"%s:%u: tls_key: [target \"%s\"]: the private key file %s can be read by its group or by others; make it readable by mconnd's user only (chmod 600)",
				t->file ? t->file : "?", t->line, t->name, t->tls_key);
	}
}

int daemon_init(struct daemon *d, struct config *cfg, const char *config_path)
{
	int64_t now = now_ns();
	int r;

	memset(d, 0, sizeof(*d));
	d->ctl.listen_fd = d->ctl.epfd = d->ctl.slot = -1;
	d->tick_slot = d->resolve_slot = d->reresolve_slot = -1;
	d->config_path = config_path;
	d->start_mono = now;
	d->start_wall = wall_ns();
	r = loop_init(&d->loop);
	if (r < 0)
		return r;
	r = pool_init(&d->pool, &d->loop);
	if (r < 0)
		return r;
	d->cfg = cfg;
	daemon_raise_nofile(d);
	d->tick_slot = loop_add(&d->loop, "tick", -1, 0, NULL, daemon_tick, d);
	if (d->tick_slot < 0)
		return d->tick_slot;
	d->next_tick = now + DAEMON_TICK_NS;
	daemon_arm_tick(d);
	/* Before the sessions' first cycles are scheduled: the grace period the table's
	 * growth may wait for would make them late. */
	daemon_fd_reserve_for(d, cfg->total_connections);
	d->pool.targets = calloc(cfg->n_targets ? cfg->n_targets : 1, sizeof(*d->pool.targets));
	if (!d->pool.targets)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_targets; i++) {
		d->pool.targets[i] = target_new(cfg->targets[i], now);
		if (!d->pool.targets[i])
			return -ENOMEM;
		d->pool.n_targets++;
		r = pool_add_sessions(&d->pool, d->pool.targets[i], cfg->targets[i]->connections, now);
		if (r < 0)
			return r;
	}
	return 0;
}

int daemon_open_control(struct daemon *d, ctl_dispatch_fn dispatch, void *owner)
{
	char err[256];
	int r = ctl_open(&d->ctl, d->cfg->control_socket, &d->loop, err, sizeof(err));

	if (r < 0) {
		log_msg(LOG_ERR, "%s", err);
		return r;
	}
	d->ctl.dispatch = dispatch;
	d->ctl.owner = owner;
	r = ctl_set_access(&d->ctl, d->cfg->control_mode, d->cfg->control_gid, err, sizeof(err));
	if (r < 0) {
		log_msg(LOG_ERR, "%s", err);
		return r;
	}
	d->ctl.idle_timeout = d->cfg->control_idle_timeout;
	d->ctl.io_timeout = d->cfg->control_io_timeout;
	return 0;
}

void daemon_view(const struct daemon *d, struct view *ret)
{
	*ret = (struct view){ .pool = &d->pool, .loop = &d->loop.stats, .ctl = &d->ctl,
			      .reload = &d->reload, .scrape = &d->scrape,
			      .http = d->http ? http_stats(d->http) : NULL,
			      .http_address = d->http ? http_address(d->http) : NULL,
			      .config_path = d->config_path, .start_mono = d->start_mono,
			      .start_wall = d->start_wall,
			      .shard = { .set = d->cfg->shard_set, .k = d->cfg->shard_k,
					 .n = d->cfg->shard_n, .replicas = d->cfg->replicas,
					 .skipped = d->cfg->n_skipped } };
}

void daemon_scrape(struct daemon *d, struct buf *out)
{
	struct view v;

	daemon_view(d, &v);
	metrics_scrape(&v, &d->scrape, out);
}

void daemon_resolver_arm(struct daemon *d)
{
	if (d->resolve_slot >= 0)
		loop_set_due(&d->loop, d->resolve_slot, resolve_next_due(d->resolver));
}

/* Answers are in (the eventfd) or a look-up's deadline passed: hand them out. */
static void daemon_resolver_io(void *owner, uint32_t events, int64_t now)
{
	struct daemon *d = owner;

	(void)events;
	resolve_dispatch(d->resolver, now);
	daemon_resolver_arm(d);
}

static void daemon_resolver_due(void *owner, int64_t now)
{
	daemon_resolver_io(owner, 0, now);
}

int daemon_open_resolver(struct daemon *d, struct resolver *r)
{
	d->resolver = r;
	d->resolve_slot = loop_add(&d->loop, "resolver", resolve_fd(r), EPOLLIN, daemon_resolver_io,
				   daemon_resolver_due, d);
	return d->resolve_slot < 0 ? d->resolve_slot : 0;
}

/* The metrics listener's body: the exposition in slices, through a cursor. */
static void *daemon_http_begin(void *owner)
{
	struct metrics_cursor *cur = malloc(sizeof(*cur));

	(void)owner;
	if (cur)
		metrics_begin(cur, now_ns());
	return cur;
}

static bool daemon_http_slice(void *owner, void *state, struct buf *out, size_t max)
{
	struct daemon *d = owner;
	struct view v;

	daemon_view(d, &v);
	return metrics_scrape_slice(&v, &d->scrape, state, out, max);
}

static void daemon_http_end(void *owner, void *state)
{
	(void)owner;
	free(state);
}

static const struct http_source daemon_http_source = {
	.begin = daemon_http_begin, .slice = daemon_http_slice, .end = daemon_http_end,
};

/* The status page at /: the same view, in slices through its own cursor. */
static void *daemon_page_begin(void *owner)
{
	struct page_cursor *cur = malloc(sizeof(*cur));

	(void)owner;
	if (cur)
		page_begin(cur, now_ns(), wall_ns());
	return cur;
}

static bool daemon_page_slice(void *owner, void *state, struct buf *out, size_t max)
{
	struct view v;

	daemon_view(owner, &v);
	return page_render_slice(&v, state, out, max);
}

static const struct http_page daemon_status_page = {
	.path = "/", .content_type = PAGE_CONTENT_TYPE,
	.src = { .begin = daemon_page_begin, .slice = daemon_page_slice, .end = daemon_http_end },
};

int daemon_open_metrics(struct daemon *d)
{
	char err[256];
	int r;

	if (!d->cfg->metrics_listen_text)
		return 0;
	r = http_open(&d->http, &d->loop, &d->cfg->metrics_listen, &daemon_http_source, d, err,
		      sizeof(err));
	if (r < 0) {
		log_msg(LOG_ERR, "%s", err);
		return r;
	}
	r = http_add_page(d->http, &daemon_status_page);
	if (r < 0) {
		log_msg(LOG_ERR, "metrics_listen: cannot serve the status page: %s", strerror(-r));
		return r;
	}
	log_msg(LOG_INFO, "serving metrics on http://%s/metrics and the status page on http://%s/",
		http_address(d->http), http_address(d->http));
	return 0;
}

int daemon_turn(struct daemon *d, int max_wait_ms)
{
	return loop_turn(&d->loop, max_wait_ms);
}

int daemon_run(struct daemon *d)
{
	uint64_t usec;
	int r = 0;

	if (sd_watchdog_enabled(0, &usec) > 0) {
		d->watchdog_ns = (int64_t)usec * NSEC_PER_USEC;
		daemon_arm_tick(d);
	}
	sd_notify(0, "READY=1");
	while (!d->loop.stopping && r == 0)
		r = loop_turn(&d->loop, 1000);
	sd_notify(0, "STOPPING=1");
	return r;
}

void daemon_free(struct daemon *d)
{
	resolver_free(d->resolver);
	pool_free(&d->pool);
	ctl_close(&d->ctl);
	http_close(d->http);
	config_free(d->cfg);
	loop_free(&d->loop);
	memset(d, 0, sizeof(*d));
	d->ctl.listen_fd = d->ctl.epfd = d->ctl.slot = -1;
	d->loop.epfd = d->loop.sigfd = -1;
}
