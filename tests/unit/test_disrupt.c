/*
 * test_disrupt.c - disruption building blocks: PDB arithmetic, pod
 * predicates and disruption cost, and candidate selection (which nodes a
 * pass may disrupt, and why not). Cases follow Karpenter's
 * pkg/controllers/disruption/suite_test.go ("should not consider
 * candidates that ...") and pkg/utils/disruption.
 */
#include <math.h>

#include "disrupt_fixture.h"

#include "disrupt/disrupt_int.h"

/* ---- PDBs ---- */

static struct kp_pdb *spec_pdb(struct fx *f, const char *app, bool min, bool pct, int64_t v)
{
	struct kp_pdb *pdb = fx_pdb(f, "pdb", app, -1);

	if (min) {
		pdb->has_min_available = true;
		pdb->min_percent = pct;
		pdb->min_available = v;
	} else {
		pdb->has_max_unavailable = true;
		pdb->max_percent = pct;
		pdb->max_unavailable = v;
	}
	return pdb;
}

static void three_web_pods(struct fx *f)
{
	fx_type(f, "m", 4000, 16, 0.2, 0);
	fx_pool(f, "default");
	fx_node(f, "n1", "default", "m", "on-demand");
	fx_pod(f, "web-1", "n1", "web", 100, 1);
	fx_pod(f, "web-2", "n1", "web", 100, 1);
	fx_pod(f, "web-3", "n1", "web", 100, 1);
	fx_pod(f, "db-1", "n1", "db", 100, 1);
}

static void test_pdb_status_wins(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	three_web_pods(&f);
	assert_int_equal(kp_pdb_disruptions_allowed(fx_pdb(&f, "a", "web", 0), &f.c), 0);
	assert_int_equal(kp_pdb_disruptions_allowed(fx_pdb(&f, "b", "web", 2), &f.c), 2);
	fx_free(&f);
}

static void test_pdb_min_available(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	three_web_pods(&f);
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", true, false, 2), &f.c), 1);
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", true, false, 3), &f.c), 0);
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", true, false, 5), &f.c), 0);
	/* 50% of 3 rounds up to 2 */
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", true, true, 50), &f.c), 1);
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", true, true, 100), &f.c), 0);
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", true, true, 0), &f.c), 3);
	fx_free(&f);
}

static void test_pdb_max_unavailable(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	three_web_pods(&f);
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", false, false, 1), &f.c), 1);
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", false, false, 0), &f.c), 0);
	/* 50% of 3 rounds up to 2 unavailable */
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", false, true, 50), &f.c), 2);
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", false, true, 0), &f.c), 0);
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", false, false, 10), &f.c), 3);
	/* a pending replica counts as expected but not healthy */
	fx_pod(&f, "web-4", NULL, "web", 100, 1);
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", false, false, 1), &f.c), 0);
	fx_free(&f);
}

static void test_pdb_unhealthy_and_empty(void **state)
{
	struct fx f;
	struct kp_pdb *pdb;

	(void)state;
	fx_init(&f);
	three_web_pods(&f);
	f.c.pods[0]->deleting = FX_NOW;   /* a terminating pod is not healthy */
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", true, false, 2), &f.c), 0);
	f.c.pods[0]->deleting = 0;
	f.c.pods[0]->phase = "Succeeded"; /* a finished pod is not expected */
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "web", false, false, 1), &f.c), 1);
	assert_int_equal(kp_pdb_disruptions_allowed(spec_pdb(&f, "none", false, false, 1), &f.c), 0);
	pdb = fx_pdb(&f, "neither", "web", -1);
	assert_int_equal(kp_pdb_disruptions_allowed(pdb, &f.c), 0);
	pdb->ns = "other";
	assert_false(kp_pdb_selects(pdb, f.c.pods[1]));
	pdb->ns = "default";
	assert_true(kp_pdb_selects(pdb, f.c.pods[1]));
	assert_false(kp_pdb_selects(pdb, f.c.pods[3]));
	fx_free(&f);
}

