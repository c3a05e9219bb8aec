/*
 * rest_int.h - internals shared by the files of the REST layer: rest.c
 * (routing, request context, responses, errors, discovery), rest_select.c
 * (label and field selectors), rest_read.c (get, list), rest_watch.c (watch
 * streams, pods/log follow), rest_write.c (create, update, patch, scale,
 * binding), rest_delete.c (object life cycle, delete, deletecollection),
 * rest_evict.c (the eviction subresource).
 */
#ifndef KARPENTER_APISERVER_REST_INT_H
#define KARPENTER_APISERVER_REST_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "apiserver/enccache.h"
#include "apiserver/fieldval.h"
#include "apiserver/server.h"
#include "kobj/kobj.h"

#define LIST_MAX ((size_t)1 << 30)
#define MAX_SEGS 12
#define MAX_TERMS 32
#define MAX_VALUES 32
#define MUTATE_RETRIES 16

static const char CT_JSON[] = "application/json";
static const char CT_TABLE[] = "application/json;as=Table;v=v1;g=meta.k8s.io";
static const char CT_AGG[] = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
static const char CT_TEXT[] = "text/plain; charset=utf-8";

enum kp_apiserver__sel_op { SEL_EQ, SEL_NEQ, SEL_IN, SEL_NOTIN, SEL_EXISTS, SEL_NOTEXISTS, SEL_GT, SEL_LT };

struct kp_apiserver__sel_term {
	char *key;
	enum kp_apiserver__sel_op op;
	int nv;
	char *vals[MAX_VALUES];
};

struct kp_apiserver__selector {
	int n;
	struct kp_apiserver__sel_term t[MAX_TERMS];
};

struct kp_apiserver__route {
	const char *group;      /* "" for core */
	const char *version;
	const char *ns;         /* NULL: not a namespaced request */
	const char *plural;
	const char *name;
	const char *sub;
	bool watch_path;
	char gv[256];           /* apiVersion: "v1" or "apps/v1" */
};

struct kp_apiserver__req {
	struct kp_apiserver *L;
	const struct kp_apiserver__http_req *rq;
	struct kp_apiserver__http_resp *rs;
	struct kp_apiserver__route r;
	const struct kp_apiserver__res *res;
	struct kp_arena arena;
	char qname[320];        /* "pods", "nodepools.karpenter.sh" */
	bool dry_run;
	bool scale_resp;        /* answer with the Scale of the object */
	json_t *crd_add;        /* applied to the registry after the read lock is released */
	char *crd_remove;
	enum kp_apiserver__fieldval_mode fv;   /* fieldValidation of a write */
	json_t *warnings;       /* texts for `Warning: 299 -` headers, or NULL */
	char manager[129];      /* field manager of a write */
	bool applying;          /* a server-side apply: managedFields are already set */
};

struct kp_apiserver__watch_stream {
	struct kp_apiserver *L;
	struct kp_store_watch *w;
	char *group, *version, *plural;
	char gv[256], kind[128];
	struct kp_arena arena;
	struct kp_apiserver__selector ls, fs;
	bool table;
	char include[16];
	bool bookmarks;
	int64_t bookmark_every, next_bookmark;
	int64_t deadline;            /* monotonic ms; 0 = none */
	struct kp_buf pend;
	size_t off;
	bool done;                   /* end once pend is flushed */
	struct kp_apiserver_podlog_follow *follow;  /* pods/log?follow=true (podlog.c) instead of a watch */
	struct kp_store_cursor *list;  /* a list streamed object by object (rest_read.c) instead of a watch */
	int64_t listed;                /* objects of that list sent so far */
	struct kp_store_cursor *initial;  /* a watch's initial state, still being sent */
	const struct kp_apiserver__enc *enc;  /* a shared encoding sent after pend (enccache.h), or NULL */
	size_t enc_off;                /* bytes of enc sent */
	const char *enc_tail;          /* static text sent after enc */
	char form[300];                /* a watch's encoding form, part of its encodings' keys */
};

