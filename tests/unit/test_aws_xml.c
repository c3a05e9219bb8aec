/*
 * test_aws_xml.c - the AWS client's pure parts: XML answers into the arena
 * tree (EC2 lists, errors, malformed and hostile input), Query parameter
 * encoding, the capacity-error and throttling code lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloud/aws/aws.h"

static const char FLEET_ERR[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<CreateFleetResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r1</requestId>"
	"<fleetId>fleet-9</fleetId><errorSet><item><launchTemplateAndOverrides><overrides>"
	"<instanceType>c5.large</instanceType><availabilityZone>us-east-1b</availabilityZone></overrides>"
	"</launchTemplateAndOverrides><lifecycle>spot</lifecycle><errorCode>InsufficientInstanceCapacity</errorCode>"
	"<errorMessage>no c5.large</errorMessage></item></errorSet><fleetInstanceSet/></CreateFleetResponse>";

static void t_parse_fleet_errors(void **state)
{
	struct kp_arena a;
	struct kp_aws_xnode *root;
	struct kp_errbuf eb = { 0 };
	const struct kp_aws_xnode *item;

	(void)state;
	kp_arena_init(&a);
	assert_int_equal(kp_aws_xml_parse(&a, FLEET_ERR, sizeof(FLEET_ERR) - 1, &root, &eb), KP_OK);
	assert_string_equal(root->name, "CreateFleetResponse");
	assert_string_equal(kp_aws_xml_text(root, "fleetId"), "fleet-9");
	item = kp_aws_xml_path(root, "errorSet/item");
	assert_non_null(item);
	assert_string_equal(kp_aws_xml_text(item, "launchTemplateAndOverrides/overrides/instanceType"), "c5.large");
	assert_string_equal(kp_aws_xml_text(item, "errorCode"), "InsufficientInstanceCapacity");
	assert_true(kp_aws_code_ice(kp_aws_xml_text(item, "errorCode")));
	assert_null(kp_aws_xml_path(root, "fleetInstanceSet/item"));
	assert_string_equal(kp_aws_xml_find(root, "lifecycle")->text, "spot");
	kp_arena_free(&a);
}

static void t_parse_bad(void **state)
{
	struct kp_arena a;
	struct kp_aws_xnode *root;
	struct kp_errbuf eb = { 0 };
	static const char bomb[] = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\">"
				   "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><r>&b;</r>";
	static const char ext[] = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
				  "<r>&x;</r>";
	char deep[4096];
	size_t k = 0;

	(void)state;
	kp_arena_init(&a);
	assert_int_equal(kp_aws_xml_parse(&a, "<a><b></a>", 10, &root, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "xml:"));
	assert_null(root);
	assert_int_equal(kp_aws_xml_parse(&a, "", 0, &root, &eb), KP_ERR_INVALID);
	assert_int_equal(kp_aws_xml_parse(&a, "not xml", 7, &root, &eb), KP_ERR_INVALID);
	/* a DTD is refused: no entity expansion, no file read */
	assert_int_equal(kp_aws_xml_parse(&a, bomb, sizeof(bomb) - 1, &root, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "DOCTYPE"));
	assert_int_equal(kp_aws_xml_parse(&a, ext, sizeof(ext) - 1, &root, &eb), KP_ERR_INVALID);
	/* depth cap */
	for (int i = 0; i < 100; i++)
		k += (size_t)snprintf(deep + k, sizeof(deep) - k, "<x>");
	for (int i = 0; i < 100; i++)
		k += (size_t)snprintf(deep + k, sizeof(deep) - k, "</x>");
	assert_int_equal(kp_aws_xml_parse(&a, deep, k, &root, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "deeper"));
	kp_arena_free(&a);
}

static void t_params(void **state)
{
	struct kp_aws_params p;
	char u1[40], u2[40];

	(void)state;
	kp_aws_params_init(&p, "CreateFleet", "2016-11-15");
	kp_aws_params_add(&p, "LaunchTemplateConfigs.1.LaunchTemplateSpecification.LaunchTemplateName",
			  "karpenter.k8s.aws/999");
	kp_aws_params_addf(&p, "$Latest", "LaunchTemplateConfigs.%d.LaunchTemplateSpecification.Version", 1);
	kp_aws_params_add(&p, "TagSpecification.1.Tag.1.Key", "eks:eks-cluster-name");
	assert_false(p.failed);
	assert_string_equal(p.body.data,
			    "Action=CreateFleet&Version=2016-11-15"
			    "&LaunchTemplateConfigs.1.LaunchTemplateSpecification.LaunchTemplateName=karpenter.k8s.aws%2F999"
			    "&LaunchTemplateConfigs.1.LaunchTemplateSpecification.Version=%24Latest"
			    "&TagSpecification.1.Tag.1.Key=eks%3Aeks-cluster-name");
	assert_true(kp_aws_params_has(&p, "TagSpecification.1.Tag.1.Key"));
	assert_false(kp_aws_params_has(&p, "ClientToken"));
	kp_aws_params_free(&p);
	kp_aws_uuid(u1, sizeof(u1));
	kp_aws_uuid(u2, sizeof(u2));
	assert_int_equal(strlen(u1), 36);
	assert_int_equal(u1[14], '4');
	assert_string_not_equal(u1, u2);
}

static void t_codes(void **state)
{
	(void)state;
	assert_true(kp_aws_code_throttle("RequestLimitExceeded"));
	assert_true(kp_aws_code_throttle("ThrottlingException"));
	assert_false(kp_aws_code_throttle("AuthFailure"));
	assert_true(kp_aws_code_ice("InsufficientInstanceCapacity"));
	assert_true(kp_aws_code_ice("InsufficientFreeAddressesInSubnet"));
	assert_false(kp_aws_code_ice("InvalidParameterValue"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_parse_fleet_errors),
		cmocka_unit_test(t_parse_bad),
		cmocka_unit_test(t_params),
		cmocka_unit_test(t_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
