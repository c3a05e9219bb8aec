/*
 * informer.c - a list+watch cache of one resource, as client-go's reflector
 * and indexer: list (paged), then watch from the list's resourceVersion with
 * bookmarks; a watch that ends normally (timeoutSeconds) is resumed from the
 * last resourceVersion seen; 410 Gone (HTTP or an ERROR event) relists; any
 * other failure waits a jittered exponential backoff (800 ms doubling to
 * 30 s, reset after a clean watch) and resumes, relisting when there is no
 * resourceVersion to resume from.
 *
 * Store: a jansson object from key ("ns/name", or "name" when
 * cluster-scoped) to the object (one reference held by the store).
 * A relist replaces the store and reports the difference: add for new keys,
 * update for objects whose resourceVersion changed, delete for keys that
 * vanished, in key order. Handlers run on the loop's thread.
 * Cost: list O(n log n) for the sorted diff; each watch event O(1) average
 * (hash lookup); kp_informer_list O(n log n).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_int.h"

struct kp_informer {
	struct kp_kube_loop *l;
	char group[128], version[32], resource[128];
	struct kp_kube_res res;
	char *ns, *label_selector, *field_selector;
	int64_t page_size;
	int watch_timeout_s;
	struct kp_informer_handlers h;
	void *ud;
	json_t *store;
	struct kp_watch *w;
	struct kp_kube_timer timer;
	struct kp_backoff bo;
	uint64_t rng;
	char rv[128];
	bool synced;
	struct kp_informer_stats stats;
};

static void do_list(void *ud);
static void do_watch(void *ud);

static kp_err obj_key(json_t *obj, char *buf, size_t n)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	int w;

	if (!name || !*name)
		return KP_ERR_INVALID;
	w = ns && *ns ? snprintf(buf, n, "%s/%s", ns, name) : snprintf(buf, n, "%s", name);
	return w < 0 || (size_t)w >= n ? KP_ERR_RANGE : KP_OK;
}

static const char *obj_rv(json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static char *dup_opt(const char *s, bool *ok)
{
	return s && *s ? kp_kube__strdup(s, ok) : NULL;
}

kp_err kp_informer_new(struct kp_kube_loop *l, const struct kp_kube_res *r, const struct kp_informer_opts *o,
		       const struct kp_informer_handlers *h, void *ud, struct kp_informer **out,
		       struct kp_errbuf *eb)
{
	struct kp_informer_opts def = { 0 };
	struct kp_informer *inf;
	bool ok = true;

	*out = NULL;
	if (!o)
		o = &def;
	if (strlen(r->group) >= 128 || strlen(r->version) >= 32 || strlen(r->resource) >= 128)
		return kp_errf(eb, KP_ERR_RANGE, "informer: resource name too long");
	inf = calloc(1, sizeof(*inf));
	if (!inf)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	inf->l = l;
	memcpy(inf->group, r->group, strlen(r->group) + 1);
	memcpy(inf->version, r->version, strlen(r->version) + 1);
	memcpy(inf->resource, r->resource, strlen(r->resource) + 1);
	inf->res.group = inf->group;
	inf->res.version = inf->version;
	inf->res.resource = inf->resource;
	inf->res.namespaced = r->namespaced;
	inf->ns = dup_opt(o->ns, &ok);
	inf->label_selector = dup_opt(o->label_selector, &ok);
	inf->field_selector = dup_opt(o->field_selector, &ok);
	inf->page_size = o->page_size;
	inf->watch_timeout_s = o->watch_timeout_s;
	if (h)
		inf->h = *h;
	inf->ud = ud;
	inf->rng = o->seed ? o->seed : (uint64_t)kp_kube_now_mono(NULL) * 2654435761u + (uintptr_t)inf;
	kp_backoff_init(&inf->bo, o->backoff_base_ms > 0 ? o->backoff_base_ms : 800,
			o->backoff_max_ms > 0 ? o->backoff_max_ms : 30000, 0.5, inf->rng ^ 0x5bd1e995u);
	inf->store = json_object();
	if (!ok || !inf->store) {
		kp_informer_free(inf);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	*out = inf;
	return KP_OK;
}

void kp_informer_start(struct kp_informer *inf)
{
	kp_kube_timer_start(inf->l, &inf->timer, 0, do_list, inf);
}

void kp_informer_free(struct kp_informer *inf)
{
	if (!inf)
		return;
	kp_watch_stop(inf->w);
	kp_kube_timer_stop(inf->l, &inf->timer);
	json_decref(inf->store);
	free(inf->ns);
	free(inf->label_selector);
	free(inf->field_selector);
	free(inf);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted array of the keys of obj (borrowed strings); caller frees the array. */
