/*
 * cronsched.c - when a CronJob is due, after k8s.io/kubernetes
 * pkg/controller/cronjob/utils.go mostRecentScheduleTime and
 * nextScheduleTime, on the robfig-compatible schedules of
 * src/disrupt/cron.c (UTC).
 *
 * Cost: one kp_cron_next per due activation, at most MAX_WALK of them:
 * after a long outage the walk restarts a day before now (the count of
 * missed activations is then at least MAX_WALK, which is all the
 * controller needs to know: upstream only warns above 100).
 */
#include "kcm/rules.h"
#include "karpenter/disrupt.h"

#define MAX_WALK 1000

void kp_kcm_cron_due(const struct kp_cron *c, int64_t earliest, int64_t now, int64_t deadline_s, int64_t *scheduled,
		     int64_t *missed, int64_t *next)
{
	int64_t t, last = 0, n = 0, skipped = 0;

	if (deadline_s >= 0 && now - deadline_s > earliest)
		earliest = now - deadline_s;
	t = kp_cron_next(c, earliest);
	while (t != KP_CRON_NONE && t <= now) {
		if (++n > MAX_WALK && now - 86400 > t) {
			skipped += n;
			n = 0;
			t = kp_cron_next(c, now - 86400);
			continue;
		}
		last = t;
		t = kp_cron_next(c, t);
	}
	*scheduled = last;
	*missed = n + skipped;
	*next = t;
}
