/*
 * ctrl.h - the Karpenter controller: control loops over the Kubernetes API,
 * run by `karpenter controller` against any cluster and by `karpenter up`
 * in-process (through the same HTTP client, with the kubeconfig `up`
 * writes). Internal to src/ctrl, src/cli and src/up.
 *
 * What runs (mirroring Karpenter v1, pkg/controllers/...):
 *   - the operator (pkg/operator): one kube loop with timers, informers for
 *     Pods, Nodes, NodeClaims, NodePools, DaemonSets, PDBs, Namespaces and
 *     EC2NodeClasses, "synced" gating, optional Lease leader election;
 *   - the provisioner (provisioning/): batches provisionable pods, solves
 *     with kp_sched_solve on a snapshot, creates NodeClaims;
 *   - NodeClaim lifecycle (nodeclaim/lifecycle/): launch, registration,
 *     initialization, liveness and the NodeClaim finalizer;
 *   - the insufficient-capacity cache the provisioner consults.
 * docs/controller.md describes the loop, the extension points (work queue,
 * timers, snapshot builder) and what is not there yet.
 *
 * Threads: kp_ctrl_run() owns the calling thread until kp_ctrl_stop() (any
 * thread, async-signal-safe) or a fatal error (leadership lost). Everything
 * else in the controller runs on that thread. kp_ctrl_ready() and the
 * metrics registry may be read from any thread (the health/metrics
 * listeners do).
 *
 * Life cycle: kp_ctrl_opts_init(), set fields, kp_ctrl_new(), kp_ctrl_run(),
 * kp_ctrl_free(). The cloud, resource names, metrics registry and log
 * stream are borrowed and must outlive the controller.
 */
#ifndef KARPENTER_CTRL_H
#define KARPENTER_CTRL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "karpenter/base.h"
#include "karpenter/cloud.h"
#include "karpenter/log.h"
#include "karpenter/resources.h"

struct kp_metrics;
struct kp_kube_clock;

struct kp_ctrl_opts {
	const char *kubeconfig;          /* NULL: $KUBECONFIG, in-cluster, ~/.kube/config */
	const char *context;             /* kubeconfig context; NULL = current */
	struct kp_cloud *cloud;          /* required; borrowed */
	const struct kp_resnames *resnames; /* names the cloud's catalog uses; NULL = well-known only */
	FILE *log_out;                   /* JSON log lines; NULL = stderr */
	enum kp_log_level log_level;     /* default info */
	bool leader_elect;               /* default false here; `controller` turns it on */
	const char *lease_ns;            /* default "kube-system" */
	const char *lease_name;          /* default "karpenter-leader-election" */
	const char *identity;            /* NULL = hostname_uuid */
	int64_t batch_idle_ms;           /* default 1000 */
	int64_t batch_max_ms;            /* default 10000 */
	int64_t launch_ttl_ms;           /* liveness: not launched after (default 5 min) */
	int64_t registration_ttl_ms;     /* liveness: launched, not registered after (default 15 min) */
	int max_instance_types;          /* launch list truncation; 0 = 600 */
	int packing;                     /* enum kp_packing (sched.h): 0 = karpenter, 1 = cost */
	struct kp_metrics *metrics;      /* NULL = kp_metrics_default() */
	double kube_qps;                 /* client rate limit; 0 = client default */
	int kube_burst;
	bool spot_to_spot;               /* SpotToSpotConsolidation feature gate (default false) */
	bool node_repair;                /* NodeRepair feature gate (default false): src/ctrl/repair.c */
	/* The one clock of the controller and its API client (kube/kube.h):
	 * every timer, TTL, deadline and timestamp it writes. NULL = the real
	 * clock; tests give one they advance (borrowed, read from the
	 * controller's threads, so its functions must be thread-safe). */
	const struct kp_kube_clock *clock;
	int64_t loop_wait_ms;            /* longest idle wait of the loop for traffic or a timer;
					  * 0 = 200 (tests shorten it so a clock advance is seen at once) */
};

/* True iff the feature-gate list gates ("Name=bool,...", may be NULL) sets
 * name to true (for callers without the CLI's settings, e.g. `up`). */
bool kp_ctrl_gate_on(const char *gates, const char *name);

struct kp_ctrl;

/* kp_kube_global_init/cleanup (libcurl) for callers that do not include
 * kube.h; once, in main(), before threads start. */
kp_err kp_ctrl_global_init(struct kp_errbuf *eb);
void kp_ctrl_global_cleanup(void);

/* Fills the defaults above. */
void kp_ctrl_opts_init(struct kp_ctrl_opts *o);
/* Resolves the configuration and builds the client, loop and informers
 * (nothing is listed until kp_ctrl_run). KP_ERR_INVALID for bad options. */
kp_err kp_ctrl_new(const struct kp_ctrl_opts *o, struct kp_ctrl **out, struct kp_errbuf *eb);
/* Runs the loop until kp_ctrl_stop(): returns KP_OK then, after releasing
 * the Lease when leading. Returns an error when leadership is lost (the
 * process should exit, as controller-runtime does) or the loop fails. */
kp_err kp_ctrl_run(struct kp_ctrl *c, struct kp_errbuf *eb);
/* Asks kp_ctrl_run to return; safe from a signal handler or another thread. */
void kp_ctrl_stop(struct kp_ctrl *c);
/* True once every informer has synced (readiness); any thread. */
bool kp_ctrl_ready(const struct kp_ctrl *c);
/* True while this replica runs the controllers (leader, or no election). */
bool kp_ctrl_leading(const struct kp_ctrl *c);
/* NULL is a no-op. Must not be called while kp_ctrl_run runs. */
void kp_ctrl_free(struct kp_ctrl *c);

/* ---- running it on a thread (karpenter up) ---- */
struct kp_ctrl_thread;
/* Builds the controller and runs it on a new thread. The thread logs a
 * fatal error and ends; kp_ctrl_thread_stop() joins it. */
kp_err kp_ctrl_thread_start(const struct kp_ctrl_opts *o, struct kp_ctrl_thread **out, struct kp_errbuf *eb);
/* Stops, joins and frees; NULL is a no-op. */
void kp_ctrl_thread_stop(struct kp_ctrl_thread *t);

/* ---- health and metrics listeners (http.c) ---- */
struct kp_ctrl_http;
/* Serves GET /metrics (registry exposition) on metrics_addr and /healthz,
 * /readyz on health_addr ("ADDR:PORT" or ":PORT"; NULL = not served).
 * c may be NULL (readyz then answers 200). Plain HTTP, loopback or not. */
kp_err kp_ctrl_http_start(struct kp_ctrl *c, struct kp_metrics *reg, const char *metrics_addr,
			  const char *health_addr, struct kp_ctrl_http **out, struct kp_errbuf *eb);
/* Bound port of the metrics (which = 0) or health (1) listener; 0 if none. */
int kp_ctrl_http_port(const struct kp_ctrl_http *h, int which);
void kp_ctrl_http_stop(struct kp_ctrl_http *h);

/* `karpenter up` runs this controller in-process: see src/up/up.h. */

#endif
