/* libFuzzer harness for the value parsers of parse.c: durations, numbers, escaped byte
 * strings, addresses, source addresses and names, on one NUL-terminated copy of the
 * input. Beyond "no crash", it checks that what a parser accepts survives the trip
 * through its formatter and back unchanged, and that formatters always terminate
 * their output inside the buffer they were given, however small. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longest input tried: the config reader hands out lines of at most CONFIG_MAX_LINE. */
#define FUZZ_MAX_INPUT 4096

/* Fail loudly: libFuzzer records the input as a crash. */
#define FUZZ_ASSERT(cond)                                                                  \
	do {                                                                               \
		if (!(cond))                                                               \
			abort();                                                           \
	} while (0)

static void check_duration(const char *s)
{
	char text[64], human[64];
	int64_t ns, back;

	if (parse_duration(s, &ns) < 0)
		return;
	FUZZ_ASSERT(ns >= 0);
	format_duration_exact(ns, text, sizeof(text));
	FUZZ_ASSERT(parse_duration(text, &back) == 0 && back == ns);
	format_duration(ns, human, sizeof(human));
	FUZZ_ASSERT(strlen(human) < sizeof(human));
}

static void check_uint(const char *s)
{
	uint64_t v, lo, hi;

	if (parse_uint(s, 0, UINT64_MAX, &v) < 0)
		return;
	/* The same number within [v, v] is accepted and just outside it is not. */
	FUZZ_ASSERT(parse_uint(s, v, v, &lo) == 0 && lo == v);
	if (v < UINT64_MAX)
		FUZZ_ASSERT(parse_uint(s, v + 1, UINT64_MAX, &hi) < 0);
}

static void check_escapes(const char *s, size_t n)
{
	uint8_t *bytes = malloc(n + 1), *again = malloc(n + 1);
	char *text = malloc(4 * n + 1), small[8];
	size_t len, len2;

	FUZZ_ASSERT(bytes && again && text);
	if (parse_escapes(s, bytes, n + 1, &len) == 0) {
		FUZZ_ASSERT(len <= n);
		/* Every byte takes at most four characters once escaped. */
		format_escapes(bytes, len, text, 4 * len + 1);
		FUZZ_ASSERT(parse_escapes(text, again, n + 1, &len2) == 0);
		FUZZ_ASSERT(len2 == len && memcmp(bytes, again, len) == 0);
		format_escapes(bytes, len, small, sizeof(small));
		FUZZ_ASSERT(strlen(small) < sizeof(small));
		if (len > 0)
			FUZZ_ASSERT(parse_escapes(s, bytes, len - 1, &len2) == -E2BIG);
	}
	free(bytes);
	free(again);
	free(text);
}

static bool same_address(const struct sockaddr_any *a, const struct sockaddr_any *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

static void check_address(const char *s)
{
	struct sockaddr_any a, b;
	char text[128];

	if (parse_address(s, false, &a) == 0) {
		format_address(&a, text, sizeof(text));
		FUZZ_ASSERT(parse_address(text, false, &b) == 0 && same_address(&a, &b));
	}
	if (parse_source(s, &a) == 0) {
		format_address(&a, text, sizeof(text));
		/* format_address() writes the port, which a source does not have: drop it. */
		*strrchr(text, ':') = '\0';
		FUZZ_ASSERT(parse_source(text, &b) == 0 && same_address(&a, &b));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	int64_t ns;
	char out[32];

	if (size > FUZZ_MAX_INPUT)
		return 0;
	s = malloc(size + 1);
	FUZZ_ASSERT(s);
	memcpy(s, data, size);
	s[size] = '\0';
	check_duration(s);
	check_uint(s);
	check_escapes(s, strlen(s));
	check_address(s);
	(void)name_is_valid(s);
	/* The formatters on any value at all, the input's first bytes taken as a number. */
	memcpy(&ns, (uint8_t[8]){ 0 }, sizeof(ns));
	memcpy(&ns, data, size < sizeof(ns) ? size : sizeof(ns));
	format_duration(ns, out, sizeof(out));
	FUZZ_ASSERT(strlen(out) < sizeof(out));
	format_duration_exact(ns, out, sizeof(out));
	FUZZ_ASSERT(strlen(out) < sizeof(out));
	free(s);
	return 0;
}
