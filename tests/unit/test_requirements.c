/*
 * test_requirements.c - requirement sets with Karpenter's semantics: the
 * operator mapping, Gt/Lt/Gte/Lte bounds, complements, minValues, the
 * intersection and compatibility tables of Karpenter's requirement_test.go
 * and requirements_test.go, undefined keys, beta-key normalization, label
 * matching and the labels a NodeClaim gets from its requirements.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/requirements.h"

static struct kp_arena A;

static int setup(void **state)
{
	(void)state;
	kp_arena_init(&A);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kp_arena_free(&A);
	return 0;
}

/* Builds a requirement; fails the test on error. */
static struct kp_req mk(const char *key, enum kp_op op, int min_values, int n, ...)
{
	const char *v[16];
	struct kp_req r;
	struct kp_errbuf eb = { 0 };
	va_list ap;

	assert_true(n <= 16);
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		v[i] = va_arg(ap, const char *);
	va_end(ap);
	if (kp_req_make(&r, &A, key, op, v, n, min_values, &eb) != KP_OK)
		fail_msg("kp_req_make %s: %s", key, eb.msg);
	return r;
}

static const char *str(const struct kp_req *r)
{
	static char buf[8][256];
	static int i;
	i = (i + 1) % 8;
	return kp_req_str(r, buf[i], sizeof(buf[i]));
}

static struct kp_reqs reqs1(struct kp_req r)
{
	struct kp_reqs rs;
	kp_reqs_init(&rs);
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	return rs;
}

/* The fourteen requirements of Karpenter's tables, on key k. */
enum { EXISTS, DNE, IN_A, IN_B, IN_AB, NOTIN_A, IN_1, IN_9, IN_19, NOTIN_12, GT_1, GT_9, LT_1, LT_9, NREQ };
static const char *const req_names[NREQ] = {
	"exists", "doesNotExist", "inA", "inB", "inAB", "notInA", "in1", "in9", "in19",
	"notIn12", "greaterThan1", "greaterThan9", "lessThan1", "lessThan9",
};

static void table(const char *k, struct kp_req *t)
{
	t[EXISTS] = mk(k, KP_OP_EXISTS, 0, 0);
	t[DNE] = mk(k, KP_OP_DOESNOTEXIST, 0, 0);
	t[IN_A] = mk(k, KP_OP_IN, 0, 1, "A");
	t[IN_B] = mk(k, KP_OP_IN, 0, 1, "B");
	t[IN_AB] = mk(k, KP_OP_IN, 0, 2, "B", "A");
	t[NOTIN_A] = mk(k, KP_OP_NOTIN, 0, 1, "A");
	t[IN_1] = mk(k, KP_OP_IN, 0, 1, "1");
	t[IN_9] = mk(k, KP_OP_IN, 0, 1, "9");
	t[IN_19] = mk(k, KP_OP_IN, 0, 2, "9", "1");
	t[NOTIN_12] = mk(k, KP_OP_NOTIN, 0, 2, "1", "2");
	t[GT_1] = mk(k, KP_OP_GT, 0, 1, "1");
	t[GT_9] = mk(k, KP_OP_GT, 0, 1, "9");
	t[LT_1] = mk(k, KP_OP_LT, 0, 1, "1");
	t[LT_9] = mk(k, KP_OP_LT, 0, 1, "9");
}

/* ---- construction ---- */

static void test_op_parse(void **state)
{
	(void)state;
	assert_int_equal(kp_op_parse("In"), KP_OP_IN);
	assert_int_equal(kp_op_parse("NotIn"), KP_OP_NOTIN);
	assert_int_equal(kp_op_parse("Exists"), KP_OP_EXISTS);
	assert_int_equal(kp_op_parse("DoesNotExist"), KP_OP_DOESNOTEXIST);
	assert_int_equal(kp_op_parse("Gt"), KP_OP_GT);
	assert_int_equal(kp_op_parse("Lt"), KP_OP_LT);
	assert_int_equal(kp_op_parse("Gte"), KP_OP_GTE);
	assert_int_equal(kp_op_parse("Lte"), KP_OP_LTE);
	assert_int_equal(kp_op_parse("in"), -1);
	assert_int_equal(kp_op_parse("NOTIN"), -1);
	assert_int_equal(kp_op_parse(""), -1);
	assert_int_equal(kp_op_parse(NULL), -1);
	for (int op = KP_OP_IN; op <= KP_OP_LTE; op++)
		assert_int_equal(kp_op_parse(kp_op_name((enum kp_op)op)), op);
}

