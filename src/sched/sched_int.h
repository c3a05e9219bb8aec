/*
 * sched_int.h - internals of the provisioning scheduler (src/sched/).
 *
 * Library-internal tier: everything here is prefixed kp_sched__ and used only by
 * the files of src/sched. The public contract is include/karpenter/sched.h.
 *
 * Two lifetimes:
 *   - struct kp_sched (the "prep") is built once per cluster + catalog and
 *     owns everything that does not change between simulations: templates,
 *     instance-type data, daemon overhead groups, existing nodes, topology
 *     keys and domains, topology groups with their counts from existing pods,
 *     and a cache of pod classes (pods with identical constraints). Classes
 *     and groups are created lazily, so a run may add to the prep: a
 *     kp_sched is not thread-safe.
 *   - struct kp_sched__run lives for one kp_sched_run(): per-run copies of the
 *     mutable state (existing nodes' remaining resources, new claims, group
 *     counts, pool limits) in the plan's arena. Tries allocate in the
 *     prep's scratch arena (warmed once) and reset it afterwards, so a
 *     failed try leaves nothing behind and mallocs nothing.
 *
 * Domain indices: each topology key interns its domain values. Indices below
 * key->ndom come from the prep; a run appends its own (claim hostnames) in
 * a per-run overlay (struct kp_sched__keyrun).
 */
#ifndef KP_SCHED_INT_H
#define KP_SCHED_INT_H

#include <stdint.h>

#include "karpenter/sched.h"
#include "karpenter/strmap.h"

struct kp_sched__run;

#define KPS_HOSTNAME_FMT "hostname-placeholder-%04d"
#define KPS_MAXOVER 32          /* topology keys one pod may touch in one try */

/* ---- strmap.c: string -> int over base's map (karpenter/strmap.h) in
 * arena mode: keys borrowed, the table from the arena given to put ---- */
struct kp_sched__strmap {
	struct kp_strmap m;         /* zeroed = empty */
};

/* Value for key, or -1. */
int kp_sched__strmap_get(const struct kp_sched__strmap *m, const char *key);
/* Inserts or replaces; KP_ERR_NOMEM on allocation failure. */
kp_err kp_sched__strmap_put(struct kp_sched__strmap *m, struct kp_arena *a, const char *key, int val);

/* ---- util.c: requirements and resources helpers ---- */
bool kp_sched__req_equal(const struct kp_req *a, const struct kp_req *b);
/* One key of Requirements.Compatible(rs, in): existing may be NULL (key
 * undefined in rs); allow_undef: key may be undefined (well known). */
bool kp_sched__req_compat_one(const struct kp_req *existing, const struct kp_req *incoming, bool allow_undef);
/* Copy of rs with r set (added or replaced, not intersected). */
kp_err kp_sched__reqs_with(struct kp_reqs *out, struct kp_arena *a, const struct kp_reqs *rs,
		     const struct kp_req *set, int nset);
/* Karpenter's resources.Fits: no negative entry in avail, req <= avail. */
bool kp_sched__res_fits(const struct kp_res *req, const struct kp_res *avail, int nres, int *bad);
/* "cpu 300m, memory 16Gi" (pods omitted) into buf. */
const char *kp_sched__res_str(const struct kp_res *r, const struct kp_resnames *rn, char *buf, size_t n);
/* Stable merge sort of n ints by cmp(ctx, a, b). */
void kp_sched__sort_ints(int *v, int n, int (*cmp)(void *ctx, int a, int b), void *ctx, int *tmp);

/* ---- template.c: NodePool -> NodeClaim template ---- */
struct kp_sched__dgroup {                 /* DaemonOverheadGroup */
	struct kp_res overhead;         /* RequestsForPods(daemons) incl. pods: n */
	bool has_overhead;
	struct kp_hostports ports;
	int ndaemons;
	int *daemons;                   /* indices into sched->daemons */
};

struct kp_sched__itype {                  /* one instance type of one template */
	const struct kp_itype *it;
	int dgroup;
	struct kp_res free;             /* allocatable - daemon overhead */
	bool never_fits;                /* some free entry < 0: overhead exceeds allocatable */
	uint64_t avail[KP_CAP_COUNT];   /* zones with an available offering, per capacity type */
	bool any_avail;
	uint8_t *offz;                  /* per offering: zone index, 255 = none/hidden */
};

