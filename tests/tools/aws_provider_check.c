/*
 * aws_provider_check.c - the AWS cloud provider (src/cloud/aws/provider.h)
 * through the kp_cloud interface against a real moto_server, with
 * tests/aws/proxy.py in front for what moto cannot answer (insufficient
 * capacity in CreateFleet, SSM /aws/ parameters, AuthFailure). Run by
 * tests/aws/run, which starts and stops both servers.
 *
 * Usage: aws_provider_check MOTO_URL PROXY_URL DATADIR
 * Prints "ok"/"FAIL" per check, then "aws-provider: N passed, M failed".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <curl/curl.h>

#include "cloud/aws/aws.h"
#include "cloud/aws/provider.h"
#include "karpenter/labels.h"
#include "karpenter/objects.h"
#include "karpenter/requirements.h"
#include "karpenter/resources.h"

#include "aws_check.h"

static const char *MOTO, *PROXY;
static struct kp_catalog CAT;
static struct kp_resnames RN;

static const char *subnet(const char *vpc, const char *cidr, const char *zone)
{
	const char *kv[] = { "VpcId", vpc, "CidrBlock", cidr, "AvailabilityZone", zone, NULL };

	return kp_aws_xml_text(ec2("CreateSubnet", kv), "subnet/subnetId");
}

static void proxy_rules(const char *json)
{
	char url[512];
	CURL *h = curl_easy_init();
	FILE *null = fopen("/dev/null", "w");

	snprintf(url, sizeof(url), "%s/_proxy/rules", PROXY);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, null);
	curl_easy_perform(h);
	curl_easy_cleanup(h);
	fclose(null);
}

static size_t count_cb(char *d, size_t sz, size_t n, void *ud)
{
	struct kp_buf *b = ud;

	kp_buf_printf(b, "%.*s", (int)(sz * n), d);
	return sz * n;
}

/* How many requests of action the proxy has seen. */
static int proxy_count(const char *action)
{
	char url[512], pat[128];
	CURL *h = curl_easy_init();
	struct kp_buf b;
	int n = 0;

	kp_buf_init(&b, 64u << 20);
	snprintf(url, sizeof(url), "%s/_proxy/log", PROXY);
	snprintf(pat, sizeof(pat), "\"%s\"", action);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, count_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_perform(h);
	curl_easy_cleanup(h);
	for (const char *p = b.data; p && (p = strstr(p, pat)); p += strlen(pat))
		n++;
	kp_buf_free(&b);
	return n;
}

/* ---- CreateFleet batching: three launches at once ---- */
struct batch_job {
	struct kp_cloud *cp;
	struct kp_nodeclaim *claim;
	struct kp_arena a;
	struct kp_instance out;
	struct kp_errbuf eb;
	enum kp_cloud_err e;
};

static void *batch_run(void *arg)
{
	struct batch_job *j = arg;

	j->e = kp_cloud_create(j->cp, j->claim, &j->a, &j->out, &j->eb);
	return NULL;
}

static const struct kp_aws_xnode *describe_instance(const char *pid);

static void *delete_run(void *arg)
{
	struct batch_job *j = arg;

	j->e = kp_cloud_delete(j->cp, j->out.provider_id, &j->eb);
	return NULL;
}

/* Deletes the jobs' instances at once (terminateinstances.go batches
 * them): how many TerminateInstances the proxy saw, *done how many deletes
 * succeeded with the instance terminated in EC2. */
static int delete_batch(struct batch_job *jobs, int n, int *done)
{
	pthread_t th[8];
	int before = proxy_count("TerminateInstances");

	*done = 0;
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, delete_run, &jobs[i]);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < n; i++) {
		const struct kp_aws_xnode *x = describe_instance(jobs[i].out.provider_id);

		*done += jobs[i].e == KP_CLOUD_OK && kp_strcmp0(kp_aws_xml_text(x, "instanceState/name"), "terminated") == 0;
	}
	return proxy_count("TerminateInstances") - before;
}

/* Launches n on-demand m5.large at once (one CreateFleet batch). */
static int launch_batch(struct kp_cloud *cp, struct batch_job *jobs, int n, const char *prefix,
			struct kp_nodeclaim *(*mk)(const char *name))
{
	pthread_t th[8];
	int ok_n = 0;

