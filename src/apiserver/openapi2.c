/*
 * openapi2.c - /openapi/v2, the Swagger 2.0 document older clients read:
 * kubectl up to 1.26 downloads it (as protobuf) for client-side validation
 * and for the patch metadata of `apply`, and kubectl 1.27+ falls back to it
 * for kinds the /openapi/v3 documents do not describe.
 *
 * JSON: the components of every /openapi/v3 group-version document merged
 * into `definitions`, with `#/components/schemas/` references rewritten to
 * `#/definitions/`. Protobuf (gnostic openapi_v2.Document): swagger and info
 * only; with no definitions kubectl skips client-side validation (the
 * server validates) and computes patches from its compiled-in types, which
 * is what it does for every kind it has no schema for.
 *
 * Cost: rebuilds every v3 document per request (a few hundred KB).
 */
#include <stdlib.h>
#include <string.h>

#include "apiserver/openapi2.h"

static void rewrite_refs(json_t *v)
{
	if (json_is_object(v)) {
		const char *k;
		json_t *c;
		json_object_foreach(v, k, c) {
			if (strcmp(k, "$ref") == 0 && json_is_string(c)) {
				const char *r = json_string_value(c);
				const char *pre = "#/components/schemas/";
				if (strncmp(r, pre, strlen(pre)) == 0) {
					size_t l = strlen(r) - strlen(pre) + sizeof("#/definitions/");
					char *n = malloc(l);
					if (n) {
						snprintf(n, l, "#/definitions/%s", r + strlen(pre));
						json_string_set(c, n);
						free(n);
					}
				}
			} else {
				rewrite_refs(c);
			}
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			rewrite_refs(json_array_get(v, i));
	}
}

json_t *kp_apiserver__openapi2_json(const struct kp_apiserver__reg *reg)
{
	json_t *doc = json_pack("{s:s, s:{s:s, s:s}, s:{}, s:{}}", "swagger", "2.0", "info", "title", "Kubernetes",
				"version", "v1.32.0", "paths", "definitions");
	json_t *idx = kp_apiserver__reg_openapi_index(reg);
	json_t *defs = json_object_get(doc, "definitions");
	const char *gv;
	json_t *ent;
	if (!doc || !idx) {
		json_decref(doc);
		json_decref(idx);
		return NULL;
	}
	json_object_foreach(json_object_get(idx, "paths"), gv, ent) {
		(void)ent;
		json_t *d = kp_apiserver__reg_openapi_doc(reg, gv);
		json_t *schemas = json_object_get(json_object_get(d, "components"), "schemas");
		const char *name;
		json_t *s;
		json_object_foreach(schemas, name, s) {
			if (!json_object_get(defs, name))
				json_object_set(defs, name, s);
		}
		json_decref(d);
	}
	json_decref(idx);
	rewrite_refs(defs);
	return doc;
}

/* protobuf: field 1 swagger (string), field 2 info (message: title 1, version 2) */
static const unsigned char pb_doc[] = {
	0x0a, 3, '2', '.', '0',
	0x12, 21,
	0x0a, 10, 'K', 'u', 'b', 'e', 'r', 'n', 'e', 't', 'e', 's',
	0x12, 7, 'v', '1', '.', '3', '2', '.', '0',
};

const unsigned char *kp_apiserver__openapi2_pb(size_t *len)
{
	*len = sizeof(pb_doc);
	return pb_doc;
}
