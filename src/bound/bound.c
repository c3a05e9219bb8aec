/*
 * bound.c - column generation for the node-fleet cost lower bound
 * (include/karpenter/bound.h), with COIN-OR CLP as the LP solver.
 *
 * Master LP (rows): per class i, sum_j a_ij x_j + z_i >= d_i; with
 * existing capacity, per dimension r, sum_i (req_ir / E_r) z_i <= 1.
 * Columns: patterns x_j (cost = their kind's price), z_i (cost 0, pods
 * absorbed by existing nodes). Start: per class the pattern of the kind
 * with the lowest price per pod, filled with that class only.
 *
 * Pricing, per kind, is a greedy multi-dimensional knapsack over the
 * classes by dual value per normalised size (two orderings, best kept);
 * every pattern that beats its kind's price joins the master (the 64 best
 * per round). When none does, or after max_iters rounds, the bound is
 * Farley's: U_k is the fractional (LP) knapsack of kind k under the final
 * duals, from surrogate constraints and, where those leave U_k > price,
 * the exact knapsack LP solved with CLP; the duals divided by
 * rho = max(1, max_k U_k / price_k) are dual feasible for the complete
 * master, so their objective is a lower bound.
 *
 * Cost: per round O(kinds x classes x dims) for pricing plus one warm
 * primal simplex on (classes + dims) rows; at the end one small LP per
 * kind whose surrogate bound exceeds its price.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* CLP's C header declares ClpSolve_new() without a prototype */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <Clp_C_Interface.h>
#pragma GCC diagnostic pop

#include "karpenter/bound.h"

#define FLEET_ROUNDS 6          /* fleet: LP re-solves before the greedy finishes */
#define MAX_ADD 64              /* columns added per pricing round */
#define RC_EPS 1e-7             /* relative improvement a new column needs */
#define LP_INF 1e30             /* CLP treats bounds beyond 1e27 as infinite */

struct cg {
	const struct kp_bound_problem *p;
	struct kp_arena *a;
	int D, K, C;
	int64_t *dem;               /* per class demand (may be the residual) */
	bool *live;                 /* class takes part (some kind or existing fits) */
	int32_t *maxfit;            /* C x K: pods of class i one kind-k node holds (0 = none) */
	Clp_Simplex *lp;
	int nrows;                  /* C demand rows + D existing rows */
	int ncols, capcols;
	struct kp_bound_column *cols;
	int nz;                     /* z columns come first in the LP, not in cols */
	double *y;                  /* duals per class */
	double *mu;                 /* duals per existing row */
	double *val;                /* scratch: pattern being priced, per class */
	int *order;                 /* scratch */
	double *key;                /* scratch */
	int *rowbuf;                /* scratch: one column's rows... */
	double *elbuf;              /* ...and elements */
	long bb_nodes;              /* branch-and-bound budget per kind */
	long bb_total;              /* ...and per exact round over all kinds, 0 = none */
	bool bb_cut;                /* the round budget ran out: nothing proven */
	bool built;                 /* master_build ran */
	bool fleet;                 /* planning a fleet: no certified bound needed */
	long bb_used;               /* nodes searched in this exact round */
};

static bool compat(const struct kp_bound_class *c, int k)
{
	return !c->compat || (c->compat[k / 64] >> (k % 64)) & 1u;
}

static int32_t fit_count(const struct cg *g, int i, int k)
{
	const struct kp_bound_class *c = &g->p->classes[i];
	const struct kp_bound_kind *kd = &g->p->kinds[k];
	int64_t n = INT32_MAX;

	if (!compat(c, k))
		return 0;
	for (int r = 0; r < g->D; r++) {
		if (c->req[r] <= 0)
			continue;
		if (kd->free[r] < c->req[r])
			return 0;
		if (kd->free[r] / c->req[r] < n)
			n = kd->free[r] / c->req[r];
	}
	return (int32_t)n;
}

static bool existing_fits(const struct cg *g, int i)
{
	const struct kp_bound_problem *p = g->p;

	if (!p->has_existing)
		return false;
	for (int r = 0; r < g->D; r++)
		if (p->classes[i].req[r] > p->existing[r])
			return false;
	return true;
}

/* ---- the master ---- */

static kp_err add_column(struct cg *g, int kind, const int32_t *count, bool to_lp)
{
	struct kp_bound_column *c;
	int *rows = g->rowbuf;
	double *el = g->elbuf;
	int n = 0, start[2];
	double lo = 0, up = LP_INF, obj = g->p->kinds[kind].price;

	if (g->ncols == g->capcols) {
		int cap = g->capcols ? g->capcols * 2 : 256;
		c = kp_arena_grow(g->a, g->cols, (size_t)g->ncols, (size_t)cap, sizeof(*c));
		if (!c)
			return KP_ERR_NOMEM;
		g->cols = c;
		g->capcols = cap;
	}
	c = &g->cols[g->ncols];
	c->kind = kind;
	c->x = 0;
	c->count = kp_arena_memdup(g->a, count, (size_t)g->C * sizeof(int32_t));
	if (!c->count)
		return KP_ERR_NOMEM;
	g->ncols++;
	if (!to_lp)
		return KP_OK;
	for (int i = 0; i < g->C; i++) {
		if (!count[i])
			continue;
		rows[n] = i;
		el[n++] = count[i];
	}
	start[0] = 0;
	start[1] = n;
	Clp_addColumns(g->lp, 1, &lo, &up, &obj, start, rows, el);
	return KP_OK;
}

