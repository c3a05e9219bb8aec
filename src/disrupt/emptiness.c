/*
 * emptiness.c - the Emptiness method (Karpenter's emptiness.go): delete, in
 * one command, every empty candidate its NodePool's "Empty" budget allows.
 *
 * A node is empty as Karpenter's IsEmpty says: no pod that has to move has
 * a positive eviction cost (DaemonSet, mirror, terminal and deleting pods
 * never move; a pod with a very negative deletion cost does not count); consolidateAfter must have elapsed
 * and must not be Never; both consolidation policies allow it. Candidates
 * go in consolidation order, each taking one unit of its pool's budget.
 *
 * Cost: O(nodes log nodes); no simulation.
 */
#include <string.h>

#include "disrupt/disrupt_int.h"

kp_err kp_disrupt__emptiness(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb)
{
	int *cand = kp_arena_calloc(&p->arena, (size_t)p->nnodes + 1, sizeof(int));
	int64_t (*saved)[DR_COUNT] = kp_arena_calloc(&p->arena, (size_t)p->npools + 1, sizeof(*saved));
	int n = 0, k = 0;

	*found = false;
	memset(cmd, 0, sizeof(*cmd));
	if (!cand || !saved)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
	memcpy(saved, p->budget, (size_t)p->npools * sizeof(*saved));
	for (int i = 0; i < p->nnodes; i++) {
		const struct kp_disrupt__node *d = &p->nodes[i];
		if (!d->managed || !d->pool || d->deleting || d->node_block || d->pod_block || d->cons_block ||
		    !kp_disrupt__is_empty(d))
			continue;
		cand[n++] = i;
	}
	kp_disrupt__sort_consolidation(p, cand, n);
	for (int i = 0; i < n; i++) {
		if (kp_disrupt__budget(p, cand[i], DR_EMPTY) == 0) {
			kp_disrupt__record(p, cand[i], kp_disrupt__budget_reason(p, cand[i], DR_EMPTY));
			continue;
		}
		kp_disrupt__budget_take(p, cand[i], DR_EMPTY);
		cand[k++] = cand[i];
	}
	memcpy(p->budget, saved, (size_t)p->npools * sizeof(*saved));
	if (k == 0)
		return KP_OK;
	cmd->method = KP_DISRUPT_EMPTINESS;
	cmd->action = KP_DISRUPT_DELETE;
	cmd->cand = cand;
	cmd->ncand = k;
	for (int i = 0; i < k; i++)
		cmd->price += p->nodes[cand[i]].price;
	cmd->savings = cmd->price;
	cmd->reason = k == 1 ? "Empty: the node has no pods to move"
			     : kp_disrupt__fmt(p, "Empty: %d nodes have no pods to move", k);
	*found = true;
	return KP_OK;
}
