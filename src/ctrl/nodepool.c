/*
 * nodepool.c - NodePool status and hash: what Karpenter's nodepool.counter,
 * nodepool.validation, nodepool.readiness and nodepool.hash controllers
 * write, and the nodepool metrics.
 *
 * Mirrors Karpenter v1 pkg/controllers/nodepool: counter (status.resources
 * = cpu, memory, pods, ephemeral-storage and nodes, starting from zero,
 * plus the capacity of every NodeClaim of the pool, or of its Node when the
 * Node has no NodeClaim; status.nodes; revisited every 5 s), validation
 * (ValidationSucceeded: the same checks the loader applies, which are the
 * CRD's and the webhook's; an invalid pool gets False with the reason and
 * is left out of every snapshot, so the provisioner does not use it),
 * readiness (NodeClassReady from the referenced EC2NodeClass: NotFound,
 * Terminating, its Ready condition; a provider whose ops table says node
 * classes are optional (nodeclass_optional: the simulated cloud) needs none,
 * so there an unresolved or not-yet-reconciled class counts as ready),
 * the root Ready condition (ValidationSucceeded and NodeClassReady), hash
 * (annotations karpenter.sh/nodepool-hash and -hash-version on the
 * NodePool; the provisioner puts the same on each NodeClaim it creates;
 * after a hash-version change the pool's NodeClaims are rewritten first,
 * hash.c),
 * and pkg/controllers/metrics/nodepool (karpenter_nodepools_usage and
 * _limit per resource; _allowed_disruptions comes from the disruption
 * pass).
 *
 * Invariants: a write happens only when something changes, with the
 * object's resourceVersion (conflict-retried), so the status write's own
 * watch event is a no-op visit. Cost: a visit decodes the pool and the
 * pool's NodeClaims (O(claims + nodes) scan), at most two writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ext_int.h"
#include "karpenter/labels.h"
#include "karpenter/quantity.h"
#include "load/load.h"

#define REVISIT_MS 5000

struct np_status {
	struct kp_ctrl *c;
	json_t *resources;
	int64_t nodes;
	const char *valid_status, *valid_reason, *valid_msg;
	const char *nc_status, *nc_reason, *nc_msg;
	bool changed_validation;          /* out: ValidationSucceeded changed */
};

static const char *cond_status(const json_t *obj, const char *type)
{
	return json_string_value(json_object_get(kp_ctrl__condition(obj, type), "status"));
}

static int status_fn(void *ud, json_t *obj, struct kp_errbuf *eb)
{
	struct np_status *s = ud;
	json_t *st = json_object_get(obj, "status"), *before, *conds;
	int64_t gen = json_integer_value(kp_ctrl__jget(obj, "metadata.generation")), wall = kp_ctrl__wall(s->c);
	const char *ready = "True", *rreason = "Ready", *rmsg = "";
	char old_valid[16];
	int same;

	(void)eb;
	/* copied: kp_ctrl__condition_set below frees the old status string */
	snprintf(old_valid, sizeof(old_valid), "%s", cond_status(obj, "ValidationSucceeded") ? cond_status(obj, "ValidationSucceeded") : "");
	if (!json_is_object(st)) {
		st = json_object();
		json_object_set_new(obj, "status", st);
	}
	before = json_deep_copy(st);
	json_object_set(st, "resources", s->resources);
	json_object_set_new(st, "nodes", json_integer(s->nodes));
	conds = json_object_get(st, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(st, "conditions", conds);
	}
	kp_ctrl__condition_set(conds, "ValidationSucceeded", s->valid_status, s->valid_reason, s->valid_msg, gen, wall);
	kp_ctrl__condition_set(conds, "NodeClassReady", s->nc_status, s->nc_reason, s->nc_msg, gen, wall);
	if (strcmp(s->valid_status, "True") != 0) {
		ready = "False";
		rreason = s->valid_reason;
		rmsg = s->valid_msg;
	} else if (strcmp(s->nc_status, "True") != 0) {
		ready = "False";
		rreason = s->nc_reason;
		rmsg = s->nc_msg;
	}
	kp_ctrl__condition_set(conds, "Ready", ready, rreason, rmsg, gen, wall);
	s->changed_validation = strcmp(old_valid, s->valid_status) != 0;
	same = json_equal(before, st);
	json_decref(before);
	return same ? 1 : 0;
}

