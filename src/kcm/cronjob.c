/*
 * cronjob.c - the CronJob controller of `karpenter up`, after
 * k8s.io/kubernetes pkg/controller/cronjob (cronjob_controllerv2.go):
 *
 *  - at each activation of spec.schedule (the shared robfig-compatible
 *    parser, UTC; spec.timeZone other than UTC is refused with a warning
 *    event) a Job named <cronjob>-<scheduled unix minutes> is created from
 *    spec.jobTemplate, owned by the CronJob, annotated
 *    batch.kubernetes.io/cronjob-scheduled-timestamp; only the latest
 *    missed activation runs, and none older than startingDeadlineSeconds;
 *  - concurrencyPolicy Allow, Forbid (skip while a Job is active) and
 *    Replace (delete the active Jobs first); spec.suspend stops new runs;
 *  - status.active lists the unfinished Jobs, status.lastScheduleTime and
 *    status.lastSuccessfulTime follow them;
 *  - finished Jobs beyond successfulJobsHistoryLimit (default 3) and
 *    failedJobsHistoryLimit (default 1) are deleted, oldest first;
 *  - events SuccessfulCreate, SuccessfulDelete, SawCompletedJob,
 *    MissSchedule, JobAlreadyActive, UnknownTimeZone / InvalidSchedule.
 *
 * The controller wakes itself at the next activation (kp_kcm__requeue_at).
 * It reads the CronJob from its cache, which may lag behind its own last
 * status write: lastScheduleTime is at least the latest Job created for an
 * activation, and neither time in the status ever moves back.
 *
 * Cost: O(Jobs in the cache) per reconcile (the Jobs of a CronJob are
 * found by their controller reference).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "karpenter/cron.h"
#include "kcm/kcm_int.h"
#include "kcm/rules.h"

#define MAX_JOBS 1024
#define SCHEDULED_TS "batch.kubernetes.io/cronjob-scheduled-timestamp"

struct cj_job {
	const json_t *o;
	const char *name;
	int64_t sched;            /* from the name, or the start time */
	bool scheduled;           /* sched is the activation it was created for (annotation) */
	int finished;             /* 0 active, 1 complete, 2 failed */
};

static int job_finished(const json_t *job)
{
	const json_t *v;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(job, "status"), "conditions"), i, v) {
		const char *t = kp_kobj_str(v, "type"), *s = kp_kobj_str(v, "status");
		if (t && s && !strcmp(s, "True") && !strcmp(t, "Complete"))
			return 1;
		if (t && s && !strcmp(s, "True") && !strcmp(t, "Failed"))
			return 2;
	}
	return 0;
}

