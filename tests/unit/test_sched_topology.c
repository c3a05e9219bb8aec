/*
 * test_sched_topology.c - topology spread, pod (anti-)affinity, inverse
 * anti-affinity and host ports in the provisioning scheduler. Cases mirror
 * Karpenter's scheduling/topology_test.go and suite_test.go (named per test).
 */
#include "sched_fixture.h"

static void zone_catalog(struct fx *f)
{
	fx_type_std(f, "small", "2", "4Gi", 20, 0.10);
	fx_type_std(f, "large", "16", "32Gi", 110, 0.80);
	fx_catalog_done(f);
}

static struct kp_pod *labeled_pod(struct fx *f, const char *name, const char *cpu, const char *app)
{
	struct kp_pod *p = fx_pod(f, name, cpu, "128Mi");
	fx_pod_label(f, p, "app", app);
	return p;
}

/* pods per zone of the claims they landed on, for zones a..c */
static void zone_counts(const struct fx *f, int out[3])
{
	out[0] = out[1] = out[2] = 0;
	for (int i = 0; i < f->plan.nclaims; i++) {
		const char *z = fx_claim_label(f, i, KP_LABEL_ZONE);
		int k = z ? z[strlen(z) - 1] - 'a' : -1;
		if (k >= 0 && k < 3)
			out[k] += f->plan.claims[i].npods;
	}
}

/* topology_test.go "Zonal: should balance pods across zones (match labels)" */
static void test_zone_spread(void **state)
{
	struct fx f;
	int z[3];

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	for (int i = 0; i < 6; i++) {
		char name[16];
		struct kp_pod *p;
		snprintf(name, sizeof(name), "web-%d", i);
		p = labeled_pod(&f, name, "100m", "web");
		fx_pod_tsc(&f, p, KP_LABEL_ZONE, 1, KP_DO_NOT_SCHEDULE, fx_sel(&f, "app", "web"));
	}
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	zone_counts(&f, z);
	assert_int_equal(z[0], 2);
	assert_int_equal(z[1], 2);
	assert_int_equal(z[2], 2);
	assert_int_equal(f.plan.nclaims, 3);
	fx_free(&f);
}

/* topology_test.go "should balance pods across zones, respecting existing pods" */
static void test_zone_spread_existing(void **state)
{
	struct fx f;
	struct kp_node *n;
	int z[3];

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	n = fx_node(&f, "node-a", "1", "1Gi", 10);   /* full: nothing new fits */
	fx_node_label(&f, n, KP_LABEL_ZONE, "test-zone-a");
	fx_pod_label(&f, fx_bound(&f, "old-1", n, "400m", "128Mi"), "app", "web");
	fx_pod_label(&f, fx_bound(&f, "old-2", n, "400m", "128Mi"), "app", "web");
	for (int i = 0; i < 4; i++) {
		char name[16];
		struct kp_pod *p;
		snprintf(name, sizeof(name), "web-%d", i);
		p = labeled_pod(&f, name, "500m", "web");
		fx_pod_tsc(&f, p, KP_LABEL_ZONE, 1, KP_DO_NOT_SCHEDULE, fx_sel(&f, "app", "web"));
	}
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	zone_counts(&f, z);
	/* zone a already holds 2: the 4 new ones fill b and c to 2 each */
	assert_int_equal(z[0], 0);
	assert_int_equal(z[1], 2);
	assert_int_equal(z[2], 2);
	fx_free(&f);
}

