/* Per-target accounting: counters by failure class, latency, each session's rise/fall
 * verdict, the target's state from its sessions, flap detection, and the pause before
 * a session's next cycle (interval, interval_changing, interval_down with backoff). */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "target.h"
#include "util.h"

/* The shortest pause after a failed cycle, whatever the interval: a failing session
 * never retries at once. */
#define RETRY_FLOOR_NS (100 * NSEC_PER_MSEC)
/* Results a session keeps for the failure ratio: the bits of sess_health.recent. */
#define RECENT_MAX 16

static const char *const health_names[] = { "unknown", "up", "down", "degraded" };

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
	history_init(&t->history, now);
	return t;
}

void target_free(struct target *t)
{
	if (!t)
		return;
	free(t->sess);
	free(t->tls.handshake);
	config_target_unref(t->own_conf);
	free(t);
}

void target_reset_health(struct target *t, int64_t now)
{
	t->health = HEALTH_UNKNOWN;
	t->health_since = now;
	t->ratio_high = false;
}

/* Add (sign 1) or take out (sign -1) what one session contributes to t's counts. */
static void target_count_session(struct target *t, const struct sess_health *sh, int sign)
{
	if (sh->starved) {
		t->sess_starved += (uint32_t)sign;
		return;
	}
	t->sess_verdict[sh->verdict] += (uint32_t)sign;
	if (sh->verdict == HEALTH_DOWN) {
		t->sess_down_failing += (uint32_t)(sign * (sh->run < 0));
		return;
	}
	t->recent_failed += (uint32_t)(sign * __builtin_popcount(sh->recent));
	t->recent_total += (uint32_t)(sign * sh->n_recent);
}

void target_add_session(struct target *t, struct sess_health *sh)
{
	*sh = (struct sess_health){ .verdict = HEALTH_UNKNOWN };
	target_count_session(t, sh, 1);
}

void target_drop_session(struct target *t, const struct sess_health *sh)
{
	target_count_session(t, sh, -1);
}

/* One result into a session's run, recent window and verdict; a new verdict starts
 * a fresh window, so the ratio only sees failures that did not make a verdict. */
static void sess_health_feed(const struct target_conf *c, struct sess_health *sh, bool ok)
{
	if (ok)
		sh->run = (int16_t)(sh->run > 0 ? MIN(sh->run + 1, INT16_MAX) : 1);
	else
		sh->run = (int16_t)(sh->run < 0 ? MAX(sh->run - 1, -INT16_MAX) : -1);
	sh->recent = (uint16_t)((unsigned)sh->recent << 1 | (ok ? 0u : 1u));
	sh->n_recent = (uint8_t)MIN(sh->n_recent + 1, RECENT_MAX);
	if (sh->verdict != HEALTH_UP && sh->run > 0 && (uint32_t)sh->run >= c->rise)
		sh->verdict = HEALTH_UP;
	else if (sh->verdict != HEALTH_DOWN && sh->run < 0 && (uint32_t)-sh->run >= c->fall)
		sh->verdict = HEALTH_DOWN;
	else
		return;
	sh->recent = 0;
	sh->n_recent = 0;
}

/* The failure ratio of the recent results, with hysteresis: high from degraded_ratio
 * on, low again under half of it. Below HEALTH_MIN_RESULTS it keeps its last verdict:
 * sessions whose verdicts keep changing start fresh windows each time, and that must
 * not make a target with half its cycles failing look up for a moment. */
static void target_update_ratio(struct target *t)
{
	double thr = t->conf->degraded_ratio, r;

	if (thr <= 0) {
		t->ratio_high = false;
		return;
	}
	if (t->recent_total < HEALTH_MIN_RESULTS)
		return;
	r = (double)t->recent_failed / (double)t->recent_total;
	if (t->ratio_high ? r < thr / 2 : r >= thr)
		t->ratio_high = !t->ratio_high;
}

/* The sessions that ran last time; a quorum above that many counts as all of them. */
static uint32_t target_quorum(const struct target *t, uint32_t counted)
{
	uint32_t q = t->conf->down_quorum;

	return q == 0 || q > counted ? counted : q;
}

/* The state the sessions give: down when the quorum of sessions are down and failed
 * their last cycle too (a down session whose last cycle worked is a sign of life: at
 * 50 % failures every session may be down by its own count for a moment while half
 * the cycles work), and down until fewer than the quorum are down; degraded with any
 * session down or a high failure ratio; up once every session has a verdict and none
 * is down (later sessions still without one do not hold it back). With no session
 * that ran (all starved, stopped or none yet), the state stays as it is. */
