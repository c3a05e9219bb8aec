/*
 * test_metrics.c - metrics registry and Prometheus text exposition: golden
 * output (escaping, ordering, histogram buckets, summaries), number format,
 * registration rules, label cardinality and deletion, thread safety, and the
 * Karpenter family set.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/karpenter.h"

/* Exposition of r as a malloc'ed string. */
static char *expose(struct kp_metrics *r)
{
	struct kp_buf b;
	struct kp_errbuf eb = {0};
	kp_buf_init(&b, 64u << 20);
	kp_err rc = kp_metrics_write(r, &b, &eb);
	assert_int_equal(rc, KP_OK);
	return kp_buf_take(&b);
}

static struct kp_metric *reg(struct kp_metrics *r, const struct kp_metric_opts *o)
{
	struct kp_metric *m = NULL;
	struct kp_errbuf eb = {0};
	kp_err rc = kp_metrics_register(r, o, &m, &eb);
	if (rc)
		fail_msg("register %s: %s", o->name, eb.msg);
	assert_non_null(m);
	return m;
}

static void test_golden_exposition(void **state)
{
	(void)state;
	struct kp_metrics *r = kp_metrics_new();
	static const char *const cl[] = {"zone", "nodepool"};
	static const double hb[] = {0.1, 1, 10};
	static const double q[] = {0.5, 1};
	struct kp_metric *c = reg(r, &(struct kp_metric_opts){.name = "test_created_total",
		.help = "Created things.\nSecond \\ line.", .type = KP_METRIC_COUNTER, .labels = cl, .nlabels = 2});
	struct kp_metric *g = reg(r, &(struct kp_metric_opts){.name = "test_a_gauge", .help = "A gauge.",
		.type = KP_METRIC_GAUGE});
	struct kp_metric *h = reg(r, &(struct kp_metric_opts){.name = "test_duration_seconds", .help = "Durations.",
		.type = KP_METRIC_HISTOGRAM, .labels = cl + 1, .nlabels = 1, .buckets = hb, .nbuckets = 3});
	struct kp_metric *s = reg(r, &(struct kp_metric_opts){.name = "test_summary_seconds", .help = "Summary.",
		.type = KP_METRIC_SUMMARY, .quantiles = q, .nquantiles = 2});
	reg(r, &(struct kp_metric_opts){.name = "test_empty", .help = "Never set.", .type = KP_METRIC_GAUGE});

	/* Inserted out of order: output sorts by label values in label-name order (nodepool, then zone). */
	assert_int_equal(kp_metrics_inc(c, KP_LV("us-west-2b", "default")), KP_OK);
	assert_int_equal(kp_metrics_add(c, KP_LV("us-west-2a", "default"), 2), KP_OK);
	assert_int_equal(kp_metrics_inc(c, KP_LV("a\"b\\c\nd", "a-pool")), KP_OK);
	assert_int_equal(kp_metrics_set(g, NULL, 0, -1.5), KP_OK);
	assert_int_equal(kp_metrics_observe(h, KP_LV("default"), 0.1), KP_OK);   /* le is inclusive */
	assert_int_equal(kp_metrics_observe(h, KP_LV("default"), 0.5), KP_OK);
	assert_int_equal(kp_metrics_observe(h, KP_LV("default"), 42), KP_OK);
	for (int i = 1; i <= 4; i++)
		assert_int_equal(kp_metrics_observe(s, NULL, 0, i), KP_OK);

	char *out = expose(r);
	const char *want =
		"# HELP test_a_gauge A gauge.\n"
		"# TYPE test_a_gauge gauge\n"
		"test_a_gauge -1.5\n"
		"# HELP test_created_total Created things.\\nSecond \\\\ line.\n"
		"# TYPE test_created_total counter\n"
		"test_created_total{nodepool=\"a-pool\",zone=\"a\\\"b\\\\c\\nd\"} 1\n"
		"test_created_total{nodepool=\"default\",zone=\"us-west-2a\"} 2\n"
		"test_created_total{nodepool=\"default\",zone=\"us-west-2b\"} 1\n"
		"# HELP test_duration_seconds Durations.\n"
		"# TYPE test_duration_seconds histogram\n"
		"test_duration_seconds_bucket{nodepool=\"default\",le=\"0.1\"} 1\n"
		"test_duration_seconds_bucket{nodepool=\"default\",le=\"1\"} 2\n"
		"test_duration_seconds_bucket{nodepool=\"default\",le=\"10\"} 2\n"
		"test_duration_seconds_bucket{nodepool=\"default\",le=\"+Inf\"} 3\n"
		"test_duration_seconds_sum{nodepool=\"default\"} 42.6\n"
		"test_duration_seconds_count{nodepool=\"default\"} 3\n"
		"# HELP test_summary_seconds Summary.\n"
		"# TYPE test_summary_seconds summary\n"
		"test_summary_seconds{quantile=\"0.5\"} 2\n"
		"test_summary_seconds{quantile=\"1\"} 4\n"
		"test_summary_seconds_sum 10\n"
		"test_summary_seconds_count 4\n";
	assert_string_equal(out, want);
	free(out);
	kp_metrics_free(r);
}

