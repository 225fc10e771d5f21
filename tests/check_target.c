/* Unit tests for per-target accounting: rise/fall verdicts and what they report (one
 * session: the target follows it), the target's state from N sessions (quorum,
 * failure ratio, starved sessions), flapping, counters by failure class, latency
 * recording, and the pause before the next cycle (interval, interval_changing,
 * interval_down with backoff, after a local resource shortage). */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "target.h"
#include "util.h"
#include "check_main.h"

#define T0 (5000 * NSEC_PER_SEC)
#define SEC NSEC_PER_SEC
#define MS NSEC_PER_MSEC

static void conf_fill(struct target_conf *c, uint32_t rise, uint32_t fall)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->name, "echo");
	c->interval = 1 * SEC;
	c->connect_timeout = 2 * SEC;
	c->timeout = 5 * SEC;
	c->backoff_max = 5 * SEC;
	c->rise = rise;
	c->fall = fall;
	c->degraded_ratio = 0.10;
	c->flap_threshold = 5;
	c->flap_window = 300 * SEC;
	c->interval_down = -1;
	c->interval_changing = -1;
}

/* The session of the single-session tests. */
static struct sess_health one;

/* A target with one session, as most tests want. */
static struct target *new_target(struct target_conf *c)
{
	struct target *t = target_new(c, T0);

	ck_assert_ptr_nonnull(t);
	target_add_session(t, &one);
	return t;
}

static const struct session_result res_ok = { .err = SERR_NONE, .connect_ns = 2 * MS,
					       .cycle_ns = 5 * MS };

static struct session_result res_fail(enum session_error e, int err_no)
{
	return (struct session_result){ .err = e, .err_no = err_no, .connect_ns = -1,
					.cycle_ns = 1 * MS };
}

/* Feed one result at now; assert whether health changed. */
static void feed(struct target *t, const struct session_result *r, int64_t now, bool change,
		 struct health_change *hc)
{
	struct health_change mine;

	memset(&mine, 0xa5, sizeof(mine));
	ck_assert_int_eq(target_record_result(t, &one, r, now, &mine), change);
	if (!change) {
		/* Out-parameters are written only when there is something to report. */
		struct health_change untouched;

		memset(&untouched, 0xa5, sizeof(untouched));
		ck_assert_mem_eq(&mine, &untouched, sizeof(mine));
	}
	if (hc)
		*hc = mine;
}

START_TEST(test_names)
{
	ck_assert_str_eq(health_state_name(HEALTH_UNKNOWN), "unknown");
	ck_assert_str_eq(health_state_name(HEALTH_UP), "up");
	ck_assert_str_eq(health_state_name(HEALTH_DOWN), "down");
	ck_assert_str_eq(health_state_name(_HEALTH_MAX), "?");
}
END_TEST

START_TEST(test_new_and_free)
{
	struct target_conf c;
	struct target *t;

	conf_fill(&c, 2, 3);
	t = new_target(&c);
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_eq(t->conf, &c);
	ck_assert_int_eq(t->health, HEALTH_UNKNOWN);
	ck_assert_int_eq(t->health_since, T0);
	ck_assert_uint_eq(t->cycles_ok, 0);
	ck_assert_uint_eq(t->cycles_failed, 0);
	ck_assert_uint_eq(t->health_changes, 0);
	for (int e = 0; e < _SERR_MAX; e++)
		ck_assert_uint_eq(t->errors[e], 0);
	target_free(t);
	target_free(NULL);
}
END_TEST

static const uint32_t rise_values[] = { 1, 2, 5, 10 };

START_TEST(test_rise_from_unknown)
{
	uint32_t rise = rise_values[_i];
	struct target_conf c;
	struct target *t;
	struct health_change hc;
	int64_t now = T0;

	conf_fill(&c, rise, 3);
	t = new_target(&c);
	for (uint32_t k = 1; k < rise; k++) {
		now += SEC;
		feed(t, &res_ok, now, false, NULL);
		ck_assert_int_eq(t->health, HEALTH_UNKNOWN);
	}
	now += SEC;
	feed(t, &res_ok, now, true, &hc);
	ck_assert_int_eq(hc.from, HEALTH_UNKNOWN);
	ck_assert_int_eq(hc.to, HEALTH_UP);
	ck_assert_uint_eq(hc.count, rise);
	ck_assert_int_eq(hc.reason, SERR_NONE);
	ck_assert_int_eq(hc.in_previous_ns, (int64_t)rise * SEC);
	ck_assert_int_eq(t->health, HEALTH_UP);
	ck_assert_int_eq(t->health_since, now);
	ck_assert_uint_eq(t->health_changes, 1);
	/* More successes keep it up without reporting anything. */
	for (int k = 0; k < 3; k++)
		feed(t, &res_ok, now + SEC * (k + 1), false, NULL);
	ck_assert_uint_eq(t->health_changes, 1);
	ck_assert_uint_eq(t->cycles_ok, rise + 3);
	target_free(t);
}
END_TEST

/* Bring a fresh target up at T0 + rise seconds; returns the time. */
static int64_t bring_up(struct target *t)
{
	int64_t now = T0;

	while (t->health != HEALTH_UP) {
		now += SEC;
		target_record_result(t, &one, &res_ok, now, &(struct health_change){ 0 });
	}
	return now;
}

