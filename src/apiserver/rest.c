/*
 * rest.c - the Kubernetes REST surface of the API server: routing
 * of /api and /apis paths, the verbs (get, list, watch, create, update,
 * patch, delete, deletecollection), subresources (status, scale, binding,
 * eviction, log), selectors, dry run, Table responses and metav1 Status
 * errors. Kind-specific knowledge (discovery, OpenAPI, validation,
 * defaulting, conversion, patches, tables) comes from apires.h. Pods are
 * deleted gracefully as by the real API server (kp_apiserver_delete_grace; the
 * kubelet stand-in in src/kcm finishes the deletion) and evictions
 * respect PodDisruptionBudgets (rest_evict.c, pdb.c). The verbs live in
 * rest_read.c, rest_watch.c, rest_write.c, rest_delete.c, rest_evict.c,
 * selectors in rest_select.c (see rest_int.h).
 *
 * Invariants: objects are stored in their resource's storage version and
 * converted to the requested version on the way out; every response body
 * is JSON (Content-Type application/json unless the client negotiated a
 * Table or aggregated discovery); every error is a Status with reason,
 * message and code. The registry's read lock is held for the whole request
 * (watch streams take it per event); CRD changes take the write lock after
 * the request's read lock is released.
 *
 * Cost: get is one primary-key read; list streams the stored JSON text
 * straight into the response when no selector, conversion or Table is
 * involved, and parses each object otherwise; a request's temporary memory
 * lives in one arena.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "apiserver/openapi2.h"
#include "apiserver/pdb.h"
#include "apiserver/server.h"

#include "apiserver/rest_int.h"

/* ---------------------------------------------------------------- utils */

void kp_apiserver__resp_json(struct kp_apiserver__http_resp *rs, int code, json_t *body, const char *ct)
{
	rs->status = code;
	rs->body = json_dumps(body, JSON_COMPACT);
	rs->len = rs->body ? strlen(rs->body) : 0;
	rs->content_type = ct ? ct : CT_JSON;
	if (!rs->body) {
		rs->status = 500;
		rs->body = strdup("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"code\":500}");
		rs->len = rs->body ? strlen(rs->body) : 0;
	}
	json_decref(body);
}

static void resp_text(struct kp_apiserver__http_resp *rs, int code, const char *text, const char *ct)
{
	rs->status = code;
	rs->body = strdup(text);
	rs->len = rs->body ? strlen(rs->body) : 0;
	rs->content_type = ct;
}

json_t *kp_apiserver__status_obj(int code, const char *reason, const char *message)
{
	return json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1", "metadata",
			 "status", code < 300 ? "Success" : "Failure", "message", message ? message : "",
			 "reason", reason ? reason : "", "code", code);
}

void kp_apiserver__rest_status(struct kp_apiserver__http_resp *rs, int code, const char *reason, const char *message)
{
	json_t *st = kp_apiserver__status_obj(code, reason, message);
	if (code < 300)
		json_object_del(st, "reason");
	kp_apiserver__resp_json(rs, code, st, CT_JSON);
}

void kp_apiserver__status_details(struct kp_apiserver__http_resp *rs, int code, const char *reason, const char *message,
			   const char *name, const char *group, const char *kind)
{
	json_t *st = kp_apiserver__status_obj(code, reason, message);
	json_t *d = json_object();
	if (name)
		json_object_set_new(d, "name", json_string(name));
	if (group && *group)
		json_object_set_new(d, "group", json_string(group));
	if (kind)
		json_object_set_new(d, "kind", json_string(kind));
	json_object_set_new(st, "details", d);
	kp_apiserver__resp_json(rs, code, st, CT_JSON);
}

void kp_apiserver__new_uid(char out[37])
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)((uint64_t)ts.tv_nsec >> (i % 8) * 8) ^ (unsigned char)(i * 37);
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void kp_apiserver__random_suffix(char out[6])
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	unsigned char b[5];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		memset(b, 7, sizeof(b));
	for (int i = 0; i < 5; i++)
		out[i] = alpha[b[i] % (sizeof(alpha) - 1)];
	out[5] = '\0';
}

