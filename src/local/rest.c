/*
 * rest.c - the Kubernetes REST surface of the local control plane: routing
 * of /api and /apis paths, the verbs (get, list, watch, create, update,
 * patch, delete, deletecollection), subresources (status, scale, binding,
 * eviction, log), selectors, dry run, Table responses and metav1 Status
 * errors. Kind-specific knowledge (discovery, OpenAPI, validation,
 * defaulting, conversion, patches, tables) comes from apires.h. Pods are
 * deleted gracefully as by the real API server (kp_local_delete_grace; the
 * kubelet stand-in in ctl_main.c finishes the deletion) and evictions
 * respect PodDisruptionBudgets (do_eviction, ctl_pdb.c).
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

#include "local/ctl.h"
#include "local/pdb.h"
#include "local/server.h"

#define LIST_MAX ((size_t)1 << 30)
#define MAX_SEGS 12
#define MAX_TERMS 32
#define MAX_VALUES 32
#define MUTATE_RETRIES 16

/* ---------------------------------------------------------------- utils */

static const char CT_JSON[] = "application/json";
static const char CT_TABLE[] = "application/json;as=Table;v=v1;g=meta.k8s.io";
static const char CT_AGG[] = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
static const char CT_TEXT[] = "text/plain; charset=utf-8";

static void resp_json(struct kp_http_resp *rs, int code, json_t *body, const char *ct)
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

static void resp_text(struct kp_http_resp *rs, int code, const char *text, const char *ct)
{
	rs->status = code;
	rs->body = strdup(text);
	rs->len = rs->body ? strlen(rs->body) : 0;
	rs->content_type = ct;
}

static json_t *status_obj(int code, const char *reason, const char *message)
{
	return json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1", "metadata",
			 "status", code < 300 ? "Success" : "Failure", "message", message ? message : "",
			 "reason", reason ? reason : "", "code", code);
}

void kp_rest_status(struct kp_http_resp *rs, int code, const char *reason, const char *message)
{
	json_t *st = status_obj(code, reason, message);
	if (code < 300)
		json_object_del(st, "reason");
	resp_json(rs, code, st, CT_JSON);
}

