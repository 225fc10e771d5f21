/* mconnctl top: a live view of every target, refreshed every second (or -d). Rates
 * come from the change of the daemon's counters since the last refresh, measured on
 * the daemon's own clock; p50/p99 are the daemon's last minute; the sparkline shows
 * the mean latency of each of the last refreshes. On a terminal it draws in the
 * alternate screen, in color, and exits on q or Ctrl-C with the terminal restored;
 * with -b (or when not on a terminal) it prints plain frames one after another. */
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctlclient.h"
#include "mconnctl.h"
#include "parse.h"
#include "proto.h"
#include "util.h"

#define TOP_MAX_TARGETS 1024
#define TOP_SPARK 10
#define TOP_WIDTH 78
#define TOP_HEADER_LINES 3
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

struct top_row {
	char name[MCONN_NAME_MAX + 1];
	char state[16];
	int64_t sessions, active, p50, p99;
	/* Sessions by verdict and starved, and flapping; -1 from a daemon without them. */
	int64_t s_up, s_down, s_unknown, s_starved, flapping;
	int64_t n[PROTO_N_RESULTS]; /* ok, then each failure class */
	int64_t failed, lat_count, lat_sum;
	bool rates;
	double rate[PROTO_N_RESULTS];
	double fail_rate;
	int n_spark;
	double spark[TOP_SPARK];
};

struct top {
	const char *path;
	int64_t delay;
	long max_frames;
	bool interactive, color, utf8;
	struct termios saved;
	char daemon_line[256];
	int64_t uptime, prev_uptime;
	struct top_row *rows, *prev;
	size_t n_rows, n_prev;
	struct buf reply, frame;
	char err[512];
};

static volatile sig_atomic_t top_stop_signal;

static void top_on_signal(int sig)
{
	top_stop_signal = sig;
}

static void top_usage(FILE *f)
{
	fprintf(f,
		"Usage: mconnctl [-s SOCKET] top [-d SECONDS] [-b] [-n N]\n"
		"A live view of every target: state, sessions, cycles/s and failures/s since the\n"
		"last refresh, failures by class, p50/p99 over the last minute, and the mean\n"
		"latency of the last %d refreshes. q or Ctrl-C quits.\n"
		"  -d SECONDS  refresh every SECONDS (default 1; 0.1 to 3600; units ms, s, m)\n"
		"  -b          batch: plain frames, no terminal control, no color\n"
		"  -n N        stop after N frames\n",
		TOP_SPARK);
}

static int top_options(struct top *t, int argc, char **argv)
{
	uint64_t n;
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt(argc, argv, ":d:n:bh")) != -1) {
		switch (opt) {
		case 'd':
			if (parse_duration(optarg, &t->delay) < 0 || t->delay < 100 * NSEC_PER_MSEC ||
			    t->delay > 3600 * NSEC_PER_SEC) {
				fprintf(stderr, "mconnctl top: -d: expected 0.1 to 3600 seconds, got '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'n':
			if (parse_uint(optarg, 1, 100000000, &n) < 0) {
				fprintf(stderr, "mconnctl top: -n: expected a count from 1, got '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			t->max_frames = (long)n;
			break;
		case 'b': t->interactive = false; break;
		case 'h': top_usage(stdout); return -1;
		default:
			fprintf(stderr, "mconnctl top: %s -%c\n",
				opt == ':' ? "missing argument to" : "unknown option", optopt);
			top_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mconnctl top: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	return 0;
}

/* Raw-ish input (no echo, no line buffering, signals kept), alternate screen, no
 * cursor; top_term_leave() undoes all of it. */
static int top_term_enter(struct top *t)
{
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &t->saved) < 0)
		return -errno;
	raw = t->saved;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) < 0)
		return -errno;
	fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout);
	fflush(stdout);
	return 0;
}

static void top_term_leave(struct top *t)
{
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
}

static const struct top_row *top_find_prev(const struct top *t, const char *name)
{
	for (size_t i = 0; i < t->n_prev; i++)
		if (strcmp(t->prev[i].name, name) == 0)
			return &t->prev[i];
	return NULL;
}

