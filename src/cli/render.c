/*
 * render.c - JSON and table output of a scheduling plan.
 *
 * JSON keys and shapes are a contract (README "simulate"): keep them, only
 * add. JSON is streamed through a kp_jw writer as it is produced (nothing
 * of the plan is built first), so its memory does not grow with the plan. Tables are for people: one row per planned node, totals, the pods
 * that stay pending with their reasons, and the decisions explained.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/render.h"
#include "karpenter/labels.h"
#include "karpenter/quantity.h"

static void res_jw(struct kp_jw *w, const struct kp_res *r, const struct kp_resnames *rn)
{
	char buf[64];

	kp_jw_obj_begin(w);
	for (int i = 0; r && i < rn->n; i++) {
		if (!r->v[i])
			continue;
		kp_qty_format(r->v[i], kp_res_scale(i), kp_res_style(rn, i), buf, sizeof(buf));
		kp_jw_key(w, rn->name[i]);
		kp_jw_str(w, buf);
	}
	kp_jw_obj_end(w);
}

static void labels_jw(struct kp_jw *w, const struct kp_labels *l)
{
	kp_jw_obj_begin(w);
	for (int i = 0; i < l->n; i++) {
		kp_jw_key(w, l->kv[i].key);
		kp_jw_str(w, l->kv[i].value ? l->kv[i].value : "");
	}
	kp_jw_obj_end(w);
}

static void taints_jw(struct kp_jw *w, const struct kp_taints *t)
{
	kp_jw_arr_begin(w);
	for (int i = 0; i < t->n; i++) {
		kp_jw_obj_begin(w);
		kp_jw_key(w, "key");
		kp_jw_str(w, t->t[i].key);
		kp_jw_key(w, "value");
		kp_jw_str(w, t->t[i].value ? t->t[i].value : "");
		kp_jw_key(w, "effect");
		kp_jw_str(w, kp_effect_name(t->t[i].effect));
		kp_jw_obj_end(w);
	}
	kp_jw_arr_end(w);
}

/* Claim names "<pool>-<k>", k counted per pool from 1 in plan order. Pools
 * are few: a linear list of (name, count) makes naming every claim
 * O(claims x pools) instead of O(claims^2). */
struct claim_namer {
	const char **pool;              /* malloc'ed */
	int *count;
	int n, cap;
};

static const char *namer_next(struct claim_namer *cn, const char *pool, char *buf, size_t n)
{
	int i;

	for (i = 0; i < cn->n; i++)
		if (strcmp(cn->pool[i], pool) == 0)
			break;
	if (i == cn->n) {
		if (cn->n == cn->cap) {
			int cap = cn->cap ? cn->cap * 2 : 8;
			const char **p = realloc(cn->pool, (size_t)cap * sizeof(*p));
			int *c;
			if (p)
				cn->pool = p;
			c = p ? realloc(cn->count, (size_t)cap * sizeof(*c)) : NULL;
			if (!c)
				return NULL;
			cn->count = c;
			cn->cap = cap;
		}
		cn->pool[i] = pool;
		cn->count[i] = 0;
		cn->n++;
	}
	snprintf(buf, n, "%s-%d", pool, ++cn->count[i]);
	return buf;
}

static void namer_free(struct claim_namer *cn)
{
	free(cn->pool);
	free(cn->count);
}

/* Name of claim i: from the namer, or counted again if it ran out of memory. */
static const char *claim_name(struct claim_namer *cn, const struct kp_plan *plan, int i, char *buf, size_t n)
{
	const char *s = namer_next(cn, plan->claims[i].pool->name, buf, n);
	return s ? s : kp_render_claim_name(plan, i, buf, n);
}

const char *kp_render_claim_name(const struct kp_plan *plan, int i, char *buf, size_t n)
{
	const char *pool = plan->claims[i].pool->name;
	int k = 0;

	for (int j = 0; j <= i; j++)
		if (strcmp(plan->claims[j].pool->name, pool) == 0)
			k++;
	snprintf(buf, n, "%s-%d", pool, k);
	return buf;
}