static const uint32_t fall_values[] = { 1, 3, 7 };

START_TEST(test_fall_from_up)
{
	uint32_t fall = fall_values[_i];
	struct target_conf c;
	struct target *t;
	struct health_change hc;
	struct session_result r;
	int64_t up_at, now;

	conf_fill(&c, 2, fall);
	t = new_target(&c);
	now = up_at = bring_up(t);
	for (uint32_t k = 1; k < fall; k++) {
		r = res_fail(SERR_REFUSED, ECONNREFUSED);
		now += SEC;
		feed(t, &r, now, false, NULL);
		ck_assert_int_eq(t->health, HEALTH_UP);
	}
	/* The reason reported is the failure that tipped it over. */
	r = res_fail(SERR_TIMEOUT, ETIMEDOUT);
	now += 250 * MS;
	feed(t, &r, now, true, &hc);
	ck_assert_int_eq(hc.from, HEALTH_UP);
	ck_assert_int_eq(hc.to, HEALTH_DOWN);
	ck_assert_uint_eq(hc.count, fall);
	ck_assert_int_eq(hc.reason, SERR_TIMEOUT);
	ck_assert_int_eq(hc.in_previous_ns, now - up_at);
	ck_assert_int_eq(t->health, HEALTH_DOWN);
	ck_assert_int_eq(t->health_since, now);
	ck_assert_uint_eq(t->health_changes, 2);
	/* Further failures while down report nothing. */
	r = res_fail(SERR_RESET, ECONNRESET);
	feed(t, &r, now + SEC, false, NULL);
	feed(t, &r, now + 2 * SEC, false, NULL);
	ck_assert_uint_eq(t->health_changes, 2);
	ck_assert_int_eq(one.run, -(int)(fall + 2));
	target_free(t);
}
END_TEST

START_TEST(test_unknown_to_down)
{
	struct target_conf c;
	struct target *t;
	struct health_change hc;
	struct session_result r = res_fail(SERR_UNREACHABLE, ENETUNREACH);

	conf_fill(&c, 2, 3);
	t = new_target(&c);
	feed(t, &r, T0 + 1 * SEC, false, NULL);
	feed(t, &r, T0 + 2 * SEC, false, NULL);
	feed(t, &r, T0 + 3 * SEC, true, &hc);
	ck_assert_int_eq(hc.from, HEALTH_UNKNOWN);
	ck_assert_int_eq(hc.to, HEALTH_DOWN);
	ck_assert_uint_eq(hc.count, 3);
	ck_assert_int_eq(hc.reason, SERR_UNREACHABLE);
	ck_assert_int_eq(hc.in_previous_ns, 3 * SEC);
	target_free(t);
}
END_TEST

/* 'o' is a success, 'f' a failure; want is the health after each step ('u'nknown,
 * 'U'p, 'D'own), with rise 2 and fall 3. */
static const struct seq_case {
	const char *steps;
	const char *want;
} seq_cases[] = {
	{ "oo", "uU" },
	{ "ofoo", "uuuU" },
	{ "oofffo", "uUUUDD" },
	{ "ooffoff", "uUUUUUU" },
	{ "ooffofff", "uUUUUUUD" },
	{ "fffofoo", "uuDDDDU" },
	{ "fffofofoo", "uuDDDDDDU" },
	{ "ffoffo", "uuuuuu" },
	{ "ffoffoo", "uuuuuuU" },
};

START_TEST(test_sequences)
{
	const struct seq_case *sc = &seq_cases[_i];
	struct target_conf c;
	struct target *t;
	uint64_t changes = 0;
	enum health_state prev = HEALTH_UNKNOWN;

	conf_fill(&c, 2, 3);
	t = new_target(&c);
	for (size_t k = 0; sc->steps[k]; k++) {
		struct session_result r = sc->steps[k] == 'o' ? res_ok : res_fail(SERR_EOF, 0);
		struct health_change hc;
		bool changed = target_record_result(t, &one, &r, T0 + (int64_t)k * SEC, &hc);
		enum health_state want = sc->want[k] == 'U'   ? HEALTH_UP
					 : sc->want[k] == 'D' ? HEALTH_DOWN
							      : HEALTH_UNKNOWN;

		ck_assert_msg(t->health == want, "%s step %zu: health %s, want %s", sc->steps, k,
			      health_state_name(t->health), health_state_name(want));
		ck_assert_int_eq(changed, want != prev);
		if (changed) {
			ck_assert_int_eq(hc.from, prev);
			ck_assert_int_eq(hc.to, want);
			changes++;
		}
		prev = want;
	}
	ck_assert_uint_eq(t->health_changes, changes);
	target_free(t);
}
END_TEST

