/* Reload, set, pause and resume. A new configuration is checked whole before the
 * running one is touched; then each target moves to its new version through
 * target_move(), which is also what `set` uses. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "pool.h"
#include "reconcile.h"
#include "resolve.h"
#include "target.h"

/* What a reload's reply may hold. */
#define RELOAD_REPLY_MAX (256u << 10)

/* A reload waiting for its names: the checked configuration, its look-ups and what
 * they found so far, and the clients waiting for the outcome. Requests that come
 * meanwhile make one more reload, after this one: the files may have changed since
 * they were read. */
struct reload_job {
	struct config *nc;
	struct config_lookup *lookups;
	uint64_t *ids;
	size_t n;
	size_t left;
	struct config_errors errs;
	int64_t started;
	struct buf out;
	uint64_t waiters[CTL_MAX_CLIENTS];
	size_t n_waiters;
	bool again;
	uint64_t again_waiters[CTL_MAX_CLIENTS];
	size_t n_again;
};

/* What one reload did, for the reply and the log. */
struct reload_report {
	unsigned added;
	unsigned removed;
	unsigned changed;
	unsigned unchanged;
	struct buf *out;
};

__attribute__((format(printf, 2, 3)))
static void report_line(struct reload_report *rep, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg(LOG_INFO, "%s", line);
	if (rep && rep->out)
		buf_printf(rep->out, "%s\n", line);
}

/* Move t to configuration nc, which differs from its own in the keys of diff. A
 * change of address, messages, mode or source starts its sessions afresh under a new
 * generation; any other change keeps them, adding or retiring sessions for a new
 * connection count. A cycle under way finishes under the configuration it started
 * with; a new interval or backoff_max re-schedules the waiting sessions at once, and
 * every other timing and threshold applies from each session's next cycle. Returns 0
 * or -ENOMEM when sessions could not be added. */
static int target_move(struct daemon *d, struct target *t, struct target_conf *nc,
		       unsigned diff, int64_t now)
{
	const struct target_conf *was = t->conf;

	if (diff & CHG_RESTART) {
		pool_retire_sessions(&d->pool, t, 0);
		t->conf = nc;
		t->generation++;
		t->restart_changes = diff & CHG_RESTART;
		t->reset_wall = wall_ns();
		t->reset_mono = now;
		/* The state stays until the new sessions' verdicts change it: a target
		 * down at its old address and at its new one is down throughout, and an
		 * alert on it keeps its for:. */
		t->ratio_high = false;
		return t->paused ? 0 : pool_add_sessions(&d->pool, t, nc->connections, now);
	}
	t->conf = nc;
	if (t->paused)
		return 0;
	if (nc->connections < t->n_sess)
		pool_retire_sessions(&d->pool, t, nc->connections);
	if (diff & (CHG_INTERVAL | CHG_BACKOFF_MAX | CHG_INTERVAL_DOWN | CHG_INTERVAL_CHANGING))
		pool_reschedule_sessions(&d->pool, t, was, now);
	return pool_add_sessions(&d->pool, t, nc->connections - t->n_sess, now);
}

/* Total connections of the running targets if t had count of them. */
static uint64_t total_with(const struct daemon *d, const struct target *t, uint32_t count)
{
	uint64_t n = 0;

	for (size_t i = 0; i < d->pool.n_targets; i++)
		n += d->pool.targets[i] == t ? count : d->pool.targets[i]->conf->connections;
	return n;
}

static void log_session_shortage(const struct target *t, int r)
{
	if (r < 0)
		log_msg(LOG_ERR, "target %s: cannot start all its sessions: %s", t->conf->name,
			strerror(-r));
}

/* Find a running target by name and take it out of the old list (NULL left behind),
 * so that what is left at the end is what the new configuration removed. */
