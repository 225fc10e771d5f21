/* Prometheus metrics: every target's health, sessions, cycle counters by result and
 * latency histograms, in the text exposition format 0.0.4. One pass over the targets
 * per family, each line formatted once into a stack buffer and appended. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pool.h"
#include "view.h"
#include "metrics.h"
#include "proto.h"
#include "target.h"
#include "util.h"

/* The histograms' export bounds (hist_le_ns) as the le label writes them, in seconds. */
static const char *const bucket_le[] = {
	"0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
	"0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
};
_Static_assert(ELEMENTSOF(bucket_le) == HIST_LE_N, "one le per bound");

/* The labels of one target, escaped once per render. */
struct labels {
	char s[2 * (MCONN_NAME_MAX + 280) + 32];
	size_t len;
};

/* Format one line and append it; a line longer than the stack buffer is cut, which
 * no line of ours can be (the labels are bounded). */
__attribute__((format(printf, 2, 3)))
static void put(struct buf *out, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_append(out, line, MIN((size_t)n, sizeof(line) - 1));
}

static void family(struct buf *out, const char *name, const char *type, const char *help)
{
	put(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

size_t metrics_label_escape(const char *v, char *out, size_t n)
{
	size_t o = 0;

	for (; *v && o + 2 < n; v++) {
		if (*v == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (*v == '\\' || *v == '"') {
			out[o++] = '\\';
			out[o++] = *v;
		} else {
			out[o++] = *v;
		}
	}
	out[o] = '\0';
	return o;
}

static void labels_of(const struct target *t, struct labels *l)
{
	char name[2 * MCONN_NAME_MAX + 2], addr[2 * 280];

	metrics_label_escape(t->conf->name, name, sizeof(name));
	metrics_label_escape(t->conf->address_text, addr, sizeof(addr));
	l->len = (size_t)snprintf(l->s, sizeof(l->s), "target=\"%s\",address=\"%s\"", name, addr);
}

/* Append "PREFIX VALUE\n" with the number formatted by hand: most lines of a large
 * exposition are bucket and counter lines, and vsnprintf would be most of its cost. */
static void put_u64(struct buf *out, const char *prefix, size_t plen, uint64_t v)
{
	char line[1024], digits[24];
	size_t n = 0;

	if (plen > sizeof(line) - sizeof(digits) - 2)
		return;
	memcpy(line, prefix, plen);
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	line[plen] = ' ';
	for (size_t k = 0; k < n; k++)
		line[plen + 1 + k] = digits[n - 1 - k];
	line[plen + 1 + n] = '\n';
	buf_append(out, line, plen + n + 2);
}

/* Copy n bytes to p; return the end. */
static char *put_mem(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* One histogram: the exact counts under each bound, cumulatively. */
static void render_histogram(struct buf *out, const char *name, const struct labels *l,
			     const struct hist *h)
{
	size_t nlen = strlen(name);
	uint64_t cum = 0;
	char prefix[sizeof(l->s) + 128];

	for (size_t k = 0; k < HIST_LE_N; k++) {
		char *p = prefix;

		cum += h->le[k];
		p = put_mem(p, name, nlen);
		p = put_mem(p, "_bucket{", 8);
		p = put_mem(p, l->s, l->len);
		p = put_mem(p, ",le=\"", 5);
		p = put_mem(p, bucket_le[k], strlen(bucket_le[k]));
		p = put_mem(p, "\"}", 2);
		put_u64(out, prefix, (size_t)(p - prefix), cum);
	}
	put(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, l->s, (unsigned long long)h->count);
	put(out, "%s_sum{%s} %.9f\n", name, l->s, (double)h->sum / 1e9);
	put(out, "%s_count{%s} %llu\n", name, l->s, (unsigned long long)h->count);
}

static void render_health(const struct view *v, const struct labels *ls, struct buf *out)
{
	family(out, "mconn_target_up", "gauge",
	       "1 when the target is up (rise consecutive good cycles) and not paused, else 0.");
	for (size_t i = 0; i < v->pool->n_targets; i++)
		put(out, "mconn_target_up{%s} %d\n", ls[i].s,
		    v->pool->targets[i]->health == HEALTH_UP && !v->pool->targets[i]->paused);
	family(out, "mconn_target_paused", "gauge",
	       "1 while the target is paused (mconnctl pause): its sessions are stopped.");
	for (size_t i = 0; i < v->pool->n_targets; i++)
		put(out, "mconn_target_paused{%s} %d\n", ls[i].s, v->pool->targets[i]->paused);
	family(out, "mconn_target_state", "gauge", "1 for the target's current health state.");
	for (size_t i = 0; i < v->pool->n_targets; i++)
		for (int h = 0; h < _HEALTH_MAX; h++)
			put(out, "mconn_target_state{%s,state=\"%s\"} %d\n", ls[i].s,
			    health_state_name(h), v->pool->targets[i]->health == (enum health_state)h);
	family(out, "mconn_health_changes_total", "counter",
	       "Changes of the target's health state (unknown, up, down).");
	for (size_t i = 0; i < v->pool->n_targets; i++)
		put(out, "mconn_health_changes_total{%s} %llu\n", ls[i].s,
		    (unsigned long long)v->pool->targets[i]->health_changes);
}

static void render_sessions(const struct view *v, const struct labels *ls, struct buf *out)
{
	family(out, "mconn_sessions", "gauge", "Echo sessions the target runs.");
	for (size_t i = 0; i < v->pool->n_targets; i++)
		put(out, "mconn_sessions{%s} %u\n", ls[i].s, v->pool->targets[i]->n_sess);
	family(out, "mconn_sessions_active", "gauge",
	       "Sessions with a connection open or a connect in progress.");
	for (size_t i = 0; i < v->pool->n_targets; i++)
		put(out, "mconn_sessions_active{%s} %u\n", ls[i].s,
		    pool_target_active(v->pool, v->pool->targets[i]));
}

static void render_cycles(const struct view *v, const struct labels *ls, struct buf *out)
{
	family(out, "mconn_cycles_total", "counter",
	       "Finished echo cycles by result: ok or the failure class.");
	for (size_t i = 0; i < v->pool->n_targets; i++) {
		const struct target *t = v->pool->targets[i];

		put(out, "mconn_cycles_total{%s,result=\"ok\"} %llu\n", ls[i].s,
		    (unsigned long long)t->cycles_ok);
		for (int e = SERR_NONE + 1; e < _SERR_MAX; e++)
			put(out, "mconn_cycles_total{%s,result=\"%s\"} %llu\n", ls[i].s,
			    session_error_name(e), (unsigned long long)t->errors[e]);
	}
	family(out, "mconn_cycle_duration_seconds", "histogram",
	       "Time of a good cycle from connect start to the last echoed byte.");
	for (size_t i = 0; i < v->pool->n_targets; i++)
		render_histogram(out, "mconn_cycle_duration_seconds", &ls[i],
				 &v->pool->targets[i]->cycle_lat.total);
	family(out, "mconn_connect_duration_seconds", "histogram",
	       "Time to establish the connection, in good cycles that connected.");
	for (size_t i = 0; i < v->pool->n_targets; i++)
		render_histogram(out, "mconn_connect_duration_seconds", &ls[i],
				 &v->pool->targets[i]->connect_lat.total);
}

static void render_process(const struct view *v, struct buf *out)
{
	family(out, "mconn_build_info", "gauge", "Always 1; the version of mconnd in a label.");
	put(out, "mconn_build_info{version=\"%s\"} 1\n", MCONN_VERSION);
	family(out, "mconn_start_time_seconds", "gauge",
	       "When mconnd started, in seconds since the Unix epoch.");
	put(out, "mconn_start_time_seconds %.3f\n", (double)v->start_wall / 1e9);
	family(out, "mconn_config_reloads_total", "counter",
	       "Reloads of the configuration (mconnctl reload, SIGHUP) by result.");
	put(out, "mconn_config_reloads_total{result=\"ok\"} %llu\n",
	    (unsigned long long)v->reload->ok);
	put(out, "mconn_config_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)v->reload->failed);
	family(out, "mconn_config_last_reload_successful", "gauge",
	       "0 when the last reload was refused (the previous configuration runs on), else 1.");
	put(out, "mconn_config_last_reload_successful %d\n",
	    v->reload->ok + v->reload->failed == 0 || v->reload->last_ok);
}

static void render_resolve(const struct view *v, const struct labels *ls, struct buf *out)
{
	family(out, "mconn_resolve_failures_total", "counter",
	       "Failed look-ups of the target's name by resolve_every (the last address stays in use).");
	for (size_t i = 0; i < v->pool->n_targets; i++)
		put(out, "mconn_resolve_failures_total{%s} %llu\n", ls[i].s,
		    (unsigned long long)v->pool->targets[i]->resolve.failures);
}

void metrics_render(const struct view *v, int64_t now, struct buf *out)
{
	struct labels *ls = calloc(MAX(v->pool->n_targets, 1), sizeof(*ls));

	(void)now;
	if (!ls) {
		out->overflow = true;
		return;
	}
	for (size_t i = 0; i < v->pool->n_targets; i++)
		labels_of(v->pool->targets[i], &ls[i]);
	render_process(v, out);
	render_health(v, ls, out);
	render_sessions(v, ls, out);
	render_cycles(v, ls, out);
	render_resolve(v, ls, out);
	free(ls);
}

void metrics_scrape(const struct view *v, struct scrape_stats *acct, struct buf *out)
{
	int64_t start = now_ns(), took;
	size_t before = out->len;

	metrics_render(v, start, out);
	took = now_ns() - start;
	acct->renders++;
	acct->total_ns += took;
	acct->last_ns = took;
	acct->max_ns = MAX(acct->max_ns, took);
	acct->last_bytes = out->len - before;
}