	for (int i = 0; i < n; i++) {
		char nm[64];

		memset(&jobs[i], 0, sizeof(jobs[i]));
		snprintf(nm, sizeof(nm), "%s-%d", prefix, i);
		jobs[i].cp = cp;
		jobs[i].claim = mk(nm);
		kp_arena_init(&jobs[i].a);
		pthread_create(&th[i], NULL, batch_run, &jobs[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < n; i++)
		ok_n += jobs[i].e == KP_CLOUD_OK && jobs[i].out.provider_id;
	return ok_n;
}

/* ---- claims ---- */

/* The instance types of the last CreateFleet's overrides the proxy saw, as
 * its JSON array text ("" if none) in out. */
static void last_fleet_types(char *out, size_t n)
{
	char url[512];
	CURL *h = curl_easy_init();
	struct kp_buf b;
	const char *last = NULL, *t, *end;

	kp_buf_init(&b, 64u << 20);
	snprintf(url, sizeof(url), "%s/_proxy/log", PROXY);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, count_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_perform(h);
	curl_easy_cleanup(h);
	for (const char *p = b.data; p && (p = strstr(p, "\"CreateFleet\"")); p++)
		last = p;
	out[0] = 0;
	if (last && (t = strstr(last, "\"types\": [")) && (end = strchr(t, ']')) && !memchr(last, '}', (size_t)(t - last)))
		snprintf(out, n, "%.*s", (int)(end + 1 - t - 9), t + 9);
	kp_buf_free(&b);
}

static void req_in(struct kp_nodeclaim *nc, const char *key, const char *const *vals, int n)
{
	struct kp_req r;
	struct kp_errbuf eb = { 0 };

	if (kp_req_make(&r, &A, key, KP_OP_IN, vals, n, 0, &eb) || kp_reqs_add(&nc->reqs, &A, &r))
		fprintf(stderr, "req %s: %s\n", key, eb.msg);
}

static struct kp_nodeclaim *claim(const char *name, const char *klass, const char *const *types, int ntypes,
				  const char *const *caps, int ncaps)
{
	struct kp_nodeclaim *nc = kp_arena_alloc(&A, sizeof(*nc));
	static const char *const linux_[] = { "linux" };

	kp_reqs_init(&nc->reqs);
	nc->name = kp_arena_strdup(&A, name);
	nc->nodepool = "default";
	nc->node_class = klass;
	kp_labels_set(&nc->labels, &A, KP_LABEL_NODEPOOL, "default");
	if (ntypes)
		req_in(nc, KP_LABEL_INSTANCE_TYPE, types, ntypes);
	req_in(nc, KP_LABEL_CAPACITY_TYPE, caps, ncaps);
	req_in(nc, KP_LABEL_OS, linux_, 1);
	return nc;
}

/* ---- the checks ---- */

static struct kp_nodeclaim *od_m5_claim(const char *name)
{
	static const char *const one[] = { "m5.large" }, *const od[] = { "on-demand" };

	return claim(name, "default", one, 1, od, 1);
}

static struct kp_cloud *provider(const char *endpoint, const char *queue)
{
	struct kp_cloud_aws_opts o;
	struct kp_cloud *cp = NULL;
	struct kp_errbuf eb = { 0 };

	kp_cloud_aws_opts_init(&o);
	o.cluster = "test-cluster";
	o.region = "us-east-1";
	o.endpoint = endpoint;
	o.base = &CAT;
	o.max_attempts = 2;
	o.backoff_base_ms = 20;
	o.interruption_queue = queue;
	o.sqs_wait_s = 1;
	o.cluster_endpoint = "https://127.0.0.1:6443";
	if (kp_cloud_aws_new(&o, &cp, &eb))
		fprintf(stderr, "provider: %s\n", eb.msg);
	return cp;
}

/* A provider for the pricing checks: its own Pricing endpoint, log and
 * types refresh period. */
static struct kp_cloud *provider_pricing(const char *endpoint, const char *pricing, FILE *log, int64_t types_ttl_ms)
{
	struct kp_cloud_aws_opts o;
	struct kp_cloud *cp = NULL;
	struct kp_errbuf eb = { 0 };

	kp_cloud_aws_opts_init(&o);
	o.cluster = "test-cluster";
	o.region = "us-east-1";
	o.endpoint = endpoint;
	o.pricing_endpoint = pricing;
	o.log_out = log;
	o.types_ttl_ms = types_ttl_ms;
	o.base = &CAT;
	o.max_attempts = 2;
	o.backoff_base_ms = 20;
	o.cluster_endpoint = "https://127.0.0.1:6443";
	if (kp_cloud_aws_new(&o, &cp, &eb))
		fprintf(stderr, "provider: %s\n", eb.msg);
	return cp;
}

/* m5.large's on-demand price in cp's catalog for the default pool (0 = none). */
static double m5_od(struct kp_cloud *cp)
{
	struct kp_nodepool p;
	const struct kp_catalog *c = NULL;
	const struct kp_itype *m5;
	struct kp_errbuf eb = { 0 };

	memset(&p, 0, sizeof(p));
	p.name = "default";
	p.node_class.name = "default";
	if (kp_cloud_instance_types(cp, &p, &c, &eb) || !c || !(m5 = kp_catalog_find(c, "m5.large")))
		return 0;
	for (int i = 0; i < m5->noff; i++)
		if (m5->off[i].captype == KP_CAP_ON_DEMAND)
			return m5->off[i].price;
	return 0;
}

static void sleep_ms_(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Messages in an SQS queue, visible or not (-1 on error). */
static int sqs_count(const char *qurl)
{
	json_t *body = json_pack("{s:s,s:[s,s]}", "QueueUrl", qurl, "AttributeNames", "ApproximateNumberOfMessages",
				 "ApproximateNumberOfMessagesNotVisible");
	char *text = json_dumps(body, JSON_COMPACT);
	struct kp_errbuf eb = { 0 };
	struct kp_aws_resp r;
	int64_t a = -1, b = -1;

	if (text && kp_aws_json(CL, "sqs", "AmazonSQS.GetQueueAttributes", "1.0", text, &r, &eb) == KP_OK) {
		json_t *at = json_object_get(r.json, "Attributes");
		const char *x = json_string_value(json_object_get(at, "ApproximateNumberOfMessages"));
		const char *y = json_string_value(json_object_get(at, "ApproximateNumberOfMessagesNotVisible"));

		if (!x || kp_parse_i64(x, &a) || !y || kp_parse_i64(y, &b))
			a = b = -1;
		kp_aws_resp_clear(&r);
	}
	free(text);
	json_decref(body);
	return a < 0 || b < 0 ? -1 : (int)(a + b);
}

/* Launch templates in moto with tag karpenter.k8s.aws/ec2nodeclass=klass
 * (and name, when given). */
static int lt_count(const char *klass, const char *name)
{
	const char *kv[] = { "Filter.1.Name", "tag:karpenter.k8s.aws/ec2nodeclass", "Filter.1.Value.1", klass, NULL };
	struct kp_aws_xnode *x = ec2("DescribeLaunchTemplates", kv);
	const struct kp_aws_xnode *set = kp_aws_xml_child(x, "launchTemplates");
	int n = 0;

	for (const struct kp_aws_xnode *l = set ? set->child : NULL; l; l = l->next)
		n += !name || kp_strcmp0(kp_aws_xml_text(l, "launchTemplateName"), name) == 0;
	return n;
}

static void lt_fixture(const char *name, const char *cluster, const char *klass)
{
	const char *kv[] = { "LaunchTemplateName", name, "LaunchTemplateData.ImageId", "ami-0ed094fb1304fd857",
			     "TagSpecification.1.ResourceType", "launch-template", "TagSpecification.1.Tag.1.Key",
			     "eks:eks-cluster-name", "TagSpecification.1.Tag.1.Value", cluster, "TagSpecification.1.Tag.2.Key",
			     "karpenter.k8s.aws/ec2nodeclass", "TagSpecification.1.Tag.2.Value", klass, NULL };

	ec2("CreateLaunchTemplate", kv);
}

static enum kp_cloud_err reconcile(struct kp_cloud *cp, const char *yaml_json, json_t **status, json_t **conds,
				   struct kp_errbuf *eb)
{
	char *st = NULL, *cj = NULL;
	enum kp_cloud_err e = kp_cloud_nodeclass_reconcile(cp, yaml_json, &st, &cj, eb);

	*status = st ? json_loads(st, 0, NULL) : NULL;
	*conds = cj ? json_loads(cj, 0, NULL) : NULL;
	free(st);
	free(cj);
	return e;
}

static const char *cond_status(json_t *conds, const char *type)
{
	size_t i;
	json_t *c;

	json_array_foreach(conds, i, c)
		if (strcmp(json_string_value(json_object_get(c, "type")), type) == 0)
			return json_string_value(json_object_get(c, "status"));
	return "";
}

static bool has_tag(const struct kp_aws_xnode *inst, const char *k, const char *v)
{
	const struct kp_aws_xnode *ts = kp_aws_xml_child(inst, "tagSet");

	for (const struct kp_aws_xnode *t = ts ? ts->child : NULL; t; t = t->next)
		if (kp_strcmp0(kp_aws_xml_text(t, "key"), k) == 0 && (!v || kp_strcmp0(kp_aws_xml_text(t, "value"), v) == 0))
			return true;
	return false;
}

/* The launch template name (a spot launch's when spot) carries, on itself
 * and in its data's TagSpecifications (instance, volume, network-interface,
 * spot-instances-request for spot), the tags the shipped IAM policy asks
 * for: the NodePool, the class, the cluster's two, and spec.tags. */
static bool all_tags(const struct kp_aws_xnode *set)
{
	return has_tag(set, "karpenter.sh/nodepool", "default") && has_tag(set, "karpenter.k8s.aws/ec2nodeclass", "default") &&
	       has_tag(set, "kubernetes.io/cluster/test-cluster", "owned") &&
	       has_tag(set, "eks:eks-cluster-name", "test-cluster") && has_tag(set, "team", "blue");
}

static void lt_tags_check(const char *name, bool spot)
{
	const char *kv[] = { "LaunchTemplateName.1", name ? name : "x", NULL };
	const struct kp_aws_xnode *lt = kp_aws_xml_path(ec2("DescribeLaunchTemplates", kv), "launchTemplates/item");
	const char *kv2[] = { "LaunchTemplateName", name ? name : "x", "Versions.1", "$Latest", NULL };
	const struct kp_aws_xnode *d =
		kp_aws_xml_path(ec2("DescribeLaunchTemplateVersions", kv2), "launchTemplateVersionSet/item/launchTemplateData");
	const struct kp_aws_xnode *ts = kp_aws_xml_child(d, "tagSpecificationSet");
	static const char *const kinds[] = { "instance", "volume", "network-interface", "spot-instances-request" };
	bool seen[4] = { false }, tagged = true;
	char detail[256];

	for (const struct kp_aws_xnode *t = ts ? ts->child : NULL; t; t = t->next) {
		const char *rt = kp_aws_xml_text(t, "resourceType");

		for (int k = 0; k < 4; k++)
			if (kp_strcmp0(rt, kinds[k]) == 0)
				seen[k] = true;
		/* moto answers the list as tagSet (EC2: tagSet too) */
		tagged &= all_tags(t);
	}
	check(lt && all_tags(lt), "launch template tagged with its NodePool, class, cluster and spec.tags (DescribeLaunchTemplates)",
	      name);
	snprintf(detail, sizeof(detail), "instance %d volume %d eni %d spot-request %d, tags %d", seen[0], seen[1], seen[2],
		 seen[3], tagged);
	check(seen[0] && seen[1] && seen[2] && seen[3] == spot && tagged,
	      "launch template data: TagSpecifications for instance, volume, network-interface (+ spot-instances-request "
	      "for spot) with the same tags",
	      detail);
}

/* The data of the launch template of class klass (the first one). */
static const struct kp_aws_xnode *lt_data_of(const char *klass)
{
	const char *kv[] = { "Filter.1.Name", "tag:karpenter.k8s.aws/ec2nodeclass", "Filter.1.Value.1", klass, NULL };
	const char *name = kp_aws_xml_text(kp_aws_xml_path(ec2("DescribeLaunchTemplates", kv), "launchTemplates/item"),
					   "launchTemplateName");
	const char *kv2[] = { "LaunchTemplateName", name ? name : "x", "Versions.1", "$Latest", NULL };

	return kp_aws_xml_path(ec2("DescribeLaunchTemplateVersions", kv2), "launchTemplateVersionSet/item/launchTemplateData");
}

static const struct kp_aws_xnode *bdm_of(const struct kp_aws_xnode *d, const char *dev)
{
	const struct kp_aws_xnode *set = kp_aws_xml_child(d, "blockDeviceMappingSet");

	for (const struct kp_aws_xnode *b = set ? set->child : NULL; b; b = b->next)
		if (kp_strcmp0(kp_aws_xml_text(b, "deviceName"), dev) == 0)
			return b;
	return NULL;
}

static struct kp_nodeclaim *claim(const char *name, const char *klass, const char *const *types, int ntypes,
				  const char *const *caps, int ncaps);

/* v1beta1: metadataOptions' hop limit defaults to 2; amiFamily Ubuntu
 * without amiSelectorTerms takes Canonical's SSM parameters (answered by
 * the proxy) and /dev/sda1; block device sizes are quantities (100G = 94
 * GiB rounded up, 1Ti, 512Mi = 1 GiB) and snapshotID is passed on; a
 * volumeSize that is no quantity makes the class not ready. */
static void v1beta1_checks(struct kp_cloud *px, const char *sg, const char *ami)
{
	static const char *const types[] = { "m5.large", "c5.large" };
	static const char *const od[] = { "on-demand" };
	char rules[512], obj[2048], detail[2048];
	json_t *st = NULL, *conds = NULL;
	struct kp_errbuf eb = { 0 };
	struct kp_instance in;
	enum kp_cloud_err e;
	const struct kp_aws_xnode *d, *b1, *b2, *b3;

	snprintf(rules, sizeof(rules),
		 "{\"ssm\":{\"/aws/service/canonical/ubuntu/eks/20.04/1.32/stable/current/amd64/hvm/ebs-gp2/ami-id\":\"%s\"}}",
		 ami);
	proxy_rules(rules);
	snprintf(obj, sizeof(obj),
		 "{\"apiVersion\":\"karpenter.k8s.aws/v1beta1\",\"kind\":\"EC2NodeClass\",\"metadata\":{\"name\":\"ubuntu\"},"
		 "\"spec\":{\"amiFamily\":\"Ubuntu\",\"instanceProfile\":\"p\","
		 "\"subnetSelectorTerms\":[{\"tags\":{\"karpenter.sh/discovery\":\"test-cluster\"}}],"
		 "\"securityGroupSelectorTerms\":[{\"id\":\"%s\"}],\"blockDeviceMappings\":["
		 "{\"deviceName\":\"/dev/sda1\",\"ebs\":{\"volumeSize\":\"100G\",\"volumeType\":\"gp3\"}},"
		 "{\"deviceName\":\"/dev/xvdb\",\"ebs\":{\"volumeSize\":\"1Ti\",\"snapshotID\":\"snap-0123456789abcdef0\"}},"
		 "{\"deviceName\":\"/dev/xvdc\",\"ebs\":{\"volumeSize\":\"512Mi\"}}]}}",
		 sg);
	e = reconcile(px, obj, &st, &conds, &eb);
	check(e == KP_CLOUD_OK && json_array_size(json_object_get(st, "amis")) == 1 &&
		      kp_strcmp0(json_string_value(json_object_get(json_array_get(json_object_get(st, "amis"), 0), "id")), ami) == 0,
	      "v1beta1 amiFamily Ubuntu without amiSelectorTerms: Canonical's SSM parameter (amd64 found)", eb.msg);
	json_decref(st);
	json_decref(conds);
	proxy_rules("{}");
	e = kp_cloud_create(px, claim("claim-ubuntu", "ubuntu", types, 2, od, 1), &A, &in, &eb);
	d = lt_data_of("ubuntu");
	b1 = bdm_of(d, "/dev/sda1");
	b2 = bdm_of(d, "/dev/xvdb");
	b3 = bdm_of(d, "/dev/xvdc");
	snprintf(detail, sizeof(detail), "create %d %.300s; hop %s; sizes %s %s %s; snapshot %s", e, e ? eb.msg : "",
		 kp_aws_xml_text(d, "metadataOptions/httpPutResponseHopLimit"), kp_aws_xml_text(b1, "ebs/volumeSize"),
		 kp_aws_xml_text(b2, "ebs/volumeSize"), kp_aws_xml_text(b3, "ebs/volumeSize"),
		 kp_aws_xml_text(b2, "ebs/snapshotId"));
	check(e == KP_CLOUD_OK && kp_strcmp0(kp_aws_xml_text(d, "metadataOptions/httpPutResponseHopLimit"), "2") == 0,
	      "v1beta1 class: launch template metadataOptions hop limit 2 by default", detail);
	check(kp_strcmp0(kp_aws_xml_text(b1, "ebs/volumeSize"), "94") == 0 &&
		      kp_strcmp0(kp_aws_xml_text(b2, "ebs/volumeSize"), "1024") == 0 &&
		      kp_strcmp0(kp_aws_xml_text(b3, "ebs/volumeSize"), "1") == 0 &&
		      kp_strcmp0(kp_aws_xml_text(b2, "ebs/snapshotId"), "snap-0123456789abcdef0") == 0,
	      "block devices: volumeSize quantities in GiB rounded up (100G 94, 1Ti 1024, 512Mi 1), snapshotID passed on",
	      detail);
	if (!e)
		kp_cloud_delete(px, in.provider_id, &eb);
	e = reconcile(px,
		      "{\"apiVersion\":\"karpenter.k8s.aws/v1\",\"metadata\":{\"name\":\"badsize\"},\"spec\":{"
		      "\"amiFamily\":\"AL2023\",\"instanceProfile\":\"p\","
		      "\"subnetSelectorTerms\":[{\"tags\":{\"karpenter.sh/discovery\":\"test-cluster\"}}],"
		      "\"securityGroupSelectorTerms\":[{\"name\":\"nodes\"}],\"amiSelectorTerms\":[{\"id\":\"ami-0ed094fb1304fd857\"}],"
		      "\"blockDeviceMappings\":[{\"deviceName\":\"/dev/xvda\",\"ebs\":{\"volumeSize\":\"lots\"}}]}}",
		      &st, &conds, &eb);
	check(e == KP_CLOUD_NODECLASS_NOT_READY && strcmp(cond_status(conds, "ValidationSucceeded"), "False") == 0 &&
		      strstr(eb.msg, "volumeSize"),
	      "a volumeSize that is no quantity: the class is not ready and says which field", eb.msg);
	json_decref(st);
	json_decref(conds);
}

static const struct kp_aws_xnode *describe_instance(const char *pid)
{
	const char *id = strrchr(pid, '/');
	const char *kv[] = { "InstanceId.1", id ? id + 1 : pid, NULL };

	return kp_aws_xml_path(ec2("DescribeInstances", kv), "reservationSet/item/instancesSet/item");
}

int main(int argc, char **argv)
{
	struct kp_aws_config cfg = { 0 };
	struct kp_errbuf eb = { 0 };
	struct kp_cloud *cp, *px;
	const char *vpc, *s1, *s2, *s3, *sg, *sg_default = NULL, *ami_x86 = "ami-0ed094fb1304fd857", *ami_name,
							      *ami_arm = NULL;
	const struct kp_catalog *cat = NULL;
	struct kp_nodepool np;
	json_t *st, *conds;
	char buf[4096], nc_json[4096];
	struct kp_instance in, spot_in, od_in;
	enum kp_cloud_err e;
	static const char *const both[] = { "on-demand", "spot" };
	static const char *const od[] = { "on-demand" };
	static const char *const spot[] = { "spot" };
	static const char *const types[] = { "m5.large", "c5.large", "m5.xlarge" };

	if (argc != 4) {
		fprintf(stderr, "usage: aws_provider_check MOTO_URL PROXY_URL DATADIR\n");
		return 2;
	}
	MOTO = argv[1];
	PROXY = argv[2];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setenv("AWS_ACCESS_KEY_ID", "testing", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "testing", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	kp_arena_init(&A);
	kp_catalog_init(&CAT);
	kp_resnames_init(&RN);
	if (kp_catalog_open(&CAT, &RN, "aws", argv[3], &eb)) {
		fprintf(stderr, "catalog: %s\n", eb.msg);
		return 2;
	}
	cfg.region = "us-east-1";
	cfg.endpoint = MOTO;
	if (kp_aws_client_new(&cfg, &CL, &eb)) {
		fprintf(stderr, "client: %s\n", eb.msg);
		return 2;
	}

	/* fixtures: a VPC with three tagged subnets in a, b, c and one untagged in d */
	{
		const char *kv[] = { "CidrBlock", "10.0.0.0/16", NULL };

		vpc = kp_aws_xml_text(ec2("CreateVpc", kv), "vpc/vpcId");
	}
	s1 = subnet(vpc, "10.0.1.0/24", "us-east-1a");
	s2 = subnet(vpc, "10.0.2.0/24", "us-east-1b");
	s3 = subnet(vpc, "10.0.3.0/24", "us-east-1c");
	subnet(vpc, "10.0.4.0/24", "us-east-1d");
	tag(s1, "karpenter.sh/discovery", "test-cluster");
	tag(s2, "karpenter.sh/discovery", "test-cluster");
	tag(s3, "karpenter.sh/discovery", "other");
	{
		const char *kv[] = { "GroupName", "nodes", "GroupDescription", "nodes", "VpcId", vpc, NULL };

		sg = kp_aws_xml_text(ec2("CreateSecurityGroup", kv), "groupId");
		tag(sg, "karpenter.sh/discovery", "test-cluster");
	}
	{
		/* moto gives fleet instances the default VPC's default group,
		 * whatever the launch template says (a documented moto gap) */
		const char *kd[] = { "Filter.1.Name", "isDefault", "Filter.1.Value.1", "true", NULL };
		const char *dvpc = kp_aws_xml_text(kp_aws_xml_path(ec2("DescribeVpcs", kd), "vpcSet/item"), "vpcId");
		const char *kv[] = { "Filter.1.Name", "group-name", "Filter.1.Value.1", "default", "Filter.2.Name",
				     "vpc-id", "Filter.2.Value.1", dvpc ? dvpc : "none", NULL };

		sg_default = kp_aws_xml_text(kp_aws_xml_path(ec2("DescribeSecurityGroups", kv), "securityGroupInfo/item"),
					     "groupId");
	}
	{
		const char *kv[] = { "ImageId.1", ami_x86, NULL };

		ami_name = kp_aws_xml_text(kp_aws_xml_path(ec2("DescribeImages", kv), "imagesSet/item"), "name");
	}
	{
		const char *kv[] = { "Filter.1.Name", "architecture", "Filter.1.Value.1", "arm64", "Filter.2.Name", "name",
				     "Filter.2.Value.1", "al2023-ami-2023*", "Owner.1", "amazon", NULL };

		ami_arm = kp_aws_xml_text(kp_aws_xml_path(ec2("DescribeImages", kv), "imagesSet/item"), "imageId");
		if (ami_arm)
			tag(ami_arm, "karpenter.sh/discovery", "test-cluster");
	}
	check(vpc && s1 && s2 && s3 && sg && sg_default && ami_name && ami_arm, "fixtures in moto: VPC, subnets, SGs, AMIs",
	      NULL);
	if (!vpc || !s1 || !sg || !sg_default || !ami_name || !ami_arm)
		goto out;

	cp = provider(MOTO, NULL);
	px = provider(PROXY, NULL);
	if (!cp || !px)
		goto out;

	/* ---- discovery: subnets by tag, SGs by id (the VPC default: moto puts
	 * fleet instances in it), AMIs by name and by tag ---- */
	snprintf(nc_json, sizeof(nc_json),
		 "{\"apiVersion\":\"karpenter.k8s.aws/v1\",\"kind\":\"EC2NodeClass\",\"metadata\":{\"name\":\"default\","
		 "\"uid\":\"u-1\"},\"spec\":{\"amiFamily\":\"AL2023\",\"role\":\"KarpenterNodeRole\","
		 "\"subnetSelectorTerms\":[{\"tags\":{\"karpenter.sh/discovery\":\"test-cluster\"}}],"
		 "\"securityGroupSelectorTerms\":[{\"id\":\"%s\"}],"
		 "\"amiSelectorTerms\":[{\"name\":\"%s\"},{\"tags\":{\"karpenter.sh/discovery\":\"*\"}}],"
		 "\"tags\":{\"team\":\"blue\"},\"kubelet\":{\"maxPods\":58}}}",
		 sg_default, ami_name);
	{
		const char *kv[] = { "RoleName", "KarpenterNodeRole", "AssumeRolePolicyDocument", "{}", NULL };
		struct kp_aws_params p;
		struct kp_aws_resp r;

		kp_aws_params_init(&p, "CreateRole", "2010-05-08");
		for (int i = 0; kv[i]; i += 2)
			kp_aws_params_add(&p, kv[i], kv[i + 1]);
		kp_aws_query(CL, "iam", &p, false, false, &A, &r, &eb);
		kp_aws_params_free(&p);
	}
	e = reconcile(cp, nc_json, &st, &conds, &eb);
	check(e == KP_CLOUD_OK && strcmp(cond_status(conds, "Ready"), "True") == 0, "EC2NodeClass resolves Ready",
	      eb.msg);
	check(json_array_size(json_object_get(st, "subnets")) == 2, "subnets: tag selector matches the 2 tagged subnets",
	      NULL);
	check(json_array_size(json_object_get(st, "securityGroups")) == 1 &&
		      strcmp(json_string_value(json_object_get(json_array_get(json_object_get(st, "securityGroups"), 0), "id")),
			     sg_default) == 0,
	      "security groups: id selector", NULL);
	{
		json_t *amis = json_object_get(st, "amis");
		bool x86 = false, arm = false;
		size_t i;
		json_t *a;

		json_array_foreach(amis, i, a) {
			x86 |= strcmp(json_string_value(json_object_get(a, "id")), ami_x86) == 0;
			arm |= strcmp(json_string_value(json_object_get(a, "id")), ami_arm) == 0;
		}
		check(x86 && arm, "AMIs: by name (amd64) and by tag with \"*\" (arm64), with arch requirements", NULL);
	}
	{
		const char *prof = json_string_value(json_object_get(st, "instanceProfile"));
		struct kp_aws_params p;
		struct kp_aws_resp r;
		const char *role = NULL;

		if (prof) {
			kp_aws_params_init(&p, "GetInstanceProfile", "2010-05-08");
			kp_aws_params_add(&p, "InstanceProfileName", prof);
			if (!kp_aws_query(CL, "iam", &p, false, false, &A, &r, &eb))
				role = kp_aws_xml_text(kp_aws_xml_find(r.xml, "Roles"), "member/RoleName");
			kp_aws_params_free(&p);
		}
		check(prof && strncmp(prof, "test-cluster_", 13) == 0 && kp_strcmp0(role, "KarpenterNodeRole") == 0,
		      "spec.role: instance profile created in IAM holding the role", prof);
	}
	json_decref(st);
	json_decref(conds);

	/* not ready: nothing matches, restricted tag */
	e = reconcile(cp,
		      "{\"metadata\":{\"name\":\"empty\"},\"spec\":{\"amiFamily\":\"AL2023\",\"instanceProfile\":\"p\","
		      "\"subnetSelectorTerms\":[{\"tags\":{\"nope\":\"nope\"}}],\"securityGroupSelectorTerms\":[{\"name\":\"nodes\"}],"
		      "\"amiSelectorTerms\":[{\"id\":\"ami-0ed094fb1304fd857\"}],\"tags\":{\"karpenter.sh/nodepool\":\"x\"}}}",
		      &st, &conds, &eb);
	check(e == KP_CLOUD_NODECLASS_NOT_READY && strcmp(cond_status(conds, "SubnetsReady"), "False") == 0 &&
		      strcmp(cond_status(conds, "SecurityGroupsReady"), "True") == 0 &&
		      strcmp(cond_status(conds, "ValidationSucceeded"), "False") == 0,
	      "not ready: no subnet matched, restricted tag refused; SG by name still found", eb.msg);
	json_decref(st);
	json_decref(conds);
	memset(&np, 0, sizeof(np));
	np.name = "empty-pool";
	np.node_class.name = "empty";
	e = kp_cloud_instance_types(cp, &np, &cat, &eb);
	check(e == KP_CLOUD_NODECLASS_NOT_READY && strstr(eb.msg, "not ready"),
	      "a NodePool whose class is not Ready gets no instance types, and says why", eb.msg);

	/* ---- instance types from the API ---- */
	np.name = "default";
	np.node_class.name = "default";
	e = kp_cloud_instance_types(cp, &np, &cat, &eb);
	check(e == KP_CLOUD_OK && cat && cat->n > 500, "instance types from DescribeInstanceTypes/Offerings", eb.msg);
	if (cat) {
		const struct kp_itype *m5 = kp_catalog_find(cat, "m5.large");
		bool zones_ok = m5 != NULL, od_price = false;

		for (int i = 0; m5 && i < m5->noff; i++) {
			zones_ok &= strcmp(m5->off[i].zone, "us-east-1a") == 0 || strcmp(m5->off[i].zone, "us-east-1b") == 0;
			if (m5->off[i].captype == KP_CAP_ON_DEMAND)
				od_price = m5->off[i].price > 0.09 && m5->off[i].price < 0.1;
		}
		check(zones_ok && m5 && m5->noff == 4, "m5.large offered only in the class's subnet zones (a, b) x {spot, on-demand}",
		      NULL);
		check(od_price, "on-demand price from the built-in table (m5.large 0.096)", NULL);
	}

	/* ---- launch ---- */
	e = kp_cloud_create(cp, claim("claim-spot", "default", types, 3, both, 2), &A, &spot_in, &eb);
	check(e == KP_CLOUD_OK && spot_in.captype == KP_CAP_SPOT && strncmp(spot_in.provider_id, "aws:///us-east-1", 16) == 0,
	      "CreateFleet: spot first when allowed; providerID aws:///zone/i-...", e ? eb.msg : spot_in.provider_id);
	if (!e) {
		const struct kp_aws_xnode *x = describe_instance(spot_in.provider_id);
		const char *sub = kp_aws_xml_text(x, "subnetId");

		check(x && has_tag(x, "karpenter.sh/nodepool", "default") && has_tag(x, "karpenter.sh/nodeclaim", "claim-spot") &&
			      has_tag(x, "eks:eks-cluster-name", "test-cluster") &&
			      has_tag(x, "karpenter.k8s.aws/ec2nodeclass", "default") && has_tag(x, "team", "blue") &&
			      has_tag(x, "kubernetes.io/cluster/test-cluster", "owned"),
		      "instance in moto carries the class's and Karpenter's tags", NULL);
		check(sub && (strcmp(sub, s1) == 0 || strcmp(sub, s2) == 0), "instance launched in one of the class's subnets",
		      sub);
		check(kp_strcmp0(kp_aws_xml_text(x, "imageId"), ami_x86) == 0 ||
			      kp_strcmp0(kp_aws_xml_text(x, "imageId"), ami_arm) == 0,
		      "instance runs the class's AMI for its architecture", kp_aws_xml_text(x, "imageId"));
		check(kp_strcmp0(kp_labels_get(&spot_in.labels, KP_LABEL_CAPACITY_TYPE), "spot") == 0 &&
			      kp_labels_get(&spot_in.labels, KP_LABEL_ZONE) && spot_in.allocatable.v[0] > 0,
		      "result carries labels (zone, capacity type) and allocatable", NULL);
	}
	{
		const char *kv[] = { "Filter.1.Name", "tag:karpenter.k8s.aws/ec2nodeclass", "Filter.1.Value.1", "default", NULL };
		const struct kp_aws_xnode *lt = kp_aws_xml_path(ec2("DescribeLaunchTemplates", kv), "launchTemplates/item");
		const char *name = kp_aws_xml_text(lt, "launchTemplateName");
		const char *kv2[] = { "LaunchTemplateName", name ? name : "x", "Versions.1", "$Latest", NULL };
		const struct kp_aws_xnode *d =
			kp_aws_xml_path(ec2("DescribeLaunchTemplateVersions", kv2), "launchTemplateVersionSet/item/launchTemplateData");
		const char *ud = kp_aws_xml_text(d, "userData");

		check(name && strncmp(name, "karpenter.k8s.aws/", 18) == 0, "launch template ensured by name karpenter.k8s.aws/<hash>",
		      name);
		check(d && kp_aws_xml_text(d, "imageId") && kp_strcmp0(kp_aws_xml_text(d, "metadataOptions/httpTokens"), "required") == 0 &&
			      kp_aws_xml_find(d, "groupSet") && ud && strlen(ud) > 100 &&
			      kp_aws_xml_text(d, "iamInstanceProfile/name"),
		      "launch template data: AMI, SGs on the ENI, IMDSv2 required, profile, user data", NULL);
		lt_tags_check(name, true);
	}
	e = kp_cloud_create(cp, claim("claim-od", "default", types, 3, od, 1), &A, &od_in, &eb);
	check(e == KP_CLOUD_OK && od_in.captype == KP_CAP_ON_DEMAND, "CreateFleet on-demand (lowest-price)", eb.msg);
	{
		/* the on-demand launch has its own template (no spot-instances-request
		 * tags); another NodePool on the same class gets its own, tagged
		 * with that pool */
		const char *kv[] = { "Filter.1.Name", "tag:karpenter.sh/nodepool", "Filter.1.Value.1", "default", "Filter.2.Name",
				     "tag:karpenter.k8s.aws/ec2nodeclass", "Filter.2.Value.1", "default", NULL };
		const char *kb[] = { "Filter.1.Name", "tag:karpenter.sh/nodepool", "Filter.1.Value.1", "pool-b", NULL };
		const struct kp_aws_xnode *set = kp_aws_xml_child(ec2("DescribeLaunchTemplates", kv), "launchTemplates");
		const char *od_name = NULL;
		int n = 0, nb = 0;
		struct kp_nodeclaim *b = claim("claim-pool-b", "default", types, 3, od, 1);
		struct kp_instance b_in;

		for (const struct kp_aws_xnode *l = set ? set->child : NULL; l; l = l->next) {
			const char *nm = kp_aws_xml_text(l, "launchTemplateName");
			const char *kv2[] = { "LaunchTemplateName", nm ? nm : "x", "Versions.1", "$Latest", NULL };
			const struct kp_aws_xnode *d = kp_aws_xml_path(ec2("DescribeLaunchTemplateVersions", kv2),
								      "launchTemplateVersionSet/item/launchTemplateData");
			bool spot_rq = false;

			n++;
			for (const struct kp_aws_xnode *t = kp_aws_xml_child(d, "tagSpecificationSet") ?
								   kp_aws_xml_child(d, "tagSpecificationSet")->child
								   : NULL;
			     t; t = t->next)
				spot_rq |= kp_strcmp0(kp_aws_xml_text(t, "resourceType"), "spot-instances-request") == 0;
			if (!spot_rq)
				od_name = nm;
		}
		snprintf(buf, sizeof(buf), "%d templates for pool default", n);
		check(n >= 2 && od_name, "spot and on-demand launches of one pool use two launch templates", buf);
		if (od_name)
			lt_tags_check(od_name, false);
		b->nodepool = "pool-b";
		kp_labels_set(&b->labels, &A, KP_LABEL_NODEPOOL, "pool-b");
		e = kp_cloud_create(cp, b, &A, &b_in, &eb);
		set = kp_aws_xml_child(ec2("DescribeLaunchTemplates", kb), "launchTemplates");
		for (const struct kp_aws_xnode *l = set ? set->child : NULL; l; l = l->next)
			nb += has_tag(l, "karpenter.sh/nodepool", "pool-b") &&
			      !has_tag(l, "karpenter.sh/nodepool", "default");
		snprintf(buf, sizeof(buf), "create %d, %d template(s) tagged pool-b: %s", e, nb, e ? eb.msg : "");
		check(e == KP_CLOUD_OK && nb >= 1, "another NodePool on the same class: its own launch template, tagged with it",
		      buf);
		if (!e)
			kp_cloud_delete(cp, b_in.provider_id, &eb);
	}

	/* ---- get / list / orphan ---- */
	e = kp_cloud_get(cp, spot_in.provider_id, &A, &in, &eb);
	check(e == KP_CLOUD_OK && kp_strcmp0(in.nodeclaim, "claim-spot") == 0 && in.captype == KP_CAP_SPOT,
	      "get: DescribeInstances, nodeclaim from tag, spot from InstanceLifecycle", eb.msg);
	{
		struct kp_instance *all = NULL;
		int n = 0, hit = 0;
		const char *kv[] = { "ImageId", ami_x86, "MinCount", "1", "MaxCount", "1", "InstanceType", "t3.micro",
				     "SubnetId", s1, "TagSpecification.1.ResourceType", "instance",
				     "TagSpecification.1.Tag.1.Key", "karpenter.sh/nodepool", "TagSpecification.1.Tag.1.Value", "default",
				     "TagSpecification.1.Tag.2.Key", "karpenter.k8s.aws/ec2nodeclass", "TagSpecification.1.Tag.2.Value",
				     "default", "TagSpecification.1.Tag.3.Key", "eks:eks-cluster-name", "TagSpecification.1.Tag.3.Value",
				     "test-cluster", NULL };
		const char *orphan = kp_aws_xml_text(ec2("RunInstances", kv), "instancesSet/item/instanceId");

		e = kp_cloud_list(cp, &A, &all, &n, &eb);
		for (int i = 0; i < n; i++)
			hit += strstr(all[i].provider_id, orphan ? orphan : "none") || strcmp(all[i].provider_id, spot_in.provider_id) == 0 ||
			       strcmp(all[i].provider_id, od_in.provider_id) == 0;
		check(e == KP_CLOUD_OK && n == 3 && hit == 3, "list: the cluster's tagged instances, the orphan included", eb.msg);
	}
	e = kp_cloud_delete(cp, od_in.provider_id, &eb);
	check(e == KP_CLOUD_OK, "delete: TerminateInstances", eb.msg);
	e = kp_cloud_delete(cp, od_in.provider_id, &eb);
	check(e == KP_CLOUD_NOT_FOUND, "delete again: not found once terminated", eb.msg);
	e = kp_cloud_get(cp, od_in.provider_id, &A, &in, &eb);
	check(e == KP_CLOUD_NOT_FOUND, "get after terminate: not found", eb.msg);
	{
		/* a stopped instance still exists (instance.go Get): get and list
		 * report it, delete terminates it (TerminateInstances) */
		struct kp_instance st_in, *all = NULL;
		int n = 0, listed = 0;

		e = kp_cloud_create(cp, claim("claim-stopped", "default", types, 3, od, 1), &A, &st_in, &eb);
		if (e == KP_CLOUD_OK) {
			const char *id = strrchr(st_in.provider_id, '/') + 1;
			const char *kv[] = { "InstanceId.1", id, NULL };
			const char *state;

			ec2("StopInstances", kv);
			e = kp_cloud_get(cp, st_in.provider_id, &A, &in, &eb);
			check(e == KP_CLOUD_OK && in.state == KP_INSTANCE_STOPPED, "get: a stopped instance exists (state stopped)",
			      e ? eb.msg : kp_instance_state_name(in.state));
			e = kp_cloud_list(cp, &A, &all, &n, &eb);
			for (int i = 0; i < n; i++)
				listed += strcmp(all[i].provider_id, st_in.provider_id) == 0 && all[i].state == KP_INSTANCE_STOPPED;
			check(e == KP_CLOUD_OK && listed == 1, "list: the stopped instance listed as stopped", eb.msg);
			e = kp_cloud_delete(cp, st_in.provider_id, &eb);
			state = kp_aws_xml_text(describe_instance(st_in.provider_id), "instanceState/name");
			check(e == KP_CLOUD_OK && kp_strcmp0(state, "terminated") == 0,
			      "delete of a stopped instance: TerminateInstances (terminated in EC2)", e ? eb.msg : state);
			e = kp_cloud_delete(cp, st_in.provider_id, &eb);
			check(e == KP_CLOUD_NOT_FOUND, "delete of the stopped instance again: not found", eb.msg);
		} else {
			check(false, "create for the stopped-instance check", eb.msg);
		}
	}

	/* ---- insufficient capacity through the proxy ---- */
	reconcile(px, nc_json, &st, &conds, &eb);
	json_decref(st);
	json_decref(conds);
	kp_cloud_instance_types(px, &np, &cat, &eb);
	{
		static const char *const one[] = { "m5.large" };
		struct kp_instance x1, x2, x3;
		const struct kp_itype *m5;
		bool off_unavail = false, back = false;

		/* spot m5.large in a is unavailable: the fleet falls to the next offering */
		proxy_rules("{\"ice\":[\"spot:m5.large:us-east-1a\"]}");
		e = kp_cloud_create(px, claim("claim-ice1", "default", one, 1, both, 2), &A, &x1, &eb);
		check(e == KP_CLOUD_OK && x1.captype == KP_CAP_SPOT && kp_strcmp0(x1.zone, "us-east-1b") == 0 &&
			      kp_cloud_aws_ice_has(px, "spot:m5.large:us-east-1a"),
		      "ICE on one offering: fleet lands on the next (zone b); spot:m5.large:us-east-1a cached",
		      e ? eb.msg : x1.zone);
		/* b fails too: the launch sends only b (a is cached) and gets
		 * insufficient capacity; both are cached now ... */
		proxy_rules("{\"ice\":[\"spot:m5.large:us-east-1b\"]}");
		e = kp_cloud_create(px, claim("claim-ice2", "default", one, 1, both, 2), &A, &x2, &eb);
		check(e == KP_CLOUD_INSUFFICIENT_CAPACITY && kp_cloud_aws_ice_has(px, "spot:m5.large:us-east-1a") &&
			      kp_cloud_aws_ice_has(px, "spot:m5.large:us-east-1b"),
		      "cached offering skipped; the other one's ICE gives InsufficientCapacityError", eb.msg);
		e = kp_cloud_create(px, claim("claim-ice3", "default", one, 1, spot, 1), &A, &x3, &eb);
		check(e == KP_CLOUD_INSUFFICIENT_CAPACITY && strstr(eb.msg, "unavailable"),
		      "spot-only claim with every spot offering cached: fails before calling EC2", eb.msg);
		/* ... and the next claim falls back to on-demand */
		e = kp_cloud_create(px, claim("claim-ice4", "default", one, 1, both, 2), &A, &x3, &eb);
		check(e == KP_CLOUD_OK && x3.captype == KP_CAP_ON_DEMAND, "then fallback to on-demand", eb.msg);
		kp_cloud_instance_types(px, &np, &cat, &eb);
		m5 = cat ? kp_catalog_find(cat, "m5.large") : NULL;
		for (int i = 0; m5 && i < m5->noff; i++)
			if (m5->off[i].captype == KP_CAP_SPOT && !m5->off[i].available)
				off_unavail = true;
		check(off_unavail, "scheduling sees the offering unavailable (instance types)", NULL);
		kp_cloud_aws_advance(px, 181000);
		kp_cloud_instance_types(px, &np, &cat, &eb);
		m5 = cat ? kp_catalog_find(cat, "m5.large") : NULL;
		back = m5 != NULL;
		for (int i = 0; m5 && i < m5->noff; i++)
			back &= m5->off[i].available;
		check(back && kp_cloud_aws_ice_count(px) == 0, "after 3 minutes the offerings are available again", NULL);
		proxy_rules("{}");
	}

	/* ---- the launch's type filters (instance.go filterInstanceTypes):
	 * exotic types (metal, GPU) dropped while another type remains
	 * (filterExoticInstanceTypes); filterUnwantedSpot is checked with the
	 * Pricing API below ---- */
	{
		static const char *const gen_gpu[] = { "m5.large", "g4dn.xlarge", "m5.metal" };
		static const char *const gpu[] = { "g4dn.xlarge" };
		static const char *const odc[] = { "on-demand" };
		struct kp_instance fi;
		char ft[256];

		e = kp_cloud_create(px, claim("claim-exotic", "default", gen_gpu, 3, odc, 1), &A, &fi, &eb);
		last_fleet_types(ft, sizeof(ft));
		check(e == KP_CLOUD_OK && kp_strcmp0(kp_labels_get(&fi.labels, KP_LABEL_INSTANCE_TYPE), "m5.large") == 0 &&
			      strcmp(ft, "[\"m5.large\"]") == 0,
		      "m5.large | g4dn.xlarge | m5.metal: the fleet overrides only m5.large (exotic types filtered)",
		      e ? eb.msg : ft);
		if (!e)
			kp_cloud_delete(px, fi.provider_id, &eb);
		e = kp_cloud_create(px, claim("claim-gpu", "default", gpu, 1, odc, 1), &A, &fi, &eb);
		last_fleet_types(ft, sizeof(ft));
		check(e == KP_CLOUD_OK && kp_strcmp0(kp_labels_get(&fi.labels, KP_LABEL_INSTANCE_TYPE), "g4dn.xlarge") == 0 &&
			      strcmp(ft, "[\"g4dn.xlarge\"]") == 0,
		      "only g4dn.xlarge allowed: it is launched (nothing else remains)", e ? eb.msg : ft);
		if (!e)
			kp_cloud_delete(px, fi.provider_id, &eb);
	}

	/* ---- CreateFleet batching (createfleet.go): identical requests
	 * together -> one CreateFleet for 3, one instance each, each tagged
	 * with its own NodeClaim ---- */
	{
		static const char *const one[] = { "m5.large" };
		struct batch_job jobs[3];
		pthread_t th[3];
		int before = proxy_count("CreateFleet"), after, ok_n = 0, tagged = 0;
		bool distinct;

		for (int i = 0; i < 3; i++) {
			char nm[32];

			memset(&jobs[i], 0, sizeof(jobs[i]));
			snprintf(nm, sizeof(nm), "claim-batch-%d", i);
			jobs[i].cp = px;
			jobs[i].claim = claim(nm, "default", one, 1, od, 1);
			kp_arena_init(&jobs[i].a);
			pthread_create(&th[i], NULL, batch_run, &jobs[i]);
		}
		for (int i = 0; i < 3; i++)
			pthread_join(th[i], NULL);
		after = proxy_count("CreateFleet");
		for (int i = 0; i < 3; i++) {
			const struct kp_aws_xnode *x;

			ok_n += jobs[i].e == KP_CLOUD_OK && jobs[i].out.provider_id;
			x = jobs[i].out.provider_id ? describe_instance(jobs[i].out.provider_id) : NULL;
			tagged += x && has_tag(x, "karpenter.sh/nodeclaim", jobs[i].claim->name);
		}
		distinct = ok_n == 3 && strcmp(jobs[0].out.provider_id, jobs[1].out.provider_id) != 0 &&
			   strcmp(jobs[0].out.provider_id, jobs[2].out.provider_id) != 0 &&
			   strcmp(jobs[1].out.provider_id, jobs[2].out.provider_id) != 0;
		snprintf(buf, sizeof(buf), "CreateFleet calls %d, launched %d, tagged %d: %s", after - before, ok_n, tagged,
			 jobs[0].eb.msg);
		check(after - before == 1 && distinct, "3 identical launches at once: one CreateFleet (TotalTargetCapacity 3), 3 instances",
		      buf);
		check(tagged == 3, "each batched instance tagged with its own NodeClaim (CreateTags)", buf);
		/* TerminateInstances batching (terminateinstances.go): three
		 * deletes at once -> one call */
		if (ok_n == 3) {
			int calls, done;

			calls = delete_batch(jobs, 3, &done);
			snprintf(buf, sizeof(buf), "TerminateInstances calls %d, terminated %d: %s", calls, done, jobs[0].eb.msg);
			check(calls == 1 && done == 3, "3 deletes at once: one TerminateInstances for the 3 ids", buf);
		}
		for (int i = 0; i < 3; i++)
			kp_arena_free(&jobs[i].a);
		/* the batched call fails (5xx on every attempt): each id is
		 * terminated again alone */
		if (launch_batch(px, jobs, 3, "claim-term", od_m5_claim) == 3) {
			int calls, done;

			proxy_rules("{\"fail5xx\":{\"TerminateInstances\":2}}");
			calls = delete_batch(jobs, 3, &done);
			proxy_rules("{}");
			snprintf(buf, sizeof(buf), "TerminateInstances calls %d, terminated %d: %s", calls, done, jobs[0].eb.msg);
			check(calls == 5 && done == 3,
			      "a failed TerminateInstances batch: each instance terminated alone (2 failed attempts + 3)", buf);
		} else {
			check(false, "launch 3 for the TerminateInstances batch error", jobs[0].eb.msg);
		}
		for (int i = 0; i < 3; i++)
			kp_arena_free(&jobs[i].a);
	}

	/* ---- capacity reservations (answered by the proxy: moto has none):
	 * selected by tags and id, reserved offerings with their counts, a
	 * reserved launch targets its reservation, the next one falls back ---- */
	proxy_rules("{\"crs\":[{\"id\":\"cr-1\",\"type\":\"m5.large\",\"zone\":\"us-east-1a\",\"total\":1,\"avail\":1,"
		    "\"tags\":{\"team\":\"ml\"}},"
		    "{\"id\":\"cr-2\",\"type\":\"c5.large\",\"zone\":\"us-east-1b\",\"total\":3,\"avail\":3},"
		    "{\"id\":\"cr-3\",\"type\":\"m5.large\",\"zone\":\"us-east-1b\",\"total\":5,\"avail\":5,"
		    "\"tags\":{\"team\":\"other\"}}]}");
	{
		static const char *const m5only[] = { "m5.large" };
		static const char *const all3[] = { "reserved", "spot", "on-demand" };
		char rj[4096];
		json_t *crs;
		struct kp_instance r1, r2;
		const struct kp_itype *m5;
		const struct kp_offering *ro = NULL;
		struct kp_nodepool rp = np;
		bool sel;

		memset(&r1, 0, sizeof(r1));
		memset(&r2, 0, sizeof(r2));
		snprintf(rj, sizeof(rj), "%s", nc_json);
		{
			json_t *o = json_loads(rj, 0, NULL);
			char *d;

			json_object_set_new(json_object_get(o, "metadata"), "name", json_string("resv"));
			json_object_set_new(json_object_get(o, "spec"), "capacityReservationSelectorTerms",
					    json_pack("[{s:{s:s}},{s:s}]", "tags", "team", "ml", "id", "cr-2"));
			d = json_dumps(o, JSON_COMPACT);
			snprintf(rj, sizeof(rj), "%s", d ? d : "");
			free(d);
			json_decref(o);
		}
		e = reconcile(px, rj, &st, &conds, &eb);
		crs = json_object_get(st, "capacityReservations");
		sel = json_array_size(crs) == 2 &&
		      kp_strcmp0(json_string_value(json_object_get(json_array_get(crs, 0), "id")), "cr-1") == 0 &&
		      kp_strcmp0(json_string_value(json_object_get(json_array_get(crs, 1), "id")), "cr-2") == 0;
		check(e == KP_CLOUD_OK && sel && strcmp(cond_status(conds, "CapacityReservationsReady"), "True") == 0,
		      "capacityReservationSelectorTerms: tags and id terms select cr-1 and cr-2 (not cr-3); status and "
		      "CapacityReservationsReady written",
		      e ? eb.msg : NULL);
		json_decref(st);
		json_decref(conds);
		rp.name = "resv-pool";
		rp.node_class.name = "resv";
		kp_cloud_instance_types(px, &rp, &cat, &eb);
		m5 = cat ? kp_catalog_find(cat, "m5.large") : NULL;
		for (int i = 0; m5 && i < m5->noff; i++)
			if (m5->off[i].captype == KP_CAP_RESERVED)
				ro = &m5->off[i];
		check(ro && ro->available && kp_strcmp0(ro->zone, "us-east-1a") == 0 && m5 &&
			      kp_itype_reservation(m5, "us-east-1a") && kp_itype_reservation(m5, "us-east-1a")->capacity == 1,
		      "m5.large gets a reserved offering in us-east-1a with reservationCapacity 1 (cr-3 not selected, "
		      "c5.large's cr-2 in zone b)",
		      NULL);
		e = kp_cloud_create(px, claim("claim-resv1", "resv", m5only, 1, all3, 3), &A, &r1, &eb);
		check(e == KP_CLOUD_OK && r1.captype == KP_CAP_RESERVED &&
			      kp_strcmp0(kp_labels_get(&r1.labels, KP_LABEL_CAPACITY_TYPE), "reserved") == 0 &&
			      kp_strcmp0(kp_labels_get(&r1.labels, "karpenter.k8s.aws/capacity-reservation-id"), "cr-1") == 0 &&
			      kp_strcmp0(r1.zone, "us-east-1a") == 0,
		      "reservation of 1: the first launch is reserved (capacity-type=reserved, capacity-reservation-id=cr-1, "
		      "zone a)",
		      e ? eb.msg : r1.provider_id);
		{
			const char *kl[] = { "Filter.1.Name", "tag:karpenter.k8s.aws/ec2nodeclass", "Filter.1.Value.1", "resv",
					     NULL };
			struct kp_aws_xnode *lx = ec2("DescribeLaunchTemplates", kl);
			const struct kp_aws_xnode *lset = kp_aws_xml_child(lx, "launchTemplates");
			bool found = false;

			for (const struct kp_aws_xnode *l = lset ? lset->child : NULL; l; l = l->next) {
				const char *kv[] = { "LaunchTemplateName", kp_aws_xml_text(l, "launchTemplateName"), "Versions.1",
						     "$Latest", NULL };
				struct kp_aws_xnode *x = kv[1] ? ec2("DescribeLaunchTemplateVersions", kv) : NULL;
				const struct kp_aws_xnode *set = kp_aws_xml_child(x, "launchTemplateVersionSet");

				for (const struct kp_aws_xnode *v = set ? set->child : NULL; v; v = v->next)
					found |= kp_strcmp0(kp_aws_xml_text(v, "launchTemplateData/capacityReservationSpecification/"
									       "capacityReservationTarget/capacityReservationId"),
							    "cr-1") == 0;
			}
			check(found, "the reserved launch's launch template targets cr-1 (CapacityReservationSpecification)",
			      NULL);
		}
		e = kp_cloud_create(px, claim("claim-resv2", "resv", m5only, 1, all3, 3), &A, &r2, &eb);
		check(e == KP_CLOUD_OK && r2.captype == KP_CAP_SPOT &&
			      kp_strcmp0(kp_labels_get(&r2.labels, KP_LABEL_CAPACITY_TYPE), "spot") == 0,
		      "the next launch falls back to spot (the reservation has no instance left)", e ? eb.msg : NULL);
		e = reconcile(px, rj, &st, &conds, &eb);
		crs = json_object_get(st, "capacityReservations");
		json_decref(conds);
		kp_cloud_instance_types(px, &rp, &cat, &eb);
		m5 = cat ? kp_catalog_find(cat, "m5.large") : NULL;
		ro = NULL;
		for (int i = 0; m5 && i < m5->noff; i++)
			if (m5->off[i].captype == KP_CAP_RESERVED)
				ro = &m5->off[i];
		check(ro && !ro->available &&
			      json_integer_value(json_object_get(json_array_get(crs, 0), "availableInstanceCount")) == 0,
		      "after the refresh (AvailableInstanceCount 0) the reserved offering stays unavailable", NULL);
		json_decref(st);
		if (r1.provider_id)
			kp_cloud_delete(px, r1.provider_id, &eb);
		if (r2.provider_id)
			kp_cloud_delete(px, r2.provider_id, &eb);
	}
	proxy_rules("{}");

	/* ---- on-demand prices from the Pricing API (answered by the proxy:
	 * moto has none): the answer's price is the offering's and the
	 * launch's; unreachable, the table's stay and the log says why once ---- */
	proxy_rules("{\"pricing\":{\"m5.large\":0.5}}");
	{
		static const char *const m5only[] = { "m5.large" };
		struct kp_cloud *pp = provider_pricing(PROXY, NULL, NULL, 0);
		struct kp_instance pi;
		double v = 0;

		memset(&pi, 0, sizeof(pi));
		if (pp) {
			reconcile(pp, nc_json, &st, &conds, &eb);
			json_decref(st);
			json_decref(conds);
			for (int i = 0; i < 100 && (v = m5_od(pp)) != 0.5; i++)
				sleep_ms_(100);
			snprintf(buf, sizeof(buf), "m5.large on-demand %.4f, GetProducts calls %d", v, proxy_count("GetProducts"));
			check(v == 0.5 && proxy_count("GetProducts") >= 2,
			      "Pricing API GetProducts (2 queries) answered 0.5 for m5.large: the offering's price follows", buf);
			e = kp_cloud_create(pp, claim("claim-price", "default", m5only, 1, od, 1), &A, &pi, &eb);
			check(e == KP_CLOUD_OK && pi.price == 0.5, "an on-demand launch of m5.large is priced 0.5", eb.msg);
			if (pi.provider_id)
				kp_cloud_delete(pp, pi.provider_id, &eb);
			kp_cloud_destroy(pp);
		}
	}
	/* ---- filterUnwantedSpot (instance.go): on a launch that may be spot
	 * or on-demand, a type whose cheapest offering costs more than the
	 * cheapest on-demand offering is left out. moto's spot prices are all
	 * 0.00001; the Pricing API (the proxy) makes m5.large's on-demand
	 * price 0.000001, below m5.8xlarge's spot price ---- */
	proxy_rules("{\"pricing\":{\"m5.large\":0.000001}}");
	{
		static const char *const pricey[] = { "m5.large", "m5.8xlarge" };
		static const char *const mixed[] = { "on-demand", "spot" };
		struct kp_cloud *pp = provider_pricing(PROXY, NULL, NULL, 0);
		struct kp_instance pi;
		char ft[256] = "";
		double v = 0;

		memset(&pi, 0, sizeof(pi));
		if (pp) {
			reconcile(pp, nc_json, &st, &conds, &eb);
			json_decref(st);
			json_decref(conds);
			for (int i = 0; i < 100 && !((v = m5_od(pp)) > 0 && v < 0.000005); i++)
				sleep_ms_(100);
			e = kp_cloud_create(pp, claim("claim-pricey", "default", pricey, 2, mixed, 2), &A, &pi, &eb);
			last_fleet_types(ft, sizeof(ft));
			check(e == KP_CLOUD_OK && pi.captype == KP_CAP_SPOT && strcmp(ft, "[\"m5.large\"]") == 0,
			      "spot launch: m5.8xlarge (spot above m5.large's on-demand price) not in the fleet overrides",
			      e ? eb.msg : ft);
			if (pi.provider_id)
				kp_cloud_delete(pp, pi.provider_id, &eb);
			kp_cloud_destroy(pp);
		} else
			check(false, "spot launch: m5.8xlarge (spot above m5.large's on-demand price) not in the fleet overrides",
			      "no provider");
	}
	proxy_rules("{}");
	{
		/* the provider appends to the log; the check reads it through its own stream */
		char path[] = "/tmp/aws-pricing-log-XXXXXX";
		int fd = mkstemp(path);
		FILE *lf = fd >= 0 ? fdopen(fd, "a") : NULL;
		struct kp_cloud *pq;
		char line[4096];
		int nlog = 0, found = 0;
		double v = 0;

		if (lf)
			setvbuf(lf, NULL, _IOLBF, 0);
		pq = lf ? provider_pricing(PROXY, "http://127.0.0.1:1", lf, 300) : NULL;
		if (pq) {
			reconcile(pq, nc_json, &st, &conds, &eb);
			json_decref(st);
			json_decref(conds);
			for (int i = 0; i < 100 && !found; i++) {
				FILE *rf = fopen(path, "r");

				while (rf && fgets(line, sizeof(line), rf))
					found += strstr(line, "Pricing API failed") != NULL;
				if (rf)
					fclose(rf);
				if (!found)
					sleep_ms_(100);
			}
			sleep_ms_(1000); /* a few more 300 ms rounds, each asking again */
			v = m5_od(pq);
			kp_cloud_destroy(pq);
			fflush(lf);
			{
				FILE *rf = fopen(path, "r");

				while (rf && fgets(line, sizeof(line), rf))
					if (strstr(line, "Pricing API failed") && strstr(line, "\"error\""))
						nlog++;
				if (rf)
					fclose(rf);
			}
			snprintf(buf, sizeof(buf), "m5.large on-demand %.4f, %d log line(s)", v, nlog);
			check(v > 0.0959 && v < 0.0961 && nlog == 1,
			      "Pricing API unreachable: the table's price stays (0.096), one log line with the error", buf);
		}
		if (lf)
			fclose(lf);
		unlink(path);
	}

	/* ---- launch-template garbage collection: a template of a known class
	 * that none of its current (AMI, reservation) templates is goes; other
	 * clusters' and unknown classes' stay; a deleted class loses all ---- */
	{
		int nd = -1, nd2 = -1, def_before = lt_count("default", NULL), resv_before = lt_count("resv", NULL);
		kp_err gr;

		lt_fixture("karpenter.k8s.aws/stale-1", "test-cluster", "default");
		lt_fixture("karpenter.k8s.aws/other-cluster", "other-cluster", "default");
		lt_fixture("karpenter.k8s.aws/unknown-class", "test-cluster", "nobody");
		gr = kp_cloud_aws_lt_gc(cp, &nd, &eb);
		snprintf(buf, sizeof(buf), "deleted %d, default's %d -> %d, resv's %d -> %d: %s", nd, def_before,
			 lt_count("default", NULL), resv_before, lt_count("resv", NULL), gr ? eb.msg : "");
		check(gr == KP_OK && nd == 1 && lt_count("default", "karpenter.k8s.aws/stale-1") == 0 && def_before >= 1 &&
			      lt_count("default", NULL) == def_before + 1 && resv_before >= 2 &&
			      lt_count("resv", NULL) == resv_before && lt_count("nobody", NULL) == 1,
		      "launch-template gc: the class's stale template deleted; its current ones, another cluster's and an "
		      "unresolved class's kept",
		      buf);
		kp_cloud_nodeclass_forget(px, "resv");
		gr = kp_cloud_aws_lt_gc(px, &nd2, &eb);
		snprintf(buf, sizeof(buf), "deleted %d, resv's left %d, default's %d", nd2, lt_count("resv", NULL),
			 lt_count("default", NULL));
		check(gr == KP_OK && nd2 == resv_before && lt_count("resv", NULL) == 0 &&
			      lt_count("default", NULL) == def_before + 1,
		      "EC2NodeClass deleted: all its launch templates deleted (DeleteAll)", buf);
	}

	/* ---- alias through SSM (answered by the proxy: moto refuses /aws/ names) ---- */
	snprintf(buf, sizeof(buf),
		 "{\"ssm\":{\"/aws/service/eks/optimized-ami/1.32/amazon-linux-2023/x86_64/standard/recommended/image_id\":\"%s\"}}",
		 ami_x86);
	proxy_rules(buf);
	e = reconcile(px,
		      "{\"metadata\":{\"name\":\"alias\"},\"spec\":{\"instanceProfile\":\"p\","
		      "\"subnetSelectorTerms\":[{\"tags\":{\"karpenter.sh/discovery\":\"test-cluster\"}}],"
		      "\"securityGroupSelectorTerms\":[{\"tags\":{\"karpenter.sh/discovery\":\"test-cluster\"}}],"
		      "\"amiSelectorTerms\":[{\"alias\":\"al2023@latest\"}]}}",
		      &st, &conds, &eb);
	check(e == KP_CLOUD_OK && json_array_size(json_object_get(st, "amis")) == 1 &&
		      strcmp(json_string_value(json_object_get(json_array_get(json_object_get(st, "amis"), 0), "id")), ami_x86) == 0,
	      "alias al2023@latest resolved through SSM (x86_64 found, arm64 absent)", eb.msg);
	json_decref(st);
	json_decref(conds);
	proxy_rules("{}");
	v1beta1_checks(px, sg_default, ami_x86);

	/* ---- Windows family: windows instance types ---- */
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"win\"},\"spec\":{\"amiFamily\":\"Windows2022\",\"instanceProfile\":\"p\","
		 "\"subnetSelectorTerms\":[{\"id\":\"%s\"}],\"securityGroupSelectorTerms\":[{\"id\":\"%s\"}],"
		 "\"amiSelectorTerms\":[{\"id\":\"%s\"}]}}",
		 s1, sg, ami_x86);
	e = reconcile(cp, buf, &st, &conds, &eb);
	json_decref(st);
	json_decref(conds);
	np.name = "win-pool";
	np.node_class.name = "win";
	e = kp_cloud_instance_types(cp, &np, &cat, &eb);
	{
		const struct kp_itype *m5 = cat ? kp_catalog_find(cat, "m5.large") : NULL;

		check(e == KP_CLOUD_OK && m5 && kp_strcmp0(kp_labels_get(&m5->labels, KP_LABEL_OS), "windows") == 0 &&
			      !kp_catalog_find(cat, "m6g.large"),
		      "Windows family: types labelled windows, no arm64 types; subnet by id", eb.msg);
	}

	/* ---- drift: the class's AMI changes ---- */
	{
		char reason[64];
		struct kp_nodeclaim *c1 = claim("claim-spot", "default", types, 3, both, 2);

		c1->provider_id = spot_in.provider_id;
		e = kp_cloud_is_drifted(cp, c1, reason, sizeof(reason), &eb);
		{
			const struct kp_aws_xnode *x = describe_instance(spot_in.provider_id);
			const struct kp_aws_xnode *g = kp_aws_xml_child(x, "groupSet");
			snprintf(buf, sizeof(buf), "%s; instance groups:", reason);
			for (g = g ? g->child : NULL; g; g = g->next)
				snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " %s", kp_aws_xml_text(g, "groupId"));
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " class sg %s", sg_default);
		}
		check(e == KP_CLOUD_OK && reason[0] == 0, "not drifted while the class is unchanged", buf);

		/* static drift (drift.go areStaticFieldsDrifted): Create gave the
		 * claim the class's hash and hash version; a change of a hashed
		 * field (tags) is NodeClassDrift, but only when the versions match */
		{
			const char *h = kp_labels_get(&spot_in.annotations, "karpenter.k8s.aws/ec2nodeclass-hash");
			const char *hv = kp_labels_get(&spot_in.annotations, "karpenter.k8s.aws/ec2nodeclass-hash-version");
			char changed[4096], *blue;

			check(h && *h && kp_strcmp0(hv, "kc-v1") == 0, "Create returns the ec2nodeclass-hash and -hash-version annotations",
			      hv);
			kp_labels_copy(&c1->annotations, &A, &spot_in.annotations);
			e = kp_cloud_is_drifted(cp, c1, reason, sizeof(reason), &eb);
			check(e == KP_CLOUD_OK && reason[0] == 0, "hash annotation equal to the class's: not drifted", reason);
			snprintf(changed, sizeof(changed), "%s", nc_json);
			if ((blue = strstr(changed, "\"blue\"")))
				memcpy(blue + 1, "teal", 4);
			reconcile(cp, changed, &st, &conds, &eb);
			json_decref(st);
			json_decref(conds);
			e = kp_cloud_is_drifted(cp, c1, reason, sizeof(reason), &eb);
			check(e == KP_CLOUD_OK && blue && strcmp(reason, "NodeClassDrift") == 0,
			      "class tags changed (hash differs, same hash version): NodeClassDrift", reason);
			kp_labels_set(&c1->annotations, &A, "karpenter.k8s.aws/ec2nodeclass-hash-version", "v4");
			e = kp_cloud_is_drifted(cp, c1, reason, sizeof(reason), &eb);
			check(e == KP_CLOUD_OK && reason[0] == 0, "hash differs but the claim's hash version is another (v4): not drifted",
			      reason);
			kp_labels_set(&c1->annotations, &A, "karpenter.k8s.aws/ec2nodeclass-hash-version", "kc-v1");
			reconcile(cp, nc_json, &st, &conds, &eb);
			json_decref(st);
			json_decref(conds);
			e = kp_cloud_is_drifted(cp, c1, reason, sizeof(reason), &eb);
			check(e == KP_CLOUD_OK && reason[0] == 0, "class changed back: the hash matches again, not drifted", reason);
		}
		snprintf(nc_json, sizeof(nc_json),
			 "{\"metadata\":{\"name\":\"default\",\"uid\":\"u-1\"},\"spec\":{\"amiFamily\":\"AL2023\","
			 "\"role\":\"KarpenterNodeRole\",\"subnetSelectorTerms\":[{\"tags\":{\"karpenter.sh/discovery\":\"test-cluster\"}}],"
			 "\"securityGroupSelectorTerms\":[{\"id\":\"%s\"}],\"amiSelectorTerms\":[{\"id\":\"ami-0e9271c829888680e\"}],"
			 "\"tags\":{\"team\":\"blue\"},\"kubelet\":{\"maxPods\":58}}}",
			 sg_default);
		reconcile(cp, nc_json, &st, &conds, &eb);
		json_decref(st);
		json_decref(conds);
		e = kp_cloud_is_drifted(cp, c1, reason, sizeof(reason), &eb);
		check(e == KP_CLOUD_OK && strcmp(reason, "AMIDrift") == 0, "AMI changed in the class: AMIDrift", reason);
	}

	/* ---- interruption: each EventBridge kind through a moto SQS queue ---- */
	{
		static const char *const tmpl[] = {
			"{\"version\":\"0\",\"id\":\"1\",\"detail-type\":\"EC2 Spot Instance Interruption Warning\",\"source\":\"aws.ec2\","
			"\"account\":\"123456789012\",\"time\":\"2026-11-27T20:00:00Z\",\"region\":\"us-east-1\",\"resources\":[],"
			"\"detail\":{\"instance-id\":\"%s\",\"instance-action\":\"terminate\"}}",
			"{\"version\":\"0\",\"id\":\"2\",\"detail-type\":\"EC2 Instance Rebalance Recommendation\",\"source\":\"aws.ec2\","
			"\"detail\":{\"instance-id\":\"%s\"}}",
			"{\"version\":\"0\",\"id\":\"3\",\"detail-type\":\"AWS Health Event\",\"source\":\"aws.health\",\"detail\":{"
			"\"service\":\"EC2\",\"eventTypeCategory\":\"scheduledChange\",\"eventTypeCode\":\"AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED\","
			"\"affectedEntities\":[{\"entityValue\":\"%s\"}]}}",
			"{\"version\":\"0\",\"id\":\"4\",\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\","
			"\"detail\":{\"instance-id\":\"%s\",\"state\":\"stopping\"}}",
			"{\"version\":\"0\",\"id\":\"5\",\"detail-type\":\"EC2 Capacity Reservation Instance Interruption Warning\","
			"\"source\":\"aws.ec2\",\"detail\":{\"instance-id\":\"%s\",\"instance-action\":\"terminate\"}}",
			"{\"version\":\"0\",\"id\":\"6\",\"detail-type\":\"EC2 Instance State-change Notification\",\"source\":\"aws.ec2\","
			"\"detail\":{\"instance-id\":\"%s\",\"state\":\"running\"}}",
			"this is not json %s",
		};
		static const char *const want[] = { "spot_interrupted", "rebalance_recommendation", "scheduled_change",
						    "instance_stopped", "capacity_reservation_interrupted", "unparseable",
						    "no_op" };
		struct kp_aws_resp r;
		const char *iid = strrchr(spot_in.provider_id, '/') + 1, *qurl;
		struct kp_cloud *pq;
		struct kp_cloud_event *ev;
		bool seen[7] = { false }, drain_ok = true, sent_ok = true;
		const char *msgs[7] = { NULL };
		int got = 0, n, nmsgs = 0;
		char key[128];

		kp_aws_json(CL, "sqs", "AmazonSQS.CreateQueue", "1.0", "{\"QueueName\":\"check-q\"}", &r, &eb);
		qurl = kp_arena_strdup(&A, json_string_value(json_object_get(r.json, "QueueUrl")));
		kp_aws_resp_clear(&r);
		for (size_t i = 0; qurl && i < sizeof(tmpl) / sizeof(tmpl[0]); i++) {
			char m[1024];
			json_t *body;
			char *text;

			snprintf(m, sizeof(m), tmpl[i], iid);
			body = json_pack("{s:s,s:s}", "QueueUrl", qurl, "MessageBody", m);
			text = json_dumps(body, JSON_COMPACT);
			kp_aws_json(CL, "sqs", "AmazonSQS.SendMessage", "1.0", text, &r, &eb);
			kp_aws_resp_clear(&r);
			free(text);
			json_decref(body);
		}
		pq = provider(MOTO, "check-q");
		for (int t = 0; pq && t < 100 && got < 7; t++) {
			struct timespec ts = { 0, 100 * 1000000L };

			ev = NULL;
			n = 0;
			kp_cloud_poll_events(pq, &A, &ev, &n, &eb);
			for (int i = 0; i < n; i++) {
				for (int k = 0; k < 7; k++)
					if (strcmp(ev[i].kind_name, want[k]) == 0 && !seen[k]) {
						seen[k] = true;
						got++;
						if (k < 5 && strcmp(ev[i].instance_id, iid) != 0)
							drain_ok = false;
						if (ev[i].drain != (k != 1 && k != 5 && k != 6))
							drain_ok = false;
						/* the envelope's time, else SQS's SentTimestamp */
						if (k == 0 ? ev[i].sent_ms != 1795809600000LL : ev[i].sent_ms <= 0)
							sent_ok = false;
						if (ev[i].msg && nmsgs < 7)
							msgs[nmsgs++] = ev[i].msg;
					}
			}
			nanosleep(&ts, NULL);
		}
		for (int k = 0; k < 7; k++) {
			snprintf(buf, sizeof(buf), "interruption: %s message received and classified", want[k]);
			check(seen[k], buf, NULL);
		}
		check(drain_ok, "interruption: instance ids from detail/affectedEntities; drain for all but rebalance", NULL);
		snprintf(key, sizeof(key), "spot:%s:%s", spot_in.instance_type, spot_in.zone);
		check(pq && kp_cloud_aws_ice_has(pq, key), "spot interruption marks its offering unavailable", key);
		check(sent_ok, "interruption: each event carries its message's send time (envelope time, else SentTimestamp)",
		      NULL);
		/* nothing is deleted before the controller acknowledges it
		 * (handleMessage, then deleteMessage); then every message is,
		 * the unparseable and no-op ones too */
		if (qurl) {
			int before = sqs_count(qurl), after = -1;

			snprintf(buf, sizeof(buf), "%d messages, %d in the queue", nmsgs, before);
			check(nmsgs == 7 && before == 7, "interruption: one message per event, none deleted before it is acknowledged", buf);
			for (int i = 0; i < nmsgs; i++)
				kp_cloud_ack_event(pq, msgs[i], &eb);
			for (int t = 0; t < 50 && (after = sqs_count(qurl)) != 0; t++)
				sleep_ms_(100);
			snprintf(buf, sizeof(buf), "%d left", after);
			check(after == 0, "interruption: every acknowledged message deleted from the queue", buf);
		}
		kp_cloud_destroy(pq);
	}

	/* ---- AuthFailure surfaced as a launch error, not a crash ---- */
	proxy_rules("{\"auth_fail\":true}");
	e = kp_cloud_create(px, claim("claim-auth", "default", types, 3, od, 1), &A, &in, &eb);
	check(e != KP_CLOUD_OK && e != KP_CLOUD_INSUFFICIENT_CAPACITY && strstr(eb.msg, "AuthFailure"),
	      "wrong credentials: AuthFailure in the launch error", eb.msg);
	proxy_rules("{}");

	kp_cloud_destroy(px);
	kp_cloud_destroy(cp);
out:
	kp_aws_client_free(CL);
	kp_catalog_free(&CAT);
	kp_arena_free(&A);
	curl_global_cleanup();
	printf("aws-provider: %d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
