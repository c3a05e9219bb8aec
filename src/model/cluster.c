/*
 * cluster.c - the world one simulation sees: arrays of object pointers, all
 * in the cluster's arena, plus name lookups and node <-> NodeClaim links.
 *
 * Invariants: every array holds n live pointers and room for cap; arrays only
 * grow (doubling, so appends are amortized O(1); the old copy stays in the
 * arena until kp_cluster_free). Objects keep the order they were added in,
 * which is the order every pass iterates, so results are deterministic.
 *
 * Lookups by name are linear scans, each in one static helper so an index can
 * replace it without touching callers. kp_cluster_link sorts a temporary
 * index (O((nodes + claims) log nodes)) and falls back to linear scans if
 * that index cannot be allocated.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "karpenter/objects.h"

static const char *const captype_names[KP_CAP_COUNT] = {
	[KP_CAP_ON_DEMAND] = KP_CT_ON_DEMAND,
	[KP_CAP_SPOT] = KP_CT_SPOT,
	[KP_CAP_RESERVED] = KP_CT_RESERVED,
};

const char *kp_captype_name(enum kp_captype c)
{
	if ((int)c < 0 || c >= KP_CAP_COUNT)
		return "unknown";
	return captype_names[c];
}

int kp_captype_parse(const char *s)
{
	if (!s)
		return -1;
	for (int i = 0; i < KP_CAP_COUNT; i++)
		if (strcmp(s, captype_names[i]) == 0)
			return i;
	return -1;
}

void kp_cluster_init(struct kp_cluster *c)
{
	memset(c, 0, sizeof(*c));
	kp_arena_init(&c->arena);
	kp_resnames_init(&c->resnames);
}

void kp_cluster_free(struct kp_cluster *c)
{
	if (!c)
		return;
	kp_arena_free(&c->arena);
	memset(c, 0, sizeof(*c));
	kp_resnames_init(&c->resnames);
}

/* Returns an array with room for n + 1 elements: old itself if it has room,
 * else a copy twice the size; NULL on out of memory (old is untouched). */
static void *grow(struct kp_arena *a, void *old, int n, int *cap, size_t sz)
{
	int ncap;
	void *p;

	if (n < *cap)
		return old;
	if (*cap > INT_MAX / 2)
		return NULL;
	ncap = *cap ? *cap * 2 : 16;
	p = kp_arena_grow(a, old, (size_t)n, (size_t)ncap, sz);
	if (p)
		*cap = ncap;
	return p;
}

/* One append function per array; the element type keeps them apart. */
#define CLUSTER_ADD(fn, type, arr, nfield, capfield)                                  \
	kp_err fn(struct kp_cluster *c, type *obj)                                    \
	{                                                                             \
		type **p;                                                             \
		if (!obj)                                                             \
			return KP_ERR_INVALID;                                        \
		p = grow(&c->arena, c->arr, c->nfield, &c->capfield, sizeof(*p));     \
		if (!p)                                                               \
			return KP_ERR_NOMEM;                                          \
		c->arr = p;                                                           \
		p[c->nfield++] = obj;                                                 \
		return KP_OK;                                                         \
	}

CLUSTER_ADD(kp_cluster_add_pod, struct kp_pod, pods, npods, cap_pods)
CLUSTER_ADD(kp_cluster_add_node, struct kp_node, nodes, nnodes, cap_nodes)
CLUSTER_ADD(kp_cluster_add_claim, struct kp_nodeclaim, claims, nclaims, cap_claims)
CLUSTER_ADD(kp_cluster_add_pool, struct kp_nodepool, pools, npools, cap_pools)
CLUSTER_ADD(kp_cluster_add_daemonset, struct kp_daemonset, daemonsets, ndaemonsets, cap_daemonsets)
CLUSTER_ADD(kp_cluster_add_pdb, struct kp_pdb, pdbs, npdbs, cap_pdbs)
CLUSTER_ADD(kp_cluster_add_namespace, struct kp_namespace, namespaces, nnamespaces, cap_namespaces)
CLUSTER_ADD(kp_cluster_add_nodeclass, struct kp_nodeclass, nodeclasses, nnodeclasses, cap_nodeclasses)
CLUSTER_ADD(kp_cluster_add_storageclass, struct kp_storageclass, storageclasses, nstorageclasses, cap_storageclasses)
CLUSTER_ADD(kp_cluster_add_pvc, struct kp_pvc, pvcs, npvcs, cap_pvcs)
CLUSTER_ADD(kp_cluster_add_pv, struct kp_pv, pvs, npvs, cap_pvs)

#undef CLUSTER_ADD

/* ---- lookups: the first object with that name, in insertion order ---- */

const struct kp_storageclass *kp_cluster_storageclass(const struct kp_cluster *c, const char *name)
{
	for (int i = 0; name && i < c->nstorageclasses; i++)
		if (strcmp(c->storageclasses[i]->name, name) == 0)
			return c->storageclasses[i];
	return NULL;
}

