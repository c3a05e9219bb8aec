/*
 * ctrl_int.h - internals shared by the files of src/ctrl (not for callers).
 *
 * Extension points for the controllers still to come (disruption,
 * termination, garbage collection):
 *   - timers: kp_kube_timer_start(c->loop, &t, ms, fn, ud) on the one loop;
 *   - the keyed work queue (struct kp_ctrl__queue): kp_ctrl__queue_add(q, key, delay)
 *     de-duplicates keys and keeps the earliest due time; a queue's
 *     reconcile function returns the delay before the next visit (-1: none);
 *   - the snapshot builder: kp_ctrl__snapshot() turns the informer caches (plus
 *     NodeClaims created but not yet seen by the informer) into a struct
 *     kp_cluster for the engine;
 *   - informer callbacks fan out in operator.c (kp_ctrl__on_*).
 */
#ifndef KARPENTER_CTRL_INT_H
#define KARPENTER_CTRL_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "ctrl/ctrl.h"
#include "karpenter/catalog.h"
#include "karpenter/objects.h"
#include "kube/kube.h"
#include "metrics/karpenter.h"
#include "metrics/metrics.h"
#include "kobj/kobj.h"

#define KPC_TERMINATION_FINALIZER "karpenter.sh/termination"
#define KPC_UNREGISTERED_TAINT "karpenter.sh/unregistered"
#define KPC_NODEPOOL_HASH_ANN "karpenter.sh/nodepool-hash"
#define KPC_NODEPOOL_HASH_VERSION_ANN "karpenter.sh/nodepool-hash-version"
/* Our version, not Karpenter's "v3": our FNV of the template is not
 * Karpenter's hashstructure value. NodeClaims another Karpenter launched
 * (its hash, "v3") are rewritten to our hash by the hash controller (hash.c)
 * instead of all being compared, and drifted, against ours. */
#define KPC_NODEPOOL_HASH_VERSION "kc-v1"
#define KPC_KEY_MAX 320

enum kp_ctrl__inf {
	KPC_PODS = 0,
	KPC_NODES,
	KPC_NODECLAIMS,
	KPC_NODEPOOLS,
	KPC_DAEMONSETS,
	KPC_PDBS,
	KPC_NAMESPACES,
	KPC_NODECLASSES,
	/* storage for volume topology (optional: a cluster that does not serve
	 * them still syncs; until all three have synced, snapshots mark the
	 * storage objects unknown and volumes constrain nothing) */
	KPC_STORAGECLASSES,
	KPC_PVCS,
	KPC_PVS,
	KPC_NINF,
};

/* ---- keyed work queue (queue.c) ---- */
struct kp_ctrl__item {
	char key[KPC_KEY_MAX];
	int64_t due_ms;                 /* monotonic */
};
struct kp_ctrl;
struct kp_ctrl__ext;
/* Returns the delay in ms before the key is visited again, or -1. */
typedef int64_t (*kp_ctrl__reconcile_fn)(struct kp_ctrl *c, const char *key);
struct kp_ctrl__queue {
	const char *name;               /* "nodeclaim.lifecycle" (logs) */
	struct kp_ctrl__item *items;
	int n, cap;
	kp_ctrl__reconcile_fn fn;
	struct kp_kube_timer timer;
	struct kp_ctrl *c;
	bool running;                   /* inside kp_ctrl__queue_process */
	char resume[KPC_KEY_MAX];       /* a pass cut short: the last key it visited */
};
void kp_ctrl__queue_init(struct kp_ctrl__queue *q, struct kp_ctrl *c, const char *name, kp_ctrl__reconcile_fn fn);
/* Schedules key after delay_ms (an earlier due time wins). */
void kp_ctrl__queue_add(struct kp_ctrl__queue *q, const char *key, int64_t delay_ms);
void kp_ctrl__queue_free(struct kp_ctrl__queue *q);

