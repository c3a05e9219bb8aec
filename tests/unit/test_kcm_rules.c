/*
 * test_kcm_rules.c - the pure rules of the built-in controllers: QoS class
 * (computed by the API server and the kubelet stand-in; cases after
 * k8s.io/kubernetes pkg/apis/core/helper/qos qos_test.go),
 * rolling-update fenceposts and steps (after pkg/controller/deployment
 * rolling_test.go and deployment_util_test.go), simulated run times and
 * Job arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "apiserver/server.h"
#include "kcm/rules.h"

static json_t *J(const char *text)
{
	json_error_t err;
	json_t *o = json_loads(text, 0, &err);
	if (!o)
		fail_msg("bad test JSON: %s: %s", err.text, text);
	return o;
}

static void assert_qos(const char *spec, const char *want)
{
	json_t *s = J(spec);
	assert_string_equal(kp_apiserver_pod_qos_class(s), want);
	json_decref(s);
}

static void test_qos(void **state)
{
	(void)state;
	assert_qos("{\"containers\":[{\"name\":\"a\"}]}", "BestEffort");
	assert_qos("{}", "BestEffort");
	/* zero requests are ignored */
	assert_qos("{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"0\"}}}]}", "BestEffort");
	assert_qos("{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]}", "Burstable");
	assert_qos("{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
		   "\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}",
		   "Guaranteed");
	/* limits only: requests default to them */
	assert_qos("{\"containers\":[{\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":\"256Mi\"}}}]}",
		   "Guaranteed");
	/* equal after parsing: 1 == 1000m, 1Gi == 1073741824 */
	assert_qos("{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"1\",\"memory\":\"1073741824\"},"
		   "\"limits\":{\"cpu\":\"1000m\",\"memory\":\"1Gi\"}}}]}",
		   "Guaranteed");
	/* only cpu limited */
	assert_qos("{\"containers\":[{\"resources\":{\"limits\":{\"cpu\":\"1\"}}}]}", "Burstable");
	/* request below limit */
	assert_qos("{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"},"
		   "\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}",
		   "Burstable");
	/* one guaranteed container and one best-effort one */
	assert_qos("{\"containers\":[{\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},{\"name\":\"b\"}]}",
		   "Burstable");
	/* init containers count */
	assert_qos("{\"initContainers\":[{\"resources\":{\"requests\":{\"memory\":\"1Gi\"}}}],\"containers\":[{}]}",
		   "Burstable");
	/* other resources do not */
	assert_qos("{\"containers\":[{\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\","
		   "\"nvidia.com/gpu\":\"1\"},\"requests\":{\"ephemeral-storage\":\"1Gi\"}}}]}",
		   "Guaranteed");
	assert_qos("{\"containers\":[{\"resources\":{\"requests\":{\"ephemeral-storage\":\"1Gi\"}}}]}", "BestEffort");
}

static void fence(const char *strategy, int64_t want, int64_t esurge, int64_t eunavail)
{
	json_t *s = J(strategy);
	struct kp_errbuf eb = { 0 };
	int64_t surge = -1, unavail = -1;
	assert_int_equal(kp_kcm_fenceposts(s, want, &surge, &unavail, &eb), KP_OK);
	assert_int_equal(surge, esurge);
	assert_int_equal(unavail, eunavail);
	json_decref(s);
}

static void test_fenceposts(void **state)
{
	struct kp_errbuf eb = { 0 };
	int64_t a, b;
	json_t *s;

	(void)state;
	fence("{}", 10, 3, 2);      /* 25%: 2.5 up and down */
	fence("{}", 1, 1, 0);
	fence("{}", 4, 1, 1);
	fence("{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":0,\"maxUnavailable\":0}}", 5, 0, 1);
	fence("{\"rollingUpdate\":{\"maxSurge\":1,\"maxUnavailable\":0}}", 5, 1, 0);
	fence("{\"rollingUpdate\":{\"maxSurge\":\"50%\",\"maxUnavailable\":\"10%\"}}", 5, 3, 0);
	fence("{\"rollingUpdate\":{\"maxUnavailable\":9}}", 3, 1, 3);   /* capped at want */
	fence("{\"type\":\"Recreate\"}", 7, 0, 7);
	s = J("{\"rollingUpdate\":{\"maxSurge\":\"two\"}}");
	assert_int_equal(kp_kcm_fenceposts(s, 4, &a, &b, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "spec.strategy.rollingUpdate.maxSurge"));
	json_decref(s);
	s = J("{\"rollingUpdate\":{\"maxUnavailable\":-1}}");
	assert_int_equal(kp_kcm_fenceposts(s, 4, &a, &b, &eb), KP_ERR_INVALID);
	json_decref(s);
}

