/*
 * openapi.c - OpenAPI v3 for the local control plane: the index at
 * /openapi/v3 and one document per group-version (/openapi/v3/api/v1,
 * /openapi/v3/apis/karpenter.sh/v1, ...).
 *
 * What kubectl 1.32 reads from them:
 *  - `kubectl explain`: components.schemas, the schema whose
 *    x-kubernetes-group-version-kind names the kind, following $ref/allOf;
 *  - `kubectl apply`/`create`: the PATCH operation of each kind (matched by
 *    x-kubernetes-group-version-kind) must list the `fieldValidation` query
 *    parameter, so kubectl relies on server-side validation instead of
 *    downloading /openapi/v2; its requestBody content types decide the
 *    apply patch type. Built-in kinds deliberately do not list
 *    application/strategic-merge-patch+json: their schemas here carry no
 *    patch merge keys, so kubectl falls back to its compiled-in types,
 *    which compute the correct strategic merge patch.
 * CRD kinds get their openAPIV3Schema with metadata replaced by a $ref to
 * ObjectMeta, as the real API server publishes them; built-in kinds get an
 * outline schema (apiVersion, kind, metadata, spec and status objects).
 *
 * Invariants: a document's hash in the index is a digest of the document
 * itself, so it changes whenever a CRD changes it (kubectl caches by it).
 * Cost: each call rebuilds its document (tens of KB for karpenter.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver/apires_int.h"

#define META "io.k8s.apimachinery.pkg.apis.meta.v1."

/* "io.k8s.api.apps.v1.Deployment", "sh.karpenter.v1.NodePool" */
static void schema_name(const struct kp_apiserver__res *r, const char *kind, char *buf, size_t n)
{
	if (r->builtin) {
		char g[128];
		size_t l = strlen(r->group);
		if (!l)
			snprintf(g, sizeof(g), "core");
		else if (strcmp(r->group, "apiextensions.k8s.io") == 0)
			snprintf(g, sizeof(g), "%s", "apiextensions");
		else if (l > 7 && strcmp(r->group + l - 7, ".k8s.io") == 0)
			snprintf(g, sizeof(g), "%.*s", (int)(l - 7), r->group);
		else
			snprintf(g, sizeof(g), "%s", r->group);
		if (strcmp(r->group, "apiextensions.k8s.io") == 0)
			snprintf(buf, n, "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.%s.%s", r->version,
				 kind);
		else
			snprintf(buf, n, "io.k8s.api.%s.%s.%s", g, r->version, kind);
		return;
	}
	/* reverse the DNS labels of the group */
	char rev[256];
	size_t o = 0;
	const char *end = r->group + strlen(r->group);
	while (end > r->group && o + 1 < sizeof(rev)) {
		const char *dot = end;
		while (dot > r->group && dot[-1] != '.')
			dot--;
		o += (size_t)snprintf(rev + o, sizeof(rev) - o, "%s%.*s", o ? "." : "", (int)(end - dot), dot);
		if (o >= sizeof(rev))
			o = sizeof(rev) - 1;
		end = dot > r->group ? dot - 1 : r->group;
	}
	rev[o] = 0;
	snprintf(buf, n, "%s.%s.%s", rev, r->version, kind);
}

static json_t *gvk(const struct kp_apiserver__res *r, const char *kind)
{
	return json_pack("[{s:s, s:s, s:s}]", "group", r->group, "kind", kind, "version", r->version);
}

static json_t *ref(const char *name)
{
	char b[600];
	snprintf(b, sizeof(b), "#/components/schemas/%s", name);
	return json_pack("{s:s}", "$ref", b);
}

static json_t *allof_ref(const char *name, const char *desc)
{
	return json_pack("{s:[o], s:s}", "allOf", ref(name), "description", desc);
}

static const char desc_apiversion[] =
	"APIVersion defines the versioned schema of this representation of an object. Servers should convert "
	"recognized schemas to the latest internal value, and may reject unrecognized values.";
static const char desc_kind[] =
	"Kind is a string value representing the REST resource this object represents. Servers may infer "
	"this from the endpoint the client submits requests to. Cannot be updated. In CamelCase.";
