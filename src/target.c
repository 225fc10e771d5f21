/* Per-target accounting: counters by failure class, latency, rise/fall health and
 * the capped backoff applied while a target is down. */
#include <stdlib.h>

#include "config.h"
#include "target.h"
#include "util.h"

/* The shortest pause after a failed cycle, whatever the interval: a failing session
 * never retries at once. */
#define RETRY_FLOOR_NS (100 * NSEC_PER_MSEC)

static const char *const health_names[] = { "unknown", "up", "down" };

const char *health_state_name(enum health_state h)
{
	return h < _HEALTH_MAX ? health_names[h] : "?";
}

struct target *target_new(struct target_conf *conf, int64_t now)
{
	struct target *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->conf = conf;
	t->health = HEALTH_UNKNOWN;
	t->health_since = now;
	return t;
}

void target_free(struct target *t)
{
	if (!t)
		return;
	free(t->sess);
	config_target_unref(t->own_conf);
	free(t);
}

void target_reset_health(struct target *t, int64_t now)
{
	t->health = HEALTH_UNKNOWN;
	t->consec_ok = 0;
	t->consec_fail = 0;
	t->health_since = now;
}

/* Move health to a new state and describe the change. */
static void target_set_health(struct target *t, enum health_state to, int64_t now,
			      uint32_t count, enum session_error reason, struct health_change *ret)
{
	*ret = (struct health_change){ .from = t->health, .to = to,
				       .in_previous_ns = now - t->health_since,
				       .count = count, .reason = reason };
	t->health = to;
	t->health_since = now;
	t->health_changes++;
}

bool target_record_result(struct target *t, const struct session_result *res, int64_t now,
			  struct health_change *ret)
{
	const struct target_conf *c = t->conf;

	if (res->err == SERR_NONE) {
		t->cycles_ok++;
		t->last_ok_at = now;
		t->consec_fail = 0;
		t->consec_ok++;
		if (res->connect_ns >= 0)
			latency_record(&t->connect_lat, res->connect_ns, now);
		latency_record(&t->cycle_lat, res->cycle_ns, now);
		if (t->health != HEALTH_UP && t->consec_ok >= c->rise) {
			target_set_health(t, HEALTH_UP, now, t->consec_ok, SERR_NONE, ret);
			return true;
		}
		return false;
	}
	t->cycles_failed++;
	count_window_add(&t->fail_win, now);
	t->errors[res->err < _SERR_MAX ? res->err : SERR_RESOURCE]++;
	t->last_error = res->err;
	t->last_errno = res->err_no;
	t->last_error_at = now;
	if (res->err == SERR_RESOURCE)
		return false;
	t->consec_ok = 0;
	t->consec_fail++;
	if (t->health != HEALTH_DOWN && t->consec_fail >= c->fall) {
		target_set_health(t, HEALTH_DOWN, now, t->consec_fail, res->err, ret);
		return true;
	}
	return false;
}

int64_t target_pause(const struct target *t, uint32_t fails, enum session_error err)
{
	return target_pause_under(t, t->conf, fails, err);
}

int64_t target_pause_under(const struct target *t, const struct target_conf *c, uint32_t fails,
			   enum session_error err)
{
	int64_t pause, cap;

	if (fails == 0)
		return c->interval;
	pause = MAX(c->interval, RETRY_FLOOR_NS);
	if (c->backoff_max == 0 || (t->health != HEALTH_DOWN && err != SERR_RESOURCE))
		return pause;
	cap = MAX(c->backoff_max, pause);
	for (uint32_t i = 1; i < fails && pause < cap; i++)
		pause *= 2;
	return MIN(pause, cap);
}
