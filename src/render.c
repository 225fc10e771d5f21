/* Status and session listings, as aligned text or as one line of JSON. Text replies
 * never contain an empty line, since an empty line ends a reply. Listings are rendered
 * in slices through a cursor that holds names and indexes, never pointers, so that it
 * stays valid when sessions or targets change between slices. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "http.h"
#include "loop.h"
#include "pool.h"
#include "view.h"
#include "proto.h"
#include "render.h"
#include "target.h"
#include "tls.h"
#include "util.h"

static size_t render_name_width(const struct view *v, const struct target *only)
{
	size_t w = 6;

	for (size_t i = 0; i < v->pool->n_targets; i++)
		if (!only || v->pool->targets[i] == only)
			w = MAX(w, strlen(v->pool->targets[i]->conf->name));
	return w;
}

/* The ADDRESS column is as wide as the longest address shown, like TARGET. */
static int render_address_width(const struct view *v, const struct target *only)
{
	size_t w = 22;

	for (size_t i = 0; i < v->pool->n_targets; i++)
		if (!only || v->pool->targets[i] == only)
			w = MAX(w, strlen(v->pool->targets[i]->conf->address_text));
	return (int)w;
}

/* Say in words what went wrong last, from errno or from the class. */
static const char *render_error_detail(const struct target *t, char *out, size_t n)
{
	char limit[32];

	if (t->last_errno == ETIME && t->last_error == SERR_TIMEOUT && t->last_detail[0]) {
		snprintf(out, n, "%.90s (%s)", t->last_detail,
			 format_duration(t->conf->timeout, limit, sizeof(limit)));
		return out;
	}
	if (t->last_errno == ETIME && t->last_error == SERR_TIMEOUT) {
		snprintf(out, n, "no complete echo within timeout (%s)",
			 format_duration(t->conf->timeout, limit, sizeof(limit)));
		return out;
	}
	if (t->last_errno == ETIME && t->last_error == SERR_LOSS) {
		snprintf(out, n, "no echo of a datagram within timeout (%s)",
			 format_duration(t->conf->timeout, limit, sizeof(limit)));
		return out;
	}
	if (t->last_detail[0]) {
		snprintf(out, n, "%s", t->last_detail);
		return out;
	}
	if (t->last_errno == ETIME && t->last_error == SERR_CONNECT_TIMEOUT) {
		snprintf(out, n, "not connected within connect_timeout (%s)",
			 format_duration(t->conf->connect_timeout, limit, sizeof(limit)));
		return out;
	}
	if (t->last_errno)
		return strerror(t->last_errno);
	if (t->last_error == SERR_MISMATCH)
		return "a byte came back that was not the byte sent";
	if (t->last_error == SERR_EOF)
		return "the peer closed before the whole echo came back";
	return "no details";
}

static void render_errors_text(const struct target *t, int64_t now, struct buf *out)
{
	char detail[128], ago[32];
	const char *sep = "";

	if (t->cycles_failed == 0)
		return;
	buf_printf(out, "  failures:");
	for (int e = SERR_NONE + 1; e < _SERR_MAX; e++) {
		if (!t->errors[e])
			continue;
		buf_printf(out, "%s %s %llu", sep, session_error_name(e),
			   (unsigned long long)t->errors[e]);
		sep = ",";
	}
	buf_printf(out, "; last: %s (%s), %s ago\n", session_error_name(t->last_error),
		   render_error_detail(t, detail, sizeof(detail)),
		   format_duration(now - t->last_error_at, ago, sizeof(ago)));
}

/* The share of t's datagrams whose echo did not come back, or -1 before any. */
static double render_udp_loss_ratio(const struct target *t)
{
	if (!t->udp.sent)
		return -1;
	return (double)t->errors[SERR_LOSS] / (double)t->udp.sent;
}

/* A line under a UDP target's row: datagrams, loss, duplicates, late echoes. */
static void render_udp_text(const struct target *t, struct buf *out)
{
	double ratio = render_udp_loss_ratio(t);

	if (t->conf->protocol != TPROTO_UDP)
		return;
	buf_printf(out, "  udp: %llu datagrams sent, loss %.2f%% (%llu), %llu duplicates, %llu late%s\n",
		   (unsigned long long)t->udp.sent, ratio < 0 ? 0.0 : ratio * 100,
		   (unsigned long long)t->errors[SERR_LOSS], (unsigned long long)t->udp.duplicates,
		   (unsigned long long)t->udp.late, t->conf->udp_tag ? ", tagged" : "");
}

