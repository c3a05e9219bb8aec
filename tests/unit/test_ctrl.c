/*
 * test_ctrl.c - the Karpenter controller (src/ctrl).
 *
 * Unit part: kp_load_object (API objects into the engine's structs), the
 * provisionable-pod predicate, status conditions.
 *
 * Integration part: the local control plane of `karpenter up` started in
 * this process (kp_up_start on a free port, temporary data dir, the
 * built-in scheduler/kubelet/node controllers), a simulated cloud shared
 * with it, and the controller on its own thread talking HTTP to it with
 * short batch windows and TTLs. Checks: pods -> NodeClaim -> launched ->
 * registered -> initialized -> pod bound; a NodePool cpu limit holds for
 * a burst of pods; an instance that never boots is deleted by liveness and
 * replaced; an insufficient-capacity launch deletes the claim, the cloud
 * marks only the offering it tried unavailable (the controller marks
 * nothing) and the next claim launches another offering at once. Runs from the
 * repository root (deploy/crds, data/); every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "load/load.h"
#include "ctrl_env.h"

/* ---------------------------------------------------------------- unit */

static void test_load_object(void **state)
{
	struct kp_cluster c;
	struct kp_errbuf eb = { 0 };
	json_t *pod = json_loads("{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u1\","
				 "\"ownerReferences\":[{\"kind\":\"DaemonSet\",\"name\":\"ds\",\"controller\":true}]},"
				 "\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":"
				 "{\"cpu\":\"1500m\",\"memory\":\"1Gi\"}}}]},\"status\":{\"phase\":\"Pending\"}}",
				 0, NULL);
	json_t *nc = json_loads("{\"apiVersion\":\"karpenter.sh/v1\",\"kind\":\"NodeClaim\",\"metadata\":{\"name\":"
				"\"x\",\"labels\":{\"karpenter.sh/nodepool\":\"np\"}},\"spec\":{\"requirements\":"
				"[{\"key\":\"node.kubernetes.io/instance-type\",\"operator\":\"In\",\"values\":"
				"[\"m5.large\"]}],\"nodeClassRef\":{\"group\":\"g\",\"kind\":\"K\",\"name\":\"n\"}},"
				"\"status\":{\"providerID\":\"aws:///z/i-1\",\"conditions\":[{\"type\":\"Launched\","
				"\"status\":\"True\"}]}}",
				0, NULL);
	json_t *bad = json_loads("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\","
				 "\"resources\":{\"requests\":{\"cpu\":\"lots\"}}}]}}",
				 0, NULL);

	(void)state;
	assert_non_null(pod);
	assert_non_null(nc);
	kp_cluster_init(&c);
	assert_int_equal(kp_load_object(&c, pod, "Pod", "v1", "Pod/ns/p", NULL, &eb), KP_OK);
	assert_int_equal(c.npods, 1);
	assert_string_equal(c.pods[0]->ns, "ns");
	assert_string_equal(c.pods[0]->uid, "u1");
	assert_int_equal(c.pods[0]->requests.v[KP_RES_CPU], 1500);
	assert_true(c.pods[0]->is_daemon);
	assert_int_equal(kp_load_object(&c, nc, NULL, NULL, "NodeClaim/x", NULL, &eb), KP_OK);
	assert_int_equal(c.nclaims, 1);
	assert_string_equal(c.claims[0]->nodepool, "np");
	assert_string_equal(c.claims[0]->provider_id, "aws:///z/i-1");
	assert_true(c.claims[0]->launched);
	assert_false(c.claims[0]->registered);
	/* no kind and no default: an error naming the problem */
	assert_int_equal(kp_load_object(&c, bad, NULL, NULL, "obj", NULL, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "kind"));
	/* a bad quantity names the field */
	assert_int_equal(kp_load_object(&c, bad, "Pod", "v1", "Pod/p", NULL, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "cpu"));
	assert_int_equal(c.npods, 1);
	kp_cluster_free(&c);
	json_decref(pod);
	json_decref(nc);
	json_decref(bad);
}

static json_t *pod_with(const char *extra_status, const char *spec, const char *meta)
{
	char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"p\"%s},\"spec\":{%s},\"status\":{\"phase\":\"Pending\",\"conditions\":"
		 "[{\"type\":\"PodScheduled\",\"status\":\"False\",\"reason\":\"Unschedulable\"}]%s}}",
		 meta, spec, extra_status);
	return json_loads(buf, 0, NULL);
}

