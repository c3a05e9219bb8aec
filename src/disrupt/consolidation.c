/*
 * consolidation.c - multi-node and single-node consolidation (Karpenter's
 * consolidation.go computeConsolidation, multinodeconsolidation.go and
 * singlenodeconsolidation.go), plus the price rules for replacements.
 *
 * A consolidation of candidates C is valid when a simulation without C
 * places every pod of C and then either needs no new node (delete) or one
 * new node whose worst-case launch price is strictly below the sum of C's
 * prices (replace). The replacement never has the same instance type and
 * capacity type as a candidate; an on-demand candidate may become spot of
 * the same type; when spot and on-demand both remain the replacement is
 * pinned to spot; all-spot candidates take the spot-to-spot path (gated,
 * and single-node needs at least 15 cheaper types, launching the cheapest
 * 15). Multi-node binary-searches the longest valid prefix of the first
 * 100 candidates (budget-filtered, sorted by savings per disruption);
 * single-node takes the first valid candidate in the same order.
 *
 * Beyond Karpenter (options, off by default): evaluate_all (single-node
 * keeps the largest saving of every candidate; multi-node is uncapped),
 * repack (M -> N nodes, 1 < N < M, when cheaper), minimum savings per
 * NodePool (annotations, or the CLI default).
 *
 * Cost: single-node one simulation per candidate until one succeeds (all
 * with evaluate_all); multi-node O(log(min(n, 100))) simulations.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "disrupt/disrupt_int.h"

/* ---- offerings ---- */

bool kp_disrupt__offering_ok(const struct kp_offering *o, const struct kp_reqs *reqs, int pin)
{
	return o->available && (pin < 0 || (int)o->captype == pin) && kp_offering_compatible(o, reqs);
}

const struct kp_offering *kp_disrupt__cheapest(const struct kp_itype *it, const struct kp_reqs *reqs, int pin)
{
	const struct kp_offering *best = NULL;

	for (int i = 0; i < it->noff; i++) {
		const struct kp_offering *o = &it->off[i];
		if (kp_disrupt__offering_ok(o, reqs, pin) && (!best || kp_disrupt__price(o) < kp_disrupt__price(best)))
			best = o;
	}
	return best;
}

double kp_disrupt__worst_launch_price(const struct kp_itype *it, const struct kp_reqs *reqs, int pin)
{
	static const int order[] = { KP_CAP_RESERVED, KP_CAP_SPOT, KP_CAP_ON_DEMAND };

	for (size_t k = 0; k < KP_ARRAY_LEN(order); k++) {
		double worst = -1;
		if (pin >= 0 && pin != order[k])
			continue;
		for (int i = 0; i < it->noff; i++) {
			const struct kp_offering *o = &it->off[i];
			if (kp_disrupt__offering_ok(o, reqs, order[k]) && kp_disrupt__price(o) > worst)
				worst = kp_disrupt__price(o);
		}
		if (worst >= 0)
			return worst;
	}
	return HUGE_VAL;
}

/* ---- option lists ---- */

struct opt_key {
	double price;
	int pos;
	const struct kp_itype *it;
};

static int cmp_opt(const void *a, const void *b)
{
	const struct opt_key *x = a, *y = b;

	if (x->price != y->price)
		return x->price < y->price ? -1 : 1;
	return x->pos - y->pos;
}

