/*
 * termination.c - the Node finalizer (karpenter.sh/termination): taint,
 * drain through the Eviction API, terminate the instance, let the Node go.
 *
 * Mirrors Karpenter v1 pkg/controllers/node/termination: controller.go
 * (finalize: delete the NodeClaim if it is not deleting yet; a NotReady
 * Node whose instance the cloud no longer knows loses its finalizer at
 * once; taint karpenter.sh/disrupted:NoSchedule and label
 * node.kubernetes.io/exclude-from-external-load-balancers; drain; set
 * Drained; delete the instance until the cloud says NotFound, setting
 * InstanceTerminating; remove the finalizer) and terminator/terminator.go,
 * eviction.go (the pods waited for: not terminal, not tolerating the
 * disrupted taint, not stuck terminating for over a minute, not mirror
 * pods; evicted in four groups, each only once the previous one is empty:
 * non-critical non-daemon, non-critical daemon, critical non-daemon,
 * critical daemon, critical meaning priority class system-cluster-critical
 * or system-node-critical; policy/v1 Evictions with the pod's UID as
 * precondition, 429 retried with exponential backoff 100 ms..10 s, 404 and
 * 409 meaning done; do-not-disrupt pods are not evicted but waited for;
 * with a termination deadline (the NodeClaim's
 * karpenter.sh/nodeclaim-termination-timestamp, deletion time +
 * spec.terminationGracePeriod) a pod whose own grace period no longer fits
 * before it is deleted with gracePeriodSeconds = the time left, at least 1,
 * bypassing PDBs and do-not-disrupt).
 *
 * The NodeClaim side (delete the Node, wait, delete the instance, remove
 * the claim's finalizer) is lifecycle.c's finalize.
 *
 * Invariants: a Node's finalizer is removed only after its pods are gone
 * (or the deadline passed) and its instance is NotFound (or it has no
 * NodeClaim, as in Karpenter). Every step is idempotent; a visit re-reads
 * the informer's copies. Cost: a visit lists the pod cache (O(pods)) and
 * makes at most one API call per pod to evict, plus a few writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ext_int.h"
#include "karpenter/labels.h"

#define DRAIN_POLL_MS 1000
#define INSTANCE_POLL_MS 5000
#define CALL_POLL_MS 200        /* a cloud call in flight: look again */
#define STUCK_TERMINATING_MS 60000
#define EVICT_BASE_MS 100
#define EVICT_MAX_MS 10000

/* ---- pods ---- */

static bool pod_tolerates_disrupted(const json_t *p)
{
	json_t *t;
	size_t i;

	json_array_foreach(kp_ctrl__jget(p, "spec.tolerations"), i, t) {
		const char *k = json_string_value(json_object_get(t, "key"));
		const char *op = json_string_value(json_object_get(t, "operator"));
		const char *v = json_string_value(json_object_get(t, "value"));
		const char *e = json_string_value(json_object_get(t, "effect"));
		bool exists = op && strcmp(op, "Exists") == 0;
		if (k && *k && strcmp(k, KPC_DISRUPTED_TAINT) != 0)
			continue;
		if ((!k || !*k) && !exists)
			continue;
		if (e && *e && strcmp(e, "NoSchedule") != 0)
			continue;
		if (!exists && v && *v)
			continue;
		return true;
	}
	return false;
}

static bool pod_mirror(const json_t *p)
{
	return json_object_get(kp_ctrl__jget(p, "metadata.annotations"), "kubernetes.io/config.mirror") != NULL;
}

static bool pod_critical(const json_t *p)
{
	const char *pc = kp_ctrl__jstr(p, "spec.priorityClassName");
	return pc && (strcmp(pc, "system-cluster-critical") == 0 || strcmp(pc, "system-node-critical") == 0);
}

/* karpenter.sh/do-not-disrupt: the model's rule (kp_pod_do_not_disrupt_value). */
static bool pod_do_not_disrupt(const json_t *p, int64_t wall)
{
	const char *v = json_string_value(json_object_get(kp_ctrl__jget(p, "metadata.annotations"), KP_ANN_DO_NOT_DISRUPT));

	return kp_pod_do_not_disrupt_value(v, kp_ctrl__ext_time_ms(p, "metadata.creationTimestamp"), wall);
}

static int64_t pod_grace_ms(const json_t *p)
{
	json_t *g = kp_ctrl__jget(p, "spec.terminationGracePeriodSeconds");
	return json_is_integer(g) ? json_integer_value(g) * 1000 : 30000;
}

