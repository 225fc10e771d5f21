/* Unit tests for config.c: a configuration is loaded from memory (or from temporary
 * files, for what only files can get wrong), and what a user would see is asserted:
 * the values a target gets, and the exact text and line of every error message. */
#include <check.h>
#include <netdb.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"
#include "log.h"
#include "tls.h"
#include "util.h"
#include "check_main.h"

#define FILE_NAME "t.conf"
#define TARGET_A "[target \"a\"]\naddress = 127.0.0.1:7\n"
#define MAX_EXPECTED 8

#define DURATION_EXPECT "expected a number with unit us, ms, s, m or h (bare = seconds)"
#define ADDRESS_EXPECT "expected host:port, [ipv6]:port or name:port with a port from 1 to 65535"
#define MESSAGE_EXPECT "expected 1 or more bytes with escapes \\n \\r \\t \\\\ \\xHH"
#define SECTION_EXPECT "expected [daemon] or [target \"NAME\"]"
#define SYNTAX_ERROR "syntax error; expected [section], key = value or a comment"
#define TARGET_KEYS "address, connections, message, interval, connect_timeout, timeout, " \
	"backoff_max, rise, fall, down_quorum, degraded_ratio, flap_threshold, flap_window, interval_down, interval_changing, mode, close, source, family, resolve_every, timestamps, labels, shards, protocol, udp_tag, echo, tls_server_name, tls_verify, tls_ca, tls_cert, tls_key, tls_min_version, tls_resume"
#define LABELS_EXPECT "expected up to 8 NAME=VALUE, comma-separated: names [a-zA-Z_][a-zA-Z0-9_]* " \
	"of at most 32 characters, not starting with __ and none of target, address, resolved, " \
	"protocol, mode, state, verdict, result, le, quantile, version, instance, job; values 1 " \
	"to 64 bytes of printable UTF-8 without commas"
#define NAME_65 "a1234567890123456789012345678901234567890123456789012345678901234"

/* The outcome of one load, kept together so every test can free it the same way. */
struct loaded {
	int r;
	struct config *cfg;
	struct config_errors errs;
};

static void load_text(const char *text, bool resolve, struct loaded *l)
{
	*l = (struct loaded){ 0 };
	l->r = config_load_string(text, FILE_NAME, resolve, &l->cfg, &l->errs);
}

static void loaded_free(struct loaded *l)
{
	config_free(l->cfg);
	config_errors_clear(&l->errs);
	*l = (struct loaded){ 0 };
}

/* Join every error into one line, so a failing assertion shows what was reported. */
static const char *errors_dump(const struct config_errors *errs, char *out, size_t n)
{
	char one[1024];
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < errs->n && o < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s[%s]", i ? " " : "",
				      config_error_format(&errs->v[i], one, sizeof(one)));
	return out;
}

/* Assert that loading failed with exactly these errors, in this order. */
static void assert_errors(const struct loaded *l, const char *const *want)
{
	char dump[8192], got[1024];
	size_t n_want = 0;

	while (n_want < MAX_EXPECTED && want[n_want])
		n_want++;
	ck_assert_msg(l->r == -EINVAL, "load returned %d; errors: %s", l->r,
		      errors_dump(&l->errs, dump, sizeof(dump)));
	ck_assert_ptr_null(l->cfg);
	ck_assert_msg(l->errs.n == n_want, "%zu errors, expected %zu: %s", l->errs.n, n_want,
		      errors_dump(&l->errs, dump, sizeof(dump)));
	for (size_t i = 0; i < n_want; i++)
		ck_assert_str_eq(config_error_format(&l->errs.v[i], got, sizeof(got)), want[i]);
	ck_assert_uint_eq(l->errs.dropped, 0);
}

/* Assert that loading succeeded, showing the errors if it did not. */
static void assert_loaded(const struct loaded *l)
{
	char dump[8192];

	ck_assert_msg(l->r == 0 && l->errs.n == 0, "load returned %d; errors: %s", l->r,
		      errors_dump(&l->errs, dump, sizeof(dump)));
	ck_assert_ptr_nonnull(l->cfg);
}

static void assert_message(const struct target_conf *t, uint32_t k, const void *bytes, size_t len)
{
	uint32_t got_len;
	const uint8_t *got;

	ck_assert_uint_lt(k, t->n_messages);
	got = target_conf_message(t, k, &got_len);
	ck_assert_msg(got_len == len, "message %u is %u bytes, expected %zu", k, got_len, len);
	ck_assert_mem_eq(got, bytes, len);
}

