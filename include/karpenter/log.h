/*
 * log.h - structured JSON-lines logger with the keys and encodings of
 * Karpenter's zap configuration (pkg/operator/logging), so log pipelines and
 * queries written for Karpenter keep working:
 *
 *   {"level":"INFO","time":"2026-11-27T20:53:04.123Z","logger":"controller",
 *    "message":"created nodeclaim","commit":"0123abc","controller":"provisioner",
 *    "NodePool":{"name":"default"},"NodeClaim":{"name":"default-abcde"},
 *    "requests":{"cpu":"8","memory":"16Gi"},"instance-types":"c6g.4xlarge, ..."}
 *
 * Key order: level, time (ISO 8601, milliseconds, UTC), logger (when named),
 * message, commit (when set), the logger's base fields, then the call's fields
 * in the order given. Levels print upper case (DEBUG, INFO, WARN, ERROR).
 *
 * Invariants: there is no global logger; callers pass a struct kp_log. A call
 * writes exactly one line with a single locked stdio write, so lines from
 * concurrent threads never interleave. The logger keeps no pointer past a call
 * except its own borrowed fields (name, commit, base): they must outlive it.
 *
 * Life cycle: kp_log_init(), then set level/commit/clock/base as needed; copy
 * the struct to derive a logger with another name or base fields (a copy
 * shares the borrowed strings). Nothing to free.
 */
#ifndef KARPENTER_LOG_H
#define KARPENTER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "karpenter/base.h"

/* Ordered like zap's levels; a logger writes calls at or above its level. */
enum kp_log_level {
	KP_LOG_DEBUG = -1,
	KP_LOG_INFO = 0,
	KP_LOG_WARN = 1,
	KP_LOG_ERROR = 2,
};

enum kp_log_ftype {
	KP_LOG_F_STR,      /* "key":"s" */
	KP_LOG_F_INT,      /* "key":-12 */
	KP_LOG_F_UINT,     /* "key":12 */
	KP_LOG_F_DOUBLE,   /* "key":1.5 ("NaN", "+Inf", "-Inf" as strings, like zap) */
	KP_LOG_F_BOOL,     /* "key":true */
	KP_LOG_F_OBJECT,   /* "key":{"namespace":"ns","name":"n"}; namespace left out when NULL or "" */
	KP_LOG_F_STRMAP,   /* "key":{"k1":"v1","k2":"v2"} from kv[2*i], kv[2*i+1] */
	KP_LOG_F_DURATION, /* "key":"1m30.5s" (Go's Duration.String, as zap's StringDurationEncoder) */
};

/* One key-value pair of a log line. Build with the kp_log_* constructors below. */
struct kp_log_field {
	const char *key;
	enum kp_log_ftype type;
	union {
		const char *s;
		int64_t i;
		uint64_t u;
		double d;
		bool b;
		int64_t ns;                                     /* duration in nanoseconds */
		struct { const char *ns, *name; } obj;
		struct { const char *const *kv; size_t n; } map; /* n pairs */
	} v;
};

/* Returns the current time as unix milliseconds. */
typedef int64_t (*kp_log_clock_fn)(void *arg);

struct kp_log {
	enum kp_log_level level;          /* lowest level written */
	const char *name;                 /* "logger" value; NULL or "" leaves the key out */
	FILE *out;                        /* destination; NULL drops every line */
	kp_log_clock_fn clock;            /* NULL = the real-time clock */
	void *clock_arg;
	const char *commit;               /* "commit" value; NULL leaves the key out */
	const struct kp_log_field *base;  /* fields on every line (e.g. controller), borrowed */
	size_t nbase;
};

/* Sets l to level info, the given output and name, the real-time clock, no commit and no base fields. */
void kp_log_init(struct kp_log *l, FILE *out, const char *name);

/* Parses a --log-level value: debug, info, warn, error (any case); "" means
 * info, as Karpenter's flag does. KP_ERR_INVALID otherwise. */