static kp_err master_build(struct cg *g)
{
	const struct kp_bound_problem *p = g->p;
	double *rlo, *rup, *clo, *cup, *obj, *el;
	int *start, *idx, nel = 0, ncol = 0;
	int32_t *count;
	kp_err rc;

	g->built = true;
	g->nrows = g->C + (p->has_existing ? g->D : 0);
	rlo = kp_arena_calloc(g->a, (size_t)g->nrows, sizeof(double));
	rup = kp_arena_calloc(g->a, (size_t)g->nrows, sizeof(double));
	clo = kp_arena_calloc(g->a, (size_t)g->C + 1, sizeof(double));
	cup = kp_arena_calloc(g->a, (size_t)g->C + 1, sizeof(double));
	obj = kp_arena_calloc(g->a, (size_t)g->C + 1, sizeof(double));
	start = kp_arena_calloc(g->a, (size_t)g->C + 2, sizeof(int));
	idx = kp_arena_calloc(g->a, (size_t)g->C * (size_t)(g->D + 1) + 1, sizeof(int));
	el = kp_arena_calloc(g->a, (size_t)g->C * (size_t)(g->D + 1) + 1, sizeof(double));
	count = kp_arena_calloc(g->a, (size_t)g->C + 1, sizeof(int32_t));
	if (!rlo || !rup || !clo || !cup || !obj || !start || !idx || !el || !count)
		return KP_ERR_NOMEM;
	for (int i = 0; i < g->C; i++) {
		rlo[i] = g->live[i] ? (double)g->dem[i] : 0;
		rup[i] = LP_INF;
	}
	for (int r = 0; p->has_existing && r < g->D; r++) {
		rlo[g->C + r] = -LP_INF;
		rup[g->C + r] = 1;
	}
	/* z columns: pods absorbed by existing capacity */
	if (p->has_existing) {
		for (int i = 0; i < g->C; i++) {
			start[ncol] = nel;
			clo[ncol] = 0;
			cup[ncol] = g->live[i] && existing_fits(g, i) ? (double)g->dem[i] : 0;
			obj[ncol] = 0;
			idx[nel] = i;
			el[nel++] = 1;
			for (int r = 0; r < g->D; r++) {
				if (p->classes[i].req[r] <= 0 || p->existing[r] <= 0)
					continue;
				idx[nel] = g->C + r;
				el[nel++] = (double)p->classes[i].req[r] / (double)p->existing[r];
			}
			ncol++;
		}
	}
	start[ncol] = nel;
	g->nz = ncol;
	Clp_loadProblem(g->lp, ncol, g->nrows, start, idx, el, clo, cup, obj, rlo, rup);
	/* one starting pattern per class */
	for (int i = 0; i < g->C; i++) {
		int best = -1;
		double bestpp = 0;
		int32_t bestn = 0;

		if (!g->live[i] || !g->dem[i])
			continue;
		for (int k = 0; k < g->K; k++) {
			int32_t n = g->maxfit[(size_t)i * g->K + k];
			double pp;
			if (!n)
				continue;
			if (n > g->dem[i])
				n = (int32_t)g->dem[i];
			pp = p->kinds[k].price / n;
			if (best < 0 || pp < bestpp) {
				best = k;
				bestpp = pp;
				bestn = n;
			}
		}
		if (best < 0)
			continue;
		memset(count, 0, (size_t)g->C * sizeof(int32_t));
		count[i] = bestn;
		rc = add_column(g, best, count, true);
		if (rc)
			return rc;
	}
	return KP_OK;
}

static bool master_solve(struct cg *g)
{
	const double *dual;

	Clp_primal(g->lp, 0);
	if (Clp_status(g->lp) != 0) {
		Clp_dual(g->lp, 0);
		if (Clp_status(g->lp) != 0)
			return false;
	}
	dual = Clp_dualRowSolution(g->lp);
	for (int i = 0; i < g->C; i++)
		g->y[i] = g->live[i] && dual[i] > 0 ? dual[i] : 0;
	for (int r = 0; g->p->has_existing && r < g->D; r++)
		g->mu[r] = dual[g->C + r] < 0 ? dual[g->C + r] : 0;
	return true;
}

/* ---- pricing ---- */

static int cmp_key_desc(const void *pa, const void *pb, void *ctx)
{
	const double *key = ctx;
	int a = *(const int *)pa, b = *(const int *)pb;

	if (key[a] != key[b])
		return key[a] > key[b] ? -1 : 1;
	return a - b;
}

/* Greedy fill of kind k in the order of key (desc); value into *v. */
static void greedy_fill(struct cg *g, int k, int mode, int32_t *count, double *v)
{
	const struct kp_bound_kind *kd = &g->p->kinds[k];
	int64_t left[KP_BOUND_DIMS];
	int n = 0;

	*v = 0;
	memset(count, 0, (size_t)g->C * sizeof(int32_t));
	for (int i = 0; i < g->C; i++) {
		double sz = 0;
		if (g->y[i] <= 0 || !g->maxfit[(size_t)i * g->K + k] || !g->dem[i])
			continue;
		for (int r = 0; r < g->D; r++) {
			double f;
			if (g->p->classes[i].req[r] <= 0 || kd->free[r] <= 0)
				continue;
			f = (double)g->p->classes[i].req[r] / (double)kd->free[r];
			if (mode == 0)
				sz += f;
			else if (f > sz)
				sz = f;
		}
		g->key[i] = g->y[i] / (sz > 0 ? sz : 1e-12);
		g->order[n++] = i;
	}
	qsort_r(g->order, (size_t)n, sizeof(int), cmp_key_desc, g->key);
	for (int r = 0; r < g->D; r++)
		left[r] = kd->free[r];
	for (int j = 0; j < n; j++) {
		int i = g->order[j];
		int64_t m = g->dem[i];
		for (int r = 0; r < g->D && m > 0; r++) {
			int64_t q = g->p->classes[i].req[r];
			if (q > 0 && left[r] / q < m)
				m = left[r] / q;
		}
		if (m <= 0)
			continue;
		count[i] = (int32_t)m;
		for (int r = 0; r < g->D; r++)
			left[r] -= m * g->p->classes[i].req[r];
		*v += (double)m * g->y[i];
	}
}