/* needsForceDelete: the pod's grace no longer fits before the deadline. */
static bool needs_force_delete(const json_t *p, int64_t deadline, int64_t wall)
{
	if (!deadline)
		return false;
	if (kp_ctrl__jget(p, "metadata.deletionTimestamp"))
		return kp_ctrl__ext_time_ms(p, "metadata.deletionTimestamp") > deadline;
	return wall > deadline - pod_grace_ms(p);
}

/* ---- API calls ---- */

static bool force_delete(struct kp_ctrl *c, const json_t *p, int64_t deadline)
{
	const char *ns = kp_ctrl__jstr(p, "metadata.namespace"), *name = kp_ctrl__ext_name(p);
	int64_t grace = (deadline - kp_ctrl__wall(c)) / 1000;
	struct kp_kube_status ks = { 0 };
	struct kp_errbuf eb = { 0 };
	char path[1024];
	json_t *body;
	kp_err rc;

	if (grace < 1)
		grace = 1;
	if (kp_kube_path(&KP_KUBE_PODS, ns, name, NULL, path, sizeof(path), &eb))
		return false;
	body = json_pack("{s:s, s:s, s:I, s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1", "gracePeriodSeconds",
			 (json_int_t)grace, "preconditions", "uid", kp_ctrl__jstr(p, "metadata.uid") ? kp_ctrl__jstr(p, "metadata.uid") : "");
	rc = kp_kube_request(c->kc, "DELETE", path, "application/json", body, NULL, &ks, &eb);
	json_decref(body);
	if (rc && !kp_kube_is_notfound(&ks)) {
		kp_log_error(&c->ext->log_term, "failed to delete pod",
			     KP_LOG_FIELDS(kp_log_nsobject("Pod", ns, name), kp_log_errmsg(eb.msg)));
		return false;
	}
	kp_log_info(&c->ext->log_term, "deleting pod",
		    KP_LOG_FIELDS(kp_log_nsobject("Pod", ns, name), kp_log_int("delete.gracePeriodSeconds", grace),
				  kp_log_int("pod.terminationGracePeriodSeconds", pod_grace_ms(p) / 1000)));
	if (c->m.pods_drained_total)
		kp_metrics_inc(c->m.pods_drained_total, KP_LV("termination_grace_period"));
	return true;
}

/* Evicts p unless it is backing off. Returns the delay before it may be
 * tried again (0: evicted or gone). */
static int64_t evict(struct kp_ctrl *c, const json_t *p, const char *why)
{
	struct kp_ctrl__ext *x = c->ext;
	const char *ns = kp_ctrl__jstr(p, "metadata.namespace"), *name = kp_ctrl__ext_name(p);
	const char *uid = kp_ctrl__jstr(p, "metadata.uid");
	json_t *bo = uid ? json_object_get(x->evict_backoff, uid) : NULL;
	int64_t now = kp_ctrl__now(c), attempt = 0, wait;
	struct kp_kube_status ks = { 0 };
	struct kp_errbuf eb = { 0 };
	char code[16];

	if (bo) {
		int64_t next = json_integer_value(json_array_get(bo, 0));
		attempt = json_integer_value(json_array_get(bo, 1));
		if (now < next)
			return next - now;
	}
	if (!kp_kube_evict(c->kc, ns, name, &ks, &eb)) {
		if (uid)
			json_object_del(x->evict_backoff, uid);
		if (c->m.pods_eviction_requests_total)
			kp_metrics_inc(c->m.pods_eviction_requests_total, KP_LV("200"));
		if (c->m.pods_drained_total)
			kp_metrics_inc(c->m.pods_drained_total, KP_LV(why));
		kp_log_info(&x->log_term, "evicted pod",
			    KP_LOG_FIELDS(kp_log_nsobject("Pod", ns, name), kp_log_str("reason", why)));
		kp_ctrl__event(c, "Pod", "v1", ns, name, uid, "Normal", "Evicted", "Evicted pod");
		return 0;
	}
	snprintf(code, sizeof(code), "%ld", ks.code);
	if (c->m.pods_eviction_requests_total)
		kp_metrics_inc(c->m.pods_eviction_requests_total, KP_LV(code));
	if (kp_kube_is_notfound(&ks) || kp_kube_is_conflict(&ks)) {
		if (uid)
			json_object_del(x->evict_backoff, uid);
		return 0;
	}
	wait = EVICT_BASE_MS << (attempt < 7 ? attempt : 7);
	if (wait > EVICT_MAX_MS)
		wait = EVICT_MAX_MS;
	if (uid)
		json_object_set_new(x->evict_backoff, uid, json_pack("[I, I]", (json_int_t)(now + wait), (json_int_t)(attempt + 1)));
	if (ks.code == 429) {
		json_t *node = kp_informer_get(c->inf[KPC_NODES], NULL, kp_ctrl__jstr(p, "spec.nodeName"));
		char note[700];
		snprintf(note, sizeof(note), "Failed to drain node, evicting pod %s/%s violates a PDB", ns ? ns : "", name);
		if (node)
			kp_ctrl__event(c, "Node", "v1", NULL, kp_ctrl__ext_name(node), kp_ctrl__jstr(node, "metadata.uid"), "Warning",
				  "FailedDraining", note);
		kp_log_debug(&x->log_term, "eviction refused, retrying",
			     KP_LOG_FIELDS(kp_log_nsobject("Pod", ns, name), kp_log_errmsg(eb.msg),
					   kp_log_duration_ns("backoff", wait * 1000000)));
	} else {
		kp_log_error(&x->log_term, "failed to evict pod",
			     KP_LOG_FIELDS(kp_log_nsobject("Pod", ns, name), kp_log_errmsg(eb.msg)));
	}
	return wait;
}

