/* The metrics HTTP listener: libmicrohttpd without a thread of its own, driven from
 * the daemon's epoll loop through MHD's epoll fd and timeout. GET and HEAD of
 * /metrics only; connections, their memory and their idle time are bounded. */
#ifndef MCONN_HTTP_H
#define MCONN_HTTP_H

#include <stdint.h>

#include "sockio.h"

struct daemon;
struct http_listener;
struct sockaddr_any;

/* epoll data of MHD's epoll fd in the daemon's epoll set; daemon.c checks that it
 * differs from the signalfd's, the control listener's and the control set's. */
#define HTTP_EVDATA (EVDATA_OTHER | 3u)
/* Connections served at once; more wait in the kernel's backlog. */
#define HTTP_MAX_CLIENTS 16
/* Memory one connection may use for its request (line, headers, body). */
#define HTTP_CONN_MEMORY (32u * 1024u)
/* Seconds a connection may stay idle before it is closed. */
#define HTTP_IDLE_TIMEOUT_S 15

/* What the listener has done, for status. */
struct http_stats {
	uint64_t requests;
	uint64_t not_found;
	uint64_t bad_method;
	uint64_t failed;
};

/* Listen on addr and add MHD to d's epoll set; 0, or -errno with a message in err. */
int http_open(struct http_listener **ret, struct daemon *d, const struct sockaddr_any *addr,
	      char *err, size_t errlen);

/* Stop the listener and close its sockets; http_close(NULL) does nothing. */
void http_close(struct http_listener *h);

/* Return the monotonic time by which http_run() must be called again even without an
 * event (a connection's timeout), or INT64_MAX. */
int64_t http_next_due(struct http_listener *h, int64_t now);

/* Let MHD accept, read, answer and time out what is ready; call on HTTP_EVDATA and
 * when http_next_due() has passed. */
void http_run(struct http_listener *h);

/* Return the address the listener is bound to, as "ADDR:PORT". */
const char *http_address(const struct http_listener *h);

/* Return what the listener has done. */
const struct http_stats *http_stats(const struct http_listener *h);

#endif
