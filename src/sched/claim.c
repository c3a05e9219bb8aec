/*
 * claim.c - new NodeClaims while they are being packed (Karpenter's
 * nodeclaim.go CanAdd/Add and filterInstanceTypesByRequirements).
 *
 * A claim keeps its requirements, the indices of the template's instance
 * types still possible (ascending, narrowed in place), its pods' total
 * requests and the component-wise maximum of (allocatable - daemon overhead)
 * over those types. Adding a pod:
 *   1. the pod tolerates the pool's taints (PreferNoSchedule only after
 *      relaxation);
 *   2. quick reject: requests + pod > that maximum on some resource;
 *   3. host ports do not clash with the claim's pods;
 *   4. the pod's requirements are compatible (well-known keys may be
 *      undefined) and narrow the claim's;
 *   5. topology narrows further (spread, affinity, anti-affinity);
 *   6. each remaining type must still intersect on the keys that changed,
 *      fit requests + its daemon group's overhead, not clash with the group's
 *      daemon host ports, and have an available offering in the allowed
 *      zones and capacity types; then minValues must hold.
 * Only keys that changed are re-checked against types, and zone/capacity
 * type are checked through offering bitmasks, so a pod that adds no
 * requirement costs O(types) resource checks and nothing else.
 *
 * In-flight claims are tried fewest pods first; `order` keeps them sorted
 * by (pods, creation) with O(claims) moves per placement (Karpenter re-sorts
 * with an unstable sort on every pod; ties here keep creation order).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched_int.h"

static bool skip_key(const char *key)
{
	return strcmp(key, KP_LABEL_ZONE) == 0 || strcmp(key, KP_LABEL_CAPACITY_TYPE) == 0 ||
	       strcmp(key, KP_LABEL_HOSTNAME) == 0;
}

static bool neg(const struct kp_req *r)
{
	enum kp_op op = kp_req_op(r);
	return op == KP_OP_NOTIN || op == KP_OP_DOESNOTEXIST;
}

/* Adds the pod's requirements to the try (Requirements.Add). */
static bool pod_deltas(struct kp_sched__run *r, const struct kp_reqs *base, const struct kp_reqs *pod, struct kp_sched__try *t)
{
	for (int i = 0; i < pod->n; i++) {
		const struct kp_req *cur = kp_reqs_get(base, pod->r[i].key);
		struct kp_req m;

		if (!cur) {
			m = pod->r[i];
		} else {
			if (kp_req_intersect(&m, r->scratch, &pod->r[i], cur))
				return false;
			if (kp_sched__req_equal(&m, cur))
				continue;
		}
		if (kp_sched__try_set(r, t, &m))
			return false;
	}
	return true;
}

static uint64_t final_zmask(struct kp_sched__run *r, const struct kp_sched__claim *c, const struct kp_sched__try *t)
{
	for (int i = 0; i < t->nover; i++) {
		if (strcmp(t->over[i].key, KP_LABEL_ZONE) == 0) {
			struct kp_reqs one = { .n = 1, .cap = 1, .r = &t->over[i] };
			return kp_sched__zone_mask(r->s, &one);
		}
	}
	return c->zmask;
}

static uint64_t final_cmask(const struct kp_sched__claim *c, const struct kp_sched__try *t)
{
	for (int i = 0; i < t->nover; i++) {
		if (strcmp(t->over[i].key, KP_LABEL_CAPACITY_TYPE) == 0) {
			struct kp_reqs one = { .n = 1, .cap = 1, .r = &t->over[i] };
			return kp_sched__ct_mask(&one);
		}
	}
	return c->cmask;
}

static bool type_compat(const struct kp_itype *it, const struct kp_req *const *chk, int nchk)
{
	for (int i = 0; i < nchk; i++) {
		const struct kp_req *nr = chk[i];
		const struct kp_req *tr = kp_reqs_get(&it->reqs, nr->key);

		if (tr && !kp_req_intersects(tr, nr) && !(neg(tr) && neg(nr)))
			return false;
	}
	return true;
}

