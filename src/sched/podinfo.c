/*
 * podinfo.c - per-pod data shared by pods with identical constraints
 * ("classes"), and the preference relaxation sequence.
 *
 * A class is keyed by a signature of everything that decides where a pod
 * may go except its requests and host ports: namespace, labels, node
 * selector, node affinity, tolerations, pod (anti-)affinity and topology
 * spread. Karpenter relaxes a fresh copy of the pod on every attempt
 * (trySchedule), always in the same order (preferences.go Relax), so the
 * relaxed forms are a fixed sequence: variant 0 is the pod as written,
 * variant k+1 the pod after one more relaxation step:
 *   1. drop the first required node-affinity term (only while > 1 remain);
 *   2. drop the heaviest preferred pod-affinity term;
 *   3. drop the heaviest preferred pod anti-affinity term;
 *   4. drop the heaviest preferred node-affinity term;
 *   5. drop one ScheduleAnyway spread constraint (swap-remove, as Karpenter);
 *   6. tolerate PreferNoSchedule taints (only when some pool has one).
 * Each variant holds PodData.Requirements (node selector + heaviest
 * preferred term + first required term), StrictRequirements and the
 * topology groups it owns. With ignore_preferences, preferred terms and
 * ScheduleAnyway constraints never count, and the steps that only remove
 * them are skipped (they would change nothing).
 *
 * Cost: a signature is O(size of the pod spec), built with memcpy and
 * hashed eight bytes at a time; a new class builds O(steps) variants once
 * per prep; lookups are O(1) expected.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched_int.h"

#define SIG_MAX (1u << 20)

/* ---- signatures ----
 *
 * A signature is a binary string appended with memcpy only (no printf):
 * every integer as 8 raw bytes, every string as its 4-byte length then its
 * bytes (length 0xffffffff for NULL), every list preceded by its count. The
 * encoding is prefix-free, so two pods have equal signatures exactly when
 * the fields below are equal. Classes are found by a 64-bit hash of the
 * signature in an open-addressing table, and a hash match is confirmed by
 * comparing the whole signature, so a collision never merges two classes. */

struct sigw {
	struct kp_buf *b;
	kp_err err;
};

static void sig_put(struct sigw *w, const void *p, size_t n)
{
	struct kp_buf *b = w->b;
	kp_err rc;

	if (b->data && n < b->cap - b->len) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		return;
	}
	if (w->err)
		return;
	rc = kp_buf_add(b, p, n);
	if (rc)
		w->err = rc;
}

static void sig_int(struct sigw *w, int64_t v)
{
	sig_put(w, &v, sizeof(v));
}

static void sig_str(struct sigw *w, const char *s)
{
	uint32_t n = UINT32_MAX;
	size_t len;

	if (!s) {
		sig_put(w, &n, sizeof(n));
		return;
	}
	len = strlen(s);
	if (len >= SIG_MAX) {
		w->err = KP_ERR_LIMIT;
		return;
	}
	n = (uint32_t)len;
	sig_put(w, &n, sizeof(n));
	sig_put(w, s, len);
}

static void sig_labels(struct sigw *w, const struct kp_labels *l)
{
	sig_int(w, l->n);
	for (int i = 0; i < l->n; i++) {
		sig_str(w, l->kv[i].key);
		sig_str(w, l->kv[i].value);
	}
}

static void sig_reqs(struct sigw *w, const struct kp_reqs *rs)
{
	sig_int(w, rs->n);
	for (int i = 0; i < rs->n; i++) {
		const struct kp_req *r = &rs->r[i];
		int64_t v[7] = { r->complement, r->has_gte, r->has_lte, r->gte, r->lte, r->min_values, r->n };

		sig_str(w, r->key);
		sig_put(w, v, sizeof(v));
		for (int j = 0; j < r->n; j++)
			sig_str(w, r->values[j]);
	}
}

static void sig_selector(struct sigw *w, const struct kp_selector *sel)
{
	if (!sel) {
		sig_str(w, NULL);
		return;
	}
	sig_labels(w, &sel->match_labels);
	sig_int(w, sel->nexpr);
	for (int i = 0; i < sel->nexpr; i++) {
		sig_str(w, sel->expr[i].key);
		sig_int(w, sel->expr[i].op);
		sig_int(w, sel->expr[i].n);
		for (int j = 0; j < sel->expr[i].n; j++)
			sig_str(w, sel->expr[i].values[j]);
	}
}

