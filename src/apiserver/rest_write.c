/*
 * rest_write.c - create, update (PUT), patch (merge, strategic, JSON),
 * the scale subresource and the binding subresource.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "apiserver/pdb.h"
#include "apiserver/server.h"

#include "apiserver/rest_int.h"

/* --------------------------------------------------------------- create */

static bool namespace_usable(struct kp_apiserver__req *c, bool *terminating)
{
	struct kp_store_key k = { "", "namespaces", "", c->r.ns };
	char *text = NULL;
	bool ok;

	*terminating = false;
	ok = kp_store_get(c->L->store, &k, &text, NULL, NULL) == KP_STORE_OK;
	if (ok && strstr(text, "\"deletionTimestamp\""))
		*terminating = true;
	free(text);
	return ok;
}

/* Checks apiVersion/kind of a request object against the URL; fills them
 * in when missing. Answers 400 and returns false on mismatch. */
static bool check_type(struct kp_apiserver__req *c, json_t *obj)
{
	const char *av = kp_kobj_str(obj, "apiVersion"), *kind = kp_kobj_str(obj, "kind");
	char msg[700];

	if ((av && strcmp(av, c->r.gv) != 0) || (kind && strcmp(kind, c->res->kind) != 0)) {
		snprintf(msg, sizeof(msg), "the API version in the data (%s) does not match the expected API version (%s)",
			 av ? av : "", c->r.gv);
		if (av && strcmp(av, c->r.gv) == 0)
			snprintf(msg, sizeof(msg), "the kind in the data (%s) does not match the expected kind (%s)", kind,
				 c->res->kind);
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", msg);
		return false;
	}
	json_object_set_new(obj, "apiVersion", json_string(c->r.gv));
	json_object_set_new(obj, "kind", json_string(c->res->kind));
	return true;
}

/* Fills in the status of a newly stored CRD so that `kubectl wait
 * --for=condition=Established` and clients checking names succeed. */
static void crd_status(json_t *crd)
{
	json_t *spec = json_object_get(crd, "spec"), *vs = json_object_get(spec, "versions"), *v;
	json_t *stored = json_array();
	char ts[40];
	size_t i;

	kp_kobj_now_rfc3339(ts, sizeof(ts));
	json_array_foreach(vs, i, v)
		if (json_is_true(json_object_get(v, "storage")) && kp_kobj_str(v, "name"))
			json_array_append_new(stored, json_string(kp_kobj_str(v, "name")));
	json_object_set_new(crd, "status", json_pack("{s:O*, s:o, s:[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]}",
		"acceptedNames", json_object_get(spec, "names"), "storedVersions", stored, "conditions",
		"type", "NamesAccepted", "status", "True", "lastTransitionTime", ts, "reason", "NoConflicts",
		"message", "no conflicts found",
		"type", "Established", "status", "True", "lastTransitionTime", ts, "reason", "InitialNamesAccepted",
		"message", "the initial names have been accepted"));
}

void kp_apiserver__do_create(struct kp_apiserver__req *c)
{
	json_t *obj = kp_apiserver__body_object(c);

	if (obj)
		kp_apiserver__create_obj(c, obj);
}

