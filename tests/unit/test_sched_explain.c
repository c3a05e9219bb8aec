/*
 * test_sched_explain.c - unschedulable reasons, notes, determinism, hidden
 * offerings, and the finer points of spread (minDomains, node taints
 * policy, matchLabelKeys) and affinity (namespaceSelector, preferred
 * anti-affinity). Cases mirror Karpenter's scheduling suite_test.go and
 * topology_test.go where one exists (named per test).
 */
#include "sched_fixture.h"

static void std_catalog(struct fx *f)
{
	fx_type_std(f, "small", "2", "4Gi", 20, 0.10);
	fx_type_std(f, "large", "16", "32Gi", 110, 0.80);
	fx_catalog_done(f);
}

/* suite_test.go "should fail to schedule pods that are too large" (reason text) */
static void test_reason_resources(void **state)
{
	struct fx f;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	std_catalog(&f);
	fx_pool(&f, "default", 0);
	p = fx_pod(&f, "huge", "300", "16Gi");
	fx_solve(&f);
	assert_string_equal(fx_reason(&f, p), "nodepool \"default\": no instance type has enough resources "
					      "(cpu 300, memory 16Gi) and satisfies requirements");
	fx_free(&f);
}

/* several pools fail: their reasons joined with "; ", in weight order */
static void test_reason_joined(void **state)
{
	struct fx f;
	struct kp_nodepool *gpu, *dflt;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	std_catalog(&f);
	gpu = fx_pool(&f, "gpu", 10);
	fx_taint_add(&f, &gpu->taints, "nvidia.com/gpu", NULL, KP_EFFECT_NOSCHEDULE);
	dflt = fx_pool(&f, "default", 0);
	fx_pool_req(&f, dflt, fx_req(&f, KP_LABEL_ZONE, KP_OP_IN, "test-zone-a", NULL, NULL));
	p = fx_pod(&f, "p", "100m", "128Mi");
	fx_pod_selector(&f, p, KP_LABEL_ZONE, "test-zone-b");
	fx_solve(&f);
	assert_non_null(fx_reason(&f, p));
	assert_non_null(strstr(fx_reason(&f, p), "nodepool \"gpu\": did not tolerate"));
	assert_non_null(strstr(fx_reason(&f, p), "; nodepool \"default\": incompatible requirements: "));
	assert_true(strstr(fx_reason(&f, p), "gpu") < strstr(fx_reason(&f, p), "default"));
	fx_free(&f);
}

/* a pool whose requirements match no type is skipped, with a note */
static void test_pool_skipped_note(void **state)
{
	struct fx f;
	struct kp_nodepool *np;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	std_catalog(&f);
	np = fx_pool(&f, "arm", 0);
	fx_pool_req(&f, np, fx_req(&f, KP_LABEL_ARCH, KP_OP_IN, "arm64", NULL, NULL));
	p = fx_pod(&f, "p", "100m", "128Mi");
	fx_solve(&f);
	assert_int_equal(f.plan.nnotes, 1);
	assert_string_equal(f.plan.notes[0],
			    "nodepool \"arm\" skipped: none of the 2 instance types satisfies its requirements");
	assert_string_equal(fx_reason(&f, p), "no nodepool has instance types compatible with its requirements");
	fx_free(&f);
}

static bool hide_zone_a(void *ctx, const struct kp_itype *it, const struct kp_offering *o)
{
	(void)ctx;
	(void)it;
	return strcmp(o->zone, "test-zone-a") == 0;
}

/* offerings hidden by the caller (e.g. insufficient capacity) are never chosen */
static void test_hidden_offerings(void **state)
{
	struct fx f;
	struct kp_sched_input in;

	(void)state;
	fx_init(&f);
	std_catalog(&f);
	fx_pool(&f, "default", 0);
	fx_pod(&f, "p", "100m", "128Mi");
	memset(&in, 0, sizeof(in));
	in.cluster = &f.cl;
	in.catalog = &f.cat;
	in.offering_hidden = hide_zone_a;
	assert_int_equal(kp_sched_solve(&in, &f.opts, &f.plan, &f.eb), KP_OK);
	assert_int_equal(f.plan.nclaims, 1);
	assert_string_equal(f.plan.claims[0].launch->zone, "test-zone-b");
	fx_free(&f);
}

