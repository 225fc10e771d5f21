/* Renderers of the daemon's state for the control socket: text tables for people,
 * JSON for programs. They only append to a bounded buffer. */
#ifndef MCONN_RENDER_H
#define MCONN_RENDER_H

#include <stdbool.h>
#include <stdint.h>

struct buf;
struct view;
struct target;

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

#endif