static void sig_strs(struct sigw *w, int n, const char *const *v)
{
	sig_int(w, n);
	for (int i = 0; i < n; i++)
		sig_str(w, v[i]);
}

static void sig_tols(struct sigw *w, const struct kp_tolerations *t)
{
	sig_int(w, t->n);
	for (int i = 0; i < t->n; i++) {
		sig_str(w, t->t[i].key);
		sig_str(w, t->t[i].value);
		sig_int(w, t->t[i].op);
		sig_int(w, t->t[i].effect);
	}
}

static void sig_terms(struct sigw *w, int n, const struct kp_pod_affinity_term *t)
{
	sig_int(w, n);
	for (int i = 0; i < n; i++) {
		sig_int(w, t[i].weight);
		sig_selector(w, t[i].selector);
		sig_strs(w, t[i].nnamespaces, t[i].namespaces);
		sig_int(w, t[i].ns_selector != NULL);
		if (t[i].ns_selector)
			sig_selector(w, t[i].ns_selector);
		sig_str(w, t[i].topology_key);
		sig_strs(w, t[i].nmatch_label_keys, t[i].match_label_keys);
		sig_strs(w, t[i].nmismatch_label_keys, t[i].mismatch_label_keys);
	}
}

/* The signature of p into b (reset first); KP_ERR_LIMIT/NOMEM when it does
 * not fit. */
static kp_err pod_signature(struct kp_buf *b, const struct kp_pod *p)
{
	struct sigw w = { b, KP_OK };

	kp_buf_reset(b);
	sig_str(&w, p->ns);
	sig_labels(&w, &p->labels);
	sig_labels(&w, &p->node_selector);
	sig_int(&w, p->nrequired_terms);
	for (int i = 0; i < p->nrequired_terms; i++)
		sig_reqs(&w, &p->required_terms[i].reqs);
	sig_int(&w, p->npreferred_terms);
	for (int i = 0; i < p->npreferred_terms; i++) {
		sig_int(&w, p->preferred_terms[i].weight);
		sig_reqs(&w, &p->preferred_terms[i].reqs);
	}
	sig_tols(&w, &p->tolerations);
	sig_terms(&w, p->naffinity, p->affinity);
	sig_terms(&w, p->npref_affinity, p->pref_affinity);
	sig_terms(&w, p->nanti, p->anti);
	sig_terms(&w, p->npref_anti, p->pref_anti);
	sig_int(&w, p->ntsc);
	for (int i = 0; i < p->ntsc; i++) {
		const struct kp_tsc *t = &p->tsc[i];
		int64_t v[5] = { t->max_skew, t->when_unsatisfiable, t->min_domains, t->node_affinity_policy,
				 t->node_taints_policy };

		sig_put(&w, v, sizeof(v));
		sig_str(&w, t->topology_key);
		sig_selector(&w, t->selector);
		sig_strs(&w, t->nmatch_label_keys, t->match_label_keys);
	}
	sig_int(&w, p->nvolumes);
	for (int i = 0; i < p->nvolumes; i++) {
		const struct kp_pod_volume *v = &p->volumes[i];
		sig_str(&w, v->ephemeral ? p->name : v->claim);
		sig_str(&w, v->name);
		sig_str(&w, v->template_sc);
	}
	if (!w.err && b->len > SIG_MAX)
		w.err = KP_ERR_LIMIT;
	return w.err;
}

/* 64-bit hash of a signature, eight bytes at a time (a multiply-xorshift
 * mix per word; the order of bytes in a word does not matter in-process). */
static uint64_t sig_hash(const unsigned char *d, size_t n)
{
	const uint64_t m = 0x9e3779b97f4a7c15ull;
	uint64_t h = 0xcbf29ce484222325ull ^ ((uint64_t)n * m);
	uint64_t x;

	for (; n >= 8; d += 8, n -= 8) {
		memcpy(&x, d, 8);
		h = (h ^ x) * m;
		h ^= h >> 31;
	}
	x = 0;
	if (n)
		memcpy(&x, d, n);
	h = (h ^ x) * m;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h;
}

/* The class with signature (sig, len, h), or NULL. */
static struct kp_sched__class *class_find(const struct kp_sched *s, const char *sig, size_t len, uint64_t h)
{
	size_t mask = s->class_tabcap - 1;