/* Collects (with a reference) the cached pods bound to one node: the pod
 * cache may be compact, so only this node's pods are decoded and held. */
struct node_pods {
	const char *node;
	json_t **v;
	size_t n, cap;
	bool oom;
};

static int collect_node_pod(void *ud, json_t *pod)
{
	struct node_pods *np = ud;
	const char *pn = kp_ctrl__jstr(pod, "spec.nodeName");

	if (!pn || strcmp(pn, np->node) != 0)
		return 0;
	if (np->n == np->cap) {
		size_t cap = np->cap ? np->cap * 2 : 16;
		json_t **v = realloc(np->v, cap * sizeof(*v));
		if (!v) {
			np->oom = true;
			return 1;
		}
		np->v = v;
		np->cap = cap;
	}
	np->v[np->n++] = json_incref(pod);
	return 0;
}

static void node_pods_free(struct node_pods *np)
{
	for (size_t i = 0; i < np->n; i++)
		json_decref(np->v[i]);
	free(np->v);
}

/* Drains node: 0 when every pod waited for is gone, else the delay
 * before the next look. */
static int64_t drain(struct kp_ctrl *c, const json_t *node, int64_t deadline, const char *why, int *nwaiting)
{
	const char *nname = kp_ctrl__ext_name(node);
	struct node_pods np = { nname, NULL, 0, 0, false };
	json_t **all;
	size_t n;
	int64_t wall = kp_ctrl__wall(c), delay = 0;
	int waiting = 0, first = -1;
	unsigned char *group = NULL;

	*nwaiting = 0;
	if (kp_informer_foreach(c->inf[KPC_PODS], NULL, collect_node_pod, &np, NULL) || np.oom) {
		node_pods_free(&np);
		return DRAIN_POLL_MS;
	}
	all = np.v;
	n = np.n;
	group = calloc(n + 1, 1);
	if (!group) {
		node_pods_free(&np);
		return DRAIN_POLL_MS;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *p = all[i];
		const char *pn = kp_ctrl__jstr(p, "spec.nodeName");
		int64_t dts;
		group[i] = 0xff;
		if (!pn || strcmp(pn, nname) != 0 || kp_ctrl__pod_terminal(p) || pod_tolerates_disrupted(p) || pod_mirror(p))
			continue;
		dts = kp_ctrl__ext_time_ms(p, "metadata.deletionTimestamp");
		if (dts && wall > dts + STUCK_TERMINATING_MS)
			continue;
		waiting++;
		if (needs_force_delete(p, deadline, wall)) {
			if (!dts)
				force_delete(c, p, deadline);
			continue;
		}
		group[i] = (unsigned char)((pod_critical(p) ? 2 : 0) + (kp_ctrl__pod_daemon(p) ? 1 : 0));
		if (first < 0 || group[i] < first)
			first = group[i];
	}
	for (size_t i = 0; i < n && first >= 0; i++) {
		const json_t *p = all[i];
		int64_t d;
		if (group[i] != first || kp_ctrl__jget(p, "metadata.deletionTimestamp"))
			continue;
		if (pod_do_not_disrupt(p, wall))
			continue;   /* waited for, never evicted */
		d = evict(c, p, why);
		if (d > 0 && (delay == 0 || d < delay))
			delay = d;
	}
	free(group);
	node_pods_free(&np);
	*nwaiting = waiting;
	if (!waiting)
		return 0;
	return delay > 0 && delay < DRAIN_POLL_MS ? delay : DRAIN_POLL_MS;
}

/* ---- finalizer ---- */

