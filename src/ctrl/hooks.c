/*
 * hooks.c - wires the disruption, expiration, termination, garbage
 * collection, NodePool status and pod-events controllers into the
 * operator (see ext_int.h), and the helpers they share: finding a Node's
 * NodeClaim and back, the karpenter.sh/disrupted taint, NodeClaim status
 * conditions, finalizers and timestamps.
 *
 * Invariants: everything runs on the operator's loop thread; nothing here
 * acts unless the controllers run (c->controllers_on); informer events only
 * enqueue work (no API call happens inside a callback). Every write is a
 * conflict-retried read-modify-write of the live object, so a stale cache
 * never overwrites newer state.
 * Cost: an event is O(1) apart from the Node-to-NodeClaim match (O(claims));
 * a taint or condition write is one GET and one PUT (more on conflicts).
 */
#include <stdlib.h>
#include <string.h>

#include "ctrl/ext_int.h"
#include "karpenter/labels.h"

/* ---- timings ---- */

static int64_t env_ms(const char *name, int64_t def)
{
	const char *v = getenv(name);
	int64_t ms;

	if (!v || !*v || kp_parse_duration_ms(v, &ms) || ms <= 0)
		return def;
	return ms;
}

static void sublog(struct kp_ctrl *c, struct kp_log *l, struct kp_log_field *f, const char *name)
{
	f[0] = kp_log_str("controller", name);
	*l = c->log;
	l->base = f;
	l->nbase = 1;
}

kp_err kp_ctrl__ext_new(struct kp_ctrl *c, struct kp_errbuf *eb)
{
	struct kp_ctrl__ext *x = calloc(1, sizeof(*x));
	kp_err rc;

	if (!x)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	c->ext = x;
	x->disrupt_poll_ms = env_ms("KARPENTER_DISRUPTION_POLL", 10000);
	x->validation_ms = env_ms("KARPENTER_DISRUPTION_VALIDATION_DELAY", 15000);
	x->replace_timeout_ms = env_ms("KARPENTER_DISRUPTION_REPLACE_TIMEOUT", 10 * 60 * 1000);
	x->gc_period_ms = env_ms("KARPENTER_GC_PERIOD", 2 * 60 * 1000);
	x->gc_grace_ms = env_ms("KARPENTER_GC_INSTANCE_GRACE", 30000);
	sublog(c, &x->log_dis, x->lf_dis, "disruption");
	sublog(c, &x->log_exp, x->lf_exp, "nodeclaim.expiration");
	sublog(c, &x->log_term, x->lf_term, "node.termination");
	sublog(c, &x->log_gc, x->lf_gc, "nodeclaim.garbagecollection");
	sublog(c, &x->log_np, x->lf_np, "nodepool.status");
	sublog(c, &x->log_pe, x->lf_pe, "nodeclaim.podevents");
	kp_ctrl__queue_init(&x->expiration, c, "nodeclaim.expiration", kp_ctrl__expiration_reconcile);
	kp_ctrl__queue_init(&x->termination, c, "node.termination", kp_ctrl__term_reconcile);
	kp_ctrl__queue_init(&x->nodepools, c, "nodepool.status", kp_ctrl__np_reconcile);
	kp_ctrl__queue_init(&x->podevents, c, "nodeclaim.podevents", kp_ctrl__pe_reconcile);
	sublog(c, &x->log_rep, x->lf_rep, "node.health");
	kp_ctrl__queue_init(&x->repair, c, "node.health", kp_ctrl__repair_reconcile);
	sublog(c, &x->log_nc, x->lf_nc, "nodeclass.status");
	sublog(c, &x->log_intr, x->lf_intr, "interruption");
	sublog(c, &x->log_drift, x->lf_drift, "nodeclaim.disruption");
	kp_ctrl__queue_init(&x->nodeclasses, c, "nodeclass.status", kp_ctrl__nc_reconcile);
	x->nc_gen = json_object();
	x->nc_wait = json_object();
	x->drift_poll_ms = env_ms("KARPENTER_DRIFT_POLL", 5 * 60 * 1000);
	sublog(c, &x->log_tag, x->lf_tag, "nodeclaim.tagging");
	kp_ctrl__queue_init(&x->tagging, c, "nodeclaim.tagging", kp_ctrl__tag_reconcile);
	x->evict_backoff = json_object();
	x->drain_start = json_object();
	if (!x->evict_backoff || !x->drain_start)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	if ((rc = kp_ctrl__dis_new(c, eb)))
		return rc;
	return KP_OK;
}

