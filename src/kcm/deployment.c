/*
 * deployment.c - the Deployment controller of `karpenter up`, after
 * k8s.io/kubernetes pkg/controller/deployment:
 *
 *  - one ReplicaSet per pod template, named <deployment>-<pod-template-hash>;
 *    the "new" ReplicaSet is the one whose template equals the
 *    Deployment's, ignoring the pod-template-hash label (EqualIgnoreHash),
 *    so that `kubectl rollout undo` (which copies an old ReplicaSet's
 *    template back) brings that ReplicaSet back rather than a new one;
 *  - revisions: the new ReplicaSet gets deployment.kubernetes.io/revision =
 *    1 + the highest of the old ones (an old one brought back keeps its
 *    former numbers in deployment.kubernetes.io/revision-history), and the
 *    Deployment carries its revision; ReplicaSets also get desired-replicas
 *    and max-replicas, and the Deployment's other annotations
 *    (kubernetes.io/change-cause for `rollout history`);
 *  - RollingUpdate: the new ReplicaSet grows as far as maxSurge allows and
 *    old ones shrink as far as maxUnavailable allows (rules.h, rollout.c),
 *    one step per reconcile, the next when ReplicaSet status changes;
 *    Recreate: old ReplicaSets go to 0, the new one is scaled up once
 *    their pods are gone;
 *  - spec.paused: no rollout step (scaling and status only);
 *  - old ReplicaSets at 0 beyond revisionHistoryLimit (default 10) are
 *    deleted, oldest revision first;
 *  - status and the Available / Progressing conditions as before.
 *
 * minReadySeconds and progressDeadlineSeconds are NOT evaluated (a ready
 * pod is available at once; a rollout never times out).
 *
 * Cost: O(ReplicaSets of the Deployment) per reconcile, plus one JSON
 * comparison of each one's template.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcm/kcm_int.h"
#include "kcm/rules.h"

#define REV "deployment.kubernetes.io/revision"
#define REV_HISTORY "deployment.kubernetes.io/revision-history"
#define DESIRED "deployment.kubernetes.io/desired-replicas"
#define MAX_REPLICAS "deployment.kubernetes.io/max-replicas"
#define MAX_RS 256

/* pod-template-hash: FNV-1a of the template's canonical JSON, its decimal
 * digits mapped onto the alphabet Kubernetes' rand.SafeEncodeString uses. */