static const struct {
	const char *what;
	const char *text;
	const char *errors[MAX_EXPECTED];
} error_cases[] = {
	{ "unknown section", "[daemon]\nlog_level = info\n[targets \"a\"]\naddress = 127.0.0.1:7\n",
	  { "t.conf:3: unknown section [targets \"a\"]; " SECTION_EXPECT } },
	{ "unknown section, its keys ignored", "[foo]\nbar = 1\n",
	  { "t.conf:1: unknown section [foo]; " SECTION_EXPECT } },
	{ "unknown key in a target", TARGET_A "port = 7\n",
	  { "t.conf:3: port: unknown key; accepted keys in this section: " TARGET_KEYS } },
	{ "unknown key in daemon", "[daemon]\nlevel = info\n",
	  { "t.conf:2: level: unknown key; accepted keys in this section: control_socket, control_idle_timeout, control_io_timeout, log_level, log_target, metrics_listen, include, admin_group, control_mode, control_group, resolve_timeout, shard, replicas" } },
	{ "target key in daemon", "[daemon]\naddress = 127.0.0.1:7\n",
	  { "t.conf:2: address: unknown key; accepted keys in this section: control_socket, control_idle_timeout, control_io_timeout, log_level, log_target, metrics_listen, include, admin_group, control_mode, control_group, resolve_timeout, shard, replicas" } },
	{ "bad shard", "[daemon]\nshard = 5/4\nreplicas = 0\n",
	  { "t.conf:2: shard: invalid value '5/4'; expected K/N, this checker's number K from 1 to N of N checkers (at most 64), such as 2/4",
	    "t.conf:3: replicas: out of range: '0'; expected a whole number from 1 to 64" } },
	{ "replicas above N", "[daemon]\nshard = 1/2\nreplicas = 3\n",
	  { "t.conf:3: replicas: out of range: 3; expected from 1 to 2, the N of shard = 1/2" } },
	{ "replicas without shard", "[daemon]\nreplicas = 2\n",
	  { "t.conf:2: replicas: 2 replicas need shard = K/N with N of at least 2; without shard there is one checker" } },
	{ "bad pins", "[daemon]\nshard = 1/3\n" TARGET_A "shards = 1,1\n[target \"b\"]\naddress = 127.0.0.1:7\nshards = 2,4,5\n",
	  { "t.conf:5: shards: invalid value '1,1'; expected all, or shard numbers from 1 to 64 separated by commas, such as 1,3",
	    "t.conf:8: shards: [target \"b\"]: shard 4,5 beyond the 3 of shard = 1/3; expected all, or numbers from 1 to 3" } },
	{ "key outside a section", "# first\n\nlog_level = info\n[daemon]\n",
	  { "t.conf:3: log_level: key outside a section; " SECTION_EXPECT " first" } },
	{ "bad duration", TARGET_A "interval = 5x\n",
	  { "t.conf:3: interval: invalid duration '5x'; " DURATION_EXPECT ", from 0 to 1h" } },
	{ "duration too long", TARGET_A "timeout = 2h\n",
	  { "t.conf:3: timeout: out of range: '2h'; expected from 1ms to 1h" } },
	{ "duration too short", TARGET_A "connect_timeout = 500us\n",
	  { "t.conf:3: connect_timeout: out of range: '500us'; expected from 1ms to 10m" } },
	{ "negative duration", TARGET_A "backoff_max = -1s\n",
	  { "t.conf:3: backoff_max: invalid duration '-1s'; " DURATION_EXPECT ", from 0 to 1h" } },
	{ "number below range", TARGET_A "connections = 0\n",
	  { "t.conf:3: connections: out of range: '0'; expected a whole number from 1 to 100000" } },
	{ "number above range", TARGET_A "connections = 100001\n",
	  { "t.conf:3: connections: out of range: '100001'; expected a whole number from 1 to 100000" } },
	{ "rise above range", TARGET_A "rise = 1001\n",
	  { "t.conf:3: rise: out of range: '1001'; expected a whole number from 1 to 1000" } },
	{ "quorum zero", TARGET_A "down_quorum = 0\n",
	  { "t.conf:3: down_quorum: out of range: '0'; expected all or a whole number from 1 to 100000" } },
	{ "quorum a word", TARGET_A "down_quorum = most\n",
	  { "t.conf:3: down_quorum: invalid value 'most'; expected all or a whole number from 1 to 100000" } },
	{ "ratio above 100", TARGET_A "degraded_ratio = 101\n",
	  { "t.conf:3: degraded_ratio: invalid value '101'; expected a percentage from 0 to 100, such as 10 or 12.5%" } },
	{ "ratio negative", TARGET_A "degraded_ratio = -1%\n",
	  { "t.conf:3: degraded_ratio: invalid value '-1%'; expected a percentage from 0 to 100, such as 10 or 12.5%" } },
	{ "ratio with a unit", TARGET_A "degraded_ratio = 10 percent\n",
	  { "t.conf:3: degraded_ratio: invalid value '10 percent'; expected a percentage from 0 to 100, such as 10 or 12.5%" } },
	{ "flap threshold above range", TARGET_A "flap_threshold = 101\n",
	  { "t.conf:3: flap_threshold: out of range: '101'; expected a whole number from 0 to 100" } },
	{ "flap window too short", TARGET_A "flap_window = 500ms\n",
	  { "t.conf:3: flap_window: out of range: '500ms'; expected from 1s to 24h" } },
	{ "interval_down too long", TARGET_A "interval_down = 2h\n",
	  { "t.conf:3: interval_down: out of range: '2h'; expected from 0 to 1h" } },
	{ "interval_changing negative", TARGET_A "interval_changing = -1s\n",
	  { "t.conf:3: interval_changing: invalid duration '-1s'; " DURATION_EXPECT ", from 0 to 1h" } },
	{ "number that is a word", TARGET_A "fall = three\n",
	  { "t.conf:3: fall: invalid value 'three'; expected a whole number from 1 to 1000" } },
	{ "bad mode", TARGET_A "mode = cycles\n",
	  { "t.conf:3: mode: invalid value 'cycles'; expected cycle or persistent" } },
	{ "bad close", TARGET_A "close = RST\n",
	  { "t.conf:3: close: invalid value 'RST'; expected fin or rst" } },
	{ "bad timestamps", TARGET_A "timestamps = hardware\n",
	  { "t.conf:3: timestamps: invalid value 'hardware'; expected kernel or loop" } },
	{ "bad protocol", TARGET_A "protocol = sctp\n",
	  { "t.conf:3: protocol: invalid value 'sctp'; expected tcp, udp or tls" } },
	{ "bad udp_tag", TARGET_A "protocol = udp\nudp_tag = 1\n",
	  { "t.conf:4: udp_tag: invalid value '1'; expected yes or no" } },
	{ "TCP keys under udp", TARGET_A "close = rst\nprotocol = udp\nconnect_timeout = 9s\n",
	  { "t.conf:3: close: [target \"a\"]: close applies only to protocol = tcp or tls (a UDP socket has no connection to end), and this target's protocol is udp; remove it",
	    "t.conf:5: connect_timeout: [target \"a\"]: connect_timeout applies only to protocol = tcp or tls (a UDP socket connects at once, with nothing sent), and this target's protocol is udp; remove it" } },
	{ "timestamps under udp", TARGET_A "protocol = udp\ntimestamps = loop\n",
	  { "t.conf:4: timestamps: [target \"a\"]: timestamps applies only to protocol = tcp (UDP and TLS cycles are timed by the loop's clock), and this target's protocol is udp; remove it" } },
	{ "tls key under tcp", TARGET_A "tls_verify = no\n",
	  { "t.conf:3: tls_verify: [target \"a\"]: tls_verify applies only to protocol = tls (it verifies the TLS server), and this target's protocol is tcp; remove it" } },
	{ "tls keys under udp", TARGET_A "protocol = udp\ntls_resume = yes\ntls_server_name = x\n",
	  { "t.conf:4: tls_resume: [target \"a\"]: tls_resume applies only to protocol = tls (it resumes TLS sessions), and this target's protocol is udp; remove it",
	    "t.conf:5: tls_server_name: [target \"a\"]: tls_server_name applies only to protocol = tls (it names the TLS server), and this target's protocol is udp; remove it" } },
	{ "udp_tag and timestamps under tls", TARGET_A "protocol = tls\nudp_tag = no\ntimestamps = loop\n",
	  { "t.conf:4: udp_tag: [target \"a\"]: udp_tag applies only to protocol = udp (it tags datagrams), and this target's protocol is tls; remove it",
	    "t.conf:5: timestamps: [target \"a\"]: timestamps applies only to protocol = tcp (UDP and TLS cycles are timed by the loop's clock), and this target's protocol is tls; remove it" } },
	{ "tls_cert without tls_key", TARGET_A "protocol = tls\ntls_cert = /nonexistent/c.pem\n",
	  { "t.conf:4: tls_cert: [target \"a\"]: tls_cert and tls_key go together; give tls_key too, or neither" } },
	{ "tls_key without tls_cert", TARGET_A "protocol = tls\ntls_key = /nonexistent/c.key\n",
	  { "t.conf:4: tls_key: [target \"a\"]: tls_cert and tls_key go together; give tls_cert too, or neither" } },
	{ "tls_ca missing", TARGET_A "protocol = tls\ntls_ca = /nonexistent/ca.pem\n",
	  { "t.conf:4: tls_ca: [target \"a\"]: cannot read '/nonexistent/ca.pem': No such file or directory" } },
	{ "bad tls_min_version", TARGET_A "protocol = tls\ntls_min_version = 1.1\n",
	  { "t.conf:4: tls_min_version: invalid value '1.1'; expected 1.2 or 1.3" } },
	{ "bad tls_verify", TARGET_A "protocol = tls\ntls_verify = 0\n",
	  { "t.conf:4: tls_verify: invalid value '0'; expected yes or no" } },
	{ "bad tls_server_name", TARGET_A "protocol = tls\ntls_server_name = a b\n",
	  { "t.conf:4: tls_server_name: invalid name 'a b'; expected a DNS name or an IP address of at most 253 characters, or none (no SNI, no name checked)" } },
	{ "empty tls_ca", TARGET_A "protocol = tls\ntls_ca =\n",
	  { "t.conf:4: tls_ca: invalid path ''; expected the path of a PEM file or of a directory in OpenSSL's hashed form, at most 1024 bytes" } },
	{ "echo = no with a message", TARGET_A "echo = no\nmessage = hi\n",
	  { "t.conf:4: message: [target \"a\"]: echo = no sends nothing, so it takes no message; remove the message lines or echo = no" } },
	{ "echo = no, persistent", TARGET_A "mode = persistent\necho = no\n",
	  { "t.conf:4: echo: [target \"a\"]: echo = no ends each cycle once connected, so it needs mode = cycle; a persistent connection would have nothing to check" } },
	{ "echo under udp", TARGET_A "protocol = udp\necho = yes\n",
	  { "t.conf:4: echo: [target \"a\"]: echo applies only to protocol = tcp or tls (a UDP cycle is its datagrams and their echoes), and this target's protocol is udp; remove it" } },
	{ "bad echo", TARGET_A "echo = off\n",
	  { "t.conf:3: echo: invalid value 'off'; expected yes or no" } },
	{ "udp_tag under tcp", TARGET_A "udp_tag = yes\n",
	  { "t.conf:3: udp_tag: [target \"a\"]: udp_tag applies only to protocol = udp (it tags datagrams), and this target's protocol is tcp; remove it" } },
	{ "bad log level", "[daemon]\nlog_level = loud\n",
	  { "t.conf:2: log_level: invalid value 'loud'; expected emerg, alert, crit, err, warning, "
	    "notice, info, debug or 0-7" } },
	{ "log level out of range", "[daemon]\nlog_level = 8\n",
	  { "t.conf:2: log_level: invalid value '8'; expected emerg, alert, crit, err, warning, "
	    "notice, info, debug or 0-7" } },
	{ "relative control socket", "[daemon]\ncontrol_socket = run/mconnd.sock\n",
	  { "t.conf:2: control_socket: invalid path 'run/mconnd.sock'; expected an absolute path "
	    "of at most 107 bytes, without white space" } },
	{ "control socket with a trailing comment", "[daemon]\ncontrol_socket = /run/m.sock # ctl\n",
	  { "t.conf:2: control_socket: invalid path '/run/m.sock # ctl'; expected an absolute path "
	    "of at most 107 bytes, without white space (a comment may only start a line: here "
	    "'#' or ';' is part of the value)" } },
	{ "duplicate target",
	  TARGET_A "\n[target \"b\"]\naddress = 127.0.0.1:8\n[target \"a\"]\naddress = 127.0.0.1:9\n",
	  { "t.conf:6: target \"a\" is defined twice; first at t.conf:1" } },
	{ "duplicate key", TARGET_A "rise = 2\nfall = 3\nrise = 3\n",
	  { "t.conf:5: rise: given twice in [target \"a\"]; keep one" } },
	{ "duplicate address", TARGET_A "address = 127.0.0.1:8\n",
	  { "t.conf:3: address: given twice in [target \"a\"]; keep one" } },
	{ "address without '='", "[target \"a\"]\naddress 127.0.0.1:7\n",
	  { "t.conf:2: address 127.0.0.1: unknown key (is an '=' missing?); accepted keys in this "
	    "section: address, connections, message, interval, connect_timeout, timeout, "
	    "backoff_max, rise, fall, down_quorum, degraded_ratio, flap_threshold, flap_window, interval_down, interval_changing, mode, close, source, family, resolve_every, timestamps, labels, shards, protocol, udp_tag, echo, tls_server_name, tls_verify, tls_ca, tls_cert, tls_key, tls_min_version, tls_resume" } },
	{ "text after a section header", "[target \"a\"] x\naddress = 127.0.0.1:7\n",
	  { "t.conf:1: unexpected text after [target \"a\"]" } },
	{ "multicast address", "[target \"a\"]\naddress = 224.0.0.1:7\n",
	  { "t.conf:2: address: '224.0.0.1:7' is not a unicast address; expected one TCP can "
	    "connect to" } },
	{ "IPv4-mapped unspecified address", "[target \"a\"]\naddress = [::ffff:0.0.0.0]:7\n",
	  { "t.conf:2: address: '[::ffff:0.0.0.0]:7' is not a unicast address; expected one TCP "
	    "can connect to" } },
	{ "two targets without an address", "[target \"a\"]\nrise = 2\n[target \"b\"]\nrise = 2\n",
	  { "t.conf:1: address: [target \"a\"] has no address; it is required",
	    "t.conf:3: address: [target \"b\"] has no address; it is required" } },
	{ "unspecified address", "[target \"a\"]\naddress = [::]:7\n",
	  { "t.conf:2: address: '[::]:7' is not a unicast address; expected one TCP can connect to" } },
	{ "inet_aton shorthand", "[target \"a\"]\naddress = 127.1:7\n",
	  { "t.conf:2: address: invalid address '127.1:7'; expected host:port, [ipv6]:port or "
	    "name:port with a port from 1 to 65535" } },
	{ "missing address", "[target \"a\"]\nrise = 2\n",
	  { "t.conf:1: address: [target \"a\"] has no address; it is required" } },
	{ "connect_timeout over timeout", TARGET_A "connect_timeout = 3s\ntimeout = 2s\n",
	  { "t.conf:3: connect_timeout: [target \"a\"]: connect_timeout (3.00s) is longer than "
	    "timeout (2.00s); it must not be" } },
	{ "connect_timeout just over timeout", TARGET_A "timeout = 2s\nconnect_timeout = 2500ms\n",
	  { "t.conf:4: connect_timeout: [target \"a\"]: connect_timeout (2.50s) is longer than "
	    "timeout (2.00s); it must not be" } },
	{ "connect_timeout over the default timeout", TARGET_A "connect_timeout = 6s\n",
	  { "t.conf:3: connect_timeout: [target \"a\"]: connect_timeout (6.00s) is longer than "
	    "timeout (5.00s); it must not be" } },
	{ "IPv6 source for an IPv4 target", TARGET_A "source = ::1\n",
	  { "t.conf:3: source: [target \"a\"]: source ::1 is not of the address family of 127.0.0.1:7" } },
	{ "IPv4 source for an IPv6 target", "[target \"a\"]\naddress = [::1]:7\nsource = 127.0.0.1\n",
	  { "t.conf:3: source: [target \"a\"]: source 127.0.0.1 is not of the address family of [::1]:7" } },
	{ "source that is a name", TARGET_A "source = localhost\n",
	  { "t.conf:3: source: invalid address 'localhost'; expected a numeric IPv4 or IPv6 address" } },
	{ "total connections over the limit",
	  TARGET_A "connections = 100000\n[target \"b\"]\naddress = 127.0.0.1:8\n",
	  { "t.conf: connections: 100001 connections in all; at most 100000 are allowed" } },
	{ "line without '='", TARGET_A "rise 3\n", { "t.conf:3: " SYNTAX_ERROR } },
	{ "target name with a space", "[target \"a b\"]\naddress = 127.0.0.1:7\n",
	  { "t.conf:1: invalid target name \"a b\"; expected 1 to 64 of A-Z a-z 0-9 _ . : -" } },
	{ "target name with a slash", "[target \"web/1\"]\naddress = 127.0.0.1:7\n",
	  { "t.conf:1: invalid target name \"web/1\"; expected 1 to 64 of A-Z a-z 0-9 _ . : -" } },
	{ "target name of 65 characters", "[target \"" NAME_65 "\"]\naddress = 127.0.0.1:7\n",
	  { "t.conf:1: invalid target name \"" NAME_65 "\"; expected 1 to 64 of A-Z a-z 0-9 _ . : -" } },
	{ "bad escape in a message", TARGET_A "message = a\\q\n",
	  { "t.conf:3: message: invalid message 'a\\q'; " MESSAGE_EXPECT } },
	{ "empty message", TARGET_A "message =\n",
	  { "t.conf:3: message: invalid message ''; " MESSAGE_EXPECT } },
	{ "inline comment is part of a number", TARGET_A "rise = 3 ; three\n",
	  { "t.conf:3: rise: invalid value '3 ; three'; expected a whole number from 1 to 1000 "
	    "(a comment may only start a line: here '#' or ';' is part of the value)" } },
	{ "CRLF with comments and blank lines",
	  "; comment\r\n# comment\r\n\r\n[target \"a\"]\r\naddress = 127.0.0.1:7\r\n\r\n"
	  "  # indented comment\r\nrise = zero\r\n",
	  { "t.conf:8: rise: invalid value 'zero'; expected a whole number from 1 to 1000" } },
	{ "CRLF unknown section", "[daemon]\r\nlog_level = info\r\n\r\n[bogus]\r\nx = 1\r\n",
	  { "t.conf:4: unknown section [bogus]; " SECTION_EXPECT } },
	{ "CRLF syntax error", "[daemon]\r\n# c\r\nlog_level\r\n", { "t.conf:3: " SYNTAX_ERROR } },
	{ "last line without a newline", TARGET_A "\n\nfall = 0",
	  { "t.conf:5: fall: out of range: '0'; expected a whole number from 1 to 1000" } },
	{ "several errors in one file",
	  "[daemon]\nlog_level = loud\n[target \"a\"]\naddress = 127.0.0.1:7\nrise = 0\nmode = x\n\n"
	  "[target \"b\"]\ninterval = 1y\n[target \"c d\"]\nrise = 2\n[target \"a\"]\n",
	  { "t.conf:2: log_level: invalid value 'loud'; expected emerg, alert, crit, err, warning, "
	    "notice, info, debug or 0-7",
	    "t.conf:5: rise: out of range: '0'; expected a whole number from 1 to 1000",
	    "t.conf:6: mode: invalid value 'x'; expected cycle or persistent",
	    "t.conf:8: address: [target \"b\"] has no address; it is required",
	    "t.conf:9: interval: invalid duration '1y'; " DURATION_EXPECT ", from 0 to 1h",
	    "t.conf:10: invalid target name \"c d\"; expected 1 to 64 of A-Z a-z 0-9 _ . : -",
	    "t.conf:12: target \"a\" is defined twice; first at t.conf:3" } },
	/* Issue 14: a rejected section's keys are still checked, and errors come in line
	 * order, those of the whole target at the line of the key they are about. */
	{ "errors inside a section with a bad name",
	  "[target \"" NAME_65 "\"]\naddress = 127.0.0.1:7\nconnections = 0\n",
	  { "t.conf:1: invalid target name \"" NAME_65 "\"; expected 1 to 64 of A-Z a-z 0-9 _ . : -",
	    "t.conf:3: connections: out of range: '0'; expected a whole number from 1 to 100000" } },
	{ "errors inside a section defined twice",
	  TARGET_A "[target \"a\"]\naddress = 127.0.0.1:8\ninterval = 10 s\nrise = 0\n",
	  { "t.conf:3: target \"a\" is defined twice; first at t.conf:1",
	    "t.conf:5: interval: invalid duration '10 s'; " DURATION_EXPECT ", from 0 to 1h",
	    "t.conf:6: rise: out of range: '0'; expected a whole number from 1 to 1000" } },
	{ "errors in line order",
	  "[target \"a\"]\naddress = 127.0.0.1:7\nconnections = 2\nconnect_timeout = 3s\n"
	  "timeout = 2s\nrise = 0\n",
	  { "t.conf:4: connect_timeout: [target \"a\"]: connect_timeout (3.00s) is longer than "
	    "timeout (2.00s); it must not be",
	    "t.conf:6: rise: out of range: '0'; expected a whole number from 1 to 1000" } },
	{ "scope of no interface", "[target \"a\"]\naddress = [fe80::1%nosuchif0]:20001\n",
	  { "t.conf:2: address: '[fe80::1%nosuchif0]:20001': no network interface of that name "
	    "or number for the scope after %; expected [fe80::ADDR%INTERFACE]:port with an "
	    "existing interface" } },
	{ "scope on a global address", "[target \"a\"]\naddress = [2001:db8::1%lo]:7\n",
	  { "t.conf:2: address: '[2001:db8::1%lo]:7': a scope (%INTERFACE) applies only to "
	    "link-local IPv6 addresses (fe80::/10)" } },
	{ "label name not Prometheus's", TARGET_A "labels = team=web, 2tier=edge\n",
	  { "t.conf:3: labels: ' 2tier': not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*); "
	    LABELS_EXPECT } },
	{ "label name reserved by Prometheus", TARGET_A "labels = __name__=x\n",
	  { "t.conf:3: labels: '__name__': a label name starting with __ (reserved by "
	    "Prometheus); " LABELS_EXPECT } },
	{ "label name mconnd sets", TARGET_A "labels = team=web,address=x\n",
	  { "t.conf:3: labels: 'address': a label mconnd or Prometheus sets itself; " LABELS_EXPECT } },
	{ "label given twice", TARGET_A "labels = team=web, team=db\n",
	  { "t.conf:3: labels: label team given twice; keep one" } },
	{ "label without a value", TARGET_A "labels = team=\n",
	  { "t.conf:3: labels: the value of team is empty (the same as no label); " LABELS_EXPECT } },
	{ "label without '='", TARGET_A "labels = team\n",
	  { "t.conf:3: labels: 'team' is not name=value; " LABELS_EXPECT } },
	{ "label value too long", TARGET_A "labels = team=" NAME_65 "\n",
	  { "t.conf:3: labels: the value of team is longer than 64 bytes; " LABELS_EXPECT } },
	{ "label value with a control byte", TARGET_A "labels = team=a\tb\n",
	  { "t.conf:3: labels: the value of team is not printable UTF-8; " LABELS_EXPECT } },
	{ "too many labels", TARGET_A "labels = a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9\n",
	  { "t.conf:3: labels: more than 8 labels; " LABELS_EXPECT } },
	{ "empty label between commas", TARGET_A "labels = a=1,,b=2\n",
	  { "t.conf:3: labels: '' is not name=value; " LABELS_EXPECT } },
};

