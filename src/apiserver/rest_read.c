/*
 * rest_read.c - get and list: one object or a collection, converted to the
 * requested version, as a Table when negotiated, filtered by selectors.
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

/* ------------------------------------------------------------ get / list */

const char *kp_apiserver__include_object(const struct kp_apiserver__http_req *rq)
{
	const char *v = kp_apiserver__arg(rq, "includeObject");
	return v && *v ? v : "Metadata";
}


void kp_apiserver__respond_object(struct kp_apiserver__req *c, int code, const json_t *stored)
{
	json_t *served = c->scale_resp ? kp_apiserver__scale_of(c, stored) : kp_apiserver__to_served(c, stored);

	if (!served) {
		kp_apiserver__rest_status(c->rs, 500, "InternalError", "cannot encode object");
		return;
	}
	if (!c->scale_resp && kp_apiserver__wants_table(c->rq) && strcmp(c->rq->method, "GET") == 0) {
		json_t *t = kp_apiserver__reg_table(c->L->reg, c->res, served, kp_apiserver__include_object(c->rq));
		if (t) {
			json_decref(served);
			kp_apiserver__resp_json(c->rs, code, t, CT_TABLE);
			return;
		}
	}
	kp_apiserver__resp_json(c->rs, code, served, CT_JSON);
}

/* Loads the stored object at k: 1 found, 0 answered (not found or error). */
int kp_apiserver__load_obj(struct kp_apiserver__req *c, const struct kp_store_key *k, json_t **obj, int64_t *rv)
{
	struct kp_errbuf eb = { 0 };
	char *text = NULL;
	enum kp_store_rc rc = kp_store_get(c->L->store, k, &text, rv, &eb);

	if (rc) {
		kp_apiserver__err_store(c, rc, k->name, &eb);
		return 0;
	}
	*obj = json_loads(text, 0, NULL);
	free(text);
	if (!*obj) {
		kp_apiserver__rest_status(c->rs, 500, "InternalError", "stored object is not valid JSON");
		return 0;
	}
	return 1;
}

void kp_apiserver__do_get(struct kp_apiserver__req *c)
{
	struct kp_store_key k = kp_apiserver__key_of(c, c->r.name);
	json_t *obj;
	int64_t rv;

	if (!kp_apiserver__load_obj(c, &k, &obj, &rv))
		return;
	kp_apiserver__respond_object(c, 200, obj);
	json_decref(obj);
}


int kp_apiserver__list_fn(void *ud, const char *json, size_t len, int64_t rv)
{
	struct kp_apiserver__list_ctx *lc = ud;
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
	if (!kp_apiserver__labels_match(&lc->ls, obj) || !kp_apiserver__fields_match(&lc->fs, obj)) {
		json_decref(obj);
		return 0;
	}
	served = kp_apiserver__to_served(lc->c, obj);
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

static bool needs_conversion(const struct kp_apiserver__res *res)
{
	return res->storage_group || (res->storage_version && strcmp(res->storage_version, res->version) != 0);
}

/* Parses labelSelector and fieldSelector; answers 400 on error. */
bool kp_apiserver__parse_selectors(struct kp_apiserver__req *c, struct kp_apiserver__selector *ls, struct kp_apiserver__selector *fs)
{
	struct kp_errbuf eb = { 0 };

	if (kp_apiserver__sel_parse(ls, &c->arena, kp_apiserver__arg(c->rq, "labelSelector"), true, &eb) ||
	    kp_apiserver__sel_parse(fs, &c->arena, kp_apiserver__arg(c->rq, "fieldSelector"), false, &eb) ||
	    kp_apiserver__fields_check(fs, c->r.group, c->r.plural, &eb)) {
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", eb.msg);
		return false;
	}
	return true;
}

/* ---- limit / continue (paging) ----
 * Mirrors the etcd3 store's list with limit (k8s.io/apiserver
 * pkg/storage/etcd3/store.go GetList, and storage.EncodeContinue /
 * DecodeContinue): the continue token is base64url of
 * {"v":"meta.k8s.io/v1","rv":N,"ns":"...","name":"..."}, the list's version
 * and the last key returned; the next page lists as of N after that key.
 * rv -1 (the token of a 410 answer) lists the current state. */

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64url_encode(const char *in, size_t n)
{
	char *out = malloc(n / 3 * 4 + 5), *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
		*o++ = B64URL[v >> 18 & 63], *o++ = B64URL[v >> 12 & 63], *o++ = B64URL[v >> 6 & 63], *o++ = B64URL[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned char)in[i] << 16 | (i + 1 < n ? (unsigned char)in[i + 1] << 8 : 0);
		*o++ = B64URL[v >> 18 & 63], *o++ = B64URL[v >> 12 & 63];
		if (i + 1 < n)
			*o++ = B64URL[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}

/* Decodes base64url (or standard base64; padding optional); NULL if malformed. */
static char *b64url_decode(const char *in, size_t *len)
{
	size_t n = strlen(in), k = 0;
	char *out = malloc(n / 4 * 3 + 4);
	unsigned acc = 0;
	int bits = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int v;
		char ch = in[i];
		if (ch == '=')
			break;
		if (ch == '+')
			ch = '-';
		else if (ch == '/')
			ch = '_';
		const char *p = ch ? strchr(B64URL, ch) : NULL;
		if (!p) {
			free(out);
			return NULL;
		}
		v = (int)(p - B64URL);
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = (char)(acc >> bits & 0xff);
		}
	}
	out[k] = '\0';
	*len = k;
	return out;
}

