/*
 * pdb.c - the disruption controller of kube-controller-manager in `karpenter
 * up`: keeps every PodDisruptionBudget's status (expectedPods,
 * currentHealthy, desiredHealthy, disruptionsAllowed, disruptedPods,
 * observedGeneration, the DisruptionAllowed condition) current. The budget
 * arithmetic it shares with the eviction subresource lives in
 * src/apiserver/pdb.c (apiserver/pdb.h).
 *
 * The controller is one thread following the store's event stream into
 * two caches (pods: labels, controller reference, Ready, terminating;
 * budgets: their stored JSON). Only the pods of namespaces that have
 * budgets are kept (a namespace's pods are listed when it gets its first
 * budget and forgotten with its last), so pods elsewhere cost no parse. A pod, budget or workload event marks its
 * namespace dirty when the namespace has budgets; once events pause
 * (PDB_IDLE_MS, at most PDB_MAX_MS after the first) every budget of every
 * dirty namespace is recomputed, in key order, and its status written when
 * it changed:
 *  - expectedPods: the matching pods' count when minAvailable is an
 *    integer; otherwise (maxUnavailable, or a percentage) the sum of the
 *    spec.replicas of their controllers (a ReplicaSet's Deployment, a
 *    ReplicaSet, StatefulSet, ReplicationController), each counted once; a
 *    pod without such a controller counts as 1 (where the real controller
 *    would fail and allow no disruption);
 *  - currentHealthy: matching pods with Ready=True, not terminating and not
 *    in status.disruptedPods (an eviction that is not visible yet);
 *  - desiredHealthy: minAvailable, or expectedPods - maxUnavailable (>= 0);
 *    percentages rounded up;
 *  - disruptionsAllowed: currentHealthy - desiredHealthy, 0 when negative
 *    or when no pod is expected;
 *  - disruptedPods: entries whose pod still matches, is not terminating and
 *    was evicted less than 2 minutes ago; the controller wakes up when the
 *    oldest one expires;
 *  - the DisruptionAllowed condition (SufficientPods / InsufficientPods)
 *    and observedGeneration.
 * The status is computed inside a read-modify-write of the stored budget,
 * so an eviction's decrement is never overwritten by an older view.
 *
 * Cost: per event in a namespace with budgets one JSON parse and O(1) map work; per reconcile of a
 * namespace O(budgets + pods) plus one store read per distinct controller
 * when a budget needs the scale.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apiserver/pdb.h"
#include "apiserver/server.h"
#include "kcm/kcm_int.h"

#define PDB_IDLE_MS 50
#define PDB_MAX_MS 250
#define DISRUPTED_TIMEOUT_S 120   /* the controller's DeletionTimeout */

static int64_t wall_s(void)
{
	return (int64_t)time(NULL);
}




/* ----------------------------------------------------------- controller */

struct pdb_pod {
	char *ns, *name;
	json_t *labels;                          /* owned, may be NULL */
	char *ctl_kind, *ctl_name, *ctl_uid;     /* controller reference, or NULL */
	bool ready, deleting;
	int64_t rv;
};

struct kp_kcm__pdbc {
	struct kp_apiserver *L;
	pthread_t th;
	bool running;
	struct kp_store_watch *w;
	struct kp_strmap pods;     /* "ns/name" -> struct pdb_pod */
	struct kp_strmap pdbs;     /* "ns/name" -> json_t (stored budget, owned) */
	struct kp_strmap nscount;  /* namespace -> number of budgets (an intptr_t) */
	struct kp_strmap dirty;    /* namespaces to reconcile */
	int64_t batch_start, last_ev;
	int64_t recheck_at;         /* wall seconds: a disruptedPods entry expires (0: none) */
	bool syncing;               /* sync_all lists every pod itself */
};

static void pod_free(struct pdb_pod *p)
{
	if (!p)
		return;
	free(p->ns);
	free(p->name);
	json_decref(p->labels);
	free(p->ctl_kind);
	free(p->ctl_name);
	free(p->ctl_uid);
	free(p);
}

static char *dup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

static bool has_budgets(const struct kp_kcm__pdbc *P, const char *ns)
{
	return kp_strmap_get(&P->nscount, ns ? ns : "") != NULL;
}