START_TEST(test_error_messages)
{
	struct config_errors errs = { 0 };
	struct config dummy, *c = &dummy;
	struct loaded l;

	load_text(error_cases[_i].text, false, &l);
	ck_assert_msg(l.r < 0, "case '%s' loaded", error_cases[_i].what);
	assert_errors(&l, error_cases[_i].errors);
	loaded_free(&l);
	ck_assert_int_eq(config_load_string(error_cases[_i].text, FILE_NAME, false, &c, &errs), -EINVAL);
	ck_assert_ptr_eq(c, &dummy);
	config_errors_clear(&errs);
}
END_TEST

/* Errors are appended to a list that may hold earlier ones; those must not hide the new
 * file's errors, whatever lines they were on. */
START_TEST(test_errors_append)
{
	static const char bad_line_3[] = TARGET_A "rise 3\n";
	struct config_errors errs = { 0 };
	struct config *c = NULL;
	char got[512];

	ck_assert_int_eq(config_load_string(bad_line_3, "one.conf", false, &c, &errs), -EINVAL);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(config_load_string(TARGET_A "rise = 0\n", "two.conf", false, &c, &errs),
			 -EINVAL);
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_msg(config_load_string(bad_line_3, "three.conf", false, &c, &errs) == -EINVAL,
		      "a file with a syntax error loaded");
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(errs.n, 3);
	ck_assert_str_eq(config_error_format(&errs.v[0], got, sizeof(got)), "one.conf:3: " SYNTAX_ERROR);
	ck_assert_str_eq(config_error_format(&errs.v[1], got, sizeof(got)),
			 "two.conf:3: rise: out of range: '0'; expected a whole number from 1 to 1000");
	ck_assert_str_eq(config_error_format(&errs.v[2], got, sizeof(got)), "three.conf:3: " SYNTAX_ERROR);
	config_errors_clear(&errs);
}
END_TEST

/* A bad address is one mistake and gets one message, not also "has no address". */
static const char *const bad_addresses[] = {
	"127.0.0.1:0", "::1:7", "127.0.0.1", "[::1]:65536",
};

START_TEST(test_bad_address_reported_once)
{
	char text[256], want[512];
	const char *expect[2] = { want, NULL };
	struct loaded l;

	snprintf(text, sizeof(text), "[target \"a\"]\naddress = %s\n", bad_addresses[_i]);
	snprintf(want, sizeof(want), "t.conf:2: address: invalid address '%s'; " ADDRESS_EXPECT,
		 bad_addresses[_i]);
	load_text(text, false, &l);
	assert_errors(&l, expect);
	loaded_free(&l);
}
END_TEST

/* inih reports only the first syntax error; every one must still be named, in order. */
START_TEST(test_every_syntax_error_reported)
{
	static const char *const expect[] = {
		"t.conf:2: " SYNTAX_ERROR,
		"t.conf:3: log_level: invalid value 'loud'; expected emerg, alert, crit, err, warning, "
		"notice, info, debug or 0-7",
		"t.conf:4: " SYNTAX_ERROR,
		NULL,
	};
	struct loaded l;

	load_text("[daemon]\nfoo\nlog_level = loud\nbar\n", false, &l);
	assert_errors(&l, expect);
	loaded_free(&l);
}
END_TEST

START_TEST(test_error_limit)
{
	struct loaded l;
	struct buf b;
	char first[256];

	buf_init(&b, 1 << 20);
	buf_printf(&b, "[daemon]\n");
	for (int k = 0; k < CONFIG_MAX_ERRORS + 50; k++)
		buf_printf(&b, "bogus%d = 1\n", k);
	ck_assert(!b.overflow);
	load_text(b.data, false, &l);
	ck_assert_int_eq(l.r, -EINVAL);
	ck_assert_uint_eq(l.errs.n, CONFIG_MAX_ERRORS);
	ck_assert_uint_eq(l.errs.dropped, 50);
	ck_assert_str_eq(config_error_format(&l.errs.v[0], first, sizeof(first)),
			 "t.conf:2: bogus0: unknown key; accepted keys in this section: "
			 "control_socket, control_idle_timeout, control_io_timeout, log_level, log_target, metrics_listen, include, admin_group, control_mode, control_group, resolve_timeout, shard, replicas");
	ck_assert_uint_eq(l.errs.v[CONFIG_MAX_ERRORS - 1].line, CONFIG_MAX_ERRORS + 1);
	loaded_free(&l);
	buf_free(&b);
}
END_TEST

/* A [daemon] key given twice is refused like a target key given twice. */
START_TEST(test_duplicate_daemon_key)
{
	struct loaded l;

	load_text("[daemon]\nlog_level = info\nlog_level = debug\n", false, &l);
	ck_assert_int_eq(l.r, -EINVAL);
	ck_assert_uint_eq(l.errs.n, 1);
	ck_assert_uint_eq(l.errs.v[0].line, 3);
	ck_assert_str_eq(l.errs.v[0].key, "log_level");
	loaded_free(&l);
}
END_TEST

/* inih skips a UTF-8 byte order mark; the section it precedes must count too. */
START_TEST(test_byte_order_mark)
{
	struct loaded l;

	load_text("\xef\xbb\xbf[daemon]\nlog_level = debug\n", false, &l);
	assert_loaded(&l);
	ck_assert_int_eq(l.cfg->log_level, 7);
	loaded_free(&l);
}
END_TEST

/* A section line longer than one read of inih's must not leave keys in the previous
 * section: here an unknown section's key would silently set target a's rise. */
START_TEST(test_long_section_line)
{
	struct loaded l;
	struct buf b;

	buf_init(&b, 4096);
	buf_printf(&b, TARGET_A "[%0300d]\nrise = 4\n", 0);
	load_text(b.data, false, &l);
	ck_assert_msg(l.r == -EINVAL, "a 300-character unknown section was accepted");
	ck_assert_uint_ge(l.errs.n, 1);
	ck_assert_uint_eq(l.errs.v[0].line, 3);
	loaded_free(&l);

	buf_free(&b);
	buf_init(&b, 4096);
	buf_printf(&b, TARGET_A "%250s[target \"b\"]\naddress = 127.0.0.1:8\n", "");
	load_text(b.data, false, &l);
	assert_loaded(&l);
	ck_assert_uint_eq(l.cfg->n_targets, 2);
	loaded_free(&l);
	buf_free(&b);
}
END_TEST

START_TEST(test_defaults)
{
	static const char m1[] = "Message 1 from client.", m2[] = "Message 2 from client.";
	const struct target_conf *t;
	struct loaded l;
	char addr[64];

	load_text(TARGET_A, false, &l);
	assert_loaded(&l);
	ck_assert_str_eq(l.cfg->path, FILE_NAME);
	ck_assert_str_eq(l.cfg->control_socket, "/run/mconnd.sock");
	ck_assert_int_eq(l.cfg->log_level, 6);
	ck_assert_uint_eq(l.cfg->n_targets, 1);
	ck_assert_uint_eq(l.cfg->total_connections, 1);
	t = l.cfg->targets[0];
	ck_assert_str_eq(t->name, "a");
	ck_assert_str_eq(t->file, FILE_NAME);
	ck_assert_uint_eq(t->line, 1);
	ck_assert_str_eq(t->address_text, "127.0.0.1:7");
	ck_assert_str_eq(format_address(&t->addr, addr, sizeof(addr)), "127.0.0.1:7");
	ck_assert(!t->has_source);
	ck_assert_uint_eq(t->connections, 1);
	ck_assert_int_eq(t->interval, NSEC_PER_SEC);
	ck_assert_int_eq(t->connect_timeout, 2 * NSEC_PER_SEC);
	ck_assert_int_eq(t->timeout, 5 * NSEC_PER_SEC);
	ck_assert_int_eq(t->backoff_max, 5 * NSEC_PER_SEC);
	ck_assert_uint_eq(t->rise, 2);
	ck_assert_uint_eq(t->fall, 3);
	/* The health model: a quorum of all, 10 %, 5 changes in 5 minutes, the interval. */
	ck_assert_uint_eq(t->down_quorum, 0);
	ck_assert(t->degraded_ratio > 0.0999 && t->degraded_ratio < 0.1001);
	ck_assert_uint_eq(t->flap_threshold, 5);
	ck_assert_int_eq(t->flap_window, 300 * NSEC_PER_SEC);
	ck_assert_int_eq(t->interval_down, -1);
	ck_assert_int_eq(t->interval_changing, -1);
	ck_assert_int_eq(t->mode, MODE_CYCLE);
	ck_assert_int_eq(t->close, CLOSE_FIN);
	ck_assert_uint_eq(t->n_messages, 2);
	ck_assert_uint_eq(t->msg_bytes, 44);
	assert_message(t, 0, m1, sizeof(m1) - 1);
	assert_message(t, 1, m2, sizeof(m2) - 1);
	ck_assert_ptr_eq(config_find_target(l.cfg, "a"), t);
	ck_assert_ptr_null(config_find_target(l.cfg, "b"));
	loaded_free(&l);
}
END_TEST

