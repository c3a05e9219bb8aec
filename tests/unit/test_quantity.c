/*
 * test_quantity.c - quantity parsing and canonical printing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/quantity.h"

struct qcase {
	const char *in;
	int scale;
	kp_err rc;
	int64_t want;
};

#define M KP_QTY_MILLI
#define U KP_QTY_UNIT
#define OK KP_OK
#define BAD KP_ERR_INVALID
#define BIG KP_ERR_RANGE

static const struct qcase cases[] = {
	/* plain and signed integers */
	{ "0", U, OK, 0 },
	{ "1", U, OK, 1 },
	{ "1", M, OK, 1000 },
	{ "+1", U, OK, 1 },
	{ "-1", U, OK, -1 },
	{ "-1", M, OK, -1000 },
	{ "007", U, OK, 7 },
	{ "9223372036854775807", U, OK, INT64_MAX },
	{ "9223372036854775808", U, BIG, 0 },
	{ "18446744073709551616", U, BIG, 0 },
	{ "-9223372036854775807", U, OK, -INT64_MAX },
	{ "9223372036854775807", M, BIG, 0 },
	/* fractions */
	{ "0.5", M, OK, 500 },
	{ ".5", M, OK, 500 },
	{ "1.", U, OK, 1 },
	{ "1.5", M, OK, 1500 },
	{ "1.5", U, OK, 2 },             /* rounds up */
	{ "0.0001", M, OK, 1 },          /* rounds up to 1m */
	{ "0.001", M, OK, 1 },
	{ "2.000000000000000000000000", U, OK, 2 },
	{ "0.000000000000000000000001", U, OK, 1 },
	{ "-0.5", U, OK, 0 },            /* towards +inf */
	{ "-1.5", M, OK, -1500 },
	{ "1.5.3", U, BAD, 0 },
	/* decimal SI suffixes */
	{ "100m", M, OK, 100 },
	{ "100m", U, OK, 1 },
	{ "1500m", M, OK, 1500 },
	{ "1n", M, OK, 1 },
	{ "1000000n", M, OK, 1 },
	{ "1000000u", M, OK, 1000 },
	{ "1k", U, OK, 1000 },
	{ "1.5k", U, OK, 1500 },
	{ "1M", U, OK, 1000000 },
	{ "2G", U, OK, 2000000000 },
	{ "1T", U, OK, 1000000000000LL },
	{ "1P", U, OK, 1000000000000000LL },
	{ "1E", U, OK, 1000000000000000000LL },
	{ "9E", U, OK, 9000000000000000000LL },
	{ "10E", U, BIG, 0 },
	{ "1E", M, BIG, 0 },
	{ "1K", U, BAD, 0 },
	/* binary SI suffixes */
	{ "1Ki", U, OK, 1024 },
	{ "1Ki", M, OK, 1024000 },
	{ "1Mi", U, OK, 1048576 },
	{ "1.5Gi", U, OK, 1610612736 },
	{ "0.5Ki", U, OK, 512 },
	{ ".1Ki", U, OK, 103 },          /* 102.4 rounds up */
	{ "0.001Ki", U, OK, 2 },         /* 1.024 */
	{ "1.5Gi", M, OK, 1610612736000LL },
	{ "16Gi", U, OK, 17179869184LL },
	{ "1Ti", U, OK, 1099511627776LL },
	{ "1Pi", U, OK, 1125899906842624LL },
	{ "7Ei", U, OK, 8070450532247928832LL },
	{ "7Ei", M, BIG, 0 },
	{ "8Ei", U, BIG, 0 },
	{ "-1Gi", U, OK, -1073741824 },
	{ "0Ei", M, OK, 0 },
	{ "1Gib", U, BAD, 0 },
	{ "1gi", U, BAD, 0 },
	{ "1i", U, BAD, 0 },
	/* exponents */
	{ "1e3", U, OK, 1000 },
	{ "1E3", U, OK, 1000 },
	{ "1e+3", U, OK, 1000 },
	{ "1E-3", M, OK, 1 },
	{ "1E-3", U, OK, 1 },
	{ "12e6", U, OK, 12000000 },
	{ "1.5e3", U, OK, 1500 },
	{ "1e18", U, OK, 1000000000000000000LL },
	{ "1e19", U, BIG, 0 },
	{ "0e999999", U, OK, 0 },
	{ "1e-999999999999", U, OK, 1 },
	{ "1e999999999999", U, BIG, 0 },
	{ "1e99999999999999999999", U, BAD, 0 },   /* exponent beyond int64 */
	{ "1e", U, BAD, 0 },
	{ "1e-", U, BAD, 0 },
	{ "1e1.5", U, BAD, 0 },
	{ "1ee3", U, BAD, 0 },
	/* malformed */
	{ "", U, BAD, 0 },
	{ "Gi", U, BAD, 0 },
	{ ".", U, BAD, 0 },
	{ "-", U, BAD, 0 },
	{ "+", U, BAD, 0 },
	{ "--1", U, BAD, 0 },
	{ "+-1", U, BAD, 0 },
	{ " 1", U, BAD, 0 },
	{ "1 ", U, BAD, 0 },
	{ "1 Gi", U, BAD, 0 },
	{ "abc", U, BAD, 0 },
	{ "0x10", U, BAD, 0 },
	{ "1,5", U, BAD, 0 },
	{ "1mm", U, BAD, 0 },
	{ "1Gi1", U, BAD, 0 },
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++) {
		const struct qcase *c = &cases[i];
		struct kp_errbuf eb = { 0 };
		int64_t v = 12345;
		kp_err rc = kp_qty_parse(c->in, c->scale, &v, &eb);

		if (rc != c->rc)
			fail_msg("\"%s\" at scale %d: rc %d (%s), want %d", c->in, c->scale, rc,
				 eb.msg, c->rc);
		if (rc == KP_OK) {
			if (v != c->want)
				fail_msg("\"%s\" at scale %d: got %lld, want %lld", c->in, c->scale,
					 (long long)v, (long long)c->want);
		} else {
			char quoted[160];
			snprintf(quoted, sizeof(quoted), "\"%s\"", c->in);
			assert_int_equal(v, 12345);       /* untouched on error */
			assert_int_equal(eb.code, rc);
			assert_non_null(strstr(eb.msg, quoted));
		}
	}
}

