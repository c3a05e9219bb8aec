/*
 * kcm_int.h - internals shared by the files of src/kcm: the controllers'
 * caches (pods, nodes, workload objects), the string map they are kept in,
 * and the helpers every controller uses (writes, status updates, owned
 * pods). core.c runs the loop; deployment.c, replicaset.c, statefulset.c,
 * daemonset.c, job.c reconcile one kind each; sched.c binds pods (the
 * scheduler), runs them (the kubelet stand-in) and makes Nodes for the
 * simulated cloud's instances; pdb.c keeps PodDisruptionBudgets' status.
 */
#ifndef KARPENTER_KCM_INT_H
#define KARPENTER_KCM_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "apiserver/server.h"
#include "karpenter/base.h"
#include "karpenter/cloud.h"
#include "karpenter/objects.h"
#include "karpenter/strmap.h"
#include "kcm/kcm.h"
#include "kobj/kobj.h"

/* The caches are kept in base's string map (karpenter/strmap.h, malloc
 * mode: keys copied, values owned by the caches). kp_kcm__map_put sets key
 * and returns the previous value (NULL, and nothing stored, when out of
 * memory, which the controllers treat like an absent entry). */
static inline void *kp_kcm__map_put(struct kp_strmap *m, const char *key, void *val)
{
	void *old = NULL;
	kp_strmap_put(m, key, val, &old);
	return old;
}

/* A pod as the controllers see it (compact: 10,000s of them). */
struct kp_kcm__pod {
	char *key;                  /* "ns/name" */
	char *ns, *name, *uid;
	char *owner_kind, *owner_name, *owner_uid;   /* controller ownerReference, or NULL */
	char *node;                 /* spec.nodeName or NULL */
	char *text;                 /* JSON, kept only while pending or not yet started */
	char *unsched_msg;          /* PodScheduled=False message we last wrote/saw */
	char *acct_node;            /* node its requests are counted on */
	int64_t rv, created;
	int64_t grace;              /* deletionGracePeriodSeconds while terminating, else 0 */
	int64_t term_at;            /* kp_kcm__now_ms() the kubelet stand-in deletes it at (0: not due) */
	int32_t prio;
	bool deleting, terminal, running, ready, other_sched;
	bool succeeded;             /* phase Succeeded (terminal) */
	bool job_fin;               /* carries batch.kubernetes.io/job-tracking */
	int exit_code;              /* of its simulated containers, when they end */
	int64_t run_wall;           /* wall ms the kubelet stand-in started it (0: unknown) */
	struct kp_res req;          /* well-known resources, pods:1 included */
	int nports;
	struct kp_hostport *ports;  /* ip strings malloc'ed */
};

struct kp_kcm__node {
	char *name;
	struct kp_cluster c;        /* owns n */
	struct kp_node *n;          /* NULL: pods name a Node that does not exist */
	char *host_ip;
	char *uid;
	int64_t rv;
	struct kp_res used;
	struct kp_strmap pods;     /* keys of pods counted on it */
};

struct kp_kcm__obj {             /* deployments, replicasets, ... */
	json_t *o;
	int64_t rv;
};

enum kp_kcm__kind { CK_DEPLOY, CK_RS, CK_SS, CK_DS, CK_JOB, CK_CRONJOB, CK_NKINDS };
/* Timers that are not a kind's reconcile (kp_kcm__requeue_at). */
enum { KP_KCM__T_POD_END = CK_NKINDS, KP_KCM__T_LEASES };

struct kp_kcm__pdbc;   /* the disruption controller (pdb.c) */

