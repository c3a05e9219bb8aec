/*
 * fuzz_ec2_xml.c - libFuzzer harness for the AWS client's XML answers
 * (kp_aws_xml_parse: EC2/IAM/STS Query protocol responses and error bodies
 * into the arena tree), then the lookups the provider makes on them: paths
 * through reservationSet/instancesSet, the error code of an Errors body,
 * a depth-first find.
 */
#include <stddef.h>
#include <stdint.h>

#include "cloud/aws/aws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const struct kp_aws_xnode *n, int depth)
{
	size_t count = 0;

	for (; n; n = n->next) {
		if (depth > KP_AWS_XML_MAX_DEPTH + 1)
			__builtin_trap(); /* the parser's depth cap did not hold */
		count += 1 + walk(n->child, depth + 1);
	}
	return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_arena a;
	struct kp_aws_xnode *root = NULL;
	struct kp_errbuf eb = { 0 };

	if (size > 1 << 18)
		return 0;
	kp_arena_init(&a);
	if (kp_aws_xml_parse(&a, (const char *)data, size, &root, &eb) == KP_OK) {
		(void)walk(root, 0);
		(void)kp_aws_xml_text(kp_aws_xml_find(root, "Error"), "Code");
		(void)kp_aws_xml_text(kp_aws_xml_find(root, "Errors"), "Error/Message");
		(void)kp_aws_xml_path(root, "reservationSet/item/instancesSet/item/instanceState/name");
		(void)kp_aws_xml_text(root, "instanceTypeSet/item/vCpuInfo/defaultVCpus");
		(void)kp_aws_xml_text(root, "fleetId");
		(void)kp_aws_xml_child(root, "errorSet");
		(void)kp_aws_xml_text(root, "");
		(void)kp_aws_xml_text(root, "//");
	}
	kp_arena_free(&a);
	return 0;
}
