/*
 * validate.c - what the API server checks and fills in before it stores an
 * object, and how it serves one kind in another version:
 *  - validation: CRD kinds against their openAPIV3Schema (type, enum,
 *    required, pattern, minimum/maximum, min/maxItems, min/maxLength,
 *    maxProperties, int-or-string, nullable) plus, by hand, the CEL rules of
 *    Karpenter's NodePool/NodeClaim that matter (In needs values; Gt/Lt/Gte/
 *    Lte one non-negative integer; minValues; budget schedule with duration;
 *    restricted label domains; non-empty nodeClassRef fields); built-in kinds
 *    get the basics (names, containers, images, selectors, quantities);
 *  - defaulting: CRD schema defaults top-down (so NodePool gets disruption
 *    {consolidateAfter 0s, consolidationPolicy WhenEmptyOrUnderutilized,
 *    budgets [{nodes 10%}]} and template.spec.expireAfter 720h), built-in
 *    defaults of Pods and workload templates;
 *  - conversion between karpenter.sh v1 and v1beta1 (NodePool, NodeClaim)
 *    and karpenter.k8s.aws v1 and v1beta1 (EC2NodeClass), following
 *    Karpenter v1.0's conversion webhooks, including the compatibility
 *    annotations that make v1 -> v1beta1 -> v1 lossless.
 *
 * Messages follow the real API server: `Kind.group "name" is invalid: path:
 * Reason: detail`, several errors as `[e1, e2]`.
 * Invariants: validation never mutates; defaulting only adds absent fields.
 * Cost: one walk of object and schema; regexes compiled per check.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "karpenter/quantity.h"
#include "apiserver/apires_int.h"
#include "apiserver/server.h"
#include "kobj/kobj.h"

#define MAX_ERRS 32

struct verr {
	char *msg[MAX_ERRS];
	int n;
};

static void verr_add(struct verr *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void verr_add(struct verr *v, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (v->n >= MAX_ERRS)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	v->msg[v->n] = strdup(buf);
	if (v->msg[v->n])
		v->n++;
}

static void verr_free(struct verr *v)
{
	for (int i = 0; i < v->n; i++)
		free(v->msg[i]);
	v->n = 0;
}

/* Go-style %q-ish rendering of a scalar for messages. */
static void show(const json_t *v, char *b, size_t n)
{
	if (json_is_string(v)) {
		snprintf(b, n, "\"%s\"", json_string_value(v));
	} else if (json_is_object(v)) {
		snprintf(b, n, "\"object\"");
	} else if (json_is_array(v)) {
		snprintf(b, n, "\"array\"");
	} else {
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		snprintf(b, n, "%s", s ? s : "null");
		free(s);
	}
}

static const char *type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

/* Go RE2 patterns to POSIX ERE: (?: -> (, \d -> [0-9], \s -> [[:space:]], \/ -> /. */
static bool pattern_match(const char *pat, const char *s, bool *ok)
{
	char ere[2048];
	size_t o = 0;
	regex_t re;
	bool m;

	for (const char *p = pat; *p && o + 16 < sizeof(ere); p++) {
		if (p[0] == '(' && p[1] == '?' && p[2] == ':') {
			ere[o++] = '(';
			p += 2;
		} else if (p[0] == '\\' && p[1] == 'd') {
			memcpy(ere + o, "[0-9]", 5), o += 5, p++;
		} else if (p[0] == '\\' && p[1] == 's') {
			memcpy(ere + o, "[[:space:]]", 11), o += 11, p++;
		} else if (p[0] == '\\' && p[1] == '/') {
			ere[o++] = '/', p++;
		} else {
			ere[o++] = *p;
		}
	}
	ere[o] = 0;
	if (regcomp(&re, ere, REG_EXTENDED | REG_NOSUB)) {
		*ok = false;
		return true;
	}
	*ok = true;
	m = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return m;
}

/* ---- schema validation ---- */

