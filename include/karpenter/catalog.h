/*
 * catalog.h - instance types and their offerings (the cloud's menu).
 *
 * An instance type has requirements derived from its labels (each label a
 * single-value In requirement) plus zone and capacity-type requirements over
 * its offerings, a capacity, an overhead and the allocatable that follows
 * (capacity - kubeReserved - systemReserved - evictionThreshold). Offerings
 * are (zone, capacity type, price, available). A catalog owns an arena that
 * holds all of it. Types are sorted by name.
 */
#ifndef KARPENTER_CATALOG_H
#define KARPENTER_CATALOG_H

#include "karpenter/base.h"
#include "karpenter/labels.h"
#include "karpenter/objects.h"
#include "karpenter/requirements.h"
#include "karpenter/resources.h"

struct kp_offering {
	const char *zone;
	enum kp_captype captype;
	double price;                 /* USD per hour */
	bool available;
};

/* A capacity reservation's size (Karpenter's Offering.ReservationCapacity):
 * the instances left in the reserved offering of that zone. */
struct kp_reservation {
	const char *zone;
	int64_t capacity;
};

struct kp_overhead {
	struct kp_res kube_reserved;
	struct kp_res system_reserved;
	struct kp_res eviction_threshold;
};

struct kp_itype {
	const char *name;
	struct kp_labels labels;      /* instance-type, arch, os, karpenter.k8s.aws/... */
	struct kp_reqs reqs;          /* labels as In + zone In [...] + capacity-type In [...] */
	struct kp_res capacity;
	struct kp_overhead overhead;
	struct kp_res allocatable;    /* capacity - overhead, floored at 0 */
	int noff;
	struct kp_offering *off;      /* sorted by (price, zone, captype) */
	int nresv;                    /* reserved offerings with a counted reservation */
	const struct kp_reservation *resv;
};

/* The counted reservation of it's reserved offering in zone, NULL if none
 * (the offering, if any, is then not counted). */
const struct kp_reservation *kp_itype_reservation(const struct kp_itype *it, const char *zone);

struct kp_catalog {
	struct kp_arena arena;
	const char *name;             /* "aws-us-east-1", "kwok", or the file path */
	const char *region;
	int n;
	int cap;                      /* allocated slots in types (kp_catalog_add) */
	struct kp_itype **types;      /* sorted by name */
	bool zones_from_base;         /* a kubelet variant: offerings as the base
				       * catalog's, not limited to a class's zones */
};

void kp_catalog_init(struct kp_catalog *cat);
void kp_catalog_free(struct kp_catalog *cat);
/* Looks a type up by name (binary search); NULL if absent. */
const struct kp_itype *kp_catalog_find(const struct kp_catalog *cat, const char *name);
/* Completes a type after its fields are set: allocatable = capacity -
 * overhead, floored at 0 per entry, and memory also minus the hugepages-2Mi
 * and hugepages-1Gi capacity (Karpenter's computeAllocatable); requirements
 * rebuilt from scratch: "key In [value]" per label (normalized key), zone In
 * [zones of all offerings] and capacity-type In [capacity types of all
 * offerings], available or not (DoesNotExist when there are no offerings);
 * offerings sorted by (price, zone, capacity type). Allocates in a.
 * Call once per type before use; calling it again is harmless. */
kp_err kp_itype_finish(struct kp_itype *it, struct kp_arena *a, struct kp_errbuf *eb);
/* allocatable = capacity - overhead as kp_itype_finish computes it, without
 * touching requirements or offerings. */
void kp_itype_allocatable(struct kp_itype *it);
/* Karpenter's AWS pods and overhead (pkg/providers/instancetype/types.go
 * pods, kubeReservedResources, systemReservedResources, evictionThreshold)
 * for an AWS type it of the built-in catalog under kubelet settings k and
 * AMI family (NULL = AL2023): pods = maxPods, else the type's (ENI-limited
 * or Windows 110) pods, capped at podsPerCore x vCPU (not Bottlerocket);
 * kubeReserved defaults replaced per key; systemReserved as given; eviction
 * memory/ephemeral-storage = the larger of evictionHard and (not
 * Bottlerocket) evictionSoft's memory.available / nodefs.available, else
 * the defaults. Then allocatable. A non-AWS type or k unset: unchanged.
 * KP_ERR_INVALID (message names the field) for a bad quantity. */
kp_err kp_itype_aws_kubelet(struct kp_itype *it, const struct kp_kubelet *k, const char *family,
			    struct kp_errbuf *eb);
/* A catalog whose types are base's under kubelet settings k (above);
 * offerings and labels shared with base, which must outlive out.
 * out->zones_from_base is set. */
kp_err kp_catalog_with_kubelet(struct kp_catalog *out, const struct kp_catalog *base, const struct kp_kubelet *k,
			       const char *family, struct kp_errbuf *eb);