	if (!s->class_tabcap)
		return NULL;
	for (size_t i = (size_t)h & mask; s->class_tab[i]; i = (i + 1) & mask) {
		struct kp_sched__class *c = s->classes[s->class_tab[i] - 1];

		if (c->sighash == h && c->siglen == len && !memcmp(c->sig, sig, len))
			return c;
	}
	return NULL;
}

/* Adds classes[idx] to the table, growing it (from the arena) to keep it
 * at most half full. */
static kp_err class_index(struct kp_sched *s, int idx)
{
	size_t mask, i;

	if ((size_t)s->nclasses * 2 > s->class_tabcap) {
		size_t cap = s->class_tabcap ? s->class_tabcap * 2 : 64;
		int32_t *tab;

		while ((size_t)s->nclasses * 2 > cap)
			cap *= 2;
		tab = kp_arena_calloc(&s->arena, cap, sizeof(*tab));
		if (!tab)
			return KP_ERR_NOMEM;
		for (int k = 0; k < s->nclasses; k++) {
			if (k == idx)
				continue;
			for (i = (size_t)s->classes[k]->sighash & (cap - 1); tab[i]; i = (i + 1) & (cap - 1))
				;
			tab[i] = k + 1;
		}
		s->class_tab = tab;
		s->class_tabcap = cap;
	}
	mask = s->class_tabcap - 1;
	for (i = (size_t)s->classes[idx]->sighash & mask; s->class_tab[i]; i = (i + 1) & mask)
		;
	s->class_tab[i] = idx + 1;
	return KP_OK;
}

/* ---- relaxation state ---- */

struct relax {
	const struct kp_pod *p;
	int req_first;                      /* first remaining required term */
	int npref, pref_off;                /* preferred node terms, heaviest first */
	const struct kp_preferred_term **pref;
	int npaff, paff_off;
	const struct kp_pod_affinity_term **paff;
	int npanti, panti_off;
	const struct kp_pod_affinity_term **panti;
	int ntsc;
	int *tsc;                           /* remaining constraints, in Karpenter's order */
	bool tol_pns;
	const struct kp_reqs *vol;          /* volume topology, added to every variant */
};

static int weight_cmp_pref(void *ctx, int a, int b)
{
	const struct kp_pod *p = ctx;
	return p->preferred_terms[b].weight - p->preferred_terms[a].weight;
}

static int weight_cmp_paff(void *ctx, int a, int b)
{
	const struct kp_pod *p = ctx;
	return p->pref_affinity[b].weight - p->pref_affinity[a].weight;
}

static int weight_cmp_panti(void *ctx, int a, int b)
{
	const struct kp_pod *p = ctx;
	return p->pref_anti[b].weight - p->pref_anti[a].weight;
}

static int *sorted_idx(struct kp_arena *a, int n, int (*cmp)(void *, int, int), void *ctx)
{
	int *v = kp_arena_calloc(a, (size_t)(n ? n : 1) * 2, sizeof(int));

	if (!v)
		return NULL;
	for (int i = 0; i < n; i++)
		v[i] = i;
	kp_sched__sort_ints(v, n, cmp, ctx, v + n);
	return v;
}

static kp_err relax_init(struct relax *x, struct kp_arena *a, const struct kp_pod *p)
{
	int *ix;

	memset(x, 0, sizeof(*x));
	x->p = p;
	x->npref = p->npreferred_terms;
	x->npaff = p->npref_affinity;
	x->npanti = p->npref_anti;
	x->ntsc = p->ntsc;
	x->pref = kp_arena_calloc(a, (size_t)x->npref + 1, sizeof(*x->pref));
	x->paff = kp_arena_calloc(a, (size_t)x->npaff + 1, sizeof(*x->paff));
	x->panti = kp_arena_calloc(a, (size_t)x->npanti + 1, sizeof(*x->panti));
	x->tsc = kp_arena_calloc(a, (size_t)x->ntsc + 1, sizeof(*x->tsc));
	if (!x->pref || !x->paff || !x->panti || !x->tsc)
		return KP_ERR_NOMEM;
	/* Karpenter sorts preferred terms by weight, heaviest first (stable). */
	if (!(ix = sorted_idx(a, x->npref, weight_cmp_pref, (void *)p)))
		return KP_ERR_NOMEM;
	for (int i = 0; i < x->npref; i++)
		x->pref[i] = &p->preferred_terms[ix[i]];
	if (!(ix = sorted_idx(a, x->npaff, weight_cmp_paff, (void *)p)))
		return KP_ERR_NOMEM;
	for (int i = 0; i < x->npaff; i++)
		x->paff[i] = &p->pref_affinity[ix[i]];
	if (!(ix = sorted_idx(a, x->npanti, weight_cmp_panti, (void *)p)))
		return KP_ERR_NOMEM;
	for (int i = 0; i < x->npanti; i++)
		x->panti[i] = &p->pref_anti[ix[i]];
	for (int i = 0; i < x->ntsc; i++)
		x->tsc[i] = i;
	return KP_OK;
}

