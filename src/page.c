/* The HTML status page. Every name, address and message goes through page_escape(),
 * every attribute is quoted with ", and there is nothing a browser would fetch: the
 * styles are inline, the charts are SVG paths drawn here from each target's history.
 * A row is one line of HTML, so a person (or a test) can grep for a target. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "histogram.h"
#include "history.h"
#include "page.h"
#include "pool.h"
#include "proto.h"
#include "render.h"
#include "target.h"
#include "util.h"
#include "view.h"

/* The chart: one 4-pixel column per sample, latency above, failures below. */
#define CHART_COL 4
#define CHART_W (HISTORY_SLOTS * CHART_COL)
#define CHART_LAT_TOP 10
#define CHART_LAT_BOTTOM 40
#define CHART_FAIL_TOP 44
#define CHART_FAIL_BOTTOM 58
#define CHART_H 60

static const char page_style[] =
	"body{font-family:sans-serif;margin:1em;color:#111;background:#fff}"
	"h1{font-size:1.3em;margin:0 0 .3em}p{margin:.3em 0}"
	"table{border-collapse:collapse;margin-top:.6em}"
	"th,td{border-bottom:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:middle}"
	"th{background:#eee}td.num{text-align:right;font-variant-numeric:tabular-nums}"
	"td.state{font-weight:bold}small{font-weight:normal;color:#333}"
	".s-up{background:#b9e4bb}.s-degraded{background:#ffd591}.s-down{background:#f4a3a3}"
	".s-unknown{background:#e4e4e4}.s-paused{background:#c9d3e0}"
	".warn{background:#fff3cd;padding:.3em}.meta{font-size:.9em;color:#333;max-width:60em}"
	".fail{max-width:18em}.name,.addr{white-space:nowrap}svg{display:block}";

/* Append s with the characters HTML gives a meaning escaped. */
static void page_escape(struct buf *out, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		buf_append(out, run, (size_t)(s - run));
		buf_append(out, rep, strlen(rep));
		run = s + 1;
	}
	buf_append(out, run, (size_t)(s - run));
}

static const char *page_state(const struct target *t)
{
	return t->paused ? "paused" : health_state_name(t->health);
}

/* A rate with as many decimals as it needs to say something. */
static char *page_rate(double r, char *out, size_t n)
{
	snprintf(out, n, r >= 100 ? "%.0f" : r >= 10 ? "%.1f" : "%.2f", r);
	return out;
}

/* The targets by state, paused ones apart. */
struct page_counts {
	size_t n[_HEALTH_MAX];
	size_t paused;
};

static void page_count(const struct view *v, struct page_counts *ret)
{
	*ret = (struct page_counts){ 0 };
	for (size_t i = 0; i < v->pool->n_targets; i++) {
		const struct target *t = v->pool->targets[i];

		if (t->paused)
			ret->paused++;
		else
			ret->n[t->health]++;
	}
}

/* The first line: the targets by state, the sessions, the daemon. */
static void page_summary(const struct view *v, const struct page_cursor *cur,
			 const struct page_counts *c, struct buf *out)
{
	const size_t *n = c->n;
	char up[32];

	buf_printf(out, "<p class=\"summary\">%zu target%s: %zu up, %zu degraded, %zu down, "
		   "%zu unknown, %zu paused; %u session%s. mconnd %s, up %s, configuration ",
		   v->pool->n_targets, plural_s(v->pool->n_targets), n[HEALTH_UP],
		   n[HEALTH_DEGRADED], n[HEALTH_DOWN], n[HEALTH_UNKNOWN], c->paused, v->pool->n_sess,
		   plural_s(v->pool->n_sess), MCONN_VERSION,
		   format_duration(cur->now - v->start_mono, up, sizeof(up)));
	page_escape(out, v->config_path);
	buf_printf(out, ".</p>\n");
}

/* Lines a person should not miss: a refused reload, sessions mconnd cannot run. */
static void page_warnings(const struct view *v, struct buf *out)
{
	uint32_t starved = pool_starved(v->pool);
	char why[64];

	if (v->reload->ok + v->reload->failed && !v->reload->last_ok) {
		buf_printf(out, "<p class=\"warn\">The last reload was refused; the previous configuration runs on: ");
		page_escape(out, v->reload->last_msg);
		buf_printf(out, "</p>\n");
	}
	if (starved)
		buf_printf(out, "<p class=\"warn\">mconnd cannot run %u of %u sessions: %s.</p>\n", starved,
			   v->pool->n_sess,
			   proto_resource_text(proto_resource_kind(v->pool->resource_errno), -1, why,
					       sizeof(why)));
}