struct kp_kcm {
	struct kp_apiserver *L;
	pthread_t th;
	bool running;
	struct kp_store_watch *w;
	struct kp_cloud *cloud;
	pthread_mutex_t cloud_mu;
	int64_t next_cloud_list;     /* a provider other than the simulated cloud: next List (ms) */
	struct kp_strmap pods, nodes, tomb;
	struct kp_strmap objs[CK_NKINDS];
	struct kp_strmap dirty[CK_NKINDS];
	struct kp_strmap owned;    /* owner uid -> struct kp_strmap * (set of pod keys) */
	struct kp_strmap owned_rs; /* deployment uid -> set of ReplicaSet keys */
	struct kp_strmap pending;  /* pods waiting for a node */
	struct kp_strmap sched_dirty, kubelet_dirty;
	struct kp_strmap terminating;   /* pods with a term_at (kubelet stand-in) */
	int64_t next_term;          /* the earliest term_at (0: none) */
	int64_t grace_cap_ms;       /* longest wait of a terminating pod (INT64_MAX: none) */
	bool sched_all;
	uint32_t ip_seq;
	int64_t next_cloud_poll;
	struct kp_strmap timers;   /* "what\x1fkey" -> wake-up (lease.c) */
	int64_t next_timer;         /* the earliest (0: none) */
	bool lease_ns;              /* kube-node-lease exists */
	bool spec_kept;             /* the own writes being fed to the caches change no pod's
	                             * containers (bindings, status): requests are not decoded again */
	struct kp_kcm__pdbc *pdb;   /* the disruption controller (pdb.c), owned */
};

/* core.c */
int64_t kp_kcm__now_ms(void);
void kp_kcm__mark(struct kp_kcm *C, struct kp_strmap *set, const char *key);
/* Creates an object the way the REST layer does (uid, timestamps,
 * generateName, defaulting) and feeds it to the caches. */
enum kp_store_rc kp_kcm__create(struct kp_kcm *C, const char *group, const char *version, const char *resource,
			       json_t *obj, struct kp_errbuf *eb);
/* kp_kcm__create for n objects of one resource in one store batch (one
 * transaction, one fsync); rcs[i] gets each one's result, eb the first
 * failure's message. */
void kp_kcm__create_batch(struct kp_kcm *C, const char *group, const char *version, const char *resource,
			  json_t **objs, size_t n, enum kp_store_rc *rcs, struct kp_errbuf *eb);
/* Writes ws[0..n) with kp_store_write_batch (want_text is set on each) and
 * feeds every successful write to the caches as its watch event would;
 * each ws[i].rc says how it went, eb gets the first failure's message. */
void kp_kcm__write_batch(struct kp_kcm *C, struct kp_store_write *ws, size_t n, struct kp_errbuf *eb);
/* Deletes (Background) and forgets the object. */
enum kp_store_rc kp_kcm__delete(struct kp_kcm *C, const char *group, const char *resource, const char *ns,
			       const char *name, struct kp_errbuf *eb);
/* Records that the scheduler bound p to node (before the event arrives). */
void kp_kcm__pod_bound(struct kp_kcm *C, struct kp_kcm__pod *p, const char *node);
/* Undoes kp_kcm__pod_bound when the binding was not written: p is pending
 * again with text (taken; the pod's JSON as p->rv has it). */
void kp_kcm__pod_unbound(struct kp_kcm *C, struct kp_kcm__pod *p, char *text);
/* sched.c */
/* Fills p->req (pods: 1 included) and p->ports from the pod object obj. */
void kp_kcm__pod_decode(struct kp_kcm__pod *p, const json_t *obj);
void kp_kcm__schedule(struct kp_kcm *C);
void kp_kcm__kubelet(struct kp_kcm *C);
void kp_kcm__node_lifecycle(struct kp_kcm *C);

/* Starts / joins the disruption (PodDisruptionBudget) controller of L (pdb.c). */
kp_err kp_kcm__pdb_start(struct kp_apiserver *L, struct kp_kcm__pdbc **out, struct kp_errbuf *eb);
void kp_kcm__pdb_stop(struct kp_kcm__pdbc *P);   /* NULL is a no-op */

/* ---- core.c: shared by the controllers ---- */

/* Most pods one reconcile creates; the rest wait for the next pass. */
#define KP_KCM__CREATE_PER_PASS 500

/* The alphabet of Kubernetes' rand.SafeEncodeString. */
static const char KP_KCM__ALNUM[] = "bcdfghjklmnpqrstvwxz2456789";
struct kp_kcm__cond_spec {
	const char *type, *status, *reason;
	char message[300];
};

