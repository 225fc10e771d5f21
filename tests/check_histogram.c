/* Unit tests for the log-linear latency histograms: bucket geometry, quantile accuracy
 * on known distributions, and the one-minute sliding window. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "histogram.h"
#include "util.h"
#include "check_main.h"

/* A base time that sits well inside a slot and far from 0. */
#define T0 (1000 * NSEC_PER_SEC + 3 * NSEC_PER_SEC + 7)

static uint64_t rng_next(uint64_t *st)
{
	uint64_t x = *st;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*st = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Assert got is within pct percent of want. */
static void assert_near(int64_t got, int64_t want, double pct, const char *what)
{
	double d = (double)got - (double)want;

	if (d < 0)
		d = -d;
	ck_assert_msg(d <= (double)want * pct / 100.0, "%s: got %lld, want %lld within %.1f %%",
		      what, (long long)got, (long long)want, pct);
}

START_TEST(test_bucket_bounds_every_bucket)
{
	ck_assert_int_eq(hist_bucket_low(0), 0);
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		int64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);

		ck_assert_msg(lo < hi, "bucket %u: low %lld high %lld", i, (long long)lo,
			      (long long)hi);
		ck_assert_msg(hist_bucket_of(lo) == i, "bucket_of(low(%u)) = %u", i,
			      hist_bucket_of(lo));
		ck_assert_msg(hist_bucket_of(hi - 1) == i, "bucket_of(high(%u) - 1) = %u", i,
			      hist_bucket_of(hi - 1));
		if (i + 1 < HIST_BUCKETS)
			ck_assert_int_eq(hi, hist_bucket_low(i + 1));
	}
	ck_assert_int_eq(hist_bucket_high(HIST_BUCKETS - 1), INT64_MAX);
}
END_TEST

static const struct bucket_case {
	int64_t v;
	uint32_t bucket;
} bucket_cases[] = {
	{ -1000, 0 }, { -1, 0 },	{ 0, 0 },     { 1, 1 },	    { 31, 31 },	 { 32, 32 },
	{ 63, 63 },   { 64, 64 },	{ 65, 64 },   { 66, 65 },   { 127, 95 }, { 128, 96 },
	{ 1000, 190 }, { INT64_MAX, HIST_BUCKETS - 1 },
};

START_TEST(test_bucket_of_table)
{
	const struct bucket_case *c = &bucket_cases[_i];

	ck_assert_msg(hist_bucket_of(c->v) == c->bucket, "bucket_of(%lld) = %u, want %u",
		      (long long)c->v, hist_bucket_of(c->v), c->bucket);
}
END_TEST

START_TEST(test_bucket_of_random_values)
{
	uint64_t st = 12345;

	/* Checked in bulk: Check is called on a mismatch only (see check_timer.c). */
	for (int k = 0; k < 200000; k++) {
		uint64_t r = rng_next(&st);
		int64_t v = (int64_t)((r >> 8) >> (r & 63));
		uint32_t i = hist_bucket_of(v);

		if (i >= HIST_BUCKETS || hist_bucket_low(i) > v || v >= hist_bucket_high(i))
			ck_abort_msg("value %lld: bucket %u of %u, [%lld, %lld)", (long long)v, i,
				     HIST_BUCKETS, i < HIST_BUCKETS ? (long long)hist_bucket_low(i) : -1LL,
				     i < HIST_BUCKETS ? (long long)hist_bucket_high(i) : -1LL);
	}
}
END_TEST

START_TEST(test_bucket_relative_width)
{
	/* Below 32 ns every value has its own bucket. */
	for (uint32_t i = 0; i < HIST_SUB; i++)
		ck_assert_int_eq(hist_bucket_high(i) - hist_bucket_low(i), 1);
	for (uint32_t i = HIST_SUB; i + 1 < HIST_BUCKETS; i++) {
		int64_t lo = hist_bucket_low(i), w = hist_bucket_high(i) - lo;

		ck_assert_msg(w * 32 <= lo, "bucket %u: width %lld at %lld is more than 1/32", i,
			      (long long)w, (long long)lo);
	}
	/* The finite buckets reach past a minute, as the header promises (68 s). */
	ck_assert_int_ge(hist_bucket_low(HIST_BUCKETS - 1), 60 * NSEC_PER_SEC);
}
END_TEST

