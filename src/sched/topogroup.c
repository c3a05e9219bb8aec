/*
 * topogroup.c - choosing domains for a pod (Karpenter's topologygroup.go
 * Get/Record and Topology.AddRequirements/Record).
 *
 * For each group a pod owns (its spread constraints and pod (anti-)affinity
 * terms) and each inverse anti-affinity group that selects it, the group
 * returns the domains the pod may use given the pod's own domains (strict
 * requirements) and the node's (the slot's requirements plus the pod's):
 *   - spread: the valid domain with the fewest matching pods, subject to
 *     maxSkew against the global minimum (zero for hostname; zero while
 *     fewer than minDomains domains exist);
 *   - affinity: domains that already hold a matching pod, or, for a
 *     self-selecting pod when none does, a first domain to bootstrap;
 *   - anti-affinity: domains holding no matching pod.
 * Hostname is special-cased when the node has exactly one hostname (every
 * existing node and new claim does): the answer only needs that domain's
 * count, O(1). Where Karpenter walks a Go map (random order) we walk domains
 * sorted by name, so ties resolve to the first name.
 *
 * Results are requirements on the group's key (values sorted, scratch
 * arena); an empty set fails the pod. Record adds the placed pod to every
 * group that selects it and whose node filter admits the node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched_int.h"

static int dom_of(const struct kp_sched__run *r, int key, const char *v, const struct kp_sched__slot *slot)
{
	if (slot && key == r->host_key && slot->dom_host >= 0 && (v == slot->hostname || strcmp(v, slot->hostname) == 0))
		return slot->dom_host;
	return kp_sched__dom_find_run(r, key, v);
}

static int32_t cnt_of(const struct kp_sched__gstate *gs, int d)
{
	return d >= 0 && d < gs->cap ? gs->cnt[d] : -1;
}

static bool has(const struct kp_req *r, const char *v)
{
	return !r || kp_req_has(r, v);
}

static bool is_in(const struct kp_req *r)
{
	return r && !r->complement && r->n > 0;
}

struct collect {
	int n, cap;
	const char **v;
};

static kp_err collect_add(struct kp_sched__run *r, struct collect *c, const char *v)
{
	for (int i = 0; i < c->n; i++)
		if (c->v[i] == v || strcmp(c->v[i], v) == 0)
			return KP_OK;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 8;
		c->v = kp_arena_grow(r->scratch, c->v, (size_t)c->n, (size_t)c->cap, sizeof(*c->v));
		if (!c->v)
			return KP_ERR_NOMEM;
	}
	c->v[c->n++] = v;
	return KP_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void collect_req(struct collect *c, const char *key, struct kp_req *out)
{
	memset(out, 0, sizeof(*out));
	out->key = key;
	if (c->n > 1)
		qsort(c->v, (size_t)c->n, sizeof(*c->v), cmp_str);
	out->n = c->n;
	out->values = c->n ? c->v : NULL;
}

static void single(const struct kp_req *node_dom, const char *key, struct kp_req *out)
{
	memset(out, 0, sizeof(*out));
	out->key = key;
	out->n = 1;
	out->values = node_dom->values;
}

/* TopologyGroup.domainMinCount */
static int64_t min_count(struct kp_sched__run *r, const struct kp_sched__group *g, const struct kp_sched__gstate *gs,
			 const struct kp_req *pod_dom)
{
	int64_t min = INT32_MAX;
	int n = 0, nd;
	const int *sorted;

	if (g->key == r->host_key)
		return 0;
	sorted = kp_sched__key_sorted(r, g->key, &nd);
	for (int i = 0; i < nd; i++) {
		int d = sorted[i];
		int32_t c = cnt_of(gs, d);

		if (c < 0 || !has(pod_dom, kp_sched__dom_name(r, g->key, d)))
			continue;
		n++;
		if (c < min)
			min = c;
	}
	if (g->min_domains > 0 && n < g->min_domains)
		min = 0;
	return min;
}

