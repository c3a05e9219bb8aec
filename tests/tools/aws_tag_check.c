/*
 * aws_tag_check.c - the AWS provider's tag_instance (src/cloud/aws/tagging.c,
 * the EC2 half of Karpenter's NodeClaim tagging controller) against a real
 * moto_server, through the kp_cloud interface.
 *
 * Karpenter's tagInstance (pkg/controllers/nodeclaim/tagging/controller.go)
 * reads the instance's tags and CreateTags only those of Name = node name,
 * karpenter.sh/nodeclaim, eks:eks-cluster-name that the instance lacks; an
 * instance that is gone is NodeClaimNotFound; CreateTags calls are at
 * least a second apart. Checked here on instances made in moto with
 * RunInstances: one tagged as our CreateFleet tags (only Name missing), one
 * bare, one with a user's Name; values already there are never
 * overwritten; unknown, terminated and non-AWS ids are not found.
 *
 * Usage: aws_tag_check MOTO_URL DATADIR   (run by tests/aws/run)
 * Prints "ok"/"FAIL" per check, then "aws-tag: N passed, M failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

#include "cloud/aws/aws.h"
#include "cloud/aws/provider.h"

#include "aws_check.h"

#define CLUSTER "tag-cluster"


/* RunInstances with up to two tags (k1 NULL: none); the providerID, or NULL. */
static const char *run(const char *k1, const char *v1, const char *k2, const char *v2)
{
	const char *kv[] = { "ImageId", "ami-0ed094fb1304fd857", "MinCount", "1", "MaxCount", "1", "InstanceType", "m5.large",
			     k1 ? "TagSpecification.1.ResourceType" : NULL, "instance",
			     "TagSpecification.1.Tag.1.Key", k1, "TagSpecification.1.Tag.1.Value", v1,
			     k2 ? "TagSpecification.1.Tag.2.Key" : NULL, k2, "TagSpecification.1.Tag.2.Value", v2, NULL };
	const struct kp_aws_xnode *it = kp_aws_xml_path(ec2("RunInstances", kv), "instancesSet/item");
	const char *id = kp_aws_xml_text(it, "instanceId"), *zone = kp_aws_xml_text(it, "placement/availabilityZone");

	return id ? kp_arena_printf(&A, "aws:///%s/%s", zone ? zone : "", id) : NULL;
}

/* The instance's tags as "k=v;" sorted by key as moto answers them, or "?". */
static const char *tags_of(const char *pid)
{
	const char *id = pid ? strrchr(pid, '/') : NULL;
	const char *kv[] = { "InstanceId.1", id ? id + 1 : "none", NULL };
	const struct kp_aws_xnode *set =
		kp_aws_xml_path(ec2("DescribeInstances", kv), "reservationSet/item/instancesSet/item/tagSet");
	struct kp_buf b;
	const char *out;

	if (!set)
		return "?";
	kp_buf_init(&b, 1 << 16);
	for (const struct kp_aws_xnode *t = set->child; t; t = t->next)
		kp_buf_printf(&b, "%s=%s;", kp_aws_xml_text(t, "key"), kp_aws_xml_text(t, "value"));
	out = kp_arena_strdup(&A, b.data ? b.data : "");
	kp_buf_free(&b);
	return out;
}