int64_t kp_apiserver__mono_ms(void)
{
	return kp_mono_ms();
}

bool kp_apiserver__truthy(const char *v)
{
	/* as Go's strconv.ParseBool */
	static const char *const yes[] = { "1", "t", "T", "true", "TRUE", "True" };
	for (size_t i = 0; v && i < KP_ARRAY_LEN(yes); i++)
		if (strcmp(v, yes[i]) == 0)
			return true;
	return false;
}

const char *kp_apiserver__arg(const struct kp_apiserver__http_req *rq, const char *k)
{
	return rq->arg ? rq->arg(rq->arg_ctx, k) : NULL;
}

/* "pods" or "nodepools.karpenter.sh", as Kubernetes names a resource in messages */
static void qualified(char *buf, size_t n, const char *group, const char *plural)
{
	if (group && *group)
		snprintf(buf, n, "%s.%s", plural, group);
	else
		snprintf(buf, n, "%s", plural);
}

/* ---------------------------------------------------------------- routes */

static bool accept_has(const struct kp_apiserver__http_req *rq, const char *needle)
{
	return rq->accept && strstr(rq->accept, needle) != NULL;
}

bool kp_apiserver__wants_table(const struct kp_apiserver__http_req *rq)
{
	return accept_has(rq, "as=Table");
}

json_t *kp_apiserver__served_of(struct kp_apiserver *L, const struct kp_apiserver__res *res, const char *gv,
				const json_t *stored)
{
	json_t *out = NULL;

	if (res->storage_group)
		return kp_apiserver__event_from_core(stored, gv);
	if (res->storage_version && strcmp(res->storage_version, res->version) != 0) {
		struct kp_errbuf eb = { 0 };
		out = kp_apiserver__reg_convert(L->reg, res, stored, res->version, &eb);
	}
	if (!out)
		out = json_deep_copy(stored);
	if (out)
		json_object_set_new(out, "apiVersion", json_string(gv));
	return out;
}

json_t *kp_apiserver__to_served(struct kp_apiserver__req *c, const json_t *stored)
{
	return kp_apiserver__served_of(c->L, c->res, c->r.gv, stored);
}

/* Converts a request object (served version) to the storage version. */
json_t *kp_apiserver__to_storage(struct kp_apiserver__req *c, json_t *obj)
{
	const struct kp_apiserver__res *res = c->res;
	char sv[256];

	if (res->storage_group) {
		json_t *o = kp_apiserver__event_to_core(obj);
		if (o) {
			json_decref(obj);
			obj = o;
		}
		return obj;
	}
	if (res->storage_version && strcmp(res->storage_version, res->version) != 0) {
		struct kp_errbuf eb = { 0 };
		json_t *o = kp_apiserver__reg_convert(c->L->reg, res, obj, res->storage_version, &eb);
		if (o) {
			json_decref(obj);
			obj = o;
		}
		if (*res->group)
			snprintf(sv, sizeof(sv), "%s/%s", res->group, res->storage_version);
		else
			snprintf(sv, sizeof(sv), "%s", res->storage_version);
		json_object_set_new(obj, "apiVersion", json_string(sv));
	}
	return obj;
}

static void err_notfound(struct kp_apiserver__req *c, const char *name)
{
	char msg[700];
	snprintf(msg, sizeof(msg), "%s \"%s\" not found", c->qname, name);
	kp_apiserver__status_details(c->rs, 404, "NotFound", msg, name, c->r.group, c->r.plural);
}

void kp_apiserver__err_conflict(struct kp_apiserver__req *c, const char *name)
{
	char msg[900];
	snprintf(msg, sizeof(msg),
		 "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please apply your "
		 "changes to the latest version and try again", c->qname, name);
	kp_apiserver__status_details(c->rs, 409, "Conflict", msg, name, c->r.group, c->r.plural);
}

void kp_apiserver__err_exists(struct kp_apiserver__req *c, const char *name)
{
	char msg[700];
	snprintf(msg, sizeof(msg), "%s \"%s\" already exists", c->qname, name);
	kp_apiserver__status_details(c->rs, 409, "AlreadyExists", msg, name, c->r.group, c->r.plural);
}