/* The claim's types that can launch under (reqs, pin), cheapest first. */
static kp_err options_by_price(struct kp_disrupt__pass *p, const struct kp_plan_claim *pc, int pin, struct kp_disrupt__claim *c)
{
	struct opt_key *k = kp_arena_calloc(&p->arena, (size_t)pc->nitypes + 1, sizeof(*k));
	int n = 0;

	c->opt = kp_arena_calloc(&p->arena, (size_t)pc->nitypes + 1, sizeof(*c->opt));
	if (!k || !c->opt)
		return KP_ERR_NOMEM;
	for (int i = 0; i < pc->nitypes; i++) {
		const struct kp_offering *o = kp_disrupt__cheapest(pc->itypes[i], &pc->reqs, pin);
		if (!o)
			continue;
		k[n].price = kp_disrupt__price(o);
		k[n].pos = i;
		k[n].it = pc->itypes[i];
		n++;
	}
	qsort(k, (size_t)n, sizeof(*k), cmp_opt);
	for (int i = 0; i < n; i++)
		c->opt[i] = k[i].it;
	c->nopt = n;
	c->pc = pc;
	c->pin = pin;
	return KP_OK;
}

/* Keeps options whose worst-case launch price is strictly below max. */
static void filter_price(struct kp_disrupt__claim *c, double max)
{
	int k = 0;

	for (int i = 0; i < c->nopt; i++)
		if (kp_disrupt__worst_launch_price(c->opt[i], &c->pc->reqs, c->pin) < max)
			c->opt[k++] = c->opt[i];
	c->nopt = k;
}

/* Never the same instance type with the same capacity type as a candidate. */
static void filter_same_type(struct kp_disrupt__pass *p, struct kp_disrupt__claim *c, const int *cand, int n)
{
	int k = 0;

	for (int i = 0; i < c->nopt; i++) {
		bool same = false;
		for (int j = 0; j < n && !same; j++) {
			const struct kp_disrupt__node *d = &p->nodes[cand[j]];
			if (d->itype != c->opt[i] || d->captype < 0)
				continue;
			same = kp_disrupt__cheapest(c->opt[i], &c->pc->reqs, c->pin >= 0 ? c->pin : d->captype) &&
			       (c->pin < 0 || c->pin == d->captype);
		}
		if (!same)
			c->opt[k++] = c->opt[i];
	}
	c->nopt = k;
}

/* Karpenter's filterOutSameInstanceType (multinodeconsolidation.go): when
 * the replacement's options include a type that a candidate runs, keep only
 * options whose worst-case launch price is strictly below that type's most
 * expensive candidate (the lowest such ceiling over the shared types), so
 * M -> 1 into a type already present is never a sideways move; with nothing
 * left the prefix is invalid and the binary search tries a shorter one. Runs
 * on the price-filtered options before filter_same_type, as upstream runs it
 * on computeConsolidation's result. */
static void filter_out_same_type(struct kp_disrupt__pass *p, struct kp_disrupt__claim *c, const int *cand, int n)
{
	double max = HUGE_VAL;

	for (int i = 0; i < c->nopt; i++) {
		double per_type = -1;   /* pricesByInstanceType[type]: the max */
		for (int j = 0; j < n; j++) {
			const struct kp_disrupt__node *d = &p->nodes[cand[j]];
			if (d->itype == c->opt[i] && d->off && d->price > per_type)
				per_type = d->price;
		}
		if (per_type >= 0 && per_type < max)
			max = per_type;
	}
	if (max < HUGE_VAL)
		filter_price(c, max);
}

/* SatisfiesMinValues: the shortest prefix of the options meeting every
 * minValues requirement of reqs; 0 when none has minValues, -1 when even
 * all of them do not. */
static int min_values_needed(struct kp_disrupt__pass *p, const struct kp_disrupt__claim *c)
{
	const struct kp_reqs *reqs = &c->pc->reqs;
	bool any = false;
	int need = 0;

	for (int r = 0; r < reqs->n; r++) {
		const struct kp_req *req = &reqs->r[r];
		const char **seen;
		int nseen = 0, prefix = -1;

		if (req->min_values <= 0)
			continue;
		any = true;
		seen = kp_arena_calloc(&p->arena, (size_t)c->nopt * 4 + 1, sizeof(*seen));
		if (!seen)
			return -1;
		for (int i = 0; i < c->nopt && prefix < 0; i++) {
			const struct kp_req *ir = kp_reqs_get(&c->opt[i]->reqs, req->key);
			for (int v = 0; ir && !ir->complement && v < ir->n; v++) {
				bool dup = false;
				for (int s = 0; s < nseen && !dup; s++)
					dup = strcmp(seen[s], ir->values[v]) == 0;
				if (!dup && nseen < c->nopt * 4)
					seen[nseen++] = ir->values[v];
			}
			if (nseen >= req->min_values)
				prefix = i + 1;
		}
		if (prefix < 0)
			return -1;
		if (prefix > need)
			need = prefix;
	}
	return any ? need : 0;
}

