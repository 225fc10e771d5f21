/* Unit tests for the renderers (render.c) as a user of the control socket sees them:
 * a daemon with two targets on a loopback port that refuses is set up from memory, a
 * real AF_UNIX client asks through the dispatcher, and the test turns the loop until
 * the reply has arrived (the harness in ctlharness.c does the setting up, turning and
 * collecting). Text tables are checked for their rows and column alignment, JSON with
 * a small structural reader written here (no JSON library), counters set on the
 * targets directly for the numbers to appear. Every request is followed by a
 * `version` on the same connection, so a body with an empty line would show. */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "pool.h"
#include "histogram.h"
#include "proto.h"
#include "session.h"
#include "target.h"
#include "timer.h"
#include "util.h"
#include "check_main.h"
#include "ctlharness.h"

#define SEC NSEC_PER_SEC
#define MS NSEC_PER_MSEC
#define VERSION_REPLY "OK\nmconnd " MCONN_VERSION "\n\n"
#define NAME_A "a"
#define NAME_B "long-target.name_2"
#define NAME_C "c"
/* The IPv6 loopback address written out in full, longer than the ADDRESS column. */
#define LONG_ADDRESS "[0:0:0:0:0:0:0:1]"
/* "café.conf" in UTF-8. */
#define UTF8_NAME "caf\xc3\xa9.conf"
#define MAX_TOKS 16

/* The refusing port as the targets' address, made with the scratch directory, and the
 * non-ASCII configuration path in it. */
static char address[32];
static char utf8_path[128];

/* Made per test, in the forked child. */
static struct daemon *d;
static int client = -1;

/* The harness's scratch, and the refusing port as an address the targets connect to. */
static void scratch_setup(void)
{
	harness_scratch_setup();
	snprintf(address, sizeof(address), "127.0.0.1:%u", harness.port);
}

/* Start the daemon on the two targets and extra ones, as if read from path. */
static void daemon_start(const char *extra, const char *path)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "[daemon]\ncontrol_socket = %s\n"
		 "[target \"" NAME_A "\"]\naddress = %s\nconnections = 1\ninterval = 1h\n"
		 "[target \"" NAME_B "\"]\naddress = %s\nconnections = 3\ninterval = 1h\n"
		 "mode = persistent\nclose = rst\n%s",
		 harness.sock_path, address, address, extra);
	d = harness_daemon_start(text, path);
	client = harness_client_connect();
}

/* Sessions that have not started yet: every first cycle an hour away. */
static void sessions_hold(void)
{
	int64_t later = now_ns() + 3600 * SEC;

	for (size_t i = 0; i < d->pool.n_targets; i++)
		for (uint32_t k = 0; k < d->pool.targets[i]->n_sess; k++)
			timer_set(&d->loop.timers, d->pool.targets[i]->sess[k], later);
}

static void setup_before_cycles(void)
{
	daemon_start("", harness.conf_path);
	sessions_hold();
	HARNESS_TURN_UNTIL(d, d->ctl.n_clients == 1);
}

/* A third target with an address longer than most, and a configuration file whose
 * name is not ASCII; sessions held as above. */
static void setup_odd_inputs(void)
{
	char extra[256];

	snprintf(extra, sizeof(extra),
		 "[target \"" NAME_C "\"]\naddress = " LONG_ADDRESS "%s\ninterval = 1h\n",
		 strrchr(address, ':'));
	snprintf(utf8_path, sizeof(utf8_path), "%s/" UTF8_NAME, harness.dir);
	daemon_start(extra, utf8_path);
	sessions_hold();
	HARNESS_TURN_UNTIL(d, d->ctl.n_clients == 1);
}

/* The first session of each target has run one cycle, refused. */
static void setup_after_refused(void)
{
	daemon_start("", harness.conf_path);
	HARNESS_TURN_UNTIL(d, d->pool.targets[0]->cycles_failed == 1 &&
				      d->pool.targets[1]->cycles_failed == 1 &&
				      pool_target_active(&d->pool, d->pool.targets[0]) == 0 &&
				      pool_target_active(&d->pool, d->pool.targets[1]) == 0 &&
				      d->ctl.n_clients == 1);
}

static void daemon_teardown(void)
{
	harness_clients_close_all();
	client = -1;
	harness_daemon_free(d);
	d = NULL;
}

/* Send line, then `version`; return the whole reply to line, and check that the next
 * reply is exactly the version's: a reply whose body had an empty line would end early
 * and leave its rest in front of it. */
static const char *ask(const char *line, char *out, size_t n)
{
	static struct harness_rx rx;

	memset(&rx, 0, sizeof(rx));
	harness_client_send(client, line, strlen(line));
	HARNESS_SEND_STR(client, "\nversion\n");
	harness_pump_replies(d, client, &rx, 2);
	ck_assert_msg(!rx.eof && !rx.err, "connection closed after '%s'", rx.data);
	harness_rx_pop(&rx, out, n);
	ck_assert_str_eq(rx.data, VERSION_REPLY);
	ck_assert_msg(strncmp(out, "OK\n", 3) == 0 || strncmp(out, "ERR ", 4) == 0, "reply: '%s'",
		      out);
	return out;
}

/* Ask and expect OK; return the body, the reply after "OK\n" without its empty line. */
static const char *ask_ok(const char *line, char *out, size_t n)
{
	size_t len;

	ask(line, out, n);
	ck_assert_msg(strncmp(out, "OK\n", 3) == 0, "%s: '%s'", line, out);
	len = strlen(out);
	out[len - 1] = '\0';
	return out + 3;
}

