/* Unit tests for parse.c: the parsers for durations, numbers, escaped byte strings,
 * addresses and target names, and the formatters that display them. Every parser is
 * driven through a table of inputs with the value or the -errno it must give. */
#include <arpa/inet.h>
#include <netdb.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "util.h"
#include "check_main.h"

#define US NSEC_PER_USEC
#define MS NSEC_PER_MSEC
#define SEC NSEC_PER_SEC
#define MIN_NS (60 * SEC)
#define HOUR (3600 * SEC)

/* A value no parser produces, to show that a failing parser left ret_* alone. */
#define SENTINEL_NS INT64_C(-777)
#define SENTINEL_U UINT64_C(0xdeadbeef)

static const struct {
	const char *in;
	int ret;
	int64_t ns;
} duration_cases[] = {
	{ "250us", 0, 250 * US },
	{ "1500ms", 0, 1500 * MS },
	{ "2s", 0, 2 * SEC },
	{ "5m", 0, 5 * MIN_NS },
	{ "1h", 0, HOUR },
	{ "30", 0, 30 * SEC },
	{ "007s", 0, 7 * SEC },
	{ "1.5s", 0, 1500 * MS },
	{ "0.25s", 0, 250 * MS },
	{ "2.5", 0, 2500 * MS },
	{ "0.5ms", 0, 500 * US },
	{ "1.5us", 0, 1500 },
	{ "1.5m", 0, 90 * SEC },
	{ "0.5h", 0, 30 * MIN_NS },
	{ "1.5h", 0, 90 * MIN_NS },
	{ "2.75h", 0, 165 * MIN_NS },
	{ "0.000000001s", 0, 1 },
	{ "0.0000000019s", 0, 1 },
	{ "0", 0, 0 },
	{ "0s", 0, 0 },
	{ "0.0ms", 0, 0 },
	{ "8783h", 0, 8783 * HOUR },
	{ "31622399", 0, 31622399 * SEC },
	{ "", -EINVAL, 0 },
	{ "s", -EINVAL, 0 },
	{ "ms", -EINVAL, 0 },
	{ ".5s", -EINVAL, 0 },
	{ "1.s", -EINVAL, 0 },
	{ "1..5s", -EINVAL, 0 },
	{ "abc", -EINVAL, 0 },
	{ "5x", -EINVAL, 0 },
	{ "5 s", -EINVAL, 0 },
	{ " 5s", -EINVAL, 0 },
	{ "5s ", -EINVAL, 0 },
	{ "-1s", -EINVAL, 0 },
	{ "+1s", -EINVAL, 0 },
	{ "1S", -EINVAL, 0 },
	{ "1sec", -EINVAL, 0 },
	{ "1d", -EINVAL, 0 },
	{ "1e3", -EINVAL, 0 },
	{ "5ms5", -EINVAL, 0 },
	{ "1h30m", -EINVAL, 0 },
	{ "8784h", -ERANGE, 0 },
	{ "527040m", -ERANGE, 0 },
	{ "31622400", -ERANGE, 0 },
	{ "99999999999999999999", -ERANGE, 0 },
	{ "100000000000000000000000s", -ERANGE, 0 },
};

START_TEST(test_parse_duration)
{
	int64_t ns = SENTINEL_NS;
	int r = parse_duration(duration_cases[_i].in, &ns);

	ck_assert_msg(r == duration_cases[_i].ret, "parse_duration(\"%s\") returned %d, expected %d",
		      duration_cases[_i].in, r, duration_cases[_i].ret);
	if (r == 0)
		ck_assert_msg(ns == duration_cases[_i].ns, "parse_duration(\"%s\") gave %lld ns, expected %lld",
			      duration_cases[_i].in, (long long)ns, (long long)duration_cases[_i].ns);
	else
		ck_assert_msg(ns == SENTINEL_NS, "parse_duration(\"%s\") wrote ret_ns on failure",
			      duration_cases[_i].in);
}
END_TEST

