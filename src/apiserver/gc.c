/*
 * gc.c - garbage collection of the local control plane: ownerReference
 * cascading (Background, Foreground, Orphan) and namespace termination.
 *
 * One thread follows the store's event stream (every resource) from the
 * version current at start:
 *  - an object is DELETED: each dependent (owners index) loses its
 *    reference to it, and is deleted when none of its owners remains;
 *    an owner waiting in foreground deletion whose last dependent went
 *    away loses its foregroundDeletion finalizer (and so is deleted);
 *  - an object carries a deletionTimestamp and the foregroundDeletion
 *    finalizer: its dependents are deleted; with the orphan finalizer: its
 *    dependents lose their reference and the finalizer is removed;
 *  - a new or changed object whose owners are all gone is deleted;
 *  - a namespace with a deletionTimestamp: everything in it is deleted,
 *    then the namespace itself (re-checked every second until empty);
 *  - at start (and after falling behind the event window) dependents of
 *    owners that disappeared meanwhile are collected (store owners index).
 * Invariant: the collector only acts through kp_apiserver_delete/mutate, so
 * finalizers of other controllers are honoured. Cost: per event, a few
 * indexed lookups; per terminating namespace and second, one list per
 * namespaced resource.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver/server.h"

#define MAX_RES 512

struct kp_apiserver__gc {
	struct kp_apiserver *L;
	pthread_t th;
	bool running;
	struct kp_store_watch *w;
};

struct keylist {
	struct kp_store_key *v;
	int n, cap;
};

static int keylist_add(void *ud, const struct kp_store_key *k)
{
	struct keylist *kl = ud;
	if (kl->n == kl->cap) {
		int cap = kl->cap ? kl->cap * 2 : 16;
		struct kp_store_key *v = realloc(kl->v, (size_t)cap * sizeof(*v));
		if (!v)
			return 1;
		kl->v = v;
		kl->cap = cap;
	}
	kl->v[kl->n].group = strdup(k->group);
	kl->v[kl->n].resource = strdup(k->resource);
	kl->v[kl->n].ns = strdup(k->ns);
	kl->v[kl->n].name = strdup(k->name);
	kl->n++;
	return 0;
}

static void keylist_free(struct keylist *kl)
{
	for (int i = 0; i < kl->n; i++)
		kp_store_key_free(&kl->v[i]);
	free(kl->v);
	memset(kl, 0, sizeof(*kl));
}

static const json_t *meta(const json_t *o)
{
	return json_object_get(o, "metadata");
}

static bool has_fin(const json_t *o, const char *f)
{
	const json_t *v;
	size_t i;
	json_array_foreach(json_object_get(meta(o), "finalizers"), i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), f) == 0)
			return true;
	return false;
}

static bool uid_exists(struct kp_apiserver *L, const char *uid)
{
	struct kp_store_key k;
	if (kp_store_find_uid(L->store, uid, &k, NULL) != KP_STORE_OK)
		return false;
	kp_store_key_free(&k);
	return true;
}

struct unref_ctx {
	const char *uid;
};

/* Drops ownerReferences naming uid; returns 1 (no change) if none did. */
static int unref_fn(void *ud, json_t *obj)
{
	struct unref_ctx *u = ud;
	json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
	json_t *keep = json_array(), *r;
	size_t i;
	bool changed = false;

	json_array_foreach(refs, i, r) {
		const char *ru = json_string_value(json_object_get(r, "uid"));
		if (ru && strcmp(ru, u->uid) == 0)
			changed = true;
		else
			json_array_append(keep, r);
	}
	if (!changed) {
		json_decref(keep);
		return 1;
	}
	if (json_array_size(keep))
		json_object_set_new(json_object_get(obj, "metadata"), "ownerReferences", keep);
	else {
		json_decref(keep);
		json_object_del(json_object_get(obj, "metadata"), "ownerReferences");
	}
	return 0;
}

struct unfin_ctx {
	const char *fin;
};

