/*
 * core.c - the controllers' loop of `karpenter up` (src/kcm): the caches,
 * the writes every controller makes, the batching of events into
 * reconciles of the workload controllers (deployment.c, replicaset.c,
 * statefulset.c, daemonset.c, job.c), the scheduler and kubelet stand-in
 * (sched.c), and the life cycle.
 *
 * One thread follows the store's event stream (every resource) into
 * in-memory caches: pods as compact structs, nodes decoded by the engine's
 * loader, workload objects as JSON. Events mark keys dirty; after a batch
 * (no event for BATCH_IDLE_MS, or BATCH_MAX_MS since the first) each dirty
 * key is reconciled once, in sorted order, then the scheduler and the
 * kubelet stand-in run (sched.c). A watch that falls behind the event
 * window is replaced by a full resync.
 *
 * Invariants: every write goes through kp_store_create (with the REST
 * layer's uid, timestamps and defaulting), kp_apiserver_mutate or
 * kp_apiserver_delete; own writes are fed to the caches at once with their
 * resourceVersion, and events not newer than what a cache holds are
 * ignored (tombstones cover own deletions), so a reconcile never acts on a
 * state older than its own last write. Reconcilers are idempotent: a
 * status or spec write that changes nothing is skipped.
 *
 * Deployments roll out Recreate-like: a template change creates the new
 * ReplicaSet at full size and scales every older one to 0 at once.
 *
 * Pod termination (the kubelet's part of a graceful deletion): a pod seen
 * with deletionGracePeriodSeconds > 0 is deleted with grace 0 once its
 * grace period is over, but at most grace_cap_ms (2 s by default) after it
 * was seen terminating, whatever its node's state; pods of a deleted Node
 * are deleted with grace 0 at once (the pod garbage collector's job).
 *
 * Cost: per event one JSON parse plus O(1) map work; per reconcile of a
 * workload O(its pods); DaemonSets O(nodes) each when nodes change.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "apiserver/pdb.h"
#include "load/load.h"

#define BATCH_IDLE_MS 20
#define BATCH_MAX_MS 200

#include "kcm/kcm_int.h"

/* ------------------------------------------------------------ sets */


void kp_kcm__mark(struct kp_kcm *C, struct kp_strmap *set, const char *key)
{
	(void)C;
	kp_kcm__map_put(set, key, (void *)1);
}

static void set_add(struct kp_strmap *idx, const char *owner, const char *key)
{
	struct kp_strmap *s = kp_strmap_get(idx, owner);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return;
		kp_kcm__map_put(idx, owner, s);
	}
	kp_kcm__map_put(s, key, (void *)1);
}

static void set_del(struct kp_strmap *idx, const char *owner, const char *key)
{
	struct kp_strmap *s = kp_strmap_get(idx, owner);
	if (!s)
		return;
	kp_strmap_del(s, key);
	if (s->n == 0) {
		kp_strmap_del(idx, owner);
		kp_strmap_free(s);
		free(s);
	}
}

static void index_free(struct kp_strmap *idx)
{
	KP_STRMAP_FOREACH(idx, e) {
		kp_strmap_free(e->val);
		free(e->val);
	}
	kp_strmap_free(idx);
}

/* --------------------------------------------------------------- utils */

int64_t kp_kcm__now_ms(void)
{
	return kp_mono_ms();
}

static int64_t rv_of(const json_t *o)
{
	const char *s = kp_kobj_str(json_object_get(o, "metadata"), "resourceVersion");
	int64_t v = 0;
	if (!s || kp_parse_i64(s, &v))
		return 0;
	return v;
}

static void new_uid(char out[37])
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)rand();
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}


static void random_suffix(char out[6])
{
	unsigned char b[5];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)rand();
	for (int i = 0; i < 5; i++)
		out[i] = KP_KCM__ALNUM[b[i] % (sizeof(KP_KCM__ALNUM) - 1)];
	out[5] = '\0';
}

void kp_kcm__key_of(char *buf, size_t n, const char *ns, const char *name)
{
	snprintf(buf, n, "%s/%s", ns ? ns : "", name ? name : "");
}

static const char *const KIND_NAME[CK_NKINDS] = { "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job",
						  "CronJob" };
static const char *const KIND_GROUP[CK_NKINDS] = { "apps", "apps", "apps", "apps", "batch", "batch" };
static const char *const KIND_RES[CK_NKINDS] = { "deployments", "replicasets", "statefulsets", "daemonsets", "jobs",
						 "cronjobs" };

static int kind_of(const char *group, const char *resource)
{
	for (int i = 0; i < CK_NKINDS; i++)
		if (strcmp(group, KIND_GROUP[i]) == 0 && strcmp(resource, KIND_RES[i]) == 0)
			return i;
	return -1;
}

static int kind_by_name(const char *kind)
{
	for (int i = 0; kind && i < CK_NKINDS; i++)
		if (strcmp(kind, KIND_NAME[i]) == 0)
			return i;
	return -1;
}

json_t *kp_kcm__owner_ref(const char *api_version, const char *kind, const json_t *owner)
{
	const json_t *md = json_object_get(owner, "metadata");
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion", api_version, "kind", kind, "name",
			 kp_kobj_str(md, "name") ? kp_kobj_str(md, "name") : "", "uid", kp_kobj_str(md, "uid") ? kp_kobj_str(md, "uid") : "",
			 "controller", 1, "blockOwnerDeletion", 1);
}

/* ------------------------------------------------------------- caches */

static void pod_free(struct kp_kcm__pod *p)
{
	if (!p)
		return;
	free(p->key);
	free(p->ns);
	free(p->name);
	free(p->uid);
	free(p->owner_kind);
	free(p->owner_name);
	free(p->owner_uid);
	free(p->node);
	free(p->text);
	free(p->unsched_msg);
	free(p->acct_node);
	for (int i = 0; i < p->nports; i++)
		free((char *)p->ports[i].ip);
	free(p->ports);
	free(p);
}

struct kp_kcm__node *kp_kcm__node_get(struct kp_kcm *C, const char *name, bool create)
{
	struct kp_kcm__node *n = kp_strmap_get(&C->nodes, name);
	if (n || !create)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name))) {
		free(n);
		return NULL;
	}
	kp_cluster_init(&n->c);
	kp_kcm__map_put(&C->nodes, name, n);
	return n;
}

static void node_maybe_free(struct kp_kcm *C, struct kp_kcm__node *n)
{
	if (n->n || n->pods.n)
		return;
	kp_strmap_del(&C->nodes, n->name);
	kp_cluster_free(&n->c);
	kp_strmap_free(&n->pods);
	free(n->host_ip);
	free(n->uid);
	free(n->name);
	free(n);
}

