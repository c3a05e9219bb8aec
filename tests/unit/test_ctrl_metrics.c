/*
 * test_ctrl_metrics.c - the controller's state gauges (metrics_state.c) fed
 * with informer events, and the cloud-provider metrics decorator
 * (cloud_metrics.c) around the simulated cloud. No API server: a struct
 * kp_ctrl with a private registry, events as JSON objects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloud/fake.h"
#include "ctrl/ctrl_int.h"

struct fx {
	struct kp_ctrl *c;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct kp_errbuf eb = { 0 };

	assert_non_null(x);
	x->c = calloc(1, sizeof(*x->c));
	assert_non_null(x->c);
	kp_resnames_init(&x->c->rn);
	x->c->reg = kp_metrics_new();
	assert_non_null(x->c->reg);
	assert_int_equal(kp_metrics_register_karpenter(x->c->reg, NULL, &x->c->m, &eb), KP_OK);
	assert_int_equal(kp_ctrl__ms_new(x->c, &eb), KP_OK);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	kp_ctrl__ms_free(x->c);
	kp_metrics_free(x->c->reg);
	free(x->c);
	free(x);
	return 0;
}

static void ev(struct kp_ctrl *c, enum kp_ctrl__inf kind, const char *js, bool deleted)
{
	json_error_t je;
	json_t *o = json_loads(js, 0, &je);

	if (!o)
		fail_msg("bad test json: %s (%s)", je.text, js);
	kp_ctrl__ms_event(c, kind, o, deleted);
	json_decref(o);
}

/* Value of a series; -1 if it does not exist. */
static double val(struct kp_metric *m, const char *const *v, size_t n)
{
	double d = 0;
	if (kp_metrics_value(m, v, n, &d, NULL))
		return -1;
	return d;
}

#define NODE_A                                                                                                   \
	"{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":\"2024-01-01T00:00:00Z\",\"labels\":{"             \
	"\"karpenter.sh/nodepool\":\"default\",\"topology.kubernetes.io/zone\":\"us-west-2a\","                  \
	"\"topology.kubernetes.io/region\":\"us-west-2\",\"node.kubernetes.io/instance-type\":\"m5.large\","      \
	"\"kubernetes.io/arch\":\"amd64\",\"kubernetes.io/os\":\"linux\",\"karpenter.sh/capacity-type\":\"spot\"}}," \
	"\"spec\":{\"providerID\":\"aws:///us-west-2a/i-1\"},"                                                    \
	"\"status\":{\"capacity\":{\"cpu\":\"2\",\"memory\":\"8Gi\",\"pods\":\"29\"},"                            \
	"\"allocatable\":{\"cpu\":\"1930m\",\"memory\":\"7Gi\",\"pods\":\"29\"}}}"

/* node gauge labels for n1: nodepool zone region instance_type arch os capacity_type windows_build node_name phase managed */
#define N1_LV "default", "us-west-2a", "us-west-2", "m5.large", "amd64", "linux", "spot", "", "n1", "", "true"

static const char *pod_json(char *buf, size_t n, const char *name, const char *node, const char *phase, bool ready,
			    const char *cpu, const char *owner_kind)
{
	char nodef[128] = "", conds[512] = "", owner[256] = "";

	if (node)
		snprintf(nodef, sizeof(nodef), ",\"nodeName\":\"%s\"", node);
	if (ready)
		snprintf(conds, sizeof(conds),
			 ",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":"
			 "\"2024-01-01T00:00:02Z\"},{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":"
			 "\"2024-01-01T00:00:07Z\"}]");
	if (owner_kind)
		snprintf(owner, sizeof(owner),
			 ",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"%s\",\"name\":\"web\",\"controller\":true}]",
			 owner_kind);
	snprintf(buf, n,
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"creationTimestamp\":\"2024-01-01T00:00:00Z\"%s},"
		 "\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"%s\",\"memory\":\"1Gi\"},"
		 "\"limits\":{\"memory\":\"2Gi\"}}}]%s},\"status\":{\"phase\":\"%s\"%s}}",
		 name, owner, cpu, nodef, phase, conds);
	return buf;
}