kp_err kp_log_parse_level(const char *s, enum kp_log_level *out, struct kp_errbuf *eb);
/* "DEBUG", "INFO", "WARN", "ERROR". */
const char *kp_log_level_name(enum kp_log_level lv);
/* True if l writes lines at level lv (check before building costly fields). */
bool kp_log_enabled(const struct kp_log *l, enum kp_log_level lv);

/* Writes one line at level lv with n fields (f may be NULL when n is 0). */
void kp_log_write(const struct kp_log *l, enum kp_log_level lv, const char *msg, const struct kp_log_field *f,
	size_t n);
void kp_log_debug(const struct kp_log *l, const char *msg, const struct kp_log_field *f, size_t n);
void kp_log_info(const struct kp_log *l, const char *msg, const struct kp_log_field *f, size_t n);
void kp_log_warn(const struct kp_log *l, const char *msg, const struct kp_log_field *f, size_t n);
void kp_log_error(const struct kp_log *l, const char *msg, const struct kp_log_field *f, size_t n);

/* Builds a field list argument: kp_log_info(l, "msg", KP_LOG_FIELDS(kp_log_str("k", "v"), ...)). */
#define KP_LOG_FIELDS(...) ((const struct kp_log_field[]){__VA_ARGS__}), \
	(sizeof((const struct kp_log_field[]){__VA_ARGS__}) / sizeof(struct kp_log_field))

/* ---- field constructors ---- */
static inline struct kp_log_field kp_log_str(const char *key, const char *s)
{
	struct kp_log_field f = {.key = key, .type = KP_LOG_F_STR};
	f.v.s = s;
	return f;
}
static inline struct kp_log_field kp_log_int(const char *key, int64_t i)
{
	struct kp_log_field f = {.key = key, .type = KP_LOG_F_INT};
	f.v.i = i;
	return f;
}
static inline struct kp_log_field kp_log_uint(const char *key, uint64_t u)
{
	struct kp_log_field f = {.key = key, .type = KP_LOG_F_UINT};
	f.v.u = u;
	return f;
}
static inline struct kp_log_field kp_log_double(const char *key, double d)
{
	struct kp_log_field f = {.key = key, .type = KP_LOG_F_DOUBLE};
	f.v.d = d;
	return f;
}
static inline struct kp_log_field kp_log_bool(const char *key, bool b)
{
	struct kp_log_field f = {.key = key, .type = KP_LOG_F_BOOL};
	f.v.b = b;
	return f;
}
/* A cluster-scoped object reference: "NodePool":{"name":"default"}. */
static inline struct kp_log_field kp_log_object(const char *kind, const char *name)
{
	struct kp_log_field f = {.key = kind, .type = KP_LOG_F_OBJECT};
	f.v.obj.ns = NULL;
	f.v.obj.name = name;
	return f;
}
/* A namespaced object reference: "Pod":{"namespace":"default","name":"web-1"}. */
static inline struct kp_log_field kp_log_nsobject(const char *kind, const char *ns, const char *name)
{
	struct kp_log_field f = {.key = kind, .type = KP_LOG_F_OBJECT};
	f.v.obj.ns = ns;
	f.v.obj.name = name;
	return f;
}
/* A string map from n key-value pairs: kv = {"cpu", "8", "memory", "16Gi"}, n = 2. */
static inline struct kp_log_field kp_log_strmap(const char *key, const char *const *kv, size_t n)
{
	struct kp_log_field f = {.key = key, .type = KP_LOG_F_STRMAP};
	f.v.map.kv = kv;
	f.v.map.n = n;
	return f;
}
static inline struct kp_log_field kp_log_duration_ns(const char *key, int64_t ns)
{
	struct kp_log_field f = {.key = key, .type = KP_LOG_F_DURATION};
	f.v.ns = ns;
	return f;
}
/* The "error" key zapr writes for logger.Error(err, ...). */
static inline struct kp_log_field kp_log_errmsg(const char *msg)
{
	return kp_log_str("error", msg);
}

/* Formats ns as Go's time.Duration.String ("1h2m3.5s", "150ms", "0s") into buf. */
void kp_log_format_duration(int64_t ns, char *buf, size_t n);

#endif