static void unaccount(struct kp_kcm *C, struct kp_kcm__pod *p)
{
	struct kp_kcm__node *n;
	if (!p->acct_node)
		return;
	n = kp_kcm__node_get(C, p->acct_node, false);
	if (n) {
		kp_res_sub(&n->used, &p->req);
		kp_strmap_del(&n->pods, p->key);
		node_maybe_free(C, n);
	}
	free(p->acct_node);
	p->acct_node = NULL;
}

static void account(struct kp_kcm *C, struct kp_kcm__pod *p)
{
	struct kp_kcm__node *n;
	if (!p->node || p->terminal || !(n = kp_kcm__node_get(C, p->node, true)))
		return;
	kp_res_add(&n->used, &p->req);
	kp_kcm__map_put(&n->pods, p->key, p);
	p->acct_node = strdup(p->node);
}

static void mark_owner(struct kp_kcm *C, const char *ns, const char *kind, const char *name)
{
	int k = kind_by_name(kind);
	char key[600];
	if (k < 0 || !name)
		return;
	kp_kcm__key_of(key, sizeof(key), ns, name);
	kp_kcm__mark(C, &C->dirty[k], key);
}

static void pod_forget(struct kp_kcm *C, struct kp_kcm__pod *p)
{
	unaccount(C, p);
	kp_strmap_del(&C->pending, p->key);
	if (p->owner_uid)
		set_del(&C->owned, p->owner_uid, p->key);
	mark_owner(C, p->ns, p->owner_kind, p->owner_name);
}

static char *dup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Schedules the end of p's graceful termination: the end of its grace
 * period (deletionTimestamp dts), at most grace_cap_ms from now, never
 * later than already scheduled for old. */
static void pod_terminating(struct kp_kcm *C, struct kp_kcm__pod *p, const struct kp_kcm__pod *old, const char *dts)
{
	int64_t wall = (int64_t)time(NULL), end = wall, left;

	if (dts)
		kp_parse_rfc3339(dts, &end);
	left = end > wall ? (end - wall) * 1000 : 0;
	if (left > C->grace_cap_ms)
		left = C->grace_cap_ms;
	p->term_at = kp_kcm__now_ms() + left;
	if (old && old->term_at && old->term_at < p->term_at)
		p->term_at = old->term_at;
	kp_kcm__mark(C, &C->terminating, p->key);
	if (!C->next_term || p->term_at < C->next_term)
		C->next_term = p->term_at;
}

/* A running pod whose containers end by themselves gets a wake-up at
 * their end (from when the stand-in started it, else status.startTime). */
static void schedule_end(struct kp_kcm *C, struct kp_kcm__pod *p, const json_t *o)
{
	int64_t start = p->run_wall, due;
	const char *st = kp_kobj_str(json_object_get(o, "status"), "startTime");

	if (!start && st && !kp_parse_rfc3339(st, &start))
		start *= 1000;
	if (start && kp_kcm__pod_end(o, start, &due, &p->exit_code))
		kp_kcm__requeue_at(C, KP_KCM__T_POD_END, p->key, due);
}

/* The kubelet stand-in still has to start p (it keeps p's text for that). */
static bool kubelet_due(const struct kp_kcm__pod *p)
{
	return p->node && !p->deleting && !p->terminal && !(p->running && p->ready);
}

/* obj (may be NULL: parsed from text) is the object text encodes. */
static void observe_pod(struct kp_kcm *C, enum kp_store_evtype type, const json_t *obj, const char *text, size_t len,
			int64_t rv)
{
	json_t *o = obj ? json_incref((json_t *)obj) : json_loadb(text, len, 0, NULL), *md, *spec, *st, *v;
	struct kp_kcm__pod *p, *old;
	const json_t *ref;
	char key[600];
	size_t i;

	if (!o)
		return;
	md = json_object_get(o, "metadata");
	spec = json_object_get(o, "spec");
	st = json_object_get(o, "status");
	kp_kcm__key_of(key, sizeof(key), kp_kobj_str(md, "namespace"), kp_kobj_str(md, "name"));
	old = kp_strmap_get(&C->pods, key);
	if (type == KP_EV_DELETED) {
		kp_strmap_del(&C->terminating, key);
		if (old) {
			if (old->acct_node)
				C->sched_all = true;   /* its resources are free again */
			kp_strmap_del(&C->pods, key);
			pod_forget(C, old);
			pod_free(old);
		}
		json_decref(o);
		return;
	}
	if (old && rv <= old->rv) {
		json_decref(o);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		json_decref(o);
		return;
	}
	p->key = strdup(key);
	p->ns = dup0(kp_kobj_str(md, "namespace"));
	p->name = dup0(kp_kobj_str(md, "name"));
	p->uid = dup0(kp_kobj_str(md, "uid"));
	p->rv = rv;
	if ((ref = kp_kobj_controller_ref(o))) {
		p->owner_kind = dup0(kp_kobj_str(ref, "kind"));
		p->owner_name = dup0(kp_kobj_str(ref, "name"));
		p->owner_uid = dup0(kp_kobj_str(ref, "uid"));
	}
	if (kp_kobj_str(spec, "nodeName") && *kp_kobj_str(spec, "nodeName"))
		p->node = strdup(kp_kobj_str(spec, "nodeName"));
	p->deleting = json_object_get(md, "deletionTimestamp") != NULL;
	if (p->deleting)
		p->grace = kp_kobj_int(md, "deletionGracePeriodSeconds", 0);
	if (p->grace > 0)
		pod_terminating(C, p, old, kp_kobj_str(md, "deletionTimestamp"));
	else
		kp_strmap_del(&C->terminating, key);
	if (kp_kobj_str(md, "creationTimestamp"))
		kp_parse_rfc3339(kp_kobj_str(md, "creationTimestamp"), &p->created);
	p->prio = (int32_t)kp_kobj_int(spec, "priority", 0);
	const char *phase = kp_kobj_str(st, "phase");
	p->terminal = phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
	p->running = phase && !strcmp(phase, "Running");
	p->succeeded = phase && !strcmp(phase, "Succeeded");
	json_array_foreach(json_object_get(md, "finalizers"), i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), "batch.kubernetes.io/job-tracking"))
			p->job_fin = true;
	p->run_wall = old ? old->run_wall : 0;
	const char *sn = kp_kobj_str(spec, "schedulerName");
	p->other_sched = sn && *sn && strcmp(sn, "default-scheduler") != 0;
	json_array_foreach(json_object_get(st, "conditions"), i, v) {
		const char *t = kp_kobj_str(v, "type"), *s = kp_kobj_str(v, "status");
		if (!t || !s)
			continue;
		if (!strcmp(t, "Ready"))
			p->ready = !strcmp(s, "True");
		else if (!strcmp(t, "PodScheduled") && !strcmp(s, "False") && kp_kobj_str(v, "message"))
			p->unsched_msg = strdup(kp_kobj_str(v, "message"));
	}
	if (C->spec_kept && old && old->uid && p->uid && !strcmp(old->uid, p->uid)) {
		/* an own write that left the containers alone: same requests and ports */
		p->req = old->req;
		p->ports = old->ports;
		p->nports = old->nports;
		old->ports = NULL;
		old->nports = 0;
	} else {
		kp_kcm__pod_decode(p, o);
	}
	if (old) {
		if (old->acct_node && (!p->node || p->terminal || strcmp(old->acct_node, p->node) != 0))
			C->sched_all = true;
		kp_strmap_del(&C->pods, key);
		pod_forget(C, old);
		pod_free(old);
	}
	kp_kcm__map_put(&C->pods, key, p);
	if (p->owner_uid)
		set_add(&C->owned, p->owner_uid, key);
	account(C, p);
	const char *mirror = kp_kobj_str(json_object_get(md, "annotations"), "kubernetes.io/config.mirror");
	if (!p->node && !p->deleting && !p->terminal && !p->other_sched && !mirror) {
		if (!p->text)
			p->text = strndup(text, len);
		kp_kcm__map_put(&C->pending, key, p);
		kp_kcm__mark(C, &C->sched_dirty, key);
	}
	if (kubelet_due(p)) {
		if (!p->text)
			p->text = strndup(text, len);
		kp_kcm__mark(C, &C->kubelet_dirty, key);
	}
	if (p->node && p->running && !p->deleting && !p->terminal)
		schedule_end(C, p, o);
	mark_owner(C, p->ns, p->owner_kind, p->owner_name);
	json_decref(o);
}

