/*
 * cost.c - pod predicates and disruption cost (Karpenter's pkg/utils/pod
 * and pkg/utils/disruption).
 *
 * Eviction cost of a pod: 1 + deletionCost/2^27 + priority/2^25, clamped to
 * [-10, 10]; a node's disruption cost is the sum over its pods times the
 * fraction of its lifetime left. Pod start time is taken as its creation
 * time (the inputs carry no status.startTime).
 *
 * The do-not-disrupt rule itself is the model's (kp_pod_do_not_disrupt,
 * src/model/pod.c). Cost: O(1) per pod except kp_pod_is_evictable
 * (O(tolerations)).
 */
#include <string.h>

#include "karpenter/disrupt.h"
#include "karpenter/taints.h"

bool kp_pod_is_active(const struct kp_pod *p)
{
	return !kp_pod_is_terminal(p) && p->deleting == 0;
}

bool kp_pod_is_reschedulable(const struct kp_pod *p)
{
	bool sts = p->owner_kind && strcmp(p->owner_kind, "StatefulSet") == 0;

	return (kp_pod_is_active(p) || (sts && p->deleting != 0 && !kp_pod_is_terminal(p))) &&
	       !p->is_daemon && !p->is_mirror;
}

bool kp_pod_is_evictable(const struct kp_pod *p, int64_t now)
{
	static const struct kp_taint disrupted = {
		.key = "karpenter.sh/disrupted", .value = NULL, .effect = KP_EFFECT_NOSCHEDULE,
	};

	return kp_pod_is_active(p) && !p->is_mirror && !kp_tolerates(&p->tolerations, &disrupted) &&
	       !kp_pod_do_not_disrupt(p, now);
}

double kp_disrupt_eviction_cost(const struct kp_pod *p)
{
	double cost = 1.0;

	cost += (double)p->deletion_cost / 134217728.0;   /* 2^27 */
	cost += (double)p->priority / 33554432.0;         /* 2^25 */
	if (cost < -10.0)
		return -10.0;
	if (cost > 10.0)
		return 10.0;
	return cost;
}

double kp_disrupt_lifetime_remaining(int64_t now, int64_t created, int64_t expire_after_ms)
{
	double total, left;

	if (expire_after_ms == KP_NEVER || expire_after_ms <= 0)
		return 1.0;
	total = (double)expire_after_ms / 1000.0;
	left = (total - (double)(now - created)) / total;
	if (left < 0.0)
		return 0.0;
	if (left > 1.0)
		return 1.0;
	return left;
}
