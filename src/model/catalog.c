/*
 * catalog.c - instance types and offerings: the pure part of the catalog
 * (no I/O; the loaders live in src/catalog/).
 *
 * Invariants once kp_itype_finish has run on a type: allocatable = capacity
 * - kubeReserved - systemReserved - evictionThreshold, each entry >= 0;
 * reqs holds one In requirement per label plus zone and capacity-type
 * requirements over all offerings; offerings are sorted by (price, zone,
 * capacity type). After kp_catalog_sort the types are sorted by name.
 *
 * Cost: finishing a type is O(labels * log labels + offerings log offerings);
 * kp_catalog_find is a binary search; kp_itype_cheapest and
 * kp_offering_compatible are O(offerings) and O(log reqs) with no allocation.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "karpenter/catalog.h"

void kp_catalog_init(struct kp_catalog *cat)
{
	memset(cat, 0, sizeof(*cat));
	kp_arena_init(&cat->arena);
}

void kp_catalog_free(struct kp_catalog *cat)
{
	if (!cat)
		return;
	kp_arena_free(&cat->arena);
	memset(cat, 0, sizeof(*cat));
}

kp_err kp_catalog_add(struct kp_catalog *cat, struct kp_itype *it)
{
	if (!it)
		return KP_ERR_INVALID;
	if (cat->n == cat->cap) {
		int cap;
		struct kp_itype **t;

		if (cat->cap > INT_MAX / 2)
			return KP_ERR_LIMIT;
		cap = cat->cap ? cat->cap * 2 : 64;
		t = kp_arena_grow(&cat->arena, cat->types, (size_t)cat->n, (size_t)cap, sizeof(*t));
		if (!t)
			return KP_ERR_NOMEM;
		cat->types = t;
		cat->cap = cap;
	}
	cat->types[cat->n++] = it;
	return KP_OK;
}

static int itype_cmp(const void *a, const void *b)
{
	const struct kp_itype *x = *(const struct kp_itype *const *)a;
	const struct kp_itype *y = *(const struct kp_itype *const *)b;

	int c = kp_strcmp0(x->name, y->name);

	/* Windows variants share their type's name (catalog/windows.c): the
	 * plain type first (no windows-build label), then by build */
	if (c)
		return c;
	return kp_strcmp0(kp_labels_get(&x->labels, KP_LABEL_WINDOWS_BUILD),
			  kp_labels_get(&y->labels, KP_LABEL_WINDOWS_BUILD));
}

void kp_catalog_sort(struct kp_catalog *cat)
{
	if (cat->n > 1)
		qsort(cat->types, (size_t)cat->n, sizeof(*cat->types), itype_cmp);
}

