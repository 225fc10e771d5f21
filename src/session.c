/* The echo session state machine: connect without blocking, send each message and
 * verify its echo byte by byte as it arrives, close (or hold, in persistent mode),
 * wait, and again. Every state change goes through session_enter(). A UDP session
 * runs the same states over a connected UDP socket: each message is one datagram,
 * each echo is one datagram matched whole (udpecho.c), and an echo that does not
 * come back within timeout is a loss. A TLS session connects as TCP does, then runs
 * the handshake (SESS_HANDSHAKE) and sends and reads each message through its SSL
 * (tls.c); its cycles are timed by the loop's clock. */
#include <errno.h>
#include <string.h>

#include "config.h"
#include "proto.h"
#include "session.h"
#include "target.h"
#include "timer.h"
#include "tls.h"
#include "udpecho.h"
#include "util.h"

/* Datagrams a UDP session reads in one go: a peer that floods it cannot hold the
 * loop; what is left is read at the next arrival or at the deadline's last look. */
#define SESS_UDP_BUDGET 64

static const char *const state_names[] = { "idle", "connecting", "handshake", "exchanging",
					   "holding", "stopped" };

/* TLS: what the last SSL call of a kind waited for (SESS_READY_IN or _OUT), kept in
 * the ready byte's high bits, two for reads and two for writes and the handshake; 0
 * when the next call of that kind may go at once. A read that waits for input does
 * not hold up a write, which may go on meanwhile. */
#define SESS_TLS_READ 4
#define SESS_TLS_WRITE 6
_Static_assert(PROTO_N_RESULTS == _SERR_MAX, "one result name per failure class and ok");
_Static_assert(CONFIG_MAX_MESSAGE_BYTES <= UINT16_MAX, "a message offset fits a session's 16 bits");
_Static_assert(_SESS_STATE_MAX <= 16 && SESS_MAX_GRACES < 16, "state and graces fit their 4 bits");
_Static_assert(CONFIG_MAX_MESSAGES <= UINT8_MAX, "a message index fits msg and udp_prev");

const char *session_state_name(enum session_state st)
{
	return st < _SESS_STATE_MAX ? state_names[st] : "?";
}

const char *session_error_name(enum session_error e)
{
	return e < _SERR_MAX ? proto_result_names[e] : "?";
}

enum session_error session_classify(int err, enum io_phase phase)
{
	/* What an ICMP error reported to a connected UDP socket turns into. */
	if (phase == PHASE_DATAGRAM) {
		switch (err) {
		case EHOSTUNREACH:
		case ENETUNREACH:
		case EHOSTDOWN:
		case ENONET:
		case EMSGSIZE:
		case EACCES:
		case EPERM:
			return SERR_UNREACHABLE;
		case EAGAIN:
			/* The socket's send buffer is full: ours, not the target's. */
			return SERR_RESOURCE;
		default:
			break;
		}
	}
	switch (err) {
	case ECONNREFUSED:
		return SERR_REFUSED;
	case ETIMEDOUT:
		return phase == PHASE_EXCHANGE ? SERR_TIMEOUT : SERR_CONNECT_TIMEOUT;
	case ECONNRESET:
	case EPIPE:
	case ECONNABORTED:
		return SERR_RESET;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
	case EADDRINUSE:
	case ENOSPC:
		return SERR_RESOURCE;
	case EADDRNOTAVAIL:
		return phase == PHASE_BIND ? SERR_UNREACHABLE : SERR_RESOURCE;
	case EAGAIN:
		return phase == PHASE_CONNECT ? SERR_RESOURCE : SERR_TIMEOUT;
	default:
		return phase == PHASE_EXCHANGE ? SERR_RESET : SERR_UNREACHABLE;
	}
}

void session_init(struct session *s, struct session_env *env, struct target *t, uint32_t id,
		  int64_t first_due)
{
	uint32_t gen = s->gen;

	memset(s, 0, sizeof(*s));
	s->gen = gen;
	s->target = t;
	s->id = id;
	s->fd = -1;
	s->state = SESS_IDLE;
	s->last_latency = -1;
	timer_set(env->timers, id, first_due);
}

/* The configuration in force for s: its cycle's, or between cycles the target's. */
static const struct target_conf *session_conf(const struct session *s)
{
	return s->conf ? s->conf : s->target->conf;
}

/* Whether the kernel times this session's cycles: the I/O can, and the target wants
 * it (timestamps = kernel). */
static bool session_kernel_timed(const struct session *s, const struct session_env *env)
{
	/* UDP cycles are timed by the loop's clock: the stamps are read on TCP's path. */
	return env->io->recv_stamped && session_conf(s)->protocol == TPROTO_TCP &&
	       session_conf(s)->timestamps == TIMESTAMPS_KERNEL;
}

