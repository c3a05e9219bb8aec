/*
 * enccache.c - shared, reference-counted encodings of stored objects (see
 * enccache.h): a chained hash table of entries keyed by text, one mutex,
 * one condition variable for the threads waiting for an entry being made.
 *
 * An entry lives while referenced: it is made by the first get (outside
 * the mutex, so other keys go on) and found by later gets. The last put
 * keeps it a little longer (KEEP_MS, at most KEEP_BYTES of such idle
 * entries, oldest dropped first): many watches opened at once on a large
 * object whose encoding is small (a Table row) would otherwise each parse
 * the object again. A failed make unlinks the entry and wakes its waiters,
 * who get NULL.
 *
 * Cost: get and put are O(1) expected (FNV-1a over the key, 1024 buckets);
 * memory is one copy of each object version being sent, whatever the
 * number of streams sending it.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apiserver/enccache.h"
#include "karpenter/base.h"

#define BUCKETS 1024
#define VIEW_STR_MAX 1024
#define KEEP_MS 2000                      /* an unreferenced entry is kept this long */
#define KEEP_BYTES ((size_t)64 << 20)     /* at most this much in unreferenced entries */

struct kp_apiserver__enc_entry {
	struct kp_apiserver__enc pub;  /* first: a pub pointer is an entry pointer */
	struct kp_apiserver__enc_entry *next;
	char *key;
	size_t refs;
	bool ready;                    /* made: pub is valid */
	bool failed;                   /* make failed: unlinked, freed by the last waiter */
	struct kp_apiserver__enc_entry *iprev, *inext;   /* idle list (refs == 0), oldest first */
	int64_t idle_since;            /* monotonic ms */
};

struct kp_apiserver__enc_cache {
	pthread_mutex_t mu;
	pthread_cond_t made;           /* broadcast when an entry becomes ready or fails */
	struct kp_apiserver__enc_entry *b[BUCKETS];
	size_t n;
	struct kp_apiserver__enc_entry *ihead, *itail;   /* idle entries, oldest first */
	size_t idle_bytes;
};

static size_t entry_bytes(const struct kp_apiserver__enc_entry *e)
{
	return e->pub.len + strlen(e->key) + sizeof(*e);
}

static void idle_remove(struct kp_apiserver__enc_cache *ec, struct kp_apiserver__enc_entry *e)
{
	if (e->iprev)
		e->iprev->inext = e->inext;
	else
		ec->ihead = e->inext;
	if (e->inext)
		e->inext->iprev = e->iprev;
	else
		ec->itail = e->iprev;
	e->iprev = e->inext = NULL;
	ec->idle_bytes -= entry_bytes(e);
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % BUCKETS;
}

static void entry_free(struct kp_apiserver__enc_entry *e)
{
	free((char *)e->pub.text);
	json_decref((json_t *)e->pub.view);
	free(e->key);
	free(e);
}

static void unlink_entry(struct kp_apiserver__enc_cache *ec, struct kp_apiserver__enc_entry *e)
{
	for (struct kp_apiserver__enc_entry **p = &ec->b[hash(e->key)]; *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			ec->n--;
			return;
		}
}

/* Drops idle entries past KEEP_MS or KEEP_BYTES, oldest first (under mu). */
static void expire(struct kp_apiserver__enc_cache *ec, int64_t now)
{
	while (ec->ihead && (ec->idle_bytes > KEEP_BYTES || now - ec->ihead->idle_since >= KEEP_MS)) {
		struct kp_apiserver__enc_entry *e = ec->ihead;
		idle_remove(ec, e);
		unlink_entry(ec, e);
		entry_free(e);
	}
}

struct kp_apiserver__enc_cache *kp_apiserver__enc_cache_new(void)
{
	struct kp_apiserver__enc_cache *ec = calloc(1, sizeof(*ec));

	if (!ec)
		return NULL;
	pthread_mutex_init(&ec->mu, NULL);
	pthread_cond_init(&ec->made, NULL);
	return ec;
}

void kp_apiserver__enc_cache_free(struct kp_apiserver__enc_cache *ec)
{
	if (!ec)
		return;
	for (size_t i = 0; i < BUCKETS; i++)
		while (ec->b[i]) {
			struct kp_apiserver__enc_entry *e = ec->b[i];
			ec->b[i] = e->next;
			entry_free(e);
		}
	pthread_cond_destroy(&ec->made);
	pthread_mutex_destroy(&ec->mu);
	free(ec);
}