static char *continue_encode(int64_t rv, const char *ns, const char *name)
{
	json_t *t = json_pack("{s:s, s:I, s:s, s:s}", "v", "meta.k8s.io/v1", "rv", (json_int_t)rv, "ns", ns, "name",
			      name);
	char *text = t ? json_dumps(t, JSON_COMPACT) : NULL, *out = text ? b64url_encode(text, strlen(text)) : NULL;
	json_decref(t);
	free(text);
	return out;
}

/* 0 and the token's fields (strings in the arena), or -1 if it is not ours. */
static int continue_decode(struct kp_apiserver__req *c, const char *tok, int64_t *rv, const char **ns,
			   const char **name)
{
	size_t n = 0;
	char *text = b64url_decode(tok, &n);
	json_t *j = text ? json_loadb(text, n, 0, NULL) : NULL;
	const char *v = kp_kobj_str(j, "v"), *jns = kp_kobj_str(j, "ns"), *jname = kp_kobj_str(j, "name");
	json_t *jrv = json_object_get(j, "rv");
	int ok = -1;

	free(text);
	if (v && strcmp(v, "meta.k8s.io/v1") == 0 && jns && jname && *jname && json_is_integer(jrv) &&
	    (json_integer_value(jrv) > 0 || json_integer_value(jrv) == -1)) {
		*rv = json_integer_value(jrv);
		*ns = kp_arena_strdup(&c->arena, jns);
		*name = kp_arena_strdup(&c->arena, jname);
		ok = *ns && *name ? 0 : -1;
	}
	json_decref(j);
	return ok;
}

struct page_ctx {
	struct kp_apiserver__list_ctx lc;
	int64_t limit;            /* 0: all */
	int64_t taken;            /* items in the page */
	int64_t remaining;        /* keys after the page (counted only without selectors) */
	bool more;
	bool count_rest;
	char last_ns[256], last_name[256];
};

static int page_fn(void *ud, const char *ns, const char *name, const char *json, size_t len, int64_t rv)
{
	struct page_ctx *pc = ud;
	size_t before;

	if (pc->limit && pc->taken >= pc->limit) {
		pc->more = true;
		pc->remaining++;
		return !pc->count_rest;
	}
	before = (size_t)pc->lc.n + (pc->lc.items ? json_array_size(pc->lc.items) : 0);
	if (kp_apiserver__list_fn(&pc->lc, json, len, rv))
		return 1;
	if ((size_t)pc->lc.n + (pc->lc.items ? json_array_size(pc->lc.items) : 0) != before) {
		pc->taken++;
		snprintf(pc->last_ns, sizeof(pc->last_ns), "%s", ns);
		snprintf(pc->last_name, sizeof(pc->last_name), "%s", name);
	}
	return 0;
}

static const char CONTINUE_EXPIRED[] =
	"The provided continue parameter is too old to display a consistent list result. You can start a new list "
	"without the continue parameter, or use the continue value from the 410 response.";

/* 410 Expired for a continue token whose version is compacted, carrying an
 * inconsistent continue token (the current state, after the same key), as
 * the upstream API server does. */
static void continue_expired(struct kp_apiserver__req *c, const char *ns, const char *name)
{
	json_t *st = kp_apiserver__status_obj(410, "Expired", CONTINUE_EXPIRED);
	char *tok = continue_encode(-1, ns, name);

	if (st && tok)
		json_object_set_new(json_object_get(st, "metadata"), "continue", json_string(tok));
	free(tok);
	kp_apiserver__resp_json(c->rs, 410, st, CT_JSON);
}

/* ---- streamed lists ----
 * A plain list (no limit, selectors, Table or conversion) is written object
 * by object from one store snapshot through libmicrohttpd's callback
 * response (server.c pulls kp_apiserver__rest_stream_read), so the server
 * holds one block of the list at a time, not the whole list. */
#define LIST_STREAM_BLOCK ((size_t)64 * 1024)

/* kp_apiserver__enc_make_fn: the cursor's current object as stored (a
 * plain list serves it unchanged). */
