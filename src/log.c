/* Log sinks. The journal gets structured fields so `journalctl TARGET=web1` works;
 * anything else gets one line per message on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "config.h"
#include "log.h"

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

static void log_stderr(int prio, const char *text)
{
	if (log_tty)
		fprintf(stderr, "mconnd: %s: %s\n", prio_names[prio & 7], text);
	else
		fprintf(stderr, "<%d>%s\n", prio & 7, text);
}

/* Format and send one message; t (may be NULL) adds the journal's target fields. */
__attribute__((format(printf, 6, 0))) static void log_send(int prio, const struct target_conf *t, const char *state,
		     const char *error_class, const char *message_id, const char *fmt, va_list ap)
{
	char text[1024];

	vsnprintf(text, sizeof(text), fmt, ap);
	if (!log_to_journal)
		log_stderr(prio, text);
	else if (!t)
		sd_journal_send("MESSAGE=%s", text, "PRIORITY=%d", prio,
				"SYSLOG_IDENTIFIER=mconnd", NULL);
	else
		sd_journal_send("MESSAGE=%s", text, "PRIORITY=%d", prio,
				"SYSLOG_IDENTIFIER=mconnd", "TARGET=%s", t->name, "ADDRESS=%s",
				t->address_text, "STATE=%s", state ? state : "",
				"ERROR_CLASS=%s", error_class ? error_class : "",
				"MESSAGE_ID=%s", message_id ? message_id : "", NULL);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_max)
		return;
	va_start(ap, fmt);
	log_send(prio, NULL, NULL, NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_target(int prio, const struct target_conf *t, const char *state,
		const char *error_class, const char *message_id, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_max)
		return;
	va_start(ap, fmt);
	log_send(prio, t, state, error_class, message_id, fmt, ap);
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