static void test_make_operators(void **state)
{
	struct kp_req r;
	(void)state;

	r = mk("k", KP_OP_IN, 0, 4, "c", "a", "b", "a");
	assert_false(r.complement);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.values[0], "a");
	assert_string_equal(r.values[1], "b");
	assert_string_equal(r.values[2], "c");
	assert_int_equal(kp_req_op(&r), KP_OP_IN);
	assert_int_equal(kp_req_len(&r), 3);

	r = mk("k", KP_OP_NOTIN, 0, 2, "b", "a");
	assert_true(r.complement);
	assert_int_equal(kp_req_op(&r), KP_OP_NOTIN);
	assert_int_equal(kp_req_len(&r), INT64_MAX - 2);

	r = mk("k", KP_OP_EXISTS, 0, 0);
	assert_int_equal(kp_req_op(&r), KP_OP_EXISTS);
	assert_int_equal(kp_req_len(&r), INT64_MAX);
	r = mk("k", KP_OP_DOESNOTEXIST, 0, 0);
	assert_int_equal(kp_req_op(&r), KP_OP_DOESNOTEXIST);
	assert_int_equal(kp_req_len(&r), 0);

	r = mk("k", KP_OP_GT, 0, 1, "5");
	assert_true(r.complement && r.has_gte && !r.has_lte);
	assert_int_equal(r.gte, 6);
	assert_int_equal(kp_req_op(&r), KP_OP_EXISTS);
	r = mk("k", KP_OP_LT, 0, 1, "5");
	assert_true(r.complement && r.has_lte && !r.has_gte);
	assert_int_equal(r.lte, 4);
	r = mk("k", KP_OP_GTE, 0, 1, "5");
	assert_int_equal(r.gte, 5);
	r = mk("k", KP_OP_LTE, 0, 1, "5");
	assert_int_equal(r.lte, 5);
	r = mk("k", KP_OP_LT, 0, 1, "0");
	assert_int_equal(r.lte, -1);
	assert_false(kp_req_has(&r, "0"));
	assert_true(kp_req_has(&r, "-3"));

	/* Gt MaxInt matches nothing and drops minValues */
	r = mk("k", KP_OP_GT, 3, 1, "9223372036854775807");
	assert_int_equal(kp_req_op(&r), KP_OP_DOESNOTEXIST);
	assert_false(r.has_gte || r.has_lte);
	assert_int_equal(r.min_values, 0);

	/* well-known keys are interned, custom keys copied */
	{
		struct kp_req z1 = mk("topology.kubernetes.io/zone", KP_OP_EXISTS, 0, 0);
		struct kp_req z2 = mk("failure-domain.beta.kubernetes.io/zone", KP_OP_EXISTS, 0, 0);
		assert_ptr_equal(z1.key, z2.key);
		assert_ptr_equal(z1.key, kp_label_intern("topology.kubernetes.io/zone"));
	}

	/* strings are copied */
	{
		char buf[8] = "zz";
		const char *v[1] = { buf };
		assert_int_equal(kp_req_make(&r, &A, "k", KP_OP_IN, v, 1, 0, NULL), KP_OK);
		buf[0] = 'q';
		assert_string_equal(r.values[0], "zz");
	}
}

