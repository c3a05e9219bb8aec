/*
 * test_sched.c - the provisioning scheduler: instance selection, node
 * selection, taints, daemon overhead, limits, weights, existing nodes.
 * Cases mirror Karpenter's pkg/controllers/provisioning/scheduling
 * suite_test.go and instance_selection_test.go (named per test).
 */
#include "sched_fixture.h"

/* Three sizes, priced by size; zones a..c, on-demand and spot. */
static void small_catalog(struct fx *f)
{
	fx_type_std(f, "small", "2", "4Gi", 20, 0.10);
	fx_type_std(f, "medium", "4", "8Gi", 40, 0.20);
	fx_type_std(f, "large", "16", "32Gi", 110, 0.80);
	fx_catalog_done(f);
}

/* instance_selection_test.go "should schedule on one of the cheapest instances" */
static void test_cheapest_type(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	fx_pool(&f, "default", 0);
	fx_pod(&f, "p1", "1", "1Gi");
	fx_solve(&f);
	assert_int_equal(f.plan.nclaims, 1);
	assert_int_equal(f.plan.nunsched, 0);
	assert_string_equal(f.plan.claims[0].launch_type->name, "small");
	/* the pool has no capacity-type requirement: no default, so both are
	 * allowed and spot wins (reserved > spot > on-demand) */
	assert_int_equal(f.plan.claims[0].launch->captype, KP_CAP_SPOT);
	assert_string_equal(f.plan.claims[0].launch->zone, "test-zone-a");
	assert_string_equal(fx_claim_label(&f, 0, KP_LABEL_NODEPOOL), "default");
	assert_string_equal(fx_claim_label(&f, 0, KP_LABEL_INSTANCE_TYPE), "small");
	assert_string_equal(fx_claim_label(&f, 0, KP_LABEL_CAPACITY_TYPE), "spot");
	assert_int_equal(f.plan.claims[0].nitypes, 3);
	assert_string_equal(f.plan.claims[0].itypes[2]->name, "large");
	assert_true(f.plan.nnotes >= 1);
	assert_non_null(strstr(f.plan.notes[0], "small spot in test-zone-a at $0.0500/h (capacity type by reserved > spot"));
	fx_free(&f);
}

/* suite_test.go "should pack pods onto the cheapest node that fits" (bin packing) */
static void test_packing(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	fx_pool(&f, "default", 0);
	for (int i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		fx_pod(&f, name, "1", "1Gi");
	}
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	assert_int_equal(f.plan.nclaims, 1);
	assert_int_equal(f.plan.claims[0].npods, 6);
	assert_string_equal(f.plan.claims[0].launch_type->name, "large");
	fx_free(&f);
}

/* suite_test.go "should schedule pods that have node selectors" and spot */
static void test_node_selector(void **state)
{
	struct fx f;
	struct kp_nodepool *np;
	struct kp_pod *p, *q;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	np = fx_pool(&f, "default", 0);
	fx_pool_req(&f, np, fx_req(&f, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, "spot", "on-demand", NULL));
	p = fx_pod(&f, "zoned", "1", "1Gi");
	fx_pod_selector(&f, p, KP_LABEL_ZONE, "test-zone-b");
	q = fx_pod(&f, "custom", "1", "1Gi");
	fx_pod_selector(&f, q, "team", "a");
	fx_solve(&f);
	assert_int_equal(f.plan.nclaims, 1);
	assert_int_equal(fx_claim_of(&f, p), 0);
	assert_string_equal(f.plan.claims[0].launch->zone, "test-zone-b");
	assert_int_equal(f.plan.claims[0].launch->captype, KP_CAP_SPOT);
	assert_null(fx_reason(&f, p));
	/* suite_test.go "should not schedule pods with unknown labels" */
	assert_string_equal(fx_reason(&f, q),
			    "nodepool \"default\": incompatible requirements: label \"team\" does not have known values");
	fx_free(&f);
}