static const char **sorted_keys(json_t *obj, size_t *n)
{
	const char **k = malloc((json_object_size(obj) + 1) * sizeof(*k));
	const char *key;
	json_t *v;
	size_t i = 0;

	if (!k)
		return NULL;
	json_object_foreach(obj, key, v) {
		(void)v;
		k[i++] = key;
	}
	qsort(k, i, sizeof(*k), cmp_str);
	*n = i;
	return k;
}

static void schedule(struct kp_informer *inf, kp_kube_timer_fn fn, bool backoff)
{
	kp_kube_timer_start(inf->l, &inf->timer, backoff ? kp_backoff_next(&inf->bo) : 0, fn, inf);
}

static void do_list(void *ud)
{
	struct kp_informer *inf = ud;
	struct kp_kube_list_opts lo = { inf->label_selector, inf->field_selector, inf->page_size, 0 };
	struct kp_errbuf eb = { 0 };
	json_t *list = NULL, *fresh, *items, *it;
	const char **keys = NULL;
	const char *rv;
	size_t i, n = 0;
	char key[512];

	inf->stats.lists++;
	if (kp_kube_list(kp_kube_loop_client(inf->l), &inf->res, inf->ns, &lo, &list, NULL, &eb)) {
		inf->stats.errors++;
		schedule(inf, do_list, true);
		return;
	}
	fresh = json_object();
	items = json_object_get(list, "items");
	rv = json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion"));
	json_array_foreach(items, i, it) {
		if (obj_key(it, key, sizeof(key)) == KP_OK)
			json_object_set(fresh, key, it);
	}
	snprintf(inf->rv, sizeof(inf->rv), "%s", rv ? rv : "");
	/* report the difference in key order, then swap stores */
	keys = sorted_keys(fresh, &n);
	for (i = 0; keys && i < n; i++) {
		json_t *nw = json_object_get(fresh, keys[i]);
		json_t *old = json_object_get(inf->store, keys[i]);
		if (!old) {
			if (inf->h.on_add)
				inf->h.on_add(inf->ud, nw);
		} else if (kp_strcmp0(obj_rv(old), obj_rv(nw)) != 0) {
			if (inf->h.on_update)
				inf->h.on_update(inf->ud, old, nw);
		}
	}
	free(keys);
	keys = sorted_keys(inf->store, &n);
	for (i = 0; keys && i < n; i++) {
		if (!json_object_get(fresh, keys[i]) && inf->h.on_delete)
			inf->h.on_delete(inf->ud, json_object_get(inf->store, keys[i]));
	}
	free(keys);
	json_decref(inf->store);
	inf->store = fresh;
	json_decref(list);
	inf->synced = true;
	if (inf->h.on_synced)
		inf->h.on_synced(inf->ud);
	do_watch(inf);
}

