/*
 * sched_fixture.h - builds clusters and catalogs in code for the scheduler
 * tests (tests/unit/test_sched*.c).
 *
 * Everything is allocated in the cluster's or the catalog's arena; fx_free
 * releases it all. Helpers abort the test (cmocka fail) on any error, so a
 * test reads as a list of objects and expectations. Quantities are strings
 * as in manifests ("500m", "2Gi").
 */
#ifndef SCHED_FIXTURE_H
#define SCHED_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/catalog.h"
#include "karpenter/sched.h"

struct fx {
	struct kp_cluster cl;
	struct kp_catalog cat;
	struct kp_sched_opts opts;
	struct kp_plan plan;
	struct kp_errbuf eb;
	int seq;
};

static inline struct kp_arena *fx_a(struct fx *f)
{
	return &f->cl.arena;
}

static inline void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	kp_cluster_init(&f->cl);
	kp_resnames_init(&f->cl.resnames);
	kp_catalog_init(&f->cat);
	kp_sched_opts_default(&f->opts);
}

static inline void fx_free(struct fx *f)
{
	kp_plan_free(&f->plan);
	kp_catalog_free(&f->cat);
	kp_cluster_free(&f->cl);
}

static inline void fx_res(struct fx *f, struct kp_res *r, const char *cpu, const char *mem, int pods)
{
	if (cpu)
		assert_int_equal(kp_res_set_str(r, KP_RES_CPU, cpu, &f->eb), KP_OK);
	if (mem)
		assert_int_equal(kp_res_set_str(r, KP_RES_MEMORY, mem, &f->eb), KP_OK);
	if (pods)
		r->v[KP_RES_PODS] = pods;
}

/* ---- catalog ---- */

static inline struct kp_itype *fx_type(struct fx *f, const char *name, const char *cpu, const char *mem, int pods)
{
	struct kp_itype *it = kp_arena_alloc(&f->cat.arena, sizeof(*it));

	assert_non_null(it);
	it->name = kp_arena_strdup(&f->cat.arena, name);
	fx_res(f, &it->capacity, cpu, mem, pods);
	assert_int_equal(kp_labels_set(&it->labels, &f->cat.arena, KP_LABEL_INSTANCE_TYPE, it->name), KP_OK);
	assert_int_equal(kp_labels_set(&it->labels, &f->cat.arena, KP_LABEL_ARCH, "amd64"), KP_OK);
	assert_int_equal(kp_labels_set(&it->labels, &f->cat.arena, KP_LABEL_OS, "linux"), KP_OK);
	assert_int_equal(kp_catalog_add(&f->cat, it), KP_OK);
	return it;
}

static inline void fx_type_label(struct fx *f, struct kp_itype *it, const char *k, const char *v)
{
	assert_int_equal(kp_labels_set(&it->labels, &f->cat.arena, k, v), KP_OK);
}

static inline void fx_offer(struct fx *f, struct kp_itype *it, const char *zone, enum kp_captype ct, double price,
			    bool avail)
{
	struct kp_offering *o = kp_arena_grow(&f->cat.arena, it->off, (size_t)it->noff, (size_t)it->noff + 1,
					      sizeof(*o));
	assert_non_null(o);
	it->off = o;
	o[it->noff].zone = kp_arena_strdup(&f->cat.arena, zone);
	o[it->noff].captype = ct;
	o[it->noff].price = price;
	o[it->noff].available = avail;
	it->noff++;
}

/* A type with on-demand offerings in zones a..c at price, spot at price/2. */
static inline struct kp_itype *fx_type_std(struct fx *f, const char *name, const char *cpu, const char *mem,
					   int pods, double price)
{
	struct kp_itype *it = fx_type(f, name, cpu, mem, pods);
	static const char *const zones[] = { "test-zone-a", "test-zone-b", "test-zone-c" };

	for (int i = 0; i < 3; i++) {
		fx_offer(f, it, zones[i], KP_CAP_ON_DEMAND, price, true);
		fx_offer(f, it, zones[i], KP_CAP_SPOT, price / 2, true);
	}
	return it;
}

static inline void fx_catalog_done(struct fx *f)
{
	for (int i = 0; i < f->cat.n; i++)
		assert_int_equal(kp_itype_finish(f->cat.types[i], &f->cat.arena, &f->eb), KP_OK);
	kp_catalog_sort(&f->cat);
}

/* ---- requirements and selectors ---- */

