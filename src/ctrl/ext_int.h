/*
 * ext_int.h - internals of the controllers that run beside the provisioner
 * and the NodeClaim lifecycle (not for callers outside src/ctrl):
 *   disruption.c  disruption loop, orchestration, nodeclaim.expiration
 *   termination.c the Node finalizer (taint, drain, instance, finalizer)
 *   gc.c          nodeclaim.garbagecollection and orphaned instances
 *   nodepool.c    NodePool status (counter, validation, readiness, hash)
 *   podevents.c   NodeClaim status.lastPodEventTime
 *   nodeclass.c   node class status (provider-resolved) and interruption events
 *   tagging.c     nodeclaim.tagging: the instance tagged after registration
 * hooks.c wires them to the operator: one struct kp_ctrl__ext hangs off struct
 * kp_ctrl (c->ext), created in kp_ctrl_new, started and stopped with the
 * controllers, fed by the informer callbacks, freed before the loop.
 *
 * Timings: Karpenter's defaults; each may be shortened for tests through
 * the environment of the process (read once, in kp_ctrl__ext_new):
 *   KARPENTER_DISRUPTION_POLL              10s   disruption pass period
 *   KARPENTER_DISRUPTION_VALIDATION_DELAY  15s   consolidation/emptiness re-check
 *   KARPENTER_DISRUPTION_REPLACE_TIMEOUT   10m   replacements must initialize
 *   KARPENTER_GC_PERIOD                    10s x20, then 2m  garbage collection period
 *                                                (set: that fixed period, first pass after it)
 *   KARPENTER_GC_INSTANCE_GRACE            30s   age before an unowned instance goes
 */
#ifndef KARPENTER_CTRL_EXT_INT_H
#define KARPENTER_CTRL_EXT_INT_H

#include "ctrl/ctrl_int.h"

#define KPC_DISRUPTED_TAINT "karpenter.sh/disrupted"
#define KPC_TERMINATION_TS_ANN "karpenter.sh/nodeclaim-termination-timestamp"
#define KPC_NC_FINALIZER "karpenter.k8s.aws/termination"   /* EC2NodeClass (ncterm.c) */

struct kp_ctrl__disruption;   /* disruption.c */

int64_t kp_ctrl__repair_reconcile(struct kp_ctrl *c, const char *name);   /* repair.c */
/* The repair policies node repair applies: the provider's own, from its
 * ops table (CloudProvider.RepairPolicies); NULL with *n 0 when it has none. */
const struct kp_cloud_repair_policy *kp_ctrl__repair_policies(struct kp_cloud *cp, int *n);
/* The condition type of node (API JSON) that matches a policy and whose
 * toleration (override_ms when >= 0) ends first, with that end (unix ms)
 * in *deadline_ms; NULL when none matches (findUnhealthyConditions). */
const char *kp_ctrl__repair_match(const json_t *node, const struct kp_cloud_repair_policy *pol, int npol,
				  int64_t override_ms, int64_t *deadline_ms);
/* Karpenter's 20% rule: may a pool with this many unhealthy nodes repair? */
bool kp_ctrl__repair_pool_ok(int unhealthy, int total);

struct kp_ctrl__ext {
	/* timings (ms) */
	int64_t disrupt_poll_ms, validation_ms, replace_timeout_ms, gc_grace_ms;
	int64_t gc_period_ms;                   /* KARPENTER_GC_PERIOD; 0 = kp_ctrl__gc_next_ms's schedule */
	int gc_passes;                          /* successful garbage collection passes */
	/* loggers with their "controller" field */
	struct kp_log_field lf_dis[1], lf_exp[1], lf_term[1], lf_gc[1], lf_np[1], lf_pe[1];
	struct kp_log log_dis, log_exp, log_term, log_gc, log_np, log_pe;
	/* disruption */
	struct kp_ctrl__disruption *dis;
	struct kp_ctrl__queue expiration;       /* NodeClaim names */
	/* termination */
	struct kp_ctrl__queue termination;      /* Node names */
	json_t *evict_backoff;             /* pod uid -> [next_ms, attempt] */
	json_t *drain_start;               /* node name -> mono ms drain began */
	/* garbage collection */
	struct kp_kube_timer gc_timer;
	/* nodepool status */
	struct kp_ctrl__queue nodepools;        /* NodePool names */
	struct kp_kube_timer np_timer;
	/* podevents */
	struct kp_ctrl__queue podevents;        /* NodeClaim names */
	struct kp_ctrl__queue repair;           /* Node names (node repair, NodeRepair gate) */
	struct kp_log_field lf_rep[1];
	struct kp_log log_rep;
	/* node class status and interruption (nodeclass.c) */
	struct kp_log_field lf_nc[1], lf_intr[1], lf_drift[1];
	struct kp_log log_nc, log_intr, log_drift;
	struct kp_ctrl__queue nodeclasses;      /* EC2NodeClass names */
	json_t *nc_gen;                    /* name -> metadata.generation last queued */
	json_t *nc_wait;                   /* name -> mono ms of the last WaitingOnNodeClaimTermination (ncterm.c) */
	struct kp_kube_timer intr_timer;
	/* cloud drift (nodeclass.c): a pass of is_drifted calls in a thread */
	struct kp_ctrl__drift_job *drift;
	struct kp_kube_timer drift_timer;
	int64_t drift_poll_ms;             /* KARPENTER_DRIFT_POLL, default 5m */
	/* nodeclaim.tagging (tagging.c) */
	struct kp_ctrl__queue tagging;          /* NodeClaim names */
	struct kp_log_field lf_tag[1];
	struct kp_log log_tag;
};