static const char desc_meta[] = "Standard object's metadata.";

/* ObjectMeta and the few meta types it refers to. */
static void add_meta_schemas(json_t *s)
{
	json_t *str = json_pack("{s:s}", "type", "string");
	json_t *strmap = json_pack("{s:s, s:{s:s, s:s}}", "type", "object", "additionalProperties", "type",
				   "string", "default", "");

	json_object_set_new(s, META "Time",
			    json_pack("{s:s, s:s, s:s}", "type", "string", "format", "date-time", "description",
				      "Time is a wrapper around time.Time which supports correct marshaling to "
				      "YAML and JSON."));
	json_object_set_new(s, META "FieldsV1",
			    json_pack("{s:s, s:s}", "type", "object", "description",
				      "FieldsV1 stores a set of fields in a data structure like a Trie, in JSON "
				      "format."));
	json_object_set_new(
		s, META "OwnerReference",
		json_pack("{s:s, s:s, s:[s,s,s,s], s:{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s},"
			  " s:{s:s, s:s}, s:{s:s, s:s}}, s:s}",
			  "type", "object", "description",
			  "OwnerReference contains enough information to let you identify an owning object.",
			  "required", "apiVersion", "kind", "name", "uid", "properties", "apiVersion", "type",
			  "string", "description", "API version of the referent.", "kind", "type", "string",
			  "description", "Kind of the referent.", "name", "type", "string", "description",
			  "Name of the referent.", "uid", "type", "string", "description", "UID of the referent.",
			  "controller", "type", "boolean", "description",
			  "If true, this reference points to the managing controller.", "blockOwnerDeletion",
			  "type", "boolean", "description",
			  "If true, AND if the owner has the \"foregroundDeletion\" finalizer, then the owner "
			  "cannot be deleted from the key-value store until this reference is removed.",
			  "x-kubernetes-map-type", "atomic"));
	json_object_set_new(
		s, META "ManagedFieldsEntry",
		json_pack("{s:s, s:s, s:{s:{s:s}, s:{s:s}, s:o, s:{s:s}, s:{s:s}, s:{s:s}, s:o}}", "type",
			  "object", "description",
			  "ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the "
			  "resource that the fieldset applies to.",
			  "properties", "apiVersion", "type", "string", "fieldsType", "type", "string", "fieldsV1",
			  allof_ref(META "FieldsV1", "FieldsV1 holds the first JSON version format."), "manager",
			  "type", "string", "operation", "type", "string", "subresource", "type", "string", "time",
			  allof_ref(META "Time", "Time is the timestamp of when the ManagedFields entry was "
						 "added.")));
	json_t *props = json_object();
	json_object_set_new(props, "annotations",
			    json_pack("{s:O, s:s}", "additionalProperties", json_object_get(strmap,
											    "additionalProperties"),
				      "description",
				      "Annotations is an unstructured key value map stored with a resource that may "
				      "be set by external tools to store and retrieve arbitrary metadata."));
	json_object_set_new(json_object_get(props, "annotations"), "type", json_string("object"));
	json_object_set_new(props, "labels",
			    json_pack("{s:s, s:O, s:s}", "type", "object", "additionalProperties",
				      json_object_get(strmap, "additionalProperties"), "description",
				      "Map of string keys and values that can be used to organize and categorize "
				      "(scope and select) objects."));
	json_object_set_new(props, "creationTimestamp",
			    allof_ref(META "Time", "CreationTimestamp is a timestamp representing the server "
						   "time when this object was created."));
	json_object_set_new(props, "deletionTimestamp",
			    allof_ref(META "Time", "DeletionTimestamp is RFC 3339 date and time at which this "
						   "resource will be deleted."));
	json_object_set_new(props, "deletionGracePeriodSeconds",
			    json_pack("{s:s, s:s, s:s}", "type", "integer", "format", "int64", "description",
				      "Number of seconds allowed for this object to gracefully terminate."));
	json_object_set_new(props, "finalizers",
			    json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:s}", "type", "array", "items", "type",
				      "string", "default", "", "x-kubernetes-list-type", "set",
				      "x-kubernetes-patch-strategy", "merge", "description",
				      "Must be empty before the object is deleted from the registry."));
	json_object_set_new(props, "generateName",
			    json_pack("{s:s, s:s}", "type", "string", "description",
				      "GenerateName is an optional prefix, used by the server, to generate a "
				      "unique name ONLY IF the Name field has not been provided."));
	json_object_set_new(props, "generation",
			    json_pack("{s:s, s:s, s:s}", "type", "integer", "format", "int64", "description",
				      "A sequence number representing a specific generation of the desired "
				      "state."));
	json_object_set_new(props, "managedFields",
			    json_pack("{s:s, s:{s:[o], s:{}}, s:s}", "type", "array", "items", "allOf",
				      ref(META "ManagedFieldsEntry"), "default", "description",
				      "ManagedFields maps workflow-id and version to the set of fields that are "
				      "managed by that workflow."));
	json_object_set_new(props, "name",
			    json_pack("{s:s, s:s}", "type", "string", "description",
				      "Name must be unique within a namespace."));
	json_object_set_new(props, "namespace",
			    json_pack("{s:s, s:s}", "type", "string", "description",
				      "Namespace defines the space within which each name must be unique."));
	json_object_set_new(props, "ownerReferences",
			    json_pack("{s:s, s:{s:[o], s:{}}, s:s, s:s, s:[s], s:s, s:s}", "type", "array",
				      "items", "allOf", ref(META "OwnerReference"), "default",
				      "x-kubernetes-list-type", "map", "x-kubernetes-list-map-keys", "uid",
				      "x-kubernetes-patch-merge-key", "uid", "x-kubernetes-patch-strategy", "merge",
				      "description",
				      "List of objects depended by this object."));
	json_object_set_new(json_object_get(props, "ownerReferences"), "description",
			json_string("List of objects depended by this object. If ALL objects in the list have "
				    "been deleted, this object will be garbage collected."));
	json_object_set_new(props, "resourceVersion",
			    json_pack("{s:s, s:s}", "type", "string", "description",
				      "An opaque value that represents the internal version of this object."));
	json_object_set_new(props, "selfLink", json_pack("{s:s, s:s}", "type", "string", "description",
							 "Deprecated: selfLink is a legacy read-only field."));
	json_object_set_new(props, "uid", json_pack("{s:s, s:s}", "type", "string", "description",
						    "UID is the unique in time and space value for this object."));
	json_object_set_new(s, META "ObjectMeta",
			    json_pack("{s:s, s:s, s:o}", "type", "object", "description",
				      "ObjectMeta is metadata that all persisted resources must have, which "
				      "includes all objects users must create.",
				      "properties", props));
	json_object_set_new(
		s, META "ListMeta",
		json_pack("{s:s, s:s, s:{s:{s:s}, s:{s:s, s:s}, s:{s:s}, s:{s:s}}}", "type", "object",
			  "description", "ListMeta describes metadata that synthetic resources must have.",
			  "properties", "continue", "type", "string", "remainingItemCount", "type", "integer",
			  "format", "int64", "resourceVersion", "type", "string", "selfLink", "type", "string"));
	json_object_set_new(s, META "Patch",
			    json_pack("{s:s, s:s}", "type", "object", "description",
				      "Patch is provided to give a concrete name and type to the Kubernetes PATCH "
				      "request body."));
	json_object_set_new(s, META "Status",
			    json_pack("{s:s, s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:s}}}", "type",
				      "object", "description", "Status is a return value for calls that don't return "
							       "other objects.",
				      "properties", "apiVersion", "type", "string", "kind", "type", "string",
				      "message", "type", "string", "reason", "type", "string", "code", "type",
				      "integer", "format", "int32"));
	json_decref(str);
	json_decref(strmap);
}

