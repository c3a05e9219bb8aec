/*
 * pack_cost.c - the `cost` packing mode of the scheduler (docs/packing.md).
 *
 * Karpenter's scheduler adds a pod to a claim whenever some instance type
 * still holds the claim's pods, and launches the cheapest type that holds
 * them all; with a broad NodePool that grows claims up to the largest, and
 * often dearest per resource, machines. Cost mode keeps Karpenter's queue,
 * existing-node-first order and every constraint check (kp_sched__claim_try and
 * kp_sched__node_try are the same), and changes only where a pod goes:
 *
 *   1. Before the queue runs, the pending pods are grouped in classes (same
 *      constraints, same requests) and a fleet is planned for them over the
 *      node kinds of the cost NodePools (include/karpenter/bound.h: column
 *      generation, then rounding): bins of one kind with a pod count per
 *      class. Each pod is given a bin.
 *   2. A pod tries the existing nodes first (free capacity), then its bin's
 *      claim, or opens it (a new claim from the bin kind's NodePool capped at
 *      the kind's price: it only takes pods while its cheapest compatible
 *      offering stays within the cap).
 *   3. When that fails (constraints the plan ignores: topology, ports,
 *      limits), the pod joins the fewest-pods claim whose price grows by no
 *      more than the pod's own cheapest node would cost (capped claims: stay
 *      within the cap), else a new claim as Karpenter opens one, else any
 *      claim that holds it (Karpenter's rule).
 *
 * kp_sched_run (here) runs the cost run and, as a guard, Karpenter's run:
 * if the cost plan leaves unplaced a pod Karpenter places, or costs more,
 * Karpenter's plan is returned with a note. So cost mode never places fewer
 * pods and never costs more than the default.
 *
 * Cost: the fleet plan (column generation over classes x kinds, see
 * bound.c) plus one Karpenter run; per pod O(1) claim tries in the common
 * case, each O(types).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "karpenter/bound.h"
#include "karpenter/pack.h"
#include "sched/sched_int.h"

#define PRICE_EPS 1e-9
#define MAX_PRICED_OUT 8        /* claims a pod fits but would make too dear, before a new one */

struct kp_sched__cost {
	bool *tpl_cost;                 /* per template: packs for cost */
	int nkinds;
	int *kind_tpl, *kind_type;      /* template and index in its types[] */
	double *kind_price;
	int nclasses;
	double *class_alone;            /* cheapest kind holding one pod of the class, 0 = none */
	int *pod_class;                 /* per run pod */
	int *pod_bin;                   /* per run pod, -1 = none */
	int nbins;
	int *bin_kind;
	int *bin_claim;                 /* claim idx, -1 = not opened */
	double *claim_cap;              /* per claim idx: price cap, 0 = none */
	double *claim_price;            /* per claim idx: cheapest offering now (after its last pod) */
	bool *claim_priced;             /* per claim idx: claim_price is that price (else not computed) */
	bool *claim_cost;               /* per claim idx: its template packs for cost */
};

/* ---- problem: node kinds and pod classes ---- */

static bool tpl_packs_cost(const struct kp_sched *s, int t)
{
	const char *v = kp_labels_get(&s->tpl[t].pool->meta_annotations, KP_ANN_PACKING);

	if (s->tpl[t].skipped)
		return false;
	if (v)
		return strcmp(v, "cost") == 0;
	return s->opts.packing == KP_PACKING_COST;
}

static bool any_cost_tpl(const struct kp_sched *s)
{
	for (int t = 0; t < s->ntpl; t++)
		if (tpl_packs_cost(s, t))
			return true;
	return false;
}

struct prob {
	int ndims;
	int dims[KP_BOUND_DIMS];        /* resource indices */
	int nkinds;
	struct kp_bound_kind *kinds;
	int *kind_tpl, *kind_type;
	int nclasses;
	struct kp_bound_class *classes;
	int *pod_class;                 /* per input pod */
};

/* Resource dimensions the pods use (pods always); false when too many. */
static bool prob_dims(struct prob *pb, const struct kp_res *const *req, int n, int nres)
{
	pb->ndims = 0;
	for (int k = 0; k < nres; k++) {
		bool used = k == KP_RES_PODS;
		for (int i = 0; !used && i < n; i++)
			used = req[i]->v[k] != 0;
		if (!used)
			continue;
		if (pb->ndims == KP_BOUND_DIMS)
			return false;
		pb->dims[pb->ndims++] = k;
	}
	return true;
}

/* The node kinds of the templates in use, priced: the same for every run of
 * a prepared scheduler (consolidation runs thousands), so the cost runs
 * keep them in s->cost_kinds. */
struct kp_sched__cost_kinds {
	int n;
	int *tpl, *type;
	double *price;
};

static kp_err kinds_list(const struct kp_sched *s, const bool *use_tpl, struct kp_arena *a,
			 struct kp_sched__cost_kinds **out)
{
	struct kp_sched__cost_kinds *ck = kp_arena_calloc(a, 1, sizeof(*ck));
	int cap = 0;