START_TEST(test_counters_per_class)
{
	static const struct {
		enum session_error e;
		int err_no;
	} fails[] = {
		{ SERR_REFUSED, ECONNREFUSED }, { SERR_REFUSED, ECONNREFUSED },
		{ SERR_CONNECT_TIMEOUT, ETIMEDOUT }, { SERR_TIMEOUT, ETIMEDOUT },
		{ SERR_RESET, ECONNRESET },	     { SERR_EOF, 0 },
		{ SERR_MISMATCH, 0 },		     { SERR_MISMATCH, 0 },
		{ SERR_MISMATCH, 0 },		     { SERR_UNREACHABLE, EHOSTUNREACH },
		{ SERR_RESOURCE, EMFILE },
	};
	uint64_t want[_SERR_MAX] = { 0 };
	struct target_conf c;
	struct target *t;
	int64_t now = T0;

	conf_fill(&c, 2, 3);
	t = new_target(&c);
	for (size_t k = 0; k < sizeof(fails) / sizeof(fails[0]); k++) {
		struct session_result r = res_fail(fails[k].e, fails[k].err_no);

		now += SEC;
		target_record_result(t, &one, &r, now, &(struct health_change){ 0 });
		want[fails[k].e]++;
		ck_assert_int_eq(t->last_error, fails[k].e);
		ck_assert_int_eq(t->last_errno, fails[k].err_no);
		ck_assert_int_eq(t->last_error_at, now);
		/* A success in between leaves the last error in place. */
		target_record_result(t, &one, &res_ok, now + 1, &(struct health_change){ 0 });
		ck_assert_int_eq(t->last_error, fails[k].e);
		ck_assert_int_eq(t->last_error_at, now);
	}
	for (int e = 0; e < _SERR_MAX; e++)
		ck_assert_msg(t->errors[e] == want[e], "errors[%s] = %llu, want %llu",
			      session_error_name((enum session_error)e),
			      (unsigned long long)t->errors[e], (unsigned long long)want[e]);
	ck_assert_uint_eq(t->cycles_failed, 11);
	ck_assert_uint_eq(t->cycles_ok, 11);
	/* The last minute's failures for mconnctl check: the 10 that are the target's (a
	 * resource failure is mconnd's) within 11 s, none a minute after the last. */
	ck_assert_uint_eq(count_window_sum(&t->fail_win, now), 10);
	ck_assert_uint_eq(count_window_sum(&t->fail_win, now + 61 * SEC), 0);
	target_free(t);
}
END_TEST

START_TEST(test_latency_recorded)
{
	struct target_conf c;
	struct target *t;
	struct session_result reused = { .err = SERR_NONE, .connect_ns = -1, .cycle_ns = 3 * MS };
	struct session_result failed = res_fail(SERR_TIMEOUT, ETIMEDOUT);
	struct latency_summary sum;

	conf_fill(&c, 2, 3);
	t = new_target(&c);
	target_record_result(t, &one, &res_ok, T0 + SEC, &(struct health_change){ 0 });
	/* A persistent cycle on a held connection has no connect time to record. */
	target_record_result(t, &one, &reused, T0 + 2 * SEC, &(struct health_change){ 0 });
	/* Failed cycles are counted, not timed. */
	target_record_result(t, &one, &failed, T0 + 3 * SEC, &(struct health_change){ 0 });
	latency_summarize(&t->connect_lat, 0, T0 + 3 * SEC, &sum);
	ck_assert_uint_eq(sum.count, 1);
	ck_assert_int_eq(sum.max, 2 * MS);
	latency_summarize(&t->cycle_lat, 0, T0 + 3 * SEC, &sum);
	ck_assert_uint_eq(sum.count, 2);
	ck_assert_int_eq(sum.max, 5 * MS);
	latency_summarize(&t->cycle_lat, 1, T0 + 3 * SEC, &sum);
	ck_assert_uint_eq(sum.count, 2);
	target_free(t);
}
END_TEST

/* Running out of local fds or ports is mconnd's problem, not the target's: counted,
 * but neither a failure towards fall nor a break in a run of successes. */
START_TEST(test_resource_leaves_health)
{
	struct target_conf c;
	struct target *t;
	struct session_result res = res_fail(SERR_RESOURCE, EMFILE);
	struct health_change hc;

	conf_fill(&c, 2, 3);
	t = new_target(&c);
	ck_assert(!target_record_result(t, &one, &res_ok, T0 + 1, &hc));
	for (int i = 0; i < 10; i++)
		ck_assert(!target_record_result(t, &one, &res, T0 + 2 + i, &hc));
	ck_assert_int_eq(t->health, HEALTH_UNKNOWN);
	ck_assert_uint_eq(t->errors[SERR_RESOURCE], 10);
	ck_assert_uint_eq(t->cycles_failed, 10);
	ck_assert_int_eq(t->last_error, SERR_RESOURCE);
	ck_assert(target_record_result(t, &one, &res_ok, T0 + 20, &hc));
	ck_assert_int_eq(hc.to, HEALTH_UP);
	ck_assert_uint_eq(hc.count, 2);
	target_free(t);
}
END_TEST

