/* Unit tests for the echo session state machine, driven without sockets: a fake I/O
 * table plays a script of results per call (EINPROGRESS, short writes, EAGAIN, partial
 * echoes, EOF, wrong bytes, resets), the clock is a parameter, and the timers are a
 * real heap. Every call the machine makes must be the next one in the script. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "session.h"
#include "target.h"
#include "timer.h"
#include "udpecho.h"
#include "util.h"
#include "check_main.h"

#define SEC NSEC_PER_SEC
#define MS NSEC_PER_MSEC
#define T0 (1000 * SEC)
#define SID 2u
#define PAUSE (1 * SEC)

#define MSG1 "Message 1 from client."
#define MSG2 "Message 2 from client."
#define MSG_LEN 22

/* A send or recv step that takes the whole of what the machine asked for. */
#define ALL (-100000L)

enum op {
	OP_END,
	OP_CONNECT,
	OP_CONNECT_RESULT,
	OP_SEND,
	OP_RECV,
};

static const char *const op_names[] = { "end", "connect", "connect_result", "send", "recv" };

/* One scripted call: its result (a count, ALL, 0 or -errno) and, for connect, the phase
 * it reports; a recv with bytes delivers those instead of the echo. */
struct step {
	enum op op;
	long ret;
	enum io_phase phase;
	const char *bytes;
};

#define CONNECT(r, ph) { .op = OP_CONNECT, .ret = (r), .phase = (ph) }
#define CONNECT_RESULT(r) { .op = OP_CONNECT_RESULT, .ret = (r) }
#define SEND(r) { .op = OP_SEND, .ret = (r) }
#define RECV(r) { .op = OP_RECV, .ret = (r) }
#define RECV_BYTES(s) { .op = OP_RECV, .ret = (long)sizeof(s) - 1, .bytes = (s) }

#define MAX_STEPS 64
#define MAX_FDS 64
#define MAX_LOG 64

struct fix {
	struct session_env env;
	struct timer_heap timers;
	struct target_conf conf;
	/* The configuration the cycle under way started with. */
	const struct target_conf *cycle_conf;
	uint8_t msgs[2 * MSG_LEN];
	struct target *t;
	struct session s;
	uint8_t scratch[64];

	/* The script and how far the machine got in it. */
	struct step steps[MAX_STEPS];
	size_t n_steps;
	size_t pos;

	/* The echo peer: what was sent on this connection, how much came back. */
	uint8_t wire[1024];
	size_t wire_len;
	size_t echoed;
	size_t recv_asked[MAX_LOG];
	size_t n_recv;

	/* File descriptors handed out and closed. */
	int next_fd;
	uint8_t open[MAX_FDS];
	unsigned n_connects;
	unsigned closes;
	int closed_fd[MAX_LOG];
	bool closed_rst[MAX_LOG];

	/* What the last look before a deadline finds, and how often it looked. */
	unsigned look_ready;
	unsigned looks;

	/* The kernel's timing (fake_stamped_io): the RX stamp reads give, the TX stamps
	 * by key, what TCP_INFO says, and how often each was asked for. */
	int64_t rx_stamp;
	uint32_t tx_key[4];
	int64_t tx_at[4];
	unsigned n_tx;
	struct sess_tcp tcp;
	unsigned tcp_reads;

	/* What on_result saw. */
	struct session_result res[MAX_LOG];
	int64_t res_at[MAX_LOG];
	unsigned n_res;
	int64_t pause;
};

static const struct step *step_next(struct fix *f, enum op op)
{
	const struct step *st;

	ck_assert_msg(f->pos < f->n_steps, "unexpected %s call after the end of the script",
		      op_names[op]);
	st = &f->steps[f->pos++];
	ck_assert_msg(st->op == op, "call %zu is %s; the script wants %s", f->pos - 1,
		      op_names[op], op_names[st->op]);
	return st;
}

static void fd_check_open(struct fix *f, int fd)
{
	ck_assert_msg(fd >= 3 && fd < MAX_FDS && f->open[fd], "fd %d is not open", fd);
	ck_assert_int_eq(fd, f->s.fd);
}

static int fake_connect(void *ctx, struct session *s, const struct target_conf *tc,
			enum io_phase *ret_phase)
{
	struct fix *f = ctx;
	const struct step *st = step_next(f, OP_CONNECT);

	ck_assert_ptr_eq(s, &f->s);
	/* A cycle starts under the target's configuration of the moment. */
	ck_assert_ptr_eq(tc, f->t->conf);
	f->cycle_conf = tc;
	/* A new connection while one is open would leak it. */
	ck_assert_int_eq(s->fd, -1);
	f->n_connects++;
	*ret_phase = st->phase;
	if (st->ret == 0 || st->ret == -EINPROGRESS) {
		ck_assert_int_lt(f->next_fd, MAX_FDS);
		s->fd = f->next_fd++;
		f->open[s->fd] = 1;
		f->wire_len = 0;
		f->echoed = 0;
	}
	return (int)st->ret;
}

static int fake_connect_result(void *ctx, int fd, const struct target_conf *tc, unsigned ready)
{
	struct fix *f = ctx;
	const struct step *st = step_next(f, OP_CONNECT_RESULT);

	(void)ready;
	fd_check_open(f, fd);
	/* ... and keeps it to its end, whatever the target's is now. */
	ck_assert_ptr_eq(tc, f->cycle_conf);
	return (int)st->ret;
}

static ssize_t fake_send(void *ctx, int fd, const void *p, size_t n)
{
	struct fix *f = ctx;
	const struct step *st = step_next(f, OP_SEND);
	size_t k;

	fd_check_open(f, fd);
	ck_assert_uint_gt(n, 0);
	if (st->ret <= 0 && st->ret != ALL)
		return st->ret;
	k = st->ret == ALL ? n : (size_t)st->ret;
	ck_assert_msg(k <= n, "script sends %zu bytes, the machine offered %zu", k, n);
	ck_assert_uint_le(f->wire_len + k, sizeof(f->wire));
	memcpy(f->wire + f->wire_len, p, k);
	f->wire_len += k;
	return (ssize_t)k;
}

static ssize_t fake_recv(void *ctx, int fd, void *p, size_t n)
{
	struct fix *f = ctx;
	const struct step *st = step_next(f, OP_RECV);
	size_t k;

	fd_check_open(f, fd);
	ck_assert_ptr_eq(p, f->scratch);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_le(n, f->env.scratch_len);
	if (f->n_recv < MAX_LOG)
		f->recv_asked[f->n_recv++] = n;
	if (st->ret <= 0 && st->ret != ALL)
		return st->ret;
	/* ALL: every echoed byte the wire holds, as far as the read reaches. */
	k = st->ret == ALL ? MIN(n, f->wire_len - f->echoed) : (size_t)st->ret;
	ck_assert_msg(k <= n, "script delivers %zu bytes, the machine asked for %zu", k, n);
	if (st->bytes) {
		memcpy(p, st->bytes, k);
	} else {
		/* An echo cannot come back before it was sent. */
		ck_assert_uint_le(f->echoed + k, f->wire_len);
		memcpy(p, f->wire + f->echoed, k);
	}
	f->echoed += k;
	return (ssize_t)k;
}

static unsigned fake_ready(void *ctx, int fd)
{
	struct fix *f = ctx;

	fd_check_open(f, fd);
	f->looks++;
	return f->look_ready;
}

static void fake_close(void *ctx, int fd, bool rst)
{
	struct fix *f = ctx;

	fd_check_open(f, fd);
	f->open[fd] = 0;
	ck_assert_uint_lt(f->closes, MAX_LOG);
	f->closed_fd[f->closes] = fd;
	f->closed_rst[f->closes] = rst;
	f->closes++;
}

static const struct session_io fake_io = {
	.connect = fake_connect,
	.connect_result = fake_connect_result,
	.ready = fake_ready,
	.send = fake_send,
	.recv = fake_recv,
	.close = fake_close,
};

static ssize_t fake_recv_stamped(void *ctx, int fd, void *p, size_t n, int64_t *ret_stamp)
{
	struct fix *f = ctx;
	ssize_t r = fake_recv(ctx, fd, p, n);

	if (r > 0 && f->rx_stamp)
		*ret_stamp = f->rx_stamp;
	return r;
}

static int64_t fake_tx_stamp(void *ctx, int fd, uint32_t key)
{
	struct fix *f = ctx;

	fd_check_open(f, fd);
	for (unsigned i = 0; i < f->n_tx; i++)
		if (f->tx_key[i] == key)
			return f->tx_at[i];
	return -1;
}

static int fake_tcp_info(void *ctx, int fd, struct sess_tcp *ret)
{
	struct fix *f = ctx;

	fd_check_open(f, fd);
	f->tcp_reads++;
	*ret = f->tcp;
	return 0;
}

/* The same I/O with the kernel's timing. */
static const struct session_io fake_stamped_io = {
	.connect = fake_connect,
	.connect_result = fake_connect_result,
	.ready = fake_ready,
	.send = fake_send,
	.recv = fake_recv,
	.close = fake_close,
	.recv_stamped = fake_recv_stamped,
	.tx_stamp = fake_tx_stamp,
	.tcp_info = fake_tcp_info,
};

static int64_t fake_on_result(struct session_env *env, struct session *s,
			      const struct session_result *res, int64_t now)
{
	struct fix *f = env->io_ctx;

	ck_assert_ptr_eq(s, &f->s);
	ck_assert_uint_lt(f->n_res, MAX_LOG);
	f->res[f->n_res] = *res;
	f->res_at[f->n_res] = now;
	f->n_res++;
	return f->pause;
}

static struct fix *fix_new(enum target_mode mode, enum close_mode close)
{
	struct fix *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	strcpy(f->conf.name, "echo");
	strcpy(f->conf.address_text, "127.0.0.1:7");
	memcpy(f->msgs, MSG1 MSG2, 2 * MSG_LEN);
	f->conf.msg = f->msgs;
	f->conf.n_messages = 2;
	f->conf.msg_end[0] = MSG_LEN;
	f->conf.msg_end[1] = 2 * MSG_LEN;
	f->conf.msg_bytes = 2 * MSG_LEN;
	f->conf.connections = 1;
	f->conf.interval = PAUSE;
	f->conf.connect_timeout = 2 * SEC;
	f->conf.timeout = 5 * SEC;
	f->conf.backoff_max = 5 * SEC;
	f->conf.rise = 2;
	f->conf.fall = 3;
	f->conf.mode = mode;
	f->conf.close = close;
	/* The fixture owns the configuration; cycles take and give back references. */
	f->conf.refs = 1;
	f->t = target_new(&f->conf, T0);
	ck_assert_ptr_nonnull(f->t);
	ck_assert_int_eq(timer_heap_init(&f->timers, 4), 0);
	f->env = (struct session_env){ .io = &fake_io, .io_ctx = f, .timers = &f->timers,
				       .on_result = fake_on_result, .scratch = f->scratch,
				       .scratch_len = sizeof(f->scratch) };
	f->next_fd = 3;
	f->pause = PAUSE;
	session_init(&f->s, &f->env, f->t, SID, T0);
	return f;
}

