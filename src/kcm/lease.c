/*
 * lease.c - the kubelet stand-in's node Leases and the controllers'
 * timers and events.
 *
 * Leases: every Node the controllers know gets a Lease named after it in
 * kube-node-lease (holderIdentity the node, leaseDurationSeconds 40,
 * owned by the Node so it goes with it) as soon as it is seen, renewed
 * every 10 s (the kubelet's renew interval, a quarter of the duration) on
 * its own timer, as each kubelet does; renewals due within LEASE_BATCH_MS
 * are done together. Every renewal is a store write: above 200 nodes the
 * interval grows so that leases cost at most LEASE_WRITES_PER_S writes a
 * second (1,000 nodes: every 50 s), and leaseDurationSeconds stays four
 * intervals. The namespace is created when missing.
 *
 * Timers: a map of wake-ups (monotonic ms) for a kind's key (a CronJob's
 * next activation, a Job's TTL or deadline), a pod's end (podrun.c) or the
 * lease renewal; the loop calls kp_kcm__timers_fire when the earliest is
 * due.
 *
 * Events: core/v1 Events as client-go's recorder writes them, with
 * eventTime, action and reporting fields filled so that the
 * events.k8s.io/v1 view is valid too.
 *
 * Cost: one write per node every 10 s; timers O(timers) per firing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kcm/kcm_int.h"

#define LEASE_NS "kube-node-lease"
#define LEASE_RENEW_MS 10000
#define LEASE_WRITES_PER_S 20
#define LEASE_BATCH_MS 1000

/* ---- timers ---- */

struct kcm_timer {
	int what;
	int64_t due;
	char key[];
};

void kp_kcm__requeue_at(struct kp_kcm *C, int what, const char *key, int64_t due_ms)
{
	char tk[700];
	struct kcm_timer *t;

	snprintf(tk, sizeof(tk), "%d\x1f%s", what, key);
	t = kp_strmap_get(&C->timers, tk);
	if (t && t->due <= due_ms)
		return;
	if (!t) {
		t = malloc(sizeof(*t) + strlen(key) + 1);
		if (!t)
			return;
		t->what = what;
		memcpy(t->key, key, strlen(key) + 1);
		kp_kcm__map_put(&C->timers, tk, t);
	}
	t->due = due_ms;
	if (!C->next_timer || due_ms < C->next_timer)
		C->next_timer = due_ms;
}

static int64_t timers_next(struct kp_kcm *C)
{
	int64_t next = 0;
	KP_STRMAP_FOREACH(&C->timers, e) {
		const struct kcm_timer *t = e->val;
		if (!next || t->due < next)
			next = t->due;
	}
	return next;
}

void kp_kcm__timers_fire(struct kp_kcm *C)
{
	int64_t now = kp_kcm__now_ms();
	size_t nd = 0, cap = 0, nl = 0;
	char **due = NULL;
	const char **leases;

	/* lease renewals due within LEASE_BATCH_MS go now, together */
	KP_STRMAP_FOREACH(&C->timers, e) {
		const struct kcm_timer *t = e->val;
		if (t->due > now && !(t->what == KP_KCM__T_LEASES && t->due <= now + LEASE_BATCH_MS))
			continue;
		if (nd == cap) {
			char **d = realloc(due, (cap = cap ? cap * 2 : 16) * sizeof(*d));
			if (!d)
				break;
			due = d;
		}
		if (!(due[nd] = strdup(e->key)))
			break;
		nd++;
	}
	leases = calloc(nd + 1, sizeof(*leases));
	C->next_timer = 0;
	for (size_t i = 0; i < nd; i++) {
		struct kcm_timer *t = kp_strmap_del(&C->timers, due[i]);
		free(due[i]);
		due[i] = (char *)t;   /* now the timer itself */
	}
	for (size_t i = 0; i < nd; i++) {
		struct kcm_timer *t = (struct kcm_timer *)due[i];
		if (!t)
			continue;
		if (t->what >= 0 && t->what < CK_NKINDS)
			kp_kcm__mark(C, &C->dirty[t->what], t->key);
		else if (t->what == KP_KCM__T_POD_END)
			kp_kcm__pod_finish(C, t->key);
		else if (t->what == KP_KCM__T_LEASES && leases)
			leases[nl++] = t->key;
		else if (t->what == KP_KCM__T_LEASES)
			kp_kcm__lease(C, t->key);
	}
	if (nl)
		kp_kcm__leases(C, leases, nl);
	for (size_t i = 0; i < nd; i++)
		free(due[i]);
	free(due);
	free(leases);
	int64_t next = timers_next(C);
	if (next && (!C->next_timer || next < C->next_timer))
		C->next_timer = next;
}