static void mark(struct kp_kcm__pdbc *P, const char *ns)
{
	if (!has_budgets(P, ns))
		return;
	if (!P->dirty.n)
		P->batch_start = kp_kcm__now_ms();
	kp_kcm__map_put(&P->dirty, ns ? ns : "", (void *)1);
}

static void nscount_add(struct kp_kcm__pdbc *P, const char *ns, intptr_t d)
{
	intptr_t n = (intptr_t)kp_strmap_get(&P->nscount, ns) + d;
	if (n > 0)
		kp_kcm__map_put(&P->nscount, ns, (void *)n);
	else
		kp_strmap_del(&P->nscount, ns);
}

static bool same_str(const char *a, const char *b)
{
	return kp_strcmp0(a, b) == 0;
}

static void observe_pod(struct kp_kcm__pdbc *P, enum kp_store_evtype type, const char *ns, const char *name,
			const char *text, size_t len, int64_t rv)
{
	char key[600];
	struct pdb_pod *old, *p;
	json_t *o, *md;
	const json_t *ref;

	snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name ? name : "");
	old = kp_strmap_get(&P->pods, key);
	if (type != KP_EV_DELETED && !has_budgets(P, ns))
		return;   /* no budget can select it */
	if (type == KP_EV_DELETED) {
		if (old) {
			pod_free(kp_strmap_del(&P->pods, key));
			mark(P, ns);
		}
		return;
	}
	if (old && rv <= old->rv)
		return;
	if (!(o = json_loadb(text, len, 0, NULL)))
		return;
	if (!(p = calloc(1, sizeof(*p)))) {
		json_decref(o);
		return;
	}
	md = json_object_get(o, "metadata");
	p->ns = strdup(ns ? ns : "");
	p->name = strdup(name ? name : "");
	p->labels = json_incref(json_object_get(md, "labels"));
	if ((ref = kp_kobj_controller_ref(o))) {
		p->ctl_kind = dup0(kp_kobj_str(ref, "kind"));
		p->ctl_name = dup0(kp_kobj_str(ref, "name"));
		p->ctl_uid = dup0(kp_kobj_str(ref, "uid"));
	}
	p->ready = kp_apiserver_pdb_pod_ready(o);
	p->deleting = json_object_get(md, "deletionTimestamp") != NULL;
	p->rv = rv;
	json_decref(o);
	if (!p->ns || !p->name) {
		pod_free(p);
		return;
	}
	bool same_labels = old && (old->labels && p->labels ? json_equal(old->labels, p->labels) != 0
							       : !old->labels && !p->labels);
	bool changed = !old || !same_labels || old->ready != p->ready || old->deleting != p->deleting ||
		       !same_str(old->ctl_uid, p->ctl_uid);
	pod_free(kp_kcm__map_put(&P->pods, key, p));
	if (changed)
		mark(P, ns);
}

static enum kp_store_rc list_pods(struct kp_kcm__pdbc *P, const char *ns);

/* A namespace got its first budget: its pods join the cache. */
static void ns_pods_load(struct kp_kcm__pdbc *P, const char *ns)
{
	if (list_pods(P, ns) != KP_STORE_OK)
		fprintf(stderr, "karpenter up: disruption controller: cannot list the pods of namespace %s\n", ns);
}

/* A namespace lost its last budget: its pods leave the cache. */
static void ns_pods_drop(struct kp_kcm__pdbc *P, const char *ns)
{
	size_t n, len = strlen(ns);
	const char **keys = kp_strmap_keys(&P->pods, &n);

	for (size_t i = 0; keys && i < n; i++)
		if (strncmp(keys[i], ns, len) == 0 && keys[i][len] == '/')
			pod_free(kp_strmap_del(&P->pods, keys[i]));
	free(keys);
}

static void observe_pdb(struct kp_kcm__pdbc *P, enum kp_store_evtype type, const char *ns, const char *name,
			const char *text, size_t len)
{
	char key[600];
	json_t *old, *o = NULL;

	snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name ? name : "");
	if (type != KP_EV_DELETED && !(o = json_loadb(text, len, 0, NULL)))
		return;
	old = o ? kp_kcm__map_put(&P->pdbs, key, o) : kp_strmap_del(&P->pdbs, key);
	if (!old && o) {
		nscount_add(P, ns ? ns : "", 1);
		if ((intptr_t)kp_strmap_get(&P->nscount, ns ? ns : "") == 1 && !P->syncing)
			ns_pods_load(P, ns ? ns : "");
	} else if (old && !o) {
		nscount_add(P, ns ? ns : "", -1);
		if (!has_budgets(P, ns))
			ns_pods_drop(P, ns ? ns : "");
	}
	json_decref(old);
	if (o)
		mark(P, ns);
}