static void delete_pods_on(struct kp_kcm *C, struct kp_kcm__node *n);

void kp_kcm__pod_bound(struct kp_kcm *C, struct kp_kcm__pod *p, const char *node)
{
	kp_strmap_del(&C->pending, p->key);
	free(p->node);
	p->node = strdup(node);
	free(p->text);
	p->text = NULL;
	unaccount(C, p);
	account(C, p);
	kp_kcm__mark(C, &C->kubelet_dirty, p->key);
}

void kp_kcm__pod_unbound(struct kp_kcm *C, struct kp_kcm__pod *p, char *text)
{
	unaccount(C, p);
	free(p->node);
	p->node = NULL;
	free(p->text);
	p->text = text;
	if (!p->text)
		return;   /* not schedulable without it: its next event brings it back */
	kp_kcm__map_put(&C->pending, p->key, p);
	kp_kcm__mark(C, &C->sched_dirty, p->key);
}

/* The node lifecycle controller's NoSchedule tainting (k8s
 * pkg/controller/nodelifecycle, doNoScheduleTaintingPass): a Node whose
 * spec.unschedulable is true carries node.kubernetes.io/unschedulable:
 * NoSchedule, and loses it when uncordoned. Returns 1 when nothing changes. */
static int cordon_fn(void *ud, json_t *node)
{
	json_t *spec = kp_kobj_child(node, "spec"), *ts = json_object_get(spec, "taints"), *t;
	bool want = json_is_true(json_object_get(spec, "unschedulable"));
	size_t i, at = SIZE_MAX;

	(void)ud;
	json_array_foreach(ts, i, t)
		if (kp_strcmp0(kp_kobj_str(t, "key"), KP_TAINT_UNSCHEDULABLE) == 0 &&
		    kp_strcmp0(kp_kobj_str(t, "effect"), "NoSchedule") == 0)
			at = i;
	if (want && at == SIZE_MAX) {
		if (!json_is_array(ts)) {
			ts = json_array();
			json_object_set_new(spec, "taints", ts);
		}
		json_array_append_new(ts, json_pack("{s:s, s:s}", "key", KP_TAINT_UNSCHEDULABLE, "effect", "NoSchedule"));
		return 0;
	}
	if (!want && at != SIZE_MAX) {
		json_array_remove(ts, at);
		if (!json_array_size(ts))
			json_object_del(spec, "taints");
		return 0;
	}
	return 1;
}

static void cordon_taint(struct kp_kcm *C, const char *name, json_t *o)
{
	struct kp_store_key k = { "", "nodes", "", name };
	struct kp_errbuf eb = { 0 };
	json_t *copy = json_deep_copy(o);

	if (!copy)
		return;
	if (cordon_fn(NULL, copy) == 0 && kp_apiserver_mutate(C->L, &k, cordon_fn, NULL, &eb) != KP_STORE_OK &&
	    eb.msg[0])
		fprintf(stderr, "karpenter up: node %s: unschedulable taint: %s\n", name, eb.msg);
	json_decref(copy);
}

static void observe_node(struct kp_kcm *C, enum kp_store_evtype type, const char *text, size_t len, int64_t rv)
{
	json_t *o = json_loadb(text, len, 0, NULL);
	const char *name = o ? kp_kobj_str(json_object_get(o, "metadata"), "name") : NULL;
	struct kp_kcm__node *n;
	bool was_ready;

	if (!name) {
		json_decref(o);
		return;
	}
	n = kp_kcm__node_get(C, name, type != KP_EV_DELETED);
	if (!n || (type != KP_EV_DELETED && n->n && rv <= n->rv)) {
		json_decref(o);
		return;
	}
	was_ready = n->n && n->n->ready;
	bool known = n->n != NULL;
	kp_cluster_free(&n->c);
	kp_cluster_init(&n->c);
	n->n = NULL;
	free(n->host_ip);
	n->host_ip = NULL;
	free(n->uid);
	n->uid = NULL;
	n->rv = rv;
	C->sched_all = true;
	KP_STRMAP_FOREACH(&C->objs[CK_DS], e)
		kp_kcm__mark(C, &C->dirty[CK_DS], e->key);
	if (type == KP_EV_DELETED) {
		delete_pods_on(C, n);
		node_maybe_free(C, n);
		json_decref(o);
		return;
	}
	struct kp_load_opts opts = { NULL, (int64_t)time(NULL) };
	struct kp_errbuf eb = { 0 };
	if (kp_load_buffer(&n->c, "node", text, len, &opts, &eb) == KP_OK && n->c.nnodes == 1)
		n->n = n->c.nodes[0];
	else
		fprintf(stderr, "karpenter up: node %s: %s\n", name, eb.msg);
	n->uid = dup0(kp_kobj_str(json_object_get(o, "metadata"), "uid"));
	if (!json_object_get(json_object_get(o, "metadata"), "deletionTimestamp"))
		cordon_taint(C, name, o);
	if (!known)   /* a new Node gets its Lease at once */
		kp_kcm__requeue_at(C, KP_KCM__T_LEASES, name, kp_kcm__now_ms());
	const json_t *a;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(o, "status"), "addresses"), i, a)
		if (kp_kobj_str(a, "type") && !strcmp(kp_kobj_str(a, "type"), "InternalIP") && kp_kobj_str(a, "address") && !n->host_ip)
			n->host_ip = strdup(kp_kobj_str(a, "address"));
	if (n->n && n->n->ready && !was_ready)
		KP_STRMAP_FOREACH(&n->pods, e)
			kp_kcm__mark(C, &C->kubelet_dirty, e->key);
	json_decref(o);
}

