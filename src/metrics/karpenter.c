/*
 * karpenter.c - declares Karpenter's metric families (names, types, label
 * names and buckets exactly as Karpenter v1 exports them; help text is our
 * own) and a few helpers around them.
 *
 * Invariants: the table below is the single list of families; docs/metrics.md
 * mirrors it and tests/unit/test_metrics.c checks every entry is registered.
 * Cost: registration is O(families * log families), done once at start-up.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "metrics/karpenter.h"

const double kp_metrics_duration_buckets[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
	1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60, 120, 150,
	300, 450, 600,
};
const size_t kp_metrics_duration_nbuckets = KP_ARRAY_LEN(kp_metrics_duration_buckets);

const double kp_metrics_summary_quantiles[] = {0, 0.5, 0.9, 0.99, 1};
const size_t kp_metrics_summary_nquantiles = KP_ARRAY_LEN(kp_metrics_summary_quantiles);

/* prometheus.ExponentialBuckets(1, 2, 11) and (1, 2, 12). */
static const double exp2_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};

/* 15m, 30m, 45m, 1h, 2h, 4h, 6h, 8h, 10h, 12h, 16h, 20h, 1d, 2d, 3d, 5d, 10d, 15d, 20d, 25d, 30d. */
static const double lifetime_buckets[] = {
	900, 1800, 2700, 3600, 7200, 14400, 21600, 28800, 36000, 43200, 57600, 72000,
	86400, 172800, 259200, 432000, 864000, 1296000, 1728000, 2160000, 2592000,
};

static const double score_buckets[] = {0.1, 0.25, 0.33, 0.5, 1.0, 2.0, 5.0, 10.0};

enum bk { BK_NONE, BK_DEF, BK_DURATION, BK_EXP11, BK_EXP12, BK_LIFETIME, BK_SCORE };
enum lbl { L_FIXED, L_NODE, L_NODE_RESOURCE };

#define L(...) {__VA_ARGS__}, (sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *))

struct def {
	size_t off;                  /* field in struct kp_karpenter_metrics */
	const char *name;            /* without the karpenter_ prefix */
	enum kp_metric_type type;
	const char *help;
	enum bk buckets;
	enum lbl lbl;
	const char *labels[13];
	size_t nlabels;
};

#define F(field) offsetof(struct kp_karpenter_metrics, field), #field

