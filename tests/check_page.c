/* Unit tests for the status page (page.c) and the history its charts draw (history.c):
 * a daemon with three targets on a loopback port that refuses is started in-process
 * (ctlharness.c), its sessions held so nothing changes under the test, and states,
 * counters and samples set on the targets directly. The page must escape a hostile
 * name (config.c would refuse one; the page must not rely on that), show every state
 * in colour and in words, render an empty configuration, come out the same in slices
 * as whole, and draw what the history holds. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "histogram.h"
#include "http.h"
#include "history.h"
#include "page.h"
#include "pool.h"
#include "proto.h"
#include "target.h"
#include "timer.h"
#include "util.h"
#include "view.h"
#include "check_main.h"
#include "ctlharness.h"

#define SEC NSEC_PER_SEC
#define US NSEC_PER_USEC
/* A wall-clock moment the tests print: 2026-01-02 03:04:05 UTC. */
#define WALL (1767323045LL * SEC)

static struct daemon *d;
static struct buf out;

static void daemon_setup(void)
{
	char text[1024];
	int64_t later = now_ns() + 3600 * SEC;

	snprintf(text, sizeof(text),
		 "[daemon]\ncontrol_socket = %s\n"
		 "[target \"a\"]\naddress = 127.0.0.1:%u\nconnections = 2\ninterval = 1h\n"
		 "[target \"b\"]\naddress = 127.0.0.1:%u\nconnections = 3\ninterval = 1h\n"
		 "[target \"c\"]\naddress = 127.0.0.1:%u\nconnections = 1\ninterval = 1h\n",
		 harness.sock_path, harness.port, harness.port, harness.port);
	d = harness_daemon_start(text, harness.conf_path);
	for (size_t i = 0; i < d->pool.n_targets; i++)
		for (uint32_t k = 0; k < d->pool.targets[i]->n_sess; k++)
			timer_set(&d->loop.timers, d->pool.targets[i]->sess[k], later);
	buf_init(&out, CTL_MAX_REPLY);
}

static void daemon_teardown(void)
{
	harness_clients_close_all();
	harness_daemon_free(d);
	d = NULL;
	buf_free(&out);
}

static const char *render_at(int64_t now)
{
	struct view v;

	out.len = 0;
	daemon_view(d, &v);
	page_render(&v, now, WALL, &out);
	ck_assert(!out.overflow);
	buf_append(&out, "", 1);
	return out.data;
}

static const char *render(void)
{
	return render_at(now_ns());
}

/* The line of the page that is target name's row. */
static const char *row_of(const char *page, const char *id, char *line, size_t n)
{
	char key[128];
	const char *p;
	size_t len;

	snprintf(key, sizeof(key), "<tr class=\"target\" id=\"t-%s\">", id);
	p = strstr(page, key);
	ck_assert_msg(p, "no row %s", key);
	len = strcspn(p, "\n");
	ck_assert_uint_lt(len, n);
	memcpy(line, p, len);
	line[len] = '\0';
	return line;
}

/* A name made of everything HTML gives a meaning comes out as text, never markup. */
START_TEST(test_escape_hostile_name)
{
	struct target *a = d->pool.targets[0];
	const char *page;

	snprintf(a->conf->name, sizeof(a->conf->name), "<script>alert(\"x&y\")</script>'");
	snprintf(a->conf->address_text, sizeof(a->conf->address_text), "<b>host</b>:80");
	page = render();
	ck_assert_msg(!strstr(page, "<script"), "a name became markup");
	ck_assert(!strstr(page, "<b>host"));
	ck_assert(strstr(page, "<td class=\"name\">&lt;script&gt;alert(&quot;x&amp;y&quot;)"
			       "&lt;/script&gt;&#39;</td>"));
	ck_assert(strstr(page, "id=\"t-&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;\""));
	ck_assert(strstr(page, "<td class=\"addr\">&lt;b&gt;host&lt;/b&gt;:80</td>"));
}
END_TEST