static int unfin_fn(void *ud, json_t *obj)
{
	struct unfin_ctx *u = ud;
	json_t *fins = json_object_get(json_object_get(obj, "metadata"), "finalizers");
	for (size_t i = 0; i < json_array_size(fins); i++) {
		const char *f = json_string_value(json_array_get(fins, i));
		if (f && strcmp(f, u->fin) == 0) {
			json_array_remove(fins, i);
			return 0;
		}
	}
	return 1;
}

/* Does the dependent at k keep any owner other than gone_uid? */
static bool other_owner_alive(struct kp_apiserver *L, const struct kp_store_key *k, const char *gone_uid)
{
	char *text = NULL;
	json_t *o, *r;
	size_t i;
	bool alive = false;

	if (kp_store_get(L->store, k, &text, NULL, NULL) != KP_STORE_OK)
		return false;
	o = json_loads(text, 0, NULL);
	free(text);
	json_array_foreach(json_object_get(meta(o), "ownerReferences"), i, r) {
		const char *u = json_string_value(json_object_get(r, "uid"));
		if (u && strcmp(u, gone_uid) != 0 && uid_exists(L, u))
			alive = true;
	}
	json_decref(o);
	return alive;
}

static void delete_dependents(struct kp_apiserver *L, const char *uid, bool orphan_instead)
{
	struct keylist kl = { 0 };
	struct kp_errbuf eb = { 0 };

	kp_store_dependents(L->store, uid, keylist_add, &kl, &eb);
	for (int i = 0; i < kl.n; i++) {
		struct unref_ctx u = { uid };
		if (orphan_instead || other_owner_alive(L, &kl.v[i], uid))
			kp_apiserver_mutate(L, &kl.v[i], unref_fn, &u, &eb);
		else
			kp_apiserver_delete(L, &kl.v[i], KP_APISERVER_PROP_BACKGROUND, 0, NULL, NULL, &eb);
	}
	keylist_free(&kl);
}

static int count_fn(void *ud, const struct kp_store_key *k)
{
	(void)k;
	(*(int *)ud)++;
	return 1;
}

/* Removes an owner's foregroundDeletion finalizer once no dependent is left. */
static void maybe_finish_foreground(struct kp_apiserver *L, const char *owner_uid)
{
	struct kp_store_key k;
	struct kp_errbuf eb = { 0 };
	int n = 0;
	char *text = NULL;
	json_t *o;

	if (kp_store_find_uid(L->store, owner_uid, &k, NULL) != KP_STORE_OK)
		return;
	if (kp_store_get(L->store, &k, &text, NULL, NULL) == KP_STORE_OK) {
		o = json_loads(text, 0, NULL);
		if (o && json_object_get(meta(o), "deletionTimestamp") && has_fin(o, "foregroundDeletion")) {
			kp_store_dependents(L->store, owner_uid, count_fn, &n, &eb);
			if (n == 0) {
				struct unfin_ctx u = { "foregroundDeletion" };
				kp_apiserver_mutate(L, &k, unfin_fn, &u, &eb);
			}
		}
		json_decref(o);
	}
	free(text);
	kp_store_key_free(&k);
}

/* ---- namespaces ---- */

struct nslist {
	struct kp_apiserver *L;
	struct keylist keys;
	const char *group, *resource;
};

static int ns_obj_fn(void *ud, const char *json, size_t len, int64_t rv)
{
	struct nslist *nl = ud;
	json_t *o = json_loadb(json, len, 0, NULL);
	const char *ns = json_string_value(json_object_get(meta(o), "namespace"));
	const char *name = json_string_value(json_object_get(meta(o), "name"));
	(void)rv;
	if (ns && name) {
		struct kp_store_key k = { nl->group, nl->resource, ns, name };
		keylist_add(&nl->keys, &k);
	}
	json_decref(o);
	return 0;
}

