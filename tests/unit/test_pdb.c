/*
 * test_pdb.c - graceful pod deletion, the eviction subresource and the
 * PodDisruptionBudget controller of `karpenter up` (src/apiserver/rest_evict.c, pdb.c; src/kcm/pdb.c):
 * the pure helpers (label selectors, IntOrString scaling, desired healthy
 * and allowed disruptions), kp_apiserver_delete_grace on an in-process control
 * plane, and evictions through kp_apiserver__rest_handle against budgets whose status
 * the controller computes.
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

#include "apiserver/pdb.h"
#include "apiserver/server.h"
#include "up/up.h"
#include "kobj/kobj.h"

/* ---------------------------------------------------------- pure helpers */

static json_t *J(const char *text)
{
	json_t *o = json_loads(text, JSON_DECODE_ANY, NULL);
	assert_non_null(o);
	return o;
}

static bool sel(const char *selector, const char *labels)
{
	json_t *s = selector ? J(selector) : NULL, *l = labels ? J(labels) : NULL;
	bool r = kp_kobj_selector_matches(s, l);
	json_decref(s);
	json_decref(l);
	return r;
}

static void test_selector(void **state)
{
	(void)state;
	assert_true(sel("{\"matchLabels\":{\"app\":\"a\"}}", "{\"app\":\"a\",\"x\":\"y\"}"));
	assert_false(sel("{\"matchLabels\":{\"app\":\"a\"}}", "{\"app\":\"b\"}"));
	assert_false(sel("{\"matchLabels\":{\"app\":\"a\"}}", NULL));
	assert_true(sel("{}", "{\"app\":\"b\"}"));
	assert_true(sel("{}", NULL));
	assert_false(sel(NULL, "{\"app\":\"a\"}"));
	assert_true(sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"In\",\"values\":[\"1\",\"2\"]}]}",
			"{\"t\":\"2\"}"));
	assert_false(sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"In\",\"values\":[\"1\"]}]}", "{\"t\":\"2\"}"));
	assert_true(sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"NotIn\",\"values\":[\"1\"]}]}", "{}"));
	assert_false(sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"NotIn\",\"values\":[\"1\"]}]}",
			 "{\"t\":\"1\"}"));
	assert_true(sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"Exists\"}]}", "{\"t\":\"\"}"));
	assert_false(sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"DoesNotExist\"}]}", "{\"t\":\"\"}"));
	assert_false(sel("{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"Bogus\"}]}", "{\"t\":\"\"}"));
	assert_false(sel("{\"matchLabels\":{\"app\":\"a\"},\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"Exists\"}]}",
			 "{\"app\":\"a\"}"));
}

static int64_t scaled(const char *v, int64_t total)
{
	json_t *j = J(v);
	int64_t out = -99;
	kp_err e = kp_apiserver_pdb_scaled(j, total, &out);
	json_decref(j);
	return e ? -1 : out;
}

static void test_scaled(void **state)
{
	(void)state;
	assert_int_equal(scaled("3", 10), 3);
	assert_int_equal(scaled("\"50%\"", 5), 3);    /* rounded up */
	assert_int_equal(scaled("\"30%\"", 4), 2);
	assert_int_equal(scaled("\"100%\"", 7), 7);
	assert_int_equal(scaled("\"0%\"", 7), 0);
	assert_int_equal(scaled("\"5\"", 7), -1);
	assert_int_equal(scaled("\"abc%\"", 7), -1);
	assert_int_equal(scaled("\"-5%\"", 7), -1);
	assert_int_equal(scaled("true", 7), -1);
}

static void compute(const char *spec, int64_t expected, int64_t healthy, int64_t want_desired, int64_t want_allowed)
{
	json_t *s = J(spec);
	int64_t d = -1, a = -1;
	assert_int_equal(kp_apiserver_pdb_compute(s, expected, healthy, &d, &a), KP_OK);
	assert_int_equal(d, want_desired);
	assert_int_equal(a, want_allowed);
	json_decref(s);
}

