/*
 * fieldval.c - type and unknown-field checks of a written object (see
 * fieldval.h). Built-in kinds are described by a table of Go structs, each
 * field with the Go type encoding/json would print; a struct is "closed"
 * when the table lists every field of the upstream type (ObjectMeta,
 * OwnerReference, Toleration, Taint, ResourceRequirements, ...), so unknown
 * fields are reported only there; elsewhere unlisted fields are let through.
 * CRDs are walked beside their structural schema, following the pruning
 * algorithm of apiextensions-apiserver (pkg/apiserver/schema/pruning:
 * properties, additionalProperties, x-kubernetes-preserve-unknown-fields,
 * x-kubernetes-embedded-resource; metadata is an ObjectMeta).
 *
 * Go's decoder keeps going after a type error and reports the first one;
 * so does the walk. Its error context names the innermost struct and the
 * path of struct fields only (no map keys, no indices).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver/fieldval.h"

struct fv_field {
	const char *name;
	const char *type;       /* Go type as encoding/json prints it */
};

struct fv_struct {
	const char *name;       /* Go struct name, "ObjectMeta" */
	bool closed;            /* every field of the upstream type is listed */
	const struct fv_field *fields;   /* {NULL, NULL}-terminated */
};

static const struct fv_field f_objectmeta[] = {
	{"name", "string"}, {"generateName", "string"}, {"namespace", "string"}, {"selfLink", "string"},
	{"uid", "types.UID"}, {"resourceVersion", "string"}, {"generation", "int64"},
	{"creationTimestamp", "v1.Time"}, {"deletionTimestamp", "v1.Time"},
	{"deletionGracePeriodSeconds", "int64"}, {"labels", "map[string]string"},
	{"annotations", "map[string]string"}, {"ownerReferences", "[]v1.OwnerReference"},
	{"finalizers", "[]string"}, {"managedFields", "[]v1.ManagedFieldsEntry"}, {NULL, NULL},
};
static const struct fv_field f_ownerref[] = {
	{"apiVersion", "string"}, {"kind", "string"}, {"name", "string"}, {"uid", "types.UID"},
	{"controller", "bool"}, {"blockOwnerDeletion", "bool"}, {NULL, NULL},
};
static const struct fv_field f_mfe[] = {
	{"manager", "string"}, {"operation", "v1.ManagedFieldsOperationType"}, {"apiVersion", "string"},
	{"time", "v1.Time"}, {"fieldsType", "string"}, {"fieldsV1", "v1.FieldsV1"},
	{"subresource", "string"}, {NULL, NULL},
};
static const struct fv_field f_toleration[] = {
	{"key", "string"}, {"operator", "v1.TolerationOperator"}, {"value", "string"},
	{"effect", "v1.TaintEffect"}, {"tolerationSeconds", "int64"}, {NULL, NULL},
};
static const struct fv_field f_taint[] = {
	{"key", "string"}, {"value", "string"}, {"effect", "v1.TaintEffect"}, {"timeAdded", "v1.Time"},
	{NULL, NULL},
};
static const struct fv_field f_resreq[] = {
	{"limits", "v1.ResourceList"}, {"requests", "v1.ResourceList"}, {"claims", "[]v1.ResourceClaim"},
	{NULL, NULL},
};
static const struct fv_field f_resclaim[] = {
	{"name", "string"}, {"request", "string"}, {NULL, NULL},
};
static const struct fv_field f_podspec[] = {
	{"nodeName", "string"}, {"nodeSelector", "map[string]string"}, {"tolerations", "[]v1.Toleration"},
	{"containers", "[]v1.Container"}, {"initContainers", "[]v1.Container"},
	{"serviceAccountName", "string"}, {"schedulerName", "string"}, {"priorityClassName", "string"},
	{"priority", "int32"}, {"terminationGracePeriodSeconds", "int64"}, {"overhead", "v1.ResourceList"},
	{"resources", "v1.ResourceRequirements"}, {NULL, NULL},
};
static const struct fv_field f_container[] = {
	{"name", "string"}, {"image", "string"}, {"resources", "v1.ResourceRequirements"},
	{"command", "[]string"}, {"args", "[]string"}, {NULL, NULL},
};
static const struct fv_field f_podtemplate[] = {
	{"metadata", "v1.ObjectMeta"}, {"spec", "v1.PodSpec"}, {NULL, NULL},
};
static const struct fv_field f_withtemplate[] = {
	{"template", "v1.PodTemplateSpec"}, {NULL, NULL},
};
static const struct fv_field f_cronjobspec[] = {
	{"jobTemplate", "v1.JobTemplateSpec"}, {"schedule", "string"}, {NULL, NULL},
};
static const struct fv_field f_jobtemplate[] = {
	{"metadata", "v1.ObjectMeta"}, {"spec", "v1.JobSpec"}, {NULL, NULL},
};
static const struct fv_field f_nodespec[] = {
	{"taints", "[]v1.Taint"}, {"unschedulable", "bool"}, {"providerID", "string"}, {"podCIDR", "string"},
	{NULL, NULL},
};
static const struct fv_field f_nodestatus[] = {
	{"capacity", "v1.ResourceList"}, {"allocatable", "v1.ResourceList"}, {NULL, NULL},
};
static const struct fv_field f_none[] = {{NULL, NULL}};

