/* The control server. Clients are non-blocking and edge-triggered; a client gets one
 * reply at a time, its request line and its pending output are bounded, and one that
 * stops reading or goes quiet is dropped, so no client can stall the loop. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "ctl.h"
#include "log.h"
#include "loop.h"


int ctl_check_path(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "control socket directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(err, errlen,
			 "control socket directory %s is writable by others; refusing (use a directory only its owner may write, such as /run, or chmod o-w it)",
			 dir);
		return -EPERM;
	}
	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; refusing to replace it", path);
		return -EEXIST;
	}
	return 0;
}

/* Check the path, refuse a live socket of another daemon, remove a stale one. */
static int ctl_prepare_path(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r = ctl_check_path(path, err, errlen);

	if (r < 0 || lstat(path, &st) < 0)
		return r;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (r == 0) {
		snprintf(err, errlen, "%s is in use by another process (is mconnd running?)", path);
		return -EADDRINUSE;
	}
	unlink(path);
	return 0;
}

static int ctl_create(struct ctl_server *c, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r = ctl_prepare_path(path, err, errlen);

	if (r < 0)
		return r;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0)
		return -errno;
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(c->listen_fd, 64) < 0) {
		r = -errno;
		snprintf(err, errlen, "control socket %s: %s", path, strerror(-r));
		return r;
	}
	c->path = strdup(path);
	return c->path ? 0 : -ENOMEM;
}

/* The control set reported events: answer whatever is ready, without waiting. A
 * second look answers a client accepted by the first, whose request is there. The
 * loop also calls this every LOOP_INTERLEAVE_EVERY session events of a long batch. */
static void ctl_on_ready(void *owner, uint32_t events, int64_t now)
{
	struct ctl_server *c = owner;
	struct epoll_event ev[CTL_MAX_CLIENTS + 1];

	(void)events;
	for (int round = 0; round < 2; round++) {
		int n = epoll_wait(c->epfd, ev, (int)ELEMENTSOF(ev), 0);

		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			ctl_handle_event(c, ev[i].data.u64, ev[i].events, now);
	}
	if (c->pending)
		loop_set_due(c->loop, c->slot, now);
}

/* The control handle's deadline: clients left pending by their budget, and once a
 * second the sweep of idle and stalled clients. */
static void ctl_on_due(void *owner, int64_t now)
{
	struct ctl_server *c = owner;

	/* After the turn's events: those that came in them while others waited have
	 * joined the line behind them. */
	ctl_run_pending(c, now);
	if (now >= c->next_sweep) {
		ctl_sweep(c, now);
		c->next_sweep = now + NSEC_PER_SEC;
	}
	loop_set_due(c->loop, c->slot, c->pending ? now : c->next_sweep);
}

/* The control server gets an epoll instance of its own, registered in the loop's: the
 * main ready list is a FIFO that a thousand busy sessions keep long, and a control
 * request queued behind them waited for all of them (status p50 38 ms under churn). */
static int ctl_register(struct ctl_server *c, struct loop *l)
{
	c->loop = l;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0)
		return -errno;
	c->slot = loop_add(l, "control", c->epfd, EPOLLIN, ctl_on_ready, ctl_on_due, c);
	if (c->slot < 0)
		return c->slot;
	loop_set_interleave(l, c->slot, true);
	c->next_sweep = now_ns() + NSEC_PER_SEC;
	loop_set_due(l, c->slot, c->next_sweep);
	return 0;
}

int ctl_open(struct ctl_server *c, const char *path, struct loop *loop, char *err,
	     size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = CTL_EVDATA_LISTEN };
	int r, n = sd_listen_fds(1);

	memset(c, 0, sizeof(*c));
	c->listen_fd = -1;
	c->slot = -1;
	/* The first turn, whichever number it has, gets its budget. */
	c->budget_turn = UINT64_MAX;
	r = ctl_register(c, loop);
	if (r < 0) {
		snprintf(err, errlen, "control socket: %s", strerror(-r));
		return r;
	}
	if (n == 1 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) > 0) {
		c->listen_fd = SD_LISTEN_FDS_START;
		c->activated = true;
		if (fcntl(c->listen_fd, F_SETFL, O_NONBLOCK) < 0 ||
		    fcntl(c->listen_fd, F_SETFD, FD_CLOEXEC) < 0)
			return -errno;
	} else {
		if (n > 0)
			log_msg(LOG_WARNING, "ignoring %d passed file descriptors: expected one UNIX stream socket", n);
		r = ctl_create(c, path, err, errlen);
		if (r < 0)
			return r;
	}
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->listen_fd, &ev) < 0) {
		r = -errno;
		snprintf(err, errlen, "epoll: %s", strerror(-r));
		return r;
	}
	return 0;
}

