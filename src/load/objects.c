/*
 * objects.c - decoders for the kinds other than Pod and NodePool: Node,
 * NodeClaim, PodDisruptionBudget, Namespace, RuntimeClass, DaemonSet and
 * EC2NodeClass.
 *
 * Node and NodeClaim are state (what a cluster dump holds), so they are read
 * leniently where the simulation has a sensible default: allocatable defaults
 * to capacity, a missing Ready condition counts as ready. EC2NodeClass is
 * checked against the field types of the v1.14 API (karpenter.k8s.aws/v1 and
 * v1beta1): unknown fields are ignored as a non-strict client would, a known
 * field with the wrong type is an error; amiFamily is inferred from an
 * amiSelectorTerms alias ("al2023@latest" -> AL2023) when not given.
 * Cost: O(size of the object).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "load/internal.h"

#define DEFAULT_EXPIRE_MS (720LL * 3600 * 1000)
#define NS_NAME_LABEL "kubernetes.io/metadata.name"

static kp_err nomem(struct kp_load_dec *d)
{
	return kp_load_fail(d, KP_ERR_NOMEM, "out of memory");
}

/* metadata.{labels,annotations,creationTimestamp,deletionTimestamp} */
static kp_err load_meta(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_labels *labels,
			struct kp_labels *ann, int64_t *created, int64_t *deleting, bool normalize)
{
	const struct kp_load_node *meta = kp_load_get(root, "metadata");
	size_t mark;
	kp_err rc;

	if (!meta)
		return KP_OK;
	mark = kp_load_push(d, "metadata");
	rc = kp_load_labels(d, meta, "labels", labels, normalize, true);
	if (!rc && ann)
		rc = kp_load_labels(d, meta, "annotations", ann, false, false);
	if (!rc && created)
		rc = kp_load_time(d, meta, "creationTimestamp", created, NULL);
	if (!rc && deleting)
		rc = kp_load_time(d, meta, "deletionTimestamp", deleting, NULL);
	kp_load_pop(d, mark);
	return rc;
}

/* ---- Node ---- */

/* A cordoned Node (spec.unschedulable) takes no new pods: the scheduler
 * sees it as tainted node.kubernetes.io/unschedulable:NoSchedule, the taint
 * a real cluster's node lifecycle controller adds (TaintNodeUnschedulable;
 * `karpenter up`'s src/kcm adds it too), even before the taint is written. */
static kp_err cordon_taint(struct kp_load_dec *d, struct kp_taints *ts)
{
	struct kp_taint *t;

	for (int i = 0; i < ts->n; i++)
		if (ts->t[i].key && !strcmp(ts->t[i].key, KP_TAINT_UNSCHEDULABLE) && ts->t[i].effect == KP_EFFECT_NOSCHEDULE)
			return KP_OK;
	t = kp_arena_calloc(d->a, (size_t)ts->n + 1, sizeof(*t));
	if (!t)
		return KP_ERR_NOMEM;
	if (ts->n)
		memcpy(t, ts->t, (size_t)ts->n * sizeof(*t));
	t[ts->n].key = KP_TAINT_UNSCHEDULABLE;
	t[ts->n].effect = KP_EFFECT_NOSCHEDULE;
	ts->t = t;
	ts->n++;
	return KP_OK;
}

kp_err kp_load_node_obj(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_node *n)
{
	const struct kp_load_node *spec = NULL, *status = NULL;
	bool found = false, ready = true;
	size_t mark;
	kp_err rc;

	n->ready = true;
	rc = load_meta(d, root, &n->labels, &n->annotations, &n->created, &n->deleting, true);
	if (!rc)
		rc = kp_load_map(d, root, "spec", &spec);
	if (!rc)
		rc = kp_load_map(d, root, "status", &status);
	if (rc)
		return rc;
	if (spec) {
		mark = kp_load_push(d, "spec");
		rc = kp_load_taints(d, spec, "taints", &n->taints);
		if (!rc)
			rc = kp_load_bool(d, spec, "unschedulable", &n->unschedulable, NULL);
		if (!rc)
			rc = kp_load_str(d, spec, "providerID", &n->provider_id);
		kp_load_pop(d, mark);
		if (!rc && n->unschedulable)
			rc = cordon_taint(d, &n->taints);
		if (rc)
			return rc;
	}
	if (status) {
		mark = kp_load_push(d, "status");
		rc = kp_load_reslist(d, status, "capacity", &n->capacity, NULL, NULL, NULL, true);
		if (!rc)
			rc = kp_load_reslist(d, status, "allocatable", &n->allocatable, NULL, NULL, NULL, true);
		if (!rc)
			rc = kp_load_condition(d, status, "conditions", "Ready", &ready, &found);
		kp_load_pop(d, mark);
		if (rc)
			return rc;
		if (!kp_load_get(status, "allocatable"))
			n->allocatable = n->capacity;
		n->ready = found ? ready : true;
	}
	return KP_OK;
}

/* ---- NodeClaim ---- */

