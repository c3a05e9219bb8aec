/*
 * subnets.c - the simulated VPC's subnets and EC2NodeClass
 * subnetSelectorTerms matching, shared by `simulate` (every zone of the
 * catalog has a subnet) and the simulated cloud (src/cloud/fake.c: three
 * zones by default).
 *
 * The simulated subnet of zone Z has id "subnet-Z" and the tags
 * Name=subnet-Z, topology.kubernetes.io/zone=Z and karpenter.sh/discovery
 * with every value (the simulated VPC is discoverable by any cluster name,
 * so published examples' "${CLUSTER_NAME}" selects it). A term selects a
 * subnet by id, or when every one of its tags is on the subnet with that
 * value ("*" = any value), as the AWS provider's subnet.List filters
 * DescribeSubnets (one call per term, id terms exclusive).
 *
 * Cost: O(terms x tags) per zone.
 */
#include <string.h>

#include "karpenter/catalog.h"

#define SUBNET_ID_PREFIX "subnet-"
#define TAG_DISCOVERY "karpenter.sh/discovery"

static bool tag_matches(const char *zone, const char *key, const char *want)
{
	bool any = strcmp(want, "*") == 0;

	if (strcmp(key, TAG_DISCOVERY) == 0)
		return true;
	if (strcmp(key, KP_LABEL_ZONE) == 0)
		return any || strcmp(want, zone) == 0;
	if (strcmp(key, "Name") == 0)
		return any || (strncmp(want, SUBNET_ID_PREFIX, strlen(SUBNET_ID_PREFIX)) == 0 &&
			       strcmp(want + strlen(SUBNET_ID_PREFIX), zone) == 0);
	return false;
}

bool kp_subnet_term_selects(const struct kp_subnet_term *t, const char *zone)
{
	if (!zone)
		return false;
	if (t->id)
		return strncmp(t->id, SUBNET_ID_PREFIX, strlen(SUBNET_ID_PREFIX)) == 0 &&
		       strcmp(t->id + strlen(SUBNET_ID_PREFIX), zone) == 0;
	for (int i = 0; i < t->tags.n; i++)
		if (!tag_matches(zone, t->tags.kv[i].key, t->tags.kv[i].value))
			return false;
	return t->tags.n > 0;
}

bool kp_subnet_zone_selected(const struct kp_nodeclass *nc, const char *zone)
{
	if (!nc || nc->nsubnet_terms == 0)
		return true;
	for (int i = 0; i < nc->nsubnet_terms; i++)
		if (kp_subnet_term_selects(&nc->subnet_terms[i], zone))
			return true;
	return false;
}
