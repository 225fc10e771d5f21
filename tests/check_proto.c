/* Unit tests for the control protocol's framing (proto.c) and for the bounded buffer
 * it is read into and written from (util.c): splitting request words, finding the end
 * of a reply, the buffer's hard limit, JSON string escaping and consuming. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "util.h"
#include "check_main.h"

#define MAX_WORDS 4

static const struct {
	const char *line;
	int max;
	int ret;
	const char *words[MAX_WORDS];
} split_cases[] = {
	{ "status", 4, 1, { "status" } },
	{ "status web -j", 4, 3, { "status", "web", "-j" } },
	{ "  status\tweb\r", 4, 2, { "status", "web" } },
	{ "\t\tstats  \t \r web\r\r-j", 4, 3, { "stats", "web", "-j" } },
	{ "a b c d", 4, 4, { "a", "b", "c", "d" } },
	{ "a b c d e", 4, -E2BIG, { NULL } },
	{ "a b", 2, 2, { "a", "b" } },
	{ "a b ", 2, 2, { "a", "b" } },
	{ "a b c", 2, -E2BIG, { NULL } },
	{ "", 4, 0, { NULL } },
	{ "   \t\r ", 4, 0, { NULL } },
	{ "", 0, 0, { NULL } },
	{ "a", 0, -E2BIG, { NULL } },
	{ "x=1,y=2 \"q r\"", 4, 3, { "x=1,y=2", "\"q", "r\"" } },
};

START_TEST(test_split_words)
{
	char line[64], *argv[MAX_WORDS] = { NULL };
	int n;

	snprintf(line, sizeof(line), "%s", split_cases[_i].line);
	n = proto_split_words(line, argv, split_cases[_i].max);
	ck_assert_msg(n == split_cases[_i].ret, "\"%s\" with max %d gave %d, expected %d",
		      split_cases[_i].line, split_cases[_i].max, n, split_cases[_i].ret);
	for (int k = 0; k < n; k++) {
		ck_assert_str_eq(argv[k], split_cases[_i].words[k]);
		ck_assert_msg(argv[k] >= line && argv[k] < line + sizeof(line),
			      "word %d does not point into the line", k);
	}
	if (n < MAX_WORDS && n >= 0)
		ck_assert_ptr_null(argv[n]);
}
END_TEST

/* The daemon's own limit: CTL_MAX_ARGS words fit, one more is refused. */
START_TEST(test_split_words_ctl_limit)
{
	char line[256], *argv[CTL_MAX_ARGS];
	size_t o = 0;

	for (int k = 0; k < CTL_MAX_ARGS; k++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "w%d ", k);
	ck_assert_int_eq(proto_split_words(line, argv, CTL_MAX_ARGS), CTL_MAX_ARGS);
	ck_assert_str_eq(argv[0], "w0");
	ck_assert_str_eq(argv[CTL_MAX_ARGS - 1], "w15");

	o = 0;
	for (int k = 0; k <= CTL_MAX_ARGS; k++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, "w%d ", k);
	ck_assert_int_eq(proto_split_words(line, argv, CTL_MAX_ARGS), -E2BIG);
}
END_TEST

static const struct {
	const char *data;
	size_t len;
	size_t ret;
} reply_cases[] = {
	{ "OK\n\n", 4, 4 },
	{ "OK\nbody\nmore\n\n", 14, 14 },
	{ "ERR unknown command 'x'; try 'help'\n\n", 37, 37 },
	{ "\n\n", 2, 2 },
	{ "OK\nbody\n", 8, 0 },
	{ "OK\n", 3, 0 },
	{ "OK", 2, 0 },
	{ "\n", 1, 0 },
	{ "", 0, 0 },
	{ "OK\n\n", 3, 0 },
	{ "OK\n\nOK\n\n", 8, 4 },
	{ "OK\nbody\n\nERR x\n\n", 16, 9 },
	{ "OK\nbody\n\npartial", 16, 9 },
	{ "OK\r\n\r\n", 6, 0 },
};

