/* The metrics HTTP listener: libmicrohttpd without a thread of its own, driven from
 * the daemon's epoll loop through MHD's epoll fd and timeout. GET and HEAD of
 * /metrics and of the pages added (the status page at /) only; connections, their
 * memory and their idle time are bounded. */
#ifndef MCONN_HTTP_H
#define MCONN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct http_listener;
struct loop;
struct sockaddr_any;

/* The body of GET /metrics, rendered in slices as the connection drains. */
struct http_source {
	/* Start one response; its state, or NULL when out of memory. */
	void *(*begin)(void *owner);
	/* Append the next slice, at least max bytes unless it is the last; true when the
	 * body is complete. */
	bool (*slice)(void *owner, void *state, struct buf *out, size_t max);
	/* The response is over (sent or abandoned): free state. */
	void (*end)(void *owner, void *state);
};

/* Another path the listener serves (GET and HEAD), with the type and source of its
 * body; path and content_type are not copied. */
struct http_page {
	const char *path;
	const char *content_type;
	struct http_source src;
};

/* Paths served besides /metrics. */
#define HTTP_MAX_PAGES 4

/* How much of a /metrics body MHD asks for at a time, and so about the most one
 * connection renders per loop turn. */
#define HTTP_SLICE_BYTES ((size_t)16 * 1024)
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
	/* Responses sent gzip-compressed (the scraper's Accept-Encoding asked for it),
	 * and the loop's time spent compressing them. */
	uint64_t gzip;
	int64_t gzip_ns;
};

/* Listen on addr and register MHD with the loop; GET /metrics answers with what src
 * renders. 0, or -errno with a message in err. */
int http_open(struct http_listener **ret, struct loop *loop, const struct sockaddr_any *addr,
	      const struct http_source *src, void *owner, char *err, size_t errlen);

/* Serve page too; 0, or -ENOSPC past HTTP_MAX_PAGES. */
int http_add_page(struct http_listener *h, const struct http_page *page);

/* Stop the listener and close its sockets; http_close(NULL) does nothing. */
void http_close(struct http_listener *h);

/* Return the address the listener is bound to, as "ADDR:PORT". */
const char *http_address(const struct http_listener *h);

/* Return what the listener has done. */
const struct http_stats *http_stats(const struct http_listener *h);

#endif