static int make_raw(void *ud, char **text, size_t *len, json_t **view)
{
	struct kp_store_cursor *cur = ud;
	struct kp_errbuf eb = { 0 };
	const char *j;
	size_t n;

	(void)view;
	if (kp_store_cursor_json(cur, &j, &n, &eb))
		return -1;
	*text = malloc(n + 1);
	if (*text) {
		memcpy(*text, j, n);
		(*text)[n] = '\0';
		*len = n;
	}
	kp_store_cursor_release(cur);
	return *text ? 0 : -1;
}

bool kp_apiserver__list_stream_fill(struct kp_apiserver__watch_stream *s)
{
	struct kp_errbuf eb = { 0 };
	char key[2048];

	while (s->list && !s->enc && s->pend.len < LIST_STREAM_BLOCK) {
		const struct kp_apiserver__enc *e = NULL;
		const char *ns, *name;
		int64_t rv;
		enum kp_store_rc rc = kp_store_cursor_next(s->list, &ns, &name, &rv, &eb);
		if (rc == KP_STORE_OK) {
			if (kp_apiserver__enc_key(key, sizeof(key), s->group, s->plural, ns, name, rv, "stored"))
				e = kp_apiserver__enc_get(s->L->enc, key, make_raw, s->list);
			if (!e) {
				rc = KP_STORE_FAIL;
			} else if (s->listed++ && kp_buf_add(&s->pend, ",", 1)) {
				kp_apiserver__enc_put(s->L->enc, e);
				rc = KP_STORE_FAIL;
			} else if (kp_apiserver__stream_enc(s, e, "")) {
				continue;
			} else {
				rc = KP_STORE_FAIL;
			}
		}
		kp_store_cursor_close(s->list);
		s->list = NULL;
		s->done = true;
		/* a failure mid-way ends the body short: the client sees a truncated list, never a partial one */
		if (rc == KP_STORE_NOTFOUND && kp_buf_addstr(&s->pend, "]}") == KP_OK)
			return true;
		s->pend.len = 0;
		s->off = 0;
		return false;
	}
	return s->list != NULL || s->pend.len > 0 || s->enc;
}

/* Answers a plain list as a stream; false (nothing answered) if it cannot start. */
static bool list_stream(struct kp_apiserver__req *c)
{
	struct kp_apiserver__watch_stream *s = calloc(1, sizeof(*s));
	struct kp_errbuf eb = { 0 };
	int64_t lrv = 0;
	char head[1024];

	if (!s)
		return false;
	s->L = c->L;
	kp_arena_init(&s->arena);
	kp_buf_init(&s->pend, LIST_MAX);
	s->group = strdup(c->r.group);
	s->plural = strdup(c->r.plural);
	if (!s->group || !s->plural ||
	    kp_store_cursor_open(c->L->store, kp_apiserver__store_group(c), c->r.plural,
				 c->res->namespaced ? c->r.ns : NULL, &lrv,
				 &s->list, &eb)) {
		kp_apiserver__rest_stream_free(s);
		return false;
	}
	snprintf(head, sizeof(head), "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"},"
		 "\"items\":[", c->res->list_kind, c->r.gv, (long long)lrv);
	if (kp_buf_addstr(&s->pend, head)) {
		kp_apiserver__rest_stream_free(s);
		return false;
	}
	c->rs->status = 200;
	c->rs->content_type = CT_JSON;
	c->rs->stream = s;
	return true;
}

