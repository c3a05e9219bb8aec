/*
 * test_cluster.c - cluster arrays, lookups, node <-> NodeClaim links and
 * capacity type names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/objects.h"

static struct kp_node *mknode(struct kp_cluster *c, const char *name, const char *pid)
{
	struct kp_node *n = kp_arena_alloc(&c->arena, sizeof(*n));

	assert_non_null(n);
	n->name = name;
	n->provider_id = pid;
	assert_int_equal(kp_cluster_add_node(c, n), KP_OK);
	return n;
}

static struct kp_nodeclaim *mkclaim(struct kp_cluster *c, const char *name, const char *pid,
				    const char *node_name)
{
	struct kp_nodeclaim *nc = kp_arena_alloc(&c->arena, sizeof(*nc));

	assert_non_null(nc);
	nc->name = name;
	nc->provider_id = pid;
	nc->node_name = node_name;
	assert_int_equal(kp_cluster_add_claim(c, nc), KP_OK);
	return nc;
}

static void test_init_free(void **state)
{
	struct kp_cluster c;

	(void)state;
	kp_cluster_init(&c);
	assert_int_equal(c.npods, 0);
	assert_null(c.pods);
	assert_int_equal(c.resnames.n, KP_RES_NWELLKNOWN);
	assert_string_equal(c.resnames.name[KP_RES_MEMORY], "memory");
	kp_cluster_free(&c);
	kp_cluster_free(&c);                 /* twice is fine */
	kp_cluster_free(NULL);
}

static void test_add_many(void **state)
{
	struct kp_cluster c;
	struct kp_pod *pods[1000];

	(void)state;
	kp_cluster_init(&c);
	for (int i = 0; i < 1000; i++) {
		pods[i] = kp_arena_alloc(&c.arena, sizeof(*pods[i]));
		assert_non_null(pods[i]);
		pods[i]->name = kp_arena_printf(&c.arena, "p%d", i);
		assert_int_equal(kp_cluster_add_pod(&c, pods[i]), KP_OK);
	}
	assert_int_equal(c.npods, 1000);
	assert_true(c.cap_pods >= 1000);
	for (int i = 0; i < 1000; i++)
		assert_ptr_equal(c.pods[i], pods[i]);      /* insertion order kept */
	assert_int_equal(kp_cluster_add_pod(&c, NULL), KP_ERR_INVALID);
	assert_int_equal(c.npods, 1000);
	kp_cluster_free(&c);
}

static void test_add_each_kind(void **state)
{
	struct kp_cluster c;
	struct kp_daemonset ds = { .name = "ds" };
	struct kp_pdb pdb = { .name = "pdb" };
	struct kp_namespace ns = { .name = "default" };
	struct kp_nodeclass ncl = { .name = "default" };
	struct kp_nodepool np = { .name = "general" };
	struct kp_nodeclaim claim = { .name = "general-abc" };

	(void)state;
	kp_cluster_init(&c);
	assert_int_equal(kp_cluster_add_daemonset(&c, &ds), KP_OK);
	assert_int_equal(kp_cluster_add_pdb(&c, &pdb), KP_OK);
	assert_int_equal(kp_cluster_add_namespace(&c, &ns), KP_OK);
	assert_int_equal(kp_cluster_add_nodeclass(&c, &ncl), KP_OK);
	assert_int_equal(kp_cluster_add_pool(&c, &np), KP_OK);
	assert_int_equal(kp_cluster_add_claim(&c, &claim), KP_OK);
	assert_int_equal(c.ndaemonsets, 1);
	assert_int_equal(c.npdbs, 1);
	assert_int_equal(c.nnamespaces, 1);
	assert_int_equal(c.nnodeclasses, 1);
	assert_int_equal(c.npools, 1);
	assert_int_equal(c.nclaims, 1);
	assert_ptr_equal(c.daemonsets[0], &ds);
	assert_ptr_equal(c.pdbs[0], &pdb);
	assert_ptr_equal(c.nodeclasses[0], &ncl);
	assert_ptr_equal(c.claims[0], &claim);
	kp_cluster_free(&c);
}