static void test_provisionable(void **state)
{
	struct { const char *st, *spec, *meta; bool want; } cases[] = {
		{ "", "", "", true },
		{ "", "\"nodeName\":\"n1\"", "", false },
		{ ",\"nominatedNodeName\":\"n1\"", "", "", false },
		{ "", "", ",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"", false },
		{ "", "", ",\"ownerReferences\":[{\"kind\":\"DaemonSet\",\"name\":\"d\"}]", false },
		{ "", "", ",\"annotations\":{\"kubernetes.io/config.mirror\":\"x\"}", false },
		{ "", "", ",\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"r\"}]", true },
	};

	(void)state;
	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++) {
		json_t *p = pod_with(cases[i].st, cases[i].spec, cases[i].meta);
		assert_non_null(p);
		assert_int_equal(kp_ctrl__pod_provisionable(p), cases[i].want);
		json_decref(p);
	}
	{   /* pending but not (yet) marked unschedulable by the scheduler */
		json_t *p = json_loads("{\"metadata\":{\"name\":\"p\"},\"spec\":{},\"status\":{\"phase\":\"Pending\"}}", 0,
				       NULL);
		assert_false(kp_ctrl__pod_provisionable(p));
		json_decref(p);
	}
}

static void test_conditions(void **state)
{
	json_t *conds = json_array(), *obj;
	const char *t1;

	(void)state;
	kp_ctrl__condition_set(conds, "Launched", "Unknown", "AwaitingReconciliation", "", 1, 1000000);
	t1 = json_string_value(json_object_get(json_array_get(conds, 0), "lastTransitionTime"));
	assert_string_equal(t1, "1970-01-01T00:16:40Z");
	/* same status: transition time kept; new status: moved */
	kp_ctrl__condition_set(conds, "Launched", "Unknown", "Other", "m", 2, 2000000);
	assert_string_equal(json_string_value(json_object_get(json_array_get(conds, 0), "lastTransitionTime")),
			    "1970-01-01T00:16:40Z");
	assert_string_equal(json_string_value(json_object_get(json_array_get(conds, 0), "reason")), "Other");
	kp_ctrl__condition_set(conds, "Launched", "True", "Launched", "", 2, 3000000);
	assert_string_equal(json_string_value(json_object_get(json_array_get(conds, 0), "lastTransitionTime")),
			    "1970-01-01T00:50:00Z");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(conds, 0), "observedGeneration")), 2);
	assert_int_equal(json_array_size(conds), 1);
	obj = json_pack("{s:{s:O}}", "status", "conditions", conds);
	assert_true(kp_ctrl__condition_true(obj, "Launched"));
	assert_false(kp_ctrl__condition_true(obj, "Registered"));
	assert_null(kp_ctrl__condition(obj, "Registered"));
	json_decref(obj);
	json_decref(conds);
}

/* ---------------------------------------------------------------- integration */

static int env_up(void)
{
	struct ctrl_env_opts eo = { 0 };

	eo.batch_idle_ms = 200;
	eo.batch_max_ms = 1000;
	eo.registration_ttl_ms = 4000;
	eo.ice_ttl_ms = 60000;   /* the simulated cloud's: longer than the test */
	eo.leader_elect = true;
	return ctrl_env_up(&eo);
}

static void make_pool(const char *name, const char *extra_spec)
{
	char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\":\"karpenter.sh/v1\",\"kind\":\"NodePool\",\"metadata\":{\"name\":\"%s\"},\"spec\":{%s"
		 "\"template\":{\"metadata\":{\"labels\":{\"pool\":\"%s\"}},\"spec\":{\"nodeClassRef\":{\"group\":"
		 "\"karpenter.k8s.aws\",\"kind\":\"EC2NodeClass\",\"name\":\"default\"},\"requirements\":["
		 "{\"key\":\"karpenter.k8s.aws/instance-family\",\"operator\":\"In\",\"values\":[\"m5\",\"c5\"]},"
		 "{\"key\":\"karpenter.sh/capacity-type\",\"operator\":\"In\",\"values\":[\"on-demand\"]}]}}}}",
		 name, extra_spec, name);
	create(&KP_KUBE_NODEPOOLS, NULL, buf);
}

