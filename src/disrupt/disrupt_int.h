/*
 * disrupt_int.h - internals of the disruption engine shared by the files of
 * src/disrupt/. Not a public header: unit tests include it to reach the
 * per-pass state.
 *
 * Shape of one run:
 *   world    a private copy of the input cluster (nodes, claims and pods
 *            copied so commands can be applied; everything else shared);
 *   pass     per-node facts (kp_disrupt__node), budgets and the simulation state,
 *            built once per pass in a scratch arena and thrown away after;
 *   methods  expiration, emptiness, drift, multi-node, single-node: each
 *            reads the pass and may fill one kp_disrupt__cmd;
 *   apply    the winning command changes the world; the next pass starts.
 */
#ifndef KARPENTER_DISRUPT_INT_H
#define KARPENTER_DISRUPT_INT_H

#include "karpenter/disrupt.h"
#include "karpenter/sched.h"

/* Budget reasons, as indices. DR_EXPIRED is v1beta1 expiration, which had
 * no budget reasons: every budget applies to it. */
enum { DR_EMPTY = 0, DR_UNDERUTILIZED, DR_DRIFTED, DR_EXPIRED, DR_COUNT };

#define DD_MULTI_MAX_DEFAULT 100
#define DD_PASSES_DEFAULT 1000
#define DD_SPOT_TO_SPOT_MIN_TYPES 15
#define DD_REASON_MAX 512

/* ---- world ---- */

struct kp_disrupt__world {
	struct kp_cluster cl;               /* own arena; nodes, claims, pods are copies */
	const struct kp_cluster *in;
	int nlaunched;                      /* replacement nodes created so far */
	/* pool split (split.c): nodes a pool split could not improve, sorted by
	 * address; later pool splits leave them to single-node consolidation */
	const struct kp_node **settled;
	int nsettled, capsettled;
};

kp_err kp_disrupt__world_init(struct kp_disrupt__world *w, const struct kp_cluster *in, struct kp_errbuf *eb);
void kp_disrupt__world_free(struct kp_disrupt__world *w);

/* ---- per-pass node facts ---- */

struct kp_disrupt__node {
	struct kp_node *node;               /* world copy */
	struct kp_nodeclaim *claim;         /* may be NULL */
	const struct kp_nodepool *pool;     /* NULL when unmanaged or the pool is unknown */
	int pool_idx;                       /* index in world pools, -1 if none */
	const char *pool_name;              /* karpenter.sh/nodepool value, NULL if unmanaged */
	const struct kp_itype *itype;       /* NULL if not in the catalog */
	const struct kp_offering *off;      /* offering of the node's zone and capacity type */
	double price;                       /* off->price, 0 when unknown */
	int captype;                        /* enum kp_captype, -1 when unlabelled */
	int64_t created;                    /* NodeClaim (else Node) creationTimestamp */
	int64_t last_event;                 /* last pod event */
	bool managed, initialized, deleting, disrupting, nominated;
	int npods;
	struct kp_pod **pods;               /* every pod bound to the node */
	int nresched;
	struct kp_pod **resched;            /* the ones that must move */
	double cost;                        /* Karpenter's DisruptionCost */
	double resched_cost;                /* 1 + sum of positive eviction costs */
	/* why the node cannot be disrupted ("code: detail"), NULL if it can */
	const char *node_block;             /* every method */
	const char *pod_block;              /* graceful methods; drift ignores it with a TGP */
	const char *cons_block;             /* emptiness and consolidation filters */
	const char *drift;                  /* drift reason, NULL when not drifted */
	bool expired_v1, expired_beta;
	int64_t expire_at;                  /* created + expireAfter (KP_NEVER when none) */
	const char *recorded;               /* first reason a method gave (blocked report) */
	bool in_cmd;
};

struct kp_disrupt__pass;

/* ---- simulation (simulate.c) ---- */

/* Result of removing candidates and re-placing their pods. */
struct kp_disrupt__sim_result {
	struct kp_plan plan;                /* the scheduler's answer; free with kp_disrupt__sim_result_free */
	bool have_plan;
	const char *fail;                   /* first reason a bound pod found no place, or NULL */
};

/* Builds the per-pass simulation state (pending pods, pods of deleting
 * nodes, removal mask). */
kp_err kp_disrupt__sim_prepare(struct kp_disrupt__pass *p, struct kp_errbuf *eb);
void kp_disrupt__sim_release(struct kp_disrupt__pass *p);
/* Removes the candidates (indices into p->nodes) and re-places their
 * reschedulable pods with the pending pods and the pods of deleting nodes.
 * consolidation: pods may not land on uninitialized nodes (a disruption
 * simulation); false runs it as the provisioner would. */
