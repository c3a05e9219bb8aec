/*
 * lifecycle.c - NodeClaim lifecycle: launch, registration, initialization,
 * liveness and the NodeClaim finalizer.
 *
 * Mirrors Karpenter v1 pkg/controllers/nodeclaim/lifecycle: controller.go
 * (finalizer, the order of the sub-reconcilers, finalize), launch.go
 * (cloudProvider.Create; PopulateNodeClaimDetails: provider labels under the
 * claim's, providerID, imageID, capacity, allocatable; insufficient capacity
 * or NodeClass-not-ready deletes the claim; other errors set Launched=False
 * LaunchFailed), registration.go (Node matched by providerID; finalizer
 * karpenter.sh/termination, owner reference, labels and annotations copied,
 * taints and startupTaints merged, karpenter.sh/unregistered removed,
 * karpenter.sh/registered=true; Registered, status.nodeName),
 * initialization.go (Node Ready, startup and ephemeral taints gone,
 * requested extended resources registered; karpenter.sh/initialized=true;
 * Initialized) and liveness.go (not launched within 5 min, or launched and
 * not registered within 15 min: delete).
 *
 * On insufficient capacity the claim is deleted and the provisioner is
 * triggered to retry (launch.go); which offerings failed is the provider's
 * knowledge: it marks exactly those unavailable (the AWS provider's
 * unavailableOfferings cache, pkg/cache; the simulated cloud's own) and
 * its instance types, hence the retry, skip them.
 *
 * Invariants: every step is idempotent and reads the informer's copy; a
 * status write carries the object's resourceVersion, so a stale copy fails
 * with a conflict and is retried rather than overwriting newer state. An
 * instance launched for a claim whose status write has not been observed
 * yet is remembered (c->launched) and reused, never launched twice; after
 * a restart the cloud's own list (tagged by NodeClaim name) is consulted
 * before launching. The Node finalizer (drain) is the termination
 * controller's: finalize waits for Nodes to go.
 * Cost: per visit O(nodes) to match a Node by providerID, plus at most a
 * few API writes and one cloud call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ctrl_int.h"
#include "karpenter/labels.h"
#include "karpenter/taints.h"
#include "load/load.h"

#define CTRL_NAME "nodeclaim.lifecycle"
#define RETRY_MS 1000
#define CONFLICT_RETRY_MS 200
#define DELETE_POLL_MS 1000
#define LAUNCH_POLL_MS 200

struct visit {
	struct kp_ctrl *c;
	json_t *obj;                      /* the NodeClaim (borrowed) */
	const char *name;
	struct kp_cluster cl;             /* decoded claim (and node) */
	struct kp_nodeclaim *nc;
	const struct kp_log *log;
	struct kp_log lg;
	struct kp_log_field lf[2];
};

static int64_t created_ms(const json_t *obj)
{
	int64_t t = 0;
	const char *s = kp_ctrl__jstr(obj, "metadata.creationTimestamp");
	if (!s || kp_parse_rfc3339(s, &t))
		return 0;
	return t * 1000;
}

static int64_t cond_time_ms(const json_t *obj, const char *type)
{
	int64_t t = 0;
	const char *s = json_string_value(json_object_get(kp_ctrl__condition(obj, type), "lastTransitionTime"));
	if (!s || kp_parse_rfc3339(s, &t))
		return 0;
	return t * 1000;
}

/* ---- status writes ---- */

static void root_ready(json_t *conds, int64_t gen, int64_t wall)
{
	static const char *const deps[] = { "Launched", "Registered", "Initialized" };
	const char *status = "True", *reason = "Ready", *msg = "";

	for (size_t d = 0; d < KP_ARRAY_LEN(deps); d++) {
		json_t *e;
		size_t i;
		const char *s = NULL, *r = NULL, *m = NULL;
		json_array_foreach(conds, i, e) {
			const char *t = json_string_value(json_object_get(e, "type"));
			if (t && strcmp(t, deps[d]) == 0) {
				s = json_string_value(json_object_get(e, "status"));
				r = json_string_value(json_object_get(e, "reason"));
				m = json_string_value(json_object_get(e, "message"));
			}
		}
		if (!s || strcmp(s, "True") != 0) {
			bool is_false = s && strcmp(s, "False") == 0;
			if (is_false || strcmp(status, "True") == 0) {
				status = is_false ? "False" : "Unknown";
				reason = r ? r : "AwaitingReconciliation";
				msg = m ? m : "";
			}
			if (is_false)
				break;
		}
	}
	kp_ctrl__condition_set(conds, "Ready", status, reason, msg, gen, wall);
}

struct cond_update {
	const char *type, *status, *reason, *message;
};

