/*
 * job.c - the Job controller of `karpenter up`: keeps spec.parallelism pods
 * of the template active and the Job's status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcm/kcm_int.h"
#include "load/load.h"

void kp_kcm__reconcile_job(struct kp_kcm *C, const char *key)
{
	struct kp_kcm__obj *e = kp_kcm__map_get(&C->objs[CK_JOB], key);
	struct kp_kcm__podlist pl;
	int64_t ready = 0;
	json_t *job;

	if (!e || kp_kcm__deleting(e->o))
		return;
	job = json_incref(e->o);
	const json_t *md = json_object_get(job, "metadata"), *spec = json_object_get(job, "spec");
	const char *ns = kp_kcm__jstr(md, "namespace"), *name = kp_kcm__jstr(md, "name");
	int64_t par = kp_kcm__int_or(spec, "parallelism", 1);
	int64_t comp = kp_kcm__int_or(spec, "completions", par);
	int64_t succeeded = kp_kcm__int_or(json_object_get(job, "status"), "succeeded", 0);
	int64_t want = par < comp - succeeded ? par : comp - succeeded;
	if (json_is_true(json_object_get(spec, "suspend")) || want < 0)
		want = 0;
	kp_kcm__owned_pods(C, kp_kcm__jstr(md, "uid"), &pl, false);
	int64_t have = (int64_t)pl.n;
	for (int64_t i = have; i < want; i++) {
		json_t *pod = kp_kcm__pod_from_template(job, "batch/v1", "Job", json_object_get(spec, "template"));
		json_t *pmd = json_object_get(pod, "metadata"), *labels = kp_kcm__obj_at(pmd, "labels");
		char gen[300];
		snprintf(gen, sizeof(gen), "%s-", name);
		json_object_set_new(pmd, "generateName", json_string(gen));
		json_object_set_new(labels, "job-name", json_string(name));
		json_object_set_new(labels, "batch.kubernetes.io/job-name", json_string(name));
		json_object_set_new(labels, "controller-uid", json_string(kp_kcm__jstr(md, "uid") ? kp_kcm__jstr(md, "uid") : ""));
		json_object_set_new(labels, "batch.kubernetes.io/controller-uid",
				    json_string(kp_kcm__jstr(md, "uid") ? kp_kcm__jstr(md, "uid") : ""));
		kp_kcm__create_pod(C, pod);
	}
	if (have > want) {
		qsort(pl.v, pl.n, sizeof(*pl.v), kp_kcm__victim_cmp);
		for (int64_t i = 0; i < have - want; i++)
			kp_kcm__delete_pod(C, pl.v[i]);
	}
	for (size_t i = 0; i < pl.n; i++)
		ready += pl.v[i]->ready;
	free(pl.v);
	struct kp_kcm__status_upd u = { 0 };
	const json_t *st = json_object_get(job, "status");
	char ts[40];
	kp_kcm__now_rfc3339(ts, sizeof(ts));
	u.set = json_pack("{s:I, s:I, s:s}", "active", (json_int_t)(have > want ? want : want > have ? want : have),
			  "ready", (json_int_t)ready, "startTime", kp_kcm__jstr(st, "startTime") ? kp_kcm__jstr(st, "startTime") : ts);
	kp_kcm__write_status(C, CK_JOB, ns, name, &u);
	json_decref(job);
}
