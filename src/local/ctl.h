/*
 * ctl.h - the built-in controllers of the local control plane behind
 * `karpenter up`: what kube-controller-manager, kube-scheduler and the
 * kubelets do in a real cluster, minimal but with the same observable
 * results (Deployment -> ReplicaSet -> Pods, StatefulSet, DaemonSet and Job
 * pods, binding of pending pods to Nodes, pods becoming Running, Nodes for
 * the simulated cloud's instances), plus the log of the controller's pod.
 *
 * Internal to src/local, src/cli and the controller of issue 5.
 *
 * Life cycle: kp_ctl_start() after the store is open (up.c), kp_ctl_stop()
 * after kp_store_shutdown() and before kp_store_close(). One controller
 * instance per struct kp_local. The controllers act only through the store
 * and kp_local_mutate/kp_local_delete, so resourceVersions, watches and the
 * garbage collector see their writes like any client's.
 */
#ifndef KARPENTER_LOCAL_CTL_H
#define KARPENTER_LOCAL_CTL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "karpenter/base.h"
#include "karpenter/cloud.h"

struct kp_local;

/* Namespace and labels of the pod that stands for the controller. */
#define KP_CTL_LOG_NS   "karpenter"
#define KP_CTL_LOG_POD  "karpenter-0"
#define KP_CTL_LOG_APP  "karpenter"

/* Starts the controllers' thread (and creates the karpenter namespace and
 * the controller's log pod). eb gets the reason on failure. */
kp_err kp_ctl_start(struct kp_local *L, struct kp_errbuf *eb);
/* Joins the controllers' thread of L (the store must be shut down first so
 * its watch wakes up). No-op when none runs. */
void kp_ctl_stop(struct kp_local *L);
/* Gives the node-lifecycle controller a simulated cloud (borrowed; made by
 * kp_cloud_fake_new, it must outlive kp_ctl_stop): every instance that
 * becomes RUNNING gets a Node, every terminated one loses it. NULL detaches. */
void kp_ctl_set_cloud(struct kp_local *L, struct kp_cloud *cloud);

/* ---- the controller's log (ctl_log.c) ---- */

/* Appends one line (a trailing newline is added when missing) to the log
 * the controller's pod serves through pods/log. Thread-safe; lines longer
 * than 16 KiB are cut. The file rotates at 8 MiB (one old generation). */