static kp_err spread(struct kp_sched__run *r, int gi, struct kp_sched__pod *p, const struct kp_req *pod_dom,
		     const struct kp_req *node_dom, const struct kp_sched__slot *slot, struct kp_req *out)
{
	const struct kp_sched__group *g = r->s->groups[gi];
	const struct kp_sched__gstate *gs = &r->gs[gi];
	const char *key = r->s->keys[g->key].key;
	bool self = kp_sched__class_selects(r->s, p->cls, gi);
	const char *best = NULL;
	int64_t min, best_count = INT64_MAX;

	memset(out, 0, sizeof(*out));
	out->key = key;
	if (g->key == r->host_key && node_dom && node_dom->n == 1) {
		int32_t c = cnt_of(gs, dom_of(r, g->key, node_dom->values[0], slot));
		int64_t count = (c > 0 ? c : 0) + (self ? 1 : 0);
		if (count <= g->max_skew)
			single(node_dom, key, out);
		return KP_OK;
	}
	min = min_count(r, g, gs, pod_dom);
	if (is_in(node_dom)) {
		for (int i = 0; i < node_dom->n; i++) {
			int32_t c = cnt_of(gs, dom_of(r, g->key, node_dom->values[i], slot));
			int64_t count;

			if (c < 0)
				continue;
			count = c + (self ? 1 : 0);
			if (count - min <= g->max_skew && count < best_count) {
				best = node_dom->values[i];
				best_count = count;
			}
		}
	} else {
		int nd;
		const int *sorted = kp_sched__key_sorted(r, g->key, &nd);

		for (int i = 0; i < nd; i++) {
			int32_t c = cnt_of(gs, sorted[i]);
			const char *name;
			int64_t count;

			if (c < 0)
				continue;
			name = kp_sched__dom_name(r, g->key, sorted[i]);
			if (!has(node_dom, name))
				continue;
			count = c + (self ? 1 : 0);
			if (count - min <= g->max_skew && count < best_count) {
				best = name;
				best_count = count;
			}
		}
	}
	if (best) {
		const char **v = kp_arena_alloc(r->scratch, sizeof(*v));
		if (!v)
			return KP_ERR_NOMEM;
		v[0] = best;
		out->n = 1;
		out->values = v;
	}
	return KP_OK;
}

/* TopologyGroup.anyCompatiblePodDomain */
static bool any_pod_domain(struct kp_sched__run *r, const struct kp_sched__group *g, const struct kp_sched__gstate *gs,
			   const struct kp_req *pod_dom)
{
	int nd;
	const int *sorted;

	if (!pod_dom)
		return gs->nonzero > 0;
	sorted = kp_sched__key_sorted(r, g->key, &nd);
	for (int i = 0; i < nd; i++)
		if (cnt_of(gs, sorted[i]) > 0 && has(pod_dom, kp_sched__dom_name(r, g->key, sorted[i])))
			return true;
	return false;
}

static kp_err affinity(struct kp_sched__run *r, int gi, struct kp_sched__pod *p, const struct kp_req *pod_dom,
		       const struct kp_req *node_dom, const struct kp_sched__slot *slot, struct kp_req *out)
{
	const struct kp_sched__group *g = r->s->groups[gi];
	const struct kp_sched__gstate *gs = &r->gs[gi];
	const char *key = r->s->keys[g->key].key;
	bool self = kp_sched__class_selects(r->s, p->cls, gi);
	struct collect c = { 0 };
	int nd;
	const int *sorted;
	kp_err rc = KP_OK;

	memset(out, 0, sizeof(*out));
	out->key = key;
	if (g->key == r->host_key && node_dom && node_dom->n == 1) {
		const char *h = node_dom->values[0];
		if (!has(pod_dom, h))
			return KP_OK;
		if (cnt_of(gs, dom_of(r, g->key, h, slot)) > 0 ||
		    (self && (gs->nonzero == 0 || !any_pod_domain(r, g, gs, pod_dom))))
			single(node_dom, key, out);
		return KP_OK;
	}
	if (is_in(node_dom)) {
		for (int i = 0; !rc && i < node_dom->n; i++)
			if (has(pod_dom, node_dom->values[i]) &&
			    cnt_of(gs, dom_of(r, g->key, node_dom->values[i], slot)) > 0)
				rc = collect_add(r, &c, node_dom->values[i]);
	} else {
		sorted = kp_sched__key_sorted(r, g->key, &nd);
		for (int i = 0; !rc && i < nd; i++) {
			const char *name;
			if (cnt_of(gs, sorted[i]) <= 0)
				continue;
			name = kp_sched__dom_name(r, g->key, sorted[i]);
			if (has(pod_dom, name) && has(node_dom, name))
				rc = collect_add(r, &c, name);
		}
	}
	if (rc)
		return rc;
	if (c.n == 0 && self && (gs->nonzero == 0 || !any_pod_domain(r, g, gs, pod_dom))) {
		/* bootstrap: a domain both sides allow, and one the pod allows */
		sorted = kp_sched__key_sorted(r, g->key, &nd);
		for (int i = 0; i < nd; i++) {
			const char *name;
			if (cnt_of(gs, sorted[i]) < 0)
				continue;
			name = kp_sched__dom_name(r, g->key, sorted[i]);
			if (has(pod_dom, name) && has(node_dom, name)) {
				rc = collect_add(r, &c, name);
				break;
			}
		}
		for (int i = 0; !rc && i < nd; i++) {
			const char *name;
			if (cnt_of(gs, sorted[i]) < 0)
				continue;
			name = kp_sched__dom_name(r, g->key, sorted[i]);
			if (has(pod_dom, name)) {
				rc = collect_add(r, &c, name);
				break;
			}
		}
	}
	if (!rc)
		collect_req(&c, key, out);
	return rc;
}

