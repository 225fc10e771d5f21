/* Configuration loading: inih reads the file through a reader of ours that counts
 * lines and tracks sections, a key table parses and range-checks every value, and
 * config_validate() checks the whole before anyone may use it. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <libgen.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "log.h"
#include "tls.h"
#include "util.h"

#define MS NSEC_PER_MSEC
#define SEC NSEC_PER_SEC

enum section_kind {
	SECT_NONE,
	SECT_DAEMON,
	SECT_TARGET,
	SECT_BAD,
};

struct parse_ctx;
struct key_def;

typedef int (*key_parser)(struct parse_ctx *ctx, const struct key_def *k, void *field,
			  const char *value);

struct key_def {
	const char *name;
	enum section_kind sect;
	key_parser parse;
	size_t offset;
	int64_t min;
	int64_t max;
	const char *const *names;
	const char *accepts;
};

/* State of one parse: the text being served to inih and where it is. */
struct parse_ctx {
	const char *file;
	const char *text;
	size_t pos;
	size_t len;
	unsigned line;
	bool line_open;
	bool resolve;
	enum section_kind sect;
	struct target_conf *target;
	struct config *cfg;
	struct config_errors *errs;
	size_t errs_start;
	uint64_t daemon_keys_seen;
	unsigned daemon_line[48];
	bool dropin;
	/* A [target] section that cannot be used (a bad or repeated name, one too many):
	 * its keys are still read into this copy of no config, so their errors are
	 * reported too. */
	struct target_conf *rejected;
};

static const char *const mode_names[] = { "cycle", "persistent", NULL };
static const char *const close_names[] = { "fin", "rst", NULL };
static const char *const timestamps_names[] = { "kernel", "loop", NULL };
static const char *const protocol_names[] = { "tcp", "udp", "tls", NULL };
static const char *const tls_version_names[] = { "1.2", "1.3", NULL };
static const char *const yes_no_names[] = { "no", "yes", NULL };
static const char *const family_names[] = { "any", "ipv4", "ipv6", NULL };
static const char *const level_names[] = { "emerg", "alert", "crit", "err", "warning",
					   "notice", "info", "debug", NULL };

static const char classic_messages[] = "Message 1 from client.Message 2 from client.";

const char *target_mode_name(enum target_mode m)
{
	return m < _MODE_MAX ? mode_names[m] : "?";
}

const char *timestamps_mode_name(enum timestamps_mode m)
{
	return m < _TIMESTAMPS_MAX ? timestamps_names[m] : "?";
}

const char *target_protocol_name(enum target_protocol p)
{
	return p < _TPROTO_MAX ? protocol_names[p] : "?";
}

const char *close_mode_name(enum close_mode m)
{
	return m < _CLOSE_MAX ? close_names[m] : "?";
}

const char *addr_family_name(enum addr_family f)
{
	return f < _AFAM_MAX ? family_names[f] : "?";
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p)
		abort();
	return p;
}

/* Record an error at the current line. */
__attribute__((format(printf, 3, 4)))
static void ctx_error(struct parse_ctx *ctx, const char *key, const char *fmt, ...)
{
	struct config_errors *errs = ctx->errs;
	struct config_error *e;
	char msg[512];
	va_list ap;

	if (errs->n >= CONFIG_MAX_ERRORS) {
		errs->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A bad address line (even "address 1.2.3.4" without '=') was an attempt at
	 * one: do not also say the address is missing. */
	if (ctx->sect == SECT_TARGET && ctx->target && key && strncmp(key, "address", 7) == 0)
		ctx->target->address_given = true;
	e = realloc(errs->v, (errs->n + 1) * sizeof(*e));
	if (!e)
		abort();
	errs->v = e;
	e[errs->n++] = (struct config_error){ .file = xstrdup(ctx->file), .line = ctx->line,
					      .key = key ? xstrdup(key) : NULL,
					      .msg = xstrdup(msg) };
}

/* Inline comments are off: say so when a bad value looks like it carries one. */
static const char *comment_hint(const char *value)
{
	if (strstr(value, " #") || strstr(value, " ;") || strstr(value, "\t#") ||
	    strstr(value, "\t;"))
		return " (a comment may only start a line: here '#' or ';' is part of the value)";
	return "";
}

/* A whole number in the key's range; what says what else the key accepts. */
static int key_uint_or(struct parse_ctx *ctx, const struct key_def *k, void *field,
		       const char *value, const char *what)
{
	uint64_t v;
	int r = parse_uint(value, (uint64_t)k->min, (uint64_t)k->max, &v);

	if (r < 0) {
		ctx_error(ctx, k->name, "%s '%s'; expected %sa whole number from %lld to %lld%s",
			  r == -ERANGE ? "out of range:" : "invalid value", value, what,
			  (long long)k->min, (long long)k->max, comment_hint(value));
		return -EINVAL;
	}
	*(uint32_t *)field = (uint32_t)v;
	return 0;
}

static int key_uint(struct parse_ctx *ctx, const struct key_def *k, void *field,
		    const char *value)
{
	return key_uint_or(ctx, k, field, value, "");
}

static int key_duration(struct parse_ctx *ctx, const struct key_def *k, void *field,
			const char *value)
{
	char lo[32], hi[32];
	int64_t v;
	int r = parse_duration(value, &v);

	format_duration_exact(k->min, lo, sizeof(lo));
	format_duration_exact(k->max, hi, sizeof(hi));
	if (r < 0 && r != -ERANGE) {
		ctx_error(ctx, k->name,
			  "invalid duration '%s'; expected a number with unit us, ms, s, m or h (bare = seconds), from %s to %s%s",
			  value, lo, hi, comment_hint(value));
		return -EINVAL;
	}
	if (r < 0 || v < k->min || v > k->max) {
		ctx_error(ctx, k->name, "out of range: '%s'; expected from %s to %s", value, lo, hi);
		return -ERANGE;
	}
	*(int64_t *)field = v;
	return 0;
}

/* "all" (stored as 0) or a whole number in the key's range. */
static int key_quorum(struct parse_ctx *ctx, const struct key_def *k, void *field,
		      const char *value)
{
	if (strcmp(value, "all") == 0) {
		*(uint32_t *)field = 0;
		return 0;
	}
	return key_uint_or(ctx, k, field, value, "all or ");
}

/* A share in percent, "12.5" or "12.5%", from k->min to k->max; stored as 0..1. */
static int key_percent(struct parse_ctx *ctx, const struct key_def *k, void *field,
		       const char *value)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	if (end != value && *end == '%')
		end++;
	if (end == value || *end || errno || !(v >= (double)k->min && v <= (double)k->max)) {
		ctx_error(ctx, k->name, "invalid value '%s'; expected a percentage from %lld to %lld, such as 10 or 12.5%%%s",
			  value, (long long)k->min, (long long)k->max, comment_hint(value));
		return -EINVAL;
	}
	*(double *)field = v / 100.0;
	return 0;
}

static int key_enum(struct parse_ctx *ctx, const struct key_def *k, void *field,
		    const char *value)
{
	for (int i = 0; k->names[i]; i++) {
		if (strcmp(value, k->names[i]) == 0) {
			*(int *)field = i;
			return 0;
		}
	}
	ctx_error(ctx, k->name, "invalid value '%s'; expected %s%s", value, k->accepts,
		  comment_hint(value));
	return -EINVAL;
}

static int key_level(struct parse_ctx *ctx, const struct key_def *k, void *field,
		     const char *value)
{
	uint64_t v;

	if (strcmp(value, "error") == 0)
		value = "err";
	if (parse_uint(value, 0, 7, &v) == 0) {
		*(int *)field = (int)v;
		return 0;
	}
	return key_enum(ctx, k, field, value);
}

static int key_address(struct parse_ctx *ctx, const struct key_def *k, void *field,
		       const char *value)
{
	struct target_conf *t = ctx->target;
	int r;

	if (strlen(value) >= sizeof(t->address_text)) {
		ctx_error(ctx, k->name, "address too long (at most %zu characters)",
			  sizeof(t->address_text) - 1);
		return -EINVAL;
	}
	r = parse_address_host(value, field, t->host, sizeof(t->host), &t->port);
	if (r == -EADDRNOTAVAIL) {
		ctx_error(ctx, k->name, "'%s' is not a unicast address; expected one TCP can connect to",
			  value);
		return r;
	}
	if (r == -ENODEV || r == -EDOM) {
		ctx_error(ctx, k->name, r == -ENODEV
			  ? "'%s': no network interface of that name or number for the scope after %%; expected [fe80::ADDR%%INTERFACE]:port with an existing interface"
			  : "'%s': a scope (%%INTERFACE) applies only to link-local IPv6 addresses (fe80::/10)",
			  value);
		return r;
	}
	if (r < 0) {
		ctx_error(ctx, k->name, "invalid address '%s'; expected %s%s", value, k->accepts,
			  comment_hint(value));
		return r;
	}
	if (r == 0)
		t->host[0] = '\0';
	snprintf(t->address_text, sizeof(t->address_text), "%s", value);
	t->address_given = true;
	return 0;
}

static int key_source(struct parse_ctx *ctx, const struct key_def *k, void *field,
		      const char *value)
{
	struct target_conf *t = ctx->target;

	if (strlen(value) >= sizeof(t->source_text) || parse_source(value, field) < 0) {
		ctx_error(ctx, k->name, "invalid address '%s'; expected %s%s", value, k->accepts,
			  comment_hint(value));
		return -EINVAL;
	}
	snprintf(t->source_text, sizeof(t->source_text), "%s", value);
	t->has_source = true;
	return 0;
}

