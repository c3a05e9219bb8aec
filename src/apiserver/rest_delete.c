/*
 * rest_delete.c - the object life cycle (finalizers, deletionTimestamp,
 * graceful pod deletion, propagation policies, read-modify-write helpers
 * for in-process callers) and the delete and deletecollection verbs.
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

/* ---------------------------------------------------- object life cycle */

static bool is_namespace(const struct kp_store_key *k)
{
	return !*k->group && strcmp(k->resource, "namespaces") == 0;
}

bool kp_apiserver__is_crd(const char *group, const char *plural)
{
	return strcmp(group, "apiextensions.k8s.io") == 0 && strcmp(plural, "customresourcedefinitions") == 0;
}

static void mark_deleting(json_t *obj)
{
	json_t *md = kp_kobj_meta(obj);
	char ts[40];
	if (!json_object_get(md, "deletionTimestamp")) {
		kp_kobj_now_rfc3339(ts, sizeof(ts));
		json_object_set_new(md, "deletionTimestamp", json_string(ts));
		json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(0));
	}
}

int64_t kp_apiserver__rv_of_obj(const json_t *obj)
{
	const char *s = kp_kobj_meta_str(obj, "resourceVersion");
	int64_t v = 0;
	if (!s || kp_parse_i64(s, &v))
		return 0;
	return v;
}

static bool is_pod(const struct kp_store_key *k)
{
	return !*k->group && strcmp(k->resource, "pods") == 0;
}

/* The grace period a DELETE gives pod (the pod strategy's
 * CheckGracefulDelete): the request's (grace >= 0), else
 * spec.terminationGracePeriodSeconds, else 30; 0 for a pod that is not
 * bound to a node or has terminated. */
static int64_t pod_grace(const json_t *pod, int64_t grace)
{
	const json_t *spec = json_object_get(pod, "spec"), *t = json_object_get(spec, "terminationGracePeriodSeconds");
	const char *node = kp_kobj_str(spec, "nodeName"), *phase = kp_kobj_str(json_object_get(pod, "status"), "phase");

	if (grace < 0)
		grace = json_is_integer(t) ? json_integer_value(t) : 30;
	if (grace < 0)
		grace = 1;
	if (!node || !*node || (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))))
		return 0;
	return grace;
}

/* metadata.deletionGracePeriodSeconds (0 when missing). */
static int64_t deletion_grace(const json_t *obj)
{
	const json_t *g = json_object_get(json_object_get(obj, "metadata"), "deletionGracePeriodSeconds");
	return json_is_integer(g) ? json_integer_value(g) : 0;
}

/* Starts (when=now) or shortens a graceful deletion: deletionTimestamp is
 * the moment the grace period ends, as the API server writes it. */
static void set_deletion(json_t *obj, int64_t when, int64_t grace)
{
	json_t *md = kp_kobj_meta(obj);
	char ts[40];
	kp_format_rfc3339(when + grace, ts, sizeof(ts));
	json_object_set_new(md, "deletionTimestamp", json_string(ts));
	json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(grace));
}

enum kp_store_rc kp_apiserver_delete(struct kp_apiserver *L, const struct kp_store_key *k, enum kp_apiserver_propagation prop,
				 int64_t expect_rv, const char *expect_uid, json_t **out, struct kp_errbuf *eb)
{
	return kp_apiserver_delete_grace(L, k, prop, -1, expect_rv, expect_uid, out, NULL, eb);
}