static bool filter_types(struct kp_sched__run *r, const struct kp_sched__claim *c, struct kp_sched__pod *p, struct kp_sched__try *t,
			 const struct kp_reqs *fin, struct kp_errbuf *eb)
{
	struct kp_sched *s = r->s;
	const struct kp_sched__tpl *tpl = &s->tpl[c->tpl];
	uint64_t zm = final_zmask(r, c, t), cm = final_cmask(c, t);
	bool ports = p->pod->host_ports.n > 0;
	int8_t *dgc = NULL;
	bool any_c = false, any_f = false, any_o = false, cf = false, co = false, fo = false, any_port = false;
	struct kp_res total = c->req;
	const struct kp_req **chk = NULL;
	int n = 0, nchk = 0;

	for (int i = 0; i < r->nres_used; i++)
		total.v[r->res_used[i]] += p->req.v[r->res_used[i]];
	/* zone and capacity type are checked through offerings; types carry
	 * no hostname: only the other changed keys are compared */
	for (int i = 0; i < t->nover; i++) {
		if (skip_key(t->over[i].key))
			continue;
		if (!chk && !(chk = kp_arena_calloc(r->scratch, (size_t)t->nover, sizeof(*chk))))
			return false;
		chk[nchk++] = &t->over[i];
	}
	t->types = kp_arena_calloc(r->scratch, (size_t)c->ntypes + 1, sizeof(int));
	if (!t->types)
		return false;
	if (ports) {
		dgc = kp_arena_alloc(r->scratch, (size_t)tpl->ndg + 1);
		if (!dgc)
			return false;
		for (int g = 0; g < tpl->ndg; g++)
			dgc[g] = kp_hostports_conflict(&tpl->dg[g].ports, &p->pod->host_ports, NULL);
	}
	for (int i = 0; i < c->ntypes; i++) {
		const struct kp_sched__itype *tt = &tpl->types[c->types[i]];
		bool compat, fit, off;

		if (ports && dgc[tt->dgroup]) {
			any_port = true;
			continue;
		}
		compat = !nchk || type_compat(tt->it, chk, nchk);
		fit = !tt->never_fits;
		for (int k = 0; fit && k < r->nres_used; k++)
			fit = total.v[r->res_used[k]] <= tt->free.v[r->res_used[k]];
		off = kp_sched__type_has_offering(s, tt, zm, cm, fin);
		if (compat && fit && off) {
			t->types[n++] = c->types[i];
			continue;
		}
		if (eb) {
			any_c |= compat;
			any_f |= fit;
			any_o |= off;
			cf |= compat && fit;
			co |= compat && off;
			fo |= fit && off;
		}
	}
	t->ntypes = n;
	if (n == 0) {
		if (eb)
			kp_sched__filter_reason(r, c->tpl, &total, any_c, any_f, any_o, cf, co, fo, any_port, eb);
		return false;
	}
	if (tpl->has_min_values && !s->opts.min_values_best_effort) {
		const char *bad = NULL;
		if (!kp_sched__min_values_ok(r->scratch, fin, tpl->types, t->types, n, &bad)) {
			if (eb)
				kp_errf(eb, KP_ERR_INVALID, "minValues requirement for %s is not met by the %d remaining instance types",
					bad ? bad : "?", n);
			return false;
		}
	}
	return true;
}

bool kp_sched__claim_try(struct kp_sched__run *r, struct kp_sched__claim *c, struct kp_sched__pod *p, struct kp_sched__variant *v,
		   struct kp_sched__try *t, struct kp_errbuf *eb)
{
	struct kp_sched *s = r->s;
	const struct kp_sched__tpl *tpl = &s->tpl[c->tpl];
	const struct kp_reqs *fin = &c->reqs;
	struct kp_sched__slot slot;

	memset(t, 0, sizeof(*t));
	if (!kp_sched__variant_tolerates(s, v, p->pod, c->tpl, eb))
		return false;
	if (c->npods) {
		for (int i = 0; i < r->nres_used; i++) {
			int k = r->res_used[i];
			if (c->req.v[k] + p->req.v[k] > c->maxfree.v[k])
				return false;
		}
	}
	if (p->pod->host_ports.n && kp_hostports_conflict(&c->ports, &p->pod->host_ports, eb))
		return false;
	if (v->reqs.n) {
		if (!kp_reqs_compatible(&c->reqs, &v->reqs, eb)) {
			if (eb)
				kp_err_prefix(eb, "incompatible requirements: ");
			return false;
		}
		if (!pod_deltas(r, &c->reqs, &v->reqs, t))
			return false;
	}
	slot.taints = &tpl->pool->taints;
	slot.strict = false;
	slot.hostname = c->hostname;
	slot.dom_host = c->dom_host;
	slot.kq = c->kq;
	slot.nkq = c->kq ? r->nkeys : 0;
	if (!kp_sched__topo_add_reqs(r, p, v, &slot, &c->reqs, t, eb))
		return false;
	if (t->nover && (!s->zone_fast || tpl->has_min_values)) {
		struct kp_reqs *f = kp_arena_alloc(r->scratch, sizeof(*f));
		if (!f || kp_sched__reqs_with(f, r->scratch, &c->reqs, t->over, t->nover))
			return false;
		fin = f;
	}
	return filter_types(r, c, p, t, fin, eb);
}

