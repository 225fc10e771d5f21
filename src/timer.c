/* The deadline heap that drives every session's connect, exchange and interval
 * timers, and the daemon's periodic work. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "timer.h"

int timer_heap_init(struct timer_heap *h, uint32_t max_ids)
{
	memset(h, 0, sizeof(*h));
	return timer_heap_grow(h, max_ids);
}

int timer_heap_grow(struct timer_heap *h, uint32_t max_ids)
{
	uint32_t *slots;
	struct timer_entry *v;

	if (max_ids <= h->ids)
		return 0;
	slots = realloc(h->slot_of, (size_t)max_ids * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	h->slot_of = slots;
	for (uint32_t i = h->ids; i < max_ids; i++)
		slots[i] = TIMER_NONE;
	v = realloc(h->v, (size_t)max_ids * sizeof(*v));
	if (!v)
		return -ENOMEM;
	h->v = v;
	h->cap = max_ids;
	h->ids = max_ids;
	return 0;
}

void timer_heap_free(struct timer_heap *h)
{
	free(h->v);
	free(h->slot_of);
	memset(h, 0, sizeof(*h));
}

static void heap_place(struct timer_heap *h, uint32_t slot, struct timer_entry e)
{
	h->v[slot] = e;
	h->slot_of[e.id] = slot;
}

static void heap_up(struct timer_heap *h, uint32_t slot)
{
	struct timer_entry e = h->v[slot];

	while (slot > 0) {
		uint32_t parent = (slot - 1) / 2;

		if (h->v[parent].due <= e.due)
			break;
		heap_place(h, slot, h->v[parent]);
		slot = parent;
	}
	heap_place(h, slot, e);
}

static void heap_down(struct timer_heap *h, uint32_t slot)
{
	struct timer_entry e = h->v[slot];

	for (;;) {
		uint32_t child = 2 * slot + 1;

		if (child >= h->n)
			break;
		if (child + 1 < h->n && h->v[child + 1].due < h->v[child].due)
			child++;
		if (e.due <= h->v[child].due)
			break;
		heap_place(h, slot, h->v[child]);
		slot = child;
	}
	heap_place(h, slot, e);
}

void timer_set(struct timer_heap *h, uint32_t id, int64_t due)
{
	uint32_t slot = h->slot_of[id];

	if (slot == TIMER_NONE) {
		slot = h->n++;
		heap_place(h, slot, (struct timer_entry){ .due = due, .id = id });
		heap_up(h, slot);
		return;
	}
	if (due < h->v[slot].due) {
		h->v[slot].due = due;
		heap_up(h, slot);
	} else {
		h->v[slot].due = due;
		heap_down(h, slot);
	}
}

void timer_cancel(struct timer_heap *h, uint32_t id)
{
	uint32_t slot;

	if (id >= h->ids || (slot = h->slot_of[id]) == TIMER_NONE)
		return;
	h->slot_of[id] = TIMER_NONE;
	if (--h->n == slot)
		return;
	heap_place(h, slot, h->v[h->n]);
	if (slot > 0 && h->v[(slot - 1) / 2].due > h->v[slot].due)
		heap_up(h, slot);
	else
		heap_down(h, slot);
}

/* The same delta for all keeps the heap a heap: no entry moves. */
void timer_shift(struct timer_heap *h, int64_t delta)
{
	for (uint32_t i = 0; i < h->n; i++)
		h->v[i].due = h->v[i].due > INT64_MAX - delta ? INT64_MAX : h->v[i].due + delta;
}

int64_t timer_next_due(const struct timer_heap *h)
{
	return h->n ? h->v[0].due : INT64_MAX;
}

int timer_pop_due(struct timer_heap *h, int64_t now, uint32_t *ret_id)
{
	uint32_t id;

	if (h->n == 0 || h->v[0].due > now)
		return -EAGAIN;
	id = h->v[0].id;
	timer_cancel(h, id);
	*ret_id = id;
	return 0;
}
