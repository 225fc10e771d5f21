/* mconnctl check: a monitoring-plugins check of one target (Nagios, Icinga, Sensu).
 * One line of text with perfdata; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. The
 * thresholds apply to the last minute: p99 of good cycles' latency and the share of
 * failed cycles (mconnd's own resource shortages not included). A target that is down
 * is CRITICAL whatever the thresholds, one that is degraded at least WARNING, and so
 * is any target some of whose sessions mconnd cannot run for lack of local resources;
 * one whose health is not known yet, or that is paused, is UNKNOWN unless a threshold
 * says worse. Flapping is said in the line. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctlclient.h"
#include "mconnctl.h"
#include "parse.h"
#include "proto.h"
#include "range.h"
#include "util.h"

enum plugin_state {
	PLUGIN_OK,
	PLUGIN_WARNING,
	PLUGIN_CRITICAL,
	PLUGIN_UNKNOWN,
};

static const char *const plugin_names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };

/* What the check reads from the daemon's stats line. */
struct check_input {
	char state[16];
	char health[16];
	int64_t state_for_ns;
	int64_t ok, failed, win_ok, win_failed, p50_ns, p99_ns;
	/* The health model's words; zero from a daemon without them. */
	int64_t sessions, sessions_down, starved, flapping, nofile;
	char starved_of[16];
};

static void check_usage(FILE *f)
{
	fprintf(f,
		"Usage: mconnctl [-s SOCKET] check TARGET [-w THRESHOLDS] [-c THRESHOLDS]\n"
		"A monitoring-plugins check of one target over the last minute.\n"
		"THRESHOLDS: p99=RANGE,fail=RANGE (either or both). p99 is the 99th percentile\n"
		"latency of good cycles (numbers in ms, or with us, ms, s); fail is the share of\n"
		"failed cycles in percent. RANGE: N (alert above N), N: (below N), ~:N, N:M\n"
		"(outside N..M), @N:M (inside). Example: -w p99=50ms,fail=1 -c p99=200ms,fail=5\n"
		"A target that is down is CRITICAL; one that is degraded, or some of whose sessions\n"
		"mconnd cannot run for lack of local resources, is at least WARNING.\n"
		"Exit: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n");
}