void kp_apiserver__create_obj(struct kp_apiserver__req *c, json_t *obj)
{
	struct kp_errbuf eb = { 0 };
	json_t *md;
	const char *name, *gen, *bns;
	char ts[40], uid[37], buf[300];
	enum kp_store_rc rc;
	struct kp_store_key k;

	if (!json_is_object(obj) || !check_type(c, obj) || (!c->applying && !kp_apiserver__field_check(c, obj))) {
		if (!json_is_object(obj))
			kp_apiserver__rest_status(c->rs, 400, "BadRequest", "the body of the request must be an object");
		json_decref(obj);
		return;
	}
	md = kp_kobj_meta(obj);
	bns = kp_kobj_str(md, "namespace");
	if (c->res->namespaced) {
		if (bns && *bns && strcmp(bns, c->r.ns) != 0) {
			kp_apiserver__rest_status(c->rs, 400, "BadRequest",
				       "the namespace of the provided object does not match the namespace sent on the request");
			json_decref(obj);
			return;
		}
		json_object_set_new(md, "namespace", json_string(c->r.ns));
	} else {
		json_object_del(md, "namespace");
	}
	name = kp_kobj_str(md, "name");
	gen = kp_kobj_str(md, "generateName");
	if ((!name || !*name) && gen && *gen) {
		char sfx[6];
		kp_apiserver__random_suffix(sfx);
		snprintf(buf, sizeof(buf), "%.*s%s", 58, gen, sfx);
		json_object_set_new(md, "name", json_string(buf));
		name = kp_kobj_str(md, "name");
	}
	if (!name || !*name) {
		kp_apiserver__err_invalid(c, "", "metadata.name: Required value: name or generateName is required", NULL);
		json_decref(obj);
		return;
	}
	if (c->res->namespaced) {
		bool term;
		if (!namespace_usable(c, &term)) {
			char msg[400];
			snprintf(msg, sizeof(msg), "namespaces \"%s\" not found", c->r.ns);
			kp_apiserver__status_details(c->rs, 404, "NotFound", msg, c->r.ns, "", "namespaces");
			json_decref(obj);
			return;
		}
		if (term) {
			char msg[600];
			snprintf(msg, sizeof(msg), "%s \"%s\" is forbidden: unable to create new content in namespace %s "
				 "because it is being terminated", c->qname, name, c->r.ns);
			kp_apiserver__status_details(c->rs, 403, "Forbidden", msg, name, c->r.group, c->r.plural);
			json_decref(obj);
			return;
		}
	}
	kp_apiserver__new_uid(uid);
	kp_kobj_now_rfc3339(ts, sizeof(ts));
	json_object_set_new(md, "uid", json_string(uid));
	json_object_set_new(md, "creationTimestamp", json_string(ts));
	json_object_set_new(md, "generation", json_integer(1));
	json_object_del(md, "resourceVersion");
	json_object_del(md, "deletionTimestamp");
	json_object_del(md, "deletionGracePeriodSeconds");
	if (!c->applying)
		json_object_del(md, "managedFields");
	if (!c->r.group[0] && strcmp(c->r.plural, "namespaces") == 0) {
		json_t *labels = json_object_get(md, "labels");
		if (!json_is_object(labels)) {
			labels = json_object();
			json_object_set_new(md, "labels", labels);
		}
		json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
		json_object_set_new(obj, "spec", json_pack("{s:[s]}", "finalizers", "kubernetes"));
		json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
	}
	kp_apiserver__reg_default(c->L->reg, c->res, obj);
	if (kp_apiserver__reg_validate(c->L->reg, c->res, obj, &eb)) {
		kp_apiserver__err_invalid(c, kp_kobj_str(md, "name"), eb.msg, obj);
		json_decref(obj);
		return;
	}
	if (kp_apiserver__is_crd(c->r.group, c->r.plural))
		crd_status(obj);
	kp_apiserver__track_fields(c, NULL, obj);
	obj = kp_apiserver__to_storage(c, obj);
	md = kp_kobj_meta(obj);
	k = kp_apiserver__key_of(c, kp_kobj_str(md, "name"));
	if (c->dry_run) {
		struct kp_store_key kk = k;
		char *t = NULL;
		if (kp_store_get(c->L->store, &kk, &t, NULL, NULL) == KP_STORE_OK) {
			free(t);
			kp_apiserver__err_exists(c, kk.name);
		} else {
			kp_apiserver__respond_object(c, 201, obj);
		}
		json_decref(obj);
		return;
	}
	rc = kp_store_create(c->L->store, &k, obj, NULL, &eb);
	if (rc) {
		kp_apiserver__err_store(c, rc, k.name, &eb);
		json_decref(obj);
		return;
	}
	if (kp_apiserver__is_crd(c->r.group, c->r.plural))
		c->crd_add = json_incref(obj);
	kp_apiserver__respond_object(c, 201, obj);
	json_decref(obj);
}

/* --------------------------------------------------------------- update */

/* True if anything outside metadata and status differs (generation bump). */
static bool spec_changed(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)a, key, v) {
		if (!strcmp(key, "metadata") || !strcmp(key, "status") || !strcmp(key, "apiVersion") || !strcmp(key, "kind"))
			continue;
		if (!json_equal(v, json_object_get(b, key)))
			return true;
	}
	json_object_foreach((json_t *)b, key, v) {
		if (!strcmp(key, "metadata") || !strcmp(key, "status") || !strcmp(key, "apiVersion") || !strcmp(key, "kind"))
			continue;
		if (!json_object_get(a, key))
			return true;
	}
	return false;
}

static void carry(json_t *nmd, const json_t *omd, const char *key)
{
	json_t *v = json_object_get(omd, key);
	if (v)
		json_object_set(nmd, key, v);
	else
		json_object_del(nmd, key);
}

/* The common tail of update, patch and the status/scale subresources:
 * nobj (owned, served version) replaces old (stored version, at cur_rv).
 * client_rv: the precondition the client gave (0 = none). */
