/* A target at run time: its configuration, its sessions, its counters, latency
 * histograms and health. Health follows rise/fall over consecutive cycle results.
 * Pure bookkeeping: the caller logs what target_record_result() reports. */
#ifndef MCONN_TARGET_H
#define MCONN_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "histogram.h"
#include "session.h"

struct target_conf;

/* Re-resolution of a target's name (resolve_every): the query in flight, when the
 * next is due, and what failed. A failure keeps the address in use. */
struct target_resolve {
	uint64_t id;
	int64_t next;
	uint64_t failures;
	int64_t error_at;
	char error[200];
};

enum health_state {
	HEALTH_UNKNOWN,
	HEALTH_UP,
	HEALTH_DOWN,
	_HEALTH_MAX,
};

struct target {
	const struct target_conf *conf;
	enum health_state health;
	uint32_t consec_ok;
	uint32_t consec_fail;
	int64_t health_since;
	uint64_t health_changes;
	uint64_t cycles_ok;
	uint64_t cycles_failed;
	uint64_t errors[_SERR_MAX];
	enum session_error last_error;
	int last_errno;
	int64_t last_error_at;
	int64_t last_ok_at;
	uint32_t *sess;
	uint32_t n_sess;
	/* Run-time state kept across reloads. */
	bool paused;
	uint32_t generation;
	unsigned restart_changes;
	int64_t reset_wall;
	int64_t reset_mono;
	unsigned runtime_set;
	struct target_conf *own_conf;
	struct target_resolve resolve;
	struct latency connect_lat;
	struct latency cycle_lat;
	struct count_window fail_win;
};

/* What a result did to health, for the caller to log. */
struct health_change {
	enum health_state from;
	enum health_state to;
	int64_t in_previous_ns;
	uint32_t count;
	enum session_error reason;
};

/* Allocate a target for conf with health unknown since now. */
struct target *target_new(const struct target_conf *conf, int64_t now);

/* Forget health: unknown from now on, as for a target just started. */
void target_reset_health(struct target *t, int64_t now);

/* Free a target (and a configuration of its own); target_free(NULL) does nothing. */
void target_free(struct target *t);

/* Count a finished cycle; returns true and fills ret when health changed. A local
 * resource shortage is counted but says nothing about the target's health. */
bool target_record_result(struct target *t, const struct session_result *res, int64_t now,
			  struct health_change *ret);

/* Return the pause before the next cycle of a session with fails consecutive failures,
 * the last of class err: the interval after a success; after a failure at least
 * max(interval, 100ms), doubling per failure up to backoff_max while the target is
 * down or after a local resource shortage. */
int64_t target_pause(const struct target *t, uint32_t fails, enum session_error err);

/* Return the name of a health state ("unknown", "up", "down"). */
const char *health_state_name(enum health_state h);

#endif
