/*
 * nodepool.c - decodes a NodePool (karpenter.sh/v1 and v1beta1) with the
 * validation its CRD applies, and computes its drift hash.
 *
 * v1: spec.template.{metadata.{labels,annotations}, spec.{requirements,
 * taints, startupTaints, nodeClassRef{group,kind,name}, expireAfter (default
 * 720h), terminationGracePeriod}}, spec.disruption.{consolidationPolicy
 * (default WhenEmptyOrUnderutilized), consolidateAfter (default 0s), budgets
 * (default [{nodes: 10%}])}, spec.limits, spec.weight.
 *
 * v1beta1 is read as Karpenter's conversion webhook turns it into v1:
 * WhenUnderutilized becomes WhenEmptyOrUnderutilized with consolidateAfter 0s;
 * disruption.expireAfter (default 720h) becomes expire_after_ms with
 * v1beta1_expiry set; nodeClassRef{apiVersion,kind,name} takes its group from
 * apiVersion (default karpenter.k8s.aws, kind EC2NodeClass); kubelet.maxPods
 * is kept; budgets have no reasons; the CEL rules of that CRD apply
 * (consolidateAfter required with WhenEmpty, refused with WhenUnderutilized).
 *
 * Drift hash: FNV-1a 64 over a canonical serialization of the decoded
 * template without its requirements (Karpenter tags requirements
 * hash:"ignore"): labels and annotations in key order, taints and startup
 * taints each sorted (lists are hashed as sets), nodeClassRef, expireAfter and
 * terminationGracePeriod after defaulting, and for v1beta1 kubelet.maxPods.
 * Each field is tagged and length-delimited, so the hash changes exactly when
 * one of those values does; formatting, key order and unknown fields do not
 * matter. Printed as 16 lower-case hex digits. It is not Karpenter's
 * hashstructure value and only compares with hashes computed here.
 *
 * Budget schedules are checked with kp_cron_parse (src/model/cron.c), the
 * parser that later evaluates them, after the CRD's own restrictions (no
 * @every, no time zone).
 *
 * Cost: O(size of the object); the cron check is linear in the schedule.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "karpenter/disrupt.h"
#include "load/internal.h"

#define DEFAULT_EXPIRE_MS (720LL * 3600 * 1000)

static kp_err nomem(struct kp_load_dec *d)
{
	return kp_load_fail(d, KP_ERR_NOMEM, "out of memory");
}

/* ---- label restrictions (the CRDs' CEL rules) ---- */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Reason key is refused in a NodePool's labels or requirement keys, or NULL. */
static const char *restricted(const char *key, bool v1beta1, bool requirement)
{
	static const char *const beta_ok[] = {
		"beta.kubernetes.io/instance-type", "failure-domain.beta.kubernetes.io/region",
		"beta.kubernetes.io/os", "beta.kubernetes.io/arch",
		"failure-domain.beta.kubernetes.io/zone", "topology.kubernetes.io/zone",
		"topology.kubernetes.io/region", "kubernetes.io/arch", "kubernetes.io/os",
		"node.kubernetes.io/windows-build", NULL,
	};
	const char *slash = strchr(key, '/');
	size_t dn = slash ? (size_t)(slash - key) : strlen(key);

	if (v1beta1 && ends_with(key, dn, "kubernetes.io") && !ends_with(key, dn, "node.kubernetes.io") &&
	    !ends_with(key, dn, "node-restriction.kubernetes.io")) {
		bool ok = requirement && strcmp(key, KP_LABEL_INSTANCE_TYPE) == 0;
		for (int i = 0; beta_ok[i] && !ok; i++)
			ok = strcmp(key, beta_ok[i]) == 0;
		if (!ok)
			return "label domain \"kubernetes.io\" is restricted";
	}
	if (v1beta1 && ends_with(key, dn, "k8s.io") && !ends_with(key, dn, "kops.k8s.io"))
		return "label domain \"k8s.io\" is restricted";
	if (ends_with(key, dn, "karpenter.sh") && strcmp(key, KP_LABEL_CAPACITY_TYPE) != 0 &&
	    strcmp(key, KP_LABEL_NODEPOOL) != 0)
		return "label domain \"karpenter.sh\" is restricted";
	if (strcmp(key, KP_LABEL_NODEPOOL) == 0)
		return "label \"karpenter.sh/nodepool\" is restricted";
	if (strcmp(key, KP_LABEL_HOSTNAME) == 0)
		return "label \"kubernetes.io/hostname\" is restricted";
	return NULL;
}

