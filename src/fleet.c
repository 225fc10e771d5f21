/* The whole assignment of a shared configuration, for an operator to see before
 * deploying it: which checker runs what, how even it is, and what growing moves. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fleet.h"
#include "shard.h"
#include "util.h"

void fleet_summary(const struct config *c, struct buf *out)
{
	if (!c->shard_set)
		return;
	buf_printf(out, "shard %u/%u, replicas %u: runs %zu of %zu target%s, skips %zu\n",
		   c->shard_k, c->shard_n, c->replicas, c->n_targets, c->n_all, plural_s(c->n_all),
		   c->n_skipped);
}

/* Targets and connections per shard, and the balance over them. */
static void fleet_report_shards(const struct config *c, struct buf *out)
{
	size_t min = SIZE_MAX, max = 0, sum = 0;

	for (unsigned k = 1; k <= c->shard_n; k++) {
		uint64_t conns = 0;
		size_t n = 0;

		for (size_t i = 0; i < c->n_all; i++) {
			if (!(c->all[i]->shard_owners & SHARD_BIT(k)))
				continue;
			n++;
			conns += c->all[i]->connections;
		}
		buf_printf(out, "shard %u/%u: %zu target%s, %llu connection%s%s\n", k, c->shard_n, n,
			   plural_s(n), (unsigned long long)conns, plural_s(conns),
			   k == c->shard_k && c->shard_set ? " (this checker)" : "");
		min = MIN(min, n);
		max = MAX(max, n);
		sum += n;
	}
	buf_printf(out, "balance: min %zu, max %zu, mean %.1f targets per checker\n", min, max,
		   (double)sum / c->shard_n);
}

/* What going from N to N + 1 checkers would move. */
static void fleet_report_growth(const struct config *c, struct buf *out)
{
	size_t moved = 0, assignments = 0, changed = 0;

	if (c->shard_n >= SHARD_MAX) {
		buf_printf(out, "growing: %u checkers is the most a fleet may have\n", SHARD_MAX);
		return;
	}
	for (size_t i = 0; i < c->n_all; i++) {
		const struct target_conf *t = c->all[i];
		uint64_t next = shard_owners(t->name, &t->shard_pin, c->shard_n + 1, c->replicas);

		assignments += (size_t)__builtin_popcountll(t->shard_owners);
		moved += (size_t)__builtin_popcountll(t->shard_owners & ~next);
		changed += next != t->shard_owners;
	}
	buf_printf(out, "growing to %u checkers moves %zu of %zu assignments (%.1f %%); %zu of %zu targets change shards\n",
		   c->shard_n + 1, moved, assignments,
		   assignments ? 100.0 * (double)moved / (double)assignments : 0.0, changed, c->n_all);
}

void fleet_report(const struct config *c, bool list, struct buf *out)
{
	char shards[200];
	int w = 6;

	buf_printf(out, "%zu target%s over %u checker%s, replicas %u (rendezvous hashing, FNV-1a 64 + fmix64)\n",
		   c->n_all, plural_s(c->n_all), c->shard_n, plural_s(c->shard_n), c->replicas);
	fleet_report_shards(c, out);
	fleet_report_growth(c, out);
	if (!list)
		return;
	for (size_t i = 0; i < c->n_all; i++)
		w = MAX(w, (int)strlen(c->all[i]->name));
	buf_printf(out, "%-*s SHARDS\n", w, "TARGET");
	for (size_t i = 0; i < c->n_all; i++) {
		const struct target_conf *t = c->all[i];

		buf_printf(out, "%-*s %s%s\n", w, t->name,
			   shard_mask_format(t->shard_owners, shards, sizeof(shards)),
			   t->shard_pin.all ? " (all)" : t->shard_pin.mask ? " (pinned)" : "");
	}
}
