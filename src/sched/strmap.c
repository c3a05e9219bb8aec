/*
 * strmap.c - string -> int hash map for the scheduler (domains, groups,
 * pod classes, node names).
 *
 * Open addressing with linear probing over a power-of-two table kept at most
 * half full; keys are borrowed pointers, storage comes from an arena (a grow
 * abandons the old table there). Lookups and inserts are O(1) expected;
 * nothing iterates the table, so its order never decides anything.
 */
#include <string.h>

#include "sched/sched_int.h"

uint32_t kps_hash(const char *s)
{
	uint32_t h = 2166136261u;   /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

int kps_strmap_get(const struct kps_strmap *m, const char *key)
{
	uint32_t mask, i;

	if (!m->cap)
		return -1;
	mask = m->cap - 1;
	for (i = kps_hash(key) & mask; m->keys[i]; i = (i + 1) & mask)
		if (m->keys[i] == key || strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	return -1;
}

static void put_raw(const char **keys, int *vals, uint32_t cap, const char *key, int val, bool *added)
{
	uint32_t mask = cap - 1, i;

	for (i = kps_hash(key) & mask; keys[i]; i = (i + 1) & mask) {
		if (strcmp(keys[i], key) == 0) {
			vals[i] = val;
			*added = false;
			return;
		}
	}
	keys[i] = key;
	vals[i] = val;
	*added = true;
}

kp_err kps_strmap_put(struct kps_strmap *m, struct kp_arena *a, const char *key, int val)
{
	bool added;

	if ((m->n + 1) * 2 > m->cap) {
		uint32_t cap = m->cap ? m->cap * 2 : 16;
		const char **keys = kp_arena_calloc(a, cap, sizeof(*keys));
		int *vals = kp_arena_calloc(a, cap, sizeof(*vals));

		if (!keys || !vals)
			return KP_ERR_NOMEM;
		for (uint32_t i = 0; i < m->cap; i++)
			if (m->keys[i])
				put_raw(keys, vals, cap, m->keys[i], m->vals[i], &added);
		m->keys = keys;
		m->vals = vals;
		m->cap = cap;
	}
	put_raw(m->keys, m->vals, m->cap, key, val, &added);
	if (added)
		m->n++;
	return KP_OK;
}