static void test_compute(void **state)
{
	json_t *s;
	int64_t d, a;
	(void)state;

	compute("{\"minAvailable\":2}", 3, 3, 2, 1);
	compute("{\"minAvailable\":2}", 3, 1, 2, 0);
	compute("{\"minAvailable\":\"50%\"}", 5, 5, 3, 2);
	compute("{\"maxUnavailable\":0}", 2, 2, 2, 0);
	compute("{\"maxUnavailable\":1}", 2, 2, 1, 1);
	compute("{\"maxUnavailable\":\"30%\"}", 4, 4, 2, 2);   /* 1.2 rounds up to 2 unavailable */
	compute("{\"maxUnavailable\":5}", 2, 2, 0, 2);
	compute("{\"minAvailable\":0}", 0, 0, 0, 0);           /* nothing expected: nothing allowed */
	/* neither field: the controller expects no pods (getExpectedPodCount),
	 * so nothing is allowed, as the disruption planner also reads it */
	compute("{}", 3, 3, 0, 0);
	s = J("{\"maxUnavailable\":\"x\"}");
	assert_int_equal(kp_apiserver_pdb_compute(s, 3, 3, &d, &a), KP_ERR_INVALID);
	assert_int_equal(a, 0);
	json_decref(s);
	s = J("{\"maxUnavailable\":1}");
	assert_true(kp_apiserver_pdb_needs_scale(s));
	json_decref(s);
	s = J("{\"minAvailable\":\"10%\"}");
	assert_true(kp_apiserver_pdb_needs_scale(s));
	json_decref(s);
	s = J("{\"minAvailable\":1}");
	assert_false(kp_apiserver_pdb_needs_scale(s));
	json_decref(s);
	s = J("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
	assert_true(kp_apiserver_pdb_pod_ready(s));
	json_decref(s);
	s = J("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}");
	assert_false(kp_apiserver_pdb_pod_ready(s));
	json_decref(s);
}

/* -------------------------------------------------- in-process control plane */

static char tmpdir[64];

static struct kp_up *UP;

static struct kp_apiserver *start(void)
{
	struct kp_apiserver_config cfg = { 0 };
	struct kp_errbuf eb = { 0 };

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kp-test-pdb.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	cfg.listen_host = "127.0.0.1";
	cfg.data_dir = tmpdir;
	cfg.grace_cap_ms = -1;     /* the kubelet stand-in waits out the whole grace period */
	if (kp_up_start(&UP, &cfg, &eb))
		fail_msg("start: %s", eb.msg);
	return UP->api;
}

static void stop(struct kp_apiserver *L)
{
	char cmd[128];
	(void)L;
	kp_up_stop(UP);
	UP = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
}

static void put(struct kp_apiserver *L, const char *group, const char *res, const char *ns, const char *name,
		const char *json)
{
	struct kp_store_key k = { group, res, ns, name };
	json_t *o = J(json);
	assert_int_equal(kp_store_create(L->store, &k, o, NULL, NULL), KP_STORE_OK);
	json_decref(o);
}

/* The stored object, or NULL. */
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

static int64_t ival(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(json_object_get(o, a), b);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static const char *sval(const json_t *o, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(o, a), b));
}