static bool has(const char *tags, const char *kv)
{
	char want[300];
	size_t n = strlen(tags), k;

	snprintf(want, sizeof(want), "%s;", kv);
	k = strlen(want);
	for (size_t i = 0; i + k <= n; i++)
		if ((i == 0 || tags[i - 1] == ';') && strncmp(tags + i, want, k) == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct kp_aws_config cfg = { 0 };
	struct kp_cloud_aws_opts o;
	struct kp_errbuf eb = { 0 };
	struct kp_cloud *cp = NULL;
	struct kp_catalog cat;
	struct kp_resnames rn;
	const char *a, *b, *u, *t, *tags;
	enum kp_cloud_err e;
	FILE *devnull = NULL;
	int64_t t0, ms_a, ms_b;
	char d[2048];

	if (argc != 3) {
		fprintf(stderr, "usage: aws_tag_check MOTO_URL DATADIR\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setenv("AWS_ACCESS_KEY_ID", "testing", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "testing", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	kp_arena_init(&A);
	kp_catalog_init(&cat);
	kp_resnames_init(&rn);
	if (kp_catalog_open(&cat, &rn, "aws", argv[2], &eb)) {
		fprintf(stderr, "catalog: %s\n", eb.msg);
		return 2;
	}
	cfg.region = "us-east-1";
	cfg.endpoint = argv[1];
	if (kp_aws_client_new(&cfg, &CL, &eb)) {
		fprintf(stderr, "client: %s\n", eb.msg);
		return 2;
	}
	kp_cloud_aws_opts_init(&o);
	o.cluster = CLUSTER;
	o.region = "us-east-1";
	o.endpoint = argv[1];
	o.base = &cat;
	o.max_attempts = 2;
	o.backoff_base_ms = 20;
	o.pricing_ttl_ms = -1;   /* moto has no Pricing API */
	o.cluster_endpoint = "https://127.0.0.1:6443";
	o.log_out = devnull = fopen("/dev/null", "w");
	if (kp_cloud_aws_new(&o, &cp, &eb)) {
		fprintf(stderr, "provider: %s\n", eb.msg);
		nfail++;
		goto out;
	}
	a = run("karpenter.sh/nodeclaim", "claim-a", "eks:eks-cluster-name", CLUSTER);   /* as CreateFleet tags */
	b = run(NULL, NULL, NULL, NULL);
	u = run("Name", "users-name", NULL, NULL);
	t = run(NULL, NULL, NULL, NULL);
	check(a && b && u && t, "fixtures in moto: four instances", NULL);
	if (!a || !b || !u || !t)
		goto out;

	/* ---- launched by us: only Name is missing ---- */
	t0 = kp_mono_ms();
	e = kp_cloud_tag_instance(cp, a, "node-a", "claim-a", &eb);
	ms_a = kp_mono_ms() - t0;
	tags = tags_of(a);
	snprintf(d, sizeof(d), "%s %s", kp_cloud_err_str(e), e ? eb.msg : tags);
	check(e == KP_CLOUD_OK && has(tags, "Name=node-a") && has(tags, "karpenter.sh/nodeclaim=claim-a") &&
		      has(tags, "eks:eks-cluster-name=" CLUSTER),
	      "launched instance: Name = node name added, its NodeClaim and cluster tags kept", d);

	/* ---- a bare instance: all three; right after the first CreateTags ---- */
	t0 = kp_mono_ms();
	e = kp_cloud_tag_instance(cp, b, "node-b", "claim-b", &eb);
	ms_b = kp_mono_ms() - t0;
	tags = tags_of(b);
	snprintf(d, sizeof(d), "%s %s", kp_cloud_err_str(e), e ? eb.msg : tags);
	check(e == KP_CLOUD_OK && has(tags, "Name=node-b") && has(tags, "karpenter.sh/nodeclaim=claim-b") &&
		      has(tags, "eks:eks-cluster-name=" CLUSTER),
	      "bare instance: Name, karpenter.sh/nodeclaim and eks:eks-cluster-name added", d);
	snprintf(d, sizeof(d), "first call %lld ms, second %lld ms", (long long)ms_a, (long long)ms_b);
	check(ms_a < 900 && ms_b >= 900, "CreateTags calls spaced 1 s apart (the first does not wait)", d);

	/* ---- a user's Name stays ---- */
	e = kp_cloud_tag_instance(cp, u, "node-u", "claim-u", &eb);
	tags = tags_of(u);
	snprintf(d, sizeof(d), "%s %s", kp_cloud_err_str(e), e ? eb.msg : tags);
	check(e == KP_CLOUD_OK && has(tags, "Name=users-name") && !has(tags, "Name=node-u") &&
		      has(tags, "karpenter.sh/nodeclaim=claim-u") && has(tags, "eks:eks-cluster-name=" CLUSTER),
	      "instance with a user's Name: Name kept, the other two added", d);

	/* ---- tagging again changes nothing that is there ---- */
	e = kp_cloud_tag_instance(cp, a, "other-node", "other-claim", &eb);
	tags = tags_of(a);
	snprintf(d, sizeof(d), "%s %s", kp_cloud_err_str(e), e ? eb.msg : tags);
	check(e == KP_CLOUD_OK && has(tags, "Name=node-a") && has(tags, "karpenter.sh/nodeclaim=claim-a"),
	      "a second call with other values overwrites nothing", d);

	/* ---- gone or not ours: not found ---- */
	{
		const char *id = strrchr(t, '/') + 1;
		const char *kv[] = { "InstanceId.1", id, NULL };

		ec2("TerminateInstances", kv);
	}
	e = kp_cloud_tag_instance(cp, t, "node-t", "claim-t", &eb);
	check(e == KP_CLOUD_NOT_FOUND, "terminated instance: NOT_FOUND", kp_cloud_err_str(e));
	tags = tags_of(t);
	check(!has(tags, "Name=node-t"), "terminated instance: not tagged", tags);
	e = kp_cloud_tag_instance(cp, "aws:///us-east-1a/i-0123456789abcdef0", "n", "c", &eb);
	check(e == KP_CLOUD_NOT_FOUND, "unknown instance id: NOT_FOUND", e ? eb.msg : "ok");
	e = kp_cloud_tag_instance(cp, "kwok://node-1", "n", "c", &eb);
	check(e == KP_CLOUD_NOT_FOUND, "a provider id that is not an AWS instance: NOT_FOUND", e ? eb.msg : "ok");

out:
	if (cp)
		kp_cloud_destroy(cp);
	if (devnull)
		fclose(devnull);
	kp_aws_client_free(CL);
	kp_catalog_free(&cat);
	kp_arena_free(&A);
	curl_global_cleanup();
	printf("aws-tag: %d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