static void page_head(const struct view *v, const struct page_cursor *cur, struct buf *out)
{
	char host[256] = "?", when[64] = "?";
	time_t secs = (time_t)(cur->wall / NSEC_PER_SEC);
	struct page_counts c;
	struct tm tm;

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	if (gmtime_r(&secs, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	page_count(v, &c);
	buf_printf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		   "<meta http-equiv=\"refresh\" content=\"%d\">\n"
		   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		   "<title>mconnd on ", PAGE_REFRESH_S);
	page_escape(out, host);
	buf_printf(out, ": %zu up, %zu degraded, %zu down</title>\n<style>%s</style>\n</head><body>\n"
		   "<h1>mconnd on ", c.n[HEALTH_UP], c.n[HEALTH_DEGRADED], c.n[HEALTH_DOWN], page_style);
	page_escape(out, host);
	buf_printf(out, "</h1>\n");
	page_summary(v, cur, &c, out);
	page_warnings(v, out);
	buf_printf(out, "<p class=\"meta\">Generated %s; this page refreshes itself every %d s.</p>\n",
		   when, PAGE_REFRESH_S);
	if (v->pool->n_targets == 0) {
		buf_printf(out, "<p>No target is configured.</p>\n");
		return;
	}
	buf_printf(out, "<table>\n<thead><tr><th>Target</th><th>Address</th><th>State</th>"
		   "<th>Sessions</th><th>Cycles/s</th><th>Failures/s</th><th>Failures by class</th>"
		   "<th>p50</th><th>p99</th><th>Last 10 minutes</th></tr></thead>\n<tbody>\n");
}

static void page_tail(const struct view *v, struct buf *out)
{
	if (v->pool->n_targets)
		buf_printf(out, "</tbody></table>\n");
	buf_printf(out, "<p class=\"meta\">Cycles/s, failures/s, p50 and p99 are over the last "
		   "minute; failures/s leaves out the cycles that failed for want of mconnd's own "
		   "resources, which failures by class (since the target started) counts as "
		   "resource. The chart shows the last 10 minutes in 10-second steps, the newest "
		   "on the right: the solid line is the p50 latency of good cycles, the dotted "
		   "line the p99 (the figure at the top left is the top of the scale: a value above "
		   "it, one step in ten at most, is drawn at the top edge), and the "
		   "bars below them the share of cycles that failed (full height: all of them).</p>\n");
	buf_printf(out, "<p class=\"meta\">For Prometheus: <a href=\"/metrics\">/metrics</a>; "
		   "for programs: mconnctl -j status.</p>\n</body></html>\n");
}

/* The state cell: colour by class, the state in words, for how long, flapping. */
static void page_state_cell(const struct target *t, int64_t now, struct buf *out)
{
	char since[32];

	buf_printf(out, "<td class=\"state s-%s\">%s", page_state(t), page_state(t));
	if (!t->paused)
		buf_printf(out, "<small> for %s</small>",
			   format_duration(now - t->health_since, since, sizeof(since)));
	if (t->flapping)
		buf_printf(out, "<small>, flapping</small>");
	buf_printf(out, "</td>");
}

/* Sessions, with the down and starved ones when there are any. */
static void page_sessions_cell(const struct target *t, struct buf *out)
{
	buf_printf(out, "<td class=\"sess num\">%u", t->n_sess);
	if (t->sess_verdict[HEALTH_DOWN])
		buf_printf(out, "<small> (%u down)</small>", t->sess_verdict[HEALTH_DOWN]);
	if (t->sess_starved)
		buf_printf(out, "<small> (%u starved)</small>", t->sess_starved);
	buf_printf(out, "</td>");
}

/* Cycles and failures per second over the window's minute (less for a young
 * target); failed cycles of mconnd's own shortage are not the target's. */
static void page_rate_cells(const struct target *t, uint64_t ok, int64_t now, struct buf *out)
{
	int64_t from = MAX((now / HIST_SLOT_NS - (HIST_WINDOW_SLOTS - 1)) * HIST_SLOT_NS,
			   t->history.start);
	uint64_t failed = count_window_sum(&t->fail_win, now);
	/* A target younger than a second: its cycles over one second, not a burst rate. */
	double secs = (double)MAX(now - from, NSEC_PER_SEC) / 1e9;
	char a[32], b[32];

	buf_printf(out, "<td class=\"rate num\">%s</td><td class=\"frate num\">%s</td>",
		   page_rate((double)(ok + failed) / secs, a, sizeof(a)),
		   page_rate((double)failed / secs, b, sizeof(b)));
}

/* Failures since start by class, and the last one. */
static void page_failures_cell(const struct target *t, int64_t now, struct buf *out)
{
	const char *sep = "";
	char ago[32];

	buf_printf(out, "<td class=\"fail\">");
	if (t->cycles_failed == 0) {
		buf_printf(out, "none</td>");
		return;
	}
	for (int e = SERR_NONE + 1; e < _SERR_MAX; e++) {
		if (!t->errors[e])
			continue;
		buf_printf(out, "%s%s %llu", sep, session_error_name(e), (unsigned long long)t->errors[e]);
		sep = ", ";
	}
	buf_printf(out, "<br><small>last: %s, %s ago</small></td>", session_error_name(t->last_error),
		   format_duration(now - t->last_error_at, ago, sizeof(ago)));
}

/* Append the step of one sample across its column (x to x + CHART_COL), joined to
 * the step before it; a missing sample breaks the line, and a lone one still shows. */
static void page_point(struct buf *out, bool *pen, int x, uint32_t us, uint32_t top_us)
{
	int y;

	if (!us) {
		*pen = false;
		return;
	}
	y = CHART_LAT_BOTTOM -
	    (int)((uint64_t)MIN(us, top_us) * (CHART_LAT_BOTTOM - CHART_LAT_TOP) / top_us);
	buf_printf(out, "%s%d %dH%d", *pen ? " L" : " M", x, y, x + CHART_COL);
	*pen = true;
}

/* One latency line over the samples of the slots first .. first + HISTORY_SLOTS - 1. */
static void page_line(const struct target *t, int64_t first, bool p99, uint32_t top_us,
		      struct buf *out)
{
	bool pen = false;

	buf_printf(out, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s d=\"", p99 ? "#555" : "#1565c0",
		   p99 ? " stroke-dasharray=\"2 2\"" : "");
	for (int i = 0; i < HISTORY_SLOTS; i++) {
		const struct history_sample *s = history_at(&t->history, first + i);

		page_point(out, &pen, i * CHART_COL, s ? (p99 ? s->p99_us : s->p50_us) : 0,
			   top_us);
	}
	buf_printf(out, "\"/>");
}

/* The failure share of each sample as a bar, in one path. */
static void page_fail_bars(const struct target *t, int64_t first, struct buf *out)
{
	int span = CHART_FAIL_BOTTOM - CHART_FAIL_TOP;

	buf_printf(out, "<path fill=\"#b71c1c\" d=\"");
	for (int i = 0; i < HISTORY_SLOTS; i++) {
		const struct history_sample *s = history_at(&t->history, first + i);
		uint64_t all = s ? (uint64_t)s->ok + s->failed : 0;
		int h;

		if (!all || !s->failed)
			continue;
		h = (int)MAX((uint64_t)s->failed * (uint64_t)span / all, 1);
		buf_printf(out, "M%d %dv%dh%dv%dz", i * CHART_COL, CHART_FAIL_BOTTOM, -h, CHART_COL - 1, h);
	}
	buf_printf(out, "\"/>");
}

/* What a chart shows, found before it is drawn: its samples, the top of the latency
 * scale, the largest share of failed cycles in a sample. */
struct page_scale {
	int samples;
	uint32_t top_us;
	uint32_t worst_pct;
};

/* The top of the scale: the largest p50, or the p99 that nine in ten samples with one
 * stay under if higher, so that one slow step does not flatten the other 59 (it is
 * drawn at the top edge). */
static uint32_t page_scale_top(uint32_t *p99, int n, uint32_t p50_max)
{
	int k;

	if (n == 0)
		return p50_max;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && p99[j - 1] > p99[j]; j--) {
			uint32_t x = p99[j];

			p99[j] = p99[j - 1];
			p99[j - 1] = x;
		}
	k = (n * 9 + 9) / 10 - 1;
	return MAX(p99[k], p50_max);
}

