/*
 * replicaset.c - the ReplicaSet controller of `karpenter up`: keeps
 * spec.replicas pods of the template, deleting the surplus (not yet
 * scheduled, not ready, youngest first), and the ReplicaSet's status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcm/kcm_int.h"
#include "load/load.h"

void kp_kcm__reconcile_rs(struct kp_kcm *C, const char *key)
{
	struct kp_kcm__obj *e = kp_strmap_get(&C->objs[CK_RS], key);
	struct kp_kcm__podlist pl;
	int64_t want, ready = 0;
	json_t *rs;

	if (!e || kp_kcm__deleting(e->o))
		return;
	rs = json_incref(e->o);
	const json_t *md = json_object_get(rs, "metadata"), *spec = json_object_get(rs, "spec");
	want = kp_kobj_int(spec, "replicas", 1);
	kp_kcm__owned_pods(C, kp_kobj_str(md, "uid"), &pl, false);
	size_t have = pl.n;
	if ((int64_t)have < want) {
		int64_t n = want - (int64_t)have;
		if (n > KP_KCM__CREATE_PER_PASS) {
			n = KP_KCM__CREATE_PER_PASS;
			kp_kcm__mark(C, &C->dirty[CK_RS], key);
		}
		char gen[300];
		json_t **pods = calloc((size_t)n, sizeof(*pods));
		int64_t made = 0;
		snprintf(gen, sizeof(gen), "%s-", kp_kobj_str(md, "name"));
		for (int64_t i = 0; pods && i < n; i++) {
			json_t *pod = kp_kcm__pod_from_template(rs, "apps/v1", "ReplicaSet", json_object_get(spec, "template"));
			if (!pod)
				break;
			json_object_set_new(json_object_get(pod, "metadata"), "generateName", json_string(gen));
			pods[made++] = pod;
		}
		kp_kcm__create_pods(C, pods, (size_t)made);   /* one transaction for the pass's pods */
		free(pods);
		have += (size_t)made;
	} else if ((int64_t)have > want) {
		qsort(pl.v, pl.n, sizeof(*pl.v), kp_kcm__victim_cmp);
		for (size_t i = 0; (int64_t)i < (int64_t)pl.n - want; i++)
			kp_kcm__delete_pod(C, pl.v[i]);
		have = (size_t)want;
		free(pl.v);
		kp_kcm__owned_pods(C, kp_kobj_str(md, "uid"), &pl, false);
	}
	for (size_t i = 0; i < pl.n; i++)
		ready += pl.v[i]->ready;
	free(pl.v);
	struct kp_kcm__status_upd u = { 0 };
	u.set = json_pack("{s:I, s:I, s:I, s:I, s:I}", "replicas", (json_int_t)have, "fullyLabeledReplicas",
			  (json_int_t)have, "readyReplicas", (json_int_t)ready, "availableReplicas", (json_int_t)ready,
			  "observedGeneration", (json_int_t)kp_kobj_int(md, "generation", 1));
	kp_kcm__write_status(C, CK_RS, kp_kobj_str(md, "namespace"), kp_kobj_str(md, "name"), &u);
	json_decref(rs);
}
