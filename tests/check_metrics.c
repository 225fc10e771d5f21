/* Unit tests for the Prometheus rendering (metrics.c): a daemon with two targets on a
 * loopback port that refuses is started in-process (ctlharness.c), its sessions held
 * so nothing changes under the test, counters and latencies set on the targets
 * directly, and the exposition checked line by line: HELP and TYPE before every
 * family's samples, the values, cumulative histogram buckets, label escaping; and the
 * `metrics` command over the control socket. promtool checks the real output in the
 * integration tests. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "daemon.h"
#include "histogram.h"
#include "metrics.h"
#include "proto.h"
#include "target.h"
#include "timer.h"
#include "util.h"
#include "check_main.h"
#include "ctlharness.h"

#define SEC NSEC_PER_SEC
#define MS NSEC_PER_MSEC
#define US NSEC_PER_USEC

static struct daemon *d;
static struct buf out;
static char labels_a[96];

static void daemon_setup(void)
{
	char text[1024];
	int64_t later = now_ns() + 3600 * SEC;

	snprintf(text, sizeof(text),
		 "[daemon]\ncontrol_socket = %s\n"
		 "[target \"a\"]\naddress = 127.0.0.1:%u\nconnections = 2\ninterval = 1h\n"
		 "labels = team=web, tier=e\"d\\ge\n"
		 "[target \"b\"]\naddress = 127.0.0.1:%u\nconnections = 3\ninterval = 1h\n",
		 harness.sock_path, harness.port, harness.port);
	d = harness_daemon_start(text, harness.conf_path);
	for (size_t i = 0; i < d->pool.n_targets; i++)
		for (uint32_t k = 0; k < d->pool.targets[i]->n_sess; k++)
			timer_set(&d->loop.timers, d->pool.targets[i]->sess[k], later);
	snprintf(labels_a, sizeof(labels_a), "target=\"a\",team=\"web\",tier=\"e\\\"d\\\\ge\"");
	buf_init(&out, CTL_MAX_REPLY);
}

static void daemon_teardown(void)
{
	harness_clients_close_all();
	harness_daemon_free(d);
	d = NULL;
	buf_free(&out);
}

static const char *render(void)
{
	struct view v;

	out.len = 0;
	daemon_view(d, &v);
	metrics_render(&v, now_ns(), &out);
	ck_assert(!out.overflow);
	return out.data;
}

/* Return the value of the sample line "NAME{LABELS} VALUE", or fail the test. */
static double sample(const char *text, const char *name, const char *labels)
{
	char key[512];
	const char *p;

	snprintf(key, sizeof(key), "\n%s{%s} ", name, labels);
	p = strstr(text, key);
	ck_assert_msg(p, "no sample %s{%s}", name, labels);
	return strtod(p + strlen(key), NULL);
}

/* Every family is introduced by HELP then TYPE, and every sample belongs to the
 * family last introduced; no empty line (an empty line would end a control reply). */