START_TEST(test_reply_length)
{
	size_t n = proto_reply_length(reply_cases[_i].data, reply_cases[_i].len);

	ck_assert_msg(n == reply_cases[_i].ret, "case %d gave %zu, expected %zu", _i, n,
		      reply_cases[_i].ret);
}
END_TEST

START_TEST(test_buf_init_and_free)
{
	struct buf b;

	buf_init(&b, 100);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.limit, 100);
	ck_assert(!b.overflow);
	buf_free(&b);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(test_buf_append_grows)
{
	struct buf b;
	char chunk[100];

	buf_init(&b, 4096);
	ck_assert_int_eq(buf_append(&b, "hello", 5), 0);
	ck_assert_uint_eq(b.len, 5);
	ck_assert_str_eq(b.data, "hello");
	for (int k = 0; k < 30; k++) {
		memset(chunk, 'a' + k % 26, sizeof(chunk));
		ck_assert_int_eq(buf_append(&b, chunk, sizeof(chunk)), 0);
	}
	ck_assert_uint_eq(b.len, 3005);
	ck_assert_uint_eq(strlen(b.data), 3005);
	ck_assert_int_eq(b.data[5], 'a');
	ck_assert_int_eq(b.data[5 + 29 * 100 + 99], 'a' + 29 % 26);
	ck_assert(!b.overflow);
	buf_free(&b);
}
END_TEST

/* The limit counts data bytes: exactly limit fits, and once over, always over. */
START_TEST(test_buf_limit_sticky)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_append(&b, "1234", 4), 0);
	ck_assert_int_eq(buf_append(&b, "5678", 4), 0);
	ck_assert_str_eq(b.data, "12345678");
	ck_assert(!b.overflow);
	ck_assert_int_eq(buf_append(&b, "9", 1), -ENOBUFS);
	ck_assert(b.overflow);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_str_eq(b.data, "12345678");

	buf_consume(&b, 8);
	ck_assert_int_eq(buf_append(&b, "x", 1), -ENOBUFS);
	ck_assert_int_eq(buf_append(&b, "", 0), -ENOBUFS);
	ck_assert_int_eq(buf_printf(&b, "%d", 1), -ENOBUFS);
	ck_assert_int_eq(buf_json_string(&b, "x", 1), -ENOBUFS);
	ck_assert_uint_eq(b.len, 0);
	ck_assert(b.overflow);

	buf_free(&b);
	ck_assert(!b.overflow);
	ck_assert_int_eq(buf_append(&b, "ok", 2), 0);
	ck_assert_str_eq(b.data, "ok");
	buf_free(&b);
}
END_TEST

START_TEST(test_buf_too_big_at_once)
{
	struct buf b;
	char big[64];

	memset(big, 'z', sizeof(big));
	buf_init(&b, 10);
	ck_assert_int_eq(buf_append(&b, big, sizeof(big)), -ENOBUFS);
	ck_assert(b.overflow);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);

	buf_init(&b, 0);
	ck_assert_int_eq(buf_append(&b, "a", 1), -ENOBUFS);
	buf_free(&b);
}
END_TEST

START_TEST(test_buf_printf)
{
	struct buf b;

	buf_init(&b, 16);
	ck_assert_int_eq(buf_printf(&b, "%s=%d", "x", 42), 0);
	ck_assert_int_eq(buf_append(&b, ";", 1), 0);
	ck_assert_int_eq(buf_printf(&b, "%05u", 7u), 0);
	ck_assert_str_eq(b.data, "x=42;00007");
	ck_assert_uint_eq(b.len, 10);
	ck_assert_int_eq(buf_printf(&b, "%s", "1234567"), -ENOBUFS);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(b.data, "x=42;00007");
	ck_assert(b.overflow);
	buf_free(&b);
}
END_TEST