/* The UDP figures of t as a JSON object, or null for another protocol. */
static void render_udp_json(const struct target *t, struct buf *out)
{
	double ratio = render_udp_loss_ratio(t);

	buf_printf(out, "\"protocol\":\"%s\",\"udp\":", target_protocol_name(t->conf->protocol));
	if (t->conf->protocol != TPROTO_UDP) {
		buf_printf(out, "null,");
		return;
	}
	buf_printf(out, "{\"tag\":%s,\"sent\":%llu,\"lost\":%llu,\"loss_ratio\":",
		   t->conf->udp_tag ? "true" : "false", (unsigned long long)t->udp.sent,
		   (unsigned long long)t->errors[SERR_LOSS]);
	if (ratio >= 0)
		buf_printf(out, "%.4f", ratio);
	else
		buf_printf(out, "null");
	buf_printf(out, ",\"duplicates\":%llu,\"late\":%llu},", (unsigned long long)t->udp.duplicates,
		   (unsigned long long)t->udp.late);
}

/* A duration in milliseconds as a JSON number, or null when unknown. */
static void render_json_ms(struct buf *out, const char *key, int64_t ns, const char *sep)
{
	if (ns < 0)
		buf_printf(out, "\"%s\":null%s", key, sep);
	else
		buf_printf(out, "\"%s\":%.3f%s", key, (double)ns / 1e6, sep);
}

/* A TLS target's handshake time at quantile q, or -1 before any. */
static int64_t render_tls_quantile(const struct target *t, double q)
{
	return t->tls.handshake && t->tls.handshake->count ? hist_quantile(t->tls.handshake, q) : -1;
}

/* A certificate date as ISO 8601 UTC into out. */
static const char *render_iso8601(int64_t unix_s, char *out, size_t n)
{
	time_t v = (time_t)unix_s;
	struct tm tm;

	if (!gmtime_r(&v, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, n, "%lld", (long long)unix_s);
	return out;
}

/* A line under a TLS target's row: handshakes, their time, the certificate's date. */
static void render_tls_text(const struct target *t, struct buf *out)
{
	char p50[32], p99[32], date[40];

	if (t->conf->protocol != TPROTO_TLS)
		return;
	buf_printf(out, "  tls: handshakes %llu (resumed %llu), handshake_ms p50 %s p99 %s",
		   (unsigned long long)t->tls.handshakes, (unsigned long long)t->tls.resumed,
		   format_duration(render_tls_quantile(t, 0.5), p50, sizeof(p50)),
		   format_duration(render_tls_quantile(t, 0.99), p99, sizeof(p99)));
	if (t->tls.cert_not_after)
		buf_printf(out, ", cert_not_after %s, cert_days_left %lld",
			   render_iso8601(t->tls.cert_not_after, date, sizeof(date)),
			   (long long)tls_days_left(t->tls.cert_not_after, wall_ns() / NSEC_PER_SEC));
	buf_printf(out, "%s\n", t->conf->tls_verify ? "" : ", not verified (tls_verify = no)");
}

/* The TLS figures of t as a JSON object, or null for another protocol. */
static void render_tls_json(const struct target *t, struct buf *out)
{
	buf_printf(out, "\"tls\":");
	if (t->conf->protocol != TPROTO_TLS) {
		buf_printf(out, "null,");
		return;
	}
	if (t->tls.cert_not_after)
		buf_printf(out, "{\"cert_not_after\":%lld,\"cert_days_left\":%lld,",
			   (long long)t->tls.cert_not_after,
			   (long long)tls_days_left(t->tls.cert_not_after, wall_ns() / NSEC_PER_SEC));
	else
		buf_printf(out, "{\"cert_not_after\":null,\"cert_days_left\":null,");
	buf_printf(out, "\"verify\":%s,\"resume\":%s,\"handshakes\":%llu,\"resumed\":%llu,",
		   t->conf->tls_verify ? "true" : "false", t->conf->tls_resume ? "true" : "false",
		   (unsigned long long)t->tls.handshakes, (unsigned long long)t->tls.resumed);
	render_json_ms(out, "handshake_p50_ms", render_tls_quantile(t, 0.5), ",");
	render_json_ms(out, "handshake_p99_ms", render_tls_quantile(t, 0.99), "},");
}

/* Lines under a target's row for what was changed at run time and restarts. */
static void render_changes_text(const struct target *t, int64_t now, struct buf *out)
{
	char v[32], what[160];
	const char *sep = "";

	if (t->runtime_set) {
		buf_printf(out, "  set at run time (until the next reload):");
		for (unsigned i = 0; i < _CHG_COUNT; i++) {
			if (!(t->runtime_set & (1u << i)))
				continue;
			buf_printf(out, "%s %s %s", sep, config_change_name(1u << i),
				   config_change_value(t->conf, 1u << i, v, sizeof(v)));
			sep = ",";
		}
		buf_printf(out, "\n");
	}
	if (t->generation)
		buf_printf(out, "  restarted %s ago by a reload (generation %u): %s changed\n",
			   format_duration(now - t->reset_mono, v, sizeof(v)), t->generation,
			   config_changes_format(t->restart_changes, what, sizeof(what)));
}

/* The soft open-files limit, or -1 when there is none. */
static long long render_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return -1;
	return (long long)rl.rlim_cur;
}