int ctl_set_access(struct ctl_server *c, unsigned mode, gid_t gid, char *err, size_t errlen)
{
	if (c->activated || !c->path)
		return 0;
	if (gid != (gid_t)-1 && chown(c->path, (uid_t)-1, gid) < 0) {
		snprintf(err, errlen, "control socket %s: cannot give it group %u: %s", c->path,
			 (unsigned)gid, strerror(errno));
		return -errno;
	}
	if (chmod(c->path, mode) < 0) {
		snprintf(err, errlen, "control socket %s: cannot set mode %04o: %s", c->path, mode,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

void ctl_stream_end(struct ctl_stream *st)
{
	free(st->cursor);
	*st = (struct ctl_stream){ 0 };
}

/* The one close path of a client. */
static void ctl_client_close(struct ctl_server *c, uint32_t slot)
{
	struct ctl_client *cl = c->clients[slot];

	if (!cl)
		return;
	close(cl->fd);
	buf_free(&cl->out);
	ctl_stream_end(&cl->stream);
	free(cl);
	c->clients[slot] = NULL;
	c->pending &= ~(1ull << slot);
	c->n_clients--;
}

void ctl_close(struct ctl_server *c)
{
	for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++)
		ctl_client_close(c, i);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->path && !c->activated)
		unlink(c->path);
	free(c->path);
	c->path = NULL;
	c->listen_fd = -1;
	if (c->loop)
		loop_remove(c->loop, c->slot);
	if (c->epfd >= 0)
		close(c->epfd);
	c->epfd = -1;
	c->slot = -1;
}

static const char ctl_busy_reply[] = "ERR busy\n\n";

/* Tell a client over the limit that we are busy, without waiting for it. */
static void ctl_reject(struct ctl_server *c, int fd)
{
	(void)!send(fd, ctl_busy_reply, sizeof(ctl_busy_reply) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	c->rejected_busy++;
}

/* A reply under way: output not yet written, or more slices to render. */
static bool ctl_client_replying(const struct ctl_client *cl)
{
	return cl->out.len > 0 || cl->stream.next != NULL;
}

/* What a client is doing with its slot, in the order in which a newcomer takes
 * slots when all are held (lowest first). */
enum ctl_hold {
	HOLD_IDLE,         /* Nothing asked, nothing owed. */
	HOLD_SILENT_OLD,   /* Said nothing for CTL_EVICT_GRACE since it connected. */
	HOLD_UNREAD,       /* Owes us reading its reply: the socket is full. */
	HOLD_PARTIAL,      /* Half a request line. */
	HOLD_SILENT_NEW,   /* Just connected; its request may be on its way. */
	HOLD_BUSY,         /* Its reply is flowing, or its request waits to be read. */
	HOLD_KEEP,         /* Waits for a deferred reply: never evicted. */
};

/* Classify a client for eviction, and say since when it has held its slot that way
 * (the oldest goes first). */
static enum ctl_hold ctl_client_hold(const struct ctl_server *c, uint32_t slot, int64_t now,
				     int64_t *ret_since)
{
	const struct ctl_client *cl = c->clients[slot];
	int unread = 0;

	*ret_since = cl->last_active;
	if (cl->deferred)
		return HOLD_KEEP;
	if (ctl_client_replying(cl) || (c->pending & (1ull << slot)))
		return cl->writable || (c->pending & (1ull << slot)) ? HOLD_BUSY : HOLD_UNREAD;
	if (cl->in_len) {
		*ret_since = cl->line_since;
		return HOLD_PARTIAL;
	}
	if (ioctl(cl->fd, FIONREAD, &unread) < 0 || unread > 0)
		return HOLD_BUSY;
	if (cl->spoke)
		return HOLD_IDLE;
	*ret_since = cl->connected_at;
	return now - cl->connected_at >= CTL_EVICT_GRACE ? HOLD_SILENT_OLD : HOLD_SILENT_NEW;
}

/* How many slots the process behind slot holds. */
static unsigned ctl_peer_slots(const struct ctl_server *c, uint32_t slot)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++)
		n += c->clients[i] && c->clients[i]->pid == c->clients[slot]->pid;
	return n;
}