static const struct fv_struct structs[] = {
	{"ObjectMeta", true, f_objectmeta},
	{"OwnerReference", true, f_ownerref},
	{"ManagedFieldsEntry", true, f_mfe},
	{"Toleration", true, f_toleration},
	{"Taint", true, f_taint},
	{"ResourceRequirements", true, f_resreq},
	{"ResourceClaim", true, f_resclaim},
	{"PodTemplateSpec", true, f_podtemplate},
	{"JobTemplateSpec", true, f_jobtemplate},
	{"PodSpec", false, f_podspec},
	{"Container", false, f_container},
	{"DeploymentSpec", false, f_withtemplate},
	{"ReplicaSetSpec", false, f_withtemplate},
	{"StatefulSetSpec", false, f_withtemplate},
	{"DaemonSetSpec", false, f_withtemplate},
	{"JobSpec", false, f_withtemplate},
	{"CronJobSpec", false, f_cronjobspec},
	{"NodeSpec", false, f_nodespec},
	{"NodeStatus", false, f_nodestatus},
	{"Open", false, f_none},
};

/* Root structs of the built-in kinds this module knows more than metadata of. */
static const struct {
	const char *kind, *spec, *status;
	bool closed;        /* apiVersion, kind, metadata, spec, status are all its fields */
} roots[] = {
	{"Pod", "v1.PodSpec", NULL, true},
	{"Node", "v1.NodeSpec", "v1.NodeStatus", true},
	{"Deployment", "v1.DeploymentSpec", NULL, true},
	{"ReplicaSet", "v1.ReplicaSetSpec", NULL, true},
	{"StatefulSet", "v1.StatefulSetSpec", NULL, true},
	{"DaemonSet", "v1.DaemonSetSpec", NULL, true},
	{"Job", "v1.JobSpec", NULL, true},
	{"CronJob", "v1.CronJobSpec", NULL, true},
};

static const struct fv_struct *find_struct(const char *gotype)
{
	const char *dot = strrchr(gotype, '.');
	const char *n = dot ? dot + 1 : gotype;
	for (size_t i = 0; i < sizeof(structs) / sizeof(structs[0]); i++)
		if (strcmp(structs[i].name, n) == 0)
			return &structs[i];
	return NULL;
}

struct fv_walk {
	bool prune;
	json_t *unknown;
	char *err;              /* out->decode_err */
	size_t errn;
	bool oom;
};

/* a path buffer that restores its length after each step */
struct fv_path {
	char s[1024];
	size_t n;
};

static size_t path_push(struct fv_path *p, const char *sep, const char *name)
{
	size_t old = p->n;
	int w = snprintf(p->s + p->n, sizeof(p->s) - p->n, "%s%s", p->n ? sep : "", name);
	if (w > 0 && (size_t)w < sizeof(p->s) - p->n)
		p->n += (size_t)w;
	return old;
}

static size_t path_index(struct fv_path *p, size_t i)
{
	size_t old = p->n;
	int w = snprintf(p->s + p->n, sizeof(p->s) - p->n, "[%zu]", i);
	if (w > 0 && (size_t)w < sizeof(p->s) - p->n)
		p->n += (size_t)w;
	return old;
}

