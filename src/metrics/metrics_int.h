/*
 * metrics_int.h - internals shared by registry.c and expose.c; nothing else
 * includes this. All fields of a family after registration are immutable
 * except the series table, which, like every series value, is guarded by the
 * registry mutex.
 */
#ifndef KARPENTER_METRICS_INT_H
#define KARPENTER_METRICS_INT_H

#include <pthread.h>

#include "metrics/metrics.h"

struct kp_series {
	struct kp_series *next;     /* hash chain */
	struct kp_metric *fam;
	uint64_t hash;              /* of the label values */
	double value;               /* counter/gauge value; sum for histogram and summary */
	uint64_t count;             /* observations (histogram, summary) */
	uint64_t *buckets;          /* histogram: nbuckets + 1 per-bucket counts, last = above every bound */
	double *window;             /* summary: ring of the last KP_METRICS_SUMMARY_WINDOW observations */
	size_t wlen;                /* filled entries of window */
	size_t wpos;                /* next slot to write */
	const char *values[];       /* nlabels values, stored in the same allocation */
};

struct kp_metric {
	struct kp_metrics *reg;
	char *name;
	char *help;
	enum kp_metric_type type;
	size_t nlabels;
	char **labels;              /* registration order */
	size_t *order;              /* label indices sorted by label name */
	double *buckets;            /* histogram upper bounds, ascending, no +Inf */
	size_t nbuckets;
	double *quantiles;          /* summary objectives, ascending */
	size_t nquantiles;
	size_t max_series;
	struct kp_series **table;   /* chained hash table, tcap a power of two */
	size_t tcap;
	size_t nseries;
};

struct kp_metrics {
	pthread_mutex_t mu;
	struct kp_metric **fams;    /* sorted by name */
	size_t nfams;
	size_t cap;
};

#endif