static kp_err anti(struct kp_sched__run *r, int gi, const struct kp_req *pod_dom, const struct kp_req *node_dom,
		   const struct kp_sched__slot *slot, struct kp_req *out)
{
	const struct kp_sched__group *g = r->s->groups[gi];
	const struct kp_sched__gstate *gs = &r->gs[gi];
	const char *key = r->s->keys[g->key].key;
	struct collect c = { 0 };
	kp_err rc = KP_OK;

	memset(out, 0, sizeof(*out));
	out->key = key;
	if (g->key == r->host_key && node_dom && node_dom->n == 1) {
		if (cnt_of(gs, dom_of(r, g->key, node_dom->values[0], slot)) <= 0)
			single(node_dom, key, out);
		return KP_OK;
	}
	if (is_in(node_dom)) {
		for (int i = 0; !rc && i < node_dom->n; i++)
			if (cnt_of(gs, dom_of(r, g->key, node_dom->values[i], slot)) == 0 &&
			    has(pod_dom, node_dom->values[i]))
				rc = collect_add(r, &c, node_dom->values[i]);
	} else {
		int nd;
		const int *sorted = kp_sched__key_sorted(r, g->key, &nd);

		for (int i = 0; !rc && i < nd; i++) {
			const char *name;
			if (cnt_of(gs, sorted[i]) != 0)
				continue;
			name = kp_sched__dom_name(r, g->key, sorted[i]);
			if (has(node_dom, name) && has(pod_dom, name))
				rc = collect_add(r, &c, name);
		}
	}
	if (!rc)
		collect_req(&c, key, out);
	return rc;
}

static const char *group_what(const struct kp_sched__group *g)
{
	if (g->inverse)
		return "anti-affinity of other pods";
	switch (g->type) {
	case KPS_SPREAD:
		return "topology spread constraint";
	case KPS_AFFINITY:
		return "pod affinity";
	default:
		return "pod anti-affinity";
	}
}

/* Requirement on key as the try sees it: a pending change, else the slot's. */
/* The slot's own requirement on topology key k (cached per slot). */
static const struct kp_req *slot_get(const struct kp_sched__slot *slot, const struct kp_reqs *base, int k,
				     const char *key)
{
	if (slot->kq && k < slot->nkq)
		return slot->kq[k];
	return kp_reqs_get(base, key);
}

/* Requirement on key as the try sees it: a pending change, else the slot's. */
static const struct kp_req *try_get(const struct kp_sched__try *t, int n, const struct kp_sched__slot *slot,
				    const struct kp_reqs *base, int k, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(t->over[i].key, key) == 0)
			return &t->over[i];
	return slot_get(slot, base, k, key);
}