/* ---- unavailable offerings (ice.c) ---- */
struct kp_ctrl__ice_entry {
	char itype[96];
	char zone[64];
	int captype;
	int64_t until_ms;               /* monotonic */
};
struct kp_ctrl__ice {
	struct kp_ctrl__ice_entry *e;
	int n, cap;
	int64_t ttl_ms;
};
/* Marks (itype, zone, captype) unavailable for ttl from now. */
void kp_ctrl__ice_mark(struct kp_ctrl__ice *ice, const char *itype, const char *zone, int captype, int64_t now_ms);
bool kp_ctrl__ice_has(const struct kp_ctrl__ice *ice, const char *itype, const char *zone, int captype, int64_t now_ms);
/* True if an entry expired in (since_ms, now_ms]: hidden offerings came back. */
bool kp_ctrl__ice_expired_since(const struct kp_ctrl__ice *ice, int64_t since_ms, int64_t now_ms);
struct kp_ctrl__ice_ctx {
	const struct kp_ctrl__ice *ice;
	int64_t now_ms;
};
/* kp_sched_input.offering_hidden with ctx a struct kp_ctrl__ice_ctx. */
bool kp_ctrl__ice_hidden(void *ctx, const struct kp_itype *it, const struct kp_offering *o);
void kp_ctrl__ice_free(struct kp_ctrl__ice *ice);

/* ---- the controller ---- */
struct kp_ctrl {
	struct kp_ctrl_opts o;
	struct kp_resnames rn;
	struct kp_log log;                          /* logger "controller" */
	struct kp_log_field lf_prov[1], lf_life[1], lf_op[1];
	struct kp_log log_prov, log_life, log_op;   /* with a "controller" base field */
	struct kp_kube_config *cfg;
	struct kp_kube_client *kc;
	struct kp_kube_loop *loop;
	struct kp_informer *inf[KPC_NINF];
	void *inf_ud[KPC_NINF];                     /* handler contexts, owned */
	bool inf_started;
	struct kp_lease *lease;
	char identity[256];
	bool controllers_on;                        /* leading (or no election) */
	atomic_int stop;
	atomic_int ready;
	atomic_int leading;
	bool lost;                                  /* leadership lost: exit */
	struct kp_karpenter_metrics m;
	struct kp_metrics *reg;
	struct kp_kube_timer tick;                  /* 1 s housekeeping */
	/* provisioner batcher */
	struct kp_kube_timer batch_timer;
	bool batch_open;
	int64_t batch_start_ms, batch_last_ms;
	bool unsched_left;                          /* the last pass left pods unplaced */
	int64_t last_pass_ms;
	int64_t last_tick_ms;
	/* NodeClaims created and not yet seen by the informer (json array) */
	json_t *created;
	/* name -> providerID of instances launched whose status write the
	 * informer has not shown yet (Karpenter's launch cache) */
	json_t *launched;
	/* lifecycle */
	struct kp_ctrl__queue lifecycle;
	struct kp_ctrl__ice ice;
	uint64_t seq;
	/* the controllers beside the provisioner and lifecycle (disruption,
	 * termination, GC, ...): ext_int.h; NULL until they are wired in */
	struct kp_ctrl__ext *ext;
	/* metrics (cloud_metrics.c, metrics_state.c): o.cloud is Karpenter's
	 * cloudprovider metrics decorator around cloud_raw, the provider as
	 * given (its properties are read through the ops table, never by
	 * asking which provider it is); a
	 * controller may name itself in cloud_caller around its cloud calls
	 * (the "controller" label; queues are named automatically) */
	struct kp_cloud *cloud_raw;
	const char *cloud_caller;
	struct kp_ctrl__ms *ms;
	/* launches in flight in launcher threads (launcher.c), loop-thread owned */
	struct kp_ctrl__launch **launches;
	int nlaunches;
	/* other cloud calls in flight (launcher.c), loop-thread owned */
	struct kp_ctrl__call **calls;
	int ncalls;
};