static void status_details(struct kp_http_resp *rs, int code, const char *reason, const char *message,
			   const char *name, const char *group, const char *kind)
{
	json_t *st = status_obj(code, reason, message);
	json_t *d = json_object();
	if (name)
		json_object_set_new(d, "name", json_string(name));
	if (group && *group)
		json_object_set_new(d, "group", json_string(group));
	if (kind)
		json_object_set_new(d, "kind", json_string(kind));
	json_object_set_new(st, "details", d);
	resp_json(rs, code, st, CT_JSON);
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static json_t *meta_of(json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata");
	if (!json_is_object(md)) {
		md = json_object();
		json_object_set_new(obj, "metadata", md);
	}
	return md;
}

static const char *meta_str(const json_t *obj, const char *k)
{
	return jstr(json_object_get(obj, "metadata"), k);
}

static void now_rfc3339(char *buf, size_t n)
{
	kp_format_rfc3339((int64_t)time(NULL), buf, n);
}

static void new_uid(char out[37])
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

static void random_suffix(char out[6])
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	unsigned char b[5];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		memset(b, 7, sizeof(b));
	for (int i = 0; i < 5; i++)
		out[i] = alpha[b[i] % (sizeof(alpha) - 1)];
	out[5] = '\0';
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool truthy(const char *v)
{
	/* as Go's strconv.ParseBool */
	static const char *const yes[] = { "1", "t", "T", "true", "TRUE", "True" };
	for (size_t i = 0; v && i < KP_ARRAY_LEN(yes); i++)
		if (strcmp(v, yes[i]) == 0)
			return true;
	return false;
}

static const char *arg(const struct kp_http_req *rq, const char *k)
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

/* ------------------------------------------------------------ selectors */

enum sel_op { SEL_EQ, SEL_NEQ, SEL_IN, SEL_NOTIN, SEL_EXISTS, SEL_NOTEXISTS, SEL_GT, SEL_LT };

struct sel_term {
	char *key;
	enum sel_op op;
	int nv;
	char *vals[MAX_VALUES];
};

struct selector {
	int n;
	struct sel_term t[MAX_TERMS];
};

static char *trim(char *s)
{
	char *e;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* Parses a label (labels=true) or field selector into sel; strings live in a. */
static kp_err sel_parse(struct selector *sel, struct kp_arena *a, const char *text, bool labels,
			struct kp_errbuf *eb)
{
	char *buf, *p;

	memset(sel, 0, sizeof(*sel));
	if (!text || !*text)
		return KP_OK;
	buf = kp_arena_strdup(a, text);
	if (!buf)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	p = buf;
	while (*p) {
		char *start = p, *term, *op;
		int depth = 0;
		struct sel_term *t;

		while (*p && (depth || *p != ',')) {
			if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			p++;
		}
		if (*p)
			*p++ = '\0';
		term = trim(start);
		if (!*term)
			continue;
		if (sel->n == MAX_TERMS)
			return kp_errf(eb, KP_ERR_LIMIT, "too many selector terms");
		t = &sel->t[sel->n++];
		if (labels && term[0] == '!') {
			t->key = trim(term + 1);
			t->op = SEL_NOTEXISTS;
			continue;
		}
		if ((op = strstr(term, "!=")) != NULL) {
			*op = '\0';
			t->op = SEL_NEQ;
			t->vals[t->nv++] = trim(op + 2);
		} else if ((op = strstr(term, "==")) != NULL) {
			*op = '\0';
			t->op = SEL_EQ;
			t->vals[t->nv++] = trim(op + 2);
		} else if ((op = strchr(term, '=')) != NULL) {
			*op = '\0';
			t->op = SEL_EQ;
			t->vals[t->nv++] = trim(op + 1);
		} else if (labels && ((op = strchr(term, '>')) != NULL || (op = strchr(term, '<')) != NULL)) {
			t->op = *op == '>' ? SEL_GT : SEL_LT;
			*op = '\0';
			t->vals[t->nv++] = trim(op + 1);
		} else if (labels && ((op = strstr(term, " notin ")) != NULL || (op = strstr(term, " in ")) != NULL)) {
			char *lp, *rp, *v;
			t->op = op[1] == 'n' ? SEL_NOTIN : SEL_IN;
			*op = '\0';
			lp = strchr(op + 1, '(');
			rp = lp ? strrchr(lp, ')') : NULL;
			if (!lp || !rp)
				return kp_errf(eb, KP_ERR_INVALID, "unable to parse requirement: found '%s'", op + 1);
			*rp = '\0';
			v = lp + 1;
			while (v) {
				char *c = strchr(v, ',');
				if (c)
					*c++ = '\0';
				if (t->nv == MAX_VALUES)
					return kp_errf(eb, KP_ERR_LIMIT, "too many selector values");
				t->vals[t->nv++] = trim(v);
				v = c;
			}
		} else if (labels) {
			t->op = SEL_EXISTS;
		} else {
			return kp_errf(eb, KP_ERR_INVALID, "invalid selector: '%s'; can't understand '%s'", text, term);
		}
		t->key = trim(term);
		if (!*t->key)
			return kp_errf(eb, KP_ERR_INVALID, "invalid selector: '%s'", text);
	}
	return KP_OK;
}

static bool term_match(const struct sel_term *t, const char *v)
{
	int64_t a, b;

	switch (t->op) {
	case SEL_EXISTS: return v != NULL;
	case SEL_NOTEXISTS: return v == NULL;
	case SEL_EQ: return v && strcmp(v, t->vals[0]) == 0;
	case SEL_NEQ: return !v || strcmp(v, t->vals[0]) != 0;
	case SEL_IN:
	case SEL_NOTIN: {
		bool in = false;
		for (int i = 0; v && i < t->nv; i++)
			in = in || strcmp(v, t->vals[i]) == 0;
		return t->op == SEL_IN ? in : !in;
	}
	case SEL_GT:
	case SEL_LT:
		if (!v || kp_parse_i64(v, &a) || kp_parse_i64(t->vals[0], &b))
			return false;
		return t->op == SEL_GT ? a > b : a < b;
	}
	return false;
}

static bool labels_match(const struct selector *sel, const json_t *obj)
{
	const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	for (int i = 0; i < sel->n; i++)
		if (!term_match(&sel->t[i], json_string_value(json_object_get(labels, sel->t[i].key))))
			return false;
	return true;
}

/* Field value at a dotted path as text ("" if missing), for field selectors. */
static const char *field_value(const json_t *obj, const char *path, char *buf, size_t n)
{
	const json_t *cur = obj;
	const char *p = path;

	while (*p && cur) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		char key[128];
		if (len >= sizeof(key))
			return "";
		memcpy(key, p, len);
		key[len] = '\0';
		cur = json_object_get(cur, key);
		p = dot ? dot + 1 : p + len;
	}
	if (!cur || json_is_null(cur))
		return "";
	if (json_is_string(cur))
		return json_string_value(cur);
	if (json_is_integer(cur)) {
		snprintf(buf, n, "%lld", (long long)json_integer_value(cur));
		return buf;
	}
	if (json_is_boolean(cur))
		return json_is_true(cur) ? "true" : "false";
	return "";
}

static bool fields_match(const struct selector *sel, const json_t *obj)
{
	char buf[64];
	for (int i = 0; i < sel->n; i++)
		if (!term_match(&sel->t[i], field_value(obj, sel->t[i].key, buf, sizeof(buf))))
			return false;
	return true;
}

/* ---------------------------------------------------------------- routes */

struct route {
	const char *group;      /* "" for core */
	const char *version;
	const char *ns;         /* NULL: not a namespaced request */
	const char *plural;
	const char *name;
	const char *sub;
	bool watch_path;
	char gv[256];           /* apiVersion: "v1" or "apps/v1" */
};

struct reqctx {
	struct kp_local *L;
	const struct kp_http_req *rq;
	struct kp_http_resp *rs;
	struct route r;
	const struct kp_apires *res;
	struct kp_arena arena;
	char qname[320];        /* "pods", "nodepools.karpenter.sh" */
	bool dry_run;
	bool scale_resp;        /* answer with the Scale of the object */
	json_t *crd_add;        /* applied to the registry after the read lock is released */
	char *crd_remove;
};

static bool accept_has(const struct kp_http_req *rq, const char *needle)
{
	return rq->accept && strstr(rq->accept, needle) != NULL;
}

static bool wants_table(const struct kp_http_req *rq)
{
	return accept_has(rq, "as=Table");
}

static json_t *to_served(struct reqctx *c, const json_t *stored)
{
	const struct kp_apires *res = c->res;
	json_t *out = NULL;

	if (res->storage_version && strcmp(res->storage_version, res->version) != 0) {
		struct kp_errbuf eb = { 0 };
		out = kp_apireg_convert(c->L->reg, res, stored, res->version, &eb);
	}
	if (!out)
		out = json_deep_copy(stored);
	if (out)
		json_object_set_new(out, "apiVersion", json_string(c->r.gv));
	return out;
}

/* Converts a request object (served version) to the storage version. */
static json_t *to_storage(struct reqctx *c, json_t *obj)
{
	const struct kp_apires *res = c->res;
	char sv[256];

	if (res->storage_version && strcmp(res->storage_version, res->version) != 0) {
		struct kp_errbuf eb = { 0 };
		json_t *o = kp_apireg_convert(c->L->reg, res, obj, res->storage_version, &eb);
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

static void err_notfound(struct reqctx *c, const char *name)
{
	char msg[700];
	snprintf(msg, sizeof(msg), "%s \"%s\" not found", c->qname, name);
	status_details(c->rs, 404, "NotFound", msg, name, c->r.group, c->r.plural);
}

static void err_conflict(struct reqctx *c, const char *name)
{
	char msg[900];
	snprintf(msg, sizeof(msg),
		 "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please apply your "
		 "changes to the latest version and try again", c->qname, name);
	status_details(c->rs, 409, "Conflict", msg, name, c->r.group, c->r.plural);
}

static void err_exists(struct reqctx *c, const char *name)
{
	char msg[700];
	snprintf(msg, sizeof(msg), "%s \"%s\" already exists", c->qname, name);
	status_details(c->rs, 409, "AlreadyExists", msg, name, c->r.group, c->r.plural);
}

static void err_store(struct reqctx *c, enum kp_store_rc rc, const char *name, const struct kp_errbuf *eb)
{
	switch (rc) {
	case KP_STORE_NOTFOUND: err_notfound(c, name); return;
	case KP_STORE_EXISTS: err_exists(c, name); return;
	case KP_STORE_CONFLICT: err_conflict(c, name); return;
	case KP_STORE_GONE: kp_rest_status(c->rs, 410, "Expired", eb->msg); return;
	case KP_STORE_CLOSED: kp_rest_status(c->rs, 503, "ServiceUnavailable", "the server is shutting down"); return;
	default: kp_rest_status(c->rs, 500, "InternalError", eb->msg[0] ? eb->msg : kp_store_rc_str(rc)); return;
	}
}

/* 422 Invalid. detail: the validator's message ("Kind.group \"name\" is
 * invalid: field.path: what is wrong", or just "field.path: what"); obj
 * (may be NULL): the rejected object, whose causes the validator lists. */
static void err_invalid(struct reqctx *c, const char *name, const char *detail, const json_t *obj)
{
	char msg[4096], field[512] = "";
	const char *colon, *pre = strstr(detail, " is invalid: ");
	json_t *st, *causes = obj ? kp_apireg_validate_causes(c->L->reg, c->res, obj) : NULL, *cause;
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
		const char *f = jstr(cause, "field"), *m = jstr(cause, "message");
		size_t fl = f ? strlen(f) : 0;
		if (fl && m && strncmp(m, f, fl) == 0 && strncmp(m + fl, ": ", 2) == 0)
			json_object_set_new(cause, "message", json_string(m + fl + 2));
	}
	st = status_obj(422, "Invalid", msg);
	json_object_set_new(st, "details", json_pack("{s:s, s:s, s:s, s:o}", "name", name ? name : "", "group",
						     c->r.group, "kind", c->res->kind, "causes", causes));
	resp_json(c->rs, 422, st, CT_JSON);
}

static struct kp_store_key key_of(const struct reqctx *c, const char *name)
{
	struct kp_store_key k = { c->r.group, c->r.plural, c->res->namespaced ? c->r.ns : "", name };
	if (!k.ns)
		k.ns = "";
	return k;
}

/* Parses the request body as a JSON object; answers 400 and returns NULL otherwise. */
static json_t *body_object(struct reqctx *c)
{
	const char *ct = c->rq->content_type ? c->rq->content_type : "";
	json_error_t je;
	json_t *o;

	if (strstr(ct, "protobuf")) {
		struct kp_errbuf eb = { 0 };
		o = c->rq->body ? kp_pbuf_decode(c->rq->body, c->rq->body_len, &eb) : NULL;
		if (!o) {
			char msg[1200];
			snprintf(msg, sizeof(msg), "the body of the request was in an unknown format - accepted media types "
				 "include: application/json (%s)", eb.msg[0] ? eb.msg : "empty body");
			kp_rest_status(c->rs, 415, "UnsupportedMediaType", msg);
		}
		return o;
	}
	if ((strstr(ct, "yaml") && !strstr(ct, "apply-patch")) || strstr(ct, "cbor")) {
		kp_rest_status(c->rs, 415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
				      "accepted media types include: application/json");
		return NULL;
	}
	o = c->rq->body ? json_loadb(c->rq->body, c->rq->body_len, 0, &je) : NULL;
	if (!o || !(json_is_object(o) || json_is_array(o))) {
		char msg[300];
		snprintf(msg, sizeof(msg), "the body of the request could not be decoded: %s",
			 o ? "not an object" : c->rq->body ? je.text : "empty body");
		json_decref(o);
		kp_rest_status(c->rs, 400, "BadRequest", msg);
		return NULL;
	}
	return o;
}

/* ------------------------------------------------------------ get / list */

static const char *include_object(const struct kp_http_req *rq)
{
	const char *v = arg(rq, "includeObject");
	return v && *v ? v : "Metadata";
}

static json_t *scale_of(struct reqctx *c, const json_t *obj);

static void respond_object(struct reqctx *c, int code, const json_t *stored)
{
	json_t *served = c->scale_resp ? scale_of(c, stored) : to_served(c, stored);

	if (!served) {
		kp_rest_status(c->rs, 500, "InternalError", "cannot encode object");
		return;
	}
	if (!c->scale_resp && wants_table(c->rq) && strcmp(c->rq->method, "GET") == 0) {
		json_t *t = kp_apireg_table(c->L->reg, c->res, served, include_object(c->rq));
		if (t) {
			json_decref(served);
			resp_json(c->rs, code, t, CT_TABLE);
			return;
		}
	}
	resp_json(c->rs, code, served, CT_JSON);
}

/* Loads the stored object at k: 1 found, 0 answered (not found or error). */
static int load(struct reqctx *c, const struct kp_store_key *k, json_t **obj, int64_t *rv)
{
	struct kp_errbuf eb = { 0 };
	char *text = NULL;
	enum kp_store_rc rc = kp_store_get(c->L->store, k, &text, rv, &eb);

	if (rc) {
		err_store(c, rc, k->name, &eb);
		return 0;
	}
	*obj = json_loads(text, 0, NULL);
	free(text);
	if (!*obj) {
		kp_rest_status(c->rs, 500, "InternalError", "stored object is not valid JSON");
		return 0;
	}
	return 1;
}

static void do_get(struct reqctx *c)
{
	struct kp_store_key k = key_of(c, c->r.name);
	json_t *obj;
	int64_t rv;

	if (!load(c, &k, &obj, &rv))
		return;
	respond_object(c, 200, obj);
	json_decref(obj);
}

struct list_ctx {
	struct reqctx *c;
	struct selector ls, fs;
	bool parse;               /* selectors, conversion or a Table need parsed objects */
	json_t *items;            /* parsed, served objects (Table and deletecollection) */
	struct kp_buf out;
	int n;
	kp_err err;
};

static int list_fn(void *ud, const char *json, size_t len, int64_t rv)
{
	struct list_ctx *lc = ud;
	json_t *obj, *served;
	char *text;

	(void)rv;
	if (!lc->parse) {
		if ((lc->n++ && kp_buf_add(&lc->out, ",", 1)) || kp_buf_add(&lc->out, json, len))
			lc->err = KP_ERR_LIMIT;
		return lc->err != KP_OK;
	}
	obj = json_loadb(json, len, 0, NULL);
	if (!obj)
		return 0;
	if (!labels_match(&lc->ls, obj) || !fields_match(&lc->fs, obj)) {
		json_decref(obj);
		return 0;
	}
	served = to_served(lc->c, obj);
	json_decref(obj);
	if (!served)
		return 0;
	if (lc->items) {
		json_array_append_new(lc->items, served);
		return 0;
	}
	text = json_dumps(served, JSON_COMPACT);
	json_decref(served);
	if (!text || (lc->n++ && kp_buf_add(&lc->out, ",", 1)) || kp_buf_addstr(&lc->out, text))
		lc->err = KP_ERR_LIMIT;
	free(text);
	return lc->err != KP_OK;
}

static bool needs_conversion(const struct kp_apires *res)
{
	return res->storage_version && strcmp(res->storage_version, res->version) != 0;
}

/* Parses labelSelector and fieldSelector; answers 400 on error. */
static bool parse_selectors(struct reqctx *c, struct selector *ls, struct selector *fs)
{
	struct kp_errbuf eb = { 0 };

	if (sel_parse(ls, &c->arena, arg(c->rq, "labelSelector"), true, &eb) ||
	    sel_parse(fs, &c->arena, arg(c->rq, "fieldSelector"), false, &eb)) {
		kp_rest_status(c->rs, 400, "BadRequest", eb.msg);
		return false;
	}
	return true;
}

static void do_list(struct reqctx *c)
{
	struct list_ctx lc = { .c = c };
	struct kp_errbuf eb = { 0 };
	enum kp_store_rc rc;
	bool table = wants_table(c->rq);
	int64_t lrv = 0;
	char head[600];

	if (!parse_selectors(c, &lc.ls, &lc.fs))
		return;
	lc.parse = lc.ls.n || lc.fs.n || table || needs_conversion(c->res);
	if (table)
		lc.items = json_array();
	kp_buf_init(&lc.out, LIST_MAX);
	rc = kp_store_list(c->L->store, c->r.group, c->r.plural, c->res->namespaced ? c->r.ns : NULL, list_fn, &lc,
			   &lrv, &eb);
	if (rc || lc.err) {
		kp_buf_free(&lc.out);
		json_decref(lc.items);
		if (rc)
			err_store(c, rc, "", &eb);
		else
			kp_rest_status(c->rs, 500, "InternalError", "list too large");
		return;
	}
	if (table) {
		char rvs[32];
		json_t *list, *t;
		snprintf(rvs, sizeof(rvs), "%lld", (long long)lrv);
		list = json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", c->res->list_kind, "apiVersion", c->r.gv,
				 "metadata", "resourceVersion", rvs, "items", lc.items);
		t = kp_apireg_table(c->L->reg, c->res, list, include_object(c->rq));
		kp_buf_free(&lc.out);
		if (t) {
			json_decref(list);
			resp_json(c->rs, 200, t, CT_TABLE);
		} else {
			resp_json(c->rs, 200, list, CT_JSON);
		}
		return;
	}
	snprintf(head, sizeof(head), "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"},"
		 "\"items\":[", c->res->list_kind, c->r.gv, (long long)lrv);
	{
		struct kp_buf all;
		kp_buf_init(&all, LIST_MAX + 1024);
		if (kp_buf_addstr(&all, head) || kp_buf_add(&all, lc.out.data ? lc.out.data : "", lc.out.len) ||
		    kp_buf_addstr(&all, "]}")) {
			kp_buf_free(&all);
			kp_buf_free(&lc.out);
			kp_rest_status(c->rs, 500, "InternalError", "list too large");
			return;
		}
		kp_buf_free(&lc.out);
		c->rs->status = 200;
		c->rs->len = all.len;
		c->rs->body = kp_buf_take(&all);
		c->rs->content_type = CT_JSON;
	}
}