/* The published schema of one kind (new reference). */
static json_t *kind_schema(const struct kp_apiserver__res_entry *e)
{
	const struct kp_apiserver__res *r = &e->r;
	json_t *s;

	if (e->schema) {
		s = json_deep_copy(e->schema);
		json_t *props = json_object_get(s, "properties");
		if (!props) {
			props = json_object();
			json_object_set_new(s, "properties", props);
		}
		json_object_set_new(props, "metadata", allof_ref(META "ObjectMeta", desc_meta));
	} else if (!r->builtin) {
		s = json_pack("{s:s, s:b, s:{s:{s:s}, s:{s:s}, s:o}}", "type", "object",
			      "x-kubernetes-preserve-unknown-fields", 1, "properties", "apiVersion", "type",
			      "string", "kind", "type", "string", "metadata", allof_ref(META "ObjectMeta", desc_meta));
	} else {
		char d[256];
		s = json_pack("{s:s, s:s, s:{s:{s:s, s:s}, s:{s:s, s:s}, s:o}}", "type", "object", "description", "",
			      "properties", "apiVersion", "type", "string", "description", desc_apiversion, "kind",
			      "type", "string", "description", desc_kind, "metadata",
			      allof_ref(META "ObjectMeta", desc_meta));
		snprintf(d, sizeof(d), "%s is a built-in Kubernetes kind served by karpenter up.", r->kind);
		json_object_set_new(s, "description", json_string(d));
		static const char *const with_spec[] = {"Pod", "Node", "Namespace", "Service", "Deployment",
							"ReplicaSet", "DaemonSet", "StatefulSet", "Job",
							"PodDisruptionBudget", "Lease", "CustomResourceDefinition",
							NULL};
		json_t *props = json_object_get(s, "properties");
		if (kp_apiserver__res_list_has(with_spec, r->kind))
			json_object_set_new(props, "spec",
					    json_pack("{s:s, s:b, s:s}", "type", "object",
						      "x-kubernetes-preserve-unknown-fields", 1, "description",
						      "Specification of the desired behavior."));
		if (r->has_status)
			json_object_set_new(props, "status",
					    json_pack("{s:s, s:b, s:s}", "type", "object",
						      "x-kubernetes-preserve-unknown-fields", 1, "description",
						      "Most recently observed status."));
		if (strcmp(r->kind, "ConfigMap") == 0 || strcmp(r->kind, "Secret") == 0) {
			json_object_set_new(props, "data",
					    json_pack("{s:s, s:{s:s}}", "type", "object", "additionalProperties",
						      "type", "string"));
			json_object_set_new(props, "type", json_pack("{s:s}", "type", "string"));
		}
	}
	if (s)
		json_object_set_new(s, "x-kubernetes-group-version-kind", gvk(r, r->kind));
	return s;
}

