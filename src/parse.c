/* Parsers for durations, numbers, escapes and addresses, and their display forms.
 * Pure functions: errors come back as -errno and the caller words the message. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "util.h"

/* Durations longer than this are refused before any multiplication can overflow. */
#define DURATION_MAX_NS (366LL * 24 * 3600 * NSEC_PER_SEC)

static const struct {
	const char *suffix;
	int64_t mult;
} duration_units[] = {
	{ "us", NSEC_PER_USEC }, { "ms", NSEC_PER_MSEC }, { "s", NSEC_PER_SEC },
	{ "m", 60 * NSEC_PER_SEC }, { "h", 3600 * NSEC_PER_SEC }, { "", NSEC_PER_SEC },
};

/* Read "digits[.digits]" into whole and a fraction scaled to 1e9; returns chars used. */
static size_t duration_number(const char *s, uint64_t *whole, uint64_t *frac_e9)
{
	size_t i = 0, fdigits = 0;
	uint64_t w = 0, f = 0;

	/* Read every digit, saturating, so a huge number is -ERANGE and not junk. */
	for (; isdigit((unsigned char)s[i]); i++)
		if (w < DURATION_MAX_NS)
			w = w * 10 + (uint64_t)(s[i] - '0');
	if (i == 0)
		return 0;
	if (s[i] == '.') {
		size_t start = ++i;

		while (isdigit((unsigned char)s[i])) {
			if (fdigits < 9) {
				f = f * 10 + (uint64_t)(s[i] - '0');
				fdigits++;
			}
			i++;
		}
		if (i == start)
			return 0;
	}
	for (; fdigits < 9; fdigits++)
		f *= 10;
	*whole = w;
	*frac_e9 = f;
	return i;
}

