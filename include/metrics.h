/* The Prometheus text exposition (format 0.0.4) of the daemon's state, for the
 * `metrics` control command and the metrics_listen HTTP listener. */
#ifndef MCONN_METRICS_H
#define MCONN_METRICS_H

#include <stddef.h>
#include <stdint.h>

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

#endif