/* The cycle is over: let go of the configuration it ran under. */
static void session_drop_conf(struct session *s)
{
	config_target_unref(s->conf);
	s->conf = NULL;
}

static void session_close_fd(struct session *s, struct session_env *env)
{
	if (s->fd < 0)
		return;
	/* close_notify with close = fin; with rst the connection just goes. */
	tls_io_end(s, session_conf(s)->close == CLOSE_FIN);
	env->io->close(env->io_ctx, s->fd, session_conf(s)->close == CLOSE_RST);
	s->fd = -1;
	s->ready = 0;
}

/* Enter a state and do what entering it means: fds, timers, counters. */
static void session_enter(struct session *s, struct session_env *env, enum session_state st,
			  int64_t due)
{
	if (st == SESS_IDLE || st == SESS_STOPPED)
		session_close_fd(s, env);
	if (st == SESS_EXCHANGING) {
		s->msg = 0;
		s->sent = 0;
		s->recvd = 0;
	}
	if (st == SESS_STOPPED)
		timer_cancel(env->timers, s->id);
	else
		timer_set(env->timers, s->id, due);
	s->state = (uint8_t)st;
}

static void session_holding_io(struct session *s, struct session_env *env, int64_t now);

static bool session_is_udp(const struct session *s)
{
	return session_conf(s)->protocol == TPROTO_UDP;
}

static bool session_is_tls(const struct session *s)
{
	return session_conf(s)->protocol == TPROTO_TLS;
}

/* TLS: whether the next SSL call of a kind (SESS_TLS_READ or _WRITE) may go: what
 * the last one waited for has come. */
static bool session_tls_may(const struct session *s, unsigned kind)
{
	unsigned want = ((unsigned)s->ready >> kind) & 3u;

	return !want || (s->ready & want);
}

/* TLS: the last SSL call of a kind came back with -EAGAIN (want: the SESS_READY_*
 * bit it waits for, which is spent), or (want 0) went through. */
static void session_tls_wait(struct session *s, unsigned kind, unsigned want)
{
	s->ready = (uint8_t)((s->ready & ~(want | (3u << kind))) | (want << kind));
}

/* The number of the cycle under way (of the last one, between cycles): tagged UDP
 * datagrams carry it. */
static uint32_t session_seq(const struct session *s)
{
	return (uint32_t)(s->cycles_ok + s->cycles_failed);
}

/* A persistent UDP session with tags keeps its socket past a failed exchange: a late
 * echo can be told by its tag and counted. Without tags it could not, so the socket
 * goes with the failure, as a TCP connection does. */
static bool session_udp_keeps(const struct session *s, enum session_error err)
{
	return session_is_udp(s) && session_conf(s)->udp_tag && s->fd >= 0 &&
	       s->state == SESS_EXCHANGING && err != SERR_RESOURCE;
}

/* Read the connection's TCP_INFO at the end of a cycle: the path's RTT for `sessions`
 * and the segments retransmitted since the last reading, which the result carries to
 * the target's counter. */
static uint32_t session_read_tcp(struct session *s, struct session_env *env)
{
	struct sess_tcp ti;
	uint32_t was = s->retrans_seen;

	if (s->fd < 0 || !env->io->tcp_info || env->io->tcp_info(env->io_ctx, s->fd, &ti) < 0)
		return 0;
	s->tcp = ti;
	s->retrans_seen = ti.total_retrans;
	return ti.total_retrans - was;
}

/* The latency of a cycle that ended well. With the kernel's timing: the connect time
 * (the SYN's round trip) plus each message's exchange, from the kernel's TX stamp of
 * its first bytes to the RX stamp of its echo's last ones, so the time an event
 * waited in mconnd's loop, between messages too, counts nowhere. Without it (or for a
 * failed cycle): the loop's clock, from connect start to now. */
static int64_t session_cycle_ns(const struct session *s, struct session_env *env,
				enum session_error err, int64_t now)
{
	if (err != SERR_NONE || !session_kernel_timed(s, env))
		return now - s->cycle_start;
	return (s->connected_at ? s->connect_ns : 0) + s->exchange_ns;
}

/* End the cycle: account it, then close or hold, and schedule the next one. A held
 * connection is checked at once: a FIN that came with the last echo leaves no new
 * edge behind it. detail says more than err_no when the kernel did (or is NULL). */