/* Deletes everything in namespace ns; removes the namespace when empty. */
static void clean_namespace(struct kp_apiserver *L, const char *ns)
{
	struct { char *group, *plural; } res[MAX_RES];
	int nres = 0, left = 0;
	struct kp_errbuf eb = { 0 };

	pthread_rwlock_rdlock(&L->reg_lock);
	for (int i = 0; nres < MAX_RES; i++) {
		const struct kp_apiserver__res *r = kp_apiserver__reg_at(L->reg, i);
		bool dup = false;
		if (!r)
			break;
		if (!r->namespaced)
			continue;
		for (int j = 0; j < nres; j++)
			dup = dup || (strcmp(res[j].group, r->group) == 0 && strcmp(res[j].plural, r->plural) == 0);
		if (dup)
			continue;
		res[nres].group = strdup(r->group);
		res[nres].plural = strdup(r->plural);
		if (!res[nres].group || !res[nres].plural) {
			free(res[nres].group);
			free(res[nres].plural);
			break;
		}
		nres++;
	}
	pthread_rwlock_unlock(&L->reg_lock);
	for (int j = 0; j < nres; j++) {
		struct nslist nl = { L, { 0 }, res[j].group, res[j].plural };
		kp_store_list(L->store, res[j].group, res[j].plural, ns, ns_obj_fn, &nl, NULL, &eb);
		for (int i = 0; i < nl.keys.n; i++)
			if (kp_apiserver_delete(L, &nl.keys.v[i], KP_APISERVER_PROP_BACKGROUND, 0, NULL, NULL, &eb) == KP_STORE_OK)
				left++;   /* may linger behind finalizers: re-checked below */
		keylist_free(&nl.keys);
	}
	left = 0;
	for (int j = 0; j < nres; j++) {
		int64_t n = 0;
		kp_store_count(L->store, res[j].group, res[j].plural, ns, &n, &eb);
		left += (int)n;
		free(res[j].group);
		free(res[j].plural);
	}
	if (left == 0) {
		struct kp_store_key k = { "", "namespaces", "", ns };
		kp_store_delete(L->store, &k, 0, NULL, NULL, &eb);
	}
}

struct terms {
	char names[64][254];
	int n;
};

static int term_ns_fn(void *ud, const char *json, size_t len, int64_t rv)
{
	struct terms *t = ud;
	json_t *o;
	(void)rv;
	if (!memmem(json, len, "\"deletionTimestamp\"", 19) || t->n == 64)
		return 0;
	o = json_loadb(json, len, 0, NULL);
	if (json_object_get(meta(o), "deletionTimestamp")) {
		const char *n = json_string_value(json_object_get(meta(o), "name"));
		if (n)
			snprintf(t->names[t->n++], sizeof(t->names[0]), "%s", n);
	}
	json_decref(o);
	return 0;
}

static void sweep_namespaces(struct kp_apiserver *L)
{
	struct terms *t = calloc(1, sizeof(*t));
	if (!t)
		return;
	kp_store_list(L->store, "", "namespaces", NULL, term_ns_fn, t, NULL, NULL);
	for (int i = 0; i < t->n; i++)
		clean_namespace(L, t->names[i]);
	free(t);
}

/* ---- dependents of owners that vanished while nobody collected ---- */

struct uids {
	char **v;
	int n, cap;
};

static int uid_fn(void *ud, const char *uid)
{
	struct uids *u = ud;
	if (u->n == u->cap) {
		int cap = u->cap ? u->cap * 2 : 16;
		char **v = realloc(u->v, (size_t)cap * sizeof(*v));
		if (!v)
			return 1;
		u->v = v;
		u->cap = cap;
	}
	if (!(u->v[u->n] = strdup(uid)))
		return 1;
	u->n++;
	return 0;
}

static void sweep_dangling(struct kp_apiserver *L)
{
	struct uids u = { 0 };
	kp_store_dangling_owners(L->store, uid_fn, &u, NULL);
	for (int i = 0; i < u.n; i++) {
		delete_dependents(L, u.v[i], false);
		free(u.v[i]);
	}
	free(u.v);
}

/* ---- the event loop ---- */

