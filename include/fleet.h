/* What a fleet's shared configuration gives each checker: the report of
 * `mconnd -t --shards`. */
#ifndef MCONN_FLEET_H
#define MCONN_FLEET_H

#include <stdbool.h>

struct buf;
struct config;

/* Write the assignment of c's targets to every shard K of its N: targets and
 * connections per checker, the balance, what one more checker would move and, with
 * list, every target's shards. */
void fleet_report(const struct config *c, bool list, struct buf *out);

/* Write one line on what this checker runs ("shard 2/4, replicas 2: runs 51 of 200
 * targets, skips 149"), or nothing when no shard is set. */
void fleet_summary(const struct config *c, struct buf *out);

#endif