static bool claim_allows(const struct kp_plan_claim *pc, const char *ct)
{
	const struct kp_req *r = kp_reqs_get(&pc->reqs, KP_LABEL_CAPACITY_TYPE);
	return !r || kp_req_has(r, ct);
}

static void launch_choice(struct kp_disrupt__claim *c)
{
	c->it = c->opt[0];
	/* a claim holding a reservation launches the one the scheduler found
	 * room in (the cheapest reserved option may be used up) */
	for (int i = 0; c->pc->launch && c->pc->launch->captype == KP_CAP_RESERVED && i < c->nopt; i++)
		if (c->opt[i] == c->pc->launch_type) {
			c->it = c->opt[i];
			c->off = c->pc->launch;
			return;
		}
	c->off = kp_disrupt__cheapest(c->it, &c->pc->reqs, c->pin);
}

/* ---- thresholds ---- */

static bool ann_double(const struct kp_nodepool *np, const char *key, double *out)
{
	const char *v = kp_labels_get(&np->meta_annotations, key);

	if (!v)
		v = kp_labels_get(&np->annotations, key);  /* also accepted on the template */
	char *end;
	double d;

	if (!v || !*v)
		return false;
	d = strtod(v, &end);
	if (*end || !isfinite(d) || d < 0)
		return false;
	*out = d;
	return true;
}

/* The strictest threshold among the candidates' pools; NULL when met. */
static const char *below_threshold(struct kp_disrupt__pass *p, const int *cand, int n, double price, double savings)
{
	for (int j = 0; j < n; j++) {
		const struct kp_nodepool *np = p->nodes[cand[j]].pool;
		double abs = p->opts->min_savings_per_hour, pct = p->opts->min_savings_percent;

		ann_double(np, KP_ANN_MIN_SAVINGS_PER_HOUR, &abs);
		ann_double(np, KP_ANN_MIN_SAVINGS_PERCENT, &pct);
		if (abs > 0 && savings < abs)
			return kp_disrupt__fmt(p, "not-cheaper: saves $%.4f/h, below nodepool %s's minimum of $%.4f/h",
				      savings, np->name, abs);
		if (pct > 0 && price > 0 && savings * 100.0 / price < pct)
			return kp_disrupt__fmt(p, "not-cheaper: saves %.1f%%, below nodepool %s's minimum of %.1f%%",
				      savings * 100.0 / price, np->name, pct);
	}
	return NULL;
}

/* consolidationPolicy Balanced (Karpenter v1.14's balanced.go,
 * designs/balanced-consolidation.md): a command of a Balanced pool is
 * accepted when score = (savings / the pools' total price) /
 * (its disruption / the pools' total disruption) >= 1/k, k = 2, the
 * disruption of a node being its RescheduleDisruptionCost (1 + the positive
 * eviction costs of the pods that move). Pools are those of the
 * candidates; other policies accept any positive saving. */
#define DD_BALANCED_K 2.0