static int on_event(void *ud, enum kp_watch_type t, json_t *obj)
{
	struct kp_informer *inf = ud;
	char key[512];
	json_t *old;

	if (inf->w)
		snprintf(inf->rv, sizeof(inf->rv), "%s", kp_watch_rv(inf->w));
	if (t == KP_WATCH_BOOKMARK || obj_key(obj, key, sizeof(key)) != KP_OK)
		return 0;
	old = json_object_get(inf->store, key);
	if (t == KP_WATCH_DELETED) {
		if (!old)
			return 0;
		json_incref(old);
		json_object_del(inf->store, key);
		if (inf->h.on_delete)
			inf->h.on_delete(inf->ud, obj);
		json_decref(old);
		return 0;
	}
	json_incref(old);
	json_object_set(inf->store, key, obj);
	if (old) {
		if (inf->h.on_update)
			inf->h.on_update(inf->ud, old, obj);
	} else if (inf->h.on_add) {
		inf->h.on_add(inf->ud, obj);
	}
	json_decref(old);
	return 0;
}

static void on_done(void *ud, kp_err rc, const struct kp_kube_status *st, const char *msg)
{
	struct kp_informer *inf = ud;

	(void)msg;
	if (inf->w)
		snprintf(inf->rv, sizeof(inf->rv), "%s", kp_watch_rv(inf->w));
	inf->w = NULL;
	if (rc == KP_OK) {
		kp_backoff_reset(&inf->bo);
		schedule(inf, do_watch, false);
	} else if (kp_kube_is_gone(st)) {
		inf->stats.relists_gone++;
		inf->rv[0] = '\0';
		/* a repeated 410 right after a relist backs off */
		schedule(inf, do_list, inf->bo.attempt > 0);
		inf->bo.attempt++;
	} else {
		inf->stats.errors++;
		schedule(inf, inf->rv[0] ? do_watch : do_list, true);
	}
}

static void do_watch(void *ud)
{
	struct kp_informer *inf = ud;
	struct kp_watch_opts wo = { 0 };
	struct kp_errbuf eb = { 0 };

	if (!inf->rv[0]) {
		schedule(inf, do_list, false);
		return;
	}
	wo.ns = inf->ns;
	wo.label_selector = inf->label_selector;
	wo.field_selector = inf->field_selector;
	wo.resource_version = inf->rv;
	wo.bookmarks = true;
	wo.timeout_s = inf->watch_timeout_s > 0 ? inf->watch_timeout_s
						: 300 + (int)(kp_kube_rand01(&inf->rng) * 300.0);
	inf->stats.watches++;
	if (kp_watch_start(inf->l, &inf->res, &wo, on_event, on_done, inf, &inf->w, &eb)) {
		inf->stats.errors++;
		schedule(inf, do_watch, true);
	}
}

bool kp_informer_synced(const struct kp_informer *inf)
{
	return inf->synced;
}

json_t *kp_informer_get(const struct kp_informer *inf, const char *ns, const char *name)
{
	char key[512];
	int w = ns && *ns ? snprintf(key, sizeof(key), "%s/%s", ns, name) : snprintf(key, sizeof(key), "%s", name);
	if (w < 0 || (size_t)w >= sizeof(key))
		return NULL;
	return json_object_get(inf->store, key);
}

kp_err kp_informer_list(const struct kp_informer *inf, const char *ns, json_t ***out, size_t *n,
			struct kp_errbuf *eb)
{
	size_t i, k = 0, nk = 0, nslen = ns ? strlen(ns) : 0;
	const char **keys = sorted_keys(inf->store, &nk);
	json_t **arr;

	*out = NULL;
	*n = 0;
	if (!keys)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	arr = malloc((nk + 1) * sizeof(*arr));
	if (!arr) {
		free(keys);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	for (i = 0; i < nk; i++) {
		if (ns && (strncmp(keys[i], ns, nslen) != 0 || keys[i][nslen] != '/'))
			continue;
		arr[k++] = json_object_get(inf->store, keys[i]);
	}
	free(keys);
	*out = arr;
	*n = k;
	return KP_OK;
}

size_t kp_informer_size(const struct kp_informer *inf)
{
	return json_object_size(inf->store);
}

struct kp_informer_stats kp_informer_stats(const struct kp_informer *inf)
{
	return inf->stats;
}

const char *kp_informer_last_rv(const struct kp_informer *inf)
{
	return inf->rv;
}