/* The k-th line of text (from 0), without its newline, or NULL. */
static const char *line_of(const char *text, size_t k, char *out, size_t n)
{
	const char *end;

	for (; k > 0; k--) {
		text = strchr(text, '\n');
		if (!text)
			return NULL;
		text++;
	}
	end = strchr(text, '\n');
	if (!end)
		return NULL;
	ck_assert_uint_lt((size_t)(end - text), n);
	memcpy(out, text, (size_t)(end - text));
	out[end - text] = '\0';
	return out;
}

static size_t count_lines(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* Where each space-separated word of a table line starts and ends. */
struct tok {
	size_t start;
	size_t end;
};

static size_t tokenize(const char *line, struct tok *t, size_t max)
{
	size_t n = 0, i = 0;

	while (line[i]) {
		while (line[i] == ' ')
			i++;
		if (!line[i])
			break;
		ck_assert_uint_lt(n, max);
		t[n].start = i;
		while (line[i] && line[i] != ' ')
			i++;
		t[n++].end = i;
	}
	return n;
}

/* Assert that row lines up under header: column k starts (align 'l') or ends ('r')
 * where the header's word does. */
static void assert_aligned(const char *header, const char *row, const char *align)
{
	struct tok h[MAX_TOKS], r[MAX_TOKS];
	size_t nh = tokenize(header, h, MAX_TOKS), nr = tokenize(row, r, MAX_TOKS);

	ck_assert_msg(nh == strlen(align) && nr == nh, "%zu columns in '%s', %zu in '%s'", nh,
		      header, nr, row);
	for (size_t k = 0; k < nh; k++) {
		if (align[k] == 'l')
			ck_assert_msg(h[k].start == r[k].start,
				      "column %zu starts at %zu, in the header at %zu:\n%s\n%s", k,
				      r[k].start, h[k].start, header, row);
		else
			ck_assert_msg(h[k].end == r[k].end,
				      "column %zu ends at %zu, in the header at %zu:\n%s\n%s", k,
				      r[k].end, h[k].end, header, row);
	}
}

/* The k-th word of a line, copied into out. */
static const char *word_of(const char *line, size_t k, char *out, size_t n)
{
	struct tok t[MAX_TOKS];
	size_t nt = tokenize(line, t, MAX_TOKS), len;

	ck_assert_uint_lt(k, nt);
	len = t[k].end - t[k].start;
	ck_assert_uint_lt(len, n);
	memcpy(out, line + t[k].start, len);
	out[len] = '\0';
	return out;
}

/* A duration as status prints it ("2.00ms", "850us"), in milliseconds. */
static double duration_ms(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (strcmp(end, "ms") == 0)
		return v;
	if (strcmp(end, "us") == 0)
		return v / 1e3;
	if (strcmp(end, "s") == 0)
		return v * 1e3;
	ck_abort_msg("not a duration: '%s'", s);
	return 0;
}

/* A structural JSON reader: each function returns the end of what it read, or NULL. */
static const char *json_value(const char *p);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p != '\\')
			continue;
		p++;
		if (*p == 'u') {
			for (int i = 1; i <= 4; i++)
				if (!isxdigit((unsigned char)p[i]))
					return NULL;
			p += 4;
		} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
			return NULL;
		}
	}
	return p + 1;
}

static const char *json_digits(const char *p)
{
	if (!isdigit((unsigned char)*p))
		return NULL;
	while (isdigit((unsigned char)*p))
		p++;
	return p;
}

static const char *json_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (!(p = json_digits(p)))
		return NULL;
	if (*p == '.' && !(p = json_digits(p + 1)))
		return NULL;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		p = json_digits(p);
	}
	return p;
}

/* The members of an object (keyed) or the elements of an array, from its opening. */
static const char *json_members(const char *p, char close, bool keyed)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (keyed) {
			if (!(p = json_string(p)))
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		if (!(p = json_value(p)))
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
		p = json_ws(p);
	}
}

static const char *json_value(const char *p)
{
	p = json_ws(p);
	switch (*p) {
	case '{':
		return json_members(p, '}', true);
	case '[':
		return json_members(p, ']', false);
	case '"':
		return json_string(p);
	case 't':
		return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return json_number(p);
	}
}

/* Assert that text is one JSON object on one line. */
static void assert_json_line(const char *text)
{
	const char *end = json_value(text);

	ck_assert_msg(*text == '{' && end && strcmp(end, "\n") == 0, "not one line of JSON: '%s'",
		      text);
}

/* The value of member key of the object at obj (not of objects inside it), or NULL. */
static const char *json_find(const char *obj, const char *key)
{
	size_t klen = strlen(key);
	const char *p = json_ws(obj);

	ck_assert_msg(*p == '{', "not an object: '%s'", obj);
	p = json_ws(p + 1);
	while (*p == '"') {
		const char *k = p + 1, *v;

		p = json_string(p);
		ck_assert_ptr_nonnull(p);
		v = json_ws(json_ws(p) + 1);
		if ((size_t)(p - 1 - k) == klen && memcmp(k, key, klen) == 0)
			return v;
		p = json_ws(json_value(v));
		if (*p != ',')
			break;
		p = json_ws(p + 1);
	}
	return NULL;
}

static const char *json_get(const char *obj, const char *key)
{
	const char *v = json_find(obj, key);

	ck_assert_msg(v != NULL, "no \"%s\" in %s", key, obj);
	return v;
}