static void node_class_ready(struct kp_ctrl *c, const json_t *pool, struct np_status *s)
{
	const char *kind = kp_ctrl__jstr(pool, "spec.template.spec.nodeClassRef.kind");
	const char *name = kp_ctrl__jstr(pool, "spec.template.spec.nodeClassRef.name");
	bool optional = kp_cloud_nodeclass_optional(c->cloud_raw);
	json_t *nc = NULL;
	const char *rs;

	s->nc_status = "True";
	s->nc_reason = "NodeClassReady";
	s->nc_msg = "";
	if (kind && name && strcmp(kind, "EC2NodeClass") == 0 && c->inf[KPC_NODECLASSES])
		nc = kp_informer_get(c->inf[KPC_NODECLASSES], NULL, name);
	if (!nc) {
		if (optional)
			return;   /* the provider launches without one (the simulated cloud) */
		s->nc_status = "False";
		s->nc_reason = "NodeClassNotFound";
		s->nc_msg = "NodeClass not found on cluster";
		return;
	}
	if (kp_ctrl__jget(nc, "metadata.deletionTimestamp")) {
		s->nc_status = "False";
		s->nc_reason = "NodeClassTerminating";
		s->nc_msg = "NodeClass is Terminating";
		return;
	}
	rs = cond_status(nc, "Ready");
	if (rs && strcmp(rs, "False") == 0) {
		const char *r = json_string_value(json_object_get(kp_ctrl__condition(nc, "Ready"), "reason"));
		const char *m = json_string_value(json_object_get(kp_ctrl__condition(nc, "Ready"), "message"));
		s->nc_status = "False";
		s->nc_reason = r ? r : "NodeClassNotReady";
		s->nc_msg = m ? m : "";
	} else if ((!rs || strcmp(rs, "True") != 0) && !optional) {
		s->nc_status = "False";
		s->nc_reason = "NodeClassReadinessUnknown";
		s->nc_msg = "Node Class Readiness Unknown";
	}
}

static bool label_is(const json_t *obj, const char *key, const char *val)
{
	return kp_strcmp0(json_string_value(json_object_get(kp_ctrl__jget(obj, "metadata.labels"), key)), val) == 0;
}

/* Sum of the pool's claims' capacity (or nodes without claims) into out. */
static void usage(struct kp_ctrl *c, const char *pool, struct kp_res *out, int64_t *nodes)
{
	struct kp_cluster cl;
	struct kp_load_opts lo = { NULL, 0 };
	json_t **all = NULL;
	size_t n = 0, i;
	json_t *e;

	kp_res_zero(out);
	*nodes = 0;
	kp_cluster_init(&cl);
	cl.resnames = c->rn;
	if (!kp_informer_list(c->inf[KPC_NODECLAIMS], NULL, &all, &n, NULL)) {
		for (size_t k = 0; k < n; k++)
			if (label_is(all[k], KP_LABEL_NODEPOOL, pool))
				kp_load_object(&cl, all[k], "NodeClaim", "karpenter.sh/v1", "NodeClaim", &lo, NULL);
		free(all);
	}
	json_array_foreach(c->created, i, e)
		if (label_is(e, KP_LABEL_NODEPOOL, pool) && !kp_informer_get(c->inf[KPC_NODECLAIMS], NULL, kp_ctrl__ext_name(e)))
			kp_load_object(&cl, e, "NodeClaim", "karpenter.sh/v1", "NodeClaim", &lo, NULL);
	all = NULL;
	if (!kp_informer_list(c->inf[KPC_NODES], NULL, &all, &n, NULL)) {
		for (size_t k = 0; k < n; k++)
			if (label_is(all[k], KP_LABEL_NODEPOOL, pool))
				kp_load_object(&cl, all[k], "Node", "v1", "Node", &lo, NULL);
		free(all);
	}
	kp_cluster_link(&cl);
	for (int k = 0; k < cl.nclaims; k++) {
		kp_res_add(out, &cl.claims[k]->capacity);
		(*nodes)++;
	}
	for (int k = 0; k < cl.nnodes; k++) {
		if (cl.nodes[k]->claim)
			continue;
		kp_res_add(out, &cl.nodes[k]->capacity);
		(*nodes)++;
	}
	kp_cluster_free(&cl);
}