static void session_finish_detail(struct session *s, struct session_env *env,
				  enum session_error err, int err_no, const char *detail,
				  int64_t now)
{
	struct session_result res = {
		.err = err, .err_no = err_no,
		.connect_ns = s->connected_at ? s->connect_ns : -1,
		.cycle_ns = session_cycle_ns(s, env, err, now),
		.retransmits = session_is_udp(s) ? 0 : session_read_tcp(s, env),
		.kernel_timed = err == SERR_NONE && session_kernel_timed(s, env),
		.detail = detail,
	};
	struct tls_done done;
	bool keep = session_conf(s)->mode == MODE_PERSISTENT &&
		    (err == SERR_NONE || session_udp_keeps(s, err));
	int64_t pause;

	if (tls_io_take_done(s, &done)) {
		res.handshake = true;
		res.handshake_ns = done.ns;
		res.resumed = done.resumed;
		res.cert_not_after = done.not_after;
	}
	if (err == SERR_NONE) {
		s->cycles_ok++;
		s->fails = 0;
		s->last_latency = res.cycle_ns;
	} else {
		s->cycles_failed++;
		s->fails += s->fails < UINT8_MAX;
	}
	s->last_result = (uint8_t)err;
	s->last_errno = (int16_t)err_no;
	pause = env->on_result(env, s, &res, now);
	session_enter(s, env, keep ? SESS_HOLDING : SESS_IDLE, now + pause);
	session_drop_conf(s);
	if (keep)
		session_holding_io(s, env, now);
}

static void session_finish(struct session *s, struct session_env *env, enum session_error err,
			   int err_no, int64_t now)
{
	session_finish_detail(s, env, err, err_no, NULL, now);
}

static void session_exchange(struct session *s, struct session_env *env, int64_t now);
static void session_handshake(struct session *s, struct session_env *env, int64_t now);
static void session_stamp_connected(struct session *s, struct session_env *env, int64_t now);

/* Connected at now: a TLS session starts its handshake, others their exchange. */
static void session_on_connected(struct session *s, struct session_env *env, int64_t now)
{
	const struct target_conf *c = s->conf;

	session_stamp_connected(s, env, now);
	if (c->protocol == TPROTO_TLS) {
		session_tls_wait(s, SESS_TLS_READ, 0);
		session_tls_wait(s, SESS_TLS_WRITE, 0);
		session_enter(s, env, SESS_HANDSHAKE, s->cycle_start + c->timeout);
		session_handshake(s, env, now);
		return;
	}
	session_enter(s, env, SESS_EXCHANGING, s->cycle_start + c->timeout);
	session_exchange(s, env, now);
}

/* The connect finished at now (loop clock). Its time is the SYN's round trip as TCP
 * measured it (TCP_INFO's first RTT sample, in us) when the kernel's timing is on and
 * no SYN was sent twice (a retransmitted SYN gives no sample); else the loop's clock
 * from connect start, which includes how long the event waited in the loop. */
static void session_stamp_connected(struct session *s, struct session_env *env, int64_t now)
{
	struct sess_tcp ti;

	s->connected_at = now;
	s->connect_ns = now - s->cycle_start;
	if (!session_kernel_timed(s, env) || !env->io->tcp_info ||
	    env->io->tcp_info(env->io_ctx, s->fd, &ti) < 0 || ti.total_retrans || !ti.rtt_us)
		return;
	if ((int64_t)ti.rtt_us * NSEC_PER_USEC <= s->connect_ns)
		s->connect_ns = (int64_t)ti.rtt_us * NSEC_PER_USEC;
}

/* The first bytes of the current message went to send() at now: remember when, and
 * the key of the kernel's TX stamp for them (OPT_ID counts bytes from the first one
 * sent, and a stamp's key is its send's last byte). */
static void session_stamp_sent(struct session *s, uint32_t n, int64_t now)
{
	s->send_at = now;
	s->tx_key = s->tx_bytes + n - 1;
	s->tx_stamp = 0;
	s->rx_stamp = 0;
}

/* Fetch the current message's TX stamp from the error queue once (-1: none came). */
static int64_t session_tx_stamp(struct session *s, struct session_env *env)
{
	if (s->tx_stamp == 0)
		s->tx_stamp = env->io->tx_stamp ? env->io->tx_stamp(env->io_ctx, s->fd, s->tx_key) : -1;
	return s->tx_stamp;
}

/* Part of the echo came and the rest may be held by the peer's Nagle until this part
 * is acknowledged: acknowledge it now, not at the delayed-ACK timer (40 ms or more).
 * The kernel sends that ACK only when nothing is charged to the socket's receive
 * memory, and a TX stamp waiting in the error queue is: so it is fetched first. */
static void session_ack_partial(struct session *s, struct session_env *env)
{
	if (!env->io->ack_now)
		return;
	if (session_kernel_timed(s, env))
		(void)session_tx_stamp(s, env);
	env->io->ack_now(env->io_ctx, s->fd);
}

/* The current message's echo came back whole at now: add its exchange time, the
 * kernel's (RX stamp of the last bytes - TX stamp of the first) when both stamps are
 * there and agree with the loop's clock (a stamp cannot be later than the loop saw
 * the data; a step of the wall clock would make it so), else the loop's. */
