/*
 * test_kubelet.c - the AWS types under kubelet settings and provider
 * settings (src/catalog/kubelet.c, kp_catalog_load_aws_opts): Karpenter's
 * pkg/providers/instancetype/types.go pods, kubeReservedResources,
 * evictionThreshold, and VM_MEMORY_OVERHEAD_PERCENT / RESERVED_ENIS.
 * m5.large: 2 vCPU, 8192 MiB, 3 ENIs x 10 IPv4 (docs/allocatable.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/catalog.h"

#define MI ((int64_t)1024 * 1024)
#define GI (MI * 1024)

static struct kp_arena A;

static struct kp_itype m5(const struct kp_catalog *cat)
{
	const struct kp_itype *it = kp_catalog_find(cat, "m5.large");

	assert_non_null(it);
	return *it;
}

static void set(struct kp_labels *l, const char *k, const char *v)
{
	assert_int_equal(kp_labels_set(l, &A, k, v), KP_OK);
}

static void test_provider_settings(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_catalog_aws_opts o;
	struct kp_errbuf eb = { 0 };
	struct kp_itype it;
	(void)state;

	kp_resnames_init(&rn);
	kp_catalog_aws_opts_init(&o);
	o.vm_memory_overhead = 0.1;
	o.reserved_enis = 1;
	assert_int_equal(kp_catalog_load_aws_opts(&cat, &rn, "data", "us-east-1", &o, &eb), KP_OK);
	it = m5(&cat);
	/* 8192 - ceil(819.2) */
	assert_int_equal(it.capacity.v[KP_RES_MEMORY], 7372 * MI);
	/* (3 - 1) x 9 + 2 */
	assert_int_equal(it.capacity.v[KP_RES_PODS], 20);
	/* kube-reserved memory keeps the ENI count without reserved ENIs */
	assert_int_equal(it.overhead.kube_reserved.v[KP_RES_MEMORY], 574 * MI);
	assert_int_equal(it.allocatable.v[KP_RES_MEMORY], (7372 - 574 - 100) * MI);
	kp_catalog_free(&cat);

	o.vm_memory_overhead = 1.5;
	assert_int_equal(kp_catalog_load_aws_opts(&cat, &rn, "data", "us-east-1", &o, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "VM memory overhead"));
	kp_catalog_free(&cat);
}

static void test_kubelet(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = { 0 };
	struct kp_kubelet k;
	struct kp_itype it;
	(void)state;

	kp_arena_init(&A);
	kp_resnames_init(&rn);
	assert_int_equal(kp_catalog_load_aws(&cat, &rn, "data", "us-east-1", &eb), KP_OK);

	/* unset: unchanged */
	memset(&k, 0, sizeof(k));
	it = m5(&cat);
	assert_int_equal(kp_itype_aws_kubelet(&it, &k, "AL2023", &eb), KP_OK);
	assert_int_equal(it.allocatable.v[KP_RES_CPU], 1930);
	assert_int_equal(it.allocatable.v[KP_RES_MEMORY], 6903 * MI);

	/* AL2023: maxPods, podsPerCore caps it; kube memory stays ENI-based;
	 * eviction: the larger of hard 100Mi and soft 5% of 7577Mi; nodefs 15% */
	k.set = true;
	k.max_pods = 110;
	k.pods_per_core = 20;
	set(&k.eviction_hard, "memory.available", "100Mi");
	set(&k.eviction_soft, "memory.available", "5%");
	set(&k.eviction_hard, "nodefs.available", "15%");
	it = m5(&cat);
	assert_int_equal(kp_itype_aws_kubelet(&it, &k, "AL2023", &eb), KP_OK);
	assert_int_equal(it.capacity.v[KP_RES_PODS], 40);
	assert_int_equal(it.overhead.kube_reserved.v[KP_RES_MEMORY], 574 * MI);
	/* ceil(7945060352 / 100 * 5) = 397253018 bytes */
	assert_int_equal(it.overhead.eviction_threshold.v[KP_RES_MEMORY], 397253018);
	assert_int_equal(it.overhead.eviction_threshold.v[KP_RES_EPHEMERAL], 3221225472);
	assert_int_equal(it.allocatable.v[KP_RES_EPHEMERAL], 20 * GI - GI - 3221225472);

	/* Bottlerocket: no podsPerCore, no evictionSoft; kube memory from the
	 * resolved pods (11 x 110 + 255) */
	it = m5(&cat);
	assert_int_equal(kp_itype_aws_kubelet(&it, &k, "Bottlerocket", &eb), KP_OK);
	assert_int_equal(it.capacity.v[KP_RES_PODS], 110);
	assert_int_equal(it.overhead.kube_reserved.v[KP_RES_MEMORY], (11 * 110 + 255) * MI);
	assert_int_equal(it.overhead.eviction_threshold.v[KP_RES_MEMORY], 100 * MI);

	/* kubeReserved replaces per key; systemReserved adds */
	memset(&k, 0, sizeof(k));
	k.set = true;
	set(&k.kube_reserved, "cpu", "500m");
	set(&k.system_reserved, "memory", "1Gi");
	it = m5(&cat);
	assert_int_equal(kp_itype_aws_kubelet(&it, &k, NULL, &eb), KP_OK);
	assert_int_equal(it.allocatable.v[KP_RES_CPU], 1500);
	assert_int_equal(it.allocatable.v[KP_RES_MEMORY], (6903 - 1024) * MI);
	assert_int_equal(it.capacity.v[KP_RES_PODS], 29);

	/* a bad quantity names the field */
	set(&k.kube_reserved, "memory", "lots");
	it = m5(&cat);
	assert_int_equal(kp_itype_aws_kubelet(&it, &k, NULL, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "kubelet.kubeReserved.memory"));
	kp_catalog_free(&cat);
	kp_arena_free(&A);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_provider_settings),
		cmocka_unit_test(test_kubelet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