static const char *balanced_score(struct kp_disrupt__pass *p, const int *cand, int n, struct kp_disrupt__cmd *cmd)
{
	double pool_cost = 0, pool_dis = 0, dis = 0, score;
	bool balanced = false;

	for (int j = 0; j < n; j++) {
		const struct kp_disrupt__node *d = &p->nodes[cand[j]];
		balanced |= d->pool && d->pool->policy == KP_CONSOLIDATE_BALANCED;
		dis += d->resched_cost;
	}
	if (!balanced)
		return NULL;
	for (int i = 0; i < p->nnodes; i++) {
		const struct kp_disrupt__node *d = &p->nodes[i];
		bool mine = false;
		if (!d->managed || !d->pool || d->deleting)
			continue;
		for (int j = 0; j < n && !mine; j++)
			mine = p->nodes[cand[j]].pool == d->pool;
		if (!mine)
			continue;
		pool_cost += d->price;
		pool_dis += d->resched_cost;
	}
	if (pool_cost <= 0 || pool_dis <= 0 || dis <= 0)
		return NULL;
	score = (cmd->savings / pool_cost) / (dis / pool_dis);
	cmd->has_score = true;
	cmd->score = score;
	if (score < 1.0 / DD_BALANCED_K)
		return kp_disrupt__fmt(p, "policy: consolidationPolicy Balanced: score %.3f below 1/%g (saves $%.4f/h of the "
			      "pool's $%.4f/h, disrupts %.2f of %.2f)", score, DD_BALANCED_K, cmd->savings, pool_cost,
			      dis, pool_dis);
	return NULL;
}

/* ---- computeConsolidation ---- */

/* Price rules for the single new claim. NULL on success, else why not. */
static const char *price_rules(struct kp_disrupt__pass *p, enum kp_disrupt_method m, const int *cand, int n,
			       double price, struct kp_disrupt__claim *c)
{
	const struct kp_plan_claim *pc = c->pc;
	bool all_spot = true;
	int need;

	for (int j = 0; j < n; j++)
		all_spot &= p->nodes[cand[j]].captype == KP_CAP_SPOT;
	if (all_spot && claim_allows(pc, KP_CT_SPOT)) {
		if (!p->opts->spot_to_spot)
			return kp_disrupt__fmt(p, "policy: spot-to-spot consolidation is disabled and the node is spot");
		if (options_by_price(p, pc, KP_CAP_SPOT, c))
			return "policy: out of memory";
		filter_price(c, price);
		if (m == KP_DISRUPT_MULTI)
			filter_out_same_type(p, c, cand, n);
		filter_same_type(p, c, cand, n);
		if (c->nopt == 0)
			return kp_disrupt__fmt(p, "not-cheaper: no spot instance type cheaper than $%.4f/h fits the pods", price);
		need = min_values_needed(p, c);
		if (need < 0)
			return kp_disrupt__fmt(p, "not-cheaper: the cheaper types do not meet the nodepool's minValues");
		if (m == KP_DISRUPT_SINGLE) {
			int cap = need > DD_SPOT_TO_SPOT_MIN_TYPES ? need : DD_SPOT_TO_SPOT_MIN_TYPES;
			if (c->nopt < DD_SPOT_TO_SPOT_MIN_TYPES)
				return kp_disrupt__fmt(p, "not-cheaper: spot-to-spot consolidation needs %d cheaper instance types, found %d",
					      DD_SPOT_TO_SPOT_MIN_TYPES, c->nopt);
			if (c->nopt > cap)
				c->nopt = cap;
		}
		launch_choice(c);
		return NULL;
	}
	if (options_by_price(p, pc, -1, c))
		return "policy: out of memory";
	filter_price(c, price);
	if (c->nopt > 0 && claim_allows(pc, KP_CT_SPOT) && claim_allows(pc, KP_CT_ON_DEMAND)) {
		/* launch spot only, so a spot shortage never buys a dearer
		 * on-demand node; keep the price-filtered set, in spot order */
		const struct kp_itype **kept = c->opt;
		int nkept = c->nopt, k = 0;

		if (options_by_price(p, pc, KP_CAP_SPOT, c))
			return "policy: out of memory";
		for (int i = 0; i < c->nopt; i++)
			for (int j = 0; j < nkept; j++)
				if (kept[j] == c->opt[i]) {
					c->opt[k++] = c->opt[i];
					break;
				}
		c->nopt = k;
	}
	if (m == KP_DISRUPT_MULTI)
		filter_out_same_type(p, c, cand, n);
	filter_same_type(p, c, cand, n);
	if (c->nopt == 0)
		return kp_disrupt__fmt(p, "not-cheaper: no instance type cheaper than $%.4f/h fits the pods", price);
	if (min_values_needed(p, c) < 0)
		return kp_disrupt__fmt(p, "not-cheaper: the cheaper types do not meet the nodepool's minValues");
	launch_choice(c);
	return c->off ? NULL : kp_disrupt__fmt(p, "not-cheaper: no offering left to launch");
}