enum kp_store_rc kp_apiserver_delete_grace(struct kp_apiserver *L, const struct kp_store_key *k, enum kp_apiserver_propagation prop,
				       int64_t grace, int64_t expect_rv, const char *expect_uid, json_t **out,
				       bool *gone, struct kp_errbuf *eb)
{
	const char *fin = prop == KP_APISERVER_PROP_FOREGROUND ? "foregroundDeletion" : prop == KP_APISERVER_PROP_ORPHAN ? "orphan" : NULL;

	if (out)
		*out = NULL;
	if (gone)
		*gone = false;
	for (int attempt = 0; attempt < MUTATE_RETRIES; attempt++) {
		enum kp_store_rc rc;
		char *text = NULL;
		int64_t rv = 0, cur, g = 0;
		json_t *obj;
		const char *uid;
		bool terminating, removed = false;

		rc = kp_store_get(L->store, k, &text, &rv, eb);
		if (rc)
			return rc;
		obj = json_loads(text, 0, NULL);
		free(text);
		if (!obj) {
			kp_errf(eb, KP_ERR_INVALID, "stored object is not valid JSON");
			return KP_STORE_FAIL;
		}
		uid = kp_kobj_meta_str(obj, "uid");
		if ((expect_uid && (!uid || strcmp(uid, expect_uid) != 0)) || (expect_rv > 0 && rv != expect_rv)) {
			json_decref(obj);
			kp_errf(eb, KP_ERR_INVALID, "precondition failed");
			return KP_STORE_CONFLICT;
		}
		terminating = json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp") != NULL;
		cur = deletion_grace(obj);
		if (is_pod(k) && terminating && cur > 0) {
			/* a graceful deletion is under way: only a shorter period
			 * changes it (finalizers can no longer be added) */
			rc = KP_STORE_OK;
			if (grace >= 0 && grace < cur) {
				int64_t end = 0;
				if (kp_parse_rfc3339(kp_kobj_meta_str(obj, "deletionTimestamp"), &end))
					end = (int64_t)time(NULL) + cur;
				set_deletion(obj, end - cur, grace);
				if (grace == 0 && kp_kobj_finalizers(obj) == 0) {
					removed = true;
				} else {
					rc = kp_store_update(L->store, k, obj, rv, NULL, eb);
				}
			}
		} else if (is_pod(k) && !terminating && (g = pod_grace(obj, grace)) > 0) {
			set_deletion(obj, (int64_t)time(NULL), g);
			if (fin)
				kp_kobj_add_finalizer(obj, fin);
			rc = kp_store_update(L->store, k, obj, rv, NULL, eb);
		} else if (is_namespace(k) || kp_kobj_finalizers(obj) > 0 || fin) {
			bool changed = !terminating;
			mark_deleting(obj);
			if (fin && !kp_kobj_has_finalizer(obj, fin)) {
				kp_kobj_add_finalizer(obj, fin);
				changed = true;
			}
			if (is_namespace(k)) {
				json_t *st = json_object_get(obj, "status");
				if (!json_is_object(st)) {
					st = json_object();
					json_object_set_new(obj, "status", st);
				}
				if (!kp_kobj_str(st, "phase") || strcmp(kp_kobj_str(st, "phase"), "Terminating") != 0) {
					json_object_set_new(st, "phase", json_string("Terminating"));
					changed = true;
				}
			}
			rc = changed ? kp_store_update(L->store, k, obj, rv, NULL, eb) : KP_STORE_OK;
		} else {
			removed = true;
		}
		if (removed) {
			char *last = NULL;
			rc = kp_store_delete(L->store, k, rv, &last, NULL, eb);
			if (rc == KP_STORE_OK && last) {
				json_t *o = json_loads(last, 0, NULL);
				if (o) {
					json_decref(obj);
					obj = o;
				}
			}
			free(last);
			if (rc == KP_STORE_OK && gone)
				*gone = true;
		}
		if (rc == KP_STORE_CONFLICT && expect_rv <= 0) {
			json_decref(obj);
			continue;
		}
		if (rc == KP_STORE_OK && out)
			*out = obj;
		else
			json_decref(obj);
		return rc;
	}
	kp_errf(eb, KP_ERR_LIMIT, "too many conflicts");
	return KP_STORE_CONFLICT;
}

/* Stores obj (already at version rv in the store): deletes it instead when
 * it is being deleted, no finalizer is left and no grace period runs (a
 * terminating pod goes when the kubelet deletes it with grace 0). */
enum kp_store_rc kp_apiserver__write_back(struct kp_apiserver *L, const struct kp_store_key *k, json_t *obj, int64_t rv,
				   bool *deleted, struct kp_errbuf *eb)
{
	*deleted = false;
	if (json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp") && kp_kobj_finalizers(obj) == 0 &&
	    deletion_grace(obj) == 0 && !is_namespace(k)) {
		char *last = NULL;
		enum kp_store_rc rc = kp_store_delete(L->store, k, rv, &last, NULL, eb);
		if (rc == KP_STORE_OK && last) {
			json_t *o = json_loads(last, 0, NULL);
			if (o) {
				json_object_clear(obj);
				json_object_update(obj, o);
				json_decref(o);
			}
			*deleted = true;
		}
		free(last);
		return rc;
	}
	return kp_store_update(L->store, k, obj, rv, NULL, eb);
}