/* same input, same plan: claims, types and notes */
static void test_deterministic(void **state)
{
	struct fx f;
	char first[4096], second[4096];

	(void)state;
	fx_init(&f);
	std_catalog(&f);
	fx_pool(&f, "default", 0);
	for (int i = 0; i < 40; i++) {
		char name[16];
		struct kp_pod *p;
		snprintf(name, sizeof(name), "w-%02d", i);
		p = fx_pod(&f, name, i % 3 ? "700m" : "1500m", "256Mi");
		fx_pod_label(&f, p, "app", i % 2 ? "a" : "b");
		fx_pod_tsc(&f, p, KP_LABEL_ZONE, 1, KP_DO_NOT_SCHEDULE, fx_sel(&f, "app", i % 2 ? "a" : "b"));
	}
	for (int round = 0; round < 2; round++) {
		char *out = round ? second : first;
		size_t len = 0;

		fx_solve(&f);
		for (int i = 0; i < f.plan.nclaims; i++) {
			const struct kp_plan_claim *c = &f.plan.claims[i];
			len += (size_t)snprintf(out + len, 4096 - len, "%s/%s/%d:", c->launch_type->name, c->launch->zone,
						c->npods);
			for (int j = 0; j < c->npods && len < 4000; j++)
				len += (size_t)snprintf(out + len, 4096 - len, "%s,", c->pods[j]->name);
		}
	}
	assert_string_equal(first, second);
	fx_free(&f);
}

/* topology_test.go "should respect minDomains": with minDomains above the
 * domains in use, the global minimum counts as zero */
static void test_min_domains(void **state)
{
	struct fx f;
	struct kp_nodepool *np;
	int zone_a = 0;

	(void)state;
	fx_init(&f);
	std_catalog(&f);
	np = fx_pool(&f, "default", 0);
	fx_pool_req(&f, np, fx_req(&f, KP_LABEL_ZONE, KP_OP_IN, "test-zone-a", NULL, NULL));
	for (int i = 0; i < 3; i++) {
		char name[16];
		struct kp_pod *p;
		struct kp_tsc *t;
		snprintf(name, sizeof(name), "w-%d", i);
		p = fx_pod(&f, name, "100m", "128Mi");
		fx_pod_label(&f, p, "app", "w");
		t = fx_pod_tsc(&f, p, KP_LABEL_ZONE, 1, KP_DO_NOT_SCHEDULE, fx_sel(&f, "app", "w"));
		t->min_domains = 3;
	}
	fx_solve(&f);
	/* one zone only, min treated as 0: a zone holds at most maxSkew = 1 */
	for (int i = 0; i < f.plan.nclaims; i++)
		zone_a += f.plan.claims[i].npods;
	assert_int_equal(zone_a, 1);
	assert_int_equal(f.plan.nunsched, 2);
	assert_string_equal(f.plan.unsched[0].reason,
			    "nodepool \"default\": topology spread constraint on topology.kubernetes.io/zone cannot be satisfied");
	fx_free(&f);
}

/* topology_test.go "should balance pods across zones with nodeTaintsPolicy
 * Honor": zones only a tainted pool offers are not domains for the pod */
static void test_taints_policy_honor(void **state)
{
	struct fx f;
	struct kp_nodepool *a, *c;
	int z[3] = { 0, 0, 0 };

	(void)state;
	fx_init(&f);
	std_catalog(&f);
	a = fx_pool(&f, "ab", 0);
	fx_pool_req(&f, a, fx_req(&f, KP_LABEL_ZONE, KP_OP_IN, "test-zone-a", "test-zone-b", NULL));
	c = fx_pool(&f, "c", 0);
	fx_pool_req(&f, c, fx_req(&f, KP_LABEL_ZONE, KP_OP_IN, "test-zone-c", NULL, NULL));
	fx_taint_add(&f, &c->taints, "dedicated", "c", KP_EFFECT_NOSCHEDULE);
	for (int i = 0; i < 4; i++) {
		char name[16];
		struct kp_pod *p;
		struct kp_tsc *t;
		snprintf(name, sizeof(name), "w-%d", i);
		p = fx_pod(&f, name, "100m", "128Mi");
		fx_pod_label(&f, p, "app", "w");
		t = fx_pod_tsc(&f, p, KP_LABEL_ZONE, 1, KP_DO_NOT_SCHEDULE, fx_sel(&f, "app", "w"));
		t->node_taints_policy = KP_POLICY_HONOR;
	}
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	for (int i = 0; i < f.plan.nclaims; i++) {
		const char *zone = fx_claim_label(&f, i, KP_LABEL_ZONE);
		z[zone[strlen(zone) - 1] - 'a'] += f.plan.claims[i].npods;
	}
	assert_int_equal(z[0], 2);
	assert_int_equal(z[1], 2);
	assert_int_equal(z[2], 0);
	fx_free(&f);

	/* Ignore (the default): zone c is a domain nobody can reach, and with
	 * maxSkew 1 the pods stop at one per zone */
	fx_init(&f);
	std_catalog(&f);
	a = fx_pool(&f, "ab", 0);
	fx_pool_req(&f, a, fx_req(&f, KP_LABEL_ZONE, KP_OP_IN, "test-zone-a", "test-zone-b", NULL));
	c = fx_pool(&f, "c", 0);
	fx_pool_req(&f, c, fx_req(&f, KP_LABEL_ZONE, KP_OP_IN, "test-zone-c", NULL, NULL));
	fx_taint_add(&f, &c->taints, "dedicated", "c", KP_EFFECT_NOSCHEDULE);
	for (int i = 0; i < 4; i++) {
		char name[16];
		struct kp_pod *p;
		snprintf(name, sizeof(name), "w-%d", i);
		p = fx_pod(&f, name, "100m", "128Mi");
		fx_pod_label(&f, p, "app", "w");
		fx_pod_tsc(&f, p, KP_LABEL_ZONE, 1, KP_DO_NOT_SCHEDULE, fx_sel(&f, "app", "w"));
	}
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 2);
	fx_free(&f);
}