static int64_t done(struct kp_ctrl *c, const json_t *node, const char *why)
{
	const char *name = kp_ctrl__ext_name(node);
	const char *pool = json_string_value(json_object_get(kp_ctrl__jget(node, "metadata.labels"), KP_LABEL_NODEPOOL));
	const char *zone = json_string_value(json_object_get(kp_ctrl__jget(node, "metadata.labels"), KP_LABEL_ZONE));
	int64_t wall = kp_ctrl__wall(c), del = kp_ctrl__ext_time_ms(node, "metadata.deletionTimestamp"),
		born = kp_ctrl__ext_time_ms(node, "metadata.creationTimestamp");
	struct kp_kube_status ks = { 0 };
	struct kp_errbuf eb = { 0 };

	if (kp_kube_retry_on_conflict(c->kc, &KP_KUBE_NODES, NULL, name, NULL, 0, kp_ctrl__drop_termination_finalizer, NULL, NULL, &ks, &eb) &&
	    !kp_kube_is_notfound(&ks)) {
		kp_log_error(&c->ext->log_term, "failed to remove finalizer",
			     KP_LOG_FIELDS(kp_log_object("Node", name), kp_log_errmsg(eb.msg)));
		return DRAIN_POLL_MS;
	}
	json_object_del(c->ext->drain_start, name);
	kp_log_info(&c->ext->log_term, "deleted node", KP_LOG_FIELDS(kp_log_object("Node", name), kp_log_str("reason", why)));
	if (c->m.nodes_terminated_total)
		kp_metrics_inc(c->m.nodes_terminated_total, KP_LV(pool ? pool : "", zone ? zone : ""));
	if (c->m.nodes_termination_duration_seconds && del)
		kp_metrics_observe(c->m.nodes_termination_duration_seconds, KP_LV(pool ? pool : ""),
				   (double)(wall - del) / 1000.0);
	if (c->m.nodes_lifetime_duration_seconds && born)
		kp_metrics_observe(c->m.nodes_lifetime_duration_seconds, KP_LV(pool ? pool : ""),
				   (double)(wall - born) / 1000.0);
	return -1;
}

/* The termination deadline (unix ms) or 0; annotates the claim when Karpenter would have. */
static int64_t termination_time(struct kp_ctrl *c, const json_t *claim)
{
	const char *ann = json_string_value(json_object_get(kp_ctrl__jget(claim, "metadata.annotations"), KPC_TERMINATION_TS_ANN));
	const char *tgp = kp_ctrl__jstr(claim, "spec.terminationGracePeriod");
	int64_t t = 0, ms, del;
	char ts[40];

	if (ann)
		return kp_parse_rfc3339(ann, &t) ? 0 : t * 1000;
	del = kp_ctrl__ext_time_ms(claim, "metadata.deletionTimestamp");
	if (!tgp || !del || kp_parse_duration_ms(tgp, &ms) || ms < 0)
		return 0;
	t = del + ms;
	kp_ctrl__time(t, ts, sizeof(ts));
	{
		json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", KPC_TERMINATION_TS_ANN, ts);
		struct kp_kube_status ks;
		struct kp_errbuf eb = { 0 };
		if (kp_kube_patch(c->kc, &KP_KUBE_NODECLAIMS, NULL, kp_ctrl__ext_name(claim), KP_PATCH_MERGE, patch, NULL, NULL,
				  &ks, &eb) && !kp_kube_is_notfound(&ks))
			kp_log_error(&c->ext->log_term, "failed to annotate nodeclaim",
				     KP_LOG_FIELDS(kp_log_object("NodeClaim", kp_ctrl__ext_name(claim)), kp_log_errmsg(eb.msg)));
		json_decref(patch);
	}
	return t;
}