enum kp_store_rc kp_apiserver_mutate(struct kp_apiserver *L, const struct kp_store_key *k, kp_apiserver_mutate_fn fn, void *ud,
				 struct kp_errbuf *eb)
{
	for (int attempt = 0; attempt < MUTATE_RETRIES; attempt++) {
		enum kp_store_rc rc;
		char *text = NULL;
		int64_t rv = 0;
		json_t *obj;
		bool deleted;
		int r;

		rc = kp_store_get(L->store, k, &text, &rv, eb);
		if (rc)
			return rc;
		obj = json_loads(text, 0, NULL);
		free(text);
		if (!obj) {
			kp_errf(eb, KP_ERR_INVALID, "stored object is not valid JSON");
			return KP_STORE_FAIL;
		}
		r = fn(ud, obj);
		if (r != 0) {
			json_decref(obj);
			if (r > 0)
				return KP_STORE_OK;
			kp_errf(eb, KP_ERR_INVALID, "mutation refused");
			return KP_STORE_FAIL;
		}
		rc = kp_apiserver__write_back(L, k, obj, rv, &deleted, eb);
		json_decref(obj);
		if (rc != KP_STORE_CONFLICT)
			return rc;
	}
	kp_errf(eb, KP_ERR_LIMIT, "too many conflicts");
	return KP_STORE_CONFLICT;
}

/* --------------------------------------------------------------- delete */

/* gracePeriodSeconds of DeleteOptions o (or the query): -1 when absent;
 * a negative value means 1, as in the API server. */
int64_t kp_apiserver__grace_option(struct kp_apiserver__req *c, const json_t *o)
{
	const json_t *g = json_object_get(o, "gracePeriodSeconds");
	const char *q = kp_apiserver__arg(c->rq, "gracePeriodSeconds");
	int64_t v = -1;

	if (json_is_integer(g))
		v = json_integer_value(g);
	else if (!q || !*q || kp_parse_i64(q, &v))
		return -1;
	return v < 0 ? 1 : v;
}

static bool delete_options(struct kp_apiserver__req *c, enum kp_apiserver_propagation *prop, int64_t *rv, const char **uid,
			   int64_t *grace, json_t **opts)
{
	const char *p = kp_apiserver__arg(c->rq, "propagationPolicy");
	json_t *o = NULL;

	*prop = KP_APISERVER_PROP_BACKGROUND;
	*rv = 0;
	*uid = NULL;
	*opts = NULL;
	*grace = kp_apiserver__grace_option(c, NULL);
	if (c->rq->body_len > 0 && !(c->rq->content_type && strstr(c->rq->content_type, "protobuf"))) {
		o = json_loadb(c->rq->body, c->rq->body_len, 0, NULL);
		if (!json_is_object(o)) {
			json_decref(o);
			kp_apiserver__rest_status(c->rs, 400, "BadRequest", "the body of the request could not be decoded as DeleteOptions");
			return false;
		}
		if (kp_kobj_str(o, "propagationPolicy"))
			p = kp_kobj_str(o, "propagationPolicy");
		else if (json_is_true(json_object_get(o, "orphanDependents")))
			p = "Orphan";
		if (json_is_array(json_object_get(o, "dryRun")) && json_array_size(json_object_get(o, "dryRun")))
			c->dry_run = true;
		json_t *pre = json_object_get(o, "preconditions");
		*uid = kp_kobj_str(pre, "uid");
		if (kp_kobj_str(pre, "resourceVersion") && kp_parse_i64(kp_kobj_str(pre, "resourceVersion"), rv))
			*rv = -1;
		if (json_object_get(o, "gracePeriodSeconds"))
			*grace = kp_apiserver__grace_option(c, o);
		*opts = o;
	}
	if (p && strcmp(p, "Foreground") == 0)
		*prop = KP_APISERVER_PROP_FOREGROUND;
	else if (p && strcmp(p, "Orphan") == 0)
		*prop = KP_APISERVER_PROP_ORPHAN;
	else if (p && *p && strcmp(p, "Background") != 0) {
		char msg[300];
		snprintf(msg, sizeof(msg), "propagationPolicy: Unsupported value: \"%s\"", p);
		json_decref(o);
		*opts = NULL;
		kp_apiserver__err_invalid(c, c->r.name ? c->r.name : "", msg, NULL);
		return false;
	}
	return true;
}

