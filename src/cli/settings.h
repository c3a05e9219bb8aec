/*
 * settings.h - Karpenter's settings environment variables for
 * `karpenter controller` (CLUSTER_NAME, INTERRUPTION_QUEUE, BATCH_MAX_DURATION,
 * FEATURE_GATES, LOG_LEVEL, ...), each also a flag. As in Karpenter
 * (pkg/operator/options: every flag's default is env.WithDefault*(VAR)), the
 * variables are read first and flags given on the command line win.
 *
 * Life cycle: kp_cli_settings_init, then kp_cli_settings_env once, then
 * kp_cli_settings_flag for each argument. String settings are borrowed from
 * the environment or argv (both outlive the command); nothing to free.
 */
#ifndef KARPENTER_CLI_SETTINGS_H
#define KARPENTER_CLI_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/args.h"

struct kp_ctrl_opts;

/* FEATURE_GATES ("SpotToSpotConsolidation=true,NodeRepair=false"). */
struct kp_cli_gates {
	bool spot_to_spot;        /* SpotToSpotConsolidation (default false): wired to disruption */
	bool reserved_capacity;   /* ReservedCapacity (default true): no capacity reservations here, no effect */
	bool node_repair;         /* NodeRepair (default false): node repair, src/ctrl/repair.c */
	bool node_overlay;        /* NodeOverlay: only false is accepted (not implemented) */
	bool static_capacity;     /* StaticCapacity: only false is accepted (not implemented) */
};

struct kp_cli_settings {
	const char *cluster_name;         /* CLUSTER_NAME / --cluster-name */
	const char *cluster_endpoint;     /* CLUSTER_ENDPOINT / --cluster-endpoint (https URL) */
	const char *cluster_ca_bundle;    /* CLUSTER_CA_BUNDLE / --cluster-ca-bundle */
	const char *interruption_queue;   /* INTERRUPTION_QUEUE / --interruption-queue (SQS queue name) */
	bool isolated_vpc;                /* ISOLATED_VPC / --isolated-vpc */
	double vm_memory_overhead;        /* VM_MEMORY_OVERHEAD_PERCENT (fraction, default 0.075) */
	int64_t reserved_enis;            /* RESERVED_ENIS / --reserved-enis (default 0) */
	struct kp_cli_gates gates;
	char metrics_listen[32];          /* ":PORT" from METRICS_PORT; "" = not set */
	char health_listen[32];           /* ":PORT" from HEALTH_PROBE_PORT; "" = not set */
};

/* Karpenter's defaults. */
void kp_cli_settings_init(struct kp_cli_settings *s);
/* Reads every settings variable that is set (non-empty) into s and o.
 * Prints "karpenter controller: VAR: ..." and returns 2 on a bad value,
 * else 0. */
int kp_cli_settings_env(struct kp_cli_settings *s, struct kp_ctrl_opts *o);
/* Handles argv[*i] if it is one of the settings flags (taking its value as
 * kp_cli_arg_value does): 1 when handled, 0 when not a settings flag, -1
 * after printing a usage error. */
int kp_cli_settings_flag(struct kp_cli_settings *s, struct kp_ctrl_opts *o, struct kp_cli_arg *opt, int argc,
			 char **argv, int *i);
/* The flags' usage lines. */
extern const char kp_cli_settings_usage[];

#endif