/* The failure ratio of t's recent results, or -1 with too few of them. */
static double render_recent_ratio(const struct target *t)
{
	if (t->recent_total < HEALTH_MIN_RESULTS)
		return -1;
	return (double)t->recent_failed / (double)t->recent_total;
}

/* A line under a target's row when some of its sessions are down or starved, or it
 * is degraded, down or flapping: the sessions' verdicts, the recent failure ratio. */
static void render_health_text(const struct target *t, int64_t now, struct buf *out)
{
	double ratio = render_recent_ratio(t);
	char since[32];

	if (t->paused || (!t->sess_verdict[HEALTH_DOWN] && !t->sess_starved && !t->flapping &&
			  t->health != HEALTH_DEGRADED && t->health != HEALTH_DOWN))
		return;
	buf_printf(out, "  sessions: %u up, %u down, %u unknown, %u starved", t->sess_verdict[HEALTH_UP],
		   t->sess_verdict[HEALTH_DOWN], t->sess_verdict[HEALTH_UNKNOWN], t->sess_starved);
	if (ratio >= 0)
		buf_printf(out, "; %.1f%% of recent cycles failed", ratio * 100);
	if (t->flapping)
		buf_printf(out, "; flapping for %s",
			   format_duration(now - t->flapping_since, since, sizeof(since)));
	buf_printf(out, "\n");
}

/* The line about mconnd's own shortage: sessions it cannot run, and why. */
static void render_starved_text(const struct view *v, struct buf *out)
{
	uint32_t starved = pool_starved(v->pool);
	char why[64];

	if (!starved)
		return;
	buf_printf(out, "mconnd cannot run %u of %u session%s: %s\n", starved, v->pool->n_sess,
		   plural_s(v->pool->n_sess),
		   proto_resource_text(proto_resource_kind(v->pool->resource_errno), render_nofile(),
				       why, sizeof(why)));
}

/* A line for a name looked up again (resolve_every) or whose look-ups failed. */
static void render_resolve_text(const struct target *t, int64_t now, struct buf *out)
{
	const struct target_resolve *r = &t->resolve;
	char every[32], ago[32];

	if (!t->conf->host[0] || (!t->conf->resolve_every && !r->failures))
		return;
	buf_printf(out, "  resolves '%s' (%s) every %s, %llu failure%s", t->conf->host,
		   addr_family_name(t->conf->family),
		   t->conf->resolve_every ? format_duration_exact(t->conf->resolve_every, every, sizeof(every))
					  : "reload",
		   (unsigned long long)r->failures, plural_s(r->failures));
	if (r->error[0])
		buf_printf(out, "; failing since %s ago: %s", format_duration(now - r->error_at, ago, sizeof(ago)),
			   r->error);
	buf_printf(out, "\n");
}

static void render_target_text(const struct view *v, const struct target *t, int w,
			       int aw, int64_t now, struct buf *out)
{
	struct latency_summary ls;
	char p50[32], p99[32];

	latency_summarize(&t->cycle_lat, 1, now, &ls);
	buf_printf(out, "%-*s %-*s %-8s %-10s %6u %6u %10llu %8llu %8s %8s\n", w, t->conf->name,
		   aw, t->conf->address_text, t->paused ? "paused" : health_state_name(t->health),
		   target_mode_name(t->conf->mode), t->conf->connections,
		   pool_target_active(v->pool, t), (unsigned long long)t->cycles_ok,
		   (unsigned long long)t->cycles_failed, format_duration(ls.p50, p50, sizeof(p50)),
		   format_duration(ls.p99, p99, sizeof(p99)));
	render_health_text(t, now, out);
	render_udp_text(t, out);
	render_tls_text(t, out);
	render_errors_text(t, now, out);
	render_changes_text(t, now, out);
	render_resolve_text(t, now, out);
}

static void render_status_text_head(const struct view *v, int64_t now, int w, int aw,
				    struct buf *out)
{
	char up[32];

	buf_printf(out, "mconnd %s, pid %d, up %s, %zu target%s, %u session%s, config %s\n",
		   MCONN_VERSION, (int)getpid(), format_duration(now - v->start_mono, up, sizeof(up)),
		   v->pool->n_targets, plural_s(v->pool->n_targets), v->pool->n_sess, plural_s(v->pool->n_sess),
		   v->config_path);
	if (v->shard.set)
		buf_printf(out, "shard %u/%u, replicas %u: runs %zu of %zu target%s, skips %zu\n",
			   v->shard.k, v->shard.n, v->shard.replicas, v->pool->n_targets,
			   v->pool->n_targets + v->shard.skipped,
			   plural_s(v->pool->n_targets + v->shard.skipped), v->shard.skipped);
	if (v->reload->ok + v->reload->failed) {
		char ago[32];

		buf_printf(out, "reloads: %llu ok, %llu failed; last %s ago: %s\n",
			   (unsigned long long)v->reload->ok, (unsigned long long)v->reload->failed,
			   format_duration(now - v->reload->last_mono, ago, sizeof(ago)),
			   v->reload->last_msg);
	}
	render_starved_text(v, out);
	buf_printf(out, "%-*s %-*s %-8s %-10s %6s %6s %10s %8s %8s %8s\n", w, "TARGET", aw, "ADDRESS",
		   "STATE", "MODE", "SESS", "ACTIVE", "OK", "FAILED", "P50", "P99");
}

