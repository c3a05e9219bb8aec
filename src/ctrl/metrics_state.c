/*
 * metrics_state.c - the state gauges Karpenter's metrics controllers keep,
 * fed incrementally from the informer events:
 *   pkg/controllers/metrics/pod     karpenter_pods_state (one series per pod),
 *                                   pods_startup_duration_seconds,
 *                                   pods_bound_duration_seconds;
 *   pkg/controllers/metrics/node    karpenter_nodes_allocatable,
 *                                   total_pod_requests/limits,
 *                                   total_daemon_requests/limits,
 *                                   system_overhead, current_lifetime_seconds,
 *                                   cluster_utilization_percent;
 *   pkg/controllers/state/metrics   cluster_state_node_count (nodes and
 *                                   launched NodeClaims by providerID, as
 *                                   Karpenter's cluster state counts them),
 *                                   cluster_state_synced,
 *                                   cluster_state_unsynced_time_seconds.
 * Also the controller label of the cloud-provider decorator (kp_ctrl__ms_caller).
 *
 * How: three string-keyed tables (pods by namespace/name, nodes by name,
 * state nodes by providerID) hold what each object contributed; an event
 * replaces one object's contribution, so a pod event costs O(its containers
 * + 13 labels) whatever the cluster size. A pod's requests and limits are
 * added to its Node's sums (Karpenter's StateNode.PodRequests/PodLimits,
 * DaemonSet pods also to the daemon sums; terminal pods leave); the node
 * gauges of changed Nodes are written on the 1 s tick (Karpenter rewrites
 * all of them every 5 s), lifetimes every 5 s.
 *
 * Invariants: every series this file writes is remembered by the record
 * that wrote it (label values, resource masks) and deleted when the object
 * goes or its labels change, so no series outlives its object. A pod bound
 * to a Node not seen yet is not counted ("orphan") until the Node arrives.
 * Runs on the controller's loop thread only. Differences from Karpenter:
 * the gauges are kept on every replica (Karpenter's controllers run on the
 * leader only); "managed" is true for Nodes carrying karpenter.sh/nodepool
 * (Karpenter: Nodes with a NodeClaim in its state); unknown extended
 * resources (not in the controller's resource names) are not counted.
 */
#include <stdlib.h>
#include <string.h>

#include "ctrl/ctrl_int.h"
#include "karpenter/strmap.h"
#include "ctrl/ext_int.h"

#define NPOD_LV 13                 /* pods_state label count */
#define LV_MAX 8192                /* packed label values of one series */
#define MAX_NODE_LV 32
#define LIFETIME_MS 5000
#define NGAUGE 6
#define MAX_CONTAINERS 64          /* containers (and init containers) counted per pod */

enum { G_ALLOC, G_POD_REQ, G_POD_LIM, G_DS_REQ, G_DS_LIM, G_OVERHEAD };
/* pods_state label positions (declaration order in karpenter.c) */
enum { PL_NAME, PL_NS, PL_OWNER, PL_NODE, PL_SCHED, PL_POOL, PL_ZONE, PL_ARCH, PL_CAP, PL_ITYPE, PL_PHASE, PL_READY,
       PL_MANAGED };

/* Node label keys of the core node-gauge label names (v1.WellKnownLabels). */
static const struct {
	const char *name, *key;
} CORE_KEYS[] = {
	{ "nodepool", "karpenter.sh/nodepool" },
	{ "zone", "topology.kubernetes.io/zone" },
	{ "region", "topology.kubernetes.io/region" },
	{ "instance_type", "node.kubernetes.io/instance-type" },
	{ "arch", "kubernetes.io/arch" },
	{ "os", "kubernetes.io/os" },
	{ "capacity_type", "karpenter.sh/capacity-type" },
	{ "windows_build", "node.kubernetes.io/windows-build" },
};

/* ---- string-keyed records over base's map (karpenter/strmap.h): each
 * record embeds struct ent first, whose key is the map's copy ---- */
struct ent {
	const char *key;
};

static void *tab_get(const struct kp_strmap *t, const char *key)
{
	return kp_strmap_get(t, key);
}

/* Inserts a zeroed record of size sz under key; NULL when out of memory. */
static void *tab_add(struct kp_strmap *t, const char *key, size_t sz)
{
	struct ent *e = calloc(1, sz);

	if (!e)
		return NULL;
	if (kp_strmap_put(t, key, e, NULL)) {
		free(e);
		return NULL;
	}
	e->key = kp_strmap_find(t, key)->key;
	return e;
}

/* Removes e from t (the caller frees it; e->key is gone). */
static void tab_del(struct kp_strmap *t, struct ent *e)
{
	kp_strmap_del(t, e->key);
	e->key = NULL;
}

