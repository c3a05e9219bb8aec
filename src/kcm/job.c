/*
 * job.c - the Job controller of `karpenter up`, after k8s.io/kubernetes
 * pkg/controller/job (non-indexed completion mode):
 *
 *  - pods of the template, named <job>-<random>, labelled job-name and
 *    controller-uid (both spellings), carrying the finalizer
 *    batch.kubernetes.io/job-tracking, as many as
 *    min(parallelism, completions - succeeded) (kp_kcm_job_want_active);
 *  - finished pods are counted exactly once, as upstream does: their uids
 *    go to status.uncountedTerminatedPods, then their finalizer is
 *    removed, then they move into status.succeeded / status.failed; a pod
 *    deleted before it finished counts as failed;
 *  - the Job succeeds when succeeded >= completions (a work queue: when
 *    one pod succeeded and none is active): SuccessCriteriaMet, then
 *    Complete with completionTime once no pod is active; it fails when
 *    failed > backoffLimit (default 6) or activeDeadlineSeconds passed:
 *    its active pods are deleted, FailureTarget then Failed;
 *  - spec.suspend deletes the active pods (Suspended=True);
 *  - ttlSecondsAfterFinished: the TTL-after-finished controller deletes
 *    a finished Job that long after it finished;
 *  - events SuccessfulCreate, Completed, BackoffLimitExceeded.
 *
 * Indexed completion mode, pod failure policies, success policies and
 * the retry back-off delay are NOT implemented (pods are replaced at once).
 *
 * Cost: O(pods of the Job) per reconcile; a pod whose owner Job is gone
 * costs O(all pods) once (its finalizer is removed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kcm/kcm_int.h"
#include "kcm/rules.h"

#define JOB_FINALIZER "batch.kubernetes.io/job-tracking"
#define DEFAULT_BACKOFF_LIMIT 6

/* ---- pods ---- */

static int drop_finalizer_fn(void *ud, json_t *pod)
{
	json_t *fins = json_object_get(json_object_get(pod, "metadata"), "finalizers"), *v;
	size_t i;

	(void)ud;
	json_array_foreach(fins, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), JOB_FINALIZER)) {
			json_array_remove(fins, i);
			return 0;
		}
	return 1;
}

/* Removes the tracking finalizer of pod ns/name; true when it is gone
 * (also when the pod is). */
static bool drop_finalizer(struct kp_kcm *C, const char *ns, const char *name)
{
	struct kp_store_key k = { "", "pods", ns, name };
	struct kp_errbuf eb = { 0 };
	enum kp_store_rc rc = kp_apiserver_mutate(C->L, &k, drop_finalizer_fn, NULL, &eb);
	if (rc && rc != KP_STORE_NOTFOUND) {
		fprintf(stderr, "karpenter up: job: pod %s/%s finalizer: %s\n", ns, name, eb.msg);
		return false;
	}
	return true;
}

/* Pods of a Job that is gone keep no finalizer. */
static void orphans(struct kp_kcm *C, const char *key)
{
	const char *slash = strchr(key, '/');
	size_t nk;
	const char **keys;

	if (!slash)
		return;
	keys = kp_strmap_keys(&C->pods, &nk);
	for (size_t i = 0; keys && i < nk; i++) {
		struct kp_kcm__pod *p = kp_strmap_get(&C->pods, keys[i]);
		if (p && p->job_fin && p->owner_kind && !strcmp(p->owner_kind, "Job") && p->owner_name &&
		    !strcmp(p->owner_name, slash + 1) && (size_t)(slash - key) == strlen(p->ns) &&
		    !strncmp(p->ns, key, (size_t)(slash - key)))
			drop_finalizer(C, p->ns, p->name);
	}
	free(keys);
}

/* ---- status ---- */

struct job_status {
	json_t *set;              /* merged into status */
	const char *cond[2][4];   /* type, status, reason, message; type NULL = none */
	bool clear_completion;
};

