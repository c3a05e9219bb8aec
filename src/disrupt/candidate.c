/*
 * candidate.c - one pass's view of the world: for every node, whether it
 * is a disruption candidate and for which methods (Karpenter's
 * NewCandidate, ValidateNodeDisruptable, ValidatePodsDisruptable and the
 * methods' ShouldDisrupt filters), its price and disruption cost; and the
 * per-NodePool budgets (BuildDisruptionBudgetMapping).
 *
 * Invariants: p->nodes[i] describes p->w->cl.nodes[i]; pods are bound to a
 * node by spec.nodeName; a node is managed iff it has a karpenter.sh/nodepool
 * label (or its NodeClaim names a pool). Blocking reasons are "code: detail"
 * strings in the pass arena. Nothing here decides by iterating a hash map.
 *
 * Cost: O(nodes log nodes + pods log nodes + pods * pdbs + pdbs * pods)
 * per pass, plus one provisioning simulation when pods are pending.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disrupt/disrupt_int.h"

#define HASH_ANN "karpenter.sh/nodepool-hash"
#define HASH_VERSION_ANN "karpenter.sh/nodepool-hash-version"

const char *kp_disrupt__fmt(struct kp_disrupt__pass *p, const char *fmt, ...)
{
	char buf[DD_REASON_MAX];
	va_list ap;
	char *s;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	s = kp_arena_strdup(&p->arena, buf);
	return s ? s : "policy: out of memory while explaining";
}

const char *kp_disrupt__reason_name(int reason)
{
	static const char *const names[DR_COUNT] = { "Empty", "Underutilized", "Drifted", "Expired" };
	return reason >= 0 && reason < DR_COUNT ? names[reason] : "?";
}

void kp_disrupt__record(struct kp_disrupt__pass *p, int i, const char *reason)
{
	if (!p->nodes[i].recorded)
		p->nodes[i].recorded = reason;
}

int64_t kp_disrupt__budget(const struct kp_disrupt__pass *p, int i, int reason)
{
	int k = p->nodes[i].pool_idx;
	return k < 0 ? 0 : p->budget[k][reason];
}

int64_t kp_disrupt__budget0(const struct kp_disrupt__pass *p, int i, int reason)
{
	int k = p->nodes[i].pool_idx;
	return k < 0 ? 0 : p->budget0[k][reason];
}

void kp_disrupt__budget_take(struct kp_disrupt__pass *p, int i, int reason)
{
	int k = p->nodes[i].pool_idx;
	if (k >= 0 && p->budget[k][reason] > 0)
		p->budget[k][reason]--;
}

const char *kp_disrupt__budget_reason(struct kp_disrupt__pass *p, int i, int reason)
{
	int64_t n = kp_disrupt__budget0(p, i, reason);

	if (n <= 0)
		return kp_disrupt__fmt(p, "budget: nodepool %s allows 0 disruptions for %s now", p->nodes[i].pool_name,
			      kp_disrupt__reason_name(reason));
	return kp_disrupt__fmt(p, "budget: nodepool %s allows %lld disruption%s for %s now, all taken in this pass",
		      p->nodes[i].pool_name, (long long)n, n == 1 ? "" : "s", kp_disrupt__reason_name(reason));
}

const char *kp_disrupt__blocked_reason(const struct kp_disrupt__pass *p, int i)
{
	const struct kp_disrupt__node *n = &p->nodes[i];

	if (!n->managed || n->in_cmd || n->deleting)
		return NULL;
	if (n->node_block)
		return n->node_block;
	if (n->pod_block)
		return n->pod_block;
	if (n->recorded)
		return n->recorded;
	return n->cons_block;
}

/* ---- sorting ---- */

struct sort_key {
	double ratio;
	double cost;
	const char *name;
	int idx;
};

static int cmp_consolidation(const void *a, const void *b)
{
	const struct sort_key *x = a, *y = b;

	if (x->ratio != y->ratio)
		return x->ratio > y->ratio ? -1 : 1;
	if (x->cost != y->cost)
		return x->cost < y->cost ? -1 : 1;
	return kp_strcmp0(x->name, y->name);
}

