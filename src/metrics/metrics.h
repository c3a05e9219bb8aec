/*
 * metrics.h - Prometheus metrics registry and text exposition (format 0.0.4).
 *
 * Invariants:
 *   - A registry owns families (struct kp_metric); a family owns its series
 *     (one per distinct tuple of label values). Names, help and label names
 *     are copied at registration; label values are copied at series creation.
 *   - Everything is guarded by one mutex per registry: any thread may register,
 *     update, delete or expose at any time.
 *   - Updating a series that exists allocates nothing: a hash lookup under the
 *     lock, then the update. Only the first update of a new label tuple
 *     allocates (one malloc holding the series, its buckets and its values).
 *   - Exposition is deterministic: families by name, series by label values in
 *     label-name order, labels printed sorted by name with `le`/`quantile` last,
 *     numbers as Go's strconv 'g' shortest form (what client_golang prints).
 *     Families with no series are not printed, as client_golang does.
 *   - The process-wide registry (kp_metrics_default) is the only global mutable
 *     state of the project; tests make their own with kp_metrics_new.
 *
 * Life cycle: kp_metrics_new() -> kp_metrics_register*() -> updates from any
 * thread -> kp_metrics_write() -> kp_metrics_free(). A struct kp_metric pointer
 * is valid until the registry is freed. A struct kp_series pointer (from
 * kp_metrics_series) is valid until a delete that matches it; code that deletes
 * series of a family must not cache series of that family.
 */
#ifndef KARPENTER_METRICS_H
#define KARPENTER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "karpenter/base.h"

enum kp_metric_type {
	KP_METRIC_COUNTER,
	KP_METRIC_GAUGE,
	KP_METRIC_HISTOGRAM,
	KP_METRIC_SUMMARY,
};

struct kp_metrics;   /* registry */
struct kp_metric;    /* family: name, help, type, label names, series */
struct kp_series;    /* one label-value tuple of a family */

#define KP_METRICS_MAX_LABELS 48        /* label names per family */
#define KP_METRICS_MAX_BUCKETS 64       /* histogram upper bounds, excluding +Inf */
#define KP_METRICS_MAX_QUANTILES 16     /* summary objectives */
#define KP_METRICS_DEFAULT_MAX_SERIES 100000 /* per family, unless opts say otherwise */
#define KP_METRICS_SUMMARY_WINDOW 512   /* observations a summary keeps for quantiles */

struct kp_metric_opts {
	const char *name;                  /* full name, e.g. "karpenter_nodes_created_total" */
	const char *help;                  /* one line; escaped on output */
	enum kp_metric_type type;
	const char *const *labels;         /* label names, in the order values are passed */
	size_t nlabels;
	const double *buckets;             /* histogram upper bounds, ascending; NULL = kp_metrics_def_buckets */
	size_t nbuckets;
	const double *quantiles;           /* summary objectives in [0,1]; NULL/0 = none (sum and count only) */
	size_t nquantiles;
	size_t max_series;                 /* 0 = KP_METRICS_DEFAULT_MAX_SERIES */
};

/* prometheus.DefBuckets: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10 */
extern const double kp_metrics_def_buckets[];
extern const size_t kp_metrics_def_nbuckets;