/* Which of two candidates a newcomer displaces: the lower hold; among equals the one
 * whose process holds more slots (a flood from one process pays for itself, not a
 * client that is a little slow to send its request); then the one that has held its
 * slot that way longest. */
struct ctl_victim {
	enum ctl_hold hold;
	unsigned peer_slots;
	int64_t since;
};

static bool ctl_victim_before(const struct ctl_victim *a, const struct ctl_victim *b)
{
	if (a->hold != b->hold)
		return a->hold < b->hold;
	if (a->peer_slots != b->peer_slots)
		return a->peer_slots > b->peer_slots;
	return a->since < b->since;
}

/* With every slot taken, make room for a newcomer by closing the client that does the
 * least with its slot (ctl_victim_before()): no local client can lock others out by
 * holding slots. Clients of root and mconnd's own user are taken by others only when
 * idle or silent; a client waiting for a deferred reply never. Returns the slot
 * freed, or CTL_MAX_CLIENTS (ERR busy). */
static uint32_t ctl_evict(struct ctl_server *c, bool privileged, int64_t now)
{
	struct ctl_victim best_v = { .hold = HOLD_KEEP };
	enum ctl_hold best_hold = HOLD_KEEP;
	uint32_t best = CTL_MAX_CLIENTS;

	for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct ctl_victim v;

		if (!c->clients[i])
			continue;
		v.hold = ctl_client_hold(c, i, now, &v.since);
		if (v.hold == HOLD_KEEP ||
		    (c->clients[i]->privileged && !privileged && v.hold > HOLD_SILENT_OLD))
			continue;
		v.peer_slots = ctl_peer_slots(c, i);
		if (best == CTL_MAX_CLIENTS || ctl_victim_before(&v, &best_v)) {
			best = i;
			best_v = v;
		}
	}
	best_hold = best_v.hold;
	if (best < CTL_MAX_CLIENTS) {
		/* One that has not had its answer yet is told why it has none. */
		if (best_hold != HOLD_IDLE && !ctl_client_replying(c->clients[best]))
			(void)!send(c->clients[best]->fd, ctl_busy_reply, sizeof(ctl_busy_reply) - 1,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
		ctl_client_close(c, best);
		c->evicted++;
	}
	return best;
}

/* Take a new connection into a slot; returns the slot or CTL_MAX_CLIENTS. */
static uint32_t ctl_add_client(struct ctl_server *c, int epfd, int fd, int64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof(cred);
	struct ctl_client *cl;
	uint32_t slot = 0;
	bool privileged;

	(void)getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
	privileged = cred.uid == 0 || cred.uid == geteuid();
	while (slot < CTL_MAX_CLIENTS && c->clients[slot])
		slot++;
	if (slot == CTL_MAX_CLIENTS)
		slot = ctl_evict(c, privileged, now);
	cl = slot < CTL_MAX_CLIENTS ? calloc(1, sizeof(*cl)) : NULL;
	if (!cl) {
		ctl_reject(c, fd);
		return CTL_MAX_CLIENTS;
	}
	cl->fd = fd;
	cl->writable = true;
	cl->uid = cred.uid;
	cl->gid = cred.gid;
	cl->pid = cred.pid;
	cl->privileged = privileged;
	/* The clock of this very accept, not the turn's: clients accepted in one burst
	 * are told apart by age, and the newest is the last a newcomer displaces. */
	cl->connected_at = now_ns();
	cl->last_active = MAX(now, cl->connected_at);
	buf_init(&cl->out, CTL_MAX_REPLY);
	ev.data.u64 = CTL_EVDATA_CLIENT(slot, ++c->gen[slot]);
	c->clients[slot] = cl;
	c->n_clients++;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ctl_client_close(c, slot);
		return CTL_MAX_CLIENTS;
	}
	return slot;
}

static void ctl_client_event(struct ctl_server *c, uint32_t slot, uint32_t events, int64_t now);