int64_t kp_ctrl__term_reconcile(struct kp_ctrl *c, const char *name)
{
	struct kp_ctrl__ext *x = c->ext;
	json_t *node = kp_informer_get(c->inf[KPC_NODES], NULL, name), *claim;
	const char *pid, *why = "";
	const char *cname = NULL;
	int64_t deadline, delay;
	int waiting = 0;

	if (!node) {
		json_object_del(x->drain_start, name);
		return -1;
	}
	if (!kp_ctrl__jget(node, "metadata.deletionTimestamp") || !kp_ctrl__has_finalizer(node, KPC_TERMINATION_FINALIZER))
		return -1;
	node = json_incref(node);
	claim = kp_ctrl__ext_claim_for_node(c, node);
	if (!claim && !json_object_get(kp_ctrl__jget(node, "metadata.labels"), KP_LABEL_NODEPOOL)) {
		json_decref(node);
		return -1;   /* not a node Karpenter manages */
	}
	pid = kp_ctrl__jstr(node, "spec.providerID");
	if (claim) {
		claim = json_incref(claim);
		cname = kp_ctrl__ext_name(claim);
		why = json_string_value(json_object_get(kp_ctrl__condition(claim, "DisruptionReason"), "reason"));
		if (!why)
			why = "";
		if (!kp_ctrl__jget(claim, "metadata.deletionTimestamp")) {
			struct kp_kube_status ks;
			struct kp_errbuf eb = { 0 };
			if (kp_kube_delete(c->kc, &KP_KUBE_NODECLAIMS, NULL, cname, KP_PROPAGATE_DEFAULT, NULL, &ks, &eb) &&
			    !kp_kube_is_notfound(&ks)) {
				kp_log_error(&x->log_term, "failed to delete nodeclaim",
					     KP_LOG_FIELDS(kp_log_object("Node", name), kp_log_errmsg(eb.msg)));
				delay = DRAIN_POLL_MS;
				goto out;
			}
		}
	}
	if (!kp_ctrl__condition_true(node, "Ready") && pid && *pid) {
		/* the cloud calls run off the loop thread (launcher.c) */
		struct kp_ctrl__call *j;
		int r = kp_ctrl__call_poll(c, KP_CTRL_CALL_GET, NULL, pid, &j);
		enum kp_cloud_err e = KP_CLOUD_OK;

		if (r > 0) {
			delay = CALL_POLL_MS;
			goto out;
		}
		if (r == 0) {
			e = j->e;
			kp_ctrl__call_release(c, j);
		}
		if (e == KP_CLOUD_NOT_FOUND) {
			delay = done(c, node, "instance not found");
			goto out;
		}
	}
	deadline = claim ? termination_time(c, claim) : 0;
	if (kp_ctrl__ext_taint(c, &x->log_term, name, true, true) < 0) {
		delay = DRAIN_POLL_MS;
		goto out;
	}
	if (!json_object_get(x->drain_start, name))
		json_object_set_new(x->drain_start, name, json_integer(kp_ctrl__now(c)));
	delay = drain(c, node, deadline, *why ? why : "termination", &waiting);
	if (delay > 0) {
		if (claim && !kp_ctrl__condition(claim, "Drained"))
			kp_ctrl__ext_claim_condition(c, &x->log_term, cname, "Drained", "Unknown", "Draining", "Draining");
		goto out;
	}
	if (claim && !kp_ctrl__condition_true(claim, "Drained")) {
		kp_ctrl__ext_claim_condition(c, &x->log_term, cname, "Drained", "True", "Drained", "");
		if (c->m.nodes_drained_total) {
			const char *pool = json_string_value(json_object_get(kp_ctrl__jget(node, "metadata.labels"), KP_LABEL_NODEPOOL));
			kp_metrics_inc(c->m.nodes_drained_total, KP_LV(pool ? pool : ""));
		}
	}
	if (claim) {
		const char *cpid = kp_ctrl__jstr(claim, "status.providerID");
		if (cpid && *cpid) {
			struct kp_errbuf eb = { 0 };
			struct kp_ctrl__call *j;
			int r = kp_ctrl__call_poll(c, KP_CTRL_CALL_DELETE, NULL, cpid, &j);
			enum kp_cloud_err e;

			if (r) {
				delay = r > 0 ? CALL_POLL_MS : DRAIN_POLL_MS;
				goto out;
			}
			e = j->e;
			eb = j->eb;
			kp_ctrl__call_release(c, j);
			if (e != KP_CLOUD_NOT_FOUND) {
				if (e)
					kp_log_error(&x->log_term, "failed to terminate instance",
						     KP_LOG_FIELDS(kp_log_object("Node", name), kp_log_errmsg(eb.msg)));
				else if (!kp_ctrl__condition_true(claim, "InstanceTerminating"))
					kp_ctrl__ext_claim_condition(c, &x->log_term, cname, "InstanceTerminating", "True",
								"InstanceTerminating", "");
				delay = e ? DRAIN_POLL_MS : INSTANCE_POLL_MS;
				goto out;
			}
		}
	}
	delay = done(c, node, "drained");
out:
	json_decref(claim);
	json_decref(node);
	return delay;
}

void kp_ctrl__term_pod_event(struct kp_ctrl *c, const json_t *pod)
{
	const char *nn = kp_ctrl__jstr(pod, "spec.nodeName");
	json_t *node;

	if (!nn || !*nn)
		return;
	node = kp_informer_get(c->inf[KPC_NODES], NULL, nn);
	if (node && kp_ctrl__jget(node, "metadata.deletionTimestamp"))
		kp_ctrl__queue_add(&c->ext->termination, nn, 0);
}
