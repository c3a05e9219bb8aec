/*
 * discovery.c - the discovery documents kubectl and client libraries read
 * before anything else: GET /api (APIVersions), GET /apis (APIGroupList),
 * GET /api/v1 and /apis/G/V (APIResourceList), and the aggregated form
 * (apidiscovery.k8s.io/v2 APIGroupDiscoveryList) kubectl 1.32 asks for with
 * Accept `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`.
 *
 * Invariants: groups appear in registration order (built-ins first); the
 * versions of a group are in Kubernetes priority order (v1 before v1beta1),
 * the first being the preferred version. Documents are rebuilt on every
 * call from the registry, so installed CRDs appear at once.
 * Cost: O(resources x groups), a few hundred JSON nodes.
 */
#include <string.h>

#include "apiserver/apires_int.h"

static const char *const verbs_all[] = {"create", "delete", "deletecollection", "get", "list",
					"patch", "update", "watch", NULL};
static const char *const verbs_nocoll[] = {"create", "delete", "get", "list", "patch", "update", "watch",
					   NULL};
static const char *const verbs_sub[] = {"get", "patch", "update", NULL};
static const char *const verbs_create[] = {"create", NULL};
static const char *const verbs_get[] = {"get", NULL};

static json_t *str_list(const char *const *v)
{
	json_t *a = json_array();
	for (; a && v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static const char *const *res_verbs(const struct kp_apiserver__res *r)
{
	if (r->builtin && strcmp(r->group, "") == 0 && strcmp(r->plural, "namespaces") == 0)
		return verbs_nocoll;
	return verbs_all;
}

/* The group/version/kind and verbs a subresource answers with. */
static void sub_info(const struct kp_apiserver__res *r, const char *sub, const char **g, const char **v,
		     const char **k, const char *const **verbs)
{
	*g = "", *v = "", *k = r->kind, *verbs = verbs_sub;
	if (strcmp(sub, "scale") == 0)
		*g = "autoscaling", *v = "v1", *k = "Scale";
	else if (strcmp(sub, "eviction") == 0)
		*g = "policy", *v = "v1", *k = "Eviction", *verbs = verbs_create;
	else if (strcmp(sub, "binding") == 0)
		*k = "Binding", *verbs = verbs_create;
	else if (strcmp(sub, "log") == 0)
		*k = "Pod", *verbs = verbs_get;
}

static bool same_gv(const struct kp_apiserver__res *r, const char *group, const char *version)
{
	return strcmp(r->group, group ? group : "") == 0 && strcmp(r->version, version) == 0;
}

json_t *kp_apiserver__reg_core_versions(const struct kp_apiserver__reg *reg)
{
	return json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions", "v1",
			 "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress", "");
}

/* Distinct non-core groups in registration order; returns count. */
static int list_groups(const struct kp_apiserver__reg *reg, const char **out, int max)
{
	int n = 0;
	for (int i = 0; i < reg->n; i++) {
		const char *g = reg->v[i]->r.group;
		bool seen = false;
		if (!g[0])
			continue;
		for (int j = 0; j < n && !seen; j++)
			seen = strcmp(out[j], g) == 0;
		if (!seen && n < max)
			out[n++] = g;
	}
	return n;
}

/* Distinct versions of a group, priority order; returns count. */
static int list_versions(const struct kp_apiserver__reg *reg, const char *group, const char **out, int max)
{
	int n = 0;
	for (int i = 0; i < reg->n; i++) {
		const struct kp_apiserver__res *r = &reg->v[i]->r;
		bool seen = false;
		if (strcmp(r->group, group) != 0)
			continue;
		for (int j = 0; j < n && !seen; j++)
			seen = strcmp(out[j], r->version) == 0;
		if (!seen && n < max)
			out[n++] = r->version;
	}
	/* insertion sort by priority: n is tiny */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && kp_apiserver__res_version_cmp(out[j - 1], out[j]) > 0; j--) {
			const char *t = out[j];
			out[j] = out[j - 1], out[j - 1] = t;
		}
	return n;
}

json_t *kp_apiserver__reg_groups(const struct kp_apiserver__reg *reg)
{
	const char *groups[128], *vers[16];
	int ng = list_groups(reg, groups, 128);
	json_t *list = json_array();
	json_t *doc = json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", list);

	for (int i = 0; doc && i < ng; i++) {
		int nv = list_versions(reg, groups[i], vers, 16);
		json_t *va = json_array();
		char gv[256];
		for (int j = 0; j < nv; j++) {
			snprintf(gv, sizeof(gv), "%s/%s", groups[i], vers[j]);
			json_array_append_new(va, json_pack("{s:s, s:s}", "groupVersion", gv, "version", vers[j]));
		}
		snprintf(gv, sizeof(gv), "%s/%s", groups[i], vers[0]);
		json_array_append_new(list, json_pack("{s:s, s:o, s:{s:s, s:s}}", "name", groups[i], "versions",
						      va, "preferredVersion", "groupVersion", gv, "version",
						      vers[0]));
	}
	return doc;
}

