/*
 * pdb.c - PodDisruptionBudgets as Karpenter's pkg/utils/pdb reads them:
 * which pods a budget selects and how many disruptions it allows.
 *
 * When status.disruptionsAllowed is in the input it is used as is. When it
 * is absent, it is computed the way the disruption controller does from
 * the pods the PDB selects in its namespace:
 *   healthy  = bound, not terminal, not deleting
 *   expected = matching pods that are not terminal (stands in for the
 *              controllers' replica count)
 *   (an integer minAvailable, or neither field: expected = all matching)
 * and desired/allowed by the controller's arithmetic (kp_pdb_allowed,
 * src/model/pdb.c).
 *
 * Cost: O(pods * selector) for a computed PDB; O(1) with a status.
 */
#include <string.h>

#include "karpenter/disrupt.h"

bool kp_pdb_selects(const struct kp_pdb *pdb, const struct kp_pod *p)
{
	if (kp_strcmp0(pdb->ns, p->ns) != 0) {
		/* "" and NULL both mean the default namespace */
		const char *a = pdb->ns && *pdb->ns ? pdb->ns : "default";
		const char *b = p->ns && *p->ns ? p->ns : "default";
		if (strcmp(a, b) != 0)
			return false;
	}
	return kp_selector_matches(pdb->selector, &p->labels);
}

int64_t kp_pdb_disruptions_allowed(const struct kp_pdb *pdb, const struct kp_cluster *c)
{
	int64_t healthy = 0, expected = 0, matching = 0, desired = 0, allowed;

	if (pdb->has_status)
		return pdb->disruptions_allowed < 0 ? 0 : pdb->disruptions_allowed;
	for (int i = 0; i < c->npods; i++) {
		const struct kp_pod *p = c->pods[i];

		if (!kp_pdb_selects(pdb, p))
			continue;
		matching++;
		if (kp_pod_is_terminal(p))
			continue;
		expected++;
		if (p->deleting == 0 && p->node_name)
			healthy++;
	}
	if (!kp_pdb_needs_scale(pdb))
		expected = matching;
	kp_pdb_allowed(pdb, expected, healthy, &desired, &allowed);
	return allowed;
}
