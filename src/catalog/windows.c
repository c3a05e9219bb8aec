/*
 * windows.c - Windows instance types for EC2NodeClasses of a Windows AMI
 * family (Windows2019, Windows2022, Windows2025), as the AWS provider's
 * instance types for such a class are (pkg/providers/instancetype/types.go
 * computeRequirements and computeCapacity, pkg/providers/amifamily/windows.go).
 *
 * For every Windows build the cluster's EC2NodeClasses use, each amd64
 * Linux type of an AWS catalog (a type with karpenter.k8s.aws/ labels) gets
 * a Windows variant with the same name: kubernetes.io/os=windows,
 * node.kubernetes.io/windows-build=<build>, pods 110 (Windows has no
 * ENI-limited pod density), kube-reserved memory 11 x pods + 255 Mi from
 * those pods, and the same offerings: the catalog carries Linux on-demand
 * prices only, so Windows types are priced as Linux (docs/catalog.md says
 * so). The scheduler keeps variants to their pools with a windows-build
 * requirement on every template (kp_catalog_windows_build).
 *
 * Cost: O(types x labels) per build, once per catalog.
 */
#include <string.h>

#include "karpenter/catalog.h"
#include "karpenter/labels.h"
#include "catalog/catalog_io.h"

#define WIN_PODS 110

static const struct {
	const char *family;
	const char *build;
} builds[] = {
	{ "Windows2019", "10.0.17763" },
	{ "Windows2022", "10.0.20348" },
	{ "Windows2025", "10.0.26100" },
};

const char *kp_catalog_windows_build(const char *ami_family)
{
	for (size_t i = 0; ami_family && i < KP_ARRAY_LEN(builds); i++)
		if (strcmp(builds[i].family, ami_family) == 0)
			return builds[i].build;
	return NULL;
}

static bool aws_linux_amd64(const struct kp_itype *it)
{
	const char *os = kp_labels_get(&it->labels, KP_LABEL_OS);
	const char *arch = kp_labels_get(&it->labels, KP_LABEL_ARCH);
	const char *cat = kp_labels_get(&it->labels, "karpenter.k8s.aws/instance-cpu");

	return os && strcmp(os, "linux") == 0 && arch && strcmp(arch, "amd64") == 0 && cat &&
	       !kp_labels_get(&it->labels, KP_LABEL_WINDOWS_BUILD);
}

static kp_err variant(struct kp_catalog *cat, const struct kp_itype *base, const char *build, struct kp_errbuf *eb)
{
	struct kp_itype *it = kp_arena_alloc(&cat->arena, sizeof(*it));
	kp_err rc;

	if (!it)
		return kp_errf(eb, KP_ERR_NOMEM, "catalog: out of memory");
	*it = *base;
	memset(&it->labels, 0, sizeof(it->labels));
	memset(&it->reqs, 0, sizeof(it->reqs));
	it->off = kp_arena_memdup(&cat->arena, base->off, (size_t)base->noff * sizeof(*base->off) + 1);
	rc = it->off ? kp_labels_copy(&it->labels, &cat->arena, &base->labels) : KP_ERR_NOMEM;
	if (!rc)
		rc = kp_labels_set(&it->labels, &cat->arena, KP_LABEL_OS, "windows");
	if (!rc)
		rc = kp_labels_set(&it->labels, &cat->arena, KP_LABEL_WINDOWS_BUILD, build);
	if (rc)
		return kp_errf(eb, KP_ERR_NOMEM, "catalog: out of memory");
	kp_itype_windows_pods(it);
	rc = kp_itype_finish(it, &cat->arena, eb);
	if (!rc)
		rc = kp_catalog_add(cat, it);
	return rc;
}

void kp_itype_windows_pods(struct kp_itype *it)
{
	it->capacity.v[KP_RES_PODS] = WIN_PODS;
	it->overhead.kube_reserved.v[KP_RES_MEMORY] = kp_catalog_aws_kube_memory(WIN_PODS);
}

kp_err kp_catalog_add_windows(struct kp_catalog *cat, const char *const *families, int nfamilies,
			      struct kp_errbuf *eb)
{
	int nbase = cat->n;
	bool added = false;

	for (size_t b = 0; b < KP_ARRAY_LEN(builds); b++) {
		bool want = false;
		for (int f = 0; f < nfamilies && !want; f++)
			want = families[f] && strcmp(families[f], builds[b].family) == 0;
		if (!want)
			continue;
		for (int i = 0; i < nbase; i++) {
			kp_err rc;
			if (!aws_linux_amd64(cat->types[i]))
				continue;
			rc = variant(cat, cat->types[i], builds[b].build, eb);
			if (rc)
				return rc;
			added = true;
		}
	}
	if (added)
		kp_catalog_sort(cat);
	return KP_OK;
}