static struct target *take_target(struct daemon *d, const char *name)
{
	for (size_t k = 0; k < d->pool.n_targets; k++) {
		struct target *t = d->pool.targets[k];

		if (t && strcmp(t->conf->name, name) == 0) {
			d->pool.targets[k] = NULL;
			return t;
		}
	}
	return NULL;
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* A key read only at start (control_socket, metrics_listen): when the new
 * configuration changes it, the value in use moves into it and the reply says so;
 * none names the lack of an old value. Returns true when the value had changed. */
static bool keep_start_value(char **was, char **now, const char *key, const char *none,
			     struct reload_report *rep)
{
	if (str_same(*was, *now))
		return false;
	report_line(rep, "%s changed to %s; it takes effect at the next start, %s stays in use",
		    key, *now ? *now : "(none)", *was ? *was : none);
	free(*now);
	*now = *was;
	*was = NULL;
	return true;
}

/* Say which [daemon] keys the new configuration changes. */
static void report_daemon_changes(const struct config *o, const struct config *n,
				  struct reload_report *rep)
{
	char what[200] = "";
	size_t k = 0;

#define DAEMON_CHANGED(cond, name)                                                         \
	do {                                                                               \
		if (cond)                                                                  \
			k += (size_t)snprintf(what + k, sizeof(what) - k, "%s%s", k ? ", " : "", \
					      name);                                       \
	} while (0)
	DAEMON_CHANGED(o->log_level != n->log_level, "log_level");
	DAEMON_CHANGED(o->log_target != n->log_target, "log_target");
	DAEMON_CHANGED(o->control_idle_timeout != n->control_idle_timeout, "control_idle_timeout");
	DAEMON_CHANGED(o->control_io_timeout != n->control_io_timeout, "control_io_timeout");
	DAEMON_CHANGED(!str_same(o->include, n->include), "include");
	DAEMON_CHANGED(o->shard_set != n->shard_set || o->shard_k != n->shard_k ||
			       o->shard_n != n->shard_n,
		       "shard");
	DAEMON_CHANGED(o->replicas != n->replicas, "replicas");
	DAEMON_CHANGED(o->admin_gid != n->admin_gid || !str_same(o->admin_group, n->admin_group),
		       "admin_group");
	DAEMON_CHANGED(o->control_mode != n->control_mode, "control_mode");
	DAEMON_CHANGED(o->control_gid != n->control_gid ||
			       !str_same(o->control_group, n->control_group),
		       "control_group");
#undef DAEMON_CHANGED
	if (k)
		report_line(rep, "changed [daemon]: %s", what);
}

/* Drop a re-resolution under way (the configuration it was for is going) and its
 * error: the reload resolved the name again. */
static void target_resolve_forget(struct daemon *d, struct target *t)
{
	if (t->resolve.id)
		resolve_cancel(d->resolver, t->resolve.id);
	t->resolve.id = 0;
	t->resolve.next = 0;
	t->resolve.error[0] = '\0';
}

/* Return the skipped target of c named name (another shard runs it), or NULL. */
static const struct target_conf *find_skipped(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_skipped; i++)
		if (strcmp(c->skipped[i]->name, name) == 0)
			return c->skipped[i];
	return NULL;
}

/* Say that a target left this checker: removed from the file, or now another shard's. */
static void report_gone(const struct config *nc, const struct target *t,
			struct reload_report *rep)
{
	const struct target_conf *moved = find_skipped(nc, t->conf->name);
	char shards[200];

	if (moved)
		report_line(rep, "moved out %s: shard %u/%u no longer runs it (shards %s do)",
			    t->conf->name, nc->shard_k, nc->shard_n,
			    shard_mask_format(moved->shard_owners, shards, sizeof(shards)));
	else
		report_line(rep, "removed %s", t->conf->name);
}