kp_err kp_load_nodeclaim(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_nodeclaim *nc)
{
	const struct kp_load_node *spec = NULL, *status = NULL, *res = NULL;
	bool found, on;
	size_t mark;
	kp_err rc;

	kp_reqs_init(&nc->reqs);
	nc->expire_after_ms = d->v1beta1 ? KP_NEVER : DEFAULT_EXPIRE_MS;
	rc = load_meta(d, root, &nc->labels, &nc->annotations, &nc->created, &nc->deleting, true);
	if (!rc)
		rc = kp_load_map(d, root, "spec", &spec);
	if (!rc)
		rc = kp_load_map(d, root, "status", &status);
	if (rc)
		return rc;
	nc->nodepool = kp_labels_get(&nc->labels, KP_LABEL_NODEPOOL);
	if (spec) {
		mark = kp_load_push(d, "spec");
		if (kp_load_get(spec, "requirements"))
			rc = kp_load_karp_reqs(d, spec, "requirements", &nc->reqs, false);
		if (!rc)
			rc = kp_load_map(d, spec, "resources", &res);
		if (!rc && res) {
			size_t m2 = kp_load_push(d, "resources");
			rc = kp_load_reslist(d, res, "requests", &nc->requests, NULL, NULL, NULL, false);
			kp_load_pop(d, m2);
		}
		if (!rc)
			rc = kp_load_taints(d, spec, "taints", &nc->taints);
		if (!rc)
			rc = kp_load_taints(d, spec, "startupTaints", &nc->startup_taints);
		if (!rc && !d->v1beta1)
			rc = kp_load_duration(d, spec, "expireAfter", true, &nc->expire_after_ms, NULL);
		if (!rc) {
			const struct kp_load_node *ref = NULL;

			rc = kp_load_map(d, spec, "nodeClassRef", &ref);
			if (!rc && ref) {
				size_t m3 = kp_load_push(d, "nodeClassRef");
				rc = kp_load_str(d, ref, "name", &nc->node_class);
				kp_load_pop(d, m3);
			}
		}
		kp_load_pop(d, mark);
		if (rc)
			return rc;
	}
	if (status) {
		mark = kp_load_push(d, "status");
		rc = kp_load_str(d, status, "nodeName", &nc->node_name);
		if (!rc)
			rc = kp_load_str(d, status, "providerID", &nc->provider_id);
		if (!rc)
			rc = kp_load_reslist(d, status, "capacity", &nc->capacity, NULL, NULL, NULL, true);
		if (!rc)
			rc = kp_load_reslist(d, status, "allocatable", &nc->allocatable, NULL, NULL, NULL, true);
		if (!rc)
			rc = kp_load_time(d, status, "lastPodEventTime", &nc->last_pod_event, NULL);
		if (!rc && !(rc = kp_load_condition(d, status, "conditions", "Launched", &on, &found)))
			nc->launched = found && on;
		if (!rc && !(rc = kp_load_condition(d, status, "conditions", "Registered", &on, &found)))
			nc->registered = found && on;
		if (!rc && !(rc = kp_load_condition(d, status, "conditions", "Initialized", &on, &found)))
			nc->initialized = found && on;
		if (!rc)
			rc = kp_load_condition_time(d, status, "conditions", "Initialized", &nc->initialized_at);
		if (!rc && !(rc = kp_load_condition(d, status, "conditions", "Drifted", &on, &found)))
			nc->drifted = found && on;
		kp_load_pop(d, mark);
		if (rc)
			return rc;
		if (nc->node_name && !*nc->node_name)
			nc->node_name = NULL;
	}
	return KP_OK;
}

/* ---- PodDisruptionBudget ---- */

static kp_err load_int_or_percent(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
				  bool *has, bool *pct, int64_t *out)
{
	const struct kp_load_node *v = kp_load_get(m, key);
	char q[96];
	size_t n;

	*has = false;
	if (!v)
		return KP_OK;
	if (v->type == KP_LN_INT) {
		if (v->u.i < 0)
			return kp_load_fail_at(d, key, KP_ERR_RANGE, "must not be negative, got %lld",
					       (long long)v->u.i);
		*out = v->u.i;
		*has = true;
		return KP_OK;
	}
	if (v->type != KP_LN_STR) {
		size_t mark = kp_load_push(d, key);
		kp_err rc = kp_load_type_error(d, v, "an integer or a percentage");
		kp_load_pop(d, mark);
		return rc;
	}
	n = strlen(v->s);
	if (n >= 2 && n <= 4 && v->s[n - 1] == '%') {
		int64_t x = 0;
		bool ok = true;
		for (size_t i = 0; i < n - 1 && ok; i++) {
			ok = isdigit((unsigned char)v->s[i]);
			x = x * 10 + (v->s[i] - '0');
		}
		if (ok && x <= 100) {
			*out = x;
			*pct = true;
			*has = true;
			return KP_OK;
		}
	}
	return kp_load_fail_at(d, key, KP_ERR_INVALID,
			       "invalid value %s: want a count like 2 or a percentage like \"50%%\"",
			       kp_load_quote(v->s, q, sizeof(q)));
}