static const struct {
	const char *in;
	size_t len;
	const char *out;
} json_cases[] = {
	{ "", 0, "\"\"" },
	{ "plain text", 10, "\"plain text\"" },
	{ "say \"hi\"", 8, "\"say \\\"hi\\\"\"" },
	{ "C:\\dir\\", 7, "\"C:\\\\dir\\\\\"" },
	{ "\\\"", 2, "\"\\\\\\\"\"" },
	{ "a\nb", 3, "\"a\\u000ab\"" },
	{ "\r\t", 2, "\"\\u000d\\u0009\"" },
	{ "\x01\x1f", 2, "\"\\u0001\\u001f\"" },
	{ "\x7f", 1, "\"\\u007f\"" },
	{ "a\0b", 3, "\"a\\u0000b\"" },
	{ "abcdef", 3, "\"abc\"" },
	{ "/path/to {x} [y] ~", 18, "\"/path/to {x} [y] ~\"" },
};

START_TEST(test_buf_json_string)
{
	struct buf b;

	buf_init(&b, 1024);
	ck_assert_int_eq(buf_append(&b, "{\"k\":", 5), 0);
	ck_assert_int_eq(buf_json_string(&b, json_cases[_i].in, json_cases[_i].len), 0);
	ck_assert_str_eq(b.data + 5, json_cases[_i].out);
	ck_assert_uint_eq(b.len, 5 + strlen(json_cases[_i].out));
	buf_free(&b);
}
END_TEST

START_TEST(test_buf_json_string_overflow)
{
	struct buf b;

	buf_init(&b, 7);
	ck_assert_int_eq(buf_json_string(&b, "abcde", 5), 0);
	ck_assert_str_eq(b.data, "\"abcde\"");
	buf_free(&b);

	buf_init(&b, 7);
	ck_assert_int_eq(buf_json_string(&b, "abcdef", 6), -ENOBUFS);
	ck_assert(b.overflow);
	buf_free(&b);

	buf_init(&b, 15);
	ck_assert_int_eq(buf_json_string(&b, "\n", 1), 0);
	ck_assert_int_eq(buf_json_string(&b, "\n", 1), -ENOBUFS);
	buf_free(&b);
}
END_TEST

static const struct {
	size_t consume;
	const char *left;
} consume_cases[] = {
	{ 0, "hello world" },
	{ 1, "ello world" },
	{ 6, "world" },
	{ 10, "d" },
	{ 11, "" },
	{ 12, "" },
	{ 1000, "" },
};

START_TEST(test_buf_consume)
{
	struct buf b;
	const char *left = consume_cases[_i].left;

	buf_init(&b, 64);
	ck_assert_int_eq(buf_append(&b, "hello world", 11), 0);
	buf_consume(&b, consume_cases[_i].consume);
	ck_assert_uint_eq(buf_unread_len(&b), strlen(left));
	ck_assert_str_eq(buf_unread(&b), left);
	ck_assert_int_eq(buf_append(&b, "!", 1), 0);
	ck_assert_uint_eq(buf_unread_len(&b), strlen(left) + 1);
	ck_assert_mem_eq(buf_unread(&b), left, strlen(left));
	ck_assert_str_eq(b.data + b.len - 1, "!");
	buf_free(&b);
}
END_TEST

/* Consuming frees room under the limit again, as a reader of replies relies on. */
START_TEST(test_buf_consume_frees_room)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_append(&b, "OK\n\nOK\n\n", 8), 0);
	buf_consume(&b, proto_reply_length(b.data, b.len));
	ck_assert_str_eq(buf_unread(&b), "OK\n\n");
	ck_assert_int_eq(buf_append(&b, "ERR\n", 4), 0);
	ck_assert_str_eq(buf_unread(&b), "OK\n\nERR\n");
	ck_assert(!b.overflow);
	buf_free(&b);
}
END_TEST