/* Append one message; the first message key of a target replaces the defaults. */
static int key_message(struct parse_ctx *ctx, const struct key_def *k, void *field,
		       const char *value)
{
	struct target_conf *t = ctx->target;
	uint8_t tmp[CONFIG_MAX_MESSAGE_BYTES];
	size_t len;
	int r;
	uint8_t *p;

	(void)field;
	if (t->custom_messages) {
		if (t->n_messages >= CONFIG_MAX_MESSAGES) {
			ctx_error(ctx, k->name, "too many messages (at most %d per target)",
				  CONFIG_MAX_MESSAGES);
			return -E2BIG;
		}
	} else {
		t->n_messages = 0;
		t->msg_bytes = 0;
	}
	r = parse_escapes(value, tmp, sizeof(tmp), &len);
	if (r == -E2BIG) {
		ctx_error(ctx, k->name, "message too long (at most %d bytes)", CONFIG_MAX_MESSAGE_BYTES);
		return r;
	}
	if (r < 0 || len == 0) {
		ctx_error(ctx, k->name, "invalid message '%s'; expected %s", value, k->accepts);
		return -EINVAL;
	}
	p = realloc(t->msg, t->msg_bytes + len);
	if (!p)
		abort();
	memcpy(p + t->msg_bytes, tmp, len);
	t->msg = p;
	t->msg_bytes += (uint32_t)len;
	t->msg_end[t->n_messages++] = t->msg_bytes;
	t->custom_messages = true;
	return 0;
}

static int key_socket_path(struct parse_ctx *ctx, const struct key_def *k, void *field,
			   const char *value)
{
	char **dst = field;

	if (value[0] != '/' || strlen(value) >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
	    strpbrk(value, " \t")) {
		ctx_error(ctx, k->name, "invalid path '%s'; expected %s%s", value, k->accepts,
			  comment_hint(value));
		return -EINVAL;
	}
	free(*dst);
	*dst = xstrdup(value);
	return 0;
}

/* A file for TLS (tls_ca, tls_cert, tls_key): a relative one is taken from the
 * directory of the file that names it. Read and parsed when the target's TLS context
 * is built (config_validate()). */
static int key_tls_path(struct parse_ctx *ctx, const struct key_def *k, void *field,
			const char *value)
{
	char dir[CONFIG_MAX_TLS_PATH + 1];
	char *dst = field;
	int n;

	if (!value[0] || strlen(value) > CONFIG_MAX_TLS_PATH) {
		ctx_error(ctx, k->name, "invalid path '%.80s'; expected %s", value, k->accepts);
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), "%s", ctx->file ? ctx->file : ".");
	n = value[0] == '/' ? snprintf(dst, CONFIG_MAX_TLS_PATH + 1, "%s", value)
			    : snprintf(dst, CONFIG_MAX_TLS_PATH + 1, "%s/%s", dirname(dir), value);
	if (n > CONFIG_MAX_TLS_PATH) {
		dst[0] = '\0';
		ctx_error(ctx, k->name, "path too long once taken from the directory of %s; expected %s",
			  ctx->file, k->accepts);
		return -EINVAL;
	}
	return 0;
}

/* tls_server_name: a DNS name or an IP address, or none. */
static int key_tls_name(struct parse_ctx *ctx, const struct key_def *k, void *field,
			const char *value)
{
	size_t n = strlen(value);

	if (n == 0 || n > CONFIG_MAX_TLS_NAME ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.:_*") != n) {
		ctx_error(ctx, k->name, "invalid name '%.80s'; expected %s%s", value, k->accepts,
			  comment_hint(value));
		return -EINVAL;
	}
	memcpy(field, value, n + 1);
	return 0;
}

static int key_listen(struct parse_ctx *ctx, const struct key_def *k, void *field,
		      const char *value)
{
	struct config *c = ctx->cfg;

	if (strlen(value) >= 64 || parse_listen(value, field) < 0) {
		ctx_error(ctx, k->name, "invalid address '%s'; expected %s%s", value, k->accepts,
			  comment_hint(value));
		return -EINVAL;
	}
	free(c->metrics_listen_text);
	c->metrics_listen_text = xstrdup(value);
	return 0;
}

/* A file name pattern; relative ones are taken from the main file's directory. */
static int key_glob(struct parse_ctx *ctx, const struct key_def *k, void *field,
		    const char *value)
{
	char **dst = field;

	if (strlen(value) > 1024) {
		ctx_error(ctx, k->name, "pattern too long; expected %s", k->accepts);
		return -EINVAL;
	}
	free(*dst);
	*dst = xstrdup(value);
	return 0;
}

/* A group name as useradd accepts it, or a numeric gid; resolved in validation. */
static int key_group(struct parse_ctx *ctx, const struct key_def *k, void *field,
		     const char *value)
{
	char **dst = field;
	size_t n = strlen(value);

	if (n == 0 || n > 32 || value[0] == '-' ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-$") != n) {
		ctx_error(ctx, k->name, "invalid group '%s'; expected %s%s", value, k->accepts,
			  comment_hint(value));
		return -EINVAL;
	}
	free(*dst);
	*dst = xstrdup(value);
	return 0;
}

static int key_file_mode(struct parse_ctx *ctx, const struct key_def *k, void *field,
			 const char *value)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 8);
	if (value[0] < '0' || value[0] > '7' || *end || errno || v > 0777 || strlen(value) > 4) {
		ctx_error(ctx, k->name, "invalid mode '%s'; expected %s%s", value, k->accepts,
			  comment_hint(value));
		return -EINVAL;
	}
	*(unsigned *)field = (unsigned)v;
	return 0;
}

/* shard = K/N: this checker is K of N. */
static int key_shard(struct parse_ctx *ctx, const struct key_def *k, void *field,
		     const char *value)
{
	struct config *c = ctx->cfg;

	(void)field;
	if (shard_parse(value, &c->shard_k, &c->shard_n) < 0) {
		ctx_error(ctx, k->name, "invalid value '%s'; expected %s%s", value, k->accepts,
			  comment_hint(value));
		return -EINVAL;
	}
	c->shard_set = true;
	return 0;
}

/* shards = all or a list of shard numbers: where a target is checked, whatever the hash. */
static int key_shard_pin(struct parse_ctx *ctx, const struct key_def *k, void *field,
			 const char *value)
{
	if (shard_parse_pin(value, field) < 0) {
		ctx_error(ctx, k->name, "invalid value '%s'; expected %s%s", value, k->accepts,
			  comment_hint(value));
		return -EINVAL;
	}
	return 0;
}

_Static_assert(CONFIG_MAX_LABELS == 8 && CONFIG_MAX_LABEL_NAME == 32 &&
		       CONFIG_MAX_LABEL_VALUE == 64, "the labels key's messages say these limits");

/* Label names mconnd's own series use, and the ones Prometheus sets on a scrape. */
static const char *const reserved_labels[] = {
	"target", "address", "resolved", "protocol", "mode", "state", "verdict", "result",
	"le", "quantile", "version", "instance", "job", NULL,
};

/* Check one label name; NULL when it is good, else what is wrong with it. */
static const char *label_name_problem(const char *n)
{
	size_t len = strlen(n);

	if (len == 0)
		return "an empty label name";
	if (len > CONFIG_MAX_LABEL_NAME)
		return "a label name longer than 32 characters";
	if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') || n[0] == '_') ||
	    strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != len)
		return "not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)";
	if (strncmp(n, "__", 2) == 0)
		return "a label name starting with __ (reserved by Prometheus)";
	for (size_t i = 0; reserved_labels[i]; i++)
		if (strcmp(n, reserved_labels[i]) == 0)
			return "a label mconnd or Prometheus sets itself";
	return NULL;
}

/* Copy the text from p to end into out (cap bytes) without the white space around
 * it; false when it does not fit. */
static bool label_trim(const char *p, const char *end, char *out, size_t cap)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - p) >= cap)
		return false;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return true;
}

/* Parse one "name=value" of a labels list into l; 0 or an error said in err. */
static int label_parse_one(const char *p, const char *end, struct target_label *l, char *err,
			   size_t errlen)
{
	const char *eq = memchr(p, '=', (size_t)(end - p));
	char name[256];
	const char *why;

	if (!eq) {
		snprintf(err, errlen, "'%.*s' is not name=value", (int)MIN(end - p, 80), p);
		return -EINVAL;
	}
	why = label_trim(p, eq, name, sizeof(name)) ? label_name_problem(name)
						      : "a label name longer than 32 characters";
	if (why) {
		snprintf(err, errlen, "'%.*s': %s", (int)MIN(eq - p, 80), p, why);
		return -EINVAL;
	}
	snprintf(l->name, sizeof(l->name), "%.32s", name);
	if (!label_trim(eq + 1, end, l->value, sizeof(l->value))) {
		snprintf(err, errlen, "the value of %.32s is longer than %d bytes", l->name,
			 CONFIG_MAX_LABEL_VALUE);
		return -EINVAL;
	}
	if (!l->value[0] || !utf8_printable(l->value, strlen(l->value))) {
		snprintf(err, errlen, "the value of %.32s is %s", l->name,
			 l->value[0] ? "not printable UTF-8" : "empty (the same as no label)");
		return -EINVAL;
	}
	return 0;
}