static void path_pop(struct fv_path *p, size_t old)
{
	p->n = old;
	p->s[old] = '\0';
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_TRUE:
	case JSON_FALSE: return "bool";
	default: return "number";
	}
}

static void type_error(struct fv_walk *w, const char *value, const char *st, const struct fv_path *gp,
		       const char *type)
{
	if (w->err[0])
		return;
	if (st && gp->n)
		snprintf(w->err, w->errn, "json: cannot unmarshal %s into Go struct field %s.%s of type %s", value, st,
			 gp->s, type);
	else
		snprintf(w->err, w->errn, "json: cannot unmarshal %s into Go value of type %s", value, type);
}

static void add_unknown(struct fv_walk *w, const struct fv_path *p)
{
	if (json_array_append_new(w->unknown, json_string(p->s)))
		w->oom = true;
}

/* resource.Quantity's accepted syntax: ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$ */
static bool quantity_syntax(const char *s)
{
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	const char *d = p;
	while ((*p >= '0' && *p <= '9') || *p == '.')
		p++;
	if (p == d)
		return false;
	while (*p && strchr("eEinumkKMGTP", *p))
		p++;
	if (*p == '+' || *p == '-')
		p++;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '\0';
}

static void walk_type(struct fv_walk *w, const char *type, json_t *v, const char *st, struct fv_path *p,
		      struct fv_path *gp);

static void walk_struct(struct fv_walk *w, const struct fv_struct *s, const char *type, json_t *v,
			const char *st, struct fv_path *p, struct fv_path *gp)
{
	if (!json_is_object(v)) {
		type_error(w, json_kind(v), st, gp, type);
		return;
	}
	const char *key;
	json_t *val;
	void *tmp;
	json_object_foreach_safe(v, tmp, key, val) {
		const struct fv_field *f = s->fields;
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		size_t o = path_push(p, ".", key);
		if (f->name) {
			size_t og = path_push(gp, ".", key);
			walk_type(w, f->type, val, s->name, p, gp);
			path_pop(gp, og);
		} else if (s->closed) {
			add_unknown(w, p);
			if (w->prune)
				json_object_del(v, key);
		}
		path_pop(p, o);
	}
}