static void schema_check(const json_t *sch, const json_t *v, const char *path, struct verr *e, int depth)
{
	const char *type = kp_kobj_str(sch, "type");
	const json_t *en = json_object_get(sch, "enum");
	char b[512], p[1024];

	if (!sch || depth > 64)
		return;
	if (json_is_null(v)) {
		if (!json_is_true(json_object_get(sch, "nullable")) && type)
			verr_add(e, "%s: Invalid value: \"null\": %s in body must be of type %s: \"null\"", path, path,
				 type);
		return;
	}
	if (json_is_true(json_object_get(sch, "x-kubernetes-int-or-string"))) {
		if (!json_is_integer(v) && !json_is_string(v)) {
			show(v, b, sizeof(b));
			verr_add(e, "%s: Invalid value: \"%s\": %s in body must be of type int-or-string: \"%s\"", path,
				 type_of(v), path, type_of(v));
			return;
		}
	} else if (type) {
		bool ok = !strcmp(type, type_of(v)) || (!strcmp(type, "number") && json_is_integer(v));
		if (!ok) {
			verr_add(e, "%s: Invalid value: \"%s\": %s in body must be of type %s: \"%s\"", path,
				 type_of(v), path, type, type_of(v));
			return;
		}
	}
	if (json_is_array(en) && json_array_size(en)) {
		bool found = false;
		for (size_t i = 0; i < json_array_size(en) && !found; i++)
			found = json_equal(json_array_get(en, i), (json_t *)v);
		if (!found) {
			struct kp_buf sv;
			kp_buf_init(&sv, 4096);
			for (size_t i = 0; i < json_array_size(en); i++) {
				show(json_array_get(en, i), b, sizeof(b));
				kp_buf_printf(&sv, "%s%s", i ? ", " : "", b);
			}
			show(v, b, sizeof(b));
			verr_add(e, "%s: Unsupported value: %s: supported values: %s", path, b, sv.data ? sv.data : "");
			kp_buf_free(&sv);
			return;
		}
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		const char *pat = kp_kobj_str(sch, "pattern");
		json_int_t len = (json_int_t)strlen(s);
		bool ok;
		if (json_is_integer(json_object_get(sch, "maxLength")) &&
		    len > json_integer_value(json_object_get(sch, "maxLength")))
			verr_add(e, "%s: Too long: may not be more than %lld bytes", path,
				 (long long)json_integer_value(json_object_get(sch, "maxLength")));
		if (json_is_integer(json_object_get(sch, "minLength")) &&
		    len < json_integer_value(json_object_get(sch, "minLength")))
			verr_add(e, "%s: Invalid value: \"%s\": %s in body should be at least %lld chars long", path, s,
				 path, (long long)json_integer_value(json_object_get(sch, "minLength")));
		if (pat && !pattern_match(pat, s, &ok) && ok)
			verr_add(e, "%s: Invalid value: \"%s\": %s in body should match '%s'", path, s, path, pat);
	}
	if (json_is_number(v)) {
		const json_t *mn = json_object_get(sch, "minimum"), *mx = json_object_get(sch, "maximum");
		double d = json_number_value(v);
		show(v, b, sizeof(b));
		if (json_is_number(mn) && d < json_number_value(mn))
			verr_add(e, "%s: Invalid value: %s: %s in body should be greater than or equal to %s", path, b,
				 path, json_is_integer(mn) ? (snprintf(p, sizeof(p), "%lld",
								       (long long)json_integer_value(mn)), p)
							   : (snprintf(p, sizeof(p), "%g", json_real_value(mn)), p));
		if (json_is_number(mx) && d > json_number_value(mx))
			verr_add(e, "%s: Invalid value: %s: %s in body should be less than or equal to %s", path, b,
				 path, json_is_integer(mx) ? (snprintf(p, sizeof(p), "%lld",
								       (long long)json_integer_value(mx)), p)
							   : (snprintf(p, sizeof(p), "%g", json_real_value(mx)), p));
	}
	if (json_is_array(v)) {
		const json_t *mx = json_object_get(sch, "maxItems"), *mn = json_object_get(sch, "minItems");
		const json_t *items = json_object_get(sch, "items");
		size_t n = json_array_size(v);
		if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx))
			verr_add(e, "%s: Too many: %zu: must have at most %lld items", path, n,
				 (long long)json_integer_value(mx));
		if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn))
			verr_add(e, "%s: Invalid value: %zu: %s in body should have at least %lld items", path, n, path,
				 (long long)json_integer_value(mn));
		for (size_t i = 0; json_is_object(items) && i < n; i++) {
			snprintf(p, sizeof(p), "%s[%zu]", path, i);
			schema_check(items, json_array_get(v, i), p, e, depth + 1);
		}
	}
	if (json_is_object(v)) {
		const json_t *props = json_object_get(sch, "properties");
		const json_t *addl = json_object_get(sch, "additionalProperties");
		const json_t *req = json_object_get(sch, "required");
		const json_t *mp = json_object_get(sch, "maxProperties");
		const char *k;
		json_t *cv;
		if (json_is_integer(mp) && (json_int_t)json_object_size(v) > json_integer_value(mp))
			verr_add(e, "%s: Too many: %zu: must have at most %lld items", path, json_object_size(v),
				 (long long)json_integer_value(mp));
		for (size_t i = 0; i < json_array_size(req); i++) {
			const char *r = json_string_value(json_array_get(req, i));
			if (r && !json_object_get(v, r))
				verr_add(e, "%s%s%s: Required value", path, *path ? "." : "", r);
		}
		json_object_foreach((json_t *)v, k, cv)
		{
			const json_t *ps = json_object_get(props, k);
			if (ps)
				snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", k);
			else if (json_is_object(addl))
				snprintf(p, sizeof(p), "%s[%s]", path, k);
			if (ps)
				schema_check(ps, cv, p, e, depth + 1);
			else if (json_is_object(addl))
				schema_check(addl, cv, p, e, depth + 1);
		}
	}
}

/* ---- Karpenter CEL rules, by hand ---- */

static bool restricted_label(const char *key, const char **why)
{
	static const char *const allowed_sh[] = {"karpenter.sh/capacity-type", "karpenter.sh/nodepool", NULL};
	const char *slash = strchr(key, '/');
	size_t dl = slash ? (size_t)(slash - key) : strlen(key);

	if (!strcmp(key, "karpenter.sh/nodepool")) {
		*why = "label \"karpenter.sh/nodepool\" is restricted";
		return true;
	}
	if (!strcmp(key, "kubernetes.io/hostname")) {
		*why = "label \"kubernetes.io/hostname\" is restricted";
		return true;
	}
	if (!kp_apiserver__res_list_has(allowed_sh, key) && dl >= 12 && !strncmp(key + dl - 12, "karpenter.sh", 12)) {
		*why = "label domain \"karpenter.sh\" is restricted";
		return true;
	}
	return false;
}