int parse_duration(const char *s, int64_t *ret_ns)
{
	uint64_t whole, frac;
	size_t used = duration_number(s, &whole, &frac);

	if (used == 0)
		return -EINVAL;
	for (size_t u = 0; u < ELEMENTSOF(duration_units); u++) {
		int64_t mult = duration_units[u].mult;

		if (strcmp(s + used, duration_units[u].suffix) != 0)
			continue;
		if (whole >= (uint64_t)(DURATION_MAX_NS / mult))
			return -ERANGE;
		/* frac < 1e9 and mult / 1000 <= 3.6e9, so the product stays below 2^64. */
		*ret_ns = (int64_t)whole * mult +
			  (int64_t)(frac * (uint64_t)(mult / NSEC_PER_USEC) / (NSEC_PER_SEC / NSEC_PER_USEC));
		return 0;
	}
	return -EINVAL;
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	for (i = 0; isdigit((unsigned char)s[i]); i++) {
		uint64_t d = (uint64_t)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (s[i] != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode one escape sequence after a backslash; returns the chars consumed or -EINVAL. */
static int escape_decode(const char *s, uint8_t *ret)
{
	int hi, lo;

	switch (s[0]) {
	case 'n': *ret = '\n'; return 1;
	case 'r': *ret = '\r'; return 1;
	case 't': *ret = '\t'; return 1;
	case '\\': *ret = '\\'; return 1;
	case 'x':
		hi = hexval(s[1]);
		lo = hi < 0 ? -1 : hexval(s[2]);
		if (lo < 0)
			return -EINVAL;
		*ret = (uint8_t)(hi << 4 | lo);
		return 3;
	default:
		return -EINVAL;
	}
}

int parse_escapes(const char *s, uint8_t *out, size_t cap, size_t *ret_len)
{
	size_t n = 0;

	while (*s) {
		uint8_t c = (uint8_t)*s++;

		if (c == '\\') {
			int used = escape_decode(s, &c);

			if (used < 0)
				return used;
			s += used;
		}
		if (n == cap)
			return -E2BIG;
		out[n++] = c;
	}
	*ret_len = n;
	return 0;
}

/* Split "host:port" or "[host]:port" into host (copied) and port text. */
static int address_split(const char *s, char *host, size_t hostcap, const char **ret_port)
{
	const char *colon, *h = s, *end;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		h = s + 1;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;
		end = colon;
	}
	if (end == h || (size_t)(end - h) >= hostcap)
		return -EINVAL;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	*ret_port = colon + 1;
	return 0;
}

/* The scope of a link-local IPv6 address, "fe80::1%eth0" or "fe80::1%2": the
 * interface's index, or -ENODEV (no such interface) or -EDOM (not link-local). */
static int address_scope(const struct in6_addr *a, const char *scope, uint32_t *ret)
{
	uint64_t v;

	if (!IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_MC_LINKLOCAL(a))
		return -EDOM;
	if (parse_uint(scope, 1, UINT32_MAX, &v) == 0) {
		*ret = (uint32_t)v;
		return 0;
	}
	v = if_nametoindex(scope);
	if (v == 0)
		return -ENODEV;
	*ret = (uint32_t)v;
	return 0;
}

/* Try host as a numeric IPv4 or IPv6 literal (IPv6 with a scope, see above). */
static int address_numeric(const char *host, uint16_t port, struct sockaddr_any *ret)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&ret->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ret->ss;
	const char *pct = strchr(host, '%');
	char bare[INET6_ADDRSTRLEN];

	memset(ret, 0, sizeof(*ret));
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		ret->len = sizeof(*in);
		return 0;
	}
	if (pct && (size_t)(pct - host) < sizeof(bare) && pct[1]) {
		int r;

		memcpy(bare, host, (size_t)(pct - host));
		bare[pct - host] = '\0';
		if (inet_pton(AF_INET6, bare, &in6->sin6_addr) != 1)
			return -EINVAL;
		r = address_scope(&in6->sin6_addr, pct + 1, &in6->sin6_scope_id);
		if (r < 0)
			return r;
		host = bare;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		ret->len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

void address_set_port(struct sockaddr_any *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

/* Resolve a host name to its first TCP address. */
static int address_resolve(const char *host, uint16_t port, struct sockaddr_any *ret)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res;
	int r = getaddrinfo(host, NULL, &hints, &res);

	if (r != 0)
		return -EHOSTUNREACH;
	if (res->ai_addrlen > sizeof(ret->ss)) {
		freeaddrinfo(res);
		return -EAFNOSUPPORT;
	}
	memset(ret, 0, sizeof(*ret));
	memcpy(&ret->ss, res->ai_addr, res->ai_addrlen);
	ret->len = res->ai_addrlen;
	address_set_port(ret, port);
	freeaddrinfo(res);
	return 0;
}

/* True when host looks like a number in some inet_aton shorthand ("127.1", "10"),
 * which the resolver would accept and we do not. */
static bool host_is_numeric_shorthand(const char *host)
{
	return host[strspn(host, "0123456789.")] == '\0' ||
	       (host[0] == '0' && (host[1] == 'x' || host[1] == 'X'));
}

/* An IPv4 address in host order that is neither 0.0.0.0, broadcast nor multicast. */
static bool ipv4_is_unicast(uint32_t v)
{
	return v != 0 && v != 0xffffffffu && (v >> 28) != 0xe;
}

bool address_is_unicast(const struct sockaddr_any *a)
{
	const struct in6_addr *v6 = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;

	if (a->ss.ss_family == AF_INET)
		return ipv4_is_unicast(ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr));
	if (IN6_IS_ADDR_V4MAPPED(v6))
		return ipv4_is_unicast(ntohl(v6->s6_addr32[3]));
	return !IN6_IS_ADDR_UNSPECIFIED(v6) && !IN6_IS_ADDR_MULTICAST(v6);
}

/* Split "host:port" as address_split() does and read a port of at least min_port. */
static int address_split_port(const char *s, char *host, size_t hostcap, uint64_t min_port,
			      uint64_t *ret_port)
{
	const char *port_s;
	int r = address_split(s, host, hostcap, &port_s);

	return r < 0 ? r : parse_uint(port_s, min_port, 65535, ret_port);
}

int parse_address_host(const char *s, struct sockaddr_any *ret, char *host, size_t hostcap,
		       uint16_t *ret_port)
{
	char h[256];
	uint64_t port;
	struct sockaddr_any a;
	int r = address_split_port(s, h, sizeof(h), 1, &port);

	if (r < 0)
		return r;
	r = address_numeric(h, (uint16_t)port, &a);
	if (r == 0) {
		if (!address_is_unicast(&a))
			return -EADDRNOTAVAIL;
		*ret = a;
		return 0;
	}
	if (r == -ENODEV || r == -EDOM)
		return r;
	if (s[0] == '[' || host_is_numeric_shorthand(h) || strlen(h) >= hostcap)
		return -EINVAL;
	memcpy(host, h, strlen(h) + 1);
	*ret_port = (uint16_t)port;
	return 1;
}

int parse_address(const char *s, bool resolve, struct sockaddr_any *ret)
{
	char host[256];
	uint16_t port;
	struct sockaddr_any a;
	int r = parse_address_host(s, ret, host, sizeof(host), &port);

	if (r <= 0)
		return r;
	if (!resolve)
		return -EINVAL;
	r = address_resolve(host, port, &a);
	if (r == 0 && !address_is_unicast(&a))
		r = -EADDRNOTAVAIL;
	if (r == 0)
		*ret = a;
	return r;
}

int parse_listen(const char *s, struct sockaddr_any *ret)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	uint64_t port;
	struct sockaddr_any a;
	int r = address_split_port(s, host, sizeof(host), 0, &port);

	if (r < 0)
		return r;
	r = address_numeric(host, (uint16_t)port, &a);
	if (r == 0)
		*ret = a;
	return r;
}