static void render_json_latency(struct buf *out, const char *key, const struct latency *l,
				int window, int64_t now)
{
	struct latency_summary ls;

	latency_summarize(l, window, now, &ls);
	buf_printf(out, "\"%s\":{\"count\":%llu,", key, (unsigned long long)ls.count);
	render_json_ms(out, "p50", ls.p50, ",");
	render_json_ms(out, "p90", ls.p90, ",");
	render_json_ms(out, "p99", ls.p99, ",");
	render_json_ms(out, "max", ls.max, "},");
}

/* A set of CHG_* keys as a JSON array of names. */
static void render_json_changes(struct buf *out, unsigned bits)
{
	const char *sep = "";

	buf_printf(out, "[");
	for (unsigned i = 0; i < _CHG_COUNT; i++) {
		if (bits & (1u << i)) {
			buf_printf(out, "%s\"%s\"", sep, config_change_name(1u << i));
			sep = ",";
		}
	}
	buf_printf(out, "]");
}

/* The health model's figures of a target: verdicts, quorum, ratio, flapping. */
static void render_health_json(const struct target *t, int64_t now, struct buf *out)
{
	const struct target_conf *c = t->conf;
	double ratio = render_recent_ratio(t);

	buf_printf(out, "\"flapping\":%s,\"flapping_for_s\":", t->flapping ? "true" : "false");
	if (t->flapping)
		buf_printf(out, "%.3f,", (double)(now - t->flapping_since) / 1e9);
	else
		buf_printf(out, "null,");
	buf_printf(out, "\"sessions_up\":%u,\"sessions_down\":%u,\"sessions_unknown\":%u,"
		   "\"sessions_starved\":%u,\"down_quorum\":%u,\"degraded_ratio\":%.4f,"
		   "\"recent_results\":%u,\"recent_fail_ratio\":", t->sess_verdict[HEALTH_UP],
		   t->sess_verdict[HEALTH_DOWN], t->sess_verdict[HEALTH_UNKNOWN], t->sess_starved,
		   c->down_quorum, c->degraded_ratio, t->recent_total);
	if (ratio >= 0)
		buf_printf(out, "%.4f,", ratio);
	else
		buf_printf(out, "null,");
}

static void render_target_json(const struct view *v, const struct target *t, int64_t now,
			       struct buf *out)
{
	char detail[128], resolved[80];
	const char *text;
	const struct target_conf *c = t->conf;