static void make_pods(const char *pool, int n, const char *cpu)
{
	for (int i = 0; i < n; i++) {
		char buf[1024];
		snprintf(buf, sizeof(buf),
			 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s-%d\",\"namespace\":"
			 "\"default\"},\"spec\":{\"nodeSelector\":{\"pool\":\"%s\"},\"containers\":[{\"name\":\"c\","
			 "\"image\":\"pause\",\"resources\":{\"requests\":{\"cpu\":\"%s\",\"memory\":\"512Mi\"}}}]}}",
			 pool, i, pool, cpu);
		create(&KP_KUBE_PODS, "default", buf);
	}
}

static void test_walkthrough(void **state)
{
	if (env_up()) {
		fprintf(stderr, "# skip %s: the in-process API server did not start (reason above)\n", __func__);
		skip();
	}
	json_t *items, *nc;
	json_t *node = NULL;
	const char *nname;

	(void)state;
	assert_true(wait_for(10000, ready, NULL));
	make_pool("a", "");
	make_pods("a", 1, "2");
	assert_true(wait_for(20000, all_initialized, "a"));
	assert_true(wait_for(10000, pod_bound, "a-0"));
	items = claims_of("a");
	assert_int_equal(json_array_size(items), 1);
	nc = json_array_get(items, 0);
	assert_string_equal(kp_ctrl__jstr(nc, "metadata.generateName"), "a-");
	assert_string_equal(json_string_value(json_object_get(kp_ctrl__jget(nc, "metadata.labels"), "pool")), "a");
	assert_non_null(json_object_get(kp_ctrl__jget(nc, "metadata.annotations"), "karpenter.sh/nodepool-hash"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(kp_ctrl__jget(nc, "metadata.ownerReferences"), 0),
							       "kind")),
			    "NodePool");
	assert_string_equal(kp_ctrl__jstr(nc, "spec.resources.requests.cpu"), "2");
	assert_non_null(kp_ctrl__jstr(nc, "status.providerID"));
	nname = kp_ctrl__jstr(nc, "status.nodeName");
	assert_non_null(nname);
	assert_int_equal(kp_kube_get(E.kc, &KP_KUBE_NODES, NULL, nname, &node, NULL, NULL), KP_OK);
	assert_string_equal(json_string_value(json_object_get(kp_ctrl__jget(node, "metadata.labels"), "karpenter.sh/registered")),
			    "true");
	assert_string_equal(json_string_value(json_object_get(kp_ctrl__jget(node, "metadata.labels"), "karpenter.sh/initialized")),
			    "true");
	assert_string_equal(json_string_value(json_object_get(kp_ctrl__jget(node, "metadata.labels"), "pool")), "a");
	assert_string_equal(json_string_value(json_array_get(kp_ctrl__jget(node, "metadata.finalizers"), 0)),
			    "karpenter.sh/termination");
	json_decref(node);
	json_decref(items);
	assert_true(log_has("\"message\":\"created nodeclaim\""));
}

static int64_t pool_cpu_milli(const char *pool, int *n)
{
	json_t *items = claims_of(pool), *e;
	size_t i;
	int64_t total = 0;

	*n = (int)json_array_size(items);
	json_array_foreach(items, i, e) {
		const char *c = kp_ctrl__jstr(e, "status.capacity.cpu");
		int64_t v = 0;
		if (c && kp_qty_parse(c, KP_QTY_MILLI, &v, NULL) == KP_OK)
			total += v;
	}
	json_decref(items);
	return total;
}

static void test_limits_burst(void **state)
{
	if (env_up()) {
		fprintf(stderr, "# skip %s: the in-process API server did not start (reason above)\n", __func__);
		skip();
	}
	int n = 0;
	int64_t cpu;

	(void)state;
	make_pool("b", "\"limits\":{\"cpu\":\"12\"},");
	make_pods("b", 30, "1");
	msleep(4000);
	cpu = pool_cpu_milli("b", &n);
	assert_true(n >= 1);
	if (cpu > 12000)
		fail_msg("pool b holds %lld milli-cpu in %d nodeclaims, limit 12000", (long long)cpu, n);
	assert_true(cpu >= 4000);
	/* steady: no more claims appear while pods keep failing */
	msleep(1500);
	assert_true(pool_cpu_milli("b", &n) <= 12000);
}

static char first_claim[256];

static bool first_claim_gone(const char *pool)
{
	json_t *items = claims_of(pool), *e;
	size_t i;
	bool gone = true;

	json_array_foreach(items, i, e)
		if (strcmp(kp_ctrl__jstr(e, "metadata.name"), first_claim) == 0)
			gone = false;
	json_decref(items);
	return gone;
}

