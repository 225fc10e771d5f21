/* The metrics HTTP listener. We open the listening socket ourselves (so errors name
 * the address and port 0 works), hand it to libmicrohttpd in external-select mode
 * with epoll, and register MHD's epoll fd with the loop, its timeout as the handle's
 * deadline: MHD never runs a thread, it works only when the loop calls it. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
/* next_in as a pointer to const: the rendered text is only read. */
#define ZLIB_CONST
#include <zlib.h>

#include "http.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "parse.h"
#include "proto.h"
#include "util.h"

struct http_listener {
	struct http_source src;
	void *owner;
	struct loop *loop;
	int slot;
	struct MHD_Daemon *mhd;
	int mhd_fd;
	char address[80];
	struct http_stats stats;
	struct http_page pages[HTTP_MAX_PAGES];
	size_t n_pages;
};

/* MHD's error logger; the attribute lets the compiler check fmt as a format. */
__attribute__((format(printf, 2, 0)))
static void http_log(void *cls, const char *fmt, va_list ap)
{
	char text[512];
	size_t n;

	(void)cls;
	vsnprintf(text, sizeof(text), fmt, ap);
	n = strlen(text);
	while (n && text[n - 1] == '\n')
		text[--n] = '\0';
	log_msg(LOG_INFO, "metrics listener: %s", text);
}

/* Queue a small fixed reply (copied by MHD) with a status code and optional Allow
 * header. */
static enum MHD_Result http_reply_text(struct MHD_Connection *conn, unsigned code,
				       const char *text, bool allow)
{
	char copy[128];
	struct MHD_Response *r;
	enum MHD_Result ret;

	snprintf(copy, sizeof(copy), "%s", text);
	r = MHD_create_response_from_buffer(strlen(copy), copy, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* One /metrics response under way: the source's state, and what a slice rendered
 * beyond what MHD took so far; with gzip, the slice compressed into zout. */
struct http_stream {
	struct http_listener *h;
	const struct http_source *src;
	void *state;
	struct buf pending;
	bool done;
	bool gzip;
	bool zfinished;
	z_stream z;
	/* The compressed slice: zlen bytes, zpos of them sent. */
	unsigned char *zout;
	size_t zcap, zlen, zpos;
};

/* True when the request's Accept-Encoding takes gzip: a "gzip" or "x-gzip" coding
 * whose q is not 0 (RFC 9110, 12.5.3). */
static bool http_accepts_gzip(struct MHD_Connection *conn)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_ACCEPT_ENCODING);

	while (v && *v) {
		size_t n, tok;
		const char *q;

		v += strspn(v, " \t");
		n = strcspn(v, ",");
		tok = strcspn(v, " \t;,");
		q = memchr(v, ';', n);
		if (q)
			q += 1 + strspn(q + 1, " \t");
		if (((tok == 4 && strncasecmp(v, "gzip", 4) == 0) ||
		     (tok == 6 && strncasecmp(v, "x-gzip", 6) == 0)) &&
		    !(q && (*q == 'q' || *q == 'Q') && q[1] == '=' && strtod(q + 2, NULL) <= 0))
			return true;
		v += n + (v[n] == ',');
	}
	return false;
}

/* Compress what the last slice rendered into zout, flushed so that every slice
 * gives bytes to send (the compression keeps its window across slices); the last
 * slice ends the gzip stream. 0, or -EIO when zlib fails. */
static int http_gzip_slice(struct http_stream *st)
{
	int64_t start = now_ns();
	size_t in = buf_unread_len(&st->pending);
	size_t bound = deflateBound(&st->z, (uLong)in) + 16;
	int r;

	if (bound > st->zcap) {
		unsigned char *p = realloc(st->zout, bound);

		if (!p)
			return -ENOMEM;
		st->zout = p;
		st->zcap = bound;
	}
	st->z.next_in = (const Bytef *)buf_unread(&st->pending);
	st->z.avail_in = (uInt)in;
	st->z.next_out = st->zout;
	st->z.avail_out = (uInt)bound;
	r = deflate(&st->z, st->done ? Z_FINISH : Z_SYNC_FLUSH);
	if ((st->done ? r != Z_STREAM_END : r != Z_OK) || st->z.avail_in != 0)
		return -EIO;
	st->zfinished = st->done;
	st->zlen = bound - st->z.avail_out;
	st->zpos = 0;
	buf_consume(&st->pending, in);
	st->h->stats.gzip_ns += now_ns() - start;
	return 0;
}

