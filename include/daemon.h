/* The daemon context: the configuration, the loop, the session pool and the sources
 * around them (control server, metrics listener, the periodic tick), wired together. */
#ifndef MCONN_DAEMON_H
#define MCONN_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl.h"
#include "loop.h"
#include "pool.h"
#include "view.h"

struct config;
struct http_listener;
struct reload_job;
struct resolver;

/* Periodic work (status line, fd budget, idle control clients) runs this often. */
#define DAEMON_TICK_NS NSEC_PER_SEC

struct daemon {
	struct config *cfg;
	/* The descriptors the kernel's table was last grown to hold (daemon_fd_reserve()). */
	uint64_t fd_reserved;
	const char *config_path;
	struct loop loop;
	struct pool pool;
	struct ctl_server ctl;
	struct http_listener *http;
	/* Looks names up off the loop (a handle); a reload waiting for its names. */
	struct resolver *resolver;
	int resolve_slot;
	struct reload_job *reload_job;
	/* Once a second: the resolve_every look-ups that are due (reconcile.c). */
	int reresolve_slot;
	struct scrape_stats scrape;
	struct reload_stats reload;
	bool verbose;
	/* --log-target (enum log_sink), or -1: log_target in the file decides. */
	int log_target_cli;
	int tick_slot;
	int64_t start_mono;
	int64_t start_wall;
	int64_t next_tick;
	int64_t watchdog_ns;
	int64_t next_watchdog;
	uint64_t status_cycles;
	int64_t status_at;
	double status_rate;
};

/* Set up the loop, the pool, targets and sessions from cfg (taken over on success). */
int daemon_init(struct daemon *d, struct config *cfg, const char *config_path);

/* Warn about each tls_key file of c that its group or others can read (not an error:
 * the key is still used). */
void daemon_warn_tls_keys(const struct config *c);

/* Open the control socket, whose requests go to dispatch; 0 or -errno after logging. */
int daemon_open_control(struct daemon *d, ctl_dispatch_fn dispatch, void *owner);

/* Take over the resolver r and register it with the loop; 0 or -errno. */
int daemon_open_resolver(struct daemon *d, struct resolver *r);

/* Arm the resolver's deadline after queries were submitted or answered. */
void daemon_resolver_arm(struct daemon *d);

/* Start the metrics HTTP listener when metrics_listen is set; 0 or -errno after
 * logging why. */
int daemon_open_metrics(struct daemon *d);

/* One turn of the loop, waiting at most max_wait_ms. 0 or -errno. */
int daemon_turn(struct daemon *d, int max_wait_ms);

/* Tell systemd we are ready and turn the loop until d->loop.stopping. */
int daemon_run(struct daemon *d);

/* Close every socket and free everything. */
void daemon_free(struct daemon *d);

/* Fill in the read-only view of d that the renderers take. */
void daemon_view(const struct daemon *d, struct view *ret);

/* Render the metrics into out and account what it cost. */
void daemon_scrape(struct daemon *d, struct buf *out);

/* Send systemd the one-line STATUS= summary: health, sessions, the cycle rate over
 * the last second, and the time and result of the last reload. */
void daemon_notify_status(struct daemon *d);

/* Give the sessions FD_RESERVE less than the open-files limit (HTTP_MAX_CLIENTS less
 * again with a metrics listener); true when their share changed. */
bool daemon_fd_budget(struct daemon *d);

/* Grow the process's descriptor table, once, to hold every session's fd besides the
 * control and metrics clients (at most the open-files limit), when sessions were added. */
void daemon_fd_reserve(struct daemon *d);

#endif
