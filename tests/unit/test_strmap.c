/*
 * test_strmap.c - base's string map (karpenter/strmap.h) in both modes:
 * malloc (keys copied) and arena (keys borrowed); deletion with tombstones
 * that later inserts reuse; sorted keys; iteration sees each entry once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/strmap.h"

static void test_malloc_mode(void **state)
{
	struct kp_strmap m;
	char key[32];
	void *old = (void *)1;
	size_t n, seen = 0;
	(void)state;

	kp_strmap_init(&m);
	assert_null(kp_strmap_get(&m, "absent"));
	assert_null(kp_strmap_del(&m, "absent"));
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%05d", i);
		assert_int_equal(kp_strmap_put(&m, key, (void *)(intptr_t)(i + 1), &old), KP_OK);
		assert_null(old);
	}
	key[0] = 'x';   /* the map holds its own copies */
	assert_int_equal(m.n, 5000);
	assert_int_equal((intptr_t)kp_strmap_get(&m, "k00042"), 43);
	assert_int_equal(kp_strmap_put(&m, "k00042", (void *)7, &old), KP_OK);
	assert_int_equal((intptr_t)old, 43);
	/* delete every other key, then re-insert: tombstones are reused */
	for (int i = 0; i < 5000; i += 2) {
		snprintf(key, sizeof(key), "k%05d", i);
		assert_int_equal((intptr_t)kp_strmap_del(&m, key), i == 42 ? 7 : i + 1);
	}
	assert_int_equal(m.n, 2500);
	size_t cap = m.cap;
	for (int r = 0; r < 4; r++)
		for (int i = 0; i < 5000; i += 2) {
			snprintf(key, sizeof(key), "k%05d", i);
			assert_int_equal(kp_strmap_put(&m, key, (void *)(intptr_t)-1, NULL), KP_OK);
			assert_int_equal((intptr_t)kp_strmap_del(&m, key), -1);
		}
	assert_true(m.cap <= cap * 2);
	assert_null(kp_strmap_get(&m, "k00042"));
	assert_int_equal((intptr_t)kp_strmap_get(&m, "k00043"), 44);
	KP_STRMAP_FOREACH(&m, e) {
		assert_int_equal(((intptr_t)e->val - 1) % 2, 1);
		seen++;
	}
	assert_int_equal(seen, 2500);
	const char **keys = kp_strmap_keys(&m, &n);
	assert_int_equal(n, 2500);
	assert_string_equal(keys[0], "k00001");
	assert_string_equal(keys[2499], "k04999");
	for (size_t i = 1; i < n; i++)
		assert_true(strcmp(keys[i - 1], keys[i]) < 0);
	free(keys);
	kp_strmap_free(&m);
	assert_int_equal(m.n, 0);
	assert_null(kp_strmap_keys(&m, &n));
	assert_int_equal(n, 0);
	kp_strmap_free(&m);
}

static void test_arena_mode(void **state)
{
	struct kp_arena a;
	struct kp_strmap m;
	const char *names[] = { "zone-a", "zone-b", "zone-c" };
	(void)state;

	kp_arena_init(&a);
	kp_strmap_init_arena(&m, &a);
	for (int r = 0; r < 200; r++)
		for (int i = 0; i < 3; i++)
			assert_int_equal(kp_strmap_put(&m, names[i], (void *)(intptr_t)(r * 3 + i), NULL), KP_OK);
	assert_int_equal(m.n, 3);
	assert_ptr_equal(kp_strmap_find(&m, "zone-b")->key, names[1]);   /* borrowed */
	assert_int_equal((intptr_t)kp_strmap_get(&m, "zone-c"), 599);
	kp_strmap_free(&m);    /* nothing to free in arena mode */
	kp_arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malloc_mode),
		cmocka_unit_test(test_arena_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
