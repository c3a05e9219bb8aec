/*
 * test_pod.c - effective pod requests (PodRequests semantics), pending
 * pods, pod keys and the karpenter.sh/do-not-disrupt rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/objects.h"

static struct kp_container_res ctr(int64_t cpu_req, int64_t mem_req, int64_t cpu_lim, int64_t mem_lim,
				   bool sidecar)
{
	struct kp_container_res c;

	memset(&c, 0, sizeof(c));
	c.requests.v[KP_RES_CPU] = cpu_req;
	c.requests.v[KP_RES_MEMORY] = mem_req;
	c.limits.v[KP_RES_CPU] = cpu_lim;
	c.limits.v[KP_RES_MEMORY] = mem_lim;
	c.restartable = sidecar;
	return c;
}

#define MI ((int64_t)1024 * 1024)

static void test_containers_sum(void **state)
{
	struct kp_container_res c[] = {
		ctr(500, 256 * MI, 0, 0, false),
		ctr(250, 128 * MI, 1000, 1024 * MI, false),   /* limits ignored when requests set */
	};
	struct kp_res out;

	(void)state;
	assert_true(kp_pod_effective_requests(c, 2, NULL, 0, NULL, &out));
	assert_int_equal(out.v[KP_RES_CPU], 750);
	assert_int_equal(out.v[KP_RES_MEMORY], 384 * MI);
	assert_int_equal(out.v[KP_RES_PODS], 0);        /* pods:1 is not added */
}

static void test_no_containers(void **state)
{
	struct kp_res out;

	(void)state;
	memset(&out, 0x5a, sizeof(out));
	assert_true(kp_pod_effective_requests(NULL, 0, NULL, 0, NULL, &out));
	assert_true(kp_res_is_zero(&out));
}

static void test_limits_only(void **state)
{
	struct kp_container_res c[] = {
		ctr(0, 0, 2000, 1024 * MI, false),      /* limits only: both default */
		ctr(100, 0, 4000, 64 * MI, false),      /* cpu request set, memory from limit */
	};
	struct kp_res out;

	(void)state;
	c[1].limits.v[KP_RES_NVIDIA_GPU] = 1;       /* extended resource: limit only */
	assert_true(kp_pod_effective_requests(c, 2, NULL, 0, NULL, &out));
	assert_int_equal(out.v[KP_RES_CPU], 2100);
	assert_int_equal(out.v[KP_RES_MEMORY], 1088 * MI);
	assert_int_equal(out.v[KP_RES_NVIDIA_GPU], 1);
}

static void test_init_bigger_than_sum(void **state)
{
	struct kp_container_res c[] = { ctr(500, 512 * MI, 0, 0, false), ctr(500, 512 * MI, 0, 0, false) };
	struct kp_container_res init[] = {
		ctr(2000, 128 * MI, 0, 0, false),
		ctr(300, 2048 * MI, 0, 0, false),
	};
	struct kp_res out;

	(void)state;
	assert_true(kp_pod_effective_requests(c, 2, init, 2, NULL, &out));
	/* entrywise: cpu from the first init, memory from the second */
	assert_int_equal(out.v[KP_RES_CPU], 2000);
	assert_int_equal(out.v[KP_RES_MEMORY], 2048 * MI);

	/* init smaller than the sum changes nothing */
	init[0].requests.v[KP_RES_CPU] = 900;
	init[1].requests.v[KP_RES_MEMORY] = 1000 * MI;
	assert_true(kp_pod_effective_requests(c, 2, init, 2, NULL, &out));
	assert_int_equal(out.v[KP_RES_CPU], 1000);
	assert_int_equal(out.v[KP_RES_MEMORY], 1024 * MI);

	/* an init container with only a limit defaults too */
	init[0] = ctr(0, 0, 3000, 0, false);
	assert_true(kp_pod_effective_requests(c, 2, init, 2, NULL, &out));
	assert_int_equal(out.v[KP_RES_CPU], 3000);
}

