/*
 * rules.h - the pure rules of `karpenter up`'s built-in controllers: the
 * arithmetic and classifications Kubernetes' kube-controller-manager and
 * kubelet apply, with no I/O, no clock and no store (so they are unit
 * tested on their own):
 *
 *  - the Deployment rolling-update arithmetic (rollout.c, after
 *    pkg/controller/deployment: ResolveFenceposts, NewRSNewReplicas,
 *    reconcileOldReplicaSets / scaleDownOldReplicaSetsForRollingUpdate);
 *  - how long a simulated container runs and how it exits, and how many
 *    pods a Job wants active (batch.c, after pkg/controller/job).
 *
 * Ownership: every pointer argument is borrowed; nothing is kept.
 */
#ifndef KARPENTER_KCM_RULES_H
#define KARPENTER_KCM_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "karpenter/base.h"

/* ---- rollout.c ---- */

/* maxSurge and maxUnavailable of a Deployment's spec.strategy (both 25%
 * when absent; percentages of want, surge rounded up, unavailable down; if
 * both come to 0, unavailable is 1). Recreate gives surge 0, unavailable
 * want. KP_ERR_INVALID naming the field for a value that is neither an
 * integer nor "N%". */
kp_err kp_kcm_fenceposts(const json_t *strategy, int64_t want, int64_t *surge, int64_t *unavail,
			 struct kp_errbuf *eb);

/* The new ReplicaSet's size after one rolling step: grows by what the
 * surge allows over all ReplicaSets' spec.replicas (total_spec), up to
 * want (NewRSNewReplicas). */
int64_t kp_kcm_rollout_new_replicas(int64_t want, int64_t surge, int64_t total_spec, int64_t new_spec);

/* An old ReplicaSet as the rolling update sees it. */
struct kp_kcm_rs {
	int64_t spec;      /* spec.replicas, updated in place */
	int64_t avail;     /* status.availableReplicas */
};

/* Scales old ReplicaSets down as far as the availability floor
 * (want - unavail) allows: first their unavailable pods, then available
 * ones, oldest first (old[] in that order). new_spec/new_avail describe
 * the new ReplicaSet. Updates old[i].spec; returns how many replicas were
 * removed in total. */
int64_t kp_kcm_rollout_scale_old(int64_t want, int64_t unavail, int64_t new_spec, int64_t new_avail,
				 struct kp_kcm_rs *old, size_t n);

/* ---- batch.c ---- */

/* Annotation naming how long a pod's containers run (Go duration). */
#define KP_KCM_RUN_FOR "karpenter-c.sh/run-for"
/* Annotation giving the exit code they end with (default 0). */
#define KP_KCM_EXIT_CODE "karpenter-c.sh/exit-code"

/* How long the simulated containers of pod run: the run-for annotation,
 * else the longest `sleep N` among the containers (command + args, or
 * args alone; `sh -c "sleep N"` too; N with an s/m/h/d suffix, fractions
 * allowed). *ms gets it and *exit_code the exit-code annotation (0 when
 * absent). false when some container runs for ever (or the annotation is
 * malformed: then eb says why). */
bool kp_kcm_run_for(const json_t *pod, int64_t *ms, int *exit_code, struct kp_errbuf *eb);

/* How many pods a non-indexed Job wants running: completions (has_comp
 * false: unset, a work queue) minus succeeded, at most parallelism; a
 * work-queue Job wants none once one pod succeeded. Never negative. */
int64_t kp_kcm_job_want_active(int64_t parallelism, bool has_comp, int64_t completions, int64_t succeeded);

#endif