/* Fill r from one "target ..." line; false when a field is missing. */
static bool top_parse_row(const char *line, struct top_row *r)
{
	bool ok = ctlclient_word(line, "name", r->name, sizeof(r->name)) &&
		  ctlclient_word(line, "state", r->state, sizeof(r->state)) &&
		  ctlclient_word_i64(line, "sessions", &r->sessions) &&
		  ctlclient_word_i64(line, "active", &r->active) &&
		  ctlclient_word_i64(line, "failed", &r->failed) &&
		  ctlclient_word_i64(line, "lat_count", &r->lat_count) &&
		  ctlclient_word_i64(line, "lat_sum_ns", &r->lat_sum) &&
		  ctlclient_word_i64(line, "win_p50_ns", &r->p50) &&
		  ctlclient_word_i64(line, "win_p99_ns", &r->p99);

	for (int k = 0; ok && k < PROTO_N_RESULTS; k++)
		ok = ctlclient_word_i64(line, proto_result_names[k], &r->n[k]);
	if (!ctlclient_word_i64(line, "sessions_up", &r->s_up) ||
	    !ctlclient_word_i64(line, "sessions_down", &r->s_down) ||
	    !ctlclient_word_i64(line, "sessions_unknown", &r->s_unknown) ||
	    !ctlclient_word_i64(line, "starved", &r->s_starved) ||
	    !ctlclient_word_i64(line, "flapping", &r->flapping))
		r->s_up = r->s_down = r->s_unknown = r->s_starved = r->flapping = -1;
	return ok;
}

/* Rates since the previous sample of the same target, and the sparkline moved on. */
static void top_derive(struct top_row *r, const struct top_row *p, double dt)
{
	int64_t dc, ds;

	if (!p || dt <= 0)
		return;
	r->rates = true;
	for (int k = 0; k < PROTO_N_RESULTS; k++)
		r->rate[k] = (double)MAX(r->n[k] - p->n[k], 0) / dt;
	r->fail_rate = (double)MAX(r->failed - p->failed, 0) / dt;
	r->n_spark = MIN(p->n_spark + 1, TOP_SPARK);
	memcpy(r->spark, p->spark + (p->n_spark == TOP_SPARK), sizeof(double) * (size_t)(r->n_spark - 1));
	dc = r->lat_count - p->lat_count;
	ds = r->lat_sum - p->lat_sum;
	r->spark[r->n_spark - 1] = dc > 0 ? (double)ds / (double)dc : -1;
}

/* Ask the daemon and turn its stats into rows; false with t->err on failure. */
static bool top_sample(struct top *t)
{
	const char *line, *next;
	size_t n = 0;
	double dt;

	if (ctlclient_query(t->path, "stats", &t->reply, t->err, sizeof(t->err)) != CTL_OK)
		return false;
	line = t->reply.data;
	next = strchr(line, '\n');
	if (strncmp(line, "daemon ", 7) != 0 || !next ||
	    !ctlclient_word_i64(line, "uptime_ns", &t->uptime)) {
		snprintf(t->err, sizeof(t->err), "unexpected reply from mconnd");
		return false;
	}
	snprintf(t->daemon_line, sizeof(t->daemon_line), "%.*s", (int)(next - line), line);
	dt = (double)(t->uptime - t->prev_uptime) / 1e9;
	for (line = next + 1; *line && n < TOP_MAX_TARGETS; line = next + 1) {
		struct top_row *r = &t->rows[n];

		next = strchr(line, '\n');
		if (!next)
			break;
		memset(r, 0, sizeof(*r));
		if (strncmp(line, "target ", 7) != 0 || !top_parse_row(line, r))
			continue;
		top_derive(r, t->n_prev || t->prev_uptime ? top_find_prev(t, r->name) : NULL, dt);
		n++;
	}
	t->n_rows = n;
	return true;
}

/* Make this sample the previous one. */
static void top_rotate(struct top *t)
{
	struct top_row *tmp = t->prev;

	t->prev = t->rows;
	t->rows = tmp;
	t->n_prev = t->n_rows;
	t->prev_uptime = t->uptime;
}

static void top_spark(const struct top *t, const struct top_row *r, struct buf *out)
{
	static const char *const blocks[] = { "\u2581", "\u2582", "\u2583", "\u2584",
					      "\u2585", "\u2586", "\u2587", "\u2588" };
	static const char ascii[] = "_.-~=+*#";
	double max = 0;

	for (int i = 0; i < r->n_spark; i++)
		max = MAX(max, r->spark[i]);
	for (int i = 0; i < r->n_spark; i++) {
		int lvl = max > 0 && r->spark[i] >= 0 ? (int)(r->spark[i] / max * 7.0 + 0.5) : -1;

		if (lvl < 0)
			buf_printf(out, " ");
		else if (t->utf8)
			buf_printf(out, "%s", blocks[lvl]);
		else
			buf_printf(out, "%c", ascii[lvl]);
	}
}

