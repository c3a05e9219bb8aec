/*
 * quantity.c - Kubernetes resource quantities as exact int64 values.
 *
 * Parsing follows the grammar documented for k8s.io/apimachinery
 * resource.Quantity: [+-] then digits with an optional fraction ("1", "1.",
 * "1.5", ".5"; at least one digit) then one suffix: decimal SI (n u m "" k M
 * G T P E), binary SI (Ki Mi Gi Ti Pi Ei) or an exponent (e/E [+-] digits).
 * No whitespace anywhere. Unlike Go's lenient scanner, a string without any
 * digit ("Gi", ".", "-") is rejected, as the CRD validation pattern does.
 *
 * Exactness: no floating point. The digits are read as a decimal string with
 * a point position; the value at the requested scale is
 *   integer part * 2^shift + carry of (fraction part * 2^shift)
 * where the fraction is multiplied by 2^shift digit by digit from the right
 * (the carry stays below 2^shift, so t = 9 * 2^60 + carry fits a uint64).
 * A non-zero remainder rounds up towards +inf, like Quantity.MilliValue()
 * and Value() do for positive values. Anything beyond int64 is KP_ERR_RANGE.
 *
 * Cost: O(length of the input) to parse, O(1) to format.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "karpenter/quantity.h"

/* Exponents beyond this are clamped: with a non-zero digit they overflow
 * (positive) or round to the smallest unit (negative) either way. */
#define QTY_EXP_CLAMP ((int64_t)1 << 40)
#define QTY_MAX_SCALE 9

bool kp_i64_add(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return false;
	*out = r;
	return true;
}

bool kp_i64_mul(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;

	if (__builtin_mul_overflow(a, b, &r))
		return false;
	*out = r;
	return true;
}

struct qty_suffix {
	const char *name;
	int shift;      /* binary: multiply by 2^shift */
	int exp10;      /* decimal: multiply by 10^exp10 */
};

