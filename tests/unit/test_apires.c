/*
 * test_apires.c - the API surface of `karpenter up`: registry, discovery
 * (plain and aggregated), OpenAPI v3, Table printing, the three patch
 * formats, validation messages, defaulting and v1 <-> v1beta1 conversion.
 * Run from the repository root (reads deploy/crds and tests/fixtures/apires).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/base.h"
#include "apiserver/apires.h"
#include "apiserver/apires_int.h"

#define FIX "tests/fixtures/apires/"

/* 2024-01-01T01:00:00Z */
static int64_t fixed_now(void *ctx)
{
	(void)ctx;
	return 1704070800;
}

static struct kp_apiserver__reg *reg_new(void)
{
	struct kp_errbuf eb = {0};
	struct kp_apiserver__reg *reg = NULL;
	kp_err rc = kp_apiserver__reg_new(&reg, "deploy/crds", &eb);
	if (rc)
		fprintf(stderr, "registry: %s\n", eb.msg);
	assert_int_equal(rc, KP_OK);
	kp_apiserver__reg_set_clock(reg, fixed_now, NULL);
	return reg;
}

static json_t *load(const char *name)
{
	char path[256];
	json_error_t je;
	json_t *j;
	snprintf(path, sizeof(path), FIX "%s", name);
	j = json_load_file(path, 0, &je);
	if (!j)
		fprintf(stderr, "%s: %s\n", path, je.text);
	assert_non_null(j);
	return j;
}

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
	if (!j)
		fprintf(stderr, "bad test json: %s\n", je.text);
	assert_non_null(j);
	return j;
}

static void assert_json_eq(const json_t *got, const char *want_text)
{
	json_t *want = parse(want_text);
	if (!json_equal((json_t *)got, want)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		assert_string_equal(g ? g : "NULL", w);
		free(g);
		free(w);
	}
	json_decref(want);
}

static const char *sat(const json_t *o, const char *path)
{
	json_t *v = json_object_get(o, path);
	return json_string_value(v);
}

static const json_t *at(const json_t *o, const char *dotted)
{
	char key[128];
	const char *p = dotted;
	while (o && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		memcpy(key, p, n);
		key[n] = 0;
		if (json_is_array(o)) {
			int64_t i;
			assert_int_equal(kp_parse_i64(key, &i), KP_OK);
			o = json_array_get(o, (size_t)i);
		} else {
			o = json_object_get(o, key);
		}
		p += n + (dot ? 1 : 0);
	}
	return o;
}

static const char *sp(const json_t *o, const char *dotted)
{
	const char *s = json_string_value(at(o, dotted));
	return s ? s : "(missing)";
}

/* ---- registry ---- */

static void test_registry_lookups(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	const struct kp_apiserver__res *np = kp_apiserver__reg_find(reg, "karpenter.sh", "v1", "nodepools");
	const struct kp_apiserver__res *npb = kp_apiserver__reg_find(reg, "karpenter.sh", "v1beta1", "nodepools");
	const struct kp_apiserver__res *nc = kp_apiserver__reg_find_kind(reg, "karpenter.k8s.aws", "v1", "EC2NodeClass");
	const struct kp_apiserver__res *po = kp_apiserver__reg_find(reg, "", "v1", "pods");
	const struct kp_apiserver__res *deploy = kp_apiserver__reg_find(reg, "apps", "v1", "deployments");
	(void)state;

	assert_non_null(np);
	assert_non_null(npb);
	assert_non_null(nc);
	assert_string_equal(np->kind, "NodePool");
	assert_string_equal(np->list_kind, "NodePoolList");
	assert_string_equal(npb->storage_version, "v1");
	assert_false(np->namespaced);
	assert_true(np->has_status);
	assert_true(np->has_scale);
	assert_false(np->builtin);
	assert_string_equal(np->categories[0], "karpenter");
	assert_string_equal(nc->short_names[0], "ec2nc");
	assert_string_equal(po->short_names[0], "po");
	assert_string_equal(po->categories[0], "all");
	assert_true(po->namespaced && po->builtin);
	assert_string_equal(deploy->list_kind, "DeploymentList");
	assert_true(deploy->has_scale);
	assert_null(kp_apiserver__reg_find(reg, "karpenter.sh", "v2", "nodepools"));
	assert_null(kp_apiserver__reg_at(reg, 1000));

	/* remove and re-add a CRD: its entries disappear and come back */
	kp_apiserver__reg_remove_crd(reg, "nodepools.karpenter.sh");
	assert_null(kp_apiserver__reg_find(reg, "karpenter.sh", "v1", "nodepools"));
	assert_non_null(kp_apiserver__reg_find(reg, "karpenter.sh", "v1", "nodeclaims"));
	kp_apiserver__reg_free(reg);
}

static void test_registry_add_crd(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	struct kp_errbuf eb = {0};
	json_t *crd = parse("{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
			    "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
			    "\"scope\":\"Namespaced\",\"names\":{\"kind\":\"Widget\",\"plural\":\"widgets\","
			    "\"shortNames\":[\"wg\"]},\"versions\":[{\"name\":\"v1alpha1\",\"served\":true,"
			    "\"storage\":false},{\"name\":\"v1\",\"served\":true,\"storage\":true,"
			    "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\"}}}]}}");
	const struct kp_apiserver__res *w;
	json_t *groups;
	(void)state;

	assert_int_equal(kp_apiserver__reg_add_crd(reg, crd, &eb), KP_OK);
	w = kp_apiserver__reg_find(reg, "example.com", "v1alpha1", "widgets");
	assert_non_null(w);
	assert_string_equal(w->singular, "widget");
	assert_string_equal(w->list_kind, "WidgetList");
	assert_string_equal(w->storage_version, "v1");
	assert_true(w->namespaced);
	groups = kp_apiserver__reg_groups(reg);
	const json_t *gl = json_object_get(groups, "groups");
	bool found = false;
	for (size_t i = 0; i < json_array_size(gl); i++) {
		const json_t *g = json_array_get(gl, i);
		if (!strcmp(sat(g, "name"), "example.com")) {
			found = true;
			/* v1 is preferred over v1alpha1 */
			assert_string_equal(sp(g, "preferredVersion.version"), "v1");
			assert_string_equal(sp(g, "versions.0.groupVersion"), "example.com/v1");
		}
	}
	assert_true(found);
	json_decref(groups);
	/* a CRD without versions is refused with a message */
	json_t *bad = parse("{\"metadata\":{\"name\":\"x.example.com\"},\"spec\":{\"versions\":[]}}");
	assert_int_equal(kp_apiserver__reg_add_crd(reg, bad, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "spec.versions"));
	json_decref(bad);
	json_decref(crd);
	kp_apiserver__reg_free(reg);
}

