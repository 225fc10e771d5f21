/* The control protocol, shared by mconnd and mconnctl: one request line in; a reply
 * whose first line is "OK" or "ERR <reason>", ending with an empty line. */
#ifndef MCONN_PROTO_H
#define MCONN_PROTO_H

#include <stddef.h>
#include <sys/types.h>

#define MCONN_VERSION "0.1.0"
#define CTL_DEFAULT_SOCKET "/run/mconnd.sock"
#define CTL_MAX_LINE 4096
#define CTL_MAX_ARGS 16
/* The longest reply: `sessions -j` of the largest target (100,000 sessions, up to
 * about 180 bytes each with TCP_INFO's figures) fits with room to spare. */
#define CTL_MAX_REPLY (32u << 20)
/* The longest the daemon may take to answer a request whose reply it defers (a
 * reload waiting for names, at most resolve_timeout, 60 s): past it, it answers ERR. */
#define CTL_DEFER_MAX_S 90

/* The results of a cycle as status, stats, metrics and logs name them: "ok", then
 * the failure classes in the order of enum session_error. */
#define PROTO_N_RESULTS 11
extern const char *const proto_result_names[PROTO_N_RESULTS];

/* Return the word for what a session was starved of, from the errno of its last
 * try: "nofile", "nfile", "ports", "memory" or "other" (status, stats, check). */
const char *proto_resource_kind(int err);

/* Say in words what a kind from proto_resource_kind() means, with the open files
 * limit for "nofile" ("open files limit 150"), into out. */
char *proto_resource_text(const char *kind, long long nofile, char *out, size_t n);

/* Split a request line in place into at most max words; returns the count or -E2BIG. */
int proto_split_words(char *line, char **argv, int max);

/* Return the length of the first complete reply in data (through its empty line), or 0. */
size_t proto_reply_length(const char *data, size_t len);

#endif
