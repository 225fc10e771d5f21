/* A binary min-heap of deadlines on CLOCK_MONOTONIC. Each entry carries an opaque
 * 32-bit id; its owner keeps the slot index the heap writes back, so it can cancel
 * or move its deadline in O(log n). Pure: no clock reads inside. */
#ifndef MCONN_TIMER_H
#define MCONN_TIMER_H

#include <stdint.h>

#define TIMER_NONE UINT32_MAX

struct timer_entry {
	int64_t due;
	uint32_t id;
};

/* The heap; slot_of[id] is kept up to date by the heap for every id it holds. */
struct timer_heap {
	struct timer_entry *v;
	uint32_t n;
	uint32_t cap;
	uint32_t *slot_of;
	uint32_t ids;
};

/* Prepare an empty heap for ids below max_ids; returns 0 or -ENOMEM. */
int timer_heap_init(struct timer_heap *h, uint32_t max_ids);

/* Allow ids below max_ids; existing entries are kept. Returns 0 or -ENOMEM. */
int timer_heap_grow(struct timer_heap *h, uint32_t max_ids);

/* Free the heap's memory. */
void timer_heap_free(struct timer_heap *h);

/* Arm or move the deadline of id. */
void timer_set(struct timer_heap *h, uint32_t id, int64_t due);

/* Cancel id's deadline if it has one. */
void timer_cancel(struct timer_heap *h, uint32_t id);

/* Return true when id has a deadline armed. */
static inline int timer_armed(const struct timer_heap *h, uint32_t id)
{
	return id < h->ids && h->slot_of[id] != TIMER_NONE;
}

/* Return id's deadline, or INT64_MAX when it has none. */
static inline int64_t timer_due(const struct timer_heap *h, uint32_t id)
{
	return timer_armed(h, id) ? h->v[h->slot_of[id]].due : INT64_MAX;
}

/* Move every deadline delta ns later, keeping their order. */
void timer_shift(struct timer_heap *h, int64_t delta);

/* Return the earliest deadline, or INT64_MAX when the heap is empty. */
int64_t timer_next_due(const struct timer_heap *h);

/* Remove and return through ret_id the earliest entry due at or before now; 0 or -EAGAIN. */
int timer_pop_due(struct timer_heap *h, int64_t now, uint32_t *ret_id);

#endif