static bool has_pns_toleration(const struct kp_pod *p)
{
	for (int i = 0; i < p->tolerations.n; i++) {
		const struct kp_toleration *t = &p->tolerations.t[i];
		if ((!t->key || !*t->key) && t->op == KP_TOL_EXISTS && t->effect == KP_EFFECT_PREFERNOSCHEDULE &&
		    (!t->value || !*t->value))
			return true;
	}
	return false;
}

/* One relaxation step; returns what it removed, NULL when nothing is left. */
static const char *relax_step(struct kp_sched *s, struct relax *x)
{
	const struct kp_pod *p = x->p;
	bool ign = s->opts.ignore_preferences;

	if (p->nrequired_terms - x->req_first > 1) {
		x->req_first++;
		return kp_arena_printf(&s->arena, "required node affinity term %d", x->req_first);
	}
	if (x->paff_off < x->npaff) {
		const struct kp_pod_affinity_term *t = x->paff[x->paff_off++];
		if (!ign)
			return kp_arena_printf(&s->arena, "preferred pod affinity on %s (weight %d)", t->topology_key,
					       t->weight);
	}
	if (x->panti_off < x->npanti) {
		const struct kp_pod_affinity_term *t = x->panti[x->panti_off++];
		if (!ign)
			return kp_arena_printf(&s->arena, "preferred pod anti-affinity on %s (weight %d)",
					       t->topology_key, t->weight);
	}
	if (x->pref_off < x->npref) {
		const struct kp_preferred_term *t = x->pref[x->pref_off++];
		if (!ign)
			return kp_arena_printf(&s->arena, "preferred node affinity (weight %d)", t->weight);
	}
	for (int i = 0; i < x->ntsc; i++) {
		const struct kp_tsc *t = &p->tsc[x->tsc[i]];
		if (t->when_unsatisfiable != KP_SCHEDULE_ANYWAY)
			continue;
		x->tsc[i] = x->tsc[x->ntsc - 1];
		x->ntsc--;
		if (!ign)
			return kp_arena_printf(&s->arena, "ScheduleAnyway spread on %s", t->topology_key);
		break;
	}
	if (s->any_pns && !x->tol_pns && !has_pns_toleration(p)) {
		x->tol_pns = true;
		return "PreferNoSchedule taints";
	}
	return NULL;
}

/* ---- requirements of a variant ---- */

static kp_err node_reqs(struct kp_arena *a, const struct kp_pod *p, int term, const struct kp_preferred_term *pref,
			struct kp_reqs *out)
{
	kp_err rc;

	kp_reqs_init(out);
	rc = kp_reqs_from_labels(out, a, &p->node_selector);
	if (!rc && pref)
		rc = kp_reqs_add_all(out, a, &pref->reqs);
	if (!rc && term >= 0 && term < p->nrequired_terms)
		rc = kp_reqs_add_all(out, a, &p->required_terms[term].reqs);
	return rc;
}

kp_err kp_sched__pod_strict_reqs(struct kp_arena *a, const struct kp_pod *p, int term, struct kp_reqs *out)
{
	return node_reqs(a, p, term, NULL, out);
}

/* ---- topology groups of a variant ---- */