static enum kp_apiserver__upd_result finish_update(struct kp_apiserver__req *c, const json_t *old, int64_t cur_rv, json_t *nobj,
				     int64_t client_rv, const char *sub)
{
	struct kp_store_key k = kp_apiserver__key_of(c, c->r.name);
	struct kp_errbuf eb = { 0 };
	json_t *md, *omd = json_object_get(old, "metadata");
	const char *nm;
	enum kp_store_rc rc;
	bool deleted = false;
	int64_t gen;

	if (!json_is_object(nobj) || !check_type(c, nobj)) {
		if (!json_is_object(nobj))
			kp_apiserver__rest_status(c->rs, 400, "BadRequest", "the body of the request must be an object");
		json_decref(nobj);
		return UPD_DONE;
	}
	md = kp_kobj_meta(nobj);
	nm = kp_kobj_str(md, "name");
	if (nm && strcmp(nm, c->r.name) != 0) {
		char msg[700];
		snprintf(msg, sizeof(msg), "the name of the object (%s) does not match the name on the URL (%s)", nm,
			 c->r.name);
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", msg);
		json_decref(nobj);
		return UPD_DONE;
	}
	if (client_rv > 0 && client_rv != cur_rv) {
		kp_apiserver__err_conflict(c, c->r.name);
		json_decref(nobj);
		return UPD_DONE;
	}
	nobj = kp_apiserver__to_storage(c, nobj);
	md = kp_kobj_meta(nobj);
	if (sub && strcmp(sub, "status") == 0) {
		json_t *st = json_incref(json_object_get(nobj, "status"));
		json_t *mf = c->applying ? json_incref(json_object_get(md, "managedFields")) : NULL;
		json_decref(nobj);
		nobj = json_deep_copy(old);
		if (st)
			json_object_set_new(nobj, "status", st);
		else
			json_object_del(nobj, "status");
		md = kp_kobj_meta(nobj);
		if (mf)
			json_object_set_new(md, "managedFields", mf);   /* an apply's field ownership */
		else if (c->applying)
			json_object_del(md, "managedFields");
	} else if (c->res->has_status && !(sub && strcmp(sub, "finalize") == 0)) {
		json_t *ost = json_object_get(old, "status");
		if (ost)
			json_object_set(nobj, "status", ost);
		else
			json_object_del(nobj, "status");
	}
	json_object_set_new(md, "name", json_string(c->r.name));
	carry(md, omd, "namespace");
	carry(md, omd, "uid");
	carry(md, omd, "creationTimestamp");
	carry(md, omd, "deletionTimestamp");
	carry(md, omd, "deletionGracePeriodSeconds");
	kp_apiserver__track_stored(c, old, nobj);
	gen = json_integer_value(json_object_get(omd, "generation"));
	if (gen <= 0)
		gen = 1;
	if (spec_changed(old, nobj))
		gen++;
	json_object_set_new(md, "generation", json_integer(gen));
	kp_apiserver__reg_default(c->L->reg, c->res, nobj);
	if (kp_apiserver__reg_validate(c->L->reg, c->res, nobj, &eb)) {
		kp_apiserver__err_invalid(c, c->r.name, eb.msg, nobj);
		json_decref(nobj);
		return UPD_DONE;
	}
	if (c->dry_run) {
		kp_apiserver__respond_object(c, 200, nobj);
		json_decref(nobj);
		return UPD_DONE;
	}
	rc = kp_apiserver__write_back(c->L, &k, nobj, cur_rv, &deleted, &eb);
	if (rc == KP_STORE_CONFLICT && client_rv <= 0) {
		json_decref(nobj);
		return UPD_RETRY;
	}
	if (rc) {
		kp_apiserver__err_store(c, rc, c->r.name, &eb);
		json_decref(nobj);
		return UPD_DONE;
	}
	if (kp_apiserver__is_crd(c->r.group, c->r.plural)) {
		if (deleted)
			c->crd_remove = strdup(c->r.name);
		else
			c->crd_add = json_incref(nobj);
	}
	kp_apiserver__respond_object(c, 200, nobj);
	json_decref(nobj);
	return UPD_DONE;
}

/* ---------------------------------------------------------------- scale */

