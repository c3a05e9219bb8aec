/*
 * registry.c - the resources the local control plane serves: a fixed table
 * of built-in kinds (core, apps, batch, policy, coordination, events,
 * apiextensions, node, scheduling) plus every served version of each
 * installed CustomResourceDefinition, read from deploy/crds at start or
 * added through the API.
 *
 * Invariants: entries are heap-allocated and never move, so a
 * const struct kp_apiserver__res * stays valid until its CRD is removed or replaced;
 * iteration order is registration order (built-ins, then CRDs in the order
 * added; a replaced CRD keeps its place); (group, version, plural) is unique.
 * Cost: lookups are linear over ~40 entries; loading a CRD copies nothing but
 * a few pointer arrays (names point into the held CRD JSON).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yaml.h>

#include "apiserver/apires_int.h"
#include "kobj/kobj.h"

/* ---- built-in kinds ---- */

static const char *const sn_po[] = {"po", NULL};
static const char *const sn_no[] = {"no", NULL};
static const char *const sn_ns[] = {"ns", NULL};
static const char *const sn_ev[] = {"ev", NULL};
static const char *const sn_cm[] = {"cm", NULL};
static const char *const sn_sa[] = {"sa", NULL};
static const char *const sn_svc[] = {"svc", NULL};
static const char *const sn_deploy[] = {"deploy", NULL};
static const char *const sn_rs[] = {"rs", NULL};
static const char *const sn_ds[] = {"ds", NULL};
static const char *const sn_sts[] = {"sts", NULL};
static const char *const sn_pdb[] = {"pdb", NULL};
static const char *const sn_crd[] = {"crd", "crds", NULL};
static const char *const sn_pc[] = {"pc", NULL};
static const char *const sn_cj[] = {"cj", NULL};
static const char *const cat_all[] = {"all", NULL};
static const char *const sn_ep[] = {"ep", NULL};
static const char *const sn_pvc[] = {"pvc", NULL};
static const char *const sn_pv[] = {"pv", NULL};
static const char *const sn_limits[] = {"limits", NULL};
static const char *const sn_quota[] = {"quota", NULL};
static const char *const sn_hpa[] = {"hpa", NULL};
static const char *const sn_netpol[] = {"netpol", NULL};
static const char *const sn_ing[] = {"ing", NULL};
static const char *const sn_sc[] = {"sc", NULL};

static const char *const sub_status[] = {"status", NULL};
static const char *const sub_sa[] = {"token", NULL};   /* TokenRequest (access.c) */
static const char *const sub_scale[] = {"scale", "status", NULL};
static const char *const sub_pod[] = {"binding", "eviction", "log", "status", NULL};

struct builtin {
	const char *group, *version, *kind, *plural, *singular;
	const char *const *shorts, *const *cats, *const *subs;
	bool namespaced;
};

