/*
 * test_aws_pricing.c - the Pricing API's region, endpoint and request as
 * karpenter-provider-aws pkg/providers/pricing picks them (pricing.go
 * NewAPI): the endpoint region for each cluster region, the default host
 * (amazonaws.com.cn in the China regions), the SigV4 signing region, the
 * endpoint precedence (pricing option > --aws-endpoint >
 * AWS_ENDPOINT_URL_PRICING > AWS_ENDPOINT_URL > AWS), and the GetProducts
 * body whose regionCode filter stays the cluster's region.
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

static void clear_env(void)
{
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_PRICING");
	unsetenv("AWS_ENDPOINT_URL_EC2");
	unsetenv("AWS_ENDPOINT_URL_IAM");
}

/* A client for region (no I/O: the region is given, credentials are only
 * resolved by a call). */
static struct kp_aws_client *client(const char *region, const char *endpoint, const char *pricing)
{
	struct kp_aws_config cfg = { 0 };
	struct kp_aws_client *c = NULL;
	struct kp_errbuf eb = { 0 };

	cfg.region = region;
	cfg.endpoint = endpoint;
	cfg.pricing_endpoint = pricing;
	if (kp_aws_client_new(&cfg, &c, &eb))
		fail_msg("client for %s: %s", region, eb.msg);
	return c;
}

static void t_region_mapping(void **state)
{
	static const char *const cases[][2] = {
		{ "us-east-1", "us-east-1" },      { "us-west-2", "us-east-1" },     { "ca-central-1", "us-east-1" },
		{ "sa-east-1", "us-east-1" },      { "me-south-1", "us-east-1" },    { "af-south-1", "us-east-1" },
		{ "il-central-1", "us-east-1" },   { "ap-northeast-1", "ap-south-1" }, { "ap-south-1", "ap-south-1" },
		{ "ap-southeast-2", "ap-south-1" }, { "eu-west-1", "eu-central-1" }, { "eu-north-1", "eu-central-1" },
		{ "eu-central-1", "eu-central-1" }, { "cn-north-1", "cn-northwest-1" }, { "cn-northwest-1", "cn-northwest-1" },
		{ "europe", "us-east-1" },          { "", "us-east-1" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = kp_aws_pricing_region(cases[i][0]);

		if (strcmp(got, cases[i][1]) != 0)
			fail_msg("pricing region for \"%s\": got %s, want %s", cases[i][0], got, cases[i][1]);
	}
	assert_string_equal(kp_aws_pricing_region(NULL), "us-east-1");
	assert_string_equal(kp_aws_domain("cn-north-1"), "amazonaws.com.cn");
	assert_string_equal(kp_aws_domain("eu-west-1"), "amazonaws.com");
	assert_string_equal(kp_aws_pricing_currency("cn-northwest-1"), "CNY");
	assert_string_equal(kp_aws_pricing_currency("ap-south-1"), "USD");
}

static void t_default_hosts(void **state)
{
	static const char *const cases[][3] = {
		/* cluster region, Pricing endpoint, signing region */
		{ "us-east-1", "https://api.pricing.us-east-1.amazonaws.com", "us-east-1" },
		{ "us-west-2", "https://api.pricing.us-east-1.amazonaws.com", "us-east-1" },
		{ "eu-west-1", "https://api.pricing.eu-central-1.amazonaws.com", "eu-central-1" },
		{ "ap-northeast-2", "https://api.pricing.ap-south-1.amazonaws.com", "ap-south-1" },
		{ "cn-north-1", "https://api.pricing.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1" },
	};
	char buf[256];

	(void)state;
	clear_env();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kp_aws_client *c = client(cases[i][0], NULL, NULL);

		kp_aws_endpoint(c, "pricing", buf, sizeof(buf));
		assert_string_equal(buf, cases[i][1]);
		assert_string_equal(kp_aws_sign_region(c, "pricing"), cases[i][2]);
		/* the other services keep the cluster's region */
		assert_string_equal(kp_aws_sign_region(c, "ec2"), cases[i][0]);
		kp_aws_client_free(c);
	}
	{
		struct kp_aws_client *c = client("cn-north-1", NULL, NULL);

		kp_aws_endpoint(c, "ec2", buf, sizeof(buf));
		assert_string_equal(buf, "https://ec2.cn-north-1.amazonaws.com.cn");
		kp_aws_endpoint(c, "iam", buf, sizeof(buf));
		assert_string_equal(buf, "https://iam.cn-north-1.amazonaws.com.cn");
		assert_string_equal(kp_aws_sign_region(c, "iam"), "cn-north-1");
		kp_aws_client_free(c);
		c = client("eu-west-1", NULL, NULL);
		kp_aws_endpoint(c, "ec2", buf, sizeof(buf));
		assert_string_equal(buf, "https://ec2.eu-west-1.amazonaws.com");
		kp_aws_endpoint(c, "iam", buf, sizeof(buf));
		assert_string_equal(buf, "https://iam.amazonaws.com");
		assert_string_equal(kp_aws_sign_region(c, "iam"), "us-east-1");
		kp_aws_client_free(c);
	}
}