static void check_requirements(const json_t *reqs, const char *path, bool nodepool, struct verr *e)
{
	bool in_bad = false, num_bad = false, min_bad = false;
	char p[512];

	for (size_t i = 0; i < json_array_size(reqs); i++) {
		const json_t *r = json_array_get(reqs, i);
		const char *op = kp_kobj_str(r, "operator"), *key = kp_kobj_str(r, "key"), *why;
		const json_t *vals = json_object_get(r, "values");
		const json_t *mv = json_object_get(r, "minValues");
		size_t nv = json_array_size(vals);
		if (!op)
			continue;
		if (!strcmp(op, "In") && nv == 0)
			in_bad = true;
		if (!strcmp(op, "Gt") || !strcmp(op, "Lt") || !strcmp(op, "Gte") || !strcmp(op, "Lte")) {
			int64_t x;
			const char *s = json_string_value(json_array_get(vals, 0));
			if (nv != 1 || !s || kp_parse_i64(s, &x) || x < 0)
				num_bad = true;
		}
		if (!strcmp(op, "In") && json_is_integer(mv) && (json_int_t)nv < json_integer_value(mv))
			min_bad = true;
		if (key && restricted_label(key, &why) && (nodepool || strcmp(key, "karpenter.sh/nodepool") != 0)) {
			snprintf(p, sizeof(p), "%s[%zu].key", path, i);
			verr_add(e, "%s: Invalid value: \"string\": %s", p, why);
		}
	}
	if (in_bad)
		verr_add(e, "%s: Invalid value: \"array\": requirements with operator 'In' must have a value defined",
			 path);
	if (num_bad)
		verr_add(e, "%s: Invalid value: \"array\": requirements operator 'Gt', 'Lt', 'Gte', or 'Lte' must "
			    "have a single positive integer value", path);
	if (min_bad)
		verr_add(e, "%s: Invalid value: \"array\": requirements with 'minValues' must have at least that many "
			    "values specified in the 'values' field", path);
}

static void check_ncref(const json_t *ref, const char *path, struct verr *e)
{
	static const char *const f[] = {"group", "kind", "name"};
	for (size_t i = 0; json_is_object(ref) && i < KP_ARRAY_LEN(f); i++) {
		const char *s = kp_kobj_str(ref, f[i]);
		if (s && !*s)
			verr_add(e, "%s.%s: Invalid value: \"string\": %s may not be empty", path, f[i], f[i]);
	}
}

static void karpenter_rules(const struct kp_apiserver__res *r, const json_t *obj, struct verr *e)
{
	const json_t *spec = json_object_get(obj, "spec");

	if (strcmp(r->group, "karpenter.sh") != 0 || strcmp(r->version, "v1") != 0)
		return;
	if (!strcmp(r->kind, "NodePool")) {
		const json_t *tspec = json_object_get(json_object_get(spec, "template"), "spec");
		const json_t *labels = json_object_get(json_object_get(json_object_get(spec, "template"), "metadata"),
						       "labels");
		const json_t *budgets = json_object_get(json_object_get(spec, "disruption"), "budgets");
		const char *k, *why;
		json_t *v;
		bool sd = false;
		check_requirements(json_object_get(tspec, "requirements"), "spec.template.spec.requirements", true, e);
		check_ncref(json_object_get(tspec, "nodeClassRef"), "spec.template.spec.nodeClassRef", e);
		json_object_foreach((json_t *)labels, k, v)
		{
			if (restricted_label(k, &why))
				verr_add(e, "spec.template.metadata.labels: Invalid value: \"object\": %s", why);
		}
		for (size_t i = 0; i < json_array_size(budgets); i++) {
			const json_t *bu = json_array_get(budgets, i);
			if ((json_object_get(bu, "schedule") != NULL) != (json_object_get(bu, "duration") != NULL))
				sd = true;
		}
		if (sd)
			verr_add(e, "spec.disruption.budgets: Invalid value: \"array\": 'schedule' must be set with "
				    "'duration'");
		if (json_object_get(spec, "replicas") && json_object_get(spec, "weight"))
			verr_add(e, "spec: Invalid value: \"object\": 'weight' is not supported on static NodePools");
	} else if (!strcmp(r->kind, "NodeClaim")) {
		check_requirements(json_object_get(spec, "requirements"), "spec.requirements", false, e);
		check_ncref(json_object_get(spec, "nodeClassRef"), "spec.nodeClassRef", e);
	}
}

/* ---- built-in kinds ---- */

static bool dns_label(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (!n || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && i > 0 && i + 1 < n))
			return false;
	}
	return true;
}

static bool dns_subdomain(const char *s)
{
	char part[256];
	const char *p = s;

	if (!*s || strlen(s) > 253)
		return false;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(part))
			return false;
		memcpy(part, p, n);
		part[n] = 0;
		if (!dns_label(part, 253))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

static const char msg_subdomain[] =
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
	"start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
	"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char msg_label[] =
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
	"and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
	"'[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

static void check_meta(const struct kp_apiserver__res *r, const json_t *obj, struct verr *e)
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *name = kp_kobj_str(md, "name");

	if (!name || !*name) {
		if (!kp_kobj_str(md, "generateName"))
			verr_add(e, "metadata.name: Required value: name or generateName is required");
		return;
	}
	if (!strcmp(r->kind, "Namespace") && r->builtin) {
		if (!dns_label(name, 63))
			verr_add(e, "metadata.name: Invalid value: \"%s\": %s", name, msg_label);
	} else if (!dns_subdomain(name)) {
		verr_add(e, "metadata.name: Invalid value: \"%s\": %s", name, msg_subdomain);
	}
}