	buf_printf(out, "{\"name\":");
	buf_json_string(out, c->name, strlen(c->name));
	buf_printf(out, ",\"address\":");
	buf_json_string(out, c->address_text, strlen(c->address_text));
	format_address(&c->addr, resolved, sizeof(resolved));
	buf_printf(out, ",\"resolved\":");
	buf_json_string(out, resolved, strlen(resolved));
	buf_printf(out, ",\"paused\":%s,\"generation\":%u,\"restarted_at\":", t->paused ? "true" : "false",
		   t->generation);
	if (t->generation)
		buf_printf(out, "%.3f,\"restart_changes\":", (double)t->reset_wall / 1e9);
	else
		buf_printf(out, "null,\"restart_changes\":");
	render_json_changes(out, t->restart_changes);
	buf_printf(out, ",\"runtime_set\":");
	render_json_changes(out, t->runtime_set);
	buf_printf(out, ",\"state\":\"%s\",\"state_for_s\":%.3f,\"health_changes\":%llu,"
		   "\"mode\":\"%s\",\"close\":\"%s\",\"echo\":%s,\"connections\":%u,\"sessions\":%u,"
		   "\"sessions_active\":%u,"
		   "\"interval_ms\":%.3f,\"cycles_ok\":%llu,\"cycles_failed\":%llu,\"errors\":{",
		   t->paused ? "paused" : health_state_name(t->health),
		   (double)(now - t->health_since) / 1e9,
		   (unsigned long long)t->health_changes, target_mode_name(c->mode),
		   close_mode_name(c->close), c->echo ? "true" : "false", c->connections, t->n_sess, pool_target_active(v->pool, t),
		   (double)c->interval / 1e6, (unsigned long long)t->cycles_ok,
		   (unsigned long long)t->cycles_failed);
	for (int e = SERR_NONE + 1; e < _SERR_MAX; e++)
		buf_printf(out, "\"%s\":%llu%s", session_error_name(e),
			   (unsigned long long)t->errors[e], e + 1 < _SERR_MAX ? "," : "},");
	render_health_json(t, now, out);
	render_udp_json(t, out);
	render_tls_json(t, out);
	render_json_latency(out, "latency_ms", &t->cycle_lat, 1, now);
	render_json_latency(out, "latency_total_ms", &t->cycle_lat, 0, now);
	render_json_latency(out, "connect_ms", &t->connect_lat, 1, now);
	render_json_latency(out, "connect_total_ms", &t->connect_lat, 0, now);
	buf_printf(out, "\"retransmits\":%llu,\"cycles_loop_timed\":%llu,",
		   (unsigned long long)t->retransmits, (unsigned long long)t->cycles_loop_timed);
	if (t->cycles_ok)
		buf_printf(out, "\"last_ok_ago_s\":%.3f,", (double)(now - t->last_ok_at) / 1e9);
	else
		buf_printf(out, "\"last_ok_ago_s\":null,");
	buf_printf(out, "\"resolve\":{\"host\":");
	buf_json_string(out, c->host, strlen(c->host));
	buf_printf(out, ",\"family\":\"%s\",\"every_s\":%.3f,\"failures\":%llu,\"error\":",
		   addr_family_name(c->family), (double)c->resolve_every / 1e9,
		   (unsigned long long)t->resolve.failures);
	if (t->resolve.error[0])
		buf_json_string(out, t->resolve.error, strlen(t->resolve.error));
	else
		buf_printf(out, "null");
	buf_printf(out, "},");
	if (t->cycles_failed == 0) {
		buf_printf(out, "\"last_error\":null,\"last_error_detail\":null}");
		return;
	}
	buf_printf(out, "\"last_error\":\"%s\",\"last_error_detail\":",
		   session_error_name(t->last_error));
	text = render_error_detail(t, detail, sizeof(detail));
	buf_json_string(out, text, strlen(text));
	buf_printf(out, ",\"last_error_ago_s\":%.3f}", (double)(now - t->last_error_at) / 1e9);
}

/* What serving metrics has cost: renders, their time and size, the HTTP listener. */
/* The longest each of mconnd's own tasks (the loop's handles) held the loop, less
 * the time it waited for a CPU (wall: false), or on the wall clock (wall: true). */
static void render_json_callbacks(const struct loop_stats *l, bool wall, struct buf *out)
{
	const char *sep = "";

	for (int i = 0; i < LOOP_MAX_HANDLES; i++) {
		if (!l->handle_name[i])
			continue;
		buf_printf(out, "%s", sep);
		buf_json_string(out, l->handle_name[i], strlen(l->handle_name[i]));
		buf_printf(out, ":%.3f",
			   (double)(wall ? l->handle_wall_max_ns[i] : l->handle_max_ns[i]) / 1e6);
		sep = ",";
	}
}

static void render_metrics_json(const struct view *v, struct buf *out)
{
	const struct scrape_stats *s = v->scrape;
	const struct http_stats *h;

	buf_printf(out, "\"metrics\":{\"renders\":%llu,\"last_render_ms\":%.3f,"
		   "\"mean_render_ms\":%.3f,\"max_render_ms\":%.3f,\"last_bytes\":%zu,"
		   "\"listen\":", (unsigned long long)s->renders, (double)s->last_ns / 1e6,
		   s->renders ? (double)s->total_ns / 1e6 / (double)s->renders : 0.0,
		   (double)s->max_ns / 1e6, s->last_bytes);
	if (!v->http) {
		buf_printf(out, "null},");
		return;
	}
	h = v->http;
	buf_printf(out, "\"%s\",\"http_requests\":%llu,\"http_not_found\":%llu,"
		   "\"http_bad_method\":%llu,\"http_failed\":%llu,\"http_gzip\":%llu,"
		   "\"http_gzip_ms\":%.3f},", v->http_address,
		   (unsigned long long)h->requests, (unsigned long long)h->not_found,
		   (unsigned long long)h->bad_method, (unsigned long long)h->failed,
		   (unsigned long long)h->gzip, (double)h->gzip_ns / 1e6);
}

/* mconnd's own shortage: sessions starved and of what (null when none). */
static void render_starved_json(const struct view *v, struct buf *out)
{
	uint32_t starved = pool_starved(v->pool);

	buf_printf(out, ",\"sessions_starved\":%u,\"starved_of\":", starved);
	if (starved)
		buf_printf(out, "\"%s\",\"open_files_limit\":%lld",
			   proto_resource_kind(v->pool->resource_errno), render_nofile());
	else
		buf_printf(out, "null,\"open_files_limit\":%lld", render_nofile());
}