static size_t json_count(const char *container)
{
	const char *p = json_ws(container);
	bool keyed = *p == '{';
	size_t n = 0;

	p = json_ws(p + 1);
	while (*p && *p != '}' && *p != ']') {
		if (keyed)
			p = json_ws(json_ws(json_string(p)) + 1);
		p = json_ws(json_value(p));
		n++;
		if (*p == ',')
			p = json_ws(p + 1);
	}
	return n;
}

/* Copy the value of key (an object, an array, anything) into out. */
static const char *json_sub(const char *obj, const char *key, char *out, size_t n)
{
	const char *v = json_get(obj, key), *end = json_value(v);

	ck_assert_ptr_nonnull(end);
	ck_assert_uint_lt((size_t)(end - v), n);
	memcpy(out, v, (size_t)(end - v));
	out[end - v] = '\0';
	return out;
}

/* Copy the k-th element of the array at arr into out. */
static const char *json_item(const char *arr, size_t k, char *out, size_t n)
{
	const char *p = json_ws(arr), *end;

	ck_assert_msg(*p == '[', "not an array: '%s'", arr);
	p = json_ws(p + 1);
	for (; k > 0; k--) {
		p = json_ws(json_value(p));
		ck_assert_msg(*p == ',', "too few elements in %s", arr);
		p = json_ws(p + 1);
	}
	end = json_value(p);
	ck_assert_ptr_nonnull(end);
	ck_assert_uint_lt((size_t)(end - p), n);
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return out;
}

static double json_num(const char *obj, const char *key)
{
	const char *v = json_get(obj, key), *end = json_number(v);

	ck_assert_msg(end != NULL, "\"%s\" is not a number in %s", key, obj);
	return strtod(v, NULL);
}

static void assert_json_null(const char *obj, const char *key)
{
	ck_assert_msg(strncmp(json_get(obj, key), "null", 4) == 0, "\"%s\" is not null in %s", key,
		      obj);
}

static void assert_json_false(const char *obj, const char *key)
{
	ck_assert_msg(strncmp(json_get(obj, key), "false", 5) == 0, "\"%s\" is not false in %s",
		      key, obj);
}

static void assert_json_str(const char *obj, const char *key, const char *want)
{
	const char *v = json_get(obj, key);
	size_t n = strlen(want);

	ck_assert_msg(v[0] == '"' && strncmp(v + 1, want, n) == 0 && v[n + 1] == '"',
		      "\"%s\" is not \"%s\" in %s", key, want, obj);
}

/* The status object of the target named name. */
static const char *status_target(const char *status, const char *name, char *out, size_t n)
{
	static char targets[HARNESS_RX_MAX];

	json_sub(status, "targets", targets, sizeof(targets));
	for (size_t k = 0; k < json_count(targets); k++) {
		json_item(targets, k, out, n);
		if (strncmp(json_get(out, "name") + 1, name, strlen(name)) == 0 &&
		    json_get(out, "name")[strlen(name) + 1] == '"')
			return out;
	}
	ck_abort_msg("no target %s in %s", name, status);
	return NULL;
}

static const char *const error_classes[] = {
	"refused", "connect_timeout", "timeout", "reset", "eof", "mismatch", "unreachable",
	"resource", "loss", "tls",
};

/* errors has every class, each with the count in want (NULL: all 0). */
static void assert_errors(const char *target, const unsigned *want)
{
	char errors[1024];

	json_sub(target, "errors", errors, sizeof(errors));
	ck_assert_uint_eq(json_count(errors), ELEMENTSOF(error_classes));
	for (size_t e = 0; e < ELEMENTSOF(error_classes); e++)
		ck_assert_msg(json_num(errors, error_classes[e]) == (want ? want[e] : 0),
			      "%s: %s", error_classes[e], errors);
}

/* A latency object with no value: count 0, every figure null. */
static void assert_latency_empty(const char *target, const char *key)
{
	char lat[512];

	json_sub(target, key, lat, sizeof(lat));
	ck_assert_uint_eq(json_count(lat), 5);
	ck_assert_msg(json_num(lat, "count") == 0, "%s: %s", key, lat);
	assert_json_null(lat, "p50");
	assert_json_null(lat, "p90");
	assert_json_null(lat, "p99");
	assert_json_null(lat, "max");
}

/* A latency object of count values all equal to ms: percentiles within the
 * histogram's precision, max exact. */
static void assert_latency(const char *target, const char *key, unsigned count, double ms)
{
	static const char *const q[] = { "p50", "p90", "p99" };
	char lat[512];

	json_sub(target, key, lat, sizeof(lat));
	ck_assert_msg(json_num(lat, "count") == count, "%s: %s", key, lat);
	for (size_t i = 0; i < ELEMENTSOF(q); i++)
		ck_assert_msg(json_num(lat, q[i]) > ms * 0.97 && json_num(lat, q[i]) < ms * 1.03,
			      "%s %s: %s", key, q[i], lat);
	ck_assert_msg(json_num(lat, "max") == ms, "%s max: %s", key, lat);
}

static const char *const target_keys[] = {
	"name", "address", "resolved", "paused", "generation", "restarted_at", "restart_changes",
	"runtime_set", "state", "state_for_s", "health_changes", "mode", "close", "echo",
	"connections", "sessions", "sessions_active", "interval_ms", "cycles_ok", "cycles_failed", "errors",
	"flapping", "flapping_for_s", "sessions_up", "sessions_down", "sessions_unknown",
	"sessions_starved", "down_quorum", "degraded_ratio", "recent_results", "recent_fail_ratio",
	"protocol", "udp", "tls",
	"latency_ms", "latency_total_ms", "connect_ms", "connect_total_ms", "retransmits",
	"cycles_loop_timed", "last_ok_ago_s", "resolve",
	"last_error", "last_error_detail",
};

