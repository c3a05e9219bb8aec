/*
 * karpenter.h - Karpenter's metric families, declared with the exact names and
 * label names Karpenter v1 exports (namespace "karpenter"), so dashboards and
 * alerts written for Karpenter work unchanged. docs/metrics.md lists them with
 * their Karpenter source files.
 *
 * Life cycle: kp_metrics_register_karpenter() fills a struct of family handles
 * that stays valid as long as the registry. Calling it again on the same
 * registry with the same options returns the same families.
 */
#ifndef KARPENTER_METRICS_KARPENTER_H
#define KARPENTER_METRICS_KARPENTER_H

#include "metrics/metrics.h"

/* Duration buckets Karpenter declares for its duration histograms (metrics.DurationBuckets). */
extern const double kp_metrics_duration_buckets[];
extern const size_t kp_metrics_duration_nbuckets;
/* Summary objectives Karpenter declares (metrics.SummaryObjectives): 0, .5, .9, .99, 1. */
extern const double kp_metrics_summary_quantiles[];
extern const size_t kp_metrics_summary_nquantiles;

struct kp_karpenter_metrics {
	/* pkg/metrics/metrics.go */
	struct kp_metric *nodeclaims_created_total;       /* reason, nodepool, min_values_relaxed */
	struct kp_metric *nodeclaims_terminated_total;    /* nodepool, capacity_type, zone */
	struct kp_metric *nodeclaims_disrupted_total;     /* reason, nodepool, capacity_type, consolidation_policy, termination_mode */
	struct kp_metric *pods_disruption_initiated_total; /* same labels as nodeclaims_disrupted_total */
	struct kp_metric *nodes_created_total;            /* nodepool, zone */
	struct kp_metric *nodes_terminated_total;         /* nodepool, zone */
	/* pkg/cloudprovider/metrics/cloudprovider.go */
	struct kp_metric *cloudprovider_duration_seconds; /* controller, method, provider */
	struct kp_metric *cloudprovider_errors_total;     /* controller, method, provider, error */
	/* pkg/controllers/disruption/metrics.go */
	struct kp_metric *voluntary_disruption_decision_evaluation_duration_seconds; /* reason, consolidation_type */
	struct kp_metric *voluntary_disruption_decisions_total;       /* decision, reason, consolidation_type */
	struct kp_metric *voluntary_disruption_decisions_by_nodepool_total; /* nodepool, decision, reason, consolidation_type */
	struct kp_metric *voluntary_disruption_eligible_nodes;        /* reason */
	struct kp_metric *voluntary_disruption_consolidation_timeouts_total; /* consolidation_type */
	struct kp_metric *voluntary_disruption_failed_validations_total; /* consolidation_type */
	struct kp_metric *voluntary_disruption_queue_failures_total;  /* decision, reason, consolidation_type */
	struct kp_metric *nodepools_allowed_disruptions;              /* nodepool, reason */
	struct kp_metric *nodepools_nodes_consuming_budgets;          /* nodepool, reason */
	struct kp_metric *consolidation_score;                        /* decision, nodepool, policy */
	struct kp_metric *consolidation_moves_total;                  /* decision, nodepool, policy */
	/* pkg/controllers/provisioning/scheduling/metrics.go */
	struct kp_metric *scheduler_scheduling_duration_seconds;      /* controller */
	struct kp_metric *scheduler_queue_depth;                      /* controller, scheduling_id */
	struct kp_metric *scheduler_unfinished_work_seconds;          /* controller, scheduling_id */
	struct kp_metric *scheduler_ignored_pods_count;               /* (none) */
	struct kp_metric *scheduler_unschedulable_pods_count;         /* controller */
	struct kp_metric *scheduler_pending_pods_by_effective_zone_count; /* controller, zone */
	/* Karpenter v0.3x name (pkg/controllers/provisioning/metrics.go), removed in v1.0. */
	struct kp_metric *provisioner_scheduling_duration_seconds;    /* (none) */
	/* pkg/controllers/state/metrics.go */
	struct kp_metric *cluster_state_node_count;                   /* (none) */
	struct kp_metric *cluster_state_synced;                       /* (none) */
	struct kp_metric *cluster_state_unsynced_time_seconds;        /* (none) */
	struct kp_metric *pods_scheduling_decision_duration_seconds;  /* (none) */
	/* pkg/controllers/nodeclaim/lifecycle/metrics.go */
	struct kp_metric *nodeclaims_instance_termination_duration_seconds; /* nodepool */
	struct kp_metric *nodeclaims_termination_duration_seconds;    /* nodepool */
	/* pkg/controllers/node/health/metrics.go */
	struct kp_metric *nodeclaims_unhealthy_disrupted_total;       /* condition, nodepool, capacity_type, image_id */
	/* pkg/controllers/node/termination/metrics.go */
	struct kp_metric *nodes_termination_duration_seconds;         /* nodepool (summary) */
	struct kp_metric *nodes_drained_total;                        /* nodepool */
	struct kp_metric *nodes_lifetime_duration_seconds;            /* nodepool */
	/* pkg/controllers/node/termination/terminator/metrics.go */
	struct kp_metric *pods_eviction_requests_total;               /* code */
	struct kp_metric *pods_drained_total;                         /* reason */
	/* pkg/controllers/metrics/node/controller.go: node labels (see kp_metrics_node_labels), + resource_type */
	struct kp_metric *nodes_allocatable;
	struct kp_metric *nodes_total_pod_requests;
	struct kp_metric *nodes_total_pod_limits;
	struct kp_metric *nodes_total_daemon_requests;
	struct kp_metric *nodes_total_daemon_limits;
	struct kp_metric *nodes_system_overhead;
	struct kp_metric *nodes_current_lifetime_seconds;             /* node labels, no resource_type */
	struct kp_metric *cluster_utilization_percent;                /* resource_type */
	/* pkg/controllers/metrics/nodepool/controller.go */
	struct kp_metric *nodepools_limit;                            /* resource_type, nodepool */
	struct kp_metric *nodepools_usage;                            /* resource_type, nodepool */
	struct kp_metric *nodepools_cost_total;                       /* nodepool */
	/* pkg/state/cost/cost.go */
	struct kp_metric *nodepools_cost_tracker_errors_total;        /* nodepool */
	/* pkg/controllers/metrics/pod/controller.go */
	struct kp_metric *pods_state;   /* name, namespace, owner, node, scheduled, nodepool, zone, arch, capacity_type, instance_type, phase, ready, managed */
	struct kp_metric *pods_startup_duration_seconds;              /* (none; summary) */
	struct kp_metric *pods_unstarted_time_seconds;                /* name, namespace */
	struct kp_metric *pods_bound_duration_seconds;                /* (none) */
	struct kp_metric *pods_unbound_time_seconds;                  /* name, namespace */
	struct kp_metric *pods_provisioning_bound_duration_seconds;   /* (none) */
	struct kp_metric *pods_provisioning_unbound_time_seconds;     /* name, namespace */
	struct kp_metric *pods_provisioning_startup_duration_seconds; /* (none) */
	struct kp_metric *pods_provisioning_unstarted_time_seconds;   /* name, namespace */
	struct kp_metric *pods_provisioning_scheduling_undecided_time_seconds; /* name, namespace */
	/* pkg/operator/operator.go */
	struct kp_metric *build_info;                                 /* version, goversion, goarch, commit */
	/* karpenter-provider-aws pkg/controllers/interruption/metrics.go (fed
	 * from any provider's poll_events) */
	struct kp_metric *interruption_received_messages_total;       /* message_type */
	struct kp_metric *interruption_deleted_messages_total;        /* (none) */
	struct kp_metric *interruption_message_queue_duration_seconds; /* (none) */
};

