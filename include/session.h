/* The echo session: one connection's life as a state machine driven by events and
 * time. All I/O goes through a table of function pointers and the clock is a
 * parameter, so unit tests drive it with scripted I/O and no sockets. */
#ifndef MCONN_SESSION_H
#define MCONN_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct target;
struct tls_conn;
struct target_conf;
struct timer_heap;

enum session_state {
	SESS_IDLE,       /* No connection; the timer starts the next cycle. */
	SESS_CONNECTING, /* connect() in progress. */
	SESS_HANDSHAKE,  /* TLS: connected, the handshake under way. */
	SESS_EXCHANGING, /* Sending message k and reading its echo. */
	SESS_HOLDING,    /* Persistent mode: connected, waiting for the next cycle. */
	SESS_STOPPED,    /* Retired or paused: no fd, no timer. */
	_SESS_STATE_MAX,
};

/* Failure classes, named the same in status, JSON, metrics and logs. */
enum session_error {
	SERR_NONE,
	SERR_REFUSED,
	SERR_CONNECT_TIMEOUT,
	SERR_TIMEOUT,
	SERR_RESET,
	SERR_EOF,
	SERR_MISMATCH,
	SERR_UNREACHABLE,
	SERR_RESOURCE,
	SERR_LOSS, /* UDP: a datagram's echo did not come back within timeout. */
	SERR_TLS,  /* TLS: the handshake or the verification failed. */
	_SERR_MAX,
};

enum session_event {
	SEV_TIMER, /* The session's deadline passed. */
	SEV_IO,    /* The fd reported readiness; see the ready flags. */
	SEV_STOP,  /* Close everything and stop. */
	_SEV_MAX,
};

/* Where a failed connect attempt failed, for classification. */
enum io_phase {
	PHASE_SOCKET,
	PHASE_BIND,
	PHASE_CONNECT,
	PHASE_EXCHANGE,
	PHASE_DATAGRAM, /* UDP: sending or receiving a datagram. */
};

#define SESS_READY_IN 0x1u
#define SESS_READY_OUT 0x2u
/* The peer's FIN (or an error) was signalled: reads go on to EOF, a short one does
 * not mean the socket is empty of news. */
#define SESS_READY_HUP 0x4u

/* A session's own rise/fall verdict and its recent results, kept by target.c: eight
 * bytes per session. */
struct sess_health {
	uint16_t recent;  /* The last results, newest in bit 0; 1 for a failure. */
	int16_t run;      /* Consecutive successes (> 0) or failures (< 0). */
	uint8_t n_recent; /* Results held in recent, at most 16. */
	uint8_t verdict;  /* HEALTH_UNKNOWN, HEALTH_UP or HEALTH_DOWN. */
	uint8_t starved;  /* The last attempt found no local fd, port or memory. */
};

/* What TCP_INFO says of a connection: smoothed RTT and its variation in us, and the
 * segments it retransmitted in all (tcpi_total_retrans). */
struct sess_tcp {
	uint32_t rtt_us;
	uint32_t rttvar_us;
	uint32_t total_retrans;
};

/* A deadline this late or later was held up by mconnd itself. */
#define SESS_LATE_NS ((int64_t)1000 * 1000)
/* A kernel-stamped exchange may come out this much longer than the loop's clock says
 * (the loop reads its clock just before send()); beyond it a stamp is not believed. */
#define SESS_STAMP_SLACK_NS ((int64_t)1000 * 1000)
/* A step gets a late deadline's time back at most this many times. */
#define SESS_MAX_GRACES 3

struct session {
	struct target *target;
	/* The configuration of the cycle under way (a reference), NULL between cycles. */
	struct target_conf *conf;
	int64_t cycle_start;
	int64_t connected_at;
	int64_t last_latency;
	uint64_t cycles_ok;
	uint64_t cycles_failed;
	int fd;
	uint32_t id;
	uint32_t gen;
	/* Offsets in the current message, at most CONFIG_MAX_MESSAGE_BYTES. */
	uint16_t sent;
	uint16_t recvd;
	/* Consecutive failed cycles, held at UINT8_MAX (backoff is capped long before). */
	uint8_t fails;
	/* Late deadlines given back to the step under way (session_deadline), at most
	 * SESS_MAX_GRACES; a bit-field beside the state keeps a session at 88 bytes. */
	uint8_t graces : 4;
	uint8_t state : 4;
	uint8_t ready;
	uint8_t msg;
	uint8_t last_result;
	/* UDP: echoes the previous cycle got back, to tell its duplicates from late ones. */
	uint8_t udp_prev;
	int16_t last_errno;
	struct sess_health health;
	/* Kernel timing of the cycle under way (session_stamp_*): when the current
	 * message's first bytes went to send() (loop clock) and their kernel TX stamp and
	 * the last echo read's kernel RX stamp (both CLOCK_REALTIME ns, 0 for none), the
	 * exchange time of the messages done, and the connect time. */
	int64_t send_at;
	int64_t tx_stamp;
	int64_t rx_stamp;
	int64_t exchange_ns;
	int64_t connect_ns;
	/* Bytes sent on this connection (the kernel's OPT_ID counter) and the key of the
	 * TX stamp of the current message's first send. */
	uint32_t tx_bytes;
	uint32_t tx_key;
	/* The kernel's view of the path at the last cycle's end (TCP_INFO), and the
	 * retransmits of the connection now open counted so far. */
	struct sess_tcp tcp;
	uint32_t retrans_seen;
	/* TLS: the connection's SSL and the session kept for resumption (tls.c), NULL
	 * before the first TLS cycle. */
	struct tls_conn *tls;
};

