/* The event loop: epoll, signalfd, the bulk deadline heap and a few handles. A turn
 * waits until the nearest deadline, hands out every event epoll reported (the bulk
 * source's and the handles'), and only then expires deadlines, so an answer that is
 * already in a socket is always read before the deadline it met is judged. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "parse.h"
#include "util.h"

int loop_init(struct loop *l)
{
	memset(l, 0, sizeof(*l));
	l->sigfd = -1;
	for (int i = 0; i < LOOP_MAX_HANDLES; i++)
		l->h[i].fd = -1;
	/* Opened from the loop's own thread: thread-self is resolved now, for good. */
	l->schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -errno;
	return timer_heap_init(&l->timers, 0);
}

static void loop_signal_io(void *owner, uint32_t events, int64_t now)
{
	struct loop *l = owner;
	struct signalfd_siginfo si;
	sigset_t seen;

	(void)events;
	(void)now;
	/* A burst of one signal (SIGHUP x 200) is handed on once. */
	sigemptyset(&seen);
	while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		sigaddset(&seen, (int)si.ssi_signo);
	for (int s = 1; s < NSIG; s++)
		if (sigismember(&seen, s) == 1)
			l->on_signal(l->signal_owner, s);
}

int loop_signals(struct loop *l, const int *signals, loop_signal_fn fn, void *owner)
{
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	for (const int *s = signals; *s; s++)
		sigaddset(&mask, *s);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	l->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigfd < 0)
		return -errno;
	l->on_signal = fn;
	l->signal_owner = owner;
	r = loop_add(l, "signals", l->sigfd, EPOLLIN, loop_signal_io, NULL, l);
	return r < 0 ? r : 0;
}

void loop_free(struct loop *l)
{
	timer_heap_free(&l->timers);
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->schedstat_fd >= 0)
		close(l->schedstat_fd);
	l->sigfd = l->epfd = l->schedstat_fd = -1;
}

void loop_set_bulk(struct loop *l, loop_bulk_io_fn io, loop_bulk_due_fn due,
		   loop_stall_fn stall, void *owner)
{
	l->bulk_io = io;
	l->bulk_due = due;
	l->bulk_stall = stall;
	l->bulk_owner = owner;
}

static uint64_t loop_handle_data(const struct loop *l, int slot)
{
	return LOOP_DATA_HANDLE | (uint64_t)slot | ((uint64_t)l->h[slot].gen << 8);
}

int loop_add(struct loop *l, const char *name, int fd, uint32_t events, loop_io_fn on_io,
	     loop_due_fn on_due, void *owner)
{
	struct epoll_event ev = { .events = events };
	int slot = 0;

	while (slot < LOOP_MAX_HANDLES && l->h[slot].used)
		slot++;
	if (slot == LOOP_MAX_HANDLES)
		return -ENOSPC;
	l->h[slot] = (struct loop_handle){ .name = name, .fd = fd, .gen = l->h[slot].gen + 1,
					   .used = true, .due = INT64_MAX, .on_io = on_io,
					   .on_due = on_due, .owner = owner };
	ev.data.u64 = loop_handle_data(l, slot);
	if (fd >= 0 && epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		l->h[slot].used = false;
		return -errno;
	}
	return slot;
}