/* ---- requirements ---- */

static bool nonneg_int(const char *s)
{
	int64_t v;
	return kp_parse_i64(s, &v) == KP_OK && v >= 0;
}

static kp_err load_req(struct kp_load_dec *d, const struct kp_load_node *m, struct kp_reqs *reqs,
		       bool pool_rules)
{
	const char *key = NULL, *op = NULL, **values = NULL, *why;
	struct kp_errbuf eb2;
	struct kp_req r;
	int64_t minv = 0;
	bool has_min;
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
	if (!rc)
		rc = kp_load_int(d, m, "minValues", 1, 50, &minv, &has_min);
	if (rc)
		return rc;
	if (!key)
		return kp_load_fail_at(d, "key", KP_ERR_INVALID, "required field is missing");
	if (!kp_label_key_valid(key, &eb2))
		return kp_load_fail_at(d, "key", KP_ERR_INVALID, "invalid label key: %s", eb2.msg);
	if (pool_rules && (why = restricted(key, d->v1beta1, true)) != NULL)
		return kp_load_fail_at(d, "key", KP_ERR_INVALID, "%s", why);
	if (!op)
		return kp_load_fail_at(d, "operator", KP_ERR_INVALID, "required field is missing");
	o = kp_op_parse(op);
	if (o < 0 || (d->v1beta1 && (o == KP_OP_GTE || o == KP_OP_LTE)))
		return kp_load_fail_at(d, "operator", KP_ERR_INVALID, "unknown operator %s",
				       kp_load_quote(op, q, sizeof(q)));
	for (int i = 0; i < n; i++) {
		if (!kp_label_value_valid(values[i], &eb2)) {
			size_t mark = kp_load_push(d, "values");
			kp_load_pushi(d, (size_t)i);
			rc = kp_load_fail(d, KP_ERR_INVALID, "invalid value %s: %s",
					  kp_load_quote(values[i], q, sizeof(q)), eb2.msg);
			kp_load_pop(d, mark);
			return rc;
		}
	}
	switch (o) {
	case KP_OP_IN:
		if (n == 0)
			return kp_load_fail_at(d, "values", KP_ERR_INVALID, "operator In needs at least one value");
		if (has_min && n < minv)
			return kp_load_fail_at(d, "values", KP_ERR_INVALID,
					       "minValues is %lld but only %d values are given",
					       (long long)minv, n);
		if (pool_rules && strcmp(key, KP_LABEL_CAPACITY_TYPE) == 0) {
			bool known = false;
			for (int i = 0; i < n && !known; i++)
				known = kp_captype_parse(values[i]) >= 0;
			if (!known)
				return kp_load_fail_at(d, "values", KP_ERR_INVALID,
						       "no valid capacity type: want on-demand, spot or reserved");
		}
		break;
	case KP_OP_GT:
	case KP_OP_LT:
	case KP_OP_GTE:
	case KP_OP_LTE:
		if (n != 1 || !nonneg_int(values[0]))
			return kp_load_fail_at(d, "values", KP_ERR_INVALID,
					       "operator %s needs exactly one non-negative integer value%s%s",
					       op, n == 1 ? ", got " : "",
					       n == 1 ? kp_load_quote(values[0], q, sizeof(q)) : "");
		break;
	default:
		n = 0;   /* Exists/DoesNotExist: values are ignored */
		break;
	}
	memset(&r, 0, sizeof(r));
	rc = kp_req_make(&r, d->a, key, (enum kp_op)o, values, n, has_min ? (int)minv : 0, d->eb);
	if (!rc)
		rc = kp_reqs_add(reqs, d->a, &r);
	return rc ? kp_load_wrap(d, rc) : KP_OK;
}

