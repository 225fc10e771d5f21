/* UDP echo matching: a datagram that came back against the messages of the cycle
 * under way, byte for byte, and, with tags, against the cycle and message it names. */
#include <string.h>

#include "config.h"
#include "udpecho.h"
#include "util.h"

static const char *const verdict_names[] = { "echo", "duplicate", "late", "mismatch" };

const char *udp_verdict_name(enum udp_verdict v)
{
	return v < _UDPV_MAX ? verdict_names[v] : "?";
}

void udp_tag_write(uint8_t *p, uint32_t seq, uint16_t msg)
{
	p[0] = 'm';
	p[1] = 'c';
	p[2] = (uint8_t)(msg >> 8);
	p[3] = (uint8_t)msg;
	p[4] = (uint8_t)(seq >> 24);
	p[5] = (uint8_t)(seq >> 16);
	p[6] = (uint8_t)(seq >> 8);
	p[7] = (uint8_t)seq;
}

/* Whether the n bytes of p are message k of c. */
static bool udp_is_message(const struct target_conf *c, uint32_t k, const uint8_t *p, size_t n)
{
	uint32_t len;
	const uint8_t *m = target_conf_message(c, k, &len);

	return n == len && memcmp(p, m, n) == 0;
}

static enum udp_verdict udp_match_plain(const struct udp_expect *e, const uint8_t *p, size_t n)
{
	const struct target_conf *c = e->conf;
	uint32_t upto = MIN(e->msg, c->n_messages);

	if (!e->ended && e->msg < c->n_messages && udp_is_message(c, e->msg, p, n))
		return UDPV_ECHO;
	for (uint32_t k = 0; k < upto; k++)
		if (udp_is_message(c, k, p, n))
			return UDPV_DUPLICATE;
	return UDPV_MISMATCH;
}

/* A tagged echo of message k of cycle q. */
static enum udp_verdict udp_match_tagged(const struct udp_expect *e, uint32_t q, uint32_t k)
{
	uint32_t age = e->seq - q;

	if (age == 0) {
		if (k < e->msg)
			return UDPV_DUPLICATE;
		if (k == e->msg)
			return e->ended ? UDPV_LATE : UDPV_ECHO;
		return UDPV_MISMATCH;
	}
	if (age == 1)
		return k < e->prev_got ? UDPV_DUPLICATE : UDPV_LATE;
	/* Older cycles: late, unless the number is one not yet sent (age wraps). */
	return age < (1u << 31) ? UDPV_LATE : UDPV_MISMATCH;
}

enum udp_verdict udp_echo_match(const struct udp_expect *e, const uint8_t *p, size_t n)
{
	uint32_t k, q;

	if (!e->conf->udp_tag)
		return udp_match_plain(e, p, n);
	if (n < UDP_TAG_LEN || p[0] != 'm' || p[1] != 'c')
		return UDPV_MISMATCH;
	k = (uint32_t)p[2] << 8 | p[3];
	q = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	if (k >= e->conf->n_messages ||
	    !udp_is_message(e->conf, k, p + UDP_TAG_LEN, n - UDP_TAG_LEN))
		return UDPV_MISMATCH;
	return udp_match_tagged(e, q, k);
}