/* Move every target to the new configuration nc; the daemon takes it over. */
static void reconcile(struct daemon *d, struct config *nc, struct reload_report *rep,
		      int64_t now)
{
	struct target **next = calloc(nc->n_targets ? nc->n_targets : 1, sizeof(*next));
	struct config *old = d->cfg;
	char what[160];

	if (!next)
		abort();
	for (size_t i = 0; i < nc->n_targets; i++) {
		struct target_conf *tc = nc->targets[i];
		struct target *t = take_target(d, tc->name);
		unsigned diff;

		if (!t) {
			t = target_new(tc, now);
			if (!t)
				abort();
			log_session_shortage(t, pool_add_sessions(&d->pool, t, tc->connections, now));
			rep->added++;
			report_line(rep, "%s %s: %s, %u connection%s",
				    find_skipped(old, tc->name) ? "moved in" : "added", tc->name,
				    tc->address_text, tc->connections, plural_s(tc->connections));
			next[i] = t;
			continue;
		}
		diff = config_target_diff(t->conf, tc);
		target_resolve_forget(d, t);
		log_session_shortage(t, target_move(d, t, tc, diff, now));
		config_target_unref(t->own_conf);
		t->own_conf = NULL;
		t->runtime_set = 0;
		if (diff) {
			rep->changed++;
			report_line(rep, "%s %s: %s", diff & CHG_RESTART ? "restarted" : "changed",
				    tc->name, config_changes_format(diff, what, sizeof(what)));
		} else {
			rep->unchanged++;
		}
		next[i] = t;
	}
	for (size_t k = 0; k < d->pool.n_targets; k++) {
		struct target *t = d->pool.targets[k];

		if (!t)
			continue;
		rep->removed++;
		report_gone(nc, t, rep);
		target_resolve_forget(d, t);
		pool_retire_sessions(&d->pool, t, 0);
		target_free(t);
	}
	free(d->pool.targets);
	d->pool.targets = next;
	d->pool.n_targets = nc->n_targets;
	report_daemon_changes(old, nc, rep);
	keep_start_value(&old->control_socket, &nc->control_socket, "control_socket", "(none)", rep);
	if (keep_start_value(&old->metrics_listen_text, &nc->metrics_listen_text,
			     "metrics_listen", "no listener", rep))
		nc->metrics_listen = old->metrics_listen;
	d->cfg = nc;
	config_free(old);
}

/* Apply the [daemon] settings that can change without a restart. */
static void reload_daemon_settings(struct daemon *d, struct reload_report *rep)
{
	const struct config *c = d->cfg;
	char err[256];

	log_open(d->verbose ? LOG_DEBUG : c->log_level,
		 d->log_target_cli >= 0 ? d->log_target_cli : c->log_target);
	d->ctl.idle_timeout = c->control_idle_timeout;
	d->ctl.io_timeout = c->control_io_timeout;
	if (ctl_set_access(&d->ctl, c->control_mode, c->control_gid, err, sizeof(err)) < 0)
		report_line(rep, "%s", err);
	/* Sessions the reload added have not opened a descriptor yet. */
	daemon_fd_budget(d);
	daemon_fd_reserve(d);
}

/* Tell systemd a reload is under way; READY=1 follows when it is over. */
static void notify_reloading(int64_t now)
{
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)(now / 1000));
}

static void reload_record(struct daemon *d, bool ok, const char *msg, int64_t now)
{
	d->reload.last_ok = ok;
	d->reload.last_wall = wall_ns();
	d->reload.last_mono = now;
	snprintf(d->reload.last_msg, sizeof(d->reload.last_msg), "%.*s",
		 (int)sizeof(d->reload.last_msg) - 1, msg);
	if (ok)
		d->reload.ok++;
	else
		d->reload.failed++;
	sd_notify(0, "READY=1");
	daemon_notify_status(d);
}

/* Report every error of a refused reload to out and the log, and record it. */
static void reload_fail(struct daemon *d, struct config_errors *errs, struct buf *out,
			int64_t now)
{
	char line[600], first[300];

	for (size_t i = 0; i < errs->n; i++) {
		config_error_format(&errs->v[i], line, sizeof(line));
		log_msg(LOG_ERR, "reload: %s", line);
		if (out)
			buf_printf(out, "%s\n", line);
	}
	if (errs->dropped) {
		log_msg(LOG_ERR, "reload: %zu more errors not shown", errs->dropped);
		if (out)
			buf_printf(out, "%zu more errors not shown\n", errs->dropped);
	}
	/* The first error, into a buffer of its own: formatting line from a part of itself
	 * overlaps once the message is longer than the gap (valgrind saw it). */
	snprintf(line, sizeof(line), "failed: %s",
		 errs->n ? config_error_format(&errs->v[0], first, sizeof(first)) : "?");
	log_msg(LOG_ERR, "reload failed (%zu error%s); the running configuration is unchanged",
		errs->n + errs->dropped, plural_s(errs->n + errs->dropped));
	config_errors_clear(errs);
	reload_record(d, false, line, now);
}

/* Move the daemon to nc, whose names are all resolved. */
static void reload_apply(struct daemon *d, struct config *nc, struct buf *out, int64_t now)
{
	struct reload_report rep = { .out = out };
	char line[600];

	reconcile(d, nc, &rep, now);
	reload_daemon_settings(d, &rep);
	snprintf(line, sizeof(line), "reloaded: %u added, %u removed, %u changed, %u unchanged",
		 rep.added, rep.removed, rep.changed, rep.unchanged);
	log_msg(LOG_NOTICE, "%s", line);
	if (out)
		buf_printf(out, "%s\n", line);
	reload_record(d, true, line, now);
}

