/* The resolver: RESOLVE_THREADS threads take queries from a bounded table, call
 * getaddrinfo() or getgrnam_r(), and wake the loop through an eventfd. Threads and
 * not c-ares: c-ares speaks DNS only, and a target named in /etc/hosts, by
 * systemd-resolved or through any other NSS module must resolve as it does for every
 * other program. A look-up cannot be cancelled, so the deadline is the loop's: a
 * query past it is answered -ETIMEDOUT at once and its thread's answer, when it comes,
 * is dropped. What the threads and the loop share lives in one block, freed by the
 * last of them, so a thread stuck in a look-up never touches freed memory. */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resolve.h"
#include "util.h"

/* getgrnam_r's buffer grows on ERANGE up to this (groups with many members). */
#define GROUP_BUF_MAX (1u << 20)

enum job_state {
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_DONE,
};

struct resolve_job {
	uint64_t id;
	struct resolve_query q;
	resolve_cb cb;
	void *owner;
	enum job_state state;
	/* Timed out or cancelled: nobody waits for the answer any more. */
	bool abandoned;
	int64_t started;
	struct resolve_answer a;
};

struct resolver {
	pthread_mutex_t lock;
	pthread_cond_t work;
	int efd;
	/* The loop's reference plus one per thread; the last one out frees. */
	unsigned refs;
	bool stopping;
	/* The threads, and which of them is in a look-up: at the end the others are
	 * joined (their resolver state freed with them), those are left to finish. */
	pthread_t tids[RESOLVE_THREADS];
	bool busy[RESOLVE_THREADS];
	unsigned n_threads;
	uint64_t next_id;
	size_t n_jobs;
	struct resolve_job *jobs[RESOLVE_MAX_JOBS];
};

static void answer_set(struct resolve_answer *a, int err, const char *msg)
{
	a->err = err;
	snprintf(a->msg, sizeof(a->msg), "%s", msg);
}

static int family_of(enum addr_family f)
{
	return f == AFAM_IPV4 ? AF_INET : f == AFAM_IPV6 ? AF_INET6 : AF_UNSPEC;
}

/* What a getaddrinfo() failure means for us. */
static int gai_errno(int r)
{
	switch (r) {
	case EAI_NONAME:
	case EAI_NODATA:
		return -EHOSTUNREACH;
	case EAI_ADDRFAMILY:
		return -ENODATA;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return errno ? -errno : -EIO;
	default:
		return -EHOSTUNREACH;
	}
}

static void run_address(const struct resolve_query *q, struct resolve_answer *a)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG,
				  .ai_family = family_of(q->family) };
	struct addrinfo *res = NULL;
	int r = getaddrinfo(q->name, NULL, &hints, &res);

	if (r != 0) {
		answer_set(a, gai_errno(r), r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return;
	}
	if (res->ai_addrlen > sizeof(a->addr.ss)) {
		answer_set(a, -EAFNOSUPPORT, "address too long");
	} else {
		memset(&a->addr, 0, sizeof(a->addr));
		memcpy(&a->addr.ss, res->ai_addr, res->ai_addrlen);
		a->addr.len = res->ai_addrlen;
		address_set_port(&a->addr, q->port);
		if (address_is_unicast(&a->addr))
			answer_set(a, 0, "");
		else
			answer_set(a, -EADDRNOTAVAIL, "not a unicast address");
	}
	freeaddrinfo(res);
}

static void run_group(const struct resolve_query *q, struct resolve_answer *a)
{
	size_t len = 4096;

	for (;;) {
		struct group gr, *res = NULL;
		char *buf = malloc(len);
		int r;

		if (!buf) {
			answer_set(a, -ENOMEM, "out of memory");
			return;
		}
		r = getgrnam_r(q->name, &gr, buf, len, &res);
		if (r == ERANGE && len < GROUP_BUF_MAX) {
			free(buf);
			len *= 2;
			continue;
		}
		if (r == 0 && res) {
			a->gid = res->gr_gid;
			answer_set(a, 0, "");
		} else {
			answer_set(a, r ? -r : -ENOENT, r ? strerror(r) : "no such group");
		}
		free(buf);
		return;
	}
}

