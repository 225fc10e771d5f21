/* The control server: a UNIX stream socket, non-blocking clients with bounded input
 * and output, idle timeouts, all driven by the daemon's epoll loop. Long replies are
 * rendered a slice at a time as the client's socket drains; when every slot is taken,
 * a newcomer takes the slot of the client that does the least with it. */
#ifndef MCONN_CTL_H
#define MCONN_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "loop.h"
#include "proto.h"
#include "util.h"

struct ctl_client;

/* A reply rendered a slice at a time as its client's socket drains. */
struct ctl_stream {
	/* Append the next slice of the reply body to out, rows until at least max bytes;
	 * true when the body is done (the control server then ends the reply with its
	 * empty line). NULL: none. */
	bool (*next)(void *owner, void *cursor, struct buf *out, size_t max);
	/* Where the reply is; malloc'ed, freed with free() when the reply ends. */
	void *cursor;
};

/* Run one request line of len bytes (a NUL after them) and append the framed reply to
 * out; a long one only its first slice, setting *stream for the rest. */
typedef void (*ctl_dispatch_fn)(void *owner, const struct ctl_client *c, char *line, size_t len,
				struct buf *out, struct ctl_stream *stream);

#define CTL_MAX_CLIENTS 64
/* Requests one client may have answered per loop turn before others get a go. */
#define CTL_REQUESTS_PER_TURN 4
/* Replies waiting in all clients' buffers beyond which new requests get ERR busy.
 * Sliced replies hold at most a slice each, so only many large unsliced ones could. */
#define CTL_OUTPUT_BUDGET (64u << 20)
/* A client that has sent nothing yet is evicted for a newcomer only after those with
 * a partial line or an unread reply, until it is this old. */
#define CTL_EVICT_GRACE (1 * NSEC_PER_SEC)
/* The longest a deferred reply may take (a reload waits at most 60 s for names):
 * until then its client is neither evicted nor timed out; past it the client gets
 * "ERR no reply within 90s" and the ticket is void. */
#define CTL_DEFER_MAX (CTL_DEFER_MAX_S * NSEC_PER_SEC)
/* A long reply is rendered in slices of about this many bytes (the slice ends after
 * the row or target that passes it), each once the one before has been sent. */
#define CTL_SLICE_BYTES (32u << 10)
/* The first slice of a reply is rendered with the request and is smaller: a short
 * reply (a status of a few targets) goes out at once, and answering many requests in
 * one turn costs little. */
#define CTL_FIRST_SLICE_BYTES (4u << 10)
/* What the control server renders in one loop turn across all its clients (first
 * slices and the rest), and how many requests it answers: a client beyond that goes
 * on in the next turn, in turn with the others. */
#define CTL_TURN_BYTES (64u << 10)
#define CTL_ANSWERS_PER_TURN 32

/* epoll data for the listening socket and for client slot i in its generation g: a
 * slot closed and reused within one epoll batch does not get its old events. These
 * live in the control server's own epoll set, nested in the loop's. */
#define CTL_EVDATA_LISTEN (LOOP_DATA_HANDLE | 1u)
#define CTL_EVDATA_CLIENT(i, g) (LOOP_DATA_HANDLE | 0x100u | (uint64_t)(i) | ((uint64_t)(g) << 16))

struct ctl_client {
	int fd;
	bool want_close;
	bool eof;
	bool writable;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	/* Root or mconnd's own user: evicted only by its like, or when idle. */
	bool privileged;
	bool spoke;
	int64_t connected_at;
	int64_t last_active;
	int64_t line_since;
	/* The ticket of the reply this client waits for (ctl_defer), or 0. */
	uint64_t deferred;
	int64_t deferred_at;
	size_t in_len;
	char in[CTL_MAX_LINE + 1];
	struct buf out;
	struct ctl_stream stream;
};

struct ctl_server {
	int listen_fd;
	/* The epoll instance the listener and the clients are registered with, itself a
	 * handle (slot) of the loop. */
	int epfd;
	struct loop *loop;
	int slot;
	int64_t next_sweep;
	ctl_dispatch_fn dispatch;
	void *owner;
	bool activated;
	char *path;
	uint32_t n_clients;
	/* Clients waiting for their go: a request or a slice the turn's budget did not
	 * cover, a deferred reply that came, or a request that came while others waited
	 * (it joins the line, not jumps it). Of them, those that had their
	 * CTL_REQUESTS_PER_TURN this turn, and go on in the next. */
	uint64_t pending;
	uint64_t spent;
	/* Set while the pending clients are served, in their order. */
	bool serving_pending;
	uint64_t rejected_busy;
	uint64_t timed_out;
	uint64_t evicted;
	int64_t idle_timeout;
	int64_t io_timeout;
	uint64_t last_ticket;
	/* Bytes of sliced replies and answers this loop turn may still give, the turn
	 * they are for, and the slot the pending clients are taken from next, so that
	 * each gets its go in turn. */
	size_t turn_budget;
	unsigned turn_answers;
	uint64_t budget_turn;
	uint32_t next_pending;
	/* Time the control server has spent in all (accepting, reading, rendering,
	 * writing) and the most one call into it took. */
	int64_t busy_ns;
	int64_t busy_max_ns;
	uint32_t gen[CTL_MAX_CLIENTS];
	struct ctl_client *clients[CTL_MAX_CLIENTS];
};

/* Check that path can hold our socket: its directory exists and is not writable by
 * others, and nothing but a socket is there. 0, or -errno with a message. */
int ctl_check_path(const char *path, char *err, size_t errlen);

/* Take a socket-activated listener or create path, and register with the loop;
 * returns 0 or -errno with a message. Set dispatch and owner before the first turn. */
int ctl_open(struct ctl_server *c, const char *path, struct loop *loop, char *err,
	     size_t errlen);

/* Give a socket we created its mode and group (gid -1: leave it); a socket passed by
 * systemd keeps what the .socket unit chose. 0, or -errno with a message. */
int ctl_set_access(struct ctl_server *c, unsigned mode, gid_t gid, char *err, size_t errlen);

/* Close every client and the listener; unlinks the path unless socket-activated. */
void ctl_close(struct ctl_server *c);

/* In a command handler: the reply to this client's request will come later, through
 * ctl_complete(); returns the ticket for it (never 0). Until then the client gets no
 * other reply (its further requests wait, in order), and it is neither evicted nor
 * timed out for up to CTL_DEFER_MAX. */
uint64_t ctl_defer(struct ctl_server *c, const struct ctl_client *cl);

/* Give the deferred reply of ticket: len bytes, already framed ("OK\n...\n\n" or
 * "ERR ...\n\n"), sent as the socket drains like any reply. Returns false when that
 * client has gone (or the ticket ran out): the reply is dropped. Call it from a later
 * loop turn, never from inside the handler that deferred. */
bool ctl_complete(struct ctl_server *c, uint64_t ticket, const char *reply, size_t len);

/* Free a stream's cursor and clear it; safe on a cleared stream. */
void ctl_stream_end(struct ctl_stream *st);

/* Handle an event of the control set (the listener or a client). */
void ctl_handle_event(struct ctl_server *c, uint64_t data, uint32_t events, int64_t now);

/* Go on with clients that had more requests, or more reply, than one turn allows. */
void ctl_run_pending(struct ctl_server *c, int64_t now);

/* Drop clients idle for idle_timeout, or stalled (a reply not read, a request line
 * not finished) for io_timeout. */
void ctl_sweep(struct ctl_server *c, int64_t now);

#endif
