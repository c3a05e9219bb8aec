/*
 * fuzz_quantity.c - libFuzzer harness for resource quantities: the input (up
 * to its first NUL) is parsed at both scales; a value that parses must format
 * in both styles and parse back to itself (kp_qty_format's output is
 * canonical). The overflow-checked helpers get the raw bytes as operands.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "karpenter/quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(int64_t v, int scale, enum kp_qty_style style)
{
	char buf[64];
	struct kp_errbuf eb = { 0 };
	int64_t back = 0;

	kp_qty_format(v, scale, style, buf, sizeof(buf));
	if (kp_qty_parse(buf, scale, &back, &eb) != KP_OK || back != v)
		abort(); /* format produced something parse does not give back */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct kp_errbuf eb = { 0 };
	int64_t v, a = 0, b = 0, r;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (int scale = 0; scale <= 3; scale += 3) {
		if (kp_qty_parse(s, scale, &v, &eb) == KP_OK) {
			roundtrip(v, scale, KP_QTY_DECIMAL);
			roundtrip(v, scale, KP_QTY_BINARY);
		}
	}
	free(s);
	if (size >= 16) {
		memcpy(&a, data, 8);
		memcpy(&b, data + 8, 8);
		(void)kp_i64_add(a, b, &r);
		(void)kp_i64_mul(a, b, &r);
	}
	return 0;
}