const struct kp_itype *kp_catalog_find(const struct kp_catalog *cat, const char *name)
{
	int lo = 0, hi;

	if (!cat || !name)
		return NULL;
	hi = cat->n;
	/* lower bound: of types sharing a name (Windows variants) the first,
	 * the plain one */
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (kp_strcmp0(cat->types[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < cat->n && kp_strcmp0(cat->types[lo]->name, name) == 0 ? cat->types[lo] : NULL;
}

const struct kp_reservation *kp_itype_reservation(const struct kp_itype *it, const char *zone)
{
	for (int i = 0; i < it->nresv; i++)
		if (kp_strcmp0(it->resv[i].zone, zone) == 0)
			return &it->resv[i];
	return NULL;
}

/* ---- instance types ---- */

/* Offering order: price, then zone, then capacity type; an available
 * offering before an unavailable twin so duplicates sort the same way. */
static int offering_cmp(const struct kp_offering *a, const struct kp_offering *b)
{
	int c;

	if (a->price != b->price)
		return a->price < b->price ? -1 : 1;
	c = kp_strcmp0(a->zone, b->zone);
	if (c)
		return c;
	if (a->captype != b->captype)
		return a->captype < b->captype ? -1 : 1;
	return (int)b->available - (int)a->available;
}

static int offering_qsort_cmp(const void *a, const void *b)
{
	return offering_cmp(a, b);
}

static void compute_allocatable(struct kp_itype *it)
{
	const struct kp_overhead *o = &it->overhead;
	struct kp_res *al = &it->allocatable;
	static const int hugepages[] = { KP_RES_HUGEPAGES_2MI, KP_RES_HUGEPAGES_1GI };

	*al = it->capacity;
	kp_res_sub(al, &o->kube_reserved);
	kp_res_sub(al, &o->system_reserved);
	kp_res_sub(al, &o->eviction_threshold);
	for (int i = 0; i < KP_RES_MAX; i++)
		if (al->v[i] < 0)
			al->v[i] = 0;
	/* memory backing hugepages is not allocatable as memory */
	for (size_t i = 0; i < KP_ARRAY_LEN(hugepages); i++) {
		int64_t hp = it->capacity.v[hugepages[i]];
		if (hp > 0)
			al->v[KP_RES_MEMORY] = al->v[KP_RES_MEMORY] > hp ? al->v[KP_RES_MEMORY] - hp : 0;
	}
}

void kp_itype_allocatable(struct kp_itype *it)
{
	compute_allocatable(it);
}

static kp_err add_req(struct kp_itype *it, struct kp_arena *a, const char *key, enum kp_op op,
		      const char *const *values, int n, struct kp_errbuf *eb)
{
	struct kp_req r;
	kp_err rc;

	rc = kp_req_make(&r, a, key, op, values, n, 0, eb);
	if (rc == KP_OK) {
		rc = kp_reqs_add(&it->reqs, a, &r);
		if (rc == KP_ERR_NOMEM)
			kp_errf(eb, rc, "out of memory");
	}
	if (rc)
		kp_err_prefix(eb, "instance type %s: ", it->name ? it->name : "(unnamed)");
	return rc;
}

static bool str_in(const char *const *v, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static kp_err build_reqs(struct kp_itype *it, struct kp_arena *a, struct kp_errbuf *eb)
{
	const char *cts[KP_CAP_COUNT];
	const char **zones = NULL;
	int nzones = 0, ncts = 0;
	kp_err rc = KP_OK;

	kp_reqs_init(&it->reqs);
	for (int i = 0; i < it->labels.n; i++) {
		rc = add_req(it, a, it->labels.kv[i].key, KP_OP_IN, &it->labels.kv[i].value, 1, eb);
		if (rc)
			return rc;
	}

	if (it->noff > 0) {
		zones = malloc((size_t)it->noff * sizeof(*zones));
		if (!zones)
			return kp_errf(eb, KP_ERR_NOMEM, "instance type %s: out of memory", it->name);
	}
	for (int i = 0; i < it->noff; i++) {
		const struct kp_offering *o = &it->off[i];
		const char *ct = kp_captype_name(o->captype);

		if (o->zone && !str_in(zones, nzones, o->zone))
			zones[nzones++] = o->zone;
		if (ncts < KP_CAP_COUNT && !str_in(cts, ncts, ct))
			cts[ncts++] = ct;
	}
	rc = add_req(it, a, KP_LABEL_ZONE, nzones ? KP_OP_IN : KP_OP_DOESNOTEXIST, zones, nzones, eb);
	if (rc == KP_OK)
		rc = add_req(it, a, KP_LABEL_CAPACITY_TYPE, ncts ? KP_OP_IN : KP_OP_DOESNOTEXIST, cts, ncts, eb);
	free(zones);
	return rc;
}

kp_err kp_itype_finish(struct kp_itype *it, struct kp_arena *a, struct kp_errbuf *eb)
{
	if (it->noff < 0 || (it->noff > 0 && !it->off))
		return kp_errf(eb, KP_ERR_INVALID, "instance type %s: bad offering list",
			       it->name ? it->name : "(unnamed)");
	compute_allocatable(it);
	if (it->noff > 1)
		qsort(it->off, (size_t)it->noff, sizeof(*it->off), offering_qsort_cmp);
	return build_reqs(it, a, eb);
}

/* ---- offerings ---- */

bool kp_offering_compatible(const struct kp_offering *o, const struct kp_reqs *reqs)
{
	const struct kp_req *r;

	if (!reqs)
		return true;
	r = kp_reqs_get(reqs, KP_LABEL_ZONE);
	if (r && !kp_req_has(r, o->zone ? o->zone : ""))
		return false;
	r = kp_reqs_get(reqs, KP_LABEL_CAPACITY_TYPE);
	if (r && !kp_req_has(r, kp_captype_name(o->captype)))
		return false;
	return true;
}

const struct kp_offering *kp_itype_cheapest(const struct kp_itype *it, const struct kp_reqs *reqs)
{
	const struct kp_offering *best = NULL;

	for (int i = 0; i < it->noff; i++) {
		const struct kp_offering *o = &it->off[i];

		if (!o->available || !kp_offering_compatible(o, reqs))
			continue;
		if (!best || offering_cmp(o, best) < 0)
			best = o;
	}
	return best;
}