/* Accept every waiting connection, and answer a request that came with it at once:
 * a newcomer does not wait for its first event, in which a flood of others could
 * have taken its slot again. */
static void ctl_accept(struct ctl_server *c, int64_t now)
{
	for (;;) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		uint32_t slot;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_msg(LOG_WARNING, "control socket accept: %s", strerror(errno));
			return;
		}
		slot = ctl_add_client(c, c->epfd, fd, now);
		if (slot < CTL_MAX_CLIENTS)
			ctl_client_event(c, slot, 0, now);
	}
}

/* Whether a client with something to answer or render must wait on the pending list:
 * outside the pending round, while others wait there. A client whose news came in
 * this turn's events goes behind those that waited from earlier turns; served first,
 * a few busy clients would take every turn's budget from them for as long as they
 * kept asking. */
static bool ctl_must_queue(const struct ctl_server *c, uint32_t slot)
{
	return !c->serving_pending && (c->pending & ~(1ull << slot)) != 0;
}

/* Render the next slice of the client's long reply within the turn's budget: 1 done,
 * 0 when the budget is spent (the client waits on the pending list), -ENOBUFS. */
static int ctl_client_render(struct ctl_server *c, uint32_t slot)
{
	struct ctl_client *cl = c->clients[slot];

	if (c->turn_budget == 0 || ctl_must_queue(c, slot)) {
		c->pending |= 1ull << slot;
		return 0;
	}
	if (cl->stream.next(c->owner, cl->stream.cursor, &cl->out, CTL_SLICE_BYTES)) {
		ctl_stream_end(&cl->stream);
		buf_printf(&cl->out, "\n");
	}
	if (cl->out.overflow)
		return -ENOBUFS;
	c->turn_budget -= MIN(c->turn_budget, cl->out.len);
	return 1;
}

/* Write pending output, rendering the next slice of a long reply each time the last
 * one is out, until the reply is done, the socket is full or the turn's budget is
 * spent; -errno drops the client. */
static int ctl_client_flush(struct ctl_server *c, uint32_t slot, int64_t now)
{
	struct ctl_client *cl = c->clients[slot];

	while (cl->writable) {
		ssize_t n;

		if (cl->out.len == 0 && cl->stream.next) {
			int r = ctl_client_render(c, slot);

			if (r <= 0)
				return r;
		}
		if (cl->out.len == 0)
			break;
		n = send(cl->fd, buf_unread(&cl->out), buf_unread_len(&cl->out),
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN) {
			cl->writable = false;
			break;
		}
		if (n < 0)
			return -errno;
		buf_consume(&cl->out, (size_t)n);
		cl->last_active = now;
		if (!ctl_client_replying(cl))
			cl->line_since = cl->in_len ? now : 0;
	}
	if (cl->out.len == 0 && cl->out.cap > (size_t)CTL_SLICE_BYTES * 2)
		buf_free(&cl->out);
	return 0;
}

/* Sum the memory every client's reply buffer holds (its capacity, which a reply
 * keeps until it is fully sent). */
static size_t ctl_output_pending(const struct ctl_server *c)
{
	size_t n = 0;

	for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->clients[i])
			n += c->clients[i]->out.cap;
	return n;
}

/* Answer one complete request line while no reply is pending; returns true when it
 * did. At EOF an unterminated last line counts as a request. With the turn's answers
 * or bytes spent, the request waits for the next turn on the pending list. */
static bool ctl_client_answer(struct ctl_server *c, uint32_t slot, int64_t now)
{
	struct ctl_client *cl = c->clients[slot];
	char *nl;
	size_t used;

	if (ctl_client_replying(cl) || cl->want_close || cl->deferred)
		return false;
	if (cl->eof && cl->in_len > 0 && cl->in_len < CTL_MAX_LINE &&
	    !memchr(cl->in, '\n', cl->in_len))
		cl->in[cl->in_len++] = '\n';
	nl = memchr(cl->in, '\n', cl->in_len);
	if (!nl) {
		if (cl->in_len < CTL_MAX_LINE)
			return false;
		buf_printf(&cl->out, "ERR line too long (at most %d bytes)\n\n", CTL_MAX_LINE - 1);
		cl->want_close = true;
		return true;
	}
	if (c->turn_answers == 0 || c->turn_budget == 0 || ctl_must_queue(c, slot)) {
		c->pending |= 1ull << slot;
		return false;
	}
	c->turn_answers--;
	used = (size_t)(nl - cl->in) + 1;
	*nl = '\0';
	if (ctl_output_pending(c) > CTL_OUTPUT_BUDGET)
		buf_printf(&cl->out, "ERR busy: too many replies waiting to be read; try again\n\n");
	else
		c->dispatch(c->owner, cl, cl->in, used - 1, &cl->out, &cl->stream);
	c->turn_budget -= MIN(c->turn_budget, cl->out.len);
	memmove(cl->in, cl->in + used, cl->in_len - used);
	cl->in_len -= used;
	cl->last_active = now;
	cl->line_since = cl->in_len ? now : 0;
	return true;
}

