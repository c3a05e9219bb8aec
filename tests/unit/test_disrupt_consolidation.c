/*
 * test_disrupt_consolidation.c - consolidation, drift and expiration end
 * to end through kp_disrupt_run with the real scheduler, plus the price
 * helpers. Each case names the Karpenter test it mirrors
 * (pkg/controllers/disruption/consolidation_test.go unless noted).
 */
#include <math.h>

#include "disrupt_fixture.h"

#include "disrupt/disrupt_int.h"

static void run(struct fx *f, struct kp_disrupt_result *res)
{
	if (kp_disrupt_run(&f->c, &f->cat, &f->opts, res, &f->eb) != KP_OK)
		fail_msg("kp_disrupt_run: %s", f->eb.msg);
}

static void assert_money(double got, double want)
{
	if (fabs(got - want) > 1e-9)
		fail_msg("got $%.6f/h, want $%.6f/h", got, want);
}

static const char *blocked_reason(const struct kp_disrupt_result *r, const char *node)
{
	for (int i = 0; i < r->nblocked; i++)
		if (strcmp(r->blocked[i].node, node) == 0)
			return r->blocked[i].reason;
	return NULL;
}

static void assert_prefix(const char *s, const char *prefix)
{
	if (!s)
		fail_msg("expected \"%s...\", got nothing", prefix);
	if (strncmp(s, prefix, strlen(prefix)) != 0)
		fail_msg("expected \"%s...\", got \"%s\"", prefix, s);
}

/* small 2 cpu $0.10 | medium 4 cpu $0.20 | large 8 cpu $0.40 | xlarge 16 cpu $0.80;
 * spot at 40% of on-demand. */
static void linear_types(struct fx *f)
{
	fx_type(f, "small-2x", 2000, 4, 0.10, 0.04);
	fx_type(f, "medium-4x", 4000, 8, 0.20, 0.08);
	fx_type(f, "large-8x", 8000, 16, 0.40, 0.16);
	fx_type(f, "xlarge-16x", 16000, 32, 0.80, 0.32);
}

static struct kp_nodepool *od_pool(struct fx *f)
{
	struct kp_nodepool *np = fx_pool(f, "default");
	fx_pool_req(f, np, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, "on-demand", NULL);
	return np;
}

/* ---- price helpers ---- */

static void test_worst_launch_price(void **state)
{
	struct fx f;
	struct kp_reqs none, od;
	struct kp_req r;
	const char *v[] = { "on-demand" };
	const struct kp_itype *it;

	(void)state;
	fx_init(&f);
	linear_types(&f);
	it = kp_catalog_find(&f.cat, "large-8x");
	kp_reqs_init(&none);
	kp_reqs_init(&od);
	assert_int_equal(kp_req_make(&r, &f.c.arena, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, v, 1, 0, NULL), KP_OK);
	assert_int_equal(kp_reqs_add(&od, &f.c.arena, &r), KP_OK);
	/* spot comes before on-demand in the worst-case order */
	assert_money(kp_disrupt__worst_launch_price(it, &none, -1), 0.16);
	assert_money(kp_disrupt__worst_launch_price(it, &od, -1), 0.40);
	assert_money(kp_disrupt__worst_launch_price(it, &none, KP_CAP_ON_DEMAND), 0.40);
	assert_true(kp_disrupt__worst_launch_price(it, &od, KP_CAP_SPOT) == HUGE_VAL);
	assert_money(kp_disrupt__cheapest(it, &none, -1)->price, 0.16);
	assert_string_equal(kp_disrupt__cheapest(it, &od, -1)->zone, "test-zone-a");
	fx_free(&f);
}

/* ---- single-node ---- */

