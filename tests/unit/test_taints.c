/*
 * test_taints.c - the toleration matrix of core/v1 ToleratesTaint, Karpenter's
 * Taints.Tolerates (which effects count, the message), the known ephemeral
 * taints, and host-port conflicts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/taints.h"

static void test_parse(void **state)
{
	(void)state;
	assert_int_equal(kp_effect_parse("NoSchedule", false), KP_EFFECT_NOSCHEDULE);
	assert_int_equal(kp_effect_parse("PreferNoSchedule", false), KP_EFFECT_PREFERNOSCHEDULE);
	assert_int_equal(kp_effect_parse("NoExecute", true), KP_EFFECT_NOEXECUTE);
	assert_int_equal(kp_effect_parse("", true), KP_EFFECT_ANY);
	assert_int_equal(kp_effect_parse(NULL, true), KP_EFFECT_ANY);
	assert_int_equal(kp_effect_parse("", false), -1);
	assert_int_equal(kp_effect_parse("noschedule", true), -1);
	assert_int_equal(kp_effect_parse("Bogus", true), -1);
	assert_string_equal(kp_effect_name(KP_EFFECT_NOEXECUTE), "NoExecute");
	assert_string_equal(kp_effect_name(KP_EFFECT_ANY), "");

	assert_int_equal(kp_tol_op_parse(""), KP_TOL_EQUAL);
	assert_int_equal(kp_tol_op_parse(NULL), KP_TOL_EQUAL);
	assert_int_equal(kp_tol_op_parse("Equal"), KP_TOL_EQUAL);
	assert_int_equal(kp_tol_op_parse("Exists"), KP_TOL_EXISTS);
	assert_int_equal(kp_tol_op_parse("exists"), -1);
	assert_int_equal(kp_tol_op_parse("Gt"), -1);

	assert_int_equal(kp_protocol_parse(""), 0);
	assert_int_equal(kp_protocol_parse(NULL), 0);
	assert_int_equal(kp_protocol_parse("TCP"), 0);
	assert_int_equal(kp_protocol_parse("UDP"), 1);
	assert_int_equal(kp_protocol_parse("SCTP"), 2);
	assert_int_equal(kp_protocol_parse("tcp"), -1);
}

static void test_toleration_matrix(void **state)
{
	const struct kp_taint t_kv_ns = { "key", "value", KP_EFFECT_NOSCHEDULE };
	const struct kp_taint t_k_ns = { "key", NULL, KP_EFFECT_NOSCHEDULE };
	const struct kp_taint t_kv_ne = { "key", "value", KP_EFFECT_NOEXECUTE };
	const struct kp_taint t_other = { "other", "value", KP_EFFECT_NOSCHEDULE };
	static const struct {
		struct kp_toleration tol;
		bool kv_ns, k_ns, kv_ne, other;
	} cases[] = {
		/* empty key + Exists tolerates everything */
		{ { NULL, KP_TOL_EXISTS, NULL, KP_EFFECT_ANY, false, 0 }, true, true, true, true },
		{ { "", KP_TOL_EXISTS, NULL, KP_EFFECT_ANY, false, 0 }, true, true, true, true },
		/* ... restricted to one effect */
		{ { "", KP_TOL_EXISTS, NULL, KP_EFFECT_NOEXECUTE, false, 0 }, false, false, true, false },
		/* key + Exists ignores the value */
		{ { "key", KP_TOL_EXISTS, NULL, KP_EFFECT_ANY, false, 0 }, true, true, true, false },
		{ { "key", KP_TOL_EXISTS, "ignored", KP_EFFECT_NOSCHEDULE, false, 0 }, true, true, false, false },
		/* Equal compares the value; an empty value equals a missing one */
		{ { "key", KP_TOL_EQUAL, "value", KP_EFFECT_ANY, false, 0 }, true, false, true, false },
		{ { "key", KP_TOL_EQUAL, "value", KP_EFFECT_NOSCHEDULE, false, 0 }, true, false, false, false },
		{ { "key", KP_TOL_EQUAL, "", KP_EFFECT_NOSCHEDULE, false, 0 }, false, true, false, false },
		{ { "key", KP_TOL_EQUAL, NULL, KP_EFFECT_ANY, false, 0 }, false, true, false, false },
		{ { "key", KP_TOL_EQUAL, "other", KP_EFFECT_ANY, false, 0 }, false, false, false, false },
		/* effect mismatch */
		{ { "key", KP_TOL_EQUAL, "value", KP_EFFECT_PREFERNOSCHEDULE, false, 0 }, false, false, false, false },
		/* key mismatch */
		{ { "kex", KP_TOL_EXISTS, NULL, KP_EFFECT_ANY, false, 0 }, false, false, false, false },
		/* empty key with Equal still compares values (ToleratesTaint does not validate) */
		{ { "", KP_TOL_EQUAL, "value", KP_EFFECT_ANY, false, 0 }, true, false, true, true },
		/* an unknown operator tolerates nothing */
		{ { "key", (enum kp_tol_op)7, "value", KP_EFFECT_ANY, false, 0 }, false, false, false, false },
	};
	(void)state;

	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++) {
		const struct kp_toleration *tol = &cases[i].tol;
		bool got[4] = {
			kp_toleration_matches(tol, &t_kv_ns), kp_toleration_matches(tol, &t_k_ns),
			kp_toleration_matches(tol, &t_kv_ne), kp_toleration_matches(tol, &t_other),
		};
		bool want[4] = { cases[i].kv_ns, cases[i].k_ns, cases[i].kv_ne, cases[i].other };
		for (int k = 0; k < 4; k++)
			if (got[k] != want[k])
				fail_msg("case %zu taint %d: got %d want %d", i, k, got[k], want[k]);
	}
}