struct kp_sched__tpl {
	const struct kp_nodepool *pool;
	const struct kp_catalog *cat;   /* the pool's instance types (kp_sched_input.pool_catalog) */
	bool own_cat;                   /* cat is the provider's answer for this pool */
	int pool_idx;                   /* in cluster->pools */
	const char *name;
	struct kp_reqs pool_reqs;       /* pool requirements */
	struct kp_reqs reqs;            /* + label requirements + registered/initialized */
	struct kp_labels labels;        /* template labels + karpenter.sh/nodepool */
	bool skipped;                   /* no compatible instance types */
	int ntypes;
	struct kp_sched__itype *types;        /* compatible types, catalog (name) order */
	int ndg;
	struct kp_sched__dgroup *dg;
	bool has_min_values;
	bool name_sorted;               /* types[] strictly ascending by name */
	/* limits */
	struct kp_res maxfree;          /* max over types of free */
	struct kp_res maxcap;           /* max over types of capacity */
	bool limited;                   /* any limit set */
	struct kp_res limit_rem;        /* remaining at prep (limit - existing capacity) */
	uint32_t limit_mask;
	bool has_node_limit;
	int64_t nodes_rem;
};

kp_err kp_sched__templates_build(struct kp_sched *s, struct kp_errbuf *eb);
/* SatisfiesMinValues over types[idx[0..n)] (idx NULL = the first n). */
bool kp_sched__min_values_ok(struct kp_arena *scratch, const struct kp_reqs *reqs, const struct kp_sched__itype *types,
		       const int *idx, int n, const char **bad_key);
/* Zone bitmask allowed by reqs (all ones when the key is undefined). */
uint64_t kp_sched__zone_mask(const struct kp_sched *s, const struct kp_reqs *reqs);
uint64_t kp_sched__ct_mask(const struct kp_reqs *reqs);
/* An available offering of t is compatible with the zone/capacity-type
 * masks (fast path) or with reqs (slow path, many zones). */
bool kp_sched__type_has_offering(const struct kp_sched *s, const struct kp_sched__itype *t, uint64_t zmask,
			   uint64_t cmask, const struct kp_reqs *reqs);
bool kp_sched__offering_visible(const struct kp_sched *s, const struct kp_itype *it, const struct kp_offering *o);
/* The cheapest visible offering of t allowed by the masks (fast path) or
 * reqs; ties by zone then capacity type. NULL if none. */
const struct kp_offering *kp_sched__type_cheapest(const struct kp_sched *s, const struct kp_sched__itype *t, uint64_t zmask,
					    uint64_t cmask, const struct kp_reqs *reqs);

/* ---- daemon.c ---- */
kp_err kp_sched__daemons_collect(struct kp_sched *s);
kp_err kp_sched__daemon_groups_build(struct kp_sched *s, struct kp_sched__tpl *t);
/* Daemon pods compatible with an existing node (taints, strict affinity). */
bool kp_sched__daemon_fits_node(const struct kp_sched *s, int d, const struct kp_taints *taints,
			  const struct kp_reqs *labels);

/* ---- podinfo.c: pod classes and relaxation variants ---- */
struct kp_sched__variant {                /* the pod after k relaxation steps */
	struct kp_reqs reqs;            /* PodData.Requirements */
	struct kp_reqs strict;          /* PodData.StrictRequirements */
	bool tol_pns;                   /* tolerates PreferNoSchedule taints */
	int ngroups;
	int *groups;                    /* owned topology groups, in creation order */
	int8_t *tol_tpl;                /* per template: -1 unknown, 0, 1 */
	const char *relaxed;            /* what the step to this variant removed */
};

