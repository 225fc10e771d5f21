/* Log-linear histograms and their one-minute window. Recording is a few shifts and
 * two increments, so it stays cheap on the event loop's hot path. */
#include <string.h>

#include "histogram.h"
#include "util.h"

#define US NSEC_PER_USEC
#define MS NSEC_PER_MSEC
#define SEC NSEC_PER_SEC

/* From loopback (tens of microseconds) to slow WAN paths (seconds). */
const int64_t hist_le_ns[HIST_LE_N] = {
	50 * US, 100 * US, 250 * US, 500 * US, 1 * MS, 2500 * US, 5 * MS, 10 * MS, 25 * MS,
	50 * MS, 100 * MS, 250 * MS, 500 * MS, 1 * SEC, 2500 * MS, 5 * SEC, 10 * SEC,
};

/* Return the first export bound at or above v, or HIST_LE_N when v is above them all:
 * a binary search of five steps. */
static uint32_t hist_le_of(int64_t v)
{
	uint32_t lo = 0, hi = HIST_LE_N;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (hist_le_ns[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t hist_bucket_of(int64_t v)
{
	uint64_t u = v < 0 ? 0 : (uint64_t)v;
	unsigned e;
	uint32_t i;

	if (u < HIST_SUB)
		return (uint32_t)u;
	e = 63u - (unsigned)__builtin_clzll(u);
	i = HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB +
	    (uint32_t)((u >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
	return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

int64_t hist_bucket_low(uint32_t i)
{
	uint32_t e, m;

	if (i < HIST_SUB)
		return i;
	e = (i - HIST_SUB) / HIST_SUB;
	m = (i - HIST_SUB) % HIST_SUB;
	return (int64_t)((uint64_t)(HIST_SUB + m) << e);
}

int64_t hist_bucket_high(uint32_t i)
{
	if (i + 1 >= HIST_BUCKETS)
		return INT64_MAX;
	return hist_bucket_low(i + 1);
}

void hist_record(struct hist *h, int64_t v)
{
	uint32_t k;

	if (v < 0)
		v = 0;
	h->b[hist_bucket_of(v)]++;
	k = hist_le_of(v);
	if (k < HIST_LE_N)
		h->le[k]++;
	h->count++;
	h->sum += (uint64_t)v;
	if (v > h->max)
		h->max = v;
}

/* The value a quantile that falls into bucket i reports: its midpoint, capped at max. */
static int64_t hist_bucket_mid(uint32_t i, int64_t max)
{
	int64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
	int64_t mid = hi == INT64_MAX ? lo : lo + (hi - lo - 1) / 2;

	return mid < max ? mid : max;
}

/* The rank (0-based) of quantile q among count values. */
static uint64_t hist_rank(double q, uint64_t count)
{
	uint64_t rank = (uint64_t)(q * (double)count);

	return rank >= count ? count - 1 : rank;
}

int64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return -1;
	rank = hist_rank(q, h->count);
	for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > rank)
			return hist_bucket_mid(i, h->max);
	}
	return h->max;
}

/* Move the window to the slot of now, clearing the slots it passes. */
static void window_advance(struct hist_window *w, int64_t now)
{
	int64_t slot = now / HIST_SLOT_NS;
	int64_t steps = slot - w->epoch;

	if (steps <= 0)
		return;
	if (steps > HIST_WINDOW_SLOTS)
		steps = HIST_WINDOW_SLOTS;
	for (int64_t k = 1; k <= steps; k++) {
		int idx = (int)((w->epoch + k) % HIST_WINDOW_SLOTS);

		memset(w->b[idx], 0, sizeof(w->b[idx]));
		w->count[idx] = 0;
		w->max[idx] = 0;
	}
	w->epoch = slot;
}

void latency_record(struct latency *l, int64_t v, int64_t now)
{
	struct hist_window *w = &l->win;
	int idx;

	if (v < 0)
		v = 0;
	hist_record(&l->total, v);
	window_advance(w, now);
	idx = (int)(w->epoch % HIST_WINDOW_SLOTS);
	w->b[idx][hist_bucket_of(v)]++;
	w->count[idx]++;
	if (v > w->max[idx])
		w->max[idx] = v;
}

void latency_window_merge(const struct latency *l, int64_t now, struct hist *ret)
{
	const struct hist_window *w = &l->win;
	int64_t age = MAX(now / HIST_SLOT_NS - w->epoch, 0);

	memset(ret, 0, sizeof(*ret));
	for (int64_t k = 0; k + age < HIST_WINDOW_SLOTS && k <= w->epoch; k++) {
		int idx = (int)((w->epoch - k) % HIST_WINDOW_SLOTS);

		if (w->count[idx] == 0)
			continue;
		for (uint32_t i = 0; i < HIST_BUCKETS; i++)
			ret->b[i] += w->b[idx][i];
		ret->count += w->count[idx];
		if (w->max[idx] > ret->max)
			ret->max = w->max[idx];
	}
}

/* Move a count window to the slot of now, clearing the slots it passes. */
static void count_window_advance(struct count_window *w, int64_t now)
{
	int64_t slot = now / HIST_SLOT_NS;
	int64_t steps = slot - w->epoch;

	if (steps <= 0)
		return;
	for (int64_t k = 1; k <= MIN(steps, HIST_WINDOW_SLOTS); k++)
		w->n[(w->epoch + k) % HIST_WINDOW_SLOTS] = 0;
	w->epoch = slot;
}

void count_window_add(struct count_window *w, int64_t now)
{
	count_window_advance(w, now);
	w->n[w->epoch % HIST_WINDOW_SLOTS]++;
}

uint64_t count_window_sum(const struct count_window *w, int64_t now)
{
	int64_t age = MAX(now / HIST_SLOT_NS - w->epoch, 0);
	uint64_t sum = 0;

	for (int64_t k = 0; k + age < HIST_WINDOW_SLOTS && k <= w->epoch; k++)
		sum += w->n[(w->epoch - k) % HIST_WINDOW_SLOTS];
	return sum;
}

void latency_summarize(const struct latency *l, int window, int64_t now,
		       struct latency_summary *ret)
{
	struct hist merged;
	const struct hist *h = &l->total;

	if (window) {
		latency_window_merge(l, now, &merged);
		h = &merged;
	}
	ret->count = h->count;
	ret->p50 = hist_quantile(h, 0.50);
	ret->p90 = hist_quantile(h, 0.90);
	ret->p99 = hist_quantile(h, 0.99);
	ret->max = h->count ? h->max : -1;
}

/* The window's index of slot number slot, or -1 when the window no longer (or never)
 * held it: slots after its epoch saw no value, and six slots back are reused. */
static int window_slot_index(int64_t epoch, int64_t slot)
{
	if (slot < 0 || slot > epoch || epoch - slot >= HIST_WINDOW_SLOTS)
		return -1;
	return (int)(slot % HIST_WINDOW_SLOTS);
}

uint64_t latency_slot_quantiles(const struct latency *l, int64_t slot, const double *q,
				size_t n, int64_t *ret)
{
	const struct hist_window *w = &l->win;
	int idx = window_slot_index(w->epoch, slot);
	uint64_t count, seen = 0;
	size_t k = 0;

	for (size_t j = 0; j < n; j++)
		ret[j] = -1;
	if (idx < 0 || w->count[idx] == 0)
		return 0;
	count = w->count[idx];
	for (uint32_t i = 0; i < HIST_BUCKETS && k < n; i++) {
		seen += w->b[idx][i];
		while (k < n && seen > hist_rank(q[k], count))
			ret[k++] = hist_bucket_mid(i, w->max[idx]);
	}
	return count;
}

uint64_t count_window_slot(const struct count_window *w, int64_t slot)
{
	int idx = window_slot_index(w->epoch, slot);

	return idx < 0 ? 0 : w->n[idx];
}
