/*
 * world.c - the simulated cluster the passes run on, and how a command
 * changes it.
 *
 * The world is a struct kp_cluster with its own arena: nodes, NodeClaims
 * and pods are shallow copies (their strings, labels and requirement
 * arrays stay in the input cluster, which must outlive the world); NodePools,
 * DaemonSets, PDBs, namespaces and NodeClasses are the input's own objects,
 * never modified. Applying a command launches each replacement as an
 * initialized, ready node (with the DaemonSet pods that would land on it),
 * binds every pod the simulation placed (a moved pod is a new pod: its
 * creation time becomes now), turns the removed nodes' unplaced
 * reschedulable pods pending, and drops the removed nodes with their
 * remaining pods and NodeClaims.
 *
 * Cost: init O(nodes log nodes + claims log nodes + pods); apply
 * O(nodes + pods + placed pods + daemonsets * new nodes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disrupt/disrupt_int.h"

struct ptr_idx {
	uintptr_t p;
	int idx;
};

static int cmp_ptr_idx(const void *a, const void *b)
{
	uintptr_t x = ((const struct ptr_idx *)a)->p, y = ((const struct ptr_idx *)b)->p;
	return x < y ? -1 : x > y;
}

static int find_ptr(const struct ptr_idx *v, int n, const void *p)
{
	struct ptr_idx key = { (uintptr_t)p, 0 };
	const struct ptr_idx *hit = bsearch(&key, v, (size_t)n, sizeof(*v), cmp_ptr_idx);
	return hit ? hit->idx : -1;
}

kp_err kp_disrupt__world_init(struct kp_disrupt__world *w, const struct kp_cluster *in, struct kp_errbuf *eb)
{
	struct kp_cluster *cl = &w->cl;
	struct ptr_idx *nodeidx = NULL;
	kp_err rc = KP_OK;

	memset(w, 0, sizeof(*w));
	kp_cluster_init(cl);
	w->in = in;
	cl->resnames = in->resnames;
	/* shared, read-only objects (the cluster API takes mutable pointers) */
	for (int i = 0; i < in->npools && !rc; i++)
		rc = kp_cluster_add_pool(cl, in->pools[i]);
	for (int i = 0; i < in->ndaemonsets && !rc; i++)
		rc = kp_cluster_add_daemonset(cl, in->daemonsets[i]);
	for (int i = 0; i < in->npdbs && !rc; i++)
		rc = kp_cluster_add_pdb(cl, in->pdbs[i]);
	for (int i = 0; i < in->nnamespaces && !rc; i++)
		rc = kp_cluster_add_namespace(cl, in->namespaces[i]);
	for (int i = 0; i < in->nnodeclasses && !rc; i++)
		rc = kp_cluster_add_nodeclass(cl, in->nodeclasses[i]);
	if (rc)
		goto nomem;

	nodeidx = calloc((size_t)in->nnodes + 1, sizeof(*nodeidx));
	if (!nodeidx)
		goto nomem;
	for (int i = 0; i < in->nnodes; i++) {
		struct kp_node *n = kp_arena_memdup(&cl->arena, in->nodes[i], sizeof(*n));
		if (!n || kp_cluster_add_node(cl, n))
			goto nomem;
		n->claim = NULL;
		nodeidx[i].p = (uintptr_t)in->nodes[i];
		nodeidx[i].idx = i;
	}
	qsort(nodeidx, (size_t)in->nnodes, sizeof(*nodeidx), cmp_ptr_idx);
	for (int i = 0; i < in->nclaims; i++) {
		struct kp_nodeclaim *c = kp_arena_memdup(&cl->arena, in->claims[i], sizeof(*c));
		int k;

		if (!c || kp_cluster_add_claim(cl, c))
			goto nomem;
		c->node = NULL;
		k = in->claims[i]->node ? find_ptr(nodeidx, in->nnodes, in->claims[i]->node) : -1;
		if (k >= 0) {
			c->node = cl->nodes[k];
			cl->nodes[k]->claim = c;
		}
	}
	for (int i = 0; i < in->npods; i++) {
		struct kp_pod *p = kp_arena_memdup(&cl->arena, in->pods[i], sizeof(*p));
		if (!p || kp_cluster_add_pod(cl, p))
			goto nomem;
	}
	free(nodeidx);
	return KP_OK;
nomem:
	free(nodeidx);
	kp_disrupt__world_free(w);
	return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory copying the cluster");
}

void kp_disrupt__world_free(struct kp_disrupt__world *w)
{
	if (!w)
		return;
	kp_cluster_free(&w->cl);
	memset(w, 0, sizeof(*w));
}

/* ---- launching a replacement ---- */

static bool node_has_name(const struct kp_cluster *cl, const char *name)
{
	for (int i = 0; i < cl->nnodes; i++)
		if (strcmp(cl->nodes[i]->name, name) == 0)
			return true;
	return false;
}

/* "<pool>-replacement-<n>" for disruption replacements; "<pool>-<k>" (k-th
 * claim of that pool, as simulate names its nodeClaims) when settling
 * pending pods. A taken name gets a "-<n>" suffix. */