static void fix_free(struct fix *f)
{
	/* Every cycle gave back the reference it took, or still holds the one it took. */
	ck_assert_uint_eq(f->conf.refs, f->s.conf == &f->conf ? 2 : 1);
	timer_heap_free(&f->timers);
	target_free(f->t);
	free(f);
}

/* Replace the script; the previous one must have been played to the end. */
static void script_set(struct fix *f, const struct step *steps, size_t n)
{
	ck_assert_msg(f->pos == f->n_steps, "only %zu of %zu scripted calls were made", f->pos,
		      f->n_steps);
	ck_assert_uint_le(n, MAX_STEPS);
	if (n)
		memcpy(f->steps, steps, n * sizeof(*steps));
	f->n_steps = n;
	f->pos = 0;
}

/* Set a script ended by an OP_END step (or by the array's end at max). */
static void script_set_until_end(struct fix *f, const struct step *steps, size_t max)
{
	size_t n = 0;

	while (n < max && steps[n].op != OP_END)
		n++;
	script_set(f, steps, n);
}

#define SCRIPT(f, ...)                                                     \
	do {                                                               \
		static const struct step steps_[] = { __VA_ARGS__ };       \
		script_set((f), steps_, ELEMENTSOF(steps_));               \
	} while (0)

/* The script must have been played to the end; no call is allowed until the next. */
static void script_done(struct fix *f)
{
	script_set(f, NULL, 0);
}

/* The session's deadline must be want; fire it there, as the loop would. */
static void fire(struct fix *f, int64_t want)
{
	uint32_t id = TIMER_NONE;

	ck_assert_msg(timer_next_due(&f->timers) == want, "timer due at T0%+lld ns, want T0%+lld",
		      (long long)(timer_next_due(&f->timers) - T0), (long long)(want - T0));
	ck_assert_int_eq(timer_pop_due(&f->timers, want, &id), 0);
	ck_assert_uint_eq(id, SID);
	ck_assert_int_eq(session_handle(&f->s, &f->env, SEV_TIMER, want), 0);
}

/* The deadline due fires late, at now, as after a loop held up by mconnd itself. */
static void fire_late(struct fix *f, int64_t due, int64_t now)
{
	uint32_t id = TIMER_NONE;

	ck_assert_msg(timer_next_due(&f->timers) == due, "timer due at T0%+lld ns, want T0%+lld",
		      (long long)(timer_next_due(&f->timers) - T0), (long long)(due - T0));
	ck_assert_int_eq(timer_pop_due(&f->timers, now, &id), 0);
	ck_assert_int_eq(session_deadline(&f->s, &f->env, due, now), 0);
}

/* Readiness reported by epoll at now. */
static void io(struct fix *f, unsigned flags, int64_t now)
{
	f->s.ready |= (uint8_t)flags;
	ck_assert_int_eq(session_handle(&f->s, &f->env, SEV_IO, now), 0);
}

/* The same readiness, edge after edge at now, until the script is played out: a read
 * that comes back short has emptied the socket, so each further read needs an edge. */
static void io_all(struct fix *f, unsigned flags, int64_t now)
{
	int i = 0;

	do
		io(f, flags, now);
	while (++i < 8 && f->pos < f->n_steps && f->s.fd >= 0);
}

static void assert_state(const struct fix *f, enum session_state st)
{
	ck_assert_msg(f->s.state == st, "state %s, want %s",
		      session_state_name((enum session_state)f->s.state), session_state_name(st));
}

static void assert_due(const struct fix *f, int64_t want)
{
	ck_assert(timer_armed(&f->timers, SID));
	ck_assert_uint_eq(f->timers.n, 1);
	ck_assert_msg(timer_next_due(&f->timers) == want, "timer due at T0%+lld ns, want T0%+lld",
		      (long long)(timer_next_due(&f->timers) - T0), (long long)(want - T0));
}

/* The last result must be err (errno err_no) with these durations. */
static void assert_result(const struct fix *f, unsigned n_res, enum session_error err,
			  int err_no, int64_t connect_ns, int64_t cycle_ns)
{
	const struct session_result *r;

	ck_assert_uint_eq(f->n_res, n_res);
	r = &f->res[n_res - 1];
	ck_assert_msg(r->err == err, "result %s, want %s", session_error_name(r->err),
		      session_error_name(err));
	ck_assert_int_eq(r->err_no, err_no);
	ck_assert_int_eq(r->connect_ns, connect_ns);
	ck_assert_int_eq(r->cycle_ns, cycle_ns);
}

/* Start a cycle at now whose connect stays in progress. */
static void connect_slowly(struct fix *f, int64_t now)
{
	SCRIPT(f, CONNECT(-EINPROGRESS, PHASE_CONNECT));
	fire(f, now);
	assert_state(f, SESS_CONNECTING);
	ck_assert_int_ge(f->s.fd, 3);
}

/* Names. */

static const struct {
	enum session_state st;
	const char *name;
} state_names[] = {
	{ SESS_IDLE, "idle" },
	{ SESS_CONNECTING, "connecting" },
	{ SESS_EXCHANGING, "exchanging" },
	{ SESS_HOLDING, "holding" },
	{ SESS_STOPPED, "stopped" },
	{ _SESS_STATE_MAX, "?" },
};

static const struct {
	enum session_error e;
	const char *name;
} error_names[] = {
	{ SERR_NONE, "ok" },
	{ SERR_REFUSED, "refused" },
	{ SERR_CONNECT_TIMEOUT, "connect_timeout" },
	{ SERR_TIMEOUT, "timeout" },
	{ SERR_RESET, "reset" },
	{ SERR_EOF, "eof" },
	{ SERR_MISMATCH, "mismatch" },
	{ SERR_UNREACHABLE, "unreachable" },
	{ SERR_RESOURCE, "resource" },
	{ SERR_LOSS, "loss" },
	{ SERR_TLS, "tls" },
	{ _SERR_MAX, "?" },
};

START_TEST(test_names)
{
	for (size_t i = 0; i < ELEMENTSOF(state_names); i++)
		ck_assert_str_eq(session_state_name(state_names[i].st), state_names[i].name);
	for (size_t i = 0; i < ELEMENTSOF(error_names); i++)
		ck_assert_str_eq(session_error_name(error_names[i].e), error_names[i].name);
}
END_TEST

static const struct classify_case {
	int err;
	enum io_phase phase;
	enum session_error want;
} classify_cases[] = {
	{ ECONNREFUSED, PHASE_CONNECT, SERR_REFUSED },
	{ ETIMEDOUT, PHASE_CONNECT, SERR_CONNECT_TIMEOUT },
	{ ETIMEDOUT, PHASE_EXCHANGE, SERR_TIMEOUT },
	{ ECONNRESET, PHASE_EXCHANGE, SERR_RESET },
	{ EPIPE, PHASE_EXCHANGE, SERR_RESET },
	{ ECONNABORTED, PHASE_EXCHANGE, SERR_RESET },
	{ EMFILE, PHASE_SOCKET, SERR_RESOURCE },
	{ ENFILE, PHASE_SOCKET, SERR_RESOURCE },
	{ ENOBUFS, PHASE_SOCKET, SERR_RESOURCE },
	{ ENOMEM, PHASE_SOCKET, SERR_RESOURCE },
	{ EADDRINUSE, PHASE_CONNECT, SERR_RESOURCE },
	{ EADDRNOTAVAIL, PHASE_CONNECT, SERR_RESOURCE },
	{ EAGAIN, PHASE_CONNECT, SERR_RESOURCE },
	{ EADDRNOTAVAIL, PHASE_BIND, SERR_UNREACHABLE },
	{ ENETUNREACH, PHASE_CONNECT, SERR_UNREACHABLE },
	{ EHOSTUNREACH, PHASE_CONNECT, SERR_UNREACHABLE },
	{ ENETDOWN, PHASE_CONNECT, SERR_UNREACHABLE },
	{ EHOSTDOWN, PHASE_CONNECT, SERR_UNREACHABLE },
};

START_TEST(test_classify)
{
	const struct classify_case *c = &classify_cases[_i];
	enum session_error got = session_classify(c->err, c->phase);

	ck_assert_msg(got == c->want, "%s in phase %d: %s, want %s", strerrorname_np(c->err),
		      (int)c->phase, session_error_name(got), session_error_name(c->want));
}
END_TEST

/* Start. */

START_TEST(test_init)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	assert_state(f, SESS_IDLE);
	ck_assert_int_eq(f->s.fd, -1);
	ck_assert_int_eq(f->s.last_latency, -1);
	ck_assert_uint_eq(f->s.id, SID);
	ck_assert_ptr_eq(f->s.target, f->t);
	assert_due(f, T0);
	/* Re-initialising keeps the generation, so stale events stay recognisable. */
	f->s.gen = 7;
	session_init(&f->s, &f->env, f->t, SID, T0 + 5 * MS);
	ck_assert_uint_eq(f->s.gen, 7);
	assert_due(f, T0 + 5 * MS);
	fix_free(f);
}
END_TEST

/* A whole cycle with every kind of partial progress: a connect in progress, a short
 * write, a full socket, the first echo arriving one byte per event, the second in two
 * pieces. */