static inline struct kp_req fx_req(struct fx *f, const char *key, enum kp_op op, const char *v1, const char *v2,
				   const char *v3)
{
	const char *v[3];
	int n = 0;
	struct kp_req r;

	if (v1)
		v[n++] = v1;
	if (v2)
		v[n++] = v2;
	if (v3)
		v[n++] = v3;
	assert_int_equal(kp_req_make(&r, fx_a(f), key, op, v, n, 0, &f->eb), KP_OK);
	return r;
}

static inline struct kp_selector *fx_sel(struct fx *f, const char *k, const char *v)
{
	struct kp_selector *s = kp_arena_alloc(fx_a(f), sizeof(*s));

	assert_non_null(s);
	if (k)
		assert_int_equal(kp_labels_set(&s->match_labels, fx_a(f), k, v), KP_OK);
	return s;
}

/* ---- pools ---- */

static inline struct kp_nodepool *fx_pool(struct fx *f, const char *name, int weight)
{
	struct kp_nodepool *np = kp_arena_alloc(fx_a(f), sizeof(*np));

	assert_non_null(np);
	np->name = kp_arena_strdup(fx_a(f), name);
	np->weight = weight;
	np->expire_after_ms = KP_NEVER;
	np->termination_grace_ms = KP_NEVER;
	np->consolidate_after_ms = 0;
	assert_int_equal(kp_cluster_add_pool(&f->cl, np), KP_OK);
	return np;
}

static inline void fx_pool_req(struct fx *f, struct kp_nodepool *np, struct kp_req r)
{
	assert_int_equal(kp_reqs_add(&np->reqs, fx_a(f), &r), KP_OK);
}

static inline void fx_pool_label(struct fx *f, struct kp_nodepool *np, const char *k, const char *v)
{
	assert_int_equal(kp_labels_set(&np->labels, fx_a(f), k, v), KP_OK);
}

static inline void fx_taint_add(struct fx *f, struct kp_taints *t, const char *k, const char *v, enum kp_effect e)
{
	struct kp_taint *n = kp_arena_grow(fx_a(f), t->t, (size_t)t->n, (size_t)t->n + 1, sizeof(*n));

	assert_non_null(n);
	n[t->n].key = k;
	n[t->n].value = v;
	n[t->n].effect = e;
	t->t = n;
	t->n++;
}

static inline void fx_pool_limit(struct fx *f, struct kp_nodepool *np, int idx, const char *q)
{
	assert_int_equal(kp_res_set_str(&np->limits, idx, q, &f->eb), KP_OK);
	np->limit_mask |= 1u << idx;
}

/* ---- pods ---- */

static inline struct kp_pod *fx_pod_new(struct fx *f, const char *name, const char *cpu, const char *mem)
{
	struct kp_pod *p = kp_arena_alloc(fx_a(f), sizeof(*p));
	char uid[32];

	assert_non_null(p);
	p->ns = "default";
	p->name = kp_arena_strdup(fx_a(f), name);
	snprintf(uid, sizeof(uid), "uid-%05d", ++f->seq);
	p->uid = kp_arena_strdup(fx_a(f), uid);
	p->created = 1000 + f->seq;
	p->termination_grace_s = 30;
	fx_res(f, &p->requests, cpu, mem, 0);
	return p;
}

static inline struct kp_pod *fx_pod(struct fx *f, const char *name, const char *cpu, const char *mem)
{
	struct kp_pod *p = fx_pod_new(f, name, cpu, mem);

	assert_int_equal(kp_cluster_add_pod(&f->cl, p), KP_OK);
	return p;
}

static inline void fx_pod_label(struct fx *f, struct kp_pod *p, const char *k, const char *v)
{
	assert_int_equal(kp_labels_set(&p->labels, fx_a(f), k, v), KP_OK);
}

static inline void fx_pod_selector(struct fx *f, struct kp_pod *p, const char *k, const char *v)
{
	assert_int_equal(kp_labels_set(&p->node_selector, fx_a(f), k, v), KP_OK);
}

/* Adds requirement r to required node-affinity term `term` (created as needed). */
static inline void fx_pod_required(struct fx *f, struct kp_pod *p, int term, struct kp_req r)
{
	if (term >= p->nrequired_terms) {
		struct kp_node_selector_term *t = kp_arena_grow(fx_a(f), p->required_terms, (size_t)p->nrequired_terms,
								 (size_t)term + 1, sizeof(*t));
		assert_non_null(t);
		p->required_terms = t;
		p->nrequired_terms = term + 1;
	}
	assert_int_equal(kp_reqs_add(&p->required_terms[term].reqs, fx_a(f), &r), KP_OK);
}