static void reload_on_answer(void *owner, uint64_t id, const struct resolve_answer *a);
static int reload_start(struct daemon *d, struct buf *out);

/* Give every waiting client the outcome r with the reply body, framed. */
static void reload_reply(struct daemon *d, const uint64_t *w, size_t n, int r,
			 const struct buf *body)
{
	struct buf reply;

	if (n == 0)
		return;
	buf_init(&reply, RELOAD_REPLY_MAX + 128);
	buf_printf(&reply, "%s\n", r < 0 ? "ERR reload failed; the running configuration is unchanged"
					 : "OK");
	if (body->len)
		buf_append(&reply, body->data, body->len);
	buf_printf(&reply, "\n");
	for (size_t i = 0; i < n; i++)
		ctl_complete(&d->ctl, w[i], reply.data, reply.len);
	buf_free(&reply);
}

/* Queue the look-ups of st; one the resolver cannot take is an error at once. */
static void reload_submit(struct daemon *d, struct reload_job *st)
{
	st->ids = calloc(st->n, sizeof(*st->ids));
	if (!st->ids)
		abort();
	st->left = st->n;
	for (size_t i = 0; i < st->n; i++) {
		struct resolve_answer a = { .err = -EAGAIN, .msg = "the resolver is busy (queue full)" };

		if (d->resolver &&
		    resolve_submit(d->resolver, &st->lookups[i].q, reload_on_answer, d, &st->ids[i]) == 0)
			continue;
		config_lookup_apply(st->nc, &st->lookups[i], &a, &st->errs);
		st->left--;
	}
	daemon_resolver_arm(d);
}

static void reload_job_free(struct reload_job *st)
{
	if (!st)
		return;
	config_free(st->nc);
	config_errors_clear(&st->errs);
	free(st->lookups);
	free(st->ids);
	buf_free(&st->out);
	free(st);
}

/* All the names of the reload under way are in (or timed out): refuse or apply, tell
 * the waiting clients, then run the reload asked for meanwhile, if any. */
static void reload_finish(struct daemon *d)
{
	struct reload_job *st = d->reload_job;
	int64_t now = now_ns();
	char took[32];
	int r = 0;

	d->reload_job = NULL;
	format_duration(now - st->started, took, sizeof(took));
	if (st->errs.n + st->errs.dropped) {
		log_msg(LOG_NOTICE, "reload: names looked up in %s, not all resolved", took);
		reload_fail(d, &st->errs, &st->out, now);
		r = -EINVAL;
	} else {
		log_msg(LOG_INFO, "reload: %zu name%s resolved in %s", st->n, plural_s(st->n), took);
		reload_apply(d, st->nc, &st->out, now);
		st->nc = NULL;
	}
	reload_reply(d, st->waiters, st->n_waiters, r, &st->out);
	if (st->again) {
		struct buf out;

		buf_init(&out, RELOAD_REPLY_MAX);
		log_msg(LOG_NOTICE, "reloading %s again: asked for while the last one resolved names",
			d->config_path);
		r = reload_start(d, &out);
		if (r > 0) {
			memcpy(d->reload_job->waiters, st->again_waiters, st->n_again * sizeof(st->again_waiters[0]));
			d->reload_job->n_waiters = st->n_again;
		} else {
			reload_reply(d, st->again_waiters, st->n_again, r, &out);
		}
		buf_free(&out);
	}
	reload_job_free(st);
}

static void reload_on_answer(void *owner, uint64_t id, const struct resolve_answer *a)
{
	struct daemon *d = owner;
	struct reload_job *st = d->reload_job;

	for (size_t i = 0; st && i < st->n; i++) {
		if (st->ids[i] != id)
			continue;
		st->ids[i] = 0;
		config_lookup_apply(st->nc, &st->lookups[i], a, &st->errs);
		if (--st->left == 0)
			reload_finish(d);
		return;
	}
}

/* Read and check the files; apply them at once when they name no host or group to
 * look up, else queue the look-ups. 0 applied, -EINVAL refused (out says why), 1
 * under way. */
