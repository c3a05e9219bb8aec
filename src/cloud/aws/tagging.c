/*
 * tagging.c - the AWS provider's tag_instance: the EC2 half of Karpenter's
 * NodeClaim tagging controller (karpenter-provider-aws
 * pkg/controllers/nodeclaim/tagging/controller.go, tagInstance). Once a
 * NodeClaim has registered, its instance gets Name = the Node's name,
 * karpenter.sh/nodeclaim = the NodeClaim and eks:eks-cluster-name = the
 * cluster; a key the instance already carries is left as it is
 * (lo.OmitByKeys over the instance's tags), so a Name the user set through
 * the EC2NodeClass's spec.tags or by hand is kept. Nothing to add: no call.
 *
 * Rate: Karpenter runs the controller one NodeClaim at a time and sleeps a
 * second after each CreateTags, because CreateTags shares the mutating-call
 * budget with CreateFleet. Here CreateTags calls are spaced at least
 * TAG_SPACING_MS apart per provider (a slot taken atomically; the first call
 * does not wait), whoever calls.
 * Cost: one DescribeInstances, at most one CreateTags.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cloud/aws/aws_int.h"

#define TAG_SPACING_MS 1000
#define TAG_NAME "Name"

struct tag_seen {
	bool found;                  /* the instance is there (live state) */
	bool name, claim, cluster;   /* the keys it already has */
};

static kp_err on_res(void *ud, const struct kp_aws_xnode *res, struct kp_errbuf *eb)
{
	struct tag_seen *s = ud;
	const struct kp_aws_xnode *set = kp_aws_xml_child(res, "instancesSet");

	(void)eb;
	for (const struct kp_aws_xnode *x = set ? set->child : NULL; x; x = x->next) {
		const struct kp_aws_xnode *tags = kp_aws_xml_child(x, "tagSet");

		if (!kp_aws_xml_text(x, "instanceId"))
			continue;
		s->found = true;
		for (const struct kp_aws_xnode *tg = tags ? tags->child : NULL; tg; tg = tg->next) {
			const char *k = kp_aws_xml_text(tg, "key");

			if (!k)
				continue;
			s->name |= strcmp(k, TAG_NAME) == 0;
			s->claim |= strcmp(k, KP_AWS_TAG_NODECLAIM) == 0;
			s->cluster |= strcmp(k, KP_AWS_TAG_CLUSTER) == 0;
		}
	}
	return KP_OK;
}

/* Takes the next CreateTags slot and sleeps until it. */
static void tag_wait_slot(struct kp_aws_cloud *w)
{
	int64_t now = kp_mono_ms(), slot;
	long long next = atomic_load(&w->tag_next_ms);   /* the field's own type (atomic_llong) */

	do {
		slot = next > now ? next : now;
	} while (!atomic_compare_exchange_weak(&w->tag_next_ms, &next, slot + TAG_SPACING_MS));
	if (slot > now) {
		struct timespec ts = { (time_t)((slot - now) / 1000), (long)((slot - now) % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
}

static void add_tag(struct kp_aws_params *p, int *nt, const char *k, const char *v)
{
	(*nt)++;
	kp_aws_params_addf(p, k, "Tag.%d.Key", *nt);
	kp_aws_params_addf(p, v, "Tag.%d.Value", *nt);
}

static enum kp_cloud_err cloud_err(kp_err rc, const char *id, struct kp_errbuf *eb)
{
	if (rc == KP_ERR_NOTFOUND)
		return kp_cloud_errf(eb, KP_CLOUD_NOT_FOUND, "instance %s not found", id);
	return rc == KP_ERR_IO ? KP_CLOUD_TRANSIENT : KP_CLOUD_INTERNAL;
}

enum kp_cloud_err kp_aws_tag_instance(struct kp_cloud *cp, const char *provider_id, const char *node_name,
				      const char *claim_name, struct kp_errbuf *eb)
{
	struct kp_aws_cloud *w = cp->impl;
	static const char *const live[] = { "pending", "running", "stopping", "stopped", "shutting-down" };
	const char *id = provider_id ? strrchr(provider_id, '/') : NULL;
	struct tag_seen seen = { 0 };
	struct kp_aws_params p;
	struct kp_aws_resp r;
	struct kp_arena a;
	int nt = 0;
	kp_err rc;

	if (!id || strncmp(id + 1, "i-", 2) != 0)
		return kp_cloud_errf(eb, KP_CLOUD_NOT_FOUND, "provider id \"%s\" is not an AWS instance",
				     provider_id ? provider_id : "");
	id++;
	/* instance.Get: the instance in a live state, with its tags */
	kp_aws_params_init(&p, "DescribeInstances", KP_AWS_EC2_VERSION);
	kp_aws_params_add(&p, "InstanceId.1", id);
	kp_aws_params_add(&p, "Filter.1.Name", "instance-state-name");
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		kp_aws_params_addf(&p, live[i], "Filter.1.Value.%zu", i + 1);
	rc = kp_aws_ec2_each(w, &p, "reservationSet", on_res, &seen, eb);
	kp_aws_params_free(&p);
	if (rc)
		return cloud_err(rc, id, eb);
	if (!seen.found)
		return kp_cloud_errf(eb, KP_CLOUD_NOT_FOUND, "instance %s not found", id);
	/* lo.OmitByKeys(tags, lo.Keys(instance.Tags)) */
	kp_aws_params_init(&p, "CreateTags", KP_AWS_EC2_VERSION);
	kp_aws_params_add(&p, "ResourceId.1", id);
	if (!seen.name && node_name && *node_name)
		add_tag(&p, &nt, TAG_NAME, node_name);
	if (!seen.claim && claim_name && *claim_name)
		add_tag(&p, &nt, KP_AWS_TAG_NODECLAIM, claim_name);
	if (!seen.cluster)
		add_tag(&p, &nt, KP_AWS_TAG_CLUSTER, w->cluster);
	if (nt == 0) {
		kp_aws_params_free(&p);
		return KP_CLOUD_OK;
	}
	tag_wait_slot(w);
	kp_arena_init(&a);
	rc = kp_aws_query(w->cl, "ec2", &p, false, false, &a, &r, eb);
	kp_aws_params_free(&p);
	kp_arena_free(&a);
	return rc ? cloud_err(rc, id, eb) : KP_CLOUD_OK;
}