/* labels = NAME=VALUE, NAME=VALUE: the target's own labels on its series. */
static int key_labels(struct parse_ctx *ctx, const struct key_def *k, void *field,
		      const char *value)
{
	struct target_conf *t = ctx->target;
	struct target_label v[CONFIG_MAX_LABELS];
	const char *p = value;
	uint32_t n = 0;
	char err[256];

	(void)field;
	memset(v, 0, sizeof(v));
	while (*value) {
		const char *end = strchr(p, ',');

		if (!end)
			end = p + strlen(p);
		if (n == CONFIG_MAX_LABELS) {
			ctx_error(ctx, k->name, "more than %d labels; expected %s", CONFIG_MAX_LABELS,
				  k->accepts);
			return -E2BIG;
		}
		if (label_parse_one(p, end, &v[n], err, sizeof(err)) < 0) {
			ctx_error(ctx, k->name, "%s; expected %s", err, k->accepts);
			return -EINVAL;
		}
		for (uint32_t i = 0; i < n; i++) {
			if (strcmp(v[i].name, v[n].name) == 0) {
				ctx_error(ctx, k->name, "label %s given twice; keep one", v[n].name);
				return -EINVAL;
			}
		}
		n++;
		if (!*end)
			break;
		p = end + 1;
	}
	memcpy(t->labels, v, sizeof(v));
	t->n_labels = n;
	return 0;
}

#define T(f) offsetof(struct target_conf, f)
#define D(f) offsetof(struct config, f)

static const struct key_def keys[] = {
	{ "control_socket", SECT_DAEMON, key_socket_path, D(control_socket), 0, 0, NULL,
	  "an absolute path of at most 107 bytes, without white space" },
	{ "control_idle_timeout", SECT_DAEMON, key_duration, D(control_idle_timeout), 1 * SEC,
	  86400 * SEC, NULL, NULL },
	{ "control_io_timeout", SECT_DAEMON, key_duration, D(control_io_timeout), 100 * MS,
	  600 * SEC, NULL, NULL },
	{ "log_level", SECT_DAEMON, key_level, D(log_level), 0, 7, level_names,
	  "emerg, alert, crit, err, warning, notice, info, debug or 0-7" },
	{ "log_target", SECT_DAEMON, key_enum, D(log_target), 0, 0, log_sink_names,
	  "auto, journal, stderr or syslog" },
	{ "metrics_listen", SECT_DAEMON, key_listen, D(metrics_listen), 0, 0, NULL,
	  "a numeric ADDR:PORT or [V6ADDR]:PORT (port 0: the kernel picks one)" },
	{ "include", SECT_DAEMON, key_glob, D(include), 0, 0, NULL,
	  "a file name pattern of at most 1024 bytes, or nothing to read no drop-ins" },
	{ "admin_group", SECT_DAEMON, key_group, D(admin_group), 0, 0, NULL,
	  "a group name or number" },
	{ "control_mode", SECT_DAEMON, key_file_mode, D(control_mode), 0, 0, NULL,
	  "an octal file mode from 0 to 0777, such as 0660" },
	{ "control_group", SECT_DAEMON, key_group, D(control_group), 0, 0, NULL,
	  "a group name or number" },
	{ "resolve_timeout", SECT_DAEMON, key_duration, D(resolve_timeout), 100 * MS, 60 * SEC,
	  NULL, NULL },
	{ "shard", SECT_DAEMON, key_shard, 0, 1, SHARD_MAX, NULL,
	  "K/N, this checker's number K from 1 to N of N checkers (at most 64), such as 2/4" },
	{ "replicas", SECT_DAEMON, key_uint, D(replicas), 1, SHARD_MAX, NULL, NULL },
	{ "address", SECT_TARGET, key_address, T(addr), 0, 0, NULL,
	  "host:port, [ipv6]:port or name:port with a port from 1 to 65535" },
	{ "connections", SECT_TARGET, key_uint, T(connections), 1, CONFIG_MAX_CONNECTIONS, NULL, NULL },
	{ "message", SECT_TARGET, key_message, 0, 0, 0, NULL,
	  "1 or more bytes with escapes \\n \\r \\t \\\\ \\xHH" },
	{ "interval", SECT_TARGET, key_duration, T(interval), 0, 3600 * SEC, NULL, NULL },
	{ "connect_timeout", SECT_TARGET, key_duration, T(connect_timeout), MS, 600 * SEC, NULL, NULL },
	{ "timeout", SECT_TARGET, key_duration, T(timeout), MS, 3600 * SEC, NULL, NULL },
	{ "backoff_max", SECT_TARGET, key_duration, T(backoff_max), 0, 3600 * SEC, NULL, NULL },
	{ "rise", SECT_TARGET, key_uint, T(rise), 1, 1000, NULL, NULL },
	{ "fall", SECT_TARGET, key_uint, T(fall), 1, 1000, NULL, NULL },
	{ "down_quorum", SECT_TARGET, key_quorum, T(down_quorum), 1, CONFIG_MAX_CONNECTIONS, NULL, NULL },
	{ "degraded_ratio", SECT_TARGET, key_percent, T(degraded_ratio), 0, 100, NULL, NULL },
	{ "flap_threshold", SECT_TARGET, key_uint, T(flap_threshold), 0, CONFIG_MAX_FLAP_THRESHOLD, NULL, NULL },
	{ "flap_window", SECT_TARGET, key_duration, T(flap_window), 1 * SEC, 86400 * SEC, NULL, NULL },
	{ "interval_down", SECT_TARGET, key_duration, T(interval_down), 0, 3600 * SEC, NULL, NULL },
	{ "interval_changing", SECT_TARGET, key_duration, T(interval_changing), 0, 3600 * SEC, NULL, NULL },
	{ "mode", SECT_TARGET, key_enum, T(mode), 0, 0, mode_names, "cycle or persistent" },
	{ "close", SECT_TARGET, key_enum, T(close), 0, 0, close_names, "fin or rst" },
	{ "source", SECT_TARGET, key_source, T(source), 0, 0, NULL,
	  "a numeric IPv4 or IPv6 address" },
	{ "family", SECT_TARGET, key_enum, T(family), 0, 0, family_names, "any, ipv4 or ipv6" },
	{ "resolve_every", SECT_TARGET, key_duration, T(resolve_every), 0, 86400 * SEC, NULL, NULL },
	{ "timestamps", SECT_TARGET, key_enum, T(timestamps), 0, 0, timestamps_names, "kernel or loop" },
	{ "labels", SECT_TARGET, key_labels, T(labels), 0, 0, NULL,
	  "up to 8 NAME=VALUE, comma-separated: names [a-zA-Z_][a-zA-Z0-9_]* of at most 32 characters, not starting with __ and none of target, address, resolved, protocol, mode, state, verdict, result, le, quantile, version, instance, job; values 1 to 64 bytes of printable UTF-8 without commas" },
	{ "shards", SECT_TARGET, key_shard_pin, T(shard_pin), 1, SHARD_MAX, NULL,
	  "all, or shard numbers from 1 to 64 separated by commas, such as 1,3" },
	{ "protocol", SECT_TARGET, key_enum, T(protocol), 0, 0, protocol_names, "tcp, udp or tls" },
	{ "udp_tag", SECT_TARGET, key_enum, T(udp_tag), 0, 0, yes_no_names, "yes or no" },
	{ "echo", SECT_TARGET, key_enum, T(echo), 0, 0, yes_no_names, "yes or no" },
	{ "tls_server_name", SECT_TARGET, key_tls_name, T(tls_server_name), 0, 0, NULL,
	  "a DNS name or an IP address of at most 253 characters, or none (no SNI, no name checked)" },
	{ "tls_verify", SECT_TARGET, key_enum, T(tls_verify), 0, 0, yes_no_names, "yes or no" },
	{ "tls_ca", SECT_TARGET, key_tls_path, T(tls_ca), 0, 0, NULL,
	  "the path of a PEM file or of a directory in OpenSSL's hashed form, at most 1024 bytes" },
	{ "tls_cert", SECT_TARGET, key_tls_path, T(tls_cert), 0, 0, NULL,
	  "the path of a PEM certificate file, at most 1024 bytes" },
	{ "tls_key", SECT_TARGET, key_tls_path, T(tls_key), 0, 0, NULL,
	  "the path of a PEM private key file (not encrypted), at most 1024 bytes" },
	{ "tls_min_version", SECT_TARGET, key_enum, T(tls_min_version), 0, 0, tls_version_names,
	  "1.2 or 1.3" },
	{ "tls_resume", SECT_TARGET, key_enum, T(tls_resume), 0, 0, yes_no_names, "yes or no" },
};

_Static_assert(ELEMENTSOF(keys) <= ELEMENTSOF(((struct target_conf *)0)->key_line),
	       "key_line must have a slot for every key");
_Static_assert(ELEMENTSOF(keys) <= ELEMENTSOF(((struct parse_ctx *)0)->daemon_line),
	       "daemon_line must have a slot for every key");
_Static_assert(ELEMENTSOF(keys) <= 64, "keys_seen has a bit for every key");

/* List the keys of a section kind, for "unknown key" messages. */
static void keys_list(enum section_kind sect, char *out, size_t n)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < ELEMENTSOF(keys) && o < n; i++)
		if (keys[i].sect == sect)
			o += (size_t)snprintf(out + o, n - o, "%s%s", o ? ", " : "", keys[i].name);
}

