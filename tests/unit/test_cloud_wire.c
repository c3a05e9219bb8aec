/*
 * test_cloud_wire.c - the JSON form the remote cloud sends: a NodeClaim and
 * an instance survive the round trip exactly (requirements with
 * complements and bounds, labels, resources by name, including one the
 * reader does not know yet); bad input names the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cloud/wire.h"
#include "karpenter/labels.h"
#include "karpenter/requirements.h"
#include "karpenter/resources.h"

static void test_claim_round_trip(void **state)
{
	static const char *const types[] = { "m5.large", "c5.large" };
	static const char *const zones[] = { "us-east-1a" };
	static const char *const gt[] = { "3" };
	struct kp_arena a;
	struct kp_resnames rn, rn2;
	struct kp_nodeclaim nc = { 0 }, back;
	struct kp_req r;
	struct kp_errbuf eb = { 0 };
	json_t *j;
	int gpu;

	(void)state;
	kp_arena_init(&a);
	kp_resnames_init(&rn);
	kp_resnames_init(&rn2);
	gpu = kp_resnames_index(&rn, "nvidia.com/gpu", &eb);
	assert_true(gpu >= 0);
	nc.name = "default-abc";
	nc.nodepool = "default";
	kp_reqs_init(&nc.reqs);
	assert_int_equal(kp_req_make(&r, &a, "node.kubernetes.io/instance-type", KP_OP_IN, types, 2, 2, &eb), KP_OK);
	assert_int_equal(kp_reqs_add(&nc.reqs, &a, &r), KP_OK);
	assert_int_equal(kp_req_make(&r, &a, "topology.kubernetes.io/zone", KP_OP_NOTIN, zones, 1, 0, &eb), KP_OK);
	assert_int_equal(kp_reqs_add(&nc.reqs, &a, &r), KP_OK);
	assert_int_equal(kp_req_make(&r, &a, "karpenter.k8s.aws/instance-generation", KP_OP_GT, gt, 1, 0, &eb), KP_OK);
	assert_int_equal(kp_reqs_add(&nc.reqs, &a, &r), KP_OK);
	assert_int_equal(kp_labels_set(&nc.labels, &a, "team", "a"), KP_OK);
	nc.requests.v[KP_RES_CPU] = 1500;
	nc.requests.v[KP_RES_MEMORY] = 3LL << 30;
	nc.requests.v[gpu] = 1;

	j = kp_cloud_wire_claim(&nc, &rn);
	assert_non_null(j);
	assert_int_equal(kp_cloud_wire_claim_read(j, &a, &rn2, &back, &eb), KP_OK);
	json_decref(j);
	assert_string_equal(back.name, "default-abc");
	assert_string_equal(back.nodepool, "default");
	assert_null(back.provider_id);
	assert_string_equal(kp_labels_get(&back.labels, "team"), "a");
	assert_int_equal(back.reqs.n, nc.reqs.n);
	for (int i = 0; i < nc.reqs.n; i++) {
		const struct kp_req *x = &nc.reqs.r[i], *y = &back.reqs.r[i];
		assert_string_equal(x->key, y->key);
		assert_int_equal(x->complement, y->complement);
		assert_int_equal(x->has_gte, y->has_gte);
		assert_int_equal(x->has_lte, y->has_lte);
		assert_int_equal(x->gte, y->gte);
		assert_int_equal(x->min_values, y->min_values);
		assert_int_equal(x->n, y->n);
		for (int k = 0; k < x->n; k++)
			assert_string_equal(x->values[k], y->values[k]);
	}
	assert_int_equal(back.requests.v[KP_RES_CPU], 1500);
	assert_int_equal(back.requests.v[KP_RES_MEMORY], 3LL << 30);
	gpu = kp_resnames_find(&rn2, "nvidia.com/gpu");   /* learned from the message */
	assert_true(gpu >= 0);
	assert_int_equal(back.requests.v[gpu], 1);
	kp_arena_free(&a);
}

static void test_instance_round_trip(void **state)
{
	struct kp_arena a;
	struct kp_resnames rn;
	struct kp_instance in = { 0 }, back;
	struct kp_errbuf eb = { 0 };
	json_t *j;

	(void)state;
	kp_arena_init(&a);
	kp_resnames_init(&rn);
	in.provider_id = "aws:///us-east-1a/i-0123";
	in.nodeclaim = "default-abc";
	in.nodepool = "default";
	in.instance_type = "m5.large";
	in.zone = "us-east-1a";
	in.captype = KP_CAP_SPOT;
	in.price = 0.0385;
	in.launched = 1765000000;
	in.state = KP_INSTANCE_RUNNING;
	assert_int_equal(kp_labels_set(&in.labels, &a, "node.kubernetes.io/instance-type", "m5.large"), KP_OK);
	in.capacity.v[KP_RES_PODS] = 29;
	in.allocatable.v[KP_RES_CPU] = 1930;
	j = kp_cloud_wire_instance(&in, &rn);
	assert_int_equal(kp_cloud_wire_instance_read(j, &a, &rn, &back, &eb), KP_OK);
	json_decref(j);
	assert_string_equal(back.provider_id, in.provider_id);
	assert_string_equal(back.instance_type, "m5.large");
	assert_int_equal(back.captype, KP_CAP_SPOT);
	assert_int_equal(back.state, KP_INSTANCE_RUNNING);
	assert_true(back.price > 0.0384 && back.price < 0.0386);
	assert_int_equal(back.launched, 1765000000);
	assert_null(back.image_id);
	assert_string_equal(kp_labels_get(&back.labels, "node.kubernetes.io/instance-type"), "m5.large");
	assert_int_equal(back.capacity.v[KP_RES_PODS], 29);
	assert_int_equal(back.allocatable.v[KP_RES_CPU], 1930);
	kp_arena_free(&a);
}

static void test_bad_input(void **state)
{
	static const char *const bad[][2] = {
		{ "{\"providerID\": \"x\", \"capacityType\": \"cheap\", \"state\": \"running\"}", "instance.capacityType" },
		{ "{\"providerID\": \"x\", \"capacityType\": \"spot\", \"state\": \"melting\"}", "instance.state" },
		{ "{\"capacityType\": \"spot\", \"state\": \"running\"}", "instance.providerID" },
		{ "{\"providerID\": \"x\", \"capacityType\": \"spot\", \"state\": \"running\", \"capacity\": {\"cpu\": \"2\"}}",
		  "instance.capacity.cpu" },
	};
	struct kp_arena a;
	struct kp_resnames rn;
	struct kp_instance in;
	struct kp_nodeclaim nc;
	struct kp_errbuf eb = { 0 };
	json_t *j;

	(void)state;
	kp_arena_init(&a);
	kp_resnames_init(&rn);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_loads(bad[i][0], 0, NULL);
		assert_non_null(j);
		assert_int_equal(kp_cloud_wire_instance_read(j, &a, &rn, &in, &eb), KP_ERR_INVALID);
		assert_non_null(strstr(eb.msg, bad[i][1]));
		json_decref(j);
	}
	j = json_loads("{\"name\": \"c\", \"requirements\": [{\"values\": []}]}", 0, NULL);
	assert_int_equal(kp_cloud_wire_claim_read(j, &a, &rn, &nc, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "requirements[0].key"));
	json_decref(j);
	assert_int_equal(kp_cloud_wire_claim_read(NULL, &a, &rn, &nc, &eb), KP_ERR_INVALID);
	kp_arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claim_round_trip),
		cmocka_unit_test(test_instance_round_trip),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