static int reload_start(struct daemon *d, struct buf *out)
{
	struct config_errors errs = { 0 };
	struct reload_job *st;
	int64_t now = now_ns();
	struct config *nc;

	notify_reloading(now);
	if (config_load(d->config_path, false, &nc, &errs) < 0) {
		reload_fail(d, &errs, out, now);
		return -EINVAL;
	}
	daemon_warn_tls_keys(nc);
	st = calloc(1, sizeof(*st));
	if (!st)
		abort();
	st->nc = nc;
	st->started = now;
	st->n = config_lookups(nc, now + nc->resolve_timeout, &st->lookups);
	if (st->n == 0) {
		st->nc = NULL;
		reload_job_free(st);
		reload_apply(d, nc, out, now);
		return 0;
	}
	buf_init(&st->out, RELOAD_REPLY_MAX);
	d->reload_job = st;
	reload_submit(d, st);
	if (st->left > 0)
		return 1;
	/* Nothing could be queued: the outcome is known now. */
	d->reload_job = NULL;
	reload_fail(d, &st->errs, out, now);
	reload_job_free(st);
	return -EINVAL;
}

int daemon_reload(struct daemon *d, struct buf *out)
{
	if (d->reload_job) {
		d->reload_job->again = true;
		return 1;
	}
	return reload_start(d, out);
}

void daemon_reload_wait(struct daemon *d, uint64_t ticket)
{
	struct reload_job *st = d->reload_job;

	if (!st)
		return;
	/* A client has one deferred request at most: CTL_MAX_CLIENTS is the bound. */
	if (st->again && st->n_again < CTL_MAX_CLIENTS)
		st->again_waiters[st->n_again++] = ticket;
	else if (!st->again && st->n_waiters < CTL_MAX_CLIENTS)
		st->waiters[st->n_waiters++] = ticket;
}

void daemon_reload_cancel(struct daemon *d)
{
	struct reload_job *st = d->reload_job;

	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++)
		if (st->ids[i])
			resolve_cancel(d->resolver, st->ids[i]);
	d->reload_job = NULL;
	reload_job_free(st);
}

/* Find the target whose re-resolution has id. */
static struct target *target_by_resolve_id(const struct daemon *d, uint64_t id)
{
	for (size_t i = 0; i < d->pool.n_targets; i++)
		if (d->pool.targets[i]->resolve.id == id)
			return d->pool.targets[i];
	return NULL;
}

/* A failed re-resolution: the address in use stays, the failure is counted and shown,
 * and logged when it starts or its reason changes. */
static void target_resolve_failed(struct target *t, const struct resolve_answer *a, int64_t now)
{
	char why[200];

	t->resolve.failures++;
	t->resolve.error_at = now;
	snprintf(why, sizeof(why), "cannot resolve '%.80s': %.80s%s", t->conf->host, a->msg,
		 a->err == -ETIMEDOUT ? " (resolve_timeout)" : "");
	if (strcmp(why, t->resolve.error) != 0)
		log_target(LOG_WARNING, t->conf, NULL, NULL, NULL,
			   "target %s: %s; keeping %s", t->conf->name, why, t->conf->address_text);
	snprintf(t->resolve.error, sizeof(t->resolve.error), "%s", why);
}

/* A re-resolution answered: a new address restarts the target as a changed address
 * in the file does. */
static void target_on_resolved(void *owner, uint64_t id, const struct resolve_answer *a)
{
	struct daemon *d = owner;
	struct target *t = target_by_resolve_id(d, id);
	int64_t now = now_ns();
	struct target_conf *nc;
	char was[80], is[80];

	if (!t)
		return;
	t->resolve.id = 0;
	t->resolve.next = now + t->conf->resolve_every;
	if (a->err < 0) {
		target_resolve_failed(t, a, now);
		return;
	}
	if (t->resolve.error[0])
		log_target(LOG_NOTICE, t->conf, NULL, NULL, NULL, "target %s: '%s' resolves again",
			   t->conf->name, t->conf->host);
	t->resolve.error[0] = '\0';
	if (t->conf->addr.len == a->addr.len && memcmp(&t->conf->addr.ss, &a->addr.ss, a->addr.len) == 0)
		return;
	nc = config_target_with_address(t->conf, &a->addr);
	log_target(LOG_NOTICE, nc, NULL, NULL, NULL,
		   "target %s: '%s' now resolves to %s (was %s); its sessions restart",
		   nc->name, nc->host, format_address(&a->addr, is, sizeof(is)),
		   format_address(&t->conf->addr, was, sizeof(was)));
	log_session_shortage(t, target_move(d, t, nc, CHG_ADDRESS, now));
	config_target_unref(t->own_conf);
	t->own_conf = nc;
}

