/* The daemon context: everything mconnd keeps, in one place, and the loop that
 * turns it. */
#ifndef MCONN_DAEMON_H
#define MCONN_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl.h"
#include "histogram.h"
#include "session.h"
#include "sockio.h"
#include "timer.h"

struct config;
struct http_listener;
struct target;

#define DAEMON_MAX_EVENTS 512
#define DAEMON_MAX_TIMERS_PER_TURN 256
#define DAEMON_CTL_EVERY 64
#define DAEMON_SCRATCH 65536
/* A loop that did not run for this long beyond what it asked for was stopped or
 * starved: the deadlines move on by the time lost. */
#define DAEMON_STALL_NS (250 * NSEC_PER_MSEC)

/* What rendering the metrics costs the loop. */
struct scrape_stats {
	uint64_t renders;
	int64_t total_ns;
	int64_t last_ns;
	int64_t max_ns;
	size_t last_bytes;
};

struct daemon {
	struct config *cfg;
	const char *config_path;
	int epfd;
	/* The control server's own epoll instance, nested in epfd and also looked at
	 * every DAEMON_CTL_EVERY session events, so a busy loop still answers at once. */
	int ctl_epfd;
	int sigfd;
	struct sockio sio;
	struct session_env env;
	struct timer_heap timers;
	struct session *sess;
	uint32_t n_sess;
	uint32_t cap_sess;
	uint32_t *free_ids;
	uint32_t n_free;
	struct target **targets;
	size_t n_targets;
	struct ctl_server ctl;
	struct http_listener *http;
	struct scrape_stats scrape;
	int64_t start_mono;
	int64_t start_wall;
	int64_t next_tick;
	int64_t watchdog_ns;
	int64_t next_watchdog;
	bool stopping;
	bool verbose;
	bool reload_requested;
	uint64_t reloads_ok;
	uint64_t reloads_failed;
	int64_t last_reload_wall;
	int64_t last_reload_mono;
	bool last_reload_ok;
	char last_reload_msg[256];
	bool resource_episode;
	int64_t resource_last;
	uint64_t resource_in_episode;
	uint64_t loop_turns;
	uint64_t cycles_total;
	uint64_t status_cycles;
	int64_t status_at;
	double status_rate;
	uint64_t stale_events;
	uint64_t unexpected_events;
	/* How late each cycle started after its scheduled time: the loop keeping up. */
	struct latency lateness;
	uint64_t stalls;
	int64_t stalled_ns;
	int64_t mark;
	uint8_t scratch[DAEMON_SCRATCH];
};

/* Set up epoll, signals, targets and sessions from cfg (taken over on success). */
int daemon_init(struct daemon *d, struct config *cfg, const char *config_path);

/* Open the control socket; returns 0 or -errno after logging why. */
int daemon_open_control(struct daemon *d);

/* Start the metrics HTTP listener when metrics_listen is set; 0 or -errno after
 * logging why. */
int daemon_open_metrics(struct daemon *d);

/* One turn of the loop: due timers, pending control clients, periodic work, then
 * epoll_wait for at most max_wait_ms and the events it returns. 0 or -errno. */
int daemon_turn(struct daemon *d, int max_wait_ms);

/* Tell systemd we are ready and turn the loop until SIGTERM or SIGINT. */
int daemon_run(struct daemon *d);

/* Close every socket and free everything. */
void daemon_free(struct daemon *d);

/* Start count more sessions of t, their first cycles spread over one interval. */
int daemon_add_sessions(struct daemon *d, struct target *t, uint32_t count, int64_t now);

/* Stop the sessions of t past the first keep (closing their fds) and free their ids. */
void daemon_retire_sessions(struct daemon *d, struct target *t, uint32_t keep);

/* Move the next cycle of every waiting session of t to what t->conf now says: the
 * pause after its last cycle is worked out again (it was was's); a session that has
 * waited longer than that from its last cycle's end starts now, spread over the new
 * interval as at start rather than all at once. Cycles under way are left alone. */
void daemon_reschedule_sessions(struct daemon *d, struct target *t,
				const struct target_conf *was, int64_t now);

/* Send systemd the one-line STATUS= summary: health, sessions, the cycle rate over
 * the last second, and the time and result of the last reload. */
void daemon_notify_status(struct daemon *d);

/* Count the sessions of t that have a connection or a connect in progress. */
uint32_t daemon_target_active(const struct daemon *d, const struct target *t);

/* Find a target by name, or NULL. */
struct target *daemon_find_target(const struct daemon *d, const char *name);

#endif