static void test_pods_state_follows_pod(void **state)
{
	struct fx *x = *state;
	struct kp_ctrl *c = x->c;
	char b[2048];

	ev(c, KPC_PODS, pod_json(b, sizeof(b), "p1", NULL, "Pending", false, "500m", "ReplicaSet"), false);
	assert_int_equal(kp_metrics_series_count(c->m.pods_state), 1);
	assert_true(val(c->m.pods_state,
			KP_LV("p1", "default", "/apis/apps/v1/namespaces/default/replicasets/web", "", "false", "", "", "",
			      "", "", "Pending", "false", "false")) == 1);
	/* bound to a known node, running: the old series goes, the new one has the node's labels */
	ev(c, KPC_NODES, NODE_A, false);
	ev(c, KPC_PODS, pod_json(b, sizeof(b), "p1", "n1", "Running", true, "500m", "ReplicaSet"), false);
	assert_int_equal(kp_metrics_series_count(c->m.pods_state), 1);
	assert_true(val(c->m.pods_state,
			KP_LV("p1", "default", "/apis/apps/v1/namespaces/default/replicasets/web", "n1", "true", "default",
			      "us-west-2a", "amd64", "spot", "m5.large", "Running", "true", "true")) == 1);
	/* startup: created 00:00:00, Ready 00:00:07, seen Pending before */
	{
		double sum = 0;
		uint64_t cnt = 0;
		assert_int_equal(kp_metrics_value(c->m.pods_startup_duration_seconds, NULL, 0, &sum, &cnt), KP_OK);
		assert_int_equal(cnt, 1);
		assert_true(sum == 7.0);
		assert_int_equal(kp_metrics_value(c->m.pods_bound_duration_seconds, NULL, 0, &sum, &cnt), KP_OK);
		assert_int_equal(cnt, 1);
		assert_true(sum == 2.0);
	}
	/* a second Running update observes nothing more */
	ev(c, KPC_PODS, pod_json(b, sizeof(b), "p1", "n1", "Running", true, "500m", "ReplicaSet"), false);
	{
		uint64_t cnt = 0;
		assert_int_equal(kp_metrics_value(c->m.pods_startup_duration_seconds, NULL, 0, NULL, &cnt), KP_OK);
		assert_int_equal(cnt, 1);
	}
	ev(c, KPC_PODS, pod_json(b, sizeof(b), "p1", "n1", "Running", true, "500m", "ReplicaSet"), true);
	assert_int_equal(kp_metrics_series_count(c->m.pods_state), 0);
	assert_int_equal(kp_ctrl__ms_count(c, 0), 0);
}