static void test_format_float(void **state)
{
	(void)state;
	static const struct { double v; const char *want; } cases[] = {
		{0, "0"}, {1, "1"}, {-1, "-1"}, {0.005, "0.005"}, {1.5, "1.5"}, {10, "10"}, {2048, "2048"},
		{864000, "864000"}, {999999, "999999"}, {1e6, "1e+06"}, {2592000, "2.592e+06"},
		{123456789, "1.23456789e+08"}, {0.0001, "0.0001"}, {0.00001, "1e-05"}, {0.1 + 0.2, "0.30000000000000004"},
		{68719476736.0, "6.8719476736e+10"}, {-0.0, "0"},
	};
	char buf[40];
	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++)
		assert_string_equal(kp_metrics_format_float(cases[i].v, buf, sizeof(buf)), cases[i].want);
	assert_string_equal(kp_metrics_format_float(NAN, buf, sizeof(buf)), "NaN");
	assert_string_equal(kp_metrics_format_float(INFINITY, buf, sizeof(buf)), "+Inf");
	assert_string_equal(kp_metrics_format_float(-INFINITY, buf, sizeof(buf)), "-Inf");
}

static void test_register_rules(void **state)
{
	(void)state;
	struct kp_metrics *r = kp_metrics_new();
	struct kp_errbuf eb = {0};
	struct kp_metric *m1 = NULL, *m2 = NULL;
	static const char *const ok[] = {"nodepool"};
	static const char *const le[] = {"le"};
	static const char *const dunder[] = {"__x"};
	static const char *const dup[] = {"a", "a"};
	static const char *const bad[] = {"1a"};
	static const double unsorted[] = {1, 0.5};

	struct kp_metric_opts o = {.name = "x_total", .help = "h", .type = KP_METRIC_COUNTER, .labels = ok,
		.nlabels = 1};
	assert_int_equal(kp_metrics_register(r, &o, &m1, &eb), KP_OK);
	assert_int_equal(kp_metrics_register(r, &o, &m2, &eb), KP_OK);
	assert_ptr_equal(m1, m2);
	assert_ptr_equal(kp_metrics_find(r, "x_total"), m1);
	assert_null(kp_metrics_find(r, "y_total"));

	o.type = KP_METRIC_GAUGE;
	assert_int_equal(kp_metrics_register(r, &o, NULL, &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "metric x_total: already registered as a different counter");

	struct kp_metric_opts b1 = {.name = "9bad", .help = "h", .type = KP_METRIC_GAUGE};
	assert_int_equal(kp_metrics_register(r, &b1, NULL, &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "metric name \"9bad\" is not valid");
	struct kp_metric_opts b2 = {.name = "h1", .help = "h", .type = KP_METRIC_HISTOGRAM, .labels = le, .nlabels = 1};
	assert_int_equal(kp_metrics_register(r, &b2, NULL, &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "metric h1: label name \"le\" is reserved");
	b2.type = KP_METRIC_GAUGE;   /* `le` is fine on a gauge */
	assert_int_equal(kp_metrics_register(r, &b2, NULL, &eb), KP_OK);
	struct kp_metric_opts b3 = {.name = "g2", .help = "h", .type = KP_METRIC_GAUGE, .labels = dunder, .nlabels = 1};
	assert_int_equal(kp_metrics_register(r, &b3, NULL, &eb), KP_ERR_INVALID);
	b3.labels = dup, b3.nlabels = 2;
	assert_int_equal(kp_metrics_register(r, &b3, NULL, &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "metric g2: duplicate label \"a\"");
	b3.labels = bad, b3.nlabels = 1;
	assert_int_equal(kp_metrics_register(r, &b3, NULL, &eb), KP_ERR_INVALID);
	struct kp_metric_opts b4 = {.name = "h2", .help = "h", .type = KP_METRIC_HISTOGRAM, .buckets = unsorted,
		.nbuckets = 2};
	assert_int_equal(kp_metrics_register(r, &b4, NULL, &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "metric h2: buckets must be strictly ascending");
	kp_metrics_free(r);
	kp_metrics_free(NULL);
}

static void test_update_kinds(void **state)
{
	(void)state;
	struct kp_metrics *r = kp_metrics_new();
	static const char *const l1[] = {"nodepool"};
	struct kp_metric *c = reg(r, &(struct kp_metric_opts){.name = "c_total", .help = "h",
		.type = KP_METRIC_COUNTER, .labels = l1, .nlabels = 1});
	struct kp_metric *g = reg(r, &(struct kp_metric_opts){.name = "g", .help = "h", .type = KP_METRIC_GAUGE,
		.labels = l1, .nlabels = 1});
	struct kp_metric *h = reg(r, &(struct kp_metric_opts){.name = "h_seconds", .help = "h",
		.type = KP_METRIC_HISTOGRAM, .labels = l1, .nlabels = 1});
	double v = 0;
	uint64_t n = 0;

	assert_int_equal(kp_metrics_add(c, KP_LV("p"), -1), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_add(c, KP_LV("p"), NAN), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_set(c, KP_LV("p"), 3), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_observe(c, KP_LV("p"), 3), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_observe(g, KP_LV("p"), 3), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_set(h, KP_LV("p"), 3), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_series_count(c), 0);   /* rejected updates create nothing */
	assert_int_equal(kp_metrics_inc(c, KP_LV("p", "extra")), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_inc(c, NULL, 0), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_inc(c, KP_LV("bad \xff utf8")), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_inc(c, KP_LV("caf\xc3\xa9")), KP_OK);
	assert_int_equal(kp_metrics_series_count(c), 1);

	assert_int_equal(kp_metrics_add(g, KP_LV("p"), 5), KP_OK);
	assert_int_equal(kp_metrics_add(g, KP_LV("p"), -7), KP_OK);
	assert_int_equal(kp_metrics_value(g, KP_LV("p"), &v, NULL), KP_OK);
	assert_true(v == -2);
	assert_int_equal(kp_metrics_value(g, KP_LV("q"), &v, NULL), KP_ERR_NOTFOUND);

	/* Bucket edges: le is inclusive; NaN only counts in +Inf. */
	assert_int_equal(kp_metrics_observe(h, KP_LV("p"), 0.005), KP_OK);
	assert_int_equal(kp_metrics_observe(h, KP_LV("p"), 0.0051), KP_OK);
	assert_int_equal(kp_metrics_observe(h, KP_LV("p"), 11), KP_OK);
	uint64_t b0 = 0, b1 = 0, b10 = 0, binf = 0;
	assert_int_equal(kp_metrics_bucket(h, KP_LV("p"), 0, &b0), KP_OK);
	assert_int_equal(kp_metrics_bucket(h, KP_LV("p"), 1, &b1), KP_OK);
	assert_int_equal(kp_metrics_bucket(h, KP_LV("p"), 10, &b10), KP_OK);
	assert_int_equal(kp_metrics_bucket(h, KP_LV("p"), 11, &binf), KP_OK);
	assert_int_equal(b0, 1);
	assert_int_equal(b1, 2);
	assert_int_equal(b10, 2);
	assert_int_equal(binf, 3);
	assert_int_equal(kp_metrics_bucket(h, KP_LV("p"), 12, &binf), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_value(h, KP_LV("p"), &v, &n), KP_OK);
	assert_int_equal(n, 3);

	/* Series handles. */
	struct kp_series *s = NULL;
	assert_int_equal(kp_metrics_series(c, KP_LV("h"), &s), KP_OK);
	assert_int_equal(kp_metrics_series_add(s, 2.5), KP_OK);
	assert_int_equal(kp_metrics_series_set(s, 1), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_series_observe(s, 1), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_value(c, KP_LV("h"), &v, NULL), KP_OK);
	assert_true(v == 2.5);
	kp_metrics_free(r);
}

static void test_cardinality_and_deletion(void **state)
{
	(void)state;
	struct kp_metrics *r = kp_metrics_new();
	static const char *const l2[] = {"resource_type", "nodepool"};
	struct kp_metric *u = reg(r, &(struct kp_metric_opts){.name = "karpenter_nodepools_usage", .help = "h",
		.type = KP_METRIC_GAUGE, .labels = l2, .nlabels = 2});
	struct kp_metric *capped = reg(r, &(struct kp_metric_opts){.name = "capped", .help = "h",
		.type = KP_METRIC_GAUGE, .labels = l2 + 1, .nlabels = 1, .max_series = 10});
	static const char *const res[] = {"cpu", "memory", "pods", "ephemeral-storage"};
	char pool[32];

	for (int p = 0; p < 500; p++) {
		snprintf(pool, sizeof(pool), "pool-%03d", p);
		for (size_t k = 0; k < KP_ARRAY_LEN(res); k++)
			assert_int_equal(kp_metrics_set(u, KP_LV(res[k], pool), p * 10 + (double)k), KP_OK);
	}
	assert_int_equal(kp_metrics_series_count(u), 2000);
	/* Updating existing series adds none. */
	for (int p = 0; p < 500; p++) {
		snprintf(pool, sizeof(pool), "pool-%03d", p);
		assert_int_equal(kp_metrics_set(u, KP_LV("cpu", pool), 1), KP_OK);
	}
	assert_int_equal(kp_metrics_series_count(u), 2000);

	/* A NodePool is removed: every series with nodepool="pool-007" goes. */
	assert_int_equal(kp_metrics_delete_matching(u, "nodepool", "pool-007"), 4);
	assert_int_equal(kp_metrics_series_count(u), 1996);
	assert_int_equal(kp_metrics_delete_matching(u, "nodepool", "pool-007"), 0);
	assert_int_equal(kp_metrics_delete_matching(u, "no_such_label", "x"), 0);
	assert_int_equal(kp_metrics_delete(u, KP_LV("cpu", "pool-008")), KP_OK);
	assert_int_equal(kp_metrics_delete(u, KP_LV("cpu", "pool-008")), KP_ERR_NOTFOUND);
	assert_int_equal(kp_metrics_series_count(u), 1995);
	char *out = expose(r);
	assert_null(strstr(out, "nodepool=\"pool-007\""));
	assert_null(strstr(out, "karpenter_nodepools_usage{nodepool=\"pool-008\",resource_type=\"cpu\"}"));
	assert_non_null(strstr(out, "karpenter_nodepools_usage{nodepool=\"pool-008\",resource_type=\"memory\"} 81\n"));
	/* Sorted: pool-006 lines come before pool-009 lines. */
	assert_true(strstr(out, "nodepool=\"pool-006\"") < strstr(out, "nodepool=\"pool-009\""));
	free(out);

	/* The cap stops new series, not updates of existing ones. */
	for (int p = 0; p < 10; p++) {
		snprintf(pool, sizeof(pool), "p%d", p);
		assert_int_equal(kp_metrics_set(capped, KP_LV(pool), 1), KP_OK);
	}
	assert_int_equal(kp_metrics_set(capped, KP_LV("one-too-many"), 1), KP_ERR_LIMIT);
	assert_int_equal(kp_metrics_set(capped, KP_LV("p3"), 2), KP_OK);
	assert_int_equal(kp_metrics_delete(capped, KP_LV("p3")), KP_OK);
	assert_int_equal(kp_metrics_set(capped, KP_LV("one-too-many"), 1), KP_OK);

	/* Reset empties the family, and an empty family is not printed. */
	kp_metrics_reset(u);
	kp_metrics_reset(capped);
	assert_int_equal(kp_metrics_series_count(u), 0);
	out = expose(r);
	assert_string_equal(out, "");
	free(out);
	kp_metrics_free(r);
}

static void test_buffer_cap(void **state)
{
	(void)state;
	struct kp_metrics *r = kp_metrics_new();
	struct kp_metric *g = reg(r, &(struct kp_metric_opts){.name = "g", .help = "h", .type = KP_METRIC_GAUGE});
	struct kp_errbuf eb = {0};
	struct kp_buf b;
	assert_int_equal(kp_metrics_set(g, NULL, 0, 1), KP_OK);
	kp_buf_init(&b, 10);
	assert_int_equal(kp_metrics_write(r, &b, &eb), KP_ERR_LIMIT);
	assert_string_equal(eb.msg, "metric g: exposition is larger than its buffer");
	kp_buf_free(&b);
	kp_metrics_free(r);
}

struct worker {
	struct kp_metric *m;
	struct kp_metric *h;
	struct kp_metrics *r;
	int id;
};

#define ITER 50000

static void *work(void *arg)
{
	struct worker *w = arg;
	struct kp_series *s = NULL;
	assert_int_equal(kp_metrics_series(w->m, KP_LV("shared"), &s), KP_OK);
	for (int i = 0; i < ITER; i++) {
		if (kp_metrics_inc(w->m, KP_LV("default")) || kp_metrics_series_add(s, 1) ||
		    kp_metrics_observe(w->h, NULL, 0, 0.01 * (i % 100)))
			return (void *)1;
		if (i % 5000 == 0) {   /* scrapes while others update */
			struct kp_buf b;
			kp_buf_init(&b, 1u << 20);
			if (kp_metrics_write(w->r, &b, NULL))
				return (void *)1;
			kp_buf_free(&b);
		}
	}
	return NULL;
}

static void test_concurrent_increments(void **state)
{
	(void)state;
	struct kp_metrics *r = kp_metrics_new();
	static const char *const l1[] = {"nodepool"};
	struct kp_metric *c = reg(r, &(struct kp_metric_opts){.name = "karpenter_nodes_created_total", .help = "h",
		.type = KP_METRIC_COUNTER, .labels = l1, .nlabels = 1});
	struct kp_metric *h = reg(r, &(struct kp_metric_opts){.name = "d_seconds", .help = "h",
		.type = KP_METRIC_HISTOGRAM});
	pthread_t t[2];
	struct worker w[2];
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){c, h, r, i};
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		void *ret;
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	double v = 0;
	uint64_t n = 0, inf = 0;
	assert_int_equal(kp_metrics_value(c, KP_LV("default"), &v, NULL), KP_OK);
	assert_int_equal((int64_t)v, 2 * ITER);
	assert_int_equal(kp_metrics_value(c, KP_LV("shared"), &v, NULL), KP_OK);
	assert_int_equal((int64_t)v, 2 * ITER);
	assert_int_equal(kp_metrics_value(h, NULL, 0, NULL, &n), KP_OK);
	assert_int_equal(n, 2 * ITER);
	assert_int_equal(kp_metrics_bucket(h, NULL, 0, kp_metrics_def_nbuckets, &inf), KP_OK);
	assert_int_equal(inf, 2 * ITER);
	kp_metrics_free(r);
}

/* Every family Karpenter v1 declares, by full name. */
static const char *const karpenter_names[] = {
	"karpenter_build_info",
	"karpenter_cloudprovider_duration_seconds",
	"karpenter_cloudprovider_errors_total",
	"karpenter_cluster_state_node_count",
	"karpenter_cluster_state_synced",
	"karpenter_cluster_state_unsynced_time_seconds",
	"karpenter_cluster_utilization_percent",
	"karpenter_consolidation_moves_total",
	"karpenter_consolidation_score",
	"karpenter_interruption_deleted_messages_total",
	"karpenter_interruption_message_queue_duration_seconds",
	"karpenter_interruption_received_messages_total",
	"karpenter_nodeclaims_created_total",
	"karpenter_nodeclaims_disrupted_total",
	"karpenter_nodeclaims_instance_termination_duration_seconds",
	"karpenter_nodeclaims_terminated_total",
	"karpenter_nodeclaims_termination_duration_seconds",
	"karpenter_nodeclaims_unhealthy_disrupted_total",
	"karpenter_nodepools_allowed_disruptions",
	"karpenter_nodepools_cost_total",
	"karpenter_nodepools_cost_tracker_errors_total",
	"karpenter_nodepools_limit",
	"karpenter_nodepools_nodes_consuming_budgets",
	"karpenter_nodepools_usage",
	"karpenter_nodes_allocatable",
	"karpenter_nodes_created_total",
	"karpenter_nodes_current_lifetime_seconds",
	"karpenter_nodes_drained_total",
	"karpenter_nodes_lifetime_duration_seconds",
	"karpenter_nodes_system_overhead",
	"karpenter_nodes_terminated_total",
	"karpenter_nodes_termination_duration_seconds",
	"karpenter_nodes_total_daemon_limits",
	"karpenter_nodes_total_daemon_requests",
	"karpenter_nodes_total_pod_limits",
	"karpenter_nodes_total_pod_requests",
	"karpenter_pods_bound_duration_seconds",
	"karpenter_pods_disruption_initiated_total",
	"karpenter_pods_drained_total",
	"karpenter_pods_eviction_requests_total",
	"karpenter_pods_provisioning_bound_duration_seconds",
	"karpenter_pods_provisioning_scheduling_undecided_time_seconds",
	"karpenter_pods_provisioning_startup_duration_seconds",
	"karpenter_pods_provisioning_unbound_time_seconds",
	"karpenter_pods_provisioning_unstarted_time_seconds",
	"karpenter_pods_scheduling_decision_duration_seconds",
	"karpenter_pods_startup_duration_seconds",
	"karpenter_pods_state",
	"karpenter_pods_unbound_time_seconds",
	"karpenter_pods_unstarted_time_seconds",
	"karpenter_provisioner_scheduling_duration_seconds",
	"karpenter_scheduler_ignored_pods_count",
	"karpenter_scheduler_pending_pods_by_effective_zone_count",
	"karpenter_scheduler_queue_depth",
	"karpenter_scheduler_scheduling_duration_seconds",
	"karpenter_scheduler_unfinished_work_seconds",
	"karpenter_scheduler_unschedulable_pods_count",
	"karpenter_voluntary_disruption_consolidation_timeouts_total",
	"karpenter_voluntary_disruption_decision_evaluation_duration_seconds",
	"karpenter_voluntary_disruption_decisions_by_nodepool_total",
	"karpenter_voluntary_disruption_decisions_total",
	"karpenter_voluntary_disruption_eligible_nodes",
	"karpenter_voluntary_disruption_failed_validations_total",
	"karpenter_voluntary_disruption_queue_failures_total",
};

static void assert_labels(const struct kp_metric *m, const char *const *want, size_t n)
{
	assert_int_equal(kp_metrics_nlabels(m), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(kp_metrics_label(m, i), want[i]);
}

static void test_karpenter_families(void **state)
{
	(void)state;
	struct kp_metrics *r = kp_metrics_new();
	struct kp_karpenter_metrics k, k2;
	struct kp_errbuf eb = {0};
	struct kp_metric *all[128];

	assert_int_equal(kp_metrics_register_karpenter(r, NULL, &k, &eb), KP_OK);
	size_t n = kp_metrics_karpenter_families(&k, all, KP_ARRAY_LEN(all));
	assert_int_equal(n, KP_ARRAY_LEN(karpenter_names));
	for (size_t i = 0; i < KP_ARRAY_LEN(karpenter_names); i++) {
		struct kp_metric *m = kp_metrics_find(r, karpenter_names[i]);
		if (!m)
			fail_msg("%s is not registered", karpenter_names[i]);
	}
	for (size_t i = 0; i < n; i++)
		assert_non_null(all[i]);

	static const char *const created[] = {"reason", "nodepool", "min_values_relaxed"};
	static const char *const disrupted[] = {"reason", "nodepool", "capacity_type", "consolidation_policy",
		"termination_mode"};
	static const char *const usage[] = {"resource_type", "nodepool"};
	static const char *const cp[] = {"controller", "method", "provider", "error"};
	static const char *const pods[] = {"name", "namespace", "owner", "node", "scheduled", "nodepool", "zone",
		"arch", "capacity_type", "instance_type", "phase", "ready", "managed"};
	static const char *const node[] = {"nodepool", "zone", "region", "instance_type", "arch", "os",
		"capacity_type", "windows_build", "node_name", "phase", "managed", "resource_type"};
	static const char *const build[] = {"version", "goversion", "goarch", "commit"};
	assert_labels(k.nodeclaims_created_total, created, 3);
	assert_labels(k.nodeclaims_disrupted_total, disrupted, 5);
	assert_labels(k.nodepools_usage, usage, 2);
	assert_labels(k.nodepools_limit, usage, 2);
	assert_labels(k.cloudprovider_errors_total, cp, 4);
	assert_labels(k.pods_state, pods, 13);
	assert_labels(k.nodes_allocatable, node, 12);
	assert_labels(k.nodes_current_lifetime_seconds, node, 11);
	assert_labels(k.build_info, build, 4);
	assert_int_equal(kp_metrics_nlabels(k.cluster_state_synced), 0);
	assert_int_equal(kp_metrics_type(k.scheduler_scheduling_duration_seconds), KP_METRIC_HISTOGRAM);
	assert_int_equal(kp_metrics_type(k.pods_startup_duration_seconds), KP_METRIC_SUMMARY);
	assert_int_equal(kp_metrics_type(k.nodes_termination_duration_seconds), KP_METRIC_SUMMARY);
	assert_int_equal(kp_metrics_type(k.nodepools_usage), KP_METRIC_GAUGE);
	assert_int_equal(kp_metrics_duration_nbuckets, 45);

	/* Karpenter starts consolidation timeouts at zero for multi and single. */
	double v = -1;
	assert_int_equal(kp_metrics_value(k.voluntary_disruption_consolidation_timeouts_total, KP_LV("multi"), &v,
		NULL), KP_OK);
	assert_true(v == 0);
	assert_int_equal(kp_metrics_series_count(k.voluntary_disruption_consolidation_timeouts_total), 2);

	/* Registering again is harmless and yields the same families. */
	assert_int_equal(kp_metrics_register_karpenter(r, NULL, &k2, &eb), KP_OK);
	assert_ptr_equal(k2.pods_state, k.pods_state);

	/* Histogram buckets as Karpenter declares them. */
	assert_int_equal(kp_metrics_observe(k.nodeclaims_termination_duration_seconds, KP_LV("default"), 3000),
		KP_OK);
	assert_int_equal(kp_metrics_observe(k.nodes_lifetime_duration_seconds, KP_LV("default"), 100), KP_OK);
	assert_int_equal(kp_metrics_observe(k.cloudprovider_duration_seconds, KP_LV("provisioner", "Create", "aws"),
		0.3), KP_OK);
	assert_int_equal(kp_metrics_set_build_info(&k, "v0.1.0", "abc123"), KP_OK);
	char *out = expose(r);
	assert_non_null(strstr(out, "karpenter_nodeclaims_termination_duration_seconds_bucket{nodepool=\"default\",le=\"2048\"} 0\n"));
	assert_null(strstr(out, "karpenter_nodeclaims_termination_duration_seconds_bucket{nodepool=\"default\",le=\"4096\"}"));
	assert_non_null(strstr(out, "karpenter_nodes_lifetime_duration_seconds_bucket{nodepool=\"default\",le=\"2.592e+06\"} 1\n"));
	assert_non_null(strstr(out, "karpenter_cloudprovider_duration_seconds_bucket{controller=\"provisioner\",method=\"Create\",provider=\"aws\",le=\"0.25\"} 0\n"));
	assert_non_null(strstr(out, "karpenter_cloudprovider_duration_seconds_bucket{controller=\"provisioner\",method=\"Create\",provider=\"aws\",le=\"0.5\"} 1\n"));
	assert_non_null(strstr(out, "# TYPE karpenter_voluntary_disruption_consolidation_timeouts_total counter\n"
		"karpenter_voluntary_disruption_consolidation_timeouts_total{consolidation_type=\"multi\"} 0\n"
		"karpenter_voluntary_disruption_consolidation_timeouts_total{consolidation_type=\"single\"} 0\n"));
	assert_non_null(strstr(out, "karpenter_build_info{commit=\"abc123\",goarch="));
	assert_non_null(strstr(out, ",version=\"v0.1.0\"} 1\n"));
	free(out);
	kp_metrics_free(r);
}

static void test_karpenter_provider_labels(void **state)
{
	(void)state;
	struct kp_metrics *r = kp_metrics_new();
	struct kp_karpenter_metrics k;
	struct kp_errbuf eb = {0};
	static const char *const keys[] = {"karpenter.k8s.aws/instance-family", "topology.kubernetes.io/zone",
		"karpenter.k8s.aws/instance-GPU-count"};
	struct kp_karpenter_metrics_opts opts = {keys, KP_ARRAY_LEN(keys)};
	const char *names[64];
	char buf[64];

	assert_int_equal(kp_metrics_register_karpenter(r, &opts, &k, &eb), KP_OK);
	size_t n = kp_metrics_node_labels(&k, names, KP_ARRAY_LEN(names));
	assert_int_equal(n, 14);   /* 8 core + 2 new (zone is a duplicate) + node_name, phase, managed, resource_type */
	assert_string_equal(names[8], "instance_family");
	assert_string_equal(names[9], "instance_gpu_count");
	assert_string_equal(names[13], "resource_type");

	assert_int_equal(kp_metrics_label_name("node.kubernetes.io/instance-type", buf, sizeof(buf)), KP_OK);
	assert_string_equal(buf, "instance_type");
	assert_int_equal(kp_metrics_label_name("no-slash", buf, sizeof(buf)), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_label_name("a/b/c", buf, sizeof(buf)), KP_ERR_INVALID);
	assert_int_equal(kp_metrics_label_name("a/long-name", buf, 4), KP_ERR_LIMIT);

	/* A different provider label set on the same registry is a conflicting definition. */
	assert_int_equal(kp_metrics_register_karpenter(r, NULL, &k, &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "metric karpenter_nodes_allocatable: already registered as a different gauge");
	kp_metrics_free(r);
}

static void test_default_registry(void **state)
{
	(void)state;
	struct kp_metrics *a = kp_metrics_default();
	assert_non_null(a);
	assert_ptr_equal(kp_metrics_default(), a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_exposition),
		cmocka_unit_test(test_format_float),
		cmocka_unit_test(test_register_rules),
		cmocka_unit_test(test_update_kinds),
		cmocka_unit_test(test_cardinality_and_deletion),
		cmocka_unit_test(test_buffer_cap),
		cmocka_unit_test(test_concurrent_increments),
		cmocka_unit_test(test_karpenter_families),
		cmocka_unit_test(test_karpenter_provider_labels),
		cmocka_unit_test(test_default_registry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
