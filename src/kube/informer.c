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
 * cluster-scoped) to the object (one reference held by the store), or, for
 * a compact informer, to a JSON string holding the object as compact text
 * (a jansson tree costs about 9 bytes of heap per byte of JSON: every
 * object is a hash table, every string a separate allocation). An optional
 * transform edits every listed item and watch event first, before it is
 * stored or handed to a handler. The list is read page by page and each
 * page is transformed (and, compact, encoded) before the next is fetched,
 * so a relist never holds the whole untransformed list.
 * A relist replaces the store and reports the difference: add for new keys,
 * update for objects whose resourceVersion changed, delete for keys that
 * vanished, in key order. Handlers run on the loop's thread.
 * Compact access: get/list decode into trees kept in a "lent" array that
 * a zero-delay timer empties, i.e. when control returns to the loop (the
 * contract in kube.h); foreach decodes and releases one object at a time.
 * Cost: list O(n log n) for the sorted diff; each watch event O(1) average
 * (hash lookup), plus for compact informers an encode of the new object
 * and a decode of the old one; kp_informer_list O(n log n), plus a decode
 * per object when compact.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_int.h"

#define MAX_ITEMS 1000000   /* as kp_kube_list: a relist holds at most this many objects */

struct kp_informer {
	struct kp_kube_loop *l;
	char group[128], version[32], resource[128];
	struct kp_kube_res res;
	char *ns, *label_selector, *field_selector;
	int64_t page_size;
	int watch_timeout_s;
	struct kp_informer_handlers h;
	void *ud;
	kp_informer_transform_fn transform;
	void *transform_ud;
	bool compact;
	json_t *lent;                   /* compact: trees handed out this turn */
	struct kp_kube_timer lent_timer;
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

/* ---- decoding stored text ----
 * The store's text always comes from json_dumps(JSON_COMPACT): no
 * whitespace, valid UTF-8, escapes only inside strings. This decoder reads
 * exactly that, about three times faster than json_loadb (which validates
 * and lexes character by character); anything else makes it fail and the
 * caller falls back to json_loadb, so the result is always jansson's. */

struct dec {
	const char *p, *end;
	char *buf;                      /* unescaped string scratch */
	size_t cap;
	int depth;
};

static int hex4(const char *p, uint32_t *v)
{
	uint32_t r = 0;

	for (int i = 0; i < 4; i++) {
		char ch = p[i];
		r <<= 4;
		if (ch >= '0' && ch <= '9')
			r |= (uint32_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			r |= (uint32_t)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			r |= (uint32_t)(ch - 'A' + 10);
		else
			return -1;
	}
	*v = r;
	return 0;
}

static size_t put_utf8(char *o, uint32_t c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xC0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xE0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	o[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/* The string whose opening quote was just read: *len bytes at the returned
 * pointer (into the text, or into d->buf when it has escapes); NULL on
 * anything unexpected. */
static const char *dec_str(struct dec *d, size_t *len)
{
	const char *s = d->p, *q = s;
	size_t n = 0;

	while (q < d->end && *q != '"' && *q != '\\')
		q++;
	if (q >= d->end)
		return NULL;
	if (*q == '"') {
		*len = (size_t)(q - s);
		d->p = q + 1;
		return s;
	}
	if ((size_t)(d->end - s) + 1 > d->cap) {   /* unescaping never grows a string */
		char *nb = realloc(d->buf, (size_t)(d->end - s) + 1);
		if (!nb)
			return NULL;
		d->buf = nb;
		d->cap = (size_t)(d->end - s) + 1;
	}
	for (q = s; q < d->end && *q != '"';) {
		uint32_t c, lo;
		if (*q != '\\') {
			d->buf[n++] = *q++;
			continue;
		}
		if (++q >= d->end)
			return NULL;
		switch (*q++) {
		case '"': d->buf[n++] = '"'; break;
		case '\\': d->buf[n++] = '\\'; break;
		case '/': d->buf[n++] = '/'; break;
		case 'b': d->buf[n++] = '\b'; break;
		case 'f': d->buf[n++] = '\f'; break;
		case 'n': d->buf[n++] = '\n'; break;
		case 'r': d->buf[n++] = '\r'; break;
		case 't': d->buf[n++] = '\t'; break;
		case 'u':
			if (d->end - q < 4 || hex4(q, &c))
				return NULL;
			q += 4;
			if (c >= 0xD800 && c <= 0xDBFF) {
				if (d->end - q < 6 || q[0] != '\\' || q[1] != 'u' || hex4(q + 2, &lo) || lo < 0xDC00 ||
				    lo > 0xDFFF)
					return NULL;
				q += 6;
				c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
			} else if (c >= 0xDC00 && c <= 0xDFFF) {
				return NULL;
			}
			n += put_utf8(d->buf + n, c);
			break;
		default:
			return NULL;
		}
	}
	if (q >= d->end)
		return NULL;
	d->p = q + 1;
	*len = n;
	return d->buf;
}

static json_t *dec_number(struct dec *d)
{
	const char *q = d->p;
	char nb[64], *e;
	bool real = false;
	size_t l;

	while (q < d->end && ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.' || *q == 'e' || *q == 'E')) {
		real = real || *q == '.' || *q == 'e' || *q == 'E';
		q++;
	}
	l = (size_t)(q - d->p);
	if (!l || l >= sizeof(nb))
		return NULL;
	memcpy(nb, d->p, l);
	nb[l] = '\0';
	d->p = q;
	errno = 0;
	if (real) {
		double v = strtod(nb, &e);
		return *e || errno ? NULL : json_real(v);
	} else {
		long long v = strtoll(nb, &e, 10);
		return *e || errno ? NULL : json_integer((json_int_t)v);
	}
}

static json_t *dec_value(struct dec *d);

static json_t *dec_object(struct dec *d)
{
	json_t *o = json_object(), *v;
	char kb[256], *key;
	const char *k;
	size_t kl;

	if (!o)
		return NULL;
	if (d->p < d->end && *d->p == '}') {
		d->p++;
		return o;
	}
	for (;;) {
		if (d->p >= d->end || *d->p++ != '"' || !(k = dec_str(d, &kl)) || memchr(k, '\0', kl))
			break;
		key = kl < sizeof(kb) ? kb : malloc(kl + 1);
		if (!key)
			break;
		memcpy(key, k, kl);
		key[kl] = '\0';
		v = d->p < d->end && *d->p++ == ':' ? dec_value(d) : NULL;
		if (!v || json_object_set_new_nocheck(o, key, v)) {
			if (key != kb)
				free(key);
			break;
		}
		if (key != kb)
			free(key);
		if (d->p < d->end && *d->p == ',') {
			d->p++;
			continue;
		}
		if (d->p < d->end && *d->p == '}') {
			d->p++;
			return o;
		}
		break;
	}
	json_decref(o);
	return NULL;
}

static json_t *dec_array(struct dec *d)
{
	json_t *a = json_array(), *v;

	if (!a)
		return NULL;
	if (d->p < d->end && *d->p == ']') {
		d->p++;
		return a;
	}
	for (;;) {
		if (!(v = dec_value(d)) || json_array_append_new(a, v))
			break;
		if (d->p < d->end && *d->p == ',') {
			d->p++;
			continue;
		}
		if (d->p < d->end && *d->p == ']') {
			d->p++;
			return a;
		}
		break;
	}
	json_decref(a);
	return NULL;
}

static json_t *dec_value(struct dec *d)
{
	json_t *r = NULL;
	const char *s;
	size_t l;

	if (d->p >= d->end || d->depth >= 2048)   /* jansson's JSON_PARSER_MAX_DEPTH */
		return NULL;
	d->depth++;
	switch (*d->p) {
	case '{':
		d->p++;
		r = dec_object(d);
		break;
	case '[':
		d->p++;
		r = dec_array(d);
		break;
	case '"':
		d->p++;
		if ((s = dec_str(d, &l)))
			r = json_stringn_nocheck(s, l);
		break;
	case 't':
		if (d->end - d->p >= 4 && memcmp(d->p, "true", 4) == 0) {
			d->p += 4;
			r = json_true();
		}
		break;
	case 'f':
		if (d->end - d->p >= 5 && memcmp(d->p, "false", 5) == 0) {
			d->p += 5;
			r = json_false();
		}
		break;
	case 'n':
		if (d->end - d->p >= 4 && memcmp(d->p, "null", 4) == 0) {
			d->p += 4;
			r = json_null();
		}
		break;
	default:
		r = dec_number(d);
		break;
	}
	d->depth--;
	return r;
}

/* New reference to the value in text[0..n), or NULL. */
static json_t *decode_text(const char *text, size_t n)
{
	struct dec d = { text, text + n, NULL, 0, 0 };
	json_t *r = dec_value(&d);

	free(d.buf);
	if (r && d.p != d.end) {
		json_decref(r);
		r = NULL;
	}
	return r ? r : json_loadb(text, n, JSON_ALLOW_NUL, NULL);
}

/* ---- stored values: the object itself, or (compact) its JSON text ---- */

/* New reference to what the store keeps for obj; NULL when out of memory. */
static json_t *store_val(struct kp_informer *inf, json_t *obj)
{
	char *text;
	json_t *v;
	size_t len;

	if (!inf->compact)
		return json_incref(obj);
	text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return NULL;
	len = strlen(text);
	v = json_stringn_nocheck(text, len);
	free(text);
	if (v)
		inf->stats.stored_bytes += len;
	return v;
}

/* Accounts for stored value v leaving the store. */
static void unstore(struct kp_informer *inf, json_t *v)
{
	if (inf->compact && v)
		inf->stats.stored_bytes -= json_string_length(v);
}

/* New reference to the object a stored value holds; NULL when out of memory. */
static json_t *load_val(const struct kp_informer *inf, json_t *v)
{
	if (!inf->compact)
		return json_incref(v);
	return decode_text(json_string_value(v), json_string_length(v));
}

static void release_lent(void *ud)
{
	struct kp_informer *inf = ud;
	json_array_clear(inf->lent);
}

/* Borrowed object for stored value v (NULL: NULL): compact informers decode
 * it and keep the tree until control returns to the loop. NULL when out of
 * memory. */
static json_t *lend(const struct kp_informer *cinf, json_t *v)
{
	struct kp_informer *inf = (struct kp_informer *)(uintptr_t)cinf;
	json_t *obj;

	if (!inf->compact || !v)
		return v;
	obj = load_val(inf, v);
	if (!obj || json_array_append_new(inf->lent, obj))
		return NULL;
	if (!inf->lent_timer.armed)
		kp_kube_timer_start(inf->l, &inf->lent_timer, 0, release_lent, inf);
	return obj;
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
	inf->transform = o->transform;
	inf->transform_ud = o->transform_ud;
	inf->compact = o->compact;
	inf->rng = o->seed ? o->seed : (uint64_t)kp_kube_now_mono(NULL) * 2654435761u + (uintptr_t)inf;
	kp_backoff_init(&inf->bo, o->backoff_base_ms > 0 ? o->backoff_base_ms : 800,
			o->backoff_max_ms > 0 ? o->backoff_max_ms : 30000, 0.5, inf->rng ^ 0x5bd1e995u);
	inf->store = json_object();
	inf->lent = json_array();
	if (!ok || !inf->store || !inf->lent) {
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
	kp_kube_timer_stop(inf->l, &inf->lent_timer);
	json_decref(inf->lent);
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

/* Fetches the list page by page into fresh (key -> stored value), each
 * item transformed before the next page is read. *rv gets the first page's
 * resourceVersion (malloc'ed). */
static kp_err list_pages(struct kp_informer *inf, json_t *fresh, char **rv, struct kp_errbuf *eb)
{
	struct kp_kube_client *kc = kp_kube_loop_client(inf->l);
	char path[1024], limit[32], key[512];
	char *cont = NULL;
	json_t *page = NULL;
	kp_err rc;

	*rv = NULL;
	rc = kp_kube_path(&inf->res, inf->ns, NULL, NULL, path, sizeof(path), eb);
	if (rc)
		return rc;
	snprintf(limit, sizeof(limit), "%lld", (long long)(inf->page_size > 0 ? inf->page_size : 500));
	for (;;) {
		struct kp_buf q;
		json_t *items, *it;
		const char *next, *prv;
		size_t i;

		kp_buf_init(&q, KP_KUBE_MAX_URL);
		rc = kp_buf_addstr(&q, path);
		if (!rc)
			rc = kp_kube__query_add(&q, "limit", limit);
		if (!rc && inf->label_selector)
			rc = kp_kube__query_add(&q, "labelSelector", inf->label_selector);
		if (!rc && inf->field_selector)
			rc = kp_kube__query_add(&q, "fieldSelector", inf->field_selector);
		if (!rc && cont)
			rc = kp_kube__query_add(&q, "continue", cont);
		if (rc) {
			kp_buf_free(&q);
			rc = kp_errf(eb, rc, "list %s: query too long", inf->resource);
			break;
		}
		rc = kp_kube_request(kc, "GET", q.data, NULL, NULL, &page, NULL, eb);
		kp_buf_free(&q);
		if (rc)
			break;
		items = json_object_get(page, "items");
		if (!json_is_object(page) || (items && !json_is_array(items) && !json_is_null(items))) {
			rc = kp_errf(eb, KP_ERR_INVALID, "list %s: response is not a list", inf->resource);
			break;
		}
		if (!*rv) {
			prv = json_string_value(json_object_get(json_object_get(page, "metadata"), "resourceVersion"));
			if (!(*rv = strdup(prv ? prv : ""))) {
				rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
				break;
			}
		}
		json_array_foreach(items, i, it) {
			json_t *v;
			if (obj_key(it, key, sizeof(key)) != KP_OK)
				continue;
			if (inf->transform)
				inf->transform(inf->transform_ud, it);
			if (!(v = store_val(inf, it))) {
				rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
				break;
			}
			unstore(inf, json_object_get(fresh, key));   /* a repeated key: the last wins */
			if (json_object_set_new(fresh, key, v)) {
				rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
				break;
			}
		}
		if (!rc && json_object_size(fresh) > MAX_ITEMS)
			rc = kp_errf(eb, KP_ERR_LIMIT, "list %s: more than %d items", inf->resource, MAX_ITEMS);
		if (rc)
			break;
		next = json_string_value(json_object_get(json_object_get(page, "metadata"), "continue"));
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
		free(*rv);
		*rv = NULL;
	}
	return rc;
}

/* Stored values a and b hold the same resourceVersion. */
static bool same_rv(struct kp_informer *inf, json_t *a, json_t *b)
{
	json_t *oa, *ob;
	bool same;

	if (!inf->compact)
		return kp_strcmp0(obj_rv(a), obj_rv(b)) == 0;
	if (json_string_length(a) == json_string_length(b) &&
	    memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0)
		return true;
	oa = load_val(inf, a);
	ob = load_val(inf, b);
	same = oa && ob && kp_strcmp0(obj_rv(oa), obj_rv(ob)) == 0;
	json_decref(oa);
	json_decref(ob);
	return same;
}

static void do_list(void *ud)
{
	struct kp_informer *inf = ud;
	struct kp_errbuf eb = { 0 };
	json_t *fresh;
	const char **keys = NULL;
	char *rv = NULL;
	size_t i, n = 0;
	uint64_t old_bytes = inf->stats.stored_bytes;

	inf->stats.lists++;
	inf->stats.stored_bytes = 0;   /* list_pages counts what fresh holds */
	fresh = json_object();
	if (!fresh || list_pages(inf, fresh, &rv, &eb)) {
		json_decref(fresh);
		inf->stats.stored_bytes = old_bytes;
		inf->stats.errors++;
		schedule(inf, do_list, true);
		return;
	}
	snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
	free(rv);
	/* report the difference in key order, then swap stores */
	keys = sorted_keys(fresh, &n);
	for (i = 0; keys && i < n; i++) {
		json_t *nv = json_object_get(fresh, keys[i]);
		json_t *ov = json_object_get(inf->store, keys[i]);
		json_t *nw, *old;
		if (ov ? !inf->h.on_update || same_rv(inf, ov, nv) : !inf->h.on_add)
			continue;
		nw = load_val(inf, nv);
		old = ov ? load_val(inf, ov) : NULL;
		if (!nw || (ov && !old))
			inf->stats.errors++;   /* out of memory: the event is lost, the store is right */
		else if (!ov)
			inf->h.on_add(inf->ud, nw);
		else
			inf->h.on_update(inf->ud, old, nw);
		json_decref(nw);
		json_decref(old);
	}
	free(keys);
	keys = sorted_keys(inf->store, &n);
	for (i = 0; keys && i < n && inf->h.on_delete; i++) {
		json_t *old;
		if (json_object_get(fresh, keys[i]))
			continue;
		if (!(old = load_val(inf, json_object_get(inf->store, keys[i])))) {
			inf->stats.errors++;
			continue;
		}
		inf->h.on_delete(inf->ud, old);
		json_decref(old);
	}
	free(keys);
	json_decref(inf->store);
	inf->store = fresh;
	inf->synced = true;
	if (inf->h.on_synced)
		inf->h.on_synced(inf->ud);
	do_watch(inf);
}

static int on_event(void *ud, enum kp_watch_type t, json_t *obj)
{
	struct kp_informer *inf = ud;
	char key[512];
	json_t *ov, *nv, *old;

	if (inf->w)
		snprintf(inf->rv, sizeof(inf->rv), "%s", kp_watch_rv(inf->w));
	if (t == KP_WATCH_BOOKMARK || obj_key(obj, key, sizeof(key)) != KP_OK)
		return 0;
	if (inf->transform)
		inf->transform(inf->transform_ud, obj);
	ov = json_incref(json_object_get(inf->store, key));
	if (t == KP_WATCH_DELETED) {
		if (ov) {
			unstore(inf, ov);
			json_object_del(inf->store, key);
			if (inf->h.on_delete)
				inf->h.on_delete(inf->ud, obj);
		}
		json_decref(ov);
		return 0;
	}
	if (!(nv = store_val(inf, obj))) {
		inf->stats.errors++;   /* out of memory: the old object stays */
		json_decref(ov);
		return 0;
	}
	unstore(inf, ov);
	json_object_set_new(inf->store, key, nv);
	if (!ov) {
		if (inf->h.on_add)
			inf->h.on_add(inf->ud, obj);
		return 0;
	}
	if (inf->h.on_update) {
		/* a compact old object that cannot be decoded (out of memory) is
		 * reported as the new one */
		old = load_val(inf, ov);
		inf->h.on_update(inf->ud, old ? old : obj, obj);
		json_decref(old);
	}
	json_decref(ov);
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
	return lend(inf, json_object_get(inf->store, key));
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
		if (!(arr[k++] = lend(inf, json_object_get(inf->store, keys[i])))) {
			free(keys);
			free(arr);
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		}
	}
	free(keys);
	*out = arr;
	*n = k;
	return KP_OK;
}

kp_err kp_informer_foreach(const struct kp_informer *inf, const char *ns, kp_informer_each_fn fn, void *ud,
			   struct kp_errbuf *eb)
{
	size_t i, nk = 0, nslen = ns ? strlen(ns) : 0;
	const char **keys = sorted_keys(inf->store, &nk);
	kp_err rc = KP_OK;

	if (!keys)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	for (i = 0; i < nk; i++) {
		json_t *obj;
		int stop;
		if (ns && (strncmp(keys[i], ns, nslen) != 0 || keys[i][nslen] != '/'))
			continue;
		if (!(obj = load_val(inf, json_object_get(inf->store, keys[i])))) {
			rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
			break;
		}
		stop = fn(ud, obj);
		json_decref(obj);
		if (stop)
			break;
	}
	free(keys);
	return rc;
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