/* ----------------------------------------------------------------- watch */

struct kp_watch_stream {
	struct kp_local *L;
	struct kp_store_watch *w;
	char *group, *version, *plural;
	char gv[256], kind[128];
	struct kp_arena arena;
	struct selector ls, fs;
	bool table;
	char include[16];
	bool bookmarks;
	int64_t bookmark_every, next_bookmark;
	int64_t deadline;            /* monotonic ms; 0 = none */
	struct kp_buf pend;
	size_t off;
	bool done;                   /* end once pend is flushed */
	struct kp_ctl_log_follow *follow;  /* pods/log?follow=true (ctl_log.c) instead of a watch */
};

static void stream_line(struct kp_watch_stream *s, const char *type, json_t *obj)
{
	json_t *ev = json_pack("{s:s, s:o}", "type", type, "object", obj);
	char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;

	if (!text || kp_buf_addstr(&s->pend, text) || kp_buf_add(&s->pend, "\n", 1))
		s->done = true;
	free(text);
	json_decref(ev);
}

/* Formats one stored object as a watch event if it passes the selectors. */
static void stream_event(struct kp_watch_stream *s, const char *type, const char *json, size_t len)
{
	json_t *obj = json_loadb(json, len, 0, NULL), *served = NULL, *t = NULL;
	const struct kp_apires *res;

	if (!obj)
		return;
	if (!labels_match(&s->ls, obj) || !fields_match(&s->fs, obj)) {
		json_decref(obj);
		return;
	}
	pthread_rwlock_rdlock(&s->L->reg_lock);
	res = kp_apireg_find(s->L->reg, s->group, s->version, s->plural);
	if (res) {
		if (res->storage_version && strcmp(res->storage_version, res->version) != 0) {
			struct kp_errbuf eb = { 0 };
			served = kp_apireg_convert(s->L->reg, res, obj, res->version, &eb);
		}
		if (!served)
			served = json_incref(obj);
		json_object_set_new(served, "apiVersion", json_string(s->gv));
		if (s->table)
			t = kp_apireg_table(s->L->reg, res, served, s->include);
	}
	pthread_rwlock_unlock(&s->L->reg_lock);
	json_decref(obj);
	if (!res) {
		s->done = true;   /* the resource went away (CRD deleted) */
		return;
	}
	if (t) {
		json_decref(served);
		served = t;
	}
	stream_line(s, type, served);
}

static void stream_bookmark(struct kp_watch_stream *s)
{
	char rvs[32];
	snprintf(rvs, sizeof(rvs), "%lld", (long long)kp_store_watch_rv(s->w));
	stream_line(s, "BOOKMARK", json_pack("{s:s, s:s, s:{s:s}}", "kind", s->kind, "apiVersion", s->gv, "metadata",
					     "resourceVersion", rvs));
}

static void stream_expired(struct kp_watch_stream *s, const char *msg)
{
	json_t *st = status_obj(410, "Expired", msg);
	stream_line(s, "ERROR", st);
	s->done = true;
}