	for (int t = 0; t < s->ntpl; t++)
		if (use_tpl[t])
			cap += s->tpl[t].ntypes;
	if (!ck)
		return KP_ERR_NOMEM;
	ck->tpl = kp_arena_calloc(a, (size_t)cap + 1, sizeof(int));
	ck->type = kp_arena_calloc(a, (size_t)cap + 1, sizeof(int));
	ck->price = kp_arena_calloc(a, (size_t)cap + 1, sizeof(double));
	if (!ck->tpl || !ck->type || !ck->price)
		return KP_ERR_NOMEM;
	for (int t = 0; t < s->ntpl; t++) {
		const struct kp_sched__tpl *tp = &s->tpl[t];
		uint64_t zm, cm;

		if (!use_tpl[t])
			continue;
		zm = kp_sched__zone_mask(s, &tp->reqs);
		cm = kp_sched__ct_mask(&tp->reqs);
		for (int j = 0; j < tp->ntypes; j++) {
			const struct kp_sched__itype *tt = &tp->types[j];
			const struct kp_offering *o;

			if (tt->never_fits || !tt->any_avail)
				continue;
			o = kp_sched__type_cheapest(s, tt, zm, cm, &tp->reqs);
			if (!o)
				continue;
			ck->price[ck->n] = o->price;
			ck->tpl[ck->n] = t;
			ck->type[ck->n] = j;
			ck->n++;
		}
	}
	*out = ck;
	return KP_OK;
}

static kp_err prob_kinds(struct prob *pb, const struct kp_sched *s, const struct kp_sched__cost_kinds *ck,
			 struct kp_arena *a)
{
	pb->kinds = kp_arena_calloc(a, (size_t)ck->n + 1, sizeof(*pb->kinds));
	pb->kind_tpl = kp_arena_memdup(a, ck->tpl, ((size_t)ck->n + 1) * sizeof(int));
	pb->kind_type = kp_arena_memdup(a, ck->type, ((size_t)ck->n + 1) * sizeof(int));
	if (!pb->kinds || !pb->kind_tpl || !pb->kind_type)
		return KP_ERR_NOMEM;
	pb->nkinds = ck->n;
	for (int k = 0; k < ck->n; k++) {
		const struct kp_sched__itype *tt = &s->tpl[ck->tpl[k]].types[ck->type[k]];
		pb->kinds[k].price = ck->price[k];
		for (int d = 0; d < pb->ndims; d++)
			pb->kinds[k].free[d] = tt->free.v[pb->dims[d]];
	}
	return KP_OK;
}

static bool neg_op(const struct kp_req *r)
{
	enum kp_op op = kp_req_op(r);
	return op == KP_OP_NOTIN || op == KP_OP_DOESNOTEXIST;
}

/* The instance type may satisfy the variant's requirements (zone and
 * capacity type are left to offerings: a relaxation). */
static bool type_allows(const struct kp_itype *it, const struct kp_reqs *pr)
{
	for (int i = 0; i < pr->n; i++) {
		const struct kp_req *q = &pr->r[i];
		const struct kp_req *tr;

		if (strcmp(q->key, KP_LABEL_ZONE) == 0 || strcmp(q->key, KP_LABEL_CAPACITY_TYPE) == 0 ||
		    strcmp(q->key, KP_LABEL_HOSTNAME) == 0)
			continue;
		tr = kp_reqs_get(&it->reqs, q->key);
		if (tr && !kp_req_intersects(tr, q) && !(neg_op(tr) && neg_op(q)))
			return false;
	}
	return true;
}

/* Kinds some relaxation of the class may use: a superset of where the
 * scheduler can put its pods, so the bound stays a relaxation. */
static kp_err class_compat(struct kp_sched *s, struct prob *pb, struct kp_sched__class *cls, const struct kp_pod *rep,
			   uint64_t *bits)
{
	int8_t *tplok = calloc((size_t)s->ntpl + 1, 1);

	if (!tplok)
		return KP_ERR_NOMEM;
	for (int v = 0; v < cls->nvar; v++) {
		struct kp_sched__variant *var = &cls->var[v];
		for (int t = 0; t < s->ntpl; t++)
			tplok[t] = !s->tpl[t].skipped && kp_sched__variant_tolerates(s, var, rep, t, NULL) &&
				   kp_reqs_compatible(&s->tpl[t].reqs, &var->reqs, NULL);
		for (int k = 0; k < pb->nkinds; k++) {
			int t = pb->kind_tpl[k];
			if ((bits[k / 64] >> (k % 64)) & 1u)
				continue;
			if (tplok[t] && type_allows(s->tpl[t].types[pb->kind_type[k]].it, &var->reqs))
				bits[k / 64] |= (uint64_t)1 << (k % 64);
		}
	}
	free(tplok);
	return KP_OK;
}