static const char *top_state_color(const struct top *t, const char *state)
{
	if (!t->color)
		return "";
	if (strcmp(state, "up") == 0)
		return "\033[32m";
	if (strcmp(state, "down") == 0)
		return "\033[1;31m";
	if (strcmp(state, "degraded") == 0)
		return "\033[1;33m";
	if (strcmp(state, "paused") == 0)
		return "\033[36m";
	return "\033[33m";
}

/* A rate for a column: "-" before there is a previous sample. */
static const char *top_rate(const struct top_row *r, double v, char *out, size_t n)
{
	if (!r->rates)
		snprintf(out, n, "-");
	else if (v >= 100000)
		snprintf(out, n, "%.0fk", v / 1000);
	else
		snprintf(out, n, "%.1f", v);
	return out;
}

/* The failures of the last refresh by class, on a line of their own. */
static void top_failures_line(const struct top_row *r, struct buf *out)
{
	char line[TOP_WIDTH + 1];
	size_t o;

	if (!r->rates || r->fail_rate <= 0)
		return;
	o = (size_t)snprintf(line, sizeof(line), "    failures/s:");
	for (int k = 1; k < PROTO_N_RESULTS && o < sizeof(line); k++)
		if (r->rate[k] > 0)
			o += (size_t)snprintf(line + o, sizeof(line) - o, " %s %.1f",
					      proto_result_names[k], r->rate[k]);
	buf_printf(out, "%s\n", line);
}

/* The sessions' verdicts when they do not all say up, and flapping, on a line. */
static void top_health_line(const struct top_row *r, struct buf *out)
{
	if (r->s_up < 0 || (r->s_down == 0 && r->s_unknown == 0 && r->s_starved == 0 && !r->flapping))
		return;
	if (strcmp(r->state, "paused") == 0)
		return;
	buf_printf(out, "    sessions: %lld up, %lld down, %lld unknown, %lld starved%s\n",
		   (long long)r->s_up, (long long)r->s_down, (long long)r->s_unknown,
		   (long long)r->s_starved, r->flapping ? "; flapping" : "");
}

static void top_row_line(const struct top *t, const struct top_row *r, struct buf *out)
{
	char ok[16], fail[16], p50[32], p99[32];

	buf_printf(out, "%-14.14s %s%-8s%s %5lld %4lld %8s %7s %7s %7s ", r->name,
		   top_state_color(t, r->state), r->state, t->color ? "\033[0m" : "",
		   (long long)r->sessions, (long long)r->active,
		   top_rate(r, r->rate[0], ok, sizeof(ok)), top_rate(r, r->fail_rate, fail, sizeof(fail)),
		   format_duration(r->p50, p50, sizeof(p50)), format_duration(r->p99, p99, sizeof(p99)));
	top_spark(t, r, out);
	buf_printf(out, "\n");
	top_health_line(r, out);
	top_failures_line(r, out);
}

/* A header line that snprintf returned n for: when it was cut to the screen's width,
 * its last column says so with a '>'. */
static void top_mark_cut(char *line, size_t size, int n)
{
	if (n >= 0 && (size_t)n >= size)
		line[size - 2] = '>';
}

