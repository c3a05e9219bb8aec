/*
 * rest_evict.c - the eviction subresource (pods/NAME/eviction), with the
 * PodDisruptionBudget check of k8s pkg/registry/core/pod/storage/
 * eviction.go (apiserver/pdb.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "apiserver/pdb.h"
#include "apiserver/server.h"

#include "apiserver/rest_int.h"

/* ------------------------------------------------------------- eviction */

/*
 * POST pods/NAME/eviction, after k8s pkg/registry/core/pod/storage/
 * eviction.go:
 *  - the body is an Eviction (policy/v1 or v1beta1; an empty body is taken
 *    as one without options) whose metadata.name, when given, must be the
 *    URL's; its deleteOptions (gracePeriodSeconds, preconditions uid and
 *    resourceVersion, dryRun) apply to the deletion;
 *  - a pod that is Pending, Succeeded, Failed or already terminating is
 *    deleted without looking at budgets;
 *  - otherwise kp_apiserver_pdb_evict_check (pdb.c) decides: more than one
 *    budget -> 500; one whose status predates its generation -> 429 (retry
 *    after 10 s); disruptionsAllowed 0 -> 429 TooManyRequests with a
 *    DisruptionBudget cause; negative or too many unconfirmed evictions ->
 *    403; else the budget is decremented and the pod recorded in its
 *    disruptedPods (an unready pod goes without a decrement when the
 *    budget is satisfied or its unhealthyPodEvictionPolicy is AlwaysAllow);
 *  - the pod gets the DisruptionTarget condition (EvictionByEvictionAPI;
 *    a failed precondition answers 409 here) and is deleted gracefully
 *    (kp_apiserver_delete_grace); the answer is a 201 Status Success.
 */
struct evict_ud {
	const char *uid, *rv;     /* preconditions, may be NULL */
	char msg[700];
};

static int disruption_fn(void *ud, json_t *pod)
{
	struct evict_ud *e = ud;
	const char *uid = kp_kobj_meta_str(pod, "uid"), *rv = kp_kobj_meta_str(pod, "resourceVersion");
	json_t *st, *conds, *c = NULL, *x;
	char ts[40];
	size_t i;

	if (e->uid && *e->uid && (!uid || strcmp(uid, e->uid) != 0)) {
		snprintf(e->msg, sizeof(e->msg), "the UID in the precondition (%s) does not match the UID in record (%s). "
			 "The object might have been deleted and then recreated", e->uid, uid ? uid : "");
		return -1;
	}
	if (e->rv && *e->rv && (!rv || strcmp(rv, e->rv) != 0)) {
		snprintf(e->msg, sizeof(e->msg), "the ResourceVersion in the precondition (%s) does not match the "
			 "ResourceVersion in record (%s). The object might have been modified", e->rv, rv ? rv : "");
		return -1;
	}
	st = json_object_get(pod, "status");
	if (!json_is_object(st)) {
		st = json_object();
		json_object_set_new(pod, "status", st);
	}
	conds = json_object_get(st, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(st, "conditions", conds);
	}
	json_array_foreach(conds, i, x)
		if (kp_kobj_str(x, "type") && !strcmp(kp_kobj_str(x, "type"), "DisruptionTarget"))
			c = x;
	if (c && kp_kobj_str(c, "status") && !strcmp(kp_kobj_str(c, "status"), "True") && kp_kobj_str(c, "reason") &&
	    !strcmp(kp_kobj_str(c, "reason"), "EvictionByEvictionAPI"))
		return 1;
	if (!c) {
		c = json_object();
		json_array_append_new(conds, c);
	}
	kp_kobj_now_rfc3339(ts, sizeof(ts));
	json_object_set_new(c, "type", json_string("DisruptionTarget"));
	json_object_set_new(c, "status", json_string("True"));
	json_object_set_new(c, "lastProbeTime", json_null());
	json_object_set_new(c, "lastTransitionTime", json_string(ts));
	json_object_set_new(c, "reason", json_string("EvictionByEvictionAPI"));
	json_object_set_new(c, "message", json_string("Eviction API: evicting"));
	return 0;
}