void kp_local_log_sink(struct kp_local *L, const char *line);
void kp_local_logf(struct kp_local *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Path of the log file of pod ns/name into buf (size n); false when it
 * does not fit. The file may not exist (a pod without a log). */
bool kp_ctl_log_path(const struct kp_local *L, const char *ns, const char *name, char *buf, size_t n);

/* The body of GET pods/NAME/log for the REST layer: the whole log or its
 * last tail_lines lines (tail_lines < 0: all), at most limit_bytes (<= 0:
 * no limit). *out is malloc'ed (caller frees), possibly empty. */
kp_err kp_ctl_log_read(const struct kp_local *L, const char *ns, const char *name, int64_t tail_lines,
		       int64_t limit_bytes, char **out, size_t *len, int64_t *end_off, struct kp_errbuf *eb);

/* A follow (?follow=true) stream: starts at byte offset off of the log
 * file, then returns new bytes as they are appended. */
struct kp_ctl_log_follow;
struct kp_ctl_log_follow *kp_ctl_log_follow_open(const struct kp_local *L, const char *ns, const char *name,
						 int64_t off);
/* Fills buf with new log bytes, blocking (polling the file every 100 ms)
 * until there are some, the client hangs up (fd, -1 = don't check) or the
 * control plane stops. Returns bytes, 0 at the end, -1 on error. */
ssize_t kp_ctl_log_follow_read(struct kp_ctl_log_follow *f, int fd, char *buf, size_t max);
void kp_ctl_log_follow_close(struct kp_ctl_log_follow *f);

/* ---- internals shared by the ctl_*.c files (define KP_CTL_INTERNAL) ---- */
#ifdef KP_CTL_INTERNAL
#include <jansson.h>

#include "karpenter/objects.h"
#include "local/server.h"

/* String-keyed chained hash map; keys are copied, values borrowed. */
struct kp_ctl_ment {
	struct kp_ctl_ment *next;
	char *key;
	void *val;
};
struct kp_ctl_map {
	struct kp_ctl_ment **b;
	size_t nb, n;
};
void *kp_ctl_map_get(const struct kp_ctl_map *m, const char *key);
/* Sets key to val; returns the previous value (or NULL). */
void *kp_ctl_map_put(struct kp_ctl_map *m, const char *key, void *val);
/* Removes key; returns its value (or NULL). */
void *kp_ctl_map_del(struct kp_ctl_map *m, const char *key);
/* The keys, sorted (strcmp); malloc'ed array of borrowed strings. */
const char **kp_ctl_map_keys(const struct kp_ctl_map *m, size_t *n);
void kp_ctl_map_free(struct kp_ctl_map *m);

/* A pod as the controllers see it (compact: 10,000s of them). */
struct kp_ctl_pod {
	char *key;                  /* "ns/name" */
	char *ns, *name, *uid;
	char *owner_kind, *owner_name, *owner_uid;   /* controller ownerReference, or NULL */
	char *node;                 /* spec.nodeName or NULL */
	char *text;                 /* JSON, kept only while pending */
	char *unsched_msg;          /* PodScheduled=False message we last wrote/saw */
	char *acct_node;            /* node its requests are counted on */
	int64_t rv, created;
	int64_t grace;              /* deletionGracePeriodSeconds while terminating, else 0 */
	int64_t term_at;            /* kp_ctl_now_ms() the kubelet stand-in deletes it at (0: not due) */
	int32_t prio;
	bool deleting, terminal, running, ready, other_sched;
	struct kp_res req;          /* well-known resources, pods:1 included */
	int nports;
	struct kp_hostport *ports;  /* ip strings malloc'ed */
};

struct kp_ctl_node {
	char *name;
	struct kp_cluster c;        /* owns n */
	struct kp_node *n;          /* NULL: pods name a Node that does not exist */
	char *host_ip;
	int64_t rv;
	struct kp_res used;
	struct kp_ctl_map pods;     /* keys of pods counted on it */
};

struct kp_ctl_obj {             /* deployments, replicasets, ... */
	json_t *o;
	int64_t rv;
};

enum kp_ctl_kind { CK_DEPLOY, CK_RS, CK_SS, CK_DS, CK_JOB, CK_NKINDS };

struct kp_ctl {
	struct kp_local *L;
	pthread_t th;
	bool running;
	struct kp_store_watch *w;
	struct kp_cloud *cloud;
	pthread_mutex_t cloud_mu;
	struct kp_ctl_map pods, nodes, tomb;
	struct kp_ctl_map objs[CK_NKINDS];
	struct kp_ctl_map dirty[CK_NKINDS];
	struct kp_ctl_map owned;    /* owner uid -> struct kp_ctl_map * (set of pod keys) */
	struct kp_ctl_map owned_rs; /* deployment uid -> set of ReplicaSet keys */
	struct kp_ctl_map pending;  /* pods waiting for a node */
	struct kp_ctl_map sched_dirty, kubelet_dirty;
	struct kp_ctl_map terminating;   /* pods with a term_at (kubelet stand-in) */
	int64_t next_term;          /* the earliest term_at (0: none) */
	int64_t grace_cap_ms;       /* longest wait of a terminating pod (INT64_MAX: none) */
	bool sched_all;
	uint32_t ip_seq;
	int64_t next_cloud_poll;
};

/* ctl_main.c */
int64_t kp_ctl_now_ms(void);
void kp_ctl_mark(struct kp_ctl *C, struct kp_ctl_map *set, const char *key);
/* Creates an object the way the REST layer does (uid, timestamps,
 * generateName, defaulting) and feeds it to the caches. */
enum kp_store_rc kp_ctl_create(struct kp_ctl *C, const char *group, const char *version, const char *resource,
			       json_t *obj, struct kp_errbuf *eb);
/* Deletes (Background) and forgets the object. */
enum kp_store_rc kp_ctl_delete(struct kp_ctl *C, const char *group, const char *resource, const char *ns,
			       const char *name, struct kp_errbuf *eb);
/* Records that the scheduler bound p to node (before the event arrives). */
void kp_ctl_pod_bound(struct kp_ctl *C, struct kp_ctl_pod *p, const char *node);
/* ctl_sched.c */
void kp_ctl_pod_decode(struct kp_ctl_pod *p, const char *json, size_t len);
void kp_ctl_schedule(struct kp_ctl *C);
void kp_ctl_kubelet(struct kp_ctl *C);
void kp_ctl_node_lifecycle(struct kp_ctl *C);
/* ctl_main.c: JSON helpers. String member k of o, or NULL. */
const char *kp_ctl_jstr(const json_t *o, const char *k);
/* Object member k of o, created empty when missing or not an object. */
json_t *kp_ctl_obj_at(json_t *o, const char *k);
#endif

#endif