/* Every state has its colour class and its word, and the summary counts them. */
START_TEST(test_states)
{
	static const struct {
		enum health_state h;
		bool paused;
		const char *word;
	} cases[] = {
		{ HEALTH_UP, false, "up" },	      { HEALTH_DOWN, false, "down" },
		{ HEALTH_DEGRADED, false, "degraded" }, { HEALTH_UNKNOWN, false, "unknown" },
		{ HEALTH_UP, true, "paused" },
	};
	char line[8192], cell[64];

	for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
		struct target *a = d->pool.targets[0];

		a->health = cases[k].h;
		a->paused = cases[k].paused;
		row_of(render(), "a", line, sizeof(line));
		snprintf(cell, sizeof(cell), "<td class=\"state s-%s\">%s<", cases[k].word, cases[k].word);
		ck_assert_msg(strstr(line, cell), "%s: no '%s' in %s", cases[k].word, cell, line);
	}
	d->pool.targets[0]->health = HEALTH_DOWN;
	d->pool.targets[0]->paused = false;
	d->pool.targets[1]->health = HEALTH_DEGRADED;
	d->pool.targets[1]->flapping = true;
	d->pool.targets[2]->paused = true;
	ck_assert(strstr(render(), "3 targets: 0 up, 1 degraded, 1 down, 0 unknown, 1 paused; 6 sessions."));
	ck_assert(strstr(out.data, ": 0 up, 1 degraded, 1 down</title>"));
	ck_assert(strstr(row_of(out.data, "b", line, sizeof(line)), "<small>, flapping</small>"));
}
END_TEST

/* The row's figures: sessions with those down, failures by class and the last one,
 * p50 and p99 as status writes them. */
START_TEST(test_row_figures)
{
	struct target *b = d->pool.targets[1];
	int64_t now = now_ns();
	struct latency_summary ls;
	char line[8192], p50[64];

	b->sess_verdict[HEALTH_DOWN] = 2;
	b->cycles_failed = 7;
	b->errors[SERR_REFUSED] = 5;
	b->errors[SERR_TIMEOUT] = 2;
	b->last_error = SERR_TIMEOUT;
	b->last_error_at = now - 2 * SEC;
	for (int i = 0; i < 100; i++)
		latency_record(&b->cycle_lat, 300 * US, now);
	latency_summarize(&b->cycle_lat, 1, now, &ls);
	snprintf(p50, sizeof(p50), "<td class=\"p50 num\">%lldus</td>", (long long)(ls.p50 / US));
	row_of(render_at(now), "b", line, sizeof(line));
	ck_assert(strstr(line, "<td class=\"sess num\">3<small> (2 down)</small></td>"));
	ck_assert(strstr(line, "<td class=\"fail\">refused 5, timeout 2<br><small>last: timeout, 2.00s ago</small></td>"));
	ck_assert_msg(strstr(line, p50), "no %s in %s", p50, line);
	ck_assert_int_ge(ls.p50, 295 * US);
	/* 100 cycles in the target's first second: counted over a second, not less. */
	ck_assert(strstr(line, "<td class=\"rate num\">100</td><td class=\"frate num\">0.00</td>"));
	ck_assert(strstr(row_of(out.data, "a", line, sizeof(line)), "<td class=\"fail\">none</td>"));
	ck_assert(strstr(line, "<td class=\"p50 num\">-</td>"));
}
END_TEST

/* No target: still a whole page that says so, with no empty table. */
START_TEST(test_empty_config)
{
	struct pool p = { 0 };
	struct reload_stats r = { 0 };
	struct view v = { .pool = &p, .reload = &r, .config_path = "/etc/mconnd/mconnd.conf" };

	out.len = 0;
	page_render(&v, 5 * SEC, WALL, &out);
	buf_append(&out, "", 1);
	ck_assert(strncmp(out.data, "<!DOCTYPE html>\n", 16) == 0);
	ck_assert(strstr(out.data, "0 targets: 0 up, 0 degraded, 0 down, 0 unknown, 0 paused; 0 sessions."));
	ck_assert(strstr(out.data, "<p>No target is configured.</p>"));
	ck_assert(!strstr(out.data, "<table"));
	ck_assert(strstr(out.data, "Generated 2026-01-02 03:04:05 UTC; this page refreshes itself every 10 s."));
	ck_assert(strstr(out.data, "<meta http-equiv=\"refresh\" content=\"10\">"));
	ck_assert_str_eq(out.data + strlen(out.data) - 15, "</body></html>\n");
}
END_TEST