/* ---- launches off the loop thread (launcher.c) ---- */
struct kp_ctrl__launch {
	char name[256];                 /* NodeClaim */
	char memo[512];                 /* providerID remembered for it, "" = none */
	json_t *obj;                    /* copy of the NodeClaim */
	struct kp_cloud *cloud;         /* c->cloud_raw */
	const struct kp_kube_clock *clock;   /* c->o.clock, for the duration */
	struct kp_resnames rn;
	struct kp_arena a;              /* inst's strings */
	struct kp_instance inst;        /* result */
	enum kp_cloud_err e;
	struct kp_errbuf eb;
	bool created;                   /* Create was called (not adopted) */
	int64_t ms;                     /* duration of the Create (or of the lookup) */
	pthread_t th;
	atomic_int done;
};
/* Starts the launch of NodeClaim name (obj copied) in a thread unless one
 * is running, waits a few ms for fast clouds; 0 with *out = the finished
 * job (the caller consumes it, then kp_ctrl__launch_release), 1 in flight, -1
 * could not start. */
int kp_ctrl__launch_poll(struct kp_ctrl *c, const char *name, const json_t *obj, const char *memo, struct kp_ctrl__launch **out);
void kp_ctrl__launch_release(struct kp_ctrl *c, struct kp_ctrl__launch *j);
/* Jobs still running (for tests and metrics). */
int kp_ctrl__launch_inflight(const struct kp_ctrl *c);
/* Joins and frees every job (before the provider goes). */
void kp_ctrl__launch_free_all(struct kp_ctrl *c);

/* ---- other cloud calls off the loop thread (launcher.c) ----
 * Get, Delete, List, the node class reconcile and tagging run in a thread each, as
 * launches do, keyed by (kind, arg): polling the same key again finds the
 * same job. The caller (loop thread) polls: 1 in flight (come back later),
 * 0 with *out = the finished job (read it, then kp_ctrl__call_release), -1
 * could not start (eb-less: out of memory or threads). A finished job
 * nobody polls for 5 minutes is freed by a later poll. */
enum kp_ctrl__call_kind { KP_CTRL_CALL_GET, KP_CTRL_CALL_DELETE, KP_CTRL_CALL_LIST, KP_CTRL_CALL_NODECLASS,
			  KP_CTRL_CALL_TAG /* tag_instance; arg {"providerID","nodeName","nodeClaim"} (tagging.c) */,
			  KP_CTRL_CALL_NODECLASS_FINALIZE /* key: the class's name, arg: its JSON (ncterm.c) */ };
struct kp_ctrl__call {
	enum kp_ctrl__call_kind kind;
	char *arg;                      /* providerID, "" (list) or the node class JSON */
	char *key;                      /* kind + arg (the node class: its name) */
	struct kp_cloud *cloud;         /* c->cloud_raw */
	const struct kp_kube_clock *clock;   /* c->o.clock, for the duration */
	struct kp_arena a;              /* results' strings */
	struct kp_instance inst;        /* GET */
	struct kp_instance *all;        /* LIST */
	int n;
	char *status, *conds;           /* NODECLASS (malloc'd, freed on release) */
	enum kp_cloud_err e;
	struct kp_errbuf eb;
	int64_t ms;                     /* duration of the call */
	int64_t done_ms;                /* monotonic, when the loop first saw it done */
	bool recorded;                  /* its cloudprovider metrics are recorded */
	pthread_t th;
	atomic_int done;
};
/* key: the node class's name for NODECLASS (arg is its JSON: a job for an
 * older JSON is discarded when the class changed), the NodeClaim's name for
 * TAG (likewise), else NULL (= arg). */
int kp_ctrl__call_poll(struct kp_ctrl *c, enum kp_ctrl__call_kind kind, const char *key, const char *arg,
		       struct kp_ctrl__call **out);
void kp_ctrl__call_release(struct kp_ctrl *c, struct kp_ctrl__call *j);
/* Calls still running. */
int kp_ctrl__call_inflight(const struct kp_ctrl *c);

int64_t kp_ctrl__now(const struct kp_ctrl *c);           /* monotonic ms */
int64_t kp_ctrl__wall(const struct kp_ctrl *c);          /* unix ms */

/* ---- snapshot (snapshot.c) ---- */
/* Builds an engine view of the cluster from the caches into out (initialized
 * here; the caller frees it with kp_cluster_free). Objects that fail to
 * decode are logged and left out. When provisionable is not NULL it gets an
 * array (in out's arena) of the pods that are provisionable, and *nprov its
 * length. Cost: O(objects) decoding. */