static void cond_set(json_t *st, const char *type, const char *status, const char *reason, const char *msg)
{
	json_t *arr = json_object_get(st, "conditions"), *c = NULL, *v;
	char ts[40];
	size_t i;

	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(st, "conditions", arr);
	}
	json_array_foreach(arr, i, v)
		if (kp_kobj_str(v, "type") && !strcmp(kp_kobj_str(v, "type"), type))
			c = v;
	if (c && kp_kobj_str(c, "status") && !strcmp(kp_kobj_str(c, "status"), status) && kp_kobj_str(c, "reason") &&
	    !strcmp(kp_kobj_str(c, "reason"), reason))
		return;
	kp_kobj_now_rfc3339(ts, sizeof(ts));
	if (!c) {
		c = json_object();
		json_object_set_new(c, "type", json_string(type));
		json_array_append_new(arr, c);
	}
	json_object_set_new(c, "status", json_string(status));
	json_object_set_new(c, "reason", json_string(reason));
	json_object_set_new(c, "message", json_string(msg));
	json_object_set_new(c, "lastProbeTime", json_string(ts));
	json_object_set_new(c, "lastTransitionTime", json_string(ts));
}

static int job_status_fn(void *ud, json_t *obj)
{
	struct job_status *u = ud;
	json_t *old = json_object_get(obj, "status");
	json_t *nw = json_is_object(old) ? json_deep_copy(old) : json_object();

	if (!nw)
		return -1;
	json_object_update(nw, u->set);
	for (int i = 0; i < 2; i++)
		if (u->cond[i][0])
			cond_set(nw, u->cond[i][0], u->cond[i][1], u->cond[i][2], u->cond[i][3]);
	if (json_is_object(old) && json_equal(old, nw)) {
		json_decref(nw);
		return 1;
	}
	json_object_set_new(obj, "status", nw);
	return 0;
}

static void write_job_status(struct kp_kcm *C, const char *ns, const char *name, struct job_status *u)
{
	struct kp_store_key k = { "batch", "jobs", ns, name };
	struct kp_errbuf eb = { 0 };
	enum kp_store_rc rc = kp_apiserver_mutate(C->L, &k, job_status_fn, u, &eb);
	if (rc && rc != KP_STORE_NOTFOUND)
		fprintf(stderr, "karpenter up: job %s/%s status: %s\n", ns, name, eb.msg);
	json_decref(u->set);
}

static bool cond_true(const json_t *job, const char *type)
{
	const json_t *v;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(job, "status"), "conditions"), i, v)
		if (kp_kobj_str(v, "type") && !strcmp(kp_kobj_str(v, "type"), type) && kp_kobj_str(v, "status") &&
		    !strcmp(kp_kobj_str(v, "status"), "True"))
			return true;
	return false;
}

static const char *cond_time(const json_t *job, const char *type)
{
	const json_t *v;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(job, "status"), "conditions"), i, v)
		if (kp_kobj_str(v, "type") && !strcmp(kp_kobj_str(v, "type"), type))
			return kp_kobj_str(v, "lastTransitionTime");
	return NULL;
}

static bool in_list(const json_t *arr, const char *uid)
{
	const json_t *v;
	size_t i;
	json_array_foreach(arr, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), uid))
			return true;
	return false;
}

/* ---- counting finished pods ---- */

/* Counts the Job's finished pods exactly once (see the header); adds to
 * *succeeded / *failed what was counted. */