void kp_apiserver__err_store(struct kp_apiserver__req *c, enum kp_store_rc rc, const char *name, const struct kp_errbuf *eb)
{
	switch (rc) {
	case KP_STORE_NOTFOUND: err_notfound(c, name); return;
	case KP_STORE_EXISTS: kp_apiserver__err_exists(c, name); return;
	case KP_STORE_CONFLICT: kp_apiserver__err_conflict(c, name); return;
	case KP_STORE_GONE: kp_apiserver__rest_status(c->rs, 410, "Expired", eb->msg); return;
	case KP_STORE_CLOSED: kp_apiserver__rest_status(c->rs, 503, "ServiceUnavailable", "the server is shutting down"); return;
	default: kp_apiserver__rest_status(c->rs, 500, "InternalError", eb->msg[0] ? eb->msg : kp_store_rc_str(rc)); return;
	}
}

/* 422 Invalid. detail: the validator's message ("Kind.group \"name\" is
 * invalid: field.path: what is wrong", or just "field.path: what"); obj
 * (may be NULL): the rejected object, whose causes the validator lists. */
void kp_apiserver__err_invalid(struct kp_apiserver__req *c, const char *name, const char *detail, const json_t *obj)
{
	char msg[4096], field[512] = "";
	const char *colon, *pre = strstr(detail, " is invalid: ");
	json_t *st, *causes = obj ? kp_apiserver__reg_validate_causes(c->L->reg, c->res, obj) : NULL, *cause;
	size_t i;

	if (pre)
		snprintf(msg, sizeof(msg), "%s", detail);
	else
		snprintf(msg, sizeof(msg), "%s%s%s \"%s\" is invalid: %s", c->res->kind, *c->r.group ? "." : "",
			 c->r.group, name ? name : "", detail);
	if (json_array_size(causes) == 0) {
		const char *d = pre ? pre + strlen(" is invalid: ") : detail;
		json_decref(causes);
		causes = json_array();
		colon = strstr(d, ": ");
		if (colon && (size_t)(colon - d) < sizeof(field) && memchr(d, ' ', (size_t)(colon - d)) == NULL) {
			memcpy(field, d, (size_t)(colon - d));
			field[colon - d] = '\0';
		}
		json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason", "FieldValueInvalid", "message", d,
							"field", field));
	}
	/* a cause's message does not repeat its field */
	json_array_foreach(causes, i, cause) {
		const char *f = kp_kobj_str(cause, "field"), *m = kp_kobj_str(cause, "message");
		size_t fl = f ? strlen(f) : 0;
		if (fl && m && strncmp(m, f, fl) == 0 && strncmp(m + fl, ": ", 2) == 0)
			json_object_set_new(cause, "message", json_string(m + fl + 2));
	}
	st = kp_apiserver__status_obj(422, "Invalid", msg);
	json_object_set_new(st, "details", json_pack("{s:s, s:s, s:s, s:o}", "name", name ? name : "", "group",
						     c->r.group, "kind", c->res->kind, "causes", causes));
	kp_apiserver__resp_json(c->rs, 422, st, CT_JSON);
}

struct kp_store_key kp_apiserver__key_of(const struct kp_apiserver__req *c, const char *name)
{
	struct kp_store_key k = { kp_apiserver__store_group(c), c->r.plural, c->res->namespaced ? c->r.ns : "", name };
	if (!k.ns)
		k.ns = "";
	return k;
}