json_t *kp_apiserver__scale_of(struct kp_apiserver__req *c, const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");
	const json_t *spec = json_object_get(obj, "spec"), *status = json_object_get(obj, "status");
	json_t *sel = json_object_get(status, "selector");
	json_t *scale;
	char selbuf[1024] = "";

	if (json_is_string(sel)) {
		snprintf(selbuf, sizeof(selbuf), "%s", json_string_value(sel));
	} else {
		const json_t *ml = json_object_get(json_object_get(spec, "selector"), "matchLabels");
		const char *key;
		json_t *v;
		size_t off = 0;
		json_object_foreach((json_t *)ml, key, v) {
			int w = snprintf(selbuf + off, sizeof(selbuf) - off, "%s%s=%s", off ? "," : "", key,
					 json_string_value(v) ? json_string_value(v) : "");
			if (w < 0 || (size_t)w >= sizeof(selbuf) - off)
				break;
			off += (size_t)w;
		}
	}
	scale = json_pack("{s:s, s:s, s:{s:O*, s:O*, s:O*, s:O*, s:O*}, s:{s:I}, s:{s:I, s:s}}", "kind", "Scale",
			  "apiVersion", "autoscaling/v1", "metadata", "name", json_object_get(md, "name"), "namespace",
			  json_object_get(md, "namespace"), "uid", json_object_get(md, "uid"), "resourceVersion",
			  json_object_get(md, "resourceVersion"), "creationTimestamp",
			  json_object_get(md, "creationTimestamp"), "spec", "replicas",
			  (json_int_t)json_integer_value(json_object_get(spec, "replicas")), "status", "replicas",
			  (json_int_t)json_integer_value(json_object_get(status, "replicas")), "selector", selbuf);
	(void)c;
	return scale;
}

/* ------------------------------------------------------- update / patch */

void kp_apiserver__do_update(struct kp_apiserver__req *c, const char *sub)
{
	json_t *body = kp_apiserver__body_object(c);

	if (!body)
		return;
	c->scale_resp = sub && strcmp(sub, "scale") == 0;
	if (kp_apiserver__rv_checked(c, body, c->r.name) < 0 || (json_is_object(body) && !kp_apiserver__field_check(c, body))) {
		json_decref(body);
		return;
	}
	for (int attempt = 0; attempt < MUTATE_RETRIES; attempt++) {
		struct kp_store_key k = kp_apiserver__key_of(c, c->r.name);
		json_t *old, *nobj;
		int64_t cur = 0, client_rv = kp_apiserver__rv_of_obj(body);  /* syntax checked above */
		enum kp_apiserver__upd_result r;

		if (!kp_apiserver__load_obj(c, &k, &old, &cur))
			break;
		if (c->scale_resp) {
			nobj = kp_apiserver__to_served(c, old);
			json_t *spec = json_object_get(nobj, "spec");
			if (!json_is_object(spec)) {
				spec = json_object();
				json_object_set_new(nobj, "spec", spec);
			}
			json_object_set(spec, "replicas", json_object_get(json_object_get(body, "spec"), "replicas"));
			sub = NULL;
		} else {
			nobj = json_deep_copy(body);
		}
		r = finish_update(c, old, cur, nobj, client_rv, sub);
		json_decref(old);
		if (r == UPD_DONE)
			break;
		if (attempt == MUTATE_RETRIES - 1)
			kp_apiserver__err_conflict(c, c->r.name);
	}
	json_decref(body);
}

static json_t *apply_patch(struct kp_apiserver__req *c, const json_t *base, const json_t *patch, const char *ct)
{
	struct kp_errbuf eb = { 0 };
	json_t *out = NULL;

	if (strstr(ct, "application/json-patch+json"))
		out = kp_apiserver__patch_json(base, patch, &eb);
	else if (strstr(ct, "application/merge-patch+json"))
		out = kp_apiserver__patch_merge(base, patch);
	else if (strstr(ct, "application/strategic-merge-patch+json"))
		out = kp_apiserver__patch_strategic(c->res, base, patch, &eb);
	if (!out) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "the server rejected our request due to an error in our request: %s",
			 eb.msg[0] ? eb.msg : "invalid patch");
		kp_apiserver__rest_status(c->rs, 422, "Invalid", msg);
	}
	return out;
}

