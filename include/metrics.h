/* The Prometheus text exposition (format 0.0.4) of the daemon's state, for the
 * `metrics` control command and the metrics_listen HTTP listener. */
#ifndef MCONN_METRICS_H
#define MCONN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "render.h"

struct buf;
struct daemon;

/* The Content-Type of the exposition. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Upper bounds of the latency histograms' buckets, in nanoseconds, ascending. */
extern const int64_t metrics_buckets_ns[];
extern const size_t metrics_n_buckets;

/* Append the exposition of d's state at now (monotonic ns) to out. Counters are the
 * counts since each target started; histograms are cumulative, from the log-linear
 * histograms: a log-linear bucket (1/32 of a power of two wide) counts under every
 * bound at or above its lowest value, so a value at a bound counts under it and one
 * at most 3 % above a bound may too. */
void metrics_render(const struct daemon *d, int64_t now, struct buf *out);

/* Escape a label value into out (n bytes): backslash, double quote and newline, as
 * the format asks; returns the length written, cut to fit. */
size_t metrics_label_escape(const char *v, char *out, size_t n);

/* Render as metrics_render() does and account the time and size it took in d. */
void metrics_scrape(struct daemon *d, struct buf *out);

/* Where a sliced exposition is: the family, and the target within it (see struct
 * render_cursor for what a reader sees when targets change between slices). */
struct metrics_cursor {
	bool started;
	size_t family;
	struct render_pos pos;
	int64_t now;
	int64_t spent;
	size_t bytes;
};

/* Start an exposition at now. */
void metrics_begin(struct metrics_cursor *cur, int64_t now);

/* Append the next slice: lines until at least max bytes were added (a target's lines
 * of one family are never cut). Returns true when the exposition is complete. */
bool metrics_render_slice(const struct daemon *d, struct metrics_cursor *cur, struct buf *out,
			  size_t max);

/* metrics_render_slice(), accounting the time and size of the whole exposition in d's
 * scrape statistics when it completes. */
bool metrics_scrape_slice(struct daemon *d, struct metrics_cursor *cur, struct buf *out,
			  size_t max);

#endif
