/*
 * registry.c - the metrics registry: families, series and their updates.
 *
 * A family keeps its series in a chained hash table keyed by the tuple of
 * label values (FNV-1a over each value plus a 0xff separator, a byte that
 * never occurs in UTF-8, so tuples cannot collide by concatenation). One
 * malloc per series holds the struct, the value pointers, the histogram
 * buckets or summary window and the value strings.
 *
 * Invariants: every access to series and tables happens under the registry
 * mutex; families are sorted by name; a family's definition never changes.
 * Cost: an update is O(labels) hashing plus a chain walk, no allocation once
 * the series exists; a new series is one malloc (and a table doubling when the
 * load passes 1); delete_matching is O(series of the family).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_int.h"

const double kp_metrics_def_buckets[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
const size_t kp_metrics_def_nbuckets = KP_ARRAY_LEN(kp_metrics_def_buckets);

static const char *type_name(enum kp_metric_type t)
{
	switch (t) {
	case KP_METRIC_COUNTER: return "counter";
	case KP_METRIC_GAUGE: return "gauge";
	case KP_METRIC_HISTOGRAM: return "histogram";
	case KP_METRIC_SUMMARY: return "summary";
	}
	return "untyped";
}

/* ---- validation ---- */

static bool valid_metric_name(const char *s)
{
	if (!s || !*s)
		return false;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static bool valid_label_name(const char *s)
{
	if (!s || !*s || (s[0] == '_' && s[1] == '_'))
		return false;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool valid_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		unsigned c = *s;
		size_t n;
		unsigned cp;
		if (c < 0x80) {
			s++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, cp = c & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		s += n + 1;
	}
	return true;
}

/* ---- registry ---- */

struct kp_metrics *kp_metrics_new(void)
{
	struct kp_metrics *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (pthread_mutex_init(&r->mu, NULL)) {
		free(r);
		return NULL;
	}
	return r;
}

static void series_free_all(struct kp_metric *m)
{
	for (size_t i = 0; i < m->tcap; i++) {
		struct kp_series *s = m->table[i], *next;
		for (; s; s = next) {
			next = s->next;
			free(s);
		}
		m->table[i] = NULL;
	}
	m->nseries = 0;
}

static void family_free(struct kp_metric *m)
{
	if (!m)
		return;
	if (m->table)
		series_free_all(m);
	free(m->table);
	for (size_t i = 0; i < m->nlabels && m->labels; i++)
		free(m->labels[i]);
	free(m->labels);
	free(m->order);
	free(m->buckets);
	free(m->quantiles);
	free(m->name);
	free(m->help);
	free(m);
}

void kp_metrics_free(struct kp_metrics *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfams; i++)
		family_free(r->fams[i]);
	free(r->fams);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static struct kp_metrics *default_reg;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void)
{
	default_reg = kp_metrics_new();
}

struct kp_metrics *kp_metrics_default(void)
{
	pthread_once(&default_once, default_init);
	return default_reg;
}

