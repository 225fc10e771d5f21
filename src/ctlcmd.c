/* The control commands, as a table: name, arguments, whether it changes the daemon,
 * the handler, and the line `help` prints. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "ctlcmd.h"
#include "daemon.h"
#include "metrics.h"
#include "render.h"
#include "target.h"

struct ctl_request {
	int argc;
	char **argv;
	bool json;
	int64_t now;
};

struct ctl_command {
	const char *name;
	int min_args;
	int max_args;
	int (*run)(struct daemon *d, const struct ctl_request *rq, struct buf *out, char *err,
		   size_t errlen);
	const char *usage;
	const char *help;
};

static int cmd_help(struct daemon *d, const struct ctl_request *rq, struct buf *out, char *err,
		    size_t errlen);

static int lookup_target(struct daemon *d, const char *name, struct target **ret, char *err,
			 size_t errlen)
{
	*ret = daemon_find_target(d, name);
	if (*ret)
		return 0;
	snprintf(err, errlen, "no such target: %.64s", name);
	return -ENOENT;
}

static int cmd_status(struct daemon *d, const struct ctl_request *rq, struct buf *out,
		      char *err, size_t errlen)
{
	struct target *t = NULL;

	if (rq->argc > 1 && lookup_target(d, rq->argv[1], &t, err, errlen) < 0)
		return -ENOENT;
	render_status(d, t, rq->json, rq->now, out);
	return 0;
}

static int cmd_sessions(struct daemon *d, const struct ctl_request *rq, struct buf *out,
			char *err, size_t errlen)
{
	struct target *t;

	if (lookup_target(d, rq->argv[1], &t, err, errlen) < 0)
		return -ENOENT;
	render_sessions(d, t, rq->json, rq->now, out);
	return 0;
}

static int cmd_stats(struct daemon *d, const struct ctl_request *rq, struct buf *out,
		     char *err, size_t errlen)
{
	struct target *t = NULL;

	if (rq->argc > 1 && lookup_target(d, rq->argv[1], &t, err, errlen) < 0)
		return -ENOENT;
	render_stats(d, t, rq->now, out);
	return 0;
}

static int cmd_metrics(struct daemon *d, const struct ctl_request *rq, struct buf *out,
		       char *err, size_t errlen)
{
	(void)rq;
	(void)err;
	(void)errlen;
	metrics_scrape(d, out);
	return 0;
}

static int cmd_version(struct daemon *d, const struct ctl_request *rq, struct buf *out,
		       char *err, size_t errlen)
{
	(void)d;
	(void)err;
	(void)errlen;
	if (rq->json)
		buf_printf(out, "{\"version\":\"%s\"}\n", MCONN_VERSION);
	else
		buf_printf(out, "mconnd %s\n", MCONN_VERSION);
	return 0;
}

static const struct ctl_command commands[] = {
	{ "status", 0, 1, cmd_status, "status [-j] [TARGET]",
	  "health, counters, failures by class and latency of every target or one" },
	{ "sessions", 1, 1, cmd_sessions, "sessions [-j] TARGET",
	  "state, cycles, last result and last latency of each session of a target" },
	{ "stats", 0, 1, cmd_stats, "stats [TARGET]",
	  "KEY=VALUE lines: counters, last minute's failures and p50/p99 (for scripts)" },
	{ "metrics", 0, 0, cmd_metrics, "metrics",
	  "every target's metrics in the Prometheus text format 0.0.4" },
	{ "help", 0, 0, cmd_help, "help", "list the commands" },
	{ "version", 0, 0, cmd_version, "version [-j]", "the daemon's version" },
};

static int cmd_help(struct daemon *d, const struct ctl_request *rq, struct buf *out, char *err,
		    size_t errlen)
{
	(void)d;
	(void)rq;
	(void)err;
	(void)errlen;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		buf_printf(out, "%-22s %s\n", commands[i].usage, commands[i].help);
	buf_printf(out, "%-22s %s\n", "-j", "with status, sessions and version: reply in JSON");
	return 0;
}

/* Take the -j flag out of the words; returns false on any other flag. */
static bool request_flags(struct ctl_request *rq)
{
	int k = 0;

	for (int i = 0; i < rq->argc; i++) {
		if (strcmp(rq->argv[i], "-j") == 0)
			rq->json = true;
		else if (rq->argv[i][0] == '-' && i > 0)
			return false;
		else
			rq->argv[k++] = rq->argv[i];
	}
	rq->argc = k;
	return true;
}

/* Replace whatever was written with an error reply. */
static void reply_error(struct buf *out, const char *reason)
{
	out->len = 0;
	out->overflow = false;
	buf_printf(out, "ERR %s\n\n", reason);
}

/* Check the request's words against the command table and run the match. */
static void dispatch_words(struct daemon *d, struct ctl_request *rq, struct buf *out)
{
	char err[256] = "";

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct ctl_command *c = &commands[i];

		if (strcmp(rq->argv[0], c->name) != 0)
			continue;
		if (rq->argc - 1 < c->min_args || rq->argc - 1 > c->max_args) {
			snprintf(err, sizeof(err), "usage: %s", c->usage);
			reply_error(out, err);
			return;
		}
		buf_printf(out, "OK\n");
		if (c->run(d, rq, out, err, sizeof(err)) < 0)
			reply_error(out, err);
		else if (out->overflow)
			reply_error(out, "reply too large");
		else
			buf_printf(out, "\n");
		return;
	}
	for (char *p = rq->argv[0]; *p; p++)
		if ((unsigned char)*p >= 0x7f)
			*p = '?';
	snprintf(err, sizeof(err), "unknown command '%.32s'; try 'help'", rq->argv[0]);
	reply_error(out, err);
}

void ctlcmd_dispatch(struct daemon *d, const struct ctl_client *c, char *line, size_t len,
		     struct buf *out)
{
	char *argv[CTL_MAX_ARGS];
	struct ctl_request rq = { .argv = argv, .now = now_ns() };

	(void)c;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t' && line[i] != '\r') {
			reply_error(out, "invalid characters in request");
			return;
		}
	}
	rq.argc = proto_split_words(line, argv, CTL_MAX_ARGS);
	if (rq.argc < 0) {
		reply_error(out, "too many words in request");
		return;
	}
	if (rq.argc == 0) {
		reply_error(out, "empty request; try 'help'");
		return;
	}
	if (!request_flags(&rq)) {
		reply_error(out, "unknown option; only -j is accepted");
		return;
	}
	if (rq.argc == 0) {
		reply_error(out, "no command; try 'help'");
		return;
	}
	dispatch_words(d, &rq, out);
}
