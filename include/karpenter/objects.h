/*
 * objects.h - the Kubernetes and Karpenter objects the engine reasons about,
 * decoded into plain structs (no JSON or YAML types).
 *
 * Everything here lives in the arena of the struct kp_cluster that holds it;
 * strings and arrays are borrowed from that arena. Times are unix seconds,
 * durations milliseconds (KP_NEVER for "Never"/unset where noted).
 */
#ifndef KARPENTER_OBJECTS_H
#define KARPENTER_OBJECTS_H

#include "karpenter/base.h"
#include "karpenter/labels.h"
#include "karpenter/requirements.h"
#include "karpenter/resources.h"
#include "karpenter/selector.h"
#include "karpenter/taints.h"

#define KP_NEVER INT64_MAX

/* ---- pods ---- */

struct kp_node_selector_term {          /* one term: AND of requirements */
	struct kp_reqs reqs;
};

struct kp_preferred_term {
	int weight;
	struct kp_reqs reqs;
};

struct kp_pod_affinity_term {
	int weight;                         /* preferred terms only, else 0 */
	const struct kp_selector *selector; /* NULL = matches nothing */
	int nnamespaces;
	const char **namespaces;            /* empty + no ns_selector = pod's own namespace */
	const struct kp_selector *ns_selector;  /* NULL = not set; empty = all namespaces */
	const char *topology_key;
	int nmatch_label_keys;
	const char **match_label_keys;
	int nmismatch_label_keys;
	const char **mismatch_label_keys;
};

enum kp_when_unsat { KP_DO_NOT_SCHEDULE = 0, KP_SCHEDULE_ANYWAY };
enum kp_inclusion_policy { KP_POLICY_HONOR = 0, KP_POLICY_IGNORE };

struct kp_tsc {                         /* topologySpreadConstraints[] */
	int max_skew;
	const char *topology_key;
	enum kp_when_unsat when_unsatisfiable;
	const struct kp_selector *selector; /* NULL = matches nothing */
	int min_domains;                    /* 0 = unset */
	int nmatch_label_keys;
	const char **match_label_keys;
	enum kp_inclusion_policy node_affinity_policy;  /* default Honor */
	enum kp_inclusion_policy node_taints_policy;    /* default Ignore */
};

struct kp_pod {
	const char *ns;
	const char *name;
	const char *uid;
	int64_t created;                    /* creationTimestamp */
	int64_t deleting;                   /* deletionTimestamp, 0 = not deleting */
	struct kp_labels labels;
	struct kp_labels annotations;
	const char *node_name;              /* spec.nodeName, NULL = pending */
	const char *phase;                  /* status.phase, NULL = Pending */
	const char *owner_kind;             /* controller ownerReference kind, or NULL */
	const char *owner_name;
	bool is_daemon;                     /* owned by a DaemonSet */
	bool is_mirror;                     /* kubernetes.io/config.mirror annotation */
	int32_t priority;
	const char *priority_class;
	int64_t deletion_cost;              /* controller.kubernetes.io/pod-deletion-cost */
	int64_t termination_grace_s;        /* spec.terminationGracePeriodSeconds, default 30 */

	struct kp_res requests;             /* effective requests incl. overhead, without pods:1 */
	struct kp_res limits;

	struct kp_labels node_selector;
	int nrequired_terms;                /* requiredDuringScheduling nodeSelectorTerms (OR) */
	struct kp_node_selector_term *required_terms;
	int npreferred_terms;
	struct kp_preferred_term *preferred_terms;

	struct kp_tolerations tolerations;
	struct kp_hostports host_ports;

	int naffinity, npref_affinity, nanti, npref_anti;
	struct kp_pod_affinity_term *affinity;        /* required pod affinity */
	struct kp_pod_affinity_term *pref_affinity;   /* preferred, weight set */
	struct kp_pod_affinity_term *anti;            /* required anti-affinity */
	struct kp_pod_affinity_term *pref_anti;       /* preferred anti-affinity */

	int ntsc;
	struct kp_tsc *tsc;

	int nvolumes;                       /* volumes that are claims (PVC or ephemeral) */
	struct kp_pod_volume *volumes;
};

/* A pod volume backed by a PersistentVolumeClaim: volumes[].persistentVolumeClaim
 * (claim = claimName) or volumes[].ephemeral (claim = "<pod>-<volume>", the
 * generic ephemeral volume's PVC, with the template's storageClassName). */
struct kp_pod_volume {
	const char *name;
	const char *claim;
	bool ephemeral;
	bool claim_template;                /* a StatefulSet volumeClaimTemplate's claim "<template>-<sts>-<ordinal>":
					     * while it does not exist, template_sc decides */
	const char *template_sc;            /* ephemeral or claim_template: the template's storageClassName, NULL = unset */
};