static void page_scale_of(const struct target *t, int64_t first, struct page_scale *ret)
{
	uint32_t p99[HISTORY_SLOTS], p50_max = 0;
	int n = 0;

	*ret = (struct page_scale){ 0 };
	for (int i = 0; i < HISTORY_SLOTS; i++) {
		const struct history_sample *s = history_at(&t->history, first + i);
		uint64_t all = s ? (uint64_t)s->ok + s->failed : 0;

		if (!s)
			continue;
		ret->samples++;
		if (s->p99_us)
			p99[n++] = s->p99_us;
		p50_max = MAX(p50_max, s->p50_us);
		if (all)
			ret->worst_pct = MAX(ret->worst_pct, (uint32_t)((uint64_t)s->failed * 100 / all));
	}
	ret->top_us = page_scale_top(p99, n, p50_max);
}

/* The chart of the last ten minutes as inline SVG, its title first saying it in words. */
static void page_chart(const struct target *t, int64_t now, struct buf *out)
{
	int64_t first = now / HIST_SLOT_NS - HISTORY_SLOTS;
	struct page_scale sc;
	char top[32];

	page_scale_of(t, first, &sc);
	format_duration((int64_t)sc.top_us * NSEC_PER_USEC, top, sizeof(top));
	buf_printf(out, "<td class=\"chart\"><svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		   "role=\"img\"><title>%d sample%s of 10 s; latency scale up to %s (higher at the top edge); at most %u%% of "
		   "a sample's cycles failed</title><rect width=\"%d\" height=\"%d\" fill=\"#fafafa\" "
		   "stroke=\"#ccc\"/><path stroke=\"#ccc\" d=\"M0 %d H%d\"/>", CHART_W, CHART_H,
		   CHART_W, CHART_H, sc.samples, plural_s((unsigned)sc.samples), sc.top_us ? top : "-",
		   sc.worst_pct, CHART_W, CHART_H, CHART_FAIL_TOP - 2, CHART_W);
	if (sc.top_us) {
		page_line(t, first, true, sc.top_us, out);
		page_line(t, first, false, sc.top_us, out);
		buf_printf(out, "<text x=\"2\" y=\"9\" font-size=\"9\" fill=\"#333\">%s</text>", top);
	}
	page_fail_bars(t, first, out);
	if (!sc.samples)
		buf_printf(out, "<text x=\"2\" y=\"30\" font-size=\"10\" fill=\"#333\">no sample yet (one every 10 s)</text>");
	buf_printf(out, "</svg></td>");
}