static const struct qty_suffix qty_suffixes[] = {
	{ "",   0,   0 }, { "n", 0, -9 }, { "u", 0, -6 }, { "m", 0, -3 },
	{ "k",  0,   3 }, { "M", 0,  6 }, { "G", 0,  9 }, { "T", 0, 12 },
	{ "P",  0,  15 }, { "E", 0, 18 },
	{ "Ki", 10,  0 }, { "Mi", 20, 0 }, { "Gi", 30, 0 }, { "Ti", 40, 0 },
	{ "Pi", 50,  0 }, { "Ei", 60, 0 },
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exponent suffix "e12", "E-3", "e+6". False if malformed or beyond int64
 * (strconv.ParseInt fails there too); the result is clamped. */
static bool parse_exponent(const char *p, int64_t *out)
{
	bool neg = false;
	uint64_t v = 0, lim;

	if (*p != 'e' && *p != 'E')
		return false;
	p++;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return false;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *p; p++) {
		if (!is_digit(*p))
			return false;
		if (v > (lim - (uint64_t)(*p - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > (uint64_t)QTY_EXP_CLAMP)
		v = (uint64_t)QTY_EXP_CLAMP;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

/* The digits of the number with the point removed: int digits then fraction. */
struct qty_digits {
	const char *ip, *fp;    /* integer and fraction digit runs */
	int64_t ni, nf;
};

static int qty_digit(const struct qty_digits *d, int64_t k)
{
	return k < d->ni ? d->ip[k] - '0' : d->fp[k - d->ni] - '0';
}

static kp_err qty_invalid(const char *s, struct kp_errbuf *eb)
{
	return kp_errf(eb, KP_ERR_INVALID, "invalid quantity \"%.100s\"", s);
}

static kp_err qty_range(const char *s, struct kp_errbuf *eb)
{
	return kp_errf(eb, KP_ERR_RANGE, "quantity \"%.100s\" is out of range", s);
}

kp_err kp_qty_parse(const char *s, int scale, int64_t *out, struct kp_errbuf *eb)
{
	struct qty_digits d;
	const char *p = s;
	bool neg = false, rem = false;
	int shift = 0;
	size_t i;
	int64_t exp10 = 0, z, nd, point, k;
	uint64_t ipart = 0, mult, carry = 0, mag;

	if (!s)
		return kp_errf(eb, KP_ERR_INVALID, "invalid quantity (null)");
	if (scale < 0 || scale > QTY_MAX_SCALE)
		return kp_errf(eb, KP_ERR_INVALID, "quantity \"%.100s\": bad scale %d", s, scale);

	/* sign, integer digits, optional point and fraction digits */
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	d.ip = p;
	while (is_digit(*p))
		p++;
	d.ni = p - d.ip;
	d.fp = p;
	d.nf = 0;
	if (*p == '.') {
		d.fp = ++p;
		while (is_digit(*p))
			p++;
		d.nf = p - d.fp;
	}
	if (d.ni + d.nf == 0)
		return qty_invalid(s, eb);

	/* suffix: the rest of the string, all of it */
	for (i = 0; i < KP_ARRAY_LEN(qty_suffixes); i++)
		if (strcmp(p, qty_suffixes[i].name) == 0)
			break;
	if (i < KP_ARRAY_LEN(qty_suffixes)) {
		shift = qty_suffixes[i].shift;
		exp10 = qty_suffixes[i].exp10;
	} else if (!parse_exponent(p, &exp10)) {
		return qty_invalid(s, eb);
	}

	/* Skip leading zeros; all zeros is zero whatever the suffix. */
	nd = d.ni + d.nf;
	for (z = 0; z < nd && qty_digit(&d, z) == 0; z++)
		;
	if (z == nd) {
		*out = 0;
		return KP_OK;
	}
	/* value = 0.D[z..nd) * 10^point * 2^shift, at the requested scale */
	point = d.ni - z + exp10 + scale;
	nd -= z;
	if (point > 19)                        /* >= 10^19 > INT64_MAX */
		return qty_range(s, eb);
	for (k = 0; k < point; k++)
		ipart = ipart * 10 + (uint64_t)(k < nd ? qty_digit(&d, z + k) : 0);

	/* fraction * 2^shift from the right: carry = its integer part */
	mult = (uint64_t)1 << shift;
	for (k = nd - 1; k >= (point > 0 ? point : 0); k--) {
		uint64_t t = (uint64_t)qty_digit(&d, z + k) * mult + carry;
		if (t % 10)
			rem = true;
		carry = t / 10;
	}
	for (k = point; k < 0 && carry; k++) {  /* zeros between point and D */
		if (carry % 10)
			rem = true;
		carry /= 10;
	}

	if (ipart > (uint64_t)INT64_MAX / mult)
		return qty_range(s, eb);
	mag = ipart * mult;
	if (carry > (uint64_t)INT64_MAX - mag)
		return qty_range(s, eb);
	mag += carry;
	if (rem && !neg) {                     /* round up towards +inf */
		if (mag == (uint64_t)INT64_MAX)
			return qty_range(s, eb);
		mag++;
	}
	*out = neg ? -(int64_t)mag : (int64_t)mag;
	return KP_OK;
}

/* ---- formatting ---- */

static uint64_t qty_abs(int64_t v)
{
	return v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
}

static const char *const qty_dec_names[] = { "n", "u", "m", "", "k", "M", "G", "T", "P", "E" };

/* Largest decimal SI suffix (a multiple of 3) that keeps the mantissa whole,
 * as Quantity's canonical DecimalSI form: 1500m, 2, 100k. */
static char *fmt_decimal(int64_t v, int scale, char *buf, size_t n)
{
	uint64_t u = qty_abs(v);
	int exp = -scale;

	if (u == 0) {
		snprintf(buf, n, "0");
		return buf;
	}
	if (scale % 3 != 0) {                  /* not reachable with KP_QTY_* */
		snprintf(buf, n, "%s%" PRIu64 "e-%d", v < 0 ? "-" : "", u, scale);
		return buf;
	}
	while (u % 1000 == 0 && exp < 18) {
		u /= 1000;
		exp += 3;
	}
	snprintf(buf, n, "%s%" PRIu64 "%s", v < 0 ? "-" : "", u, qty_dec_names[(exp + 9) / 3]);
	return buf;
}

static const char *const qty_bin_names[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };

char *kp_qty_format(int64_t v, int scale, enum kp_qty_style style, char *buf, size_t n)
{
	uint64_t u, unit = 1;
	int i;

	if (!buf || n == 0)
		return buf;
	if (scale < 0 || scale > QTY_MAX_SCALE)
		scale = 0;
	if (style == KP_QTY_DECIMAL)
		return fmt_decimal(v, scale, buf, n);

	/* binary: whole units only, |v| >= 1024 (else decimal, as k8s does) */
	for (i = 0; i < scale; i++)
		unit *= 10;
	u = qty_abs(v);
	if (u % unit != 0 || u / unit < 1024)
		return fmt_decimal(v, scale, buf, n);
	u /= unit;
	for (i = 0; i < 6 && u % 1024 == 0; i++)
		u /= 1024;
	snprintf(buf, n, "%s%" PRIu64 "%s", v < 0 ? "-" : "", u, qty_bin_names[i]);
	return buf;
}
