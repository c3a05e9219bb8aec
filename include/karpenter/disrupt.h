/*
 * disrupt.h - the disruption engine: which nodes Karpenter would remove or
 * replace, and why the others stay.
 *
 * Mirrors Karpenter v1's pkg/controllers/disruption: each pass builds the
 * candidates (managed, initialized, not deleting, no do-not-disrupt, no pod
 * blocked by a PodDisruptionBudget), the per-NodePool budgets, then tries the
 * methods in a fixed order and keeps the first command one yields:
 *   expiration (v1 template expireAfter: forceful delete, no budgets;
 *               v1beta1 disruption.expireAfter: graceful and budgeted),
 *   emptiness, drift, multi-node consolidation, single-node consolidation.
 * Consolidation commands are validated by re-running the scheduler with the
 * candidates removed; replacements must be strictly cheaper.
 * kp_disrupt_run applies each command to a simulated copy of the cluster
 * (replacements launched and initialized, candidates removed, pods moved)
 * and repeats until a pass finds nothing. Before the first pass, pending
 * pods are placed as the provisioner would place them (its new nodes
 * launched and initialized, named "<nodepool>-<n>" like simulate's
 * nodeClaims), so disruption sees the cluster settled.
 *
 * Pure: no I/O, no clock of its own (opts.now is the time of every pass).
 * Life cycle: the caller owns the input cluster and catalog, which must
 * outlive a result (results borrow NodePools and instance types from them);
 * everything else a result points to lives in its arena, released by
 * kp_disrupt_result_free.
 */
#ifndef KARPENTER_DISRUPT_H
#define KARPENTER_DISRUPT_H

#include "karpenter/base.h"
#include "karpenter/catalog.h"
#include "karpenter/cron.h"
#include "karpenter/objects.h"
#include "karpenter/sched.h"

/* ---- budgets (NodePool spec.disruption.budgets) ---- */

/* A budget is active iff schedule.Next(now - duration) <= now; a budget
 * without a schedule is always active. A schedule that never fires within
 * five years counts as active (as in Karpenter). KP_ERR_INVALID on a bad cron. */
kp_err kp_budget_active(const struct kp_budget *b, int64_t now, bool *active, struct kp_errbuf *eb);
/* Nodes the budget allows to disrupt at now among num_nodes: INT32_MAX when
 * inactive, else nodes, or ceil(nodes% * num_nodes). On a bad cron *out = 0
 * (fail closed) and the error is returned. */
kp_err kp_budget_allowed(const struct kp_budget *b, int64_t now, int64_t num_nodes, int64_t *out,
			 struct kp_errbuf *eb);
/* Minimum over the pool's budgets that apply to reason (a KP_REASON_* bit;
 * a budget with reasons 0 applies to all; KP_REASON_ALL = every budget).
 * A pool with no budgets gets the default 10%. Any bad cron makes the whole
 * pool allow 0. Not reduced by nodes already disrupting. */
int64_t kp_nodepool_allowed_disruptions(const struct kp_nodepool *np, unsigned reason, int64_t now,
					int64_t num_nodes);

/* ---- PodDisruptionBudgets ---- */

/* True iff the PDB is in the pod's namespace and its selector matches. */
bool kp_pdb_selects(const struct kp_pdb *pdb, const struct kp_pod *p);
/* status.disruptionsAllowed when given; otherwise what the disruption
 * controller would compute from the cluster's matching pods: healthy =
 * bound, not terminal, not deleting; expected = matching non-terminal pods;
 * desired from minAvailable (int, or percent of expected rounded up) or
 * expected - maxUnavailable (int or percent rounded up); allowed =
 * max(healthy - desired, 0), and 0 when nothing is expected or neither
 * field is set. */
int64_t kp_pdb_disruptions_allowed(const struct kp_pdb *pdb, const struct kp_cluster *c);

/* ---- pods and cost (pkg/utils/disruption, pkg/utils/pod) ---- */

/* (karpenter.sh/do-not-disrupt on a pod: kp_pod_do_not_disrupt, objects.h) */
/* Not terminal and not deleting. */
bool kp_pod_is_active(const struct kp_pod *p);
/* Must be re-placed when its node goes: active (or a deleting StatefulSet
 * pod), not a DaemonSet pod, not a mirror pod. */
bool kp_pod_is_reschedulable(const struct kp_pod *p);
/* Eviction goes through the API: active, not a mirror pod, does not
 * tolerate karpenter.sh/disrupted:NoSchedule, no active do-not-disrupt. */
bool kp_pod_is_evictable(const struct kp_pod *p, int64_t now);
/* clamp(1 + deletionCost/2^27 + priority/2^25, -10, 10). */
double kp_disrupt_eviction_cost(const struct kp_pod *p);
/* clamp((expireAfter - age) / expireAfter, 0, 1); 1 when expireAfter is
 * KP_NEVER or not positive. */
double kp_disrupt_lifetime_remaining(int64_t now, int64_t created, int64_t expire_after_ms);

/* ---- the engine ---- */

enum kp_disrupt_method {
	KP_DISRUPT_EXPIRATION = 0,
	KP_DISRUPT_EMPTINESS,
	KP_DISRUPT_DRIFT,
	KP_DISRUPT_MULTI,
	KP_DISRUPT_SINGLE,
	KP_DISRUPT_SPLIT,           /* cost packing: 1 -> N or M -> N nodes (docs/packing.md) */
};
enum kp_disrupt_action { KP_DISRUPT_DELETE = 0, KP_DISRUPT_REPLACE };