/* M -> N (1 < N < M): every claim launches its cheapest option that is not a
 * candidate's type and capacity type; valid when the worst-case total is
 * strictly below the candidates' price. A pool split (split.c) keeps the
 * candidates' types: it re-packs many nodes at once, and a strictly cheaper
 * total is no sideways move. */
static const char *repack_rules(struct kp_disrupt__pass *p, const int *cand, int n, double price, struct kp_disrupt__cmd *cmd,
				bool pool)
{
	const struct kp_plan *plan = &cmd->sim->plan;
	double worst = 0;

	for (int i = 0; i < plan->nclaims; i++) {
		struct kp_disrupt__claim *c = &cmd->claims[i];
		if (options_by_price(p, &plan->claims[i], -1, c))
			return "policy: out of memory";
		if (!pool)
			filter_same_type(p, c, cand, n);
		if (c->nopt == 0)
			return kp_disrupt__fmt(p, "pods-do-not-fit: no type left for new node %d of %d", i + 1, plan->nclaims);
		launch_choice(c);
		if (!c->off)
			return kp_disrupt__fmt(p, "pods-do-not-fit: no offering left for new node %d", i + 1);
		worst += kp_disrupt__worst_launch_price(c->it, &c->pc->reqs, -1);
	}
	cmd->nclaims = plan->nclaims;
	if (!(worst < price))
		return kp_disrupt__fmt(p, "not-cheaper: %d new nodes cost up to $%.4f/h, not below $%.4f/h", plan->nclaims,
			      worst, price);
	return NULL;
}

static int64_t count_pods(const struct kp_disrupt__pass *p, const int *cand, int n)
{
	int64_t k = 0;
	for (int i = 0; i < n; i++)
		k += p->nodes[cand[i]].nresched;
	return k;
}

/* Karpenter's computeConsolidation for candidates cand[0..n). On success
 * *valid is set and cmd owns the simulation; otherwise *why says why. */
static kp_err consolidate(struct kp_disrupt__pass *p, enum kp_disrupt_method m, const int *cand, int n,
			  struct kp_disrupt__cmd *cmd, bool *valid, const char **why, struct kp_errbuf *eb)
{
	struct kp_disrupt__sim_result *r = kp_arena_alloc(&p->arena, sizeof(*r));
	double price = 0;
	const char *no = NULL;
	kp_err rc;

