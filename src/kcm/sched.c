/*
 * sched.c - the scheduler, the kubelet stand-in and the node lifecycle
 * of `karpenter up`'s built-in controllers (loop in core.c).
 *
 * Scheduler: pending pods (no nodeName, default scheduler, not deleting)
 * are taken by (priority desc, creation, key) and filtered against every
 * Node in name order with the kube-scheduler's default filters in its
 * order: NodeUnschedulable, TaintToleration (NoSchedule/NoExecute, a
 * NotReady node counts as tainted node.kubernetes.io/not-ready), node
 * selector and required node affinity (the engine's requirements), host
 * ports, and resources (requests + 1 pod against allocatable minus the
 * requests of the pods bound there); VolumeBinding only as far as a bound
 * claim's PersistentVolume node affinity, any of its nodeSelectorTerms
 * ("volume node affinity conflict"), and an unbound WaitForFirstConsumer
 * claim's StorageClass allowedTopologies, any of its terms ("didn't find
 * available persistent volumes to bind"); a missing claim, volume or class
 * restricts nothing. The feasible node with the most free
 * cpu and memory (least allocated) wins, ties by name; the pod is bound by
 * setting spec.nodeName (the binding subresource's effect) with
 * PodScheduled=True. A pod that fits nowhere gets PodScheduled=False,
 * reason Unschedulable and the kube-scheduler's message ("0/3 nodes are
 * available: 3 Insufficient cpu."), written only when it changes. Pod
 * (anti-)affinity and topology spread are NOT evaluated. Only well-known
 * resources (cpu, memory, pods, GPUs, ...) are compared.
 *
 * Kubelet: a pod bound to a Ready node becomes Running with its
 * conditions, container statuses, podIP, hostIP and startTime (status
 * only). Node lifecycle: instances the simulated cloud reports RUNNING get
 * a Node; terminated ones lose it.
 *
 * Cost: a pass is O(candidates x nodes) with O(1) checks per pair
 * (resource usage is kept incrementally per node); candidates are the pods
 * that changed, or all pending pods when nodes or bound pods changed; at
 * most SCHED_PER_PASS per pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloud/fake.h"
#include "karpenter/quantity.h"
#include "load/load.h"
#include "kcm/kcm_int.h"

#define SCHED_PER_PASS 2000
#define KUBELET_PER_PASS 2000
#define MAX_REASONS 24

/* ---------------------------------------------------------- decoding */

void kp_kcm__pod_decode(struct kp_kcm__pod *p, const json_t *obj)
{
	struct kp_load_opts opts = { NULL, 0 };
	struct kp_errbuf eb = { 0 };
	struct kp_cluster c;

	kp_res_zero(&p->req);
	kp_cluster_init(&c);
	if (kp_load_object(&c, obj, "Pod", "v1", "pod", &opts, &eb) == KP_OK && c.npods == 1) {
		const struct kp_pod *q = c.pods[0];
		for (int i = 0; i < KP_RES_NWELLKNOWN; i++)
			p->req.v[i] = q->requests.v[i];
		if (q->host_ports.n > 0 && (p->ports = calloc((size_t)q->host_ports.n, sizeof(*p->ports)))) {
			for (int i = 0; i < q->host_ports.n; i++) {
				p->ports[i] = q->host_ports.p[i];
				p->ports[i].ip = strdup(q->host_ports.p[i].ip ? q->host_ports.p[i].ip : "");
			}
			p->nports = q->host_ports.n;
		}
	}
	kp_res_set_str(&p->req, KP_RES_PODS, "1", NULL);
	kp_cluster_free(&c);
}

/* --------------------------------------------------------- scheduler */

struct reasons {
	int n;
	struct {
		char text[300];
		int count;
	} r[MAX_REASONS];
};

static void reason_add(struct reasons *rs, const char *text)
{
	for (int i = 0; i < rs->n; i++)
		if (strcmp(rs->r[i].text, text) == 0) {
			rs->r[i].count++;
			return;
		}
	if (rs->n == MAX_REASONS)
		return;
	snprintf(rs->r[rs->n].text, sizeof(rs->r[rs->n].text), "%s", text);
	rs->r[rs->n++].count = 1;
}

static int reason_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static bool ports_conflict(struct kp_kcm *C, const struct kp_kcm__pod *cp, struct kp_kcm__node *cn)
{
	if (!cp->nports)
		return false;
	KP_STRMAP_FOREACH(&cn->pods, e) {
		const struct kp_kcm__pod *o = kp_strmap_get(&C->pods, e->key);
		for (int i = 0; o && i < o->nports; i++)
			for (int j = 0; j < cp->nports; j++)
				if (kp_hostport_conflicts(&o->ports[i], &cp->ports[j]))
					return true;
	}
	return false;
}

static const char *res_name(const struct kp_resnames *rn, int idx)
{
	return idx < rn->n ? rn->name[idx] : "?";
}

