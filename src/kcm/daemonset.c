/*
 * daemonset.c - the DaemonSet controller of `karpenter up`: one pod per
 * Node whose labels and taints the template accepts (with the tolerations
 * the real controller adds), bound to that Node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcm/kcm_int.h"
#include "load/load.h"

/* Tolerations the DaemonSet controller adds to its pods. */
static const struct {
	const char *key;
	enum kp_effect effect;
} DS_TOLS[] = {
	{ "node.kubernetes.io/not-ready", KP_EFFECT_NOEXECUTE },
	{ "node.kubernetes.io/unreachable", KP_EFFECT_NOEXECUTE },
	{ "node.kubernetes.io/disk-pressure", KP_EFFECT_NOSCHEDULE },
	{ "node.kubernetes.io/memory-pressure", KP_EFFECT_NOSCHEDULE },
	{ "node.kubernetes.io/pid-pressure", KP_EFFECT_NOSCHEDULE },
	{ "node.kubernetes.io/unschedulable", KP_EFFECT_NOSCHEDULE },
};

static bool ds_eligible(const struct kp_pod *t, const struct kp_tolerations *tols, const struct kp_node *n)
{
	for (int i = 0; i < t->node_selector.n; i++) {
		const char *v = kp_labels_get(&n->labels, t->node_selector.kv[i].key);
		if (!v || strcmp(v, t->node_selector.kv[i].value) != 0)
			return false;
	}
	if (t->nrequired_terms > 0) {
		bool any = false;
		for (int i = 0; i < t->nrequired_terms && !any; i++)
			any = kp_reqs_match_labels(&t->required_terms[i].reqs, &n->labels, NULL);
		if (!any)
			return false;
	}
	for (int i = 0; i < n->taints.n; i++) {
		const struct kp_taint *tt = &n->taints.t[i];
		if (tt->effect == KP_EFFECT_PREFERNOSCHEDULE)
			continue;
		if (!kp_tolerates(tols, tt))
			return false;
	}
	return true;
}

void kp_kcm__reconcile_ds(struct kp_kcm *C, const char *key)
{
	struct kp_kcm__obj *e = kp_strmap_get(&C->objs[CK_DS], key);
	struct kp_cluster dc;
	struct kp_errbuf eb = { 0 };
	struct kp_kcm__podlist pl;
	json_t *ds;
	char *text;

	if (!e || kp_kcm__deleting(e->o))
		return;
	ds = json_incref(e->o);
	const json_t *md = json_object_get(ds, "metadata"), *spec = json_object_get(ds, "spec");
	const char *ns = kp_kobj_str(md, "namespace"), *name = kp_kobj_str(md, "name");
	kp_cluster_init(&dc);
	text = json_dumps(ds, JSON_COMPACT);
	struct kp_load_opts opts = { NULL, (int64_t)time(NULL) };
	if (!text || kp_load_buffer(&dc, "daemonset", text, strlen(text), &opts, &eb) || dc.ndaemonsets != 1) {
		fprintf(stderr, "karpenter up: daemonset %s: %s\n", key, eb.msg);
		free(text);
		kp_cluster_free(&dc);
		json_decref(ds);
		return;
	}
	free(text);
	const struct kp_pod *t = &dc.daemonsets[0]->tmpl;
	struct kp_tolerations tols = { 0 };
	tols.t = kp_arena_calloc(&dc.arena, (size_t)t->tolerations.n + KP_ARRAY_LEN(DS_TOLS), sizeof(*tols.t));
	if (tols.t) {
		for (int i = 0; i < t->tolerations.n; i++)
			tols.t[tols.n++] = t->tolerations.t[i];
		for (size_t i = 0; i < KP_ARRAY_LEN(DS_TOLS); i++) {
			struct kp_toleration *x = &tols.t[tols.n++];
			x->key = DS_TOLS[i].key;
			x->op = KP_TOL_EXISTS;
			x->effect = DS_TOLS[i].effect;
		}
	}
	/* existing pods by node; extras and misplaced ones go */
	struct kp_strmap by_node = { 0 };
	int64_t desired = 0, current = 0, ready = 0;
	kp_kcm__owned_pods(C, kp_kobj_str(md, "uid"), &pl, false);
	for (size_t i = 0; i < pl.n; i++) {
		struct kp_kcm__pod *p = pl.v[i];
		struct kp_kcm__node *n = p->node ? kp_kcm__node_get(C, p->node, false) : NULL;
		if (!n || !n->n || n->n->deleting || !ds_eligible(t, &tols, n->n) || kp_strmap_get(&by_node, p->node)) {
			kp_kcm__delete_pod(C, p);
			continue;
		}
		kp_kcm__map_put(&by_node, p->node, p);
		current++;
		ready += p->ready;
	}
	free(pl.v);
	size_t nn;
	const char **names = kp_strmap_keys(&C->nodes, &nn);
	for (size_t i = 0; names && i < nn; i++) {
		struct kp_kcm__node *n = kp_strmap_get(&C->nodes, names[i]);
		if (!n || !n->n || n->n->deleting || !ds_eligible(t, &tols, n->n))
			continue;
		desired++;
		if (kp_strmap_get(&by_node, names[i]))
			continue;
		json_t *pod = kp_kcm__pod_from_template(ds, "apps/v1", "DaemonSet", json_object_get(spec, "template"));
		json_t *pmd = json_object_get(pod, "metadata"), *pspec = json_object_get(pod, "spec");
		char gen[300];
		snprintf(gen, sizeof(gen), "%s-", name);
		json_object_set_new(pmd, "generateName", json_string(gen));
		json_object_set_new(pspec, "nodeName", json_string(names[i]));
		json_t *ptols = json_object_get(pspec, "tolerations");
		if (!json_is_array(ptols)) {
			ptols = json_array();
			json_object_set_new(pspec, "tolerations", ptols);
		}
		for (size_t j = 0; j < KP_ARRAY_LEN(DS_TOLS); j++)
			json_array_append_new(ptols, json_pack("{s:s, s:s, s:s}", "key", DS_TOLS[j].key, "operator", "Exists",
							       "effect", kp_effect_name(DS_TOLS[j].effect)));
		kp_kcm__create_pod(C, pod);
	}
	free(names);
	kp_strmap_free(&by_node);
	kp_cluster_free(&dc);
	struct kp_kcm__status_upd u = { 0 };
	u.set = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "desiredNumberScheduled", (json_int_t)desired,
			  "currentNumberScheduled", (json_int_t)current, "numberReady", (json_int_t)ready,
			  "numberAvailable", (json_int_t)ready, "updatedNumberScheduled", (json_int_t)current,
			  "numberMisscheduled", (json_int_t)0, "observedGeneration", (json_int_t)kp_kobj_int(md, "generation", 1));
	kp_kcm__write_status(C, CK_DS, ns, name, &u);
	json_decref(ds);
}