static const struct def defs[] = {
	/* pkg/metrics/metrics.go */
	{F(nodeclaims_created_total), KP_METRIC_COUNTER,
	 "NodeClaims created, by creation reason, NodePool and whether minValues was relaxed.", BK_NONE, L_FIXED,
	 L("reason", "nodepool", "min_values_relaxed")},
	{F(nodeclaims_terminated_total), KP_METRIC_COUNTER,
	 "NodeClaims terminated, by NodePool, capacity type and zone.", BK_NONE, L_FIXED,
	 L("nodepool", "capacity_type", "zone")},
	{F(nodeclaims_disrupted_total), KP_METRIC_COUNTER,
	 "NodeClaims disrupted, by reason, NodePool, capacity type, consolidation policy and termination mode.",
	 BK_NONE, L_FIXED, L("reason", "nodepool", "capacity_type", "consolidation_policy", "termination_mode")},
	{F(pods_disruption_initiated_total), KP_METRIC_COUNTER,
	 "Reschedulable pods (not DaemonSet or mirror pods) on NodeClaims whose disruption began, by the same labels as nodeclaims_disrupted_total.",
	 BK_NONE, L_FIXED, L("reason", "nodepool", "capacity_type", "consolidation_policy", "termination_mode")},
	{F(nodes_created_total), KP_METRIC_COUNTER, "Nodes created, by NodePool and zone.", BK_NONE, L_FIXED,
	 L("nodepool", "zone")},
	{F(nodes_terminated_total), KP_METRIC_COUNTER, "Nodes terminated, by NodePool and zone.", BK_NONE, L_FIXED,
	 L("nodepool", "zone")},
	/* pkg/cloudprovider/metrics/cloudprovider.go */
	{F(cloudprovider_duration_seconds), KP_METRIC_HISTOGRAM,
	 "Time spent in cloud provider calls, by calling controller, method and provider.", BK_DEF, L_FIXED,
	 L("controller", "method", "provider")},
	{F(cloudprovider_errors_total), KP_METRIC_COUNTER,
	 "Errors returned by cloud provider calls, by calling controller, method, provider and error type.",
	 BK_NONE, L_FIXED, L("controller", "method", "provider", "error")},
	/* pkg/controllers/disruption/metrics.go */
	{F(voluntary_disruption_decision_evaluation_duration_seconds), KP_METRIC_HISTOGRAM,
	 "Time spent evaluating disruption decisions, by disruption reason and consolidation type.", BK_DURATION,
	 L_FIXED, L("reason", "consolidation_type")},
	{F(voluntary_disruption_decisions_total), KP_METRIC_COUNTER,
	 "Disruption decisions taken, by decision, reason and consolidation type.", BK_NONE, L_FIXED,
	 L("decision", "reason", "consolidation_type")},
	{F(voluntary_disruption_decisions_by_nodepool_total), KP_METRIC_COUNTER,
	 "Disruption decisions taken, by NodePool, decision, reason and consolidation type.", BK_NONE, L_FIXED,
	 L("nodepool", "decision", "reason", "consolidation_type")},
	{F(voluntary_disruption_eligible_nodes), KP_METRIC_GAUGE,
	 "Nodes that may currently be disrupted, by disruption reason.", BK_NONE, L_FIXED, L("reason")},
	{F(voluntary_disruption_consolidation_timeouts_total), KP_METRIC_COUNTER,
	 "Consolidation passes that ran out of time, by consolidation type.", BK_NONE, L_FIXED,
	 L("consolidation_type")},
	{F(voluntary_disruption_failed_validations_total), KP_METRIC_COUNTER,
	 "Disruption candidates chosen and then rejected by validation, by consolidation type.", BK_NONE, L_FIXED,
	 L("consolidation_type")},
	{F(voluntary_disruption_queue_failures_total), KP_METRIC_COUNTER,
	 "Queued disruption commands that failed, by decision, reason and consolidation type.", BK_NONE, L_FIXED,
	 L("decision", "reason", "consolidation_type")},
	{F(nodepools_allowed_disruptions), KP_METRIC_GAUGE,
	 "Nodes of a NodePool that its disruption budgets allow to disrupt at once now, by NodePool and reason.",
	 BK_NONE, L_FIXED, L("nodepool", "reason")},
	{F(nodepools_nodes_consuming_budgets), KP_METRIC_GAUGE,
	 "Nodes of a NodePool counting against its disruption budgets now, by NodePool and reason.", BK_NONE,
	 L_FIXED, L("nodepool", "reason")},
	{F(consolidation_score), KP_METRIC_HISTOGRAM,
	 "Scores of balanced consolidation moves, by decision, NodePool and policy.", BK_SCORE, L_FIXED,
	 L("decision", "nodepool", "policy")},
	{F(consolidation_moves_total), KP_METRIC_COUNTER,
	 "Balanced consolidation moves, by decision, NodePool and policy.", BK_NONE, L_FIXED,
	 L("decision", "nodepool", "policy")},
	/* pkg/controllers/provisioning/scheduling/metrics.go */
	{F(scheduler_scheduling_duration_seconds), KP_METRIC_HISTOGRAM,
	 "Time spent in scheduling simulations for provisioning and disruption, by controller.", BK_DURATION,
	 L_FIXED, L("controller")},
	{F(scheduler_queue_depth), KP_METRIC_GAUGE,
	 "Pods waiting in the scheduling simulation queue, by controller and simulation.", BK_NONE, L_FIXED,
	 L("controller", "scheduling_id")},
	{F(scheduler_unfinished_work_seconds), KP_METRIC_GAUGE,
	 "Seconds spent so far in scheduling simulations still running, by controller and simulation.", BK_NONE,
	 L_FIXED, L("controller", "scheduling_id")},
	{F(scheduler_ignored_pods_count), KP_METRIC_GAUGE, "Pods the scheduler left out of scheduling.", BK_NONE,
	 L_FIXED, {NULL}, 0},
	{F(scheduler_unschedulable_pods_count), KP_METRIC_GAUGE,
	 "Pods the last scheduling simulation could not place, by controller.", BK_NONE, L_FIXED,
	 L("controller")},
	{F(scheduler_pending_pods_by_effective_zone_count), KP_METRIC_GAUGE,
	 "Pending pods by the zone their constraints narrow them to: a zone name, flexible, or none.", BK_NONE,
	 L_FIXED, L("controller", "zone")},
	{F(provisioner_scheduling_duration_seconds), KP_METRIC_HISTOGRAM,
	 "Time spent in a provisioning scheduling pass (Karpenter v0.3x name; see scheduler_scheduling_duration_seconds).",
	 BK_DURATION, L_FIXED, {NULL}, 0},
	/* pkg/controllers/state/metrics.go */
	{F(cluster_state_node_count), KP_METRIC_GAUGE, "Nodes in the controller's cluster state.", BK_NONE, L_FIXED,
	 {NULL}, 0},
	{F(cluster_state_synced), KP_METRIC_GAUGE,
	 "1 when the cluster state holds the same nodes and NodeClaims as the API server, else 0.", BK_NONE,
	 L_FIXED, {NULL}, 0},
	{F(cluster_state_unsynced_time_seconds), KP_METRIC_GAUGE,
	 "Seconds the cluster state has been out of sync with the API server.", BK_NONE, L_FIXED, {NULL}, 0},
	{F(pods_scheduling_decision_duration_seconds), KP_METRIC_HISTOGRAM,
	 "Time from first seeing a pod to the first scheduling decision for it.", BK_DURATION, L_FIXED, {NULL}, 0},
	/* pkg/controllers/nodeclaim/lifecycle/metrics.go */
	{F(nodeclaims_instance_termination_duration_seconds), KP_METRIC_HISTOGRAM,
	 "Time taken to terminate a NodeClaim's cloud instance, by NodePool.", BK_EXP11, L_FIXED, L("nodepool")},
	{F(nodeclaims_termination_duration_seconds), KP_METRIC_HISTOGRAM,
	 "Time taken to terminate a NodeClaim, by NodePool.", BK_EXP12, L_FIXED, L("nodepool")},
	/* pkg/controllers/node/health/metrics.go */
	{F(nodeclaims_unhealthy_disrupted_total), KP_METRIC_COUNTER,
	 "Unhealthy NodeClaims disrupted, by node condition, NodePool, capacity type and image ID.", BK_NONE,
	 L_FIXED, L("condition", "nodepool", "capacity_type", "image_id")},
	/* pkg/controllers/node/termination/metrics.go */
	{F(nodes_termination_duration_seconds), KP_METRIC_SUMMARY,
	 "Time from a node's deletion request to the removal of its finalizer, by NodePool.", BK_NONE, L_FIXED,
	 L("nodepool")},
	{F(nodes_drained_total), KP_METRIC_COUNTER, "Nodes drained, by NodePool.", BK_NONE, L_FIXED, L("nodepool")},
	{F(nodes_lifetime_duration_seconds), KP_METRIC_HISTOGRAM,
	 "Age of nodes when they were terminated, by NodePool.", BK_LIFETIME, L_FIXED, L("nodepool")},
	/* pkg/controllers/node/termination/terminator/metrics.go */
	{F(pods_eviction_requests_total), KP_METRIC_COUNTER, "Pod eviction requests sent, by HTTP response code.",
	 BK_NONE, L_FIXED, L("code")},
	{F(pods_drained_total), KP_METRIC_COUNTER, "Pods drained while terminating nodes, by reason.", BK_NONE,
	 L_FIXED, L("reason")},
	/* pkg/controllers/metrics/node/controller.go */
	{F(nodes_allocatable), KP_METRIC_GAUGE, "Allocatable resources of nodes.", BK_NONE, L_NODE_RESOURCE,
	 {NULL}, 0},
	{F(nodes_total_pod_requests), KP_METRIC_GAUGE,
	 "Resource requests of the pods bound to nodes, DaemonSet pods included.", BK_NONE, L_NODE_RESOURCE,
	 {NULL}, 0},
	{F(nodes_total_pod_limits), KP_METRIC_GAUGE,
	 "Resource limits of the pods bound to nodes, DaemonSet pods included.", BK_NONE, L_NODE_RESOURCE, {NULL},
	 0},
	{F(nodes_total_daemon_requests), KP_METRIC_GAUGE, "Resource requests of the DaemonSet pods bound to nodes.",
	 BK_NONE, L_NODE_RESOURCE, {NULL}, 0},
	{F(nodes_total_daemon_limits), KP_METRIC_GAUGE, "Resource limits of the DaemonSet pods bound to nodes.",
	 BK_NONE, L_NODE_RESOURCE, {NULL}, 0},
	{F(nodes_system_overhead), KP_METRIC_GAUGE,
	 "Resources reserved on nodes for the system: capacity minus allocatable.", BK_NONE, L_NODE_RESOURCE,
	 {NULL}, 0},
	{F(nodes_current_lifetime_seconds), KP_METRIC_GAUGE, "Age of nodes in seconds.", BK_NONE, L_NODE, {NULL},
	 0},
	{F(cluster_utilization_percent), KP_METRIC_GAUGE,
	 "Pod requests as a percentage of the allocatable resources of all nodes, by resource.", BK_NONE, L_FIXED,
	 L("resource_type")},
	/* pkg/controllers/metrics/nodepool/controller.go */
	{F(nodepools_limit), KP_METRIC_GAUGE, "Resource limits set on NodePools, by resource and NodePool.",
	 BK_NONE, L_FIXED, L("resource_type", "nodepool")},
	{F(nodepools_usage), KP_METRIC_GAUGE, "Resources provisioned for NodePools, by resource and NodePool.",
	 BK_NONE, L_FIXED, L("resource_type", "nodepool")},
	{F(nodepools_cost_total), KP_METRIC_GAUGE,
	 "Estimated cost of a NodePool's nodes in the cloud provider's units; not a billing figure.", BK_NONE,
	 L_FIXED, L("nodepool")},
	/* pkg/state/cost/cost.go */
	{F(nodepools_cost_tracker_errors_total), KP_METRIC_COUNTER, "Errors met while tracking cost, by NodePool.",
	 BK_NONE, L_FIXED, L("nodepool")},
	/* pkg/controllers/metrics/pod/controller.go */
	{F(pods_state), KP_METRIC_GAUGE,
	 "One series per pod describing where it runs and its phase and readiness.", BK_NONE, L_FIXED,
	 L("name", "namespace", "owner", "node", "scheduled", "nodepool", "zone", "arch", "capacity_type",
	   "instance_type", "phase", "ready", "managed")},
	{F(pods_startup_duration_seconds), KP_METRIC_SUMMARY, "Time from pod creation until the pod runs.",
	 BK_NONE, L_FIXED, {NULL}, 0},
	{F(pods_unstarted_time_seconds), KP_METRIC_GAUGE, "Seconds since creation of pods not yet running.",
	 BK_NONE, L_FIXED, L("name", "namespace")},
	{F(pods_bound_duration_seconds), KP_METRIC_HISTOGRAM, "Time from pod creation until the pod is bound.",
	 BK_DURATION, L_FIXED, {NULL}, 0},
	{F(pods_unbound_time_seconds), KP_METRIC_GAUGE, "Seconds since creation of pods not yet bound.", BK_NONE,
	 L_FIXED, L("name", "namespace")},
	{F(pods_provisioning_bound_duration_seconds), KP_METRIC_HISTOGRAM,
	 "Time from the controller first finding a pod schedulable until it is bound (measured in memory).",
	 BK_DURATION, L_FIXED, {NULL}, 0},
	{F(pods_provisioning_unbound_time_seconds), KP_METRIC_GAUGE,
	 "Seconds since the controller first found a still unbound pod schedulable.", BK_NONE, L_FIXED,
	 L("name", "namespace")},
	{F(pods_provisioning_startup_duration_seconds), KP_METRIC_HISTOGRAM,
	 "Time from the controller first finding a pod schedulable until it runs (measured in memory).",
	 BK_DURATION, L_FIXED, {NULL}, 0},
	{F(pods_provisioning_unstarted_time_seconds), KP_METRIC_GAUGE,
	 "Seconds since the controller first found a not yet running pod schedulable.", BK_NONE, L_FIXED,
	 L("name", "namespace")},
	{F(pods_provisioning_scheduling_undecided_time_seconds), KP_METRIC_GAUGE,
	 "Seconds a seen pod has waited for a scheduling decision.", BK_NONE, L_FIXED, L("name", "namespace")},
	/* pkg/operator/operator.go */
	{F(build_info), KP_METRIC_GAUGE, "Always 1; the labels tell which build of the controller runs.", BK_NONE,
	 L_FIXED, L("version", "goversion", "goarch", "commit")},
	/* karpenter-provider-aws pkg/controllers/interruption/metrics.go */
	{F(interruption_received_messages_total), KP_METRIC_COUNTER,
	 "Interruption messages received from the queue, by message type.", BK_NONE, L_FIXED, L("message_type")},
	{F(interruption_deleted_messages_total), KP_METRIC_COUNTER,
	 "Interruption messages deleted from the queue (after they were handled).", BK_NONE, L_FIXED, {NULL}, 0},
	{F(interruption_message_queue_duration_seconds), KP_METRIC_HISTOGRAM,
	 "Time from an interruption message being sent until the controller handled it.", BK_DURATION, L_FIXED,
	 {NULL}, 0},
};

