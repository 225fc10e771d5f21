/* TLS echo sessions with OpenSSL 3. A target's SSL_CTX is built with its
 * configuration and shared by reference with every copy of it and every SSL made
 * from it, so a reload swaps contexts without touching a connection under way. Each
 * session owns a small tls_conn: its SSL while connected and, with tls_resume, the
 * last SSL_SESSION the server gave it. OpenSSL's error queue is per thread and shared
 * by every session, so it is emptied before each call whose outcome is read from it. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "session.h"
#include "tls.h"
#include "util.h"

/* What a session keeps of TLS between and during its connections. */
struct tls_conn {
	SSL *ssl;
	/* The server's last session ticket or session (tls_resume), or NULL. */
	SSL_SESSION *saved;
	/* The server asked for a client certificate and the target has none. */
	bool cert_asked;
	/* Application data came back on this connection. */
	bool read_any;
	/* The last read or handshake step took bytes off the socket and gave no data (a
	 * part of the server's flight, a session ticket, a part of a record): what came
	 * is worth acknowledging at once. */
	bool read_partial;
	/* A fatal error happened: OpenSSL forbids a close_notify after one. */
	bool broken;
	/* The last handshake's outcome, not yet taken by the cycle's result. */
	bool has_done;
	struct tls_done done;
	int64_t done_at;
	/* Why the last call failed with -EPROTO. */
	char reason[TLS_REASON_MAX];
};

static const char *const version_names[] = { "1.2", "1.3" };

const char *tls_version_name(enum tls_version v)
{
	return v < _TLSV_MAX ? version_names[v] : "?";
}

/* The words of OpenSSL's last error, then an empty queue. */
static const char *tls_last_error(void)
{
	const char *why = ERR_reason_error_string(ERR_peek_last_error());

	ERR_clear_error();
	return why ? why : "unknown error";
}

/* A new session ticket (TLS 1.3) or session (1.2) for a tls_resume target: keep it
 * for the session's next handshake. Returns 1: the reference is ours now. */
static int tls_on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_conn *c = SSL_get_app_data(ssl);

	if (!c)
		return 0;
	SSL_SESSION_free(c->saved);
	c->saved = sess;
	return 1;
}

/* The server asked for a certificate and the target has none to give: note it, so
 * the failure that follows reads as "certificate required". */
static int tls_on_cert_request(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
	struct tls_conn *c = SSL_get_app_data(ssl);

	(void)x509;
	(void)pkey;
	if (c)
		c->cert_asked = true;
	return 0;
}

/* An encrypted key would make OpenSSL prompt on the terminal: refuse it instead. */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *user)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)user;
	return 0;
}

bool tls_key_is_shared(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH));
}

/* Give ctx the system's store, loaded into *system the first time: parsing it takes
 * tens of ms, which a configuration of many targets must not pay for each. */
static int tls_ctx_system_store(SSL_CTX *ctx, X509_STORE **system, char *err, size_t n)
{
	if (!*system) {
		X509_STORE *s = X509_STORE_new();

		if (!s || X509_STORE_set_default_paths(s) != 1) {
			X509_STORE_free(s);
			snprintf(err, n, "cannot load the system's CA store: %s", tls_last_error());
			return -EINVAL;
		}
		*system = s;
	}
	SSL_CTX_set1_cert_store(ctx, *system);
	return 0;
}

void tls_store_unref(struct x509_store_st *store)
{
	X509_STORE_free(store);
}

/* Load tls_ca into ctx, or the system's store without one. */
static int tls_ctx_load_ca(SSL_CTX *ctx, const struct target_conf *t, X509_STORE **system,
			   char *err, size_t n)
{
	struct stat st;
	int ok;

	if (!t->tls_ca[0])
		return tls_ctx_system_store(ctx, system, err, n);
	if (stat(t->tls_ca, &st) < 0) {
		snprintf(err, n, "cannot read '%s': %s", t->tls_ca, strerror(errno));
		return -errno;
	}
	if (S_ISDIR(st.st_mode))
		ok = SSL_CTX_load_verify_dir(ctx, t->tls_ca);
	else
		ok = SSL_CTX_load_verify_file(ctx, t->tls_ca);
	if (ok == 1)
		return 0;
	snprintf(err, n, "cannot load CA certificates from '%s': %s; expected a PEM file or a directory in OpenSSL's hashed form",
		 t->tls_ca, tls_last_error());
	return -EINVAL;
}