/* What one cycle came to. Durations in ns; connect_ns is -1 when no connect happened. */
struct session_result {
	enum session_error err;
	int err_no;
	int64_t connect_ns;
	int64_t cycle_ns;
	/* Segments retransmitted during the cycle (TCP_INFO; 0 without it). */
	uint32_t retransmits;
	/* True when cycle_ns and connect_ns come from the kernel's clock (timestamps and
	 * TCP_INFO), false when from the loop's. */
	bool kernel_timed;
	/* What the kernel said of the error beyond errno (an ICMP message), or NULL. */
	const char *detail;
	/* TLS: whether a handshake finished in the cycle, its time (ns), whether it
	 * resumed a session, and the peer certificate's notAfter (unix seconds; 0: none
	 * read). */
	bool handshake;
	bool resumed;
	int64_t handshake_ns;
	int64_t cert_not_after;
};

/* The I/O a session does; the real table lives in sockio.c. Returns are -errno. */
struct session_io {
	/* Open a socket for s and start connecting: 0 connected, -EINPROGRESS, or -errno. */
	int (*connect)(void *ctx, struct session *s, const struct target_conf *tc,
		       enum io_phase *ret_phase);
	/* Return the outcome of a connect to tc that was in progress, given the readiness
	 * seen (SESS_READY_* bits): 0 or -errno. */
	int (*connect_result)(void *ctx, int fd, const struct target_conf *tc, unsigned ready);
	/* Send up to n bytes: the count sent or -errno (-EAGAIN when full). */
	ssize_t (*send)(void *ctx, int fd, const void *p, size_t n);
	/* Receive up to n bytes: the count, 0 at EOF, or -errno. */
	ssize_t (*recv)(void *ctx, int fd, void *p, size_t n);
	/* Close fd, abortively when rst is true. */
	void (*close)(void *ctx, int fd, bool rst);
	/* Return the readiness fd has now, as SESS_READY_* bits, without waiting. */
	unsigned (*ready)(void *ctx, int fd);
	/* Optional, the kernel's timing (NULL: the loop's clock times the cycle). Receive
	 * as recv does and, when the kernel stamped the data, put its RX time
	 * (CLOCK_REALTIME ns) in *ret_stamp. */
	ssize_t (*recv_stamped)(void *ctx, int fd, void *p, size_t n, int64_t *ret_stamp);
	/* Read fd's error queue and return the TX stamp (CLOCK_REALTIME ns) whose OPT_ID
	 * key is key, or -1 when none came; stamps of other keys are dropped. */
	int64_t (*tx_stamp)(void *ctx, int fd, uint32_t key);
	/* Fill *ret with fd's TCP_INFO: 0 or -errno. */
	int (*tcp_info)(void *ctx, int fd, struct sess_tcp *ret);
	/* After an error on a UDP socket: say what the kernel queued about it (an ICMP
	 * message and who sent it) into out and return out, or NULL when nothing was
	 * queued; empties the socket's error queue. May be NULL. */
	const char *(*error_detail)(void *ctx, int fd, char *out, size_t n);
	/* Optional: acknowledge what fd received now rather than when the delayed-ACK
	 * timer fires (a partial echo: the peer's Nagle may hold the rest for it). */
	void (*ack_now)(void *ctx, int fd);
};

/* Everything a session needs from its owner. */
struct session_env {
	const struct session_io *io;
	void *io_ctx;
	struct timer_heap *timers;
	/* Account a finished cycle; returns the pause before the session's next cycle. */
	int64_t (*on_result)(struct session_env *env, struct session *s,
			     const struct session_result *res, int64_t now);
	uint8_t *scratch;
	size_t scratch_len;
};

/* Put s in IDLE with its first cycle due at first_due. */
void session_init(struct session *s, struct session_env *env, struct target *t, uint32_t id,
		  int64_t first_due);

/* Feed one event to the machine; -EBADE when the event makes no sense in this state. */
int session_handle(struct session *s, struct session_env *env, enum session_event ev,
		   int64_t now);

/* The deadline armed for due fired at now: the same as SEV_TIMER, except that a cycle
 * whose deadline fired late (mconnd was held up) and whose socket shows nothing yet
 * gets the time lost back (at most one timeout each time, SESS_MAX_GRACES times a
 * step) before it fails. -EBADE for a stopped session. */
int session_deadline(struct session *s, struct session_env *env, int64_t due, int64_t now);

/* The loop did not run for lost ns (stopped or starved) and runs again at now: a
 * cycle under way started that much later as far as its peer could tell, and a
 * request sent just before the stop may have reached the peer only now, so the step
 * under way gets at least its whole budget (connect or exchange timeout) from now.
 * The loop has already moved the deadlines on by lost. Nothing for a waiting session. */
void session_stalled(struct session *s, struct session_env *env, int64_t lost, int64_t now);

/* Map an errno from a phase to a failure class. */
enum session_error session_classify(int err, enum io_phase phase);

/* Return the name of a state ("idle", "connecting", ...). */
const char *session_state_name(enum session_state st);

/* Return the name of a failure class ("refused", ...; "ok" for SERR_NONE). */
const char *session_error_name(enum session_error e);

#endif
