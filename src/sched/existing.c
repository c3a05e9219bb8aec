/*
 * existing.c - nodes that already exist, and NodeClaims launched but without
 * a Node yet (Karpenter's StateNode + ExistingNode).
 *
 * Built once per prep from the cluster: every node that is not being
 * deleted (nor its NodeClaim), and every NodeClaim without a Node that is
 * not being deleted. Per StateNode:
 *   - labels: the Node's once registered, else the NodeClaim's;
 *   - taints: likewise; until initialized, a managed node's ephemeral taints
 *     and the claim's startup taints are ignored;
 *   - allocatable: the Node's (zero entries filled from the claim until
 *     initialized); a claim without a Node uses status.allocatable or, when
 *     it has none, the smallest allocatable of the instance types its
 *     requirements name;
 *   - remaining = allocatable - requests of bound pods - requests of
 *     compatible daemonset pods not yet bound (never negative per resource);
 *   - the capacity of each is charged to its pool's limits.
 * Slots are ordered initialized first, then by name. Per run, removed nodes
 * are skipped; a pod fits a node when it tolerates the taints, host ports
 * are free, its requests fit (Karpenter's Fits: a negative remaining entry
 * fits nothing), its requirements are compatible with the node's (no
 * undefined keys) and topology allows it.
 *
 * Cost: O(nodes + pods + daemons x nodes) once; a try is O(taints + keys).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched_int.h"

static bool label_true(const struct kp_labels *l, const char *key)
{
	const char *v = kp_labels_get(l, key);
	return v && strcmp(v, "true") == 0;
}

static bool taint_match(const struct kp_taint *a, const struct kp_taint *b)
{
	/* corev1 Taint.MatchTaint: key and effect */
	return strcmp(a->key ? a->key : "", b->key ? b->key : "") == 0 && a->effect == b->effect;
}

static kp_err effective_taints(struct kp_sched *s, struct kp_sched__node *n, bool managed, bool registered)
{
	const struct kp_taints *src = (!registered && managed) || !n->node ? &n->claim->taints : &n->node->taints;
	int k = 0;

	n->taints.t = kp_arena_calloc(&s->arena, (size_t)src->n + 1, sizeof(*n->taints.t));
	if (!n->taints.t)
		return KP_ERR_NOMEM;
	for (int i = 0; i < src->n; i++) {
		const struct kp_taint *t = &src->t[i];
		bool drop = false;

		if (!n->initialized && managed) {
			drop = kp_taint_is_ephemeral(t);
			for (int j = 0; !drop && j < n->claim->startup_taints.n; j++)
				drop = taint_match(&n->claim->startup_taints.t[j], t);
		}
		if (!drop)
			n->taints.t[k++] = *t;
	}
	n->taints.n = k;
	return KP_OK;
}

/* The smallest allocatable (or capacity) among the types a claim names. */
static bool claim_type_res(const struct kp_sched *s, const struct kp_nodeclaim *nc, bool capacity,
			   struct kp_res *out)
{
	const struct kp_req *r = kp_reqs_get(&nc->reqs, KP_LABEL_INSTANCE_TYPE);
	bool any = false;

	const struct kp_catalog *cat = kp_sched__pool_cat(s, nc->nodepool);

	if (!r || r->complement)
		return false;
	for (int i = 0; i < r->n; i++) {
		const struct kp_itype *it = kp_catalog_find(cat, r->values[i]);
		const struct kp_res *v;

		if (!it)
			continue;
		v = capacity ? &it->capacity : &it->allocatable;
		if (!any) {
			*out = *v;
		} else {
			for (int k = 0; k < KP_RES_MAX; k++)
				if (v->v[k] < out->v[k])
					out->v[k] = v->v[k];
		}
		any = true;
	}
	return any;
}

static void fill_zero(struct kp_res *dst, const struct kp_res *src)
{
	for (int k = 0; k < KP_RES_MAX; k++)
		if (dst->v[k] == 0)
			dst->v[k] = src->v[k];
}

