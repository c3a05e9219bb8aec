/*
 * test_ctrl_repair.c - node repair's policy evaluation (src/ctrl/repair.c):
 * the AWS provider's and the simulated cloud's repair policies, the
 * condition whose toleration ends first, the toleration override, and
 * Karpenter's 20% rule. The end-to-end repair (a NodeClaim deleted, the pod
 * rescheduled, event, log) is in tests/e2e/parity.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctrl/ext_int.h"

#define T(s) ((int64_t)(s) * 1000)
#define MIN 60000

/* 2024-06-01T00:00:00Z */
#define T0 ((int64_t)1717200000)

static json_t *node_with(const char *conds_json)
{
	char buf[1024];
	json_t *n;

	snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"n\"},\"status\":{\"conditions\":%s}}", conds_json);
	n = json_loads(buf, 0, NULL);
	assert_non_null(n);
	return n;
}

static void test_policies(void **state)
{
	int n;
	const struct kp_ctrl__repair_policy *p = kp_ctrl__repair_policies("aws", &n);
	bool agent[5] = { false };
	static const char *const types[5] = { "AcceleratedHardwareReady", "StorageReady", "NetworkingReady",
					      "KernelReady", "ContainerRuntimeReady" };

	(void)state;
	assert_int_equal(n, 7);
	for (int i = 0; i < n; i++) {
		if (strcmp(p[i].type, "Ready") == 0) {
			assert_true(strcmp(p[i].status, "False") == 0 || strcmp(p[i].status, "Unknown") == 0);
			assert_int_equal(p[i].toleration_ms, 30 * MIN);
			continue;
		}
		for (int k = 0; k < 5; k++)
			if (strcmp(p[i].type, types[k]) == 0) {
				agent[k] = true;
				assert_string_equal(p[i].status, "False");
				assert_int_equal(p[i].toleration_ms, k == 0 ? 10 * MIN : 30 * MIN);
			}
	}
	for (int k = 0; k < 5; k++)
		assert_true(agent[k]);
	p = kp_ctrl__repair_policies("fake", &n);
	assert_int_equal(n, 7);
	assert_string_equal(p[0].type, "Ready");
	assert_int_equal(p[0].toleration_ms, 10 * MIN);   /* kwok's */
}

static void test_match(void **state)
{
	int n;
	const struct kp_ctrl__repair_policy *p = kp_ctrl__repair_policies("aws", &n);
	int64_t end;
	json_t *node;

	(void)state;
	/* healthy: Ready True, an agent condition True */
	node = node_with("[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"2024-06-01T00:00:00Z\"},"
			 "{\"type\":\"KernelReady\",\"status\":\"True\",\"lastTransitionTime\":\"2024-06-01T00:00:00Z\"}]");
	assert_null(kp_ctrl__repair_match(node, p, n, -1, &end));
	json_decref(node);

	/* Ready Unknown: 30 min */
	node = node_with("[{\"type\":\"Ready\",\"status\":\"Unknown\",\"lastTransitionTime\":\"2024-06-01T00:00:00Z\"}]");
	assert_string_equal(kp_ctrl__repair_match(node, p, n, -1, &end), "Ready");
	assert_true(end == T(T0) + 30 * MIN);
	assert_string_equal(kp_ctrl__repair_match(node, p, n, 2000, &end), "Ready");   /* the override */
	assert_true(end == T(T0) + 2000);
	json_decref(node);

	/* an agent condition alone */
	node = node_with("[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"2024-06-01T00:00:00Z\"},"
			 "{\"type\":\"StorageReady\",\"status\":\"False\",\"lastTransitionTime\":\"2024-06-01T00:05:00Z\"}]");
	assert_string_equal(kp_ctrl__repair_match(node, p, n, -1, &end), "StorageReady");
	assert_true(end == T(T0 + 300) + 30 * MIN);
	json_decref(node);

	/* several: the one whose toleration ends first decides (accelerated
	 * hardware's 10 min beats Ready's 30 min though it turned later) */
	node = node_with("[{\"type\":\"Ready\",\"status\":\"False\",\"lastTransitionTime\":\"2024-06-01T00:00:00Z\"},"
			 "{\"type\":\"AcceleratedHardwareReady\",\"status\":\"False\",\"lastTransitionTime\":\"2024-06-01T00:10:00Z\"}]");
	assert_string_equal(kp_ctrl__repair_match(node, p, n, -1, &end), "AcceleratedHardwareReady");
	assert_true(end == T(T0 + 600) + 10 * MIN);
	json_decref(node);

	/* Unknown is no policy for an agent condition; a bad time matches nothing */
	node = node_with("[{\"type\":\"KernelReady\",\"status\":\"Unknown\",\"lastTransitionTime\":\"2024-06-01T00:00:00Z\"},"
			 "{\"type\":\"Ready\",\"status\":\"False\",\"lastTransitionTime\":\"yesterday\"}]");
	assert_null(kp_ctrl__repair_match(node, p, n, -1, &end));
	json_decref(node);
}

static void test_twenty_percent(void **state)
{
	(void)state;
	assert_true(kp_ctrl__repair_pool_ok(1, 1));     /* ceil(0.2) = 1 */
	assert_true(kp_ctrl__repair_pool_ok(1, 5));
	assert_true(kp_ctrl__repair_pool_ok(2, 6));     /* ceil(1.2) = 2 */
	assert_false(kp_ctrl__repair_pool_ok(2, 5));
	assert_false(kp_ctrl__repair_pool_ok(3, 10));
	assert_true(kp_ctrl__repair_pool_ok(2, 10));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policies),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_twenty_percent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