static void test_single_delete(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;

	/* Context("Delete") It("can delete nodes") */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	od_pool(&f);
	fx_node(&f, "a", "default", "medium-4x", "on-demand");
	fx_node(&f, "b", "default", "medium-4x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 1000, 1);
	fx_pod(&f, "p2", "b", "y", 3000, 1);
	run(&f, &res);
	assert_int_equal(res.ncmds, 1);
	assert_int_equal(res.cmds[0].method, KP_DISRUPT_SINGLE);
	assert_int_equal(res.cmds[0].action, KP_DISRUPT_DELETE);
	assert_int_equal(res.cmds[0].nnodes, 1);
	assert_string_equal(res.cmds[0].nodes[0], "a");
	assert_int_equal(res.cmds[0].npods, 1);
	assert_money(res.cmds[0].savings, 0.20);
	assert_int_equal(res.npasses, 2);
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

static void test_single_replace_cheaper(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;
	const struct kp_disrupt_repl *r;

	/* Context("Replace") DescribeTable("can replace node") Entry("if the candidate is on-demand node") */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	od_pool(&f);
	fx_node(&f, "a", "default", "xlarge-16x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 3000, 1);
	run(&f, &res);
	assert_int_equal(res.ncmds, 1);
	assert_int_equal(res.cmds[0].action, KP_DISRUPT_REPLACE);
	assert_int_equal(res.cmds[0].nrepl, 1);
	r = &res.cmds[0].repl[0];
	assert_string_equal(r->itype->name, "medium-4x");
	assert_int_equal(r->offering->captype, KP_CAP_ON_DEMAND);
	assert_string_equal(r->offering->zone, "test-zone-a");
	/* options are the strictly cheaper types that fit: medium, large */
	assert_int_equal(r->noptions, 2);
	assert_string_equal(r->options[1]->name, "large-8x");
	assert_non_null(r->node);
	assert_money(res.cmds[0].savings, 0.60);
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

static void test_single_not_cheaper(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;

	/* It("won't replace on-demand node if on-demand replacement is more expensive") */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	od_pool(&f);
	fx_node(&f, "a", "default", "medium-4x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 3000, 1);
	run(&f, &res);
	assert_int_equal(res.ncmds, 0);
	assert_int_equal(res.nblocked, 1);
	assert_prefix(blocked_reason(&res, "a"), "not-cheaper: no instance type cheaper than $0.2000/h");
	assert_string_equal(res.blocked[0].code, "not-cheaper");
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

static void test_single_pods_do_not_fit(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;

	/* It("won't delete nodes if it would make a non-pending pod go pending") */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	od_pool(&f);
	fx_node(&f, "a", "default", "medium-4x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 1000, 1);
	f.c.pods[0]->node_selector.n = 0;
	fx_label(&f, &f.c.pods[0]->node_selector, "example.com/only-here", "yes");
	fx_label(&f, &f.c.nodes[0]->labels, "example.com/only-here", "yes");
	run(&f, &res);
	assert_int_equal(res.ncmds, 0);
	assert_prefix(blocked_reason(&res, "a"), "pods-do-not-fit: pod default/p1");
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

static void test_uninitialized_target(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;

	/* It("won't delete node if it would require pods to schedule on an uninitialized node") */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	od_pool(&f);
	fx_node(&f, "a", "default", "medium-4x", "on-demand");
	fx_node(&f, "b", "default", "medium-4x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 3000, 1);
	fx_label(&f, &f.c.nodes[1]->labels, KP_LABEL_INITIALIZED, "false");
	run(&f, &res);
	assert_int_equal(res.ncmds, 0);
	assert_prefix(blocked_reason(&res, "b"), "uninitialized:");
	assert_prefix(blocked_reason(&res, "a"), "pods-do-not-fit: pod default/p1");
	assert_non_null(strstr(blocked_reason(&res, "a"), "uninitialized"));
	kp_disrupt_result_free(&res);
	/* once b is initialized (and busy, so not empty), a's pod moves there */
	fx_label(&f, &f.c.nodes[1]->labels, KP_LABEL_INITIALIZED, "true");
	fx_pod(&f, "p2", "b", "y", 1000, 1);
	run(&f, &res);
	assert_true(res.ncmds >= 1);
	assert_int_equal(res.cmds[0].method, KP_DISRUPT_SINGLE);
	assert_int_equal(res.cmds[0].action, KP_DISRUPT_DELETE);
	assert_string_equal(res.cmds[0].nodes[0], "a");
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

/* ---- spot ---- */

static void many_spot_types(struct fx *f, int n)
{
	char name[32];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "t%02d", i);
		fx_type(f, name, 2000 + 200 * i, 4 + i, 0.10 + 0.01 * i, 0.04 + 0.004 * i);
	}
}

static void test_spot_to_spot(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;
	struct kp_nodepool *np;

	/* It("cannot replace spot with spot if the spotToSpotConsolidation is disabled"),
	 * DescribeTable("can replace node") Entry("if the candidate is spot node") */
	(void)state;
	fx_init(&f);
	many_spot_types(&f, 20);
	np = fx_pool(&f, "default");
	fx_pool_req(&f, np, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, "spot", NULL);
	fx_node(&f, "a", "default", "t19", "spot");     /* $0.116/h spot */
	fx_pod(&f, "p1", "a", "x", 1000, 1);
	run(&f, &res);
	assert_int_equal(res.ncmds, 0);
	assert_prefix(blocked_reason(&res, "a"), "policy: spot-to-spot consolidation is disabled");
	kp_disrupt_result_free(&res);

	f.opts.spot_to_spot = true;
	run(&f, &res);
	assert_int_equal(res.ncmds, 1);
	assert_int_equal(res.cmds[0].action, KP_DISRUPT_REPLACE);
	assert_int_equal(res.cmds[0].repl[0].offering->captype, KP_CAP_SPOT);
	assert_string_equal(res.cmds[0].repl[0].itype->name, "t00");
	/* 19 cheaper types, launched from the cheapest 15 */
	assert_int_equal(res.cmds[0].repl[0].noptions, 15);
	kp_disrupt_result_free(&res);

	/* It("cannot replace spot with spot if it is part of the 15 cheapest instance types.") */
	fx_label(&f, &f.c.nodes[0]->labels, KP_LABEL_INSTANCE_TYPE, "t10");
	run(&f, &res);
	assert_int_equal(res.ncmds, 0);
	assert_string_equal(blocked_reason(&res, "a"),
			    "not-cheaper: spot-to-spot consolidation needs 15 cheaper instance types, found 10");
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

static void test_spot_not_replaced_by_on_demand(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;
	struct kp_nodepool *np;

	/* It("won't replace node if any spot replacement is more expensive"): a spot
	 * node in a pool allowing both never becomes on-demand */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	np = fx_pool(&f, "default");
	fx_pool_req(&f, np, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, "spot", "on-demand", NULL);
	fx_node(&f, "a", "default", "small-2x", "spot");
	fx_pod(&f, "p1", "a", "x", 1000, 1);
	f.opts.spot_to_spot = true;
	run(&f, &res);
	assert_int_equal(res.ncmds, 0);
	assert_prefix(blocked_reason(&res, "a"), "not-cheaper: no spot instance type cheaper than $0.0400/h");
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

static void test_on_demand_to_spot(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;
	struct kp_nodepool *np;

	(void)state;
	fx_init(&f);
	linear_types(&f);
	np = fx_pool(&f, "default");
	fx_pool_req(&f, np, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, "spot", "on-demand", NULL);
	fx_node(&f, "a", "default", "large-8x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 1500, 1);
	run(&f, &res);
	assert_int_equal(res.ncmds, 1);
	/* pinned to spot: the cheapest spot option, small-2x at $0.04 */
	assert_int_equal(res.cmds[0].repl[0].offering->captype, KP_CAP_SPOT);
	assert_string_equal(res.cmds[0].repl[0].itype->name, "small-2x");
	assert_money(res.cmds[0].savings, 0.36);
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

/* ---- multi-node ---- */

static void test_multi_three_to_one(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;

	/* Context("Multi-NodeClaim") DescribeTable("can merge 3 nodes into 1") */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	fx_budget(&f, od_pool(&f), "100%", NULL, 0, 0);
	fx_node(&f, "a", "default", "large-8x", "on-demand");
	fx_node(&f, "b", "default", "large-8x", "on-demand");
	fx_node(&f, "c", "default", "large-8x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 1000, 1);
	fx_pod(&f, "p2", "b", "x", 1000, 1);
	fx_pod(&f, "p3", "c", "x", 1000, 1);
	run(&f, &res);
	assert_int_equal(res.ncmds, 1);
	assert_int_equal(res.cmds[0].method, KP_DISRUPT_MULTI);
	assert_int_equal(res.cmds[0].nnodes, 3);
	assert_int_equal(res.cmds[0].nrepl, 1);
	assert_string_equal(res.cmds[0].repl[0].itype->name, "medium-4x");
	assert_money(res.cmds[0].savings, 1.00);
	assert_int_equal(res.cmds[0].npods, 3);
	kp_disrupt_result_free(&res);

	/* a budget of 2 lets multi-node take two: their pods fit on the third */
	f.c.pools[0]->budgets[0].percent = false;
	f.c.pools[0]->budgets[0].nodes = 2;
	run(&f, &res);
	assert_true(res.ncmds >= 1);
	assert_int_equal(res.cmds[0].method, KP_DISRUPT_MULTI);
	assert_int_equal(res.cmds[0].action, KP_DISRUPT_DELETE);
	assert_int_equal(res.cmds[0].nnodes, 2);
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

static void test_multi_same_type_filtered(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;

	/* DescribeTable("won't merge 2 nodes into 1 of the same type") */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	fx_budget(&f, od_pool(&f), "100%", NULL, 0, 0);
	fx_node(&f, "a", "default", "medium-4x", "on-demand");
	fx_node(&f, "b", "default", "medium-4x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 1500, 1);
	fx_pod(&f, "p2", "b", "x", 1500, 1);
	run(&f, &res);
	assert_int_equal(res.ncmds, 1);
	assert_int_equal(res.cmds[0].method, KP_DISRUPT_SINGLE);
	assert_int_equal(res.cmds[0].action, KP_DISRUPT_DELETE);
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

/* Four large-8x nodes, two per zone, each with a 6 cpu pod spread across
 * zones (maxSkew 1): no node has room for another, any single new node
 * breaks the spread, and xlarge-16x is cheap ($0.50): only M -> N helps. */
static void spread_cluster(struct fx *f)
{
	static const char *const names[] = { "n1", "n2", "n3", "n4" };
	struct kp_selector *sel = kp_arena_alloc(&f->c.arena, sizeof(*sel));

	fx_type(f, "medium-4x", 4000, 8, 0.20, 0);
	fx_type(f, "large-8x", 8000, 16, 0.40, 0);
	fx_type(f, "xlarge-16x", 16000, 32, 0.50, 0);
	fx_budget(f, od_pool(f), "100%", NULL, 0, 0);
	assert_non_null(sel);
	fx_label(f, &sel->match_labels, "app", "web");
	for (int i = 0; i < 4; i++) {
		struct kp_node *n = fx_node(f, names[i], "default", "large-8x", "on-demand");
		char pod[16];
		struct kp_pod *p;

		fx_label(f, &n->labels, KP_LABEL_ZONE, i % 2 ? "test-zone-b" : "test-zone-a");
		snprintf(pod, sizeof(pod), "p%d", i + 1);
		p = fx_pod(f, pod, names[i], "web", 6000, 1);
		p->ntsc = 1;
		p->tsc = kp_arena_calloc(&f->c.arena, 1, sizeof(*p->tsc));
		assert_non_null(p->tsc);
		p->tsc->max_skew = 1;
		p->tsc->topology_key = KP_LABEL_ZONE;
		p->tsc->selector = sel;
		p->tsc->node_taints_policy = KP_POLICY_IGNORE;
	}
}

static void test_repack(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;

	(void)state;
	fx_init(&f);
	spread_cluster(&f);
	run(&f, &res);
	assert_int_equal(res.ncmds, 0);
	kp_disrupt_result_free(&res);

	f.opts.repack = true;
	run(&f, &res);
	assert_true(res.ncmds >= 1);
	assert_int_equal(res.cmds[0].method, KP_DISRUPT_MULTI);
	assert_int_equal(res.cmds[0].action, KP_DISRUPT_REPLACE);
	assert_true(res.cmds[0].nrepl >= 2);
	assert_true(res.cmds[0].nrepl < res.cmds[0].nnodes);
	assert_true(res.cmds[0].savings > 0);
	for (int i = 0; i < res.cmds[0].nrepl; i++)
		assert_string_equal(res.cmds[0].repl[i].itype->name, "xlarge-16x");
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

/* ---- options ---- */

static void test_evaluate_all(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;

	(void)state;
	fx_init(&f);
	linear_types(&f);
	od_pool(&f);
	/* a ranks first (one pod, higher price per disruption) but b saves more */
	fx_node(&f, "a", "default", "large-8x", "on-demand");
	fx_node(&f, "b", "default", "xlarge-16x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 7000, 1);
	fx_pod(&f, "p2", "b", "x", 1000, 1);
	fx_pod(&f, "p3", "b", "x", 1000, 1);
	fx_pod(&f, "p4", "b", "x", 1000, 1);
	fx_pod(&f, "p5", "b", "x", 1000, 1);
	f.opts.max_passes = 1;
	run(&f, &res);
	assert_int_equal(res.ncmds, 1);
	assert_string_equal(res.cmds[0].nodes[0], "a");
	assert_int_equal(res.candidates_evaluated, 1);
	kp_disrupt_result_free(&res);

	f.opts.evaluate_all = true;
	run(&f, &res);
	assert_int_equal(res.ncmds, 1);
	assert_string_equal(res.cmds[0].nodes[0], "b");
	assert_money(res.cmds[0].savings, 0.60);
	assert_int_equal(res.candidates_evaluated, 2);
	assert_true(res.pass_limit);
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

static void test_min_savings(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;
	struct kp_nodepool *np;

	(void)state;
	fx_init(&f);
	linear_types(&f);
	np = od_pool(&f);
	fx_node(&f, "a", "default", "large-8x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 1000, 1);
	f.opts.min_savings_percent = 80;   /* saves 0.30 of 0.40: 75% */
	run(&f, &res);
	assert_int_equal(res.ncmds, 0);
	assert_prefix(blocked_reason(&res, "a"), "not-cheaper: saves 75.0%, below nodepool default's minimum of 80.0%");
	kp_disrupt_result_free(&res);
	f.opts.min_savings_percent = 70;
	run(&f, &res);
	assert_int_equal(res.ncmds, 1);
	kp_disrupt_result_free(&res);
	fx_ann(&f, &np->annotations, KP_ANN_MIN_SAVINGS_PER_HOUR, "0.31");
	run(&f, &res);
	assert_int_equal(res.ncmds, 0);
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

/* ---- drift and expiration ---- */

static void test_drift_replace_and_budget(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;
	struct kp_nodepool *np;

	/* drift_test.go It("can replace drifted nodes"), It("should allow no empty nodes to be disrupted") */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	np = od_pool(&f);
	fx_pool_req(&f, np, KP_LABEL_INSTANCE_TYPE, KP_OP_IN, "large-8x", NULL);
	fx_node(&f, "a", "default", "medium-4x", "on-demand");
	fx_node(&f, "b", "default", "medium-4x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 3000, 1);
	fx_pod(&f, "p2", "b", "x", 3000, 1);
	run(&f, &res);
	assert_true(res.ncmds >= 2);
	assert_int_equal(res.cmds[0].method, KP_DISRUPT_DRIFT);
	assert_int_equal(res.cmds[0].action, KP_DISRUPT_REPLACE);
	assert_string_equal(res.cmds[0].repl[0].itype->name, "large-8x");
	assert_money(res.cmds[0].savings, -0.20);
	assert_prefix(res.cmds[0].reason, "Drifted: RequirementsDrifted");
	assert_int_equal(res.cmds[1].method, KP_DISRUPT_DRIFT);
	kp_disrupt_result_free(&res);

	fx_budget(&f, np, "0", NULL, 0, KP_REASON_DRIFTED);
	run(&f, &res);
	for (int i = 0; i < res.ncmds; i++)
		assert_true(res.cmds[i].method != KP_DISRUPT_DRIFT);
	assert_prefix(blocked_reason(&res, "a"), "budget: nodepool default allows 0 disruptions for Drifted now");
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

static void test_drift_empty_batch(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;
	struct kp_nodepool *np;

	/* drift_test.go It("should disrupt all empty drifted nodes in parallel") */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	np = od_pool(&f);
	fx_budget(&f, np, "100%", NULL, 0, 0);
	np->consolidate_after_ms = KP_NEVER;   /* so emptiness does not take them first */
	fx_pool_req(&f, np, KP_LABEL_INSTANCE_TYPE, KP_OP_IN, "large-8x", NULL);
	fx_node(&f, "a", "default", "medium-4x", "on-demand");
	fx_node(&f, "b", "default", "medium-4x", "on-demand");
	run(&f, &res);
	assert_int_equal(res.ncmds, 1);
	assert_int_equal(res.cmds[0].method, KP_DISRUPT_DRIFT);
	assert_int_equal(res.cmds[0].action, KP_DISRUPT_DELETE);
	assert_int_equal(res.cmds[0].nnodes, 2);
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

static void test_expiration_v1_ignores_blocks(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;
	struct kp_nodepool *np;

	/* nodeclaim/expiration suite_test.go It("should remove nodeclaims that are expired") */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	np = od_pool(&f);
	np->expire_after_ms = 24LL * 3600 * 1000;
	fx_budget(&f, np, "0", NULL, 0, 0);
	fx_node(&f, "old", "default", "medium-4x", "on-demand")->created = FX_NOW - 48 * FX_HOUR;
	fx_node(&f, "new", "default", "medium-4x", "on-demand");
	fx_pod(&f, "p1", "old", "x", 3000, 1);
	fx_ann(&f, &f.c.pods[0]->annotations, KP_ANN_DO_NOT_DISRUPT, "true");
	fx_pod(&f, "p2", "new", "x", 3000, 1);
	run(&f, &res);
	assert_int_equal(res.ncmds, 1);
	assert_int_equal(res.cmds[0].method, KP_DISRUPT_EXPIRATION);
	assert_int_equal(res.cmds[0].action, KP_DISRUPT_DELETE);
	assert_string_equal(res.cmds[0].nodes[0], "old");
	/* the provisioner relaunches for p1 */
	assert_int_equal(res.cmds[0].nrepl, 1);
	assert_string_equal(res.cmds[0].repl[0].itype->name, "medium-4x");
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

static void test_expiration_beta_budgeted(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;
	struct kp_nodepool *np;

	/* v0.37 expiration_test.go It("should allow no empty nodes to be disrupted") */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	np = od_pool(&f);
	np->api_version = "karpenter.sh/v1beta1";
	np->v1beta1_expiry = true;
	np->expire_after_ms = 24LL * 3600 * 1000;
	fx_budget(&f, np, "0", NULL, 0, 0);
	fx_node(&f, "old", "default", "medium-4x", "on-demand")->created = FX_NOW - 48 * FX_HOUR;
	fx_pod(&f, "p1", "old", "x", 3000, 1);
	run(&f, &res);
	assert_int_equal(res.ncmds, 0);
	assert_prefix(blocked_reason(&res, "old"), "budget: nodepool default allows 0 disruptions for Expired now");
	kp_disrupt_result_free(&res);
	np->budgets[0].nodes = 1;
	run(&f, &res);
	assert_int_equal(res.ncmds, 1);
	assert_int_equal(res.cmds[0].method, KP_DISRUPT_EXPIRATION);
	assert_int_equal(res.cmds[0].action, KP_DISRUPT_REPLACE);
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

/* ---- passes ---- */

static void test_passes_apply(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;

	/* suite_test.go It("should allow multiple replace operations to happen successively") */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	od_pool(&f);
	fx_node(&f, "a", "default", "xlarge-16x", "on-demand");
	fx_node(&f, "b", "default", "xlarge-16x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 3000, 1);
	fx_pod(&f, "p2", "b", "y", 3000, 1);
	run(&f, &res);
	/* pass 1 moves p1 to b (delete a); pass 2 replaces b by a large-8x (6 cpu) */
	assert_int_equal(res.ncmds, 2);
	assert_int_equal(res.cmds[0].action, KP_DISRUPT_DELETE);
	assert_string_equal(res.cmds[0].nodes[0], "a");
	assert_int_equal(res.cmds[1].pass, 1);
	assert_int_equal(res.cmds[1].action, KP_DISRUPT_REPLACE);
	assert_string_equal(res.cmds[1].nodes[0], "b");
	assert_string_equal(res.cmds[1].repl[0].itype->name, "large-8x");
	assert_int_equal(res.cmds[1].npods, 2);
	assert_int_equal(res.npasses, 3);
	/* the input cluster is untouched */
	assert_int_equal(f.c.nnodes, 2);
	assert_string_equal(f.c.pods[0]->node_name, "a");
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

static void test_pending_settled_first(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;

	(void)state;
	fx_init(&f);
	linear_types(&f);
	od_pool(&f);
	fx_node(&f, "a", "default", "medium-4x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 3000, 1);
	/* fits on a: bound there, so a is full and nothing is cheaper */
	fx_pod(&f, "pending-small", NULL, "y", 1000, 1);
	/* fits nowhere: the provisioner launches default-1 (xlarge-16x), named
	 * as simulate names its first nodeClaim */
	fx_pod(&f, "pending-big", NULL, "z", 12000, 1);
	run(&f, &res);
	/* default-1 (xlarge, 12 cpu used) ranks first and has no cheaper fit;
	 * a's 4 cpu then fit in default-1's room: a is deleted */
	assert_int_equal(res.ncmds, 1);
	assert_int_equal(res.cmds[0].method, KP_DISRUPT_SINGLE);
	assert_string_equal(res.cmds[0].nodes[0], "a");
	assert_int_equal(res.cmds[0].npods, 2);
	assert_int_equal(res.nblocked, 1);
	assert_string_equal(res.blocked[0].node, "default-1");
	assert_string_equal(res.blocked[0].code, "not-cheaper");
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

static void test_replacement_survives_its_pass(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;
	struct kp_nodepool *np;
	struct kp_daemonset *ds;
	struct kp_toleration *tol;

	/* a tainted pool and a DaemonSet: the replacement launched in pass 1
	 * keeps its taint and gets the daemon pod; pass 2 schedules around it */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	np = od_pool(&f);
	fx_budget(&f, np, "100%", NULL, 0, 0);
	np->taints.t = kp_arena_calloc(&f.c.arena, 1, sizeof(*np->taints.t));
	assert_non_null(np->taints.t);
	np->taints.t[0] = (struct kp_taint){ "dedicated", "batch", KP_EFFECT_NOSCHEDULE };
	np->taints.n = 1;
	tol = kp_arena_calloc(&f.c.arena, 1, sizeof(*tol));
	assert_non_null(tol);
	*tol = (struct kp_toleration){ .key = "dedicated", .op = KP_TOL_EXISTS };
	ds = kp_arena_calloc(&f.c.arena, 1, sizeof(*ds));
	assert_non_null(ds);
	ds->ns = "kube-system";
	ds->name = "agent";
	ds->tmpl.requests.v[KP_RES_CPU] = 500;
	ds->tmpl.tolerations.n = 1;
	ds->tmpl.tolerations.t = tol;
	assert_int_equal(kp_cluster_add_daemonset(&f.c, ds), KP_OK);
	for (int i = 0; i < 3; i++) {
		char name[16], pod[16];
		struct kp_node *n;
		struct kp_pod *p;

		snprintf(name, sizeof(name), "n%d", i);
		snprintf(pod, sizeof(pod), "p%d", i);
		n = fx_node(&f, name, "default", "large-8x", "on-demand");
		n->taints = np->taints;
		p = fx_pod(&f, pod, name, "x", 1000, 1);
		p->tolerations.n = 1;
		p->tolerations.t = tol;
	}
	run(&f, &res);
	assert_true(res.ncmds >= 1);
	assert_int_equal(res.cmds[0].method, KP_DISRUPT_MULTI);
	assert_int_equal(res.cmds[0].nrepl, 1);
	/* 3 pods + 500m daemon overhead = 3.5 cpu: medium-4x */
	assert_string_equal(res.cmds[0].repl[0].itype->name, "medium-4x");
	assert_int_equal(res.npasses, res.ncmds + 1);
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

/* ---- pool split (cost packing, split.c) ---- */

static int pass_node(const struct kp_disrupt__pass *p, const char *name)
{
	for (int i = 0; i < p->nnodes; i++)
		if (strcmp(p->nodes[i].node->name, name) == 0)
			return i;
	fail_msg("no pass node %s", name);
	return -1;
}

static void test_split_order_and_settle(void **state)
{
	struct fx f;
	struct kp_disrupt__world w;
	struct kp_disrupt__pass p;
	int cand[3], n;

	/* unit prices: cpu $0.05, memory $0.025/Gi (every type is linear) */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	od_pool(&f);
	fx_node(&f, "a", "default", "medium-4x", "on-demand");    /* full: $0.20 - $0.20, left out */
	fx_node(&f, "b", "default", "large-8x", "on-demand");     /* $0.40 - $0.20 */
	fx_node(&f, "c", "default", "xlarge-16x", "on-demand");   /* $0.80 - $0.05: most wasted */
	fx_pod(&f, "p1", "a", "x", 4000, 1);
	fx_pod(&f, "p2", "b", "x", 4000, 1);
	fx_pod(&f, "p3", "c", "x", 1000, 1);
	f.opts.sched.packing = KP_PACKING_COST;
	assert_int_equal(kp_disrupt__world_init(&w, &f.c, &f.eb), KP_OK);
	assert_int_equal(kp_disrupt__pass_build(&p, &w, &f.cat, &f.opts, 0, &f.eb), KP_OK);
	cand[0] = pass_node(&p, "a");
	cand[1] = pass_node(&p, "b");
	cand[2] = pass_node(&p, "c");
	assert_true(kp_disrupt__split_allowed(&p, cand, 3));
	n = kp_disrupt__split_order(&p, cand, 3, false);
	assert_int_equal(n, 2);
	assert_string_equal(p.nodes[cand[0]].node->name, "c");
	assert_string_equal(p.nodes[cand[1]].node->name, "b");
	/* settled nodes leave the pool split; single-node order keeps them */
	assert_int_equal(kp_disrupt__split_settle(&p, cand, 1), KP_OK);
	cand[0] = pass_node(&p, "a");
	cand[1] = pass_node(&p, "b");
	cand[2] = pass_node(&p, "c");
	n = kp_disrupt__split_order(&p, cand, 3, false);
	assert_int_equal(n, 1);
	assert_string_equal(p.nodes[cand[0]].node->name, "b");
	cand[0] = pass_node(&p, "a");
	cand[1] = pass_node(&p, "b");
	cand[2] = pass_node(&p, "c");
	n = kp_disrupt__split_order(&p, cand, 3, true);
	assert_int_equal(n, 3);
	assert_string_equal(p.nodes[cand[0]].node->name, "c");
	assert_string_equal(p.nodes[cand[1]].node->name, "b");
	assert_string_equal(p.nodes[cand[2]].node->name, "a");
	/* Karpenter packing: no split */
	f.opts.sched.packing = KP_PACKING_KARPENTER;
	assert_false(kp_disrupt__split_allowed(&p, cand, 3));
	kp_disrupt__pass_free(&p);
	kp_disrupt__world_free(&w);
	fx_free(&f);
}

static void test_pool_split_run(void **state)
{
	struct fx f;
	struct kp_disrupt_result res;
	double saved = 0;

	/* three xlarge-16x ($0.80) with one 3 cpu pod each, a medium-4x its pod
	 * fills; every node may go at once. Cost packing: one command re-packs
	 * the three wasted nodes into $0.60 of new nodes (9 cpu: a large-8x and a
	 * medium-4x, or three medium-4x); the full node stays. */
	(void)state;
	fx_init(&f);
	linear_types(&f);
	fx_budget(&f, od_pool(&f), "100%", NULL, 0, 0);
	fx_node(&f, "a", "default", "xlarge-16x", "on-demand");
	fx_node(&f, "b", "default", "xlarge-16x", "on-demand");
	fx_node(&f, "c", "default", "xlarge-16x", "on-demand");
	fx_node(&f, "d", "default", "medium-4x", "on-demand");
	fx_pod(&f, "p1", "a", "x", 3000, 1);
	fx_pod(&f, "p2", "b", "y", 3000, 1);
	fx_pod(&f, "p3", "c", "z", 3000, 1);
	fx_pod(&f, "p4", "d", "w", 4000, 1);
	f.opts.sched.packing = KP_PACKING_COST;
	run(&f, &res);
	assert_int_equal(res.ncmds, 1);
	assert_int_equal(res.cmds[0].method, KP_DISRUPT_SPLIT);
	assert_int_equal(res.cmds[0].nnodes, 3);
	assert_true(res.cmds[0].nrepl >= 2);
	assert_money(res.cmds[0].savings, 1.80);
	assert_int_equal(res.cmds[0].npods, 3);
	kp_disrupt_result_free(&res);
	/* Karpenter packing: never split, and it saves no more */
	f.opts.sched.packing = KP_PACKING_KARPENTER;
	run(&f, &res);
	for (int i = 0; i < res.ncmds; i++) {
		assert_int_not_equal(res.cmds[i].method, KP_DISRUPT_SPLIT);
		saved += res.cmds[i].savings;
	}
	assert_true(saved <= 1.80 + 1e-9);
	kp_disrupt_result_free(&res);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worst_launch_price),
		cmocka_unit_test(test_single_delete),
		cmocka_unit_test(test_single_replace_cheaper),
		cmocka_unit_test(test_single_not_cheaper),
		cmocka_unit_test(test_single_pods_do_not_fit),
		cmocka_unit_test(test_uninitialized_target),
		cmocka_unit_test(test_spot_to_spot),
		cmocka_unit_test(test_spot_not_replaced_by_on_demand),
		cmocka_unit_test(test_on_demand_to_spot),
		cmocka_unit_test(test_multi_three_to_one),
		cmocka_unit_test(test_multi_same_type_filtered),
		cmocka_unit_test(test_repack),
		cmocka_unit_test(test_evaluate_all),
		cmocka_unit_test(test_min_savings),
		cmocka_unit_test(test_drift_replace_and_budget),
		cmocka_unit_test(test_drift_empty_batch),
		cmocka_unit_test(test_expiration_v1_ignores_blocks),
		cmocka_unit_test(test_expiration_beta_budgeted),
		cmocka_unit_test(test_passes_apply),
		cmocka_unit_test(test_pending_settled_first),
		cmocka_unit_test(test_replacement_survives_its_pass),
		cmocka_unit_test(test_split_order_and_settle),
		cmocka_unit_test(test_pool_split_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
