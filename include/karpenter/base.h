/*
 * base.h - errors, arenas and bounded buffers shared by every module.
 *
 * Errors: every fallible call returns a kp_err (0 = success) and writes a
 * human-readable message into a caller-supplied struct kp_errbuf (may be NULL).
 * Messages are lower case, no full stop, what failed first; callers add
 * context in front with kp_err_prefix() ("file.yaml: NodePool default: ...").
 *
 * Arenas: a bump allocator per unit of work (a load, a simulation). Every
 * allocation is zeroed and 16-byte aligned; kp_arena_free() releases all of
 * it at once. Nothing long-lived may point into an arena. Out of memory is an
 * ordinary error: kp_arena_alloc() returns NULL.
 *
 * Buffers: a growable byte buffer with a hard size cap chosen at each use
 * site; kp_buf_take() hands the storage to the caller.
 *
 * Clock: the monotonic clock in milliseconds and deadlines on it.
 */
#ifndef KARPENTER_BASE_H
#define KARPENTER_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum kp_err {
	KP_OK = 0,
	KP_ERR_NOMEM,       /* allocation failed */
	KP_ERR_INVALID,     /* bad input: syntax, unknown value, wrong type */
	KP_ERR_RANGE,       /* value out of range or overflow */
	KP_ERR_IO,          /* file or socket error */
	KP_ERR_NOTFOUND,    /* named thing does not exist */
	KP_ERR_LIMIT,       /* a hard cap was reached */
} kp_err;

#define KP_ERRBUF_SIZE 1024
struct kp_errbuf {
	kp_err code;                /* last error written */
	char msg[KP_ERRBUF_SIZE];   /* NUL-terminated message */
};

/* Writes a formatted message into eb (if not NULL) and returns code. */
kp_err kp_errf(struct kp_errbuf *eb, kp_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Puts formatted context in front of the message already in eb. */
void kp_err_prefix(struct kp_errbuf *eb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Static name of an error code ("invalid input", ...). */
const char *kp_err_str(kp_err code);

/* ---- arena ---- */
struct kp_arena_block;
struct kp_arena {
	struct kp_arena_block *head;   /* newest block first */
	size_t total;                  /* bytes reserved from malloc */
	size_t limit;                  /* 0 = unlimited; else cap on total */
};
struct kp_arena_mark {
	struct kp_arena_block *block;
	size_t used;
};

void kp_arena_init(struct kp_arena *a);
/* Zeroed, 16-byte aligned memory; NULL on out-of-memory or limit. */
void *kp_arena_alloc(struct kp_arena *a, size_t n);
/* Allocates n elements of size sz with overflow check; NULL on failure. */
void *kp_arena_calloc(struct kp_arena *a, size_t n, size_t sz);
char *kp_arena_strdup(struct kp_arena *a, const char *s);
char *kp_arena_strndup(struct kp_arena *a, const char *s, size_t n);
void *kp_arena_memdup(struct kp_arena *a, const void *p, size_t n);
char *kp_arena_printf(struct kp_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Grows an arena array: returns a copy of old (n elements) with room for cap. */
void *kp_arena_grow(struct kp_arena *a, void *old, size_t n, size_t cap, size_t sz);
/* Remembers the arena's position; kp_arena_reset() frees all allocated since. */
struct kp_arena_mark kp_arena_mark(struct kp_arena *a);
void kp_arena_reset(struct kp_arena *a, struct kp_arena_mark m);
/* Releases every block. The arena is reusable afterwards. Free(NULL) is a no-op. */
void kp_arena_free(struct kp_arena *a);

/* ---- bounded buffer ---- */
struct kp_buf {
	char *data;    /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max;    /* hard cap on len */
};

void kp_buf_init(struct kp_buf *b, size_t max);
kp_err kp_buf_add(struct kp_buf *b, const void *p, size_t n);
kp_err kp_buf_addstr(struct kp_buf *b, const char *s);
kp_err kp_buf_printf(struct kp_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
kp_err kp_buf_vprintf(struct kp_buf *b, const char *fmt, va_list ap);
/* Returns the malloc'ed string (caller frees) and resets b. Never NULL: "" on empty. */
char *kp_buf_take(struct kp_buf *b);
void kp_buf_reset(struct kp_buf *b);
void kp_buf_free(struct kp_buf *b);

/* ---- small helpers ---- */
/* Parses a base-10 int64 from the whole string; KP_ERR_INVALID/RANGE otherwise. */
kp_err kp_parse_i64(const char *s, int64_t *out);
/* Go-style duration ("1h30m", "720h", "15s", "500ms") in milliseconds. "Never" is an error here. */
kp_err kp_parse_duration_ms(const char *s, int64_t *out_ms);
/* RFC 3339 timestamp ("2024-01-02T03:04:05Z", with optional fraction/offset) to unix seconds. */
kp_err kp_parse_rfc3339(const char *s, int64_t *out_unix);
/* Formats unix seconds as RFC 3339 UTC into buf (at least 21 bytes). */
void kp_format_rfc3339(int64_t unix_s, char *buf, size_t n);
/* strcmp that orders NULL before everything. */
int kp_strcmp0(const char *a, const char *b);

#define KP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- monotonic clock (src/base/clock.c) ---- */
struct timespec;
/* CLOCK_MONOTONIC in milliseconds. */
int64_t kp_mono_ms(void);
/* *ts = CLOCK_MONOTONIC now + ms, for pthread_cond_timedwait on a condition
 * variable whose clock is CLOCK_MONOTONIC. */
void kp_mono_deadline(struct timespec *ts, int64_t ms);

#endif
