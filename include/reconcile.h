/* Changing the running daemon: reload of the configuration files, `set` of one key,
 * pause and resume. Every change goes through one path that moves a target from its
 * configuration to another while keeping its counters, health and, where nothing
 * forces a restart, its sessions. */
#ifndef MCONN_RECONCILE_H
#define MCONN_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct daemon;
struct target;

/* Read and check the configuration files again and, only when they are good and
 * every name in them resolves, move the daemon to them. Writes what happened (or
 * every error) to out when out is not NULL, one line each, and logs it. 0 done,
 * -EINVAL refused, 1 under way: names are being looked up in the background (or a
 * reload already was, and one more follows it); daemon_reload_wait() then takes a
 * client that waits for the outcome. */
int daemon_reload(struct daemon *d, struct buf *out);

/* Give the outcome of the reload under way (the last one asked for) to the client
 * whose reply ctl_defer() deferred under ticket. */
void daemon_reload_wait(struct daemon *d, uint64_t ticket);

/* Drop a reload under way without applying it (at exit, before daemon_free()). */
void daemon_reload_cancel(struct daemon *d);

/* Register the loop handle that, once a second, looks up again the names of the
 * targets with resolve_every that are due. 0 or -errno. */
int daemon_watch_names(struct daemon *d);

/* Change one key of a running target, checked as the file's value would be; the
 * change lasts until the next reload. 0, or -errno with a message in err. */
int daemon_set(struct daemon *d, struct target *t, const char *key, const char *value,
	       char *err, size_t errlen);

/* Close every session of t and keep it stopped until daemon_resume(); false when it
 * already was. Counters are kept. */
bool daemon_pause(struct daemon *d, struct target *t);

/* Start the sessions of a paused target again, with health unknown; false when it
 * was not paused. */
bool daemon_resume(struct daemon *d, struct target *t);

#endif
