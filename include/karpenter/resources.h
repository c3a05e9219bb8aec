/*
 * resources.h - resource lists as fixed vectors.
 *
 * A struct kp_res holds one int64 per resource index: cpu in milli-cores,
 * everything else in whole units (bytes, counts). The first KP_RES_NWELLKNOWN
 * indices are fixed; further extended resources ("fake.com/vendor-a") get an
 * index from a struct kp_resnames owned by the caller (one per loaded world:
 * the catalog and manifests of one simulation share it). Fixed vectors make
 * the scheduler's fit checks a branch-free loop.
 *
 * A zero entry means "not present" for requests; for allocatable it means the
 * node offers none of it.
 */
#ifndef KARPENTER_RESOURCES_H
#define KARPENTER_RESOURCES_H

#include "karpenter/base.h"
#include "karpenter/quantity.h"

enum {
	KP_RES_CPU = 0,
	KP_RES_MEMORY,
	KP_RES_EPHEMERAL,         /* ephemeral-storage */
	KP_RES_PODS,
	KP_RES_NVIDIA_GPU,        /* nvidia.com/gpu */
	KP_RES_AMD_GPU,           /* amd.com/gpu */
	KP_RES_NEURON,            /* aws.amazon.com/neuron */
	KP_RES_NEURONCORE,        /* aws.amazon.com/neuroncore */
	KP_RES_GAUDI,             /* habana.ai/gaudi */
	KP_RES_EFA,               /* vpc.amazonaws.com/efa */
	KP_RES_POD_ENI,           /* vpc.amazonaws.com/pod-eni */
	KP_RES_PRIVATE_IPV4,      /* vpc.amazonaws.com/PrivateIPv4Address */
	KP_RES_HUGEPAGES_2MI,     /* hugepages-2Mi */
	KP_RES_HUGEPAGES_1GI,     /* hugepages-1Gi */
	KP_RES_NWELLKNOWN,
	KP_RES_MAX = 24,
};

#define KP_RES_NAME_MAX 128

struct kp_res {
	int64_t v[KP_RES_MAX];
};

struct kp_resnames {
	int n;                                     /* used entries, >= KP_RES_NWELLKNOWN */
	char name[KP_RES_MAX][KP_RES_NAME_MAX];
};

/* Fills the well-known names. */
void kp_resnames_init(struct kp_resnames *rn);
/* Index of name, registering it when new; -1 with eb set when the table is
 * full or the name is not a valid resource name. */
int kp_resnames_index(struct kp_resnames *rn, const char *name, struct kp_errbuf *eb);
/* Index of name or -1, without registering. */
int kp_resnames_find(const struct kp_resnames *rn, const char *name);
/* Scale used to parse a resource's quantities (KP_QTY_MILLI for cpu). */
int kp_res_scale(int idx);
/* Output style for a resource (binary for memory, storage, hugepages). */
enum kp_qty_style kp_res_style(const struct kp_resnames *rn, int idx);

/* Parses a quantity for resource idx into r->v[idx]. */
kp_err kp_res_set_str(struct kp_res *r, int idx, const char *qty, struct kp_errbuf *eb);

void kp_res_zero(struct kp_res *r);
bool kp_res_is_zero(const struct kp_res *r);
/* a += b; false on overflow (a then saturates at INT64_MAX). */
bool kp_res_add(struct kp_res *a, const struct kp_res *b);
/* a -= b (may go negative). */
void kp_res_sub(struct kp_res *a, const struct kp_res *b);
/* a = max(a, b) entrywise. */
void kp_res_max(struct kp_res *a, const struct kp_res *b);
/* true iff every entry of req <= avail; a 0 entry in req always fits (it is
 * absent). On false and bad_idx != NULL, *bad_idx is the first resource that
 * does not fit. */
bool kp_res_fits(const struct kp_res *req, const struct kp_res *avail, int *bad_idx);
/* true iff used.v[i] > limit.v[i] for some i whose bit is set in mask (mask
 * bit i set = resource i is limited; unmasked entries are ignored, so an
 * explicit limit of 0 needs its bit). On true and bad_idx != NULL, *bad_idx
 * is the first resource over its limit. */
bool kp_res_exceeds(const struct kp_res *used, const struct kp_res *limit, uint32_t mask, int *bad_idx);

#endif
