/* A target at run time: its configuration, its sessions, its counters, latency
 * histograms and health. Each session keeps its own rise/fall verdict; the target's
 * state comes from how many of its sessions are down (down_quorum) and from the share
 * of failures among their recent results (degraded_ratio); too many state changes in
 * flap_window mark it flapping. Pure bookkeeping: the caller logs what
 * target_record_result() and target_tick() report. */
#ifndef MCONN_TARGET_H
#define MCONN_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "histogram.h"
#include "history.h"
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
	HEALTH_DEGRADED,
	_HEALTH_MAX,
};

/* The recent results of the sessions that are not down must hold at least this many
 * before their failure ratio can make a target degraded: one full session window. */
#define HEALTH_MIN_RESULTS 16
/* State changes remembered for flap detection: more than the largest flap_threshold. */
#define HEALTH_FLAP_RING 128

struct target {
	/* The configuration of the moment: a cycle starts under it and takes a reference
	 * (config_target_ref()) that it keeps to its end. */
	struct target_conf *conf;
	enum health_state health;
	int64_t health_since;
	uint64_t health_changes;
	/* Sessions that ran, by verdict (unknown, up, down), and those starved of local
	 * resources, which count in none of the others. */
	uint32_t sess_verdict[3];
	uint32_t sess_starved;
	/* Sessions down whose last cycle failed too: the ones the quorum counts. */
	uint32_t sess_down_failing;
	/* Failures and results in the recent windows of the sessions not down. */
	uint32_t recent_failed;
	uint32_t recent_total;
	bool ratio_high;
	bool flapping;
	int64_t flapping_since;
	uint32_t change_head;
	int64_t change_at[HEALTH_FLAP_RING];
	uint64_t cycles_ok;
	uint64_t cycles_failed;
	uint64_t errors[_SERR_MAX];
	/* Segments the sessions' connections retransmitted (TCP_INFO at each cycle's end). */
	uint64_t retransmits;
	/* Good cycles timed by the loop's clock: the kernel's stamps were missing. */
	uint64_t cycles_loop_timed;
	enum session_error last_error;
	int last_errno;
	int64_t last_error_at;
	/* What the kernel said of the last error beyond errno (an ICMP message), or "". */
	char last_detail[128];
	int64_t last_ok_at;
	/* UDP: datagrams sent, and echoes that came twice or after their cycle gave up. */
	struct {
		uint64_t sent;
		uint64_t duplicates;
		uint64_t late;
	} udp;
	/* TLS: handshakes finished (those that resumed a session among them), their
	 * times (allocated at the first), and the notAfter of the last peer certificate
	 * read (unix seconds; 0: none yet). */
	struct {
		uint64_t handshakes;
		uint64_t resumed;
		int64_t cert_not_after;
		struct hist *handshake;
	} tls;
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
	/* Mismatches over the last minute, for mconnctl check --mismatch. */
	struct count_window mismatch_win;
	/* The last ten minutes in 10-second samples, for the status page. */
	struct history history;
};

/* What health_change.what says happened. */
#define HC_STATE 0x1u     /* The state changed from from to to. */
#define HC_FLAP_START 0x2u /* The target began flapping. */
#define HC_FLAP_END 0x4u   /* The target stopped flapping. */

/* What a result or a tick did to health, for the caller to log. */
struct health_change {
	unsigned what;
	enum health_state from;
	enum health_state to;
	int64_t in_previous_ns;
	/* The run of the session whose result made the change (0 from a tick). */
	uint32_t count;
	enum session_error reason;
	uint32_t sessions;
	uint32_t down;
	uint32_t up;
	uint32_t quorum;
	/* The failure ratio of recent results, or -1 below HEALTH_MIN_RESULTS. */
	double ratio;
	/* State changes within flap_window, for the flapping messages. */
	uint32_t changes_in_window;
};

/* Allocate a target for conf with health unknown since now. */
struct target *target_new(struct target_conf *conf, int64_t now);

/* Forget health: unknown from now on, as for a target just started. */
void target_reset_health(struct target *t, int64_t now);

/* Free a target (and a configuration of its own); target_free(NULL) does nothing. */
void target_free(struct target *t);

/* Count a new session of t whose health is sh (zeroed here: verdict unknown). */
void target_add_session(struct target *t, struct sess_health *sh);

/* Take a retired session's verdict out of t's counts. */
void target_drop_session(struct target *t, const struct sess_health *sh);

/* Count a finished cycle of the session whose health is sh; returns true and fills
 * ret when health changed or flapping began. A local resource shortage is counted,
 * marks the session starved and says nothing about the target's health. */
bool target_record_result(struct target *t, struct sess_health *sh,
			  const struct session_result *res, int64_t now, struct health_change *ret);

/* Look at t again as time passes or sessions come and go: the state its sessions
 * give now, and the end of flapping; samples the slots of its history that ended.
 * Returns true and fills ret on a change. */
bool target_tick(struct target *t, int64_t now, struct health_change *ret);

/* Return the pause before the next cycle of the session whose health is sh, with
 * fails consecutive failures, the last of class err: the interval while its verdict
 * holds, interval_changing while a run of results would change it, interval_down
 * while it is down (doubling per failure up to backoff_max); never under 100ms after
 * a failure. A local resource shortage backs off the same way from the interval. */
int64_t target_pause(const struct target *t, const struct sess_health *sh, uint32_t fails,
		     enum session_error err);

/* The same pause as target_pause() worked out under configuration c instead of t's. */
int64_t target_pause_under(const struct target *t, const struct target_conf *c,
			   const struct sess_health *sh, uint32_t fails, enum session_error err);

/* Return the name of a health state ("unknown", "up", "down", "degraded"). */
const char *health_state_name(enum health_state h);

#endif