static void observe(struct kp_kcm__pdbc *P, enum kp_store_evtype type, const char *group, const char *resource,
		    const char *ns, const char *name, const char *text, size_t len, int64_t rv)
{
	if (!*group && !strcmp(resource, "pods"))
		observe_pod(P, type, ns, name, text, len, rv);
	else if (!strcmp(group, "policy") && !strcmp(resource, "poddisruptionbudgets"))
		observe_pdb(P, type, ns, name, text, len);
	else if ((!strcmp(group, "apps") && (!strcmp(resource, "replicasets") || !strcmp(resource, "deployments") ||
					      !strcmp(resource, "statefulsets"))) ||
		 (!*group && !strcmp(resource, "replicationcontrollers")))
		mark(P, ns);   /* the expected scale may change */
}

/* ---- one budget ---- */

struct scale_ent {
	char *uid;
	int64_t scale;      /* < 0: the controller has no scale we know */
};

struct recon {
	struct kp_kcm__pdbc *P;
	const char *ns;
	int64_t now;        /* wall seconds */
	int64_t recheck;    /* earliest expiry of a kept disruptedPods entry (0: none) */
	struct kp_strmap scales;   /* controller "kind/name" -> struct scale_ent */
};

/* spec.replicas (default 1) of the stored object, if its uid is uid. */
static bool replicas_of(struct kp_apiserver *L, const char *group, const char *resource, const char *ns, const char *name,
			const char *uid, int64_t *rep, json_t **obj)
{
	struct kp_store_key k = { group, resource, ns, name };
	char *text = NULL;
	json_t *o;
	const json_t *r;

	*obj = NULL;
	if (!name || kp_store_get(L->store, &k, &text, NULL, NULL) != KP_STORE_OK)
		return false;
	o = json_loads(text, 0, NULL);
	free(text);
	if (!o || (uid && !same_str(kp_kobj_str(json_object_get(o, "metadata"), "uid"), uid))) {
		json_decref(o);
		return false;
	}
	r = json_object_get(json_object_get(o, "spec"), "replicas");
	*rep = json_is_integer(r) ? json_integer_value(r) : 1;
	*obj = o;
	return true;
}

/* The controller (its uid into *uid, malloc'ed) and scale of pod p, like
 * the disruption controller's finders; false when it has none we know. */
static bool find_scale(struct recon *R, const struct pdb_pod *p, char **uid, int64_t *scale)
{
	struct kp_apiserver *L = R->P->L;
	json_t *o = NULL;
	bool ok = false;

	*uid = NULL;
	if (!p->ctl_kind || !p->ctl_name)
		return false;
	if (!strcmp(p->ctl_kind, "ReplicaSet")) {
		if (replicas_of(L, "apps", "replicasets", p->ns, p->ctl_name, p->ctl_uid, scale, &o)) {
			const json_t *ref = kp_kobj_controller_ref(o);
			json_t *d = NULL;
			if (ref && same_str(kp_kobj_str(ref, "kind"), "Deployment")) {
				if (replicas_of(L, "apps", "deployments", p->ns, kp_kobj_str(ref, "name"), kp_kobj_str(ref, "uid"), scale, &d)) {
					*uid = dup0(kp_kobj_str(ref, "uid"));
					ok = true;
				}
				json_decref(d);
			} else {
				*uid = dup0(p->ctl_uid);
				ok = true;
			}
		}
	} else if (!strcmp(p->ctl_kind, "StatefulSet")) {
		ok = replicas_of(L, "apps", "statefulsets", p->ns, p->ctl_name, p->ctl_uid, scale, &o);
		*uid = ok ? dup0(p->ctl_uid) : NULL;
	} else if (!strcmp(p->ctl_kind, "ReplicationController")) {
		ok = replicas_of(L, "", "replicationcontrollers", p->ns, p->ctl_name, p->ctl_uid, scale, &o);
		*uid = ok ? dup0(p->ctl_uid) : NULL;
	}
	json_decref(o);
	if (ok && !*uid)
		*uid = strdup("");
	return ok && *uid;
}