static void pods_jw(struct kp_jw *w, const struct kp_pod *const *pods, int n)
{
	char key[512];

	kp_jw_arr_begin(w);
	for (int i = 0; i < n; i++)
		kp_jw_str(w, kp_pod_key(pods[i], key, sizeof(key)));
	kp_jw_arr_end(w);
}

static void claim_jw(struct kp_jw *w, const struct kp_plan_claim *c, const char *name,
		     const struct kp_resnames *rn, int max_options)
{
	int nopt = max_options > 0 && c->nitypes > max_options ? max_options : c->nitypes;

	kp_jw_obj_begin(w);
	kp_jw_key(w, "name");
	kp_jw_str(w, name);
	kp_jw_key(w, "nodePool");
	kp_jw_str(w, c->pool->name);
	kp_jw_key(w, "instanceType");
	kp_jw_str(w, c->launch_type ? c->launch_type->name : NULL);
	kp_jw_key(w, "zone");
	kp_jw_str(w, c->launch ? c->launch->zone : NULL);
	kp_jw_key(w, "capacityType");
	kp_jw_str(w, c->launch ? kp_captype_name(c->launch->captype) : NULL);
	kp_jw_key(w, "pricePerHour");
	if (c->launch)
		kp_jw_real(w, c->launch->price);
	else
		kp_jw_null(w);
	kp_jw_key(w, "labels");
	labels_jw(w, &c->labels);
	kp_jw_key(w, "taints");
	taints_jw(w, &c->taints);
	kp_jw_key(w, "allocatable");
	res_jw(w, c->launch_type ? &c->launch_type->allocatable : NULL, rn);
	kp_jw_key(w, "pods");
	pods_jw(w, c->pods, c->npods);
	kp_jw_key(w, "instanceTypeOptions");
	kp_jw_arr_begin(w);
	for (int k = 0; k < nopt; k++)
		kp_jw_str(w, c->itypes[k]->name);
	kp_jw_arr_end(w);
	if (nopt < c->nitypes) {   /* the launch sends the cheapest 60 */
		kp_jw_key(w, "instanceTypeOptionsTotal");
		kp_jw_int(w, c->nitypes);
	}
	kp_jw_key(w, "requests");
	res_jw(w, &c->requests, rn);
	kp_jw_obj_end(w);
}

void kp_render_plan_jw(struct kp_jw *w, const struct kp_plan *plan, const struct kp_resnames *rn,
		       int max_options)
{
	struct claim_namer cn = { 0 };
	char name[300], key[512];

	kp_jw_key(w, "nodeClaims");
	kp_jw_arr_begin(w);
	for (int i = 0; i < plan->nclaims; i++)
		claim_jw(w, &plan->claims[i], claim_name(&cn, plan, i, name, sizeof(name)), rn, max_options);
	kp_jw_arr_end(w);
	namer_free(&cn);

	kp_jw_key(w, "existingNodes");
	kp_jw_arr_begin(w);
	for (int i = 0; i < plan->nexisting; i++) {
		const struct kp_plan_existing *e = &plan->existing[i];
		kp_jw_obj_begin(w);
		kp_jw_key(w, "name");
		kp_jw_str(w, e->node ? e->node->name : e->claim->name);
		kp_jw_key(w, "pods");
		pods_jw(w, e->pods, e->npods);
		kp_jw_obj_end(w);
	}
	kp_jw_arr_end(w);

	kp_jw_key(w, "unschedulable");
	kp_jw_arr_begin(w);
	for (int i = 0; i < plan->nunsched; i++) {
		kp_jw_obj_begin(w);
		kp_jw_key(w, "pod");
		kp_jw_str(w, kp_pod_key(plan->unsched[i].pod, key, sizeof(key)));
		kp_jw_key(w, "reason");
		kp_jw_str(w, plan->unsched[i].reason);
		kp_jw_obj_end(w);
	}
	kp_jw_arr_end(w);

	kp_jw_key(w, "notes");
	kp_jw_arr_begin(w);
	for (int i = 0; i < plan->nnotes; i++)
		kp_jw_str(w, plan->notes[i]);
	kp_jw_arr_end(w);
}