/* ---- discovery ---- */

static const json_t *find_named(const json_t *arr, const char *field, const char *name)
{
	for (size_t i = 0; i < json_array_size(arr); i++)
		if (sat(json_array_get(arr, i), field) && !strcmp(sat(json_array_get(arr, i), field), name))
			return json_array_get(arr, i);
	return NULL;
}

static void test_discovery_documents(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	json_t *api = kp_apiserver__reg_core_versions(reg);
	json_t *groups = kp_apiserver__reg_groups(reg);
	json_t *core = kp_apiserver__reg_resource_list(reg, "", "v1");
	json_t *ksh = kp_apiserver__reg_resource_list(reg, "karpenter.sh", "v1");
	const json_t *r;
	(void)state;

	assert_string_equal(sat(api, "kind"), "APIVersions");
	assert_string_equal(sp(api, "versions.0"), "v1");
	assert_string_equal(sat(groups, "kind"), "APIGroupList");
	r = find_named(json_object_get(groups, "groups"), "name", "karpenter.sh");
	assert_non_null(r);
	assert_string_equal(sp(r, "preferredVersion.groupVersion"), "karpenter.sh/v1");
	assert_int_equal(json_array_size(json_object_get(r, "versions")), 2);
	assert_string_equal(sp(r, "versions.1.version"), "v1beta1");

	assert_string_equal(sat(core, "groupVersion"), "v1");
	r = find_named(json_object_get(core, "resources"), "name", "pods");
	assert_non_null(r);
	assert_string_equal(sat(r, "kind"), "Pod");
	assert_true(json_is_true(json_object_get(r, "namespaced")));
	assert_string_equal(sp(r, "shortNames.0"), "po");
	r = find_named(json_object_get(core, "resources"), "name", "pods/eviction");
	assert_non_null(r);
	assert_string_equal(sat(r, "group"), "policy");
	assert_string_equal(sat(r, "kind"), "Eviction");
	assert_string_equal(sp(r, "verbs.0"), "create");
	r = find_named(json_object_get(core, "resources"), "name", "namespaces");
	assert_null(find_named(json_object_get(r, "verbs"), "x", "deletecollection"));

	r = find_named(json_object_get(ksh, "resources"), "name", "nodepools/scale");
	assert_non_null(r);
	assert_string_equal(sat(r, "group"), "autoscaling");
	assert_non_null(find_named(json_object_get(ksh, "resources"), "name", "nodeclaims/status"));
	assert_null(kp_apiserver__reg_resource_list(reg, "karpenter.sh", "v9"));
	json_decref(api);
	json_decref(groups);
	json_decref(core);
	json_decref(ksh);
	kp_apiserver__reg_free(reg);
}

static void test_discovery_aggregated(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	json_t *core = kp_apiserver__reg_aggregated(reg, true);
	json_t *apis = kp_apiserver__reg_aggregated(reg, false);
	const json_t *it, *res, *sub;
	(void)state;

	assert_string_equal(sat(core, "kind"), "APIGroupDiscoveryList");
	assert_string_equal(sat(core, "apiVersion"), "apidiscovery.k8s.io/v2");
	assert_int_equal(json_array_size(json_object_get(core, "items")), 1);
	it = json_array_get(json_object_get(core, "items"), 0);
	assert_null(json_object_get(json_object_get(it, "metadata"), "name"));
	assert_string_equal(sp(it, "versions.0.version"), "v1");
	assert_string_equal(sp(it, "versions.0.freshness"), "Current");
	res = find_named(at(it, "versions.0.resources"), "resource", "nodes");
	assert_non_null(res);
	assert_string_equal(sat(res, "scope"), "Cluster");
	assert_string_equal(sp(res, "responseKind.kind"), "Node");
	assert_string_equal(sp(res, "singularResource"), "node");

	it = NULL;
	for (size_t i = 0; i < json_array_size(json_object_get(apis, "items")); i++) {
		const json_t *g = json_array_get(json_object_get(apis, "items"), i);
		if (!strcmp(sp(g, "metadata.name"), "apps"))
			it = g;
	}
	assert_non_null(it);
	res = find_named(at(it, "versions.0.resources"), "resource", "deployments");
	assert_non_null(res);
	assert_string_equal(sp(res, "shortNames.0"), "deploy");
	assert_string_equal(sp(res, "categories.0"), "all");
	sub = find_named(json_object_get(res, "subresources"), "subresource", "scale");
	assert_non_null(sub);
	assert_string_equal(sp(sub, "responseKind.group"), "autoscaling");
	assert_string_equal(sp(sub, "responseKind.kind"), "Scale");
	json_decref(core);
	json_decref(apis);
	kp_apiserver__reg_free(reg);
}

/* ---- OpenAPI ---- */