static json_t *list_schema(const struct kp_apiserver__res *r, const char *item_name)
{
	json_t *s = json_pack("{s:s, s:s, s:[s], s:{s:{s:s}, s:{s:s, s:o}, s:{s:s}, s:o}}", "type", "object",
			      "description", "", "required", "items", "properties", "apiVersion", "type", "string",
			      "items", "type", "array", "items", ref(item_name), "kind", "type", "string",
			      "metadata", allof_ref(META "ListMeta", "Standard list metadata."));
	char d[256];
	snprintf(d, sizeof(d), "%s is a list of %s", r->list_kind, r->kind);
	json_object_set_new(s, "description", json_string(d));
	json_object_set_new(s, "x-kubernetes-group-version-kind", gvk(r, r->list_kind));
	return s;
}

static json_t *param(const char *name, const char *in, const char *desc)
{
	return json_pack("{s:s, s:s, s:s, s:{s:s, s:b}}", "name", name, "in", in, "description", desc, "schema",
			 "type", "string", "uniqueItems", 1);
}

static json_t *op(const struct kp_apiserver__res *r, const char *kind, const char *action, const char *opid,
		  const char *resp_schema)
{
	json_t *o = json_pack("{s:s, s:s, s:o, s:{s:{s:s, s:{s:{s:o}}}}}", "operationId", opid,
			      "x-kubernetes-action", action, "x-kubernetes-group-version-kind",
			      json_pack("{s:s, s:s, s:s}", "group", r->group, "version", r->version, "kind", kind),
			      "responses", "200", "description", "OK", "content", "application/json", "schema",
			      ref(resp_schema));
	return o;
}

