/*
 * rest.c - typed verbs over kp_kube_request: resource paths, get, paged
 * list, create, update (and the status subresource), the three patch
 * flavours, delete with propagation and a UID precondition, the policy/v1
 * Eviction API, Events (events.k8s.io/v1 or core/v1) and the conflict
 * retry helper (get, mutate, update; again on 409, bounded).
 *
 * Invariants: names and namespaces are put into paths only after checking
 * they are non-empty and contain no '/', '?', '%' or '#'; query values are
 * URL-escaped. A list never holds more than max_items items.
 * Cost: one request per call, one per page for lists, at most max_attempts
 * get+update pairs for the retry helper.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_int.h"

const struct kp_kube_res KP_KUBE_PODS = { "", "v1", "pods", true };
const struct kp_kube_res KP_KUBE_NODES = { "", "v1", "nodes", false };
const struct kp_kube_res KP_KUBE_CONFIGMAPS = { "", "v1", "configmaps", true };
const struct kp_kube_res KP_KUBE_EVENTS = { "events.k8s.io", "v1", "events", true };
const struct kp_kube_res KP_KUBE_LEASES = { "coordination.k8s.io", "v1", "leases", true };
const struct kp_kube_res KP_KUBE_NAMESPACES = { "", "v1", "namespaces", false };
const struct kp_kube_res KP_KUBE_NODECLAIMS = { "karpenter.sh", "v1", "nodeclaims", false };
const struct kp_kube_res KP_KUBE_NODEPOOLS = { "karpenter.sh", "v1", "nodepools", false };

static const struct kp_kube_res CORE_EVENTS = { "", "v1", "events", true };

static bool safe_segment(const char *s)
{
	return s && *s && !strpbrk(s, "/?%#") && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

kp_err kp_kube_path(const struct kp_kube_res *r, const char *ns, const char *name, const char *sub, char *buf,
		    size_t n, struct kp_errbuf *eb)
{
	size_t len;
	int w;

	if (!safe_segment(r->resource) || !safe_segment(r->version))
		return kp_errf(eb, KP_ERR_INVALID, "bad resource");
	if (ns && *ns && !safe_segment(ns))
		return kp_errf(eb, KP_ERR_INVALID, "bad namespace %s", ns);
	if (name && !safe_segment(name))
		return kp_errf(eb, KP_ERR_INVALID, "bad name %s", name);
	if (sub && !safe_segment(sub))
		return kp_errf(eb, KP_ERR_INVALID, "bad subresource %s", sub);
	if (r->group && *r->group)
		w = snprintf(buf, n, "/apis/%s/%s", r->group, r->version);
	else
		w = snprintf(buf, n, "/api/%s", r->version);
	len = (size_t)w;
	if (len < n && r->namespaced && ns && *ns)
		len += (size_t)snprintf(buf + len, n - len, "/namespaces/%s", ns);
	if (len < n)
		len += (size_t)snprintf(buf + len, n - len, "/%s", r->resource);
	if (len < n && name)
		len += (size_t)snprintf(buf + len, n - len, "/%s", name);
	if (len < n && sub)
		len += (size_t)snprintf(buf + len, n - len, "/%s", sub);
	if (len >= n)
		return kp_errf(eb, KP_ERR_RANGE, "path too long");
	return KP_OK;
}

kp_err kp_kube_get(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns, const char *name,
		   json_t **out, struct kp_kube_status *st, struct kp_errbuf *eb)
{
	char path[1024];
	kp_err rc;

	*out = NULL;
	if (!name)
		return kp_errf(eb, KP_ERR_INVALID, "get %s: no name", r->resource);
	rc = kp_kube_path(r, ns, name, NULL, path, sizeof(path), eb);
	if (rc)
		return rc;
	return kp_kube_request(c, "GET", path, NULL, NULL, out, st, eb);
}

kp_err kp_kube_list(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns,
		    const struct kp_kube_list_opts *o, json_t **out, struct kp_kube_status *st, struct kp_errbuf *eb)
{
	struct kp_kube_list_opts def = { 0 };
	char path[1024], limit[32];
	json_t *all = NULL, *page = NULL;
	char *cont = NULL;
	size_t max_items;
	kp_err rc;

	*out = NULL;
	if (!o)
		o = &def;
	max_items = o->max_items ? o->max_items : 1000000;
	rc = kp_kube_path(r, ns, NULL, NULL, path, sizeof(path), eb);
	if (rc)
		return rc;
	snprintf(limit, sizeof(limit), "%lld", (long long)(o->page_size > 0 ? o->page_size : 500));
	for (;;) {
		struct kp_buf q;
		json_t *items, *meta;
		const char *next;

		kp_buf_init(&q, KP_KUBE_MAX_URL);
		rc = kp_buf_addstr(&q, path);
		if (!rc)
			rc = kp_kube__query_add(&q, "limit", limit);
		if (!rc && o->label_selector && *o->label_selector)
			rc = kp_kube__query_add(&q, "labelSelector", o->label_selector);
		if (!rc && o->field_selector && *o->field_selector)
			rc = kp_kube__query_add(&q, "fieldSelector", o->field_selector);
		if (!rc && cont)
			rc = kp_kube__query_add(&q, "continue", cont);
		if (rc) {
			kp_buf_free(&q);
			rc = kp_errf(eb, rc, "list %s: query too long", r->resource);
			break;
		}
		rc = kp_kube_request(c, "GET", q.data, NULL, NULL, &page, st, eb);
		kp_buf_free(&q);
		if (rc)
			break;
		items = json_object_get(page, "items");
		meta = json_object_get(page, "metadata");
		if (!json_is_object(page) || (!json_is_array(items) && !json_is_null(items) && items)) {
			rc = kp_errf(eb, KP_ERR_INVALID, "list %s: response is not a list", r->resource);
			break;
		}
		if (!all) {
			all = page;
			page = NULL;
			if (!json_is_array(json_object_get(all, "items")))
				json_object_set_new(all, "items", json_array());
		} else {
			if (json_array_size(json_object_get(all, "items")) + json_array_size(items) > max_items ||
			    json_array_extend(json_object_get(all, "items"), items)) {
				rc = kp_errf(eb, KP_ERR_LIMIT, "list %s: more than %zu items", r->resource, max_items);
				break;
			}
		}
		if (json_array_size(json_object_get(all, "items")) > max_items) {
			rc = kp_errf(eb, KP_ERR_LIMIT, "list %s: more than %zu items", r->resource, max_items);
			break;
		}
		next = json_string_value(json_object_get(meta ? meta : json_object_get(all, "metadata"), "continue"));
		free(cont);
		cont = next && *next ? strdup(next) : NULL;
		json_decref(page);
		page = NULL;
		if (!cont)
			break;
	}
	json_decref(page);
	free(cont);
	if (rc) {
		json_decref(all);
		return rc;
	}
	json_object_del(json_object_get(all, "metadata"), "continue");
	*out = all;
	return KP_OK;
}

kp_err kp_kube_create(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns, json_t *obj,
		      json_t **out, struct kp_kube_status *st, struct kp_errbuf *eb)
{
	char path[1024];
	const char *ons = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
	kp_err rc;

	if (out)
		*out = NULL;
	rc = kp_kube_path(r, ns && *ns ? ns : ons, NULL, NULL, path, sizeof(path), eb);
	if (rc)
		return rc;
	return kp_kube_request(c, "POST", path, NULL, obj, out, st, eb);
}

kp_err kp_kube_update(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns, json_t *obj,
		      const char *sub, json_t **out, struct kp_kube_status *st, struct kp_errbuf *eb)
{
	char path[1024];
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ons = json_string_value(json_object_get(meta, "namespace"));
	kp_err rc;

	if (out)
		*out = NULL;
	if (!name)
		return kp_errf(eb, KP_ERR_INVALID, "update %s: object has no metadata.name", r->resource);
	rc = kp_kube_path(r, ns && *ns ? ns : ons, name, sub, path, sizeof(path), eb);
	if (rc)
		return rc;
	return kp_kube_request(c, "PUT", path, NULL, obj, out, st, eb);
}

kp_err kp_kube_patch(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns, const char *name,
		     enum kp_kube_patch type, json_t *patch, const char *sub, json_t **out,
		     struct kp_kube_status *st, struct kp_errbuf *eb)
{
	static const char *const ctype[] = { "application/merge-patch+json", "application/strategic-merge-patch+json",
					     "application/json-patch+json" };
	char path[1024];
	kp_err rc;

	if (out)
		*out = NULL;
	if ((unsigned)type >= KP_ARRAY_LEN(ctype))
		return kp_errf(eb, KP_ERR_INVALID, "patch %s: bad patch type", r->resource);
	if (type == KP_PATCH_JSON ? !json_is_array(patch) : !json_is_object(patch))
		return kp_errf(eb, KP_ERR_INVALID, "patch %s/%s: a %s patch must be a JSON %s", r->resource,
			       name ? name : "", type == KP_PATCH_JSON ? "json" : "merge", type == KP_PATCH_JSON ? "array" : "object");
	rc = kp_kube_path(r, ns, name, sub, path, sizeof(path), eb);
	if (rc)
		return rc;
	return kp_kube_request(c, "PATCH", path, ctype[type], patch, out, st, eb);
}

kp_err kp_kube_delete(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns, const char *name,
		      enum kp_kube_propagation prop, const char *uid, struct kp_kube_status *st,
		      struct kp_errbuf *eb)
{
	static const char *const pname[] = { NULL, "Background", "Foreground", "Orphan" };
	char path[1024];
	json_t *opts;
	kp_err rc;

	if (!name)
		return kp_errf(eb, KP_ERR_INVALID, "delete %s: no name", r->resource);
	rc = kp_kube_path(r, ns, name, NULL, path, sizeof(path), eb);
	if (rc)
		return rc;
	opts = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
	if (!opts)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	if ((unsigned)prop < KP_ARRAY_LEN(pname) && pname[prop])
		json_object_set_new(opts, "propagationPolicy", json_string(pname[prop]));
	if (uid && *uid)
		json_object_set_new(opts, "preconditions", json_pack("{s:s}", "uid", uid));
	rc = kp_kube_request(c, "DELETE", path, NULL, opts, NULL, st, eb);
	json_decref(opts);
	return rc;
}

kp_err kp_kube_evict(struct kp_kube_client *c, const char *ns, const char *pod, struct kp_kube_status *st,
		     struct kp_errbuf *eb)
{
	char path[1024];
	json_t *ev;
	kp_err rc;

	rc = kp_kube_path(&KP_KUBE_PODS, ns, pod, "eviction", path, sizeof(path), eb);
	if (rc)
		return rc;
	ev = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "policy/v1", "kind", "Eviction", "metadata", "name",
		       pod, "namespace", ns);
	if (!ev)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	rc = kp_kube__request_ex(c, "POST", path, NULL, ev, false, NULL, st, eb);
	json_decref(ev);
	return rc;
}

void kp_kube__micro_time(int64_t wall_ms, char *buf, size_t n)
{
	char base[32];
	kp_format_rfc3339(wall_ms / 1000, base, sizeof(base));
	/* "YYYY-MM-DDTHH:MM:SSZ" -> "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" */
	base[19] = '\0';
	snprintf(buf, n, "%.19s.%06lldZ", base, (long long)(wall_ms % 1000) * 1000);
}

