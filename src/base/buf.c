/*
 * buf.c - growable byte buffer with a hard cap named at each use site.
 *
 * The storage is malloc'ed, doubles as needed and is always NUL-terminated.
 * Exceeding max fails with KP_ERR_LIMIT and leaves the contents unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "karpenter/base.h"

void kp_buf_init(struct kp_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

static kp_err buf_reserve(struct kp_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > b->max - b->len)
		return KP_ERR_LIMIT;
	need = b->len + n + 1;
	if (need <= b->cap)
		return KP_OK;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return KP_ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return KP_OK;
}

kp_err kp_buf_add(struct kp_buf *b, const void *p, size_t n)
{
	kp_err rc = buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return KP_OK;
}

kp_err kp_buf_addstr(struct kp_buf *b, const char *s)
{
	return kp_buf_add(b, s, strlen(s));
}

kp_err kp_buf_vprintf(struct kp_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	kp_err rc;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return KP_ERR_INVALID;
	rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return KP_OK;
}

kp_err kp_buf_printf(struct kp_buf *b, const char *fmt, ...)
{
	va_list ap;
	kp_err rc;

	va_start(ap, fmt);
	rc = kp_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *kp_buf_take(struct kp_buf *b)
{
	char *p = b->data;
	if (!p)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void kp_buf_reset(struct kp_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void kp_buf_free(struct kp_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