/* Read until the socket is drained (1), the line buffer is full (0), or EOF (-1). */
static int ctl_client_read(struct ctl_client *cl, int64_t now)
{
	while (cl->in_len < CTL_MAX_LINE) {
		ssize_t n = recv(cl->fd, cl->in + cl->in_len, CTL_MAX_LINE - cl->in_len, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 1;
		if (n <= 0)
			return -1;
		cl->in_len += (size_t)n;
		cl->spoke = true;
		if (cl->line_since == 0)
			cl->line_since = now;
	}
	return 0;
}

/* Read, answer and write while the client has requests and takes replies, at most
 * CTL_REQUESTS_PER_TURN requests per call: a client with more, or with a long reply
 * the turn's budget did not cover, waits on the pending list for the loop's next
 * turn, so no client can hold the loop. */
static void ctl_client_event(struct ctl_server *c, uint32_t slot, uint32_t events, int64_t now)
{
	struct ctl_client *cl = c->clients[slot];
	uint64_t bit = 1ull << slot;
	unsigned budget = CTL_REQUESTS_PER_TURN;
	bool drained = false, answered;

	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		cl->writable = true;
	/* A client waiting for a deferred reply stays through a half close (the reply
	 * can still go out), not when it is gone altogether. */
	if (cl->deferred && (events & (EPOLLERR | EPOLLHUP)))
		goto close;
	for (;;) {
		if (!ctl_client_replying(cl) && !drained && !cl->eof) {
			int r = ctl_client_read(cl, now);

			cl->eof = r < 0;
			drained = r > 0;
		}
		answered = ctl_client_answer(c, slot, now);
		if (ctl_client_flush(c, slot, now) < 0)
			break;
		if (ctl_client_replying(cl) || cl->deferred || (c->pending & bit))
			return;
		if (cl->want_close)
			break;
		if (answered && --budget == 0) {
			c->pending |= bit;
			c->spent |= bit;
			return;
		}
		/* A reply flushed just now may have held back a request already read. */
		if (answered || (cl->eof ? cl->in_len > 0 : memchr(cl->in, '\n', cl->in_len) != NULL))
			continue;
		if (cl->eof)
			break;
		if (drained)
			return;
	}
close:
	ctl_client_close(c, slot);
}

/* Return the slot of the client whose deferred reply has this ticket, or
 * CTL_MAX_CLIENTS. */
static uint32_t ctl_ticket_slot(const struct ctl_server *c, uint64_t ticket)
{
	for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++)
		if (ticket && c->clients[i] && c->clients[i]->deferred == ticket)
			return i;
	return CTL_MAX_CLIENTS;
}

uint64_t ctl_defer(struct ctl_server *c, const struct ctl_client *cl)
{
	for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++) {
		if (c->clients[i] != cl)
			continue;
		c->clients[i]->deferred = ++c->last_ticket;
		c->clients[i]->deferred_at = now_ns();
		return c->last_ticket;
	}
	return 0;
}

/* Queue a deferred client's reply and have the next turn send it and go on with the
 * requests that waited behind it. */
static void ctl_client_resume(struct ctl_server *c, uint32_t slot, const char *reply,
			      size_t len, int64_t now)
{
	struct ctl_client *cl = c->clients[slot];

	if (buf_append(&cl->out, reply, len) < 0) {
		cl->out.len = cl->out.head = 0;
		cl->out.overflow = false;
		buf_printf(&cl->out, "ERR reply too large\n\n");
	}
	cl->deferred = 0;
	cl->last_active = now;
	cl->line_since = cl->in_len ? now : 0;
	c->pending |= 1ull << slot;
	/* The control handle's deadline runs the pending clients. */
	if (c->loop && c->slot >= 0)
		loop_set_due(c->loop, c->slot, 0);
}

