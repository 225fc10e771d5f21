/* Unit tests for the reload that waits for its names, driven through the control
 * socket of an in-process daemon whose resolver has no thread: a name is never
 * answered, so its resolve_timeout decides, deterministically and without DNS. The
 * loop answers other clients meanwhile; a reload asked for during it runs after it,
 * on the files as they are then. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "reconcile.h"
#include "pool.h"
#include "resolve.h"
#include "shard.h"
#include "target.h"
#include "util.h"
#include "check_main.h"
#include "ctlharness.h"

static struct daemon *d;

/* Write the configuration file the daemon reloads. */
static void write_conf(const char *address)
{
	FILE *f = fopen(harness.conf_path, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "[daemon]\ncontrol_socket = %s\nresolve_timeout = 200ms\n"
		   "[target \"a\"]\naddress = %s\ninterval = 1s\n",
		harness.sock_path, address);
	ck_assert_int_eq(fclose(f), 0);
}

/* Write a fleet's configuration: shard k of 2, replicas 1, targets t0..t19. */
static void write_fleet_conf(unsigned k)
{
	FILE *f = fopen(harness.conf_path, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "[daemon]\ncontrol_socket = %s\nshard = %u/2\n", harness.sock_path, k);
	for (int i = 0; i < 20; i++)
		fprintf(f, "[target \"t%d\"]\naddress = 127.0.0.1:%u\ninterval = 1h\n", i,
			harness.port);
	ck_assert_int_eq(fclose(f), 0);
}

/* Whether the daemon runs exactly the targets of shard k of 2 and sessions for them. */
static void assert_runs_shard(unsigned k)
{
	size_t want = 0;

	for (int i = 0; i < 20; i++) {
		char name[16];
		bool mine;

		snprintf(name, sizeof(name), "t%d", i);
		mine = shard_owners(name, NULL, 2, 1) & SHARD_BIT(k);
		want += mine;
		ck_assert_msg(!!pool_find_target(&d->pool, name) == mine, "%s %s on shard %u", name,
			      mine ? "missing" : "running", k);
	}
	ck_assert_uint_eq(d->pool.n_targets, want);
	ck_assert_uint_eq(d->cfg->n_skipped, 20 - want);
}

static void daemon_setup(void)
{
	struct resolver *r;
	char text[512], addr[64];

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", harness.port);
	write_conf(addr);
	snprintf(text, sizeof(text), "[daemon]\ncontrol_socket = %s\n[target \"a\"]\naddress = %s\n",
		 harness.sock_path, addr);
	d = harness_daemon_start(text, harness.conf_path);
	ck_assert_int_eq(resolver_new(0, &r), 0);
	ck_assert_int_eq(daemon_open_resolver(d, r), 0);
}

static void daemon_teardown(void)
{
	harness_clients_close_all();
	daemon_reload_cancel(d);
	harness_daemon_free(d);
	d = NULL;
	unlink(harness.conf_path);
}

/* The reload's reply waits for resolve_timeout while status is answered at once; it
 * names the target, the key and the name, and nothing changes. */
START_TEST(test_reload_waits_for_names)
{
	int reload = harness_client_connect(), status = harness_client_connect();
	struct harness_rx rx = { 0 }, srx = { 0 };
	char got[HARNESS_RX_MAX];
	int64_t start = now_ns();

	write_conf("never.example:7");
	HARNESS_SEND_STR(reload, "reload\n");
	HARNESS_TURN_UNTIL(d, d->reload_job != NULL);
	HARNESS_SEND_STR(status, "version\n");
	harness_pump_replies(d, status, &srx, 1);
	harness_rx_drain(reload, &rx);
	ck_assert_uint_eq(rx.len, 0);
	harness_pump_replies(d, reload, &rx, 1);
	ck_assert_int_ge(now_ns() - start, 200 * NSEC_PER_MSEC);
	harness_rx_pop(&rx, got, sizeof(got));
	ck_assert_msg(strncmp(got, "ERR reload failed", 17) == 0, "%s", got);
	ck_assert_msg(strstr(got, ": address: [target \"a\"]: cannot resolve 'never.example': "
				  "no answer within 200ms (resolve_timeout)\n"), "%s", got);
	ck_assert_ptr_null(d->reload_job);
	ck_assert_uint_eq(d->reload.failed, 1);
	ck_assert_str_ne(d->pool.targets[0]->conf->address_text, "never.example:7");
}
END_TEST

