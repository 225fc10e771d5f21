/* Unit tests for the monitoring-plugins ranges and mconnctl check's threshold lists
 * (range.c): the syntax table of the plugin guidelines, units, what alerts, errors,
 * and the ranges written back for perfdata. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "range.h"
#include "util.h"
#include "check_main.h"

static const struct range_unit plain[] = { { "", 1 }, { NULL, 0 } };
static const struct range_unit ms[] = { { "", 1 }, { "ms", 1 }, { "us", 1e-3 }, { "s", 1e3 },
					{ NULL, 0 } };

/* A range and values on each side of its ends: whether each alerts. */
static const struct {
	const char *text;
	double v[5];
	bool alert[5];
} cases[] = {
	{ "10", { -1, 0, 10, 10.5, 5 }, { true, false, false, true, false } },
	{ "10:", { 9.9, 10, 11, 1e9, -5 }, { true, false, false, false, true } },
	{ "~:10", { -1e9, 10, 10.1, 0, -1 }, { false, false, true, false, false } },
	{ "10:20", { 9, 10, 15, 20, 21 }, { true, false, false, false, true } },
	{ "@10:20", { 9, 10, 15, 20, 21 }, { false, true, true, true, false } },
	{ "@10", { -1, 0, 5, 10, 11 }, { false, true, true, true, false } },
	{ "0.5:1.5", { 0.4, 0.5, 1, 1.5, 1.6 }, { true, false, false, false, true } },
	{ "-5:5", { -6, -5, 0, 5, 6 }, { true, false, false, false, true } },
	{ ":7", { -1, 0, 7, 8, 3 }, { true, false, false, true, false } },
};

START_TEST(test_alert_table)
{
	struct range r;

	ck_assert_int_eq(range_parse(cases[_i].text, plain, &r), 0);
	for (int k = 0; k < 5; k++)
		ck_assert_msg(range_alert(&r, cases[_i].v[k]) == cases[_i].alert[k], "%s at %g",
			      cases[_i].text, cases[_i].v[k]);
}
END_TEST

START_TEST(test_bad)
{
	static const char *const bad[] = { "", "@", "~", "abc", "10:5", "1:2:3", "~10",
					   "10x", "inf", "nan", ":", "@~", "1e999", " 5" };
	struct range r = { 1, 2, true };

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int e = range_parse(bad[i], plain, &r);

		ck_assert_msg(e < 0, "'%s' accepted", bad[i]);
		ck_assert_msg(r.start == 1 && r.end == 2 && r.inside, "'%s' wrote the range", bad[i]);
	}
	ck_assert_int_eq(range_parse("10:5", plain, &r), -ERANGE);
	ck_assert_int_eq(range_parse("1:2:3", plain, &r), -EINVAL);
}
END_TEST

START_TEST(test_units)
{
	struct range r;

	ck_assert_int_eq(range_parse("50ms", ms, &r), 0);
	ck_assert(r.start == 0 && r.end == 50 && !r.inside);
	ck_assert_int_eq(range_parse("0.5s", ms, &r), 0);
	ck_assert(r.end == 500);
	ck_assert_int_eq(range_parse("@250us:2s", ms, &r), 0);
	ck_assert(r.inside && r.start == 0.25 && r.end == 2000);
	ck_assert_int_eq(range_parse("~:3", ms, &r), 0);
	ck_assert(isinf(r.start) && r.start < 0 && r.end == 3);
	ck_assert_int_eq(range_parse("5m", ms, &r), -EINVAL);
	ck_assert_int_eq(range_parse("5ms", plain, &r), -EINVAL);
}
END_TEST