START_TEST(test_cycle_ok_partial_io)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);
	int fd;

	connect_slowly(f, T0);
	fd = f->s.fd;
	assert_due(f, T0 + 2 * SEC);

	SCRIPT(f, CONNECT_RESULT(0), SEND(10), SEND(-EAGAIN));
	io_all(f, SESS_READY_OUT, T0 + 1 * MS);
	assert_state(f, SESS_EXCHANGING);
	/* The exchange deadline counts from the start of the cycle. */
	assert_due(f, T0 + 5 * SEC);
	ck_assert_uint_eq(f->wire_len, 10);

	/* Nothing can be sent, so nothing is read yet either. */
	script_done(f);
	io_all(f, SESS_READY_IN, T0 + 2 * MS);

	SCRIPT(f, SEND(12), RECV(-EAGAIN));
	io_all(f, SESS_READY_OUT, T0 + 3 * MS);
	ck_assert_uint_eq(f->wire_len, MSG_LEN);

	for (int k = 0; k < MSG_LEN - 1; k++) {
		/* A short read emptied the socket: no read that could only say EAGAIN. */
		SCRIPT(f, RECV(1));
		io_all(f, SESS_READY_IN, T0 + 4 * MS + k);
		assert_state(f, SESS_EXCHANGING);
		ck_assert_uint_eq(f->n_res, 0);
		/* Each read asks for one byte more than is left of the first message. */
		ck_assert_uint_eq(f->recv_asked[f->n_recv - 1], (size_t)(MSG_LEN - k + 1));
		ck_assert_uint_eq(f->s.ready & SESS_READY_IN, 0);
	}
	/* The last byte of message 1 (the read was short, so message 2 waits for its
	 * echo's edge); then half of that echo. */
	SCRIPT(f, RECV(1), SEND(ALL));
	io_all(f, SESS_READY_IN, T0 + 29 * MS);
	SCRIPT(f, RECV(5));
	io_all(f, SESS_READY_IN, T0 + 30 * MS);
	ck_assert_uint_eq(f->wire_len, 2 * MSG_LEN);
	ck_assert_uint_eq(f->n_res, 0);

	SCRIPT(f, RECV(MSG_LEN - 5));
	io_all(f, SESS_READY_IN, T0 + 40 * MS);
	script_done(f);

	assert_result(f, 1, SERR_NONE, 0, 1 * MS, 40 * MS);
	ck_assert_int_eq(f->res_at[0], T0 + 40 * MS);
	ck_assert_mem_eq(f->wire, MSG1 MSG2, 2 * MSG_LEN);
	assert_state(f, SESS_IDLE);
	ck_assert_int_eq(f->s.fd, -1);
	ck_assert_uint_eq(f->closes, 1);
	ck_assert_int_eq(f->closed_fd[0], fd);
	ck_assert(!f->closed_rst[0]);
	assert_due(f, T0 + 40 * MS + PAUSE);
	ck_assert_uint_eq(f->s.cycles_ok, 1);
	ck_assert_uint_eq(f->s.cycles_failed, 0);
	ck_assert_uint_eq(f->s.fails, 0);
	ck_assert_int_eq(f->s.last_latency, 40 * MS);
	ck_assert_uint_eq(f->s.last_result, SERR_NONE);

	/* The next cycle starts afresh on a new connection. */
	SCRIPT(f, CONNECT(-EINPROGRESS, PHASE_CONNECT));
	fire(f, T0 + 40 * MS + PAUSE);
	ck_assert_int_ne(f->s.fd, fd);
	ck_assert_uint_eq(f->n_connects, 2);
	fix_free(f);
}
END_TEST

/* A connect that succeeds at once: the socket is writable, so sending starts at once. */
START_TEST(test_connect_immediate)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	/* Only writability is known: message 1 goes out, nothing is read yet. */
	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
	fire(f, T0);
	assert_state(f, SESS_EXCHANGING);
	assert_due(f, T0 + 5 * SEC);
	ck_assert_uint_eq(f->wire_len, MSG_LEN);
	SCRIPT(f, RECV(ALL), SEND(ALL), RECV(ALL));
	io_all(f, SESS_READY_IN, T0 + 3 * MS);
	script_done(f);
	assert_result(f, 1, SERR_NONE, 0, 0, 3 * MS);
	assert_state(f, SESS_IDLE);
	ck_assert_uint_eq(f->closes, 1);
	assert_due(f, T0 + 3 * MS + PAUSE);
	fix_free(f);
}
END_TEST

/* With the kernel's timing the cycle is the SYN's round trip plus each message's
 * TX-to-RX time: the 10 ms the connect event and the 18 ms and 8 ms each echo waited
 * in the loop count nowhere. Keys: a send's last byte, counted from the first. */
#define WALL (1700000000 * SEC)
START_TEST(test_kernel_timing)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	f->env.io = &fake_stamped_io;
	f->tcp = (struct sess_tcp){ .rtt_us = 50, .rttvar_us = 25 };
	f->n_tx = 2;
	f->tx_key[0] = MSG_LEN - 1;
	f->tx_at[0] = WALL + 10 * MS;
	f->tx_key[1] = 2 * MSG_LEN - 1;
	f->tx_at[1] = WALL + 30 * MS;
	connect_slowly(f, T0);
	SCRIPT(f, CONNECT_RESULT(0), SEND(ALL));
	io_all(f, SESS_READY_OUT, T0 + 10 * MS);
	f->rx_stamp = WALL + 12 * MS;
	SCRIPT(f, RECV(ALL), SEND(ALL), RECV(-EAGAIN));
	io_all(f, SESS_READY_IN, T0 + 30 * MS);
	f->rx_stamp = WALL + 32 * MS + 500;
	f->tcp = (struct sess_tcp){ .rtt_us = 60, .rttvar_us = 20, .total_retrans = 1 };
	SCRIPT(f, RECV(ALL));
	io_all(f, SESS_READY_IN, T0 + 40 * MS);
	script_done(f);
	assert_result(f, 1, SERR_NONE, 0, 50 * NSEC_PER_USEC, 50 * NSEC_PER_USEC + 4 * MS + 500);
	ck_assert(f->res[0].kernel_timed);
	/* TCP_INFO after the connect and at the end; the retransmit is the cycle's. */
	ck_assert_uint_eq(f->tcp_reads, 2);
	ck_assert_uint_eq(f->res[0].retransmits, 1);
	ck_assert_uint_eq(f->s.tcp.rtt_us, 60);
	ck_assert_uint_eq(f->s.tcp.rttvar_us, 20);

	/* A missing TX stamp, a retransmitted SYN (no RTT sample): the loop's clock for
	 * the connect and that exchange, the kernel's for the other; the connection's
	 * retransmits count once. */
	f->n_tx = 1;
	f->tx_key[0] = 2 * MSG_LEN - 1;
	f->tx_at[0] = WALL + 1030 * MS;
	f->tcp = (struct sess_tcp){ .rtt_us = 70, .total_retrans = 1 };
	connect_slowly(f, T0 + 40 * MS + PAUSE);
	SCRIPT(f, CONNECT_RESULT(0), SEND(ALL));
	io_all(f, SESS_READY_OUT, T0 + 1040 * MS + 1 * SEC);
	SCRIPT(f, RECV(ALL), SEND(ALL), RECV(-EAGAIN));
	io_all(f, SESS_READY_IN, T0 + 1050 * MS + 1 * SEC);
	f->rx_stamp = WALL + 1031 * MS;
	SCRIPT(f, RECV(ALL));
	io_all(f, SESS_READY_IN, T0 + 1060 * MS + 1 * SEC);
	script_done(f);
	assert_result(f, 2, SERR_NONE, 0, 1 * SEC, 1 * SEC + 10 * MS + 1 * MS);
	ck_assert_uint_eq(f->res[1].retransmits, 1);
	fix_free(f);
}
END_TEST

/* A stamp that says an exchange took longer than the loop saw (a wall clock step)
 * is not believed. */
START_TEST(test_kernel_timing_clock_step)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	f->env.io = &fake_stamped_io;
	f->tcp = (struct sess_tcp){ .rtt_us = 50 };
	f->n_tx = 1;
	f->tx_key[0] = MSG_LEN - 1;
	f->tx_at[0] = WALL;
	f->conf.n_messages = 1;
	f->conf.msg_bytes = MSG_LEN;
	connect_slowly(f, T0);
	SCRIPT(f, CONNECT_RESULT(0), SEND(ALL));
	io_all(f, SESS_READY_OUT, T0 + 1 * MS);
	f->rx_stamp = WALL + 1 * SEC;
	SCRIPT(f, RECV(ALL));
	io_all(f, SESS_READY_IN, T0 + 3 * MS);
	script_done(f);
	assert_result(f, 1, SERR_NONE, 0, 50 * NSEC_PER_USEC, 50 * NSEC_PER_USEC + 2 * MS);
	fix_free(f);
}
END_TEST

/* The receive buffer bounds each read; a message longer than it takes several. */
START_TEST(test_recv_bounded_by_scratch)
{
	static const size_t want[] = { 8, 8, 7, 8, 8, 7 };
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	f->env.scratch_len = 8;
	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
	fire(f, T0);
	SCRIPT(f, RECV(ALL), RECV(ALL), RECV(ALL), SEND(ALL), RECV(ALL), RECV(ALL), RECV(ALL));
	io_all(f, SESS_READY_IN, T0 + 1 * MS);
	script_done(f);
	assert_result(f, 1, SERR_NONE, 0, 0, 1 * MS);
	ck_assert_uint_eq(f->n_recv, ELEMENTSOF(want));
	for (size_t i = 0; i < ELEMENTSOF(want); i++)
		ck_assert_uint_eq(f->recv_asked[i], want[i]);
	fix_free(f);
}
END_TEST

/* Failures of connect() itself: no fd to close, classified by errno and phase. */
static const struct connect_fail_case {
	int err;
	enum io_phase phase;
	enum session_error want;
} connect_fail_cases[] = {
	{ ECONNREFUSED, PHASE_CONNECT, SERR_REFUSED },
	{ EMFILE, PHASE_SOCKET, SERR_RESOURCE },
	{ ENFILE, PHASE_SOCKET, SERR_RESOURCE },
	{ ENOBUFS, PHASE_SOCKET, SERR_RESOURCE },
	{ EADDRNOTAVAIL, PHASE_CONNECT, SERR_RESOURCE },
	{ EAGAIN, PHASE_CONNECT, SERR_RESOURCE },
	{ EADDRNOTAVAIL, PHASE_BIND, SERR_UNREACHABLE },
	{ ENETUNREACH, PHASE_CONNECT, SERR_UNREACHABLE },
	{ EHOSTUNREACH, PHASE_CONNECT, SERR_UNREACHABLE },
};

START_TEST(test_connect_fails_at_once)
{
	const struct connect_fail_case *c = &connect_fail_cases[_i];
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);
	struct step st = CONNECT(-c->err, c->phase);

	for (unsigned k = 1; k <= 3; k++) {
		int64_t now = T0 + (int64_t)(k - 1) * PAUSE;

		script_set(f, &st, 1);
		fire(f, now);
		script_done(f);
		assert_result(f, k, c->want, c->err, -1, 0);
		assert_state(f, SESS_IDLE);
		ck_assert_int_eq(f->s.fd, -1);
		assert_due(f, now + PAUSE);
		ck_assert_uint_eq(f->s.fails, k);
		ck_assert_uint_eq(f->s.cycles_failed, k);
		ck_assert_uint_eq(f->s.last_result, c->want);
		ck_assert_int_eq(f->s.last_errno, c->err);
	}
	ck_assert_uint_eq(f->closes, 0);
	fix_free(f);
}
END_TEST

