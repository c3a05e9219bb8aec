/*
 * pdb.c - the PodDisruptionBudget arithmetic of Kubernetes' disruption
 * controller (pkg/controller/disruption: getExpectedPodCount and
 * updatePdbStatus), the one place it is written: the API server's budget
 * status and eviction check (src/apiserver/pdb.c, for src/kcm/pdb.c) and
 * the disruption planner's reading of a budget without a status
 * (src/disrupt/pdb.c) both call it.
 *
 *   maxUnavailable: desired = max(expected - scaled(maxUnavailable), 0)
 *   minAvailable:   desired = scaled(minAvailable)
 *   neither:        nothing is allowed (the controller expects no pods)
 *   allowed = healthy - desired, 0 when negative or when expected <= 0,
 * a percentage scaled against expected and rounded up. What "expected"
 * counts is the caller's (kp_pdb_needs_scale tells which count applies).
 *
 * Pure; cost O(1).
 */
#include "karpenter/objects.h"

int64_t kp_pdb_scaled(int64_t v, bool percent, int64_t total)
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

bool kp_pdb_needs_scale(const struct kp_pdb *pdb)
{
	return pdb->has_max_unavailable || (pdb->has_min_available && pdb->min_percent);
}

void kp_pdb_allowed(const struct kp_pdb *pdb, int64_t expected, int64_t healthy, int64_t *desired, int64_t *allowed)
{
	int64_t d = 0;

	if (pdb->has_max_unavailable) {
		d = expected - kp_pdb_scaled(pdb->max_unavailable, pdb->max_percent, expected);
		if (d < 0)
			d = 0;
	} else if (pdb->has_min_available) {
		d = kp_pdb_scaled(pdb->min_available, pdb->min_percent, expected);
	} else {
		expected = 0;
	}
	*desired = d;
	*allowed = healthy - d;
	if (expected <= 0 || *allowed < 0)
		*allowed = 0;
}