kp_err kp_load_karp_reqs(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			 struct kp_reqs *reqs, bool pool_rules)
{
	const struct kp_load_node *seq;
	uint32_t max = d->v1beta1 ? 30 : 100;
	size_t mark;
	kp_err rc = kp_load_seq(d, m, key, &seq);

	if (rc)
		return rc;
	if (!seq)
		return kp_load_fail_at(d, key, KP_ERR_INVALID, "required field is missing");
	if (seq->n > max)
		return kp_load_fail_at(d, key, KP_ERR_INVALID, "too many requirements: %u (at most %u)",
				       seq->n, max);
	mark = kp_load_push(d, key);
	for (uint32_t i = 0; i < seq->n && !rc; i++) {
		size_t m2 = kp_load_pushi(d, i);
		rc = load_req(d, seq->u.items[i], reqs, pool_rules);
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	return rc;
}

/* ---- cron ---- */

/* The CRD's pattern admits five fields or @yearly..@hourly; the syntax is
 * checked by the parser the disruption engine evaluates budgets with. */
static bool cron_valid(const char *s, char *why, size_t n)
{
	struct kp_cron c;
	struct kp_errbuf eb;
	const char *msg, *cut;
	size_t len;

	if (strncmp(s, "@every", 6) == 0) {
		snprintf(why, n, "@every is not allowed: want 5 fields or one of @yearly, @annually, "
			 "@monthly, @weekly, @daily, @midnight, @hourly");
		return false;
	}
	if (strncmp(s, "TZ=", 3) == 0 || strncmp(s, "CRON_TZ=", 8) == 0) {
		snprintf(why, n, "time zones are not supported (schedules are in UTC)");
		return false;
	}
	if (!kp_cron_parse(&c, s, &eb))
		return true;
	/* drop the parser's own `cron "SPEC": ` prefix: the caller quotes SPEC */
	msg = eb.msg;
	if (strncmp(msg, "cron ", 5) == 0 && (cut = strstr(msg, "\": ")) != NULL)
		msg = cut + 3;
	else if (strncmp(msg, "cron: ", 6) == 0)
		msg += 6;
	len = strlen(msg);
	if (len >= n)
		len = n - 1;
	memcpy(why, msg, len);
	why[len] = '\0';
	return false;
}

/* ---- disruption ---- */

/* ^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$ */
static bool budget_duration_shape(const char *p)
{
	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == 'h') {
		p++;
		if (!*p || strcmp(p, "0s") == 0)
			return true;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
		if (*p != 'm')
			return false;
		p++;
	} else if (*p == 'm') {
		p++;
	} else {
		return false;
	}
	return !*p || strcmp(p, "0s") == 0;
}

static kp_err load_budget_nodes(struct kp_load_dec *d, const struct kp_load_node *b, struct kp_budget *out)
{
	const char *s = NULL;
	size_t n;
	char q[96];
	int64_t v;
	kp_err rc = kp_load_strview(d, b, "nodes", &s);

	if (rc)
		return rc;
	if (!s)
		return kp_load_fail_at(d, "nodes", KP_ERR_INVALID, "required field is missing");
	n = strlen(s);
	if (n >= 2 && s[n - 1] == '%') {
		bool ok = (n <= 3 || (n == 4 && memcmp(s, "100", 3) == 0));
		int64_t pct = 0;
		for (size_t i = 0; ok && i < n - 1; i++) {
			ok = isdigit((unsigned char)s[i]);
			pct = pct * 10 + (s[i] - '0');
		}
		if (ok) {
			out->percent = true;
			out->nodes = pct;
			return KP_OK;
		}
	} else if (n > 0 && kp_parse_i64(s, &v) == KP_OK && isdigit((unsigned char)s[0])) {
		out->nodes = v;
		return KP_OK;
	}
	return kp_load_fail_at(d, "nodes", KP_ERR_INVALID,
			       "invalid value %s: want a node count like \"3\" or a percentage 0%%-100%% like \"10%%\"",
			       kp_load_quote(s, q, sizeof(q)));
}