	*valid = false;
	*why = NULL;
	memset(cmd, 0, sizeof(*cmd));
	if (!r)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
	p->evaluated++;
	rc = kp_disrupt__simulate(p, cand, n, true, r, eb);
	if (rc)
		return rc;
	if (m == KP_DISRUPT_SPLIT && r->plan.nclaims <= 1)
		m = KP_DISRUPT_MULTI;   /* a pool split that needs at most one node: M -> 1 */
	cmd->method = m;
	cmd->sim = r;
	cmd->cand = kp_arena_memdup(&p->arena, cand, (size_t)n * sizeof(int));
	cmd->claims = kp_arena_calloc(&p->arena, (size_t)r->plan.nclaims + 1, sizeof(*cmd->claims));
	if (!cmd->cand || !cmd->claims) {
		kp_disrupt__cmd_clear(cmd);
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
	}
	cmd->ncand = n;
	cmd->npods = (int)count_pods(p, cand, n);
	for (int j = 0; j < n; j++)
		price += p->nodes[cand[j]].price;
	cmd->price = price;
	if (r->fail) {
		no = r->fail;
	} else if (r->plan.nclaims == 0) {
		cmd->action = KP_DISRUPT_DELETE;
		cmd->reason = n == 1 ? "Underutilized: its pods fit on the other nodes"
				     : kp_disrupt__fmt(p, "Underutilized: the pods of %d nodes fit on the other nodes", n);
	} else if (r->plan.nclaims > 1 && kp_disrupt__split_allowed(p, cand, n)) {
		/* cost packing: 1 -> N and M -> N of any count (split.c) */
		cmd->method = KP_DISRUPT_SPLIT;
		cmd->action = KP_DISRUPT_REPLACE;
		if (!(no = repack_rules(p, cand, n, price, cmd, m == KP_DISRUPT_SPLIT)))
			cmd->reason = kp_disrupt__split_reason(p, n, r->plan.nclaims);
	} else if (r->plan.nclaims > 1) {
		if (!p->opts->repack || r->plan.nclaims >= n)
			no = kp_disrupt__fmt(p, "pods-do-not-fit: the pods would need %d new nodes", r->plan.nclaims);
		else if (!(no = repack_rules(p, cand, n, price, cmd, false)))
			cmd->reason = kp_disrupt__fmt(p, "Underutilized: %d nodes repacked into %d cheaper nodes", n,
					     r->plan.nclaims);
		cmd->action = KP_DISRUPT_REPLACE;
	} else {
		struct kp_disrupt__claim *c = &cmd->claims[0];
		c->pc = &r->plan.claims[0];
		no = price_rules(p, m, cand, n, price, c);
		if (!no) {
			cmd->nclaims = 1;
			cmd->action = KP_DISRUPT_REPLACE;
			cmd->reason = c->off->captype == KP_CAP_RESERVED
				? kp_disrupt__fmt(p, "Underutilized: %s replaced by %s reserved capacity (a reservation counts at "
						  "its price / 10^7: $%.2g/h < $%.4f/h)", n == 1 ? "node" : "nodes", c->it->name,
						  kp_disrupt__price(c->off), price)
				: kp_disrupt__fmt(p, "Underutilized: %s replaced by a cheaper %s %s ($%.4f/h < $%.4f/h)",
						  n == 1 ? "node" : "nodes", c->it->name,
						  kp_captype_name(c->off->captype), kp_disrupt__price(c->off), price);
		}
	}
	if (!no) {
		for (int i = 0; i < cmd->nclaims; i++)
			cmd->repl_price += kp_disrupt__price(cmd->claims[i].off);
		cmd->savings = price - cmd->repl_price;
		no = below_threshold(p, cand, n, price, cmd->savings);
	}
	if (!no)
		no = balanced_score(p, cand, n, cmd);
	if (no) {
		kp_disrupt__cmd_clear(cmd);
		*why = no;
		return KP_OK;
	}
	*valid = true;
	return KP_OK;
}

/* Candidates for consolidation: pass every filter and have pods to move. */
static int consolidation_candidates(struct kp_disrupt__pass *p, int *out)
{
	int n = 0;

	for (int i = 0; i < p->nnodes; i++) {
		const struct kp_disrupt__node *d = &p->nodes[i];
		if (!d->managed || !d->pool || d->deleting || d->node_block || d->pod_block || d->cons_block ||
		    kp_disrupt__is_empty(d))
			continue;
		out[n++] = i;
	}
	kp_disrupt__sort_consolidation(p, out, n);
	return n;
}

static int64_t (*budget_copy(struct kp_disrupt__pass *p))[DR_COUNT]
{
	int64_t (*b)[DR_COUNT] = kp_arena_calloc(&p->arena, (size_t)p->npools + 1, sizeof(*b));
	if (b)
		memcpy(b, p->budget, (size_t)p->npools * sizeof(*b));
	return b;
}