START_TEST(test_quantile_uniform)
{
	struct hist *h = calloc(1, sizeof(*h));
	uint64_t sum = 0;

	ck_assert_ptr_nonnull(h);
	/* Recorded in a scrambled order: the result must not depend on it. */
	for (int64_t k = 0; k < 100000; k++) {
		int64_t us = (k * 7919) % 100000 + 1;

		hist_record(h, us * NSEC_PER_USEC);
		sum += (uint64_t)(us * NSEC_PER_USEC);
	}
	ck_assert_uint_eq(h->count, 100000);
	ck_assert_uint_eq(h->sum, sum);
	ck_assert_int_eq(h->max, 100000 * NSEC_PER_USEC);
	assert_near(hist_quantile(h, 0.50), 50000 * NSEC_PER_USEC, 2.0, "p50");
	assert_near(hist_quantile(h, 0.90), 90000 * NSEC_PER_USEC, 2.0, "p90");
	assert_near(hist_quantile(h, 0.99), 99000 * NSEC_PER_USEC, 2.0, "p99");
	assert_near(hist_quantile(h, 0.0), 1 * NSEC_PER_USEC, 2.0, "p0");
	/* The top quantile is a bucket midpoint too; only max itself is exact. */
	assert_near(hist_quantile(h, 1.0), 100000 * NSEC_PER_USEC, 2.0, "p100");
	ck_assert_int_le(hist_quantile(h, 1.0), h->max);
	free(h);
}
END_TEST

/* A distribution: value of the k-th of n samples. */
typedef int64_t (*dist_fn)(int64_t k, int64_t n);

static int64_t dist_constant(int64_t k, int64_t n)
{
	(void)k;
	(void)n;
	return 12345678;
}

/* 90 % at 1 ms, 10 % at 100 ms. */
static int64_t dist_bimodal(int64_t k, int64_t n)
{
	return k * 10 < n * 9 ? NSEC_PER_MSEC : 100 * NSEC_PER_MSEC;
}

/* k ns for k in 0..n-1: small values land in exact buckets. */
static int64_t dist_small(int64_t k, int64_t n)
{
	(void)n;
	return k;
}

/* Uniform over 1 ms .. 10 s: spans many octaves. */
static int64_t dist_wide(int64_t k, int64_t n)
{
	return NSEC_PER_MSEC + k * ((10 * NSEC_PER_SEC - NSEC_PER_MSEC) / (n - 1));
}

static const struct quantile_case {
	const char *what;
	dist_fn fn;
	int64_t n;
	double q;
	int64_t want;
	double pct;
} quantile_cases[] = {
	{ "constant p50", dist_constant, 1000, 0.50, 12345678, 2.0 },
	{ "constant p99", dist_constant, 1000, 0.99, 12345678, 2.0 },
	{ "bimodal p50", dist_bimodal, 1000, 0.50, NSEC_PER_MSEC, 2.0 },
	{ "bimodal p89", dist_bimodal, 1000, 0.89, NSEC_PER_MSEC, 2.0 },
	{ "bimodal p90", dist_bimodal, 1000, 0.90, 100 * NSEC_PER_MSEC, 2.0 },
	{ "bimodal p99", dist_bimodal, 1000, 0.99, 100 * NSEC_PER_MSEC, 2.0 },
	{ "small p50 exact", dist_small, 32, 0.50, 16, 0.0 },
	{ "small p0 exact", dist_small, 32, 0.0, 0, 0.0 },
	{ "small p99 exact", dist_small, 32, 0.99, 31, 0.0 },
	{ "wide p10", dist_wide, 10000, 0.10, NSEC_PER_SEC, 2.0 },
	{ "wide p50", dist_wide, 10000, 0.50, 5 * NSEC_PER_SEC, 2.0 },
	{ "wide p90", dist_wide, 10000, 0.90, 9 * NSEC_PER_SEC, 2.0 },
	{ "wide p99", dist_wide, 10000, 0.99, 9900 * NSEC_PER_MSEC, 2.0 },
};

START_TEST(test_quantile_table)
{
	const struct quantile_case *c = &quantile_cases[_i];
	struct hist *h = calloc(1, sizeof(*h));
	int64_t max = 0, got;

	ck_assert_ptr_nonnull(h);
	for (int64_t k = 0; k < c->n; k++) {
		int64_t v = c->fn(k, c->n);

		hist_record(h, v);
		max = v > max ? v : max;
	}
	ck_assert_int_eq(h->max, max);
	got = hist_quantile(h, c->q);
	assert_near(got, c->want, c->pct, c->what);
	ck_assert_int_le(got, max);
	free(h);
}
END_TEST