/* ---- hooks.c: called by operator.c ---- */
kp_err kp_ctrl__ext_new(struct kp_ctrl *c, struct kp_errbuf *eb);
void kp_ctrl__ext_start(struct kp_ctrl *c);
void kp_ctrl__ext_stop(struct kp_ctrl *c);
/* Before the loop is freed; NULL c->ext is a no-op. */
void kp_ctrl__ext_free(struct kp_ctrl *c);
/* An informer event: old is NULL for adds and deletes. */
void kp_ctrl__ext_event(struct kp_ctrl *c, enum kp_ctrl__inf kind, const json_t *old, json_t *obj, bool deleted);

/* ---- hooks.c: helpers shared by the controllers ---- */
/* The NodeClaim (informer's, borrowed) whose status.providerID is the Node's
 * spec.providerID, else whose status.nodeName is its name; NULL if none. */
json_t *kp_ctrl__ext_claim_for_node(struct kp_ctrl *c, const json_t *node);
/* The Node (borrowed) of a NodeClaim by providerID; NULL if none. */
json_t *kp_ctrl__ext_node_for_claim(struct kp_ctrl *c, const json_t *claim);
/* Adds (or removes) karpenter.sh/disrupted:NoSchedule on Node name; also
 * labels node.kubernetes.io/exclude-from-external-load-balancers when
 * exclude_lb. Conflict-retried. 0 done, 1 Node gone, -1 error (logged). */
int kp_ctrl__ext_taint(struct kp_ctrl *c, const struct kp_log *log, const char *node, bool add, bool exclude_lb);
/* Sets (status != NULL) or removes (status NULL) condition type on the
 * NodeClaim's status, conflict-retried. 0 done, 1 gone, -1 error (logged). */
int kp_ctrl__ext_claim_condition(struct kp_ctrl *c, const struct kp_log *log, const char *claim, const char *type,
			    const char *status, const char *reason, const char *message);
/* RFC 3339 timestamp at path as unix ms; 0 when absent or bad. */
int64_t kp_ctrl__ext_time_ms(const json_t *obj, const char *path);
/* True if the Node has taint key:effect. */
bool kp_ctrl__ext_node_has_taint(const json_t *node, const char *key, const char *effect);
/* metadata.name of an object ("" when absent). */
const char *kp_ctrl__ext_name(const json_t *obj);

/* ---- the controllers ---- */
kp_err kp_ctrl__dis_new(struct kp_ctrl *c, struct kp_errbuf *eb);
void kp_ctrl__dis_start(struct kp_ctrl *c);
void kp_ctrl__dis_stop(struct kp_ctrl *c);
void kp_ctrl__dis_free(struct kp_ctrl *c);
/* The cluster changed: run a pass soon (rate-limited to one a second). */
void kp_ctrl__dis_trigger(struct kp_ctrl *c);
int64_t kp_ctrl__expiration_reconcile(struct kp_ctrl *c, const char *claim);

int64_t kp_ctrl__term_reconcile(struct kp_ctrl *c, const char *node);
/* A pod changed: if it is on a deleting Node, visit that Node. */
void kp_ctrl__term_pod_event(struct kp_ctrl *c, const json_t *pod);