/* A failures line: the counts and the last failure, then ", DURATION ago". */
static void assert_failures_line(const char *line, const char *want)
{
	size_t n = strlen(want), len = strlen(line);
	char ago[32];

	ck_assert_msg(strncmp(line, want, n) == 0 && strncmp(line + n, ", ", 2) == 0,
		      "'%s' does not start with '%s, '", line, want);
	ck_assert_msg(len > n + 6 && len - n - 6 < sizeof(ago) && strcmp(line + len - 4, " ago") == 0,
		      "'%s' does not end with ' ago'", line);
	memcpy(ago, line + n + 2, len - n - 6);
	ago[len - n - 6] = '\0';
	ck_assert_double_ge(duration_ms(ago), 0);
}

static void assert_target_fields(const char *t, const char *name, const char *mode,
				 const char *close, unsigned connections)
{
	for (size_t i = 0; i < ELEMENTSOF(target_keys); i++)
		json_get(t, target_keys[i]);
	assert_json_str(t, "name", name);
	assert_json_str(t, "address", address);
	assert_json_str(t, "resolved", address);
	assert_json_str(t, "state", "unknown");
	ck_assert(json_num(t, "state_for_s") >= 0);
	ck_assert(json_num(t, "health_changes") == 0);
	assert_json_str(t, "mode", mode);
	assert_json_str(t, "close", close);
	ck_assert(json_num(t, "connections") == connections);
	ck_assert(json_num(t, "sessions") == connections);
	ck_assert(json_num(t, "sessions_active") == 0);
	assert_json_false(t, "paused");
	ck_assert(json_num(t, "generation") == 0);
	assert_json_null(t, "restarted_at");
	ck_assert(json_num(t, "interval_ms") == 3600000);
}

static void assert_status_header(const char *status)
{
	char control[256], loop[512], late[256], reload[256], shard[256];

	assert_json_line(status);
	assert_json_str(status, "version", MCONN_VERSION);
	ck_assert(json_num(status, "pid") == getpid());
	ck_assert(json_num(status, "uptime_s") >= 0);
	assert_json_str(status, "config", harness.conf_path);
	ck_assert(json_num(status, "sessions") == 4);
	/* mconnd's own shortage: none here. */
	ck_assert(json_num(status, "sessions_starved") == 0);
	assert_json_null(status, "starved_of");
	/* No shard: one checker runs everything. */
	json_sub(status, "shard", shard, sizeof(shard));
	ck_assert_uint_eq(json_count(shard), 5);
	ck_assert(json_num(shard, "k") == 1 && json_num(shard, "n") == 1);
	ck_assert(json_num(shard, "replicas") == 1);
	ck_assert(json_num(shard, "runs") == 2 && json_num(shard, "skips") == 0);
	json_sub(status, "control", control, sizeof(control));
	ck_assert_uint_eq(json_count(control), 6);
	ck_assert(json_num(control, "clients") == 1);
	ck_assert(json_num(control, "rejected_busy") == 0);
	ck_assert(json_num(control, "timed_out") == 0);
	ck_assert(json_num(control, "evicted") == 0);
	ck_assert(json_num(control, "busy_s") >= 0);
	ck_assert(json_num(control, "busy_max_ms") >= 0);
	json_sub(status, "reload", reload, sizeof(reload));
	ck_assert_uint_eq(json_count(reload), 5);
	ck_assert(json_num(reload, "ok") == 0);
	ck_assert(json_num(reload, "failed") == 0);
	assert_json_null(reload, "last_at");
	assert_json_null(reload, "last_ok");
	assert_json_null(reload, "last_result");
	json_sub(status, "loop", loop, sizeof(loop));
	ck_assert_uint_eq(json_count(loop), 8);
	/* The longest each of the daemon's own tasks held the loop, less its waits for a
	 * CPU and on the wall clock: the control server has answered this very request,
	 * the tick may not have run yet. */
	json_sub(loop, "callback_wall_max_ms", late, sizeof(late));
	ck_assert(json_num(late, "control") >= 0);
	{
		double wall = json_num(late, "control");

		json_sub(loop, "callback_max_ms", late, sizeof(late));
		ck_assert(json_num(late, "control") >= 0);
		ck_assert(json_num(late, "control") <= wall);
	}
	/* Cycle starts, late or not: count, p50, p90, p99, max. */
	json_sub(loop, "lateness_ms", late, sizeof(late));
	ck_assert_uint_eq(json_count(late), 5);
	ck_assert(json_num(late, "count") >= 0);
	ck_assert(json_num(loop, "turns") >= 1);
	ck_assert(json_num(loop, "stale_events") >= 0);
	ck_assert(json_num(loop, "unexpected_events") == 0);
	ck_assert(json_num(loop, "stalls") >= 0);
	ck_assert(json_num(loop, "stalled_s") >= 0);
}