static void track(struct kp_kcm *C, const json_t *job, const struct kp_kcm__podlist *pl, int64_t *succeeded,
		  int64_t *failed)
{
	const json_t *md = json_object_get(job, "metadata"), *st = json_object_get(job, "status");
	const json_t *unc = json_object_get(st, "uncountedTerminatedPods");
	json_t *us = json_is_array(json_object_get(unc, "succeeded")) ? json_deep_copy(json_object_get(unc, "succeeded"))
								       : json_array();
	json_t *uf = json_is_array(json_object_get(unc, "failed")) ? json_deep_copy(json_object_get(unc, "failed"))
								    : json_array();
	const char *ns = kp_kobj_str(md, "namespace"), *name = kp_kobj_str(md, "name");
	bool added = false;

	/* 1. finished pods with the finalizer join the uncounted lists */
	for (size_t i = 0; i < pl->n; i++) {
		const struct kp_kcm__pod *p = pl->v[i];
		if (!p->job_fin || !p->uid || (!p->terminal && !p->deleting))
			continue;
		if (in_list(us, p->uid) || in_list(uf, p->uid))
			continue;
		json_array_append_new(p->succeeded ? us : uf, json_string(p->uid));
		added = true;
	}
	if (added) {
		struct job_status u = { 0 };
		u.set = json_pack("{s:{s:O, s:O}}", "uncountedTerminatedPods", "succeeded", us, "failed", uf);
		write_job_status(C, ns, name, &u);
	}
	if (!json_array_size(us) && !json_array_size(uf)) {
		json_decref(us);
		json_decref(uf);
		return;
	}
	/* 2. their finalizers go; 3. what lost it is counted */
	json_t *lists[2] = { us, uf };
	int64_t counted[2] = { 0, 0 };
	for (int l = 0; l < 2; l++) {
		for (size_t j = 0; j < json_array_size(lists[l]);) {
			const char *uid = json_string_value(json_array_get(lists[l], j));
			const struct kp_kcm__pod *p = NULL;
			for (size_t i = 0; i < pl->n && !p; i++)
				if (pl->v[i]->uid && uid && !strcmp(pl->v[i]->uid, uid))
					p = pl->v[i];
			if (!p || !p->job_fin || drop_finalizer(C, p->ns, p->name)) {
				json_array_remove(lists[l], j);
				counted[l]++;
				continue;
			}
			j++;
		}
	}
	*succeeded += counted[0];
	*failed += counted[1];
	struct job_status u = { 0 };
	u.set = json_pack("{s:I, s:I, s:{s:O, s:O}}", "succeeded", (json_int_t)*succeeded, "failed", (json_int_t)*failed,
			  "uncountedTerminatedPods", "succeeded", us, "failed", uf);
	write_job_status(C, ns, name, &u);
	json_decref(us);
	json_decref(uf);
}

/* ---- the reconciler ---- */

static void create_job_pod(struct kp_kcm *C, const json_t *job)
{
	const json_t *md = json_object_get(job, "metadata");
	const char *uid = kp_kobj_str(md, "uid") ? kp_kobj_str(md, "uid") : "", *name = kp_kobj_str(md, "name");
	json_t *pod = kp_kcm__pod_from_template(job, "batch/v1", "Job",
						json_object_get(json_object_get(job, "spec"), "template"));
	json_t *pmd = json_object_get(pod, "metadata"), *labels = kp_kobj_child(pmd, "labels");
	char gen[300], msg[400];

	snprintf(gen, sizeof(gen), "%s-", name);
	json_object_set_new(pmd, "generateName", json_string(gen));
	json_object_set_new(pmd, "finalizers", json_pack("[s]", JOB_FINALIZER));
	json_object_set_new(labels, "job-name", json_string(name));
	json_object_set_new(labels, "batch.kubernetes.io/job-name", json_string(name));
	json_object_set_new(labels, "controller-uid", json_string(uid));
	json_object_set_new(labels, "batch.kubernetes.io/controller-uid", json_string(uid));
	json_t *ref = json_incref(pmd);
	kp_kcm__create_pod(C, pod);   /* sets metadata.name */
	snprintf(msg, sizeof(msg), "Created pod: %s", kp_kobj_str(ref, "name") ? kp_kobj_str(ref, "name") : "");
	json_decref(ref);
	kp_kcm__event(C, job, "batch/v1", "Job", "Normal", "SuccessfulCreate", msg, "job-controller");
}

/* The TTL-after-finished controller: deletes the finished job at
 * finish + ttl, or asks to be woken then. */
