/*
 * metrics_sample.c - prints a sample exposition with every Karpenter family
 * registered and at least one series in each, for `promtool check metrics`
 * (the `promtool` stage of scripts/run-tests).
 *
 * Invariants: output is deterministic (no clock, no randomness). Cost: a few
 * hundred series, milliseconds.
 */
#include <stdio.h>
#include <string.h>

#include "metrics/karpenter.h"

/* A plausible value for a label name, so the sample reads like a real scrape. */
static const char *value_for(const char *label)
{
	static const char *const table[][2] = {
		{"nodepool", "default"}, {"zone", "us-west-2a"}, {"region", "us-west-2"},
		{"instance_type", "c6g.4xlarge"}, {"arch", "arm64"}, {"os", "linux"},
		{"capacity_type", "spot"}, {"windows_build", ""}, {"node_name", "ip-10-0-1-23.ec2.internal"},
		{"phase", "Running"}, {"managed", "true"}, {"resource_type", "cpu"}, {"reason", "underutilized"},
		{"min_values_relaxed", "false"}, {"consolidation_policy", "WhenEmptyOrUnderutilized"},
		{"termination_mode", "graceful"}, {"controller", "provisioner"}, {"method", "Create"},
		{"provider", "aws"}, {"error", "InsufficientCapacityError"}, {"decision", "delete"},
		{"consolidation_type", "single"}, {"policy", "balanced"}, {"scheduling_id", "1a2b3c"},
		{"condition", "Ready"}, {"image_id", "ami-0123456789abcdef0"}, {"code", "200"},
		{"name", "web-7d4b9c-xk2lp"}, {"namespace", "default"}, {"owner", "apps/v1/ReplicaSet/web-7d4b9c"},
		{"node", "ip-10-0-1-23.ec2.internal"}, {"scheduled", "true"}, {"ready", "true"},
		{"version", "v0.1.0"}, {"goversion", "gcc"}, {"goarch", "amd64"}, {"commit", "0000000"},
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(table); i++)
		if (strcmp(table[i][0], label) == 0)
			return table[i][1];
	return "x";
}

/* Gives family m one series with plausible values and a value or observations. */
static kp_err touch(struct kp_metric *m, double v)
{
	const char *values[KP_METRICS_MAX_LABELS];
	size_t n = kp_metrics_nlabels(m);
	for (size_t i = 0; i < n; i++)
		values[i] = value_for(kp_metrics_label(m, i));
	switch (kp_metrics_type(m)) {
	case KP_METRIC_COUNTER: return kp_metrics_add(m, values, n, v);
	case KP_METRIC_GAUGE: return kp_metrics_set(m, values, n, v);
	default: break;
	}
	kp_err rc = KP_OK;
	for (int i = 0; i < 5 && !rc; i++)
		rc = kp_metrics_observe(m, values, n, v * (i + 1));
	return rc;
}

int main(void)
{
	static const char *const aws_keys[] = {"karpenter.k8s.aws/instance-family", "karpenter.k8s.aws/instance-size"};
	struct kp_karpenter_metrics_opts opts = {aws_keys, KP_ARRAY_LEN(aws_keys)};
	struct kp_karpenter_metrics k;
	struct kp_errbuf eb = {0};
	struct kp_buf out;
	int status = 1;
	kp_err rc;

	struct kp_metrics *r = kp_metrics_new();
	if (!r) {
		fprintf(stderr, "metrics_sample: out of memory\n");
		return 1;
	}
	kp_buf_init(&out, 16u << 20);
	rc = kp_metrics_register_karpenter(r, &opts, &k, &eb);
	if (rc)
		goto out;

	/* Every family gets a series. */
	struct kp_metric *all[128];
	size_t nall = kp_metrics_karpenter_families(&k, all, KP_ARRAY_LEN(all));
	for (size_t i = 0; i < nall && i < KP_ARRAY_LEN(all) && !rc; i++)
		rc = touch(all[i], 0.042 * (double)(i + 1));
	if (rc) {
		kp_errf(&eb, rc, "touching families: %s", kp_err_str(rc));
		goto out;
	}
	/* Some realistic activity on top. */
	rc = kp_metrics_inc(k.nodeclaims_created_total, KP_LV("provisioned", "default", "false"));
	if (!rc)
		rc = kp_metrics_inc(k.nodeclaims_created_total, KP_LV("provisioned", "gpu", "true"));
	if (!rc)
		rc = kp_metrics_inc(k.nodes_created_total, KP_LV("default", "us-west-2b"));
	if (!rc)
		rc = kp_metrics_set(k.nodepools_usage, KP_LV("memory", "default"), 68719476736.0);
	if (!rc)
		rc = kp_metrics_set(k.nodepools_limit, KP_LV("cpu", "default"), 1000);
	if (!rc)
		rc = kp_metrics_set(k.nodepools_allowed_disruptions, KP_LV("default", "drifted"), 1);
	if (!rc)
		rc = kp_metrics_observe(k.scheduler_scheduling_duration_seconds, KP_LV("disruption"), 1.7);
	if (!rc)
		rc = kp_metrics_observe(k.cloudprovider_duration_seconds, KP_LV("nodeclaim.lifecycle", "Create", "aws"),
			12.5);
	if (!rc)   /* escaping: backslash, quote and newline in a label value */
		rc = kp_metrics_inc(k.cloudprovider_errors_total,
			KP_LV("provisioner", "Create", "aws", "odd \"error\" \\ with\nnewline"));
	if (!rc)
		rc = kp_metrics_set(k.cluster_state_synced, NULL, 0, 1);
	if (!rc)
		rc = kp_metrics_set_build_info(&k, "v0.1.0", "0123abc");
	if (rc) {
		kp_errf(&eb, rc, "updating: %s", kp_err_str(rc));
		goto out;
	}
	rc = kp_metrics_write(r, &out, &eb);
	if (rc)
		goto out;
	fwrite(out.data, 1, out.len, stdout);
	status = fflush(stdout) != 0;
out:
	if (rc)
		fprintf(stderr, "metrics_sample: %s\n", eb.msg);
	kp_buf_free(&out);
	kp_metrics_free(r);
	return status;
}
