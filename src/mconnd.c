/* mconnd: options, configuration, control socket, run, teardown. Everything worth
 * testing lives in the other files. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "ctlcmd.h"
#include "daemon.h"
#include "fleet.h"
#include "log.h"
#include "proto.h"
#include "reconcile.h"
#include "util.h"

/* SIGTERM and SIGINT stop the loop; SIGHUP reloads (a burst of them reloads once). */
static void on_signal(void *owner, int signo)
{
	struct daemon *d = owner;

	if (signo == SIGHUP) {
		log_msg(LOG_NOTICE, "received SIGHUP, reloading %s", d->config_path);
		daemon_reload(d, NULL);
		return;
	}
	log_msg(LOG_NOTICE, "received SIG%s, stopping", sigabbrev_np(signo));
	d->loop.stopping = true;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mconnd [-c FILE] [-t [--shards]] [-v] [--log-target=TARGET] [-h] [-V]\n"
		"Continuous echo health checks (TCP, UDP, TLS), in the foreground; with\n"
		"echo = no in a target, connect checks (TCP, TLS: the handshake).\n"
		"\n"
		"  -c FILE        configuration file (default %s)\n"
		"  -t             check the configuration (and the control socket's path;\n"
		"                 host and group names must resolve within resolve_timeout),\n"
		"                 print 'configuration OK' or every error, exit\n"
		"  --shards       with -t: print which of the fleet's checkers (shard = K/N)\n"
		"                 runs each target, the balance, and what one more moves\n"
		"  -v             log at debug priority (overrides log_level)\n"
		"  --log-target=auto|journal|stderr|syslog\n"
		"                 where the log goes (overrides log_target; auto: the\n"
		"                 journal when stderr is connected to it, else stderr)\n"
		"  -h, --help     show this help and exit\n"
		"  -V, --version  show the version and exit\n"
		"\n"
		"Signals: SIGTERM and SIGINT stop cleanly; SIGHUP reloads the configuration\n"
		"(as 'mconnctl reload' does). Query and change the daemon with mconnctl(8).\n"
		"See mconnd(8) and mconnd.conf(5).\n",
		CONFIG_DEFAULT_PATH);
}

/* The enum log_sink named, or -1. */
static int log_target_parse(const char *name)
{
	for (int i = 0; log_sink_names[i]; i++)
		if (strcmp(name, log_sink_names[i]) == 0)
			return i;
	return -1;
}

static void print_errors(const struct config_errors *errs)
{
	char line[1024];

	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "%s\n", config_error_format(&errs->v[i], line, sizeof(line)));
	if (errs->dropped)
		fprintf(stderr, "(%zu more errors not shown)\n", errs->dropped);
}

/* What this checker runs of a fleet's configuration; with all, the whole assignment. */
static void print_fleet(const struct config *cfg, bool all)
{
	struct buf b;

	buf_init(&b, 16u << 20);
	fleet_summary(cfg, &b);
	if (all)
		fleet_report(cfg, true, &b);
	fwrite(b.data ? b.data : "", 1, b.len, stdout);
	buf_free(&b);
}

int main(int argc, char **argv)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, 0 };
	static struct daemon d;
	const char *path = CONFIG_DEFAULT_PATH;
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	struct resolver *res;
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "log-target", required_argument, NULL, 'L' },
		{ "shards", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int log_target_cli = -1;
	bool test_only = false, verbose = false, shards = false;
	char bad[64];
	int opt, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:tvhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 't': test_only = true; break;
		case 'S': shards = test_only = true; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("mconnd %s\n", MCONN_VERSION); return 0;
		case 'L':
			log_target_cli = log_target_parse(optarg);
			if (log_target_cli < 0) {
				fprintf(stderr, "mconnd: --log-target=%s: expected auto, journal, stderr or syslog\n",
					optarg);
				return 2;
			}
			break;
		case ':':
			fprintf(stderr, "mconnd: option -%c needs an argument\n", optopt);
			return 2;
		default:
			fprintf(stderr, "mconnd: unknown option %s\n",
				util_bad_option(argv, bad, sizeof(bad)));
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mconnd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_open(LOG_INFO, log_target_cli >= 0 ? log_target_cli : LOG_SINK_AUTO);
	/* Names are looked up by the resolver's threads here too, before any loop runs,
	 * so a dead resolver is an error after resolve_timeout, not a hang. */
	r = resolver_new(RESOLVE_THREADS, &res);
	if (r < 0)
		fatal("cannot start the resolver: %s", strerror(-r));
	if (config_load(path, false, &cfg, &errs) < 0 || config_resolve(cfg, res, &errs) < 0) {
		config_free(cfg);
		print_errors(&errs);
		config_errors_clear(&errs);
		resolver_free(res);
		return 1;
	}
	daemon_warn_tls_keys(cfg);
	if (test_only) {
		char err[256];

		if (ctl_check_path(cfg->control_socket, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: control_socket: %s\n", path, err);
			config_free(cfg);
			resolver_free(res);
			return 1;
		}
		printf("configuration OK: %zu target%s, %llu connection%s\n", cfg->n_targets,
		       plural_s(cfg->n_targets), (unsigned long long)cfg->total_connections,
		       plural_s(cfg->total_connections));
		print_fleet(cfg, shards);
		config_free(cfg);
		resolver_free(res);
		return 0;
	}
	log_open(verbose ? LOG_DEBUG : cfg->log_level,
		 log_target_cli >= 0 ? log_target_cli : cfg->log_target);
	r = daemon_init(&d, cfg, path);
	d.verbose = verbose;
	d.log_target_cli = log_target_cli;
	if (r >= 0)
		r = loop_signals(&d.loop, signals, on_signal, &d);
	if (r >= 0)
		r = daemon_open_resolver(&d, res);
	else
		resolver_free(res);
	if (r >= 0)
		r = daemon_watch_names(&d);
	if (r < 0)
		fatal("cannot start: %s", strerror(-r));
	if (daemon_open_control(&d, ctlcmd_dispatch, &d) < 0 || daemon_open_metrics(&d) < 0) {
		daemon_free(&d);
		return 1;
	}
	log_msg(LOG_NOTICE, "mconnd %s started: %zu target%s, %u session%s, control socket %s",
		MCONN_VERSION, d.pool.n_targets, plural_s(d.pool.n_targets), d.pool.n_sess,
		plural_s(d.pool.n_sess),
		d.ctl.activated ? "passed by systemd" : d.cfg->control_socket);
	r = daemon_run(&d);
	daemon_reload_cancel(&d);
	daemon_free(&d);
	if (r < 0)
		fatal("event loop failed: %s", strerror(-r));
	log_msg(LOG_NOTICE, "mconnd stopped");
	return 0;
}