static inline void fx_pod_preferred(struct fx *f, struct kp_pod *p, int weight, struct kp_req r)
{
	struct kp_preferred_term *t = kp_arena_grow(fx_a(f), p->preferred_terms, (size_t)p->npreferred_terms,
						    (size_t)p->npreferred_terms + 1, sizeof(*t));
	assert_non_null(t);
	p->preferred_terms = t;
	t[p->npreferred_terms].weight = weight;
	assert_int_equal(kp_reqs_add(&t[p->npreferred_terms].reqs, fx_a(f), &r), KP_OK);
	p->npreferred_terms++;
}

static inline void fx_pod_tol(struct fx *f, struct kp_pod *p, const char *k, enum kp_tol_op op, const char *v,
			      enum kp_effect e)
{
	struct kp_toleration *t = kp_arena_grow(fx_a(f), p->tolerations.t, (size_t)p->tolerations.n,
						(size_t)p->tolerations.n + 1, sizeof(*t));
	assert_non_null(t);
	memset(&t[p->tolerations.n], 0, sizeof(*t));
	t[p->tolerations.n].key = k;
	t[p->tolerations.n].op = op;
	t[p->tolerations.n].value = v;
	t[p->tolerations.n].effect = e;
	p->tolerations.t = t;
	p->tolerations.n++;
}

static inline struct kp_tsc *fx_pod_tsc(struct fx *f, struct kp_pod *p, const char *key, int skew,
					enum kp_when_unsat when, const struct kp_selector *sel)
{
	struct kp_tsc *t = kp_arena_grow(fx_a(f), p->tsc, (size_t)p->ntsc, (size_t)p->ntsc + 1, sizeof(*t));

	assert_non_null(t);
	p->tsc = t;
	t = &t[p->ntsc++];
	memset(t, 0, sizeof(*t));
	t->max_skew = skew;
	t->topology_key = key;
	t->when_unsatisfiable = when;
	t->selector = sel;
	t->node_affinity_policy = KP_POLICY_HONOR;
	t->node_taints_policy = KP_POLICY_IGNORE;
	return t;
}

enum fx_aff { FX_AFF, FX_PREF_AFF, FX_ANTI, FX_PREF_ANTI };

static inline struct kp_pod_affinity_term *fx_pod_aff(struct fx *f, struct kp_pod *p, enum fx_aff kind, int weight,
						      const char *key, const struct kp_selector *sel)
{
	struct kp_pod_affinity_term **arr = kind == FX_AFF ? &p->affinity : kind == FX_PREF_AFF ? &p->pref_affinity
						: kind == FX_ANTI ? &p->anti : &p->pref_anti;
	int *n = kind == FX_AFF ? &p->naffinity : kind == FX_PREF_AFF ? &p->npref_affinity
			: kind == FX_ANTI ? &p->nanti : &p->npref_anti;
	struct kp_pod_affinity_term *t = kp_arena_grow(fx_a(f), *arr, (size_t)*n, (size_t)*n + 1, sizeof(*t));

	assert_non_null(t);
	*arr = t;
	t = &t[(*n)++];
	memset(t, 0, sizeof(*t));
	t->weight = weight;
	t->selector = sel;
	t->topology_key = key;
	return t;
}

static inline void fx_pod_port(struct fx *f, struct kp_pod *p, int port)
{
	struct kp_hostport hp = { .ip = "", .port = port, .protocol = 0 };
	struct kp_hostports add = { .n = 1, .cap = 1, .p = &hp };

	assert_int_equal(kp_hostports_add(&p->host_ports, fx_a(f), &add), KP_OK);
}

/* ---- nodes ---- */

static inline struct kp_node *fx_node(struct fx *f, const char *name, const char *cpu, const char *mem, int pods)
{
	struct kp_node *n = kp_arena_alloc(fx_a(f), sizeof(*n));

	assert_non_null(n);
	n->name = kp_arena_strdup(fx_a(f), name);
	n->ready = true;
	fx_res(f, &n->capacity, cpu, mem, pods);
	n->allocatable = n->capacity;
	assert_int_equal(kp_labels_set(&n->labels, fx_a(f), KP_LABEL_HOSTNAME, n->name), KP_OK);
	assert_int_equal(kp_cluster_add_node(&f->cl, n), KP_OK);
	return n;
}

