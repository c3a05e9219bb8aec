/*
 * sched.h - the provisioning scheduler: which nodes to add for pending pods.
 *
 * Mirrors Karpenter's pkg/controllers/provisioning/scheduling (Scheduler.Solve):
 * pods are queued by cpu desc, memory desc, creation time, uid; each pod goes
 * to an existing node if one fits, else to an in-flight new claim (fewest
 * pods first), else to a new claim from the NodePools by weight (desc, then
 * name descending, as Karpenter's OrderByWeight). A claim keeps the instance types still compatible with its pods and
 * narrows them as pods join. Preferences are tried as required and relaxed
 * one at a time. Topology spread and pod (anti-)affinity count existing pods.
 *
 * Pure: no I/O. The plan owns an arena holding everything it points to,
 * except objects borrowed from the input cluster and catalog, which must
 * outlive the plan.
 *
 * Life cycle: kp_sched_solve() is one simulation. For many simulations on
 * one cluster (the disruption planner), kp_sched_prepare() builds a struct
 * kp_sched once (templates, instance types, daemon overhead, existing
 * nodes, topology domains and counts, per-pod-class data) and
 * kp_sched_run() simulates a set of pods with some nodes removed, cheaply,
 * any number of times. A kp_sched borrows the cluster and catalog (they
 * must outlive it and not change), caches pod classes as runs meet them,
 * and is not thread-safe; kp_sched_free(NULL) is a no-op.
 */
#ifndef KARPENTER_SCHED_H
#define KARPENTER_SCHED_H

#include "karpenter/base.h"
#include "karpenter/catalog.h"
#include "karpenter/objects.h"

enum kp_packing {
	KP_PACKING_KARPENTER = 0,   /* Karpenter's scheduler, exactly */
	KP_PACKING_COST,            /* every NodePool packs for cost (docs/packing.md) */
};

struct kp_sched_opts {
	bool ignore_preferences;    /* --preference-policy=Ignore */
	int max_instance_types;     /* launch list truncation; 0 = 600 (Karpenter's MaxInstanceTypes) */
	bool min_values_best_effort;/* --min-values-policy=BestEffort */
	bool consolidation;         /* disruption simulation: pods landing on uninitialized nodes fail
				     * ("would schedule against uninitialized node"), except pods of
				     * nodes being deleted; they stay listed on that node in
				     * plan->existing, as Karpenter keeps them */
	enum kp_packing packing;    /* KARPENTER unless set; NodePools annotated
				     * karpenter-c.sh/packing: cost pack for cost anyway */
};

struct kp_sched_input {
	const struct kp_cluster *cluster;   /* pools, nodes, claims, pods, daemonsets, namespaces */
	const struct kp_catalog *catalog;   /* instance types offered to every pool */
	/* Pods to place. NULL = every pending pod of the cluster (kp_pod_is_pending)
	 * plus the reschedulable pods of nodes being deleted, as the provisioner
	 * adds them (active or terminating StatefulSet pods, not DaemonSet or
	 * mirror pods, not karpenter.sh/do-not-disrupt). */
	int npods;
	const struct kp_pod *const *pods;
	/* Optional: nodes treated as gone (disruption candidates), indexed like
	 * cluster->nodes; NULL = none. Their bound pods leave topology counts. */
	const bool *node_removed;
	/* Optional: offerings marked unavailable (e.g. insufficient capacity):
	 * returns true to hide the offering. NULL = none. Called by
	 * kp_sched_prepare and by runs, so ctx must outlive a kp_sched. */
	bool (*offering_hidden)(void *ctx, const struct kp_itype *it, const struct kp_offering *o);
	void *offering_ctx;
	/* Optional, consolidation simulations only (opts.consolidation): nodes
	 * inside their NodePool's consolidateAfter window, indexed like
	 * cluster->nodes (NULL = none). They receive no pod that is bound to
	 * another node (Karpenter's isUnderConsolidateAfter in the scheduler's
	 * existing-node path); pending pods may still land. Read by
	 * kp_sched_prepare, so it must outlive the kp_sched. */
	const bool *node_no_moves;
	/* Optional: the instance types offered to one NodePool (its node class's,
	 * as a cloud provider answers per NodePool); NULL or a NULL answer =
	 * catalog. Called by kp_sched_prepare only; the catalogs it returns must
	 * outlive the kp_sched and its plans, like catalog. */
	const struct kp_catalog *(*pool_catalog)(void *ctx, const struct kp_nodepool *np);
	void *pool_catalog_ctx;
};

struct kp_plan_claim {
	const struct kp_nodepool *pool;
	const char *hostname;               /* placeholder hostname used during the solve */
	int nitypes;
	const struct kp_itype **itypes;     /* remaining options, cheapest first, truncated to
					     * max_instance_types (read-only: claims keeping the same
					     * list share one array) */
	struct kp_reqs reqs;                /* final requirements: no hostname nor registered/initialized;
					     * instance-type In [itypes], capacity-type In [their offerings'] */
	struct kp_labels labels;            /* what the Node will carry: launch type labels, zone,
					     * capacity type, custom requirement values, template
					     * labels and karpenter.sh/nodepool (template wins) */
	struct kp_taints taints;
	struct kp_taints startup_taints;
	struct kp_res requests;             /* pods' requests (with pods: 1 each) + the smallest
					     * daemon overhead among the remaining types */
	const struct kp_itype *launch_type; /* the cheapest available compatible offering (ties by
					     * type name, zone, capacity type)... */
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
	struct kp_plan_unsched *unsched;    /* in input order */
	/* Explanations for people, one line each, in the plan's arena: pools
	 * skipped and why, each claim's launch choice ("claim 1 (default):
	 * c6g.2xlarge spot in us-east-1d at $0.1234/h is the cheapest of 37
	 * compatible types"), pods placed only after relaxing preferences. */
	int nnotes;
	const char **notes;
};

void kp_sched_opts_default(struct kp_sched_opts *o);
/* Solves placement for the input. On success fills *plan (caller frees with
 * kp_plan_free). Unschedulable pods are not an error. opts NULL = defaults. */
kp_err kp_sched_solve(const struct kp_sched_input *in, const struct kp_sched_opts *opts,
		      struct kp_plan *plan, struct kp_errbuf *eb);
/* kp_plan_free on a zeroed or freed plan is a no-op. */
void kp_plan_free(struct kp_plan *plan);

/* Prepared scheduler for many runs on one cluster (see the life cycle
 * above). Uses in->cluster, in->catalog and in->offering_hidden; ignores
 * in->pods and in->node_removed. *out is NULL on failure. */
struct kp_sched;
kp_err kp_sched_prepare(const struct kp_sched_input *in, const struct kp_sched_opts *opts,
			struct kp_sched **out, struct kp_errbuf *eb);
/* One simulation: places pods (NULL = as kp_sched_input.pods NULL) with
 * the nodes flagged in node_removed (indexed like cluster->nodes; NULL
 * = none) gone: their capacity is returned to their pool's limits and their
 * pods leave topology counts. Pods bound to a node that stays are not
 * counted there either (they are being moved). Fills *plan like
 * kp_sched_solve. */
kp_err kp_sched_run(struct kp_sched *s, const bool *node_removed, const struct kp_pod *const *pods,
		    int npods, struct kp_plan *plan, struct kp_errbuf *eb);
void kp_sched_free(struct kp_sched *s);

#endif