kp_err kp_load_pdb(struct kp_load_dec *d, const struct kp_load_node *root, bool v1beta1, struct kp_pdb *pdb)
{
	const struct kp_load_node *spec = NULL, *status = NULL;
	size_t mark;
	kp_err rc;

	rc = kp_load_map(d, root, "spec", &spec);
	if (!rc)
		rc = kp_load_map(d, root, "status", &status);
	if (rc)
		return rc;
	if (spec) {
		mark = kp_load_push(d, "spec");
		rc = kp_load_selector(d, spec, "selector", &pdb->selector);
		if (!rc)
			rc = load_int_or_percent(d, spec, "minAvailable", &pdb->has_min_available,
						 &pdb->min_percent, &pdb->min_available);
		if (!rc)
			rc = load_int_or_percent(d, spec, "maxUnavailable", &pdb->has_max_unavailable,
						 &pdb->max_percent, &pdb->max_unavailable);
		if (!rc && pdb->has_min_available && pdb->has_max_unavailable)
			rc = kp_load_fail(d, KP_ERR_INVALID, "minAvailable and maxUnavailable cannot both be set");
		kp_load_pop(d, mark);
		if (rc)
			return rc;
		/* policy/v1beta1: an empty selector selects nothing. */
		if (v1beta1 && pdb->selector && pdb->selector->match_labels.n == 0 && pdb->selector->nexpr == 0)
			pdb->selector = NULL;
	}
	if (status) {
		mark = kp_load_push(d, "status");
		rc = kp_load_int(d, status, "disruptionsAllowed", 0, INT32_MAX, &pdb->disruptions_allowed,
				 &pdb->has_status);
		kp_load_pop(d, mark);
	}
	return rc;
}

/* ---- Namespace ---- */

kp_err kp_load_namespace(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_namespace *ns)
{
	kp_err rc = load_meta(d, root, &ns->labels, NULL, NULL, NULL, false);

	if (rc)
		return rc;
	if (kp_labels_set(&ns->labels, d->a, NS_NAME_LABEL, ns->name))
		return nomem(d);
	return KP_OK;
}

/* ---- RuntimeClass ---- */

kp_err kp_load_runtimeclass(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_res *overhead,
			    bool *has)
{
	const struct kp_load_node *oh = NULL;
	const char *handler = NULL;
	size_t mark;
	kp_err rc;

	*has = false;
	rc = kp_load_strview(d, root, "handler", &handler);
	if (!rc)
		rc = kp_load_map(d, root, "overhead", &oh);
	if (rc || !oh)
		return rc;
	mark = kp_load_push(d, "overhead");
	rc = kp_load_reslist(d, oh, "podFixed", overhead, NULL, NULL, NULL, false);
	kp_load_pop(d, mark);
	*has = !rc && kp_load_get(oh, "podFixed") != NULL;
	return rc;
}

/* ---- EC2NodeClass ---- */

enum ftype { F_STR, F_BOOL, F_INT, F_QTY, F_STRMAP, F_STRLIST, F_OBJ, F_OBJLIST };

struct field {
	const char *name;
	enum ftype type;
	const struct field *sub;   /* F_OBJ, F_OBJLIST: fields, NULL-name terminated */
};

