/* Prometheus metrics: every target's health, sessions, cycle counters by result and
 * latency histograms, in the text exposition format 0.0.4. One pass over the targets
 * per family, each line formatted once into a stack buffer and appended; a cursor
 * (family, target) lets the control socket render it in slices. */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "pool.h"
#include "view.h"
#include "metrics.h"
#include "proto.h"
#include "render.h"
#include "target.h"
#include "util.h"

/* The histograms' export bounds (hist_le_ns) as the le label writes them, in seconds. */
static const char *const bucket_le[] = {
	"0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
	"0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
};
_Static_assert(ELEMENTSOF(bucket_le) == HIST_LE_N, "one le per bound");

/* The labels of one target's series, escaped once per target and family: target and
 * the target's own labels (never the address, so a series survives a change of it). */
struct labels {
	char s[(size_t)2 * MCONN_NAME_MAX + 16 +
	       (size_t)CONFIG_MAX_LABELS * (CONFIG_MAX_LABEL_NAME + 2 * CONFIG_MAX_LABEL_VALUE + 8)];
	size_t len;
};

/* The longest line: a histogram bucket or the info line, with the labels. */
#define METRICS_LINE_MAX (sizeof(((struct labels *)0)->s) + (size_t)2 * 280 + 256)

/* Format one line and append it; a line longer than the stack buffer is cut, which
 * no line of ours can be (the labels are bounded). */
