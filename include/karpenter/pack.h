/*
 * pack.h - the `cost` packing mode's public extras: the lower bound on the
 * cost of a plan's new nodes (column generation, include/karpenter/bound.h)
 * over the same node kinds the scheduler may launch.
 *
 * The packing mode itself is chosen with kp_sched_opts.packing (every
 * NodePool) or per NodePool with the annotation KP_ANN_PACKING: "cost"
 * (see docs/packing.md).
 */
#ifndef KARPENTER_PACK_H
#define KARPENTER_PACK_H

#include "karpenter/sched.h"

#define KP_ANN_PACKING "karpenter-c.sh/packing"

struct kp_cost_bound {
	double lower;                   /* $/h no fleet holding the plan's placed pods beats */
	double plan;                    /* $/h of the plan's new claims */
	double gap;                     /* (plan - lower) / plan, 0 when plan is 0 */
	int pods;                       /* pods the bound covers (placed by the plan) */
	int classes;                    /* pod classes (same requests and constraints) */
	int kinds;                      /* node kinds (NodePool x instance type) */
	int iters;                      /* column generation rounds */
};

/* Lower bound for the pods plan placed (on new claims or existing nodes),
 * over the NodePools and catalog of in (in->pods and node_removed as for
 * kp_sched_solve). Existing nodes' free capacity is an aggregate, at no
 * cost. */
kp_err kp_sched_cost_bound(const struct kp_sched_input *in, const struct kp_sched_opts *opts,
			   const struct kp_plan *plan, struct kp_cost_bound *out, struct kp_errbuf *eb);

#endif