static void enqueue_all(struct kp_ctrl *c, enum kp_ctrl__inf kind, struct kp_ctrl__queue *q)
{
	json_t **all = NULL;
	size_t n = 0;

	if (!c->inf[kind] || kp_informer_list(c->inf[kind], NULL, &all, &n, NULL))
		return;
	for (size_t i = 0; i < n; i++)
		kp_ctrl__queue_add(q, kp_ctrl__ext_name(all[i]), 0);
	free(all);
}

void kp_ctrl__ext_start(struct kp_ctrl *c)
{
	struct kp_ctrl__ext *x = c->ext;

	if (!x)
		return;
	enqueue_all(c, KPC_NODECLAIMS, &x->expiration);
	enqueue_all(c, KPC_NODES, &x->termination);
	if (c->o.node_repair)
		enqueue_all(c, KPC_NODES, &x->repair);
	enqueue_all(c, KPC_NODEPOOLS, &x->nodepools);
	enqueue_all(c, KPC_NODECLASSES, &x->nodeclasses);
	enqueue_all(c, KPC_NODECLAIMS, &x->tagging);
	kp_ctrl__intr_start(c);
	kp_ctrl__drift_start(c);
	kp_ctrl__dis_start(c);
	kp_ctrl__gc_start(c);
	kp_ctrl__np_start(c);
}

void kp_ctrl__ext_stop(struct kp_ctrl *c)
{
	if (!c->ext)
		return;
	kp_ctrl__dis_stop(c);
	kp_ctrl__gc_stop(c);
	kp_ctrl__np_stop(c);
	kp_ctrl__intr_stop(c);
	kp_ctrl__drift_stop(c);
}

void kp_ctrl__ext_free(struct kp_ctrl *c)
{
	struct kp_ctrl__ext *x = c->ext;

	if (!x)
		return;
	kp_ctrl__ext_stop(c);
	kp_ctrl__dis_free(c);
	kp_ctrl__queue_free(&x->expiration);
	kp_ctrl__queue_free(&x->termination);
	kp_ctrl__queue_free(&x->nodepools);
	kp_ctrl__queue_free(&x->podevents);
	kp_ctrl__queue_free(&x->repair);
	kp_ctrl__queue_free(&x->nodeclasses);
	kp_ctrl__queue_free(&x->tagging);
	json_decref(x->nc_gen);
	json_decref(x->nc_wait);
	kp_ctrl__drift_free(c);
	json_decref(x->evict_backoff);
	json_decref(x->drain_start);
	free(x);
	c->ext = NULL;
}

void kp_ctrl__ext_event(struct kp_ctrl *c, enum kp_ctrl__inf kind, const json_t *old, json_t *obj, bool deleted)
{
	struct kp_ctrl__ext *x = c->ext;
	const char *name = kp_ctrl__jstr(obj, "metadata.name");

	if (!x || !c->controllers_on || !name)
		return;
	switch (kind) {
	case KPC_PODS:
		kp_ctrl__pe_pod_event(c, old, obj, deleted);
		kp_ctrl__term_pod_event(c, obj);
		if (deleted || !old || kp_strcmp0(kp_ctrl__jstr(old, "spec.nodeName"), kp_ctrl__jstr(obj, "spec.nodeName")) != 0)
			kp_ctrl__dis_trigger(c);
		break;
	case KPC_NODES:
		if (!deleted && kp_ctrl__jget(obj, "metadata.deletionTimestamp"))
			kp_ctrl__queue_add(&x->termination, name, 0);
		if (!deleted && c->o.node_repair)
			kp_ctrl__queue_add(&x->repair, name, 0);
		if (!old || deleted)
			kp_ctrl__dis_trigger(c);
		break;
	case KPC_NODECLAIMS: {
		const char *pool = json_string_value(json_object_get(kp_ctrl__jget(obj, "metadata.labels"), KP_LABEL_NODEPOOL));
		if (!deleted)
			kp_ctrl__queue_add(&x->expiration, name, 0);
		kp_ctrl__tag_event(c, obj, deleted);
		kp_ctrl__ncterm_claim_event(c, obj, deleted);
		if (pool)
			kp_ctrl__queue_add(&x->nodepools, pool, 0);
		kp_ctrl__dis_trigger(c);
		break;
	}
	case KPC_NODEPOOLS:
		if (!deleted)
			kp_ctrl__queue_add(&x->nodepools, name, 0);
		kp_ctrl__dis_trigger(c);
		break;
	case KPC_NODECLASSES:
		enqueue_all(c, KPC_NODEPOOLS, &x->nodepools);
		kp_ctrl__nc_event(c, old, obj, deleted);
		break;
	case KPC_PDBS:
		kp_ctrl__dis_trigger(c);
		break;
	default:
		break;
	}
}

