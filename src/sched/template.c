/*
 * template.c - NodePools turned into NodeClaim templates
 * (Karpenter's NewNodeClaimTemplate and the pre-filter in NewScheduler).
 *
 * Pools are ordered by weight descending and, like Karpenter's
 * OrderByWeight, ties by name DESCENDING. A template's requirements are the
 * pool's requirements (no capacity-type default: a pool that does not
 * constrain it allows every capacity type its offerings have, as in
 * Karpenter v1 and v1beta1), the label requirements, and registered/initialized In [true] (simulation only). Its
 * instance types are the catalog types whose requirements intersect, that
 * have an available offering compatible with the template and satisfy
 * minValues; a pool with none is skipped with a note.
 *
 * Also here: the zone index used for offering bitmasks, and minValues
 * (Karpenter's SatisfiesMinValues). Cost: O(pools x types x keys) once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched_int.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const struct kp_catalog *kp_sched__pool_cat(const struct kp_sched *s, const char *pool)
{
	for (int i = 0; pool && i < s->ntpl; i++)
		if (s->tpl[i].cat && strcmp(s->tpl[i].name, pool) == 0)
			return s->tpl[i].cat;
	return s->cat;
}

/* The k-th distinct catalog of the prep: s->cat, then the templates' own. */
static const struct kp_catalog *cat_nth(const struct kp_sched *s, int k)
{
	if (k == 0)
		return s->cat;
	for (int i = 0; i < s->ntpl; i++) {
		bool seen = s->tpl[i].cat == s->cat;

		for (int j = 0; j < i && !seen; j++)
			seen = s->tpl[j].cat == s->tpl[i].cat;
		if (!seen && --k == 0)
			return s->tpl[i].cat;
	}
	return NULL;
}

static kp_err zones_build(struct kp_sched *s)
{
	struct kp_sched__strmap seen = { 0 };
	const char **z = NULL;
	const struct kp_catalog *cat;
	int n = 0, cap = 0;
	kp_err rc;

	for (int k = 0; (cat = cat_nth(s, k)) != NULL; k++)
	for (int i = 0; i < cat->n; i++) {
		const struct kp_itype *it = cat->types[i];
		for (int j = 0; j < it->noff; j++) {
			const char *zone = it->off[j].zone ? it->off[j].zone : "";
			if (kp_sched__strmap_get(&seen, zone) >= 0)
				continue;
			rc = kp_sched__strmap_put(&seen, &s->arena, zone, n);
			if (rc)
				return rc;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				z = kp_arena_grow(&s->arena, z, (size_t)n, (size_t)cap, sizeof(*z));
				if (!z)
					return KP_ERR_NOMEM;
			}
			z[n++] = zone;
		}
	}
	if (n > 1)
		qsort(z, (size_t)n, sizeof(*z), cmp_str);
	s->zones = z;
	s->nzones = n;
	s->zone_fast = n <= 64;
	for (int i = 0; i < n; i++) {
		rc = kp_sched__strmap_put(&s->zone_ix, &s->arena, z[i], i);
		if (rc)
			return rc;
	}
	return KP_OK;
}

uint64_t kp_sched__zone_mask(const struct kp_sched *s, const struct kp_reqs *reqs)
{
	const struct kp_req *r = kp_reqs_get(reqs, KP_LABEL_ZONE);
	uint64_t m = 0;

	if (!r)
		return ~(uint64_t)0;
	for (int i = 0; i < s->nzones && i < 64; i++)
		if (kp_req_has(r, s->zones[i]))
			m |= (uint64_t)1 << i;
	return m;
}

uint64_t kp_sched__ct_mask(const struct kp_reqs *reqs)
{
	const struct kp_req *r = kp_reqs_get(reqs, KP_LABEL_CAPACITY_TYPE);
	uint64_t m = 0;

	if (!r)
		return ~(uint64_t)0;
	for (int i = 0; i < KP_CAP_COUNT; i++)
		if (kp_req_has(r, kp_captype_name((enum kp_captype)i)))
			m |= (uint64_t)1 << i;
	return m;
}