static int cmp_sched(const void *a, const void *b)
{
	const struct cj_job *x = a, *y = b;
	if (x->sched != y->sched)
		return x->sched < y->sched ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void jobs_release(struct cj_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref((json_t *)jobs[i].o);
}

/* The CronJob's Jobs (by controller uid), oldest first; each one
 * referenced (jobs_release). */
static size_t own_jobs(struct kp_kcm *C, const char *uid, struct cj_job *out)
{
	size_t n = 0;
	KP_STRMAP_FOREACH(&C->objs[CK_JOB], e) {
		if (!uid || n >= MAX_JOBS)
			break;
		const struct kp_kcm__obj *o = e->val;
		const json_t *md = json_object_get(o->o, "metadata"), *r;
		const char *ts;
		size_t i;
		bool mine = false;
		json_array_foreach(json_object_get(md, "ownerReferences"), i, r)
			if (json_is_true(json_object_get(r, "controller")) && kp_kobj_str(r, "uid") &&
			    !strcmp(kp_kobj_str(r, "uid"), uid))
				mine = true;
		if (!mine)
			continue;
		out[n].o = json_incref(o->o);   /* deletes below may drop it from the cache */
		out[n].name = kp_kobj_str(md, "name");
		out[n].sched = 0;
		ts = kp_kobj_str(json_object_get(md, "annotations"), SCHEDULED_TS);
		out[n].scheduled = ts && !kp_parse_rfc3339(ts, &out[n].sched);
		if (!out[n].scheduled)
			kp_parse_rfc3339(kp_kobj_str(md, "creationTimestamp") ? kp_kobj_str(md, "creationTimestamp") : "",
					 &out[n].sched);
		out[n].finished = job_finished(o->o);
		if (out[n].name)
			n++;
	}
	qsort(out, n, sizeof(*out), cmp_sched);
	return n;
}

static void delete_job(struct kp_kcm *C, const json_t *cj, const char *ns, const char *name)
{
	struct kp_errbuf eb = { 0 };
	char msg[400];
	char *n2 = strdup(name), *ns2 = strdup(ns);
	if (n2 && ns2 && kp_kcm__delete(C, "batch", "jobs", ns2, n2, &eb) == KP_STORE_OK) {
		snprintf(msg, sizeof(msg), "Deleted job %s", n2);
		kp_kcm__event(C, cj, "batch/v1", "CronJob", "Normal", "SuccessfulDelete", msg, "cronjob-controller");
	}
	free(n2);
	free(ns2);
}

/* The Job for activation t (new reference). */
static json_t *job_for(const json_t *cj, int64_t t)
{
	const json_t *md = json_object_get(cj, "metadata"), *jt = json_object_get(json_object_get(cj, "spec"), "jobTemplate");
	const json_t *jmd = json_object_get(jt, "metadata");
	json_t *job = json_object(), *m = json_object(), *ann, *spec;
	char name[300], ts[40];

	snprintf(name, sizeof(name), "%s-%lld", kp_kobj_str(md, "name"), (long long)(t / 60));
	kp_format_rfc3339(t, ts, sizeof(ts));
	json_object_set_new(job, "apiVersion", json_string("batch/v1"));
	json_object_set_new(job, "kind", json_string("Job"));
	json_object_set_new(m, "name", json_string(name));
	json_object_set_new(m, "namespace", json_string(kp_kobj_str(md, "namespace")));
	json_object_set_new(m, "labels", json_is_object(json_object_get(jmd, "labels"))
						 ? json_deep_copy(json_object_get(jmd, "labels"))
						 : json_object());
	ann = json_is_object(json_object_get(jmd, "annotations")) ? json_deep_copy(json_object_get(jmd, "annotations"))
								   : json_object();
	json_object_set_new(ann, SCHEDULED_TS, json_string(ts));
	json_object_set_new(m, "annotations", ann);
	json_object_set_new(m, "ownerReferences", json_pack("[o]", kp_kcm__owner_ref("batch/v1", "CronJob", cj)));
	json_object_set_new(job, "metadata", m);
	spec = json_deep_copy(json_object_get(jt, "spec"));
	json_object_set_new(job, "spec", json_is_object(spec) ? spec : json_object());
	if (!json_is_object(spec))
		json_decref(spec);
	return job;
}

struct cj_status {
	json_t *set;
};

/* True if the time at key in have is later than the one in want: the
 * stored status moved on since the cache this reconcile read. */
static bool later(const json_t *have, const json_t *want)
{
	int64_t a = 0, b = 0;
	return json_is_string(have) && json_is_string(want) && !kp_parse_rfc3339(json_string_value(have), &a) &&
	       !kp_parse_rfc3339(json_string_value(want), &b) && a > b;
}

static int cj_status_fn(void *ud, json_t *obj)
{
	struct cj_status *u = ud;
	json_t *old = json_object_get(obj, "status");
	json_t *nw = json_is_object(old) ? json_deep_copy(old) : json_object();
	const char *k;
	json_t *v;

	if (!nw)
		return -1;
	json_object_foreach(u->set, k, v) {
		/* lastScheduleTime and lastSuccessfulTime never go back (a reconcile from a
		 * cache that has not seen this controller's last status write yet) */
		if ((!strcmp(k, "lastScheduleTime") || !strcmp(k, "lastSuccessfulTime")) &&
		    later(json_object_get(nw, k), v))
			continue;
		if (json_is_null(v))
			json_object_del(nw, k);
		else
			json_object_set(nw, k, v);
	}
	if (json_is_object(old) && json_equal(old, nw)) {
		json_decref(nw);
		return 1;
	}
	json_object_set_new(obj, "status", nw);
	return 0;
}

/* Deletes finished Jobs beyond the history limits, oldest first. */
static void history(struct kp_kcm *C, const json_t *cj, const char *ns, struct cj_job *jobs, size_t n)
{
	const json_t *spec = json_object_get(cj, "spec");
	int64_t keep[3] = { 0, kp_kobj_int(spec, "successfulJobsHistoryLimit", 3),
			    kp_kobj_int(spec, "failedJobsHistoryLimit", 1) };
	int64_t have[3] = { 0, 0, 0 };

	for (size_t i = 0; i < n; i++)
		have[jobs[i].finished]++;
	for (size_t i = 0; i < n; i++) {
		int f = jobs[i].finished;
		if (!f || have[f] <= keep[f] || kp_kcm__deleting(jobs[i].o))
			continue;
		delete_job(C, cj, ns, jobs[i].name);
		have[f]--;
	}
}

void kp_kcm__reconcile_cronjob(struct kp_kcm *C, const char *key)
{
	struct kp_kcm__obj *e = kp_strmap_get(&C->objs[CK_CRONJOB], key);
	struct cj_job *jobs;
	struct kp_cron cron;
	struct kp_errbuf eb = { 0 };
	json_t *cj, *active;
	size_t n;
	int64_t now = (int64_t)time(NULL), last_sched = 0, last_success = 0;

	if (!e || kp_kcm__deleting(e->o))
		return;
	jobs = calloc(MAX_JOBS, sizeof(*jobs));
	if (!jobs)
		return;
	cj = json_incref(e->o);
	const json_t *md = json_object_get(cj, "metadata"), *spec = json_object_get(cj, "spec");
	const json_t *st = json_object_get(cj, "status");
	const char *ns = kp_kobj_str(md, "namespace"), *name = kp_kobj_str(md, "name");
	const char *policy = kp_kobj_str(spec, "concurrencyPolicy");
	const char *tz = kp_kobj_str(spec, "timeZone");
	char ts[40], msg[1200];

	n = own_jobs(C, kp_kobj_str(md, "uid"), jobs);
	if (kp_kobj_str(st, "lastScheduleTime"))
		kp_parse_rfc3339(kp_kobj_str(st, "lastScheduleTime"), &last_sched);
	/* a Job created for an activation proves it was scheduled, even when the
	 * cached status predates the write that recorded it */
	for (size_t i = 0; i < n; i++)
		if (jobs[i].scheduled && jobs[i].sched > last_sched)
			last_sched = jobs[i].sched;
	if (kp_kobj_str(st, "lastSuccessfulTime"))
		kp_parse_rfc3339(kp_kobj_str(st, "lastSuccessfulTime"), &last_success);
	/* jobs that finished since the last look */
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].finished == 1) {
			const char *ct = kp_kobj_str(json_object_get(jobs[i].o, "status"), "completionTime");
			int64_t t = 0;
			if (ct && !kp_parse_rfc3339(ct, &t) && t > last_success) {
				last_success = t;
				snprintf(msg, sizeof(msg), "Saw completed job: %s, condition: Complete", jobs[i].name);
				kp_kcm__event(C, cj, "batch/v1", "CronJob", "Normal", "SawCompletedJob", msg, "cronjob-controller");
			}
		}
	}
	size_t nactive = 0;
	for (size_t i = 0; i < n; i++)
		nactive += !jobs[i].finished && !kp_kcm__deleting(jobs[i].o);

	const char *sched = kp_kobj_str(spec, "schedule");
	bool ok = sched && !kp_cron_parse(&cron, sched, &eb);
	if (!ok) {
		snprintf(msg, sizeof(msg), "invalid schedule: %.200s : %.300s", sched ? sched : "", eb.msg);
		kp_kcm__event(C, cj, "batch/v1", "CronJob", "Warning", "InvalidSchedule", msg, "cronjob-controller");
	} else if (tz && strcmp(tz, "UTC") != 0 && strcmp(tz, "Etc/UTC") != 0) {
		snprintf(msg, sizeof(msg), "invalid timeZone: \"%s\": only UTC is supported by karpenter up", tz);
		kp_kcm__event(C, cj, "batch/v1", "CronJob", "Warning", "UnknownTimeZone", msg, "cronjob-controller");
		ok = false;
	}
	if (ok && !json_is_true(json_object_get(spec, "suspend"))) {
		int64_t earliest = last_sched, due, missed, next;
		const json_t *sds = json_object_get(spec, "startingDeadlineSeconds");
		if (!earliest && kp_kobj_str(md, "creationTimestamp"))
			kp_parse_rfc3339(kp_kobj_str(md, "creationTimestamp"), &earliest);
		kp_cron_due(&cron, earliest, now, json_is_integer(sds) ? json_integer_value(sds) : -1, &due, &missed,
			    &next);
		if (missed > 100) {
			snprintf(msg, sizeof(msg), "too many missed start times: %lld. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
				 (long long)missed);
			kp_kcm__event(C, cj, "batch/v1", "CronJob", "Warning", "TooManyMissedTimes", msg, "cronjob-controller");
		}
		bool exists = false;
		for (size_t i = 0; due && i < n; i++)
			if (jobs[i].sched == due)
				exists = true;
		if (due && !exists && policy && !strcmp(policy, "Forbid") && nactive > 0) {
			snprintf(msg, sizeof(msg), "Not starting job because prior execution is running and concurrency policy is Forbid");
			kp_kcm__event(C, cj, "batch/v1", "CronJob", "Normal", "JobAlreadyActive", msg, "cronjob-controller");
			/* upstream retries at the next activation: the active job's end re-queues us */
		} else if (due && !exists) {
			if (policy && !strcmp(policy, "Replace"))
				for (size_t i = 0; i < n; i++)
					if (!jobs[i].finished && !kp_kcm__deleting(jobs[i].o))
						delete_job(C, cj, ns, jobs[i].name);
			json_t *job = job_for(cj, due);
			enum kp_store_rc rc = kp_kcm__create(C, "batch", "v1", "jobs", job, &eb);
			if (rc == KP_STORE_OK || rc == KP_STORE_EXISTS) {
				if (rc == KP_STORE_OK) {
					snprintf(msg, sizeof(msg), "Created job %s",
						 kp_kobj_str(json_object_get(job, "metadata"), "name"));
					kp_kcm__event(C, cj, "batch/v1", "CronJob", "Normal", "SuccessfulCreate", msg,
						      "cronjob-controller");
				}
				last_sched = due;
			} else {
				fprintf(stderr, "karpenter up: cronjob %s: create job: %s\n", key, eb.msg);
			}
			json_decref(job);
			jobs_release(jobs, n);
			n = own_jobs(C, kp_kobj_str(md, "uid"), jobs);
		}
		if (next != KP_CRON_NONE)
			kp_kcm__requeue_at(C, CK_CRONJOB, key, kp_kcm__now_ms() + (next - now) * 1000 + 100);
	}
	history(C, cj, ns, jobs, n);
	/* status */
	struct cj_status u = { json_object() };
	active = json_array();
	for (size_t i = 0; i < n; i++) {
		const json_t *jmd = json_object_get(jobs[i].o, "metadata");
		if (jobs[i].finished)
			continue;
		json_array_append_new(active, json_pack("{s:s, s:s, s:s, s:s, s:s}", "apiVersion", "batch/v1", "kind", "Job",
							"name", jobs[i].name, "namespace", ns, "uid",
							kp_kobj_str(jmd, "uid") ? kp_kobj_str(jmd, "uid") : ""));
	}
	json_object_set_new(u.set, "active", json_array_size(active) ? active : json_null());
	if (!json_array_size(active))
		json_decref(active);
	if (last_sched) {
		kp_format_rfc3339(last_sched, ts, sizeof(ts));
		json_object_set_new(u.set, "lastScheduleTime", json_string(ts));
	}
	if (last_success) {
		kp_format_rfc3339(last_success, ts, sizeof(ts));
		json_object_set_new(u.set, "lastSuccessfulTime", json_string(ts));
	}
	struct kp_store_key k = { "batch", "cronjobs", ns, name };
	enum kp_store_rc rc = kp_apiserver_mutate(C->L, &k, cj_status_fn, &u, &eb);
	if (rc && rc != KP_STORE_NOTFOUND)
		fprintf(stderr, "karpenter up: cronjob %s status: %s\n", key, eb.msg);
	json_decref(u.set);
	jobs_release(jobs, n);
	free(jobs);
	json_decref(cj);
}