kp_err kp_kube_event_emit(struct kp_kube_client *c, const struct kp_kube_event *ev, struct kp_kube_status *st,
			  struct kp_errbuf *eb)
{
	json_t *meta = json_object_get(ev->regarding, "metadata"), *obj, *ref;
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *uid = json_string_value(json_object_get(meta, "uid"));
	const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
	const char *kind = json_string_value(json_object_get(ev->regarding, "kind"));
	const char *apiv = json_string_value(json_object_get(ev->regarding, "apiVersion"));
	int64_t now = kp_kube_now_wall(c->clock);
	char evname[300], ts[64], secs[32];
	kp_err rc;

	if (!name || !kind || !ev->reason || !ev->type)
		return kp_errf(eb, KP_ERR_INVALID, "event: regarding object needs kind and metadata.name; reason and type are required");
	if (!ns || !*ns)
		ns = "default";
	snprintf(evname, sizeof(evname), "%.240s.%llx", name,
		 (unsigned long long)now * 1000000ull + (kp_kube_client_requests(c) & 0xfffff));
	kp_kube__micro_time(now, ts, sizeof(ts));
	kp_format_rfc3339(now / 1000, secs, sizeof(secs));
	ref = json_pack("{s:s, s:s}", "kind", kind, "name", name);
	if (!ref)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	if (apiv)
		json_object_set_new(ref, "apiVersion", json_string(apiv));
	if (uid)
		json_object_set_new(ref, "uid", json_string(uid));
	if (rv)
		json_object_set_new(ref, "resourceVersion", json_string(rv));
	if (json_string_value(json_object_get(meta, "namespace")))
		json_object_set_new(ref, "namespace", json_string(ns));
	if (ev->use_core) {
		/* with eventTime and action, as a core Event of the events.k8s.io era: readable
		 * through events.k8s.io/v1 too (clients there require eventTime) */
		obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:O, s:s, s:s, s:s, s:s, s:s, s:i, s:{s:s}, s:s, s:s, s:s, "
				"s:s}",
				"apiVersion", "v1", "kind", "Event", "metadata", "name", evname, "namespace", ns,
				"involvedObject", ref, "reason", ev->reason, "message", ev->note ? ev->note : "", "type",
				ev->type, "firstTimestamp", secs, "lastTimestamp", secs, "count", 1, "source",
				"component", ev->reporting_controller ? ev->reporting_controller : "karpenter",
				"reportingComponent", ev->reporting_controller ? ev->reporting_controller : "karpenter",
				"reportingInstance", ev->reporting_instance ? ev->reporting_instance : "", "eventTime", ts,
				"action", ev->action ? ev->action : ev->reason);
	} else {
		obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:O, s:s, s:s}", "apiVersion",
				"events.k8s.io/v1", "kind", "Event", "metadata", "name", evname, "namespace", ns, "eventTime",
				ts, "reportingController", ev->reporting_controller ? ev->reporting_controller : "karpenter",
				"reportingInstance", ev->reporting_instance ? ev->reporting_instance : "karpenter",
				"action", ev->action ? ev->action : ev->reason, "reason", ev->reason, "regarding", ref,
				"note", ev->note ? ev->note : "", "type", ev->type);
	}
	json_decref(ref);
	if (!obj)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	rc = kp_kube_create(c, ev->use_core ? &CORE_EVENTS : &KP_KUBE_EVENTS, ns, obj, NULL, st, eb);
	json_decref(obj);
	return rc;
}