static void check_quantities(const json_t *m, const char *path, struct verr *e)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)m, k, v)
	{
		char s[64];
		const char *q = json_string_value(v);
		int64_t out;
		if (json_is_integer(v)) {
			snprintf(s, sizeof(s), "%lld", (long long)json_integer_value(v));
			q = s;
		}
		if (!q || kp_qty_parse(q, KP_QTY_MILLI, &out, NULL))
			verr_add(e, "%s[%s]: Invalid value: \"%s\": quantities must match the regular expression "
				    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'", path, k, q ? q : "");
	}
}

static void check_containers(const json_t *cs, const char *path, bool required, struct verr *e)
{
	char p[512];

	if (!json_array_size(cs)) {
		if (required)
			verr_add(e, "%s: Required value", path);
		return;
	}
	for (size_t i = 0; i < json_array_size(cs); i++) {
		const json_t *c = json_array_get(cs, i);
		const char *name = kp_kobj_str(c, "name");
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (!name || !*name)
			verr_add(e, "%s.name: Required value", p);
		else if (!dns_label(name, 63))
			verr_add(e, "%s.name: Invalid value: \"%s\": %s", p, name, msg_label);
		for (size_t j = 0; name && j < i; j++)
			if (kp_kobj_str(json_array_get(cs, j), "name") && !strcmp(kp_kobj_str(json_array_get(cs, j), "name"), name))
				verr_add(e, "%s.name: Duplicate value: \"%s\"", p, name);
		if (!kp_kobj_str(c, "image") || !*kp_kobj_str(c, "image"))
			verr_add(e, "%s.image: Required value", p);
		char q[600];
		snprintf(q, sizeof(q), "%s.resources.requests", p);
		check_quantities(json_object_get(json_object_get(c, "resources"), "requests"), q, e);
		snprintf(q, sizeof(q), "%s.resources.limits", p);
		check_quantities(json_object_get(json_object_get(c, "resources"), "limits"), q, e);
	}
}

static void check_podspec(const json_t *ps, const char *path, struct verr *e)
{
	char p[512];
	const char *rp = kp_kobj_str(ps, "restartPolicy");

	snprintf(p, sizeof(p), "%s.containers", path);
	check_containers(json_object_get(ps, "containers"), p, true, e);
	snprintf(p, sizeof(p), "%s.initContainers", path);
	check_containers(json_object_get(ps, "initContainers"), p, false, e);
	if (rp && strcmp(rp, "Always") && strcmp(rp, "OnFailure") && strcmp(rp, "Never"))
		verr_add(e, "%s.restartPolicy: Unsupported value: \"%s\": supported values: \"Always\", "
			    "\"OnFailure\", \"Never\"", path, rp);
}

static void builtin_rules(const struct kp_apiserver__res *r, const json_t *obj, struct verr *e)
{
	const json_t *spec = json_object_get(obj, "spec");
	const char *k = r->kind;

	if (!strcmp(k, "Pod")) {
		check_podspec(spec, "spec", e);
	} else if (!strcmp(k, "Deployment") || !strcmp(k, "ReplicaSet") || !strcmp(k, "StatefulSet") ||
		   !strcmp(k, "DaemonSet") || !strcmp(k, "Job")) {
		const json_t *rep = json_object_get(spec, "replicas");
		if (strcmp(k, "Job") != 0 && !json_object_get(spec, "selector"))
			verr_add(e, "spec.selector: Required value");
		if (json_is_integer(rep) && json_integer_value(rep) < 0)
			verr_add(e, "spec.replicas: Invalid value: %lld: must be greater than or equal to 0",
				 (long long)json_integer_value(rep));
		check_podspec(json_object_get(json_object_get(spec, "template"), "spec"), "spec.template.spec", e);
		if (!strcmp(k, "Job")) {
			const char *rp = kp_kobj_str(json_object_get(json_object_get(spec, "template"), "spec"),
					      "restartPolicy");
			if (rp && strcmp(rp, "OnFailure") && strcmp(rp, "Never"))
				verr_add(e, "spec.template.spec.restartPolicy: Required value: valid values: "
					    "\"OnFailure\", \"Never\"");
		}
	} else if (!strcmp(k, "PodDisruptionBudget")) {
		if (json_object_get(spec, "minAvailable") && json_object_get(spec, "maxUnavailable"))
			verr_add(e, "spec: Invalid value: \"object\": minAvailable and maxUnavailable cannot be both "
				    "set");
	}
}

kp_err kp_apiserver__reg_validate(const struct kp_apiserver__reg *reg, const struct kp_apiserver__res *res, const json_t *obj,
			  struct kp_errbuf *eb)
{
	const struct kp_apiserver__res_entry *e = kp_apiserver__res_entry_of(res);
	struct verr errs = {{0}, 0};
	const char *name = kp_kobj_str(json_object_get(obj, "metadata"), "name");
	char kind[256];
	struct kp_buf b;

	(void)reg;
	if (!json_is_object(obj))
		return kp_errf(eb, KP_ERR_INVALID, "%s: object expected", res->kind);
	check_meta(res, obj, &errs);
	if (e->schema) {
		/* metadata is checked by check_meta, not by the CRD schema */
		json_t *copy = json_copy((json_t *)obj);
		json_object_del(copy, "metadata");
		schema_check(e->schema, copy, "", &errs, 0);
		json_decref(copy);
	}
	if (res->builtin)
		builtin_rules(res, obj, &errs);
	else
		karpenter_rules(res, obj, &errs);
	if (!errs.n)
		return KP_OK;
	if (res->group[0])
		snprintf(kind, sizeof(kind), "%s.%s", res->kind, res->group);
	else
		snprintf(kind, sizeof(kind), "%s", res->kind);
	kp_buf_init(&b, KP_ERRBUF_SIZE * 4);
	kp_buf_printf(&b, "%s \"%s\" is invalid: %s", kind, name ? name : "", errs.n > 1 ? "[" : "");
	for (int i = 0; i < errs.n; i++)
		kp_buf_printf(&b, "%s%s", i ? ", " : "", errs.msg[i]);
	if (errs.n > 1)
		kp_buf_addstr(&b, "]");
	kp_errf(eb, KP_ERR_INVALID, "%s", b.data ? b.data : "invalid");
	kp_buf_free(&b);
	verr_free(&errs);
	return KP_ERR_INVALID;
}