static void test_openapi_index_and_doc(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	json_t *idx = kp_apiserver__reg_openapi_index(reg);
	const char *url;
	char before[256];
	json_t *doc;
	const json_t *np, *patch;
	(void)state;

	/* keys contain dots and slashes: look them up directly */
	url = sat(json_object_get(json_object_get(idx, "paths"), "apis/karpenter.sh/v1"), "serverRelativeURL");
	assert_non_null(url);
	assert_memory_equal(url, "/openapi/v3/apis/karpenter.sh/v1?hash=", 38);
	snprintf(before, sizeof(before), "%s", url);
	assert_non_null(json_object_get(json_object_get(idx, "paths"), "api/v1"));

	doc = kp_apiserver__reg_openapi_doc(reg, url); /* the query string is ignored */
	assert_non_null(doc);
	assert_string_equal(sat(doc, "openapi"), "3.0.0");
	np = json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "sh.karpenter.v1.NodePool");
	assert_non_null(np);
	assert_string_equal(sp(np, "x-kubernetes-group-version-kind.0.kind"), "NodePool");
	assert_string_equal(sp(np, "x-kubernetes-group-version-kind.0.group"), "karpenter.sh");
	assert_string_equal(sp(np, "properties.metadata.allOf.0.$ref"),
			    "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
	assert_string_equal(sp(np, "properties.spec.properties.template.properties.spec.properties.expireAfter.default"),
			    "720h");
	assert_non_null(json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
					"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
	patch = json_object_get(json_object_get(json_object_get(doc, "paths"), "/apis/karpenter.sh/v1/nodepools/{name}"),
				"patch");
	assert_non_null(patch);
	assert_string_equal(sp(patch, "x-kubernetes-group-version-kind.kind"), "NodePool");
	assert_non_null(find_named(json_object_get(patch, "parameters"), "name", "fieldValidation"));
	assert_non_null(json_object_get(at(patch, "requestBody.content"), "application/merge-patch+json"));
	assert_null(json_object_get(at(patch, "requestBody.content"), "application/strategic-merge-patch+json"));
	json_decref(doc);

	doc = kp_apiserver__reg_openapi_doc(reg, "api/v1");
	assert_non_null(doc);
	assert_string_equal(sp(json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
					       "io.k8s.api.core.v1.Pod"),
			       "x-kubernetes-group-version-kind.0.kind"),
			    "Pod");
	assert_non_null(json_object_get(json_object_get(doc, "paths"), "/api/v1/namespaces/{namespace}/pods/{name}"));
	json_decref(doc);
	assert_null(kp_apiserver__reg_openapi_doc(reg, "apis/nope.example/v1"));
	assert_null(kp_apiserver__reg_openapi_doc(reg, "garbage"));

	/* changing a CRD changes the hash kubectl caches by */
	struct kp_errbuf eb = {0};
	kp_apiserver__reg_remove_crd(reg, "nodeclaims.karpenter.sh");
	json_decref(idx);
	idx = kp_apiserver__reg_openapi_index(reg);
	url = sat(json_object_get(json_object_get(idx, "paths"), "apis/karpenter.sh/v1"), "serverRelativeURL");
	assert_string_not_equal(url, before);
	(void)eb;
	json_decref(idx);
	kp_apiserver__reg_free(reg);
}

/* ---- tables ---- */

static const char *col_name(const json_t *t, size_t i)
{
	return sat(json_array_get(json_object_get(t, "columnDefinitions"), i), "name");
}

static const json_t *cell(const json_t *t, size_t row, size_t c)
{
	return json_array_get(json_object_get(json_array_get(json_object_get(t, "rows"), row), "cells"), c);
}

static void test_table_pod(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	json_t *pod = load("pod_running.json");
	json_t *t = kp_apiserver__reg_table(reg, kp_apiserver__reg_find(reg, "", "v1", "pods"), pod, "Metadata");
	(void)state;

	assert_string_equal(sat(t, "kind"), "Table");
	assert_string_equal(sat(t, "apiVersion"), "meta.k8s.io/v1");
	assert_string_equal(col_name(t, 0), "Name");
	assert_string_equal(col_name(t, 1), "Ready");
	assert_string_equal(col_name(t, 2), "Status");
	assert_string_equal(col_name(t, 3), "Restarts");
	assert_string_equal(col_name(t, 4), "Age");
	assert_string_equal(col_name(t, 5), "IP");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(t, "columnDefinitions"), 5),
							    "priority")), 1);
	assert_string_equal(col_name(t, 8), "Readiness Gates");
	assert_string_equal(json_string_value(cell(t, 0, 0)), "web-0");
	assert_string_equal(json_string_value(cell(t, 0, 1)), "1/2");
	assert_string_equal(json_string_value(cell(t, 0, 2)), "CrashLoopBackOff");
	assert_string_equal(json_string_value(cell(t, 0, 3)), "3 (5m ago)");
	assert_string_equal(json_string_value(cell(t, 0, 4)), "60m");
	assert_string_equal(json_string_value(cell(t, 0, 5)), "10.0.1.17");
	assert_string_equal(json_string_value(cell(t, 0, 6)), "ip-10-0-1-5.ec2.internal");
	assert_string_equal(json_string_value(cell(t, 0, 7)), "<none>");
	assert_string_equal(sp(t, "rows.0.object.kind"), "PartialObjectMetadata");
	assert_string_equal(sp(t, "rows.0.object.metadata.name"), "web-0");
	assert_string_equal(sp(t, "metadata.resourceVersion"), "7");
	json_decref(t);

	/* a list, all containers ready, being deleted */
	json_object_set_new(json_array_get(at(pod, "status.containerStatuses"), 1), "state",
			    parse("{\"running\":{}}"));
	json_object_set_new(json_array_get(at(pod, "status.containerStatuses"), 1), "ready", json_true());
	json_t *list = json_pack("{s:s, s:{s:s}, s:[O]}", "kind", "PodList", "metadata", "resourceVersion", "9",
				 "items", pod);
	t = kp_apiserver__reg_table(reg, kp_apiserver__reg_find(reg, "", "v1", "pods"), list, "None");
	assert_string_equal(json_string_value(cell(t, 0, 1)), "2/2");
	assert_string_equal(json_string_value(cell(t, 0, 2)), "Running");
	assert_null(json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object"));
	assert_string_equal(sp(t, "metadata.resourceVersion"), "9");
	json_decref(t);
	json_object_set_new(json_object_get(pod, "metadata"), "deletionTimestamp", json_string("2024-01-01T00:59:00Z"));
	t = kp_apiserver__reg_table(reg, kp_apiserver__reg_find(reg, "", "v1", "pods"), pod, "Object");
	assert_string_equal(json_string_value(cell(t, 0, 2)), "Terminating");
	assert_string_equal(sp(t, "rows.0.object.kind"), "Pod");
	json_decref(t);
	json_decref(list);
	json_decref(pod);
	kp_apiserver__reg_free(reg);
}