static kp_err load_budget(struct kp_load_dec *d, const struct kp_load_node *b, struct kp_budget *out)
{
	const char *sched = NULL, *dur = NULL, **reasons = NULL;
	int nreasons = 0;
	char why[256], q[96];
	int64_t ms;
	kp_err rc;

	if (b->type != KP_LN_MAP)
		return kp_load_type_error(d, b, "a mapping");
	rc = load_budget_nodes(d, b, out);
	if (!rc)
		rc = kp_load_str(d, b, "schedule", &sched);
	if (!rc)
		rc = kp_load_strview(d, b, "duration", &dur);
	if (!rc && !d->v1beta1)
		rc = kp_load_strviews(d, b, "reasons", &reasons, &nreasons);
	if (rc)
		return rc;
	if (!sched != !dur)
		return kp_load_fail_at(d, sched ? "duration" : "schedule", KP_ERR_INVALID,
				       "schedule and duration must be set together");
	if (sched) {
		if (!cron_valid(sched, why, sizeof(why)))
			return kp_load_fail_at(d, "schedule", KP_ERR_INVALID, "invalid cron schedule %s: %s",
					       kp_load_quote(sched, q, sizeof(q)), why);
		if (!budget_duration_shape(dur) || kp_parse_duration_ms(dur, &ms))
			return kp_load_fail_at(d, "duration", KP_ERR_INVALID,
					       "invalid duration %s: want hours and/or minutes like \"10m\", \"8h\" or \"1h30m\"",
					       kp_load_quote(dur, q, sizeof(q)));
		out->schedule = sched;
		out->duration_ms = ms;
	}
	for (int i = 0; i < nreasons; i++) {
		if (strcmp(reasons[i], "Empty") == 0) {
			out->reasons |= KP_REASON_EMPTY;
		} else if (strcmp(reasons[i], "Underutilized") == 0) {
			out->reasons |= KP_REASON_UNDERUTILIZED;
		} else if (strcmp(reasons[i], "Drifted") == 0) {
			out->reasons |= KP_REASON_DRIFTED;
		} else {
			size_t mark = kp_load_push(d, "reasons");
			kp_load_pushi(d, (size_t)i);
			rc = kp_load_fail(d, KP_ERR_INVALID, "unknown reason %s: want Underutilized, Empty or Drifted",
					  kp_load_quote(reasons[i], q, sizeof(q)));
			kp_load_pop(d, mark);
			return rc;
		}
	}
	return KP_OK;
}

