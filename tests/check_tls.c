/* Unit tests for tls.c: certificate dates to unix seconds and days left, the reasons
 * verify results are reported with, and the session machine's TLS path against an
 * OpenSSL server in the same process. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "config.h"
#include "session.h"
#include "target.h"
#include "timer.h"
#include "tls.h"
#include "util.h"
#include "check_main.h"

/* UTCTime (two-digit years: 50-99 are 19xx, 00-49 20xx) and GeneralizedTime. */
START_TEST(test_time_unix)
{
	static const struct { const char *text; int64_t want; } cases[] = {
		{ "700101000000Z", 0 },
		{ "20270101000000Z", 1798761600 },
		{ "491231235959Z", 2524607999 },
		{ "500101000000Z", -631152000 },
		{ "99991231235959Z", 253402300799 },
		{ "20240229120000Z", 1709208000 },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		ASN1_TIME *t = ASN1_TIME_new();
		int64_t v = -1;

		ck_assert_int_eq(ASN1_TIME_set_string(t, cases[i].text), 1);
		ck_assert_int_eq(tls_time_unix(t, &v), 0);
		ck_assert_msg(v == cases[i].want, "%s: %lld", cases[i].text, (long long)v);
		ASN1_TIME_free(t);
	}
}
END_TEST

/* A time that is no time, or none: -EINVAL and the result untouched. */
START_TEST(test_time_unix_bad)
{
	ASN1_TIME *t = ASN1_TIME_new();
	int64_t v = 7;

	ck_assert_int_eq(tls_time_unix(NULL, &v), -EINVAL);
	ck_assert_int_eq(ASN1_STRING_set(t, "20271301000000Z", -1), 1);
	ck_assert_int_eq(tls_time_unix(t, &v), -EINVAL);
	ck_assert_int_eq(ASN1_STRING_set(t, "garbage", -1), 1);
	ck_assert_int_eq(tls_time_unix(t, &v), -EINVAL);
	ck_assert_int_eq(v, 7);
	ASN1_TIME_free(t);
}
END_TEST

/* notAfter read from a certificate's DER bytes; bytes that are no certificate fail. */
START_TEST(test_der_not_after)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	unsigned char *der = NULL;
	int64_t v = 0;
	int n;

	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	ck_assert_ptr_nonnull(ASN1_TIME_set(X509_getm_notBefore(x), 1700000000));
	ck_assert_ptr_nonnull(ASN1_TIME_set(X509_getm_notAfter(x), 1800000000));
	X509_set_pubkey(x, k);
	ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
	n = i2d_X509(x, &der);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(tls_der_not_after(der, (size_t)n, &v), 0);
	ck_assert_int_eq(v, 1800000000);
	ck_assert_int_eq(tls_der_not_after(der, (size_t)n / 2, &v), -EINVAL);
	ck_assert_int_eq(tls_der_not_after((const uint8_t *)"", 0, &v), -EINVAL);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}
END_TEST

/* Whole days, rounded down: the last second of a day still counts it, the first after
 * the date is -1; extreme dates do not overflow. */
START_TEST(test_days_left)
{
	static const struct { int64_t not_after, now, want; } cases[] = {
		{ 86400 * 30, 0, 30 },
		{ 86400 * 30 - 1, 0, 29 },
		{ 1000, 1000, 0 },
		{ 1000, 1001, -1 },
		{ 0, 86400, -1 },
		{ 0, 86401, -2 },
		{ INT64_MAX, 0, INT64_MAX / 4 / 86400 },
		{ INT64_MIN, 0, -((INT64_MAX / 4 + 86399) / 86400) },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		ck_assert_msg(tls_days_left(cases[i].not_after, cases[i].now) == cases[i].want,
			      "case %zu: %lld", i,
			      (long long)tls_days_left(cases[i].not_after, cases[i].now));
}
END_TEST

/* The verify results of the spec's reasons map to their fixed prefixes. */
START_TEST(test_verify_reason)
{
	static const struct { long result; const char *prefix; } cases[] = {
		{ X509_V_ERR_CERT_HAS_EXPIRED, "tls: certificate expired" },
		{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "tls: unknown CA" },
		{ X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "tls: unknown CA" },
		{ X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "tls: unknown CA" },
		{ X509_V_ERR_HOSTNAME_MISMATCH, "tls: name mismatch" },
		{ X509_V_ERR_IP_ADDRESS_MISMATCH, "tls: name mismatch" },
		{ X509_V_ERR_CERT_REVOKED, "tls: handshake failed: " },
		{ 123456, "tls: handshake failed: " },
	};
	char out[TLS_REASON_MAX];

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		tls_verify_reason(cases[i].result, out, sizeof(out));
		ck_assert_msg(strncmp(out, cases[i].prefix, strlen(cases[i].prefix)) == 0,
			      "%ld: %s", cases[i].result, out);
	}
}
END_TEST

