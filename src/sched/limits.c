/*
 * limits.c - NodePool limits during a simulation (Karpenter's
 * remainingResources, filterByRemainingResources and subtractMax).
 *
 * Remaining = limit - capacity of the pool's existing nodes and in-flight
 * NodeClaims (prep), plus back the capacity of nodes a run removes. A new
 * claim may only use instance types whose capacity fits every limited
 * resource; once created it is charged the largest capacity among its
 * remaining types (it could launch as any of them). Node limits: Karpenter
 * fails a pool whose node count is exhausted; it does not count new claims
 * against it within one solve (the create-time check catches that later).
 * This simulation charges one node per new claim, so a plan never shows
 * more nodes than the limit allows.
 *
 * Cost: O(resources) per check; O(types x resources) per new claim.
 */
#include <stdio.h>
#include <string.h>

#include "sched/sched_int.h"

void kp_sched__limits_prep(struct kp_sched *s)
{
	for (int i = 0; i < s->nnodes; i++) {
		const struct kp_sched__node *n = &s->nodes[i];
		struct kp_sched__tpl *t;

		if (n->tpl < 0)
			continue;
		t = &s->tpl[n->tpl];
		for (int k = 0; k < KP_RES_MAX; k++)
			if (t->limit_mask >> k & 1)
				t->limit_rem.v[k] -= n->capacity.v[k];
		t->nodes_rem -= 1;
	}
}

kp_err kp_sched__limits_run_init(struct kp_sched__run *r)
{
	struct kp_sched *s = r->s;

	r->limit_rem = kp_arena_calloc(r->a, (size_t)s->ntpl + 1, sizeof(*r->limit_rem));
	r->nodes_rem = kp_arena_calloc(r->a, (size_t)s->ntpl + 1, sizeof(*r->nodes_rem));
	if (!r->limit_rem || !r->nodes_rem)
		return KP_ERR_NOMEM;
	for (int t = 0; t < s->ntpl; t++) {
		r->limit_rem[t] = s->tpl[t].limit_rem;
		r->nodes_rem[t] = s->tpl[t].nodes_rem;
	}
	for (int i = 0; r->removed && i < s->nnodes; i++) {
		const struct kp_sched__node *n = &s->nodes[i];
		const struct kp_sched__tpl *t;

		if (n->tpl < 0 || n->node_idx < 0 || !r->removed[n->node_idx])
			continue;
		t = &s->tpl[n->tpl];
		for (int k = 0; k < KP_RES_MAX; k++)
			if (t->limit_mask >> k & 1)
				r->limit_rem[n->tpl].v[k] += n->capacity.v[k];
		r->nodes_rem[n->tpl] += 1;
	}
	return KP_OK;
}

bool kp_sched__limits_allow_claim(struct kp_sched__run *r, int tpl, struct kp_errbuf *eb)
{
	const struct kp_sched__tpl *t = &r->s->tpl[tpl];

	if (t->has_node_limit && r->nodes_rem[tpl] <= 0) {
		if (eb)
			kp_errf(eb, KP_ERR_LIMIT, "exceeds limits: nodes %lld used of %lld",
				(long long)(r->nodes_rem[tpl] < 0 ? t->pool->node_limit
								  : t->pool->node_limit - r->nodes_rem[tpl]),
				(long long)t->pool->node_limit);
		return false;
	}
	return true;
}

bool kp_sched__limits_all_ok(const struct kp_sched__run *r, int tpl)
{
	const struct kp_sched__tpl *tp = &r->s->tpl[tpl];

	for (int k = 0; k < KP_RES_MAX; k++)
		if ((tp->limit_mask >> k & 1) && tp->maxcap.v[k] > r->limit_rem[tpl].v[k])
			return false;
	return true;
}

bool kp_sched__limits_type_ok(const struct kp_sched__run *r, int tpl, const struct kp_sched__itype *t)
{
	const struct kp_sched__tpl *tp = &r->s->tpl[tpl];
	const struct kp_res *rem = &r->limit_rem[tpl];

	if (!tp->limit_mask)
		return true;
	for (int k = 0; k < KP_RES_MAX; k++)
		if ((tp->limit_mask >> k & 1) && t->it->capacity.v[k] > rem->v[k])
			return false;
	return true;
}

void kp_sched__limits_charge(struct kp_sched__run *r, struct kp_sched__claim *c)
{
	const struct kp_sched__tpl *t = &r->s->tpl[c->tpl];

	for (int k = 0; k < KP_RES_MAX; k++) {
		int64_t mx = 0;

		if (!(t->limit_mask >> k & 1))
			continue;
		for (int i = 0; i < c->ntypes; i++)
			if (t->types[c->types[i]].it->capacity.v[k] > mx)
				mx = t->types[c->types[i]].it->capacity.v[k];
		r->limit_rem[c->tpl].v[k] -= mx;
	}
	r->nodes_rem[c->tpl] -= 1;
}

void kp_sched__limits_explain(struct kp_sched__run *r, int tpl, struct kp_errbuf *eb)
{
	const struct kp_sched__tpl *t = &r->s->tpl[tpl];
	const struct kp_resnames *rn = &r->s->cl->resnames;
	const struct kp_res *rem = &r->limit_rem[tpl];

	if (!eb)
		return;
	for (int k = 0; k < KP_RES_MAX; k++) {
		int64_t smallest = INT64_MAX;
		char used[48], lim[48];

		if (!(t->limit_mask >> k & 1))
			continue;
		for (int i = 0; i < t->ntypes; i++)
			if (t->types[i].it->capacity.v[k] < smallest)
				smallest = t->types[i].it->capacity.v[k];
		if (smallest <= rem->v[k])
			continue;
		/* claims are charged their largest type, so the charge may pass
		 * the limit: show it as full */
		kp_qty_format(rem->v[k] < 0 ? t->pool->limits.v[k] : t->pool->limits.v[k] - rem->v[k], kp_res_scale(k),
			      kp_res_style(rn, k), used, sizeof(used));
		kp_qty_format(t->pool->limits.v[k], kp_res_scale(k), kp_res_style(rn, k), lim, sizeof(lim));
		kp_errf(eb, KP_ERR_LIMIT, "exceeds limits: %s %s used of %s", k < rn->n ? rn->name[k] : "?", used, lim);
		return;
	}
	kp_errf(eb, KP_ERR_LIMIT, "exceeds limits: every instance type would exceed a limit");
}
