/*
 * test_cron.c - cron schedules (src/model/cron.c): parsing, the next
 * activation and when a CronJob is due. Expected times were worked out by
 * hand from the calendar.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/cron.h"

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

static void test_cron_due(void **state)
{
	struct kp_cron c;
	struct kp_errbuf eb = { 0 };
	int64_t sched, missed, next;

	(void)state;
	assert_int_equal(kp_cron_parse(&c, "*/5 * * * *", &eb), KP_OK);
	/* created 10:01, now 10:03: nothing due yet, next 10:05 */
	kp_cron_due(&c, ts("2026-01-01T10:01:00Z"), ts("2026-01-01T10:03:00Z"), -1, &sched, &missed, &next);
	assert_int_equal(sched, 0);
	assert_int_equal(missed, 0);
	assert_int_equal(next, ts("2026-01-01T10:05:00Z"));
	/* exactly on time */
	kp_cron_due(&c, ts("2026-01-01T10:01:00Z"), ts("2026-01-01T10:05:00Z"), -1, &sched, &missed, &next);
	assert_int_equal(sched, ts("2026-01-01T10:05:00Z"));
	assert_int_equal(missed, 1);
	assert_int_equal(next, ts("2026-01-01T10:10:00Z"));
	/* last scheduled 10:05, now 10:31: 6 due, the latest is 10:30 */
	kp_cron_due(&c, ts("2026-01-01T10:05:00Z"), ts("2026-01-01T10:31:00Z"), -1, &sched, &missed, &next);
	assert_int_equal(sched, ts("2026-01-01T10:30:00Z"));
	assert_int_equal(missed, 5);
	/* startingDeadlineSeconds 200 only looks back to 10:27:40 */
	kp_cron_due(&c, ts("2026-01-01T10:05:00Z"), ts("2026-01-01T10:31:00Z"), 200, &sched, &missed, &next);
	assert_int_equal(sched, ts("2026-01-01T10:30:00Z"));
	assert_int_equal(missed, 1);
	kp_cron_due(&c, ts("2026-01-01T10:05:00Z"), ts("2026-01-01T10:34:00Z"), 60, &sched, &missed, &next);
	assert_int_equal(sched, 0);
	/* a year of downtime stays cheap and still finds the latest */
	assert_int_equal(kp_cron_parse(&c, "* * * * *", &eb), KP_OK);
	kp_cron_due(&c, ts("2025-01-01T00:00:00Z"), ts("2026-01-01T10:31:30Z"), -1, &sched, &missed, &next);
	assert_int_equal(sched, ts("2026-01-01T10:31:00Z"));
	assert_true(missed > 1000);
	assert_int_equal(next, ts("2026-01-01T10:32:00Z"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cron_basic),
		cmocka_unit_test(test_cron_ranges_steps_lists),
		cmocka_unit_test(test_cron_names_and_days),
		cmocka_unit_test(test_cron_descriptors),
		cmocka_unit_test(test_cron_invalid),
		cmocka_unit_test(test_cron_due),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