void resolve_run(const struct resolve_query *q, struct resolve_answer *a)
{
	int64_t start = now_ns();

	memset(a, 0, sizeof(*a));
	if (q->kind == RESOLVE_GROUP)
		run_group(q, a);
	else
		run_address(q, a);
	a->took_ns = now_ns() - start;
}

/* Drop one reference; the last frees the shared block. Called with the lock held;
 * returns true when r is gone. */
static bool resolver_unref(struct resolver *r)
{
	if (--r->refs > 0)
		return false;
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < RESOLVE_MAX_JOBS; i++)
		free(r->jobs[i]);
	close(r->efd);
	pthread_cond_destroy(&r->work);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return true;
}

/* The oldest queued job, or NULL. Called with the lock held. */
static struct resolve_job *job_next(struct resolver *r)
{
	struct resolve_job *best = NULL;

	for (size_t i = 0; i < RESOLVE_MAX_JOBS; i++) {
		struct resolve_job *j = r->jobs[i];

		if (j && j->state == JOB_QUEUED && (!best || j->id < best->id))
			best = j;
	}
	return best;
}

static void *resolver_thread(void *arg)
{
	struct resolver *r = arg;
	const uint64_t one = 1;
	unsigned me = 0;

	/* The creator holds the lock across pthread_create(): tids[] is written. */
	pthread_mutex_lock(&r->lock);
	while (me < RESOLVE_THREADS - 1 && !pthread_equal(r->tids[me], pthread_self()))
		me++;
	for (;;) {
		struct resolve_job *j = NULL;

		while (!r->stopping && !(j = job_next(r)))
			pthread_cond_wait(&r->work, &r->lock);
		if (r->stopping)
			break;
		j->state = JOB_RUNNING;
		r->busy[me] = true;
		pthread_mutex_unlock(&r->lock);
		resolve_run(&j->q, &j->a);
		pthread_mutex_lock(&r->lock);
		r->busy[me] = false;
		j->state = JOB_DONE;
		(void)!write(r->efd, &one, sizeof(one));
	}
	if (!resolver_unref(r))
		pthread_mutex_unlock(&r->lock);
	return NULL;
}

int resolver_new(unsigned threads, struct resolver **ret)
{
	struct resolver *r = calloc(1, sizeof(*r));
	sigset_t all, old;
	int e = 0;

	if (!r)
		return -ENOMEM;
	r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->efd < 0) {
		e = -errno;
		free(r);
		return e;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->work, NULL);
	r->refs = 1;
	r->next_id = 1;
	/* The loop takes its signals through a signalfd: no thread may take them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < MIN(threads, RESOLVE_THREADS) && e == 0; i++) {
		pthread_mutex_lock(&r->lock);
		e = -pthread_create(&r->tids[i], NULL, resolver_thread, r);
		if (e == 0) {
			r->refs++;
			r->n_threads++;
		}
		pthread_mutex_unlock(&r->lock);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e < 0) {
		resolver_free(r);
		return e;
	}
	*ret = r;
	return 0;
}

void resolver_free(struct resolver *r)
{
	bool stuck[RESOLVE_THREADS];
	unsigned n;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_broadcast(&r->work);
	n = r->n_threads;
	/* A thread that is not in a look-up now takes none from here on. */
	memcpy(stuck, r->busy, sizeof(stuck));
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < n; i++) {
		if (stuck[i])
			pthread_detach(r->tids[i]);
		else
			pthread_join(r->tids[i], NULL);
	}
	pthread_mutex_lock(&r->lock);
	if (!resolver_unref(r))
		pthread_mutex_unlock(&r->lock);
}

int resolve_fd(const struct resolver *r)
{
	return r->efd;
}

