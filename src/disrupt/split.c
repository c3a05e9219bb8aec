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
 */
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