static void render_status_json_head(const struct view *v, int64_t now, struct buf *out)
{
	buf_printf(out, "{\"version\":\"%s\",\"pid\":%d,\"uptime_s\":%.3f,\"config\":",
		   MCONN_VERSION, (int)getpid(), (double)(now - v->start_mono) / 1e9);
	buf_json_string(out, v->config_path, strlen(v->config_path));
	buf_printf(out, ",\"reload\":{\"ok\":%llu,\"failed\":%llu,\"last_at\":",
		   (unsigned long long)v->reload->ok, (unsigned long long)v->reload->failed);
	if (v->reload->last_wall) {
		buf_printf(out, "%.3f,\"last_ok\":%s,\"last_result\":", (double)v->reload->last_wall / 1e9,
			   v->reload->last_ok ? "true" : "false");
		buf_json_string(out, v->reload->last_msg, strlen(v->reload->last_msg));
		buf_printf(out, "}");
	} else {
		buf_printf(out, "null,\"last_ok\":null,\"last_result\":null}");
	}
	render_starved_json(v, out);
	buf_printf(out, ",\"shard\":{\"k\":%u,\"n\":%u,\"replicas\":%u,\"runs\":%zu,\"skips\":%zu}",
		   v->shard.k, v->shard.n, v->shard.replicas, v->pool->n_targets, v->shard.skipped);
	buf_printf(out, ",\"sessions\":%u,\"control\":{\"clients\":%u,\"rejected_busy\":%llu,"
		   "\"timed_out\":%llu,\"evicted\":%llu,\"busy_s\":%.3f,\"busy_max_ms\":%.3f},"
		   "\"loop\":{", v->pool->n_sess, v->ctl->n_clients,
		   (unsigned long long)v->ctl->rejected_busy, (unsigned long long)v->ctl->timed_out,
		   (unsigned long long)v->ctl->evicted, (double)v->ctl->busy_ns / 1e9,
		   (double)v->ctl->busy_max_ns / 1e6);
	render_json_latency(out, "lateness_ms", &v->pool->lateness, 1, now);
	buf_printf(out, "\"turns\":%llu,\"stale_events\":%llu,\"unexpected_events\":%llu,"
		   "\"stalls\":%llu,\"stalled_s\":%.3f,\"callback_max_ms\":{",
		   (unsigned long long)v->loop->turns,
		   (unsigned long long)v->pool->stale_events, (unsigned long long)v->pool->unexpected_events,
		   (unsigned long long)v->loop->stalls, (double)v->loop->stalled_ns / 1e9);
	render_json_callbacks(v->loop, false, out);
	buf_printf(out, "},\"callback_wall_max_ms\":{");
	render_json_callbacks(v->loop, true, out);
	buf_printf(out, "}},");
	render_metrics_json(v, out);
	buf_printf(out, "\"targets\":[");
}

/* TCP_INFO of a session's last cycle: "-" before any reading. */
static void render_session_tcp_text(const struct session *s, struct buf *out)
{
	char rtt[32], var[32];

	if (!s->tcp.rtt_us) {
		buf_printf(out, "%9s %9s %7s\n", "-", "-", "-");
		return;
	}
	buf_printf(out, "%9s %9s %7u\n", format_duration((int64_t)s->tcp.rtt_us * 1000, rtt, sizeof(rtt)),
		   format_duration((int64_t)s->tcp.rttvar_us * 1000, var, sizeof(var)),
		   s->tcp.total_retrans);
}

static void render_session_tcp_json(const struct session *s, struct buf *out)
{
	render_json_ms(out, "rtt_ms", s->tcp.rtt_us ? (int64_t)s->tcp.rtt_us * 1000 : -1, ",");
	render_json_ms(out, "rttvar_ms", s->tcp.rtt_us ? (int64_t)s->tcp.rttvar_us * 1000 : -1, ",");
	buf_printf(out, "\"retransmits\":%u,", s->tcp.total_retrans);
}

static void render_session_row(const struct session *s, uint32_t i, bool json, const char *sep,
			       struct buf *out)
{
	char lat[32];

	if (json) {
		buf_printf(out, "%s{\"index\":%u,\"state\":\"%s\",\"fd\":%d,\"cycles_ok\":%llu,"
			   "\"cycles_failed\":%llu,\"last_result\":", sep, i,
			   session_state_name(s->state), s->fd, (unsigned long long)s->cycles_ok,
			   (unsigned long long)s->cycles_failed);
		if (s->cycles_ok + s->cycles_failed)
			buf_printf(out, "\"%s\",", session_error_name(s->last_result));
		else
			buf_printf(out, "null,");
		buf_printf(out, "\"verdict\":\"%s\",\"starved\":%s,",
			   health_state_name(s->health.verdict), s->health.starved ? "true" : "false");
		render_session_tcp_json(s, out);
		render_json_ms(out, "last_latency_ms", s->last_latency, "}");
		return;
	}
	buf_printf(out, "%6u %-11s %6d %10llu %8llu %-16s %-8s %9s ", i, session_state_name(s->state),
		   s->fd, (unsigned long long)s->cycles_ok, (unsigned long long)s->cycles_failed,
		   (s->cycles_ok + s->cycles_failed) ? session_error_name(s->last_result) : "-",
		   s->health.starved ? "starved" : health_state_name(s->health.verdict),
		   format_duration(s->last_latency, lat, sizeof(lat)));
	render_session_tcp_text(s, out);
}