static void write_ops(json_t *o, const struct kp_apiserver__res *r, bool builtin, const char *name)
{
	json_t *params = json_array();
	json_array_append_new(params, param("dryRun", "query", "When present, indicates that modifications "
								 "should not be persisted."));
	json_array_append_new(params, param("fieldManager", "query", "fieldManager is a name associated with "
									 "the actor or entity that is making "
									 "these changes."));
	json_array_append_new(params, param("fieldValidation", "query",
					    "fieldValidation instructs the server on how to handle objects in "
					    "the request containing unknown or duplicate fields."));
	json_object_set_new(o, "parameters", params);
	json_t *content = json_object();
	if (strcmp(json_string_value(json_object_get(o, "x-kubernetes-action")), "patch") == 0) {
		json_array_append_new(params, param("force", "query", "Force is going to \"force\" Apply "
								      "requests."));
		json_object_set_new(content, "application/json-patch+json", json_pack("{s:o}", "schema",
										    ref(META "Patch")));
		json_object_set_new(content, "application/merge-patch+json", json_pack("{s:o}", "schema",
										     ref(META "Patch")));
		json_object_set_new(content, "application/apply-patch+yaml", json_pack("{s:o}", "schema",
										     ref(META "Patch")));
	} else {
		json_object_set_new(content, "*/*", json_pack("{s:o}", "schema", ref(name)));
	}
	json_object_set_new(o, "requestBody", json_pack("{s:o, s:b}", "content", content, "required", 1));
	(void)r, (void)builtin;
}

static void add_paths(json_t *paths, const struct kp_apiserver__res_entry *e, const char *name, const char *list_name)
{
	const struct kp_apiserver__res *r = &e->r;
	char base[512], coll[640], item[700], sub[760], opid[256];
	json_t *p;

	if (r->group[0])
		snprintf(base, sizeof(base), "/apis/%s/%s", r->group, r->version);
	else
		snprintf(base, sizeof(base), "/api/%s", r->version);
	if (r->namespaced)
		snprintf(coll, sizeof(coll), "%s/namespaces/{namespace}/%s", base, r->plural);
	else
		snprintf(coll, sizeof(coll), "%s/%s", base, r->plural);
	snprintf(item, sizeof(item), "%s/{name}", coll);

	p = json_object();
	snprintf(opid, sizeof(opid), "list%s", r->kind);
	json_object_set_new(p, "get", op(r, r->kind, "list", opid, list_name));
	snprintf(opid, sizeof(opid), "create%s", r->kind);
	json_t *post = op(r, r->kind, "post", opid, name);
	write_ops(post, r, r->builtin, name);
	json_object_set_new(p, "post", post);
	json_object_set_new(paths, coll, p);

	p = json_object();
	snprintf(opid, sizeof(opid), "read%s", r->kind);
	json_object_set_new(p, "get", op(r, r->kind, "get", opid, name));
	snprintf(opid, sizeof(opid), "replace%s", r->kind);
	json_t *put = op(r, r->kind, "put", opid, name);
	write_ops(put, r, r->builtin, name);
	json_object_set_new(p, "put", put);
	snprintf(opid, sizeof(opid), "patch%s", r->kind);
	json_t *patch = op(r, r->kind, "patch", opid, name);
	write_ops(patch, r, r->builtin, name);
	json_object_set_new(p, "patch", patch);
	snprintf(opid, sizeof(opid), "delete%s", r->kind);
	json_object_set_new(p, "delete", op(r, r->kind, "delete", opid, META "Status"));
	json_object_set_new(paths, item, p);

	if (r->has_status) {
		snprintf(sub, sizeof(sub), "%s/status", item);
		p = json_object();
		snprintf(opid, sizeof(opid), "read%sStatus", r->kind);
		json_object_set_new(p, "get", op(r, r->kind, "get", opid, name));
		snprintf(opid, sizeof(opid), "patch%sStatus", r->kind);
		patch = op(r, r->kind, "patch", opid, name);
		write_ops(patch, r, r->builtin, name);
		json_object_set_new(p, "patch", patch);
		json_object_set_new(paths, sub, p);
	}
	if (r->namespaced) {
		char all[640];
		snprintf(all, sizeof(all), "%s/%s", base, r->plural);
		snprintf(opid, sizeof(opid), "list%sForAllNamespaces", r->kind);
		json_object_set_new(paths, all, json_pack("{s:o}", "get", op(r, r->kind, "list", opid, list_name)));
	}
}