static const struct pause_case {
	int64_t interval;
	int64_t backoff_max;
	enum health_state health;
	uint32_t fails;
	enum session_error err;
	int64_t want;
} pause_cases[] = {
	/* Not down, or no failure yet: the interval, but never under 100 ms after a
	 * failure, so a failing session at interval 0 does not retry in a busy loop. */
	{ 1 * SEC, 5 * SEC, HEALTH_UP, 0, SERR_NONE, 1 * SEC },
	{ 1 * SEC, 5 * SEC, HEALTH_UP, 7, SERR_REFUSED, 1 * SEC },
	{ 1 * SEC, 5 * SEC, HEALTH_UNKNOWN, 7, SERR_TIMEOUT, 1 * SEC },
	{ 1 * SEC, 5 * SEC, HEALTH_DOWN, 0, SERR_NONE, 1 * SEC },
	{ 0, 5 * SEC, HEALTH_UP, 0, SERR_NONE, 0 },
	{ 0, 5 * SEC, HEALTH_UP, 9, SERR_MISMATCH, 100 * MS },
	{ 20 * MS, 5 * SEC, HEALTH_UNKNOWN, 1, SERR_REFUSED, 100 * MS },
	/* Down: doubling from the interval, capped at backoff_max. */
	{ 1 * SEC, 5 * SEC, HEALTH_DOWN, 1, SERR_REFUSED, 1 * SEC },
	{ 1 * SEC, 5 * SEC, HEALTH_DOWN, 2, SERR_REFUSED, 2 * SEC },
	{ 1 * SEC, 5 * SEC, HEALTH_DOWN, 3, SERR_REFUSED, 4 * SEC },
	{ 1 * SEC, 5 * SEC, HEALTH_DOWN, 4, SERR_REFUSED, 5 * SEC },
	{ 1 * SEC, 5 * SEC, HEALTH_DOWN, 100, SERR_RESET, 5 * SEC },
	{ 1 * SEC, 5 * SEC, HEALTH_DOWN, UINT32_MAX, SERR_EOF, 5 * SEC },
	{ 300 * MS, 1 * SEC, HEALTH_DOWN, 2, SERR_REFUSED, 600 * MS },
	{ 300 * MS, 1 * SEC, HEALTH_DOWN, 3, SERR_REFUSED, 1 * SEC },
	{ 1 * SEC, 3600 * SEC, HEALTH_DOWN, 12, SERR_REFUSED, 2048 * SEC },
	{ 1 * SEC, 3600 * SEC, HEALTH_DOWN, 13, SERR_REFUSED, 3600 * SEC },
	{ 1 * SEC, 3600 * SEC, HEALTH_DOWN, 64, SERR_REFUSED, 3600 * SEC },
	/* Interval 0: a floor of 100 ms, then doubling. */
	{ 0, 5 * SEC, HEALTH_DOWN, 1, SERR_REFUSED, 100 * MS },
	{ 0, 5 * SEC, HEALTH_DOWN, 2, SERR_REFUSED, 200 * MS },
	{ 0, 5 * SEC, HEALTH_DOWN, 3, SERR_REFUSED, 400 * MS },
	{ 0, 5 * SEC, HEALTH_DOWN, 6, SERR_REFUSED, 3200 * MS },
	{ 0, 5 * SEC, HEALTH_DOWN, 7, SERR_REFUSED, 5 * SEC },
	{ 50 * MS, 5 * SEC, HEALTH_DOWN, 1, SERR_REFUSED, 100 * MS },
	/* backoff_max below the interval: the cap is the interval. */
	{ 10 * SEC, 5 * SEC, HEALTH_DOWN, 1, SERR_REFUSED, 10 * SEC },
	{ 10 * SEC, 5 * SEC, HEALTH_DOWN, 6, SERR_REFUSED, 10 * SEC },
	/* backoff_max 0 disables the doubling, not the floor. */
	{ 1 * SEC, 0, HEALTH_DOWN, 5, SERR_REFUSED, 1 * SEC },
	{ 0, 0, HEALTH_DOWN, 5, SERR_REFUSED, 100 * MS },
	/* backoff_max under the floor: the floor wins. */
	{ 0, 50 * MS, HEALTH_DOWN, 5, SERR_REFUSED, 100 * MS },
	/* A local resource shortage backs off whatever the health: never a busy retry. */
	{ 1 * SEC, 5 * SEC, HEALTH_UP, 1, SERR_RESOURCE, 1 * SEC },
	{ 1 * SEC, 5 * SEC, HEALTH_UP, 3, SERR_RESOURCE, 4 * SEC },
	{ 1 * SEC, 5 * SEC, HEALTH_UNKNOWN, 9, SERR_RESOURCE, 5 * SEC },
	{ 0, 5 * SEC, HEALTH_UP, 1, SERR_RESOURCE, 100 * MS },
	{ 0, 5 * SEC, HEALTH_UNKNOWN, 4, SERR_RESOURCE, 800 * MS },
	{ 0, 0, HEALTH_UP, 5, SERR_RESOURCE, 100 * MS },
	{ 0, 0, HEALTH_DOWN, 5, SERR_RESOURCE, 100 * MS },
	{ 2 * SEC, 0, HEALTH_UP, 5, SERR_RESOURCE, 2 * SEC },
};

/* The pause of the one session of a target in state health, its own verdict and run
 * as given, after fails failures (the last of class err). */
static int64_t pause_of(struct target_conf *c, enum health_state health,
			enum health_state verdict, int run, uint32_t fails, enum session_error err)
{
	struct target *t = new_target(c);
	int64_t got;

