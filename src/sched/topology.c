/*
 * topology.c - topology keys, domains and groups (Karpenter's topology.go,
 * topologydomaingroup.go, topologynodefilter.go), prep side and per-run
 * initialization.
 *
 * A topology key (zone, hostname, capacity type, any label) interns its
 * domain values. Its universe is Karpenter's buildDomainGroups, restricted
 * to where capacity exists (deliberately unlike kubernetes-sigs/karpenter
 * #3272): for every pool and each of its compatible types, the zones and
 * capacity types of the visible offerings compatible with the pool; for
 * other keys (pool requirements + pool labels) ∩ type requirements on that
 * key, plus the pool's own In values; each domain
 * remembers the taints of the pools that offer it, so a group whose creator
 * does not tolerate a pool's taints does not see domains only that pool has.
 *
 * A group (TopologyGroup) is one spread constraint or pod (anti-)affinity
 * term; pods with identical terms share it (same signature, like
 * TopologyGroup.Hash: minDomains is not part of it). At creation the prep
 * counts existing pods per node (countDomains) and the nodes that register
 * domains; inverse groups (required anti-affinity of pods already running,
 * and of pending pods) record the domains of their owners. A run starts
 * from these counts minus removed nodes and the pods being rescheduled.
 *
 * Cost: a key costs O(pools x types) once; a group O(cluster pods) once;
 * a run's init O(active groups x contributing nodes + domains).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched_int.h"

/* ---- keys and domains ---- */

int kp_sched__dom_find(const struct kp_sched *s, int key, const char *value)
{
	return kp_sched__strmap_get(&s->keys[key].ix, value);
}

kp_err kp_sched__dom_intern(struct kp_sched *s, int key, const char *value, int *out)
{
	struct kp_sched__topokey *k = &s->keys[key];
	int d = kp_sched__strmap_get(&k->ix, value);
	kp_err rc;

	if (d >= 0) {
		*out = d;
		return KP_OK;
	}
	if (k->ndom == k->capdom) {
		k->capdom = k->capdom ? k->capdom * 2 : 16;
		k->dom = kp_arena_grow(&s->arena, k->dom, (size_t)k->ndom, (size_t)k->capdom, sizeof(*k->dom));
		if (!k->dom)
			return KP_ERR_NOMEM;
	}
	d = k->ndom;
	k->dom[k->ndom++] = value;
	rc = kp_sched__strmap_put(&k->ix, &s->arena, value, d);
	if (rc)
		return rc;
	*out = d;
	return KP_OK;
}

struct unibuild {
	int cap;
	int *pos;           /* domain -> universe position, -1 */
};

static kp_err uni_insert(struct kp_sched *s, int key, struct unibuild *u, const char *value, int tpl)
{
	struct kp_sched__topokey *k = &s->keys[key];
	const struct kp_sched__tpl *t = &s->tpl[tpl];
	int d, at;
	kp_err rc = kp_sched__dom_intern(s, key, value, &d);

	if (rc)
		return rc;
	if (d >= u->cap) {
		int cap = (d + 1) * 2;
		int *pos = kp_arena_grow(&s->arena, u->pos, (size_t)u->cap, (size_t)cap, sizeof(int));
		if (!pos)
			return KP_ERR_NOMEM;
		for (int i = u->cap; i < cap; i++)
			pos[i] = -1;
		u->pos = pos;
		u->cap = cap;
	}
	at = u->pos[d];
	if (at < 0) {
		int cap = k->nuni + 1;
		k->uni = kp_arena_grow(&s->arena, k->uni, (size_t)k->nuni, (size_t)cap, sizeof(int));
		k->uni_untainted = kp_arena_grow(&s->arena, k->uni_untainted, (size_t)k->nuni, (size_t)cap, sizeof(bool));
		k->uni_pools = kp_arena_grow(&s->arena, k->uni_pools, (size_t)(k->nuni * s->tplwords),
					     (size_t)(cap * s->tplwords), sizeof(uint64_t));
		if (!k->uni || !k->uni_untainted || !k->uni_pools)
			return KP_ERR_NOMEM;
		at = k->nuni++;
		k->uni[at] = d;
		u->pos[d] = at;
	}
	/* TopologyDomainGroup.Insert: an untainted pool makes the domain open to all */
	if (t->pool->taints.n == 0)
		k->uni_untainted[at] = true;
	else
		k->uni_pools[at * s->tplwords + tpl / 64] |= (uint64_t)1 << (tpl % 64);
	return KP_OK;
}

static kp_err uni_values(struct kp_sched *s, int key, struct unibuild *u, const struct kp_req *r, int tpl)
{
	/* Requirement.Values(): the listed values, even for a complement */
	for (int i = 0; r && i < r->n; i++) {
		kp_err rc = uni_insert(s, key, u, r->values[i], tpl);
		if (rc)
			return rc;
	}
	return KP_OK;
}

/* The zone / capacity-type values of tp's types' visible offerings that
 * are compatible with its requirements: where capacity exists. */