/* Builds a label-value argument list: kp_metrics_inc(m, KP_LV("a", "b")). */
#define KP_LV(...) ((const char *const[]){__VA_ARGS__}), \
	(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* ---- registry ---- */
/* A new empty registry, or NULL on out of memory. */
struct kp_metrics *kp_metrics_new(void);
/* Frees the registry, its families and series. NULL is a no-op. */
void kp_metrics_free(struct kp_metrics *r);
/* The process-wide registry, created on first use (NULL only on out of memory). */
struct kp_metrics *kp_metrics_default(void);

/* Registers a family. Registering a name again with the same type, labels and
 * buckets returns the existing family; anything else with that name is
 * KP_ERR_INVALID, as are bad names, a reserved label (`le` in a histogram,
 * `quantile` in a summary, `__` prefix), duplicate labels or unsorted buckets.
 * *out may be NULL. */
kp_err kp_metrics_register(struct kp_metrics *r, const struct kp_metric_opts *o, struct kp_metric **out,
	struct kp_errbuf *eb);
/* The family named name, or NULL. */
struct kp_metric *kp_metrics_find(struct kp_metrics *r, const char *name);
/* Family accessors (immutable after registration, no lock needed). */
const char *kp_metrics_name(const struct kp_metric *m);
enum kp_metric_type kp_metrics_type(const struct kp_metric *m);
size_t kp_metrics_nlabels(const struct kp_metric *m);
const char *kp_metrics_label(const struct kp_metric *m, size_t i);
/* Number of series the family holds now. */
size_t kp_metrics_series_count(struct kp_metric *m);

/* ---- updates by label values ----
 * values holds one string per label name, in registration order (NULL counts
 * as ""). Errors: KP_ERR_INVALID for a wrong count, invalid UTF-8, the wrong
 * kind of update (observe on a counter) or a negative/NaN counter increment;
 * KP_ERR_LIMIT when a new series would pass max_series; KP_ERR_NOMEM. */
kp_err kp_metrics_inc(struct kp_metric *m, const char *const *values, size_t n);
kp_err kp_metrics_add(struct kp_metric *m, const char *const *values, size_t n, double v);
kp_err kp_metrics_set(struct kp_metric *m, const char *const *values, size_t n, double v);
kp_err kp_metrics_observe(struct kp_metric *m, const char *const *values, size_t n, double v);

/* Finds or creates a series and returns a handle for repeated updates. */
kp_err kp_metrics_series(struct kp_metric *m, const char *const *values, size_t n, struct kp_series **out);
kp_err kp_metrics_series_add(struct kp_series *s, double v);      /* counter (v >= 0) or gauge */
kp_err kp_metrics_series_set(struct kp_series *s, double v);      /* gauge */
kp_err kp_metrics_series_observe(struct kp_series *s, double v);  /* histogram or summary */

/* Reads a series without creating it: counter/gauge value, or for histograms
 * and summaries the sum and count. KP_ERR_NOTFOUND if there is no such series.
 * Either out pointer may be NULL. */
kp_err kp_metrics_value(struct kp_metric *m, const char *const *values, size_t n, double *value,
	uint64_t *count);
/* Cumulative count of bucket i (i == nbuckets is +Inf) of a histogram series. */
kp_err kp_metrics_bucket(struct kp_metric *m, const char *const *values, size_t n, size_t i,
	uint64_t *count);

/* ---- deletion ---- */
/* Deletes one series; KP_ERR_NOTFOUND if it does not exist. */
kp_err kp_metrics_delete(struct kp_metric *m, const char *const *values, size_t n);
/* Deletes every series whose label `label` equals value (DeletePartialMatch,
 * e.g. all series of a removed NodePool); returns how many were deleted. */
size_t kp_metrics_delete_matching(struct kp_metric *m, const char *label, const char *value);
/* Deletes every series of the family (Reset). */
void kp_metrics_reset(struct kp_metric *m);

/* ---- exposition ---- */
/* Appends the text exposition (format 0.0.4) of every family to out.
 * KP_ERR_LIMIT if out's cap is reached (out then holds a truncated prefix),
 * KP_ERR_NOMEM. Content type: kp_metrics_content_type. */
kp_err kp_metrics_write(struct kp_metrics *r, struct kp_buf *out, struct kp_errbuf *eb);
extern const char kp_metrics_content_type[];

/* Formats v as Go's strconv.FormatFloat(v, 'g', -1, 64) with +Inf/-Inf/NaN
 * spelled as Prometheus does; buf needs 32 bytes. Returns buf. */
char *kp_metrics_format_float(double v, char *buf, size_t n);

#endif