	t->health = health;
	one.verdict = (uint8_t)verdict;
	one.run = (int16_t)run;
	got = target_pause(t, &one, fails, err);
	target_free(t);
	return got;
}

START_TEST(test_pause_table)
{
	const struct pause_case *pc = &pause_cases[_i];
	struct target_conf c;
	int64_t got;

	conf_fill(&c, 2, 3);
	c.interval = pc->interval;
	c.backoff_max = pc->backoff_max;
	/* The session's verdict is the old target-wide health; its run is its failures. */
	got = pause_of(&c, pc->health, pc->health, pc->fails ? -(int)MIN(pc->fails, 30000u) : 1,
		       pc->fails, pc->err);
	ck_assert_msg(got == pc->want,
		      "interval %lld backoff_max %lld %s fails %u %s: pause %lld, want %lld",
		      (long long)pc->interval, (long long)pc->backoff_max,
		      health_state_name(pc->health), pc->fails, session_error_name(pc->err),
		      (long long)got, (long long)pc->want);
}
END_TEST

/* Health and backoff together, as the daemon drives them. */
START_TEST(test_pause_follows_health)
{
	struct target_conf c;
	struct target *t;
	struct session_result r = res_fail(SERR_REFUSED, ECONNREFUSED);
	uint32_t fails = 0;
	int64_t now;

	conf_fill(&c, 2, 3);
	t = new_target(&c);
	now = bring_up(t);
	for (int k = 0; k < 2; k++) {
		target_record_result(t, &one, &r, ++now, &(struct health_change){ 0 });
		ck_assert_int_eq(target_pause(t, &one, ++fails, r.err), 1 * SEC);
	}
	target_record_result(t, &one, &r, ++now, &(struct health_change){ 0 });
	ck_assert_int_eq(t->health, HEALTH_DOWN);
	ck_assert_int_eq(target_pause(t, &one, ++fails, r.err), 4 * SEC);
	target_record_result(t, &one, &r, ++now, &(struct health_change){ 0 });
	ck_assert_int_eq(target_pause(t, &one, ++fails, r.err), 5 * SEC);
	target_record_result(t, &one, &res_ok, ++now, &(struct health_change){ 0 });
	target_record_result(t, &one, &res_ok, ++now, &(struct health_change){ 0 });
	ck_assert_int_eq(t->health, HEALTH_UP);
	ck_assert_int_eq(target_pause(t, &one, 0, SERR_NONE), 1 * SEC);
	target_free(t);
}
END_TEST

/* N sessions: each round gives every session one result ('o' ok, 'f' failed, 'r' no
 * local resource, '-' none), in session order, a second per round; want is the
 * target's state after each round ('u'nknown, 'U'p, 'G' degraded, 'D'own). */
static const struct model_case {
	const char *what;
	uint32_t n, rise, fall, quorum;
	double ratio;
	const char *rounds;
	const char *want;
} model_cases[] = {
	{ "every session must be up first", 4, 2, 3, 0, 0, "oooo oooo", "uU" },
	{ "one session not yet up keeps it unknown", 4, 2, 3, 0, 0, "ooo- ooo- ooo- oooo", "uuuu" },
	{ "one down of four: degraded", 4, 2, 3, 0, 0, "oooo oooo fooo fooo fooo", "uUUUG" },
	{ "all four down: down", 4, 2, 3, 0, 0, "oooo oooo ffff ffff ffff", "uUUUD" },
	{ "down as the last session falls", 4, 2, 3, 0, 0, "oooo oooo ffff ffff ffff ffff",
	  "uUUUDD" },
	{ "staggered failures: degraded then down", 4, 2, 3, 0, 0, "oooo oooo ffoo ffoo ffff ffff ffff",
	  "uUUUGGD" },
	{ "quorum 2 of 4", 4, 2, 3, 2, 0, "oooo oooo fooo fooo fooo ffoo ffoo ffoo", "uUUUGGGD" },
	{ "a quorum above the sessions counts as all", 2, 1, 1, 5, 0, "oo fo ff", "UGD" },
	{ "recovery: up when the last session is", 4, 2, 3, 0, 0, "ffff ffff ffff oooo oooo oo-- oooo",
	  "uuDDUUU" },
	{ "recovery in steps: degraded, then up", 4, 2, 3, 0, 0, "ffff ffff ffff oo-- oo-- oooo oooo",
	  "uuDDGGU" },
	/* Up once every session has a verdict, degraded once their windows hold 16 results. */
	{ "1 of 4 failing in turn: each session fails one cycle in four", 4, 2, 3, 0, 0.10,
	  "fooo ofoo oofo ooof fooo ofoo oofo ooof fooo ofoo oofo ooof fooo ofoo", "uuuUUUGGGGGGGG" },
	{ "the same with the ratio off stays up", 4, 2, 3, 0, 0,
	  "oooo oooo fooo ofoo oofo ooof fooo ofoo oofo ooof", "uUUUUUUUUU" },
	/* Three failures in 16 (18.75%) make it degraded; it is up again once at most one
	 * is left in the window (6.25%, under 7.5%). */
	{ "ratio hysteresis: low again under half of it", 1, 1, 3, 0, 0.15,
	  "o o o o o o o o o o o o o o o o f f o f o o o o o o o o o o o o o o o o",
	  "UUUUUUUUUUUUUUUUUUUGGGGGGGGGGGGGGUUU" },
	/* Degraded by the ratio, then down: the recovery is not held back by it. */
	{ "a ratio verdict ends when the target goes down", 1, 1, 3, 0, 0.15,
	  "o o o o o o o o o o o o o o o o f f o f f f o", "UUUUUUUUUUUUUUUUUUUGGDU" },
	/* Down needs the quorum down and failing; once down, it stays down until fewer
	 * than the quorum are down by their own verdicts. */
	{ "a down session whose last cycle worked is a sign of life", 2, 3, 1, 0, 0,
	  "fo of ff oo oo oo", "GGDDDU" },
	{ "starved sessions are left out", 4, 2, 3, 0, 0, "oorr oorr oorr", "uUU" },
	{ "all starved: the state stays", 2, 2, 3, 0, 0, "oo oo rr rr rr", "uUUUU" },
	{ "a starved session that runs again counts again", 2, 2, 3, 0, 0,
	  "oo oo fr fr fr", "uUUUD" },
	{ "persistent 50% refusals, ten sessions", 10, 2, 3, 0, 0.10,
	  "ofofofofof fofofofofo ofofofofof fofofofofo ofofofofof fofofofofo", "uGGGGG" },
};