json_t *kp_apiserver__reg_validate_causes(const struct kp_apiserver__reg *reg, const struct kp_apiserver__res *res, const json_t *obj)
{
	const struct kp_apiserver__res_entry *e = kp_apiserver__res_entry_of(res);
	struct verr errs = {{0}, 0};
	json_t *causes = json_array();

	(void)reg;
	check_meta(res, obj, &errs);
	if (e->schema) {
		json_t *copy = json_copy((json_t *)obj);
		json_object_del(copy, "metadata");
		schema_check(e->schema, copy, "", &errs, 0);
		json_decref(copy);
	}
	if (res->builtin)
		builtin_rules(res, obj, &errs);
	else
		karpenter_rules(res, obj, &errs);
	for (int i = 0; i < errs.n; i++) {
		/* "path: Reason: detail" -> {field, reason, message} */
		const char *m = errs.msg[i], *colon = strstr(m, ": ");
		char field[512] = "", reason[64] = "FieldValueInvalid";
		if (colon) {
			snprintf(field, sizeof(field), "%.*s", (int)(colon - m), m);
			if (!strncmp(colon + 2, "Required value", 14))
				snprintf(reason, sizeof(reason), "FieldValueRequired");
			else if (!strncmp(colon + 2, "Unsupported value", 17))
				snprintf(reason, sizeof(reason), "FieldValueNotSupported");
			else if (!strncmp(colon + 2, "Too many", 8))
				snprintf(reason, sizeof(reason), "FieldValueTooMany");
			else if (!strncmp(colon + 2, "Too long", 8))
				snprintf(reason, sizeof(reason), "FieldValueTooLong");
			else if (!strncmp(colon + 2, "Duplicate value", 15))
				snprintf(reason, sizeof(reason), "FieldValueDuplicate");
		}
		json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason", reason, "message", m, "field",
							field));
	}
	verr_free(&errs);
	return causes;
}

/* ---- defaulting ---- */

static void schema_default(const json_t *sch, json_t *v, int depth)
{
	const json_t *props = json_object_get(sch, "properties");
	const char *k;
	json_t *ps;

	if (!sch || depth > 64)
		return;
	if (json_is_object(v) && json_is_object(props)) {
		json_object_foreach((json_t *)props, k, ps)
		{
			const json_t *d = json_object_get(ps, "default");
			if (depth == 0 && !strcmp(k, "metadata"))
				continue; /* metadata defaults never come from a CRD schema */
			if (d && !json_object_get(v, k))
				json_object_set_new(v, k, json_deep_copy(d));
			json_t *child = json_object_get(v, k);
			if (child)
				schema_default(ps, child, depth + 1);
		}
	} else if (json_is_object(v) && json_is_object(json_object_get(sch, "additionalProperties"))) {
		json_t *cv;
		json_object_foreach(v, k, cv) schema_default(json_object_get(sch, "additionalProperties"), cv,
							      depth + 1);
	}
	if (json_is_array(v) && json_is_object(json_object_get(sch, "items")))
		for (size_t i = 0; i < json_array_size(v); i++)
			schema_default(json_object_get(sch, "items"), json_array_get(v, i), depth + 1);
}

static void set_absent(json_t *o, const char *k, json_t *v)
{
	if (json_is_object(o) && !json_object_get(o, k))
		json_object_set_new(o, k, v);
	else
		json_decref(v);
}

static void default_containers(json_t *cs)
{
	for (size_t i = 0; i < json_array_size(cs); i++) {
		json_t *c = json_array_get(cs, i);
		const char *img = kp_kobj_str(c, "image");
		set_absent(c, "terminationMessagePath", json_string("/dev/termination-log"));
		set_absent(c, "terminationMessagePolicy", json_string("File"));
		set_absent(c, "resources", json_object());
		if (img) {
			const char *at = strchr(img, '@');
			const char *slash = strrchr(img, '/');
			const char *colon = strrchr(slash ? slash : img, ':');
			bool latest = !at && (!colon || !strcmp(colon, ":latest"));
			set_absent(c, "imagePullPolicy", json_string(latest ? "Always" : "IfNotPresent"));
		}
		json_t *ports = json_object_get(c, "ports");
		for (size_t j = 0; j < json_array_size(ports); j++)
			set_absent(json_array_get(ports, j), "protocol", json_string("TCP"));
	}
}

static void default_podspec(json_t *ps)
{
	if (!json_is_object(ps))
		return;
	set_absent(ps, "restartPolicy", json_string("Always"));
	set_absent(ps, "terminationGracePeriodSeconds", json_integer(30));
	set_absent(ps, "dnsPolicy", json_string("ClusterFirst"));
	set_absent(ps, "schedulerName", json_string("default-scheduler"));
	set_absent(ps, "securityContext", json_object());
	set_absent(ps, "enableServiceLinks", json_true());
	default_containers(json_object_get(ps, "containers"));
	default_containers(json_object_get(ps, "initContainers"));
}