static kp_err filter_terms(struct kp_sched *s, const struct relax *x, int *nterms, struct kp_reqs **terms)
{
	const struct kp_pod *p = x->p;
	int n = p->nrequired_terms - x->req_first;
	struct kp_reqs *t;

	if (n <= 0)
		n = 1;
	t = kp_arena_calloc(&s->arena, (size_t)n, sizeof(*t));
	if (!t)
		return KP_ERR_NOMEM;
	if (p->nrequired_terms - x->req_first <= 0) {
		kp_err rc = node_reqs(&s->arena, p, -1, NULL, &t[0]);
		if (rc)
			return rc;
	} else {
		for (int i = 0; i < n; i++) {
			kp_err rc = node_reqs(&s->arena, p, x->req_first + i, NULL, &t[i]);
			if (rc)
				return rc;
		}
	}
	*nterms = n;
	*terms = t;
	return KP_OK;
}

/* matchLabelKeys / mismatchLabelKeys: "key In|NotIn [pod's value]" when the
 * pod carries the label. */
static kp_err label_key_exprs(struct kp_sched *s, const struct kp_pod *p, int nmatch, const char *const *match,
			      int nmis, const char *const *mis, struct kp_sched__gspec *g)
{
	int n = 0;
	struct kp_selector_expr *e = kp_arena_calloc(&s->arena, (size_t)(nmatch + nmis + 1), sizeof(*e));

	if (!e)
		return KP_ERR_NOMEM;
	for (int i = 0; i < nmatch + nmis; i++) {
		const char *key = i < nmatch ? match[i] : mis[i - nmatch];
		const char *v = kp_labels_get(&p->labels, key);

		if (!v)
			continue;
		e[n].key = key;
		e[n].op = i < nmatch ? KP_OP_IN : KP_OP_NOTIN;
		e[n].n = 1;
		e[n].values = kp_arena_calloc(&s->arena, 1, sizeof(char *));
		if (!e[n].values)
			return KP_ERR_NOMEM;
		e[n].values[0] = v;
		n++;
	}
	g->nextra = n;
	g->extra = e;
	return KP_OK;
}

static kp_err add_group(struct kp_sched *s, struct kp_sched__variant *v, int *cap, const struct kp_sched__gspec *g,
			struct kp_errbuf *eb)
{
	int gi;
	kp_err rc = kp_sched__group_get(s, g, &gi, eb);

	if (rc)
		return rc;
	for (int i = 0; i < v->ngroups; i++)
		if (v->groups[i] == gi)
			return KP_OK;
	if (v->ngroups == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		v->groups = kp_arena_grow(&s->arena, v->groups, (size_t)v->ngroups, (size_t)*cap, sizeof(int));
		if (!v->groups)
			return KP_ERR_NOMEM;
	}
	v->groups[v->ngroups++] = gi;
	return KP_OK;
}

static kp_err affinity_group(struct kp_sched *s, struct kp_sched__variant *v, int *cap, const struct relax *x,
			     const struct kp_pod_affinity_term *t, enum kp_sched__gtype type, bool inverse,
			     struct kp_errbuf *eb)
{
	struct kp_sched__gspec g;
	kp_err rc;

	memset(&g, 0, sizeof(g));
	g.type = type;
	g.inverse = inverse;
	g.key = t->topology_key;
	g.pod = x->p;
	g.tol_pns = x->tol_pns;
	g.sel = t->selector;
	g.max_skew = INT32_MAX;
	rc = label_key_exprs(s, x->p, t->nmatch_label_keys, t->match_label_keys, t->nmismatch_label_keys,
			     t->mismatch_label_keys, &g);
	if (!rc)
		rc = kp_sched__term_namespaces(s, x->p, t, &g.nns, &g.ns);
	if (!rc)
		rc = add_group(s, v, cap, &g, eb);
	return rc;
}