static void test_taints_tolerated(void **state)
{
	struct kp_taint taints[] = {
		{ "dedicated", "gpu", KP_EFFECT_NOSCHEDULE },
		{ "soft", NULL, KP_EFFECT_PREFERNOSCHEDULE },
		{ "evict", "now", KP_EFFECT_NOEXECUTE },
	};
	struct kp_taints ts = { 3, taints };
	struct kp_toleration tols[] = {
		{ "dedicated", KP_TOL_EQUAL, "gpu", KP_EFFECT_NOSCHEDULE, false, 0 },
		{ "evict", KP_TOL_EXISTS, NULL, KP_EFFECT_ANY, true, 30 },
		{ "soft", KP_TOL_EXISTS, NULL, KP_EFFECT_PREFERNOSCHEDULE, false, 0 },
	};
	struct kp_tolerations none = { 0, NULL }, two = { 2, tols }, all = { 3, tols };
	struct kp_errbuf eb = { 0 };
	(void)state;

	/* no taints: always tolerated */
	assert_true(kp_taints_tolerated(NULL, &none, true, &eb));
	assert_true(kp_taints_tolerated(&(struct kp_taints){ 0, NULL }, NULL, true, &eb));

	/* PreferNoSchedule only counts when asked for */
	assert_true(kp_taints_tolerated(&ts, &two, false, &eb));
	assert_false(kp_taints_tolerated(&ts, &two, true, &eb));
	assert_string_equal(eb.msg, "did not tolerate taint soft:PreferNoSchedule");
	assert_true(kp_taints_tolerated(&ts, &all, true, &eb));

	/* every failure is reported */
	assert_false(kp_taints_tolerated(&ts, &none, false, &eb));
	assert_string_equal(eb.msg, "did not tolerate taint dedicated=gpu:NoSchedule; did not tolerate taint evict=now:NoExecute");
	assert_int_equal(eb.code, KP_ERR_INVALID);
	assert_false(kp_taints_tolerated(&ts, NULL, false, NULL));

	assert_true(kp_tolerates(&all, &taints[1]));
	assert_false(kp_tolerates(&none, &taints[1]));
	assert_false(kp_tolerates(NULL, &taints[1]));
}

static void test_ephemeral(void **state)
{
	static const struct {
		struct kp_taint t;
		bool eph;
	} cases[] = {
		{ { "node.kubernetes.io/not-ready", NULL, KP_EFFECT_NOSCHEDULE }, true },
		{ { "node.kubernetes.io/not-ready", NULL, KP_EFFECT_NOEXECUTE }, true },
		{ { "node.kubernetes.io/not-ready", NULL, KP_EFFECT_PREFERNOSCHEDULE }, false },
		{ { "node.kubernetes.io/unreachable", NULL, KP_EFFECT_NOSCHEDULE }, true },
		{ { "node.kubernetes.io/unreachable", NULL, KP_EFFECT_NOEXECUTE }, false },
		{ { "node.cloudprovider.kubernetes.io/uninitialized", "true", KP_EFFECT_NOSCHEDULE }, true },
		{ { "node.cloudprovider.kubernetes.io/uninitialized", "other", KP_EFFECT_NOSCHEDULE }, true },
		{ { "karpenter.sh/unregistered", NULL, KP_EFFECT_NOEXECUTE }, true },
		{ { "karpenter.sh/unregistered", NULL, KP_EFFECT_NOSCHEDULE }, false },
		{ { "readiness.k8s.io/network", "x", KP_EFFECT_NOSCHEDULE }, true },
		{ { "readiness.k8s.io/", NULL, KP_EFFECT_NOEXECUTE }, true },
		{ { "readiness.k8s.io", NULL, KP_EFFECT_NOEXECUTE }, false },
		{ { "karpenter.sh/disrupted", NULL, KP_EFFECT_NOSCHEDULE }, false },
		{ { "dedicated", "x", KP_EFFECT_NOSCHEDULE }, false },
	};
	(void)state;

	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++)
		if (kp_taint_is_ephemeral(&cases[i].t) != cases[i].eph)
			fail_msg("%s:%s ephemeral=%d", cases[i].t.key, kp_effect_name(cases[i].t.effect), !cases[i].eph);
	assert_false(kp_taint_is_ephemeral(NULL));
}