/* Small slices add up to the whole page and end at row boundaries. */
START_TEST(test_slices)
{
	static struct buf whole, sliced;
	struct page_cursor cur;
	int64_t now = now_ns();
	struct view v;
	int slices = 0;

	daemon_view(d, &v);
	buf_init(&whole, CTL_MAX_REPLY);
	buf_init(&sliced, CTL_MAX_REPLY);
	page_render(&v, now, WALL, &whole);
	page_begin(&cur, now, WALL);
	for (;;) {
		bool done = page_render_slice(&v, &cur, &sliced, 100);

		slices++;
		ck_assert(sliced.len > 0 && sliced.data[sliced.len - 1] == '\n');
		if (done)
			break;
		ck_assert_int_lt(slices, 10);
	}
	ck_assert_int_eq(slices, 5);
	ck_assert_uint_eq(sliced.len, whole.len);
	ck_assert(memcmp(sliced.data, whole.data, whole.len) == 0);
	buf_free(&whole);
	buf_free(&sliced);
}
END_TEST

/* At the end of each slot the history takes the slot's good and failed cycles and
 * percentiles from the windows; a slot without cycles has no latency. */
START_TEST(test_history_samples)
{
	static struct latency lat;
	struct count_window fails = { 0 };
	struct history h;
	int64_t t0 = 1000 * HIST_SLOT_NS;
	const struct history_sample *s;

	memset(&lat, 0, sizeof(lat));
	history_init(&h, t0 + 3 * SEC);
	for (int i = 0; i < 98; i++)
		latency_record(&lat, 100 * US, t0 + 4 * SEC);
	latency_record(&lat, 900 * US, t0 + 4 * SEC);
	latency_record(&lat, 900 * US, t0 + 4 * SEC);
	count_window_add(&fails, t0 + 5 * SEC);
	history_tick(&h, &lat, &fails, t0 + 9 * SEC);
	ck_assert_ptr_null(history_at(&h, 1000));
	history_tick(&h, &lat, &fails, t0 + HIST_SLOT_NS + SEC);
	s = history_at(&h, 1000);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->ok, 100);
	ck_assert_uint_eq(s->failed, 1);
	ck_assert_uint_ge(s->p50_us, 99);
	ck_assert_uint_le(s->p50_us, 101);
	ck_assert_uint_ge(s->p99_us, 890);
	ck_assert_uint_le(s->p99_us, 900);
	ck_assert_ptr_null(history_at(&h, 999));
	ck_assert_ptr_null(history_at(&h, 1001));
	history_tick(&h, &lat, &fails, t0 + 2 * HIST_SLOT_NS + SEC);
	s = history_at(&h, 1001);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->ok + s->failed + s->p50_us + s->p99_us, 0);
}
END_TEST

/* The ring keeps HISTORY_SLOTS samples; a long stall leaves empty samples, not stale
 * ones. */
START_TEST(test_history_ring)
{
	static struct latency lat;
	struct count_window fails = { 0 };
	struct history h;
	int64_t t0 = 5000 * HIST_SLOT_NS;

	memset(&lat, 0, sizeof(lat));
	history_init(&h, t0);
	for (int k = 0; k < 100; k++) {
		latency_record(&lat, (k + 1) * US, t0 + k * HIST_SLOT_NS);
		history_tick(&h, &lat, &fails, t0 + (k + 1) * HIST_SLOT_NS);
	}
	ck_assert_ptr_null(history_at(&h, 5000 + 39));
	ck_assert_uint_eq(history_at(&h, 5000 + 40)->p50_us, 41);
	ck_assert_uint_ge(history_at(&h, 5000 + 99)->p50_us, 98);
	ck_assert_uint_le(history_at(&h, 5000 + 99)->p50_us, 100);
	/* Nothing recorded for 30 minutes, then one tick. */
	history_tick(&h, &lat, &fails, t0 + 280 * HIST_SLOT_NS);
	for (int64_t s = 5000 + 280 - HISTORY_SLOTS; s < 5000 + 280; s++)
		ck_assert_msg(history_at(&h, s) && history_at(&h, s)->ok == 0, "slot %lld", (long long)s);
}
END_TEST