static void pool_metrics(struct kp_ctrl *c, const char *name, const struct kp_nodepool *np, const struct kp_res *use)
{
	for (int k = 0; k < c->rn.n && k < KP_RES_MAX; k++) {
		double scale = kp_res_scale(k) == KP_QTY_MILLI ? 1000.0 : 1.0;
		if (!c->rn.name[k][0])
			continue;
		if (c->m.nodepools_usage)
			kp_metrics_set(c->m.nodepools_usage, KP_LV(c->rn.name[k], name), (double)use->v[k] / scale);
		if (np && (np->limit_mask & (1u << k)) && c->m.nodepools_limit)
			kp_metrics_set(c->m.nodepools_limit, KP_LV(c->rn.name[k], name), (double)np->limits.v[k] / scale);
	}
}

static json_t *resources_json(struct kp_ctrl *c, const struct kp_res *use, int64_t nodes)
{
	static const char *const BASE[] = { "cpu", "memory", "pods", "ephemeral-storage" };
	json_t *r = kp_ctrl__reslist(&c->rn, use);
	char num[32];

	for (size_t i = 0; r && i < KP_ARRAY_LEN(BASE); i++)
		if (!json_object_get(r, BASE[i]))
			json_object_set_new(r, BASE[i], json_string("0"));
	snprintf(num, sizeof(num), "%lld", (long long)nodes);
	if (r)
		json_object_set_new(r, "nodes", json_string(num));
	return r;
}

static void hash_annotations(struct kp_ctrl *c, const json_t *pool, const char *hash)
{
	json_t *ann = kp_ctrl__jget(pool, "metadata.annotations"), *patch;
	struct kp_kube_status ks;
	struct kp_errbuf eb = { 0 };

	/* hash/controller.go Reconcile: a hash-version change rewrites the
	 * pool's NodeClaims first (hash.c); on a failed write the pool keeps
	 * its old version, so the next visit (5 s) tries again */
	if (kp_strcmp0(json_string_value(json_object_get(ann, KPC_NODEPOOL_HASH_VERSION_ANN)), KPC_NODEPOOL_HASH_VERSION) != 0 &&
	    kp_ctrl__hash_claims(c, &c->ext->log_np, kp_ctrl__hash_claim_of_pool, kp_ctrl__ext_name(pool), KPC_NODEPOOL_HASH_ANN,
				 hash, KPC_NODEPOOL_HASH_VERSION_ANN, KPC_NODEPOOL_HASH_VERSION))
		return;
	if (kp_strcmp0(json_string_value(json_object_get(ann, KPC_NODEPOOL_HASH_ANN)), hash) == 0 &&
	    kp_strcmp0(json_string_value(json_object_get(ann, KPC_NODEPOOL_HASH_VERSION_ANN)), KPC_NODEPOOL_HASH_VERSION) == 0)
		return;
	patch = json_pack("{s:{s:{s:s, s:s}}}", "metadata", "annotations", KPC_NODEPOOL_HASH_ANN, hash,
			  KPC_NODEPOOL_HASH_VERSION_ANN, KPC_NODEPOOL_HASH_VERSION);
	if (kp_kube_patch(c->kc, &KP_KUBE_NODEPOOLS, NULL, kp_ctrl__ext_name(pool), KP_PATCH_MERGE, patch, NULL, NULL, &ks, &eb) &&
	    !kp_kube_is_notfound(&ks))
		kp_log_error(&c->ext->log_np, "failed to annotate nodepool",
			     KP_LOG_FIELDS(kp_log_object("NodePool", kp_ctrl__ext_name(pool)), kp_log_errmsg(eb.msg)));
	json_decref(patch);
}

