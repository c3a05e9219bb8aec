/*
 * render.c - JSON and table output of a scheduling plan.
 *
 * JSON keys and shapes are a contract (README "simulate"): keep them, only
 * add. Tables are for people: one row per planned node, totals, the pods
 * that stay pending with their reasons, and the decisions explained.
 */
#include <string.h>

#include "cli/render.h"
#include "karpenter/labels.h"
#include "karpenter/quantity.h"

json_t *kp_render_res(const struct kp_res *r, const struct kp_resnames *rn)
{
	json_t *o = json_object();
	char buf[64];

	for (int i = 0; i < rn->n; i++) {
		if (!r->v[i])
			continue;
		kp_qty_format(r->v[i], kp_res_scale(i), kp_res_style(rn, i), buf, sizeof(buf));
		json_object_set_new(o, rn->name[i], json_string(buf));
	}
	return o;
}

json_t *kp_render_labels(const struct kp_labels *l)
{
	json_t *o = json_object();
	for (int i = 0; i < l->n; i++)
		json_object_set_new(o, l->kv[i].key, json_string(l->kv[i].value ? l->kv[i].value : ""));
	return o;
}

json_t *kp_render_taints(const struct kp_taints *t)
{
	json_t *a = json_array();
	for (int i = 0; i < t->n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "key", json_string(t->t[i].key));
		json_object_set_new(o, "value", json_string(t->t[i].value ? t->t[i].value : ""));
		json_object_set_new(o, "effect", json_string(kp_effect_name(t->t[i].effect)));
		json_array_append_new(a, o);
	}
	return a;
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

static json_t *pod_list(const struct kp_pod *const *pods, int n)
{
	json_t *a = json_array();
	char key[512];
	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_string(kp_pod_key(pods[i], key, sizeof(key))));
	return a;
}

json_t *kp_render_plan_json(const struct kp_plan *plan, const struct kp_resnames *rn)
{
	return kp_render_plan_json_opts(plan, rn, KP_RENDER_MAX_OPTIONS);
}

json_t *kp_render_plan_json_opts(const struct kp_plan *plan, const struct kp_resnames *rn, int max_options)
{
	json_t *root = json_object(), *claims = json_array(), *existing = json_array();
	json_t *unsched = json_array(), *notes = json_array();
	char name[300], key[512];

	for (int i = 0; i < plan->nclaims; i++) {
		const struct kp_plan_claim *c = &plan->claims[i];
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(kp_render_claim_name(plan, i, name, sizeof(name))));
		json_object_set_new(o, "nodePool", json_string(c->pool->name));
		json_object_set_new(o, "instanceType", c->launch_type ? json_string(c->launch_type->name) : json_null());
		json_object_set_new(o, "zone", c->launch ? json_string(c->launch->zone) : json_null());
		json_object_set_new(o, "capacityType",
				    c->launch ? json_string(kp_captype_name(c->launch->captype)) : json_null());
		json_object_set_new(o, "pricePerHour", c->launch ? json_real(c->launch->price) : json_null());
		json_object_set_new(o, "labels", kp_render_labels(&c->labels));
		json_object_set_new(o, "taints", kp_render_taints(&c->taints));
		json_object_set_new(o, "allocatable",
				    c->launch_type ? kp_render_res(&c->launch_type->allocatable, rn) : json_object());
		json_object_set_new(o, "pods", pod_list((const struct kp_pod *const *)c->pods, c->npods));
		{
			json_t *its = json_array();
			int nopt = max_options > 0 && c->nitypes > max_options ? max_options : c->nitypes;
			for (int k = 0; k < nopt; k++)
				json_array_append_new(its, json_string(c->itypes[k]->name));
			json_object_set_new(o, "instanceTypeOptions", its);
			if (nopt < c->nitypes)   /* the launch sends the cheapest 60 */
				json_object_set_new(o, "instanceTypeOptionsTotal", json_integer(c->nitypes));
		}
		json_object_set_new(o, "requests", kp_render_res(&c->requests, rn));
		json_array_append_new(claims, o);
	}
	for (int i = 0; i < plan->nexisting; i++) {
		const struct kp_plan_existing *e = &plan->existing[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(e->node ? e->node->name : e->claim->name));
		json_object_set_new(o, "pods", pod_list((const struct kp_pod *const *)e->pods, e->npods));
		json_array_append_new(existing, o);
	}
	for (int i = 0; i < plan->nunsched; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "pod", json_string(kp_pod_key(plan->unsched[i].pod, key, sizeof(key))));
		json_object_set_new(o, "reason", json_string(plan->unsched[i].reason));
		json_array_append_new(unsched, o);
	}
	for (int i = 0; i < plan->nnotes; i++)
		json_array_append_new(notes, json_string(plan->notes[i]));
	json_object_set_new(root, "nodeClaims", claims);
	json_object_set_new(root, "existingNodes", existing);
	json_object_set_new(root, "unschedulable", unsched);
	json_object_set_new(root, "notes", notes);
	return root;
}

void kp_render_plan_table(FILE *f, const struct kp_plan *plan, const struct kp_resnames *rn)
{
	double total = 0;
	int placed_new = 0, placed_existing = 0;
	char name[300], key[512];

	(void)rn;
	if (plan->nclaims) {
		fprintf(f, "%-24s %-14s %-20s %-14s %-10s %10s %5s\n", "NODECLAIM", "NODEPOOL", "INSTANCE TYPE",
			"ZONE", "CAPACITY", "$/HOUR", "PODS");
		for (int i = 0; i < plan->nclaims; i++) {
			const struct kp_plan_claim *c = &plan->claims[i];
			fprintf(f, "%-24s %-14s %-20s %-14s %-10s %10.4f %5d\n",
				kp_render_claim_name(plan, i, name, sizeof(name)), c->pool->name,
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

int kp_render_bound_json(json_t *plan, const struct kp_cost_bound *b)
{
	json_t *o = json_pack("{s:f, s:f, s:f, s:f, s:i, s:i, s:i, s:i}", "lowerBoundPerHour", b->lower, "planPerHour",
			      b->plan, "gap", b->gap, "ratio", b->lower > 0 ? b->plan / b->lower : 0.0, "pods", b->pods,
			      "podClasses", b->classes, "nodeKinds", b->kinds, "iterations", b->iters);

	return o ? json_object_set_new(plan, "costBound", o) : -1;
}

void kp_render_bound_table(FILE *f, const struct kp_cost_bound *b)
{
	fprintf(f, "\ncost bound: plan $%.4f/h, lower bound $%.4f/h, gap %.1f%% (%d pods, %d classes, %d node kinds)\n",
		b->plan, b->lower, b->gap * 100, b->pods, b->classes, b->kinds);
}