bool kp_sched__offering_visible(const struct kp_sched *s, const struct kp_itype *it, const struct kp_offering *o)
{
	if (!o->available)
		return false;
	return !s->hidden || !s->hidden(s->hidden_ctx, it, o);
}

bool kp_sched__type_has_offering(const struct kp_sched *s, const struct kp_sched__itype *t, uint64_t zmask,
			   uint64_t cmask, const struct kp_reqs *reqs)
{
	if (s->zone_fast) {
		for (int c = 0; c < KP_CAP_COUNT; c++)
			if ((cmask >> c & 1) && (t->avail[c] & zmask))
				return true;
		return false;
	}
	for (int i = 0; i < t->it->noff; i++) {
		const struct kp_offering *o = &t->it->off[i];
		if (kp_sched__offering_visible(s, t->it, o) && kp_offering_compatible(o, reqs))
			return true;
	}
	return false;
}

bool kp_sched__min_values_ok(struct kp_arena *scratch, const struct kp_reqs *reqs, const struct kp_sched__itype *types,
		       const int *idx, int n, const char **bad_key)
{
	for (int k = 0; k < reqs->n; k++) {
		const struct kp_req *r = &reqs->r[k];
		struct kp_sched__strmap seen = { 0 };
		int distinct = 0;

		if (r->min_values <= 0)
			continue;
		for (int i = 0; i < n && distinct < r->min_values; i++) {
			const struct kp_itype *it = types[idx ? idx[i] : i].it;
			const struct kp_req *tr = kp_reqs_get(&it->reqs, r->key);

			for (int v = 0; tr && v < tr->n; v++) {
				if (kp_sched__strmap_get(&seen, tr->values[v]) >= 0)
					continue;
				if (kp_sched__strmap_put(&seen, scratch, tr->values[v], 1))
					return false;
				distinct++;
			}
		}
		if (distinct < r->min_values) {
			if (bad_key)
				*bad_key = r->key;
			return false;
		}
	}
	return true;
}

static int pool_cmp(const void *a, const void *b)
{
	const struct kp_nodepool *x = *(const struct kp_nodepool *const *)a;
	const struct kp_nodepool *y = *(const struct kp_nodepool *const *)b;

	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	/* Karpenter's OrderByWeight breaks ties by name descending. */
	return -strcmp(x->name, y->name);
}

/* Value arrays of the requirements a template adds. Static: plans keep
 * pointing at them after the prep is freed. */
static const char *yes[1] = { "true" };
static const char *win_os[1] = { "windows" };

/* Windows variants (catalog/windows.c) share their type's name; a pool of
 * a Windows EC2NodeClass takes only its build's variants (os windows,
 * windows-build In [build]) and every other pool none (windows-build
 * DoesNotExist), as the AWS provider returns a NodePool only the types of
 * its class's AMI family. Only when the catalog has variants. */
static kp_err tpl_windows(struct kp_sched *s, struct kp_sched__tpl *t)
{
	const struct kp_nodepool *np = t->pool;
	const char *build = NULL;
	struct kp_req r = { .key = KP_LABEL_WINDOWS_BUILD };
	kp_err rc;

	if (!s->win_variants)
		return KP_OK;
	for (int i = 0; np->node_class.name && i < s->cl->nnodeclasses; i++)
		if (s->cl->nodeclasses[i]->name && strcmp(s->cl->nodeclasses[i]->name, np->node_class.name) == 0)
			build = kp_catalog_windows_build(s->cl->nodeclasses[i]->ami_family);
	if (!build)
		return kp_reqs_add(&t->pool_reqs, &s->arena, &r);   /* DoesNotExist */
	/* a static one-value array per build: plans outlive the prep */
	static const char *b2019[1] = { "10.0.17763" }, *b2022[1] = { "10.0.20348" }, *b2025[1] = { "10.0.26100" };
	r.values = strcmp(build, b2019[0]) == 0 ? b2019 : strcmp(build, b2022[0]) == 0 ? b2022 : b2025;
	r.n = 1;
	rc = kp_reqs_add(&t->pool_reqs, &s->arena, &r);
	if (!rc) {
		struct kp_req os = { .key = KP_LABEL_OS, .n = 1, .values = win_os };
		rc = kp_reqs_add(&t->pool_reqs, &s->arena, &os);
	}
	return rc;
}