/* ---- pods and cost ---- */

static void test_eviction_cost(void **state)
{
	struct kp_pod p;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_true(kp_disrupt_eviction_cost(&p) == 1.0);
	p.deletion_cost = 1LL << 27;
	assert_true(kp_disrupt_eviction_cost(&p) == 2.0);
	p.deletion_cost = -(1LL << 27);
	assert_true(kp_disrupt_eviction_cost(&p) == 0.0);
	p.deletion_cost = 0;
	p.priority = 1 << 25;
	assert_true(kp_disrupt_eviction_cost(&p) == 2.0);
	p.priority = 1000000000;
	assert_true(kp_disrupt_eviction_cost(&p) == 10.0);
	p.priority = INT32_MIN;
	assert_true(kp_disrupt_eviction_cost(&p) == -10.0);
}

static void test_lifetime_remaining(void **state)
{
	(void)state;
	assert_true(kp_disrupt_lifetime_remaining(FX_NOW, FX_NOW - 100, KP_NEVER) == 1.0);
	assert_true(kp_disrupt_lifetime_remaining(FX_NOW, FX_NOW - 50, 100000) == 0.5);
	assert_true(kp_disrupt_lifetime_remaining(FX_NOW, FX_NOW - 500, 100000) == 0.0);
	assert_true(kp_disrupt_lifetime_remaining(FX_NOW, FX_NOW, 100000) == 1.0);
}

static void test_pod_predicates(void **state)
{
	struct fx f;
	struct kp_pod *p;

	(void)state;
	fx_init(&f);
	p = fx_pod(&f, "a", "n1", "web", 100, 1);
	assert_true(kp_pod_is_reschedulable(p));
	assert_true(kp_pod_is_evictable(p, FX_NOW));
	assert_false(kp_pod_do_not_disrupt(p, FX_NOW));
	fx_ann(&f, &p->annotations, KP_ANN_DO_NOT_DISRUPT, "true");
	assert_true(kp_pod_do_not_disrupt(p, FX_NOW));
	assert_false(kp_pod_is_evictable(p, FX_NOW));
	fx_ann(&f, &p->annotations, KP_ANN_DO_NOT_DISRUPT, "2h");   /* created an hour ago */
	assert_true(kp_pod_do_not_disrupt(p, FX_NOW));
	fx_ann(&f, &p->annotations, KP_ANN_DO_NOT_DISRUPT, "30m");
	assert_false(kp_pod_do_not_disrupt(p, FX_NOW));
	fx_ann(&f, &p->annotations, KP_ANN_DO_NOT_DISRUPT, "false");
	assert_false(kp_pod_do_not_disrupt(p, FX_NOW));
	fx_ann(&f, &p->annotations, KP_ANN_DO_NOT_DISRUPT, "soon");
	assert_false(kp_pod_do_not_disrupt(p, FX_NOW));
	p->is_daemon = true;
	assert_false(kp_pod_is_reschedulable(p));
	p->is_daemon = false;
	p->phase = "Succeeded";
	assert_false(kp_pod_is_reschedulable(p));
	p->phase = "Running";
	p->deleting = FX_NOW;
	assert_false(kp_pod_is_reschedulable(p));
	p->owner_kind = "StatefulSet";   /* a terminating StatefulSet pod comes back */
	assert_true(kp_pod_is_reschedulable(p));
	fx_free(&f);
}

/* ---- candidates ---- */

static int find(const struct kp_disrupt__pass *p, const char *name)
{
	for (int i = 0; i < p->nnodes; i++)
		if (strcmp(p->nodes[i].node->name, name) == 0)
			return i;
	fail_msg("node %s not in the pass", name);
	return -1;
}

struct built {
	struct kp_disrupt__world w;
	struct kp_disrupt__pass p;
};