/* Key of the shared encoding of object ns/name at version rv of the
 * stream's resource in the given form (written into key, size n); false
 * if it does not fit. */
bool kp_apiserver__enc_key(char *key, size_t n, const char *group, const char *plural, const char *ns,
			   const char *name, int64_t rv, const char *form);
/* Queues e (a reference the stream now owns) then tail (static text) on
 * s's output after what pend holds: a small encoding is copied into pend
 * and given back at once, a large one is sent from the shared copy. false
 * when out of memory (e is given back). */
bool kp_apiserver__stream_enc(struct kp_apiserver__watch_stream *s, const struct kp_apiserver__enc *e,
			      const char *tail);


enum kp_apiserver__upd_result { UPD_DONE, UPD_RETRY };

struct kp_apiserver__list_ctx {
	struct kp_apiserver__req *c;
	struct kp_apiserver__selector ls, fs;
	bool parse;               /* selectors, conversion or a Table need parsed objects */
	json_t *items;            /* parsed, served objects (Table and deletecollection) */
	struct kp_buf out;
	int n;
	kp_err err;
};

/* ---- shared between the files of this group ---- */
void kp_apiserver__resp_json(struct kp_apiserver__http_resp *rs, int code, json_t *body, const char *ct);

json_t *kp_apiserver__status_obj(int code, const char *reason, const char *message);

void kp_apiserver__status_details(struct kp_apiserver__http_resp *rs, int code, const char *reason, const char *message,
			   const char *name, const char *group, const char *kind);





void kp_apiserver__new_uid(char out[37]);

void kp_apiserver__random_suffix(char out[6]);

int64_t kp_apiserver__mono_ms(void);

bool kp_apiserver__truthy(const char *v);

const char *kp_apiserver__arg(const struct kp_apiserver__http_req *rq, const char *k);

bool kp_apiserver__wants_table(const struct kp_apiserver__http_req *rq);

json_t *kp_apiserver__to_served(struct kp_apiserver__req *c, const json_t *stored);

json_t *kp_apiserver__to_storage(struct kp_apiserver__req *c, json_t *obj);

void kp_apiserver__err_conflict(struct kp_apiserver__req *c, const char *name);

void kp_apiserver__err_exists(struct kp_apiserver__req *c, const char *name);

void kp_apiserver__err_store(struct kp_apiserver__req *c, enum kp_store_rc rc, const char *name, const struct kp_errbuf *eb);

void kp_apiserver__err_invalid(struct kp_apiserver__req *c, const char *name, const char *detail, const json_t *obj);

struct kp_store_key kp_apiserver__key_of(const struct kp_apiserver__req *c, const char *name);

json_t *kp_apiserver__body_object(struct kp_apiserver__req *c);

kp_err kp_apiserver__sel_parse(struct kp_apiserver__selector *sel, struct kp_arena *a, const char *text, bool labels,
			struct kp_errbuf *eb);

/* KP_ERR_INVALID ("field label not supported: X") for a field the resource cannot be selected by;
 * maps an events.k8s.io/v1 Event's labels onto the stored core Event's fields (rewrites fs keys). */
kp_err kp_apiserver__fields_check(struct kp_apiserver__selector *fs, const char *group, const char *plural,
				  struct kp_errbuf *eb);

bool kp_apiserver__labels_match(const struct kp_apiserver__selector *sel, const json_t *obj);

bool kp_apiserver__fields_match(const struct kp_apiserver__selector *sel, const json_t *obj);

const char *kp_apiserver__include_object(const struct kp_apiserver__http_req *rq);

void kp_apiserver__respond_object(struct kp_apiserver__req *c, int code, const json_t *stored);

int kp_apiserver__load_obj(struct kp_apiserver__req *c, const struct kp_store_key *k, json_t **obj, int64_t *rv);

void kp_apiserver__do_get(struct kp_apiserver__req *c);

int kp_apiserver__list_fn(void *ud, const char *json, size_t len, int64_t rv);