static void render_sessions_head(const struct target *t, bool json, struct buf *out)
{
	if (json) {
		buf_printf(out, "{\"target\":");
		buf_json_string(out, t->conf->name, strlen(t->conf->name));
		buf_printf(out, ",\"sessions\":[");
	} else {
		buf_printf(out, "%6s %-11s %6s %10s %8s %-16s %-8s %9s %9s %9s %7s\n", "INDEX",
			   "STATE", "FD", "OK", "FAILED", "LAST", "VERDICT", "LATENCY", "RTT",
			   "RTTVAR", "RETRANS");
	}
}

static void render_stats_target(const struct view *v, const struct target *t, int64_t now,
				struct buf *out)
{
	struct latency_summary ls;

	latency_summarize(&t->cycle_lat, 1, now, &ls);
	buf_printf(out, "target name=%s state=%s health=%s state_for_ns=%lld sessions=%u active=%u "
		   "ok=%llu failed=%llu", t->conf->name,
		   t->paused ? "paused" : health_state_name(t->health), health_state_name(t->health),
		   (long long)(now - t->health_since), t->n_sess, pool_target_active(v->pool, t),
		   (unsigned long long)t->cycles_ok, (unsigned long long)t->cycles_failed);
	for (int e = SERR_NONE + 1; e < _SERR_MAX; e++)
		buf_printf(out, " %s=%llu", session_error_name(e), (unsigned long long)t->errors[e]);
	buf_printf(out, " sessions_up=%u sessions_down=%u sessions_unknown=%u starved=%u flapping=%d"
		   " recent_fail_permille=%lld", t->sess_verdict[HEALTH_UP], t->sess_verdict[HEALTH_DOWN],
		   t->sess_verdict[HEALTH_UNKNOWN], t->sess_starved, t->flapping,
		   render_recent_ratio(t) < 0 ? -1LL : (long long)(render_recent_ratio(t) * 1000 + 0.5));
	buf_printf(out, " lat_count=%llu lat_sum_ns=%llu win_ok=%llu win_failed=%llu "
		   "win_p50_ns=%lld win_p99_ns=%lld win_mismatch=%llu",
		   (unsigned long long)t->cycle_lat.total.count,
		   (unsigned long long)t->cycle_lat.total.sum, (unsigned long long)ls.count,
		   (unsigned long long)count_window_sum(&t->fail_win, now), (long long)ls.p50,
		   (long long)ls.p99, (unsigned long long)count_window_sum(&t->mismatch_win, now));
	/* A TLS target's certificate, once one was read (mconnctl check -w cert=). */
	if (t->conf->protocol == TPROTO_TLS && t->tls.cert_not_after)
		buf_printf(out, " cert_not_after=%lld cert_days_left=%lld",
			   (long long)t->tls.cert_not_after,
			   (long long)tls_days_left(t->tls.cert_not_after, wall_ns() / NSEC_PER_SEC));
	buf_printf(out, "\n");
}

static void render_stats_head(const struct view *v, int64_t now, struct buf *out)
{
	buf_printf(out, "daemon version=%s pid=%d uptime_ns=%lld targets=%zu sessions=%u "
		   "reloads_ok=%llu reloads_failed=%llu starved=%u starved_of=%s nofile=%lld\n",
		   MCONN_VERSION, (int)getpid(), (long long)(now - v->start_mono), v->pool->n_targets,
		   v->pool->n_sess, (unsigned long long)v->reload->ok,
		   (unsigned long long)v->reload->failed, pool_starved(v->pool),
		   pool_starved(v->pool) ? proto_resource_kind(v->pool->resource_errno) : "none",
		   render_nofile());
}

const struct target *render_next_target(const struct view *v, struct render_pos *pos)
{
	size_t i = pos->next;

	/* The list changed since the last slice (a reload): go on after the last target
	 * shown if it is still there, else at the same position. */
	if (pos->last[0] && (i == 0 || i > v->pool->n_targets ||
			     strcmp(v->pool->targets[i - 1]->conf->name, pos->last) != 0)) {
		for (size_t k = 0; k < v->pool->n_targets; k++) {
			if (strcmp(v->pool->targets[k]->conf->name, pos->last) == 0) {
				i = k + 1;
				break;
			}
		}
	}
	if (i >= v->pool->n_targets)
		return NULL;
	snprintf(pos->last, sizeof(pos->last), "%s", v->pool->targets[i]->conf->name);
	pos->next = i + 1;
	return v->pool->targets[i];
}