static void builtin_defaults(const struct kp_apiserver__res *r, json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec");
	const char *k = r->kind;

	if (!strcmp(k, "Pod")) {
		default_podspec(spec);
		if (!json_object_get(obj, "status"))
			json_object_set_new(obj, "status", json_object());
		set_absent(json_object_get(obj, "status"), "phase", json_string("Pending"));
		/* the pod strategy's PrepareForCreate */
		json_object_set_new(json_object_get(obj, "status"), "qosClass",
				    json_string(kp_apiserver_pod_qos_class(spec)));
		return;
	}
	if (!strcmp(k, "Namespace")) {
		if (!json_object_get(obj, "status"))
			json_object_set_new(obj, "status", json_object());
		set_absent(json_object_get(obj, "status"), "phase", json_string("Active"));
		if (!spec) {
			spec = json_object();
			json_object_set_new(obj, "spec", spec);
		}
		set_absent(spec, "finalizers", json_pack("[s]", "kubernetes"));
		return;
	}
	if (!strcmp(k, "Secret")) {
		set_absent(obj, "type", json_string("Opaque"));
		return;
	}
	if (!strcmp(k, "PriorityClass")) {
		set_absent(obj, "preemptionPolicy", json_string("PreemptLowerPriority"));
		return;
	}
	if (!strcmp(k, "Service")) {
		json_t *ports = json_object_get(spec, "ports");
		set_absent(spec, "type", json_string("ClusterIP"));
		set_absent(spec, "sessionAffinity", json_string("None"));
		for (size_t i = 0; i < json_array_size(ports); i++) {
			json_t *p = json_array_get(ports, i);
			set_absent(p, "protocol", json_string("TCP"));
			if (json_object_get(p, "port"))
				set_absent(p, "targetPort", json_deep_copy(json_object_get(p, "port")));
		}
		return;
	}
	if (!json_is_object(spec))
		return;
	default_podspec(json_object_get(json_object_get(spec, "template"), "spec"));
	if (!strcmp(k, "Deployment")) {
		set_absent(spec, "replicas", json_integer(1));
		set_absent(spec, "strategy", json_pack("{s:s, s:{s:s, s:s}}", "type", "RollingUpdate", "rollingUpdate",
						       "maxUnavailable", "25%", "maxSurge", "25%"));
		set_absent(spec, "revisionHistoryLimit", json_integer(10));
		set_absent(spec, "progressDeadlineSeconds", json_integer(600));
	} else if (!strcmp(k, "ReplicaSet")) {
		set_absent(spec, "replicas", json_integer(1));
	} else if (!strcmp(k, "StatefulSet")) {
		set_absent(spec, "replicas", json_integer(1));
		set_absent(spec, "podManagementPolicy", json_string("OrderedReady"));
		set_absent(spec, "updateStrategy", json_pack("{s:s, s:{s:i}}", "type", "RollingUpdate",
							     "rollingUpdate", "partition", 0));
		set_absent(spec, "revisionHistoryLimit", json_integer(10));
	} else if (!strcmp(k, "DaemonSet")) {
		set_absent(spec, "updateStrategy", json_pack("{s:s, s:{s:i, s:i}}", "type", "RollingUpdate",
							     "rollingUpdate", "maxUnavailable", 1, "maxSurge", 0));
		set_absent(spec, "revisionHistoryLimit", json_integer(10));
	} else if (!strcmp(k, "Job")) {
		if (!json_object_get(spec, "completions") && !json_object_get(spec, "parallelism")) {
			json_object_set_new(spec, "completions", json_integer(1));
			json_object_set_new(spec, "parallelism", json_integer(1));
		}
		set_absent(spec, "parallelism", json_integer(1));
		set_absent(spec, "backoffLimit", json_integer(6));
		set_absent(spec, "completionMode", json_string("NonIndexed"));
		set_absent(spec, "suspend", json_false());
	}
}

void kp_apiserver__reg_default(const struct kp_apiserver__reg *reg, const struct kp_apiserver__res *res, json_t *obj)
{
	const struct kp_apiserver__res_entry *e = kp_apiserver__res_entry_of(res);

	(void)reg;
	if (!json_is_object(obj))
		return;
	if (e->schema)
		schema_default(e->schema, obj, 0);
	if (res->builtin)
		builtin_defaults(res, obj);
}

/* ---- conversion ---- */

#define ANN_KUBELET "compatibility.karpenter.sh/v1beta1-kubelet-conversion"
#define ANN_NCREF "compatibility.karpenter.sh/v1beta1-nodeclass-reference"
#define DEFAULT_NC_GROUP "karpenter.k8s.aws"
#define DEFAULT_NC_KIND "EC2NodeClass"

static json_t *annotations(json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata"), *a;
	if (!md) {
		md = json_object();
		json_object_set_new(obj, "metadata", md);
	}
	a = json_object_get(md, "annotations");
	if (!a) {
		a = json_object();
		json_object_set_new(md, "annotations", a);
	}
	return a;
}

static void drop_empty_annotations(json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata");
	if (json_object_size(json_object_get(md, "annotations")) == 0)
		json_object_del(md, "annotations");
}