/* Print the one line and return the state as the exit status. */
__attribute__((format(printf, 3, 4)))
static int check_say(enum plugin_state st, const char *perf, const char *fmt, ...)
{
	va_list ap;

	printf("MCONN %s - ", plugin_names[st]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("%s%s\n", perf ? " | " : "", perf ? perf : "");
	return (int)st;
}

/* The optional words: a daemon from before the health model has none of them. */
static void check_read_health(const char *body, const char *line, struct check_input *in)
{
	const char *daemon = strncmp(body, "daemon ", 7) == 0 ? body : strstr(body, "\ndaemon ");

	if (daemon && daemon != body)
		daemon++;
	(void)(ctlclient_word_i64(line, "sessions", &in->sessions) &&
	       ctlclient_word_i64(line, "sessions_down", &in->sessions_down) &&
	       ctlclient_word_i64(line, "starved", &in->starved) &&
	       ctlclient_word_i64(line, "flapping", &in->flapping));
	(void)(daemon && ctlclient_word(daemon, "starved_of", in->starved_of, sizeof(in->starved_of)) &&
	       ctlclient_word_i64(daemon, "nofile", &in->nofile));
}

static bool check_read(const char *body, struct check_input *in)
{
	const char *line = strstr(body, "\ntarget ");

	memset(in, 0, sizeof(*in));
	if (line)
		check_read_health(body, line + 1, in);
	return line && ctlclient_word(line + 1, "state", in->state, sizeof(in->state)) &&
	       ctlclient_word(line + 1, "health", in->health, sizeof(in->health)) &&
	       ctlclient_word_i64(line + 1, "state_for_ns", &in->state_for_ns) &&
	       ctlclient_word_i64(line + 1, "ok", &in->ok) &&
	       ctlclient_word_i64(line + 1, "failed", &in->failed) &&
	       ctlclient_word_i64(line + 1, "win_ok", &in->win_ok) &&
	       ctlclient_word_i64(line + 1, "win_failed", &in->win_failed) &&
	       ctlclient_word_i64(line + 1, "win_p50_ns", &in->p50_ns) &&
	       ctlclient_word_i64(line + 1, "win_p99_ns", &in->p99_ns);
}

/* The worse of a and b by the thresholds of level lvl applied to a value. */
static enum plugin_state check_level(enum plugin_state cur, bool has, const struct range *r,
				     double v, bool known, enum plugin_state lvl)
{
	if (!has || !known || !range_alert(r, v))
		return cur;
	return lvl > cur ? lvl : cur;
}

/* "w;c" of a perfdata item, from whichever thresholds are set. */
static void check_perf_levels(bool hw, const struct range *w, bool hc, const struct range *c,
			      char *out, size_t n)
{
	char a[64] = "", b[64] = "";

	if (hw)
		range_format(w, a, sizeof(a));
	if (hc)
		range_format(c, b, sizeof(b));
	snprintf(out, n, "%s;%s", a, b);
}

static enum plugin_state check_worse(enum plugin_state a, enum plugin_state b)
{
	return b > a ? b : a;
}

/* The state as the line says it: "degraded (flapping; 1 of 4 sessions down; mconnd
 * cannot run 46 of 100 sessions: open files limit 150)". */
static void check_state_words(const struct check_input *in, char *out, size_t n)
{
	char why[64];
	int o = snprintf(out, n, "%s", in->state);
	const char *sep = " (";

	if (in->flapping && o >= 0 && (size_t)o < n) {
		o += snprintf(out + o, n - (size_t)o, "%sflapping", sep);
		sep = "; ";
	}
	if (in->sessions_down > 0 && strcmp(in->state, "degraded") == 0 && o >= 0 && (size_t)o < n) {
		o += snprintf(out + o, n - (size_t)o, "%s%lld of %lld sessions down", sep,
			      (long long)in->sessions_down, (long long)in->sessions);
		sep = "; ";
	}
	if (in->starved > 0 && o >= 0 && (size_t)o < n) {
		o += snprintf(out + o, n - (size_t)o, "%smconnd cannot run %lld of %lld sessions: %s",
			      sep, (long long)in->starved, (long long)in->sessions,
			      proto_resource_text(in->starved_of, in->nofile, why, sizeof(why)));
		sep = "; ";
	}
	if (*sep == ';' && o >= 0 && (size_t)o < n)
		snprintf(out + o, n - (size_t)o, ")");
}

static int check_evaluate(const char *name, const struct check_input *in,
			  const struct thresholds *w, const struct thresholds *c)
{
	int64_t total = in->win_ok + in->win_failed;
	double ratio = total ? 100.0 * (double)in->win_failed / (double)total : 0;
	double p99 = (double)in->p99_ns / 1e6;
	bool have_p99 = in->p99_ns >= 0;
	enum plugin_state st = PLUGIN_OK;
	char state[256], perf[512], lv_f[140], lv_p[140], p50s[32] = "U", p99s[32] = "U", dur[32], d50[32],
	     d99[32];

	st = check_level(st, w->has_fail, &w->fail, ratio, total > 0, PLUGIN_WARNING);
	st = check_level(st, w->has_p99, &w->p99, p99, have_p99, PLUGIN_WARNING);
	st = check_level(st, c->has_fail, &c->fail, ratio, total > 0, PLUGIN_CRITICAL);
	st = check_level(st, c->has_p99, &c->p99, p99, have_p99, PLUGIN_CRITICAL);
	if (strcmp(in->state, "down") == 0)
		st = PLUGIN_CRITICAL;
	else if (strcmp(in->state, "degraded") == 0 || in->starved > 0)
		st = check_worse(st, PLUGIN_WARNING);
	else if (st == PLUGIN_OK && strcmp(in->state, "up") != 0)
		st = PLUGIN_UNKNOWN;
	check_state_words(in, state, sizeof(state));
	check_perf_levels(w->has_fail, &w->fail, c->has_fail, &c->fail, lv_f, sizeof(lv_f));
	check_perf_levels(w->has_p99, &w->p99, c->has_p99, &c->p99, lv_p, sizeof(lv_p));
	if (in->p50_ns >= 0)
		snprintf(p50s, sizeof(p50s), "%.3fms", (double)in->p50_ns / 1e6);
	if (have_p99)
		snprintf(p99s, sizeof(p99s), "%.3fms", p99);
	snprintf(perf, sizeof(perf),
		 "cycles_ok=%lldc cycles_failed=%lldc fail_ratio=%.2f%%;%s;0;100 p50=%s;;;0 p99=%s;%s;0",
		 (long long)in->ok, (long long)in->failed, ratio, lv_f, p50s, p99s, lv_p);
	if (strcmp(in->state, "paused") == 0)
		return check_say(st, perf, "%s paused (its sessions are stopped; it was %s)", name,
				 in->health);
	format_duration(in->state_for_ns, dur, sizeof(dur));
	if (total == 0)
		return check_say(st, perf, "%s %s for %s, no cycles in the last minute", name,
				 state, dur);
	return check_say(st, perf, "%s %s for %s, last minute: %lld cycles, %.2f%% failed, p50 %s, p99 %s",
			 name, state, dur, (long long)total, ratio,
			 format_duration(in->p50_ns, d50, sizeof(d50)),
			 format_duration(in->p99_ns, d99, sizeof(d99)));
}

/* Read the options after the target; returns -1 on a usage error, said in one line. */
static int check_options(int argc, char **argv, struct thresholds *w, struct thresholds *c)
{
	char err[256];
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt(argc, argv, ":w:c:h")) != -1) {
		struct thresholds *t = opt == 'w' ? w : c;

		if (opt == 'h') {
			check_usage(stdout);
			return 1;
		}
		if (opt == ':' || opt == '?') {
			check_say(PLUGIN_UNKNOWN, NULL, "usage: %s -%c; see mconnctl check -h",
				  opt == ':' ? "missing argument to" : "unknown option", optopt);
			return -1;
		}
		if (thresholds_parse(optarg, t, err, sizeof(err)) < 0) {
			check_say(PLUGIN_UNKNOWN, NULL, "usage: -%c: %s", opt, err);
			return -1;
		}
	}
	if (optind != argc - 1) {
		check_say(PLUGIN_UNKNOWN, NULL, "usage: mconnctl check TARGET [-w THRESHOLDS] [-c THRESHOLDS]");
		return -1;
	}
	return 0;
}

int check_main(const char *path, int argc, char **argv)
{
	struct thresholds w = { 0 }, c = { 0 };
	struct check_input in;
	char err[512], req[CTL_MAX_LINE];
	const char *name;
	struct buf reply;
	int r = check_options(argc, argv, &w, &c);

	if (r != 0)
		return r > 0 ? 0 : PLUGIN_UNKNOWN;
	name = argv[optind];
	if (!name_is_valid(name))
		return check_say(PLUGIN_UNKNOWN, NULL, "invalid target name");
	snprintf(req, sizeof(req), "stats %s", name);
	buf_init(&reply, CTL_MAX_REPLY);
	switch (ctlclient_query(path, req, &reply, err, sizeof(err))) {
	case CTL_OK:
		r = check_read(reply.data, &in) ? check_evaluate(name, &in, &w, &c)
		    : check_say(PLUGIN_UNKNOWN, NULL, "unexpected reply from mconnd");
		break;
	default:
		r = check_say(PLUGIN_UNKNOWN, NULL, "%s", err);
		break;
	}
	buf_free(&reply);
	return r;
}