static const struct builtin builtins[] = {
	{"", "v1", "ConfigMap", "configmaps", "configmap", sn_cm, NULL, NULL, true},
	{"", "v1", "Event", "events", "event", sn_ev, NULL, NULL, true},
	{"", "v1", "Namespace", "namespaces", "namespace", sn_ns, NULL, sub_status, false},
	{"", "v1", "Node", "nodes", "node", sn_no, NULL, sub_status, false},
	{"", "v1", "Pod", "pods", "pod", sn_po, cat_all, sub_pod, true},
	{"", "v1", "Secret", "secrets", "secret", NULL, NULL, NULL, true},
	{"", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", sn_sa, NULL, sub_sa, true},
	{"", "v1", "Service", "services", "service", sn_svc, cat_all, sub_status, true},
	{"apps", "v1", "DaemonSet", "daemonsets", "daemonset", sn_ds, cat_all, sub_status, true},
	{"apps", "v1", "Deployment", "deployments", "deployment", sn_deploy, cat_all, sub_scale, true},
	{"apps", "v1", "ReplicaSet", "replicasets", "replicaset", sn_rs, cat_all, sub_scale, true},
	{"apps", "v1", "StatefulSet", "statefulsets", "statefulset", sn_sts, cat_all, sub_scale, true},
	{"batch", "v1", "Job", "jobs", "job", NULL, cat_all, sub_status, true},
	{"batch", "v1", "CronJob", "cronjobs", "cronjob", sn_cj, cat_all, sub_status, true},
	{"policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", sn_pdb, NULL,
	 sub_status, true},
	{"coordination.k8s.io", "v1", "Lease", "leases", "lease", NULL, NULL, NULL, true},
	{"events.k8s.io", "v1", "Event", "events", "event", sn_ev, NULL, NULL, true},
	{"apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
	 "customresourcedefinition", sn_crd, NULL, sub_status, false},
	{"node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", "runtimeclass", NULL, NULL, NULL, false},
	/* RBAC objects, enforced by authz.c */
	{"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", NULL, NULL, NULL, false},
	{"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", NULL, NULL,
	 NULL, false},
	{"rbac.authorization.k8s.io", "v1", "Role", "roles", "role", NULL, NULL, NULL, true},
	{"rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", NULL, NULL, NULL, true},
	{"scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", sn_pc, NULL, NULL,
	 false},
	/* stored and served without a controller: the kinds a workload file commonly holds */
	{"", "v1", "Endpoints", "endpoints", "endpoints", sn_ep, NULL, NULL, true},
	{"", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", sn_pvc, NULL, sub_status,
	 true},
	{"", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", sn_pv, NULL, sub_status, false},
	{"", "v1", "PodTemplate", "podtemplates", "podtemplate", NULL, NULL, NULL, true},
	{"", "v1", "LimitRange", "limitranges", "limitrange", sn_limits, NULL, NULL, true},
	{"", "v1", "ResourceQuota", "resourcequotas", "resourcequota", sn_quota, NULL, sub_status, true},
	{"apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", NULL, NULL, NULL, true},
	{"autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler", sn_hpa,
	 cat_all, sub_status, true},
	{"discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", NULL, NULL, NULL, true},
	{"networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", sn_netpol, NULL, NULL, true},
	{"networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", sn_ing, NULL, sub_status, true},
	{"networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", NULL, NULL, NULL, false},
	{"storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", sn_sc, NULL, NULL, false},
	{"storage.k8s.io", "v1", "CSINode", "csinodes", "csinode", NULL, NULL, NULL, false},
	{"storage.k8s.io", "v1", "CSIDriver", "csidrivers", "csidriver", NULL, NULL, NULL, false},
	{"storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", "volumeattachment", NULL, NULL, sub_status,
	 false},
	{"rbac.authorization.k8s.io", "v1", "Role", "roles", "role", NULL, NULL, NULL, true},
	{"rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", NULL, NULL, NULL, true},
	{"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", NULL, NULL, NULL, false},
	{"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", NULL,
	 NULL, NULL, false},
};

static int64_t default_now(void *ctx)
{
	(void)ctx;
	return (int64_t)time(NULL);
}

int64_t kp_apiserver__reg_now(const struct kp_apiserver__reg *reg)
{
	return reg->now(reg->now_ctx);
}

void kp_apiserver__reg_set_clock(struct kp_apiserver__reg *reg, int64_t (*now)(void *ctx), void *ctx)
{
	reg->now = now ? now : default_now;
	reg->now_ctx = ctx;
}

const char *kp_apiserver__res_api_version(const struct kp_apiserver__res *r, char *buf, size_t n)
{
	if (r->group[0])
		snprintf(buf, n, "%s/%s", r->group, r->version);
	else
		snprintf(buf, n, "%s", r->version);
	return buf;
}

bool kp_apiserver__res_list_has(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* Splits "v1beta2" into (major 1, track 1 = beta, minor 2); track 3 = GA,
 * 2 = beta, 1 = alpha, 0 = not a Kubernetes version. */
static void version_parts(const char *v, long *major, int *track, long *minor)
{
	char *end;

	*major = 0, *track = 0, *minor = 0;
	if (v[0] != 'v' || v[1] < '1' || v[1] > '9')
		return;
	*major = strtol(v + 1, &end, 10);
	if (*end == 0) {
		*track = 3;
		return;
	}
	if (strncmp(end, "beta", 4) == 0)
		*track = 2, end += 4;
	else if (strncmp(end, "alpha", 5) == 0)
		*track = 1, end += 5;
	else {
		*major = 0;
		return;
	}
	if (*end < '1' || *end > '9') {
		*major = 0, *track = 0;
		return;
	}
	*minor = strtol(end, &end, 10);
	if (*end)
		*major = 0, *track = 0, *minor = 0;
}

int kp_apiserver__res_version_cmp(const char *a, const char *b)
{
	long ma, mb, na, nb;
	int ta, tb;

	version_parts(a, &ma, &ta, &na);
	version_parts(b, &mb, &tb, &nb);
	if (ta != tb)
		return ta > tb ? -1 : 1;
	if (ta == 0)
		return strcmp(a, b);
	if (ma != mb)
		return ma > mb ? -1 : 1;
	if (na != nb)
		return na > nb ? -1 : 1;
	return 0;
}

static void entry_free(struct kp_apiserver__res_entry *e)
{
	if (!e)
		return;
	json_decref(e->crd);
	free(e->crd_name);
	free(e->owned_names);
	free(e->owned_cats);
	free(e->owned_subs);
	free(e);
}

static kp_err reg_push(struct kp_apiserver__reg *reg, struct kp_apiserver__res_entry *e)
{
	if (reg->n == reg->cap) {
		int cap = reg->cap ? reg->cap * 2 : 64;
		struct kp_apiserver__res_entry **v = realloc(reg->v, (size_t)cap * sizeof(*v));
		if (!v)
			return KP_ERR_NOMEM;
		reg->v = v, reg->cap = cap;
	}
	reg->v[reg->n++] = e;
	return KP_OK;
}

void kp_apiserver__reg_free(struct kp_apiserver__reg *reg)
{
	if (!reg)
		return;
	for (int i = 0; i < reg->n; i++)
		entry_free(reg->v[i]);
	free(reg->v);
	free(reg);
}

/* ---- lookups ---- */

const struct kp_apiserver__res *kp_apiserver__reg_at(const struct kp_apiserver__reg *reg, int i)
{
	if (!reg || i < 0 || i >= reg->n)
		return NULL;
	return &reg->v[i]->r;
}

const struct kp_apiserver__res *kp_apiserver__reg_find(const struct kp_apiserver__reg *reg, const char *group, const char *version,
				       const char *plural)
{
	for (int i = 0; reg && i < reg->n; i++) {
		const struct kp_apiserver__res *r = &reg->v[i]->r;
		if (strcmp(r->group, group ? group : "") == 0 && strcmp(r->version, version) == 0 &&
		    strcmp(r->plural, plural) == 0)
			return r;
	}
	return NULL;
}

const struct kp_apiserver__res *kp_apiserver__reg_find_kind(const struct kp_apiserver__reg *reg, const char *group,
					    const char *version, const char *kind)
{
	for (int i = 0; reg && i < reg->n; i++) {
		const struct kp_apiserver__res *r = &reg->v[i]->r;
		if (strcmp(r->group, group ? group : "") == 0 && strcmp(r->version, version) == 0 &&
		    strcmp(r->kind, kind) == 0)
			return r;
	}
	return NULL;
}

const struct kp_apiserver__res *kp_apiserver__reg_storage(const struct kp_apiserver__reg *reg, const char *group, const char *kind)
{
	for (int i = 0; reg && i < reg->n; i++) {
		const struct kp_apiserver__res *r = &reg->v[i]->r;
		if (strcmp(r->group, group) == 0 && strcmp(r->kind, kind) == 0 &&
		    strcmp(r->version, r->storage_version) == 0)
			return r;
	}
	return NULL;
}

/* ---- CRDs ---- */

/* NULL-terminated copy of a JSON string array's pointers (malloc), NULL if absent. */
static kp_err str_array(const json_t *a, const char ***out)
{
	size_t i, n = json_array_size(a);
	const char **v;

	*out = NULL;
	if (!n)
		return KP_OK;
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return KP_ERR_NOMEM;
	for (i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(a, i));
	for (i = 0; i < n; i++)
		if (!v[i]) {
			free(v);
			return KP_ERR_INVALID;
		}
	*out = v;
	return KP_OK;
}

void kp_apiserver__reg_remove_crd(struct kp_apiserver__reg *reg, const char *crd_name)
{
	int i, j = 0;

	if (!reg || !crd_name)
		return;
	for (i = 0; i < reg->n; i++) {
		struct kp_apiserver__res_entry *e = reg->v[i];
		if (e->crd_name && strcmp(e->crd_name, crd_name) == 0)
			entry_free(e);
		else
			reg->v[j++] = e;
	}
	reg->n = j;
}

static kp_err crd_entry(struct kp_apiserver__res_entry **out, json_t *crd, const json_t *ver, const char *storage,
			struct kp_errbuf *eb)
{
	const json_t *spec = json_object_get(crd, "spec");
	const json_t *names = json_object_get(spec, "names");
	const json_t *subs = json_object_get(ver, "subresources");
	const char *scope = kp_kobj_str(spec, "scope");
	struct kp_apiserver__res_entry *e = calloc(1, sizeof(*e));
	int ns = 0;

	if (!e)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	e->r.group = kp_kobj_str(spec, "group");
	e->r.version = kp_kobj_str(ver, "name");
	e->r.kind = kp_kobj_str(names, "kind");
	e->r.list_kind = kp_kobj_str(names, "listKind");
	e->r.plural = kp_kobj_str(names, "plural");
	e->r.singular = kp_kobj_str(names, "singular");
	if (!e->r.group || !e->r.version || !e->r.kind || !e->r.plural) {
		free(e);
		return kp_errf(eb, KP_ERR_INVALID, "spec.group, spec.names.kind, spec.names.plural and "
				   "spec.versions[].name are required");
	}
	if (!e->r.list_kind || !e->r.singular) {
		/* the API server defaults these; keep them reachable through the CRD */
		json_t *n2 = json_object_get(json_object_get(crd, "spec"), "names");
		char buf[256];
		if (!e->r.list_kind) {
			snprintf(buf, sizeof(buf), "%sList", e->r.kind);
			json_object_set_new(n2, "listKind", json_string(buf));
			e->r.list_kind = kp_kobj_str(n2, "listKind");
		}
		if (!e->r.singular) {
			size_t i, l = strlen(e->r.kind);
			for (i = 0; i < l && i + 1 < sizeof(buf); i++)
				buf[i] = (char)((e->r.kind[i] >= 'A' && e->r.kind[i] <= 'Z') ? e->r.kind[i] + 32
											   : e->r.kind[i]);
			buf[i] = 0;
			json_object_set_new(n2, "singular", json_string(buf));
			e->r.singular = kp_kobj_str(n2, "singular");
		}
	}
	e->r.namespaced = !scope || strcmp(scope, "Namespaced") == 0;
	e->r.has_status = json_object_get(subs, "status") != NULL;
	e->r.has_scale = json_object_get(subs, "scale") != NULL;
	e->r.storage_version = storage;
	e->r.builtin = false;
	if (str_array(json_object_get(names, "shortNames"), &e->owned_names) ||
	    str_array(json_object_get(names, "categories"), &e->owned_cats)) {
		entry_free(e);
		return kp_errf(eb, KP_ERR_INVALID, "spec.names.shortNames and categories must be strings");
	}
	e->owned_subs = calloc(3, sizeof(*e->owned_subs));
	if (!e->owned_subs) {
		entry_free(e);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	if (e->r.has_scale)
		e->owned_subs[ns++] = "scale";
	if (e->r.has_status)
		e->owned_subs[ns++] = "status";
	e->r.short_names = e->owned_names;
	e->r.categories = e->owned_cats;
	e->subresources = e->owned_subs;
	e->crd_version = ver;
	e->schema = json_object_get(json_object_get(ver, "schema"), "openAPIV3Schema");
	e->columns = json_object_get(ver, "additionalPrinterColumns");
	e->crd = json_incref(crd);
	*out = e;
	return KP_OK;
}

kp_err kp_apiserver__reg_add_crd(struct kp_apiserver__reg *reg, const json_t *crd_in, struct kp_errbuf *eb)
{
	const json_t *spec = json_object_get(crd_in, "spec"), *vers = json_object_get(spec, "versions");
	const char *name = kp_kobj_str(json_object_get(crd_in, "metadata"), "name");
	const char *storage = NULL;
	struct kp_apiserver__res_entry **add = NULL;
	size_t i, nadd = 0, nv = json_array_size(vers);
	json_t *crd = NULL;
	kp_err rc = KP_OK;
	int at = -1;

	if (!name || !json_is_object(spec) || !nv)
		return kp_errf(eb, KP_ERR_INVALID, "customresourcedefinition: metadata.name and spec.versions "
						   "are required");
	/* private deep copy: the caller's object may change after we return */
	crd = json_deep_copy(crd_in);
	add = calloc(nv, sizeof(*add));
	if (!crd || !add) {
		rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		goto out;
	}
	vers = json_object_get(json_object_get(crd, "spec"), "versions");
	for (i = 0; i < nv; i++) {
		const json_t *v = json_array_get(vers, i);
		if (json_is_true(json_object_get(v, "storage")))
			storage = kp_kobj_str(v, "name");
	}
	if (!storage)
		storage = kp_kobj_str(json_array_get(vers, 0), "name");
	for (i = 0; i < nv; i++) {
		const json_t *v = json_array_get(vers, i);
		if (json_is_false(json_object_get(v, "served")))
			continue;
		rc = crd_entry(&add[nadd], crd, v, storage, eb);
		if (rc) {
			kp_err_prefix(eb, "customresourcedefinition %s", name);
			goto out;
		}
		add[nadd]->crd_name = strdup(name);
		if (!add[nadd]->crd_name) {
			entry_free(add[nadd]);
			rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
			goto out;
		}
		nadd++;
	}
	/* replace in place: remember where the old CRD's first entry was */
	for (int k = 0; k < reg->n; k++)
		if (reg->v[k]->crd_name && strcmp(reg->v[k]->crd_name, name) == 0) {
			at = k;
			break;
		}
	kp_apiserver__reg_remove_crd(reg, name);
	for (i = 0; i < nadd; i++) {
		rc = reg_push(reg, add[i]);
		if (rc) {
			for (; i < nadd; i++)
				entry_free(add[i]);
			rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
			goto out;
		}
		add[i] = NULL;
	}
	if (at >= 0 && nadd) {
		/* rotate the new entries back to the old position */
		struct kp_apiserver__res_entry **tmp = malloc(nadd * sizeof(*tmp));
		if (tmp) {
			memcpy(tmp, reg->v + reg->n - (int)nadd, nadd * sizeof(*tmp));
			memmove(reg->v + at + nadd, reg->v + at, (size_t)(reg->n - (int)nadd - at) * sizeof(*tmp));
			memcpy(reg->v + at, tmp, nadd * sizeof(*tmp));
			free(tmp);
		}
	}
	nadd = 0;
out:
	for (i = 0; add && i < nadd; i++)
		entry_free(add[i]);
	free(add);
	json_decref(crd);
	return rc;
}

/* ---- YAML to JSON (CRD files) ---- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static json_t *plain_scalar(const char *s)
{
	const char *d = s;
	char *end;

	if (!strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL") || !strcmp(s, "~") || !*s)
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_false();
	if (*d == '-' || *d == '+')
		d++;
	if (all_digits(d)) {
		int64_t v;
		if (kp_parse_i64(*s == '+' ? s + 1 : s, &v) == KP_OK)
			return json_integer(v);
	}
	if (*d >= '0' && *d <= '9') {
		errno = 0;
		double f = strtod(s, &end);
		if (!*end && !errno && strpbrk(s, ".eE"))
			return json_real(f);
	}
	return json_string(s);
}

struct ybuild {
	json_t *stack[128];
	json_t *keys[128];      /* pending key per mapping level */
	int depth;
};

static kp_err yb_add(struct ybuild *b, json_t *v)
{
	json_t *top;

	if (!v)
		return KP_ERR_NOMEM;
	if (b->depth == 0) {
		json_decref(v);
		return KP_ERR_INVALID;
	}
	top = b->stack[b->depth - 1];
	if (json_is_array(top))
		return json_array_append_new(top, v) ? KP_ERR_NOMEM : KP_OK;
	if (!b->keys[b->depth - 1]) {
		if (!json_is_string(v)) {
			/* non-string key: use its text form */
			char *t = json_dumps(v, JSON_ENCODE_ANY);
			json_decref(v);
			v = json_string(t ? t : "");
			free(t);
			if (!v)
				return KP_ERR_NOMEM;
		}
		b->keys[b->depth - 1] = v;
		return KP_OK;
	}
	int r = json_object_set_new(top, json_string_value(b->keys[b->depth - 1]), v);
	json_decref(b->keys[b->depth - 1]);
	b->keys[b->depth - 1] = NULL;
	return r ? KP_ERR_NOMEM : KP_OK;
}

json_t *kp_apiserver__res_yaml_docs(const char *data, size_t len, struct kp_errbuf *eb)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct ybuild b;
	json_t *docs = json_array();
	bool done = false;
	kp_err rc = KP_OK;

	memset(&b, 0, sizeof(b));
	if (!docs || !yaml_parser_initialize(&p)) {
		json_decref(docs);
		kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	while (!done && !rc) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = kp_errf(eb, KP_ERR_INVALID, "yaml: line %zu: %s", p.problem_mark.line + 1,
				     p.problem ? p.problem : "syntax error");
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			b.stack[0] = docs, b.depth = 1;
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT: {
			json_t *c = ev.type == YAML_MAPPING_START_EVENT ? json_object() : json_array();
			if (b.depth >= (int)KP_ARRAY_LEN(b.stack)) {
				json_decref(c);
				rc = kp_errf(eb, KP_ERR_LIMIT, "yaml: nesting deeper than %zu",
					     KP_ARRAY_LEN(b.stack));
				break;
			}
			rc = yb_add(&b, json_incref(c));
			if (!rc) {
				b.keys[b.depth] = NULL;
				b.stack[b.depth++] = c;
			}
			json_decref(c);
			if (rc)
				kp_errf(eb, rc, "yaml: bad structure");
			break;
		}
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (b.depth > 1) {
				json_decref(b.keys[b.depth - 1]);
				b.keys[b.depth - 1] = NULL;
				b.depth--;
			}
			break;
		case YAML_SCALAR_EVENT: {
			const char *s = (const char *)ev.data.scalar.value;
			json_t *v;
			if (ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev.data.scalar.tag)
				v = plain_scalar(s);
			else
				v = json_stringn(s, ev.data.scalar.length);
			rc = yb_add(&b, v);
			if (rc)
				kp_errf(eb, rc, "yaml: line %zu: bad scalar", ev.start_mark.line + 1);
			break;
		}
		case YAML_ALIAS_EVENT:
			rc = kp_errf(eb, KP_ERR_INVALID, "yaml: line %zu: aliases are not supported",
				     ev.start_mark.line + 1);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	for (int i = 0; i < (int)KP_ARRAY_LEN(b.keys); i++)
		json_decref(b.keys[i]);
	yaml_parser_delete(&p);
	if (rc) {
		json_decref(docs);
		return NULL;
	}
	/* drop empty documents (a leading "---" after comments) */
	for (size_t i = json_array_size(docs); i-- > 0;)
		if (json_is_null(json_array_get(docs, i)))
			json_array_remove(docs, i);
	return docs;
}

static kp_err load_crd_file(struct kp_apiserver__reg *reg, const char *path, struct kp_errbuf *eb)
{
	char *data = NULL;
	size_t len = 0, i;
	json_t *docs;
	kp_err rc = kp_kobj_read_file(path, 16u << 20, &data, &len, eb);

	if (rc)
		return rc;
	docs = kp_apiserver__res_yaml_docs(data, len, eb);
	free(data);
	if (!docs) {
		kp_err_prefix(eb, "%s", path);
		return eb ? eb->code : KP_ERR_INVALID;
	}
	for (i = 0; i < json_array_size(docs) && !rc; i++) {
		const json_t *d = json_array_get(docs, i);
		const char *kind = kp_kobj_str(d, "kind");
		if (!kind || strcmp(kind, "CustomResourceDefinition") != 0)
			continue;
		rc = kp_apiserver__reg_add_crd(reg, d, eb);
		if (rc)
			kp_err_prefix(eb, "%s", path);
	}
	json_decref(docs);
	return rc;
}

static int yaml_name(const struct dirent *d)
{
	size_t l = strlen(d->d_name);
	return d->d_name[0] != '.' &&
	       ((l > 5 && strcmp(d->d_name + l - 5, ".yaml") == 0) ||
		(l > 4 && strcmp(d->d_name + l - 4, ".yml") == 0));
}

kp_err kp_apiserver__reg_new(struct kp_apiserver__reg **out, const char *crd_dir, struct kp_errbuf *eb)
{
	struct kp_apiserver__reg *reg = calloc(1, sizeof(*reg));
	struct dirent **names = NULL;
	kp_err rc = KP_OK;
	int n = 0;

	*out = NULL;
	if (!reg)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	reg->now = default_now;
	for (size_t i = 0; i < KP_ARRAY_LEN(builtins); i++) {
		const struct builtin *b = &builtins[i];
		struct kp_apiserver__res_entry *e = calloc(1, sizeof(*e));
		char lk[sizeof(e->list_kind_buf)];
		if (!e || reg_push(reg, e)) {
			free(e);
			rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
			goto fail;
		}
		snprintf(lk, sizeof(lk), "%sList", b->kind);
		e->r.group = b->group;
		e->r.version = b->version;
		e->r.kind = b->kind;
		e->crd_name = NULL;
		e->r.plural = b->plural;
		e->r.singular = b->singular;
		e->r.short_names = b->shorts;
		e->r.categories = b->cats;
		e->r.namespaced = b->namespaced;
		e->r.has_status = kp_apiserver__res_list_has(b->subs, "status");
		e->r.has_scale = kp_apiserver__res_list_has(b->subs, "scale");
		e->r.storage_version = b->version;
		e->r.builtin = true;
		e->r.storage_group = strcmp(b->group, "events.k8s.io") == 0 ? "" : NULL;   /* events.c */
		e->subresources = b->subs;
		memcpy(e->list_kind_buf, lk, sizeof(e->list_kind_buf));
		e->r.list_kind = e->list_kind_buf;
	}
	if (crd_dir) {
		n = scandir(crd_dir, &names, yaml_name, alphasort);
		if (n < 0) {
			rc = kp_errf(eb, KP_ERR_IO, "scan %s: %s", crd_dir, strerror(errno));
			goto fail;
		}
		for (int i = 0; i < n && !rc; i++) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", crd_dir, names[i]->d_name);
			rc = load_crd_file(reg, path, eb);
		}
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
		if (rc)
			goto fail;
	}
	*out = reg;
	return KP_OK;
fail:
	kp_apiserver__reg_free(reg);
	return rc;
}