static void walk_type(struct fv_walk *w, const char *type, json_t *v, const char *st, struct fv_path *p,
		      struct fv_path *gp)
{
	if (json_is_null(v))
		return;         /* null decodes into anything as the zero value */
	if (strncmp(type, "[]", 2) == 0) {
		if (!json_is_array(v)) {
			type_error(w, json_kind(v), st, gp, type);
			return;
		}
		for (size_t i = 0; i < json_array_size(v); i++) {
			size_t o = path_index(p, i);
			walk_type(w, type + 2, json_array_get(v, i), st, p, gp);
			path_pop(p, o);
		}
		return;
	}
	if (strncmp(type, "map[string]", 11) == 0 || strcmp(type, "v1.ResourceList") == 0) {
		bool qty = type[0] == 'v';
		if (!json_is_object(v)) {
			type_error(w, json_kind(v), st, gp, type);
			return;
		}
		const char *k;
		json_t *e;
		json_object_foreach(v, k, e) {
			if (qty) {
				if (json_is_null(e) || json_is_integer(e) || json_is_real(e) ||
				    (json_is_string(e) && quantity_syntax(json_string_value(e))))
					continue;
				if (!w->err[0])
					snprintf(w->err, w->errn, "quantities must match the regular expression "
						 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
				continue;
			}
			walk_type(w, type + 11, e, st, p, gp);
		}
		return;
	}
	if (strcmp(type, "int64") == 0 || strcmp(type, "int32") == 0) {
		if (json_is_integer(v))
			return;
		if (json_is_real(v)) {
			char num[64];
			snprintf(num, sizeof(num), "number %.17g", json_real_value(v));
			type_error(w, num, st, gp, type);
			return;
		}
		type_error(w, json_kind(v), st, gp, type);
		return;
	}
	if (strcmp(type, "bool") == 0) {
		if (!json_is_boolean(v))
			type_error(w, json_kind(v), st, gp, type);
		return;
	}
	if (strcmp(type, "v1.Time") == 0) {
		/* metav1.Time.UnmarshalJSON decodes a string on its own */
		if (!json_is_string(v) && !w->err[0])
			snprintf(w->err, w->errn, "json: cannot unmarshal %s into Go value of type string", json_kind(v));
		return;
	}
	if (strcmp(type, "v1.FieldsV1") == 0 || strcmp(type, "any") == 0)
		return;
	const struct fv_struct *s = find_struct(type);
	if (s) {
		walk_struct(w, s, type, v, st, p, gp);
		return;
	}
	/* string and the named string types (types.UID, v1.TaintEffect, ...) */
	if (!json_is_string(v))
		type_error(w, json_kind(v), st, gp, type);
}

/* ---- CRDs: the structural schema ---- */

static void walk_schema(struct fv_walk *w, const json_t *s, json_t *v, struct fv_path *p, bool root,
			const char *kind);

static void walk_embedded_meta(struct fv_walk *w, json_t *v, struct fv_path *p, const char *kind)
{
	struct fv_path gp = {.s = "metadata", .n = 8};
	json_t *m = json_object_get(v, "metadata");
	if (!m)
		return;
	size_t o = path_push(p, ".", "metadata");
	walk_type(w, "v1.ObjectMeta", m, kind, p, &gp);
	path_pop(p, o);
}

static void walk_schema(struct fv_walk *w, const json_t *s, json_t *v, struct fv_path *p, bool root,
			const char *kind)
{
	if (!s || !json_is_object(s))
		return;
	if (json_is_array(v)) {
		const json_t *items = json_object_get(s, "items");
		for (size_t i = 0; i < json_array_size(v); i++) {
			size_t o = path_index(p, i);
			walk_schema(w, items, json_array_get(v, i), p, false, kind);
			path_pop(p, o);
		}
		return;
	}
	if (!json_is_object(v))
		return;
	bool embedded = root || json_is_true(json_object_get(s, "x-kubernetes-embedded-resource"));
	bool preserve = json_is_true(json_object_get(s, "x-kubernetes-preserve-unknown-fields"));
	const json_t *props = json_object_get(s, "properties");
	const json_t *addl = json_object_get(s, "additionalProperties");
	if (embedded)
		walk_embedded_meta(w, v, p, kind);
	const char *key;
	json_t *val;
	void *tmp;
	json_object_foreach_safe(v, tmp, key, val) {
		if (embedded && (strcmp(key, "apiVersion") == 0 || strcmp(key, "kind") == 0 ||
				 strcmp(key, "metadata") == 0))
			continue;
		size_t o = path_push(p, ".", key);
		const json_t *ps = json_object_get(props, key);
		if (ps)
			walk_schema(w, ps, val, p, false, kind);
		else if (json_is_object(addl))
			walk_schema(w, addl, val, p, false, kind);
		else if (!json_is_true(addl) && !preserve) {
			add_unknown(w, p);
			if (w->prune)
				json_object_del(v, key);
		}
		path_pop(p, o);
	}
}

int kp_apiserver__fieldval_check(const json_t *crd_schema, const char *kind, json_t *obj, bool prune,
		      struct kp_apiserver__fieldval_result *out)
{
	memset(out, 0, sizeof(*out));
	out->unknown = json_array();
	if (!out->unknown)
		return -1;
	struct fv_walk w = {.prune = prune, .unknown = out->unknown, .err = out->decode_err,
				.errn = sizeof(out->decode_err)};
	struct fv_path p = {.n = 0};
	if (crd_schema) {
		walk_schema(&w, crd_schema, obj, &p, true, kind);
	} else if (json_is_object(obj)) {
		size_t r = 0;
		while (r < sizeof(roots) / sizeof(roots[0]) && strcmp(roots[r].kind, kind) != 0)
			r++;
		bool known = r < sizeof(roots) / sizeof(roots[0]);
		const char *key;
		json_t *val;
		void *tmp;
		json_object_foreach_safe(obj, tmp, key, val) {
			const char *type = NULL;
			if (strcmp(key, "apiVersion") == 0 || strcmp(key, "kind") == 0)
				type = "string";
			else if (strcmp(key, "metadata") == 0)
				type = "v1.ObjectMeta";
			else if (known && strcmp(key, "spec") == 0)
				type = roots[r].spec;
			else if (known && strcmp(key, "status") == 0)
				type = roots[r].status ? roots[r].status : "any";
			size_t o = path_push(&p, ".", key);
			if (type) {
				struct fv_path gp = {.n = 0};
				path_push(&gp, ".", key);
				walk_type(&w, type, val, kind, &p, &gp);
			} else if (known && roots[r].closed) {
				add_unknown(&w, &p);
				if (prune)
					json_object_del(obj, key);
			}
			path_pop(&p, o);
		}
	}
	if (w.oom) {
		kp_apiserver__fieldval_result_free(out);
		return -1;
	}
	return 0;
}

void kp_apiserver__fieldval_result_free(struct kp_apiserver__fieldval_result *r)
{
	json_decref(r->unknown);
	r->unknown = NULL;
}

int kp_apiserver__fieldval_mode_parse(const char *s, enum kp_apiserver__fieldval_mode *out, char *msg, size_t n)
{
	if (!s || !*s || strcmp(s, "Warn") == 0)
		*out = KP_APISERVER_FIELDVAL_WARN;
	else if (strcmp(s, "Strict") == 0)
		*out = KP_APISERVER_FIELDVAL_STRICT;
	else if (strcmp(s, "Ignore") == 0)
		*out = KP_APISERVER_FIELDVAL_IGNORE;
	else {
		/* apiserver/pkg/endpoints/handlers/rest.go fieldValidation() */
		snprintf(msg, n, "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got \"%s\"", s);
		return -1;
	}
	return 0;
}

int kp_apiserver__fieldval_decide(const json_t *crd_schema, const char *kind, const char *version, json_t *obj,
		       enum kp_apiserver__fieldval_mode mode, json_t **warnings, char *msg, size_t n)
{
	struct kp_apiserver__fieldval_result r;
	*warnings = NULL;
	if (kp_apiserver__fieldval_check(crd_schema, kind, obj, mode != KP_APISERVER_FIELDVAL_STRICT, &r) != 0)
		return 500;
	int code = 0;
	if (r.decode_err[0]) {
		snprintf(msg, n, "%s in version \"%s\" cannot be handled as a %s: %s", kind, version, kind,
			 r.decode_err);
		code = 400;
	} else if (mode == KP_APISERVER_FIELDVAL_STRICT && json_array_size(r.unknown)) {
		/* runtime.NewStrictDecodingError: "strict decoding error: " + errs joined by ", " */
		size_t o = 0;
		int w = snprintf(msg, n, "%s in version \"%s\" cannot be handled as a %s: strict decoding error: ",
				 kind, version, kind);
		o = w > 0 && (size_t)w < n ? (size_t)w : n - 1;
		for (size_t i = 0; i < json_array_size(r.unknown) && o + 1 < n; i++) {
			w = snprintf(msg + o, n - o, "%sunknown field \"%s\"", i ? ", " : "",
				     json_string_value(json_array_get(r.unknown, i)));
			o = w > 0 && (size_t)w < n - o ? o + (size_t)w : n - 1;
		}
		code = 400;
	} else if (mode == KP_APISERVER_FIELDVAL_WARN) {
		*warnings = json_array();
		if (!*warnings) {
			code = 500;
		} else {
			for (size_t i = 0; i < json_array_size(r.unknown); i++) {
				char t[1100];
				snprintf(t, sizeof(t), "unknown field \"%s\"", json_string_value(json_array_get(r.unknown, i)));
				json_array_append_new(*warnings, json_string(t));
			}
		}
	}
	if (!*warnings)
		*warnings = json_array();
	kp_apiserver__fieldval_result_free(&r);
	return code;
}

int kp_apiserver__fieldval_rv(const char *rv, uint64_t *out, char *msg, size_t n)
{
	uint64_t v = 0;
	const char *p = rv;
	*out = 0;
	if (!rv || !*rv)
		return 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9') {
			/* APIObjectVersioner.ParseResourceVersion: strconv.ParseUint's error */
			snprintf(msg, n, "resourceVersion: Invalid value: \"%s\": strconv.ParseUint: parsing \"%s\": "
				 "invalid syntax", rv, rv);
			return -1;
		}
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) {
			snprintf(msg, n, "resourceVersion: Invalid value: \"%s\": strconv.ParseUint: parsing \"%s\": "
				 "value out of range", rv, rv);
			return -1;
		}
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}