static kp_err variant_groups(struct kp_sched *s, struct kp_sched__variant *v, const struct relax *x, struct kp_errbuf *eb)
{
	const struct kp_pod *p = x->p;
	bool ign = s->opts.ignore_preferences;
	int cap = 0;
	kp_err rc = KP_OK;

	for (int i = 0; !rc && i < x->ntsc; i++) {
		const struct kp_tsc *t = &p->tsc[x->tsc[i]];
		struct kp_sched__gspec g;

		if (ign && t->when_unsatisfiable != KP_DO_NOT_SCHEDULE)
			continue;
		memset(&g, 0, sizeof(g));
		g.type = KPS_SPREAD;
		g.key = t->topology_key;
		g.pod = p;
		g.tol_pns = x->tol_pns;
		g.sel = t->selector;
		g.max_skew = t->max_skew;
		g.min_domains = t->min_domains;
		g.affinity_policy = t->node_affinity_policy;
		g.taints_policy = t->node_taints_policy;
		g.nns = 1;
		g.ns = kp_arena_calloc(&s->arena, 1, sizeof(char *));
		if (!g.ns)
			return KP_ERR_NOMEM;
		g.ns[0] = p->ns ? p->ns : "";
		rc = label_key_exprs(s, p, t->nmatch_label_keys, t->match_label_keys, 0, NULL, &g);
		if (!rc)
			rc = filter_terms(s, x, &g.nterms, &g.terms);
		if (!rc)
			rc = add_group(s, v, &cap, &g, eb);
	}
	for (int i = 0; !rc && i < p->naffinity; i++)
		rc = affinity_group(s, v, &cap, x, &p->affinity[i], KPS_AFFINITY, false, eb);
	for (int i = x->paff_off; !rc && !ign && i < x->npaff; i++)
		rc = affinity_group(s, v, &cap, x, x->paff[i], KPS_AFFINITY, false, eb);
	for (int i = 0; !rc && i < p->nanti; i++)
		rc = affinity_group(s, v, &cap, x, &p->anti[i], KPS_ANTI, false, eb);
	for (int i = x->panti_off; !rc && !ign && i < x->npanti; i++)
		rc = affinity_group(s, v, &cap, x, x->panti[i], KPS_ANTI, false, eb);
	return rc;
}

static kp_err variant_build(struct kp_sched *s, struct kp_sched__variant *v, const struct relax *x, struct kp_errbuf *eb)
{
	const struct kp_pod *p = x->p;
	int term = p->nrequired_terms > 0 ? x->req_first : -1;
	const struct kp_preferred_term *pref = NULL;
	kp_err rc;

	if (!s->opts.ignore_preferences && x->pref_off < x->npref)
		pref = x->pref[x->pref_off];
	rc = node_reqs(&s->arena, p, term, pref, &v->reqs);
	if (!rc && x->vol && x->vol->n)
		rc = kp_reqs_add_all(&v->reqs, &s->arena, x->vol);
	if (!rc && pref) {
		rc = node_reqs(&s->arena, p, term, NULL, &v->strict);
		if (!rc && x->vol && x->vol->n)
			rc = kp_reqs_add_all(&v->strict, &s->arena, x->vol);
	} else if (!rc) {
		v->strict = v->reqs;
	}
	if (rc)
		return rc;
	v->tol_pns = x->tol_pns;
	v->tol_tpl = kp_arena_alloc(&s->arena, (size_t)s->ntpl + 1);
	if (!v->tol_tpl)
		return KP_ERR_NOMEM;
	memset(v->tol_tpl, -1, (size_t)s->ntpl + 1);
	return variant_groups(s, v, x, eb);
}

static kp_err class_inverse(struct kp_sched *s, struct kp_sched__class *c, const struct relax *x, struct kp_errbuf *eb)
{
	struct kp_sched__variant tmp;
	kp_err rc = KP_OK;
	int cap = 0;

	/* Topology.Update tracks the pod's required anti-affinity as inverse
	 * groups (it owns them; no domain is recorded until it lands). */
	memset(&tmp, 0, sizeof(tmp));
	for (int i = 0; !rc && i < x->p->nanti; i++)
		rc = affinity_group(s, &tmp, &cap, x, &x->p->anti[i], KPS_ANTI, true, eb);
	c->ninv = tmp.ngroups;
	c->inv = tmp.groups;
	return rc;
}

/* ---- volume topology (Karpenter's volumetopology.go) ---- */

/* The alternatives (ORed terms) one volume allows; *n 0 = no constraint. */
struct vol_terms {
	int n;
	const struct kp_reqs *t;
};

static kp_err sc_terms(struct kp_sched *s, const char *name, struct vol_terms *out, const char **err)
{
	const struct kp_storageclass *sc;

	out->n = 0;
	if (!name || !*name)
		return KP_OK;   /* no class: no topology (getStorageClassRequirements) */
	sc = kp_cluster_storageclass(s->cl, name);
	if (!sc) {
		*err = kp_arena_printf(&s->arena, "StorageClass \"%s\" not found", name);
		return *err ? KP_OK : KP_ERR_NOMEM;
	}
	if (sc->has_topology) {
		out->n = sc->nterms > 0 ? sc->nterms : 1;
		out->t = sc->nterms > 0 ? sc->terms : &sc->topology;
	}
	return KP_OK;
}

