/*
 * statefulset.c - the StatefulSet controller of `karpenter up`: pods
 * <name>-<i> for i < spec.replicas, the higher ordinals deleted first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcm/kcm_int.h"
#include "load/load.h"

void kp_kcm__reconcile_ss(struct kp_kcm *C, const char *key)
{
	struct kp_kcm__obj *e = kp_strmap_get(&C->objs[CK_SS], key);
	struct kp_kcm__podlist pl;
	int64_t ready = 0, have = 0;
	json_t *ss;

	if (!e || kp_kcm__deleting(e->o))
		return;
	ss = json_incref(e->o);
	const json_t *md = json_object_get(ss, "metadata"), *spec = json_object_get(ss, "spec");
	const char *ns = kp_kobj_str(md, "namespace"), *name = kp_kobj_str(md, "name");
	int64_t want = kp_kobj_int(spec, "replicas", 1);
	for (int64_t i = 0; i < want && i < 100000; i++) {
		char pname[300], pkey[600], idx[24];
		snprintf(pname, sizeof(pname), "%s-%lld", name, (long long)i);
		kp_kcm__key_of(pkey, sizeof(pkey), ns, pname);
		if (kp_strmap_get(&C->pods, pkey))
			continue;
		json_t *pod = kp_kcm__pod_from_template(ss, "apps/v1", "StatefulSet", json_object_get(spec, "template"));
		json_t *pmd = json_object_get(pod, "metadata"), *pspec = json_object_get(pod, "spec");
		snprintf(idx, sizeof(idx), "%lld", (long long)i);
		json_object_set_new(pmd, "name", json_string(pname));
		json_object_set_new(kp_kobj_child(pmd, "labels"), "statefulset.kubernetes.io/pod-name", json_string(pname));
		json_object_set_new(kp_kobj_child(pmd, "labels"), "apps.kubernetes.io/pod-index", json_string(idx));
		json_object_set_new(pspec, "hostname", json_string(pname));
		if (kp_kobj_str(spec, "serviceName"))
			json_object_set_new(pspec, "subdomain", json_string(kp_kobj_str(spec, "serviceName")));
		kp_kcm__create_pod(C, pod);
	}
	kp_kcm__owned_pods(C, kp_kobj_str(md, "uid"), &pl, false);
	size_t plen = strlen(name);
	for (size_t i = 0; i < pl.n; i++) {
		struct kp_kcm__pod *p = pl.v[i];
		int64_t ord = -1;
		if (strncmp(p->name, name, plen) == 0 && p->name[plen] == '-' && kp_parse_i64(p->name + plen + 1, &ord))
			ord = -1;
		if (ord < 0 || ord >= want) {
			kp_kcm__delete_pod(C, p);
			continue;
		}
		have++;
		ready += p->ready;
	}
	free(pl.v);
	struct kp_kcm__status_upd u = { 0 };
	u.set = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "replicas", (json_int_t)have, "readyReplicas",
			  (json_int_t)ready, "availableReplicas", (json_int_t)ready, "currentReplicas", (json_int_t)have,
			  "updatedReplicas", (json_int_t)have, "observedGeneration", (json_int_t)kp_kobj_int(md, "generation", 1));
	kp_kcm__write_status(C, CK_SS, ns, name, &u);
	json_decref(ss);
}
