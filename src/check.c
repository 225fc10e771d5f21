/* mconnctl check: a monitoring-plugins check of one target (Nagios, Icinga, Sensu),
 * after the monitoring-plugins development guidelines: one line "MCONN STATE: text |
 * perfdata"; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. The thresholds apply to the
 * last minute: p99 of good cycles' latency and the share of failed cycles (mconnd's
 * own resource shortages not included). Each condition of the target has a state the
 * operator may choose (--down=critical, --paused=ok, ...); the result is the worst of
 * the thresholds' state and the states of the conditions that hold, worst being
 * CRITICAL, WARNING, UNKNOWN, OK in that order. -t bounds the whole check. */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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
static const char *const plugin_words[] = { "ok", "warning", "critical", "unknown", NULL };

/* The conditions a target can be in, each with the state it gives unless an option
 * says otherwise. */
enum check_cond {
	COND_DOWN,
	COND_DEGRADED,
	COND_STARVED,
	COND_UNKNOWN,
	COND_PAUSED,
	COND_FLAPPING,
	COND_MISMATCH,
	COND_COUNT,
};

static const struct check_cond_def {
	const char *name;
	enum plugin_state def;
	const char *help;
} conds[COND_COUNT] = {
	[COND_DOWN] = { "down", PLUGIN_CRITICAL, "the target is down" },
	[COND_DEGRADED] = { "degraded", PLUGIN_WARNING, "the target is degraded" },
	[COND_STARVED] = { "starved", PLUGIN_WARNING,
			   "mconnd cannot run some of its sessions (local fds, ports, memory)" },
	[COND_UNKNOWN] = { "unknown", PLUGIN_UNKNOWN, "its health is not known yet" },
	[COND_PAUSED] = { "paused", PLUGIN_OK, "it is paused (thresholds not applied)" },
	[COND_FLAPPING] = { "flapping", PLUGIN_OK, "it is flapping" },
	[COND_MISMATCH] = { "mismatch", PLUGIN_OK,
			    "an echo came back wrong in the last minute" },
};

/* What the command line asks for. */
struct check_opts {
	struct thresholds w, c;
	enum plugin_state cond[COND_COUNT];
	unsigned timeout_s;
	int verbose;
};

/* The default timeout of the whole check, as the plugins' -t has it. */
#define CHECK_DEFAULT_TIMEOUT_S 10
#define CHECK_MAX_TIMEOUT_S 3600

/* The line -t prints when it fires, formatted before the alarm is set. */
static char timeout_line[128];

/* What the check reads from the daemon's stats line. */
struct check_input {
	char state[16];
	char health[16];
	int64_t state_for_ns;
	int64_t ok, failed, win_ok, win_failed, p50_ns, p99_ns;
	/* The health model's words; zero from a daemon without them. */
	int64_t sessions, sessions_down, starved, flapping, nofile, win_mismatch;
	char starved_of[16];
	/* TLS: the peer certificate's days left, when mconnd read one. */
	bool has_cert;
	int64_t cert_days_left;
};

static void check_usage(FILE *f)
{
	fprintf(f,
		"mconnctl check (mconn) %s\n"
		"A monitoring-plugins check of one target of mconnd, over the last minute.\n\n"
		"Usage: mconnctl [-s SOCKET] check TARGET [-w THRESHOLDS] [-c THRESHOLDS]\n"
		"         [-t SECONDS] [-v] [--CONDITION=STATE ...]\n\n"
		"Options:\n"
		" -h, --help\n    Print this help and exit (exit status 3, as the plugins do).\n"
		" -V, --version\n    Print the version and exit (exit status 3).\n"
		" -w, --warning=THRESHOLDS\n -c, --critical=THRESHOLDS\n"
		"    p99=RANGE,fail=RANGE (either or both). p99 is the 99th percentile latency of\n"
		"    good cycles (numbers in ms, or with us, ms, s); fail is the share of failed\n"
		"    cycles in percent (mconnd's own resource shortages left out). RANGE: N (alert\n"
		"    outside 0..N), N: (below N), ~:N (above N), N:M (outside N..M), @N:M (inside).\n"
		"    cert=DAYS: the TLS certificate has fewer days left (other targets ignore it).\n"
		"    Example: -w p99=50ms,fail=1,cert=30 -c p99=200ms,fail=5,cert=7\n"
		" -t, --timeout=SECONDS\n"
		"    Give up after SECONDS (1 to %d, default %d) with UNKNOWN.\n"
		" -v, --verbose\n    -vv adds mconnd's stats lines after the first line.\n",
		MCONN_VERSION, CHECK_MAX_TIMEOUT_S, CHECK_DEFAULT_TIMEOUT_S);
	fprintf(f, "Conditions (--CONDITION=STATE, STATE one of ok, warning, critical, unknown):\n");
	for (int k = 0; k < COND_COUNT; k++)
		fprintf(f, " --%s=STATE\n    When %s; default %s.\n", conds[k].name, conds[k].help,
			plugin_words[conds[k].def]);
	fprintf(f, "The state is the worst of the thresholds' and the conditions' (CRITICAL, WARNING,\n"
		   "UNKNOWN, OK). mconnctl(8) says how each monitoring-plugins guideline is met.\n"
		   "Exit: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n");
}

