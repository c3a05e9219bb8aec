/*
 * expose.c - writes a registry in the Prometheus text exposition format 0.0.4.
 *
 * Output matches what client_golang prints for the same data: families sorted
 * by name, each with HELP (backslash and newline escaped) and TYPE, series
 * sorted by label values taken in label-name order, labels printed sorted by
 * name, `le`/`quantile` last, cumulative histogram buckets ending at +Inf, then
 * _sum and _count; numbers in Go's shortest 'g' form. Empty families are left
 * out.
 *
 * Invariants: the registry lock is held for the whole write, so a scrape is a
 * consistent snapshot. Cost: O(series * log series) per family for the sort,
 * plus O(window log window) per summary series for its quantiles.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_int.h"

const char kp_metrics_content_type[] = "text/plain; version=0.0.4; charset=utf-8";

char *kp_metrics_format_float(double v, char *buf, size_t n)
{
	char tmp[40];
	int p, exp;

	if (isnan(v)) {
		snprintf(buf, n, "NaN");
		return buf;
	}
	if (isinf(v)) {
		snprintf(buf, n, v > 0 ? "+Inf" : "-Inf");
		return buf;
	}
	if (v == 0) {
		snprintf(buf, n, "0");
		return buf;
	}
	/* Shortest number of significant digits that reads back exactly. */
	for (p = 1; p < 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
	const char *e = strchr(tmp, 'e');
	exp = e ? (int)strtol(e + 1, NULL, 10) : 0;
	/* Go's shortest 'g' switches to exponent form below 1e-4 and from 1e6 (eprec = 6). */
	if (exp < -4 || exp >= 6) {
		snprintf(buf, n, "%s", tmp);
	} else {
		int dec = p - 1 - exp;
		snprintf(buf, n, "%.*f", dec > 0 ? dec : 0, v);
	}
	return buf;
}

/* Appends s with \, " (if quote) and newline escaped. */
static kp_err add_escaped(struct kp_buf *b, const char *s, bool quote)
{
	const char *run = s;
	kp_err rc = KP_OK;
	for (; *s && !rc; s++) {
		const char *rep = NULL;
		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (quote && *s == '"')
			rep = "\\\"";
		if (!rep)
			continue;
		rc = kp_buf_add(b, run, (size_t)(s - run));
		if (!rc)
			rc = kp_buf_addstr(b, rep);
		run = s + 1;
	}
	if (!rc)
		rc = kp_buf_add(b, run, (size_t)(s - run));
	return rc;
}

