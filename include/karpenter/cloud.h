/*
 * cloud.h - the cloud-provider interface: how karpenter-c launches and
 * removes capacity. A provider is a table of functions (like SQLite's
 * sqlite3_vfs) plus its private state; the simulated cloud of `karpenter up`
 * is the first implementation, AWS (EC2 CreateFleet) the next.
 *
 * Mirrors Karpenter's pkg/cloudprovider/types.go CloudProvider: Create,
 * Delete, Get, List, GetInstanceTypes, IsDrifted, Name, with typed errors
 * (not found, insufficient capacity, node class not ready). Calls may block
 * (network); the controller calls them from its worker, never while holding
 * engine state. A call that fails writes the detail into eb.
 */
#ifndef KARPENTER_CLOUD_H
#define KARPENTER_CLOUD_H

#include "karpenter/base.h"
#include "karpenter/catalog.h"
#include "karpenter/objects.h"

#define KP_CLOUD_VERSION 1

enum kp_cloud_err {
	KP_CLOUD_OK = 0,
	KP_CLOUD_NOT_FOUND,             /* NodeClaimNotFoundError: the instance is gone */
	KP_CLOUD_INSUFFICIENT_CAPACITY, /* InsufficientCapacityError: no offering could launch */
	KP_CLOUD_NODECLASS_NOT_READY,   /* NodeClassNotReadyError */
	KP_CLOUD_CREATE_ERROR,          /* other launch failure (reason in eb) */
	KP_CLOUD_TRANSIENT,             /* throttled / network: retry later */
	KP_CLOUD_INTERNAL,
};

/* A launched (or launching) instance, as Create/Get/List report it. Strings
 * and arrays live in the arena passed to the call. */
struct kp_instance {
	const char *provider_id;       /* "aws:///us-east-1a/i-0123..." or "kwok://..." */
	const char *nodeclaim;         /* name of the NodeClaim that launched it (tag) */
	const char *nodepool;
	const char *instance_type;
	const char *zone;
	enum kp_captype captype;
	double price;
	const char *image_id;
	int64_t launched;              /* unix s */
	/* STOPPED (AWS stopping/stopped) still exists: Delete terminates it,
	 * garbage collection collects it (instance.go Get/Delete) */
	enum kp_instance_state { KP_INSTANCE_PENDING, KP_INSTANCE_RUNNING, KP_INSTANCE_TERMINATING, KP_INSTANCE_TERMINATED,
				 KP_INSTANCE_STOPPED } state;
	struct kp_labels labels;       /* labels the Node will carry (type, zone, capacity type, ...) */
	struct kp_res capacity;
	struct kp_res allocatable;
	struct kp_labels annotations;  /* annotations the NodeClaim gets from Create (AWS: the class hash) */
};

struct kp_cloud;

/* Something the cloud reports about an instance by itself (AWS: an
 * EventBridge message from the interruption queue). Strings live in the
 * arena passed to poll_events. */
enum kp_cloud_event_kind {
	KP_CLOUD_EV_SPOT_INTERRUPTED = 1,   /* spot interruption warning */
	KP_CLOUD_EV_REBALANCE,              /* rebalance recommendation (no action) */
	KP_CLOUD_EV_SCHEDULED_CHANGE,       /* AWS Health scheduled change */
	KP_CLOUD_EV_STOPPED,                /* state change: stopping/stopped */
	KP_CLOUD_EV_TERMINATED,             /* state change: shutting-down/terminated */
	KP_CLOUD_EV_RESERVATION_INTERRUPTED,/* capacity reservation interruption */
	KP_CLOUD_EV_UNPARSEABLE,            /* a message that could not be parsed (deleted) */
};

struct kp_cloud_event {
	enum kp_cloud_event_kind kind;
	const char *kind_name;          /* Karpenter's label: "spot_interrupted", "rebalance_recommendation", ... */
	const char *instance_id;        /* "i-..." */
	bool drain;                     /* Karpenter's CordonAndDrain: delete the NodeClaim gracefully */
};

/* A repair policy (Karpenter's cloudprovider.RepairPolicy): a Node whose
 * condition type has had this status for longer than the toleration is
 * unhealthy, and node repair replaces it. */
struct kp_cloud_repair_policy {
	const char *type;              /* Node condition type ("Ready", "KernelReady", ...) */
	const char *status;            /* "False", "Unknown" */
	int64_t toleration_ms;
};

/* A node class's hash as the provider writes it on the NodeClaims it
 * launches (AWS: karpenter.k8s.aws/ec2nodeclass-hash and -hash-version).
 * key[0] == 0: the provider keeps no hash for its node classes. */
