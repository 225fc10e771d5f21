/* mconnctl: send one request to mconnd's control socket and print the reply.
 * Exit status: 0 done, 1 the daemon answered ERR, 2 usage, 3 daemon unreachable. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlclient.h"
#include "mconnctl.h"
#include "proto.h"
#include "util.h"

#define EXIT_ERR 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mconnctl [-s SOCKET] [-j] COMMAND [ARGS]\n"
		"Ask a running mconnd.\n"
		"\n"
		"Commands:\n"
		"  status [TARGET]     health, counters, failures by class, latency\n"
		"  sessions TARGET     each session's state, cycles, last result and latency\n"
		"  stats [TARGET]      KEY=VALUE lines for scripts, with the last minute\n"
		"  metrics             Prometheus text format (0.0.4)\n"
		"  check TARGET [-w THRESHOLDS] [-c THRESHOLDS]\n"
		"                      monitoring-plugins check; see 'mconnctl check -h'\n"
		"  top [-b] [-d SECONDS] [-n N]\n"
		"                      live view; q or Ctrl-C quits; see 'mconnctl top -h'\n"
		"  help                the commands the daemon knows\n"
		"  version             the daemon's version\n"
		"Commands that change the daemon (root, mconnd's user or admin_group):\n"
		"  reload              read the configuration files again, apply what changed\n"
		"                      (waits while host names resolve, up to resolve_timeout)\n"
		"  set TARGET KEY VALUE  change connections, interval, connect_timeout,\n"
		"                      timeout, rise, fall or a health key (down_quorum,\n"
		"                      degraded_ratio, flap_threshold, flap_window,\n"
		"                      interval_down, interval_changing) until the next reload\n"
		"  pause TARGET        close a target's sessions, keep its counters\n"
		"  resume TARGET       start a paused target again\n"
		"\n"
		"Options:\n"
		"  -s SOCKET      control socket (default: $MCONND_SOCKET, else %s)\n"
		"  -j             JSON output\n"
		"  -h, --help     show this help\n"
		"  -V, --version  show mconnctl's version\n"
		"\n"
		"Exit status: 0 done, 1 the daemon answered ERR, 2 usage, 3 daemon unreachable;\n"
		"check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
		"See mconnctl(8).\n",
		CTL_DEFAULT_SOCKET);
}

/* Join the command words into one request line; -EINVAL on unusable words. */
static int build_request(int argc, char **argv, bool json, struct buf *req)
{
	for (int i = 0; i < argc; i++) {
		if (argv[i][0] == '\0' || strpbrk(argv[i], " \t\r\n"))
			return -EINVAL;
		buf_printf(req, "%s%s", i ? " " : "", argv[i]);
	}
	if (json)
		buf_printf(req, " -j");
	return req->overflow || req->len >= CTL_MAX_LINE ? -E2BIG : 0;
}

int main(int argc, char **argv)
{
	const char *path = getenv("MCONND_SOCKET");
	struct buf req, reply;
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	char err[512];
	int opt, rc;

	if (path && !*path)
		path = NULL;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:s:jhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': path = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("mconnctl %s\n", MCONN_VERSION); return 0;
		case ':':
			fprintf(stderr, "mconnctl: option -%c needs an argument\n", optopt);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "mconnctl: unknown option %s\n", util_bad_option(argv, err, sizeof(err)));
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "mconnctl: no command given\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (path && !*path) {
		fprintf(stderr, "mconnctl: empty socket path\n");
		return EXIT_USAGE;
	}
	if (!path)
		path = CTL_DEFAULT_SOCKET;
	if (strcmp(argv[optind], "check") == 0)
		return check_main(path, argc - optind, argv + optind);
	if (strcmp(argv[optind], "top") == 0)
		return top_main(path, argc - optind, argv + optind);
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "mconnctl: socket path too long (at most %zu bytes): %s\n",
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1, path);
		return EXIT_USAGE;
	}
	buf_init(&req, CTL_MAX_LINE + 1);
	buf_init(&reply, CTL_MAX_REPLY);
	rc = build_request(argc - optind, argv + optind, json, &req);
	if (rc < 0) {
		if (rc == -E2BIG)
			fprintf(stderr, "mconnctl: request too long (at most %d bytes)\n", CTL_MAX_LINE);
		else
			fprintf(stderr, "mconnctl: arguments must be non-empty words without spaces\n");
		buf_free(&req);
		return EXIT_USAGE;
	}
	switch (ctlclient_query(path, req.data, &reply, err, sizeof(err))) {
	case CTL_OK:
		fwrite(reply.data, 1, reply.len, stdout);
		rc = 0;
		break;
	case CTL_ERR:
		fprintf(stderr, "mconnctl: %s\n", err);
		fwrite(reply.data, 1, reply.len, stderr);
		rc = EXIT_ERR;
		break;
	default:
		fprintf(stderr, "mconnctl: %s\n", err);
		rc = EXIT_UNREACHABLE;
		break;
	}
	buf_free(&req);
	buf_free(&reply);
	return rc;
}