static void test_node_gauges_incremental(void **state)
{
	struct fx *x = *state;
	struct kp_ctrl *c = x->c;
	char b[2048];

	ev(c, KPC_NODES, NODE_A, false);
	ev(c, KPC_PODS, pod_json(b, sizeof(b), "p1", "n1", "Running", true, "500m", "ReplicaSet"), false);
	ev(c, KPC_PODS, pod_json(b, sizeof(b), "d1", "n1", "Running", true, "100m", "DaemonSet"), false);
	kp_ctrl__ms_tick(c);
	assert_true(val(c->m.nodes_allocatable, KP_LV(N1_LV, "cpu")) == 1.93);
	assert_true(val(c->m.nodes_allocatable, KP_LV(N1_LV, "memory")) == 7.0 * 1024 * 1024 * 1024);
	assert_true(val(c->m.nodes_allocatable, KP_LV(N1_LV, "pods")) == 29);
	assert_true(val(c->m.nodes_system_overhead, KP_LV(N1_LV, "cpu")) == 0.07);
	assert_true(val(c->m.nodes_system_overhead, KP_LV(N1_LV, "memory")) == 1024.0 * 1024 * 1024);
	assert_true(val(c->m.nodes_system_overhead, KP_LV(N1_LV, "pods")) == -1);   /* zero: not written */
	assert_true(val(c->m.nodes_total_pod_requests, KP_LV(N1_LV, "cpu")) == 0.6);
	assert_true(val(c->m.nodes_total_pod_requests, KP_LV(N1_LV, "memory")) == 2.0 * 1024 * 1024 * 1024);
	assert_true(val(c->m.nodes_total_pod_limits, KP_LV(N1_LV, "memory")) == 4.0 * 1024 * 1024 * 1024);
	assert_true(val(c->m.nodes_total_pod_limits, KP_LV(N1_LV, "cpu")) == -1);
	assert_true(val(c->m.nodes_total_daemon_requests, KP_LV(N1_LV, "cpu")) == 0.1);
	assert_true(val(c->m.nodes_current_lifetime_seconds, KP_LV(N1_LV)) > 1e7);
	assert_true(val(c->m.cluster_utilization_percent, KP_LV("cpu")) > 31.08 &&
		    val(c->m.cluster_utilization_percent, KP_LV("cpu")) < 31.09);
	assert_true(val(c->m.cluster_state_node_count, NULL, 0) == 1);

	/* the DaemonSet pod finishes: it leaves the sums; its series go at the next tick */
	ev(c, KPC_PODS, pod_json(b, sizeof(b), "d1", "n1", "Succeeded", false, "100m", "DaemonSet"), false);
	kp_ctrl__ms_tick(c);
	assert_true(val(c->m.nodes_total_pod_requests, KP_LV(N1_LV, "cpu")) == 0.5);
	assert_true(val(c->m.nodes_total_daemon_requests, KP_LV(N1_LV, "cpu")) == -1);
	assert_true(val(c->m.nodes_total_daemon_requests, KP_LV(N1_LV, "memory")) == -1);

	/* the Node goes: every series it wrote goes; its pod keeps its pods_state series, unlabelled */
	ev(c, KPC_NODES, NODE_A, true);
	kp_ctrl__ms_tick(c);
	assert_int_equal(kp_metrics_series_count(c->m.nodes_allocatable), 0);
	assert_int_equal(kp_metrics_series_count(c->m.nodes_total_pod_requests), 0);
	assert_int_equal(kp_metrics_series_count(c->m.nodes_total_pod_limits), 0);
	assert_int_equal(kp_metrics_series_count(c->m.nodes_system_overhead), 0);
	assert_int_equal(kp_metrics_series_count(c->m.nodes_current_lifetime_seconds), 0);
	assert_int_equal(kp_metrics_series_count(c->m.cluster_utilization_percent), 0);
	assert_true(val(c->m.cluster_state_node_count, NULL, 0) == 0);
	assert_int_equal(kp_ctrl__ms_count(c, 3), 1);   /* p1 is now an orphan */
	assert_true(val(c->m.pods_state,
			KP_LV("p1", "default", "/apis/apps/v1/namespaces/default/replicasets/web", "n1", "true", "", "", "",
			      "", "", "Running", "true", "false")) == 1);
}

static void test_orphan_counted_when_node_arrives(void **state)
{
	struct fx *x = *state;
	struct kp_ctrl *c = x->c;
	char b[2048];

	ev(c, KPC_PODS, pod_json(b, sizeof(b), "p1", "n1", "Running", true, "250m", NULL), false);
	assert_int_equal(kp_ctrl__ms_count(c, 3), 1);
	ev(c, KPC_NODES, NODE_A, false);
	assert_int_equal(kp_ctrl__ms_count(c, 3), 0);
	kp_ctrl__ms_tick(c);
	assert_true(val(c->m.nodes_total_pod_requests, KP_LV(N1_LV, "cpu")) == 0.25);
	assert_true(val(c->m.pods_state, KP_LV("p1", "default", "", "n1", "true", "default", "us-west-2a", "amd64", "spot",
					       "m5.large", "Running", "true", "true")) == 1);
	/* rebinding the same name elsewhere moves it */
	ev(c, KPC_PODS, pod_json(b, sizeof(b), "p1", "n2", "Running", true, "250m", NULL), false);
	kp_ctrl__ms_tick(c);
	assert_true(val(c->m.nodes_total_pod_requests, KP_LV(N1_LV, "cpu")) == -1);
	assert_int_equal(kp_ctrl__ms_count(c, 3), 1);
}

