/*
 * test_disrupt_budget.c - NodePool disruption budgets (src/disrupt/budget.c)
 * on their cron schedules (the parser is tested in test_cron.c). Budget
 * cases mirror Karpenter's nodepool budget tests
 * (pkg/apis/v1/nodepool_budgets_test.go).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/disrupt.h"

static int64_t ts(const char *s)
{
	int64_t t = 0;
	assert_int_equal(kp_parse_rfc3339(s, &t), KP_OK);
	return t;
}

static void test_budget_counts(void **state)
{
	struct kp_budget pct = { .percent = true, .nodes = 10 };
	struct kp_budget zero = { .nodes = 0 };
	struct kp_budget five = { .nodes = 5 };
	struct kp_budget full = { .percent = true, .nodes = 100 };
	int64_t v;

	(void)state;
	assert_int_equal(kp_budget_allowed(&pct, 0, 25, &v, NULL), KP_OK);
	assert_int_equal(v, 3);     /* 2.5 rounds up */
	assert_int_equal(kp_budget_allowed(&pct, 0, 10, &v, NULL), KP_OK);
	assert_int_equal(v, 1);
	assert_int_equal(kp_budget_allowed(&pct, 0, 1, &v, NULL), KP_OK);
	assert_int_equal(v, 1);
	assert_int_equal(kp_budget_allowed(&pct, 0, 0, &v, NULL), KP_OK);
	assert_int_equal(v, 0);
	assert_int_equal(kp_budget_allowed(&zero, 0, 25, &v, NULL), KP_OK);
	assert_int_equal(v, 0);
	assert_int_equal(kp_budget_allowed(&five, 0, 3, &v, NULL), KP_OK);
	assert_int_equal(v, 5);
	assert_int_equal(kp_budget_allowed(&full, 0, 7, &v, NULL), KP_OK);
	assert_int_equal(v, 7);
}

static void test_budget_schedule_window(void **state)
{
	/* active from 09:00 for 8h: [09:00, 17:00) */
	struct kp_budget b = { .nodes = 0, .schedule = "0 9 * * *", .duration_ms = 8 * 3600 * 1000LL };
	bool active;
	int64_t v;

	(void)state;
	assert_int_equal(kp_budget_active(&b, ts("2024-01-01T12:00:00Z"), &active, NULL), KP_OK);
	assert_true(active);
	assert_int_equal(kp_budget_active(&b, ts("2024-01-01T09:00:00Z"), &active, NULL), KP_OK);
	assert_true(active);
	assert_int_equal(kp_budget_active(&b, ts("2024-01-01T08:59:59Z"), &active, NULL), KP_OK);
	assert_false(active);
	assert_int_equal(kp_budget_active(&b, ts("2024-01-01T16:59:59Z"), &active, NULL), KP_OK);
	assert_true(active);
	assert_int_equal(kp_budget_active(&b, ts("2024-01-01T17:00:00Z"), &active, NULL), KP_OK);
	assert_false(active);
	assert_int_equal(kp_budget_allowed(&b, ts("2024-01-01T12:00:00Z"), 10, &v, NULL), KP_OK);
	assert_int_equal(v, 0);
	assert_int_equal(kp_budget_allowed(&b, ts("2024-01-01T18:00:00Z"), 10, &v, NULL), KP_OK);
	assert_int_equal(v, INT32_MAX);
}

static void test_budget_bad_cron_fails_closed(void **state)
{
	struct kp_budget b = { .nodes = 5, .schedule = "61 * * * *", .duration_ms = 3600000 };
	struct kp_budget ok = { .percent = true, .nodes = 50 };
	struct kp_budget both[2];
	struct kp_nodepool np = { .name = "p", .nbudgets = 2, .budgets = both };
	struct kp_errbuf eb = { 0 };
	int64_t v = -1;

	(void)state;
	assert_int_equal(kp_budget_allowed(&b, 0, 10, &v, &eb), KP_ERR_INVALID);
	assert_int_equal(v, 0);
	both[0] = ok;
	both[1] = b;
	assert_int_equal(kp_nodepool_allowed_disruptions(&np, KP_REASON_EMPTY, 0, 10), 0);
	assert_int_equal(kp_nodepool_allowed_disruptions(&np, KP_REASON_DRIFTED, 0, 10), 0);
}

static void test_nodepool_budget_reasons(void **state)
{
	struct kp_budget b[3] = {
		{ .percent = true, .nodes = 10 },
		{ .nodes = 0, .reasons = KP_REASON_DRIFTED },
		{ .nodes = 1, .reasons = KP_REASON_EMPTY | KP_REASON_UNDERUTILIZED },
	};
	struct kp_nodepool np = { .name = "p", .nbudgets = 3, .budgets = b };
	struct kp_nodepool none = { .name = "q" };

	(void)state;
	assert_int_equal(kp_nodepool_allowed_disruptions(&np, KP_REASON_UNDERUTILIZED, 0, 20), 1);
	assert_int_equal(kp_nodepool_allowed_disruptions(&np, KP_REASON_EMPTY, 0, 20), 1);
	assert_int_equal(kp_nodepool_allowed_disruptions(&np, KP_REASON_DRIFTED, 0, 20), 0);
	assert_int_equal(kp_nodepool_allowed_disruptions(&np, KP_REASON_ALL, 0, 20), 0);
	np.nbudgets = 1;
	assert_int_equal(kp_nodepool_allowed_disruptions(&np, KP_REASON_DRIFTED, 0, 20), 2);
	/* no budgets: the CRD default of 10%, rounded up */
	assert_int_equal(kp_nodepool_allowed_disruptions(&none, KP_REASON_EMPTY, 0, 5), 1);
	assert_int_equal(kp_nodepool_allowed_disruptions(&none, KP_REASON_EMPTY, 0, 11), 2);
	assert_int_equal(kp_nodepool_allowed_disruptions(&none, KP_REASON_EMPTY, 0, 0), 0);
}

static void test_nodepool_inactive_budget_allows_all(void **state)
{
	/* an inactive schedule-bound "0" does not fall back to the 10% default */
	struct kp_budget b = { .nodes = 0, .schedule = "0 9 * * *", .duration_ms = 3600000 };
	struct kp_nodepool np = { .name = "p", .nbudgets = 1, .budgets = &b };

	(void)state;
	assert_int_equal(kp_nodepool_allowed_disruptions(&np, KP_REASON_EMPTY, ts("2024-01-01T12:00:00Z"), 50),
			 INT32_MAX);
	assert_int_equal(kp_nodepool_allowed_disruptions(&np, KP_REASON_EMPTY, ts("2024-01-01T09:30:00Z"), 50), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budget_counts),
		cmocka_unit_test(test_budget_schedule_window),
		cmocka_unit_test(test_budget_bad_cron_fails_closed),
		cmocka_unit_test(test_nodepool_budget_reasons),
		cmocka_unit_test(test_nodepool_inactive_budget_allows_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
