/* Unit tests for the deadline heap: ordering, moving, cancelling, growing, and a long
 * randomized run checked step by step against a plain array model.
 * The long runs compare in bulk and call Check only on a mismatch: under CK_FORK every
 * passing ck_assert is a write to Check's pipe, and millions of them made the suite
 * miss Check's 4 s default timeout on a loaded machine. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "timer.h"
#include "check_main.h"

#define MODEL_IDS 64u

/* A small deterministic PRNG (xorshift64*), so failures replay exactly. */
static uint64_t rng_next(uint64_t *st)
{
	uint64_t x = *st;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*st = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* The first way the heap property or the slot_of mirror is broken, in why; 0 if none. */
static int heap_problem(const struct timer_heap *h, char *why, size_t len)
{
	uint32_t armed = 0;

	if (h->n > h->cap)
		return snprintf(why, len, "%u entries in a heap of %u", h->n, h->cap), 1;
	for (uint32_t i = 0; i < h->n; i++) {
		if (h->v[i].id >= h->ids)
			return snprintf(why, len, "slot %u holds id %u of %u", i, h->v[i].id, h->ids), 1;
		if (h->slot_of[h->v[i].id] != i)
			return snprintf(why, len, "slot %u holds id %u, whose slot_of is %u", i,
					h->v[i].id, h->slot_of[h->v[i].id]), 1;
		if (i > 0 && h->v[(i - 1) / 2].due > h->v[i].due)
			return snprintf(why, len, "slot %u (due %lld) is below its parent (due %lld)", i,
					(long long)h->v[i].due, (long long)h->v[(i - 1) / 2].due), 1;
	}
	for (uint32_t id = 0; id < h->ids; id++)
		if (h->slot_of[id] != TIMER_NONE)
			armed++;
	if (armed != h->n)
		return snprintf(why, len, "%u ids armed, %u entries", armed, h->n), 1;
	return 0;
}

/* Check the heap property and that slot_of mirrors every entry. */
static void heap_check(const struct timer_heap *h)
{
	char why[160];

	if (heap_problem(h, why, sizeof(why)))
		ck_abort_msg("heap broken: %s", why);
}

START_TEST(test_init_empty)
{
	struct timer_heap h;
	uint32_t id = 77;

	ck_assert_int_eq(timer_heap_init(&h, 8), 0);
	ck_assert_uint_eq(h.n, 0);
	ck_assert_uint_eq(h.ids, 8);
	ck_assert_int_eq(timer_next_due(&h), INT64_MAX);
	ck_assert_int_eq(timer_pop_due(&h, INT64_MAX, &id), -EAGAIN);
	ck_assert_uint_eq(id, 77);
	for (uint32_t i = 0; i < 8; i++)
		ck_assert(!timer_armed(&h, i));
	ck_assert(!timer_armed(&h, 8));
	ck_assert(!timer_armed(&h, TIMER_NONE));
	timer_cancel(&h, 3);
	timer_cancel(&h, 1000);
	ck_assert_uint_eq(h.n, 0);
	timer_heap_free(&h);
	ck_assert_ptr_null(h.v);
	ck_assert_ptr_null(h.slot_of);
}
END_TEST

START_TEST(test_random_pop_order)
{
	enum { N = 2000 };
	struct timer_heap h;
	uint64_t st = 0x9E3779B97F4A7C15ULL;
	uint8_t seen[N] = { 0 };
	int64_t last = INT64_MIN;
	uint32_t id;

	ck_assert_int_eq(timer_heap_init(&h, N), 0);
	for (uint32_t i = 0; i < N; i++)
		timer_set(&h, i, (int64_t)(rng_next(&st) % 5000) - 1000);
	heap_check(&h);
	ck_assert_uint_eq(h.n, N);
	for (uint32_t k = 0; k < N; k++) {
		int64_t due = timer_next_due(&h);
		int rc = timer_pop_due(&h, INT64_MAX, &id);

		if (rc != 0 || id >= N || seen[id] || timer_armed(&h, id) || due < last)
			ck_abort_msg("pop %u: rc %d, id %u (seen %d, armed %d), due %lld after %lld", k,
				     rc, id, id < N ? seen[id] : -1, id < N && timer_armed(&h, id),
				     (long long)due, (long long)last);
		seen[id] = 1;
		last = due;
		if (k % 97 == 0)
			heap_check(&h);
	}
	ck_assert_uint_eq(h.n, 0);
	ck_assert_int_eq(timer_pop_due(&h, INT64_MAX, &id), -EAGAIN);
	timer_heap_free(&h);
}
END_TEST

/* Pop everything due by now into out; returns how many. */
static uint32_t pop_all(struct timer_heap *h, int64_t now, uint32_t *out, uint32_t max)
{
	uint32_t n = 0, id;

	while (n < max && timer_pop_due(h, now, &id) == 0)
		out[n++] = id;
	return n;
}

static const struct set_case {
	const char *what;
	uint32_t id;
	int64_t due;
	uint32_t order[5];
} set_cases[] = {
	{ "move last to first", 4, 5, { 4, 0, 1, 2, 3 } },
	{ "move first to last", 0, 100, { 1, 2, 3, 4, 0 } },
	{ "move middle earlier", 3, 15, { 0, 3, 1, 2, 4 } },
	{ "move middle later", 1, 45, { 0, 2, 3, 1, 4 } },
	{ "move middle past the tail", 1, 60, { 0, 2, 3, 4, 1 } },
	{ "same due keeps set", 2, 30, { 0, 1, 2, 3, 4 } },
	{ "move last earlier by one step", 4, 35, { 0, 1, 2, 4, 3 } },
};

START_TEST(test_set_moves)
{
	const struct set_case *c = &set_cases[_i];
	struct timer_heap h;
	uint32_t out[8];

	ck_assert_int_eq(timer_heap_init(&h, 5), 0);
	for (uint32_t i = 0; i < 5; i++)
		timer_set(&h, i, 10 * (int64_t)(i + 1));
	timer_set(&h, c->id, c->due);
	heap_check(&h);
	ck_assert_msg(h.n == 5, "%s: %u entries", c->what, h.n);
	ck_assert_uint_eq(pop_all(&h, INT64_MAX, out, 8), 5);
	for (uint32_t i = 0; i < 5; i++)
		ck_assert_msg(out[i] == c->order[i], "%s: pop %u gave id %u, want %u", c->what, i,
			      out[i], c->order[i]);
	timer_heap_free(&h);
}
END_TEST

START_TEST(test_cancel_middle)
{
	struct timer_heap h;
	uint32_t out[16], n;
	int64_t prev = INT64_MIN;

	ck_assert_int_eq(timer_heap_init(&h, 16), 0);
	for (uint32_t i = 0; i < 15; i++)
		timer_set(&h, i, (int64_t)((i * 7) % 15));
	/* Cancel entries sitting in the middle of the array, not just the root or the tail. */
	for (uint32_t slot = 5; slot <= 7; slot++) {
		uint32_t id = h.v[slot].id;

		timer_cancel(&h, id);
		ck_assert(!timer_armed(&h, id));
		heap_check(&h);
	}
	ck_assert_uint_eq(h.n, 12);
	timer_cancel(&h, 15);
	timer_cancel(&h, 15);
	ck_assert_uint_eq(h.n, 12);
	n = pop_all(&h, INT64_MAX, out, 16);
	ck_assert_uint_eq(n, 12);
	for (uint32_t i = 0; i < n; i++) {
		int64_t due = (int64_t)((out[i] * 7) % 15);

		ck_assert_int_ge(due, prev);
		prev = due;
	}
	timer_heap_free(&h);
}
END_TEST

START_TEST(test_cancel_last_and_root)
{
	struct timer_heap h;
	uint32_t id;

	ck_assert_int_eq(timer_heap_init(&h, 4), 0);
	timer_set(&h, 0, 10);
	timer_set(&h, 1, 20);
	timer_set(&h, 2, 30);
	timer_cancel(&h, h.v[h.n - 1].id);
	heap_check(&h);
	timer_cancel(&h, h.v[0].id);
	heap_check(&h);
	ck_assert_uint_eq(h.n, 1);
	ck_assert_int_eq(timer_next_due(&h), 20);
	ck_assert_int_eq(timer_pop_due(&h, 20, &id), 0);
	ck_assert_uint_eq(id, 1);
	timer_heap_free(&h);
}
END_TEST

START_TEST(test_rearm)
{
	struct timer_heap h;
	uint32_t id;

	ck_assert_int_eq(timer_heap_init(&h, 4), 0);
	timer_set(&h, 2, 100);
	timer_set(&h, 2, 50);
	timer_set(&h, 2, 70);
	ck_assert_uint_eq(h.n, 1);
	ck_assert_int_eq(timer_next_due(&h), 70);
	ck_assert_int_eq(timer_pop_due(&h, 70, &id), 0);
	ck_assert_uint_eq(id, 2);
	ck_assert(!timer_armed(&h, 2));
	timer_set(&h, 2, 170);
	ck_assert(timer_armed(&h, 2));
	ck_assert_int_eq(timer_next_due(&h), 170);
	timer_cancel(&h, 2);
	timer_set(&h, 2, 5);
	ck_assert_uint_eq(h.n, 1);
	ck_assert_int_eq(timer_next_due(&h), 5);
	timer_heap_free(&h);
}
END_TEST

START_TEST(test_pop_due_respects_now)
{
	struct timer_heap h;
	uint32_t id = 99;

	ck_assert_int_eq(timer_heap_init(&h, 4), 0);
	timer_set(&h, 3, 30);
	timer_set(&h, 1, 10);
	timer_set(&h, 2, 20);
	ck_assert_int_eq(timer_next_due(&h), 10);
	ck_assert_int_eq(timer_pop_due(&h, 9, &id), -EAGAIN);
	ck_assert_uint_eq(id, 99);
	ck_assert_uint_eq(h.n, 3);
	ck_assert_int_eq(timer_pop_due(&h, 20, &id), 0);
	ck_assert_uint_eq(id, 1);
	ck_assert_int_eq(timer_pop_due(&h, 20, &id), 0);
	ck_assert_uint_eq(id, 2);
	id = 99;
	ck_assert_int_eq(timer_pop_due(&h, 20, &id), -EAGAIN);
	ck_assert_uint_eq(id, 99);
	ck_assert_int_eq(timer_next_due(&h), 30);
	ck_assert_int_eq(timer_pop_due(&h, 30, &id), 0);
	ck_assert_uint_eq(id, 3);
	ck_assert_int_eq(timer_next_due(&h), INT64_MAX);
	timer_heap_free(&h);
}
END_TEST

/* After a stall the daemon moves every deadline on: order and ids are kept, and a
 * deadline near the end of time saturates instead of wrapping. */
START_TEST(test_shift_all)
{
	struct timer_heap h;
	uint32_t id;

	ck_assert_int_eq(timer_heap_init(&h, 4), 0);
	timer_set(&h, 0, 30);
	timer_set(&h, 1, 10);
	timer_set(&h, 2, INT64_MAX - 5);
	timer_set(&h, 3, 20);
	timer_shift(&h, 1000);
	heap_check(&h);
	ck_assert_int_eq(timer_due(&h, 1), 1010);
	ck_assert_int_eq(timer_due(&h, 3), 1020);
	ck_assert_int_eq(timer_due(&h, 0), 1030);
	ck_assert_int_eq(timer_due(&h, 2), INT64_MAX);
	ck_assert_int_eq(timer_pop_due(&h, 1009, &id), -EAGAIN);
	ck_assert_int_eq(timer_pop_due(&h, 1025, &id), 0);
	ck_assert_uint_eq(id, 1);
	ck_assert_int_eq(timer_pop_due(&h, 1025, &id), 0);
	ck_assert_uint_eq(id, 3);
	timer_heap_free(&h);
}
END_TEST

START_TEST(test_grow_keeps_entries)
{
	struct timer_heap h;
	uint32_t out[300], n;

	ck_assert_int_eq(timer_heap_init(&h, 4), 0);
	for (uint32_t i = 0; i < 4; i++)
		timer_set(&h, i, 1000 - (int64_t)i);
	ck_assert_int_eq(timer_heap_grow(&h, 2), 0);
	ck_assert_uint_eq(h.ids, 4);
	ck_assert_int_eq(timer_heap_grow(&h, 256), 0);
	ck_assert_uint_eq(h.ids, 256);
	heap_check(&h);
	for (uint32_t i = 0; i < 4; i++)
		ck_assert(timer_armed(&h, i));
	for (uint32_t i = 4; i < 256; i++) {
		ck_assert(!timer_armed(&h, i));
		timer_set(&h, i, (int64_t)(i * 3));
	}
	heap_check(&h);
	n = pop_all(&h, INT64_MAX, out, 300);
	ck_assert_uint_eq(n, 256);
	/* Ids 4..255 are due at 12..765, then 3, 2, 1, 0 at 997..1000. */
	for (uint32_t i = 0; i < 252; i++)
		ck_assert_uint_eq(out[i], i + 4);
	for (uint32_t i = 0; i < 4; i++)
		ck_assert_uint_eq(out[252 + i], 3 - i);
	timer_heap_free(&h);
}
END_TEST

/* The model: due[id] when armed[id]. */
struct model {
	int64_t due[MODEL_IDS];
	uint8_t armed[MODEL_IDS];
};

static int64_t model_min(const struct model *m)
{
	int64_t best = INT64_MAX;

	for (uint32_t i = 0; i < MODEL_IDS; i++)
		if (m->armed[i] && m->due[i] < best)
			best = m->due[i];
	return best;
}

/* The first difference between the heap and the model, in why; 0 if none. */
static int model_problem(const struct timer_heap *h, const struct model *m, char *why,
			 size_t len)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < MODEL_IDS; i++) {
		if ((timer_armed(h, i) != 0) != (m->armed[i] != 0))
			return snprintf(why, len, "id %u armed %d, model %d", i,
					timer_armed(h, i) != 0, m->armed[i]), 1;
		if (!m->armed[i])
			continue;
		if (h->v[h->slot_of[i]].due != m->due[i])
			return snprintf(why, len, "id %u due %lld, model %lld", i,
					(long long)h->v[h->slot_of[i]].due, (long long)m->due[i]), 1;
		n++;
	}
	if (h->n != n)
		return snprintf(why, len, "%u entries, model %u", h->n, n), 1;
	if (timer_next_due(h) != model_min(m))
		return snprintf(why, len, "next due %lld, model %lld", (long long)timer_next_due(h),
				(long long)model_min(m)), 1;
	return 0;
}

