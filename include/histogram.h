/* Log-linear latency histograms: 32 buckets per power of two of nanoseconds, so a
 * bucket's midpoint is within 1.6 % of any value in it, from 1 us to 68 s. A
 * sliding window of six 10-second slots gives percentiles over the last minute. */
#ifndef MCONN_HISTOGRAM_H
#define MCONN_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS 1024u
#define HIST_WINDOW_SLOTS 6
#define HIST_SLOT_NS (10LL * 1000000000LL)

/* The bounds the histograms are exported with (Prometheus le), in ns. */
#define HIST_LE_N 17
extern const int64_t hist_le_ns[HIST_LE_N];

/* Counts since start. le[k] counts the values in (hist_le_ns[k-1], hist_le_ns[k]]
 * exactly, as the log-linear buckets cannot (their edges are powers of two). */
struct hist {
	uint64_t count;
	uint64_t sum;
	int64_t max;
	uint64_t le[HIST_LE_N];
	uint64_t b[HIST_BUCKETS];
};

/* The last minute, in six rotating 10-second slots. */
struct hist_window {
	int64_t epoch;
	uint64_t count[HIST_WINDOW_SLOTS];
	int64_t max[HIST_WINDOW_SLOTS];
	uint32_t b[HIST_WINDOW_SLOTS][HIST_BUCKETS];
};

/* A count over the last minute, in the same six rotating 10-second slots. */
struct count_window {
	int64_t epoch;
	uint64_t n[HIST_WINDOW_SLOTS];
};

/* One latency measure: since start and over the last minute. */
struct latency {
	struct hist total;
	struct hist_window win;
};

/* What status shows of a histogram. Values in nanoseconds; -1 when count is 0. */
struct latency_summary {
	uint64_t count;
	int64_t p50;
	int64_t p90;
	int64_t p99;
	int64_t max;
};

/* Return the bucket that holds v nanoseconds (negative counts as 0). */
uint32_t hist_bucket_of(int64_t v);

/* Return the smallest value that falls into bucket i. */
int64_t hist_bucket_low(uint32_t i);

/* Return the first value above bucket i. */
int64_t hist_bucket_high(uint32_t i);

/* Add one value to a since-start histogram. */
void hist_record(struct hist *h, int64_t v);

/* Return the value at quantile q (0..1) as the midpoint of its bucket, capped at max. */
int64_t hist_quantile(const struct hist *h, double q);

/* Add one value at time now (monotonic ns) to both the total and the window. */
void latency_record(struct latency *l, int64_t v, int64_t now);

/* Sum the window's slots still inside the last minute at now into ret. */
void latency_window_merge(const struct latency *l, int64_t now, struct hist *ret);

/* Count one event at time now (monotonic ns). */
void count_window_add(struct count_window *w, int64_t now);

/* Return the events counted in the slots still inside the last minute at now. */
uint64_t count_window_sum(const struct count_window *w, int64_t now);

/* The values at the ascending quantiles q[0..n) of the good values recorded in the
 * 10-second slot number slot (monotonic ns / HIST_SLOT_NS) into ret (-1 each when
 * none); returns how many values the slot holds: 0 when none, or when the window has
 * moved on six slots since. */
uint64_t latency_slot_quantiles(const struct latency *l, int64_t slot, const double *q,
				size_t n, int64_t *ret);

/* Return the events counted in slot number slot, 0 once the window has moved on. */
uint64_t count_window_slot(const struct count_window *w, int64_t slot);

/* Summarise the last minute (window != 0) or everything since start. */
void latency_summarize(const struct latency *l, int window, int64_t now,
		       struct latency_summary *ret);

#endif
