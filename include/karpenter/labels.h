/*
 * labels.h - label maps and the well-known label keys.
 *
 * A struct kp_labels is an array of key/value pairs sorted by key with unique
 * keys; lookups are binary searches. Storage belongs to an arena passed to
 * the mutating calls. Keys are normalized on insert by the loaders: the beta
 * keys (beta.kubernetes.io/arch, failure-domain.beta.kubernetes.io/zone, ...)
 * become their stable names (see kp_label_normalize).
 */
#ifndef KARPENTER_LABELS_H
#define KARPENTER_LABELS_H

#include "karpenter/base.h"

#define KP_LABEL_ZONE          "topology.kubernetes.io/zone"
#define KP_LABEL_REGION        "topology.kubernetes.io/region"
#define KP_LABEL_ZONE_ID       "topology.k8s.aws/zone-id"
#define KP_LABEL_INSTANCE_TYPE "node.kubernetes.io/instance-type"
#define KP_LABEL_ARCH          "kubernetes.io/arch"
#define KP_LABEL_OS            "kubernetes.io/os"
#define KP_LABEL_HOSTNAME      "kubernetes.io/hostname"
#define KP_LABEL_WINDOWS_BUILD "node.kubernetes.io/windows-build"
#define KP_LABEL_CAPACITY_TYPE "karpenter.sh/capacity-type"
#define KP_LABEL_NODEPOOL      "karpenter.sh/nodepool"
#define KP_LABEL_REGISTERED    "karpenter.sh/registered"
#define KP_LABEL_INITIALIZED   "karpenter.sh/initialized"
#define KP_ANN_DO_NOT_DISRUPT  "karpenter.sh/do-not-disrupt"

#define KP_CT_ON_DEMAND "on-demand"
#define KP_CT_SPOT      "spot"
#define KP_CT_RESERVED  "reserved"

struct kp_kv {
	const char *key;
	const char *value;
};

struct kp_labels {
	int n;
	int cap;
	struct kp_kv *kv;   /* sorted by key */
};

/* Value for key, or NULL. */
const char *kp_labels_get(const struct kp_labels *l, const char *key);
bool kp_labels_has(const struct kp_labels *l, const char *key);
/* Inserts or replaces; strings are borrowed (caller keeps them alive, e.g. in
 * the same arena). Returns KP_ERR_NOMEM on allocation failure. */
kp_err kp_labels_set(struct kp_labels *l, struct kp_arena *a, const char *key, const char *value);
/* Deep copy of src into dst (strings shared). */
kp_err kp_labels_copy(struct kp_labels *dst, struct kp_arena *a, const struct kp_labels *src);

/* Stable key for a deprecated beta key, or key itself. */
const char *kp_label_normalize(const char *key);
/* Keys Karpenter treats as well known (may be undefined on a NodePool).
 * Includes the AWS provider's karpenter.k8s.aws/ instance labels and the
 * kwok provider's karpenter.kwok.sh/ labels. */
bool kp_label_is_well_known(const char *key);
/* The canonical static copy of a well-known key (so that equal keys are
 * equal pointers and kp_label_is_well_known is O(1) on it); any other key
 * is returned unchanged. kp_req_make and kp_reqs_from_labels intern keys. */
const char *kp_label_intern(const char *key);
/* Keys a NodePool may not set or require (kubernetes.io/hostname,
 * karpenter.sh/ domain except capacity-type; karpenter.sh/nodepool itself;
 * the providers' karpenter.k8s.aws/ and karpenter.kwok.sh/ domains except
 * their well-known keys, e.g. karpenter.k8s.aws/ec2nodeclass). */
bool kp_label_is_restricted(const char *key);
/* Karpenter's IsRestrictedLabel exactly, as applied to pod nodeSelector and
 * node affinity: like kp_label_is_restricted but allows karpenter.sh/nodepool
 * (a well-known key). Restricted domains: karpenter.sh, karpenter.k8s.aws,
 * karpenter.kwok.sh and their subdomains, minus well-known keys. */
bool kp_label_is_restricted_for_pod(const char *key);
/* The well-known keys in precedence order (core's first, then the AWS
 * provider's and kwok's), for typo hints and tests; *n gets the count. */
const char *const *kp_label_well_known_keys(int *n);
/* WellKnownValuesForRequirements: the valid values of a well-known key
 * (capacity-type: on-demand reserved spot; instance-tenancy: dedicated
 * default), sorted; NULL and *n = 0 when the key has no fixed set. */
const char *const *kp_label_known_values(const char *key, int *n);
/* Syntax checks as Kubernetes validates them; false with a reason in eb. */
bool kp_label_key_valid(const char *key, struct kp_errbuf *eb);
bool kp_label_value_valid(const char *value, struct kp_errbuf *eb);

/* ---- internal: the interned well-known keys ----
 * Rows sorted by strcmp in one block, so interned keys compare by address
 * (requirements.c uses this in its inner loops). Not for other modules. */
#define KP__WK_ROW 64
extern const char kp__well_known[][KP__WK_ROW];
extern const int kp__well_known_n;
static inline bool kp__is_interned(const char *key)
{
	return (uintptr_t)key - (uintptr_t)kp__well_known < (size_t)kp__well_known_n * KP__WK_ROW;
}

#endif
