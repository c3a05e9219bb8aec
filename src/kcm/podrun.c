/*
 * podrun.c - the kubelet stand-in's containers: the status a running pod
 * reports (containerStatuses with image, imageID, containerID, started,
 * ready, restartCount; initContainerStatuses; qosClass) and the end of a
 * pod whose containers finish.
 *
 * No container runs: a pod ends when its simulated run time is over
 * (kp_kcm_run_for: the karpenter-c.sh/run-for annotation or `sleep N`),
 * counted from when the stand-in started it. Only pods with
 * restartPolicy Never or OnFailure end (Job pods); a pod that would be
 * restarted (Always) keeps running. The end is what a kubelet writes:
 * phase Succeeded (exit code 0) or Failed, every container terminated
 * with that exit code (reason Completed or Error), Ready and
 * ContainersReady False.
 *
 * Image names are normalised as containerd reports them
 * (nginx -> docker.io/library/nginx:latest); imageID is that repository
 * with a sha256 digest derived from the name, containerID a containerd://
 * id derived from the pod uid and container name (stable across writes).
 *
 * Cost: O(containers) per pod write; finishing pods wait in the timer map.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kcm/kcm_int.h"
#include "kcm/rules.h"

static uint64_t fnv64(const char *s, uint64_t seed)
{
	uint64_t h = 1469598103934665603ull ^ seed;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* 64 hex digits derived from a and b. */
static void hex64(const char *a, const char *b, char out[65])
{
	for (int i = 0; i < 4; i++) {
		uint64_t h = fnv64(a, (uint64_t)i * 0x9e3779b97f4a7c15ull);
		h = fnv64(b, h);
		snprintf(out + 16 * i, 17, "%016llx", (unsigned long long)h);
	}
}

void kp_kcm__image_ref(const char *image, char *name, size_t n, char *id, size_t idn)
{
	const char *slash = strchr(image, '/'), *at = strchr(image, '@');
	const char *last = strrchr(image, '/');
	bool host = slash && (memchr(image, '.', (size_t)(slash - image)) || memchr(image, ':', (size_t)(slash - image)) ||
			      !strncmp(image, "localhost/", 10));
	bool tag = strchr(last ? last : image, ':') != NULL;
	char repo[512], digest[65];

	snprintf(name, n, "%s%s%s%s", host ? "" : "docker.io/", !host && !slash ? "library/" : "", image,
		 tag || at ? "" : ":latest");
	snprintf(repo, sizeof(repo), "%s", name);
	char *cut = strchr(repo, '@');
	if (!cut) {
		char *rl = strrchr(repo, '/');
		cut = strchr(rl ? rl : repo, ':');
	}
	if (cut)
		*cut = '\0';
	if (at)
		snprintf(id, idn, "%s%s", repo, at);
	else {
		hex64(name, "image", digest);
		snprintf(id, idn, "%s@sha256:%s", repo, digest);
	}
}

/* The status of one container c: running (ready) since ts, or terminated. */
static json_t *container_status(const json_t *c, const char *uid, const char *ts, bool running, int exit_code,
				const char *finished)
{
	const char *cname = kp_kobj_str(c, "name") ? kp_kobj_str(c, "name") : "";
	const char *image = kp_kobj_str(c, "image") ? kp_kobj_str(c, "image") : "";
	char name[600], id[800], cid[65], cidf[80];
	json_t *state;

	kp_kcm__image_ref(image, name, sizeof(name), id, sizeof(id));
	hex64(uid ? uid : "", cname, cid);
	snprintf(cidf, sizeof(cidf), "containerd://%s", cid);
	if (running)
		state = json_pack("{s:{s:s}}", "running", "startedAt", ts);
	else
		state = json_pack("{s:{s:i, s:s, s:s, s:s, s:s}}", "terminated", "exitCode", exit_code, "reason",
				  exit_code ? "Error" : "Completed", "startedAt", ts, "finishedAt", finished, "containerID",
				  cidf);
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:i, s:o, s:{}}", "name", cname, "image", name, "imageID", id,
			 "containerID", cidf, "ready", running, "started", running, "restartCount", 0, "state", state,
			 "lastState");
}