static void on_event(struct kp_apiserver *L, const struct kp_store_event *ev)
{
	json_t *o = json_loadb(ev->json, ev->len, 0, NULL);
	const json_t *md = meta(o), *r;
	const char *uid = json_string_value(json_object_get(md, "uid"));
	size_t i;

	if (!o)
		return;
	if (ev->type == KP_EV_DELETED) {
		if (uid)
			delete_dependents(L, uid, false);
		json_array_foreach(json_object_get(md, "ownerReferences"), i, r) {
			const char *ou = json_string_value(json_object_get(r, "uid"));
			if (ou)
				maybe_finish_foreground(L, ou);
		}
	} else if (json_object_get(md, "deletionTimestamp")) {
		if (!*ev->group && strcmp(ev->resource, "namespaces") == 0) {
			clean_namespace(L, ev->name);
		} else if (uid && has_fin(o, "orphan")) {
			struct kp_store_key k = { ev->group, ev->resource, ev->ns, ev->name };
			struct unfin_ctx u = { "orphan" };
			struct kp_errbuf eb = { 0 };
			delete_dependents(L, uid, true);
			kp_apiserver_mutate(L, &k, unfin_fn, &u, &eb);
		} else if (uid && has_fin(o, "foregroundDeletion")) {
			delete_dependents(L, uid, false);
			maybe_finish_foreground(L, uid);
		}
	} else if (json_array_size(json_object_get(md, "ownerReferences")) > 0) {
		bool any = false;
		json_array_foreach(json_object_get(md, "ownerReferences"), i, r) {
			const char *ou = json_string_value(json_object_get(r, "uid"));
			if (!ou || uid_exists(L, ou))
				any = true;
		}
		if (!any) {
			struct kp_store_key k = { ev->group, ev->resource, ev->ns, ev->name };
			struct kp_errbuf eb = { 0 };
			kp_apiserver_delete(L, &k, KP_APISERVER_PROP_BACKGROUND, 0, uid, NULL, &eb);
		}
	}
	json_decref(o);
}

static void *gc_main(void *arg)
{
	struct kp_apiserver__gc *gc = arg;
	struct kp_apiserver *L = gc->L;
	int64_t ticks = 0;

	sweep_namespaces(L);
	sweep_dangling(L);
	for (;;) {
		struct kp_store_event ev;
		struct kp_errbuf eb = { 0 };
		enum kp_store_rc rc = kp_store_watch_next(gc->w, 1000, &ev, &eb);

		if (rc == KP_STORE_OK) {
			on_event(L, &ev);
		} else if (rc == KP_STORE_TIMEOUT) {
			if (++ticks % 2 == 0)
				sweep_namespaces(L);
		} else if (rc == KP_STORE_GONE) {
			kp_store_watch_close(gc->w);
			gc->w = NULL;
			if (kp_store_watch_open(L->store, NULL, NULL, NULL, kp_store_rv(L->store), &gc->w, &eb))
				break;
			sweep_namespaces(L);
			sweep_dangling(L);
		} else {
			break;   /* closed or failed */
		}
	}
	return NULL;
}

kp_err kp_apiserver__gc_start(struct kp_apiserver *L, struct kp_errbuf *eb)
{
	struct kp_apiserver__gc *gc = calloc(1, sizeof(*gc));

	if (!gc)
		return kp_errf(eb, KP_ERR_NOMEM, "gc: out of memory");
	gc->L = L;
	if (kp_store_watch_open(L->store, NULL, NULL, NULL, kp_store_rv(L->store), &gc->w, eb)) {
		free(gc);
		return KP_ERR_IO;
	}
	if (pthread_create(&gc->th, NULL, gc_main, gc) != 0) {
		kp_store_watch_close(gc->w);
		free(gc);
		return kp_errf(eb, KP_ERR_IO, "gc: cannot start thread");
	}
	gc->running = true;
	L->gc = gc;
	return KP_OK;
}

/* The store must be shut down first (kp_store_shutdown) so the thread wakes. */
void kp_apiserver__gc_stop(struct kp_apiserver *L)
{
	struct kp_apiserver__gc *gc = L ? L->gc : NULL;
	if (!gc)
		return;
	if (gc->running)
		pthread_join(gc->th, NULL);
	kp_store_watch_close(gc->w);
	free(gc);
	L->gc = NULL;
}