struct podref {
	const struct kp_pod *pod;
	struct kp_sched__class *cls;
	const struct kp_res *req;       /* with pods: 1 */
	int idx;
	const uint64_t *compat;         /* kinds its class may use (per scheduler class) */
};

struct sortctx {
	const struct prob *pb;
	int words;
};

/* Order: requests, then compatible kinds, then input order. */
static int cmp_podref(const void *pa, const void *pb, void *ctx)
{
	const struct podref *a = pa, *b = pb;
	const struct sortctx *sc = ctx;
	int c;

	for (int d = 0; d < sc->pb->ndims; d++) {
		int64_t x = a->req->v[sc->pb->dims[d]], y = b->req->v[sc->pb->dims[d]];
		if (x != y)
			return x < y ? -1 : 1;
	}
	if (a->compat != b->compat) {
		c = memcmp(a->compat, b->compat, (size_t)sc->words * sizeof(uint64_t));
		if (c)
			return c;
	}
	return a->idx - b->idx;
}

static bool same_class(const struct prob *pb, int words, const struct podref *a, const struct podref *b)
{
	for (int d = 0; d < pb->ndims; d++)
		if (a->req->v[pb->dims[d]] != b->req->v[pb->dims[d]])
			return false;
	return a->compat == b->compat || memcmp(a->compat, b->compat, (size_t)words * sizeof(uint64_t)) == 0;
}

/* Groups refs[0..n) into classes of pods with the same requests and the
 * same compatible kinds (interchangeable in the LP); refs is sorted in
 * place. Compatibility is computed once per scheduler pod class. */
static kp_err prob_classes(struct prob *pb, struct kp_sched *s, struct podref *refs, int n, struct kp_arena *a)
{
	struct sortctx sc = { pb, pb->nkinds / 64 + 1 };
	const uint64_t **bycls = kp_arena_calloc(a, (size_t)s->nclasses + 1, sizeof(*bycls));
	kp_err rc;

	pb->classes = kp_arena_calloc(a, (size_t)n + 1, sizeof(*pb->classes));
	pb->pod_class = kp_arena_calloc(a, (size_t)n + 1, sizeof(int));
	if (!bycls || !pb->classes || !pb->pod_class)
		return KP_ERR_NOMEM;
	for (int i = 0; i < n; i++) {
		int ci = refs[i].cls->idx;
		if (ci < 0 || ci >= s->nclasses)
			return KP_ERR_INVALID;
		if (!bycls[ci]) {
			uint64_t *bits = kp_arena_calloc(a, (size_t)sc.words, sizeof(uint64_t));
			if (!bits)
				return KP_ERR_NOMEM;
			rc = class_compat(s, pb, refs[i].cls, refs[i].pod, bits);
			if (rc)
				return rc;
			bycls[ci] = bits;
		}
		refs[i].compat = bycls[ci];
	}
	qsort_r(refs, (size_t)n, sizeof(*refs), cmp_podref, &sc);
	pb->nclasses = 0;
	for (int i = 0; i < n; i++) {
		struct kp_bound_class *c;

		if (i > 0 && same_class(pb, sc.words, &refs[i - 1], &refs[i])) {
			pb->classes[pb->nclasses - 1].demand++;
			pb->pod_class[refs[i].idx] = pb->nclasses - 1;
			continue;
		}
		c = &pb->classes[pb->nclasses];
		for (int d = 0; d < pb->ndims; d++)
			c->req[d] = refs[i].req->v[pb->dims[d]];
		c->demand = 1;
		c->compat = refs[i].compat;
		pb->pod_class[refs[i].idx] = pb->nclasses;
		pb->nclasses++;
	}
	return KP_OK;
}

/* ---- run init: the fleet and the pods' bins ---- */

