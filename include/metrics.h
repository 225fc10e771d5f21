/* The Prometheus text exposition (format 0.0.4) of the daemon's state, for the
 * `metrics` control command and the metrics_listen HTTP listener. */
#ifndef MCONN_METRICS_H
#define MCONN_METRICS_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "render.h"

struct buf;
struct scrape_stats;
struct view;

/* The Content-Type of the exposition. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Append the exposition of v's state at now (monotonic ns) to out. Counters are the
 * counts since each target started; histogram buckets are cumulative and exact: a
 * value counts under every bound at or above it (counted per bound when recorded). */
void metrics_render(const struct view *v, int64_t now, struct buf *out);

/* Escape a label value into out (n bytes): backslash, double quote and newline, as
 * the format asks; returns the length written, cut to fit. */
size_t metrics_label_escape(const char *v, char *out, size_t n);

/* Render as metrics_render() does and account the time and size it took in acct. */
void metrics_scrape(const struct view *v, struct scrape_stats *acct, struct buf *out);

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
bool metrics_render_slice(const struct view *v, struct metrics_cursor *cur, struct buf *out,
			  size_t max);

/* metrics_render_slice(), accounting the time and size of the whole exposition in acct
 * when it completes. */
bool metrics_scrape_slice(const struct view *v, struct scrape_stats *acct,
			  struct metrics_cursor *cur, struct buf *out, size_t max);

#endif
