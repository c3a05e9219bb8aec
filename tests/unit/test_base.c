/*
 * test_base.c - arenas, bounded buffers, error buffers and checked parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/base.h"

static void test_arena_alloc_zeroed_aligned(void **state)
{
	struct kp_arena a;
	(void)state;
	kp_arena_init(&a);
	for (int i = 1; i < 5000; i++) {
		unsigned char *p = kp_arena_alloc(&a, (size_t)i);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		for (int k = 0; k < i; k++)
			assert_int_equal(p[k], 0);
		memset(p, 0xab, (size_t)i);
	}
	kp_arena_free(&a);
	kp_arena_free(&a);
	kp_arena_free(NULL);
}

static void test_arena_mark_reset(void **state)
{
	struct kp_arena a;
	(void)state;
	kp_arena_init(&a);
	char *keep = kp_arena_strdup(&a, "keep");
	struct kp_arena_mark m = kp_arena_mark(&a);
	for (int i = 0; i < 100; i++)
		assert_non_null(kp_arena_alloc(&a, 100000));
	size_t big = a.total;
	kp_arena_reset(&a, m);
	assert_true(a.total < big);
	assert_string_equal(keep, "keep");
	char *again = kp_arena_strdup(&a, "next");
	assert_string_equal(again, "next");
	assert_string_equal(keep, "keep");
	kp_arena_free(&a);
}

static void test_arena_limit_and_overflow(void **state)
{
	struct kp_arena a;
	(void)state;
	kp_arena_init(&a);
	a.limit = 100000;
	assert_null(kp_arena_alloc(&a, 200000));
	assert_null(kp_arena_calloc(&a, SIZE_MAX / 2, 4));
	assert_non_null(kp_arena_alloc(&a, 1000));
	char *s = kp_arena_printf(&a, "%s-%d", "pod", 42);
	assert_string_equal(s, "pod-42");
	int *arr = kp_arena_calloc(&a, 4, sizeof(int));
	arr[0] = 1; arr[3] = 4;
	int *grown = kp_arena_grow(&a, arr, 4, 8, sizeof(int));
	assert_int_equal(grown[0], 1);
	assert_int_equal(grown[3], 4);
	assert_int_equal(grown[7], 0);
	kp_arena_free(&a);
}

static void test_buf_cap(void **state)
{
	struct kp_buf b;
	(void)state;
	kp_buf_init(&b, 10);
	assert_int_equal(kp_buf_addstr(&b, "hello"), KP_OK);
	assert_int_equal(kp_buf_printf(&b, "%d", 1234), KP_OK);
	assert_string_equal(b.data, "hello1234");
	assert_int_equal(kp_buf_addstr(&b, "xy"), KP_ERR_LIMIT);
	assert_string_equal(b.data, "hello1234");
	char *s = kp_buf_take(&b);
	assert_string_equal(s, "hello1234");
	assert_null(b.data);
	free(s);
	s = kp_buf_take(&b);
	assert_string_equal(s, "");
	free(s);
	kp_buf_free(&b);
	kp_buf_free(NULL);
}

static void test_errbuf_prefix(void **state)
{
	struct kp_errbuf eb = { 0 };
	(void)state;
	assert_int_equal(kp_errf(&eb, KP_ERR_INVALID, "bad %s", "thing"), KP_ERR_INVALID);
	kp_err_prefix(&eb, "%s: ", "file.yaml");
	assert_string_equal(eb.msg, "file.yaml: bad thing");
	assert_int_equal(kp_errf(NULL, KP_ERR_RANGE, "x"), KP_ERR_RANGE);
	char longp[2000];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	kp_err_prefix(&eb, "%s", longp);
	/* the long prefix is cut, the specific message at the end survives */
	assert_true(strlen(eb.msg) < KP_ERRBUF_SIZE);
	assert_non_null(strstr(eb.msg, "file.yaml: bad thing"));
	assert_string_equal(kp_err_str(KP_ERR_NOMEM), "out of memory");
}

static void test_parse_i64(void **state)
{
	int64_t v;
	(void)state;
	assert_int_equal(kp_parse_i64("42", &v), KP_OK);
	assert_int_equal(v, 42);
	assert_int_equal(kp_parse_i64("-7", &v), KP_OK);
	assert_int_equal(v, -7);
	assert_int_equal(kp_parse_i64("", &v), KP_ERR_INVALID);
	assert_int_equal(kp_parse_i64("12a", &v), KP_ERR_INVALID);
	assert_int_equal(kp_parse_i64("99999999999999999999", &v), KP_ERR_RANGE);
	assert_int_equal(kp_parse_i64(NULL, &v), KP_ERR_INVALID);
}

static void test_parse_duration(void **state)
{
	int64_t ms;
	(void)state;
	assert_int_equal(kp_parse_duration_ms("720h", &ms), KP_OK);
	assert_int_equal(ms, 720LL * 3600 * 1000);
	assert_int_equal(kp_parse_duration_ms("1h30m", &ms), KP_OK);
	assert_int_equal(ms, 5400000);
	assert_int_equal(kp_parse_duration_ms("0s", &ms), KP_OK);
	assert_int_equal(ms, 0);
	assert_int_equal(kp_parse_duration_ms("0", &ms), KP_OK);
	assert_int_equal(kp_parse_duration_ms("500ms", &ms), KP_OK);
	assert_int_equal(ms, 500);
	assert_int_equal(kp_parse_duration_ms("1.5s", &ms), KP_OK);
	assert_int_equal(ms, 1500);
	assert_int_equal(kp_parse_duration_ms("15", &ms), KP_ERR_INVALID);
	assert_int_equal(kp_parse_duration_ms("Never", &ms), KP_ERR_INVALID);
	assert_int_equal(kp_parse_duration_ms("", &ms), KP_ERR_INVALID);
	assert_int_equal(kp_parse_duration_ms("1d", &ms), KP_ERR_INVALID);
	assert_int_equal(kp_parse_duration_ms("h", &ms), KP_ERR_INVALID);
}

static void test_rfc3339(void **state)
{
	int64_t t;
	char buf[32];
	(void)state;
	assert_int_equal(kp_parse_rfc3339("1970-01-01T00:00:00Z", &t), KP_OK);
	assert_int_equal(t, 0);
	assert_int_equal(kp_parse_rfc3339("2024-02-29T12:34:56Z", &t), KP_OK);
	assert_int_equal(t, 1709210096);
	kp_format_rfc3339(t, buf, sizeof(buf));
	assert_string_equal(buf, "2024-02-29T12:34:56Z");
	assert_int_equal(kp_parse_rfc3339("2024-02-29T13:34:56.123+01:00", &t), KP_OK);
	assert_int_equal(t, 1709210096);
	assert_int_equal(kp_parse_rfc3339("2024-13-01T00:00:00Z", &t), KP_ERR_RANGE);
	assert_int_equal(kp_parse_rfc3339("2024-01-01 00:00:00", &t), KP_ERR_INVALID);
	assert_int_equal(kp_parse_rfc3339("yesterday", &t), KP_ERR_INVALID);
	kp_format_rfc3339(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_alloc_zeroed_aligned),
		cmocka_unit_test(test_arena_mark_reset),
		cmocka_unit_test(test_arena_limit_and_overflow),
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_errbuf_prefix),
		cmocka_unit_test(test_parse_i64),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_rfc3339),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