static void ttl(struct kp_kcm *C, const char *key, const json_t *job)
{
	const json_t *spec = json_object_get(job, "spec"), *md = json_object_get(job, "metadata");
	const json_t *t = json_object_get(spec, "ttlSecondsAfterFinished");
	const char *fin = kp_kobj_str(json_object_get(job, "status"), "completionTime");
	int64_t at = 0, now = (int64_t)time(NULL);

	if (!json_is_integer(t))
		return;
	if (!fin)
		fin = cond_time(job, cond_true(job, "Failed") ? "Failed" : "Complete");
	if (!fin || kp_parse_rfc3339(fin, &at))
		return;
	at += json_integer_value(t);
	if (at > now) {
		kp_kcm__requeue_at(C, CK_JOB, key, kp_kcm__now_ms() + (at - now) * 1000);
		return;
	}
	struct kp_errbuf eb = { 0 };
	char *ns = strdup(kp_kobj_str(md, "namespace")), *name = strdup(kp_kobj_str(md, "name"));
	if (ns && name && kp_kcm__delete(C, "batch", "jobs", ns, name, &eb) && eb.msg[0])
		fprintf(stderr, "karpenter up: ttl: delete job %s: %s\n", key, eb.msg);
	free(ns);
	free(name);
}

void kp_kcm__reconcile_job(struct kp_kcm *C, const char *key)
{
	struct kp_kcm__obj *e = kp_strmap_get(&C->objs[CK_JOB], key);
	struct kp_kcm__podlist pl;
	json_t *job;
	char ts[40];

	if (!e) {
		orphans(C, key);
		return;
	}
	job = json_incref(e->o);
	const json_t *md = json_object_get(job, "metadata"), *spec = json_object_get(job, "spec");
	const json_t *st = json_object_get(job, "status");
	const char *ns = kp_kobj_str(md, "namespace"), *name = kp_kobj_str(md, "name");
	int64_t par = kp_kobj_int(spec, "parallelism", 1);
	bool has_comp = json_is_integer(json_object_get(spec, "completions"));
	int64_t comp = kp_kobj_int(spec, "completions", 1);
	int64_t backoff = kp_kobj_int(spec, "backoffLimit", DEFAULT_BACKOFF_LIMIT);
	int64_t succeeded = kp_kobj_int(st, "succeeded", 0), failed = kp_kobj_int(st, "failed", 0);
	bool suspend = json_is_true(json_object_get(spec, "suspend"));
	bool finished = cond_true(job, "Complete") || cond_true(job, "Failed");

	kp_kcm__owned_pods(C, kp_kobj_str(md, "uid"), &pl, true);
	track(C, job, &pl, &succeeded, &failed);
	int64_t active = 0, ready = 0, terminating = 0;
	for (size_t i = 0; i < pl.n; i++) {
		const struct kp_kcm__pod *p = pl.v[i];
		if (p->deleting && !p->terminal)
			terminating++;
		else if (!p->terminal && !p->deleting) {
			active++;
			ready += p->ready;
		}
	}
	if (finished || kp_kcm__deleting(job)) {
		free(pl.v);
		if (finished && !kp_kcm__deleting(job))
			ttl(C, key, job);
		json_decref(job);
		return;
	}
	kp_kobj_now_rfc3339(ts, sizeof(ts));
	const char *start = kp_kobj_str(st, "startTime");
	int64_t start_s = 0, now = (int64_t)time(NULL);
	const json_t *ads = json_object_get(spec, "activeDeadlineSeconds");
	bool complete = has_comp ? succeeded >= comp : (succeeded > 0 && active == 0);
	bool success_met = has_comp ? succeeded >= comp : succeeded > 0;
	const char *fail_reason = NULL, *fail_msg = NULL;
	if (failed > backoff) {
		fail_reason = "BackoffLimitExceeded";
		fail_msg = "Job has reached the specified backoff limit";
	} else if (json_is_integer(ads) && start && !kp_parse_rfc3339(start, &start_s) && !suspend) {
		if (now >= start_s + json_integer_value(ads)) {
			fail_reason = "DeadlineExceeded";
			fail_msg = "Job was active longer than specified deadline";
		} else {
			kp_kcm__requeue_at(C, CK_JOB, key,
					   kp_kcm__now_ms() + (start_s + json_integer_value(ads) - now) * 1000);
		}
	}
	if (cond_true(job, "FailureTarget") && !fail_reason) {
		fail_reason = "BackoffLimitExceeded";
		fail_msg = "Job has reached the specified backoff limit";
	}
	int64_t want = kp_kcm_job_want_active(par, has_comp, comp, succeeded);
	if (suspend || fail_reason || success_met)
		want = has_comp || fail_reason || suspend ? 0 : active;
	/* pods: delete extras (newest, least advanced first), create the rest */
	if (active > want) {
		struct kp_kcm__podlist act = { calloc(pl.n + 1, sizeof(*act.v)), 0 };
		for (size_t i = 0; act.v && i < pl.n; i++)
			if (!pl.v[i]->terminal && !pl.v[i]->deleting)
				act.v[act.n++] = pl.v[i];
		if (act.v)
			qsort(act.v, act.n, sizeof(*act.v), kp_kcm__victim_cmp);
		for (int64_t i = 0; act.v && i < active - want; i++)
			kp_kcm__delete_pod(C, act.v[i]);
		free(act.v);
		active = want;
	}
	free(pl.v);
	for (int64_t i = active; i < want && i - active < KP_KCM__CREATE_PER_PASS; i++)
		create_job_pod(C, job);
	if (want - active > KP_KCM__CREATE_PER_PASS)
		kp_kcm__mark(C, &C->dirty[CK_JOB], key);
	if (want > active)
		active = want;

	struct job_status u = { 0 };
	u.set = json_pack("{s:I, s:I, s:I, s:I, s:I, s:{}}", "active", (json_int_t)active, "ready", (json_int_t)ready,
			  "terminating", (json_int_t)terminating, "succeeded", (json_int_t)succeeded, "failed",
			  (json_int_t)failed, "uncountedTerminatedPods");
	if (!start && !suspend)
		json_object_set_new(u.set, "startTime", json_string(ts));
	int nc = 0;
	if (suspend) {
		u.cond[nc][0] = "Suspended", u.cond[nc][1] = "True", u.cond[nc][2] = "JobSuspended",
		u.cond[nc][3] = "Job suspended";
		nc++;
	} else if (cond_true(job, "Suspended")) {
		u.cond[nc][0] = "Suspended", u.cond[nc][1] = "False", u.cond[nc][2] = "JobResumed",
		u.cond[nc][3] = "Job resumed";
		nc++;
	}
	if (fail_reason) {
		u.cond[nc][0] = "FailureTarget", u.cond[nc][1] = "True", u.cond[nc][2] = fail_reason,
		u.cond[nc][3] = fail_msg;
		nc++;
		if (active == 0 && terminating == 0 && nc < 2) {
			u.cond[nc][0] = "Failed", u.cond[nc][1] = "True", u.cond[nc][2] = fail_reason, u.cond[nc][3] = fail_msg;
			nc++;
			kp_kcm__event(C, job, "batch/v1", "Job", "Warning", fail_reason, fail_msg, "job-controller");
		}
	} else if (success_met && nc < 2) {
		u.cond[nc][0] = "SuccessCriteriaMet", u.cond[nc][1] = "True", u.cond[nc][2] = "CompletionsReached",
		u.cond[nc][3] = "Reached expected number of succeeded pods";
		nc++;
		if (complete && active == 0 && terminating == 0 && nc < 2) {
			u.cond[nc][0] = "Complete", u.cond[nc][1] = "True", u.cond[nc][2] = "CompletionsReached",
			u.cond[nc][3] = "Reached expected number of succeeded pods";
			nc++;
			json_object_set_new(u.set, "completionTime", json_string(ts));
			kp_kcm__event(C, job, "batch/v1", "Job", "Normal", "Completed", "Job completed", "job-controller");
		}
	}
	write_job_status(C, ns, name, &u);
	json_decref(job);
}