static void session_stamp_echoed(struct session *s, struct session_env *env, int64_t now)
{
	int64_t loop_ns = now - s->send_at, k = -1, tx;

	if (session_kernel_timed(s, env) && s->rx_stamp > 0) {
		tx = session_tx_stamp(s, env);
		if (tx > 0)
			k = s->rx_stamp - tx;
	}
	s->exchange_ns += k >= 0 && k <= loop_ns + SESS_STAMP_SLACK_NS ? k : loop_ns;
}

/* Begin a cycle: reuse a held connection or start connecting. The cycle takes the
 * target's configuration of this moment and keeps it to its end: timings, messages
 * and classification; a reload or a set applies from the next cycle. */
static void session_begin(struct session *s, struct session_env *env, int64_t now)
{
	const struct target_conf *c;
	enum io_phase phase = PHASE_SOCKET;
	int r;

	session_drop_conf(s);
	c = s->conf = config_target_ref(s->target->conf);
	s->graces = 0;
	s->cycle_start = now;
	s->connected_at = 0;
	s->exchange_ns = 0;
	if (s->state == SESS_HOLDING) {
		s->udp_prev = s->msg;
		session_enter(s, env, SESS_EXCHANGING, now + c->timeout);
		session_exchange(s, env, now);
		return;
	}
	s->ready = 0;
	s->tx_bytes = 0;
	s->retrans_seen = 0;
	r = env->io->connect(env->io_ctx, s, c, &phase);
	if (r == -EINPROGRESS) {
		session_enter(s, env, SESS_CONNECTING, now + MIN(c->connect_timeout, c->timeout));
		return;
	}
	if (r < 0) {
		session_finish(s, env, session_classify(-r, phase), -r, now);
		return;
	}
	s->ready = SESS_READY_OUT;
	session_on_connected(s, env, now);
}

/* Send what is left of the current message while the socket takes it. */
static int session_send(struct session *s, struct session_env *env, const uint8_t *msg,
			uint32_t len, int64_t now)
{
	while (s->sent < len && (s->ready & SESS_READY_OUT)) {
		ssize_t n = env->io->send(env->io_ctx, s->fd, msg + s->sent, len - s->sent);

		if (n == -EAGAIN || n == 0) {
			s->ready &= (uint8_t)~SESS_READY_OUT;
			break;
		}
		if (n < 0)
			return (int)n;
		if (s->sent == 0)
			session_stamp_sent(s, (uint32_t)n, now);
		s->sent = (uint16_t)(s->sent + n);
		s->tx_bytes += (uint32_t)n;
	}
	return 0;
}

/* Receive through the stamped call when there is one. */
static ssize_t session_read(struct session *s, struct session_env *env, size_t want)
{
	if (session_kernel_timed(s, env))
		return env->io->recv_stamped(env->io_ctx, s->fd, env->scratch, want, &s->rx_stamp);
	return env->io->recv(env->io_ctx, s->fd, env->scratch, want);
}

/* Read the echo of the current message, comparing each byte as it arrives. Each read
 * asks for one byte more than is left: a byte beyond the echo was never sent (a
 * mismatch), and a read that comes back short has emptied the socket, so the next
 * bytes bring a new edge and the read that would only say EAGAIN is saved. */
static int session_recv(struct session *s, struct session_env *env, const uint8_t *msg,
			uint32_t len, enum session_error *ret_err)
{
	while (s->recvd < len && (s->ready & SESS_READY_IN)) {
		size_t left = len - s->recvd, want = MIN(left + 1, env->scratch_len);
		ssize_t n = session_read(s, env, want);

		if (n == -EAGAIN) {
			s->ready &= (uint8_t)~SESS_READY_IN;
			break;
		}
		if (n < 0) {
			*ret_err = session_classify((int)-n, PHASE_EXCHANGE);
			return (int)n;
		}
		if (n == 0) {
			*ret_err = SERR_EOF;
			return -EPIPE;
		}
		if ((size_t)n > left || memcmp(env->scratch, msg + s->recvd, (size_t)n) != 0) {
			*ret_err = SERR_MISMATCH;
			return -EBADMSG;
		}
		if ((size_t)n < want && !(s->ready & SESS_READY_HUP))
			s->ready &= (uint8_t)~SESS_READY_IN;
		s->recvd = (uint16_t)(s->recvd + n);
	}
	return 0;
}

/* Send the current message as one datagram (after its tag with udp_tag); s->sent
 * says it went. A UDP socket is always writable but for a full send buffer, a local
 * shortage (EAGAIN fails the cycle as resource): so it is registered for input only
 * and spares the loop an event for every datagram the kernel lets go of. */