void kp_disrupt__sort_consolidation(struct kp_disrupt__pass *p, int *idx, int n)
{
	struct sort_key *k;

	if (n < 2)
		return;
	k = kp_arena_calloc(&p->arena, (size_t)n, sizeof(*k));
	if (!k)
		return;   /* keeps the input order; still deterministic */
	for (int i = 0; i < n; i++) {
		const struct kp_disrupt__node *d = &p->nodes[idx[i]];
		k[i].ratio = d->resched_cost > 0 ? d->price / d->resched_cost : 0;
		k[i].cost = d->cost;
		k[i].name = d->node->name;
		k[i].idx = idx[i];
	}
	qsort(k, (size_t)n, sizeof(*k), cmp_consolidation);
	for (int i = 0; i < n; i++)
		idx[i] = k[i].idx;
}

/* ---- node index ---- */

static int cmp_node_name(const void *a, const void *b, void *ctx)
{
	struct kp_node *const *nodes = ctx;
	return kp_strcmp0(nodes[*(const int *)a]->name, nodes[*(const int *)b]->name);
}

static int find_node(struct kp_node *const *nodes, const int *order, int n, const char *name)
{
	int lo = 0, hi = n - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int c = kp_strcmp0(nodes[order[mid]]->name, name);
		if (c == 0)
			return order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* Binds pods to nodes and collects the pending ones. */
static kp_err bind_pods(struct kp_disrupt__pass *p, struct kp_errbuf *eb)
{
	struct kp_cluster *cl = &p->w->cl;
	int *order = NULL, *owner = NULL, *fill = NULL;
	kp_err rc = KP_OK;

	order = kp_arena_calloc(&p->arena, (size_t)cl->nnodes + 1, sizeof(int));
	owner = kp_arena_calloc(&p->arena, (size_t)cl->npods + 1, sizeof(int));
	fill = kp_arena_calloc(&p->arena, (size_t)cl->nnodes + 1, sizeof(int));
	p->pending = kp_arena_calloc(&p->arena, (size_t)cl->npods + 1, sizeof(*p->pending));
	if (!order || !owner || !fill || !p->pending)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory binding pods");
	for (int i = 0; i < cl->nnodes; i++)
		order[i] = i;
	qsort_r(order, (size_t)cl->nnodes, sizeof(int), cmp_node_name, cl->nodes);
	for (int i = 0; i < cl->npods; i++) {
		struct kp_pod *pod = cl->pods[i];

		owner[i] = -1;
		if (pod->node_name) {
			owner[i] = find_node(cl->nodes, order, cl->nnodes, pod->node_name);
			if (owner[i] >= 0)
				p->nodes[owner[i]].npods++;
		} else if (kp_pod_is_pending(pod)) {
			p->pending[p->npending++] = pod;
		}
	}
	for (int i = 0; i < p->nnodes; i++) {
		struct kp_disrupt__node *d = &p->nodes[i];
		d->pods = kp_arena_calloc(&p->arena, (size_t)d->npods + 1, sizeof(*d->pods));
		d->resched = kp_arena_calloc(&p->arena, (size_t)d->npods + 1, sizeof(*d->resched));
		if (!d->pods || !d->resched)
			return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory binding pods");
	}
	for (int i = 0; i < cl->npods; i++) {
		struct kp_disrupt__node *d;
		struct kp_pod *pod = cl->pods[i];

		if (owner[i] < 0)
			continue;
		d = &p->nodes[owner[i]];
		d->pods[fill[owner[i]]++] = pod;
		if (kp_pod_is_reschedulable(pod))
			d->resched[d->nresched++] = pod;
	}
	return rc;
}

/* ---- per-node facts ---- */

static const char *pod_key(struct kp_disrupt__pass *p, const struct kp_pod *pod)
{
	char buf[512];
	return kp_disrupt__fmt(p, "%s", kp_pod_key(pod, buf, sizeof(buf)));
}

static void node_price(struct kp_disrupt__pass *p, struct kp_disrupt__node *d)
{
	const char *it = kp_labels_get(&d->node->labels, KP_LABEL_INSTANCE_TYPE);
	const char *zone = kp_labels_get(&d->node->labels, KP_LABEL_ZONE);
	const char *ct = kp_labels_get(&d->node->labels, KP_LABEL_CAPACITY_TYPE);

	d->captype = ct ? kp_captype_parse(ct) : -1;
	d->itype = it && p->cat ? kp_catalog_find(p->cat, it) : NULL;
	if (!d->itype || !zone || d->captype < 0)
		return;
	for (int i = 0; i < d->itype->noff; i++) {
		const struct kp_offering *o = &d->itype->off[i];
		if ((int)o->captype == d->captype && kp_strcmp0(o->zone, zone) == 0) {
			d->off = o;
			d->price = kp_disrupt__price(o);
			return;
		}
	}
	/* getCandidatePrices: a reserved node whose offering is gone (the
	 * reservation is no longer selected) is free, not unpriced */
	if (d->captype == KP_CAP_RESERVED)
		d->price = 0;
}

static const char *unpriced_reason(struct kp_disrupt__pass *p, struct kp_disrupt__node *d)
{
	const char *it = kp_labels_get(&d->node->labels, KP_LABEL_INSTANCE_TYPE);
	const char *zone = kp_labels_get(&d->node->labels, KP_LABEL_ZONE);
	const char *ct = kp_labels_get(&d->node->labels, KP_LABEL_CAPACITY_TYPE);

	if (!it)
		return kp_disrupt__fmt(p, "unpriced: node has no %s label", KP_LABEL_INSTANCE_TYPE);
	if (!d->itype)
		return kp_disrupt__fmt(p, "unpriced: instance type %s is not in the catalog", it);
	if (!zone)
		return kp_disrupt__fmt(p, "unpriced: node has no %s label", KP_LABEL_ZONE);
	if (!ct)
		return kp_disrupt__fmt(p, "unpriced: node has no %s label", KP_LABEL_CAPACITY_TYPE);
	return kp_disrupt__fmt(p, "unpriced: instance type %s has no %s offering in %s", it, ct, zone);
}

static const char *node_ann(const struct kp_disrupt__node *d, const char *key)
{
	const char *v = kp_labels_get(&d->node->annotations, key);
	if (!v && d->claim)
		v = kp_labels_get(&d->claim->annotations, key);
	return v;
}

static bool node_initialized(const struct kp_disrupt__node *d)
{
	const char *v = kp_labels_get(&d->node->labels, KP_LABEL_INITIALIZED);
	return (v && strcmp(v, "true") == 0) || (d->claim && d->claim->initialized);
}

/* Pod-level blocks: an active pod with do-not-disrupt, or an evictable pod
 * whose PDB allows no disruption or that more than one PDB covers. */
static const char *pod_block(struct kp_disrupt__pass *p, struct kp_disrupt__node *d, const int64_t *pdb_allowed)
{
	struct kp_cluster *cl = &p->w->cl;

	for (int i = 0; i < d->npods; i++) {
		const struct kp_pod *pod = d->pods[i];
		if (kp_pod_is_active(pod) && kp_pod_do_not_disrupt(pod, p->now))
			return kp_disrupt__fmt(p, "do-not-disrupt: pod %s has %s=%s", pod_key(p, pod),
				      KP_ANN_DO_NOT_DISRUPT,
				      kp_labels_get(&pod->annotations, KP_ANN_DO_NOT_DISRUPT));
	}
	for (int i = 0; i < d->npods; i++) {
		const struct kp_pod *pod = d->pods[i];
		int first = -1, second = -1;

		if (!kp_pod_is_evictable(pod, p->now))
			continue;
		for (int k = 0; k < cl->npdbs && second < 0; k++) {
			if (!kp_pdb_selects(cl->pdbs[k], pod))
				continue;
			if (first < 0)
				first = k;
			else
				second = k;
		}
		if (second >= 0)
			return kp_disrupt__fmt(p, "pdb: pod %s is covered by more than one PDB (%s, %s)", pod_key(p, pod),
				      cl->pdbs[first]->name, cl->pdbs[second]->name);
		if (first >= 0 && pdb_allowed[first] == 0)
			return kp_disrupt__fmt(p, "pdb: PDB %s/%s allows 0 disruptions (pod %s)",
				      cl->pdbs[first]->ns ? cl->pdbs[first]->ns : "default",
				      cl->pdbs[first]->name, pod_key(p, pod));
	}
	return NULL;
}

static void fmt_duration(int64_t s, char *buf, size_t n)
{
	if (s < 0)
		s = 0;
	if (s >= 3600 && s % 3600 == 0)
		snprintf(buf, n, "%lldh", (long long)(s / 3600));
	else if (s >= 3600)
		snprintf(buf, n, "%lldh%lldm%llds", (long long)(s / 3600), (long long)(s % 3600 / 60),
			 (long long)(s % 60));
	else if (s >= 60 && s % 60 == 0)
		snprintf(buf, n, "%lldm", (long long)(s / 60));
	else if (s >= 60)
		snprintf(buf, n, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(buf, n, "%llds", (long long)s);
}

bool kp_disrupt__is_empty(const struct kp_disrupt__node *d)
{
	for (int k = 0; k < d->nresched; k++)
		if (kp_disrupt_eviction_cost(d->resched[k]) > 0)
			return false;
	return true;
}

bool kp_disrupt__under_consolidate_after(const struct kp_disrupt__pass *p, const struct kp_disrupt__node *d)
{
	int64_t ms, wait_s;

	if (!d->pool || d->deleting)
		return false;
	ms = d->pool->consolidate_after_ms;
	if (ms == KP_NEVER || ms <= 0)
		return false;
	wait_s = ms / 1000 + (ms % 1000 != 0);
	return p->now - d->last_event < wait_s;
}

/* Emptiness and consolidation filters shared by both: consolidateAfter. */
static void consolidation_facts(struct kp_disrupt__pass *p, struct kp_disrupt__node *d)
{
	const struct kp_nodepool *np = d->pool;
	char ago[32], after[32];
	int64_t wait_s;

	if (np->consolidate_after_ms == KP_NEVER) {
		d->cons_block = kp_disrupt__fmt(p, "policy: nodepool %s has consolidateAfter Never", np->name);
		return;
	}
	wait_s = np->consolidate_after_ms / 1000 + (np->consolidate_after_ms % 1000 != 0);
	if (p->now - d->last_event < wait_s) {
		fmt_duration(p->now - d->last_event, ago, sizeof(ago));
		fmt_duration(wait_s, after, sizeof(after));
		d->cons_block = kp_disrupt__fmt(p, "consolidate-after: last pod event %s ago, nodepool %s has consolidateAfter %s",
				       ago, np->name, after);
		return;
	}
	if (kp_disrupt__is_empty(d))
		return;   /* empty: emptiness may take it under either policy */
	if (np->policy == KP_CONSOLIDATE_WHEN_EMPTY) {
		d->cons_block = kp_disrupt__fmt(p, "policy: nodepool %s has consolidationPolicy WhenEmpty and the node has %d pod%s to move",
				       np->name, d->nresched, d->nresched == 1 ? "" : "s");
		return;
	}
	if (!d->off && !(d->itype && d->captype == KP_CAP_RESERVED))
		d->cons_block = unpriced_reason(p, d);
}

/* Static drift (drift.go areStaticFieldsDrifted): ann holds the node's (or
 * NodeClaim's) hash and version. Returns the node's hash when it differs
 * from the pool's, NULL otherwise; *pool_hash_out gets the pool's. */
static const char *static_drifted(const struct kp_nodepool *np, const struct kp_labels *ann, const char **pool_hash_out)
{
	/* the NodePool's own annotations (the hash controller's), not its template's */
	const char *pool_hash = kp_labels_get(&np->meta_annotations, HASH_ANN);
	const char *node_hash = kp_labels_get(ann, HASH_ANN);
	const char *pv = kp_labels_get(&np->meta_annotations, HASH_VERSION_ANN);
	const char *nv = kp_labels_get(ann, HASH_VERSION_ANN);

	/* Without the pool's own annotation, compare with the hash the loader
	 * computed, but only for nodes whose hash has no version: a versioned
	 * hash came from Karpenter's hashstructure, which we do not reproduce.
	 * drift.go areStaticFieldsDrifted compares only when the versions are
	 * equal (here: equal, or both absent in files without versions). */
	if (!pool_hash && !nv)
		pool_hash = np->hash;
	*pool_hash_out = pool_hash;
	if (pool_hash && node_hash && kp_strcmp0(pv, nv) == 0 && strcmp(pool_hash, node_hash) != 0)
		return node_hash;
	return NULL;
}

/* Requirements drift (drift.go areRequirementsDrifted): the first pool
 * requirement the labels (completed by extra, may be NULL) do not satisfy,
 * NULL when all are; *val gets the label's value (NULL when missing). */
static const struct kp_req *reqs_drifted(const struct kp_nodepool *np, const struct kp_labels *labels,
					 const struct kp_labels *extra, const char **val)
{
	for (int i = 0; i < np->reqs.n; i++) {
		const struct kp_req *r = &np->reqs.r[i];
		const char *v = kp_labels_get(labels, r->key);

		if (!v && extra)
			v = kp_labels_get(extra, r->key);
		if (v && kp_req_has(r, v))
			continue;
		if (!v) {   /* a missing label satisfies only NotIn and DoesNotExist */
			enum kp_op op = kp_req_op(r);
			if (op == KP_OP_NOTIN || op == KP_OP_DOESNOTEXIST)
				continue;
		}
		*val = v;
		return r;
	}
	return NULL;
}

const char *kp_disrupt_claim_drift(const struct kp_nodepool *np, const struct kp_nodeclaim *nc)
{
	const char *ph, *v;

	if (!np || !nc)
		return NULL;
	if (static_drifted(np, &nc->annotations, &ph))
		return "NodePoolDrifted";
	if (reqs_drifted(np, &nc->labels, NULL, &v))
		return "RequirementsDrifted";
	return NULL;
}

/* Static drift (NodePool hash) first, then requirements drift. */
static void drift_facts(struct kp_disrupt__pass *p, struct kp_disrupt__node *d)
{
	const struct kp_nodepool *np = d->pool;
	/* drift.go reads the NodeClaim's hash and version (the Node keeps the
	 * values of its registration); the Node's only without them */
	const struct kp_labels *na = d->claim && kp_labels_get(&d->claim->annotations, HASH_ANN) ? &d->claim->annotations
												 : &d->node->annotations;
	const char *pool_hash, *node_hash = static_drifted(np, na, &pool_hash), *v;
	const struct kp_req *r;

	if (node_hash) {
		d->drift = kp_disrupt__fmt(p, "NodePoolDrifted: %s %s differs from nodepool %s's %s", HASH_ANN, node_hash,
				  np->name, pool_hash);
		return;
	}
	/* a Drifted condition already on the NodeClaim (a cloud provider's
	 * IsDrifted, nodeclaim/disruption/drift.go) */
	if (d->claim && d->claim->drifted) {
		d->drift = kp_disrupt__fmt(p, "CloudProviderDrifted: NodeClaim %s has the Drifted condition", d->claim->name ? d->claim->name : "?");
		return;
	}
	r = reqs_drifted(np, &d->node->labels, d->itype ? &d->itype->labels : NULL, &v);
	if (r) {
		char buf[256];

		kp_req_str(r, buf, sizeof(buf));
		if (v)
			d->drift = kp_disrupt__fmt(p, "RequirementsDrifted: label %s=%s does not satisfy %s", r->key, v, buf);
		else
			d->drift = kp_disrupt__fmt(p, "RequirementsDrifted: node has no label %s required by %s", r->key, buf);
	}
}

static void expiry_facts(struct kp_disrupt__pass *p, struct kp_disrupt__node *d)
{
	const struct kp_nodepool *np = d->pool;
	int64_t s;

	d->expire_at = KP_NEVER;
	if (np->expire_after_ms == KP_NEVER || np->expire_after_ms < 0)
		return;
	s = np->expire_after_ms / 1000;
	if (d->created > INT64_MAX - s)
		return;
	d->expire_at = d->created + s;
	if (p->now < d->expire_at)
		return;
	if (np->v1beta1_expiry)
		d->expired_beta = true;
	else
		d->expired_v1 = true;
}

static void node_facts(struct kp_disrupt__pass *p, int i, const int64_t *pdb_allowed)
{
	struct kp_disrupt__node *d = &p->nodes[i];
	struct kp_node *n = d->node;
	double pods_cost = 0;

	d->claim = n->claim;
	d->pool_idx = -1;
	d->captype = -1;
	d->pool_name = kp_labels_get(&n->labels, KP_LABEL_NODEPOOL);
	if (!d->pool_name && d->claim)
		d->pool_name = d->claim->nodepool;
	d->managed = d->pool_name != NULL;
	d->created = d->claim ? d->claim->created : n->created;
	d->deleting = n->deleting != 0 || (d->claim && d->claim->deleting != 0);
	d->initialized = node_initialized(d);
	d->disrupting = d->deleting || !n->ready;
	d->expire_at = KP_NEVER;
	node_price(p, d);

	d->last_event = n->created;
	for (int k = 0; k < d->npods; k++)
		if (d->pods[k]->created > d->last_event)
			d->last_event = d->pods[k]->created;
	/* the Consolidatable controller's clock (nodeclaim/disruption/
	 * consolidation.go): lastPodEventTime, else the Initialized
	 * condition's transition time; a Node without either (simulate input)
	 * keeps the latest creation time of the node and its pods */
	if (d->claim && d->claim->last_pod_event)
		d->last_event = d->claim->last_pod_event;
	else if (d->claim && d->claim->initialized_at)
		d->last_event = d->claim->initialized_at;

	if (!d->managed)
		return;
	for (int k = 0; k < p->w->cl.npools; k++) {
		if (strcmp(p->w->cl.pools[k]->name, d->pool_name) == 0) {
			d->pool = p->w->cl.pools[k];
			d->pool_idx = k;
			break;
		}
	}
	for (int k = 0; k < d->npods; k++)
		pods_cost += kp_disrupt_eviction_cost(d->pods[k]);
	d->resched_cost = 1.0;
	for (int k = 0; k < d->nresched; k++) {
		double c = kp_disrupt_eviction_cost(d->resched[k]);
		if (c > 0)
			d->resched_cost += c;
	}
	if (!d->pool) {
		d->node_block = kp_disrupt__fmt(p, "policy: nodepool %s not found", d->pool_name);
		return;
	}
	d->cost = pods_cost * kp_disrupt_lifetime_remaining(p->now, d->created, d->pool->expire_after_ms);
	if (d->deleting)
		return;
	expiry_facts(p, d);
	if (!d->initialized) {
		d->node_block = kp_disrupt__fmt(p, "uninitialized: node is not initialized");
		return;
	}
	if (kp_strcmp0(node_ann(d, KP_ANN_DO_NOT_DISRUPT), "true") == 0) {
		d->node_block = kp_disrupt__fmt(p, "do-not-disrupt: node has %s=true", KP_ANN_DO_NOT_DISRUPT);
		return;
	}
	d->pod_block = pod_block(p, d, pdb_allowed);
	consolidation_facts(p, d);
	drift_facts(p, d);
}

/* numNodes = managed initialized nodes per pool; those NotReady or deleting
 * use up budget. */
static kp_err build_budgets(struct kp_disrupt__pass *p, struct kp_errbuf *eb)
{
	struct kp_cluster *cl = &p->w->cl;
	int64_t *total, *disrupting;

	p->npools = cl->npools;
	p->budget = kp_arena_calloc(&p->arena, (size_t)cl->npools + 1, sizeof(*p->budget));
	p->budget0 = kp_arena_calloc(&p->arena, (size_t)cl->npools + 1, sizeof(*p->budget0));
	total = kp_arena_calloc(&p->arena, (size_t)cl->npools + 1, sizeof(int64_t));
	disrupting = kp_arena_calloc(&p->arena, (size_t)cl->npools + 1, sizeof(int64_t));
	if (!p->budget || !p->budget0 || !total || !disrupting)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory computing budgets");
	for (int i = 0; i < p->nnodes; i++) {
		const struct kp_disrupt__node *d = &p->nodes[i];
		if (d->pool_idx < 0 || !d->initialized)
			continue;
		total[d->pool_idx]++;
		if (d->disrupting)
			disrupting[d->pool_idx]++;
	}
	for (int k = 0; k < cl->npools; k++) {
		static const unsigned bits[DR_COUNT] = { KP_REASON_EMPTY, KP_REASON_UNDERUTILIZED,
							  KP_REASON_DRIFTED, KP_REASON_ALL };
		for (int r = 0; r < DR_COUNT; r++) {
			int64_t v = kp_nodepool_allowed_disruptions(cl->pools[k], bits[r], p->now, total[k]);
			v -= disrupting[k];
			p->budget[k][r] = v < 0 ? 0 : v;
		}
	}
	memcpy(p->budget0, p->budget, (size_t)cl->npools * sizeof(*p->budget0));
	return KP_OK;
}

/* Nodes a provisioning pass would put pending pods on are nominated. */
static kp_err mark_nominated(struct kp_disrupt__pass *p, struct kp_errbuf *eb)
{
	struct kp_disrupt__sim_result r;
	kp_err rc;

	if (p->npending == 0)
		return KP_OK;
	rc = kp_disrupt__provision(p, &r, eb);
	if (rc)
		return rc;
	for (int e = 0; e < r.plan.nexisting; e++) {
		const struct kp_plan_existing *x = &r.plan.existing[e];
		for (int i = 0; x->node && i < p->nnodes; i++) {
			struct kp_disrupt__node *d = &p->nodes[i];
			if (d->node != x->node || x->npods == 0 || d->node_block || !d->managed)
				continue;
			d->nominated = true;
			if (!d->deleting)
				d->node_block = kp_disrupt__fmt(p, "nominated: pending pod %s would schedule here",
						       pod_key(p, x->pods[0]));
		}
	}
	kp_disrupt__sim_result_free(&r);
	return KP_OK;
}

kp_err kp_disrupt__pass_build(struct kp_disrupt__pass *p, struct kp_disrupt__world *w, const struct kp_catalog *cat,
		     const struct kp_disrupt_opts *opts, int index, struct kp_errbuf *eb)
{
	struct kp_cluster *cl = &w->cl;
	int64_t *pdb_allowed;
	kp_err rc;

	memset(p, 0, sizeof(*p));
	kp_arena_init(&p->arena);
	p->opts = opts;
	p->w = w;
	p->cat = cat;
	p->now = opts->now;
	p->index = index;
	p->nnodes = cl->nnodes;
	p->nodes = kp_arena_calloc(&p->arena, (size_t)cl->nnodes + 1, sizeof(*p->nodes));
	pdb_allowed = kp_arena_calloc(&p->arena, (size_t)cl->npdbs + 1, sizeof(int64_t));
	if (!p->nodes || !pdb_allowed)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory building candidates");
	for (int i = 0; i < cl->nnodes; i++)
		p->nodes[i].node = cl->nodes[i];
	rc = bind_pods(p, eb);
	if (rc)
		return rc;
	for (int k = 0; k < cl->npdbs; k++)
		pdb_allowed[k] = kp_pdb_disruptions_allowed(cl->pdbs[k], cl);
	for (int i = 0; i < p->nnodes; i++)
		node_facts(p, i, pdb_allowed);
	rc = build_budgets(p, eb);
	if (rc)
		return rc;
	rc = kp_disrupt__sim_prepare(p, eb);
	if (rc)
		return rc;
	return mark_nominated(p, eb);
}

void kp_disrupt__pass_free(struct kp_disrupt__pass *p)
{
	if (!p)
		return;
	kp_disrupt__sim_release(p);
	kp_arena_free(&p->arena);
	memset(p, 0, sizeof(*p));
}