START_TEST(test_status_json_before_cycles)
{
	static char reply[HARNESS_RX_MAX], t[HARNESS_RX_MAX], targets[HARNESS_RX_MAX];
	const char *status = ask_ok("status -j", reply, sizeof(reply));

	assert_status_header(status);
	json_sub(status, "targets", targets, sizeof(targets));
	ck_assert_uint_eq(json_count(targets), 2);
	ck_assert_uint_eq(json_count(status), 14);
	for (int i = 0; i < 2; i++) {
		const char *name = i ? NAME_B : NAME_A;

		status_target(status, name, t, sizeof(t));
		assert_target_fields(t, name, i ? "persistent" : "cycle", i ? "rst" : "fin",
				     i ? 3 : 1);
		ck_assert(json_num(t, "cycles_ok") == 0);
		ck_assert(json_num(t, "cycles_failed") == 0);
		assert_errors(t, NULL);
		assert_latency_empty(t, "latency_ms");
		assert_latency_empty(t, "latency_total_ms");
		assert_latency_empty(t, "connect_ms");
		assert_latency_empty(t, "connect_total_ms");
		assert_json_null(t, "last_error");
		assert_json_null(t, "last_error_detail");
		ck_assert_ptr_null(json_find(t, "last_error_ago_s"));
		ck_assert_uint_eq(json_count(t), ELEMENTSOF(target_keys));
	}
}
END_TEST

/* Counters set on the targets show up in JSON and in the table. */
START_TEST(test_status_counters)
{
	static const unsigned want_a[ELEMENTSOF(error_classes)] = { 0, 0, 3, 2, 0, 0, 0, 0, 0, 0 };
	static const unsigned want_b[ELEMENTSOF(error_classes)] = { 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 };
	static char reply[HARNESS_RX_MAX], t[HARNESS_RX_MAX];
	struct target *a = pool_find_target(&d->pool, NAME_A), *b = pool_find_target(&d->pool, NAME_B);
	int64_t now = now_ns();
	char line[512], header[512], word[64], lat[512];
	const char *status, *text;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	a->cycles_ok = 8;
	/* Two minutes ago: counted since start, out of the last minute's window. */
	latency_record(&a->cycle_lat, 10 * MS, now - 120 * SEC);
	for (int i = 0; i < 3; i++)
		latency_record(&a->cycle_lat, 2 * MS, now);
	latency_record(&a->connect_lat, MS / 2, now);
	a->cycles_failed = 5;
	a->errors[SERR_TIMEOUT] = 3;
	a->errors[SERR_RESET] = 2;
	a->last_error = SERR_RESET;
	a->last_errno = ECONNRESET;
	a->last_error_at = now - 2 * SEC;
	b->cycles_failed = 1;
	b->errors[SERR_MISMATCH] = 1;
	b->last_error = SERR_MISMATCH;
	b->last_error_at = now;

	status = ask_ok("status -j", reply, sizeof(reply));
	assert_status_header(status);
	status_target(status, NAME_A, t, sizeof(t));
	ck_assert(json_num(t, "cycles_ok") == 8);
	ck_assert(json_num(t, "cycles_failed") == 5);
	assert_errors(t, want_a);
	assert_latency(t, "latency_ms", 3, 2.0);
	json_sub(t, "latency_total_ms", lat, sizeof(lat));
	ck_assert_msg(json_num(lat, "count") == 4 && json_num(lat, "max") == 10.0, "%s", lat);
	ck_assert_msg(json_num(lat, "p50") > 1.94 && json_num(lat, "p50") < 2.06, "%s", lat);
	assert_latency(t, "connect_ms", 1, 0.5);
	assert_latency(t, "connect_total_ms", 1, 0.5);
	assert_json_str(t, "last_error", "reset");
	assert_json_str(t, "last_error_detail", strerror(ECONNRESET));
	ck_assert(json_num(t, "last_error_ago_s") >= 2.0);
	ck_assert(json_num(t, "last_error_ago_s") < 60.0);
	status_target(status, NAME_B, t, sizeof(t));
	ck_assert(json_num(t, "cycles_ok") == 0);
	assert_errors(t, want_b);
	assert_latency_empty(t, "latency_ms");
	assert_json_str(t, "last_error", "mismatch");
	assert_json_str(t, "last_error_detail", "a byte came back that was not the byte sent");

	text = ask_ok("status " NAME_A, reply, sizeof(reply));
	ck_assert_uint_eq(count_lines(text), 4);
	line_of(text, 1, header, sizeof(header));
	line_of(text, 2, line, sizeof(line));
	ck_assert_str_eq(word_of(line, 0, word, sizeof(word)), NAME_A);
	ck_assert_str_eq(word_of(line, 6, word, sizeof(word)), "8");
	ck_assert_str_eq(word_of(line, 7, word, sizeof(word)), "5");
	ck_assert_msg(fabs(duration_ms(word_of(line, 8, word, sizeof(word))) - 2.0) < 0.06, "%s", line);
	ck_assert_msg(fabs(duration_ms(word_of(line, 9, word, sizeof(word))) - 2.0) < 0.06, "%s", line);
	snprintf(header, sizeof(header), "  failures: timeout 3, reset 2; last: reset (%s)",
		 strerror(ECONNRESET));
	assert_failures_line(line_of(text, 3, line, sizeof(line)), header);
}
END_TEST