static int config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	char known[512];
	void *base;

	(void)section;
	if (ctx->sect == SECT_BAD)
		return 1;
	if (ctx->sect == SECT_NONE) {
		ctx_error(ctx, name, "key outside a section; expected [daemon] or [target \"NAME\"] first");
		return 1;
	}
	base = ctx->sect == SECT_DAEMON ? (void *)ctx->cfg : (void *)ctx->target;
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		const struct key_def *k = &keys[i];

		if (k->sect != ctx->sect || strcmp(k->name, name) != 0)
			continue;
		if (k->parse != key_message) {
			uint64_t *seen = ctx->sect == SECT_DAEMON ? &ctx->daemon_keys_seen
								  : &ctx->target->keys_seen;

			if (*seen & (1ull << i)) {
				if (ctx->sect == SECT_DAEMON)
					ctx_error(ctx, name, "given twice in [daemon]; keep one");
				else
					ctx_error(ctx, name, "given twice in [target \"%s\"]; keep one",
						  ctx->target->name);
				return 1;
			}
			*seen |= 1ull << i;
		}
		if (ctx->sect == SECT_TARGET)
			ctx->target->key_line[i] = ctx->line;
		else
			ctx->daemon_line[i] = ctx->line;
		k->parse(ctx, k, (char *)base + k->offset, value);
		return 1;
	}
	keys_list(ctx->sect, known, sizeof(known));
	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		if (keys[i].sect == ctx->sect && strcasecmp(keys[i].name, name) == 0) {
			ctx_error(ctx, name, "unknown key (keys are lower case: '%s')", keys[i].name);
			return 1;
		}
	}
	ctx_error(ctx, name, "unknown key%s; accepted keys in this section: %s",
		  strpbrk(name, " \t") ? " (is an '=' missing?)" : "", known);
	return 1;
}

static struct target_conf *target_conf_new(const char *name, const char *file, unsigned line)
{
	struct target_conf *t = calloc(1, sizeof(*t));

	if (!t)
		abort();
	/* t is zeroed and the copy stops one short of the end: the name stays terminated. */
	memcpy(t->name, name, MIN(strlen(name), sizeof(t->name) - 1)); /* NOLINT(bugprone-not-null-terminated-result) */
	t->refs = 1;
	t->file = file;
	t->line = line;
	t->connections = 1;
	t->interval = 1 * SEC;
	t->connect_timeout = CONFIG_DEFAULT_CONNECT_TIMEOUT;
	t->timeout = 5 * SEC;
	t->backoff_max = 5 * SEC;
	t->rise = 2;
	t->fall = 3;
	t->degraded_ratio = 0.10;
	t->flap_threshold = 5;
	t->flap_window = 300 * SEC;
	t->interval_down = -1;
	t->interval_changing = -1;
	t->family = AFAM_ANY;
	t->tls_verify = 1;
	t->echo = 1;
	t->msg = malloc(sizeof(classic_messages) - 1);
	if (!t->msg)
		abort();
	memcpy(t->msg, classic_messages, sizeof(classic_messages) - 1);
	t->n_messages = 2;
	t->msg_end[0] = 22;
	t->msg_end[1] = 44;
	t->msg_bytes = 44;
	return t;
}

static void target_conf_free(struct target_conf *t)
{
	if (!t)
		return;
	tls_ctx_unref(t->tls_ctx);
	free(t->msg);
	free(t);
}

/* Forget the section that was rejected, if the one that ends was. */
static void section_end(struct parse_ctx *ctx)
{
	target_conf_free(ctx->rejected);
	ctx->rejected = NULL;
	ctx->target = NULL;
}

/* Read the keys of a rejected section into a target of no config, for their errors. */
static void section_reject(struct parse_ctx *ctx, const char *name)
{
	ctx->rejected = ctx->target = target_conf_new(name, ctx->file, ctx->line);
	ctx->sect = SECT_TARGET;
}

/* Start a [target "NAME"] section seen at the current line. */
static void section_target(struct parse_ctx *ctx, const char *name)
{
	struct config *c = ctx->cfg;
	const struct target_conf *old;
	struct target_conf **v;

	ctx->sect = SECT_BAD;
	if (!name_is_valid(name)) {
		ctx_error(ctx, NULL, "invalid target name \"%s\"; expected 1 to %d of A-Z a-z 0-9 _ . : -",
			  name, MCONN_NAME_MAX);
		section_reject(ctx, name);
		return;
	}
	old = config_find_target(c, name);
	if (old) {
		ctx_error(ctx, NULL, "target \"%s\" is defined twice; first at %s:%u", name,
			  old->file, old->line);
		section_reject(ctx, name);
		return;
	}
	if (c->n_targets >= CONFIG_MAX_TARGETS) {
		ctx_error(ctx, NULL, "too many targets (at most %d)", CONFIG_MAX_TARGETS);
		section_reject(ctx, name);
		return;
	}
	v = realloc(c->targets, (c->n_targets + 1) * sizeof(*v));
	if (!v)
		abort();
	c->targets = v;
	ctx->target = v[c->n_targets++] = target_conf_new(name, ctx->file, ctx->line);
	ctx->sect = SECT_TARGET;
}

/* Recognise a section header line, so sections are known even when empty. */
static void section_header(struct parse_ctx *ctx, const char *line, size_t n)
{
	char inner[128], name[128];
	const char *end = memchr(line, ']', n);
	size_t len;

	if (!end)
		return;
	section_end(ctx);
	len = (size_t)(end - line - 1);
	if (len >= sizeof(inner)) {
		ctx->sect = SECT_BAD;
		ctx_error(ctx, NULL, "section name too long");
		return;
	}
	memcpy(inner, line + 1, len);
	inner[len] = '\0';
	for (const char *q = end + 1; q < line + n; q++) {
		if (*q != ' ' && *q != '\t' && *q != '\r') {
			ctx->sect = SECT_BAD;
			ctx_error(ctx, NULL, "unexpected text after [%s]", inner);
			return;
		}
	}
	if (strcmp(inner, "daemon") == 0 && ctx->dropin) {
		ctx->sect = SECT_BAD;
		ctx_error(ctx, NULL, "[daemon] belongs in the main file %s; a drop-in holds [target \"NAME\"] sections only",
			  ctx->cfg->path);
	} else if (strcmp(inner, "daemon") == 0) {
		ctx->sect = SECT_DAEMON;
	} else if (len > 9 && strncmp(inner, "target \"", 8) == 0 && inner[len - 1] == '"' &&
		   !memchr(inner + 8, '"', len - 9)) {
		memcpy(name, inner + 8, len - 9);
		name[len - 9] = '\0';
		section_target(ctx, name);
	} else {
		ctx->sect = SECT_BAD;
		ctx_error(ctx, NULL, "unknown section [%s]; expected [daemon] or [target \"NAME\"]",
			  inner);
	}
}

/* Look at a whole line as it starts, from our copy of the text rather than inih's
 * chunk: count it, spot a section header, and name a line inih will refuse, since
 * inih reports only the first such line. Skips a BOM on line 1 as inih does. */
static void line_start(struct parse_ctx *ctx, const char *p, size_t n)
{
	size_t skip;

	ctx->line++;
	if (ctx->line == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		n -= 3;
	}
	skip = strspn(p, " \t\r\f\v");
	if (skip >= n || p[skip] == ';' || p[skip] == '#')
		return;
	if (p[skip] == '[' && memchr(p + skip, ']', n - skip)) {
		section_header(ctx, p + skip, n - skip);
		return;
	}
	if (p[skip] == '[' || (!memchr(p, '=', n) && !memchr(p, ':', n)))
		ctx_error(ctx, NULL, "syntax error; expected [section], key = value or a comment");
}

/* The inih reader: serves lines from memory, counts them, spots section headers. */
static char *config_reader(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	const char *p = ctx->text + ctx->pos;
	size_t avail = ctx->len - ctx->pos, n;
	const char *nl;

	if (avail == 0 || num < 2)
		return NULL;
	nl = memchr(p, '\n', avail);
	n = nl ? (size_t)(nl - p) + 1 : avail;
	if (n > (size_t)num - 1)
		n = (size_t)num - 1;
	memcpy(str, p, n);
	str[n] = '\0';
	if (!ctx->line_open)
		line_start(ctx, p, nl ? (size_t)(nl - p) : avail);
	ctx->line_open = str[n - 1] != '\n';
	ctx->pos += n;
	return str;
}

/* Check that no line is longer than inih will take in one piece. */
static int config_check_lines(struct parse_ctx *ctx)
{
	const char *p = ctx->text, *end = ctx->text + ctx->len;
	unsigned line = 1;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n > CONFIG_MAX_LINE - 3) {
			ctx->line = line;
			ctx_error(ctx, NULL, "line too long (%zu bytes; at most %d)", n,
				  CONFIG_MAX_LINE - 3);
			return -E2BIG;
		}
		if (memchr(p, '\0', n)) {
			ctx->line = line;
			ctx_error(ctx, NULL, "NUL byte in the file");
			return -EINVAL;
		}
		p += n + 1;
		line++;
	}
	return 0;
}

/* Return the index of a key in the table. */
static size_t key_index(const char *name)
{
	size_t i = 0;

	while (strcmp(keys[i].name, name) != 0)
		i++;
	return i;
}

/* The line where t set the first of two keys it set, else its section line. */
static unsigned target_key_line(const struct target_conf *t, const char *a, const char *b)
{
	unsigned la = t->key_line[key_index(a)], lb = t->key_line[key_index(b)];

	return la ? la : lb ? lb : t->line;
}

/* The keys that belong to one protocol only, and which: a key given for a target of
 * another protocol is an error at its line, since it would silently do nothing. */
