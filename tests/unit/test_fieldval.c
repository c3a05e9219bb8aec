/*
 * test_fieldval.c - field validation of written objects: Go type errors of
 * ObjectMeta and the engine's fields with encoding/json's texts, unknown
 * fields against the NodePool CRD's structural schema (deploy/crds) and the
 * built-in structs, pruning, and the Strict/Warn/Ignore decision.
 * Run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apiserver/fieldval.h"
#include "karpenter/base.h"
#include "apiserver/apires.h"
#include "apiserver/apires_int.h"

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fprintf(stderr, "bad test json: %s\n", je.text);
	assert_non_null(j);
	return j;
}

/* decision for a built-in kind: returns the code, msg filled */
static int decide(const char *kind, const char *text, enum kp_apiserver__fieldval_mode mode, char *msg, size_t n)
{
	json_t *o = parse(text);
	json_t *warn = NULL;
	msg[0] = '\0';
	int code = kp_apiserver__fieldval_decide(NULL, kind, "v1", o, mode, &warn, msg, n);
	json_decref(warn);
	json_decref(o);
	return code;
}

static void expect_400(const char *kind, const char *text, const char *want)
{
	char msg[2048];
	int code = decide(kind, text, KP_APISERVER_FIELDVAL_STRICT, msg, sizeof(msg));
	if (code != 400 || strcmp(msg, want) != 0)
		fprintf(stderr, "object %s\n got %d %s\nwant 400 %s\n", text, code, msg, want);
	assert_int_equal(code, 400);
	assert_string_equal(msg, want);
}

static void types_of_metadata(void **state)
{
	(void)state;
	expect_400("Pod", "{\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":5}}}",
		   "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal number into Go struct "
		   "field ObjectMeta.metadata.labels of type string");
	expect_400("ConfigMap", "{\"metadata\":{\"name\":\"p\",\"labels\":[1]}}",
		   "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal array into "
		   "Go struct field ObjectMeta.metadata.labels of type map[string]string");
	expect_400("Pod", "{\"metadata\":{\"name\":\"p\",\"finalizers\":[5,null]}}",
		   "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal number into Go struct "
		   "field ObjectMeta.metadata.finalizers of type string");
	expect_400("Pod", "{\"metadata\":{\"name\":\"p\",\"ownerReferences\":[{\"uid\":5}]}}",
		   "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal number into Go struct "
		   "field OwnerReference.metadata.ownerReferences.uid of type types.UID");
	expect_400("Pod", "{\"metadata\":{\"name\":\"p\",\"annotations\":{\"a\":true}}}",
		   "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal bool into Go struct "
		   "field ObjectMeta.metadata.annotations of type string");
	expect_400("Secret", "{\"metadata\":5}",
		   "Secret in version \"v1\" cannot be handled as a Secret: json: cannot unmarshal number into Go "
		   "struct field Secret.metadata of type v1.ObjectMeta");
	expect_400("Pod", "{\"metadata\":{\"name\":\"p\",\"generation\":1.5}}",
		   "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal number 1.5 into Go "
		   "struct field ObjectMeta.metadata.generation of type int64");
}