/* Load the client certificate and key into ctx; *ret_key says which failed. */
static int tls_ctx_load_cert(SSL_CTX *ctx, const struct target_conf *t, char *err, size_t n,
			     const char **ret_key)
{
	if (!t->tls_cert[0]) {
		SSL_CTX_set_client_cert_cb(ctx, tls_on_cert_request);
		return 0;
	}
	*ret_key = "tls_cert";
	if (SSL_CTX_use_certificate_chain_file(ctx, t->tls_cert) != 1) {
		snprintf(err, n, "cannot load a PEM certificate from '%s': %s", t->tls_cert,
			 tls_last_error());
		return -EINVAL;
	}
	/* Never the key's bytes or its passphrase in a message: its name and why. */
	*ret_key = "tls_key";
	if (SSL_CTX_use_PrivateKey_file(ctx, t->tls_key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, n, "cannot load a PEM private key (unencrypted) from '%s': %s",
			 t->tls_key, tls_last_error());
		return -EINVAL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, n, "the key in '%s' does not match the certificate in '%s'",
			 t->tls_key, t->tls_cert);
		ERR_clear_error();
		return -EINVAL;
	}
	return 0;
}

int tls_ctx_build(const struct target_conf *t, struct x509_store_st **system,
		  struct ssl_ctx_st **ret, char *err, size_t n, const char **ret_key)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	*ret_key = "protocol";
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(err, n, "cannot make a TLS context: %s", tls_last_error());
		return -ENOMEM;
	}
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	SSL_CTX_set_min_proto_version(ctx, t->tls_min_version == TLSV_1_3 ? TLS1_3_VERSION
									: TLS1_2_VERSION);
	/* Writes that may be partial, as TCP's are, from the same offsets; buffers given
	 * back while a persistent connection waits between cycles. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	/* Read what the socket holds in one read() rather than a record header and body at
	 * a time (a TLS 1.3 server's first flight is six records): records read ahead
	 * wait in the SSL, which session.c asks about (tls_io_pending) before it waits
	 * for an edge. */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_verify(ctx, t->tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (t->tls_resume) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
							    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, tls_on_new_session);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	}
	*ret_key = "tls_ca";
	if (tls_ctx_load_ca(ctx, t, system, err, n) < 0 ||
	    tls_ctx_load_cert(ctx, t, err, n, ret_key) < 0) {
		SSL_CTX_free(ctx);
		return -EINVAL;
	}
	*ret = ctx;
	return 0;
}

void tls_ctx_ref(struct ssl_ctx_st *ctx)
{
	if (ctx)
		SSL_CTX_up_ref(ctx);
}

void tls_ctx_unref(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

/* The session's tls_conn, made at its first TLS connection. */
static struct tls_conn *tls_conn_of(struct session *s)
{
	if (!s->tls)
		s->tls = calloc(1, sizeof(*s->tls));
	return s->tls;
}

/* The name to send and verify: tls_server_name, else the host part of the address,
 * else (a numeric address) its IP, written into out; "" for tls_server_name = none. */
static const char *tls_peer_name(const struct target_conf *tc, char *out, size_t n)
{
	const void *a = tc->addr.ss.ss_family == AF_INET6
				? (const void *)&((const struct sockaddr_in6 *)&tc->addr.ss)->sin6_addr
				: (const void *)&((const struct sockaddr_in *)&tc->addr.ss)->sin_addr;

	if (strcmp(tc->tls_server_name, "none") == 0)
		return "";
	if (tc->tls_server_name[0])
		return tc->tls_server_name;
	if (tc->host[0])
		return tc->host;
	if (!inet_ntop(tc->addr.ss.ss_family, a, out, (socklen_t)n))
		out[0] = '\0';
	return out;
}

/* Make the SSL of a new connection: SNI and the name verified, the saved session. */
static int tls_ssl_new(struct tls_conn *c, int fd, const struct target_conf *tc)
{
	char ip[INET6_ADDRSTRLEN], bin[16];
	const char *name = tls_peer_name(tc, ip, sizeof(ip));
	bool is_ip = inet_pton(AF_INET, name, bin) == 1 || inet_pton(AF_INET6, name, bin) == 1;

	c->ssl = SSL_new(tc->tls_ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
		return -ENOMEM;
	}
	SSL_set_app_data(c->ssl, c);
	c->cert_asked = false;
	c->read_any = false;
	c->broken = false;
	c->reason[0] = '\0';
	if (name[0] && !is_ip) {
		/* The macro takes a pointer to non-const. */
		char sni[sizeof(tc->host)];

		snprintf(sni, sizeof(sni), "%s", name);
		SSL_set_tlsext_host_name(c->ssl, sni);
	}
	if (name[0] && tc->tls_verify) {
		if (is_ip)
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name);
		else
			SSL_set1_host(c->ssl, name);
	}
	if (tc->tls_resume && c->saved)
		SSL_set_session(c->ssl, c->saved);
	return 0;
}

