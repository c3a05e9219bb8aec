/*
 * pod.c - decodes a Pod's metadata and spec (also every workload's pod
 * template) into struct kp_pod.
 *
 * Follows the Kubernetes API types and the checks the API server applies to
 * the fields the scheduler reads: container resources (requests <= limits),
 * sidecars (init containers with restartPolicy Always), overhead, node
 * selector and node affinity (matchFields is rejected, as Karpenter cannot
 * schedule on fields), pod (anti-)affinity, tolerations, host ports of the
 * regular containers (as Karpenter's GetHostPorts), topology spread
 * constraints with their defaults (nodeAffinityPolicy Honor, nodeTaintsPolicy
 * Ignore), priority, the deletion-cost annotation, and the volumes backed by
 * claims (persistentVolumeClaim, ephemeral). p->requests is the
 * effective request (kp_pod_effective_requests) including spec.overhead; a
 * RuntimeClass overhead is added later by load.c.
 *
 * Arrays are sized exactly (cap == n) so a later insert into a pod copied
 * from a template reallocates instead of writing into shared storage.
 * Cost: O(size of the spec).
 */
#include <stdio.h>
#include <string.h>

#include "load/internal.h"

#define POD_DELETION_COST "controller.kubernetes.io/pod-deletion-cost"
#define MIRROR_ANNOTATION "kubernetes.io/config.mirror"

static kp_err nomem(struct kp_load_dec *d)
{
	return kp_load_fail(d, KP_ERR_NOMEM, "out of memory");
}

/* ---- containers ---- */

static kp_err load_port(struct kp_load_dec *d, const struct kp_load_node *m, struct kp_hostport *hp,
			bool *used)
{
	const char *proto = NULL;
	int64_t port = 0, cport = 0;
	char q[96];
	int pr;
	kp_err rc;

	*used = false;
	if (m->type != KP_LN_MAP)
		return kp_load_type_error(d, m, "a mapping");
	rc = kp_load_int(d, m, "containerPort", 0, 65535, &cport, NULL);
	if (!rc)
		rc = kp_load_int(d, m, "hostPort", 0, 65535, &port, NULL);
	if (!rc)
		rc = kp_load_strview(d, m, "protocol", &proto);
	if (rc)
		return rc;
	pr = kp_protocol_parse(proto ? proto : "");
	if (pr < 0)
		return kp_load_fail_at(d, "protocol", KP_ERR_INVALID,
				       "unknown protocol %s: want TCP, UDP or SCTP", kp_load_quote(proto, q, sizeof(q)));
	if (port == 0)
		return KP_OK;
	hp->port = (int)port;
	hp->protocol = pr;
	hp->ip = "0.0.0.0";
	rc = kp_load_str(d, m, "hostIP", &hp->ip);
	if (!rc && !*hp->ip)
		hp->ip = "0.0.0.0";
	*used = !rc;
	return rc;
}

static kp_err load_container(struct kp_load_dec *d, const struct kp_load_node *c,
			     struct kp_container_res *cr, bool init, struct kp_hostports *hp)
{
	const struct kp_load_node *res = NULL, *ports = NULL;
	uint32_t reqmask = 0, limmask = 0;
	const char *policy = NULL;
	size_t mark;
	kp_err rc;