/* topology_test.go "Hostname: should balance pods across nodes" */
static void test_hostname_spread(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	for (int i = 0; i < 4; i++) {
		char name[16];
		struct kp_pod *p;
		snprintf(name, sizeof(name), "web-%d", i);
		p = labeled_pod(&f, name, "100m", "web");
		fx_pod_tsc(&f, p, KP_LABEL_HOSTNAME, 1, KP_DO_NOT_SCHEDULE, fx_sel(&f, "app", "web"));
	}
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	assert_int_equal(f.plan.nclaims, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(f.plan.claims[i].npods, 1);
	assert_string_equal(f.plan.claims[3].hostname, "hostname-placeholder-0004");
	fx_free(&f);
}

/* topology_test.go "should spread across capacity types" */
static void test_capacity_type_spread(void **state)
{
	struct fx f;
	struct kp_nodepool *np;
	int spot = 0, od = 0;

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	np = fx_pool(&f, "default", 0);
	fx_pool_req(&f, np, fx_req(&f, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, "spot", "on-demand", NULL));
	for (int i = 0; i < 4; i++) {
		char name[16];
		struct kp_pod *p;
		snprintf(name, sizeof(name), "web-%d", i);
		p = labeled_pod(&f, name, "100m", "web");
		fx_pod_tsc(&f, p, KP_LABEL_CAPACITY_TYPE, 1, KP_DO_NOT_SCHEDULE, fx_sel(&f, "app", "web"));
	}
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	for (int i = 0; i < f.plan.nclaims; i++) {
		if (f.plan.claims[i].launch->captype == KP_CAP_SPOT)
			spot += f.plan.claims[i].npods;
		else
			od += f.plan.claims[i].npods;
	}
	assert_int_equal(spot, 2);
	assert_int_equal(od, 2);
	fx_free(&f);
}

/* topology_test.go "Pod Affinity: should respect pod affinity (zone)" */
static void test_zone_affinity(void **state)
{
	struct fx f;
	struct kp_pod *anchor;
	int z[3];

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	anchor = labeled_pod(&f, "db", "1", "db");
	fx_pod_selector(&f, anchor, KP_LABEL_ZONE, "test-zone-c");
	for (int i = 0; i < 3; i++) {
		char name[16];
		struct kp_pod *p;
		snprintf(name, sizeof(name), "web-%d", i);
		/* big enough to need their own nodes, so the zone must be chosen */
		p = labeled_pod(&f, name, "1500m", "web");
		fx_pod_aff(&f, p, FX_AFF, 0, KP_LABEL_ZONE, fx_sel(&f, "app", "db"));
	}
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	zone_counts(&f, z);
	assert_int_equal(z[0], 0);
	assert_int_equal(z[1], 0);
	assert_int_equal(z[2], 4);
	fx_free(&f);
}

/* topology_test.go "should not schedule pods with affinity to a non-existent pod" */
static void test_affinity_unsatisfiable(void **state)
{
	struct fx f;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	p = labeled_pod(&f, "web", "100m", "web");
	fx_pod_aff(&f, p, FX_AFF, 0, KP_LABEL_ZONE, fx_sel(&f, "app", "nothing"));
	fx_solve(&f);
	assert_string_equal(fx_reason(&f, p),
			    "nodepool \"default\": pod affinity on topology.kubernetes.io/zone cannot be satisfied");
	fx_free(&f);
}

/* many claims: the in-flight walk for hostname anti-affinity only visits
 * claims without a matching pod; results equal the plain walk's */
static void test_hostname_anti_many(void **state)
{
	struct fx f;
	int anti_per_claim[200] = { 0 };

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	for (int i = 0; i < 150; i++) {
		char name[16];
		struct kp_pod *p;
		snprintf(name, sizeof(name), "db-%03d", i);
		p = labeled_pod(&f, name, i % 2 ? "300m" : "200m", "db");
		fx_pod_aff(&f, p, FX_ANTI, 0, KP_LABEL_HOSTNAME, fx_sel(&f, "app", "db"));
		snprintf(name, sizeof(name), "web-%03d", i);
		labeled_pod(&f, name, "250m", "web");
	}
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	assert_int_equal(f.plan.nclaims, 150);
	for (int i = 0; i < f.plan.nclaims; i++)
		for (int j = 0; j < f.plan.claims[i].npods; j++)
			if (strncmp(f.plan.claims[i].pods[j]->name, "db-", 3) == 0)
				anti_per_claim[i]++;
	for (int i = 0; i < f.plan.nclaims; i++)
		assert_int_equal(anti_per_claim[i], 1);
	/* web pods joined the claims with the fewest pods: at most 2 each */
	for (int i = 0; i < f.plan.nclaims; i++)
		assert_in_range(f.plan.claims[i].npods, 1, 3);
	fx_free(&f);
}

/* topology_test.go "Pod Anti-Affinity: should schedule pods with hostname
 * anti-affinity one per node" */
static void test_hostname_anti(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	for (int i = 0; i < 5; i++) {
		char name[16];
		struct kp_pod *p;
		snprintf(name, sizeof(name), "web-%d", i);
		p = labeled_pod(&f, name, "100m", "web");
		fx_pod_aff(&f, p, FX_ANTI, 0, KP_LABEL_HOSTNAME, fx_sel(&f, "app", "web"));
	}
	/* an unrelated pod may share a node */
	labeled_pod(&f, "other", "100m", "other");
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	assert_int_equal(f.plan.nclaims, 5);
	fx_free(&f);
}

/* topology_test.go "should not violate pod anti-affinity on zone (inverse)":
 * an existing pod's required anti-affinity keeps matching pods out of its zone */
static void test_inverse_anti(void **state)
{
	struct fx f;
	struct kp_node *n;
	struct kp_pod *old;
	int z[3];

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	n = fx_node(&f, "node-a", "1", "1Gi", 10);
	fx_node_label(&f, n, KP_LABEL_ZONE, "test-zone-a");
	old = fx_bound(&f, "loner", n, "500m", "128Mi");
	fx_pod_aff(&f, old, FX_ANTI, 0, KP_LABEL_ZONE, fx_sel(&f, "app", "web"));
	for (int i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof(name), "web-%d", i);
		labeled_pod(&f, name, "1500m", "web");
	}
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	zone_counts(&f, z);
	assert_int_equal(z[0], 0);
	assert_int_equal(z[1] + z[2], 6);
	fx_free(&f);
}