/* ---- packed label values: n NUL-terminated strings back to back ---- */
static size_t lv_pack(char *buf, size_t cap, const char *const *v, int n)
{
	size_t o = 0;

	for (int i = 0; i < n; i++) {
		const char *s = v[i] ? v[i] : "";
		size_t l = strlen(s);
		if (o + l + 1 > cap)
			return 0;
		memcpy(buf + o, s, l + 1);
		o += l + 1;
	}
	return o;
}

static void lv_unpack(const char *p, const char **v, int n)
{
	for (int i = 0; i < n; i++) {
		v[i] = p;
		p += strlen(p) + 1;
	}
}

static bool lv_same(const char *old, size_t oldlen, const char *buf, size_t len)
{
	return old && oldlen == len && memcmp(old, buf, len) == 0;
}

/* ---- records ---- */
struct ms_pod {
	struct ent e;                   /* "namespace/name" */
	char *lv;                       /* pods_state labels of the series written; NULL = none */
	size_t lvlen;
	char *bound;                    /* spec.nodeName of a non-terminal pod, else NULL */
	bool counted;                   /* req/lim are in bound's sums */
	bool daemon;
	bool pending_seen, unbound_seen;
	struct kp_res req, lim;
};

struct ms_node {
	struct ent e;                   /* Node name */
	char *lv;                       /* node labels without resource_type; NULL = no series */
	size_t lvlen;
	char *podlv;                    /* nodepool, zone, arch, capacity_type, instance_type, managed */
	size_t podlvlen;
	char *sid;                      /* its key in the state-node table */
	struct kp_res g[NGAUGE];
	uint32_t mask[NGAUGE];          /* resource series written per gauge */
	int64_t created_ms;             /* unix ms */
	int npods;                      /* pods counted here */
	bool dirty, life_set;
};

struct ms_sid {
	struct ent e;                   /* providerID, or Node name without one */
	unsigned refs;                  /* Node + NodeClaims naming it */
};

struct ms_claim {
	struct ent e;                   /* NodeClaim name */
	char *sid;                      /* status.providerID counted, or NULL */
};

struct kp_ctrl__ms {
	struct kp_strmap pods, nodes, sids, claims;
	int orphans;                    /* pods bound to a Node not in the table */
	struct kp_res alloc_total, req_total;
	uint32_t util_mask;
	bool util_dirty;
	int64_t last_life_ms, unsynced_since_ms;
	const char *node_names[MAX_NODE_LV];
	size_t nnode_lv;                /* label count of the resource gauges (incl. resource_type) */
	struct kp_container_res cr[MAX_CONTAINERS], icr[MAX_CONTAINERS];   /* pod_resources scratch */
};

/* ---- small JSON readers ---- */
static const char *label_of(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(kp_ctrl__jget(obj, "metadata.labels"), key));
}

static int64_t time_ms(const json_t *obj, const char *path)
{
	const char *s = kp_ctrl__jstr(obj, path);
	int64_t t;
	return s && !kp_parse_rfc3339(s, &t) ? t * 1000 : 0;
}

static const json_t *pod_cond(const json_t *pod, const char *type)
{
	return kp_ctrl__condition(pod, type);
}

static bool cond_true(const json_t *cond)
{
	return cond && kp_strcmp0(json_string_value(json_object_get(cond, "status")), "True") == 0;
}

static int64_t cond_time_ms(const json_t *cond)
{
	const char *s = json_string_value(json_object_get(cond, "lastTransitionTime"));
	int64_t t;
	return s && !kp_parse_rfc3339(s, &t) ? t * 1000 : 0;
}

static bool pod_terminal(const char *phase)
{
	return phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

/* Adds resource list obj ({name: quantity}) into r; unknown names are skipped. */
static void reslist(const struct kp_resnames *rn, const json_t *obj, struct kp_res *r)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)(uintptr_t)obj, k, v) {
		int idx = kp_resnames_find(rn, k);
		const char *q = json_string_value(v);
		struct kp_res one;
		if (idx < 0 || !q)
			continue;
		kp_res_zero(&one);
		if (!kp_res_set_str(&one, idx, q, NULL))
			r->v[idx] = one.v[idx];
	}
}

/* Fills n entries of cr from the containers array (limits in requests when lim). */
static int containers(const struct kp_resnames *rn, const json_t *arr, struct kp_container_res *cr, bool init, bool lim)
{
	size_t i, n = json_array_size(arr);

	if (n > MAX_CONTAINERS)
		n = MAX_CONTAINERS;
	for (i = 0; i < n; i++) {
		const json_t *ct = json_array_get(arr, i);
		const json_t *res = json_object_get(ct, "resources");
		memset(&cr[i], 0, sizeof(cr[i]));
		reslist(rn, json_object_get(res, "limits"), &cr[i].limits);
		if (lim)
			cr[i].requests = cr[i].limits;
		else
			reslist(rn, json_object_get(res, "requests"), &cr[i].requests);
		cr[i].restartable = init && kp_strcmp0(json_string_value(json_object_get(ct, "restartPolicy")), "Always") == 0;
	}
	return (int)n;
}