/* The expected pod count of a scale-based budget over pods (n of them). */
static int64_t expected_scale(struct recon *R, struct pdb_pod **pods, size_t n)
{
	struct kp_strmap seen = { 0 };
	int64_t total = 0;

	for (size_t i = 0; i < n; i++) {
		const struct pdb_pod *p = pods[i];
		char ck[700];
		struct scale_ent *e;

		snprintf(ck, sizeof(ck), "%s/%s/%s", p->ctl_kind ? p->ctl_kind : "", p->ctl_name ? p->ctl_name : "",
			 p->ctl_uid ? p->ctl_uid : "");
		e = p->ctl_kind ? kp_strmap_get(&R->scales, ck) : NULL;
		if (!e && p->ctl_kind && (e = calloc(1, sizeof(*e)))) {
			if (!find_scale(R, p, &e->uid, &e->scale)) {
				free(e->uid);
				e->uid = NULL;
				e->scale = -1;
			}
			kp_kcm__map_put(&R->scales, ck, e);
		}
		if (!e || e->scale < 0) {
			total++;    /* no controller with a scale: the pod itself */
			continue;
		}
		if (!kp_strmap_get(&seen, e->uid)) {
			kp_kcm__map_put(&seen, e->uid, (void *)1);
			total += e->scale;
		}
	}
	kp_strmap_free(&seen);
	return total;
}

/* Recomputes the status of the freshly read budget pdb; 0 to write, 1 when
 * nothing changed. */
static int status_fn(void *ud, json_t *pdb)
{
	struct recon *R = ud;
	struct kp_kcm__pdbc *P = R->P;
	const json_t *md = json_object_get(pdb, "metadata"), *spec = json_object_get(pdb, "spec");
	const json_t *sel = json_object_get(spec, "selector"), *oldst = json_object_get(pdb, "status");
	json_t *olddp = json_object_get(oldst, "disruptedPods"), *v, *st, *dp = json_object();
	struct pdb_pod **pods = NULL;
	size_t n = 0, nk;
	const char **keys = kp_strmap_keys(&P->pods, &nk);
	int64_t expected, healthy = 0, desired, allowed, gen = kp_kobj_int(md, "generation", 0);
	const char *k;
	char prefix[300], errmsg[300] = "";
	size_t pl;

	snprintf(prefix, sizeof(prefix), "%s/", R->ns);
	pl = strlen(prefix);
	pods = calloc(nk + 1, sizeof(*pods));
	for (size_t i = 0; pods && keys && i < nk; i++) {
		struct pdb_pod *p;
		if (strncmp(keys[i], prefix, pl) != 0)
			continue;
		p = kp_strmap_get(&P->pods, keys[i]);
		if (p && kp_kobj_selector_matches(sel, p->labels))
			pods[n++] = p;
	}
	free(keys);
	/* disruptedPods: still matching, not terminating, not expired */
	json_object_foreach(olddp, k, v) {
		char pk[600];
		struct pdb_pod *p;
		int64_t t;
		bool match = false;
		snprintf(pk, sizeof(pk), "%s%s", prefix, k);
		p = kp_strmap_get(&P->pods, pk);
		for (size_t i = 0; p && i < n && !match; i++)
			match = pods[i] == p;
		if (!match || p->deleting || !json_is_string(v) || kp_parse_rfc3339(json_string_value(v), &t))
			continue;
		if (t + DISRUPTED_TIMEOUT_S < R->now)
			continue;
		json_object_set(dp, k, v);
		if (!R->recheck || t + DISRUPTED_TIMEOUT_S + 1 < R->recheck)
			R->recheck = t + DISRUPTED_TIMEOUT_S + 1;
	}
	for (size_t i = 0; i < n; i++)
		if (pods[i]->ready && !pods[i]->deleting && !json_object_get(dp, pods[i]->name))
			healthy++;
	expected = kp_apiserver_pdb_needs_scale(spec) ? expected_scale(R, pods, n) : (int64_t)n;
	free(pods);
	if (kp_apiserver_pdb_compute(spec, expected, healthy, &desired, &allowed))
		snprintf(errmsg, sizeof(errmsg), "invalid minAvailable or maxUnavailable");

	st = json_object();
	json_object_set_new(st, "observedGeneration", json_integer(gen));
	json_object_set_new(st, "disruptionsAllowed", json_integer(allowed));
	json_object_set_new(st, "currentHealthy", json_integer(healthy));
	json_object_set_new(st, "desiredHealthy", json_integer(desired));
	json_object_set_new(st, "expectedPods", json_integer(expected));
	if (json_object_size(dp))
		json_object_set(st, "disruptedPods", dp);
	json_decref(dp);
	if (json_is_array(json_object_get(oldst, "conditions")))
		json_object_set_new(st, "conditions", json_deep_copy(json_object_get(oldst, "conditions")));
	kp_apiserver_pdb_set_allowed_cond(st, allowed > 0 && !errmsg[0], gen, errmsg[0] ? "SyncFailed" : NULL, errmsg);
	if (json_equal(st, oldst)) {
		json_decref(st);
		return 1;
	}
	json_object_set_new(pdb, "status", st);
	return 0;
}

