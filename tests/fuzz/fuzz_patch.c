/*
 * fuzz_patch.c - libFuzzer harness for the API server's three patch types:
 * JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge
 * patch against one of the built-in resources.
 *
 * Input: byte 0 picks the patch type (mod 3) and byte 1 the resource (for a
 * strategic merge patch); the rest is the original object, a NUL byte, then
 * the patch document (both JSON). A result must serialize. The prototypes
 * are declared here rather than taken from the server's private header, so
 * the harness links against whichever module of the library holds them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "karpenter/base.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the library's patch and registry entry points (see the API server's apires.h) */
struct kp_apireg;
struct kp_apires;
kp_err kp_apireg_new(struct kp_apireg **out, const char *crd_dir, struct kp_errbuf *eb);
const struct kp_apires *kp_apireg_at(const struct kp_apireg *reg, int i);
json_t *kp_patch_merge(const json_t *orig, const json_t *patch);
json_t *kp_patch_json(const json_t *orig, const json_t *patch, struct kp_errbuf *eb);
json_t *kp_patch_strategic(const struct kp_apires *res, const json_t *orig, const json_t *patch,
			   struct kp_errbuf *eb);

static struct kp_apireg *reg;
static int nres;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct kp_errbuf eb = { 0 };

	(void)argc;
	(void)argv;
	if (kp_apireg_new(&reg, NULL, &eb))
		abort();
	while (kp_apireg_at(reg, nres))
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
			out = kp_patch_merge(orig, patch);
			break;
		case 1:
			out = kp_patch_json(orig, patch, &eb);
			break;
		default:
			out = kp_patch_strategic(kp_apireg_at(reg, data[1] % nres), orig, patch, &eb);
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