struct kp_cloud_hash {
	char key[128], value[64];          /* hash annotation and its value */
	char version_key[128], version[32];/* hash-version annotation and its value */
};

struct kp_cloud_ops {
	int version;                   /* KP_CLOUD_VERSION */
	const char *name;              /* "fake", "aws" */
	/* Launches one instance for the claim: picks the cheapest available
	 * offering among the claim's instance-type requirement values that is
	 * compatible with its requirements (capacity type, zone, arch, ...). */
	enum kp_cloud_err (*create)(struct kp_cloud *cp, const struct kp_nodeclaim *claim, struct kp_arena *a,
				    struct kp_instance *out, struct kp_errbuf *eb);
	/* Terminates; KP_CLOUD_NOT_FOUND once the instance is gone. */
	enum kp_cloud_err (*delete)(struct kp_cloud *cp, const char *provider_id, struct kp_errbuf *eb);
	enum kp_cloud_err (*get)(struct kp_cloud *cp, const char *provider_id, struct kp_arena *a,
				 struct kp_instance *out, struct kp_errbuf *eb);
	/* Every instance this cluster owns (for garbage collection). */
	enum kp_cloud_err (*list)(struct kp_cloud *cp, struct kp_arena *a, struct kp_instance **out, int *n,
				  struct kp_errbuf *eb);
	/* Instance types (with offerings and availability) for a NodePool; the
	 * catalog stays owned by the provider and valid until the next call. */
	enum kp_cloud_err (*instance_types)(struct kp_cloud *cp, const struct kp_nodepool *np,
					    const struct kp_catalog **out, struct kp_errbuf *eb);
	/* Drift reason ("" = not drifted), written into reason (size n). */
	enum kp_cloud_err (*is_drifted)(struct kp_cloud *cp, const struct kp_nodeclaim *claim, char *reason,
					size_t n, struct kp_errbuf *eb);
	void (*destroy)(struct kp_cloud *cp);
	/* ---- optional (NULL when the provider has no such thing) ---- */
	/* Resolves one node class (the API object as JSON text) against the
	 * cloud and keeps the result for create and instance_types; *status
	 * gets the malloc'ed JSON text of the object's new status (without
	 * conditions) and *conds a JSON array of {type, status, reason,
	 * message} conditions, Ready included; the caller writes both back.
	 * KP_CLOUD_NODECLASS_NOT_READY when it resolved but is not usable. */
	enum kp_cloud_err (*nodeclass_reconcile)(struct kp_cloud *cp, const char *nodeclass_json, char **status,
						 char **conds, struct kp_errbuf *eb);
	/* Forgets a deleted node class. */
	void (*nodeclass_forget)(struct kp_cloud *cp, const char *name);
	/* Drains the events the cloud reported since the last call (never
	 * blocks: providers poll in their own thread). */
	enum kp_cloud_err (*poll_events)(struct kp_cloud *cp, struct kp_arena *a, struct kp_cloud_event **out, int *n,
					 struct kp_errbuf *eb);
	/* Karpenter's CloudProvider.RepairPolicies: the provider's table (valid
	 * until destroy, never blocks), its length in *n. Without it (or with
	 * *n 0) the provider has no repair policies: node repair does nothing. */
	const struct kp_cloud_repair_policy *(*repair_policies)(struct kp_cloud *cp, int *n);
	/* NodePools need no node class here: a missing or not yet reconciled
	 * class leaves a NodePool Ready (the simulated cloud launches without
	 * one). False: the class must exist and be Ready. */
	bool nodeclass_optional;
	/* The hash of one node class (the API object as JSON text), the one
	 * create puts on NodeClaims; from the object alone, no cloud call
	 * (cheap enough for the controller's loop thread). */
	enum kp_cloud_err (*nodeclass_hash)(struct kp_cloud *cp, const char *nodeclass_json, struct kp_cloud_hash *out,
					    struct kp_errbuf *eb);
	/* Tags a registered NodeClaim's instance as Karpenter's tagging
	 * controller does (AWS: Name = node_name, karpenter.sh/nodeclaim =
	 * claim_name, eks:eks-cluster-name = the cluster), leaving alone every
	 * one of those keys the instance already has (a user's Name stays).
	 * KP_CLOUD_NOT_FOUND when the instance is gone. */
	enum kp_cloud_err (*tag_instance)(struct kp_cloud *cp, const char *provider_id, const char *node_name,
					  const char *claim_name, struct kp_errbuf *eb);
	/* Removes what the provider created for node class name (the API
	 * object as JSON text) once it is being deleted and no NodeClaim
	 * uses it (AWS: its launch templates, the instance profile made from
	 * spec.role); idempotent, missing things are not errors. The
	 * controller removes the class's finalizer only after KP_CLOUD_OK;
	 * without this operation the class gets no finalizer. */
	enum kp_cloud_err (*nodeclass_finalize)(struct kp_cloud *cp, const char *name, const char *nodeclass_json,
						struct kp_errbuf *eb);
};