static int session_udp_send(struct session *s, struct session_env *env)
{
	const struct target_conf *c = s->conf;
	uint32_t len, hdr = c->udp_tag ? UDP_TAG_LEN : 0;
	const uint8_t *msg;
	ssize_t n;

	if (s->sent)
		return 0;
	msg = target_conf_message(c, s->msg, &len);
	if (hdr)
		udp_tag_write(env->scratch, session_seq(s), (uint16_t)s->msg);
	memcpy(env->scratch + hdr, msg, len);
	n = env->io->send(env->io_ctx, s->fd, env->scratch, hdr + len);
	if (n < 0)
		return (int)n;
	if ((size_t)n != hdr + len)
		return -EMSGSIZE;
	s->sent = 1;
	s->target->udp.sent++;
	return 0;
}

/* Count a datagram that is not the echo awaited; false for one never sent. */
static bool session_udp_stray(struct session *s, enum udp_verdict v)
{
	if (v == UDPV_DUPLICATE)
		s->target->udp.duplicates++;
	else if (v == UDPV_LATE)
		s->target->udp.late++;
	return v == UDPV_DUPLICATE || v == UDPV_LATE;
}

/* Read datagrams until the echo of the current message is among them; duplicates
 * and late echoes are counted and passed over, never taken for it. Once the echo is
 * in, the read that would only say EAGAIN is saved: every datagram that arrives
 * brings an edge of its own (and the deadline's last look polls), so one queued
 * behind the echo is read at the next edge. */
static int session_udp_recv(struct session *s, struct session_env *env,
			    enum session_error *ret_err)
{
	struct udp_expect e = { .conf = s->conf, .seq = session_seq(s), .msg = s->msg,
				.prev_got = s->udp_prev };

	for (int i = 0; i < SESS_UDP_BUDGET && !s->recvd && (s->ready & SESS_READY_IN); i++) {
		ssize_t n = env->io->recv(env->io_ctx, s->fd, env->scratch, env->scratch_len);
		enum udp_verdict v;

		if (n == -EAGAIN) {
			s->ready &= (uint8_t)~SESS_READY_IN;
			break;
		}
		if (n < 0) {
			*ret_err = session_classify((int)-n, PHASE_DATAGRAM);
			return (int)n;
		}
		v = udp_echo_match(&e, env->scratch, (size_t)n);
		if (v == UDPV_ECHO) {
			s->recvd = 1;
			s->ready &= (uint8_t)~SESS_READY_IN;
		} else if (!session_udp_stray(s, v)) {
			*ret_err = SERR_MISMATCH;
			return -EBADMSG;
		}
	}
	return 0;
}

/* A UDP exchange failed with r (-errno): classify it, with what the kernel queued
 * about an ICMP error when there is one. */
static void session_udp_fail(struct session *s, struct session_env *env, int r,
			     enum session_error err, int64_t now)
{
	char detail[128];
	const char *d = NULL;

	if (err == SERR_MISMATCH) {
		session_finish(s, env, err, 0, now);
		return;
	}
	if (env->io->error_detail)
		d = env->io->error_detail(env->io_ctx, s->fd, detail, sizeof(detail));
	session_finish_detail(s, env, session_classify(-r, PHASE_DATAGRAM), -r, d, now);
}

/* The UDP exchange: one datagram out, its echo back, the next message. */
static void session_udp_exchange(struct session *s, struct session_env *env, int64_t now)
{
	const struct target_conf *c = s->conf;

	while (s->msg < c->n_messages) {
		enum session_error err = SERR_NONE;
		int r = session_udp_send(s, env);

		if (r == 0 && s->sent)
			r = session_udp_recv(s, env, &err);
		if (r < 0) {
			session_udp_fail(s, env, r, err, now);
			return;
		}
		if (!s->recvd)
			return;
		s->msg++;
		s->sent = 0;
		s->recvd = 0;
	}
	session_finish(s, env, SERR_NONE, 0, now);
}

/* A TLS call failed with r (-errno): a plain TCP fault keeps its class (-ENODATA is
 * the peer's EOF), a TLS failure (an alert among them) is tls with its reason. */
static void session_tls_fail(struct session *s, struct session_env *env, int r, int64_t now)
{
	if (r == -ENODATA)
		session_finish(s, env, SERR_EOF, 0, now);
	else if (r == -EPROTO)
		session_finish_detail(s, env, SERR_TLS, 0, tls_io_reason(s), now);
	else
		session_finish(s, env, session_classify(-r, PHASE_EXCHANGE), -r, now);
}