/* The simulator's per-NodePool catalogs: for each pool with kubelet settings
 * (its v1beta1 template kubelet, else its EC2NodeClass's v1 kubelet), base
 * under them (kp_catalog_with_kubelet). kp_pool_kubelet_catalog is a
 * kp_sched_input.pool_catalog callback (ctx = the kp_pool_kubelet): NULL
 * for pools without settings. */
struct kp_pool_kubelet {
	int n;
	const struct kp_nodepool **pools;
	struct kp_catalog *cats;
};
kp_err kp_pool_kubelet_build(struct kp_pool_kubelet *pk, const struct kp_cluster *cl, const struct kp_catalog *base,
			     struct kp_errbuf *eb);
const struct kp_catalog *kp_pool_kubelet_catalog(void *ctx, const struct kp_nodepool *np);
void kp_pool_kubelet_free(struct kp_pool_kubelet *pk);
/* Sorts types by name (kp_catalog_find needs it); call after adding types. */
void kp_catalog_sort(struct kp_catalog *cat);
/* Appends a type (allocated in cat->arena). */
kp_err kp_catalog_add(struct kp_catalog *cat, struct kp_itype *it);
/* node.kubernetes.io/windows-build of an EC2NodeClass amiFamily
 * (Windows2019/2022/2025), NULL for the others. */
const char *kp_catalog_windows_build(const char *ami_family);
/* Adds a Windows variant (same name, os windows, that build, pods 110) of
 * every amd64 Linux AWS type for each Windows family in families, then
 * sorts (src/catalog/windows.c). No-op without a Windows family. */
/* Windows pod density on it: 110 pods (no ENI limit) and the kube-reserved
 * memory for them (src/catalog/windows.c). */
void kp_itype_windows_pods(struct kp_itype *it);
kp_err kp_catalog_add_windows(struct kp_catalog *cat, const char *const *families, int nfamilies,
			      struct kp_errbuf *eb);

/* ---- the simulated VPC's subnets (src/catalog/subnets.c) ---- */
/* The simulated subnet of a zone is "subnet-<zone>", tagged Name=subnet-<zone>,
 * topology.kubernetes.io/zone=<zone> and karpenter.sh/discovery (any value).
 * True iff term t selects zone's subnet. */
bool kp_subnet_term_selects(const struct kp_subnet_term *t, const char *zone);
/* True iff a subnet of zone is selected by nc's subnetSelectorTerms (also
 * when nc is NULL or has no terms: no restriction). */
bool kp_subnet_zone_selected(const struct kp_nodeclass *nc, const char *zone);

/* Cheapest available offering compatible with reqs (zone and capacity type
 * requirements; a missing key allows all); ties by zone then capacity type.
 * NULL if none. */
const struct kp_offering *kp_itype_cheapest(const struct kp_itype *it, const struct kp_reqs *reqs);
/* True iff offering o satisfies reqs' zone and capacity-type requirements. */
bool kp_offering_compatible(const struct kp_offering *o, const struct kp_reqs *reqs);

/* ---- builders (src/catalog/) ---- */
/* Built-in AWS catalog for a region from the data directory (data/aws/...).
 * datadir is the directory holding the CSV files. */
kp_err kp_catalog_load_aws(struct kp_catalog *cat, struct kp_resnames *rn, const char *datadir,
			   const char *region, struct kp_errbuf *eb);
/* The AWS provider's settings that change the built-in types
 * (pkg/operator/options): VM_MEMORY_OVERHEAD_PERCENT (0.075) is taken off
 * memory capacity; RESERVED_ENIS (0) are kept out of ENI-limited pods. */
struct kp_catalog_aws_opts {
	double vm_memory_overhead;
	int64_t reserved_enis;
};
void kp_catalog_aws_opts_init(struct kp_catalog_aws_opts *o);
/* kp_catalog_load_aws with those settings; KP_ERR_INVALID for a percent
 * outside [0, 1) or negative reserved ENIs. */
kp_err kp_catalog_load_aws_opts(struct kp_catalog *cat, struct kp_resnames *rn, const char *datadir,
				const char *region, const struct kp_catalog_aws_opts *o, struct kp_errbuf *eb);
/* Karpenter's kwok catalog (144 types, zones test-zone-a..d). */
kp_err kp_catalog_build_kwok(struct kp_catalog *cat, struct kp_resnames *rn, struct kp_errbuf *eb);
/* Catalog from a JSON file in the `karpenter catalog -o json` shape. */
kp_err kp_catalog_load_json(struct kp_catalog *cat, struct kp_resnames *rn, const char *path,
			    struct kp_errbuf *eb);
/* Resolves NAME|FILE: "aws" / "aws-us-east-1" (default when NULL), "kwok",
 * else a JSON file path. datadir locates the built-in data. */
kp_err kp_catalog_open(struct kp_catalog *cat, struct kp_resnames *rn, const char *name_or_file,
		       const char *datadir, struct kp_errbuf *eb);

#endif
