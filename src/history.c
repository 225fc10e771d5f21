/* The status page's ten minutes per target: at the end of each 10-second slot, the
 * slot's counts and percentiles are read from the one-minute windows (which hold
 * that slot for another 50 s) into a ring. Two quantiles cost one pass over the
 * slot's buckets, once per slot and target. */
#include <string.h>

#include "histogram.h"
#include "history.h"
#include "util.h"

void history_init(struct history *h, int64_t now)
{
	memset(h, 0, sizeof(*h));
	h->first = h->next = now / HIST_SLOT_NS;
	h->start = now;
}

/* ns to us for a sample, at least 1 for a value (0 means none), capped. */
static uint32_t history_us(int64_t ns)
{
	if (ns < 0)
		return 0;
	return (uint32_t)MAX(MIN((ns + NSEC_PER_USEC / 2) / NSEC_PER_USEC, (int64_t)UINT32_MAX), 1);
}

static void history_sample(struct history *h, int64_t slot, const struct latency *lat,
			   const struct count_window *fails)
{
	static const double q[2] = { 0.50, 0.99 };
	struct history_sample *s = &h->s[slot % HISTORY_SLOTS];
	int64_t v[2];
	uint64_t ok = latency_slot_quantiles(lat, slot, q, 2, v);

	s->ok = (uint32_t)MIN(ok, UINT32_MAX);
	s->failed = (uint32_t)MIN(count_window_slot(fails, slot), UINT32_MAX);
	s->p50_us = history_us(v[0]);
	s->p99_us = history_us(v[1]);
}

void history_tick(struct history *h, const struct latency *lat, const struct count_window *fails,
		  int64_t now)
{
	int64_t cur = now / HIST_SLOT_NS;

	if (h->next >= cur)
		return;
	/* Slots the windows no longer hold (the loop stood still for a minute): empty. */
	if (cur - h->next > HIST_WINDOW_SLOTS) {
		int64_t from = MAX(h->next, cur - HISTORY_SLOTS);

		for (int64_t s = from; s < cur - HIST_WINDOW_SLOTS; s++)
			memset(&h->s[s % HISTORY_SLOTS], 0, sizeof(h->s[0]));
		h->next = cur - HIST_WINDOW_SLOTS;
	}
	for (; h->next < cur; h->next++)
		history_sample(h, h->next, lat, fails);
}

const struct history_sample *history_at(const struct history *h, int64_t slot)
{
	if (slot < h->first || slot >= h->next || h->next - slot > HISTORY_SLOTS)
		return NULL;
	return &h->s[slot % HISTORY_SLOTS];
}