/* suite_test.go "should schedule the pod on a label the NodePool defines" */
static void test_pool_labels(void **state)
{
	struct fx f;
	struct kp_nodepool *np;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	np = fx_pool(&f, "default", 0);
	fx_pool_label(&f, np, "team", "a");
	fx_pool_req(&f, np, fx_req(&f, "tier", KP_OP_IN, "gold", "silver", NULL));
	p = fx_pod(&f, "p", "1", "1Gi");
	fx_pod_selector(&f, p, "team", "a");
	fx_solve(&f);
	assert_int_equal(fx_claim_of(&f, p), 0);
	assert_string_equal(fx_claim_label(&f, 0, "team"), "a");
	/* a multi-value custom requirement: the first sorted value */
	assert_string_equal(fx_claim_label(&f, 0, "tier"), "gold");
	assert_null(kp_reqs_get(&f.plan.claims[0].reqs, KP_LABEL_HOSTNAME));
	assert_null(kp_reqs_get(&f.plan.claims[0].reqs, KP_LABEL_REGISTERED));
	fx_free(&f);
}

/* suite_test.go "Taints: should not schedule pods that don't tolerate taints"
 * and "should schedule pods that tolerate taints" */
static void test_taints(void **state)
{
	struct fx f;
	struct kp_nodepool *np;
	struct kp_pod *p, *q;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	np = fx_pool(&f, "gpu", 0);
	fx_taint_add(&f, &np->taints, "nvidia.com/gpu", NULL, KP_EFFECT_NOSCHEDULE);
	p = fx_pod(&f, "plain", "1", "1Gi");
	q = fx_pod(&f, "tolerant", "1", "1Gi");
	fx_pod_tol(&f, q, "nvidia.com/gpu", KP_TOL_EXISTS, NULL, KP_EFFECT_ANY);
	fx_solve(&f);
	assert_int_equal(f.plan.nclaims, 1);
	assert_int_equal(fx_claim_of(&f, q), 0);
	assert_int_equal(fx_claim_of(&f, p), -1);
	assert_non_null(fx_reason(&f, p));
	assert_non_null(strstr(fx_reason(&f, p), "nodepool \"gpu\": did not tolerate"));
	assert_non_null(strstr(fx_reason(&f, p), "nvidia.com/gpu"));
	assert_int_equal(f.plan.claims[0].taints.n, 1);
	fx_free(&f);
}

/* suite_test.go "should schedule pods that don't tolerate startup taints" */
static void test_startup_taints(void **state)
{
	struct fx f;
	struct kp_nodepool *np;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	np = fx_pool(&f, "default", 0);
	fx_taint_add(&f, &np->startup_taints, "example.com/initializing", NULL, KP_EFFECT_NOSCHEDULE);
	p = fx_pod(&f, "p", "1", "1Gi");
	fx_solve(&f);
	assert_int_equal(fx_claim_of(&f, p), 0);
	assert_int_equal(f.plan.claims[0].startup_taints.n, 1);
	fx_free(&f);
}

/* suite_test.go "Daemonsets: should account for overhead" */
static void test_daemon_overhead(void **state)
{
	struct fx f;
	struct kp_pod *p;
	char cpu[32];

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	fx_pool(&f, "default", 0);
	fx_daemonset(&f, "logger", "1", "1Gi");
	/* 1.5 cpu fits "small" (2 cpu) alone, not with a 1 cpu daemon */
	p = fx_pod(&f, "p", "1500m", "1Gi");
	fx_solve(&f);
	assert_int_equal(fx_claim_of(&f, p), 0);
	assert_string_equal(f.plan.claims[0].launch_type->name, "medium");
	/* requests: the pod + the daemon (+ a pod each) */
	assert_int_equal(f.plan.claims[0].requests.v[KP_RES_CPU], 2500);
	assert_int_equal(f.plan.claims[0].requests.v[KP_RES_PODS], 2);
	kp_qty_format(f.plan.claims[0].requests.v[KP_RES_CPU], 3, KP_QTY_DECIMAL, cpu, sizeof(cpu));
	assert_string_equal(cpu, "2500m");
	fx_free(&f);
}