struct kp_karpenter_metrics_opts {
	/* Extra well-known node label keys of the cloud provider (e.g.
	 * "karpenter.k8s.aws/instance-family"); each becomes a label of the node
	 * gauges after kp_metrics_label_name(). NULL/0 = core labels only. */
	const char *const *provider_label_keys;
	size_t nprovider;
};

/* Declares every Karpenter family in r (opts may be NULL) and fills *out
 * (may be NULL). Also creates the two zero-valued series Karpenter creates at
 * start-up (consolidation_timeouts_total for "multi" and "single"). */
kp_err kp_metrics_register_karpenter(struct kp_metrics *r, const struct kp_karpenter_metrics_opts *opts,
	struct kp_karpenter_metrics *out, struct kp_errbuf *eb);

/* Copies the family handles of k into out (up to max), in declaration order;
 * returns how many families there are. */
size_t kp_metrics_karpenter_families(const struct kp_karpenter_metrics *k, struct kp_metric **out, size_t max);

/* Converts a node label key to Karpenter's metric label name: the part after
 * the '/', lower-cased, '-' -> '_' ("node.kubernetes.io/instance-type" ->
 * "instance_type"). KP_ERR_INVALID if the key has no single '/', KP_ERR_LIMIT
 * if out (n bytes) is too small. */
kp_err kp_metrics_label_name(const char *key, char *out, size_t n);

/* The label names of the node gauges, in the order values are passed: the
 * core well-known labels (nodepool, zone, region, instance_type, arch, os,
 * capacity_type, windows_build), then the provider's, then node_name, phase,
 * managed, and resource_type for all but nodes_current_lifetime_seconds.
 * Returns the count, read from a registered family. */
size_t kp_metrics_node_labels(const struct kp_karpenter_metrics *k, const char **names, size_t max);

/* Sets build_info{version,goversion,goarch,commit} = 1. goversion carries the
 * C compiler's version and goarch the architecture in Go's spelling (amd64,
 * arm64), so Karpenter's queries keep working. */
kp_err kp_metrics_set_build_info(const struct kp_karpenter_metrics *k, const char *version, const char *commit);

#endif