static void test_new_replicas(void **state)
{
	(void)state;
	/* NewRSNewReplicas: want 10, surge 3; 10 old pods: new may grow to 3 */
	assert_int_equal(kp_kcm_rollout_new_replicas(10, 3, 10, 0), 3);
	/* already at the surge ceiling */
	assert_int_equal(kp_kcm_rollout_new_replicas(10, 3, 13, 3), 3);
	/* never past want */
	assert_int_equal(kp_kcm_rollout_new_replicas(10, 3, 2, 9), 10);
	/* surge 0: only after old pods went */
	assert_int_equal(kp_kcm_rollout_new_replicas(4, 0, 4, 0), 0);
	assert_int_equal(kp_kcm_rollout_new_replicas(4, 0, 3, 0), 1);
}

static void test_scale_old(void **state)
{
	(void)state;
	/* want 10, maxUnavailable 2: all old available, new 3 not yet available:
	 * budget = 13 - 8 - 3 = 2; old may shrink by 2 */
	struct kp_kcm_rs o1[] = { { 10, 10 } };
	assert_int_equal(kp_kcm_rollout_scale_old(10, 2, 3, 0, o1, 1), 2);
	assert_int_equal(o1[0].spec, 8);
	/* maxUnavailable 0 and the new pods unavailable: nothing may go */
	struct kp_kcm_rs o2[] = { { 5, 5 } };
	assert_int_equal(kp_kcm_rollout_scale_old(5, 0, 1, 0, o2, 1), 0);
	assert_int_equal(o2[0].spec, 5);
	/* ... once the surge pod is available, one old pod goes */
	assert_int_equal(kp_kcm_rollout_scale_old(5, 0, 1, 1, o2, 1), 1);
	assert_int_equal(o2[0].spec, 4);
	/* unhealthy old replicas go first, whatever their age */
	struct kp_kcm_rs o3[] = { { 3, 3 }, { 3, 1 } };
	assert_int_equal(kp_kcm_rollout_scale_old(6, 2, 0, 0, o3, 2), 2);
	assert_int_equal(o3[0].spec, 3);
	assert_int_equal(o3[1].spec, 1);
	/* the budget counts pods, not availability: one unhealthy one goes */
	struct kp_kcm_rs o3b[] = { { 3, 3 }, { 3, 1 } };
	assert_int_equal(kp_kcm_rollout_scale_old(6, 1, 0, 0, o3b, 2), 1);
	assert_int_equal(o3b[0].spec, 3);
	assert_int_equal(o3b[1].spec, 2);
	/* then available ones, oldest first */
	struct kp_kcm_rs o4[] = { { 2, 2 }, { 2, 2 } };
	assert_int_equal(kp_kcm_rollout_scale_old(4, 3, 4, 4, o4, 2), 4);
	assert_int_equal(o4[0].spec, 0);
	assert_int_equal(o4[1].spec, 0);
	struct kp_kcm_rs o5[] = { { 2, 2 }, { 2, 2 } };
	assert_int_equal(kp_kcm_rollout_scale_old(4, 1, 0, 0, o5, 2), 1);
	assert_int_equal(o5[0].spec, 1);
	assert_int_equal(o5[1].spec, 2);
	/* nothing old: nothing to do */
	assert_int_equal(kp_kcm_rollout_scale_old(4, 1, 4, 4, NULL, 0), 0);
}

/* A full rolling update simulated step by step: pods become available one
 * step after they are created; the bounds hold at every step. */
static void test_rollout_bounds(void **state)
{
	(void)state;
	const int64_t want = 6, surge = 2, unavail = 1;
	int64_t new_spec = 0, new_avail = 0;
	struct kp_kcm_rs old[1] = { { want, want } };
	int steps = 0;

	while ((new_spec < want || old[0].spec > 0) && steps++ < 50) {
		new_spec = kp_kcm_rollout_new_replicas(want, surge, new_spec + old[0].spec, new_spec);
		assert_true(new_spec + old[0].spec <= want + surge);
		kp_kcm_rollout_scale_old(want, unavail, new_spec, new_avail, old, 1);
		old[0].avail = old[0].spec;
		assert_true(new_avail + old[0].avail >= want - unavail);
		new_avail = new_spec;   /* available by the next step */
	}
	assert_int_equal(new_spec, want);
	assert_int_equal(old[0].spec, 0);
	assert_true(steps < 10);
}

