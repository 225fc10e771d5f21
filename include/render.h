/* Renderers of the daemon's state for the control socket: text tables for people,
 * JSON for programs. They only append to a bounded buffer. A listing can be rendered
 * whole, or a slice at a time through a cursor (render_begin, render_slice). */
#ifndef MCONN_RENDER_H
#define MCONN_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"

struct buf;
struct view;
struct target;

enum render_kind {
	RENDER_STATUS,
	RENDER_SESSIONS,
	RENDER_STATS,
};

/* Where a walk over the targets is: the index of the next one, and the name of the
 * last one shown, to find the place again after a reload changed the list. */
struct render_pos {
	size_t next;
	char last[MCONN_NAME_MAX + 1];
};

/* Where a sliced listing is. It holds names and indexes, no pointers: between slices
 * sessions and targets may change. A reader then sees each row as it was when its
 * slice was rendered; sessions added to the target meanwhile are listed, retired
 * ones stop the listing short of them; a target removed by a reload ends a session
 * listing early with a line (text) or an "ended" key (JSON) saying so; a status or
 * stats listing goes on after the last target it showed, so a target a reload adds
 * before that point is not shown, and none is shown twice unless the reload reorders
 * the targets. Counters are those of the moment of each slice; ages and windows are
 * taken at the time of the request. */
struct render_cursor {
	enum render_kind kind;
	bool json;
	bool started;
	int64_t now;
	/* The target a listing is about (sessions; status or stats of one), or "". */
	char target[MCONN_NAME_MAX + 1];
	struct render_pos pos;
	size_t rows;
	int name_w;
	int addr_w;
};

/* Status of every target, or of one when only is not NULL. */
void render_status(const struct view *v, const struct target *only, bool json, int64_t now,
		   struct buf *out);

/* Every session of one target. */
void render_sessions(const struct view *v, const struct target *t, bool json, int64_t now,
		     struct buf *out);

/* One line of KEY=VALUE words for the daemon, then one per target (or for only), for
 * programs that want no JSON parser: mconnctl check and top read it. */
void render_stats(const struct view *v, const struct target *only, int64_t now,
		  struct buf *out);

/* Start a listing of kind: about t (sessions; NULL for status or stats of every
 * target), as JSON or text, at now. */
void render_begin(struct render_cursor *cur, enum render_kind kind, const struct target *t,
		  bool json, int64_t now);

/* Append the next slice of the listing: rows until at least max bytes were added
 * (a row is never cut). Returns true when the listing is complete. */
bool render_slice(const struct view *v, struct render_cursor *cur, struct buf *out, size_t max);

/* Step pos to the next target of the view and return it, or NULL at the end. */
const struct target *render_next_target(const struct view *v, struct render_pos *pos);

#endif
