/*
 * budget.c - NodePool disruption budgets (Karpenter's Budget.IsActive,
 * GetAllowedDisruptions and NodePool.GetAllowedDisruptionsByReason).
 *
 * A budget is active iff its schedule fires within the last `duration`:
 * Next(now - duration) <= now. An active budget allows `nodes` (a count, or
 * a percentage of the pool's nodes rounded up); an inactive one allows
 * INT32_MAX. A pool allows the minimum over the budgets that apply to the
 * reason; with no budgets it gets the CRD default of 10%. A malformed cron
 * fails closed: the pool allows 0 for every reason.
 *
 * Cost: one cron parse and one Next per scheduled budget.
 */
#include <limits.h>

#include "karpenter/disrupt.h"

#define BUDGET_DEFAULT_PERCENT 10

kp_err kp_budget_active(const struct kp_budget *b, int64_t now, bool *active, struct kp_errbuf *eb)
{
	struct kp_cron cron;
	int64_t next, from;
	kp_err rc;

	*active = true;
	if (!b->schedule)
		return KP_OK;
	rc = kp_cron_parse(&cron, b->schedule, eb);
	if (rc) {
		*active = false;
		return rc;
	}
	from = now - (b->duration_ms > 0 ? b->duration_ms / 1000 : 0);
	next = kp_cron_next(&cron, from);
	/* robfig returns the zero time when nothing fires for five years; the
	 * zero time is never after now, so such a budget is active. */
	*active = next == KP_CRON_NONE || next <= now;
	return KP_OK;
}

static int64_t budget_scaled(const struct kp_budget *b, int64_t num_nodes)
{
	int64_t v;

	if (num_nodes < 0)
		num_nodes = 0;
	if (!b->percent)
		return b->nodes < 0 ? 0 : b->nodes;
	if (b->nodes <= 0)
		return 0;
	if (!kp_i64_mul(b->nodes, num_nodes, &v))
		return INT32_MAX;
	return (v + 99) / 100;
}

kp_err kp_budget_allowed(const struct kp_budget *b, int64_t now, int64_t num_nodes, int64_t *out,
			 struct kp_errbuf *eb)
{
	bool active;
	kp_err rc = kp_budget_active(b, now, &active, eb);

	if (rc) {
		*out = 0;
		return rc;
	}
	*out = active ? budget_scaled(b, num_nodes) : INT32_MAX;
	return KP_OK;
}

int64_t kp_nodepool_allowed_disruptions(const struct kp_nodepool *np, unsigned reason, int64_t now,
					int64_t num_nodes)
{
	int64_t best = INT32_MAX;

	if (np->nbudgets == 0) {
		struct kp_budget def = { .percent = true, .nodes = BUDGET_DEFAULT_PERCENT };
		return budget_scaled(&def, num_nodes);
	}
	for (int i = 0; i < np->nbudgets; i++) {
		const struct kp_budget *b = &np->budgets[i];
		int64_t v;

		if (kp_budget_allowed(b, now, num_nodes, &v, NULL))
			return 0;
		if (b->reasons != 0 && reason != KP_REASON_ALL && !(b->reasons & reason))
			continue;
		if (v < best)
			best = v;
	}
	return best;
}