/* Requirements for a claim after a commit: values of changed keys move out
 * of the scratch arena. */
static kp_err commit_reqs(struct kp_sched__run *r, const struct kp_reqs *base, const struct kp_sched__try *t,
			  struct kp_reqs *out)
{
	struct kp_req *set = kp_arena_calloc(r->a, (size_t)t->nover + 1, sizeof(*set));

	if (!set)
		return KP_ERR_NOMEM;
	for (int i = 0; i < t->nover; i++) {
		set[i] = t->over[i];
		if (set[i].n) {
			set[i].values = kp_arena_memdup(r->a, t->over[i].values, (size_t)set[i].n * sizeof(char *));
			if (!set[i].values)
				return KP_ERR_NOMEM;
		}
	}
	return kp_sched__reqs_with(out, r->a, base, set, t->nover);
}

static void claim_maxfree(struct kp_sched__run *r, struct kp_sched__claim *c)
{
	const struct kp_sched__tpl *tpl = &r->s->tpl[c->tpl];

	for (int k = 0; k < KP_RES_MAX; k++)
		c->maxfree.v[k] = INT64_MIN;
	for (int i = 0; i < c->ntypes; i++) {
		const struct kp_sched__itype *tt = &tpl->types[c->types[i]];
		for (int j = 0; j < r->nres_used; j++) {
			int k = r->res_used[j];
			if (tt->free.v[k] > c->maxfree.v[k])
				c->maxfree.v[k] = tt->free.v[k];
		}
	}
}

static kp_err push_pod(struct kp_sched__run *r, int *n, int *cap, const struct kp_pod ***pods, const struct kp_pod *p)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		*pods = kp_arena_grow(r->a, *pods, (size_t)*n, (size_t)*cap, sizeof(**pods));
		if (!*pods)
			return KP_ERR_NOMEM;
	}
	(*pods)[(*n)++] = p;
	return KP_OK;
}

kp_err kp_sched__push_pod(struct kp_sched__run *r, int *n, int *cap, const struct kp_pod ***pods, const struct kp_pod *p)
{
	return push_pod(r, n, cap, pods, p);
}

kp_err kp_sched__claim_commit(struct kp_sched__run *r, struct kp_sched__claim *c, struct kp_sched__pod *p, struct kp_sched__try *t)
{
	struct kp_sched__slot slot;
	kp_err rc;

	if (t->nover) {
		struct kp_reqs nr;
		rc = commit_reqs(r, &c->reqs, t, &nr);
		if (rc)
			return rc;
		c->reqs = nr;
		c->zmask = kp_sched__zone_mask(r->s, &c->reqs);
		c->cmask = kp_sched__ct_mask(&c->reqs);
		rc = kp_sched__keycache(r, r->a, &c->reqs, &c->kq);
		if (rc)
			return rc;
	}
	memcpy(c->types, t->types, (size_t)t->ntypes * sizeof(int));
	c->ntypes = t->ntypes;
	for (int i = 0; i < r->nres_used; i++)
		c->req.v[r->res_used[i]] += p->req.v[r->res_used[i]];
	claim_maxfree(r, c);
	rc = push_pod(r, &c->npods, &c->cap, &c->pods, p->pod);
	if (!rc && p->pod->host_ports.n)
		rc = kp_hostports_add(&c->ports, r->a, &p->pod->host_ports);
	if (rc)
		return rc;
	slot.taints = &r->s->tpl[c->tpl].pool->taints;
	slot.strict = false;
	slot.hostname = c->hostname;
	slot.dom_host = c->dom_host;
	slot.kq = NULL;
	slot.nkq = 0;
	rc = kp_sched__topo_register_host(r, c->dom_host, c->idx);
	if (!rc)
		rc = kp_sched__topo_record(r, p, &slot, &c->reqs);
	return rc;
}

/* ---- new claims ---- */

static const char *next_hostname(struct kp_sched__run *r, const char ***values)
{
	if (!r->next_host) {
		char buf[64];
		snprintf(buf, sizeof(buf), KPS_HOSTNAME_FMT, r->nclaims + 1);
		r->next_host = kp_arena_strdup(r->a, buf);
		r->next_host_v = kp_arena_calloc(r->a, 1, sizeof(char *));
		if (!r->next_host || !r->next_host_v)
			return NULL;
		r->next_host_v[0] = r->next_host;
	}
	*values = r->next_host_v;
	return r->next_host;
}