/* Drive the TLS handshake as far as the socket allows; on to the exchange once done. */
static void session_handshake(struct session *s, struct session_env *env, int64_t now)
{
	unsigned want = 0;
	int r;

	if (!session_tls_may(s, SESS_TLS_WRITE))
		return;
	r = tls_io_handshake(s, s->conf, s->connected_at, &want);
	session_tls_wait(s, SESS_TLS_WRITE, r == -EAGAIN ? want : 0);
	if (r == -EAGAIN) {
		/* A server with Nagle on that writes its flight in parts sends the next
		 * part only once the last is acknowledged: acknowledge it now. */
		if (tls_io_read_partial(s))
			session_ack_partial(s, env);
		return;
	}
	if (r < 0) {
		session_tls_fail(s, env, r, now);
		return;
	}
	/* echo = no: the cycle ends with the handshake, whose end the TLS layer read after
	 * the client's share of the work, later than this turn's clock. */
	if (s->conf->n_messages == 0 && tls_io_done_at(s) > now)
		now = tls_io_done_at(s);
	session_enter(s, env, SESS_EXCHANGING, s->cycle_start + s->conf->timeout);
	session_exchange(s, env, now);
}

/* TLS: write what is left of the current message while the SSL takes it. */
static int session_tls_send(struct session *s, const uint8_t *msg, uint32_t len)
{
	while (s->sent < len && session_tls_may(s, SESS_TLS_WRITE)) {
		unsigned want = 0;
		ssize_t n = tls_io_send(s, msg + s->sent, len - s->sent, &want);

		session_tls_wait(s, SESS_TLS_WRITE, n == -EAGAIN ? want : 0);
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return (int)n;
		s->sent = (uint16_t)(s->sent + n);
	}
	return 0;
}

/* TLS: read the echo of the current message, as session_recv() does. The SSL may
 * hold records already read off the socket, which no edge will announce: those are
 * read without waiting. At most the message's length in reads, as over TCP. */
static int session_tls_recv(struct session *s, struct session_env *env, const uint8_t *msg,
			    uint32_t len, enum session_error *ret_err)
{
	while (s->recvd < len && (session_tls_may(s, SESS_TLS_READ) || tls_io_pending(s))) {
		size_t left = len - s->recvd, want_n = MIN(left + 1, env->scratch_len);
		unsigned want = 0;
		ssize_t n = tls_io_recv(s, env->scratch, want_n, &want);

		session_tls_wait(s, SESS_TLS_READ, n == -EAGAIN ? want : 0);
		if (n == -EAGAIN) {
			/* A server's Nagle may hold the echo until what it sent last (the
			 * TLS 1.3 session tickets after the handshake, the first part of a
			 * record) is acknowledged: as over TCP, acknowledge it now. */
			if (tls_io_read_partial(s))
				session_ack_partial(s, env);
			break;
		}
		if (n <= 0) {
			*ret_err = n == 0 ? SERR_EOF : SERR_RESET;
			return n == 0 ? -ENODATA : (int)n;
		}
		if ((size_t)n > left || memcmp(env->scratch, msg + s->recvd, (size_t)n) != 0) {
			*ret_err = SERR_MISMATCH;
			return -EBADMSG;
		}
		s->recvd = (uint16_t)(s->recvd + n);
	}
	return 0;
}

/* The TLS exchange: each message written through the SSL, its echo read back. */
static void session_tls_exchange(struct session *s, struct session_env *env, int64_t now)
{
	const struct target_conf *c = s->conf;

	while (s->msg < c->n_messages) {
		enum session_error err = SERR_RESET;
		uint32_t len;
		const uint8_t *msg = target_conf_message(c, s->msg, &len);
		int r = session_tls_send(s, msg, len);

		if (r == 0 && s->sent == len)
			r = session_tls_recv(s, env, msg, len, &err);
		if (r == -EBADMSG) {
			session_finish(s, env, SERR_MISMATCH, 0, now);
			return;
		}
		if (r < 0) {
			session_tls_fail(s, env, r, now);
			return;
		}
		if (s->recvd < len)
			return;
		s->msg++;
		s->sent = 0;
		s->recvd = 0;
	}
	session_finish(s, env, SERR_NONE, 0, now);
}

/* Make all the progress the ready flags allow; finishes the cycle when done. */
static void session_exchange(struct session *s, struct session_env *env, int64_t now)
{
	const struct target_conf *c = s->conf;
	enum session_error err = SERR_RESET;

	if (c->protocol == TPROTO_UDP) {
		session_udp_exchange(s, env, now);
		return;
	}
	if (c->protocol == TPROTO_TLS) {
		session_tls_exchange(s, env, now);
		return;
	}

	while (s->msg < c->n_messages) {
		uint32_t len;
		const uint8_t *msg = target_conf_message(c, s->msg, &len);
		int r = session_send(s, env, msg, len, now);

		if (r < 0) {
			session_finish(s, env, session_classify(-r, PHASE_EXCHANGE), -r, now);
			return;
		}
		if (s->sent < len)
			return;
		r = session_recv(s, env, msg, len, &err);
		if (r < 0) {
			session_finish(s, env, err, err == SERR_MISMATCH || err == SERR_EOF ? 0 : -r, now);
			return;
		}
		if (s->recvd < len) {
			if (s->recvd > 0)
				session_ack_partial(s, env);
			return;
		}
		session_stamp_echoed(s, env, now);
		s->msg++;
		s->sent = 0;
		s->recvd = 0;
	}
	session_finish(s, env, SERR_NONE, 0, now);
}