static void types_of_pod_fields(void **state)
{
	(void)state;
	expect_400("Pod", "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"nodeName\":5}}",
		   "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal number into Go struct "
		   "field PodSpec.spec.nodeName of type string");
	expect_400("Pod", "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"nodeSelector\":{\"a\":[1]}}}",
		   "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal array into Go struct "
		   "field PodSpec.spec.nodeSelector of type string");
	expect_400("Pod", "{\"spec\":{\"tolerations\":[{\"key\":\"k\",\"tolerationSeconds\":\"x\"}]}}",
		   "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal string into Go struct "
		   "field Toleration.spec.tolerations.tolerationSeconds of type int64");
	expect_400("Pod", "{\"spec\":{\"tolerations\":{\"key\":\"k\"}}}",
		   "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal object into Go struct "
		   "field PodSpec.spec.tolerations of type []v1.Toleration");
	expect_400("Deployment",
		   "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":"
		   "{\"cpu\":[1]}}}]}}}}",
		   "Deployment in version \"v1\" cannot be handled as a Deployment: quantities must match the regular "
		   "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
	expect_400("Node", "{\"spec\":{\"taints\":[{\"key\":\"k\",\"effect\":1}]}}",
		   "Node in version \"v1\" cannot be handled as a Node: json: cannot unmarshal number into Go struct "
		   "field Taint.spec.taints.effect of type v1.TaintEffect");
	/* well-typed objects pass, quantities as numbers and strings */
	char msg[512];
	assert_int_equal(decide("Pod",
				"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":"
				"\"b\"},\"finalizers\":[\"x/y\"],\"ownerReferences\":[{\"uid\":\"u\",\"controller\":true}]"
				"},\"spec\":{\"nodeName\":\"n\",\"hostNetwork\":true,\"containers\":[{\"name\":\"c\","
				"\"resources\":{\"requests\":{\"cpu\":1,\"memory\":\"1.5Gi\"}},\"ports\":[]}]}}",
				KP_APISERVER_FIELDVAL_STRICT, msg, sizeof(msg)),
			 0);
}

static void unknown_in_builtins(void **state)
{
	(void)state;
	expect_400("Pod", "{\"metadata\":{\"name\":\"p\",\"label\":{}},\"spec\":{\"tolerations\":[{\"key\":\"k\","
		   "\"efect\":\"NoSchedule\"}]},\"extra\":1}",
		   "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field "
		   "\"metadata.label\", unknown field \"spec.tolerations[0].efect\", unknown field \"extra\"");
	/* Ignore prunes silently, Warn prunes and warns */
	json_t *o = parse("{\"metadata\":{\"name\":\"p\",\"label\":{}},\"data\":{\"a\":\"b\"}}");
	json_t *warn = NULL;
	char msg[256];
	assert_int_equal(kp_apiserver__fieldval_decide(NULL, "ConfigMap", "v1", o, KP_APISERVER_FIELDVAL_WARN, &warn, msg, sizeof(msg)), 0);
	assert_int_equal(json_array_size(warn), 1);
	assert_string_equal(json_string_value(json_array_get(warn, 0)), "unknown field \"metadata.label\"");
	assert_null(json_object_get(json_object_get(o, "metadata"), "label"));
	assert_non_null(json_object_get(o, "data"));
	json_decref(warn);
	json_decref(o);
}

static const json_t *nodepool_schema(struct kp_apiserver__reg **reg)
{
	struct kp_errbuf eb = {0};
	assert_int_equal(kp_apiserver__reg_new(reg, "deploy/crds", &eb), KP_OK);
	const struct kp_apiserver__res *r = kp_apiserver__reg_find(*reg, "karpenter.sh", "v1", "nodepools");
	assert_non_null(r);
	const json_t *s = kp_apiserver__res_entry_of(r)->schema;
	assert_non_null(s);
	return s;
}

static void unknown_in_nodepool(void **state)
{
	(void)state;
	struct kp_apiserver__reg *reg = NULL;
	const json_t *s = nodepool_schema(&reg);
	const char *np =
		"{\"apiVersion\":\"karpenter.sh/v1\",\"kind\":\"NodePool\",\"metadata\":{\"name\":\"d\"},"
		"\"spec\":{\"disruption\":{\"expireAfter\":\"24h\",\"consolidateafter\":\"1m\","
		"\"consolidationPolicy\":\"WhenEmpty\"},\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},"
		"\"spec\":{\"expireAfter\":\"24h\",\"nodeClassRef\":{\"group\":\"karpenter.k8s.aws\",\"kind\":"
		"\"EC2NodeClass\",\"name\":\"d\"},\"requirements\":[{\"key\":\"k\",\"operator\":\"In\","
		"\"values\":[\"a\"],\"minvalues\":2}]}}}}";
	json_t *o = parse(np);
	json_t *warn = NULL;
	char msg[1024];
	assert_int_equal(kp_apiserver__fieldval_decide(s, "NodePool", "v1", o, KP_APISERVER_FIELDVAL_STRICT, &warn, msg, sizeof(msg)), 400);
	assert_string_equal(msg, "NodePool in version \"v1\" cannot be handled as a NodePool: strict decoding error: "
				 "unknown field \"spec.disruption.expireAfter\", unknown field "
				 "\"spec.disruption.consolidateafter\", unknown field "
				 "\"spec.template.spec.requirements[0].minvalues\"");
	/* strict does not touch the object */
	assert_non_null(json_object_get(json_object_get(json_object_get(o, "spec"), "disruption"), "expireAfter"));
	json_decref(warn);
	/* Ignore prunes: the v1 field stays, the misplaced ones go */
	assert_int_equal(kp_apiserver__fieldval_decide(s, "NodePool", "v1", o, KP_APISERVER_FIELDVAL_IGNORE, &warn, msg, sizeof(msg)), 0);
	assert_int_equal(json_array_size(warn), 0);
	json_t *d = json_object_get(json_object_get(o, "spec"), "disruption");
	assert_null(json_object_get(d, "expireAfter"));
	assert_null(json_object_get(d, "consolidateafter"));
	assert_non_null(json_object_get(d, "consolidationPolicy"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(json_object_get(o, "spec"),
										"template"), "spec"), "expireAfter")),
			    "24h");
	json_decref(warn);
	json_decref(o);
	/* metadata of a custom resource is an ObjectMeta */
	o = parse("{\"apiVersion\":\"karpenter.sh/v1\",\"kind\":\"NodePool\",\"metadata\":{\"name\":\"d\","
		  "\"finalizers\":[5]},\"spec\":{}}");
	assert_int_equal(kp_apiserver__fieldval_decide(s, "NodePool", "v1", o, KP_APISERVER_FIELDVAL_STRICT, &warn, msg, sizeof(msg)), 400);
	assert_string_equal(msg, "NodePool in version \"v1\" cannot be handled as a NodePool: json: cannot unmarshal "
				 "number into Go struct field ObjectMeta.metadata.finalizers of type string");
	json_decref(warn);
	json_decref(o);
	kp_apiserver__reg_free(reg);
}