static void test_lookups(void **state)
{
	struct kp_cluster c;
	struct kp_nodepool a = { .name = "a" }, b = { .name = "b" }, b2 = { .name = "b" };
	struct kp_namespace ns1 = { .name = "default" }, ns2 = { .name = "kube-system" };
	struct kp_node *n1, *n2;

	(void)state;
	kp_cluster_init(&c);
	assert_null(kp_cluster_node(&c, "x"));
	assert_null(kp_cluster_pool(&c, "x"));
	assert_null(kp_cluster_namespace(&c, "x"));
	for (int i = 0; i < 40; i++)
		mknode(&c, kp_arena_printf(&c.arena, "filler-%d", i), NULL);
	n1 = mknode(&c, "node-1", "aws:///us-east-1a/i-1");
	n2 = mknode(&c, "node-2", NULL);
	assert_int_equal(kp_cluster_add_pool(&c, &a), KP_OK);
	assert_int_equal(kp_cluster_add_pool(&c, &b), KP_OK);
	assert_int_equal(kp_cluster_add_pool(&c, &b2), KP_OK);
	assert_int_equal(kp_cluster_add_namespace(&c, &ns1), KP_OK);
	assert_int_equal(kp_cluster_add_namespace(&c, &ns2), KP_OK);

	assert_ptr_equal(kp_cluster_node(&c, "node-1"), n1);
	assert_ptr_equal(kp_cluster_node(&c, "node-2"), n2);
	assert_null(kp_cluster_node(&c, "node-3"));
	assert_null(kp_cluster_node(&c, NULL));
	assert_ptr_equal(kp_cluster_pool(&c, "a"), &a);
	assert_ptr_equal(kp_cluster_pool(&c, "b"), &b);      /* first of duplicates */
	assert_ptr_equal(kp_cluster_namespace(&c, "kube-system"), &ns2);
	assert_null(kp_cluster_namespace(&c, "kube"));
	kp_cluster_free(&c);
}

static void test_link_by_provider_id(void **state)
{
	struct kp_cluster c;
	struct kp_node *n1, *n2;
	struct kp_nodeclaim *c1, *c2, *c3;

	(void)state;
	kp_cluster_init(&c);
	n1 = mknode(&c, "ip-10-0-0-1", "aws:///us-east-1a/i-1");
	n2 = mknode(&c, "ip-10-0-0-2", "aws:///us-east-1b/i-2");
	/* claim 1 points at n2 by providerID although its nodeName says n1 */
	c1 = mkclaim(&c, "default-a", "aws:///us-east-1b/i-2", "ip-10-0-0-1");
	c2 = mkclaim(&c, "default-b", "aws:///us-east-1a/i-1", NULL);
	c3 = mkclaim(&c, "default-c", NULL, NULL);       /* not launched */
	kp_cluster_link(&c);
	assert_ptr_equal(c1->node, n2);
	assert_ptr_equal(n2->claim, c1);
	assert_ptr_equal(c2->node, n1);
	assert_ptr_equal(n1->claim, c2);
	assert_null(c3->node);
	kp_cluster_free(&c);
}

static void test_link_by_node_name(void **state)
{
	struct kp_cluster c;
	struct kp_node *n1, *n2, *n3;
	struct kp_nodeclaim *c1, *c2, *c3, *c4;

	(void)state;
	kp_cluster_init(&c);
	n1 = mknode(&c, "kwok-1", NULL);
	n2 = mknode(&c, "kwok-2", "kwok://kwok-2");
	n3 = mknode(&c, "kwok-3", "kwok://kwok-3");
	c1 = mkclaim(&c, "a", "kwok://kwok-1", "kwok-1");   /* node has no providerID: by name */
	c2 = mkclaim(&c, "b", NULL, "kwok-2");              /* claim has none: by name */
	c3 = mkclaim(&c, "c", "kwok://other", "kwok-3");    /* both set and different: no link */
	c4 = mkclaim(&c, "d", NULL, "kwok-2");              /* kwok-2 already taken */
	kp_cluster_link(&c);
	assert_ptr_equal(c1->node, n1);
	assert_ptr_equal(n1->claim, c1);
	assert_ptr_equal(c2->node, n2);
	assert_ptr_equal(n2->claim, c2);
	assert_null(c3->node);
	assert_null(n3->claim);
	assert_null(c4->node);
	kp_cluster_free(&c);
}