/* v1 nodeClassRef/kubelet -> v1beta1, in the spec that holds them (template.spec or NodeClaim spec). */
static kp_err ncref_to_beta(json_t *obj, json_t *s, struct kp_errbuf *eb)
{
	json_t *ann = annotations(obj);
	const char *refa = kp_kobj_str(ann, ANN_NCREF), *kub = kp_kobj_str(ann, ANN_KUBELET);
	json_t *ref = json_object_get(s, "nodeClassRef");

	if (refa && *refa) {
		json_t *r = json_loads(refa, 0, NULL);
		if (!json_is_object(r)) {
			json_decref(r);
			return kp_errf(eb, KP_ERR_INVALID, "unmarshaling nodeClassRef annotation: bad json");
		}
		json_object_set_new(s, "nodeClassRef", r);
	} else if (ref) {
		json_t *r = json_object();
		if (json_object_get(ref, "kind"))
			json_object_set(r, "kind", json_object_get(ref, "kind"));
		if (json_object_get(ref, "name"))
			json_object_set(r, "name", json_object_get(ref, "name"));
		json_object_set_new(s, "nodeClassRef", r);
	}
	if (kub && *kub) {
		json_t *k = json_loads(kub, 0, NULL);
		if (!json_is_object(k)) {
			json_decref(k);
			return kp_errf(eb, KP_ERR_INVALID, "unmarshaling kubelet config annotation: bad json");
		}
		json_object_set_new(s, "kubelet", k);
	}
	json_object_del(ann, ANN_NCREF);
	json_object_del(ann, ANN_KUBELET);
	drop_empty_annotations(obj);
	return KP_OK;
}

