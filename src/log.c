/* Log sinks. The journal gets structured fields so `journalctl TARGET=web1` works;
 * anything else gets one line per message on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "config.h"
#include "log.h"
#include "util.h"

static int log_max = LOG_INFO;
static int log_to_journal;
static int log_tty;

static const char *const prio_names[] = { "emerg", "alert", "crit", "error", "warning",
					  "notice", "info", "debug" };

/* True when JOURNAL_STREAM names the device and inode of our stderr. */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* An overflowing number cannot match our stderr anyway: no need for strtoull. */
	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || /* NOLINT(cert-err34-c) */
	    fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_open(int max_priority)
{
	log_max = max_priority;
	log_to_journal = stderr_is_journal();
	log_tty = isatty(STDERR_FILENO);
}

bool log_enabled(int prio)
{
	return prio <= log_max;
}

/* One line on stderr: "<N>text" (sd-daemon(3) priority prefix), readable on a tty. */
static void log_stderr(int prio, const char *text)
{
	if (log_tty)
		fprintf(stderr, "mconnd: %s: %s\n", prio_names[prio & 7], text);
	else
		fprintf(stderr, "<%d>%s\n", prio & 7, text);
}

/* Add "NAME=value" to the journal entry being built, when value is set. */
static size_t log_field(struct iovec *iov, size_t n, char *buf, size_t len, const char *name,
			const char *value)
{
	if (!value || !*value)
		return n;
	snprintf(buf, len, "%s=%s", name, value);
	iov[n] = (struct iovec){ .iov_base = buf, .iov_len = strlen(buf) };
	return n + 1;
}

/* Add the "NAME=value" lines of extra (may be NULL) as fields, as many as fit. */
static size_t log_extra_fields(struct iovec *iov, size_t n, size_t max, char *extra)
{
	while (extra && *extra && n < max) {
		size_t len = strcspn(extra, "\n");

		iov[n++] = (struct iovec){ .iov_base = extra, .iov_len = len };
		extra += len + (extra[len] == '\n');
	}
	return n;
}

/* Send one entry with the fields that apply; t (may be NULL) adds the target's. */
static void log_journal(int prio, const struct target_conf *t, const char *state,
			const char *error_class, const char *message_id, const char *extra,
			const char *text)
{
	char f[8][1100], p[2] = { (char)('0' + (prio & 7)), '\0' }, more[512];
	struct iovec iov[16];
	size_t n = 0;

	n = log_field(iov, n, f[n], sizeof(f[n]), "MESSAGE", text);
	n = log_field(iov, n, f[n], sizeof(f[n]), "PRIORITY", p);
	n = log_field(iov, n, f[n], sizeof(f[n]), "SYSLOG_IDENTIFIER", "mconnd");
	n = log_field(iov, n, f[n], sizeof(f[n]), "MESSAGE_ID", message_id);
	if (t) {
		n = log_field(iov, n, f[n], sizeof(f[n]), "TARGET", t->name);
		n = log_field(iov, n, f[n], sizeof(f[n]), "ADDRESS", t->address_text);
	}
	n = log_field(iov, n, f[n], sizeof(f[n]), "STATE", state);
	n = log_field(iov, n, f[n], sizeof(f[n]), "ERROR_CLASS", error_class);
	snprintf(more, sizeof(more), "%s", extra ? extra : "");
	n = log_extra_fields(iov, n, ELEMENTSOF(iov), more);
	if (sd_journal_sendv(iov, (int)n) < 0)
		log_stderr(prio, text);
}

/* Format and send one message to the journal or stderr. */
__attribute__((format(printf, 7, 0))) static void log_send(int prio, const struct target_conf *t, const char *state,
		     const char *error_class, const char *message_id, const char *extra,
		     const char *fmt, va_list ap)
{
	char text[1024];

	vsnprintf(text, sizeof(text), fmt, ap);
	if (log_to_journal)
		log_journal(prio, t, state, error_class, message_id, extra, text);
	else
		log_stderr(prio, text);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_max)
		return;
	va_start(ap, fmt);
	log_send(prio, NULL, NULL, NULL, NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_target(int prio, const struct target_conf *t, const char *state,
		const char *error_class, const char *message_id, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_max)
		return;
	va_start(ap, fmt);
	log_send(prio, t, state, error_class, message_id, NULL, fmt, ap);
	va_end(ap);
}

void log_target_fields(int prio, const struct target_conf *t, const char *state,
		       const char *error_class, const char *message_id, const char *fields,
		       const char *fmt, ...)
{
	va_list ap;

	if (prio > log_max)
		return;
	va_start(ap, fmt);
	log_send(prio, t, state, error_class, message_id, fields, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_msg(LOG_ERR, "%s", text);
	exit(1);
}
