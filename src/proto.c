/* Framing of the control protocol, linked into both the daemon and the CLI. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

const char *const proto_result_names[PROTO_N_RESULTS] = {
	"ok", "refused", "connect_timeout", "timeout", "reset", "eof", "mismatch", "unreachable",
	"resource", "loss", "tls",
};

int proto_split_words(char *line, char **argv, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		p += strspn(p, " \t\r");
		if (*p == '\0')
			return n;
		if (n == max)
			return -E2BIG;
		argv[n++] = p;
		p += strcspn(p, " \t\r");
		if (*p == '\0')
			return n;
		*p++ = '\0';
	}
}

size_t proto_reply_length(const char *data, size_t len)
{
	for (size_t i = 1; i < len; i++)
		if (data[i] == '\n' && data[i - 1] == '\n')
			return i + 1;
	return 0;
}

const char *proto_resource_kind(int err)
{
	switch (err) {
	case EMFILE: return "nofile";
	case ENFILE: return "nfile";
	case EADDRNOTAVAIL:
	case EADDRINUSE: return "ports";
	case ENOMEM:
	case ENOBUFS: return "memory";
	default: return "other";
	}
}

char *proto_resource_text(const char *kind, long long nofile, char *out, size_t n)
{
	if (strcmp(kind, "nofile") == 0 && nofile > 0)
		snprintf(out, n, "open files limit %lld", nofile);
	else if (strcmp(kind, "nofile") == 0)
		snprintf(out, n, "open files limit");
	else if (strcmp(kind, "nfile") == 0)
		snprintf(out, n, "the system's open files limit");
	else if (strcmp(kind, "ports") == 0)
		snprintf(out, n, "no local port free");
	else if (strcmp(kind, "memory") == 0)
		snprintf(out, n, "out of memory");
	else
		snprintf(out, n, "out of local resources");
	return out;
}
