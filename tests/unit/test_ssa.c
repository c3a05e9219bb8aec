/*
 * test_ssa.c - server-side apply: create, update, removal of fields no
 * longer applied, conflicts (409 texts naming the manager) and force,
 * shared ownership, list merging by key (built-in containers, a CRD's
 * x-kubernetes-list-map-keys), and managedFields of ordinary updates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apiserver/ssa.h"

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fprintf(stderr, "bad test json: %s: %s\n", text, je.text);
	assert_non_null(j);
	return j;
}

static void assert_json(const json_t *got, const char *want)
{
	json_t *w = parse(want);
	if (!json_equal((json_t *)got, w)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
		char *ws = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
		fprintf(stderr, " got %s\nwant %s\n", g, ws);
		free(g);
		free(ws);
	}
	assert_true(json_equal((json_t *)got, w));
	json_decref(w);
}

/* applies text by manager over *live (replaced on success); returns the code */
static int apply(json_t **live, const char *manager, const char *text, bool force, char *msg, size_t n,
		 const json_t *schema)
{
	struct kp_apiserver__ssa_req q = {*live, manager, "v1", schema, "2026-01-01T00:00:00Z", force, true, NULL};
	json_t *a = parse(text);
	json_t *causes = NULL;
	int code = 0;
	json_t *out = kp_apiserver__ssa_apply(&q, a, &code, msg, n, &causes);
	json_decref(a);
	if (out) {
		assert_int_equal(code, 0);
		assert_null(causes);
		json_decref(*live);
		*live = out;
	} else if (code == 409) {
		assert_non_null(causes);
	}
	json_decref(causes);
	return code;
}

static const json_t *entry(const json_t *obj, const char *manager, const char *op)
{
	const json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
	for (size_t i = 0; i < json_array_size(mf); i++) {
		const json_t *e = json_array_get(mf, i);
		if (strcmp(json_string_value(json_object_get(e, "manager")), manager) == 0 &&
		    strcmp(json_string_value(json_object_get(e, "operation")), op) == 0)
			return e;
	}
	return NULL;
}

static json_t *without_mf(const json_t *o)
{
	json_t *c = json_deep_copy(o);
	json_object_del(json_object_get(c, "metadata"), "managedFields");
	return c;
}

static void create_update_remove(void **state)
{
	(void)state;
	json_t *live = NULL;
	char msg[1024];
	assert_int_equal(apply(&live, "a",
			       "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\",\"labels\":"
			       "{\"l\":\"1\"}},\"data\":{\"x\":\"1\",\"y\":\"2\"}}",
			       false, msg, sizeof(msg), NULL),
			 0);
	const json_t *e = entry(live, "a", "Apply");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "fieldsType")), "FieldsV1");
	assert_json(json_object_get(e, "fieldsV1"),
		    "{\"f:metadata\":{\"f:labels\":{\"f:l\":{}}},\"f:data\":{\"f:x\":{},\"f:y\":{}}}");
	/* a second apply changes x, drops y and the label: both removed from the object */
	assert_int_equal(apply(&live, "a",
			       "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},"
			       "\"data\":{\"x\":\"3\"}}",
			       false, msg, sizeof(msg), NULL),
			 0);
	json_t *plain = without_mf(live);
	assert_json(plain, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\",\"labels\":{}},"
			   "\"data\":{\"x\":\"3\"}}");
	json_decref(plain);
	assert_json(json_object_get(entry(live, "a", "Apply"), "fieldsV1"), "{\"f:data\":{\"f:x\":{}}}");
	json_decref(live);
}