/* Failures reported when a connect in progress ends. */
static const struct connect_fail_case connect_result_cases[] = {
	{ ECONNREFUSED, PHASE_CONNECT, SERR_REFUSED },
	{ ETIMEDOUT, PHASE_CONNECT, SERR_CONNECT_TIMEOUT },
	{ ENETUNREACH, PHASE_CONNECT, SERR_UNREACHABLE },
	{ EHOSTUNREACH, PHASE_CONNECT, SERR_UNREACHABLE },
};

START_TEST(test_connect_result_fails)
{
	const struct connect_fail_case *c = &connect_result_cases[_i];
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);
	struct step st = CONNECT_RESULT(-c->err);
	int fd;

	connect_slowly(f, T0);
	fd = f->s.fd;
	script_set(f, &st, 1);
	/* EPOLLERR | EPOLLHUP: the loop reports both directions ready. */
	io_all(f, SESS_READY_IN | SESS_READY_OUT, T0 + 30 * MS);
	script_done(f);
	assert_result(f, 1, c->want, c->err, -1, 30 * MS);
	assert_state(f, SESS_IDLE);
	ck_assert_uint_eq(f->closes, 1);
	ck_assert_int_eq(f->closed_fd[0], fd);
	assert_due(f, T0 + 30 * MS + PAUSE);
	ck_assert_uint_eq(f->s.fails, 1);
	fix_free(f);
}
END_TEST

/* The deadline passes while connecting: connect_timeout when connect_timeout has
 * passed, timeout when the shorter overall timeout came first. */
static const struct connect_timeout_case {
	int64_t connect_timeout;
	int64_t timeout;
	int64_t due;
	enum session_error want;
} connect_timeout_cases[] = {
	{ 2 * SEC, 5 * SEC, 2 * SEC, SERR_CONNECT_TIMEOUT },
	{ 5 * SEC, 5 * SEC, 5 * SEC, SERR_CONNECT_TIMEOUT },
	{ 8 * SEC, 5 * SEC, 5 * SEC, SERR_TIMEOUT },
};

START_TEST(test_connect_timeout)
{
	const struct connect_timeout_case *c = &connect_timeout_cases[_i];
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	f->conf.connect_timeout = c->connect_timeout;
	f->conf.timeout = c->timeout;
	connect_slowly(f, T0);
	assert_due(f, T0 + c->due);
	fire(f, T0 + c->due);
	script_done(f);
	assert_result(f, 1, c->want, ETIME, -1, c->due);
	assert_state(f, SESS_IDLE);
	ck_assert_uint_eq(f->closes, 1);
	assert_due(f, T0 + c->due + PAUSE);
	fix_free(f);
}
END_TEST

/* Connected, but the echo never completes: timeout at cycle start + timeout, whether
 * the session was stuck sending or waiting for the echo. */
START_TEST(test_exchange_timeout)
{
	static const struct step stuck[][4] = {
		{ CONNECT_RESULT(0), SEND(ALL), RECV(5), RECV(-EAGAIN) },
		{ CONNECT_RESULT(0), SEND(3), SEND(-EAGAIN) },
		{ CONNECT_RESULT(0), SEND(ALL), RECV(ALL), SEND(-EAGAIN) },
	};
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	connect_slowly(f, T0);
	script_set_until_end(f, stuck[_i], ELEMENTSOF(stuck[_i]));
	io_all(f, SESS_READY_OUT | SESS_READY_IN, T0 + 1 * MS);
	assert_state(f, SESS_EXCHANGING);
	fire(f, T0 + 5 * SEC);
	script_done(f);
	assert_result(f, 1, SERR_TIMEOUT, ETIME, 1 * MS, 5 * SEC);
	assert_state(f, SESS_IDLE);
	ck_assert_uint_eq(f->closes, 1);
	assert_due(f, T0 + 5 * SEC + PAUSE);
	fix_free(f);
}
END_TEST

/* Failures during the exchange, each scripted after a connect that completes at
 * T0 + 1 ms, all in that one event. */
static const struct exchange_fail_case {
	const char *what;
	struct step steps[8];
	enum session_error want;
	int err_no;
} exchange_fail_cases[] = {
	{ "send EPIPE", { SEND(-EPIPE) }, SERR_RESET, EPIPE },
	{ "send ECONNRESET after a short write", { SEND(10), SEND(-ECONNRESET) }, SERR_RESET,
	  ECONNRESET },
	{ "recv ECONNRESET mid-echo", { SEND(ALL), RECV(5), RECV(-ECONNRESET) }, SERR_RESET,
	  ECONNRESET },
	{ "recv ETIMEDOUT", { SEND(ALL), RECV(-ETIMEDOUT) }, SERR_TIMEOUT, ETIMEDOUT },
	{ "send ECONNRESET on message 2", { SEND(ALL), RECV(ALL), SEND(-ECONNRESET) },
	  SERR_RESET, ECONNRESET },
	{ "eof before any echo", { SEND(ALL), RECV(0) }, SERR_EOF, 0 },
	{ "eof mid-echo", { SEND(ALL), RECV(MSG_LEN - 1), RECV(0) }, SERR_EOF, 0 },
	{ "eof in message 2", { SEND(ALL), RECV(ALL), SEND(ALL), RECV(0) }, SERR_EOF, 0 },
	{ "wrong echo", { SEND(ALL), RECV_BYTES("Message 1 from server.") }, SERR_MISMATCH, 0 },
	{ "wrong first byte, rest not arrived", { SEND(ALL), RECV_BYTES("m") }, SERR_MISMATCH,
	  0 },
	{ "wrong byte after a good prefix",
	  { SEND(ALL), RECV(ALL), SEND(ALL), RECV(10), RECV_BYTES("X") },
	  SERR_MISMATCH,
	  0 },
	{ "a byte beyond the echo, never sent", { SEND(ALL), RECV_BYTES(MSG1 "x") },
	  SERR_MISMATCH, 0 },
	{ "echo of message 1 for message 2",
	  { SEND(ALL), RECV(ALL), SEND(ALL), RECV_BYTES("Message 1") },
	  SERR_MISMATCH,
	  0 },
};

START_TEST(test_exchange_fails)
{
	const struct exchange_fail_case *c = &exchange_fail_cases[_i];
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);
	struct step steps[9] = { CONNECT_RESULT(0) };
	int fd;

	memcpy(&steps[1], c->steps, sizeof(c->steps));
	connect_slowly(f, T0);
	fd = f->s.fd;
	script_set_until_end(f, steps, ELEMENTSOF(steps));
	io_all(f, SESS_READY_OUT | SESS_READY_IN, T0 + 1 * MS);
	/* No call after the failure: the script must end exactly there. */
	script_done(f);
	ck_assert_msg(f->n_res == 1 && f->res[0].err == c->want, "%s: %u results, first %s",
		      c->what, f->n_res, f->n_res ? session_error_name(f->res[0].err) : "-");
	assert_result(f, 1, c->want, c->err_no, 1 * MS, 1 * MS);
	assert_state(f, SESS_IDLE);
	ck_assert_int_eq(f->s.fd, -1);
	ck_assert_uint_eq(f->closes, 1);
	ck_assert_int_eq(f->closed_fd[0], fd);
	assert_due(f, T0 + 1 * MS + PAUSE);
	ck_assert_uint_eq(f->s.cycles_failed, 1);
	ck_assert_uint_eq(f->s.fails, 1);
	ck_assert_int_eq(f->s.last_latency, -1);
	fix_free(f);
}
END_TEST

/* The echo trickles in a byte per event; the first wrong byte ends the cycle at once,
 * without waiting for the rest. */
START_TEST(test_mismatch_at_first_wrong_byte)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
	fire(f, T0);
	for (int k = 0; k < 4; k++) {
		SCRIPT(f, RECV(1));
		io_all(f, SESS_READY_IN, T0 + (k + 1) * MS);
	}
	ck_assert_uint_eq(f->n_res, 0);
	SCRIPT(f, RECV_BYTES("X"));
	io_all(f, SESS_READY_IN, T0 + 5 * MS);
	script_done(f);
	assert_result(f, 1, SERR_MISMATCH, 0, 0, 5 * MS);
	assert_state(f, SESS_IDLE);
	ck_assert_uint_eq(f->closes, 1);
	/* Later readiness on the old connection is an unexpected event. */
	f->s.ready = SESS_READY_IN;
	ck_assert_int_eq(session_handle(&f->s, &f->env, SEV_IO, T0 + 6 * MS), -EBADE);
	fix_free(f);
}
END_TEST

/* Every connection is closed exactly once, with RST when the target asks for it. */
START_TEST(test_close_once_per_cycle)
{
	enum close_mode mode = _i ? CLOSE_RST : CLOSE_FIN;
	struct fix *f = fix_new(MODE_CYCLE, mode);
	int64_t now = T0;

	/* An ok cycle. */
	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
	fire(f, now);
	SCRIPT(f, RECV(ALL), SEND(ALL), RECV(ALL));
	io_all(f, SESS_READY_IN, now);
	ck_assert_uint_eq(f->closes, 1);
	/* A mismatch. */
	now += PAUSE;
	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
	fire(f, now);
	SCRIPT(f, RECV_BYTES("?"));
	io_all(f, SESS_READY_IN, now);
	ck_assert_uint_eq(f->closes, 2);
	/* A refused connect: there is nothing to close. */
	now += PAUSE;
	SCRIPT(f, CONNECT(-ECONNREFUSED, PHASE_CONNECT));
	fire(f, now);
	ck_assert_uint_eq(f->closes, 2);
	/* A connect timeout. */
	now += PAUSE;
	SCRIPT(f, CONNECT(-EINPROGRESS, PHASE_CONNECT));
	fire(f, now);
	fire(f, now + 2 * SEC);
	ck_assert_uint_eq(f->closes, 3);
	/* An exchange timeout. */
	now += 2 * SEC + PAUSE;
	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(-EAGAIN));
	fire(f, now);
	fire(f, now + 5 * SEC);
	script_done(f);
	ck_assert_uint_eq(f->n_res, 5);
	ck_assert_uint_eq(f->n_connects, 5);
	ck_assert_uint_eq(f->closes, 4);
	for (unsigned i = 0; i < f->closes; i++) {
		ck_assert_int_eq(f->closed_rst[i], mode == CLOSE_RST);
		for (unsigned j = 0; j < i; j++)
			ck_assert_int_ne(f->closed_fd[i], f->closed_fd[j]);
	}
	for (int fd = 0; fd < MAX_FDS; fd++)
		ck_assert_uint_eq(f->open[fd], 0);
	fix_free(f);
}
END_TEST