static void observe_obj(struct kp_kcm *C, int kind, enum kp_store_evtype type, const char *text, size_t len,
			int64_t rv)
{
	json_t *o = json_loadb(text, len, 0, NULL), *md;
	struct kp_kcm__obj *e, *old;
	const json_t *ref;
	char key[600];

	if (!o)
		return;
	md = json_object_get(o, "metadata");
	kp_kcm__key_of(key, sizeof(key), kp_kobj_str(md, "namespace"), kp_kobj_str(md, "name"));
	old = kp_strmap_get(&C->objs[kind], key);
	if (old && type != KP_EV_DELETED && rv <= old->rv) {
		json_decref(o);
		return;
	}
	kp_kcm__mark(C, &C->dirty[kind], key);
	if (old) {
		const char *uid;
		if (kind == CK_RS && (ref = kp_kobj_controller_ref(old->o)) && (uid = kp_kobj_str(ref, "uid")))
			set_del(&C->owned_rs, uid, key);
		kp_strmap_del(&C->objs[kind], key);
		json_decref(old->o);
		free(old);
	}
	if ((kind == CK_RS || kind == CK_JOB) && (ref = kp_kobj_controller_ref(o)))
		mark_owner(C, kp_kobj_str(md, "namespace"), kp_kobj_str(ref, "kind"), kp_kobj_str(ref, "name"));
	if (type == KP_EV_DELETED) {
		json_decref(o);
		return;
	}
	e = malloc(sizeof(*e));
	if (!e) {
		json_decref(o);
		return;
	}
	e->o = o;
	e->rv = rv;
	kp_kcm__map_put(&C->objs[kind], key, e);
	if (kind == CK_RS && (ref = kp_kobj_controller_ref(o)) && kp_kobj_str(ref, "uid"))
		set_add(&C->owned_rs, kp_kobj_str(ref, "uid"), key);
}

/* Feeds one event (or own write: obj, may be NULL, is the object text
 * encodes) to the caches. */
static void observe_as(struct kp_kcm *C, enum kp_store_evtype type, const char *group, const char *resource,
		       const char *ns, const char *name, const json_t *obj, const char *text, size_t len, int64_t rv)
{
	char tk[800];
	int64_t *tomb;
	int k;

	snprintf(tk, sizeof(tk), "%s/%s/%s/%s", group, resource, ns ? ns : "", name ? name : "");
	if ((tomb = kp_strmap_get(&C->tomb, tk))) {
		if (rv <= *tomb) {
			if (type == KP_EV_DELETED && rv == *tomb)
				free(kp_strmap_del(&C->tomb, tk));
			return;
		}
		free(kp_strmap_del(&C->tomb, tk));
	}
	if (!*group && !strcmp(resource, "pods")) {
		const struct kp_kcm__pod *p;
		kp_kcm__key_of(tk, sizeof(tk), ns, name);
		if (type != KP_EV_DELETED && (p = kp_strmap_get(&C->pods, tk)) && rv <= p->rv)
			return;   /* no newer than the cache (an own write's event): not worth parsing */
		observe_pod(C, type, obj, text, len, rv);
	} else if (!*group && !strcmp(resource, "nodes")) {
		const struct kp_kcm__node *n;
		if (type != KP_EV_DELETED && (n = kp_strmap_get(&C->nodes, name ? name : "")) && n->n && rv <= n->rv)
			return;
		observe_node(C, type, text, len, rv);
	} else if ((k = kind_of(group, resource)) >= 0) {
		observe_obj(C, k, type, text, len, rv);
	}
}

static void observe(struct kp_kcm *C, enum kp_store_evtype type, const char *group, const char *resource,
		    const char *ns, const char *name, const char *text, size_t len, int64_t rv)
{
	observe_as(C, type, group, resource, ns, name, NULL, text, len, rv);
}

/* ------------------------------------------------------------- writes */

void kp_kcm__write_batch(struct kp_kcm *C, struct kp_store_write *ws, size_t n, struct kp_errbuf *eb)
{
	for (size_t i = 0; i < n; i++)
		ws[i].want_text = true;
	kp_store_write_batch(C->L->store, ws, n, eb);
	for (size_t i = 0; i < n; i++) {
		const struct kp_store_key *k = &ws[i].key;
		if (ws[i].rc == KP_STORE_OK && ws[i].text)
			observe_as(C, ws[i].op == KP_STORE_OP_CREATE ? KP_EV_ADDED
				   : ws[i].op == KP_STORE_OP_UPDATE ? KP_EV_MODIFIED : KP_EV_DELETED,
				   k->group, k->resource, k->ns, k->name, ws[i].op == KP_STORE_OP_DELETE ? NULL : ws[i].obj,
				   ws[i].text, strlen(ws[i].text), ws[i].rv);
		free(ws[i].text);
		ws[i].text = NULL;
	}
}

void kp_kcm__create_batch(struct kp_kcm *C, const char *group, const char *version, const char *resource,
			  json_t **objs, size_t n, enum kp_store_rc *rcs, struct kp_errbuf *eb)
{
	struct kp_store_write *ws = calloc(n ? n : 1, sizeof(*ws));
	size_t *pend = calloc(n ? n : 1, sizeof(*pend)), np = n;
	bool *named = calloc(n ? n : 1, sizeof(*named));
	char uid[37], ts[40];

	for (size_t i = 0; i < n; i++)
		rcs[i] = KP_STORE_FAIL;
	if (!n)
		goto out;
	if (!ws || !pend || !named) {
		kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		goto out;
	}
	kp_kobj_now_rfc3339(ts, sizeof(ts));
	pthread_rwlock_rdlock(&C->L->reg_lock);
	const struct kp_apiserver__res *res = kp_apiserver__reg_find(C->L->reg, group, version, resource);
	for (size_t i = 0; i < n; i++) {
		json_t *md = kp_kobj_child(objs[i], "metadata");
		new_uid(uid);
		json_object_set_new(md, "uid", json_string(uid));
		json_object_set_new(md, "creationTimestamp", json_string(ts));
		json_object_set_new(md, "generation", json_integer(1));
		if (res)
			kp_apiserver__reg_default(C->L->reg, res, objs[i]);
		named[i] = kp_kobj_str(md, "name") != NULL;
		pend[i] = i;
	}
	pthread_rwlock_unlock(&C->L->reg_lock);
	/* generated names that are taken get another suffix, up to 5 times */
	for (int attempt = 0; attempt < 5 && np; attempt++) {
		size_t left = 0;
		for (size_t j = 0; j < np; j++) {
			json_t *md = json_object_get(objs[pend[j]], "metadata");
			if (!named[pend[j]]) {
				const char *gen = kp_kobj_str(md, "generateName");
				char name[300], sfx[6];
				random_suffix(sfx);
				snprintf(name, sizeof(name), "%.*s%s", 58, gen ? gen : "x-", sfx);
				json_object_set_new(md, "name", json_string(name));
			}
			ws[j] = (struct kp_store_write){ .op = KP_STORE_OP_CREATE, .obj = objs[pend[j]] };
			ws[j].key = (struct kp_store_key){ group, resource,
							   kp_kobj_str(md, "namespace") ? kp_kobj_str(md, "namespace") : "",
							   kp_kobj_str(md, "name") };
		}
		kp_kcm__write_batch(C, ws, np, eb);
		for (size_t j = 0; j < np; j++) {
			rcs[pend[j]] = ws[j].rc;
			if (ws[j].rc == KP_STORE_EXISTS && !named[pend[j]]) {
				json_object_del(json_object_get(objs[pend[j]], "metadata"), "resourceVersion");
				pend[left++] = pend[j];
			}
		}
		np = left;
	}
out:
	free(ws);
	free(pend);
	free(named);
}