/* topology_test.go "should use matchLabelKeys": only pods with the same
 * value of the key count against each other */
static void test_match_label_keys(void **state)
{
	static const char *keys[] = { "version" };
	struct fx f;

	(void)state;
	fx_init(&f);
	std_catalog(&f);
	fx_pool(&f, "default", 0);
	for (int i = 0; i < 4; i++) {
		char name[16];
		struct kp_pod *p;
		struct kp_tsc *t;
		snprintf(name, sizeof(name), "w-%d", i);
		p = fx_pod(&f, name, "100m", "128Mi");
		fx_pod_label(&f, p, "app", "w");
		fx_pod_label(&f, p, "version", i < 2 ? "v1" : "v2");
		t = fx_pod_tsc(&f, p, KP_LABEL_HOSTNAME, 1, KP_DO_NOT_SCHEDULE, fx_sel(&f, "app", "w"));
		t->nmatch_label_keys = 1;
		t->match_label_keys = keys;
	}
	fx_solve(&f);
	/* v1 and v2 are spread separately: two hosts, each with one of each */
	assert_int_equal(f.plan.nunsched, 0);
	assert_int_equal(f.plan.nclaims, 2);
	assert_int_equal(f.plan.claims[0].npods, 2);
	assert_int_equal(f.plan.claims[1].npods, 2);
	fx_free(&f);
}

/* topology_test.go "should respect namespaceSelector": anti-affinity
 * against pods in the namespaces the selector picks */
static void test_namespace_selector(void **state)
{
	struct fx f;
	struct kp_namespace *ns;
	struct kp_pod *other, *p;
	struct kp_pod_affinity_term *t;

	(void)state;
	fx_init(&f);
	std_catalog(&f);
	fx_pool(&f, "default", 0);
	ns = kp_arena_alloc(fx_a(&f), sizeof(*ns));
	ns->name = "team-x";
	kp_labels_set(&ns->labels, fx_a(&f), "team", "x");
	assert_int_equal(kp_cluster_add_namespace(&f.cl, ns), KP_OK);
	other = fx_pod(&f, "db", "1", "128Mi");
	other->ns = "team-x";
	fx_pod_label(&f, other, "app", "db");
	fx_pod_selector(&f, other, KP_LABEL_ZONE, "test-zone-a");
	p = fx_pod(&f, "web", "100m", "128Mi");
	t = fx_pod_aff(&f, p, FX_AFF, 0, KP_LABEL_ZONE, fx_sel(&f, "app", "db"));
	t->ns_selector = fx_sel(&f, "team", "x");
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	assert_int_equal(fx_claim_of(&f, p), fx_claim_of(&f, other));
	fx_free(&f);

	/* without the selector the term only looks in the pod's namespace */
	fx_init(&f);
	std_catalog(&f);
	fx_pool(&f, "default", 0);
	other = fx_pod(&f, "db", "1", "128Mi");
	other->ns = "team-x";
	fx_pod_label(&f, other, "app", "db");
	p = fx_pod(&f, "web", "100m", "128Mi");
	fx_pod_aff(&f, p, FX_AFF, 0, KP_LABEL_ZONE, fx_sel(&f, "app", "db"));
	fx_solve(&f);
	assert_non_null(fx_reason(&f, p));
	fx_free(&f);
}