int parse_source(const char *s, struct sockaddr_any *ret)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	struct sockaddr_any a;
	size_t n = strlen(s);
	int r;

	if (n >= sizeof(host))
		return -EINVAL;
	if (s[0] == '[' && n > 2 && s[n - 1] == ']') {
		memcpy(host, s + 1, n - 2);
		host[n - 2] = '\0';
	} else {
		memcpy(host, s, n + 1);
	}
	r = address_numeric(host, 0, &a);
	if (r == 0)
		*ret = a;
	return r;
}

bool name_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MCONN_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.:-", s[i]))
			return false;
	return true;
}

char *format_duration(int64_t ns, char *out, size_t n)
{
	double v = (double)ns;

	if (ns < 0)
		snprintf(out, n, "-");
	else if (ns == 0)
		snprintf(out, n, "0");
	else if (ns < 10 * NSEC_PER_USEC)
		snprintf(out, n, "%.1fus", v / 1e3);
	else if (ns < NSEC_PER_MSEC)
		snprintf(out, n, "%.0fus", v / 1e3);
	else if (ns < 10 * NSEC_PER_MSEC)
		snprintf(out, n, "%.2fms", v / 1e6);
	else if (ns < NSEC_PER_SEC)
		snprintf(out, n, "%.1fms", v / 1e6);
	else if (ns < 60 * NSEC_PER_SEC)
		snprintf(out, n, "%.2fs", v / 1e9);
	else if (ns < 3600 * NSEC_PER_SEC)
		snprintf(out, n, "%dm%02ds", (int)(ns / (60 * NSEC_PER_SEC)),
			 (int)(ns / NSEC_PER_SEC % 60));
	else
		snprintf(out, n, "%dh%02dm", (int)(ns / (3600 * NSEC_PER_SEC)),
			 (int)(ns / (60 * NSEC_PER_SEC) % 60));
	return out;
}

char *format_duration_exact(int64_t ns, char *out, size_t n)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = { { "h", 3600 * NSEC_PER_SEC }, { "m", 60 * NSEC_PER_SEC },
		      { "s", NSEC_PER_SEC }, { "ms", NSEC_PER_MSEC }, { "us", NSEC_PER_USEC } };
	uint64_t mag;

	if (ns == 0) {
		snprintf(out, n, "0");
		return out;
	}
	for (size_t i = 0; i < ELEMENTSOF(units); i++) {
		if (ns % units[i].mult == 0) {
			snprintf(out, n, "%lld%s", (long long)(ns / units[i].mult), units[i].unit);
			return out;
		}
	}
	/* In integers: a double has 53 bits, and durations of 104 days have 54. */
	mag = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;
	snprintf(out, n, "%s%llu.%03lluus", ns < 0 ? "-" : "", (unsigned long long)(mag / 1000),
		 (unsigned long long)(mag % 1000));
	return out;
}

char *format_address(const struct sockaddr_any *a, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN];

	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, n, "%s:%u", host, ntohs(in->sin_port));
	} else if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		if (in6->sin6_scope_id)
			snprintf(out, n, "[%s%%%u]:%u", host, in6->sin6_scope_id,
				 ntohs(in6->sin6_port));
		else
			snprintf(out, n, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(out, n, "?");
	}
	return out;
}

char *format_escapes(const uint8_t *p, size_t len, char *out, size_t n)
{
	size_t o = 0;

	if (n == 0)
		return out;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];
		bool pair = c == '\n' || c == '\r' || c == '\t' || c == '\\';
		bool hex = c < 0x20 || c >= 0x7f || (c == ' ' && (i == 0 || i + 1 == len));

		/* Stop between escapes when this one and the NUL would not fit. */
		if (o + (pair ? 2 : hex ? 4 : 1) >= n)
			break;
		if (pair) {
			out[o++] = '\\';
			out[o++] = (char)(c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : '\\');
		} else if (hex) {
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}