void kp_kcm__timers_free(struct kp_kcm *C)
{
	KP_STRMAP_FOREACH(&C->timers, e)
		free(e->val);
	kp_strmap_free(&C->timers);
	C->next_timer = 0;
}

/* ---- events ---- */

static void micro_time(char *buf, size_t n)
{
	struct timespec ts;
	char base[40];
	clock_gettime(CLOCK_REALTIME, &ts);
	kp_format_rfc3339((int64_t)ts.tv_sec, base, sizeof(base));
	snprintf(buf, n, "%.19s.%06ldZ", base, ts.tv_nsec / 1000);
}

void kp_kcm__event(struct kp_kcm *C, const json_t *obj, const char *api_version, const char *kind, const char *type,
		   const char *reason, const char *msg, const char *component)
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *name = kp_kobj_str(md, "name"), *ns = kp_kobj_str(md, "namespace"), *uid = kp_kobj_str(md, "uid");
	struct kp_errbuf eb = { 0 };
	char ev_name[400], ts[40], mt[40];
	struct timespec now;
	json_t *ref, *ev;

	if (!name)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(ev_name, sizeof(ev_name), "%.240s.%llx", name,
		 (unsigned long long)now.tv_sec * 1000000000ull + (unsigned long long)now.tv_nsec);
	kp_kobj_now_rfc3339(ts, sizeof(ts));
	micro_time(mt, sizeof(mt));
	ref = json_pack("{s:s, s:s, s:s}", "apiVersion", api_version, "kind", kind, "name", name);
	if (ns)
		json_object_set_new(ref, "namespace", json_string(ns));
	if (uid)
		json_object_set_new(ref, "uid", json_string(uid));
	ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:i, s:s, s:s, s:s, s:s}",
		       "apiVersion", "v1", "kind", "Event", "metadata", "name", ev_name, "namespace", ns ? ns : "default",
		       "involvedObject", ref, "reason", reason, "message", msg, "type", type, "source", "component",
		       component, "firstTimestamp", ts, "lastTimestamp", ts, "count", 1, "eventTime", mt, "action", reason,
		       "reportingComponent", component, "reportingInstance", "karpenter-up");
	if (ev && kp_kcm__create(C, "", "v1", "events", ev, &eb) && eb.msg[0])
		fprintf(stderr, "karpenter up: event %s %s: %s\n", reason, name, eb.msg);
	json_decref(ev);
}

/* ---- node leases ---- */

struct renew_ud {
	const char *time;
	int64_t duration_s;
};

static int renew_fn(void *ud, json_t *lease)
{
	const struct renew_ud *u = ud;
	json_t *spec = kp_kobj_at(lease, "spec");
	json_object_set_new(spec, "renewTime", json_string(u->time));
	json_object_set_new(spec, "leaseDurationSeconds", json_integer(u->duration_s));
	return 0;
}

static void ensure_ns(struct kp_kcm *C)
{
	struct kp_store_key nk = { "", "namespaces", "", LEASE_NS };
	struct kp_errbuf eb = { 0 };
	char *have = NULL;

	if (C->lease_ns)
		return;
	if (kp_store_get(C->L->store, &nk, &have, NULL, NULL) != KP_STORE_OK) {
		json_t *ns = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
				       "name", LEASE_NS, "labels", "kubernetes.io/metadata.name", LEASE_NS);
		enum kp_store_rc rc = kp_kcm__create(C, "", "v1", "namespaces", ns, &eb);
		json_decref(ns);
		if (rc && rc != KP_STORE_EXISTS)
			return;
	}
	free(have);
	C->lease_ns = true;
}

/* The renew interval for the current number of nodes. */
static int64_t renew_ms(const struct kp_kcm *C)
{
	int64_t ms = (int64_t)C->nodes.n * 1000 / LEASE_WRITES_PER_S;
	return ms > LEASE_RENEW_MS ? ms : LEASE_RENEW_MS;
}

static json_t *new_lease(const struct kp_kcm__node *n, const char *mt, int64_t duration_s)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:[{s:s, s:s, s:s, s:s}]}, s:{s:s, s:i, s:s}}",
			 "apiVersion", "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
			 n->name, "namespace", LEASE_NS, "ownerReferences", "apiVersion", "v1", "kind",
			 "Node", "name", n->name, "uid", n->uid ? n->uid : "", "spec", "holderIdentity",
			 n->name, "leaseDurationSeconds", (int)duration_s, "renewTime", mt);
}