/* topology_test.go "should support pod anti-affinity with a zone topology"
 * (late committal: a claim whose zone is not pinned blocks every zone it may
 * land in, so one pod per batch), and "should allow violation of preferred
 * pod anti-affinity": the preferred form relaxes instead */
static void test_preferred_anti_relaxed(void **state)
{
	struct fx f;
	bool found = false;

	(void)state;
	fx_init(&f);
	std_catalog(&f);
	fx_pool(&f, "default", 0);
	for (int i = 0; i < 5; i++) {
		char name[16];
		struct kp_pod *p;
		snprintf(name, sizeof(name), "w-%d", i);
		p = fx_pod(&f, name, "100m", "128Mi");
		fx_pod_label(&f, p, "app", "w");
		fx_pod_aff(&f, p, FX_PREF_ANTI, 10, KP_LABEL_ZONE, fx_sel(&f, "app", "w"));
	}
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	for (int i = 0; i < f.plan.nnotes; i++)
		found |= strcmp(f.plan.notes[i], "4 pods like default/w-1 placed after relaxing preferred pod "
						 "anti-affinity on topology.kubernetes.io/zone (weight 10)") == 0;
	if (!found)
		fx_dump(&f);
	assert_true(found);
	fx_free(&f);

	fx_init(&f);
	std_catalog(&f);
	fx_pool(&f, "default", 0);
	for (int i = 0; i < 3; i++) {
		char name[16];
		struct kp_pod *p;
		snprintf(name, sizeof(name), "w-%d", i);
		p = fx_pod(&f, name, "100m", "128Mi");
		fx_pod_label(&f, p, "app", "w");
		fx_pod_aff(&f, p, FX_ANTI, 0, KP_LABEL_ZONE, fx_sel(&f, "app", "w"));
	}
	fx_solve(&f);
	assert_int_equal(f.plan.nclaims, 1);
	assert_int_equal(f.plan.claims[0].npods, 1);
	assert_int_equal(f.plan.nunsched, 2);
	assert_string_equal(f.plan.unsched[0].reason,
			    "nodepool \"default\": pod anti-affinity on topology.kubernetes.io/zone cannot be satisfied");
	fx_free(&f);
}

/* a removed node gives its capacity back to the pool's limits */
static void test_removed_node_limits(void **state)
{
	struct fx f;
	struct kp_sched_input in;
	struct kp_sched *s;
	struct kp_nodepool *np;
	struct kp_node *n;
	struct kp_pod *p;
	const struct kp_pod *pods[1];
	bool removed[1] = { true };

	(void)state;
	fx_init(&f);
	std_catalog(&f);
	np = fx_pool(&f, "default", 0);
	fx_pool_limit(&f, np, KP_RES_CPU, "16");
	n = fx_node(&f, "node-a", "16", "8Gi", 20);
	fx_node_label(&f, n, KP_LABEL_NODEPOOL, "default");
	p = fx_bound(&f, "busy", n, "3", "128Mi");
	fx_bound(&f, "filler", n, "12500m", "128Mi");
	kp_cluster_link(&f.cl);
	memset(&in, 0, sizeof(in));
	in.cluster = &f.cl;
	in.catalog = &f.cat;
	assert_int_equal(kp_sched_prepare(&in, &f.opts, &s, &f.eb), KP_OK);
	pods[0] = p;
	/* node-a stays: the pool is at its limit */
	assert_int_equal(kp_sched_run(s, NULL, pods, 1, &f.plan, &f.eb), KP_OK);
	assert_int_equal(f.plan.nclaims, 0);
	kp_plan_free(&f.plan);
	/* node-a goes: its 16 cpu are free for a replacement */
	assert_int_equal(kp_sched_run(s, removed, pods, 1, &f.plan, &f.eb), KP_OK);
	assert_int_equal(f.plan.nclaims, 1);
	assert_int_equal(f.plan.nunsched, 0);
	kp_plan_free(&f.plan);
	kp_sched_free(s);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_resources),
		cmocka_unit_test(test_reason_joined),
		cmocka_unit_test(test_pool_skipped_note),
		cmocka_unit_test(test_hidden_offerings),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_min_domains),
		cmocka_unit_test(test_taints_policy_honor),
		cmocka_unit_test(test_match_label_keys),
		cmocka_unit_test(test_namespace_selector),
		cmocka_unit_test(test_preferred_anti_relaxed),
		cmocka_unit_test(test_removed_node_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