/* Index of the first family whose name is >= name (caller holds the lock). */
static size_t fam_lower_bound(const struct kp_metrics *r, const char *name)
{
	size_t lo = 0, hi = r->nfams;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(r->fams[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct kp_metric *kp_metrics_find(struct kp_metrics *r, const char *name)
{
	struct kp_metric *m = NULL;
	pthread_mutex_lock(&r->mu);
	size_t i = fam_lower_bound(r, name);
	if (i < r->nfams && strcmp(r->fams[i]->name, name) == 0)
		m = r->fams[i];
	pthread_mutex_unlock(&r->mu);
	return m;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

/* Checks o; on success the definition can be built. */
static kp_err check_opts(const struct kp_metric_opts *o, const double **buckets, size_t *nb,
	struct kp_errbuf *eb)
{
	if (!valid_metric_name(o->name))
		return kp_errf(eb, KP_ERR_INVALID, "metric name \"%s\" is not valid", o->name ? o->name : "");
	if (!o->help)
		return kp_errf(eb, KP_ERR_INVALID, "metric %s: help is missing", o->name);
	if (o->type > KP_METRIC_SUMMARY)
		return kp_errf(eb, KP_ERR_INVALID, "metric %s: unknown type %d", o->name, (int)o->type);
	if (o->nlabels > KP_METRICS_MAX_LABELS)
		return kp_errf(eb, KP_ERR_LIMIT, "metric %s: %zu labels, at most %d", o->name, o->nlabels,
			KP_METRICS_MAX_LABELS);
	for (size_t i = 0; i < o->nlabels; i++) {
		const char *l = o->labels[i];
		if (!valid_label_name(l))
			return kp_errf(eb, KP_ERR_INVALID, "metric %s: label name \"%s\" is not valid", o->name,
				l ? l : "");
		if ((o->type == KP_METRIC_HISTOGRAM && strcmp(l, "le") == 0) ||
		    (o->type == KP_METRIC_SUMMARY && strcmp(l, "quantile") == 0))
			return kp_errf(eb, KP_ERR_INVALID, "metric %s: label name \"%s\" is reserved", o->name, l);
		for (size_t j = 0; j < i; j++)
			if (strcmp(o->labels[j], l) == 0)
				return kp_errf(eb, KP_ERR_INVALID, "metric %s: duplicate label \"%s\"", o->name, l);
	}
	*buckets = NULL;
	*nb = 0;
	if (o->type == KP_METRIC_HISTOGRAM) {
		*buckets = o->buckets ? o->buckets : kp_metrics_def_buckets;
		*nb = o->buckets ? o->nbuckets : kp_metrics_def_nbuckets;
		if (*nb > KP_METRICS_MAX_BUCKETS)
			return kp_errf(eb, KP_ERR_LIMIT, "metric %s: %zu buckets, at most %d", o->name, *nb,
				KP_METRICS_MAX_BUCKETS);
		for (size_t i = 0; i < *nb; i++) {
			if (isnan((*buckets)[i]) || (i > 0 && !((*buckets)[i] > (*buckets)[i - 1])))
				return kp_errf(eb, KP_ERR_INVALID, "metric %s: buckets must be strictly ascending",
					o->name);
		}
		/* A trailing +Inf bound is implicit: drop an explicit one, as client_golang does. */
		if (*nb && isinf((*buckets)[*nb - 1]) && (*buckets)[*nb - 1] > 0)
			(*nb)--;
	}
	if (o->type == KP_METRIC_SUMMARY) {
		if (o->nquantiles > KP_METRICS_MAX_QUANTILES)
			return kp_errf(eb, KP_ERR_LIMIT, "metric %s: %zu quantiles, at most %d", o->name,
				o->nquantiles, KP_METRICS_MAX_QUANTILES);
		for (size_t i = 0; i < o->nquantiles; i++) {
			double q = o->quantiles[i];
			if (!(q >= 0 && q <= 1) || (i > 0 && !(q > o->quantiles[i - 1])))
				return kp_errf(eb, KP_ERR_INVALID,
					"metric %s: quantiles must be ascending within [0, 1]", o->name);
		}
	}
	return KP_OK;
}

/* True if existing family m has exactly the definition in o. */
static bool same_definition(const struct kp_metric *m, const struct kp_metric_opts *o, const double *b,
	size_t nb)
{
	if (m->type != o->type || m->nlabels != o->nlabels || strcmp(m->help, o->help) != 0)
		return false;
	for (size_t i = 0; i < m->nlabels; i++)
		if (strcmp(m->labels[i], o->labels[i]) != 0)
			return false;
	if (m->nbuckets != nb || (nb && memcmp(m->buckets, b, nb * sizeof(double)) != 0))
		return false;
	if (m->type == KP_METRIC_SUMMARY &&
	    (m->nquantiles != o->nquantiles ||
	     (o->nquantiles && memcmp(m->quantiles, o->quantiles, o->nquantiles * sizeof(double)) != 0)))
		return false;
	return true;
}

static struct kp_metric *family_build(struct kp_metrics *r, const struct kp_metric_opts *o, const double *b,
	size_t nb)
{
	struct kp_metric *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->reg = r;
	m->type = o->type;
	m->nlabels = o->nlabels;
	m->max_series = o->max_series ? o->max_series : KP_METRICS_DEFAULT_MAX_SERIES;
	m->name = xstrdup(o->name);
	m->help = xstrdup(o->help);
	m->labels = calloc(o->nlabels + 1, sizeof(char *));
	m->order = calloc(o->nlabels + 1, sizeof(size_t));
	m->tcap = 16;
	m->table = calloc(m->tcap, sizeof(*m->table));
	if (!m->name || !m->help || !m->labels || !m->order || !m->table)
		goto fail;
	for (size_t i = 0; i < o->nlabels; i++) {
		m->labels[i] = xstrdup(o->labels[i]);
		if (!m->labels[i])
			goto fail;
		m->order[i] = i;
	}
	/* Insertion sort by name: few labels, no comparator context needed. */
	for (size_t i = 1; i < m->nlabels; i++) {
		size_t k = m->order[i], j = i;
		while (j > 0 && strcmp(m->labels[m->order[j - 1]], m->labels[k]) > 0) {
			m->order[j] = m->order[j - 1];
			j--;
		}
		m->order[j] = k;
	}
	if (nb) {
		m->buckets = malloc(nb * sizeof(double));
		if (!m->buckets)
			goto fail;
		memcpy(m->buckets, b, nb * sizeof(double));
		m->nbuckets = nb;
	}
	if (o->type == KP_METRIC_SUMMARY && o->nquantiles) {
		m->quantiles = malloc(o->nquantiles * sizeof(double));
		if (!m->quantiles)
			goto fail;
		memcpy(m->quantiles, o->quantiles, o->nquantiles * sizeof(double));
		m->nquantiles = o->nquantiles;
	}
	return m;
fail:
	family_free(m);
	return NULL;
}

kp_err kp_metrics_register(struct kp_metrics *r, const struct kp_metric_opts *o, struct kp_metric **out,
	struct kp_errbuf *eb)
{
	const double *b = NULL;
	size_t nb = 0, i;
	kp_err rc = check_opts(o, &b, &nb, eb);
	if (rc)
		return rc;

	pthread_mutex_lock(&r->mu);
	i = fam_lower_bound(r, o->name);
	if (i < r->nfams && strcmp(r->fams[i]->name, o->name) == 0) {
		struct kp_metric *m = r->fams[i];
		if (!same_definition(m, o, b, nb)) {
			rc = kp_errf(eb, KP_ERR_INVALID, "metric %s: already registered as a different %s", o->name,
				type_name(m->type));
			goto out;
		}
		if (out)
			*out = m;
		goto out;
	}
	if (r->nfams == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct kp_metric **f = realloc(r->fams, cap * sizeof(*f));
		if (!f) {
			rc = kp_errf(eb, KP_ERR_NOMEM, "metric %s: out of memory", o->name);
			goto out;
		}
		r->fams = f;
		r->cap = cap;
	}
	struct kp_metric *m = family_build(r, o, b, nb);
	if (!m) {
		rc = kp_errf(eb, KP_ERR_NOMEM, "metric %s: out of memory", o->name);
		goto out;
	}
	memmove(r->fams + i + 1, r->fams + i, (r->nfams - i) * sizeof(*r->fams));
	r->fams[i] = m;
	r->nfams++;
	if (out)
		*out = m;
out:
	pthread_mutex_unlock(&r->mu);
	return rc;
}

const char *kp_metrics_name(const struct kp_metric *m) { return m->name; }
enum kp_metric_type kp_metrics_type(const struct kp_metric *m) { return m->type; }
size_t kp_metrics_nlabels(const struct kp_metric *m) { return m->nlabels; }
const char *kp_metrics_label(const struct kp_metric *m, size_t i) { return i < m->nlabels ? m->labels[i] : NULL; }

size_t kp_metrics_series_count(struct kp_metric *m)
{
	pthread_mutex_lock(&m->reg->mu);
	size_t n = m->nseries;
	pthread_mutex_unlock(&m->reg->mu);
	return n;
}

/* ---- series lookup ---- */

static const char *val(const char *const *values, size_t i)
{
	return values[i] ? values[i] : "";
}

static uint64_t hash_values(const char *const *values, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *p = (const unsigned char *)val(values, i); *p; p++) {
			h ^= *p;
			h *= 1099511628211ULL;
		}
		h ^= 0xff;
		h *= 1099511628211ULL;
	}
	return h;
}

static bool same_values(const struct kp_series *s, const char *const *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->values[i], val(values, i)) != 0)
			return false;
	return true;
}