struct kp_kcm__status_upd {
	json_t *set;            /* fields merged into status */
	int ncond;
	struct kp_kcm__cond_spec cond[2];
	bool update_time;       /* Deployment conditions carry lastUpdateTime */
};

struct kp_kcm__podlist {
	struct kp_kcm__pod **v;
	size_t n;
};



void kp_kcm__key_of(char *buf, size_t n, const char *ns, const char *name);

json_t *kp_kcm__owner_ref(const char *api_version, const char *kind, const json_t *owner);

struct kp_kcm__node *kp_kcm__node_get(struct kp_kcm *C, const char *name, bool create);

void kp_kcm__write_status(struct kp_kcm *C, int kind, const char *ns, const char *name, struct kp_kcm__status_upd *u);

void kp_kcm__scale_rs(struct kp_kcm *C, const json_t *rs, int64_t want);

void kp_kcm__owned_pods(struct kp_kcm *C, const char *uid, struct kp_kcm__podlist *out, bool include_inactive);

json_t *kp_kcm__pod_from_template(const json_t *owner, const char *api_version, const char *kind,
				 const json_t *tmpl);

void kp_kcm__create_pod(struct kp_kcm *C, json_t *pod);
/* Creates n pods (references taken) in one store batch. */
void kp_kcm__create_pods(struct kp_kcm *C, json_t **pods, size_t n);

void kp_kcm__delete_pod(struct kp_kcm *C, struct kp_kcm__pod *p);

int kp_kcm__victim_cmp(const void *a, const void *b);

bool kp_kcm__deleting(const json_t *o);

void kp_kcm__reconcile_rs(struct kp_kcm *C, const char *key);

void kp_kcm__reconcile_deploy(struct kp_kcm *C, const char *key);

void kp_kcm__reconcile_ss(struct kp_kcm *C, const char *key);

void kp_kcm__reconcile_ds(struct kp_kcm *C, const char *key);

void kp_kcm__reconcile_job(struct kp_kcm *C, const char *key);

void kp_kcm__reconcile_cronjob(struct kp_kcm *C, const char *key);

/* ---- lease.c: timers, events, node leases ---- */
/* Wakes what (a CK_* kind: reconcile key; KP_KCM__T_*) at due_ms
 * (kp_kcm__now_ms clock); an earlier wake-up already set wins. */
void kp_kcm__requeue_at(struct kp_kcm *C, int what, const char *key, int64_t due_ms);
/* Runs the due wake-ups (the loop calls it when next_timer has come). */
void kp_kcm__timers_fire(struct kp_kcm *C);
void kp_kcm__timers_free(struct kp_kcm *C);
/* Records a core/v1 Event about obj (borrowed) from component. */
void kp_kcm__event(struct kp_kcm *C, const json_t *obj, const char *api_version, const char *kind, const char *type,
		   const char *reason, const char *msg, const char *component);
/* Creates or renews the Lease of Node node; re-arms itself every 10 s
 * while the Node exists. */
void kp_kcm__lease(struct kp_kcm *C, const char *node);
/* kp_kcm__lease for nn nodes, in one store batch. */
void kp_kcm__leases(struct kp_kcm *C, const char *const *nodes, size_t nn);

/* ---- podrun.c: the kubelet stand-in's containers ---- */
/* Sets status.containerStatuses, initContainerStatuses and qosClass of
 * pod: running since ts, or terminated with exit_code at finished. */
void kp_kcm__container_statuses(json_t *pod, const char *ts, bool running, int exit_code, const char *finished);
/* The image name and imageID containerd reports for image. */
void kp_kcm__image_ref(const char *image, char *name, size_t n, char *id, size_t idn);
/* Whether pod (started at started_wall_ms, wall clock) ends by itself:
 * then *due_ms (kp_kcm__now_ms clock) and *exit_code. */
bool kp_kcm__pod_end(const json_t *pod, int64_t started_wall_ms, int64_t *due_ms, int *exit_code);
/* Ends the running pod key (Succeeded or Failed). */
void kp_kcm__pod_finish(struct kp_kcm *C, const char *key);

#endif