static bool hung_up(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	if (fd < 0)
		return false;
	if (poll(&p, 1, 0) <= 0)
		return false;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

ssize_t kp_rest_stream_read(struct kp_watch_stream *s, int fd, char *buf, size_t max)
{
	if (s->follow && s->off >= s->pend.len)
		return kp_ctl_log_follow_read(s->follow, fd, buf, max);
	for (;;) {
		struct kp_store_event ev;
		struct kp_errbuf eb = { 0 };
		enum kp_store_rc rc;
		int64_t now, wait;

		if (s->off < s->pend.len) {
			size_t n = s->pend.len - s->off;
			if (n > max)
				n = max;
			memcpy(buf, s->pend.data + s->off, n);
			s->off += n;
			if (s->off == s->pend.len) {
				s->off = 0;
				s->pend.len = 0;
				if (s->pend.cap > 1024 * 1024)
					kp_buf_free(&s->pend);
			}
			return (ssize_t)n;
		}
		if (s->done || !s->w)
			return 0;
		now = mono_ms();
		wait = 1000;
		if (s->deadline && s->deadline - now < wait)
			wait = s->deadline - now;
		if (s->bookmarks && s->next_bookmark - now < wait)
			wait = s->next_bookmark - now;
		if (wait < 0)
			wait = 0;
		rc = kp_store_watch_next(s->w, wait, &ev, &eb);
		switch (rc) {
		case KP_STORE_OK:
			stream_event(s, kp_store_evtype_str(ev.type), ev.json, ev.len);
			break;
		case KP_STORE_TIMEOUT:
			if (hung_up(fd))
				return -1;
			now = mono_ms();
			if (s->deadline && now >= s->deadline)
				return 0;
			if (s->bookmarks && now >= s->next_bookmark) {
				stream_bookmark(s);
				s->next_bookmark = now + s->bookmark_every;
			}
			break;
		case KP_STORE_GONE:
			stream_expired(s, eb.msg);
			break;
		case KP_STORE_CLOSED:
			return 0;
		default:
			return -1;
		}
	}
}

void kp_rest_stream_free(struct kp_watch_stream *s)
{
	if (!s)
		return;
	kp_store_watch_close(s->w);
	kp_ctl_log_follow_close(s->follow);
	kp_buf_free(&s->pend);
	kp_arena_free(&s->arena);
	free(s->group);
	free(s->version);
	free(s->plural);
	free(s);
}

static int initial_fn(void *ud, const char *json, size_t len, int64_t rv)
{
	struct kp_watch_stream *s = ud;
	(void)rv;
	stream_event(s, "ADDED", json, len);
	return s->done;
}

static void do_watch(struct reqctx *c)
{
	struct kp_watch_stream *s = calloc(1, sizeof(*s));
	struct kp_errbuf eb = { 0 };
	const char *rvs = arg(c->rq, "resourceVersion");
	const char *ts = arg(c->rq, "timeoutSeconds"), *tmo = arg(c->rq, "timeout");
	const char *ns = c->res->namespaced ? c->r.ns : NULL;
	int64_t from = 0, secs = 0;
	enum kp_store_rc rc;
	bool initial;

	if (!s) {
		kp_rest_status(c->rs, 500, "InternalError", "out of memory");
		return;
	}
	s->L = c->L;
	kp_arena_init(&s->arena);
	kp_buf_init(&s->pend, LIST_MAX);
	s->group = strdup(c->r.group);
	s->version = strdup(c->r.version);
	s->plural = strdup(c->r.plural);
	snprintf(s->gv, sizeof(s->gv), "%s", c->r.gv);
	snprintf(s->kind, sizeof(s->kind), "%s", c->res->kind);
	s->table = wants_table(c->rq);
	snprintf(s->include, sizeof(s->include), "%s", include_object(c->rq));
	s->bookmarks = truthy(arg(c->rq, "allowWatchBookmarks"));
	s->bookmark_every = c->L->cfg.bookmark_ms > 0 ? c->L->cfg.bookmark_ms : 60000;
	s->next_bookmark = mono_ms() + s->bookmark_every;
	if (!s->group || !s->version || !s->plural) {
		kp_rest_stream_free(s);
		kp_rest_status(c->rs, 500, "InternalError", "out of memory");
		return;
	}
	if (sel_parse(&s->ls, &s->arena, arg(c->rq, "labelSelector"), true, &eb) ||
	    sel_parse(&s->fs, &s->arena, arg(c->rq, "fieldSelector"), false, &eb)) {
		kp_rest_stream_free(s);
		kp_rest_status(c->rs, 400, "BadRequest", eb.msg);
		return;
	}
	if (ts && *ts) {
		if (kp_parse_i64(ts, &secs) || secs < 0) {
			kp_rest_stream_free(s);
			kp_rest_status(c->rs, 400, "BadRequest", "invalid timeoutSeconds");
			return;
		}
		if (secs > 0)
			s->deadline = mono_ms() + secs * 1000;
	} else if (tmo && *tmo) {
		int64_t ms = 0;
		if (kp_parse_duration_ms(tmo, &ms) || ms < 0) {
			kp_rest_stream_free(s);
			kp_rest_status(c->rs, 400, "BadRequest", "invalid timeout");
			return;
		}
		if (ms > 0)
			s->deadline = mono_ms() + ms;
	}
	initial = !rvs || !*rvs || strcmp(rvs, "0") == 0;
	if (!initial && (kp_parse_i64(rvs, &from) || from < 0)) {
		kp_rest_stream_free(s);
		kp_rest_status(c->rs, 400, "BadRequest", "invalid resourceVersion");
		return;
	}
	if (initial) {
		rc = kp_store_list(c->L->store, c->r.group, c->r.plural, ns, initial_fn, s, &from, &eb);
		if (rc) {
			kp_rest_stream_free(s);
			err_store(c, rc, "", &eb);
			return;
		}
	}
	rc = kp_store_watch_open(c->L->store, c->r.group, c->r.plural, ns, from, &s->w, &eb);
	if (rc == KP_STORE_GONE) {
		stream_expired(s, eb.msg);
	} else if (rc) {
		kp_rest_stream_free(s);
		err_store(c, rc, "", &eb);
		return;
	}
	c->rs->status = 200;
	c->rs->content_type = s->table ? CT_TABLE : CT_JSON;
	c->rs->stream = s;
}

/* ---------------------------------------------------- object life cycle */

static bool is_namespace(const struct kp_store_key *k)
{
	return !*k->group && strcmp(k->resource, "namespaces") == 0;
}

static bool is_crd(const char *group, const char *plural)
{
	return strcmp(group, "apiextensions.k8s.io") == 0 && strcmp(plural, "customresourcedefinitions") == 0;
}

static size_t nfinalizers(const json_t *obj)
{
	return json_array_size(json_object_get(json_object_get(obj, "metadata"), "finalizers"));
}

static bool has_finalizer(const json_t *obj, const char *f)
{
	const json_t *arr = json_object_get(json_object_get(obj, "metadata"), "finalizers"), *v;
	size_t i;
	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), f) == 0)
			return true;
	return false;
}

static void add_finalizer(json_t *obj, const char *f)
{
	json_t *md = meta_of(obj), *arr = json_object_get(md, "finalizers");
	if (has_finalizer(obj, f))
		return;
	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(md, "finalizers", arr);
	}
	json_array_append_new(arr, json_string(f));
}

static void mark_deleting(json_t *obj)
{
	json_t *md = meta_of(obj);
	char ts[40];
	if (!json_object_get(md, "deletionTimestamp")) {
		now_rfc3339(ts, sizeof(ts));
		json_object_set_new(md, "deletionTimestamp", json_string(ts));
		json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(0));
	}
}

static int64_t rv_of_obj(const json_t *obj)
{
	const char *s = meta_str(obj, "resourceVersion");
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
	const char *node = jstr(spec, "nodeName"), *phase = jstr(json_object_get(pod, "status"), "phase");

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
	json_t *md = meta_of(obj);
	char ts[40];
	kp_format_rfc3339(when + grace, ts, sizeof(ts));
	json_object_set_new(md, "deletionTimestamp", json_string(ts));
	json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(grace));
}

enum kp_store_rc kp_local_delete(struct kp_local *L, const struct kp_store_key *k, enum kp_propagation prop,
				 int64_t expect_rv, const char *expect_uid, json_t **out, struct kp_errbuf *eb)
{
	return kp_local_delete_grace(L, k, prop, -1, expect_rv, expect_uid, out, NULL, eb);
}