static kp_err uni_offerings(struct kp_sched *s, int key, struct unibuild *u, int t, bool zone)
{
	const struct kp_sched__tpl *tp = &s->tpl[t];

	for (int i = 0; i < tp->ntypes; i++) {
		const struct kp_itype *it = tp->types[i].it;

		for (int j = 0; j < it->noff; j++) {
			const struct kp_offering *o = &it->off[j];
			const char *v = zone ? o->zone : kp_captype_name(o->captype);
			kp_err rc;

			if (!v || !kp_sched__offering_visible(s, it, o) || !kp_offering_compatible(o, &tp->reqs))
				continue;
			rc = uni_insert(s, key, u, v, t);
			if (rc)
				return rc;
		}
	}
	return KP_OK;
}

static kp_err key_universe(struct kp_sched *s, int key)
{
	const char *name = s->keys[key].key;
	bool zone = strcmp(name, KP_LABEL_ZONE) == 0, ct = strcmp(name, KP_LABEL_CAPACITY_TYPE) == 0;
	struct unibuild u = { 0 };
	struct kp_arena tmp;
	kp_err rc = KP_OK;

	kp_arena_init(&tmp);
	/* Karpenter's buildDomainGroups takes every type the provider returns
	 * and intersects one key at a time, so a zone where none of the pool's
	 * types is offered still becomes a domain and a spread can pick it and
	 * strand the pod (kubernetes-sigs/karpenter#3272). Here, on purpose:
	 * only the pool's compatible types (tp->types: requirements intersect,
	 * an available compatible offering), and for the offering keys (zone,
	 * capacity type) only the values of their visible offerings compatible
	 * with the pool's requirements. Other keys: type ∩ pool requirement,
	 * plus the pool's own In values (a label the pool sets exists without
	 * a type carrying it). */
	for (int t = 0; !rc && t < s->ntpl; t++) {
		const struct kp_sched__tpl *tp = &s->tpl[t];
		const struct kp_req *pr = kp_reqs_get(&tp->pool_reqs, name);
		const char *lv = kp_labels_get(&tp->pool->labels, name);
		const char *lvv[1] = { lv };
		struct kp_req lr = { .key = name, .n = 1, .values = lvv }, base;
		const struct kp_req *b = pr;

		if (zone || ct) {
			rc = uni_offerings(s, key, &u, t, zone);
			continue;
		}
		/* the label as "key In [value]", borrowing the pool's string: the
		 * interned domains must outlive tmp */
		if (lv) {
			if (pr)
				rc = kp_req_intersect(&base, &tmp, &lr, pr);
			else
				base = lr;
			b = &base;
		}
		for (int i = 0; !rc && i < tp->ntypes; i++) {
			const struct kp_req *tr = kp_reqs_get(&tp->types[i].it->reqs, name);
			struct kp_req x;

			if (!b && !tr)
				continue;
			if (b && tr) {
				rc = kp_req_intersect(&x, &tmp, tr, b);
				if (!rc)
					rc = uni_values(s, key, &u, &x, t);
			} else {
				rc = uni_values(s, key, &u, b ? b : tr, t);
			}
		}
		if (!rc && b && kp_req_op(b) == KP_OP_IN)
			rc = uni_values(s, key, &u, b, t);
	}
	/* tmp only held value arrays; the strings are the pools' and the
	 * catalog's, which outlive the prep */
	kp_arena_free(&tmp);
	return rc;
}

static kp_err key_nodes(struct kp_sched *s, int key)
{
	struct kp_sched__topokey *k = &s->keys[key];
	const struct kp_cluster *cl = s->cl;
	kp_err rc = KP_OK;

	k->slot_dom = kp_arena_calloc(&s->arena, (size_t)s->nnodes + 1, sizeof(int));
	k->reg_dom = kp_arena_calloc(&s->arena, (size_t)s->nnodes + 1, sizeof(int));
	k->node_dom = kp_arena_calloc(&s->arena, (size_t)cl->nnodes + 1, sizeof(int));
	if (!k->slot_dom || !k->reg_dom || !k->node_dom)
		return KP_ERR_NOMEM;
	for (int i = 0; !rc && i < s->nnodes; i++) {
		const struct kp_sched__node *n = &s->nodes[i];
		const char *v = kp_labels_get(n->labels, k->key);

		k->reg_dom[i] = k->slot_dom[i] = -1;
		if (v)
			rc = kp_sched__dom_intern(s, key, v, &k->reg_dom[i]);
		if (!rc && k->hostname)
			rc = kp_sched__dom_intern(s, key, n->hostname, &k->slot_dom[i]);
		else
			k->slot_dom[i] = k->reg_dom[i];
	}
	for (int i = 0; !rc && i < cl->nnodes; i++) {
		const struct kp_node *n = cl->nodes[i];
		const char *v = kp_labels_get(&n->labels, k->key);

		/* countDomains falls back to the node name for hostname */
		if (!v && k->hostname)
			v = n->name;
		k->node_dom[i] = -1;
		if (v)
			rc = kp_sched__dom_intern(s, key, v, &k->node_dom[i]);
	}
	return rc;
}

