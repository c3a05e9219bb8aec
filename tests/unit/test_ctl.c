/*
 * test_ctl.c - the built-in controllers of `karpenter up` (src/kcm):
 * the controllers' hash map, the controller pod's log (tail, limit), and an
 * in-process control plane where a Deployment becomes Running pods on a
 * Node and an oversized pod is marked Unschedulable; Jobs that complete
 * and fail, a Deployment's rolling update with revisions, node Leases.
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
	struct kp_strmap m = { 0 };
	char key[32];
	size_t n;
	(void)state;

	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%04d", 999 - i);
		assert_null(kp_kcm__map_put(&m, key, (void *)(intptr_t)(i + 1)));
	}
	assert_int_equal(m.n, 1000);
	assert_int_equal((intptr_t)kp_strmap_get(&m, "k0999"), 1);
	assert_int_equal((intptr_t)kp_kcm__map_put(&m, "k0999", (void *)7), 1);
	assert_int_equal((intptr_t)kp_strmap_del(&m, "k0000"), 1000);
	assert_null(kp_strmap_get(&m, "k0000"));
	const char **keys = kp_strmap_keys(&m, &n);
	assert_int_equal(n, 999);
	assert_string_equal(keys[0], "k0001");
	assert_string_equal(keys[998], "k0999");
	free(keys);
	kp_strmap_free(&m);
	kp_strmap_free(&m);
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

/* The object (group, res, ns, name) as JSON (caller decrefs), or NULL. */
static json_t *get(struct kp_apiserver *L, const char *group, const char *res, const char *ns, const char *name)
{
	struct kp_store_key k = { group, res, ns, name };
	char *text = NULL;
	json_t *o;
	if (kp_store_get(L->store, &k, &text, NULL, NULL) != KP_STORE_OK)
		return NULL;
	o = json_loads(text, 0, NULL);
	free(text);
	return o;
}

/* The string at a dotted path of the object (group, res, ns, name) into
 * buf ("" when absent). */
static const char *field(struct kp_apiserver *L, const char *group, const char *res, const char *ns, const char *name,
			 const char *path, char *buf, size_t n)
{
	json_t *o = get(L, group, res, ns, name), *v = o;
	char p[256], *save = NULL;
	snprintf(p, sizeof(p), "%s", path);
	for (char *t = strtok_r(p, ".", &save); v && t; t = strtok_r(NULL, ".", &save))
		v = json_is_array(v) ? json_array_get(v, (size_t)(t[0] - '0')) : json_object_get(v, t);
	if (json_is_string(v))
		snprintf(buf, n, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, n, "%s", "");
	json_decref(o);
	return buf;
}

static bool wait_field(struct kp_apiserver *L, const char *group, const char *res, const char *ns, const char *name,
		       const char *path, const char *want)
{
	char buf[256];
	for (int i = 0; i < 100; i++) {
		if (!strcmp(field(L, group, res, ns, name, path, buf, sizeof(buf)), want))
			return true;
		usleep(100 * 1000);
	}
	fprintf(stderr, "%s/%s %s: %s, want %s\n", res, name, path, buf, want);
	return false;
}

static int set_image_fn(void *ud, json_t *d)
{
	json_t *c = json_array_get(json_object_get(json_object_get(json_object_get(json_object_get(d, "spec"), "template"),
								   "spec"), "containers"), 0);
	json_object_set_new(c, "image", json_string(ud));
	return 0;
}