/* The real first cycles were refused: the counts, the class and the detail. */
START_TEST(test_status_json_after_refused)
{
	static const unsigned want[ELEMENTSOF(error_classes)] = { 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	static char reply[HARNESS_RX_MAX], t[HARNESS_RX_MAX];
	const char *status = ask_ok("status -j", reply, sizeof(reply));

	assert_status_header(status);
	for (int i = 0; i < 2; i++) {
		const char *name = i ? NAME_B : NAME_A;

		status_target(status, name, t, sizeof(t));
		assert_target_fields(t, name, i ? "persistent" : "cycle", i ? "rst" : "fin",
				     i ? 3 : 1);
		ck_assert(json_num(t, "cycles_ok") == 0);
		ck_assert(json_num(t, "cycles_failed") == 1);
		assert_errors(t, want);
		assert_latency_empty(t, "latency_ms");
		assert_latency_empty(t, "latency_total_ms");
		assert_json_str(t, "last_error", "refused");
		assert_json_str(t, "last_error_detail", strerror(ECONNREFUSED));
		ck_assert(json_num(t, "last_error_ago_s") >= 0);
		ck_assert_uint_eq(json_count(t), ELEMENTSOF(target_keys) + 1);
	}
}
END_TEST

/* One JSON target, whichever place -j takes in the request. */
START_TEST(test_status_json_one_target)
{
	static const char *const asks[] = { "status -j " NAME_B, "status " NAME_B " -j",
					    "-j status " NAME_B };
	static char reply[HARNESS_RX_MAX], targets[HARNESS_RX_MAX], t[HARNESS_RX_MAX];

	for (size_t i = 0; i < ELEMENTSOF(asks); i++) {
		const char *status = ask_ok(asks[i], reply, sizeof(reply));

		assert_status_header(status);
		json_sub(status, "targets", targets, sizeof(targets));
		ck_assert_uint_eq(json_count(targets), 1);
		json_item(targets, 0, t, sizeof(t));
		assert_json_str(t, "name", NAME_B);
	}
}
END_TEST

/* The text table: the daemon's line, the column header, one row per target, each
 * followed by its failures, every column lined up under its header. */
START_TEST(test_status_text)
{
	static const char align[] = "llllrrrrrr";
	static char reply[HARNESS_RX_MAX];
	char want[512], header[512], line[512], word[64];
	const char *text = ask_ok("status", reply, sizeof(reply));

	ck_assert_uint_eq(count_lines(text), 6);
	snprintf(want, sizeof(want), "mconnd %s, pid %d, up ", MCONN_VERSION, (int)getpid());
	line_of(text, 0, line, sizeof(line));
	ck_assert_msg(strncmp(line, want, strlen(want)) == 0, "%s", line);
	snprintf(want, sizeof(want), ", 2 targets, 4 sessions, config %s", harness.conf_path);
	ck_assert_msg(strstr(line, want) != NULL, "%s", line);
	line_of(text, 1, header, sizeof(header));
	ck_assert_str_eq(word_of(header, 0, word, sizeof(word)), "TARGET");
	ck_assert_str_eq(word_of(header, 1, word, sizeof(word)), "ADDRESS");
	ck_assert_str_eq(word_of(header, 9, word, sizeof(word)), "P99");
	for (int i = 0; i < 2; i++) {
		line_of(text, 2 + 2 * (size_t)i, line, sizeof(line));
		assert_aligned(header, line, align);
		ck_assert_str_eq(word_of(line, 0, word, sizeof(word)), i ? NAME_B : NAME_A);
		ck_assert_str_eq(word_of(line, 1, word, sizeof(word)), address);
		ck_assert_str_eq(word_of(line, 2, word, sizeof(word)), "unknown");
		ck_assert_str_eq(word_of(line, 3, word, sizeof(word)), i ? "persistent" : "cycle");
		ck_assert_str_eq(word_of(line, 4, word, sizeof(word)), i ? "3" : "1");
		ck_assert_str_eq(word_of(line, 5, word, sizeof(word)), "0");
		ck_assert_str_eq(word_of(line, 6, word, sizeof(word)), "0");
		ck_assert_str_eq(word_of(line, 7, word, sizeof(word)), "1");
		ck_assert_str_eq(word_of(line, 8, word, sizeof(word)), "-");
		ck_assert_str_eq(word_of(line, 9, word, sizeof(word)), "-");
		snprintf(want, sizeof(want), "  failures: refused 1; last: refused (%s)",
			 strerror(ECONNREFUSED));
		assert_failures_line(line_of(text, 3 + 2 * (size_t)i, line, sizeof(line)), want);
	}

	/* One target: its own name sets the width of the first column. */
	text = ask_ok("status " NAME_A, reply, sizeof(reply));
	ck_assert_uint_eq(count_lines(text), 4);
	line_of(text, 1, header, sizeof(header));
	line_of(text, 2, line, sizeof(line));
	assert_aligned(header, line, align);
	ck_assert_str_eq(word_of(line, 0, word, sizeof(word)), NAME_A);
}
END_TEST

START_TEST(test_no_such_target)
{
	static const char *const asks[] = { "status nosuch", "status -j nosuch", "sessions nosuch",
					    "sessions -j nosuch" };
	char reply[256];

	for (size_t i = 0; i < ELEMENTSOF(asks); i++)
		ck_assert_str_eq(ask(asks[i], reply, sizeof(reply)), "ERR no such target: nosuch\n\n");
}
END_TEST

static const char sessions_align[] = "rlrrrllrrrr";

START_TEST(test_sessions_text)
{
	static char reply[HARNESS_RX_MAX];
	struct target *b = pool_find_target(&d->pool, NAME_B);
	struct session *s1 = &d->pool.sess[b->sess[1]];
	char header[512], line[512], word[64], idx[8];
	const char *text;

	s1->cycles_ok = 4;
	s1->last_result = SERR_NONE;
	s1->last_latency = 3 * MS;
	s1->health.verdict = HEALTH_UP;
	s1->tcp = (struct sess_tcp){ .rtt_us = 250, .rttvar_us = 100, .total_retrans = 2 };
	text = ask_ok("sessions " NAME_B, reply, sizeof(reply));
	ck_assert_uint_eq(count_lines(text), 4);
	line_of(text, 0, header, sizeof(header));
	ck_assert_str_eq(word_of(header, 0, word, sizeof(word)), "INDEX");
	ck_assert_str_eq(word_of(header, 5, word, sizeof(word)), "LAST");
	for (size_t k = 0; k < 3; k++) {
		line_of(text, 1 + k, line, sizeof(line));
		assert_aligned(header, line, sessions_align);
		snprintf(idx, sizeof(idx), "%zu", k);
		ck_assert_str_eq(word_of(line, 0, word, sizeof(word)), idx);
		ck_assert_str_eq(word_of(line, 1, word, sizeof(word)), "idle");
		ck_assert_str_eq(word_of(line, 2, word, sizeof(word)), "-1");
		ck_assert_str_eq(word_of(line, 3, word, sizeof(word)), k == 1 ? "4" : "0");
		ck_assert_str_eq(word_of(line, 4, word, sizeof(word)), "0");
		ck_assert_str_eq(word_of(line, 5, word, sizeof(word)), k == 1 ? "ok" : "-");
		/* The session's own verdict, then TCP_INFO's RTT, variation, retransmits. */
		ck_assert_str_eq(word_of(line, 6, word, sizeof(word)), k == 1 ? "up" : "unknown");
		if (k == 1) {
			ck_assert(fabs(duration_ms(word_of(line, 7, word, sizeof(word))) - 3.0) < 0.01);
			ck_assert(fabs(duration_ms(word_of(line, 8, word, sizeof(word))) - 0.25) < 0.001);
			ck_assert(fabs(duration_ms(word_of(line, 9, word, sizeof(word))) - 0.1) < 0.001);
			ck_assert_str_eq(word_of(line, 10, word, sizeof(word)), "2");
		} else {
			for (int w = 7; w <= 10; w++)
				ck_assert_str_eq(word_of(line, (size_t)w, word, sizeof(word)), "-");
		}
	}
	text = ask_ok("sessions " NAME_A, reply, sizeof(reply));
	ck_assert_uint_eq(count_lines(text), 2);
}
END_TEST

/* After the refused first cycle: the session that ran says so, the others are unborn. */
START_TEST(test_sessions_after_refused)
{
	static char reply[HARNESS_RX_MAX], arr[HARNESS_RX_MAX], s[HARNESS_RX_MAX];
	char header[512], line[512], word[64];
	const char *text = ask_ok("sessions " NAME_B, reply, sizeof(reply));

	ck_assert_uint_eq(count_lines(text), 4);
	line_of(text, 0, header, sizeof(header));
	line_of(text, 1, line, sizeof(line));
	assert_aligned(header, line, sessions_align);
	ck_assert_str_eq(word_of(line, 4, word, sizeof(word)), "1");
	ck_assert_str_eq(word_of(line, 5, word, sizeof(word)), "refused");
	line_of(text, 2, line, sizeof(line));
	ck_assert_str_eq(word_of(line, 5, word, sizeof(word)), "-");

	text = ask_ok("sessions -j " NAME_B, reply, sizeof(reply));
	assert_json_line(text);
	json_sub(text, "sessions", arr, sizeof(arr));
	ck_assert_uint_eq(json_count(arr), 3);
	json_item(arr, 0, s, sizeof(s));
	assert_json_str(s, "last_result", "refused");
	ck_assert(json_num(s, "cycles_failed") == 1);
	ck_assert(json_num(s, "fd") == -1);
	json_item(arr, 2, s, sizeof(s));
	assert_json_null(s, "last_result");
}
END_TEST

START_TEST(test_sessions_json)
{
	static const char *const keys[] = { "index", "state", "fd", "cycles_ok", "cycles_failed",
					    "last_result", "verdict", "starved", "rtt_ms", "rttvar_ms",
					    "retransmits", "last_latency_ms" };
	static char reply[HARNESS_RX_MAX], arr[HARNESS_RX_MAX], s[HARNESS_RX_MAX];
	struct target *b = pool_find_target(&d->pool, NAME_B);
	struct session *s1 = &d->pool.sess[b->sess[1]];
	const char *obj;

	s1->cycles_ok = 4;
	s1->last_result = SERR_NONE;
	s1->last_latency = 3 * MS;
	s1->health.verdict = HEALTH_UP;
	obj = ask_ok("sessions -j " NAME_B, reply, sizeof(reply));
	assert_json_line(obj);
	ck_assert_uint_eq(json_count(obj), 2);
	assert_json_str(obj, "target", NAME_B);
	json_sub(obj, "sessions", arr, sizeof(arr));
	ck_assert_uint_eq(json_count(arr), 3);
	for (size_t k = 0; k < 3; k++) {
		json_item(arr, k, s, sizeof(s));
		ck_assert_uint_eq(json_count(s), ELEMENTSOF(keys));
		for (size_t i = 0; i < ELEMENTSOF(keys); i++)
			json_get(s, keys[i]);
		ck_assert(json_num(s, "index") == k);
		assert_json_str(s, "state", "idle");
		ck_assert(json_num(s, "fd") == -1);
		ck_assert(json_num(s, "cycles_ok") == (k == 1 ? 4 : 0));
		ck_assert(json_num(s, "cycles_failed") == 0);
		/* The session's own rise/fall verdict, and whether it is starved. */
		assert_json_str(s, "verdict", k == 1 ? "up" : "unknown");
		assert_json_false(s, "starved");
		if (k == 1) {
			assert_json_str(s, "last_result", "ok");
			ck_assert(json_num(s, "last_latency_ms") == 3.0);
		} else {
			assert_json_null(s, "last_result");
			assert_json_null(s, "last_latency_ms");
		}
	}
}
END_TEST

/* help: one line per command, the descriptions in one column. */
START_TEST(test_help)
{
	static const char *const usages[] = { "status [-j] [TARGET]", "sessions [-j] TARGET",
					      "stats [TARGET]", "metrics", "reload", "set TARGET KEY VALUE",
					      "pause TARGET", "resume TARGET", "help", "version [-j]", "-j" };
	static char reply[HARNESS_RX_MAX];
	const char *text = ask_ok("help", reply, sizeof(reply));
	char line[512];
	size_t col = 0;

	ck_assert_uint_eq(count_lines(text), ELEMENTSOF(usages));
	for (size_t i = 0; i < ELEMENTSOF(usages); i++) {
		size_t n = strlen(usages[i]), c = n;

		line_of(text, i, line, sizeof(line));
		ck_assert_msg(strncmp(line, usages[i], n) == 0 && line[n] == ' ', "%s", line);
		while (line[c] == ' ')
			c++;
		ck_assert_msg(line[c] != '\0', "no description: '%s'", line);
		if (i == 0)
			col = c;
		ck_assert_msg(c == col, "description at %zu, not %zu: '%s'", c, col, line);
	}
}
END_TEST

START_TEST(test_version_json)
{
	char reply[256];

	ck_assert_str_eq(ask("version -j", reply, sizeof(reply)),
			 "OK\n{\"version\":\"" MCONN_VERSION "\"}\n\n");
	reply[strlen(reply) - 1] = '\0';
	assert_json_line(reply + 3);
	assert_json_str(reply + 3, "version", MCONN_VERSION);
	ck_assert_str_eq(ask("version", reply, sizeof(reply)), VERSION_REPLY);
}
END_TEST

/* Every column stays lined up when an address is longer than the usual ones. */
START_TEST(test_status_text_long_address)
{
	static char reply[HARNESS_RX_MAX];
	char header[512], line[512], word[64];
	const char *text = ask_ok("status", reply, sizeof(reply));

	ck_assert_uint_eq(count_lines(text), 5);
	line_of(text, 1, header, sizeof(header));
	for (size_t k = 2; k < 5; k++) {
		line_of(text, k, line, sizeof(line));
		assert_aligned(header, line, "llllrrrrrr");
	}
	ck_assert_str_eq(word_of(line, 0, word, sizeof(word)), NAME_C);
}
END_TEST

/* The configuration's path comes out of JSON as the same characters. */
START_TEST(test_status_json_utf8_config)
{
	static char reply[HARNESS_RX_MAX];
	const char *status = ask_ok("status -j", reply, sizeof(reply)), *v;
	char raw[160], escaped[160];

	assert_json_line(status);
	v = json_get(status, "config");
	snprintf(raw, sizeof(raw), "\"%s/" UTF8_NAME "\"", harness.dir);
	snprintf(escaped, sizeof(escaped), "\"%s/caf\\u00e9.conf\"", harness.dir);
	ck_assert_msg(strncmp(v, raw, strlen(raw)) == 0 || strncmp(v, escaped, strlen(escaped)) == 0,
		      "config is %.*s, not %s", (int)(json_value(v) - v), v, escaped);
}
END_TEST

/* The reader above must refuse what is not JSON, or it proves nothing. */
START_TEST(test_json_reader)
{
	static const char *const bad[] = { "{\"a\":1", "{\"a\":1}}", "{\"a\" 1}", "{\"a\":01}",
					   "{\"a\":[1,]}", "{\"a\":\"x\n\"}", "{a:1}", "{\"a\":nul}",
					   "{\"a\":1,}", "{\"a\":\"\\x\"}" };
	char text[64];

	assert_json_line("{\"a\":[1,-2.5e3,{\"b\":null}],\"c\":\"\\u00e9\\\"\",\"d\":true}\n");
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		const char *end = json_value(bad[i]);

		snprintf(text, sizeof(text), "%s", bad[i]);
		ck_assert_msg(!end || *end != '\0', "accepted '%s'", text);
	}
}
END_TEST