START_TEST(test_every_key)
{
	const struct target_conf *t;
	struct loaded l;
	char addr[64];

	load_text("[daemon]\n"
		  "control_socket = /run/test/m.sock\n"
		  "log_level = debug\n"
		  "[target \"web-1.example:80\"]\n"
		  "address = [::1]:8080\n"
		  "connections = 100000\n"
		  "interval = 250ms\n"
		  "connect_timeout = 1.5s\n"
		  "timeout = 1m\n"
		  "backoff_max = 30s\n"
		  "rise = 1\n"
		  "fall = 1000\n"
		  "down_quorum = 3\n"
		  "degraded_ratio = 12.5%\n"
		  "flap_threshold = 0\n"
		  "flap_window = 90s\n"
		  "interval_down = 10s\n"
		  "interval_changing = 100ms\n"
		  "mode = persistent\n"
		  "close = rst\n"
		  "timestamps = loop\n"
		  "source = [::1]\n"
		  "message = ping\\n\n",
		  false, &l);
	assert_loaded(&l);
	ck_assert_str_eq(l.cfg->control_socket, "/run/test/m.sock");
	ck_assert_int_eq(l.cfg->log_level, 7);
	ck_assert_uint_eq(l.cfg->total_connections, 100000);
	t = config_find_target(l.cfg, "web-1.example:80");
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->line, 4);
	ck_assert_str_eq(t->address_text, "[::1]:8080");
	ck_assert_str_eq(format_address(&t->addr, addr, sizeof(addr)), "[::1]:8080");
	ck_assert_uint_eq(t->connections, 100000);
	ck_assert_int_eq(t->interval, 250 * NSEC_PER_MSEC);
	ck_assert_int_eq(t->connect_timeout, 1500 * NSEC_PER_MSEC);
	ck_assert_int_eq(t->timeout, 60 * NSEC_PER_SEC);
	ck_assert_int_eq(t->backoff_max, 30 * NSEC_PER_SEC);
	ck_assert_uint_eq(t->rise, 1);
	ck_assert_uint_eq(t->fall, 1000);
	ck_assert_uint_eq(t->down_quorum, 3);
	ck_assert(t->degraded_ratio > 0.1249 && t->degraded_ratio < 0.1251);
	ck_assert_uint_eq(t->flap_threshold, 0);
	ck_assert_int_eq(t->flap_window, 90 * NSEC_PER_SEC);
	ck_assert_int_eq(t->interval_down, 10 * NSEC_PER_SEC);
	ck_assert_int_eq(t->interval_changing, 100 * NSEC_PER_MSEC);
	ck_assert_int_eq(t->mode, MODE_PERSISTENT);
	ck_assert_int_eq(t->close, CLOSE_RST);
	ck_assert_int_eq(t->timestamps, TIMESTAMPS_LOOP);
	ck_assert(t->has_source);
	ck_assert_str_eq(t->source_text, "[::1]");
	ck_assert_str_eq(format_address(&t->source, addr, sizeof(addr)), "[::1]:0");
	ck_assert_uint_eq(t->n_messages, 1);
	assert_message(t, 0, "ping\n", 5);
	loaded_free(&l);
}
END_TEST

static const struct {
	const char *value;
	int level;
} level_cases[] = {
	{ "emerg", 0 }, { "alert", 1 }, { "crit", 2 }, { "err", 3 }, { "error", 3 },
	{ "warning", 4 }, { "notice", 5 }, { "info", 6 }, { "debug", 7 }, { "0", 0 }, { "7", 7 },
};

START_TEST(test_log_level)
{
	char text[128];
	struct loaded l;

	snprintf(text, sizeof(text), "[daemon]\nlog_level = %s\n", level_cases[_i].value);
	load_text(text, false, &l);
	assert_loaded(&l);
	ck_assert_int_eq(l.cfg->log_level, level_cases[_i].level);
	loaded_free(&l);
}
END_TEST

static const struct {
	const char *value;
	int sink;
} log_target_cases[] = {
	{ NULL, LOG_SINK_AUTO }, { "auto", LOG_SINK_AUTO }, { "journal", LOG_SINK_JOURNAL },
	{ "stderr", LOG_SINK_STDERR }, { "syslog", LOG_SINK_SYSLOG },
};

START_TEST(test_log_target)
{
	char text[128] = "[daemon]\n";
	struct loaded l;

	if (log_target_cases[_i].value)
		snprintf(text, sizeof(text), "[daemon]\nlog_target = %s\n", log_target_cases[_i].value);
	load_text(text, false, &l);
	assert_loaded(&l);
	ck_assert_int_eq(l.cfg->log_target, log_target_cases[_i].sink);
	ck_assert_str_eq(log_sink_name(l.cfg->log_target),
			 log_target_cases[_i].value ? log_target_cases[_i].value : "auto");
	loaded_free(&l);
}
END_TEST

START_TEST(test_log_target_bad)
{
	struct loaded l;
	char got[512];

	load_text("[daemon]\nlog_target = file\n", false, &l);
	ck_assert_uint_eq(l.errs.n, 1);
	ck_assert_str_eq(config_error_format(&l.errs.v[0], got, sizeof(got)),
			 "t.conf:2: log_target: invalid value 'file'; expected auto, journal, stderr or syslog");
	ck_assert_str_eq(log_sink_name(_LOG_SINK_MAX), "?");
	loaded_free(&l);
}
END_TEST

START_TEST(test_enum_names)
{
	ck_assert_str_eq(target_mode_name(MODE_CYCLE), "cycle");
	ck_assert_str_eq(target_mode_name(MODE_PERSISTENT), "persistent");
	ck_assert_str_eq(target_mode_name(_MODE_MAX), "?");
	ck_assert_str_eq(close_mode_name(CLOSE_FIN), "fin");
	ck_assert_str_eq(close_mode_name(CLOSE_RST), "rst");
	ck_assert_str_eq(close_mode_name(_CLOSE_MAX), "?");
}
END_TEST

/* Names resolve at load, as the system's resolver says: a bare chroot may have no
 * /etc/hosts, and then the load fails and names the host. */
START_TEST(test_resolve_names)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	bool resolvable = getaddrinfo("localhost", NULL, &hints, &res) == 0;
	struct loaded l;

	if (res)
		freeaddrinfo(res);
	load_text("[target \"a\"]\naddress = localhost:7\n", true, &l);
	if (!resolvable) {
		ck_assert_ptr_null(l.cfg);
		ck_assert_uint_eq(l.errs.n, 1);
		ck_assert_str_eq(l.errs.v[0].key, "address");
		loaded_free(&l);
		return;
	}
	assert_loaded(&l);
	ck_assert_str_eq(l.cfg->targets[0]->address_text, "localhost:7");
	ck_assert_uint_ne(l.cfg->targets[0]->addr.len, 0);
	loaded_free(&l);
}
END_TEST

START_TEST(test_messages_replace_defaults_in_order)
{
	const struct target_conf *a, *b;
	struct loaded l;

	load_text(TARGET_A "message = first\nrise = 3\nmessage = second\nmessage = third\n"
			   "[target \"b\"]\naddress = 127.0.0.1:8\n",
		  false, &l);
	assert_loaded(&l);
	a = config_find_target(l.cfg, "a");
	ck_assert_uint_eq(a->n_messages, 3);
	ck_assert_uint_eq(a->msg_bytes, 16);
	assert_message(a, 0, "first", 5);
	assert_message(a, 1, "second", 6);
	assert_message(a, 2, "third", 5);
	b = config_find_target(l.cfg, "b");
	ck_assert_uint_eq(b->n_messages, 2);
	assert_message(b, 0, "Message 1 from client.", 22);
	loaded_free(&l);
}
END_TEST

/* echo = no: nothing to send (the defaults dropped), for tcp and tls alike. */
START_TEST(test_echo_no_sends_nothing)
{
	const struct target_conf *a, *b, *c;
	struct loaded l;

	load_text(TARGET_A "echo = no\n[target \"b\"]\naddress = 127.0.0.1:8\necho = yes\n"
			   "[target \"c\"]\naddress = 127.0.0.1:9\nprotocol = tls\necho = no\n",
		  false, &l);
	assert_loaded(&l);
	a = config_find_target(l.cfg, "a");
	ck_assert_int_eq(a->echo, 0);
	ck_assert_uint_eq(a->n_messages, 0);
	ck_assert_uint_eq(a->msg_bytes, 0);
	b = config_find_target(l.cfg, "b");
	ck_assert_int_eq(b->echo, 1);
	ck_assert_uint_eq(b->n_messages, 2);
	c = config_find_target(l.cfg, "c");
	ck_assert_uint_eq(c->n_messages, 0);
	/* Sessions restart when it changes: the messages differ. */
	ck_assert(config_target_diff(a, b) & CHG_MESSAGES);
	loaded_free(&l);
}
END_TEST

START_TEST(test_messages_escapes)
{
	const struct target_conf *t;
	struct loaded l;

	load_text(TARGET_A "message = GET / HTTP/1.0\\r\\n\\r\\n\n"
			   "message = \\x20padded\\x20\n"
			   "message = tab\\there\\\\\n"
			   "message = \\x00\\xff\\xFe\n"
			   "message =   trimmed   \n",
		  false, &l);
	assert_loaded(&l);
	t = l.cfg->targets[0];
	ck_assert_uint_eq(t->n_messages, 5);
	assert_message(t, 0, "GET / HTTP/1.0\r\n\r\n", 18);
	assert_message(t, 1, " padded ", 8);
	assert_message(t, 2, "tab\there\\", 9);
	assert_message(t, 3, "\0\xff\xfe", 3);
	assert_message(t, 4, "trimmed", 7);
	loaded_free(&l);
}
END_TEST

/* Inline comments are off: ';' and '#' after the '=' are bytes of the value. */
START_TEST(test_messages_inline_semicolon)
{
	const struct target_conf *t;
	struct loaded l;

	load_text(TARGET_A "message = a ; b\nmessage = a;b\nmessage = x # y\nmessage = host:port=1\n",
		  false, &l);
	assert_loaded(&l);
	t = l.cfg->targets[0];
	ck_assert_uint_eq(t->n_messages, 4);
	assert_message(t, 0, "a ; b", 5);
	assert_message(t, 1, "a;b", 3);
	assert_message(t, 2, "x # y", 5);
	assert_message(t, 3, "host:port=1", 11);
	loaded_free(&l);
}
END_TEST

/* Multi-line values are off: an indented line is a line of its own, not more message. */
START_TEST(test_no_continuation_lines)
{
	static const char *const expect[] = { "t.conf:4: " SYNTAX_ERROR, NULL };
	const struct target_conf *t;
	struct loaded l;

	load_text(TARGET_A "message = one\n  rise = 5\n", false, &l);
	assert_loaded(&l);
	t = l.cfg->targets[0];
	ck_assert_uint_eq(t->n_messages, 1);
	assert_message(t, 0, "one", 3);
	ck_assert_uint_eq(t->rise, 5);
	loaded_free(&l);

	load_text(TARGET_A "message = one\n    two\n", false, &l);
	assert_errors(&l, expect);
	loaded_free(&l);
}
END_TEST

START_TEST(test_crlf_values)
{
	const struct target_conf *t;
	struct loaded l;

	load_text("[target \"a\"]\r\naddress = 127.0.0.1:7\r\nmessage = hello\r\nmode = persistent\r\n",
		  false, &l);
	assert_loaded(&l);
	t = l.cfg->targets[0];
	assert_message(t, 0, "hello", 5);
	ck_assert_int_eq(t->mode, MODE_PERSISTENT);
	loaded_free(&l);
}
END_TEST