struct cand {
	int kind;
	double ratio;
	int32_t *count;
};

static int cmp_cand(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;

	if (a->ratio != b->ratio)
		return a->ratio > b->ratio ? -1 : 1;
	return a->kind - b->kind;
}

/* One pricing round: adds up to MAX_ADD improving columns; returns how many. */
static kp_err price_round(struct cg *g, struct kp_arena *scratch, int *added)
{
	struct cand *cands = kp_arena_calloc(scratch, (size_t)g->K + 1, sizeof(*cands));
	int32_t *a0 = kp_arena_calloc(scratch, (size_t)g->C + 1, sizeof(int32_t));
	int32_t *a1 = kp_arena_calloc(scratch, (size_t)g->C + 1, sizeof(int32_t));
	int nc = 0;
	kp_err rc;

	*added = 0;
	if (!cands || !a0 || !a1)
		return KP_ERR_NOMEM;
	for (int k = 0; k < g->K; k++) {
		double v0, v1, price = g->p->kinds[k].price;
		int32_t *best;

		greedy_fill(g, k, 0, a0, &v0);
		greedy_fill(g, k, 1, a1, &v1);
		best = v1 > v0 ? a1 : a0;
		if (v1 > v0)
			v0 = v1;
		if (v0 <= price * (1 + RC_EPS) + 1e-12)
			continue;
		cands[nc].kind = k;
		cands[nc].ratio = price > 0 ? v0 / price : 1e300;
		cands[nc].count = kp_arena_memdup(scratch, best, (size_t)g->C * sizeof(int32_t));
		if (!cands[nc].count)
			return KP_ERR_NOMEM;
		nc++;
	}
	qsort(cands, (size_t)nc, sizeof(*cands), cmp_cand);
	for (int j = 0; j < nc && j < MAX_ADD; j++) {
		rc = add_column(g, cands[j].kind, cands[j].count, true);
		if (rc)
			return rc;
		(*added)++;
	}
	return KP_OK;
}


/* ---- exact pricing: branch and bound ---- */

static double surrogate_ub(struct cg *g, int k, double *w);
static double knap_lp(struct cg *g, int k);

#define BB_NODES 2000000       /* search nodes per kind for the bound's proof */
#define BB_NODES_FLEET 20000   /* ...and when planning a fleet, */
#define BB_FLEET_TOTAL 200000  /* at most this many over all kinds per round, */
#define FLEET_EXACT_ROUNDS 4   /* and at most this many exact rounds */
#define BB_BOUND_TOTAL 20000000 /* the bound: per exact round over all kinds (beyond it the
				 * bound falls back to LP knapsack bounds, still valid) */

struct bb {
	struct cg *g;
	int k;
	int n;
	int *items;                 /* classes by dual value per normalised size, desc */
	double *w;                  /* normalised size per class */
	int *pos;                   /* per class: position in items */
	int *dimord;                /* per dimension: items by value per unit of it, desc */
	int64_t *ub;                /* per class: most pods one node holds */
	int64_t left[KP_BOUND_DIMS];
	int32_t *cur, *best;
	double bestv;
	long nodes;
	bool aborted;
};

/* Upper bound on what items[j..n) add within b->left: the least of the
 * fractional knapsacks on each dimension alone and on the normalised sum. */
static double bb_bound(const struct bb *b, int j)
{
	const struct cg *g = b->g;
	const struct kp_bound_kind *kd = &g->p->kinds[b->k];
	double cap = 0, v = 0, best = HUGE_VAL;

	for (int r = 0; r < g->D; r++) {
		const int *ord = &b->dimord[(size_t)r * (size_t)b->n];
		double c = (double)b->left[r], dv = 0;
		for (int q = 0; q < b->n; q++) {
			int i = ord[q];
			double u, take;
			int64_t rq = g->p->classes[i].req[r];
			if (b->pos[i] < j)
				continue;
			u = (double)b->ub[i];
			if (rq <= 0) {
				dv += u * g->y[i];
				continue;
			}
			if (c <= 0)
				continue;   /* zero-size items later in the order still count */
			take = c / (double)rq;
			if (take > u)
				take = u;
			dv += take * g->y[i];
			c -= take * (double)rq;
		}
		if (dv < best)
			best = dv;
	}
	for (int r = 0; r < g->D; r++)
		if (kd->free[r] > 0)
			cap += (double)b->left[r] / (double)kd->free[r];
	for (int q = j; q < b->n; q++) {
		int i = b->items[q];
		double u = (double)b->ub[i], take;
		if (b->w[i] <= 0) {
			v += u * g->y[i];
			continue;
		}
		if (cap <= 0)
			continue;
		take = cap / b->w[i];
		if (take > u)
			take = u;
		v += take * g->y[i];
		cap -= take * b->w[i];
	}
	return v < best ? v : best;
}

