/*
 * fuzz_kubeconfig.c - libFuzzer harness for kubeconfig parsing
 * (kp_kubeconfig_parse: YAML to JSON, contexts, clusters, users, base64
 * data fields, exec plugins). Relative file references resolve against a
 * directory that does not exist, so they fail like any bad path.
 */
#include <stddef.h>
#include <stdint.h>

#include "kube/kube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_kube_config *cfg = NULL;
	struct kp_errbuf eb = { 0 };

	if (size > 1 << 16)
		return 0;
	if (kp_kubeconfig_parse((const char *)data, size, "/nonexistent-kp-fuzz", NULL, &cfg, &eb) == KP_OK)
		kp_kube_config_free(cfg);
	cfg = NULL;
	if (kp_kubeconfig_parse((const char *)data, size, "/nonexistent-kp-fuzz", "fuzz", &cfg, &eb) == KP_OK)
		kp_kube_config_free(cfg);
	return 0;
}