int resolve_submit(struct resolver *r, const struct resolve_query *q, resolve_cb cb,
		   void *owner, uint64_t *ret_id)
{
	struct resolve_job *j;
	size_t slot = 0;

	pthread_mutex_lock(&r->lock);
	while (slot < RESOLVE_MAX_JOBS && r->jobs[slot])
		slot++;
	j = slot < RESOLVE_MAX_JOBS ? calloc(1, sizeof(*j)) : NULL;
	if (!j) {
		pthread_mutex_unlock(&r->lock);
		return -EAGAIN;
	}
	*j = (struct resolve_job){ .id = r->next_id++, .q = *q, .cb = cb, .owner = owner,
				   .state = JOB_QUEUED, .started = now_ns() };
	r->jobs[slot] = j;
	r->n_jobs++;
	*ret_id = j->id;
	pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* Take job i out of the table. Called with the lock held, never for a running job. */
static void job_remove(struct resolver *r, size_t i)
{
	free(r->jobs[i]);
	r->jobs[i] = NULL;
	r->n_jobs--;
}

void resolve_cancel(struct resolver *r, uint64_t id)
{
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < RESOLVE_MAX_JOBS; i++) {
		struct resolve_job *j = r->jobs[i];

		if (!j || j->id != id)
			continue;
		if (j->state == JOB_RUNNING)
			j->abandoned = true;
		else
			job_remove(r, i);
		break;
	}
	pthread_mutex_unlock(&r->lock);
}

/* One answer to deliver once the lock is dropped. */
struct delivery {
	resolve_cb cb;
	void *owner;
	uint64_t id;
	struct resolve_answer a;
};

/* Collect what is due into out (at most cap); returns how many. Lock held. */
static size_t collect_due(struct resolver *r, int64_t now, struct delivery *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < RESOLVE_MAX_JOBS && n < cap; i++) {
		struct resolve_job *j = r->jobs[i];

		if (!j)
			continue;
		if (j->state == JOB_DONE) {
			if (!j->abandoned)
				out[n++] = (struct delivery){ j->cb, j->owner, j->id, j->a };
			job_remove(r, i);
		} else if (!j->abandoned && j->q.deadline <= now) {
			struct delivery *d = &out[n++];

			*d = (struct delivery){ j->cb, j->owner, j->id, { 0 } };
			answer_set(&d->a, -ETIMEDOUT, "no answer in time");
			d->a.took_ns = now - j->started;
			j->abandoned = true;
			if (j->state == JOB_QUEUED)
				job_remove(r, i);
		}
	}
	return n;
}

void resolve_dispatch(struct resolver *r, int64_t now)
{
	struct delivery batch[64];
	uint64_t v;
	size_t n;

	(void)!read(r->efd, &v, sizeof(v));
	do {
		pthread_mutex_lock(&r->lock);
		n = collect_due(r, now, batch, ELEMENTSOF(batch));
		pthread_mutex_unlock(&r->lock);
		/* Outside the lock: a callback may submit or cancel. */
		for (size_t i = 0; i < n; i++)
			batch[i].cb(batch[i].owner, batch[i].id, &batch[i].a);
	} while (n == ELEMENTSOF(batch));
}

int64_t resolve_next_due(struct resolver *w)
{
	int64_t due = INT64_MAX;

	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < RESOLVE_MAX_JOBS && w->n_jobs; i++) {
		const struct resolve_job *j = w->jobs[i];

		if (j && !j->abandoned)
			due = MIN(due, j->state == JOB_DONE ? 0 : j->q.deadline);
	}
	pthread_mutex_unlock(&w->lock);
	return due;
}

size_t resolve_pending(struct resolver *w)
{
	size_t n = 0;

	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < RESOLVE_MAX_JOBS && w->n_jobs; i++)
		n += w->jobs[i] && !w->jobs[i]->abandoned;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void resolve_wait(struct resolver *r)
{
	while (resolve_pending(r) > 0) {
		struct pollfd p = { .fd = r->efd, .events = POLLIN };
		int64_t now = now_ns(), due = resolve_next_due(r);
		int ms = due <= now ? 0 : (int)MIN((due - now) / NSEC_PER_MSEC + 1, 1000);

		(void)poll(&p, 1, ms);
		resolve_dispatch(r, now_ns());
	}
}