START_TEST(test_format)
{
	static const char *const round_trip[] = { "10", "10:", "~:10", "10:20", "@10:20",
						  "@0:10", "0.5:1.5", "~:" };
	struct range r;
	char o[64];

	for (size_t i = 0; i < ELEMENTSOF(round_trip); i++) {
		ck_assert_int_eq(range_parse(round_trip[i], plain, &r), 0);
		ck_assert_str_eq(range_format(&r, o, sizeof(o)), round_trip[i]);
	}
	ck_assert_int_eq(range_parse("0.2s", ms, &r), 0);
	ck_assert_str_eq(range_format(&r, o, sizeof(o)), "200");
	ck_assert_int_eq(range_parse("@10", plain, &r), 0);
	ck_assert_str_eq(range_format(&r, o, sizeof(o)), "@0:10");
}
END_TEST

START_TEST(test_thresholds)
{
	struct thresholds t;
	char err[256];

	ck_assert_int_eq(thresholds_parse("p99=50ms,fail=1%", &t, err, sizeof(err)), 0);
	ck_assert(t.has_p99 && t.has_fail);
	ck_assert(t.p99.end == 50 && t.fail.end == 1);
	ck_assert_int_eq(thresholds_parse("fail=@5:10", &t, err, sizeof(err)), 0);
	ck_assert(!t.has_p99 && t.has_fail && t.fail.inside && t.fail.start == 5);
	ck_assert_int_eq(thresholds_parse("p99=1s", &t, err, sizeof(err)), 0);
	ck_assert(t.has_p99 && !t.has_fail && t.p99.end == 1000);
	ck_assert_int_eq(thresholds_parse("fail=2,p99=~:20", &t, err, sizeof(err)), 0);
	ck_assert(t.fail.end == 2 && t.p99.end == 20 && isinf(t.p99.start));
	/* cert=DAYS: fewer days left alert; DAYS itself and more do not. */
	ck_assert_int_eq(thresholds_parse("p99=5,cert=30", &t, err, sizeof(err)), 0);
	ck_assert(t.has_cert && t.has_p99 && !t.has_fail);
	ck_assert(range_alert(&t.cert, 29) && range_alert(&t.cert, -1));
	ck_assert(!range_alert(&t.cert, 30) && !range_alert(&t.cert, 5000));
	ck_assert_int_eq(thresholds_parse("cert=0", &t, err, sizeof(err)), 0);
	ck_assert(t.has_cert && !t.has_p99 && range_alert(&t.cert, -1) && !range_alert(&t.cert, 0));
}
END_TEST

START_TEST(test_thresholds_bad)
{
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
		{ "", "empty threshold" },
		{ "p50=10", "bad threshold 'p50=10'; expected p99=RANGE, fail=RANGE or cert=DAYS" },
		{ "cert=", "bad threshold 'cert='; expected cert=DAYS, a whole number of days" },
		{ "cert=-1", "bad threshold 'cert=-1'" },
		{ "cert=7d", "bad threshold 'cert=7d'" },
		{ "cert=100001", "bad threshold 'cert=100001'" },
		{ "p99", "bad threshold 'p99'" },
		{ "p99=10x", "bad range in 'p99=10x'; numbers take us, ms (default) or s" },
		{ "fail=1ms", "bad range in 'fail=1ms'; numbers are percent" },
		{ "fail=5:1", "bad range in 'fail=5:1': start above end" },
		{ "p99=5,", "threshold list ends with ','" },
		{ "p99=5,,fail=1", "bad threshold ''" },
	};
	struct thresholds t = { .has_p99 = true };
	char err[256];

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		err[0] = '\0';
		ck_assert_int_eq(thresholds_parse(bad[i].text, &t, err, sizeof(err)), -EINVAL);
		ck_assert_msg(strncmp(err, bad[i].msg, strlen(bad[i].msg)) == 0, "'%s': %s",
			      bad[i].text, err);
		ck_assert(t.has_p99 && !t.has_fail);
	}
}
END_TEST

static Suite *range_suite(void)
{
	Suite *s = suite_create("range");
	TCase *tc = tcase_create("range");

	tcase_add_loop_test(tc, test_alert_table, 0, ELEMENTSOF(cases));
	tcase_add_test(tc, test_bad);
	tcase_add_test(tc, test_units);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_thresholds);
	tcase_add_test(tc, test_thresholds_bad);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(range_suite)