static const struct field f_ami_term[] = {
	{ "alias", F_STR, NULL }, { "tags", F_STRMAP, NULL }, { "id", F_STR, NULL },
	{ "name", F_STR, NULL }, { "owner", F_STR, NULL }, { "ssmParameter", F_STR, NULL },
	{ NULL, F_STR, NULL },
};
static const struct field f_subnet_term[] = {
	{ "tags", F_STRMAP, NULL }, { "id", F_STR, NULL }, { NULL, F_STR, NULL },
};
static const struct field f_sg_term[] = {
	{ "tags", F_STRMAP, NULL }, { "id", F_STR, NULL }, { "name", F_STR, NULL }, { NULL, F_STR, NULL },
};
static const struct field f_cr_term[] = {
	{ "tags", F_STRMAP, NULL }, { "id", F_STR, NULL }, { "ownerID", F_STR, NULL },
	{ "instanceMatchCriteria", F_STR, NULL }, { NULL, F_STR, NULL },
};
static const struct field f_pg[] = {
	{ "name", F_STR, NULL }, { "id", F_STR, NULL }, { NULL, F_STR, NULL },
};
static const struct field f_kubelet[] = {
	{ "clusterDNS", F_STRLIST, NULL }, { "maxPods", F_INT, NULL }, { "podsPerCore", F_INT, NULL },
	{ "systemReserved", F_STRMAP, NULL }, { "kubeReserved", F_STRMAP, NULL },
	{ "evictionHard", F_STRMAP, NULL }, { "evictionSoft", F_STRMAP, NULL },
	{ "evictionSoftGracePeriod", F_STRMAP, NULL }, { "evictionMaxPodGracePeriod", F_INT, NULL },
	{ "imageGCHighThresholdPercent", F_INT, NULL }, { "imageGCLowThresholdPercent", F_INT, NULL },
	{ "cpuCFSQuota", F_BOOL, NULL }, { NULL, F_STR, NULL },
};
static const struct field f_ebs[] = {
	{ "deleteOnTermination", F_BOOL, NULL }, { "encrypted", F_BOOL, NULL }, { "iops", F_INT, NULL },
	{ "kmsKeyID", F_STR, NULL }, { "snapshotID", F_STR, NULL }, { "throughput", F_INT, NULL },
	{ "volumeInitializationRate", F_INT, NULL }, { "volumeSize", F_QTY, NULL },
	{ "volumeType", F_STR, NULL }, { NULL, F_STR, NULL },
};
static const struct field f_bdm[] = {
	{ "deviceName", F_STR, NULL }, { "rootVolume", F_BOOL, NULL }, { "ebs", F_OBJ, f_ebs },
	{ NULL, F_STR, NULL },
};
static const struct field f_metadata_opts[] = {
	{ "httpEndpoint", F_STR, NULL }, { "httpProtocolIPv6", F_STR, NULL },
	{ "httpPutResponseHopLimit", F_INT, NULL }, { "httpTokens", F_STR, NULL }, { NULL, F_STR, NULL },
};
static const struct field f_nic[] = {
	{ "networkCardIndex", F_INT, NULL }, { "deviceIndex", F_INT, NULL },
	{ "interfaceType", F_STR, NULL }, { NULL, F_STR, NULL },
};
static const struct field f_conntrack[] = {
	{ "tcpEstablishedTimeout", F_STR, NULL }, { "udpStreamTimeout", F_STR, NULL },
	{ "udpTimeout", F_STR, NULL }, { NULL, F_STR, NULL },
};
static const struct field f_cpu[] = {
	{ "nestedVirtualization", F_STR, NULL }, { NULL, F_STR, NULL },
};
static const struct field f_nodeclass_spec[] = {
	{ "amiFamily", F_STR, NULL }, { "amiSelectorTerms", F_OBJLIST, f_ami_term },
	{ "subnetSelectorTerms", F_OBJLIST, f_subnet_term },
	{ "securityGroupSelectorTerms", F_OBJLIST, f_sg_term },
	{ "capacityReservationSelectorTerms", F_OBJLIST, f_cr_term },
	{ "placementGroupSelector", F_OBJ, f_pg }, { "associatePublicIPAddress", F_BOOL, NULL },
	{ "role", F_STR, NULL }, { "instanceProfile", F_STR, NULL }, { "tags", F_STRMAP, NULL },
	{ "kubelet", F_OBJ, f_kubelet }, { "blockDeviceMappings", F_OBJLIST, f_bdm },
	{ "instanceStorePolicy", F_STR, NULL }, { "userData", F_STR, NULL },
	{ "detailedMonitoring", F_BOOL, NULL }, { "metadataOptions", F_OBJ, f_metadata_opts },
	{ "context", F_STR, NULL }, { "ipPrefixCount", F_INT, NULL },
	{ "networkInterfaces", F_OBJLIST, f_nic }, { "connectionTracking", F_OBJ, f_conntrack },
	{ "cpuOptions", F_OBJ, f_cpu }, { NULL, F_STR, NULL },
};

static kp_err check_fields(struct kp_load_dec *d, const struct kp_load_node *m, const struct field *fs);

static kp_err check_value(struct kp_load_dec *d, const struct kp_load_node *v, const struct field *f)
{
	bool scalar = v->type >= KP_LN_BOOL && v->type <= KP_LN_STR;
	int64_t q;
	char qb[96];
	kp_err rc = KP_OK;

	if (v->type == KP_LN_NULL)
		return KP_OK;
	switch (f->type) {
	case F_STR:
		return scalar ? KP_OK : kp_load_type_error(d, v, "a string");
	case F_BOOL:
		return v->type == KP_LN_BOOL ? KP_OK : kp_load_type_error(d, v, "a boolean");
	case F_INT:
		return v->type == KP_LN_INT ? KP_OK : kp_load_type_error(d, v, "an integer");
	case F_QTY:
		if (!scalar || v->type == KP_LN_BOOL)
			return kp_load_type_error(d, v, "a quantity");
		if (kp_qty_parse(v->s, KP_QTY_UNIT, &q, NULL))
			return kp_load_fail(d, KP_ERR_INVALID, "invalid quantity %s", kp_load_quote(v->s, qb, sizeof(qb)));
		return KP_OK;
	case F_STRMAP:
		if (v->type != KP_LN_MAP)
			return kp_load_type_error(d, v, "a mapping");
		for (uint32_t i = 0; i < v->n && !rc; i++) {
			const struct kp_load_node *x = v->u.pairs[i].val;
			if (x->type == KP_LN_SEQ || x->type == KP_LN_MAP) {
				size_t mark = kp_load_push(d, v->u.pairs[i].key);
				rc = kp_load_type_error(d, x, "a string");
				kp_load_pop(d, mark);
			}
		}
		return rc;
	case F_STRLIST:
		if (v->type != KP_LN_SEQ)
			return kp_load_type_error(d, v, "a list");
		for (uint32_t i = 0; i < v->n && !rc; i++) {
			const struct kp_load_node *x = v->u.items[i];
			if (x->type == KP_LN_SEQ || x->type == KP_LN_MAP) {
				size_t mark = kp_load_pushi(d, i);
				rc = kp_load_type_error(d, x, "a string");
				kp_load_pop(d, mark);
			}
		}
		return rc;
	case F_OBJ:
		if (v->type != KP_LN_MAP)
			return kp_load_type_error(d, v, "a mapping");
		return check_fields(d, v, f->sub);
	case F_OBJLIST:
		if (v->type != KP_LN_SEQ)
			return kp_load_type_error(d, v, "a list");
		for (uint32_t i = 0; i < v->n && !rc; i++) {
			size_t mark = kp_load_pushi(d, i);
			if (v->u.items[i]->type != KP_LN_MAP)
				rc = kp_load_type_error(d, v->u.items[i], "a mapping");
			else
				rc = check_fields(d, v->u.items[i], f->sub);
			kp_load_pop(d, mark);
		}
		return rc;
	}
	return KP_OK;
}