/* name[suffix]{sorted labels[,extra="extraval"]} value\n */
static kp_err write_sample(struct kp_buf *b, const struct kp_series *s, const char *suffix, const char *extra,
	const char *extraval, double v)
{
	const struct kp_metric *m = s->fam;
	char num[40];
	kp_err rc = kp_buf_addstr(b, m->name);
	if (!rc && suffix)
		rc = kp_buf_addstr(b, suffix);
	if (!rc && (m->nlabels || extra)) {
		rc = kp_buf_add(b, "{", 1);
		for (size_t i = 0; i < m->nlabels && !rc; i++) {
			size_t k = m->order[i];
			rc = kp_buf_printf(b, "%s%s=\"", i ? "," : "", m->labels[k]);
			if (!rc)
				rc = add_escaped(b, s->values[k], true);
			if (!rc)
				rc = kp_buf_add(b, "\"", 1);
		}
		if (!rc && extra)
			rc = kp_buf_printf(b, "%s%s=\"%s\"", m->nlabels ? "," : "", extra, extraval);
		if (!rc)
			rc = kp_buf_add(b, "}", 1);
	}
	if (!rc)
		rc = kp_buf_printf(b, " %s\n", kp_metrics_format_float(v, num, sizeof(num)));
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static kp_err write_series(struct kp_buf *b, const struct kp_series *s)
{
	const struct kp_metric *m = s->fam;
	char le[40];
	kp_err rc = KP_OK;

	switch (m->type) {
	case KP_METRIC_COUNTER:
	case KP_METRIC_GAUGE:
		return write_sample(b, s, NULL, NULL, NULL, s->value);
	case KP_METRIC_HISTOGRAM: {
		uint64_t cum = 0;
		for (size_t i = 0; i < m->nbuckets && !rc; i++) {
			cum += s->buckets[i];
			rc = write_sample(b, s, "_bucket", "le", kp_metrics_format_float(m->buckets[i], le, sizeof(le)),
				(double)cum);
		}
		if (!rc)
			rc = write_sample(b, s, "_bucket", "le", "+Inf", (double)s->count);
		break;
	}
	case KP_METRIC_SUMMARY: {
		double w[KP_METRICS_SUMMARY_WINDOW];
		size_t n = s->wlen;
		if (n)
			memcpy(w, s->window, n * sizeof(double));
		qsort(w, n, sizeof(double), cmp_double);
		for (size_t i = 0; i < m->nquantiles && !rc; i++) {
			double q = m->quantiles[i], v = NAN;
			if (n) {
				/* Nearest rank: the smallest observation with at least q of the window at or below it. */
				double r = ceil(q * (double)n);
				size_t k = r < 1 ? 0 : (size_t)r - 1;
				v = w[k < n ? k : n - 1];
			}
			rc = write_sample(b, s, NULL, "quantile", kp_metrics_format_float(q, le, sizeof(le)), v);
		}
		break;
	}
	}
	if (!rc)
		rc = write_sample(b, s, "_sum", NULL, NULL, s->value);
	if (!rc)
		rc = write_sample(b, s, "_count", NULL, NULL, (double)s->count);
	return rc;
}

static int cmp_series(const void *a, const void *b)
{
	const struct kp_series *x = *(const struct kp_series *const *)a;
	const struct kp_series *y = *(const struct kp_series *const *)b;
	const struct kp_metric *m = x->fam;
	for (size_t i = 0; i < m->nlabels; i++) {
		int c = strcmp(x->values[m->order[i]], y->values[m->order[i]]);
		if (c)
			return c;
	}
	return 0;
}

static const char *type_word(enum kp_metric_type t)
{
	switch (t) {
	case KP_METRIC_COUNTER: return "counter";
	case KP_METRIC_GAUGE: return "gauge";
	case KP_METRIC_HISTOGRAM: return "histogram";
	case KP_METRIC_SUMMARY: return "summary";
	}
	return "untyped";
}

static kp_err write_family(struct kp_buf *b, struct kp_metric *m, struct kp_errbuf *eb)
{
	struct kp_series **v;
	size_t n = 0;
	kp_err rc;

	if (!m->nseries)
		return KP_OK;
	v = malloc(m->nseries * sizeof(*v));
	if (!v)
		return kp_errf(eb, KP_ERR_NOMEM, "metric %s: out of memory", m->name);
	for (size_t i = 0; i < m->tcap; i++)
		for (struct kp_series *s = m->table[i]; s; s = s->next)
			v[n++] = s;
	qsort(v, n, sizeof(*v), cmp_series);

	rc = kp_buf_printf(b, "# HELP %s ", m->name);
	if (!rc)
		rc = add_escaped(b, m->help, false);
	if (!rc)
		rc = kp_buf_printf(b, "\n# TYPE %s %s\n", m->name, type_word(m->type));
	for (size_t i = 0; i < n && !rc; i++)
		rc = write_series(b, v[i]);
	free(v);
	if (rc)
		return kp_errf(eb, rc, "metric %s: %s", m->name,
			rc == KP_ERR_LIMIT ? "exposition is larger than its buffer" : kp_err_str(rc));
	return KP_OK;
}

kp_err kp_metrics_write(struct kp_metrics *r, struct kp_buf *out, struct kp_errbuf *eb)
{
	kp_err rc = KP_OK;
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->nfams && !rc; i++)
		rc = write_family(out, r->fams[i], eb);
	pthread_mutex_unlock(&r->mu);
	return rc;
}
