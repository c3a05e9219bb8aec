/*
 * aws_ami_check.c - AMI selection and AMI drift of the AWS provider
 * (src/cloud/aws/nodeclass.c resolve_amis, provider.c aws_is_drifted)
 * against a real moto_server, through the kp_cloud interface.
 *
 * Karpenter (pkg/providers/amifamily/ami.go amis + Sort) keeps, of the
 * images a class's selector terms match, only the newest non-deprecated
 * one per requirement set (arch); drift.go isAMIDrifted reports AMIDrift
 * when an instance's image is not the one its type maps to. Here: images
 * copied in moto (CopyImage keeps the source's architecture; moto's
 * creationDate has one-second resolution, so copies are 1.1 s apart)
 * under one tag, a newer one published later.
 *
 * Also: the class's spec.kubelet reaches its instance types (pods and
 * allocatable, catalog/kubelet.c), as in simulate.
 *
 * Usage: aws_ami_check MOTO_URL DATADIR   (run by tests/aws/run)
 * Prints "ok"/"FAIL" per check, then "aws-ami: N passed, M failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

#include "cloud/aws/aws.h"
#include "cloud/aws/provider.h"
#include "karpenter/labels.h"
#include "karpenter/objects.h"
#include "karpenter/requirements.h"
#include "karpenter/resources.h"

#include "aws_check.h"

static struct kp_catalog CAT;
static struct kp_resnames RN;

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A copy of src named name, tagged amis-check=yes; its creationDate is
 * now (moto), 1.1 s after the previous copy's. */
static const char *publish(const char *src, const char *name)
{
	const char *kv[] = { "SourceImageId", src, "SourceRegion", "us-east-1", "Name", name, NULL };
	const char *id;

	sleep_ms(1100);
	id = kp_aws_xml_text(ec2("CopyImage", kv), "imageId");
	if (id)
		tag(id, "amis-check", "yes");
	return id;
}

static void req_in(struct kp_nodeclaim *nc, const char *key, const char *const *vals, int n)
{
	struct kp_req r;
	struct kp_errbuf eb = { 0 };

	if (kp_req_make(&r, &A, key, KP_OP_IN, vals, n, 0, &eb) || kp_reqs_add(&nc->reqs, &A, &r))
		fprintf(stderr, "req %s: %s\n", key, eb.msg);
}

static struct kp_nodeclaim *claim(const char *name, const char *type)
{
	struct kp_nodeclaim *nc = kp_arena_alloc(&A, sizeof(*nc));
	static const char *const linux_[] = { "linux" }, *const od[] = { "on-demand" };

	kp_reqs_init(&nc->reqs);
	nc->name = kp_arena_strdup(&A, name);
	nc->nodepool = "amis";
	nc->node_class = "amis";
	kp_labels_set(&nc->labels, &A, KP_LABEL_NODEPOOL, "amis");
	req_in(nc, KP_LABEL_INSTANCE_TYPE, &type, 1);
	req_in(nc, KP_LABEL_CAPACITY_TYPE, od, 1);
	req_in(nc, KP_LABEL_OS, linux_, 1);
	return nc;
}

/* status.amis of the class as "id/arch id/arch ...", sorted by id. */
static void amis_of(const char *nc_json, struct kp_cloud *cp, char *out, size_t n)
{
	char *st = NULL, *cj = NULL;
	struct kp_errbuf eb = { 0 };
	json_t *s, *a;
	size_t i;

	out[0] = 0;
	kp_cloud_nodeclass_reconcile(cp, nc_json, &st, &cj, &eb);
	s = st ? json_loads(st, 0, NULL) : NULL;
	json_array_foreach(json_object_get(s, "amis"), i, a) {
		const char *arch = json_string_value(
			json_array_get(json_object_get(json_array_get(json_object_get(a, "requirements"), 0), "values"), 0));

		snprintf(out + strlen(out), n - strlen(out), "%s%s/%s", i ? " " : "",
			 json_string_value(json_object_get(a, "id")), arch ? arch : "?");
	}
	if (!s)
		snprintf(out, n, "reconcile: %.200s", eb.msg);
	else if (json_array_size(json_object_get(s, "amis")) == 2 && strcmp(out, strchr(out, ' ') + 1) > 0) {
		char first[256], *sp = strchr(out, ' ');

		snprintf(first, sizeof(first), "%.*s", (int)(sp - out), out);
		memmove(out, sp + 1, strlen(sp + 1) + 1);
		snprintf(out + strlen(out), n - strlen(out), " %s", first);
	}
	json_decref(s);
	free(st);
	free(cj);
}