/* Hand MHD up to max bytes of the compressed slice. */
static size_t http_gzip_take(struct http_stream *st, char *out, size_t max)
{
	size_t n = MIN(max, st->zlen - st->zpos);

	memcpy(out, st->zout + st->zpos, n);
	st->zpos += n;
	return n;
}

/* MHD asks for up to max more bytes of the body as the connection drains: render a
 * slice when nothing is left over, so a scrape of many targets never holds the loop
 * for more than one slice per connection and turn. */
static ssize_t http_stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct http_stream *st = cls;
	size_t n;

	(void)pos;
	if (st->gzip ? st->zpos == st->zlen && !st->zfinished
		     : buf_unread_len(&st->pending) == 0 && !st->done) {
		st->done = st->src->slice(st->h->owner, st->state, &st->pending, max);
		if (st->pending.overflow || (st->gzip && http_gzip_slice(st) < 0)) {
			st->h->stats.failed++;
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
	if (st->gzip)
		n = http_gzip_take(st, out, max);
	else if ((n = MIN(max, buf_unread_len(&st->pending))) > 0)
		memcpy(out, buf_unread(&st->pending), n);
	buf_consume(&st->pending, st->gzip ? 0 : n);
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void http_stream_free(void *cls)
{
	struct http_stream *st = cls;

	st->src->end(st->h->owner, st->state);
	if (st->gzip)
		deflateEnd(&st->z);
	free(st->zout);
	buf_free(&st->pending);
	free(st);
}

/* Answer with a body src renders slice by slice as MHD sends it (chunked). */
static enum MHD_Result http_reply_stream(struct http_listener *h, struct MHD_Connection *conn,
					 const struct http_source *src, const char *type)
{
	struct http_stream *st = calloc(1, sizeof(*st));
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (st)
		st->state = src->begin(h->owner);
	if (!st || !st->state) {
		free(st);
		h->stats.failed++;
		return http_reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", false);
	}
	st->h = h;
	st->src = src;
	buf_init(&st->pending, CTL_MAX_REPLY);
	/* Level 1: most of what gzip saves on this text, at a fraction of its cost. */
	if (http_accepts_gzip(conn) &&
	    deflateInit2(&st->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK) {
		st->gzip = true;
		h->stats.gzip++;
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_SLICE_BYTES, http_stream_read,
					      st, http_stream_free);
	if (!r) {
		http_stream_free(st);
		h->stats.failed++;
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	if (st->gzip)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* Answer /metrics with the exposition. */
static enum MHD_Result http_reply_metrics(struct http_listener *h, struct MHD_Connection *conn)
{
	return http_reply_stream(h, conn, &h->src, METRICS_CONTENT_TYPE);
}

/* The page added for url, or NULL. */
static const struct http_page *http_find_page(const struct http_listener *h, const char *url)
{
	for (size_t i = 0; i < h->n_pages; i++)
		if (strcmp(h->pages[i].path, url) == 0)
			return &h->pages[i];
	return NULL;
}

/* MHD calls this once the headers are in, and again when the body is. A method we
 * do not serve is answered at once (MHD then closes the connection); a GET or HEAD is
 * answered on the second call, so the connection stays open for the next request. A
 * request that comes with a body is refused. */
static enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version,
				   const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_listener *h = cls;
	const struct http_page *page;

	(void)version;
	(void)upload_data;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		h->stats.requests++;
		h->stats.bad_method++;
		return http_reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				       "only GET and HEAD are served\n", true);
	}
	if (!*con_cls) {
		*con_cls = h;
		return MHD_YES;
	}
	h->stats.requests++;
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		h->stats.failed++;
		return http_reply_text(conn, MHD_HTTP_BAD_REQUEST, "a GET has no body\n", false);
	}
	page = http_find_page(h, url);
	if (page)
		return http_reply_stream(h, conn, &page->src, page->content_type);
	if (strcmp(url, "/metrics") != 0) {
		h->stats.not_found++;
		return http_reply_text(conn, MHD_HTTP_NOT_FOUND,
				       "not found; the metrics are at /metrics, the status page at /\n",
				       false);
	}
	return http_reply_metrics(h, conn);
}

/* Bind and listen on addr ourselves; returns the socket or -errno. */
static int http_listen_socket(const struct sockaddr_any *addr)
{
	int one = 1, fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (addr->ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ||
	    listen(fd, HTTP_MAX_CLIENTS) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* The handle's deadline follows MHD's timeout (a connection's idle limit). */
static void http_arm(struct http_listener *h, int64_t now)
{
	MHD_UNSIGNED_LONG_LONG ms;
	int64_t due = INT64_MAX;

	if (MHD_get_timeout(h->mhd, &ms) == MHD_YES &&
	    ms <= (MHD_UNSIGNED_LONG_LONG)(INT64_MAX - now) / NSEC_PER_MSEC)
		due = now + (int64_t)ms * NSEC_PER_MSEC;
	loop_set_due(h->loop, h->slot, due);
}

/* Let MHD accept, read, answer and time out what is ready. */
static void http_on_io(void *owner, uint32_t events, int64_t now)
{
	struct http_listener *h = owner;

	(void)events;
	(void)MHD_run(h->mhd);
	http_arm(h, now);
}

static void http_on_due(void *owner, int64_t now)
{
	http_on_io(owner, 0, now);
}

static int http_start(struct http_listener *h, int fd)
{
	const union MHD_DaemonInfo *info;
	struct sockaddr_any bound = { .len = sizeof(bound.ss) };
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	if (getsockname(fd, (struct sockaddr *)&bound.ss, &bound.len) < 0)
		return -errno;
	format_address(&bound, h->address, sizeof(h->address));
	if (bound.ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, http_handle, h,
				  MHD_OPTION_EXTERNAL_LOGGER, http_log, h,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CLIENTS,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!h->mhd)
		return -EIO;
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info)
		return -EIO;
	h->mhd_fd = info->epoll_fd;
	h->slot = loop_add(h->loop, "metrics listener", h->mhd_fd, EPOLLIN, http_on_io, http_on_due, h);
	if (h->slot < 0)
		return h->slot;
	http_arm(h, now_ns());
	return 0;
}

int http_open(struct http_listener **ret, struct loop *loop, const struct sockaddr_any *addr,
	      const struct http_source *src, void *owner, char *err, size_t errlen)
{
	struct http_listener *h = calloc(1, sizeof(*h));
	char text[80];
	int fd, r;

	if (!h)
		return -ENOMEM;
	h->src = *src;
	h->owner = owner;
	h->loop = loop;
	h->slot = -1;
	h->mhd_fd = -1;
	format_address(addr, text, sizeof(text));
	fd = http_listen_socket(addr);
	if (fd < 0) {
		snprintf(err, errlen, "metrics_listen %s: %s", text, strerror(-fd));
		free(h);
		return fd;
	}
	r = http_start(h, fd);
	if (r < 0) {
		snprintf(err, errlen, "metrics_listen %s: cannot start the HTTP listener: %s", text,
			 strerror(-r));
		if (!h->mhd)
			close(fd);
		http_close(h);
		return r;
	}
	*ret = h;
	return 0;
}

void http_close(struct http_listener *h)
{
	if (!h)
		return;
	loop_remove(h->loop, h->slot);
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	free(h);
}

int http_add_page(struct http_listener *h, const struct http_page *page)
{
	if (h->n_pages >= HTTP_MAX_PAGES)
		return -ENOSPC;
	h->pages[h->n_pages++] = *page;
	return 0;
}

const char *http_address(const struct http_listener *h)
{
	return h->address;
}

const struct http_stats *http_stats(const struct http_listener *h)
{
	return &h->stats;
}
