/*
 * arena.c - bump allocator for one unit of work.
 *
 * Blocks are malloc'ed on demand (at least 64 KiB, doubling up to 4 MiB) and
 * chained newest first. Allocation is O(1); kp_arena_free() is O(blocks).
 * Marks let a caller roll back scratch allocations (a failed placement try)
 * without touching anything allocated before the mark.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "karpenter/base.h"

struct kp_arena_block {
	struct kp_arena_block *next;
	size_t size;   /* usable bytes in data */
	size_t used;
	_Alignas(16) unsigned char data[];
};

#define ARENA_MIN_BLOCK (64u * 1024u)
#define ARENA_MAX_BLOCK (4u * 1024u * 1024u)

void kp_arena_init(struct kp_arena *a)
{
	memset(a, 0, sizeof(*a));
}

static struct kp_arena_block *arena_new_block(struct kp_arena *a, size_t need)
{
	size_t size = a->head ? a->head->size * 2 : ARENA_MIN_BLOCK;
	struct kp_arena_block *b;

	if (size > ARENA_MAX_BLOCK)
		size = ARENA_MAX_BLOCK;
	if (size < need)
		size = need;
	if (a->limit && a->total + size > a->limit)
		return NULL;
	b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->next = a->head;
	b->size = size;
	b->used = 0;
	a->head = b;
	a->total += size;
	return b;
}

void *kp_arena_alloc(struct kp_arena *a, size_t n)
{
	struct kp_arena_block *b = a->head;
	size_t aligned;
	void *p;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - 15)
		return NULL;
	aligned = (n + 15) & ~(size_t)15;
	if (!b || b->size - b->used < aligned) {
		b = arena_new_block(a, aligned);
		if (!b)
			return NULL;
	}
	p = b->data + b->used;
	b->used += aligned;
	memset(p, 0, n);
	return p;
}

void *kp_arena_calloc(struct kp_arena *a, size_t n, size_t sz)
{
	if (sz && n > SIZE_MAX / sz)
		return NULL;
	return kp_arena_alloc(a, n * sz);
}

char *kp_arena_strndup(struct kp_arena *a, const char *s, size_t n)
{
	char *p = kp_arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *kp_arena_strdup(struct kp_arena *a, const char *s)
{
	if (!s)
		return NULL;
	return kp_arena_strndup(a, s, strlen(s));
}

void *kp_arena_memdup(struct kp_arena *a, const void *p, size_t n)
{
	void *q = kp_arena_alloc(a, n);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

char *kp_arena_printf(struct kp_arena *a, const char *fmt, ...)
{
	va_list ap, ap2;
	int n;
	char *p;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		va_end(ap2);
		return NULL;
	}
	p = kp_arena_alloc(a, (size_t)n + 1);
	if (p)
		vsnprintf(p, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return p;
}

void *kp_arena_grow(struct kp_arena *a, void *old, size_t n, size_t cap, size_t sz)
{
	void *p;

	if (cap < n)
		return NULL;
	p = kp_arena_calloc(a, cap, sz);
	if (p && old && n)
		memcpy(p, old, n * sz);
	return p;
}

struct kp_arena_mark kp_arena_mark(struct kp_arena *a)
{
	struct kp_arena_mark m = { a->head, a->head ? a->head->used : 0 };
	return m;
}

void kp_arena_reset(struct kp_arena *a, struct kp_arena_mark m)
{
	while (a->head && a->head != m.block) {
		struct kp_arena_block *b = a->head;
		a->head = b->next;
		a->total -= b->size;
		free(b);
	}
	if (a->head)
		a->head->used = m.used;
}

void kp_arena_free(struct kp_arena *a)
{
	if (!a)
		return;
	while (a->head) {
		struct kp_arena_block *b = a->head;
		a->head = b->next;
		free(b);
	}
	a->total = 0;
}
