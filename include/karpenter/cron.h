/*
 * cron.h - cron schedules (robfig/cron v3 ParseStandard, as Karpenter and
 * the CronJob controller call it; always UTC): the one parser, used by the
 * NodePool disruption budgets (src/disrupt/budget.c, src/load/nodepool.c)
 * and the built-in CronJob controller (src/kcm/cronjob.c).
 *
 * Pure: no I/O, no clock (every function is given its time, unix seconds).
 * Life cycle: a struct kp_cron is a value; kp_cron_parse fills it, nothing
 * to free.
 */
#ifndef KARPENTER_CRON_H
#define KARPENTER_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "karpenter/base.h"

struct kp_cron {
	uint64_t minute;            /* bit i = minute i (0..59) */
	uint32_t hour;              /* bits 0..23 */
	uint32_t dom;               /* bits 1..31 */
	uint16_t month;             /* bits 1..12 */
	uint8_t dow;                /* bits 0..6, Sunday = 0 */
	bool dom_star, dow_star;    /* field was '*' or '?' (without a step > 1) */
	int64_t every_s;            /* "@every D": fixed delay in seconds; 0 otherwise */
};

/* Parses five fields "min hour dom month dow" (lists, ranges a-b, steps
 * x/n, '*', '?', month and weekday names) or a descriptor: @yearly,
 * @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every D.
 * KP_ERR_INVALID with the field named in eb. */
kp_err kp_cron_parse(struct kp_cron *c, const char *spec, struct kp_errbuf *eb);
/* First activation strictly after t (unix seconds, UTC). Like robfig/cron,
 * the search stops five years ahead and then returns KP_CRON_NONE. */
#define KP_CRON_NONE INT64_MIN
int64_t kp_cron_next(const struct kp_cron *c, int64_t t);
/* The CronJob controller's mostRecentScheduleTime (k8s.io/kubernetes
 * pkg/controller/cronjob/utils.go): from earliest (the lastScheduleTime,
 * else the creation time; unix s), moved up to now - deadline_s when
 * deadline_s >= 0 (startingDeadlineSeconds), the latest activation <= now
 * goes to *scheduled (0: none due), how many activations were due to
 * *missed, and the first activation after now to *next (KP_CRON_NONE when
 * the schedule never fires again). */
void kp_cron_due(const struct kp_cron *c, int64_t earliest, int64_t now, int64_t deadline_s, int64_t *scheduled,
		 int64_t *missed, int64_t *next);

#endif