static void build(struct fx *f, struct built *b)
{
	assert_int_equal(kp_disrupt__world_init(&b->w, &f->c, &f->eb), KP_OK);
	if (kp_disrupt__pass_build(&b->p, &b->w, &f->cat, &f->opts, 0, &f->eb) != KP_OK)
		fail_msg("pass: %s", f->eb.msg);
}

static void unbuild(struct built *b)
{
	kp_disrupt__pass_free(&b->p);
	kp_disrupt__world_free(&b->w);
}

static const char *blocked(struct built *b, const char *node)
{
	return kp_disrupt__blocked_reason(&b->p, find(&b->p, node));
}

static void assert_code(const char *reason, const char *code)
{
	if (!reason)
		fail_msg("expected a \"%s\" block, got none", code);
	if (strncmp(reason, code, strlen(code)) != 0 || reason[strlen(code)] != ':')
		fail_msg("expected code \"%s\", got \"%s\"", code, reason);
}

static void small_cluster(struct fx *f)
{
	fx_type(f, "m", 4000, 16, 0.2, 0.08);
	fx_pool(f, "default");
	fx_node(f, "n1", "default", "m", "on-demand");
	fx_node(f, "n2", "default", "m", "on-demand");
	fx_pod(f, "a", "n1", "web", 500, 1);
	fx_pod(f, "b", "n2", "db", 500, 1);
}

static void test_candidate_plain(void **state)
{
	struct fx f;
	struct built b;
	const struct kp_disrupt__node *d;

	(void)state;
	fx_init(&f);
	small_cluster(&f);
	build(&f, &b);
	d = &b.p.nodes[find(&b.p, "n1")];
	assert_true(d->managed);
	assert_true(d->initialized);
	assert_non_null(d->pool);
	assert_int_equal(d->npods, 1);
	assert_int_equal(d->nresched, 1);
	assert_true(d->price == 0.2);
	assert_true(d->cost == 1.0);
	assert_true(d->resched_cost == 2.0);
	assert_null(d->node_block);
	assert_null(d->pod_block);
	assert_null(d->cons_block);
	assert_null(d->drift);
	assert_null(blocked(&b, "n1"));
	/* default 10% of 2 nodes rounds up to 1 */
	assert_int_equal(kp_disrupt__budget(&b.p, find(&b.p, "n1"), DR_UNDERUTILIZED), 1);
	unbuild(&b);
	fx_free(&f);
}

static void test_candidate_do_not_disrupt(void **state)
{
	struct fx f;
	struct built b;

	(void)state;
	fx_init(&f);
	small_cluster(&f);
	/* "should not consider candidates that have do-not-disrupt on nodes" */
	fx_ann(&f, &f.c.nodes[0]->annotations, KP_ANN_DO_NOT_DISRUPT, "true");
	/* "... do-not-disrupt pods scheduled" */
	fx_ann(&f, &f.c.pods[1]->annotations, KP_ANN_DO_NOT_DISRUPT, "true");
	build(&f, &b);
	assert_code(blocked(&b, "n1"), "do-not-disrupt");
	assert_non_null(strstr(blocked(&b, "n1"), "node has"));
	assert_code(blocked(&b, "n2"), "do-not-disrupt");
	assert_non_null(strstr(blocked(&b, "n2"), "pod default/b"));
	unbuild(&b);

	/* a node annotation other than "true" does not block */
	fx_ann(&f, &f.c.nodes[0]->annotations, KP_ANN_DO_NOT_DISRUPT, "false");
	/* "should consider candidates that have do-not-disrupt terminal pods" */
	f.c.pods[1]->phase = "Succeeded";
	build(&f, &b);
	assert_null(blocked(&b, "n1"));
	assert_null(blocked(&b, "n2"));
	unbuild(&b);
	fx_free(&f);
}

