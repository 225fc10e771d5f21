/* The control commands, as a table: name, arguments, whether it changes the daemon,
 * the handler, and the line `help` prints. A handler returns 0 after writing its reply
 * body, -errno with the reason in err, or CTLCMD_DEFERRED after ctl_defer(&d->ctl,
 * rq->client) when the answer comes later (a reload waiting for names): whoever
 * finishes the work then calls ctl_complete() with the whole framed reply. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "ctlcmd.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "reconcile.h"
#include "render.h"
#include "pool.h"
#include "target.h"

struct ctl_request {
	int argc;
	char **argv;
	bool json;
	int64_t now;
	/* Who asked (NULL when not through the socket): what a handler that defers its
	 * reply (reload) gives ctl_defer(). */
	const struct ctl_client *client;
	/* Where a handler of a long reply puts the rest of it (see reply_sliced()). */
	struct ctl_stream *stream;
};

struct ctl_command {
	const char *name;
	int min_args;
	int max_args;
	bool admin;
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
	*ret = pool_find_target(&d->pool, name);
	if (*ret)
		return 0;
	snprintf(err, errlen, "no such target: %.64s", name);
	return -ENOENT;
}

/* The next slice of a listing, over a view of the daemon as it is now. */
static bool stream_render(void *owner, void *cursor, struct buf *out, size_t max)
{
	struct view v;

	daemon_view(owner, &v);
	return render_slice(&v, cursor, out, max);
}

static bool stream_metrics(void *owner, void *cursor, struct buf *out, size_t max)
{
	struct daemon *d = owner;
	struct view v;

	daemon_view(d, &v);
	return metrics_scrape_slice(&v, &d->scrape, cursor, out, max);
}

/* Hand a long reply's cursor (size bytes, copied) to the dispatcher, which renders
 * it a slice at a time through next. */
static int reply_sliced(const struct ctl_request *rq,
			bool (*next)(void *, void *, struct buf *, size_t), const void *cursor,
			size_t size, char *err, size_t errlen)
{
	void *copy = malloc(size);

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(copy, cursor, size);
	*rq->stream = (struct ctl_stream){ .next = next, .cursor = copy };
	return 0;
}

/* A listing about the target named by word k of the request (when there is one). */
static int reply_listing(struct daemon *d, const struct ctl_request *rq, enum render_kind kind,
			 int k, char *err, size_t errlen)
{
	struct render_cursor cur;
	struct target *t = NULL;

	if (rq->argc > k && lookup_target(d, rq->argv[k], &t, err, errlen) < 0)
		return -ENOENT;
	render_begin(&cur, kind, t, rq->json, rq->now);
	return reply_sliced(rq, stream_render, &cur, sizeof(cur), err, errlen);
}

static int cmd_status(struct daemon *d, const struct ctl_request *rq, struct buf *out,
		      char *err, size_t errlen)
{
	(void)out;
	return reply_listing(d, rq, RENDER_STATUS, 1, err, errlen);
}

static int cmd_sessions(struct daemon *d, const struct ctl_request *rq, struct buf *out,
			char *err, size_t errlen)
{
	(void)out;
	return reply_listing(d, rq, RENDER_SESSIONS, 1, err, errlen);
}

static int cmd_stats(struct daemon *d, const struct ctl_request *rq, struct buf *out,
		     char *err, size_t errlen)
{
	struct ctl_request plain = *rq;

	(void)out;
	plain.json = false;
	return reply_listing(d, &plain, RENDER_STATS, 1, err, errlen);
}

