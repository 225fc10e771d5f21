/* Parsers and formatters for the values users write: durations, numbers, escaped
 * byte strings, socket addresses and target names. Pure: they never log. */
#ifndef MCONN_PARSE_H
#define MCONN_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define MCONN_NAME_MAX 64

/* An address with its length, as connect() and bind() want it. */
struct sockaddr_any {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Parse "1500ms", "2s", "1.5s", "5m", "1h", "250us" or a bare number of seconds. */
int parse_duration(const char *s, int64_t *ret_ns);

/* Parse an unsigned decimal integer within [min, max]; -ERANGE outside it. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* Decode \n \r \t \\ \xHH escapes into out (at most cap bytes); -EINVAL names bad input. */
int parse_escapes(const char *s, uint8_t *out, size_t cap, size_t *ret_len);

/* Parse "host:port", "[v6]:port"; resolves names only when resolve is true.
 * -EHOSTUNREACH: the name does not resolve; -EADDRNOTAVAIL: not a unicast address. */
int parse_address(const char *s, bool resolve, struct sockaddr_any *ret);

/* Which addresses of a name a target takes: the first of any family, or only IPv4 or
 * IPv6 ones. */
enum addr_family {
	AFAM_ANY,
	AFAM_IPV4,
	AFAM_IPV6,
	_AFAM_MAX,
};

/* Parse "host:port" or "[v6]:port" without resolving: 0 with ret for a numeric
 * address, 1 with the name in host (hostcap bytes) and ret_port for one to look up;
 * -EINVAL bad syntax, -EADDRNOTAVAIL not a unicast address; a link-local IPv6
 * address may carry a scope ("[fe80::1%eth0]:7", "[fe80::1%2]:7"): -ENODEV when no
 * interface has that name, -EDOM when the address is not link-local. */
int parse_address_host(const char *s, struct sockaddr_any *ret, char *host, size_t hostcap,
		       uint16_t *ret_port);

/* Return true for an address TCP can connect to: not unspecified, broadcast or
 * multicast, also when written as IPv4-mapped IPv6. */
bool address_is_unicast(const struct sockaddr_any *a);

/* Set the port of an IPv4 or IPv6 address. */
void address_set_port(struct sockaddr_any *a, uint16_t port);

/* Parse a numeric "ADDR:PORT" or "[V6]:PORT" to listen on: any address, also the
 * wildcard, and a port from 0 (the kernel picks) to 65535. */
int parse_listen(const char *s, struct sockaddr_any *ret);

/* Parse a numeric IPv4 or IPv6 address (optionally in brackets) with port 0. */
int parse_source(const char *s, struct sockaddr_any *ret);

/* Return true when s is a valid target name: 1-64 of [A-Za-z0-9_.:-]. */
bool name_is_valid(const char *s);

/* Format a duration for people ("850us", "12.3ms", "2.00s", "1h05m") into out. */
char *format_duration(int64_t ns, char *out, size_t n);

/* Format a duration the way a configuration would write it ("1h", "90s", "1500ms"). */
char *format_duration_exact(int64_t ns, char *out, size_t n);

/* Format an address as "1.2.3.4:80" or "[::1]:80" into out. */
char *format_address(const struct sockaddr_any *a, char *out, size_t n);

/* Encode bytes with the escapes parse_escapes() reads, for display. */
char *format_escapes(const uint8_t *p, size_t len, char *out, size_t n);

#endif
