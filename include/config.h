/* The configuration: an INI file read with inih into a fresh struct config through a
 * key table, then validated as a whole. Nothing here touches the running daemon; a
 * config is immutable once config_load() hands it out. Pure: errors are collected,
 * never logged. */
#ifndef MCONN_CONFIG_H
#define MCONN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"

/* Limits on what a configuration may ask for; documented in mconnd.conf(5). */
#define CONFIG_MAX_TARGETS 1024
#define CONFIG_MAX_CONNECTIONS 100000u
#define CONFIG_MAX_TOTAL_CONNECTIONS 100000u
#define CONFIG_MAX_MESSAGES 64
#define CONFIG_MAX_MESSAGE_BYTES 8192
#define CONFIG_MAX_LINE 40000
#define CONFIG_MAX_FILE_BYTES (4u << 20)
#define CONFIG_MAX_ERRORS 100

#define CONFIG_DEFAULT_PATH "/etc/mconnd/mconnd.conf"

enum target_mode {
	MODE_CYCLE,
	MODE_PERSISTENT,
	_MODE_MAX,
};

enum close_mode {
	CLOSE_FIN,
	CLOSE_RST,
	_CLOSE_MAX,
};

/* One [target "NAME"] section. */
struct target_conf {
	char name[MCONN_NAME_MAX + 1];
	char address_text[280];
	struct sockaddr_any addr;
	char source_text[64];
	struct sockaddr_any source;
	bool has_source;
	uint32_t connections;
	uint32_t n_messages;
	uint32_t msg_bytes;
	uint32_t msg_end[CONFIG_MAX_MESSAGES];
	uint8_t *msg;
	int64_t interval;
	int64_t connect_timeout;
	int64_t timeout;
	int64_t backoff_max;
	uint32_t rise;
	uint32_t fall;
	enum target_mode mode;
	enum close_mode close;
	const char *file;
	unsigned line;
	uint64_t keys_seen;
	bool custom_messages;
	bool address_given;
	unsigned key_line[24];
};

struct config {
	char *path;
	char *control_socket;
	int64_t control_idle_timeout;
	int64_t control_io_timeout;
	int log_level;
	char *metrics_listen_text;
	struct sockaddr_any metrics_listen;
	struct target_conf **targets;
	size_t n_targets;
	uint64_t total_connections;
};

/* One problem found while loading, with where it was found. */
struct config_error {
	char *file;
	unsigned line;
	char *key;
	char *msg;
};

struct config_errors {
	struct config_error *v;
	size_t n;
	size_t dropped;
};

/* Read and validate path; on failure ret is untouched and errs says why. */
int config_load(const char *path, bool resolve, struct config **ret, struct config_errors *errs);

/* Parse a configuration held in memory, as if read from the file named name. */
int config_load_string(const char *text, const char *name, bool resolve, struct config **ret,
		       struct config_errors *errs);

/* Free a configuration; config_free(NULL) does nothing. */
void config_free(struct config *c);

/* Format one error as "FILE:LINE: KEY: MESSAGE" (LINE and KEY when known) into out. */
char *config_error_format(const struct config_error *e, char *out, size_t n);

/* Free the collected errors and leave the list empty. */
void config_errors_clear(struct config_errors *errs);

/* Return the target named name, or NULL. */
const struct target_conf *config_find_target(const struct config *c, const char *name);

/* Return the mode's name as written in the file. */
const char *target_mode_name(enum target_mode m);

/* Return the close mode's name as written in the file. */
const char *close_mode_name(enum close_mode m);

/* Return the n-th message of t and its length. */
static inline const uint8_t *target_conf_message(const struct target_conf *t, uint32_t k,
						 uint32_t *ret_len)
{
	uint32_t start = k ? t->msg_end[k - 1] : 0;

	*ret_len = t->msg_end[k] - start;
	return t->msg + start;
}

#endif