static const struct {
	const char *in;
	uint64_t min, max;
	int ret;
	uint64_t v;
} uint_cases[] = {
	{ "0", 0, 10, 0, 0 },
	{ "10", 0, 10, 0, 10 },
	{ "1", 1, 10, 0, 1 },
	{ "007", 0, 10, 0, 7 },
	{ "65535", 1, 65535, 0, 65535 },
	{ "4294967295", 0, UINT32_MAX, 0, UINT32_MAX },
	{ "18446744073709551614", 0, UINT64_MAX, 0, UINT64_MAX - 1 },
	{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
	{ "11", 0, 10, -ERANGE, 0 },
	{ "0", 1, 10, -ERANGE, 0 },
	{ "65536", 1, 65535, -ERANGE, 0 },
	{ "4294967296", 0, UINT32_MAX, -ERANGE, 0 },
	{ "18446744073709551616", 0, UINT64_MAX, -ERANGE, 0 },
	{ "99999999999999999999999", 0, UINT64_MAX, -ERANGE, 0 },
	{ "", 0, 10, -EINVAL, 0 },
	{ "-1", 0, 10, -EINVAL, 0 },
	{ "+1", 0, 10, -EINVAL, 0 },
	{ " 1", 0, 10, -EINVAL, 0 },
	{ "1 ", 0, 10, -EINVAL, 0 },
	{ "1x", 0, 10, -EINVAL, 0 },
	{ "0x10", 0, 100, -EINVAL, 0 },
	{ "1.0", 0, 10, -EINVAL, 0 },
	{ "1e3", 0, 10000, -EINVAL, 0 },
};

START_TEST(test_parse_uint)
{
	uint64_t v = SENTINEL_U;
	int r = parse_uint(uint_cases[_i].in, uint_cases[_i].min, uint_cases[_i].max, &v);

	ck_assert_msg(r == uint_cases[_i].ret, "parse_uint(\"%s\", %llu, %llu) returned %d, expected %d",
		      uint_cases[_i].in, (unsigned long long)uint_cases[_i].min,
		      (unsigned long long)uint_cases[_i].max, r, uint_cases[_i].ret);
	if (r == 0)
		ck_assert_msg(v == uint_cases[_i].v, "parse_uint(\"%s\") gave %llu", uint_cases[_i].in,
			      (unsigned long long)v);
	else
		ck_assert_msg(v == SENTINEL_U, "parse_uint(\"%s\") wrote ret on failure", uint_cases[_i].in);
}
END_TEST

/* Expected bytes are given with their length, since some contain NUL. */
static const struct {
	const char *in;
	size_t cap;
	int ret;
	const char *out;
	size_t len;
} escape_cases[] = {
	{ "abc", 64, 0, "abc", 3 },
	{ "", 64, 0, "", 0 },
	{ "", 0, 0, "", 0 },
	{ "\\n", 64, 0, "\n", 1 },
	{ "\\r", 64, 0, "\r", 1 },
	{ "\\t", 64, 0, "\t", 1 },
	{ "\\\\", 64, 0, "\\", 1 },
	{ "a\\\\n", 64, 0, "a\\n", 3 },
	{ "\\x41\\x6a\\x4A\\x6B", 64, 0, "AjJk", 4 },
	{ "\\xff\\xFF\\x80", 64, 0, "\xff\xff\x80", 3 },
	{ "\\x00", 64, 0, "\0", 1 },
	{ "a\\x00b", 64, 0, "a\0b", 3 },
	{ "\\x414", 64, 0, "A4", 2 },
	{ "GET / HTTP/1.0\\r\\n\\r\\n", 64, 0, "GET / HTTP/1.0\r\n\r\n", 18 },
	{ "\xc3\xa9t\xc3\xa9", 64, 0, "\xc3\xa9t\xc3\xa9", 5 },
	{ "abcd", 4, 0, "abcd", 4 },
	{ "\\x41\\x42", 2, 0, "AB", 2 },
	{ "abcde", 4, -E2BIG, NULL, 0 },
	{ "\\x41\\x41", 1, -E2BIG, NULL, 0 },
	{ "a", 0, -E2BIG, NULL, 0 },
	{ "\\q", 64, -EINVAL, NULL, 0 },
	{ "\\N", 64, -EINVAL, NULL, 0 },
	{ "\\0", 64, -EINVAL, NULL, 0 },
	{ "\\\"", 64, -EINVAL, NULL, 0 },
	{ "\\x4", 64, -EINVAL, NULL, 0 },
	{ "\\x", 64, -EINVAL, NULL, 0 },
	{ "\\xZZ", 64, -EINVAL, NULL, 0 },
	{ "\\xG0", 64, -EINVAL, NULL, 0 },
	{ "\\x0g", 64, -EINVAL, NULL, 0 },
	{ "abc\\", 64, -EINVAL, NULL, 0 },
	{ "\\", 64, -EINVAL, NULL, 0 },
};

START_TEST(test_parse_escapes)
{
	uint8_t out[64];
	size_t len = 12345;
	int r = parse_escapes(escape_cases[_i].in, out, escape_cases[_i].cap, &len);

	ck_assert_msg(r == escape_cases[_i].ret, "parse_escapes(\"%s\", cap %zu) returned %d, expected %d",
		      escape_cases[_i].in, escape_cases[_i].cap, r, escape_cases[_i].ret);
	if (r < 0) {
		ck_assert_uint_eq(len, 12345);
		return;
	}
	ck_assert_uint_eq(len, escape_cases[_i].len);
	ck_assert_mem_eq(out, escape_cases[_i].out, len);
}
END_TEST

/* Write the host part of an address as text, for comparing with a table. */
static void addr_host(const struct sockaddr_any *a, char *out, size_t n)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family == AF_INET)
		ck_assert_ptr_nonnull(inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)n));
	else if (a->ss.ss_family == AF_INET6)
		ck_assert_ptr_nonnull(inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)n));
	else
		ck_abort_msg("unexpected address family %d", a->ss.ss_family);
}