/* Worse first: CRITICAL, WARNING, UNKNOWN, OK (the plugins' max_state_alt()). */
static int check_rank(enum plugin_state st)
{
	static const int rank[] = { [PLUGIN_OK] = 0, [PLUGIN_UNKNOWN] = 1, [PLUGIN_WARNING] = 2,
				    [PLUGIN_CRITICAL] = 3 };

	return rank[st];
}

static enum plugin_state check_worse(enum plugin_state a, enum plugin_state b)
{
	return check_rank(b) > check_rank(a) ? b : a;
}

/* Print the one line and return the state as the exit status. A '|' would start the
 * perfdata, so none is left in the text (a message from mconnd could hold one). */
__attribute__((format(printf, 3, 4)))
static int check_say(enum plugin_state st, const char *perf, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (char *p = strchr(text, '|'); p; p = strchr(p, '|'))
		*p = '/';
	printf("MCONN %s: %s%s%s\n", plugin_names[st], text, perf ? " | " : "", perf ? perf : "");
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
	/* From a daemon before the mismatch window: none, as far as it can tell. */
	(void)ctlclient_word_i64(line, "win_mismatch", &in->win_mismatch);
	/* Only a TLS target that read a certificate has it: cert= ignores the others. */
	in->has_cert = ctlclient_word_i64(line, "cert_days_left", &in->cert_days_left);
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

/* The worse of cur and lvl when the threshold r alerts on a value. */
static enum plugin_state check_level(enum plugin_state cur, bool has, const struct range *r,
				     double v, bool known, enum plugin_state lvl)
{
	if (!has || !known || !range_alert(r, v))
		return cur;
	return check_worse(cur, lvl);
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
	if (in->win_mismatch > 0 && o >= 0 && (size_t)o < n) {
		o += snprintf(out + o, n - (size_t)o, "%smismatch in %lld cycles of the last minute",
			      sep, (long long)in->win_mismatch);
		sep = "; ";
	}
	if (*sep == ';' && o >= 0 && (size_t)o < n)
		snprintf(out + o, n - (size_t)o, ")");
}

/* The worst state of the conditions that hold, and whether the thresholds apply. */
static enum plugin_state check_conditions(const struct check_input *in,
					  const struct check_opts *o, enum plugin_state st)
{
	if (strcmp(in->state, "paused") == 0)
		return o->cond[COND_PAUSED];
	if (strcmp(in->state, "down") == 0)
		st = check_worse(st, o->cond[COND_DOWN]);
	else if (strcmp(in->state, "degraded") == 0)
		st = check_worse(st, o->cond[COND_DEGRADED]);
	else if (strcmp(in->state, "up") != 0)
		st = check_worse(st, o->cond[COND_UNKNOWN]);
	if (in->starved > 0)
		st = check_worse(st, o->cond[COND_STARVED]);
	if (in->flapping)
		st = check_worse(st, o->cond[COND_FLAPPING]);
	if (in->win_mismatch > 0)
		st = check_worse(st, o->cond[COND_MISMATCH]);
	return st;
}

/* A TLS target's certificate in the perfdata: cert_days_left=N;w;c. */
static void check_perf_cert(const struct check_input *in, const struct check_opts *o,
			    char *perf, size_t n)
{
	char lv[140];
	size_t len = strlen(perf);

	if (!in->has_cert)
		return;
	check_perf_levels(o->w.has_cert, &o->w.cert, o->c.has_cert, &o->c.cert, lv, sizeof(lv));
	snprintf(perf + len, n - len, " cert_days_left=%lld;%s", (long long)in->cert_days_left, lv);
}

/* The end of the line for a TLS target: ", certificate 12 days left". */
static const char *check_cert_words(const struct check_input *in, char *out, size_t n)
{
	out[0] = '\0';
	if (in->has_cert)
		snprintf(out, n, ", certificate %lld days left", (long long)in->cert_days_left);
	return out;
}

static int check_evaluate(const char *name, const struct check_input *in,
			  const struct check_opts *o)
{
	const struct thresholds *w = &o->w, *c = &o->c;
	int64_t total = in->win_ok + in->win_failed;
	double ratio = total ? 100.0 * (double)in->win_failed / (double)total : 0;
	double p99 = (double)in->p99_ns / 1e6;
	bool have_p99 = in->p99_ns >= 0;
	enum plugin_state st = PLUGIN_OK;
	char state[256], perf[512], certw[64], lv_f[140], lv_p[140], p50s[32] = "U", p99s[32] = "U", dur[32], d50[32],
	     d99[32];

	st = check_level(st, w->has_fail, &w->fail, ratio, total > 0, PLUGIN_WARNING);
	st = check_level(st, w->has_p99, &w->p99, p99, have_p99, PLUGIN_WARNING);
	st = check_level(st, c->has_fail, &c->fail, ratio, total > 0, PLUGIN_CRITICAL);
	st = check_level(st, c->has_p99, &c->p99, p99, have_p99, PLUGIN_CRITICAL);
	st = check_level(st, w->has_cert, &w->cert, (double)in->cert_days_left, in->has_cert,
			 PLUGIN_WARNING);
	st = check_level(st, c->has_cert, &c->cert, (double)in->cert_days_left, in->has_cert,
			 PLUGIN_CRITICAL);
	st = check_conditions(in, o, st);
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
	check_perf_cert(in, o, perf, sizeof(perf));
	check_cert_words(in, certw, sizeof(certw));
	if (strcmp(in->state, "paused") == 0)
		return check_say(st, perf, "%s paused (its sessions are stopped; it was %s)", name,
				 in->health);
	format_duration(in->state_for_ns, dur, sizeof(dur));
	if (total == 0)
		return check_say(st, perf, "%s %s for %s, no cycles in the last minute%s", name,
				 state, dur, certw);
	return check_say(st, perf, "%s %s for %s, last minute: %lld cycles, %.2f%% failed, p50 %s, p99 %s%s",
			 name, state, dur, (long long)total, ratio,
			 format_duration(in->p50_ns, d50, sizeof(d50)),
			 format_duration(in->p99_ns, d99, sizeof(d99)), certw);
}

static const struct option check_longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "timeout", required_argument, NULL, 't' },
	{ "warning", required_argument, NULL, 'w' },
	{ "critical", required_argument, NULL, 'c' },
	{ "down", required_argument, NULL, 0x100 + COND_DOWN },
	{ "degraded", required_argument, NULL, 0x100 + COND_DEGRADED },
	{ "starved", required_argument, NULL, 0x100 + COND_STARVED },
	{ "unknown", required_argument, NULL, 0x100 + COND_UNKNOWN },
	{ "paused", required_argument, NULL, 0x100 + COND_PAUSED },
	{ "flapping", required_argument, NULL, 0x100 + COND_FLAPPING },
	{ "mismatch", required_argument, NULL, 0x100 + COND_MISMATCH },
	{ NULL, 0, NULL, 0 },
};