START_TEST(test_empty_and_negative)
{
	struct hist *h = calloc(1, sizeof(*h));
	struct latency *l = calloc(1, sizeof(*l));
	struct latency_summary sum;

	ck_assert_ptr_nonnull(h);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(hist_quantile(h, 0.5), -1);
	for (int window = 0; window <= 1; window++) {
		latency_summarize(l, window, T0, &sum);
		ck_assert_uint_eq(sum.count, 0);
		ck_assert_int_eq(sum.p50, -1);
		ck_assert_int_eq(sum.p90, -1);
		ck_assert_int_eq(sum.p99, -1);
		ck_assert_int_eq(sum.max, -1);
	}
	hist_record(h, -5);
	ck_assert_uint_eq(h->count, 1);
	ck_assert_uint_eq(h->b[0], 1);
	ck_assert_uint_eq(h->sum, 0);
	ck_assert_int_eq(hist_quantile(h, 0.5), 0);
	free(h);
	free(l);
}
END_TEST

/* A value recorded age ns before the query, the record time shifted within its slot. */
static const int64_t window_offsets[] = { 0, 1, 5 * NSEC_PER_SEC, HIST_SLOT_NS - 1 };

static const struct window_case {
	int64_t age;
	int stays;
} window_cases[] = {
	{ 0, 1 },
	{ 1, 1 },
	{ 10 * NSEC_PER_SEC, 1 },
	{ 49 * NSEC_PER_SEC + 999999999, 1 },
	{ 50 * NSEC_PER_SEC, 1 },
	{ 60 * NSEC_PER_SEC + 1, 0 },
	{ 61 * NSEC_PER_SEC, 0 },
	{ 70 * NSEC_PER_SEC, 0 },
	{ 3600 * NSEC_PER_SEC, 0 },
};

START_TEST(test_window_age)
{
	const size_t n_off = sizeof(window_offsets) / sizeof(window_offsets[0]);
	const struct window_case *c = &window_cases[(size_t)_i / n_off];
	int64_t at = 1000 * NSEC_PER_SEC + window_offsets[(size_t)_i % n_off];
	struct latency *l = calloc(1, sizeof(*l));
	struct latency_summary sum;

	ck_assert_ptr_nonnull(l);
	latency_record(l, 5 * NSEC_PER_MSEC, at);
	latency_summarize(l, 1, at + c->age, &sum);
	ck_assert_msg(sum.count == (c->stays ? 1u : 0u), "recorded at %lld, age %lld: count %llu",
		      (long long)at, (long long)c->age, (unsigned long long)sum.count);
	if (c->stays) {
		ck_assert_int_eq(sum.max, 5 * NSEC_PER_MSEC);
		assert_near(sum.p50, 5 * NSEC_PER_MSEC, 2.0, "p50");
	} else {
		ck_assert_int_eq(sum.max, -1);
		ck_assert_int_eq(sum.p50, -1);
	}
	/* The since-start view never forgets. */
	latency_summarize(l, 0, at + c->age, &sum);
	ck_assert_uint_eq(sum.count, 1);
	ck_assert_int_eq(sum.max, 5 * NSEC_PER_MSEC);
	free(l);
}
END_TEST

/* A count window forgets exactly when a latency window does, at every age and phase. */
START_TEST(test_count_window_age)
{
	const size_t n_off = sizeof(window_offsets) / sizeof(window_offsets[0]);
	const struct window_case *c = &window_cases[(size_t)_i / n_off];
	int64_t at = 1000 * NSEC_PER_SEC + window_offsets[(size_t)_i % n_off];
	struct count_window w = { 0 };

	count_window_add(&w, at);
	count_window_add(&w, at);
	ck_assert_msg(count_window_sum(&w, at + c->age) == (c->stays ? 2u : 0u),
		      "added at %lld, age %lld", (long long)at, (long long)c->age);
}
END_TEST

