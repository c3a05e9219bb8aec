/*
 * plan.c - turning the packed claims into the plan (Karpenter's
 * FinalizeScheduling, TruncateInstanceTypes and ToNodeClaim).
 *
 * Per claim: its remaining types are ordered by their cheapest available
 * offering compatible with the claim's requirements (ties keep name order)
 * and cut to max_instance_types; under the Strict minValues policy a cut
 * that breaks minValues fails the claim's pods. The launch choice is the
 * cheapest such offering of the first type (ties by zone, then capacity
 * type). The plan's requirements drop the hostname placeholder and the
 * simulation-only keys and gain instance-type In [the kept types] and
 * capacity-type In [their offerings' capacity types]. Labels are what the
 * Node will carry: the launch type's labels, zone and capacity type, one
 * value for each custom requirement, then the template labels (which win).
 * Requests add the smallest daemon overhead among the remaining types.
 *
 * Cost: O(types x offerings) per claim.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched_int.h"

static int int_cmp(void *ctx, int a, int b);
static int cmp_str(const void *a, const void *b);

/* Type lists shared between claims that keep the same types (the plan
 * holds one copy of each distinct list). */
struct shared {
	int tpl, n;
	uint64_t hash;
	int *kept;
	const struct kp_itype **itypes;
	const char **names;             /* sorted */
	struct shared *next;
};

#define SHARED_BUCKETS 1024

static uint64_t kept_hash(int tpl, const int *kept, int n)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)tpl;

	for (int i = 0; i < n; i++)
		h = (h ^ (uint64_t)(unsigned)kept[i]) * 1099511628211ull;
	return h ^ (uint64_t)n;
}

static kp_err shared_get(struct kp_sched__run *r, struct shared **tab, int tpl, const int *kept, int n,
			 struct shared **out)
{
	const struct kp_sched__tpl *t = &r->s->tpl[tpl];
	uint64_t h = kept_hash(tpl, kept, n);
	struct shared *e;
	int *ix;

	for (e = tab[h % SHARED_BUCKETS]; e; e = e->next) {
		if (e->hash == h && e->tpl == tpl && e->n == n && memcmp(e->kept, kept, (size_t)n * sizeof(int)) == 0) {
			*out = e;
			return KP_OK;
		}
	}
	e = kp_arena_alloc(r->a, sizeof(*e));
	if (!e)
		return KP_ERR_NOMEM;
	e->tpl = tpl;
	e->n = n;
	e->hash = h;
	e->kept = kp_arena_memdup(r->a, kept, (size_t)n * sizeof(int) + 1);
	e->itypes = kp_arena_calloc(r->a, (size_t)n + 1, sizeof(*e->itypes));
	e->names = kp_arena_calloc(r->a, (size_t)n + 1, sizeof(*e->names));
	ix = kp_arena_calloc(r->scratch, (size_t)n * 2 + 1, sizeof(int));
	if (!e->kept || !e->itypes || !e->names || !ix)
		return KP_ERR_NOMEM;
	for (int i = 0; i < n; i++)
		e->itypes[i] = t->types[kept[i]].it;
	/* the catalog's own strings, in name order: template types are sorted
	 * by name, so ascending indices give sorted names */
	memcpy(ix, kept, (size_t)n * sizeof(int));
	kp_sched__sort_ints(ix, n, int_cmp, NULL, ix + n);
	for (int i = 0; i < n; i++)
		e->names[i] = t->types[ix[i]].it->name;
	if (!t->name_sorted)
		qsort(e->names, (size_t)n, sizeof(*e->names), cmp_str);
	e->next = tab[h % SHARED_BUCKETS];
	tab[h % SHARED_BUCKETS] = e;
	*out = e;
	return KP_OK;
}

struct priced {
	int idx;            /* into tpl->types */
	double price;
};

static int priced_cmp(void *ctx, int a, int b)
{
	const struct priced *p = ctx;
	if (p[a].price != p[b].price)
		return p[a].price < p[b].price ? -1 : 1;
	return 0;
}

static bool sim_key(const char *key)
{
	return strcmp(key, KP_LABEL_HOSTNAME) == 0 || strcmp(key, KP_LABEL_REGISTERED) == 0 ||
	       strcmp(key, KP_LABEL_INITIALIZED) == 0;
}