/* Core well-known node labels, as metric label names (v1.WellKnownLabels). */
static const char *const core_node_labels[] = {
	"nodepool", "zone", "region", "instance_type", "arch", "os", "capacity_type", "windows_build",
};

kp_err kp_metrics_label_name(const char *key, char *out, size_t n)
{
	const char *slash = strchr(key, '/');
	if (!slash || strchr(slash + 1, '/') || !slash[1])
		return KP_ERR_INVALID;
	const char *s = slash + 1;
	size_t len = strlen(s);
	if (len + 1 > n)
		return KP_ERR_LIMIT;
	for (size_t i = 0; i <= len; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (c == '-')
			c = '_';
		out[i] = c;
	}
	return KP_OK;
}

#define NODE_LABEL_MAX 64
#define NODE_NAME_MAX 64

static kp_err node_labels(const struct kp_karpenter_metrics_opts *opts, const char **names,
	char store[][NODE_NAME_MAX], size_t *n, struct kp_errbuf *eb)
{
	size_t k = 0;
	for (size_t i = 0; i < KP_ARRAY_LEN(core_node_labels); i++)
		names[k++] = core_node_labels[i];
	for (size_t i = 0; opts && i < opts->nprovider; i++) {
		const char *key = opts->provider_label_keys[i];
		if (k + 4 > NODE_LABEL_MAX)
			return kp_errf(eb, KP_ERR_LIMIT, "node metrics: more than %d labels", NODE_LABEL_MAX);
		kp_err rc = kp_metrics_label_name(key, store[i], NODE_NAME_MAX);
		if (rc)
			return kp_errf(eb, rc, "node metrics: label key \"%s\" has no metric label name", key);
		bool dup = false;
		for (size_t j = 0; j < k && !dup; j++)
			dup = strcmp(names[j], store[i]) == 0;
		if (!dup)   /* the same name twice would be a duplicate label, as Karpenter dedups */
			names[k++] = store[i];
	}
	names[k++] = "node_name";
	names[k++] = "phase";
	names[k++] = "managed";
	*n = k;
	return KP_OK;
}

