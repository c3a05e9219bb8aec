/*
 * test_events.c - events.k8s.io/v1 Events as a view of core v1 Events
 * (src/apiserver/events.c): the field conversion both ways, what is left
 * out or null, a round trip, and the events.k8s.io field selector labels.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apiserver/rest_int.h"

static const char CORE[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"e1\",\"namespace\":\"default\"},"
	"\"involvedObject\":{\"kind\":\"NodeClaim\",\"name\":\"nc-1\",\"apiVersion\":\"karpenter.sh/v1\"},"
	"\"reason\":\"Launched\",\"message\":\"Status condition transitioned\",\"type\":\"Normal\","
	"\"source\":{\"component\":\"karpenter\"},\"firstTimestamp\":\"2026-01-01T00:00:00Z\","
	"\"lastTimestamp\":\"2026-01-01T00:00:01Z\",\"count\":3,\"eventTime\":\"2026-01-01T00:00:00.000001Z\","
	"\"series\":{\"count\":2,\"lastObservedTime\":\"2026-01-01T00:00:02.000000Z\"},\"action\":\"Launch\","
	"\"related\":{\"kind\":\"Node\",\"name\":\"n1\"},\"reportingComponent\":\"karpenter\","
	"\"reportingInstance\":\"k-1\"}";

static const char *str(const json_t *o, const char *path)
{
	return kp_kobj_path_str(o, path);
}

static void test_core_to_v1(void **state)
{
	json_t *core = json_loads(CORE, 0, NULL), *v1 = kp_apiserver__event_from_core(core, "events.k8s.io/v1");
	(void)state;
	assert_non_null(v1);
	assert_string_equal(str(v1, "apiVersion"), "events.k8s.io/v1");
	assert_string_equal(str(v1, "kind"), "Event");
	assert_string_equal(str(v1, "metadata.name"), "e1");
	assert_string_equal(str(v1, "regarding.name"), "nc-1");
	assert_string_equal(str(v1, "note"), "Status condition transitioned");
	assert_string_equal(str(v1, "reportingController"), "karpenter");
	assert_string_equal(str(v1, "reportingInstance"), "k-1");
	assert_string_equal(str(v1, "deprecatedSource.component"), "karpenter");
	assert_string_equal(str(v1, "deprecatedFirstTimestamp"), "2026-01-01T00:00:00Z");
	assert_string_equal(str(v1, "deprecatedLastTimestamp"), "2026-01-01T00:00:01Z");
	assert_int_equal(json_integer_value(json_object_get(v1, "deprecatedCount")), 3);
	assert_string_equal(str(v1, "eventTime"), "2026-01-01T00:00:00.000001Z");
	assert_int_equal(json_integer_value(kp_kobj_at(v1, "series.count")), 2);
	assert_string_equal(str(v1, "action"), "Launch");
	assert_string_equal(str(v1, "related.name"), "n1");
	/* no core names leak through */
	assert_null(json_object_get(v1, "involvedObject"));
	assert_null(json_object_get(v1, "message"));
	assert_null(json_object_get(v1, "count"));
	assert_null(json_object_get(v1, "reportingComponent"));
	json_decref(v1);
	json_decref(core);
}

static void test_v1_round_trip(void **state)
{
	json_t *core = json_loads(CORE, 0, NULL), *v1 = kp_apiserver__event_from_core(core, "events.k8s.io/v1");
	json_t *back = kp_apiserver__event_to_core(v1);
	(void)state;
	assert_true(json_equal(core, back));
	json_decref(back);
	json_decref(v1);
	json_decref(core);
}

static void test_legacy_core_event(void **state)
{
	/* a core Event as old clients write it: no eventTime, no reporting fields, count 0 */
	json_t *core = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}, s:s, s:s, s:s, s:i}", "apiVersion", "v1", "kind", "Event",
				 "metadata", "name", "old", "involvedObject", "name", "p", "reason", "Pulled", "message",
				 "", "reportingComponent", "", "count", 0);
	json_t *v1 = kp_apiserver__event_from_core(core, "events.k8s.io/v1");
	(void)state;
	assert_true(json_is_null(json_object_get(v1, "eventTime")));
	assert_null(json_object_get(v1, "note"));              /* omitempty */
	assert_null(json_object_get(v1, "reportingController"));
	assert_null(json_object_get(v1, "deprecatedCount"));
	assert_string_equal(str(v1, "regarding.name"), "p");
	json_decref(v1);
	json_decref(core);
}

static void test_field_labels(void **state)
{
	(void)state;
	assert_string_equal(kp_apiserver__event_field("regarding.name"), "involvedObject.name");
	assert_string_equal(kp_apiserver__event_field("regarding.kind"), "involvedObject.kind");
	assert_string_equal(kp_apiserver__event_field("reportingController"), "reportingComponent");
	assert_string_equal(kp_apiserver__event_field("metadata.name"), "metadata.name");
	assert_string_equal(kp_apiserver__event_field("type"), "type");
	assert_null(kp_apiserver__event_field("involvedObject.name"));
	assert_null(kp_apiserver__event_field("note"));
	assert_null(kp_apiserver__event_field("source"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_to_v1),
		cmocka_unit_test(test_v1_round_trip),
		cmocka_unit_test(test_legacy_core_event),
		cmocka_unit_test(test_field_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