#define PROTO_BIT(p) (1u << (p))
static const struct protocol_key {
	const char *key;
	unsigned only;
	const char *names;
	const char *why;
} protocol_keys[] = {
	{ "close", PROTO_BIT(TPROTO_TCP) | PROTO_BIT(TPROTO_TLS), "tcp or tls",
	  "a UDP socket has no connection to end" },
	{ "connect_timeout", PROTO_BIT(TPROTO_TCP) | PROTO_BIT(TPROTO_TLS), "tcp or tls",
	  "a UDP socket connects at once, with nothing sent" },
	{ "timestamps", PROTO_BIT(TPROTO_TCP), "tcp",
	  "UDP and TLS cycles are timed by the loop's clock" },
	{ "udp_tag", PROTO_BIT(TPROTO_UDP), "udp", "it tags datagrams" },
	{ "echo", PROTO_BIT(TPROTO_TCP) | PROTO_BIT(TPROTO_TLS), "tcp or tls",
	  "a UDP cycle is its datagrams and their echoes" },
	{ "tls_server_name", PROTO_BIT(TPROTO_TLS), "tls", "it names the TLS server" },
	{ "tls_verify", PROTO_BIT(TPROTO_TLS), "tls", "it verifies the TLS server" },
	{ "tls_ca", PROTO_BIT(TPROTO_TLS), "tls", "it verifies the TLS server" },
	{ "tls_cert", PROTO_BIT(TPROTO_TLS), "tls", "it is a TLS client certificate" },
	{ "tls_key", PROTO_BIT(TPROTO_TLS), "tls", "it is a TLS client key" },
	{ "tls_min_version", PROTO_BIT(TPROTO_TLS), "tls", "it is a TLS version" },
	{ "tls_resume", PROTO_BIT(TPROTO_TLS), "tls", "it resumes TLS sessions" },
};

static void config_validate_protocol(struct parse_ctx *ctx, const struct target_conf *t)
{
	for (size_t i = 0; i < ELEMENTSOF(protocol_keys); i++) {
		const struct protocol_key *pk = &protocol_keys[i];
		unsigned line = t->key_line[key_index(pk->key)];

		if (!line || (pk->only & PROTO_BIT(t->protocol)))
			continue;
		ctx->line = line;
		ctx_error(ctx, pk->key,
			  "[target \"%s\"]: %s applies only to protocol = %s (%s), and this target's protocol is %s; remove it",
			  t->name, pk->key, pk->names, pk->why, target_protocol_name(t->protocol));
	}
	if (t->protocol == TPROTO_TLS && !t->tls_cert[0] != !t->tls_key[0]) {
		const char *given = t->tls_cert[0] ? "tls_cert" : "tls_key";

		ctx->line = t->key_line[key_index(given)];
		ctx_error(ctx, given, "[target \"%s\"]: tls_cert and tls_key go together; give %s too, or neither",
			  t->name, t->tls_cert[0] ? "tls_key" : "tls_cert");
	}
}

/* Whether a and b would build the same TLS context (the name is the connection's). */
static bool tls_same_context(const struct target_conf *a, const struct target_conf *b)
{
	return a->tls_verify == b->tls_verify && a->tls_min_version == b->tls_min_version &&
	       a->tls_resume == b->tls_resume && strcmp(a->tls_ca, b->tls_ca) == 0 &&
	       strcmp(a->tls_cert, b->tls_cert) == 0 && strcmp(a->tls_key, b->tls_key) == 0;
}

/* Build the TLS context of c->targets[i], reading its files (an error at the line of
 * the key whose file failed), or share the one of an earlier target that would build
 * the same: one context per set of TLS settings, files read once per load. */
static void config_build_tls(struct parse_ctx *ctx, struct x509_store_st **system, size_t i)
{
	struct target_conf *t = ctx->cfg->targets[i];
	const char *key = "protocol";
	char err[400];

	if (t->protocol != TPROTO_TLS || t->tls_ctx || !t->tls_cert[0] != !t->tls_key[0])
		return;
	for (size_t j = 0; j < i; j++) {
		const struct target_conf *o = ctx->cfg->targets[j];

		if (o->protocol == TPROTO_TLS && o->tls_ctx && tls_same_context(o, t)) {
			t->tls_ctx = o->tls_ctx;
			tls_ctx_ref(t->tls_ctx);
			return;
		}
	}
	if (tls_ctx_build(t, system, &t->tls_ctx, err, sizeof(err), &key) == 0)
		return;
	ctx->file = t->file;
	ctx->line = t->key_line[key_index(key)];
	if (!ctx->line)
		ctx->line = t->line;
	ctx_error(ctx, key, "[target \"%s\"]: %s", t->name, err);
}

/* echo = no: a cycle is the connect (and the TLS handshake), with nothing sent. No
 * message may be given, and a persistent session would have nothing to do. */
static void config_validate_no_echo(struct parse_ctx *ctx, struct target_conf *t)
{
	if (t->custom_messages) {
		ctx->line = t->key_line[key_index("message")];
		ctx_error(ctx, "message",
			  "[target \"%s\"]: echo = no sends nothing, so it takes no message; remove the message lines or echo = no",
			  t->name);
	}
	if (t->mode == MODE_PERSISTENT) {
		ctx->line = target_key_line(t, "echo", "mode");
		ctx_error(ctx, "echo",
			  "[target \"%s\"]: echo = no ends each cycle once connected, so it needs mode = cycle; a persistent connection would have nothing to check",
			  t->name);
	}
	t->n_messages = 0;
	t->msg_bytes = 0;
}

/* Check one target as a whole; errors point at the lines of the keys involved. A
 * connect_timeout the file does not give follows timeout: the smaller of 2s and it. */
static void config_validate_target(struct parse_ctx *ctx, struct target_conf *t)
{
	char a[32], b[32];

	if (!(t->keys_seen & (1ull << key_index("connect_timeout"))))
		t->connect_timeout = MIN(CONFIG_DEFAULT_CONNECT_TIMEOUT, t->timeout);

	ctx->file = t->file;
	ctx->line = t->line;
	if (t->addr.len == 0 && !t->address_given)
		ctx_error(ctx, "address", "[target \"%s\"] has no address; it is required", t->name);
	ctx->line = target_key_line(t, "connect_timeout", "timeout");
	if (t->protocol == TPROTO_TCP && t->connect_timeout > t->timeout)
		ctx_error(ctx, "connect_timeout",
			  "[target \"%s\"]: connect_timeout (%s) is longer than timeout (%s); it must not be",
			  t->name, format_duration(t->connect_timeout, a, sizeof(a)),
			  format_duration(t->timeout, b, sizeof(b)));
	ctx->line = target_key_line(t, "source", "address");
	if (t->has_source && t->addr.len && t->source.ss.ss_family != t->addr.ss.ss_family)
		ctx_error(ctx, "source",
			  "[target \"%s\"]: source %s is not of the address family of %s",
			  t->name, t->source_text, t->address_text);
	ctx->line = target_key_line(t, "family", "address");
	if (t->family != AFAM_ANY && t->addr.len && !t->host[0] &&
	    t->addr.ss.ss_family != (t->family == AFAM_IPV4 ? AF_INET : AF_INET6))
		ctx_error(ctx, "family", "[target \"%s\"]: %s is not an %s address",
			  t->name, t->address_text, t->family == AFAM_IPV4 ? "IPv4" : "IPv6");
	ctx->line = target_key_line(t, "resolve_every", "address");
	if (t->resolve_every > 0 && t->resolve_every < SEC)
		ctx_error(ctx, "resolve_every",
			  "[target \"%s\"]: out of range; expected 0 (never) or from 1s to 24h", t->name);
	config_validate_protocol(ctx, t);
	if (!t->echo && t->protocol != TPROTO_UDP)
		config_validate_no_echo(ctx, t);
}

/* Read a numeric group; a name is left for config_lookups() (CONFIG_NO_GID), with
 * the line it was written on in *ret_line for the error should it not resolve. */
static gid_t config_parse_gid(struct parse_ctx *ctx, const char *key, const char *name,
			      unsigned *ret_line)
{
	char *end;
	unsigned long v;

	if (!name)
		return CONFIG_NO_GID;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (*end == '\0' && !errno && v < CONFIG_NO_GID)
		return (gid_t)v;
	*ret_line = ctx->daemon_line[key_index(key)];
	return CONFIG_NO_GID;
}

/* Check shard, replicas and every target's pins against the number of shards. */
static void config_validate_shards(struct parse_ctx *ctx)
{
	struct config *c = ctx->cfg;
	char list[256];

	ctx->file = c->path;
	ctx->line = ctx->daemon_line[key_index("replicas")];
	if (c->replicas > c->shard_n && !c->shard_set) {
		ctx_error(ctx, "replicas", "%u replicas need shard = K/N with N of at least %u; without shard there is one checker",
			  c->replicas, c->replicas);
	} else if (c->replicas > c->shard_n) {
		ctx_error(ctx, "replicas", "out of range: %u; expected from 1 to %u, the N of shard = %u/%u",
			  c->replicas, c->shard_n, c->shard_k, c->shard_n);
	}
	for (size_t i = 0; i < c->n_targets; i++) {
		const struct target_conf *t = c->targets[i];
		uint64_t beyond = c->shard_n >= SHARD_MAX ? 0 : t->shard_pin.mask & ~(SHARD_BIT(c->shard_n + 1) - 1);

		if (!beyond)
			continue;
		ctx->file = t->file;
		ctx->line = t->key_line[key_index("shards")];
		ctx_error(ctx, "shards", "[target \"%s\"]: shard %s beyond the %u of shard = %u/%u; expected all, or numbers from 1 to %u",
			  t->name, shard_mask_format(beyond, list, sizeof(list)), c->shard_n,
			  c->shard_k, c->shard_n, c->shard_n);
	}
}

