/* Threshold ranges in the monitoring-plugins syntax ("10", "10:", "~:10", "10:20",
 * "@10:20") with a unit on each number, and the `mconnctl check` threshold lists
 * ("p99=50ms,fail=1%") built from them. Pure: no I/O. */
#ifndef MCONN_RANGE_H
#define MCONN_RANGE_H

#include <stdbool.h>
#include <stddef.h>

/* A unit a number may carry and what it multiplies the number by; a table ends with
 * a NULL suffix, and the suffix "" gives the unit of a bare number. */
struct range_unit {
	const char *suffix;
	double factor;
};

/* start..end inclusive, -INFINITY / INFINITY when open; inside: alert inside. */
struct range {
	double start;
	double end;
	bool inside;
};

/* Parse a range; numbers are scaled by their unit from units. -EINVAL on bad syntax,
 * -ERANGE when start is above end. */
int range_parse(const char *s, const struct range_unit *units, struct range *ret);

/* Return true when v calls for an alert: outside the range, or inside it with '@'. */
bool range_alert(const struct range *r, double v);

/* Write the range back in the plugin syntax, numbers in the base unit, for perfdata. */
char *range_format(const struct range *r, char *out, size_t n);

/* The thresholds of one level (-w or -c) of mconnctl check. */
struct thresholds {
	bool has_p99;
	bool has_fail;
	bool has_cert;
	struct range p99;  /* milliseconds */
	struct range fail; /* percent */
	struct range cert; /* days left: cert=N alerts below N (the range N:) */
};

/* Parse "p99=RANGE,fail=RANGE,cert=DAYS" (any of them, any order). p99 numbers take
 * us, ms (bare) or s; fail numbers take % (bare) or nothing else; cert is a whole
 * number of days from 0 to 100000, an alert when fewer are left. Returns 0, or
 * -EINVAL with a message in err. */
int thresholds_parse(const char *s, struct thresholds *ret, char *err, size_t errlen);

#endif
