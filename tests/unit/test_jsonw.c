/*
 * test_jsonw.c - src/jsonw, the streaming JSON writer: byte for byte what
 * jansson's json_dumps(JSON_INDENT(2)) writes (random trees from a seeded
 * generator: escapes, UTF-8, reals of every magnitude, empty and nested
 * containers, outputs far larger than the writer's buffer), the direct
 * calls, the cases jansson refuses (non-finite reals, bytes that are not
 * UTF-8) and a failing stream.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonw/jsonw.h"
#include "karpenter/base.h"

static uint64_t rng = 12;

static uint64_t next(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int pick(int n)
{
	return (int)(next() % (uint64_t)n);
}

/* A random valid UTF-8 string: ASCII (with quotes, backslashes, control
 * characters and DEL), 2-, 3- and 4-byte sequences; sometimes very long. */
static json_t *rand_string(void)
{
	static const char *const pieces[] = { "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\b",
					      "\f", "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
					      "\xf0\x9f\x98\x80", "\xef\xbf\xbf", "key", "-" };
	size_t n = pick(20) == 0 ? 70000 + (size_t)pick(1000) : (size_t)pick(12);
	char *s = malloc(n * 4 + 1);
	size_t len = 0;
	json_t *j;

	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		const char *p = pieces[pick((int)KP_ARRAY_LEN(pieces))];
		size_t k = strlen(p);
		memcpy(s + len, p, k);
		len += k;
	}
	s[len] = '\0';
	j = json_string(s);
	free(s);
	assert_non_null(j);
	return j;
}

static json_t *rand_real(void)
{
	static const double fixed[] = { 0.0, -0.0, 0.1, 1.0, 3.0, -2.5, 1e-7, 1e22, 1e300, 5e-324, 123456789012345678.0,
					0.5808, 29222.11, 1e16, 1e17, 2.2250738585072014e-308 };
	if (pick(2))
		return json_real(fixed[pick((int)KP_ARRAY_LEN(fixed))]);
	/* any finite double: random bits */
	for (;;) {
		uint64_t bits = next();
		double d;
		memcpy(&d, &bits, sizeof(d));
		if (isfinite(d))
			return json_real(d);
	}
}

static json_t *rand_value(int depth)
{
	int k = pick(depth > 4 ? 5 : 8);

	switch (k) {
	case 0: return rand_string();
	case 1: return json_integer(pick(3) == 0 ? (json_int_t)next() : (json_int_t)pick(1000) - 500);
	case 2: return rand_real();
	case 3: return pick(3) == 0 ? json_null() : json_boolean(pick(2));
	case 4: return json_string("");
	case 5: case 6: {
		json_t *a = json_array();
		int n = pick(6);
		for (int i = 0; i < n; i++)
			json_array_append_new(a, rand_value(depth + 1));
		return a;
	}
	default: {
		json_t *o = json_object();
		int n = pick(6);
		for (int i = 0; i < n; i++) {
			char key[32];
			snprintf(key, sizeof(key), "k%d\"\\\n%d", pick(50), i);
			json_object_set_new(o, pick(4) ? key : "\xc3\xa9t\xc3\xa9", rand_value(depth + 1));
		}
		return o;
	}
	}
}

/* What the writer produces for v, malloc'ed. */
static char *write_value(const json_t *v, size_t *len)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, len);
	struct kp_jw *w = malloc(sizeof(*w));

	assert_non_null(f);
	assert_non_null(w);
	kp_jw_init(w, f);
	kp_jw_value(w, v);
	assert_int_equal(kp_jw_finish(w), 0);
	assert_int_equal(w->depth, 0);
	free(w);
	fclose(f);
	return out;
}

static void test_same_bytes_as_jansson(void **state)
{
	size_t total = 0;

	(void)state;
	for (int round = 0; round < 400; round++) {
		json_t *root = pick(2) ? json_object() : json_array();
		int n = 1 + pick(8);
		char *want, *got;
		size_t len;

		for (int i = 0; i < n; i++) {
			char key[16];
			snprintf(key, sizeof(key), "m%d", i);
			if (json_is_object(root))
				json_object_set_new(root, key, rand_value(0));
			else
				json_array_append_new(root, rand_value(0));
		}
		want = json_dumps(root, JSON_INDENT(2));
		assert_non_null(want);
		got = write_value(root, &len);
		assert_int_equal(len, strlen(want));
		assert_string_equal(got, want);
		total += len;
		free(want);
		free(got);
		json_decref(root);
	}
	assert_true(total > 4 * KP_JW_BUF);   /* the buffer was flushed many times */
}

static void test_direct_calls(void **state)
{
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);
	struct kp_jw *w = malloc(sizeof(*w));

	(void)state;
	assert_non_null(f);
	assert_non_null(w);
	kp_jw_init(w, f);
	kp_jw_obj_begin(w);
	kp_jw_key(w, "a");
	kp_jw_arr_begin(w);
	kp_jw_arr_end(w);
	kp_jw_key(w, "b");
	kp_jw_obj_begin(w);
	kp_jw_obj_end(w);
	kp_jw_key(w, "c");
	kp_jw_arr_begin(w);
	kp_jw_str(w, "x");
	kp_jw_str(w, NULL);
	kp_jw_int(w, -7);
	kp_jw_real(w, 2);
	kp_jw_real(w, 1e22);
	kp_jw_real(w, NAN);
	kp_jw_bool(w, true);
	kp_jw_str(w, "bad \xff byte \xc3");
	kp_jw_arr_end(w);
	kp_jw_obj_end(w);
	assert_int_equal(kp_jw_finish(w), 0);
	fclose(f);
	assert_string_equal(out, "{\n"
				 "  \"a\": [],\n"
				 "  \"b\": {},\n"
				 "  \"c\": [\n"
				 "    \"x\",\n"
				 "    null,\n"
				 "    -7,\n"
				 "    2.0,\n"
				 "    1e22,\n"
				 "    null,\n"
				 "    true,\n"
				 "    \"bad \xef\xbf\xbd byte \xef\xbf\xbd\"\n"
				 "  ]\n"
				 "}");
	free(out);
	free(w);
}

static void test_write_error(void **state)
{
	FILE *f = fopen("/dev/full", "w");
	struct kp_jw *w = malloc(sizeof(*w));

	(void)state;
	if (!f) {
		free(w);
		skip();
	}
	assert_non_null(w);
	kp_jw_init(w, f);
	kp_jw_arr_begin(w);
	for (int i = 0; i < 100000; i++)
		kp_jw_str(w, "some text to fill the buffer");
	kp_jw_arr_end(w);
	assert_int_equal(kp_jw_finish(w), -1);
	fclose(f);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_bytes_as_jansson),
		cmocka_unit_test(test_direct_calls),
		cmocka_unit_test(test_write_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