/* Start the re-resolutions (resolve_every) that are due. */
static void daemon_resolve_targets(struct daemon *d, int64_t now)
{
	for (size_t i = 0; i < d->pool.n_targets; i++) {
		struct target *t = d->pool.targets[i];
		const struct target_conf *c = t->conf;
		struct resolve_query q;
		struct resolve_answer busy = { .err = -EAGAIN, .msg = "the resolver is busy (queue full)" };

		if (!c->resolve_every || !c->host[0] || t->paused || t->resolve.id)
			continue;
		if (!t->resolve.next)
			t->resolve.next = now + c->resolve_every;
		if (now < t->resolve.next)
			continue;
		config_target_query(c, now + d->cfg->resolve_timeout, &q);
		if (resolve_submit(d->resolver, &q, target_on_resolved, d, &t->resolve.id) < 0) {
			t->resolve.next = now + c->resolve_every;
			target_resolve_failed(t, &busy, now);
		}
	}
	daemon_resolver_arm(d);
}

/* The re-resolution handle's deadline, once a second. */
static void resolve_every_due(void *owner, int64_t now)
{
	struct daemon *d = owner;

	if (d->resolver)
		daemon_resolve_targets(d, now);
	loop_set_due(&d->loop, d->reresolve_slot, now + NSEC_PER_SEC);
}

int daemon_watch_names(struct daemon *d)
{
	d->reresolve_slot = loop_add(&d->loop, "resolve_every", -1, 0, NULL, resolve_every_due, d);
	if (d->reresolve_slot < 0)
		return d->reresolve_slot;
	loop_set_due(&d->loop, d->reresolve_slot, now_ns() + NSEC_PER_SEC);
	return 0;
}

/* The settable keys whose values in nc differ from the files': a value set back to
 * what the file says is no longer marked as set at run time. */
static unsigned daemon_runtime_set(const struct daemon *d, const struct target_conf *nc)
{
	const struct target_conf *file = config_find_target(d->cfg, nc->name);

	return file ? config_target_diff(file, nc) & CHG_SETTABLE : CHG_SETTABLE;
}

int daemon_set(struct daemon *d, struct target *t, const char *key, const char *value,
	       char *err, size_t errlen)
{
	struct target_conf *nc;
	uint64_t total;
	unsigned diff;
	int r = config_target_set(t->conf, key, value, &nc, err, errlen);

	if (r < 0)
		return r;
	total = total_with(d, t, nc->connections);
	if (total > CONFIG_MAX_TOTAL_CONNECTIONS) {
		snprintf(err, errlen, "connections: %llu connections in all; at most %u are allowed",
			 (unsigned long long)total, CONFIG_MAX_TOTAL_CONNECTIONS);
		config_target_unref(nc);
		return -ERANGE;
	}
	diff = config_target_diff(t->conf, nc);
	log_session_shortage(t, target_move(d, t, nc, diff, now_ns()));
	daemon_fd_reserve(d);
	config_target_unref(t->own_conf);
	t->own_conf = nc;
	t->runtime_set = daemon_runtime_set(d, nc);
	log_target(LOG_NOTICE, nc, NULL, NULL, NULL, "target %s: %s set to %s at run time",
		   nc->name, key, value);
	return 0;
}

bool daemon_pause(struct daemon *d, struct target *t)
{
	if (t->paused)
		return false;
	pool_retire_sessions(&d->pool, t, 0);
	t->paused = true;
	log_target(LOG_NOTICE, t->conf, "paused", NULL, NULL, "target %s paused: %u session%s closed",
		   t->conf->name, t->conf->connections, plural_s(t->conf->connections));
	return true;
}

bool daemon_resume(struct daemon *d, struct target *t)
{
	int64_t now = now_ns();

	if (!t->paused)
		return false;
	t->paused = false;
	target_reset_health(t, now);
	log_session_shortage(t, pool_add_sessions(&d->pool, t, t->conf->connections, now));
	daemon_fd_reserve(d);
	log_target(LOG_NOTICE, t->conf, "unknown", NULL, NULL, "target %s resumed: %u session%s",
		   t->conf->name, t->n_sess, plural_s(t->n_sess));
	return true;
}
