/*
 * test_log.c - structured logger: exact line shape against Karpenter's zap
 * output, every line parsed back with jansson, key order, level filtering,
 * --log-level parsing, escaping, durations and concurrent writers.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "karpenter/log.h"

/* 2026-11-27T20:53:04.123Z */
static int64_t fixed_clock(void *arg)
{
	(void)arg;
	return 1795812784123LL;
}

struct capture {
	char *data;
	size_t len;
	FILE *f;
};

static void capture_open(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->f = open_memstream(&c->data, &c->len);
	assert_non_null(c->f);
}

/* Closes the stream; c->data holds everything written. */
static void capture_close(struct capture *c)
{
	assert_int_equal(fclose(c->f), 0);
	c->f = NULL;
}

static void test_line_shape(void **state)
{
	(void)state;
	struct capture c;
	struct kp_log l;
	capture_open(&c);
	kp_log_init(&l, c.f, "controller");
	l.clock = fixed_clock;
	l.commit = "0123abc";
	const struct kp_log_field base[] = {kp_log_str("controller", "provisioner")};
	l.base = base;
	l.nbase = 1;
	static const char *const req[] = {"cpu", "8", "memory", "16Gi"};
	kp_log_info(&l, "created nodeclaim", KP_LOG_FIELDS(kp_log_object("NodePool", "default"),
		kp_log_object("NodeClaim", "default-abcde"), kp_log_strmap("requests", req, 2),
		kp_log_str("instance-types", "c6g.4xlarge, c7g.4xlarge")));
	capture_close(&c);
	assert_string_equal(c.data,
		"{\"level\":\"INFO\",\"time\":\"2026-11-27T20:53:04.123Z\",\"logger\":\"controller\","
		"\"message\":\"created nodeclaim\",\"commit\":\"0123abc\",\"controller\":\"provisioner\","
		"\"NodePool\":{\"name\":\"default\"},\"NodeClaim\":{\"name\":\"default-abcde\"},"
		"\"requests\":{\"cpu\":\"8\",\"memory\":\"16Gi\"},\"instance-types\":\"c6g.4xlarge, c7g.4xlarge\"}\n");
	free(c.data);
}

