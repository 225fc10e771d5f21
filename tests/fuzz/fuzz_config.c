/* libFuzzer harness for the configuration: config_load_string() on arbitrary text
 * runs inih, our line-counting reader, the key table and its parsers and the
 * validator; then everything is formatted and freed. Names are never resolved, so
 * the run is deterministic and needs no network. Beyond "no crash, no leak", a
 * configuration is accepted without errors or rejected with at least one, each of
 * which formats to a line. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Larger inputs only repeat what smaller ones reach, more slowly. */
#define FUZZ_MAX_INPUT 65536

#define FUZZ_ASSERT(cond)                                                                  \
	do {                                                                               \
		if (!(cond))                                                               \
			abort();                                                           \
	} while (0)

/* What a loaded configuration promises its users. */
static void check_config(const struct config *c)
{
	FUZZ_ASSERT(c->n_targets <= CONFIG_MAX_TARGETS);
	FUZZ_ASSERT(c->total_connections <= CONFIG_MAX_TOTAL_CONNECTIONS);
	for (size_t i = 0; i < c->n_targets; i++) {
		const struct target_conf *t = c->targets[i];
		uint32_t len, total = 0;

		FUZZ_ASSERT(name_is_valid(t->name));
		FUZZ_ASSERT(config_find_target(c, t->name) == t);
		FUZZ_ASSERT(t->n_messages >= 1 && t->n_messages <= CONFIG_MAX_MESSAGES);
		FUZZ_ASSERT(t->connections >= 1 && t->connections <= CONFIG_MAX_CONNECTIONS);
		for (uint32_t k = 0; k < t->n_messages; k++) {
			(void)target_conf_message(t, k, &len);
			FUZZ_ASSERT(len >= 1 && len <= CONFIG_MAX_MESSAGE_BYTES);
			total += len;
		}
		FUZZ_ASSERT(total == t->msg_bytes);
		FUZZ_ASSERT(t->interval >= 0 && t->connect_timeout > 0 && t->timeout > 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	char *text, line[1024];
	int r;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	text = malloc(size + 1);
	FUZZ_ASSERT(text);
	memcpy(text, data, size);
	text[size] = '\0';
	r = config_load_string(text, "fuzz.conf", false, &cfg, &errs);
	if (r == 0) {
		FUZZ_ASSERT(cfg && errs.n == 0);
		check_config(cfg);
	} else {
		FUZZ_ASSERT(!cfg && errs.n > 0 && errs.n <= CONFIG_MAX_ERRORS);
	}
	for (size_t i = 0; i < errs.n; i++)
		FUZZ_ASSERT(strlen(config_error_format(&errs.v[i], line, sizeof(line))) < sizeof(line));
	config_errors_clear(&errs);
	config_free(cfg);
	free(text);
	return 0;
}