/* Karpenter's RequestsForPods / LimitsForPods (resources.Ceiling). */
static void pod_resources(struct kp_ctrl__ms *s, const struct kp_resnames *rn, const json_t *pod, struct kp_res *req,
			  struct kp_res *lim)
{
	struct kp_container_res *c = s->cr, *ic = s->icr;
	const json_t *spec = json_object_get(pod, "spec");
	const json_t *cs = json_object_get(spec, "containers"), *ics = json_object_get(spec, "initContainers");
	struct kp_res over;
	int n, ni;

	kp_res_zero(&over);
	reslist(rn, json_object_get(spec, "overhead"), &over);
	n = containers(rn, cs, c, false, false);
	ni = containers(rn, ics, ic, true, false);
	kp_res_zero(req);
	kp_pod_effective_requests(c, n, ic, ni, &over, req);
	n = containers(rn, cs, c, false, true);
	ni = containers(rn, ics, ic, true, true);
	kp_res_zero(lim);
	kp_pod_effective_requests(c, n, ic, ni, NULL, lim);
	for (int i = 0; i < KP_RES_MAX; i++)
		if (lim->v[i])
			lim->v[i] += over.v[i];
}

/* Karpenter's resourceNameToString: lower case, '-' -> '_'. */
static void res_label(const struct kp_resnames *rn, int idx, char *out, size_t n)
{
	size_t i;
	const char *s = rn->name[idx];

	for (i = 0; s[i] && i + 1 < n; i++) {
		char ch = s[i];
		out[i] = ch == '-' ? '_' : (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	out[i] = '\0';
}

static double res_value(int idx, int64_t v)
{
	return idx == KP_RES_CPU ? (double)v / 1000.0 : (double)v;
}

/* ---- state nodes (cluster_state_node_count) ---- */
static const char *sid_ref(struct kp_ctrl__ms *s, const char *key)
{
	struct ms_sid *x = tab_get(&s->sids, key);

	if (!x && !(x = tab_add(&s->sids, key, sizeof(*x))))
		return NULL;
	x->refs++;
	return x->e.key;
}

static void sid_unref(struct kp_ctrl__ms *s, const char *key)
{
	struct ms_sid *x = key ? tab_get(&s->sids, key) : NULL;

	if (x && --x->refs == 0) {
		tab_del(&s->sids, &x->e);
		free(x);
	}
}

/* Points *slot at key's state-node entry (moving the reference). */
static void sid_move(struct kp_ctrl__ms *s, char **slot, const char *key)
{
	char *old = *slot;

	if (old && key && strcmp(old, key) == 0)
		return;
	if (old) {
		sid_unref(s, old);
		free(old);
		*slot = NULL;
	}
	if (key && sid_ref(s, key))
		*slot = strdup(key);
	if (key && !*slot)
		sid_unref(s, key);
}

/* ---- pods ---- */

/* Writes the pods_state series of p for the packed labels in buf (deleting
 * the old series when they differ). */
static void pod_series(struct kp_ctrl *c, struct ms_pod *p, const char *buf, size_t len)
{
	const char *v[NPOD_LV];

	if (lv_same(p->lv, p->lvlen, buf, len))
		return;
	if (p->lv) {
		lv_unpack(p->lv, v, NPOD_LV);
		kp_metrics_delete(c->m.pods_state, v, NPOD_LV);
		free(p->lv);
		p->lv = NULL;
	}
	if (!len || !(p->lv = malloc(len)))
		return;
	memcpy(p->lv, buf, len);
	p->lvlen = len;
	lv_unpack(p->lv, v, NPOD_LV);
	kp_metrics_set(c->m.pods_state, v, NPOD_LV, 1);
}

/* Copies the node-derived pods_state values of Node n (or empties) into v. */
static void pod_node_values(const struct ms_node *n, const char **v)
{
	const char *nv[6] = { "", "", "", "", "", "false" };

	if (n && n->podlv)
		lv_unpack(n->podlv, nv, 6);
	v[PL_POOL] = nv[0];
	v[PL_ZONE] = nv[1];
	v[PL_ARCH] = nv[2];
	v[PL_CAP] = nv[3];
	v[PL_ITYPE] = nv[4];
	v[PL_MANAGED] = nv[5];
}

/* Re-labels pod p after its Node changed (labels, arrival, removal). */
static void pod_relabel(struct kp_ctrl *c, struct ms_pod *p, const struct ms_node *n)
{
	const char *v[NPOD_LV];
	char buf[LV_MAX];
	size_t len;

	if (!p->lv)
		return;
	lv_unpack(p->lv, v, NPOD_LV);
	pod_node_values(n, v);
	if ((len = lv_pack(buf, sizeof(buf), v, NPOD_LV)))
		pod_series(c, p, buf, len);
}

static void node_dirty(struct kp_ctrl__ms *s, struct ms_node *n)
{
	n->dirty = true;
	s->util_dirty = true;
}

static void pod_uncount(struct kp_ctrl *c, struct ms_pod *p)
{
	struct kp_ctrl__ms *s = c->ms;
	struct ms_node *n;

	if (!p->bound)
		return;
	n = p->counted ? tab_get(&s->nodes, p->bound) : NULL;
	if (n) {
		kp_res_sub(&n->g[G_POD_REQ], &p->req);
		kp_res_sub(&n->g[G_POD_LIM], &p->lim);
		if (p->daemon) {
			kp_res_sub(&n->g[G_DS_REQ], &p->req);
			kp_res_sub(&n->g[G_DS_LIM], &p->lim);
		}
		kp_res_sub(&s->req_total, &p->req);
		n->npods--;
		node_dirty(s, n);
	} else if (!p->counted) {
		s->orphans--;
	}
	free(p->bound);
	p->bound = NULL;
	p->counted = false;
}

/* Adds p (p->bound set) to its Node's sums, or makes it an orphan. */
static void pod_count(struct kp_ctrl *c, struct ms_pod *p)
{
	struct kp_ctrl__ms *s = c->ms;
	struct ms_node *n = tab_get(&s->nodes, p->bound);

	if (!n) {
		p->counted = false;
		s->orphans++;
		return;
	}
	kp_res_add(&n->g[G_POD_REQ], &p->req);
	kp_res_add(&n->g[G_POD_LIM], &p->lim);
	if (p->daemon) {
		kp_res_add(&n->g[G_DS_REQ], &p->req);
		kp_res_add(&n->g[G_DS_LIM], &p->lim);
	}
	kp_res_add(&s->req_total, &p->req);
	n->npods++;
	p->counted = true;
	node_dirty(s, n);
}

static void pod_remove(struct kp_ctrl *c, struct ms_pod *p)
{
	pod_uncount(c, p);
	pod_series(c, p, "", 0);
	tab_del(&c->ms->pods, &p->e);
	free(p);
}

/* The owner label: /apis/<apiVersion>/namespaces/<ns>/<kind lower>s/<name>. */
static void owner_link(const json_t *pod, const char *ns, char *out, size_t n)
{
	const json_t *o = json_array_get(kp_ctrl__jget(pod, "metadata.ownerReferences"), 0);
	const char *av = json_string_value(json_object_get(o, "apiVersion"));
	const char *kind = json_string_value(json_object_get(o, "kind"));
	const char *name = json_string_value(json_object_get(o, "name"));
	char lk[128];
	size_t i;

	out[0] = '\0';
	if (!o)
		return;
	for (i = 0; kind && kind[i] && i + 1 < sizeof(lk); i++)
		lk[i] = (kind[i] >= 'A' && kind[i] <= 'Z') ? (char)(kind[i] - 'A' + 'a') : kind[i];
	lk[i] = '\0';
	snprintf(out, n, "/apis/%s/namespaces/%s/%ss/%s", av ? av : "", ns, lk, name ? name : "");
}

static void pod_event(struct kp_ctrl *c, const json_t *pod, bool deleted)
{
	struct kp_ctrl__ms *s = c->ms;
	const char *ns = kp_ctrl__jstr(pod, "metadata.namespace"), *name = kp_ctrl__jstr(pod, "metadata.name");
	const char *node = kp_ctrl__jstr(pod, "spec.nodeName"), *phase = kp_ctrl__jstr(pod, "status.phase");
	const json_t *ready = pod_cond(pod, "Ready"), *sched = pod_cond(pod, "PodScheduled");
	char key[KPC_KEY_MAX], owner[1024], buf[LV_MAX];
	const char *v[NPOD_LV];
	struct ms_pod *p;
	struct kp_res req, lim;
	bool daemon;
	size_t len;

	if (!name)
		return;
	if (!ns)
		ns = "";
	if ((size_t)snprintf(key, sizeof(key), "%s/%s", ns, name) >= sizeof(key))
		return;
	p = tab_get(&s->pods, key);
	if (deleted) {
		if (p)
			pod_remove(c, p);
		return;
	}
	if (!p && !(p = tab_add(&s->pods, key, sizeof(*p))))
		return;
	if (node && !*node)
		node = NULL;
	/* node usage (Karpenter's cluster.UpdatePod) */
	if (pod_terminal(phase) || !node) {
		pod_uncount(c, p);
	} else {
		daemon = kp_ctrl__pod_daemon(pod);
		pod_resources(s, &c->rn, pod, &req, &lim);
		if (!p->bound || strcmp(p->bound, node) != 0 || daemon != p->daemon ||
		    memcmp(&req, &p->req, sizeof(req)) != 0 || memcmp(&lim, &p->lim, sizeof(lim)) != 0) {
			pod_uncount(c, p);
			if ((p->bound = strdup(node))) {
				p->req = req;
				p->lim = lim;
				p->daemon = daemon;
				pod_count(c, p);
			}
		}
	}
	/* pods_state */
	owner_link(pod, ns, owner, sizeof(owner));
	v[PL_NAME] = name;
	v[PL_NS] = ns;
	v[PL_OWNER] = owner;
	v[PL_NODE] = node ? node : "";
	v[PL_SCHED] = node ? "true" : "false";
	v[PL_PHASE] = phase ? phase : "";
	v[PL_READY] = cond_true(ready) ? "true" : "false";
	pod_node_values(node ? tab_get(&s->nodes, node) : NULL, v);
	if ((len = lv_pack(buf, sizeof(buf), v, NPOD_LV)))
		pod_series(c, p, buf, len);
	/* startup and bound durations (pkg/controllers/metrics/pod) */
	if (!phase || strcmp(phase, "Pending") == 0) {
		p->pending_seen = true;
		p->unbound_seen = true;
		return;
	}
	if (p->pending_seen) {
		if (cond_true(ready)) {
			int64_t created = time_ms(pod, "metadata.creationTimestamp"), at = cond_time_ms(ready);
			if (created && at >= created && c->m.pods_startup_duration_seconds)
				kp_metrics_observe(c->m.pods_startup_duration_seconds, NULL, 0, (double)(at - created) / 1000.0);
			p->pending_seen = false;
		} else if (pod_terminal(phase)) {
			p->pending_seen = false;
		}
	}
	if (p->unbound_seen && cond_true(sched)) {
		int64_t created = time_ms(pod, "metadata.creationTimestamp"), at = cond_time_ms(sched);
		if (created && at >= created && c->m.pods_bound_duration_seconds)
			kp_metrics_observe(c->m.pods_bound_duration_seconds, NULL, 0, (double)(at - created) / 1000.0);
		p->unbound_seen = false;
	}
}

/* ---- nodes ---- */

/* Values of the node gauges' labels for lv (resource_type last, set by the caller). */
static void node_values(const struct kp_ctrl__ms *s, const struct ms_node *n, const char **v)
{
	lv_unpack(n->lv, v, (int)s->nnode_lv - 1);
}

static struct kp_metric *gauge(struct kp_ctrl *c, int g)
{
	switch (g) {
	case G_ALLOC: return c->m.nodes_allocatable;
	case G_POD_REQ: return c->m.nodes_total_pod_requests;
	case G_POD_LIM: return c->m.nodes_total_pod_limits;
	case G_DS_REQ: return c->m.nodes_total_daemon_requests;
	case G_DS_LIM: return c->m.nodes_total_daemon_limits;
	default: return c->m.nodes_system_overhead;
	}
}

/* Deletes every series node n wrote. */
static void node_clear_series(struct kp_ctrl *c, struct ms_node *n)
{
	struct kp_ctrl__ms *s = c->ms;
	const char *v[MAX_NODE_LV];
	char rl[KP_RES_NAME_MAX];

	if (!n->lv)
		return;
	node_values(s, n, v);
	for (int g = 0; g < NGAUGE; g++) {
		for (int r = 0; r < KP_RES_MAX && n->mask[g]; r++) {
			if (!(n->mask[g] & (1u << r)))
				continue;
			res_label(&c->rn, r, rl, sizeof(rl));
			v[s->nnode_lv - 1] = rl;
			kp_metrics_delete(gauge(c, g), v, s->nnode_lv);
		}
		n->mask[g] = 0;
	}
	if (n->life_set)
		kp_metrics_delete(c->m.nodes_current_lifetime_seconds, v, s->nnode_lv - 1);
	n->life_set = false;
}

/* Writes the resource gauges of n (those that are non-zero; zeroed ones go). */
static void node_flush(struct kp_ctrl *c, struct ms_node *n)
{
	struct kp_ctrl__ms *s = c->ms;
	const char *v[MAX_NODE_LV];
	char rl[KP_RES_NAME_MAX];

	n->dirty = false;
	if (!n->lv)
		return;
	node_values(s, n, v);
	for (int g = 0; g < NGAUGE; g++) {
		uint32_t mask = 0;
		for (int r = 0; r < KP_RES_MAX && r < c->rn.n; r++) {
			int64_t x = n->g[g].v[r];
			if (!x && !(n->mask[g] & (1u << r)))
				continue;
			res_label(&c->rn, r, rl, sizeof(rl));
			v[s->nnode_lv - 1] = rl;
			if (x) {
				kp_metrics_set(gauge(c, g), v, s->nnode_lv, res_value(r, x));
				mask |= 1u << r;
			} else {
				kp_metrics_delete(gauge(c, g), v, s->nnode_lv);
			}
		}
		n->mask[g] = mask;
	}
}

static void node_lifetime(struct kp_ctrl *c, struct ms_node *n, int64_t now_wall)
{
	struct kp_ctrl__ms *s = c->ms;
	const char *v[MAX_NODE_LV];

	if (!n->lv || !n->created_ms)
		return;
	node_values(s, n, v);
	kp_metrics_set(c->m.nodes_current_lifetime_seconds, v, s->nnode_lv - 1,
		       (double)(now_wall - n->created_ms) / 1000.0);
	n->life_set = true;
}

/* Calls fn on every pod bound to node name (O(pods)). */
static void pods_on(struct kp_ctrl *c, const char *name, void (*fn)(struct kp_ctrl *, struct ms_pod *, struct ms_node *),
		    struct ms_node *n)
{
	KP_STRMAP_FOREACH(&c->ms->pods, e) {
		struct ms_pod *p = e->val;
		if (p->bound && strcmp(p->bound, name) == 0)
			fn(c, p, n);
	}
}

static void adopt_orphan(struct kp_ctrl *c, struct ms_pod *p, struct ms_node *n)
{
	if (!p->counted) {
		c->ms->orphans--;
		pod_count(c, p);
	}
	pod_relabel(c, p, n);
}

static void relabel_only(struct kp_ctrl *c, struct ms_pod *p, struct ms_node *n)
{
	pod_relabel(c, p, n);
}

static void orphan(struct kp_ctrl *c, struct ms_pod *p, struct ms_node *n)
{
	(void)n;
	if (p->counted) {
		p->counted = false;
		c->ms->orphans++;
	}
	pod_relabel(c, p, NULL);
}

static void node_remove(struct kp_ctrl *c, struct ms_node *n)
{
	struct kp_ctrl__ms *s = c->ms;
	char name[KPC_KEY_MAX];

	node_clear_series(c, n);
	kp_res_sub(&s->alloc_total, &n->g[G_ALLOC]);
	kp_res_sub(&s->req_total, &n->g[G_POD_REQ]);
	s->util_dirty = true;
	sid_move(s, &n->sid, NULL);
	snprintf(name, sizeof(name), "%s", n->e.key);
	tab_del(&s->nodes, &n->e);
	if (n->npods > 0)
		pods_on(c, name, orphan, NULL);
	free(n->lv);
	free(n->podlv);
	free(n);
}

static void node_event(struct kp_ctrl *c, const json_t *node, bool deleted)
{
	struct kp_ctrl__ms *s = c->ms;
	const char *name = kp_ctrl__jstr(node, "metadata.name"), *pid = kp_ctrl__jstr(node, "spec.providerID");
	const char *v[MAX_NODE_LV], *pv[6];
	const json_t *st = json_object_get(node, "status");
	char buf[LV_MAX], pbuf[2048];
	size_t len, plen;
	struct ms_node *n;
	struct kp_res cap, alloc, over;
	bool fresh = false, pods_changed;
	int k = 0;

	if (!name)
		return;
	n = tab_get(&s->nodes, name);
	if (deleted) {
		if (n)
			node_remove(c, n);
		return;
	}
	if (!n) {
		if (!(n = tab_add(&s->nodes, name, sizeof(*n))))
			return;
		fresh = true;
	}
	sid_move(s, &n->sid, pid && *pid ? pid : name);
	/* labels: the core well-known ones by name, then node_name, phase, managed */
	for (size_t i = 0; i + 4 < s->nnode_lv; i++) {
		const char *val = NULL;
		for (size_t j = 0; j < sizeof(CORE_KEYS) / sizeof(CORE_KEYS[0]); j++)
			if (strcmp(CORE_KEYS[j].name, s->node_names[i]) == 0)
				val = label_of(node, CORE_KEYS[j].key);
		v[k++] = val ? val : "";
	}
	v[k++] = name;
	v[k++] = kp_ctrl__jstr(node, "status.phase") ? kp_ctrl__jstr(node, "status.phase") : "";
	v[k++] = label_of(node, "karpenter.sh/nodepool") ? "true" : "false";
	len = lv_pack(buf, sizeof(buf), v, k);
	if (len && !lv_same(n->lv, n->lvlen, buf, len)) {
		node_clear_series(c, n);
		free(n->lv);
		n->lv = malloc(len);
		if (n->lv) {
			memcpy(n->lv, buf, len);
			n->lvlen = len;
		}
		node_dirty(s, n);
	}
	pv[0] = label_of(node, "karpenter.sh/nodepool");
	pv[1] = label_of(node, "topology.kubernetes.io/zone");
	pv[2] = label_of(node, "kubernetes.io/arch");
	pv[3] = label_of(node, "karpenter.sh/capacity-type");
	pv[4] = label_of(node, "node.kubernetes.io/instance-type");
	pv[5] = pv[0] ? "true" : "false";
	plen = lv_pack(pbuf, sizeof(pbuf), pv, 6);
	pods_changed = plen && !lv_same(n->podlv, n->podlvlen, pbuf, plen);
	if (pods_changed) {
		free(n->podlv);
		n->podlv = malloc(plen);
		n->podlvlen = n->podlv ? plen : 0;
		if (n->podlv)
			memcpy(n->podlv, pbuf, plen);
	}
	/* allocatable and overhead (capacity - allocatable) */
	kp_res_zero(&cap);
	kp_res_zero(&alloc);
	reslist(&c->rn, json_object_get(st, "capacity"), &cap);
	reslist(&c->rn, json_object_get(st, "allocatable"), &alloc);
	over = cap;
	kp_res_sub(&over, &alloc);
	for (int r = 0; r < KP_RES_MAX; r++)
		if (over.v[r] < 0 || !json_object_get(json_object_get(st, "capacity"), c->rn.name[r]))
			over.v[r] = 0;
	if (memcmp(&alloc, &n->g[G_ALLOC], sizeof(alloc)) != 0 || memcmp(&over, &n->g[G_OVERHEAD], sizeof(over)) != 0) {
		kp_res_sub(&s->alloc_total, &n->g[G_ALLOC]);
		kp_res_add(&s->alloc_total, &alloc);
		n->g[G_ALLOC] = alloc;
		n->g[G_OVERHEAD] = over;
		node_dirty(s, n);
	}
	if (!n->created_ms)
		n->created_ms = time_ms(node, "metadata.creationTimestamp");
	if (fresh && s->orphans > 0)
		pods_on(c, name, adopt_orphan, n);
	else if (pods_changed && n->npods > 0)
		pods_on(c, name, relabel_only, n);
	if (fresh)
		node_lifetime(c, n, kp_ctrl__wall(c));
}

/* ---- NodeClaims: launched ones are state nodes ---- */
static void claim_event(struct kp_ctrl *c, const json_t *claim, bool deleted)
{
	struct kp_ctrl__ms *s = c->ms;
	const char *name = kp_ctrl__jstr(claim, "metadata.name"), *pid = kp_ctrl__jstr(claim, "status.providerID");
	struct ms_claim *x;

	if (!name)
		return;
	x = tab_get(&s->claims, name);
	if (deleted || !pid || !*pid) {
		if (x) {
			sid_move(s, &x->sid, NULL);
			tab_del(&s->claims, &x->e);
			free(x);
		}
		return;
	}
	if (!x && !(x = tab_add(&s->claims, name, sizeof(*x))))
		return;
	sid_move(s, &x->sid, pid);
}

/* ---- the controller's hooks ---- */

kp_err kp_ctrl__ms_new(struct kp_ctrl *c, struct kp_errbuf *eb)
{
	struct kp_ctrl__ms *s = calloc(1, sizeof(*s));

	if (!s)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	s->nnode_lv = kp_metrics_node_labels(&c->m, s->node_names, MAX_NODE_LV);
	if (s->nnode_lv < 5 || s->nnode_lv > MAX_NODE_LV) {
		size_t n = s->nnode_lv;
		free(s);
		return kp_errf(eb, KP_ERR_INVALID, "metrics: unexpected node gauge labels (%zu)", n);
	}
	c->ms = s;
	s->unsynced_since_ms = kp_ctrl__now(c);
	if (c->m.cluster_state_synced)
		kp_metrics_set(c->m.cluster_state_synced, NULL, 0, 0);
	if (c->m.cluster_state_unsynced_time_seconds)
		kp_metrics_set(c->m.cluster_state_unsynced_time_seconds, NULL, 0, 0);
	return KP_OK;
}

void kp_ctrl__ms_event(struct kp_ctrl *c, enum kp_ctrl__inf kind, const json_t *obj, bool deleted)
{
	if (!c->ms || !obj)
		return;
	switch (kind) {
	case KPC_PODS:
		pod_event(c, obj, deleted);
		break;
	case KPC_NODES:
		node_event(c, obj, deleted);
		break;
	case KPC_NODECLAIMS:
		claim_event(c, obj, deleted);
		break;
	default:
		break;
	}
}

static void flush_util(struct kp_ctrl *c)
{
	struct kp_ctrl__ms *s = c->ms;
	char rl[KP_RES_NAME_MAX];
	uint32_t mask = 0;

	s->util_dirty = false;
	if (!c->m.cluster_utilization_percent)
		return;
	for (int r = 0; r < KP_RES_MAX && r < c->rn.n; r++) {
		int64_t a = s->alloc_total.v[r];
		if (a <= 0 && !(s->util_mask & (1u << r)))
			continue;
		res_label(&c->rn, r, rl, sizeof(rl));
		if (a > 0) {
			kp_metrics_set(c->m.cluster_utilization_percent, KP_LV(rl), 100.0 * (double)s->req_total.v[r] / (double)a);
			mask |= 1u << r;
		} else {
			kp_metrics_delete(c->m.cluster_utilization_percent, KP_LV(rl));
		}
	}
	s->util_mask = mask;
}

void kp_ctrl__ms_tick(struct kp_ctrl *c)
{
	struct kp_ctrl__ms *s = c->ms;
	int64_t now = kp_ctrl__now(c), wall = kp_ctrl__wall(c);
	bool life;

	if (!s)
		return;
	life = now - s->last_life_ms >= LIFETIME_MS;
	KP_STRMAP_FOREACH(&s->nodes, e) {
		struct ms_node *n = e->val;
		if (n->dirty)
			node_flush(c, n);
		if (life)
			node_lifetime(c, n, wall);
	}
	if (life)
		s->last_life_ms = now;
	if (s->util_dirty)
		flush_util(c);
	if (c->m.cluster_state_node_count)
		kp_metrics_set(c->m.cluster_state_node_count, NULL, 0, (double)s->sids.n);
	if (c->m.cluster_state_unsynced_time_seconds)
		kp_metrics_set(c->m.cluster_state_unsynced_time_seconds, NULL, 0,
			       atomic_load(&c->ready) ? 0.0 : (double)(now - s->unsynced_since_ms) / 1000.0);
}

static void tab_free(struct kp_strmap *t, int kind)
{
	KP_STRMAP_FOREACH(t, x) {
		struct ent *e = x->val;
		if (kind == 0) {
			free(((struct ms_pod *)e)->lv);
			free(((struct ms_pod *)e)->bound);
		} else if (kind == 1) {
			free(((struct ms_node *)e)->lv);
			free(((struct ms_node *)e)->podlv);
			free(((struct ms_node *)e)->sid);
		} else if (kind == 3) {
			free(((struct ms_claim *)e)->sid);
		}
		free(e);
	}
	kp_strmap_free(t);
}

void kp_ctrl__ms_free(struct kp_ctrl *c)
{
	struct kp_ctrl__ms *s = c ? c->ms : NULL;

	if (!s)
		return;
	tab_free(&s->pods, 0);
	tab_free(&s->nodes, 1);
	tab_free(&s->sids, 2);
	tab_free(&s->claims, 3);
	free(s);
	c->ms = NULL;
}

size_t kp_ctrl__ms_count(const struct kp_ctrl *c, int which)
{
	const struct kp_ctrl__ms *s = c ? c->ms : NULL;

	if (!s)
		return 0;
	switch (which) {
	case 0: return s->pods.n;
	case 1: return s->nodes.n;
	case 2: return s->sids.n;
	default: return (size_t)s->orphans;
	}
}

/* ---- the cloud decorator's controller label ---- */
const char *kp_ctrl__ms_caller(void *ud, const char *method)
{
	struct kp_ctrl *c = ud;

	if (c->cloud_caller)
		return c->cloud_caller;
	if (c->lifecycle.running)
		return c->lifecycle.name;
	if (c->ext) {
		const struct kp_ctrl__queue *q[] = { &c->ext->termination, &c->ext->expiration, &c->ext->nodepools,
						&c->ext->podevents };
		for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++)
			if (q[i]->running)
				return q[i]->name;
	}
	/* timer-driven callers that set no name: the provisioner asks for
	 * instance types, garbage collection lists and deletes */
	if (strcmp(method, "GetInstanceTypes") == 0)
		return "provisioner";
	if (strcmp(method, "List") == 0 || strcmp(method, "Delete") == 0)
		return "nodeclaim.garbagecollection";
	return "";
}