/* Append "message = " and the escapes of n bytes to b; returns the bytes encoded. */
static uint8_t *append_escaped_message(struct buf *b, size_t n)
{
	uint8_t *bytes = malloc(n);

	ck_assert_ptr_nonnull(bytes);
	buf_printf(b, "message = ");
	for (size_t k = 0; k < n; k++) {
		bytes[k] = (uint8_t)(k * 7 + k / 256);
		buf_printf(b, k % 2 ? "\\x%02x" : "\\x%02X", bytes[k]);
	}
	buf_printf(b, "\n");
	ck_assert(!b->overflow);
	return bytes;
}

/* The longest message, 8192 bytes written as 32768 characters of \xHH, arrives intact,
 * and the line count stays right after it. */
START_TEST(test_longest_message)
{
	static const char *const expect[] = {
		"t.conf:4: rise: invalid value 'x'; expected a whole number from 1 to 1000", NULL,
	};
	const struct target_conf *t;
	struct loaded l;
	struct buf b;
	uint8_t *bytes;

	buf_init(&b, 1 << 20);
	buf_printf(&b, TARGET_A);
	bytes = append_escaped_message(&b, CONFIG_MAX_MESSAGE_BYTES);
	ck_assert_uint_gt(b.len, 32768);
	buf_printf(&b, "message = after\n");
	load_text(b.data, false, &l);
	assert_loaded(&l);
	t = l.cfg->targets[0];
	ck_assert_uint_eq(t->n_messages, 2);
	assert_message(t, 0, bytes, CONFIG_MAX_MESSAGE_BYTES);
	assert_message(t, 1, "after", 5);
	loaded_free(&l);

	buf_free(&b);
	buf_init(&b, 1 << 20);
	buf_printf(&b, TARGET_A);
	free(append_escaped_message(&b, CONFIG_MAX_MESSAGE_BYTES));
	buf_printf(&b, "rise = x\n");
	load_text(b.data, false, &l);
	assert_errors(&l, expect);
	loaded_free(&l);
	free(bytes);
	buf_free(&b);
}
END_TEST

START_TEST(test_message_too_long)
{
	static const char *const expect[] = {
		"t.conf:3: message: message too long (at most 8192 bytes)", NULL,
	};
	struct loaded l;
	struct buf b;

	buf_init(&b, 1 << 20);
	buf_printf(&b, TARGET_A);
	free(append_escaped_message(&b, CONFIG_MAX_MESSAGE_BYTES + 1));
	load_text(b.data, false, &l);
	assert_errors(&l, expect);
	loaded_free(&l);
	buf_free(&b);
}
END_TEST

START_TEST(test_too_many_messages)
{
	static const char *const expect[] = {
		"t.conf:67: message: too many messages (at most 64 per target)", NULL,
	};
	struct loaded l;
	struct buf b;

	buf_init(&b, 1 << 20);
	buf_printf(&b, TARGET_A);
	for (int k = 0; k < CONFIG_MAX_MESSAGES; k++)
		buf_printf(&b, "message = m%d\n", k);
	load_text(b.data, false, &l);
	assert_loaded(&l);
	ck_assert_uint_eq(l.cfg->targets[0]->n_messages, CONFIG_MAX_MESSAGES);
	assert_message(l.cfg->targets[0], CONFIG_MAX_MESSAGES - 1, "m63", 3);
	loaded_free(&l);

	buf_printf(&b, "message = one too many\n");
	load_text(b.data, false, &l);
	assert_errors(&l, expect);
	loaded_free(&l);
	buf_free(&b);
}
END_TEST

START_TEST(test_line_too_long)
{
	char want[128];
	const char *expect[2] = { want, NULL };
	struct loaded l;
	struct buf b;

	buf_init(&b, 1 << 20);
	buf_printf(&b, TARGET_A "message = %050000d\nrise = 0\n", 7);
	snprintf(want, sizeof(want), "t.conf:3: line too long (%d bytes; at most %d)", 50010,
		 CONFIG_MAX_LINE - 3);
	load_text(b.data, false, &l);
	assert_errors(&l, expect);
	loaded_free(&l);
	buf_free(&b);
}
END_TEST

/* A line of CONFIG_MAX_LINE - 3 characters is read whole; one more is refused. */
START_TEST(test_line_length_limit)
{
	static const char *const expect_ok[] = {
		"t.conf:4: rise: out of range: '0'; expected a whole number from 1 to 1000", NULL,
	};
	char want[128];
	const char *expect_long[2] = { want, NULL };
	struct loaded l;
	struct buf b;

	buf_init(&b, 1 << 20);
	buf_printf(&b, TARGET_A "#%0*d\nrise = 0\n", CONFIG_MAX_LINE - 4, 0);
	load_text(b.data, false, &l);
	assert_errors(&l, expect_ok);
	loaded_free(&l);
	buf_free(&b);

	buf_init(&b, 1 << 20);
	buf_printf(&b, TARGET_A "#%0*d\nrise = 0\n", CONFIG_MAX_LINE - 3, 0);
	snprintf(want, sizeof(want), "t.conf:3: line too long (%d bytes; at most %d)",
		 CONFIG_MAX_LINE - 2, CONFIG_MAX_LINE - 3);
	load_text(b.data, false, &l);
	assert_errors(&l, expect_long);
	loaded_free(&l);
	buf_free(&b);
}
END_TEST

START_TEST(test_too_many_targets)
{
	char want[128];
	const char *expect[2] = { want, NULL };
	struct loaded l;
	struct buf b;

	buf_init(&b, 1 << 20);
	for (int k = 0; k < CONFIG_MAX_TARGETS; k++)
		buf_printf(&b, "[target \"t%d\"]\naddress = 127.0.0.1:%d\n", k, k + 1);
	load_text(b.data, false, &l);
	assert_loaded(&l);
	ck_assert_uint_eq(l.cfg->n_targets, CONFIG_MAX_TARGETS);
	ck_assert_uint_eq(l.cfg->total_connections, CONFIG_MAX_TARGETS);
	ck_assert_uint_eq(config_find_target(l.cfg, "t1023")->line, 2 * CONFIG_MAX_TARGETS - 1);
	loaded_free(&l);

	buf_printf(&b, "[target \"t%d\"]\naddress = 127.0.0.1:9\n", CONFIG_MAX_TARGETS);
	snprintf(want, sizeof(want), "t.conf:%d: too many targets (at most %d)",
		 2 * CONFIG_MAX_TARGETS + 1, CONFIG_MAX_TARGETS);
	load_text(b.data, false, &l);
	assert_errors(&l, expect);
	loaded_free(&l);
	buf_free(&b);
}
END_TEST

/* connect_timeout may equal timeout: the connect phase may use the whole budget. */
START_TEST(test_connect_timeout_equal_timeout)
{
	struct loaded l;

	load_text(TARGET_A "connect_timeout = 3s\ntimeout = 3000ms\n", false, &l);
	assert_loaded(&l);
	ck_assert_int_eq(l.cfg->targets[0]->connect_timeout, l.cfg->targets[0]->timeout);
	loaded_free(&l);
}
END_TEST

/* Issue 14: a connect_timeout the file does not give is the smaller of 2s and
 * timeout, also after `set timeout`; one the file gives stays. */