/* Splits "api/v1" or "apis/G/V" into group and version. */
static bool parse_gv_path(const char *p, char *group, size_t gn, char *version, size_t vn)
{
	const char *slash;

	if (strncmp(p, "/", 1) == 0)
		p++;
	if (strncmp(p, "openapi/v3/", 11) == 0)
		p += 11;
	if (strncmp(p, "api/", 4) == 0) {
		if (strchr(p + 4, '/') || !p[4])
			return false;
		snprintf(group, gn, "%s", "");
		snprintf(version, vn, "%s", p + 4);
		return true;
	}
	if (strncmp(p, "apis/", 5) != 0)
		return false;
	p += 5;
	slash = strchr(p, '/');
	if (!slash || slash == p || !slash[1] || strchr(slash + 1, '/'))
		return false;
	snprintf(group, gn, "%.*s", (int)(slash - p), p);
	snprintf(version, vn, "%s", slash + 1);
	return true;
}

json_t *kp_apiserver__reg_openapi_doc(const struct kp_apiserver__reg *reg, const char *gv_path)
{
	char group[256], version[64];
	const char *q;
	char path[512];
	json_t *schemas, *paths, *doc;
	int found = 0;

	if (!gv_path)
		return NULL;
	q = strchr(gv_path, '?');
	snprintf(path, sizeof(path), "%.*s", (int)(q ? (size_t)(q - gv_path) : strlen(gv_path)), gv_path);
	if (!parse_gv_path(path, group, sizeof(group), version, sizeof(version)))
		return NULL;
	schemas = json_object();
	paths = json_object();
	for (int i = 0; i < reg->n; i++) {
		const struct kp_apiserver__res_entry *e = reg->v[i];
		char name[512], lname[512];
		if (strcmp(e->r.group, group) != 0 || strcmp(e->r.version, version) != 0)
			continue;
		found++;
		schema_name(&e->r, e->r.kind, name, sizeof(name));
		schema_name(&e->r, e->r.list_kind, lname, sizeof(lname));
		json_object_set_new(schemas, name, kind_schema(e));
		json_object_set_new(schemas, lname, list_schema(&e->r, name));
		add_paths(paths, e, name, lname);
	}
	if (!found) {
		json_decref(schemas);
		json_decref(paths);
		return NULL;
	}
	add_meta_schemas(schemas);
	doc = json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0", "info", "title", "Kubernetes",
			"version", "v1.32.0", "paths", paths, "components", "schemas", schemas);
	return doc;
}

/* 64-bit FNV-1a of the compact, key-sorted document: a content hash. */
static void doc_hash(const json_t *doc, char *out, size_t n)
{
	char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h = 1469598103934665603ull;
	for (const char *c = s; c && *c; c++) {
		h ^= (unsigned char)*c;
		h *= 1099511628211ull;
	}
	free(s);
	snprintf(out, n, "%016llX", (unsigned long long)h);
}

json_t *kp_apiserver__reg_openapi_index(const struct kp_apiserver__reg *reg)
{
	json_t *paths = json_object();
	json_t *idx = json_pack("{s:o}", "paths", paths);

	for (int i = 0; i < reg->n; i++) {
		const struct kp_apiserver__res *r = &reg->v[i]->r;
		char key[320], url[512], hash[32];
		json_t *doc;
		if (r->group[0])
			snprintf(key, sizeof(key), "apis/%s/%s", r->group, r->version);
		else
			snprintf(key, sizeof(key), "api/%s", r->version);
		if (json_object_get(paths, key))
			continue;
		doc = kp_apiserver__reg_openapi_doc(reg, key);
		doc_hash(doc, hash, sizeof(hash));
		json_decref(doc);
		snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%s", key, hash);
		json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
	}
	return idx;
}