/* suite_test.go "should not schedule if limits would be exceeded (cpu)" */
static void test_limits_cpu(void **state)
{
	struct fx f;
	struct kp_nodepool *np;
	struct kp_pod *p, *q;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	np = fx_pool(&f, "default", 0);
	fx_pool_limit(&f, np, KP_RES_CPU, "4");
	/* each pod needs its own node: hostname anti-affinity */
	p = fx_pod(&f, "a", "1", "1Gi");
	q = fx_pod(&f, "b", "1", "1Gi");
	fx_pod_label(&f, p, "app", "x");
	fx_pod_label(&f, q, "app", "x");
	fx_pod_aff(&f, p, FX_ANTI, 0, KP_LABEL_HOSTNAME, fx_sel(&f, "app", "x"));
	fx_pod_aff(&f, q, FX_ANTI, 0, KP_LABEL_HOSTNAME, fx_sel(&f, "app", "x"));
	fx_solve(&f);
	/* the first claim may become "small" or "medium": charged 4 cpu (its
	 * largest option), the second finds no type within the limit */
	assert_int_equal(f.plan.nclaims, 1);
	assert_int_equal(f.plan.nunsched, 1);
	assert_non_null(strstr(f.plan.unsched[0].reason, "nodepool \"default\": exceeds limits: cpu 4 used of 4"));
	fx_free(&f);
}

/* provisioning suite_test.go "should not schedule if limits would be exceeded (node)" */
static void test_limits_nodes(void **state)
{
	struct fx f;
	struct kp_nodepool *np;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	np = fx_pool(&f, "default", 0);
	np->has_node_limit = true;
	np->node_limit = 2;
	for (int i = 0; i < 3; i++) {
		char name[16];
		struct kp_pod *p;
		snprintf(name, sizeof(name), "p%d", i);
		p = fx_pod(&f, name, "1500m", "1Gi");
		fx_pod_label(&f, p, "app", "foo");
		fx_pod_aff(&f, p, FX_ANTI, 0, KP_LABEL_HOSTNAME, fx_sel(&f, "app", "foo"));
	}
	fx_solve(&f);
	assert_int_equal(f.plan.nclaims, 2);
	assert_int_equal(f.plan.nunsched, 1);
	assert_string_equal(f.plan.unsched[0].reason, "nodepool \"default\": exceeds limits: nodes 2 used of 2");
	fx_free(&f);
}

/* suite_test.go "Weighted NodePools: should schedule to the nodepool with the
 * highest priority always"; ties by name descending (OrderByWeight) */
static void test_weights(void **state)
{
	struct fx f;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	fx_pool(&f, "alpha", 0);
	fx_pool(&f, "zulu", 0);
	fx_pool(&f, "heavy", 10);
	p = fx_pod(&f, "p", "1", "1Gi");
	fx_solve(&f);
	assert_int_equal(fx_claim_of(&f, p), 0);
	assert_string_equal(f.plan.claims[0].pool->name, "heavy");
	fx_free(&f);

	fx_init(&f);
	small_catalog(&f);
	fx_pool(&f, "alpha", 0);
	fx_pool(&f, "zulu", 0);
	p = fx_pod(&f, "p", "1", "1Gi");
	fx_solve(&f);
	assert_string_equal(f.plan.claims[0].pool->name, "zulu");
	fx_free(&f);
}

/* suite_test.go "Existing Nodes: should schedule a pod to an existing node" */
static void test_existing_first(void **state)
{
	struct fx f;
	struct kp_node *n;
	struct kp_pod *p, *q;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	fx_pool(&f, "default", 0);
	n = fx_node(&f, "node-1", "4", "8Gi", 110);
	fx_node_label(&f, n, KP_LABEL_ZONE, "test-zone-a");
	fx_bound(&f, "running", n, "2", "1Gi");
	p = fx_pod(&f, "fits", "1500m", "1Gi");
	q = fx_pod(&f, "too-big", "1", "1Gi");
	fx_solve(&f);
	assert_string_equal(fx_node_of(&f, p), "node-1");
	/* 4 - 2 - 1.5 leaves 0.5: the second goes to a new claim */
	assert_int_equal(fx_claim_of(&f, q), 0);
	assert_int_equal(f.plan.nexisting, 1);
	fx_free(&f);
}