/* Keep in targets what this checker runs; the other shards' targets go to skipped. */
static void config_split_shards(struct config *c)
{
	size_t kept = 0;

	c->all = malloc((c->n_targets ? c->n_targets : 1) * sizeof(*c->all));
	if (!c->all)
		abort();
	if (c->n_targets)
		memcpy(c->all, c->targets, c->n_targets * sizeof(*c->all));
	c->n_all = c->n_targets;
	for (size_t i = 0; i < c->n_targets; i++) {
		struct target_conf *t = c->targets[i];
		struct target_conf **v;

		t->shard_owners = shard_owners(t->name, &t->shard_pin, c->shard_n, c->replicas);
		if (t->shard_owners & SHARD_BIT(c->shard_k)) {
			c->targets[kept++] = t;
			continue;
		}
		v = realloc(c->skipped, (c->n_skipped + 1) * sizeof(*v));
		if (!v)
			abort();
		c->skipped = v;
		v[c->n_skipped++] = t;
	}
	c->n_targets = kept;
}

/* Check the configuration as a whole: every target, and totals against limits. */
static void config_validate(struct parse_ctx *ctx)
{
	struct config *c = ctx->cfg;
	struct x509_store_st *system = NULL;

	c->admin_gid = config_parse_gid(ctx, "admin_group", c->admin_group, &c->admin_group_line);
	c->control_gid = config_parse_gid(ctx, "control_group", c->control_group,
					  &c->control_group_line);
	for (size_t i = 0; i < c->n_targets; i++) {
		config_validate_target(ctx, c->targets[i]);
		config_build_tls(ctx, &system, i);
	}
	tls_store_unref(system);
	config_validate_shards(ctx);
	config_split_shards(c);
	c->total_connections = 0;
	for (size_t i = 0; i < c->n_targets; i++)
		c->total_connections += c->targets[i]->connections;
	ctx->file = c->path;
	if (c->total_connections > CONFIG_MAX_TOTAL_CONNECTIONS) {
		ctx->line = 0;
		ctx_error(ctx, "connections", "%llu connections in all; at most %u are allowed",
			  (unsigned long long)c->total_connections, CONFIG_MAX_TOTAL_CONNECTIONS);
	}
}

static struct config *config_new(const char *path)
{
	struct config *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	c->path = xstrdup(path);
	c->control_socket = xstrdup("/run/mconnd.sock");
	c->control_idle_timeout = 60 * SEC;
	c->control_io_timeout = 10 * SEC;
	c->resolve_timeout = 5 * SEC;
	c->log_level = 6;
	c->control_mode = 0660;
	c->admin_gid = c->control_gid = CONFIG_NO_GID;
	c->shard_k = c->shard_n = c->replicas = 1;
	return c;
}

/* Run inih over the text with our reader, turning its syntax errors into ours. */
static void config_parse_text(struct parse_ctx *ctx)
{
	int r;

	ini_allow_multiline = false;
	ini_allow_inline_comments = false;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = CONFIG_MAX_LINE;
	ini_stop_on_first_error = false;
	ini_allow_no_value = false;
	r = ini_parse_stream(config_reader, ctx, config_handler, ctx);
	if (r == -2) {
		ctx->line = 0;
		ctx_error(ctx, NULL, "out of memory while reading");
	} else if (r > 0) {
		bool known = false;

		for (size_t i = ctx->errs_start; i < ctx->errs->n; i++)
			known |= ctx->errs->v[i].line == (unsigned)r;
		ctx->line = (unsigned)r;
		if (!known)
			ctx_error(ctx, NULL, "syntax error; expected [section], key = value or a comment");
	}
}

/* Parse one file's text into ctx->cfg; a NUL byte in it is an error, not the end. */
static void config_parse_file(struct parse_ctx *ctx)
{
	if (config_check_lines(ctx) == 0)
		config_parse_text(ctx);
	section_end(ctx);
	ctx->sect = SECT_NONE;
}

void config_target_query(const struct target_conf *t, int64_t deadline, struct resolve_query *q)
{
	*q = (struct resolve_query){ .kind = RESOLVE_ADDRESS, .port = t->port, .family = t->family,
				     .deadline = deadline };
	/* With a source address, only an address of its family can be used. */
	if (t->family == AFAM_ANY && t->has_source)
		q->family = t->source.ss.ss_family == AF_INET ? AFAM_IPV4 : AFAM_IPV6;
	memcpy(q->name, t->host, sizeof(q->name));
}

/* Add a group look-up to v when the group was given by name. */
static size_t lookup_group(struct config_lookup *v, size_t n, const char *key, const char *name,
			   gid_t gid, int64_t deadline)
{
	if (!name || gid != CONFIG_NO_GID)
		return n;
	v[n] = (struct config_lookup){ .q = { .kind = RESOLVE_GROUP, .deadline = deadline },
				       .key = key };
	snprintf(v[n].q.name, sizeof(v[n].q.name), "%s", name);
	return n + 1;
}

size_t config_lookups(struct config *c, int64_t deadline, struct config_lookup **ret)
{
	struct config_lookup *v = calloc(c->n_targets + 2, sizeof(*v));
	size_t n = 0;

	if (!v)
		abort();
	n = lookup_group(v, n, "admin_group", c->admin_group, c->admin_gid, deadline);
	n = lookup_group(v, n, "control_group", c->control_group, c->control_gid, deadline);
	for (size_t i = 0; i < c->n_targets; i++) {
		struct target_conf *t = c->targets[i];

		if (!t->host[0])
			continue;
		v[n] = (struct config_lookup){ .target = t, .key = "address" };
		config_target_query(t, deadline, &v[n].q);
		n++;
	}
	if (n == 0) {
		free(v);
		v = NULL;
	}
	*ret = v;
	return n;
}

/* Why a look-up failed, in words, into out. */
static void lookup_reason(const struct config *c, const struct resolve_answer *a, char *out,
			  size_t n)
{
	char d[32];

	if (a->err == -ETIMEDOUT)
		snprintf(out, n, "no answer within %s (resolve_timeout)",
			 format_duration_exact(c->resolve_timeout, d, sizeof(d)));
	else if (a->err == -EHOSTUNREACH)
		snprintf(out, n, "no such name (%s)", a->msg);
	else
		snprintf(out, n, "%s", a->msg);
}

int config_lookup_apply(struct config *c, const struct config_lookup *l,
			const struct resolve_answer *a, struct config_errors *errs)
{
	struct target_conf *t = l->target;
	struct parse_ctx ctx = { .file = c->path, .errs = errs };
	char why[200];

	if (a->err == 0) {
		if (t)
			t->addr = a->addr;
		else if (strcmp(l->key, "admin_group") == 0)
			c->admin_gid = a->gid;
		else
			c->control_gid = a->gid;
		return 0;
	}
	lookup_reason(c, a, why, sizeof(why));
	if (!t) {
		ctx.line = strcmp(l->key, "admin_group") == 0 ? c->admin_group_line
							      : c->control_group_line;
		if (a->err == -ENOENT)
			ctx_error(&ctx, l->key, "no such group '%s'", l->q.name);
		else
			ctx_error(&ctx, l->key, "cannot look up group '%s': %s", l->q.name, why);
		return a->err;
	}
	ctx.file = t->file;
	ctx.line = t->key_line[key_index("address")];
	ctx_error(&ctx, l->key, "[target \"%s\"]: cannot resolve '%s'%s%s: %s", t->name, l->q.name,
		  l->q.family == AFAM_ANY ? "" : " to an address of family ",
		  l->q.family == AFAM_ANY ? "" : addr_family_name(l->q.family), why);
	return a->err;
}

/* Collects the answers of config_resolve(). */
struct resolve_batch {
	struct config *c;
	struct config_lookup *v;
	uint64_t *ids;
	size_t n;
	struct config_errors *errs;
};

static void batch_on_answer(void *owner, uint64_t id, const struct resolve_answer *a)
{
	struct resolve_batch *b = owner;

	for (size_t i = 0; i < b->n; i++)
		if (b->ids[i] == id)
			config_lookup_apply(b->c, &b->v[i], a, b->errs);
}

int config_resolve(struct config *c, struct resolver *r, struct config_errors *errs)
{
	struct resolve_batch b = { .c = c, .errs = errs };
	size_t before = errs->n + errs->dropped;

	b.n = config_lookups(c, now_ns() + c->resolve_timeout, &b.v);
	b.ids = calloc(b.n ? b.n : 1, sizeof(*b.ids));
	if (!b.ids)
		abort();
	for (size_t i = 0; i < b.n; i++) {
		struct resolve_answer busy = { .err = -EAGAIN, .msg = "the resolver is busy (queue full)" };

		if (resolve_submit(r, &b.v[i].q, batch_on_answer, &b, &b.ids[i]) < 0)
			config_lookup_apply(c, &b.v[i], &busy, errs);
	}
	resolve_wait(r);
	free(b.ids);
	free(b.v);
	return errs->n + errs->dropped == before ? 0 : -EINVAL;
}

/* Look every name up now, on this thread (config_load's resolve). */
static void config_resolve_blocking(struct config *c, struct config_errors *errs)
{
	struct config_lookup *v;
	size_t n = config_lookups(c, INT64_MAX, &v);

	for (size_t i = 0; i < n; i++) {
		struct resolve_answer a;

		resolve_run(&v[i].q, &a);
		config_lookup_apply(c, &v[i], &a, errs);
	}
	free(v);
}