/* The volume topology alternatives of p (Karpenter v1.14's volumetopology.go
 * alternatives): each volume allows the OR of its terms: a bound claim's
 * PersistentVolume nodeSelectorTerms, an unbound claim's StorageClass
 * allowedTopologies terms; an ephemeral volume is the claim "<pod>-<volume>",
 * a StatefulSet volumeClaimTemplate the claim "<template>-<sts>-<ordinal>",
 * either one's template class deciding while that claim does not exist. The
 * pod's alternatives are the cross product over its volumes (each the AND
 * of one term per volume), at most VOL_ALT_MAX (the first ones, in term
 * order). A missing claim, volume or class sets *err (the pod is
 * unschedulable, as Karpenter's Validate drops it). When the cluster's
 * storage objects are unknown (controller informers not synced), none. */
#define VOL_ALT_MAX 16

static kp_err volume_alts(struct kp_sched *s, const struct kp_pod *p, struct kp_reqs **alts, int *nalt,
			  const char **err)
{
	struct kp_reqs *cur = NULL;
	int ncur = 0;

	*alts = NULL;
	*nalt = 0;
	*err = NULL;
	if (s->cl->volumes_unknown)
		return KP_OK;
	for (int i = 0; i < p->nvolumes && !*err; i++) {
		const struct kp_pod_volume *v = &p->volumes[i];
		const char *claim = v->claim;
		const struct kp_pvc *pvc;
		struct vol_terms vt = { 0, NULL };
		struct kp_reqs *next;
		int nnext = 0;
		kp_err rc = KP_OK;

		if (v->ephemeral) {
			claim = kp_arena_printf(&s->arena, "%s-%s", p->name ? p->name : "", v->name ? v->name : "");
			if (!claim)
				return KP_ERR_NOMEM;
		}
		pvc = kp_cluster_pvc(s->cl, p->ns, claim);
		if (!pvc && (v->ephemeral || v->claim_template)) {
			rc = sc_terms(s, v->template_sc, &vt, err);
		} else if (!pvc) {
			*err = kp_arena_printf(&s->arena, "PersistentVolumeClaim \"%s/%s\" not found",
					       p->ns ? p->ns : "", claim);
			rc = *err ? KP_OK : KP_ERR_NOMEM;
		} else if (pvc->volume_name) {
			const struct kp_pv *pv = kp_cluster_pv(s->cl, pvc->volume_name);
			if (!pv) {
				*err = kp_arena_printf(&s->arena, "PersistentVolume \"%s\" of claim \"%s/%s\" not found",
						       pvc->volume_name, p->ns ? p->ns : "", claim);
				rc = *err ? KP_OK : KP_ERR_NOMEM;
			} else if (pv->has_affinity) {
				vt.n = pv->nterms > 0 ? pv->nterms : 1;
				vt.t = pv->nterms > 0 ? pv->terms : &pv->affinity;
			}
		} else {
			rc = sc_terms(s, pvc->storage_class, &vt, err);
		}
		if (rc)
			return rc;
		if (*err || vt.n == 0)
			continue;
		next = kp_arena_calloc(&s->arena, VOL_ALT_MAX, sizeof(*next));
		if (!next)
			return KP_ERR_NOMEM;
		for (int a = 0; a < (ncur ? ncur : 1) && nnext < VOL_ALT_MAX; a++)
			for (int t = 0; t < vt.n && nnext < VOL_ALT_MAX; t++) {
				struct kp_reqs *r = &next[nnext++];
				kp_reqs_init(r);
				rc = ncur ? kp_reqs_add_all(r, &s->arena, &cur[a]) : KP_OK;
				if (!rc)
					rc = kp_reqs_add_all(r, &s->arena, &vt.t[t]);
				if (rc)
					return rc;
			}
		cur = next;
		ncur = nnext;
	}
	*alts = cur;
	*nalt = ncur;
	return KP_OK;
}