static kp_err cost_alloc(struct kp_sched__run *r, struct kp_sched__cost *c, const struct prob *pb, int nbins)
{
	struct kp_arena *a = r->a;
	size_t np = (size_t)r->npods + 1;

	c->nkinds = pb->nkinds;
	c->kind_tpl = kp_arena_memdup(a, pb->kind_tpl, ((size_t)pb->nkinds + 1) * sizeof(int));
	c->kind_type = kp_arena_memdup(a, pb->kind_type, ((size_t)pb->nkinds + 1) * sizeof(int));
	c->kind_price = kp_arena_calloc(a, (size_t)pb->nkinds + 1, sizeof(double));
	c->nclasses = pb->nclasses;
	c->class_alone = kp_arena_calloc(a, (size_t)pb->nclasses + 1, sizeof(double));
	c->pod_class = kp_arena_memdup(a, pb->pod_class, np * sizeof(int));
	c->pod_bin = kp_arena_calloc(a, np, sizeof(int));
	c->nbins = nbins;
	c->bin_kind = kp_arena_calloc(a, (size_t)nbins + 1, sizeof(int));
	c->bin_claim = kp_arena_calloc(a, (size_t)nbins + 1, sizeof(int));
	c->claim_cap = kp_arena_calloc(a, np, sizeof(double));
	c->claim_cost = kp_arena_calloc(a, np, sizeof(bool));
	c->claim_price = kp_arena_calloc(a, np, sizeof(double));
	c->claim_priced = kp_arena_calloc(a, np, sizeof(bool));
	if (!c->kind_tpl || !c->kind_type || !c->kind_price || !c->class_alone || !c->pod_class || !c->pod_bin ||
	    !c->bin_kind || !c->bin_claim || !c->claim_cap || !c->claim_cost || !c->claim_price ||
	    !c->claim_priced)
		return KP_ERR_NOMEM;
	for (int k = 0; k < pb->nkinds; k++)
		c->kind_price[k] = pb->kinds[k].price;
	for (int i = 0; i < pb->nclasses; i++) {
		const struct kp_bound_class *cl = &pb->classes[i];
		for (int k = 0; k < pb->nkinds; k++) {
			bool fit = (cl->compat[k / 64] >> (k % 64)) & 1u;
			for (int d = 0; fit && d < pb->ndims; d++)
				fit = cl->req[d] <= pb->kinds[k].free[d];
			if (fit && (!c->class_alone[i] || pb->kinds[k].price < c->class_alone[i]))
				c->class_alone[i] = pb->kinds[k].price;
		}
	}
	for (int i = 0; i < r->npods; i++)
		c->pod_bin[i] = -1;
	for (int b = 0; b < nbins; b++)
		c->bin_claim[b] = -1;
	return KP_OK;
}

static kp_err assign_bins(struct kp_sched__cost *c, const struct kp_bound_fleet *f, int npods, const bool *binnable)
{
	int *next = calloc((size_t)c->nclasses + 1, sizeof(int));   /* per class: first bin with room */
	int32_t *left;

	if (!next)
		return KP_ERR_NOMEM;
	left = calloc((size_t)f->nbins * (size_t)c->nclasses + 1, sizeof(int32_t));
	if (!left) {
		free(next);
		return KP_ERR_NOMEM;
	}
	for (int b = 0; b < f->nbins; b++) {
		c->bin_kind[b] = f->bins[b].kind;
		memcpy(&left[(size_t)b * c->nclasses], f->bins[b].count, (size_t)c->nclasses * sizeof(int32_t));
	}
	for (int i = 0; i < npods; i++) {
		int k = c->pod_class[i];
		if (!binnable[i])
			continue;   /* topology decides where it goes: step 3 */
		while (next[k] < f->nbins && !left[(size_t)next[k] * c->nclasses + k])
			next[k]++;
		if (next[k] == f->nbins)
			continue;
		c->pod_bin[i] = next[k];
		left[(size_t)next[k] * c->nclasses + k]--;
	}
	free(left);
	free(next);
	return KP_OK;
}

kp_err kp_sched__cost_run_init(struct kp_sched__run *r, struct kp_errbuf *eb)
{
	struct kp_sched *s = r->s;
	struct kp_arena a;
	struct prob pb;
	struct kp_bound_problem bp;
	struct kp_bound_fleet fleet;
	struct podref *refs;
	const struct kp_res **reqs;
	struct kp_sched__cost *c;
	bool *use, *binnable;
	kp_err rc;

	r->cost = NULL;
	if (!any_cost_tpl(s))
		return KP_OK;
	memset(&pb, 0, sizeof(pb));
	memset(&fleet, 0, sizeof(fleet));
	kp_arena_init(&a);
	c = kp_arena_alloc(r->a, sizeof(*c));
	use = kp_arena_calloc(r->a, (size_t)s->ntpl + 1, sizeof(bool));
	refs = kp_arena_calloc(&a, (size_t)r->npods + 1, sizeof(*refs));
	reqs = kp_arena_calloc(&a, (size_t)r->npods + 1, sizeof(*reqs));
	if (!c || !use || !refs || !reqs) {
		rc = KP_ERR_NOMEM;
		goto out;
	}
	for (int t = 0; t < s->ntpl; t++)
		use[t] = tpl_packs_cost(s, t);
	c->tpl_cost = use;
	for (int i = 0; i < r->npods; i++) {
		refs[i].pod = r->pods[i].pod;
		refs[i].cls = r->pods[i].cls;
		refs[i].req = &r->pods[i].req;
		refs[i].idx = i;
		reqs[i] = &r->pods[i].req;
	}
	rc = KP_OK;
	if (!prob_dims(&pb, reqs, r->npods, r->nres))
		goto out;   /* too many resource kinds for the planner: Karpenter's packing */
	if (!s->cost_kinds)
		rc = kinds_list(s, use, &s->arena, &s->cost_kinds);
	if (!rc)
		rc = prob_kinds(&pb, s, s->cost_kinds, &a);
	if (!rc)
		rc = prob_classes(&pb, s, refs, r->npods, &a);
	if (rc)
		goto out;
	/* pods with topology constraints are placed by step 3, not planned */
	binnable = kp_arena_calloc(&a, (size_t)r->npods + 1, sizeof(bool));
	if (!binnable) {
		rc = KP_ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < pb.nclasses; i++)
		pb.classes[i].demand = 0;
	for (int i = 0; i < r->npods; i++) {
		const struct kp_sched__class *cl = r->pods[i].cls;
		binnable[i] = cl->ninv == 0 && (cl->nvar == 0 || cl->var[0].ngroups == 0);
		if (binnable[i])
			pb.classes[pb.pod_class[i]].demand++;
	}
	memset(&bp, 0, sizeof(bp));
	bp.ndims = pb.ndims;
	bp.nkinds = pb.nkinds;
	bp.kinds = pb.kinds;
	bp.nclasses = pb.nclasses;
	bp.classes = pb.classes;
	rc = kp_bound_fleet(&bp, &fleet, eb);
	if (!rc)
		rc = cost_alloc(r, c, &pb, fleet.nbins);
	if (!rc)
		rc = assign_bins(c, &fleet, r->npods, binnable);
	if (!rc)
		r->cost = c;
out:
	kp_bound_fleet_free(&fleet);
	kp_arena_free(&a);
	if (rc == KP_ERR_NOMEM)
		kp_errf(eb, rc, "out of memory");
	return rc;
}