/* True when the pod fits the node; otherwise adds the node's reasons. */
static bool fits(struct kp_kcm *C, const struct kp_pod *pod, const struct kp_kcm__pod *cp, struct kp_kcm__node *cn,
		 const struct kp_resnames *rn, struct reasons *rs)
{
	const struct kp_node *n = cn->n;
	char buf[300];

	if (n->unschedulable || n->deleting) {
		struct kp_taint t = { "node.kubernetes.io/unschedulable", NULL, KP_EFFECT_NOSCHEDULE };
		if (n->deleting || !kp_tolerates(&pod->tolerations, &t)) {
			reason_add(rs, "node(s) were unschedulable");
			return false;
		}
	}
	if (!n->ready) {
		struct kp_taint t = { "node.kubernetes.io/not-ready", NULL, KP_EFFECT_NOEXECUTE };
		if (!kp_tolerates(&pod->tolerations, &t)) {
			reason_add(rs, "node(s) had untolerated taint {node.kubernetes.io/not-ready: }");
			return false;
		}
	}
	for (int i = 0; i < n->taints.n; i++) {
		const struct kp_taint *t = &n->taints.t[i];
		if (t->effect == KP_EFFECT_PREFERNOSCHEDULE || kp_tolerates(&pod->tolerations, t))
			continue;
		snprintf(buf, sizeof(buf), "node(s) had untolerated taint {%s: %s}", t->key, t->value ? t->value : "");
		reason_add(rs, buf);
		return false;
	}
	bool match = true;
	for (int i = 0; i < pod->node_selector.n && match; i++) {
		const char *v = kp_labels_get(&n->labels, pod->node_selector.kv[i].key);
		match = v && strcmp(v, pod->node_selector.kv[i].value) == 0;
	}
	if (match && pod->nrequired_terms > 0) {
		match = false;
		for (int i = 0; i < pod->nrequired_terms && !match; i++)
			match = kp_reqs_match_labels(&pod->required_terms[i].reqs, &n->labels, NULL);
	}
	if (!match) {
		reason_add(rs, "node(s) didn't match Pod's node affinity/selector");
		return false;
	}
	if (ports_conflict(C, cp, cn)) {
		reason_add(rs, "node(s) didn't have free ports for the requested pod ports");
		return false;
	}
	bool ok = true;
	for (int i = 0; i < KP_RES_NWELLKNOWN; i++) {
		int64_t need = cp->req.v[i];
		if (need <= 0 || need <= n->allocatable.v[i] - cn->used.v[i])
			continue;
		ok = false;
		if (i == KP_RES_PODS)
			reason_add(rs, "Too many pods");
		else {
			snprintf(buf, sizeof(buf), "Insufficient %s", res_name(rn, i));
			reason_add(rs, buf);
		}
	}
	return ok;
}

static double free_score(const struct kp_kcm__node *cn, const struct kp_kcm__pod *cp)
{
	double s = 0;
	const int idx[2] = { KP_RES_CPU, KP_RES_MEMORY };
	for (int k = 0; k < 2; k++) {
		int i = idx[k];
		int64_t a = cn->n->allocatable.v[i];
		if (a > 0)
			s += (double)(a - cn->used.v[i] - cp->req.v[i]) / (double)a;
	}
	return s;
}

static void set_cond(json_t *status, const char *type, const char *st, const char *reason, const char *msg)
{
	json_t *arr = json_object_get(status, "conditions"), *c = NULL, *v;
	char ts[40];
	size_t i;

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
	if (!kp_kobj_str(c, "status") || strcmp(kp_kobj_str(c, "status"), st) != 0) {
		kp_kobj_now_rfc3339(ts, sizeof(ts));
		json_object_set_new(c, "lastTransitionTime", json_string(ts));
	}
	json_object_set_new(c, "status", json_string(st));
	json_object_set_new(c, "lastProbeTime", json_null());
	if (reason)
		json_object_set_new(c, "reason", json_string(reason));
	else
		json_object_del(c, "reason");
	if (msg)
		json_object_set_new(c, "message", json_string(msg));
	else
		json_object_del(c, "message");
}

struct bind_ud {
	const char *node;
	bool done;
};