static void reconcile_ns(struct kp_kcm__pdbc *P, const char *ns)
{
	struct recon R = { P, ns, wall_s(), 0, { 0 } };
	size_t nk, pl;
	const char **keys = kp_strmap_keys(&P->pdbs, &nk);
	char prefix[300];

	snprintf(prefix, sizeof(prefix), "%s/", ns);
	pl = strlen(prefix);
	for (size_t i = 0; keys && i < nk; i++) {
		struct kp_errbuf eb = { 0 };
		const char *name;
		if (strncmp(keys[i], prefix, pl) != 0 || strchr(keys[i] + pl, '/'))
			continue;
		name = keys[i] + pl;
		struct kp_store_key k = { "policy", "poddisruptionbudgets", ns, name };
		enum kp_store_rc rc = kp_apiserver_mutate(P->L, &k, status_fn, &R, &eb);
		if (rc && rc != KP_STORE_NOTFOUND && rc != KP_STORE_CLOSED)
			fprintf(stderr, "karpenter up: poddisruptionbudget %s/%s: %s\n", ns, name, eb.msg);
	}
	free(keys);
	KP_STRMAP_FOREACH(&R.scales, e) {
		struct scale_ent *s = e->val;
		free(s->uid);
		free(s);
	}
	kp_strmap_free(&R.scales);
	if (R.recheck && (!P->recheck_at || R.recheck < P->recheck_at))
		P->recheck_at = R.recheck;
}

static void reconcile_dirty(struct kp_kcm__pdbc *P)
{
	struct kp_strmap work = P->dirty;
	size_t n;
	const char **keys;

	memset(&P->dirty, 0, sizeof(P->dirty));
	keys = kp_strmap_keys(&work, &n);
	for (size_t i = 0; keys && i < n; i++)
		reconcile_ns(P, keys[i]);
	free(keys);
	kp_strmap_free(&work);
}

static void mark_all(struct kp_kcm__pdbc *P)
{
	size_t n;
	const char **keys = kp_strmap_keys(&P->nscount, &n);
	for (size_t i = 0; keys && i < n; i++)
		mark(P, keys[i]);
	free(keys);
}

/* ---- the loop ---- */

static void clear(struct kp_kcm__pdbc *P)
{
	KP_STRMAP_FOREACH(&P->pods, e)
		pod_free(e->val);
	kp_strmap_free(&P->pods);
	KP_STRMAP_FOREACH(&P->pdbs, e)
		json_decref(e->val);
	kp_strmap_free(&P->pdbs);
	kp_strmap_free(&P->nscount);
	kp_strmap_free(&P->dirty);
}

struct list_ud {
	struct kp_kcm__pdbc *P;
	const char *group, *resource;
};

static int list_fn(void *ud, const char *text, size_t len, int64_t rv)
{
	struct list_ud *u = ud;
	json_t *o = json_loadb(text, len, 0, NULL);
	const json_t *md = json_object_get(o, "metadata");
	const char *srv = kp_kobj_str(md, "resourceVersion");
	int64_t orv = 0;

	(void)rv;
	if (srv)
		kp_parse_i64(srv, &orv);
	if (md)
		observe(u->P, KP_EV_ADDED, u->group, u->resource, kp_kobj_str(md, "namespace"), kp_kobj_str(md, "name"), text, len, orv);
	json_decref(o);
	return 0;
}