/* Return the port of an IPv4 or IPv6 address in host order. */
static unsigned addr_port(const struct sockaddr_any *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

static const struct {
	const char *in;
	bool resolve;
	int ret;
	int family;
	const char *host;
	unsigned port;
} address_cases[] = {
	{ "127.0.0.1:80", false, 0, AF_INET, "127.0.0.1", 80 },
	{ "192.0.2.10:65535", false, 0, AF_INET, "192.0.2.10", 65535 },
	{ "10.0.0.1:1", true, 0, AF_INET, "10.0.0.1", 1 },
	{ "[::1]:8080", false, 0, AF_INET6, "::1", 8080 },
	{ "[2001:0db8:0000::5]:443", false, 0, AF_INET6, "2001:db8::5", 443 },
	{ "[::ffff:192.0.2.1]:80", false, 0, AF_INET6, "::ffff:192.0.2.1", 80 },
	{ "127.0.0.1", false, -EINVAL, 0, NULL, 0 },
	{ "127.0.0.1:", false, -EINVAL, 0, NULL, 0 },
	{ "127.0.0.1:80x", false, -EINVAL, 0, NULL, 0 },
	{ "127.0.0.1:-1", false, -EINVAL, 0, NULL, 0 },
	{ "127.0.0.1: 80", false, -EINVAL, 0, NULL, 0 },
	{ "127.0.0.1:0", false, -ERANGE, 0, NULL, 0 },
	{ "127.0.0.1:65536", false, -ERANGE, 0, NULL, 0 },
	{ "127.0.0.1:99999999999", false, -ERANGE, 0, NULL, 0 },
	{ "[::1]:0", false, -ERANGE, 0, NULL, 0 },
	{ "[::1]:65536", false, -ERANGE, 0, NULL, 0 },
	{ ":80", false, -EINVAL, 0, NULL, 0 },
	{ "[]:80", false, -EINVAL, 0, NULL, 0 },
	{ "::1:80", false, -EINVAL, 0, NULL, 0 },
	{ "::1:80", true, -EINVAL, 0, NULL, 0 },
	{ "2001:db8::5:443", true, -EINVAL, 0, NULL, 0 },
	{ "::1", false, -EINVAL, 0, NULL, 0 },
	{ "[::1]", false, -EINVAL, 0, NULL, 0 },
	{ "[::1]80", false, -EINVAL, 0, NULL, 0 },
	{ "[::1:80", false, -EINVAL, 0, NULL, 0 },
	{ "[::zz]:80", false, -EINVAL, 0, NULL, 0 },
	{ "256.0.0.1:80", false, -EINVAL, 0, NULL, 0 },
	{ "localhost:80", false, -EINVAL, 0, NULL, 0 },
	{ "example.com:80", false, -EINVAL, 0, NULL, 0 },
	{ "[localhost]:80", true, -EINVAL, 0, NULL, 0 },
	{ "localhost:0", true, -ERANGE, 0, NULL, 0 },
};

START_TEST(test_parse_address)
{
	struct sockaddr_any a;
	char host[INET6_ADDRSTRLEN];
	int r = parse_address(address_cases[_i].in, address_cases[_i].resolve, &a);

	ck_assert_msg(r == address_cases[_i].ret, "parse_address(\"%s\") returned %d, expected %d",
		      address_cases[_i].in, r, address_cases[_i].ret);
	if (r < 0)
		return;
	ck_assert_int_eq(a.ss.ss_family, address_cases[_i].family);
	ck_assert_uint_eq(a.len, address_cases[_i].family == AF_INET ? sizeof(struct sockaddr_in)
								      : sizeof(struct sockaddr_in6));
	addr_host(&a, host, sizeof(host));
	ck_assert_str_eq(host, address_cases[_i].host);
	ck_assert_uint_eq(addr_port(&a), address_cases[_i].port);
}
END_TEST

START_TEST(test_parse_address_host_too_long)
{
	char s[400];
	struct sockaddr_any a;

	memset(s, 'a', 300);
	strcpy(s + 300, ":80");
	ck_assert_int_eq(parse_address(s, false, &a), -EINVAL);
	ck_assert_int_eq(parse_address(s, true, &a), -EINVAL);
}
END_TEST

/* A name resolves to what the system's resolver says (no network: /etc/hosts, or
 * nothing at all on a bare chroot), and an unresolvable one is -EHOSTUNREACH. */
START_TEST(test_parse_address_resolves_localhost)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	struct sockaddr_any a;
	char host[INET6_ADDRSTRLEN], want[INET6_ADDRSTRLEN];
	int sys = getaddrinfo("localhost", NULL, &hints, &res);

	if (sys != 0) {
		ck_assert_int_eq(parse_address("localhost:80", true, &a), -EHOSTUNREACH);
		return;
	}
	ck_assert_int_eq(parse_address("localhost:80", true, &a), 0);
	ck_assert_int_eq(a.ss.ss_family, res->ai_family);
	inet_ntop(res->ai_family,
		  res->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr
					    : (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr,
		  want, sizeof(want));
	freeaddrinfo(res);
	addr_host(&a, host, sizeof(host));
	ck_assert_str_eq(host, want);
	ck_assert_uint_eq(addr_port(&a), 80);
	ck_assert_uint_eq(a.len, a.ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
							   : sizeof(struct sockaddr_in6));
}
END_TEST

/* House style: out-parameters are written only on success. */
static const char *const address_failures[] = {
	"localhost:80", "127.0.0.1:0", "[::zz]:80", "example.com:80", "256.0.0.1:80",
};

START_TEST(test_parse_address_failure_leaves_ret)
{
	struct sockaddr_any a, before;

	memset(&a, 0x5a, sizeof(a));
	before = a;
	ck_assert_int_lt(parse_address(address_failures[_i], false, &a), 0);
	ck_assert_msg(memcmp(&a, &before, sizeof(a)) == 0,
		      "parse_address(\"%s\") wrote ret on failure", address_failures[_i]);
}
END_TEST

static const struct {
	const char *in;
	int ret;
	int family;
	const char *host;
} source_cases[] = {
	{ "127.0.0.1", 0, AF_INET, "127.0.0.1" },
	{ "0.0.0.0", 0, AF_INET, "0.0.0.0" },
	{ "::1", 0, AF_INET6, "::1" },
	{ "[::1]", 0, AF_INET6, "::1" },
	{ "2001:db8::1", 0, AF_INET6, "2001:db8::1" },
	{ "[2001:db8::1]", 0, AF_INET6, "2001:db8::1" },
	{ "", -EINVAL, 0, NULL },
	{ "localhost", -EINVAL, 0, NULL },
	{ "127.0.0.1:80", -EINVAL, 0, NULL },
	{ "[::1]:80", -EINVAL, 0, NULL },
	{ "[]", -EINVAL, 0, NULL },
	{ "[::1", -EINVAL, 0, NULL },
	{ "::1]", -EINVAL, 0, NULL },
	{ "1.2.3", -EINVAL, 0, NULL },
	{ " 127.0.0.1", -EINVAL, 0, NULL },
	{ "1234:1234:1234:1234:1234:1234:1234:1234:1234:1234:1234", -EINVAL, 0, NULL },
};

START_TEST(test_parse_source)
{
	struct sockaddr_any a;
	char host[INET6_ADDRSTRLEN];
	int r = parse_source(source_cases[_i].in, &a);

	ck_assert_msg(r == source_cases[_i].ret, "parse_source(\"%s\") returned %d, expected %d",
		      source_cases[_i].in, r, source_cases[_i].ret);
	if (r < 0)
		return;
	ck_assert_int_eq(a.ss.ss_family, source_cases[_i].family);
	addr_host(&a, host, sizeof(host));
	ck_assert_str_eq(host, source_cases[_i].host);
	ck_assert_uint_eq(addr_port(&a), 0);
	ck_assert_uint_eq(a.len, source_cases[_i].family == AF_INET ? sizeof(struct sockaddr_in)
								     : sizeof(struct sockaddr_in6));
}
END_TEST

START_TEST(test_parse_source_failure_leaves_ret)
{
	struct sockaddr_any a, before;

	memset(&a, 0x5a, sizeof(a));
	before = a;
	ck_assert_int_lt(parse_source("localhost", &a), 0);
	ck_assert_msg(memcmp(&a, &before, sizeof(a)) == 0, "parse_source wrote ret on failure");
}
END_TEST

static const struct {
	const char *in;
	bool valid;
} name_cases[] = {
	{ "a", true },
	{ "web-1", true },
	{ "local-echo", true },
	{ "db_primary.eu:5432", true },
	{ "ABC.xyz-09_:", true },
	{ "1234567890123456789012345678901234567890123456789012345678901234", true },
	{ "", false },
	{ "12345678901234567890123456789012345678901234567890123456789012345", false },
	{ "web 1", false },
	{ "web/1", false },
	{ "a\"b", false },
	{ "a]", false },
	{ "a\tb", false },
	{ "caf\xc3\xa9", false },
	{ "a*", false },
	{ "a,b", false },
};

START_TEST(test_name_is_valid)
{
	ck_assert_msg(name_is_valid(name_cases[_i].in) == name_cases[_i].valid,
		      "name_is_valid(\"%s\") should be %s", name_cases[_i].in,
		      name_cases[_i].valid ? "true" : "false");
}
END_TEST

static const struct {
	int64_t ns;
	const char *out;
} format_duration_cases[] = {
	{ -1, "-" },
	{ INT64_MIN, "-" },
	{ 0, "0" },
	{ 1, "0.0us" },
	{ 1500, "1.5us" },
	{ 9900, "9.9us" },
	{ 10 * US, "10us" },
	{ 850 * US, "850us" },
	{ 999 * US, "999us" },
	{ MS, "1.00ms" },
	{ 1230 * US, "1.23ms" },
	{ 9990 * US, "9.99ms" },
	{ 10 * MS, "10.0ms" },
	{ 12300 * US, "12.3ms" },
	{ 999 * MS, "999.0ms" },
	{ SEC, "1.00s" },
	{ 1500 * MS, "1.50s" },
	{ 2 * SEC, "2.00s" },
	{ 59990 * MS, "59.99s" },
	{ MIN_NS, "1m00s" },
	{ 90 * SEC, "1m30s" },
	{ 3599 * SEC, "59m59s" },
	{ HOUR, "1h00m" },
	{ 3900 * SEC, "1h05m" },
	{ 8784 * HOUR, "8784h00m" },
};

START_TEST(test_format_duration)
{
	char out[32];

	memset(out, 'X', sizeof(out));
	ck_assert_ptr_eq(format_duration(format_duration_cases[_i].ns, out, sizeof(out)), out);
	ck_assert_str_eq(out, format_duration_cases[_i].out);
}
END_TEST

START_TEST(test_format_duration_truncates)
{
	char out[3];

	format_duration(3900 * SEC, out, sizeof(out));
	ck_assert_str_eq(out, "1h");
}
END_TEST

/* Every duration format_duration() writes from 1s up reads back as about itself. */
START_TEST(test_format_duration_parses_back)
{
	static const int64_t values[] = { 1500 * MS, 2 * SEC, 59 * SEC };
	char out[32];
	int64_t ns;

	for (size_t i = 0; i < ELEMENTSOF(values); i++) {
		ck_assert_int_eq(parse_duration(format_duration(values[i], out, sizeof(out)), &ns), 0);
		ck_assert_int_eq(ns, values[i]);
	}
}
END_TEST

static const struct {
	const char *in;
	const char *out;
} format_address_cases[] = {
	{ "127.0.0.1:80", "127.0.0.1:80" },
	{ "192.0.2.10:65535", "192.0.2.10:65535" },
	{ "[::1]:8080", "[::1]:8080" },
	{ "[2001:0db8:0000::5]:443", "[2001:db8::5]:443" },
	{ "[::ffff:192.0.2.1]:1", "[::ffff:192.0.2.1]:1" },
};

/* Found by fuzz_parse: below a microsecond, past 2^53 ns (104 days), a double lost the
 * last digits and the text no longer read back as the same duration. */
static const struct {
	int64_t ns;
	const char *out;
} format_exact_cases[] = {
	{ 0, "0" },
	{ 7200 * SEC, "2h" },
	{ 90 * SEC, "90s" },
	{ 1500 * MS, "1500ms" },
	{ 250 * US, "250us" },
	{ 1, "0.001us" },
	{ 1500, "1.500us" },
	{ -1500, "-1.500us" },
	{ 18444470673770560, "18444470673770.560us" },
	{ INT64_MIN + 1, "-9223372036854775.807us" },
};

START_TEST(test_format_duration_exact)
{
	char out[32];
	int64_t back;

	ck_assert_str_eq(format_duration_exact(format_exact_cases[_i].ns, out, sizeof(out)),
			 format_exact_cases[_i].out);
	if (format_exact_cases[_i].ns >= 0) {
		ck_assert_int_eq(parse_duration(out, &back), 0);
		ck_assert_int_eq(back, format_exact_cases[_i].ns);
	}
}
END_TEST

START_TEST(test_format_address)
{
	struct sockaddr_any a, again;
	char out[64], out2[64];

	ck_assert_int_eq(parse_address(format_address_cases[_i].in, false, &a), 0);
	ck_assert_ptr_eq(format_address(&a, out, sizeof(out)), out);
	ck_assert_str_eq(out, format_address_cases[_i].out);
	ck_assert_int_eq(parse_address(out, false, &again), 0);
	ck_assert_str_eq(format_address(&again, out2, sizeof(out2)), out);
}
END_TEST

START_TEST(test_format_address_unknown_family)
{
	struct sockaddr_any a;
	char out[16];

	memset(&a, 0, sizeof(a));
	ck_assert_str_eq(format_address(&a, out, sizeof(out)), "?");
}
END_TEST

START_TEST(test_format_address_source)
{
	struct sockaddr_any a;
	char out[64];

	ck_assert_int_eq(parse_source("[::1]", &a), 0);
	ck_assert_str_eq(format_address(&a, out, sizeof(out)), "[::1]:0");
}
END_TEST

static const struct {
	const char *in;
	size_t len;
	const char *out;
} format_escapes_cases[] = {
	{ "abc", 3, "abc" },
	{ "", 0, "" },
	{ "Message 1 from client.", 22, "Message 1 from client." },
	{ "a b", 3, "a b" },
	{ " a", 2, "\\x20a" },
	{ "a ", 2, "a\\x20" },
	{ " ", 1, "\\x20" },
	{ "\n\r\t\\", 4, "\\n\\r\\t\\\\" },
	{ "\0\x1f\x7f\x80\xff", 5, "\\x00\\x1f\\x7f\\x80\\xff" },
	{ "GET /\r\n", 7, "GET /\\r\\n" },
	{ "a;b#c=d\"e", 9, "a;b#c=d\"e" },
};

START_TEST(test_format_escapes)
{
	char out[128];

	ck_assert_ptr_eq(format_escapes((const uint8_t *)format_escapes_cases[_i].in,
					format_escapes_cases[_i].len, out, sizeof(out)), out);
	ck_assert_str_eq(out, format_escapes_cases[_i].out);
}
END_TEST

/* Every byte value, and spaces at both ends, survive format then parse. */
START_TEST(test_format_escapes_round_trip)
{
	uint8_t in[258], back[300];
	char text[2048];
	size_t len;

	in[0] = ' ';
	for (int c = 0; c < 256; c++)
		in[c + 1] = (uint8_t)c;
	in[257] = ' ';
	format_escapes(in, sizeof(in), text, sizeof(text));
	ck_assert_int_eq(parse_escapes(text, back, sizeof(back), &len), 0);
	ck_assert_uint_eq(len, sizeof(in));
	ck_assert_mem_eq(back, in, len);
}
END_TEST

/* A short buffer cuts the text between escapes, never inside one. */
START_TEST(test_format_escapes_truncates_cleanly)
{
	static const uint8_t in[] = "a\n\xff b\\\t\x01z";
	char out[64];
	uint8_t back[64];
	size_t len;

	for (size_t n = 1; n <= sizeof(out); n++) {
		memset(out, 'X', sizeof(out));
		format_escapes(in, sizeof(in) - 1, out, n);
		ck_assert_uint_lt(strlen(out), n);
		ck_assert_msg(parse_escapes(out, back, sizeof(back), &len) == 0,
			      "n=%zu gave \"%s\", which does not parse", n, out);
		ck_assert_uint_le(len, sizeof(in) - 1);
		ck_assert_mem_eq(back, in, len);
	}
}
END_TEST

START_TEST(test_format_escapes_zero_size)
{
	char out[4] = "XYZ";

	ck_assert_ptr_eq(format_escapes((const uint8_t *)"abc", 3, out, 0), out);
	ck_assert_str_eq(out, "XYZ");
}
END_TEST

/* Text that fits the buffer exactly, with its NUL, is not cut. */
START_TEST(test_format_escapes_exact_fit)
{
	char out[4], esc[5];

	format_escapes((const uint8_t *)"abc", 3, out, sizeof(out));
	ck_assert_str_eq(out, "abc");
	format_escapes((const uint8_t *)"\n", 1, esc, 3);
	ck_assert_str_eq(esc, "\\n");
	format_escapes((const uint8_t *)"\xff", 1, esc, sizeof(esc));
	ck_assert_str_eq(esc, "\\xff");
}
END_TEST

static Suite *parse_suite(void)
{
	Suite *s = suite_create("parse");
	TCase *tc;

	tc = tcase_create("numbers");
	tcase_add_loop_test(tc, test_parse_duration, 0, ELEMENTSOF(duration_cases));
	tcase_add_loop_test(tc, test_parse_uint, 0, ELEMENTSOF(uint_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("escapes");
	tcase_add_loop_test(tc, test_parse_escapes, 0, ELEMENTSOF(escape_cases));
	tcase_add_loop_test(tc, test_format_escapes, 0, ELEMENTSOF(format_escapes_cases));
	tcase_add_test(tc, test_format_escapes_round_trip);
	tcase_add_test(tc, test_format_escapes_truncates_cleanly);
	tcase_add_test(tc, test_format_escapes_zero_size);
	tcase_add_test(tc, test_format_escapes_exact_fit);
	suite_add_tcase(s, tc);

	tc = tcase_create("addresses");
	tcase_add_loop_test(tc, test_parse_address, 0, ELEMENTSOF(address_cases));
	tcase_add_test(tc, test_parse_address_host_too_long);
	tcase_add_test(tc, test_parse_address_resolves_localhost);
	tcase_add_loop_test(tc, test_parse_address_failure_leaves_ret, 0,
			    ELEMENTSOF(address_failures));
	tcase_add_loop_test(tc, test_parse_source, 0, ELEMENTSOF(source_cases));
	tcase_add_test(tc, test_parse_source_failure_leaves_ret);
	tcase_add_loop_test(tc, test_format_address, 0, ELEMENTSOF(format_address_cases));
	tcase_add_test(tc, test_format_address_unknown_family);
	tcase_add_test(tc, test_format_address_source);
	suite_add_tcase(s, tc);

	tc = tcase_create("names_and_display");
	tcase_add_loop_test(tc, test_name_is_valid, 0, ELEMENTSOF(name_cases));
	tcase_add_loop_test(tc, test_format_duration, 0, ELEMENTSOF(format_duration_cases));
	tcase_add_test(tc, test_format_duration_truncates);
	tcase_add_test(tc, test_format_duration_parses_back);
	tcase_add_loop_test(tc, test_format_duration_exact, 0, ELEMENTSOF(format_exact_cases));
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(parse_suite)
