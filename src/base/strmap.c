/*
 * strmap.c - string -> pointer hash map (see karpenter/strmap.h): open
 * addressing, linear probing, power-of-two capacity at most half used.
 * Replaces the private maps the scheduler, the built-in controllers and the
 * controller's metrics state each had.
 */
#include <stdlib.h>
#include <string.h>

#include "karpenter/strmap.h"

static const char TOMB_[1];
#define TOMB ((const char *)TOMB_)

uint32_t kp_strhash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

void kp_strmap_init(struct kp_strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void kp_strmap_init_arena(struct kp_strmap *m, struct kp_arena *a)
{
	memset(m, 0, sizeof(*m));
	m->arena = a;
}

/* Slot of key, or of the first free slot of its probe sequence (a deleted
 * one if seen, so inserts reuse tombstones) when absent; *found says which. */
static size_t probe(const struct kp_strmap *m, const char *key, uint32_t h, bool *found)
{
	size_t mask = m->cap - 1, i = h & mask, tomb = SIZE_MAX;

	for (;; i = (i + 1) & mask) {
		const struct kp_strmap_ent *e = &m->e[i];
		if (!e->key) {
			*found = false;
			return tomb != SIZE_MAX ? tomb : i;
		}
		if (e->key == TOMB) {
			if (tomb == SIZE_MAX)
				tomb = i;
		} else if (e->hash == h && strcmp(e->key, key) == 0) {
			*found = true;
			return i;
		}
	}
}

const struct kp_strmap_ent *kp_strmap_find(const struct kp_strmap *m, const char *key)
{
	bool found;
	size_t i;

	if (!m->cap)
		return NULL;
	i = probe(m, key, kp_strhash(key), &found);
	return found ? &m->e[i] : NULL;
}

void *kp_strmap_get(const struct kp_strmap *m, const char *key)
{
	const struct kp_strmap_ent *e = kp_strmap_find(m, key);
	return e ? e->val : NULL;
}

static kp_err grow(struct kp_strmap *m)
{
	size_t cap = m->cap ? m->cap : 16;
	struct kp_strmap_ent *e;

	while ((m->n + 1) * 2 > cap)
		cap *= 2;
	e = m->arena ? kp_arena_calloc(m->arena, cap, sizeof(*e)) : calloc(cap, sizeof(*e));
	if (!e)
		return KP_ERR_NOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		const struct kp_strmap_ent *o = &m->e[i];
		if (!o->key || o->key == TOMB)
			continue;
		size_t j = o->hash & (cap - 1);
		while (e[j].key)
			j = (j + 1) & (cap - 1);
		e[j] = *o;
	}
	if (!m->arena)
		free(m->e);
	m->e = e;
	m->cap = cap;
	m->used = m->n;
	return KP_OK;
}

kp_err kp_strmap_put(struct kp_strmap *m, const char *key, void *val, void **old)
{
	uint32_t h = kp_strhash(key);
	bool found = false;
	size_t i = 0;

	if (old)
		*old = NULL;
	if (m->cap)
		i = probe(m, key, h, &found);
	if (found) {
		if (old)
			*old = m->e[i].val;
		m->e[i].val = val;
		return KP_OK;
	}
	if ((m->used + 1) * 2 > m->cap) {
		if (grow(m))
			return KP_ERR_NOMEM;
		i = probe(m, key, h, &found);
	}
	const char *k = key;
	if (!m->arena && !(k = strdup(key)))
		return KP_ERR_NOMEM;
	if (!m->e[i].key)
		m->used++;
	m->e[i].key = k;
	m->e[i].val = val;
	m->e[i].hash = h;
	m->n++;
	return KP_OK;
}

void *kp_strmap_del(struct kp_strmap *m, const char *key)
{
	bool found;
	size_t i;
	void *v;

	if (!m->cap)
		return NULL;
	i = probe(m, key, kp_strhash(key), &found);
	if (!found)
		return NULL;
	v = m->e[i].val;
	if (!m->arena)
		free((char *)m->e[i].key);
	m->e[i].key = TOMB;
	m->e[i].val = NULL;
	m->n--;
	return v;
}

const struct kp_strmap_ent *kp_strmap_next(const struct kp_strmap *m, size_t *i)
{
	for (; *i < m->cap; (*i)++)
		if (m->e[*i].key && m->e[*i].key != TOMB)
			return &m->e[*i];
	return NULL;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **kp_strmap_keys(const struct kp_strmap *m, size_t *n)
{
	const char **v;
	size_t k = 0;

	*n = 0;
	if (!m->n)
		return NULL;
	v = malloc(m->n * sizeof(*v));
	if (!v)
		return NULL;
	KP_STRMAP_FOREACH(m, e)
		v[k++] = e->key;
	qsort(v, k, sizeof(*v), cmp_strp);
	*n = k;
	return v;
}

void kp_strmap_free(struct kp_strmap *m)
{
	if (!m->arena) {
		KP_STRMAP_FOREACH(m, e)
			free((char *)e->key);
		free(m->e);
	}
	memset(m, 0, sizeof(*m));
}