enum kp_store_rc kp_kcm__create(struct kp_kcm *C, const char *group, const char *version, const char *resource,
			       json_t *obj, struct kp_errbuf *eb)
{
	enum kp_store_rc rc;
	kp_kcm__create_batch(C, group, version, resource, &obj, 1, &rc, eb);
	return rc;
}

/* kp_kcm__delete with a grace period (pods; < 0: the pod's own) and a uid
 * precondition (may be NULL). */
static enum kp_store_rc ctl_delete_grace(struct kp_kcm *C, const char *group, const char *resource, const char *ns,
					 const char *name, int64_t grace, const char *uid, struct kp_errbuf *eb)
{
	struct kp_store_key k = { group, resource, ns ? ns : "", name };
	json_t *out = NULL;
	bool gone = false;
	enum kp_store_rc rc = kp_apiserver_delete_grace(C->L, &k, KP_APISERVER_PROP_BACKGROUND, grace, 0, uid, &out, &gone, eb);

	if (rc == KP_STORE_OK && out) {
		int64_t rv = rv_of(out);
		char *text = json_dumps(out, JSON_COMPACT);
		if (gone && rv > 0) {
			char tk[800];
			int64_t *t = malloc(sizeof(*t));
			snprintf(tk, sizeof(tk), "%s/%s/%s/%s", group, resource, k.ns, name);
			if (t) {
				*t = rv;
				free(kp_kcm__map_put(&C->tomb, tk, t));
			}
		}
		if (text)
			observe(C, gone ? KP_EV_DELETED : KP_EV_MODIFIED, group, resource, k.ns, name, text, strlen(text),
				rv);
		free(text);
	}
	json_decref(out);
	return rc;
}

enum kp_store_rc kp_kcm__delete(struct kp_kcm *C, const char *group, const char *resource, const char *ns,
			       const char *name, struct kp_errbuf *eb)
{
	return ctl_delete_grace(C, group, resource, ns, name, -1, NULL, eb);
}

/* The kubelet stand-in's end of graceful deletions: every terminating pod
 * whose term_at has come is deleted with grace 0 (uid precondition); a
 * failure is retried 500 ms later. */
static void kubelet_terminate(struct kp_kcm *C)
{
	int64_t now = kp_kcm__now_ms(), next = 0;
	size_t n;
	const char **keys = kp_strmap_keys(&C->terminating, &n);
	char **due = calloc(n + 1, sizeof(*due));
	size_t nd = 0;

	for (size_t i = 0; keys && due && i < n; i++) {
		struct kp_kcm__pod *p = kp_strmap_get(&C->pods, keys[i]);
		if (p && p->term_at && p->term_at <= now)
			due[nd++] = strdup(keys[i]);
	}
	free(keys);
	for (size_t i = 0; due && i < nd; i++) {
		struct kp_kcm__pod *p = due[i] ? kp_strmap_get(&C->pods, due[i]) : NULL;
		struct kp_errbuf eb = { 0 };
		char *ns, *name, *uid;
		enum kp_store_rc rc;
		if (!p || !p->term_at) {
			free(due[i]);
			continue;
		}
		ns = strdup(p->ns);
		name = strdup(p->name);
		uid = p->uid ? strdup(p->uid) : NULL;
		rc = ns && name ? ctl_delete_grace(C, "", "pods", ns, name, 0, uid, &eb) : KP_STORE_FAIL;
		if (rc == KP_STORE_NOTFOUND) {
			kp_strmap_del(&C->terminating, due[i]);
		} else if (rc != KP_STORE_OK && (p = kp_strmap_get(&C->pods, due[i])) && p->term_at) {
			p->term_at = now + 500;
			if (rc != KP_STORE_CONFLICT)
				fprintf(stderr, "karpenter up: kubelet: delete pod %s: %s\n", due[i], eb.msg);
		}
		free(ns);
		free(name);
		free(uid);
		free(due[i]);
	}
	free(due);
	/* what is left, and what the deletes above scheduled */
	keys = kp_strmap_keys(&C->terminating, &n);
	for (size_t i = 0; keys && i < n; i++) {
		struct kp_kcm__pod *p = kp_strmap_get(&C->pods, keys[i]);
		if (!p || !p->term_at)
			kp_strmap_del(&C->terminating, keys[i]);
		else if (!next || p->term_at < next)
			next = p->term_at;
	}
	free(keys);
	C->next_term = next;
}

static void delete_pods_on(struct kp_kcm *C, struct kp_kcm__node *n)
{
	size_t nk;
	const char **keys = kp_strmap_keys(&n->pods, &nk);
	char **copy = calloc(nk + 1, sizeof(*copy));

	for (size_t i = 0; keys && copy && i < nk; i++)
		copy[i] = strdup(keys[i]);
	free(keys);
	for (size_t i = 0; copy && i < nk; i++) {
		struct kp_kcm__pod *p = copy[i] ? kp_strmap_get(&C->pods, copy[i]) : NULL;
		struct kp_errbuf eb = { 0 };
		if (p && (!p->deleting || p->grace > 0))
			ctl_delete_grace(C, "", "pods", p->ns, p->name, 0, NULL, &eb);
		free(copy[i]);
	}
	free(copy);
}

/* Sets a condition in status.conditions, keeping lastTransitionTime when
 * the status does not change. */
