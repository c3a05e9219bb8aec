/*
 * disrupt_fixture.h - builds small clusters and catalogs in code for the
 * disruption unit tests: NodePools, instance types with on-demand and spot
 * offerings, Karpenter-labelled nodes, pods bound by nodeName, PDBs.
 *
 * Everything lives in the fixture's cluster and catalog arenas; fx_free
 * releases it. Helpers fail the test (cmocka) on allocation failure.
 * Times: FX_NOW is the clock; objects are created an hour earlier unless a
 * test says otherwise.
 */
#ifndef KARPENTER_TESTS_DISRUPT_FIXTURE_H
#define KARPENTER_TESTS_DISRUPT_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/catalog.h"
#include "karpenter/disrupt.h"
#include "karpenter/objects.h"

#define FX_NOW 1704067200          /* 2024-01-01T00:00:00Z */
#define FX_HOUR 3600
#define FX_GI (1024LL * 1024 * 1024)

struct fx {
	struct kp_cluster c;
	struct kp_catalog cat;
	struct kp_errbuf eb;
	struct kp_disrupt_opts opts;
};

static inline void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	kp_cluster_init(&f->c);
	kp_catalog_init(&f->cat);
	kp_disrupt_opts_default(&f->opts);
	f->opts.now = FX_NOW;
}

static inline void fx_free(struct fx *f)
{
	kp_catalog_free(&f->cat);
	kp_cluster_free(&f->c);
}

static inline const char *fx_str(struct fx *f, const char *s)
{
	char *d = kp_arena_strdup(&f->c.arena, s);
	assert_non_null(d);
	return d;
}

static inline void fx_label(struct fx *f, struct kp_labels *l, const char *k, const char *v)
{
	assert_int_equal(kp_labels_set(l, &f->c.arena, fx_str(f, k), fx_str(f, v)), KP_OK);
}

/* ---- catalog ---- */

/* A type offered in zones a and b (test-zone-a/-b), on-demand at od and spot
 * at spot (spot <= 0: no spot offering). */
static inline struct kp_itype *fx_type(struct fx *f, const char *name, int64_t cpu_milli, int64_t mem_gi,
				       double od, double spot)
{
	static const char *const zones[] = { "test-zone-a", "test-zone-b" };
	struct kp_arena *a = &f->cat.arena;
	struct kp_itype *it = kp_arena_alloc(a, sizeof(*it));
	int n = 0;

	assert_non_null(it);
	it->name = kp_arena_strdup(a, name);
	assert_int_equal(kp_labels_set(&it->labels, a, KP_LABEL_INSTANCE_TYPE, it->name), KP_OK);
	assert_int_equal(kp_labels_set(&it->labels, a, KP_LABEL_ARCH, "amd64"), KP_OK);
	assert_int_equal(kp_labels_set(&it->labels, a, KP_LABEL_OS, "linux"), KP_OK);
	it->capacity.v[KP_RES_CPU] = cpu_milli;
	it->capacity.v[KP_RES_MEMORY] = mem_gi * FX_GI;
	it->capacity.v[KP_RES_PODS] = 110;
	it->off = kp_arena_calloc(a, 4, sizeof(*it->off));
	assert_non_null(it->off);
	for (int z = 0; z < 2; z++) {
		it->off[n++] = (struct kp_offering){ .zone = zones[z], .captype = KP_CAP_ON_DEMAND, .price = od,
						     .available = true };
		if (spot > 0)
			it->off[n++] = (struct kp_offering){ .zone = zones[z], .captype = KP_CAP_SPOT, .price = spot,
							     .available = true };
	}
	it->noff = n;
	assert_int_equal(kp_itype_finish(it, a, NULL), KP_OK);
	assert_int_equal(kp_catalog_add(&f->cat, it), KP_OK);
	kp_catalog_sort(&f->cat);
	return it;
}

/* ---- cluster ---- */

/* v1 pool: WhenEmptyOrUnderutilized, consolidateAfter 0s, expireAfter
 * Never, no budgets (default 10%), no requirements. */
static inline struct kp_nodepool *fx_pool(struct fx *f, const char *name)
{
	struct kp_nodepool *np = kp_arena_alloc(&f->c.arena, sizeof(*np));

	assert_non_null(np);
	np->name = fx_str(f, name);
	np->api_version = "karpenter.sh/v1";
	np->created = FX_NOW - 10 * FX_HOUR;
	np->policy = KP_CONSOLIDATE_WHEN_EMPTY_OR_UNDERUTILIZED;
	np->consolidate_after_ms = 0;
	np->expire_after_ms = KP_NEVER;
	np->termination_grace_ms = KP_NEVER;
	kp_reqs_init(&np->reqs);
	assert_int_equal(kp_cluster_add_pool(&f->c, np), KP_OK);
	return np;
}