/* suite_test.go "Host Ports: should not schedule pods with conflicting host ports together" */
static void test_host_ports(void **state)
{
	struct fx f;
	struct kp_pod *p, *q;

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	p = fx_pod(&f, "a", "100m", "128Mi");
	q = fx_pod(&f, "b", "100m", "128Mi");
	fx_pod_port(&f, p, 8080);
	fx_pod_port(&f, q, 8080);
	fx_solve(&f);
	assert_int_equal(f.plan.nclaims, 2);
	assert_int_not_equal(fx_claim_of(&f, p), fx_claim_of(&f, q));
	fx_free(&f);
}

/* host ports in use on an existing node and by a daemonset */
static void test_host_ports_existing(void **state)
{
	struct fx f;
	struct kp_node *n;
	struct kp_pod *old, *p;
	struct kp_daemonset *ds;

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	n = fx_node(&f, "node-a", "8", "8Gi", 100);
	old = fx_bound(&f, "old", n, "100m", "128Mi");
	fx_pod_port(&f, old, 9000);
	ds = fx_daemonset(&f, "agent", "100m", "64Mi");
	fx_pod_port(&f, &ds->tmpl, 9100);
	p = fx_pod(&f, "new", "100m", "128Mi");
	fx_pod_port(&f, p, 9000);
	fx_solve(&f);
	assert_null(fx_node_of(&f, p));
	assert_int_equal(fx_claim_of(&f, p), 0);
	fx_free(&f);

	/* every type's daemon group holds the port: no claim can take it */
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	ds = fx_daemonset(&f, "agent", "100m", "64Mi");
	fx_pod_port(&f, &ds->tmpl, 9100);
	p = fx_pod(&f, "new", "100m", "128Mi");
	fx_pod_port(&f, p, 9100);
	fx_solve(&f);
	assert_int_equal(f.plan.nclaims, 0);
	assert_non_null(strstr(fx_reason(&f, p), "host ports conflict with daemonset pods"));
	fx_free(&f);
}

/* suite_test.go "should relax preferred node affinity if it cannot be satisfied" */
static void test_relax_preferred_node_affinity(void **state)
{
	struct fx f;
	struct kp_pod *p, *q;

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	p = fx_pod(&f, "p", "100m", "128Mi");
	fx_pod_preferred(&f, p, 10, fx_req(&f, KP_LABEL_ZONE, KP_OP_IN, "test-zone-x", NULL, NULL));
	fx_pod_preferred(&f, p, 1, fx_req(&f, KP_LABEL_ZONE, KP_OP_IN, "test-zone-b", NULL, NULL));
	q = fx_pod(&f, "q", "100m", "128Mi");
	fx_pod_preferred(&f, q, 1, fx_req(&f, KP_LABEL_ZONE, KP_OP_IN, "test-zone-c", NULL, NULL));
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	assert_string_equal(fx_claim_label(&f, fx_claim_of(&f, p), KP_LABEL_ZONE), "test-zone-b");
	assert_string_equal(fx_claim_label(&f, fx_claim_of(&f, q), KP_LABEL_ZONE), "test-zone-c");
	{
		bool found = false;
		for (int i = 0; i < f.plan.nnotes; i++)
			found |= strstr(f.plan.notes[i], "pod default/p placed after relaxing preferred node affinity (weight 10)") != NULL;
		assert_true(found);
	}
	fx_free(&f);

	/* ignore_preferences: the preference never narrows anything */
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	f.opts.ignore_preferences = true;
	p = fx_pod(&f, "p", "100m", "128Mi");
	fx_pod_preferred(&f, p, 1, fx_req(&f, KP_LABEL_ZONE, KP_OP_IN, "test-zone-c", NULL, NULL));
	fx_solve(&f);
	assert_string_equal(fx_claim_label(&f, 0, KP_LABEL_ZONE), "test-zone-a");
	fx_free(&f);
}

