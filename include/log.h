/* Logging with syslog priorities: to the journal with structured fields, to stderr
 * as lines with the time and the priority, or to syslog (log_target). */
#ifndef MCONN_LOG_H
#define MCONN_LOG_H

#include <stdbool.h>
#include <syslog.h>

struct target_conf;

/* Where messages go (log_target, --log-target). */
enum log_sink {
	LOG_SINK_AUTO, /* the journal when JOURNAL_STREAM names our stderr, else stderr */
	LOG_SINK_JOURNAL,
	LOG_SINK_STDERR,
	LOG_SINK_SYSLOG,
	_LOG_SINK_MAX,
};

/* The names of enum log_sink, in its order, then NULL. */
extern const char *const log_sink_names[];

/* Return the name of a sink ("?" when out of range). */
const char *log_sink_name(enum log_sink s);

/* Choose the sink (AUTO decides now) and the most verbose priority shown. */
void log_open(int max_priority, enum log_sink sink);

/* Return true when messages of priority prio are shown, to skip building them. */
bool log_enabled(int prio);

/* Log a plain message. */
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Log about a target, with TARGET=, ADDRESS= and, when not NULL, STATE=,
 * ERROR_CLASS= and MESSAGE_ID= fields in the journal. */
void log_target(int prio, const struct target_conf *t, const char *state,
		const char *error_class, const char *message_id, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* As log_target(), with more journal fields: "NAME=value" lines in fields. */
void log_target_fields(int prio, const struct target_conf *t, const char *state,
		       const char *error_class, const char *message_id, const char *fields,
		       const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Log and exit 1: only at startup or on a broken invariant. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* The journal MESSAGE_ID of health changes. */
#define MCONN_MESSAGE_HEALTH "2f6a5e5b9c1d4b7e8a0f3c2d1e4b5a69"

#endif
