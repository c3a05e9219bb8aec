/*
 * test_disrupt_cron.c - cron schedules and NodePool disruption budgets.
 * Expected times were worked out by hand from the calendar; budget cases
 * mirror Karpenter's nodepool budget tests (pkg/apis/v1/nodepool_budgets_test.go).
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

static void assert_next(const char *spec, const char *from, const char *want)
{
	struct kp_cron c;
	struct kp_errbuf eb = { 0 };
	char got[32];
	int64_t n;

	assert_int_equal(kp_cron_parse(&c, spec, &eb), KP_OK);
	n = kp_cron_next(&c, ts(from));
	if (!want) {
		assert_true(n == KP_CRON_NONE);
		return;
	}
	assert_true(n != KP_CRON_NONE);
	kp_format_rfc3339(n, got, sizeof(got));
	assert_string_equal(got, want);
}

static void test_cron_basic(void **state)
{
	(void)state;
	assert_next("0 9 * * 1-5", "2024-01-05T10:00:00Z", "2024-01-08T09:00:00Z");
	assert_next("*/15 * * * *", "2024-01-01T00:07:30Z", "2024-01-01T00:15:00Z");
	/* strictly after: an exact hit moves on */
	assert_next("0 0 * * *", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z");
	assert_next("0 0 * * *", "2023-12-31T23:59:59Z", "2024-01-01T00:00:00Z");
	assert_next("* * * * *", "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z");
	assert_next("30 23 31 12 *", "2024-06-01T00:00:00Z", "2024-12-31T23:30:00Z");
}

static void test_cron_ranges_steps_lists(void **state)
{
	(void)state;
	assert_next("0 8-18/5 * * *", "2024-01-01T08:00:00Z", "2024-01-01T13:00:00Z");
	assert_next("0 8-18/5 * * *", "2024-01-01T18:00:00Z", "2024-01-02T08:00:00Z");
	assert_next("5/20 * * * *", "2024-01-01T00:06:00Z", "2024-01-01T00:25:00Z");
	assert_next("5/20 * * * *", "2024-01-01T00:46:00Z", "2024-01-01T01:05:00Z");
	assert_next("0,30 1,13 * * *", "2024-01-01T01:30:00Z", "2024-01-01T13:00:00Z");
	assert_next("15 10 1-3,20 * *", "2024-01-04T00:00:00Z", "2024-01-20T10:15:00Z");
}

static void test_cron_names_and_days(void **state)
{
	(void)state;
	assert_next("0 12 * jan,JUL sun", "2024-02-01T00:00:00Z", "2024-07-07T12:00:00Z");
	assert_next("0 0 * * Mon-Wed", "2024-01-04T00:00:00Z", "2024-01-08T00:00:00Z");
	/* day of month and day of week both restricted: either matches */
	assert_next("0 0 13 * 5", "2024-09-01T00:00:00Z", "2024-09-06T00:00:00Z");
	/* one of them '*': both must match */
	assert_next("0 0 13 * *", "2024-09-01T00:00:00Z", "2024-09-13T00:00:00Z");
	assert_next("0 0 13 * ?", "2024-09-01T00:00:00Z", "2024-09-13T00:00:00Z");
	/* a stepped '*' is not a star: Friday the 13th OR any odd day */
	assert_next("0 0 */2 * 5", "2024-09-02T00:00:00Z", "2024-09-03T00:00:00Z");
	assert_next("0 0 29 2 *", "2023-03-01T00:00:00Z", "2024-02-29T00:00:00Z");
	/* never fires: gives up after five years */
	assert_next("0 0 30 2 *", "2024-01-01T00:00:00Z", NULL);
}

static void test_cron_descriptors(void **state)
{
	struct kp_cron c;

	(void)state;
	assert_next("@hourly", "2024-01-01T10:30:00Z", "2024-01-01T11:00:00Z");
	assert_next("@daily", "2024-01-01T10:30:00Z", "2024-01-02T00:00:00Z");
	assert_next("@midnight", "2024-01-01T10:30:00Z", "2024-01-02T00:00:00Z");
	assert_next("@weekly", "2024-01-01T10:30:00Z", "2024-01-07T00:00:00Z");
	assert_next("@monthly", "2024-01-01T10:30:00Z", "2024-02-01T00:00:00Z");
	assert_next("@yearly", "2024-01-01T10:30:00Z", "2025-01-01T00:00:00Z");
	assert_next("@annually", "2024-01-01T10:30:00Z", "2025-01-01T00:00:00Z");
	assert_int_equal(kp_cron_parse(&c, "@every 90m", NULL), KP_OK);
	assert_int_equal(kp_cron_next(&c, 1000), 1000 + 5400);
}

static void test_cron_invalid(void **state)
{
	static const char *const bad[] = {
		"60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *", "* * * 13 *", "0 0 * * 7",
		"* * * *", "* * * * * *", "abc * * * *", "*/0 * * * *", "5-3 * * * *", "1,,2 * * * *",
		"* * * foo *", "@often", "", "-1 * * * *", "1-2-3 * * * *",
	};
	struct kp_cron c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kp_errbuf eb = { 0 };
		if (kp_cron_parse(&c, bad[i], &eb) != KP_ERR_INVALID)
			fail_msg("accepted bad cron \"%s\"", bad[i]);
		assert_true(eb.msg[0] != '\0');
	}
}

/* ---- budgets ---- */

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
		cmocka_unit_test(test_cron_basic),
		cmocka_unit_test(test_cron_ranges_steps_lists),
		cmocka_unit_test(test_cron_names_and_days),
		cmocka_unit_test(test_cron_descriptors),
		cmocka_unit_test(test_cron_invalid),
		cmocka_unit_test(test_budget_counts),
		cmocka_unit_test(test_budget_schedule_window),
		cmocka_unit_test(test_budget_bad_cron_fails_closed),
		cmocka_unit_test(test_nodepool_budget_reasons),
		cmocka_unit_test(test_nodepool_inactive_budget_allows_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