static void test_sidecar_adds_to_running(void **state)
{
	struct kp_container_res c[] = { ctr(500, 100 * MI, 0, 0, false) };
	struct kp_container_res init[] = { ctr(200, 50 * MI, 0, 0, true) };
	struct kp_res out;

	(void)state;
	assert_true(kp_pod_effective_requests(c, 1, init, 1, NULL, &out));
	assert_int_equal(out.v[KP_RES_CPU], 700);
	assert_int_equal(out.v[KP_RES_MEMORY], 150 * MI);
}

static void test_sidecar_before_init(void **state)
{
	struct kp_container_res c[] = { ctr(500, 0, 0, 0, false) };
	struct kp_container_res init[] = {
		ctr(100, 0, 0, 0, true),        /* sidecar keeps running ... */
		ctr(1000, 0, 0, 0, false),      /* ... while this init runs: 1100 */
	};
	struct kp_res out;

	(void)state;
	assert_true(kp_pod_effective_requests(c, 1, init, 2, NULL, &out));
	assert_int_equal(out.v[KP_RES_CPU], 1100);

	/* the same sidecar started after the init does not add to it */
	init[0] = ctr(1000, 0, 0, 0, false);
	init[1] = ctr(100, 0, 0, 0, true);
	assert_true(kp_pod_effective_requests(c, 1, init, 2, NULL, &out));
	assert_int_equal(out.v[KP_RES_CPU], 1000);
}

/* The KEP-753 shape: sidecars and regular inits interleaved. */
static void test_sidecars_interleaved(void **state)
{
	struct kp_container_res c[] = { ctr(1000, 0, 0, 0, false) };
	struct kp_container_res init[] = {
		ctr(1000, 0, 0, 0, true),       /* A: sidecars so far 1 */
		ctr(2000, 0, 0, 0, false),      /* B: 2 + 1 = 3 */
		ctr(1000, 0, 0, 0, true),       /* C: sidecars so far 2 */
		ctr(3000, 0, 0, 0, false),      /* D: 3 + 2 = 5 */
	};
	struct kp_res out;

	(void)state;
	/* running = 1 + 1 + 1 = 3; peak init = 5 */
	assert_true(kp_pod_effective_requests(c, 1, init, 4, NULL, &out));
	assert_int_equal(out.v[KP_RES_CPU], 5000);

	/* with a bigger app container the running sum wins */
	c[0].requests.v[KP_RES_CPU] = 4000;
	assert_true(kp_pod_effective_requests(c, 1, init, 4, NULL, &out));
	assert_int_equal(out.v[KP_RES_CPU], 6000);
}

static void test_overhead(void **state)
{
	struct kp_container_res c[] = { ctr(500, 100 * MI, 0, 0, false) };
	struct kp_container_res init[] = { ctr(2000, 0, 0, 0, false) };
	struct kp_res oh, out;

	(void)state;
	kp_res_zero(&oh);
	oh.v[KP_RES_CPU] = 250;
	oh.v[KP_RES_MEMORY] = 120 * MI;
	assert_true(kp_pod_effective_requests(c, 1, NULL, 0, &oh, &out));
	assert_int_equal(out.v[KP_RES_CPU], 750);
	assert_int_equal(out.v[KP_RES_MEMORY], 220 * MI);
	/* overhead goes on top of the init maximum */
	assert_true(kp_pod_effective_requests(c, 1, init, 1, &oh, &out));
	assert_int_equal(out.v[KP_RES_CPU], 2250);
	assert_int_equal(out.v[KP_RES_MEMORY], 220 * MI);
}

static void test_overflow(void **state)
{
	struct kp_container_res c[] = { ctr(1, INT64_MAX, 0, 0, false), ctr(1, 1, 0, 0, false) };
	struct kp_res out;

	(void)state;
	assert_false(kp_pod_effective_requests(c, 2, NULL, 0, NULL, &out));
	assert_int_equal(out.v[KP_RES_MEMORY], INT64_MAX);
	assert_int_equal(out.v[KP_RES_CPU], 2);
}