/* ---- placing one pod ---- */

/* Cheapest offering over the try's surviving types, with its final
 * zone and capacity-type masks; HUGE_VAL if none. */
static double types_price(struct kp_sched__run *r, const struct kp_sched__claim *c, const int *types, int ntypes,
			  const struct kp_req *over, int nover)
{
	struct kp_sched *s = r->s;
	const struct kp_sched__tpl *tpl = &s->tpl[c->tpl];
	const struct kp_reqs *fin = &c->reqs;
	uint64_t zm = c->zmask, cm = c->cmask;
	double best = HUGE_VAL;

	if (nover) {
		struct kp_reqs *f = kp_arena_alloc(r->scratch, sizeof(*f));
		if (!f || kp_sched__reqs_with(f, r->scratch, &c->reqs, over, nover))
			return HUGE_VAL;
		fin = f;
		zm = kp_sched__zone_mask(s, fin);
		cm = kp_sched__ct_mask(fin);
	}
	for (int i = 0; i < ntypes; i++) {
		const struct kp_offering *o = kp_sched__type_cheapest(s, &tpl->types[types[i]], zm, cm, fin);
		if (o && o->price < best)
			best = o->price;
	}
	return best;
}

enum join_rule { JOIN_BIN, JOIN_COST, JOIN_ANY };

/* Tries claim c for pod p; commits when the rule allows the new price. */
static bool claim_join(struct kp_sched__run *r, struct kp_sched__claim *c, struct kp_sched__pod *p, struct kp_sched__variant *v,
		       enum join_rule rule, kp_err *rc, bool *priced_out)
{
	struct kp_sched__cost *cs = r->cost;
	struct kp_arena_mark m = kp_arena_mark(r->scratch);
	struct kp_sched__try t;
	bool ok = kp_sched__claim_try(r, c, p, v, &t, NULL);
	double after = 0;
	bool priced = false;

	if (ok && (rule != JOIN_ANY || cs->claim_cost[c->idx] || cs->claim_cap[c->idx] > 0)) {
		if (cs->claim_priced[c->idx] && t.nover == 0 && t.ntypes == c->ntypes)
			after = cs->claim_price[c->idx];   /* same types, same requirements: same price */
		else
			after = types_price(r, c, t.types, t.ntypes, t.over, t.nover);
		priced = true;
	}
	if (ok && rule != JOIN_ANY && (cs->claim_cost[c->idx] || cs->claim_cap[c->idx] > 0)) {
		*priced_out = true;
		if (cs->claim_cap[c->idx] > 0) {
			ok = after <= cs->claim_cap[c->idx] * (1 + PRICE_EPS);
		} else {
			double before = cs->claim_price[c->idx];
			double alone = cs->class_alone[cs->pod_class[p - r->pods]];
			ok = alone > 0 && after <= before + alone * (1 + PRICE_EPS);
		}
	}
	if (ok) {
		int old = c->npods;
		*priced_out = false;
		*rc = kp_sched__claim_commit(r, c, p, &t);
		kp_sched__claim_order_bump(r, c, old);
		cs->claim_price[c->idx] = after;
		cs->claim_priced[c->idx] = priced;
	}
	kp_arena_reset(r->scratch, m);
	return ok;
}