json_t *kp_apiserver__reg_resource_list(const struct kp_apiserver__reg *reg, const char *group, const char *version)
{
	json_t *res = json_array(), *doc;
	char gv[256];
	int found = 0;

	if (!version)
		return NULL;
	for (int i = 0; i < reg->n; i++) {
		const struct kp_apiserver__res_entry *e = reg->v[i];
		const struct kp_apiserver__res *r = &e->r;
		json_t *o;
		if (!same_gv(r, group, version))
			continue;
		found++;
		o = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", r->plural, "singularName", r->singular,
			      "namespaced", r->namespaced, "kind", r->kind, "verbs", str_list(res_verbs(r)));
		if (r->short_names && r->short_names[0])
			json_object_set_new(o, "shortNames", str_list(r->short_names));
		if (r->categories && r->categories[0])
			json_object_set_new(o, "categories", str_list(r->categories));
		json_array_append_new(res, o);
		for (const char *const *s = e->subresources; s && *s; s++) {
			const char *g, *v, *k;
			const char *const *verbs;
			char name[256];
			sub_info(r, *s, &g, &v, &k, &verbs);
			snprintf(name, sizeof(name), "%s/%s", r->plural, *s);
			o = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name, "singularName", "", "namespaced",
				      r->namespaced, "kind", k, "verbs", str_list(verbs));
			if (g[0] || v[0]) {
				json_object_set_new(o, "group", json_string(g));
				json_object_set_new(o, "version", json_string(v));
			}
			json_array_append_new(res, o);
		}
	}
	if (!found) {
		json_decref(res);
		return NULL;
	}
	if (group && group[0])
		snprintf(gv, sizeof(gv), "%s/%s", group, version);
	else
		snprintf(gv, sizeof(gv), "%s", version);
	doc = json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1", "groupVersion", gv,
			"resources", res);
	return doc;
}

static json_t *agg_resource(const struct kp_apiserver__res_entry *e)
{
	const struct kp_apiserver__res *r = &e->r;
	json_t *subs = json_array();
	json_t *o = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:o}", "resource", r->plural, "responseKind",
			      "group", "", "version", "", "kind", r->kind, "scope",
			      r->namespaced ? "Namespaced" : "Cluster", "singularResource", r->singular, "verbs",
			      str_list(res_verbs(r)));

	if (r->short_names && r->short_names[0])
		json_object_set_new(o, "shortNames", str_list(r->short_names));
	if (r->categories && r->categories[0])
		json_object_set_new(o, "categories", str_list(r->categories));
	for (const char *const *s = e->subresources; s && *s; s++) {
		const char *g, *v, *k;
		const char *const *verbs;
		sub_info(r, *s, &g, &v, &k, &verbs);
		json_array_append_new(subs, json_pack("{s:s, s:{s:s, s:s, s:s}, s:o}", "subresource", *s,
						      "responseKind", "group", g, "version", v, "kind", k, "verbs",
						      str_list(verbs)));
	}
	if (json_array_size(subs))
		json_object_set_new(o, "subresources", subs);
	else
		json_decref(subs);
	return o;
}

static json_t *agg_group(const struct kp_apiserver__reg *reg, const char *group)
{
	const char *vers[16];
	int nv = list_versions(reg, group, vers, 16);
	json_t *va = json_array(), *g;

	for (int j = 0; j < nv; j++) {
		json_t *ra = json_array();
		for (int i = 0; i < reg->n; i++)
			if (same_gv(&reg->v[i]->r, group, vers[j]))
				json_array_append_new(ra, agg_resource(reg->v[i]));
		json_array_append_new(va, json_pack("{s:s, s:o, s:s}", "version", vers[j], "resources", ra,
						    "freshness", "Current"));
	}
	g = json_pack("{s:{s:n}, s:o}", "metadata", "creationTimestamp", "versions", va);
	if (group[0])
		json_object_set_new(json_object_get(g, "metadata"), "name", json_string(group));
	return g;
}

json_t *kp_apiserver__reg_aggregated(const struct kp_apiserver__reg *reg, bool core)
{
	json_t *items = json_array();
	json_t *doc = json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
				"apidiscovery.k8s.io/v2", "metadata", "items", items);

	if (core) {
		json_array_append_new(items, agg_group(reg, ""));
	} else {
		const char *groups[128];
		int ng = list_groups(reg, groups, 128);
		for (int i = 0; i < ng; i++)
			json_array_append_new(items, agg_group(reg, groups[i]));
	}
	return doc;
}