/* The zones of the subnets the pool's EC2NodeClass selects
 * (subnetSelectorTerms over the simulated VPC, catalog/subnets.c): the AWS
 * provider offers a NodePool only the zones of its class's subnets
 * (offering zones ∩ status.subnets zones), so a pool whose class selects
 * fewer zones than the catalog has gets zone In [those]; topology domains
 * follow (topology.c key_universe reads the pool's requirements). The value
 * array lives in the prep arena: final_reqs copies value arrays into the
 * plan. */
static kp_err tpl_subnets(struct kp_sched *s, struct kp_sched__tpl *t)
{
	const struct kp_nodepool *np = t->pool;
	const struct kp_nodeclass *nc = NULL;
	struct kp_req r = { .key = KP_LABEL_ZONE };
	const char **v;

	for (int i = 0; np->node_class.name && i < s->cl->nnodeclasses; i++)
		if (s->cl->nodeclasses[i]->name && strcmp(s->cl->nodeclasses[i]->name, np->node_class.name) == 0)
			nc = s->cl->nodeclasses[i];
	/* a provider that answered for this pool (kp_sched_input.pool_catalog)
	 * offered only its class's zones already, from its real subnets */
	if (!nc || nc->nsubnet_terms == 0 || s->nzones == 0 || t->own_cat)
		return KP_OK;
	v = kp_arena_calloc(&s->arena, (size_t)s->nzones, sizeof(*v));
	if (!v)
		return KP_ERR_NOMEM;
	for (int i = 0; i < s->nzones; i++)
		if (s->zones[i][0] && kp_subnet_zone_selected(nc, s->zones[i]))
			v[r.n++] = s->zones[i];
	if (r.n == s->nzones)
		return KP_OK;
	if (r.n == 0) {
		kp_err rc = kp_sched__prep_note(s, "nodepool \"%s\": EC2NodeClass \"%s\"'s subnetSelectorTerms select no subnet "
						"(the simulated VPC has subnet-<zone> in each of the catalog's %d zones)",
						np->name, nc->name, s->nzones);
		if (rc)
			return rc;
	}
	r.values = v;
	return kp_reqs_add(&t->pool_reqs, &s->arena, &r);
}

static kp_err tpl_reqs(struct kp_sched *s, struct kp_sched__tpl *t, struct kp_errbuf *eb)
{
	const struct kp_nodepool *np = t->pool;
	struct kp_reqs lr;
	struct kp_req r = { .n = 1 };
	kp_err rc;

	(void)eb;
	kp_reqs_init(&t->pool_reqs);
	rc = kp_reqs_copy(&t->pool_reqs, &s->arena, &np->reqs);
	if (!rc)
		rc = tpl_windows(s, t);
	if (!rc)
		rc = tpl_subnets(s, t);
	if (rc)
		return rc;
	kp_labels_copy(&t->labels, &s->arena, &np->labels);
	rc = kp_labels_set(&t->labels, &s->arena, KP_LABEL_NODEPOOL, np->name);
	if (rc)
		return rc;
	kp_reqs_init(&t->reqs);
	rc = kp_reqs_copy(&t->reqs, &s->arena, &t->pool_reqs);
	if (rc)
		return rc;
	kp_reqs_init(&lr);
	rc = kp_reqs_from_labels(&lr, &s->arena, &t->labels);
	if (!rc)
		rc = kp_reqs_add_all(&t->reqs, &s->arena, &lr);
	r.values = yes;
	r.key = KP_LABEL_REGISTERED;
	if (!rc)
		rc = kp_reqs_add(&t->reqs, &s->arena, &r);
	r.key = KP_LABEL_INITIALIZED;
	if (!rc)
		rc = kp_reqs_add(&t->reqs, &s->arena, &r);
	for (int i = 0; !rc && i < t->reqs.n; i++)
		if (t->reqs.r[i].min_values > 0)
			t->has_min_values = true;
	return rc;
}