static bool place_existing(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v, kp_err *rc)
{
	struct kp_sched__try t;

	for (int n = 0; n < r->s->nnodes; n++) {
		struct kp_arena_mark m;
		bool ok;

		if (r->nodes[n].removed)
			continue;
		m = kp_arena_mark(r->scratch);
		ok = kp_sched__node_try(r, n, p, v, &t);
		if (ok)
			*rc = kp_sched__node_commit(r, n, p, &t);
		kp_arena_reset(r->scratch, m);
		if (ok)
			return true;
	}
	return false;
}

/* A new claim from template tpl holding p (try_new's body for one pool). */
static bool new_claim(struct kp_sched__run *r, int tpl, struct kp_sched__pod *p, struct kp_sched__variant *v, double cap,
		      kp_err *rc, struct kp_sched__claim **out)
{
	struct kp_sched *s = r->s;
	struct kp_sched__claim cand, *c;
	struct kp_sched__try t;
	struct kp_errbuf eb;
	struct kp_arena_mark m;
	double price = 0;
	bool ok;

	eb.msg[0] = '\0';
	if (!kp_sched__limits_allow_claim(r, tpl, &eb)) {
		kp_sched__reason_add(r, s->tpl[tpl].name, eb.msg);
		return false;
	}
	m = kp_arena_mark(r->scratch);
	*rc = kp_sched__claim_candidate(r, tpl, &cand, &eb, &ok);
	if (!*rc && ok)
		ok = kp_sched__claim_try(r, &cand, p, v, &t, &eb);
	if (!*rc && ok && (cap > 0 || r->cost->tpl_cost[tpl]))
		price = types_price(r, &cand, t.types, t.ntypes, t.over, t.nover);
	if (!*rc && ok && cap > 0)
		ok = price <= cap * (1 + PRICE_EPS);
	if (*rc || !ok) {
		if (!*rc)
			kp_sched__reason_add(r, s->tpl[tpl].name, eb.msg[0] ? eb.msg : "cannot place the pod");
		kp_arena_reset(r->scratch, m);
		return false;
	}
	*rc = kp_sched__claim_materialize(r, &cand, &c);
	if (!*rc) {
		*rc = kp_sched__claim_commit(r, c, p, &t);
		kp_sched__claim_order_bump(r, c, 0);
		kp_sched__limits_charge(r, c);
		r->cost->claim_cap[c->idx] = cap;
		r->cost->claim_cost[c->idx] = r->cost->tpl_cost[tpl];
		r->cost->claim_price[c->idx] = price;
		r->cost->claim_priced[c->idx] = cap > 0 || r->cost->tpl_cost[tpl];
		*out = c;
	}
	kp_arena_reset(r->scratch, m);
	return true;
}

/* The claims being built, fewest pods first (or the hostname anti-affinity
 * candidates, as try_inflight walks them), joined under rule. Under
 * JOIN_COST, *fallback (when not NULL) receives the first claim that holds
 * the pod but was priced out: the claim a JOIN_ANY walk would take, as no
 * claim changed since (its try is repeated by join_fallback). */
static bool place_inflight(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v, enum join_rule rule,
			   kp_err *rc, struct kp_sched__claim **fallback)
{
	struct kp_arena_mark m0 = kp_arena_mark(r->scratch);
	uint64_t zones;
	int *cand, ncand = 0, n;
	bool ok = false;

	if (fallback)
		*fallback = NULL;
	if (!r->nclaims)
		return false;
	for (int i = 0; i < r->s->ntpl; i++)
		r->tol[i] = !r->s->tpl[i].skipped && kp_sched__variant_tolerates(r->s, v, p->pod, i, NULL);
	zones = kp_sched__topo_zone_premask(r, p, v);
	cand = kp_sched__topo_host_candidates(r, p, v, &ncand);
	n = cand ? ncand : r->nclaims;
	for (int k = 0, priced = 0; k < n && !ok && !*rc && priced < MAX_PRICED_OUT; k++) {
		struct kp_sched__claim *c = r->claims[cand ? cand[k] : r->order[k]];
		bool out = false;
		if (kp_sched__inflight_quick(r, c, p, zones))
			ok = claim_join(r, c, p, v, rule, rc, &out);
		if (out && fallback && !*fallback)
			*fallback = c;
		priced += out && rule != JOIN_ANY;
	}
	kp_arena_reset(r->scratch, m0);
	return ok && !*rc;
}

/* Joins the claim a JOIN_COST walk found priced out, under Karpenter's rule. */
static bool join_fallback(struct kp_sched__run *r, struct kp_sched__claim *c, struct kp_sched__pod *p,
			  struct kp_sched__variant *v, kp_err *rc)
{
	bool out = false;

	return c && claim_join(r, c, p, v, JOIN_ANY, rc, &out) && !*rc;
}

static bool place_new(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v, kp_err *rc)
{
	struct kp_sched__claim *c;
	int usable = 0;

	for (int t = 0; t < r->s->ntpl && !*rc; t++) {
		if (r->s->tpl[t].skipped)
			continue;
		usable++;
		if (new_claim(r, t, p, v, 0, rc, &c))
			return true;
	}
	if (!usable)
		kp_sched__reason_add(r, NULL, r->s->ntpl ? "no nodepool has instance types compatible with its requirements"
						   : "no nodepools");
	return false;
}