static kp_err class_build(struct kp_sched *s, struct kp_sched__class *c, const struct kp_pod *p, struct kp_errbuf *eb)
{
	struct relax x;
	int cap = 4;
	kp_err rc = relax_init(&x, &s->arena, p);

	if (rc)
		return rc;
	c->rep = p;
	c->var = kp_arena_calloc(&s->arena, (size_t)cap, sizeof(*c->var));
	if (!c->var)
		return KP_ERR_NOMEM;
	rc = volume_alts(s, p, &c->vol, &c->nvol, &c->vol_err);
	if (rc)
		return rc;
	rc = class_inverse(s, c, &x, eb);
	/* per relaxation step, one variant per volume alternative (tried in
	 * order: the first alternative that places the pod wins) */
	for (const char *why = ""; !rc && why; why = relax_step(s, &x)) {
		bool first_step = c->nvar == 0;
		for (int a = 0; !rc && a < (c->nvol ? c->nvol : 1); a++) {
			if (c->nvar == cap) {
				cap *= 2;
				c->var = kp_arena_grow(&s->arena, c->var, (size_t)c->nvar, (size_t)cap, sizeof(*c->var));
				if (!c->var)
					return KP_ERR_NOMEM;
			}
			x.vol = c->nvol ? &c->vol[a] : NULL;
			c->var[c->nvar].relaxed = first_step ? NULL : why;
			rc = variant_build(s, &c->var[c->nvar], &x, eb);
			c->nvar++;
		}
	}
	return rc;
}

kp_err kp_sched__class_for(struct kp_sched *s, const struct kp_pod *p, struct kp_sched__class **out, struct kp_errbuf *eb)
{
	struct kp_sched__class *c;
	const char *key;
	uint64_t h;
	kp_err rc;

	if (!s->sigbuf.max)
		kp_buf_init(&s->sigbuf, SIG_MAX);
	rc = pod_signature(&s->sigbuf, p);
	if (rc == KP_ERR_LIMIT)
		return kp_errf(eb, KP_ERR_LIMIT, "pod spec too large to schedule");
	if (rc)
		return rc;
	h = sig_hash((const unsigned char *)s->sigbuf.data, s->sigbuf.len);
	c = class_find(s, s->sigbuf.data, s->sigbuf.len, h);
	if (c) {
		*out = c;
		return KP_OK;
	}
	key = kp_arena_memdup(&s->arena, s->sigbuf.data, s->sigbuf.len ? s->sigbuf.len : 1);
	c = kp_arena_alloc(&s->arena, sizeof(*c));
	if (!key || !c)
		return KP_ERR_NOMEM;
	if (s->nclasses == s->capclasses) {
		s->capclasses = s->capclasses ? s->capclasses * 2 : 16;
		s->classes = kp_arena_grow(&s->arena, s->classes, (size_t)s->nclasses, (size_t)s->capclasses,
					   sizeof(*s->classes));
		if (!s->classes)
			return KP_ERR_NOMEM;
	}
	c->idx = s->nclasses;
	rc = class_build(s, c, p, eb);
	if (rc)
		return rc;
	c->sig = key;
	c->siglen = s->sigbuf.len;
	c->sighash = h;
	s->classes[s->nclasses++] = c;
	rc = class_index(s, c->idx);
	if (rc)
		return rc;
	*out = c;
	return KP_OK;
}

bool kp_sched__class_selects(struct kp_sched *s, struct kp_sched__class *c, int g)
{
	if (g >= c->nsel_cap) {
		int cap = s->capgroups > g ? s->capgroups : g + 1;
		int8_t *sel = kp_arena_alloc(&s->arena, (size_t)cap);

		if (!sel)
			return kp_sched__group_selects(s->groups[g], c->rep);
		memset(sel, -1, (size_t)cap);
		if (c->nsel_cap)
			memcpy(sel, c->sel, (size_t)c->nsel_cap);
		c->sel = sel;
		c->nsel_cap = cap;
	}
	if (c->sel[g] < 0)
		c->sel[g] = kp_sched__group_selects(s->groups[g], c->rep) ? 1 : 0;
	return c->sel[g] == 1;
}

bool kp_sched__variant_tolerates(struct kp_sched *s, struct kp_sched__variant *v, const struct kp_pod *p, int tpl,
			   struct kp_errbuf *eb)
{
	if (v->tol_tpl[tpl] < 0 || (eb && v->tol_tpl[tpl] == 0)) {
		bool ok = kp_taints_tolerated(&s->tpl[tpl].pool->taints, &p->tolerations, !v->tol_pns, eb);
		v->tol_tpl[tpl] = ok ? 1 : 0;
	}
	return v->tol_tpl[tpl] == 1;
}
