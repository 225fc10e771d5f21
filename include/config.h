/* The configuration: an INI file read with inih into a fresh struct config through a
 * key table, then validated as a whole. Nothing here touches the running daemon; a
 * config is immutable once config_load() hands it out. Pure: errors are collected,
 * never logged. */
#ifndef MCONN_CONFIG_H
#define MCONN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "parse.h"
#include "resolve.h"
#include "shard.h"

struct ssl_ctx_st;

/* Limits on what a configuration may ask for; documented in mconnd.conf(5). */
#define CONFIG_MAX_TARGETS 1024
#define CONFIG_MAX_CONNECTIONS 100000u
#define CONFIG_MAX_TOTAL_CONNECTIONS 100000u
#define CONFIG_MAX_MESSAGES 64
#define CONFIG_MAX_MESSAGE_BYTES 8192
#define CONFIG_MAX_LINE 40000
#define CONFIG_MAX_FILE_BYTES (4u << 20)
#define CONFIG_MAX_ERRORS 100
/* The most state changes flap_threshold may allow (the target keeps that many times). */
#define CONFIG_MAX_FLAP_THRESHOLD 100
/* Drop-in files one include may bring in. */
#define CONFIG_MAX_FILES 1024
/* A target's own labels (labels = team=web, tier=edge): how many, and how long a
 * name and a value may be. */
#define CONFIG_MAX_LABELS 8
#define CONFIG_MAX_LABEL_NAME 32
#define CONFIG_MAX_LABEL_VALUE 64

/* What differs between two versions of a target, as bits; also which keys were
 * changed at run time. A change in CHG_RESTART restarts the target's sessions. */
enum {
	CHG_ADDRESS = 1u << 0,
	CHG_CONNECTIONS = 1u << 1,
	CHG_MESSAGES = 1u << 2,
	CHG_INTERVAL = 1u << 3,
	CHG_CONNECT_TIMEOUT = 1u << 4,
	CHG_TIMEOUT = 1u << 5,
	CHG_BACKOFF_MAX = 1u << 6,
	CHG_RISE = 1u << 7,
	CHG_FALL = 1u << 8,
	CHG_MODE = 1u << 9,
	CHG_CLOSE = 1u << 10,
	CHG_SOURCE = 1u << 11,
	CHG_FAMILY = 1u << 12,
	CHG_RESOLVE_EVERY = 1u << 13,
	CHG_DOWN_QUORUM = 1u << 14,
	CHG_DEGRADED_RATIO = 1u << 15,
	CHG_FLAP_THRESHOLD = 1u << 16,
	CHG_FLAP_WINDOW = 1u << 17,
	CHG_INTERVAL_DOWN = 1u << 18,
	CHG_INTERVAL_CHANGING = 1u << 19,
	CHG_TIMESTAMPS = 1u << 20,
	CHG_LABELS = 1u << 21,
	CHG_PROTOCOL = 1u << 22,
	CHG_UDP_TAG = 1u << 23,
	CHG_TLS_SERVER_NAME = 1u << 24,
	CHG_TLS_VERIFY = 1u << 25,
	CHG_TLS_CA = 1u << 26,
	CHG_TLS_CERT = 1u << 27,
	CHG_TLS_KEY = 1u << 28,
	CHG_TLS_MIN_VERSION = 1u << 29,
	CHG_TLS_RESUME = 1u << 30,
	_CHG_COUNT = 31,
};
/* Any tls_* key: a change restarts the target's sessions. */
#define CHG_TLS                                                                             \
	(CHG_TLS_SERVER_NAME | CHG_TLS_VERIFY | CHG_TLS_CA | CHG_TLS_CERT | CHG_TLS_KEY |        \
	 CHG_TLS_MIN_VERSION | CHG_TLS_RESUME)
#define CHG_RESTART                                                                         \
	(CHG_ADDRESS | CHG_MESSAGES | CHG_MODE | CHG_SOURCE | CHG_PROTOCOL | CHG_UDP_TAG | CHG_TLS)
/* The keys `mconnctl set` may change. */
#define CHG_SETTABLE                                                                        \
	(CHG_CONNECTIONS | CHG_INTERVAL | CHG_CONNECT_TIMEOUT | CHG_TIMEOUT | CHG_RISE | CHG_FALL | \
	 CHG_HEALTH_SETTABLE)
/* The health model's keys: `set` takes them too. */
#define CHG_HEALTH_SETTABLE                                                                 \
	(CHG_DOWN_QUORUM | CHG_DEGRADED_RATIO | CHG_FLAP_THRESHOLD | CHG_FLAP_WINDOW |        \
	 CHG_INTERVAL_DOWN | CHG_INTERVAL_CHANGING)