/* The chart draws the samples: a p50 line, a p99 line, a failure bar, its scale, and
 * a title that says it in words; without samples it says there are none yet. */
START_TEST(test_chart)
{
	struct target *a = d->pool.targets[0];
	int64_t now = now_ns(), cur = now / HIST_SLOT_NS;
	char line[16384];

	row_of(render_at(now), "a", line, sizeof(line));
	ck_assert(strstr(line, "no sample yet"));
	a->history.first = cur - 3;
	a->history.next = cur;
	a->history.s[(cur - 3) % HISTORY_SLOTS] = (struct history_sample){ 10, 0, 200, 400 };
	a->history.s[(cur - 2) % HISTORY_SLOTS] = (struct history_sample){ 5, 5, 300, 2000 };
	a->history.s[(cur - 1) % HISTORY_SLOTS] = (struct history_sample){ 0, 4, 0, 0 };
	row_of(render_at(now), "a", line, sizeof(line));
	ck_assert(!strstr(line, "no sample yet"));
	/* Slot cur - k is column HISTORY_SLOTS - k, 4 px wide; a step across it. */
	ck_assert_msg(strstr(line, "stroke-dasharray=\"2 2\" d=\" M228 34H232 L232 10H236\""), "%s", line);
	ck_assert(strstr(line, "d=\" M228 37H232 L232 36H236\""));
	ck_assert(strstr(line, "M232 58v-7h3v7z"));
	ck_assert(strstr(line, "M236 58v-14h3v14z"));
	ck_assert(strstr(line, ">2.00ms</text>"));
	ck_assert(strstr(line, "<title>3 samples of 10 s; latency scale up to 2.00ms (higher at the top edge); at most 100% of a sample's cycles failed</title>"));
}
END_TEST

/* One slow step in twenty does not set the scale: it is drawn at the top edge, and
 * the others keep their height. */
START_TEST(test_chart_outlier)
{
	struct target *a = d->pool.targets[0];
	int64_t now = now_ns(), cur = now / HIST_SLOT_NS;
	char line[16384];

	a->history.first = cur - 20;
	a->history.next = cur;
	for (int k = 1; k <= 20; k++)
		a->history.s[(cur - k) % HISTORY_SLOTS] = (struct history_sample){ 10, 0, 500, 1000 };
	a->history.s[(cur - 1) % HISTORY_SLOTS].p99_us = 100000;
	row_of(render_at(now), "a", line, sizeof(line));
	ck_assert_msg(strstr(line, "latency scale up to 1.00ms"), "%s", line);
	/* The last two points of the p99 line: at the top (y 10), the outlier too. */
	ck_assert(strstr(line, " L232 10H236 L236 10H240\"/>"));
	/* p50 at half the scale: y 40 - 15. */
	ck_assert(strstr(line, " L232 25H236 L236 25H240\"/>"));
}
END_TEST

/* 1,000 targets with full histories, failures and latencies, as a page after ten
 * minutes: served in HTTP_SLICE_BYTES slices, each at most one row past that size,
 * and a slice costs a small part of the whole page (the median, so that a slice the
 * loaded machine preempted does not decide). Prints what it measured. */
#define BIG_TARGETS 1000
#define BIG_ROW_MAX 8192
#define BIG_MAX_SLICES 1024

static void big_setup(void)
{
	size_t cap = 128 + (size_t)BIG_TARGETS * 96, n;
	char *text = malloc(cap);
	int64_t later = now_ns() + 3600 * SEC;

	ck_assert_ptr_nonnull(text);
	n = (size_t)snprintf(text, cap, "[daemon]\ncontrol_socket = %s\n", harness.sock_path);
	for (int i = 0; i < BIG_TARGETS; i++)
		n += (size_t)snprintf(text + n, cap - n,
				      "[target \"t%d\"]\naddress = 127.0.0.1:%u\ninterval = 1h\n", i,
				      harness.port);
	d = harness_daemon_start(text, harness.conf_path);
	free(text);
	for (size_t i = 0; i < d->pool.n_targets; i++)
		timer_set(&d->loop.timers, d->pool.targets[i]->sess[0], later);
	buf_init(&out, CTL_MAX_REPLY);
}