bool kp_sched__cost_place(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v, kp_err *rc)
{
	struct kp_sched__cost *cs = r->cost;
	struct kp_sched__claim *fb = NULL;
	int b = cs->pod_bin[p - r->pods];

	if (place_existing(r, p, v, rc) || *rc)
		return !*rc;
	if (b >= 0) {
		int ci = cs->bin_claim[b];
		if (ci >= 0) {
			bool out = false;
			if (claim_join(r, r->claims[ci], p, v, JOIN_BIN, rc, &out) || *rc)
				return !*rc;
		} else {
			struct kp_sched__claim *c = NULL;
			int k = cs->bin_kind[b];
			if (new_claim(r, cs->kind_tpl[k], p, v, cs->kind_price[k], rc, &c)) {
				if (!*rc)
					cs->bin_claim[b] = c->idx;
				return !*rc;
			}
			if (*rc)
				return false;
		}
	}
	/* one walk: the first claim that holds the pod but was priced out is
	 * where Karpenter's rule (JOIN_ANY) would put it */
	if (place_inflight(r, p, v, JOIN_COST, rc, &fb) || *rc)
		return !*rc;
	if (b < 0 && fb)
		return join_fallback(r, fb, p, v, rc);  /* unplanned pods (topology): Karpenter's rule next */
	if (place_new(r, p, v, rc) || *rc)
		return !*rc;
	return join_fallback(r, fb, p, v, rc);
}

/* ---- the guarded run ---- */

static double plan_price(const struct kp_plan *p)
{
	double sum = 0;

	for (int i = 0; i < p->nclaims; i++)
		if (p->claims[i].launch)
			sum += p->claims[i].launch->price;
	return sum;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const void *const *)a, y = (uintptr_t)*(const void *const *)b;
	return x < y ? -1 : x > y;
}

/* Every pod plan a leaves unplaced, plan b leaves unplaced too. */
static bool unsched_subset(const struct kp_plan *a, const struct kp_plan *b)
{
	const void **v;
	bool ok = true;

	if (a->nunsched == 0)
		return true;
	if (a->nunsched > b->nunsched)
		return false;
	v = calloc((size_t)b->nunsched, sizeof(*v));
	if (!v)
		return false;
	for (int i = 0; i < b->nunsched; i++)
		v[i] = b->unsched[i].pod;
	qsort(v, (size_t)b->nunsched, sizeof(*v), cmp_ptr);
	for (int i = 0; ok && i < a->nunsched; i++) {
		const void *k = a->unsched[i].pod;
		ok = bsearch(&k, v, (size_t)b->nunsched, sizeof(*v), cmp_ptr) != NULL;
	}
	free(v);
	return ok;
}

static kp_err add_note(struct kp_plan *plan, const char *fmt, double a, double b)
{
	const char **n = kp_arena_grow(&plan->arena, plan->notes, (size_t)plan->nnotes, (size_t)plan->nnotes + 1,
				       sizeof(*n));
	if (!n)
		return KP_ERR_NOMEM;
	n[plan->nnotes] = kp_arena_printf(&plan->arena, fmt, a, b);
	if (!n[plan->nnotes])
		return KP_ERR_NOMEM;
	plan->notes = n;
	plan->nnotes++;
	return KP_OK;
}

kp_err kp_sched_run(struct kp_sched *s, const bool *node_removed, const struct kp_pod *const *pods, int npods,
		    struct kp_plan *plan, struct kp_errbuf *eb)
{
	struct kp_plan kplan;
	double pc, pk;
	kp_err rc;

	if (!any_cost_tpl(s))
		return kp_sched__run_once(s, node_removed, pods, npods, plan, false, eb);
	rc = kp_sched__run_once(s, node_removed, pods, npods, plan, true, eb);
	if (rc)
		return rc;
	rc = kp_sched__run_once(s, node_removed, pods, npods, &kplan, false, eb);
	if (rc) {
		kp_plan_free(plan);
		return rc;
	}
	pc = plan_price(plan);
	pk = plan_price(&kplan);
	if (!unsched_subset(plan, &kplan) || pc > pk * (1 + PRICE_EPS)) {
		kp_plan_free(plan);
		*plan = kplan;
		rc = add_note(plan, "cost packing kept Karpenter's plan ($%.4f/h; the cost plan: $%.4f/h or fewer pods placed)",
			      pk, pc);
	} else {
		kp_plan_free(&kplan);
		rc = add_note(plan, "cost packing: $%.4f/h (Karpenter's packing: $%.4f/h)", pc, pk);
	}
	if (rc) {
		kp_plan_free(plan);
		return kp_errf(eb, rc, "out of memory");
	}
	return KP_OK;
}

/* ---- the bound ---- */

