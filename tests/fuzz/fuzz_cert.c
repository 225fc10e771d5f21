/* libFuzzer harness for the certificate-date handling of tls.c: what a TLS server
 * shows us ends in notAfter, turned into unix seconds and days left, and in a verify
 * result turned into a reason. The input is tried three ways: as a whole DER
 * certificate (d2i_X509, then our notAfter), as the bytes of an ASN1 time of either
 * type (our conversion of what ASN1_TIME_to_tm accepts), and its first bytes as a
 * verify result. Beyond "no crash, no leak": days left agree with the seconds, a
 * time converts back to the same time, and every reason starts "tls: ". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>

#include "tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Larger inputs are no certificate a server sends in one handshake. */
#define FUZZ_MAX_INPUT 65536
/* A fixed "now", so a run is deterministic: 2026-12-01T00:00:00Z. */
#define FUZZ_NOW 1796083200LL

#define FUZZ_ASSERT(cond)                                                                  \
	do {                                                                               \
		if (!(cond))                                                               \
			abort();                                                           \
	} while (0)

/* Days left must be the seconds left rounded down to whole days. */
static void check_days(int64_t not_after)
{
	int64_t d = tls_days_left(not_after, FUZZ_NOW);
	__int128 left = (__int128)not_after - FUZZ_NOW;

	if (not_after > INT64_MAX / 4 || not_after < INT64_MIN / 4)
		return;
	FUZZ_ASSERT((__int128)d * 86400 <= left && left < ((__int128)d + 1) * 86400);
}

/* The bytes as an ASN1 time of the type the first byte picks. */
static void fuzz_time(const uint8_t *data, size_t size)
{
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_TIME *back;
	int64_t v = 0, again = 0;

	FUZZ_ASSERT(t);
	if (size < 1 || ASN1_STRING_set(t, data + 1, (int)(size - 1)) != 1) {
		ASN1_TIME_free(t);
		return;
	}
	t->type = data[0] & 1 ? V_ASN1_GENERALIZEDTIME : V_ASN1_UTCTIME;
	if (tls_time_unix(t, &v) == 0) {
		check_days(v);
		/* A time we read, written again by OpenSSL, reads the same. */
		back = ASN1_TIME_set(NULL, (time_t)v);
		if (back) {
			FUZZ_ASSERT(tls_time_unix(back, &again) == 0 && again == v);
			ASN1_TIME_free(back);
		}
	}
	ASN1_TIME_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reason[TLS_REASON_MAX];
	int64_t not_after = 0;
	int32_t result = 0;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (tls_der_not_after(data, size, &not_after) == 0)
		check_days(not_after);
	fuzz_time(data, size);
	memcpy(&result, data, size < sizeof(result) ? size : sizeof(result));
	tls_verify_reason(result, reason, sizeof(reason));
	FUZZ_ASSERT(strncmp(reason, "tls: ", 5) == 0 && strlen(reason) < sizeof(reason));
	return 0;
}