kp_err kp_ctrl__snapshot(struct kp_ctrl *c, struct kp_cluster *out, const struct kp_pod ***provisionable, int *nprov,
		    struct kp_errbuf *eb);
/* Karpenter's pod.IsProvisionable on the API object. */
bool kp_ctrl__pod_provisionable(const json_t *pod);
/* The NodeClaim object named name: the informer's, else a just-created one. Borrowed. */
json_t *kp_ctrl__claim_get(struct kp_ctrl *c, const char *name);
/* Forgets just-created claims the informer has seen (or that are older
 * than KPC_CREATED_WINDOW_MS); kp_ctrl__created_forget drops one by name (it was
 * deleted). Entries carry their creation time (monotonic ms) under the
 * key KPC_CREATED_AT, outside the object's own fields. */
void kp_ctrl__created_gc(struct kp_ctrl *c);
void kp_ctrl__created_forget(struct kp_ctrl *c, const char *name);
#define KPC_CREATED_AT "x-karpenter-c-created-ms"
#define KPC_CREATED_WINDOW_MS 60000

/* ---- provisioner (provision.c) ---- */
struct kp_plan_claim;
/* The NodeClaim object Karpenter's ToNodeClaim writes for plan claim pc of
 * NodePool object pool_obj, with instance types itypes (cheapest first);
 * new reference, NULL when out of memory. Strings it needs live in a. */
json_t *kp_ctrl__prov_nodeclaim_json(struct kp_ctrl *c, const struct kp_plan_claim *pc, const json_t *pool_obj,
				const struct kp_itype *const *itypes, int nitypes, struct kp_arena *a);
/* A provisionable pod or a relevant change arrived: open or extend the batch. */
void kp_ctrl__prov_trigger(struct kp_ctrl *c);
void kp_ctrl__prov_stop(struct kp_ctrl *c);

/* ---- NodeClaim lifecycle (lifecycle.c) ---- */
int64_t kp_ctrl__lifecycle_reconcile(struct kp_ctrl *c, const char *name);
/* Enqueues the NodeClaims that a Node (by providerID or name) belongs to. */
void kp_ctrl__lifecycle_node_event(struct kp_ctrl *c, const json_t *node);

/* ---- small JSON helpers (util.c) ---- */
/* The object helpers are src/kobj's (kobj.h); these names stay for the
 * controller's many callers. String at a dotted path ("metadata.name"). */
static inline const char *kp_ctrl__jstr(const json_t *o, const char *path) { return kp_kobj_path_str(o, path); }
/* Pod phase Succeeded or Failed. */
bool kp_ctrl__pod_terminal(const json_t *pod);
/* Pod owned by a DaemonSet. */
bool kp_ctrl__pod_daemon(const json_t *pod);
/* metadata.finalizers holds fin. */
static inline bool kp_ctrl__has_finalizer(const json_t *obj, const char *fin) { return kp_kobj_has_finalizer(obj, fin); }
/* kp_kube_retry_on_conflict mutation: removes karpenter.sh/termination
 * from metadata.finalizers; 1 (nothing to write) when it is not there. */
int kp_ctrl__drop_termination_finalizer(void *ud, json_t *obj, struct kp_errbuf *eb);
static inline json_t *kp_ctrl__jget(const json_t *o, const char *path) { return kp_kobj_at(o, path); }
/* Condition of type in obj's status.conditions, or NULL. */
static inline json_t *kp_ctrl__condition(const json_t *obj, const char *type) { return kp_kobj_condition(obj, type); }
static inline bool kp_ctrl__condition_true(const json_t *obj, const char *type) { return kp_kobj_condition_true(obj, type); }
/* Sets condition type in the array conds (new reference kept by conds):
 * lastTransitionTime changes only when status changes. */
static inline void kp_ctrl__condition_set(json_t *conds, const char *type, const char *status, const char *reason,
				     const char *message, int64_t generation, int64_t wall_ms)
{
	kp_kobj_condition_set(conds, type, status, reason, message, generation, wall_ms);
}
/* RFC 3339 UTC with seconds for wall_ms into buf (>= 32 bytes). */
static inline void kp_ctrl__time(int64_t wall_ms, char *buf, size_t n) { kp_kobj_time(wall_ms, buf, n); }
/* Resource list {name: quantity} from r (non-zero entries). */
json_t *kp_ctrl__reslist(const struct kp_resnames *rn, const struct kp_res *r);
/* Emits a core/v1 Event about an object (best effort, logged at debug on failure). */
void kp_ctrl__event(struct kp_ctrl *c, const char *kind, const char *api_version, const char *ns, const char *name,
	       const char *uid, const char *type, const char *reason, const char *note);