static void run_for(const char *pod, bool want_ok, int64_t want_ms, int want_code)
{
	json_t *p = J(pod);
	struct kp_errbuf eb = { 0 };
	int64_t ms = -1;
	int code = -1;
	bool ok = kp_kcm_run_for(p, &ms, &code, &eb);
	if (ok != want_ok)
		fail_msg("%s: got %d (%s), want %d", pod, ok, eb.msg, want_ok);
	if (ok) {
		assert_int_equal(ms, want_ms);
		assert_int_equal(code, want_code);
	}
	json_decref(p);
}

static void test_run_for(void **state)
{
	(void)state;
	run_for("{\"spec\":{\"containers\":[{\"command\":[\"sleep\",\"5\"]}]}}", true, 5000, 0);
	run_for("{\"spec\":{\"containers\":[{\"command\":[\"/bin/sleep\"],\"args\":[\"1.5\"]}]}}", true, 1500, 0);
	run_for("{\"spec\":{\"containers\":[{\"args\":[\"sleep\",\"2m\"]}]}}", true, 120000, 0);
	run_for("{\"spec\":{\"containers\":[{\"command\":[\"sleep\",\"1m\",\"30\"]}]}}", true, 90000, 0);
	run_for("{\"spec\":{\"containers\":[{\"command\":[\"sh\",\"-c\",\"sleep 3; echo done\"]}]}}", true, 3000, 0);
	/* the longest container */
	run_for("{\"spec\":{\"containers\":[{\"command\":[\"sleep\",\"1\"]},{\"command\":[\"sleep\",\"4\"]}]}}", true,
		4000, 0);
	/* one container that never ends: the pod never ends */
	run_for("{\"spec\":{\"containers\":[{\"command\":[\"sleep\",\"1\"]},{\"image\":\"nginx\"}]}}", false, 0, 0);
	run_for("{\"spec\":{\"containers\":[{\"command\":[\"sleep\",\"infinity\"]}]}}", false, 0, 0);
	run_for("{\"spec\":{\"containers\":[{\"command\":[\"sleepy\",\"1\"]}]}}", false, 0, 0);
	run_for("{\"spec\":{\"containers\":[{\"image\":\"nginx\"}]}}", false, 0, 0);
	/* the annotation wins, with its exit code */
	run_for("{\"metadata\":{\"annotations\":{\"karpenter-c.sh/run-for\":\"250ms\"}},"
		"\"spec\":{\"containers\":[{\"image\":\"nginx\"}]}}",
		true, 250, 0);
	run_for("{\"metadata\":{\"annotations\":{\"karpenter-c.sh/run-for\":\"1s\",\"karpenter-c.sh/exit-code\":\"3\"}},"
		"\"spec\":{\"containers\":[{}]}}",
		true, 1000, 3);
	run_for("{\"metadata\":{\"annotations\":{\"karpenter-c.sh/run-for\":\"soon\"}},\"spec\":{}}", false, 0, 0);
	run_for("{\"metadata\":{\"annotations\":{\"karpenter-c.sh/run-for\":\"1s\",\"karpenter-c.sh/exit-code\":\"300\"}},"
		"\"spec\":{}}",
		false, 0, 0);
}

static void test_job_want(void **state)
{
	(void)state;
	assert_int_equal(kp_kcm_job_want_active(1, true, 1, 0), 1);
	assert_int_equal(kp_kcm_job_want_active(1, true, 1, 1), 0);
	assert_int_equal(kp_kcm_job_want_active(2, true, 5, 0), 2);
	assert_int_equal(kp_kcm_job_want_active(2, true, 5, 4), 1);
	assert_int_equal(kp_kcm_job_want_active(3, false, 0, 0), 3);
	assert_int_equal(kp_kcm_job_want_active(3, false, 0, 1), 0);
	assert_int_equal(kp_kcm_job_want_active(0, true, 5, 0), 0);
	assert_int_equal(kp_kcm_job_want_active(4, true, 2, 3), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qos),           cmocka_unit_test(test_fenceposts),
		cmocka_unit_test(test_new_replicas),  cmocka_unit_test(test_scale_old),
		cmocka_unit_test(test_rollout_bounds), cmocka_unit_test(test_run_for),
		cmocka_unit_test(test_job_want),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
