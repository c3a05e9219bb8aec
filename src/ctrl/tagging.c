/*
 * tagging.c - the NodeClaim tagging controller (nodeclaim.tagging), generic
 * over the cloud provider: once a NodeClaim has registered (status.nodeName
 * set) and has a providerID, is not being deleted and has not been tagged
 * yet, the provider's tag_instance tags its instance (AWS: Name = the
 * Node's name, karpenter.sh/nodeclaim, eks:eks-cluster-name; keys the
 * instance already has are kept) and the NodeClaim then gets the
 * annotations karpenter.k8s.aws/tagged=true and
 * compatibility.karpenter.k8s.aws/cluster-name-tagged=true, so it is never
 * tagged again. A provider without tag_instance makes this a no-op (no
 * annotation is written).
 *
 * Mirrors karpenter-provider-aws pkg/controllers/nodeclaim/tagging
 * (Reconcile, isTaggable, tagInstance): a NodeClaim is taggable until both
 * annotations are "true"; an instance that is gone (NodeClaimNotFound) is
 * skipped without the annotation (garbage collection takes the claim);
 * other errors are logged and the claim is visited again after
 * TAG_RETRY_MS. Karpenter runs this controller one NodeClaim at a time
 * (MaxConcurrentReconciles 1, as CreateTags shares the write budget with
 * CreateFleet): so does this one, and the provider spaces its CreateTags.
 *
 * The provider call runs off the loop thread (kp_ctrl__call_poll, launcher.c;
 * issue item 10): the queue comes back every TAG_POLL_MS for the answer.
 * Cost per taggable NodeClaim: one provider call (AWS: a DescribeInstances,
 * at most one CreateTags) and one merge patch of its metadata.
 */
#include <stdlib.h>
#include <string.h>

#include "ctrl/ext_int.h"

#define TAG_ANN "karpenter.k8s.aws/tagged"
#define TAG_COMPAT_ANN "compatibility.karpenter.k8s.aws/cluster-name-tagged"
#define TAG_POLL_MS 200      /* a call in flight: look again */
#define TAG_RETRY_MS 5000    /* after an error */

/* isTaggable: not tagged yet (both annotations), node name known, not deleting. */
static bool taggable(const json_t *claim)
{
	json_t *anns = kp_ctrl__jget(claim, "metadata.annotations");
	const char *nn = kp_ctrl__jstr(claim, "status.nodeName");

	if (kp_strcmp0(json_string_value(json_object_get(anns, TAG_ANN)), "true") == 0 &&
	    kp_strcmp0(json_string_value(json_object_get(anns, TAG_COMPAT_ANN)), "true") == 0)
		return false;
	if (!nn || !*nn)
		return false;
	return !kp_ctrl__jget(claim, "metadata.deletionTimestamp");
}

void kp_ctrl__tag_event(struct kp_ctrl *c, const json_t *claim, bool deleted)
{
	if (deleted || !c->cloud_raw->ops->tag_instance || !taggable(claim))
		return;
	kp_ctrl__queue_add(&c->ext->tagging, kp_ctrl__ext_name(claim), 0);
}

/* A tag call of another NodeClaim is running. */
static bool other_inflight(const struct kp_ctrl *c, const char *name)
{
	for (int i = 0; i < c->ncalls; i++) {
		const struct kp_ctrl__call *j = c->calls[i];

		if (j->kind == KP_CTRL_CALL_TAG && !atomic_load_explicit(&j->done, memory_order_acquire) &&
		    strcmp(j->key + strlen("tag:"), name) != 0)
			return true;
	}
	return false;
}

int64_t kp_ctrl__tag_reconcile(struct kp_ctrl *c, const char *name)
{
	struct kp_ctrl__ext *x = c->ext;
	json_t *obj = kp_informer_get(c->inf[KPC_NODECLAIMS], NULL, name), *args, *patch;
	const char *p = obj ? kp_ctrl__jstr(obj, "status.providerID") : NULL;
	char pid[512];
	struct kp_errbuf eb = { 0 };
	struct kp_kube_status ks;
	struct kp_ctrl__call *j;
	enum kp_cloud_err e;
	char *text;
	int r;

	if (!obj || !c->cloud_raw->ops->tag_instance || !taggable(obj) || !p || !*p || strlen(p) >= sizeof(pid))
		return -1;
	memcpy(pid, p, strlen(p) + 1);
	if (other_inflight(c, name))
		return TAG_POLL_MS;
	args = json_pack("{s:s, s:s, s:s}", "providerID", pid, "nodeName", kp_ctrl__jstr(obj, "status.nodeName"),
			 "nodeClaim", name);
	text = args ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(args);
	if (!text)
		return TAG_RETRY_MS;
	r = kp_ctrl__call_poll(c, KP_CTRL_CALL_TAG, name, text, &j);
	free(text);
	if (r)
		return r > 0 ? TAG_POLL_MS : TAG_RETRY_MS;
	e = j->e;
	eb = j->eb;
	kp_ctrl__call_release(c, j);
	if (e == KP_CLOUD_NOT_FOUND) {
		/* the instance is gone: garbage collection takes the claim */
		kp_log_debug(&x->log_tag, "instance not found; not tagging",
			     KP_LOG_FIELDS(kp_log_object("NodeClaim", name), kp_log_str("provider-id", pid),
					   kp_log_errmsg(eb.msg)));
		return -1;
	}
	if (e) {
		kp_log_error(&x->log_tag, "tagging nodeclaim",
			     KP_LOG_FIELDS(kp_log_object("NodeClaim", name), kp_log_str("provider-id", pid),
					   kp_log_errmsg(eb.msg)));
		return TAG_RETRY_MS;
	}
	patch = json_pack("{s:{s:{s:s, s:s}}}", "metadata", "annotations", TAG_ANN, "true", TAG_COMPAT_ANN, "true");
	if (!patch)
		return TAG_RETRY_MS;
	memset(&eb, 0, sizeof(eb));
	if (kp_kube_patch(c->kc, &KP_KUBE_NODECLAIMS, NULL, name, KP_PATCH_MERGE, patch, NULL, NULL, &ks, &eb)) {
		json_decref(patch);
		if (kp_kube_is_notfound(&ks))
			return -1;
		kp_log_error(&x->log_tag, "failed to annotate nodeclaim",
			     KP_LOG_FIELDS(kp_log_object("NodeClaim", name), kp_log_errmsg(eb.msg)));
		return TAG_RETRY_MS;
	}
	json_decref(patch);
	kp_log_debug(&x->log_tag, "tagged instance",
		     KP_LOG_FIELDS(kp_log_object("NodeClaim", name), kp_log_str("provider-id", pid)));
	return -1;
}