static void test_candidate_pdb(void **state)
{
	struct fx f;
	struct built b;

	(void)state;
	fx_init(&f);
	small_cluster(&f);
	/* "should not consider candidates that have fully blocking PDBs" */
	fx_pdb(&f, "web-pdb", "web", 0);
	fx_pdb(&f, "db-pdb-1", "db", 1);
	fx_pdb(&f, "db-pdb-2", "db", 1);
	build(&f, &b);
	assert_code(blocked(&b, "n1"), "pdb");
	assert_non_null(strstr(blocked(&b, "n1"), "default/web-pdb allows 0"));
	assert_code(blocked(&b, "n2"), "pdb");
	assert_non_null(strstr(blocked(&b, "n2"), "more than one PDB"));
	unbuild(&b);
	/* "should consider candidates that have fully blocking PDBs on mirror pods" */
	f.c.pods[0]->is_mirror = true;
	f.c.pdbs[1]->has_status = false;   /* db-pdb-1 now has no spec: would allow 0 */
	f.c.pdbs[2]->selector = NULL;      /* matches nothing */
	build(&f, &b);
	assert_null(blocked(&b, "n1"));
	assert_code(blocked(&b, "n2"), "pdb");
	unbuild(&b);
	fx_free(&f);
}

static void test_candidate_uninitialized_and_deleting(void **state)
{
	struct fx f;
	struct built b;

	(void)state;
	fx_init(&f);
	small_cluster(&f);
	fx_node(&f, "n3", "default", "m", "on-demand");
	/* "should not consider candidates that aren't yet initialized" */
	fx_label(&f, &f.c.nodes[0]->labels, KP_LABEL_INITIALIZED, "false");
	/* "should not consider candidates that are deleting" */
	f.c.nodes[1]->deleting = FX_NOW - 10;
	/* unmanaged nodes are not Karpenter's */
	fx_node(&f, "plain", NULL, "m", "on-demand");
	build(&f, &b);
	assert_code(blocked(&b, "n1"), "uninitialized");
	assert_null(blocked(&b, "n2"));
	assert_true(b.p.nodes[find(&b.p, "n2")].deleting);
	assert_null(blocked(&b, "plain"));
	assert_false(b.p.nodes[find(&b.p, "plain")].managed);
	/* budgets: 2 initialized nodes (n2, n3), n2 deleting uses the one allowed */
	assert_int_equal(kp_disrupt__budget(&b.p, find(&b.p, "n3"), DR_EMPTY), 0);
	unbuild(&b);
	fx_free(&f);
}

static void test_candidate_consolidate_after(void **state)
{
	struct fx f;
	struct built b;
	struct kp_nodepool *np;

	(void)state;
	fx_init(&f);
	small_cluster(&f);
	np = f.c.pools[0];
	np->consolidate_after_ms = 30 * 60 * 1000;   /* pods were created an hour ago */
	f.c.pods[1]->created = FX_NOW - 600;         /* a pod event 10m ago on n2 */
	build(&f, &b);
	assert_null(blocked(&b, "n1"));
	assert_code(blocked(&b, "n2"), "consolidate-after");
	assert_non_null(strstr(blocked(&b, "n2"), "10m ago"));
	unbuild(&b);
	np->consolidate_after_ms = KP_NEVER;
	build(&f, &b);
	assert_code(blocked(&b, "n1"), "policy");
	unbuild(&b);
	fx_free(&f);
}

static void test_candidate_when_empty(void **state)
{
	struct fx f;
	struct built b;

	(void)state;
	fx_init(&f);
	small_cluster(&f);
	fx_node(&f, "empty", "default", "m", "on-demand");
	f.c.pools[0]->policy = KP_CONSOLIDATE_WHEN_EMPTY;
	build(&f, &b);
	assert_code(blocked(&b, "n1"), "policy");
	assert_non_null(strstr(blocked(&b, "n1"), "WhenEmpty"));
	assert_null(blocked(&b, "empty"));
	assert_int_equal(b.p.nodes[find(&b.p, "empty")].nresched, 0);
	unbuild(&b);
	fx_free(&f);
}

