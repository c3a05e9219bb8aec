/*
 * kubelet.c - an AWS instance type's pods and allocatable under a class's
 * kubelet settings (EC2NodeClass spec.kubelet, v1beta1 NodePool kubelet).
 *
 * Mirrors pkg/providers/instancetype/types.go of karpenter-provider-aws:
 * pods(), kubeReservedResources(), systemReservedResources() and
 * evictionThreshold(), with the family feature flags of
 * pkg/providers/amifamily (PodsPerCoreEnabled and EvictionSoftEnabled are
 * false for Bottlerocket; UsesENILimitedMemoryOverhead for AL2, AL2023 and
 * Custom). The defaults (no settings) are what src/catalog/aws.c and
 * windows.c computed, so an unset kubelet changes nothing. Used by the
 * simulator (per NodePool catalogs) and by the AWS provider's class
 * catalogs (src/cloud/aws/provider.c), so both plan with the same numbers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "karpenter/catalog.h"
#include "karpenter/quantity.h"
#include "catalog/catalog_io.h"

static bool family_is(const char *family, const char *f)
{
	return family && strncmp(family, f, strlen(f)) == 0;
}

/* A quantity of resource res (cpu in milli, the rest in units). */
static kp_err qty(const char *field, const char *key, const char *v, int res, int64_t *out, struct kp_errbuf *eb)
{
	struct kp_errbuf e2 = { 0 };

	if (kp_qty_parse(v, res == KP_RES_CPU ? KP_QTY_MILLI : KP_QTY_UNIT, out, &e2) || *out < 0)
		return kp_errf(eb, KP_ERR_INVALID, "kubelet.%s.%s: %s", field, key,
			       e2.msg[0] ? e2.msg : "must not be negative");
	return KP_OK;
}

/* evictionThreshold's computeEvictionSignal: "N%" of capacity (ceil), or a quantity. */
static kp_err signal(const char *field, const char *key, const char *v, int64_t capacity, int64_t *out,
		     struct kp_errbuf *eb)
{
	size_t n = strlen(v);

	if (n > 1 && v[n - 1] == '%') {
		char num[32];
		int64_t milli;

		if (n - 1 >= sizeof(num))
			return kp_errf(eb, KP_ERR_INVALID, "kubelet.%s.%s: bad percentage \"%s\"", field, key, v);
		memcpy(num, v, n - 1);
		num[n - 1] = 0;
		if (qty(field, key, num, KP_RES_CPU, &milli, eb))
			return KP_ERR_INVALID;
		if (milli > 100000)
			return kp_errf(eb, KP_ERR_INVALID, "kubelet.%s.%s: %s is over 100%%", field, key, v);
		/* math.Ceil(float64(capacity) / 100 * p), as Karpenter */
		*out = (int64_t)ceil((double)capacity / 100.0 * ((double)milli / 1000.0));
		return KP_OK;
	}
	return qty(field, key, v, KP_RES_MEMORY, out, eb);
}

static const struct {
	const char *key;
	int res;
} reserved_keys[] = { { "cpu", KP_RES_CPU }, { "memory", KP_RES_MEMORY }, { "ephemeral-storage", KP_RES_EPHEMERAL } };

kp_err kp_itype_aws_kubelet(struct kp_itype *it, const struct kp_kubelet *k, const char *family,
			    struct kp_errbuf *eb)
{
	bool bottlerocket = family_is(family, "Bottlerocket");
	bool eni_overhead = !family || family_is(family, "AL2") || family_is(family, "Custom");
	int64_t pods, vcpu, v;
	struct kp_res evict = { { 0 } };
	bool evict_set[2] = { false, false };