static void ncref_to_v1(json_t *obj, json_t *s)
{
	json_t *ann = annotations(obj);
	json_t *ref = json_object_get(s, "nodeClassRef");
	json_t *kub = json_object_get(s, "kubelet");
	const char *kind = kp_kobj_str(ref, "kind"), *apiv = kp_kobj_str(ref, "apiVersion"), *name = kp_kobj_str(ref, "name");
	char group[256];
	char *dump;

	if (apiv && *apiv) {
		const char *slash = strchr(apiv, '/');
		snprintf(group, sizeof(group), "%.*s", (int)(slash ? (size_t)(slash - apiv) : strlen(apiv)), apiv);
	} else {
		snprintf(group, sizeof(group), "%s", DEFAULT_NC_GROUP);
	}
	/* the v1beta1 reference, as Go marshals it: kind, name, apiVersion */
	json_t *orig = json_object();
	if (kind && *kind)
		json_object_set_new(orig, "kind", json_string(kind));
	json_object_set_new(orig, "name", json_string(name ? name : ""));
	if (apiv && *apiv)
		json_object_set_new(orig, "apiVersion", json_string(apiv));
	dump = json_dumps(orig, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(orig);
	json_object_set_new(ann, ANN_NCREF, json_string(dump ? dump : "{}"));
	free(dump);
	json_object_set_new(s, "nodeClassRef",
			    json_pack("{s:s, s:s, s:s}", "group", group, "kind", kind && *kind ? kind : DEFAULT_NC_KIND,
				      "name", name ? name : ""));
	if (kub) {
		dump = json_dumps(kub, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_object_set_new(ann, ANN_KUBELET, json_string(dump ? dump : "{}"));
		free(dump);
		json_object_del(s, "kubelet");
	} else {
		json_object_del(ann, ANN_KUBELET);
	}
}

static void keep_only(json_t *o, const char *const *keys)
{
	void *it = json_object_iter(o);
	while (it) {
		const char *k = json_object_iter_key(it);
		void *next = json_object_iter_next(o, it);
		if (!kp_apiserver__res_list_has(keys, k))
			json_object_del(o, k);
		it = next;
	}
}

static kp_err nodepool_convert(json_t *o, bool to_beta, struct kp_errbuf *eb)
{
	json_t *spec = json_object_get(o, "spec");
	json_t *tmpl = json_object_get(spec, "template");
	json_t *ts = json_object_get(tmpl, "spec");
	json_t *dis = json_object_get(spec, "disruption");
	json_t *st = json_object_get(o, "status");
	static const char *const status_keys[] = {"resources", "conditions", NULL};

	if (json_is_object(st))
		keep_only(st, status_keys);
	if (to_beta) {
		const char *pol = kp_kobj_str(dis, "consolidationPolicy");
		if (!dis && json_is_object(spec)) {
			dis = json_object();
			json_object_set_new(spec, "disruption", dis);
		}
		if (pol && !strcmp(pol, "WhenEmptyOrUnderutilized")) {
			json_object_set_new(dis, "consolidationPolicy", json_string("WhenUnderutilized"));
			json_object_del(dis, "consolidateAfter");
		}
		json_t *bud = json_object_get(dis, "budgets");
		for (size_t i = 0; i < json_array_size(bud); i++)
			json_object_del(json_array_get(bud, i), "reasons");
		json_t *exp = json_object_get(ts, "expireAfter");
		if (exp && dis)
			json_object_set(dis, "expireAfter", exp);
		json_object_del(ts, "expireAfter");
		json_object_del(ts, "terminationGracePeriod");
		if (ts)
			return ncref_to_beta(o, ts, eb);
		return KP_OK;
	}
	const char *pol = kp_kobj_str(dis, "consolidationPolicy");
	json_t *exp = json_object_get(dis, "expireAfter");
	if (exp && ts)
		json_object_set(ts, "expireAfter", exp);
	json_object_del(dis, "expireAfter");
	if (pol && !strcmp(pol, "WhenUnderutilized")) {
		json_object_set_new(dis, "consolidationPolicy", json_string("WhenEmptyOrUnderutilized"));
		json_object_set_new(dis, "consolidateAfter", json_string("0s"));
	}
	if (ts)
		ncref_to_v1(o, ts);
	return KP_OK;
}

static kp_err nodeclaim_convert(json_t *o, bool to_beta, struct kp_errbuf *eb)
{
	json_t *spec = json_object_get(o, "spec");
	json_t *st = json_object_get(o, "status");
	static const char *const status_keys[] = {"nodeName", "providerID", "imageID", "capacity", "allocatable",
						  "conditions", NULL};

	if (json_is_object(st))
		keep_only(st, status_keys);
	if (!json_is_object(spec))
		return KP_OK;
	if (to_beta) {
		json_object_del(spec, "expireAfter");
		json_object_del(spec, "terminationGracePeriod");
		return ncref_to_beta(o, spec, eb);
	}
	ncref_to_v1(o, spec);
	return KP_OK;
}

static const char *alias_family(const char *alias, char *buf, size_t n)
{
	static const char *const fam[][2] = {{"al2", "AL2"}, {"al2023", "AL2023"}, {"bottlerocket", "Bottlerocket"},
					     {"windows2019", "Windows2019"}, {"windows2022", "Windows2022"}};
	const char *at = strchr(alias, '@');
	snprintf(buf, n, "%.*s", (int)(at ? (size_t)(at - alias) : strlen(alias)), alias);
	for (size_t i = 0; i < KP_ARRAY_LEN(fam); i++)
		if (!strcmp(buf, fam[i][0]))
			return fam[i][1];
	return NULL;
}

static kp_err ec2nc_convert(json_t *o, bool to_beta, struct kp_errbuf *eb)
{
	json_t *spec = json_object_get(o, "spec");
	json_t *terms = json_object_get(spec, "amiSelectorTerms");
	char buf[64];

	(void)eb;
	if (!json_is_object(spec))
		return KP_OK;
	if (to_beta) {
		const char *fam = kp_kobj_str(spec, "amiFamily");
		json_t *kept = json_array();
		for (size_t i = 0; i < json_array_size(terms); i++) {
			json_t *t = json_array_get(terms, i);
			const char *alias = kp_kobj_str(t, "alias");
			if (alias) {
				if (!fam)
					fam = alias_family(alias, buf, sizeof(buf));
				continue;
			}
			json_array_append(kept, t);
		}
		json_object_set_new(spec, "amiFamily", json_string(fam ? fam : "Custom"));
		if (terms)
			json_object_set_new(spec, "amiSelectorTerms", kept);
		else
			json_decref(kept);
		json_object_del(spec, "kubelet");
		return KP_OK;
	}
	const char *fam = kp_kobj_str(spec, "amiFamily");
	if (fam && (!strcmp(fam, "AL2") || !strcmp(fam, "AL2023") || !strcmp(fam, "Bottlerocket") ||
		    !strcmp(fam, "Windows2019") || !strcmp(fam, "Windows2022"))) {
		if (!json_array_size(terms)) {
			char alias[96];
			size_t i;
			for (i = 0; fam[i] && i + 1 < sizeof(buf); i++)
				buf[i] = (char)(fam[i] >= 'A' && fam[i] <= 'Z' ? fam[i] + 32 : fam[i]);
			buf[i] = 0;
			snprintf(alias, sizeof(alias), "%s@latest", buf);
			json_object_del(spec, "amiFamily");
			json_object_set_new(spec, "amiSelectorTerms", json_pack("[{s:s}]", "alias", alias));
		}
	} else if (fam && strcmp(fam, "Custom") != 0) {
		/* Ubuntu and unknown families have no v1 equivalent: keep as Custom */
		json_object_set_new(spec, "amiFamily", json_string("Custom"));
	}
	return KP_OK;
}

json_t *kp_apiserver__reg_convert(const struct kp_apiserver__reg *reg, const struct kp_apiserver__res *res, const json_t *obj,
			  const char *to_version, struct kp_errbuf *eb)
{
	const char *apiv = kp_kobj_str(obj, "apiVersion");
	const char *from = apiv && strchr(apiv, '/') ? strchr(apiv, '/') + 1 : (apiv ? apiv : res->version);
	char av[256];
	json_t *o;
	kp_err rc = KP_OK;

	(void)reg;
	if (!json_is_object(obj) || !to_version) {
		kp_errf(eb, KP_ERR_INVALID, "convert: object and target version required");
		return NULL;
	}
	o = json_deep_copy(obj);
	if (!o) {
		kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	if (strcmp(from, to_version) != 0) {
		bool to_beta = !strcmp(to_version, "v1beta1") && !strcmp(from, "v1");
		bool to_v1 = !strcmp(to_version, "v1") && !strcmp(from, "v1beta1");
		if (to_beta || to_v1) {
			if (!strcmp(res->group, "karpenter.sh") && !strcmp(res->kind, "NodePool"))
				rc = nodepool_convert(o, to_beta, eb);
			else if (!strcmp(res->group, "karpenter.sh") && !strcmp(res->kind, "NodeClaim"))
				rc = nodeclaim_convert(o, to_beta, eb);
			else if (!strcmp(res->group, "karpenter.k8s.aws") && !strcmp(res->kind, "EC2NodeClass"))
				rc = ec2nc_convert(o, to_beta, eb);
		}
	}
	if (rc) {
		json_decref(o);
		kp_err_prefix(eb, "convert %s to %s", res->kind, to_version);
		return NULL;
	}
	if (res->group[0])
		snprintf(av, sizeof(av), "%s/%s", res->group, to_version);
	else
		snprintf(av, sizeof(av), "%s", to_version);
	json_object_set_new(o, "apiVersion", json_string(av));
	return o;
}