static void test_table_node_and_nodepool(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	json_t *node = load("node.json"), *np = load("nodepool_v1.json");
	json_t *t = kp_apiserver__reg_table(reg, kp_apiserver__reg_find(reg, "", "v1", "nodes"), node, NULL);
	(void)state;

	assert_string_equal(col_name(t, 1), "Status");
	assert_string_equal(col_name(t, 2), "Roles");
	assert_string_equal(col_name(t, 4), "Version");
	assert_string_equal(json_string_value(cell(t, 0, 1)), "Ready,SchedulingDisabled");
	assert_string_equal(json_string_value(cell(t, 0, 2)), "control-plane,worker");
	assert_string_equal(json_string_value(cell(t, 0, 3)), "4h");
	assert_string_equal(json_string_value(cell(t, 0, 4)), "v1.32.1");
	assert_string_equal(json_string_value(cell(t, 0, 5)), "10.0.1.5");
	assert_string_equal(json_string_value(cell(t, 0, 6)), "<none>");
	json_decref(t);

	/* CRD kind: NAME plus additionalPrinterColumns */
	t = kp_apiserver__reg_table(reg, kp_apiserver__reg_find(reg, "karpenter.sh", "v1", "nodepools"), np, NULL);
	assert_string_equal(col_name(t, 0), "Name");
	assert_string_equal(col_name(t, 1), "NodeClass");
	assert_string_equal(col_name(t, 2), "Nodes");
	assert_string_equal(col_name(t, 3), "Ready");
	assert_string_equal(col_name(t, 4), "Age");
	assert_string_equal(col_name(t, 5), "Weight");
	assert_string_equal(json_string_value(cell(t, 0, 0)), "default");
	assert_string_equal(json_string_value(cell(t, 0, 1)), "default");
	assert_string_equal(json_string_value(cell(t, 0, 2)), "3");
	assert_string_equal(json_string_value(cell(t, 0, 3)), "True");
	assert_string_equal(json_string_value(cell(t, 0, 4)), "60m");
	assert_int_equal(json_integer_value(cell(t, 0, 5)), 10);
	assert_string_equal(json_string_value(cell(t, 0, 6)), "12");
	assert_string_equal(json_string_value(cell(t, 0, 7)), "48Gi");
	json_decref(t);

	/* NodeClaim columns use escaped dots in label keys; absent values are null */
	json_t *claim = parse("{\"metadata\":{\"name\":\"default-abc\",\"labels\":{\"node.kubernetes.io/instance-type\":"
			      "\"m5.large\",\"karpenter.sh/capacity-type\":\"spot\"}},\"status\":{}}");
	t = kp_apiserver__reg_table(reg, kp_apiserver__reg_find(reg, "karpenter.sh", "v1", "nodeclaims"), claim, NULL);
	assert_string_equal(col_name(t, 1), "Type");
	assert_string_equal(json_string_value(cell(t, 0, 1)), "m5.large");
	assert_string_equal(json_string_value(cell(t, 0, 2)), "spot");
	assert_true(json_is_null(cell(t, 0, 3)));
	json_decref(t);
	json_decref(claim);

	/* Deployments */
	json_t *d = parse("{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"2023-12-29T01:00:00Z\"},"
			  "\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
			  "\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"nginx\"}]}}},"
			  "\"status\":{\"readyReplicas\":2,\"updatedReplicas\":3,\"availableReplicas\":2}}");
	t = kp_apiserver__reg_table(reg, kp_apiserver__reg_find(reg, "apps", "v1", "deployments"), d, NULL);
	assert_string_equal(col_name(t, 2), "Up-to-date");
	assert_string_equal(json_string_value(cell(t, 0, 1)), "2/3");
	assert_int_equal(json_integer_value(cell(t, 0, 2)), 3);
	assert_string_equal(json_string_value(cell(t, 0, 4)), "3d");
	assert_string_equal(json_string_value(cell(t, 0, 7)), "app=web");
	json_decref(t);
	json_decref(d);
	json_decref(node);
	json_decref(np);
	kp_apiserver__reg_free(reg);
}

/* ---- patches ---- */

