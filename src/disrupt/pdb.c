/*
 * pdb.c - PodDisruptionBudget arithmetic (Kubernetes' disruption
 * controller, as Karpenter's pkg/utils/pdb reads its result).
 *
 * When status.disruptionsAllowed is in the input it is used as is. When it
 * is absent, it is computed the way the disruption controller does from
 * the pods the PDB selects in its namespace:
 *   healthy  = bound, not terminal, not deleting
 *   expected = matching pods that are not terminal (stands in for the
 *              controllers' replica count)
 *   maxUnavailable: desired = max(expected - scaled(maxUnavailable), 0)
 *   minAvailable:   int: desired = minAvailable (expected = all matching)
 *                   percent: desired = ceil(pct * expected / 100)
 *   allowed = healthy - desired, 0 when negative or when expected <= 0.
 * A PDB with neither field allows 0, as the controller computes it.
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

static int64_t pdb_scaled(int64_t v, bool percent, int64_t total)
{
	int64_t prod;

	if (!percent)
		return v;
	if (v <= 0 || total <= 0)
		return 0;
	if (!kp_i64_mul(v, total, &prod))
		return INT64_MAX / 2;
	return (prod + 99) / 100;
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
	if (pdb->has_max_unavailable) {
		desired = expected - pdb_scaled(pdb->max_unavailable, pdb->max_percent, expected);
		if (desired < 0)
			desired = 0;
	} else if (pdb->has_min_available) {
		if (pdb->min_percent) {
			desired = pdb_scaled(pdb->min_available, true, expected);
		} else {
			desired = pdb->min_available;
			expected = matching;
		}
	} else {
		return 0;
	}
	allowed = healthy - desired;
	if (expected <= 0 || allowed < 0)
		return 0;
	return allowed;
}