void kp_apiserver__do_list(struct kp_apiserver__req *c)
{
	struct page_ctx pc = { .lc = { .c = c } };
	struct kp_apiserver__list_ctx *lcp = &pc.lc;
	struct kp_errbuf eb = { 0 };
	enum kp_store_rc rc;
	bool table = kp_apiserver__wants_table(c->rq);
	int64_t lrv = 0, at_rv = 0, tok_rv = 0;
	const char *lims = kp_apiserver__arg(c->rq, "limit"), *cont = kp_apiserver__arg(c->rq, "continue");
	const char *rvs = kp_apiserver__arg(c->rq, "resourceVersion");
	const char *match = kp_apiserver__arg(c->rq, "resourceVersionMatch");
	const char *after_ns = NULL, *after_name = NULL;
	char *next = NULL;
	char head[2048];

	if (lims && *lims && (kp_parse_i64(lims, &pc.limit) || pc.limit < 0)) {
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", "limit must be a non-negative integer");
		return;
	}
	if (match && *match && strcmp(match, "Exact") != 0 && strcmp(match, "NotOlderThan") != 0) {
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", "resourceVersionMatch: unsupported value");
		return;
	}
	if (cont && *cont) {
		if (rvs && *rvs) {
			kp_apiserver__rest_status(c->rs, 400, "BadRequest",
						  "specifying resource version is not allowed when using continue");
			return;
		}
		if (continue_decode(c, cont, &tok_rv, &after_ns, &after_name)) {
			kp_apiserver__rest_status(c->rs, 400, "BadRequest", "continue key is not valid");
			return;
		}
		at_rv = tok_rv > 0 ? tok_rv : 0;
	} else if (rvs && *rvs) {
		int64_t v;
		if (kp_parse_i64(rvs, &v) || v < 0) {
			kp_apiserver__rest_status(c->rs, 400, "BadRequest", "invalid resourceVersion");
			return;
		}
		/* Exact, or (upstream's legacy rule) a limit with a non-zero version */
		if (v > 0 && ((match && strcmp(match, "Exact") == 0) || (pc.limit > 0 && !(match && *match))))
			at_rv = v;
	}
	if (!kp_apiserver__parse_selectors(c, &lcp->ls, &lcp->fs))
		return;
	lcp->parse = lcp->ls.n || lcp->fs.n || table || needs_conversion(c->res);
	if (!lcp->parse && !pc.limit && !after_ns && !at_rv && c->rq->streamable && list_stream(c))
		return;
	pc.count_rest = !(lcp->ls.n || lcp->fs.n);
	if (table)
		lcp->items = json_array();
	kp_buf_init(&lcp->out, LIST_MAX);
	rc = kp_store_list_page(c->L->store, kp_apiserver__store_group(c), c->r.plural, c->res->namespaced ? c->r.ns : NULL, at_rv,
				after_ns, after_name, page_fn, &pc, &lrv, &eb);
	if (rc || lcp->err) {
		kp_buf_free(&lcp->out);
		json_decref(lcp->items);
		if (rc == KP_STORE_GONE && tok_rv > 0)
			continue_expired(c, after_ns, after_name);
		else if (rc)
			kp_apiserver__err_store(c, rc, "", &eb);
		else
			kp_apiserver__rest_status(c->rs, 500, "InternalError", "list too large");
		return;
	}
	if (pc.more && !(next = continue_encode(lrv, pc.last_ns, pc.last_name))) {
		kp_buf_free(&lcp->out);
		json_decref(lcp->items);
		kp_apiserver__rest_status(c->rs, 500, "InternalError", "cannot encode the continue token");
		return;
	}
	if (table) {
		char rvs2[32];
		json_t *list, *t, *md;
		snprintf(rvs2, sizeof(rvs2), "%lld", (long long)lrv);
		list = json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", c->res->list_kind, "apiVersion", c->r.gv,
				 "metadata", "resourceVersion", rvs2, "items", lcp->items);
		md = json_object_get(list, "metadata");
		if (next) {
			json_object_set_new(md, "continue", json_string(next));
			if (pc.count_rest)
				json_object_set_new(md, "remainingItemCount", json_integer(pc.remaining));
		}
		free(next);
		t = kp_apiserver__reg_table(c->L->reg, c->res, list, kp_apiserver__include_object(c->rq));
		kp_buf_free(&lcp->out);
		if (t) {
			json_t *rc_ = json_object_get(md, "remainingItemCount");
			if (rc_)
				json_object_set(json_object_get(t, "metadata"), "remainingItemCount", rc_);
			json_decref(list);
			kp_apiserver__resp_json(c->rs, 200, t, CT_TABLE);
		} else {
			kp_apiserver__resp_json(c->rs, 200, list, CT_JSON);
		}
		return;
	}
	if (next && pc.count_rest)
		snprintf(head, sizeof(head), "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\","
			 "\"continue\":\"%s\",\"remainingItemCount\":%lld},\"items\":[", c->res->list_kind, c->r.gv,
			 (long long)lrv, next, (long long)pc.remaining);
	else if (next)
		snprintf(head, sizeof(head), "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\","
			 "\"continue\":\"%s\"},\"items\":[", c->res->list_kind, c->r.gv, (long long)lrv, next);
	else
		snprintf(head, sizeof(head), "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"},"
			 "\"items\":[", c->res->list_kind, c->r.gv, (long long)lrv);
	free(next);
	{
		struct kp_buf all;
		kp_buf_init(&all, LIST_MAX + 1024);
		if (kp_buf_addstr(&all, head) || kp_buf_add(&all, lcp->out.data ? lcp->out.data : "", lcp->out.len) ||
		    kp_buf_addstr(&all, "]}")) {
			kp_buf_free(&all);
			kp_buf_free(&lcp->out);
			kp_apiserver__rest_status(c->rs, 500, "InternalError", "list too large");
			return;
		}
		kp_buf_free(&lcp->out);
		c->rs->status = 200;
		c->rs->len = all.len;
		c->rs->body = kp_buf_take(&all);
		c->rs->content_type = CT_JSON;
	}
}
