/*
 * test_selector.c - metav1.LabelSelector semantics (matchLabels AND
 * matchExpressions, NULL vs empty) and the canonical string form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/selector.h"

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

static struct kp_labels labels(int n, ...)
{
	struct kp_labels l = { 0 };
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *k = va_arg(ap, const char *);
		const char *v = va_arg(ap, const char *);
		assert_int_equal(kp_labels_set(&l, &A, k, v), KP_OK);
	}
	va_end(ap);
	return l;
}

static void test_null_and_empty(void **state)
{
	struct kp_selector empty = { 0 };
	struct kp_labels none = { 0 }, some = labels(1, "app", "web");
	(void)state;

	assert_false(kp_selector_matches(NULL, &some));
	assert_false(kp_selector_matches(NULL, &none));
	assert_true(kp_selector_matches(&empty, &some));
	assert_true(kp_selector_matches(&empty, &none));
	assert_true(kp_selector_matches(&empty, NULL));
}

static void test_match_labels(void **state)
{
	struct kp_selector s = { 0 };
	struct kp_labels web = labels(2, "app", "web", "tier", "front");
	struct kp_labels api = labels(2, "app", "api", "tier", "front");
	struct kp_labels bare = labels(1, "tier", "front");
	(void)state;

	s.match_labels = labels(2, "app", "web", "tier", "front");
	assert_true(kp_selector_matches(&s, &web));
	assert_false(kp_selector_matches(&s, &api));
	assert_false(kp_selector_matches(&s, &bare));
	assert_false(kp_selector_matches(&s, NULL));
	/* an empty value must be present and empty */
	s.match_labels = labels(1, "flag", "");
	assert_false(kp_selector_matches(&s, &web));
	struct kp_labels flagged = labels(1, "flag", "");
	assert_true(kp_selector_matches(&s, &flagged));
}

static void test_expressions(void **state)
{
	const char *ab[] = { "b", "a" };
	struct kp_selector_expr in = { "env", KP_OP_IN, 2, ab };
	struct kp_selector_expr notin = { "env", KP_OP_NOTIN, 2, ab };
	struct kp_selector_expr exists = { "env", KP_OP_EXISTS, 0, NULL };
	struct kp_selector_expr dne = { "env", KP_OP_DOESNOTEXIST, 0, NULL };
	struct kp_selector_expr in_empty = { "env", KP_OP_IN, 0, NULL };
	struct kp_selector_expr gt = { "env", KP_OP_GT, 1, ab };
	struct kp_labels ea = labels(1, "env", "a"), ec = labels(1, "env", "c"), none = labels(1, "x", "y");
	struct {
		struct kp_selector_expr *e;
		bool a, c, absent;
	} cases[] = {
		{ &in, true, false, false },
		{ &notin, false, true, true },   /* NotIn is true when the key is absent */
		{ &exists, true, true, false },
		{ &dne, false, false, true },
		{ &in_empty, false, false, false },
		{ &gt, false, false, false },     /* not a label-selector operator */
	};
	(void)state;

	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++) {
		struct kp_selector s = { { 0 }, 1, cases[i].e };
		assert_int_equal(kp_selector_matches(&s, &ea), cases[i].a);
		assert_int_equal(kp_selector_matches(&s, &ec), cases[i].c);
		assert_int_equal(kp_selector_matches(&s, &none), cases[i].absent);
	}

	/* matchLabels AND expressions */
	{
		struct kp_selector_expr both[] = { in, { "tier", KP_OP_EXISTS, 0, NULL } };
		struct kp_selector s = { { 0 }, 2, both };
		struct kp_labels ok = labels(3, "env", "b", "tier", "x", "app", "web");
		struct kp_labels no_tier = labels(2, "env", "b", "app", "web");
		s.match_labels = labels(1, "app", "web");
		assert_true(kp_selector_matches(&s, &ok));
		assert_false(kp_selector_matches(&s, &no_tier));
		s.match_labels = labels(1, "app", "api");
		assert_false(kp_selector_matches(&s, &ok));
	}
}

static void test_string_canonical(void **state)
{
	const char *v1[] = { "b", "a", "b" }, *v2[] = { "a", "b" }, *one[] = { "web" };
	struct kp_selector_expr e1[] = {
		{ "tier", KP_OP_IN, 3, v1 }, { "gpu", KP_OP_DOESNOTEXIST, 0, NULL },
		{ "zone", KP_OP_NOTIN, 2, v2 }, { "team", KP_OP_EXISTS, 0, NULL },
	};
	struct kp_selector_expr e2[] = {
		{ "team", KP_OP_EXISTS, 0, NULL }, { "zone", KP_OP_NOTIN, 2, v2 },
		{ "gpu", KP_OP_DOESNOTEXIST, 0, NULL }, { "tier", KP_OP_IN, 2, v2 },
		{ "app", KP_OP_IN, 1, one },
	};
	struct kp_selector s1 = { { 0 }, 4, e1 }, s2 = { { 0 }, 5, e2 }, empty = { 0 };
	const char *a, *b;
	(void)state;

	s1.match_labels = labels(1, "app", "web");
	a = kp_selector_str(&s1, &A);
	b = kp_selector_str(&s2, &A);
	assert_non_null(a);
	assert_string_equal(a, "!gpu,app=web,team,tier in (a,b),zone notin (a,b)");
	assert_string_equal(a, b);
	assert_string_equal(kp_selector_str(&empty, &A), "");
	assert_string_equal(kp_selector_str(NULL, &A), "<nothing>");

	/* different selectors give different strings */
	s2.nexpr = 4;
	assert_string_not_equal(kp_selector_str(&s2, &A), a);
	s2.nexpr = 5;
	e2[1].op = KP_OP_IN;
	assert_string_not_equal(kp_selector_str(&s2, &A), a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_null_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_match_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expressions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_string_canonical, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