static enum health_state target_derive(const struct target *t)
{
	uint32_t unknown = t->sess_verdict[HEALTH_UNKNOWN], up = t->sess_verdict[HEALTH_UP],
		 down = t->sess_verdict[HEALTH_DOWN], counted = unknown + up + down;

	if (counted == 0)
		return t->health;
	/* Down stays down until a session is up again: sessions without a verdict yet
	 * (new ones, or all of them after a restart) are no sign the target is back. */
	if (t->health == HEALTH_DOWN && up == 0)
		return HEALTH_DOWN;
	if (down > 0 && (t->health == HEALTH_DOWN ? down : t->sess_down_failing) >=
				target_quorum(t, counted))
		return HEALTH_DOWN;
	if (down > 0 || t->ratio_high)
		return HEALTH_DEGRADED;
	if (up > 0 && (unknown == 0 || t->health != HEALTH_UNKNOWN))
		return HEALTH_UP;
	return t->health;
}

/* State changes of t within its flap_window at now. */
static uint32_t target_changes_in_window(const struct target *t, int64_t now)
{
	uint32_t n = 0, keep = MIN(t->health_changes, (uint64_t)HEALTH_FLAP_RING);

	for (uint32_t k = 1; k <= keep; k++) {
		int64_t at = t->change_at[(t->change_head + HEALTH_FLAP_RING - k) % HEALTH_FLAP_RING];

		if (now - at >= t->conf->flap_window)
			break;
		n++;
	}
	return n;
}

static void health_change_fill(const struct target *t, struct health_change *hc, int64_t now)
{
	uint32_t counted = t->sess_verdict[0] + t->sess_verdict[1] + t->sess_verdict[2];

	hc->sessions = counted;
	hc->down = t->sess_verdict[HEALTH_DOWN];
	hc->up = t->sess_verdict[HEALTH_UP];
	hc->quorum = target_quorum(t, counted);
	hc->ratio = t->recent_total >= HEALTH_MIN_RESULTS
			    ? (double)t->recent_failed / (double)t->recent_total : -1;
	hc->changes_in_window = target_changes_in_window(t, now);
}

/* Flapping starts with more than flap_threshold changes in flap_window and ends
 * once at most half of that many are left in it. */
static unsigned target_update_flapping(struct target *t, int64_t now)
{
	uint32_t thr = t->conf->flap_threshold, n;

	if (thr == 0) {
		if (!t->flapping)
			return 0;
		t->flapping = false;
		return HC_FLAP_END;
	}
	n = target_changes_in_window(t, now);
	if (!t->flapping && n > thr) {
		t->flapping = true;
		t->flapping_since = now;
		return HC_FLAP_START;
	}
	if (t->flapping && n <= thr / 2) {
		t->flapping = false;
		return HC_FLAP_END;
	}
	return 0;
}

/* Move to the state the sessions give; fill ret and return true on any news. Flapping
 * can only start with a change and end with time: it is looked at then, not at every
 * result. */
static bool target_evaluate(struct target *t, int64_t now, uint32_t count,
			    enum session_error reason, bool tick, struct health_change *ret)
{
	enum health_state to;
	unsigned what = 0;
	struct health_change hc = { .from = t->health, .count = count, .reason = reason };

	target_update_ratio(t);
	to = target_derive(t);
	/* Down says more than any ratio; a recovery starts with a clean slate. */
	if (to == HEALTH_DOWN)
		t->ratio_high = false;
	if (to != t->health) {
		hc.in_previous_ns = now - t->health_since;
		t->health = to;
		t->health_since = now;
		t->health_changes++;
		t->change_at[t->change_head] = now;
		t->change_head = (t->change_head + 1) % HEALTH_FLAP_RING;
		what |= HC_STATE;
	}
	hc.to = t->health;
	if (what || tick)
		what |= target_update_flapping(t, now);
	if (!what)
		return false;
	hc.what = what;
	health_change_fill(t, &hc, now);
	*ret = hc;
	return true;
}