/* ---- metrics (cloud_metrics.c, metrics_state.c) ---- */
/* The controller label of a cloud call of method ("Create", ...). */
typedef const char *(*kp_ctrl__caller_fn)(void *ud, const char *method);
/* A provider forwarding every call to inner (borrowed) and recording
 * karpenter_cloudprovider_duration_seconds{controller,method,provider} and
 * _errors_total{...,error} (either family may be NULL); caller(ud, method)
 * names the controller; durations on clock (NULL = real, borrowed).
 * kp_cloud_destroy(*out) frees the decorator only. */
kp_err kp_ctrl__cloud_metrics_new(struct kp_cloud *inner, struct kp_metric *duration, struct kp_metric *errors,
			     kp_ctrl__caller_fn caller, void *ud, const struct kp_kube_clock *clock,
			     struct kp_cloud **out, struct kp_errbuf *eb);
/* Records a call made on the inner provider from another thread (the
 * launcher's) as the decorator would have: ms long, result e. No-op when
 * cp is not a decorator. */
void kp_ctrl__cloud_metrics_record(struct kp_cloud *cp, const char *ctrl, const char *method, int64_t ms,
			      enum kp_cloud_err e);
/* The provider a decorator wraps; cp itself when it is not a decorator. */
struct kp_cloud *kp_ctrl__cloud_metrics_inner(struct kp_cloud *cp);
/* Karpenter's error label: InsufficientCapacityError, NodeClaimNotFoundError,
 * NodeClassNotReadyError, or "". */
const char *kp_ctrl__cloud_error_label(enum kp_cloud_err e);
/* kp_ctrl__caller_fn for ud = struct kp_ctrl: c->cloud_caller, else the running
 * queue's name, else the usual timer-driven caller of method. */
const char *kp_ctrl__ms_caller(void *ud, const char *method);
/* State gauges (pods_state, node resource gauges, cluster state) kept from
 * informer events; needs c->m registered. kp_ctrl__ms_free(NULL c->ms) is a no-op. */
kp_err kp_ctrl__ms_new(struct kp_ctrl *c, struct kp_errbuf *eb);
/* Informers the controller does not wait for (storage: volume topology). */
bool kp_ctrl__inf_optional(enum kp_ctrl__inf kind);
void kp_ctrl__ms_event(struct kp_ctrl *c, enum kp_ctrl__inf kind, const json_t *obj, bool deleted);
/* Writes changed node gauges, lifetimes (every 5 s), utilization, node count. */
void kp_ctrl__ms_tick(struct kp_ctrl *c);
void kp_ctrl__ms_free(struct kp_ctrl *c);
/* Tracked pods (which 0), Nodes (1), state nodes (2), orphan pods (3). */
size_t kp_ctrl__ms_count(const struct kp_ctrl *c, int which);

/* Per-NodePool instance types (provision.c): asks the provider once per
 * pool of cl; the table lives in a (the catalogs are the provider's). A pool
 * whose types cannot be had is logged on log (if any) and gets none. Returns
 * -1 with eb set when no pool has types. */
struct kp_ctrl__pool_cats;
struct kp_sched_input;
int kp_ctrl__pool_cats_load(struct kp_ctrl *c, const struct kp_cluster *cl, struct kp_arena *a,
			    struct kp_ctrl__pool_cats **out, struct kp_log *log, struct kp_errbuf *eb);
/* The catalog of the pool named pool, else the first pool's that could be had. */
const struct kp_catalog *kp_ctrl__pool_cat(struct kp_ctrl__pool_cats *pc, const char *pool);
/* Sets in's catalog and per-pool catalog callback. */
void kp_ctrl__pool_cats_input(struct kp_ctrl__pool_cats *pc, struct kp_sched_input *in);

#endif
