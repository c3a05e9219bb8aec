/*
 * requirements.h - node selector requirements with Karpenter's semantics
 * (sigs.k8s.io/karpenter pkg/scheduling/requirement.go, requirements.go).
 *
 * One struct kp_req is a set of allowed values for a key: either the listed
 * values (complement = false) or everything except them (complement = true),
 * optionally bounded by inclusive integer bounds gte/lte. Operators map as
 * Karpenter does: In = {values}; NotIn = complement{values}; Exists =
 * complement{}; DoesNotExist = {}; Gt n = complement{} with gte n+1;
 * Lt n = complement{} with lte n-1; Gte/Lte set the bound directly.
 *
 * A struct kp_reqs holds at most one kp_req per key, sorted by key. Values are
 * sorted and unique. Results of intersections are allocated in the arena
 * passed in; inputs are never modified unless the function says so.
 */
#ifndef KARPENTER_REQUIREMENTS_H
#define KARPENTER_REQUIREMENTS_H

#include "karpenter/base.h"
#include "karpenter/labels.h"

enum kp_op {
	KP_OP_IN,
	KP_OP_NOTIN,
	KP_OP_EXISTS,
	KP_OP_DOESNOTEXIST,
	KP_OP_GT,
	KP_OP_LT,
	KP_OP_GTE,
	KP_OP_LTE,
};

struct kp_req {
	const char *key;
	bool complement;
	bool has_gte, has_lte;
	int64_t gte, lte;      /* inclusive bounds when has_* */
	int min_values;        /* 0 = unset */
	int n;                 /* number of values */
	const char **values;   /* sorted (strcmp), unique */
};

struct kp_reqs {
	int n;
	int cap;
	struct kp_req *r;      /* sorted by key, unique keys */
};

/* Operator name as in manifests ("In", "NotIn", ..., "Gte", "Lte"); -1 if unknown. */
int kp_op_parse(const char *s);
const char *kp_op_name(enum kp_op op);

/* Builds a requirement from a manifest's key/operator/values. Normalizes the
 * key; validates value counts (In needs >= 1, Gt/Lt/Gte/Lte exactly one
 * non-negative integer, Exists/DoesNotExist none), min_values (0 = unset,
 * else 1..50, and In needs that many values), key syntax and In/NotIn value
 * syntax (kp_label_key_valid/kp_label_value_valid). Restricted keys are the
 * caller's check. Strings are copied into a; well-known keys are interned
 * (kp_label_intern) instead, which makes key comparisons O(1). */
kp_err kp_req_make(struct kp_req *out, struct kp_arena *a, const char *key, enum kp_op op,
		   const char *const *values, int nvalues, int min_values, struct kp_errbuf *eb);
/* The operator this requirement reads as (In, NotIn, Exists, DoesNotExist). */
enum kp_op kp_req_op(const struct kp_req *r);
/* True iff value is allowed. */
bool kp_req_has(const struct kp_req *r, const char *value);
/* True iff the two allow at least one common value (HasIntersection). */
bool kp_req_intersects(const struct kp_req *a, const struct kp_req *b);
/* out = a ∩ b (Intersection), allocated in arena; out may share a's or b's
 * value array when it equals it, and takes a's key. */
kp_err kp_req_intersect(struct kp_req *out, struct kp_arena *arena, const struct kp_req *a, const struct kp_req *b);
/* Number of allowed values; INT64_MAX-ish for complements. */
int64_t kp_req_len(const struct kp_req *r);
/* Human-readable form, e.g. "topology.kubernetes.io/zone In [a b]". */
char *kp_req_str(const struct kp_req *r, char *buf, size_t n);

void kp_reqs_init(struct kp_reqs *rs);
/* Requirement for key, or NULL. */
const struct kp_req *kp_reqs_get(const struct kp_reqs *rs, const char *key);
/* Adds r: if the key exists, replaces it by the intersection (Requirements.Add).
 * r's key and values are borrowed (kept by pointer). */
kp_err kp_reqs_add(struct kp_reqs *rs, struct kp_arena *a, const struct kp_req *r);
/* Adds every requirement of src into dst (intersecting on shared keys). */
kp_err kp_reqs_add_all(struct kp_reqs *dst, struct kp_arena *a, const struct kp_reqs *src);
/* Shallow copy (the requirement array is duplicated, values shared). */
kp_err kp_reqs_copy(struct kp_reqs *dst, struct kp_arena *a, const struct kp_reqs *src);
/* Requirements "key In [value]" for each label. */
kp_err kp_reqs_from_labels(struct kp_reqs *out, struct kp_arena *a, const struct kp_labels *l);

/* Karpenter's Requirements.Compatible with AllowUndefinedWellKnownLabels:
 * every key of `in` that rs does not define must be well known, or use
 * NotIn/DoesNotExist; shared keys must intersect (kp_reqs_intersects).
 * Returns false with the reason in eb ("label \"x\" does not have known
 * values", "key zone, zone In [b] not in zone In [a]"). */
bool kp_reqs_compatible(const struct kp_reqs *rs, const struct kp_reqs *in, struct kp_errbuf *eb);
/* Same with no undefined keys allowed at all (AllowUndefined = none). */
bool kp_reqs_compatible_strict(const struct kp_reqs *rs, const struct kp_reqs *in, struct kp_errbuf *eb);
/* Intersects: for keys in both, values overlap, except when both sides are
 * NotIn/DoesNotExist. */
bool kp_reqs_intersects(const struct kp_reqs *rs, const struct kp_reqs *in, struct kp_errbuf *eb);
/* True iff labels satisfy every requirement (a missing label satisfies only
 * NotIn/DoesNotExist). Used for nodes and for drift. Label keys are looked
 * up as stored (loaders normalize beta keys on insert). */
bool kp_reqs_match_labels(const struct kp_reqs *rs, const struct kp_labels *l, struct kp_errbuf *eb);
/* True iff labels satisfy at least one of terms[0..n): ORed alternatives
 * such as a PersistentVolume's nodeSelectorTerms or a StorageClass's
 * allowedTopologies (k8s MatchNodeSelectorTerms / MatchTopologySelectorTerms
 * against a node's labels). n <= 0 restricts nothing. */
bool kp_reqs_any_match_labels(const struct kp_reqs *terms, int n, const struct kp_labels *l);
/* Adds to out a label for every non-complement requirement with exactly
 * one value (how a NodeClaim's labels follow from its requirements). */
kp_err kp_reqs_single_value_labels(const struct kp_reqs *rs, struct kp_arena *a, struct kp_labels *out);
/* Karpenter's resolveCustomLabelsFromRequirements, made deterministic: for
 * every key that is not well known, kubernetes.io/hostname, or
 * karpenter.sh/registered|initialized, a label with the smallest allowed
 * value (In: first sorted value; NotIn/Exists: smallest integer >= 0 within
 * the bounds and not excluded; DoesNotExist: none). */
kp_err kp_reqs_custom_labels(const struct kp_reqs *rs, struct kp_arena *a, struct kp_labels *out);

#endif