int64_t kp_ctrl__np_reconcile(struct kp_ctrl *c, const char *name)
{
	json_t *pool = kp_informer_get(c->inf[KPC_NODEPOOLS], NULL, name);
	struct kp_cluster one;
	struct kp_load_opts lo = { NULL, 0 };
	struct kp_errbuf eb = { 0 };
	struct np_status s;
	struct kp_kube_status ks = { 0 };
	struct kp_errbuf web = { 0 };
	const struct kp_nodepool *np = NULL;
	struct kp_res use;
	char label[300];

	if (!pool) {
		if (c->m.nodepools_usage)
			kp_metrics_delete_matching(c->m.nodepools_usage, "nodepool", name);
		if (c->m.nodepools_limit)
			kp_metrics_delete_matching(c->m.nodepools_limit, "nodepool", name);
		if (c->m.nodepools_allowed_disruptions)
			kp_metrics_delete_matching(c->m.nodepools_allowed_disruptions, "nodepool", name);
		return -1;
	}
	if (kp_ctrl__jget(pool, "metadata.deletionTimestamp"))
		return -1;
	if (!atomic_load(&c->ready))
		return 1000;   /* counts need the synced caches */
	pool = json_incref(pool);
	memset(&s, 0, sizeof(s));
	s.c = c;
	kp_cluster_init(&one);
	one.resnames = c->rn;
	snprintf(label, sizeof(label), "NodePool/%s", name);
	if (kp_load_object(&one, pool, "NodePool", "karpenter.sh/v1", label, &lo, &eb) == KP_OK && one.npools == 1) {
		np = one.pools[0];
		s.valid_status = "True";
		s.valid_reason = "ValidationSucceeded";
		s.valid_msg = "";
		if (np->hash)
			hash_annotations(c, pool, np->hash);
		kp_ctrl__claim_drift(c, np);
	} else {
		s.valid_status = "False";
		s.valid_reason = "NodePoolValidationFailed";
		s.valid_msg = eb.msg[0] ? eb.msg : "invalid nodepool";
	}
	node_class_ready(c, pool, &s);
	usage(c, name, &use, &s.nodes);
	s.resources = resources_json(c, &use, s.nodes);
	pool_metrics(c, name, np, &use);
	if (s.resources &&
	    kp_kube_retry_on_conflict(c->kc, &KP_KUBE_NODEPOOLS, NULL, name, "status", 0, status_fn, &s, NULL, &ks, &web) &&
	    !kp_kube_is_notfound(&ks))
		kp_log_error(&c->ext->log_np, "failed to update nodepool status",
			     KP_LOG_FIELDS(kp_log_object("NodePool", name), kp_log_errmsg(web.msg)));
	else if (s.changed_validation && strcmp(s.valid_status, "True") != 0)
		kp_log_error(&c->ext->log_np, "nodepool validation failed",
			     KP_LOG_FIELDS(kp_log_object("NodePool", name), kp_log_errmsg(s.valid_msg)));
	json_decref(s.resources);
	kp_cluster_free(&one);
	json_decref(pool);
	return -1;
}

static void np_tick(void *ud)
{
	struct kp_ctrl *c = ud;
	json_t **all = NULL;
	size_t n = 0;

	if (!c->controllers_on)
		return;
	if (atomic_load(&c->ready) && !kp_informer_list(c->inf[KPC_NODEPOOLS], NULL, &all, &n, NULL)) {
		for (size_t i = 0; i < n; i++)
			kp_ctrl__queue_add(&c->ext->nodepools, kp_ctrl__ext_name(all[i]), 0);
		free(all);
	}
	kp_kube_timer_start(c->loop, &c->ext->np_timer, REVISIT_MS, np_tick, c);
}

void kp_ctrl__np_start(struct kp_ctrl *c)
{
	kp_kube_timer_start(c->loop, &c->ext->np_timer, REVISIT_MS, np_tick, c);
}

void kp_ctrl__np_stop(struct kp_ctrl *c)
{
	if (c->loop)
		kp_kube_timer_stop(c->loop, &c->ext->np_timer);
}