static void test_state_node_count(void **state)
{
	struct fx *x = *state;
	struct kp_ctrl *c = x->c;

	/* a launched claim and its Node are one state node; an unlaunched claim is none */
	ev(c, KPC_NODECLAIMS, "{\"metadata\":{\"name\":\"c0\"},\"status\":{}}", false);
	ev(c, KPC_NODECLAIMS, "{\"metadata\":{\"name\":\"c1\"},\"status\":{\"providerID\":\"aws:///us-west-2a/i-1\"}}", false);
	ev(c, KPC_NODECLAIMS, "{\"metadata\":{\"name\":\"c2\"},\"status\":{\"providerID\":\"aws:///us-west-2a/i-2\"}}", false);
	ev(c, KPC_NODES, NODE_A, false);
	ev(c, KPC_NODES, "{\"metadata\":{\"name\":\"plain\"},\"status\":{}}", false);
	kp_ctrl__ms_tick(c);
	assert_true(val(c->m.cluster_state_node_count, NULL, 0) == 3);
	ev(c, KPC_NODECLAIMS, "{\"metadata\":{\"name\":\"c1\"}}", true);
	kp_ctrl__ms_tick(c);
	assert_true(val(c->m.cluster_state_node_count, NULL, 0) == 3);   /* the Node still is */
	ev(c, KPC_NODES, NODE_A, true);
	ev(c, KPC_NODECLAIMS, "{\"metadata\":{\"name\":\"c2\"}}", true);
	kp_ctrl__ms_tick(c);
	assert_true(val(c->m.cluster_state_node_count, NULL, 0) == 1);
	assert_int_equal(kp_ctrl__ms_count(c, 2), 1);
}

static void test_node_relabel_moves_series(void **state)
{
	struct fx *x = *state;
	struct kp_ctrl *c = x->c;
	char b[2048];
	json_t *n = json_loads(NODE_A, 0, NULL);

	assert_non_null(n);
	ev(c, KPC_NODES, NODE_A, false);
	ev(c, KPC_PODS, pod_json(b, sizeof(b), "p1", "n1", "Running", true, "250m", NULL), false);
	kp_ctrl__ms_tick(c);
	json_object_set_new(kp_ctrl__jget(n, "metadata.labels"), "karpenter.sh/capacity-type", json_string("on-demand"));
	kp_ctrl__ms_event(c, KPC_NODES, n, false);
	kp_ctrl__ms_tick(c);
	assert_true(val(c->m.nodes_allocatable, KP_LV(N1_LV, "cpu")) == -1);
	assert_true(val(c->m.nodes_allocatable, KP_LV("default", "us-west-2a", "us-west-2", "m5.large", "amd64", "linux",
						      "on-demand", "", "n1", "", "true", "cpu")) == 1.93);
	assert_true(val(c->m.pods_state, KP_LV("p1", "default", "", "n1", "true", "default", "us-west-2a", "amd64",
					       "on-demand", "m5.large", "Running", "true", "true")) == 1);
	assert_int_equal(kp_metrics_series_count(c->m.pods_state), 1);
	json_decref(n);
}

static const char *caller_name(void *ud, const char *method)
{
	(void)method;
	return ud;
}

