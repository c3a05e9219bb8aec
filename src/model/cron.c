/*
 * cron.c - five-field cron schedules, with the semantics of robfig/cron v3
 * ParseStandard as Karpenter calls it (TZ=UTC): the one parser, for the
 * NodePool disruption budgets and the CronJob controller (cron.h), and when
 * a CronJob is due (kp_cron_due).
 *
 * A schedule is one bit set per field. Day matching follows robfig: when
 * either day-of-month or day-of-week was written as '*' (or '?'), both must
 * match; otherwise either may. Next(t) is the first whole minute strictly
 * after t whose fields all match; like robfig it gives up five calendar
 * years after t. Calendar arithmetic is done on days since the epoch
 * (proleptic Gregorian, no time zones), so no libc time functions are used.
 *
 * Cost: parse O(len(spec)); next O(days searched + 24 + 60) with at most
 * ~2200 days, each an O(1) bit test; due: one next per due activation, at
 * most CRON_MAX_WALK of them: after a long outage the walk restarts a day
 * before now (the count of missed activations is then at least
 * CRON_MAX_WALK, which is all the CronJob controller needs to know:
 * upstream only warns above 100).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "karpenter/cron.h"

#define CRON_SPEC_MAX 256
#define CRON_MAX_WALK 1000

struct cron_field {
	const char *name;
	int min, max;
	const char *const *names;   /* names[i] is value min + i; NULL = numbers only */
	int nnames;
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
					   "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

static const struct cron_field cron_fields[5] = {
	{ "minute", 0, 59, NULL, 0 },
	{ "hour", 0, 23, NULL, 0 },
	{ "day of month", 1, 31, NULL, 0 },
	{ "month", 1, 12, month_names, 12 },
	{ "day of week", 0, 6, dow_names, 7 },
};

/* A number or (case-insensitive) name of field f in s[0..n). */
static bool cron_value(const struct cron_field *f, const char *s, size_t n, int *out)
{
	int64_t v = 0;

	if (n == 0)
		return false;
	if (f->names && isalpha((unsigned char)s[0])) {
		for (int i = 0; i < f->nnames; i++) {
			if (strlen(f->names[i]) == n && strncasecmp(f->names[i], s, n) == 0) {
				*out = f->min + i;
				return true;
			}
		}
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
		if (v > 1000)
			return false;
	}
	*out = (int)v;
	return true;
}