struct kp_sched__class {
	const struct kp_pod *rep;       /* first pod seen with these constraints */
	int idx;
	int nvar;
	struct kp_sched__variant *var;
	int ninv;
	int *inv;                       /* inverse anti-affinity groups it owns */
	int nsel_cap;
	int8_t *sel;                    /* per group: -1 unknown, 0, 1 (selects rep) */
	bool has_ports;
	int nvol;                       /* volume topology alternatives (volumetopology.go), ORed; 0 = none */
	struct kp_reqs *vol;
	const char *vol_err;            /* a claim, volume or class it needs is missing */
	const char *sig;                /* signature (podinfo.c), siglen bytes in the arena */
	size_t siglen;
	uint64_t sighash;
};

/* Node selector + required term `term` (-1 = none) as requirements. */
kp_err kp_sched__pod_strict_reqs(struct kp_arena *a, const struct kp_pod *p, int term, struct kp_reqs *out);
kp_err kp_sched__class_for(struct kp_sched *s, const struct kp_pod *p, struct kp_sched__class **out, struct kp_errbuf *eb);
bool kp_sched__class_selects(struct kp_sched *s, struct kp_sched__class *c, int g);
bool kp_sched__variant_tolerates(struct kp_sched *s, struct kp_sched__variant *v, const struct kp_pod *p, int tpl,
			   struct kp_errbuf *eb);

/* ---- existing.c: existing nodes and in-flight NodeClaims ---- */
struct kp_sched__node {
	const struct kp_node *node;     /* NULL for an in-flight NodeClaim */
	const struct kp_nodeclaim *claim;
	int node_idx, claim_idx;        /* in the cluster, -1 if none */
	const char *name;
	const char *hostname;
	const struct kp_labels *labels; /* StateNode.Labels() */
	struct kp_taints taints;        /* StateNode.Taints() */
	struct kp_reqs reqs;            /* labels + hostname In [hostname] */
	struct kp_res avail;            /* allocatable - bound pods */
	struct kp_res daemon_need;      /* compatible daemons not yet bound */
	struct kp_res capacity;         /* incl. nodes: counted against limits */
	struct kp_hostports ports;
	bool initialized;
	bool deleting;
	int tpl;                        /* template of its pool, -1 if none */
};

kp_err kp_sched__existing_build(struct kp_sched *s, struct kp_errbuf *eb);
/* Cluster node index by name, -1. */
int kp_sched__node_index(const struct kp_sched *s, const char *name);

/* ---- topology.c: keys, domains, groups ---- */
enum kp_sched__gtype { KPS_SPREAD = 0, KPS_AFFINITY, KPS_ANTI };

struct kp_sched__topokey {
	const char *key;
	bool hostname;
	struct kp_sched__strmap ix;           /* domain -> index */
	int ndom, capdom;
	const char **dom;
	/* universe (buildDomainGroups): domains with pool taint sets */
	int nuni;
	int *uni;                       /* domain indices */
	bool *uni_untainted;
	uint64_t *uni_pools;            /* nuni x sched->tplwords bits */
	int *slot_dom;                  /* per existing slot: HostName()/label domain, -1 */
	int *reg_dom;                   /* per existing slot: label domain, -1 */
	int *node_dom;                  /* per cluster node: raw label domain, -1 */
};

struct kp_sched__contrib {                /* what one existing node adds to a group */
	int node_idx;                   /* cluster node index */
	int dom;                        /* domain its pods count in, -1 = none */
	int count;                      /* pods counted */
	int reg_dom;                    /* domain the node registers, -1 = none */
	const struct kp_pod *owner;     /* inverse groups: the owning pod */
};

struct kp_sched__group {
	enum kp_sched__gtype type;
	bool inverse;
	int key;                        /* topokey index */
	int32_t max_skew;
	int32_t min_domains;            /* 0 = unset */
	int nns;
	const char **ns;                /* sorted namespaces */
	const struct kp_selector *sel;
	int nextra;                     /* matchLabelKeys: label In|NotIn [value] */
	struct kp_selector_expr *extra;
	/* TopologyNodeFilter (spread only) */
	bool filter;
	bool honor_affinity, honor_taints;
	int nterms;
	struct kp_reqs *terms;
	bool filter_trivial;
	const struct kp_tolerations *tols;
	bool tol_pns;
	/* domains every run starts with (universe, filtered by creator's taints) */
	int nuni;
	int *uni;
	/* counts from existing pods, per node */
	int ncontrib;
	struct kp_sched__contrib *contrib;
	int inv_owners;                 /* inverse: existing pods owning it */
	const char *sig;
};