kp_err kp_sched__try_set(struct kp_sched__run *r, struct kp_sched__try *t, const struct kp_req *req)
{
	for (int i = 0; i < t->nover; i++) {
		if (strcmp(t->over[i].key, req->key) == 0) {
			t->over[i] = *req;
			return KP_OK;
		}
	}
	if (t->nover == t->capover) {
		t->capover = t->capover ? t->capover * 2 : 8;
		t->over = kp_arena_grow(r->scratch, t->over, (size_t)t->nover, (size_t)t->capover, sizeof(*t->over));
		if (!t->over)
			return KP_ERR_NOMEM;
	}
	t->over[t->nover++] = *req;
	return KP_OK;
}

static kp_err one_group(struct kp_sched__run *r, int gi, struct kp_sched__pod *p, struct kp_sched__variant *v,
			const struct kp_sched__slot *slot, const struct kp_reqs *node_reqs, struct kp_sched__try *t, int npod,
			struct kp_req *acc, int *acck, int *nacc, bool *ok, struct kp_errbuf *eb)
{
	const struct kp_sched__group *g = r->s->groups[gi];
	const char *key = r->s->keys[g->key].key;
	const struct kp_req *pod_dom = v->strict.n ? kp_reqs_get(&v->strict, key) : NULL;
	const struct kp_req *node_dom = try_get(t, npod, slot, node_reqs, g->key, key);
	struct kp_req d;
	int i;
	kp_err rc;

	if (g->type == KPS_SPREAD)
		rc = spread(r, gi, p, pod_dom, node_dom, slot, &d);
	else if (g->type == KPS_AFFINITY)
		rc = affinity(r, gi, p, pod_dom, node_dom, slot, &d);
	else
		rc = anti(r, gi, pod_dom, node_dom, slot, &d);
	if (rc)
		return rc;
	if (!d.complement && d.n == 0) {
		*ok = false;
		if (eb)
			kp_errf(eb, KP_ERR_INVALID, "%s on %s cannot be satisfied", group_what(g), key);
		return KP_OK;
	}
	for (i = 0; i < *nacc; i++)
		if (acck[i] == g->key)
			break;
	if (i == *nacc) {
		if (*nacc == KPS_MAXOVER) {
			*ok = false;
			if (eb)
				kp_errf(eb, KP_ERR_LIMIT, "too many topology keys");
			return KP_OK;
		}
		(*nacc)++;
		acck[i] = g->key;
		if (node_dom)
			return kp_req_intersect(&acc[i], r->scratch, &d, node_dom);
		acc[i] = d;
		return KP_OK;
	}
	return kp_req_intersect(&acc[i], r->scratch, &d, &acc[i]);
}

bool kp_sched__topo_add_reqs(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v, const struct kp_sched__slot *slot,
		       const struct kp_reqs *node_reqs, struct kp_sched__try *t, struct kp_errbuf *eb)
{
	struct kp_req acc[KPS_MAXOVER];
	int acck[KPS_MAXOVER];
	int nacc = 0, npod = t->nover;
	bool ok = true;
	kp_err rc = KP_OK;

	for (int i = 0; ok && !rc && i < v->ngroups; i++)
		rc = one_group(r, v->groups[i], p, v, slot, node_reqs, t, npod, acc, acck, &nacc, &ok, eb);
	for (int i = 0; ok && !rc && i < r->ninv_active; i++) {
		int gi = r->inv_active[i];
		if (kp_sched__class_selects(r->s, p->cls, gi))
			rc = one_group(r, gi, p, v, slot, node_reqs, t, npod, acc, acck, &nacc, &ok, eb);
	}
	if (rc) {
		if (eb)
			kp_errf(eb, rc, "out of memory");
		return false;
	}
	for (int i = 0; ok && i < nacc; i++) {
		const struct kp_req *existing = try_get(t, npod, slot, node_reqs, acck[i], acc[i].key);
		const struct kp_req *cur = slot_get(slot, node_reqs, acck[i], acc[i].key);
		bool undef = !slot->strict && kp_label_is_well_known(acc[i].key);

		if (!kp_sched__req_compat_one(existing, &acc[i], undef)) {
			if (eb)
				kp_errf(eb, KP_ERR_INVALID, "topology requirements on %s conflict", acc[i].key);
			return false;
		}
		if (cur && kp_sched__req_equal(cur, &acc[i]))
			continue;
		if (kp_sched__try_set(r, t, &acc[i]))
			return false;
	}
	return ok;
}