void kp_render_plan_table(FILE *f, const struct kp_plan *plan, const struct kp_resnames *rn)
{
	double total = 0;
	int placed_new = 0, placed_existing = 0;
	char name[300], key[512];
	struct claim_namer cn = { 0 };

	(void)rn;
	if (plan->nclaims) {
		fprintf(f, "%-24s %-14s %-20s %-14s %-10s %10s %5s\n", "NODECLAIM", "NODEPOOL", "INSTANCE TYPE",
			"ZONE", "CAPACITY", "$/HOUR", "PODS");
		for (int i = 0; i < plan->nclaims; i++) {
			const struct kp_plan_claim *c = &plan->claims[i];
			fprintf(f, "%-24s %-14s %-20s %-14s %-10s %10.4f %5d\n",
				claim_name(&cn, plan, i, name, sizeof(name)), c->pool->name,
				c->launch_type ? c->launch_type->name : "-", c->launch ? c->launch->zone : "-",
				c->launch ? kp_captype_name(c->launch->captype) : "-",
				c->launch ? c->launch->price : 0.0, c->npods);
			if (c->launch)
				total += c->launch->price;
			placed_new += c->npods;
		}
	} else {
		fprintf(f, "no new nodes needed\n");
	}
	namer_free(&cn);
	for (int i = 0; i < plan->nexisting; i++)
		placed_existing += plan->existing[i].npods;
	fprintf(f, "\nTOTAL: %d new node%s, $%.4f/hour; %d pod%s on new nodes, %d on existing nodes, %d unschedulable\n",
		plan->nclaims, plan->nclaims == 1 ? "" : "s", total, placed_new, placed_new == 1 ? "" : "s",
		placed_existing, plan->nunsched);
	if (plan->nexisting) {
		fprintf(f, "\nEXISTING NODES RECEIVING PODS\n");
		for (int i = 0; i < plan->nexisting; i++) {
			const struct kp_plan_existing *e = &plan->existing[i];
			fprintf(f, "  %s: %d pod%s\n", e->node ? e->node->name : e->claim->name, e->npods,
				e->npods == 1 ? "" : "s");
		}
	}
	if (plan->nunsched) {
		fprintf(f, "\nUNSCHEDULABLE PODS\n");
		for (int i = 0; i < plan->nunsched; i++)
			fprintf(f, "  %s: %s\n", kp_pod_key(plan->unsched[i].pod, key, sizeof(key)),
				plan->unsched[i].reason);
	}
	if (plan->nnotes) {
		fprintf(f, "\nWHY\n");
		for (int i = 0; i < plan->nnotes; i++)
			fprintf(f, "  %s\n", plan->notes[i]);
	}
}

void kp_render_bound_jw(struct kp_jw *w, const struct kp_cost_bound *b)
{
	kp_jw_key(w, "costBound");
	kp_jw_obj_begin(w);
	kp_jw_key(w, "lowerBoundPerHour");
	kp_jw_real(w, b->lower);
	kp_jw_key(w, "planPerHour");
	kp_jw_real(w, b->plan);
	kp_jw_key(w, "gap");
	kp_jw_real(w, b->gap);
	kp_jw_key(w, "ratio");
	kp_jw_real(w, b->lower > 0 ? b->plan / b->lower : 0.0);
	kp_jw_key(w, "pods");
	kp_jw_int(w, b->pods);
	kp_jw_key(w, "podClasses");
	kp_jw_int(w, b->classes);
	kp_jw_key(w, "nodeKinds");
	kp_jw_int(w, b->kinds);
	kp_jw_key(w, "iterations");
	kp_jw_int(w, b->iters);
	kp_jw_obj_end(w);
}

void kp_render_bound_table(FILE *f, const struct kp_cost_bound *b)
{
	fprintf(f, "\ncost bound: plan $%.4f/h, lower bound $%.4f/h, gap %.1f%% (%d pods, %d classes, %d node kinds)\n",
		b->plan, b->lower, b->gap * 100, b->pods, b->classes, b->kinds);
}