/* Counts in different slots add up; a slot reused after a gap starts from zero. */
START_TEST(test_count_window_slots)
{
	struct count_window w = { 0 };
	int64_t t0 = 500 * NSEC_PER_SEC;

	for (int k = 0; k < 6; k++)
		for (int i = 0; i <= k; i++)
			count_window_add(&w, t0 + k * 10 * NSEC_PER_SEC);
	ck_assert_uint_eq(count_window_sum(&w, t0 + 50 * NSEC_PER_SEC), 21);
	/* Ten seconds on, the first slot (1 event) has left. */
	ck_assert_uint_eq(count_window_sum(&w, t0 + 60 * NSEC_PER_SEC), 20);
	count_window_add(&w, t0 + 60 * NSEC_PER_SEC);
	ck_assert_uint_eq(count_window_sum(&w, t0 + 60 * NSEC_PER_SEC), 21);
	/* After an hour of nothing, one event is all there is. */
	count_window_add(&w, t0 + 3600 * NSEC_PER_SEC);
	ck_assert_uint_eq(count_window_sum(&w, t0 + 3600 * NSEC_PER_SEC), 1);
	ck_assert_uint_eq(count_window_sum(&w, t0 + 3661 * NSEC_PER_SEC), 0);
}
END_TEST

START_TEST(test_window_merges_slots)
{
	struct latency *l = calloc(1, sizeof(*l));
	struct hist *m = calloc(1, sizeof(*m));
	struct latency_summary sum;
	uint64_t want = 0;

	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_nonnull(m);
	/* Slot k (k = 0..5) gets k + 1 values of (k + 1) ms. */
	for (int64_t k = 0; k < HIST_WINDOW_SLOTS; k++) {
		for (int64_t j = 0; j <= k; j++)
			latency_record(l, (k + 1) * NSEC_PER_MSEC, T0 + k * HIST_SLOT_NS + j);
		want += (uint64_t)(k + 1);
	}
	latency_window_merge(l, T0 + 5 * HIST_SLOT_NS + 1000, m);
	ck_assert_uint_eq(m->count, want);
	ck_assert_int_eq(m->max, 6 * NSEC_PER_MSEC);
	for (int64_t k = 0; k < HIST_WINDOW_SLOTS; k++)
		ck_assert_uint_eq(m->b[hist_bucket_of((k + 1) * NSEC_PER_MSEC)], (uint64_t)(k + 1));
	/* 21 values: the 11th (rank 10) is the first of slot 4's five 5 ms values. */
	latency_summarize(l, 1, T0 + 5 * HIST_SLOT_NS, &sum);
	ck_assert_uint_eq(sum.count, 21);
	assert_near(sum.p50, 5 * NSEC_PER_MSEC, 2.0, "p50");
	ck_assert_int_eq(sum.max, 6 * NSEC_PER_MSEC);
	/* One slot later the oldest slot (one value of 1 ms) has left the window. */
	latency_window_merge(l, T0 + 6 * HIST_SLOT_NS, m);
	ck_assert_uint_eq(m->count, want - 1);
	ck_assert_uint_eq(m->b[hist_bucket_of(NSEC_PER_MSEC)], 0);
	/* Two slots later the 2 ms values are gone too. */
	latency_window_merge(l, T0 + 7 * HIST_SLOT_NS, m);
	ck_assert_uint_eq(m->count, want - 3);
	free(m);
	free(l);
}
END_TEST

START_TEST(test_window_max_leaves_with_slot)
{
	struct latency *l = calloc(1, sizeof(*l));
	struct latency_summary sum;

	ck_assert_ptr_nonnull(l);
	latency_record(l, 2 * NSEC_PER_SEC, T0);
	latency_record(l, 3 * NSEC_PER_MSEC, T0 + 30 * NSEC_PER_SEC);
	latency_summarize(l, 1, T0 + 40 * NSEC_PER_SEC, &sum);
	ck_assert_uint_eq(sum.count, 2);
	ck_assert_int_eq(sum.max, 2 * NSEC_PER_SEC);
	latency_summarize(l, 1, T0 + 75 * NSEC_PER_SEC, &sum);
	ck_assert_uint_eq(sum.count, 1);
	ck_assert_int_eq(sum.max, 3 * NSEC_PER_MSEC);
	assert_near(sum.p99, 3 * NSEC_PER_MSEC, 2.0, "p99");
	latency_summarize(l, 0, T0 + 75 * NSEC_PER_SEC, &sum);
	ck_assert_uint_eq(sum.count, 2);
	ck_assert_int_eq(sum.max, 2 * NSEC_PER_SEC);
	free(l);
}
END_TEST