bool ctl_complete(struct ctl_server *c, uint64_t ticket, const char *reply, size_t len)
{
	uint32_t slot = ctl_ticket_slot(c, ticket);

	if (slot == CTL_MAX_CLIENTS)
		return false;
	ctl_client_resume(c, slot, reply, len, now_ns());
	return true;
}

/* Count the time since start as the control server's. */
static void ctl_account(struct ctl_server *c, int64_t start)
{
	int64_t took = now_ns() - start;

	c->busy_ns += took;
	c->busy_max_ns = MAX(c->busy_max_ns, took);
}

/* Each loop turn gives the control server a new budget of slices and answers. */
static void ctl_budget_refresh(struct ctl_server *c)
{
	uint64_t turn = c->loop ? c->loop->stats.turns : 0;

	if (turn == c->budget_turn)
		return;
	c->budget_turn = turn;
	c->spent = 0;
	c->turn_budget = CTL_TURN_BYTES;
	c->turn_answers = CTL_ANSWERS_PER_TURN;
}

void ctl_handle_event(struct ctl_server *c, uint64_t data, uint32_t events, int64_t now)
{
	uint32_t slot = (uint32_t)(data & 0xffu);
	int64_t start = now_ns();

	ctl_budget_refresh(c);
	if (data == CTL_EVDATA_LISTEN) {
		ctl_accept(c, now);
	} else if (slot >= CTL_MAX_CLIENTS || !c->clients[slot] ||
		   CTL_EVDATA_CLIENT(slot, c->gen[slot]) != data) {
		/* An event for a client that left in this batch, maybe for a new one in
		 * its slot. */
		return;
	} else if (c->pending & (1ull << slot)) {
		/* A client that used its budget this turn goes on in the next one, from
		 * the pending list; only remember what the event says. */
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			c->clients[slot]->writable = true;
		return;
	} else {
		ctl_client_event(c, slot, events, now);
	}
	ctl_account(c, start);
}

void ctl_run_pending(struct ctl_server *c, int64_t now)
{
	uint64_t pending = c->pending;
	uint32_t first = c->next_pending;
	int64_t start = now_ns();

	ctl_budget_refresh(c);
	if (!pending)
		return;
	c->pending = 0;
	c->serving_pending = true;
	/* Round robin: the clients served go to the back of the line, so each one with a
	 * long reply gets its slice in turn whatever its slot. */
	for (uint32_t k = 0; k < CTL_MAX_CLIENTS; k++) {
		uint32_t i = (first + k) % CTL_MAX_CLIENTS;

		if (!(pending & (1ull << i)) || !c->clients[i])
			continue;
		if (c->turn_budget == 0 || c->turn_answers == 0 || (c->spent & (1ull << i))) {
			c->pending |= 1ull << i;
			continue;
		}
		ctl_client_event(c, i, 0, now);
		c->next_pending = (i + 1) % CTL_MAX_CLIENTS;
	}
	c->serving_pending = false;
	ctl_account(c, start);
}

/* Pick up connections an fd shortage left in the backlog, and drop clients that are
 * idle, that do not read their reply, or that take too long to send a request line. */
void ctl_sweep(struct ctl_server *c, int64_t now)
{
	ctl_budget_refresh(c);
	ctl_accept(c, now);
	for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct ctl_client *cl = c->clients[i];
		bool replying;

		if (!cl)
			continue;
		if (cl->deferred) {
			char expired[64];
			int n = snprintf(expired, sizeof(expired), "ERR no reply within %llds\n\n",
					 (long long)(CTL_DEFER_MAX / NSEC_PER_SEC));

			if (now - cl->deferred_at > CTL_DEFER_MAX)
				ctl_client_resume(c, i, expired, (size_t)n, now);
			continue;
		}
		replying = ctl_client_replying(cl);
		if ((replying && now - cl->last_active > c->io_timeout) ||
		    (cl->line_since && !replying && now - cl->line_since > c->io_timeout) ||
		    now - cl->last_active > c->idle_timeout) {
			c->timed_out++;
			ctl_client_close(c, i);
		}
	}
}