/* The reason for an alert the server sent or a failure OpenSSL found, from the
 * error queue's first entry. */
static void tls_failure_reason(const struct tls_conn *c, unsigned long e, char *out, size_t n)
{
	int r = ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e) : 0;
	const char *why = ERR_reason_error_string(e);

	if (r == SSL_R_CERTIFICATE_VERIFY_FAILED) {
		tls_verify_reason(SSL_get_verify_result(c->ssl), out, n);
		return;
	}
	if (r == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED ||
	    (c->cert_asked && r >= SSL_AD_REASON_OFFSET)) {
		snprintf(out, n, "tls: certificate required (%s)", why ? why : "alert");
		return;
	}
	switch (r) {
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_NO_PROTOCOLS_AVAILABLE:
	case SSL_R_TLSV1_ALERT_INAPPROPRIATE_FALLBACK:
		snprintf(out, n, "tls: protocol version (%s)", why ? why : "no common version");
		return;
	default:
		snprintf(out, n, "tls: handshake failed: %s", why ? why : "unknown error");
	}
}

/* The server asked for a client certificate the target does not have and then ended
 * the connection before any echo came back: with TLS 1.3 the handshake finishes
 * first on the client's side and the server's alert (or only its close or reset,
 * when our first message crossed it) comes after. A TCP fault says that much here. */
static int tls_cert_refused(struct tls_conn *c, int r)
{
	if (!c->cert_asked || c->read_any)
		return r;
	snprintf(c->reason, sizeof(c->reason),
		 "tls: certificate required (the server asked for a client certificate, then closed)");
	return -EPROTO;
}

/* What a call that returned r came to: -EAGAIN with the bit it waits for, 0 for the
 * peer's close_notify, -EPROTO for a TLS failure (its reason in c->reason), or a
 * plain TCP fault: -errno, -ENODATA for an EOF. */