static void test_candidate_unpriced(void **state)
{
	struct fx f;
	struct built b;

	(void)state;
	fx_init(&f);
	small_cluster(&f);
	/* "should not consider candidates that have an instance type that cannot be resolved" */
	fx_label(&f, &f.c.nodes[0]->labels, KP_LABEL_INSTANCE_TYPE, "unknown");
	fx_label(&f, &f.c.nodes[1]->labels, KP_LABEL_ZONE, "test-zone-z");
	build(&f, &b);
	assert_code(blocked(&b, "n1"), "unpriced");
	assert_code(blocked(&b, "n2"), "unpriced");
	unbuild(&b);
	fx_free(&f);
}

static void test_candidate_nodepool_missing(void **state)
{
	struct fx f;
	struct built b;

	(void)state;
	fx_init(&f);
	small_cluster(&f);
	fx_node(&f, "orphan", "gone", "m", "on-demand");
	build(&f, &b);
	assert_code(blocked(&b, "orphan"), "policy");
	assert_non_null(strstr(blocked(&b, "orphan"), "gone not found"));
	unbuild(&b);
	fx_free(&f);
}

static void test_candidate_budget_notready(void **state)
{
	struct fx f;
	struct built b;

	(void)state;
	fx_init(&f);
	small_cluster(&f);
	fx_node(&f, "n3", "default", "m", "on-demand");
	fx_node(&f, "n4", "default", "m", "on-demand");
	fx_budget(&f, f.c.pools[0], "2", NULL, 0, 0);
	fx_budget(&f, f.c.pools[0], "0", NULL, 0, KP_REASON_DRIFTED);
	f.c.nodes[3]->ready = false;   /* NotReady counts as disrupting */
	build(&f, &b);
	assert_int_equal(kp_disrupt__budget(&b.p, 0, DR_EMPTY), 1);
	assert_int_equal(kp_disrupt__budget(&b.p, 0, DR_UNDERUTILIZED), 1);
	assert_int_equal(kp_disrupt__budget(&b.p, 0, DR_DRIFTED), 0);
	assert_int_equal(kp_disrupt__budget(&b.p, 0, DR_EXPIRED), 0);
	assert_string_equal(kp_disrupt__budget_reason(&b.p, 0, DR_DRIFTED),
			    "budget: nodepool default allows 0 disruptions for Drifted now");
	unbuild(&b);
	fx_free(&f);
}

/* kp_disrupt_claim_drift: the controller's Drifted condition reasons for a
 * NodeClaim (drift.go isDrifted: static, then requirements) */
static void test_claim_drift(void **state)
{
	struct fx f;
	struct kp_nodepool *np;
	struct kp_nodeclaim nc;

	(void)state;
	fx_init(&f);
	small_cluster(&f);
	np = f.c.pools[0];
	memset(&nc, 0, sizeof(nc));
	nc.name = "c1";
	fx_pool_req(&f, np, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, "on-demand", NULL);
	fx_label(&f, &nc.labels, KP_LABEL_CAPACITY_TYPE, "on-demand");
	fx_ann(&f, &np->meta_annotations, "karpenter.sh/nodepool-hash", "111");
	fx_ann(&f, &np->meta_annotations, "karpenter.sh/nodepool-hash-version", "kc-v1");
	fx_ann(&f, &nc.annotations, "karpenter.sh/nodepool-hash", "111");
	fx_ann(&f, &nc.annotations, "karpenter.sh/nodepool-hash-version", "kc-v1");
	assert_null(kp_disrupt_claim_drift(np, &nc));
	assert_null(kp_disrupt_claim_drift(NULL, &nc));
	/* requirements: the claim's labels only (no instance type) */
	fx_label(&f, &nc.labels, KP_LABEL_CAPACITY_TYPE, "spot");
	assert_string_equal(kp_disrupt_claim_drift(np, &nc), "RequirementsDrifted");
	/* static first */
	fx_ann(&f, &nc.annotations, "karpenter.sh/nodepool-hash", "222");
	assert_string_equal(kp_disrupt_claim_drift(np, &nc), "NodePoolDrifted");
	/* another hash version: not compared */
	fx_ann(&f, &nc.annotations, "karpenter.sh/nodepool-hash-version", "v3");
	assert_string_equal(kp_disrupt_claim_drift(np, &nc), "RequirementsDrifted");
	fx_label(&f, &nc.labels, KP_LABEL_CAPACITY_TYPE, "on-demand");
	assert_null(kp_disrupt_claim_drift(np, &nc));
	fx_free(&f);
}

