/*
 * pricing.c - the AWS Price List (Pricing) API's pure parts, as
 * karpenter-provider-aws pkg/providers/pricing does them: which region's
 * endpoint answers for a cluster's region (the API has endpoints in a few
 * regions only), its host and partition domain, the currency of the
 * answers, and the GetProducts request body whose regionCode filter is the
 * cluster's region (not the endpoint's).
 *
 * No I/O: the provider (provider.c) sends the bodies through kp_aws_json;
 * the client (client.c) uses the region for the default host and SigV4.
 */
#include <string.h>

#include "cloud/aws/aws.h"

/* pricing.go NewAPI: "pricing API doesn't have an endpoint in all regions" */
const char *kp_aws_pricing_region(const char *region)
{
	if (!region)
		return "us-east-1";
	if (strncmp(region, "ap-", 3) == 0)
		return "ap-south-1";
	if (strncmp(region, "cn-", 3) == 0)
		return "cn-northwest-1";
	if (strncmp(region, "eu-", 3) == 0)
		return "eu-central-1";
	return "us-east-1";
}

/* The partition's domain: aws-cn regions are under amazonaws.com.cn. */
const char *kp_aws_domain(const char *region)
{
	return region && strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
}

/* pricing.go onDemandPage: prices are in CNY in the China regions. */
const char *kp_aws_pricing_currency(const char *region)
{
	return region && strncmp(region, "cn-", 3) == 0 ? "CNY" : "USD";
}

char *kp_aws_pricing_body(const char *region, const char *tenancy, const char *family, const char *next_token)
{
	/* pricing.go UpdateOnDemandPricing / fetchOnDemandPricing: TERM_MATCH
	 * filters; regionCode is the cluster's region whatever endpoint answers */
	json_t *req = json_pack("{s:s,s:i,s:[{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},"
				"{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s}]}",
				"ServiceCode", "AmazonEC2", "MaxResults", 100, "Filters", "Type", "TERM_MATCH", "Field",
				"regionCode", "Value", region, "Type", "TERM_MATCH", "Field", "serviceCode", "Value",
				"AmazonEC2", "Type", "TERM_MATCH", "Field", "preInstalledSw", "Value", "NA", "Type",
				"TERM_MATCH", "Field", "operatingSystem", "Value", "Linux", "Type", "TERM_MATCH", "Field",
				"capacitystatus", "Value", "Used", "Type", "TERM_MATCH", "Field", "marketoption", "Value",
				"OnDemand", "Type", "TERM_MATCH", "Field", "tenancy", "Value", tenancy, "Type",
				"TERM_MATCH", "Field", "productFamily", "Value", family);
	char *body;

	if (!req)
		return NULL;
	if (next_token && *next_token && json_object_set_new(req, "NextToken", json_string(next_token))) {
		json_decref(req);
		return NULL;
	}
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return body;
}