kp_err kp_sched__topokey_get(struct kp_sched *s, const char *key, int *out);
int kp_sched__dom_find(const struct kp_sched *s, int key, const char *value);
kp_err kp_sched__dom_intern(struct kp_sched *s, int key, const char *value, int *out);
/* Finds or creates the group for the given term; returns its index. */
struct kp_sched__gspec {
	enum kp_sched__gtype type;
	bool inverse;
	const char *key;
	const struct kp_pod *pod;       /* creator: namespace, tolerations, node filter */
	bool tol_pns;                   /* creator relaxed to tolerate PreferNoSchedule */
	const struct kp_selector *sel;
	int nextra;
	struct kp_selector_expr *extra;
	int nns;
	const char **ns;                /* resolved namespaces */
	int32_t max_skew, min_domains;
	enum kp_inclusion_policy affinity_policy, taints_policy;
	int nterms;                     /* creator's node filter terms */
	struct kp_reqs *terms;
};
kp_err kp_sched__group_get(struct kp_sched *s, const struct kp_sched__gspec *g, int *out, struct kp_errbuf *eb);
/* Namespaces of an affinity term (buildNamespaceList), sorted, in s->arena. */
kp_err kp_sched__term_namespaces(struct kp_sched *s, const struct kp_pod *p, const struct kp_pod_affinity_term *t,
			   int *nns, const char ***ns);
kp_err kp_sched__inverse_existing(struct kp_sched *s, struct kp_errbuf *eb);
bool kp_sched__group_selects(const struct kp_sched__group *g, const struct kp_pod *p);
/* TopologyNodeFilter.Matches; strict = existing node (no undefined keys). */
bool kp_sched__filter_matches(const struct kp_sched__group *g, const struct kp_taints *taints, const struct kp_reqs *reqs,
			bool strict);

/* ---- per-run state ---- */
struct kp_sched__keyrun {                 /* domains a run adds to a key */
	struct kp_sched__strmap ix;
	int n, cap;
	const char **dom;               /* index - key->ndom */
	int *sorted;                    /* all domains sorted by name (cache) */
	int nsorted;
};

struct kp_sched__gstate {
	bool active;
	int cap;
	int32_t *cnt;                   /* per domain: -1 absent, else pods counted */
	int nonzero;                    /* domains with cnt > 0 */
	int nzl, capzl;                 /* hostname anti-affinity: claims registered */
	int *zl;                        /* with count 0 (stale entries dropped lazily) */
};

struct kp_sched__nrun {                   /* an existing node during one run */
	bool removed;
	struct kp_reqs reqs;
	struct kp_res rem;              /* remaining resources */
	bool neg;                       /* some remaining entry < 0: nothing fits */
	struct kp_hostports ports;
	int npods, cap;
	const struct kp_pod **pods;
	int dom_host;                   /* hostname domain, -1 if no hostname key */
	const struct kp_req **kq;       /* reqs per topology key (kp_sched__keycache) */
};

struct kp_sched__claim {                  /* a new NodeClaim being built */
	int tpl;
	int idx;                        /* creation order, 0-based */
	const char *hostname;
	int dom_host;
	struct kp_reqs reqs;
	int ntypes;
	int *types;                     /* indices into tpl->types, ascending */
	struct kp_res req;              /* pods' requests (daemons excluded) */
	struct kp_res maxfree;          /* max over types of free */
	struct kp_res maxcap;           /* max over types of capacity */
	struct kp_hostports ports;      /* pods' host ports */
	uint64_t zmask, cmask;
	const struct kp_req **kq;       /* reqs per topology key (kp_sched__keycache) */
	int npods, cap;
	const struct kp_pod **pods;
};

struct kp_sched__pod {
	const struct kp_pod *pod;
	struct kp_sched__class *cls;
	struct kp_res req;              /* requests + pods: 1 */
	int last_len;                   /* queue length at last push, -1 = never */
	const char *err;                /* last failure (run arena) */
	int var_used;                   /* variant that placed it, -1 = none */
	bool placed;
};