static void node_resources(const struct kp_sched *s, struct kp_sched__node *n)
{
	if (n->node) {
		n->avail = n->node->allocatable;
		n->capacity = n->node->capacity;
		if (!n->initialized && n->claim) {
			fill_zero(&n->avail, &n->claim->allocatable);
			fill_zero(&n->capacity, &n->claim->capacity);
		}
		return;
	}
	n->avail = n->claim->allocatable;
	n->capacity = n->claim->capacity;
	if (kp_res_is_zero(&n->avail)) {
		struct kp_res r;
		if (claim_type_res(s, n->claim, false, &r))
			n->avail = r;
	}
	if (kp_res_is_zero(&n->capacity)) {
		struct kp_res r;
		if (claim_type_res(s, n->claim, true, &r))
			n->capacity = r;
	}
}

static int tpl_by_name(const struct kp_sched *s, const char *name)
{
	for (int i = 0; name && i < s->ntpl; i++)
		if (strcmp(s->tpl[i].name, name) == 0)
			return i;
	return -1;
}

static kp_err node_reqs(struct kp_sched *s, struct kp_sched__node *n)
{
	/* hostname In [HostName()]: built by hand, a node name need not be a
	 * valid label value */
	struct kp_req h = { .key = KP_LABEL_HOSTNAME, .n = 1, .values = &n->hostname };
	kp_err rc;

	kp_reqs_init(&n->reqs);
	rc = kp_reqs_from_labels(&n->reqs, &s->arena, n->labels);
	if (!rc)
		rc = kp_reqs_add(&n->reqs, &s->arena, &h);
	return rc;
}

static kp_err slot_init(struct kp_sched *s, struct kp_sched__node *n)
{
	bool managed = n->claim != NULL;
	bool registered = !managed || (n->node && label_true(&n->node->labels, KP_LABEL_REGISTERED));
	const char *h;
	kp_err rc;

	n->initialized = !managed || (n->node && label_true(&n->node->labels, KP_LABEL_INITIALIZED));
	n->labels = !n->node || (managed && !registered) ? &n->claim->labels : &n->node->labels;
	n->name = n->node ? n->node->name : n->claim->name;
	h = kp_labels_get(n->labels, KP_LABEL_HOSTNAME);
	n->hostname = h && *h ? h : n->name;
	rc = effective_taints(s, n, managed, registered);
	if (!rc)
		rc = node_reqs(s, n);
	if (rc)
		return rc;
	node_resources(s, n);
	n->tpl = tpl_by_name(s, kp_labels_get(n->labels, KP_LABEL_NODEPOOL));
	return KP_OK;
}

static kp_err bound_pods(struct kp_sched *s)
{
	const struct kp_cluster *cl = s->cl;
	struct kp_res *daemon_bound = kp_arena_calloc(&s->arena, (size_t)s->nnodes + 1, sizeof(*daemon_bound));

	if (!daemon_bound)
		return KP_ERR_NOMEM;
	for (int i = 0; i < cl->npods; i++) {
		const struct kp_pod *p = cl->pods[i];
		int node = s->pod_node[i], slot;
		struct kp_res req;
		kp_err rc;

		if (node < 0 || kp_pod_is_terminal(p))
			continue;
		slot = s->slot_of_node[node];
		if (slot < 0)
			continue;
		req = p->requests;
		req.v[KP_RES_PODS] += 1;
		kp_res_sub(&s->nodes[slot].avail, &req);
		if (p->is_daemon)
			kp_res_add(&daemon_bound[slot], &req);
		if (p->host_ports.n) {
			rc = kp_hostports_add(&s->nodes[slot].ports, &s->arena, &p->host_ports);
			if (rc)
				return rc;
		}
	}
	for (int i = 0; i < s->nnodes; i++) {
		struct kp_sched__node *n = &s->nodes[i];
		struct kp_res need;

		kp_res_zero(&need);
		for (int d = 0; d < s->ndaemons; d++) {
			if (kp_sched__daemon_fits_node(s, d, &n->taints, &n->reqs)) {
				struct kp_res req = s->daemons[d]->requests;
				req.v[KP_RES_PODS] += 1;
				kp_res_add(&need, &req);
			}
		}
		kp_res_sub(&need, &daemon_bound[i]);
		for (int k = 0; k < KP_RES_MAX; k++)
			if (need.v[k] < 0)
				need.v[k] = 0;
		n->daemon_need = need;
	}
	return KP_OK;
}