/* Parses the request body as a JSON object; answers 400 and returns NULL otherwise. */
json_t *kp_apiserver__body_object(struct kp_apiserver__req *c)
{
	const char *ct = c->rq->content_type ? c->rq->content_type : "";
	json_error_t je;
	json_t *o;

	if (strstr(ct, "protobuf")) {
		struct kp_errbuf eb = { 0 };
		o = c->rq->body ? kp_apiserver__pbuf_decode(c->rq->body, c->rq->body_len, &eb) : NULL;
		if (!o) {
			char msg[1200];
			snprintf(msg, sizeof(msg), "the body of the request was in an unknown format - accepted media types "
				 "include: application/json (%s)", eb.msg[0] ? eb.msg : "empty body");
			kp_apiserver__rest_status(c->rs, 415, "UnsupportedMediaType", msg);
		}
		return o;
	}
	if ((strstr(ct, "yaml") && !strstr(ct, "apply-patch")) || strstr(ct, "cbor")) {
		kp_apiserver__rest_status(c->rs, 415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
				      "accepted media types include: application/json");
		return NULL;
	}
	o = c->rq->body ? json_loadb(c->rq->body, c->rq->body_len, 0, &je) : NULL;
	if (!o || !(json_is_object(o) || json_is_array(o))) {
		char msg[300];
		snprintf(msg, sizeof(msg), "the body of the request could not be decoded: %s",
			 o ? "not an object" : c->rq->body ? je.text : "empty body");
		json_decref(o);
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", msg);
		return NULL;
	}
	return o;
}

/* ------------------------------------------------------------ discovery */

static void not_found_path(struct kp_apiserver__http_resp *rs)
{
	kp_apiserver__rest_status(rs, 404, "NotFound", "the server could not find the requested resource");
}

static void respond_doc(struct kp_apiserver__http_resp *rs, json_t *doc, const char *ct)
{
	if (!doc)
		not_found_path(rs);
	else
		kp_apiserver__resp_json(rs, 200, doc, ct);
}

static void do_group(struct kp_apiserver *L, const char *group, struct kp_apiserver__http_resp *rs)
{
	json_t *groups = kp_apiserver__reg_groups(L->reg), *g, *found = NULL;
	size_t i;

	json_array_foreach(json_object_get(groups, "groups"), i, g)
		if (kp_kobj_str(g, "name") && strcmp(kp_kobj_str(g, "name"), group) == 0)
			found = json_incref(g);
	json_decref(groups);
	if (!found) {
		not_found_path(rs);
		return;
	}
	json_object_set_new(found, "kind", json_string("APIGroup"));
	json_object_set_new(found, "apiVersion", json_string("v1"));
	kp_apiserver__resp_json(rs, 200, found, CT_JSON);
}

static void do_version(struct kp_apiserver__http_resp *rs)
{
	kp_apiserver__resp_json(rs, 200, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor", "32",
				     "gitVersion", "v1.32.0+karpenter-c", "gitCommit", "", "gitTreeState", "clean",
				     "buildDate", "2025-01-01T00:00:00Z", "goVersion", "n/a", "compiler", "c11",
				     "platform", "linux/amd64"), CT_JSON);
}

/* -------------------------------------------------------------- routing */