static void page_row(const struct target *t, int64_t now, struct buf *out)
{
	struct latency_summary ls;
	char p50[32], p99[32];

	latency_summarize(&t->cycle_lat, 1, now, &ls);
	buf_printf(out, "<tr class=\"target\" id=\"t-");
	page_escape(out, t->conf->name);
	buf_printf(out, "\"><td class=\"name\">");
	page_escape(out, t->conf->name);
	buf_printf(out, "</td><td class=\"addr\">");
	page_escape(out, t->conf->address_text);
	buf_printf(out, "</td>");
	page_state_cell(t, now, out);
	page_sessions_cell(t, out);
	page_rate_cells(t, ls.count, now, out);
	page_failures_cell(t, now, out);
	buf_printf(out, "<td class=\"p50 num\">%s</td><td class=\"p99 num\">%s</td>",
		   format_duration(ls.p50, p50, sizeof(p50)), format_duration(ls.p99, p99, sizeof(p99)));
	page_chart(t, now, out);
	buf_printf(out, "</tr>\n");
}

void page_begin(struct page_cursor *cur, int64_t now, int64_t wall)
{
	*cur = (struct page_cursor){ .now = now, .wall = wall };
}

bool page_render_slice(const struct view *v, struct page_cursor *cur, struct buf *out, size_t max)
{
	size_t start = out->len;
	const struct target *t;

	if (!cur->started) {
		cur->started = true;
		page_head(v, cur, out);
	}
	while (out->len - start < max && !out->overflow) {
		t = render_next_target(v, &cur->pos);
		if (!t) {
			page_tail(v, out);
			return true;
		}
		page_row(t, cur->now, out);
	}
	return out->overflow;
}

void page_render(const struct view *v, int64_t now, int64_t wall, struct buf *out)
{
	struct page_cursor cur;

	page_begin(&cur, now, wall);
	while (!page_render_slice(v, &cur, out, SIZE_MAX))
		;
}