/* ---- storage (Karpenter's volumetopology.go inputs) ---- */

struct kp_storageclass {
	const char *name;
	const char *provisioner;
	bool wait_for_first_consumer;       /* volumeBindingMode WaitForFirstConsumer */
	bool has_topology;                  /* allowedTopologies set */
	struct kp_reqs topology;            /* allowedTopologies[0] as key In [values] */
	int nterms;                         /* every allowedTopologies term (ORed); terms[0] == topology */
	struct kp_reqs *terms;
};

struct kp_pvc {
	const char *ns;
	const char *name;
	const char *storage_class;          /* spec.storageClassName, NULL = unset */
	const char *volume_name;            /* spec.volumeName, NULL = unbound */
};

struct kp_pv {
	const char *name;
	bool has_affinity;
	struct kp_reqs affinity;            /* nodeAffinity.required nodeSelectorTerms[0] */
	int nterms;                         /* every nodeSelectorTerm (ORed); terms[0] == affinity */
	struct kp_reqs *terms;
};

/* One container's resources, for computing a pod's effective requests. */
struct kp_container_res {
	struct kp_res requests;
	struct kp_res limits;
	bool restartable;                   /* init container with restartPolicy Always (sidecar) */
};

/* Effective requests as k8s resourcehelper.PodRequests computes them
 * (without pod-level resources):
 *   - per container and resource, the request defaults to the limit when the
 *     request is 0 (unset) and a limit is set;
 *   - running = sum(containers) + sum(sidecars), a sidecar being an init
 *     container with restartable set;
 *   - for each init container i in order: a regular one needs its request +
 *     the sidecars before it; a sidecar needs the sidecars up to itself;
 *   - result = entrywise max(running, every init need) + overhead (NULL = none).
 * pods:1 is not added. Returns false on overflow (entries saturate). */
bool kp_pod_effective_requests(const struct kp_container_res *containers, int ncontainers,
			       const struct kp_container_res *inits, int ninits,
			       const struct kp_res *overhead, struct kp_res *out);

/* True for a pod the provisioner must find room for: no nodeName, not a
 * DaemonSet pod, not a mirror pod, not terminal, not deleting. */
bool kp_pod_is_pending(const struct kp_pod *p);
/* True if phase is Succeeded or Failed. */
bool kp_pod_is_terminal(const struct kp_pod *p);
/* "ns/name" into buf (just "name" when ns is NULL or empty); returns buf. */
const char *kp_pod_key(const struct kp_pod *p, char *buf, size_t n);
/* The one karpenter.sh/do-not-disrupt rule for pods (Karpenter's
 * pod.HasDoNotDisrupt, with the duration form): the annotation value v
 * (NULL = absent) protects a pod created at created_ms while v is "true",
 * or a positive Go duration d and now_ms < created_ms + d; any other value
 * is ignored. Asked by the disruption planner (kp_pod_do_not_disrupt) and
 * the termination controller's drain (src/ctrl/termination.c). */
bool kp_pod_do_not_disrupt_value(const char *v, int64_t created_ms, int64_t now_ms);
/* That rule on p's annotation at now (unix seconds, as p->created). Whether
 * the pod is active is the caller's question. */
bool kp_pod_do_not_disrupt(const struct kp_pod *p, int64_t now);

/* ---- namespaces ---- */
struct kp_namespace {
	const char *name;
	struct kp_labels labels;
};

/* ---- nodes and NodeClaims ---- */

enum kp_captype { KP_CAP_ON_DEMAND = 0, KP_CAP_SPOT, KP_CAP_RESERVED, KP_CAP_COUNT };
const char *kp_captype_name(enum kp_captype c);
int kp_captype_parse(const char *s);   /* -1 if unknown */

struct kp_nodeclaim;

struct kp_node {
	const char *name;
	const char *provider_id;
	int64_t created;
	int64_t deleting;                   /* deletionTimestamp, 0 = not */
	struct kp_labels labels;
	struct kp_labels annotations;
	struct kp_taints taints;
	struct kp_res capacity;
	struct kp_res allocatable;
	bool ready;                         /* Ready condition True (default true if absent) */
	bool unschedulable;                 /* spec.unschedulable */
	struct kp_nodeclaim *claim;         /* resolved by kp_cluster_link, may be NULL */
};