static void test_taint_equal(void **state)
{
	struct kp_taint a = { "k", "v1", KP_EFFECT_NOSCHEDULE }, b = { "k", "v2", KP_EFFECT_NOSCHEDULE };
	struct kp_taint c = { "k", "v1", KP_EFFECT_NOEXECUTE }, d = { "j", "v1", KP_EFFECT_NOSCHEDULE };
	(void)state;

	assert_true(kp_taint_equal(&a, &b));
	assert_false(kp_taint_equal(&a, &c));
	assert_false(kp_taint_equal(&a, &d));
}

static void test_hostport_conflicts(void **state)
{
	static const struct {
		const char *ip1;
		int port1, proto1;
		const char *ip2;
		int port2, proto2;
		bool conflict;
	} cases[] = {
		{ "", 80, 0, "", 80, 0, true },
		{ "0.0.0.0", 80, 0, "10.0.0.1", 80, 0, true },
		{ "10.0.0.1", 80, 0, "", 80, 0, true },           /* "" is 0.0.0.0 */
		{ NULL, 80, 0, "10.0.0.1", 80, 0, true },
		{ "::", 80, 0, "10.0.0.1", 80, 0, true },
		{ "10.0.0.1", 80, 0, "::", 80, 0, true },
		{ "10.0.0.1", 80, 0, "10.0.0.1", 80, 0, true },
		{ "10.0.0.1", 80, 0, "10.0.0.2", 80, 0, false },
		{ "10.0.0.1", 80, 0, "::ffff:10.0.0.1", 80, 0, true },   /* same address, v4-mapped */
		{ "fe80::1", 80, 0, "fe80:0:0::1", 80, 0, true },
		{ "fe80::1", 80, 0, "fe80::2", 80, 0, false },
		{ "0.0.0.0", 80, 0, "0.0.0.0", 81, 0, false },       /* port differs */
		{ "0.0.0.0", 80, 0, "0.0.0.0", 80, 1, false },       /* protocol differs */
		{ "0.0.0.0", 53, 1, "1.2.3.4", 53, 1, true },
		{ "::ffff:0.0.0.0", 80, 0, "1.2.3.4", 80, 0, true },
		{ "bogus", 80, 0, "1.2.3.4", 80, 0, false },
		{ "bogus", 80, 0, "other-bogus", 80, 0, true },       /* Go: nil IPs compare equal */
	};
	(void)state;

	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++) {
		struct kp_hostport a = { cases[i].ip1, cases[i].port1, cases[i].proto1 };
		struct kp_hostport b = { cases[i].ip2, cases[i].port2, cases[i].proto2 };
		if (kp_hostport_conflicts(&a, &b) != cases[i].conflict)
			fail_msg("case %zu: %s:%d vs %s:%d conflict=%d", i, a.ip ? a.ip : "(null)", a.port,
				 b.ip, b.port, !cases[i].conflict);
		assert_int_equal(kp_hostport_conflicts(&b, &a), cases[i].conflict);
	}
}

static void test_hostport_usage(void **state)
{
	struct kp_arena a;
	struct kp_hostports used = { 0 };
	struct kp_hostport p1[] = { { "", 8080, 0 }, { "10.0.0.1", 53, 1 } };
	struct kp_hostport p2[] = { { "10.0.0.2", 53, 1 }, { "", 9090, 0 } };
	struct kp_hostport p3[] = { { "10.0.0.2", 8080, 0 } };
	struct kp_hostports add1 = { 2, 2, p1 }, add2 = { 2, 2, p2 }, add3 = { 1, 1, p3 };
	struct kp_errbuf eb = { 0 };
	(void)state;

	kp_arena_init(&a);
	assert_false(kp_hostports_conflict(&used, &add1, &eb));
	assert_int_equal(kp_hostports_add(&used, &a, &add1), KP_OK);
	assert_false(kp_hostports_conflict(&used, &add2, &eb));
	assert_int_equal(kp_hostports_add(&used, &a, &add2), KP_OK);
	assert_int_equal(used.n, 4);
	assert_true(kp_hostports_conflict(&used, &add3, &eb));
	assert_string_equal(eb.msg, "host port 8080/TCP on ip \"10.0.0.2\" conflicts with host port 8080/TCP on ip \"\"");
	assert_true(kp_hostports_conflict(&used, &add3, NULL));
	for (int i = 0; i < 20; i++)
		assert_int_equal(kp_hostports_add(&used, &a, &add2), KP_OK);
	assert_int_equal(used.n, 44);
	assert_int_equal(used.p[0].port, 8080);
	assert_int_equal(used.p[43].port, 9090);
	assert_int_equal(kp_hostports_add(&used, &a, NULL), KP_OK);
	assert_false(kp_hostports_conflict(NULL, &add3, NULL));
	kp_arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_toleration_matrix),
		cmocka_unit_test(test_taints_tolerated),
		cmocka_unit_test(test_ephemeral),
		cmocka_unit_test(test_taint_equal),
		cmocka_unit_test(test_hostport_conflicts),
		cmocka_unit_test(test_hostport_usage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