kp_err kp_sched__claim_candidate(struct kp_sched__run *r, int tpl, struct kp_sched__claim *c, struct kp_errbuf *eb, bool *ok)
{
	const struct kp_sched__tpl *t = &r->s->tpl[tpl];
	struct kp_req host = { .key = KP_LABEL_HOSTNAME, .n = 1 };
	int n = 0;
	kp_err rc;

	*ok = false;
	memset(c, 0, sizeof(*c));
	c->tpl = tpl;
	c->idx = r->nclaims;
	c->dom_host = -1;
	c->hostname = next_hostname(r, &host.values);
	if (!c->hostname)
		return KP_ERR_NOMEM;
	rc = kp_sched__reqs_with(&c->reqs, r->scratch, &t->reqs, &host, 1);
	if (rc)
		return rc;
	c->zmask = kp_sched__zone_mask(r->s, &c->reqs);
	c->cmask = kp_sched__ct_mask(&c->reqs);
	c->types = kp_arena_calloc(r->scratch, (size_t)t->ntypes + 1, sizeof(int));
	if (!c->types)
		return KP_ERR_NOMEM;
	if (kp_sched__limits_all_ok(r, tpl)) {
		for (int i = 0; i < t->ntypes; i++)
			c->types[i] = i;
		n = t->ntypes;
	} else {
		for (int i = 0; i < t->ntypes; i++)
			if (kp_sched__limits_type_ok(r, tpl, &t->types[i]))
				c->types[n++] = i;
	}
	c->ntypes = n;
	if (n == 0) {
		kp_sched__limits_explain(r, tpl, eb);
		return KP_OK;
	}
	*ok = true;
	return KP_OK;
}

kp_err kp_sched__claim_materialize(struct kp_sched__run *r, const struct kp_sched__claim *cand, struct kp_sched__claim **out)
{
	struct kp_sched__claim *c = kp_arena_alloc(r->a, sizeof(*c));
	kp_err rc;

	if (!c)
		return KP_ERR_NOMEM;
	*c = *cand;
	rc = kp_reqs_copy(&c->reqs, r->a, &cand->reqs);
	if (rc)
		return rc;
	c->types = kp_arena_calloc(r->a, (size_t)cand->ntypes + 1, sizeof(int));
	if (!c->types)
		return KP_ERR_NOMEM;
	memcpy(c->types, cand->types, (size_t)cand->ntypes * sizeof(int));
	c->kq = NULL;
	rc = kp_sched__keycache(r, r->a, &c->reqs, &c->kq);
	if (rc)
		return rc;
	if (r->host_key >= 0) {
		rc = kp_sched__dom_add_run(r, r->host_key, c->hostname, &c->dom_host);
		if (rc)
			return rc;
	}
	if (r->nclaims == r->capclaims) {
		r->capclaims = r->capclaims ? r->capclaims * 2 : 64;
		r->claims = kp_arena_grow(r->a, r->claims, (size_t)r->nclaims, (size_t)r->capclaims, sizeof(*r->claims));
		r->order = kp_arena_grow(r->a, r->order, (size_t)r->nclaims, (size_t)r->capclaims, sizeof(*r->order));
		if (!r->claims || !r->order)
			return KP_ERR_NOMEM;
	}
	r->claims[r->nclaims++] = c;
	r->next_host = NULL;
	r->next_host_v = NULL;
	kp_sched__claim_order_insert(r, c);
	*out = c;
	return KP_OK;
}

/* ---- ordering: (npods, idx) ascending ---- */

static bool before(const struct kp_sched__claim *a, int npods, int idx)
{
	return a->npods < npods || (a->npods == npods && a->idx < idx);
}

/* Position among order[0..n) where a claim with (npods, idx) belongs. */
static int order_pos(struct kp_sched__run *r, int n, int npods, int idx)
{
	int lo = 0, hi = n;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (before(r->claims[r->order[mid]], npods, idx))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void kp_sched__claim_order_insert(struct kp_sched__run *r, struct kp_sched__claim *c)
{
	int n = r->nclaims - 1;    /* c is already in claims[] but not in order[] */
	int at = order_pos(r, n, c->npods, c->idx);

	memmove(&r->order[at + 1], &r->order[at], (size_t)(n - at) * sizeof(int));
	r->order[at] = c->idx;
}

void kp_sched__claim_order_bump(struct kp_sched__run *r, struct kp_sched__claim *c, int old_npods)
{
	int n = r->nclaims;
	int from = order_pos(r, n, old_npods, c->idx);
	int to;

	/* remove at from, then insert by the new key among the rest */
	memmove(&r->order[from], &r->order[from + 1], (size_t)(n - 1 - from) * sizeof(int));
	to = order_pos(r, n - 1, c->npods, c->idx);
	memmove(&r->order[to + 1], &r->order[to], (size_t)(n - 1 - to) * sizeof(int));
	r->order[to] = c->idx;
}