bool kp_apiserver__parse_selectors(struct kp_apiserver__req *c, struct kp_apiserver__selector *ls, struct kp_apiserver__selector *fs);

void kp_apiserver__do_list(struct kp_apiserver__req *c);

/* Refills s->pend from a streamed list; false when nothing more (s->done set). */
bool kp_apiserver__list_stream_fill(struct kp_apiserver__watch_stream *s);

void kp_apiserver__do_watch(struct kp_apiserver__req *c);

bool kp_apiserver__is_crd(const char *group, const char *plural);

int64_t kp_apiserver__rv_of_obj(const json_t *obj);

enum kp_store_rc kp_apiserver__write_back(struct kp_apiserver *L, const struct kp_store_key *k, json_t *obj, int64_t rv,
				   bool *deleted, struct kp_errbuf *eb);

int64_t kp_apiserver__grace_option(struct kp_apiserver__req *c, const json_t *o);

void kp_apiserver__do_delete(struct kp_apiserver__req *c);

void kp_apiserver__do_deletecollection(struct kp_apiserver__req *c);

void kp_apiserver__do_create(struct kp_apiserver__req *c);

json_t *kp_apiserver__scale_of(struct kp_apiserver__req *c, const json_t *obj);

void kp_apiserver__do_update(struct kp_apiserver__req *c, const char *sub);

void kp_apiserver__do_patch(struct kp_apiserver__req *c, const char *sub);

void kp_apiserver__do_binding(struct kp_apiserver__req *c);

void kp_apiserver__do_eviction(struct kp_apiserver__req *c);
/* ---- field validation, managedFields, server-side apply (rest_apply.c) ---- */
void kp_apiserver__create_obj(struct kp_apiserver__req *c, json_t *obj);
bool kp_apiserver__check_type(struct kp_apiserver__req *c, json_t *obj);
enum kp_apiserver__upd_result kp_apiserver__finish_update(struct kp_apiserver__req *c, const json_t *old, int64_t cur_rv,
							  json_t *nobj, int64_t client_rv, const char *sub);
bool kp_apiserver__write_opts(struct kp_apiserver__req *c);
bool kp_apiserver__field_check(struct kp_apiserver__req *c, json_t *obj);
int64_t kp_apiserver__rv_checked(struct kp_apiserver__req *c, const json_t *obj, const char *name);
void kp_apiserver__track_fields(struct kp_apiserver__req *c, const json_t *old, json_t *nobj);
/* The same for old and nobj in the storage version: ownership is computed on their served forms. */
void kp_apiserver__track_stored(struct kp_apiserver__req *c, const json_t *old, json_t *nobj);
void kp_apiserver__do_apply(struct kp_apiserver__req *c, const char *sub);
void kp_apiserver__take_warnings(struct kp_apiserver__req *c);

/* ---- one storage for two groups (events.c) ---- */
/* The group whose storage holds the request's resource (the core group for
 * events.k8s.io Events). */
static inline const char *kp_apiserver__store_group(const struct kp_apiserver__req *c)
{
	return c->res && c->res->storage_group ? c->res->storage_group : c->r.group;
}
/* A stored object as served at gv by res (version or group conversion);
 * new reference, NULL when out of memory. */
json_t *kp_apiserver__served_of(struct kp_apiserver *L, const struct kp_apiserver__res *res, const char *gv,
				const json_t *stored);
/* A stored core v1 Event as an events.k8s.io Event of api_version, and back
 * (new references). */
json_t *kp_apiserver__event_from_core(const json_t *core, const char *api_version);
json_t *kp_apiserver__event_to_core(const json_t *ev);
/* The core Event field an events.k8s.io/v1 field selector label names, or
 * NULL if the label is not supported. */
const char *kp_apiserver__event_field(const char *label);
/* Moves the events.k8s.io Events an earlier version stored under their own
 * group into the core Events' storage (at start; failures leave them). */
void kp_apiserver__events_migrate(struct kp_store *st);

#endif