static inline struct kp_budget *fx_budget(struct fx *f, struct kp_nodepool *np, const char *nodes,
					  const char *schedule, int64_t duration_ms, unsigned reasons)
{
	struct kp_budget *b = kp_arena_calloc(&f->c.arena, (size_t)np->nbudgets + 1, sizeof(*b));
	size_t len = strlen(nodes);
	int64_t v;

	assert_non_null(b);
	if (np->nbudgets)
		memcpy(b, np->budgets, (size_t)np->nbudgets * sizeof(*b));
	np->budgets = b;
	b = &np->budgets[np->nbudgets++];
	if (len && nodes[len - 1] == '%') {
		char tmp[16];
		assert_true(len < sizeof(tmp));
		memcpy(tmp, nodes, len - 1);
		tmp[len - 1] = '\0';
		assert_int_equal(kp_parse_i64(tmp, &v), KP_OK);
		b->percent = true;
	} else {
		assert_int_equal(kp_parse_i64(nodes, &v), KP_OK);
	}
	b->nodes = v;
	b->schedule = schedule ? fx_str(f, schedule) : NULL;
	b->duration_ms = duration_ms;
	b->reasons = reasons;
	return b;
}

/* Adds "key In [values...]" (NULL-terminated) to the pool's requirements. */
static inline void fx_pool_req(struct fx *f, struct kp_nodepool *np, const char *key, enum kp_op op, ...)
{
	const char *vals[16];
	int n = 0;
	struct kp_req r;
	va_list ap;

	va_start(ap, op);
	for (const char *v = va_arg(ap, const char *); v && n < 16; v = va_arg(ap, const char *))
		vals[n++] = v;
	va_end(ap);
	assert_int_equal(kp_req_make(&r, &f->c.arena, key, op, vals, n, 0, NULL), KP_OK);
	assert_int_equal(kp_reqs_add(&np->reqs, &f->c.arena, &r), KP_OK);
}

/* An initialized, ready Karpenter node of the type's allocatable, created an
 * hour ago, in test-zone-a. ct: "on-demand" or "spot". */
static inline struct kp_node *fx_node(struct fx *f, const char *name, const char *pool, const char *itype,
				      const char *ct)
{
	struct kp_node *n = kp_arena_alloc(&f->c.arena, sizeof(*n));
	const struct kp_itype *it = kp_catalog_find(&f->cat, itype);

	assert_non_null(n);
	n->name = fx_str(f, name);
	n->created = FX_NOW - FX_HOUR;
	n->ready = true;
	if (pool)
		fx_label(f, &n->labels, KP_LABEL_NODEPOOL, pool);
	fx_label(f, &n->labels, KP_LABEL_INSTANCE_TYPE, itype);
	fx_label(f, &n->labels, KP_LABEL_ZONE, "test-zone-a");
	fx_label(f, &n->labels, KP_LABEL_CAPACITY_TYPE, ct);
	fx_label(f, &n->labels, KP_LABEL_HOSTNAME, name);
	fx_label(f, &n->labels, KP_LABEL_INITIALIZED, "true");
	fx_label(f, &n->labels, KP_LABEL_ARCH, "amd64");
	fx_label(f, &n->labels, KP_LABEL_OS, "linux");
	if (it) {
		n->capacity = it->capacity;
		n->allocatable = it->allocatable;
	}
	assert_int_equal(kp_cluster_add_node(&f->c, n), KP_OK);
	return n;
}

/* A running pod in namespace "default" with app=<app>, created an hour ago;
 * node NULL = pending. */
static inline struct kp_pod *fx_pod(struct fx *f, const char *name, const char *node, const char *app,
				    int64_t cpu_milli, int64_t mem_gi)
{
	struct kp_pod *p = kp_arena_alloc(&f->c.arena, sizeof(*p));

	assert_non_null(p);
	p->ns = "default";
	p->name = fx_str(f, name);
	p->uid = p->name;
	p->created = FX_NOW - FX_HOUR;
	p->node_name = node ? fx_str(f, node) : NULL;
	p->phase = node ? "Running" : "Pending";
	p->owner_kind = "ReplicaSet";
	p->owner_name = "rs";
	p->termination_grace_s = 30;
	p->requests.v[KP_RES_CPU] = cpu_milli;
	p->requests.v[KP_RES_MEMORY] = mem_gi * FX_GI;
	if (app)
		fx_label(f, &p->labels, "app", app);
	assert_int_equal(kp_cluster_add_pod(&f->c, p), KP_OK);
	return p;
}

/* A PDB selecting app=<app>; allowed < 0 = no status (computed). */
static inline struct kp_pdb *fx_pdb(struct fx *f, const char *name, const char *app, int64_t allowed)
{
	struct kp_pdb *pdb = kp_arena_alloc(&f->c.arena, sizeof(*pdb));
	struct kp_selector *sel = kp_arena_alloc(&f->c.arena, sizeof(*sel));

	assert_non_null(pdb);
	assert_non_null(sel);
	fx_label(f, &sel->match_labels, "app", app);
	pdb->ns = "default";
	pdb->name = fx_str(f, name);
	pdb->selector = sel;
	if (allowed >= 0) {
		pdb->has_status = true;
		pdb->disruptions_allowed = allowed;
	}
	assert_int_equal(kp_cluster_add_pdb(&f->c, pdb), KP_OK);
	return pdb;
}

static inline void fx_ann(struct fx *f, struct kp_labels *ann, const char *k, const char *v)
{
	fx_label(f, ann, k, v);
}

#endif