/* Feeds the pods of ns (NULL: all) to the cache (events older than what it
 * holds are ignored later, so listing ahead of the watch is harmless). */
static enum kp_store_rc list_pods(struct kp_kcm__pdbc *P, const char *ns)
{
	struct list_ud lo = { P, "", "pods" };
	return kp_store_list(P->L->store, lo.group, lo.resource, ns, list_fn, &lo, NULL, NULL);
}

static enum kp_store_rc sync_all(struct kp_kcm__pdbc *P, struct kp_errbuf *eb)
{
	int64_t rv0 = kp_store_rv(P->L->store);
	struct list_ud lp = { P, "policy", "poddisruptionbudgets" };

	clear(P);
	kp_store_watch_close(P->w);
	P->w = NULL;
	P->syncing = true;
	kp_store_list(P->L->store, lp.group, lp.resource, NULL, list_fn, &lp, NULL, NULL);
	P->syncing = false;
	if (P->nscount.n)
		list_pods(P, NULL);
	mark_all(P);
	return kp_store_watch_open(P->L->store, NULL, NULL, NULL, rv0, &P->w, eb);
}

static void *pdb_main(void *arg)
{
	struct kp_kcm__pdbc *P = arg;

	for (;;) {
		struct kp_store_event ev;
		struct kp_errbuf eb = { 0 };
		int64_t now = kp_kcm__now_ms(), wait = 1000, due = 0;
		enum kp_store_rc rc;

		if (atomic_load(&P->L->stopping))
			break;
		if (P->dirty.n) {
			due = P->last_ev + PDB_IDLE_MS;
			if (P->batch_start + PDB_MAX_MS < due)
				due = P->batch_start + PDB_MAX_MS;
			wait = due > now ? due - now : 0;
		}
		if (P->recheck_at) {
			int64_t left = (P->recheck_at - wall_s()) * 1000;
			if (left < wait)
				wait = left > 0 ? left : 0;
		}
		rc = kp_store_watch_next(P->w, wait, &ev, &eb);
		if (rc == KP_STORE_OK) {
			observe(P, ev.type, ev.group, ev.resource, ev.ns, ev.name, ev.json, ev.len, ev.rv);
			P->last_ev = kp_kcm__now_ms();
			if (!P->dirty.n || P->last_ev < P->batch_start + PDB_MAX_MS)
				continue;
		} else if (rc == KP_STORE_CLOSED) {
			break;
		} else if (rc == KP_STORE_GONE) {
			if (sync_all(P, &eb)) {
				fprintf(stderr, "karpenter up: disruption controller: resync: %s\n", eb.msg);
				break;
			}
			continue;
		} else if (rc != KP_STORE_TIMEOUT) {
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			fprintf(stderr, "karpenter up: disruption controller: watch: %s\n", eb.msg);
			nanosleep(&ts, NULL);
		}
		if (P->recheck_at && wall_s() >= P->recheck_at) {
			P->recheck_at = 0;
			mark_all(P);
		}
		now = kp_kcm__now_ms();
		if (P->dirty.n && (now >= P->last_ev + PDB_IDLE_MS || now >= P->batch_start + PDB_MAX_MS))
			reconcile_dirty(P);
	}
	return NULL;
}

/* ----------------------------------------------------------- life cycle */

static void pdbc_free(struct kp_kcm__pdbc *P)
{
	kp_store_watch_close(P->w);
	clear(P);
	free(P);
}

kp_err kp_kcm__pdb_start(struct kp_apiserver *L, struct kp_kcm__pdbc **out, struct kp_errbuf *eb)
{
	struct kp_kcm__pdbc *P;

	*out = NULL;
	if (!(P = calloc(1, sizeof(*P))))
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	P->L = L;
	if (sync_all(P, eb)) {
		pdbc_free(P);
		return KP_ERR_IO;
	}
	if (pthread_create(&P->th, NULL, pdb_main, P) != 0) {
		pdbc_free(P);
		return kp_errf(eb, KP_ERR_IO, "disruption controller: cannot start thread");
	}
	P->running = true;
	*out = P;
	return KP_OK;
}

void kp_kcm__pdb_stop(struct kp_kcm__pdbc *P)
{
	if (!P)
		return;
	if (P->running)
		pthread_join(P->th, NULL);
	pdbc_free(P);
}