/* Result of one placement try, before commit. */
struct kp_sched__try {
	int nover, capover;
	struct kp_req *over;            /* final requirement of every key that changes */
	int ntypes;                     /* claims: surviving types (scratch) */
	int *types;
};
kp_err kp_sched__try_set(struct kp_sched__run *r, struct kp_sched__try *t, const struct kp_req *req);

struct kp_sched__run {
	struct kp_sched *s;
	struct kp_plan *plan;
	struct kp_arena *a;             /* plan arena: survives the run */
	struct kp_arena *scratch;       /* the prep's; reset after each try and at the end */
	int nres;
	int nres_used;
	int res_used[KP_RES_MAX];
	struct kp_sched__keyrun *keys;        /* per topokey */
	struct kp_sched__gstate *gs;          /* per group */
	int ngs;
	int nkeys;                      /* topology keys at run start */
	int nnotes_cap;
	int nactive;
	int *active;                    /* active group indices */
	int ninv_active;
	int *inv_active;                /* active inverse groups */
	int host_key;                   /* topokey of kubernetes.io/hostname, -1 */
	int zone_key;                   /* topokey of topology.kubernetes.io/zone, -1 */
	int *zbit;                      /* zone-key domain -> bit in sched->zones, -1 */
	int8_t *tol;                    /* per template, for the variant being tried */
	struct kp_sched__nrun *nodes;
	int nclaims, capclaims;
	struct kp_sched__claim **claims;
	int *order;                     /* claims by (npods, idx) */
	struct kp_res *limit_rem;       /* per template */
	int64_t *nodes_rem;
	int npods;
	struct kp_sched__pod *pods;
	const char *next_host;          /* placeholder hostname of the next claim */
	const char **next_host_v;
	const bool *removed;            /* cluster node index -> removed */
	struct kp_buf err;              /* building one pod's failure reason */
	struct kp_sched__cost *cost;          /* cost packing mode state (pack_cost.c), NULL = Karpenter */
};

/* topology.c (per run) */
kp_err kp_sched__topo_run_init(struct kp_sched__run *r, struct kp_errbuf *eb);
int kp_sched__dom_find_run(const struct kp_sched__run *r, int key, const char *value);
kp_err kp_sched__dom_add_run(struct kp_sched__run *r, int key, const char *value, int *out);
const char *kp_sched__dom_name(const struct kp_sched__run *r, int key, int dom);
int kp_sched__dom_total(const struct kp_sched__run *r, int key);
kp_err kp_sched__gs_register(struct kp_sched__run *r, int g, int dom);
kp_err kp_sched__gs_record(struct kp_sched__run *r, int g, int dom, int delta);
/* Registers a hostname domain in every active group on the hostname key. */
kp_err kp_sched__topo_register_host(struct kp_sched__run *r, int dom, int claim);
/* Claims a pod may join as far as hostname anti-affinity goes (sorted by
 * try order, scratch), or NULL when every claim has to be tried. */
int *kp_sched__topo_host_candidates(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v, int *n);
/* Zones (bits of sched->zones) the pod's zone topology allows at all. */
uint64_t kp_sched__topo_zone_premask(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v);
const int *kp_sched__key_sorted(struct kp_sched__run *r, int key, int *n);

/* topogroup.c */
struct kp_sched__slot {                   /* where a pod is being tried */
	const struct kp_taints *taints;
	bool strict;                    /* existing node: no undefined keys */
	const char *hostname;           /* its hostname value (pointer identity) */
	int dom_host;                   /* its hostname domain, -1 unknown/new */
	int nkq;                        /* its requirement per topology key (NULL = */
	const struct kp_req *const *kq; /* none), valid for the reqs passed with it */
};
/* Fills kq[0..nkeys) with reqs' requirement per topology key. */
kp_err kp_sched__keycache(struct kp_sched__run *r, struct kp_arena *a, const struct kp_reqs *reqs, const struct kp_req ***kq);
/* Topology.AddRequirements: on success fills t->over with the narrowed keys;
 * on failure writes the reason into eb. */
