/*
 * render.h - turns engine results into the CLI's outputs: JSON for
 * programs (the contract in the README) and tables for people.
 */
#ifndef KARPENTER_CLI_RENDER_H
#define KARPENTER_CLI_RENDER_H

#include <stdio.h>

#include <jansson.h>

#include "karpenter/pack.h"
#include "karpenter/sched.h"

/* Resource list as {"cpu": "1500m", "memory": "16Gi", ...} (non-zero entries). */
json_t *kp_render_res(const struct kp_res *r, const struct kp_resnames *rn);
json_t *kp_render_labels(const struct kp_labels *l);
json_t *kp_render_taints(const struct kp_taints *t);
/* The simulate plan: {"nodeClaims", "existingNodes", "unschedulable", "notes"}. */
json_t *kp_render_plan_json(const struct kp_plan *plan, const struct kp_resnames *rn);
/* Claims list at most max_options instanceTypeOptions (0 = all) and then
 * "instanceTypeOptionsTotal"; kp_render_plan_json uses the 60 a launch sends. */
#define KP_RENDER_MAX_OPTIONS 60
json_t *kp_render_plan_json_opts(const struct kp_plan *plan, const struct kp_resnames *rn, int max_options);
void kp_render_plan_table(FILE *f, const struct kp_plan *plan, const struct kp_resnames *rn);
/* Name given to the i-th claim of a plan ("<nodepool>-<n>", n counted per pool from 1). */
const char *kp_render_claim_name(const struct kp_plan *plan, int i, char *buf, size_t n);

/* Adds "costBound": {"lowerBoundPerHour", "planPerHour", "gap", ...} to a plan object; 0 or -1. */
int kp_render_bound_json(json_t *plan, const struct kp_cost_bound *b);
void kp_render_bound_table(FILE *f, const struct kp_cost_bound *b);

#endif