static void set_cond(json_t *status, const char *type, const char *st, const char *reason, const char *msg,
		     bool update_time)
{
	json_t *arr = json_object_get(status, "conditions"), *c = NULL, *v;
	char ts[40];
	size_t i;

	kp_kobj_now_rfc3339(ts, sizeof(ts));
	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(status, "conditions", arr);
	}
	json_array_foreach(arr, i, v)
		if (kp_kobj_str(v, "type") && !strcmp(kp_kobj_str(v, "type"), type))
			c = v;
	if (!c) {
		c = json_object();
		json_object_set_new(c, "type", json_string(type));
		json_array_append_new(arr, c);
	}
	bool same = kp_kobj_str(c, "status") && !strcmp(kp_kobj_str(c, "status"), st);
	bool same_text = same && kp_kobj_str(c, "reason") && !strcmp(kp_kobj_str(c, "reason"), reason) && kp_kobj_str(c, "message") &&
			 !strcmp(kp_kobj_str(c, "message"), msg);
	if (!same)
		json_object_set_new(c, "lastTransitionTime", json_string(ts));
	if (update_time && !same_text)
		json_object_set_new(c, "lastUpdateTime", json_string(ts));
	json_object_set_new(c, "status", json_string(st));
	json_object_set_new(c, "reason", json_string(reason));
	json_object_set_new(c, "message", json_string(msg));
}

static int status_fn(void *ud, json_t *obj)
{
	struct kp_kcm__status_upd *u = ud;
	json_t *old = json_object_get(obj, "status");
	json_t *nw = json_is_object(old) ? json_deep_copy(old) : json_object();

	if (!nw)
		return -1;
	json_object_update(nw, u->set);
	for (int i = 0; i < u->ncond; i++)
		set_cond(nw, u->cond[i].type, u->cond[i].status, u->cond[i].reason, u->cond[i].message, u->update_time);
	if (json_is_object(old) && json_equal(old, nw)) {
		json_decref(nw);
		return 1;
	}
	json_object_set_new(obj, "status", nw);
	return 0;
}

void kp_kcm__write_status(struct kp_kcm *C, int kind, const char *ns, const char *name, struct kp_kcm__status_upd *u)
{
	struct kp_store_key k = { KIND_GROUP[kind], KIND_RES[kind], ns, name };
	struct kp_errbuf eb = { 0 };
	enum kp_store_rc rc = kp_apiserver_mutate(C->L, &k, status_fn, u, &eb);
	if (rc && rc != KP_STORE_NOTFOUND)
		fprintf(stderr, "karpenter up: %s %s/%s status: %s\n", KIND_NAME[kind], ns, name, eb.msg);
	json_decref(u->set);
}

static int replicas_fn(void *ud, json_t *obj)
{
	int64_t want = *(const int64_t *)ud;
	json_t *spec = kp_kobj_child(obj, "spec"), *md = kp_kobj_child(obj, "metadata");
	if (json_object_get(md, "deletionTimestamp") || kp_kobj_int(spec, "replicas", 1) == want)
		return 1;
	json_object_set_new(spec, "replicas", json_integer(want));
	json_object_set_new(md, "generation", json_integer(kp_kobj_int(md, "generation", 1) + 1));
	return 0;
}

void kp_kcm__scale_rs(struct kp_kcm *C, const json_t *rs, int64_t want)
{
	const json_t *md = json_object_get(rs, "metadata");
	struct kp_store_key k = { "apps", "replicasets", kp_kobj_str(md, "namespace"), kp_kobj_str(md, "name") };
	struct kp_errbuf eb = { 0 };
	if (kp_kobj_int(json_object_get(rs, "spec"), "replicas", 1) == want)
		return;
	if (kp_apiserver_mutate(C->L, &k, replicas_fn, &want, &eb) && eb.msg[0])
		fprintf(stderr, "karpenter up: scale replicaset %s: %s\n", k.name, eb.msg);
}

/* ------------------------------------------------------- owned pods */

/* Active (not kp_kcm__deleting, not terminal) pods whose controller is uid, by key. */
void kp_kcm__owned_pods(struct kp_kcm *C, const char *uid, struct kp_kcm__podlist *out, bool include_inactive)
{
	struct kp_strmap *s = uid ? kp_strmap_get(&C->owned, uid) : NULL;
	size_t nk = 0;
	const char **keys = s ? kp_strmap_keys(s, &nk) : NULL;

	out->v = calloc(nk + 1, sizeof(*out->v));
	out->n = 0;
	for (size_t i = 0; out->v && i < nk; i++) {
		struct kp_kcm__pod *p = kp_strmap_get(&C->pods, keys[i]);
		if (p && (include_inactive || (!p->deleting && !p->terminal)))
			out->v[out->n++] = p;
	}
	free(keys);
}

/* A Pod object from a workload's template (new reference). */
json_t *kp_kcm__pod_from_template(const json_t *owner, const char *api_version, const char *kind,
				 const json_t *tmpl)
{
	const json_t *omd = json_object_get(owner, "metadata"), *tmd = json_object_get(tmpl, "metadata");
	json_t *pod = json_object(), *md = json_object(), *spec;

	json_object_set_new(pod, "apiVersion", json_string("v1"));
	json_object_set_new(pod, "kind", json_string("Pod"));
	json_object_set_new(md, "namespace", json_string(kp_kobj_str(omd, "namespace") ? kp_kobj_str(omd, "namespace") : "default"));
	json_object_set_new(md, "labels",
			    json_is_object(json_object_get(tmd, "labels")) ? json_deep_copy(json_object_get(tmd, "labels"))
									   : json_object());
	if (json_is_object(json_object_get(tmd, "annotations")))
		json_object_set_new(md, "annotations", json_deep_copy(json_object_get(tmd, "annotations")));
	json_object_set_new(md, "ownerReferences", json_pack("[o]", kp_kcm__owner_ref(api_version, kind, owner)));
	json_object_set_new(pod, "metadata", md);
	spec = json_deep_copy(json_object_get(tmpl, "spec"));
	json_object_set_new(pod, "spec", json_is_object(spec) ? spec : json_object());
	if (!json_is_object(spec))
		json_decref(spec);
	json_object_set_new(pod, "status", json_pack("{s:s}", "phase", "Pending"));
	return pod;
}

void kp_kcm__create_pod(struct kp_kcm *C, json_t *pod)
{
	kp_kcm__create_pods(C, &pod, 1);
}

void kp_kcm__create_pods(struct kp_kcm *C, json_t **pods, size_t n)
{
	enum kp_store_rc *rcs = calloc(n ? n : 1, sizeof(*rcs));
	struct kp_errbuf eb = { 0 };

	if (rcs) {
		kp_kcm__create_batch(C, "", "v1", "pods", pods, n, rcs, &eb);
		for (size_t i = 0; i < n; i++)
			if (rcs[i] != KP_STORE_OK) {
				fprintf(stderr, "karpenter up: create pod: %s\n", eb.msg[0] ? eb.msg : kp_store_rc_str(rcs[i]));
				break;
			}
	}
	free(rcs);
	for (size_t i = 0; i < n; i++)
		json_decref(pods[i]);
}