/* an in-flight NodeClaim counts as capacity */
static void test_inflight_nodeclaim(void **state)
{
	struct fx f;
	struct kp_nodeclaim *nc;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	fx_pool(&f, "default", 0);
	nc = kp_arena_alloc(fx_a(&f), sizeof(*nc));
	nc->name = "default-abcde";
	nc->nodepool = "default";
	kp_labels_set(&nc->labels, fx_a(&f), KP_LABEL_NODEPOOL, "default");
	kp_reqs_add(&nc->reqs, fx_a(&f), &(struct kp_req){ 0 });
	kp_reqs_init(&nc->reqs);
	{
		struct kp_req r = fx_req(&f, KP_LABEL_INSTANCE_TYPE, KP_OP_IN, "medium", NULL, NULL);
		kp_reqs_add(&nc->reqs, fx_a(&f), &r);
	}
	nc->launched = true;
	assert_int_equal(kp_cluster_add_claim(&f.cl, nc), KP_OK);
	p = fx_pod(&f, "p", "3", "1Gi");
	fx_solve(&f);
	assert_int_equal(f.plan.nclaims, 0);
	assert_string_equal(fx_node_of(&f, p), "default-abcde");
	fx_free(&f);
}

/* a managed node that is not initialized yet: its ephemeral taints and its
 * NodeClaim's startup taints do not keep pods away (statenode.go Taints);
 * initialized nodes are tried first, then by name */
static struct kp_node *managed_node(struct fx *f, const char *name, bool initialized)
{
	struct kp_node *n = fx_node(f, name, "4", "8Gi", 20);
	struct kp_nodeclaim *nc = kp_arena_alloc(fx_a(f), sizeof(*nc));
	char pid[64];

	snprintf(pid, sizeof(pid), "fake://%s", name);
	n->provider_id = kp_arena_strdup(fx_a(f), pid);
	fx_node_label(f, n, KP_LABEL_NODEPOOL, "default");
	fx_node_label(f, n, KP_LABEL_REGISTERED, "true");
	if (initialized)
		fx_node_label(f, n, KP_LABEL_INITIALIZED, "true");
	nc->name = n->name;
	nc->nodepool = "default";
	nc->provider_id = n->provider_id;
	nc->launched = nc->registered = true;
	nc->initialized = initialized;
	fx_taint_add(f, &nc->startup_taints, "example.com/agent-not-ready", NULL, KP_EFFECT_NOSCHEDULE);
	fx_taint_add(f, &n->taints, "example.com/agent-not-ready", NULL, KP_EFFECT_NOSCHEDULE);
	fx_taint_add(f, &n->taints, "node.kubernetes.io/not-ready", NULL, KP_EFFECT_NOSCHEDULE);
	assert_int_equal(kp_cluster_add_claim(&f->cl, nc), KP_OK);
	return n;
}

/* suite_test.go "should assume pods will schedule to a tainted node with
 * no taints" (uninitialized node) and ordering of existing nodes */
static void test_uninitialized_node(void **state)
{
	struct fx f;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	fx_pool(&f, "default", 0);
	managed_node(&f, "node-a", false);
	p = fx_pod(&f, "p", "1", "1Gi");
	fx_solve(&f);
	assert_string_equal(fx_node_of(&f, p), "node-a");
	fx_free(&f);

	/* once initialized, the (startup) taint counts again */
	fx_init(&f);
	small_catalog(&f);
	fx_pool(&f, "default", 0);
	managed_node(&f, "node-a", true);
	p = fx_pod(&f, "p", "1", "1Gi");
	fx_solve(&f);
	assert_null(fx_node_of(&f, p));
	assert_int_equal(fx_claim_of(&f, p), 0);
	fx_free(&f);
}

