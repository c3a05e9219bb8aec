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
	return res->storage_version && strcmp(res->storage_version, res->version) != 0;
}

/* Parses labelSelector and fieldSelector; answers 400 on error. */
bool kp_apiserver__parse_selectors(struct kp_apiserver__req *c, struct kp_apiserver__selector *ls, struct kp_apiserver__selector *fs)
{
	struct kp_errbuf eb = { 0 };

	if (kp_apiserver__sel_parse(ls, &c->arena, kp_apiserver__arg(c->rq, "labelSelector"), true, &eb) ||
	    kp_apiserver__sel_parse(fs, &c->arena, kp_apiserver__arg(c->rq, "fieldSelector"), false, &eb)) {
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", eb.msg);
		return false;
	}
	return true;
}

void kp_apiserver__do_list(struct kp_apiserver__req *c)
{
	struct kp_apiserver__list_ctx lc = { .c = c };
	struct kp_errbuf eb = { 0 };
	enum kp_store_rc rc;
	bool table = kp_apiserver__wants_table(c->rq);
	int64_t lrv = 0;
	char head[600];

	if (!kp_apiserver__parse_selectors(c, &lc.ls, &lc.fs))
		return;
	lc.parse = lc.ls.n || lc.fs.n || table || needs_conversion(c->res);
	if (table)
		lc.items = json_array();
	kp_buf_init(&lc.out, LIST_MAX);
	rc = kp_store_list(c->L->store, c->r.group, c->r.plural, c->res->namespaced ? c->r.ns : NULL, kp_apiserver__list_fn, &lc,
			   &lrv, &eb);
	if (rc || lc.err) {
		kp_buf_free(&lc.out);
		json_decref(lc.items);
		if (rc)
			kp_apiserver__err_store(c, rc, "", &eb);
		else
			kp_apiserver__rest_status(c->rs, 500, "InternalError", "list too large");
		return;
	}
	if (table) {
		char rvs[32];
		json_t *list, *t;
		snprintf(rvs, sizeof(rvs), "%lld", (long long)lrv);
		list = json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", c->res->list_kind, "apiVersion", c->r.gv,
				 "metadata", "resourceVersion", rvs, "items", lc.items);
		t = kp_apiserver__reg_table(c->L->reg, c->res, list, kp_apiserver__include_object(c->rq));
		kp_buf_free(&lc.out);
		if (t) {
			json_decref(list);
			kp_apiserver__resp_json(c->rs, 200, t, CT_TABLE);
		} else {
			kp_apiserver__resp_json(c->rs, 200, list, CT_JSON);
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
			kp_apiserver__rest_status(c->rs, 500, "InternalError", "list too large");
			return;
		}
		kp_buf_free(&lc.out);
		c->rs->status = 200;
		c->rs->len = all.len;
		c->rs->body = kp_buf_take(&all);
		c->rs->content_type = CT_JSON;
	}
}
