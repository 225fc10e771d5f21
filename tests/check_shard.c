/* Unit tests for the fleet's assignment (shard.c): every target on exactly R of the
 * N shards, the balance, what growing N moves (and that nothing moves between the old
 * shards), pins, the fixed hash, and the parsers. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"
#include "util.h"
#include "check_main.h"

#define NAMES 10000

static char names_buf[NAMES][32];
static const char *names[NAMES];

static void names_setup(void)
{
	for (int i = 0; i < NAMES; i++) {
		snprintf(names_buf[i], sizeof(names_buf[i]), "echo-%d.example", i);
		names[i] = names_buf[i];
	}
}

START_TEST(test_exactly_r)
{
	for (unsigned n = 1; n <= 12; n++) {
		for (unsigned r = 1; r <= n; r++) {
			for (int i = 0; i < 500; i++) {
				uint64_t m = shard_owners(names[i], NULL, n, r);

				ck_assert_int_eq(__builtin_popcountll(m), (int)r);
				ck_assert_uint_eq(m >> n, 0);
			}
		}
	}
	ck_assert_int_eq(__builtin_popcountll(shard_owners("x", NULL, SHARD_MAX, SHARD_MAX)),
			 SHARD_MAX);
}
END_TEST

/* Targets per checker stay within 10 % of the mean for 10,000 names. */
START_TEST(test_balance)
{
	static const unsigned ns[] = { 2, 3, 4, 5, 8, 16 };

	for (size_t i = 0; i < ELEMENTSOF(ns); i++) {
		for (unsigned r = 1; r <= 2; r++) {
			struct shard_stats s;

			shard_stats(names, NAMES, ns[i], r, &s);
			ck_assert_msg(s.min >= 0.9 * s.mean && s.max <= 1.1 * s.mean,
				      "n=%u r=%u: min %zu max %zu mean %.1f", ns[i], r, s.min, s.max,
				      s.mean);
		}
	}
}
END_TEST

/* From n to n + 1 about 1/(n + 1) of the assignments move, all to the new shard. */
START_TEST(test_growth_moves_little)
{
	for (unsigned n = 1; n < 12; n++) {
		for (unsigned r = 1; r <= n && r <= 3; r++) {
			struct shard_stats s;
			double f, want = 1.0 / (n + 1);

			for (int i = 0; i < NAMES; i++) {
				uint64_t a = shard_owners(names[i], NULL, n, r);
				uint64_t b = shard_owners(names[i], NULL, n + 1, r);

				ck_assert_msg((b & ~a) == 0 || (b & ~a) == SHARD_BIT(n + 1),
					      "%s moved between old shards at n=%u r=%u", names[i], n, r);
			}
			shard_stats(names, NAMES, n, r, &s);
			f = (double)s.moved / (double)s.assignments;
			ck_assert_msg(f <= 1.15 * want && f >= 0.85 * want,
				      "n=%u r=%u: moved %.4f, expected about %.4f", n, r, f, want);
		}
	}
}
END_TEST

START_TEST(test_pins)
{
	struct shard_pin p;

	ck_assert_int_eq(shard_parse_pin("1,3", &p), 0);
	ck_assert_uint_eq(p.mask, SHARD_BIT(1) | SHARD_BIT(3));
	ck_assert_uint_eq(shard_owners("a", &p, 4, 1), SHARD_BIT(1) | SHARD_BIT(3));
	ck_assert_int_eq(shard_parse_pin(" 2 , 64", &p), 0);
	ck_assert_uint_eq(p.mask, SHARD_BIT(2) | SHARD_BIT(64));
	ck_assert_int_eq(shard_parse_pin("all", &p), 0);
	ck_assert_uint_eq(shard_owners("a", &p, 4, 1), 0xf);
	ck_assert_uint_eq(shard_owners("a", &p, 64, 1), UINT64_MAX);
	static const char *const bad[] = { "", "0", "65", "1,1", "1,", ",1", "a", "1;2",
					   "-1", "1 2", "ALL", "0001" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		ck_assert_msg(shard_parse_pin(bad[i], &p) == -EINVAL, "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(test_parse)
{
	unsigned k = 0, n = 0;
	static const char *const bad[] = { "", "1", "0/4", "5/4", "1/0", "1/65", "1/4x", "/4",
					   "1/", " 1/4", "1 /4", "a/b" };

	ck_assert_int_eq(shard_parse("2/4", &k, &n), 0);
	ck_assert_uint_eq(k, 2);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(shard_parse("64/64", &k, &n), 0);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		ck_assert_msg(shard_parse(bad[i], &k, &n) == -EINVAL, "'%s' accepted", bad[i]);
}
END_TEST

/* The hash is part of the interface: checkers of different versions must agree. The
 * values were computed by an independent Python implementation of the same hash. */
START_TEST(test_hash_fixed)
{
	char out[64];

	ck_assert_uint_eq(shard_weight("", 0), UINT64_C(0xf98bd1e916d5e6c4));
	ck_assert_uint_eq(shard_weight("echo-1", 3), UINT64_C(0x9d11db55114a60c1));
	ck_assert_str_eq(shard_mask_format(shard_owners("echo-1", NULL, 5, 2), out, sizeof(out)),
			 "3,5");
	ck_assert_str_eq(shard_mask_format(SHARD_BIT(1) | SHARD_BIT(64), out, sizeof(out)), "1,64");
}
END_TEST

static Suite *shard_suite(void)
{
	Suite *s = suite_create("shard");
	TCase *tc = tcase_create("shard");

	tcase_add_unchecked_fixture(tc, names_setup, NULL);
	tcase_add_test(tc, test_exactly_r);
	tcase_add_test(tc, test_balance);
	tcase_add_test(tc, test_growth_moves_little);
	tcase_add_test(tc, test_pins);
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_hash_fixed);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(shard_suite)
