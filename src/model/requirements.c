/*
 * requirements.c - node selector requirements as value sets, with Karpenter's
 * semantics (pkg/scheduling/requirement.go and requirements.go).
 *
 * A kp_req is a set of allowed values: the listed ones (complement false) or
 * all but the listed ones (complement true), cut by optional inclusive integer
 * bounds. A value that is not an integer lies outside any bound.
 *
 * Invariants: values are sorted by strcmp and unique; a kp_reqs is sorted by
 * key with unique keys. Inputs are never modified; results live in the arena
 * the caller passes, and may share value arrays and strings with the inputs.
 *
 * Cost: has = O(log n); intersects/intersect = O(n + m) merges; reqs lookups
 * are binary searches; compatible/intersects/match_labels are O(k log n) and
 * allocate nothing (messages are only formatted on failure, into eb).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "karpenter/labels.h"
#include "karpenter/requirements.h"

#define MIN_VALUES_MAX 50
#define STR_VALUES_SHOWN 5

static const char *const op_names[] = {
	[KP_OP_IN] = "In",
	[KP_OP_NOTIN] = "NotIn",
	[KP_OP_EXISTS] = "Exists",
	[KP_OP_DOESNOTEXIST] = "DoesNotExist",
	[KP_OP_GT] = "Gt",
	[KP_OP_LT] = "Lt",
	[KP_OP_GTE] = "Gte",
	[KP_OP_LTE] = "Lte",
};

int kp_op_parse(const char *s)
{
	if (!s)
		return -1;
	for (size_t i = 0; i < KP_ARRAY_LEN(op_names); i++)
		if (strcmp(s, op_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *kp_op_name(enum kp_op op)
{
	if ((unsigned)op < KP_ARRAY_LEN(op_names))
		return op_names[op];
	return "Unknown";
}

/* Base-10 integer as Go's strconv.Atoi reads it: optional sign, at least one
 * digit, nothing else, no overflow. No errno, no locale: this sits in the
 * inner loop whenever a requirement has bounds. */
