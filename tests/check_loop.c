/* Unit tests of the event loop: handles get their events and deadlines, a handle
 * removed earlier in a batch gets nothing, ready I/O is handed out before the
 * deadlines of the same turn, a deadline that would judge I/O still queued in a batch
 * waits for the batch's end (and is dropped when that I/O re-armed it), a stall moves
 * every deadline on, signals arrive through the signalfd, and how long a callback
 * held the loop counts its blocking but not the time the kernel kept it waiting for
 * a CPU. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "loop.h"

#define MAX_LOG 256

/* What the callbacks saw, in order: 'i' for a handle's I/O, 'd' for a handle's
 * deadline, 'b' for bulk I/O, 't' for a bulk deadline, 's' for a stall. */
struct trace {
	char log[MAX_LOG];
	size_t n;
	uint64_t bulk_data[MAX_LOG];
	uint32_t due_ids[MAX_LOG];
	int64_t due_at[MAX_LOG];
	bool due_in_batch[MAX_LOG];
	size_t n_bulk;
	size_t n_due;
	uint32_t last_events;
	int64_t stalled;
	int signo;
	/* Bulk deadlines in a batch are put off while this is set. */
	bool defer;
	/* Bulk I/O of this data re-arms the deadline of rearm_id. */
	uint64_t rearm_data;
	uint32_t rearm_id;
};

static struct loop l;
static struct trace tr;
static int fds[80][2];

static void note(char c)
{
	ck_assert_uint_lt(tr.n, MAX_LOG - 1);
	tr.log[tr.n++] = c;
}