/* The first lines: the daemon, the counts of states, the clock and the keys. */
static void top_header(const struct top *t, long frame, struct buf *out)
{
	char version[32] = "?", up[32], clock[16], line[TOP_WIDTH + 1], other[32];
	size_t nup = 0, ndeg = 0, ndown = 0, sessions = 0;
	int n;
	time_t now = time(NULL);
	struct tm tm;

	ctlclient_word(t->daemon_line, "version", version, sizeof(version));
	for (size_t i = 0; i < t->n_rows; i++) {
		nup += strcmp(t->rows[i].state, "up") == 0;
		ndown += strcmp(t->rows[i].state, "down") == 0;
		ndeg += strcmp(t->rows[i].state, "degraded") == 0;
		sessions += (size_t)t->rows[i].sessions;
	}
	localtime_r(&now, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	/* "other" (unknown, paused) only when there are any: the line must fit 78 columns. */
	snprintf(other, sizeof(other), ", %zu other", t->n_rows - nup - ndeg - ndown);
	n = snprintf(line, sizeof(line),
		     "mconnd %s, up %s: %zu target%s, %zu up, %zu degraded, %zu down%s; %zu sessions",
		     version, format_duration(t->uptime, up, sizeof(up)), t->n_rows,
		     plural_s(t->n_rows), nup, ndeg, ndown,
		     nup + ndeg + ndown < t->n_rows ? other : "", sessions);
	top_mark_cut(line, sizeof(line), n);
	buf_printf(out, "%s\n", line);
	n = snprintf(line, sizeof(line), "%s  frame %ld, every %s%s", clock, frame,
		     format_duration(t->delay, up, sizeof(up)),
		     t->interactive ? "; q or Ctrl-C quits" : "");
	top_mark_cut(line, sizeof(line), n);
	buf_printf(out, "%s\n", line);
	buf_printf(out, "%s%-14s %-8s %5s %4s %8s %7s %7s %7s %-10s%s\n", t->color ? "\033[7m" : "",
		   "TARGET", "STATE", "SESS", "ACT", "OK/s", "FAIL/s", "P50", "P99", "LATENCY",
		   t->color ? "\033[0m" : "");
}

/* Rows a terminal has room for, all of them in batch mode. */
static size_t top_room(const struct top *t)
{
	struct winsize ws;

	if (!t->interactive || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row == 0)
		return SIZE_MAX;
	return ws.ws_row > TOP_HEADER_LINES + 1 ? (size_t)(ws.ws_row - TOP_HEADER_LINES - 1) : 1;
}

static void top_draw(struct top *t, long frame)
{
	size_t room = top_room(t), shown = 0;
	struct buf *out = &t->frame;

	out->len = 0;
	out->overflow = false;
	top_header(t, frame, out);
	for (size_t i = 0; i < t->n_rows && shown < room; i++, shown++)
		top_row_line(t, &t->rows[i], out);
	if (shown < t->n_rows)
		buf_printf(out, "... %zu more target%s\n", t->n_rows - shown,
			   plural_s(t->n_rows - shown));
	if (!t->interactive) {
		fwrite(out->data, 1, out->len, stdout);
		fputs("\n", stdout);
	} else {
		fputs("\033[H", stdout);
		for (char *p = out->data, *nl; (nl = strchr(p, '\n')); p = nl + 1)
			printf("%.*s\033[K\n", (int)(nl - p), p);
		fputs("\033[J", stdout);
	}
	fflush(stdout);
}

/* Wait for the next refresh; returns false when the user or a signal says stop. */
static bool top_wait(const struct top *t, int64_t until)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	int64_t now;

	while (!top_stop_signal && (now = now_ns()) < until) {
		int ms = (int)((until - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
		char c[16];
		ssize_t n;

		if (!t->interactive) {
			(void)poll(NULL, 0, ms);
			continue;
		}
		if (poll(&p, 1, ms) <= 0)
			continue;
		n = read(STDIN_FILENO, c, sizeof(c));
		for (ssize_t i = 0; i < n; i++)
			if (c[i] == 'q' || c[i] == 'Q')
				return false;
		if (n == 0)
			return false;
	}
	return !top_stop_signal;
}

static void top_signals(void)
{
	struct sigaction sa = { .sa_handler = top_on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int top_loop(struct top *t)
{
	int64_t next = now_ns();

	for (long frame = 1; !top_stop_signal; frame++) {
		if (!top_sample(t))
			return EXIT_UNREACHABLE;
		top_draw(t, frame);
		top_rotate(t);
		if (t->max_frames && frame >= t->max_frames)
			break;
		next += t->delay;
		if (!top_wait(t, next))
			break;
	}
	return 0;
}

int top_main(const char *path, int argc, char **argv)
{
	struct top t = { .path = path, .delay = NSEC_PER_SEC, .interactive = true };
	int r = top_options(&t, argc, argv);
	const char *nc = getenv("NO_COLOR");

	if (r != 0)
		return r < 0 ? 0 : r;
	setlocale(LC_CTYPE, "");
	t.interactive = t.interactive && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	t.color = t.interactive && !(nc && *nc);
	t.utf8 = t.interactive && strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	t.rows = calloc(TOP_MAX_TARGETS, sizeof(*t.rows));
	t.prev = calloc(TOP_MAX_TARGETS, sizeof(*t.prev));
	buf_init(&t.reply, CTL_MAX_REPLY);
	buf_init(&t.frame, CTL_MAX_REPLY);
	top_signals();
	if (!t.rows || !t.prev) {
		fprintf(stderr, "mconnctl top: out of memory\n");
		r = 1;
	} else if (t.interactive && top_term_enter(&t) < 0) {
		fprintf(stderr, "mconnctl top: cannot set up the terminal: %s\n", strerror(errno));
		r = 1;
	} else {
		r = top_loop(&t);
		if (t.interactive)
			top_term_leave(&t);
		if (r == EXIT_UNREACHABLE)
			fprintf(stderr, "mconnctl top: %s\n", t.err);
	}
	free(t.rows);
	free(t.prev);
	buf_free(&t.reply);
	buf_free(&t.frame);
	return r;
}