static bool has_claim(const char *pool)
{
	json_t *items = claims_of(pool);
	bool ok = json_array_size(items) > 0;

	if (ok)
		snprintf(first_claim, sizeof(first_claim), "%s", kp_ctrl__jstr(json_array_get(items, 0), "metadata.name"));
	json_decref(items);
	return ok;
}

static void test_liveness(void **state)
{
	if (env_up()) {
		fprintf(stderr, "# skip %s: the in-process API server did not start (reason above)\n", __func__);
		skip();
	}
	(void)state;
	kp_cloud_fake_delay_next_boots(E.cloud, 1, KP_NEVER);
	make_pool("c", "");
	make_pods("c", 1, "1");
	assert_true(wait_for(10000, has_claim, "c"));
	/* launched, never registers: deleted after the registration TTL (4 s) */
	assert_true(wait_for(15000, first_claim_gone, "c"));
	assert_true(log_has("registration timed out"));
	/* and the pod gets a new claim that works */
	assert_true(wait_for(20000, all_initialized, "c"));
	assert_true(wait_for(10000, pod_bound, "c-0"));
}

/* The offerings the simulated cloud reports unavailable, as
 * "type/zone/capacity-type" keys in a JSON object. */
static json_t *unavailable_offerings(void)
{
	const struct kp_catalog *cat = NULL;
	struct kp_errbuf eb = { 0 };
	json_t *set = json_object();

	if (kp_cloud_instance_types(E.cloud, NULL, &cat, &eb))
		fail_msg("instance types: %s", eb.msg);
	for (int i = 0; i < cat->n; i++)
		for (int k = 0; k < cat->types[i]->noff; k++) {
			const struct kp_offering *o = &cat->types[i]->off[k];
			char key[256];

			if (o->available)
				continue;
			snprintf(key, sizeof(key), "%s/%s/%s", cat->types[i]->name, o->zone ? o->zone : "",
				 kp_captype_name(o->captype));
			json_object_set_new(set, key, json_true());
		}
	return set;
}

static void test_ice_retry(void **state)
{
	if (env_up()) {
		fprintf(stderr, "# skip %s: the in-process API server did not start (reason above)\n", __func__);
		skip();
	}
	json_t *items, *before, *after;
	const char *key, *failed = NULL;
	char got[256];
	void *tmp;
	int added = 0;

	(void)state;
	before = unavailable_offerings();
	kp_cloud_fake_fail_next(E.cloud, KP_CLOUD_FAKE_OP_CREATE, 1, KP_CLOUD_INSUFFICIENT_CAPACITY, "no capacity (test)");
	make_pool("d", "");
	make_pods("d", 1, "1");
	/* created, launch fails with insufficient capacity, deleted (quickly) */
	assert_true(wait_for(10000, log_has, "deleted nodeclaim, insufficient capacity"));
	/* the cloud marked exactly the offering it tried (launch.go leaves
	 * that to the provider); the controller marked nothing */
	after = unavailable_offerings();
	json_object_foreach_safe(after, tmp, key, items) {
		if (!json_object_get(before, key)) {
			added++;
			failed = key;
		}
	}
	assert_int_equal(added, 1);
	/* the next claim launches another offering at once, long before the
	 * mark expires (60 s): its other offerings were never hidden */
	assert_true(wait_for(10000, all_initialized, "d"));
	assert_true(wait_for(10000, pod_bound, "d-0"));
	items = claims_of("d");
	assert_int_equal(json_array_size(items), 1);
	{
		json_t *l = json_object_get(json_object_get(json_array_get(items, 0), "metadata"), "labels");
		snprintf(got, sizeof(got), "%s/%s/%s", json_string_value(json_object_get(l, KP_LABEL_INSTANCE_TYPE)),
			 json_string_value(json_object_get(l, KP_LABEL_ZONE)),
			 json_string_value(json_object_get(l, KP_LABEL_CAPACITY_TYPE)));
	}
	assert_string_not_equal(got, failed);
	json_decref(items);
	json_decref(before);
	json_decref(after);
	kp_cloud_fake_clear_faults(E.cloud);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_object),
		cmocka_unit_test(test_provisionable),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_walkthrough),
		cmocka_unit_test(test_limits_burst),
		cmocka_unit_test(test_liveness),
		cmocka_unit_test(test_ice_retry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
