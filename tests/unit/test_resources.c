/*
 * test_resources.c - resource names and resource vector arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/resources.h"

static void test_wellknown_names(void **state)
{
	struct kp_resnames rn;
	static const struct { int idx; const char *name; } want[] = {
		{ KP_RES_CPU, "cpu" },
		{ KP_RES_MEMORY, "memory" },
		{ KP_RES_EPHEMERAL, "ephemeral-storage" },
		{ KP_RES_PODS, "pods" },
		{ KP_RES_NVIDIA_GPU, "nvidia.com/gpu" },
		{ KP_RES_AMD_GPU, "amd.com/gpu" },
		{ KP_RES_NEURON, "aws.amazon.com/neuron" },
		{ KP_RES_NEURONCORE, "aws.amazon.com/neuroncore" },
		{ KP_RES_GAUDI, "habana.ai/gaudi" },
		{ KP_RES_EFA, "vpc.amazonaws.com/efa" },
		{ KP_RES_POD_ENI, "vpc.amazonaws.com/pod-eni" },
		{ KP_RES_PRIVATE_IPV4, "vpc.amazonaws.com/PrivateIPv4Address" },
		{ KP_RES_HUGEPAGES_2MI, "hugepages-2Mi" },
		{ KP_RES_HUGEPAGES_1GI, "hugepages-1Gi" },
	};

	(void)state;
	kp_resnames_init(&rn);
	assert_int_equal(rn.n, KP_RES_NWELLKNOWN);
	assert_int_equal(KP_ARRAY_LEN(want), KP_RES_NWELLKNOWN);
	for (size_t i = 0; i < KP_ARRAY_LEN(want); i++) {
		assert_string_equal(rn.name[want[i].idx], want[i].name);
		assert_int_equal(kp_resnames_find(&rn, want[i].name), want[i].idx);
		assert_int_equal(kp_resnames_index(&rn, want[i].name, NULL), want[i].idx);
	}
	assert_int_equal(rn.n, KP_RES_NWELLKNOWN);
	assert_int_equal(kp_resnames_find(&rn, "fake.com/vendor-a"), -1);
	assert_int_equal(kp_resnames_find(&rn, "CPU"), -1);
}

static void test_register_extended(void **state)
{
	struct kp_resnames rn;
	struct kp_errbuf eb = { 0 };
	int a, b;

	(void)state;
	kp_resnames_init(&rn);
	a = kp_resnames_index(&rn, "fake.com/vendor-a", &eb);
	assert_int_equal(a, KP_RES_NWELLKNOWN);
	b = kp_resnames_index(&rn, "hugepages-32Mi", &eb);
	assert_int_equal(b, KP_RES_NWELLKNOWN + 1);
	assert_int_equal(kp_resnames_index(&rn, "fake.com/vendor-a", &eb), a);
	assert_int_equal(kp_resnames_find(&rn, "hugepages-32Mi"), b);
	assert_int_equal(rn.n, KP_RES_NWELLKNOWN + 2);
	assert_int_equal(kp_resnames_index(&rn, "example.com/Device_1.x", &eb), KP_RES_NWELLKNOWN + 2);
}

static void test_invalid_names(void **state)
{
	static const char *const bad[] = {
		"", "/gpu", "fake.com/", "Fake.com/gpu", "fake.com/-gpu", "fake.com/gpu-",
		"a/b/c", "fake com/gpu", "-fake.com/gpu", "fake.com/g pu", "gpu!",
		"a.b/0123456789012345678901234567890123456789012345678901234567890123",
	};
	struct kp_resnames rn;
	char longname[KP_RES_NAME_MAX + 8];

	(void)state;
	kp_resnames_init(&rn);
	for (size_t i = 0; i < KP_ARRAY_LEN(bad); i++) {
		struct kp_errbuf eb = { 0 };
		if (kp_resnames_index(&rn, bad[i], &eb) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(eb.code, KP_ERR_INVALID);
		assert_non_null(strstr(eb.msg, "invalid resource name"));
	}
	assert_int_equal(rn.n, KP_RES_NWELLKNOWN);

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memcpy(longname, "x.io/", 5);
	{
		struct kp_errbuf eb = { 0 };
		assert_int_equal(kp_resnames_index(&rn, longname, &eb), -1);
		assert_int_equal(eb.code, KP_ERR_LIMIT);
	}
}

static void test_table_full(void **state)
{
	struct kp_resnames rn;
	struct kp_errbuf eb = { 0 };
	char name[32];
	int i;

	(void)state;
	kp_resnames_init(&rn);
	for (i = KP_RES_NWELLKNOWN; i < KP_RES_MAX; i++) {
		snprintf(name, sizeof(name), "fake.com/r%d", i);
		assert_int_equal(kp_resnames_index(&rn, name, &eb), i);
	}
	assert_int_equal(rn.n, KP_RES_MAX);
	assert_int_equal(kp_resnames_index(&rn, "fake.com/one-too-many", &eb), -1);
	assert_int_equal(eb.code, KP_ERR_LIMIT);
	assert_string_equal(eb.msg, "too many resource names: cannot add \"fake.com/one-too-many\", "
			    "at most 24 are supported");
	/* existing names still resolve */
	assert_int_equal(kp_resnames_index(&rn, "fake.com/r20", &eb), 20);
	assert_int_equal(rn.n, KP_RES_MAX);
}

