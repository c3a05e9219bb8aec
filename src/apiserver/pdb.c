/*
 * pdb.c - PodDisruptionBudget specs read into the model's budget
 * arithmetic (kp_pdb_allowed, src/model/pdb.c: the one copy, shared with
 * the disruption planner) and the budget check of the eviction subresource
 * (see pdb.h). The disruption controller that keeps the budgets' status
 * current is src/kcm/pdb.c.
 *
 * The eviction check (kp_apiserver_pdb_evict_check, called on the REST threads)
 * reads only the store; it mirrors k8s pkg/registry/core/pod/storage/
 * eviction.go, see rest.c for the parts before and after it.
 *
 * Cost: per event one JSON parse and O(1) map work; per reconcile of a
 * namespace O(budgets + pods) plus one store read per distinct controller
 * when a budget needs the scale.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apiserver/pdb.h"
#include "apiserver/server.h"
#include "karpenter/objects.h"
#include "kobj/kobj.h"

#define MAX_DISRUPTED 2000        /* the eviction subresource's MaxDisruptedPodSize */

static int64_t wall_s(void)
{
	return (int64_t)time(NULL);
}

/* An IntOrString: an integer, or "N%" (N >= 0). */
static kp_err int_or_percent(const json_t *v, int64_t *out, bool *percent)
{
	const char *s;
	size_t n;
	char num[32];

	*percent = false;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return KP_OK;
	}
	s = json_string_value(v);
	if (!s || (n = strlen(s)) < 2 || s[n - 1] != '%' || n - 1 >= sizeof(num))
		return KP_ERR_INVALID;
	memcpy(num, s, n - 1);
	num[n - 1] = '\0';
	if (kp_parse_i64(num, out) || *out < 0 || *out > 1000000)
		return KP_ERR_INVALID;
	*percent = true;
	return KP_OK;
}

/* The budget's spec as the model's struct kp_pdb (the fields the
 * arithmetic reads); KP_ERR_INVALID for an unusable value. */
static kp_err spec_rule(const json_t *spec, struct kp_pdb *r)
{
	const json_t *mu = json_object_get(spec, "maxUnavailable"), *ma = json_object_get(spec, "minAvailable");

	memset(r, 0, sizeof(*r));
	if (mu && !json_is_null(mu)) {
		r->has_max_unavailable = true;
		return int_or_percent(mu, &r->max_unavailable, &r->max_percent);
	}
	if (ma && !json_is_null(ma)) {
		r->has_min_available = true;
		return int_or_percent(ma, &r->min_available, &r->min_percent);
	}
	return KP_OK;
}

kp_err kp_apiserver_pdb_scaled(const json_t *v, int64_t total, int64_t *out)
{
	bool percent;

	if (int_or_percent(v, out, &percent))
		return KP_ERR_INVALID;
	*out = kp_pdb_scaled(*out, percent, total);
	return KP_OK;
}

bool kp_apiserver_pdb_needs_scale(const json_t *spec)
{
	struct kp_pdb r;

	return !spec_rule(spec, &r) && kp_pdb_needs_scale(&r);
}

kp_err kp_apiserver_pdb_compute(const json_t *spec, int64_t expected, int64_t healthy, int64_t *desired, int64_t *allowed)
{
	struct kp_pdb r;

	*desired = 0;
	*allowed = 0;
	if (spec_rule(spec, &r))
		return KP_ERR_INVALID;
	kp_pdb_allowed(&r, expected, healthy, desired, allowed);
	return KP_OK;
}

bool kp_apiserver_pdb_pod_ready(const json_t *pod)
{
	const json_t *c;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c) {
		const char *t = kp_kobj_str(c, "type"), *s = kp_kobj_str(c, "status");
		if (t && s && !strcmp(t, "Ready"))
			return !strcmp(s, "True");
	}
	return false;
}
/* Sets the DisruptionAllowed condition of status; keeps lastTransitionTime
 * while the condition's status does not change. */
void kp_apiserver_pdb_set_allowed_cond(json_t *status, bool ok, int64_t gen, const char *reason, const char *msg)
{
	json_t *arr = json_object_get(status, "conditions"), *c = NULL, *x;
	const char *want = ok ? "True" : "False";
	char ts[40];
	size_t i;

	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(status, "conditions", arr);
	}
	json_array_foreach(arr, i, x)
		if (kp_kobj_str(x, "type") && !strcmp(kp_kobj_str(x, "type"), "DisruptionAllowed"))
			c = x;
	if (!c) {
		c = json_object();
		json_array_append_new(arr, c);
	}
	if (!kp_kobj_str(c, "status") || strcmp(kp_kobj_str(c, "status"), want) != 0 || !kp_kobj_str(c, "lastTransitionTime")) {
		kp_format_rfc3339(wall_s(), ts, sizeof(ts));
		json_object_set_new(c, "lastTransitionTime", json_string(ts));
	}
	json_object_set_new(c, "type", json_string("DisruptionAllowed"));
	json_object_set_new(c, "status", json_string(want));
	json_object_set_new(c, "reason", json_string(reason ? reason : ok ? "SufficientPods" : "InsufficientPods"));
	json_object_set_new(c, "message", json_string(msg ? msg : ""));
	json_object_set_new(c, "observedGeneration", json_integer(gen));
}

/* ------------------------------------------------------ eviction check */

struct find_ctx {
	const json_t *labels;
	int n;
	char name[256];
	json_t *first;    /* the first matching budget */
};