kp_err kp_metrics_register_karpenter(struct kp_metrics *r, const struct kp_karpenter_metrics_opts *opts,
	struct kp_karpenter_metrics *out, struct kp_errbuf *eb)
{
	const char *nlabels[NODE_LABEL_MAX + 1];
	char store[NODE_LABEL_MAX][NODE_NAME_MAX];
	struct kp_karpenter_metrics tmp;
	size_t nn = 0;
	char name[160];
	kp_err rc;

	if (!out)
		out = &tmp;
	memset(out, 0, sizeof(*out));
	if (opts && opts->nprovider > NODE_LABEL_MAX)
		return kp_errf(eb, KP_ERR_LIMIT, "node metrics: more than %d labels", NODE_LABEL_MAX);
	rc = node_labels(opts, nlabels, store, &nn, eb);
	if (rc)
		return rc;

	for (size_t i = 0; i < KP_ARRAY_LEN(defs); i++) {
		const struct def *d = &defs[i];
		struct kp_metric_opts o = {.type = d->type, .help = d->help};
		snprintf(name, sizeof(name), "karpenter_%s", d->name);
		o.name = name;
		if (d->lbl == L_FIXED) {
			o.labels = d->labels;
			o.nlabels = d->nlabels;
		} else {
			nlabels[nn] = "resource_type";
			o.labels = nlabels;
			o.nlabels = nn + (d->lbl == L_NODE_RESOURCE);
		}
		switch (d->buckets) {
		case BK_NONE: break;
		case BK_DEF: o.buckets = kp_metrics_def_buckets, o.nbuckets = kp_metrics_def_nbuckets; break;
		case BK_DURATION:
			o.buckets = kp_metrics_duration_buckets, o.nbuckets = kp_metrics_duration_nbuckets;
			break;
		case BK_EXP11: o.buckets = exp2_buckets, o.nbuckets = 11; break;
		case BK_EXP12: o.buckets = exp2_buckets, o.nbuckets = 12; break;
		case BK_LIFETIME: o.buckets = lifetime_buckets, o.nbuckets = KP_ARRAY_LEN(lifetime_buckets); break;
		case BK_SCORE: o.buckets = score_buckets, o.nbuckets = KP_ARRAY_LEN(score_buckets); break;
		}
		if (d->type == KP_METRIC_SUMMARY) {
			o.quantiles = kp_metrics_summary_quantiles;
			o.nquantiles = kp_metrics_summary_nquantiles;
		}
		struct kp_metric **slot = (struct kp_metric **)((char *)out + d->off);
		rc = kp_metrics_register(r, &o, slot, eb);
		if (rc)
			return rc;
	}
	/* Karpenter starts these two at zero so rate() works before the first timeout. */
	rc = kp_metrics_add(out->voluntary_disruption_consolidation_timeouts_total, KP_LV("multi"), 0);
	if (!rc)
		rc = kp_metrics_add(out->voluntary_disruption_consolidation_timeouts_total, KP_LV("single"), 0);
	if (rc)
		return kp_errf(eb, rc, "karpenter_voluntary_disruption_consolidation_timeouts_total: %s",
			kp_err_str(rc));
	return KP_OK;
}

