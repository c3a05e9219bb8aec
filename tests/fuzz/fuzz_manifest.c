/*
 * fuzz_manifest.c - libFuzzer harness: one input is one manifest file (YAML,
 * or JSON when it starts with '{') through kp_load_buffer, the path of
 * `karpenter simulate -f`. Any error return is fine; crashes, sanitizer
 * reports, leaks and hangs are findings.
 */
#include <stddef.h>
#include <stdint.h>

#include "karpenter/objects.h"
#include "load/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_cluster c;
	struct kp_errbuf eb = { 0 };
	struct kp_load_opts o = { NULL, 1700000000 };

	kp_cluster_init(&c);
	if (kp_load_buffer(&c, "fuzz.yaml", (const char *)data, size, &o, &eb) == KP_OK)
		kp_cluster_link(&c);
	kp_cluster_free(&c);
	return 0;
}
