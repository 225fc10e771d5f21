/* Unit tests for the resolver: answers from /etc/hosts and the group database through
 * the threads, and, with no thread at all, the parts the loop owns: deadlines, cancel
 * and the bound on queued queries. */
#include <check.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"
#include "util.h"
#include "check_main.h"

/* What the callback saw. */
struct seen {
	unsigned calls;
	uint64_t id;
	struct resolve_answer a;
};

static void on_answer(void *owner, uint64_t id, const struct resolve_answer *a)
{
	struct seen *s = owner;

	s->calls++;
	s->id = id;
	s->a = *a;
}

static struct resolve_query query(enum resolve_kind kind, const char *name, int64_t deadline)
{
	struct resolve_query q = { .kind = kind, .port = 80, .family = AFAM_IPV4,
				   .deadline = deadline };

	snprintf(q.name, sizeof(q.name), "%s", name);
	return q;
}

START_TEST(test_hosts_and_groups)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG,
				  .ai_family = AF_INET };
	struct addrinfo *res = NULL;
	bool resolvable = getaddrinfo("localhost", NULL, &hints, &res) == 0;
	struct resolve_query q = query(RESOLVE_ADDRESS, "localhost", now_ns() + 10 * NSEC_PER_SEC);
	struct seen a = { 0 }, g = { 0 }, none = { 0 };
	struct resolver *r;
	uint64_t id;
	char text[64];

	if (res)
		freeaddrinfo(res);
	ck_assert_int_eq(resolver_new(RESOLVE_THREADS, &r), 0);
	ck_assert_int_eq(resolve_submit(r, &q, on_answer, &a, &id), 0);
	q = query(RESOLVE_GROUP, "root", q.deadline);
	ck_assert_int_eq(resolve_submit(r, &q, on_answer, &g, &id), 0);
	q = query(RESOLVE_GROUP, "no_such_group_mconn", q.deadline);
	ck_assert_int_eq(resolve_submit(r, &q, on_answer, &none, &id), 0);
	resolve_wait(r);
	ck_assert_uint_eq(resolve_pending(r), 0);
	ck_assert_uint_eq(a.calls, 1);
	if (resolvable) {
		ck_assert_int_eq(a.a.err, 0);
		ck_assert_str_eq(format_address(&a.a.addr, text, sizeof(text)), "127.0.0.1:80");
	}
	ck_assert_uint_eq(g.calls, 1);
	ck_assert_int_eq(g.a.err, 0);
	ck_assert_uint_eq(g.a.gid, 0);
	ck_assert_uint_eq(none.calls, 1);
	ck_assert_int_eq(none.a.err, -ENOENT);
	resolver_free(r);
}
END_TEST

/* A resolver without threads and one query due at 1000 in it. */
static struct resolver *idle_with_one(struct resolve_query *q, struct seen *s, uint64_t *ret_id)
{
	struct resolver *r;

	*q = query(RESOLVE_ADDRESS, "x.example", 1000);
	ck_assert_int_eq(resolver_new(0, &r), 0);
	ck_assert_int_eq(resolve_submit(r, q, on_answer, s, ret_id), 0);
	return r;
}

/* With no thread, a query is answered by its deadline, on the dispatching side. */
START_TEST(test_deadline)
{
	struct resolve_query q;
	struct seen s = { 0 };
	uint64_t id;
	struct resolver *r = idle_with_one(&q, &s, &id);

	ck_assert_int_eq(resolve_next_due(r), 1000);
	resolve_dispatch(r, 999);
	ck_assert_uint_eq(s.calls, 0);
	resolve_dispatch(r, 1000);
	ck_assert_uint_eq(s.calls, 1);
	ck_assert_uint_eq(s.id, id);
	ck_assert_int_eq(s.a.err, -ETIMEDOUT);
	ck_assert_int_eq(resolve_next_due(r), INT64_MAX);
	resolve_dispatch(r, 5000);
	ck_assert_uint_eq(s.calls, 1);
	resolver_free(r);
}
END_TEST

START_TEST(test_cancel)
{
	struct resolve_query q;
	struct seen s = { 0 };
	uint64_t id;
	struct resolver *r = idle_with_one(&q, &s, &id);

	ck_assert_uint_eq(resolve_pending(r), 1);
	resolve_cancel(r, id);
	resolve_cancel(r, id + 100);
	ck_assert_uint_eq(resolve_pending(r), 0);
	resolve_dispatch(r, 2000);
	ck_assert_uint_eq(s.calls, 0);
	resolver_free(r);
}
END_TEST

/* The table is bounded: a query beyond it is refused with -EAGAIN, and a slot freed
 * by a deadline takes one again. */
START_TEST(test_bounded)
{
	struct resolve_query q;
	struct seen s = { 0 };
	uint64_t id;
	struct resolver *r = idle_with_one(&q, &s, &id);

	for (unsigned i = 1; i < RESOLVE_MAX_JOBS; i++)
		ck_assert_int_eq(resolve_submit(r, &q, on_answer, &s, &id), 0);
	ck_assert_int_eq(resolve_submit(r, &q, on_answer, &s, &id), -EAGAIN);
	resolve_dispatch(r, 1000);
	ck_assert_uint_eq(s.calls, RESOLVE_MAX_JOBS);
	ck_assert_int_eq(resolve_submit(r, &q, on_answer, &s, &id), 0);
	resolver_free(r);
}
END_TEST

static Suite *resolve_suite(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("resolver");

	tcase_add_test(tc, test_hosts_and_groups);
	tcase_add_test(tc, test_deadline);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_bounded);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(resolve_suite)