static void conflicts_and_force(void **state)
{
	(void)state;
	json_t *live = NULL;
	char msg[1024];
	const char *base = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},\"data\":";
	char doc[512];
	snprintf(doc, sizeof(doc), "%s{\"x\":\"1\",\"z\":\"1\"}}", base);
	assert_int_equal(apply(&live, "a", doc, false, msg, sizeof(msg), NULL), 0);
	/* same value: no conflict, shared */
	snprintf(doc, sizeof(doc), "%s{\"x\":\"1\"}}", base);
	assert_int_equal(apply(&live, "b", doc, false, msg, sizeof(msg), NULL), 0);
	assert_json(json_object_get(entry(live, "b", "Apply"), "fieldsV1"), "{\"f:data\":{\"f:x\":{}}}");
	assert_json(json_object_get(entry(live, "a", "Apply"), "fieldsV1"), "{\"f:data\":{\"f:x\":{},\"f:z\":{}}}");
	/* a different value: 409 naming the owner */
	snprintf(doc, sizeof(doc), "%s{\"x\":\"2\"}}", base);
	assert_int_equal(apply(&live, "c", doc, false, msg, sizeof(msg), NULL), 409);
	assert_string_equal(msg, "Apply failed with 2 conflicts: conflicts with \"a\":\n- .data.x\nconflicts with \"b\":\n"
				 "- .data.x");
	snprintf(doc, sizeof(doc), "%s{\"x\":\"2\",\"z\":\"2\"}}", base);
	assert_int_equal(apply(&live, "b", doc, false, msg, sizeof(msg), NULL), 409);
	assert_string_equal(msg, "Apply failed with 2 conflicts: conflicts with \"a\":\n- .data.x\n- .data.z");
	snprintf(doc, sizeof(doc), "%s{\"z\":\"2\"}}", base);
	assert_int_equal(apply(&live, "b", doc, false, msg, sizeof(msg), NULL), 409);
	assert_string_equal(msg, "Apply failed with 1 conflict: conflict with \"a\": .data.z");
	/* force takes z over; b no longer applies x, which a still owns: x stays */
	assert_int_equal(apply(&live, "b", doc, true, msg, sizeof(msg), NULL), 0);
	json_t *plain = without_mf(live);
	assert_json(json_object_get(plain, "data"), "{\"x\":\"1\",\"z\":\"2\"}");
	json_decref(plain);
	assert_json(json_object_get(entry(live, "a", "Apply"), "fieldsV1"), "{\"f:data\":{\"f:x\":{}}}");
	assert_json(json_object_get(entry(live, "b", "Apply"), "fieldsV1"), "{\"f:data\":{\"f:z\":{}}}");
	json_decref(live);
}

static void containers_by_name(void **state)
{
	(void)state;
	json_t *live = NULL;
	char msg[1024];
	const char *d1 = "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},\"spec\":"
			 "{\"replicas\":2,\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"i1\","
			 "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]}]}}}}";
	assert_int_equal(apply(&live, "a", d1, false, msg, sizeof(msg), NULL), 0);
	assert_json(json_object_get(entry(live, "a", "Apply"), "fieldsV1"),
		    "{\"f:spec\":{\"f:replicas\":{},\"f:template\":{\"f:spec\":{\"f:containers\":{"
		    "\"k:{\\\"name\\\":\\\"a\\\"}\":{\".\":{},\"f:name\":{},\"f:image\":{},\"f:ports\":{"
		    "\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},\"f:containerPort\":{},"
		    "\"f:protocol\":{}}}}}}}}}");
	/* another manager adds a container: merged by name, not replaced */
	const char *d2 = "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},\"spec\":"
			 "{\"template\":{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"j\"}]}}}}";
	assert_int_equal(apply(&live, "b", d2, false, msg, sizeof(msg), NULL), 0);
	json_t *cs = json_object_get(json_object_get(json_object_get(json_object_get(live, "spec"), "template"), "spec"),
				     "containers");
	assert_int_equal(json_array_size(cs), 2);
	/* changing a's image is a conflict with a list-key path */
	const char *d3 = "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},\"spec\":"
			 "{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"i2\"}]}}}}";
	assert_int_equal(apply(&live, "b", d3, false, msg, sizeof(msg), NULL), 409);
	assert_string_equal(msg, "Apply failed with 1 conflict: conflict with \"a\": "
				 ".spec.template.spec.containers[name=\"a\"].image");
	/* b stops applying container b: it is removed */
	assert_int_equal(apply(&live, "b", d3, true, msg, sizeof(msg), NULL), 0);
	cs = json_object_get(json_object_get(json_object_get(json_object_get(live, "spec"), "template"), "spec"),
			     "containers");
	assert_int_equal(json_array_size(cs), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(cs, 0), "image")), "i2");
	/* a's ports survive: a still owns them */
	assert_int_equal(json_array_size(json_object_get(json_array_get(cs, 0), "ports")), 1);
	json_decref(live);
}