static void bb_dfs(struct bb *b, int j, double val)
{
	const struct cg *g = b->g;
	int i;
	int64_t m;

	if (val > b->bestv + 1e-12) {
		b->bestv = val;
		memcpy(b->best, b->cur, (size_t)g->C * sizeof(int32_t));
	}
	if (j == b->n || b->aborted)
		return;
	if (++b->nodes > b->g->bb_nodes) {
		b->aborted = true;
		return;
	}
	if (val + bb_bound(b, j) <= b->bestv * (1 + 1e-12) + 1e-12)
		return;
	i = b->items[j];
	m = g->dem[i];
	for (int r = 0; r < g->D; r++) {
		int64_t q = g->p->classes[i].req[r];
		if (q > 0 && b->left[r] / q < m)
			m = b->left[r] / q;
	}
	for (; m >= 0 && !b->aborted; m--) {
		for (int r = 0; r < g->D; r++)
			b->left[r] -= m * g->p->classes[i].req[r];
		b->cur[i] = (int32_t)m;
		bb_dfs(b, j + 1, val + (double)m * g->y[i]);
		b->cur[i] = 0;
		for (int r = 0; r < g->D; r++)
			b->left[r] += m * g->p->classes[i].req[r];
	}
}

/* Best pattern of kind k if it beats target (*found), and an upper bound on
 * every pattern's value (exact unless the search gave up). */
static double bb_price(struct cg *g, int k, double target, int32_t *best, bool *found, struct kp_arena *scratch)
{
	const struct kp_bound_kind *kd = &g->p->kinds[k];
	struct bb b;
	double ub;

	memset(&b, 0, sizeof(b));
	b.g = g;
	b.k = k;
	b.items = kp_arena_calloc(scratch, (size_t)g->C + 1, sizeof(int));
	b.w = kp_arena_calloc(scratch, (size_t)g->C + 1, sizeof(double));
	b.cur = kp_arena_calloc(scratch, (size_t)g->C + 1, sizeof(int32_t));
	b.best = best;
	*found = false;
	if (!b.items || !b.w || !b.cur)
		return HUGE_VAL;
	for (int i = 0; i < g->C; i++) {
		if (g->y[i] <= 0 || !g->maxfit[(size_t)i * g->K + k] || !g->dem[i])
			continue;
		for (int r = 0; r < g->D; r++)
			if (g->p->classes[i].req[r] > 0 && kd->free[r] > 0)
				b.w[i] += (double)g->p->classes[i].req[r] / (double)kd->free[r];
		g->key[i] = g->y[i] / (b.w[i] > 0 ? b.w[i] : 1e-12);
		b.items[b.n++] = i;
	}
	qsort_r(b.items, (size_t)b.n, sizeof(int), cmp_key_desc, g->key);
	b.pos = kp_arena_calloc(scratch, (size_t)g->C + 1, sizeof(int));
	b.ub = kp_arena_calloc(scratch, (size_t)g->C + 1, sizeof(int64_t));
	b.dimord = kp_arena_calloc(scratch, (size_t)g->D * (size_t)b.n + 1, sizeof(int));
	if (!b.pos || !b.ub || !b.dimord)
		return HUGE_VAL;
	for (int q = 0; q < b.n; q++) {
		int i = b.items[q];
		b.pos[i] = q;
		b.ub[i] = g->maxfit[(size_t)i * g->K + k] < g->dem[i] ? g->maxfit[(size_t)i * g->K + k] : g->dem[i];
	}
	for (int r = 0; r < g->D; r++) {
		int *ord = &b.dimord[(size_t)r * (size_t)b.n];
		for (int q = 0; q < b.n; q++) {
			int i = b.items[q];
			int64_t rq = g->p->classes[i].req[r];
			ord[q] = i;
			g->key[i] = rq > 0 ? g->y[i] / (double)rq : HUGE_VAL;
		}
		qsort_r(ord, (size_t)b.n, sizeof(int), cmp_key_desc, g->key);
	}
	for (int r = 0; r < g->D; r++)
		b.left[r] = kd->free[r];
	ub = bb_bound(&b, 0);
	b.bestv = target;
	memset(best, 0, (size_t)g->C * sizeof(int32_t));
	bb_dfs(&b, 0, 0);
	g->bb_used += b.nodes;
	*found = b.bestv > target;
	if (b.aborted) {
		double lp = g->fleet ? ub : knap_lp(g, k);  /* a fleet uses no bound */
		return lp < ub ? lp : ub;
	}
	return b.bestv;             /* max(target, best pattern): a valid upper bound */
}


/* Exact pricing round: kinds whose surrogate bound beats their price get a
 * branch and bound; improving patterns join the master. ubk[k] receives an
 * upper bound on every kind-k pattern's value. */