void kp_kcm__delete_pod(struct kp_kcm *C, struct kp_kcm__pod *p)
{
	struct kp_errbuf eb = { 0 };
	char *ns = strdup(p->ns), *name = strdup(p->name);
	if (ns && name && kp_kcm__delete(C, "", "pods", ns, name, &eb) && eb.msg[0])
		fprintf(stderr, "karpenter up: delete pod %s/%s: %s\n", ns, name, eb.msg);
	free(ns);
	free(name);
}

/* Deletion order of the ReplicaSet controller: unscheduled, then pending,
 * then not ready, then the newest. */
int kp_kcm__victim_cmp(const void *a, const void *b)
{
	const struct kp_kcm__pod *x = *(struct kp_kcm__pod *const *)a, *y = *(struct kp_kcm__pod *const *)b;
	if (!x->node != !y->node)
		return x->node ? 1 : -1;
	if (x->running != y->running)
		return x->running ? 1 : -1;
	if (x->ready != y->ready)
		return x->ready ? 1 : -1;
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* ------------------------------------------------------ reconcilers */

bool kp_kcm__deleting(const json_t *o)
{
	return json_object_get(json_object_get(o, "metadata"), "deletionTimestamp") != NULL;
}
typedef void (*reconcile_fn)(struct kp_kcm *C, const char *key);
static const reconcile_fn RECONCILE[CK_NKINDS] = { kp_kcm__reconcile_deploy, kp_kcm__reconcile_rs, kp_kcm__reconcile_ss, kp_kcm__reconcile_ds,
						   kp_kcm__reconcile_job, kp_kcm__reconcile_cronjob };

static void reconcile_all(struct kp_kcm *C)
{
	for (int k = 0; k < CK_NKINDS; k++) {
		struct kp_strmap work = C->dirty[k];
		size_t n;
		memset(&C->dirty[k], 0, sizeof(C->dirty[k]));
		const char **keys = kp_strmap_keys(&work, &n);
		for (size_t i = 0; keys && i < n; i++)
			RECONCILE[k](C, keys[i]);
		free(keys);
		kp_strmap_free(&work);
	}
	kp_kcm__schedule(C);
	kp_kcm__kubelet(C);
	/* pods created or scaled above changed ReplicaSets: one more round
	 * for their owners happens with the next batch */
}

static bool has_work(const struct kp_kcm *C)
{
	for (int k = 0; k < CK_NKINDS; k++)
		if (C->dirty[k].n)
			return true;
	return C->sched_dirty.n || (C->sched_all && C->pending.n) || C->kubelet_dirty.n;
}

/* ---------------------------------------------------------- the loop */

static void clear_caches(struct kp_kcm *C)
{
	KP_STRMAP_FOREACH(&C->pods, e)
		pod_free(e->val);
	kp_strmap_free(&C->pods);
	KP_STRMAP_FOREACH(&C->nodes, e) {
		struct kp_kcm__node *n = e->val;
		kp_cluster_free(&n->c);
		kp_strmap_free(&n->pods);
		free(n->host_ip);
		free(n->uid);
		free(n->name);
		free(n);
	}
	kp_strmap_free(&C->nodes);
	KP_STRMAP_FOREACH(&C->tomb, e)
		free(e->val);
	kp_strmap_free(&C->tomb);
	for (int k = 0; k < CK_NKINDS; k++) {
		KP_STRMAP_FOREACH(&C->objs[k], e) {
			struct kp_kcm__obj *o = e->val;
			json_decref(o->o);
			free(o);
		}
		kp_strmap_free(&C->objs[k]);
		kp_strmap_free(&C->dirty[k]);
	}
	index_free(&C->owned);
	index_free(&C->owned_rs);
	kp_strmap_free(&C->pending);
	kp_strmap_free(&C->sched_dirty);
	kp_strmap_free(&C->kubelet_dirty);
	kp_strmap_free(&C->terminating);
	C->next_term = 0;
	kp_kcm__timers_free(C);
	C->lease_ns = false;
}

struct list_ud {
	struct kp_kcm *C;
	const char *group, *resource;
};

static int list_fn(void *ud, const char *json, size_t len, int64_t rv)
{
	struct list_ud *u = ud;
	json_t *o = json_loadb(json, len, 0, NULL);
	const json_t *md = json_object_get(o, "metadata");
	(void)rv;
	if (md)
		observe(u->C, KP_EV_ADDED, u->group, u->resource, kp_kobj_str(md, "namespace"), kp_kobj_str(md, "name"), json, len,
			rv_of(o));
	json_decref(o);
	return 0;
}

static enum kp_store_rc sync_all(struct kp_kcm *C, struct kp_errbuf *eb)
{
	static const char *const RES[][2] = { { "", "nodes" }, { "", "pods" }, { "apps", "deployments" },
					      { "apps", "replicasets" }, { "apps", "statefulsets" },
					      { "apps", "daemonsets" }, { "batch", "jobs" }, { "batch", "cronjobs" } };
	int64_t rv0 = kp_store_rv(C->L->store);

	clear_caches(C);
	kp_store_watch_close(C->w);
	C->w = NULL;
	for (size_t i = 0; i < KP_ARRAY_LEN(RES); i++) {
		struct list_ud u = { C, RES[i][0], RES[i][1] };
		kp_store_list(C->L->store, RES[i][0], RES[i][1], NULL, list_fn, &u, NULL, NULL);
	}
	C->sched_all = true;
	return kp_store_watch_open(C->L->store, NULL, NULL, NULL, rv0, &C->w, eb);
}

/* True while a simulated cloud is attached (kp_kcm_set_cloud may change it
 * from another thread, so it is read under cloud_mu). */
static bool has_cloud(struct kp_kcm *C)
{
	bool on;
	pthread_mutex_lock(&C->cloud_mu);
	on = C->cloud != NULL;
	pthread_mutex_unlock(&C->cloud_mu);
	return on;
}

static void *ctl_main(void *arg)
{
	struct kp_kcm *C = arg;
	int64_t batch_start = 0;

	for (;;) {
		struct kp_store_event ev;
		struct kp_errbuf eb = { 0 };
		int64_t now = kp_kcm__now_ms(), wait = 500;
		bool work = has_work(C);

		if (atomic_load(&C->L->stopping))
			break;
		if (work) {
			if (!batch_start)
				batch_start = now;
			wait = BATCH_IDLE_MS;
			if (now - batch_start >= BATCH_MAX_MS)
				wait = 0;
		}
		bool cloud = has_cloud(C);
		if (cloud && C->next_cloud_poll - now < wait)
			wait = C->next_cloud_poll > now ? C->next_cloud_poll - now : 0;
		if (C->next_term && C->next_term - now < wait)
			wait = C->next_term > now ? C->next_term - now : 0;
		if (C->next_timer && C->next_timer - now < wait)
			wait = C->next_timer > now ? C->next_timer - now : 0;
		enum kp_store_rc rc = wait > 0 || !work ? kp_store_watch_next(C->w, wait, &ev, &eb) : KP_STORE_TIMEOUT;
		if (rc == KP_STORE_OK) {
			observe(C, ev.type, ev.group, ev.resource, ev.ns, ev.name, ev.json, ev.len, ev.rv);
			if ((!work || kp_kcm__now_ms() - batch_start < BATCH_MAX_MS) &&
			    !(C->next_term && kp_kcm__now_ms() >= C->next_term) &&
			    !(C->next_timer && kp_kcm__now_ms() >= C->next_timer))
				continue;
		} else if (rc == KP_STORE_CLOSED) {
			break;
		} else if (rc == KP_STORE_GONE) {
			if (sync_all(C, &eb)) {
				fprintf(stderr, "karpenter up: controllers: resync: %s\n", eb.msg);
				break;
			}
			continue;
		} else if (rc != KP_STORE_TIMEOUT) {
			fprintf(stderr, "karpenter up: controllers: watch: %s\n", eb.msg);
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		if (cloud && kp_kcm__now_ms() >= C->next_cloud_poll) {
			kp_kcm__node_lifecycle(C);
			C->next_cloud_poll = kp_kcm__now_ms() + 500;
		}
		if (C->next_term && kp_kcm__now_ms() >= C->next_term)
			kubelet_terminate(C);
		if (C->next_timer && kp_kcm__now_ms() >= C->next_timer)
			kp_kcm__timers_fire(C);
		if (has_work(C)) {
			reconcile_all(C);
			batch_start = 0;
		}
	}
	return NULL;
}

/* ------------------------------------------------------ life cycle */

static void ensure_log_pod(struct kp_kcm *C)
{
	struct kp_store_key nk = { "", "namespaces", "", KP_APISERVER_LOG_NS };
	struct kp_store_key pk = { "", "pods", KP_APISERVER_LOG_NS, KP_APISERVER_LOG_POD };
	struct kp_errbuf eb = { 0 };
	char *have = NULL, ts[40];

	if (kp_store_get(C->L->store, &nk, &have, NULL, NULL) != KP_STORE_OK) {
		json_t *ns = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:[s]}, s:{s:s}}", "apiVersion", "v1", "kind",
				       "Namespace", "metadata", "name", KP_APISERVER_LOG_NS, "labels", "kubernetes.io/metadata.name",
				       KP_APISERVER_LOG_NS, "spec", "finalizers", "kubernetes", "status", "phase", "Active");
		kp_kcm__create(C, "", "v1", "namespaces", ns, &eb);
		json_decref(ns);
	}
	free(have);
	have = NULL;
	if (kp_store_get(C->L->store, &pk, &have, NULL, NULL) == KP_STORE_OK) {
		free(have);
		return;
	}
	kp_kobj_now_rfc3339(ts, sizeof(ts));
	json_t *pod = json_pack(
		"{s:s, s:s,"
		" s:{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}},"
		" s:{s:[{s:s, s:s}], s:s},"
		" s:{s:s, s:s, s:s, s:s, s:s,"
		"    s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}],"
		"    s:[{s:s, s:s, s:s, s:b, s:b, s:i, s:{s:{s:s}}}]}}",
		"apiVersion", "v1", "kind", "Pod",
		"metadata", "name", KP_APISERVER_LOG_POD, "namespace", KP_APISERVER_LOG_NS,
		"labels", "app.kubernetes.io/name", KP_APISERVER_LOG_APP, "app.kubernetes.io/instance", KP_APISERVER_LOG_APP,
		"annotations", "kubernetes.io/config.mirror", "karpenter-up", "kubernetes.io/config.source", "karpenter-up",
		"spec", "containers", "name", "controller", "image", "karpenter-c", "schedulerName", "karpenter-up-static",
		"status", "phase", "Running", "podIP", "127.0.0.1", "hostIP", "127.0.0.1", "startTime", ts, "qosClass",
		"BestEffort",
		"conditions", "type", "Initialized", "status", "True", "lastTransitionTime", ts, "type", "Ready", "status",
		"True", "lastTransitionTime", ts, "type", "ContainersReady", "status", "True", "lastTransitionTime", ts,
		"type", "PodScheduled", "status", "True", "lastTransitionTime", ts,
		"containerStatuses", "name", "controller", "image", "karpenter-c", "imageID", "karpenter-c", "ready", 1, "started", 1,
		"restartCount", 0, "state", "running", "startedAt", ts);
	if (pod && kp_kcm__create(C, "", "v1", "pods", pod, &eb))
		fprintf(stderr, "karpenter up: controller pod: %s\n", eb.msg);
	json_decref(pod);
}