static void t_precedence(void **state)
{
	struct kp_aws_client *c;
	char buf[256];

	(void)state;
	clear_env();
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/", 1);
	c = client("eu-west-1", NULL, NULL);
	kp_aws_endpoint(c, "pricing", buf, sizeof(buf));
	assert_string_equal(buf, "http://127.0.0.1:1");
	setenv("AWS_ENDPOINT_URL_PRICING", "http://127.0.0.1:2", 1);
	kp_aws_endpoint(c, "pricing", buf, sizeof(buf));
	assert_string_equal(buf, "http://127.0.0.1:2");
	kp_aws_endpoint(c, "ec2", buf, sizeof(buf));   /* the per-service variable is Pricing's only */
	assert_string_equal(buf, "http://127.0.0.1:1");
	kp_aws_client_free(c);
	c = client("eu-west-1", "http://127.0.0.1:3", NULL);   /* --aws-endpoint */
	kp_aws_endpoint(c, "pricing", buf, sizeof(buf));
	assert_string_equal(buf, "http://127.0.0.1:3");
	kp_aws_client_free(c);
	c = client("eu-west-1", "http://127.0.0.1:3", "http://127.0.0.1:4/");   /* --aws-pricing-endpoint */
	kp_aws_endpoint(c, "pricing", buf, sizeof(buf));
	assert_string_equal(buf, "http://127.0.0.1:4");
	kp_aws_endpoint(c, "ec2", buf, sizeof(buf));
	assert_string_equal(buf, "http://127.0.0.1:3");
	/* an override changes where, not the region the request is signed for */
	assert_string_equal(kp_aws_sign_region(c, "pricing"), "eu-central-1");
	kp_aws_client_free(c);
	clear_env();
}

static void t_bad_pricing_endpoint(void **state)
{
	struct kp_aws_config cfg = { 0 };
	struct kp_aws_client *c = NULL;
	struct kp_errbuf eb = { 0 };

	(void)state;
	cfg.region = "us-east-1";
	cfg.pricing_endpoint = "ftp://127.0.0.1:1";
	assert_int_equal(kp_aws_client_new(&cfg, &c, &eb), KP_ERR_INVALID);
	assert_null(c);
	assert_non_null(strstr(eb.msg, "pricing endpoint"));
	assert_non_null(strstr(eb.msg, "ftp://127.0.0.1:1"));
}

/* The Filters entry whose Field is field: its Value, or NULL. */
static const char *filter(json_t *req, const char *field)
{
	size_t i;
	json_t *f;

	json_array_foreach(json_object_get(req, "Filters"), i, f)
		if (strcmp(json_string_value(json_object_get(f, "Field")), field) == 0) {
			assert_string_equal(json_string_value(json_object_get(f, "Type")), "TERM_MATCH");
			return json_string_value(json_object_get(f, "Value"));
		}
	return NULL;
}

static void t_products_body(void **state)
{
	char *body;
	json_t *req;

	(void)state;
	/* a cluster in eu-west-1 asks eu-central-1's endpoint for eu-west-1's prices */
	body = kp_aws_pricing_body("eu-west-1", "Shared", "Compute Instance", "");
	assert_non_null(body);
	req = json_loads(body, 0, NULL);
	assert_non_null(req);
	assert_string_equal(filter(req, "regionCode"), "eu-west-1");
	assert_string_equal(filter(req, "tenancy"), "Shared");
	assert_string_equal(filter(req, "productFamily"), "Compute Instance");
	assert_string_equal(filter(req, "serviceCode"), "AmazonEC2");
	assert_string_equal(filter(req, "preInstalledSw"), "NA");
	assert_string_equal(filter(req, "operatingSystem"), "Linux");
	assert_string_equal(filter(req, "capacitystatus"), "Used");
	assert_string_equal(filter(req, "marketoption"), "OnDemand");
	assert_null(filter(req, "location"));
	assert_string_equal(json_string_value(json_object_get(req, "ServiceCode")), "AmazonEC2");
	assert_int_equal(json_integer_value(json_object_get(req, "MaxResults")), 100);
	assert_null(json_object_get(req, "NextToken"));
	json_decref(req);
	free(body);

	body = kp_aws_pricing_body("cn-north-1", "Dedicated", "Compute Instance (bare metal)", "tok-2");
	assert_non_null(body);
	req = json_loads(body, 0, NULL);
	assert_non_null(req);
	assert_string_equal(filter(req, "regionCode"), "cn-north-1");
	assert_string_equal(filter(req, "tenancy"), "Dedicated");
	assert_string_equal(filter(req, "productFamily"), "Compute Instance (bare metal)");
	assert_string_equal(json_string_value(json_object_get(req, "NextToken")), "tok-2");
	json_decref(req);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_region_mapping),
		cmocka_unit_test(t_default_hosts),
		cmocka_unit_test(t_precedence),
		cmocka_unit_test(t_bad_pricing_endpoint),
		cmocka_unit_test(t_products_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