static kp_err exact_round(struct cg *g, struct kp_arena *scratch, double *ubk, int *added)
{
	struct cand *cands = kp_arena_calloc(scratch, (size_t)g->K + 1, sizeof(*cands));
	double *w = kp_arena_calloc(scratch, (size_t)g->C + 1, sizeof(double));
	int32_t *best = kp_arena_calloc(scratch, (size_t)g->C + 1, sizeof(int32_t));
	int nc = 0;
	kp_err rc;

	*added = 0;
	g->bb_used = 0;
	if (!cands || !w || !best)
		return KP_ERR_NOMEM;
	for (int k = 0; k < g->K; k++) {
		double price = g->p->kinds[k].price;
		bool found;

		ubk[k] = surrogate_ub(g, k, w);
		if (ubk[k] <= price * (1 + RC_EPS))
			continue;
		if (g->bb_total > 0 && g->bb_used >= g->bb_total) {
			g->bb_cut = true;
			continue;
		}
		ubk[k] = bb_price(g, k, price * (1 + RC_EPS), best, &found, scratch);
		if (!found)
			continue;
		cands[nc].kind = k;
		cands[nc].ratio = price > 0 ? ubk[k] / price : 1e300;
		cands[nc].count = kp_arena_memdup(scratch, best, (size_t)g->C * sizeof(int32_t));
		if (!cands[nc].count)
			return KP_ERR_NOMEM;
		nc++;
	}
	qsort(cands, (size_t)nc, sizeof(*cands), cmp_cand);
	for (int j = 0; j < nc && j < MAX_ADD; j++) {
		rc = add_column(g, cands[j].kind, cands[j].count, true);
		if (rc)
			return rc;
		(*added)++;
	}
	return KP_OK;
}

/* ---- Farley's bound ---- */

/* Fractional knapsack of kind k with item weights w (per class) and
 * capacity cap; items bounded by min(demand, maxfit). */
static double frac_knap(struct cg *g, int k, const double *w, double cap)
{
	double v = 0;
	int n = 0;

	for (int i = 0; i < g->C; i++) {
		int32_t u = g->maxfit[(size_t)i * g->K + k];
		if (g->y[i] <= 0 || !u || !g->dem[i])
			continue;
		if (w[i] <= 0) {
			v += g->y[i] * (double)(u < g->dem[i] ? u : g->dem[i]);
			continue;
		}
		g->key[i] = g->y[i] / w[i];
		g->order[n++] = i;
	}
	qsort_r(g->order, (size_t)n, sizeof(int), cmp_key_desc, g->key);
	for (int j = 0; j < n && cap > 0; j++) {
		int i = g->order[j];
		double u = (double)g->maxfit[(size_t)i * g->K + k];
		double take;
		if ((double)g->dem[i] < u)
			u = (double)g->dem[i];
		take = cap / w[i];
		if (take > u)
			take = u;
		v += take * g->y[i];
		cap -= take * w[i];
	}
	return v;
}

/* Upper bound on any pattern's dual value for kind k: the least of a few
 * surrogate relaxations. */
static double surrogate_ub(struct cg *g, int k, double *w)
{
	const struct kp_bound_kind *kd = &g->p->kinds[k];
	double best = 0;

	/* every pod that fits at once: often below the price already (small
	 * demands, large kinds), and O(classes) */
	for (int i = 0; i < g->C; i++) {
		int32_t u = g->maxfit[(size_t)i * g->K + k];
		if (g->y[i] > 0 && u && g->dem[i])
			best += g->y[i] * (double)(u < g->dem[i] ? u : g->dem[i]);
	}
	if (best <= kd->price)
		return best;
	best = HUGE_VAL;

	for (int r1 = -1; r1 < g->D; r1++) {
		for (int r2 = r1; r2 < g->D; r2++) {
			double cap = 0, v;
			bool any = false;
			for (int i = 0; i < g->C; i++)
				w[i] = 0;
			for (int r = 0; r < g->D; r++) {
				bool use = r1 < 0 || r == r1 || r == r2;
				if (!use || kd->free[r] <= 0)
					continue;
				any = true;
				cap += 1;
				for (int i = 0; i < g->C; i++)
					w[i] += (double)g->p->classes[i].req[r] / (double)kd->free[r];
			}
			if (!any)
				continue;
			v = frac_knap(g, k, w, cap);
			if (v < best)
				best = v;
			if (r1 < 0)
				break;
		}
	}
	return best;
}

/* The knapsack LP of kind k solved exactly. */
static double knap_lp(struct cg *g, int k)
{
	const struct kp_bound_kind *kd = &g->p->kinds[k];
	Clp_Simplex *m = Clp_newModel();
	int ncol = 0, nel = 0;
	int start[g->C + 1], idx[g->C * g->D + 1];
	double el[g->C * g->D + 1], lo[g->C + 1], up[g->C + 1], obj[g->C + 1];
	double rlo[KP_BOUND_DIMS], rup[KP_BOUND_DIMS], v = HUGE_VAL;

	if (!m)
		return HUGE_VAL;
	Clp_setLogLevel(m, 0);
	for (int i = 0; i < g->C; i++) {
		int32_t u = g->maxfit[(size_t)i * g->K + k];
		if (g->y[i] <= 0 || !u || !g->dem[i])
			continue;
		start[ncol] = nel;
		lo[ncol] = 0;
		up[ncol] = (double)(u < g->dem[i] ? u : g->dem[i]);
		obj[ncol] = g->y[i];
		for (int r = 0; r < g->D; r++) {
			if (g->p->classes[i].req[r] <= 0 || kd->free[r] <= 0)
				continue;
			idx[nel] = r;
			el[nel++] = (double)g->p->classes[i].req[r] / (double)kd->free[r];
		}
		ncol++;
	}
	start[ncol] = nel;
	for (int r = 0; r < g->D; r++) {
		rlo[r] = -LP_INF;
		rup[r] = 1;
	}
	if (!ncol) {
		Clp_deleteModel(m);
		return 0;
	}
	Clp_loadProblem(m, ncol, g->D, start, idx, el, lo, up, obj, rlo, rup);
	Clp_setOptimizationDirection(m, -1);
	Clp_primal(m, 0);
	if (Clp_status(m) == 0)
		v = Clp_objectiveValue(m) * (1 + 1e-9) + 1e-9;
	Clp_deleteModel(m);
	return v;
}

