/*
 * pdb.h - PodDisruptionBudget arithmetic (status.desiredHealthy,
 * disruptionsAllowed from minAvailable/maxUnavailable) and the budget check
 * the eviction subresource (rest_evict.c) makes before it deletes a pod.
 * Used by the API server and by the disruption controller of src/kcm
 * (kcm/pdb.c), which keeps the budgets' status current.
 */
#ifndef KARPENTER_APISERVER_PDB_H
#define KARPENTER_APISERVER_PDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "karpenter/base.h"

struct kp_apiserver;

/* ---- pure helpers (unit-tested) ---- */


/* Resolves an IntOrString (an integer or "N%") against total, rounding a
 * percentage up as the disruption controller does. KP_ERR_INVALID for
 * anything else (a missing value, "abc", "-3%"). */
kp_err kp_apiserver_pdb_scaled(const json_t *v, int64_t total, int64_t *out);

/* True if the budget's expected pod count comes from the pods'
 * controllers' scale (maxUnavailable, or a percentage minAvailable)
 * rather than from the number of matching pods. */
bool kp_apiserver_pdb_needs_scale(const json_t *spec);

/* desiredHealthy and disruptionsAllowed of a budget whose spec is spec,
 * given expected pods and currently healthy ones (the controller's
 * getExpectedPodCount and updatePdbStatus). KP_ERR_INVALID for an
 * unusable minAvailable/maxUnavailable. */
kp_err kp_apiserver_pdb_compute(const json_t *spec, int64_t expected, int64_t healthy, int64_t *desired, int64_t *allowed);

/* True if pod's Ready condition is True (podutil.IsPodReady). */
bool kp_apiserver_pdb_pod_ready(const json_t *pod);

/* Sets the DisruptionAllowed condition of a budget's status; keeps
 * lastTransitionTime while the condition's status does not change. */
void kp_apiserver_pdb_set_allowed_cond(json_t *status, bool ok, int64_t gen, const char *reason, const char *msg);

/* ---- the eviction subresource's budget check ---- */

enum kp_apiserver_pdb_verdict {
	KP_APISERVER_PDB_ALLOW,      /* no budget, or one that allowed it (and was decremented) */
	KP_APISERVER_PDB_DENY,       /* 429 TooManyRequests, cause in msg */
	KP_APISERVER_PDB_STALE,      /* 429: the budget's status is older than its spec (cause in msg) */
	KP_APISERVER_PDB_MULTI,      /* 500: more than one budget selects the pod */
	KP_APISERVER_PDB_FORBIDDEN,  /* 403: negative disruptionsAllowed or too many unconfirmed evictions */
	KP_APISERVER_PDB_FAIL,       /* store failure, eb says why */
};

/* What the eviction subresource does between reading pod (stored JSON,
 * Running and not terminating) and deleting it: finds the budgets of the
 * pod's namespace that select it; with exactly one, lets an unready pod go
 * when the budget is satisfied (or its unhealthyPodEvictionPolicy is
 * AlwaysAllow), otherwise checks status.disruptionsAllowed and, when
 * positive, decrements it and records the pod in status.disruptedPods
 * (unless dry_run). name (size nn) receives the budget's name, msg (size
 * mn) the cause for a refusal. */
enum kp_apiserver_pdb_verdict kp_apiserver_pdb_evict_check(struct kp_apiserver *L, const json_t *pod, bool dry_run, char *name, size_t nn,
				       char *msg, size_t mn, struct kp_errbuf *eb);

#endif