static void expect_make_error(const char *key, enum kp_op op, int n, const char *const *v, int minv,
			      const char *want)
{
	struct kp_req r;
	struct kp_errbuf eb = { 0 };

	assert_int_equal(kp_req_make(&r, &A, key, op, v, n, minv, &eb), KP_ERR_INVALID);
	if (!strstr(eb.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", eb.msg, want);
	assert_int_equal(eb.code, KP_ERR_INVALID);
}

static void test_make_validation(void **state)
{
	const char *abc[] = { "abc" }, *neg[] = { "-1" }, *two[] = { "1", "2" }, *a[] = { "a" };
	const char *spc[] = { " 1" }, *bad[] = { "bad value" }, *big[] = { "99999999999999999999" };
	(void)state;

	expect_make_error("team", KP_OP_GT, 1, abc, 0,
			  "operator \"Gt\" requires exactly one non-negative integer value, got \"abc\"");
	expect_make_error("team", KP_OP_LT, 1, neg, 0, "got \"-1\"");
	expect_make_error("team", KP_OP_GTE, 2, two, 0, "got 2 values");
	expect_make_error("team", KP_OP_LTE, 0, NULL, 0, "got 0 values");
	expect_make_error("team", KP_OP_GT, 1, spc, 0, "got \" 1\"");
	expect_make_error("team", KP_OP_GT, 1, big, 0, "requires exactly one");
	expect_make_error("team", KP_OP_IN, 0, NULL, 0, "operator \"In\" requires at least one value");
	expect_make_error("team", KP_OP_EXISTS, 1, a, 0, "operator \"Exists\" takes no values, got 1");
	expect_make_error("team", KP_OP_DOESNOTEXIST, 1, a, 0, "operator \"DoesNotExist\" takes no values");
	expect_make_error("team", KP_OP_IN, 1, a, 2, "fewer than minValues 2");
	expect_make_error("team", KP_OP_IN, 1, a, 51, "minValues 51 out of range");
	expect_make_error("team", KP_OP_IN, 1, a, -1, "minValues -1 out of range");
	expect_make_error("team", KP_OP_IN, 1, bad, 0, "bad value");
	expect_make_error("bad key!", KP_OP_EXISTS, 0, NULL, 0, "bad key!");
	expect_make_error("", KP_OP_EXISTS, 0, NULL, 0, "empty");
	expect_make_error("team", (enum kp_op)42, 0, NULL, 0, "unknown operator");

	/* accepted edge cases */
	{
		struct kp_req r;
		const char *plus[] = { "+7" }, *zero[] = { "007" };
		assert_int_equal(kp_req_make(&r, &A, "k", KP_OP_GT, plus, 1, 0, NULL), KP_OK);
		assert_int_equal(r.gte, 8);
		assert_int_equal(kp_req_make(&r, &A, "k", KP_OP_LTE, zero, 1, 0, NULL), KP_OK);
		assert_int_equal(r.lte, 7);
		assert_int_equal(kp_req_make(&r, &A, "k", KP_OP_NOTIN, NULL, 0, 50, NULL), KP_OK);
		assert_int_equal(r.min_values, 50);
		assert_int_equal(kp_req_op(&r), KP_OP_EXISTS);
	}
}

static void test_normalize_keys(void **state)
{
	static const char *const beta[][2] = {
		{ "failure-domain.beta.kubernetes.io/zone", "topology.kubernetes.io/zone" },
		{ "failure-domain.beta.kubernetes.io/region", "topology.kubernetes.io/region" },
		{ "beta.kubernetes.io/arch", "kubernetes.io/arch" },
		{ "beta.kubernetes.io/os", "kubernetes.io/os" },
		{ "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type" },
	};
	struct kp_reqs rs;
	struct kp_labels l = { 0 };
	(void)state;

	kp_reqs_init(&rs);
	for (size_t i = 0; i < KP_ARRAY_LEN(beta); i++) {
		struct kp_req r = mk(beta[i][0], KP_OP_IN, 0, 1, "test");
		assert_string_equal(r.key, beta[i][1]);
		assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
		assert_int_equal(kp_labels_set(&l, &A, beta[i][0], "test"), KP_OK);
	}
	assert_int_equal(rs.n, 5);
	assert_null(kp_reqs_get(&rs, "failure-domain.beta.kubernetes.io/zone"));
	assert_true(kp_req_has(kp_reqs_get(&rs, "topology.kubernetes.io/zone"), "test"));

	/* label requirements normalize too; beta + stable of the same key intersect */
	assert_int_equal(kp_labels_set(&l, &A, "topology.kubernetes.io/zone", "other"), KP_OK);
	assert_int_equal(kp_reqs_from_labels(&rs, &A, &l), KP_OK);
	assert_int_equal(rs.n, 5);
	for (int i = 0; i < rs.n; i++)
		assert_null(strstr(rs.r[i].key, "beta"));
	assert_int_equal(kp_req_op(kp_reqs_get(&rs, "topology.kubernetes.io/zone")), KP_OP_DOESNOTEXIST);
	assert_string_equal(str(kp_reqs_get(&rs, "kubernetes.io/arch")), "kubernetes.io/arch In [test]");
}

/* ---- single requirements ---- */

static void test_has_and_bounds(void **state)
{
	struct kp_req t[NREQ], gte2, lte8, r;
	(void)state;

	table("key", t);
	assert_true(kp_req_has(&t[EXISTS], "anything"));
	assert_false(kp_req_has(&t[DNE], "anything"));
	assert_true(kp_req_has(&t[IN_AB], "B"));
	assert_false(kp_req_has(&t[IN_AB], "C"));
	assert_false(kp_req_has(&t[NOTIN_A], "A"));
	assert_true(kp_req_has(&t[NOTIN_A], "Z"));
	/* a value that is not an integer is outside any bound */
	assert_false(kp_req_has(&t[GT_1], "A"));
	assert_false(kp_req_has(&t[GT_1], "1"));
	assert_true(kp_req_has(&t[GT_1], "2"));
	assert_false(kp_req_has(&t[GT_1], "2.5"));
	assert_false(kp_req_has(&t[GT_1], ""));
	assert_true(kp_req_has(&t[GT_1], "+3"));
	assert_false(kp_req_has(&t[GT_1], "99999999999999999999"));
	assert_true(kp_req_has(&t[LT_9], "8"));
	assert_true(kp_req_has(&t[LT_9], "-100"));
	assert_false(kp_req_has(&t[LT_9], "9"));

	gte2 = mk("key", KP_OP_GTE, 0, 1, "2");
	lte8 = mk("key", KP_OP_LTE, 0, 1, "8");
	assert_true(kp_req_has(&gte2, "2"));
	assert_false(kp_req_has(&gte2, "1"));
	assert_true(kp_req_has(&lte8, "8"));
	assert_false(kp_req_has(&lte8, "9"));
	assert_int_equal(kp_req_intersect(&r, &A, &gte2, &lte8), KP_OK);
	assert_string_equal(str(&r), "key Exists >=2 <=8");
	assert_true(kp_req_has(&r, "2") && kp_req_has(&r, "5") && kp_req_has(&r, "8"));
	assert_false(kp_req_has(&r, "1") || kp_req_has(&r, "9"));
	for (int v = 0; v < 12; v++) {
		char s[16];
		snprintf(s, sizeof(s), "%d", v);
		assert_int_equal(kp_req_has(&gte2, s), kp_req_has(&t[GT_1], s));
		assert_int_equal(kp_req_has(&lte8, s), kp_req_has(&t[LT_9], s));
	}

	/* Gt 4 with Gte 5 collapses to one bound, Gt 5 with Gte 5 keeps the tighter */
	{
		struct kp_req gt4 = mk("key", KP_OP_GT, 0, 1, "4"), gte5 = mk("key", KP_OP_GTE, 0, 1, "5");
		struct kp_req gt5 = mk("key", KP_OP_GT, 0, 1, "5");
		assert_int_equal(kp_req_intersect(&r, &A, &gt4, &gte5), KP_OK);
		assert_string_equal(str(&r), "key Exists >=5");
		assert_int_equal(kp_req_intersect(&r, &A, &gt5, &gte5), KP_OK);
		assert_string_equal(str(&r), "key Exists >=6");
	}
}

static void test_string(void **state)
{
	struct kp_req t[NREQ], r;
	static const char *const want[NREQ] = {
		"key Exists", "key DoesNotExist", "key In [A]", "key In [B]", "key In [A B]", "key NotIn [A]",
		"key In [1]", "key In [9]", "key In [1 9]", "key NotIn [1 2]", "key Exists >=2",
		"key Exists >=10", "key Exists <=0", "key Exists <=8",
	};
	char small[12];
	(void)state;

	table("key", t);
	for (int i = 0; i < NREQ; i++)
		assert_string_equal(str(&t[i]), want[i]);
	assert_int_equal(kp_req_intersect(&r, &A, &t[GT_9], &t[LT_1]), KP_OK);
	assert_string_equal(str(&r), "key DoesNotExist");
	r = mk("key", KP_OP_IN, 2, 7, "g", "f", "e", "d", "c", "b", "a");
	assert_string_equal(str(&r), "key In [a b c d e and 2 others] minValues 2");
	/* truncation is safe and NUL-terminated */
	assert_string_equal(kp_req_str(&r, small, sizeof(small)), "key In [a b");
}

/* Intersection table of Karpenter's requirement_test.go (no minValues):
 * row.Intersection(column). */
static const char *const intersect_table[NREQ][NREQ] = {
	{ /* exists */ "key Exists", "key DoesNotExist", "key In [A]", "key In [B]", "key In [A B]", "key NotIn [A]", "key In [1]", "key In [9]", "key In [1 9]", "key NotIn [1 2]", "key Exists >=2", "key Exists >=10", "key Exists <=0", "key Exists <=8" },
	{ /* doesNotExist */ "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist" },
	{ /* inA */ "key In [A]", "key DoesNotExist", "key In [A]", "key DoesNotExist", "key In [A]", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key In [A]", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist" },
	{ /* inB */ "key In [B]", "key DoesNotExist", "key DoesNotExist", "key In [B]", "key In [B]", "key In [B]", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key In [B]", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist" },
	{ /* inAB */ "key In [A B]", "key DoesNotExist", "key In [A]", "key In [B]", "key In [A B]", "key In [B]", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key In [A B]", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist" },
	{ /* notInA */ "key NotIn [A]", "key DoesNotExist", "key DoesNotExist", "key In [B]", "key In [B]", "key NotIn [A]", "key In [1]", "key In [9]", "key In [1 9]", "key NotIn [1 2 A]", "key Exists >=2", "key Exists >=10", "key Exists <=0", "key Exists <=8" },
	{ /* in1 */ "key In [1]", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key In [1]", "key In [1]", "key DoesNotExist", "key In [1]", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key In [1]" },
	{ /* in9 */ "key In [9]", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key In [9]", "key DoesNotExist", "key In [9]", "key In [9]", "key In [9]", "key In [9]", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist" },
	{ /* in19 */ "key In [1 9]", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key In [1 9]", "key In [1]", "key In [9]", "key In [1 9]", "key In [9]", "key In [9]", "key DoesNotExist", "key DoesNotExist", "key In [1]" },
	{ /* notIn12 */ "key NotIn [1 2]", "key DoesNotExist", "key In [A]", "key In [B]", "key In [A B]", "key NotIn [1 2 A]", "key DoesNotExist", "key In [9]", "key In [9]", "key NotIn [1 2]", "key NotIn [2] >=2", "key Exists >=10", "key Exists <=0", "key NotIn [1 2] <=8" },
	{ /* greaterThan1 */ "key Exists >=2", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key Exists >=2", "key DoesNotExist", "key In [9]", "key In [9]", "key NotIn [2] >=2", "key Exists >=2", "key Exists >=10", "key DoesNotExist", "key Exists >=2 <=8" },
	{ /* greaterThan9 */ "key Exists >=10", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key Exists >=10", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key Exists >=10", "key Exists >=10", "key Exists >=10", "key DoesNotExist", "key DoesNotExist" },
	{ /* lessThan1 */ "key Exists <=0", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key Exists <=0", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key Exists <=0", "key DoesNotExist", "key DoesNotExist", "key Exists <=0", "key Exists <=0" },
	{ /* lessThan9 */ "key Exists <=8", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key DoesNotExist", "key Exists <=8", "key In [1]", "key DoesNotExist", "key In [1]", "key NotIn [1 2] <=8", "key Exists >=2 <=8", "key DoesNotExist", "key Exists <=0", "key Exists <=8" },
};

static void test_intersection_table(void **state)
{
	struct kp_req t[NREQ];
	(void)state;

	table("key", t);
	for (int i = 0; i < NREQ; i++) {
		for (int j = 0; j < NREQ; j++) {
			struct kp_req r;
			assert_int_equal(kp_req_intersect(&r, &A, &t[i], &t[j]), KP_OK);
			if (strcmp(str(&r), intersect_table[i][j]) != 0)
				fail_msg("%s ∩ %s = \"%s\", want \"%s\"", req_names[i], req_names[j], str(&r),
					 intersect_table[i][j]);
			/* HasIntersection agrees with the computed set where the set is finite */
			if (!r.complement)
				assert_int_equal(kp_req_intersects(&t[i], &t[j]), r.n > 0);
		}
	}
}

/* For values drawn from a small universe, x ∈ a∩b iff x ∈ a and x ∈ b. */
static void test_intersection_semantics(void **state)
{
	static const char *const universe[] = { "A", "B", "C", "0", "1", "2", "5", "8", "9", "10", "11", "-1", "x1", "" };
	struct kp_req t[NREQ + 3];
	(void)state;

	table("key", t);
	t[NREQ] = mk("key", KP_OP_GTE, 0, 1, "5");
	t[NREQ + 1] = mk("key", KP_OP_LTE, 0, 1, "5");
	t[NREQ + 2] = mk("key", KP_OP_NOTIN, 0, 3, "5", "B", "10");
	for (int i = 0; i < NREQ + 3; i++) {
		for (int j = 0; j < NREQ + 3; j++) {
			struct kp_req r;
			bool any = false;
			assert_int_equal(kp_req_intersect(&r, &A, &t[i], &t[j]), KP_OK);
			for (size_t u = 0; u < KP_ARRAY_LEN(universe); u++) {
				bool both = kp_req_has(&t[i], universe[u]) && kp_req_has(&t[j], universe[u]);
				if (kp_req_has(&r, universe[u]) != both)
					fail_msg("%s in (%s) ∩ (%s) = (%s): got %d", universe[u], str(&t[i]), str(&t[j]),
						 str(&r), !both);
				any |= both;
			}
			/* a witness in the universe implies HasIntersection */
			if (any)
				assert_true(kp_req_intersects(&t[i], &t[j]));
			/* values stay sorted and unique */
			for (int k = 1; k < r.n; k++)
				assert_true(strcmp(r.values[k - 1], r.values[k]) < 0);
		}
	}
}

static void test_min_values_merge(void **state)
{
	struct kp_req a = mk("key", KP_OP_IN, 1, 3, "a", "b", "c");
	struct kp_req b = mk("key", KP_OP_IN, 2, 2, "b", "c");
	struct kp_req ex = mk("key", KP_OP_EXISTS, 3, 0);
	struct kp_req gt = mk("key", KP_OP_GT, 4, 1, "9"), lt = mk("key", KP_OP_LT, 0, 1, "1");
	struct kp_req r;
	struct kp_reqs rs;
	(void)state;

	assert_int_equal(kp_req_intersect(&r, &A, &a, &b), KP_OK);
	assert_int_equal(r.min_values, 2);
	assert_string_equal(str(&r), "key In [b c] minValues 2");
	assert_int_equal(kp_req_intersect(&r, &A, &b, &ex), KP_OK);
	assert_int_equal(r.min_values, 3);
	r = mk("key", KP_OP_IN, 0, 1, "a");
	assert_int_equal(kp_req_intersect(&r, &A, &a, &r), KP_OK);
	assert_int_equal(r.min_values, 1);
	/* an empty range keeps the larger minValues */
	assert_int_equal(kp_req_intersect(&r, &A, &gt, &lt), KP_OK);
	assert_string_equal(str(&r), "key DoesNotExist minValues 4");

	/* Requirements.Add intersects on the same key */
	kp_reqs_init(&rs);
	assert_int_equal(kp_reqs_add(&rs, &A, &a), KP_OK);
	assert_int_equal(kp_reqs_add(&rs, &A, &b), KP_OK);
	assert_int_equal(rs.n, 1);
	assert_string_equal(str(&rs.r[0]), "key In [b c] minValues 2");
}

static void test_intersect_shares_and_keeps_inputs(void **state)
{
	struct kp_req a = mk("key", KP_OP_IN, 0, 3, "a", "b", "c");
	struct kp_req b = mk("key", KP_OP_IN, 0, 4, "a", "b", "c", "d");
	struct kp_req na = mk("key", KP_OP_NOTIN, 0, 1, "z");
	struct kp_req r;
	(void)state;

	assert_int_equal(kp_req_intersect(&r, &A, &a, &b), KP_OK);
	assert_ptr_equal(r.values, a.values);
	assert_int_equal(kp_req_intersect(&r, &A, &b, &a), KP_OK);
	assert_ptr_equal(r.values, a.values);
	assert_int_equal(kp_req_intersect(&r, &A, &na, &b), KP_OK);
	assert_ptr_equal(r.values, b.values);
	r = mk("key", KP_OP_NOTIN, 0, 1, "b");
	assert_int_equal(kp_req_intersect(&r, &A, &b, &r), KP_OK);
	assert_string_equal(str(&r), "key In [a c d]");
	/* inputs untouched */
	assert_string_equal(str(&a), "key In [a b c]");
	assert_string_equal(str(&b), "key In [a b c d]");
}

/* ---- requirement sets ---- */

static void test_reqs_sorted_lookup(void **state)
{
	static const char *const keys[] = { "m", "b", "z", "a", "q", "c", "y", "d", "x", "e", "f", "g" };
	struct kp_reqs rs, cp;
	(void)state;

	kp_reqs_init(&rs);
	assert_null(kp_reqs_get(&rs, "a"));
	for (size_t i = 0; i < KP_ARRAY_LEN(keys); i++) {
		struct kp_req r = mk(keys[i], KP_OP_IN, 0, 1, keys[i]);
		assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	}
	assert_int_equal(rs.n, (int)KP_ARRAY_LEN(keys));
	for (int i = 1; i < rs.n; i++)
		assert_true(strcmp(rs.r[i - 1].key, rs.r[i].key) < 0);
	for (size_t i = 0; i < KP_ARRAY_LEN(keys); i++)
		assert_string_equal(kp_reqs_get(&rs, keys[i])->values[0], keys[i]);
	assert_null(kp_reqs_get(&rs, "n"));
	assert_null(kp_reqs_get(NULL, "n"));

	assert_int_equal(kp_reqs_copy(&cp, &A, &rs), KP_OK);
	assert_int_equal(cp.n, rs.n);
	assert_ptr_not_equal(cp.r, rs.r);
	{
		struct kp_req r = mk("zz", KP_OP_EXISTS, 0, 0);
		assert_int_equal(kp_reqs_add(&cp, &A, &r), KP_OK);
	}
	assert_int_equal(cp.n, rs.n + 1);
	assert_null(kp_reqs_get(&rs, "zz"));

	/* add_all intersects shared keys */
	{
		struct kp_reqs other;
		kp_reqs_init(&other);
		struct kp_req r = mk("m", KP_OP_IN, 0, 2, "m", "n");
		assert_int_equal(kp_reqs_add(&other, &A, &r), KP_OK);
		r = mk("new", KP_OP_EXISTS, 0, 0);
		assert_int_equal(kp_reqs_add(&other, &A, &r), KP_OK);
		assert_int_equal(kp_reqs_add_all(&other, &A, &cp), KP_OK);
		assert_int_equal(other.n, cp.n + 1);
		assert_string_equal(str(kp_reqs_get(&other, "m")), "m In [m]");
	}
}

/* requirements_test.go "Compatibility" matrices, on a well-known key (zone)
 * and on a custom key: row.Compatible(column). Index 0 is "unconstrained". */
static const char *const compat_wk[NREQ + 1] = {
	"111111111111111", "110111111111111", "101000100010000", "110101000010000",
	"110011100010000", "110111100010000", "111011111111111", "110000110100001",
	"110000101111000", "110000111111001", "111111101111111", "110000101111101",
	"110000100011100", "110000100010011", "110000110111011",
};
static const char *const compat_strict[NREQ + 1] = {
	"101000100010000", "110111111111111", "101000100010000", "110101000010000",
	"110011100010000", "110111100010000", "111011111111111", "110000110100001",
	"110000101111000", "110000111111001", "111111101111111", "110000101111101",
	"110000100011100", "110000100010011", "110000110111011",
};

static void check_matrix(const char *key, const char *const *want, bool strict, bool custom_allowed)
{
	struct kp_req t[NREQ];
	struct kp_reqs s[NREQ + 1];

	table(key, t);
	kp_reqs_init(&s[0]);
	for (int i = 0; i < NREQ; i++)
		s[i + 1] = reqs1(t[i]);
	for (int i = 0; i <= NREQ; i++) {
		for (int j = 0; j <= NREQ; j++) {
			struct kp_errbuf eb = { 0 };
			bool got = strict ? kp_reqs_compatible_strict(&s[i], &s[j], &eb)
					  : kp_reqs_compatible(&s[i], &s[j], &eb);
			bool exp = want[i][j] == '1';
			/* without eb the answer is the same */
			bool got2 = strict ? kp_reqs_compatible_strict(&s[i], &s[j], NULL)
					   : kp_reqs_compatible(&s[i], &s[j], NULL);
			if (got != exp || got2 != got)
				fail_msg("%s: %s.compatible(%s) = %d, want %d (%s)", key,
					 i ? req_names[i - 1] : "unconstrained", j ? req_names[j - 1] : "unconstrained",
					 got, exp, eb.msg);
			if (!got)
				assert_true(eb.msg[0] != '\0');
		}
	}
	(void)custom_allowed;
}

static void test_compatible_matrix(void **state)
{
	(void)state;
	check_matrix("topology.kubernetes.io/zone", compat_wk, false, true);
	check_matrix("topology.kubernetes.io/zone", compat_strict, true, false);
	/* a custom key is not allowed undefined: it behaves like the strict table */
	check_matrix("team", compat_strict, false, false);
	check_matrix("team", compat_strict, true, false);
	/* provider well-known keys are allowed undefined */
	check_matrix("karpenter.k8s.aws/instance-family", compat_wk, false, true);
	check_matrix("karpenter.kwok.sh/instance-size", compat_wk, false, true);
}

static void expect_compat_msg(const char *key, bool allow_wk, const char *want)
{
	struct kp_reqs none, in;
	struct kp_errbuf eb = { 0 };
	bool ok;

	kp_reqs_init(&none);
	in = reqs1(mk(key, KP_OP_EXISTS, 0, 0));
	ok = allow_wk ? kp_reqs_compatible(&none, &in, &eb) : kp_reqs_compatible_strict(&none, &in, &eb);
	assert_false(ok);
	assert_string_equal(eb.msg, want);
}

static void test_compatible_messages(void **state)
{
	struct kp_reqs pool, pod, big;
	struct kp_errbuf eb = { 0 };
	(void)state;

	expect_compat_msg("zone", true, "label \"zone\" does not have known values (typo of \"topology.kubernetes.io/zone\"?)");
	expect_compat_msg("region", true, "label \"region\" does not have known values (typo of \"topology.kubernetes.io/region\"?)");
	expect_compat_msg("nodepool", true, "label \"nodepool\" does not have known values (typo of \"karpenter.sh/nodepool\"?)");
	expect_compat_msg("instance-type", true, "label \"instance-type\" does not have known values (typo of \"node.kubernetes.io/instance-type\"?)");
	expect_compat_msg("arch", true, "label \"arch\" does not have known values (typo of \"kubernetes.io/arch\"?)");
	expect_compat_msg("capacity-type", true, "label \"capacity-type\" does not have known values (typo of \"karpenter.sh/capacity-type\"?)");
	expect_compat_msg("topology.kubernetesio/zone", true, "label \"topology.kubernetesio/zone\" does not have known values (typo of \"topology.kubernetes.io/zone\"?)");
	expect_compat_msg("node.io/zone", true, "label \"node.io/zone\" does not have known values (typo of \"topology.kubernetes.io/zone\"?)");
	expect_compat_msg("topology.kubernetes.io/regio", true, "label \"topology.kubernetes.io/regio\" does not have known values (typo of \"topology.kubernetes.io/region\"?)");
	expect_compat_msg("karpenter/nodepool", true, "label \"karpenter/nodepool\" does not have known values (typo of \"karpenter.sh/nodepool\"?)");
	expect_compat_msg("deployment", false, "label \"deployment\" does not have known values");
	expect_compat_msg("team", true, "label \"team\" does not have known values");

	/* shared key without intersection */
	pool = reqs1(mk("topology.kubernetes.io/zone", KP_OP_IN, 0, 1, "us-east-1a"));
	pod = reqs1(mk("topology.kubernetes.io/zone", KP_OP_IN, 0, 1, "us-east-1b"));
	assert_false(kp_reqs_compatible(&pool, &pod, &eb));
	assert_string_equal(eb.msg, "key topology.kubernetes.io/zone, topology.kubernetes.io/zone In [us-east-1b] "
				    "not in topology.kubernetes.io/zone In [us-east-1a]");
	assert_false(kp_reqs_intersects(&pool, &pod, NULL));

	/* the undefined-key check reports before intersection failures, like Karpenter */
	{
		struct kp_req r = mk("aaa", KP_OP_IN, 0, 1, "x");
		assert_int_equal(kp_reqs_add(&pod, &A, &r), KP_OK);
		assert_false(kp_reqs_compatible(&pool, &pod, &eb));
		assert_string_equal(eb.msg, "label \"aaa\" does not have known values");
	}

	/* every failing key is reported, joined like multierr */
	kp_reqs_init(&big);
	kp_reqs_init(&pod);
	{
		struct kp_req r;
		r = mk("kubernetes.io/arch", KP_OP_IN, 0, 1, "amd64");
		assert_int_equal(kp_reqs_add(&big, &A, &r), KP_OK);
		r = mk("kubernetes.io/os", KP_OP_IN, 0, 1, "linux");
		assert_int_equal(kp_reqs_add(&big, &A, &r), KP_OK);
		r = mk("kubernetes.io/arch", KP_OP_IN, 0, 1, "arm64");
		assert_int_equal(kp_reqs_add(&pod, &A, &r), KP_OK);
		r = mk("kubernetes.io/os", KP_OP_IN, 0, 1, "windows");
		assert_int_equal(kp_reqs_add(&pod, &A, &r), KP_OK);
	}
	assert_false(kp_reqs_intersects(&big, &pod, &eb));
	assert_string_equal(eb.msg, "key kubernetes.io/arch, kubernetes.io/arch In [arm64] not in kubernetes.io/arch In [amd64]; "
				    "key kubernetes.io/os, kubernetes.io/os In [windows] not in kubernetes.io/os In [linux]");
}

static void test_intersects_negative_exception(void **state)
{
	struct kp_reqs a, b;
	(void)state;

	/* NotIn vs DoesNotExist do not intersect as sets, but both are negative */
	a = reqs1(mk("team", KP_OP_NOTIN, 0, 1, "a"));
	b = reqs1(mk("team", KP_OP_DOESNOTEXIST, 0, 0));
	assert_false(kp_req_intersects(&a.r[0], &b.r[0]));
	assert_true(kp_reqs_intersects(&a, &b, NULL));
	assert_true(kp_reqs_intersects(&b, &a, NULL));
	assert_true(kp_reqs_compatible_strict(&a, &b, NULL));
	/* In vs DoesNotExist fails */
	a = reqs1(mk("team", KP_OP_IN, 0, 1, "a"));
	assert_false(kp_reqs_intersects(&a, &b, NULL));
	assert_false(kp_reqs_intersects(&b, &a, NULL));
	/* disjoint keys always intersect */
	b = reqs1(mk("other", KP_OP_DOESNOTEXIST, 0, 0));
	assert_true(kp_reqs_intersects(&a, &b, NULL));
}

/* ORed terms (a PersistentVolume's nodeSelectorTerms, a StorageClass's
 * allowedTopologies): a node matching only the second term matches. */
static void test_any_match_labels(void **state)
{
	struct kp_labels l = { 0 };
	struct kp_reqs t[2];
	struct kp_req r;
	(void)state;

	assert_int_equal(kp_labels_set(&l, &A, "topology.kubernetes.io/zone", "us-east-1b"), KP_OK);
	kp_reqs_init(&t[0]);
	kp_reqs_init(&t[1]);
	r = mk("topology.kubernetes.io/zone", KP_OP_IN, 0, 1, "us-east-1z");
	assert_int_equal(kp_reqs_add(&t[0], &A, &r), KP_OK);
	r = mk("topology.kubernetes.io/zone", KP_OP_IN, 0, 1, "us-east-1b");
	assert_int_equal(kp_reqs_add(&t[1], &A, &r), KP_OK);
	assert_false(kp_reqs_any_match_labels(t, 1, &l));
	assert_true(kp_reqs_any_match_labels(t, 2, &l));
	assert_true(kp_reqs_any_match_labels(&t[1], 1, &l));
	assert_true(kp_reqs_any_match_labels(t, 0, &l));          /* no term: no restriction */
	assert_false(kp_reqs_any_match_labels(t, 2, NULL));       /* no labels: In fails */
}

static void test_match_labels(void **state)
{
	struct kp_labels l = { 0 };
	struct kp_reqs rs;
	struct kp_errbuf eb = { 0 };
	struct kp_req r;
	(void)state;

	assert_int_equal(kp_labels_set(&l, &A, "topology.kubernetes.io/zone", "us-east-1a"), KP_OK);
	assert_int_equal(kp_labels_set(&l, &A, "cpu", "4"), KP_OK);
	assert_int_equal(kp_labels_set(&l, &A, "team", "web"), KP_OK);

	kp_reqs_init(&rs);
	assert_true(kp_reqs_match_labels(&rs, &l, NULL));
	r = mk("topology.kubernetes.io/zone", KP_OP_IN, 0, 2, "us-east-1a", "us-east-1b");
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	r = mk("cpu", KP_OP_GT, 0, 1, "2");
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	r = mk("gpu", KP_OP_DOESNOTEXIST, 0, 0);
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	r = mk("spot", KP_OP_NOTIN, 0, 1, "true");
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	assert_true(kp_reqs_match_labels(&rs, &l, &eb));

	/* bound on a present label */
	r = mk("cpu", KP_OP_LT, 0, 1, "4");
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	assert_false(kp_reqs_match_labels(&rs, &l, &eb));
	assert_string_equal(eb.msg, "key cpu, cpu Exists >=3 <=3 not in cpu In [4]");

	/* a missing label satisfies only NotIn/DoesNotExist; Exists fails even a well-known key */
	kp_reqs_init(&rs);
	r = mk("kubernetes.io/arch", KP_OP_EXISTS, 0, 0);
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	assert_false(kp_reqs_match_labels(&rs, &l, &eb));
	assert_string_equal(eb.msg, "label \"kubernetes.io/arch\" does not have known values");
	assert_false(kp_reqs_match_labels(&rs, NULL, NULL));

	/* NotIn on a present label */
	kp_reqs_init(&rs);
	r = mk("team", KP_OP_NOTIN, 0, 1, "web");
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	assert_false(kp_reqs_match_labels(&rs, &l, NULL));
	/* DoesNotExist on a present label */
	kp_reqs_init(&rs);
	r = mk("team", KP_OP_DOESNOTEXIST, 0, 0);
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	assert_false(kp_reqs_match_labels(&rs, &l, NULL));

	/* agrees with strict compatibility against the label requirements */
	{
		struct kp_req t[NREQ];
		struct kp_labels one = { 0 };
		struct kp_reqs lr;
		static const char *const vals[] = { "A", "B", "1", "5", "9", "10" };
		table("key", t);
		for (size_t v = 0; v < KP_ARRAY_LEN(vals); v++) {
			assert_int_equal(kp_labels_set(&one, &A, "key", vals[v]), KP_OK);
			assert_int_equal(kp_reqs_from_labels(&lr, &A, &one), KP_OK);
			for (int i = 0; i < NREQ; i++) {
				struct kp_reqs q = reqs1(t[i]);
				assert_int_equal(kp_reqs_match_labels(&q, &one, NULL),
						 kp_reqs_compatible_strict(&lr, &q, NULL));
			}
		}
	}
}

static void test_single_value_and_custom_labels(void **state)
{
	struct kp_reqs rs;
	struct kp_labels l = { 0 }, c = { 0 };
	struct kp_req r;
	(void)state;

	kp_reqs_init(&rs);
	r = mk("topology.kubernetes.io/zone", KP_OP_IN, 0, 1, "us-east-1a");
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	r = mk("team", KP_OP_IN, 0, 2, "web", "api");
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	r = mk("env", KP_OP_IN, 0, 1, "prod");
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	r = mk("gen", KP_OP_GT, 0, 1, "4");
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	r = mk("excl", KP_OP_NOTIN, 0, 3, "0", "1", "3");
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	r = mk("gone", KP_OP_DOESNOTEXIST, 0, 0);
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	r = mk("kubernetes.io/hostname", KP_OP_IN, 0, 1, "h1");
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	r = mk("karpenter.sh/registered", KP_OP_IN, 0, 1, "true");
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);
	r = mk("range", KP_OP_LT, 0, 1, "0");
	assert_int_equal(kp_reqs_add(&rs, &A, &r), KP_OK);

	assert_int_equal(kp_reqs_single_value_labels(&rs, &A, &l), KP_OK);
	assert_int_equal(l.n, 4);
	assert_string_equal(kp_labels_get(&l, "topology.kubernetes.io/zone"), "us-east-1a");
	assert_string_equal(kp_labels_get(&l, "env"), "prod");
	assert_string_equal(kp_labels_get(&l, "kubernetes.io/hostname"), "h1");
	assert_string_equal(kp_labels_get(&l, "karpenter.sh/registered"), "true");
	assert_null(kp_labels_get(&l, "team"));

	assert_int_equal(kp_reqs_custom_labels(&rs, &A, &c), KP_OK);
	assert_null(kp_labels_get(&c, "topology.kubernetes.io/zone"));
	assert_null(kp_labels_get(&c, "kubernetes.io/hostname"));
	assert_null(kp_labels_get(&c, "karpenter.sh/registered"));
	assert_null(kp_labels_get(&c, "gone"));
	assert_null(kp_labels_get(&c, "range"));   /* <= -1: no non-negative value */
	assert_string_equal(kp_labels_get(&c, "team"), "api");
	assert_string_equal(kp_labels_get(&c, "env"), "prod");
	assert_string_equal(kp_labels_get(&c, "gen"), "5");
	assert_string_equal(kp_labels_get(&c, "excl"), "2");
	assert_int_equal(c.n, 4);
	/* each chosen value satisfies its requirement */
	for (int i = 0; i < c.n; i++)
		assert_true(kp_req_has(kp_reqs_get(&rs, c.kv[i].key), c.kv[i].value));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_op_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_make_operators, setup, teardown),
		cmocka_unit_test_setup_teardown(test_make_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_normalize_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_has_and_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_string, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intersection_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intersection_semantics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_min_values_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intersect_shares_and_keeps_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reqs_sorted_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compatible_matrix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compatible_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intersects_negative_exception, setup, teardown),
		cmocka_unit_test_setup_teardown(test_match_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_any_match_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_value_and_custom_labels, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