static void template_hash(const json_t *tmpl, char out[16])
{
	char *text = json_dumps(tmpl, JSON_COMPACT | JSON_SORT_KEYS);
	uint32_t h = 2166136261u;
	char dec[16];

	for (const char *p = text ? text : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	free(text);
	snprintf(dec, sizeof(dec), "%u", h);
	size_t i = 0;
	for (; dec[i]; i++)
		out[i] = KP_KCM__ALNUM[(unsigned char)dec[i] % (sizeof(KP_KCM__ALNUM) - 1)];
	out[i] = '\0';
}

/* Annotations the Deployment passes on to its ReplicaSets
 * (skipCopyAnnotation upstream). */
static bool copied_annotation(const char *k)
{
	return strcmp(k, "kubectl.kubernetes.io/last-applied-configuration") != 0 && strcmp(k, REV) != 0 &&
	       strcmp(k, REV_HISTORY) != 0 && strcmp(k, DESIRED) != 0 && strcmp(k, MAX_REPLICAS) != 0 &&
	       strcmp(k, "deprecated.deployment.rollback.to") != 0;
}

/* EqualIgnoreHash: the two templates equal once pod-template-hash is
 * dropped from both. */
static bool same_template(const json_t *a, const json_t *b)
{
	json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
	bool eq;
	json_object_del(json_object_get(json_object_get(x, "metadata"), "labels"), "pod-template-hash");
	json_object_del(json_object_get(json_object_get(y, "metadata"), "labels"), "pod-template-hash");
	/* Go clients send the zero time as null */
	if (json_is_null(json_object_get(json_object_get(x, "metadata"), "creationTimestamp")))
		json_object_del(json_object_get(x, "metadata"), "creationTimestamp");
	if (json_is_null(json_object_get(json_object_get(y, "metadata"), "creationTimestamp")))
		json_object_del(json_object_get(y, "metadata"), "creationTimestamp");
	/* an empty labels object and none are the same template */
	if (!json_object_size(json_object_get(json_object_get(x, "metadata"), "labels")))
		json_object_del(json_object_get(x, "metadata"), "labels");
	if (!json_object_size(json_object_get(json_object_get(y, "metadata"), "labels")))
		json_object_del(json_object_get(y, "metadata"), "labels");
	eq = json_equal(x, y);
	json_decref(x);
	json_decref(y);
	return eq;
}

static int64_t revision_of(const json_t *o)
{
	const char *r = kp_kobj_str(json_object_get(json_object_get(o, "metadata"), "annotations"), REV);
	int64_t v = 0;
	if (!r || kp_parse_i64(r, &v) || v < 0)
		return 0;
	return v;
}

struct rs_ref {
	const json_t *o;
	char key[600];
	int64_t rev, spec, avail, created;
};

static int cmp_created(const void *a, const void *b)
{
	const struct rs_ref *x = a, *y = b;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* ---- writes ---- */

struct ann_upd {
	const json_t *set;      /* annotations to set (strings) */
};

static int ann_fn(void *ud, json_t *obj)
{
	const struct ann_upd *u = ud;
	json_t *ann = kp_kobj_child(kp_kobj_child(obj, "metadata"), "annotations");
	const char *k;
	json_t *v;
	bool changed = false;

	json_object_foreach((json_t *)u->set, k, v)
		if (!json_equal(json_object_get(ann, k), v)) {
			json_object_set(ann, k, v);
			changed = true;
		}
	return changed ? 0 : 1;
}

static void set_annotations(struct kp_kcm *C, const char *group, const char *res, const char *ns, const char *name,
			    json_t *set)
{
	struct kp_store_key k = { group, res, ns, name };
	struct kp_errbuf eb = { 0 };
	struct ann_upd u = { set };
	enum kp_store_rc rc = kp_apiserver_mutate(C->L, &k, ann_fn, &u, &eb);
	if (rc && rc != KP_STORE_NOTFOUND)
		fprintf(stderr, "karpenter up: %s %s/%s annotations: %s\n", res, ns, name, eb.msg);
	json_decref(set);
}

/* Annotations of the new ReplicaSet at revision rev. */
static json_t *rs_annotations(const json_t *d, int64_t rev, int64_t want, int64_t surge, const json_t *rs)
{
	json_t *a = json_object(), *v;
	const char *k;
	char num[32];

	json_object_foreach(json_object_get(json_object_get(d, "metadata"), "annotations"), k, v)
		if (copied_annotation(k) && json_is_string(v))
			json_object_set(a, k, v);
	snprintf(num, sizeof(num), "%lld", (long long)rev);
	json_object_set_new(a, REV, json_string(num));
	snprintf(num, sizeof(num), "%lld", (long long)want);
	json_object_set_new(a, DESIRED, json_string(num));
	snprintf(num, sizeof(num), "%lld", (long long)(want + surge));
	json_object_set_new(a, MAX_REPLICAS, json_string(num));
	if (rs) {   /* brought back: remember the revision it had */
		int64_t old = revision_of(rs);
		const char *hist = kp_kobj_str(json_object_get(json_object_get(rs, "metadata"), "annotations"), REV_HISTORY);
		if (old && old != rev) {
			char buf[512];
			snprintf(buf, sizeof(buf), "%s%s%lld", hist ? hist : "", hist && *hist ? "," : "", (long long)old);
			json_object_set_new(a, REV_HISTORY, json_string(buf));
		}
	}
	return a;
}

static void create_rs(struct kp_kcm *C, const json_t *d, const char *hash, int64_t replicas, json_t *ann)
{
	const json_t *md = json_object_get(d, "metadata"), *spec = json_object_get(d, "spec");
	json_t *rs = json_object(), *rmd = json_object(), *rspec = json_object();
	json_t *t = json_deep_copy(json_object_get(spec, "template")), *sel = json_deep_copy(json_object_get(spec, "selector"));
	struct kp_errbuf eb = { 0 };
	char rname[300];

	snprintf(rname, sizeof(rname), "%s-%s", kp_kobj_str(md, "name"), hash);
	if (!json_is_object(t)) {
		json_decref(t);
		t = json_object();
	}
	if (!json_is_object(sel)) {
		json_decref(sel);
		sel = json_object();
	}
	json_t *tl = kp_kobj_child(kp_kobj_child(t, "metadata"), "labels");
	json_object_set_new(tl, "pod-template-hash", json_string(hash));
	json_object_set_new(kp_kobj_child(sel, "matchLabels"), "pod-template-hash", json_string(hash));
	json_object_set_new(rs, "apiVersion", json_string("apps/v1"));
	json_object_set_new(rs, "kind", json_string("ReplicaSet"));
	json_object_set_new(rmd, "name", json_string(rname));
	json_object_set_new(rmd, "namespace", json_string(kp_kobj_str(md, "namespace")));
	json_object_set_new(rmd, "labels", json_deep_copy(tl));
	json_object_set_new(rmd, "annotations", ann);
	json_object_set_new(rmd, "ownerReferences", json_pack("[o]", kp_kcm__owner_ref("apps/v1", "Deployment", d)));
	json_object_set_new(rs, "metadata", rmd);
	json_object_set_new(rspec, "replicas", json_integer(replicas));
	json_object_set_new(rspec, "selector", sel);
	json_object_set_new(rspec, "template", t);
	json_object_set_new(rs, "spec", rspec);
	enum kp_store_rc rc = kp_kcm__create(C, "apps", "v1", "replicasets", rs, &eb);
	if (rc && rc != KP_STORE_EXISTS)
		fprintf(stderr, "karpenter up: create replicaset %s: %s\n", rname, eb.msg);
	else if (rc == KP_STORE_OK) {
		char msg[400];
		snprintf(msg, sizeof(msg), "Scaled up replica set %s from 0 to %lld", rname, (long long)replicas);
		kp_kcm__event(C, d, "apps/v1", "Deployment", "Normal", "ScalingReplicaSet", msg, "deployment-controller");
	}
	json_decref(rs);
}

static void scale(struct kp_kcm *C, const json_t *d, struct rs_ref *r, int64_t to)
{
	char msg[400];
	if (r->spec == to)
		return;
	kp_kcm__scale_rs(C, r->o, to);
	snprintf(msg, sizeof(msg), "Scaled %s replica set %s from %lld to %lld", to > r->spec ? "up" : "down",
		 kp_kobj_str(json_object_get(r->o, "metadata"), "name"), (long long)r->spec, (long long)to);
	kp_kcm__event(C, d, "apps/v1", "Deployment", "Normal", "ScalingReplicaSet", msg, "deployment-controller");
	r->spec = to;
}

/* ---- the reconciler ---- */

static void rollout(struct kp_kcm *C, const json_t *d, struct rs_ref *nw, struct rs_ref *old, size_t nold,
		    int64_t want, int64_t surge, int64_t unavail, bool recreate)
{
	int64_t total = nw->spec, old_spec = 0;
	for (size_t i = 0; i < nold; i++) {
		total += old[i].spec;
		old_spec += old[i].spec;
	}
	if (old_spec == 0) {   /* no rollout in progress: plain scaling */
		scale(C, d, nw, want);
		return;
	}
	if (recreate) {
		bool pods_left = false;
		for (size_t i = 0; i < nold; i++) {
			struct kp_kcm__podlist pl;
			scale(C, d, &old[i], 0);
			kp_kcm__owned_pods(C, kp_kobj_str(json_object_get(old[i].o, "metadata"), "uid"), &pl, true);
			pods_left |= pl.n > 0;
			free(pl.v);
		}
		if (!pods_left)
			scale(C, d, nw, want);
		return;
	}
	scale(C, d, nw, kp_kcm_rollout_new_replicas(want, surge, total, nw->spec));
	struct kp_kcm_rs rs[MAX_RS];
	for (size_t i = 0; i < nold; i++) {
		rs[i].spec = old[i].spec;
		rs[i].avail = old[i].avail;
	}
	kp_kcm_rollout_scale_old(want, unavail, nw->spec, nw->avail, rs, nold);
	for (size_t i = 0; i < nold; i++)
		scale(C, d, &old[i], rs[i].spec);
}

static void set_status(struct kp_kcm *C, const json_t *d, const char *rsname, int64_t want, int64_t unavail,
		       int64_t replicas, int64_t updated, int64_t ready, int64_t avail)
{
	const json_t *md = json_object_get(d, "metadata");
	struct kp_kcm__status_upd u = { 0 };

	u.update_time = true;
	u.set = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "replicas", (json_int_t)replicas, "updatedReplicas",
			  (json_int_t)updated, "readyReplicas", (json_int_t)ready, "availableReplicas", (json_int_t)avail,
			  "unavailableReplicas", (json_int_t)(want > avail ? want - avail : 0), "observedGeneration",
			  (json_int_t)kp_kobj_int(md, "generation", 1));
	u.ncond = 2;
	u.cond[0].type = "Available";
	if (avail >= want - unavail) {
		u.cond[0].status = "True";
		u.cond[0].reason = "MinimumReplicasAvailable";
		snprintf(u.cond[0].message, sizeof(u.cond[0].message), "Deployment has minimum availability.");
	} else {
		u.cond[0].status = "False";
		u.cond[0].reason = "MinimumReplicasUnavailable";
		snprintf(u.cond[0].message, sizeof(u.cond[0].message), "Deployment does not have minimum availability.");
	}
	u.cond[1].type = "Progressing";
	u.cond[1].status = "True";
	if (updated == want && avail >= want && replicas == want) {
		u.cond[1].reason = "NewReplicaSetAvailable";
		snprintf(u.cond[1].message, sizeof(u.cond[1].message), "ReplicaSet \"%.250s\" has successfully progressed.",
			 rsname);
	} else {
		u.cond[1].reason = "ReplicaSetUpdated";
		snprintf(u.cond[1].message, sizeof(u.cond[1].message), "ReplicaSet \"%.250s\" is progressing.", rsname);
	}
	kp_kcm__write_status(C, CK_DEPLOY, kp_kobj_str(md, "namespace"), kp_kobj_str(md, "name"), &u);
}

/* Deletes old, empty ReplicaSets beyond revisionHistoryLimit. */
static void cleanup(struct kp_kcm *C, const json_t *d, struct rs_ref *old, size_t nold)
{
	int64_t limit = kp_kobj_int(json_object_get(d, "spec"), "revisionHistoryLimit", 10), empty = 0;
	for (size_t i = 0; i < nold; i++)
		empty += old[i].spec == 0 && kp_kobj_int(json_object_get(old[i].o, "status"), "replicas", 0) == 0;
	for (size_t i = 0; i < nold && empty > limit; i++) {
		const json_t *rmd = json_object_get(old[i].o, "metadata");
		struct kp_errbuf eb = { 0 };
		if (old[i].spec || kp_kobj_int(json_object_get(old[i].o, "status"), "replicas", 0))
			continue;
		char *ns = strdup(kp_kobj_str(rmd, "namespace")), *name = strdup(kp_kobj_str(rmd, "name"));
		if (ns && name)
			kp_kcm__delete(C, "apps", "replicasets", ns, name, &eb);
		free(ns);
		free(name);
		empty--;
	}
}

static int cmp_rev(const void *a, const void *b)
{
	const struct rs_ref *x = a, *y = b;
	if (x->rev != y->rev)
		return x->rev < y->rev ? -1 : 1;
	return cmp_created(a, b);
}

void kp_kcm__reconcile_deploy(struct kp_kcm *C, const char *key)
{
	struct kp_kcm__obj *e = kp_strmap_get(&C->objs[CK_DEPLOY], key);
	struct rs_ref *all, *nw = NULL, *old;
	struct kp_errbuf eb = { 0 };
	size_t nk = 0, n = 0, nold = 0;
	char hash[16];
	json_t *d;

	if (!e || kp_kcm__deleting(e->o))
		return;
	d = json_incref(e->o);
	const json_t *md = json_object_get(d, "metadata"), *spec = json_object_get(d, "spec");
	const char *ns = kp_kobj_str(md, "namespace"), *name = kp_kobj_str(md, "name"), *uid = kp_kobj_str(md, "uid");
	const json_t *tmpl = json_object_get(spec, "template"), *strategy = json_object_get(spec, "strategy");
	int64_t want = kp_kobj_int(spec, "replicas", 1), surge = 0, unavail = 0;
	bool recreate = kp_kobj_str(strategy, "type") && !strcmp(kp_kobj_str(strategy, "type"), "Recreate");
	bool paused = json_is_true(json_object_get(spec, "paused"));

	if (kp_kcm_fenceposts(strategy, want, &surge, &unavail, &eb)) {
		fprintf(stderr, "karpenter up: deployment %s: %s\n", key, eb.msg);
		surge = 0;
		unavail = want > 0 ? 1 : 0;
	}
	template_hash(tmpl, hash);
	all = calloc(MAX_RS + 1, sizeof(*all));
	old = calloc(MAX_RS + 1, sizeof(*old));
	if (!all || !old)
		goto out;
	struct kp_strmap *set = uid ? kp_strmap_get(&C->owned_rs, uid) : NULL;
	const char **keys = set ? kp_strmap_keys(set, &nk) : NULL;
	for (size_t i = 0; i < nk && n < MAX_RS; i++) {
		struct kp_kcm__obj *r = kp_strmap_get(&C->objs[CK_RS], keys[i]);
		const json_t *rmd, *rst;
		if (!r || kp_kcm__deleting(r->o))
			continue;
		rmd = json_object_get(r->o, "metadata");
		rst = json_object_get(r->o, "status");
		all[n].o = json_incref(r->o);   /* writes below may drop it from the cache */
		snprintf(all[n].key, sizeof(all[n].key), "%s", keys[i]);
		all[n].rev = revision_of(r->o);
		all[n].spec = kp_kobj_int(json_object_get(r->o, "spec"), "replicas", 1);
		all[n].avail = kp_kobj_int(rst, "availableReplicas", 0);
		if (kp_kobj_str(rmd, "creationTimestamp"))
			kp_parse_rfc3339(kp_kobj_str(rmd, "creationTimestamp"), &all[n].created);
		n++;
	}
	free(keys);
	qsort(all, n, sizeof(*all), cmp_created);
	/* the new ReplicaSet: same template, ignoring the hash label; the
	 * oldest such one wins (FindNewReplicaSet) */
	for (size_t i = 0; i < n && !nw; i++)
		if (same_template(json_object_get(json_object_get(all[i].o, "spec"), "template"), tmpl))
			nw = &all[i];
	/* templates that differ only by defaulting (objects written around
	 * the API): the ReplicaSet this template's hash names */
	for (size_t i = 0; i < n && !nw; i++) {
		const char *h = kp_kobj_str(json_object_get(json_object_get(all[i].o, "metadata"), "labels"),
					     "pod-template-hash");
		if (h && !strcmp(h, hash))
			nw = &all[i];
	}
	int64_t max_old = 0;
	for (size_t i = 0; i < n; i++)
		if (&all[i] != nw && all[i].rev > max_old)
			max_old = all[i].rev;
	if (!nw && !paused) {
		int64_t total = 0;
		for (size_t i = 0; i < n; i++)
			total += all[i].spec;
		int64_t start = recreate ? 0 : kp_kcm_rollout_new_replicas(want, surge, total, 0);
		bool none_old = total == 0;
		create_rs(C, d, hash, none_old ? want : start, rs_annotations(d, max_old + 1, want, surge, NULL));
		goto status;   /* the next event brings the new ReplicaSet */
	}
	if (nw) {
		/* a ReplicaSet brought back (rollout undo) becomes the newest revision */
		int64_t rev = nw->rev > max_old ? nw->rev : max_old + 1;
		json_t *ann = rs_annotations(d, rev, want, surge, nw->rev != rev ? nw->o : NULL);
		const json_t *rmd = json_object_get(nw->o, "metadata");
		set_annotations(C, "apps", "replicasets", ns, kp_kobj_str(rmd, "name"), ann);
		nw->rev = rev;
		char num[32];
		snprintf(num, sizeof(num), "%lld", (long long)rev);
		json_t *da = json_object();
		json_object_set_new(da, REV, json_string(num));
		set_annotations(C, "apps", "deployments", ns, name, da);
	}
	for (size_t i = 0; i < n; i++)
		if (&all[i] != nw)
			old[nold++] = all[i];
	if (nw && !paused)
		rollout(C, d, nw, old, nold, want, surge, unavail, recreate);
	else if (nw && paused && nold == 0)
		scale(C, d, nw, want);
	qsort(old, nold, sizeof(*old), cmp_rev);
	cleanup(C, d, old, nold);
status:;
	int64_t replicas = 0, ready = 0, avail = 0, updated = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *st = json_object_get(all[i].o, "status");
		if (nw == &all[i])
			updated = kp_kobj_int(st, "replicas", 0);
		replicas += kp_kobj_int(st, "replicas", 0);
		ready += kp_kobj_int(st, "readyReplicas", 0);
		avail += kp_kobj_int(st, "availableReplicas", 0);
	}
	char rsname[300];
	if (nw)
		snprintf(rsname, sizeof(rsname), "%s", kp_kobj_str(json_object_get(nw->o, "metadata"), "name"));
	else
		snprintf(rsname, sizeof(rsname), "%s-%s", name, hash);
	set_status(C, d, rsname, want, unavail, replicas, updated, ready, avail);
out:
	for (size_t i = 0; all && i < n; i++)
		json_decref((json_t *)all[i].o);
	free(all);
	free(old);
	json_decref(d);
}