static void test_error_messages(void **state)
{
	struct kp_errbuf eb = { 0 };
	int64_t v;

	(void)state;
	assert_int_equal(kp_qty_parse("1.5.3", U, &v, &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "invalid quantity \"1.5.3\"");
	assert_int_equal(kp_qty_parse("7Ei", M, &v, &eb), KP_ERR_RANGE);
	assert_string_equal(eb.msg, "quantity \"7Ei\" is out of range");
	assert_int_equal(kp_qty_parse(NULL, U, &v, &eb), KP_ERR_INVALID);
	/* a NULL errbuf is allowed */
	assert_int_equal(kp_qty_parse("x", U, &v, NULL), KP_ERR_INVALID);
}

struct fcase {
	int64_t v;
	int scale;
	enum kp_qty_style style;
	const char *want;
};

static const struct fcase fcases[] = {
	{ 0, M, KP_QTY_DECIMAL, "0" },
	{ 1500, M, KP_QTY_DECIMAL, "1500m" },
	{ 2000, M, KP_QTY_DECIMAL, "2" },
	{ 100, M, KP_QTY_DECIMAL, "100m" },
	{ 1, M, KP_QTY_DECIMAL, "1m" },
	{ 100, U, KP_QTY_DECIMAL, "100" },
	{ 110, U, KP_QTY_DECIMAL, "110" },
	{ 1000, U, KP_QTY_DECIMAL, "1k" },
	{ 1500000, U, KP_QTY_DECIMAL, "1500k" },
	{ 1000000, M, KP_QTY_DECIMAL, "1k" },
	{ -1500, M, KP_QTY_DECIMAL, "-1500m" },
	{ -2, U, KP_QTY_DECIMAL, "-2" },
	{ 1000000000000000000LL, U, KP_QTY_DECIMAL, "1E" },
	{ INT64_MAX, U, KP_QTY_DECIMAL, "9223372036854775807" },
	{ INT64_MIN, U, KP_QTY_DECIMAL, "-9223372036854775808" },
	{ 17179869184LL, U, KP_QTY_BINARY, "16Gi" },
	{ 1610612736, U, KP_QTY_BINARY, "1536Mi" },
	{ 1024, U, KP_QTY_BINARY, "1Ki" },
	{ 1000000, U, KP_QTY_BINARY, "1000000" },
	{ 1025, U, KP_QTY_BINARY, "1025" },
	{ 512, U, KP_QTY_BINARY, "512" },
	{ 0, U, KP_QTY_BINARY, "0" },
	{ -17179869184LL, U, KP_QTY_BINARY, "-16Gi" },
	{ 8070450532247928832LL, U, KP_QTY_BINARY, "7Ei" },
	{ 1073741824000LL, M, KP_QTY_BINARY, "1Gi" },
	{ 1500, M, KP_QTY_BINARY, "1500m" },
	{ INT64_MIN, U, KP_QTY_BINARY, "-8Ei" },
};

static void test_format_table(void **state)
{
	char buf[32];

	(void)state;
	for (size_t i = 0; i < KP_ARRAY_LEN(fcases); i++) {
		const struct fcase *c = &fcases[i];
		assert_string_equal(kp_qty_format(c->v, c->scale, c->style, buf, sizeof(buf)), c->want);
	}
}

/* Printing then parsing gives the value back. */
static void test_round_trip(void **state)
{
	static const int64_t vals[] = { 1, 7, 999, 1000, 1024, 1536, 123456789, 1LL << 40,
					3LL << 50, 1000000000000LL, INT64_MAX, -5, -1024 };
	char buf[32];

	(void)state;
	for (size_t i = 0; i < KP_ARRAY_LEN(vals); i++) {
		for (int style = KP_QTY_DECIMAL; style <= KP_QTY_BINARY; style++) {
			for (int scale = 0; scale <= 3; scale += 3) {
				int64_t back = 0;
				kp_qty_format(vals[i], scale, (enum kp_qty_style)style, buf, sizeof(buf));
				assert_int_equal(kp_qty_parse(buf, scale, &back, NULL), KP_OK);
				assert_int_equal(back, vals[i]);
			}
		}
	}
}

static void test_format_small_buffer(void **state)
{
	char buf[4];

	(void)state;
	kp_qty_format(123456, U, KP_QTY_DECIMAL, buf, sizeof(buf));
	assert_string_equal(buf, "123");
}

static void test_checked_arith(void **state)
{
	int64_t r = 7;

	(void)state;
	assert_true(kp_i64_add(1, 2, &r));
	assert_int_equal(r, 3);
	assert_false(kp_i64_add(INT64_MAX, 1, &r));
	assert_int_equal(r, 3);
	assert_false(kp_i64_add(INT64_MIN, -1, &r));
	assert_true(kp_i64_mul(-4, 5, &r));
	assert_int_equal(r, -20);
	assert_false(kp_i64_mul(INT64_MAX / 2 + 1, 2, &r));
	assert_int_equal(r, -20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_format_table),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_format_small_buffer),
		cmocka_unit_test(test_checked_arith),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