static void test_patch_merge_rfc7386(void **state)
{
	/* the examples of RFC 7386 appendix A */
	static const char *const cases[][3] = {
		{"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
		{"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
		{"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
		{"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
		{"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
		{"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
		{"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
		{"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
		{"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
		{"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
		{"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
		{"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
		{"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
	};
	(void)state;
	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++) {
		json_t *o = parse(cases[i][0]), *p = parse(cases[i][1]);
		json_t *r = kp_apiserver__patch_merge(o, p);
		assert_json_eq(r, cases[i][2]);
		json_decref(o);
		json_decref(p);
		json_decref(r);
	}
}

static void test_patch_json_rfc6902(void **state)
{
	struct kp_errbuf eb = {0};
	json_t *o = parse("{\"metadata\":{\"labels\":{\"a/b\":\"1\"}},\"spec\":{\"list\":[1,2,3],\"x\":{\"y\":1}}}");
	json_t *p = parse("["
			  "{\"op\":\"test\",\"path\":\"/metadata/labels/a~1b\",\"value\":\"1\"},"
			  "{\"op\":\"add\",\"path\":\"/spec/list/1\",\"value\":9},"
			  "{\"op\":\"add\",\"path\":\"/spec/list/-\",\"value\":4},"
			  "{\"op\":\"remove\",\"path\":\"/spec/list/0\"},"
			  "{\"op\":\"replace\",\"path\":\"/spec/x/y\",\"value\":\"z\"},"
			  "{\"op\":\"copy\",\"from\":\"/spec/x\",\"path\":\"/spec/x2\"},"
			  "{\"op\":\"move\",\"from\":\"/metadata/labels/a~1b\",\"path\":\"/metadata/labels/c\"}"
			  "]");
	json_t *r = kp_apiserver__patch_json(o, p, &eb);
	(void)state;

	assert_non_null(r);
	assert_json_eq(r, "{\"metadata\":{\"labels\":{\"c\":\"1\"}},\"spec\":{\"list\":[9,2,3,4],"
			  "\"x\":{\"y\":\"z\"},\"x2\":{\"y\":\"z\"}}}");
	json_decref(r);
	json_decref(p);

	/* failures: a failed test, a missing path, an index past the end, move into itself */
	static const char *const bad[][2] = {
		{"[{\"op\":\"test\",\"path\":\"/spec/x/y\",\"value\":2}]", "testing value /spec/x/y failed"},
		{"[{\"op\":\"remove\",\"path\":\"/spec/nope\"}]", "missing path"},
		{"[{\"op\":\"add\",\"path\":\"/spec/list/9\",\"value\":1}]", "missing path"},
		{"[{\"op\":\"replace\",\"path\":\"/nope/x\",\"value\":1}]", "missing path"},
		{"[{\"op\":\"move\",\"from\":\"/spec\",\"path\":\"/spec/x/q\"}]", "inside"},
		{"[{\"op\":\"frob\",\"path\":\"/a\"}]", "unexpected kind"},
		{"{\"op\":\"add\"}", "array"},
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(bad); i++) {
		json_t *bp = parse(bad[i][0]);
		eb.msg[0] = 0;
		assert_null(kp_apiserver__patch_json(o, bp, &eb));
		if (!strstr(eb.msg, bad[i][1]))
			assert_string_equal(eb.msg, bad[i][1]);
		json_decref(bp);
	}
	json_decref(o);
}

static void test_patch_strategic_apply(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	struct kp_errbuf eb = {0};
	json_t *live = load("deploy_live.json"), *patch = load("deploy_apply_patch.json");
	json_t *r = kp_apiserver__patch_strategic(kp_apiserver__reg_find(reg, "apps", "v1", "deployments"), live, patch, &eb);
	const json_t *cs;
	(void)state;

	if (!r)
		fprintf(stderr, "smp: %s\n", eb.msg);
	assert_non_null(r);
	assert_json_eq(at(r, "metadata.finalizers"), "[\"a.example/x\",\"b.example/y\"]");
	assert_int_equal(json_integer_value(at(r, "spec.replicas")), 3);
	assert_json_eq(at(r, "spec.strategy"), "{\"type\":\"Recreate\"}");
	cs = at(r, "spec.template.spec.containers");
	assert_int_equal(json_array_size(cs), 3);
	/* the server-only sidecar keeps its place ahead of the patch's new elements */
	assert_string_equal(sp(cs, "0.name"), "istio-proxy");
	assert_string_equal(sp(cs, "1.name"), "init-db");
	assert_string_equal(sp(cs, "2.name"), "app");
	assert_string_equal(sp(cs, "2.image"), "nginx:1.27");
	assert_json_eq(at(cs, "2.env"), "[{\"name\":\"B\",\"value\":\"2\"},{\"name\":\"C\",\"value\":\"3\"}]");
	assert_json_eq(at(cs, "2.ports"), "[{\"containerPort\":80,\"protocol\":\"TCP\"},{\"containerPort\":8080}]");
	assert_json_eq(at(cs, "2.args"), "[\"--z\"]");
	assert_json_eq(at(r, "spec.template.spec.tolerations"),
		       "[{\"key\":\"k2\",\"operator\":\"Equal\",\"value\":\"v\",\"effect\":\"NoSchedule\"}]");
	assert_json_eq(at(r, "spec.template.spec.volumes"), "[{\"name\":\"cache\",\"emptyDir\":{\"medium\":\"Memory\"}}]");
	/* no directive survives */
	char *dump = json_dumps(r, JSON_COMPACT);
	assert_null(strstr(dump, "$"));
	free(dump);
	/* the input is untouched */
	assert_string_equal(sp(live, "spec.template.spec.containers.0.image"), "nginx:1.25");
	json_decref(r);
	json_decref(live);
	json_decref(patch);
	kp_apiserver__reg_free(reg);
}

static void test_patch_strategic_directives(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	const struct kp_apiserver__res *svc = kp_apiserver__reg_find(reg, "", "v1", "services");
	const struct kp_apiserver__res *pod = kp_apiserver__reg_find(reg, "", "v1", "pods");
	struct kp_errbuf eb = {0};
	static const char *const cases[][4] = {
		/* res, orig, patch, want */
		{"svc", "{\"spec\":{\"ports\":[{\"port\":80,\"name\":\"http\"},{\"port\":443,\"name\":\"https\"}]}}",
		 "{\"spec\":{\"ports\":[{\"port\":443,\"targetPort\":8443}]}}",
		 "{\"spec\":{\"ports\":[{\"port\":80,\"name\":\"http\"},{\"port\":443,\"name\":\"https\","
		 "\"targetPort\":8443}]}}"},
		{"pod", "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"},{\"name\":\"b\",\"image\":\"y\"}]}}",
		 "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"z\"},{\"$patch\":\"replace\"}]}}",
		 "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"z\"}]}}"},
		{"pod", "{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}",
		 "{\"metadata\":{\"labels\":{\"$patch\":\"replace\",\"c\":\"3\"}}}",
		 "{\"metadata\":{\"labels\":{\"c\":\"3\"}}}"},
		{"pod", "{\"metadata\":{\"labels\":{\"a\":\"1\"},\"annotations\":{\"x\":\"y\"}}}",
		 "{\"metadata\":{\"labels\":{\"$patch\":\"delete\"}}}",
		 "{\"metadata\":{\"annotations\":{\"x\":\"y\"}}}"},
		{"pod", "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}",
		 "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}}",
		 "{\"metadata\":{\"finalizers\":[\"a\",\"c\"]}}"},
		{"pod", "{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
		 "{\"metadata\":{\"$setElementOrder/finalizers\":[\"b\",\"a\"]}}",
		 "{\"metadata\":{\"finalizers\":[\"b\",\"a\"]}}"},
		{"pod", "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"},"
			"{\"type\":\"PodScheduled\",\"status\":\"True\"}]}}",
		 "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
		 "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},"
		 "{\"type\":\"PodScheduled\",\"status\":\"True\"}]}}"},
		{"pod", "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"name\":\"a\"}]}}",
		 "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"2\",\"name\":\"b\"}]}}",
		 "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"name\":\"a\"},{\"uid\":\"2\",\"name\":\"b\"}]}}"},
		{"pod", "{\"spec\":{\"containers\":[{\"name\":\"a\",\"command\":[\"x\",\"y\"],"
			"\"volumeMounts\":[{\"mountPath\":\"/a\",\"name\":\"v1\"}]}]}}",
		 "{\"spec\":{\"containers\":[{\"name\":\"a\",\"command\":[\"z\"],"
		 "\"volumeMounts\":[{\"mountPath\":\"/b\",\"name\":\"v2\"}]}]}}",
		 "{\"spec\":{\"containers\":[{\"name\":\"a\",\"command\":[\"z\"],\"volumeMounts\":["
		 "{\"mountPath\":\"/a\",\"name\":\"v1\"},{\"mountPath\":\"/b\",\"name\":\"v2\"}]}]}}"},
	};
	(void)state;

	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++) {
		json_t *o = parse(cases[i][1]), *p = parse(cases[i][2]);
		json_t *r = kp_apiserver__patch_strategic(!strcmp(cases[i][0], "svc") ? svc : pod, o, p, &eb);
		if (!r)
			fprintf(stderr, "case %zu: %s\n", i, eb.msg);
		assert_non_null(r);
		assert_json_eq(r, cases[i][3]);
		json_decref(r);
		json_decref(o);
		json_decref(p);
	}
	/* CRD kinds do not take strategic merge patches */
	json_t *o = parse("{}"), *p = parse("{\"spec\":{}}");
	assert_null(kp_apiserver__patch_strategic(kp_apiserver__reg_find(reg, "karpenter.sh", "v1", "nodepools"), o, p, &eb));
	assert_non_null(strstr(eb.msg, "not supported"));
	json_decref(o);
	json_decref(p);
	kp_apiserver__reg_free(reg);
}

/* ---- validation ---- */

static kp_err validate_np(struct kp_apiserver__reg *reg, const char *mutate_path, const char *value_json,
			  struct kp_errbuf *eb)
{
	const struct kp_apiserver__res *np = kp_apiserver__reg_find(reg, "karpenter.sh", "v1", "nodepools");
	json_t *o = load("nodepool_v1.json");
	kp_err rc;

	if (mutate_path) {
		json_t *p = json_pack("[{s:s, s:s, s:o}]", "op", "add", "path", mutate_path, "value",
				      parse(value_json));
		json_t *r = kp_apiserver__patch_json(o, p, eb);
		assert_non_null(r);
		json_decref(o);
		json_decref(p);
		o = r;
	}
	memset(eb, 0, sizeof(*eb));
	rc = kp_apiserver__reg_validate(reg, np, o, eb);
	json_decref(o);
	return rc;
}

static void test_validate_nodepool(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	struct kp_errbuf eb = {0};
	(void)state;

	assert_int_equal(validate_np(reg, NULL, NULL, &eb), KP_OK);
	assert_int_equal(validate_np(reg, "/spec/template/spec/requirements/0/operator", "\"Inn\"", &eb),
			 KP_ERR_INVALID);
	assert_string_equal(eb.msg, "NodePool.karpenter.sh \"default\" is invalid: "
				    "spec.template.spec.requirements[0].operator: Unsupported value: \"Inn\": supported "
				    "values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\", \"Gt\", \"Lt\", \"Gte\", "
				    "\"Lte\"");
	assert_int_equal(validate_np(reg, "/spec/template/spec/requirements/0/values", "[]", &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "NodePool.karpenter.sh \"default\" is invalid: spec.template.spec.requirements: "
				    "Invalid value: \"array\": requirements with operator 'In' must have a value "
				    "defined");
	assert_int_equal(validate_np(reg, "/spec/template/spec/requirements/1/values", "[\"2\",\"3\"]", &eb),
			 KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "must have a single positive integer value"));
	assert_int_equal(validate_np(reg, "/spec/template/spec/requirements/1/values", "[\"two\"]", &eb),
			 KP_ERR_INVALID);
	assert_int_equal(validate_np(reg, "/spec/weight", "0", &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "NodePool.karpenter.sh \"default\" is invalid: spec.weight: Invalid value: 0: "
				    "spec.weight in body should be greater than or equal to 1");
	assert_int_equal(validate_np(reg, "/spec/weight", "\"heavy\"", &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "spec.weight in body must be of type integer: \"string\""));
	assert_int_equal(validate_np(reg, "/spec/disruption/consolidateAfter", "\"5 minutes\"", &eb),
			 KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "spec.disruption.consolidateAfter in body should match"));
	assert_int_equal(validate_np(reg, "/spec/disruption/budgets/0/schedule", "\"@daily\"", &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "'schedule' must be set with 'duration'"));
	assert_int_equal(validate_np(reg, "/spec/template/metadata/labels/karpenter.sh~1nodepool", "\"x\"", &eb),
			 KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "label \"karpenter.sh/nodepool\" is restricted"));
	assert_int_equal(validate_np(reg, "/spec/template/spec/nodeClassRef", "{\"group\":\"karpenter.k8s.aws\","
									    "\"kind\":\"EC2NodeClass\"}", &eb),
			 KP_ERR_INVALID);
	assert_string_equal(eb.msg, "NodePool.karpenter.sh \"default\" is invalid: "
				    "spec.template.spec.nodeClassRef.name: Required value");
	/* two problems at once: the real server's bracketed list */
	assert_int_equal(validate_np(reg, "/spec/template/spec/requirements/0",
				     "{\"key\":\"kubernetes.io/hostname\",\"operator\":\"Inn\"}", &eb),
			 KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "is invalid: ["));
	assert_non_null(strstr(eb.msg, "Unsupported value: \"Inn\""));
	assert_non_null(strstr(eb.msg, "label \"kubernetes.io/hostname\" is restricted"));

	/* the causes form for the REST core's Status details */
	json_t *bad = load("nodepool_v1.json");
	json_object_set_new(json_object_get(bad, "spec"), "weight", json_integer(500));
	json_t *causes = kp_apiserver__reg_validate_causes(reg, kp_apiserver__reg_find(reg, "karpenter.sh", "v1", "nodepools"), bad);
	assert_int_equal(json_array_size(causes), 1);
	assert_string_equal(sp(causes, "0.field"), "spec.weight");
	assert_string_equal(sp(causes, "0.reason"), "FieldValueInvalid");
	json_decref(causes);
	json_decref(bad);
	kp_apiserver__reg_free(reg);
}

static void test_validate_builtin(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	struct kp_errbuf eb = {0};
	const struct kp_apiserver__res *pod = kp_apiserver__reg_find(reg, "", "v1", "pods");
	json_t *o = parse("{\"metadata\":{\"name\":\"Web_0\"},\"spec\":{\"containers\":[{\"name\":\"a\","
			  "\"resources\":{\"requests\":{\"cpu\":\"lots\"}}}]}}");
	(void)state;

	assert_int_equal(kp_apiserver__reg_validate(reg, pod, o, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "Pod \"Web_0\" is invalid: [metadata.name: Invalid value: \"Web_0\": a "
				       "lowercase RFC 1123 subdomain"));
	assert_non_null(strstr(eb.msg, "spec.containers[0].image: Required value"));
	assert_non_null(strstr(eb.msg, "spec.containers[0].resources.requests[cpu]: Invalid value: \"lots\""));
	json_decref(o);
	o = parse("{\"metadata\":{\"name\":\"web\"},\"spec\":{}}");
	assert_int_equal(kp_apiserver__reg_validate(reg, pod, o, &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "Pod \"web\" is invalid: spec.containers: Required value");
	json_decref(o);
	o = parse("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\","
		  "\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"1Gi\"}}}]}}");
	assert_int_equal(kp_apiserver__reg_validate(reg, pod, o, &eb), KP_OK);
	json_decref(o);
	o = parse("{\"metadata\":{},\"spec\":{}}");
	assert_int_equal(kp_apiserver__reg_validate(reg, kp_apiserver__reg_find(reg, "apps", "v1", "deployments"), o, &eb),
			 KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "Deployment.apps \"\" is invalid: [metadata.name: Required value"));
	assert_non_null(strstr(eb.msg, "spec.selector: Required value"));
	json_decref(o);
	kp_apiserver__reg_free(reg);
}

/* ---- defaulting ---- */

static void test_default_nodepool_and_pod(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	const struct kp_apiserver__res *np = kp_apiserver__reg_find(reg, "karpenter.sh", "v1", "nodepools");
	json_t *o = parse("{\"apiVersion\":\"karpenter.sh/v1\",\"kind\":\"NodePool\",\"metadata\":{\"name\":\"a\"},"
			  "\"spec\":{\"template\":{\"spec\":{\"requirements\":[],\"nodeClassRef\":{\"group\":\"g\","
			  "\"kind\":\"k\",\"name\":\"n\"}}}}}");
	(void)state;

	kp_apiserver__reg_default(reg, np, o);
	assert_string_equal(sp(o, "spec.disruption.consolidateAfter"), "0s");
	assert_string_equal(sp(o, "spec.disruption.consolidationPolicy"), "WhenEmptyOrUnderutilized");
	assert_json_eq(at(o, "spec.disruption.budgets"), "[{\"nodes\":\"10%\"}]");
	assert_string_equal(sp(o, "spec.template.spec.expireAfter"), "720h");
	/* metadata keeps its place and gets nothing from the schema */
	assert_json_eq(json_object_get(o, "metadata"), "{\"name\":\"a\"}");
	json_decref(o);

	/* existing values are kept */
	o = parse("{\"spec\":{\"disruption\":{\"consolidateAfter\":\"Never\",\"budgets\":[{\"nodes\":\"0\"}]},"
		  "\"template\":{\"spec\":{\"expireAfter\":\"Never\"}}}}");
	kp_apiserver__reg_default(reg, np, o);
	assert_string_equal(sp(o, "spec.disruption.consolidateAfter"), "Never");
	assert_json_eq(at(o, "spec.disruption.budgets"), "[{\"nodes\":\"0\"}]");
	assert_string_equal(sp(o, "spec.template.spec.expireAfter"), "Never");
	json_decref(o);

	o = parse("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"nginx\"},"
		  "{\"name\":\"b\",\"image\":\"reg:5000/app:1.2\",\"ports\":[{\"containerPort\":80}]}]}}");
	kp_apiserver__reg_default(reg, kp_apiserver__reg_find(reg, "", "v1", "pods"), o);
	assert_string_equal(sp(o, "spec.restartPolicy"), "Always");
	assert_int_equal(json_integer_value(at(o, "spec.terminationGracePeriodSeconds")), 30);
	assert_string_equal(sp(o, "spec.dnsPolicy"), "ClusterFirst");
	assert_string_equal(sp(o, "spec.schedulerName"), "default-scheduler");
	assert_string_equal(sp(o, "spec.containers.0.imagePullPolicy"), "Always");
	assert_string_equal(sp(o, "spec.containers.1.imagePullPolicy"), "IfNotPresent");
	assert_string_equal(sp(o, "spec.containers.0.terminationMessagePath"), "/dev/termination-log");
	assert_string_equal(sp(o, "spec.containers.1.ports.0.protocol"), "TCP");
	assert_string_equal(sp(o, "status.phase"), "Pending");
	json_decref(o);

	o = parse("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x:1\"}]}}}}");
	kp_apiserver__reg_default(reg, kp_apiserver__reg_find(reg, "apps", "v1", "deployments"), o);
	assert_int_equal(json_integer_value(at(o, "spec.replicas")), 1);
	assert_string_equal(sp(o, "spec.strategy.type"), "RollingUpdate");
	assert_string_equal(sp(o, "spec.template.spec.restartPolicy"), "Always");
	json_decref(o);
	kp_apiserver__reg_free(reg);
}

/* ---- conversion ---- */

static void test_convert_nodepool_round_trip(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	struct kp_errbuf eb = {0};
	const struct kp_apiserver__res *np = kp_apiserver__reg_find(reg, "karpenter.sh", "v1", "nodepools");
	json_t *v1 = load("nodepool_v1.json");
	json_t *beta = kp_apiserver__reg_convert(reg, np, v1, "v1beta1", &eb);
	json_t *back;
	(void)state;

	assert_non_null(beta);
	assert_string_equal(sat(beta, "apiVersion"), "karpenter.sh/v1beta1");
	assert_string_equal(sp(beta, "spec.disruption.consolidationPolicy"), "WhenUnderutilized");
	assert_null(at(beta, "spec.disruption.consolidateAfter"));
	assert_string_equal(sp(beta, "spec.disruption.expireAfter"), "720h");
	assert_null(at(beta, "spec.template.spec.expireAfter"));
	assert_json_eq(at(beta, "spec.template.spec.nodeClassRef"), "{\"kind\":\"EC2NodeClass\",\"name\":\"default\"}");
	assert_null(at(beta, "status.nodes"));
	assert_string_equal(sp(beta, "status.resources.cpu"), "12");
	/* the v1beta1 form validates against the v1beta1 schema */
	assert_int_equal(kp_apiserver__reg_validate(reg, kp_apiserver__reg_find(reg, "karpenter.sh", "v1beta1", "nodepools"), beta,
					    &eb), KP_OK);

	back = kp_apiserver__reg_convert(reg, np, beta, "v1", &eb);
	assert_non_null(back);
	char *want = json_dumps(json_object_get(v1, "spec"), JSON_COMPACT);
	assert_json_eq(json_object_get(back, "spec"), want);
	free(want);
	assert_string_equal(sp(back, "metadata.name"), "default");
	json_decref(back);
	json_decref(beta);
	json_decref(v1);
	kp_apiserver__reg_free(reg);
}

static void test_convert_nodepool_from_v1beta1(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	struct kp_errbuf eb = {0};
	const struct kp_apiserver__res *np = kp_apiserver__reg_find(reg, "karpenter.sh", "v1beta1", "nodepools");
	json_t *beta = load("nodepool_v1beta1.json");
	json_t *v1 = kp_apiserver__reg_convert(reg, np, beta, "v1", &eb);
	json_t *again;
	(void)state;

	assert_non_null(v1);
	assert_string_equal(sat(v1, "apiVersion"), "karpenter.sh/v1");
	assert_string_equal(sp(v1, "spec.disruption.consolidationPolicy"), "WhenEmptyOrUnderutilized");
	assert_string_equal(sp(v1, "spec.disruption.consolidateAfter"), "0s");
	assert_string_equal(sp(v1, "spec.template.spec.expireAfter"), "168h");
	assert_null(at(v1, "spec.disruption.expireAfter"));
	assert_json_eq(at(v1, "spec.template.spec.nodeClassRef"),
		       "{\"group\":\"karpenter.k8s.aws\",\"kind\":\"EC2NodeClass\",\"name\":\"default\"}");
	assert_null(at(v1, "spec.template.spec.kubelet"));
	const json_t *ann = at(v1, "metadata.annotations");
	assert_string_equal(sat(ann, "compatibility.karpenter.sh/v1beta1-kubelet-conversion"), "{\"maxPods\":110}");
	assert_string_equal(sat(ann, "compatibility.karpenter.sh/v1beta1-nodeclass-reference"),
			    "{\"kind\":\"EC2NodeClass\",\"name\":\"default\",\"apiVersion\":\"karpenter.k8s.aws/v1beta1\"}");
	/* stored v1 validates (after defaulting) */
	kp_apiserver__reg_default(reg, kp_apiserver__reg_find(reg, "karpenter.sh", "v1", "nodepools"), v1);
	assert_int_equal(kp_apiserver__reg_validate(reg, kp_apiserver__reg_find(reg, "karpenter.sh", "v1", "nodepools"), v1, &eb),
			 KP_OK);

	/* and back: the original reference and kubelet come out of the annotations */
	again = kp_apiserver__reg_convert(reg, np, v1, "v1beta1", &eb);
	assert_non_null(again);
	assert_json_eq(at(again, "spec.template.spec.nodeClassRef"), "{\"kind\":\"EC2NodeClass\",\"name\":\"default\","
								   "\"apiVersion\":\"karpenter.k8s.aws/v1beta1\"}");
	assert_json_eq(at(again, "spec.template.spec.kubelet"), "{\"maxPods\":110}");
	assert_null(at(again, "metadata.annotations"));
	assert_string_equal(sp(again, "spec.disruption.consolidationPolicy"), "WhenUnderutilized");
	json_decref(again);
	json_decref(v1);
	json_decref(beta);
	kp_apiserver__reg_free(reg);
}

static void test_convert_ec2nodeclass(void **state)
{
	struct kp_apiserver__reg *reg = reg_new();
	struct kp_errbuf eb = {0};
	const struct kp_apiserver__res *nc = kp_apiserver__reg_find(reg, "karpenter.k8s.aws", "v1", "ec2nodeclasses");
	json_t *v1 = parse("{\"apiVersion\":\"karpenter.k8s.aws/v1\",\"kind\":\"EC2NodeClass\",\"metadata\":{\"name\":"
			   "\"default\"},\"spec\":{\"role\":\"r\",\"amiSelectorTerms\":[{\"alias\":\"al2023@latest\"}]}}");
	json_t *beta = kp_apiserver__reg_convert(reg, nc, v1, "v1beta1", &eb), *back;
	(void)state;

	assert_non_null(beta);
	assert_string_equal(sp(beta, "spec.amiFamily"), "AL2023");
	assert_int_equal(json_array_size(at(beta, "spec.amiSelectorTerms")), 0);
	back = kp_apiserver__reg_convert(reg, nc, beta, "v1", &eb);
	assert_json_eq(json_object_get(back, "spec"), "{\"role\":\"r\",\"amiSelectorTerms\":[{\"alias\":\"al2023@latest\"}]}");
	json_decref(back);
	json_decref(beta);
	json_decref(v1);
	kp_apiserver__reg_free(reg);
}

static void test_yaml_docs(void **state)
{
	struct kp_errbuf eb = {0};
	static const char y[] = "# c\n---\na: 1\nb: \"2\"\nc: true\nd: 1.5\ne: ~\nf: 10%\ng: 0s\nh: [x, 'y']\n---\nk: v\n";
	json_t *d = kp_apiserver__res_yaml_docs(y, sizeof(y) - 1, &eb);
	(void)state;

	assert_non_null(d);
	assert_json_eq(d, "[{\"a\":1,\"b\":\"2\",\"c\":true,\"d\":1.5,\"e\":null,\"f\":\"10%\",\"g\":\"0s\","
			  "\"h\":[\"x\",\"y\"]},{\"k\":\"v\"}]");
	json_decref(d);
	assert_null(kp_apiserver__res_yaml_docs("a: [\n", 5, &eb));
	assert_non_null(strstr(eb.msg, "yaml"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_lookups),
		cmocka_unit_test(test_registry_add_crd),
		cmocka_unit_test(test_discovery_documents),
		cmocka_unit_test(test_discovery_aggregated),
		cmocka_unit_test(test_openapi_index_and_doc),
		cmocka_unit_test(test_table_pod),
		cmocka_unit_test(test_table_node_and_nodepool),
		cmocka_unit_test(test_patch_merge_rfc7386),
		cmocka_unit_test(test_patch_json_rfc6902),
		cmocka_unit_test(test_patch_strategic_apply),
		cmocka_unit_test(test_patch_strategic_directives),
		cmocka_unit_test(test_validate_nodepool),
		cmocka_unit_test(test_validate_builtin),
		cmocka_unit_test(test_default_nodepool_and_pod),
		cmocka_unit_test(test_convert_nodepool_round_trip),
		cmocka_unit_test(test_convert_nodepool_from_v1beta1),
		cmocka_unit_test(test_convert_ec2nodeclass),
		cmocka_unit_test(test_yaml_docs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