/* Consuming does not move the rest: a reader taking a few bytes at a time from a big
 * buffer costs no copying, and the unread bytes move to the front only when an
 * append needs the room, once at least as many have been read. */
START_TEST(test_buf_consume_no_copy)
{
	struct buf b;
	char chunk[100];
	const char *data;

	buf_init(&b, 1 << 20);
	for (int i = 0; i < 1000; i++) {
		memset(chunk, 'a' + i % 26, sizeof(chunk));
		ck_assert_int_eq(buf_append(&b, chunk, sizeof(chunk)), 0);
	}
	data = b.data;
	for (int i = 0; i < 999; i++) {
		ck_assert_ptr_eq(buf_unread(&b), data + (size_t)i * 100);
		ck_assert_int_eq(buf_unread(&b)[0], 'a' + i % 26);
		buf_consume(&b, 100);
	}
	ck_assert_uint_eq(b.head, 99900);
	ck_assert_uint_eq(buf_unread_len(&b), 100);
	/* Filling what capacity is left moves nothing; passing it compacts once. */
	while (b.len + 100 + 1 <= b.cap)
		ck_assert_int_eq(buf_append(&b, chunk, 100), 0);
	ck_assert_uint_ne(b.head, 0);
	ck_assert_int_eq(buf_append(&b, chunk, 100), 0);
	ck_assert_uint_eq(b.head, 0);
	ck_assert_int_eq(b.data[0], 'a' + 999 % 26);
	/* Everything read: back to the start. */
	buf_consume(&b, buf_unread_len(&b));
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.head, 0);
	buf_free(&b);
}
END_TEST

/* buf_printf() formats in place when the room is there, and still respects the
 * limit, which counts unread bytes only. */
START_TEST(test_buf_printf_limit_after_consume)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_printf(&b, "%s", "1234567"), 0);
	ck_assert_int_eq(buf_printf(&b, "%d%d", 8, 9), -ENOBUFS);
	ck_assert(b.overflow);
	buf_free(&b);
	buf_init(&b, 8);
	ck_assert_int_eq(buf_printf(&b, "%s", "123456"), 0);
	buf_consume(&b, 4);
	ck_assert_int_eq(buf_printf(&b, "%s", "abcdef"), 0);
	ck_assert_str_eq(buf_unread(&b), "56abcdef");
	ck_assert_int_eq(buf_printf(&b, "x"), -ENOBUFS);
	buf_free(&b);
}
END_TEST

START_TEST(test_buf_consume_empty)
{
	struct buf b;

	buf_init(&b, 8);
	buf_consume(&b, 0);
	buf_consume(&b, 5);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_null(b.data);
	buf_free(&b);
}
END_TEST

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc;

	tc = tcase_create("framing");
	tcase_add_loop_test(tc, test_split_words, 0, ELEMENTSOF(split_cases));
	tcase_add_test(tc, test_split_words_ctl_limit);
	tcase_add_loop_test(tc, test_reply_length, 0, ELEMENTSOF(reply_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("buf");
	tcase_add_test(tc, test_buf_init_and_free);
	tcase_add_test(tc, test_buf_append_grows);
	tcase_add_test(tc, test_buf_limit_sticky);
	tcase_add_test(tc, test_buf_too_big_at_once);
	tcase_add_test(tc, test_buf_printf);
	tcase_add_loop_test(tc, test_buf_json_string, 0, ELEMENTSOF(json_cases));
	tcase_add_test(tc, test_buf_json_string_overflow);
	tcase_add_loop_test(tc, test_buf_consume, 0, ELEMENTSOF(consume_cases));
	tcase_add_test(tc, test_buf_consume_frees_room);
	tcase_add_test(tc, test_buf_consume_no_copy);
	tcase_add_test(tc, test_buf_printf_limit_after_consume);
	tcase_add_test(tc, test_buf_consume_empty);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(proto_suite)