enum kp_store_rc kp_local_delete_grace(struct kp_local *L, const struct kp_store_key *k, enum kp_propagation prop,
				       int64_t grace, int64_t expect_rv, const char *expect_uid, json_t **out,
				       bool *gone, struct kp_errbuf *eb)
{
	const char *fin = prop == KP_PROP_FOREGROUND ? "foregroundDeletion" : prop == KP_PROP_ORPHAN ? "orphan" : NULL;

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
		uid = meta_str(obj, "uid");
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
				if (kp_parse_rfc3339(meta_str(obj, "deletionTimestamp"), &end))
					end = (int64_t)time(NULL) + cur;
				set_deletion(obj, end - cur, grace);
				if (grace == 0 && nfinalizers(obj) == 0) {
					removed = true;
				} else {
					rc = kp_store_update(L->store, k, obj, rv, NULL, eb);
				}
			}
		} else if (is_pod(k) && !terminating && (g = pod_grace(obj, grace)) > 0) {
			set_deletion(obj, (int64_t)time(NULL), g);
			if (fin)
				add_finalizer(obj, fin);
			rc = kp_store_update(L->store, k, obj, rv, NULL, eb);
		} else if (is_namespace(k) || nfinalizers(obj) > 0 || fin) {
			bool changed = !terminating;
			mark_deleting(obj);
			if (fin && !has_finalizer(obj, fin)) {
				add_finalizer(obj, fin);
				changed = true;
			}
			if (is_namespace(k)) {
				json_t *st = json_object_get(obj, "status");
				if (!json_is_object(st)) {
					st = json_object();
					json_object_set_new(obj, "status", st);
				}
				if (!jstr(st, "phase") || strcmp(jstr(st, "phase"), "Terminating") != 0) {
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
static enum kp_store_rc write_back(struct kp_local *L, const struct kp_store_key *k, json_t *obj, int64_t rv,
				   bool *deleted, struct kp_errbuf *eb)
{
	*deleted = false;
	if (json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp") && nfinalizers(obj) == 0 &&
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

enum kp_store_rc kp_local_mutate(struct kp_local *L, const struct kp_store_key *k, kp_local_mutate_fn fn, void *ud,
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
		rc = write_back(L, k, obj, rv, &deleted, eb);
		json_decref(obj);
		if (rc != KP_STORE_CONFLICT)
			return rc;
	}
	kp_errf(eb, KP_ERR_LIMIT, "too many conflicts");
	return KP_STORE_CONFLICT;
}

/* --------------------------------------------------------------- create */

static bool namespace_usable(struct reqctx *c, bool *terminating)
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
static bool check_type(struct reqctx *c, json_t *obj)
{
	const char *av = jstr(obj, "apiVersion"), *kind = jstr(obj, "kind");
	char msg[700];

	if ((av && strcmp(av, c->r.gv) != 0) || (kind && strcmp(kind, c->res->kind) != 0)) {
		snprintf(msg, sizeof(msg), "the API version in the data (%s) does not match the expected API version (%s)",
			 av ? av : "", c->r.gv);
		if (av && strcmp(av, c->r.gv) == 0)
			snprintf(msg, sizeof(msg), "the kind in the data (%s) does not match the expected kind (%s)", kind,
				 c->res->kind);
		kp_rest_status(c->rs, 400, "BadRequest", msg);
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

	now_rfc3339(ts, sizeof(ts));
	json_array_foreach(vs, i, v)
		if (json_is_true(json_object_get(v, "storage")) && jstr(v, "name"))
			json_array_append_new(stored, json_string(jstr(v, "name")));
	json_object_set_new(crd, "status", json_pack("{s:O*, s:o, s:[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]}",
		"acceptedNames", json_object_get(spec, "names"), "storedVersions", stored, "conditions",
		"type", "NamesAccepted", "status", "True", "lastTransitionTime", ts, "reason", "NoConflicts",
		"message", "no conflicts found",
		"type", "Established", "status", "True", "lastTransitionTime", ts, "reason", "InitialNamesAccepted",
		"message", "the initial names have been accepted"));
}

static void do_create(struct reqctx *c)
{
	struct kp_errbuf eb = { 0 };
	json_t *obj = body_object(c), *md;
	const char *name, *gen, *bns;
	char ts[40], uid[37], buf[300];
	enum kp_store_rc rc;
	struct kp_store_key k;

	if (!obj)
		return;
	if (!json_is_object(obj) || !check_type(c, obj)) {
		if (!json_is_object(obj))
			kp_rest_status(c->rs, 400, "BadRequest", "the body of the request must be an object");
		json_decref(obj);
		return;
	}
	md = meta_of(obj);
	bns = jstr(md, "namespace");
	if (c->res->namespaced) {
		if (bns && *bns && strcmp(bns, c->r.ns) != 0) {
			kp_rest_status(c->rs, 400, "BadRequest",
				       "the namespace of the provided object does not match the namespace sent on the request");
			json_decref(obj);
			return;
		}
		json_object_set_new(md, "namespace", json_string(c->r.ns));
	} else {
		json_object_del(md, "namespace");
	}
	name = jstr(md, "name");
	gen = jstr(md, "generateName");
	if ((!name || !*name) && gen && *gen) {
		char sfx[6];
		random_suffix(sfx);
		snprintf(buf, sizeof(buf), "%.*s%s", 58, gen, sfx);
		json_object_set_new(md, "name", json_string(buf));
		name = jstr(md, "name");
	}
	if (!name || !*name) {
		err_invalid(c, "", "metadata.name: Required value: name or generateName is required", NULL);
		json_decref(obj);
		return;
	}
	if (c->res->namespaced) {
		bool term;
		if (!namespace_usable(c, &term)) {
			char msg[400];
			snprintf(msg, sizeof(msg), "namespaces \"%s\" not found", c->r.ns);
			status_details(c->rs, 404, "NotFound", msg, c->r.ns, "", "namespaces");
			json_decref(obj);
			return;
		}
		if (term) {
			char msg[600];
			snprintf(msg, sizeof(msg), "%s \"%s\" is forbidden: unable to create new content in namespace %s "
				 "because it is being terminated", c->qname, name, c->r.ns);
			status_details(c->rs, 403, "Forbidden", msg, name, c->r.group, c->r.plural);
			json_decref(obj);
			return;
		}
	}
	new_uid(uid);
	now_rfc3339(ts, sizeof(ts));
	json_object_set_new(md, "uid", json_string(uid));
	json_object_set_new(md, "creationTimestamp", json_string(ts));
	json_object_set_new(md, "generation", json_integer(1));
	json_object_del(md, "resourceVersion");
	json_object_del(md, "deletionTimestamp");
	json_object_del(md, "deletionGracePeriodSeconds");
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
	kp_apireg_default(c->L->reg, c->res, obj);
	if (kp_apireg_validate(c->L->reg, c->res, obj, &eb)) {
		err_invalid(c, jstr(md, "name"), eb.msg, obj);
		json_decref(obj);
		return;
	}
	if (is_crd(c->r.group, c->r.plural))
		crd_status(obj);
	obj = to_storage(c, obj);
	md = meta_of(obj);
	k = key_of(c, jstr(md, "name"));
	if (c->dry_run) {
		struct kp_store_key kk = k;
		char *t = NULL;
		if (kp_store_get(c->L->store, &kk, &t, NULL, NULL) == KP_STORE_OK) {
			free(t);
			err_exists(c, kk.name);
		} else {
			respond_object(c, 201, obj);
		}
		json_decref(obj);
		return;
	}
	rc = kp_store_create(c->L->store, &k, obj, NULL, &eb);
	if (rc) {
		err_store(c, rc, k.name, &eb);
		json_decref(obj);
		return;
	}
	if (is_crd(c->r.group, c->r.plural))
		c->crd_add = json_incref(obj);
	respond_object(c, 201, obj);
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

enum upd_result { UPD_DONE, UPD_RETRY };

/* The common tail of update, patch and the status/scale subresources:
 * nobj (owned, served version) replaces old (stored version, at cur_rv).
 * client_rv: the precondition the client gave (0 = none). */
static enum upd_result finish_update(struct reqctx *c, const json_t *old, int64_t cur_rv, json_t *nobj,
				     int64_t client_rv, const char *sub)
{
	struct kp_store_key k = key_of(c, c->r.name);
	struct kp_errbuf eb = { 0 };
	json_t *md, *omd = json_object_get(old, "metadata");
	const char *nm;
	enum kp_store_rc rc;
	bool deleted = false;
	int64_t gen;

	if (!json_is_object(nobj) || !check_type(c, nobj)) {
		if (!json_is_object(nobj))
			kp_rest_status(c->rs, 400, "BadRequest", "the body of the request must be an object");
		json_decref(nobj);
		return UPD_DONE;
	}
	md = meta_of(nobj);
	nm = jstr(md, "name");
	if (nm && strcmp(nm, c->r.name) != 0) {
		char msg[700];
		snprintf(msg, sizeof(msg), "the name of the object (%s) does not match the name on the URL (%s)", nm,
			 c->r.name);
		kp_rest_status(c->rs, 400, "BadRequest", msg);
		json_decref(nobj);
		return UPD_DONE;
	}
	if (client_rv > 0 && client_rv != cur_rv) {
		err_conflict(c, c->r.name);
		json_decref(nobj);
		return UPD_DONE;
	}
	nobj = to_storage(c, nobj);
	md = meta_of(nobj);
	if (sub && strcmp(sub, "status") == 0) {
		json_t *st = json_incref(json_object_get(nobj, "status"));
		json_decref(nobj);
		nobj = json_deep_copy(old);
		if (st)
			json_object_set_new(nobj, "status", st);
		else
			json_object_del(nobj, "status");
		md = meta_of(nobj);
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
	json_object_del(md, "managedFields");
	gen = json_integer_value(json_object_get(omd, "generation"));
	if (gen <= 0)
		gen = 1;
	if (spec_changed(old, nobj))
		gen++;
	json_object_set_new(md, "generation", json_integer(gen));
	kp_apireg_default(c->L->reg, c->res, nobj);
	if (kp_apireg_validate(c->L->reg, c->res, nobj, &eb)) {
		err_invalid(c, c->r.name, eb.msg, nobj);
		json_decref(nobj);
		return UPD_DONE;
	}
	if (c->dry_run) {
		respond_object(c, 200, nobj);
		json_decref(nobj);
		return UPD_DONE;
	}
	rc = write_back(c->L, &k, nobj, cur_rv, &deleted, &eb);
	if (rc == KP_STORE_CONFLICT && client_rv <= 0) {
		json_decref(nobj);
		return UPD_RETRY;
	}
	if (rc) {
		err_store(c, rc, c->r.name, &eb);
		json_decref(nobj);
		return UPD_DONE;
	}
	if (is_crd(c->r.group, c->r.plural)) {
		if (deleted)
			c->crd_remove = strdup(c->r.name);
		else
			c->crd_add = json_incref(nobj);
	}
	respond_object(c, 200, nobj);
	json_decref(nobj);
	return UPD_DONE;
}

/* ---------------------------------------------------------------- scale */

static json_t *scale_of(struct reqctx *c, const json_t *obj)
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

static void do_update(struct reqctx *c, const char *sub)
{
	json_t *body = body_object(c);

	if (!body)
		return;
	c->scale_resp = sub && strcmp(sub, "scale") == 0;
	for (int attempt = 0; attempt < MUTATE_RETRIES; attempt++) {
		struct kp_store_key k = key_of(c, c->r.name);
		json_t *old, *nobj;
		int64_t cur = 0, client_rv = rv_of_obj(body);
		enum upd_result r;

		if (!load(c, &k, &old, &cur))
			break;
		if (c->scale_resp) {
			nobj = to_served(c, old);
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
			err_conflict(c, c->r.name);
	}
	json_decref(body);
}

static json_t *apply_patch(struct reqctx *c, const json_t *base, const json_t *patch, const char *ct)
{
	struct kp_errbuf eb = { 0 };
	json_t *out = NULL;

	if (strstr(ct, "application/json-patch+json"))
		out = kp_patch_json(base, patch, &eb);
	else if (strstr(ct, "application/merge-patch+json"))
		out = kp_patch_merge(base, patch);
	else if (strstr(ct, "application/strategic-merge-patch+json"))
		out = kp_patch_strategic(c->res, base, patch, &eb);
	if (!out) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "the server rejected our request due to an error in our request: %s",
			 eb.msg[0] ? eb.msg : "invalid patch");
		kp_rest_status(c->rs, 422, "Invalid", msg);
	}
	return out;
}

static void do_patch(struct reqctx *c, const char *sub)
{
	const char *ct = c->rq->content_type ? c->rq->content_type : "";
	json_t *patch;

	if (strstr(ct, "apply-patch")) {
		kp_rest_status(c->rs, 415, "UnsupportedMediaType", "server-side apply is not supported yet: "
			       "use client-side apply (kubectl apply without --server-side)");
		return;
	}
	if (strstr(ct, "strategic-merge-patch") && !c->res->builtin) {
		kp_rest_status(c->rs, 415, "UnsupportedMediaType",
			       "the body of the request was in an unknown format - accepted media types include: "
			       "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
		return;
	}
	if (!strstr(ct, "application/json-patch+json") && !strstr(ct, "application/merge-patch+json") &&
	    !strstr(ct, "application/strategic-merge-patch+json")) {
		kp_rest_status(c->rs, 415, "UnsupportedMediaType",
			       "the body of the request was in an unknown format - accepted media types include: "
			       "application/json-patch+json, application/merge-patch+json, "
			       "application/strategic-merge-patch+json");
		return;
	}
	patch = body_object(c);
	if (!patch)
		return;
	c->scale_resp = sub && strcmp(sub, "scale") == 0;
	for (int attempt = 0; attempt < MUTATE_RETRIES; attempt++) {
		struct kp_store_key k = key_of(c, c->r.name);
		json_t *old, *base, *result, *nobj;
		int64_t cur = 0, client_rv;
		enum upd_result r;

		if (!load(c, &k, &old, &cur))
			break;
		base = c->scale_resp ? scale_of(c, old) : to_served(c, old);
		result = base ? apply_patch(c, base, patch, ct) : NULL;
		json_decref(base);
		if (!result) {
			json_decref(old);
			break;
		}
		client_rv = rv_of_obj(result);
		if (client_rv == cur)
			client_rv = 0;
		if (c->scale_resp) {
			json_t *spec;
			nobj = to_served(c, old);
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
			err_conflict(c, c->r.name);
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
	const char *cur = jstr(spec, "nodeName");

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

static void do_binding(struct reqctx *c)
{
	json_t *body = body_object(c);
	struct bind_ctx b = { 0 };
	struct kp_errbuf eb = { 0 };
	struct kp_store_key k = key_of(c, c->r.name);
	enum kp_store_rc rc;

	if (!body)
		return;
	b.node = jstr(json_object_get(body, "target"), "name");
	if (!b.node || !*b.node) {
		err_invalid(c, c->r.name, "target.name: Required value", NULL);
		json_decref(body);
		return;
	}
	rc = c->dry_run ? KP_STORE_OK : kp_local_mutate(c->L, &k, bind_fn, &b, &eb);
	if (rc == KP_STORE_FAIL && b.have[0]) {
		char msg[700];
		snprintf(msg, sizeof(msg), "Operation cannot be fulfilled on pods/binding \"%s\": pod %s is already "
			 "assigned to node \"%s\"", c->r.name, c->r.name, b.have);
		status_details(c->rs, 409, "Conflict", msg, c->r.name, "", "pods/binding");
	} else if (rc) {
		err_store(c, rc, c->r.name, &eb);
	} else {
		kp_rest_status(c->rs, 201, NULL, "");
	}
	json_decref(body);
}

/* --------------------------------------------------------------- delete */

/* gracePeriodSeconds of DeleteOptions o (or the query): -1 when absent;
 * a negative value means 1, as in the API server. */
static int64_t grace_option(struct reqctx *c, const json_t *o)
{
	const json_t *g = json_object_get(o, "gracePeriodSeconds");
	const char *q = arg(c->rq, "gracePeriodSeconds");
	int64_t v = -1;

	if (json_is_integer(g))
		v = json_integer_value(g);
	else if (!q || !*q || kp_parse_i64(q, &v))
		return -1;
	return v < 0 ? 1 : v;
}

static bool delete_options(struct reqctx *c, enum kp_propagation *prop, int64_t *rv, const char **uid,
			   int64_t *grace, json_t **opts)
{
	const char *p = arg(c->rq, "propagationPolicy");
	json_t *o = NULL;

	*prop = KP_PROP_BACKGROUND;
	*rv = 0;
	*uid = NULL;
	*opts = NULL;
	*grace = grace_option(c, NULL);
	if (c->rq->body_len > 0 && !(c->rq->content_type && strstr(c->rq->content_type, "protobuf"))) {
		o = json_loadb(c->rq->body, c->rq->body_len, 0, NULL);
		if (!json_is_object(o)) {
			json_decref(o);
			kp_rest_status(c->rs, 400, "BadRequest", "the body of the request could not be decoded as DeleteOptions");
			return false;
		}
		if (jstr(o, "propagationPolicy"))
			p = jstr(o, "propagationPolicy");
		else if (json_is_true(json_object_get(o, "orphanDependents")))
			p = "Orphan";
		if (json_is_array(json_object_get(o, "dryRun")) && json_array_size(json_object_get(o, "dryRun")))
			c->dry_run = true;
		json_t *pre = json_object_get(o, "preconditions");
		*uid = jstr(pre, "uid");
		if (jstr(pre, "resourceVersion") && kp_parse_i64(jstr(pre, "resourceVersion"), rv))
			*rv = -1;
		if (json_object_get(o, "gracePeriodSeconds"))
			*grace = grace_option(c, o);
		*opts = o;
	}
	if (p && strcmp(p, "Foreground") == 0)
		*prop = KP_PROP_FOREGROUND;
	else if (p && strcmp(p, "Orphan") == 0)
		*prop = KP_PROP_ORPHAN;
	else if (p && *p && strcmp(p, "Background") != 0) {
		char msg[300];
		snprintf(msg, sizeof(msg), "propagationPolicy: Unsupported value: \"%s\"", p);
		json_decref(o);
		*opts = NULL;
		err_invalid(c, c->r.name ? c->r.name : "", msg, NULL);
		return false;
	}
	return true;
}

static void do_delete(struct reqctx *c)
{
	struct kp_store_key k = key_of(c, c->r.name);
	struct kp_errbuf eb = { 0 };
	enum kp_propagation prop;
	enum kp_store_rc rc;
	const char *uid;
	json_t *opts, *out = NULL;
	int64_t rv, grace;

	if (!delete_options(c, &prop, &rv, &uid, &grace, &opts))
		return;
	if (c->dry_run) {
		json_t *obj;
		int64_t cur;
		if (load(c, &k, &obj, &cur)) {
			respond_object(c, 200, obj);
			json_decref(obj);
		}
		json_decref(opts);
		return;
	}
	rc = kp_local_delete_grace(c->L, &k, prop, grace, rv, uid, &out, NULL, &eb);
	json_decref(opts);
	if (rc) {
		err_store(c, rc, c->r.name, &eb);
		return;
	}
	if (is_crd(c->r.group, c->r.plural) && !json_object_get(json_object_get(out, "metadata"), "deletionTimestamp"))
		c->crd_remove = strdup(c->r.name);
	respond_object(c, 200, out);
	json_decref(out);
}

static void do_deletecollection(struct reqctx *c)
{
	struct list_ctx lc = { .c = c, .parse = true };
	struct kp_errbuf eb = { 0 };
	enum kp_propagation prop;
	const char *uid;
	json_t *opts, *deleted, *item;
	enum kp_store_rc rc;
	int64_t rv, lrv = 0, grace;
	size_t i;

	if (!parse_selectors(c, &lc.ls, &lc.fs))
		return;
	if (!delete_options(c, &prop, &rv, &uid, &grace, &opts))
		return;
	json_decref(opts);
	lc.items = json_array();
	kp_buf_init(&lc.out, LIST_MAX);
	rc = kp_store_list(c->L->store, c->r.group, c->r.plural, c->res->namespaced ? c->r.ns : NULL, list_fn, &lc,
			   &lrv, &eb);
	kp_buf_free(&lc.out);
	if (rc) {
		json_decref(lc.items);
		err_store(c, rc, "", &eb);
		return;
	}
	deleted = json_array();
	json_array_foreach(lc.items, i, item) {
		const json_t *md = json_object_get(item, "metadata");
		struct kp_store_key k = { c->r.group, c->r.plural, jstr(md, "namespace") ? jstr(md, "namespace") : "",
					  jstr(md, "name") };
		json_t *out = NULL;
		if (!k.name)
			continue;
		if (c->dry_run) {
			json_array_append(deleted, item);
			continue;
		}
		if (kp_local_delete_grace(c->L, &k, prop, grace, 0, NULL, &out, NULL, &eb) == KP_STORE_OK && out) {
			json_t *served = to_served(c, out);
			if (served)
				json_array_append_new(deleted, served);
			if (is_crd(c->r.group, c->r.plural) && !c->crd_remove)
				c->crd_remove = strdup(k.name);
		}
		json_decref(out);
	}
	json_decref(lc.items);
	resp_json(c->rs, 200, json_pack("{s:s, s:s, s:{}, s:o}", "kind", c->res->list_kind, "apiVersion", c->r.gv,
					"metadata", "items", deleted), CT_JSON);
}

/* ------------------------------------------------------------- eviction */

/*
 * POST pods/NAME/eviction, after k8s pkg/registry/core/pod/storage/
 * eviction.go:
 *  - the body is an Eviction (policy/v1 or v1beta1; an empty body is taken
 *    as one without options) whose metadata.name, when given, must be the
 *    URL's; its deleteOptions (gracePeriodSeconds, preconditions uid and
 *    resourceVersion, dryRun) apply to the deletion;
 *  - a pod that is Pending, Succeeded, Failed or already terminating is
 *    deleted without looking at budgets;
 *  - otherwise kp_pdb_evict_check (ctl_pdb.c) decides: more than one
 *    budget -> 500; one whose status predates its generation -> 429 (retry
 *    after 10 s); disruptionsAllowed 0 -> 429 TooManyRequests with a
 *    DisruptionBudget cause; negative or too many unconfirmed evictions ->
 *    403; else the budget is decremented and the pod recorded in its
 *    disruptedPods (an unready pod goes without a decrement when the
 *    budget is satisfied or its unhealthyPodEvictionPolicy is AlwaysAllow);
 *  - the pod gets the DisruptionTarget condition (EvictionByEvictionAPI;
 *    a failed precondition answers 409 here) and is deleted gracefully
 *    (kp_local_delete_grace); the answer is a 201 Status Success.
 */
struct evict_ud {
	const char *uid, *rv;     /* preconditions, may be NULL */
	char msg[700];
};

static int disruption_fn(void *ud, json_t *pod)
{
	struct evict_ud *e = ud;
	const char *uid = meta_str(pod, "uid"), *rv = meta_str(pod, "resourceVersion");
	json_t *st, *conds, *c = NULL, *x;
	char ts[40];
	size_t i;

	if (e->uid && *e->uid && (!uid || strcmp(uid, e->uid) != 0)) {
		snprintf(e->msg, sizeof(e->msg), "the UID in the precondition (%s) does not match the UID in record (%s). "
			 "The object might have been deleted and then recreated", e->uid, uid ? uid : "");
		return -1;
	}
	if (e->rv && *e->rv && (!rv || strcmp(rv, e->rv) != 0)) {
		snprintf(e->msg, sizeof(e->msg), "the ResourceVersion in the precondition (%s) does not match the "
			 "ResourceVersion in record (%s). The object might have been modified", e->rv, rv ? rv : "");
		return -1;
	}
	st = json_object_get(pod, "status");
	if (!json_is_object(st)) {
		st = json_object();
		json_object_set_new(pod, "status", st);
	}
	conds = json_object_get(st, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(st, "conditions", conds);
	}
	json_array_foreach(conds, i, x)
		if (jstr(x, "type") && !strcmp(jstr(x, "type"), "DisruptionTarget"))
			c = x;
	if (c && jstr(c, "status") && !strcmp(jstr(c, "status"), "True") && jstr(c, "reason") &&
	    !strcmp(jstr(c, "reason"), "EvictionByEvictionAPI"))
		return 1;
	if (!c) {
		c = json_object();
		json_array_append_new(conds, c);
	}
	now_rfc3339(ts, sizeof(ts));
	json_object_set_new(c, "type", json_string("DisruptionTarget"));
	json_object_set_new(c, "status", json_string("True"));
	json_object_set_new(c, "lastProbeTime", json_null());
	json_object_set_new(c, "lastTransitionTime", json_string(ts));
	json_object_set_new(c, "reason", json_string("EvictionByEvictionAPI"));
	json_object_set_new(c, "message", json_string("Eviction API: evicting"));
	return 0;
}

static void evict_refused(struct reqctx *c, enum kp_pdb_verdict v, const char *pdb, const char *msg)
{
	json_t *st;
	char m[1000];

	switch (v) {
	case KP_PDB_MULTI:
		st = status_obj(500, NULL, msg);
		json_object_del(st, "reason");
		resp_json(c->rs, 500, st, CT_JSON);
		return;
	case KP_PDB_FORBIDDEN:
		snprintf(m, sizeof(m), "poddisruptionbudget.policy \"%s\" is forbidden: %s", pdb, msg);
		status_details(c->rs, 403, "Forbidden", m, pdb, "policy", "poddisruptionbudget");
		return;
	default:
		st = status_obj(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.");
		json_object_set_new(st, "details", json_pack("{s:[{s:s, s:s}]}", "causes", "reason", "DisruptionBudget",
							     "message", msg));
		if (v == KP_PDB_STALE)
			json_object_set_new(json_object_get(st, "details"), "retryAfterSeconds", json_integer(10));
		resp_json(c->rs, 429, st, CT_JSON);
		return;
	}
}

static void do_eviction(struct reqctx *c)
{
	struct kp_store_key k = key_of(c, c->r.name);
	struct kp_errbuf eb = { 0 };
	struct evict_ud e = { 0 };
	json_t *body = NULL, *opts, *pod;
	const char *phase, *nm;
	enum kp_store_rc rc;
	int64_t rv, grace;
	char pdb[256] = "", msg[600] = "";

	if (c->rq->body_len > 0 && !(body = body_object(c)))
		return;
	nm = meta_str(body, "name");
	if (nm && *nm && strcmp(nm, c->r.name) != 0) {
		kp_rest_status(c->rs, 400, "BadRequest", "name in URL does not match name in Eviction object");
		json_decref(body);
		return;
	}
	opts = json_object_get(body, "deleteOptions");
	if (json_is_array(json_object_get(opts, "dryRun")) && json_array_size(json_object_get(opts, "dryRun")))
		c->dry_run = true;
	e.uid = jstr(json_object_get(opts, "preconditions"), "uid");
	e.rv = jstr(json_object_get(opts, "preconditions"), "resourceVersion");
	grace = json_object_get(opts, "gracePeriodSeconds") ? grace_option(c, opts) : -1;
	if (!load(c, &k, &pod, &rv)) {
		json_decref(body);
		return;
	}
	phase = jstr(json_object_get(pod, "status"), "phase");
	if (!(!phase || !strcmp(phase, "Pending") || !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed") ||
	      json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp"))) {
		enum kp_pdb_verdict v = kp_pdb_evict_check(c->L, pod, c->dry_run, pdb, sizeof(pdb), msg, sizeof(msg), &eb);
		if (v == KP_PDB_FAIL) {
			kp_rest_status(c->rs, 500, "InternalError", eb.msg[0] ? eb.msg : "cannot read the disruption budgets");
			goto out;
		}
		if (v != KP_PDB_ALLOW) {
			evict_refused(c, v, pdb, msg);
			goto out;
		}
	}
	if (!c->dry_run) {
		rc = kp_local_mutate(c->L, &k, disruption_fn, &e, &eb);
		if (rc == KP_STORE_FAIL && e.msg[0]) {
			char m[900];
			snprintf(m, sizeof(m), "Operation cannot be fulfilled on Pod \"%s\": %s", c->r.name, e.msg);
			status_details(c->rs, 409, "Conflict", m, c->r.name, NULL, "Pod");
			goto out;
		}
		if (!rc)
			rc = kp_local_delete_grace(c->L, &k, KP_PROP_BACKGROUND, grace, 0, e.uid && *e.uid ? e.uid : NULL,
						   NULL, NULL, &eb);
		if (rc) {
			err_store(c, rc, c->r.name, &eb);
			goto out;
		}
	}
	kp_rest_status(c->rs, 201, NULL, "");
out:
	json_decref(pod);
	json_decref(body);
}

/* ------------------------------------------------------------ discovery */

static void not_found_path(struct kp_http_resp *rs)
{
	kp_rest_status(rs, 404, "NotFound", "the server could not find the requested resource");
}

static void respond_doc(struct kp_http_resp *rs, json_t *doc, const char *ct)
{
	if (!doc)
		not_found_path(rs);
	else
		resp_json(rs, 200, doc, ct);
}

static void do_group(struct kp_local *L, const char *group, struct kp_http_resp *rs)
{
	json_t *groups = kp_apireg_groups(L->reg), *g, *found = NULL;
	size_t i;

	json_array_foreach(json_object_get(groups, "groups"), i, g)
		if (jstr(g, "name") && strcmp(jstr(g, "name"), group) == 0)
			found = json_incref(g);
	json_decref(groups);
	if (!found) {
		not_found_path(rs);
		return;
	}
	json_object_set_new(found, "kind", json_string("APIGroup"));
	json_object_set_new(found, "apiVersion", json_string("v1"));
	resp_json(rs, 200, found, CT_JSON);
}

static void do_version(struct kp_http_resp *rs)
{
	resp_json(rs, 200, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor", "32",
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
static bool parse_rest(struct route *r, char **s, int n)
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

/* GET pods/NAME/log: the log file ctl_log.c keeps for the pod (empty for
 * pods without one); tailLines, limitBytes, follow. */
static void do_log(struct reqctx *c)
{
	const char *t = arg(c->rq, "tailLines"), *lb = arg(c->rq, "limitBytes");
	int64_t tail = -1, limit = 0, end = 0;
	struct kp_errbuf eb = { 0 };
	char *text = NULL;
	size_t len = 0;

	if ((t && *t && (kp_parse_i64(t, &tail) || tail < 0)) || (lb && *lb && (kp_parse_i64(lb, &limit) || limit <= 0))) {
		kp_rest_status(c->rs, 400, "BadRequest", "tailLines and limitBytes must be positive integers");
		return;
	}
	if (kp_ctl_log_read(c->L, c->r.ns, c->r.name, tail, limit, &text, &len, &end, &eb)) {
		kp_rest_status(c->rs, 500, "InternalError", eb.msg);
		return;
	}
	if (!truthy(arg(c->rq, "follow"))) {
		c->rs->status = 200;
		c->rs->body = text;
		c->rs->len = len;
		c->rs->content_type = CT_TEXT;
		return;
	}
	struct kp_watch_stream *s = calloc(1, sizeof(*s));
	if (!s || !(s->follow = kp_ctl_log_follow_open(c->L, c->r.ns, c->r.name, end))) {
		free(s);
		free(text);
		kp_rest_status(c->rs, 500, "InternalError", "out of memory");
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

static void dispatch(struct reqctx *c)
{
	const char *m = c->rq->method;
	struct route *r = &c->r;
	bool get = strcmp(m, "GET") == 0;

	c->res = kp_apireg_find(c->L->reg, r->group, r->version, r->plural);
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
	if (arg(c->rq, "dryRun") && *arg(c->rq, "dryRun"))
		c->dry_run = true;
	if (r->watch_path || (get && !r->name && truthy(arg(c->rq, "watch")))) {
		if (!get || r->name) {
			kp_rest_status(c->rs, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
			return;
		}
		do_watch(c);
		return;
	}
	if (get) {
		if (!r->name)
			do_list(c);
		else if (r->sub && strcmp(r->sub, "log") == 0) {
			struct kp_store_key k = key_of(c, r->name);
			json_t *o;
			int64_t rv;
			if (load(c, &k, &o, &rv)) {
				json_decref(o);
				do_log(c);
			}
		} else if (r->sub && strcmp(r->sub, "scale") == 0) {
			c->scale_resp = true;
			do_get(c);
		} else
			do_get(c);
	} else if (strcmp(m, "POST") == 0) {
		if (!r->name)
			do_create(c);
		else if (r->sub && strcmp(r->sub, "binding") == 0)
			do_binding(c);
		else if (r->sub && strcmp(r->sub, "eviction") == 0)
			do_eviction(c);
		else
			kp_rest_status(c->rs, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
	} else if (strcmp(m, "PUT") == 0 && r->name) {
		do_update(c, r->sub);
	} else if (strcmp(m, "PATCH") == 0 && r->name) {
		do_patch(c, r->sub);
	} else if (strcmp(m, "DELETE") == 0 && !r->sub) {
		if (r->name)
			do_delete(c);
		else
			do_deletecollection(c);
	} else {
		kp_rest_status(c->rs, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
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
	const char *ns = meta_str(o, "namespace"), *name = meta_str(o, "name");

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
static void drop_custom_resources(struct kp_local *L, const char *crd_name)
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

static void api_request(struct kp_local *L, const struct kp_http_req *rq, struct kp_http_resp *rs, char **s, int n)
{
	bool core = strcmp(s[0], "api") == 0;
	bool get = strcmp(rq->method, "GET") == 0;
	struct reqctx c = { .L = L, .rq = rq, .rs = rs };

	if (core && n == 1 && get) {
		json_t *agg = accept_has(rq, "as=APIGroupDiscoveryList") ? kp_apireg_aggregated(L->reg, true) : NULL;
		if (agg)
			resp_json(rs, 200, agg, CT_AGG);
		else
			respond_doc(rs, kp_apireg_core_versions(L->reg), CT_JSON);
		return;
	}
	if (!core && n == 1 && get) {
		json_t *agg = accept_has(rq, "as=APIGroupDiscoveryList") ? kp_apireg_aggregated(L->reg, false) : NULL;
		if (agg)
			resp_json(rs, 200, agg, CT_AGG);
		else
			respond_doc(rs, kp_apireg_groups(L->reg), CT_JSON);
		return;
	}
	if (!core && n == 2 && get) {
		do_group(L, s[1], rs);
		return;
	}
	if ((core && n == 2) || (!core && n == 3)) {
		if (!get) {
			kp_rest_status(rs, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
			return;
		}
		respond_doc(rs, kp_apireg_resource_list(L->reg, core ? "" : s[1], core ? s[1] : s[2]), CT_JSON);
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
	if (c.crd_add || c.crd_remove) {
		struct kp_errbuf eb = { 0 };
		pthread_rwlock_unlock(&L->reg_lock);
		pthread_rwlock_wrlock(&L->reg_lock);
		if (c.crd_add && kp_apireg_add_crd(L->reg, c.crd_add, &eb))
			fprintf(stderr, "karpenter up: register CRD: %s\n", eb.msg);
		if (c.crd_remove)
			kp_apireg_remove_crd(L->reg, c.crd_remove);
		json_decref(c.crd_add);
		if (c.crd_remove)
			drop_custom_resources(L, c.crd_remove);
		free(c.crd_remove);
	}
}

void kp_rest_handle(struct kp_local *L, const struct kp_http_req *rq, struct kp_http_resp *rs)
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
	if (strcmp(segs[0], "openapi") == 0 && n >= 2 && strcmp(segs[1], "v3") == 0) {
		char gvp[512];
		pthread_rwlock_rdlock(&L->reg_lock);
		if (n == 2) {
			respond_doc(rs, kp_apireg_openapi_index(L->reg), CT_JSON);
		} else {
			const char *p = strstr(rq->path, "/openapi/v3/");
			snprintf(gvp, sizeof(gvp), "%s", p ? p + strlen("/openapi/v3/") : "");
			respond_doc(rs, kp_apireg_openapi_doc(L->reg, gvp), CT_JSON);
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