static void want_of(char *out, size_t n, const char *x86, const char *arm64)
{
	if (strcmp(x86, arm64) < 0)
		snprintf(out, n, "%s/amd64 %s/arm64", x86, arm64);
	else
		snprintf(out, n, "%s/arm64 %s/amd64", arm64, x86);
}

static const char *image_of(const char *pid)
{
	const char *id = strrchr(pid, '/');
	const char *kv[] = { "InstanceId.1", id ? id + 1 : pid, NULL };

	return kp_aws_xml_text(kp_aws_xml_path(ec2("DescribeInstances", kv), "reservationSet/item/instancesSet/item"),
			       "imageId");
}

static const char *drift(struct kp_cloud *cp, const char *name, const char *type, const char *pid)
{
	static char reason[64];
	struct kp_nodeclaim *c = claim(name, type);
	struct kp_errbuf eb = { 0 };

	c->provider_id = pid;
	if (kp_cloud_is_drifted(cp, c, reason, sizeof(reason), &eb))
		snprintf(reason, sizeof(reason), "error: %.50s", eb.msg);
	return reason;
}

int main(int argc, char **argv)
{
	struct kp_aws_config cfg = { 0 };
	struct kp_cloud_aws_opts o;
	struct kp_errbuf eb = { 0 };
	struct kp_cloud *cp = NULL;
	const char *vpc, *sn, *sg = NULL, *src_x86 = "ami-0ed094fb1304fd857", *src_arm, *old, *mid, *arm, *newest;
	char nc_json[2048], got[512], want[512];
	struct kp_instance m5, m6g;
	enum kp_cloud_err e1, e2;
	FILE *devnull = NULL;

	if (argc != 3) {
		fprintf(stderr, "usage: aws_ami_check MOTO_URL DATADIR\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setenv("AWS_ACCESS_KEY_ID", "testing", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "testing", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	kp_arena_init(&A);
	kp_catalog_init(&CAT);
	kp_resnames_init(&RN);
	if (kp_catalog_open(&CAT, &RN, "aws", argv[2], &eb)) {
		fprintf(stderr, "catalog: %s\n", eb.msg);
		return 2;
	}
	cfg.region = "us-east-1";
	cfg.endpoint = argv[1];
	if (kp_aws_client_new(&cfg, &CL, &eb)) {
		fprintf(stderr, "client: %s\n", eb.msg);
		return 2;
	}

	/* the provider first: it loads the instance types (seconds in moto)
	 * in its own thread while the fixtures are made */
	kp_cloud_aws_opts_init(&o);
	o.cluster = "amis-cluster";
	o.region = "us-east-1";
	o.endpoint = argv[1];
	o.base = &CAT;
	o.max_attempts = 2;
	o.backoff_base_ms = 20;
	o.cluster_endpoint = "https://127.0.0.1:6443";
	o.log_out = devnull = fopen("/dev/null", "w");
	if (kp_cloud_aws_new(&o, &cp, &eb)) {
		fprintf(stderr, "provider: %s\n", eb.msg);
		nfail++;
		goto out;
	}

	/* fixtures: a subnet tagged for this check, the default VPC's default
	 * group (moto puts fleet instances in it), images */
	{
		const char *kv[] = { "CidrBlock", "10.7.0.0/16", NULL };

		vpc = kp_aws_xml_text(ec2("CreateVpc", kv), "vpc/vpcId");
	}
	{
		const char *kv[] = { "VpcId", vpc ? vpc : "none", "CidrBlock", "10.7.1.0/24", "AvailabilityZone", "us-east-1a", NULL };

		sn = kp_aws_xml_text(ec2("CreateSubnet", kv), "subnet/subnetId");
		if (sn)
			tag(sn, "amis-check", "yes");
	}
	{
		const char *kd[] = { "Filter.1.Name", "isDefault", "Filter.1.Value.1", "true", NULL };
		const char *dvpc = kp_aws_xml_text(kp_aws_xml_path(ec2("DescribeVpcs", kd), "vpcSet/item"), "vpcId");
		const char *kv[] = { "Filter.1.Name", "group-name", "Filter.1.Value.1", "default", "Filter.2.Name",
				     "vpc-id", "Filter.2.Value.1", dvpc ? dvpc : "none", NULL };

		sg = kp_aws_xml_text(kp_aws_xml_path(ec2("DescribeSecurityGroups", kv), "securityGroupInfo/item"), "groupId");
	}
	{
		const char *kv[] = { "Filter.1.Name", "architecture", "Filter.1.Value.1", "arm64", "Filter.2.Name", "name",
				     "Filter.2.Value.1", "al2023-ami-2023*", "Owner.1", "amazon", NULL };

		src_arm = kp_aws_xml_text(kp_aws_xml_path(ec2("DescribeImages", kv), "imagesSet/item"), "imageId");
	}
	/* the older one has the greater name: the creation date decides first */
	old = publish(src_x86, "amis-z-older");
	mid = publish(src_x86, "amis-a-newer");
	arm = src_arm ? publish(src_arm, "amis-arm") : NULL;
	check(sn && sg && old && mid && arm, "fixtures in moto: subnet, group, two amd64 images and one arm64 image", NULL);
	if (!sn || !sg || !old || !mid || !arm)
		goto out;

	snprintf(nc_json, sizeof(nc_json),
		 "{\"apiVersion\":\"karpenter.k8s.aws/v1\",\"kind\":\"EC2NodeClass\",\"metadata\":{\"name\":\"amis\","
		 "\"uid\":\"u-amis\"},\"spec\":{\"amiFamily\":\"AL2023\",\"instanceProfile\":\"p\","
		 "\"subnetSelectorTerms\":[{\"tags\":{\"amis-check\":\"yes\"}}],"
		 "\"securityGroupSelectorTerms\":[{\"id\":\"%s\"}],"
		 "\"amiSelectorTerms\":[{\"tags\":{\"amis-check\":\"*\"}}]}}",
		 sg);

	/* ---- the newest per arch wins; status.amis lists only the winners ---- */
	amis_of(nc_json, cp, got, sizeof(got));
	want_of(want, sizeof(want), mid, arm);
	check(strcmp(got, want) == 0, "status.amis: the newest amd64 image and the arm64 one, not the older amd64", got);

	/* ---- launch: each arch gets its winner ---- */
	e1 = kp_cloud_create(cp, claim("amis-m5", "m5.large"), &A, &m5, &eb);
	check(e1 == KP_CLOUD_OK && kp_strcmp0(image_of(m5.provider_id), mid) == 0,
	      "m5.large (amd64) launches on the newest amd64 image", e1 ? eb.msg : image_of(m5.provider_id));
	e2 = kp_cloud_create(cp, claim("amis-m6g", "m6g.large"), &A, &m6g, &eb);
	check(e2 == KP_CLOUD_OK && kp_strcmp0(image_of(m6g.provider_id), arm) == 0,
	      "m6g.large (arm64) launches on the arm64 image", e2 ? eb.msg : image_of(m6g.provider_id));
	if (e1 || e2)
		goto out;
	check(strcmp(drift(cp, "amis-m5", "m5.large", m5.provider_id), "") == 0,
	      "no drift while the instance runs the winner", drift(cp, "amis-m5", "m5.large", m5.provider_id));

	/* ---- a newer amd64 image published under the same tag ---- */
	newest = publish(src_x86, "amis-m-newest");
	amis_of(nc_json, cp, got, sizeof(got));
	want_of(want, sizeof(want), newest ? newest : "?", arm);
	check(newest && strcmp(got, want) == 0, "a newer image under the tag replaces the amd64 winner", got);
	check(strcmp(drift(cp, "amis-m5", "m5.large", m5.provider_id), "AMIDrift") == 0,
	      "the amd64 instance on the now older image: AMIDrift", drift(cp, "amis-m5", "m5.large", m5.provider_id));
	check(strcmp(drift(cp, "amis-m6g", "m6g.large", m6g.provider_id), "") == 0,
	      "the arm64 instance (its image still the arm64 winner): not drifted",
	      drift(cp, "amis-m6g", "m6g.large", m6g.provider_id));
	{
		struct kp_instance again;

		e1 = kp_cloud_create(cp, claim("amis-m5-2", "m5.large"), &A, &again, &eb);
		check(e1 == KP_CLOUD_OK && kp_strcmp0(image_of(again.provider_id), newest) == 0,
		      "the next amd64 launch uses the newest image", e1 ? eb.msg : image_of(again.provider_id));
	}

	/* ---- kubelet settings reach the class's instance types (the same
	 * computation as simulate, catalog/kubelet.c) ---- */
	{
		static const struct {
			const char *name, *kubelet;
			int64_t pods, cpu_m, mem_mi;
		} cases[] = {
			/* 2000m-200m-100m; 7577Mi-1Gi-200Mi; maxPods */
			{ "kube", "{\"maxPods\":110,\"kubeReserved\":{\"cpu\":\"200m\",\"memory\":\"1Gi\"},"
				  "\"systemReserved\":{\"cpu\":\"100m\"},\"evictionHard\":{\"memory.available\":\"200Mi\"}}",
			  110, 1700, 6353 },
			/* podsPerCore 4 x 2 vCPU caps maxPods; defaults otherwise (1930m, 6903Mi) */
			{ "ppc", "{\"maxPods\":110,\"podsPerCore\":4}", 8, 1930, 6903 },
		};

		for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++) {
			char js[2048], msg[256];
			char *st = NULL, *cj = NULL;
			struct kp_nodepool np;
			const struct kp_catalog *cat = NULL;
			const struct kp_itype *t = NULL;
			enum kp_cloud_err e;

			snprintf(js, sizeof(js),
				 "{\"apiVersion\":\"karpenter.k8s.aws/v1\",\"kind\":\"EC2NodeClass\",\"metadata\":{\"name\":\"%s\","
				 "\"uid\":\"u-%s\"},\"spec\":{\"amiFamily\":\"AL2023\",\"instanceProfile\":\"p\","
				 "\"subnetSelectorTerms\":[{\"tags\":{\"amis-check\":\"yes\"}}],"
				 "\"securityGroupSelectorTerms\":[{\"id\":\"%s\"}],"
				 "\"amiSelectorTerms\":[{\"tags\":{\"amis-check\":\"*\"}}],\"kubelet\":%s}}",
				 cases[i].name, cases[i].name, sg, cases[i].kubelet);
			e = kp_cloud_nodeclass_reconcile(cp, js, &st, &cj, &eb);
			free(st);
			free(cj);
			memset(&np, 0, sizeof(np));
			np.name = cases[i].name;
			np.node_class.name = cases[i].name;
			if (!e)
				e = kp_cloud_instance_types(cp, &np, &cat, &eb);
			if (!e && cat)
				t = kp_catalog_find(cat, "m5.large");
			snprintf(msg, sizeof(msg), "%.120s: pods %lld cpu %lldm memory %lldMi", e ? eb.msg : "",
				 t ? (long long)t->allocatable.v[KP_RES_PODS] : -1LL,
				 t ? (long long)t->allocatable.v[KP_RES_CPU] : -1LL,
				 t ? (long long)(t->allocatable.v[KP_RES_MEMORY] >> 20) : -1LL);
			check(t && t->allocatable.v[KP_RES_PODS] == cases[i].pods &&
				      t->capacity.v[KP_RES_PODS] == cases[i].pods &&
				      t->allocatable.v[KP_RES_CPU] == cases[i].cpu_m &&
				      t->allocatable.v[KP_RES_MEMORY] == cases[i].mem_mi << 20,
			      i == 0 ? "class kubelet maxPods/kubeReserved/systemReserved/evictionHard: m5.large pods 110, "
				       "allocatable 1700m / 6353Mi"
				     : "class kubelet podsPerCore 4 caps maxPods 110: m5.large pods 8",
			      msg);
		}
	}

out:
	if (cp)
		kp_cloud_destroy(cp);
	if (devnull)
		fclose(devnull);
	kp_aws_client_free(CL);
	kp_catalog_free(&CAT);
	kp_arena_free(&A);
	curl_global_cleanup();
	printf("aws-ami: %d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
