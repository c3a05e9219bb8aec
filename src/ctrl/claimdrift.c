/*
 * claimdrift.c - the static and requirements part of Karpenter's
 * nodeclaim.disruption drift controller: writes the NodeClaim's Drifted
 * condition with reason NodePoolDrifted (its karpenter.sh/nodepool-hash
 * differs from its NodePool's, same hash version) or RequirementsDrifted
 * (its labels no longer satisfy the NodePool's requirements), and removes a
 * Drifted condition with one of those reasons once neither holds.
 *
 * Mirrors sigs.k8s.io/karpenter pkg/controllers/nodeclaim/disruption/
 * drift.go (Drift.Reconcile, isDrifted): only launched claims are checked;
 * static drift first, then requirements, then the cloud provider. The
 * decision is the disruption engine's (kp_disrupt_claim_drift, no I/O); the
 * cloud provider's IsDrifted stays with the 5-minute poller in nodeclass.c,
 * which neither overwrites nor removes a condition this file set, and this
 * file never removes a condition with a cloud provider's reason. A static
 * reason replaces a cloud one (isDrifted checks static first).
 *
 * Nothing is compared while the pool's hash-version annotation is not the
 * current one (the hash controller is migrating its claims), and a static
 * condition is kept on a claim whose hash-version differs from the pool's.
 *
 * Runs from the NodePool visit (kp_ctrl__np_reconcile): on every NodePool
 * event and every 5 s revisit, so a NodeClaim change is seen within 5 s.
 * Cost: O(claims) informer scan, one decode per claim of the pool, a write
 * only when the condition changes. Loop thread, no cloud call.
 */
#include <stdlib.h>
#include <string.h>

#include "ctrl/ext_int.h"
#include "karpenter/disrupt.h"
#include "karpenter/labels.h"
#include "load/load.h"

static bool static_reason(const char *r)
{
	return r && (strcmp(r, "NodePoolDrifted") == 0 || strcmp(r, "RequirementsDrifted") == 0);
}

bool kp_ctrl__claim_drift_is_static(const json_t *claim)
{
	json_t *cond = kp_ctrl__condition(claim, "Drifted");

	return cond && static_reason(json_string_value(json_object_get(cond, "reason")));
}

static void one_claim(struct kp_ctrl *c, const struct kp_nodepool *np, json_t *obj)
{
	struct kp_ctrl__ext *x = c->ext;
	struct kp_cluster cl;
	struct kp_load_opts lo = { NULL, 0 };
	const char *name = kp_ctrl__ext_name(obj), *r = NULL, *cur;
	json_t *cond = kp_ctrl__condition(obj, "Drifted");
	bool has = kp_ctrl__condition_true(obj, "Drifted");

	kp_cluster_init(&cl);
	cl.resnames = c->rn;
	if (kp_load_object(&cl, obj, "NodeClaim", "karpenter.sh/v1", "NodeClaim", &lo, NULL) != KP_OK || cl.nclaims != 1) {
		kp_cluster_free(&cl);
		return;
	}
	r = kp_disrupt_claim_drift(np, cl.claims[0]);
	cur = cond ? json_string_value(json_object_get(cond, "reason")) : NULL;
	if (r && !(has && kp_strcmp0(cur, r) == 0)) {
		kp_log_info(&x->log_drift, "marking drifted",
			    KP_LOG_FIELDS(kp_log_str("NodeClaim", name), kp_log_str("reason", r)));
		kp_ctrl__ext_claim_condition(c, &x->log_drift, name, "Drifted", "True", r, r);
	} else if (!r && cond && static_reason(cur) &&
		   kp_strcmp0(kp_labels_get(&cl.claims[0]->annotations, KPC_NODEPOOL_HASH_VERSION_ANN),
			      kp_labels_get(&np->meta_annotations, KPC_NODEPOOL_HASH_VERSION_ANN)) == 0) {
		/* a claim whose hash-version is not the pool's cannot be compared
		 * (the hash controller brings it to the pool's version, keeping the
		 * hash of a Drifted claim): it stays drifted */
		kp_ctrl__ext_claim_condition(c, &x->log_drift, name, "Drifted", NULL, NULL, NULL);
	}
	kp_cluster_free(&cl);
}

void kp_ctrl__claim_drift(struct kp_ctrl *c, const struct kp_nodepool *np)
{
	json_t **all = NULL;
	size_t n = 0;

	/* while the pool's own hash-version is not the current one, the hash
	 * controller is rewriting its claims (hash.c): compare after that, on the
	 * visit the pool's annotation write brings */
	if (!np || !np->name ||
	    kp_strcmp0(kp_labels_get(&np->meta_annotations, KPC_NODEPOOL_HASH_VERSION_ANN), KPC_NODEPOOL_HASH_VERSION) != 0)
		return;
	if (kp_informer_list(c->inf[KPC_NODECLAIMS], NULL, &all, &n, NULL))
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *labels = kp_ctrl__jget(all[i], "metadata.labels");

		if (kp_strcmp0(json_string_value(json_object_get(labels, KP_LABEL_NODEPOOL)), np->name) != 0 ||
		    !kp_ctrl__jstr(all[i], "status.providerID") || !kp_ctrl__condition_true(all[i], "Launched") ||
		    kp_ctrl__jget(all[i], "metadata.deletionTimestamp"))
			continue;
		one_claim(c, np, all[i]);
	}
	free(all);
}