static void test_scale_and_style(void **state)
{
	struct kp_resnames rn;
	int hp, dev;

	(void)state;
	kp_resnames_init(&rn);
	hp = kp_resnames_index(&rn, "hugepages-32Mi", NULL);
	dev = kp_resnames_index(&rn, "fake.com/vendor-a", NULL);
	assert_int_equal(kp_res_scale(KP_RES_CPU), KP_QTY_MILLI);
	assert_int_equal(kp_res_scale(KP_RES_MEMORY), KP_QTY_UNIT);
	assert_int_equal(kp_res_scale(KP_RES_PODS), KP_QTY_UNIT);
	assert_int_equal(kp_res_scale(dev), KP_QTY_UNIT);
	assert_int_equal(kp_res_style(&rn, KP_RES_CPU), KP_QTY_DECIMAL);
	assert_int_equal(kp_res_style(&rn, KP_RES_MEMORY), KP_QTY_BINARY);
	assert_int_equal(kp_res_style(&rn, KP_RES_EPHEMERAL), KP_QTY_BINARY);
	assert_int_equal(kp_res_style(&rn, KP_RES_HUGEPAGES_2MI), KP_QTY_BINARY);
	assert_int_equal(kp_res_style(&rn, KP_RES_HUGEPAGES_1GI), KP_QTY_BINARY);
	assert_int_equal(kp_res_style(&rn, hp), KP_QTY_BINARY);
	assert_int_equal(kp_res_style(&rn, dev), KP_QTY_DECIMAL);
	assert_int_equal(kp_res_style(&rn, KP_RES_PODS), KP_QTY_DECIMAL);
	assert_int_equal(kp_res_style(&rn, KP_RES_NVIDIA_GPU), KP_QTY_DECIMAL);
	assert_int_equal(kp_res_style(NULL, KP_RES_MEMORY), KP_QTY_BINARY);
	assert_int_equal(kp_res_style(NULL, hp), KP_QTY_DECIMAL);
}