/* The next cycle is due at the result's time plus the pause on_result returns. */
START_TEST(test_timer_rearmed_after_result)
{
	static const int64_t pauses[] = { 1 * SEC, 0, 250 * MS, 30 * SEC, 7 };
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);
	int64_t now = T0;

	for (size_t i = 0; i < ELEMENTSOF(pauses); i++) {
		f->pause = pauses[i];
		if (i % 2 == 0) {
			SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
			fire(f, now);
			SCRIPT(f, RECV(ALL), SEND(ALL), RECV(ALL));
			now += 3 * MS;
			io_all(f, SESS_READY_IN, now);
		} else {
			SCRIPT(f, CONNECT(-ECONNREFUSED, PHASE_CONNECT));
			fire(f, now);
		}
		ck_assert_uint_eq(f->n_res, i + 1);
		ck_assert_int_eq(f->res_at[i], now);
		assert_due(f, now + pauses[i]);
		now += pauses[i];
	}
	script_done(f);
	fix_free(f);
}
END_TEST

/* Persistent mode. */

/* Run a first persistent cycle: connect in progress at T0, connected and fully echoed
 * at T0 + 1 ms; the session then holds the connection. */
static void persistent_first_cycle(struct fix *f)
{
	connect_slowly(f, T0);
	/* Holding, the connection is read until EAGAIN: a FIN that came with the last
	 * echo makes no new edge. */
	SCRIPT(f, CONNECT_RESULT(0), SEND(ALL), RECV(ALL), SEND(ALL), RECV(ALL), RECV(-EAGAIN));
	io_all(f, SESS_READY_OUT | SESS_READY_IN, T0 + 1 * MS);
	script_done(f);
	assert_result(f, 1, SERR_NONE, 0, 1 * MS, 1 * MS);
	assert_state(f, SESS_HOLDING);
	ck_assert_int_ge(f->s.fd, 3);
	ck_assert_uint_eq(f->closes, 0);
	assert_due(f, T0 + 1 * MS + PAUSE);
}

START_TEST(test_persistent_reuse)
{
	struct fix *f = fix_new(MODE_PERSISTENT, CLOSE_FIN);
	int64_t now = T0 + 1 * MS + PAUSE;
	int fd;

	persistent_first_cycle(f);
	fd = f->s.fd;
	/* Nothing new is reported on an idle writable socket (edge-triggered), so the
	 * next cycle must send on the readiness it remembers, without an event. */
	SCRIPT(f, SEND(ALL));
	fire(f, now);
	assert_state(f, SESS_EXCHANGING);
	assert_due(f, now + 5 * SEC);
	SCRIPT(f, RECV(ALL), SEND(ALL), RECV(ALL), RECV(-EAGAIN));
	io_all(f, SESS_READY_IN, now + 2 * MS);
	script_done(f);
	/* No connect in this cycle. */
	assert_result(f, 2, SERR_NONE, 0, -1, 2 * MS);
	assert_state(f, SESS_HOLDING);
	ck_assert_int_eq(f->s.fd, fd);
	ck_assert_uint_eq(f->n_connects, 1);
	ck_assert_uint_eq(f->closes, 0);
	ck_assert_mem_eq(f->wire, MSG1 MSG2 MSG1 MSG2, 4 * MSG_LEN);
	assert_due(f, now + 2 * MS + PAUSE);

	/* A failure drops the connection; the cycle after reconnects. */
	now += 2 * MS + PAUSE;
	SCRIPT(f, SEND(-EPIPE));
	fire(f, now);
	script_done(f);
	assert_result(f, 3, SERR_RESET, EPIPE, -1, 0);
	assert_state(f, SESS_IDLE);
	ck_assert_uint_eq(f->closes, 1);
	ck_assert_int_eq(f->closed_fd[0], fd);
	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
	fire(f, now + PAUSE);
	SCRIPT(f, RECV(ALL), SEND(ALL), RECV(ALL), RECV(-EAGAIN));
	io_all(f, SESS_READY_IN, now + PAUSE + 2 * MS);
	script_done(f);
	assert_result(f, 4, SERR_NONE, 0, 0, 2 * MS);
	assert_state(f, SESS_HOLDING);
	ck_assert_int_ne(f->s.fd, fd);
	ck_assert_uint_eq(f->n_connects, 2);
	fix_free(f);
}
END_TEST

/* Readiness reported while holding, with nothing to read, changes nothing; the next
 * cycle sends at once and reads only once the echo is reported. */
START_TEST(test_persistent_holding_events)
{
	struct fix *f = fix_new(MODE_PERSISTENT, CLOSE_FIN);
	int64_t now = T0 + 1 * MS + PAUSE;

	persistent_first_cycle(f);
	SCRIPT(f, RECV(-EAGAIN));
	io_all(f, SESS_READY_IN, T0 + 2 * MS);
	assert_state(f, SESS_HOLDING);
	ck_assert_uint_eq(f->s.ready & SESS_READY_IN, 0);
	script_done(f);
	io_all(f, SESS_READY_OUT, T0 + 3 * MS);
	assert_state(f, SESS_HOLDING);
	ck_assert_uint_eq(f->n_res, 1);
	ck_assert_uint_eq(f->closes, 0);
	assert_due(f, now);

	SCRIPT(f, SEND(5), SEND(-EAGAIN));
	fire(f, now);
	SCRIPT(f, SEND(ALL));
	io_all(f, SESS_READY_OUT, now + 1 * MS);
	SCRIPT(f, RECV(ALL), SEND(ALL), RECV(ALL), RECV(-EAGAIN));
	io_all(f, SESS_READY_IN, now + 2 * MS);
	script_done(f);
	assert_result(f, 2, SERR_NONE, 0, -1, 2 * MS);
	assert_state(f, SESS_HOLDING);
	ck_assert_uint_eq(f->closes, 0);
	ck_assert_uint_eq(f->n_connects, 1);
	fix_free(f);
}
END_TEST

/* The peer closes (or resets) a held connection: drop it quietly, no failure counted,
 * and reconnect when the next cycle is due. */
START_TEST(test_persistent_drop_while_holding)
{
	static const long ends[] = { 0, -ECONNRESET };
	struct fix *f = fix_new(MODE_PERSISTENT, CLOSE_RST);
	struct step st = RECV(ends[_i]);
	int64_t due = T0 + 1 * MS + PAUSE;
	int fd;

	persistent_first_cycle(f);
	fd = f->s.fd;
	script_set(f, &st, 1);
	io_all(f, SESS_READY_IN, T0 + 500 * MS);
	script_done(f);
	ck_assert_uint_eq(f->n_res, 1);
	ck_assert_uint_eq(f->s.fails, 0);
	ck_assert_uint_eq(f->s.cycles_failed, 0);
	ck_assert_int_eq(f->s.fd, -1);
	ck_assert_uint_eq(f->closes, 1);
	ck_assert_int_eq(f->closed_fd[0], fd);
	ck_assert(f->closed_rst[0]);
	assert_state(f, SESS_IDLE);
	/* The next cycle stays where it was. */
	assert_due(f, due);
	SCRIPT(f, CONNECT(-EINPROGRESS, PHASE_CONNECT));
	fire(f, due);
	assert_state(f, SESS_CONNECTING);
	ck_assert_int_ne(f->s.fd, fd);
	SCRIPT(f, CONNECT_RESULT(0), SEND(ALL), RECV(ALL), SEND(ALL), RECV(ALL), RECV(-EAGAIN));
	io_all(f, SESS_READY_OUT | SESS_READY_IN, due + 4 * MS);
	script_done(f);
	assert_result(f, 2, SERR_NONE, 0, 4 * MS, 4 * MS);
	assert_state(f, SESS_HOLDING);
	ck_assert_uint_eq(f->closes, 1);
	fix_free(f);
}
END_TEST

/* Bytes nobody asked for arrive on a held connection: a mismatch. */
/* The peer echoes and closes at once: the FIN is seen in the same edge as the last
 * echo, the cycle counts as ok, and the connection is dropped quietly. */
START_TEST(test_persistent_fin_with_last_echo)
{
	struct fix *f = fix_new(MODE_PERSISTENT, CLOSE_FIN);

	connect_slowly(f, T0);
	SCRIPT(f, CONNECT_RESULT(0), SEND(ALL), RECV(ALL), SEND(ALL));
	io(f, SESS_READY_OUT | SESS_READY_IN, T0 + 1 * MS);
	/* One edge brings the last echo and the FIN: the short read must not end the
	 * reading, or the FIN would wait for the next cycle to be found. */
	SCRIPT(f, RECV(ALL), RECV(0));
	io(f, SESS_READY_IN | SESS_READY_HUP, T0 + 1 * MS);
	script_done(f);
	ck_assert_uint_eq(f->n_res, 1);
	assert_result(f, 1, SERR_NONE, 0, 1 * MS, 1 * MS);
	assert_state(f, SESS_IDLE);
	ck_assert_int_eq(f->s.fd, -1);
	ck_assert_uint_eq(f->closes, 1);
	ck_assert_uint_eq(f->s.fails, 0);
	assert_due(f, T0 + 1 * MS + PAUSE);
	SCRIPT(f, CONNECT(-EINPROGRESS, PHASE_CONNECT));
	fire(f, T0 + 1 * MS + PAUSE);
	assert_state(f, SESS_CONNECTING);
	fix_free(f);
}
END_TEST

START_TEST(test_persistent_stray_bytes)
{
	struct fix *f = fix_new(MODE_PERSISTENT, CLOSE_FIN);
	int64_t now = T0 + 300 * MS;

	persistent_first_cycle(f);
	SCRIPT(f, RECV_BYTES("x"));
	io_all(f, SESS_READY_IN, now);
	script_done(f);
	assert_result(f, 2, SERR_MISMATCH, 0, -1, 0);
	ck_assert_int_eq(f->res_at[1], now);
	assert_state(f, SESS_IDLE);
	ck_assert_int_eq(f->s.fd, -1);
	ck_assert_uint_eq(f->closes, 1);
	ck_assert_uint_eq(f->s.fails, 1);
	assert_due(f, now + PAUSE);
	SCRIPT(f, CONNECT(-EINPROGRESS, PHASE_CONNECT));
	fire(f, now + PAUSE);
	assert_state(f, SESS_CONNECTING);
	fix_free(f);
}
END_TEST

/* Stop. */

enum stop_at { STOP_IDLE, STOP_CONNECTING, STOP_EXCHANGING, STOP_HOLDING, _STOP_MAX };