/* One option's value into o; -1 with the reason said in one line. */
static int check_option(int opt, struct check_opts *o)
{
	char err[256];
	uint64_t v;

	if (opt == 'w' || opt == 'c') {
		if (thresholds_parse(optarg, opt == 'w' ? &o->w : &o->c, err, sizeof(err)) == 0)
			return 0;
		check_say(PLUGIN_UNKNOWN, NULL, "usage: -%c: %s", opt, err);
		return -1;
	}
	if (opt == 't') {
		if (parse_uint(optarg, 1, CHECK_MAX_TIMEOUT_S, &v) == 0) {
			o->timeout_s = (unsigned)v;
			return 0;
		}
		check_say(PLUGIN_UNKNOWN, NULL, "usage: -t: '%.40s'; expected whole seconds from 1 to %d",
			  optarg, CHECK_MAX_TIMEOUT_S);
		return -1;
	}
	for (int k = 0; plugin_words[k]; k++) {
		if (strcasecmp(optarg, plugin_words[k]) == 0) {
			o->cond[opt - 0x100] = (enum plugin_state)k;
			return 0;
		}
	}
	check_say(PLUGIN_UNKNOWN, NULL, "usage: --%s: '%.40s'; expected ok, warning, critical or unknown",
		  conds[opt - 0x100].name, optarg);
	return -1;
}