	if (!k || !k->set || !kp_catalog_is_aws_type(it))
		return KP_OK;
	/* pods(): maxPods, else the type's default (ENI-limited; 110 for the
	 * Windows variants), capped by podsPerCore x vCPU */
	pods = k->max_pods > 0 ? k->max_pods : it->capacity.v[KP_RES_PODS];
	vcpu = it->capacity.v[KP_RES_CPU] / 1000;
	if (k->pods_per_core > 0 && !bottlerocket && k->pods_per_core * vcpu < pods)
		pods = k->pods_per_core * vcpu;
	/* kubeReserved memory follows the resolved pods unless the family
	 * uses the ENI-limited count (then the base catalog's value stands) */
	if (!eni_overhead)
		it->overhead.kube_reserved.v[KP_RES_MEMORY] = kp_catalog_aws_kube_memory(pods);
	it->capacity.v[KP_RES_PODS] = pods;
	for (size_t i = 0; i < KP_ARRAY_LEN(reserved_keys); i++) {
		const char *s = kp_labels_get(&k->kube_reserved, reserved_keys[i].key);

		if (s && qty("kubeReserved", reserved_keys[i].key, s, reserved_keys[i].res,
			     &it->overhead.kube_reserved.v[reserved_keys[i].res], eb))
			return KP_ERR_INVALID;
		s = kp_labels_get(&k->system_reserved, reserved_keys[i].key);
		v = 0;
		if (s && qty("systemReserved", reserved_keys[i].key, s, reserved_keys[i].res, &v, eb))
			return KP_ERR_INVALID;
		it->overhead.system_reserved.v[reserved_keys[i].res] = v;
	}
	/* evictionThreshold: the larger of the signals given, else the default */
	for (int m = 0; m < 2; m++) {
		const struct kp_labels *sig = m == 0 ? &k->eviction_hard : &k->eviction_soft;
		const char *field = m == 0 ? "evictionHard" : "evictionSoft";
		const char *s;

		if (m == 1 && bottlerocket)
			break;
		if ((s = kp_labels_get(sig, "memory.available"))) {
			if (signal(field, "memory.available", s, it->capacity.v[KP_RES_MEMORY], &v, eb))
				return KP_ERR_INVALID;
			if (!evict_set[0] || v > evict.v[KP_RES_MEMORY])
				evict.v[KP_RES_MEMORY] = v;
			evict_set[0] = true;
		}
		if ((s = kp_labels_get(sig, "nodefs.available"))) {
			if (signal(field, "nodefs.available", s, it->capacity.v[KP_RES_EPHEMERAL], &v, eb))
				return KP_ERR_INVALID;
			if (!evict_set[1] || v > evict.v[KP_RES_EPHEMERAL])
				evict.v[KP_RES_EPHEMERAL] = v;
			evict_set[1] = true;
		}
	}
	if (evict_set[0])
		it->overhead.eviction_threshold.v[KP_RES_MEMORY] = evict.v[KP_RES_MEMORY];
	if (evict_set[1])
		it->overhead.eviction_threshold.v[KP_RES_EPHEMERAL] = evict.v[KP_RES_EPHEMERAL];
	kp_itype_allocatable(it);
	return KP_OK;
}

kp_err kp_catalog_with_kubelet(struct kp_catalog *out, const struct kp_catalog *base, const struct kp_kubelet *k,
			       const char *family, struct kp_errbuf *eb)
{
	kp_catalog_init(out);
	out->name = base->name;
	out->region = base->region;
	out->zones_from_base = true;
	for (int i = 0; i < base->n; i++) {
		struct kp_itype *it = kp_arena_alloc(&out->arena, sizeof(*it));
		kp_err rc;

		if (!it)
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		*it = *base->types[i];
		rc = kp_itype_aws_kubelet(it, k, family, eb);
		if (!rc)
			rc = kp_catalog_add(out, it);
		if (rc == KP_ERR_NOMEM)
			return kp_errf(eb, rc, "out of memory");
		if (rc)
			return rc;
	}
	return KP_OK;
}

/* ---- per NodePool variants for the simulator ---- */

static const struct kp_nodeclass *class_of(const struct kp_cluster *cl, const struct kp_nodepool *np)
{
	for (int i = 0; np->node_class.name && i < cl->nnodeclasses; i++)
		if (cl->nodeclasses[i]->name && strcmp(cl->nodeclasses[i]->name, np->node_class.name) == 0)
			return cl->nodeclasses[i];
	return NULL;
}

kp_err kp_pool_kubelet_build(struct kp_pool_kubelet *pk, const struct kp_cluster *cl, const struct kp_catalog *base,
			     struct kp_errbuf *eb)
{
	memset(pk, 0, sizeof(*pk));
	if (cl->npools == 0)
		return KP_OK;
	pk->pools = calloc((size_t)cl->npools, sizeof(*pk->pools));
	pk->cats = calloc((size_t)cl->npools, sizeof(*pk->cats));
	if (!pk->pools || !pk->cats)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	for (int i = 0; i < cl->npools; i++) {
		const struct kp_nodepool *np = cl->pools[i];
		const struct kp_nodeclass *nc = class_of(cl, np);
		const struct kp_kubelet *k = np->kubelet.set ? &np->kubelet : nc && nc->kubelet.set ? &nc->kubelet : NULL;
		kp_err rc;

		if (!k)
			continue;
		rc = kp_catalog_with_kubelet(&pk->cats[pk->n], base, k, nc ? nc->ami_family : NULL, eb);
		pk->pools[pk->n++] = np;
		if (rc) {
			kp_err_prefix(eb, "nodepool \"%s\": ", np->name);
			return rc;
		}
	}
	return KP_OK;
}

const struct kp_catalog *kp_pool_kubelet_catalog(void *ctx, const struct kp_nodepool *np)
{
	const struct kp_pool_kubelet *pk = ctx;

	for (int i = 0; pk && i < pk->n; i++)
		if (pk->pools[i] == np)
			return &pk->cats[i];
	return NULL;
}

void kp_pool_kubelet_free(struct kp_pool_kubelet *pk)
{
	for (int i = 0; pk->cats && i < pk->n; i++)
		kp_catalog_free(&pk->cats[i]);
	free(pk->cats);
	free(pk->pools);
	memset(pk, 0, sizeof(*pk));
}