struct kp_nodeclaim {
	const char *name;
	const char *nodepool;               /* karpenter.sh/nodepool label */
	int64_t created;
	int64_t deleting;
	struct kp_labels labels;
	struct kp_labels annotations;
	struct kp_reqs reqs;
	struct kp_res requests;             /* spec.resources.requests */
	struct kp_taints taints;
	struct kp_taints startup_taints;
	int64_t expire_after_ms;            /* KP_NEVER = never */
	const char *node_class;             /* spec.nodeClassRef.name, NULL if absent */
	/* status */
	const char *node_name;
	const char *provider_id;
	struct kp_res capacity;
	struct kp_res allocatable;
	bool launched, registered, initialized;
	int64_t last_pod_event;             /* status.lastPodEventTime, 0 = unset */
	bool drifted;                       /* Drifted condition True (set by a cloud provider) */
	int64_t initialized_at;             /* Initialized condition's lastTransitionTime (unix s), 0 = unset */
	struct kp_node *node;               /* resolved by kp_cluster_link, may be NULL */
};

/* ---- NodePools ---- */

enum kp_consolidation_policy {
	KP_CONSOLIDATE_WHEN_EMPTY_OR_UNDERUTILIZED = 0,
	KP_CONSOLIDATE_WHEN_EMPTY,
	KP_CONSOLIDATE_BALANCED,
};

enum { KP_REASON_EMPTY = 1, KP_REASON_UNDERUTILIZED = 2, KP_REASON_DRIFTED = 4, KP_REASON_ALL = 7 };

struct kp_budget {
	bool percent;                       /* nodes is a percentage */
	int64_t nodes;
	const char *schedule;               /* cron, NULL = always active */
	int64_t duration_ms;                /* with schedule */
	unsigned reasons;                   /* KP_REASON_* mask; 0 = all */
};

struct kp_nodeclass_ref {
	const char *group;                  /* v1 group or derived from v1beta1 apiVersion */
	const char *kind;
	const char *name;
};

/* The kubelet settings that change an instance type's pods and allocatable:
 * EC2NodeClass spec.kubelet (v1), NodePool spec.template.spec.kubelet
 * (v1beta1). Maps hold the quantity strings as given (eviction values may
 * be percentages); applied by kp_itype_aws_kubelet (src/catalog/kubelet.c). */
struct kp_kubelet {
	bool set;                           /* a kubelet object was given */
	int64_t max_pods;                   /* 0 = unset */
	int64_t pods_per_core;              /* 0 = unset */
	struct kp_labels kube_reserved;     /* cpu, memory, ephemeral-storage (pid ignored) */
	struct kp_labels system_reserved;
	struct kp_labels eviction_hard;     /* memory.available, nodefs.available */
	struct kp_labels eviction_soft;
};

struct kp_nodepool {
	const char *name;
	const char *api_version;            /* "karpenter.sh/v1" or "karpenter.sh/v1beta1" */
	int64_t created;
	int32_t weight;                     /* 0 when unset */
	struct kp_labels labels;            /* spec.template.metadata.labels */
	struct kp_labels annotations;       /* spec.template.metadata.annotations */
	struct kp_labels meta_annotations;  /* the NodePool's own metadata.annotations */
	struct kp_reqs reqs;                /* spec.template.spec.requirements (with minValues) */
	struct kp_taints taints;
	struct kp_taints startup_taints;
	struct kp_nodeclass_ref node_class;
	int64_t expire_after_ms;            /* v1 template expireAfter; KP_NEVER = Never */
	int64_t termination_grace_ms;       /* KP_NEVER = unset */
	/* limits: limit_mask bit i = resources.v[i] is limited; nodes separately */
	struct kp_res limits;
	uint32_t limit_mask;
	bool has_node_limit;
	int64_t node_limit;
	/* disruption */
	enum kp_consolidation_policy policy;
	int64_t consolidate_after_ms;       /* KP_NEVER = Never */
	bool v1beta1_expiry;                /* expireAfter came from v1beta1 disruption.expireAfter */
	int nbudgets;
	struct kp_budget *budgets;          /* none given = default 10% */
	/* v1beta1 kubelet settings that change allocatable (0 = unset) */
	int64_t kubelet_max_pods;
	struct kp_kubelet kubelet;          /* v1beta1 spec.template.spec.kubelet */
	const char *hash;                   /* template hash for drift detection */
	/* status, if present in input */
	struct kp_res status_resources;
};

/* ---- other inputs ---- */

struct kp_daemonset {
	const char *ns;
	const char *name;
	struct kp_pod tmpl;                 /* decoded pod template (requests, affinity, tolerations) */
};

struct kp_pdb {
	const char *ns;
	const char *name;
	const struct kp_selector *selector; /* NULL matches nothing */
	bool has_min_available, has_max_unavailable;
	bool min_percent, max_percent;
	int64_t min_available, max_unavailable;
	bool has_status;                    /* status.disruptionsAllowed given */
	int64_t disruptions_allowed;
};

/* The disruption controller's budget arithmetic (src/model/pdb.c), for the
 * spec fields of pdb (its status is not looked at). */
/* An IntOrString value v (a percentage when percent) against total:
 * percentages round up; 0 for a percentage of nothing. */
