/*
 * split.c - split consolidation (docs/packing.md): in cost packing mode a
 * consolidation may replace one node by several cheaper ones (1 -> N) and M
 * nodes by N of any count, which Karpenter's consolidation never does (it
 * only replaces N nodes by at most one).
 *
 * The simulation is the ordinary one (kp_disrupt__simulate: the candidates' pods
 * without the candidates), packed for cost by the scheduler when the
 * candidates' NodePools pack for cost; when it needs more than one new
 * node, consolidation.c applies the repack price rules (no candidate's type
 * and capacity type, worst-case launch total strictly below the candidates'
 * price) and the NodePools' savings thresholds. Budgets, PDBs,
 * do-not-disrupt and validation are those of every command.
 *
 * Pool split (multi-node consolidation when every candidate packs for
 * cost): the candidates the budgets allow, most wasted first (the node's
 * price minus a lower bound on its pods' cost: their dearest resource at the
 * lowest unit price of the offerings the candidates' NodePools allow; no
 * simulation), are re-packed at once by the
 * cost packer in one simulation. When that is not valid or saves less than
 * KP_DISRUPT__SPLIT_MIN_SAVING, its nodes are settled: later pool splits
 * skip them (single-node consolidation still considers each). It replaces Karpenter's prefix search in
 * Karpenter's disruption order, whose first nodes are the fullest cheap
 * ones once a scale-down has been split, and needs O(log n) simulations.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disrupt/disrupt_int.h"
#include "karpenter/pack.h"

static bool pool_packs_cost(const struct kp_disrupt__pass *p, const struct kp_nodepool *np)
{
	const char *v = np ? kp_labels_get(&np->meta_annotations, KP_ANN_PACKING) : NULL;

	if (v)
		return strcmp(v, "cost") == 0;
	return p->opts->sched.packing == KP_PACKING_COST;
}

bool kp_disrupt__split_allowed(struct kp_disrupt__pass *p, const int *cand, int n)
{
	for (int j = 0; j < n; j++)
		if (!pool_packs_cost(p, p->nodes[cand[j]].pool))
			return false;
	return n > 0;
}

const char *kp_disrupt__split_reason(struct kp_disrupt__pass *p, int n, int nclaims)
{
	return n == 1 ? kp_disrupt__fmt(p, "Underutilized: node split into %d cheaper nodes", nclaims)
		      : kp_disrupt__fmt(p, "Underutilized: %d nodes split into %d cheaper nodes", n, nclaims);
}

/* Per resource: the lowest price per allocatable unit over the catalog's
 * available offerings that one of pools[0..npools) allows by its zone and
 * capacity-type requirements (0 = no type has it). */
static void unit_prices(const struct kp_disrupt__pass *p, const struct kp_nodepool *const *pools, int npools,
			double *best, int nres)
{
	for (int k = 0; k < nres; k++)
		best[k] = 0;
	for (int t = 0; t < p->cat->n; t++) {
		const struct kp_itype *it = p->cat->types[t];
		double price = -1;
		for (int o = 0; o < it->noff; o++) {
			bool ok = false;
			if (!it->off[o].available || (price >= 0 && kp_disrupt__price(&it->off[o]) >= price))
				continue;
			for (int j = 0; j < npools && !ok; j++)
				ok = kp_offering_compatible(&it->off[o], &pools[j]->reqs);
			if (ok)
				price = kp_disrupt__price(&it->off[o]);
		}
		if (price < 0)
			continue;
		for (int k = 0; k < nres; k++) {
			double u;
			if (it->allocatable.v[k] <= 0)
				continue;
			u = price / (double)it->allocatable.v[k];
			if (best[k] <= 0 || u < best[k])
				best[k] = u;
		}
	}
}

/* The node's price minus a lower bound on what its pods need anywhere: the
 * most any one resource of theirs costs at the catalog's lowest unit price. */
static double node_waste(const struct kp_disrupt__node *d, const double *unit, int nres)
{
	double need = 0;

	for (int k = 0; k < nres; k++) {
		int64_t sum = 0;
		if (k == KP_RES_PODS || unit[k] <= 0)
			continue;
		for (int j = 0; j < d->npods; j++)
			sum += d->pods[j]->requests.v[k];
		if ((double)sum * unit[k] > need)
			need = (double)sum * unit[k];
	}
	return d->price > need ? d->price - need : 0;
}

static int cmp_node_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const struct kp_node *const *)a, y = (uintptr_t)*(const struct kp_node *const *)b;
	return x < y ? -1 : x > y;
}

static bool settled(const struct kp_disrupt__world *w, const struct kp_node *n)
{
	return w->nsettled && bsearch(&n, w->settled, (size_t)w->nsettled, sizeof(*w->settled), cmp_node_ptr);
}

kp_err kp_disrupt__split_settle(struct kp_disrupt__pass *p, const int *cand, int n)
{
	struct kp_disrupt__world *w = p->w;

	if (w->nsettled + n > w->capsettled) {
		int cap = (w->nsettled + n) * 2;
		const struct kp_node **v = kp_arena_grow(&w->cl.arena, w->settled, (size_t)w->nsettled, (size_t)cap,
							sizeof(*v));
		if (!v)
			return KP_ERR_NOMEM;
		w->settled = v;
		w->capsettled = cap;
	}
	for (int i = 0; i < n; i++)
		w->settled[w->nsettled++] = p->nodes[cand[i]].node;
	qsort(w->settled, (size_t)w->nsettled, sizeof(*w->settled), cmp_node_ptr);
	return KP_OK;
}

struct waste_key {
	double waste;
	int pos, idx;
};

static int cmp_waste(const void *a, const void *b)
{
	const struct waste_key *x = a, *y = b;

	if (x->waste != y->waste)
		return x->waste > y->waste ? -1 : 1;
	return x->pos - y->pos;
}

int kp_disrupt__split_order(struct kp_disrupt__pass *p, int *cand, int n, bool all)
{
	struct waste_key *k = kp_arena_calloc(&p->arena, (size_t)n + 1, sizeof(*k));
	int nres = p->w->cl.resnames.n < KP_RES_MAX ? p->w->cl.resnames.n : KP_RES_MAX;
	double unit[KP_RES_MAX];
	int m = 0;

	const struct kp_nodepool **pools = kp_arena_calloc(&p->arena, (size_t)n + 1, sizeof(*pools));
	int npools = 0;

	if (!k || !pools)
		return -1;
	for (int i = 0; i < n; i++) {
		const struct kp_nodepool *np = p->nodes[cand[i]].pool;
		bool seen = !np;
		for (int j = 0; j < npools && !seen; j++)
			seen = pools[j] == np;
		if (!seen)
			pools[npools++] = np;
	}
	unit_prices(p, pools, npools, unit, nres);
	for (int i = 0; i < n; i++) {
		const struct kp_disrupt__node *d = &p->nodes[cand[i]];
		double w;
		if (!all && settled(p->w, d->node))
			continue;   /* an earlier pool split could not improve it */
		w = node_waste(d, unit, nres);
		if (!all && w <= d->price * KP_DISRUPT__SPLIT_MIN_WASTE)
			continue;   /* (nearly) full: nothing to gain from moving its pods */
		k[m].waste = w;
		k[m].pos = i;
		k[m].idx = cand[i];
		m++;
	}
	qsort(k, (size_t)m, sizeof(*k), cmp_waste);
	for (int i = 0; i < m; i++)
		cand[i] = k[i].idx;
	return m;
}