static void test_link_provider_beats_name(void **state)
{
	struct kp_cluster c;
	struct kp_node *n1;
	struct kp_nodeclaim *c1, *c2;

	(void)state;
	kp_cluster_init(&c);
	n1 = mknode(&c, "n1", "p1");
	/* the name match comes first in order, but providerID pass runs first */
	c1 = mkclaim(&c, "by-name", NULL, "n1");
	c2 = mkclaim(&c, "by-pid", "p1", NULL);
	kp_cluster_link(&c);
	assert_ptr_equal(c2->node, n1);
	assert_ptr_equal(n1->claim, c2);
	assert_null(c1->node);
	kp_cluster_free(&c);
}

static void test_link_duplicates_and_relink(void **state)
{
	struct kp_cluster c;
	struct kp_node *n[3];
	struct kp_nodeclaim *a, *b, *d;

	(void)state;
	kp_cluster_init(&c);
	/* many nodes so the sorted index matters; two share a providerID */
	for (int i = 0; i < 50; i++)
		mknode(&c, kp_arena_printf(&c.arena, "x%02d", i), kp_arena_printf(&c.arena, "pid-%02d", i));
	n[0] = mknode(&c, "dup-1", "pid-dup");
	n[1] = mknode(&c, "dup-2", "pid-dup");
	n[2] = mknode(&c, "dup-3", "pid-dup");
	a = mkclaim(&c, "a", "pid-dup", NULL);
	b = mkclaim(&c, "b", "pid-dup", NULL);
	d = mkclaim(&c, "d", "pid-07", NULL);
	kp_cluster_link(&c);
	assert_ptr_equal(a->node, n[0]);          /* insertion order among equals */
	assert_ptr_equal(b->node, n[1]);
	assert_null(n[2]->claim);
	assert_non_null(d->node);
	assert_string_equal(d->node->name, "x07");

	/* stale links are cleared on relink */
	a->provider_id = "pid-none";
	kp_cluster_link(&c);
	assert_null(a->node);
	assert_ptr_equal(b->node, n[0]);
	assert_null(n[1]->claim);
	kp_cluster_free(&c);
}

static void test_captype(void **state)
{
	(void)state;
	assert_string_equal(kp_captype_name(KP_CAP_ON_DEMAND), "on-demand");
	assert_string_equal(kp_captype_name(KP_CAP_SPOT), "spot");
	assert_string_equal(kp_captype_name(KP_CAP_RESERVED), "reserved");
	assert_string_equal(kp_captype_name(KP_CAP_COUNT), "unknown");
	assert_int_equal(kp_captype_parse("on-demand"), KP_CAP_ON_DEMAND);
	assert_int_equal(kp_captype_parse("spot"), KP_CAP_SPOT);
	assert_int_equal(kp_captype_parse("reserved"), KP_CAP_RESERVED);
	assert_int_equal(kp_captype_parse("Spot"), -1);
	assert_int_equal(kp_captype_parse(""), -1);
	assert_int_equal(kp_captype_parse(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_free),
		cmocka_unit_test(test_add_many),
		cmocka_unit_test(test_add_each_kind),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_link_by_provider_id),
		cmocka_unit_test(test_link_by_node_name),
		cmocka_unit_test(test_link_provider_beats_name),
		cmocka_unit_test(test_link_duplicates_and_relink),
		cmocka_unit_test(test_captype),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