static const char *new_node_name(struct kp_disrupt__world *w, const struct kp_disrupt__cmd *cmd, int claim)
{
	const char *pool = cmd->claims[claim].pc->pool->name;
	char buf[256];
	int k = 0;

	if (cmd->provisioning) {
		for (int j = 0; j <= claim; j++)
			k += strcmp(cmd->claims[j].pc->pool->name, pool) == 0;
		snprintf(buf, sizeof(buf), "%s-%d", pool, k);
		if (!node_has_name(&w->cl, buf))
			return kp_arena_strdup(&w->cl.arena, buf);
	}
	do {
		w->nlaunched++;
		if (cmd->provisioning)
			snprintf(buf, sizeof(buf), "%s-%d-%d", pool, k, w->nlaunched);
		else
			snprintf(buf, sizeof(buf), "%s-replacement-%d", pool, w->nlaunched);
	} while (node_has_name(&w->cl, buf));
	return kp_arena_strdup(&w->cl.arena, buf);
}

static bool ds_fits(const struct kp_daemonset *ds, const struct kp_node *n)
{
	const struct kp_pod *t = &ds->tmpl;

	if (!kp_taints_tolerated(&n->taints, &t->tolerations, false, NULL))
		return false;
	for (int i = 0; i < t->node_selector.n; i++)
		if (kp_strcmp0(kp_labels_get(&n->labels, t->node_selector.kv[i].key), t->node_selector.kv[i].value))
			return false;
	if (t->nrequired_terms == 0)
		return true;
	for (int i = 0; i < t->nrequired_terms; i++)
		if (kp_reqs_match_labels(&t->required_terms[i].reqs, &n->labels, NULL))
			return true;
	return false;
}

static kp_err add_daemon_pods(struct kp_disrupt__world *w, struct kp_node *n, int64_t now)
{
	struct kp_cluster *cl = &w->cl;

	for (int i = 0; i < cl->ndaemonsets; i++) {
		const struct kp_daemonset *ds = cl->daemonsets[i];
		struct kp_pod *p;

		if (!ds_fits(ds, n))
			continue;
		p = kp_arena_memdup(&cl->arena, &ds->tmpl, sizeof(*p));
		if (!p)
			return KP_ERR_NOMEM;
		p->ns = ds->ns;
		p->name = kp_arena_printf(&cl->arena, "%s-%s", ds->name, n->name);
		p->node_name = n->name;
		p->is_daemon = true;
		p->owner_kind = "DaemonSet";
		p->owner_name = ds->name;
		p->created = now;
		p->deleting = 0;
		p->phase = "Running";
		if (!p->name || kp_cluster_add_pod(cl, p))
			return KP_ERR_NOMEM;
	}
	return KP_OK;
}

static kp_err set_label(struct kp_cluster *cl, struct kp_labels *l, const char *k, const char *v)
{
	return v ? kp_labels_set(l, &cl->arena, k, v) : KP_OK;
}

/* The plan is freed after its pass: a launched node copies what it takes
 * from a claim (labels and taints, strings included) into the world. */
static kp_err copy_labels(struct kp_cluster *cl, struct kp_labels *dst, const struct kp_labels *src)
{
	for (int i = 0; i < src->n; i++) {
		const char *k = kp_arena_strdup(&cl->arena, src->kv[i].key);
		const char *v = kp_arena_strdup(&cl->arena, src->kv[i].value ? src->kv[i].value : "");
		if (!k || !v || kp_labels_set(dst, &cl->arena, k, v))
			return KP_ERR_NOMEM;
	}
	return KP_OK;
}

static kp_err copy_taints(struct kp_cluster *cl, struct kp_taints *dst, const struct kp_taints *src)
{
	dst->n = 0;
	dst->t = kp_arena_calloc(&cl->arena, (size_t)src->n + 1, sizeof(*dst->t));
	if (!dst->t)
		return KP_ERR_NOMEM;
	for (int i = 0; i < src->n; i++) {
		struct kp_taint *t = &dst->t[i];
		t->effect = src->t[i].effect;
		t->key = kp_arena_strdup(&cl->arena, src->t[i].key ? src->t[i].key : "");
		t->value = src->t[i].value ? kp_arena_strdup(&cl->arena, src->t[i].value) : NULL;
		if (!t->key || (src->t[i].value && !t->value))
			return KP_ERR_NOMEM;
	}
	dst->n = src->n;
	return KP_OK;
}