static void crd_list_map_keys(void **state)
{
	(void)state;
	json_t *schema = parse("{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{"
			       "\"items\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\","
			       "\"x-kubernetes-list-map-keys\":[\"key\"],\"items\":{\"type\":\"object\"}},"
			       "\"atomic\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}}}");
	json_t *live = NULL;
	char msg[512];
	assert_int_equal(apply(&live, "a", "{\"kind\":\"X\",\"spec\":{\"items\":[{\"key\":\"k1\",\"v\":1}],"
					   "\"atomic\":[\"a\"]}}",
			       false, msg, sizeof(msg), schema),
			 0);
	assert_int_equal(apply(&live, "b", "{\"kind\":\"X\",\"spec\":{\"items\":[{\"key\":\"k2\",\"v\":2}]}}", false,
			       msg, sizeof(msg), schema),
			 0);
	assert_int_equal(json_array_size(json_object_get(json_object_get(live, "spec"), "items")), 2);
	assert_int_equal(apply(&live, "b", "{\"kind\":\"X\",\"spec\":{\"atomic\":[\"b\"]}}", false, msg, sizeof(msg),
			       schema),
			 409);
	assert_string_equal(msg, "Apply failed with 1 conflict: conflict with \"a\": .spec.atomic");
	json_decref(live);
	json_decref(schema);
}

static void updates_take_fields(void **state)
{
	(void)state;
	json_t *live = NULL;
	char msg[1024];
	assert_int_equal(apply(&live, "a", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},"
					   "\"data\":{\"x\":\"1\",\"y\":\"1\"}}",
			       false, msg, sizeof(msg), NULL),
			 0);
	/* kubectl edit changes x: it takes x from a */
	json_t *edited = json_deep_copy(live);
	json_object_set_new(json_object_get(edited, "data"), "x", json_string("2"));
	json_object_set_new(json_object_get(edited, "data"), "w", json_string("0"));
	struct kp_apiserver__ssa_req q = {live, "kubectl-edit", "v1", NULL, "2026-01-02T00:00:00Z", false, true, NULL};
	assert_int_equal(kp_apiserver__ssa_update(&q, edited), 0);
	assert_json(json_object_get(entry(edited, "kubectl-edit", "Update"), "fieldsV1"),
		    "{\"f:data\":{\"f:x\":{},\"f:w\":{}}}");
	assert_json(json_object_get(entry(edited, "a", "Apply"), "fieldsV1"), "{\"f:data\":{\"f:y\":{}}}");
	json_decref(live);
	live = edited;
	assert_int_equal(apply(&live, "b", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},"
					   "\"data\":{\"x\":\"3\"}}",
			       false, msg, sizeof(msg), NULL),
			 409);
	assert_string_equal(msg, "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1 at "
				 "2026-01-02T00:00:00Z: .data.x");
	/* an update removing w: nobody owns it any more; an unchanged write keeps ownership */
	json_t *next = json_deep_copy(live);
	json_object_del(json_object_get(next, "data"), "w");
	struct kp_apiserver__ssa_req q2 = {live, "other", "v1", NULL, "2026-01-03T00:00:00Z", false, true, NULL};
	assert_int_equal(kp_apiserver__ssa_update(&q2, next), 0);
	assert_json(json_object_get(entry(next, "kubectl-edit", "Update"), "fieldsV1"), "{\"f:data\":{\"f:x\":{}}}");
	assert_null(entry(next, "other", "Update"));
	json_t *same = json_deep_copy(next);
	struct kp_apiserver__ssa_req q3 = {next, "third", "v1", NULL, "2026-01-04T00:00:00Z", false, true, NULL};
	assert_int_equal(kp_apiserver__ssa_update(&q3, same), 0);
	assert_true(json_equal(json_object_get(json_object_get(same, "metadata"), "managedFields"),
			       json_object_get(json_object_get(next, "metadata"), "managedFields")));
	json_decref(same);
	json_decref(next);
	/* a create records everything for its manager */
	json_t *fresh = parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"n\","
			      "\"resourceVersion\":\"5\"},\"data\":{\"k\":\"v\"}}");
	struct kp_apiserver__ssa_req qc = {NULL, "kubectl-create", "v1", NULL, "2026-01-02T00:00:00Z", false, true, NULL};
	assert_int_equal(kp_apiserver__ssa_update(&qc, fresh), 0);
	assert_json(json_object_get(entry(fresh, "kubectl-create", "Update"), "fieldsV1"), "{\"f:data\":{\"f:k\":{}}}");
	json_decref(fresh);
	json_decref(live);
}

