/*
 * render.h - turns engine results into the CLI's outputs: JSON for
 * programs (the contract in the README) and tables for people.
 */
#ifndef KARPENTER_CLI_RENDER_H
#define KARPENTER_CLI_RENDER_H

#include <stdio.h>

#include "jsonw/jsonw.h"

#include "karpenter/pack.h"
#include "karpenter/sched.h"

/* The simulate plan's members "nodeClaims", "existingNodes", "unschedulable",
 * "notes", written into the object open in w. Claims list at most
 * max_options instanceTypeOptions (0 = all) and then
 * "instanceTypeOptionsTotal"; by default the 60 a launch sends. */
#define KP_RENDER_MAX_OPTIONS 60
void kp_render_plan_jw(struct kp_jw *w, const struct kp_plan *plan, const struct kp_resnames *rn,
		       int max_options);
void kp_render_plan_table(FILE *f, const struct kp_plan *plan, const struct kp_resnames *rn);
/* Name given to the i-th claim of a plan ("<nodepool>-<n>", n counted per pool from 1);
 * O(i): the renderers name claims in order with a per-pool counter instead. */
const char *kp_render_claim_name(const struct kp_plan *plan, int i, char *buf, size_t n);

/* Member "costBound": {"lowerBoundPerHour", "planPerHour", "gap", ...} of the open object. */
void kp_render_bound_jw(struct kp_jw *w, const struct kp_cost_bound *b);
void kp_render_bound_table(FILE *f, const struct kp_cost_bound *b);

#endif