void kp_apiserver__do_patch(struct kp_apiserver__req *c, const char *sub)
{
	const char *ct = c->rq->content_type ? c->rq->content_type : "";
	json_t *patch;

	if (strstr(ct, "apply-patch")) {
		kp_apiserver__do_apply(c, sub);
		return;
	}
	if (strstr(ct, "strategic-merge-patch") && !c->res->builtin) {
		kp_apiserver__rest_status(c->rs, 415, "UnsupportedMediaType",
			       "the body of the request was in an unknown format - accepted media types include: "
			       "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
		return;
	}
	if (!strstr(ct, "application/json-patch+json") && !strstr(ct, "application/merge-patch+json") &&
	    !strstr(ct, "application/strategic-merge-patch+json")) {
		kp_apiserver__rest_status(c->rs, 415, "UnsupportedMediaType",
			       "the body of the request was in an unknown format - accepted media types include: "
			       "application/json-patch+json, application/merge-patch+json, "
			       "application/strategic-merge-patch+json");
		return;
	}
	patch = kp_apiserver__body_object(c);
	if (!patch)
		return;
	c->scale_resp = sub && strcmp(sub, "scale") == 0;
	for (int attempt = 0; attempt < MUTATE_RETRIES; attempt++) {
		struct kp_store_key k = kp_apiserver__key_of(c, c->r.name);
		json_t *old, *base, *result, *nobj;
		int64_t cur = 0, client_rv;
		enum kp_apiserver__upd_result r;

		if (!kp_apiserver__load_obj(c, &k, &old, &cur))
			break;
		base = c->scale_resp ? kp_apiserver__scale_of(c, old) : kp_apiserver__to_served(c, old);
		result = base ? apply_patch(c, base, patch, ct) : NULL;
		json_decref(base);
		if (!result) {
			json_decref(old);
			break;
		}
		client_rv = kp_apiserver__rv_checked(c, result, c->r.name);
		if (client_rv < 0 || !kp_apiserver__field_check(c, result)) {
			json_decref(result);
			json_decref(old);
			break;
		}
		if (client_rv == cur)
			client_rv = 0;
		if (c->scale_resp) {
			json_t *spec;
			nobj = kp_apiserver__to_served(c, old);
			spec = json_object_get(nobj, "spec");
			if (!json_is_object(spec)) {
				spec = json_object();
				json_object_set_new(nobj, "spec", spec);
			}
			json_object_set(spec, "replicas", json_object_get(json_object_get(result, "spec"), "replicas"));
			json_decref(result);
		} else {
			nobj = result;
		}
		r = finish_update(c, old, cur, nobj, client_rv, c->scale_resp ? NULL : sub);
		json_decref(old);
		if (r == UPD_DONE)
			break;
		if (attempt == MUTATE_RETRIES - 1)
			kp_apiserver__err_conflict(c, c->r.name);
	}
	json_decref(patch);
}

/* ------------------------------------------------- binding / eviction */

struct bind_ctx {
	const char *node;
	char have[256];
};

static int bind_fn(void *ud, json_t *pod)
{
	struct bind_ctx *b = ud;
	json_t *spec = json_object_get(pod, "spec");
	const char *cur = kp_kobj_str(spec, "nodeName");

	if (cur && *cur) {
		snprintf(b->have, sizeof(b->have), "%s", cur);
		return -1;
	}
	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(pod, "spec", spec);
	}
	json_object_set_new(spec, "nodeName", json_string(b->node));
	return 0;
}

void kp_apiserver__do_binding(struct kp_apiserver__req *c)
{
	json_t *body = kp_apiserver__body_object(c);
	struct bind_ctx b = { 0 };
	struct kp_errbuf eb = { 0 };
	struct kp_store_key k = kp_apiserver__key_of(c, c->r.name);
	enum kp_store_rc rc;

	if (!body)
		return;
	b.node = kp_kobj_str(json_object_get(body, "target"), "name");
	if (!b.node || !*b.node) {
		kp_apiserver__err_invalid(c, c->r.name, "target.name: Required value", NULL);
		json_decref(body);
		return;
	}
	rc = c->dry_run ? KP_STORE_OK : kp_apiserver_mutate(c->L, &k, bind_fn, &b, &eb);
	if (rc == KP_STORE_FAIL && b.have[0]) {
		char msg[700];
		snprintf(msg, sizeof(msg), "Operation cannot be fulfilled on pods/binding \"%s\": pod %s is already "
			 "assigned to node \"%s\"", c->r.name, c->r.name, b.have);
		kp_apiserver__status_details(c->rs, 409, "Conflict", msg, c->r.name, "", "pods/binding");
	} else if (rc) {
		kp_apiserver__err_store(c, rc, c->r.name, &eb);
	} else {
		kp_apiserver__rest_status(c->rs, 201, NULL, "");
	}
	json_decref(body);
}

/* for server-side apply (rest_apply.c) */
bool kp_apiserver__check_type(struct kp_apiserver__req *c, json_t *obj)
{
	return check_type(c, obj);
}

enum kp_apiserver__upd_result kp_apiserver__finish_update(struct kp_apiserver__req *c, const json_t *old, int64_t cur_rv,
							  json_t *nobj, int64_t client_rv, const char *sub)
{
	return finish_update(c, old, cur_rv, nobj, client_rv, sub);
}
