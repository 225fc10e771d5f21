/* libFuzzer harness for the UDP echo matching of udpecho.c: the bytes a peer sends
 * back, against messages and a session's expectation that come from the input too.
 * Beyond "no crash", it checks that a datagram is taken for the echo awaited only
 * when it is that message byte for byte (after the right tag), that a duplicate is a
 * copy of a message, and that the datagram the session itself would send for the
 * message awaited always matches. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "udpecho.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_MESSAGES 4
#define FUZZ_MAX_MESSAGE 64

/* Fail loudly: libFuzzer records the input as a crash. */
#define FUZZ_ASSERT(cond)                                                                  \
	do {                                                                               \
		if (!(cond))                                                               \
			abort();                                                           \
	} while (0)

/* Whether the n bytes of p are one of the messages of c (after a tag when tagged). */
static bool is_some_message(const struct target_conf *c, const uint8_t *p, size_t n)
{
	size_t hdr = c->udp_tag ? UDP_TAG_LEN : 0;

	if (n < hdr)
		return false;
	for (uint32_t k = 0; k < c->n_messages; k++) {
		uint32_t len;
		const uint8_t *m = target_conf_message(c, k, &len);

		if (n - hdr == len && memcmp(p + hdr, m, len) == 0)
			return true;
	}
	return false;
}

/* The datagram a session sends for message e->msg: it must be the echo awaited. */
static void check_own_datagram(const struct udp_expect *e)
{
	uint8_t dgram[UDP_TAG_LEN + FUZZ_MAX_MESSAGE];
	size_t hdr = e->conf->udp_tag ? UDP_TAG_LEN : 0;
	uint32_t len;
	const uint8_t *m;

	if (e->ended || e->msg >= e->conf->n_messages)
		return;
	m = target_conf_message(e->conf, e->msg, &len);
	if (hdr)
		udp_tag_write(dgram, e->seq, (uint16_t)e->msg);
	memcpy(dgram + hdr, m, len);
	FUZZ_ASSERT(udp_echo_match(e, dgram, hdr + len) == UDPV_ECHO);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t msgs[FUZZ_MAX_MESSAGES * FUZZ_MAX_MESSAGE];
	struct target_conf c = { .msg = msgs };
	struct udp_expect e = { .conf = &c };
	enum udp_verdict v;
	size_t pos = 8;

	/* Parameters: flags, cycle number, message awaited, echoes of the cycle before,
	 * then the messages (a length byte each, 1 to FUZZ_MAX_MESSAGE), then the
	 * datagram that came back. */
	if (size < pos)
		return 0;
	c.udp_tag = data[0] & 1;
	e.ended = data[0] & 2;
	e.seq = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
	e.msg = data[5] % (FUZZ_MAX_MESSAGES + 1);
	e.prev_got = data[6] % (FUZZ_MAX_MESSAGES + 1);
	c.n_messages = (uint32_t)(data[7] % FUZZ_MAX_MESSAGES) + 1;
	for (uint32_t k = 0; k < c.n_messages; k++) {
		size_t len;

		if (pos >= size)
			return 0;
		len = (size_t)(data[pos++] % FUZZ_MAX_MESSAGE) + 1;
		if (size - pos < len)
			return 0;
		memcpy(msgs + c.msg_bytes, data + pos, len);
		pos += len;
		c.msg_bytes += (uint32_t)len;
		c.msg_end[k] = c.msg_bytes;
	}
	v = udp_echo_match(&e, data + pos, size - pos);
	FUZZ_ASSERT(v < _UDPV_MAX);
	if (v == UDPV_ECHO) {
		uint32_t len;
		size_t hdr = c.udp_tag ? UDP_TAG_LEN : 0;
		const uint8_t *m;

		FUZZ_ASSERT(!e.ended && e.msg < c.n_messages);
		m = target_conf_message(&c, e.msg, &len);
		FUZZ_ASSERT(size - pos == hdr + len && memcmp(data + pos + hdr, m, len) == 0);
	}
	if (v == UDPV_DUPLICATE || v == UDPV_LATE)
		FUZZ_ASSERT(is_some_message(&c, data + pos, size - pos));
	check_own_datagram(&e);
	return 0;
}