/* Recording again after a long quiet spell must clear every stale slot, including the
 * one the new value lands in. */
START_TEST(test_window_reuse_after_gap)
{
	static const int64_t gaps[] = { 61, 65, 69, 70, 125, 3600 };
	struct latency *l = calloc(1, sizeof(*l));
	struct latency_summary sum;
	int64_t now = T0;

	ck_assert_ptr_nonnull(l);
	for (size_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
		for (int64_t k = 0; k < HIST_WINDOW_SLOTS; k++)
			latency_record(l, 7 * NSEC_PER_SEC, now + k * HIST_SLOT_NS);
		now += 5 * HIST_SLOT_NS + gaps[g] * NSEC_PER_SEC;
		latency_record(l, 1 * NSEC_PER_MSEC, now);
		latency_summarize(l, 1, now, &sum);
		ck_assert_msg(sum.count == 1, "gap %llds: count %llu", (long long)gaps[g],
			      (unsigned long long)sum.count);
		ck_assert_int_eq(sum.max, NSEC_PER_MSEC);
		now += HIST_WINDOW_SLOTS * HIST_SLOT_NS + 1;
	}
	free(l);
}
END_TEST

START_TEST(test_window_uniform_last_minute)
{
	struct latency *l = calloc(1, sizeof(*l));
	struct latency_summary sum;
	int64_t now = T0;

	ck_assert_ptr_nonnull(l);
	/* Two minutes of 1 ms values, then 50 s of uniform 1..50000 us, one per ms. */
	for (int64_t k = 0; k < 120000; k++)
		latency_record(l, NSEC_PER_MSEC, now + k * NSEC_PER_MSEC);
	now += 200 * NSEC_PER_SEC;
	for (int64_t k = 0; k < 50000; k++)
		latency_record(l, ((k * 7919) % 50000 + 1) * NSEC_PER_USEC, now + k * NSEC_PER_MSEC);
	now += 50000 * NSEC_PER_MSEC;
	latency_summarize(l, 1, now, &sum);
	ck_assert_uint_eq(sum.count, 50000);
	ck_assert_int_eq(sum.max, 50000 * NSEC_PER_USEC);
	assert_near(sum.p50, 25000 * NSEC_PER_USEC, 2.0, "window p50");
	assert_near(sum.p90, 45000 * NSEC_PER_USEC, 2.0, "window p90");
	assert_near(sum.p99, 49500 * NSEC_PER_USEC, 2.0, "window p99");
	latency_summarize(l, 0, now, &sum);
	ck_assert_uint_eq(sum.count, 170000);
	free(l);
}
END_TEST

static Suite *histogram_suite(void)
{
	Suite *s = suite_create("histogram");
	TCase *tb = tcase_create("buckets");
	TCase *tq = tcase_create("quantiles");
	TCase *tw = tcase_create("window");

	tcase_add_test(tb, test_bucket_bounds_every_bucket);
	tcase_add_loop_test(tb, test_bucket_of_table, 0,
			    (int)(sizeof(bucket_cases) / sizeof(bucket_cases[0])));
	tcase_add_test(tb, test_bucket_of_random_values);
	tcase_add_test(tb, test_bucket_relative_width);
	suite_add_tcase(s, tb);

	tcase_add_test(tq, test_quantile_uniform);
	tcase_add_loop_test(tq, test_quantile_table, 0,
			    (int)(sizeof(quantile_cases) / sizeof(quantile_cases[0])));
	tcase_add_test(tq, test_empty_and_negative);
	suite_add_tcase(s, tq);

	tcase_add_loop_test(tw, test_window_age, 0,
			    (int)(sizeof(window_cases) / sizeof(window_cases[0]) *
				  (sizeof(window_offsets) / sizeof(window_offsets[0]))));
	tcase_add_loop_test(tw, test_count_window_age, 0,
			    (int)(sizeof(window_cases) / sizeof(window_cases[0]) *
				  (sizeof(window_offsets) / sizeof(window_offsets[0]))));
	tcase_add_test(tw, test_count_window_slots);
	tcase_add_test(tw, test_window_merges_slots);
	tcase_add_test(tw, test_window_max_leaves_with_slot);
	tcase_add_test(tw, test_window_reuse_after_gap);
	tcase_add_test(tw, test_window_uniform_last_minute);
	suite_add_tcase(s, tw);
	return s;
}

CHECK_MAIN(histogram_suite)