/* A TLS handshake the cycle made: counted, timed, its certificate's date kept. */
static void target_count_handshake(struct target *t, const struct session_result *res)
{
	if (!res->handshake)
		return;
	if (!t->tls.handshake) {
		t->tls.handshake = calloc(1, sizeof(*t->tls.handshake));
		if (!t->tls.handshake)
			return;
	}
	t->tls.handshakes++;
	t->tls.resumed += res->resumed;
	hist_record(t->tls.handshake, res->handshake_ns);
	if (res->cert_not_after)
		t->tls.cert_not_after = res->cert_not_after;
}

/* Counters, latency and the last error of one result. */
static void target_count_result(struct target *t, const struct session_result *res, int64_t now)
{
	target_count_handshake(t, res);
	t->retransmits += res->retransmits;
	if (res->err == SERR_NONE) {
		t->cycles_ok++;
		t->cycles_loop_timed += !res->kernel_timed;
		t->last_ok_at = now;
		if (res->connect_ns >= 0)
			latency_record(&t->connect_lat, res->connect_ns, now);
		latency_record(&t->cycle_lat, res->cycle_ns, now);
		return;
	}
	t->cycles_failed++;
	if (res->err != SERR_RESOURCE)
		count_window_add(&t->fail_win, now);
	if (res->err == SERR_MISMATCH)
		count_window_add(&t->mismatch_win, now);
	t->errors[res->err < _SERR_MAX ? res->err : SERR_RESOURCE]++;
	t->last_error = res->err;
	t->last_errno = res->err_no;
	t->last_error_at = now;
	snprintf(t->last_detail, sizeof(t->last_detail), "%s", res->detail ? res->detail : "");
}

bool target_record_result(struct target *t, struct sess_health *sh,
			  const struct session_result *res, int64_t now, struct health_change *ret)
{
	bool resource = res->err == SERR_RESOURCE;

	target_count_result(t, res, now);
	if (resource && sh->starved)
		return false;
	target_count_session(t, sh, -1);
	sh->starved = resource;
	if (!resource)
		sess_health_feed(t->conf, sh, res->err == SERR_NONE);
	target_count_session(t, sh, 1);
	return target_evaluate(t, now, (uint32_t)abs(sh->run), res->err, false, ret);
}

bool target_tick(struct target *t, int64_t now, struct health_change *ret)
{
	history_tick(&t->history, &t->cycle_lat, &t->fail_win, now);
	return target_evaluate(t, now, 0, SERR_NONE, true, ret);
}

/* A run of results that would change the session's verdict is under way. */
static bool sess_health_changing(const struct sess_health *sh)
{
	return sh->verdict == HEALTH_UNKNOWN || (sh->verdict == HEALTH_UP && sh->run < 0) ||
	       (sh->verdict == HEALTH_DOWN && sh->run > 0);
}

/* base doubled per failure after the first, up to backoff_max (never under base). */
static int64_t target_backoff(const struct target_conf *c, int64_t base, uint32_t fails)
{
	int64_t pause = base, cap;

	if (c->backoff_max == 0)
		return pause;
	cap = MAX(c->backoff_max, pause);
	for (uint32_t i = 1; i < fails && pause < cap; i++)
		pause *= 2;
	return MIN(pause, cap);
}

int64_t target_pause(const struct target *t, const struct sess_health *sh, uint32_t fails,
		     enum session_error err)
{
	return target_pause_under(t, t->conf, sh, fails, err);
}

int64_t target_pause_under(const struct target *t, const struct target_conf *c,
			   const struct sess_health *sh, uint32_t fails, enum session_error err)
{
	int64_t changing = c->interval_changing >= 0 ? c->interval_changing : c->interval;
	int64_t down = c->interval_down >= 0 ? c->interval_down : c->interval;

	if (fails == 0)
		return sess_health_changing(sh) ? changing : c->interval;
	if (err == SERR_RESOURCE)
		return target_backoff(c, MAX(c->interval, RETRY_FLOOR_NS), fails);
	if (sess_health_changing(sh))
		return MAX(changing, RETRY_FLOOR_NS);
	if (sh->verdict != HEALTH_DOWN)
		return MAX(c->interval, RETRY_FLOOR_NS);
	/* Down: every session backs off once the whole target is down; in a degraded
	 * target the down ones keep their pace, to see the others' fate. */
	if (t->health != HEALTH_DOWN)
		return MAX(down, RETRY_FLOOR_NS);
	return target_backoff(c, MAX(down, RETRY_FLOOR_NS), fails);
}
