/*
 * strmap.h - the project's one string-keyed hash map (src/base/strmap.c):
 * string -> pointer, open addressing with linear probing over a
 * power-of-two table kept at most half full (tombstones count), FNV-1a.
 *
 * Two ownership modes, fixed by how the map is initialised:
 *  - zeroed or kp_strmap_init(): the table is malloc'ed, keys are copied;
 *    kp_strmap_free() releases both (values are the caller's);
 *  - kp_strmap_init_arena(m, a): the table comes from arena a (a grow
 *    abandons the old table there), keys are borrowed and must outlive the
 *    map; nothing needs freeing.
 *
 * Iteration order is the table's, i.e. arbitrary: never decide anything
 * while iterating (kp_strmap_keys gives the keys sorted). A map must not be
 * changed while it is iterated. Not thread-safe.
 *
 * Cost: get/put/del O(1) expected; keys O(n log n).
 */
#ifndef KARPENTER_STRMAP_H
#define KARPENTER_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "karpenter/base.h"

struct kp_strmap_ent {
	const char *key;            /* NULL: empty slot; KP_STRMAP_TOMB: deleted */
	void *val;
	uint32_t hash;
};

struct kp_strmap {
	struct kp_strmap_ent *e;
	size_t cap;                 /* power of two, 0 = nothing allocated */
	size_t n;                   /* live entries */
	size_t used;                /* live + deleted slots */
	struct kp_arena *arena;     /* non-NULL: arena mode (see above) */
};

/* 32-bit FNV-1a of s. */
uint32_t kp_strhash(const char *s);

void kp_strmap_init(struct kp_strmap *m);
void kp_strmap_init_arena(struct kp_strmap *m, struct kp_arena *a);
/* The entry for key, or NULL. */
const struct kp_strmap_ent *kp_strmap_find(const struct kp_strmap *m, const char *key);
/* The value for key, or NULL (also when the stored value is NULL). */
void *kp_strmap_get(const struct kp_strmap *m, const char *key);
/* Sets key to val. *old (may be NULL) gets the previous value, or NULL.
 * KP_ERR_NOMEM when the table or the key copy cannot be allocated (the map
 * is then unchanged). */
kp_err kp_strmap_put(struct kp_strmap *m, const char *key, void *val, void **old);
/* Removes key; returns its value, or NULL. */
void *kp_strmap_del(struct kp_strmap *m, const char *key);
/* The live entry at or after slot *i, with *i set to its slot (add 1 to go
 * on), or NULL at the end. */
const struct kp_strmap_ent *kp_strmap_next(const struct kp_strmap *m, size_t *i);
/* The keys, sorted by strcmp: a malloc'ed array of borrowed strings (valid
 * until the map changes), NULL with *n 0 when empty or out of memory. */
const char **kp_strmap_keys(const struct kp_strmap *m, size_t *n);
/* Frees the table and (malloc mode) the keys; the map is zeroed for reuse. */
void kp_strmap_free(struct kp_strmap *m);

/* for each live entry e (const struct kp_strmap_ent *) of m; break works. */
#define KP_STRMAP_FOREACH(m, e)                                                      \
	for (size_t e##_i_ = 0; e##_i_ != SIZE_MAX; e##_i_ = SIZE_MAX)                \
		for (const struct kp_strmap_ent *e; (e = kp_strmap_next((m), &e##_i_)) != NULL; e##_i_++)

#endif