static void test_batch_and_rollout(void **state)
{
	struct kp_apiserver_config cfg = { 0 };
	struct kp_errbuf eb = { 0 };
	struct kp_apiserver *L = NULL;
	struct kp_up *U = NULL;
	char buf[256];
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
			     "\"status\":{\"capacity\":{\"cpu\":\"4\",\"memory\":\"8Gi\",\"pods\":\"20\"},"
			     "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}"), KP_STORE_OK);
	/* two completions one at a time, each `sleep 0.2` */
	assert_int_equal(put(L, "jobs", "batch", "default", "j",
			     "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"j\",\"namespace\":"
			     "\"default\",\"uid\":\"u-j\"},\"spec\":{\"completions\":2,\"parallelism\":1,\"template\":"
			     "{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\","
			     "\"command\":[\"sleep\",\"0.2\"],\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}}}}"),
			 KP_STORE_OK);
	/* fails at once, no retry */
	assert_int_equal(put(L, "jobs", "batch", "default", "f",
			     "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"f\",\"namespace\":"
			     "\"default\",\"uid\":\"u-f\"},\"spec\":{\"backoffLimit\":0,\"template\":{\"metadata\":"
			     "{\"annotations\":{\"karpenter-c.sh/run-for\":\"100ms\",\"karpenter-c.sh/exit-code\":\"2\"}},"
			     "\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}"),
			 KP_STORE_OK);
	assert_true(wait_field(L, "batch", "jobs", "default", "j", "status.succeeded", "2"));
	assert_true(wait_field(L, "batch", "jobs", "default", "j", "status.conditions.1.type", "Complete"));
	assert_string_equal(field(L, "batch", "jobs", "default", "j", "status.active", buf, sizeof(buf)), "0");
	assert_true(wait_field(L, "batch", "jobs", "default", "f", "status.conditions.1.type", "Failed"));
	assert_string_equal(field(L, "batch", "jobs", "default", "f", "status.conditions.1.reason", buf, sizeof(buf)),
			    "BackoffLimitExceeded");
	assert_string_equal(field(L, "batch", "jobs", "default", "f", "status.failed", buf, sizeof(buf)), "1");
	/* the node's Lease */
	assert_true(wait_field(L, "coordination.k8s.io", "leases", "kube-node-lease", "n1", "spec.holderIdentity", "n1"));
	assert_string_equal(field(L, "coordination.k8s.io", "leases", "kube-node-lease", "n1",
				  "metadata.ownerReferences.0.uid", buf, sizeof(buf)), "u-n1");

	/* a rolling update: revision 2, the old ReplicaSet at 0 */
	assert_int_equal(put(L, "deployments", "apps", "default", "d",
			     "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\",\"namespace\":"
			     "\"default\",\"uid\":\"u-d\",\"generation\":1},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":"
			     "{\"a\":\"d\"}},\"strategy\":{\"rollingUpdate\":{\"maxSurge\":1,\"maxUnavailable\":0}},"
			     "\"template\":{\"metadata\":{\"labels\":{\"a\":\"d\"}},\"spec\":{\"containers\":"
			     "[{\"name\":\"c\",\"image\":\"v1\",\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]}}}}"),
			 KP_STORE_OK);
	assert_true(wait_field(L, "apps", "deployments", "default", "d", "status.availableReplicas", "2"));
	json_t *d = get(L, "apps", "deployments", "default", "d");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(d, "metadata"), "annotations"),
							       "deployment.kubernetes.io/revision")), "1");
	json_decref(d);
	struct kp_store_key dk = { "apps", "deployments", "default", "d" };
	assert_int_equal(kp_apiserver_mutate(L, &dk, set_image_fn, "v2", &eb), KP_STORE_OK);
	bool done = false;
	for (int i = 0; i < 100 && !done; i++) {
		d = get(L, "apps", "deployments", "default", "d");
		const json_t *ann = json_object_get(json_object_get(d, "metadata"), "annotations"), *st = json_object_get(d, "status");
		done = json_string_value(json_object_get(ann, "deployment.kubernetes.io/revision")) &&
		       !strcmp(json_string_value(json_object_get(ann, "deployment.kubernetes.io/revision")), "2") &&
		       json_integer_value(json_object_get(st, "updatedReplicas")) == 2 &&
		       json_integer_value(json_object_get(st, "replicas")) == 2 &&
		       json_integer_value(json_object_get(st, "availableReplicas")) == 2;
		json_decref(d);
		if (!done)
			usleep(100 * 1000);
	}
	assert_true(done);
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
		cmocka_unit_test(test_batch_and_rollout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
