/*
 * rest_apply.c - what every write request goes through besides the kind's
 * own checks, and server-side apply:
 *  - the write options: `fieldValidation` (Strict|Warn|Ignore, 400 for
 *    anything else) and the field manager (`fieldManager`, else the
 *    User-Agent up to its first '/', as upstream's prefixFromUserAgent);
 *  - field validation of the written object in its served version
 *    (fieldval.h: Go type errors -> 400, unknown fields -> 400 under Strict,
 *    pruned and answered as `Warning: 299 -` headers otherwise);
 *  - the resourceVersion precondition: a decimal or 422;
 *  - metadata.managedFields of every create/update/patch (ssa.h);
 *  - PATCH application/apply-patch+yaml: server-side apply, creating the
 *    object when absent, 409 with FieldManagerConflict causes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver/apires_int.h"
#include "apiserver/server.h"
#include "apiserver/ssa.h"

#include "apiserver/rest_int.h"

static const json_t *schema_of(const struct kp_apiserver__req *c)
{
	return c->res->builtin ? NULL : kp_apiserver__res_entry_of(c->res)->schema;
}

bool kp_apiserver__write_opts(struct kp_apiserver__req *c)
{
	char msg[300];
	const char *fm = kp_apiserver__arg(c->rq, "fieldManager");
	const char *ua = c->rq->user_agent;

	if (kp_apiserver__fieldval_mode_parse(kp_apiserver__arg(c->rq, "fieldValidation"), &c->fv, msg, sizeof(msg))) {
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", msg);
		return false;
	}
	if (fm && *fm)
		snprintf(c->manager, sizeof(c->manager), "%s", fm);
	else if (ua && *ua)
		snprintf(c->manager, sizeof(c->manager), "%.*s", (int)strcspn(ua, "/"), ua);
	else
		snprintf(c->manager, sizeof(c->manager), "unknown");
	return true;
}

bool kp_apiserver__field_check(struct kp_apiserver__req *c, json_t *obj)
{
	json_t *warn = NULL;
	char msg[2048];
	int code;

	if (c->scale_resp)
		return true;
	code = kp_apiserver__fieldval_decide(schema_of(c), c->res->kind, c->res->version, obj, c->fv, &warn, msg,
					     sizeof(msg));
	if (code == 400) {
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", msg);
	} else if (code) {
		kp_apiserver__rest_status(c->rs, 500, "InternalError", "out of memory");
	} else if (json_array_size(warn)) {
		json_decref(c->warnings);
		c->warnings = json_incref(warn);
	}
	json_decref(warn);
	return code == 0;
}

int64_t kp_apiserver__rv_checked(struct kp_apiserver__req *c, const json_t *obj, const char *name)
{
	uint64_t v;
	char msg[700], full[1100];
	const char *detail;
	json_t *st;

	if (kp_apiserver__fieldval_rv(kp_kobj_meta_str(obj, "resourceVersion"), &v, msg, sizeof(msg)) == 0)
		return v > INT64_MAX ? INT64_MAX : (int64_t)v;
	/* storeerr.InterpretUpdateError: NewInvalid with the resource as kind */
	detail = strstr(msg, "Invalid value");
	snprintf(full, sizeof(full), "%s \"%s\" is invalid: %s", c->qname, name ? name : "", msg);
	st = kp_apiserver__status_obj(422, "Invalid", full);
	json_object_set_new(st, "details", json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}", "name", name ? name : "",
						     "group", c->r.group, "kind", c->r.plural, "causes", "reason",
						     "FieldValueInvalid", "message", detail ? detail : msg, "field",
						     "resourceVersion"));
	kp_apiserver__resp_json(c->rs, 422, st, CT_JSON);
	return -1;
}

/* The subresource a write's field ownership is recorded under: "status",
 * "scale" or NULL (the object itself). */
static const char *managed_sub(const struct kp_apiserver__req *c)
{
	const char *sub = c->r.sub;
	return sub && (strcmp(sub, "status") == 0 || strcmp(sub, "scale") == 0) ? sub : NULL;
}

static bool is_status(const char *sub)
{
	return sub && strcmp(sub, "status") == 0;
}

void kp_apiserver__track_fields(struct kp_apiserver__req *c, const json_t *old, json_t *nobj)
{
	char ts[40];

	if (c->applying)
		return;
	kp_kobj_now_rfc3339(ts, sizeof(ts));
	/* a status write changed status only (the rest is the old object): its manager owns those fields */
	struct kp_apiserver__ssa_req q = { old, c->manager, c->r.gv, schema_of(c), ts, false,
					   c->res->has_status && !is_status(managed_sub(c)), managed_sub(c) };
	if (kp_apiserver__ssa_update(&q, nobj))
		json_object_del(kp_kobj_meta(nobj), "managedFields");
}