/* NodePool annotations for the minimum-savings threshold (beyond Karpenter). */
#define KP_ANN_MIN_SAVINGS_PER_HOUR "karpenter-c.sh/min-savings-per-hour"
#define KP_ANN_MIN_SAVINGS_PERCENT  "karpenter-c.sh/min-savings-percent"

struct kp_disrupt_opts {
	int64_t now;                  /* unix seconds: the clock of every pass */
	bool spot_to_spot;            /* SpotToSpotConsolidation gate (Karpenter default off) */
	/* Beyond Karpenter, all off by default: */
	bool evaluate_all;            /* single-node simulates every candidate and keeps the
				       * largest saving; multi-node is not capped at 100 */
	bool repack;                  /* consolidation may replace M nodes by N (1 < N < M) */
	double min_savings_per_hour;  /* consolidation threshold, $/h; a NodePool annotation wins */
	double min_savings_percent;   /* consolidation threshold, % of the removed price */
	/* Limits */
	int max_passes;               /* kp_disrupt_run: 0 = 1000 */
	int multi_max;                /* multi-node batch cap: 0 = 100 (Karpenter) */
	struct kp_sched_opts sched;   /* scheduler options for every simulation */
	/* Optional: per-NodePool instance types for the simulations
	 * (kp_sched_input.pool_catalog); NULL = cat for every pool. */
	const struct kp_catalog *(*pool_catalog)(void *ctx, const struct kp_nodepool *np);
	void *pool_catalog_ctx;
};

struct kp_disrupt_repl {
	const struct kp_nodepool *pool;
	const char *node;                  /* name the simulated node gets */
	const struct kp_itype *itype;      /* type launched: cheapest remaining option */
	const struct kp_offering *offering;/* its zone, capacity type and price */
	int noptions;                      /* types the launch may choose from, cheapest first */
	const struct kp_itype **options;
	int npods;                         /* pods the simulation put on it */
};

struct kp_disrupt_cmd {
	enum kp_disrupt_method method;
	enum kp_disrupt_action action;
	int pass;                          /* 0 = the first pass */
	int nnodes;
	const char **nodes;                /* Node names, in candidate order */
	int nrepl;
	struct kp_disrupt_repl *repl;      /* for expiration: what the provisioner relaunches */
	int npods;                         /* reschedulable pods moved */
	double price;                      /* $/h of the removed nodes */
	double repl_price;                 /* $/h of the replacements */
	double savings;                    /* price - repl_price */
	const char *reason;                /* for people: "Underutilized: ..." */
	bool has_score;                    /* consolidationPolicy Balanced: score was computed */
	double score;                      /* balanced.go score (accepted when >= 1/2) */
};

struct kp_disrupt_blocked {
	const char *node;
	const char *code;                  /* budget, pdb, do-not-disrupt, consolidate-after,
					    * not-cheaper, pods-do-not-fit, policy, uninitialized,
					    * nominated, unpriced */
	const char *reason;                /* "code: detail" */
};

struct kp_disrupt_result {
	struct kp_arena arena;
	int ncmds;
	struct kp_disrupt_cmd *cmds;       /* pass after pass */
	int nblocked;
	struct kp_disrupt_blocked *blocked;/* managed nodes the first pass could not disrupt */
	int npasses;                       /* passes computed, including the last empty one */
	bool pass_limit;                   /* stopped by max_passes */
	int64_t candidates_evaluated;      /* consolidation simulations: single-node candidates
					    * and multi-node batches (all passes) */
	int64_t simulations;               /* scheduler runs (all passes) */
};

void kp_disrupt_opts_default(struct kp_disrupt_opts *o);
/* "expiration", "emptiness", "drift", "multi-node", "single-node". */
const char *kp_disrupt_method_name(enum kp_disrupt_method m);
/* "delete" or "replace". */
const char *kp_disrupt_action_name(enum kp_disrupt_action a);
/* The NodeClaim drift checks Karpenter's nodeclaim/disruption/drift.go
 * isDrifted makes before asking the cloud provider: static drift (the
 * claim's karpenter.sh/nodepool-hash differs from np's, same hash version)
 * first, then requirements drift (the claim's labels no longer satisfy np's
 * requirements). Returns "NodePoolDrifted", "RequirementsDrifted" (static
 * strings) or NULL when neither; no I/O. */
const char *kp_disrupt_claim_drift(const struct kp_nodepool *np, const struct kp_nodeclaim *nc);

/* Computes commands pass after pass until one finds nothing (or
 * max_passes). c is not modified: passes run on an internal copy. c must be
 * linked (kp_cluster_link) and share its resource names with cat. On
 * success fills *res (caller frees with kp_disrupt_result_free); on failure
 * *res is empty. */
kp_err kp_disrupt_run(const struct kp_cluster *c, const struct kp_catalog *cat,
		      const struct kp_disrupt_opts *opts, struct kp_disrupt_result *res,
		      struct kp_errbuf *eb);
void kp_disrupt_result_free(struct kp_disrupt_result *res);

#endif