static inline void fx_node_label(struct fx *f, struct kp_node *n, const char *k, const char *v)
{
	assert_int_equal(kp_labels_set(&n->labels, fx_a(f), k, v), KP_OK);
}

/* A pod already running on node n. */
static inline struct kp_pod *fx_bound(struct fx *f, const char *name, struct kp_node *n, const char *cpu,
				      const char *mem)
{
	struct kp_pod *p = fx_pod(f, name, cpu, mem);

	p->node_name = n->name;
	p->phase = "Running";
	return p;
}

static inline struct kp_daemonset *fx_daemonset(struct fx *f, const char *name, const char *cpu, const char *mem)
{
	struct kp_daemonset *ds = kp_arena_alloc(fx_a(f), sizeof(*ds));

	assert_non_null(ds);
	ds->ns = "kube-system";
	ds->name = name;
	ds->tmpl.ns = "kube-system";
	ds->tmpl.name = name;
	ds->tmpl.is_daemon = true;
	fx_res(f, &ds->tmpl.requests, cpu, mem, 0);
	assert_int_equal(kp_cluster_add_daemonset(&f->cl, ds), KP_OK);
	return ds;
}

/* ---- running ---- */

static inline void fx_solve(struct fx *f)
{
	struct kp_sched_input in;

	memset(&in, 0, sizeof(in));
	in.cluster = &f->cl;
	in.catalog = &f->cat;
	kp_plan_free(&f->plan);
	kp_cluster_link(&f->cl);
	if (kp_sched_solve(&in, &f->opts, &f->plan, &f->eb) != KP_OK)
		fail_msg("solve: %s", f->eb.msg);
}

/* The plan claim holding pod p, or -1. */
static inline int fx_claim_of(const struct fx *f, const struct kp_pod *p)
{
	for (int i = 0; i < f->plan.nclaims; i++)
		for (int j = 0; j < f->plan.claims[i].npods; j++)
			if (f->plan.claims[i].pods[j] == p)
				return i;
	return -1;
}

/* The existing node (plan->existing entry) holding p, or NULL. */
static inline const char *fx_node_of(const struct fx *f, const struct kp_pod *p)
{
	for (int i = 0; i < f->plan.nexisting; i++)
		for (int j = 0; j < f->plan.existing[i].npods; j++)
			if (f->plan.existing[i].pods[j] == p)
				return f->plan.existing[i].node ? f->plan.existing[i].node->name
								: f->plan.existing[i].claim->name;
	return NULL;
}

static inline const char *fx_reason(const struct fx *f, const struct kp_pod *p)
{
	for (int i = 0; i < f->plan.nunsched; i++)
		if (f->plan.unsched[i].pod == p)
			return f->plan.unsched[i].reason;
	return NULL;
}

/* Value of label k on the node plan claim i will become. */
static inline const char *fx_claim_label(const struct fx *f, int i, const char *k)
{
	return kp_labels_get(&f->plan.claims[i].labels, k);
}

static inline void fx_dump(const struct fx *f)
{
	char key[256];

	for (int i = 0; i < f->plan.nclaims; i++) {
		const struct kp_plan_claim *c = &f->plan.claims[i];
		fprintf(stderr, "claim %d %s: %s %s %d pods:", i, c->pool->name, c->launch_type ? c->launch_type->name : "-",
			c->launch ? c->launch->zone : "-", c->npods);
		for (int j = 0; j < c->npods; j++)
			fprintf(stderr, " %s", c->pods[j]->name);
		fprintf(stderr, "\n");
	}
	for (int i = 0; i < f->plan.nexisting; i++)
		fprintf(stderr, "existing %s: %d pods\n",
			f->plan.existing[i].node ? f->plan.existing[i].node->name : f->plan.existing[i].claim->name,
			f->plan.existing[i].npods);
	for (int i = 0; i < f->plan.nunsched; i++)
		fprintf(stderr, "unsched %s: %s\n", kp_pod_key(f->plan.unsched[i].pod, key, sizeof(key)),
			f->plan.unsched[i].reason);
	for (int i = 0; i < f->plan.nnotes; i++)
		fprintf(stderr, "note: %s\n", f->plan.notes[i]);
}

#endif
