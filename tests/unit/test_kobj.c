/*
 * test_kobj.c - src/kobj, the Kubernetes-object helpers over JSON: member
 * and dotted-path access, conditions (lastTransitionTime kept while the
 * status holds), finalizers, controller references, label selectors and
 * reading a whole file with a size cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "kobj/kobj.h"

static json_t *parse(const char *s)
{
	json_t *o = json_loads(s, 0, NULL);
	assert_non_null(o);
	return o;
}

static void test_access(void **state)
{
	json_t *o = parse("{\"metadata\":{\"name\":\"n\",\"labels\":{\"a.b/c\":\"v\"},\"generation\":3},"
			  "\"spec\":{\"x\":{\"y\":\"z\"}},\"n\":\"str\"}");
	(void)state;
	assert_string_equal(kp_kobj_path_str(o, "spec.x.y"), "z");
	assert_null(kp_kobj_path_str(o, "spec.x"));           /* an object, not a string */
	assert_null(kp_kobj_at(o, "spec.x.y.w"));
	assert_string_equal(kp_kobj_str(kp_kobj_at(o, "metadata.labels"), "a.b/c"), "v");   /* dots in a key */
	assert_string_equal(kp_kobj_meta_str(o, "name"), "n");
	assert_int_equal(kp_kobj_int(json_object_get(o, "metadata"), "generation", -1), 3);
	assert_int_equal(kp_kobj_int(json_object_get(o, "metadata"), "name", -1), -1);
	json_t *st = kp_kobj_child(o, "status");
	assert_true(json_is_object(st));
	assert_ptr_equal(kp_kobj_child(o, "status"), st);
	assert_non_null(kp_kobj_child(o, "n"));               /* a string member is replaced */
	assert_true(json_is_object(json_object_get(o, "n")));
	json_decref(o);
}

static void test_conditions(void **state)
{
	json_t *o = parse("{\"status\":{\"conditions\":[]}}");
	json_t *conds = kp_kobj_at(o, "status.conditions");
	(void)state;
	kp_kobj_condition_set(conds, "Ready", "False", NULL, NULL, 1, 1000000);
	assert_false(kp_kobj_condition_true(o, "Ready"));
	assert_string_equal(kp_kobj_str(kp_kobj_condition(o, "Ready"), "reason"), "Ready");
	assert_string_equal(kp_kobj_str(kp_kobj_condition(o, "Ready"), "lastTransitionTime"), "1970-01-01T00:16:40Z");
	kp_kobj_condition_set(conds, "Ready", "False", "Still", "m", 2, 2000000);   /* same status: time kept */
	assert_string_equal(kp_kobj_str(kp_kobj_condition(o, "Ready"), "lastTransitionTime"), "1970-01-01T00:16:40Z");
	assert_string_equal(kp_kobj_str(kp_kobj_condition(o, "Ready"), "message"), "m");
	kp_kobj_condition_set(conds, "Ready", "True", NULL, NULL, 2, 3000000);
	assert_true(kp_kobj_condition_true(o, "Ready"));
	assert_string_equal(kp_kobj_str(kp_kobj_condition(o, "Ready"), "lastTransitionTime"), "1970-01-01T00:50:00Z");
	assert_int_equal(json_array_size(conds), 1);
	assert_null(kp_kobj_condition(o, "Other"));
	json_decref(o);
}

static void test_finalizers_and_owner(void **state)
{
	json_t *o = parse("{\"metadata\":{\"ownerReferences\":[{\"kind\":\"A\",\"uid\":\"1\"},"
			  "{\"kind\":\"RS\",\"uid\":\"2\",\"controller\":true}]}}");
	(void)state;
	assert_int_equal(kp_kobj_finalizers(o), 0);
	assert_true(kp_kobj_add_finalizer(o, "f/1"));
	assert_false(kp_kobj_add_finalizer(o, "f/1"));
	assert_true(kp_kobj_add_finalizer(o, "f/2"));
	assert_true(kp_kobj_has_finalizer(o, "f/2"));
	assert_int_equal(kp_kobj_finalizers(o), 2);
	assert_true(kp_kobj_remove_finalizer(o, "f/1"));
	assert_false(kp_kobj_remove_finalizer(o, "f/1"));
	assert_false(kp_kobj_has_finalizer(o, "f/1"));
	assert_string_equal(kp_kobj_str(kp_kobj_controller_ref(o), "uid"), "2");
	json_decref(o);
}

static void test_selector(void **state)
{
	json_t *labels = parse("{\"app\":\"web\",\"tier\":\"fe\"}");
	json_t *s1 = parse("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"tier\","
			   "\"operator\":\"In\",\"values\":[\"fe\",\"be\"]},{\"key\":\"x\",\"operator\":\"DoesNotExist\"}]}");
	json_t *s2 = parse("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"NotIn\",\"values\":[\"fe\"]}]}");
	json_t *s3 = parse("{}");
	json_t *bad = parse("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"Near\"}]}");
	(void)state;
	assert_true(kp_kobj_selector_matches(s1, labels));
	assert_false(kp_kobj_selector_matches(s2, labels));
	assert_true(kp_kobj_selector_matches(s3, labels));
	assert_false(kp_kobj_selector_matches(NULL, labels));
	assert_false(kp_kobj_selector_matches(bad, labels));
	assert_false(kp_kobj_selector_matches(s1, NULL));
	json_decref(labels);
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
	json_decref(bad);
}

static void test_read_file(void **state)
{
	char path[] = "/tmp/kp-test-kobj.XXXXXX";
	struct kp_errbuf eb = { 0 };
	char *data = NULL;
	size_t len = 0;
	int fd = mkstemp(path);
	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello", 5), 5);
	close(fd);
	assert_int_equal(kp_kobj_read_file(path, 100, &data, &len, &eb), KP_OK);
	assert_int_equal(len, 5);
	assert_string_equal(data, "hello");
	free(data);
	assert_int_equal(kp_kobj_read_file(path, 4, &data, &len, &eb), KP_ERR_LIMIT);
	assert_null(data);
	unlink(path);
	assert_int_equal(kp_kobj_read_file(path, 100, &data, NULL, &eb), KP_ERR_IO);
	assert_non_null(strstr(eb.msg, path));
}

static void test_write_file(void **state)
{
	char dir[] = "/tmp/kp-test-kobj-w.XXXXXX", path[128], tmp[140], bad[160];
	struct kp_errbuf eb = { 0 };
	struct stat st;
	char *data = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(kp_kobj_write_file(path, "one\n", 4, &eb), KP_OK);
	assert_int_equal(kp_kobj_write_file(path, "two\0x", 5, &eb), KP_OK);   /* replaced, bytes kept */
	assert_int_equal(kp_kobj_read_file(path, 100, &data, &len, &eb), KP_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "two\0x", 5);
	free(data);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_not_equal(access(tmp, F_OK), 0);   /* no temporary left */
	/* a directory that is not there: an error naming the file, nothing written */
	snprintf(bad, sizeof(bad), "%s/missing/key", dir);
	assert_int_equal(kp_kobj_write_file(bad, "x", 1, &eb), KP_ERR_IO);
	assert_non_null(strstr(eb.msg, "missing/key"));
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_finalizers_and_owner),
		cmocka_unit_test(test_selector),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_write_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