kp_err kp_kcm_start(struct kp_apiserver *L, struct kp_kcm **out, struct kp_errbuf *eb)
{
	struct kp_kcm *C = calloc(1, sizeof(*C));

	*out = NULL;
	if (!C)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	C->L = L;
	pthread_mutex_init(&C->cloud_mu, NULL);
	C->grace_cap_ms = L->cfg.grace_cap_ms == 0 ? 2000 : L->cfg.grace_cap_ms < 0 ? INT64_MAX : L->cfg.grace_cap_ms;
	ensure_log_pod(C);
	if (sync_all(C, eb) || kp_kcm__pdb_start(L, &C->pdb, eb)) {
		kp_kcm_stop(C);
		return KP_ERR_IO;
	}
	if (pthread_create(&C->th, NULL, ctl_main, C) != 0) {
		kp_kcm_stop(C);
		return kp_errf(eb, KP_ERR_IO, "controllers: cannot start thread");
	}
	C->running = true;
	kp_apiserver_logf(L, "controllers running: deployment, replicaset, statefulset, daemonset, job, cronjob, ttl-after-finished, scheduler, kubelet");
	*out = C;
	return KP_OK;
}

void kp_kcm_stop(struct kp_kcm *C)
{
	if (!C)
		return;
	kp_kcm__pdb_stop(C->pdb);
	C->pdb = NULL;
	if (C->running)
		pthread_join(C->th, NULL);
	kp_store_watch_close(C->w);
	clear_caches(C);
	pthread_mutex_destroy(&C->cloud_mu);
	free(C);
}

void kp_kcm_set_cloud(struct kp_kcm *C, struct kp_cloud *cloud)
{
	if (!C)
		return;
	pthread_mutex_lock(&C->cloud_mu);
	C->cloud = cloud;
	pthread_mutex_unlock(&C->cloud_mu);
}