bool kp_sched__topo_add_reqs(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v, const struct kp_sched__slot *slot,
		       const struct kp_reqs *node_reqs, struct kp_sched__try *t, struct kp_errbuf *eb);
/* Topology.Record after a pod landed with final requirements reqs. */
kp_err kp_sched__topo_record(struct kp_sched__run *r, struct kp_sched__pod *p, const struct kp_sched__slot *slot,
		       const struct kp_reqs *reqs);

/* claim.c */
bool kp_sched__claim_try(struct kp_sched__run *r, struct kp_sched__claim *c, struct kp_sched__pod *p, struct kp_sched__variant *v,
		   struct kp_sched__try *t, struct kp_errbuf *eb);
kp_err kp_sched__claim_commit(struct kp_sched__run *r, struct kp_sched__claim *c, struct kp_sched__pod *p, struct kp_sched__try *t);
/* A claim from template tpl that has not joined the run yet (scratch);
 * *ok false with eb set when limits leave it no instance type. */
kp_err kp_sched__claim_candidate(struct kp_sched__run *r, int tpl, struct kp_sched__claim *c, struct kp_errbuf *eb, bool *ok);
kp_err kp_sched__claim_materialize(struct kp_sched__run *r, const struct kp_sched__claim *cand, struct kp_sched__claim **out);
void kp_sched__claim_order_insert(struct kp_sched__run *r, struct kp_sched__claim *c);
void kp_sched__claim_order_bump(struct kp_sched__run *r, struct kp_sched__claim *c, int old_npods);
kp_err kp_sched__push_pod(struct kp_sched__run *r, int *n, int *cap, const struct kp_pod ***pods, const struct kp_pod *p);
/* Final requirements built from the claim's reqs and narrowed type set. */
kp_err kp_sched__claims_finalize(struct kp_sched__run *r, struct kp_errbuf *eb);

/* existing.c (per run) */
kp_err kp_sched__existing_run_init(struct kp_sched__run *r);
bool kp_sched__node_try(struct kp_sched__run *r, int n, struct kp_sched__pod *p, struct kp_sched__variant *v, struct kp_sched__try *t);
kp_err kp_sched__node_commit(struct kp_sched__run *r, int n, struct kp_sched__pod *p, struct kp_sched__try *t);
bool kp_sched__inflight_quick(const struct kp_sched__run *r, const struct kp_sched__claim *c,
			      const struct kp_sched__pod *p, uint64_t zones);

/* limits.c */
void kp_sched__limits_prep(struct kp_sched *s);
kp_err kp_sched__limits_run_init(struct kp_sched__run *r);
/* Fails (eb) when the pool's node limit is exhausted. */
bool kp_sched__limits_allow_claim(struct kp_sched__run *r, int tpl, struct kp_errbuf *eb);
/* Every type of the template fits the remaining limits. */
bool kp_sched__limits_all_ok(const struct kp_sched__run *r, int tpl);
bool kp_sched__limits_type_ok(const struct kp_sched__run *r, int tpl, const struct kp_sched__itype *t);
void kp_sched__limits_charge(struct kp_sched__run *r, struct kp_sched__claim *c);
void kp_sched__limits_explain(struct kp_sched__run *r, int tpl, struct kp_errbuf *eb);

/* queue.c */
struct kp_sched__queue {
	int *ring;
	int cap, head, len;
};
kp_err kp_sched__queue_init(struct kp_sched__queue *q, struct kp_sched__run *r);
int kp_sched__queue_pop(struct kp_sched__queue *q, struct kp_sched__run *r);   /* -1 = done */
void kp_sched__queue_push(struct kp_sched__queue *q, struct kp_sched__run *r, int pod);