START_TEST(test_stop)
{
	enum stop_at at = (enum stop_at)_i;
	struct fix *f = fix_new(at == STOP_HOLDING ? MODE_PERSISTENT : MODE_CYCLE, CLOSE_RST);
	unsigned want_closes = at == STOP_IDLE ? 0 : 1;
	unsigned n_res;

	if (at == STOP_CONNECTING) {
		connect_slowly(f, T0);
	} else if (at == STOP_EXCHANGING) {
		SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
		fire(f, T0);
		SCRIPT(f, RECV(3), RECV(-EAGAIN));
		io_all(f, SESS_READY_IN, T0 + 1 * MS);
		assert_state(f, SESS_EXCHANGING);
	} else if (at == STOP_HOLDING) {
		persistent_first_cycle(f);
	}
	n_res = f->n_res;
	script_done(f);
	ck_assert_int_eq(session_handle(&f->s, &f->env, SEV_STOP, T0 + 9 * MS), 0);
	assert_state(f, SESS_STOPPED);
	ck_assert_int_eq(f->s.fd, -1);
	ck_assert(!timer_armed(&f->timers, SID));
	ck_assert_int_eq(timer_next_due(&f->timers), INT64_MAX);
	ck_assert_uint_eq(f->closes, want_closes);
	if (want_closes)
		ck_assert(f->closed_rst[0]);
	/* Stopping is not a cycle result. */
	ck_assert_uint_eq(f->n_res, n_res);
	/* A stopped session does nothing, and says so. */
	f->s.ready = SESS_READY_IN | SESS_READY_OUT;
	ck_assert_int_eq(session_handle(&f->s, &f->env, SEV_TIMER, T0 + 10 * SEC), -EBADE);
	ck_assert_int_eq(session_handle(&f->s, &f->env, SEV_IO, T0 + 10 * SEC), -EBADE);
	ck_assert_int_eq(session_handle(&f->s, &f->env, SEV_STOP, T0 + 10 * SEC), 0);
	assert_state(f, SESS_STOPPED);
	ck_assert_uint_eq(f->closes, want_closes);
	ck_assert(!timer_armed(&f->timers, SID));
	fix_free(f);
}
END_TEST

START_TEST(test_io_in_idle_is_unexpected)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	script_done(f);
	f->s.ready = SESS_READY_IN | SESS_READY_OUT;
	ck_assert_int_eq(session_handle(&f->s, &f->env, SEV_IO, T0 - 1), -EBADE);
	assert_state(f, SESS_IDLE);
	assert_due(f, T0);
	ck_assert_uint_eq(f->n_res, 0);
	ck_assert_uint_eq(f->n_connects, 0);
	fix_free(f);
}
END_TEST

/* An event the machine does not know is an error in every state, never acted on. */
START_TEST(test_unknown_event_is_unexpected)
{
	enum stop_at at = (enum stop_at)_i;
	struct fix *f = fix_new(at == STOP_HOLDING ? MODE_PERSISTENT : MODE_CYCLE, CLOSE_FIN);
	enum session_state st;
	int64_t due;

	if (at == STOP_CONNECTING) {
		connect_slowly(f, T0);
	} else if (at == STOP_EXCHANGING) {
		SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
		fire(f, T0);
	} else if (at == STOP_HOLDING) {
		persistent_first_cycle(f);
	}
	script_done(f);
	st = (enum session_state)f->s.state;
	due = timer_next_due(&f->timers);
	ck_assert_int_eq(session_handle(&f->s, &f->env, _SEV_MAX, T0 + 20 * SEC), -EBADE);
	assert_state(f, st);
	assert_due(f, due);
	ck_assert_uint_eq(f->n_res, at == STOP_HOLDING ? 1 : 0);
	fix_free(f);
}
END_TEST

/* A deadline fires with the echo already waiting, unread because the loop was held
 * up: the last look reads it and the cycle succeeds instead of timing out. */
START_TEST(test_last_look_finds_echo)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
	fire(f, T0);
	assert_state(f, SESS_EXCHANGING);
	SCRIPT(f, RECV(ALL), SEND(ALL));
	io_all(f, SESS_READY_IN, T0 + 1 * MS);
	f->look_ready = SESS_READY_IN;
	SCRIPT(f, RECV(ALL));
	fire(f, T0 + 5 * SEC);
	script_done(f);
	ck_assert_uint_eq(f->looks, 1);
	assert_result(f, 1, SERR_NONE, 0, 0, 5 * SEC);
	assert_state(f, SESS_IDLE);
	fix_free(f);
}
END_TEST

/* The connect deadline fires on a connection that has in fact been made: the cycle
 * goes on to the exchange and nothing is counted. The exchange gets a whole timeout
 * from that look, also when connect_timeout equals timeout and the cycle's own
 * deadline has passed already. */
static const struct {
	int64_t connect_timeout;
	int64_t due;
} look_connection_cases[] = {
	{ 1 * SEC, 1 * SEC + 5 * SEC },
	{ 5 * SEC, 5 * SEC + 5 * SEC },
};

START_TEST(test_last_look_finds_connection)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);
	int64_t ct = look_connection_cases[_i].connect_timeout;

	f->conf.connect_timeout = ct;
	connect_slowly(f, T0);
	f->look_ready = SESS_READY_OUT;
	SCRIPT(f, CONNECT_RESULT(0), SEND(ALL));
	fire(f, T0 + ct);
	script_done(f);
	ck_assert_uint_eq(f->looks, 1);
	ck_assert_uint_eq(f->n_res, 0);
	assert_state(f, SESS_EXCHANGING);
	assert_due(f, T0 + look_connection_cases[_i].due);
	/* The echo then comes: an ordinary success. */
	SCRIPT(f, RECV(ALL), SEND(ALL), RECV(ALL));
	io_all(f, SESS_READY_IN, T0 + ct + 1 * MS);
	script_done(f);
	assert_result(f, 1, SERR_NONE, 0, ct, ct + 1 * MS);
	fix_free(f);
}
END_TEST

/* The deadline fires with the echo of message 1 waiting, unread because the loop was
 * held up: the look reads it and sends message 2. The cycle is not failed, and message
 * 2 gets a whole timeout from the look. */
static void rescue_message_1(struct fix *f)
{
	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
	fire(f, T0);
	assert_due(f, T0 + 5 * SEC);
	f->look_ready = SESS_READY_IN;
	SCRIPT(f, RECV(ALL), SEND(ALL));
	fire(f, T0 + 5 * SEC);
	script_done(f);
	ck_assert_uint_eq(f->looks, 1);
	ck_assert_uint_eq(f->n_res, 0);
	assert_state(f, SESS_EXCHANGING);
	assert_due(f, T0 + 10 * SEC);
}

START_TEST(test_last_look_moves_on_a_step)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	rescue_message_1(f);
	SCRIPT(f, RECV(ALL));
	io_all(f, SESS_READY_IN, T0 + 5 * SEC + 1 * MS);
	script_done(f);
	assert_result(f, 1, SERR_NONE, 0, 0, 5 * SEC + 1 * MS);
	ck_assert_mem_eq(f->wire, MSG1 MSG2, 2 * MSG_LEN);
	fix_free(f);
}
END_TEST

/* A target that stops answering after a rescued step still fails, as timeout, at the
 * next deadline: a look that finds nothing new rescues nothing. */
START_TEST(test_last_look_then_silence)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	rescue_message_1(f);
	f->look_ready = SESS_READY_IN;
	SCRIPT(f, RECV(-EAGAIN));
	fire(f, T0 + 10 * SEC);
	script_done(f);
	ck_assert_uint_eq(f->looks, 2);
	assert_result(f, 1, SERR_TIMEOUT, ETIME, 0, 10 * SEC);
	assert_state(f, SESS_IDLE);
	fix_free(f);
}
END_TEST

/* Part of an echo is not a step: bytes of message 1 without its end fail the cycle. */
START_TEST(test_last_look_partial_echo_fails)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
	fire(f, T0);
	f->look_ready = SESS_READY_IN;
	SCRIPT(f, RECV(5));
	fire(f, T0 + 5 * SEC);
	script_done(f);
	assert_result(f, 1, SERR_TIMEOUT, ETIME, 0, 5 * SEC);
	fix_free(f);
}
END_TEST

/* Nothing there at the deadline: the look finds nothing and the cycle times out. */
START_TEST(test_last_look_finds_nothing)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
	fire(f, T0);
	SCRIPT(f, RECV(-EAGAIN));
	f->look_ready = SESS_READY_IN;
	fire(f, T0 + 5 * SEC);
	script_done(f);
	ck_assert_uint_eq(f->looks, 1);
	assert_result(f, 1, SERR_TIMEOUT, ETIME, 0, 5 * SEC);
	fix_free(f);
}
END_TEST

/* A deadline that fires 200 ms late (mconnd stopped) with nothing there yet: the
 * request may have reached the target only when mconnd ran again, so the time lost
 * is given back once before the cycle is failed; the echo then comes. */
START_TEST(test_late_deadline_grace)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
	fire(f, T0);
	f->look_ready = SESS_READY_IN;
	SCRIPT(f, RECV(-EAGAIN));
	fire_late(f, T0 + 5 * SEC, T0 + 5 * SEC + 200 * MS);
	script_done(f);
	ck_assert_uint_eq(f->n_res, 0);
	assert_state(f, SESS_EXCHANGING);
	assert_due(f, T0 + 5 * SEC + 400 * MS);
	SCRIPT(f, RECV(ALL), SEND(ALL), RECV(ALL));
	io_all(f, SESS_READY_IN, T0 + 5 * SEC + 201 * MS);
	script_done(f);
	assert_result(f, 1, SERR_NONE, 0, 0, 5 * SEC + 201 * MS);
	fix_free(f);
}
END_TEST

/* A loop still catching up fires the given-back deadline late again: it is given
 * back again, at most one timeout each time, SESS_MAX_GRACES (3) times; then a
 * silent target fails as it would have: a connect as connect_timeout. */
START_TEST(test_late_deadline_grace_bounded)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	connect_slowly(f, T0);
	fire_late(f, T0 + 2 * SEC, T0 + 2 * SEC + 300 * MS);
	ck_assert_uint_eq(f->n_res, 0);
	assert_due(f, T0 + 2 * SEC + 600 * MS);
	fire_late(f, T0 + 2 * SEC + 600 * MS, T0 + 2 * SEC + 650 * MS);
	ck_assert_uint_eq(f->n_res, 0);
	assert_due(f, T0 + 2 * SEC + 700 * MS);
	fire_late(f, T0 + 2 * SEC + 700 * MS, T0 + 9 * SEC);
	ck_assert_uint_eq(f->n_res, 0);
	assert_due(f, T0 + 14 * SEC);
	fire_late(f, T0 + 14 * SEC, T0 + 15 * SEC);
	script_done(f);
	assert_result(f, 1, SERR_CONNECT_TIMEOUT, ETIME, -1, 15 * SEC);
	fix_free(f);
}
END_TEST

