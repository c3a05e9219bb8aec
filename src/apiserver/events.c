/*
 * events.c - events.k8s.io/v1 Events as a view of the core v1 Events.
 *
 * The real API server keeps one storage for both groups (the events.k8s.io
 * resource is registered on the core Event's storage and converted through
 * the internal type), so an Event written in one group is read, watched and
 * selected in the other. The registry marks events.k8s.io/v1 events with
 * storage_group "" (apires.h); the REST layer stores them under the core key
 * and converts here, field by field as k8s.io/kubernetes
 * pkg/apis/events/v1/conversion.go (Convert_v1_Event_To_core_Event,
 * Convert_core_Event_To_v1_Event) and the generated conversions:
 *
 *   core v1                          events.k8s.io/v1
 *   involvedObject                   regarding
 *   message                          note
 *   source                           deprecatedSource
 *   firstTimestamp, lastTimestamp    deprecatedFirstTimestamp, deprecatedLastTimestamp
 *   count                            deprecatedCount
 *   reportingComponent               reportingController
 *   eventTime, series, reportingInstance, action, reason, related, type: same names
 *
 * Field selectors of events.k8s.io/v1 map onto the core Event's selectable
 * fields (AddFieldLabelConversionsForEvent in the same package).
 *
 * Stores written before this view existed held events.k8s.io Events under
 * their own group: kp_apiserver__events_migrate moves them at start.
 *
 * Cost: one copy of the object's members per conversion.
 */
#include <string.h>

#include "apiserver/rest_int.h"

/* core name, events.k8s.io/v1 name */
static const char *const RENAMED[][2] = {
	{ "involvedObject", "regarding" },
	{ "message", "note" },
	{ "source", "deprecatedSource" },
	{ "firstTimestamp", "deprecatedFirstTimestamp" },
	{ "lastTimestamp", "deprecatedLastTimestamp" },
	{ "count", "deprecatedCount" },
	{ "reportingComponent", "reportingController" },
};

static const char *const SAME[] = { "metadata", "eventTime", "series", "reportingInstance", "action", "reason",
				    "related", "type" };

/* Copies the members named in from_col of RENAMED (and SAME) from src into
 * a new object under the names of the other column; empty strings and
 * zero counts are left out, as Go's omitempty does. */
static json_t *convert(const json_t *src, int from_col, const char *api_version)
{
	json_t *out = json_pack("{s:s, s:s}", "apiVersion", api_version, "kind", "Event");

	if (!out || !json_is_object(src))
		return out;
	for (size_t i = 0; i < KP_ARRAY_LEN(SAME); i++) {
		json_t *v = json_object_get(src, SAME[i]);
		if (v && !(json_is_string(v) && !*json_string_value(v)))
			json_object_set_new(out, SAME[i], json_deep_copy(v));
	}
	for (size_t i = 0; i < KP_ARRAY_LEN(RENAMED); i++) {
		json_t *v = json_object_get(src, RENAMED[i][from_col]);
		if (!v || (json_is_string(v) && !*json_string_value(v)) || (json_is_integer(v) && !json_integer_value(v)))
			continue;
		json_object_set_new(out, RENAMED[i][!from_col], json_deep_copy(v));
	}
	return out;
}

json_t *kp_apiserver__event_from_core(const json_t *core, const char *api_version)
{
	json_t *out = convert(core, 0, api_version);

	/* MicroTime without omitempty: a core Event written without eventTime reads as null */
	if (out && !json_object_get(out, "eventTime"))
		json_object_set_new(out, "eventTime", json_null());
	return out;
}

json_t *kp_apiserver__event_to_core(const json_t *ev)
{
	return convert(ev, 1, "v1");
}

/* events.k8s.io/v1 field label -> the core Event's selectable field */
static const char *const FIELDS[][2] = {
	{ "reason", "reason" },
	{ "regarding.kind", "involvedObject.kind" },
	{ "regarding.namespace", "involvedObject.namespace" },
	{ "regarding.name", "involvedObject.name" },
	{ "regarding.uid", "involvedObject.uid" },
	{ "regarding.apiVersion", "involvedObject.apiVersion" },
	{ "regarding.resourceVersion", "involvedObject.resourceVersion" },
	{ "regarding.fieldPath", "involvedObject.fieldPath" },
	{ "reportingController", "reportingComponent" },
	{ "type", "type" },
	{ "metadata.namespace", "metadata.namespace" },
	{ "metadata.name", "metadata.name" },
};

const char *kp_apiserver__event_field(const char *label)
{
	for (size_t i = 0; i < KP_ARRAY_LEN(FIELDS); i++)
		if (strcmp(FIELDS[i][0], label) == 0)
			return FIELDS[i][1];
	return NULL;
}

struct migrate_ctx {
	json_t *found;          /* array of the old objects */
};

static int migrate_fn(void *ud, const char *json, size_t len, int64_t rv)
{
	struct migrate_ctx *m = ud;
	json_t *o = json_loadb(json, len, 0, NULL);

	(void)rv;
	if (o)
		json_array_append_new(m->found, o);
	return 0;
}

void kp_apiserver__events_migrate(struct kp_store *st)
{
	struct migrate_ctx m = { json_array() };
	size_t i;
	json_t *o;

	if (!m.found || kp_store_list(st, "events.k8s.io", "events", NULL, migrate_fn, &m, NULL, NULL)) {
		json_decref(m.found);
		return;
	}
	json_array_foreach(m.found, i, o) {
		const char *ns = kp_kobj_meta_str(o, "namespace"), *name = kp_kobj_meta_str(o, "name");
		struct kp_store_key old = { "events.k8s.io", "events", ns ? ns : "", name };
		struct kp_store_key core = { "", "events", ns ? ns : "", name };
		json_t *c = kp_apiserver__event_to_core(o);
		enum kp_store_rc rc;

		if (!c || !name)
			goto next;
		rc = kp_store_create(st, &core, c, NULL, NULL);
		if (rc == KP_STORE_OK || rc == KP_STORE_EXISTS)
			kp_store_delete(st, &old, 0, NULL, NULL, NULL);
next:
		json_decref(c);
	}
	json_decref(m.found);
}