/* ---- shared helpers ---- */

const char *kp_ctrl__ext_name(const json_t *obj)
{
	const char *n = kp_ctrl__jstr(obj, "metadata.name");
	return n ? n : "";
}

int64_t kp_ctrl__ext_time_ms(const json_t *obj, const char *path)
{
	const char *s = kp_ctrl__jstr(obj, path);
	int64_t t = 0;

	if (!s || kp_parse_rfc3339(s, &t))
		return 0;
	return t * 1000;
}

bool kp_ctrl__ext_node_has_taint(const json_t *node, const char *key, const char *effect)
{
	json_t *t;
	size_t i;

	json_array_foreach(kp_ctrl__jget(node, "spec.taints"), i, t) {
		const char *k = json_string_value(json_object_get(t, "key"));
		const char *e = json_string_value(json_object_get(t, "effect"));
		if (k && strcmp(k, key) == 0 && (!effect || (e && strcmp(e, effect) == 0)))
			return true;
	}
	return false;
}

json_t *kp_ctrl__ext_claim_for_node(struct kp_ctrl *c, const json_t *node)
{
	const char *pid = kp_ctrl__jstr(node, "spec.providerID"), *nname = kp_ctrl__jstr(node, "metadata.name");
	json_t **all = NULL, *found = NULL;
	size_t n = 0;

	if (kp_informer_list(c->inf[KPC_NODECLAIMS], NULL, &all, &n, NULL))
		return NULL;
	for (size_t i = 0; i < n && !found; i++) {
		const char *p = kp_ctrl__jstr(all[i], "status.providerID");
		if (pid && *pid && p && strcmp(p, pid) == 0)
			found = all[i];
	}
	for (size_t i = 0; i < n && !found && nname; i++) {
		const char *nn = kp_ctrl__jstr(all[i], "status.nodeName");
		const char *p = kp_ctrl__jstr(all[i], "status.providerID");
		if (nn && strcmp(nn, nname) == 0 && (!p || !pid || strcmp(p, pid) == 0))
			found = all[i];
	}
	free(all);
	return found;
}

json_t *kp_ctrl__ext_node_for_claim(struct kp_ctrl *c, const json_t *claim)
{
	const char *pid = kp_ctrl__jstr(claim, "status.providerID");
	json_t **all = NULL, *found = NULL;
	size_t n = 0;

	if (!pid || !*pid || kp_informer_list(c->inf[KPC_NODES], NULL, &all, &n, NULL))
		return NULL;
	for (size_t i = 0; i < n && !found; i++) {
		const char *p = kp_ctrl__jstr(all[i], "spec.providerID");
		if (p && strcmp(p, pid) == 0)
			found = all[i];
	}
	free(all);
	return found;
}

struct taint_ud {
	bool add, exclude_lb;
	bool changed;                     /* out: the last attempt wrote */
};

