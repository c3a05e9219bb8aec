/*
 * podevents.c - NodeClaim status.lastPodEventTime, the clock of
 * consolidateAfter.
 *
 * Mirrors Karpenter v1 pkg/controllers/nodeclaim/podevents: a pod that is
 * not a DaemonSet pod and is bound to a Node counts when it is added,
 * deleted, becomes bound, becomes terminal or starts terminating; the
 * NodeClaim of its Node then gets lastPodEventTime = now, unless the
 * current value is less than 10 s old (dedupe).
 *
 * Invariants: only status.lastPodEventTime is written (a merge patch of
 * the status subresource), so no other field can be clobbered. Cost: per
 * relevant pod event one Node lookup and an O(claims) match; at most one
 * write per NodeClaim every 10 s.
 */
#include <string.h>

#include "ctrl/ext_int.h"

#define DEDUPE_MS 10000

void kp_ctrl__pe_pod_event(struct kp_ctrl *c, const json_t *old, const json_t *pod, bool deleted)
{
	const char *nn = kp_ctrl__jstr(pod, "spec.nodeName");
	bool relevant;
	json_t *node, *nc;

	if (!nn || !*nn || kp_ctrl__pod_daemon(pod))
		return;
	if (deleted || !old) {
		relevant = true;
	} else {
		const char *on = kp_ctrl__jstr(old, "spec.nodeName");
		relevant = (!on || !*on) || (!kp_ctrl__pod_terminal(old) && kp_ctrl__pod_terminal(pod)) ||
			   (!kp_ctrl__jget(old, "metadata.deletionTimestamp") && kp_ctrl__jget(pod, "metadata.deletionTimestamp"));
	}
	if (!relevant)
		return;
	node = kp_informer_get(c->inf[KPC_NODES], NULL, nn);
	nc = node ? kp_ctrl__ext_claim_for_node(c, node) : NULL;
	if (nc)
		kp_ctrl__queue_add(&c->ext->podevents, kp_ctrl__ext_name(nc), 0);
}

int64_t kp_ctrl__pe_reconcile(struct kp_ctrl *c, const char *name)
{
	json_t *nc = kp_informer_get(c->inf[KPC_NODECLAIMS], NULL, name), *patch;
	int64_t last, wall = kp_ctrl__wall(c);
	struct kp_kube_status ks;
	struct kp_errbuf eb = { 0 };
	char ts[40];

	if (!nc || kp_ctrl__jget(nc, "metadata.deletionTimestamp"))
		return -1;
	last = kp_ctrl__ext_time_ms(nc, "status.lastPodEventTime");
	if (last && wall - last < DEDUPE_MS)
		return -1;
	kp_ctrl__time(wall, ts, sizeof(ts));
	patch = json_pack("{s:{s:s}}", "status", "lastPodEventTime", ts);
	if (kp_kube_patch(c->kc, &KP_KUBE_NODECLAIMS, NULL, name, KP_PATCH_MERGE, patch, "status", NULL, &ks, &eb) &&
	    !kp_kube_is_notfound(&ks))
		kp_log_error(&c->ext->log_pe, "failed to update nodeclaim status",
			     KP_LOG_FIELDS(kp_log_object("NodeClaim", name), kp_log_errmsg(eb.msg)));
	json_decref(patch);
	return -1;
}
