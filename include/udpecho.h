/* UDP echo (RFC 862) matching: what a datagram that came back is to a session
 * waiting for the echo of one message, with or without the optional cycle tag. Pure:
 * no sockets, no clock; the libFuzzer harness drives it with any bytes. */
#ifndef MCONN_UDPECHO_H
#define MCONN_UDPECHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct target_conf;

/* The tag put before each message with udp_tag = yes: "mc", the message's index
 * (16 bits) and the cycle's number (32 bits), both big-endian. */
#define UDP_TAG_LEN 8

/* What a datagram that came back is. */
enum udp_verdict {
	UDPV_ECHO,      /* The echo awaited: the cycle goes on. */
	UDPV_DUPLICATE, /* A second copy of an echo that already came back. */
	UDPV_LATE,      /* The echo of a message whose cycle gave up on it. */
	UDPV_MISMATCH,  /* Bytes that were never sent. */
	_UDPV_MAX,
};

/* What the session waits for. */
struct udp_expect {
	const struct target_conf *conf;
	/* The cycle's number (tagged datagrams only). */
	uint32_t seq;
	/* The message whose echo is awaited; once the cycle ended, the echoes it got. */
	uint32_t msg;
	/* The echoes the cycle before seq got back (tagged datagrams only). */
	uint32_t prev_got;
	/* The cycle seq is over: nothing is awaited, an echo of message msg is late. */
	bool ended;
};

/* Write the tag of message msg of cycle seq into p (UDP_TAG_LEN bytes). */
void udp_tag_write(uint8_t *p, uint32_t seq, uint16_t msg);

/* Say what the n bytes of p are to a session that waits as e says. Without a tag
 * (conf->udp_tag 0) a copy of an earlier message of the cycle is a duplicate, and
 * nothing can be told late: that is why a session without tags never keeps its
 * socket past a failed cycle. */
enum udp_verdict udp_echo_match(const struct udp_expect *e, const uint8_t *p, size_t n);

/* Return the verdict's name ("echo", "duplicate", "late", "mismatch"). */
const char *udp_verdict_name(enum udp_verdict v);

#endif