static kp_err type_offerings(struct kp_sched *s, struct kp_sched__itype *t)
{
	t->offz = kp_arena_alloc(&s->arena, (size_t)t->it->noff + 1);
	if (!t->offz)
		return KP_ERR_NOMEM;
	for (int i = 0; i < t->it->noff; i++) {
		const struct kp_offering *o = &t->it->off[i];
		int z;

		t->offz[i] = 255;
		if (!kp_sched__offering_visible(s, t->it, o))
			continue;
		t->any_avail = true;
		z = kp_sched__strmap_get(&s->zone_ix, o->zone ? o->zone : "");
		if (z >= 0 && z < 64 && (int)o->captype >= 0 && o->captype < KP_CAP_COUNT) {
			t->avail[o->captype] |= (uint64_t)1 << z;
			t->offz[i] = (uint8_t)z;
		}
	}
	return KP_OK;
}

const struct kp_offering *kp_sched__type_cheapest(const struct kp_sched *s, const struct kp_sched__itype *t, uint64_t zmask,
					    uint64_t cmask, const struct kp_reqs *reqs)
{
	const struct kp_offering *best = NULL;

	/* offerings are sorted by (price, zone, capacity type): the first wins */
	for (int i = 0; i < t->it->noff && !best; i++) {
		const struct kp_offering *o = &t->it->off[i];

		if (s->zone_fast) {
			if (t->offz[i] != 255 && (zmask >> t->offz[i] & 1) && (cmask >> o->captype & 1))
				best = o;
		} else if ((cmask >> o->captype & 1) && kp_sched__offering_visible(s, t->it, o) &&
			   kp_offering_compatible(o, reqs)) {
			best = o;
		}
	}
	return best;
}

static kp_err tpl_types(struct kp_sched *s, struct kp_sched__tpl *t)
{
	struct kp_res zero;
	struct kp_arena_mark m;
	uint64_t zm = kp_sched__zone_mask(s, &t->reqs), cm = kp_sched__ct_mask(&t->reqs);
	const char *bad = NULL;
	int n = 0;

	kp_res_zero(&zero);
	t->types = kp_arena_calloc(&s->arena, (size_t)(t->cat->n ? t->cat->n : 1), sizeof(*t->types));
	if (!t->types)
		return KP_ERR_NOMEM;
	for (int i = 0; i < t->cat->n; i++) {
		struct kp_sched__itype *ti = &t->types[n];

		memset(ti, 0, sizeof(*ti));
		ti->it = t->cat->types[i];
		if (!kp_reqs_intersects(&ti->it->reqs, &t->reqs, NULL))
			continue;
		if (!kp_sched__res_fits(&zero, &ti->it->allocatable, s->nres, NULL))
			continue;
		if (type_offerings(s, ti))
			return KP_ERR_NOMEM;
		if (!kp_sched__type_has_offering(s, ti, zm, cm, &t->reqs))
			continue;
		n++;
	}
	t->ntypes = n;
	t->name_sorted = true;
	for (int i = 1; i < n; i++)
		if (strcmp(t->types[i - 1].it->name, t->types[i].it->name) >= 0)
			t->name_sorted = false;
	if (n == 0) {
		t->skipped = true;
		return kp_sched__prep_note(s, "nodepool \"%s\" skipped: none of the %d instance types satisfies its requirements",
				     t->name, t->cat->n);
	}
	if (t->has_min_values && !s->opts.min_values_best_effort) {
		m = kp_arena_mark(&s->arena);
		if (!kp_sched__min_values_ok(&s->arena, &t->reqs, t->types, NULL, n, &bad)) {
			kp_arena_reset(&s->arena, m);
			t->skipped = true;
			t->ntypes = 0;
			return kp_sched__prep_note(s, "nodepool \"%s\" skipped: its %d compatible instance types cannot satisfy minValues for %s",
					     t->name, n, bad);
		}
		kp_arena_reset(&s->arena, m);
	}
	return KP_OK;
}

