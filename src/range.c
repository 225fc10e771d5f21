/* The monitoring-plugins range syntax, as the Nagios plugin guidelines define it:
 * "N" alerts outside 0..N, "N:" below N, "~:N" above N, "N:M" outside N..M, and a
 * leading '@' turns "outside" into "inside" (ends included). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "range.h"

/* Parse one number of len bytes at s, with a unit from units; -EINVAL when bad. */
static int range_number(const char *s, size_t len, const struct range_unit *units, double *ret)
{
	char tmp[64], *end;
	double v;

	if (len == 0 || len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	v = strtod(tmp, &end);
	if (end == tmp || !isfinite(v) || strchr("+-.0123456789", tmp[0]) == NULL)
		return -EINVAL;
	for (const struct range_unit *u = units; u->suffix; u++) {
		if (strcmp(end, u->suffix) == 0) {
			*ret = v * u->factor;
			return 0;
		}
	}
	return -EINVAL;
}

int range_parse(const char *s, const struct range_unit *units, struct range *ret)
{
	struct range r = { .start = 0, .end = INFINITY, .inside = false };
	const char *colon;
	int e;

	if (*s == '@') {
		r.inside = true;
		s++;
	}
	colon = strchr(s, ':');
	if (!colon) {
		e = range_number(s, strlen(s), units, &r.end);
	} else if (colon == s && !colon[1]) {
		return -EINVAL;
	} else {
		if (colon - s == 1 && s[0] == '~')
			r.start = -INFINITY;
		else if (colon != s && (e = range_number(s, (size_t)(colon - s), units, &r.start)) < 0)
			return e;
		e = colon[1] ? range_number(colon + 1, strlen(colon + 1), units, &r.end) : 0;
	}
	if (e < 0)
		return e;
	if (r.start > r.end)
		return -ERANGE;
	*ret = r;
	return 0;
}

bool range_alert(const struct range *r, double v)
{
	bool in = v >= r->start && v <= r->end;

	return r->inside ? in : !in;
}

char *range_format(const struct range *r, char *out, size_t n)
{
	char a[32] = "~", b[32] = "";

	if (isfinite(r->start))
		snprintf(a, sizeof(a), "%g", r->start);
	if (isfinite(r->end))
		snprintf(b, sizeof(b), "%g", r->end);
	if (!r->inside && r->start == 0 && isfinite(r->end))
		snprintf(out, n, "%s", b);
	else
		snprintf(out, n, "%s%s:%s", r->inside ? "@" : "", a, b);
	return out;
}

static const struct range_unit ms_units[] = {
	{ "", 1 }, { "ms", 1 }, { "us", 1e-3 }, { "s", 1e3 }, { NULL, 0 },
};
static const struct range_unit percent_units[] = {
	{ "", 1 }, { "%", 1 }, { NULL, 0 },
};

/* cert=DAYS: fewer days left than DAYS alert, as the range "DAYS:" would. */
static int thresholds_cert(const char *days, struct thresholds *t, char *err, size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(days, &end, 10);
	if (!*days || *end || errno || v < 0 || v > 100000) {
		snprintf(err, errlen, "bad threshold 'cert=%.40s'; expected cert=DAYS, a whole number of days from 0 to 100000",
			 days);
		return -EINVAL;
	}
	t->cert = (struct range){ .start = (double)v, .end = INFINITY };
	t->has_cert = true;
	return 0;
}

/* Parse one "NAME=RANGE" item of len bytes into t. */
static int thresholds_item(const char *s, size_t len, struct thresholds *t, char *err,
			   size_t errlen)
{
	char item[128];
	const char *eq;
	struct range *r;
	const struct range_unit *units;
	bool *has;
	int e;

	if (len >= sizeof(item)) {
		snprintf(err, errlen, "threshold too long: %.40s...", s);
		return -EINVAL;
	}
	memcpy(item, s, len);
	item[len] = '\0';
	eq = strchr(item, '=');
	if (eq && eq - item == 3 && strncmp(item, "p99", 3) == 0) {
		r = &t->p99, units = ms_units, has = &t->has_p99;
	} else if (eq && eq - item == 4 && strncmp(item, "fail", 4) == 0) {
		r = &t->fail, units = percent_units, has = &t->has_fail;
	} else if (eq && eq - item == 4 && strncmp(item, "cert", 4) == 0) {
		return thresholds_cert(eq + 1, t, err, errlen);
	} else {
		snprintf(err, errlen, "bad threshold '%s'; expected p99=RANGE, fail=RANGE or cert=DAYS",
			 item);
		return -EINVAL;
	}
	e = range_parse(eq + 1, units, r);
	if (e < 0) {
		snprintf(err, errlen, "bad range in '%s'%s", item,
			 e == -ERANGE ? ": start above end"
			 : units == ms_units ? "; numbers take us, ms (default) or s"
					     : "; numbers are percent, with or without %");
		return -EINVAL;
	}
	*has = true;
	return 0;
}

int thresholds_parse(const char *s, struct thresholds *ret, char *err, size_t errlen)
{
	struct thresholds t = { 0 };

	if (!*s) {
		snprintf(err, errlen, "empty threshold; expected p99=RANGE,fail=RANGE");
		return -EINVAL;
	}
	while (*s) {
		size_t len = strcspn(s, ",");
		int e = thresholds_item(s, len, &t, err, errlen);

		if (e < 0)
			return e;
		s += len;
		if (*s == ',' && !*++s) {
			snprintf(err, errlen, "threshold list ends with ','");
			return -EINVAL;
		}
	}
	*ret = t;
	return 0;
}
