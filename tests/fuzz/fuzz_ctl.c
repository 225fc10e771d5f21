/* libFuzzer harness for the control protocol: the input is what a client sends, split
 * into request lines the way ctl.c splits them, and each line goes through
 * ctlcmd_dispatch() against a fake daemon: one set up in-process from a fixed
 * configuration, with counters, latencies and health filled in by synthetic cycle
 * results, and no socket ever connected. Every input gets a fresh daemon, so the run
 * is deterministic whatever an earlier input changed. Beyond "no crash, no leak",
 * every reply must be one complete frame: "OK" or "ERR reason", ending with an empty
 * line and nothing after it. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "ctlcmd.h"
#include "daemon.h"
#include "log.h"
#include "proto.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Requests per input: more only repeat what fewer reach, more slowly. */
#define FUZZ_MAX_REQUESTS 64
/* A peer that is neither root nor the daemon's user nor an admin. */
#define FUZZ_OTHER_UID 65534

#define FUZZ_ASSERT(cond)                                                                  \
	do {                                                                               \
		if (!(cond))                                                               \
			abort();                                                           \
	} while (0)

/* Three targets of different shapes; 127.0.0.1:9 is never connected to. */
static const char fuzz_conf[] =
	"[daemon]\ncontrol_socket = /nonexistent/fuzz.sock\nlog_level = emerg\n"
	"[target \"web\"]\naddress = 127.0.0.1:9\nconnections = 3\ninterval = 1s\n"
	"[target \"db.1\"]\naddress = [::1]:9\nmode = persistent\nrise = 1\nfall = 1\n"
	"message = ping\\r\\n\nmessage = \\x00\\xff\n"
	"[target \"edge:2\"]\naddress = 127.0.0.1:9\nsource = 127.0.0.1\nclose = rst\n"
	"interval = 0\nconnections = 2\n";

static char conf_path[64];

static void conf_remove(void)
{
	unlink(conf_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *f;
	int fd;

	(void)argc;
	(void)argv;
	/* A reload request reads the file the daemon was started from. */
	snprintf(conf_path, sizeof(conf_path), "/tmp/mconn-fuzz-ctl-XXXXXX");
	fd = mkstemp(conf_path);
	FUZZ_ASSERT(fd >= 0);
	f = fdopen(fd, "w");
	FUZZ_ASSERT(f && fputs(fuzz_conf, f) >= 0 && fclose(f) == 0);
	FUZZ_ASSERT(atexit(conf_remove) == 0);
	log_open(LOG_EMERG, LOG_SINK_STDERR);
	return 0;
}

/* Fill a target's counters, latencies and health with results that depend on seed. */
static void fake_history(struct target *t, struct sess_health *sh, unsigned seed, int64_t now)
{
	for (unsigned i = 0; i < 40; i++) {
		struct session_result res = {
			.err = (enum session_error)((i * 7 + seed) % _SERR_MAX),
			.err_no = (i & 1) ? 111 : 0,
			.connect_ns = (int64_t)(i + 1) * 37000,
			.cycle_ns = (int64_t)(i + 1) * 91000,
		};
		struct health_change hc;

		if (i > 20)
			res.err = SERR_NONE;
		(void)target_record_result(t, sh, &res, now - (int64_t)(40 - i) * NSEC_PER_SEC, &hc);
	}
}

static struct daemon *fake_daemon_new(void)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	struct daemon *d = malloc(sizeof(*d));
	int64_t now = now_ns();

	FUZZ_ASSERT(d);
	FUZZ_ASSERT(config_load_string(fuzz_conf, conf_path, false, &cfg, &errs) == 0);
	FUZZ_ASSERT(daemon_init(d, cfg, conf_path) == 0);
	for (size_t i = 0; i < d->pool.n_targets; i++)
		if (d->pool.targets[i]->n_sess)
			fake_history(d->pool.targets[i],
				     &d->pool.sess[d->pool.targets[i]->sess[0]].health, (unsigned)i, now);
	for (uint32_t i = 0; i < d->pool.cap_sess; i++) {
		d->pool.sess[i].cycles_ok = (uint64_t)i * 3;
		d->pool.sess[i].cycles_failed = i;
		d->pool.sess[i].last_result = (uint8_t)(i % _SERR_MAX);
		d->pool.sess[i].last_latency = (int64_t)i * 1000 - 1;
	}
	return d;
}

/* One request, as ctl.c hands it over: NUL where its newline was. */
static void fuzz_request(struct daemon *d, struct ctl_client *cl, const uint8_t *p, size_t n)
{
	memcpy(cl->in, p, n);
	cl->in[n] = '\0';
	cl->out.len = 0;
	cl->out.overflow = false;
	ctlcmd_dispatch(d, cl, cl->in, n, &cl->out, NULL);
	FUZZ_ASSERT(cl->out.len >= 4);
	FUZZ_ASSERT(memcmp(cl->out.data, "OK\n", 3) == 0 || memcmp(cl->out.data, "ERR ", 4) == 0);
	FUZZ_ASSERT(proto_reply_length(cl->out.data, cl->out.len) == cl->out.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_client *cl = calloc(1, sizeof(*cl));
	struct daemon *d;
	size_t off = 0;

	FUZZ_ASSERT(cl);
	d = fake_daemon_new();
	cl->fd = -1;
	buf_init(&cl->out, CTL_MAX_REPLY);
	for (int k = 0; k < FUZZ_MAX_REQUESTS && off < size; k++) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t n = nl ? (size_t)(nl - (data + off)) : size - off;

		/* ctl.c refuses a line that fills its buffer before it could dispatch it. */
		if (n < CTL_MAX_LINE) {
			/* Every other request comes from a peer without admin rights. */
			cl->uid = (k & 1) ? FUZZ_OTHER_UID : getuid();
			cl->gid = cl->uid;
			fuzz_request(d, cl, data + off, n);
		}
		off += n + 1;
	}
	buf_free(&cl->out);
	free(cl);
	daemon_free(d);
	free(d);
	return 0;
}