static void test_existing_order(void **state)
{
	struct fx f;
	struct kp_node *b;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	fx_pool(&f, "default", 0);
	managed_node(&f, "node-a", false);
	b = managed_node(&f, "node-b", true);
	b->taints.n = 0;
	p = fx_pod(&f, "p", "1", "1Gi");
	fx_solve(&f);
	/* node-a sorts first by name, but initialized node-b is tried first */
	assert_string_equal(fx_node_of(&f, p), "node-b");
	fx_free(&f);
}

/* suite_test.go "should not schedule to a node that is being deleted" and
 * daemonsets not yet running on an existing node reserve their room */
static void test_existing_deleting_and_daemons(void **state)
{
	struct fx f;
	struct kp_node *n, *d;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	fx_pool(&f, "default", 0);
	d = fx_node(&f, "going", "16", "32Gi", 100);
	d->deleting = 1;
	n = fx_node(&f, "node-a", "4", "8Gi", 100);
	fx_daemonset(&f, "agent", "1", "128Mi");
	/* 4 cpu - 1 (daemon not yet running) leaves 3 */
	p = fx_pod(&f, "p", "3500m", "1Gi");
	fx_solve(&f);
	assert_null(fx_node_of(&f, p));
	assert_int_equal(fx_claim_of(&f, p), 0);
	fx_free(&f);

	fx_init(&f);
	small_catalog(&f);
	fx_pool(&f, "default", 0);
	n = fx_node(&f, "node-a", "4", "8Gi", 100);
	fx_daemonset(&f, "agent", "1", "128Mi");
	/* the daemon already runs there: not counted twice */
	{
		struct kp_pod *dp = fx_bound(&f, "agent-x", n, "1", "128Mi");
		dp->is_daemon = true;
		dp->owner_kind = "DaemonSet";
		dp->owner_name = "agent";
		dp->ns = "kube-system";
	}
	p = fx_pod(&f, "p", "3", "1Gi");
	fx_solve(&f);
	assert_string_equal(fx_node_of(&f, p), "node-a");
	fx_free(&f);
}

/* a daemonset that does not tolerate the pool's taint adds no overhead */
static void test_daemon_not_tolerating(void **state)
{
	struct fx f;
	struct kp_nodepool *np;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	np = fx_pool(&f, "default", 0);
	fx_taint_add(&f, &np->taints, "dedicated", "x", KP_EFFECT_NOSCHEDULE);
	fx_daemonset(&f, "logger", "1", "1Gi");
	p = fx_pod(&f, "p", "1500m", "1Gi");
	fx_pod_tol(&f, p, "dedicated", KP_TOL_EQUAL, "x", KP_EFFECT_NOSCHEDULE);
	fx_solve(&f);
	assert_int_equal(fx_claim_of(&f, p), 0);
	assert_string_equal(f.plan.claims[0].launch_type->name, "small");
	fx_free(&f);
}

/* queue.go: bigger pods first (cpu, then memory), ties by creation time */
static void test_queue_order(void **state)
{
	struct fx f;
	struct kp_pod *small, *big;

	(void)state;
	fx_init(&f);
	small_catalog(&f);
	fx_pool(&f, "default", 0);
	small = fx_pod(&f, "small", "500m", "1Gi");
	big = fx_pod(&f, "big", "3", "1Gi");
	fx_solve(&f);
	assert_int_equal(f.plan.nclaims, 1);
	assert_ptr_equal(f.plan.claims[0].pods[0], big);
	assert_ptr_equal(f.plan.claims[0].pods[1], small);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cheapest_type),
		cmocka_unit_test(test_packing),
		cmocka_unit_test(test_node_selector),
		cmocka_unit_test(test_pool_labels),
		cmocka_unit_test(test_taints),
		cmocka_unit_test(test_startup_taints),
		cmocka_unit_test(test_daemon_overhead),
		cmocka_unit_test(test_limits_cpu),
		cmocka_unit_test(test_limits_nodes),
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_existing_first),
		cmocka_unit_test(test_inflight_nodeclaim),
		cmocka_unit_test(test_uninitialized_node),
		cmocka_unit_test(test_existing_order),
		cmocka_unit_test(test_existing_deleting_and_daemons),
		cmocka_unit_test(test_daemon_not_tolerating),
		cmocka_unit_test(test_queue_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