/* explain.c */
kp_err kp_sched__note(struct kp_sched__run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
kp_err kp_sched__prep_note(struct kp_sched *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
kp_err kp_sched__notes_prep(struct kp_sched__run *r);
kp_err kp_sched__notes_relaxed(struct kp_sched__run *r);
/* Appends "nodepool "x": <eb>" to the pod's failure text. */
void kp_sched__reason_add(struct kp_sched__run *r, const char *pool, const char *msg);
/* Which of requirements (c), resources (f), offerings (o) no type met, alone
 * or in pairs (cf: some type met c and f, ...); ports: daemon port clash. */
void kp_sched__filter_reason(struct kp_sched__run *r, int tpl, const struct kp_res *requests, bool c, bool f, bool o,
		       bool cf, bool co, bool fo, bool ports, struct kp_errbuf *eb);

/* pack_cost.c: the cost packing mode (docs/packing.md) */
struct kp_sched__cost;
kp_err kp_sched__run_once(struct kp_sched *s, const bool *node_removed, const struct kp_pod *const *pods, int npods,
		    struct kp_plan *plan, bool cost, struct kp_errbuf *eb);
/* Plans the run's fleet and the pods' bins; leaves r->cost NULL when no
 * NodePool packs for cost. */
kp_err kp_sched__cost_run_init(struct kp_sched__run *r, struct kp_errbuf *eb);
/* Places one pod in cost mode (replaces existing/in-flight/new tries). */
/* The catalog of the NodePool named pool (its template's), else s->cat. */
const struct kp_catalog *kp_sched__pool_cat(const struct kp_sched *s, const char *pool);
bool kp_sched__cost_place(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v, kp_err *rc);

/* ---- the prepared scheduler ---- */
struct kp_sched {
	struct kp_arena arena;
	const struct kp_cluster *cl;
	const struct kp_catalog *cat;
	struct kp_sched_opts opts;
	bool (*hidden)(void *ctx, const struct kp_itype *it, const struct kp_offering *o);
	void *hidden_ctx;
	const bool *no_moves;           /* kp_sched_input.node_no_moves */
	const struct kp_catalog *(*pool_catalog)(void *ctx, const struct kp_nodepool *np);
	void *pool_catalog_ctx;
	bool win_variants;              /* the catalog has Windows variants (catalog/windows.c) */
	int nres;
	/* zones of the catalog's offerings */
	int nzones;
	const char **zones;
	struct kp_sched__strmap zone_ix;
	bool zone_fast;                 /* nzones <= 64: bitmask path */
	/* templates, in weight order */
	int ntpl;
	struct kp_sched__tpl *tpl;
	int tplwords;                   /* uint64 words per pool bitset */
	bool any_pns;                   /* some pool taint is PreferNoSchedule */
	int nprep_notes;
	const char **prep_notes;
	/* daemon pods (one per DaemonSet) */
	int ndaemons;
	const struct kp_pod **daemons;
	/* existing nodes and in-flight claims, initialized first then by name */
	int nnodes;
	struct kp_sched__node *nodes;
	int *slot_of_node;              /* cluster node index -> slot, -1 */
	struct kp_sched__strmap node_ix;      /* node name -> cluster node index */
	/* topology */
	int nkeys, capkeys;
	struct kp_sched__topokey *keys;
	struct kp_sched__strmap key_ix;
	int ngroups, capgroups;
	struct kp_sched__group **groups;
	struct kp_sched__strmap group_ix;
	int ninv_exist;
	int *inv_exist;                 /* inverse groups from existing pods */
	bool inv_done;
	int host_key;                   /* topokey index of kubernetes.io/hostname, -1 */
	struct kp_reqs **node_lreqs;    /* per cluster node: label requirements (lazy) */
	int *pod_node;                  /* per cluster pod: node index, -1 */
	/* pod classes */
	int nclasses, capclasses;
	struct kp_sched__class **classes;
	int32_t *class_tab;             /* podinfo.c: open addressing, class index + 1, 0 empty */
	size_t class_tabcap;            /* power of two, 0 = none yet */
	struct kp_buf sigbuf;           /* scratch for class signatures */
	struct kp_arena scratch;        /* runs' scratch: warmed once, reset after every try */
	struct kp_arena_mark scratch0;  /* its empty position */
	const struct kp_reqs **daemon_reqs; /* per daemon: strict requirements per required term */
	int8_t resv_known;              /* plan.c: 0 not looked, 1 no reserved offering in the catalog, 2 some */
	struct kp_sched__cost_kinds *cost_kinds; /* pack_cost.c: the cost templates' node kinds, on first use */
};

#endif
