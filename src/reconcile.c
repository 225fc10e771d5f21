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
#include "target.h"

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
 * connection count, and the new timings and thresholds apply from each session's
 * next cycle. Returns 0 or -ENOMEM when sessions could not be added. */
static int target_move(struct daemon *d, struct target *t, const struct target_conf *nc,
		       unsigned diff, int64_t now)
{
	if (diff & CHG_RESTART) {
		pool_retire_sessions(&d->pool, t, 0);
		t->conf = nc;
		t->generation++;
		t->restart_changes = diff & CHG_RESTART;
		t->reset_wall = wall_ns();
		t->reset_mono = now;
		target_reset_health(t, now);
		return t->paused ? 0 : pool_add_sessions(&d->pool, t, nc->connections, now);
	}
	t->conf = nc;
	if (t->paused)
		return 0;
	if (nc->connections < t->n_sess)
		pool_retire_sessions(&d->pool, t, nc->connections);
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
	DAEMON_CHANGED(o->control_idle_timeout != n->control_idle_timeout, "control_idle_timeout");
	DAEMON_CHANGED(o->control_io_timeout != n->control_io_timeout, "control_io_timeout");
	DAEMON_CHANGED(!str_same(o->include, n->include), "include");
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
		const struct target_conf *tc = nc->targets[i];
		struct target *t = take_target(d, tc->name);
		unsigned diff;

		if (!t) {
			t = target_new(tc, now);
			if (!t)
				abort();
			log_session_shortage(t, pool_add_sessions(&d->pool, t, tc->connections, now));
			rep->added++;
			report_line(rep, "added %s: %s, %u connection%s", tc->name, tc->address_text,
				    tc->connections, plural_s(tc->connections));
			next[i] = t;
			continue;
		}
		diff = config_target_diff(t->conf, tc);
		log_session_shortage(t, target_move(d, t, tc, diff, now));
		config_target_free(t->own_conf);
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
		report_line(rep, "removed %s", t->conf->name);
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

	log_open(d->verbose ? LOG_DEBUG : c->log_level);
	d->ctl.idle_timeout = c->control_idle_timeout;
	d->ctl.io_timeout = c->control_io_timeout;
	if (ctl_set_access(&d->ctl, c->control_mode, c->control_gid, err, sizeof(err)) < 0)
		report_line(rep, "%s", err);
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

int daemon_reload(struct daemon *d, struct buf *out)
{
	struct config_errors errs = { 0 };
	struct reload_report rep = { .out = out };
	int64_t now = now_ns();
	struct config *nc;
	char line[600];

	notify_reloading(now);
	if (config_load(d->config_path, true, &nc, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++) {
			config_error_format(&errs.v[i], line, sizeof(line));
			log_msg(LOG_ERR, "reload: %s", line);
			if (out)
				buf_printf(out, "%s\n", line);
		}
		if (errs.dropped) {
			log_msg(LOG_ERR, "reload: %zu more errors not shown", errs.dropped);
			if (out)
				buf_printf(out, "%zu more errors not shown\n", errs.dropped);
		}
		snprintf(line, sizeof(line), "failed: %s",
			 errs.n ? config_error_format(&errs.v[0], line + 300, 300) : "?");
		log_msg(LOG_ERR, "reload failed (%zu error%s); the running configuration is unchanged",
			errs.n + errs.dropped, plural_s(errs.n + errs.dropped));
		config_errors_clear(&errs);
		reload_record(d, false, line, now);
		return -EINVAL;
	}
	reconcile(d, nc, &rep, now);
	reload_daemon_settings(d, &rep);
	snprintf(line, sizeof(line), "reloaded: %u added, %u removed, %u changed, %u unchanged",
		 rep.added, rep.removed, rep.changed, rep.unchanged);
	log_msg(LOG_NOTICE, "%s", line);
	if (out)
		buf_printf(out, "%s\n", line);
	reload_record(d, true, line, now);
	return 0;
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
		config_target_free(nc);
		return -ERANGE;
	}
	diff = config_target_diff(t->conf, nc);
	log_session_shortage(t, target_move(d, t, nc, diff, now_ns()));
	config_target_free(t->own_conf);
	t->own_conf = nc;
	t->runtime_set |= diff;
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
	log_target(LOG_NOTICE, t->conf, "unknown", NULL, NULL, "target %s resumed: %u session%s",
		   t->conf->name, t->n_sess, plural_s(t->n_sess));
	return true;
}