/* Makes the duals exactly feasible for the z columns after clamping. */
static void fix_z_duals(struct cg *g)
{
	const struct kp_bound_problem *p = g->p;

	if (!p->has_existing)
		return;
	for (int i = 0; i < g->C; i++) {
		double lim = 0;
		if (!existing_fits(g, i))
			continue;
		for (int r = 0; r < g->D; r++)
			if (p->classes[i].req[r] > 0 && p->existing[r] > 0)
				lim -= (double)p->classes[i].req[r] / (double)p->existing[r] * g->mu[r];
		if (g->y[i] > lim)
			g->y[i] = lim;
	}
}

static double farley(struct cg *g, struct kp_arena *scratch, const double *ubk)
{
	double *w = kp_arena_calloc(scratch, (size_t)g->C + 1, sizeof(double));
	double rho = 1, obj = 0;

	if (!w)
		return 0;
	fix_z_duals(g);
	for (int k = 0; k < g->K; k++) {
		double price = g->p->kinds[k].price, u = ubk ? ubk[k] : surrogate_ub(g, k, w);
		if (!ubk && u > price * (1 + 1e-9))
			u = knap_lp(g, k);
		if (price <= 0) {
			if (u > 1e-12)
				return 0;   /* a free kind with value: no finite rho */
			continue;
		}
		if (u / price > rho)
			rho = u / price;
	}
	for (int i = 0; i < g->C; i++)
		obj += g->y[i] * (double)(g->live[i] ? g->dem[i] : 0);
	for (int r = 0; g->p->has_existing && r < g->D; r++)
		obj += g->mu[r];
	return obj > 0 ? obj / rho : 0;
}

/* ---- driver ---- */

static kp_err cg_init(struct cg *g, const struct kp_bound_problem *p, const int64_t *dem, struct kp_arena *a,
		      int *ninf)
{
	memset(g, 0, sizeof(*g));
	g->p = p;
	g->a = a;
	g->D = p->ndims;
	g->K = p->nkinds;
	g->C = p->nclasses;
	g->dem = kp_arena_memdup(a, dem, ((size_t)g->C + 1) * sizeof(int64_t));
	g->live = kp_arena_calloc(a, (size_t)g->C + 1, sizeof(bool));
	g->maxfit = kp_arena_calloc(a, (size_t)g->C * (size_t)g->K + 1, sizeof(int32_t));
	g->y = kp_arena_calloc(a, (size_t)g->C + 1, sizeof(double));
	g->mu = kp_arena_calloc(a, KP_BOUND_DIMS, sizeof(double));
	g->val = kp_arena_calloc(a, (size_t)g->C + 1, sizeof(double));
	g->order = kp_arena_calloc(a, (size_t)g->C + 1, sizeof(int));
	g->key = kp_arena_calloc(a, (size_t)g->C + 1, sizeof(double));
	g->rowbuf = kp_arena_calloc(a, (size_t)g->C + 1, sizeof(int));
	g->elbuf = kp_arena_calloc(a, (size_t)g->C + 1, sizeof(double));
	if (!g->rowbuf || !g->elbuf)
		return KP_ERR_NOMEM;
	if (!g->dem || !g->live || !g->maxfit || !g->y || !g->mu || !g->val || !g->order || !g->key)
		return KP_ERR_NOMEM;
	*ninf = 0;
	for (int i = 0; i < g->C; i++) {
		bool any = false;
		for (int k = 0; k < g->K; k++) {
			g->maxfit[(size_t)i * g->K + k] = fit_count(g, i, k);
			any |= g->maxfit[(size_t)i * g->K + k] > 0;
		}
		g->live[i] = any || existing_fits(g, i);
		if (!g->live[i] && g->dem[i])
			(*ninf)++;
	}
	g->lp = Clp_newModel();
	if (!g->lp)
		return KP_ERR_NOMEM;
	Clp_setLogLevel(g->lp, 0);
	return KP_OK;
}

static kp_err cg_run(struct cg *g, int max_iters, long exact, int *iters, double *lower, double *lp)
{
	struct kp_arena scratch;
	double *ubk;
	int nexact = 0;
	bool proven = false;
	kp_err rc = g->built ? KP_OK : master_build(g);   /* the fleet builds it first */

	*iters = 0;
	*lower = *lp = 0;
	if (rc)
		return rc;
	g->bb_nodes = exact;
	g->bb_total = exact == BB_NODES_FLEET ? BB_FLEET_TOTAL : BB_BOUND_TOTAL;
	kp_arena_init(&scratch);
	ubk = kp_arena_calloc(&scratch, (size_t)g->K + 1, sizeof(double));
	if (!ubk) {
		kp_arena_free(&scratch);
		return KP_ERR_NOMEM;
	}
	for (;;) {
		struct kp_arena_mark m = kp_arena_mark(&scratch);
		int added = 0;

		if (!master_solve(g)) {
			kp_arena_free(&scratch);
			return KP_ERR_INVALID;
		}
		if (*iters >= max_iters)
			break;
		rc = price_round(g, &scratch, &added);
		if (!rc && !added && exact && (exact != BB_NODES_FLEET || nexact++ < FLEET_EXACT_ROUNDS))
			rc = exact_round(g, &scratch, ubk, &added);
		kp_arena_reset(&scratch, m);
		if (rc) {
			kp_arena_free(&scratch);
			return rc;
		}
		(*iters)++;
		if (!added) {
			proven = exact > 0 && !g->bb_cut && (exact != BB_NODES_FLEET || nexact <= FLEET_EXACT_ROUNDS);
			break;
		}
	}
	*lp = Clp_objectiveValue(g->lp);
	{
		const double *x = Clp_primalColumnSolution(g->lp);
		for (int j = 0; j < g->ncols; j++)
			g->cols[j].x = x[g->nz + j];
	}
	/* a fleet needs no certificate: Farley's bound costs a knapsack LP per
	 * unproven kind */
	*lower = g->fleet ? *lp : farley(g, &scratch, proven ? ubk : NULL);
	if (*lower > *lp)
		*lower = *lp;
	kp_arena_free(&scratch);
	return KP_OK;
}