static int cmd_metrics(struct daemon *d, const struct ctl_request *rq, struct buf *out,
		       char *err, size_t errlen)
{
	struct metrics_cursor cur;

	(void)d;
	(void)out;
	metrics_begin(&cur, rq->now);
	return reply_sliced(rq, stream_metrics, &cur, sizeof(cur), err, errlen);
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

/* A reload that has names to look up answers when they are in: the client waits
 * (the reply is deferred), the loop goes on. */
static int cmd_reload(struct daemon *d, const struct ctl_request *rq, struct buf *out,
		      char *err, size_t errlen)
{
	uint64_t ticket;
	int r = daemon_reload(d, out);

	if (r < 0) {
		snprintf(err, errlen, "reload failed; the running configuration is unchanged");
		return -EINVAL;
	}
	if (r == 0)
		return 0;
	ticket = rq->client ? ctl_defer(&d->ctl, rq->client) : 0;
	if (ticket == 0) {
		buf_printf(out, "reload under way: looking up names; the outcome goes to the log\n");
		return 0;
	}
	daemon_reload_wait(d, ticket);
	return CTLCMD_DEFERRED;
}

static int cmd_set(struct daemon *d, const struct ctl_request *rq, struct buf *out, char *err,
		   size_t errlen)
{
	struct target *t;

	if (lookup_target(d, rq->argv[1], &t, err, errlen) < 0)
		return -ENOENT;
	if (daemon_set(d, t, rq->argv[2], rq->argv[3], err, errlen) < 0)
		return -EINVAL;
	buf_printf(out, "%s %s set to %s until the next reload\n", t->conf->name, rq->argv[2],
		   rq->argv[3]);
	return 0;
}

static int cmd_pause(struct daemon *d, const struct ctl_request *rq, struct buf *out,
		     char *err, size_t errlen)
{
	struct target *t;

	if (lookup_target(d, rq->argv[1], &t, err, errlen) < 0)
		return -ENOENT;
	buf_printf(out, "%s %s\n", t->conf->name,
		   daemon_pause(d, t) ? "paused" : "was already paused");
	return 0;
}

static int cmd_resume(struct daemon *d, const struct ctl_request *rq, struct buf *out,
		      char *err, size_t errlen)
{
	struct target *t;

	if (lookup_target(d, rq->argv[1], &t, err, errlen) < 0)
		return -ENOENT;
	buf_printf(out, "%s %s\n", t->conf->name,
		   daemon_resume(d, t) ? "resumed" : "was not paused");
	return 0;
}

static const struct ctl_command commands[] = {
	{ "status", 0, 1, false, cmd_status, "status [-j] [TARGET]",
	  "health, counters, failures by class and latency of every target or one" },
	{ "sessions", 1, 1, false, cmd_sessions, "sessions [-j] TARGET",
	  "state, cycles, last result and last latency of each session of a target" },
	{ "stats", 0, 1, false, cmd_stats, "stats [TARGET]",
	  "KEY=VALUE lines: counters, last minute's failures and p50/p99 (for scripts)" },
	{ "metrics", 0, 0, false, cmd_metrics, "metrics",
	  "every target's metrics in the Prometheus text format 0.0.4" },
	{ "reload", 0, 0, true, cmd_reload, "reload",
	  "read the configuration files again and apply what changed (admin)" },
	{ "set", 3, 3, true, cmd_set, "set TARGET KEY VALUE",
	  "change connections, interval, connect_timeout, timeout, rise, fall or a health key (admin)" },
	{ "pause", 1, 1, true, cmd_pause, "pause TARGET", "close a target's sessions until resume (admin)" },
	{ "resume", 1, 1, true, cmd_resume, "resume TARGET", "start a paused target's sessions again (admin)" },
	{ "help", 0, 0, false, cmd_help, "help", "list the commands" },
	{ "version", 0, 0, false, cmd_version, "version [-j]", "the daemon's version" },
};

/* Whether a peer of fd was in group g when it connected (SO_PEERGROUPS). The buffer
 * grows until the groups fit (ERANGE says how much they need), up to NGROUPS_MAX. */
static bool peer_in_group(int fd, gid_t g)
{
	gid_t stack[64], *groups = stack;
	socklen_t len = sizeof(stack);
	bool found = false;

	while (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		gid_t *more;

		if (errno != ERANGE || len <= sizeof(stack) || len > NGROUPS_MAX * sizeof(gid_t) ||
		    groups != stack || !(more = malloc(len)))
			goto done;
		groups = more;
	}
	for (size_t i = 0; i < len / sizeof(groups[0]); i++)
		found |= groups[i] == g;
done:
	if (groups != stack)
		free(groups);
	return found;
}

/* Root, the daemon's own user and members of admin_group may change the daemon. The
 * peer's supplementary groups are those it had when it connected, however many. */
static bool peer_is_admin(const struct daemon *d, const struct ctl_client *c)
{
	gid_t g = d->cfg->admin_gid;

	if (c->uid == 0 || c->uid == geteuid())
		return true;
	if (g == CONFIG_NO_GID)
		return false;
	if (c->gid == g)
		return true;
	return c->fd >= 0 && peer_in_group(c->fd, g);
}

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

/* Replace what this request wrote from start on with an error reply, keeping the
 * body lines written after the OK line at body (if any) as the error's details. */
static void reply_error_body(struct buf *out, size_t start, size_t body, const char *reason)
{
	char *detail = NULL;
	size_t n = body && out->len > body && !out->overflow ? out->len - body : 0;

	if (n) {
		detail = malloc(n);
		if (detail)
			memcpy(detail, out->data + body, n);
		else
			n = 0;
	}
	out->len = start;
	out->overflow = false;
	buf_printf(out, "ERR %s\n", reason);
	if (n)
		buf_append(out, detail, n);
	buf_printf(out, "\n");
	free(detail);
}

static void reply_error(struct buf *out, size_t start, const char *reason)
{
	reply_error_body(out, start, 0, reason);
}

/* Check the request's words against the command table and run the match. */
static void dispatch_words(struct daemon *d, const struct ctl_client *cl,
			   struct ctl_request *rq, struct buf *out, size_t start)
{
	char err[256] = "";

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct ctl_command *c = &commands[i];
		size_t body;
		int r;

		if (strcmp(rq->argv[0], c->name) != 0)
			continue;
		if (rq->argc - 1 < c->min_args || rq->argc - 1 > c->max_args) {
			snprintf(err, sizeof(err), "usage: %s", c->usage);
			reply_error(out, start, err);
			return;
		}
		if (c->admin && cl && !peer_is_admin(d, cl)) {
			bool group = d->cfg->admin_group != NULL;

			log_msg(LOG_NOTICE, "control: '%s' denied to uid %u (pid %d): not root, not mconnd's user, %s",
				c->name, (unsigned)cl->uid, (int)cl->pid,
				group ? "not in admin_group" : "and no admin_group is set");
			out->len = start;
			out->overflow = false;
			buf_printf(out, "ERR permission denied\n'%s' needs root, mconnd's user (uid %u) or %s%s\n\n",
				   c->name, (unsigned)geteuid(),
				   group ? "a member of admin_group " : "a member of admin_group, which is not set",
				   group ? d->cfg->admin_group : "");
			return;
		}
		if (c->admin && cl)
			log_msg(LOG_INFO, "control: uid %u (pid %d) runs '%s'", (unsigned)cl->uid,
				(int)cl->pid, c->name);
		buf_printf(out, "OK\n");
		body = out->len;
		r = c->run(d, rq, out, err, sizeof(err));
		if (r == CTLCMD_DEFERRED) {
			out->len = start;
			out->overflow = false;
			if (out->data)
				out->data[start] = '\0';
		} else if (r < 0) {
			reply_error_body(out, start, body, err);
		} else if (!rq->stream->next ||
			   rq->stream->next(d, rq->stream->cursor, out, CTL_FIRST_SLICE_BYTES)) {
			ctl_stream_end(rq->stream);
			if (out->overflow)
				reply_error(out, start, "reply too large");
			else
				buf_printf(out, "\n");
		} else if (out->overflow) {
			ctl_stream_end(rq->stream);
			reply_error(out, start, "reply too large");
		}
		return;
	}
	for (char *p = rq->argv[0]; *p; p++)
		if ((unsigned char)*p >= 0x7f)
			*p = '?';
	snprintf(err, sizeof(err), "unknown command '%.32s'; try 'help'", rq->argv[0]);
	reply_error(out, start, err);
}