kp_err kp_sched__topokey_get(struct kp_sched *s, const char *key, int *out)
{
	struct kp_sched__topokey *k;
	int ix = kp_sched__strmap_get(&s->key_ix, key);
	kp_err rc;

	if (ix >= 0) {
		*out = ix;
		return KP_OK;
	}
	if (s->nkeys == s->capkeys) {
		s->capkeys = s->capkeys ? s->capkeys * 2 : 8;
		s->keys = kp_arena_grow(&s->arena, s->keys, (size_t)s->nkeys, (size_t)s->capkeys, sizeof(*s->keys));
		if (!s->keys)
			return KP_ERR_NOMEM;
	}
	ix = s->nkeys++;
	k = &s->keys[ix];
	memset(k, 0, sizeof(*k));
	k->key = key;
	k->hostname = strcmp(key, KP_LABEL_HOSTNAME) == 0;
	if (k->hostname)
		s->host_key = ix;
	rc = kp_sched__strmap_put(&s->key_ix, &s->arena, key, ix);
	if (!rc)
		rc = key_universe(s, ix);
	if (!rc)
		rc = key_nodes(s, ix);
	*out = ix;
	return rc;
}

/* ---- groups ---- */

static int ns_has(const struct kp_sched__group *g, const char *ns)
{
	int lo = 0, hi = g->nns;

	while (lo < hi) {
		int mid = (lo + hi) / 2, c = strcmp(g->ns[mid], ns);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

bool kp_sched__group_selects(const struct kp_sched__group *g, const struct kp_pod *p)
{
	if (!ns_has(g, p->ns ? p->ns : ""))
		return false;
	if (!kp_selector_matches(g->sel, &p->labels))
		return false;
	for (int i = 0; i < g->nextra; i++) {
		const char *v = kp_labels_get(&p->labels, g->extra[i].key);
		bool eq = v && strcmp(v, g->extra[i].values[0]) == 0;
		if (g->extra[i].op == KP_OP_IN ? !eq : eq)
			return false;
	}
	return true;
}

bool kp_sched__filter_matches(const struct kp_sched__group *g, const struct kp_taints *taints, const struct kp_reqs *reqs,
			bool strict)
{
	if (!g->filter)
		return true;
	if (g->honor_affinity && !g->filter_trivial) {
		bool any = false;
		for (int i = 0; i < g->nterms && !any; i++)
			any = strict ? kp_reqs_compatible_strict(reqs, &g->terms[i], NULL)
				     : kp_reqs_compatible(reqs, &g->terms[i], NULL);
		if (!any)
			return false;
	}
	if (g->honor_taints && !kp_taints_tolerated(taints, g->tols, !g->tol_pns, NULL))
		return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

kp_err kp_sched__term_namespaces(struct kp_sched *s, const struct kp_pod *p, const struct kp_pod_affinity_term *t,
			   int *nns, const char ***ns)
{
	const struct kp_cluster *cl = s->cl;
	int n = 0, cap = t->nnamespaces + 1 + (t->ns_selector ? cl->nnamespaces : 0);
	const char **v = kp_arena_calloc(&s->arena, (size_t)cap, sizeof(*v));

	if (!v)
		return KP_ERR_NOMEM;
	if (t->nnamespaces == 0 && !t->ns_selector) {
		v[n++] = p->ns ? p->ns : "";
	} else {
		for (int i = 0; i < t->nnamespaces; i++)
			v[n++] = t->namespaces[i];
		for (int i = 0; t->ns_selector && i < cl->nnamespaces; i++)
			if (kp_selector_matches(t->ns_selector, &cl->namespaces[i]->labels))
				v[n++] = cl->namespaces[i]->name;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_str);
	{
		int w = 0;
		for (int i = 0; i < n; i++)
			if (w == 0 || strcmp(v[w - 1], v[i]) != 0)
				v[w++] = v[i];
		n = w;
	}
	*nns = n;
	*ns = v;
	return KP_OK;
}

static void gsig_selector(struct kp_buf *b, const struct kp_selector *sel)
{
	if (!sel) {
		kp_buf_addstr(b, "<nil>\x01");
		return;
	}
	for (int i = 0; i < sel->match_labels.n; i++)
		kp_buf_printf(b, "%s=%s\x01", sel->match_labels.kv[i].key, sel->match_labels.kv[i].value);
	for (int i = 0; i < sel->nexpr; i++) {
		kp_buf_printf(b, "%s %d", sel->expr[i].key, sel->expr[i].op);
		for (int j = 0; j < sel->expr[i].n; j++)
			kp_buf_printf(b, " %s", sel->expr[i].values[j]);
		kp_buf_addstr(b, "\x01");
	}
}

static kp_err group_sig(struct kp_sched *s, const struct kp_sched__gspec *g, struct kp_buf *b)
{
	bool filter = g->type == KPS_SPREAD;

	kp_buf_printf(b, "%d.%d.%s.%d\x01", g->type, g->inverse, g->key, g->max_skew);
	for (int i = 0; i < g->nns; i++)
		kp_buf_printf(b, "%s,", g->ns[i]);
	kp_buf_addstr(b, "\x01");
	gsig_selector(b, g->sel);
	for (int i = 0; i < g->nextra; i++)
		kp_buf_printf(b, "+%s %d %s\x01", g->extra[i].key, g->extra[i].op, g->extra[i].values[0]);
	if (filter) {
		const struct kp_tolerations *t = &g->pod->tolerations;
		char rb[512];

		kp_buf_printf(b, "F%d.%d.%d\x01", g->affinity_policy, g->taints_policy, g->tol_pns);
		for (int i = 0; i < g->nterms; i++) {
			for (int j = 0; j < g->terms[i].n; j++)
				kp_buf_printf(b, "%s;", kp_req_str(&g->terms[i].r[j], rb, sizeof(rb)));
			kp_buf_addstr(b, "|");
		}
		for (int i = 0; i < t->n; i++)
			kp_buf_printf(b, "T%s.%d.%s.%d\x01", t->t[i].key ? t->t[i].key : "", t->t[i].op,
				      t->t[i].value ? t->t[i].value : "", t->t[i].effect);
	}
	return b->data ? KP_OK : KP_ERR_NOMEM;
}

/* The creator's tolerations; PreferNoSchedule relaxation is g->tol_pns. */
static struct kp_tolerations *filter_tols(struct kp_sched *s, const struct kp_pod *p)
{
	struct kp_tolerations *t = kp_arena_alloc(&s->arena, sizeof(*t));

	if (!t)
		return NULL;
	*t = p->tolerations;
	return t;
}

static bool tolerates_pool(const struct kp_sched *s, const struct kp_tolerations *tols, bool pns, int tpl)
{
	return kp_taints_tolerated(&s->tpl[tpl].pool->taints, tols, !pns, NULL);
}

static kp_err group_universe(struct kp_sched *s, struct kp_sched__group *g, const struct kp_tolerations *tols, bool pns,
			     bool ignore_taints)
{
	const struct kp_sched__topokey *k = &s->keys[g->key];
	int8_t *tol = kp_arena_alloc(&s->arena, (size_t)s->ntpl + 1);

	g->uni = kp_arena_calloc(&s->arena, (size_t)k->nuni + 1, sizeof(int));
	if (!g->uni || !tol)
		return KP_ERR_NOMEM;
	for (int t = 0; t < s->ntpl; t++)
		tol[t] = ignore_taints || tolerates_pool(s, tols, pns, t);
	for (int i = 0; i < k->nuni; i++) {
		bool ok = ignore_taints || k->uni_untainted[i];
		for (int t = 0; !ok && t < s->ntpl; t++)
			ok = (k->uni_pools[i * s->tplwords + t / 64] >> (t % 64) & 1) && tol[t];
		if (ok)
			g->uni[g->nuni++] = k->uni[i];
	}
	return KP_OK;
}

static const struct kp_reqs *node_label_reqs(struct kp_sched *s, int node)
{
	if (!s->node_lreqs[node]) {
		struct kp_reqs *r = kp_arena_alloc(&s->arena, sizeof(*r));
		if (!r)
			return NULL;
		kp_reqs_init(r);
		if (kp_reqs_from_labels(r, &s->arena, &s->cl->nodes[node]->labels))
			return NULL;
		s->node_lreqs[node] = r;
	}
	return s->node_lreqs[node];
}

/* The domain pod p (bound, counted for topology) counts in for group g, or -1. */
static int pod_count_dom(struct kp_sched *s, const struct kp_sched__group *g, const struct kp_pod *p, int node)
{
	const struct kp_sched__topokey *k = &s->keys[g->key];
	const struct kp_node *n;
	const struct kp_reqs *lr;

	if (node < 0 || kp_pod_is_terminal(p) || p->deleting)
		return -1;
	if (k->node_dom[node] < 0 || !kp_sched__group_selects(g, p))
		return -1;
	n = s->cl->nodes[node];
	if (g->filter) {
		lr = node_label_reqs(s, node);
		if (!lr || !kp_sched__filter_matches(g, &n->taints, lr, true))
			return -1;
	}
	return k->node_dom[node];
}

int kp_sched__node_index(const struct kp_sched *s, const char *name)
{
	return name && *name ? kp_sched__strmap_get(&s->node_ix, name) : -1;
}

static kp_err group_count(struct kp_sched *s, struct kp_sched__group *g)
{
	const struct kp_cluster *cl = s->cl;
	const struct kp_sched__topokey *k = &s->keys[g->key];
	int *count = kp_arena_calloc(&s->arena, (size_t)cl->nnodes + 1, sizeof(int));
	int *reg = kp_arena_calloc(&s->arena, (size_t)cl->nnodes + 1, sizeof(int));
	int n = 0;

	if (!count || !reg)
		return KP_ERR_NOMEM;
	for (int i = 0; i < cl->nnodes; i++)
		reg[i] = -1;
	/* domains of existing nodes the group's filter admits */
	for (int i = 0; i < s->nnodes; i++) {
		const struct kp_sched__node *sn = &s->nodes[i];
		const struct kp_reqs *lr;

		if (!sn->node || k->reg_dom[i] < 0)
			continue;
		if (g->filter) {
			lr = node_label_reqs(s, sn->node_idx);
			if (!lr || !kp_sched__filter_matches(g, &sn->node->taints, lr, true))
				continue;
		}
		reg[sn->node_idx] = k->reg_dom[i];
	}
	for (int i = 0; i < cl->npods; i++) {
		const struct kp_pod *p = cl->pods[i];
		int node = s->pod_node[i];

		if (node >= 0 && pod_count_dom(s, g, p, node) >= 0)
			count[node]++;
	}
	for (int i = 0; i < cl->nnodes; i++)
		if (count[i] || reg[i] >= 0)
			n++;
	g->contrib = kp_arena_calloc(&s->arena, (size_t)n + 1, sizeof(*g->contrib));
	if (!g->contrib)
		return KP_ERR_NOMEM;
	for (int i = 0; i < cl->nnodes; i++) {
		if (!count[i] && reg[i] < 0)
			continue;
		g->contrib[g->ncontrib].node_idx = i;
		g->contrib[g->ncontrib].dom = k->node_dom[i];
		g->contrib[g->ncontrib].count = count[i];
		g->contrib[g->ncontrib].reg_dom = reg[i];
		g->ncontrib++;
	}
	return KP_OK;
}

kp_err kp_sched__group_get(struct kp_sched *s, const struct kp_sched__gspec *spec, int *out, struct kp_errbuf *eb)
{
	struct kp_buf b;
	struct kp_sched__group *g;
	const char *sig;
	int ix, key;
	kp_err rc;

	kp_buf_init(&b, 1u << 20);
	rc = group_sig(s, spec, &b);
	if (rc) {
		kp_buf_free(&b);
		return rc;
	}
	ix = kp_sched__strmap_get(&s->group_ix, b.data);
	if (ix >= 0) {
		kp_buf_free(&b);
		*out = ix;
		return KP_OK;
	}
	sig = kp_arena_strdup(&s->arena, b.data);
	kp_buf_free(&b);
	g = kp_arena_alloc(&s->arena, sizeof(*g));
	if (!sig || !g)
		return KP_ERR_NOMEM;
	rc = kp_sched__topokey_get(s, spec->key ? spec->key : "", &key);
	if (rc)
		return rc;
	g->type = spec->type;
	g->inverse = spec->inverse;
	g->key = key;
	g->max_skew = spec->max_skew;
	g->min_domains = spec->min_domains;
	g->nns = spec->nns;
	g->ns = spec->ns;
	g->sel = spec->sel;
	g->nextra = spec->nextra;
	g->extra = spec->extra;
	g->sig = sig;
	g->tols = filter_tols(s, spec->pod);
	g->tol_pns = spec->tol_pns;
	if (!g->tols)
		return KP_ERR_NOMEM;
	if (spec->type == KPS_SPREAD) {
		g->filter = true;
		g->honor_affinity = spec->affinity_policy == KP_POLICY_HONOR;
		g->honor_taints = spec->taints_policy == KP_POLICY_HONOR;
		g->nterms = spec->nterms;
		g->terms = spec->terms;
		g->filter_trivial = !g->honor_affinity || spec->nterms == 0 ||
				    (spec->nterms == 1 && spec->terms[0].n == 0);
	}
	/* ForEachDomain: spread honours its taint policy; affinity groups
	 * carry a zero filter whose taint policy is not Ignore */
	rc = group_universe(s, g, g->tols, spec->tol_pns, spec->type == KPS_SPREAD && !g->honor_taints);
	if (!rc && !g->inverse)
		rc = group_count(s, g);
	if (rc)
		return rc;
	if (s->ngroups == s->capgroups) {
		s->capgroups = s->capgroups ? s->capgroups * 2 : 16;
		s->groups = kp_arena_grow(&s->arena, s->groups, (size_t)s->ngroups, (size_t)s->capgroups,
					  sizeof(*s->groups));
		if (!s->groups)
			return KP_ERR_NOMEM;
	}
	ix = s->ngroups++;
	s->groups[ix] = g;
	rc = kp_sched__strmap_put(&s->group_ix, &s->arena, sig, ix);
	*out = ix;
	(void)eb;
	return rc;
}

static kp_err inv_contrib(struct kp_sched *s, int gi, const struct kp_pod *p, int node)
{
	struct kp_sched__group *g = s->groups[gi];
	const char *v = kp_labels_get(&s->cl->nodes[node]->labels, s->keys[g->key].key);
	struct kp_sched__contrib *c;
	int d = -1;
	kp_err rc;

	if (v) {
		rc = kp_sched__dom_intern(s, g->key, v, &d);
		if (rc)
			return rc;
	}
	c = kp_arena_grow(&s->arena, g->contrib, (size_t)g->ncontrib, (size_t)g->ncontrib + 1, sizeof(*c));
	if (!c)
		return KP_ERR_NOMEM;
	g->contrib = c;
	c[g->ncontrib].node_idx = node;
	c[g->ncontrib].dom = d;
	c[g->ncontrib].count = d >= 0 ? 1 : 0;
	c[g->ncontrib].reg_dom = -1;
	c[g->ncontrib].owner = p;
	g->ncontrib++;
	g->inv_owners++;
	return KP_OK;
}

kp_err kp_sched__inverse_existing(struct kp_sched *s, struct kp_errbuf *eb)
{
	const struct kp_cluster *cl = s->cl;
	int *seen = NULL;
	int nseen = 0;
	kp_err rc = KP_OK;

	if (s->inv_done)
		return KP_OK;
	s->inv_done = true;
	for (int i = 0; !rc && i < cl->npods; i++) {
		const struct kp_pod *p = cl->pods[i];
		int node = s->pod_node[i];

		if (node < 0 || p->nanti == 0 || kp_pod_is_terminal(p))
			continue;
		for (int j = 0; !rc && j < p->nanti; j++) {
			const struct kp_pod_affinity_term *t = &p->anti[j];
			struct kp_sched__gspec g;
			int gi, k;

			memset(&g, 0, sizeof(g));
			g.type = KPS_ANTI;
			g.inverse = true;
			g.key = t->topology_key;
			g.pod = p;
			g.sel = t->selector;
			g.max_skew = INT32_MAX;
			rc = kp_sched__term_namespaces(s, p, t, &g.nns, &g.ns);
			if (!rc)
				rc = kp_sched__group_get(s, &g, &gi, eb);
			if (!rc)
				rc = inv_contrib(s, gi, p, node);
			for (k = 0; !rc && k < nseen && seen[k] != gi; k++)
				;
			if (!rc && k == nseen) {
				seen = kp_arena_grow(&s->arena, seen, (size_t)nseen, (size_t)nseen + 1, sizeof(int));
				if (!seen)
					return KP_ERR_NOMEM;
				seen[nseen++] = gi;
			}
		}
	}
	s->inv_exist = seen;
	s->ninv_exist = nseen;
	return rc;
}

/* ---- per-run domains ---- */

int kp_sched__dom_total(const struct kp_sched__run *r, int key)
{
	return r->s->keys[key].ndom + r->keys[key].n;
}

int kp_sched__dom_find_run(const struct kp_sched__run *r, int key, const char *value)
{
	int d = kp_sched__strmap_get(&r->s->keys[key].ix, value);

	if (d >= 0 || r->keys[key].n == 0)
		return d;
	d = kp_sched__strmap_get(&r->keys[key].ix, value);
	return d >= 0 ? d + r->s->keys[key].ndom : -1;
}

kp_err kp_sched__dom_add_run(struct kp_sched__run *r, int key, const char *value, int *out)
{
	struct kp_sched__keyrun *k = &r->keys[key];
	int d = kp_sched__dom_find_run(r, key, value);
	kp_err rc;

	if (d >= 0) {
		*out = d;
		return KP_OK;
	}
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 64;
		k->dom = kp_arena_grow(r->a, k->dom, (size_t)k->n, (size_t)k->cap, sizeof(*k->dom));
		if (!k->dom)
			return KP_ERR_NOMEM;
	}
	k->dom[k->n] = value;
	rc = kp_sched__strmap_put(&k->ix, r->a, value, k->n);
	if (rc)
		return rc;
	*out = r->s->keys[key].ndom + k->n++;
	return KP_OK;
}

const char *kp_sched__dom_name(const struct kp_sched__run *r, int key, int dom)
{
	int base = r->s->keys[key].ndom;
	return dom < base ? r->s->keys[key].dom[dom] : r->keys[key].dom[dom - base];
}

static int dom_name_cmp(void *ctx, int a, int b)
{
	const struct kp_sched__run *r = ((void **)ctx)[0];
	int key = *(int *)((void **)ctx)[1];
	return strcmp(kp_sched__dom_name(r, key, a), kp_sched__dom_name(r, key, b));
}

const int *kp_sched__key_sorted(struct kp_sched__run *r, int key, int *n)
{
	struct kp_sched__keyrun *k = &r->keys[key];
	int total = kp_sched__dom_total(r, key);

	if (k->nsorted != total || !k->sorted) {
		int *v = kp_arena_calloc(r->a, (size_t)total * 2 + 1, sizeof(int));
		void *ctx[2] = { r, &key };

		if (!v) {
			*n = 0;
			return NULL;
		}
		for (int i = 0; i < total; i++)
			v[i] = i;
		kp_sched__sort_ints(v, total, dom_name_cmp, ctx, v + total);
		k->sorted = v;
		k->nsorted = total;
	}
	*n = k->nsorted;
	return k->sorted;
}

static kp_err gs_grow(struct kp_sched__run *r, struct kp_sched__gstate *gs, int dom)
{
	int cap = gs->cap ? gs->cap : 8;
	int32_t *c;

	while (cap <= dom)
		cap *= 2;
	c = kp_arena_alloc(r->a, (size_t)cap * sizeof(*c));
	if (!c)
		return KP_ERR_NOMEM;
	if (gs->cap)
		memcpy(c, gs->cnt, (size_t)gs->cap * sizeof(*c));
	for (int i = gs->cap; i < cap; i++)
		c[i] = -1;
	gs->cnt = c;
	gs->cap = cap;
	return KP_OK;
}

kp_err kp_sched__gs_register(struct kp_sched__run *r, int g, int dom)
{
	struct kp_sched__gstate *gs = &r->gs[g];

	if (dom < 0)
		return KP_OK;
	if (dom >= gs->cap) {
		kp_err rc = gs_grow(r, gs, dom);
		if (rc)
			return rc;
	}
	if (gs->cnt[dom] < 0)
		gs->cnt[dom] = 0;
	return KP_OK;
}

kp_err kp_sched__gs_record(struct kp_sched__run *r, int g, int dom, int delta)
{
	struct kp_sched__gstate *gs = &r->gs[g];
	kp_err rc = kp_sched__gs_register(r, g, dom);

	if (rc || dom < 0)
		return rc;
	if (gs->cnt[dom] == 0 && delta > 0)
		gs->nonzero++;
	gs->cnt[dom] += delta;
	if (gs->cnt[dom] == 0 && delta < 0)
		gs->nonzero--;
	return KP_OK;
}

kp_err kp_sched__topo_register_host(struct kp_sched__run *r, int dom, int claim)
{
	if (r->host_key < 0 || dom < 0)
		return KP_OK;
	for (int i = 0; i < r->nactive; i++) {
		int g = r->active[i];
		struct kp_sched__gstate *gs = &r->gs[g];
		bool fresh;
		kp_err rc;

		if (r->s->groups[g]->key != r->host_key)
			continue;
		fresh = dom >= gs->cap || gs->cnt[dom] < 0;
		rc = kp_sched__gs_register(r, g, dom);
		if (rc)
			return rc;
		if (!fresh || r->s->groups[g]->type != KPS_ANTI)
			continue;
		if (gs->nzl == gs->capzl) {
			gs->capzl = gs->capzl ? gs->capzl * 2 : 64;
			gs->zl = kp_arena_grow(r->a, gs->zl, (size_t)gs->nzl, (size_t)gs->capzl, sizeof(int));
			if (!gs->zl)
				return KP_ERR_NOMEM;
		}
		gs->zl[gs->nzl++] = claim;
	}
	return KP_OK;
}

/* Drops claims whose hostname now holds a matching pod. */
static int zl_compact(struct kp_sched__run *r, struct kp_sched__gstate *gs)
{
	int w = 0;

	for (int i = 0; i < gs->nzl; i++) {
		int d = r->claims[gs->zl[i]]->dom_host;
		if (d >= 0 && d < gs->cap && gs->cnt[d] > 0)
			continue;
		gs->zl[w++] = gs->zl[i];
	}
	gs->nzl = w;
	return w;
}

static int try_order_cmp(void *ctx, int a, int b)
{
	const struct kp_sched__run *r = ctx;
	const struct kp_sched__claim *x = r->claims[a], *y = r->claims[b];

	if (x->npods != y->npods)
		return x->npods < y->npods ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int *kp_sched__topo_host_candidates(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v, int *n)
{
	struct kp_sched__gstate *best = NULL;
	int *out;

	if (r->host_key < 0 || r->nclaims < 64)
		return NULL;
	for (int i = 0; i < v->ngroups + r->ninv_active; i++) {
		int g = i < v->ngroups ? v->groups[i] : r->inv_active[i - v->ngroups];
		const struct kp_sched__group *grp = r->s->groups[g];
		struct kp_sched__gstate *gs = &r->gs[g];

		if (grp->type != KPS_ANTI || grp->key != r->host_key)
			continue;
		if (i >= v->ngroups && !kp_sched__class_selects(r->s, p->cls, g))
			continue;
		zl_compact(r, gs);
		if (!best || gs->nzl < best->nzl)
			best = gs;
	}
	/* a large candidate set is no cheaper than the plain walk */
	if (!best || best->nzl * 8 > r->nclaims)
		return NULL;
	out = kp_arena_calloc(r->scratch, (size_t)best->nzl * 2 + 1, sizeof(int));
	if (!out)
		return NULL;
	memcpy(out, best->zl, (size_t)best->nzl * sizeof(int));
	kp_sched__sort_ints(out, best->nzl, try_order_cmp, r, out + best->nzl);
	*n = best->nzl;
	return out;
}

/* ---- per-run init ---- */

static int ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const void *const *)a, y = (uintptr_t)*(const void *const *)b;
	return x < y ? -1 : x > y;
}

static bool ptr_in(const void *const *v, int n, const void *p)
{
	return n && bsearch(&p, v, (size_t)n, sizeof(*v), ptr_cmp) != NULL;
}

static bool node_removed(const struct kp_sched__run *r, int node)
{
	return r->removed && node >= 0 && r->removed[node];
}

kp_err kp_sched__topo_run_init(struct kp_sched__run *r, struct kp_errbuf *eb)
{
	struct kp_sched *s = r->s;
	const void **bound = NULL;
	int nbound = 0;
	bool *act;
	kp_err rc = KP_OK;

	(void)eb;
	r->host_key = s->host_key;
	r->zone_key = kp_sched__strmap_get(&s->key_ix, KP_LABEL_ZONE);
	if (r->zone_key >= 0) {
		const struct kp_sched__topokey *zk = &s->keys[r->zone_key];
		r->zbit = kp_arena_calloc(r->a, (size_t)zk->ndom + 1, sizeof(int));
		if (!r->zbit)
			return KP_ERR_NOMEM;
		for (int d = 0; d < zk->ndom; d++) {
			int z = kp_sched__strmap_get(&s->zone_ix, zk->dom[d]);
			r->zbit[d] = z >= 0 && z < 64 ? z : -1;
		}
	}
	r->keys = kp_arena_calloc(r->a, (size_t)s->nkeys + 1, sizeof(*r->keys));
	r->gs = kp_arena_calloc(r->a, (size_t)s->ngroups + 1, sizeof(*r->gs));
	act = kp_arena_calloc(r->a, (size_t)s->ngroups + 1, sizeof(*act));
	bound = kp_arena_calloc(r->a, (size_t)r->npods + 1, sizeof(*bound));
	if (!r->keys || !r->gs || !act || !bound)
		return KP_ERR_NOMEM;
	r->ngs = s->ngroups;
	r->nkeys = s->nkeys;

	/* the pods being placed: their groups exist; if bound to a node that
	 * stays, they leave the counts (Karpenter's excludedPods) */
	for (int i = 0; i < r->npods; i++) {
		const struct kp_sched__class *c = r->pods[i].cls;
		int node = kp_sched__node_index(s, r->pods[i].pod->node_name);

		for (int v = 0; v < c->nvar; v++)
			for (int j = 0; j < c->var[v].ngroups; j++)
				act[c->var[v].groups[j]] = true;
		for (int j = 0; j < c->ninv; j++)
			act[c->inv[j]] = true;
		if (node >= 0 && !node_removed(r, node))
			bound[nbound++] = r->pods[i].pod;
	}
	qsort(bound, (size_t)nbound, sizeof(*bound), ptr_cmp);
	for (int i = 0; i < s->ninv_exist; i++) {
		const struct kp_sched__group *g = s->groups[s->inv_exist[i]];
		for (int j = 0; j < g->ncontrib; j++) {
			const struct kp_sched__contrib *c = &g->contrib[j];
			if (!node_removed(r, c->node_idx) && !ptr_in((const void *const *)bound, nbound, c->owner)) {
				act[s->inv_exist[i]] = true;
				break;
			}
		}
	}
	r->active = kp_arena_calloc(r->a, (size_t)s->ngroups + 1, sizeof(int));
	r->inv_active = kp_arena_calloc(r->a, (size_t)s->ngroups + 1, sizeof(int));
	if (!r->active || !r->inv_active)
		return KP_ERR_NOMEM;
	for (int g = 0; g < s->ngroups; g++) {
		if (!act[g])
			continue;
		r->active[r->nactive++] = g;
		if (s->groups[g]->inverse)
			r->inv_active[r->ninv_active++] = g;
	}

	for (int i = 0; !rc && i < r->nactive; i++) {
		int gi = r->active[i];
		const struct kp_sched__group *g = s->groups[gi];
		const struct kp_sched__topokey *k = &s->keys[g->key];
		struct kp_sched__gstate *gs = &r->gs[gi];

		gs->active = true;
		rc = gs_grow(r, gs, k->ndom);
		for (int j = 0; !rc && j < g->nuni; j++)
			rc = kp_sched__gs_register(r, gi, g->uni[j]);
		for (int j = 0; !rc && j < g->ncontrib; j++) {
			const struct kp_sched__contrib *c = &g->contrib[j];

			if (node_removed(r, c->node_idx))
				continue;
			if (c->owner && ptr_in((const void *const *)bound, nbound, c->owner))
				continue;
			rc = kp_sched__gs_register(r, gi, c->reg_dom);
			if (!rc && c->count && c->dom >= 0)
				rc = kp_sched__gs_record(r, gi, c->dom, c->count);
		}
		/* ExistingNode registers every state node's hostname */
		for (int j = 0; !rc && k->hostname && j < s->nnodes; j++)
			if (!node_removed(r, s->nodes[j].node_idx))
				rc = kp_sched__gs_register(r, gi, k->slot_dom[j]);
		/* the pods being placed do not count where they are now */
		for (int j = 0; !rc && !g->inverse && j < nbound; j++) {
			const struct kp_pod *p = bound[j];
			int node = kp_sched__node_index(s, p->node_name);
			int d = pod_count_dom(s, g, p, node);
			if (d >= 0 && d < gs->cap && gs->cnt[d] > 0)
				rc = kp_sched__gs_record(r, gi, d, -1);
		}
	}
	return rc;
}

kp_err kp_sched__keycache(struct kp_sched__run *r, struct kp_arena *a, const struct kp_reqs *reqs, const struct kp_req ***kq)
{
	if (!*kq) {
		*kq = kp_arena_calloc(a, (size_t)r->nkeys + 1, sizeof(**kq));
		if (!*kq)
			return KP_ERR_NOMEM;
	}
	for (int k = 0; k < r->nkeys; k++)
		(*kq)[k] = kp_reqs_get(reqs, r->s->keys[k].key);
	return KP_OK;
}
