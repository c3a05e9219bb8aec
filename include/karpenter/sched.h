/*
 * sched.h - the provisioning scheduler: which nodes to add for pending pods.
 *
 * Mirrors Karpenter's pkg/controllers/provisioning/scheduling (Scheduler.Solve):
 * pods are queued by cpu desc, memory desc, creation time, uid; each pod goes
 * to an existing node if one fits, else to an in-flight new claim (fewest
 * pods first), else to a new claim from the NodePools by weight (desc, then
 * name). A claim keeps the instance types still compatible with its pods and
 * narrows them as pods join. Preferences are tried as required and relaxed
 * one at a time. Topology spread and pod (anti-)affinity count existing pods.
 *
 * Pure: no I/O. The plan owns an arena holding everything it points to,
 * except objects borrowed from the input cluster and catalog, which must
 * outlive the plan.
 */
#ifndef KARPENTER_SCHED_H
#define KARPENTER_SCHED_H

#include "karpenter/base.h"
#include "karpenter/catalog.h"
#include "karpenter/objects.h"

struct kp_sched_opts {
	bool ignore_preferences;    /* --preference-policy=Ignore */
	int max_instance_types;     /* launch list truncation; 0 = 600 (Karpenter's MaxInstanceTypes) */
	bool min_values_best_effort;/* --min-values-policy=BestEffort */
	bool consolidation;         /* disruption simulation: pods landing on uninitialized nodes fail */
};

struct kp_sched_input {
	const struct kp_cluster *cluster;   /* pools, nodes, claims, pods, daemonsets, namespaces */
	const struct kp_catalog *catalog;   /* instance types offered to every pool */
	/* Pods to place. NULL = every pending pod of the cluster (kp_pod_is_pending). */
	int npods;
	const struct kp_pod *const *pods;
	/* Optional: nodes treated as gone (disruption candidates), indexed like
	 * cluster->nodes; NULL = none. Their bound pods leave topology counts. */
	const bool *node_removed;
	/* Optional: offerings marked unavailable (e.g. insufficient capacity):
	 * returns true to hide the offering. NULL = none. */
	bool (*offering_hidden)(void *ctx, const struct kp_itype *it, const struct kp_offering *o);
	void *offering_ctx;
};

struct kp_plan_claim {
	const struct kp_nodepool *pool;
	const char *hostname;               /* placeholder hostname used during the solve */
	int nitypes;
	const struct kp_itype **itypes;     /* remaining options, cheapest first, truncated */
	struct kp_reqs reqs;                /* final requirements (no hostname) */
	struct kp_labels labels;            /* template labels + nodepool + single-value reqs */
	struct kp_taints taints;
	struct kp_taints startup_taints;
	struct kp_res requests;             /* pods' requests + minimum daemon overhead */
	const struct kp_itype *launch_type; /* the cheapest available compatible offering... */
	const struct kp_offering *launch;   /* ...and the offering itself */
	int npods;
	const struct kp_pod **pods;         /* in placement order */
};

struct kp_plan_existing {
	const struct kp_node *node;         /* or NULL for an in-flight NodeClaim */
	const struct kp_nodeclaim *claim;   /* set for in-flight claims */
	int npods;
	const struct kp_pod **pods;
};

struct kp_plan_unsched {
	const struct kp_pod *pod;
	const char *reason;                 /* names the constraint and the NodePool */
};

struct kp_plan {
	struct kp_arena arena;
	int nclaims;
	struct kp_plan_claim *claims;
	int nexisting;
	struct kp_plan_existing *existing;  /* only nodes that received pods */
	int nunsched;
	struct kp_plan_unsched *unsched;
	/* Explanations for people, one line each (why a type was picked, why a
	 * pool was skipped); in the plan's arena. */
	int nnotes;
	const char **notes;
};

void kp_sched_opts_default(struct kp_sched_opts *o);
/* Solves placement for the input. On success fills *plan (caller frees with
 * kp_plan_free). Unschedulable pods are not an error. */
kp_err kp_sched_solve(const struct kp_sched_input *in, const struct kp_sched_opts *opts,
		      struct kp_plan *plan, struct kp_errbuf *eb);
void kp_plan_free(struct kp_plan *plan);

#endif