static void test_cloud_decorator(void **state)
{
	struct kp_catalog cat;
	struct kp_cloud *fake = NULL, *dec = NULL;
	struct kp_metrics *reg = kp_metrics_new();
	struct kp_karpenter_metrics km;
	struct kp_errbuf eb = { 0 };
	struct kp_arena a;
	struct kp_instance *all = NULL;
	const struct kp_catalog *got = NULL;
	uint64_t cnt = 0;
	double v = 0;
	int n = 0;

	(void)state;
	assert_non_null(reg);
	assert_int_equal(kp_metrics_register_karpenter(reg, NULL, &km, &eb), KP_OK);
	kp_catalog_init(&cat);
	assert_int_equal(kp_cloud_fake_new(&cat, NULL, &fake, &eb), KP_OK);
	assert_int_equal(kp_ctrl__cloud_metrics_new(fake, km.cloudprovider_duration_seconds, km.cloudprovider_errors_total,
					       caller_name, "node.termination", NULL, &dec, &eb),
			 KP_OK);
	assert_string_equal(dec->ops->name, fake->ops->name);
	assert_ptr_equal(kp_ctrl__cloud_metrics_inner(dec), fake);
	assert_ptr_equal(kp_ctrl__cloud_metrics_inner(fake), fake);
	assert_false(kp_cloud_is_fake(dec));
	assert_true(kp_cloud_is_fake(kp_ctrl__cloud_metrics_inner(dec)));

	assert_int_equal(kp_cloud_delete(dec, "aws:///us-west-2a/i-00000000000000000", &eb), KP_CLOUD_NOT_FOUND);
	kp_arena_init(&a);
	assert_int_equal(kp_cloud_list(dec, &a, &all, &n, &eb), KP_CLOUD_OK);
	kp_arena_free(&a);
	assert_int_equal(kp_cloud_instance_types(dec, NULL, &got, &eb), KP_CLOUD_OK);

	assert_int_equal(kp_metrics_value(km.cloudprovider_duration_seconds, KP_LV("node.termination", "Delete", fake->ops->name),
					  NULL, &cnt),
			 KP_OK);
	assert_int_equal(cnt, 1);
	assert_int_equal(kp_metrics_value(km.cloudprovider_errors_total,
					  KP_LV("node.termination", "Delete", fake->ops->name, "NodeClaimNotFoundError"), &v, NULL),
			 KP_OK);
	assert_true(v == 1);
	assert_int_equal(kp_metrics_value(km.cloudprovider_duration_seconds, KP_LV("node.termination", "List", fake->ops->name),
					  NULL, &cnt),
			 KP_OK);
	assert_int_equal(cnt, 1);
	assert_int_equal(kp_metrics_value(km.cloudprovider_duration_seconds,
					  KP_LV("node.termination", "GetInstanceTypes", fake->ops->name), NULL, &cnt),
			 KP_OK);
	assert_int_equal(cnt, 1);
	assert_int_equal(kp_metrics_series_count(km.cloudprovider_errors_total), 1);
	assert_string_equal(kp_ctrl__cloud_error_label(KP_CLOUD_INSUFFICIENT_CAPACITY), "InsufficientCapacityError");
	assert_string_equal(kp_ctrl__cloud_error_label(KP_CLOUD_NODECLASS_NOT_READY), "NodeClassNotReadyError");
	assert_string_equal(kp_ctrl__cloud_error_label(KP_CLOUD_TRANSIENT), "");

	kp_cloud_destroy(dec);   /* the decorator only: the provider still answers */
	kp_arena_init(&a);
	assert_int_equal(kp_cloud_list(fake, &a, &all, &n, &eb), KP_CLOUD_OK);
	kp_arena_free(&a);
	kp_cloud_destroy(fake);
	kp_catalog_free(&cat);
	kp_metrics_free(reg);
}

static void test_caller_names(void **state)
{
	struct fx *x = *state;
	struct kp_ctrl *c = x->c;

	assert_string_equal(kp_ctrl__ms_caller(c, "Create"), "");
	assert_string_equal(kp_ctrl__ms_caller(c, "GetInstanceTypes"), "provisioner");
	assert_string_equal(kp_ctrl__ms_caller(c, "List"), "nodeclaim.garbagecollection");
	c->lifecycle.name = "nodeclaim.lifecycle";
	c->lifecycle.running = true;
	assert_string_equal(kp_ctrl__ms_caller(c, "Create"), "nodeclaim.lifecycle");
	c->cloud_caller = "disruption";
	assert_string_equal(kp_ctrl__ms_caller(c, "GetInstanceTypes"), "disruption");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pods_state_follows_pod, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_gauges_incremental, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphan_counted_when_node_arrives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_node_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_relabel_moves_series, setup, teardown),
		cmocka_unit_test(test_cloud_decorator),
		cmocka_unit_test_setup_teardown(test_caller_names, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