/* Whether changed says what the state did, and the count of changes. */
START_TEST(test_model_table)
{
	const struct model_case *mc = &model_cases[_i];
	struct sess_health sh[16];
	struct target_conf c;
	struct target *t;
	uint64_t changes = 0;
	size_t round = 0;
	int64_t now = T0;

	ck_assert_uint_le(mc->n, ELEMENTSOF(sh));
	conf_fill(&c, mc->rise, mc->fall);
	c.down_quorum = mc->quorum;
	c.degraded_ratio = mc->ratio;
	t = target_new(&c, T0);
	for (uint32_t k = 0; k < mc->n; k++)
		target_add_session(t, &sh[k]);
	for (const char *p = mc->rounds; *p; round++) {
		enum health_state before = t->health, want;
		char w = mc->want[round];

		now += SEC;
		for (uint32_t k = 0; k < mc->n; k++, p++) {
			struct session_result r = *p == 'o'   ? res_ok
						  : *p == 'r' ? res_fail(SERR_RESOURCE, EMFILE)
							      : res_fail(SERR_REFUSED, ECONNREFUSED);
			struct health_change hc;

			if (*p != '-')
				target_record_result(t, &sh[k], &r, now + k, &hc);
		}
		want = w == 'U' ? HEALTH_UP : w == 'D' ? HEALTH_DOWN : w == 'G' ? HEALTH_DEGRADED
									: HEALTH_UNKNOWN;
		ck_assert_msg(t->health == want, "%s: round %zu: %s, want %s", mc->what, round,
			      health_state_name(t->health), health_state_name(want));
		changes += t->health != before;
		p += *p == ' ';
	}
	ck_assert_uint_eq(round, strlen(mc->want));
	ck_assert_msg(t->health_changes >= changes, "%s", mc->what);
	target_free(t);
}
END_TEST

/* Verdict counts follow sessions that come, go, starve and run again. */
START_TEST(test_session_counts)
{
	struct sess_health sh[3];
	struct target_conf c;
	struct target *t;
	struct health_change hc;
	struct session_result starve = res_fail(SERR_RESOURCE, EMFILE),
			      refuse = res_fail(SERR_REFUSED, ECONNREFUSED);

	conf_fill(&c, 1, 1);
	t = target_new(&c, T0);
	for (int k = 0; k < 3; k++)
		target_add_session(t, &sh[k]);
	ck_assert_uint_eq(t->sess_verdict[HEALTH_UNKNOWN], 3);
	target_record_result(t, &sh[0], &res_ok, T0 + 1, &hc);
	target_record_result(t, &sh[1], &refuse, T0 + 2, &hc);
	target_record_result(t, &sh[2], &starve, T0 + 3, &hc);
	ck_assert_uint_eq(t->sess_verdict[HEALTH_UP], 1);
	ck_assert_uint_eq(t->sess_verdict[HEALTH_DOWN], 1);
	ck_assert_uint_eq(t->sess_verdict[HEALTH_UNKNOWN], 0);
	ck_assert_uint_eq(t->sess_starved, 1);
	ck_assert_int_eq(t->health, HEALTH_DEGRADED);
	/* A starved session trying again, and starved again, is not counted twice. */
	ck_assert(!target_record_result(t, &sh[2], &starve, T0 + 4, &hc));
	ck_assert_uint_eq(t->sess_starved, 1);
	/* Retiring the down session leaves one up: up at the next look. */
	target_drop_session(t, &sh[1]);
	ck_assert(target_tick(t, T0 + 5, &hc));
	ck_assert_uint_eq(hc.what & HC_STATE, HC_STATE);
	ck_assert_int_eq(hc.from, HEALTH_DEGRADED);
	ck_assert_int_eq(hc.to, HEALTH_UP);
	ck_assert_uint_eq(hc.sessions, 1);
	ck_assert_uint_eq(hc.down, 0);
	target_drop_session(t, &sh[2]);
	target_drop_session(t, &sh[0]);
	ck_assert_uint_eq(t->sess_starved + t->sess_verdict[0] + t->sess_verdict[1] +
				  t->sess_verdict[2] + t->recent_total + t->recent_failed, 0);
	/* No session at all: the state stays. */
	ck_assert(!target_tick(t, T0 + 6, &hc));
	ck_assert_int_eq(t->health, HEALTH_UP);
	target_free(t);
}
END_TEST