const struct kp_apiserver__enc *kp_apiserver__enc_get(struct kp_apiserver__enc_cache *ec, const char *key,
						      kp_apiserver__enc_make_fn make, void *ud)
{
	struct kp_apiserver__enc_entry *e;
	uint32_t h = hash(key);
	char *text = NULL;
	json_t *view = NULL;
	size_t len = 0;
	int rc;

	pthread_mutex_lock(&ec->mu);
	expire(ec, kp_mono_ms());
	for (e = ec->b[h]; e && strcmp(e->key, key) != 0; e = e->next)
		;
	if (e) {
		if (e->refs++ == 0)
			idle_remove(ec, e);
		while (!e->ready && !e->failed)
			pthread_cond_wait(&ec->made, &ec->mu);
		if (e->failed) {
			if (--e->refs == 0)
				entry_free(e);
			e = NULL;
		}
		pthread_mutex_unlock(&ec->mu);
		return e ? &e->pub : NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = strdup(key))) {
		free(e);
		pthread_mutex_unlock(&ec->mu);
		return NULL;
	}
	e->refs = 1;
	e->next = ec->b[h];
	ec->b[h] = e;
	ec->n++;
	pthread_mutex_unlock(&ec->mu);

	rc = make(ud, &text, &len, &view);

	pthread_mutex_lock(&ec->mu);
	if (rc == 0 && text) {
		e->pub.text = text;
		e->pub.len = len;
		e->pub.view = view;
		e->ready = true;
	} else {
		free(text);
		json_decref(view);
		e->failed = true;
		unlink_entry(ec, e);
		if (--e->refs == 0)
			entry_free(e);
		e = NULL;
	}
	pthread_cond_broadcast(&ec->made);
	pthread_mutex_unlock(&ec->mu);
	return e ? &e->pub : NULL;
}

void kp_apiserver__enc_put(struct kp_apiserver__enc_cache *ec, const struct kp_apiserver__enc *pub)
{
	struct kp_apiserver__enc_entry *e = (struct kp_apiserver__enc_entry *)pub;

	if (!e)
		return;
	pthread_mutex_lock(&ec->mu);
	if (--e->refs == 0) {   /* kept a while, newest last */
		e->idle_since = kp_mono_ms();
		e->iprev = ec->itail;
		if (ec->itail)
			ec->itail->inext = e;
		else
			ec->ihead = e;
		ec->itail = e;
		ec->idle_bytes += entry_bytes(e);
	}
	expire(ec, kp_mono_ms());
	pthread_mutex_unlock(&ec->mu);
}

size_t kp_apiserver__enc_count(struct kp_apiserver__enc_cache *ec)
{
	size_t n;

	pthread_mutex_lock(&ec->mu);
	n = ec->n;
	pthread_mutex_unlock(&ec->mu);
	return n;
}

static bool view_scalar(const json_t *v)
{
	return json_is_integer(v) || json_is_boolean(v) || json_is_null(v) ||
	       (json_is_string(v) && json_string_length(v) <= VIEW_STR_MAX);
}

/* The scalars of o (an object) as a new object. */
static json_t *view_scalars(const json_t *o)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;

	if (!out)
		return NULL;
	json_object_foreach((json_t *)o, k, v)
		if (view_scalar(v))
			json_object_set_new(out, k, json_deep_copy(v));   /* no node shared with obj */
	return out;
}

json_t *kp_apiserver__enc_view(const json_t *obj)
{
	json_t *view = json_object(), *md = json_object_get(obj, "metadata");
	const char *k;
	json_t *v;

	if (!view)
		return NULL;
	json_object_foreach((json_t *)obj, k, v) {
		if (view_scalar(v))
			json_object_set_new(view, k, json_deep_copy(v));
		else if (json_is_object(v) && strcmp(k, "metadata") != 0)
			json_object_set_new(view, k, view_scalars(v));
	}
	if (json_is_object(md)) {
		json_t *m = view_scalars(md), *labels = json_object_get(md, "labels");
		if (m && labels)
			json_object_set_new(m, "labels", json_deep_copy(labels));
		json_object_set_new(view, "metadata", m);
	}
	return view;
}
