/*
 * rollout.c - the arithmetic of a Deployment's RollingUpdate, after
 * k8s.io/kubernetes pkg/controller/deployment:
 *
 *  - ResolveFenceposts (util/deployment_util.go): maxSurge rounds up,
 *    maxUnavailable down, both 25% by default; 0/0 becomes 0/1;
 *    MaxUnavailable never exceeds the desired count;
 *  - NewRSNewReplicas: the new ReplicaSet grows to at most
 *    want + maxSurge pods over all ReplicaSets, never past want;
 *  - reconcileOldReplicaSets (rolling.go): old ReplicaSets shrink by at
 *    most allPods - (want - maxUnavailable) - newRSUnavailable, their
 *    unhealthy replicas first (cleanupUnhealthyReplicas), then, oldest
 *    first, as far as availability stays at want - maxUnavailable
 *    (scaleDownOldReplicaSetsForRollingUpdate).
 *
 * Cost: O(number of ReplicaSets).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcm/rules.h"

/* An IntOrString: an integer, or "N%" of total rounded up or down. */
static kp_err int_or_percent(const json_t *v, const char *field, int64_t dflt_pct, int64_t total, bool round_up,
			     int64_t *out, struct kp_errbuf *eb)
{
	int64_t pct = dflt_pct;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		if (*out < 0)
			return kp_errf(eb, KP_ERR_INVALID, "spec.strategy.rollingUpdate.%s: must be non-negative", field);
		return KP_OK;
	}
	if (v && !json_is_null(v)) {
		const char *s = json_string_value(v);
		size_t n = s ? strlen(s) : 0;
		char num[24];
		if (!s || n < 2 || n > sizeof(num) || s[n - 1] != '%')
			return kp_errf(eb, KP_ERR_INVALID,
				       "spec.strategy.rollingUpdate.%s: invalid value for IntOrString: must be an integer or a percentage",
				       field);
		memcpy(num, s, n - 1);
		num[n - 1] = '\0';
		if (kp_parse_i64(num, &pct) || pct < 0)
			return kp_errf(eb, KP_ERR_INVALID, "spec.strategy.rollingUpdate.%s: invalid percentage \"%s\"", field,
				       s);
	}
	if (pct > 0 && total > INT64_MAX / pct)
		return kp_errf(eb, KP_ERR_RANGE, "spec.strategy.rollingUpdate.%s: out of range", field);
	*out = round_up ? (pct * total + 99) / 100 : pct * total / 100;
	return KP_OK;
}

kp_err kp_kcm_fenceposts(const json_t *strategy, int64_t want, int64_t *surge, int64_t *unavail,
			 struct kp_errbuf *eb)
{
	const char *type = json_string_value(json_object_get(strategy, "type"));
	const json_t *ru = json_object_get(strategy, "rollingUpdate");
	kp_err rc;

	if (type && !strcmp(type, "Recreate")) {
		*surge = 0;
		*unavail = want;
		return KP_OK;
	}
	if ((rc = int_or_percent(json_object_get(ru, "maxSurge"), "maxSurge", 25, want, true, surge, eb)))
		return rc;
	if ((rc = int_or_percent(json_object_get(ru, "maxUnavailable"), "maxUnavailable", 25, want, false, unavail, eb)))
		return rc;
	if (*surge == 0 && *unavail == 0)
		*unavail = 1;
	if (*unavail > want)
		*unavail = want;
	return KP_OK;
}

int64_t kp_kcm_rollout_new_replicas(int64_t want, int64_t surge, int64_t total_spec, int64_t new_spec)
{
	int64_t max_total = want + surge, up;

	if (total_spec >= max_total)
		return new_spec;
	up = max_total - total_spec;
	if (up > want - new_spec)
		up = want - new_spec;
	return up > 0 ? new_spec + up : new_spec;
}

int64_t kp_kcm_rollout_scale_old(int64_t want, int64_t unavail, int64_t new_spec, int64_t new_avail,
				 struct kp_kcm_rs *old, size_t n)
{
	int64_t old_total = 0, all = new_spec, avail = new_avail, min_avail = want - unavail, done = 0;
	int64_t new_unavail = new_spec > new_avail ? new_spec - new_avail : 0, budget;

	for (size_t i = 0; i < n; i++) {
		old_total += old[i].spec;
		all += old[i].spec;
	}
	if (old_total == 0)
		return 0;
	budget = all - min_avail - new_unavail;
	if (budget <= 0)
		return 0;
	/* cleanupUnhealthyReplicas: replicas that are not available go first */
	for (size_t i = 0; i < n && done < budget; i++) {
		int64_t a = old[i].avail < old[i].spec ? old[i].avail : old[i].spec;
		int64_t bad = old[i].spec - a, cut = bad < budget - done ? bad : budget - done;
		old[i].spec -= cut;
		done += cut;
	}
	/* scaleDownOldReplicaSetsForRollingUpdate: available ones, oldest first */
	for (size_t i = 0; i < n; i++)
		avail += old[i].avail < old[i].spec ? old[i].avail : old[i].spec;
	if (avail <= min_avail)
		return done;
	int64_t total = avail - min_avail, cut_avail = 0;
	for (size_t i = 0; i < n && cut_avail < total; i++) {
		int64_t cut = old[i].spec < total - cut_avail ? old[i].spec : total - cut_avail;
		old[i].spec -= cut;
		cut_avail += cut;
	}
	return done + cut_avail;
}
