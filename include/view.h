/* The read-only view of the daemon that the renderers (text, JSON, stats, metrics)
 * take: the pool of targets and sessions and the counters of the parts around it.
 * Plain data; the daemon fills one in when a reply or a scrape needs it. */
#ifndef MCONN_VIEW_H
#define MCONN_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl_server;
struct http_stats;
struct loop_stats;
struct pool;

/* What rendering the metrics costs the loop. */
struct scrape_stats {
	uint64_t renders;
	int64_t total_ns;
	int64_t last_ns;
	int64_t max_ns;
	size_t last_bytes;
};

/* Reloads so far and the last one's outcome. */
struct reload_stats {
	uint64_t ok;
	uint64_t failed;
	int64_t last_wall;
	int64_t last_mono;
	bool last_ok;
	char last_msg[256];
};

/* This checker's place in a fleet (shard = K/N, replicas = R); set false without one. */
struct view_shard {
	bool set;
	unsigned k;
	unsigned n;
	unsigned replicas;
	size_t skipped;
};

struct view {
	const struct pool *pool;
	const struct loop_stats *loop;
	const struct ctl_server *ctl;
	const struct reload_stats *reload;
	const struct scrape_stats *scrape;
	/* NULL when there is no metrics listener. */
	const struct http_stats *http;
	const char *http_address;
	const char *config_path;
	int64_t start_mono;
	int64_t start_wall;
	struct view_shard shard;
};

#endif