static void mode_parse(void **state)
{
	(void)state;
	enum kp_apiserver__fieldval_mode m;
	char msg[256];
	assert_int_equal(kp_apiserver__fieldval_mode_parse(NULL, &m, msg, sizeof(msg)), 0);
	assert_int_equal(m, KP_APISERVER_FIELDVAL_WARN);
	assert_int_equal(kp_apiserver__fieldval_mode_parse("Strict", &m, msg, sizeof(msg)), 0);
	assert_int_equal(m, KP_APISERVER_FIELDVAL_STRICT);
	assert_int_equal(kp_apiserver__fieldval_mode_parse("Ignore", &m, msg, sizeof(msg)), 0);
	assert_int_equal(m, KP_APISERVER_FIELDVAL_IGNORE);
	assert_int_equal(kp_apiserver__fieldval_mode_parse("strict", &m, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got \"strict\"");
}

static void resource_versions(void **state)
{
	(void)state;
	uint64_t v;
	char msg[256];
	assert_int_equal(kp_apiserver__fieldval_rv("", &v, msg, sizeof(msg)), 0);
	assert_int_equal(v, 0);
	assert_int_equal(kp_apiserver__fieldval_rv("12345", &v, msg, sizeof(msg)), 0);
	assert_int_equal(v, 12345);
	assert_int_equal(kp_apiserver__fieldval_rv("abc", &v, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "resourceVersion: Invalid value: \"abc\": strconv.ParseUint: parsing \"abc\": invalid syntax");
	assert_int_equal(kp_apiserver__fieldval_rv("-1", &v, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "resourceVersion: Invalid value: \"-1\": strconv.ParseUint: parsing \"-1\": invalid syntax");
	assert_int_equal(kp_apiserver__fieldval_rv("99999999999999999999", &v, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "value out of range"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(types_of_metadata),
		cmocka_unit_test(types_of_pod_fields),
		cmocka_unit_test(unknown_in_builtins),
		cmocka_unit_test(unknown_in_nodepool),
		cmocka_unit_test(mode_parse),
		cmocka_unit_test(resource_versions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