/* suite_test.go "should schedule to the second required node affinity term" (OR) */
static void test_required_terms_or(void **state)
{
	struct fx f;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	p = fx_pod(&f, "p", "100m", "128Mi");
	fx_pod_required(&f, p, 0, fx_req(&f, KP_LABEL_ZONE, KP_OP_IN, "test-zone-x", NULL, NULL));
	fx_pod_required(&f, p, 1, fx_req(&f, KP_LABEL_ZONE, KP_OP_IN, "test-zone-b", NULL, NULL));
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	assert_string_equal(fx_claim_label(&f, 0, KP_LABEL_ZONE), "test-zone-b");
	fx_free(&f);
}

/* suite_test.go "should relax ScheduleAnyway spread" and topology with
 * "should tolerate PreferNoSchedule taint only after trying to avoid it" */
static void test_relax_schedule_anyway_and_pns(void **state)
{
	struct fx f;
	struct kp_nodepool *np;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	np = fx_pool(&f, "default", 0);
	fx_taint_add(&f, &np->taints, "example.com/avoid", NULL, KP_EFFECT_PREFERNOSCHEDULE);
	/* ScheduleAnyway on a key no node has: unsatisfiable until relaxed */
	p = labeled_pod(&f, "p", "100m", "web");
	fx_pod_tsc(&f, p, "example.com/rack", 1, KP_SCHEDULE_ANYWAY, fx_sel(&f, "app", "web"));
	fx_solve(&f);
	assert_int_equal(f.plan.nunsched, 0);
	assert_int_equal(fx_claim_of(&f, p), 0);
	{
		bool found = false;
		for (int i = 0; i < f.plan.nnotes; i++)
			found |= strstr(f.plan.notes[i], "ScheduleAnyway spread on example.com/rack, PreferNoSchedule taints") != NULL;
		if (!found)
			fx_dump(&f);
		assert_true(found);
	}
	fx_free(&f);
}

/* suite_test.go "minValues: should not schedule if minValues cannot be met" */
static void test_min_values(void **state)
{
	struct fx f;
	struct kp_nodepool *np;
	struct kp_req r;
	struct kp_pod *p, *q;

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	np = fx_pool(&f, "default", 0);
	r = fx_req(&f, KP_LABEL_INSTANCE_TYPE, KP_OP_IN, "small", "large", NULL);
	r.min_values = 2;
	fx_pool_req(&f, np, r);
	p = fx_pod(&f, "fits-both", "1", "1Gi");
	q = fx_pod(&f, "large-only", "8", "1Gi");
	fx_pod_selector(&f, q, "kubernetes.io/arch", "amd64");
	fx_solve(&f);
	assert_int_equal(fx_claim_of(&f, p), 0);
	assert_int_equal(f.plan.claims[0].nitypes, 2);
	assert_non_null(fx_reason(&f, q));
	assert_non_null(strstr(fx_reason(&f, q), "minValues"));
	fx_free(&f);

	/* BestEffort: launches anyway */
	fx_init(&f);
	zone_catalog(&f);
	np = fx_pool(&f, "default", 0);
	r = fx_req(&f, KP_LABEL_INSTANCE_TYPE, KP_OP_IN, "small", "large", NULL);
	r.min_values = 2;
	fx_pool_req(&f, np, r);
	f.opts.min_values_best_effort = true;
	q = fx_pod(&f, "large-only", "8", "1Gi");
	fx_solve(&f);
	assert_int_equal(fx_claim_of(&f, q), 0);
	fx_free(&f);
}

/* prepare once, run many: a removed node's pods are rescheduled and its
 * pods leave topology counts */