static Suite *render_suite(void)
{
	Suite *s = suite_create("render");
	TCase *tc;

	tc = tcase_create("before_cycles");
	tcase_add_unchecked_fixture(tc, scratch_setup, harness_scratch_teardown);
	tcase_add_checked_fixture(tc, setup_before_cycles, daemon_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_status_json_before_cycles);
	tcase_add_test(tc, test_status_counters);
	tcase_add_test(tc, test_status_json_one_target);
	tcase_add_test(tc, test_no_such_target);
	tcase_add_test(tc, test_sessions_text);
	tcase_add_test(tc, test_sessions_json);
	tcase_add_test(tc, test_help);
	tcase_add_test(tc, test_version_json);
	suite_add_tcase(s, tc);

	tc = tcase_create("after_refused");
	tcase_add_unchecked_fixture(tc, scratch_setup, harness_scratch_teardown);
	tcase_add_checked_fixture(tc, setup_after_refused, daemon_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_status_json_after_refused);
	tcase_add_test(tc, test_status_text);
	tcase_add_test(tc, test_sessions_after_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("odd_inputs");
	tcase_add_unchecked_fixture(tc, scratch_setup, harness_scratch_teardown);
	tcase_add_checked_fixture(tc, setup_odd_inputs, daemon_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_status_text_long_address);
	tcase_add_test(tc, test_status_json_utf8_config);
	suite_add_tcase(s, tc);

	tc = tcase_create("json_reader");
	tcase_add_test(tc, test_json_reader);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(render_suite)