/* A deadline less than a millisecond late is on time: no grace. */
START_TEST(test_on_time_deadline_no_grace)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);

	connect_slowly(f, T0);
	fire_late(f, T0 + 2 * SEC, T0 + 2 * SEC + 999 * 1000);
	script_done(f);
	assert_result(f, 1, SERR_CONNECT_TIMEOUT, ETIME, -1, 2 * SEC + 999 * 1000);
	fix_free(f);
}
END_TEST

/* The loop did not run for 1 s (a stop) while message 2 was out: the cycle's times
 * move on by as much, and since the request may have reached the target only when
 * the loop ran again, the step gets at least a whole timeout from then. */
START_TEST(test_stall_gives_a_whole_timeout)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);
	int64_t back = T0 + 4990 * MS + 1 * SEC;

	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
	fire(f, T0);
	SCRIPT(f, RECV(ALL), SEND(ALL));
	io_all(f, SESS_READY_IN, T0 + 1 * MS);
	/* Stopped at T0 + 4990 ms for 1 s: the loop moved the deadline on by as much. */
	timer_set(&f->timers, SID, T0 + 5 * SEC + 1 * SEC);
	session_stalled(&f->s, &f->env, 1 * SEC, back);
	ck_assert_int_eq(f->s.cycle_start, T0 + 1 * SEC);
	ck_assert_int_eq(f->s.connected_at, T0 + 1 * SEC);
	assert_due(f, back + 5 * SEC);
	SCRIPT(f, RECV(ALL));
	io_all(f, SESS_READY_IN, back + 1 * MS);
	script_done(f);
	assert_result(f, 1, SERR_NONE, 0, 0, back + 1 * MS - (T0 + 1 * SEC));
	/* A waiting session's next start is the loop's to move: nothing here. */
	session_stalled(&f->s, &f->env, 1 * SEC, back + 2 * MS);
	assert_due(f, back + 1 * MS + PAUSE);
	fix_free(f);
}
END_TEST

/* A cycle runs under the configuration it started with. */

/* connect_timeout raised mid-connect: the cycle that never connected fails at its own
 * connect_timeout, as connect_timeout; the next cycle waits the new one. */
START_TEST(test_cycle_keeps_connect_timeout)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);
	struct target_conf next;

	f->conf.connect_timeout = 1 * SEC;
	connect_slowly(f, T0);
	next = f->conf;
	next.connect_timeout = 3 * SEC;
	next.timeout = 8 * SEC;
	f->t->conf = &next;
	fire(f, T0 + 1 * SEC);
	script_done(f);
	assert_result(f, 1, SERR_CONNECT_TIMEOUT, ETIME, -1, 1 * SEC);
	connect_slowly(f, T0 + 1 * SEC + PAUSE);
	assert_due(f, T0 + 1 * SEC + PAUSE + 3 * SEC);
	fire(f, T0 + 1 * SEC + PAUSE + 3 * SEC);
	script_done(f);
	assert_result(f, 2, SERR_CONNECT_TIMEOUT, ETIME, -1, 3 * SEC);
	f->t->conf = &f->conf;
	fix_free(f);
}
END_TEST

/* timeout changed after the cycle started: the exchange deadline is the cycle's own,
 * lowered or raised; so are the messages it sends. */
START_TEST(test_cycle_keeps_timeout_and_messages)
{
	static const int64_t timeouts[] = { 2 * SEC, 30 * SEC };
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_FIN);
	struct target_conf next;
	static uint8_t other[] = "other";

	connect_slowly(f, T0);
	next = f->conf;
	next.timeout = timeouts[_i];
	next.connect_timeout = MIN(next.connect_timeout, next.timeout);
	next.msg = other;
	next.n_messages = 1;
	next.msg_end[0] = 5;
	next.msg_bytes = 5;
	f->t->conf = &next;
	SCRIPT(f, CONNECT_RESULT(0), SEND(ALL));
	io_all(f, SESS_READY_OUT, T0 + 1 * MS);
	script_done(f);
	assert_due(f, T0 + 5 * SEC);
	SCRIPT(f, RECV(ALL), SEND(ALL), RECV(ALL));
	io_all(f, SESS_READY_IN, T0 + 2 * MS);
	script_done(f);
	assert_result(f, 1, SERR_NONE, 0, 1 * MS, 2 * MS);
	ck_assert_mem_eq(f->wire, MSG1 MSG2, 2 * MSG_LEN);
	f->t->conf = &f->conf;
	fix_free(f);
}
END_TEST

/* A configuration replaced while a cycle runs under it (a reload frees the old one,
 * a second `set` drops the first set's copy) lives until that cycle ends. */
START_TEST(test_cycle_holds_its_conf)
{
	struct fix *f = fix_new(MODE_CYCLE, CLOSE_RST);
	struct target_conf *mine;
	char err[128] = "";

	f->conf.address_given = true;
	ck_assert_msg(config_target_set(&f->conf, "timeout", "3s", &mine, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(mine->refs, 1);
	f->t->conf = mine;
	connect_slowly(f, T0);
	ck_assert_ptr_eq(f->s.conf, mine);
	ck_assert_uint_eq(mine->refs, 2);
	f->t->conf = &f->conf;
	config_target_unref(mine);
	ck_assert_uint_eq(mine->refs, 1);
	/* Still in use: the connect deadline and the close mode are the cycle's. */
	fire(f, T0 + 2 * SEC);
	script_done(f);
	assert_result(f, 1, SERR_CONNECT_TIMEOUT, ETIME, -1, 2 * SEC);
	ck_assert(f->closed_rst[0]);
	ck_assert_ptr_null(f->s.conf);
	ck_assert_uint_eq(f->conf.refs, 1);
	fix_free(f);
}
END_TEST

/* UDP: one datagram per message over a connected socket. */

static struct fix *fix_new_udp(enum target_mode mode, bool tag)
{
	struct fix *f = fix_new(mode, CLOSE_FIN);

	f->conf.protocol = TPROTO_UDP;
	f->conf.udp_tag = tag;
	return f;
}

/* The first cycle starts at T0: the socket connects at once, message 1 goes out. */
static void udp_first_send(struct fix *f)
{
	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL));
	fire(f, T0);
}

/* Its deadline passes with no echo: the first result is a loss. */
static void udp_lose_first(struct fix *f)
{
	script_done(f);
	fire(f, T0 + 5 * SEC);
	assert_result(f, 1, SERR_LOSS, ETIME, 0, 5 * SEC);
}

/* A UDP cycle: each message goes out whole and its echo comes back whole. */
START_TEST(test_udp_cycle_ok)
{
	struct fix *f = fix_new_udp(MODE_CYCLE, false);

	udp_first_send(f);
	assert_state(f, SESS_EXCHANGING);
	ck_assert_uint_eq(f->wire_len, MSG_LEN);
	SCRIPT(f, RECV(ALL), SEND(ALL), RECV(ALL));
	io_all(f, SESS_READY_IN, T0 + 2 * MS);
	script_done(f);
	assert_result(f, 1, SERR_NONE, 0, 0, 2 * MS);
	assert_state(f, SESS_IDLE);
	ck_assert_uint_eq(f->closes, 1);
	ck_assert_uint_eq(f->t->udp.sent, 2);
	fix_free(f);
}
END_TEST

/* A second copy of message 1's echo, while message 2's is awaited, is counted and
 * passed over; the cycle goes on. */
START_TEST(test_udp_duplicate_passed_over)
{
	struct fix *f = fix_new_udp(MODE_CYCLE, false);

	udp_first_send(f);
	SCRIPT(f, RECV(ALL), SEND(ALL), RECV_BYTES(MSG1), RECV_BYTES(MSG2));
	io_all(f, SESS_READY_IN, T0 + 2 * MS);
	script_done(f);
	assert_result(f, 1, SERR_NONE, 0, 0, 2 * MS);
	ck_assert_uint_eq(f->t->udp.duplicates, 1);
	fix_free(f);
}
END_TEST

/* No echo within timeout is loss, not timeout. */
START_TEST(test_udp_no_echo_is_loss)
{
	struct fix *f = fix_new_udp(MODE_CYCLE, false);

	udp_first_send(f);
	SCRIPT(f, RECV(-EAGAIN));
	io(f, SESS_READY_IN, T0 + 1 * MS);
	udp_lose_first(f);
	assert_state(f, SESS_IDLE);
	ck_assert_uint_eq(f->closes, 1);
	fix_free(f);
}
END_TEST

/* What a connected UDP socket reports: ICMP port unreachable is refused, the other
 * unreachables are unreachable, bytes never sent are a mismatch. */
static const struct {
	struct step step;
	enum session_error err;
	int err_no;
} udp_fail_cases[] = {
	{ RECV(-ECONNREFUSED), SERR_REFUSED, ECONNREFUSED },
	{ RECV(-EHOSTUNREACH), SERR_UNREACHABLE, EHOSTUNREACH },
	{ RECV(-EMSGSIZE), SERR_UNREACHABLE, EMSGSIZE },
	{ RECV_BYTES("Message 1 from client!"), SERR_MISMATCH, 0 },
	{ RECV_BYTES("Message 1 from client"), SERR_MISMATCH, 0 },
};

START_TEST(test_udp_fails)
{
	struct fix *f = fix_new_udp(MODE_CYCLE, false);

	udp_first_send(f);
	script_set(f, &udp_fail_cases[_i].step, 1);
	io(f, SESS_READY_IN, T0 + 1 * MS);
	script_done(f);
	assert_result(f, 1, udp_fail_cases[_i].err, udp_fail_cases[_i].err_no, 0, 1 * MS);
	assert_state(f, SESS_IDLE);
	fix_free(f);
}
END_TEST

/* A full send buffer is a local shortage, not the target's failure. */
START_TEST(test_udp_send_buffer_full)
{
	struct fix *f = fix_new_udp(MODE_CYCLE, false);

	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(-EAGAIN));
	fire(f, T0);
	script_done(f);
	assert_result(f, 1, SERR_RESOURCE, EAGAIN, 0, 0);
	assert_state(f, SESS_IDLE);
	fix_free(f);
}
END_TEST

/* With tags, a persistent session keeps its socket past a loss; the echo that comes
 * after is counted late and the next cycle is not fooled by it. */