/* Issue 14: a down target whose sessions are replaced (a restart by a new address)
 * stays down while the new ones fail, one after the other: no detour through
 * degraded, which would reset an alert's for:. One new session up ends it. */
START_TEST(test_down_across_restart)
{
	struct sess_health sh[2], nsh[2];
	struct target_conf c;
	struct target *t;
	struct health_change hc;
	struct session_result refuse = res_fail(SERR_REFUSED, ECONNREFUSED);

	conf_fill(&c, 1, 1);
	t = target_new(&c, T0);
	for (int k = 0; k < 2; k++)
		target_add_session(t, &sh[k]);
	target_record_result(t, &sh[0], &refuse, T0 + 1, &hc);
	target_record_result(t, &sh[1], &refuse, T0 + 2, &hc);
	ck_assert_int_eq(t->health, HEALTH_DOWN);
	for (int k = 0; k < 2; k++) {
		target_drop_session(t, &sh[k]);
		target_add_session(t, &nsh[k]);
	}
	ck_assert(!target_record_result(t, &nsh[0], &refuse, T0 + 3, &hc));
	ck_assert_int_eq(t->health, HEALTH_DOWN);
	ck_assert(!target_tick(t, T0 + 4, &hc));
	ck_assert(!target_record_result(t, &nsh[1], &refuse, T0 + 5, &hc));
	ck_assert_int_eq(t->health, HEALTH_DOWN);
	target_drop_session(t, &nsh[1]);
	target_add_session(t, &nsh[1]);
	ck_assert(target_record_result(t, &nsh[1], &res_ok, T0 + 6, &hc));
	ck_assert_int_eq(t->health, HEALTH_DEGRADED);
	target_free(t);
}
END_TEST

/* What a change reports: the sessions down, the quorum and the ratio. */
START_TEST(test_change_report)
{
	struct sess_health sh[4];
	struct target_conf c;
	struct target *t;
	struct health_change hc = { 0 };
	struct session_result r = res_fail(SERR_TIMEOUT, ETIMEDOUT);
	bool changed = false;

	conf_fill(&c, 1, 2);
	c.down_quorum = 3;
	t = target_new(&c, T0);
	for (int k = 0; k < 4; k++) {
		target_add_session(t, &sh[k]);
		target_record_result(t, &sh[k], &res_ok, T0 + k, &hc);
	}
	ck_assert_int_eq(t->health, HEALTH_UP);
	for (int k = 0; k < 3 && !changed; k++) {
		target_record_result(t, &sh[k], &r, T0 + SEC, &hc);
		changed = target_record_result(t, &sh[k], &r, T0 + 2 * SEC + k, &hc);
	}
	ck_assert(changed);
	ck_assert_int_eq(hc.to, HEALTH_DEGRADED);
	ck_assert_uint_eq(hc.count, 2);
	ck_assert_int_eq(hc.reason, SERR_TIMEOUT);
	ck_assert_uint_eq(hc.down, 1);
	ck_assert_uint_eq(hc.up, 3);
	ck_assert_uint_eq(hc.sessions, 4);
	ck_assert_uint_eq(hc.quorum, 3);
	ck_assert(hc.ratio < 0);
	target_free(t);
}
END_TEST

/* More than flap_threshold changes within flap_window: flapping, said once; it ends
 * when at most half of that many are left in the window. */
START_TEST(test_flapping)
{
	struct target_conf c;
	struct target *t;
	struct health_change hc;
	struct session_result r = res_fail(SERR_RESET, ECONNRESET);
	unsigned starts = 0, ends = 0;
	int64_t now = T0;

	conf_fill(&c, 1, 1);
	c.flap_threshold = 3;
	c.flap_window = 10 * SEC;
	c.degraded_ratio = 0;
	t = new_target(&c);
	for (int k = 0; k < 8; k++) {
		now += SEC;
		if (target_record_result(t, &one, k % 2 ? &r : &res_ok, now, &hc)) {
			starts += !!(hc.what & HC_FLAP_START);
			if (hc.what & HC_FLAP_START) {
				ck_assert_uint_eq(hc.changes_in_window, 4);
				ck_assert_int_eq(k, 3);
			}
		}
	}
	ck_assert_uint_eq(t->health_changes, 8);
	ck_assert(t->flapping);
	ck_assert_uint_eq(starts, 1);
	/* Quiet now: the changes age out of the window; it ends once, at most 1 left. */
	for (int k = 0; k < 20; k++) {
		now += SEC;
		if (target_tick(t, now, &hc)) {
			ck_assert_uint_eq(hc.what, HC_FLAP_END);
			ck_assert_uint_le(hc.changes_in_window, 1);
			ends++;
		}
	}
	ck_assert_uint_eq(ends, 1);
	ck_assert(!t->flapping);
	/* flap_threshold 0 turns it off. */
	c.flap_threshold = 0;
	for (int k = 0; k < 8; k++)
		target_record_result(t, &one, k % 2 ? &r : &res_ok, now + k, &hc);
	ck_assert(!t->flapping);
	target_free(t);
}
END_TEST