static int find_fn(void *ud, const char *text, size_t len, int64_t rv)
{
	struct find_ctx *f = ud;
	json_t *o = json_loadb(text, len, 0, NULL);
	(void)rv;
	if (o && kp_kobj_selector_matches(json_object_get(json_object_get(o, "spec"), "selector"), f->labels)) {
		if (f->n++ == 0) {
			snprintf(f->name, sizeof(f->name), "%s", kp_kobj_str(json_object_get(o, "metadata"), "name") ?
				 kp_kobj_str(json_object_get(o, "metadata"), "name") : "");
			f->first = json_incref(o);
		}
	}
	json_decref(o);
	return 0;
}

struct take_ctx {
	const char *pod, *pdb;
	bool dry_run;
	enum kp_apiserver_pdb_verdict v;
	char *msg;
	size_t mn;
};

/* checkAndDecrement of eviction.go on the freshly read budget. */
static int take_fn(void *ud, json_t *pdb)
{
	struct take_ctx *t = ud;
	json_t *st = json_object_get(pdb, "status"), *dp;
	int64_t gen = kp_kobj_int(json_object_get(pdb, "metadata"), "generation", 0), allowed;
	char ts[40];

	if (!json_is_object(st)) {
		st = json_object();
		json_object_set_new(pdb, "status", st);
	}
	allowed = kp_kobj_int(st, "disruptionsAllowed", 0);
	dp = json_object_get(st, "disruptedPods");
	if (kp_kobj_int(st, "observedGeneration", 0) < gen) {
		t->v = KP_APISERVER_PDB_STALE;
		snprintf(t->msg, t->mn, "The disruption budget %s is still being processed by the server.", t->pdb);
		return 1;
	}
	if (allowed < 0) {
		t->v = KP_APISERVER_PDB_FORBIDDEN;
		snprintf(t->msg, t->mn, "pdb disruptions allowed is negative");
		return 1;
	}
	if (json_object_size(dp) > MAX_DISRUPTED) {
		t->v = KP_APISERVER_PDB_FORBIDDEN;
		snprintf(t->msg, t->mn, "DisruptedPods map too big - too many evictions not confirmed by PDB controller");
		return 1;
	}
	if (allowed == 0) {
		t->v = KP_APISERVER_PDB_DENY;
		snprintf(t->msg, t->mn, "The disruption budget %s needs %lld healthy pods and has %lld currently", t->pdb,
			 (long long)kp_kobj_int(st, "desiredHealthy", 0), (long long)kp_kobj_int(st, "currentHealthy", 0));
		return 1;
	}
	t->v = KP_APISERVER_PDB_ALLOW;
	if (t->dry_run)
		return 1;
	json_object_set_new(st, "disruptionsAllowed", json_integer(allowed - 1));
	if (allowed - 1 == 0)
		kp_apiserver_pdb_set_allowed_cond(st, false, kp_kobj_int(st, "observedGeneration", 0), NULL, NULL);
	if (!json_is_object(dp)) {
		dp = json_object();
		json_object_set_new(st, "disruptedPods", dp);
	}
	kp_format_rfc3339(wall_s(), ts, sizeof(ts));
	json_object_set_new(dp, t->pod, json_string(ts));
	return 0;
}

enum kp_apiserver_pdb_verdict kp_apiserver_pdb_evict_check(struct kp_apiserver *L, const json_t *pod, bool dry_run, char *name, size_t nn,
				       char *msg, size_t mn, struct kp_errbuf *eb)
{
	const json_t *md = json_object_get(pod, "metadata");
	const char *ns = kp_kobj_str(md, "namespace") ? kp_kobj_str(md, "namespace") : "";
	struct find_ctx f = { json_object_get(md, "labels"), 0, "", NULL };
	struct take_ctx t = { kp_kobj_str(md, "name"), NULL, dry_run, KP_APISERVER_PDB_ALLOW, msg, mn };
	enum kp_store_rc rc;

	if (nn)
		name[0] = '\0';
	if (mn)
		msg[0] = '\0';
	rc = kp_store_list(L->store, "policy", "poddisruptionbudgets", ns, find_fn, &f, NULL, eb);
	if (rc) {
		json_decref(f.first);
		return KP_APISERVER_PDB_FAIL;
	}
	snprintf(name, nn, "%s", f.name);
	if (f.n == 0)
		return KP_APISERVER_PDB_ALLOW;
	if (f.n > 1) {
		json_decref(f.first);
		snprintf(msg, mn, "This pod has more than one PodDisruptionBudget, which the eviction subresource does not "
			 "support.");
		return KP_APISERVER_PDB_MULTI;
	}
	if (!kp_apiserver_pdb_pod_ready(pod)) {
		const json_t *st = json_object_get(f.first, "status");
		const char *pol = kp_kobj_str(json_object_get(f.first, "spec"), "unhealthyPodEvictionPolicy");
		int64_t desired = kp_kobj_int(st, "desiredHealthy", 0);
		bool go = (pol && !strcmp(pol, "AlwaysAllow")) ||
			  (kp_kobj_int(st, "currentHealthy", 0) >= desired && desired > 0);
		if (go) {
			json_decref(f.first);
			return KP_APISERVER_PDB_ALLOW;
		}
	}
	json_decref(f.first);
	t.pdb = name;
	struct kp_store_key k = { "policy", "poddisruptionbudgets", ns, name };
	rc = kp_apiserver_mutate(L, &k, take_fn, &t, eb);
	if (rc == KP_STORE_NOTFOUND) {
		/* deleted meanwhile: nothing protects the pod any more */
		return KP_APISERVER_PDB_ALLOW;
	}
	if (rc)
		return KP_APISERVER_PDB_FAIL;
	return t.v;
}