static void updates_of_list_elements(void **state)
{
	(void)state;
	json_t *live = NULL;
	char msg[512];
	assert_int_equal(apply(&live, "a",
			       "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},"
			       "\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"i1\"},"
			       "{\"name\":\"b\",\"image\":\"j1\"}]}}}}",
			       false, msg, sizeof(msg), NULL),
			 0);
	/* kubectl set image: only a's image moves to the updater; b removed by the update leaves a's set */
	json_t *n = json_deep_copy(live);
	json_t *cs = json_object_get(json_object_get(json_object_get(json_object_get(n, "spec"), "template"), "spec"),
				     "containers");
	json_object_set_new(json_array_get(cs, 0), "image", json_string("i2"));
	json_array_remove(cs, 1);
	struct kp_apiserver__ssa_req q = {live, "kubectl-set", "apps/v1", NULL, "2026-01-02T00:00:00Z", false, true, NULL};
	assert_int_equal(kp_apiserver__ssa_update(&q, n), 0);
	assert_json(json_object_get(entry(n, "kubectl-set", "Update"), "fieldsV1"),
		    "{\"f:spec\":{\"f:template\":{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"a\\\"}\":{"
		    "\"f:image\":{}}}}}}}");
	assert_json(json_object_get(entry(n, "a", "Apply"), "fieldsV1"),
		    "{\"f:spec\":{\"f:template\":{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"a\\\"}\":{"
		    "\".\":{},\"f:name\":{}}}}}}}");
	json_decref(n);
	json_decref(live);
}

/* the same manager applying to the object and to its status subresource
 * holds two entries; a conflict names the subresource */
static void subresource_entries(void **state)
{
	(void)state;
	json_t *live = parse("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
			     "\"spec\":{\"type\":\"LoadBalancer\"}}");
	struct kp_apiserver__ssa_req q = {live, "ctl", "v1", NULL, "2026-01-01T00:00:00Z", false, false, "status"};
	json_t *a = parse("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
			  "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.1\"}]}}}");
	json_t *causes = NULL, *out, *out2;
	char msg[1024];
	int code = 0;

	out = kp_apiserver__ssa_apply(&q, a, &code, msg, sizeof(msg), &causes);
	assert_non_null(out);
	const json_t *e = entry(out, "ctl", "Apply");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "subresource")), "status");
	assert_json(json_object_get(e, "fieldsV1"), "{\"f:status\":{\"f:loadBalancer\":{\"f:ingress\":{}}}}");
	/* another manager changing that field through the status subresource conflicts */
	json_t *b = parse("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
			  "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.2\"}]}}}");
	struct kp_apiserver__ssa_req q2 = {out, "other", "v1", NULL, "2026-01-01T00:00:01Z", false, false, "status"};
	assert_null(kp_apiserver__ssa_apply(&q2, b, &code, msg, sizeof(msg), &causes));
	assert_int_equal(code, 409);
	assert_non_null(strstr(msg, "conflict with \"ctl\" with subresource \"status\""));
	json_decref(causes);
	causes = NULL;
	/* the same manager applying the object itself is a separate entry */
	struct kp_apiserver__ssa_req q3 = {out, "ctl", "v1", NULL, "2026-01-01T00:00:02Z", false, true, NULL};
	json_t *c = parse("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
			  "\"spec\":{\"type\":\"LoadBalancer\"}}");
	out2 = kp_apiserver__ssa_apply(&q3, c, &code, msg, sizeof(msg), &causes);
	assert_non_null(out2);
	assert_int_equal(json_array_size(json_object_get(json_object_get(out2, "metadata"), "managedFields")), 2);
	json_decref(out2);
	json_decref(c);
	json_decref(b);
	json_decref(out);
	json_decref(a);
	json_decref(live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(create_update_remove),
		cmocka_unit_test(conflicts_and_force),
		cmocka_unit_test(containers_by_name),
		cmocka_unit_test(crd_list_map_keys),
		cmocka_unit_test(updates_take_fields),
		cmocka_unit_test(updates_of_list_elements),
		cmocka_unit_test(subresource_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
