/*
 * test_ctl.c - the built-in controllers of `karpenter up` (src/kcm):
 * the controllers' hash map, the controller pod's log (tail, limit), and an
 * in-process control plane where a Deployment becomes Running pods on a
 * Node and an oversized pod is marked Unschedulable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kcm/kcm_int.h"
#include "apiserver/server.h"
#include "up/up.h"

static void test_map(void **state)
{
	struct kp_kcm__map m = { 0 };
	char key[32];
	size_t n;
	(void)state;

	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%04d", 999 - i);
		assert_null(kp_kcm__map_put(&m, key, (void *)(intptr_t)(i + 1)));
	}
	assert_int_equal(m.n, 1000);
	assert_int_equal((intptr_t)kp_kcm__map_get(&m, "k0999"), 1);
	assert_int_equal((intptr_t)kp_kcm__map_put(&m, "k0999", (void *)7), 1);
	assert_int_equal((intptr_t)kp_kcm__map_del(&m, "k0000"), 1000);
	assert_null(kp_kcm__map_get(&m, "k0000"));
	const char **keys = kp_kcm__map_keys(&m, &n);
	assert_int_equal(n, 999);
	assert_string_equal(keys[0], "k0001");
	assert_string_equal(keys[998], "k0999");
	free(keys);
	kp_kcm__map_free(&m);
	kp_kcm__map_free(&m);
}

static char tmpdir[64];

static void test_log(void **state)
{
	struct kp_apiserver L;
	struct kp_errbuf eb = { 0 };
	char *out;
	size_t len;
	int64_t end;
	(void)state;

	memset(&L, 0, sizeof(L));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kp-test-ctl.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	L.cfg.data_dir = tmpdir;
	assert_int_equal(kp_apiserver_podlog_read(&L, KP_APISERVER_LOG_NS, KP_APISERVER_LOG_POD, -1, 0, &out, &len, &end, &eb), KP_OK);
	assert_string_equal(out, "");
	free(out);
	kp_apiserver_log_sink(&L, "one");
	kp_apiserver_log_sink(&L, "two\n");
	kp_apiserver_log_sink(&L, "three");
	assert_int_equal(kp_apiserver_podlog_read(&L, KP_APISERVER_LOG_NS, KP_APISERVER_LOG_POD, -1, 0, &out, &len, &end, &eb), KP_OK);
	assert_string_equal(out, "one\ntwo\nthree\n");
	assert_int_equal(end, 14);
	free(out);
	assert_int_equal(kp_apiserver_podlog_read(&L, KP_APISERVER_LOG_NS, KP_APISERVER_LOG_POD, 2, 0, &out, &len, &end, &eb), KP_OK);
	assert_string_equal(out, "two\nthree\n");
	free(out);
	assert_int_equal(kp_apiserver_podlog_read(&L, KP_APISERVER_LOG_NS, KP_APISERVER_LOG_POD, 0, 0, &out, &len, &end, &eb), KP_OK);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(kp_apiserver_podlog_read(&L, KP_APISERVER_LOG_NS, KP_APISERVER_LOG_POD, 10, 5, &out, &len, &end, &eb), KP_OK);
	assert_string_equal(out, "one\nt");
	free(out);
	struct kp_apiserver_podlog_follow *f = kp_apiserver_podlog_follow_open(&L, KP_APISERVER_LOG_NS, KP_APISERVER_LOG_POD, end);
	char buf[64];
	kp_apiserver_log_sink(&L, "four");
	ssize_t r = kp_apiserver_podlog_follow_read(f, -1, buf, sizeof(buf));
	assert_int_equal(r, 5);
	assert_memory_equal(buf, "four\n", 5);
	kp_apiserver_podlog_follow_close(f);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
}

static int put(struct kp_apiserver *L, const char *res, const char *group, const char *ns, const char *name,
	       const char *json)
{
	struct kp_store_key k = { group, res, ns, name };
	json_t *o = json_loads(json, 0, NULL);
	int rc;
	assert_non_null(o);
	rc = kp_store_create(L->store, &k, o, NULL, NULL);
	json_decref(o);
	return rc;
}

struct count {
	int running, pending_unsched;
	char msg[300];
};

static int count_fn(void *ud, const char *json, size_t len, int64_t rv)
{
	struct count *c = ud;
	json_t *o = json_loadb(json, len, 0, NULL), *v;
	const json_t *st = json_object_get(o, "status");
	size_t i;
	(void)rv;
	if (json_string_value(json_object_get(st, "phase")) && !strcmp(json_string_value(json_object_get(st, "phase")), "Running"))
		c->running++;
	json_array_foreach(json_object_get(st, "conditions"), i, v)
		if (!strcmp(json_string_value(json_object_get(v, "type")), "PodScheduled") &&
		    json_string_value(json_object_get(v, "reason")) &&
		    !strcmp(json_string_value(json_object_get(v, "reason")), "Unschedulable")) {
			c->pending_unsched++;
			snprintf(c->msg, sizeof(c->msg), "%s", json_string_value(json_object_get(v, "message")));
		}
	json_decref(o);
	return 0;
}

static void test_control_plane(void **state)
{
	struct kp_apiserver_config cfg = { 0 };
	struct kp_errbuf eb = { 0 };
	struct kp_apiserver *L = NULL;
	struct kp_up *U = NULL;
	struct count c = { 0 };
	(void)state;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kp-test-ctl.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	cfg.listen_host = "127.0.0.1";
	cfg.data_dir = tmpdir;
	if (kp_up_start(&U, &cfg, &eb))
		fail_msg("start: %s", eb.msg);
	L = U->api;
	assert_int_equal(put(L, "nodes", "", "", "n1",
			     "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\",\"uid\":\"u-n1\"},"
			     "\"status\":{\"capacity\":{\"cpu\":\"2\",\"memory\":\"4Gi\",\"pods\":\"10\"},"
			     "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}"), KP_STORE_OK);
	assert_int_equal(put(L, "deployments", "apps", "default", "d",
			     "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\",\"namespace\":"
			     "\"default\",\"uid\":\"u-d\",\"generation\":1},\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":"
			     "{\"a\":\"d\"}},\"template\":{\"metadata\":{\"labels\":{\"a\":\"d\"}},\"spec\":{\"containers\":"
			     "[{\"name\":\"c\",\"image\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"500m\"}}}]}}}}"),
			 KP_STORE_OK);
	assert_int_equal(put(L, "pods", "", "default", "big",
			     "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"big\",\"namespace\":\"default\","
			     "\"uid\":\"u-big\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"resources\":"
			     "{\"requests\":{\"cpu\":\"1\"}}}]}}"), KP_STORE_OK);
	for (int i = 0; i < 100; i++) {
		memset(&c, 0, sizeof(c));
		kp_store_list(L->store, "", "pods", "default", count_fn, &c, NULL, NULL);
		if (c.running == 3 && c.pending_unsched == 1)
			break;
		usleep(100 * 1000);
	}
	/* 3 x 500m fit on 2 cpus; the 1-cpu pod then does not */
	assert_int_equal(c.running, 3);
	assert_int_equal(c.pending_unsched, 1);
	assert_string_equal(c.msg, "0/1 nodes are available: 1 Insufficient cpu.");
	kp_up_stop(U);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_control_plane),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
