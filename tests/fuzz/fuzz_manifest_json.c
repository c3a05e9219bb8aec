/*
 * fuzz_manifest_json.c - libFuzzer harness: one input is one JSON API object
 * (or a ...List) decoded by jansson and handed to kp_load_object, the path an
 * informer's objects take into the controller's snapshot. The same bytes also
 * go through kp_load_buffer as a ".json" file (the JSON stream parser of
 * `simulate`). Errors are fine; crashes, sanitizer reports and leaks are not.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "karpenter/objects.h"
#include "load/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_cluster c;
	struct kp_errbuf eb = { 0 };
	struct kp_load_opts o = { NULL, 1700000000 };
	json_error_t je;
	json_t *obj = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);

	if (obj) {
		kp_cluster_init(&c);
		if (kp_load_object(&c, obj, NULL, NULL, "fuzz", &o, &eb) == KP_OK)
			kp_cluster_link(&c);
		kp_cluster_free(&c);
		kp_cluster_init(&c);
		(void)kp_load_object(&c, obj, "Pod", "v1", "fuzz", &o, &eb);
		kp_cluster_free(&c);
		json_decref(obj);
	}
	if (size && data[0] == '{') {
		kp_cluster_init(&c);
		if (kp_load_buffer(&c, "fuzz.json", (const char *)data, size, &o, &eb) == KP_OK)
			kp_cluster_link(&c);
		kp_cluster_free(&c);
	}
	return 0;
}