/* The event operatorpkg's status controller publishes when a NodeClaim's
 * condition type becomes True (reason = the condition type). */
static void transition_event(struct visit *v, const char *type, const char *reason)
{
	const char *was = json_string_value(json_object_get(kp_ctrl__condition(v->obj, type), "status"));
	char note[300];

	snprintf(note, sizeof(note), "Status condition transitioned, Type: %s, Status: %s -> True, Reason: %s", type,
		 was ? was : "Unknown", reason);
	kp_ctrl__event(v->c, "NodeClaim", "karpenter.sh/v1", NULL, v->name, kp_ctrl__jstr(v->obj, "metadata.uid"), "Normal", type,
		  note);
}

/* Merge-patches status: the given fields (status_fields, borrowed, may be
 * NULL) and conditions, with the object's resourceVersion as precondition.
 * Skips the write when nothing changes. Returns 0, 1 on conflict, -1 on error. */
static int patch_status(struct visit *v, json_t *status_fields, const struct cond_update *cu, int ncu)
{
	json_t *old = kp_ctrl__jget(v->obj, "status.conditions");
	json_t *conds = json_is_array(old) ? json_deep_copy(old) : json_array();
	json_t *patch, *st;
	int64_t gen = json_integer_value(kp_ctrl__jget(v->obj, "metadata.generation"));
	struct kp_kube_status ks;
	struct kp_errbuf eb = { 0 };
	bool changed = false;
	const char *rv = kp_ctrl__jstr(v->obj, "metadata.resourceVersion");

	for (int i = 0; i < ncu; i++)
		kp_ctrl__condition_set(conds, cu[i].type, cu[i].status, cu[i].reason, cu[i].message, gen, kp_ctrl__wall(v->c));
	root_ready(conds, gen, kp_ctrl__wall(v->c));
	changed = !old || !json_equal(old, conds);
	if (status_fields) {
		const char *k;
		json_t *val;
		json_object_foreach(status_fields, k, val)
			if (!json_equal(kp_ctrl__jget(v->obj, "status") ? json_object_get(kp_ctrl__jget(v->obj, "status"), k) : NULL,
					val))
				changed = true;
	}
	if (!changed) {
		json_decref(conds);
		return 0;
	}
	st = status_fields ? json_deep_copy(status_fields) : json_object();
	json_object_set_new(st, "conditions", conds);
	patch = json_pack("{s:{s:s}, s:o}", "metadata", "resourceVersion", rv ? rv : "", "status", st);
	if (!rv)
		json_object_del(patch, "metadata");
	if (kp_kube_patch(v->c->kc, &KP_KUBE_NODECLAIMS, NULL, v->name, KP_PATCH_MERGE, patch, "status", NULL, &ks,
			  &eb)) {
		json_decref(patch);
		if (kp_kube_is_conflict(&ks) || kp_kube_is_notfound(&ks))
			return 1;
		kp_log_error(v->log, "failed to update nodeclaim status", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		return -1;
	}
	json_decref(patch);
	return 0;
}

static int64_t after_write(int r)
{
	return r == 0 ? -1 : r > 0 ? CONFLICT_RETRY_MS : RETRY_MS * 5;
}

static void delete_claim(struct visit *v, const char *why, const char *reason)
{
	struct kp_kube_status ks;
	struct kp_errbuf eb = { 0 };

	if (kp_kube_delete(v->c->kc, &KP_KUBE_NODECLAIMS, NULL, v->name, KP_PROPAGATE_DEFAULT,
			   kp_ctrl__jstr(v->obj, "metadata.uid"), &ks, &eb) && !kp_kube_is_notfound(&ks)) {
		kp_log_error(v->log, "failed to delete nodeclaim", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		return;
	}
	kp_ctrl__created_forget(v->c, v->name);
	kp_log_info(v->log, why, KP_LOG_FIELDS(kp_log_str("reason", reason)));
	if (v->c->m.nodeclaims_disrupted_total)
		kp_metrics_inc(v->c->m.nodeclaims_disrupted_total,
			       KP_LV(reason, v->nc->nodepool ? v->nc->nodepool : "",
				     kp_labels_get(&v->nc->labels, KP_LABEL_CAPACITY_TYPE), "", "forceful"));
}

/* ---- finding the Node ---- */

/* Nodes whose spec.providerID is pid; *n gets how many (the first returned). */
static json_t *node_for(struct kp_ctrl *c, const char *pid, int *n)
{
	json_t **all = NULL, *found = NULL;
	size_t cnt = 0;

	*n = 0;
	if (!pid || !*pid || kp_informer_list(c->inf[KPC_NODES], NULL, &all, &cnt, NULL))
		return NULL;
	for (size_t i = 0; i < cnt; i++) {
		const char *p = kp_ctrl__jstr(all[i], "spec.providerID");
		if (p && strcmp(p, pid) == 0) {
			if (!found)
				found = all[i];
			(*n)++;
		}
	}
	free(all);
	return found;
}

/* ---- launch ---- */

static void observe_cloud(struct visit *v, const char *method, int64_t t0, enum kp_cloud_err e)
{
	const char *prov = v->c->o.cloud->ops->name;
	if (v->c->m.cloudprovider_duration_seconds)
		kp_metrics_observe(v->c->m.cloudprovider_duration_seconds, KP_LV(CTRL_NAME, method, prov),
				   (double)(kp_ctrl__now(v->c) - t0) / 1000.0);
	if (e && v->c->m.cloudprovider_errors_total)
		kp_metrics_inc(v->c->m.cloudprovider_errors_total, KP_LV(CTRL_NAME, method, prov, kp_cloud_err_str(e)));
}

static int64_t launch(struct visit *v)
{
	struct kp_ctrl *c = v->c;
	struct kp_arena a;
	struct kp_instance inst;
	struct kp_errbuf eb = { 0 };
	enum kp_cloud_err e;
	struct kp_ctrl__launch *job = NULL;
	int64_t t0 = kp_ctrl__now(c), age = kp_ctrl__wall(c) - created_ms(v->obj);
	int64_t ret = -1;

	if (age > c->o.launch_ttl_ms) {
		delete_claim(v, "deleting nodeclaim, launch timed out", "launch_timeout");
		return -1;
	}
	kp_arena_init(&a);
	memset(&inst, 0, sizeof(inst));
	/* the cloud calls (adopt an instance already tagged with the claim,
	 * else Create) run in a launcher thread, off the loop (launcher.c) */
	switch (kp_ctrl__launch_poll(c, v->name, v->obj, json_string_value(json_object_get(c->launched, v->name)), &job)) {
	case 0:
		break;
	case 1:
		kp_arena_free(&a);
		return LAUNCH_POLL_MS;
	default:
		kp_arena_free(&a);
		kp_log_error(v->log, "failed launching nodeclaim", KP_LOG_FIELDS(kp_log_errmsg("cannot start a launch")));
		return RETRY_MS;
	}
	e = job->e;
	inst = job->inst;
	eb = job->eb;
	if (job->created) {
		kp_ctrl__cloud_metrics_record(c->o.cloud, CTRL_NAME, "Create", job->ms, e);
		observe_cloud(v, "Create", t0 - job->ms, e);
		if (!e && inst.provider_id)
			json_object_set_new(c->launched, v->name, json_string(inst.provider_id));
	}
	switch (e) {
	case KP_CLOUD_OK:
		break;
	case KP_CLOUD_INSUFFICIENT_CAPACITY: {
		/* launch.go: the claim is deleted; the provider itself marked
		 * the offerings it tried unavailable (AWS: the CreateFleet
		 * errors' capacity-type/type/zone), so the retry skips them */
		kp_log_error(v->log, "failed launching nodeclaim", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		kp_ctrl__event(c, "NodeClaim", "karpenter.sh/v1", NULL, v->name, kp_ctrl__jstr(v->obj, "metadata.uid"), "Warning",
			  "InsufficientCapacityError", eb.msg);
		delete_claim(v, "deleted nodeclaim, insufficient capacity", "insufficient_capacity");
		kp_ctrl__prov_trigger(c);
		goto out;
	}
	case KP_CLOUD_NODECLASS_NOT_READY:
		kp_log_error(v->log, "failed launching nodeclaim", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		delete_claim(v, "deleted nodeclaim, nodeclass not ready", "nodeclass_not_ready");
		goto out;
	default: {
		struct cond_update cu = { "Launched", "False", "LaunchFailed", eb.msg };
		kp_log_error(v->log, "failed launching nodeclaim", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		patch_status(v, NULL, &cu, 1);
		ret = RETRY_MS * 5;
		goto out;
	}
	}
	/* provider labels under the claim's own, provider annotations over
	 * the claim's (PopulateNodeClaimDetails) */
	{
		json_t *labels = json_object(), *mine = kp_ctrl__jget(v->obj, "metadata.labels"), *patch;
		json_t *anns = json_object(), *mya = kp_ctrl__jget(v->obj, "metadata.annotations");
		struct kp_kube_status ks;
		bool add = false;

		for (int i = 0; i < inst.labels.n; i++) {
			if (json_object_get(mine, inst.labels.kv[i].key))
				continue;
			json_object_set_new(labels, inst.labels.kv[i].key, json_string(inst.labels.kv[i].value));
			add = true;
		}
		for (int i = 0; i < inst.annotations.n; i++) {
			if (kp_strcmp0(json_string_value(json_object_get(mya, inst.annotations.kv[i].key)),
				       inst.annotations.kv[i].value) == 0)
				continue;
			json_object_set_new(anns, inst.annotations.kv[i].key, json_string(inst.annotations.kv[i].value));
			add = true;
		}
		if (add) {
			patch = json_pack("{s:{s:o,s:o}}", "metadata", "labels", labels, "annotations", anns);
			if (kp_kube_patch(c->kc, &KP_KUBE_NODECLAIMS, NULL, v->name, KP_PATCH_MERGE, patch, NULL, NULL, &ks,
					  &eb)) {
				kp_log_error(v->log, "failed to label nodeclaim", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
				json_decref(patch);
				ret = RETRY_MS;
				goto out;
			}
			json_decref(patch);
		} else {
			json_decref(labels);
			json_decref(anns);
		}
	}
	{
		json_t *sf = json_object();
		struct cond_update cu[3] = {
			{ "Launched", "True", "Launched", "" },
			{ "Registered", "Unknown", "NodeNotFound", "Node not registered with cluster" },
			{ "Initialized", "Unknown", "NodeNotFound", "Node not registered with cluster" },
		};
		int r;

		json_object_set_new(sf, "providerID", json_string(inst.provider_id ? inst.provider_id : ""));
		if (inst.image_id)
			json_object_set_new(sf, "imageID", json_string(inst.image_id));
		json_object_set_new(sf, "capacity", kp_ctrl__reslist(&c->rn, &inst.capacity));
		json_object_set_new(sf, "allocatable", kp_ctrl__reslist(&c->rn, &inst.allocatable));
		/* the label patch above changed resourceVersion: write without the precondition */
		{
			json_t *saved = v->obj;
			json_t *tmp = json_deep_copy(saved);
			json_object_del(json_object_get(tmp, "metadata"), "resourceVersion");
			v->obj = tmp;
			r = patch_status(v, sf, cu, 3);
			v->obj = saved;
			json_decref(tmp);
		}
		json_decref(sf);
		if (r) {
			ret = after_write(r);
			goto out;
		}
	}
	{
		char cap[32];
		snprintf(cap, sizeof(cap), "%s", kp_captype_name(inst.captype));
		kp_log_info(v->log, "launched nodeclaim",
			    KP_LOG_FIELDS(kp_log_str("provider-id", inst.provider_id ? inst.provider_id : ""),
					  kp_log_str("instance-type", inst.instance_type ? inst.instance_type : ""),
					  kp_log_str("zone", inst.zone ? inst.zone : ""), kp_log_str("capacity-type", cap),
					  kp_log_double("price", inst.price)));
	}
	transition_event(v, "Launched", "Launched");
	ret = c->o.registration_ttl_ms;
out:
	if (job)
		kp_ctrl__launch_release(c, job);
	kp_arena_free(&a);
	return ret;
}

/* ---- registration ---- */

struct sync_node {
	struct visit *v;
	bool first;                       /* node not yet labeled registered */
};

static bool taint_in(json_t *taints, const char *key, const char *effect)
{
	json_t *t;
	size_t i;

	json_array_foreach(taints, i, t) {
		const char *k = json_string_value(json_object_get(t, "key"));
		const char *e = json_string_value(json_object_get(t, "effect"));
		if (k && e && strcmp(k, key) == 0 && strcmp(e, effect) == 0)
			return true;
	}
	return false;
}

static void merge_taints(json_t *node_taints, json_t *add)
{
	json_t *t;
	size_t i;

	json_array_foreach(add, i, t) {
		const char *k = json_string_value(json_object_get(t, "key"));
		const char *e = json_string_value(json_object_get(t, "effect"));
		if (k && e && !taint_in(node_taints, k, e))
			json_array_append_new(node_taints, json_deep_copy(t));
	}
}

static int sync_node_fn(void *ud, json_t *node, struct kp_errbuf *eb)
{
	struct sync_node *s = ud;
	json_t *before = json_deep_copy(node), *meta = json_object_get(node, "metadata"), *spec, *labels, *ann,
	       *fins, *owners, *taints, *t;
	const char *k;
	json_t *val;
	size_t i;
	bool owned = false;
	int ret;

	(void)eb;
	if (!json_is_object(json_object_get(node, "spec")))
		json_object_set_new(node, "spec", json_object());
	spec = json_object_get(node, "spec");
	if (!json_is_object(json_object_get(meta, "labels")))
		json_object_set_new(meta, "labels", json_object());
	if (!json_is_object(json_object_get(meta, "annotations")))
		json_object_set_new(meta, "annotations", json_object());
	if (!json_is_array(json_object_get(meta, "finalizers")))
		json_object_set_new(meta, "finalizers", json_array());
	if (!json_is_array(json_object_get(meta, "ownerReferences")))
		json_object_set_new(meta, "ownerReferences", json_array());
	labels = json_object_get(meta, "labels");
	ann = json_object_get(meta, "annotations");
	fins = json_object_get(meta, "finalizers");
	owners = json_object_get(meta, "ownerReferences");
	s->first = !json_object_get(labels, KP_LABEL_REGISTERED);
	if (!kp_ctrl__has_finalizer(node, KPC_TERMINATION_FINALIZER))
		json_array_append_new(fins, json_string(KPC_TERMINATION_FINALIZER));
	json_array_foreach(owners, i, t) {
		const char *uid = json_string_value(json_object_get(t, "uid"));
		const char *myuid = kp_ctrl__jstr(s->v->obj, "metadata.uid");
		if (uid && myuid && strcmp(uid, myuid) == 0)
			owned = true;
	}
	if (!owned)
		json_array_append_new(owners, json_pack("{s:s, s:s, s:s, s:s, s:b}", "apiVersion", "karpenter.sh/v1", "kind",
						       "NodeClaim", "name", s->v->name, "uid",
						       kp_ctrl__jstr(s->v->obj, "metadata.uid") ? kp_ctrl__jstr(s->v->obj, "metadata.uid")
											   : "",
						       "blockOwnerDeletion", 1));
	if (s->first) {
		const char *dns = json_string_value(json_object_get(labels, "karpenter.sh/do-not-sync-taints"));
		if (!json_is_array(json_object_get(spec, "taints")))
			json_object_set_new(spec, "taints", json_array());
		taints = json_object_get(spec, "taints");
		if (!dns || strcmp(dns, "true") != 0) {
			merge_taints(taints, kp_ctrl__jget(s->v->obj, "spec.taints"));
			merge_taints(taints, kp_ctrl__jget(s->v->obj, "spec.startupTaints"));
		}
		for (i = 0; i < json_array_size(taints);) {
			const char *tk = json_string_value(json_object_get(json_array_get(taints, i), "key"));
			const char *te = json_string_value(json_object_get(json_array_get(taints, i), "effect"));
			if (tk && te && strcmp(tk, KPC_UNREGISTERED_TAINT) == 0 && strcmp(te, "NoExecute") == 0)
				json_array_remove(taints, i);
			else
				i++;
		}
	}
	json_object_foreach(kp_ctrl__jget(s->v->obj, "metadata.annotations"), k, val)
		json_object_set(ann, k, val);
	json_object_foreach(kp_ctrl__jget(s->v->obj, "metadata.labels"), k, val)
		json_object_set(labels, k, val);
	json_object_set_new(labels, KP_LABEL_REGISTERED, json_string("true"));
	ret = json_equal(before, node) ? 1 : 0;
	json_decref(before);
	return ret;
}

static int64_t registration(struct visit *v)
{
	struct kp_ctrl *c = v->c;
	struct kp_kube_status ks;
	struct kp_errbuf eb = { 0 };
	struct sync_node s = { v, false };
	const char *pid = kp_ctrl__jstr(v->obj, "status.providerID");
	const char *nname;
	json_t *node, *sf;
	int n, r;

	node = node_for(c, pid, &n);
	if (n > 1) {
		struct cond_update cu = { "Registered", "False", "MultipleNodesFound", "Invariant violated, matched multiple nodes" };
		return after_write(patch_status(v, NULL, &cu, 1)) < 0 ? RETRY_MS * 10 : CONFLICT_RETRY_MS;
	}
	if (!node) {
		int64_t launched = cond_time_ms(v->obj, "Launched"), left;
		struct cond_update cu = { "Registered", "Unknown", "NodeNotFound", "Node not registered with cluster" };
		if (!launched)
			launched = created_ms(v->obj);
		left = launched + c->o.registration_ttl_ms - kp_ctrl__wall(c);
		if (left <= 0) {
			delete_claim(v, "deleting nodeclaim, registration timed out", "registration_timeout");
			return -1;
		}
		r = patch_status(v, NULL, &cu, 1);
		return r > 0 ? CONFLICT_RETRY_MS : left;
	}
	nname = kp_ctrl__jstr(node, "metadata.name");
	if (kp_kube_retry_on_conflict(c->kc, &KP_KUBE_NODES, NULL, nname, NULL, 0, sync_node_fn, &s, NULL, &ks, &eb)) {
		kp_log_error(v->log, "failed to sync node", KP_LOG_FIELDS(kp_log_object("Node", nname), kp_log_errmsg(eb.msg)));
		return RETRY_MS;
	}
	sf = json_pack("{s:s}", "nodeName", nname);
	{
		struct cond_update cu = { "Registered", "True", "Registered", "" };
		r = patch_status(v, sf, &cu, 1);
	}
	json_decref(sf);
	if (r)
		return after_write(r);
	transition_event(v, "Registered", "Registered");
	kp_log_info(v->log, "registered nodeclaim",
		    KP_LOG_FIELDS(kp_log_object("Node", nname), kp_log_str("provider-id", pid)));
	if (c->m.nodes_created_total)
		kp_metrics_inc(c->m.nodes_created_total,
			       KP_LV(v->nc->nodepool ? v->nc->nodepool : "", kp_labels_get(&v->nc->labels, KP_LABEL_ZONE)));
	return -1;
}

/* ---- initialization ---- */

static int64_t initialization(struct visit *v)
{
	struct kp_ctrl *c = v->c;
	struct kp_kube_status ks;
	struct kp_errbuf eb = { 0 };
	struct kp_cluster ncl;
	struct kp_load_opts lo = { NULL, 0 };
	const struct kp_node *kn;
	json_t *node;
	int n;
	char msg[512];
	struct cond_update cu = { "Initialized", "Unknown", NULL, msg };
	int64_t ret = -1;

	node = node_for(c, kp_ctrl__jstr(v->obj, "status.providerID"), &n);
	if (!node) {
		cu.reason = "NodeNotFound";
		snprintf(msg, sizeof(msg), "Node not registered with cluster");
		return after_write(patch_status(v, NULL, &cu, 1));
	}
	if (!kp_ctrl__condition_true(node, "Ready")) {
		cu.reason = "NodeNotReady";
		snprintf(msg, sizeof(msg), "Node status is NotReady");
		return after_write(patch_status(v, NULL, &cu, 1));
	}
	kp_cluster_init(&ncl);
	ncl.resnames = c->rn;
	if (kp_load_object(&ncl, node, "Node", "v1", "Node", &lo, &eb) || ncl.nnodes != 1) {
		kp_log_error(v->log, "could not decode node", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		kp_cluster_free(&ncl);
		return RETRY_MS * 5;
	}
	kn = ncl.nodes[0];
	for (int i = 0; i < v->nc->startup_taints.n && !cu.reason; i++)
		for (int j = 0; j < kn->taints.n && !cu.reason; j++)
			if (kp_taint_equal(&v->nc->startup_taints.t[i], &kn->taints.t[j])) {
				cu.reason = "StartupTaintsExist";
				snprintf(msg, sizeof(msg), "StartupTaint \"%s:%s\" still exists", kn->taints.t[j].key,
					 kp_effect_name(kn->taints.t[j].effect));
			}
	for (int j = 0; j < kn->taints.n && !cu.reason; j++)
		if (kp_taint_is_ephemeral(&kn->taints.t[j])) {
			cu.reason = "KnownEphemeralTaintsExist";
			snprintf(msg, sizeof(msg), "KnownEphemeralTaint \"%s:%s\" still exists", kn->taints.t[j].key,
				 kp_effect_name(kn->taints.t[j].effect));
		}
	for (int k = KP_RES_PODS + 1; k < KP_RES_MAX && !cu.reason; k++) {
		if (v->nc->requests.v[k] > 0 && kn->allocatable.v[k] == 0) {
			cu.reason = "ResourceNotRegistered";
			snprintf(msg, sizeof(msg), "Resource \"%s\" was requested but not registered",
				 k < ncl.resnames.n ? ncl.resnames.name[k] : "?");
		}
	}
	if (cu.reason) {
		ret = after_write(patch_status(v, NULL, &cu, 1));
		goto out;
	}
	if (!json_object_get(kp_ctrl__jget(node, "metadata.labels"), KP_LABEL_INITIALIZED)) {
		json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", KP_LABEL_INITIALIZED, "true");
		if (kp_kube_patch(c->kc, &KP_KUBE_NODES, NULL, kn->name, KP_PATCH_MERGE, patch, NULL, NULL, &ks, &eb)) {
			kp_log_error(v->log, "failed to label node", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
			json_decref(patch);
			ret = RETRY_MS;
			goto out;
		}
		json_decref(patch);
	}
	cu.status = "True";
	cu.reason = "Initialized";
	msg[0] = '\0';
	ret = after_write(patch_status(v, NULL, &cu, 1));
	if (ret < 0) {
		json_t *alloc = kp_ctrl__reslist(&ncl.resnames, &kn->allocatable);
		const char *kv[2 * KP_RES_MAX];
		size_t nkv = 0;
		const char *key;
		json_t *val;
		json_object_foreach(alloc, key, val) {
			if (nkv >= KP_RES_MAX)
				break;
			kv[2 * nkv] = key;
			kv[2 * nkv + 1] = json_string_value(val);
			nkv++;
		}
		kp_log_info(v->log, "initialized nodeclaim",
			    KP_LOG_FIELDS(kp_log_object("Node", kn->name), kp_log_strmap("allocatable", kv, nkv)));
		json_decref(alloc);
		json_object_del(c->launched, v->name);
		transition_event(v, "Initialized", "Initialized");
	}
out:
	kp_cluster_free(&ncl);
	return ret;
}

/* ---- finalizer ---- */

static int add_finalizer_fn(void *ud, json_t *obj, struct kp_errbuf *eb)
{
	json_t *meta = json_object_get(obj, "metadata");

	(void)ud;
	(void)eb;
	if (kp_ctrl__has_finalizer(obj, KPC_TERMINATION_FINALIZER) || json_object_get(meta, "deletionTimestamp"))
		return 1;
	if (!json_is_array(json_object_get(meta, "finalizers")))
		json_object_set_new(meta, "finalizers", json_array());
	json_array_append_new(json_object_get(meta, "finalizers"), json_string(KPC_TERMINATION_FINALIZER));
	return 0;
}

static int64_t finalize(struct visit *v)
{
	struct kp_ctrl *c = v->c;
	struct kp_kube_status ks;
	struct kp_errbuf eb = { 0 };
	const char *pid = kp_ctrl__jstr(v->obj, "status.providerID");
	const char *memo = json_string_value(json_object_get(c->launched, v->name));
	struct kp_arena a;
	struct kp_ctrl__call *j;
	json_t *node;
	int n, r;
	enum kp_cloud_err e;

	if (!kp_ctrl__has_finalizer(v->obj, KPC_TERMINATION_FINALIZER))
		return -1;
	node = node_for(c, pid, &n);
	if (node) {
		const char *nname = kp_ctrl__jstr(node, "metadata.name");
		if (!kp_ctrl__jget(node, "metadata.deletionTimestamp")) {
			if (kp_kube_delete(c->kc, &KP_KUBE_NODES, NULL, nname, KP_PROPAGATE_DEFAULT, NULL, &ks, &eb) &&
			    !kp_kube_is_notfound(&ks)) {
				kp_log_error(v->log, "failed to delete node", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
				return RETRY_MS * 5;
			}
			kp_log_info(v->log, "deleted node", KP_LOG_FIELDS(kp_log_object("Node", nname)));
		}
		return RETRY_MS * 5;   /* the termination controller drains and removes the Node */
	}
	kp_arena_init(&a);
	if (!pid || !*pid)
		pid = memo;
	/* the cloud calls run off the loop thread (launcher.c): come back
	 * for their answers */
	if (!pid || !*pid) {
		/* an instance launched for it that no status shows (a restart
		 * between CreateFleet and the status write): found by its tag */
		r = kp_ctrl__call_poll(c, KP_CTRL_CALL_LIST, kp_arena_printf(&a, "finalize:%s", v->name), "", &j);
		if (r) {
			kp_arena_free(&a);
			return r > 0 ? LAUNCH_POLL_MS : RETRY_MS;
		}
		e = j->e;
		for (int i = 0; !e && i < j->n; i++)
			if (j->all[i].nodeclaim && strcmp(j->all[i].nodeclaim, v->name) == 0 && j->all[i].provider_id &&
			    j->all[i].state != KP_INSTANCE_TERMINATING && j->all[i].state != KP_INSTANCE_TERMINATED)
				pid = kp_arena_strdup(&a, j->all[i].provider_id);
		if (e)
			kp_log_error(v->log, "failed to list instances", KP_LOG_FIELDS(kp_log_errmsg(j->eb.msg)));
		kp_ctrl__call_release(c, j);
		if (e) {
			kp_arena_free(&a);
			return RETRY_MS;
		}
	}
	if (pid && *pid) {
		r = kp_ctrl__call_poll(c, KP_CTRL_CALL_DELETE, NULL, pid, &j);
		if (r) {
			kp_arena_free(&a);
			return r > 0 ? LAUNCH_POLL_MS : RETRY_MS;
		}
		e = j->e;
		eb = j->eb;
		observe_cloud(v, "Delete", kp_ctrl__now(c) - j->ms, e);
		kp_ctrl__call_release(c, j);
		if (e != KP_CLOUD_NOT_FOUND) {
			if (e)
				kp_log_error(v->log, "failed to terminate instance", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
			kp_arena_free(&a);
			return DELETE_POLL_MS;
		}
	}
	pid = pid ? kp_arena_strdup(&a, pid) : NULL;
	if (kp_kube_retry_on_conflict(c->kc, &KP_KUBE_NODECLAIMS, NULL, v->name, NULL, 0, kp_ctrl__drop_termination_finalizer, NULL,
				      NULL, &ks, &eb) &&
	    !kp_kube_is_notfound(&ks)) {
		kp_log_error(v->log, "failed to remove finalizer", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		kp_arena_free(&a);
		return RETRY_MS;
	}
	json_object_del(c->launched, v->name);
	kp_ctrl__created_forget(c, v->name);
	kp_log_info(v->log, "deleted nodeclaim", KP_LOG_FIELDS(kp_log_str("provider-id", pid ? pid : "")));
	if (c->m.nodeclaims_terminated_total)
		kp_metrics_inc(c->m.nodeclaims_terminated_total,
			       KP_LV(v->nc->nodepool ? v->nc->nodepool : "", kp_labels_get(&v->nc->labels, KP_LABEL_CAPACITY_TYPE),
				     kp_labels_get(&v->nc->labels, KP_LABEL_ZONE)));
	kp_arena_free(&a);
	return -1;
}

/* ---- entry points ---- */

int64_t kp_ctrl__lifecycle_reconcile(struct kp_ctrl *c, const char *name)
{
	struct visit v;
	struct kp_load_opts lo = { NULL, 0 };
	struct kp_errbuf eb = { 0 };
	int64_t ret = -1;

	memset(&v, 0, sizeof(v));
	v.c = c;
	v.name = name;
	v.obj = kp_ctrl__claim_get(c, name);
	if (!v.obj) {
		json_object_del(c->launched, name);
		return -1;
	}
	json_incref(v.obj);
	v.lg = c->log_life;
	v.lf[0] = c->lf_life[0];
	v.lf[1] = kp_log_object("NodeClaim", name);
	v.lg.base = v.lf;
	v.lg.nbase = 2;
	v.log = &v.lg;
	kp_cluster_init(&v.cl);
	v.cl.resnames = c->rn;
	if (kp_load_object(&v.cl, v.obj, "NodeClaim", "karpenter.sh/v1", "NodeClaim", &lo, &eb) || v.cl.nclaims != 1) {
		kp_log_error(v.log, "could not decode nodeclaim", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		goto out;
	}
	v.nc = v.cl.claims[0];
	if (kp_ctrl__jget(v.obj, "metadata.deletionTimestamp")) {
		ret = finalize(&v);
		goto out;
	}
	if (!kp_ctrl__has_finalizer(v.obj, KPC_TERMINATION_FINALIZER)) {
		struct kp_kube_status ks;
		if (kp_kube_retry_on_conflict(c->kc, &KP_KUBE_NODECLAIMS, NULL, name, NULL, 0, add_finalizer_fn, NULL, NULL,
					      &ks, &eb) && !kp_kube_is_notfound(&ks)) {
			kp_log_error(v.log, "failed to add finalizer", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
			ret = RETRY_MS;
		}
		goto out;   /* the update event brings us back */
	}
	if (!kp_ctrl__condition_true(v.obj, "Launched"))
		ret = launch(&v);
	else if (!kp_ctrl__condition_true(v.obj, "Registered"))
		ret = registration(&v);
	else if (!kp_ctrl__condition_true(v.obj, "Initialized"))
		ret = initialization(&v);
	else
		json_object_del(c->launched, name);
out:
	kp_cluster_free(&v.cl);
	json_decref(v.obj);
	return ret;
}

void kp_ctrl__lifecycle_node_event(struct kp_ctrl *c, const json_t *node)
{
	const char *pid = kp_ctrl__jstr(node, "spec.providerID"), *nname = kp_ctrl__jstr(node, "metadata.name");
	json_t **all = NULL;
	size_t n = 0;

	if (kp_informer_list(c->inf[KPC_NODECLAIMS], NULL, &all, &n, NULL))
		return;
	for (size_t i = 0; i < n; i++) {
		const char *p = kp_ctrl__jstr(all[i], "status.providerID"), *nn = kp_ctrl__jstr(all[i], "status.nodeName");
		if ((pid && p && strcmp(p, pid) == 0) || (nname && nn && strcmp(nn, nname) == 0))
			kp_ctrl__queue_add(&c->lifecycle, kp_ctrl__jstr(all[i], "metadata.name"), 0);
	}
	free(all);
}