static int64_t *demands(const struct kp_bound_problem *p, struct kp_arena *a)
{
	int64_t *d = kp_arena_calloc(a, (size_t)p->nclasses + 1, sizeof(int64_t));

	for (int i = 0; d && i < p->nclasses; i++)
		d[i] = p->classes[i].demand;
	return d;
}

kp_err kp_bound_solve(const struct kp_bound_problem *p, struct kp_bound_result *out, struct kp_errbuf *eb)
{
	struct cg g = { 0 };
	int64_t *d;
	kp_err rc;

	memset(out, 0, sizeof(*out));
	kp_arena_init(&out->arena);
	if (p->ndims < 1 || p->ndims > KP_BOUND_DIMS)
		return kp_errf(eb, KP_ERR_INVALID, "bound: %d resource dimensions (1..%d)", p->ndims, KP_BOUND_DIMS);
	d = demands(p, &out->arena);
	rc = d ? cg_init(&g, p, d, &out->arena, &out->ninfeasible) : KP_ERR_NOMEM;
	if (!rc)
		rc = cg_run(&g, p->max_iters > 0 ? p->max_iters : 400, BB_NODES, &out->iters, &out->lower, &out->lp);
	if (g.lp)
		Clp_deleteModel(g.lp);
	if (rc) {
		kp_bound_result_free(out);
		return kp_errf(eb, rc, rc == KP_ERR_NOMEM ? "out of memory" : "bound: the LP solver failed");
	}
	out->ncols = g.ncols;
	out->cols = g.cols;
	return KP_OK;
}

void kp_bound_result_free(struct kp_bound_result *r)
{
	if (!r)
		return;
	kp_arena_free(&r->arena);
	memset(r, 0, sizeof(*r));
}

/* ---- integer fleet ---- */

/* The cheapest kind compatible with every class in count that holds it. */
static int cheapest_kind(const struct kp_bound_problem *p, const int32_t *count)
{
	int64_t tot[KP_BOUND_DIMS] = { 0 };
	int best = -1;

	for (int i = 0; i < p->nclasses; i++)
		for (int r = 0; r < p->ndims; r++)
			tot[r] += (int64_t)count[i] * p->classes[i].req[r];
	for (int k = 0; k < p->nkinds; k++) {
		bool ok = true;
		if (best >= 0 && p->kinds[k].price >= p->kinds[best].price)
			continue;
		for (int r = 0; ok && r < p->ndims; r++)
			ok = tot[r] <= p->kinds[k].free[r];
		for (int i = 0; ok && i < p->nclasses; i++)
			ok = !count[i] || compat(&p->classes[i], k);
		if (ok)
			best = k;
	}
	return best;
}

static kp_err fleet_add(struct kp_bound_fleet *f, int *cap, const struct kp_bound_problem *p, int kind,
			const int32_t *pattern, int64_t *res, bool *took)
{
	int32_t *count = kp_arena_calloc(&f->arena, (size_t)p->nclasses + 1, sizeof(int32_t));
	bool any = false;
	int k;

	*took = false;
	if (!count)
		return KP_ERR_NOMEM;
	for (int i = 0; i < p->nclasses; i++) {
		count[i] = pattern[i] < res[i] ? pattern[i] : (int32_t)res[i];
		any |= count[i] > 0;
	}
	if (!any)
		return KP_OK;
	k = cheapest_kind(p, count);
	if (k < 0)
		k = kind;
	if (f->nbins == *cap) {
		struct kp_bound_bin *b;
		*cap = *cap ? *cap * 2 : 64;
		b = kp_arena_grow(&f->arena, f->bins, (size_t)f->nbins, (size_t)*cap, sizeof(*b));
		if (!b)
			return KP_ERR_NOMEM;
		f->bins = b;
	}
	f->bins[f->nbins].kind = k;
	f->bins[f->nbins].count = count;
	f->nbins++;
	f->cost += p->kinds[k].price;
	for (int i = 0; i < p->nclasses; i++)
		res[i] -= count[i];
	*took = true;
	return KP_OK;
}

/* The rest of the fleet without more LPs: bin after bin, the pattern with
 * the best value per dollar under the last duals (greedy_fill over every
 * kind), or, for classes the duals ignore, the cheapest kind per pod. */