START_TEST(test_random_against_model)
{
	struct timer_heap h;
	struct model m = { { 0 }, { 0 } };
	uint64_t st = 20240601u;
	int64_t now = 0;
	unsigned pops = 0, sets = 0, cancels = 0;

	ck_assert_int_eq(timer_heap_init(&h, MODEL_IDS), 0);
	for (int step = 0; step < 20000; step++) {
		char why[160];
		uint64_t r = rng_next(&st);
		uint32_t id = (uint32_t)(r % MODEL_IDS);
		unsigned op = (unsigned)((r >> 8) % 10);

		if (op < 5) {
			/* Dues in a narrow range, so ties happen often. */
			int64_t due = now + (int64_t)((r >> 16) % 200) - 20;

			timer_set(&h, id, due);
			m.due[id] = due;
			m.armed[id] = 1;
			sets++;
		} else if (op < 7) {
			timer_cancel(&h, id);
			m.armed[id] = 0;
			cancels++;
		} else {
			int64_t min = model_min(&m);
			uint32_t got = TIMER_NONE;
			int rc = timer_pop_due(&h, now, &got);

			if (min > now) {
				if (rc != -EAGAIN || got != TIMER_NONE)
					ck_abort_msg("step %d: pop at %lld before the first due %lld: rc %d, id %u",
						     step, (long long)now, (long long)min, rc, got);
			} else {
				if (rc != 0 || got >= MODEL_IDS || !m.armed[got] || m.due[got] != min)
					ck_abort_msg("step %d: pop at %lld: rc %d, id %u, want one due at %lld",
						     step, (long long)now, rc, got, (long long)min);
				m.armed[got] = 0;
				pops++;
			}
			now += (int64_t)((r >> 24) % 30);
		}
		if (model_problem(&h, &m, why, sizeof(why)))
			ck_abort_msg("step %d (op %u, id %u): %s", step, op, id, why);
		if (heap_problem(&h, why, sizeof(why)))
			ck_abort_msg("step %d (op %u, id %u): heap broken: %s", step, op, id, why);
	}
	/* Make sure every kind of operation really ran many times. */
	ck_assert_uint_gt(pops, 1000);
	ck_assert_uint_gt(sets, 5000);
	ck_assert_uint_gt(cancels, 2000);
	heap_check(&h);
	timer_heap_free(&h);
}
END_TEST

static Suite *timer_suite(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("heap");

	tcase_add_test(tc, test_init_empty);
	tcase_add_test(tc, test_random_pop_order);
	tcase_add_loop_test(tc, test_set_moves, 0, (int)(sizeof(set_cases) / sizeof(set_cases[0])));
	tcase_add_test(tc, test_cancel_middle);
	tcase_add_test(tc, test_cancel_last_and_root);
	tcase_add_test(tc, test_rearm);
	tcase_add_test(tc, test_pop_due_respects_now);
	tcase_add_test(tc, test_grow_keeps_entries);
	tcase_add_test(tc, test_shift_all);
	tcase_add_test(tc, test_random_against_model);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(timer_suite)