/* A connect in progress reported readiness: find out how it ended. */
static void session_connected(struct session *s, struct session_env *env, int64_t now)
{
	int r;

	if (!(s->ready & SESS_READY_OUT))
		return;
	r = env->io->connect_result(env->io_ctx, s->fd, s->conf, s->ready);
	if (r < 0) {
		session_finish(s, env, session_classify(-r, PHASE_CONNECT), -r, now);
		return;
	}
	session_on_connected(s, env, now);
}

/* Between persistent UDP cycles, duplicates and late echoes are counted; a datagram
 * never sent fails the cycle to come as a mismatch, and an error (an ICMP message
 * for a datagram gone) drops the socket quietly, as a reset drops a TCP connection. */
static void session_udp_holding_io(struct session *s, struct session_env *env, int64_t now)
{
	struct udp_expect e = { .conf = session_conf(s), .seq = session_seq(s) - 1,
				.msg = s->msg, .prev_got = s->udp_prev, .ended = true };
	char detail[128];

	for (int i = 0; i < SESS_UDP_BUDGET && (s->ready & SESS_READY_IN); i++) {
		ssize_t n = env->io->recv(env->io_ctx, s->fd, env->scratch, env->scratch_len);

		if (n == -EAGAIN) {
			s->ready &= (uint8_t)~SESS_READY_IN;
			return;
		}
		if (n < 0) {
			if (env->io->error_detail)
				(void)env->io->error_detail(env->io_ctx, s->fd, detail, sizeof(detail));
			session_enter(s, env, SESS_IDLE, timer_due(env->timers, s->id));
			return;
		}
		if (!session_udp_stray(s, udp_echo_match(&e, env->scratch, (size_t)n))) {
			s->cycle_start = now;
			s->connected_at = 0;
			session_finish(s, env, SERR_MISMATCH, 0, now);
			return;
		}
	}
}

/* Between persistent cycles nothing should arrive: EOF or reset drops the connection
 * quietly, stray bytes fail the cycle to come as a mismatch. */
static void session_holding_io(struct session *s, struct session_env *env, int64_t now)
{
	ssize_t n;

	if (session_is_udp(s)) {
		session_udp_holding_io(s, env, now);
		return;
	}
	if (session_is_tls(s)) {
		unsigned want = 0;

		if (!session_tls_may(s, SESS_TLS_READ) && !tls_io_pending(s))
			return;
		n = tls_io_recv(s, env->scratch, 1, &want);
		session_tls_wait(s, SESS_TLS_READ, n == -EAGAIN ? want : 0);
	} else {
		if (!(s->ready & SESS_READY_IN))
			return;
		n = env->io->recv(env->io_ctx, s->fd, env->scratch, 1);
		if (n == -EAGAIN)
			s->ready &= (uint8_t)~SESS_READY_IN;
	}
	if (n == -EAGAIN)
		return;
	if (n > 0) {
		s->cycle_start = now;
		s->connected_at = 0;
		session_finish(s, env, SERR_MISMATCH, 0, now);
		return;
	}
	session_enter(s, env, SESS_IDLE, timer_due(env->timers, s->id));
}

/* Before a deadline fails a cycle, look at the socket once more: a loop held up (a
 * long turn, a stopped process) may not have read an answer that is there. Returns
 * true when that look moved the cycle on by a step (connected, a message echoed
 * whole) or to its end: that step was waiting for mconnd, not for the target.
 *
 * A cycle still under way after such a look gets a new deadline, now + timeout: when
 * the answer came is unknown, only that it was there when mconnd looked, so the steps
 * left get the budget a whole cycle gets rather than a remainder eaten by mconnd's
 * delay. It stays bounded: every rescue needs a step completed, so a cycle of n
 * messages is rescued at most n + 1 times, and a target that stops answering fails
 * as `timeout` at the first deadline whose look finds no new step. */
