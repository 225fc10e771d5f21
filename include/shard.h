/* Sharding a shared configuration over a fleet of checkers: each target belongs to
 * `replicas` of the N shards by rendezvous (highest random weight) hashing of its
 * name, so replicas fall on distinct checkers and growing N moves about 1/(N+1) of
 * the assignments. Pure: no state, no logging. */
#ifndef MCONN_SHARD_H
#define MCONN_SHARD_H

#include <stddef.h>
#include <stdint.h>

/* The most checkers one fleet may have: a target's shards are one 64-bit mask. */
#define SHARD_MAX 64

/* The bit of shard k (1..SHARD_MAX) in a mask. */
#define SHARD_BIT(k) (UINT64_C(1) << ((k) - 1))

/* A target's place in the fleet: pinned to a set of shards, on all of them, or (both
 * zero) placed by the hash. */
struct shard_pin {
	uint64_t mask;
	int all;
};

/* The weight of shard k for a name: FNV-1a 64 over the name, a NUL byte and k as
 * four little-endian bytes, then the MurmurHash3 fmix64 finaliser. Fixed forever:
 * every checker, on any host and version, must compute the same assignment. */
uint64_t shard_weight(const char *name, unsigned k);

/* The shards (as a mask) that check name among n (1..SHARD_MAX) with r replicas
 * (1..n): the r highest weights, ties to the lower shard; a pin overrides it. */
uint64_t shard_owners(const char *name, const struct shard_pin *pin, unsigned n, unsigned r);

/* Balance of an assignment: targets per checker and what growing n by one moves. */
struct shard_stats {
	size_t min;
	size_t max;
	double mean;
	/* Replica assignments (target, shard) that leave their shard going to n + 1, of
	 * all assignments; and targets whose set of shards changes, of all targets. */
	size_t moved;
	size_t assignments;
	size_t targets_changed;
};

/* Compute the balance of names (without pins) over n shards with r replicas. */
void shard_stats(const char *const *names, size_t count, unsigned n, unsigned r,
		 struct shard_stats *ret);

/* Parse "K/N" (1 <= K <= N <= SHARD_MAX); 0 or -EINVAL. */
int shard_parse(const char *s, unsigned *ret_k, unsigned *ret_n);

/* Parse "all" or a comma-separated list of shard numbers 1..SHARD_MAX without
 * repeats; 0 or -EINVAL. */
int shard_parse_pin(const char *s, struct shard_pin *ret);

/* Write the shard numbers of mask as "1,3,4" into out. */
char *shard_mask_format(uint64_t mask, char *out, size_t n);

#endif