/* Run the request with the reply in slices into stream (see ctlcmd_dispatch()). */
static void dispatch_line(struct daemon *d, const struct ctl_client *c, char *line, size_t len,
			  struct buf *out, struct ctl_stream *stream)
{
	char *argv[CTL_MAX_ARGS];
	struct ctl_request rq = { .argv = argv, .now = now_ns(), .client = c, .stream = stream };
	size_t start = out->len;

	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t' && line[i] != '\r') {
			reply_error(out, start, "invalid characters in request");
			return;
		}
	}
	rq.argc = proto_split_words(line, argv, CTL_MAX_ARGS);
	if (rq.argc < 0) {
		reply_error(out, start, "too many words in request");
		return;
	}
	if (rq.argc == 0) {
		reply_error(out, start, "empty request; try 'help'");
		return;
	}
	if (!request_flags(&rq)) {
		reply_error(out, start, "unknown option; only -j is accepted");
		return;
	}
	if (rq.argc == 0) {
		reply_error(out, start, "no command; try 'help'");
		return;
	}
	dispatch_words(d, c, &rq, out, start);
}

void ctlcmd_dispatch(void *owner, const struct ctl_client *c, char *line, size_t len,
		     struct buf *out, struct ctl_stream *stream)
{
	struct daemon *d = owner;
	struct ctl_stream whole = { 0 };
	size_t start = out->len;

	if (stream) {
		dispatch_line(d, c, line, len, out, stream);
		return;
	}
	dispatch_line(d, c, line, len, out, &whole);
	while (whole.next && !out->overflow) {
		if (whole.next(d, whole.cursor, out, CTL_SLICE_BYTES)) {
			buf_printf(out, "\n");
			break;
		}
	}
	ctl_stream_end(&whole);
	if (out->overflow)
		reply_error(out, start, "reply too large");
}