START_TEST(test_families_declared)
{
	static const char *const families[] = {
		"mconn_build_info", "mconn_shard_info", "mconn_fleet_checkers",
		"mconn_shard_skipped_targets", "mconn_start_time_seconds", "mconn_config_reloads_total",
		"mconn_config_last_reload_successful", "process_cpu_seconds_total",
		"process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds",
		"process_max_fds", "process_start_time_seconds", "mconn_target_info",
		"mconn_target_up", "mconn_target_paused",
		"mconn_target_state", "mconn_health_changes_total", "mconn_target_flapping",
		"mconn_sessions_verdict", "mconn_sessions_starved", "mconn_sessions",
		"mconn_sessions_active", "mconn_cycles_total", "mconn_cycle_duration_seconds",
		"mconn_connect_duration_seconds", "mconn_target_retransmits_total",
		"mconn_resolve_failures_total", "mconn_target_replicas",
		"mconn_udp_datagrams_sent_total", "mconn_udp_duplicates_total",
		"mconn_udp_late_total", "mconn_udp_loss_ratio", "mconn_tls_handshake_seconds",
		"mconn_tls_handshakes_total", "mconn_tls_cert_not_after_seconds",
	};
	const char *text = render(), *p = text;
	char family[128] = "", line[1024];
	size_t seen = 0;

	while (*p) {
		size_t n = strcspn(p, "\n");

		ck_assert_uint_gt(n, 0);
		ck_assert_uint_lt(n, sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (p[n] == '\n');
		if (strncmp(line, "# HELP ", 7) == 0) {
			ck_assert_uint_lt(seen, ELEMENTSOF(families));
			ck_assert_str_eq(strtok(line + 7, " "), families[seen]);
			snprintf(family, sizeof(family), "%s", families[seen++]);
			ck_assert(strncmp(p, "# TYPE ", 7) == 0);
			ck_assert(strncmp(p + 7, family, strlen(family)) == 0);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0)
			continue;
		ck_assert_msg(strncmp(line, family, strlen(family)) == 0 &&
			      strchr("{ _", line[strlen(family)]), "'%s' outside family %s", line, family);
	}
	ck_assert_uint_eq(seen, ELEMENTSOF(families));
	ck_assert(strstr(text, "# TYPE mconn_cycles_total counter\n"));
	ck_assert(strstr(text, "# TYPE mconn_cycle_duration_seconds histogram\n"));
	ck_assert(strstr(text, "# TYPE mconn_target_up gauge\n"));
	ck_assert(strstr(text, "mconn_build_info{version=\"" MCONN_VERSION "\"} 1\n"));
	ck_assert(strstr(text, "\nmconn_shard_info{shard=\"1\",shards=\"1\",replicas=\"1\"} 1\n"));
	ck_assert(strstr(text, "\nmconn_shard_skipped_targets 0\n"));
	ck_assert(strstr(text, "\nmconn_fleet_checkers 1\n"));
	ck_assert(sample(text, "mconn_target_replicas", labels_a) == 1);
}
END_TEST

/* Health, sessions and every result class show the targets' own values. */
START_TEST(test_values)
{
	struct target *a = d->pool.targets[0];
	char l[256];
	const char *text;

	a->health = HEALTH_DOWN;
	a->health_changes = 5;
	a->cycles_ok = 7;
	a->errors[SERR_REFUSED] = 3;
	a->errors[SERR_RESOURCE] = 2;
	text = render();
	ck_assert(sample(text, "mconn_target_up", labels_a) == 0);
	snprintf(l, sizeof(l), "%s,state=\"down\"", labels_a);
	ck_assert(sample(text, "mconn_target_state", l) == 1);
	snprintf(l, sizeof(l), "%s,state=\"up\"", labels_a);
	ck_assert(sample(text, "mconn_target_state", l) == 0);
	ck_assert(sample(text, "mconn_health_changes_total", labels_a) == 5);
	ck_assert(sample(text, "mconn_sessions", labels_a) == 2);
	ck_assert(sample(text, "mconn_sessions_active", labels_a) == 0);
	for (int k = 0; k < PROTO_N_RESULTS; k++) {
		double want = k == 0 ? 7 : k == SERR_REFUSED ? 3 : k == SERR_RESOURCE ? 2 : 0;

		snprintf(l, sizeof(l), "%s,result=\"%s\"", labels_a, proto_result_names[k]);
		ck_assert_msg(sample(text, "mconn_cycles_total", l) == want, "%s", l);
	}
	a->health = HEALTH_DEGRADED;
	a->flapping = true;
	a->sess_verdict[HEALTH_UP] = 1;
	a->sess_verdict[HEALTH_DOWN] = 1;
	a->sess_verdict[HEALTH_UNKNOWN] = 0;
	a->sess_starved = 4;
	text = render();
	ck_assert(sample(text, "mconn_target_up", labels_a) == 0);
	snprintf(l, sizeof(l), "%s,state=\"degraded\"", labels_a);
	ck_assert(sample(text, "mconn_target_state", l) == 1);
	ck_assert(sample(text, "mconn_target_flapping", labels_a) == 1);
	snprintf(l, sizeof(l), "%s,verdict=\"down\"", labels_a);
	ck_assert(sample(text, "mconn_sessions_verdict", l) == 1);
	snprintf(l, sizeof(l), "%s,verdict=\"unknown\"", labels_a);
	ck_assert(sample(text, "mconn_sessions_verdict", l) == 0);
	ck_assert(sample(text, "mconn_sessions_starved", labels_a) == 4);
	a->flapping = false;
	a->health = HEALTH_UP;
	text = render();
	ck_assert(sample(text, "mconn_target_up", labels_a) == 1);
	ck_assert(sample(text, "mconn_target_flapping", labels_a) == 0);
	ck_assert(sample(text, "mconn_target_paused", labels_a) == 0);
	a->paused = true;
	text = render();
	ck_assert(sample(text, "mconn_target_up", labels_a) == 0);
	ck_assert(sample(text, "mconn_target_paused", labels_a) == 1);
	snprintf(l, sizeof(l), "%s,state=\"up\"", labels_a);
	ck_assert(sample(text, "mconn_target_state", l) == 1);
	text = strstr(text, "\nmconn_start_time_seconds ");
	ck_assert(text && strtod(text + 26, NULL) > 1.6e9);
}
END_TEST

/* Reloads by result; the last one's outcome, 1 before any (the start's load was good). */
START_TEST(test_reloads)
{
	const char *text = render();

	ck_assert(sample(text, "mconn_config_reloads_total", "result=\"ok\"") == 0);
	ck_assert(sample(text, "mconn_config_reloads_total", "result=\"failed\"") == 0);
	ck_assert(strstr(text, "\nmconn_config_last_reload_successful 1\n"));
	d->reload.ok = 3;
	d->reload.failed = 2;
	d->reload.last_ok = false;
	text = render();
	ck_assert(sample(text, "mconn_config_reloads_total", "result=\"ok\"") == 3);
	ck_assert(sample(text, "mconn_config_reloads_total", "result=\"failed\"") == 2);
	ck_assert(strstr(text, "\nmconn_config_last_reload_successful 0\n"));
	d->reload.last_ok = true;
	ck_assert(strstr(render(), "\nmconn_config_last_reload_successful 1\n"));
}
END_TEST

/* Buckets are cumulative, a value at a bound counts under it, +Inf and _count hold
 * every value, _sum is in seconds. */
START_TEST(test_histogram)
{
	static const int64_t values[] = { 30 * US, 120 * US, 1 * MS, 3 * MS, 20 * SEC };
	static const char *const les[] = { "0.00005", "0.0001", "0.00025", "0.0005", "0.001",
					   "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
					   "0.25", "0.5", "1", "2.5", "5", "10" };
	struct target *a = d->pool.targets[0];
	int64_t now = now_ns();
	const char *text;
	char l[256];
	double prev = 0, sum = 0;

	for (size_t i = 0; i < ELEMENTSOF(values); i++) {
		latency_record(&a->cycle_lat, values[i], now);
		sum += (double)values[i] / 1e9;
	}
	text = render();
	ck_assert_uint_eq(HIST_LE_N, ELEMENTSOF(les));
	for (size_t k = 0; k < HIST_LE_N; k++) {
		int64_t b = hist_le_ns[k];
		double want = 0, got;

		for (size_t i = 0; i < ELEMENTSOF(values); i++)
			want += values[i] <= b;
		snprintf(l, sizeof(l), "%s,le=\"%s\"", labels_a, les[k]);
		got = sample(text, "mconn_cycle_duration_seconds_bucket", l);
		ck_assert_msg(got == want, "le=%s: %g, want %g", les[k], got, want);
		ck_assert(got >= prev);
		prev = got;
	}
	snprintf(l, sizeof(l), "%s,le=\"+Inf\"", labels_a);
	ck_assert(sample(text, "mconn_cycle_duration_seconds_bucket", l) == 5);
	ck_assert(sample(text, "mconn_cycle_duration_seconds_count", labels_a) == 5);
	ck_assert_double_eq_tol(sample(text, "mconn_cycle_duration_seconds_sum", labels_a), sum, 1e-6);
	ck_assert(sample(text, "mconn_connect_duration_seconds_count", labels_a) == 0);
}
END_TEST

/* Every le count is exact: a value just below, at and just above each bound (and 3 %
 * above, where a log-linear bucket used to be folded under the bound) counts under
 * exactly the bounds at or above it. */
START_TEST(test_histogram_exact_edges)
{
	static const int64_t offsets[] = { -1, 0, 1, 0 };
	struct target *a = d->pool.targets[0];
	int64_t now = now_ns(), recorded[4 * 17 + 1];
	size_t n = 0;
	const char *text;
	char l[256], le[32];

	for (size_t k = 0; k < HIST_LE_N; k++) {
		for (size_t j = 0; j < ELEMENTSOF(offsets); j++) {
			int64_t b = hist_le_ns[k];
			int64_t v = j == 3 ? b + b / 33 : b + offsets[j];

			ck_assert_uint_lt(n, ELEMENTSOF(recorded));
			recorded[n++] = v;
			latency_record(&a->cycle_lat, v, now);
		}
	}
	text = render();
	for (size_t k = 0; k < HIST_LE_N; k++) {
		uint64_t want = 0;
		double got;

		for (size_t i = 0; i < n; i++)
			want += recorded[i] <= hist_le_ns[k];
		snprintf(le, sizeof(le), "%.9f", (double)hist_le_ns[k] / 1e9);
		/* As the le label writes it: no trailing zeros, no trailing point. */
		for (size_t e = strlen(le); e > 1 && (le[e - 1] == '0' || le[e - 1] == '.'); e--) {
			bool point = le[e - 1] == '.';

			le[e - 1] = '\0';
			if (point)
				break;
		}
		snprintf(l, sizeof(l), "%s,le=\"%s\"", labels_a, le);
		got = sample(text, "mconn_cycle_duration_seconds_bucket", l);
		ck_assert_msg(got == (double)want, "le=%s: %g, want %llu", le, got,
			      (unsigned long long)want);
	}
}
END_TEST

/* Counters and buckets never go back as more cycles are counted. */
START_TEST(test_monotonic)
{
	struct target *a = d->pool.targets[0];
	struct session_result ok = { .err = SERR_NONE, .connect_ns = 40 * US };
	struct health_change hc;
	char l[256], prev_text[65536];
	int64_t now = now_ns();

	snprintf(l, sizeof(l), "%s,le=\"0.001\"", labels_a);
	snprintf(prev_text, sizeof(prev_text), "%s", render());
	for (int round = 0; round < 20; round++) {
		const char *text;

		for (int i = 0; i < 50; i++) {
			ok.cycle_ns = (int64_t)((unsigned)(round * 7919 + i * 104729) % 5000) * US;
			target_record_result(a, &d->pool.sess[a->sess[0]].health, &ok,
					     now + round * 11 * SEC, &hc);
		}
		text = render();
		ck_assert(sample(text, "mconn_cycle_duration_seconds_bucket", l) >=
			  sample(prev_text, "mconn_cycle_duration_seconds_bucket", l));
		ck_assert(sample(text, "mconn_cycle_duration_seconds_count", labels_a) ==
			  50.0 * (round + 1));
		snprintf(prev_text, sizeof(prev_text), "%s", text);
	}
}
END_TEST

/* Issue 14: the address is in mconn_target_info only, beside the resolved address,
 * the protocol and the mode; every other series of a target carries target and its
 * own labels, so it survives an address change. */
START_TEST(test_target_info)
{
	char l[512];
	const char *text = render(), *p;

	snprintf(l, sizeof(l), "%s,address=\"127.0.0.1:%u\",resolved=\"127.0.0.1:%u\","
		 "protocol=\"tcp\",mode=\"cycle\"", labels_a, harness.port, harness.port);
	ck_assert(sample(text, "mconn_target_info", l) == 1);
	snprintf(l, sizeof(l), "target=\"b\",address=\"127.0.0.1:%u\",resolved=\"127.0.0.1:%u\","
		 "protocol=\"tcp\",mode=\"cycle\"", harness.port, harness.port);
	ck_assert(sample(text, "mconn_target_info", l) == 1);
	ck_assert(sample(text, "mconn_sessions", "target=\"b\"") == 3);
	for (p = strstr(text, "address=\""); p; p = strstr(p + 1, "address=\"")) {
		const char *line = p;

		while (line > text && line[-1] != '\n')
			line--;
		ck_assert_msg(strncmp(line, "mconn_target_info{", 18) == 0, "address in '%.80s'", line);
	}
}
END_TEST

/* Issue 14: the process_* series as client libraries export them. */
/* The value of the unlabelled sample "NAME VALUE", or fail the test. */
static double plain(const char *text, const char *name)
{
	char key[128];
	const char *p;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(text, key);
	ck_assert_msg(p, "no sample %s", name);
	return strtod(p + strlen(key), NULL);
}

START_TEST(test_process_series)
{
	struct rlimit rl;
	const char *text = render();

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
	ck_assert(strstr(text, "# TYPE process_open_fds gauge\n"));
	ck_assert(plain(text, "process_cpu_seconds_total") >= 0);
	ck_assert(plain(text, "process_resident_memory_bytes") > 1e5);
	ck_assert(plain(text, "process_virtual_memory_bytes") > plain(text, "process_resident_memory_bytes"));
	ck_assert(plain(text, "process_open_fds") >= 3);
	ck_assert(plain(text, "process_open_fds") < (double)rl.rlim_cur);
	ck_assert(plain(text, "process_max_fds") == (double)rl.rlim_cur);
	ck_assert(plain(text, "process_start_time_seconds") == plain(text, "mconn_start_time_seconds"));
}
END_TEST

START_TEST(test_label_escape)
{
	char o[64];

	ck_assert_uint_eq(metrics_label_escape("a\"b\\c\nd", o, sizeof(o)), 10);
	ck_assert_str_eq(o, "a\\\"b\\\\c\\nd");
	ck_assert_uint_eq(metrics_label_escape("plain-name_1.2:3", o, sizeof(o)), 16);
	ck_assert_str_eq(o, "plain-name_1.2:3");
	metrics_label_escape("\"\"\"\"", o, 6);
	ck_assert_str_eq(o, "\\\"\\\"");
}
END_TEST

/* The control command answers OK with the exposition and counts the render. */
START_TEST(test_command)
{
	static struct harness_rx rx;
	static char reply[HARNESS_RX_MAX];
	int fd = harness_client_connect();

	HARNESS_SEND_STR(fd, "metrics\nversion\n");
	harness_pump_replies(d, fd, &rx, 2);
	harness_rx_pop(&rx, reply, sizeof(reply));
	ck_assert(strncmp(reply, "OK\n# HELP mconn_build_info ", 27) == 0);
	ck_assert(strstr(reply, "\nmconn_sessions{target=\"b\""));
	harness_rx_pop(&rx, reply, sizeof(reply));
	ck_assert_str_eq(reply, "OK\nmconnd " MCONN_VERSION "\n\n");
	ck_assert_uint_eq(d->scrape.renders, 1);
	ck_assert_uint_gt(d->scrape.last_bytes, 1000);
	ck_assert_int_ge(d->scrape.max_ns, d->scrape.last_ns);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("render");

	tcase_add_unchecked_fixture(tc, harness_scratch_setup, harness_scratch_teardown);
	tcase_add_checked_fixture(tc, daemon_setup, daemon_teardown);
	tcase_add_test(tc, test_families_declared);
	tcase_add_test(tc, test_target_info);
	tcase_add_test(tc, test_process_series);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_reloads);
	tcase_add_test(tc, test_histogram);
	tcase_add_test(tc, test_histogram_exact_edges);
	tcase_add_test(tc, test_monotonic);
	tcase_add_test(tc, test_label_escape);
	tcase_add_test(tc, test_command);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(metrics_suite)