START_TEST(test_connect_timeout_follows_timeout)
{
	struct target_conf *n = NULL;
	struct loaded l;
	char err[256];

	load_text(TARGET_A "timeout = 1s\n[target \"b\"]\naddress = 127.0.0.1:8\ntimeout = 10s\n"
		  "[target \"c\"]\naddress = 127.0.0.1:9\nconnect_timeout = 500ms\n", false, &l);
	assert_loaded(&l);
	ck_assert_int_eq(l.cfg->targets[0]->connect_timeout, NSEC_PER_SEC);
	ck_assert_int_eq(l.cfg->targets[1]->connect_timeout, 2 * NSEC_PER_SEC);
	ck_assert_int_eq(l.cfg->targets[2]->connect_timeout, 500 * NSEC_PER_MSEC);
	ck_assert_int_eq(config_target_set(l.cfg->targets[1], "timeout", "300ms", &n, err, sizeof(err)), 0);
	ck_assert_int_eq(n->connect_timeout, 300 * NSEC_PER_MSEC);
	ck_assert_uint_eq(config_target_diff(l.cfg->targets[1], n), CHG_TIMEOUT | CHG_CONNECT_TIMEOUT);
	config_target_unref(n);
	n = NULL;
	ck_assert_int_eq(config_target_set(l.cfg->targets[2], "timeout", "300ms", &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "timeout: [target \"c\"]: connect_timeout (500.0ms) is longer than timeout (300.0ms); it must not be");
	ck_assert_int_eq(config_target_set(l.cfg->targets[1], "connect_timeout", "3s", &n, err, sizeof(err)), 0);
	ck_assert_int_eq(n->connect_timeout, 3 * NSEC_PER_SEC);
	config_target_unref(n);
	loaded_free(&l);
}
END_TEST

/* Issue 14: a link-local IPv6 address with a scope, by interface name or number. */
START_TEST(test_scope_id)
{
	const struct sockaddr_in6 *in6;
	struct loaded l;
	char text[64];

	load_text("[target \"a\"]\naddress = [fe80::1%lo]:20001\n"
		  "[target \"b\"]\naddress = [fe80::2%1]:7\n", false, &l);
	assert_loaded(&l);
	in6 = (const struct sockaddr_in6 *)&l.cfg->targets[0]->addr.ss;
	ck_assert_int_eq(in6->sin6_family, AF_INET6);
	ck_assert_uint_eq(in6->sin6_scope_id, if_nametoindex("lo"));
	ck_assert_uint_eq(ntohs(in6->sin6_port), 20001);
	in6 = (const struct sockaddr_in6 *)&l.cfg->targets[1]->addr.ss;
	ck_assert_uint_eq(in6->sin6_scope_id, 1);
	ck_assert_str_eq(format_address(&l.cfg->targets[1]->addr, text, sizeof(text)), "[fe80::2%1]:7");
	loaded_free(&l);
}
END_TEST

/* labels: names and values as written, white space around them dropped; a change of
 * labels is a change of the target. */
START_TEST(test_labels)
{
	struct loaded l, m;

	load_text(TARGET_A "labels = team=web, tier = edge ,x_1=a \"b\" \\c\n"
		  "[target \"b\"]\naddress = 127.0.0.1:8\nlabels =\n", false, &l);
	assert_loaded(&l);
	ck_assert_uint_eq(l.cfg->targets[0]->n_labels, 3);
	ck_assert_str_eq(l.cfg->targets[0]->labels[0].name, "team");
	ck_assert_str_eq(l.cfg->targets[0]->labels[0].value, "web");
	ck_assert_str_eq(l.cfg->targets[0]->labels[1].name, "tier");
	ck_assert_str_eq(l.cfg->targets[0]->labels[1].value, "edge");
	ck_assert_str_eq(l.cfg->targets[0]->labels[2].name, "x_1");
	ck_assert_str_eq(l.cfg->targets[0]->labels[2].value, "a \"b\" \\c");
	ck_assert_uint_eq(l.cfg->targets[1]->n_labels, 0);
	load_text(TARGET_A "labels = team=web, tier=core, x_1=a \"b\" \\c\n", false, &m);
	assert_loaded(&m);
	ck_assert_uint_eq(config_target_diff(l.cfg->targets[0], m.cfg->targets[0]), CHG_LABELS);
	ck_assert_uint_eq(config_target_diff(l.cfg->targets[1], l.cfg->targets[1]), 0);
	ck_assert_str_eq(config_change_name(CHG_LABELS), "labels");
	loaded_free(&m);
	loaded_free(&l);
}
END_TEST

START_TEST(test_total_connections_at_limit)
{
	struct loaded l;

	load_text(TARGET_A "connections = 99999\n[target \"b\"]\naddress = 127.0.0.1:8\n", false, &l);
	assert_loaded(&l);
	ck_assert_uint_eq(l.cfg->total_connections, CONFIG_MAX_TOTAL_CONNECTIONS);
	loaded_free(&l);
}
END_TEST

START_TEST(test_free_nothing)
{
	struct config_errors errs = { 0 };

	config_free(NULL);
	config_errors_clear(&errs);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_ptr_null(errs.v);
}
END_TEST

/* A directory for the files tests write, made and removed outside the tests' processes
 * so that a failing test leaves nothing behind; each test uses its own file names. */
static char tmpdir[64];

static void tmpdir_setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void tmpdir_teardown(void)
{
	nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Write len bytes to a file in tmpdir and return its path in out. */
static const char *write_file(const char *name, const void *data, size_t len, char *out, size_t n)
{
	int fd;

	snprintf(out, n, "%s/%s", tmpdir, name);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return out;
}

/* Load a file and expect one error naming it, with the given text after "PATH". */
static void assert_file_error(const char *path, int ret, const char *suffix)
{
	struct config_errors errs = { 0 };
	struct config dummy, *c = &dummy;
	char want[512], got[512];

	ck_assert_int_eq(config_load(path, false, &c, &errs), ret);
	ck_assert_ptr_eq(c, &dummy);
	ck_assert_uint_eq(errs.n, 1);
	snprintf(want, sizeof(want), "%s%s", path, suffix);
	ck_assert_str_eq(config_error_format(&errs.v[0], got, sizeof(got)), want);
	config_errors_clear(&errs);
}

/* A self-signed certificate and its key, as PEM files in tmpdir: cert_path, key_path. */
static void tls_pair_write(const char *name, char *cert_path, char *key_path, size_t n)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f;

	ck_assert_ptr_nonnull(k);
	ck_assert_ptr_nonnull(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)name, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
	snprintf(cert_path, n, "%s/%s.pem", tmpdir, name);
	snprintf(key_path, n, "%s/%s.key", tmpdir, name);
	f = fopen(cert_path, "w");
	ck_assert_ptr_nonnull(f);
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(key_path, "w");
	ck_assert_ptr_nonnull(f);
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	ck_assert_int_eq(chmod(key_path, 0600), 0);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* Load text with the TLS file names put in, expecting success or the one error. */
static void assert_tls_load(const char *text, const char *want_prefix)
{
	char dump[4096], got[1024];
	struct loaded l;

	load_text(text, false, &l);
	if (!want_prefix) {
		assert_loaded(&l);
		ck_assert_ptr_nonnull(l.cfg->targets[0]->tls_ctx);
	} else {
		ck_assert_msg(l.r == -EINVAL && l.errs.n == 1, "errors: %s",
			      errors_dump(&l.errs, dump, sizeof(dump)));
		config_error_format(&l.errs.v[0], got, sizeof(got));
		ck_assert_msg(strncmp(got, want_prefix, strlen(want_prefix)) == 0, "got %s", got);
	}
	loaded_free(&l);
}

/* The files of tls_ca, tls_cert and tls_key are read and parsed at load (mconnd -t
 * and reload): good ones load, a key of another certificate, a file that is no PEM
 * and a missing one are errors at their key's line; a relative name is taken from
 * the directory of the file that gives it; a key readable by others is noticed. */
START_TEST(test_tls_files)
{
	char ca[160], ca_key[160], other[160], other_key[160], junk[160], text[1024];
	struct config_errors errs = { 0 };
	struct config *c = NULL;

	tls_pair_write("ca", ca, ca_key, sizeof(ca));
	tls_pair_write("other", other, other_key, sizeof(other));
	write_file("junk.pem", "not PEM\n", 8, junk, sizeof(junk));
	snprintf(text, sizeof(text), TARGET_A "protocol = tls\ntls_ca = %s\ntls_cert = %s\ntls_key = %s\n",
		 ca, ca, ca_key);
	assert_tls_load(text, NULL);
	snprintf(text, sizeof(text), TARGET_A "protocol = tls\ntls_ca = %s\ntls_cert = %s\ntls_key = %s\n",
		 ca, ca, other_key);
	assert_tls_load(text, "t.conf:6: tls_key: [target \"a\"]: cannot load a PEM private key (unencrypted) from '");
	snprintf(text, sizeof(text), TARGET_A "protocol = tls\ntls_ca = %s\n", junk);
	assert_tls_load(text, "t.conf:4: tls_ca: [target \"a\"]: cannot load CA certificates from '");
	snprintf(text, sizeof(text), TARGET_A "protocol = tls\ntls_cert = %s\ntls_key = %s\n", junk, ca_key);
	assert_tls_load(text, "t.conf:4: tls_cert: [target \"a\"]: cannot load a PEM certificate from '");
	snprintf(text, sizeof(text), TARGET_A "protocol = tls\ntls_cert = %s\ntls_key = %s\n", ca, junk);
	assert_tls_load(text, "t.conf:5: tls_key: [target \"a\"]: cannot load a PEM private key (unencrypted) from '");
	/* Relative: from the directory of the file. */
	snprintf(text, sizeof(text), TARGET_A "protocol = tls\ntls_ca = ca.pem\ntls_cert = other.pem\ntls_key = other.key\n");
	write_file("tls.conf", text, strlen(text), junk, sizeof(junk));
	ck_assert_int_eq(config_load(junk, false, &c, &errs), 0);
	ck_assert_str_eq(c->targets[0]->tls_ca, ca);
	ck_assert_str_eq(c->targets[0]->tls_key, other_key);
	config_free(c);
	ck_assert(!tls_key_is_shared(ca_key));
	ck_assert_int_eq(chmod(ca_key, 0640), 0);
	ck_assert(tls_key_is_shared(ca_key));
}
END_TEST

START_TEST(test_file_missing)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	assert_file_error(path, -ENOENT, ": cannot read: No such file or directory");
}
END_TEST

START_TEST(test_file_is_directory)
{
	assert_file_error(tmpdir, -EISDIR, ": cannot read: Is a directory");
}
END_TEST

START_TEST(test_file_too_large)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/big.conf", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, CONFIG_MAX_FILE_BYTES + 1), 0);
	close(fd);
	assert_file_error(path, -EFBIG, ": file too large (at most 4194304 bytes)");
}
END_TEST

/* A file of exactly CONFIG_MAX_FILE_BYTES is read whole, up to its last line. */
START_TEST(test_file_at_size_limit)
{
	static const char tail[] = "[target \"last\"]\naddress = 127.0.0.1:9\n";
	struct config_errors errs = { 0 };
	struct config *c = NULL;
	char path[128], *text = malloc(CONFIG_MAX_FILE_BYTES);
	size_t o = 0;

	ck_assert_ptr_nonnull(text);
	memcpy(text, TARGET_A, strlen(TARGET_A));
	o = strlen(TARGET_A);
	while (o < CONFIG_MAX_FILE_BYTES - (sizeof(tail) - 1)) {
		size_t line = MIN(1000, CONFIG_MAX_FILE_BYTES - (sizeof(tail) - 1) - o);

		memset(text + o, '#', line);
		text[o + line - 1] = '\n';
		o += line;
	}
	memcpy(text + o, tail, sizeof(tail) - 1);
	write_file("full.conf", text, CONFIG_MAX_FILE_BYTES, path, sizeof(path));
	ck_assert_int_eq(config_load(path, false, &c, &errs), 0);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_uint_eq(c->n_targets, 2);
	ck_assert_ptr_nonnull(config_find_target(c, "last"));
	config_free(c);
	free(text);
}
END_TEST

START_TEST(test_file_errors_name_the_file)
{
	static const char text[] = "[target \"a\"]\nrise = 0\n";
	struct config_errors errs = { 0 };
	struct config *c = NULL;
	char path[128], want[512], got[512];

	write_file("bad.conf", text, sizeof(text) - 1, path, sizeof(path));
	ck_assert_int_eq(config_load(path, false, &c, &errs), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(errs.n, 2);
	snprintf(want, sizeof(want), "%s:1: address: [target \"a\"] has no address; it is required", path);
	ck_assert_str_eq(config_error_format(&errs.v[0], got, sizeof(got)), want);
	snprintf(want, sizeof(want), "%s:2: rise: out of range: '0'; expected a whole number from 1 to 1000",
		 path);
	ck_assert_str_eq(config_error_format(&errs.v[1], got, sizeof(got)), want);
	config_errors_clear(&errs);
}
END_TEST

/* A NUL byte must be refused, not end the file early and drop what follows it. */
START_TEST(test_file_with_nul_byte)
{
	static const char text[] = TARGET_A "\0[target \"b\"]\naddress = 127.0.0.1:8\n";
	struct config_errors errs = { 0 };
	struct config *c = NULL;
	char path[128], want[512], got[512];
	int r;

	write_file("nul.conf", text, sizeof(text) - 1, path, sizeof(path));
	r = config_load(path, false, &c, &errs);
	ck_assert_msg(r == -EINVAL, "a file with a NUL byte loaded with %zu targets",
		      c ? c->n_targets : 0);
	ck_assert_uint_eq(errs.n, 1);
	snprintf(want, sizeof(want), "%s:3: NUL byte in the file", path);
	ck_assert_str_eq(config_error_format(&errs.v[0], got, sizeof(got)), want);
	config_errors_clear(&errs);
}
END_TEST

/* The example shipped in conf/ is valid; the tests run from the repository's root. */
START_TEST(test_shipped_example)
{
	struct config_errors errs = { 0 };
	struct config *c = NULL;
	const struct target_conf *t;
	char dump[8192];

	ck_assert_msg(config_load("conf/mconnd.conf", true, &c, &errs) == 0, "errors: %s",
		      errors_dump(&errs, dump, sizeof(dump)));
	ck_assert_str_eq(c->control_socket, "/run/mconnd.sock");
	ck_assert_int_eq(c->log_level, 6);
	ck_assert_uint_eq(c->n_targets, 1);
	t = config_find_target(c, "local-echo");
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->address_text, "127.0.0.1:65432");
	ck_assert_uint_eq(t->connections, 4);
	ck_assert_uint_eq(t->n_messages, 2);
	assert_message(t, 0, "Message 1 from client.", 22);
	assert_message(t, 1, "Message 2 from client.", 22);
	ck_assert_int_eq(t->mode, MODE_CYCLE);
	ck_assert_int_eq(t->close, CLOSE_FIN);
	ck_assert(!t->has_source);
	config_free(c);
}
END_TEST