static void test_parsed_back(void **state)
{
	(void)state;
	struct capture c;
	struct kp_log l;
	json_error_t jerr;
	capture_open(&c);
	kp_log_init(&l, c.f, "controller");
	l.clock = fixed_clock;
	l.level = KP_LOG_DEBUG;
	kp_log_debug(&l, "computed new nodeclaim(s) to fit pod(s)", KP_LOG_FIELDS(kp_log_int("nodeclaims", 3),
		kp_log_uint("pods", 42), kp_log_bool("dry-run", false), kp_log_double("price", 0.1 + 0.2),
		kp_log_nsobject("Pod", "default", "web-1"), kp_log_duration_ns("duration", 1500000000LL)));
	kp_log_warn(&l, "nan and inf", KP_LOG_FIELDS(kp_log_double("a", 0.0 / 0.0), kp_log_double("b", 1.0 / 0.0)));
	kp_log_error(&l, "could not launch nodeclaim", KP_LOG_FIELDS(kp_log_errmsg("insufficient capacity")));
	kp_log_info(&l, "no fields", NULL, 0);
	capture_close(&c);

	const char *levels[] = {"DEBUG", "WARN", "ERROR", "INFO"};
	char *line = c.data;
	int n = 0;
	for (char *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1, n++) {
		*nl = '\0';
		json_t *j = json_loads(line, 0, &jerr);
		if (!j)
			fail_msg("line %d is not JSON: %s: %s", n, jerr.text, line);
		assert_string_equal(json_string_value(json_object_get(j, "level")), levels[n]);
		assert_string_equal(json_string_value(json_object_get(j, "time")), "2026-11-27T20:53:04.123Z");
		assert_string_equal(json_string_value(json_object_get(j, "logger")), "controller");
		assert_non_null(json_string_value(json_object_get(j, "message")));
		/* Key order: level, time, logger, message first. */
		assert_true(strstr(line, "\"level\"") == line + 1);
		assert_true(strstr(line, "\"time\"") < strstr(line, "\"logger\""));
		assert_true(strstr(line, "\"logger\"") < strstr(line, "\"message\""));
		if (n == 0) {
			assert_int_equal(json_integer_value(json_object_get(j, "nodeclaims")), 3);
			assert_int_equal(json_integer_value(json_object_get(j, "pods")), 42);
			assert_true(json_is_false(json_object_get(j, "dry-run")));
			assert_true(json_real_value(json_object_get(j, "price")) == 0.1 + 0.2);
			json_t *pod = json_object_get(j, "Pod");
			assert_string_equal(json_string_value(json_object_get(pod, "namespace")), "default");
			assert_string_equal(json_string_value(json_object_get(pod, "name")), "web-1");
			assert_string_equal(json_string_value(json_object_get(j, "duration")), "1.5s");
		} else if (n == 1) {
			assert_string_equal(json_string_value(json_object_get(j, "a")), "NaN");
			assert_string_equal(json_string_value(json_object_get(j, "b")), "+Inf");
		} else if (n == 2) {
			assert_string_equal(json_string_value(json_object_get(j, "error")), "insufficient capacity");
		} else {
			assert_int_equal(json_object_size(j), 4);
		}
		json_decref(j);
	}
	assert_int_equal(n, 4);
	free(c.data);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_level_filter(void **state)
{
	(void)state;
	static const struct { enum kp_log_level lv; int want; } cases[] = {
		{KP_LOG_DEBUG, 4}, {KP_LOG_INFO, 3}, {KP_LOG_WARN, 2}, {KP_LOG_ERROR, 1},
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++) {
		struct capture c;
		struct kp_log l;
		capture_open(&c);
		kp_log_init(&l, c.f, NULL);
		l.clock = fixed_clock;
		l.level = cases[i].lv;
		kp_log_debug(&l, "d", NULL, 0);
		kp_log_info(&l, "i", NULL, 0);
		kp_log_warn(&l, "w", NULL, 0);
		kp_log_error(&l, "e", NULL, 0);
		assert_int_equal(kp_log_enabled(&l, KP_LOG_DEBUG), cases[i].lv == KP_LOG_DEBUG);
		capture_close(&c);
		assert_int_equal(count_lines(c.data), cases[i].want);
		if (cases[i].lv == KP_LOG_ERROR)   /* unnamed logger: no "logger" key */
			assert_string_equal(c.data, "{\"level\":\"ERROR\",\"time\":\"2026-11-27T20:53:04.123Z\",\"message\":\"e\"}\n");
		free(c.data);
	}
	/* No output stream: nothing happens. */
	struct kp_log quiet;
	kp_log_init(&quiet, NULL, "x");
	kp_log_error(&quiet, "dropped", NULL, 0);
	assert_false(kp_log_enabled(&quiet, KP_LOG_ERROR));
}

static void test_parse_level(void **state)
{
	(void)state;
	struct kp_errbuf eb = {0};
	enum kp_log_level lv = KP_LOG_ERROR;
	assert_int_equal(kp_log_parse_level("debug", &lv, &eb), KP_OK);
	assert_int_equal(lv, KP_LOG_DEBUG);
	assert_int_equal(kp_log_parse_level("INFO", &lv, &eb), KP_OK);
	assert_int_equal(lv, KP_LOG_INFO);
	assert_int_equal(kp_log_parse_level("warn", &lv, &eb), KP_OK);
	assert_int_equal(lv, KP_LOG_WARN);
	assert_int_equal(kp_log_parse_level("error", &lv, &eb), KP_OK);
	assert_int_equal(lv, KP_LOG_ERROR);
	assert_int_equal(kp_log_parse_level("", &lv, &eb), KP_OK);
	assert_int_equal(lv, KP_LOG_INFO);
	assert_int_equal(kp_log_parse_level("verbose", &lv, &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "log level \"verbose\" is not one of debug, info, warn, error");
	assert_string_equal(kp_log_level_name(KP_LOG_WARN), "WARN");
}

static void test_escaping(void **state)
{
	(void)state;
	struct capture c;
	struct kp_log l;
	json_error_t jerr;
	capture_open(&c);
	kp_log_init(&l, c.f, "con\"troller");
	l.clock = fixed_clock;
	const char *msg = "quote \" backslash \\ newline \n tab \t bell \x07 caf\xc3\xa9";
	kp_log_info(&l, msg, KP_LOG_FIELDS(kp_log_str("bad\"key", "invalid \xff utf8 \xe2\x82"),
		kp_log_str("null", NULL)));
	capture_close(&c);
	assert_int_equal(count_lines(c.data), 1);
	json_t *j = json_loads(c.data, 0, &jerr);
	if (!j)
		fail_msg("not JSON: %s: %s", jerr.text, c.data);
	assert_string_equal(json_string_value(json_object_get(j, "message")), msg);
	assert_string_equal(json_string_value(json_object_get(j, "logger")), "con\"troller");
	assert_string_equal(json_string_value(json_object_get(j, "bad\"key")), "invalid \xef\xbf\xbd utf8 \xef\xbf\xbd\xef\xbf\xbd");
	assert_string_equal(json_string_value(json_object_get(j, "null")), "");
	assert_non_null(strstr(c.data, "\\u0007"));
	json_decref(j);
	free(c.data);
}

static void test_durations(void **state)
{
	(void)state;
	static const struct { int64_t ns; const char *want; } cases[] = {
		{0, "0s"}, {1, "1ns"}, {999, "999ns"}, {1500, "1.5\xc2\xb5s"}, {1000000, "1ms"},
		{150000000, "150ms"}, {1000000000, "1s"}, {1500000000, "1.5s"}, {60000000000LL, "1m0s"},
		{90500000000LL, "1m30.5s"}, {3600000000000LL, "1h0m0s"}, {3723000000001LL, "1h2m3.000000001s"},
		{-2000000000LL, "-2s"}, {-1500, "-1.5\xc2\xb5s"},
	};
	char buf[64];
	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++) {
		kp_log_format_duration(cases[i].ns, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
	}
}

static int64_t epoch_clock(void *arg)
{
	return *(int64_t *)arg;
}

static void test_clock_injection(void **state)
{
	(void)state;
	struct capture c;
	struct kp_log l;
	int64_t now = 0;
	capture_open(&c);
	kp_log_init(&l, c.f, NULL);
	l.clock = epoch_clock;
	l.clock_arg = &now;
	kp_log_info(&l, "a", NULL, 0);
	now = 86400000LL + 7;
	kp_log_info(&l, "b", NULL, 0);
	capture_close(&c);
	assert_string_equal(c.data,
		"{\"level\":\"INFO\",\"time\":\"1970-01-01T00:00:00.000Z\",\"message\":\"a\"}\n"
		"{\"level\":\"INFO\",\"time\":\"1970-01-02T00:00:00.007Z\",\"message\":\"b\"}\n");
	free(c.data);
}

#define LINES 2000

static void *writer(void *arg)
{
	const struct kp_log *l = arg;
	char big[600];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < LINES; i++)
		kp_log_info(l, "line", KP_LOG_FIELDS(kp_log_int("i", i), kp_log_str("pad", big)));
	return NULL;
}

static void test_concurrent_lines(void **state)
{
	(void)state;
	struct capture c;
	struct kp_log l;
	pthread_t t[4];
	capture_open(&c);
	kp_log_init(&l, c.f, "controller");
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, &l), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	capture_close(&c);
	int n = 0;
	char *line = c.data;
	for (char *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1, n++) {
		*nl = '\0';
		json_t *j = json_loads(line, 0, NULL);
		if (!j)
			fail_msg("interleaved or broken line %d: %.80s", n, line);
		json_decref(j);
	}
	assert_int_equal(n, 4 * LINES);
	free(c.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_shape),
		cmocka_unit_test(test_parsed_back),
		cmocka_unit_test(test_level_filter),
		cmocka_unit_test(test_parse_level),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_clock_injection),
		cmocka_unit_test(test_concurrent_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
