/* Framing of the control protocol, linked into both the daemon and the CLI. */
#include <errno.h>
#include <string.h>

#include "proto.h"

const char *const proto_result_names[PROTO_N_RESULTS] = {
	"ok", "refused", "connect_timeout", "timeout", "reset", "eof", "mismatch", "unreachable",
	"resource",
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