static kp_err bound_refs(struct kp_sched *s, const struct kp_plan *plan, struct kp_arena *a, struct podref **out,
			 int *n, struct kp_errbuf *eb)
{
	int cap = 0, k = 0;
	struct podref *refs;

	for (int i = 0; i < plan->nclaims; i++)
		cap += plan->claims[i].npods;
	for (int i = 0; i < plan->nexisting; i++)
		cap += plan->existing[i].npods;
	refs = kp_arena_calloc(a, (size_t)cap + 1, sizeof(*refs));
	if (!refs)
		return KP_ERR_NOMEM;
	for (int pass = 0; pass < 2; pass++) {
		int nsrc = pass ? plan->nexisting : plan->nclaims;
		for (int i = 0; i < nsrc; i++) {
			int np = pass ? plan->existing[i].npods : plan->claims[i].npods;
			const struct kp_pod **pp = pass ? plan->existing[i].pods : plan->claims[i].pods;
			for (int j = 0; j < np; j++) {
				struct kp_res *rq = kp_arena_alloc(a, sizeof(*rq));
				kp_err rc;
				if (!rq)
					return KP_ERR_NOMEM;
				*rq = pp[j]->requests;
				rq->v[KP_RES_PODS] += 1;
				rc = kp_sched__class_for(s, pp[j], &refs[k].cls, eb);
				if (rc)
					return rc;
				refs[k].pod = pp[j];
				refs[k].req = rq;
				refs[k].idx = k;
				k++;
			}
		}
	}
	*out = refs;
	*n = k;
	return KP_OK;
}

static void existing_free(const struct kp_sched *s, const bool *removed, const struct prob *pb,
			  struct kp_bound_problem *bp)
{
	bp->has_existing = s->nnodes > 0;
	for (int i = 0; i < s->nnodes; i++) {
		const struct kp_sched__node *n = &s->nodes[i];
		if (n->node_idx >= 0 && removed && removed[n->node_idx])
			continue;
		for (int d = 0; d < pb->ndims; d++)
			if (n->avail.v[pb->dims[d]] > 0)
				bp->existing[d] += n->avail.v[pb->dims[d]];
	}
}

kp_err kp_sched_cost_bound(const struct kp_sched_input *in, const struct kp_sched_opts *opts,
			   const struct kp_plan *plan, struct kp_cost_bound *out, struct kp_errbuf *eb)
{
	struct kp_sched *s = NULL;
	struct kp_arena a;
	struct prob pb;
	struct kp_bound_problem bp;
	struct kp_bound_result res;
	struct podref *refs = NULL;
	struct kp_sched__cost_kinds *ck = NULL;
	const struct kp_res **reqs;
	bool *use;
	int n = 0;
	kp_err rc;

	memset(out, 0, sizeof(*out));
	memset(&pb, 0, sizeof(pb));
	memset(&res, 0, sizeof(res));
	out->plan = plan_price(plan);
	kp_arena_init(&a);
	rc = kp_sched_prepare(in, opts, &s, eb);
	if (rc)
		return rc;
	rc = bound_refs(s, plan, &a, &refs, &n, eb);
	if (rc)
		goto out;
	reqs = kp_arena_calloc(&a, (size_t)n + 1, sizeof(*reqs));
	use = kp_arena_calloc(&a, (size_t)s->ntpl + 1, sizeof(bool));
	if (!reqs || !use) {
		rc = KP_ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++)
		reqs[i] = refs[i].req;
	for (int t = 0; t < s->ntpl; t++)
		use[t] = !s->tpl[t].skipped;
	if (!prob_dims(&pb, reqs, n, s->nres)) {
		rc = kp_errf(eb, KP_ERR_LIMIT, "bound: the pods use more than %d resource kinds", KP_BOUND_DIMS);
		goto out;
	}
	rc = kinds_list(s, use, &a, &ck);
	if (!rc)
		rc = prob_kinds(&pb, s, ck, &a);
	if (!rc)
		rc = prob_classes(&pb, s, refs, n, &a);
	if (rc)
		goto out;
	memset(&bp, 0, sizeof(bp));
	bp.ndims = pb.ndims;
	bp.nkinds = pb.nkinds;
	bp.kinds = pb.kinds;
	bp.nclasses = pb.nclasses;
	bp.classes = pb.classes;
	existing_free(s, in->node_removed, &pb, &bp);
	rc = kp_bound_solve(&bp, &res, eb);
	if (rc)
		goto out;
	out->lower = res.lower;
	out->pods = n;
	out->classes = pb.nclasses;
	out->kinds = pb.nkinds;
	out->iters = res.iters;
	out->gap = out->plan > 0 ? (out->plan - out->lower) / out->plan : 0;
out:
	kp_bound_result_free(&res);
	kp_arena_free(&a);
	kp_sched_free(s);
	if (rc == KP_ERR_NOMEM)
		kp_errf(eb, rc, "out of memory");
	return rc;
}