void kp_apiserver__do_delete(struct kp_apiserver__req *c)
{
	struct kp_store_key k = kp_apiserver__key_of(c, c->r.name);
	struct kp_errbuf eb = { 0 };
	enum kp_apiserver_propagation prop;
	enum kp_store_rc rc;
	const char *uid;
	json_t *opts, *out = NULL;
	int64_t rv, grace;

	if (!delete_options(c, &prop, &rv, &uid, &grace, &opts))
		return;
	if (c->dry_run) {
		json_t *obj;
		int64_t cur;
		if (kp_apiserver__load_obj(c, &k, &obj, &cur)) {
			kp_apiserver__respond_object(c, 200, obj);
			json_decref(obj);
		}
		json_decref(opts);
		return;
	}
	rc = kp_apiserver_delete_grace(c->L, &k, prop, grace, rv, uid, &out, NULL, &eb);
	json_decref(opts);
	if (rc) {
		kp_apiserver__err_store(c, rc, c->r.name, &eb);
		return;
	}
	if (kp_apiserver__is_crd(c->r.group, c->r.plural) && !json_object_get(json_object_get(out, "metadata"), "deletionTimestamp"))
		c->crd_remove = strdup(c->r.name);
	kp_apiserver__respond_object(c, 200, out);
	json_decref(out);
}

void kp_apiserver__do_deletecollection(struct kp_apiserver__req *c)
{
	struct kp_apiserver__list_ctx lc = { .c = c, .parse = true };
	struct kp_errbuf eb = { 0 };
	enum kp_apiserver_propagation prop;
	const char *uid;
	json_t *opts, *deleted, *item;
	enum kp_store_rc rc;
	int64_t rv, lrv = 0, grace;
	size_t i;

	if (!kp_apiserver__parse_selectors(c, &lc.ls, &lc.fs))
		return;
	if (!delete_options(c, &prop, &rv, &uid, &grace, &opts))
		return;
	json_decref(opts);
	lc.items = json_array();
	kp_buf_init(&lc.out, LIST_MAX);
	rc = kp_store_list(c->L->store, kp_apiserver__store_group(c), c->r.plural, c->res->namespaced ? c->r.ns : NULL,
			   kp_apiserver__list_fn, &lc, &lrv, &eb);
	kp_buf_free(&lc.out);
	if (rc) {
		json_decref(lc.items);
		kp_apiserver__err_store(c, rc, "", &eb);
		return;
	}
	deleted = json_array();
	json_array_foreach(lc.items, i, item) {
		const json_t *md = json_object_get(item, "metadata");
		struct kp_store_key k = { kp_apiserver__store_group(c), c->r.plural,
					  kp_kobj_str(md, "namespace") ? kp_kobj_str(md, "namespace") : "", kp_kobj_str(md, "name") };
		json_t *out = NULL;
		if (!k.name)
			continue;
		if (c->dry_run) {
			json_array_append(deleted, item);
			continue;
		}
		if (kp_apiserver_delete_grace(c->L, &k, prop, grace, 0, NULL, &out, NULL, &eb) == KP_STORE_OK && out) {
			json_t *served = kp_apiserver__to_served(c, out);
			if (served)
				json_array_append_new(deleted, served);
			if (kp_apiserver__is_crd(c->r.group, c->r.plural) && !c->crd_remove)
				c->crd_remove = strdup(k.name);
		}
		json_decref(out);
	}
	json_decref(lc.items);
	kp_apiserver__resp_json(c->rs, 200, json_pack("{s:s, s:s, s:{}, s:o}", "kind", c->res->list_kind, "apiVersion", c->r.gv,
					"metadata", "items", deleted), CT_JSON);
}