kp_err kp_disrupt__simulate(struct kp_disrupt__pass *p, const int *cand, int ncand, bool consolidation,
		   struct kp_disrupt__sim_result *r, struct kp_errbuf *eb);
/* Places every pending pod (the provisioner), no node removed. */
kp_err kp_disrupt__provision(struct kp_disrupt__pass *p, struct kp_disrupt__sim_result *r, struct kp_errbuf *eb);
void kp_disrupt__sim_result_free(struct kp_disrupt__sim_result *r);

/* ---- commands ---- */

struct kp_disrupt__claim {
	const struct kp_plan_claim *pc;     /* borrowed from the command's plan */
	int nopt;
	const struct kp_itype **opt;        /* after the price rules, cheapest first */
	const struct kp_itype *it;          /* launched: opt[0] */
	const struct kp_offering *off;
	int pin;                            /* capacity type pinned by the price rules, -1 none */
};

struct kp_disrupt__cmd {
	enum kp_disrupt_method method;
	enum kp_disrupt_action action;
	int ncand;
	int *cand;                          /* indices into p->nodes */
	int nclaims;
	struct kp_disrupt__claim *claims;
	struct kp_disrupt__sim_result *sim;          /* NULL when nothing was simulated */
	int npods;
	double price, repl_price, savings;
	const char *reason;
	bool has_score;                     /* Balanced policy: score below */
	double score;
	bool provisioning;                  /* settling pending pods: new nodes are named
					     * "<nodepool>-<n>" like simulate's nodeClaims */
};

/* Releases the command's simulation (the rest is in the pass arena). */
void kp_disrupt__cmd_clear(struct kp_disrupt__cmd *c);

/* ---- the pass ---- */

struct kp_disrupt__pass {
	struct kp_arena arena;              /* scratch, freed with the pass */
	const struct kp_disrupt_opts *opts;
	struct kp_disrupt__world *w;
	const struct kp_catalog *cat;
	int64_t now;
	int index;                          /* pass number, 0 first */
	int nnodes;
	struct kp_disrupt__node *nodes;              /* parallel to w->cl.nodes */
	int npools;
	int64_t (*budget)[DR_COUNT];        /* allowed per world pool and reason, already
					     * reduced by the nodes disrupting; methods take from it */
	int64_t (*budget0)[DR_COUNT];       /* the same at the start of the pass, read only */
	int npending;
	const struct kp_pod **pending;      /* pods waiting for a node */
	int ndelpods;
	const struct kp_pod **delpods;      /* reschedulable pods of deleting nodes */
	/* simulation scratch */
	bool *removed;                      /* node_removed mask, all false between runs */
	bool *no_moves;                     /* nodes inside their consolidateAfter window */
	const struct kp_pod **simpods;      /* pods handed to the scheduler */
	int simpods_cap;
	struct kp_sched *sched_state;       /* prepared scheduler, built on first use */
	int64_t evaluated;                  /* candidates simulated */
	int64_t simulations;                /* scheduler runs */
};

/* candidate.c: builds p->nodes and the budgets for the world as it is now. */
kp_err kp_disrupt__pass_build(struct kp_disrupt__pass *p, struct kp_disrupt__world *w, const struct kp_catalog *cat,
		     const struct kp_disrupt_opts *opts, int index, struct kp_errbuf *eb);
void kp_disrupt__pass_free(struct kp_disrupt__pass *p);
/* split.c: split consolidation in cost packing mode (docs/packing.md) */
/* Every candidate's NodePool packs for cost. */
bool kp_disrupt__split_allowed(struct kp_disrupt__pass *p, const int *cand, int n);
const char *kp_disrupt__split_reason(struct kp_disrupt__pass *p, int n, int nclaims);
/* Pool split order: keeps the candidates whose price exceeds a lower bound
 * of their pods' cost by more than KP_DISRUPT__SPLIT_MIN_WASTE of it and
 * that are not settled (all: keeps every candidate), most wasted first;
 * returns how many (-1: out of memory). */
#define KP_DISRUPT__SPLIT_MIN_WASTE 0.05
/* ...and a pool split must save this share of the candidates' price */
#define KP_DISRUPT__SPLIT_MIN_SAVING 0.01
int kp_disrupt__split_order(struct kp_disrupt__pass *p, int *cand, int n, bool all);
/* Marks the candidates settled: pool splits skip them from now on. */
kp_err kp_disrupt__split_settle(struct kp_disrupt__pass *p, const int *cand, int n);