static kp_err tpl_limits(struct kp_sched *s, struct kp_sched__tpl *t)
{
	const struct kp_nodepool *np = t->pool;

	t->limit_mask = np->limit_mask;
	t->limit_rem = np->limits;
	t->has_node_limit = np->has_node_limit;
	t->nodes_rem = np->node_limit;
	t->limited = np->limit_mask != 0 || np->has_node_limit;
	return KP_OK;
}

kp_err kp_sched__templates_build(struct kp_sched *s, struct kp_errbuf *eb)
{
	const struct kp_cluster *cl = s->cl;
	const struct kp_nodepool **pools;
	const struct kp_catalog *cat;
	kp_err rc;

	pools = kp_arena_calloc(&s->arena, (size_t)(cl->npools ? cl->npools : 1), sizeof(*pools));
	s->tpl = kp_arena_calloc(&s->arena, (size_t)(cl->npools ? cl->npools : 1), sizeof(*s->tpl));
	if (!pools || !s->tpl)
		return KP_ERR_NOMEM;
	for (int i = 0; i < cl->npools; i++)
		pools[i] = cl->pools[i];
	qsort(pools, (size_t)cl->npools, sizeof(*pools), pool_cmp);
	s->ntpl = cl->npools;
	for (int i = 0; i < s->ntpl; i++) {
		s->tpl[i].pool = pools[i];
		s->tpl[i].name = pools[i]->name;
		s->tpl[i].cat = s->pool_catalog ? s->pool_catalog(s->pool_catalog_ctx, pools[i]) : NULL;
		/* a kubelet variant of the catalog (simulate) still needs the
		 * class's subnet zones (tpl_subnets) */
		s->tpl[i].own_cat = s->tpl[i].cat != NULL && !s->tpl[i].cat->zones_from_base;
		if (!s->tpl[i].cat)
			s->tpl[i].cat = s->cat;
	}
	if ((rc = zones_build(s)))
		return rc;
	for (int k = 0; (cat = cat_nth(s, k)) != NULL; k++)
		for (int i = 0; i < cat->n && !s->win_variants; i++)
			s->win_variants = kp_labels_get(&cat->types[i]->labels, KP_LABEL_WINDOWS_BUILD) != NULL;
	s->tplwords = (cl->npools + 63) / 64;
	if (s->tplwords == 0)
		s->tplwords = 1;
	for (int i = 0; i < s->ntpl; i++) {
		struct kp_sched__tpl *t = &s->tpl[i];

		for (int j = 0; j < cl->npools; j++)
			if (cl->pools[j] == pools[i])
				t->pool_idx = j;
		for (int j = 0; j < t->pool->taints.n; j++)
			if (t->pool->taints.t[j].effect == KP_EFFECT_PREFERNOSCHEDULE)
				s->any_pns = true;
		rc = tpl_reqs(s, t, eb);
		if (!rc)
			rc = tpl_types(s, t);
		if (!rc && !t->skipped)
			rc = kp_sched__daemon_groups_build(s, t);
		if (!rc)
			rc = tpl_limits(s, t);
		if (rc) {
			if (rc == KP_ERR_NOMEM)
				return kp_errf(eb, rc, "nodepool \"%s\": out of memory", t->name);
			kp_err_prefix(eb, "nodepool \"%s\": ", t->name);
			return rc;
		}
	}
	return KP_OK;
}