/* minValues of req, lowered to the distinct values the types offer. */
static int min_values_met(struct kp_sched__run *r, const struct kp_itype **its, int n, const struct kp_req *req)
{
	struct kp_sched__strmap seen = { 0 };
	int distinct = 0;

	for (int i = 0; i < n && distinct < req->min_values; i++) {
		const struct kp_req *tr = kp_reqs_get(&its[i]->reqs, req->key);
		for (int v = 0; tr && v < tr->n; v++) {
			if (kp_sched__strmap_get(&seen, tr->values[v]) >= 0)
				continue;
			if (kp_sched__strmap_put(&seen, r->scratch, tr->values[v], 1))
				return req->min_values;
			distinct++;
		}
	}
	return distinct < req->min_values ? distinct : req->min_values;
}

static int int_cmp(void *ctx, int a, int b)
{
	(void)ctx;
	return a < b ? -1 : a > b;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The claim's requirements. capacity-type lists the types its kept types
 * can launch, except for reserved capacity, which follows the launch
 * choice as Karpenter's NodeClaim.FinalizeScheduling does: a claim that
 * holds a reservation is pinned to reserved (so a replacement that
 * consolidation priced as reserved never launches as on-demand), and a
 * claim whose reservations are used up does not list reserved. */
static kp_err final_reqs(struct kp_sched__run *r, const struct kp_sched__claim *c, const struct kp_itype **its,
			 const int *kept, const char **names, int n, const struct kp_offering *launch,
			 struct kp_reqs *out, struct kp_errbuf *eb)
{
	const struct kp_sched__tpl *t = &r->s->tpl[c->tpl];
	const char *cts[KP_CAP_COUNT];
	bool seen[KP_CAP_COUNT] = { false };
	int ncts = 0;
	struct kp_req q;
	kp_err rc = KP_OK;

	kp_reqs_init(out);
	for (int i = 0; !rc && i < c->reqs.n; i++)
		if (!sim_key(c->reqs.r[i].key))
			rc = kp_reqs_add(out, r->a, &c->reqs.r[i]);
	for (int i = 0; i < n; i++) {
		const struct kp_sched__itype *ti = &t->types[kept[i]];

		for (int k = 0; k < KP_CAP_COUNT; k++) {
			if (seen[k] || !(c->cmask >> k & 1))
				continue;
			if (r->s->zone_fast) {
				seen[k] = (ti->avail[k] & c->zmask) != 0;
				continue;
			}
			for (int j = 0; j < its[i]->noff && !seen[k]; j++) {
				const struct kp_offering *o = &its[i]->off[j];
				seen[k] = (int)o->captype == k && kp_sched__offering_visible(r->s, its[i], o) &&
					  kp_offering_compatible(o, &c->reqs);
			}
		}
	}
	if (launch && launch->captype == KP_CAP_RESERVED)
		for (int k = 0; k < KP_CAP_COUNT; k++)
			seen[k] = k == KP_CAP_RESERVED;
	else
		seen[KP_CAP_RESERVED] = false;
	for (int k = 0; k < KP_CAP_COUNT; k++)
		if (seen[k])
			cts[ncts++] = kp_captype_name((enum kp_captype)k);
	if (!rc && n) {
		const struct kp_req *cur = kp_reqs_get(out, KP_LABEL_INSTANCE_TYPE);
		int mv = cur ? cur->min_values : 0;

		memset(&q, 0, sizeof(q));
		q.key = KP_LABEL_INSTANCE_TYPE;
		q.n = n;
		q.values = names;
		/* BestEffort lowers an unmet minValues to what the types give */
		q.min_values = mv > n ? n : mv;
		rc = kp_reqs_add(out, r->a, &q);
	}
	if (!rc && ncts) {
		rc = kp_req_make(&q, r->a, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, cts, ncts, 0, eb);
		if (!rc)
			rc = kp_reqs_add(out, r->a, &q);
	}
	for (int i = 0; !rc && i < out->n; i++) {
		struct kp_req *q2 = &out->r[i];

		if (q2->min_values > 0)
			q2->min_values = min_values_met(r, its, n, q2);
		/* value arrays may live in the prep or the scratch arena: the
		 * plan gets its own (the strings belong to the cluster and catalog) */
		if (q2->n && q2->values != names) {
			q2->values = kp_arena_memdup(r->a, q2->values, (size_t)q2->n * sizeof(*q2->values));
			if (!q2->values)
				rc = KP_ERR_NOMEM;
		}
	}
	return rc;
}

static kp_err final_labels(struct kp_sched__run *r, const struct kp_sched__claim *c, const struct kp_plan_claim *pc)
{
	const struct kp_sched__tpl *t = &r->s->tpl[c->tpl];
	struct kp_labels *l = (struct kp_labels *)&pc->labels;
	kp_err rc = KP_OK;

	if (pc->launch_type)
		rc = kp_labels_copy(l, r->a, &pc->launch_type->labels);
	if (!rc && pc->launch) {
		rc = kp_labels_set(l, r->a, KP_LABEL_ZONE, pc->launch->zone);
		if (!rc)
			rc = kp_labels_set(l, r->a, KP_LABEL_CAPACITY_TYPE, kp_captype_name(pc->launch->captype));
	}
	if (!rc)
		rc = kp_reqs_custom_labels(&pc->reqs, r->a, l);
	for (int i = 0; !rc && i < t->labels.n; i++)
		rc = kp_labels_set(l, r->a, t->labels.kv[i].key, t->labels.kv[i].value);
	return rc;
}

static void min_daemon(const struct kp_sched__run *r, const struct kp_sched__claim *c, struct kp_res *out)
{
	const struct kp_sched__tpl *t = &r->s->tpl[c->tpl];
	bool *has = kp_arena_calloc(r->scratch, (size_t)t->ndg + 1, sizeof(bool));
	bool first = true;

	kp_res_zero(out);
	if (!has)
		return;
	for (int i = 0; i < c->ntypes; i++)
		has[t->types[c->types[i]].dgroup] = true;
	for (int g = 0; g < t->ndg; g++) {
		if (!has[g] || !t->dg[g].has_overhead)
			continue;
		if (first) {
			*out = t->dg[g].overhead;
			first = false;
			continue;
		}
		/* resources.MinResources: the minimum among the groups that list it */
		for (int k = 0; k < KP_RES_MAX; k++) {
			int64_t v = t->dg[g].overhead.v[k];
			if (v && (out->v[k] == 0 || v < out->v[k]))
				out->v[k] = v;
		}
	}
}

static kp_err unsched_claim(struct kp_sched__run *r, const struct kp_sched__claim *c, const char *why)
{
	for (int i = 0; i < r->npods; i++) {
		struct kp_sched__pod *p = &r->pods[i];
		for (int j = 0; j < c->npods; j++) {
			if (c->pods[j] != p->pod)
				continue;
			p->placed = false;
			p->err = kp_arena_printf(r->a, "nodepool \"%s\": %s", r->s->tpl[c->tpl].name, why);
			if (!p->err)
				return KP_ERR_NOMEM;
		}
	}
	return KP_OK;
}

/* The offering the cloud would launch: capacity type by precedence
 * reserved > spot > on-demand (the AWS provider's getCapacityType, also
 * the simulated cloud's choose), then the cheapest offering of that type
 * among the kept types; ties by type name, then zone. */
/* Capacity reservations in use (Karpenter's ReservationCapacity): per
 * counted reserved offering, the instances of this plan and the existing
 * reserved nodes of that type and zone. */
struct resv {
	const struct kp_itype *it;
	const char *zone;
	int64_t used;
};

struct resv_use {
	int n, cap;
	struct resv *v;
};

static struct resv *resv_get(struct kp_arena *a, struct resv_use *u, const struct kp_itype *it, const char *zone)
{
	for (int i = 0; i < u->n; i++)
		if (strcmp(u->v[i].it->name, it->name) == 0 && kp_strcmp0(u->v[i].zone, zone) == 0)
			return &u->v[i];
	if (u->n == u->cap) {
		int cap = u->cap ? u->cap * 2 : 16;
		struct resv *v = kp_arena_grow(a, u->v, (size_t)u->n, (size_t)cap, sizeof(*v));
		if (!v)
			return NULL;
		u->v = v;
		u->cap = cap;
	}
	u->v[u->n] = (struct resv){ it, zone, 0 };
	return &u->v[u->n++];
}

static bool resv_left(const struct resv_use *u, const struct kp_itype *it, const struct kp_offering *o)
{
	const struct kp_reservation *rv = o->captype == KP_CAP_RESERVED ? kp_itype_reservation(it, o->zone) : NULL;

	if (!rv)
		return true;
	for (int i = 0; i < u->n; i++)
		if (strcmp(u->v[i].it->name, it->name) == 0 && kp_strcmp0(u->v[i].zone, o->zone) == 0)
			return u->v[i].used < rv->capacity;
	return rv->capacity > 0;
}

/* Existing reserved nodes, and in-flight NodeClaims labelled reserved,
 * count against their reservation. */
static kp_err resv_init(struct kp_sched__run *r, struct resv_use *u)
{
	const struct kp_cluster *cl = r->s->cl;

	memset(u, 0, sizeof(*u));
	if (!r->s->resv_known) {
		/* once per prepared scheduler: without reserved offerings no
		 * node counts against a reservation (resv_left) */
		r->s->resv_known = 1;
		for (int c = -1; c < r->s->ntpl; c++) {
			const struct kp_catalog *cat = c < 0 ? r->s->cat : r->s->tpl[c].cat;
			for (int t = 0; cat && t < cat->n && r->s->resv_known == 1; t++)
				for (int o = 0; o < cat->types[t]->noff; o++)
					if (cat->types[t]->off[o].captype == KP_CAP_RESERVED)
						r->s->resv_known = 2;
		}
	}
	for (int i = 0; r->s->resv_known == 2 && i < cl->nnodes; i++) {
		const struct kp_node *n = cl->nodes[i];
		const char *ct = kp_labels_get(&n->labels, KP_LABEL_CAPACITY_TYPE);
		const struct kp_itype *it;
		struct resv *x;

		if (!ct || strcmp(ct, KP_CT_RESERVED) != 0 || n->deleting)
			continue;   /* (the catalog look-up only for reserved nodes: runs once per solve) */
		it = kp_catalog_find(kp_sched__pool_cat(r->s, kp_labels_get(&n->labels, KP_LABEL_NODEPOOL)),
				     kp_labels_get(&n->labels, KP_LABEL_INSTANCE_TYPE));
		if (!it)
			continue;
		if (!(x = resv_get(r->a, u, it, kp_labels_get(&n->labels, KP_LABEL_ZONE))))
			return KP_ERR_NOMEM;
		x->used++;
	}
	/* in-flight NodeClaims (launched, no Node yet) that hold a reservation */
	for (int i = 0; i < cl->nclaims; i++) {
		const struct kp_nodeclaim *c = cl->claims[i];
		const char *ct = kp_labels_get(&c->labels, KP_LABEL_CAPACITY_TYPE);
		const struct kp_itype *it;
		struct resv *x;

		if (c->node || c->deleting || !ct || strcmp(ct, KP_CT_RESERVED) != 0)
			continue;
		it = kp_catalog_find(r->s->cat, kp_labels_get(&c->labels, KP_LABEL_INSTANCE_TYPE));
		if (!it)
			continue;
		if (!(x = resv_get(r->a, u, it, kp_labels_get(&c->labels, KP_LABEL_ZONE))))
			return KP_ERR_NOMEM;
		x->used++;
	}
	return KP_OK;
}

/* The cheapest reserved offering of ti that the claim allows and whose
 * reservation has room. */
static const struct kp_offering *reserved_left(const struct kp_sched *s, const struct kp_sched__itype *ti,
					       const struct kp_sched__claim *c, const struct resv_use *u)
{
	const struct kp_offering *best = NULL;

	for (int i = 0; i < ti->it->noff; i++) {
		const struct kp_offering *o = &ti->it->off[i];
		int z = kp_sched__strmap_get(&s->zone_ix, o->zone ? o->zone : "");

		if (o->captype != KP_CAP_RESERVED || !kp_sched__offering_visible(s, ti->it, o) ||
		    !kp_offering_compatible(o, &c->reqs) || (s->zone_fast && (z < 0 || !(c->zmask >> z & 1))))
			continue;
		if (resv_left(u, ti->it, o) && (!best || o->price < best->price))
			best = o;
	}
	return best;
}

static void launch_choice(const struct kp_sched *s, const struct kp_sched__tpl *t, const struct kp_sched__claim *c,
			  const int *kept, int n, const struct resv_use *u, struct kp_plan_claim *pc)
{
	static const enum kp_captype order[] = { KP_CAP_RESERVED, KP_CAP_SPOT, KP_CAP_ON_DEMAND };

	pc->launch_type = NULL;
	pc->launch = NULL;
	for (size_t k = 0; k < KP_ARRAY_LEN(order) && !pc->launch; k++) {
		uint64_t cm = c->cmask & ((uint64_t)1 << order[k]);

		if (!cm)
			continue;
		for (int i = 0; i < n; i++) {
			const struct kp_sched__itype *ti = &t->types[kept[i]];
			const struct kp_offering *o = order[k] == KP_CAP_RESERVED ? reserved_left(s, ti, c, u)
										  : kp_sched__type_cheapest(s, ti, c->zmask, cm, &c->reqs);

			if (!o)
				continue;
			if (!pc->launch || o->price < pc->launch->price ||
			    (o->price == pc->launch->price && strcmp(ti->it->name, pc->launch_type->name) < 0)) {
				pc->launch = o;
				pc->launch_type = ti->it;
			}
		}
	}
}

kp_err kp_sched__claims_finalize(struct kp_sched__run *r, struct kp_errbuf *eb)
{
	struct kp_sched *s = r->s;
	struct kp_plan *plan = r->plan;
	int maxit = s->opts.max_instance_types > 0 ? s->opts.max_instance_types : 600;

	struct shared **tab = kp_arena_calloc(r->scratch, SHARED_BUCKETS, sizeof(*tab));
	struct resv_use resv;

	if (resv_init(r, &resv))
		return KP_ERR_NOMEM;

	plan->claims = kp_arena_calloc(r->a, (size_t)r->nclaims + 1, sizeof(*plan->claims));
	if (!plan->claims || !tab)
		return KP_ERR_NOMEM;
	for (int ci = 0; ci < r->nclaims; ci++) {
		const struct kp_sched__claim *c = r->claims[ci];
		const struct kp_sched__tpl *t = &s->tpl[c->tpl];
		struct kp_plan_claim *pc = &plan->claims[plan->nclaims];
		struct kp_arena_mark mark = kp_arena_mark(r->scratch);
		struct shared *sh;
		struct priced *pr = kp_arena_calloc(r->scratch, (size_t)c->ntypes + 1, sizeof(*pr));
		int *ord = kp_arena_calloc(r->scratch, (size_t)c->ntypes * 2 + 1, sizeof(int));
		int *kept = kp_arena_calloc(r->scratch, (size_t)c->ntypes + 1, sizeof(int));
		int n;
		kp_err rc;

		if (!pr || !ord || !kept)
			return KP_ERR_NOMEM;
		for (int i = 0; i < c->ntypes; i++) {
			const struct kp_offering *o = kp_sched__type_cheapest(s, &t->types[c->types[i]], c->zmask, c->cmask,
									&c->reqs);
			pr[i].idx = c->types[i];
			pr[i].price = o ? o->price : 1e300;
			ord[i] = i;
		}
		kp_sched__sort_ints(ord, c->ntypes, priced_cmp, pr, ord + c->ntypes);
		n = c->ntypes < maxit ? c->ntypes : maxit;
		for (int i = 0; i < n; i++)
			kept[i] = pr[ord[i]].idx;
		if (n < c->ntypes && t->has_min_values && !s->opts.min_values_best_effort) {
			const char *bad = NULL;
			if (!kp_sched__min_values_ok(r->scratch, &c->reqs, t->types, kept, n, &bad)) {
				char why[512];
				snprintf(why, sizeof(why), "keeping the %d cheapest instance types breaks minValues for %s",
					 n, bad ? bad : "?");
				rc = unsched_claim(r, c, why);
				if (rc)
					return rc;
				kp_arena_reset(r->scratch, mark);
				continue;
			}
		}
		memset(pc, 0, sizeof(*pc));
		pc->pool = t->pool;
		pc->hostname = c->hostname;
		pc->nitypes = n;
		rc = shared_get(r, tab, c->tpl, kept, n, &sh);
		if (rc)
			return rc;
		pc->itypes = sh->itypes;
		if (n)
			launch_choice(s, t, c, kept, n, &resv, pc);
		if (n && !pc->launch) {
			/* only reserved capacity was allowed, and its reservations are used up */
			rc = unsched_claim(r, c, "every capacity reservation the claim may use is used up");
			if (rc)
				return rc;
			kp_arena_reset(r->scratch, mark);
			continue;
		}
		if (pc->launch && pc->launch->captype == KP_CAP_RESERVED &&
		    kp_itype_reservation(pc->launch_type, pc->launch->zone)) {
			struct resv *x = resv_get(r->a, &resv, pc->launch_type, pc->launch->zone);
			if (!x)
				return KP_ERR_NOMEM;
			x->used++;
		}
		rc = final_reqs(r, c, pc->itypes, kept, sh->names, n, pc->launch, &pc->reqs, eb);
		if (!rc)
			rc = final_labels(r, c, pc);
		if (rc)
			return rc;
		pc->taints = t->pool->taints;
		pc->startup_taints = t->pool->startup_taints;
		min_daemon(r, c, &pc->requests);
		kp_res_add(&pc->requests, &c->req);
		pc->npods = c->npods;
		pc->pods = c->pods;
		plan->nclaims++;
		kp_arena_reset(r->scratch, mark);
		if (pc->launch) {
			rc = kp_sched__note(r, "claim %d (%s): %s %s in %s at $%.4f/h (capacity type by reserved > spot > on-demand, then the cheapest) among %d compatible type%s",
				      plan->nclaims, t->name, pc->launch_type->name, kp_captype_name(pc->launch->captype),
				      pc->launch->zone ? pc->launch->zone : "?", pc->launch->price, c->ntypes,
				      c->ntypes == 1 ? "" : "s");
			if (rc)
				return rc;
		}
	}
	(void)eb;
	return KP_OK;
}
