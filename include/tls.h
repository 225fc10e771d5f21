/* TLS over a session's TCP connection (protocol = tls), with OpenSSL 3: one SSL_CTX
 * per target configuration, built when the configuration is loaded (so `mconnd -t`
 * and a reload read and parse its files), one SSL per connection, driven without
 * blocking by the session's state machine. Also the certificate-date handling and
 * the verify-result naming, which are ours and which the fuzz harness drives. */
#ifndef MCONN_TLS_H
#define MCONN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct asn1_string_st;
struct session;
struct ssl_ctx_st;
struct target_conf;
struct x509_store_st;

/* tls_min_version, as the file writes it. */
enum tls_version {
	TLSV_1_2,
	TLSV_1_3,
	_TLSV_MAX,
};

/* A handshake that failed: -EPROTO and this reason ("tls: unknown CA", ...). */
#define TLS_REASON_MAX 120

/* What a handshake that finished came to. */
struct tls_done {
	/* How long it took (ns, the loop's clock). */
	int64_t ns;
	/* The peer certificate's notAfter (unix seconds), or 0 when none was read. */
	int64_t not_after;
	bool resumed;
};

/* Build the SSL_CTX of t (protocol = tls) into *ret: CA, client certificate and key,
 * minimum version, verification, client session cache for tls_resume. Without tls_ca
 * the system's store is loaded once into *system (NULL at first) and shared by every
 * context built with it; the caller drops its reference with tls_store_unref(). On
 * failure *ret is untouched, err says why and *ret_key names the key whose file
 * failed. */
int tls_ctx_build(const struct target_conf *t, struct x509_store_st **system,
		  struct ssl_ctx_st **ret, char *err, size_t n, const char **ret_key);

/* Drop a reference on a store tls_ctx_build() loaded; NULL does nothing. */
void tls_store_unref(struct x509_store_st *store);

/* Take one more reference on ctx (a copy of a configuration shares it); NULL: none. */
void tls_ctx_ref(struct ssl_ctx_st *ctx);

/* Drop one reference on ctx; NULL does nothing. */
void tls_ctx_unref(struct ssl_ctx_st *ctx);

/* True when path (a tls_key file) can be read by its group or by others. */
bool tls_key_is_shared(const char *path);

/* The session's TLS calls over its connected non-blocking fd. Each returns like
 * send()/recv() do, or -EAGAIN with *ret_want the SESS_READY_* bit it waits for. */

/* Drive the handshake of s on s->fd under tc (the SSL is made at the first call),
 * which began at started (monotonic ns): 0 when done (its outcome, its time up to the
 * end of this call among it, kept for tls_io_take_done()), -EAGAIN, -EPROTO (a TLS
 * failure: tls_io_reason() says which), or the -errno of a plain TCP fault
 * (-ECONNRESET; -ENODATA for an EOF). */
int tls_io_handshake(struct session *s, const struct target_conf *tc, int64_t started,
		     unsigned *ret_want);

/* Why the last call of s failed with -EPROTO: one of tls_verify_reason()'s prefixes,
 * "tls: certificate required", "tls: protocol version" or "tls: handshake failed". */
const char *tls_io_reason(const struct session *s);

/* When the handshake that just finished ended (monotonic ns, read at the end of its
 * last call), or -1 while none is waiting for tls_io_take_done(). */
int64_t tls_io_done_at(const struct session *s);

/* Fill *ret with what the last handshake came to and return true, once per
 * handshake; false when none finished since. */
bool tls_io_take_done(struct session *s, struct tls_done *ret);

/* Write up to n bytes: the count, -EAGAIN or -errno (-EPROTO: a TLS failure; an EOF
 * is -EPIPE). */
ssize_t tls_io_send(struct session *s, const void *p, size_t n, unsigned *ret_want);

/* Read up to n bytes: the count, 0 at the peer's close_notify or EOF, -EAGAIN or
 * -errno (-EPROTO: a TLS failure, such as an alert). */
ssize_t tls_io_recv(struct session *s, void *p, size_t n, unsigned *ret_want);

/* True when the last tls_io_recv() or tls_io_handshake() came back with -EAGAIN
 * after it took bytes off the socket (part of the server's flight, a session ticket,
 * part of a record). */
bool tls_io_read_partial(const struct session *s);

/* True when the SSL holds data already read off the socket, which no edge will
 * announce. */
bool tls_io_pending(const struct session *s);

/* End the connection's TLS: close_notify first when notify (close = fin after a
 * clean exchange), then free the SSL; the fd stays for the caller to close. */
void tls_io_end(struct session *s, bool notify);

/* Forget everything TLS of s, its saved session too (the session stops). */
void tls_io_free(struct session *s);

/* Convert an ASN1_TIME (UTCTime or GeneralizedTime) to unix seconds: 0 or -EINVAL. */
int tls_time_unix(const struct asn1_string_st *t, int64_t *ret);

/* Read the notAfter of a DER certificate as unix seconds: 0 or -EINVAL. */
int tls_der_not_after(const uint8_t *der, size_t n, int64_t *ret);

/* Whole days from now to not_after (both unix seconds), rounded down; negative once
 * it has passed. */
int64_t tls_days_left(int64_t not_after, int64_t now);

/* Write the reason for an X509 verify result into out: one of the fixed prefixes
 * ("tls: certificate expired", "tls: unknown CA", "tls: name mismatch") or
 * "tls: handshake failed: " and OpenSSL's words. */
char *tls_verify_reason(long result, char *out, size_t n);

/* Return the name of a minimum version ("1.2", "1.3"). */
const char *tls_version_name(enum tls_version v);

#endif