void loop_remove(struct loop *l, int slot)
{
	struct loop_handle *h;

	if (slot < 0 || slot >= LOOP_MAX_HANDLES || !l->h[slot].used)
		return;
	h = &l->h[slot];
	if (h->fd >= 0)
		(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	h->used = false;
	h->fd = -1;
}

void loop_set_due(struct loop *l, int slot, int64_t due)
{
	if (slot >= 0 && slot < LOOP_MAX_HANDLES)
		l->h[slot].due = due;
}

void loop_set_interleave(struct loop *l, int slot, bool on)
{
	if (slot >= 0 && slot < LOOP_MAX_HANDLES)
		l->h[slot].interleave = on;
}

int loop_add_bulk_fd(struct loop *l, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Read the clock at a point of the turn; more than LOOP_STALL_NS beyond the previous
 * point (plus the wait asked for in between) means the loop was not running while
 * the peers' answers waited unread. Every deadline then moves on by the time lost,
 * so that it is not blamed on the targets, and the log says what held the loop when
 * it was one of mconnd's own callbacks. */
static int64_t loop_mark(struct loop *l, int64_t waited)
{
	int64_t now = now_ns(), lost = now - l->mark - waited;
	char dur[32], took[32];

	if (l->mark == 0 || lost < LOOP_STALL_NS) {
		l->mark = now;
		l->held_by = NULL;
		return now;
	}
	l->mark = now;
	timer_shift(&l->timers, lost);
	for (int i = 0; i < LOOP_MAX_HANDLES; i++)
		if (l->h[i].used && l->h[i].due != INT64_MAX)
			l->h[i].due += lost;
	if (l->bulk_stall)
		l->bulk_stall(l->bulk_owner, lost);
	l->stats.stalls++;
	l->stats.stalled_ns += lost;
	format_duration(lost, dur, sizeof(dur));
	if (l->held_by && l->held_ns * 2 >= lost)
		log_msg(LOG_NOTICE, "the loop was held for %s by mconnd's own work (%s took %s); deadlines moved on by as much",
			dur, l->held_by, format_duration(l->held_ns, took, sizeof(took)));
	else
		log_msg(LOG_NOTICE, "the loop did not run for %s (stopped or starved); deadlines moved on by as much",
			dur);
	l->held_by = NULL;
	return now;
}

int64_t loop_now(struct loop *l)
{
	return loop_mark(l, 0);
}

/* The loop thread's run delay so far (ns spent runnable, waiting for a CPU), the
 * second field of its schedstat; 0 where there is none. */
static int64_t loop_run_delay(const struct loop *l)
{
	char buf[96], *end;
	ssize_t n;
	long long wait;

	if (l->schedstat_fd < 0)
		return 0;
	n = pread(l->schedstat_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "RUN_NS WAIT_NS SLICES": skip the first field, read the second. */
	(void)strtoll(buf, &end, 10);
	if (end == buf)
		return 0;
	errno = 0;
	wait = strtoll(end, &end, 10);
	return errno == 0 && wait > 0 ? wait : 0;
}

/* Run a handle's callback and remember it when it was slow: how long it held the
 * loop is its wall time less what the kernel kept the thread waiting for a CPU. */
static void loop_call(struct loop *l, int slot, uint32_t events, bool due)
{
	struct loop_handle *h = &l->h[slot];
	const char *name = h->name;
	int64_t start = now_ns(), waited = loop_run_delay(l), wall, took;

	if (due) {
		h->due = INT64_MAX;
		h->on_due(h->owner, start);
	} else {
		h->on_io(h->owner, events, start);
	}
	wall = now_ns() - start;
	waited = loop_run_delay(l) - waited;
	took = waited > 0 && waited < wall ? wall - waited : wall;
	if (l->stats.handle_name[slot] != name) {
		l->stats.handle_name[slot] = name;
		l->stats.handle_max_ns[slot] = 0;
		l->stats.handle_wall_max_ns[slot] = 0;
	}
	l->stats.handle_max_ns[slot] = MAX(l->stats.handle_max_ns[slot], took);
	l->stats.handle_wall_max_ns[slot] = MAX(l->stats.handle_wall_max_ns[slot], wall);
	if (took < LOOP_SLOW_CALLBACK_NS)
		return;
	if (took > l->held_ns || !l->held_by) {
		l->held_by = name;
		l->held_ns = took;
	}
}

/* Expire the bulk deadlines due by now, at most a bounded number. In a batch, the
 * ones the bulk source puts off wait in the deferred list (while it has room).
 * Returns true when more were due than this call took. */
static bool loop_run_bulk_timers(struct loop *l, int64_t now, bool in_batch)
{
	for (int i = 0; i < LOOP_MAX_TIMERS_PER_TURN; i++) {
		int64_t due = timer_next_due(&l->timers);
		uint32_t id;

		if (in_batch && l->n_deferred == LOOP_MAX_EVENTS)
			return true;
		if (timer_pop_due(&l->timers, now, &id) < 0)
			return false;
		if (l->bulk_due(l->bulk_owner, id, due, now_ns(), in_batch) == LOOP_DEFER) {
			l->deferred_due[l->n_deferred] = due;
			l->deferred[l->n_deferred++] = id;
		}
	}
	return true;
}

/* Hand back the deadlines put off during the batch, unless the batch's I/O gave the
 * id a new deadline (its cycle ended and the next one is scheduled). */
static void loop_run_deferred(struct loop *l)
{
	for (uint32_t i = 0; i < l->n_deferred; i++) {
		uint32_t id = l->deferred[i];

		if (!timer_armed(&l->timers, id))
			(void)l->bulk_due(l->bulk_owner, id, l->deferred_due[i], now_ns(), false);
	}
	l->n_deferred = 0;
}

/* Run the handles whose deadline passed; true when one did. */
static bool loop_run_handle_deadlines(struct loop *l, int64_t now)
{
	bool ran = false;

	for (int i = 0; i < LOOP_MAX_HANDLES; i++) {
		if (l->h[i].used && l->h[i].on_due && l->h[i].due <= now) {
			loop_call(l, i, 0, true);
			ran = true;
		}
	}
	return ran;
}

/* In a long batch: the interleaved handles, then the cycle starts that are due. */
static void loop_interleave(struct loop *l)
{
	for (int i = 0; i < LOOP_MAX_HANDLES; i++)
		if (l->h[i].used && l->h[i].interleave)
			loop_call(l, i, 0, false);
	if (l->bulk_due)
		(void)loop_run_bulk_timers(l, loop_mark(l, 0), true);
}

/* How long epoll_wait may sleep: until the nearest deadline, at most max_ms. */
static int loop_wait_ms(const struct loop *l, int64_t now, int max_ms)
{
	int64_t due = timer_next_due(&l->timers);

	for (int i = 0; i < LOOP_MAX_HANDLES; i++)
		if (l->h[i].used)
			due = MIN(due, l->h[i].due);
	if (due <= now)
		return 0;
	if (due - now >= (int64_t)max_ms * NSEC_PER_MSEC)
		return max_ms;
	return (int)((due - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
}

static void loop_dispatch(struct loop *l, const struct epoll_event *ev, int n)
{
	int since = 0;

	for (int i = 0; i < n; i++) {
		uint64_t data = ev[i].data.u64;

		if (!(data & LOOP_DATA_HANDLE)) {
			l->bulk_io(l->bulk_owner, data, ev[i].events, now_ns());
			if (++since == LOOP_INTERLEAVE_EVERY) {
				since = 0;
				loop_interleave(l);
			}
			continue;
		}
		/* A handle removed (maybe reused) earlier in this batch gets nothing. */
		if ((data & 0xffu) < LOOP_MAX_HANDLES) {
			int slot = (int)(data & 0xffu);

			if (l->h[slot].used && loop_handle_data(l, slot) == data && l->h[slot].on_io)
				loop_call(l, slot, ev[i].events, false);
		}
	}
}

int loop_turn(struct loop *l, int max_wait_ms)
{
	struct epoll_event ev[LOOP_MAX_EVENTS];
	int64_t now = loop_mark(l, 0);
	bool more = timer_next_due(&l->timers) <= now;
	int n, wait;

	wait = more ? 0 : loop_wait_ms(l, now, max_wait_ms);
	n = epoll_wait(l->epfd, ev, LOOP_MAX_EVENTS, wait);
	if (n < 0 && errno != EINTR)
		return -errno;
	loop_mark(l, (int64_t)wait * NSEC_PER_MSEC);
	if (n > 0)
		loop_dispatch(l, ev, n);
	loop_run_deferred(l);
	now = loop_mark(l, 0);
	if (l->bulk_due)
		(void)loop_run_bulk_timers(l, now, false);
	loop_run_handle_deadlines(l, loop_mark(l, 0));
	l->stats.turns++;
	loop_mark(l, 0);
	return 0;
}