static void test_prepare_run_removed(void **state)
{
	struct fx f;
	struct kp_sched_input in;
	struct kp_sched *s;
	struct kp_node *a, *b;
	struct kp_pod *pa;
	const struct kp_pod *pods[1];
	bool removed[2] = { true, false };

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	a = fx_node(&f, "node-a", "2", "4Gi", 20);
	b = fx_node(&f, "node-b", "2", "4Gi", 20);
	fx_node_label(&f, a, KP_LABEL_ZONE, "test-zone-a");
	fx_node_label(&f, b, KP_LABEL_ZONE, "test-zone-b");
	pa = fx_bound(&f, "web-a", a, "500m", "128Mi");
	fx_pod_label(&f, pa, "app", "web");
	fx_pod_aff(&f, pa, FX_ANTI, 0, KP_LABEL_HOSTNAME, fx_sel(&f, "app", "web"));
	fx_pod_label(&f, fx_bound(&f, "web-b", b, "500m", "128Mi"), "app", "web");
	kp_cluster_link(&f.cl);
	memset(&in, 0, sizeof(in));
	in.cluster = &f.cl;
	in.catalog = &f.cat;
	assert_int_equal(kp_sched_prepare(&in, &f.opts, &s, &f.eb), KP_OK);
	pods[0] = pa;
	for (int round = 0; round < 3; round++) {
		/* node-a removed: web-a may not join web-b (anti-affinity on hostname) */
		assert_int_equal(kp_sched_run(s, removed, pods, 1, &f.plan, &f.eb), KP_OK);
		assert_int_equal(f.plan.nunsched, 0);
		assert_int_equal(f.plan.nexisting, 0);
		assert_int_equal(f.plan.nclaims, 1);
		kp_plan_free(&f.plan);
	}
	/* nothing removed: web-a is still counted where it runs, so a copy of
	 * it cannot go to node-a, and node-b holds a matching pod */
	assert_int_equal(kp_sched_run(s, NULL, pods, 1, &f.plan, &f.eb), KP_OK);
	assert_int_equal(f.plan.nexisting, 1);
	assert_string_equal(f.plan.existing[0].node->name, "node-a");
	kp_plan_free(&f.plan);
	kp_sched_free(s);
	kp_sched_free(NULL);
	fx_free(&f);
}

/* disruption: pods landing on an uninitialized node fail */
static void test_consolidation_uninitialized(void **state)
{
	struct fx f;
	struct kp_node *n;
	struct kp_nodeclaim *nc;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	zone_catalog(&f);
	fx_pool(&f, "default", 0);
	n = fx_node(&f, "node-a", "4", "4Gi", 20);
	n->provider_id = "fake://a";
	fx_node_label(&f, n, KP_LABEL_NODEPOOL, "default");
	fx_node_label(&f, n, KP_LABEL_REGISTERED, "true");
	nc = kp_arena_alloc(fx_a(&f), sizeof(*nc));
	nc->name = "default-a";
	nc->nodepool = "default";
	nc->provider_id = "fake://a";
	nc->launched = nc->registered = true;
	assert_int_equal(kp_cluster_add_claim(&f.cl, nc), KP_OK);
	p = fx_pod(&f, "p", "1", "128Mi");
	f.opts.consolidation = true;
	fx_solve(&f);
	assert_string_equal(fx_reason(&f, p), "would schedule against uninitialized node \"node-a\"");
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zone_spread),
		cmocka_unit_test(test_zone_spread_existing),
		cmocka_unit_test(test_hostname_spread),
		cmocka_unit_test(test_capacity_type_spread),
		cmocka_unit_test(test_zone_affinity),
		cmocka_unit_test(test_affinity_unsatisfiable),
		cmocka_unit_test(test_hostname_anti),
		cmocka_unit_test(test_hostname_anti_many),
		cmocka_unit_test(test_inverse_anti),
		cmocka_unit_test(test_host_ports),
		cmocka_unit_test(test_host_ports_existing),
		cmocka_unit_test(test_relax_preferred_node_affinity),
		cmocka_unit_test(test_required_terms_or),
		cmocka_unit_test(test_relax_schedule_anyway_and_pns),
		cmocka_unit_test(test_min_values),
		cmocka_unit_test(test_prepare_run_removed),
		cmocka_unit_test(test_consolidation_uninitialized),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