void kp_ctrl__gc_start(struct kp_ctrl *c);
/* The delay before the next garbage collection pass after `passes`
 * successful ones: Karpenter's garbagecollection controllers requeue after
 * 10 s while successfulCount <= 20, then after 2 min; fixed_ms > 0 (the
 * KARPENTER_GC_PERIOD override) replaces both. */
int64_t kp_ctrl__gc_next_ms(int64_t fixed_ms, int passes);
void kp_ctrl__gc_stop(struct kp_ctrl *c);

int64_t kp_ctrl__np_reconcile(struct kp_ctrl *c, const char *pool);
/* claimdrift.c: writes/clears the static and requirements Drifted
 * condition on np's launched NodeClaims (nodeclaim/disruption/drift.go). */
void kp_ctrl__claim_drift(struct kp_ctrl *c, const struct kp_nodepool *np);
/* True if the claim's Drifted condition has a static reason (NodePoolDrifted,
 * RequirementsDrifted), which the cloud drift poller leaves alone. */
bool kp_ctrl__claim_drift_is_static(const json_t *claim);
void kp_ctrl__np_start(struct kp_ctrl *c);
void kp_ctrl__np_stop(struct kp_ctrl *c);

/* hash.c: the hash controllers' NodeClaim rewrite after a hash-version
 * change (updateNodeClaimHash): every claim of parent (of() says which)
 * whose ver_key annotation is not ver gets ver and, when it has no Drifted
 * condition, hash. 0 when every write succeeded, -1 otherwise (logged). */
int kp_ctrl__hash_claims(struct kp_ctrl *c, const struct kp_log *log, bool (*of)(const json_t *claim, const char *parent),
			 const char *parent, const char *hash_key, const char *hash, const char *ver_key, const char *ver);
bool kp_ctrl__hash_claim_of_pool(const json_t *claim, const char *pool);        /* karpenter.sh/nodepool label */
bool kp_ctrl__hash_claim_of_class(const json_t *claim, const char *nodeclass);  /* spec.nodeClassRef */
/* The node class hash controller: the provider's hash of obj (an
 * EC2NodeClass) and its version as annotations on obj, the class's claims
 * rewritten first when the version changed; nothing without a provider hash. */
void kp_ctrl__nc_hash(struct kp_ctrl *c, const struct kp_log *log, json_t *obj);

/* nodeclass.c: node class status through the provider; interruption events */
int64_t kp_ctrl__nc_reconcile(struct kp_ctrl *c, const char *name);
void kp_ctrl__nc_event(struct kp_ctrl *c, const json_t *old, const json_t *obj, bool deleted);
void kp_ctrl__intr_start(struct kp_ctrl *c);
void kp_ctrl__intr_stop(struct kp_ctrl *c);
/* Cloud drift: every drift_poll_ms the provider's is_drifted for each
 * launched NodeClaim, in a thread; the loop writes the Drifted condition. */
void kp_ctrl__drift_start(struct kp_ctrl *c);
void kp_ctrl__drift_stop(struct kp_ctrl *c);
/* Joins a running pass (before the provider goes). */
void kp_ctrl__drift_free(struct kp_ctrl *c);

/* tagging.c: the provider's tag_instance for registered NodeClaims. */
void kp_ctrl__tag_event(struct kp_ctrl *c, const json_t *claim, bool deleted);
int64_t kp_ctrl__tag_reconcile(struct kp_ctrl *c, const char *claim);
/* ncterm.c: the EC2NodeClass finalizer. Does the provider finalize classes? */
bool kp_ctrl__ncterm_enabled(const struct kp_ctrl *c);
/* Adds the finalizer to the class when the provider finalizes classes. */
void kp_ctrl__ncterm_ensure(struct kp_ctrl *c, const char *name, const json_t *obj);
/* A class being deleted (obj, the informer's): wait for its NodeClaims,
 * finalize through the provider, remove the finalizer. Queue delay or -1. */
int64_t kp_ctrl__ncterm_reconcile(struct kp_ctrl *c, const char *name, json_t *obj);
/* A NodeClaim went: visit its class if that is being deleted. */
void kp_ctrl__ncterm_claim_event(struct kp_ctrl *c, const json_t *claim, bool deleted);

/* Pod update filter (bound, terminal, terminating; adds and deletes of bound pods). */
void kp_ctrl__pe_pod_event(struct kp_ctrl *c, const json_t *old, const json_t *pod, bool deleted);
int64_t kp_ctrl__pe_reconcile(struct kp_ctrl *c, const char *claim);

#endif