/* Where an error sorts: its file in the order read (the main file first), then its
 * line; an error of a whole file (line 0) after that file's lines. */
static uint64_t error_rank(const struct config *c, const struct config_error *e)
{
	uint64_t file = UINT32_MAX;

	if (strcmp(e->file, c->path) == 0)
		file = 0;
	for (size_t i = 0; i < c->n_files && file == UINT32_MAX; i++)
		if (c->files[i] && strcmp(e->file, c->files[i]) == 0)
			file = i + 1;
	return file << 32 | (e->line ? e->line : UINT32_MAX);
}

/* Put the errors from first on in file and line order, keeping the order of the
 * errors of one line (a stable insertion sort of at most CONFIG_MAX_ERRORS). */
static void config_errors_sort(const struct config *c, struct config_errors *errs, size_t first)
{
	for (size_t i = first + 1; i < errs->n; i++) {
		struct config_error e = errs->v[i];
		uint64_t rank = error_rank(c, &e);
		size_t j = i;

		while (j > first && error_rank(c, &errs->v[j - 1]) > rank) {
			errs->v[j] = errs->v[j - 1];
			j--;
		}
		errs->v[j] = e;
	}
}

/* Validate what the files made; hand it out only when no error was found. */
static int config_finish(struct parse_ctx *ctx, size_t before, struct config **ret)
{
	config_validate(ctx);
	if (ctx->resolve)
		config_resolve_blocking(ctx->cfg, ctx->errs);
	config_errors_sort(ctx->cfg, ctx->errs, ctx->errs_start);
	/* The parse adds errors through ctx->errs, which cppcheck does not follow. */
	/* cppcheck-suppress knownConditionTrueFalse */
	if (ctx->errs->n + ctx->errs->dropped != before) {
		config_free(ctx->cfg);
		return -EINVAL;
	}
	*ret = ctx->cfg;
	return 0;
}

int config_load_string(const char *text, const char *name, bool resolve, struct config **ret,
		       struct config_errors *errs)
{
	struct config *c = config_new(name);
	struct parse_ctx ctx = { .file = c->path, .text = text, .len = strlen(text),
				 .resolve = resolve, .cfg = c, .errs = errs, .errs_start = errs->n };
	size_t before = errs->n + errs->dropped;

	config_parse_file(&ctx);
	return config_finish(&ctx, before, ret);
}

/* Read a whole file of at most CONFIG_MAX_FILE_BYTES into a NUL-terminated string. */
static int file_read_all(const char *path, char **ret, size_t *ret_len)
{
	struct stat st;
	ssize_t n;
	char *text;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
		goto out;
	}
	if (st.st_size > CONFIG_MAX_FILE_BYTES) {
		r = -EFBIG;
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text)
		abort();
	n = read(fd, text, (size_t)st.st_size);
	if (n < 0) {
		r = -errno;
		free(text);
		goto out;
	}
	text[n] = '\0';
	*ret = text;
	*ret_len = (size_t)n;
out:
	close(fd);
	return r;
}

/* Record why a file could not be read, as an error in that file. */
static void config_read_error(struct config_errors *errs, const char *path, int r)
{
	struct parse_ctx ctx = { .file = path, .errs = errs };

	if (r == -EFBIG)
		ctx_error(&ctx, NULL, "file too large (at most %u bytes)", CONFIG_MAX_FILE_BYTES);
	else if (r == -EBADFD)
		ctx_error(&ctx, NULL, "cannot read: not a regular file");
	else
		ctx_error(&ctx, NULL, "cannot read: %s", strerror(-r));
}

/* glob() has no user pointer for its error callback; loading is single-threaded. */
static char glob_fail_path[256];
static int glob_fail_errno;

static int glob_error(const char *epath, int eerrno)
{
	if (eerrno == ENOENT || eerrno == ENOTDIR)
		return 0;
	snprintf(glob_fail_path, sizeof(glob_fail_path), "%s", epath);
	glob_fail_errno = eerrno;
	return 1;
}

/* The include pattern: the key's value, relative to the main file's directory unless
 * absolute; by default every conf.d/NAME.conf there. Empty when drop-ins are off. */
static void config_include_pattern(const struct config *c, char *out, size_t n)
{
	const char *inc = c->include ? c->include : "conf.d/*.conf";
	char *copy;

	if (!*inc || inc[0] == '/') {
		snprintf(out, n, "%s", inc);
		return;
	}
	copy = xstrdup(c->path);
	snprintf(out, n, "%s/%s", dirname(copy), inc);
	free(copy);
}

/* Parse the drop-in files the include pattern names, in sorted order; the main file
 * is skipped should the pattern match it. */
static void config_read_dropins(struct parse_ctx *main, const struct stat *main_st)
{
	struct config *c = main->cfg;
	char pattern[2048];
	glob_t g;
	int r;

	config_include_pattern(c, pattern, sizeof(pattern));
	if (!*pattern)
		return;
	main->line = main->daemon_line[key_index("include")];
	glob_fail_errno = 0;
	r = glob(pattern, 0, glob_error, &g);
	if (r == GLOB_NOMATCH)
		return;
	if (r != 0) {
		if (r == GLOB_ABORTED)
			ctx_error(main, "include", "cannot read %s: %s", glob_fail_path,
				  strerror(glob_fail_errno));
		else
			ctx_error(main, "include", "cannot expand '%s': out of memory", pattern);
		globfree(&g);
		return;
	}
	if (g.gl_pathc > CONFIG_MAX_FILES) {
		ctx_error(main, "include", "%zu files match '%s'; at most %d may", g.gl_pathc,
			  pattern, CONFIG_MAX_FILES);
		globfree(&g);
		return;
	}
	c->files = calloc(g.gl_pathc, sizeof(*c->files));
	if (!c->files)
		abort();
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct parse_ctx ctx = { .resolve = main->resolve, .cfg = c, .errs = main->errs,
					 .dropin = true };
		struct stat st;
		char *text = NULL;

		if (stat(g.gl_pathv[i], &st) == 0 && st.st_dev == main_st->st_dev &&
		    st.st_ino == main_st->st_ino)
			continue;
		ctx.file = c->files[c->n_files++] = xstrdup(g.gl_pathv[i]);
		r = file_read_all(ctx.file, &text, &ctx.len);
		if (r == -EISDIR) {
			size_t n = strlen(ctx.file);

			while (n > 1 && ctx.file[n - 1] == '/')
				n--;
			ctx_error(main, "include",
				  "'%s' is a directory; name its files with a pattern such as %.*s/*.conf",
				  ctx.file, (int)n, ctx.file);
			continue;
		}
		if (r < 0) {
			config_read_error(main->errs, ctx.file, r);
			continue;
		}
		ctx.text = text;
		ctx.errs_start = main->errs->n;
		config_parse_file(&ctx);
		free(text);
	}
	globfree(&g);
}

int config_load(const char *path, bool resolve, struct config **ret, struct config_errors *errs)
{
	size_t before = errs->n + errs->dropped;
	struct parse_ctx ctx = { .resolve = resolve, .errs = errs };
	struct stat st = { 0 };
	char *text = NULL;
	int r = file_read_all(path, &text, &ctx.len);

	if (r < 0) {
		config_read_error(errs, path, r);
		return r;
	}
	(void)stat(path, &st);
	ctx.cfg = config_new(path);
	ctx.file = ctx.cfg->path;
	ctx.text = text;
	ctx.errs_start = errs->n;
	config_parse_file(&ctx);
	free(text);
	config_read_dropins(&ctx, &st);
	return config_finish(&ctx, before, ret);
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_targets; i++)
		config_target_unref(c->targets[i]);
	free(c->targets);
	for (size_t i = 0; i < c->n_skipped; i++)
		config_target_unref(c->skipped[i]);
	free(c->skipped);
	free(c->all);
	free(c->control_socket);
	free(c->metrics_listen_text);
	free(c->include);
	free(c->admin_group);
	free(c->control_group);
	for (size_t i = 0; i < c->n_files; i++)
		free(c->files[i]);
	free(c->files);
	free(c->path);
	free(c);
}

const struct target_conf *config_find_target(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_targets; i++)
		if (strcmp(c->targets[i]->name, name) == 0)
			return c->targets[i];
	return NULL;
}

char *config_error_format(const struct config_error *e, char *out, size_t n)
{
	char where[32] = "";

	if (e->line)
		snprintf(where, sizeof(where), ":%u", e->line);
	if (e->key)
		snprintf(out, n, "%s%s: %s: %s", e->file, where, e->key, e->msg);
	else
		snprintf(out, n, "%s%s: %s", e->file, where, e->msg);
	return out;
}

void config_errors_clear(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->v[i].file);
		free(errs->v[i].key);
		free(errs->v[i].msg);
	}
	free(errs->v);
	*errs = (struct config_errors){ 0 };
}

/* How a changeable key's value is kept in struct target_conf. */
enum change_kind {
	CHK_UINT,     /* uint32_t */
	CHK_DURATION, /* int64_t ns */
	CHK_ENUM,     /* an enum, compared as an int */
	CHK_OTHER,    /* compared and shown by code of its own below */
};

/* The keys a reload or `set` can change, one row per CHG_* bit in bit order: name,
 * how the value is kept and where. The diff, the names and the values shown in
 * status all come from here. */