/* Every sample, every class and a minute of latencies on every target. */
static void big_fill(int64_t now)
{
	int64_t cur = now / HIST_SLOT_NS;

	for (size_t i = 0; i < d->pool.n_targets; i++) {
		struct target *t = d->pool.targets[i];

		t->history.first = cur - HISTORY_SLOTS;
		t->history.next = cur;
		for (int k = 0; k < HISTORY_SLOTS; k++)
			t->history.s[k] = (struct history_sample){ 100, (uint32_t)(k % 4), 150 + (uint32_t)k,
								  900 + 10 * (uint32_t)k };
		for (int e = SERR_NONE + 1; e < _SERR_MAX; e++)
			t->errors[e] = 1000 + (uint64_t)e;
		t->cycles_failed = 1;
		for (int k = 0; k < 60; k++)
			latency_record(&t->cycle_lat, (100 + k * 7) * US, now - k * SEC);
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

START_TEST(test_thousand_targets)
{
	static int64_t took[BIG_MAX_SLICES];
	struct page_cursor cur;
	int64_t now = now_ns(), t0, whole;
	size_t slices = 0, bytes, slice_bytes = 0;
	struct view v;

	big_fill(now);
	daemon_view(d, &v);
	t0 = now_ns();
	page_render(&v, now, WALL, &out);
	whole = now_ns() - t0;
	bytes = out.len;
	ck_assert(!out.overflow);
	page_begin(&cur, now, WALL);
	for (bool done = false; !done; slices++) {
		ck_assert_uint_lt(slices, BIG_MAX_SLICES);
		out.len = 0;
		t0 = now_ns();
		done = page_render_slice(&v, &cur, &out, HTTP_SLICE_BYTES);
		took[slices] = now_ns() - t0;
		slice_bytes += out.len;
		ck_assert_uint_lt(out.len, HTTP_SLICE_BYTES + BIG_ROW_MAX);
	}
	ck_assert_uint_eq(slice_bytes, bytes);
	qsort(took, slices, sizeof(took[0]), cmp_i64);
	printf("page of %d targets with full histories: %zu bytes, whole render %.1f ms; "
	       "%zu slices of %zu KiB: median %.2f ms, longest %.2f ms\n", BIG_TARGETS, bytes,
	       (double)whole / 1e6, slices, HTTP_SLICE_BYTES / 1024, (double)took[slices / 2] / 1e6,
	       (double)took[slices - 1] / 1e6);
	fflush(stdout);
	ck_assert_uint_gt(bytes, (size_t)BIG_TARGETS * 1500);
	ck_assert_uint_gt(slices, 50);
	ck_assert_int_lt(took[slices / 2], whole / 10);
}
END_TEST

static Suite *page_suite(void)
{
	Suite *s = suite_create("page");
	TCase *tc = tcase_create("render");
	TCase *th = tcase_create("history");
	TCase *tb = tcase_create("thousand");

	tcase_add_unchecked_fixture(tc, harness_scratch_setup, harness_scratch_teardown);
	tcase_add_checked_fixture(tc, daemon_setup, daemon_teardown);
	tcase_add_test(tc, test_escape_hostile_name);
	tcase_add_test(tc, test_states);
	tcase_add_test(tc, test_row_figures);
	tcase_add_test(tc, test_empty_config);
	tcase_add_test(tc, test_slices);
	tcase_add_test(tc, test_chart);
	tcase_add_test(tc, test_chart_outlier);
	suite_add_tcase(s, tc);
	tcase_add_test(th, test_history_samples);
	tcase_add_test(th, test_history_ring);
	suite_add_tcase(s, th);
	tcase_add_unchecked_fixture(tb, harness_scratch_setup, harness_scratch_teardown);
	tcase_add_checked_fixture(tb, big_setup, daemon_teardown);
	tcase_set_timeout(tb, 30);
	tcase_add_test(tb, test_thousand_targets);
	suite_add_tcase(s, tb);
	return s;
}

CHECK_MAIN(page_suite)