static const char POD_FMT[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"u-%s\","
	"\"labels\":{\"app\":\"%s\"}%s},\"spec\":{\"nodeName\":\"%s\",\"terminationGracePeriodSeconds\":30,"
	"\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]},\"status\":{\"phase\":\"%s\",\"conditions\":"
	"[{\"type\":\"Ready\",\"status\":\"%s\"}]}}";

static void pod(struct kp_apiserver *L, const char *name, const char *app, const char *extra_meta, const char *node,
		const char *phase, bool ready)
{
	char buf[1500];
	snprintf(buf, sizeof(buf), POD_FMT, name, name, app, extra_meta, node, phase, ready ? "True" : "False");
	put(L, "", "pods", "default", name, buf);
}

static int drop_finalizers(void *ud, json_t *obj)
{
	(void)ud;
	json_object_del(json_object_get(obj, "metadata"), "finalizers");
	return 0;
}

static int add_label(void *ud, json_t *obj)
{
	(void)ud;
	json_object_set_new(json_object_get(json_object_get(obj, "metadata"), "labels"), "touched", json_string("1"));
	return 0;
}

static void test_graceful_delete(void **state)
{
	struct kp_apiserver *L = start();
	struct kp_errbuf eb = { 0 };
	struct kp_store_key gk = { "", "pods", "default", "gp" }, fk = { "", "pods", "default", "fp" };
	struct kp_store_key uk = { "", "pods", "default", "up" };
	json_t *out = NULL, *o;
	bool gone = true;
	(void)state;

	pod(L, "gp", "g", "", "n9", "Running", true);
	pod(L, "fp", "g", ",\"finalizers\":[\"example.com/hold\"]", "n9", "Running", true);
	pod(L, "up", "g", "", "", "Pending", false);

	/* bound: kept with the pod's grace period */
	assert_int_equal(kp_apiserver_delete_grace(L, &gk, KP_APISERVER_PROP_BACKGROUND, -1, 0, NULL, &out, &gone, &eb), KP_STORE_OK);
	assert_false(gone);
	assert_int_equal(ival(out, "metadata", "deletionGracePeriodSeconds"), 30);
	assert_non_null(sval(out, "metadata", "deletionTimestamp"));
	int64_t end = 0;
	assert_int_equal(kp_parse_rfc3339(sval(out, "metadata", "deletionTimestamp"), &end), KP_OK);
	assert_true(end >= (int64_t)time(NULL) + 28);
	json_decref(out);
	/* only a shorter period changes it */
	assert_int_equal(kp_apiserver_delete_grace(L, &gk, KP_APISERVER_PROP_BACKGROUND, 5, 0, NULL, &out, &gone, &eb), KP_STORE_OK);
	assert_int_equal(ival(out, "metadata", "deletionGracePeriodSeconds"), 5);
	json_decref(out);
	assert_int_equal(kp_apiserver_delete_grace(L, &gk, KP_APISERVER_PROP_BACKGROUND, 10, 0, NULL, &out, &gone, &eb), KP_STORE_OK);
	assert_int_equal(ival(out, "metadata", "deletionGracePeriodSeconds"), 5);
	json_decref(out);
	/* an update while terminating keeps it */
	assert_int_equal(kp_apiserver_mutate(L, &gk, add_label, NULL, &eb), KP_STORE_OK);
	assert_non_null(o = get(L, "", "pods", "default", "gp"));
	json_decref(o);
	/* the kubelet's final delete: grace 0 with the uid precondition */
	assert_int_equal(kp_apiserver_delete_grace(L, &gk, KP_APISERVER_PROP_BACKGROUND, 0, 0, "u-other", NULL, &gone, &eb),
			 KP_STORE_CONFLICT);
	assert_int_equal(kp_apiserver_delete_grace(L, &gk, KP_APISERVER_PROP_BACKGROUND, 0, 0, "u-gp", NULL, &gone, &eb), KP_STORE_OK);
	assert_true(gone);
	assert_null(get(L, "", "pods", "default", "gp"));

	/* unbound: at once */
	assert_int_equal(kp_apiserver_delete(L, &uk, KP_APISERVER_PROP_BACKGROUND, 0, NULL, NULL, &eb), KP_STORE_OK);
	assert_null(get(L, "", "pods", "default", "up"));

	/* finalizers: removing them during the grace period does not delete;
	 * grace 0 then waits for them */
	assert_int_equal(kp_apiserver_delete_grace(L, &fk, KP_APISERVER_PROP_BACKGROUND, -1, 0, NULL, NULL, &gone, &eb), KP_STORE_OK);
	assert_int_equal(kp_apiserver_mutate(L, &fk, drop_finalizers, NULL, &eb), KP_STORE_OK);
	assert_non_null(o = get(L, "", "pods", "default", "fp"));
	json_decref(o);
	struct kp_store_key fk2 = { "", "pods", "default", "fp2" };
	pod(L, "fp2", "g", ",\"finalizers\":[\"example.com/hold\"]", "n9", "Running", true);
	assert_int_equal(kp_apiserver_delete_grace(L, &fk2, KP_APISERVER_PROP_BACKGROUND, 0, 0, NULL, &out, &gone, &eb), KP_STORE_OK);
	assert_false(gone);
	assert_int_equal(ival(out, "metadata", "deletionGracePeriodSeconds"), 0);
	json_decref(out);
	assert_int_equal(kp_apiserver_mutate(L, &fk2, drop_finalizers, NULL, &eb), KP_STORE_OK);
	assert_null(get(L, "", "pods", "default", "fp2"));
	/* fp (grace 30, no finalizer) goes with the kubelet's grace-0 delete */
	assert_int_equal(kp_apiserver_delete_grace(L, &fk, KP_APISERVER_PROP_BACKGROUND, 0, 0, NULL, NULL, &gone, &eb), KP_STORE_OK);
	assert_true(gone);
	stop(L);
}

/* ------------------------------------------------------------- evictions */

static const char *no_arg(void *ctx, const char *key)
{
	(void)ctx;
	(void)key;
	return NULL;
}

/* POSTs an Eviction of pod name; returns the status code, body in *out. */
static int evict(struct kp_apiserver *L, const char *name, const char *body_name, json_t **out)
{
	struct kp_apiserver__http_req rq = { 0 };
	struct kp_apiserver__http_resp rs;
	char path[256], body[512];
	int code;

	snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods/%s/eviction", name);
	snprintf(body, sizeof(body), "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"%s\"}}",
		 body_name ? body_name : name);
	rq.method = "POST";
	rq.path = path;
	rq.arg = no_arg;
	rq.content_type = "application/json";
	rq.body = body;
	rq.body_len = strlen(body);
	kp_apiserver__rest_handle(L, &rq, &rs);
	code = rs.status;
	*out = rs.body ? json_loadb(rs.body, rs.len, 0, NULL) : NULL;
	free(rs.body);
	return code;
}

static const char *cause_msg(const json_t *st)
{
	const json_t *c = json_array_get(json_object_get(json_object_get(st, "details"), "causes"), 0);
	return json_string_value(json_object_get(c, "message"));
}

/* Waits (5 s at most) for budget name to report allowed/healthy/expected
 * and an empty disruptedPods; returns its last state. */
static json_t *wait_pdb(struct kp_apiserver *L, const char *name, int64_t gen, int64_t allowed, int64_t healthy,
			int64_t expected)
{
	json_t *o = NULL;
	for (int i = 0; i < 100; i++) {
		json_decref(o);
		o = get(L, "policy", "poddisruptionbudgets", "default", name);
		if (o && ival(o, "status", "observedGeneration") == gen && ival(o, "status", "disruptionsAllowed") == allowed &&
		    ival(o, "status", "currentHealthy") == healthy && ival(o, "status", "expectedPods") == expected &&
		    !json_object_get(json_object_get(o, "status"), "disruptedPods"))
			break;
		usleep(50 * 1000);
	}
	return o;
}

static int to_percent(void *ud, json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec"), *md = json_object_get(obj, "metadata");
	(void)ud;
	json_object_del(spec, "minAvailable");
	json_object_set_new(spec, "maxUnavailable", json_string("50%"));
	json_object_set_new(md, "generation", json_integer(2));
	return 0;
}

static void test_eviction(void **state)
{
	struct kp_apiserver *L = start();
	struct kp_errbuf eb = { 0 };
	json_t *st, *o;
	const char *rc_ref = ",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ReplicationController\","
			     "\"name\":\"rc1\",\"uid\":\"u-rc1\",\"controller\":true}]";
	(void)state;

	put(L, "", "replicationcontrollers", "default", "rc1",
	    "{\"apiVersion\":\"v1\",\"kind\":\"ReplicationController\",\"metadata\":{\"name\":\"rc1\",\"namespace\":"
	    "\"default\",\"uid\":\"u-rc1\"},\"spec\":{\"replicas\":4}}");
	pod(L, "a", "g", rc_ref, "n9", "Running", true);
	pod(L, "b", "g", rc_ref, "n9", "Running", true);
	pod(L, "p", "g", rc_ref, "", "Pending", false);
	put(L, "policy", "poddisruptionbudgets", "default", "pg",
	    "{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"pg\",\"namespace\":"
	    "\"default\",\"uid\":\"u-pg\",\"generation\":1},\"spec\":{\"minAvailable\":1,\"selector\":{\"matchLabels\":"
	    "{\"app\":\"g\"}}}}");

	/* minAvailable 1 over 3 matching pods (2 healthy): 1 disruption allowed */
	o = wait_pdb(L, "pg", 1, 1, 2, 3);
	assert_int_equal(ival(o, "status", "disruptionsAllowed"), 1);
	assert_int_equal(ival(o, "status", "desiredHealthy"), 1);
	assert_int_equal(ival(o, "status", "expectedPods"), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(o, "status"),
		"conditions"), 0), "reason")), "SufficientPods");
	json_decref(o);

	/* wrong name, missing pod */
	assert_int_equal(evict(L, "a", "b", &st), 400);
	json_decref(st);
	assert_int_equal(evict(L, "nope", NULL, &st), 404);
	json_decref(st);

	/* a: allowed, decremented, recorded, terminating with DisruptionTarget */
	assert_int_equal(evict(L, "a", NULL, &st), 201);
	assert_string_equal(json_string_value(json_object_get(st, "status")), "Success");
	json_decref(st);
	o = get(L, "", "pods", "default", "a");
	assert_non_null(o);
	assert_int_equal(ival(o, "metadata", "deletionGracePeriodSeconds"), 30);
	const json_t *c = json_array_get(json_object_get(json_object_get(o, "status"), "conditions"), 1);
	assert_string_equal(json_string_value(json_object_get(c, "type")), "DisruptionTarget");
	assert_string_equal(json_string_value(json_object_get(c, "reason")), "EvictionByEvictionAPI");
	json_decref(o);
	/* the controller confirms: a is terminating, 1 healthy, none allowed */
	o = wait_pdb(L, "pg", 1, 0, 1, 3);
	assert_int_equal(ival(o, "status", "currentHealthy"), 1);
	assert_int_equal(ival(o, "status", "disruptionsAllowed"), 0);
	assert_null(json_object_get(json_object_get(o, "status"), "disruptedPods"));
	json_decref(o);

	/* b: refused with the real server's message */
	assert_int_equal(evict(L, "b", NULL, &st), 429);
	assert_string_equal(json_string_value(json_object_get(st, "reason")), "TooManyRequests");
	assert_string_equal(json_string_value(json_object_get(st, "message")),
			    "Cannot evict pod as it would violate the pod's disruption budget.");
	assert_string_equal(cause_msg(st), "The disruption budget pg needs 1 healthy pods and has 1 currently");
	json_decref(st);
	o = get(L, "", "pods", "default", "b");
	assert_null(json_object_get(json_object_get(o, "metadata"), "deletionTimestamp"));
	json_decref(o);

	/* terminating and Pending pods go without a budget check */
	assert_int_equal(evict(L, "a", NULL, &st), 201);
	json_decref(st);
	assert_int_equal(evict(L, "p", NULL, &st), 201);
	json_decref(st);
	assert_null(get(L, "", "pods", "default", "p"));   /* unbound: deleted at once */

	/* two budgets: 500 */
	put(L, "policy", "poddisruptionbudgets", "default", "pg2",
	    "{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"pg2\",\"namespace\":"
	    "\"default\",\"uid\":\"u-pg2\",\"generation\":1},\"spec\":{\"maxUnavailable\":1,\"selector\":{}}}");
	assert_int_equal(evict(L, "b", NULL, &st), 500);
	assert_string_equal(json_string_value(json_object_get(st, "message")),
			    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
	json_decref(st);
	struct kp_store_key k2 = { "policy", "poddisruptionbudgets", "default", "pg2" };
	assert_int_equal(kp_apiserver_delete(L, &k2, KP_APISERVER_PROP_BACKGROUND, 0, NULL, NULL, &eb), KP_STORE_OK);

	/* maxUnavailable 50%: the expected count is the controller's scale (4),
	 * 2 may be unavailable, 2 must be healthy, 1 is */
	struct kp_store_key k = { "policy", "poddisruptionbudgets", "default", "pg" };
	assert_int_equal(kp_apiserver_mutate(L, &k, to_percent, NULL, &eb), KP_STORE_OK);
	o = wait_pdb(L, "pg", 2, 0, 1, 4);
	assert_int_equal(ival(o, "status", "observedGeneration"), 2);
	assert_int_equal(ival(o, "status", "expectedPods"), 4);
	assert_int_equal(ival(o, "status", "desiredHealthy"), 2);
	json_decref(o);
	/* an unready pod is not let go while the budget is not satisfied */
	pod(L, "u", "g", rc_ref, "n9", "Running", false);
	assert_int_equal(evict(L, "u", NULL, &st), 429);
	assert_string_equal(cause_msg(st), "The disruption budget pg needs 2 healthy pods and has 1 currently");
	json_decref(st);
	stop(L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selector),
		cmocka_unit_test(test_scaled),
		cmocka_unit_test(test_compute),
		cmocka_unit_test(test_graceful_delete),
		cmocka_unit_test(test_eviction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