static void test_candidate_drift(void **state)
{
	struct fx f;
	struct built b;
	struct kp_nodepool *np;

	(void)state;
	fx_init(&f);
	small_cluster(&f);
	np = f.c.pools[0];
	fx_pool_req(&f, np, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, "on-demand", NULL);
	fx_label(&f, &f.c.nodes[1]->labels, KP_LABEL_CAPACITY_TYPE, "spot");
	build(&f, &b);
	assert_null(b.p.nodes[find(&b.p, "n1")].drift);
	assert_non_null(b.p.nodes[find(&b.p, "n2")].drift);
	assert_non_null(strstr(b.p.nodes[find(&b.p, "n2")].drift, "RequirementsDrifted"));
	unbuild(&b);

	/* instance-type labels count even when the node lacks them */
	fx_pool_req(&f, np, KP_LABEL_ARCH, KP_OP_IN, "amd64", NULL);
	fx_pool_req(&f, np, "example.com/team", KP_OP_NOTIN, "red", NULL);
	fx_label(&f, &f.c.nodes[1]->labels, KP_LABEL_CAPACITY_TYPE, "on-demand");
	/* static drift: the node's hash differs from the pool's */
	fx_ann(&f, &np->meta_annotations, "karpenter.sh/nodepool-hash", "111");
	fx_ann(&f, &f.c.nodes[0]->annotations, "karpenter.sh/nodepool-hash", "222");
	fx_ann(&f, &f.c.nodes[1]->annotations, "karpenter.sh/nodepool-hash", "111");
	build(&f, &b);
	assert_non_null(b.p.nodes[find(&b.p, "n1")].drift);
	assert_non_null(strstr(b.p.nodes[find(&b.p, "n1")].drift, "NodePoolDrifted"));
	assert_null(b.p.nodes[find(&b.p, "n2")].drift);
	unbuild(&b);

	/* different hash versions: no static drift */
	fx_ann(&f, &np->meta_annotations, "karpenter.sh/nodepool-hash-version", "v3");
	fx_ann(&f, &f.c.nodes[0]->annotations, "karpenter.sh/nodepool-hash-version", "v2");
	build(&f, &b);
	assert_null(b.p.nodes[find(&b.p, "n1")].drift);
	unbuild(&b);

	/* the same version on both: compared; a node without a version under a
	 * versioned pool hash: not compared (areStaticFieldsDrifted) */
	fx_ann(&f, &f.c.nodes[0]->annotations, "karpenter.sh/nodepool-hash-version", "v3");
	fx_ann(&f, &f.c.nodes[1]->annotations, "karpenter.sh/nodepool-hash", "333");
	build(&f, &b);
	assert_non_null(b.p.nodes[find(&b.p, "n1")].drift);
	assert_non_null(strstr(b.p.nodes[find(&b.p, "n1")].drift, "NodePoolDrifted"));
	assert_null(b.p.nodes[find(&b.p, "n2")].drift);
	unbuild(&b);
	fx_ann(&f, &f.c.nodes[0]->annotations, "karpenter.sh/nodepool-hash-version", "v2");

	/* a required label the node does not have */
	fx_pool_req(&f, np, "example.com/gpu", KP_OP_EXISTS, NULL);
	build(&f, &b);
	assert_non_null(b.p.nodes[find(&b.p, "n1")].drift);
	unbuild(&b);
	fx_free(&f);
}