static int slot_cmp(void *ctx, int a, int b)
{
	const struct kp_sched__node *n = ctx;

	if (n[a].initialized != n[b].initialized)
		return n[a].initialized ? -1 : 1;
	return strcmp(n[a].name, n[b].name);
}

kp_err kp_sched__existing_build(struct kp_sched *s, struct kp_errbuf *eb)
{
	const struct kp_cluster *cl = s->cl;
	struct kp_sched__node *tmp;
	int *ord;
	int n = 0;
	kp_err rc;

	(void)eb;
	tmp = kp_arena_calloc(&s->arena, (size_t)(cl->nnodes + cl->nclaims) + 1, sizeof(*tmp));
	s->slot_of_node = kp_arena_calloc(&s->arena, (size_t)cl->nnodes + 1, sizeof(int));
	s->pod_node = kp_arena_calloc(&s->arena, (size_t)cl->npods + 1, sizeof(int));
	s->node_lreqs = kp_arena_calloc(&s->arena, (size_t)cl->nnodes + 1, sizeof(*s->node_lreqs));
	if (!tmp || !s->slot_of_node || !s->pod_node || !s->node_lreqs)
		return KP_ERR_NOMEM;
	for (int i = 0; i < cl->nnodes; i++) {
		rc = kp_sched__strmap_put(&s->node_ix, &s->arena, cl->nodes[i]->name, i);
		if (rc)
			return rc;
	}
	for (int i = 0; i < cl->npods; i++)
		s->pod_node[i] = kp_sched__node_index(s, cl->pods[i]->node_name);
	for (int i = 0; i < cl->nnodes; i++) {
		const struct kp_node *nd = cl->nodes[i];

		if (nd->deleting || (nd->claim && nd->claim->deleting))
			continue;
		tmp[n].node = nd;
		tmp[n].claim = nd->claim;
		tmp[n].node_idx = i;
		tmp[n].claim_idx = -1;
		n++;
	}
	for (int i = 0; i < cl->nclaims; i++) {
		const struct kp_nodeclaim *nc = cl->claims[i];

		if (nc->node || nc->deleting)
			continue;
		tmp[n].claim = nc;
		tmp[n].node_idx = -1;
		tmp[n].claim_idx = i;
		n++;
	}
	for (int i = 0; i < n; i++) {
		rc = slot_init(s, &tmp[i]);
		if (rc)
			return rc;
	}
	ord = kp_arena_calloc(&s->arena, (size_t)n * 2 + 1, sizeof(int));
	s->nodes = kp_arena_calloc(&s->arena, (size_t)n + 1, sizeof(*s->nodes));
	if (!ord || !s->nodes)
		return KP_ERR_NOMEM;
	for (int i = 0; i < n; i++)
		ord[i] = i;
	kp_sched__sort_ints(ord, n, slot_cmp, tmp, ord + n);
	for (int i = 0; i < cl->nnodes; i++)
		s->slot_of_node[i] = -1;
	for (int i = 0; i < n; i++) {
		s->nodes[i] = tmp[ord[i]];
		if (s->nodes[i].node_idx >= 0)
			s->slot_of_node[s->nodes[i].node_idx] = i;
	}
	s->nnodes = n;
	return bound_pods(s);
}

/* ---- per run ---- */