void kp_apiserver__track_stored(struct kp_apiserver__req *c, const json_t *old, json_t *nobj)
{
	const struct kp_apiserver__res *res = c->res;
	json_t *so, *sn;

	if (c->applying || !(res->storage_group || (res->storage_version && strcmp(res->storage_version, res->version)))) {
		kp_apiserver__track_fields(c, old, nobj);
		return;
	}
	/* fields are owned by their names in the version the client wrote (events.k8s.io's note, not message) */
	so = kp_apiserver__to_served(c, old);
	sn = kp_apiserver__to_served(c, nobj);
	if (so && sn) {
		kp_apiserver__track_fields(c, so, sn);
		json_t *mf = json_object_get(kp_kobj_meta(sn), "managedFields");
		if (mf)
			json_object_set(kp_kobj_meta(nobj), "managedFields", mf);
		else
			json_object_del(kp_kobj_meta(nobj), "managedFields");
	}
	json_decref(so);
	json_decref(sn);
}

void kp_apiserver__take_warnings(struct kp_apiserver__req *c)
{
	struct kp_buf w;
	size_t i;
	json_t *t;

	if (json_array_size(c->warnings) && c->rs->status < 300 && !c->rs->stream) {
		kp_buf_init(&w, 64 * 1024);
		json_array_foreach(c->warnings, i, t) {
			char *q = json_dumps(t, JSON_ENCODE_ANY);
			if (q)
				(void)kp_buf_printf(&w, "%s299 - %s", i ? "\n" : "", q);
			free(q);
		}
		free(c->rs->warnings);
		c->rs->warnings = kp_buf_take(&w);
	}
	json_decref(c->warnings);
	c->warnings = NULL;
}

/* 409 for an apply conflict (apiserver internal.NewConflictError) */
static void apply_conflict(struct kp_apiserver__req *c, const char *msg, json_t *causes)
{
	json_t *st = kp_apiserver__status_obj(409, "Conflict", msg);
	json_object_set_new(st, "details", json_pack("{s:s, s:s, s:s, s:o}", "name", c->r.name, "group", c->r.group,
						     "kind", c->r.plural, "causes", causes ? causes : json_array()));
	kp_apiserver__resp_json(c->rs, 409, st, CT_JSON);
}

/* The applied configuration of the request, checked; NULL when answered. */
static json_t *applied_config(struct kp_apiserver__req *c, int64_t *client_rv)
{
	struct kp_errbuf eb = { 0 };
	json_t *docs, *applied;
	const char *nm;

	docs = c->rq->body ? kp_apiserver__res_yaml_docs(c->rq->body, c->rq->body_len, &eb) : NULL;
	applied = json_incref(json_array_get(docs, 0));
	json_decref(docs);
	if (!json_is_object(applied)) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "error decoding YAML: %s",
			 eb.msg[0] ? eb.msg : "the applied configuration must be an object");
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", msg);
		json_decref(applied);
		return NULL;
	}
	if (!kp_apiserver__check_type(c, applied) || !kp_apiserver__field_check(c, applied)) {
		json_decref(applied);
		return NULL;
	}
	nm = kp_kobj_meta_str(applied, "name");
	if (nm && strcmp(nm, c->r.name) != 0) {
		char msg[700];
		snprintf(msg, sizeof(msg), "the name of the object (%s) does not match the name on the URL (%s)", nm,
			 c->r.name);
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", msg);
		json_decref(applied);
		return NULL;
	}
	json_object_set_new(kp_kobj_meta(applied), "name", json_string(c->r.name));
	*client_rv = kp_apiserver__rv_checked(c, applied, c->r.name);
	if (*client_rv < 0) {
		json_decref(applied);
		return NULL;
	}
	return applied;
}

/* The applied configuration of PATCH .../scale: an autoscaling/v1 Scale,
 * applied as the parent's spec.replicas (upstream's scale handler maps the
 * Scale's fields onto the parent's and records them under subresource
 * "scale"); NULL when answered. */
static json_t *applied_scale(struct kp_apiserver__req *c, int64_t *client_rv)
{
	struct kp_errbuf eb = { 0 };
	json_t *docs = c->rq->body ? kp_apiserver__res_yaml_docs(c->rq->body, c->rq->body_len, &eb) : NULL;
	json_t *scale = json_array_get(docs, 0), *replicas, *out;
	const char *av = kp_kobj_str(scale, "apiVersion"), *kind = kp_kobj_str(scale, "kind");
	const char *nm = kp_kobj_meta_str(scale, "name");
	char msg[1200];

	if (!json_is_object(scale)) {
		snprintf(msg, sizeof(msg), "error decoding YAML: %s",
			 eb.msg[0] ? eb.msg : "the applied configuration must be an object");
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", msg);
		json_decref(docs);
		return NULL;
	}
	if (!av || strcmp(av, "autoscaling/v1") != 0 || !kind || strcmp(kind, "Scale") != 0) {
		/* fieldmanager's version check (structuredmerge.go Apply) */
		snprintf(msg, sizeof(msg), "Incorrect version specified in apply patch. Specified patch version: %s, "
			 "expected: autoscaling/v1", av ? av : "");
		if (av && strcmp(av, "autoscaling/v1") == 0)
			snprintf(msg, sizeof(msg), "the kind in the data (%s) does not match the expected kind (Scale)",
				 kind ? kind : "");
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", msg);
		json_decref(docs);
		return NULL;
	}
	if (nm && strcmp(nm, c->r.name) != 0) {
		snprintf(msg, sizeof(msg), "the name of the object (%s) does not match the name on the URL (%s)", nm,
			 c->r.name);
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", msg);
		json_decref(docs);
		return NULL;
	}
	*client_rv = kp_apiserver__rv_checked(c, scale, c->r.name);
	if (*client_rv < 0) {
		json_decref(docs);
		return NULL;
	}
	replicas = kp_kobj_at(scale, "spec.replicas");
	if (replicas && !json_is_integer(replicas)) {
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", "json: cannot unmarshal into Go struct field "
					  "ScaleSpec.spec.replicas of type int32");
		json_decref(docs);
		return NULL;
	}
	out = json_pack("{s:s, s:s, s:{s:s}, s:{}}", "apiVersion", c->r.gv, "kind", c->res->kind, "metadata", "name",
			c->r.name, "spec");
	if (out && replicas)
		json_object_set(json_object_get(out, "spec"), "replicas", replicas);
	json_decref(docs);
	if (!out)
		kp_apiserver__rest_status(c->rs, 500, "InternalError", "out of memory");
	return out;
}

