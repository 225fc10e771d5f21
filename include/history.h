/* A target's last ten minutes for the status page: one sample per 10-second slot of
 * the latency window (good cycles, failed ones, p50 and p99 of the good), in a ring
 * of 60. About 1 KB per target; a sample is taken once a slot has ended, from the
 * one-minute windows the target keeps anyway. Pure bookkeeping. */
#ifndef MCONN_HISTORY_H
#define MCONN_HISTORY_H

#include <stdint.h>

struct count_window;
struct latency;

/* Samples kept: ten minutes of 10-second slots (HIST_SLOT_NS). */
#define HISTORY_SLOTS 60

/* One 10-second slot. Latencies in microseconds, 0 when no cycle was good. */
struct history_sample {
	uint32_t ok;
	/* Failed cycles, mconnd's own resource shortages apart (as in fail_win). */
	uint32_t failed;
	uint32_t p50_us;
	uint32_t p99_us;
};

struct history {
	/* The first slot sampled and the next one to sample (slot numbers). */
	int64_t first;
	int64_t next;
	/* When the history began (monotonic ns): the rates' time before a minute. */
	int64_t start;
	struct history_sample s[HISTORY_SLOTS];
};

/* Start an empty history at now (monotonic ns): its first slot is the current one. */
void history_init(struct history *h, int64_t now);

/* Sample every slot that has ended by now from the windows lat (good cycles) and
 * fails (failed cycles); a slot older than the ring is left out. */
void history_tick(struct history *h, const struct latency *lat, const struct count_window *fails,
		  int64_t now);

/* Return the sample of slot number slot, or NULL when it is not in the ring (not
 * sampled yet, or before the history began, or more than HISTORY_SLOTS ago). */
const struct history_sample *history_at(const struct history *h, int64_t slot);

#endif