/* A reload asked for while one waits runs after it, reading the files then: each
 * client gets the outcome of the reload that started after its request. */
START_TEST(test_reload_during_reload)
{
	int first = harness_client_connect(), second = harness_client_connect();
	struct harness_rx rx1 = { 0 }, rx2 = { 0 };
	char got[HARNESS_RX_MAX], addr[64];

	write_conf("never.example:7");
	HARNESS_SEND_STR(first, "reload\n");
	HARNESS_TURN_UNTIL(d, d->reload_job != NULL);
	snprintf(addr, sizeof(addr), "127.0.0.2:%u", harness.port);
	write_conf(addr);
	HARNESS_SEND_STR(second, "reload\n");
	harness_pump_replies(d, first, &rx1, 1);
	harness_pump_replies(d, second, &rx2, 1);
	ck_assert_msg(strncmp(harness_rx_pop(&rx1, got, sizeof(got)), "ERR reload failed", 17) == 0,
		      "%s", got);
	harness_rx_pop(&rx2, got, sizeof(got));
	ck_assert_msg(strncmp(got, "OK\n", 3) == 0 && strstr(got, "restarted a: address"), "%s", got);
	ck_assert_uint_eq(d->reload.failed, 1);
	ck_assert_uint_eq(d->reload.ok, 1);
	ck_assert_str_eq(d->pool.targets[0]->conf->address_text, addr);
}
END_TEST

/* A change of shard is a reload like any other: the targets that move in start, those
 * that move out drain, and the reply says which moved where. */
START_TEST(test_reload_moves_shard)
{
	struct buf out;

	buf_init(&out, 1 << 20);
	write_fleet_conf(1);
	ck_assert_int_eq(daemon_reload(d, &out), 0);
	assert_runs_shard(1);
	ck_assert_msg(strstr(out.data, "removed a\n") && strstr(out.data, "added t"), "%s", out.data);
	out.len = 0;
	write_fleet_conf(2);
	ck_assert_int_eq(daemon_reload(d, &out), 0);
	assert_runs_shard(2);
	ck_assert_msg(strstr(out.data, "moved in t") && strstr(out.data, "changed [daemon]: shard"),
		      "%s", out.data);
	ck_assert_msg(strstr(out.data, ": shard 2/2 no longer runs it (shards 1 do)\n"), "%s",
		      out.data);
	buf_free(&out);
}
END_TEST

/* Issue 14: a value set back to what the file says is no longer marked as set at run
 * time; the other keys set stay marked. */
START_TEST(test_set_back_to_file_value)
{
	struct target *t = d->pool.targets[0];
	char err[256];

	ck_assert_int_eq(daemon_set(d, t, "interval", "500ms", err, sizeof(err)), 0);
	ck_assert_int_eq(daemon_set(d, t, "rise", "5", err, sizeof(err)), 0);
	ck_assert_uint_eq(t->runtime_set, CHG_INTERVAL | CHG_RISE);
	ck_assert_int_eq(daemon_set(d, t, "interval", "1s", err, sizeof(err)), 0);
	ck_assert_uint_eq(t->runtime_set, CHG_RISE);
	ck_assert_int_eq(daemon_set(d, t, "rise", "2", err, sizeof(err)), 0);
	ck_assert_uint_eq(t->runtime_set, 0);
}
END_TEST

static Suite *reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("names");

	tcase_add_unchecked_fixture(tc, harness_scratch_setup, harness_scratch_teardown);
	tcase_add_checked_fixture(tc, daemon_setup, daemon_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_reload_waits_for_names);
	tcase_add_test(tc, test_reload_during_reload);
	tcase_add_test(tc, test_reload_moves_shard);
	tcase_add_test(tc, test_set_back_to_file_value);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(reload_suite)