/* One comma-separated element "*", "?", "a", "a-b", each with optional "/n". */
static kp_err cron_range(const struct cron_field *f, const char *s, size_t n, uint64_t *bits,
			 bool *star, struct kp_errbuf *eb)
{
	const char *slash = memchr(s, '/', n);
	size_t rn = slash ? (size_t)(slash - s) : n;
	const char *dash = memchr(s, '-', rn);
	int lo, hi, step = 1;
	bool is_star = false;

	if (rn == 1 && (s[0] == '*' || s[0] == '?')) {
		lo = f->min;
		hi = f->max;
		is_star = true;
	} else if (dash) {
		if (!cron_value(f, s, (size_t)(dash - s), &lo) ||
		    !cron_value(f, dash + 1, rn - (size_t)(dash - s) - 1, &hi))
			return kp_errf(eb, KP_ERR_INVALID, "%s: bad range \"%.*s\"", f->name, (int)n, s);
	} else {
		if (!cron_value(f, s, rn, &lo))
			return kp_errf(eb, KP_ERR_INVALID, "%s: bad value \"%.*s\"", f->name, (int)n, s);
		hi = lo;
	}
	if (slash) {
		int64_t v;
		char num[16];
		size_t sn = n - rn - 1;

		if (sn == 0 || sn >= sizeof(num))
			return kp_errf(eb, KP_ERR_INVALID, "%s: bad step in \"%.*s\"", f->name, (int)n, s);
		memcpy(num, slash + 1, sn);
		num[sn] = '\0';
		if (kp_parse_i64(num, &v) || v < 1 || v > 1000)
			return kp_errf(eb, KP_ERR_INVALID, "%s: bad step in \"%.*s\"", f->name, (int)n, s);
		step = (int)v;
		if (!is_star && !dash)   /* "a/n" means "a-max/n" */
			hi = f->max;
		if (step > 1)
			is_star = false;
	}
	if (lo < f->min || hi > f->max)
		return kp_errf(eb, KP_ERR_INVALID, "%s: \"%.*s\" is outside %d-%d", f->name, (int)n, s,
			       f->min, f->max);
	if (lo > hi)
		return kp_errf(eb, KP_ERR_INVALID, "%s: \"%.*s\" starts after it ends", f->name, (int)n, s);
	for (int v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << v;
	if (is_star)
		*star = true;
	return KP_OK;
}

static kp_err cron_field_parse(const struct cron_field *f, const char *s, size_t n, uint64_t *bits,
			       bool *star, struct kp_errbuf *eb)
{
	size_t i = 0;

	*bits = 0;
	*star = false;
	while (i <= n) {
		const char *comma = memchr(s + i, ',', n - i);
		size_t len = comma ? (size_t)(comma - (s + i)) : n - i;
		kp_err rc;

		if (len == 0)
			return kp_errf(eb, KP_ERR_INVALID, "%s: empty list element", f->name);
		rc = cron_range(f, s + i, len, bits, star, eb);
		if (rc)
			return rc;
		i += len + 1;
	}
	return KP_OK;
}

static kp_err cron_descriptor(struct kp_cron *c, const char *spec, struct kp_errbuf *eb)
{
	static const struct {
		const char *name;
		const char *fields;
	} descs[] = {
		{ "@yearly", "0 0 1 1 *" },  { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
		{ "@weekly", "0 0 * * 0" },  { "@daily", "0 0 * * *" },    { "@midnight", "0 0 * * *" },
		{ "@hourly", "0 * * * *" },
	};

	for (size_t i = 0; i < KP_ARRAY_LEN(descs); i++)
		if (strcmp(spec, descs[i].name) == 0)
			return kp_cron_parse(c, descs[i].fields, eb);
	if (strncmp(spec, "@every ", 7) == 0) {
		int64_t ms;
		const char *d = spec + 7;

		while (*d == ' ')
			d++;
		if (kp_parse_duration_ms(d, &ms) || ms < 0)
			return kp_errf(eb, KP_ERR_INVALID, "cron \"%s\": bad duration", spec);
		memset(c, 0, sizeof(*c));
		c->every_s = ms < 1000 ? 1 : ms / 1000;
		return KP_OK;
	}
	return kp_errf(eb, KP_ERR_INVALID, "cron \"%s\": unknown descriptor", spec);
}

kp_err kp_cron_parse(struct kp_cron *c, const char *spec, struct kp_errbuf *eb)
{
	const char *p = spec;
	const char *start[5];
	size_t len[5];
	int n = 0;
	uint64_t bits[5];
	bool star[5];

	if (!spec)
		return kp_errf(eb, KP_ERR_INVALID, "cron: empty schedule");
	if (strlen(spec) > CRON_SPEC_MAX)
		return kp_errf(eb, KP_ERR_INVALID, "cron: schedule longer than %d characters", CRON_SPEC_MAX);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '@')
		return cron_descriptor(c, p, eb);
	while (*p) {
		const char *s = p;

		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (n == 5)
			return kp_errf(eb, KP_ERR_INVALID, "cron \"%s\": expected 5 fields, found more", spec);
		start[n] = s;
		len[n] = (size_t)(p - s);
		n++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (n != 5)
		return kp_errf(eb, KP_ERR_INVALID, "cron \"%s\": expected 5 fields, found %d", spec, n);
	for (int i = 0; i < 5; i++) {
		kp_err rc = cron_field_parse(&cron_fields[i], start[i], len[i], &bits[i], &star[i], eb);
		if (rc) {
			kp_err_prefix(eb, "cron \"%s\": ", spec);
			return rc;
		}
	}
	memset(c, 0, sizeof(*c));
	c->minute = bits[0];
	c->hour = (uint32_t)bits[1];
	c->dom = (uint32_t)bits[2];
	c->month = (uint16_t)bits[3];
	c->dow = (uint8_t)bits[4];
	c->dom_star = star[2];
	c->dow_star = star[4];
	return KP_OK;
}

/* ---- calendar on days since 1970-01-01 (H. Hinnant's algorithms) ---- */

static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floordiv(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool cron_day_matches(const struct kp_cron *c, int64_t day, int dom)
{
	int dow = (int)(((day % 7) + 7 + 4) % 7);   /* 1970-01-01 was a Thursday */
	bool dm = (c->dom >> dom) & 1;
	bool wm = (c->dow >> dow) & 1;

	if (c->dom_star || c->dow_star)
		return dm && wm;
	return dm || wm;
}

int64_t kp_cron_next(const struct kp_cron *c, int64_t t)
{
	int64_t minute, day, year0, y;
	int m, d, first_hour, first_min;

	if (c->every_s > 0) {
		if (t > INT64_MAX - c->every_s)
			return KP_CRON_NONE;
		return t + c->every_s;
	}
	if (t > INT64_MAX - 120)
		return KP_CRON_NONE;
	minute = floordiv(t, 60) + 1;   /* first whole minute strictly after t */
	day = floordiv(minute, 1440);
	first_hour = (int)((minute - day * 1440) / 60);
	first_min = (int)((minute - day * 1440) % 60);
	civil_from_days(day, &year0, &m, &d);
	for (;; day++, first_hour = 0, first_min = 0) {
		civil_from_days(day, &y, &m, &d);
		if (y > year0 + 5)
			return KP_CRON_NONE;
		if (!((c->month >> m) & 1) || !cron_day_matches(c, day, d))
			continue;
		for (int h = first_hour; h < 24; h++) {
			if (!((c->hour >> h) & 1))
				continue;
			for (int mi = h == first_hour ? first_min : 0; mi < 60; mi++)
				if ((c->minute >> mi) & 1)
					return day * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60;
		}
	}
}

/* After k8s.io/kubernetes pkg/controller/cronjob/utils.go
 * mostRecentScheduleTime and nextScheduleTime. */
void kp_cron_due(const struct kp_cron *c, int64_t earliest, int64_t now, int64_t deadline_s, int64_t *scheduled,
		 int64_t *missed, int64_t *next)
{
	int64_t t, last = 0, n = 0, skipped = 0;

	if (deadline_s >= 0 && now - deadline_s > earliest)
		earliest = now - deadline_s;
	t = kp_cron_next(c, earliest);
	while (t != KP_CRON_NONE && t <= now) {
		if (++n > CRON_MAX_WALK && now - 86400 > t) {
			skipped += n;
			n = 0;
			t = kp_cron_next(c, now - 86400);
			continue;
		}
		last = t;
		t = kp_cron_next(c, t);
	}
	*scheduled = last;
	*missed = n + skipped;
	*next = t;
}