static kp_err check_fields(struct kp_load_dec *d, const struct kp_load_node *m, const struct field *fs)
{
	kp_err rc = KP_OK;

	for (uint32_t i = 0; i < m->n && !rc; i++) {
		const char *key = m->u.pairs[i].key;
		for (const struct field *f = fs; f->name; f++) {
			if (strcmp(f->name, key) != 0)
				continue;
			size_t mark = kp_load_push(d, key);
			rc = check_value(d, m->u.pairs[i].val, f);
			kp_load_pop(d, mark);
			break;
		}
	}
	return rc;
}

static const char *const ami_families[] = { "AL2", "AL2023", "Bottlerocket", "Custom", "Windows2019",
					    "Windows2022", "Windows2025", "Ubuntu", NULL };
static const char *const alias_families[][2] = {
	{ "al2", "AL2" }, { "al2023", "AL2023" }, { "bottlerocket", "Bottlerocket" },
	{ "windows2019", "Windows2019" }, { "windows2022", "Windows2022" },
	{ "windows2025", "Windows2025" },
};

/* Family of an alias "family@version" with the CRD's checks; NULL + error. */
static kp_err alias_family(struct kp_load_dec *d, const char *alias, const char **family)
{
	const char *at = strchr(alias, '@');
	char q[96];

	*family = NULL;
	if (!at || at == alias || !at[1])
		return kp_load_fail(d, KP_ERR_INVALID, "alias %s is not in the form family@version",
				    kp_load_quote(alias, q, sizeof(q)));
	for (size_t i = 0; i < KP_ARRAY_LEN(alias_families); i++) {
		size_t n = strlen(alias_families[i][0]);
		if ((size_t)(at - alias) != n || memcmp(alias, alias_families[i][0], n) != 0)
			continue;
		if (strncmp(alias, "windows", 7) == 0 && strcmp(at + 1, "latest") != 0)
			return kp_load_fail(d, KP_ERR_INVALID, "windows families may only use version \"latest\"");
		*family = alias_families[i][1];
		return KP_OK;
	}
	return kp_load_fail(d, KP_ERR_INVALID,
			    "unsupported alias family in %s: want al2, al2023, bottlerocket, windows2019, "
			    "windows2022 or windows2025", kp_load_quote(alias, q, sizeof(q)));
}