START_TEST(test_udp_tag_late_echo)
{
	struct fix *f = fix_new_udp(MODE_PERSISTENT, true);
	int64_t next = T0 + 5 * SEC + PAUSE;

	udp_first_send(f);
	ck_assert_uint_eq(f->wire_len, UDP_TAG_LEN + MSG_LEN);
	ck_assert(memcmp(f->wire, "mc\0\0\0\0\0\0" MSG1, UDP_TAG_LEN + MSG_LEN) == 0);
	udp_lose_first(f);
	assert_state(f, SESS_HOLDING);
	ck_assert_uint_eq(f->closes, 0);
	SCRIPT(f, RECV(ALL), RECV(-EAGAIN));
	io(f, SESS_READY_IN, T0 + 6 * SEC);
	script_done(f);
	ck_assert_uint_eq(f->t->udp.late, 1);
	ck_assert_uint_eq(f->n_res, 1);
	/* Cycle 1 tags its datagrams 1; only their echoes end it. */
	SCRIPT(f, SEND(ALL));
	fire(f, next);
	ck_assert(memcmp(f->wire + UDP_TAG_LEN + MSG_LEN, "mc\0\0\0\0\0\1" MSG1,
			 UDP_TAG_LEN + MSG_LEN) == 0);
	SCRIPT(f, RECV(ALL), SEND(ALL), RECV(ALL));
	io_all(f, SESS_READY_IN, next + 1 * MS);
	script_done(f);
	assert_result(f, 2, SERR_NONE, 0, -1, 1 * MS);
	assert_state(f, SESS_HOLDING);
	fix_free(f);
}
END_TEST

/* Without tags a failed cycle takes its socket with it: a late echo could not be
 * told from the next cycle's. */
START_TEST(test_udp_untagged_loss_drops_socket)
{
	struct fix *f = fix_new_udp(MODE_PERSISTENT, false);

	udp_first_send(f);
	udp_lose_first(f);
	assert_state(f, SESS_IDLE);
	ck_assert_uint_eq(f->closes, 1);
	fix_free(f);
}
END_TEST

/* Between persistent cycles, a copy of an echo is a duplicate; other bytes fail the
 * cycle to come as a mismatch. */
START_TEST(test_udp_holding_duplicate_then_stray)
{
	struct fix *f = fix_new_udp(MODE_PERSISTENT, false);

	SCRIPT(f, CONNECT(0, PHASE_CONNECT), SEND(ALL), RECV(ALL), SEND(ALL), RECV(ALL));
	fire(f, T0);
	io(f, SESS_READY_IN, T0 + 1 * MS);
	io(f, SESS_READY_IN, T0 + 1 * MS);
	script_done(f);
	assert_state(f, SESS_HOLDING);
	SCRIPT(f, RECV_BYTES(MSG2), RECV_BYTES("x"));
	io(f, SESS_READY_IN, T0 + 2 * MS);
	script_done(f);
	ck_assert_uint_eq(f->t->udp.duplicates, 1);
	assert_result(f, 2, SERR_MISMATCH, 0, -1, 0);
	assert_state(f, SESS_IDLE);
	fix_free(f);
}
END_TEST

/* The matching on its own: what each datagram is, by table. */
static const struct {
	const char *what;
	bool tag;
	uint32_t seq, msg, prev_got;
	bool ended;
	const char *bytes;
	size_t len;
	enum udp_verdict want;
} match_cases[] = {
	{ "the echo", false, 0, 0, 0, false, MSG1, MSG_LEN, UDPV_ECHO },
	{ "a copy of message 1 awaiting 2", false, 0, 1, 0, false, MSG1, MSG_LEN, UDPV_DUPLICATE },
	{ "message 2 before it was sent", false, 0, 0, 0, false, MSG2, MSG_LEN, UDPV_MISMATCH },
	{ "one byte short", false, 0, 0, 0, false, MSG1, MSG_LEN - 1, UDPV_MISMATCH },
	{ "empty", false, 0, 0, 0, false, "", 0, UDPV_MISMATCH },
	{ "any echo after the cycle", false, 0, 2, 0, true, MSG2, MSG_LEN, UDPV_DUPLICATE },
	{ "tagged echo", true, 7, 1, 0, false, "mc\0\1\0\0\0\7" MSG2, 30, UDPV_ECHO },
	{ "tagged, wrong cycle", true, 7, 1, 0, false, "mc\0\1\0\0\0\6" MSG2, 30, UDPV_LATE },
	{ "tagged copy, last cycle", true, 7, 0, 2, false, "mc\0\1\0\0\0\6" MSG2, 30, UDPV_DUPLICATE },
	{ "tagged, cycles ago", true, 7, 0, 2, false, "mc\0\0\0\0\0\2" MSG1, 30, UDPV_LATE },
	{ "tagged, a cycle not begun", true, 7, 0, 2, false, "mc\0\0\0\0\0\10" MSG1, 30, UDPV_MISMATCH },
	{ "tagged, lost one after the end", true, 7, 1, 0, true, "mc\0\1\0\0\0\7" MSG2, 30, UDPV_LATE },
	{ "tagged, a message past the last", true, 7, 0, 0, false, "mc\0\2\0\0\0\7" MSG2, 30, UDPV_MISMATCH },
	{ "tagged, wrong payload", true, 7, 1, 0, false, "mc\0\1\0\0\0\7" MSG1, 30, UDPV_MISMATCH },
	{ "tagged, no magic", true, 7, 1, 0, false, "xx\0\1\0\0\0\7" MSG2, 30, UDPV_MISMATCH },
	{ "tagged, short", true, 7, 1, 0, false, "mc\0", 3, UDPV_MISMATCH },
};

START_TEST(test_udp_match)
{
	struct fix *f = fix_new_udp(MODE_CYCLE, match_cases[_i].tag);
	struct udp_expect e = { .conf = &f->conf, .seq = match_cases[_i].seq,
				.msg = match_cases[_i].msg, .prev_got = match_cases[_i].prev_got,
				.ended = match_cases[_i].ended };
	enum udp_verdict v = udp_echo_match(&e, (const uint8_t *)match_cases[_i].bytes,
					    match_cases[_i].len);

	ck_assert_msg(v == match_cases[_i].want, "%s: %s, want %s", match_cases[_i].what,
		      udp_verdict_name(v), udp_verdict_name(match_cases[_i].want));
	fix_free(f);
}
END_TEST

static Suite *session_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tn = tcase_create("names");
	TCase *tc = tcase_create("cycle");
	TCase *tf = tcase_create("failures");
	TCase *tl = tcase_create("last_look");
	TCase *tk = tcase_create("cycle_conf");
	TCase *tp = tcase_create("persistent");
	TCase *te = tcase_create("events");
	TCase *tu = tcase_create("udp");

	tcase_add_test(tn, test_names);
	tcase_add_loop_test(tn, test_classify, 0, (int)ELEMENTSOF(classify_cases));
	suite_add_tcase(s, tn);

	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_cycle_ok_partial_io);
	tcase_add_test(tc, test_connect_immediate);
	tcase_add_test(tc, test_kernel_timing);
	tcase_add_test(tc, test_kernel_timing_clock_step);
	tcase_add_test(tc, test_recv_bounded_by_scratch);
	tcase_add_loop_test(tc, test_close_once_per_cycle, 0, 2);
	tcase_add_test(tc, test_timer_rearmed_after_result);
	suite_add_tcase(s, tc);

	tcase_add_loop_test(tf, test_connect_fails_at_once, 0, (int)ELEMENTSOF(connect_fail_cases));
	tcase_add_loop_test(tf, test_connect_result_fails, 0,
			    (int)ELEMENTSOF(connect_result_cases));
	tcase_add_loop_test(tf, test_connect_timeout, 0, (int)ELEMENTSOF(connect_timeout_cases));
	tcase_add_loop_test(tf, test_exchange_timeout, 0, 3);
	tcase_add_loop_test(tf, test_exchange_fails, 0, (int)ELEMENTSOF(exchange_fail_cases));
	tcase_add_test(tf, test_mismatch_at_first_wrong_byte);
	suite_add_tcase(s, tf);
	tcase_add_test(tl, test_last_look_finds_echo);
	tcase_add_loop_test(tl, test_last_look_finds_connection, 0,
			    (int)ELEMENTSOF(look_connection_cases));
	tcase_add_test(tl, test_last_look_finds_nothing);
	tcase_add_test(tl, test_last_look_moves_on_a_step);
	tcase_add_test(tl, test_last_look_then_silence);
	tcase_add_test(tl, test_last_look_partial_echo_fails);
	tcase_add_test(tl, test_late_deadline_grace);
	tcase_add_test(tl, test_late_deadline_grace_bounded);
	tcase_add_test(tl, test_on_time_deadline_no_grace);
	tcase_add_test(tl, test_stall_gives_a_whole_timeout);
	suite_add_tcase(s, tl);

	tcase_add_test(tk, test_cycle_keeps_connect_timeout);
	tcase_add_loop_test(tk, test_cycle_keeps_timeout_and_messages, 0, 2);
	tcase_add_test(tk, test_cycle_holds_its_conf);
	suite_add_tcase(s, tk);

	tcase_add_test(tp, test_persistent_reuse);
	tcase_add_test(tp, test_persistent_holding_events);
	tcase_add_loop_test(tp, test_persistent_drop_while_holding, 0, 2);
	tcase_add_test(tp, test_persistent_stray_bytes);
	tcase_add_test(tp, test_persistent_fin_with_last_echo);
	suite_add_tcase(s, tp);

	tcase_add_loop_test(te, test_stop, 0, _STOP_MAX);
	tcase_add_test(te, test_io_in_idle_is_unexpected);
	tcase_add_loop_test(te, test_unknown_event_is_unexpected, 0, _STOP_MAX);
	suite_add_tcase(s, te);

	tcase_add_test(tu, test_udp_cycle_ok);
	tcase_add_test(tu, test_udp_duplicate_passed_over);
	tcase_add_test(tu, test_udp_no_echo_is_loss);
	tcase_add_loop_test(tu, test_udp_fails, 0, (int)ELEMENTSOF(udp_fail_cases));
	tcase_add_test(tu, test_udp_send_buffer_full);
	tcase_add_test(tu, test_udp_tag_late_echo);
	tcase_add_test(tu, test_udp_untagged_loss_drops_socket);
	tcase_add_test(tu, test_udp_holding_duplicate_then_stray);
	tcase_add_loop_test(tu, test_udp_match, 0, (int)ELEMENTSOF(match_cases));
	suite_add_tcase(s, tu);
	return s;
}

CHECK_MAIN(session_suite)
