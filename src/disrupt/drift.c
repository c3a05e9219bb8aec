/*
 * drift.c - the Drift method (Karpenter's drift.go and the NodeClaim drift
 * checks it reads), and the one-candidate-at-a-time replacement it shares
 * with v1beta1 expiration.
 *
 * A node is drifted when its karpenter.sh/nodepool-hash annotation differs
 * from its NodePool's (same hash version), or when its labels (completed by
 * its instance type's) no longer satisfy the pool's requirements. Drift is
 * "eventual": with a NodePool terminationGracePeriod, pods blocked by PDBs
 * or do-not-disrupt do not stop it. Empty drifted nodes go first, all in
 * one delete within the "Drifted" budget; otherwise the first candidate
 * (oldest first) whose pods all find a place is replaced by whatever new
 * nodes the scheduler needs, with no price rule.
 *
 * Cost: at most one simulation per drifted candidate.
 */
#include <stdlib.h>
#include <string.h>

#include "disrupt/disrupt_int.h"

kp_err kp_disrupt__claims_unfiltered(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, struct kp_errbuf *eb)
{
	const struct kp_plan *plan = &cmd->sim->plan;

	cmd->claims = kp_arena_calloc(&p->arena, (size_t)plan->nclaims + 1, sizeof(*cmd->claims));
	if (!cmd->claims)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
	cmd->nclaims = 0;
	cmd->repl_price = 0;
	for (int i = 0; i < plan->nclaims; i++) {
		const struct kp_plan_claim *pc = &plan->claims[i];
		struct kp_disrupt__claim *c = &cmd->claims[cmd->nclaims];

		c->pc = pc;
		c->pin = -1;
		c->opt = pc->itypes;
		c->nopt = pc->nitypes;
		c->it = pc->launch_type;
		c->off = pc->launch;
		if (!c->it || !c->off) {
			for (int k = 0; k < pc->nitypes && !c->off; k++) {
				c->it = pc->itypes[k];
				c->off = kp_disrupt__cheapest(c->it, &pc->reqs, -1);
			}
		}
		if (!c->it || !c->off)
			continue;   /* nothing can launch it: its pods stay pending */
		cmd->repl_price += kp_disrupt__price(c->off);
		cmd->nclaims++;
	}
	cmd->savings = cmd->price - cmd->repl_price;
	return KP_OK;
}

kp_err kp_disrupt__replace_each(struct kp_disrupt__pass *p, enum kp_disrupt_method m, int reason, const int *cand, int n,
		       const char *why, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb)
{
	int *empty = kp_arena_calloc(&p->arena, (size_t)n + 1, sizeof(int));
	int64_t (*saved)[DR_COUNT] = kp_arena_calloc(&p->arena, (size_t)p->npools + 1, sizeof(*saved));
	int ne = 0;

	*found = false;
	memset(cmd, 0, sizeof(*cmd));
	if (!empty || !saved)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
	memcpy(saved, p->budget, (size_t)p->npools * sizeof(*saved));
	for (int i = 0; i < n; i++) {
		if (!kp_disrupt__is_empty(&p->nodes[cand[i]]))
			continue;
		if (kp_disrupt__budget(p, cand[i], reason) == 0) {
			kp_disrupt__record(p, cand[i], kp_disrupt__budget_reason(p, cand[i], reason));
			continue;
		}
		kp_disrupt__budget_take(p, cand[i], reason);
		empty[ne++] = cand[i];
	}
	memcpy(p->budget, saved, (size_t)p->npools * sizeof(*saved));
	cmd->method = m;
	if (ne > 0) {
		cmd->action = KP_DISRUPT_DELETE;
		cmd->cand = empty;
		cmd->ncand = ne;
		for (int i = 0; i < ne; i++)
			cmd->price += p->nodes[empty[i]].price;
		cmd->savings = cmd->price;
		cmd->reason = ne == 1 ? kp_disrupt__fmt(p, "%s (the node is empty)", why)
				      : kp_disrupt__fmt(p, "%s (%d empty nodes)", why, ne);
		*found = true;
		return KP_OK;
	}
	for (int i = 0; i < n; i++) {
		struct kp_disrupt__sim_result *r;
		kp_err rc;

		if (kp_disrupt__budget(p, cand[i], reason) == 0) {
			kp_disrupt__record(p, cand[i], kp_disrupt__budget_reason(p, cand[i], reason));
			continue;
		}
		r = kp_arena_alloc(&p->arena, sizeof(*r));
		if (!r)
			return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
		rc = kp_disrupt__simulate(p, &cand[i], 1, true, r, eb);
		if (rc)
			return rc;
		if (r->fail) {
			kp_disrupt__record(p, cand[i], r->fail);
			kp_disrupt__sim_result_free(r);
			continue;
		}
		cmd->sim = r;
		cmd->cand = kp_arena_memdup(&p->arena, &cand[i], sizeof(int));
		if (!cmd->cand) {
			kp_disrupt__cmd_clear(cmd);
			return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
		}
		cmd->ncand = 1;
		cmd->npods = p->nodes[cand[i]].nresched;
		cmd->price = p->nodes[cand[i]].price;
		rc = kp_disrupt__claims_unfiltered(p, cmd, eb);
		if (rc) {
			kp_disrupt__cmd_clear(cmd);
			return rc;
		}
		cmd->method = m;
		cmd->action = cmd->nclaims > 0 ? KP_DISRUPT_REPLACE : KP_DISRUPT_DELETE;
		cmd->reason = why;
		*found = true;
		return KP_OK;
	}
	memset(cmd, 0, sizeof(*cmd));
	return KP_OK;
}

struct by_time {
	int64_t t;
	const char *name;
	int idx;
};

static int cmp_by_time(const void *a, const void *b)
{
	const struct by_time *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return kp_strcmp0(x->name, y->name);
}

kp_err kp_disrupt__drift(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb)
{
	struct by_time *k = kp_arena_calloc(&p->arena, (size_t)p->nnodes + 1, sizeof(*k));
	int *cand = kp_arena_calloc(&p->arena, (size_t)p->nnodes + 1, sizeof(int));
	int n = 0;
	kp_err rc;

	*found = false;
	memset(cmd, 0, sizeof(*cmd));
	if (!k || !cand)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
	for (int i = 0; i < p->nnodes; i++) {
		const struct kp_disrupt__node *d = &p->nodes[i];
		bool eventual = d->pool && d->pool->termination_grace_ms != KP_NEVER;

		if (!d->managed || !d->pool || d->deleting || d->node_block || !d->drift)
			continue;
		if (d->pod_block && !eventual)
			continue;
		k[n].t = d->created;
		k[n].name = d->node->name;
		k[n].idx = i;
		n++;
	}
	qsort(k, (size_t)n, sizeof(*k), cmp_by_time);
	for (int i = 0; i < n; i++)
		cand[i] = k[i].idx;
	if (n == 0)
		return KP_OK;
	rc = kp_disrupt__replace_each(p, KP_DISRUPT_DRIFT, DR_DRIFTED, cand, n, "Drifted", cmd, found, eb);
	if (rc)
		return rc;
	if (*found && cmd->ncand == 1)
		cmd->reason = kp_disrupt__fmt(p, "Drifted: %s", p->nodes[cmd->cand[0]].drift);
	return KP_OK;
}