bool kp_sched__node_try(struct kp_sched__run *r, int n, struct kp_sched__pod *p, struct kp_sched__variant *v, struct kp_sched__try *t)
{
	const struct kp_sched__node *sn = &r->s->nodes[n];
	struct kp_sched__nrun *nr = &r->nodes[n];
	struct kp_sched__slot slot;

	memset(t, 0, sizeof(*t));
	/* the checks are a conjunction: cheapest first (resources.Fits fails
	 * on any negative remaining entry; requests are 0 outside res_used) */
	if (nr->neg)
		return false;
	for (int i = 0; i < r->nres_used; i++) {
		int k = r->res_used[i];
		if (p->req.v[k] > nr->rem.v[k])
			return false;
	}
	if (sn->taints.n && !kp_taints_tolerated(&sn->taints, &p->pod->tolerations, !v->tol_pns, NULL))
		return false;
	if (p->pod->host_ports.n && kp_hostports_conflict(&nr->ports, &p->pod->host_ports, NULL))
		return false;
	if (v->reqs.n) {
		if (!kp_reqs_compatible_strict(&nr->reqs, &v->reqs, NULL))
			return false;
		for (int i = 0; i < v->reqs.n; i++) {
			const struct kp_req *cur = kp_reqs_get(&nr->reqs, v->reqs.r[i].key);
			struct kp_req m;

			if (!cur) {
				m = v->reqs.r[i];
			} else {
				if (kp_req_intersect(&m, r->scratch, &v->reqs.r[i], cur))
					return false;
				if (kp_sched__req_equal(&m, cur))
					continue;
			}
			if (kp_sched__try_set(r, t, &m))
				return false;
		}
	}
	slot.taints = &sn->taints;
	slot.strict = true;
	slot.hostname = sn->hostname;
	slot.dom_host = nr->dom_host;
	slot.kq = nr->kq;
	slot.nkq = r->nkeys;
	return kp_sched__topo_add_reqs(r, p, v, &slot, &nr->reqs, t, NULL);
}

kp_err kp_sched__node_commit(struct kp_sched__run *r, int n, struct kp_sched__pod *p, struct kp_sched__try *t)
{
	const struct kp_sched__node *sn = &r->s->nodes[n];
	struct kp_sched__nrun *nr = &r->nodes[n];
	struct kp_sched__slot slot;
	kp_err rc;

	if (t->nover) {
		struct kp_req *set = kp_arena_calloc(r->a, (size_t)t->nover, sizeof(*set));
		if (!set)
			return KP_ERR_NOMEM;
		for (int i = 0; i < t->nover; i++) {
			set[i] = t->over[i];
			if (set[i].n && !(set[i].values = kp_arena_memdup(r->a, t->over[i].values,
									   (size_t)set[i].n * sizeof(char *))))
				return KP_ERR_NOMEM;
		}
		rc = kp_sched__reqs_with(&nr->reqs, r->a, &nr->reqs, set, t->nover);
		if (!rc)
			rc = kp_sched__keycache(r, r->a, &nr->reqs, &nr->kq);
		if (rc)
			return rc;
	}
	kp_res_sub(&nr->rem, &p->req);
	for (int i = 0; i < r->nres_used; i++)
		nr->neg |= nr->rem.v[r->res_used[i]] < 0;
	rc = kp_sched__push_pod(r, &nr->npods, &nr->cap, &nr->pods, p->pod);
	if (!rc && p->pod->host_ports.n)
		rc = kp_hostports_add(&nr->ports, r->a, &p->pod->host_ports);
	if (rc)
		return rc;
	slot.taints = &sn->taints;
	slot.strict = true;
	slot.hostname = sn->hostname;
	slot.dom_host = nr->dom_host;
	slot.kq = NULL;
	slot.nkq = 0;
	return kp_sched__topo_record(r, p, &slot, &nr->reqs);
}

kp_err kp_sched__existing_run_init(struct kp_sched__run *r)
{
	struct kp_sched *s = r->s;

	r->nodes = kp_arena_calloc(r->a, (size_t)s->nnodes + 1, sizeof(*r->nodes));
	if (!r->nodes)
		return KP_ERR_NOMEM;
	for (int i = 0; i < s->nnodes; i++) {
		const struct kp_sched__node *sn = &s->nodes[i];
		struct kp_sched__nrun *nr = &r->nodes[i];

		nr->removed = r->removed && sn->node_idx >= 0 && r->removed[sn->node_idx];
		nr->reqs = sn->reqs;
		nr->rem = sn->avail;
		kp_res_sub(&nr->rem, &sn->daemon_need);
		for (int k = 0; k < r->nres; k++)
			nr->neg |= nr->rem.v[k] < 0;
		nr->ports = sn->ports;
		nr->ports.cap = nr->ports.n;     /* a later add copies instead of writing into the prep */
		nr->dom_host = r->host_key >= 0 ? s->keys[r->host_key].slot_dom[i] : -1;
		if (!nr->removed && kp_sched__keycache(r, r->a, &nr->reqs, &nr->kq))
			return KP_ERR_NOMEM;
	}
	return KP_OK;
}
