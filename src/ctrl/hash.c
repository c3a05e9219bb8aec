/*
 * hash.c - the hash controllers' shared part and the node class hash:
 *   - kp_ctrl__hash_claims: when a parent's (NodePool's, node class's)
 *     hash-version annotation is not the current version, the hash
 *     controllers first bring the parent's NodeClaims to the current
 *     version: each claim whose hash-version differs gets the current
 *     version and, unless it already has a Drifted condition (the old hash
 *     cannot be compared any more, so a drifted claim stays drifted), the
 *     parent's current hash. A cluster taken over from Karpenter (claims
 *     with Karpenter's hash and version) is thus not drifted en masse;
 *   - kp_ctrl__nc_hash: the node class hash controller: the hash the
 *     provider puts on the NodeClaims it launches (nodeclass_hash op, AWS:
 *     karpenter.k8s.aws/ec2nodeclass-hash and -hash-version) written on
 *     the class object itself; a provider without that op writes nothing.
 *
 * Mirrors sigs.k8s.io/karpenter pkg/controllers/nodepool/hash/controller.go
 * (Reconcile, updateNodeClaimHash) and karpenter-provider-aws
 * pkg/controllers/nodeclass/hash/controller.go (the same for EC2NodeClass,
 * its NodeClaims found by spec.nodeClassRef as nodeclaimutils.ForNodeClass).
 *
 * Cost: O(claims) scan of the informer when the version differs (rare: an
 * upgrade or a take-over), one merge patch per claim that changes, none
 * otherwise. Runs on the loop thread: no cloud call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ext_int.h"
#include "karpenter/labels.h"

static const struct kp_kube_res RES_NC = { "karpenter.k8s.aws", "v1", "ec2nodeclasses", false };

static const char *ann_of(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(kp_ctrl__jget(obj, "metadata.annotations"), key));
}

bool kp_ctrl__hash_claim_of_pool(const json_t *claim, const char *pool)
{
	return kp_strcmp0(json_string_value(json_object_get(kp_ctrl__jget(claim, "metadata.labels"), KP_LABEL_NODEPOOL)),
			  pool) == 0;
}

bool kp_ctrl__hash_claim_of_class(const json_t *claim, const char *nodeclass)
{
	const char *group = kp_ctrl__jstr(claim, "spec.nodeClassRef.group");
	const char *kind = kp_ctrl__jstr(claim, "spec.nodeClassRef.kind");

	return kp_strcmp0(kp_ctrl__jstr(claim, "spec.nodeClassRef.name"), nodeclass) == 0 &&
	       (!kind || strcmp(kind, "EC2NodeClass") == 0) && (!group || strcmp(group, RES_NC.group) == 0);
}

int kp_ctrl__hash_claims(struct kp_ctrl *c, const struct kp_log *log, bool (*of)(const json_t *claim, const char *parent),
			 const char *parent, const char *hash_key, const char *hash, const char *ver_key, const char *ver)
{
	json_t **all = NULL, *todo = json_object(), *patch;
	size_t n = 0;
	const char *name;
	int rc = 0;

	if (!todo)
		return -1;
	if (kp_informer_list(c->inf[KPC_NODECLAIMS], NULL, &all, &n, NULL)) {
		json_decref(todo);
		return -1;
	}
	/* the patches first (borrowed objects), then the writes */
	for (size_t i = 0; i < n; i++) {
		json_t *ann;

		if (!of(all[i], parent) || kp_strcmp0(ann_of(all[i], ver_key), ver) == 0)
			continue;
		ann = json_pack("{s:s}", ver_key, ver);
		if (ann && !kp_ctrl__condition(all[i], "Drifted") && kp_strcmp0(ann_of(all[i], hash_key), hash) != 0)
			json_object_set_new(ann, hash_key, json_string(hash));
		if (ann)
			json_object_set_new(todo, kp_ctrl__ext_name(all[i]), json_pack("{s:{s:o}}", "metadata", "annotations", ann));
	}
	free(all);
	json_object_foreach(todo, name, patch) {
		struct kp_kube_status ks = { 0 };
		struct kp_errbuf eb = { 0 };

		if (kp_kube_patch(c->kc, &KP_KUBE_NODECLAIMS, NULL, name, KP_PATCH_MERGE, patch, NULL, NULL, &ks, &eb)) {
			if (kp_kube_is_notfound(&ks))
				continue;
			kp_log_error(log, "failed to update nodeclaim hash",
				     KP_LOG_FIELDS(kp_log_object("NodeClaim", name), kp_log_errmsg(eb.msg)));
			rc = -1;
		} else {
			const char *nh = json_string_value(json_object_get(kp_ctrl__jget(patch, "metadata.annotations"), hash_key));

			kp_log_info(log, "updated nodeclaim hash",
				    KP_LOG_FIELDS(kp_log_object("NodeClaim", name), kp_log_str(ver_key, ver),
						  kp_log_str(hash_key, nh ? nh : "(kept)")));
		}
	}
	json_decref(todo);
	return rc;
}

void kp_ctrl__nc_hash(struct kp_ctrl *c, const struct kp_log *log, json_t *obj)
{
	const char *name = kp_ctrl__ext_name(obj);
	struct kp_cloud_hash h;
	struct kp_errbuf eb = { 0 };
	struct kp_kube_status ks = { 0 };
	char *text = json_dumps(obj, JSON_COMPACT);
	json_t *patch;

	if (!text)
		return;
	if (kp_cloud_nodeclass_hash(c->cloud_raw, text, &h, &eb)) {
		free(text);
		kp_log_error(log, "could not hash nodeclass", KP_LOG_FIELDS(kp_log_str("EC2NodeClass", name), kp_log_errmsg(eb.msg)));
		return;
	}
	free(text);
	if (!h.key[0])
		return;   /* the provider keeps no node class hash */
	if (kp_strcmp0(ann_of(obj, h.version_key), h.version) != 0 &&
	    kp_ctrl__hash_claims(c, log, kp_ctrl__hash_claim_of_class, name, h.key, h.value, h.version_key, h.version))
		return;   /* retried on the next visit */
	if (kp_strcmp0(ann_of(obj, h.key), h.value) == 0 && kp_strcmp0(ann_of(obj, h.version_key), h.version) == 0)
		return;
	patch = json_pack("{s:{s:{s:s, s:s}}}", "metadata", "annotations", h.key, h.value, h.version_key, h.version);
	if (patch && kp_kube_patch(c->kc, &RES_NC, NULL, name, KP_PATCH_MERGE, patch, NULL, NULL, &ks, &eb) &&
	    !kp_kube_is_notfound(&ks))
		kp_log_error(log, "failed to annotate nodeclass", KP_LOG_FIELDS(kp_log_str("EC2NodeClass", name), kp_log_errmsg(eb.msg)));
	json_decref(patch);
}
