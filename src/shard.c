/* Rendezvous hashing of target names over the shards of a fleet, and its balance. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"

#define FNV64_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV64_PRIME UINT64_C(0x100000001b3)

static uint64_t fnv1a64_byte(uint64_t h, uint8_t b)
{
	return (h ^ b) * FNV64_PRIME;
}

/* MurmurHash3's 64-bit finaliser: FNV-1a alone leaves the last bytes (the shard
 * number) poorly spread over the high bits that decide the comparison. */
static uint64_t fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

uint64_t shard_weight(const char *name, unsigned k)
{
	uint64_t h = FNV64_OFFSET;

	for (const char *p = name; *p; p++)
		h = fnv1a64_byte(h, (uint8_t)*p);
	h = fnv1a64_byte(h, 0);
	for (int i = 0; i < 4; i++)
		h = fnv1a64_byte(h, (uint8_t)(k >> (8 * i)));
	return fmix64(h);
}

uint64_t shard_owners(const char *name, const struct shard_pin *pin, unsigned n, unsigned r)
{
	uint64_t w[SHARD_MAX], mask = 0;

	if (pin && pin->all)
		return n >= SHARD_MAX ? UINT64_MAX : SHARD_BIT(n + 1) - 1;
	if (pin && pin->mask)
		return pin->mask;
	for (unsigned k = 1; k <= n; k++)
		w[k - 1] = shard_weight(name, k);
	for (unsigned i = 0; i < r && i < n; i++) {
		unsigned best = 0;

		for (unsigned k = 1; k <= n; k++)
			if (!(mask & SHARD_BIT(k)) && (!best || w[k - 1] > w[best - 1]))
				best = k;
		mask |= SHARD_BIT(best);
	}
	return mask;
}

void shard_stats(const char *const *names, size_t count, unsigned n, unsigned r,
		 struct shard_stats *ret)
{
	size_t per[SHARD_MAX] = { 0 };
	struct shard_stats s = { .min = SIZE_MAX, .assignments = count * r };

	for (size_t i = 0; i < count; i++) {
		uint64_t now = shard_owners(names[i], NULL, n, r);
		uint64_t next = n < SHARD_MAX ? shard_owners(names[i], NULL, n + 1, r) : now;

		for (unsigned k = 1; k <= n; k++)
			per[k - 1] += !!(now & SHARD_BIT(k));
		s.moved += (size_t)__builtin_popcountll(now & ~next);
		s.targets_changed += now != next;
	}
	for (unsigned k = 1; k <= n; k++) {
		s.min = per[k - 1] < s.min ? per[k - 1] : s.min;
		s.max = per[k - 1] > s.max ? per[k - 1] : s.max;
	}
	s.mean = n ? (double)(count * r) / n : 0;
	*ret = s;
}

/* A decimal number from 1 to SHARD_MAX at *p, moving p past it; 0 when there is none. */
static unsigned shard_number(const char **p)
{
	char *end;
	unsigned long v;

	if (**p < '0' || **p > '9')
		return 0;
	errno = 0;
	v = strtoul(*p, &end, 10);
	if (errno || v < 1 || v > SHARD_MAX || end - *p > 3)
		return 0;
	*p = end;
	return (unsigned)v;
}

int shard_parse(const char *s, unsigned *ret_k, unsigned *ret_n)
{
	unsigned k = shard_number(&s), n;

	if (!k || *s++ != '/')
		return -EINVAL;
	n = shard_number(&s);
	if (!n || *s || k > n)
		return -EINVAL;
	*ret_k = k;
	*ret_n = n;
	return 0;
}

int shard_parse_pin(const char *s, struct shard_pin *ret)
{
	struct shard_pin pin = { 0 };

	if (strcmp(s, "all") == 0) {
		*ret = (struct shard_pin){ .all = 1 };
		return 0;
	}
	for (;;) {
		unsigned k;

		while (*s == ' ' || *s == '\t')
			s++;
		k = shard_number(&s);
		if (!k || (pin.mask & SHARD_BIT(k)))
			return -EINVAL;
		pin.mask |= SHARD_BIT(k);
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		if (*s++ != ',')
			return -EINVAL;
	}
	*ret = pin;
	return 0;
}

char *shard_mask_format(uint64_t mask, char *out, size_t n)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned k = 1; k <= SHARD_MAX && o < n; k++)
		if (mask & SHARD_BIT(k))
			o += (size_t)snprintf(out + o, n - o, "%s%u", o ? "," : "", k);
	return out;
}