/* The next target a listing shows: every one in turn, or the one it is about (once). */
static const struct target *render_cursor_target(const struct view *v,
						 struct render_cursor *cur)
{
	if (!cur->target[0])
		return render_next_target(v, &cur->pos);
	if (cur->pos.next++ > 0)
		return NULL;
	return pool_find_target(v->pool, cur->target);
}

void render_begin(struct render_cursor *cur, enum render_kind kind, const struct target *t,
		  bool json, int64_t now)
{
	*cur = (struct render_cursor){ .kind = kind, .json = json, .now = now };
	if (t)
		snprintf(cur->target, sizeof(cur->target), "%s", t->conf->name);
}

/* The first lines: what comes before the rows. false when there is no such target. */
static bool render_head(const struct view *v, struct render_cursor *cur, struct buf *out)
{
	const struct target *only = cur->target[0] ? pool_find_target(v->pool, cur->target) : NULL;

	if (cur->target[0] && !only)
		return false;
	switch (cur->kind) {
	case RENDER_STATUS:
		if (cur->json) {
			render_status_json_head(v, cur->now, out);
			break;
		}
		cur->name_w = (int)render_name_width(v, only);
		cur->addr_w = render_address_width(v, only);
		render_status_text_head(v, cur->now, cur->name_w, cur->addr_w, out);
		break;
	case RENDER_SESSIONS:
		if (only)
			render_sessions_head(only, cur->json, out);
		break;
	case RENDER_STATS:
		render_stats_head(v, cur->now, out);
		break;
	}
	return true;
}

/* One row of a status or stats listing; false when there are no more. */
static bool render_target_row(const struct view *v, struct render_cursor *cur, struct buf *out)
{
	const struct target *t = render_cursor_target(v, cur);

	if (!t)
		return false;
	if (cur->kind == RENDER_STATS)
		render_stats_target(v, t, cur->now, out);
	else if (!cur->json)
		render_target_text(v, t, cur->name_w, cur->addr_w, cur->now, out);
	else {
		buf_printf(out, "%s", cur->rows ? "," : "");
		render_target_json(v, t, cur->now, out);
	}
	cur->rows++;
	return true;
}

/* One row of a session listing of t; false when there are no more. */
static bool render_session_next(const struct view *v, const struct target *t,
				struct render_cursor *cur, struct buf *out)
{
	uint32_t i = (uint32_t)cur->rows;

	if (i >= t->n_sess)
		return false;
	render_session_row(&v->pool->sess[t->sess[i]], i, cur->json, i ? "," : "", out);
	cur->rows++;
	return true;
}

/* Rows of a session listing until max bytes; true when it is complete. A target
 * removed since the last slice ends the listing with a word of why. */
static bool render_sessions_rows(const struct view *v, struct render_cursor *cur,
				 struct buf *out, size_t start, size_t max)
{
	const struct target *t = pool_find_target(v->pool, cur->target);

	if (!t) {
		buf_printf(out, cur->json ? "],\"ended\":\"the target was removed\"}\n"
					  : "(the target was removed; the listing ends here)\n");
		return true;
	}
	while (out->len - start < max && !out->overflow)
		if (!render_session_next(v, t, cur, out))
			break;
	if (cur->rows < t->n_sess && !out->overflow)
		return false;
	if (cur->json)
		buf_printf(out, "]}\n");
	return true;
}

bool render_slice(const struct view *v, struct render_cursor *cur, struct buf *out, size_t max)
{
	size_t start = out->len;

	if (!cur->started) {
		cur->started = true;
		if (!render_head(v, cur, out))
			return true;
	}
	if (cur->kind == RENDER_SESSIONS)
		return render_sessions_rows(v, cur, out, start, max);
	while (out->len - start < max && !out->overflow)
		if (!render_target_row(v, cur, out))
			break;
	if (out->len - start >= max && !out->overflow)
		return false;
	if (cur->json && cur->kind == RENDER_STATUS)
		buf_printf(out, "]}\n");
	return true;
}

void render_status(const struct view *v, const struct target *only, bool json, int64_t now,
		   struct buf *out)
{
	struct render_cursor cur;

	render_begin(&cur, RENDER_STATUS, only, json, now);
	while (!render_slice(v, &cur, out, SIZE_MAX))
		;
}

void render_sessions(const struct view *v, const struct target *t, bool json, int64_t now,
		     struct buf *out)
{
	struct render_cursor cur;

	render_begin(&cur, RENDER_SESSIONS, t, json, now);
	while (!render_slice(v, &cur, out, SIZE_MAX))
		;
}

void render_stats(const struct view *v, const struct target *only, int64_t now,
		  struct buf *out)
{
	struct render_cursor cur;

	render_begin(&cur, RENDER_STATS, only, false, now);
	while (!render_slice(v, &cur, out, SIZE_MAX))
		;
}