/* An apply to /status owns status fields only: the rest of the applied
 * configuration is dropped (the status strategy's reset fields). */
static void status_only(json_t *applied)
{
	const char *key;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(applied, tmp, key, v) {
		if (strcmp(key, "apiVersion") && strcmp(key, "kind") && strcmp(key, "metadata") && strcmp(key, "status"))
			json_object_del(applied, key);
	}
	json_object_set_new(applied, "metadata", json_pack("{s:s}", "name", kp_kobj_meta_str(applied, "name")));
}

void kp_apiserver__do_apply(struct kp_apiserver__req *c, const char *sub)
{
	const char *fm = kp_apiserver__arg(c->rq, "fieldManager");
	int64_t client_rv = 0;
	json_t *applied;
	char ts[40];

	if (sub && !is_status(sub) && strcmp(sub, "scale") != 0) {
		kp_apiserver__rest_status(c->rs, 415, "UnsupportedMediaType",
					  "the body of the request was in an unknown format - accepted media types include: "
					  "application/json-patch+json, application/merge-patch+json");
		return;
	}
	if (!fm || !*fm) {
		/* ValidatePatchOptions */
		kp_apiserver__resp_json(c->rs, 422,
					kp_apiserver__status_obj(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: "
								 "fieldManager: Required value: is required for apply patch"),
					CT_JSON);
		return;
	}
	if (sub && !is_status(sub)) {
		c->scale_resp = true;
		applied = applied_scale(c, &client_rv);
	} else {
		applied = applied_config(c, &client_rv);
		if (applied && sub)
			status_only(applied);
	}
	if (!applied)
		return;
	c->applying = true;
	for (int attempt = 0; attempt < MUTATE_RETRIES; attempt++) {
		struct kp_store_key k = kp_apiserver__key_of(c, c->r.name);
		struct kp_errbuf eb = { 0 };
		char *text = NULL, msg[4096];
		int64_t cur = 0;
		int code = 0;
		json_t *old = NULL, *base = NULL, *result, *causes = NULL;
		enum kp_store_rc rc = kp_store_get(c->L->store, &k, &text, &cur, &eb);

		if (rc == KP_STORE_OK) {
			old = json_loads(text, 0, NULL);
			free(text);
			base = old ? kp_apiserver__to_served(c, old) : NULL;
			if (!base) {
				json_decref(old);
				kp_apiserver__rest_status(c->rs, 500, "InternalError", "stored object is not valid JSON");
				break;
			}
		} else if (rc != KP_STORE_NOTFOUND || sub) {
			/* a subresource applies to an object that exists */
			kp_apiserver__err_store(c, rc, k.name, &eb);
			break;
		}
		kp_kobj_now_rfc3339(ts, sizeof(ts));
		struct kp_apiserver__ssa_req q = { base, c->manager, c->r.gv, schema_of(c), ts,
						   kp_apiserver__truthy(kp_apiserver__arg(c->rq, "force")),
						   c->res->has_status && !is_status(sub), sub };
		result = kp_apiserver__ssa_apply(&q, applied, &code, msg, sizeof(msg), &causes);
		json_decref(base);
		if (!result) {
			json_decref(old);
			if (code == 409)
				apply_conflict(c, msg, causes);
			else
				kp_apiserver__rest_status(c->rs, code == 400 ? 400 : 500,
							  code == 400 ? "BadRequest" : "InternalError", msg);
			break;
		}
		if (!old) {
			kp_apiserver__create_obj(c, result);
			break;
		}
		enum kp_apiserver__upd_result r = kp_apiserver__finish_update(c, old, cur, result, client_rv,
									      is_status(sub) ? sub : NULL);
		json_decref(old);
		if (r == UPD_DONE)
			break;
		if (attempt == MUTATE_RETRIES - 1)
			kp_apiserver__err_conflict(c, c->r.name);
	}
	json_decref(applied);
}