static const struct change_def {
	const char *name;
	enum change_kind kind;
	size_t offset;
} changes[_CHG_COUNT] = {
	{ "address", CHK_OTHER, 0 },
	{ "connections", CHK_UINT, offsetof(struct target_conf, connections) },
	{ "message", CHK_OTHER, 0 },
	{ "interval", CHK_DURATION, offsetof(struct target_conf, interval) },
	{ "connect_timeout", CHK_DURATION, offsetof(struct target_conf, connect_timeout) },
	{ "timeout", CHK_DURATION, offsetof(struct target_conf, timeout) },
	{ "backoff_max", CHK_DURATION, offsetof(struct target_conf, backoff_max) },
	{ "rise", CHK_UINT, offsetof(struct target_conf, rise) },
	{ "fall", CHK_UINT, offsetof(struct target_conf, fall) },
	{ "mode", CHK_ENUM, offsetof(struct target_conf, mode) },
	{ "close", CHK_ENUM, offsetof(struct target_conf, close) },
	{ "source", CHK_OTHER, 0 },
	{ "family", CHK_ENUM, offsetof(struct target_conf, family) },
	{ "resolve_every", CHK_DURATION, offsetof(struct target_conf, resolve_every) },
	{ "down_quorum", CHK_UINT, offsetof(struct target_conf, down_quorum) },
	{ "degraded_ratio", CHK_OTHER, 0 },
	{ "flap_threshold", CHK_UINT, offsetof(struct target_conf, flap_threshold) },
	{ "flap_window", CHK_DURATION, offsetof(struct target_conf, flap_window) },
	{ "interval_down", CHK_DURATION, offsetof(struct target_conf, interval_down) },
	{ "interval_changing", CHK_DURATION, offsetof(struct target_conf, interval_changing) },
	{ "timestamps", CHK_ENUM, offsetof(struct target_conf, timestamps) },
	{ "labels", CHK_OTHER, 0 },
	{ "protocol", CHK_ENUM, offsetof(struct target_conf, protocol) },
	{ "udp_tag", CHK_ENUM, offsetof(struct target_conf, udp_tag) },
	{ "tls_server_name", CHK_OTHER, 0 },
	{ "tls_verify", CHK_ENUM, offsetof(struct target_conf, tls_verify) },
	{ "tls_ca", CHK_OTHER, 0 },
	{ "tls_cert", CHK_OTHER, 0 },
	{ "tls_key", CHK_OTHER, 0 },
	{ "tls_min_version", CHK_ENUM, offsetof(struct target_conf, tls_min_version) },
	{ "tls_resume", CHK_ENUM, offsetof(struct target_conf, tls_resume) },
};

/* The name of the value an enum key of t has. */
static const char *change_enum_name(const struct target_conf *t, unsigned bit)
{
	switch (bit) {
	case CHG_MODE: return target_mode_name(t->mode);
	case CHG_FAMILY: return addr_family_name(t->family);
	case CHG_TIMESTAMPS: return timestamps_mode_name(t->timestamps);
	case CHG_PROTOCOL: return target_protocol_name(t->protocol);
	case CHG_UDP_TAG: return t->udp_tag ? "yes" : "no";
	case CHG_TLS_VERIFY: return t->tls_verify ? "yes" : "no";
	case CHG_TLS_RESUME: return t->tls_resume ? "yes" : "no";
	case CHG_TLS_MIN_VERSION: return tls_version_name(t->tls_min_version);
	default: return close_mode_name(t->close);
	}
}

const char *config_change_name(unsigned bit)
{
	for (unsigned i = 0; i < _CHG_COUNT; i++)
		if (bit == 1u << i)
			return changes[i].name;
	return "?";
}

char *config_changes_format(unsigned bits, char *out, size_t n)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < _CHG_COUNT && o < n; i++)
		if (bits & (1u << i))
			o += (size_t)snprintf(out + o, n - o, "%s%s", o ? ", " : "", changes[i].name);
	return out;
}

static bool sockaddr_same(const struct sockaddr_any *a, const struct sockaddr_any *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

static bool labels_differ(const struct target_conf *a, const struct target_conf *b)
{
	if (a->n_labels != b->n_labels)
		return true;
	for (uint32_t i = 0; i < a->n_labels; i++)
		if (strcmp(a->labels[i].name, b->labels[i].name) != 0 ||
		    strcmp(a->labels[i].value, b->labels[i].value) != 0)
			return true;
	return false;
}

/* Compare the keys the table cannot: addresses and messages. */
static bool change_other_differs(const struct target_conf *a, const struct target_conf *b,
				 unsigned bit)
{
	switch (bit) {
	case CHG_ADDRESS:
		/* The address connected to, not its spelling: a name that resolves to
		 * the address in use is no change. */
		return !sockaddr_same(&a->addr, &b->addr);
	case CHG_MESSAGES:
		return a->n_messages != b->n_messages || a->msg_bytes != b->msg_bytes ||
		       memcmp(a->msg_end, b->msg_end, a->n_messages * sizeof(a->msg_end[0])) != 0 ||
		       memcmp(a->msg, b->msg, a->msg_bytes) != 0;
	case CHG_SOURCE:
		return a->has_source != b->has_source ||
		       (a->has_source && !sockaddr_same(&a->source, &b->source));
	case CHG_DEGRADED_RATIO:
		return a->degraded_ratio != b->degraded_ratio;
	case CHG_LABELS:
		return labels_differ(a, b);
	case CHG_TLS_SERVER_NAME:
		return strcmp(a->tls_server_name, b->tls_server_name) != 0;
	case CHG_TLS_CA:
		return strcmp(a->tls_ca, b->tls_ca) != 0;
	case CHG_TLS_CERT:
		return strcmp(a->tls_cert, b->tls_cert) != 0;
	case CHG_TLS_KEY:
		return strcmp(a->tls_key, b->tls_key) != 0;
	default:
		return false;
	}
}

unsigned config_target_diff(const struct target_conf *a, const struct target_conf *b)
{
	unsigned d = 0;

	for (unsigned i = 0; i < _CHG_COUNT; i++) {
		const struct change_def *c = &changes[i];
		const char *pa = (const char *)a + c->offset, *pb = (const char *)b + c->offset;
		bool differs;

		switch (c->kind) {
		case CHK_UINT: differs = *(const uint32_t *)pa != *(const uint32_t *)pb; break;
		case CHK_DURATION: differs = *(const int64_t *)pa != *(const int64_t *)pb; break;
		case CHK_ENUM: differs = *(const int *)pa != *(const int *)pb; break;
		default: differs = change_other_differs(a, b, 1u << i); break;
		}
		if (differs)
			d |= 1u << i;
	}
	return d;
}

char *config_change_value(const struct target_conf *t, unsigned bit, char *out, size_t n)
{
	for (unsigned i = 0; i < _CHG_COUNT; i++) {
		const char *p = (const char *)t + changes[i].offset;

		if (bit != 1u << i)
			continue;
		switch (changes[i].kind) {
		case CHK_UINT: snprintf(out, n, "%u", *(const uint32_t *)p); return out;
		case CHK_DURATION: return format_duration_exact(*(const int64_t *)p, out, n);
		case CHK_ENUM:
			snprintf(out, n, "%s", change_enum_name(t, bit));
			return out;
		default:
			break;
		}
	}
	snprintf(out, n, "?");
	return out;
}

struct target_conf *config_target_ref(struct target_conf *t)
{
	t->refs++;
	return t;
}

void config_target_unref(struct target_conf *t)
{
	if (t && --t->refs == 0)
		target_conf_free(t);
}

/* A copy of t with a message buffer of its own. */
static struct target_conf *target_conf_copy(const struct target_conf *t)
{
	struct target_conf *n = malloc(sizeof(*n));

	if (!n)
		abort();
	*n = *t;
	n->refs = 1;
	tls_ctx_ref(n->tls_ctx);
	n->msg = malloc(t->msg_bytes);
	if (!n->msg)
		abort();
	memcpy(n->msg, t->msg, t->msg_bytes);
	return n;
}

struct target_conf *config_target_with_address(const struct target_conf *t,
					       const struct sockaddr_any *addr)
{
	struct target_conf *n = target_conf_copy(t);

	n->addr = *addr;
	return n;
}

int config_target_set(const struct target_conf *t, const char *key, const char *value,
		      struct target_conf **ret, char *err, size_t errlen)
{
	struct config_errors errs = { 0 };
	struct parse_ctx ctx = { .file = "set", .errs = &errs, .sect = SECT_TARGET };
	struct target_conf *n;
	unsigned bit = 0;
	size_t k;

	for (unsigned i = 0; i < _CHG_COUNT; i++)
		if (strcmp(changes[i].name, key) == 0)
			bit = 1u << i;
	if (!(bit & CHG_SETTABLE)) {
		char names[256];

		snprintf(err, errlen, "%.40s: %s; settable: %s", key,
			 bit ? "cannot be set at run time" : "no such key",
			 config_changes_format(CHG_SETTABLE, names, sizeof(names)));
		return -EINVAL;
	}
	n = target_conf_copy(t);
	ctx.target = n;
	k = key_index(key);
	n->keys_seen |= 1ull << k;
	if (keys[k].parse(&ctx, &keys[k], (char *)n + keys[k].offset, value) == 0)
		config_validate_target(&ctx, n);
	if (errs.n) {
		snprintf(err, errlen, "%s: %s", key, errs.v[0].msg);
		config_errors_clear(&errs);
		target_conf_free(n);
		return -EINVAL;
	}
	*ret = n;
	return 0;
}
