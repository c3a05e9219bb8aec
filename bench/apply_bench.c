/*
 * apply_bench.c - what field validation and managedFields tracking cost
 * each write in `karpenter up`: the microseconds per call of
 * kp_apiserver__fieldval_decide (typed decoding + unknown fields of a Pod),
 * kp_apiserver__ssa_update (a status change of a Pod that already has
 * managedFields) and kp_apiserver__ssa_apply (re-applying a ConfigMap with
 * one changed value), each against a json_deep_copy of the same Pod as the
 * yardstick. Prints figures; never passes or fails on time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "apiserver/fieldval.h"
#include "apiserver/ssa.h"

#define N 20000

static const char POD[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-7d4b9c-x2x9z\",\"namespace\":\"default\","
	"\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"7d4b9c\"},\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
	"\"kind\":\"ReplicaSet\",\"name\":\"web-7d4b9c\",\"uid\":\"0b6f\",\"controller\":true}],\"uid\":\"1\","
	"\"resourceVersion\":\"5\"},\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"nginx\",\"resources\":"
	"{\"requests\":{\"cpu\":\"10m\",\"memory\":\"16Mi\"}},\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]}],"
	"\"nodeName\":\"n1\",\"tolerations\":[{\"key\":\"a\",\"operator\":\"Exists\"}],\"schedulerName\":"
	"\"default-scheduler\"},\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":"
	"\"True\"}],\"podIP\":\"10.0.0.1\"}}";

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
	json_t *pod = json_loads(POD, 0, NULL), *live, *cm;
	struct kp_apiserver__ssa_req q0 = { NULL, "kube-controller-manager", "v1", NULL, "2026-01-01T00:00:00Z", false,
					    false };
	double t, copy_us, fv_us, upd_us, apply_us;
	char msg[1024];

	if (!pod)
		return 1;
	t = now_s();
	for (int i = 0; i < N; i++)
		json_decref(json_deep_copy(pod));
	copy_us = (now_s() - t) / N * 1e6;

	t = now_s();
	for (int i = 0; i < N; i++) {
		json_t *w = NULL, *c = json_deep_copy(pod);
		kp_apiserver__fieldval_decide(NULL, "Pod", "v1", c, KP_APISERVER_FIELDVAL_STRICT, &w, msg, sizeof(msg));
		json_decref(w);
		json_decref(c);
	}
	fv_us = (now_s() - t) / N * 1e6;

	live = json_deep_copy(pod);
	kp_apiserver__ssa_update(&q0, live);
	t = now_s();
	for (int i = 0; i < N; i++) {
		json_t *n = json_deep_copy(live);
		struct kp_apiserver__ssa_req q = { live, "kubelet", "v1", NULL, "2026-01-01T00:00:01Z", false, false };
		json_object_set_new(json_object_get(n, "status"), "podIP", json_string(i % 2 ? "10.0.0.2" : "10.0.0.3"));
		kp_apiserver__ssa_update(&q, n);
		json_decref(n);
	}
	upd_us = (now_s() - t) / N * 1e6;

	cm = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
		       "name", "c", "data", "a", "1", "b", "2", "c", "3");
	struct kp_apiserver__ssa_req qa = { NULL, "kubectl", "v1", NULL, "2026-01-01T00:00:00Z", false, true };
	int code;
	json_t *causes = NULL, *cur = kp_apiserver__ssa_apply(&qa, cm, &code, msg, sizeof(msg), &causes);
	t = now_s();
	for (int i = 0; i < N && cur; i++) {
		json_object_set_new(json_object_get(cm, "data"), "a", json_string(i % 2 ? "x" : "y"));
		qa.live = cur;
		json_t *next = kp_apiserver__ssa_apply(&qa, cm, &code, msg, sizeof(msg), &causes);
		json_decref(cur);
		cur = next;
	}
	apply_us = (now_s() - t) / N * 1e6;
	char *s = json_dumps(live, JSON_COMPACT);
	printf("per write, %d calls each (a %zu-byte Pod with managedFields):\n", N, s ? strlen(s) : 0);
	printf("  json_deep_copy of the Pod (yardstick)   %7.1f us\n", copy_us);
	printf("  fieldval_decide (types, unknown fields)  %7.1f us\n", fv_us);
	printf("  ssa_update (status change, managedFields) %6.1f us\n", upd_us);
	printf("  ssa_apply (ConfigMap re-apply)           %7.1f us\n", apply_us);
	free(s);
	json_decref(cur);
	json_decref(cm);
	json_decref(live);
	json_decref(pod);
	return 0;
}