static void test_set_str(void **state)
{
	struct kp_res r;
	struct kp_errbuf eb = { 0 };

	(void)state;
	kp_res_zero(&r);
	assert_true(kp_res_is_zero(&r));
	assert_int_equal(kp_res_set_str(&r, KP_RES_CPU, "100m", &eb), KP_OK);
	assert_int_equal(kp_res_set_str(&r, KP_RES_MEMORY, "1.5Gi", &eb), KP_OK);
	assert_int_equal(kp_res_set_str(&r, KP_RES_PODS, "110", &eb), KP_OK);
	assert_int_equal(r.v[KP_RES_CPU], 100);
	assert_int_equal(r.v[KP_RES_MEMORY], 1610612736);
	assert_int_equal(r.v[KP_RES_PODS], 110);
	assert_false(kp_res_is_zero(&r));

	assert_int_equal(kp_res_set_str(&r, KP_RES_CPU, "1x", &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "invalid quantity \"1x\"");
	assert_int_equal(r.v[KP_RES_CPU], 100);
	assert_int_equal(kp_res_set_str(&r, KP_RES_MAX, "1", &eb), KP_ERR_INVALID);
	assert_int_equal(kp_res_set_str(&r, -1, "1", &eb), KP_ERR_INVALID);
}

static void test_add_sub_max(void **state)
{
	struct kp_res a, b;

	(void)state;
	kp_res_zero(&a);
	kp_res_zero(&b);
	a.v[KP_RES_CPU] = 1000;
	a.v[KP_RES_MEMORY] = 5;
	b.v[KP_RES_CPU] = 500;
	b.v[KP_RES_PODS] = 1;
	assert_true(kp_res_add(&a, &b));
	assert_int_equal(a.v[KP_RES_CPU], 1500);
	assert_int_equal(a.v[KP_RES_MEMORY], 5);
	assert_int_equal(a.v[KP_RES_PODS], 1);

	kp_res_sub(&a, &b);
	assert_int_equal(a.v[KP_RES_CPU], 1000);
	assert_int_equal(a.v[KP_RES_PODS], 0);
	kp_res_sub(&a, &b);
	kp_res_sub(&a, &b);
	assert_int_equal(a.v[KP_RES_CPU], 0);
	assert_int_equal(a.v[KP_RES_PODS], -2);       /* may go negative */

	kp_res_zero(&b);
	b.v[KP_RES_CPU] = 7;
	b.v[KP_RES_MEMORY] = 3;
	kp_res_max(&a, &b);
	assert_int_equal(a.v[KP_RES_CPU], 7);
	assert_int_equal(a.v[KP_RES_MEMORY], 5);
	assert_int_equal(a.v[KP_RES_PODS], 0);
}

static void test_add_saturates(void **state)
{
	struct kp_res a, b;

	(void)state;
	kp_res_zero(&a);
	kp_res_zero(&b);
	a.v[KP_RES_MEMORY] = INT64_MAX - 1;
	a.v[KP_RES_CPU] = 10;
	a.v[KP_RES_PODS] = INT64_MIN + 1;
	b.v[KP_RES_MEMORY] = 2;
	b.v[KP_RES_CPU] = 5;
	b.v[KP_RES_PODS] = -2;
	assert_false(kp_res_add(&a, &b));
	assert_int_equal(a.v[KP_RES_MEMORY], INT64_MAX);
	assert_int_equal(a.v[KP_RES_PODS], INT64_MIN);
	assert_int_equal(a.v[KP_RES_CPU], 15);         /* the others still add */

	kp_res_zero(&b);
	b.v[KP_RES_MEMORY] = -1;
	a.v[KP_RES_MEMORY] = INT64_MIN;
	kp_res_sub(&a, &b);
	assert_int_equal(a.v[KP_RES_MEMORY], INT64_MIN + 1);
	b.v[KP_RES_MEMORY] = 5;
	kp_res_sub(&a, &b);
	assert_int_equal(a.v[KP_RES_MEMORY], INT64_MIN);   /* saturates */
}

static void test_fits(void **state)
{
	struct kp_res req, avail;
	int bad = -7;

	(void)state;
	kp_res_zero(&req);
	kp_res_zero(&avail);
	assert_true(kp_res_fits(&req, &avail, &bad));
	assert_int_equal(bad, -7);

	avail.v[KP_RES_CPU] = 2000;
	avail.v[KP_RES_MEMORY] = 1 << 30;
	avail.v[KP_RES_PODS] = -1;            /* over-committed: zero requests still fit */
	req.v[KP_RES_CPU] = 2000;
	req.v[KP_RES_MEMORY] = 1 << 30;
	assert_true(kp_res_fits(&req, &avail, &bad));

	req.v[KP_RES_PODS] = 1;
	assert_false(kp_res_fits(&req, &avail, &bad));
	assert_int_equal(bad, KP_RES_PODS);
	req.v[KP_RES_PODS] = 0;

	req.v[KP_RES_MEMORY]++;
	assert_false(kp_res_fits(&req, &avail, NULL));
	assert_false(kp_res_fits(&req, &avail, &bad));
	assert_int_equal(bad, KP_RES_MEMORY);

	req.v[KP_RES_MEMORY] = 0;
	req.v[KP_RES_NVIDIA_GPU] = 1;
	assert_false(kp_res_fits(&req, &avail, &bad));
	assert_int_equal(bad, KP_RES_NVIDIA_GPU);

	req.v[KP_RES_NVIDIA_GPU] = 0;
	req.v[KP_RES_CPU] = 2001;
	req.v[KP_RES_MAX - 1] = 1;
	assert_false(kp_res_fits(&req, &avail, &bad));
	assert_int_equal(bad, KP_RES_CPU);                 /* the first one */
}

static void test_exceeds(void **state)
{
	struct kp_res used, limit;
	int bad = -7;

	(void)state;
	kp_res_zero(&used);
	kp_res_zero(&limit);
	used.v[KP_RES_CPU] = 5000;
	used.v[KP_RES_MEMORY] = 100;
	limit.v[KP_RES_CPU] = 4000;

	/* nothing masked: nothing limited */
	assert_false(kp_res_exceeds(&used, &limit, 0, &bad));
	assert_int_equal(bad, -7);
	assert_true(kp_res_exceeds(&used, &limit, 1u << KP_RES_CPU, &bad));
	assert_int_equal(bad, KP_RES_CPU);
	/* an explicit limit of 0 counts when masked */
	assert_true(kp_res_exceeds(&used, &limit, 1u << KP_RES_MEMORY, &bad));
	assert_int_equal(bad, KP_RES_MEMORY);
	/* equal is not exceeding */
	limit.v[KP_RES_CPU] = 5000;
	assert_false(kp_res_exceeds(&used, &limit, 1u << KP_RES_CPU, NULL));
	/* masked but unused */
	assert_false(kp_res_exceeds(&used, &limit, 1u << KP_RES_NVIDIA_GPU, NULL));
	/* last index */
	used.v[KP_RES_MAX - 1] = 1;
	assert_true(kp_res_exceeds(&used, &limit, 1u << (KP_RES_MAX - 1), &bad));
	assert_int_equal(bad, KP_RES_MAX - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wellknown_names),
		cmocka_unit_test(test_register_extended),
		cmocka_unit_test(test_invalid_names),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_scale_and_style),
		cmocka_unit_test(test_set_str),
		cmocka_unit_test(test_add_sub_max),
		cmocka_unit_test(test_add_saturates),
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_exceeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
