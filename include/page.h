/* The status page for people that metrics_listen serves at /: one self-contained
 * HTML document (inline CSS and SVG, no script, no external asset) with every
 * target's state in colour and in words, its rates, failures by class, p50 and p99,
 * and a chart of its last ten minutes; it reloads itself every PAGE_REFRESH_S. Drawn
 * from the read-only view like the other renderers, a slice at a time. */
#ifndef MCONN_PAGE_H
#define MCONN_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "render.h"

struct buf;
struct view;

#define PAGE_CONTENT_TYPE "text/html; charset=utf-8"
/* Seconds between the page's own reloads (meta refresh): one history sample. */
#define PAGE_REFRESH_S 10

/* Where a sliced page is: the target the rows have reached (see struct render_cursor
 * for what a reader sees when targets change between slices). */
struct page_cursor {
	bool started;
	struct render_pos pos;
	/* The page's moment: monotonic for ages and windows, wall clock to print. */
	int64_t now;
	int64_t wall;
};

/* Start a page at monotonic now, printed as wall (ns since the Unix epoch). */
void page_begin(struct page_cursor *cur, int64_t now, int64_t wall);

/* Append the next slice: rows until at least max bytes were added (a row is never
 * cut). Returns true when the page is complete. */
bool page_render_slice(const struct view *v, struct page_cursor *cur, struct buf *out, size_t max);

/* The whole page at once. */
void page_render(const struct view *v, int64_t now, int64_t wall, struct buf *out);

#endif