static bool session_last_look(struct session *s, struct session_env *env, int64_t now)
{
	/* The cycle's own; taken here because a cycle that ends in the look drops it. */
	int64_t timeout = session_conf(s)->timeout;
	uint8_t state = s->state, msg = s->msg;
	uint64_t cycles = s->cycles_ok + s->cycles_failed;

	s->ready |= (uint8_t)env->io->ready(env->io_ctx, s->fd);
	if (state == SESS_CONNECTING)
		session_connected(s, env, now);
	else if (state == SESS_HANDSHAKE)
		session_handshake(s, env, now);
	else
		session_exchange(s, env, now);
	if (s->cycles_ok + s->cycles_failed != cycles)
		return true;
	if (s->state == state && s->msg == msg)
		return false;
	timer_set(env->timers, s->id, now + timeout);
	s->graces = 0;
	return true;
}

/* A deadline that fired late found nothing: mconnd itself was held up (a stop, a long
 * turn), and a request it sent just before may have reached the target only when it
 * ran again (seen on loopback: the echo came about 1 ms after a SIGCONT, and after a
 * busy restart tens of ms later, while the loop was still late). Give the step back
 * the time lost, at most one timeout, each time the loop fires it late, up to
 * SESS_MAX_GRACES times a step: returns true when it did. */
static bool session_grace(struct session *s, struct session_env *env, int64_t late,
			  int64_t now)
{
	if (late < SESS_LATE_NS || s->graces >= SESS_MAX_GRACES)
		return false;
	s->graces++;
	timer_set(env->timers, s->id, now + MIN(late, session_conf(s)->timeout));
	return true;
}

/* Deadline passed (late ns after it was due): start the next cycle, or fail the one
 * under way. Our own deadlines report ETIME, so they read apart from the kernel's
 * ETIMEDOUT. */
static void session_timer(struct session *s, struct session_env *env, int64_t late,
			  int64_t now)
{
	const struct target_conf *c = session_conf(s);

	if ((s->state == SESS_CONNECTING || s->state == SESS_HANDSHAKE ||
	     s->state == SESS_EXCHANGING) &&
	    (session_last_look(s, env, now) || session_grace(s, env, late, now)))
		return;
	switch (s->state) {
	case SESS_IDLE:
	case SESS_HOLDING:
		session_begin(s, env, now);
		break;
	case SESS_CONNECTING:
		session_finish(s, env,
			       now - s->cycle_start >= c->connect_timeout ? SERR_CONNECT_TIMEOUT
									  : SERR_TIMEOUT,
			       ETIME, now);
		break;
	case SESS_HANDSHAKE:
		session_finish_detail(s, env, SERR_TIMEOUT, ETIME,
				      "during TLS handshake: not complete within timeout", now);
		break;
	case SESS_EXCHANGING:
		session_finish(s, env, session_is_udp(s) ? SERR_LOSS : SERR_TIMEOUT, ETIME, now);
		break;
	default:
		break;
	}
}

void session_stalled(struct session *s, struct session_env *env, int64_t lost, int64_t now)
{
	const struct target_conf *c = s->conf;
	int64_t budget;

	if ((s->state != SESS_CONNECTING && s->state != SESS_HANDSHAKE &&
	     s->state != SESS_EXCHANGING) || !c)
		return;
	s->cycle_start += lost;
	if (s->connected_at)
		s->connected_at += lost;
	if (s->state == SESS_EXCHANGING)
		s->send_at += lost;
	budget = s->state == SESS_CONNECTING ? MIN(c->connect_timeout, c->timeout) : c->timeout;
	if (timer_due(env->timers, s->id) < now + budget)
		timer_set(env->timers, s->id, now + budget);
}

int session_deadline(struct session *s, struct session_env *env, int64_t due, int64_t now)
{
	if (s->state >= SESS_STOPPED)
		return -EBADE;
	session_timer(s, env, now - due, now);
	return 0;
}

int session_handle(struct session *s, struct session_env *env, enum session_event ev,
		   int64_t now)
{
	if (ev == SEV_STOP) {
		session_enter(s, env, SESS_STOPPED, 0);
		session_drop_conf(s);
		tls_io_free(s);
		return 0;
	}
	if (ev != SEV_TIMER && ev != SEV_IO)
		return -EBADE;
	switch (s->state) {
	case SESS_IDLE:
		if (ev != SEV_TIMER)
			return -EBADE;
		session_timer(s, env, 0, now);
		return 0;
	case SESS_CONNECTING:
		if (ev == SEV_IO)
			session_connected(s, env, now);
		else
			session_timer(s, env, 0, now);
		return 0;
	case SESS_HANDSHAKE:
		if (ev == SEV_IO)
			session_handshake(s, env, now);
		else
			session_timer(s, env, 0, now);
		return 0;
	case SESS_EXCHANGING:
		if (ev == SEV_IO)
			session_exchange(s, env, now);
		else
			session_timer(s, env, 0, now);
		return 0;
	case SESS_HOLDING:
		if (ev == SEV_IO)
			session_holding_io(s, env, now);
		else
			session_timer(s, env, 0, now);
		return 0;
	default:
		return -EBADE;
	}
}