static int tls_outcome(struct tls_conn *c, int r, unsigned *ret_want)
{
	int e = SSL_get_error(c->ssl, r), saved_errno = errno;
	unsigned long q = ERR_peek_error();

	switch (e) {
	case SSL_ERROR_WANT_READ:
		*ret_want = SESS_READY_IN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*ret_want = SESS_READY_OUT;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return tls_cert_refused(c, 0);
	default:
		break;
	}
	c->broken = true;
	ERR_clear_error();
	if (e == SSL_ERROR_SYSCALL && !q)
		return tls_cert_refused(c, saved_errno && saved_errno != EAGAIN ? -saved_errno
										: -ENODATA);
	if (ERR_GET_LIB(q) == ERR_LIB_SSL && ERR_GET_REASON(q) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		return tls_cert_refused(c, -ENODATA);
	tls_failure_reason(c, q, c->reason, sizeof(c->reason));
	return -EPROTO;
}

const char *tls_io_reason(const struct session *s)
{
	return s->tls && s->tls->reason[0] ? s->tls->reason : "tls: handshake failed: unknown error";
}

int tls_io_handshake(struct session *s, const struct target_conf *tc, int64_t started,
		     unsigned *ret_want)
{
	struct tls_conn *c = tls_conn_of(s);
	uint64_t before;
	X509 *peer;
	int r;

	if (!c)
		return -ENOMEM;
	if (!c->ssl && (r = tls_ssl_new(c, s->fd, tc)) < 0)
		return r;
	ERR_clear_error();
	before = BIO_number_read(SSL_get_rbio(c->ssl));
	r = SSL_connect(c->ssl);
	c->read_partial = false;
	if (r != 1) {
		r = tls_outcome(c, r, ret_want);
		c->read_partial = r == -EAGAIN && BIO_number_read(SSL_get_rbio(c->ssl)) > before;
		if (r < 0)
			return r;
		snprintf(c->reason, sizeof(c->reason),
			 "tls: handshake failed: the server closed the connection");
		return -EPROTO;
	}
	/* Read the clock now: the client's share of the work (the key exchange, the
	 * server's signature checked) is done in this last call, and a whole handshake
	 * may fit in one call when the server answers while the ClientHello is still
	 * being written. */
	c->has_done = true;
	c->done_at = now_ns();
	c->done.ns = c->done_at - started;
	c->done.resumed = SSL_session_reused(c->ssl) == 1;
	c->done.not_after = 0;
	peer = SSL_get0_peer_certificate(c->ssl);
	if (peer && tls_time_unix(X509_get0_notAfter(peer), &c->done.not_after) < 0)
		c->done.not_after = 0;
	return 0;
}

int64_t tls_io_done_at(const struct session *s)
{
	return s->tls && s->tls->has_done ? s->tls->done_at : -1;
}

bool tls_io_take_done(struct session *s, struct tls_done *ret)
{
	if (!s->tls || !s->tls->has_done)
		return false;
	*ret = s->tls->done;
	s->tls->has_done = false;
	return true;
}

ssize_t tls_io_send(struct session *s, const void *p, size_t n, unsigned *ret_want)
{
	struct tls_conn *c = s->tls;
	int r;

	if (!c || !c->ssl)
		return -ENOTCONN;
	ERR_clear_error();
	r = SSL_write(c->ssl, p, (int)MIN(n, (size_t)INT32_MAX));
	if (r > 0)
		return r;
	r = tls_outcome(c, r, ret_want);
	return r == 0 || r == -ENODATA ? -EPIPE : r;
}

ssize_t tls_io_recv(struct session *s, void *p, size_t n, unsigned *ret_want)
{
	struct tls_conn *c = s->tls;
	uint64_t before;
	int r;

	if (!c || !c->ssl)
		return -ENOTCONN;
	ERR_clear_error();
	before = BIO_number_read(SSL_get_rbio(c->ssl));
	r = SSL_read(c->ssl, p, (int)MIN(n, (size_t)INT32_MAX));
	c->read_partial = false;
	if (r > 0) {
		c->read_any = true;
		return r;
	}
	r = tls_outcome(c, r, ret_want);
	c->read_partial = r == -EAGAIN && BIO_number_read(SSL_get_rbio(c->ssl)) > before;
	return r == -ENODATA ? 0 : r;
}

bool tls_io_read_partial(const struct session *s)
{
	return s->tls && s->tls->read_partial;
}

bool tls_io_pending(const struct session *s)
{
	return s->tls && s->tls->ssl && SSL_has_pending(s->tls->ssl);
}

void tls_io_end(struct session *s, bool notify)
{
	struct tls_conn *c = s->tls;

	if (!c || !c->ssl)
		return;
	/* One call: it sends our close_notify and does not wait for the server's. */
	if (notify && !c->broken && SSL_is_init_finished(c->ssl)) {
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl);
	}
	ERR_clear_error();
	SSL_free(c->ssl);
	c->ssl = NULL;
}

void tls_io_free(struct session *s)
{
	if (!s->tls)
		return;
	tls_io_end(s, false);
	SSL_SESSION_free(s->tls->saved);
	free(s->tls);
	s->tls = NULL;
}

int tls_time_unix(const struct asn1_string_st *t, int64_t *ret)
{
	struct tm tm;
	time_t v;

	memset(&tm, 0, sizeof(tm));
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return -EINVAL;
	}
	v = timegm(&tm);
	if (v == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_yday == 364))
		return -EINVAL;
	*ret = (int64_t)v;
	return 0;
}

int tls_der_not_after(const uint8_t *der, size_t n, int64_t *ret)
{
	const unsigned char *p = der;
	X509 *x;
	int r;

	if (n > INT32_MAX)
		return -EINVAL;
	x = d2i_X509(NULL, &p, (long)n);
	if (!x) {
		ERR_clear_error();
		return -EINVAL;
	}
	r = tls_time_unix(X509_get0_notAfter(x), ret);
	X509_free(x);
	return r;
}

int64_t tls_days_left(int64_t not_after, int64_t now)
{
	int64_t d;

	/* Clamp so that the difference cannot overflow whatever a certificate says. */
	not_after = MAX(MIN(not_after, INT64_MAX / 4), INT64_MIN / 4);
	now = MAX(MIN(now, INT64_MAX / 4), INT64_MIN / 4);
	d = not_after - now;
	return d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
}

char *tls_verify_reason(long result, char *out, size_t n)
{
	switch (result) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		snprintf(out, n, "tls: certificate expired");
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
		snprintf(out, n, "tls: unknown CA (%s)", X509_verify_cert_error_string(result));
		break;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		snprintf(out, n, "tls: name mismatch (%s)", X509_verify_cert_error_string(result));
		break;
	default:
		snprintf(out, n, "tls: handshake failed: %s", X509_verify_cert_error_string(result));
	}
	return out;
}
