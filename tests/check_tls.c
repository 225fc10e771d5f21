/* Unit tests for tls.c's own logic: certificate dates to unix seconds and days left,
 * and the reasons verify results are reported with. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

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
	return s;
}

CHECK_MAIN(tls_suite)
