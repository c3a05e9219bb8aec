/*
 * parse.c - checked conversions of small text values: integers, Go-style
 * durations and RFC 3339 timestamps. Every function consumes the whole string
 * and reports overflow; none uses atoi or unchecked strtol.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "karpenter/base.h"

kp_err kp_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return KP_ERR_INVALID;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || end == s)
		return KP_ERR_INVALID;
	if (errno == ERANGE)
		return KP_ERR_RANGE;
	*out = (int64_t)v;
	return KP_OK;
}

/* Go's time.ParseDuration subset: sequences of <decimal><unit>, units
 * ns us ms s m h; an optional leading sign; "0" alone. Result in ms,
 * sub-millisecond parts are rounded down. */
kp_err kp_parse_duration_ms(const char *s, int64_t *out_ms)
{
	const char *p = s;
	int neg = 0;
	double total = 0;

	if (!s || !*s)
		return KP_ERR_INVALID;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (strcmp(p, "0") == 0) {
		*out_ms = 0;
		return KP_OK;
	}
	if (!*p)
		return KP_ERR_INVALID;
	while (*p) {
		char *end;
		double v, mult;

		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return KP_ERR_INVALID;
		errno = 0;
		v = strtod(p, &end);
		if (end == p || errno == ERANGE)
			return KP_ERR_INVALID;
		p = end;
		if (strncmp(p, "ns", 2) == 0) { mult = 1e-6; p += 2; }
		else if (strncmp(p, "us", 2) == 0) { mult = 1e-3; p += 2; }
		else if (strncmp(p, "\xc2\xb5s", 3) == 0) { mult = 1e-3; p += 3; }
		else if (strncmp(p, "ms", 2) == 0) { mult = 1; p += 2; }
		else if (*p == 's') { mult = 1e3; p++; }
		else if (*p == 'm') { mult = 60e3; p++; }
		else if (*p == 'h') { mult = 3600e3; p++; }
		else return KP_ERR_INVALID;
		total += v * mult;
		if (total > 9.2e18)
			return KP_ERR_RANGE;
	}
	*out_ms = (int64_t)total * (neg ? -1 : 1);
	return KP_OK;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's algorithm: days since 1970-01-01. */
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return 0;
}

kp_err kp_parse_rfc3339(const char *s, int64_t *out_unix)
{
	int Y, M, D, h, mi, sec, oh = 0, om = 0;
	const char *p;
	int64_t t;

	if (!s || strlen(s) < 20)
		return KP_ERR_INVALID;
	if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
	    digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		return KP_ERR_INVALID;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60)
		return KP_ERR_RANGE;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return KP_ERR_INVALID;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
			return KP_ERR_INVALID;
		oh *= sign;
		om *= sign;
		p += 6;
	} else {
		return KP_ERR_INVALID;
	}
	if (*p)
		return KP_ERR_INVALID;
	t = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + mi * 60 + sec;
	*out_unix = t - (oh * 3600 + om * 60);
	return KP_OK;
}

void kp_format_rfc3339(int64_t t, char *buf, size_t n)
{
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t rem = t - days * 86400;
	/* civil_from_days */
	int64_t z = days + 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	const unsigned d = doy - (153 * mp + 2) / 5 + 1;
	const unsigned m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	snprintf(buf, n, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
		 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

int kp_strcmp0(const char *a, const char *b)
{
	if (a == b)
		return 0;
	if (!a)
		return -1;
	if (!b)
		return 1;
	return strcmp(a, b);
}