static void evict_refused(struct kp_apiserver__req *c, enum kp_apiserver_pdb_verdict v, const char *pdb, const char *msg)
{
	json_t *st;
	char m[1000];

	switch (v) {
	case KP_APISERVER_PDB_MULTI:
		st = kp_apiserver__status_obj(500, NULL, msg);
		json_object_del(st, "reason");
		kp_apiserver__resp_json(c->rs, 500, st, CT_JSON);
		return;
	case KP_APISERVER_PDB_FORBIDDEN:
		snprintf(m, sizeof(m), "poddisruptionbudget.policy \"%s\" is forbidden: %s", pdb, msg);
		kp_apiserver__status_details(c->rs, 403, "Forbidden", m, pdb, "policy", "poddisruptionbudget");
		return;
	default:
		st = kp_apiserver__status_obj(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.");
		json_object_set_new(st, "details", json_pack("{s:[{s:s, s:s}]}", "causes", "reason", "DisruptionBudget",
							     "message", msg));
		if (v == KP_APISERVER_PDB_STALE)
			json_object_set_new(json_object_get(st, "details"), "retryAfterSeconds", json_integer(10));
		kp_apiserver__resp_json(c->rs, 429, st, CT_JSON);
		return;
	}
}

void kp_apiserver__do_eviction(struct kp_apiserver__req *c)
{
	struct kp_store_key k = kp_apiserver__key_of(c, c->r.name);
	struct kp_errbuf eb = { 0 };
	struct evict_ud e = { 0 };
	json_t *body = NULL, *opts, *pod;
	const char *phase, *nm;
	enum kp_store_rc rc;
	int64_t rv, grace;
	char pdb[256] = "", msg[600] = "";

	if (c->rq->body_len > 0 && !(body = kp_apiserver__body_object(c)))
		return;
	nm = kp_kobj_meta_str(body, "name");
	if (nm && *nm && strcmp(nm, c->r.name) != 0) {
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", "name in URL does not match name in Eviction object");
		json_decref(body);
		return;
	}
	opts = json_object_get(body, "deleteOptions");
	if (json_is_array(json_object_get(opts, "dryRun")) && json_array_size(json_object_get(opts, "dryRun")))
		c->dry_run = true;
	e.uid = kp_kobj_str(json_object_get(opts, "preconditions"), "uid");
	e.rv = kp_kobj_str(json_object_get(opts, "preconditions"), "resourceVersion");
	grace = json_object_get(opts, "gracePeriodSeconds") ? kp_apiserver__grace_option(c, opts) : -1;
	if (!kp_apiserver__load_obj(c, &k, &pod, &rv)) {
		json_decref(body);
		return;
	}
	phase = kp_kobj_str(json_object_get(pod, "status"), "phase");
	if (!(!phase || !strcmp(phase, "Pending") || !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed") ||
	      json_object_get(json_object_get(pod, "metadata"), "deletionTimestamp"))) {
		enum kp_apiserver_pdb_verdict v = kp_apiserver_pdb_evict_check(c->L, pod, c->dry_run, pdb, sizeof(pdb), msg, sizeof(msg), &eb);
		if (v == KP_APISERVER_PDB_FAIL) {
			kp_apiserver__rest_status(c->rs, 500, "InternalError", eb.msg[0] ? eb.msg : "cannot read the disruption budgets");
			goto out;
		}
		if (v != KP_APISERVER_PDB_ALLOW) {
			evict_refused(c, v, pdb, msg);
			goto out;
		}
	}
	if (!c->dry_run) {
		rc = kp_apiserver_mutate(c->L, &k, disruption_fn, &e, &eb);
		if (rc == KP_STORE_FAIL && e.msg[0]) {
			char m[900];
			snprintf(m, sizeof(m), "Operation cannot be fulfilled on Pod \"%s\": %s", c->r.name, e.msg);
			kp_apiserver__status_details(c->rs, 409, "Conflict", m, c->r.name, NULL, "Pod");
			goto out;
		}
		if (!rc)
			rc = kp_apiserver_delete_grace(c->L, &k, KP_APISERVER_PROP_BACKGROUND, grace, 0, e.uid && *e.uid ? e.uid : NULL,
						   NULL, NULL, &eb);
		if (rc) {
			kp_apiserver__err_store(c, rc, c->r.name, &eb);
			goto out;
		}
	}
	kp_apiserver__rest_status(c->rs, 201, NULL, "");
out:
	json_decref(pod);
	json_decref(body);
}