/* Make a directory under tmpdir. */
static void make_dir(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

#define WRITE_STR(name, text, out) write_file((name), (text), strlen(text), (out), sizeof(out))

/* Drop-ins come after the main file's targets, in sorted order, each target naming
 * its own file; files the pattern does not match are left alone. */
START_TEST(test_dropins_sorted)
{
	struct config_errors errs = { 0 };
	struct config *c = NULL;
	char main_path[128], a[128], b[128], other[128];

	make_dir("inc");
	WRITE_STR("inc/20-b.conf", "[target \"b\"]\naddress = 127.0.0.1:2\n", b);
	WRITE_STR("inc/10-a.conf", "# first\n[target \"a\"]\naddress = 127.0.0.1:1\n", a);
	WRITE_STR("inc/zz.txt", "not a config\n", other);
	WRITE_STR("inc-main.conf", "[daemon]\ninclude = inc/*.conf\n[target \"m\"]\naddress = 127.0.0.1:3\n",
		  main_path);
	ck_assert_int_eq(config_load(main_path, false, &c, &errs), 0);
	ck_assert_uint_eq(c->n_targets, 3);
	ck_assert_str_eq(c->targets[0]->name, "m");
	ck_assert_str_eq(c->targets[0]->file, main_path);
	ck_assert_str_eq(c->targets[1]->name, "a");
	ck_assert_str_eq(c->targets[1]->file, a);
	ck_assert_uint_eq(c->targets[1]->line, 2);
	ck_assert_str_eq(c->targets[2]->name, "b");
	ck_assert_str_eq(c->targets[2]->file, b);
	config_free(c);
}
END_TEST

/* Without an include key, conf.d/NAME.conf next to the main file is read; an empty
 * include reads none. */
START_TEST(test_dropins_default_and_off)
{
	struct config_errors errs = { 0 };
	struct config *c = NULL;
	char main_path[128], off_path[128], d[128];

	make_dir("def");
	make_dir("def/conf.d");
	WRITE_STR("def/conf.d/x.conf", "[target \"x\"]\naddress = 127.0.0.1:1\n", d);
	WRITE_STR("def/mconnd.conf", "[target \"m\"]\naddress = 127.0.0.1:3\n", main_path);
	WRITE_STR("def/off.conf", "[daemon]\ninclude =\n[target \"m\"]\naddress = 127.0.0.1:3\n",
		  off_path);
	ck_assert_int_eq(config_load(main_path, false, &c, &errs), 0);
	ck_assert_uint_eq(c->n_targets, 2);
	ck_assert_str_eq(c->targets[1]->file, d);
	config_free(c);
	ck_assert_int_eq(config_load(off_path, false, &c, &errs), 0);
	ck_assert_uint_eq(c->n_targets, 1);
	config_free(c);
}
END_TEST

/* Load path and expect exactly one error, formatted as want. */
static void assert_one_error(const char *path, const char *want)
{
	struct config_errors errs = { 0 };
	struct config dummy, *c = &dummy;
	char got[1024], dump[4096];

	ck_assert_int_eq(config_load(path, true, &c, &errs), -EINVAL);
	ck_assert_ptr_eq(c, &dummy);
	ck_assert_msg(errs.n == 1, "%zu errors: %s", errs.n, errors_dump(&errs, dump, sizeof(dump)));
	ck_assert_str_eq(config_error_format(&errs.v[0], got, sizeof(got)), want);
	config_errors_clear(&errs);
}

/* A target defined twice is an error naming both places; a drop-in may not have a
 * [daemon] section; errors in a drop-in name the drop-in. */
START_TEST(test_dropin_errors)
{
	char main_path[128], twice[128], daemon[128], bad[128], want[512];

	make_dir("e1");
	WRITE_STR("e1/main.conf", "[daemon]\ninclude = d/*.conf\n[target \"m\"]\naddress = 127.0.0.1:3\n",
		  main_path);
	make_dir("e1/d");
	WRITE_STR("e1/d/a.conf", "\n[target \"m\"]\naddress = 127.0.0.1:4\n", twice);
	snprintf(want, sizeof(want), "%s:2: target \"m\" is defined twice; first at %s:3", twice,
		 main_path);
	assert_one_error(main_path, want);
	ck_assert_int_eq(unlink(twice), 0);

	WRITE_STR("e1/d/b.conf", "[daemon]\nlog_level = debug\n", daemon);
	snprintf(want, sizeof(want),
		 "%s:1: [daemon] belongs in the main file %s; a drop-in holds [target \"NAME\"] sections only",
		 daemon, main_path);
	assert_one_error(main_path, want);
	ck_assert_int_eq(unlink(daemon), 0);

	WRITE_STR("e1/d/c.conf", "[target \"c\"]\naddress = 127.0.0.1:4\nrise = 0\nAddress = x\n", bad);
	snprintf(want, sizeof(want), "%s:3: rise: out of range: '0'; expected a whole number from 1 to 1000",
		 bad);
	{
		struct config_errors errs = { 0 };
		struct config *c = NULL;
		char got[512];

		ck_assert_int_eq(config_load(main_path, false, &c, &errs), -EINVAL);
		ck_assert_uint_eq(errs.n, 2);
		ck_assert_str_eq(config_error_format(&errs.v[0], got, sizeof(got)), want);
		snprintf(want, sizeof(want), "%s:4: Address: unknown key (keys are lower case: 'address')", bad);
		ck_assert_str_eq(config_error_format(&errs.v[1], got, sizeof(got)), want);
		config_errors_clear(&errs);
	}
	ck_assert_int_eq(unlink(bad), 0);

	/* A pattern that names a directory. */
	make_dir("e2");
	make_dir("e2/conf.d");
	WRITE_STR("e2/main.conf", "[daemon]\ninclude = conf.d\n", main_path);
	snprintf(want, sizeof(want),
		 "%s:2: include: '%s/e2/conf.d' is a directory; name its files with a pattern such as %s/e2/conf.d/*.conf",
		 main_path, tmpdir, tmpdir);
	assert_one_error(main_path, want);
	/* Issue 14: written with a slash at the end, the suggestion has no "//". */
	WRITE_STR("e2/main.conf", "[daemon]\ninclude = conf.d/\n", main_path);
	snprintf(want, sizeof(want),
		 "%s:2: include: '%s/e2/conf.d/' is a directory; name its files with a pattern such as %s/e2/conf.d/*.conf",
		 main_path, tmpdir, tmpdir);
	assert_one_error(main_path, want);
	/* Issue 14: a drop-in redefining a target has its other errors reported too. */
	WRITE_STR("e1/d/a.conf", "\n[target \"m\"]\naddress = 127.0.0.1:4\ninterval = 10 s\n", twice);
	{
		struct config_errors errs = { 0 };
		struct config *c = NULL;
		char got[512];

		WRITE_STR("e1/main.conf", "[daemon]\ninclude = d/*.conf\n[target \"m\"]\naddress = 127.0.0.1:3\n",
			  main_path);
		ck_assert_int_eq(config_load(main_path, false, &c, &errs), -EINVAL);
		ck_assert_uint_eq(errs.n, 2);
		snprintf(want, sizeof(want), "%s:2: target \"m\" is defined twice; first at %s:3", twice,
			 main_path);
		ck_assert_str_eq(config_error_format(&errs.v[0], got, sizeof(got)), want);
		snprintf(want, sizeof(want), "%s:4: interval: invalid duration '10 s'; " DURATION_EXPECT
			 ", from 0 to 1h", twice);
		ck_assert_str_eq(config_error_format(&errs.v[1], got, sizeof(got)), want);
		config_errors_clear(&errs);
	}
}
END_TEST

START_TEST(test_control_access_keys)
{
	struct loaded l;

	load_text("[daemon]\ncontrol_mode = 0640\nadmin_group = 4242\ncontrol_group = 0\n" TARGET_A,
		  false, &l);
	assert_loaded(&l);
	ck_assert_uint_eq(l.cfg->control_mode, 0640);
	ck_assert_uint_eq(l.cfg->admin_gid, 4242);
	ck_assert_uint_eq(l.cfg->control_gid, 0);
	loaded_free(&l);

	load_text("[daemon]\nadmin_group = root\n" TARGET_A, true, &l);
	assert_loaded(&l);
	ck_assert_uint_eq(l.cfg->admin_gid, 0);
	loaded_free(&l);

	load_text(TARGET_A, false, &l);
	assert_loaded(&l);
	ck_assert_uint_eq(l.cfg->control_mode, 0660);
	ck_assert_uint_eq(l.cfg->admin_gid, CONFIG_NO_GID);
	loaded_free(&l);

	load_text("[daemon]\nadmin_group = no_such_group_here\ncontrol_mode = 0999\n"
		  "control_group = -x\n" TARGET_A, true, &l);
	assert_errors(&l, (const char *const[]){
		FILE_NAME ":2: admin_group: no such group 'no_such_group_here'",
		FILE_NAME ":3: control_mode: invalid mode '0999'; expected an octal file mode from 0 to 0777, such as 0660",
		FILE_NAME ":4: control_group: invalid group '-x'; expected a group name or number", NULL });
	loaded_free(&l);
}
END_TEST

/* set: a copy with one key changed, checked as the file checks it. */
START_TEST(test_target_set)
{
	struct target_conf *n = NULL;
	struct loaded l;
	char err[256];

	load_text(TARGET_A, false, &l);
	assert_loaded(&l);
	ck_assert_int_eq(config_target_set(l.cfg->targets[0], "interval", "250ms", &n, err, sizeof(err)), 0);
	ck_assert_int_eq(n->interval, 250 * NSEC_PER_MSEC);
	ck_assert_uint_eq(config_target_diff(l.cfg->targets[0], n), CHG_INTERVAL);
	ck_assert_int_eq(l.cfg->targets[0]->interval, NSEC_PER_SEC);
	config_target_unref(n);

	n = NULL;
	ck_assert_int_eq(config_target_set(l.cfg->targets[0], "connections", "0", &n, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(n);
	ck_assert_str_eq(err, "connections: out of range: '0'; expected a whole number from 1 to 100000");
	ck_assert_int_eq(config_target_set(l.cfg->targets[0], "connect_timeout", "6s", &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "connect_timeout: [target \"a\"]: connect_timeout (6.00s) is longer than timeout (5.00s); it must not be");
	ck_assert_int_eq(config_target_set(l.cfg->targets[0], "address", "127.0.0.1:2", &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "address: cannot be set at run time; settable: connections, interval, connect_timeout, timeout, rise, fall, down_quorum, degraded_ratio, flap_threshold, flap_window, interval_down, interval_changing");
	ck_assert_int_eq(config_target_set(l.cfg->targets[0], "Interval", "1", &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "Interval: no such key; settable: connections, interval, connect_timeout, timeout, rise, fall, down_quorum, degraded_ratio, flap_threshold, flap_window, interval_down, interval_changing");
	ck_assert_ptr_null(n);
	/* The health model's keys, checked as the file checks them. */
	ck_assert_int_eq(config_target_set(l.cfg->targets[0], "down_quorum", "2", &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n->down_quorum, 2);
	ck_assert_uint_eq(config_target_diff(l.cfg->targets[0], n), CHG_DOWN_QUORUM);
	config_target_unref(n);
	n = NULL;
	ck_assert_int_eq(config_target_set(l.cfg->targets[0], "degraded_ratio", "25%", &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(config_target_diff(l.cfg->targets[0], n), CHG_DEGRADED_RATIO);
	config_target_unref(n);
	n = NULL;
	ck_assert_int_eq(config_target_set(l.cfg->targets[0], "interval_changing", "100ms", &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(config_target_diff(l.cfg->targets[0], n), CHG_INTERVAL_CHANGING);
	config_target_unref(n);
	n = NULL;
	ck_assert_int_eq(config_target_set(l.cfg->targets[0], "flap_window", "0s", &n, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(n);
	ck_assert_int_eq(config_target_set(l.cfg->targets[0], "degraded_ratio", "101%", &n, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(n);
	ck_assert_ptr_null(n);
	loaded_free(&l);
}
END_TEST

/* Load base with extra added and assert that it differs from t in bits exactly. */
static void assert_diff(const struct target_conf *t, const char *base, const char *extra,
			unsigned bits)
{
	char text[512], names[256];
	struct loaded b;

	snprintf(text, sizeof(text), "%s%s", base, extra);
	load_text(text, false, &b);
	assert_loaded(&b);
	ck_assert_msg(config_target_diff(t, b.cfg->targets[0]) == bits, "%s: got %s", extra,
		      config_changes_format(config_target_diff(t, b.cfg->targets[0]), names,
					    sizeof(names)));
	loaded_free(&b);
}

/* Every tls_* key is a change that restarts the target; a copy made by set shares
 * the TLS context (one more reference, dropped with it). */
START_TEST(test_tls_diff_and_set)
{
	static const char base[] = TARGET_A "protocol = tls\n";
	static const struct { const char *extra; unsigned bits; } cases[] = {
		{ "", 0 },
		{ "tls_verify = yes\ntls_min_version = 1.2\ntls_resume = no\n", 0 },
		{ "tls_verify = no\n", CHG_TLS_VERIFY },
		{ "tls_server_name = none\n", CHG_TLS_SERVER_NAME },
		{ "tls_min_version = 1.3\n", CHG_TLS_MIN_VERSION },
		{ "tls_resume = yes\n", CHG_TLS_RESUME },
		{ "tls_ca = /etc/ssl/certs\n", CHG_TLS_CA },
	};
	struct target_conf *n = NULL;
	struct loaded a;
	char names[128], err[256];

	load_text(base, false, &a);
	assert_loaded(&a);
	ck_assert_ptr_nonnull(a.cfg->targets[0]->tls_ctx);
	ck_assert_int_eq(a.cfg->targets[0]->tls_verify, 1);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		assert_diff(a.cfg->targets[0], base, cases[i].extra, cases[i].bits);
	ck_assert_uint_eq(CHG_TLS & CHG_RESTART, CHG_TLS);
	ck_assert_str_eq(config_changes_format(CHG_TLS, names, sizeof(names)),
			 "tls_server_name, tls_verify, tls_ca, tls_cert, tls_key, tls_min_version, tls_resume");
	ck_assert_int_eq(config_target_set(a.cfg->targets[0], "interval", "2s", &n, err, sizeof(err)), 0);
	ck_assert_ptr_eq(n->tls_ctx, a.cfg->targets[0]->tls_ctx);
	loaded_free(&a);
	config_target_unref(n);
	/* Other protocols build no context. */
	load_text(TARGET_A, false, &a);
	assert_loaded(&a);
	ck_assert_ptr_null(a.cfg->targets[0]->tls_ctx);
	loaded_free(&a);
}
END_TEST

/* diff names each key whose value differs, and nothing for the same values. */
START_TEST(test_target_diff)
{
	static const char base[] = "[target \"a\"]\naddress = 127.0.0.1:9\n";
	static const struct { const char *extra; unsigned bits; } cases[] = {
		{ "", 0 },
		{ "connections = 2\n", CHG_CONNECTIONS },
		{ "message = x\n", CHG_MESSAGES },
		{ "interval = 2s\ntimeout = 9s\n", CHG_INTERVAL | CHG_TIMEOUT },
		{ "mode = persistent\n", CHG_MODE },
		{ "close = rst\n", CHG_CLOSE },
		{ "timestamps = loop\n", CHG_TIMESTAMPS },
		{ "timestamps = kernel\n", 0 },
		{ "source = 127.0.0.2\n", CHG_SOURCE },
		{ "rise = 5\nfall = 5\nbackoff_max = 1s\n", CHG_RISE | CHG_FALL | CHG_BACKOFF_MAX },
		{ "connect_timeout = 1s\n", CHG_CONNECT_TIMEOUT },
		{ "down_quorum = 1\ndegraded_ratio = 20\n", CHG_DOWN_QUORUM | CHG_DEGRADED_RATIO },
		{ "down_quorum = all\ndegraded_ratio = 10%\n", 0 },
		{ "flap_threshold = 0\nflap_window = 1m\n", CHG_FLAP_THRESHOLD | CHG_FLAP_WINDOW },
		{ "interval_down = 1s\n", CHG_INTERVAL_DOWN },
		{ "interval_changing = 1s\n", CHG_INTERVAL_CHANGING },
	};
	struct loaded a, b;

	load_text(base, false, &a);
	assert_loaded(&a);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		assert_diff(a.cfg->targets[0], base, cases[i].extra, cases[i].bits);
	load_text("[target \"a\"]\naddress = 127.0.0.1:8\n", false, &b);
	ck_assert_uint_eq(config_target_diff(a.cfg->targets[0], b.cfg->targets[0]), CHG_ADDRESS);
	ck_assert(CHG_ADDRESS & CHG_RESTART);
	loaded_free(&b);
	loaded_free(&a);
}
END_TEST

/* Without resolve, a name is kept for the resolver: the load succeeds with the
 * address unresolved and config_lookups() asks for it with the port, the family and
 * the deadline; an answer fills it in, a failure is an error naming target and name. */
START_TEST(test_names_left_for_lookups)
{
	struct resolve_answer ok = { 0 }, late = { .err = -ETIMEDOUT, .msg = "no answer in time" };
	struct config_errors errs = { 0 };
	struct config_lookup *v;
	struct loaded l;
	char got[512];

	load_text("[daemon]\nadmin_group = wheel\nresolve_timeout = 2s\n"
		  "[target \"a\"]\naddress = svc.example:7\nfamily = ipv6\n"
		  "[target \"b\"]\naddress = 127.0.0.1:7\n", false, &l);
	assert_loaded(&l);
	ck_assert_int_eq(l.cfg->resolve_timeout, 2 * NSEC_PER_SEC);
	ck_assert_uint_eq(l.cfg->targets[0]->addr.len, 0);
	ck_assert_str_eq(l.cfg->targets[0]->host, "svc.example");
	ck_assert_uint_eq(l.cfg->admin_gid, CONFIG_NO_GID);
	ck_assert_uint_eq(config_lookups(l.cfg, 42, &v), 2);
	ck_assert_int_eq(v[0].q.kind, RESOLVE_GROUP);
	ck_assert_str_eq(v[0].q.name, "wheel");
	ck_assert_int_eq(v[1].q.kind, RESOLVE_ADDRESS);
	ck_assert_str_eq(v[1].q.name, "svc.example");
	ck_assert_uint_eq(v[1].q.port, 7);
	ck_assert_int_eq(v[1].q.family, AFAM_IPV6);
	ck_assert_int_eq(v[1].q.deadline, 42);
	ok.gid = 10;
	ck_assert_int_eq(config_lookup_apply(l.cfg, &v[0], &ok, &errs), 0);
	ck_assert_uint_eq(l.cfg->admin_gid, 10);
	ck_assert_int_eq(config_lookup_apply(l.cfg, &v[1], &late, &errs), -ETIMEDOUT);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(config_error_format(&errs.v[0], got, sizeof(got)),
			 FILE_NAME ":5: address: [target \"a\"]: cannot resolve 'svc.example' to an address "
			 "of family ipv6: no answer within 2s (resolve_timeout)");
	ck_assert(parse_address("[::1]:7", false, &ok.addr) == 0);
	ok.err = 0;
	ck_assert_int_eq(config_lookup_apply(l.cfg, &v[1], &ok, &errs), 0);
	ck_assert(memcmp(&l.cfg->targets[0]->addr, &ok.addr, sizeof(ok.addr)) == 0);
	free(v);
	config_errors_clear(&errs);
	loaded_free(&l);
}
END_TEST

/* The new keys' ranges and checks, each error naming the accepted values. */
START_TEST(test_resolve_keys)
{
	struct loaded l;

	load_text("[daemon]\nresolve_timeout = 50ms\n" TARGET_A "family = ipv5\nresolve_every = 500ms\n"
		  "[target \"b\"]\naddress = [::1]:7\nfamily = ipv4\n", false, &l);
	assert_errors(&l, (const char *const[]){
		FILE_NAME ":2: resolve_timeout: out of range: '50ms'; expected from 100ms to 1m",
		FILE_NAME ":5: family: invalid value 'ipv5'; expected any, ipv4 or ipv6",
		FILE_NAME ":6: resolve_every: [target \"a\"]: out of range; expected 0 (never) or from 1s to 24h",
		FILE_NAME ":9: family: [target \"b\"]: [::1]:7 is not an IPv4 address", NULL });
	loaded_free(&l);
	load_text(TARGET_A "resolve_every = 0\nfamily = ipv4\n", false, &l);
	assert_loaded(&l);
	loaded_free(&l);
}
END_TEST

/* A name that resolves to the address in use is no change of address. */
START_TEST(test_diff_compares_resolved_addresses)
{
	struct loaded a, b;

	load_text("[target \"a\"]\naddress = 127.0.0.1:9\n", false, &a);
	load_text("[target \"a\"]\naddress = one.example:9\nresolve_every = 1m\n", false, &b);
	assert_loaded(&a);
	assert_loaded(&b);
	b.cfg->targets[0]->addr = a.cfg->targets[0]->addr;
	ck_assert_uint_eq(config_target_diff(a.cfg->targets[0], b.cfg->targets[0]), CHG_RESOLVE_EVERY);
	loaded_free(&a);
	loaded_free(&b);
}
END_TEST

/* A checker keeps the targets of its shard, in file order, and counts the rest. */
START_TEST(test_shard_split)
{
	char text[8192];
	size_t o, seen[4] = { 0 }, all = 0;
	struct loaded l;

	for (unsigned k = 1; k <= 4; k++) {
		o = (size_t)snprintf(text, sizeof(text), "[daemon]\nshard = %u/4\nreplicas = 2\n", k);
		for (int i = 0; i < 40; i++)
			o += (size_t)snprintf(text + o, sizeof(text) - o,
					      "[target \"t%d\"]\naddress = 127.0.0.1:7\n%s", i,
					      i == 0 ? "shards = all\n" : i == 1 ? "shards = 4\n" : "");
		load_text(text, false, &l);
		assert_loaded(&l);
		ck_assert_uint_eq(l.cfg->shard_k, k);
		ck_assert_uint_eq(l.cfg->shard_n, 4);
		ck_assert_uint_eq(l.cfg->replicas, 2);
		ck_assert_uint_eq(l.cfg->n_targets + l.cfg->n_skipped, 40);
		ck_assert_uint_eq(l.cfg->total_connections, l.cfg->n_targets);
		ck_assert_str_eq(l.cfg->targets[0]->name, "t0");
		ck_assert(config_find_target(l.cfg, "t1") ? k == 4 : k != 4);
		for (size_t i = 0; i < l.cfg->n_targets; i++)
			ck_assert(l.cfg->targets[i]->shard_owners & SHARD_BIT(k));
		for (size_t i = 0; i < l.cfg->n_skipped; i++)
			ck_assert(!(l.cfg->skipped[i]->shard_owners & SHARD_BIT(k)));
		seen[k - 1] = l.cfg->n_targets;
		all += l.cfg->n_targets;
		loaded_free(&l);
	}
	/* 38 hashed targets twice, one on all four, one on shard 4 only. */
	ck_assert_uint_eq(all, 38 * 2 + 4 + 1);
	for (int k = 0; k < 4; k++)
		ck_assert_uint_gt(seen[k], 10);
	load_text(TARGET_A, false, &l);
	assert_loaded(&l);
	ck_assert(!l.cfg->shard_set && l.cfg->shard_k == 1 && l.cfg->shard_n == 1 &&
		  l.cfg->replicas == 1 && l.cfg->n_targets == 1 && l.cfg->n_skipped == 0);
	loaded_free(&l);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_error_messages, 0, ELEMENTSOF(error_cases));
	tcase_add_loop_test(tc, test_bad_address_reported_once, 0, ELEMENTSOF(bad_addresses));
	tcase_add_test(tc, test_errors_append);
	tcase_add_test(tc, test_every_syntax_error_reported);
	tcase_add_test(tc, test_error_limit);
	tcase_add_test(tc, test_duplicate_daemon_key);
	tcase_add_test(tc, test_byte_order_mark);
	tcase_add_test(tc, test_long_section_line);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_loop_test(tc, test_log_level, 0, ELEMENTSOF(level_cases));
	tcase_add_loop_test(tc, test_log_target, 0, ELEMENTSOF(log_target_cases));
	tcase_add_test(tc, test_log_target_bad);
	tcase_add_test(tc, test_enum_names);
	tcase_add_test(tc, test_resolve_names);
	tcase_add_test(tc, test_connect_timeout_equal_timeout);
	tcase_add_test(tc, test_connect_timeout_follows_timeout);
	tcase_add_test(tc, test_scope_id);
	tcase_add_test(tc, test_labels);
	tcase_add_test(tc, test_total_connections_at_limit);
	tcase_add_test(tc, test_free_nothing);
	tcase_add_test(tc, test_control_access_keys);
	tcase_add_test(tc, test_target_set);
	tcase_add_test(tc, test_target_diff);
	tcase_add_test(tc, test_tls_diff_and_set);
	tcase_add_test(tc, test_names_left_for_lookups);
	tcase_add_test(tc, test_resolve_keys);
	tcase_add_test(tc, test_diff_compares_resolved_addresses);
	tcase_add_test(tc, test_shard_split);
	suite_add_tcase(s, tc);

	tc = tcase_create("messages_and_lines");
	tcase_add_test(tc, test_messages_replace_defaults_in_order);
	tcase_add_test(tc, test_echo_no_sends_nothing);
	tcase_add_test(tc, test_messages_escapes);
	tcase_add_test(tc, test_messages_inline_semicolon);
	tcase_add_test(tc, test_no_continuation_lines);
	tcase_add_test(tc, test_crlf_values);
	tcase_add_test(tc, test_longest_message);
	tcase_add_test(tc, test_message_too_long);
	tcase_add_test(tc, test_too_many_messages);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_line_length_limit);
	tcase_add_test(tc, test_too_many_targets);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_unchecked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_test(tc, test_file_missing);
	tcase_add_test(tc, test_tls_files);
	tcase_add_test(tc, test_file_is_directory);
	tcase_add_test(tc, test_file_too_large);
	tcase_add_test(tc, test_file_at_size_limit);
	tcase_add_test(tc, test_file_errors_name_the_file);
	tcase_add_test(tc, test_file_with_nul_byte);
	tcase_add_test(tc, test_shipped_example);
	tcase_add_test(tc, test_dropins_sorted);
	tcase_add_test(tc, test_dropins_default_and_off);
	tcase_add_test(tc, test_dropin_errors);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(config_suite)