struct kp_cloud {
	const struct kp_cloud_ops *ops;
	void *impl;                    /* provider state */
};

const char *kp_cloud_err_str(enum kp_cloud_err e);

/* ---- helpers shared by providers and callers (src/cloud/cloud.c) ---- */

/* Writes a formatted message into eb (if not NULL; eb->code gets the
 * nearest kp_err: not found -> KP_ERR_NOTFOUND, insufficient capacity ->
 * KP_ERR_LIMIT, transient -> KP_ERR_IO, else KP_ERR_INVALID) and returns e. */
enum kp_cloud_err kp_cloud_errf(struct kp_errbuf *eb, enum kp_cloud_err e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "pending", "running", "terminating", "terminated", "stopped". */
const char *kp_instance_state_name(enum kp_instance_state s);
/* Deep copy of src into dst: strings, the label array and its strings are
 * allocated in a. KP_ERR_NOMEM (dst then zeroed). */
kp_err kp_instance_copy(struct kp_instance *dst, struct kp_arena *a, const struct kp_instance *src);

/* Calls through cp->ops. On failure eb always holds a message (the
 * provider's, or the error's name when the provider wrote none). */
enum kp_cloud_err kp_cloud_create(struct kp_cloud *cp, const struct kp_nodeclaim *claim, struct kp_arena *a,
				  struct kp_instance *out, struct kp_errbuf *eb);
enum kp_cloud_err kp_cloud_delete(struct kp_cloud *cp, const char *provider_id, struct kp_errbuf *eb);
enum kp_cloud_err kp_cloud_get(struct kp_cloud *cp, const char *provider_id, struct kp_arena *a,
			       struct kp_instance *out, struct kp_errbuf *eb);
enum kp_cloud_err kp_cloud_list(struct kp_cloud *cp, struct kp_arena *a, struct kp_instance **out, int *n,
				struct kp_errbuf *eb);
enum kp_cloud_err kp_cloud_instance_types(struct kp_cloud *cp, const struct kp_nodepool *np,
					  const struct kp_catalog **out, struct kp_errbuf *eb);
enum kp_cloud_err kp_cloud_is_drifted(struct kp_cloud *cp, const struct kp_nodeclaim *claim, char *reason, size_t n,
				      struct kp_errbuf *eb);
/* The optional operations; a provider without them: KP_CLOUD_OK with
 * nothing to do (status and conds NULL, *n 0). */
enum kp_cloud_err kp_cloud_nodeclass_reconcile(struct kp_cloud *cp, const char *nodeclass_json, char **status,
					       char **conds, struct kp_errbuf *eb);
void kp_cloud_nodeclass_forget(struct kp_cloud *cp, const char *name);
enum kp_cloud_err kp_cloud_poll_events(struct kp_cloud *cp, struct kp_arena *a, struct kp_cloud_event **out, int *n,
				       struct kp_errbuf *eb);
/* The provider's repair policies (cp->ops->repair_policies); NULL with *n
 * 0 when it has none or cp is NULL. */
const struct kp_cloud_repair_policy *kp_cloud_repair_policies(struct kp_cloud *cp, int *n);
/* cp->ops->nodeclass_optional; false for NULL cp. */
bool kp_cloud_nodeclass_optional(const struct kp_cloud *cp);
/* *out zeroed (key "") when the provider has no nodeclass_hash. */
enum kp_cloud_err kp_cloud_nodeclass_hash(struct kp_cloud *cp, const char *nodeclass_json, struct kp_cloud_hash *out,
					  struct kp_errbuf *eb);
enum kp_cloud_err kp_cloud_tag_instance(struct kp_cloud *cp, const char *provider_id, const char *node_name,
					const char *claim_name, struct kp_errbuf *eb);
/* cp->ops->nodeclass_finalize; KP_CLOUD_OK with nothing done when the
 * provider has none. */
enum kp_cloud_err kp_cloud_nodeclass_finalize(struct kp_cloud *cp, const char *name, const char *nodeclass_json,
					      struct kp_errbuf *eb);
/* Releases the provider and cp itself; NULL is a no-op. */
void kp_cloud_destroy(struct kp_cloud *cp);

#endif