#define CONFIG_DEFAULT_PATH "/etc/mconnd/mconnd.conf"
/* connect_timeout when the file does not give it, unless timeout is shorter. */
#define CONFIG_DEFAULT_CONNECT_TIMEOUT ((int64_t)2000000000)

enum target_mode {
	MODE_CYCLE,
	MODE_PERSISTENT,
	_MODE_MAX,
};

/* What a target's sessions speak: TCP echo, UDP echo (RFC 862), one datagram per
 * message over a connected socket, or TCP echo inside TLS. */
enum target_protocol {
	TPROTO_TCP,
	TPROTO_UDP,
	TPROTO_TLS,
	_TPROTO_MAX,
};

/* The longest path tls_ca, tls_cert and tls_key take, and tls_server_name. */
#define CONFIG_MAX_TLS_PATH 1024
#define CONFIG_MAX_TLS_NAME 253

enum close_mode {
	CLOSE_FIN,
	CLOSE_RST,
	_CLOSE_MAX,
};

/* Whose clock times a cycle: the kernel's stamps and TCP_INFO, or the loop's. */
enum timestamps_mode {
	TIMESTAMPS_KERNEL,
	TIMESTAMPS_LOOP,
	_TIMESTAMPS_MAX,
};

/* One label of a target's labels key, checked as Prometheus wants it. */
struct target_label {
	char name[CONFIG_MAX_LABEL_NAME + 1];
	char value[CONFIG_MAX_LABEL_VALUE + 1];
};

/* One [target "NAME"] section. Reference counted: its configuration (or, for a copy
 * made by `set`, its target) holds one reference and every cycle under way under it
 * one more, so a cycle keeps the values it started with across a reload; the last
 * config_target_unref() frees it. file names the file it was read from while that
 * configuration lives; a conf kept past it by a cycle never reads it. */
struct target_conf {
	uint32_t refs;
	char name[MCONN_NAME_MAX + 1];
	char address_text[280];
	/* The resolved address; len 0 while host still needs a look-up. */
	struct sockaddr_any addr;
	/* The name of address, empty when it is numeric, and its port. */
	char host[256];
	uint16_t port;
	enum addr_family family;
	int64_t resolve_every;
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
	/* Sessions down that make the target down; 0 for all of them. */
	uint32_t down_quorum;
	/* Share of failed recent results (0..1) that makes the target degraded; 0: off. */
	double degraded_ratio;
	/* More state changes than this within flap_window mark it flapping; 0: off. */
	uint32_t flap_threshold;
	int64_t flap_window;
	/* The pause while a session is down and while its verdict is changing; -1: the
	 * interval. */
	int64_t interval_down;
	int64_t interval_changing;
	enum target_mode mode;
	enum close_mode close;
	enum timestamps_mode timestamps;
	/* Labels the target's metrics carry besides target. */
	uint32_t n_labels;
	struct target_label labels[CONFIG_MAX_LABELS];
	enum target_protocol protocol;
	/* UDP: put a cycle tag (UDP_TAG_LEN bytes) before each message (0 or 1). */
	int udp_tag;
	/* 0 (echo = no): TCP and TLS cycles end once connected, or once the handshake is
	 * done, with nothing sent (n_messages is then 0); 1 (the default): they echo. */
	int echo;
	/* TLS: the name sent (SNI) and verified ("": the host of address, or its IP;
	 * "none": neither), verification (0 or 1), the CA file or directory ("": the
	 * system's store), the client certificate and key ("": none), tls_min_version
	 * (enum tls_version), tls_resume (0 or 1); and the context built from them when
	 * the configuration was loaded (a reference; NULL for other protocols). */
	char tls_server_name[CONFIG_MAX_TLS_NAME + 1];
	int tls_verify;
	char tls_ca[CONFIG_MAX_TLS_PATH + 1];
	char tls_cert[CONFIG_MAX_TLS_PATH + 1];
	char tls_key[CONFIG_MAX_TLS_PATH + 1];
	int tls_min_version;
	int tls_resume;
	struct ssl_ctx_st *tls_ctx;
	const char *file;
	unsigned line;
	uint64_t keys_seen;
	bool custom_messages;
	bool address_given;
	/* The shards that check this target: pinned (shards = 1,3 or all) or hashed. */
	struct shard_pin shard_pin;
	uint64_t shard_owners;
	unsigned key_line[64];
};

struct config {
	char *path;
	char *control_socket;
	char *include;
	char *admin_group;
	char *control_group;
	gid_t admin_gid;
	gid_t control_gid;
	/* Where the groups were named, for an error when they do not resolve. */
	unsigned admin_group_line;
	unsigned control_group_line;
	unsigned control_mode;
	int64_t control_idle_timeout;
	int64_t control_io_timeout;
	int64_t resolve_timeout;
	int log_level;
	/* enum log_sink: where the log goes (log.h). */
	int log_target;
	char *metrics_listen_text;
	struct sockaddr_any metrics_listen;
	/* The targets this checker runs (all of them without shard), in file order. */
	struct target_conf **targets;
	size_t n_targets;
	/* The targets other shards run: shard = K/N, replicas = R. */
	struct target_conf **skipped;
	size_t n_skipped;
	/* Every target of the file, in file order (no references of its own). */
	struct target_conf **all;
	size_t n_all;
	unsigned shard_k;
	unsigned shard_n;
	unsigned replicas;
	bool shard_set;
	uint64_t total_connections;
	char **files;
	size_t n_files;
};