/* Read the options around the target; 1 after --help or --version, -1 on a usage
 * error (said in one line), else 0 with the target at argv[optind]. */
static int check_options(int argc, char **argv, struct check_opts *o)
{
	char bad[64];
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":w:c:t:hVv", check_longopts, NULL)) != -1) {
		if (opt == 'h') {
			check_usage(stdout);
			return 1;
		}
		if (opt == 'V') {
			printf("mconnctl check (mconn) %s\n", MCONN_VERSION);
			return 1;
		}
		if (opt == 'v') {
			o->verbose++;
			continue;
		}
		if (opt == ':' || opt == '?') {
			check_say(PLUGIN_UNKNOWN, NULL, "usage: %s %s; see mconnctl check --help",
				  opt == ':' ? "missing argument to" : "unknown option",
				  util_bad_option(argv, bad, sizeof(bad)));
			return -1;
		}
		if (check_option(opt, o) < 0)
			return -1;
	}
	if (optind != argc - 1) {
		check_say(PLUGIN_UNKNOWN, NULL, "usage: mconnctl check TARGET [-w THRESHOLDS] [-c THRESHOLDS] [-t SECONDS] [--CONDITION=STATE]");
		return -1;
	}
	return 0;
}

/* -t fired: say so in the plugin's line, with only async-signal-safe calls. */
static void check_on_alarm(int sig)
{
	(void)sig;
	if (write(STDOUT_FILENO, timeout_line, strlen(timeout_line)) < 0)
		_exit(PLUGIN_UNKNOWN);
	_exit(PLUGIN_UNKNOWN);
}

/* Bound the whole check to o->timeout_s seconds. */
static void check_arm_timeout(const struct check_opts *o)
{
	struct sigaction sa = { .sa_handler = check_on_alarm };

	snprintf(timeout_line, sizeof(timeout_line),
		 "MCONN UNKNOWN: no answer from mconnd within %u s (-t %u)\n", o->timeout_s,
		 o->timeout_s);
	fflush(stdout);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm(o->timeout_s);
}

int check_main(const char *path, int argc, char **argv)
{
	struct check_opts o = { .timeout_s = CHECK_DEFAULT_TIMEOUT_S };
	struct check_input in;
	char err[512], req[CTL_MAX_LINE];
	const char *name;
	struct buf reply;
	int r;

	for (int k = 0; k < COND_COUNT; k++)
		o.cond[k] = conds[k].def;
	r = check_options(argc, argv, &o);
	if (r != 0)
		return PLUGIN_UNKNOWN;
	name = argv[optind];
	if (!name_is_valid(name))
		return check_say(PLUGIN_UNKNOWN, NULL, "invalid target name");
	check_arm_timeout(&o);
	snprintf(req, sizeof(req), "stats %s", name);
	buf_init(&reply, CTL_MAX_REPLY);
	switch (ctlclient_query(path, req, &reply, err, sizeof(err))) {
	case CTL_OK:
		r = check_read(reply.data, &in) ? check_evaluate(name, &in, &o)
		    : check_say(PLUGIN_UNKNOWN, NULL, "unexpected reply from mconnd");
		break;
	default:
		r = check_say(PLUGIN_UNKNOWN, NULL, "%s", err);
		break;
	}
	alarm(0);
	if (o.verbose >= 2 && reply.data)
		fputs(reply.data, stdout);
	buf_free(&reply);
	return r;
}