size_t kp_metrics_karpenter_families(const struct kp_karpenter_metrics *k, struct kp_metric **out, size_t max)
{
	for (size_t i = 0; i < KP_ARRAY_LEN(defs) && i < max; i++)
		out[i] = *(struct kp_metric *const *)((const char *)k + defs[i].off);
	return KP_ARRAY_LEN(defs);
}

size_t kp_metrics_node_labels(const struct kp_karpenter_metrics *k, const char **names, size_t max)
{
	const struct kp_metric *m = k->nodes_allocatable;
	size_t n = kp_metrics_nlabels(m);
	for (size_t i = 0; i < n && i < max; i++)
		names[i] = kp_metrics_label(m, i);
	return n;
}

static const char *go_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__i386__)
	return "386";
#elif defined(__arm__)
	return "arm";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
	return "ppc64le";
#elif defined(__s390x__)
	return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
	return "riscv64";
#else
	return "unknown";
#endif
}

kp_err kp_metrics_set_build_info(const struct kp_karpenter_metrics *k, const char *version, const char *commit)
{
#if defined(__clang__)
	const char *cc = "clang " __clang_version__;
#elif defined(__GNUC__)
	const char *cc = "gcc " __VERSION__;
#else
	const char *cc = "unknown";
#endif
	return kp_metrics_set(k->build_info, KP_LV(version ? version : "unspecified", cc, go_arch(),
		commit ? commit : "unknown"), 1);
}