__attribute__((format(printf, 2, 3)))
static void put(struct buf *out, const char *fmt, ...)
{
	char line[METRICS_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_append(out, line, MIN((size_t)n, sizeof(line) - 1));
}

static void family(struct buf *out, const char *name, const char *type, const char *help)
{
	put(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

size_t metrics_label_escape(const char *v, char *out, size_t n)
{
	size_t o = 0;

	for (; *v && o + 2 < n; v++) {
		if (*v == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (*v == '\\' || *v == '"') {
			out[o++] = '\\';
			out[o++] = *v;
		} else {
			out[o++] = *v;
		}
	}
	out[o] = '\0';
	return o;
}

static void labels_of(const struct target *t, struct labels *l)
{
	const struct target_conf *c = t->conf;
	char v[2 * CONFIG_MAX_LABEL_VALUE + 2];
	size_t o;

	metrics_label_escape(c->name, v, sizeof(v));
	o = (size_t)snprintf(l->s, sizeof(l->s), "target=\"%s\"", v);
	for (uint32_t i = 0; i < c->n_labels && o < sizeof(l->s); i++) {
		metrics_label_escape(c->labels[i].value, v, sizeof(v));
		o += (size_t)snprintf(l->s + o, sizeof(l->s) - o, ",%s=\"%s\"", c->labels[i].name, v);
	}
	l->len = MIN(o, sizeof(l->s) - 1);
}

/* Append "PREFIX VALUE\n" with the number formatted by hand: most lines of a large
 * exposition are bucket and counter lines, and vsnprintf would be most of its cost. */
static void put_u64(struct buf *out, const char *prefix, size_t plen, uint64_t v)
{
	char line[METRICS_LINE_MAX], digits[24];
	size_t n = 0;

	if (plen > sizeof(line) - sizeof(digits) - 2)
		return;
	memcpy(line, prefix, plen);
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	line[plen] = ' ';
	for (size_t k = 0; k < n; k++)
		line[plen + 1 + k] = digits[n - 1 - k];
	line[plen + 1 + n] = '\n';
	buf_append(out, line, plen + n + 2);
}

/* Copy n bytes to p; return the end. */
static char *put_mem(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* One histogram: the exact counts under each bound, cumulatively. */
static void render_histogram(struct buf *out, const char *name, const struct labels *l,
			     const struct hist *h)
{
	size_t nlen = strlen(name);
	uint64_t cum = 0;
	char prefix[sizeof(l->s) + 128];

	for (size_t k = 0; k < HIST_LE_N; k++) {
		char *p = prefix;

		cum += h->le[k];
		p = put_mem(p, name, nlen);
		p = put_mem(p, "_bucket{", 8);
		p = put_mem(p, l->s, l->len);
		p = put_mem(p, ",le=\"", 5);
		p = put_mem(p, bucket_le[k], strlen(bucket_le[k]));
		p = put_mem(p, "\"}", 2);
		put_u64(out, prefix, (size_t)(p - prefix), cum);
	}
	put(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, l->s, (unsigned long long)h->count);
	put(out, "%s_sum{%s} %.9f\n", name, l->s, (double)h->sum / 1e9);
	put(out, "%s_count{%s} %llu\n", name, l->s, (unsigned long long)h->count);
}

/* The one series that carries the address: what the target checks, as written and
 * as resolved, how and in which mode. Join on target for the address of a series. */
static void lines_info(const struct view *v, const struct target *t, const char *name,
		       const struct labels *l, struct buf *out)
{
	char addr[2 * 280], resolved[128];

	(void)v;
	metrics_label_escape(t->conf->address_text, addr, sizeof(addr));
	if (t->conf->addr.len)
		format_address(&t->conf->addr, resolved, sizeof(resolved));
	else
		resolved[0] = '\0';
	put(out, "%s{%s,address=\"%s\",resolved=\"%s\",protocol=\"%s\",mode=\"%s\"} 1\n", name,
	    l->s, addr, resolved, target_protocol_name(t->conf->protocol),
	    target_mode_name(t->conf->mode));
}

static void lines_up(const struct view *v, const struct target *t, const char *name,
		     const struct labels *l, struct buf *out)
{
	(void)v;
	put(out, "%s{%s} %d\n", name, l->s, t->health == HEALTH_UP && !t->paused);
}

static void lines_paused(const struct view *v, const struct target *t, const char *name,
			 const struct labels *l, struct buf *out)
{
	(void)v;
	put(out, "%s{%s} %d\n", name, l->s, t->paused);
}

static void lines_state(const struct view *v, const struct target *t, const char *name,
			const struct labels *l, struct buf *out)
{
	(void)v;
	for (int h = 0; h < _HEALTH_MAX; h++)
		put(out, "%s{%s,state=\"%s\"} %d\n", name, l->s, health_state_name(h),
		    t->health == (enum health_state)h);
}

static void lines_health_changes(const struct view *v, const struct target *t,
				 const char *name, const struct labels *l, struct buf *out)
{
	(void)v;
	put(out, "%s{%s} %llu\n", name, l->s, (unsigned long long)t->health_changes);
}

static void lines_flapping(const struct view *v, const struct target *t, const char *name,
			   const struct labels *l, struct buf *out)
{
	(void)v;
	put(out, "%s{%s} %d\n", name, l->s, t->flapping);
}

/* The sessions by their own verdicts: up, down, unknown (starved ones apart). */
static void lines_verdicts(const struct view *v, const struct target *t, const char *name,
			   const struct labels *l, struct buf *out)
{
	static const enum health_state verdicts[] = { HEALTH_UP, HEALTH_DOWN, HEALTH_UNKNOWN };

	(void)v;
	for (size_t k = 0; k < ELEMENTSOF(verdicts); k++)
		put(out, "%s{%s,verdict=\"%s\"} %u\n", name, l->s, health_state_name(verdicts[k]),
		    t->sess_verdict[verdicts[k]]);
}

static void lines_starved(const struct view *v, const struct target *t, const char *name,
			  const struct labels *l, struct buf *out)
{
	(void)v;
	put(out, "%s{%s} %u\n", name, l->s, t->sess_starved);
}

static void lines_sessions(const struct view *v, const struct target *t, const char *name,
			   const struct labels *l, struct buf *out)
{
	(void)v;
	put(out, "%s{%s} %u\n", name, l->s, t->n_sess);
}

static void lines_active(const struct view *v, const struct target *t, const char *name,
			 const struct labels *l, struct buf *out)
{
	put(out, "%s{%s} %u\n", name, l->s, pool_target_active(v->pool, t));
}

static void lines_cycles(const struct view *v, const struct target *t, const char *name,
			 const struct labels *l, struct buf *out)
{
	(void)v;
	put(out, "%s{%s,result=\"ok\"} %llu\n", name, l->s, (unsigned long long)t->cycles_ok);
	for (int e = SERR_NONE + 1; e < _SERR_MAX; e++)
		put(out, "%s{%s,result=\"%s\"} %llu\n", name, l->s, session_error_name(e),
		    (unsigned long long)t->errors[e]);
}

static void lines_cycle_hist(const struct view *v, const struct target *t, const char *name,
			     const struct labels *l, struct buf *out)
{
	(void)v;
	render_histogram(out, name, l, &t->cycle_lat.total);
}

static void lines_connect_hist(const struct view *v, const struct target *t,
			       const char *name, const struct labels *l, struct buf *out)
{
	(void)v;
	render_histogram(out, name, l, &t->connect_lat.total);
}

static void lines_retransmits(const struct view *v, const struct target *t, const char *name,
			      const struct labels *l, struct buf *out)
{
	(void)v;
	put(out, "%s{%s} %llu\n", name, l->s, (unsigned long long)t->retransmits);
}

static void lines_resolve_failures(const struct view *v, const struct target *t,
				   const char *name, const struct labels *l, struct buf *out)
{
	(void)v;
	put(out, "%s{%s} %llu\n", name, l->s, (unsigned long long)t->resolve.failures);
}

static void lines_replicas(const struct view *v, const struct target *t, const char *name,
			   const struct labels *l, struct buf *out)
{
	(void)v;
	put(out, "%s{%s} %d\n", name, l->s, __builtin_popcountll(t->conf->shard_owners));
}

/* The UDP counters: one line per UDP target, none for the others. */
static void lines_udp_count(const struct target *t, const char *name, const struct labels *l,
			    uint64_t n, struct buf *out)
{
	if (t->conf->protocol == TPROTO_UDP)
		put(out, "%s{%s} %llu\n", name, l->s, (unsigned long long)n);
}

static void lines_udp_sent(const struct view *v, const struct target *t, const char *name,
			   const struct labels *l, struct buf *out)
{
	(void)v;
	lines_udp_count(t, name, l, t->udp.sent, out);
}

static void lines_udp_duplicates(const struct view *v, const struct target *t,
				 const char *name, const struct labels *l, struct buf *out)
{
	(void)v;
	lines_udp_count(t, name, l, t->udp.duplicates, out);
}

static void lines_udp_late(const struct view *v, const struct target *t, const char *name,
			   const struct labels *l, struct buf *out)
{
	(void)v;
	lines_udp_count(t, name, l, t->udp.late, out);
}

static void lines_udp_loss_ratio(const struct view *v, const struct target *t,
				 const char *name, const struct labels *l, struct buf *out)
{
	(void)v;
	if (t->conf->protocol == TPROTO_UDP)
		put(out, "%s{%s} %.6f\n", name, l->s,
		    t->udp.sent ? (double)t->errors[SERR_LOSS] / (double)t->udp.sent : 0.0);
}

/* The TLS figures: lines for TLS targets only. A target yet to finish a handshake
 * shows an empty histogram, and no certificate date until one was read. */
static void lines_tls_hist(const struct view *v, const struct target *t, const char *name,
			   const struct labels *l, struct buf *out)
{
	static const struct hist none;

	(void)v;
	if (t->conf->protocol == TPROTO_TLS)
		render_histogram(out, name, l, t->tls.handshake ? t->tls.handshake : &none);
}

static void lines_tls_handshakes(const struct view *v, const struct target *t,
				 const char *name, const struct labels *l, struct buf *out)
{
	(void)v;
	if (t->conf->protocol != TPROTO_TLS)
		return;
	put(out, "%s{%s,resumed=\"no\"} %llu\n", name, l->s,
	    (unsigned long long)(t->tls.handshakes - t->tls.resumed));
	put(out, "%s{%s,resumed=\"yes\"} %llu\n", name, l->s, (unsigned long long)t->tls.resumed);
}

static void lines_tls_not_after(const struct view *v, const struct target *t,
				const char *name, const struct labels *l, struct buf *out)
{
	(void)v;
	if (t->conf->protocol == TPROTO_TLS && t->tls.cert_not_after)
		put(out, "%s{%s} %lld\n", name, l->s, (long long)t->tls.cert_not_after);
}

/* The per-target families, in the order of the exposition: a header, then the lines
 * of every target. */
static const struct metrics_family {
	const char *name;
	const char *type;
	const char *help;
	void (*lines)(const struct view *v, const struct target *t, const char *name,
		      const struct labels *l, struct buf *out);
} families[] = {
	{ "mconn_target_info", "gauge",
	  "Always 1; the target's address as configured and as resolved, its protocol and mode.",
	  lines_info },
	{ "mconn_target_up", "gauge",
	  "1 when the target is up (every session up, few recent failures) and not paused, else 0.",
	  lines_up },
	{ "mconn_target_paused", "gauge",
	  "1 while the target is paused (mconnctl pause): its sessions are stopped.", lines_paused },
	{ "mconn_target_state", "gauge", "1 for the target's current health state.", lines_state },
	{ "mconn_health_changes_total", "counter",
	  "Changes of the target's health state (unknown, up, degraded, down).",
	  lines_health_changes },
	{ "mconn_target_flapping", "gauge",
	  "1 while the target changed state more than flap_threshold times in flap_window.",
	  lines_flapping },
	{ "mconn_sessions_verdict", "gauge",
	  "Sessions of the target by their own rise/fall verdict (starved ones not included).",
	  lines_verdicts },
	{ "mconn_sessions_starved", "gauge",
	  "Sessions that found no local fd, port or memory at their last try: mconnd's shortage, not the target's failure.",
	  lines_starved },
	{ "mconn_sessions", "gauge", "Echo sessions the target runs.", lines_sessions },
	{ "mconn_sessions_active", "gauge",
	  "Sessions with a connection open or a connect in progress.", lines_active },
	{ "mconn_cycles_total", "counter",
	  "Finished echo cycles by result: ok or the failure class.", lines_cycles },
	{ "mconn_cycle_duration_seconds", "histogram",
	  "Time of a good cycle: connect, then each message from its send to its echo's last byte, by the kernel's clock.",
	  lines_cycle_hist },
	{ "mconn_connect_duration_seconds", "histogram",
	  "Time to establish the connection, in good cycles that connected.", lines_connect_hist },
	{ "mconn_target_retransmits_total", "counter",
	  "TCP segments the target's sessions retransmitted (TCP_INFO): what explains a slow cycle.",
	  lines_retransmits },
	{ "mconn_resolve_failures_total", "counter",
	  "Failed look-ups of the target's name by resolve_every (the last address stays in use).",
	  lines_resolve_failures },
	{ "mconn_target_replicas", "gauge",
	  "Checkers of the fleet that check the target: replicas, or as many as its shards key names.",
	  lines_replicas },
	{ "mconn_udp_datagrams_sent_total", "counter",
	  "UDP targets: datagrams sent; those whose echo did not come back in time are the cycles with result loss.",
	  lines_udp_sent },
	{ "mconn_udp_duplicates_total", "counter",
	  "UDP targets: echoes that came back a second time (counted, never taken for a cycle).",
	  lines_udp_duplicates },
	{ "mconn_udp_late_total", "counter",
	  "UDP targets with udp_tag: echoes that came back after their cycle counted them lost.",
	  lines_udp_late },
	{ "mconn_udp_loss_ratio", "gauge",
	  "UDP targets: the share of datagrams sent since the target started whose echo did not come back within timeout.",
	  lines_udp_loss_ratio },
	{ "mconn_tls_handshake_seconds", "histogram",
	  "TLS targets: time of a finished handshake, from the TCP connection's start of it to its end (the loop's clock).",
	  lines_tls_hist },
	{ "mconn_tls_handshakes_total", "counter",
	  "TLS targets: handshakes finished, by whether they resumed an earlier session (tls_resume).",
	  lines_tls_handshakes },
	{ "mconn_tls_cert_not_after_seconds", "gauge",
	  "TLS targets: the notAfter of the last certificate the server showed, in seconds since the Unix epoch.",
	  lines_tls_not_after },
};

static void render_process(const struct view *v, struct buf *out)
{
	family(out, "mconn_build_info", "gauge", "Always 1; the version of mconnd in a label.");
	put(out, "mconn_build_info{version=\"%s\"} 1\n", MCONN_VERSION);
	family(out, "mconn_shard_info", "gauge",
	       "Always 1; this checker's shard K of N and the replicas per target in labels (1/1/1 without shard).");
	put(out, "mconn_shard_info{shard=\"%u\",shards=\"%u\",replicas=\"%u\"} 1\n",
	    v->shard.k, v->shard.n, v->shard.replicas);
	family(out, "mconn_fleet_checkers", "gauge",
	       "The N of shard = K/N: how many checkers the fleet has (1 without shard).");
	put(out, "mconn_fleet_checkers %u\n", v->shard.n);
	family(out, "mconn_shard_skipped_targets", "gauge",
	       "Targets of the configuration that other shards run, not this checker.");
	put(out, "mconn_shard_skipped_targets %zu\n", v->shard.skipped);
	family(out, "mconn_start_time_seconds", "gauge",
	       "When mconnd started, in seconds since the Unix epoch.");
	put(out, "mconn_start_time_seconds %.3f\n", (double)v->start_wall / 1e9);
	family(out, "mconn_config_reloads_total", "counter",
	       "Reloads of the configuration (mconnctl reload, SIGHUP) by result.");
	put(out, "mconn_config_reloads_total{result=\"ok\"} %llu\n",
	    (unsigned long long)v->reload->ok);
	put(out, "mconn_config_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)v->reload->failed);
	family(out, "mconn_config_last_reload_successful", "gauge",
	       "0 when the last reload was refused (the previous configuration runs on), else 1.");
	put(out, "mconn_config_last_reload_successful %d\n",
	    v->reload->ok + v->reload->failed == 0 || v->reload->last_ok);
}

/* The process's virtual and resident size in bytes, from /proc/self/statm (a read of
 * the kernel's counters that never waits); 0 when it cannot be read. */
static void process_memory(uint64_t *ret_virtual, uint64_t *ret_resident)
{
	unsigned long long size = 0, resident = 0;
	long page = sysconf(_SC_PAGESIZE);
	char text[128], *end = text;
	ssize_t n = -1;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
	}
	if (n > 0 && page > 0) {
		text[n] = '\0';
		size = strtoull(text, &end, 10);
		resident = strtoull(end, NULL, 10);
	}
	*ret_virtual = size * (uint64_t)page;
	*ret_resident = resident * (uint64_t)page;
}

/* Open descriptors: the size the kernel gives /proc/self/fd (Linux 6.2 and later),
 * else the entries counted; 0 when neither works. */
static uint64_t process_open_fds(void)
{
	struct stat st;
	struct dirent *e;
	uint64_t n = 0;
	DIR *dir;

	if (stat("/proc/self/fd", &st) == 0 && st.st_size > 0)
		return (uint64_t)st.st_size;
	dir = opendir("/proc/self/fd");
	if (!dir)
		return 0;
	while ((e = readdir(dir)) != NULL)
		n += e->d_name[0] != '.';
	closedir(dir);
	/* Less the one opendir() holds. */
	return n ? n - 1 : 0;
}

/* The process_* series as Prometheus client libraries export them. */
static void render_process_stats(const struct view *v, struct buf *out)
{
	struct rusage ru = { 0 };
	struct rlimit rl = { 0 };
	uint64_t vsize, rss;

	(void)getrusage(RUSAGE_SELF, &ru);
	process_memory(&vsize, &rss);
	family(out, "process_cpu_seconds_total", "counter",
	       "Total user and system CPU time spent in seconds.");
	put(out, "process_cpu_seconds_total %.6f\n",
	    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
	put(out, "process_resident_memory_bytes %llu\n", (unsigned long long)rss);
	family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
	put(out, "process_virtual_memory_bytes %llu\n", (unsigned long long)vsize);
	family(out, "process_open_fds", "gauge", "Number of open file descriptors.");
	put(out, "process_open_fds %llu\n", (unsigned long long)process_open_fds());
	family(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	put(out, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	family(out, "process_start_time_seconds", "gauge",
	       "Start time of the process since unix epoch in seconds.");
	put(out, "process_start_time_seconds %.3f\n", (double)v->start_wall / 1e9);
}

void metrics_begin(struct metrics_cursor *cur, int64_t now)
{
	*cur = (struct metrics_cursor){ .now = now };
}

bool metrics_render_slice(const struct view *v, struct metrics_cursor *cur, struct buf *out,
			  size_t max)
{
	size_t start = out->len;

	if (!cur->started) {
		cur->started = true;
		render_process(v, out);
		render_process_stats(v, out);
	}
	while (cur->family < ELEMENTSOF(families) && !out->overflow) {
		const struct metrics_family *f = &families[cur->family];
		const struct target *t;
		struct labels l;

		if (out->len - start >= max)
			return false;
		if (cur->pos.next == 0 && !cur->pos.last[0])
			family(out, f->name, f->type, f->help);
		t = render_next_target(v, &cur->pos);
		if (!t) {
			cur->family++;
			cur->pos = (struct render_pos){ 0 };
			continue;
		}
		labels_of(t, &l);
		f->lines(v, t, f->name, &l, out);
	}
	return true;
}

void metrics_render(const struct view *v, int64_t now, struct buf *out)
{
	struct metrics_cursor cur;

	metrics_begin(&cur, now);
	while (!metrics_render_slice(v, &cur, out, SIZE_MAX))
		;
}

bool metrics_scrape_slice(const struct view *v, struct scrape_stats *acct,
			  struct metrics_cursor *cur, struct buf *out, size_t max)
{
	int64_t start = now_ns();
	size_t before = out->len;
	bool done = metrics_render_slice(v, cur, out, max);

	cur->spent += now_ns() - start;
	cur->bytes += out->len - before;
	if (!done)
		return false;
	acct->renders++;
	acct->total_ns += cur->spent;
	acct->last_ns = cur->spent;
	acct->max_ns = MAX(acct->max_ns, cur->spent);
	acct->last_bytes = cur->bytes;
	return true;
}

void metrics_scrape(const struct view *v, struct scrape_stats *acct, struct buf *out)
{
	struct metrics_cursor cur;

	metrics_begin(&cur, now_ns());
	while (!metrics_scrape_slice(v, acct, &cur, out, SIZE_MAX))
		;
}
