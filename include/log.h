/* Logging with syslog priorities: to the journal with structured fields when stderr
 * is connected to it, else as lines on stderr. */
#ifndef MCONN_LOG_H
#define MCONN_LOG_H

#include <stdbool.h>
#include <syslog.h>

struct target_conf;

/* Choose the sink (journal or stderr) and the most verbose priority shown. */
void log_open(int max_priority);

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