static int taint_fn(void *ud, json_t *node, struct kp_errbuf *eb)
{
	struct taint_ud *t = ud;
	json_t *spec = json_object_get(node, "spec"), *taints, *meta = json_object_get(node, "metadata");
	bool changed = false;
	size_t i = 0;

	(void)eb;
	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(node, "spec", spec);
	}
	taints = json_object_get(spec, "taints");
	if (!json_is_array(taints)) {
		if (!t->add)
			return 1;
		taints = json_array();
		json_object_set_new(spec, "taints", taints);
	}
	while (i < json_array_size(taints)) {
		const char *k = json_string_value(json_object_get(json_array_get(taints, i), "key"));
		const char *e = json_string_value(json_object_get(json_array_get(taints, i), "effect"));
		bool ours = k && strcmp(k, KPC_DISRUPTED_TAINT) == 0;
		if (ours && t->add && e && strcmp(e, "NoSchedule") == 0)
			break;   /* already there */
		if (ours) {
			json_array_remove(taints, i);
			changed = true;
			continue;
		}
		i++;
	}
	if (t->add && i == json_array_size(taints)) {
		json_array_append_new(taints, json_pack("{s:s, s:s}", "key", KPC_DISRUPTED_TAINT, "effect", "NoSchedule"));
		changed = true;
	}
	if (t->add && t->exclude_lb) {
		json_t *labels = json_object_get(meta, "labels");
		const char *lk = "node.kubernetes.io/exclude-from-external-load-balancers";
		if (!json_is_object(labels)) {
			labels = json_object();
			json_object_set_new(meta, "labels", labels);
		}
		if (kp_strcmp0(json_string_value(json_object_get(labels, lk)), "karpenter") != 0) {
			json_object_set_new(labels, lk, json_string("karpenter"));
			changed = true;
		}
	}
	t->changed = changed;
	return changed ? 0 : 1;
}

int kp_ctrl__ext_taint(struct kp_ctrl *c, const struct kp_log *log, const char *node, bool add, bool exclude_lb)
{
	struct taint_ud t = { add, exclude_lb, false };
	struct kp_kube_status ks = { 0 };
	struct kp_errbuf eb = { 0 };
	json_t *out = NULL;

	if (kp_kube_retry_on_conflict(c->kc, &KP_KUBE_NODES, NULL, node, NULL, 0, taint_fn, &t, &out, &ks, &eb)) {
		if (kp_kube_is_notfound(&ks))
			return 1;
		kp_log_error(log, add ? "failed to taint node" : "failed to untaint node",
			     KP_LOG_FIELDS(kp_log_object("Node", node), kp_log_errmsg(eb.msg)));
		return -1;
	}
	if (t.changed)
		kp_log_info(log, add ? "tainted node" : "untainted node",
			    KP_LOG_FIELDS(kp_log_object("Node", node), kp_log_str("taint.Key", KPC_DISRUPTED_TAINT),
					  kp_log_str("taint.Effect", "NoSchedule")));
	json_decref(out);
	return 0;
}

struct cond_ud {
	struct kp_ctrl *c;
	const char *type, *status, *reason, *message;
};

static int cond_fn(void *ud, json_t *obj, struct kp_errbuf *eb)
{
	struct cond_ud *u = ud;
	json_t *st = json_object_get(obj, "status"), *conds;
	int64_t gen = json_integer_value(kp_ctrl__jget(obj, "metadata.generation"));

	(void)eb;
	if (!json_is_object(st)) {
		if (!u->status)
			return 1;
		st = json_object();
		json_object_set_new(obj, "status", st);
	}
	conds = json_object_get(st, "conditions");
	if (!json_is_array(conds)) {
		if (!u->status)
			return 1;
		conds = json_array();
		json_object_set_new(st, "conditions", conds);
	}
	if (!u->status) {
		for (size_t i = 0; i < json_array_size(conds); i++) {
			const char *t = json_string_value(json_object_get(json_array_get(conds, i), "type"));
			if (t && strcmp(t, u->type) == 0) {
				json_array_remove(conds, i);
				return 0;
			}
		}
		return 1;
	}
	{
		json_t *before = json_deep_copy(conds);
		bool same;
		kp_ctrl__condition_set(conds, u->type, u->status, u->reason, u->message, gen, kp_ctrl__wall(u->c));
		same = json_equal(before, conds);
		json_decref(before);
		return same ? 1 : 0;
	}
}

int kp_ctrl__ext_claim_condition(struct kp_ctrl *c, const struct kp_log *log, const char *claim, const char *type,
			    const char *status, const char *reason, const char *message)
{
	struct cond_ud u = { c, type, status, reason, message };
	struct kp_kube_status ks = { 0 };
	struct kp_errbuf eb = { 0 };

	if (kp_kube_retry_on_conflict(c->kc, &KP_KUBE_NODECLAIMS, NULL, claim, "status", 0, cond_fn, &u, NULL, &ks,
				      &eb)) {
		if (kp_kube_is_notfound(&ks))
			return 1;
		kp_log_error(log, "failed to update nodeclaim status",
			     KP_LOG_FIELDS(kp_log_object("NodeClaim", claim), kp_log_str("condition", type),
					   kp_log_errmsg(eb.msg)));
		return -1;
	}
	return 0;
}