/* Records the first reason a method gives for not disrupting node i. */
void kp_disrupt__record(struct kp_disrupt__pass *p, int i, const char *reason);
/* The reason the blocked report gives for node i, or NULL. */
const char *kp_disrupt__blocked_reason(const struct kp_disrupt__pass *p, int i);
/* Karpenter's isUnderConsolidateAfter: a managed node whose NodePool has a
 * finite consolidateAfter that has not elapsed since its last pod event
 * (candidate.c's clock). Such nodes take no moved pods in consolidation
 * simulations. consolidateAfter Never does not hold a window open. */
bool kp_disrupt__under_consolidate_after(const struct kp_disrupt__pass *p, const struct kp_disrupt__node *d);
/* Karpenter's IsEmpty: RescheduleDisruptionCost <= 1, i.e. no pod that has
 * to move has a positive eviction cost (pods with a very negative
 * deletion cost or priority do not keep a node "non-empty"). */
bool kp_disrupt__is_empty(const struct kp_disrupt__node *d);
/* Budget left for node i's pool and reason; 0 for unmanaged nodes. */
int64_t kp_disrupt__budget(const struct kp_disrupt__pass *p, int i, int reason);
/* The budget at the start of the pass. */
int64_t kp_disrupt__budget0(const struct kp_disrupt__pass *p, int i, int reason);
void kp_disrupt__budget_take(struct kp_disrupt__pass *p, int i, int reason);
/* "budget: nodepool X allows 0 disruptions for R now" in the pass arena
 * (or "allows N ..., all taken in this pass" when the pass used them up). */
const char *kp_disrupt__budget_reason(struct kp_disrupt__pass *p, int i, int reason);
const char *kp_disrupt__reason_name(int reason);
/* Sorts candidate indices by Karpenter's consolidation order: savings ratio
 * (price / reschedule cost) descending, disruption cost, then name. */
void kp_disrupt__sort_consolidation(struct kp_disrupt__pass *p, int *idx, int n);
/* Formats into the pass arena; never NULL (falls back to a static string). */
const char *kp_disrupt__fmt(struct kp_disrupt__pass *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The price consolidation compares for an offering. A reserved offering
 * counts at 1/10,000,000 of its catalog price, as the AWS provider prices
 * reserved offerings (on-demand price / 10,000,000 in
 * pkg/providers/instancetype/offering): the reservation is paid for
 * already, so it ranks below every spot and on-demand price while keeping
 * the order among reservations. So Karpenter's getCandidatePrices makes a
 * node on a reservation nearly free, RemoveInstanceTypeOptionsByPriceAndMinValues
 * (WorstLaunchPrice) keeps no spot or on-demand replacement for it, and a
 * reservation with room is the cheapest replacement for any other node. */
#define DD_RESERVED_PRICE_DIVISOR 10000000.0
static inline double kp_disrupt__price(const struct kp_offering *o)
{
	return o->captype == KP_CAP_RESERVED ? o->price / DD_RESERVED_PRICE_DIVISOR : o->price;
}

/* Offering helpers (consolidation.c). pin = -1 allows any capacity type. */
bool kp_disrupt__offering_ok(const struct kp_offering *o, const struct kp_reqs *reqs, int pin);
const struct kp_offering *kp_disrupt__cheapest(const struct kp_itype *it, const struct kp_reqs *reqs, int pin);
/* Karpenter's WorstLaunchPrice: the most expensive compatible available
 * offering of the first capacity type present in reserved, spot, on-demand. */
double kp_disrupt__worst_launch_price(const struct kp_itype *it, const struct kp_reqs *reqs, int pin);

/* Methods: each fills *cmd and sets *found, or leaves *found false. */
kp_err kp_disrupt__expiration_v1(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb);
kp_err kp_disrupt__expiration_beta(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb);
kp_err kp_disrupt__emptiness(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb);
kp_err kp_disrupt__drift(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb);
kp_err kp_disrupt__multi(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb);
kp_err kp_disrupt__single(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb);
/* Shared by drift and v1beta1 expiration: one candidate at a time, empty
 * ones first in a batch; replacements are whatever the scheduler needs. */
kp_err kp_disrupt__replace_each(struct kp_disrupt__pass *p, enum kp_disrupt_method m, int reason, const int *cand, int n,
		       const char *why, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb);
/* Fills cmd's claims from its simulation without price rules (drift,
 * expiration): every claim launches its cheapest option. */
kp_err kp_disrupt__claims_unfiltered(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, struct kp_errbuf *eb);

/* world.c: applies a command to the world; names[i] receives the name of
 * replacement i (in the world arena). */
kp_err kp_disrupt__world_apply(struct kp_disrupt__pass *p, const struct kp_disrupt__cmd *cmd, const char **names,
		      struct kp_errbuf *eb);

#endif