static kp_err load_ami_terms(struct kp_load_dec *d, const struct kp_load_node *spec, const char **family)
{
	const struct kp_load_node *terms = kp_load_get(spec, "amiSelectorTerms");
	size_t mark;
	kp_err rc = KP_OK;

	*family = NULL;
	if (!terms || terms->type != KP_LN_SEQ)
		return KP_OK;
	mark = kp_load_push(d, "amiSelectorTerms");
	for (uint32_t i = 0; i < terms->n && !rc; i++) {
		const struct kp_load_node *t = terms->u.items[i];
		const char *alias = NULL;
		size_t m2 = kp_load_pushi(d, i);

		rc = kp_load_strview(d, t, "alias", &alias);
		if (!rc && alias) {
			kp_load_push(d, "alias");
			rc = alias_family(d, alias, family);
			if (!rc && (terms->n != 1 || t->n != 1))
				rc = kp_load_fail(d, KP_ERR_INVALID, "an alias must be the only amiSelectorTerm "
						  "and the only field of its term");
		}
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	return rc;
}

/* spec.subnetSelectorTerms: id or tags per term (the zones they select
 * restrict the class's pools, catalog/subnets.c). */
static kp_err load_subnet_terms(struct kp_load_dec *d, const struct kp_load_node *spec, struct kp_nodeclass *nc)
{
	const struct kp_load_node *terms = kp_load_get(spec, "subnetSelectorTerms");
	size_t mark;
	kp_err rc = KP_OK;

	if (!terms || terms->type != KP_LN_SEQ || terms->n == 0)
		return KP_OK;
	nc->subnet_terms = kp_arena_calloc(d->a, terms->n, sizeof(*nc->subnet_terms));
	if (!nc->subnet_terms)
		return kp_load_wrap(d, KP_ERR_NOMEM);
	mark = kp_load_push(d, "subnetSelectorTerms");
	for (uint32_t i = 0; i < terms->n && !rc; i++) {
		const struct kp_load_node *t = terms->u.items[i];
		struct kp_subnet_term *st = &nc->subnet_terms[nc->nsubnet_terms];
		size_t m2 = kp_load_pushi(d, i);

		rc = kp_load_str(d, t, "id", &st->id);
		if (!rc)
			rc = kp_load_labels(d, t, "tags", &st->tags, false, false);
		if (!rc && !st->id && st->tags.n == 0)
			rc = kp_load_fail(d, KP_ERR_INVALID, "a term needs id or tags");
		if (!rc && st->id && st->tags.n > 0)
			rc = kp_load_fail(d, KP_ERR_INVALID, "id is exclusive: a term with id has no tags");
		if (!rc)
			nc->nsubnet_terms++;
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	return rc;
}

/* One map of quantities (kubeReserved ...); eviction values may be "N%". */
static kp_err kubelet_qty_map(struct kp_load_dec *d, const struct kp_load_node *kubelet, const char *key,
			      struct kp_labels *out, bool percent_ok)
{
	kp_err rc = kp_load_labels(d, kubelet, key, out, false, false);

	for (int i = 0; !rc && i < out->n; i++) {
		const char *v = out->kv[i].value;
		size_t n = strlen(v);
		char num[64];
		int64_t q;
		struct kp_errbuf e2 = { 0 };

		snprintf(num, sizeof(num), "%.*s", (int)(percent_ok && n && v[n - 1] == '%' ? n - 1 : n), v);
		if (kp_qty_parse(num, KP_QTY_MILLI, &q, &e2) || q < 0) {
			size_t m = kp_load_push(d, key);

			rc = kp_load_fail_at(d, out->kv[i].key, KP_ERR_INVALID, "bad quantity \"%s\"%s", v,
					     percent_ok ? " (want a quantity or a percentage)" : "");
			kp_load_pop(d, m);
		}
	}
	return rc;
}

/* spec.kubelet (v1 EC2NodeClass) / spec.template.spec.kubelet (v1beta1
 * NodePool): the settings that change pods and allocatable. */
kp_err kp_load_kubelet(struct kp_load_dec *d, const struct kp_load_node *kubelet, struct kp_kubelet *k)
{
	size_t m2 = kp_load_push(d, "kubelet");
	kp_err rc = kp_load_int(d, kubelet, "maxPods", 0, INT32_MAX, &k->max_pods, NULL);

	k->set = true;
	if (!rc)
		rc = kp_load_int(d, kubelet, "podsPerCore", 0, INT32_MAX, &k->pods_per_core, NULL);
	if (!rc)
		rc = kubelet_qty_map(d, kubelet, "kubeReserved", &k->kube_reserved, false);
	if (!rc)
		rc = kubelet_qty_map(d, kubelet, "systemReserved", &k->system_reserved, false);
	if (!rc)
		rc = kubelet_qty_map(d, kubelet, "evictionHard", &k->eviction_hard, true);
	if (!rc)
		rc = kubelet_qty_map(d, kubelet, "evictionSoft", &k->eviction_soft, true);
	kp_load_pop(d, m2);
	return rc;
}

kp_err kp_load_nodeclass(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_nodeclass *nc)
{
	const struct kp_load_node *spec = NULL, *kubelet;
	const char *family = NULL, *from_alias = NULL;
	size_t mark;
	char q[96];
	bool ok = false;
	kp_err rc;

	rc = kp_load_map(d, root, "spec", &spec);
	if (rc)
		return rc;
	if (!spec)
		return kp_load_fail(d, KP_ERR_INVALID, "spec: required field is missing");
	mark = kp_load_push(d, "spec");
	rc = check_fields(d, spec, f_nodeclass_spec);
	if (!rc)
		rc = kp_load_str(d, spec, "amiFamily", &family);
	if (!rc && !d->v1beta1)
		rc = load_ami_terms(d, spec, &from_alias);
	if (!rc)
		rc = load_subnet_terms(d, spec, nc);
	if (rc)
		goto out;
	if (family) {
		for (int i = 0; ami_families[i] && !ok; i++)
			ok = strcmp(family, ami_families[i]) == 0 && (d->v1beta1 || strcmp(family, "Ubuntu") != 0);
		if (!ok) {
			rc = kp_load_fail_at(d, "amiFamily", KP_ERR_INVALID,
					     "unknown amiFamily %s: want AL2, AL2023, Bottlerocket, Custom, "
					     "Windows2019, Windows2022 or Windows2025%s",
					     kp_load_quote(family, q, sizeof(q)), d->v1beta1 ? " or Ubuntu" : "");
			goto out;
		}
		if (from_alias && strcmp(family, from_alias) != 0 && strcmp(family, "Custom") != 0) {
			rc = kp_load_fail_at(d, "amiFamily", KP_ERR_INVALID,
					     "must be %s or Custom to match the amiSelectorTerms alias", from_alias);
			goto out;
		}
	} else if (from_alias) {
		family = from_alias;
	} else {
		rc = kp_load_fail_at(d, "amiFamily", KP_ERR_INVALID, d->v1beta1
				     ? "required field is missing"
				     : "required when amiSelectorTerms has no alias");
		goto out;
	}
	nc->ami_family = family;
	if (!d->v1beta1 && (kubelet = kp_load_get(spec, "kubelet")) != NULL) {
		rc = kp_load_kubelet(d, kubelet, &nc->kubelet);
		nc->kubelet_max_pods = nc->kubelet.max_pods;
		nc->pods_per_core = nc->kubelet.pods_per_core;
	}
out:
	kp_load_pop(d, mark);
	return rc;
}

/* ---- DaemonSet ---- */

kp_err kp_load_daemonset(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_daemonset *ds,
			 struct kp_load_podref *ref)
{
	const struct kp_load_node *spec = NULL, *tmpl = NULL, *meta = NULL, *pspec = NULL;
	size_t mark;
	kp_err rc;

	rc = kp_load_map(d, root, "spec", &spec);
	if (!rc && !spec)
		rc = kp_load_fail(d, KP_ERR_INVALID, "spec: required field is missing");
	if (rc)
		return rc;
	mark = kp_load_push(d, "spec");
	rc = kp_load_map(d, spec, "template", &tmpl);
	if (!rc && !tmpl)
		rc = kp_load_fail_at(d, "template", KP_ERR_INVALID, "required field is missing");
	if (!rc) {
		kp_load_push(d, "template");
		rc = kp_load_map(d, tmpl, "metadata", &meta);
		if (!rc)
			rc = kp_load_map(d, tmpl, "spec", &pspec);
		if (!rc)
			rc = kp_load_pod(d, meta, pspec, &ds->tmpl, ref, true);
	}
	kp_load_pop(d, mark);
	if (rc)
		return rc;
	ds->tmpl.ns = ds->ns;
	ds->tmpl.name = ds->name;
	ds->tmpl.is_daemon = true;
	ds->tmpl.owner_kind = "DaemonSet";
	ds->tmpl.owner_name = ds->name;
	return KP_OK;
}

/* ---- StorageClass, PersistentVolumeClaim, PersistentVolume ---- */

kp_err kp_load_storageclass(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_storageclass *sc)
{
	const struct kp_load_node *topo = NULL;
	const char *mode = NULL;
	char q[96];
	kp_err rc;

	kp_reqs_init(&sc->topology);
	rc = kp_load_str(d, root, "provisioner", &sc->provisioner);
	if (!rc)
		rc = kp_load_strview(d, root, "volumeBindingMode", &mode);
	if (!rc && mode && strcmp(mode, "WaitForFirstConsumer") != 0 && strcmp(mode, "Immediate") != 0)
		rc = kp_load_fail_at(d, "volumeBindingMode", KP_ERR_INVALID,
				     "unknown mode %s: want Immediate or WaitForFirstConsumer", kp_load_quote(mode, q, sizeof(q)));
	if (!rc)
		rc = kp_load_seq(d, root, "allowedTopologies", &topo);
	if (rc)
		return rc;
	sc->wait_for_first_consumer = mode && strcmp(mode, "WaitForFirstConsumer") == 0;
	if (topo && topo->n > 0) {
		/* volumetopology.go: terms are ORed; every term is an alternative
		 * (terms[0] is also kept as topology); each expression is key In [values] */
		size_t mark = kp_load_push(d, "allowedTopologies");
		bool open_term = false;

		sc->terms = kp_arena_calloc(d->a, topo->n, sizeof(*sc->terms));
		if (!sc->terms)
			rc = kp_load_wrap(d, KP_ERR_NOMEM);
		for (uint32_t ti = 0; !rc && ti < topo->n; ti++) {
			const struct kp_load_node *t = topo->u.items[ti], *exprs = NULL;
			struct kp_reqs *term = &sc->terms[ti];
			size_t m2 = kp_load_pushi(d, ti);

			kp_reqs_init(term);
			if (t->type != KP_LN_MAP)
				rc = kp_load_type_error(d, t, "a mapping");
			if (!rc)
				rc = kp_load_seq(d, t, "matchLabelExpressions", &exprs);
			for (uint32_t i = 0; !rc && exprs && i < exprs->n; i++) {
				const struct kp_load_node *e = exprs->u.items[i];
				struct kp_req r = { 0 };
				const char **vals = NULL;
				int nvals = 0;
				size_t m3 = kp_load_push(d, "matchLabelExpressions"), m4 = kp_load_pushi(d, i);

				if (e->type != KP_LN_MAP)
					rc = kp_load_type_error(d, e, "a mapping");
				if (!rc)
					rc = kp_load_str(d, e, "key", &r.key);
				if (!rc && (!r.key || !*r.key))
					rc = kp_load_fail_at(d, "key", KP_ERR_INVALID, "required field is missing");
				if (!rc)
					rc = kp_load_strviews(d, e, "values", &vals, &nvals);
				if (!rc && nvals == 0)
					rc = kp_load_fail_at(d, "values", KP_ERR_INVALID, "needs at least one value");
				if (!rc) {
					const char *key = r.key;
					rc = kp_req_make(&r, d->a, key, KP_OP_IN, vals, nvals, 0, d->eb);
					if (!rc)
						rc = kp_reqs_add(term, d->a, &r);
					if (rc)
						rc = kp_load_wrap(d, rc);
				}
				kp_load_pop(d, m4);
				kp_load_pop(d, m3);
			}
			kp_load_pop(d, m2);
			open_term |= !rc && term->n == 0;
		}
		kp_load_pop(d, mark);
		/* an empty term allows every node: the class adds nothing */
		sc->nterms = rc || open_term ? 0 : (int)topo->n;
		if (sc->nterms > 0)
			sc->topology = sc->terms[0];
		sc->has_topology = sc->nterms > 0;
	}
	return rc;
}

kp_err kp_load_pvc(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_pvc *pvc)
{
	const struct kp_load_node *spec = NULL;
	kp_err rc = kp_load_map(d, root, "spec", &spec);
	size_t mark;

	if (rc || !spec)
		return rc;
	mark = kp_load_push(d, "spec");
	rc = kp_load_str(d, spec, "storageClassName", &pvc->storage_class);
	if (!rc)
		rc = kp_load_str(d, spec, "volumeName", &pvc->volume_name);
	kp_load_pop(d, mark);
	if (pvc->volume_name && !*pvc->volume_name)
		pvc->volume_name = NULL;
	return rc;
}

kp_err kp_load_pv(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_pv *pv)
{
	const struct kp_load_node *spec = NULL, *na = NULL, *req = NULL, *terms = NULL;
	bool local;
	kp_err rc = kp_load_map(d, root, "spec", &spec);
	size_t mark;

	kp_reqs_init(&pv->affinity);
	if (rc || !spec)
		return rc;
	local = kp_load_get(spec, "local") || kp_load_get(spec, "hostPath");
	mark = kp_load_push(d, "spec");
	rc = kp_load_map(d, spec, "nodeAffinity", &na);
	if (!rc && na) {
		size_t m2 = kp_load_push(d, "nodeAffinity");
		rc = kp_load_map(d, na, "required", &req);
		if (!rc && req) {
			size_t m3 = kp_load_push(d, "required");
			rc = kp_load_seq(d, req, "nodeSelectorTerms", &terms);
			if (!rc && terms && terms->n > 0) {
				/* getPersistentVolumeRequirements: terms are ORed; every
				 * term is an alternative (terms[0] is also kept as affinity) */
				size_t m4 = kp_load_push(d, "nodeSelectorTerms");
				bool open_term = false;

				pv->terms = kp_arena_calloc(d->a, terms->n, sizeof(*pv->terms));
				if (!pv->terms)
					rc = kp_load_wrap(d, KP_ERR_NOMEM);
				for (uint32_t ti = 0; !rc && ti < terms->n; ti++) {
					size_t m5 = kp_load_pushi(d, ti);
					struct kp_reqs all;

					kp_reqs_init(&all);
					kp_reqs_init(&pv->terms[ti]);
					if (terms->u.items[ti]->type != KP_LN_MAP)
						rc = kp_load_type_error(d, terms->u.items[ti], "a mapping");
					else
						rc = kp_load_node_reqs(d, terms->u.items[ti], "matchExpressions", &all);
					/* a local or hostPath volume's hostname affinity is dropped:
					 * the pod would move to a new node anyway */
					for (int i = 0; !rc && i < all.n; i++) {
						if (local && strcmp(all.r[i].key, KP_LABEL_HOSTNAME) == 0)
							continue;
						rc = kp_reqs_add(&pv->terms[ti], d->a, &all.r[i]);
						if (rc)
							rc = kp_load_wrap(d, rc);
					}
					open_term |= !rc && pv->terms[ti].n == 0;
					kp_load_pop(d, m5);
				}
				kp_load_pop(d, m4);
				/* an empty term allows every node: the volume adds nothing */
				pv->nterms = rc || open_term ? 0 : (int)terms->n;
				if (pv->nterms > 0)
					pv->affinity = pv->terms[0];
			}
			kp_load_pop(d, m3);
		}
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	pv->has_affinity = !rc && pv->nterms > 0;
	return rc;
}