static kp_err fleet_greedy(struct cg *g, struct kp_bound_fleet *f, int *cap, const struct kp_bound_problem *p,
			   int64_t *res)
{
	int32_t *a = kp_arena_calloc(g->a, (size_t)g->C + 1, sizeof(int32_t));
	int32_t *best = kp_arena_calloc(g->a, (size_t)g->C + 1, sizeof(int32_t));
	kp_err rc;

	if (!a || !best)
		return KP_ERR_NOMEM;
	for (;;) {
		double bestr = 0;
		int bk = -1;
		bool took, left = false;

		for (int i = 0; i < g->C; i++) {
			g->dem[i] = res[i];
			left |= res[i] > 0;
			if (res[i] > 0 && g->y[i] <= 0)
				g->y[i] = 1e-9;   /* keep every class worth something */
		}
		if (!left)
			return KP_OK;
		for (int k = 0; k < g->K; k++) {
			for (int mode = 0; mode < 2; mode++) {
				double v;
				greedy_fill(g, k, mode, a, &v);
				if (v <= 0 || g->p->kinds[k].price <= 0)
					continue;
				if (bk < 0 || v / g->p->kinds[k].price > bestr) {
					bestr = v / g->p->kinds[k].price;
					bk = k;
					memcpy(best, a, (size_t)g->C * sizeof(int32_t));
				}
			}
		}
		if (bk < 0)
			return KP_OK;   /* nothing holds what is left */
		/* the same pattern stays best while it fits: take it as often as the
		 * pods left allow */
		do {
			rc = fleet_add(f, cap, p, bk, best, res, &took);
			for (int i = 0; took && i < g->C; i++)
				took = best[i] <= res[i];
		} while (!rc && took);
		if (rc)
			return rc;
	}
}

kp_err kp_bound_fleet(const struct kp_bound_problem *p0, struct kp_bound_fleet *out, struct kp_errbuf *eb)
{
	struct kp_bound_problem p = *p0;
	struct kp_arena warm_a;
	struct kp_arena_mark warm_m;
	struct kp_bound_bin *warm = NULL;   /* the last round's basic columns */
	int nwarm = 0;
	int64_t *res;
	int cap = 0, round = 0;
	kp_err rc = KP_OK;

	memset(out, 0, sizeof(*out));
	kp_arena_init(&out->arena);
	p.has_existing = false;
	res = demands(&p, &out->arena);
	if (!res)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	kp_arena_init(&warm_a);
	warm_m = kp_arena_mark(&warm_a);
	for (;;) {
		struct kp_arena a;
		struct cg g;
		int iters, ninf, best = -1;
		double lower, lp;
		bool any = false, took;

		for (int i = 0; i < p.nclasses; i++)
			any |= res[i] > 0;
		if (!any)
			break;
		kp_arena_init(&a);
		rc = cg_init(&g, &p, res, &a, &ninf);
		for (int i = 0; !rc && i < p.nclasses; i++)
			if (!g.live[i])
				res[i] = g.dem[i] = 0;  /* nothing holds them: not ours to place */
		g.fleet = true;
		if (!rc)
			rc = master_build(&g);
		/* warm start: the last round's basic columns are still patterns
		 * (over-covering a smaller demand is allowed by the >= rows) */
		for (int j = 0; !rc && j < nwarm; j++)
			rc = add_column(&g, warm[j].kind, warm[j].count, true);
		if (!rc)
			rc = cg_run(&g, p.max_iters > 0 ? p.max_iters : 400, round == 0 ? BB_NODES_FLEET : 0, &iters, &lower, &lp);
		if (!rc && round == 0)
			out->lower = lower;
		any = false;
		for (int j = 0; !rc && j < g.ncols; j++) {
			int n = (int)floor(g.cols[j].x + 1e-6);
			if (best < 0 || g.cols[j].x > g.cols[best].x)
				best = j;
			for (int c = 0; !rc && c < n; c++) {
				rc = fleet_add(out, &cap, &p, g.cols[j].kind, g.cols[j].count, res, &took);
				any |= took;
			}
		}
		if (!rc && !any && best >= 0 && round < FLEET_ROUNDS) {
			rc = fleet_add(out, &cap, &p, g.cols[best].kind, g.cols[best].count, res, &took);
			any = took;
		}
		if (!rc && (round + 1 >= FLEET_ROUNDS || !any)) {
			rc = fleet_greedy(&g, out, &cap, &p, res);
			any = false;    /* done: the greedy placed the rest */
		}
		kp_arena_reset(&warm_a, warm_m);
		nwarm = 0;
		warm = kp_arena_calloc(&warm_a, (size_t)g.ncols + 1, sizeof(*warm));
		if (!warm && !rc)
			rc = KP_ERR_NOMEM;
		for (int j = 0; !rc && j < g.ncols; j++) {
			if (g.cols[j].x <= 1e-9)
				continue;
			warm[nwarm].kind = g.cols[j].kind;
			warm[nwarm].count = kp_arena_memdup(&warm_a, g.cols[j].count, (size_t)p.nclasses * sizeof(int32_t));
			if (!warm[nwarm].count)
				rc = KP_ERR_NOMEM;
			nwarm++;
		}
		if (g.lp)
			Clp_deleteModel(g.lp);
		kp_arena_free(&a);
		if (rc || !any)
			break;
		round++;
	}
	kp_arena_free(&warm_a);
	if (rc) {
		kp_bound_fleet_free(out);
		return kp_errf(eb, rc, rc == KP_ERR_NOMEM ? "out of memory" : "fleet: the LP solver failed");
	}
	return KP_OK;
}

void kp_bound_fleet_free(struct kp_bound_fleet *f)
{
	if (!f)
		return;
	kp_arena_free(&f->arena);
	memset(f, 0, sizeof(*f));
}