int64_t kp_pdb_scaled(int64_t v, bool percent, int64_t total);
/* True when "expected" is the scale of the pods' controllers
 * (maxUnavailable, or a percentage minAvailable), false when it is the
 * number of matching pods (an integer minAvailable, or neither field). */
bool kp_pdb_needs_scale(const struct kp_pdb *pdb);
/* desiredHealthy and disruptionsAllowed for expected pods of which
 * healthy are healthy: allowed = healthy - desired, 0 when negative, when
 * nothing is expected or when the budget has neither field. */
void kp_pdb_allowed(const struct kp_pdb *pdb, int64_t expected, int64_t healthy, int64_t *desired, int64_t *allowed);

/* One EC2NodeClass subnetSelectorTerms entry: id, or tags (all must
 * match; a value "*" matches any). */
struct kp_subnet_term {
	const char *id;                     /* NULL = select by tags */
	struct kp_labels tags;
};

struct kp_nodeclass {
	const char *name;
	const char *api_version;
	const char *ami_family;
	int64_t kubelet_max_pods;           /* v1 spec.kubelet.maxPods, 0 = unset */
	int64_t pods_per_core;
	struct kp_kubelet kubelet;          /* v1 spec.kubelet */
	int nsubnet_terms;                  /* spec.subnetSelectorTerms; 0 = none given */
	struct kp_subnet_term *subnet_terms;
};

/* The world one simulation sees. Owns its arena; kp_cluster_free releases all. */
struct kp_cluster {
	struct kp_arena arena;
	struct kp_resnames resnames;
	int npods, nnodes, nclaims, npools, ndaemonsets, npdbs, nnamespaces, nnodeclasses;
	struct kp_pod **pods;
	struct kp_node **nodes;
	struct kp_nodeclaim **claims;
	struct kp_nodepool **pools;
	struct kp_daemonset **daemonsets;
	struct kp_pdb **pdbs;
	struct kp_namespace **namespaces;
	struct kp_nodeclass **nodeclasses;
	int nstorageclasses, npvcs, npvs;
	struct kp_storageclass **storageclasses;
	struct kp_pvc **pvcs;
	struct kp_pv **pvs;
	int cap_storageclasses, cap_pvcs, cap_pvs;
	bool volumes_unknown;               /* storage objects not known (controller informers not synced) */
	int cap_pods, cap_nodes, cap_claims, cap_pools, cap_daemonsets, cap_pdbs, cap_namespaces, cap_nodeclasses;
};

void kp_cluster_init(struct kp_cluster *c);
void kp_cluster_free(struct kp_cluster *c);
/* Append objects (allocated by the caller in c->arena). */
kp_err kp_cluster_add_pod(struct kp_cluster *c, struct kp_pod *p);
kp_err kp_cluster_add_node(struct kp_cluster *c, struct kp_node *n);
kp_err kp_cluster_add_claim(struct kp_cluster *c, struct kp_nodeclaim *nc);
kp_err kp_cluster_add_pool(struct kp_cluster *c, struct kp_nodepool *np);
kp_err kp_cluster_add_daemonset(struct kp_cluster *c, struct kp_daemonset *ds);
kp_err kp_cluster_add_pdb(struct kp_cluster *c, struct kp_pdb *pdb);
kp_err kp_cluster_add_namespace(struct kp_cluster *c, struct kp_namespace *ns);
kp_err kp_cluster_add_nodeclass(struct kp_cluster *c, struct kp_nodeclass *nc);
kp_err kp_cluster_add_storageclass(struct kp_cluster *c, struct kp_storageclass *sc);
kp_err kp_cluster_add_pvc(struct kp_cluster *c, struct kp_pvc *pvc);
kp_err kp_cluster_add_pv(struct kp_cluster *c, struct kp_pv *pv);
const struct kp_storageclass *kp_cluster_storageclass(const struct kp_cluster *c, const char *name);
const struct kp_pvc *kp_cluster_pvc(const struct kp_cluster *c, const char *ns, const char *name);
const struct kp_pv *kp_cluster_pv(const struct kp_cluster *c, const char *name);
/* Lookups (linear or indexed; NULL if absent). */
struct kp_node *kp_cluster_node(const struct kp_cluster *c, const char *name);
struct kp_nodepool *kp_cluster_pool(const struct kp_cluster *c, const char *name);
const struct kp_namespace *kp_cluster_namespace(const struct kp_cluster *c, const char *name);
/* Resolves node <-> NodeClaim links: clears every link, then pairs each
 * claim (in order) with the first unlinked node of equal providerID, then
 * the remaining claims by status.nodeName == node name, unless both sides
 * carry (different) providerIDs. Sets node->claim and claim->node. */
void kp_cluster_link(struct kp_cluster *c);

#endif