	if (c->type != KP_LN_MAP)
		return kp_load_type_error(d, c, "a mapping");
	rc = kp_load_map(d, c, "resources", &res);
	if (rc)
		return rc;
	if (res) {
		mark = kp_load_push(d, "resources");
		rc = kp_load_reslist(d, res, "requests", &cr->requests, &reqmask, NULL, NULL, false);
		if (!rc)
			rc = kp_load_reslist(d, res, "limits", &cr->limits, &limmask, NULL, NULL, false);
		for (int i = 0; !rc && i < KP_RES_MAX; i++) {
			if (!(reqmask & limmask & (1u << i)) || cr->requests.v[i] <= cr->limits.v[i])
				continue;
			size_t m2 = kp_load_push(d, "requests");
			kp_load_push(d, d->c->resnames.name[i]);
			char rq[40], lm[40];
			kp_qty_format(cr->requests.v[i], kp_res_scale(i), kp_res_style(&d->c->resnames, i),
				      rq, sizeof(rq));
			kp_qty_format(cr->limits.v[i], kp_res_scale(i), kp_res_style(&d->c->resnames, i),
				      lm, sizeof(lm));
			rc = kp_load_fail(d, KP_ERR_INVALID, "request %s exceeds the limit %s", rq, lm);
			kp_load_pop(d, m2);
		}
		kp_load_pop(d, mark);
		if (rc)
			return rc;
	}
	if (init) {
		rc = kp_load_strview(d, c, "restartPolicy", &policy);
		if (rc)
			return rc;
		if (policy && strcmp(policy, "Always") != 0) {
			char q[96];
			return kp_load_fail_at(d, "restartPolicy", KP_ERR_INVALID,
					       "unsupported restartPolicy %s for an init container: only \"Always\" (a sidecar) is allowed",
					       kp_load_quote(policy, q, sizeof(q)));
		}
		cr->restartable = policy != NULL;
		return KP_OK;
	}
	rc = kp_load_seq(d, c, "ports", &ports);
	if (rc || !ports)
		return rc;
	mark = kp_load_push(d, "ports");
	for (uint32_t i = 0; i < ports->n && !rc; i++) {
		size_t m2 = kp_load_pushi(d, i);
		bool used;
		rc = load_port(d, ports->u.items[i], &hp->p[hp->n], &used);
		if (!rc && used)
			hp->n++;
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	return rc;
}

static uint32_t count_ports(const struct kp_load_node *containers)
{
	uint32_t n = 0;

	for (uint32_t i = 0; containers && i < containers->n; i++) {
		const struct kp_load_node *ports = kp_load_get(containers->u.items[i], "ports");
		if (ports && ports->type == KP_LN_SEQ)
			n += ports->n;
	}
	return n;
}

static kp_err load_containers(struct kp_load_dec *d, const struct kp_load_node *spec, struct kp_pod *p,
			      const struct kp_res *overhead)
{
	const struct kp_load_node *cs = NULL, *ics = NULL;
	struct kp_container_res *c = NULL, *ic = NULL, *lc, *lic;
	uint32_t nports;
	kp_err rc;

	rc = kp_load_seq(d, spec, "containers", &cs);
	if (!rc)
		rc = kp_load_seq(d, spec, "initContainers", &ics);
	if (rc)
		return rc;
	if (!cs || cs->n == 0)
		return kp_load_fail_at(d, "containers", KP_ERR_INVALID, "a pod needs at least one container");
	c = kp_arena_calloc(d->tmp, cs->n, sizeof(*c));
	lc = kp_arena_calloc(d->tmp, cs->n, sizeof(*lc));
	ic = kp_arena_calloc(d->tmp, ics && ics->n ? ics->n : 1, sizeof(*ic));
	lic = kp_arena_calloc(d->tmp, ics && ics->n ? ics->n : 1, sizeof(*lic));
	if (!c || !lc || !ic || !lic)
		return nomem(d);
	nports = count_ports(cs);
	if (nports) {
		p->host_ports.p = kp_arena_calloc(d->a, nports, sizeof(*p->host_ports.p));
		if (!p->host_ports.p)
			return nomem(d);
	}
	for (int pass = 0; pass < 2; pass++) {
		const struct kp_load_node *list = pass ? ics : cs;
		size_t mark;

		if (!list)
			continue;
		mark = kp_load_push(d, pass ? "initContainers" : "containers");
		for (uint32_t i = 0; i < list->n && !rc; i++) {
			size_t m2 = kp_load_pushi(d, i);
			rc = load_container(d, list->u.items[i], pass ? &ic[i] : &c[i], pass, &p->host_ports);
			kp_load_pop(d, m2);
		}
		kp_load_pop(d, mark);
		if (rc)
			return rc;
	}
	p->host_ports.cap = p->host_ports.n;
	if (!kp_pod_effective_requests(c, (int)cs->n, ic, ics ? (int)ics->n : 0, overhead, &p->requests))
		return kp_load_fail(d, KP_ERR_RANGE, "resource requests overflow");
	/* Limits the same way (a limit stands for itself), overhead only on
	 * resources that have a limit, as the kubelet computes pod limits. */
	for (uint32_t i = 0; i < cs->n; i++) {
		lc[i] = c[i];
		lc[i].requests = c[i].limits;
	}
	for (uint32_t i = 0; ics && i < ics->n; i++) {
		lic[i] = ic[i];
		lic[i].requests = ic[i].limits;
	}
	if (!kp_pod_effective_requests(lc, (int)cs->n, lic, ics ? (int)ics->n : 0, NULL, &p->limits))
		return kp_load_fail(d, KP_ERR_RANGE, "resource limits overflow");
	for (int i = 0; overhead && i < KP_RES_MAX; i++)
		if (p->limits.v[i] && !kp_i64_add(p->limits.v[i], overhead->v[i], &p->limits.v[i]))
			return kp_load_fail(d, KP_ERR_RANGE, "resource limits overflow");
	return KP_OK;
}

/* ---- node affinity ---- */

static bool int_text(const char *s)
{
	int64_t v;
	return kp_parse_i64(s, &v) == KP_OK;
}

static kp_err load_node_req(struct kp_load_dec *d, const struct kp_load_node *m, struct kp_reqs *reqs)
{
	const char *key = NULL, *op = NULL, **values = NULL;
	struct kp_errbuf why;
	struct kp_req r;
	char q[96];
	int o, n = 0;
	kp_err rc;

	if (m->type != KP_LN_MAP)
		return kp_load_type_error(d, m, "a mapping");
	rc = kp_load_strview(d, m, "key", &key);
	if (!rc)
		rc = kp_load_strview(d, m, "operator", &op);
	if (!rc)
		rc = kp_load_strviews(d, m, "values", &values, &n);
	if (rc)
		return rc;
	if (!key || !*key)
		return kp_load_fail_at(d, "key", KP_ERR_INVALID, "required field is missing");
	if (!kp_label_key_valid(key, &why))
		return kp_load_fail_at(d, "key", KP_ERR_INVALID, "invalid label key: %s", why.msg);
	if (!op)
		return kp_load_fail_at(d, "operator", KP_ERR_INVALID, "required field is missing");
	o = kp_op_parse(op);
	if (o < 0)
		return kp_load_fail_at(d, "operator", KP_ERR_INVALID, "unknown operator %s",
				       kp_load_quote(op, q, sizeof(q)));
	switch (o) {
	case KP_OP_IN:
	case KP_OP_NOTIN:
		if (n == 0)
			return kp_load_fail_at(d, "values", KP_ERR_INVALID,
					       "operator %s needs at least one value", op);
		break;
	case KP_OP_EXISTS:
	case KP_OP_DOESNOTEXIST:
		if (n != 0)
			return kp_load_fail_at(d, "values", KP_ERR_INVALID, "operator %s takes no values", op);
		break;
	default:
		if (n != 1 || !int_text(values[0]))
			return kp_load_fail_at(d, "values", KP_ERR_INVALID,
					       "operator %s needs exactly one integer value", op);
		break;
	}
	memset(&r, 0, sizeof(r));
	rc = kp_req_make(&r, d->a, key, (enum kp_op)o, values, n, 0, d->eb);
	if (!rc)
		rc = kp_reqs_add(reqs, d->a, &r);
	return rc ? kp_load_wrap(d, rc) : KP_OK;
}

kp_err kp_load_node_reqs(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			 struct kp_reqs *reqs)
{
	const struct kp_load_node *seq;
	kp_err rc = kp_load_seq(d, m, key, &seq);
	size_t mark;

	if (rc || !seq)
		return rc;
	mark = kp_load_push(d, key);
	for (uint32_t i = 0; i < seq->n && !rc; i++) {
		size_t m2 = kp_load_pushi(d, i);
		rc = load_node_req(d, seq->u.items[i], reqs);
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	return rc;
}

static kp_err load_term(struct kp_load_dec *d, const struct kp_load_node *t, struct kp_reqs *reqs)
{
	const struct kp_load_node *fields;
	kp_err rc;

	if (t->type != KP_LN_MAP)
		return kp_load_type_error(d, t, "a mapping");
	rc = kp_load_seq(d, t, "matchFields", &fields);
	if (rc)
		return rc;
	if (fields && fields->n)
		return kp_load_fail_at(d, "matchFields", KP_ERR_INVALID, "matchFields is not supported");
	kp_reqs_init(reqs);
	return kp_load_node_reqs(d, t, "matchExpressions", reqs);
}

static kp_err load_node_affinity(struct kp_load_dec *d, const struct kp_load_node *na, struct kp_pod *p)
{
	const struct kp_load_node *req, *terms = NULL, *pref;
	size_t mark;
	kp_err rc;

	rc = kp_load_map(d, na, "requiredDuringSchedulingIgnoredDuringExecution", &req);
	if (!rc && req)
		rc = kp_load_seq(d, req, "nodeSelectorTerms", &terms);
	if (rc)
		return rc;
	if (req) {
		mark = kp_load_push(d, "requiredDuringSchedulingIgnoredDuringExecution");
		if (!terms || terms->n == 0) {
			rc = kp_load_fail_at(d, "nodeSelectorTerms", KP_ERR_INVALID,
					     "at least one node selector term is required");
		} else {
			p->required_terms = kp_arena_calloc(d->a, terms->n, sizeof(*p->required_terms));
			if (!p->required_terms)
				rc = nomem(d);
			kp_load_push(d, "nodeSelectorTerms");
			for (uint32_t i = 0; !rc && i < terms->n; i++) {
				size_t m2 = kp_load_pushi(d, i);
				rc = load_term(d, terms->u.items[i], &p->required_terms[i].reqs);
				kp_load_pop(d, m2);
			}
			if (!rc)
				p->nrequired_terms = (int)terms->n;
		}
		kp_load_pop(d, mark);
		if (rc)
			return rc;
	}
	rc = kp_load_seq(d, na, "preferredDuringSchedulingIgnoredDuringExecution", &pref);
	if (rc || !pref || pref->n == 0)
		return rc;
	p->preferred_terms = kp_arena_calloc(d->a, pref->n, sizeof(*p->preferred_terms));
	if (!p->preferred_terms)
		return nomem(d);
	mark = kp_load_push(d, "preferredDuringSchedulingIgnoredDuringExecution");
	for (uint32_t i = 0; !rc && i < pref->n; i++) {
		const struct kp_load_node *it = pref->u.items[i], *pt = NULL;
		struct kp_preferred_term *out = &p->preferred_terms[i];
		size_t m2 = kp_load_pushi(d, i);
		int64_t w = 0;
		bool has_w;

		if (it->type != KP_LN_MAP)
			rc = kp_load_type_error(d, it, "a mapping");
		if (!rc)
			rc = kp_load_int(d, it, "weight", 1, 100, &w, &has_w);
		if (!rc && !has_w)
			rc = kp_load_fail_at(d, "weight", KP_ERR_INVALID, "required field is missing");
		if (!rc)
			rc = kp_load_map(d, it, "preference", &pt);
		if (!rc && !pt)
			rc = kp_load_fail_at(d, "preference", KP_ERR_INVALID, "required field is missing");
		if (!rc) {
			size_t m3 = kp_load_push(d, "preference");
			out->weight = (int)w;
			rc = load_term(d, pt, &out->reqs);
			kp_load_pop(d, m3);
		}
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	if (!rc)
		p->npreferred_terms = (int)pref->n;
	return rc;
}

/* ---- pod affinity ---- */

static kp_err load_affinity_term(struct kp_load_dec *d, const struct kp_load_node *t,
				 struct kp_pod_affinity_term *out)
{
	const char *tk = NULL;
	kp_err rc;

	if (t->type != KP_LN_MAP)
		return kp_load_type_error(d, t, "a mapping");
	rc = kp_load_selector(d, t, "labelSelector", &out->selector);
	if (!rc)
		rc = kp_load_strlist(d, t, "namespaces", &out->namespaces, &out->nnamespaces);
	if (!rc)
		rc = kp_load_selector(d, t, "namespaceSelector", &out->ns_selector);
	if (!rc)
		rc = kp_load_strlist(d, t, "matchLabelKeys", &out->match_label_keys, &out->nmatch_label_keys);
	if (!rc)
		rc = kp_load_strlist(d, t, "mismatchLabelKeys", &out->mismatch_label_keys,
				     &out->nmismatch_label_keys);
	if (!rc)
		rc = kp_load_str_req(d, t, "topologyKey", &tk);
	if (!rc)
		out->topology_key = tk;
	return rc;
}

static kp_err load_affinity_list(struct kp_load_dec *d, const struct kp_load_node *pa, bool preferred,
				 struct kp_pod_affinity_term **out, int *nout)
{
	const char *key = preferred ? "preferredDuringSchedulingIgnoredDuringExecution"
				    : "requiredDuringSchedulingIgnoredDuringExecution";
	const struct kp_load_node *seq;
	struct kp_pod_affinity_term *terms;
	size_t mark;
	kp_err rc = kp_load_seq(d, pa, key, &seq);

	if (rc || !seq || seq->n == 0)
		return rc;
	terms = kp_arena_calloc(d->a, seq->n, sizeof(*terms));
	if (!terms)
		return nomem(d);
	mark = kp_load_push(d, key);
	for (uint32_t i = 0; !rc && i < seq->n; i++) {
		const struct kp_load_node *it = seq->u.items[i], *pt = NULL;
		size_t m2 = kp_load_pushi(d, i);

		if (!preferred) {
			rc = load_affinity_term(d, it, &terms[i]);
		} else {
			int64_t w = 0;
			bool has_w;

			if (it->type != KP_LN_MAP)
				rc = kp_load_type_error(d, it, "a mapping");
			if (!rc)
				rc = kp_load_int(d, it, "weight", 1, 100, &w, &has_w);
			if (!rc && !has_w)
				rc = kp_load_fail_at(d, "weight", KP_ERR_INVALID, "required field is missing");
			if (!rc)
				rc = kp_load_map(d, it, "podAffinityTerm", &pt);
			if (!rc && !pt)
				rc = kp_load_fail_at(d, "podAffinityTerm", KP_ERR_INVALID,
						     "required field is missing");
			if (!rc) {
				size_t m3 = kp_load_push(d, "podAffinityTerm");
				rc = load_affinity_term(d, pt, &terms[i]);
				terms[i].weight = (int)w;
				kp_load_pop(d, m3);
			}
		}
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	if (!rc) {
		*out = terms;
		*nout = (int)seq->n;
	}
	return rc;
}

static kp_err load_affinity(struct kp_load_dec *d, const struct kp_load_node *aff, struct kp_pod *p)
{
	const struct kp_load_node *na, *pa, *paa;
	size_t mark;
	kp_err rc;

	rc = kp_load_map(d, aff, "nodeAffinity", &na);
	if (!rc)
		rc = kp_load_map(d, aff, "podAffinity", &pa);
	if (!rc)
		rc = kp_load_map(d, aff, "podAntiAffinity", &paa);
	if (rc)
		return rc;
	if (na) {
		mark = kp_load_push(d, "nodeAffinity");
		rc = load_node_affinity(d, na, p);
		kp_load_pop(d, mark);
	}
	if (!rc && pa) {
		mark = kp_load_push(d, "podAffinity");
		rc = load_affinity_list(d, pa, false, &p->affinity, &p->naffinity);
		if (!rc)
			rc = load_affinity_list(d, pa, true, &p->pref_affinity, &p->npref_affinity);
		kp_load_pop(d, mark);
	}
	if (!rc && paa) {
		mark = kp_load_push(d, "podAntiAffinity");
		rc = load_affinity_list(d, paa, false, &p->anti, &p->nanti);
		if (!rc)
			rc = load_affinity_list(d, paa, true, &p->pref_anti, &p->npref_anti);
		kp_load_pop(d, mark);
	}
	return rc;
}

/* ---- tolerations ---- */

static kp_err load_toleration(struct kp_load_dec *d, const struct kp_load_node *m, struct kp_toleration *t)
{
	const char *op = NULL, *effect = NULL;
	bool has_secs;
	char q[96];
	int o, e;
	kp_err rc;

	if (m->type != KP_LN_MAP)
		return kp_load_type_error(d, m, "a mapping");
	rc = kp_load_str(d, m, "key", &t->key);
	if (!rc)
		rc = kp_load_strview(d, m, "operator", &op);
	if (!rc)
		rc = kp_load_str(d, m, "value", &t->value);
	if (!rc)
		rc = kp_load_strview(d, m, "effect", &effect);
	if (!rc)
		rc = kp_load_int(d, m, "tolerationSeconds", INT64_MIN, INT64_MAX, &t->seconds, &has_secs);
	if (rc)
		return rc;
	o = kp_tol_op_parse(op ? op : "");
	if (o < 0)
		return kp_load_fail_at(d, "operator", KP_ERR_INVALID,
				       "unknown toleration operator %s: want Equal or Exists",
				       kp_load_quote(op, q, sizeof(q)));
	t->op = (enum kp_tol_op)o;
	e = kp_effect_parse(effect ? effect : "", true);
	if (e < 0)
		return kp_load_fail_at(d, "effect", KP_ERR_INVALID,
				       "unknown taint effect %s: want NoSchedule, PreferNoSchedule or NoExecute",
				       kp_load_quote(effect, q, sizeof(q)));
	t->effect = (enum kp_effect)e;
	if ((!t->key || !*t->key) && t->op != KP_TOL_EXISTS)
		return kp_load_fail_at(d, "operator", KP_ERR_INVALID,
				       "operator must be Exists when key is empty");
	if (t->op == KP_TOL_EXISTS && t->value && *t->value)
		return kp_load_fail_at(d, "value", KP_ERR_INVALID,
				       "value must be empty when operator is Exists");
	if (has_secs && t->effect != KP_EFFECT_NOEXECUTE)
		return kp_load_fail_at(d, "tolerationSeconds", KP_ERR_INVALID,
				       "only allowed with effect NoExecute");
	t->has_seconds = has_secs;
	return KP_OK;
}

static kp_err load_tolerations(struct kp_load_dec *d, const struct kp_load_node *spec, struct kp_pod *p)
{
	const struct kp_load_node *seq;
	size_t mark;
	kp_err rc = kp_load_seq(d, spec, "tolerations", &seq);

	if (rc || !seq || seq->n == 0)
		return rc;
	p->tolerations.t = kp_arena_calloc(d->a, seq->n, sizeof(*p->tolerations.t));
	if (!p->tolerations.t)
		return nomem(d);
	mark = kp_load_push(d, "tolerations");
	for (uint32_t i = 0; !rc && i < seq->n; i++) {
		size_t m2 = kp_load_pushi(d, i);
		rc = load_toleration(d, seq->u.items[i], &p->tolerations.t[i]);
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	if (!rc)
		p->tolerations.n = (int)seq->n;
	return rc;
}

/* ---- topology spread ---- */

static kp_err load_policy(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			  enum kp_inclusion_policy *out)
{
	const char *s = NULL;
	char q[96];
	kp_err rc = kp_load_strview(d, m, key, &s);

	if (rc || !s)
		return rc;
	if (strcmp(s, "Honor") == 0)
		*out = KP_POLICY_HONOR;
	else if (strcmp(s, "Ignore") == 0)
		*out = KP_POLICY_IGNORE;
	else
		return kp_load_fail_at(d, key, KP_ERR_INVALID, "unknown %s %s: want Honor or Ignore", key,
				       kp_load_quote(s, q, sizeof(q)));
	return KP_OK;
}

static kp_err load_tsc(struct kp_load_dec *d, const struct kp_load_node *m, struct kp_tsc *t)
{
	const char *when = NULL;
	int64_t skew = 0, mind = 0;
	bool has_skew, has_min;
	char q[96];
	kp_err rc;

	if (m->type != KP_LN_MAP)
		return kp_load_type_error(d, m, "a mapping");
	t->node_affinity_policy = KP_POLICY_HONOR;
	t->node_taints_policy = KP_POLICY_IGNORE;
	rc = kp_load_int(d, m, "maxSkew", 1, INT32_MAX, &skew, &has_skew);
	if (!rc && !has_skew)
		rc = kp_load_fail_at(d, "maxSkew", KP_ERR_INVALID, "required field is missing");
	if (!rc)
		rc = kp_load_str_req(d, m, "topologyKey", &t->topology_key);
	if (!rc)
		rc = kp_load_strview(d, m, "whenUnsatisfiable", &when);
	if (!rc)
		rc = kp_load_selector(d, m, "labelSelector", &t->selector);
	if (!rc)
		rc = kp_load_int(d, m, "minDomains", 1, INT32_MAX, &mind, &has_min);
	if (!rc)
		rc = kp_load_strlist(d, m, "matchLabelKeys", &t->match_label_keys, &t->nmatch_label_keys);
	if (!rc)
		rc = load_policy(d, m, "nodeAffinityPolicy", &t->node_affinity_policy);
	if (!rc)
		rc = load_policy(d, m, "nodeTaintsPolicy", &t->node_taints_policy);
	if (rc)
		return rc;
	if (!when)
		return kp_load_fail_at(d, "whenUnsatisfiable", KP_ERR_INVALID, "required field is missing");
	if (strcmp(when, "DoNotSchedule") == 0)
		t->when_unsatisfiable = KP_DO_NOT_SCHEDULE;
	else if (strcmp(when, "ScheduleAnyway") == 0)
		t->when_unsatisfiable = KP_SCHEDULE_ANYWAY;
	else
		return kp_load_fail_at(d, "whenUnsatisfiable", KP_ERR_INVALID,
				       "unknown whenUnsatisfiable %s: want DoNotSchedule or ScheduleAnyway",
				       kp_load_quote(when, q, sizeof(q)));
	if (has_min && t->when_unsatisfiable != KP_DO_NOT_SCHEDULE)
		return kp_load_fail_at(d, "minDomains", KP_ERR_INVALID,
				       "only allowed with whenUnsatisfiable DoNotSchedule");
	t->max_skew = (int)skew;
	t->min_domains = has_min ? (int)mind : 0;
	return KP_OK;
}

static kp_err load_tscs(struct kp_load_dec *d, const struct kp_load_node *spec, struct kp_pod *p)
{
	const struct kp_load_node *seq;
	size_t mark;
	kp_err rc = kp_load_seq(d, spec, "topologySpreadConstraints", &seq);

	if (rc || !seq || seq->n == 0)
		return rc;
	p->tsc = kp_arena_calloc(d->a, seq->n, sizeof(*p->tsc));
	if (!p->tsc)
		return nomem(d);
	mark = kp_load_push(d, "topologySpreadConstraints");
	for (uint32_t i = 0; !rc && i < seq->n; i++) {
		size_t m2 = kp_load_pushi(d, i);
		rc = load_tsc(d, seq->u.items[i], &p->tsc[i]);
		for (uint32_t j = 0; !rc && j < i; j++) {
			if (strcmp(p->tsc[j].topology_key, p->tsc[i].topology_key) == 0 &&
			    p->tsc[j].when_unsatisfiable == p->tsc[i].when_unsatisfiable)
				rc = kp_load_fail(d, KP_ERR_INVALID,
						  "duplicate topologyKey and whenUnsatisfiable (same as [%u])", j);
		}
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	if (!rc)
		p->ntsc = (int)seq->n;
	return rc;
}

/* ---- metadata ---- */

static kp_err load_owners(struct kp_load_dec *d, const struct kp_load_node *meta, struct kp_pod *p)
{
	const struct kp_load_node *seq;
	size_t mark;
	kp_err rc = kp_load_seq(d, meta, "ownerReferences", &seq);

	if (rc || !seq)
		return rc;
	mark = kp_load_push(d, "ownerReferences");
	for (uint32_t i = 0; !rc && i < seq->n; i++) {
		const struct kp_load_node *o = seq->u.items[i];
		const char *kind = NULL, *name = NULL;
		bool ctl = false;
		size_t m2 = kp_load_pushi(d, i);

		if (o->type != KP_LN_MAP)
			rc = kp_load_type_error(d, o, "a mapping");
		if (!rc)
			rc = kp_load_str_req(d, o, "kind", &kind);
		if (!rc)
			rc = kp_load_str_req(d, o, "name", &name);
		if (!rc)
			rc = kp_load_bool(d, o, "controller", &ctl, NULL);
		kp_load_pop(d, m2);
		if (rc)
			break;
		if (strcmp(kind, "DaemonSet") == 0)
			p->is_daemon = true;
		if (ctl || !p->owner_kind) {
			p->owner_kind = kind;
			p->owner_name = name;
		}
	}
	kp_load_pop(d, mark);
	return rc;
}

static kp_err load_annotations(struct kp_load_dec *d, const struct kp_load_node *meta, struct kp_pod *p)
{
	const char *cost;
	kp_err rc = kp_load_labels(d, meta, "annotations", &p->annotations, false, false);

	if (rc)
		return rc;
	p->annotations.cap = p->annotations.n;
	p->is_mirror = p->is_mirror || kp_labels_has(&p->annotations, MIRROR_ANNOTATION);
	cost = kp_labels_get(&p->annotations, POD_DELETION_COST);
	if (cost) {
		int64_t v;
		char q[96];
		if (kp_parse_i64(cost, &v) || v < INT32_MIN || v > INT32_MAX) {
			size_t m = kp_load_push(d, "annotations");
			kp_load_push(d, POD_DELETION_COST);
			rc = kp_load_fail(d, KP_ERR_INVALID, "must be a 32-bit integer, got %s",
					  kp_load_quote(cost, q, sizeof(q)));
			kp_load_pop(d, m);
			return rc;
		}
		p->deletion_cost = v;
	}
	return KP_OK;
}

/* ---- the pod ---- */

/* ---- volumes backed by claims (Karpenter's volumetopology.go inputs) ---- */

static kp_err load_volumes(struct kp_load_dec *d, const struct kp_load_node *spec, struct kp_pod *p)
{
	const struct kp_load_node *seq;
	kp_err rc = kp_load_seq(d, spec, "volumes", &seq);
	size_t mark;

	if (rc || !seq || seq->n == 0)
		return rc;
	p->volumes = kp_arena_calloc(d->a, seq->n, sizeof(*p->volumes));
	if (!p->volumes)
		return nomem(d);
	mark = kp_load_push(d, "volumes");
	for (uint32_t i = 0; i < seq->n && !rc; i++) {
		const struct kp_load_node *v = seq->u.items[i], *pvc = NULL, *eph = NULL, *tpl = NULL, *tspec = NULL;
		struct kp_pod_volume *pv = &p->volumes[p->nvolumes];
		size_t m2 = kp_load_pushi(d, i);

		if (v->type != KP_LN_MAP)
			rc = kp_load_type_error(d, v, "a mapping");
		if (!rc)
			rc = kp_load_str(d, v, "name", &pv->name);
		if (!rc)
			rc = kp_load_map(d, v, "persistentVolumeClaim", &pvc);
		if (!rc)
			rc = kp_load_map(d, v, "ephemeral", &eph);
		if (!rc && pvc) {
			size_t m3 = kp_load_push(d, "persistentVolumeClaim");
			rc = kp_load_str(d, pvc, "claimName", &pv->claim);
			if (!rc && (!pv->claim || !*pv->claim))
				rc = kp_load_fail_at(d, "claimName", KP_ERR_INVALID, "required field is missing");
			kp_load_pop(d, m3);
			if (!rc)
				p->nvolumes++;
		} else if (!rc && eph) {
			size_t m3 = kp_load_push(d, "ephemeral");
			if (!pv->name || !*pv->name)
				rc = kp_load_fail(d, KP_ERR_INVALID, "an ephemeral volume needs a name");
			if (!rc)
				rc = kp_load_map(d, eph, "volumeClaimTemplate", &tpl);
			if (!rc && tpl) {
				size_t m4 = kp_load_push(d, "volumeClaimTemplate");
				rc = kp_load_map(d, tpl, "spec", &tspec);
				if (!rc && tspec) {
					size_t m5 = kp_load_push(d, "spec");
					rc = kp_load_str(d, tspec, "storageClassName", &pv->template_sc);
					kp_load_pop(d, m5);
				}
				kp_load_pop(d, m4);
			}
			kp_load_pop(d, m3);
			pv->ephemeral = true;
			if (!rc)
				p->nvolumes++;
		}
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	return rc;
}

static kp_err load_spec(struct kp_load_dec *d, const struct kp_load_node *spec, struct kp_pod *p,
			struct kp_load_podref *ref)
{
	const struct kp_load_node *aff;
	struct kp_res overhead;
	uint32_t omask = 0;
	int64_t prio = 0, grace = 30;
	bool has_prio;
	kp_err rc;

	kp_res_zero(&overhead);
	rc = kp_load_reslist(d, spec, "overhead", &overhead, &omask, NULL, NULL, false);
	if (!rc)
		rc = kp_load_str(d, spec, "runtimeClassName", &ref->runtime_class);
	if (rc)
		return rc;
	ref->has_overhead = kp_load_get(spec, "overhead") != NULL;
	rc = load_containers(d, spec, p, ref->has_overhead ? &overhead : NULL);
	if (!rc)
		rc = kp_load_labels(d, spec, "nodeSelector", &p->node_selector, true, false);
	if (!rc)
		rc = kp_load_map(d, spec, "affinity", &aff);
	if (!rc && aff) {
		size_t mark = kp_load_push(d, "affinity");
		rc = load_affinity(d, aff, p);
		kp_load_pop(d, mark);
	}
	if (!rc)
		rc = load_tolerations(d, spec, p);
	if (!rc)
		rc = load_tscs(d, spec, p);
	if (!rc)
		rc = load_volumes(d, spec, p);
	if (!rc)
		rc = kp_load_int(d, spec, "priority", INT32_MIN, INT32_MAX, &prio, &has_prio);
	if (!rc)
		rc = kp_load_str(d, spec, "priorityClassName", &p->priority_class);
	if (!rc)
		rc = kp_load_int(d, spec, "terminationGracePeriodSeconds", 0, INT64_MAX, &grace, NULL);
	if (!rc)
		rc = kp_load_str(d, spec, "nodeName", &p->node_name);
	if (rc)
		return rc;
	if (p->node_name && !*p->node_name)
		p->node_name = NULL;
	p->node_selector.cap = p->node_selector.n;
	p->priority = (int32_t)prio;
	p->termination_grace_s = grace;
	return KP_OK;
}

kp_err kp_load_pod(struct kp_load_dec *d, const struct kp_load_node *meta,
		   const struct kp_load_node *spec, struct kp_pod *p, struct kp_load_podref *ref,
		   bool is_template)
{
	size_t mark;
	kp_err rc = KP_OK;

	memset(ref, 0, sizeof(*ref));
	p->termination_grace_s = 30;
	if (meta) {
		mark = kp_load_push(d, "metadata");
		rc = kp_load_labels(d, meta, "labels", &p->labels, false, true);
		p->labels.cap = p->labels.n;
		if (!rc)
			rc = load_annotations(d, meta, p);
		if (!rc && !is_template) {
			rc = kp_load_str(d, meta, "uid", &p->uid);
			if (!rc)
				rc = kp_load_time(d, meta, "creationTimestamp", &p->created, NULL);
			if (!rc)
				rc = kp_load_time(d, meta, "deletionTimestamp", &p->deleting, NULL);
			if (!rc)
				rc = load_owners(d, meta, p);
		}
		kp_load_pop(d, mark);
		if (rc)
			return rc;
	}
	if (!spec)
		return kp_load_fail_at(d, "spec", KP_ERR_INVALID, "required field is missing");
	mark = kp_load_push(d, "spec");
	rc = load_spec(d, spec, p, ref);
	kp_load_pop(d, mark);
	return rc;
}