static int bind_fn(void *ud, json_t *pod)
{
	struct bind_ud *b = ud;
	json_t *spec = kp_kobj_child(pod, "spec");
	const char *cur = kp_kobj_str(spec, "nodeName");

	if ((cur && *cur) || json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp"))
		return 1;
	json_object_set_new(spec, "nodeName", json_string(b->node));
	set_cond(kp_kobj_child(pod, "status"), "PodScheduled", "True", NULL, NULL);
	b->done = true;
	return 0;
}

static int unsched_fn(void *ud, json_t *pod)
{
	const char *msg = ud;
	json_t *spec = json_object_get(pod, "spec"), *st = kp_kobj_child(pod, "status"), *c, *v;
	size_t i;

	if ((kp_kobj_str(spec, "nodeName") && *kp_kobj_str(spec, "nodeName")) ||
	    json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp"))
		return 1;
	c = NULL;
	json_array_foreach(json_object_get(st, "conditions"), i, v)
		if (kp_kobj_str(v, "type") && !strcmp(kp_kobj_str(v, "type"), "PodScheduled"))
			c = v;
	if (c && kp_kobj_str(c, "status") && !strcmp(kp_kobj_str(c, "status"), "False") && kp_kobj_str(c, "message") &&
	    !strcmp(kp_kobj_str(c, "message"), msg) && kp_kobj_str(c, "reason") && !strcmp(kp_kobj_str(c, "reason"), "Unschedulable"))
		return 1;
	if (!kp_kobj_str(st, "phase"))
		json_object_set_new(st, "phase", json_string("Pending"));
	set_cond(st, "PodScheduled", "False", "Unschedulable", msg);
	return 0;
}

static int node_cmp(const void *a, const void *b)
{
	const struct kp_kcm__node *x = *(struct kp_kcm__node *const *)a, *y = *(struct kp_kcm__node *const *)b;
	return strcmp(x->name, y->name);
}

static int pod_cmp(const void *a, const void *b)
{
	const struct kp_kcm__pod *x = *(struct kp_kcm__pod *const *)a, *y = *(struct kp_kcm__pod *const *)b;
	if (x->prio != y->prio)
		return x->prio > y->prio ? -1 : 1;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void message(const struct reasons *rs, int nnodes, char *buf, size_t n)
{
	struct reasons s = *rs;
	size_t o;

	if (nnodes == 0) {
		snprintf(buf, n, "no nodes available to schedule pods");
		return;
	}
	qsort(s.r, (size_t)s.n, sizeof(s.r[0]), reason_cmp);
	o = (size_t)snprintf(buf, n, "0/%d nodes are available:", nnodes);
	for (int i = 0; i < s.n && o < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s %d %s", i ? "," : "", s.r[i].count, s.r[i].text);
	if (o < n)
		snprintf(buf + o, n - o, ".");
}

/* One volume's topology: ORed alternatives a node must match one of. */
struct vol_topo {
	const struct kp_reqs *terms;
	int n;
	bool provision;             /* an unbound claim's StorageClass, not a bound volume */
};

/* Loads into pc the claims of the pod's volumes, their bound volumes and,
 * for unbound claims, their StorageClasses, from the store; fills vt[] with
 * the topologies that restrict nodes: a bound volume's nodeAffinity (every
 * nodeSelectorTerm), an unbound WaitForFirstConsumer claim's class
 * allowedTopologies (every term), as the kube-scheduler's VolumeBinding
 * checks them (checkBoundClaims, checkVolumeProvisions). */
static int volume_topologies(struct kp_kcm *C, struct kp_cluster *pc, const struct kp_pod *p, struct vol_topo *vt,
			     int max)
{
	struct kp_load_opts opts = { NULL, 0 };
	int n = 0;

	for (int i = 0; i < p->nvolumes && n < max; i++) {
		const struct kp_pod_volume *v = &p->volumes[i];
		struct kp_store_key k = { "", "persistentvolumeclaims", p->ns ? p->ns : "", v->claim };
		char *text = NULL;
		const struct kp_pvc *pvc;

		if (v->ephemeral || !v->claim || kp_store_get(C->L->store, &k, &text, NULL, NULL) != KP_STORE_OK)
			continue;
		kp_load_buffer(pc, "pvc", text, strlen(text), &opts, NULL);
		free(text);
		pvc = kp_cluster_pvc(pc, p->ns, v->claim);
		if (!pvc)
			continue;
		if (!pvc->volume_name) {
			if (!pvc->storage_class || !*pvc->storage_class)
				continue;
			const struct kp_storageclass *sc = kp_cluster_storageclass(pc, pvc->storage_class);
			struct kp_store_key sk = { "storage.k8s.io", "storageclasses", "", pvc->storage_class };
			if (!sc && kp_store_get(C->L->store, &sk, &text, NULL, NULL) == KP_STORE_OK) {
				kp_load_buffer(pc, "storageclass", text, strlen(text), &opts, NULL);
				free(text);
				sc = kp_cluster_storageclass(pc, pvc->storage_class);
			}
			if (sc && sc->wait_for_first_consumer && sc->has_topology && sc->nterms > 0)
				vt[n++] = (struct vol_topo){ sc->terms, sc->nterms, true };
			continue;
		}
		struct kp_store_key vk = { "", "persistentvolumes", "", pvc->volume_name };
		if (kp_store_get(C->L->store, &vk, &text, NULL, NULL) != KP_STORE_OK)
			continue;
		kp_load_buffer(pc, "pv", text, strlen(text), &opts, NULL);
		free(text);
		const struct kp_pv *pv = kp_cluster_pv(pc, pvc->volume_name);
		if (pv && pv->has_affinity && pv->nterms > 0)
			vt[n++] = (struct vol_topo){ pv->terms, pv->nterms, false };
	}
	return n;
}

/* The scheduler's pending writes of one pass: bindings and
 * PodScheduled=False updates, written together (kp_kcm__write_batch). */
struct sched_batch {
	struct kp_store_write *w;
	char **key;                 /* the pod's cache key */
	char **text;                /* a binding: the pending pod's JSON, given back if it fails */
	char **msg;                 /* an Unschedulable update: its message */
	size_t n, cap;
};

static bool sched_batch_add(struct sched_batch *b, struct kp_kcm__pod *p, json_t *obj)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct kp_store_write *w = realloc(b->w, cap * sizeof(*w));
		if (w)
			b->w = w;
		char **k = w ? realloc(b->key, cap * sizeof(*k)) : NULL;
		if (k)
			b->key = k;
		char **t = k ? realloc(b->text, cap * sizeof(*t)) : NULL;
		if (t)
			b->text = t;
		char **m = t ? realloc(b->msg, cap * sizeof(*m)) : NULL;
		if (!m)
			return false;
		b->msg = m;
		b->cap = cap;
	}
	b->key[b->n] = strdup(p->key);
	if (!b->key[b->n])
		return false;
	b->w[b->n] = (struct kp_store_write){ .op = KP_STORE_OP_UPDATE, .obj = obj, .expect_rv = p->rv };
	b->w[b->n].key = (struct kp_store_key){ "", "pods", p->ns, p->name };
	b->text[b->n] = NULL;
	b->msg[b->n] = NULL;
	b->n++;
	return true;
}

/* Decides where cp goes: the bind (or Unschedulable update) is queued in
 * b, and a binding is counted on its node at once so that the next pods
 * of the pass see it. */
static void schedule_one(struct kp_kcm *C, struct kp_kcm__pod *cp, struct kp_kcm__node **nodes, size_t nn,
			 const struct kp_resnames *rn, struct sched_batch *b)
{
	struct kp_load_opts opts = { NULL, 0 };
	struct kp_errbuf eb = { 0 };
	struct kp_cluster pc;
	struct reasons rs = { 0 };
	struct kp_kcm__node *best = NULL;
	double best_score = 0;
	char msg[1200];
	json_t *obj;

	if (!cp->text || !(obj = json_loads(cp->text, 0, NULL)))
		return;
	kp_cluster_init(&pc);
	if (kp_load_object(&pc, obj, "Pod", "v1", "pod", &opts, &eb) || pc.npods != 1) {
		kp_cluster_free(&pc);
		json_decref(obj);
		return;
	}
	kp_cluster_link(&pc);
	struct vol_topo vt[8];
	int nvt = pc.pods[0]->nvolumes ? volume_topologies(C, &pc, pc.pods[0], vt, 8) : 0;
	for (size_t i = 0; i < nn; i++) {
		int bad = -1;
		for (int v = 0; v < nvt && bad < 0 && nodes[i]->n; v++)
			if (!kp_reqs_any_match_labels(vt[v].terms, vt[v].n, &nodes[i]->n->labels))
				bad = v;
		if (bad >= 0) {
			reason_add(&rs, vt[bad].provision ? "node(s) didn't find available persistent volumes to bind"
							  : "node(s) had volume node affinity conflict");
			continue;
		}
		if (!fits(C, pc.pods[0], cp, nodes[i], rn, &rs))
			continue;
		double s = free_score(nodes[i], cp);
		if (!best || s > best_score) {
			best = nodes[i];
			best_score = s;
		}
	}
	kp_cluster_free(&pc);
	if (!best) {
		message(&rs, (int)nn, msg, sizeof(msg));
		if (cp->unsched_msg && !strcmp(cp->unsched_msg, msg)) {
			json_decref(obj);
			return;
		}
	}
	if (best) {
		struct bind_ud bu = { best->name, false };
		if (bind_fn(&bu, obj) != 0 || !sched_batch_add(b, cp, obj)) {
			json_decref(obj);
			return;
		}
		b->text[b->n - 1] = cp->text;   /* taken back from the pod until the write is done */
		cp->text = NULL;
		kp_kcm__pod_bound(C, cp, best->name);
		return;
	}
	if (unsched_fn(msg, obj) != 0 || !sched_batch_add(b, cp, obj)) {
		json_decref(obj);
		return;
	}
	b->msg[b->n - 1] = strdup(msg);
}

/* Writes the pass's bindings and updates in one batch. A binding that
 * fails is undone (the pod is pending again; a conflict means a newer
 * version is on its way through the watch). */
static void sched_flush(struct kp_kcm *C, struct sched_batch *b)
{
	struct kp_errbuf eb = { 0 };

	C->spec_kept = true;   /* nodeName and status only */
	kp_kcm__write_batch(C, b->w, b->n, &eb);
	C->spec_kept = false;
	for (size_t i = 0; i < b->n; i++) {
		struct kp_kcm__pod *p = kp_strmap_get(&C->pods, b->key[i]);
		if (b->w[i].rc != KP_STORE_OK) {
			if (b->text[i] && p && p->rv == b->w[i].expect_rv) {
				kp_kcm__pod_unbound(C, p, b->text[i]);
				b->text[i] = NULL;
			}
			if (b->w[i].rc != KP_STORE_CONFLICT && b->w[i].rc != KP_STORE_NOTFOUND)
				fprintf(stderr, "karpenter up: scheduler: pod %s: %s\n", b->key[i], kp_store_rc_str(b->w[i].rc));
		} else if (b->msg[i] && p) {
			free(p->unsched_msg);
			p->unsched_msg = b->msg[i];
			b->msg[i] = NULL;
		}
		json_decref(b->w[i].obj);
		free(b->key[i]);
		free(b->text[i]);
		free(b->msg[i]);
	}
	free(b->w);
	free(b->key);
	free(b->text);
	free(b->msg);
	memset(b, 0, sizeof(*b));
}

void kp_kcm__schedule(struct kp_kcm *C)
{
	struct kp_kcm__pod **cand;
	struct kp_kcm__node **nodes;
	struct kp_resnames rn;
	struct sched_batch b = { 0 };
	size_t nc = 0, nn = 0;

	if (!C->pending.n) {
		kp_strmap_free(&C->sched_dirty);
		C->sched_all = false;
		return;
	}
	cand = calloc(C->pending.n + 1, sizeof(*cand));
	nodes = calloc(C->nodes.n + 1, sizeof(*nodes));
	if (!cand || !nodes) {
		free(cand);
		free(nodes);
		return;
	}
	KP_STRMAP_FOREACH(&C->pending, e)
		if (C->sched_all || kp_strmap_get(&C->sched_dirty, e->key))
			cand[nc++] = e->val;
	kp_strmap_free(&C->sched_dirty);
	C->sched_all = false;
	KP_STRMAP_FOREACH(&C->nodes, e) {
		struct kp_kcm__node *n = e->val;
		if (n->n)
			nodes[nn++] = n;
	}
	qsort(cand, nc, sizeof(*cand), pod_cmp);
	qsort(nodes, nn, sizeof(*nodes), node_cmp);
	kp_resnames_init(&rn);
	/* copy keys first: binding changes the pending map */
	char **keys = calloc(nc + 1, sizeof(*keys));
	for (size_t i = 0; keys && i < nc; i++)
		keys[i] = strdup(cand[i]->key);
	for (size_t i = 0; keys && i < nc; i++) {
		struct kp_kcm__pod *p = keys[i] ? kp_strmap_get(&C->pending, keys[i]) : NULL;
		if (i >= SCHED_PER_PASS) {
			if (p)
				kp_kcm__mark(C, &C->sched_dirty, keys[i]);
			continue;
		}
		if (p)
			schedule_one(C, p, nodes, nn, &rn, &b);
	}
	sched_flush(C, &b);
	for (size_t i = 0; keys && i < nc; i++)
		free(keys[i]);
	free(keys);
	free(cand);
	free(nodes);
}

/* ------------------------------------------------------------ kubelet */

struct run_ud {
	const char *node, *host_ip;
	char pod_ip[32];
};

static int run_fn(void *ud, json_t *pod)
{
	struct run_ud *u = ud;
	json_t *spec = json_object_get(pod, "spec"), *st = kp_kobj_child(pod, "status");
	const char *node = kp_kobj_str(spec, "nodeName");
	char ts[40];

	if (!node || strcmp(node, u->node) != 0 || json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp"))
		return 1;
	if (kp_kobj_str(st, "phase") && !strcmp(kp_kobj_str(st, "phase"), "Running") && kp_kobj_str(st, "podIP"))
		return 1;
	kp_kobj_now_rfc3339(ts, sizeof(ts));
	json_object_set_new(st, "phase", json_string("Running"));
	json_object_set_new(st, "hostIP", json_string(u->host_ip));
	json_object_set_new(st, "hostIPs", json_pack("[{s:s}]", "ip", u->host_ip));
	json_object_set_new(st, "podIP", json_string(u->pod_ip));
	json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", u->pod_ip));
	if (!kp_kobj_str(st, "startTime"))
		json_object_set_new(st, "startTime", json_string(ts));
	set_cond(st, "PodReadyToStartContainers", "True", NULL, NULL);
	set_cond(st, "Initialized", "True", NULL, NULL);
	set_cond(st, "Ready", "True", NULL, NULL);
	set_cond(st, "ContainersReady", "True", NULL, NULL);
	set_cond(st, "PodScheduled", "True", NULL, NULL);
	kp_kcm__container_statuses(pod, kp_kobj_str(st, "startTime"), true, 0, NULL);
	return 0;
}

/* Starts the pod key without a cached text: read-modify-write on its own. */
static void kubelet_run_one(struct kp_kcm *C, const char *key, struct run_ud *u)
{
	struct kp_kcm__pod *p = kp_strmap_get(&C->pods, key);
	struct kp_errbuf eb = { 0 };

	if (!p)
		return;
	struct kp_store_key k = { "", "pods", p->ns, p->name };
	if (kp_apiserver_mutate(C->L, &k, run_fn, u, &eb) == KP_STORE_OK) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		p->running = p->ready = true;
		p->run_wall = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	}
}

void kp_kcm__kubelet(struct kp_kcm *C)
{
	struct kp_strmap work = C->kubelet_dirty;
	size_t nk, nw = 0;
	const char **keys;
	struct kp_store_write *ws;
	struct run_ud *us;
	char **wkeys;
	struct kp_errbuf eb = { 0 };

	memset(&C->kubelet_dirty, 0, sizeof(C->kubelet_dirty));
	keys = kp_strmap_keys(&work, &nk);
	ws = calloc(nk + 1, sizeof(*ws));
	us = calloc(nk + 1, sizeof(*us));
	wkeys = calloc(nk + 1, sizeof(*wkeys));
	for (size_t i = 0; keys && ws && us && wkeys && i < nk; i++) {
		struct kp_kcm__pod *p = kp_strmap_get(&C->pods, keys[i]);
		struct kp_kcm__node *n;
		json_t *obj;

		if (!p || !p->node || p->deleting || p->terminal || (p->running && p->ready))
			continue;
		if (i >= KUBELET_PER_PASS) {
			kp_kcm__mark(C, &C->kubelet_dirty, keys[i]);
			continue;
		}
		n = kp_strmap_get(&C->nodes, p->node);
		if (!n || !n->n || !n->n->ready)
			continue;   /* the node's next event re-marks its pods */
		struct run_ud *u = &us[nw];
		u->node = n->name;
		u->host_ip = n->host_ip ? n->host_ip : "10.0.0.1";
		uint32_t s = ++C->ip_seq;
		snprintf(u->pod_ip, sizeof(u->pod_ip), "10.%u.%u.%u", 244u + ((s >> 16) & 7u), (s >> 8) & 0xffu,
			 1u + (s & 0xffu) % 254u);
		if (!p->text || !(obj = json_loads(p->text, 0, NULL))) {
			kubelet_run_one(C, keys[i], u);
			continue;
		}
		if (run_fn(u, obj) != 0 || !(wkeys[nw] = strdup(keys[i]))) {
			json_decref(obj);
			continue;
		}
		ws[nw] = (struct kp_store_write){ .op = KP_STORE_OP_UPDATE, .obj = obj, .expect_rv = p->rv };
		ws[nw].key = (struct kp_store_key){ "", "pods", p->ns, p->name };
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		p->run_wall = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;   /* the cache update keeps it */
		nw++;
	}
	/* every start of the pass in one transaction */
	C->spec_kept = true;   /* status only */
	kp_kcm__write_batch(C, ws, nw, &eb);
	C->spec_kept = false;
	for (size_t i = 0; i < nw; i++) {
		if (ws[i].rc == KP_STORE_CONFLICT)
			kubelet_run_one(C, wkeys[i], &us[i]);   /* changed meanwhile: start it from its current state */
		else if (ws[i].rc != KP_STORE_OK && ws[i].rc != KP_STORE_NOTFOUND)
			fprintf(stderr, "karpenter up: kubelet: pod %s: %s\n", wkeys[i], kp_store_rc_str(ws[i].rc));
		json_decref(ws[i].obj);
		free(wkeys[i]);
	}
	free(ws);
	free(us);
	free(wkeys);
	free(keys);
	kp_strmap_free(&work);
}

/* ----------------------------------------------------- node lifecycle */

/* The identities a kubelet reports in nodeInfo, derived from the
 * instance (stable across restarts): bootID and systemUUID as UUIDs (EC2's
 * systemUUID starts with "ec2"), machineID 32 hex digits. */
struct node_ids {
	char boot[40], machine[40], uuid[40];
};

static void node_ids(const char *seed, struct node_ids *out)
{
	uint64_t h[4];
	for (int i = 0; i < 4; i++) {
		h[i] = 1469598103934665603ull ^ ((uint64_t)i * 0x9e3779b97f4a7c15ull);
		for (const char *p = seed; *p; p++)
			h[i] = (h[i] ^ (unsigned char)*p) * 1099511628211ull;
	}
	snprintf(out->boot, sizeof(out->boot), "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(h[0] >> 32),
		 (unsigned)(h[0] >> 16) & 0xffffu, (unsigned)h[0] & 0xfffu, (unsigned)(h[1] >> 52) & 0xfffu,
		 (unsigned long long)(h[1] & 0xffffffffffffull));
	snprintf(out->machine, sizeof(out->machine), "%016llx%016llx", (unsigned long long)h[2], (unsigned long long)h[3]);
	snprintf(out->uuid, sizeof(out->uuid), "ec2%05x-%04x-%04x-%04x-%012llx", (unsigned)(h[2] >> 44) & 0xfffffu,
		 (unsigned)(h[2] >> 16) & 0xffffu, (unsigned)h[2] & 0xffffu, (unsigned)(h[3] >> 48) & 0xffffu,
		 (unsigned long long)(h[3] & 0xffffffffffffull));
}

static void node_name_for(const struct kp_instance *in, char *buf, size_t n)
{
	const char *id = in->provider_id ? strrchr(in->provider_id, '/') : NULL;
	uint32_t h = 2166136261u;
	for (const char *p = id ? id + 1 : (in->provider_id ? in->provider_id : ""); *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(buf, n, "ip-10-%u-%u-%u.ec2.internal", (h >> 16) & 0xffu, (h >> 8) & 0xffu, 1u + (h & 0xffu) % 254u);
}

static json_t *res_json(const struct kp_res *r, const struct kp_resnames *rn)
{
	json_t *o = json_object();
	char q[64];
	for (int i = 0; i < KP_RES_NWELLKNOWN; i++) {
		if (!r->v[i] && i != KP_RES_CPU && i != KP_RES_MEMORY && i != KP_RES_PODS)
			continue;
		kp_qty_format(r->v[i], kp_res_scale(i), kp_res_style(rn, i), q, sizeof(q));
		json_object_set_new(o, rn->name[i], json_string(q));
	}
	return o;
}

static int cloud_fn(void *ctx, enum kp_cloud_fake_event ev, const struct kp_instance *in)
{
	struct kp_kcm *C = ctx;
	struct kp_errbuf eb = { 0 };
	struct kp_resnames rn;
	char name[256], ts[40];

	kp_resnames_init(&rn);
	if (ev == KP_CLOUD_FAKE_TERMINATED) {
		KP_STRMAP_FOREACH(&C->nodes, e) {
			struct kp_kcm__node *n = e->val;
			if (n->n && n->n->provider_id && in->provider_id && !strcmp(n->n->provider_id, in->provider_id)) {
				char *nm = strdup(n->name);
				enum kp_store_rc rc = nm ? kp_kcm__delete(C, "", "nodes", "", nm, &eb) : KP_STORE_FAIL;
				free(nm);
				return rc == KP_STORE_OK || rc == KP_STORE_NOTFOUND ? 0 : 1;
			}
		}
		return 0;
	}
	node_name_for(in, name, sizeof(name));
	kp_kobj_now_rfc3339(ts, sizeof(ts));
	json_t *labels = json_object();
	for (int i = 0; i < in->labels.n; i++)
		json_object_set_new(labels, in->labels.kv[i].key, json_string(in->labels.kv[i].value));
	json_object_set_new(labels, "kubernetes.io/hostname", json_string(name));
	if (!json_object_get(labels, "kubernetes.io/os"))
		json_object_set_new(labels, "kubernetes.io/os", json_string("linux"));
	if (in->instance_type)
		json_object_set_new(labels, "node.kubernetes.io/instance-type", json_string(in->instance_type));
	if (in->zone)
		json_object_set_new(labels, "topology.kubernetes.io/zone", json_string(in->zone));
	json_object_set_new(labels, "karpenter.sh/capacity-type", json_string(kp_captype_name(in->captype)));
	if (in->nodepool)
		json_object_set_new(labels, "karpenter.sh/nodepool", json_string(in->nodepool));
	char ip[64];
	unsigned a, b2, c2;
	if (sscanf(name, "ip-10-%u-%u-%u", &a, &b2, &c2) == 3)
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", a, b2, c2);
	else
		snprintf(ip, sizeof(ip), "10.0.0.1");
	const char *arch = json_string_value(json_object_get(labels, "kubernetes.io/arch")) ?
				   json_string_value(json_object_get(labels, "kubernetes.io/arch")) : "amd64";
	bool arm = !strcmp(arch, "arm64");
	struct node_ids ids;
	node_ids(in->provider_id ? in->provider_id : name, &ids);
	json_t *node = json_pack(
		"{s:s, s:s, s:{s:s, s:o}, s:{s:s, s:[{s:s, s:s}]},"
		" s:{s:o, s:o, s:[{s:s, s:s, s:s, s:s, s:s, s:s}], s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}],"
		"    s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}}}",
		"apiVersion", "v1", "kind", "Node", "metadata", "name", name, "labels", labels, "spec", "providerID",
		in->provider_id ? in->provider_id : "", "taints", "key", "karpenter.sh/unregistered", "effect", "NoExecute",
		"status", "capacity", res_json(&in->capacity, &rn), "allocatable", res_json(&in->allocatable, &rn),
		"conditions", "type", "Ready", "status", "True", "reason", "KubeletReady", "message",
		"kubelet is posting ready status", "lastHeartbeatTime", ts, "lastTransitionTime", ts, "addresses", "type",
		"InternalIP", "address", ip, "type", "Hostname", "address", name, "type", "InternalDNS", "address", name,
		"nodeInfo", "kubeletVersion", "v1.32.0", "kubeProxyVersion", "v1.32.0", "containerRuntimeVersion",
		"containerd://1.7.23", "operatingSystem", "linux", "architecture", arch, "osImage",
		"Amazon Linux 2023.6.20241121", "kernelVersion", arm ? "6.1.115-126.197.amzn2023.aarch64" :
		"6.1.115-126.197.amzn2023.x86_64", "bootID", ids.boot, "machineID", ids.machine, "systemUUID", ids.uuid);
	if (!node)
		return 1;
	enum kp_store_rc rc = kp_kcm__create(C, "", "v1", "nodes", node, &eb);
	if (rc == KP_STORE_EXISTS) {
		/* name collision: fall back to the instance id */
		const char *id = in->provider_id ? strrchr(in->provider_id, '/') : NULL;
		json_t *md = json_object_get(node, "metadata");
		json_object_set_new(md, "name", json_string(id ? id + 1 : "node"));
		json_object_del(md, "resourceVersion");
		rc = kp_kcm__create(C, "", "v1", "nodes", node, &eb);
	}
	if (rc && rc != KP_STORE_EXISTS)
		fprintf(stderr, "karpenter up: node for %s: %s\n", in->provider_id ? in->provider_id : "?", eb.msg);
	json_decref(node);
	return rc && rc != KP_STORE_EXISTS ? 1 : 0;
}

/* A real provider (AWS): every 2 s, a Node for each running instance the
 * provider lists without one, and no Node for instances gone from the list. */
static void node_lifecycle_list(struct kp_kcm *C)
{
	struct kp_arena a;
	struct kp_instance *v = NULL;
	struct kp_errbuf eb = { 0 };
	char **gone = NULL;
	size_t ngone = 0, cap = 0;
	int n = 0;

	if (kp_kcm__now_ms() < C->next_cloud_list)
		return;
	C->next_cloud_list = kp_kcm__now_ms() + 2000;
	kp_arena_init(&a);
	if (kp_cloud_list(C->cloud, &a, &v, &n, &eb)) {
		fprintf(stderr, "karpenter up: cloud nodes: %s\n", eb.msg);
		kp_arena_free(&a);
		return;
	}
	for (int i = 0; i < n; i++) {
		bool has = false;

		if (v[i].state != KP_INSTANCE_RUNNING || !v[i].provider_id)
			continue;
		KP_STRMAP_FOREACH(&C->nodes, e) {
			struct kp_kcm__node *nd = e->val;
			if (nd->n && nd->n->provider_id && !strcmp(nd->n->provider_id, v[i].provider_id)) {
				has = true;
				break;
			}
		}
		if (!has)
			cloud_fn(C, KP_CLOUD_FAKE_RUNNING, &v[i]);
	}
	KP_STRMAP_FOREACH(&C->nodes, e) {
		struct kp_kcm__node *nd = e->val;
		const char *pid = nd->n ? nd->n->provider_id : NULL;
		bool live = false;

		if (!pid || strncmp(pid, "aws:///", 7) != 0)
			continue;
		for (int i = 0; i < n && !live; i++)
			live = v[i].provider_id && !strcmp(v[i].provider_id, pid) && v[i].state != KP_INSTANCE_TERMINATED;
		if (!live && ngone == cap) {
			char **g = realloc(gone, (cap = cap ? cap * 2 : 8) * sizeof(*g));
			if (!g)
				break;
			gone = g;
		}
		if (!live && ngone < cap && (gone[ngone] = strdup(pid)))
			ngone++;
	}
	for (size_t i = 0; i < ngone; i++) {
		struct kp_instance in;

		memset(&in, 0, sizeof(in));
		in.provider_id = gone[i];
		cloud_fn(C, KP_CLOUD_FAKE_TERMINATED, &in);
		free(gone[i]);
	}
	free(gone);
	kp_arena_free(&a);
}

void kp_kcm__node_lifecycle(struct kp_kcm *C)
{
	pthread_mutex_lock(&C->cloud_mu);
	if (C->cloud && kp_cloud_is_fake(C->cloud))
		kp_cloud_fake_poll(C->cloud, kp_cloud_fake_now(C->cloud), cloud_fn, C);
	else if (C->cloud)
		node_lifecycle_list(C);
	pthread_mutex_unlock(&C->cloud_mu);
}