static void test_candidate_expiry(void **state)
{
	struct fx f;
	struct built b;
	struct kp_nodepool *np;

	(void)state;
	fx_init(&f);
	small_cluster(&f);
	np = f.c.pools[0];
	f.c.nodes[0]->created = FX_NOW - 800 * FX_HOUR;
	np->expire_after_ms = 720LL * FX_HOUR * 1000;
	build(&f, &b);
	assert_true(b.p.nodes[find(&b.p, "n1")].expired_v1);
	assert_false(b.p.nodes[find(&b.p, "n1")].expired_beta);
	assert_false(b.p.nodes[find(&b.p, "n2")].expired_v1);
	/* lifetime remaining scales the cost: n2 is 1h into 720h */
	assert_true(b.p.nodes[find(&b.p, "n1")].cost == 0.0);
	assert_true(fabs(b.p.nodes[find(&b.p, "n2")].cost - 719.0 / 720.0) < 1e-12);
	unbuild(&b);
	np->v1beta1_expiry = true;
	build(&f, &b);
	assert_true(b.p.nodes[find(&b.p, "n1")].expired_beta);
	assert_false(b.p.nodes[find(&b.p, "n1")].expired_v1);
	unbuild(&b);
	fx_free(&f);
}

static void test_candidate_sort(void **state)
{
	struct fx f;
	struct built b;
	int idx[3];

	(void)state;
	fx_init(&f);
	fx_type(&f, "small", 2000, 8, 0.1, 0);
	fx_type(&f, "big", 8000, 32, 0.4, 0);
	fx_pool(&f, "default");
	fx_node(&f, "a", "default", "small", "on-demand");
	fx_node(&f, "b", "default", "big", "on-demand");
	fx_node(&f, "c", "default", "big", "on-demand");
	fx_pod(&f, "p1", "a", "x", 100, 1);
	fx_pod(&f, "p2", "b", "x", 100, 1);
	fx_pod(&f, "p3", "c", "x", 100, 1);
	fx_pod(&f, "p4", "c", "x", 100, 1);
	build(&f, &b);
	for (int i = 0; i < 3; i++)
		idx[i] = i;
	kp_disrupt__sort_consolidation(&b.p, idx, 3);
	/* price / (1 + pods): b 0.2, c 0.133, a 0.05 */
	assert_string_equal(b.p.nodes[idx[0]].node->name, "b");
	assert_string_equal(b.p.nodes[idx[1]].node->name, "c");
	assert_string_equal(b.p.nodes[idx[2]].node->name, "a");
	unbuild(&b);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pdb_status_wins),
		cmocka_unit_test(test_pdb_min_available),
		cmocka_unit_test(test_pdb_max_unavailable),
		cmocka_unit_test(test_pdb_unhealthy_and_empty),
		cmocka_unit_test(test_eviction_cost),
		cmocka_unit_test(test_lifetime_remaining),
		cmocka_unit_test(test_pod_predicates),
		cmocka_unit_test(test_candidate_plain),
		cmocka_unit_test(test_candidate_do_not_disrupt),
		cmocka_unit_test(test_candidate_pdb),
		cmocka_unit_test(test_candidate_uninitialized_and_deleting),
		cmocka_unit_test(test_candidate_consolidate_after),
		cmocka_unit_test(test_candidate_when_empty),
		cmocka_unit_test(test_candidate_unpriced),
		cmocka_unit_test(test_candidate_nodepool_missing),
		cmocka_unit_test(test_candidate_budget_notready),
		cmocka_unit_test(test_candidate_drift),
		cmocka_unit_test(test_claim_drift),
		cmocka_unit_test(test_candidate_expiry),
		cmocka_unit_test(test_candidate_sort),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