/* Multi-node consolidation when every candidate packs for cost (split.c's
 * pool split): all[0..m) are the budget-allowed candidates, most wasted
 * first, re-packed at once; when that is not worth it, they are settled. */
static kp_err pool_split(struct kp_disrupt__pass *p, int *all, int m, struct kp_disrupt__cmd *cmd, bool *found,
			 struct kp_errbuf *eb)
{
	struct kp_disrupt__cmd trial;
	bool valid;
	const char *why;
	int n = m;
	kp_err rc;

	if (n < 2)
		return KP_OK;
	rc = consolidate(p, KP_DISRUPT_SPLIT, all, n, &trial, &valid, &why, eb);
	if (rc)
		return rc;
	if (valid && trial.savings >= trial.price * KP_DISRUPT__SPLIT_MIN_SAVING) {
		*cmd = trial;
		*found = true;
		return KP_OK;
	}
	if (valid)
		kp_disrupt__cmd_clear(&trial);  /* churn for next to nothing */
	if (kp_disrupt__split_settle(p, all, n))
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
	return KP_OK;
}

kp_err kp_disrupt__multi(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb)
{
	int *all = kp_arena_calloc(&p->arena, (size_t)p->nnodes + 1, sizeof(int));
	int64_t (*saved)[DR_COUNT] = budget_copy(p);
	int n, m = 0, lo = 1, hi, cap;
	bool split = false;
	struct kp_disrupt__cmd best, trial;

	*found = false;
	memset(cmd, 0, sizeof(*cmd));
	memset(&best, 0, sizeof(best));
	if (!all || !saved)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
	n = consolidation_candidates(p, all);
	if (n >= 2 && kp_disrupt__split_allowed(p, all, n)) {
		/* every candidate packs for cost: the pool split picks its own
		 * candidates (most wasted first), then the budgets */
		n = kp_disrupt__split_order(p, all, n, false);
		if (n < 0)
			return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
		split = true;
	}
	for (int i = 0; i < n; i++) {
		if (kp_disrupt__budget(p, all[i], DR_UNDERUTILIZED) == 0) {
			/* used up by earlier candidates: single-node may still take it */
			if (kp_disrupt__budget0(p, all[i], DR_UNDERUTILIZED) == 0)
				kp_disrupt__record(p, all[i], kp_disrupt__budget_reason(p, all[i], DR_UNDERUTILIZED));
			continue;
		}
		kp_disrupt__budget_take(p, all[i], DR_UNDERUTILIZED);
		all[m++] = all[i];
	}
	memcpy(p->budget, saved, (size_t)p->npools * sizeof(*saved));   /* budgets are per method */
	if (split)
		return pool_split(p, all, m, cmd, found, eb);
	cap = p->opts->multi_max > 0 ? p->opts->multi_max : DD_MULTI_MAX_DEFAULT;
	if (p->opts->evaluate_all)
		cap = m;
	if (m < 2)
		return KP_OK;
	hi = m <= cap ? m - 1 : cap;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		bool valid;
		const char *why;
		kp_err rc = consolidate(p, KP_DISRUPT_MULTI, all, mid + 1, &trial, &valid, &why, eb);

		if (rc) {
			kp_disrupt__cmd_clear(&best);
			return rc;
		}
		if (valid) {
			/* Karpenter keeps the longest valid prefix; with repack the
			 * largest saving among the valid ones wins. */
			if (!p->opts->repack || best.ncand == 0 || trial.savings > best.savings) {
				kp_disrupt__cmd_clear(&best);
				best = trial;
			} else {
				kp_disrupt__cmd_clear(&trial);
			}
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	if (best.ncand > 0) {
		*cmd = best;
		*found = true;
	}
	return KP_OK;
}

/* Karpenter's singlenodeconsolidation.go sortCandidates: the sorted
 * candidates interleaved across NodePools (the first of each pool, in the
 * order pools first appear, then the second of each, ...), so one pool's
 * long list does not starve the others. (Upstream also puts pools its
 * previous, timed-out run did not reach first; a simulation has no
 * previous run.) */
static kp_err interleave_pools(struct kp_disrupt__pass *p, int *c, int n)
{
	int np = p->npools + 1;
	int *out = kp_arena_calloc(&p->arena, (size_t)n + 1, sizeof(int));
	int *order = kp_arena_calloc(&p->arena, (size_t)np, sizeof(int));   /* pools by first appearance */
	int *head = kp_arena_calloc(&p->arena, (size_t)np, sizeof(int));    /* per pool: next index in c */
	int *next = kp_arena_calloc(&p->arena, (size_t)n + 1, sizeof(int)); /* per candidate: next of its pool */
	int *tail = kp_arena_calloc(&p->arena, (size_t)np, sizeof(int));
	int norder = 0, k = 0;

	if (!out || !order || !head || !next || !tail)
		return KP_ERR_NOMEM;
	for (int j = 0; j < np; j++)
		head[j] = tail[j] = -1;
	for (int i = 0; i < n; i++) {
		int pi = p->nodes[c[i]].pool_idx;
		pi = pi >= 0 && pi < p->npools ? pi : p->npools;
		next[i] = -1;
		if (head[pi] < 0) {
			head[pi] = i;
			order[norder++] = pi;
		} else {
			next[tail[pi]] = i;
		}
		tail[pi] = i;
	}
	while (k < n)
		for (int j = 0; j < norder; j++) {
			int pi = order[j];
			if (head[pi] < 0)
				continue;
			out[k++] = c[head[pi]];
			head[pi] = next[head[pi]];
		}
	memcpy(c, out, (size_t)n * sizeof(int));
	return KP_OK;
}

kp_err kp_disrupt__single(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb)
{
	int *all = kp_arena_calloc(&p->arena, (size_t)p->nnodes + 1, sizeof(int));
	int n;
	struct kp_disrupt__cmd best, trial;

	*found = false;
	memset(cmd, 0, sizeof(*cmd));
	memset(&best, 0, sizeof(best));
	if (!all)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
	n = consolidation_candidates(p, all);
	if (n >= 2 && kp_disrupt__split_allowed(p, all, n)) {
		/* every candidate packs for cost: most wasted first (split.c) */
		if (kp_disrupt__split_order(p, all, n, true) < 0)
			return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
	} else if (interleave_pools(p, all, n)) {
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
	}
	for (int i = 0; i < n; i++) {
		bool valid;
		const char *why;
		kp_err rc;

		if (kp_disrupt__budget(p, all[i], DR_UNDERUTILIZED) == 0) {
			kp_disrupt__record(p, all[i], kp_disrupt__budget_reason(p, all[i], DR_UNDERUTILIZED));
			continue;
		}
		rc = consolidate(p, KP_DISRUPT_SINGLE, &all[i], 1, &trial, &valid, &why, eb);
		if (rc) {
			kp_disrupt__cmd_clear(&best);
			return rc;
		}
		if (!valid) {
			kp_disrupt__record(p, all[i], why);
			continue;
		}
		if (best.ncand == 0 || trial.savings > best.savings) {
			kp_disrupt__cmd_clear(&best);
			best = trial;
		} else {
			kp_disrupt__cmd_clear(&trial);
		}
		if (!p->opts->evaluate_all)
			break;
	}
	if (best.ncand > 0) {
		*cmd = best;
		*found = true;
	}
	return KP_OK;
}

void kp_disrupt__cmd_clear(struct kp_disrupt__cmd *c)
{
	if (!c)
		return;
	kp_disrupt__sim_result_free(c->sim);
	memset(c, 0, sizeof(*c));
}