const struct kp_pvc *kp_cluster_pvc(const struct kp_cluster *c, const char *ns, const char *name)
{
	for (int i = 0; name && i < c->npvcs; i++)
		if (strcmp(c->pvcs[i]->name, name) == 0 && strcmp(c->pvcs[i]->ns ? c->pvcs[i]->ns : "",
								    ns ? ns : "") == 0)
			return c->pvcs[i];
	return NULL;
}

const struct kp_pv *kp_cluster_pv(const struct kp_cluster *c, const char *name)
{
	for (int i = 0; name && i < c->npvs; i++)
		if (strcmp(c->pvs[i]->name, name) == 0)
			return c->pvs[i];
	return NULL;
}

struct kp_node *kp_cluster_node(const struct kp_cluster *c, const char *name)
{
	if (!name)
		return NULL;
	for (int i = 0; i < c->nnodes; i++)
		if (c->nodes[i]->name && strcmp(c->nodes[i]->name, name) == 0)
			return c->nodes[i];
	return NULL;
}

struct kp_nodepool *kp_cluster_pool(const struct kp_cluster *c, const char *name)
{
	if (!name)
		return NULL;
	for (int i = 0; i < c->npools; i++)
		if (c->pools[i]->name && strcmp(c->pools[i]->name, name) == 0)
			return c->pools[i];
	return NULL;
}

const struct kp_namespace *kp_cluster_namespace(const struct kp_cluster *c, const char *name)
{
	if (!name)
		return NULL;
	for (int i = 0; i < c->nnamespaces; i++)
		if (c->namespaces[i]->name && strcmp(c->namespaces[i]->name, name) == 0)
			return c->namespaces[i];
	return NULL;
}

/* ---- node <-> NodeClaim links ---- */

struct node_ix {
	const char *key;
	int pos;                 /* insertion order breaks ties */
	struct kp_node *node;
};

static int node_ix_cmp(const void *a, const void *b)
{
	const struct node_ix *x = a, *y = b;
	int r = strcmp(x->key, y->key);

	if (r)
		return r;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static bool has_text(const char *s)
{
	return s && s[0];
}

static const char *node_key(const struct kp_node *n, bool by_provider)
{
	return by_provider ? n->provider_id : n->name;
}

/* Sorted index of nodes by provider ID or name (nodes without one are left
 * out); NULL with *n = 0 if empty or out of memory. Caller frees. */
static struct node_ix *node_index(const struct kp_cluster *c, bool by_provider, int *n)
{
	struct node_ix *ix;

	*n = 0;
	if (c->nnodes == 0)
		return NULL;
	ix = malloc((size_t)c->nnodes * sizeof(*ix));
	if (!ix)
		return NULL;
	for (int i = 0; i < c->nnodes; i++) {
		const char *k = node_key(c->nodes[i], by_provider);
		if (has_text(k))
			ix[(*n)++] = (struct node_ix){ k, i, c->nodes[i] };
	}
	qsort(ix, (size_t)*n, sizeof(*ix), node_ix_cmp);
	return ix;
}

static bool node_linkable(const struct kp_node *n, const struct kp_nodeclaim *nc, bool by_provider)
{
	if (n->claim)
		return false;
	/* by name only when provider IDs cannot tell them apart */
	return by_provider || !has_text(n->provider_id) || !has_text(nc->provider_id);
}

/* First unlinked node with that key, in insertion order. ix may be NULL (out
 * of memory): then a linear scan. */
static struct kp_node *find_node(const struct kp_cluster *c, const struct node_ix *ix, int nix,
				 bool by_provider, const struct kp_nodeclaim *nc)
{
	const char *key = by_provider ? nc->provider_id : nc->node_name;
	int lo = 0, hi = nix;

	if (!ix) {
		for (int i = 0; i < c->nnodes; i++) {
			const char *k = node_key(c->nodes[i], by_provider);
			if (has_text(k) && strcmp(k, key) == 0 &&
			    node_linkable(c->nodes[i], nc, by_provider))
				return c->nodes[i];
		}
		return NULL;
	}
	while (lo < hi) {                      /* leftmost entry >= key */
		int mid = lo + (hi - lo) / 2;
		if (strcmp(ix[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < nix && strcmp(ix[lo].key, key) == 0; lo++)
		if (node_linkable(ix[lo].node, nc, by_provider))
			return ix[lo].node;
	return NULL;
}

static void link_pass(struct kp_cluster *c, bool by_provider)
{
	struct node_ix *ix;
	int nix;

	ix = node_index(c, by_provider, &nix);
	for (int i = 0; i < c->nclaims; i++) {
		struct kp_nodeclaim *nc = c->claims[i];
		struct kp_node *n;

		if (nc->node || !has_text(by_provider ? nc->provider_id : nc->node_name))
			continue;
		n = find_node(c, ix, nix, by_provider, nc);
		if (n) {
			n->claim = nc;
			nc->node = n;
		}
	}
	free(ix);
}

void kp_cluster_link(struct kp_cluster *c)
{
	for (int i = 0; i < c->nnodes; i++)
		c->nodes[i]->claim = NULL;
	for (int i = 0; i < c->nclaims; i++)
		c->claims[i]->node = NULL;
	link_pass(c, true);
	link_pass(c, false);
}
