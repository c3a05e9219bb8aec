/*
 * fuzz_patch.c - libFuzzer harness for the API server's three patch types:
 * JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge
 * patch against one of the built-in resources.
 *
 * Input: byte 0 picks the patch type (mod 3) and byte 1 the resource (for a
 * strategic merge patch); the rest is the original object, a NUL byte, then
 * the patch document (both JSON). A result must serialize.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apiserver/apires.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kp_apiserver__reg *reg;
static int nres;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct kp_errbuf eb = { 0 };

	(void)argc;
	(void)argv;
	if (kp_apiserver__reg_new(&reg, NULL, &eb))
		abort();
	while (kp_apiserver__reg_at(reg, nres))
		nres++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_errbuf eb = { 0 };
	const uint8_t *sep;
	json_error_t je;
	json_t *orig, *patch, *out = NULL;

	if (size < 2 || size > 1 << 16)
		return 0;
	sep = memchr(data + 2, '\0', size - 2);
	if (!sep)
		return 0;
	orig = json_loadb((const char *)data + 2, (size_t)(sep - data - 2), JSON_DECODE_ANY, &je);
	patch = json_loadb((const char *)sep + 1, size - (size_t)(sep + 1 - data), JSON_DECODE_ANY, &je);
	if (orig && patch) {
		switch (data[0] % 3) {
		case 0:
			out = kp_apiserver__patch_merge(orig, patch);
			break;
		case 1:
			out = kp_apiserver__patch_json(orig, patch, &eb);
			break;
		default:
			out = kp_apiserver__patch_strategic(kp_apiserver__reg_at(reg, data[1] % nres), orig, patch, &eb);
			break;
		}
	}
	if (out) {
		char *s = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);
		free(s);
	}
	json_decref(out);
	json_decref(orig);
	json_decref(patch);
	return 0;
}