static void test_pending(void **state)
{
	struct kp_pod p;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.ns = "default";
	p.name = "web";
	assert_true(kp_pod_is_pending(&p));
	p.phase = "Pending";
	assert_true(kp_pod_is_pending(&p));
	p.node_name = "";
	assert_true(kp_pod_is_pending(&p));

	p.node_name = "node-1";
	assert_false(kp_pod_is_pending(&p));
	p.node_name = NULL;

	p.is_daemon = true;
	assert_false(kp_pod_is_pending(&p));
	p.is_daemon = false;

	p.is_mirror = true;
	assert_false(kp_pod_is_pending(&p));
	p.is_mirror = false;

	p.deleting = 1700000000;
	assert_false(kp_pod_is_pending(&p));
	p.deleting = 0;

	p.phase = "Succeeded";
	assert_true(kp_pod_is_terminal(&p));
	assert_false(kp_pod_is_pending(&p));
	p.phase = "Failed";
	assert_true(kp_pod_is_terminal(&p));
	assert_false(kp_pod_is_pending(&p));
	p.phase = "Running";
	assert_false(kp_pod_is_terminal(&p));
	p.phase = NULL;
	assert_false(kp_pod_is_terminal(&p));
	assert_true(kp_pod_is_pending(&p));
}

static void test_key(void **state)
{
	struct kp_pod p;
	char buf[64], small[6];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.ns = "kube-system";
	p.name = "coredns-1";
	assert_string_equal(kp_pod_key(&p, buf, sizeof(buf)), "kube-system/coredns-1");
	kp_pod_key(&p, small, sizeof(small));
	assert_string_equal(small, "kube-");
	p.ns = NULL;
	assert_string_equal(kp_pod_key(&p, buf, sizeof(buf)), "coredns-1");
	p.ns = "";
	assert_string_equal(kp_pod_key(&p, buf, sizeof(buf)), "coredns-1");
}

static void test_do_not_disrupt(void **state)
{
	const int64_t hour = 3600 * 1000, t0 = 1700000000000;
	struct kp_pod p;
	struct kp_kv kv = { KP_ANN_DO_NOT_DISRUPT, "true" };

	(void)state;
	assert_false(kp_pod_do_not_disrupt_value(NULL, t0, t0));
	assert_true(kp_pod_do_not_disrupt_value("true", t0, t0 + 1000 * hour));
	/* a duration from creation: up to, not including, created + d (ms) */
	assert_true(kp_pod_do_not_disrupt_value("2h", t0, t0 + hour));
	assert_true(kp_pod_do_not_disrupt_value("2h", t0, t0 + 2 * hour - 1));
	assert_false(kp_pod_do_not_disrupt_value("2h", t0, t0 + 2 * hour));
	assert_true(kp_pod_do_not_disrupt_value("1h30m", t0, t0 + hour));
	/* anything else is ignored */
	assert_false(kp_pod_do_not_disrupt_value("false", t0, t0));
	assert_false(kp_pod_do_not_disrupt_value("True", t0, t0));
	assert_false(kp_pod_do_not_disrupt_value("soon", t0, t0));
	assert_false(kp_pod_do_not_disrupt_value("0s", t0, t0));
	assert_false(kp_pod_do_not_disrupt_value("-1h", t0, t0));
	assert_false(kp_pod_do_not_disrupt_value("", t0, t0));
	/* on a pod, in whole seconds: "1500ms" still holds 1 s after creation, not 2 s */
	memset(&p, 0, sizeof(p));
	p.created = t0 / 1000;
	assert_false(kp_pod_do_not_disrupt(&p, p.created));
	p.annotations.kv = &kv;
	p.annotations.n = 1;
	assert_true(kp_pod_do_not_disrupt(&p, p.created + 100000));
	kv.value = "1500ms";
	assert_true(kp_pod_do_not_disrupt(&p, p.created + 1));
	assert_false(kp_pod_do_not_disrupt(&p, p.created + 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_containers_sum),
		cmocka_unit_test(test_no_containers),
		cmocka_unit_test(test_limits_only),
		cmocka_unit_test(test_init_bigger_than_sum),
		cmocka_unit_test(test_sidecar_adds_to_running),
		cmocka_unit_test(test_sidecar_before_init),
		cmocka_unit_test(test_sidecars_interleaved),
		cmocka_unit_test(test_overhead),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_do_not_disrupt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