/* Caller holds the lock. */
static struct kp_series **series_slot(struct kp_metric *m, const char *const *values, size_t n, uint64_t h)
{
	struct kp_series **pp = &m->table[h & (m->tcap - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && same_values(*pp, values, n))
			return pp;
	return pp;
}

static void table_grow(struct kp_metric *m)
{
	size_t cap = m->tcap * 2;
	struct kp_series **t = calloc(cap, sizeof(*t));
	if (!t)
		return;   /* keep the old table: longer chains, still correct */
	for (size_t i = 0; i < m->tcap; i++) {
		struct kp_series *s = m->table[i], *next;
		for (; s; s = next) {
			next = s->next;
			s->next = t[s->hash & (cap - 1)];
			t[s->hash & (cap - 1)] = s;
		}
	}
	free(m->table);
	m->table = t;
	m->tcap = cap;
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Creates a series (caller holds the lock and checked values). */
static kp_err series_create(struct kp_metric *m, const char *const *values, size_t n, uint64_t h,
	struct kp_series **out)
{
	size_t nb = m->type == KP_METRIC_HISTOGRAM ? m->nbuckets + 1 : 0;
	size_t nw = m->type == KP_METRIC_SUMMARY && m->nquantiles ? KP_METRICS_SUMMARY_WINDOW : 0;
	size_t head = align8(sizeof(struct kp_series) + n * sizeof(char *));
	size_t size = head + nb * sizeof(uint64_t) + nw * sizeof(double);
	size_t lens[KP_METRICS_MAX_LABELS];

	if (m->nseries >= m->max_series)
		return KP_ERR_LIMIT;
	for (size_t i = 0; i < n; i++) {
		lens[i] = strlen(val(values, i)) + 1;
		size += lens[i];
	}
	char *p = calloc(1, size);
	if (!p)
		return KP_ERR_NOMEM;
	struct kp_series *s = (struct kp_series *)p;
	s->fam = m;
	s->hash = h;
	s->buckets = nb ? (uint64_t *)(p + head) : NULL;
	s->window = nw ? (double *)(p + head + nb * sizeof(uint64_t)) : NULL;
	char *str = p + head + nb * sizeof(uint64_t) + nw * sizeof(double);
	for (size_t i = 0; i < n; i++) {
		memcpy(str, val(values, i), lens[i]);
		s->values[i] = str;
		str += lens[i];
	}
	if (m->nseries >= m->tcap)
		table_grow(m);
	struct kp_series **slot = &m->table[h & (m->tcap - 1)];
	s->next = *slot;
	*slot = s;
	m->nseries++;
	*out = s;
	return KP_OK;
}

/* Finds or creates; caller holds the lock. */
static kp_err series_get(struct kp_metric *m, const char *const *values, size_t n, struct kp_series **out)
{
	if (n != m->nlabels)
		return KP_ERR_INVALID;
	uint64_t h = hash_values(values, n);
	struct kp_series **pp = series_slot(m, values, n, h);
	if (*pp) {
		*out = *pp;
		return KP_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (!valid_utf8(val(values, i)))
			return KP_ERR_INVALID;
	return series_create(m, values, n, h, out);
}

/* ---- updates (caller holds the lock) ---- */

static kp_err do_add(struct kp_series *s, double v)
{
	enum kp_metric_type t = s->fam->type;
	if (t == KP_METRIC_COUNTER) {
		if (!(v >= 0))
			return KP_ERR_INVALID;
	} else if (t != KP_METRIC_GAUGE) {
		return KP_ERR_INVALID;
	}
	s->value += v;
	return KP_OK;
}

static kp_err do_set(struct kp_series *s, double v)
{
	if (s->fam->type != KP_METRIC_GAUGE)
		return KP_ERR_INVALID;
	s->value = v;
	return KP_OK;
}

static kp_err do_observe(struct kp_series *s, double v)
{
	struct kp_metric *m = s->fam;
	if (m->type == KP_METRIC_HISTOGRAM) {
		/* First bucket whose upper bound is >= v; NaN lands in +Inf like client_golang. */
		size_t lo = 0, hi = m->nbuckets;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (m->buckets[mid] < v)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (isnan(v))
			lo = m->nbuckets;
		s->buckets[lo]++;
	} else if (m->type == KP_METRIC_SUMMARY) {
		if (s->window) {
			s->window[s->wpos] = v;
			s->wpos = (s->wpos + 1) % KP_METRICS_SUMMARY_WINDOW;
			if (s->wlen < KP_METRICS_SUMMARY_WINDOW)
				s->wlen++;
		}
	} else {
		return KP_ERR_INVALID;
	}
	s->value += v;
	s->count++;
	return KP_OK;
}

enum op { OP_ADD, OP_SET, OP_OBSERVE };

static kp_err update(struct kp_metric *m, const char *const *values, size_t n, enum op op, double v)
{
	struct kp_series *s;
	kp_err rc;

	/* Reject the wrong kind of update before creating a series for it. */
	if ((op == OP_SET && m->type != KP_METRIC_GAUGE) ||
	    (op == OP_ADD && m->type != KP_METRIC_GAUGE && m->type != KP_METRIC_COUNTER) ||
	    (op == OP_OBSERVE && m->type != KP_METRIC_HISTOGRAM && m->type != KP_METRIC_SUMMARY) ||
	    (op == OP_ADD && m->type == KP_METRIC_COUNTER && !(v >= 0)))
		return KP_ERR_INVALID;
	pthread_mutex_lock(&m->reg->mu);
	rc = series_get(m, values, n, &s);
	if (!rc)
		rc = op == OP_ADD ? do_add(s, v) : op == OP_SET ? do_set(s, v) : do_observe(s, v);
	pthread_mutex_unlock(&m->reg->mu);
	return rc;
}

kp_err kp_metrics_inc(struct kp_metric *m, const char *const *values, size_t n)
{
	return update(m, values, n, OP_ADD, 1);
}

kp_err kp_metrics_add(struct kp_metric *m, const char *const *values, size_t n, double v)
{
	return update(m, values, n, OP_ADD, v);
}

kp_err kp_metrics_set(struct kp_metric *m, const char *const *values, size_t n, double v)
{
	return update(m, values, n, OP_SET, v);
}

kp_err kp_metrics_observe(struct kp_metric *m, const char *const *values, size_t n, double v)
{
	return update(m, values, n, OP_OBSERVE, v);
}

kp_err kp_metrics_series(struct kp_metric *m, const char *const *values, size_t n, struct kp_series **out)
{
	pthread_mutex_lock(&m->reg->mu);
	kp_err rc = series_get(m, values, n, out);
	pthread_mutex_unlock(&m->reg->mu);
	return rc;
}

kp_err kp_metrics_series_add(struct kp_series *s, double v)
{
	struct kp_metrics *r = s->fam->reg;
	pthread_mutex_lock(&r->mu);
	kp_err rc = do_add(s, v);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

kp_err kp_metrics_series_set(struct kp_series *s, double v)
{
	struct kp_metrics *r = s->fam->reg;
	pthread_mutex_lock(&r->mu);
	kp_err rc = do_set(s, v);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

kp_err kp_metrics_series_observe(struct kp_series *s, double v)
{
	struct kp_metrics *r = s->fam->reg;
	pthread_mutex_lock(&r->mu);
	kp_err rc = do_observe(s, v);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* ---- reads ---- */

kp_err kp_metrics_value(struct kp_metric *m, const char *const *values, size_t n, double *value,
	uint64_t *count)
{
	kp_err rc = KP_ERR_NOTFOUND;
	if (n != m->nlabels)
		return KP_ERR_INVALID;
	pthread_mutex_lock(&m->reg->mu);
	struct kp_series *s = *series_slot(m, values, n, hash_values(values, n));
	if (s) {
		if (value)
			*value = s->value;
		if (count)
			*count = s->count;
		rc = KP_OK;
	}
	pthread_mutex_unlock(&m->reg->mu);
	return rc;
}

kp_err kp_metrics_bucket(struct kp_metric *m, const char *const *values, size_t n, size_t i, uint64_t *count)
{
	kp_err rc = KP_ERR_NOTFOUND;
	if (n != m->nlabels || m->type != KP_METRIC_HISTOGRAM || i > m->nbuckets)
		return KP_ERR_INVALID;
	pthread_mutex_lock(&m->reg->mu);
	struct kp_series *s = *series_slot(m, values, n, hash_values(values, n));
	if (s) {
		uint64_t c = 0;
		for (size_t k = 0; k <= i; k++)
			c += s->buckets[k];
		*count = c;
		rc = KP_OK;
	}
	pthread_mutex_unlock(&m->reg->mu);
	return rc;
}

/* ---- deletion ---- */

kp_err kp_metrics_delete(struct kp_metric *m, const char *const *values, size_t n)
{
	kp_err rc = KP_ERR_NOTFOUND;
	if (n != m->nlabels)
		return KP_ERR_INVALID;
	pthread_mutex_lock(&m->reg->mu);
	struct kp_series **pp = series_slot(m, values, n, hash_values(values, n));
	if (*pp) {
		struct kp_series *s = *pp;
		*pp = s->next;
		free(s);
		m->nseries--;
		rc = KP_OK;
	}
	pthread_mutex_unlock(&m->reg->mu);
	return rc;
}

size_t kp_metrics_delete_matching(struct kp_metric *m, const char *label, const char *value)
{
	size_t li, deleted = 0;
	for (li = 0; li < m->nlabels; li++)
		if (strcmp(m->labels[li], label) == 0)
			break;
	if (li == m->nlabels)
		return 0;
	if (!value)
		value = "";
	pthread_mutex_lock(&m->reg->mu);
	for (size_t i = 0; i < m->tcap; i++) {
		struct kp_series **pp = &m->table[i];
		while (*pp) {
			struct kp_series *s = *pp;
			if (strcmp(s->values[li], value) == 0) {
				*pp = s->next;
				free(s);
				m->nseries--;
				deleted++;
			} else {
				pp = &s->next;
			}
		}
	}
	pthread_mutex_unlock(&m->reg->mu);
	return deleted;
}

void kp_metrics_reset(struct kp_metric *m)
{
	pthread_mutex_lock(&m->reg->mu);
	series_free_all(m);
	pthread_mutex_unlock(&m->reg->mu);
}
