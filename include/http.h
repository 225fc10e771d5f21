/* The metrics HTTP listener: libmicrohttpd without a thread of its own, driven from
 * the daemon's epoll loop through MHD's epoll fd and timeout. GET and HEAD of
 * /metrics only; connections, their memory and their idle time are bounded. */
#ifndef MCONN_HTTP_H
#define MCONN_HTTP_H

#include <stdint.h>

struct buf;
struct http_listener;
struct loop;
struct sockaddr_any;

/* Append the body of GET /metrics to out. */
typedef void (*http_render_fn)(void *owner, struct buf *out);
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

/* Listen on addr and register MHD with the loop; GET /metrics answers with what
 * render appends. 0, or -errno with a message in err. */
int http_open(struct http_listener **ret, struct loop *loop, const struct sockaddr_any *addr,
	      http_render_fn render, void *owner, char *err, size_t errlen);

/* Stop the listener and close its sockets; http_close(NULL) does nothing. */
void http_close(struct http_listener *h);

/* Return the address the listener is bound to, as "ADDR:PORT". */
const char *http_address(const struct http_listener *h);

/* Return what the listener has done. */
const struct http_stats *http_stats(const struct http_listener *h);

#endif