kp_err kp_kube_retry_on_conflict(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns,
				 const char *name, const char *sub, int max_attempts, kp_kube_mutate_fn fn,
				 void *ud, json_t **out, struct kp_kube_status *st, struct kp_errbuf *eb)
{
	struct kp_kube_status local;
	int attempt;
	kp_err rc = KP_OK;

	if (out)
		*out = NULL;
	if (!st)
		st = &local;
	if (max_attempts <= 0)
		max_attempts = 5;
	for (attempt = 1;; attempt++) {
		json_t *obj = NULL, *written = NULL;
		int m;

		rc = kp_kube_get(c, r, ns, name, &obj, st, eb);
		if (rc)
			return rc;
		m = fn(ud, obj, eb);
		if (m < 0) {
			json_decref(obj);
			return eb && eb->code ? eb->code : KP_ERR_INVALID;
		}
		if (m > 0) {
			if (out)
				*out = obj;
			else
				json_decref(obj);
			return KP_OK;
		}
		rc = kp_kube_update(c, r, ns, obj, sub, &written, st, eb);
		json_decref(obj);
		if (!rc) {
			if (out)
				*out = written;
			else
				json_decref(written);
			return KP_OK;
		}
		if (!kp_kube_is_conflict(st))
			return rc;
		if (attempt >= max_attempts) {
			kp_err_prefix(eb, "gave up after %d conflicts", attempt);
			return rc;
		}
		kp_kube_sleep(c->clock, 10);
	}
}