static void drain(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void on_io(void *owner, uint32_t events, int64_t now)
{
	(void)now;
	tr.last_events = events;
	note('i');
	drain(*(int *)owner);
}

static void on_due(void *owner, int64_t now)
{
	(void)owner;
	(void)now;
	note('d');
}

static void bulk_io(void *owner, uint64_t data, uint32_t events, int64_t now)
{
	(void)owner;
	(void)events;
	tr.bulk_data[tr.n_bulk++] = data;
	note('b');
	drain(fds[data][0]);
	if (data == tr.rearm_data)
		timer_set(&l.timers, tr.rearm_id, now + NSEC_PER_SEC);
}

static int bulk_due(void *owner, uint32_t id, int64_t due, int64_t now, bool in_batch)
{
	(void)owner;
	(void)now;
	if (in_batch && tr.defer)
		return LOOP_DEFER;
	tr.due_at[tr.n_due] = due;
	tr.due_ids[tr.n_due] = id;
	tr.due_in_batch[tr.n_due++] = in_batch;
	note('t');
	return 0;
}

static void bulk_stall(void *owner, int64_t lost)
{
	(void)owner;
	tr.stalled = lost;
	note('s');
}

static void setup(void)
{
	memset(&tr, 0, sizeof(tr));
	tr.rearm_data = UINT64_MAX;
	ck_assert_int_eq(loop_init(&l), 0);
	ck_assert_int_eq(timer_heap_grow(&l.timers, 16), 0);
	loop_set_bulk(&l, bulk_io, bulk_due, bulk_stall, NULL);
	for (size_t i = 0; i < ELEMENTSOF(fds); i++)
		ck_assert_int_eq(pipe2(fds[i], O_NONBLOCK | O_CLOEXEC), 0);
}

static void teardown(void)
{
	for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
	loop_free(&l);
}

static void poke(int k)
{
	ck_assert_int_eq(write(fds[k][1], "x", 1), 1);
}

START_TEST(test_handle_io_gets_its_mask)
{
	int slot = loop_add(&l, "pipe", fds[0][0], EPOLLIN, on_io, NULL, &fds[0][0]);

	ck_assert_int_ge(slot, 0);
	ck_assert_int_eq(loop_turn(&l, 0), 0);
	ck_assert_uint_eq(tr.n, 0);
	poke(0);
	ck_assert_int_eq(loop_turn(&l, 1000), 0);
	ck_assert_str_eq(tr.log, "i");
	ck_assert_uint_eq(tr.last_events, EPOLLIN);
	ck_assert_uint_eq(l.stats.turns, 2);
}
END_TEST

START_TEST(test_handle_deadline_fires_once)
{
	int slot = loop_add(&l, "timer", -1, 0, NULL, on_due, NULL);
	int64_t t0 = now_ns();

	ck_assert_int_ge(slot, 0);
	loop_set_due(&l, slot, t0 + 20 * NSEC_PER_MSEC);
	/* The wait is bounded by the deadline, not by the 1 s asked for. */
	ck_assert_int_eq(loop_turn(&l, 1000), 0);
	ck_assert_str_eq(tr.log, "d");
	ck_assert_int_lt(now_ns() - t0, 500 * NSEC_PER_MSEC);
	ck_assert_int_eq(l.h[slot].due, INT64_MAX);
	ck_assert_int_eq(loop_turn(&l, 0), 0);
	ck_assert_str_eq(tr.log, "d");
}
END_TEST

/* A handle's owner in the stale-event test: its fd and the slot it removes. */
struct pair_owner {
	int fd;
	int other;
};

static void on_io_remove_other(void *owner, uint32_t events, int64_t now)
{
	struct pair_owner *o = owner;

	(void)events;
	(void)now;
	note('i');
	drain(o->fd);
	loop_remove(&l, o->other);
}

/* Two ready handles whose callbacks each remove the other: the second's event, in
 * the same batch, never reaches it, nor a handle that took its slot meanwhile. */
START_TEST(test_removed_handle_gets_no_stale_event)
{
	struct pair_owner oa = { .fd = fds[0][0] }, ob = { .fd = fds[1][0] };
	int a = loop_add(&l, "a", fds[0][0], EPOLLIN, on_io_remove_other, NULL, &oa);
	int b = loop_add(&l, "b", fds[1][0], EPOLLIN, on_io_remove_other, NULL, &ob);

	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	oa.other = b;
	ob.other = a;
	poke(0);
	poke(1);
	ck_assert_int_eq(loop_turn(&l, 1000), 0);
	ck_assert_str_eq(tr.log, "i");
	ck_assert(l.h[a].used != l.h[b].used);
}
END_TEST

/* A session's answer and its deadline in the same turn: the answer first. */
START_TEST(test_io_before_deadlines)
{
	ck_assert_int_eq(loop_add_bulk_fd(&l, fds[3][0], EPOLLIN | EPOLLET, 3), 0);
	timer_set(&l.timers, 7, now_ns() - NSEC_PER_MSEC);
	poke(3);
	ck_assert_int_eq(loop_turn(&l, 1000), 0);
	ck_assert_str_eq(tr.log, "bt");
	ck_assert_uint_eq(tr.due_ids[0], 7);
	ck_assert(!tr.due_in_batch[0]);
}
END_TEST

/* In a batch longer than LOOP_INTERLEAVE_EVERY, a deadline put off by the bulk source
 * comes back once every event of the batch was handed out, and not at all for an id
 * that the batch's I/O gave a new deadline. */
START_TEST(test_deferred_deadline_after_batch)
{
	const int n = LOOP_INTERLEAVE_EVERY + 8;
	int64_t past = now_ns() - NSEC_PER_MSEC;

	for (int k = 0; k < n; k++) {
		ck_assert_int_eq(loop_add_bulk_fd(&l, fds[k][0], EPOLLIN | EPOLLET, (uint64_t)k), 0);
		poke(k);
	}
	timer_set(&l.timers, 1, past);
	timer_set(&l.timers, 2, past);
	tr.defer = true;
	tr.rearm_data = (uint64_t)n - 1;
	tr.rearm_id = 2;
	/* The deadlines fell due while the events were queued. */
	ck_assert_int_eq(loop_turn(&l, 1000), 0);
	ck_assert_uint_eq(tr.n_bulk, (size_t)n);
	ck_assert_uint_eq(tr.n_due, 1);
	ck_assert_uint_eq(tr.due_ids[0], 1);
	/* With the time it was due: how late it fires is the session's business. */
	ck_assert_int_eq(tr.due_at[0], past);
	ck_assert(!tr.due_in_batch[0]);
	ck_assert_int_eq(tr.log[tr.n - 1], 't');
	ck_assert_int_eq((int)(strchr(tr.log, 't') - tr.log), n);
	ck_assert(timer_armed(&l.timers, 2));
}
END_TEST

/* A cycle start due inside a long batch goes at once, in the batch. */
START_TEST(test_start_in_batch)
{
	const int n = LOOP_INTERLEAVE_EVERY + 8;

	for (int k = 0; k < n; k++) {
		ck_assert_int_eq(loop_add_bulk_fd(&l, fds[k][0], EPOLLIN | EPOLLET, (uint64_t)k), 0);
		poke(k);
	}
	timer_set(&l.timers, 4, now_ns() - NSEC_PER_MSEC);
	ck_assert_int_eq(loop_turn(&l, 1000), 0);
	ck_assert_uint_eq(tr.n_due, 1);
	ck_assert(tr.due_in_batch[0]);
	ck_assert_int_eq((int)(strchr(tr.log, 't') - tr.log), LOOP_INTERLEAVE_EVERY);
}
END_TEST

/* A loop that did not run for a second moves the deadlines on by as much. */
START_TEST(test_stall_moves_deadlines)
{
	int slot = loop_add(&l, "timer", -1, 0, NULL, on_due, NULL);
	int64_t now = now_ns(), due = now + 10 * NSEC_PER_SEC;

	timer_set(&l.timers, 3, due);
	loop_set_due(&l, slot, due);
	l.mark = now - NSEC_PER_SEC;
	(void)loop_now(&l);
	ck_assert_str_eq(tr.log, "s");
	ck_assert_int_ge(tr.stalled, NSEC_PER_SEC);
	ck_assert_uint_eq(l.stats.stalls, 1);
	ck_assert_int_eq(timer_due(&l.timers, 3), due + tr.stalled);
	ck_assert_int_eq(l.h[slot].due, due + tr.stalled);
	/* Below the threshold, nothing moves. */
	l.mark = now_ns() - LOOP_STALL_NS / 2;
	(void)loop_now(&l);
	ck_assert_uint_eq(l.stats.stalls, 1);
}
END_TEST

/* A deadline callback that blocks 30 ms (slot 0 of held_mode) or runs 60 ms of the
 * wall clock on the CPU (1). */
static int held_mode;

static void on_due_held(void *owner, int64_t now)
{
	struct timespec ts = { .tv_nsec = 30 * NSEC_PER_MSEC };

	(void)owner;
	if (held_mode == 0) {
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		return;
	}
	while (now_ns() - now < 60 * NSEC_PER_MSEC)
		;
}

/* Blocking is the callback's own doing: it counts in full. */
START_TEST(test_held_counts_blocking)
{
	int slot = loop_add(&l, "held", -1, 0, NULL, on_due_held, NULL);

	held_mode = 0;
	loop_set_due(&l, slot, now_ns());
	ck_assert_int_eq(loop_turn(&l, 0), 0);
	ck_assert_int_ge(l.stats.handle_wall_max_ns[slot], 30 * NSEC_PER_MSEC);
	ck_assert_int_ge(l.stats.handle_max_ns[slot], 29 * NSEC_PER_MSEC);
	ck_assert_int_le(l.stats.handle_max_ns[slot], l.stats.handle_wall_max_ns[slot]);
}
END_TEST

/* A callback preempted by a spinner on the same CPU ran about half its wall time:
 * the time it waited for the CPU is not counted as its hold. */
START_TEST(test_held_less_preemption)
{
	int slot = loop_add(&l, "held", -1, 0, NULL, on_due_held, NULL);
	cpu_set_t one;
	pid_t spinner;

	if (l.schedstat_fd < 0) {
		fprintf(stderr, "SKIP: check_loop: held_less_preemption: no /proc/thread-self/schedstat\n");
		return;
	}
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	spinner = fork();
	ck_assert_int_ge(spinner, 0);
	if (spinner == 0)
		for (;;)
			;
	held_mode = 1;
	loop_set_due(&l, slot, now_ns());
	ck_assert_int_eq(loop_turn(&l, 0), 0);
	kill(spinner, SIGKILL);
	waitpid(spinner, NULL, 0);
	ck_assert_int_ge(l.stats.handle_wall_max_ns[slot], 60 * NSEC_PER_MSEC);
	ck_assert_int_lt(l.stats.handle_max_ns[slot], l.stats.handle_wall_max_ns[slot] * 8 / 10);
}
END_TEST

static void on_signal(void *owner, int signo)
{
	(void)owner;
	tr.signo = signo;
	note('g');
}

START_TEST(test_signal_through_signalfd)
{
	static const int sigs[] = { SIGUSR1, 0 };

	ck_assert_int_eq(loop_signals(&l, sigs, on_signal, NULL), 0);
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(loop_turn(&l, 1000), 0);
	ck_assert_str_eq(tr.log, "g");
	ck_assert_int_eq(tr.signo, SIGUSR1);
}
END_TEST

START_TEST(test_handle_table_full)
{
	int r = 0;

	for (int i = 0; i <= LOOP_MAX_HANDLES && r >= 0; i++)
		r = loop_add(&l, "t", -1, 0, NULL, on_due, NULL);
	ck_assert_int_eq(r, -ENOSPC);
}
END_TEST

static Suite *loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_handle_io_gets_its_mask);
	tcase_add_test(tc, test_handle_deadline_fires_once);
	tcase_add_test(tc, test_removed_handle_gets_no_stale_event);
	tcase_add_test(tc, test_io_before_deadlines);
	tcase_add_test(tc, test_deferred_deadline_after_batch);
	tcase_add_test(tc, test_start_in_batch);
	tcase_add_test(tc, test_stall_moves_deadlines);
	tcase_add_test(tc, test_signal_through_signalfd);
	tcase_add_test(tc, test_held_counts_blocking);
	tcase_add_test(tc, test_held_less_preemption);
	tcase_add_test(tc, test_handle_table_full);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(loop_suite)