/* interval_changing while a run would change the verdict, interval_down while down
 * (doubling only while the whole target is down); -1 means the interval. */
static const struct pause2_case {
	int64_t down, changing;
	enum health_state verdict, target;
	int run;
	uint32_t fails;
	int64_t want;
} pause2_cases[] = {
	{ 10 * SEC, 200 * MS, HEALTH_UP, HEALTH_UP, 5, 0, 1 * SEC },
	{ 10 * SEC, 200 * MS, HEALTH_UP, HEALTH_UP, -1, 1, 200 * MS },
	{ 10 * SEC, 50 * MS, HEALTH_UP, HEALTH_UP, -2, 2, 100 * MS },
	{ 10 * SEC, 200 * MS, HEALTH_UNKNOWN, HEALTH_UNKNOWN, 1, 0, 200 * MS },
	{ 10 * SEC, 200 * MS, HEALTH_UNKNOWN, HEALTH_UNKNOWN, -1, 1, 200 * MS },
	{ 10 * SEC, 200 * MS, HEALTH_DOWN, HEALTH_DOWN, 1, 0, 200 * MS },
	{ 10 * SEC, 200 * MS, HEALTH_DOWN, HEALTH_DOWN, -3, 3, 10 * SEC },
	{ 2 * SEC, 200 * MS, HEALTH_DOWN, HEALTH_DOWN, -3, 3, 5 * SEC },
	{ 2 * SEC, 200 * MS, HEALTH_DOWN, HEALTH_DOWN, -3, 1, 2 * SEC },
	{ 0, 200 * MS, HEALTH_DOWN, HEALTH_DOWN, -3, 1, 100 * MS },
	{ -1, -1, HEALTH_DOWN, HEALTH_DOWN, -3, 1, 1 * SEC },
	{ -1, -1, HEALTH_DOWN, HEALTH_DOWN, -3, 3, 4 * SEC },
	/* A down session of a degraded target keeps interval_down, without doubling. */
	{ 2 * SEC, 200 * MS, HEALTH_DOWN, HEALTH_DEGRADED, -3, 3, 2 * SEC },
	{ -1, -1, HEALTH_DOWN, HEALTH_DEGRADED, -9, 9, 1 * SEC },
	{ -1, -1, HEALTH_UP, HEALTH_DEGRADED, -1, 1, 1 * SEC },
	{ -1, -1, HEALTH_UNKNOWN, HEALTH_UNKNOWN, 1, 0, 1 * SEC },
	{ -1, 0, HEALTH_UNKNOWN, HEALTH_UNKNOWN, 1, 0, 0 },
};

START_TEST(test_pause_intervals)
{
	const struct pause2_case *pc = &pause2_cases[_i];
	struct target_conf c;
	int64_t got;

	conf_fill(&c, 2, 3);
	c.interval_down = pc->down;
	c.interval_changing = pc->changing;
	got = pause_of(&c, pc->target, pc->verdict, pc->run, pc->fails,
		       pc->fails ? SERR_REFUSED : SERR_NONE);
	ck_assert_msg(got == pc->want, "case %d: pause %lld, want %lld", _i, (long long)got,
		      (long long)pc->want);
}
END_TEST

static Suite *target_suite(void)
{
	Suite *s = suite_create("target");
	TCase *th = tcase_create("health");
	TCase *tp = tcase_create("pause");

	tcase_add_test(th, test_names);
	tcase_add_test(th, test_new_and_free);
	tcase_add_loop_test(th, test_rise_from_unknown, 0,
			    (int)(sizeof(rise_values) / sizeof(rise_values[0])));
	tcase_add_loop_test(th, test_fall_from_up, 0,
			    (int)(sizeof(fall_values) / sizeof(fall_values[0])));
	tcase_add_test(th, test_unknown_to_down);
	tcase_add_loop_test(th, test_sequences, 0, (int)(sizeof(seq_cases) / sizeof(seq_cases[0])));
	tcase_add_test(th, test_counters_per_class);
	tcase_add_test(th, test_latency_recorded);
	suite_add_tcase(s, th);

	tcase_add_test(th, test_resource_leaves_health);
	tcase_add_loop_test(th, test_model_table, 0, (int)ELEMENTSOF(model_cases));
	tcase_add_test(th, test_session_counts);
	tcase_add_test(th, test_down_across_restart);
	tcase_add_test(th, test_change_report);
	tcase_add_test(th, test_flapping);
	tcase_add_loop_test(tp, test_pause_table, 0,
			    (int)(sizeof(pause_cases) / sizeof(pause_cases[0])));
	tcase_add_test(tp, test_pause_follows_health);
	tcase_add_loop_test(tp, test_pause_intervals, 0, (int)ELEMENTSOF(pause2_cases));
	suite_add_tcase(s, tp);
	return s;
}

CHECK_MAIN(target_suite)