static kp_err record_values(struct kp_sched__run *r, int gi, const struct kp_req *req, const struct kp_sched__slot *slot,
			    bool all)
{
	int key = r->s->groups[gi]->key;

	if (!req)
		return KP_OK;
	if (!all && (req->complement || req->n != 1))
		return KP_OK;
	for (int i = 0; i < req->n; i++) {
		int d = dom_of(r, key, req->values[i], slot);
		kp_err rc = KP_OK;

		if (d < 0)
			rc = kp_sched__dom_add_run(r, key, req->values[i], &d);
		if (!rc)
			rc = kp_sched__gs_record(r, gi, d, 1);
		if (rc)
			return rc;
	}
	return KP_OK;
}

kp_err kp_sched__topo_record(struct kp_sched__run *r, struct kp_sched__pod *p, const struct kp_sched__slot *slot,
		       const struct kp_reqs *reqs)
{
	struct kp_sched *s = r->s;
	kp_err rc = KP_OK;

	for (int i = 0; !rc && i < r->nactive; i++) {
		int gi = r->active[i];
		const struct kp_sched__group *g = s->groups[gi];

		if (g->inverse || !kp_sched__class_selects(s, p->cls, gi))
			continue;
		/* TopologyNodeFilter.Matches drops its compatibility options:
		 * node filters always compare strictly, claims included */
		if (!kp_sched__filter_matches(g, slot->taints, reqs, true))
			continue;
		rc = record_values(r, gi, kp_reqs_get(reqs, s->keys[g->key].key), slot, g->type == KPS_ANTI);
	}
	for (int i = 0; !rc && i < p->cls->ninv; i++) {
		int gi = p->cls->inv[i];
		rc = record_values(r, gi, kp_reqs_get(reqs, s->keys[s->groups[gi]->key].key), slot, true);
	}
	return rc;
}

/* Zones group gi allows the pod whatever the node (bits of sched->zones). */
static uint64_t group_zones(struct kp_sched__run *r, int gi, struct kp_sched__pod *p, const struct kp_req *pod_dom)
{
	const struct kp_sched__group *g = r->s->groups[gi];
	const struct kp_sched__gstate *gs = &r->gs[gi];
	const int nbase = r->s->keys[g->key].ndom;
	bool self = kp_sched__class_selects(r->s, p->cls, gi);
	uint64_t m = 0;
	int64_t min = 0;

	if (g->type == KPS_SPREAD)
		min = min_count(r, g, gs, pod_dom);
	else if (g->type == KPS_AFFINITY && self && (gs->nonzero == 0 || !any_pod_domain(r, g, gs, pod_dom)))
		return ~(uint64_t)0;    /* may bootstrap anywhere */
	for (int d = 0; d < nbase && d < gs->cap; d++) {
		int32_t c = gs->cnt[d];
		bool ok;

		if (c < 0 || r->zbit[d] < 0)
			continue;
		if (g->type == KPS_SPREAD)
			ok = c + (self ? 1 : 0) - min <= g->max_skew;
		else if (g->type == KPS_AFFINITY)
			ok = c > 0 && has(pod_dom, r->s->keys[g->key].dom[d]);
		else
			ok = c == 0 && has(pod_dom, r->s->keys[g->key].dom[d]);
		if (ok)
			m |= (uint64_t)1 << r->zbit[d];
	}
	return m;
}

uint64_t kp_sched__topo_zone_premask(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v)
{
	uint64_t m = ~(uint64_t)0;

	if (r->zone_key < 0 || !r->s->zone_fast)
		return m;
	for (int i = 0; i < v->ngroups + r->ninv_active; i++) {
		int g = i < v->ngroups ? v->groups[i] : r->inv_active[i - v->ngroups];
		const struct kp_sched__group *grp = r->s->groups[g];

		if (grp->key != r->zone_key)
			continue;
		if (i >= v->ngroups && !kp_sched__class_selects(r->s, p->cls, g))
			continue;
		m &= group_zones(r, g, p, v->strict.n ? kp_reqs_get(&v->strict, KP_LABEL_ZONE) : NULL);
	}
	return m;
}