static void renew(struct kp_kcm *C, const struct kp_kcm__node *n, const char *mt)
{
	struct kp_store_key k = { "coordination.k8s.io", "leases", LEASE_NS, n->name };
	struct kp_errbuf eb = { 0 };
	struct renew_ud u = { mt, renew_ms(C) * 4 / 1000 };
	enum kp_store_rc rc = kp_apiserver_mutate(C->L, &k, renew_fn, &u, &eb);

	if (rc == KP_STORE_NOTFOUND) {
		json_t *lease = new_lease(n, mt, u.duration_s);
		rc = lease ? kp_kcm__create(C, "coordination.k8s.io", "v1", "leases", lease, &eb) : KP_STORE_FAIL;
		json_decref(lease);
	}
	if (rc && rc != KP_STORE_EXISTS)
		fprintf(stderr, "karpenter up: kubelet: lease of node %s: %s\n", n->name, eb.msg);
}

void kp_kcm__lease(struct kp_kcm *C, const char *node)
{
	kp_kcm__leases(C, &node, 1);
}

void kp_kcm__leases(struct kp_kcm *C, const char *const *nodes, size_t nn)
{
	struct kp_store_write *ws = calloc(nn + 1, sizeof(*ws));
	json_t **fresh = calloc(nn + 1, sizeof(*fresh));
	const struct kp_kcm__node **fresh_n = calloc(nn + 1, sizeof(*fresh_n));
	enum kp_store_rc *rcs = calloc(nn + 1, sizeof(*rcs));
	struct renew_ud u;
	struct kp_errbuf eb = { 0 };
	size_t nw = 0, nf = 0;
	char mt[40];

	if (!ws || !fresh || !fresh_n || !rcs)
		goto out;
	ensure_ns(C);
	micro_time(mt, sizeof(mt));
	u.time = mt;
	u.duration_s = renew_ms(C) * 4 / 1000;
	/* a draining node's kubelet keeps renewing; a Node that is gone takes its timer along */
	for (size_t i = 0; i < nn; i++) {
		const struct kp_kcm__node *n = kp_strmap_get(&C->nodes, nodes[i]);
		struct kp_store_key k = { "coordination.k8s.io", "leases", LEASE_NS, NULL };
		char *text = NULL;
		int64_t rv = 0;
		json_t *lease;
		enum kp_store_rc rc;

		if (!n || !n->n)
			continue;
		k.name = n->name;
		rc = kp_store_get(C->L->store, &k, &text, &rv, NULL);
		if (rc == KP_STORE_NOTFOUND) {
			if ((fresh[nf] = new_lease(n, mt, u.duration_s)))
				fresh_n[nf++] = n;
		} else if (rc == KP_STORE_OK && (lease = json_loads(text, 0, NULL))) {
			renew_fn(&u, lease);
			ws[nw] = (struct kp_store_write){ .op = KP_STORE_OP_UPDATE, .obj = lease, .expect_rv = rv };
			ws[nw++].key = (struct kp_store_key){ k.group, k.resource, k.ns, n->name };
		}
		free(text);
		kp_kcm__requeue_at(C, KP_KCM__T_LEASES, n->name, kp_kcm__now_ms() + renew_ms(C));
	}
	/* every renewal in one transaction, every new Lease in another */
	kp_kcm__write_batch(C, ws, nw, &eb);
	for (size_t i = 0; i < nw; i++) {
		const struct kp_kcm__node *n = kp_strmap_get(&C->nodes, ws[i].key.name);
		if (ws[i].rc != KP_STORE_OK && n)
			renew(C, n, mt);   /* changed or gone meanwhile: one at a time */
		json_decref(ws[i].obj);
	}
	kp_kcm__create_batch(C, "coordination.k8s.io", "v1", "leases", fresh, nf, rcs, &eb);
	for (size_t i = 0; i < nf; i++) {
		if (rcs[i] == KP_STORE_EXISTS)
			renew(C, fresh_n[i], mt);
		else if (rcs[i] != KP_STORE_OK)
			fprintf(stderr, "karpenter up: kubelet: lease of node %s: %s\n", fresh_n[i]->name,
				eb.msg[0] ? eb.msg : kp_store_rc_str(rcs[i]));
		json_decref(fresh[i]);
	}
out:
	free(ws);
	free(fresh);
	free(fresh_n);
	free(rcs);
}
