/*
 * test_enccache.c - shared encodings of stored objects
 * (src/apiserver/enccache.c): one make for many concurrent gets of a key,
 * the same bytes for every holder, a failed make cached for nobody,
 * unreferenced encodings kept a little then dropped, and the selector view.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "apiserver/enccache.h"

struct maker {
	pthread_mutex_t mu;
	int calls;
	int fail;                    /* make returns -1 */
	const char *text;
};

static int make(void *ud, char **text, size_t *len, json_t **view)
{
	struct maker *m = ud;
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	pthread_mutex_lock(&m->mu);
	m->calls++;
	pthread_mutex_unlock(&m->mu);
	nanosleep(&ts, NULL);   /* long enough for the other getters to arrive */
	if (m->fail)
		return -1;
	*text = strdup(m->text);
	*len = strlen(m->text);
	*view = json_pack("{s:s}", "k", "v");
	return 0;
}

struct getter {
	pthread_t t;
	struct kp_apiserver__enc_cache *ec;
	struct maker *m;
	const struct kp_apiserver__enc *e;
};

static void *get_thread(void *arg)
{
	struct getter *g = arg;
	g->e = kp_apiserver__enc_get(g->ec, "pods\ndefault\nbig\n7\nstored", make, g->m);
	return NULL;
}

static void test_one_make_shared(void **state)
{
	struct kp_apiserver__enc_cache *ec = kp_apiserver__enc_cache_new();
	struct maker m = { .mu = PTHREAD_MUTEX_INITIALIZER, .text = "{\"kind\":\"ConfigMap\"}" };
	struct getter g[8];

	(void)state;
	assert_non_null(ec);
	for (int i = 0; i < 8; i++) {
		g[i] = (struct getter){ .ec = ec, .m = &m };
		assert_int_equal(pthread_create(&g[i].t, NULL, get_thread, &g[i]), 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(g[i].t, NULL);
	assert_int_equal(m.calls, 1);
	for (int i = 0; i < 8; i++) {
		assert_non_null(g[i].e);
		assert_ptr_equal(g[i].e, g[0].e);
	}
	assert_string_equal(g[0].e->text, m.text);
	assert_int_equal(g[0].e->len, strlen(m.text));
	assert_string_equal(json_string_value(json_object_get(g[0].e->view, "k")), "v");
	assert_int_equal(kp_apiserver__enc_count(ec), 1);
	for (int i = 0; i < 8; i++)
		kp_apiserver__enc_put(ec, g[i].e);
	/* kept a little after the last put: found again without a make */
	assert_int_equal(kp_apiserver__enc_count(ec), 1);
	g[0].e = kp_apiserver__enc_get(ec, "pods\ndefault\nbig\n7\nstored", make, &m);
	assert_non_null(g[0].e);
	assert_int_equal(m.calls, 1);
	kp_apiserver__enc_put(ec, g[0].e);
	/* then dropped: the next get makes it again */
	sleep(2);
	g[0].e = kp_apiserver__enc_get(ec, "other", make, &m);
	assert_int_equal(m.calls, 2);
	assert_int_equal(kp_apiserver__enc_count(ec), 1);   /* "other" only */
	kp_apiserver__enc_put(ec, g[0].e);
	kp_apiserver__enc_cache_free(ec);
}

static void test_failed_make(void **state)
{
	struct kp_apiserver__enc_cache *ec = kp_apiserver__enc_cache_new();
	struct maker m = { .mu = PTHREAD_MUTEX_INITIALIZER, .text = "x", .fail = 1 };
	struct getter g[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		g[i] = (struct getter){ .ec = ec, .m = &m };
		assert_int_equal(pthread_create(&g[i].t, NULL, get_thread, &g[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(g[i].t, NULL);
		assert_null(g[i].e);
	}
	assert_int_equal(kp_apiserver__enc_count(ec), 0);
	m.fail = 0;
	g[0].e = kp_apiserver__enc_get(ec, "pods\ndefault\nbig\n7\nstored", make, &m);
	assert_non_null(g[0].e);
	assert_string_equal(g[0].e->text, "x");
	kp_apiserver__enc_put(ec, g[0].e);
	kp_apiserver__enc_put(ec, NULL);
	kp_apiserver__enc_cache_free(ec);
}

static void test_view(void **state)
{
	char big[2048];
	json_t *obj, *v;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:s}, s:[s]}, s:{s:s, s:s, s:{s:s}}, s:{s:s, s:[s]}, s:{s:s}}",
			"kind", "Pod", "reason", "r1",
			"metadata", "name", "p", "namespace", "ns", "labels", "app", "a", "annotations", "big", big,
			"finalizers", "f",
			"spec", "nodeName", "n1", "huge", big, "nested", "deep", "d",
			"status", "phase", "Running", "podIPs", "10.0.0.1",
			"data", "blob", big);
	v = kp_apiserver__enc_view(obj);
	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(v, "kind")), "Pod");
	assert_string_equal(json_string_value(json_object_get(v, "reason")), "r1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "metadata"), "name")), "p");
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "metadata"), "namespace")), "ns");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(v, "metadata"), "labels"),
								 "app")), "a");
	assert_null(json_object_get(json_object_get(v, "metadata"), "annotations"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "spec"), "nodeName")), "n1");
	assert_null(json_object_get(json_object_get(v, "spec"), "huge"));     /* over 1 KiB */
	assert_null(json_object_get(json_object_get(v, "spec"), "nested"));   /* two levels down */
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "status"), "phase")), "Running");
	assert_null(json_object_get(json_object_get(v, "status"), "podIPs"));
	assert_null(json_object_get(json_object_get(v, "data"), "blob"));
	json_decref(v);
	json_decref(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_make_shared),
		cmocka_unit_test(test_failed_make),
		cmocka_unit_test(test_view),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