/* No group configured, or not resolved yet (resolve = false). */
#define CONFIG_NO_GID ((gid_t)-1)

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

/* Read and validate path and the drop-in files its include names; on failure ret is
 * untouched and errs says why. With resolve, names and groups are looked up here,
 * blocking (for tools and tests); without, they are left for config_lookups(). */
int config_load(const char *path, bool resolve, struct config **ret, struct config_errors *errs);

/* Parse a configuration held in memory, as if read from the file named name. The
 * include key is checked but no drop-in is read. */
int config_load_string(const char *text, const char *name, bool resolve, struct config **ret,
		       struct config_errors *errs);

/* One name or group a loaded configuration still needs looked up. */
struct config_lookup {
	struct resolve_query q;
	/* The target whose address it is, or NULL for a [daemon] group. */
	struct target_conf *target;
	const char *key;
};

/* List the look-ups c needs, each with deadline; *ret (free() it) may be NULL when
 * none. Returns how many. */
size_t config_lookups(struct config *c, int64_t deadline, struct config_lookup **ret);

/* The query that resolves t's name, due by deadline. */
void config_target_query(const struct target_conf *t, int64_t deadline, struct resolve_query *q);

/* Store one answer in c, or add an error naming the file, line, key, target and name
 * to errs. Returns 0 or the answer's error. */
int config_lookup_apply(struct config *c, const struct config_lookup *l,
			const struct resolve_answer *a, struct config_errors *errs);

/* Look up every name and group of c through r, waiting for the answers at most
 * resolve_timeout (for the start, before the loop runs). 0, or -EINVAL with errs. */
int config_resolve(struct config *c, struct resolver *r, struct config_errors *errs);

/* A copy of t whose resolved address is addr; drop it with config_target_unref(). */
struct target_conf *config_target_with_address(const struct target_conf *t,
					       const struct sockaddr_any *addr);

/* Return the name of an address family setting ("any", "ipv4", "ipv6"). */
const char *addr_family_name(enum addr_family f);

/* Free a configuration; config_free(NULL) does nothing. */
void config_free(struct config *c);

/* Format one error as "FILE:LINE: KEY: MESSAGE" (LINE and KEY when known) into out. */
char *config_error_format(const struct config_error *e, char *out, size_t n);

/* Free the collected errors and leave the list empty. */
void config_errors_clear(struct config_errors *errs);

/* Return the target named name, or NULL. */
const struct target_conf *config_find_target(const struct config *c, const char *name);

/* Return the bits of the CHG_* keys whose values differ between a and b. */
unsigned config_target_diff(const struct target_conf *a, const struct target_conf *b);

/* Return the key name of one CHG_* bit. */
const char *config_change_name(unsigned bit);

/* Write the value t has for one CHG_* key, as the file would say it, into out. */
char *config_change_value(const struct target_conf *t, unsigned bit, char *out, size_t n);

/* Write the names of the keys in bits, comma-separated, into out. */
char *config_changes_format(unsigned bits, char *out, size_t n);

/* Make a copy of t with key set to value, checked as the file's value would be;
 * on failure *ret is untouched and err holds "KEY: MESSAGE". */
int config_target_set(const struct target_conf *t, const char *key, const char *value,
		      struct target_conf **ret, char *err, size_t errlen);

/* Take one more reference on t (for a cycle that runs under it); returns t. */
struct target_conf *config_target_ref(struct target_conf *t);

/* Drop one reference on t, freeing it with the last; NULL does nothing. */
void config_target_unref(struct target_conf *t);

/* Return the mode's name as written in the file. */
const char *target_mode_name(enum target_mode m);

/* Return the protocol's name as written in the file ("tcp", "udp"). */
const char *target_protocol_name(enum target_protocol p);

/* Return the close mode's name as written in the file. */
const char *close_mode_name(enum close_mode m);

/* Return the name of a timestamps mode ("kernel", "loop"). */
const char *timestamps_mode_name(enum timestamps_mode m);

/* Return the n-th message of t and its length. */
static inline const uint8_t *target_conf_message(const struct target_conf *t, uint32_t k,
						 uint32_t *ret_len)
{
	uint32_t start = k ? t->msg_end[k - 1] : 0;

	*ret_len = t->msg_end[k] - start;
	return t->msg + start;
}

#endif