static int split(char *path, char **segs, int max)
{
	int n = 0;
	char *p = path;

	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		if (n == max)
			return -1;
		segs[n++] = p;
		while (*p && *p != '/')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

/* Parses the part after the group-version into c->r; false when malformed. */
static bool parse_rest(struct kp_apiserver__route *r, char **s, int n)
{
	if (n > 0 && strcmp(s[0], "watch") == 0) {
		r->watch_path = true;
		s++;
		n--;
	}
	if (n >= 3 && strcmp(s[0], "namespaces") == 0 && strcmp(s[2], "status") != 0 && strcmp(s[2], "finalize") != 0) {
		r->ns = s[1];
		s += 2;
		n -= 2;
	}
	if (n < 1 || n > 3)
		return false;
	r->plural = s[0];
	r->name = n > 1 ? s[1] : NULL;
	r->sub = n > 2 ? s[2] : NULL;
	return true;
}

static bool is_health(const char *p)
{
	return strncmp(p, "/healthz", 8) == 0 || strncmp(p, "/livez", 6) == 0 || strncmp(p, "/readyz", 7) == 0;
}

/* GET pods/NAME/log: the log file podlog.c keeps for the pod (empty for
 * pods without one); tailLines, limitBytes, follow. */
static void do_log(struct kp_apiserver__req *c)
{
	const char *t = kp_apiserver__arg(c->rq, "tailLines"), *lb = kp_apiserver__arg(c->rq, "limitBytes");
	int64_t tail = -1, limit = 0, end = 0;
	struct kp_errbuf eb = { 0 };
	char *text = NULL;
	size_t len = 0;

	if ((t && *t && (kp_parse_i64(t, &tail) || tail < 0)) || (lb && *lb && (kp_parse_i64(lb, &limit) || limit <= 0))) {
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", "tailLines and limitBytes must be positive integers");
		return;
	}
	if (kp_apiserver_podlog_read(c->L, c->r.ns, c->r.name, tail, limit, &text, &len, &end, &eb)) {
		kp_apiserver__rest_status(c->rs, 500, "InternalError", eb.msg);
		return;
	}
	if (!kp_apiserver__truthy(kp_apiserver__arg(c->rq, "follow"))) {
		c->rs->status = 200;
		c->rs->body = text;
		c->rs->len = len;
		c->rs->content_type = CT_TEXT;
		return;
	}
	struct kp_apiserver__watch_stream *s = calloc(1, sizeof(*s));
	if (!s || !(s->follow = kp_apiserver_podlog_follow_open(c->L, c->r.ns, c->r.name, end))) {
		free(s);
		free(text);
		kp_apiserver__rest_status(c->rs, 500, "InternalError", "out of memory");
		return;
	}
	s->L = c->L;
	kp_buf_init(&s->pend, LIST_MAX);
	kp_arena_init(&s->arena);
	if (len)
		kp_buf_add(&s->pend, text, len);
	free(text);
	c->rs->status = 200;
	c->rs->content_type = CT_TEXT;
	c->rs->stream = s;
}

static void dispatch(struct kp_apiserver__req *c)
{
	const char *m = c->rq->method;
	struct kp_apiserver__route *r = &c->r;
	bool get = strcmp(m, "GET") == 0;

	c->res = kp_apiserver__reg_find(c->L->reg, r->group, r->version, r->plural);
	if (!c->res) {
		not_found_path(c->rs);
		return;
	}
	qualified(c->qname, sizeof(c->qname), r->group, r->plural);
	if (c->res->namespaced && !r->ns && r->name) {
		not_found_path(c->rs);
		return;
	}
	if (!c->res->namespaced && r->ns) {
		not_found_path(c->rs);
		return;
	}
	if (r->sub) {
		bool ok = (strcmp(r->sub, "status") == 0 && c->res->has_status) ||
			  (strcmp(r->sub, "scale") == 0 && c->res->has_scale) ||
			  (!*r->group && strcmp(r->plural, "pods") == 0 &&
			   (!strcmp(r->sub, "binding") || !strcmp(r->sub, "eviction") || !strcmp(r->sub, "log"))) ||
			  (!*r->group && strcmp(r->plural, "namespaces") == 0 && strcmp(r->sub, "finalize") == 0);
		if (!ok) {
			not_found_path(c->rs);
			return;
		}
	}
	if (kp_apiserver__arg(c->rq, "dryRun") && *kp_apiserver__arg(c->rq, "dryRun"))
		c->dry_run = true;
	if (!get && strcmp(m, "DELETE") != 0 && !kp_apiserver__write_opts(c))
		return;
	if (r->watch_path || (get && !r->name && kp_apiserver__truthy(kp_apiserver__arg(c->rq, "watch")))) {
		if (!get || r->name) {
			kp_apiserver__rest_status(c->rs, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
			return;
		}
		kp_apiserver__do_watch(c);
		return;
	}
	if (get) {
		if (!r->name)
			kp_apiserver__do_list(c);
		else if (r->sub && strcmp(r->sub, "log") == 0) {
			struct kp_store_key k = kp_apiserver__key_of(c, r->name);
			json_t *o;
			int64_t rv;
			if (kp_apiserver__load_obj(c, &k, &o, &rv)) {
				json_decref(o);
				do_log(c);
			}
		} else if (r->sub && strcmp(r->sub, "scale") == 0) {
			c->scale_resp = true;
			kp_apiserver__do_get(c);
		} else
			kp_apiserver__do_get(c);
	} else if (strcmp(m, "POST") == 0) {
		if (!r->name)
			kp_apiserver__do_create(c);
		else if (r->sub && strcmp(r->sub, "binding") == 0)
			kp_apiserver__do_binding(c);
		else if (r->sub && strcmp(r->sub, "eviction") == 0)
			kp_apiserver__do_eviction(c);
		else
			kp_apiserver__rest_status(c->rs, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
	} else if (strcmp(m, "PUT") == 0 && r->name) {
		kp_apiserver__do_update(c, r->sub);
	} else if (strcmp(m, "PATCH") == 0 && r->name) {
		kp_apiserver__do_patch(c, r->sub);
	} else if (strcmp(m, "DELETE") == 0 && !r->sub) {
		if (r->name)
			kp_apiserver__do_delete(c);
		else
			kp_apiserver__do_deletecollection(c);
	} else {
		kp_apiserver__rest_status(c->rs, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
	}
}

struct drop_ctx {
	struct kp_store_key *keys;
	int n, cap;
	const char *group, *plural;
};

static int drop_fn(void *ud, const char *json, size_t len, int64_t rv)
{
	struct drop_ctx *d = ud;
	json_t *o = json_loadb(json, len, 0, NULL);
	const char *ns = kp_kobj_meta_str(o, "namespace"), *name = kp_kobj_meta_str(o, "name");

	(void)rv;
	if (name && d->n == d->cap) {
		int cap = d->cap ? d->cap * 2 : 64;
		struct kp_store_key *v = realloc(d->keys, (size_t)cap * sizeof(*v));
		if (!v) {
			json_decref(o);
			return 1;
		}
		d->keys = v;
		d->cap = cap;
	}
	if (name) {
		struct kp_store_key *k = &d->keys[d->n++];
		k->group = d->group;
		k->resource = d->plural;
		k->ns = strdup(ns ? ns : "");
		k->name = strdup(name);
	}
	json_decref(o);
	return 0;
}

/* A deleted CRD takes its custom resources with it. crd_name: "plural.group". */
static void drop_custom_resources(struct kp_apiserver *L, const char *crd_name)
{
	const char *dot = strchr(crd_name, '.');
	char plural[256];
	struct drop_ctx d = { 0 };

	if (!dot || (size_t)(dot - crd_name) >= sizeof(plural))
		return;
	memcpy(plural, crd_name, (size_t)(dot - crd_name));
	plural[dot - crd_name] = '\0';
	d.group = dot + 1;
	d.plural = plural;
	kp_store_list(L->store, d.group, plural, NULL, drop_fn, &d, NULL, NULL);
	for (int i = 0; i < d.n; i++) {
		if (d.keys[i].ns && d.keys[i].name)
			kp_store_delete(L->store, &d.keys[i], 0, NULL, NULL, NULL);
		free((char *)d.keys[i].ns);
		free((char *)d.keys[i].name);
	}
	free(d.keys);
}

static void api_request(struct kp_apiserver *L, const struct kp_apiserver__http_req *rq, struct kp_apiserver__http_resp *rs, char **s, int n)
{
	bool core = strcmp(s[0], "api") == 0;
	bool get = strcmp(rq->method, "GET") == 0;
	struct kp_apiserver__req c = { .L = L, .rq = rq, .rs = rs };

	if (core && n == 1 && get) {
		json_t *agg = accept_has(rq, "as=APIGroupDiscoveryList") ? kp_apiserver__reg_aggregated(L->reg, true) : NULL;
		if (agg)
			kp_apiserver__resp_json(rs, 200, agg, CT_AGG);
		else
			respond_doc(rs, kp_apiserver__reg_core_versions(L->reg), CT_JSON);
		return;
	}
	if (!core && n == 1 && get) {
		json_t *agg = accept_has(rq, "as=APIGroupDiscoveryList") ? kp_apiserver__reg_aggregated(L->reg, false) : NULL;
		if (agg)
			kp_apiserver__resp_json(rs, 200, agg, CT_AGG);
		else
			respond_doc(rs, kp_apiserver__reg_groups(L->reg), CT_JSON);
		return;
	}
	if (!core && n == 2 && get) {
		do_group(L, s[1], rs);
		return;
	}
	if ((core && n == 2) || (!core && n == 3)) {
		if (!get) {
			kp_apiserver__rest_status(rs, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
			return;
		}
		respond_doc(rs, kp_apiserver__reg_resource_list(L->reg, core ? "" : s[1], core ? s[1] : s[2]), CT_JSON);
		return;
	}
	c.r.group = core ? "" : s[1];
	c.r.version = core ? s[1] : s[2];
	if (core)
		snprintf(c.r.gv, sizeof(c.r.gv), "%s", c.r.version);
	else
		snprintf(c.r.gv, sizeof(c.r.gv), "%s/%s", c.r.group, c.r.version);
	if (!parse_rest(&c.r, s + (core ? 2 : 3), n - (core ? 2 : 3))) {
		not_found_path(rs);
		return;
	}
	kp_arena_init(&c.arena);
	dispatch(&c);
	kp_arena_free(&c.arena);
	kp_apiserver__take_warnings(&c);
	if (c.crd_add || c.crd_remove) {
		struct kp_errbuf eb = { 0 };
		pthread_rwlock_unlock(&L->reg_lock);
		pthread_rwlock_wrlock(&L->reg_lock);
		if (c.crd_add && kp_apiserver__reg_add_crd(L->reg, c.crd_add, &eb))
			fprintf(stderr, "karpenter up: register CRD: %s\n", eb.msg);
		if (c.crd_remove)
			kp_apiserver__reg_remove_crd(L->reg, c.crd_remove);
		json_decref(c.crd_add);
		if (c.crd_remove)
			drop_custom_resources(L, c.crd_remove);
		free(c.crd_remove);
	}
}

void kp_apiserver__rest_handle(struct kp_apiserver *L, const struct kp_apiserver__http_req *rq, struct kp_apiserver__http_resp *rs)
{
	char path[2048];
	char *segs[MAX_SEGS];
	int n;

	memset(rs, 0, sizeof(*rs));
	if (strcmp(rq->path, "/version") == 0 || strcmp(rq->path, "/version/") == 0) {
		do_version(rs);
		return;
	}
	if (is_health(rq->path)) {
		resp_text(rs, 200, "ok", CT_TEXT);
		return;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s", rq->path) >= sizeof(path) ||
	    (n = split(path, segs, MAX_SEGS)) <= 0) {
		not_found_path(rs);
		return;
	}
	if (strcmp(segs[0], "openapi") == 0 && n == 2 && strcmp(segs[1], "v2") == 0) {
		/* kubectl asks for protobuf and needs a media type Go's mime parser accepts */
		if (rq->accept && strstr(rq->accept, "protobuf")) {
			size_t l;
			const unsigned char *pb = kp_apiserver__openapi2_pb(&l);
			rs->body = malloc(l);
			if (!rs->body) {
				kp_apiserver__rest_status(rs, 500, "InternalError", "out of memory");
				return;
			}
			memcpy(rs->body, pb, l);
			rs->len = l;
			rs->status = 200;
			rs->content_type = "application/octet-stream";
			return;
		}
		pthread_rwlock_rdlock(&L->reg_lock);
		respond_doc(rs, kp_apiserver__openapi2_json(L->reg), CT_JSON);
		pthread_rwlock_unlock(&L->reg_lock);
		return;
	}
	if (strcmp(segs[0], "openapi") == 0 && n >= 2 && strcmp(segs[1], "v3") == 0) {
		char gvp[512];
		pthread_rwlock_rdlock(&L->reg_lock);
		if (n == 2) {
			respond_doc(rs, kp_apiserver__reg_openapi_index(L->reg), CT_JSON);
		} else {
			const char *p = strstr(rq->path, "/openapi/v3/");
			snprintf(gvp, sizeof(gvp), "%s", p ? p + strlen("/openapi/v3/") : "");
			respond_doc(rs, kp_apiserver__reg_openapi_doc(L->reg, gvp), CT_JSON);
		}
		pthread_rwlock_unlock(&L->reg_lock);
		return;
	}
	if (strcmp(segs[0], "api") != 0 && strcmp(segs[0], "apis") != 0) {
		not_found_path(rs);
		return;
	}
	pthread_rwlock_rdlock(&L->reg_lock);
	api_request(L, rq, rs, segs, n);
	pthread_rwlock_unlock(&L->reg_lock);
}