/* The session machine over TLS, against an OpenSSL server in the same process on the
 * other end of a socketpair. Events come as edge-triggered epoll gives them: the
 * socket's readiness is only told when the server has just written something (and
 * once, writable, at the start), so a session that waited for an edge that never
 * comes (records OpenSSL already holds) stalls and the test fails. */
struct tls_fix {
	struct config *cfg;
	struct target *t;
	struct timer_heap timers;
	struct session_env env;
	struct session s;
	uint8_t scratch[256];
	SSL_CTX *sctx;
	SSL *srv;
	int srv_fd;
	/* What the server does with what it reads: echo, a wrong byte, or the echo
	 * written one byte per record. */
	enum { SRV_ECHO, SRV_CORRUPT, SRV_SPLIT } mode;
	struct session_result res;
	int n_res;
	char detail[128];
};

static int fake_tls_connect(void *ctx, struct session *s, const struct target_conf *tc,
			    enum io_phase *ret_phase)
{
	struct tls_fix *f = ctx;
	int sv[2];

	(void)tc;
	*ret_phase = PHASE_CONNECT;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	s->fd = sv[0];
	f->srv_fd = sv[1];
	f->srv = SSL_new(f->sctx);
	ck_assert_ptr_nonnull(f->srv);
	SSL_set_fd(f->srv, sv[1]);
	return 0;
}

static void fake_tls_close(void *ctx, int fd, bool rst)
{
	(void)ctx;
	(void)rst;
	close(fd);
}

static unsigned fake_tls_ready(void *ctx, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

	(void)ctx;
	ck_assert_int_ge(poll(&p, 1, 0), 0);
	return (p.revents & POLLIN ? SESS_READY_IN : 0) | (p.revents & POLLOUT ? SESS_READY_OUT : 0);
}

static const struct session_io fake_tls_io = {
	.connect = fake_tls_connect, .close = fake_tls_close, .ready = fake_tls_ready,
};

static int64_t fake_tls_result(struct session_env *env, struct session *s,
			       const struct session_result *res, int64_t now)
{
	struct tls_fix *f = (struct tls_fix *)((char *)env - offsetof(struct tls_fix, env));

	(void)s;
	(void)now;
	f->res = *res;
	f->n_res++;
	snprintf(f->detail, sizeof(f->detail), "%s", res->detail ? res->detail : "");
	return NSEC_PER_SEC;
}

/* A server context with a fresh self-signed certificate for CN=name. */
static SSL_CTX *tls_server_ctx(const char *name, X509 **ret_cert)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	ck_assert_ptr_nonnull(ctx);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 2);
	ck_assert_ptr_nonnull(ASN1_TIME_set(X509_getm_notBefore(x), 1700000000));
	ck_assert_ptr_nonnull(ASN1_TIME_set(X509_getm_notAfter(x), 4102444800));
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)name, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
	ck_assert_int_eq(SSL_CTX_use_certificate(ctx, x), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, k), 1);
	EVP_PKEY_free(k);
	*ret_cert = x;
	return ctx;
}

static struct tls_fix *tls_fix_new(const char *keys)
{
	struct tls_fix *f = calloc(1, sizeof(*f));
	struct config_errors errs = { 0 };
	char text[512];
	X509 *cert;

	ck_assert_ptr_nonnull(f);
	f->srv_fd = -1;
	f->sctx = tls_server_ctx("localhost", &cert);
	X509_free(cert);
	snprintf(text, sizeof(text),
		 "[target \"t\"]\naddress = 127.0.0.1:7\nprotocol = tls\nmessage = hello\n"
		 "message = %s\n%s", "a second, longer message", keys);
	ck_assert_int_eq(config_load_string(text, "t.conf", false, &f->cfg, &errs), 0);
	f->t = target_new(f->cfg->targets[0], 0);
	ck_assert_ptr_nonnull(f->t);
	ck_assert_int_eq(timer_heap_init(&f->timers, 4), 0);
	f->env = (struct session_env){ .io = &fake_tls_io, .io_ctx = f, .timers = &f->timers,
				       .on_result = fake_tls_result, .scratch = f->scratch,
				       .scratch_len = sizeof(f->scratch) };
	session_init(&f->s, &f->env, f->t, 0, 0);
	return f;
}

static void tls_fix_free(struct tls_fix *f)
{
	ck_assert_int_eq(session_handle(&f->s, &f->env, SEV_STOP, 0), 0);
	ck_assert_ptr_null(f->s.tls);
	SSL_free(f->srv);
	if (f->srv_fd >= 0)
		close(f->srv_fd);
	SSL_CTX_free(f->sctx);
	timer_heap_free(&f->timers);
	target_free(f->t);
	config_free(f->cfg);
	free(f);
}