void kp_kcm__container_statuses(json_t *pod, const char *ts, bool running, int exit_code, const char *finished)
{
	const json_t *spec = json_object_get(pod, "spec"), *c;
	const char *uid = kp_kobj_str(json_object_get(pod, "metadata"), "uid");
	json_t *st = kp_kobj_child(pod, "status"), *cs = json_array(), *ics = json_array();
	size_t i;

	json_array_foreach(json_object_get(spec, "containers"), i, c)
		json_array_append_new(cs, container_status(c, uid, ts, running, exit_code, finished));
	json_array_foreach(json_object_get(spec, "initContainers"), i, c)
		json_array_append_new(ics, container_status(c, uid, ts, false, 0, ts));
	json_object_set_new(st, "containerStatuses", cs);
	if (json_array_size(ics))
		json_object_set_new(st, "initContainerStatuses", ics);
	else
		json_decref(ics);
	json_object_set_new(st, "qosClass", json_string(kp_apiserver_pod_qos_class(spec)));
}

/* ---- ending pods ---- */

/* Whether p ends, and when (monotonic ms), given its JSON: run time from
 * started_wall_ms (wall clock ms) on. */
bool kp_kcm__pod_end(const json_t *pod, int64_t started_wall_ms, int64_t *due_ms, int *exit_code)
{
	const char *rp = kp_kobj_str(json_object_get(pod, "spec"), "restartPolicy");
	struct kp_errbuf eb = { 0 };
	int64_t ms;
	struct timespec now;

	if (!rp || !strcmp(rp, "Always"))
		return false;
	if (!kp_kcm_run_for(pod, &ms, exit_code, &eb))
		return false;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t wall = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	*due_ms = kp_kcm__now_ms() + (started_wall_ms + ms - wall);
	return true;
}

struct finish_ud {
	int exit_code;
};

static void cond(json_t *st, const char *type, const char *status, const char *reason, const char *ts)
{
	json_t *arr = json_object_get(st, "conditions"), *v;
	size_t i;
	json_array_foreach(arr, i, v)
		if (kp_kobj_str(v, "type") && !strcmp(kp_kobj_str(v, "type"), type)) {
			if (!kp_kobj_str(v, "status") || strcmp(kp_kobj_str(v, "status"), status) != 0)
				json_object_set_new(v, "lastTransitionTime", json_string(ts));
			json_object_set_new(v, "status", json_string(status));
			if (reason)
				json_object_set_new(v, "reason", json_string(reason));
			return;
		}
}

static int finish_fn(void *ud, json_t *pod)
{
	const struct finish_ud *u = ud;
	json_t *st = kp_kobj_child(pod, "status");
	const char *phase = kp_kobj_str(st, "phase"), *start = kp_kobj_str(st, "startTime");
	char ts[40], started[40];

	if (!phase || strcmp(phase, "Running") != 0 || kp_kcm__deleting(pod))
		return 1;
	kp_kobj_now_rfc3339(ts, sizeof(ts));
	snprintf(started, sizeof(started), "%s", start ? start : ts);
	json_object_set_new(st, "phase", json_string(u->exit_code ? "Failed" : "Succeeded"));
	kp_kcm__container_statuses(pod, started, false, u->exit_code, ts);
	cond(st, "Ready", "False", u->exit_code ? "PodFailed" : "PodCompleted", ts);
	cond(st, "ContainersReady", "False", u->exit_code ? "PodFailed" : "PodCompleted", ts);
	cond(st, "PodReadyToStartContainers", "False", NULL, ts);
	return 0;
}

void kp_kcm__pod_finish(struct kp_kcm *C, const char *key)
{
	struct kp_kcm__pod *p = kp_strmap_get(&C->pods, key);
	struct kp_errbuf eb = { 0 };
	struct finish_ud u;

	if (!p || !p->running || p->terminal || p->deleting)
		return;
	u.exit_code = p->exit_code;
	struct kp_store_key k = { "", "pods", p->ns, p->name };
	enum kp_store_rc rc = kp_apiserver_mutate(C->L, &k, finish_fn, &u, &eb);
	if (rc && rc != KP_STORE_NOTFOUND)
		fprintf(stderr, "karpenter up: kubelet: end pod %s: %s\n", key, eb.msg);
}