static bool parse_int(const char *s, int64_t *out)
{
	bool neg = false;
	uint64_t v = 0, lim;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!*s)
		return false;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (d > 9)
			return false;
		if (v > (lim - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static inline bool within_bounds(const char *v, bool has_gte, int64_t gte, bool has_lte, int64_t lte)
{
	int64_t x;

	if (!has_gte && !has_lte)
		return true;
	if (!parse_int(v, &x))
		return false;
	return (!has_gte || x >= gte) && (!has_lte || x <= lte);
}

/* strcmp order; interned well-known keys compare by address (their rows are
 * sorted), so the common case needs no string walk. */
static inline int keycmp(const char *a, const char *b)
{
	if (a == b)
		return 0;
	if (kp__is_interned(a) && kp__is_interned(b))
		return (uintptr_t)a < (uintptr_t)b ? -1 : 1;
	return strcmp(a, b);
}

/* Binary search for value in a sorted array. */
static bool values_has(const char *const *v, int n, const char *value)
{
	int lo = 0, hi = n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = keycmp(v[mid], value);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts and deduplicates in place; returns the new count. */
static int sort_unique(const char **v, int n)
{
	int w = 0;

	if (n <= 1)
		return n;
	qsort(v, (size_t)n, sizeof(*v), cmp_str);
	for (int i = 0; i < n; i++)
		if (w == 0 || strcmp(v[w - 1], v[i]) != 0)
			v[w++] = v[i];
	return w;
}

enum kp_op kp_req_op(const struct kp_req *r)
{
	if (r->complement)
		return r->n > 0 ? KP_OP_NOTIN : KP_OP_EXISTS;
	return r->n > 0 ? KP_OP_IN : KP_OP_DOESNOTEXIST;
}

int64_t kp_req_len(const struct kp_req *r)
{
	return r->complement ? INT64_MAX - r->n : r->n;
}

bool kp_req_has(const struct kp_req *r, const char *value)
{
	bool listed = values_has(r->values, r->n, value);

	if (listed == r->complement)
		return false;
	return within_bounds(value, r->has_gte, r->gte, r->has_lte, r->lte);
}

/* ---- construction ---- */

static kp_err req_make_bound(struct kp_req *out, const char *key, enum kp_op op,
			     const char *const *values, int nvalues, struct kp_errbuf *eb)
{
	int64_t v;

	if (nvalues != 1 || !values[0] || !parse_int(values[0], &v) || v < 0) {
		if (nvalues == 1 && values[0])
			return kp_errf(eb, KP_ERR_INVALID,
				       "key %s: operator \"%s\" requires exactly one non-negative integer value, got \"%s\"",
				       key, kp_op_name(op), values[0]);
		return kp_errf(eb, KP_ERR_INVALID,
			       "key %s: operator \"%s\" requires exactly one non-negative integer value, got %d values",
			       key, kp_op_name(op), nvalues);
	}
	out->complement = true;
	switch (op) {
	case KP_OP_GT:
		if (v == INT64_MAX) {   /* nothing is greater: DoesNotExist */
			out->complement = false;
			out->min_values = 0;
			return KP_OK;
		}
		out->has_gte = true;
		out->gte = v + 1;
		break;
	case KP_OP_LT:
		out->has_lte = true;
		out->lte = v - 1;
		break;
	case KP_OP_GTE:
		out->has_gte = true;
		out->gte = v;
		break;
	default:
		out->has_lte = true;
		out->lte = v;
		break;
	}
	return KP_OK;
}

kp_err kp_req_make(struct kp_req *out, struct kp_arena *a, const char *key, enum kp_op op,
		   const char *const *values, int nvalues, int min_values, struct kp_errbuf *eb)
{
	struct kp_req r = { 0 };
	kp_err rc;

	if (!key || !*key)
		return kp_errf(eb, KP_ERR_INVALID, "requirement key is empty");
	key = kp_label_normalize(key);
	if (!kp_label_key_valid(key, eb)) {
		kp_err_prefix(eb, "key %s: ", key);
		return KP_ERR_INVALID;
	}
	if ((unsigned)op >= KP_ARRAY_LEN(op_names))
		return kp_errf(eb, KP_ERR_INVALID, "key %s: unknown operator %d", key, (int)op);
	if (nvalues < 0 || (nvalues > 0 && !values))
		return kp_errf(eb, KP_ERR_INVALID, "key %s: bad value list", key);
	if (min_values < 0 || min_values > MIN_VALUES_MAX)
		return kp_errf(eb, KP_ERR_INVALID, "key %s: minValues %d out of range 1..%d",
			       key, min_values, MIN_VALUES_MAX);
	for (int i = 0; i < nvalues; i++) {
		if (!values[i])
			return kp_errf(eb, KP_ERR_INVALID, "key %s: value %d is null", key, i);
		if (op != KP_OP_IN && op != KP_OP_NOTIN)
			continue;
		if (!kp_label_value_valid(values[i], eb)) {
			kp_err_prefix(eb, "key %s: value \"%s\": ", key, values[i]);
			return KP_ERR_INVALID;
		}
	}

	r.min_values = min_values;
	switch (op) {
	case KP_OP_IN:
		if (nvalues == 0)
			return kp_errf(eb, KP_ERR_INVALID, "key %s: operator \"In\" requires at least one value", key);
		if (min_values > nvalues)
			return kp_errf(eb, KP_ERR_INVALID,
				       "key %s: operator \"In\" has %d values, fewer than minValues %d",
				       key, nvalues, min_values);
		break;
	case KP_OP_NOTIN:
		r.complement = true;
		break;
	case KP_OP_EXISTS:
	case KP_OP_DOESNOTEXIST:
		if (nvalues != 0)
			return kp_errf(eb, KP_ERR_INVALID, "key %s: operator \"%s\" takes no values, got %d",
				       key, kp_op_name(op), nvalues);
		r.complement = op == KP_OP_EXISTS;
		break;
	default:
		rc = req_make_bound(&r, key, op, values, nvalues, eb);
		if (rc)
			return rc;
		nvalues = 0;
		break;
	}

	r.key = kp_label_intern(key);
	if (r.key == key)
		r.key = kp_arena_strdup(a, key);
	if (!r.key)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	if (nvalues > 0) {
		const char **v = kp_arena_calloc(a, (size_t)nvalues, sizeof(*v));
		if (!v)
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		for (int i = 0; i < nvalues; i++) {
			v[i] = kp_arena_strdup(a, values[i]);
			if (!v[i])
				return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		}
		r.n = sort_unique(v, nvalues);
		r.values = v;
	}
	*out = r;
	return KP_OK;
}

/* ---- intersection ---- */

enum set_op { SET_AND, SET_OR, SET_A_MINUS_B, SET_B_MINUS_A };

/* Walks the sorted value lists of a and b under op, keeping values inside the
 * bounds. Writes them to out when out is not NULL; returns the count. */
static int merge_values(enum set_op op, const struct kp_req *a, const struct kp_req *b,
			bool has_gte, int64_t gte, bool has_lte, int64_t lte, const char **out)
{
	int i = 0, j = 0, k = 0;

	while (i < a->n || j < b->n) {
		const char *v;
		int c;
		bool keep;

		if (i >= a->n)
			c = 1;
		else if (j >= b->n)
			c = -1;
		else
			c = keycmp(a->values[i], b->values[j]);
		if (c < 0) {
			v = a->values[i++];
			keep = op == SET_OR || op == SET_A_MINUS_B;
		} else if (c > 0) {
			v = b->values[j++];
			keep = op == SET_OR || op == SET_B_MINUS_A;
		} else {
			v = a->values[i++];
			j++;
			keep = op == SET_OR || op == SET_AND;
		}
		if (keep && within_bounds(v, has_gte, gte, has_lte, lte)) {
			if (out)
				out[k] = v;
			k++;
		}
	}
	return k;
}

kp_err kp_req_intersect(struct kp_req *out, struct kp_arena *arena, const struct kp_req *a, const struct kp_req *b)
{
	struct kp_req r = { 0 };
	enum set_op op;
	int n;

	r.key = a->key;
	r.complement = a->complement && b->complement;
	r.has_gte = a->has_gte || b->has_gte;
	r.gte = !a->has_gte ? b->gte : !b->has_gte ? a->gte : (a->gte > b->gte ? a->gte : b->gte);
	r.has_lte = a->has_lte || b->has_lte;
	r.lte = !a->has_lte ? b->lte : !b->has_lte ? a->lte : (a->lte < b->lte ? a->lte : b->lte);
	r.min_values = a->min_values > b->min_values ? a->min_values : b->min_values;
	if (!r.has_gte)
		r.gte = 0;
	if (!r.has_lte)
		r.lte = 0;
	if (r.has_gte && r.has_lte && r.gte > r.lte) {
		/* empty range: DoesNotExist, keeping minValues */
		struct kp_req dne = { .key = a->key, .min_values = r.min_values };
		*out = dne;
		return KP_OK;
	}

	if (a->complement && b->complement)
		op = SET_OR;
	else if (a->complement)
		op = SET_B_MINUS_A;
	else if (b->complement)
		op = SET_A_MINUS_B;
	else
		op = SET_AND;
	n = merge_values(op, a, b, r.has_gte, r.gte, r.has_lte, r.lte, NULL);

	/* Share an input's array when the result is exactly it. */
	if ((op == SET_AND || op == SET_A_MINUS_B) && n == a->n) {
		r.values = a->values;
	} else if ((op == SET_AND || op == SET_B_MINUS_A) && n == b->n) {
		r.values = b->values;
	} else if (op == SET_OR && !r.has_gte && !r.has_lte && (n == a->n || n == b->n)) {
		r.values = n == a->n ? a->values : b->values;
	} else if (n > 0) {
		const char **v = kp_arena_calloc(arena, (size_t)n, sizeof(*v));
		if (!v)
			return KP_ERR_NOMEM;
		merge_values(op, a, b, r.has_gte, r.gte, r.has_lte, r.lte, v);
		r.values = v;
	}
	r.n = n;
	if (n == 0)
		r.values = NULL;
	if (!r.complement) {
		/* a concrete set needs no bounds: its values were filtered */
		r.has_gte = r.has_lte = false;
		r.gte = r.lte = 0;
	}
	*out = r;
	return KP_OK;
}

/* Does a sorted list hold some value that is absent from `not` and in bounds? */
static bool any_outside(const struct kp_req *list, const struct kp_req *not,
			bool has_gte, int64_t gte, bool has_lte, int64_t lte)
{
	int j = 0;

	for (int i = 0; i < list->n; i++) {
		const char *v = list->values[i];
		int c = 1;

		while (j < not->n && (c = keycmp(not->values[j], v)) < 0)
			j++;
		if (j < not->n && c == 0)
			continue;
		if (within_bounds(v, has_gte, gte, has_lte, lte))
			return true;
	}
	return false;
}

bool kp_req_intersects(const struct kp_req *a, const struct kp_req *b)
{
	bool has_gte = a->has_gte || b->has_gte, has_lte = a->has_lte || b->has_lte;
	int64_t gte = 0, lte = 0;

	if (has_gte)
		gte = !a->has_gte ? b->gte : !b->has_gte ? a->gte : (a->gte > b->gte ? a->gte : b->gte);
	if (has_lte)
		lte = !a->has_lte ? b->lte : !b->has_lte ? a->lte : (a->lte < b->lte ? a->lte : b->lte);
	if (has_gte && has_lte && gte > lte)
		return false;
	if (a->complement && b->complement)
		return true;
	if (a->complement)
		return any_outside(b, a, has_gte, gte, has_lte, lte);
	if (b->complement)
		return any_outside(a, b, has_gte, gte, has_lte, lte);
	/* both concrete: a common value in bounds */
	for (int i = 0, j = 0; i < a->n && j < b->n;) {
		int c = keycmp(a->values[i], b->values[j]);
		if (c < 0) {
			i++;
		} else if (c > 0) {
			j++;
		} else {
			if (within_bounds(a->values[i], has_gte, gte, has_lte, lte))
				return true;
			i++;
			j++;
		}
	}
	return false;
}

/* ---- formatting ---- */

struct strw {
	char *p;
	size_t n, len;
};

static void strw_add(struct strw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void strw_add(struct strw *w, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (w->len >= w->n)
		return;
	va_start(ap, fmt);
	k = vsnprintf(w->p + w->len, w->n - w->len, fmt, ap);
	va_end(ap);
	if (k > 0)
		w->len += (size_t)k;
}

char *kp_req_str(const struct kp_req *r, char *buf, size_t n)
{
	struct strw w = { buf, n, 0 };
	enum kp_op op = kp_req_op(r);

	if (!buf || n == 0)
		return buf;
	buf[0] = '\0';
	if (op == KP_OP_EXISTS || op == KP_OP_DOESNOTEXIST) {
		strw_add(&w, "%s %s", r->key, kp_op_name(op));
	} else {
		int shown = r->n > STR_VALUES_SHOWN ? STR_VALUES_SHOWN : r->n;
		strw_add(&w, "%s %s [", r->key, kp_op_name(op));
		for (int i = 0; i < shown; i++)
			strw_add(&w, "%s%s", i ? " " : "", r->values[i]);
		if (r->n > shown)
			strw_add(&w, " and %d others", r->n - shown);
		strw_add(&w, "]");
	}
	if (r->has_gte)
		strw_add(&w, " >=%lld", (long long)r->gte);
	if (r->has_lte)
		strw_add(&w, " <=%lld", (long long)r->lte);
	if (r->min_values)
		strw_add(&w, " minValues %d", r->min_values);
	return buf;
}

/* ---- requirement sets ---- */

void kp_reqs_init(struct kp_reqs *rs)
{
	memset(rs, 0, sizeof(*rs));
}

/* Index of key, or -(insertion point) - 1. Searches [lo, rs->n). */
static int reqs_find(const struct kp_reqs *rs, int lo, const char *key)
{
	int hi = rs->n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = keycmp(rs->r[mid].key, key);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -lo - 1;
}

const struct kp_req *kp_reqs_get(const struct kp_reqs *rs, const char *key)
{
	int i;

	if (!rs || rs->n == 0)
		return NULL;
	i = reqs_find(rs, 0, key);
	return i >= 0 ? &rs->r[i] : NULL;
}

kp_err kp_reqs_add(struct kp_reqs *rs, struct kp_arena *a, const struct kp_req *r)
{
	int i = rs->n ? reqs_find(rs, 0, r->key) : -1;

	if (i >= 0) {
		struct kp_req x;
		kp_err rc = kp_req_intersect(&x, a, r, &rs->r[i]);
		if (rc)
			return rc;
		rs->r[i] = x;
		return KP_OK;
	}
	i = -i - 1;
	if (rs->n == rs->cap) {
		int cap = rs->cap ? rs->cap * 2 : 8;
		struct kp_req *nr = kp_arena_grow(a, rs->r, (size_t)rs->n, (size_t)cap, sizeof(*nr));
		if (!nr)
			return KP_ERR_NOMEM;
		rs->r = nr;
		rs->cap = cap;
	}
	memmove(&rs->r[i + 1], &rs->r[i], (size_t)(rs->n - i) * sizeof(*rs->r));
	rs->r[i] = *r;
	rs->n++;
	return KP_OK;
}

kp_err kp_reqs_add_all(struct kp_reqs *dst, struct kp_arena *a, const struct kp_reqs *src)
{
	if (!src)
		return KP_OK;
	if (dst->n == 0)
		return kp_reqs_copy(dst, a, src);
	for (int i = 0; i < src->n; i++) {
		kp_err rc = kp_reqs_add(dst, a, &src->r[i]);
		if (rc)
			return rc;
	}
	return KP_OK;
}

kp_err kp_reqs_copy(struct kp_reqs *dst, struct kp_arena *a, const struct kp_reqs *src)
{
	struct kp_reqs out = { 0 };

	if (src && src->n > 0) {
		out.r = kp_arena_memdup(a, src->r, (size_t)src->n * sizeof(*src->r));
		if (!out.r)
			return KP_ERR_NOMEM;
		out.n = out.cap = src->n;
	}
	*dst = out;
	return KP_OK;
}

kp_err kp_reqs_from_labels(struct kp_reqs *out, struct kp_arena *a, const struct kp_labels *l)
{
	kp_reqs_init(out);
	if (!l)
		return KP_OK;
	for (int i = 0; i < l->n; i++) {
		struct kp_req r = { 0 };
		const char **v = kp_arena_alloc(a, sizeof(*v));
		kp_err rc;

		if (!v)
			return KP_ERR_NOMEM;
		v[0] = l->kv[i].value ? l->kv[i].value : "";
		r.key = kp_label_intern(kp_label_normalize(l->kv[i].key));
		r.n = 1;
		r.values = v;
		rc = kp_reqs_add(out, a, &r);
		if (rc)
			return rc;
	}
	return KP_OK;
}

/* ---- compatibility ---- */

static bool op_is_negative(enum kp_op op)
{
	return op == KP_OP_NOTIN || op == KP_OP_DOESNOTEXIST;
}

static const char *key_suffix(const char *key)
{
	const char *s = strchr(key, '/');
	return s ? s + 1 : key;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return m <= n && memcmp(s + n - m, suffix, m) == 0;
}

/* The name key may be a typo of: a well-known key or a key rs defines that
 * contains it or shares its suffix. Deterministic (sorted lists). */
static const char *typo_hint(const struct kp_reqs *rs, const char *key, bool well_known)
{
	const char *suffix = key_suffix(key);

	if (well_known) {
		int n;
		const char *const *wk = kp_label_well_known_keys(&n);
		for (int i = 0; i < n; i++)
			if (strstr(wk[i], key) || ends_with(wk[i], suffix))
				return wk[i];
	}
	for (int i = 0; i < rs->n; i++)
		if (strstr(rs->r[i].key, key) || ends_with(rs->r[i].key, suffix))
			return rs->r[i].key;
	return NULL;
}

static bool reqs_intersects(const struct kp_reqs *rs, const struct kp_reqs *in, struct kp_errbuf *eb)
{
	const struct kp_reqs *small = rs->n <= in->n ? rs : in;
	const struct kp_reqs *large = small == rs ? in : rs;
	bool ok = true;
	size_t len = 0;
	int lo = 0;

	for (int s = 0; s < small->n && lo < large->n; s++) {
		int l = reqs_find(large, lo, small->r[s].key);
		const struct kp_req *existing, *incoming;

		if (l < 0) {
			lo = -l - 1;
			continue;
		}
		lo = l + 1;
		existing = small == rs ? &small->r[s] : &large->r[l];
		incoming = small == rs ? &large->r[l] : &small->r[s];
		if (kp_req_intersects(existing, incoming))
			continue;
		if (op_is_negative(kp_req_op(incoming)) && op_is_negative(kp_req_op(existing)))
			continue;
		ok = false;
		if (!eb)
			return false;
		/* like multierr: every failing key, joined with "; " */
		{
			char ib[512], xb[512];
			int k = snprintf(eb->msg + len, sizeof(eb->msg) - len, "%skey %s, %s not in %s",
					 len ? "; " : "", incoming->key,
					 kp_req_str(incoming, ib, sizeof(ib)),
					 kp_req_str(existing, xb, sizeof(xb)));
			eb->code = KP_ERR_INVALID;
			if (k > 0)
				len += (size_t)k;
			if (len >= sizeof(eb->msg) - 1)
				return false;
		}
	}
	return ok;
}

bool kp_reqs_intersects(const struct kp_reqs *rs, const struct kp_reqs *in, struct kp_errbuf *eb)
{
	return reqs_intersects(rs, in, eb);
}

static bool reqs_compatible(const struct kp_reqs *rs, const struct kp_reqs *in, bool allow_well_known,
			    struct kp_errbuf *eb)
{
	int lo = 0;

	for (int i = 0; i < in->n; i++) {
		const struct kp_req *r = &in->r[i];
		int at;

		if (allow_well_known && kp_label_is_well_known(r->key))
			continue;
		at = lo < rs->n ? reqs_find(rs, lo, r->key) : -rs->n - 1;
		if (at >= 0) {
			lo = at + 1;
			continue;
		}
		lo = -at - 1;
		if (op_is_negative(kp_req_op(r)))
			continue;
		if (eb) {
			const char *hint = typo_hint(rs, r->key, allow_well_known);
			if (hint)
				kp_errf(eb, KP_ERR_INVALID, "label \"%s\" does not have known values (typo of \"%s\"?)",
					r->key, hint);
			else
				kp_errf(eb, KP_ERR_INVALID, "label \"%s\" does not have known values", r->key);
		}
		return false;
	}
	return reqs_intersects(rs, in, eb);
}

bool kp_reqs_compatible(const struct kp_reqs *rs, const struct kp_reqs *in, struct kp_errbuf *eb)
{
	return reqs_compatible(rs, in, true, eb);
}

bool kp_reqs_compatible_strict(const struct kp_reqs *rs, const struct kp_reqs *in, struct kp_errbuf *eb)
{
	return reqs_compatible(rs, in, false, eb);
}

bool kp_reqs_match_labels(const struct kp_reqs *rs, const struct kp_labels *l, struct kp_errbuf *eb)
{
	for (int i = 0; i < rs->n; i++) {
		const struct kp_req *r = &rs->r[i];
		const char *v = l ? kp_labels_get(l, r->key) : NULL;
		char rb[512];

		if (!v) {
			if (op_is_negative(kp_req_op(r)))
				continue;
			if (eb)
				kp_errf(eb, KP_ERR_INVALID, "label \"%s\" does not have known values", r->key);
			return false;
		}
		if (kp_req_has(r, v))
			continue;
		if (eb)
			kp_errf(eb, KP_ERR_INVALID, "key %s, %s not in %s In [%s]",
				r->key, kp_req_str(r, rb, sizeof(rb)), r->key, v);
		return false;
	}
	return true;
}

bool kp_reqs_any_match_labels(const struct kp_reqs *terms, int n, const struct kp_labels *l)
{
	if (n <= 0)
		return true;
	for (int i = 0; i < n; i++)
		if (kp_reqs_match_labels(&terms[i], l, NULL))
			return true;
	return false;
}

kp_err kp_reqs_single_value_labels(const struct kp_reqs *rs, struct kp_arena *a, struct kp_labels *out)
{
	for (int i = 0; i < rs->n; i++) {
		const struct kp_req *r = &rs->r[i];
		kp_err rc;

		if (r->complement || r->n != 1)
			continue;
		rc = kp_labels_set(out, a, r->key, r->values[0]);
		if (rc)
			return rc;
	}
	return KP_OK;
}

/* Karpenter's Requirement.Any, made deterministic: the smallest listed value
 * for In; for NotIn/Exists the smallest integer >= max(gte, 0) that is in
 * bounds and not excluded; NULL for DoesNotExist or an empty range. */
static const char *req_any(const struct kp_req *r, struct kp_arena *a, bool *nomem)
{
	int64_t x, hi;

	*nomem = false;
	if (!r->complement)
		return r->n > 0 ? r->values[0] : NULL;
	x = r->has_gte && r->gte > 0 ? r->gte : 0;
	hi = r->has_lte ? r->lte : INT64_MAX;
	for (int tries = 0; x <= hi && tries <= r->n; tries++) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%lld", (long long)x);
		if (!values_has(r->values, r->n, buf)) {
			char *s = kp_arena_strdup(a, buf);
			*nomem = s == NULL;
			return s;
		}
		if (x == INT64_MAX)
			break;
		x++;
	}
	return NULL;
}

kp_err kp_reqs_custom_labels(const struct kp_reqs *rs, struct kp_arena *a, struct kp_labels *out)
{
	for (int i = 0; i < rs->n; i++) {
		const struct kp_req *r = &rs->r[i];
		const char *v;
		bool nomem;
		kp_err rc;

		if (kp_label_is_well_known(r->key) || strcmp(r->key, KP_LABEL_HOSTNAME) == 0 ||
		    strcmp(r->key, KP_LABEL_REGISTERED) == 0 || strcmp(r->key, KP_LABEL_INITIALIZED) == 0)
			continue;
		v = req_any(r, a, &nomem);
		if (nomem)
			return KP_ERR_NOMEM;
		if (!v || !*v)
			continue;
		rc = kp_labels_set(out, a, r->key, v);
		if (rc)
			return rc;
	}
	return KP_OK;
}