static kp_err launch(struct kp_disrupt__pass *p, const struct kp_disrupt__cmd *cmd, int claim, const char **name_out)
{
	struct kp_disrupt__world *w = p->w;
	struct kp_cluster *cl = &w->cl;
	const struct kp_disrupt__claim *c = &cmd->claims[claim];
	const struct kp_nodepool *np = c->pc->pool;
	struct kp_node *n = kp_arena_alloc(&cl->arena, sizeof(*n));
	const char *hash, *hashv;
	kp_err rc;

	if (!n)
		return KP_ERR_NOMEM;
	n->name = new_node_name(w, cmd, claim);
	if (!n->name)
		return KP_ERR_NOMEM;
	n->created = p->now;
	n->ready = true;
	n->capacity = c->it->capacity;
	n->allocatable = c->it->allocatable;
	rc = copy_taints(cl, &n->taints, &c->pc->taints);
	if (!rc)
		rc = copy_labels(cl, &n->labels, &c->pc->labels);
	for (int i = 0; !rc && i < c->it->labels.n; i++)
		if (!kp_labels_has(&n->labels, c->it->labels.kv[i].key))
			rc = kp_labels_set(&n->labels, &cl->arena, c->it->labels.kv[i].key,
					   c->it->labels.kv[i].value);
	if (!rc)
		rc = set_label(cl, &n->labels, KP_LABEL_INSTANCE_TYPE, c->it->name);
	if (!rc)
		rc = set_label(cl, &n->labels, KP_LABEL_ZONE, c->off->zone);
	if (!rc)
		rc = set_label(cl, &n->labels, KP_LABEL_CAPACITY_TYPE, kp_captype_name(c->off->captype));
	if (!rc)
		rc = set_label(cl, &n->labels, KP_LABEL_NODEPOOL, np->name);
	if (!rc)
		rc = set_label(cl, &n->labels, KP_LABEL_HOSTNAME, n->name);
	if (!rc)
		rc = set_label(cl, &n->labels, KP_LABEL_REGISTERED, "true");
	if (!rc)
		rc = set_label(cl, &n->labels, KP_LABEL_INITIALIZED, "true");
	hash = kp_labels_get(&np->meta_annotations, "karpenter.sh/nodepool-hash");
	hashv = kp_labels_get(&np->meta_annotations, "karpenter.sh/nodepool-hash-version");
	if (!rc)
		rc = set_label(cl, &n->annotations, "karpenter.sh/nodepool-hash", hash ? hash : np->hash);
	if (!rc)
		rc = set_label(cl, &n->annotations, "karpenter.sh/nodepool-hash-version", hashv);
	if (!rc)
		rc = kp_cluster_add_node(cl, n);
	if (!rc)
		rc = add_daemon_pods(w, n, p->now);
	*name_out = n->name;
	return rc;
}

/* ---- apply ---- */

static void bind(struct kp_pod *pod, const char *node, int64_t now)
{
	if (kp_strcmp0(pod->node_name, node) == 0)
		return;
	pod->node_name = node;
	pod->created = now;
}

kp_err kp_disrupt__world_apply(struct kp_disrupt__pass *p, const struct kp_disrupt__cmd *cmd, const char **names, struct kp_errbuf *eb)
{
	struct kp_cluster *cl = &p->w->cl;
	bool *gone = kp_arena_calloc(&p->arena, (size_t)cl->nnodes + 1, sizeof(bool));
	const struct kp_plan *plan = cmd->sim && cmd->sim->have_plan ? &cmd->sim->plan : NULL;
	int nold = cl->nnodes, k;

	if (!gone)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory applying a command");
	for (int i = 0; i < cmd->ncand; i++)
		gone[cmd->cand[i]] = true;   /* pass node i is world node i */
	for (int i = 0; i < cmd->nclaims; i++)
		if (launch(p, cmd, i, &names[i]))
			return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory launching a replacement");
	if (plan) {
		for (int e = 0; e < plan->nexisting; e++) {
			const struct kp_plan_existing *x = &plan->existing[e];
			if (!x->node)
				continue;
			for (int j = 0; j < x->npods; j++)
				bind((struct kp_pod *)x->pods[j], x->node->name, p->now);
		}
		for (int c = 0; c < plan->nclaims; c++) {
			const char *to = NULL;
			for (int i = 0; i < cmd->nclaims; i++)
				if (cmd->claims[i].pc == &plan->claims[c])
					to = names[i];
			for (int j = 0; to && j < plan->claims[c].npods; j++)
				bind((struct kp_pod *)plan->claims[c].pods[j], to, p->now);
		}
	}
	/* pods still on a removed node: reschedulable ones go pending, the rest go */
	k = 0;
	for (int i = 0; i < cl->npods; i++) {
		struct kp_pod *pod = cl->pods[i];
		bool on_gone = false;

		for (int c = 0; pod->node_name && c < cmd->ncand; c++)
			if (strcmp(pod->node_name, cl->nodes[cmd->cand[c]]->name) == 0)
				on_gone = true;
		if (on_gone && kp_pod_is_reschedulable(pod) && pod->deleting == 0) {
			pod->node_name = NULL;
			on_gone = false;
		}
		if (!on_gone)
			cl->pods[k++] = pod;
	}
	cl->npods = k;
	k = 0;
	for (int i = 0; i < cl->nclaims; i++) {
		struct kp_node *n = cl->claims[i]->node;
		bool drop = false;
		for (int c = 0; n && c < cmd->ncand; c++)
			drop |= cl->nodes[cmd->cand[c]] == n;
		if (!drop)
			cl->claims[k++] = cl->claims[i];
	}
	cl->nclaims = k;
	k = 0;
	for (int i = 0; i < cl->nnodes; i++)
		if (i >= nold || !gone[i])
			cl->nodes[k++] = cl->nodes[i];
	cl->nnodes = k;
	return KP_OK;
}
