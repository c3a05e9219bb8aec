/*
 * pdb.h - PodDisruptionBudgets in the local control plane behind `karpenter
 * up` (ctl_pdb.c): the disruption controller of kube-controller-manager
 * (status.expectedPods, currentHealthy, desiredHealthy, disruptionsAllowed,
 * disruptedPods, observedGeneration, the DisruptionAllowed condition) and
 * the budget check the eviction subresource (rest.c) makes before it
 * deletes a pod. Internal to src/local.
 *
 * Life cycle: kp_pdb_start() once the store is open (kp_ctl_start calls
 * it), kp_pdb_stop() after kp_store_shutdown() (kp_ctl_stop calls it).
 */
#ifndef KARPENTER_LOCAL_PDB_H
#define KARPENTER_LOCAL_PDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "karpenter/base.h"

struct kp_local;

/* Starts the disruption controller's thread for L. No-op if one runs. */
kp_err kp_pdb_start(struct kp_local *L, struct kp_errbuf *eb);
/* Joins it (the store must be shut down first). No-op when none runs. */
void kp_pdb_stop(struct kp_local *L);

/* ---- pure helpers (unit-tested) ---- */

/* True if labels (an object of strings, may be NULL) match a metav1
 * LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists,
 * DoesNotExist) all hold. A NULL selector matches nothing; an empty one
 * ({}) matches everything (policy/v1). A malformed one matches nothing. */
bool kp_pdb_selector_matches(const json_t *selector, const json_t *labels);

/* Resolves an IntOrString (an integer or "N%") against total, rounding a
 * percentage up as the disruption controller does. KP_ERR_INVALID for
 * anything else (a missing value, "abc", "-3%"). */
kp_err kp_pdb_scaled(const json_t *v, int64_t total, int64_t *out);

/* True if the budget's expected pod count comes from the pods'
 * controllers' scale (maxUnavailable, or a percentage minAvailable)
 * rather than from the number of matching pods. */
bool kp_pdb_needs_scale(const json_t *spec);

/* desiredHealthy and disruptionsAllowed of a budget whose spec is spec,
 * given expected pods and currently healthy ones (the controller's
 * getExpectedPodCount and updatePdbStatus). KP_ERR_INVALID for an
 * unusable minAvailable/maxUnavailable. */
kp_err kp_pdb_compute(const json_t *spec, int64_t expected, int64_t healthy, int64_t *desired, int64_t *allowed);

/* True if pod's Ready condition is True (podutil.IsPodReady). */
bool kp_pdb_pod_ready(const json_t *pod);

/* ---- the eviction subresource's budget check ---- */

enum kp_pdb_verdict {
	KP_PDB_ALLOW,      /* no budget, or one that allowed it (and was decremented) */
	KP_PDB_DENY,       /* 429 TooManyRequests, cause in msg */
	KP_PDB_STALE,      /* 429: the budget's status is older than its spec (cause in msg) */
	KP_PDB_MULTI,      /* 500: more than one budget selects the pod */
	KP_PDB_FORBIDDEN,  /* 403: negative disruptionsAllowed or too many unconfirmed evictions */
	KP_PDB_FAIL,       /* store failure, eb says why */
};

/* What the eviction subresource does between reading pod (stored JSON,
 * Running and not terminating) and deleting it: finds the budgets of the
 * pod's namespace that select it; with exactly one, lets an unready pod go
 * when the budget is satisfied (or its unhealthyPodEvictionPolicy is
 * AlwaysAllow), otherwise checks status.disruptionsAllowed and, when
 * positive, decrements it and records the pod in status.disruptedPods
 * (unless dry_run). name (size nn) receives the budget's name, msg (size
 * mn) the cause for a refusal. */
enum kp_pdb_verdict kp_pdb_evict_check(struct kp_local *L, const json_t *pod, bool dry_run, char *name, size_t nn,
				       char *msg, size_t mn, struct kp_errbuf *eb);

#endif
