/*
 * catalog_io.h - library-internal parts of the catalog builders: output
 * (JSON and table), the AWS formulas and the spot price estimate.
 *
 * The JSON written by kp_catalog_to_json() is the `karpenter catalog -o json`
 * shape that kp_catalog_load_json() reads back:
 *   [{"name": "m5.large",
 *     "labels": {"kubernetes.io/arch": "amd64", ...},        sorted by key
 *     "capacity": {"cpu": "2", "memory": "7577Mi", ...},     quantity strings
 *     "allocatable": {"cpu": "1930m", ...},
 *     "offerings": [{"zone": "us-east-1a", "capacityType": "spot",
 *                    "price": 0.0345, "available": true}, ...]}, ...]
 * Resources with a zero capacity are left out; prices are USD per hour
 * printed with the fewest digits that read back to the same double.
 */
#ifndef KARPENTER_CATALOG_IO_H
#define KARPENTER_CATALOG_IO_H

#include <stdio.h>

#include "karpenter/catalog.h"

/* Cap on the JSON text of one catalog (read or written). */
#define KP_CATALOG_JSON_MAX (256u * 1024u * 1024u)

/* Appends the catalog as JSON (one type per line group, 2-space indent) to
 * out. rn names the resource indices. KP_ERR_LIMIT if out's cap is hit. */
kp_err kp_catalog_to_json(const struct kp_catalog *cat, const struct kp_resnames *rn,
			  struct kp_buf *out, struct kp_errbuf *eb);
/* Prints a table for people: NAME CPU MEMORY PODS ARCH SPOT ON-DEMAND ZONES
 * (capacity cpu/memory/pods, cheapest available spot and on-demand price,
 * zones with an available offering). KP_ERR_IO on a write error. */
kp_err kp_catalog_print_table(const struct kp_catalog *cat, const struct kp_resnames *rn, FILE *out,
			      struct kp_errbuf *eb);

/* ---- AWS (aws.c) ---- */

/* Estimated spot price, USD/hour, for instance type itype (family its
 * instance-family) in zone, given its on-demand price. Deterministic; see
 * docs/catalog.md. The place where DescribeSpotPriceHistory data goes. */
double kp_spot_estimate(const char *itype, const char *family, const char *zone, double od_price);

/* Adds the requirements the AWS provider gives every type beyond its
 * labels: DoesNotExist for each optional karpenter.k8s.aws/ key (GPU,
 * accelerator, local NVMe, bandwidths, capacity reservation, ...) and for
 * node.kubernetes.io/windows-build when the type has no such label, and
 * karpenter.k8s.aws/instance-tenancy In [default dedicated]. Call after
 * kp_itype_finish (which rebuilds requirements from the labels). */
kp_err kp_catalog_aws_requirements(struct kp_itype *it, struct kp_arena *a, struct kp_errbuf *eb);
/* True iff the type carries a karpenter.k8s.aws/ label (an AWS type). */
bool kp_catalog_is_aws_type(const struct kp_itype *it);

/* The provider's formulas (docs/allocatable.md), exposed for tests. */
/* Capacity memory in MiB: MiB (less 64 when the first architecture is
 * arm64) less ceil(7.5% of that). */
int64_t kp_catalog_aws_memory_mib(int64_t mib, bool first_arch_arm64);
/* The same with VM_MEMORY_OVERHEAD_PERCENT vm_overhead (0.075 = 7.5%). */
int64_t kp_catalog_aws_memory_mib_vm(int64_t mib, bool first_arch_arm64, double vm_overhead);
/* ENI-limited max pods: (enis - reserved) * (ipv4 - 1) + 2, or 0 if no ENI is left. */
int64_t kp_catalog_aws_eni_pods(int64_t enis, int64_t ipv4_per_eni, int64_t reserved_enis);
/* kube-reserved cpu in millicores for vcpus cores: 6% of the first core,
 * 1% of the second, 0.5% of cores 3-4, 0.25% of the rest. */
int64_t kp_catalog_aws_kube_cpu_milli(int64_t vcpus);
/* kube-reserved memory in bytes for a node of pods pods: (11 * pods + 255) MiB. */
int64_t kp_catalog_aws_kube_memory(int64_t pods);
/* Eviction threshold for ephemeral storage: ceil(10% of capacity bytes). */
int64_t kp_catalog_aws_eviction_storage(int64_t bytes);

#endif