static kp_err load_budgets(struct kp_load_dec *d, const struct kp_load_node *dis, struct kp_nodepool *np)
{
	const struct kp_load_node *seq = NULL;
	size_t mark;
	kp_err rc = dis ? kp_load_seq(d, dis, "budgets", &seq) : KP_OK;

	if (rc)
		return rc;
	if (!seq) {
		np->budgets = kp_arena_calloc(d->a, 1, sizeof(*np->budgets));
		if (!np->budgets)
			return nomem(d);
		np->budgets[0].percent = true;
		np->budgets[0].nodes = 10;
		np->nbudgets = 1;
		return KP_OK;
	}
	if (seq->n > 50)
		return kp_load_fail_at(d, "budgets", KP_ERR_INVALID, "too many budgets: %u (at most 50)", seq->n);
	np->budgets = kp_arena_calloc(d->a, seq->n ? seq->n : 1, sizeof(*np->budgets));
	if (!np->budgets)
		return nomem(d);
	mark = kp_load_push(d, "budgets");
	for (uint32_t i = 0; i < seq->n && !rc; i++) {
		size_t m2 = kp_load_pushi(d, i);
		rc = load_budget(d, seq->u.items[i], &np->budgets[i]);
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	if (!rc)
		np->nbudgets = (int)seq->n;
	return rc;
}

static kp_err load_disruption(struct kp_load_dec *d, const struct kp_load_node *dis, struct kp_nodepool *np)
{
	const char *policy = NULL;
	bool has_after = false;
	int64_t after = 0;
	char q[96];
	kp_err rc = KP_OK;

	if (dis) {
		rc = kp_load_strview(d, dis, "consolidationPolicy", &policy);
		if (!rc)
			rc = kp_load_duration(d, dis, "consolidateAfter", true, &after, &has_after);
		if (!rc && d->v1beta1)
			rc = kp_load_duration(d, dis, "expireAfter", true, &np->expire_after_ms, NULL);
		if (rc)
			return rc;
		if (!d->v1beta1 && kp_load_get(dis, "expireAfter"))
			kp_load_warn(d, "disruption.expireAfter is a v1beta1 field, ignored (karpenter.sh/v1 "
				     "reads spec.template.spec.expireAfter)");
	}
	if (d->v1beta1) {
		np->v1beta1_expiry = true;
		if (!policy || strcmp(policy, "WhenUnderutilized") == 0) {
			if (has_after && after != KP_NEVER)
				return kp_load_fail_at(d, "consolidateAfter", KP_ERR_INVALID,
						       "cannot be combined with consolidationPolicy WhenUnderutilized");
			np->policy = KP_CONSOLIDATE_WHEN_EMPTY_OR_UNDERUTILIZED;
			np->consolidate_after_ms = 0;
		} else if (strcmp(policy, "WhenEmpty") == 0) {
			if (!has_after)
				return kp_load_fail_at(d, "consolidateAfter", KP_ERR_INVALID,
						       "required with consolidationPolicy WhenEmpty");
			np->policy = KP_CONSOLIDATE_WHEN_EMPTY;
			np->consolidate_after_ms = after;
		} else {
			return kp_load_fail_at(d, "consolidationPolicy", KP_ERR_INVALID,
					       "unknown consolidationPolicy %s: want WhenEmpty or WhenUnderutilized",
					       kp_load_quote(policy, q, sizeof(q)));
		}
	} else {
		if (!policy || strcmp(policy, "WhenEmptyOrUnderutilized") == 0)
			np->policy = KP_CONSOLIDATE_WHEN_EMPTY_OR_UNDERUTILIZED;
		else if (strcmp(policy, "WhenEmpty") == 0)
			np->policy = KP_CONSOLIDATE_WHEN_EMPTY;
		else if (strcmp(policy, "Balanced") == 0)
			np->policy = KP_CONSOLIDATE_BALANCED;
		else
			return kp_load_fail_at(d, "consolidationPolicy", KP_ERR_INVALID,
					       "unknown consolidationPolicy %s: want WhenEmpty, WhenEmptyOrUnderutilized or Balanced",
					       kp_load_quote(policy, q, sizeof(q)));
		np->consolidate_after_ms = has_after ? after : 0;
	}
	return load_budgets(d, dis, np);
}

/* ---- template ---- */

static kp_err load_class_ref(struct kp_load_dec *d, const struct kp_load_node *ts, struct kp_nodepool *np)
{
	const struct kp_load_node *ref;
	struct kp_nodeclass_ref *r = &np->node_class;
	size_t mark;
	kp_err rc = kp_load_map(d, ts, "nodeClassRef", &ref);

	if (rc)
		return rc;
	if (!ref)
		return kp_load_fail_at(d, "nodeClassRef", KP_ERR_INVALID, "required field is missing");
	mark = kp_load_push(d, "nodeClassRef");
	if (!d->v1beta1) {
		rc = kp_load_str_req(d, ref, "group", &r->group);
		if (!rc)
			rc = kp_load_str_req(d, ref, "kind", &r->kind);
		if (!rc)
			rc = kp_load_str_req(d, ref, "name", &r->name);
		/* The CRD wants a bare group, but published examples write
		 * "karpenter.k8s.aws/v1": keep the group, drop the version. */
		if (!rc && strchr(r->group, '/')) {
			const char *slash = strchr(r->group, '/');
			size_t m2 = kp_load_push(d, "group");
			kp_load_warn(d, "\"%s\" includes a version; using the group \"%.*s\"", r->group,
				     (int)(slash - r->group), r->group);
			kp_load_pop(d, m2);
			r->group = kp_arena_strndup(d->a, r->group, (size_t)(slash - r->group));
			if (!r->group)
				rc = nomem(d);
			else if (!*r->group)
				rc = kp_load_fail_at(d, "group", KP_ERR_INVALID, "must not be empty");
		}
	} else {
		const char *av = NULL;
		rc = kp_load_strview(d, ref, "apiVersion", &av);
		if (!rc)
			rc = kp_load_str(d, ref, "kind", &r->kind);
		if (!rc)
			rc = kp_load_str_req(d, ref, "name", &r->name);
		if (!rc) {
			const char *slash = av ? strchr(av, '/') : NULL;
			r->group = slash && slash != av ? kp_arena_strndup(d->a, av, (size_t)(slash - av))
							: "karpenter.k8s.aws";
			if (!r->kind || !*r->kind)
				r->kind = "EC2NodeClass";
			if (!r->group)
				rc = nomem(d);
		}
	}
	kp_load_pop(d, mark);
	return rc;
}

static kp_err check_pool_labels(struct kp_load_dec *d, const struct kp_load_node *meta)
{
	const struct kp_load_node *labels = kp_load_get(meta, "labels");
	const char *why;

	if (!labels || labels->type != KP_LN_MAP)
		return KP_OK;
	if (labels->n > 100)
		return kp_load_fail_at(d, "labels", KP_ERR_INVALID, "too many labels: %u (at most 100)", labels->n);
	for (uint32_t i = 0; i < labels->n; i++) {
		if ((why = restricted(labels->u.pairs[i].key, d->v1beta1, false)) != NULL) {
			size_t mark = kp_load_push(d, "labels");
			kp_load_push(d, labels->u.pairs[i].key);
			kp_load_fail(d, KP_ERR_INVALID, "%s", why);
			kp_load_pop(d, mark);
			return KP_ERR_INVALID;
		}
	}
	return KP_OK;
}

static bool taint_same(const struct kp_taint *a, const struct kp_taint *b)
{
	return strcmp(a->key, b->key) == 0 && a->effect == b->effect;
}

static kp_err check_taints(struct kp_load_dec *d, const struct kp_nodepool *np)
{
	int n = np->taints.n + np->startup_taints.n;

	for (int i = 0; i < n; i++) {
		const struct kp_taint *a = i < np->taints.n ? &np->taints.t[i]
							    : &np->startup_taints.t[i - np->taints.n];
		for (int j = 0; j < i; j++) {
			const struct kp_taint *b = j < np->taints.n ? &np->taints.t[j]
								    : &np->startup_taints.t[j - np->taints.n];
			if (!taint_same(a, b))
				continue;
			size_t mark = kp_load_push(d, i < np->taints.n ? "taints" : "startupTaints");
			kp_load_pushi(d, (size_t)(i < np->taints.n ? i : i - np->taints.n));
			kp_load_fail(d, KP_ERR_INVALID, "duplicate taint %s:%s (key and effect must be unique "
				     "across taints and startupTaints)", a->key, kp_effect_name(a->effect));
			kp_load_pop(d, mark);
			return KP_ERR_INVALID;
		}
	}
	return KP_OK;
}

static kp_err load_template_spec(struct kp_load_dec *d, const struct kp_load_node *ts, struct kp_nodepool *np)
{
	const struct kp_load_node *kubelet;
	kp_err rc;

	kp_reqs_init(&np->reqs);
	rc = kp_load_karp_reqs(d, ts, "requirements", &np->reqs, true);
	if (!rc)
		rc = kp_load_taints(d, ts, "taints", &np->taints);
	if (!rc)
		rc = kp_load_taints(d, ts, "startupTaints", &np->startup_taints);
	if (!rc)
		rc = check_taints(d, np);
	if (!rc)
		rc = load_class_ref(d, ts, np);
	if (rc)
		return rc;
	if (d->v1beta1) {
		/* v1beta1 kept kubelet settings here; expiry is in disruption */
		rc = kp_load_map(d, ts, "kubelet", &kubelet);
		if (!rc && kubelet) {
			rc = kp_load_kubelet(d, kubelet, &np->kubelet);
			np->kubelet_max_pods = np->kubelet.max_pods;
		}
		return rc;
	}
	rc = kp_load_duration(d, ts, "expireAfter", true, &np->expire_after_ms, NULL);
	if (!rc)
		rc = kp_load_duration(d, ts, "terminationGracePeriod", false, &np->termination_grace_ms, NULL);
	return rc;
}

static kp_err load_template(struct kp_load_dec *d, const struct kp_load_node *tmpl, struct kp_nodepool *np)
{
	const struct kp_load_node *meta = NULL, *ts = NULL;
	size_t mark;
	kp_err rc = kp_load_map(d, tmpl, "metadata", &meta);

	if (!rc)
		rc = kp_load_map(d, tmpl, "spec", &ts);
	if (rc)
		return rc;
	if (meta) {
		mark = kp_load_push(d, "metadata");
		rc = check_pool_labels(d, meta);
		if (!rc)
			rc = kp_load_labels(d, meta, "labels", &np->labels, true, true);
		if (!rc)
			rc = kp_load_labels(d, meta, "annotations", &np->annotations, false, false);
		kp_load_pop(d, mark);
		if (rc)
			return rc;
	}
	if (!ts)
		return kp_load_fail_at(d, "spec", KP_ERR_INVALID, "required field is missing");
	mark = kp_load_push(d, "spec");
	rc = load_template_spec(d, ts, np);
	kp_load_pop(d, mark);
	return rc;
}

kp_err kp_load_nodepool(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_nodepool *np)
{
	const struct kp_load_node *spec, *tmpl = NULL, *dis = NULL, *status = NULL;
	int64_t weight = 0;
	size_t mark;
	kp_err rc;

	np->expire_after_ms = DEFAULT_EXPIRE_MS;
	np->termination_grace_ms = KP_NEVER;
	{
		const struct kp_load_node *meta = NULL;
		rc = kp_load_map(d, root, "metadata", &meta);
		if (!rc && meta) {
			mark = kp_load_push(d, "metadata");
			rc = kp_load_labels(d, meta, "annotations", &np->meta_annotations, false, false);
			kp_load_pop(d, mark);
		}
		if (rc)
			return rc;
	}
	rc = kp_load_map(d, root, "spec", &spec);
	if (!rc && !spec)
		rc = kp_load_fail(d, KP_ERR_INVALID, "spec: required field is missing");
	if (!rc)
		rc = kp_load_map(d, root, "status", &status);
	if (rc)
		return rc;
	mark = kp_load_push(d, "spec");
	rc = kp_load_map(d, spec, "template", &tmpl);
	if (!rc && !tmpl)
		rc = kp_load_fail_at(d, "template", KP_ERR_INVALID, "required field is missing");
	if (!rc) {
		size_t m2 = kp_load_push(d, "template");
		rc = load_template(d, tmpl, np);
		kp_load_pop(d, m2);
	}
	if (!rc)
		rc = kp_load_map(d, spec, "disruption", &dis);
	if (!rc) {
		size_t m2 = kp_load_push(d, "disruption");
		rc = load_disruption(d, dis, np);
		kp_load_pop(d, m2);
	}
	if (!rc)
		rc = kp_load_reslist(d, spec, "limits", &np->limits, &np->limit_mask, &np->node_limit,
				     &np->has_node_limit, false);
	if (!rc)
		rc = kp_load_int(d, spec, "weight", 1, 100, &weight, NULL);
	if (!rc && !d->v1beta1 && kp_load_get(spec, "replicas"))
		kp_load_warn(d, "static NodePools (spec.replicas) are not supported; treated as dynamic");
	kp_load_pop(d, mark);
	if (!rc && status) {
		mark = kp_load_push(d, "status");
		rc = kp_load_reslist(d, status, "resources", &np->status_resources, NULL, NULL, NULL, true);
		kp_load_pop(d, mark);
	}
	if (rc)
		return rc;
	np->weight = (int32_t)weight;
	np->hash = kp_load_nodepool_hash(d->a, np);
	return np->hash ? KP_OK : nomem(d);
}

/* ---- hash ---- */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* Length-prefixed, so ("ab","c") and ("a","bc") differ; NULL differs from "". */
static uint64_t fnv_str(uint64_t h, const char *s)
{
	char len[24];
	int n = s ? snprintf(len, sizeof(len), "%zu:", strlen(s)) : snprintf(len, sizeof(len), "-:");
	h = fnv(h, len, (size_t)n);
	return s ? fnv(h, s, strlen(s)) : h;
}

static uint64_t fnv_int(uint64_t h, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%lld;", (long long)v);
	return fnv(h, buf, (size_t)n);
}

static int cmp_taint(const void *x, const void *y)
{
	const struct kp_taint *a = x, *b = y;
	int c = strcmp(a->key, b->key);
	if (c)
		return c;
	c = kp_strcmp0(a->value, b->value);
	if (c)
		return c;
	return (int)a->effect - (int)b->effect;
}

static uint64_t fnv_taints(uint64_t h, struct kp_arena *a, const char *tag, const struct kp_taints *t,
			   bool *ok)
{
	struct kp_taint *s;

	h = fnv_str(h, tag);
	h = fnv_int(h, t->n);
	if (t->n == 0)
		return h;
	s = kp_arena_memdup(a, t->t, (size_t)t->n * sizeof(*s));
	if (!s) {
		*ok = false;
		return h;
	}
	qsort(s, (size_t)t->n, sizeof(*s), cmp_taint);
	for (int i = 0; i < t->n; i++) {
		h = fnv_str(h, s[i].key);
		h = fnv_str(h, s[i].value);
		h = fnv_int(h, s[i].effect);
	}
	return h;
}

static uint64_t fnv_labels(uint64_t h, const char *tag, const struct kp_labels *l)
{
	h = fnv_str(h, tag);
	h = fnv_int(h, l->n);
	for (int i = 0; i < l->n; i++) {
		h = fnv_str(h, l->kv[i].key);
		h = fnv_str(h, l->kv[i].value);
	}
	return h;
}

const char *kp_load_nodepool_hash(struct kp_arena *a, const struct kp_nodepool *np)
{
	uint64_t h = FNV_OFFSET;
	bool ok = true;

	h = fnv_str(h, "karpenter-c nodepool template v1");
	h = fnv_labels(h, "labels", &np->labels);
	h = fnv_labels(h, "annotations", &np->annotations);
	h = fnv_taints(h, a, "taints", &np->taints, &ok);
	h = fnv_taints(h, a, "startupTaints", &np->startup_taints, &ok);
	h = fnv_str(h, "nodeClassRef");
	h = fnv_str(h, np->node_class.group);
	h = fnv_str(h, np->node_class.kind);
	h = fnv_str(h, np->node_class.name);
	h = fnv_str(h, "expireAfter");
	h = fnv_int(h, np->expire_after_ms);
	h = fnv_str(h, "terminationGracePeriod");
	h = fnv_int(h, np->termination_grace_ms);
	if (np->kubelet_max_pods) {
		h = fnv_str(h, "kubelet.maxPods");
		h = fnv_int(h, np->kubelet_max_pods);
	}
	return ok ? kp_arena_printf(a, "%016llx", (unsigned long long)h) : NULL;
}
