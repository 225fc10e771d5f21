/* Log sinks. The journal gets structured fields so `journalctl TARGET=web1` works;
 * stderr gets one line per message with an ISO 8601 time and the priority as a word
 * (or the sd-daemon(3) "<N>" prefix when stderr is the journal's stream, if the
 * journal's socket cannot be reached); syslog gets datagrams on /dev/log, sent
 * without waiting, so a stuck syslog daemon never stalls the loop. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "config.h"
#include "log.h"
#include "util.h"

/* Where syslog(3) sends: the local syslog daemon's datagram socket. */
#define LOG_SYSLOG_PATH "/dev/log"
/* Where sd_journal_sendv() sends; it reports success when the socket is missing. */
#define LOG_JOURNAL_PATH "/run/systemd/journal/socket"

static int log_max = LOG_INFO;
/* LOG_SINK_AUTO until log_open() or the first message chooses. */
static enum log_sink log_sink = LOG_SINK_AUTO;
static bool log_stderr_journal;
static int log_syslog_fd = -1;
/* Syslog messages dropped since the last one that went out (the socket was full). */
static unsigned long log_syslog_dropped;

const char *const log_sink_names[] = { "auto", "journal", "stderr", "syslog", NULL };

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

const char *log_sink_name(enum log_sink s)
{
	return s < _LOG_SINK_MAX ? log_sink_names[s] : "?";
}

void log_open(int max_priority, enum log_sink sink)
{
	log_max = max_priority;
	log_stderr_journal = stderr_is_journal();
	if (sink == LOG_SINK_AUTO || sink >= _LOG_SINK_MAX)
		sink = log_stderr_journal ? LOG_SINK_JOURNAL : LOG_SINK_STDERR;
	if (sink != LOG_SINK_SYSLOG && log_syslog_fd >= 0) {
		close(log_syslog_fd);
		log_syslog_fd = -1;
	}
	log_sink = sink;
}

bool log_enabled(int prio)
{
	return prio <= log_max;
}

/* The local time as ISO 8601 with milliseconds and the UTC offset,
 * "2026-12-07T19:51:19.123+01:00"; an empty string if the time is unknown. */
static void log_time_iso(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char date[32], zone[8];

	out[0] = '\0';
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !localtime_r(&ts.tv_sec, &tm) ||
	    !strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) ||
	    strftime(zone, sizeof(zone), "%z", &tm) != 5)
		return;
	/* strftime's %z is +hhmm; the extended format ISO 8601 wants +hh:mm. */
	snprintf(out, len, "%s.%03ld%.3s:%s", date, ts.tv_nsec / 1000000L, zone, zone + 3);
}

/* One line on stderr: "TIME PRIORITY: text". */
static void log_stderr(int prio, const char *text)
{
	char when[64];

	log_time_iso(when, sizeof(when));
	fprintf(stderr, "%s %s: %s\n", when, prio_names[prio & 7], text);
}

/* Connect a non-blocking datagram socket to the syslog daemon's. */
static int log_syslog_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = LOG_SYSLOG_PATH };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* Send one RFC 3164 message, "<PRI>Mmm dd hh:mm:ss mconnd[PID]: text", reconnecting
 * once when the syslog daemon went away; 0 or -errno. */
static int log_syslog_send(int prio, const char *text)
{
	char msg[1200], stamp[32];
	time_t t = time(NULL);
	struct tm tm;
	int n;

	if (!localtime_r(&t, &tm) || !strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm))
		stamp[0] = '\0';
	n = snprintf(msg, sizeof(msg), "<%d>%s mconnd[%ld]: %s", LOG_DAEMON | (prio & 7), stamp,
		     (long)getpid(), text);
	if (n < 0)
		return -EINVAL;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (log_syslog_fd < 0)
			log_syslog_fd = log_syslog_connect();
		if (log_syslog_fd < 0)
			return log_syslog_fd;
		if (send(log_syslog_fd, msg, strnlen(msg, sizeof(msg)), MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno == EAGAIN || errno == ENOBUFS)
			return -EAGAIN;
		close(log_syslog_fd);
		log_syslog_fd = -1;
	}
	return -ECONNREFUSED;
}

/* To syslog: a full socket drops the message (counted, and told with the next one
 * that goes out); an unreachable syslog daemon sends it to stderr instead. */
static void log_syslog(int prio, const char *text)
{
	char note[128];
	int r = 0;

	if (log_syslog_dropped) {
		snprintf(note, sizeof(note), "%lu log message%s dropped: the syslog socket was full",
			 log_syslog_dropped, log_syslog_dropped == 1 ? "" : "s");
		r = log_syslog_send(LOG_WARNING, note);
		if (r < 0 && r != -EAGAIN)
			log_stderr(LOG_WARNING, note);
		if (r != -EAGAIN)
			log_syslog_dropped = 0;
	}
	if (r != -EAGAIN)
		r = log_syslog_send(prio, text);
	if (r == -EAGAIN)
		log_syslog_dropped++;
	else if (r < 0)
		log_stderr(prio, text);
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
	if (access(LOG_JOURNAL_PATH, F_OK) == 0 && sd_journal_sendv(iov, (int)n) >= 0)
		return;
	/* No journal socket: stderr, in the form the journal's stream reads if it is one. */
	if (log_stderr_journal)
		fprintf(stderr, "<%d>%s\n", prio & 7, text);
	else
		log_stderr(prio, text);
}

/* Format and send one message to the journal or stderr. */
__attribute__((format(printf, 7, 0))) static void log_send(int prio, const struct target_conf *t, const char *state,
		     const char *error_class, const char *message_id, const char *extra,
		     const char *fmt, va_list ap)
{
	char text[1024];

	vsnprintf(text, sizeof(text), fmt, ap);
	if (log_sink == LOG_SINK_AUTO)
		log_open(log_max, LOG_SINK_AUTO);
	switch (log_sink) {
	case LOG_SINK_JOURNAL: log_journal(prio, t, state, error_class, message_id, extra, text); break;
	case LOG_SINK_SYSLOG: log_syslog(prio, text); break;
	default: log_stderr(prio, text); break;
	}
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