/* Let the server do what it can; true when it wrote anything. */
static bool tls_server_pump(struct tls_fix *f)
{
	uint64_t before = BIO_number_written(SSL_get_wbio(f->srv));
	char buf[256];
	int n;

	if (!SSL_is_init_finished(f->srv)) {
		(void)SSL_accept(f->srv);
	} else {
		while ((n = SSL_read(f->srv, buf, sizeof(buf))) > 0) {
			if (f->mode == SRV_CORRUPT)
				buf[n - 1] ^= 1;
			if (f->mode == SRV_SPLIT)
				for (int i = 0; i < n; i++)
					ck_assert_int_eq(SSL_write(f->srv, buf + i, 1), 1);
			else
				ck_assert_int_eq(SSL_write(f->srv, buf, n), n);
		}
	}
	ERR_clear_error();
	return BIO_number_written(SSL_get_wbio(f->srv)) > before;
}

/* Run a cycle from its start to its result, edges only on the server's writes. */
static void tls_fix_cycle(struct tls_fix *f)
{
	int n = f->n_res;

	ck_assert_int_eq(session_handle(&f->s, &f->env, SEV_TIMER, 1), 0);
	for (int i = 0; i < 200 && f->n_res == n; i++) {
		if (!tls_server_pump(f))
			continue;
		f->s.ready |= SESS_READY_IN;
		ck_assert_int_eq(session_handle(&f->s, &f->env, SEV_IO, 2 + i), 0);
	}
	ck_assert_msg(f->n_res == n + 1, "the cycle did not end; state %s",
		      session_state_name(f->s.state));
}

/* Two messages echoed, one byte per record too: ok, with the handshake, the
 * certificate's date, and (cycle mode) the connection and SSL gone after. */
START_TEST(test_session_tls_ok)
{
	for (int split = 0; split < 2; split++) {
		struct tls_fix *f = tls_fix_new("tls_verify = no\n");

		f->mode = split ? SRV_SPLIT : SRV_ECHO;
		tls_fix_cycle(f);
		ck_assert_msg(f->res.err == SERR_NONE, "%s: %s", session_error_name(f->res.err),
			      f->detail);
		ck_assert(f->res.handshake && !f->res.resumed);
		ck_assert_int_eq(f->res.cert_not_after, 4102444800);
		ck_assert_int_eq(f->s.fd, -1);
		tls_fix_free(f);
	}
}
END_TEST

/* Persistent: the second cycle reuses the TLS connection, with no handshake. */
START_TEST(test_session_tls_persistent)
{
	struct tls_fix *f = tls_fix_new("tls_verify = no\nmode = persistent\n");

	tls_fix_cycle(f);
	ck_assert_int_eq(f->res.err, SERR_NONE);
	ck_assert(f->res.handshake);
	ck_assert_int_ge(f->s.fd, 0);
	tls_fix_cycle(f);
	ck_assert_int_eq(f->res.err, SERR_NONE);
	ck_assert(!f->res.handshake);
	tls_fix_free(f);
}
END_TEST

/* The failures: a wrong byte is a mismatch; a certificate no CA vouches for, and a
 * server that wants a client certificate, are class tls with their reasons. */
START_TEST(test_session_tls_failures)
{
	struct tls_fix *f = tls_fix_new("tls_verify = no\n");

	f->mode = SRV_CORRUPT;
	tls_fix_cycle(f);
	ck_assert_int_eq(f->res.err, SERR_MISMATCH);
	tls_fix_free(f);

	f = tls_fix_new("tls_server_name = localhost\n");
	tls_fix_cycle(f);
	ck_assert_int_eq(f->res.err, SERR_TLS);
	ck_assert_msg(strncmp(f->detail, "tls: unknown CA", 15) == 0, "%s", f->detail);
	tls_fix_free(f);

	f = tls_fix_new("tls_verify = no\n");
	SSL_CTX_set_verify(f->sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	tls_fix_cycle(f);
	ck_assert_int_eq(f->res.err, SERR_TLS);
	ck_assert_msg(strncmp(f->detail, "tls: certificate required", 25) == 0, "%s", f->detail);
	tls_fix_free(f);
}
END_TEST

static Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("dates_and_reasons");

	tcase_add_test(tc, test_time_unix);
	tcase_add_test(tc, test_time_unix_bad);
	tcase_add_test(tc, test_der_not_after);
	tcase_add_test(tc, test_days_left);
	tcase_add_test(tc, test_verify_reason);
	suite_add_tcase(s, tc);

	tc = tcase_create("session");
	tcase_add_test(tc, test_session_tls_ok);
	tcase_add_test(tc, test_session_tls_persistent);
	tcase_add_test(tc, test_session_tls_failures);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tls_suite)
