/*
 * test_load.c - the manifest loader: Karpenter's published examples, every
 * kind's decoded fields, workload expansion, RuntimeClass overhead, implicit
 * namespaces, YAML/JSON details, and the messages for bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "karpenter/objects.h"
#include "load/load.h"

#define NOW 1700000000
#define H_MS (3600LL * 1000)
#define MI ((int64_t)1024 * 1024)
#define GI (1024 * MI)

/* ---- helpers ---- */

static kp_err load(struct kp_cluster *c, const char *yaml, struct kp_errbuf *eb)
{
	struct kp_load_opts o = { NULL, NOW };
	kp_cluster_init(c);
	return kp_load_buffer(c, "t.yaml", yaml, strlen(yaml), &o, eb);
}

static void load_ok(struct kp_cluster *c, const char *yaml)
{
	struct kp_errbuf eb = { 0 };
	kp_err rc = load(c, yaml, &eb);
	if (rc)
		fprintf(stderr, "unexpected error: %s\n", eb.msg);
	assert_int_equal(rc, KP_OK);
}

/* Loads yaml, expects failure with want in the message. */
static void load_bad(const char *yaml, const char *want)
{
	struct kp_cluster c;
	struct kp_errbuf eb = { 0 };
	kp_err rc = load(&c, yaml, &eb);

	if (rc == KP_OK || !strstr(eb.msg, want))
		fprintf(stderr, "want error containing: %s\ngot (%d): %s\n", want, rc, eb.msg);
	assert_int_not_equal(rc, KP_OK);
	assert_non_null(strstr(eb.msg, want));
	kp_cluster_free(&c);
}

static const struct kp_pod *find_pod(const struct kp_cluster *c, const char *name)
{
	for (int i = 0; i < c->npods; i++)
		if (strcmp(c->pods[i]->name, name) == 0)
			return c->pods[i];
	return NULL;
}

static const struct kp_req *req(const struct kp_reqs *rs, const char *key)
{
	const struct kp_req *r = kp_reqs_get(rs, key);
	assert_non_null(r);
	return r;
}

static int res_idx(const struct kp_cluster *c, const char *name)
{
	int i = kp_resnames_find(&c->resnames, name);
	assert_true(i >= 0);
	return i;
}

static const char *shared_dir(void)
{
	static const char *const cands[] = { "../shared" };
	struct stat st;
	const char *env = getenv("KP_SHARED_DIR");

	if (env && stat(env, &st) == 0)
		return env;
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/karpenter-examples/v1", cands[i]);
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
			return cands[i];
	}
	return NULL;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Copies src to dst replacing ${CLUSTER_NAME} (what `envsubst` would do). */
static void copy_subst(const char *src, const char *dst)
{
	size_t len;
	char *in = read_all(src, &len);
	FILE *out = fopen(dst, "wb");
	const char *p = in, *hit;

	assert_non_null(out);
	while ((hit = strstr(p, "${CLUSTER_NAME}")) != NULL) {
		fwrite(p, 1, (size_t)(hit - p), out);
		fputs("demo", out);
		p = hit + strlen("${CLUSTER_NAME}");
	}
	fputs(p, out);
	fclose(out);
	free(in);
}

/* ---- published examples ---- */

static void test_examples_v1(void **state)
{
	const char *shared = shared_dir();
	char src[512], tmpl[] = "/tmp/kp-load-XXXXXX", *dir;
	struct dirent *de;
	DIR *dp;
	int files = 0;

	(void)state;
	if (!shared) {
		fprintf(stderr, "# skip %s: the reference examples (../shared, outside the repository) are not there\n", __func__);
		skip();
	}
	dir = mkdtemp(tmpl);
	assert_non_null(dir);
	snprintf(src, sizeof(src), "%s/karpenter-examples/v1", shared);
	dp = opendir(src);
	assert_non_null(dp);
	while ((de = readdir(dp)) != NULL) {
		char from[1024], to[1024];
		const char *paths[1] = { to };
		struct kp_load_opts o = { NULL, NOW };
		struct kp_errbuf eb = { 0 };
		struct kp_cluster c;
		kp_err rc;

		if (!strstr(de->d_name, ".yaml"))
			continue;
		snprintf(from, sizeof(from), "%s/%s", src, de->d_name);
		snprintf(to, sizeof(to), "%s/%s", dir, de->d_name);
		copy_subst(from, to);
		kp_cluster_init(&c);
		rc = kp_load_paths(&c, paths, 1, &o, &eb);
		if (rc)
			fprintf(stderr, "%s: %s\n", de->d_name, eb.msg);
		assert_int_equal(rc, KP_OK);
		assert_true(c.npools >= 1);
		assert_true(c.nnodeclasses >= 1);
		for (int i = 0; i < c.npools; i++) {
			assert_non_null(c.pools[i]->hash);
			assert_int_equal(strlen(c.pools[i]->hash), 16);
			assert_string_equal(c.pools[i]->node_class.group, "karpenter.k8s.aws");
			assert_string_equal(c.pools[i]->node_class.kind, "EC2NodeClass");
		}
		for (int i = 0; i < c.nnodeclasses; i++)
			assert_non_null(c.nodeclasses[i]->ami_family);
		if (strcmp(de->d_name, "general-purpose.yaml") == 0) {
			const struct kp_nodepool *np = c.pools[0];
			const struct kp_req *r;
			assert_string_equal(np->name, "general-purpose");
			assert_int_equal(np->reqs.n, 5);
			r = req(&np->reqs, "karpenter.k8s.aws/instance-generation");
			assert_true(r->complement);
			assert_true(r->has_gte);
			assert_int_equal(r->gte, 3);
			r = req(&np->reqs, "karpenter.k8s.aws/instance-category");
			assert_int_equal(r->n, 3);
			assert_int_equal(np->expire_after_ms, 720 * H_MS);
			assert_int_equal(np->termination_grace_ms, KP_NEVER);
			assert_int_equal(np->policy, KP_CONSOLIDATE_WHEN_EMPTY_OR_UNDERUTILIZED);
			assert_int_equal(np->consolidate_after_ms, 0);
			assert_int_equal(np->nbudgets, 1);
			assert_true(np->budgets[0].percent);
			assert_int_equal(np->budgets[0].nodes, 10);
			assert_string_equal(c.nodeclasses[0]->ami_family, "AL2023");
		} else if (strcmp(de->d_name, "max-node-lifetime.yaml") == 0) {
			const struct kp_nodepool *np = c.pools[0];
			assert_int_equal(np->expire_after_ms, 168 * H_MS);
			assert_int_equal(np->termination_grace_ms, 24 * H_MS);
			assert_int_equal(np->policy, KP_CONSOLIDATE_WHEN_EMPTY);
			assert_int_equal(np->consolidate_after_ms, 60 * 1000);
		} else if (strcmp(de->d_name, "min-values-family.yaml") == 0) {
			assert_int_equal(req(&c.pools[0]->reqs, "karpenter.k8s.aws/instance-family")->min_values, 5);
		} else if (strcmp(de->d_name, "100-cpu-limit.yaml") == 0) {
			const struct kp_nodepool *np = c.pools[0];
			assert_int_equal(np->limits.v[KP_RES_CPU], 100000);
			assert_true(np->limit_mask & (1u << KP_RES_CPU));
			assert_false(np->has_node_limit);
		} else if (strcmp(de->d_name, "custom-family-with-alias.yaml") == 0) {
			assert_string_equal(c.nodeclasses[0]->ami_family, "Custom");
		} else if (strcmp(de->d_name, "bottlerocket.yaml") == 0) {
			assert_string_equal(c.nodeclasses[0]->ami_family, "Bottlerocket");
		} else if (strcmp(de->d_name, "al2-custom-ami.yaml") == 0) {
			assert_string_equal(c.nodeclasses[0]->ami_family, "AL2");
		} else if (strcmp(de->d_name, "windows-2022.yaml") == 0) {
			assert_string_equal(c.nodeclasses[0]->ami_family, "Windows2022");
		}
		kp_cluster_free(&c);
		unlink(to);
		files++;
	}
	closedir(dp);
	rmdir(dir);
	assert_true(files >= 20);
}

static void test_examples_workloads(void **state)
{
	const char *shared = shared_dir();
	char dir[512];
	const char *paths[1] = { dir };
	struct kp_load_opts o = { NULL, NOW };
	struct kp_errbuf eb = { 0 };
	struct kp_cluster c;
	const struct kp_pod *p;
	kp_err rc;

	(void)state;
	if (!shared) {
		fprintf(stderr, "# skip %s: the reference examples (../shared, outside the repository) are not there\n", __func__);
		skip();
	}
	snprintf(dir, sizeof(dir), "%s/karpenter-examples/workloads", shared);
	kp_cluster_init(&c);
	rc = kp_load_paths(&c, paths, 1, &o, &eb);
	if (rc)
		fprintf(stderr, "%s\n", eb.msg);
	assert_int_equal(rc, KP_OK);
	/* arm64 1 + pdb 10 + inflate 1 (default) + host-zone-spread 50 + host-spread 10 */
	assert_int_equal(c.npods, 72);
	assert_int_equal(c.npdbs, 1);
	assert_true(c.pdbs[0]->has_min_available);
	assert_true(c.pdbs[0]->min_percent);
	assert_int_equal(c.pdbs[0]->min_available, 80);
	p = find_pod(&c, "host-zone-spread-49");
	assert_non_null(p);
	assert_int_equal(p->ntsc, 2);
	assert_int_equal(p->tsc[0].max_skew, 2);
	assert_string_equal(p->tsc[1].topology_key, "topology.kubernetes.io/zone");
	assert_int_equal(p->requests.v[KP_RES_CPU], 1000);
	assert_int_equal(p->requests.v[KP_RES_MEMORY], 256000000);
	assert_null(find_pod(&c, "gpu-nvidia-0"));     /* replicas: 0 */
	p = find_pod(&c, "inflate-0");
	assert_non_null(p);
	assert_string_equal(p->ns, "default");
	assert_string_equal(p->owner_kind, "Deployment");
	assert_string_equal(p->owner_name, "inflate");
	assert_int_equal(p->created, NOW);
	assert_string_equal(kp_labels_get(&find_pod(&c, "arm64-0")->node_selector, "kubernetes.io/arch"), "arm64");
	assert_int_equal(c.nnamespaces, 1);
	assert_string_equal(c.namespaces[0]->name, "default");
	kp_cluster_free(&c);
}

/* ---- NodePools ---- */

static const char *const POOL_V1 =
	"apiVersion: karpenter.sh/v1\n"
	"kind: NodePool\n"
	"metadata:\n"
	"  name: gpu\n"
	"  creationTimestamp: \"2024-01-02T03:04:05Z\"\n"
	"spec:\n"
	"  weight: 50\n"
	"  template:\n"
	"    metadata:\n"
	"      labels: {team: ml, beta.kubernetes.io/arch: amd64}\n"
	"      annotations: {note: x}\n"
	"    spec:\n"
	"      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: gpu}\n"
	"      expireAfter: Never\n"
	"      terminationGracePeriod: 1h30m\n"
	"      taints:\n"
	"        - {key: nvidia.com/gpu, value: \"true\", effect: NoSchedule}\n"
	"      startupTaints:\n"
	"        - {key: example.com/init, effect: NoExecute}\n"
	"      requirements:\n"
	"        - key: failure-domain.beta.kubernetes.io/zone\n"
	"          operator: In\n"
	"          values: [us-east-1a, us-east-1b]\n"
	"          minValues: 2\n"
	"        - {key: karpenter.k8s.aws/instance-cpu, operator: Lt, values: [\"65\"]}\n"
	"        - {key: karpenter.k8s.aws/instance-memory, operator: Gte, values: [\"1024\"]}\n"
	"        - {key: karpenter.sh/capacity-type, operator: Exists}\n"
	"  disruption:\n"
	"    consolidationPolicy: Balanced\n"
	"    consolidateAfter: 5m\n"
	"    budgets:\n"
	"      - nodes: \"20%\"\n"
	"        reasons: [Empty, Drifted]\n"
	"      - nodes: \"0\"\n"
	"        schedule: \"0 9 * * mon-fri\"\n"
	"        duration: 8h\n"
	"      - nodes: 3\n"
	"        schedule: \"@daily\"\n"
	"        duration: 1h30m\n"
	"  limits:\n"
	"    cpu: 1000\n"
	"    memory: 1000Gi\n"
	"    nvidia.com/gpu: 8\n"
	"    nodes: 20\n"
	"status:\n"
	"  resources: {cpu: \"12\", nodes: \"3\"}\n";

static void test_nodepool_v1(void **state)
{
	struct kp_cluster c;
	const struct kp_nodepool *np;
	const struct kp_req *r;
	int gpu;

	(void)state;
	load_ok(&c, POOL_V1);
	assert_int_equal(c.npools, 1);
	np = c.pools[0];
	assert_string_equal(np->name, "gpu");
	assert_string_equal(np->api_version, "karpenter.sh/v1");
	assert_int_equal(np->created, 1704164645);
	assert_int_equal(np->weight, 50);
	assert_string_equal(kp_labels_get(&np->labels, "team"), "ml");
	assert_string_equal(kp_labels_get(&np->labels, "kubernetes.io/arch"), "amd64");   /* normalized */
	assert_string_equal(kp_labels_get(&np->annotations, "note"), "x");
	assert_string_equal(np->node_class.name, "gpu");
	assert_int_equal(np->expire_after_ms, KP_NEVER);
	assert_int_equal(np->termination_grace_ms, 90 * 60 * 1000);
	assert_int_equal(np->taints.n, 1);
	assert_string_equal(np->taints.t[0].key, "nvidia.com/gpu");
	assert_string_equal(np->taints.t[0].value, "true");
	assert_int_equal(np->taints.t[0].effect, KP_EFFECT_NOSCHEDULE);
	assert_int_equal(np->startup_taints.n, 1);
	assert_null(np->startup_taints.t[0].value);
	assert_int_equal(np->startup_taints.t[0].effect, KP_EFFECT_NOEXECUTE);
	assert_int_equal(np->reqs.n, 4);
	r = req(&np->reqs, "topology.kubernetes.io/zone");              /* normalized */
	assert_int_equal(r->n, 2);
	assert_int_equal(r->min_values, 2);
	assert_false(r->complement);
	r = req(&np->reqs, "karpenter.k8s.aws/instance-cpu");
	assert_true(r->has_lte);
	assert_int_equal(r->lte, 64);
	r = req(&np->reqs, "karpenter.k8s.aws/instance-memory");
	assert_true(r->has_gte);
	assert_int_equal(r->gte, 1024);
	r = req(&np->reqs, "karpenter.sh/capacity-type");
	assert_true(r->complement);
	assert_int_equal(r->n, 0);
	assert_int_equal(np->policy, KP_CONSOLIDATE_BALANCED);
	assert_int_equal(np->consolidate_after_ms, 5 * 60 * 1000);
	assert_false(np->v1beta1_expiry);
	assert_int_equal(np->nbudgets, 3);
	assert_true(np->budgets[0].percent);
	assert_int_equal(np->budgets[0].nodes, 20);
	assert_int_equal(np->budgets[0].reasons, KP_REASON_EMPTY | KP_REASON_DRIFTED);
	assert_null(np->budgets[0].schedule);
	assert_false(np->budgets[1].percent);
	assert_int_equal(np->budgets[1].nodes, 0);
	assert_string_equal(np->budgets[1].schedule, "0 9 * * mon-fri");
	assert_int_equal(np->budgets[1].duration_ms, 8 * H_MS);
	assert_int_equal(np->budgets[1].reasons, 0);
	assert_int_equal(np->budgets[2].nodes, 3);
	assert_int_equal(np->budgets[2].duration_ms, 90 * 60 * 1000);
	gpu = res_idx(&c, "nvidia.com/gpu");
	assert_int_equal(np->limits.v[KP_RES_CPU], 1000000);
	assert_int_equal(np->limits.v[KP_RES_MEMORY], 1000 * GI);
	assert_int_equal(np->limits.v[gpu], 8);
	assert_int_equal(np->limit_mask, (1u << KP_RES_CPU) | (1u << KP_RES_MEMORY) | (1u << gpu));
	assert_true(np->has_node_limit);
	assert_int_equal(np->node_limit, 20);
	assert_int_equal(np->status_resources.v[KP_RES_CPU], 12000);
	kp_cluster_free(&c);
}

static void test_nodepool_v1beta1(void **state)
{
	struct kp_cluster c;
	const struct kp_nodepool *np;

	(void)state;
	load_ok(&c,
		"apiVersion: karpenter.sh/v1beta1\n"
		"kind: NodePool\n"
		"metadata: {name: old}\n"
		"spec:\n"
		"  template:\n"
		"    spec:\n"
		"      nodeClassRef: {apiVersion: karpenter.k8s.aws/v1beta1, name: default}\n"
		"      kubelet: {maxPods: 58}\n"
		"      requirements:\n"
		"        - {key: beta.kubernetes.io/instance-type, operator: In, values: [m5.large]}\n"
		"  disruption:\n"
		"    expireAfter: 24h\n"
		"    budgets: [{nodes: \"5\", reasons: [Bogus]}]\n"
		"---\n"
		"apiVersion: karpenter.sh/v1beta1\n"
		"kind: NodePool\n"
		"metadata: {name: empty}\n"
		"spec:\n"
		"  template:\n"
		"    spec:\n"
		"      nodeClassRef: {name: default, kind: MyClass, apiVersion: example.com/v1}\n"
		"      requirements: []\n"
		"  disruption:\n"
		"    consolidationPolicy: WhenEmpty\n"
		"    consolidateAfter: 30s\n");
	assert_int_equal(c.npools, 2);
	np = c.pools[0];
	assert_string_equal(np->api_version, "karpenter.sh/v1beta1");
	assert_int_equal(np->policy, KP_CONSOLIDATE_WHEN_EMPTY_OR_UNDERUTILIZED);
	assert_int_equal(np->consolidate_after_ms, 0);
	assert_true(np->v1beta1_expiry);
	assert_int_equal(np->expire_after_ms, 24 * H_MS);
	assert_string_equal(np->node_class.group, "karpenter.k8s.aws");
	assert_string_equal(np->node_class.kind, "EC2NodeClass");
	assert_string_equal(np->node_class.name, "default");
	assert_int_equal(np->kubelet_max_pods, 58);
	assert_non_null(kp_reqs_get(&np->reqs, "node.kubernetes.io/instance-type"));
	assert_int_equal(np->nbudgets, 1);
	assert_int_equal(np->budgets[0].nodes, 5);
	assert_int_equal(np->budgets[0].reasons, 0);    /* v1beta1 has no reasons: ignored */
	np = c.pools[1];
	assert_int_equal(np->policy, KP_CONSOLIDATE_WHEN_EMPTY);
	assert_int_equal(np->consolidate_after_ms, 30000);
	assert_int_equal(np->expire_after_ms, 720 * H_MS);
	assert_true(np->v1beta1_expiry);
	assert_string_equal(np->node_class.group, "example.com");
	assert_string_equal(np->node_class.kind, "MyClass");
	kp_cluster_free(&c);

	load_bad("apiVersion: karpenter.sh/v1beta1\nkind: NodePool\nmetadata: {name: x}\n"
		 "spec:\n  template:\n    spec:\n      nodeClassRef: {name: d}\n      requirements: []\n"
		 "  disruption: {consolidationPolicy: WhenUnderutilized, consolidateAfter: 10m}\n",
		 "NodePool/x: spec.disruption.consolidateAfter: cannot be combined with consolidationPolicy "
		 "WhenUnderutilized");
	load_bad("apiVersion: karpenter.sh/v1beta1\nkind: NodePool\nmetadata: {name: x}\n"
		 "spec:\n  template:\n    spec:\n      nodeClassRef: {name: d}\n"
		 "      requirements: [{key: a, operator: Gte, values: [\"1\"]}]\n",
		 "spec.template.spec.requirements[0].operator: unknown operator \"Gte\"");
	load_bad("apiVersion: karpenter.sh/v1beta1\nkind: NodePool\nmetadata: {name: x}\n"
		 "spec:\n  template:\n    metadata: {labels: {k8s.io/x: y}}\n    spec:\n      nodeClassRef: {name: d}\n"
		 "      requirements: []\n",
		 "spec.template.metadata.labels[\"k8s.io/x\"]: label domain \"k8s.io\" is restricted");
}

static const char *pool_hash(const char *yaml)
{
	static char out[32];
	struct kp_cluster c;

	load_ok(&c, yaml);
	assert_int_equal(c.npools, 1);
	snprintf(out, sizeof(out), "%s", c.pools[0]->hash);
	kp_cluster_free(&c);
	return out;
}

static void test_nodepool_hash(void **state)
{
	const char *a =
		"apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p}\nspec:\n  template:\n"
		"    metadata: {labels: {a: \"1\", b: \"2\"}}\n"
		"    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n"
		"      taints: [{key: x, effect: NoSchedule}, {key: y, effect: NoExecute}]\n"
		"      requirements: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]\n";
	/* same template: key order, taint order, other requirements, explicit defaults */
	const char *same =
		"apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p}\nspec:\n  template:\n"
		"    spec:\n      nodeClassRef: {name: n, kind: K, group: g}\n"
		"      expireAfter: 720h\n"
		"      taints: [{key: y, effect: NoExecute}, {key: x, effect: NoSchedule}]\n"
		"      requirements: [{key: kubernetes.io/arch, operator: In, values: [arm64]}]\n"
		"    metadata: {labels: {b: \"2\", a: \"1\"}}\n"
		"  disruption: {consolidateAfter: 10m}\n";
	const char *label =
		"apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p}\nspec:\n  template:\n"
		"    metadata: {labels: {a: \"1\", b: \"3\"}}\n"
		"    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n"
		"      taints: [{key: x, effect: NoSchedule}, {key: y, effect: NoExecute}]\n"
		"      requirements: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]\n";
	const char *expire =
		"apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p}\nspec:\n  template:\n"
		"    metadata: {labels: {a: \"1\", b: \"2\"}}\n"
		"    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n      expireAfter: 24h\n"
		"      taints: [{key: x, effect: NoSchedule}, {key: y, effect: NoExecute}]\n"
		"      requirements: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]\n";
	char ha[32], hs[32], hl[32], he[32];

	(void)state;
	snprintf(ha, sizeof(ha), "%s", pool_hash(a));
	snprintf(hs, sizeof(hs), "%s", pool_hash(same));
	snprintf(hl, sizeof(hl), "%s", pool_hash(label));
	snprintf(he, sizeof(he), "%s", pool_hash(expire));
	assert_int_equal(strlen(ha), 16);
	assert_string_equal(ha, hs);
	assert_string_not_equal(ha, hl);
	assert_string_not_equal(ha, he);
	assert_string_not_equal(hl, he);
}

/* ---- pods and workloads ---- */

static const char *const DEPLOY =
	"apiVersion: apps/v1\n"
	"kind: Deployment\n"
	"metadata: {name: web, namespace: shop, creationTimestamp: \"2024-01-01T00:00:00Z\"}\n"
	"spec:\n"
	"  replicas: 3\n"
	"  template:\n"
	"    metadata:\n"
	"      labels: {app: web}\n"
	"      annotations: {controller.kubernetes.io/pod-deletion-cost: \"-5\"}\n"
	"    spec:\n"
	"      priority: 1000\n"
	"      priorityClassName: high\n"
	"      terminationGracePeriodSeconds: 90\n"
	"      nodeSelector: {failure-domain.beta.kubernetes.io/region: us-east-1}\n"
	"      containers:\n"
	"        - name: app\n"
	"          resources:\n"
	"            requests: {cpu: 0.5, memory: 512Mi, example.com/dongle: 1}\n"
	"            limits: {cpu: \"1\", memory: 1Gi}\n"
	"          ports:\n"
	"            - {containerPort: 80, hostPort: 8080}\n"
	"            - {containerPort: 53, hostPort: 53, protocol: UDP, hostIP: 10.0.0.1}\n"
	"            - {containerPort: 9090}\n"
	"      tolerations:\n"
	"        - {key: dedicated, operator: Equal, value: web, effect: NoSchedule}\n"
	"        - {operator: Exists}\n"
	"        - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 300}\n"
	"      affinity:\n"
	"        nodeAffinity:\n"
	"          requiredDuringSchedulingIgnoredDuringExecution:\n"
	"            nodeSelectorTerms:\n"
	"              - matchExpressions:\n"
	"                  - {key: kubernetes.io/arch, operator: In, values: [amd64]}\n"
	"                  - {key: example.com/gen, operator: Gt, values: [\"4\"]}\n"
	"              - matchExpressions:\n"
	"                  - {key: kubernetes.io/arch, operator: In, values: [arm64]}\n"
	"          preferredDuringSchedulingIgnoredDuringExecution:\n"
	"            - weight: 20\n"
	"              preference:\n"
	"                matchExpressions: [{key: karpenter.sh/capacity-type, operator: In, values: [spot]}]\n"
	"        podAffinity:\n"
	"          preferredDuringSchedulingIgnoredDuringExecution:\n"
	"            - weight: 40\n"
	"              podAffinityTerm:\n"
	"                labelSelector: {matchLabels: {app: cache}}\n"
	"                namespaces: [shop, infra]\n"
	"                topologyKey: topology.kubernetes.io/zone\n"
	"        podAntiAffinity:\n"
	"          requiredDuringSchedulingIgnoredDuringExecution:\n"
	"            - labelSelector:\n"
	"                matchExpressions: [{key: app, operator: In, values: [web]}]\n"
	"              namespaceSelector: {}\n"
	"              topologyKey: kubernetes.io/hostname\n"
	"              matchLabelKeys: [pod-template-hash]\n"
	"              mismatchLabelKeys: [tenant]\n"
	"      topologySpreadConstraints:\n"
	"        - maxSkew: 1\n"
	"          topologyKey: topology.kubernetes.io/zone\n"
	"          whenUnsatisfiable: ScheduleAnyway\n"
	"          labelSelector: {matchLabels: {app: web}}\n"
	"        - maxSkew: 2\n"
	"          minDomains: 3\n"
	"          topologyKey: kubernetes.io/hostname\n"
	"          whenUnsatisfiable: DoNotSchedule\n"
	"          nodeAffinityPolicy: Ignore\n"
	"          nodeTaintsPolicy: Honor\n"
	"          matchLabelKeys: [pod-template-hash]\n";

static void test_deployment(void **state)
{
	struct kp_cluster c;
	const struct kp_pod *p;
	const struct kp_req *r;

	(void)state;
	load_ok(&c, DEPLOY);
	assert_int_equal(c.npods, 3);
	assert_string_equal(c.pods[0]->name, "web-0");
	assert_string_equal(c.pods[2]->name, "web-2");
	p = c.pods[1];
	assert_string_equal(p->ns, "shop");
	assert_string_equal(p->owner_kind, "Deployment");
	assert_string_equal(p->owner_name, "web");
	assert_int_equal(p->created, 1704067200);
	assert_null(p->node_name);
	assert_true(kp_pod_is_pending(p));
	assert_string_equal(kp_labels_get(&p->labels, "app"), "web");
	assert_int_equal(p->deletion_cost, -5);
	assert_int_equal(p->priority, 1000);
	assert_string_equal(p->priority_class, "high");
	assert_int_equal(p->termination_grace_s, 90);
	assert_string_equal(kp_labels_get(&p->node_selector, "topology.kubernetes.io/region"), "us-east-1");
	assert_int_equal(p->requests.v[KP_RES_CPU], 500);
	assert_int_equal(p->requests.v[KP_RES_MEMORY], 512 * MI);
	assert_int_equal(p->requests.v[res_idx(&c, "example.com/dongle")], 1);
	assert_int_equal(p->limits.v[KP_RES_CPU], 1000);
	assert_int_equal(p->limits.v[KP_RES_MEMORY], GI);
	/* host ports: only ports with hostPort > 0 */
	assert_int_equal(p->host_ports.n, 2);
	assert_int_equal(p->host_ports.p[0].port, 8080);
	assert_string_equal(p->host_ports.p[0].ip, "0.0.0.0");
	assert_int_equal(p->host_ports.p[0].protocol, 0);
	assert_int_equal(p->host_ports.p[1].port, 53);
	assert_int_equal(p->host_ports.p[1].protocol, 1);
	assert_string_equal(p->host_ports.p[1].ip, "10.0.0.1");
	/* tolerations */
	assert_int_equal(p->tolerations.n, 3);
	assert_int_equal(p->tolerations.t[0].op, KP_TOL_EQUAL);
	assert_string_equal(p->tolerations.t[0].value, "web");
	assert_int_equal(p->tolerations.t[0].effect, KP_EFFECT_NOSCHEDULE);
	assert_int_equal(p->tolerations.t[1].op, KP_TOL_EXISTS);
	assert_int_equal(p->tolerations.t[1].effect, KP_EFFECT_ANY);
	assert_true(p->tolerations.t[2].has_seconds);
	assert_int_equal(p->tolerations.t[2].seconds, 300);
	/* node affinity: OR of ANDs */
	assert_int_equal(p->nrequired_terms, 2);
	assert_int_equal(p->required_terms[0].reqs.n, 2);
	r = req(&p->required_terms[0].reqs, "example.com/gen");
	assert_true(r->has_gte);
	assert_int_equal(r->gte, 5);
	assert_true(kp_req_has(req(&p->required_terms[1].reqs, "kubernetes.io/arch"), "arm64"));
	assert_int_equal(p->npreferred_terms, 1);
	assert_int_equal(p->preferred_terms[0].weight, 20);
	assert_true(kp_req_has(req(&p->preferred_terms[0].reqs, "karpenter.sh/capacity-type"), "spot"));
	/* pod affinity */
	assert_int_equal(p->naffinity, 0);
	assert_int_equal(p->npref_affinity, 1);
	assert_int_equal(p->pref_affinity[0].weight, 40);
	assert_int_equal(p->pref_affinity[0].nnamespaces, 2);
	assert_string_equal(p->pref_affinity[0].namespaces[1], "infra");
	assert_null(p->pref_affinity[0].ns_selector);
	assert_string_equal(kp_labels_get(&p->pref_affinity[0].selector->match_labels, "app"), "cache");
	assert_int_equal(p->nanti, 1);
	assert_string_equal(p->anti[0].topology_key, "kubernetes.io/hostname");
	assert_non_null(p->anti[0].ns_selector);           /* {} = all namespaces */
	assert_int_equal(p->anti[0].ns_selector->nexpr, 0);
	assert_int_equal(p->anti[0].selector->nexpr, 1);
	assert_int_equal(p->anti[0].selector->expr[0].op, KP_OP_IN);
	assert_int_equal(p->anti[0].nmatch_label_keys, 1);
	assert_string_equal(p->anti[0].mismatch_label_keys[0], "tenant");
	assert_int_equal(p->npref_anti, 0);
	/* topology spread */
	assert_int_equal(p->ntsc, 2);
	assert_int_equal(p->tsc[0].when_unsatisfiable, KP_SCHEDULE_ANYWAY);
	assert_int_equal(p->tsc[0].node_affinity_policy, KP_POLICY_HONOR);
	assert_int_equal(p->tsc[0].node_taints_policy, KP_POLICY_IGNORE);
	assert_int_equal(p->tsc[0].min_domains, 0);
	assert_int_equal(p->tsc[1].max_skew, 2);
	assert_int_equal(p->tsc[1].min_domains, 3);
	assert_int_equal(p->tsc[1].when_unsatisfiable, KP_DO_NOT_SCHEDULE);
	assert_int_equal(p->tsc[1].node_affinity_policy, KP_POLICY_IGNORE);
	assert_int_equal(p->tsc[1].node_taints_policy, KP_POLICY_HONOR);
	assert_string_equal(p->tsc[1].match_label_keys[0], "pod-template-hash");
	/* namespace "shop" is implicit */
	assert_int_equal(c.nnamespaces, 1);
	assert_string_equal(kp_labels_get(&c.namespaces[0]->labels, "kubernetes.io/metadata.name"), "shop");
	kp_cluster_free(&c);
}

static void test_sidecars_and_overhead(void **state)
{
	struct kp_cluster c;
	const struct kp_pod *p;

	(void)state;
	load_ok(&c,
		"apiVersion: v1\nkind: Pod\nmetadata: {name: side}\n"
		"spec:\n"
		"  initContainers:\n"
		"    - {name: proxy, restartPolicy: Always, resources: {requests: {cpu: 500m, memory: 64Mi}}}\n"
		"    - {name: migrate, resources: {requests: {cpu: \"2\", memory: 32Mi}}}\n"
		"  containers:\n"
		"    - {name: app, resources: {requests: {cpu: \"1\", memory: 128Mi}}}\n"
		"    - {name: log, resources: {limits: {cpu: 250m, memory: 16Mi}}}\n"
		"  overhead: {cpu: 100m, memory: 10Mi}\n");
	p = find_pod(&c, "side");
	assert_non_null(p);
	/* max(app 1 + log 0.25 + proxy 0.5, migrate 2 + proxy 0.5) + overhead 0.1 */
	assert_int_equal(p->requests.v[KP_RES_CPU], 2600);
	/* max(128+16+64, 32+64) + 10 */
	assert_int_equal(p->requests.v[KP_RES_MEMORY], 218 * MI);
	kp_cluster_free(&c);
}

static void test_runtime_class(void **state)
{
	struct kp_cluster c;

	(void)state;
	load_ok(&c,
		"apiVersion: v1\nkind: Pod\nmetadata: {name: early}\n"
		"spec: {runtimeClassName: kata, containers: [{name: a, resources: {requests: {cpu: 1}, limits: {cpu: 2}}}]}\n"
		"---\n"
		"apiVersion: v1\nkind: Pod\nmetadata: {name: own}\n"
		"spec: {runtimeClassName: kata, overhead: {cpu: 10m},\n"
		"       containers: [{name: a, resources: {requests: {cpu: 1}}}]}\n"
		"---\n"
		"apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: kata}\nhandler: kata\n"
		"overhead: {podFixed: {cpu: 250m, memory: 120Mi}}\n"
		"---\n"
		"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: kube-system}\n"
		"spec: {template: {spec: {runtimeClassName: kata, containers: [{name: a, resources: {requests: {cpu: 100m}}}]}}}\n"
		"---\n"
		"apiVersion: v1\nkind: Pod\nmetadata: {name: none}\n"
		"spec: {runtimeClassName: missing, containers: [{name: a, resources: {requests: {cpu: 1}}}]}\n");
	assert_int_equal(find_pod(&c, "early")->requests.v[KP_RES_CPU], 1250);
	assert_int_equal(find_pod(&c, "early")->requests.v[KP_RES_MEMORY], 120 * MI);
	assert_int_equal(find_pod(&c, "early")->limits.v[KP_RES_CPU], 2250);
	assert_int_equal(find_pod(&c, "early")->limits.v[KP_RES_MEMORY], 0);
	assert_int_equal(find_pod(&c, "own")->requests.v[KP_RES_CPU], 1010);
	assert_int_equal(find_pod(&c, "own")->requests.v[KP_RES_MEMORY], 0);
	assert_int_equal(find_pod(&c, "none")->requests.v[KP_RES_CPU], 1000);
	assert_int_equal(c.ndaemonsets, 1);
	assert_int_equal(c.daemonsets[0]->tmpl.requests.v[KP_RES_CPU], 350);
	kp_cluster_free(&c);
}

static void test_job_and_daemonset(void **state)
{
	struct kp_cluster c;
	const struct kp_daemonset *ds;

	(void)state;
	load_ok(&c,
		"apiVersion: batch/v1\nkind: Job\nmetadata: {name: batch}\n"
		"spec: {parallelism: 4, completions: 2, template: {spec: {containers: [{name: a}]}}}\n"
		"---\n"
		"apiVersion: batch/v1\nkind: Job\nmetadata: {name: one}\n"
		"spec: {template: {spec: {containers: [{name: a}]}}}\n"
		"---\n"
		"apiVersion: batch/v1\nkind: Job\nmetadata: {name: wide}\n"
		"spec: {parallelism: 3, template: {spec: {containers: [{name: a}]}}}\n"
		"---\n"
		"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: logs, namespace: kube-system}\n"
		"spec:\n  template:\n    metadata: {labels: {app: logs}}\n    spec:\n"
		"      tolerations: [{operator: Exists}]\n"
		"      containers: [{name: a, resources: {requests: {cpu: 200m, memory: 100Mi}}}]\n");
	assert_int_equal(c.npods, 2 + 1 + 3);
	assert_non_null(find_pod(&c, "batch-1"));
	assert_null(find_pod(&c, "batch-2"));
	assert_non_null(find_pod(&c, "one-0"));
	assert_non_null(find_pod(&c, "wide-2"));
	assert_string_equal(find_pod(&c, "wide-2")->owner_kind, "Job");
	assert_int_equal(c.ndaemonsets, 1);
	ds = c.daemonsets[0];
	assert_string_equal(ds->name, "logs");
	assert_string_equal(ds->ns, "kube-system");
	assert_true(ds->tmpl.is_daemon);
	assert_string_equal(ds->tmpl.owner_kind, "DaemonSet");
	assert_int_equal(ds->tmpl.requests.v[KP_RES_CPU], 200);
	assert_int_equal(ds->tmpl.tolerations.n, 1);
	assert_string_equal(kp_labels_get(&ds->tmpl.labels, "app"), "logs");
	assert_int_equal(c.nnamespaces, 2);   /* default, kube-system: sorted */
	assert_string_equal(c.namespaces[0]->name, "default");
	assert_string_equal(c.namespaces[1]->name, "kube-system");
	kp_cluster_free(&c);
}

static void test_nodes_and_bound_pods(void **state)
{
	struct kp_cluster c;
	const struct kp_node *n;
	const struct kp_pod *p;

	(void)state;
	load_ok(&c,
		"apiVersion: v1\nkind: Node\n"
		"metadata:\n  name: n1\n  creationTimestamp: \"2024-01-01T00:00:00Z\"\n"
		"  labels: {beta.kubernetes.io/arch: arm64, karpenter.sh/nodepool: default, node.kubernetes.io/instance-type: m6g.large}\n"
		"spec:\n  providerID: aws:///us-east-1a/i-123\n  unschedulable: true\n"
		"  taints: [{key: karpenter.sh/disrupted, effect: NoSchedule, timeAdded: \"2024-01-01T00:00:00Z\"}]\n"
		"status:\n  capacity: {cpu: \"2\", memory: 8Gi, pods: \"29\", hugepages-2Mi: \"0\"}\n"
		"  conditions: [{type: MemoryPressure, status: \"False\"}, {type: Ready, status: \"False\"}]\n"
		"---\n"
		"apiVersion: v1\nkind: Node\nmetadata: {name: n2}\n"
		"status: {capacity: {cpu: \"4\"}, allocatable: {cpu: 3920m}}\n"
		"---\n"
		"apiVersion: v1\nkind: Pod\n"
		"metadata:\n  name: bound\n  namespace: apps\n  uid: u-1\n"
		"  deletionTimestamp: \"2024-01-01T01:00:00Z\"\n"
		"  ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, uid: x, controller: true}]\n"
		"spec: {nodeName: n1, containers: [{name: a, resources: {requests: {cpu: 1}}}]}\n"
		"status: {phase: Running}\n"
		"---\n"
		"apiVersion: v1\nkind: Pod\n"
		"metadata:\n  name: ds-pod\n  annotations: {kubernetes.io/config.mirror: abc}\n"
		"  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: logs, uid: y}]\n"
		"spec: {nodeName: n2, containers: [{name: a}]}\n");
	assert_int_equal(c.nnodes, 2);
	n = c.nodes[0];
	assert_string_equal(n->name, "n1");
	assert_int_equal(n->created, 1704067200);
	assert_string_equal(kp_labels_get(&n->labels, "kubernetes.io/arch"), "arm64");
	assert_string_equal(n->provider_id, "aws:///us-east-1a/i-123");
	assert_true(n->unschedulable);
	assert_false(n->ready);
	assert_int_equal(n->taints.n, 2);   /* cordoned: the unschedulable taint is added */
	assert_string_equal(n->taints.t[1].key, KP_TAINT_UNSCHEDULABLE);
	assert_int_equal(n->taints.t[1].effect, KP_EFFECT_NOSCHEDULE);
	assert_int_equal(n->capacity.v[KP_RES_CPU], 2000);
	assert_int_equal(n->capacity.v[KP_RES_PODS], 29);
	assert_int_equal(n->allocatable.v[KP_RES_MEMORY], 8 * GI);   /* defaults to capacity */
	n = c.nodes[1];
	assert_true(n->ready);                                      /* no Ready condition */
	assert_int_equal(n->created, NOW);
	assert_int_equal(n->allocatable.v[KP_RES_CPU], 3920);
	p = find_pod(&c, "bound");
	assert_string_equal(p->node_name, "n1");
	assert_string_equal(p->uid, "u-1");
	assert_string_equal(p->phase, "Running");
	assert_int_equal(p->deleting, 1704070800);
	assert_string_equal(p->owner_kind, "StatefulSet");
	assert_false(p->is_daemon);
	assert_false(kp_pod_is_pending(p));
	p = find_pod(&c, "ds-pod");
	assert_true(p->is_daemon);
	assert_true(p->is_mirror);
	assert_string_equal(p->owner_name, "logs");
	kp_cluster_free(&c);
}

static void test_nodeclaims(void **state)
{
	struct kp_cluster c;
	const struct kp_nodeclaim *nc;

	(void)state;
	load_ok(&c,
		"apiVersion: karpenter.sh/v1\nkind: NodeClaim\n"
		"metadata:\n  name: default-abc\n  labels: {karpenter.sh/nodepool: default}\n"
		"spec:\n  expireAfter: 48h\n"
		"  nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}\n"
		"  requirements:\n"
		"    - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large, m5.xlarge]}\n"
		"    - {key: karpenter.sh/nodepool, operator: In, values: [default]}\n"
		"  resources: {requests: {cpu: 1500m, pods: \"3\"}}\n"
		"  startupTaints: [{key: example.com/boot, effect: NoSchedule}]\n"
		"status:\n  nodeName: ip-10-0-0-1\n  providerID: aws:///us-east-1a/i-1\n"
		"  capacity: {cpu: \"2\"}\n  allocatable: {cpu: 1930m}\n"
		"  lastPodEventTime: \"2024-01-01T00:00:10Z\"\n"
		"  conditions:\n"
		"    - {type: Launched, status: \"True\"}\n"
		"    - {type: Registered, status: \"True\"}\n"
		"    - {type: Initialized, status: \"False\"}\n"
		"---\n"
		"apiVersion: karpenter.sh/v1beta1\nkind: NodeClaim\n"
		"metadata: {name: old-1, labels: {karpenter.sh/nodepool: old}}\n"
		"spec: {nodeClassRef: {name: default}, requirements: []}\n"
		"---\n"
		"apiVersion: karpenter.sh/v1beta1\nkind: NodePool\nmetadata: {name: old}\n"
		"spec: {template: {spec: {nodeClassRef: {name: d}, requirements: []}}, disruption: {expireAfter: 2h}}\n");
	assert_int_equal(c.nclaims, 2);
	nc = c.claims[0];
	assert_string_equal(nc->nodepool, "default");
	assert_int_equal(nc->expire_after_ms, 48 * H_MS);
	assert_int_equal(req(&nc->reqs, "node.kubernetes.io/instance-type")->n, 2);
	assert_int_equal(nc->requests.v[KP_RES_CPU], 1500);
	assert_int_equal(nc->requests.v[KP_RES_PODS], 3);
	assert_int_equal(nc->startup_taints.n, 1);
	assert_string_equal(nc->node_name, "ip-10-0-0-1");
	assert_string_equal(nc->provider_id, "aws:///us-east-1a/i-1");
	assert_int_equal(nc->allocatable.v[KP_RES_CPU], 1930);
	assert_int_equal(nc->last_pod_event, 1704067210);
	assert_true(nc->launched);
	assert_true(nc->registered);
	assert_false(nc->initialized);
	/* v1beta1 claims take expireAfter from their pool, like the conversion webhook */
	assert_int_equal(c.claims[1]->expire_after_ms, 2 * H_MS);
	kp_cluster_free(&c);
}

static void test_pdbs_and_namespaces(void **state)
{
	struct kp_cluster c;

	(void)state;
	load_ok(&c,
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: team, labels: {env: prod}}\n"
		"---\n"
		"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: a, namespace: team}\n"
		"spec: {maxUnavailable: 1, selector: {matchLabels: {app: a}}}\n"
		"status: {disruptionsAllowed: 0}\n"
		"---\n"
		"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: all}\n"
		"spec: {minAvailable: \"50%\", selector: {}}\n"
		"---\n"
		"apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: old, namespace: zeta}\n"
		"spec: {minAvailable: 2, selector: {}}\n"
		"---\n"
		"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: nosel, namespace: alpha}\n"
		"spec: {maxUnavailable: \"100%\"}\n");
	assert_int_equal(c.npdbs, 4);
	assert_true(c.pdbs[0]->has_max_unavailable);
	assert_false(c.pdbs[0]->max_percent);
	assert_int_equal(c.pdbs[0]->max_unavailable, 1);
	assert_true(c.pdbs[0]->has_status);
	assert_int_equal(c.pdbs[0]->disruptions_allowed, 0);
	assert_string_equal(kp_labels_get(&c.pdbs[0]->selector->match_labels, "app"), "a");
	assert_true(c.pdbs[1]->min_percent);
	assert_int_equal(c.pdbs[1]->min_available, 50);
	assert_non_null(c.pdbs[1]->selector);          /* policy/v1: {} selects all */
	assert_false(c.pdbs[1]->has_status);
	assert_null(c.pdbs[2]->selector);              /* policy/v1beta1: {} selects none */
	assert_null(c.pdbs[3]->selector);
	assert_int_equal(c.pdbs[3]->max_unavailable, 100);
	/* declared first, then implicit ones sorted */
	assert_int_equal(c.nnamespaces, 4);
	assert_string_equal(c.namespaces[0]->name, "team");
	assert_string_equal(kp_labels_get(&c.namespaces[0]->labels, "env"), "prod");
	assert_string_equal(kp_labels_get(&c.namespaces[0]->labels, "kubernetes.io/metadata.name"), "team");
	assert_string_equal(c.namespaces[1]->name, "alpha");
	assert_string_equal(c.namespaces[2]->name, "default");
	assert_string_equal(c.namespaces[3]->name, "zeta");
	assert_non_null(kp_cluster_namespace(&c, "zeta"));
	kp_cluster_free(&c);
}

static void test_nodeclass(void **state)
{
	struct kp_cluster c;

	(void)state;
	load_ok(&c,
		"apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: a}\n"
		"spec:\n  amiSelectorTerms: [{alias: al2023@latest}]\n"
		"  kubelet: {maxPods: 110, podsPerCore: 4, kubeReserved: {cpu: 100m}}\n"
		"  someFutureField: {x: [1, 2]}\n"
		"---\n"
		"apiVersion: karpenter.k8s.aws/v1beta1\nkind: EC2NodeClass\nmetadata: {name: b}\n"
		"spec: {amiFamily: Ubuntu, role: r}\n");
	assert_int_equal(c.nnodeclasses, 2);
	assert_string_equal(c.nodeclasses[0]->ami_family, "AL2023");
	assert_string_equal(c.nodeclasses[0]->api_version, "karpenter.k8s.aws/v1");
	assert_int_equal(c.nodeclasses[0]->kubelet_max_pods, 110);
	assert_int_equal(c.nodeclasses[0]->pods_per_core, 4);
	assert_string_equal(c.nodeclasses[1]->ami_family, "Ubuntu");
	kp_cluster_free(&c);

	load_bad("apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: a}\n"
		 "spec: {amiSelectorTerms: [{id: ami-123}]}\n",
		 "EC2NodeClass/a: spec.amiFamily: required when amiSelectorTerms has no alias");
	load_bad("apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: a}\n"
		 "spec: {amiFamily: AL2, amiSelectorTerms: [{alias: bottlerocket@latest}]}\n",
		 "spec.amiFamily: must be Bottlerocket or Custom");
	load_bad("apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: a}\n"
		 "spec: {amiSelectorTerms: [{alias: al2023@latest}], kubelet: {maxPods: \"110\"}}\n",
		 "spec.kubelet.maxPods: expected an integer, got a string \"110\"");
	load_bad("apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: a}\n"
		 "spec: {amiSelectorTerms: [{alias: windows2022@v1}]}\n",
		 "windows families may only use version \"latest\"");
}

/* subnetSelectorTerms (ids, tags), volume terms (all ORed), and a
 * StatefulSet's volumeClaimTemplates as per-pod claims. */
static void test_terms_and_claim_templates(void **state)
{
	struct kp_cluster c;
	const struct kp_pod *p;

	(void)state;
	load_ok(&c,
		"apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: a}\n"
		"spec:\n  amiSelectorTerms: [{alias: al2023@latest}]\n"
		"  subnetSelectorTerms: [{id: subnet-x}, {tags: {k: v, Name: '*'}}]\n"
		"---\n"
		"apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: two}\nprovisioner: p\n"
		"allowedTopologies:\n- matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [z1]}]\n"
		"- matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [z2, z3]}]\n"
		"---\n"
		"apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: open}\nprovisioner: p\n"
		"allowedTopologies:\n- matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [z1]}]\n"
		"- {}\n"
		"---\n"
		"apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: pv}\n"
		"spec:\n  local: {path: /d}\n  nodeAffinity:\n    required:\n      nodeSelectorTerms:\n"
		"      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [n1]},"
		" {key: topology.kubernetes.io/zone, operator: In, values: [z1]}]\n"
		"      - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [z2]}]\n"
		"---\n"
		"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: ns}\n"
		"spec:\n  replicas: 2\n  selector: {matchLabels: {app: db}}\n"
		"  template:\n    metadata: {labels: {app: db}}\n"
		"    spec:\n      containers: [{name: c, image: i}]\n"
		"      volumes: [{name: own, persistentVolumeClaim: {claimName: shared}}]\n"
		"  volumeClaimTemplates:\n  - metadata: {name: data}\n    spec: {storageClassName: two}\n"
		"  - metadata: {name: logs}\n");
	assert_int_equal(c.nnodeclasses, 1);
	assert_int_equal(c.nodeclasses[0]->nsubnet_terms, 2);
	assert_string_equal(c.nodeclasses[0]->subnet_terms[0].id, "subnet-x");
	assert_int_equal(c.nodeclasses[0]->subnet_terms[1].tags.n, 2);
	assert_string_equal(kp_labels_get(&c.nodeclasses[0]->subnet_terms[1].tags, "Name"), "*");
	assert_int_equal(kp_cluster_storageclass(&c, "two")->nterms, 2);
	assert_true(kp_cluster_storageclass(&c, "two")->has_topology);
	assert_int_equal(kp_cluster_storageclass(&c, "two")->terms[1].r[0].n, 2);
	assert_int_equal(kp_cluster_storageclass(&c, "open")->nterms, 0);   /* an empty term allows all */
	assert_false(kp_cluster_storageclass(&c, "open")->has_topology);
	assert_int_equal(kp_cluster_pv(&c, "pv")->nterms, 2);
	assert_int_equal(kp_cluster_pv(&c, "pv")->terms[0].n, 1);             /* local: hostname dropped */
	assert_string_equal(kp_cluster_pv(&c, "pv")->terms[1].r[0].values[0], "z2");
	p = find_pod(&c, "db-1");
	assert_non_null(p);
	assert_int_equal(p->nvolumes, 3);
	assert_string_equal(p->volumes[0].claim, "shared");
	assert_false(p->volumes[0].claim_template);
	assert_string_equal(p->volumes[1].claim, "data-db-1");
	assert_true(p->volumes[1].claim_template);
	assert_string_equal(p->volumes[1].template_sc, "two");
	assert_string_equal(p->volumes[2].claim, "logs-db-1");
	assert_null(p->volumes[2].template_sc);
	assert_string_equal(find_pod(&c, "db-0")->volumes[1].claim, "data-db-0");
	kp_cluster_free(&c);

	load_bad("apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: a}\n"
		 "spec: {amiSelectorTerms: [{alias: al2023@latest}], subnetSelectorTerms: [{id: s, tags: {a: b}}]}\n",
		 "spec.subnetSelectorTerms[0]: id is exclusive");
	load_bad("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\n"
		 "spec:\n  template: {spec: {containers: [{name: c, image: i}]}}\n"
		 "  volumeClaimTemplates: [{spec: {storageClassName: x}}]\n",
		 "spec.volumeClaimTemplates[0]: metadata.name: required field is missing");
}

/* ---- documents, lists, YAML and JSON ---- */

static void test_lists_and_json(void **state)
{
	struct kp_cluster c;
	const char *json =
		"{\"apiVersion\": \"v1\", \"kind\": \"PodList\", \"items\": [\n"
		"  {\"metadata\": {\"name\": \"j1\"}, \"spec\": {\"containers\": [{\"name\": \"a\",\n"
		"     \"resources\": {\"requests\": {\"cpu\": 0.1, \"memory\": 1073741824}}}]}}]}\n"
		"{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"j2\"},\n"
		" \"spec\": {\"containers\": [{\"name\": \"a\"}]}}\n";
	struct kp_errbuf eb = { 0 };
	struct kp_load_opts o = { NULL, NOW };

	(void)state;
	load_ok(&c,
		"apiVersion: v1\nkind: List\nitems:\n"
		"  - apiVersion: v1\n    kind: Pod\n    metadata: {name: l1}\n    spec: {containers: [{name: a}]}\n"
		"  - apiVersion: v1\n    kind: Service\n    metadata: {name: svc}\n"
		"  - null\n"
		"---\n"
		"apiVersion: v1\nkind: List\nitems: []\n");
	assert_int_equal(c.npods, 1);
	assert_string_equal(c.pods[0]->name, "l1");
	kp_cluster_free(&c);

	kp_cluster_init(&c);
	assert_int_equal(kp_load_buffer(&c, "x.json", json, strlen(json), &o, &eb), KP_OK);
	assert_int_equal(c.npods, 2);
	kp_cluster_free(&c);
	/* with a byte order mark */
	kp_cluster_init(&c);
	{
		char bom[1024];
		snprintf(bom, sizeof(bom), "\xEF\xBB\xBF%s", json);
		assert_int_equal(kp_load_buffer(&c, "bom.json", bom, strlen(bom), &o, &eb), KP_OK);
	}
	assert_int_equal(c.npods, 2);
	assert_int_equal(find_pod(&c, "j1")->requests.v[KP_RES_CPU], 100);
	assert_int_equal(find_pod(&c, "j1")->requests.v[KP_RES_MEMORY], GI);
	kp_cluster_free(&c);
}

static void test_yaml_features(void **state)
{
	struct kp_cluster c;
	const struct kp_pod *p;

	(void)state;
	/* anchors, aliases, merge keys; unquoted numbers and booleans in string positions */
	load_ok(&c,
		"apiVersion: v1\nkind: Pod\nmetadata:\n  name: yaml\n  labels: &l {app: web, tier: \"1\"}\n"
		"spec:\n"
		"  nodeSelector:\n    <<: *l\n    tier: 2\n    enabled: yes\n"
		"  containers:\n    - &c {name: a, resources: {requests: {cpu: 1_000, memory: 0x100000}}}\n"
		"  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n"
		"        nodeSelectorTerms:\n          - matchExpressions:\n"
		"              - {key: example.com/n, operator: In, values: [1, 2.5, true]}\n"
		"---\n"
		"--- !!map\n"
		"apiVersion: v1\nkind: Pod\nmetadata: {name: !!str yaml2}\nspec: {containers: [{name: a}]}\n"
		"...\n");
	p = find_pod(&c, "yaml");
	assert_non_null(p);
	assert_string_equal(kp_labels_get(&p->node_selector, "app"), "web");
	assert_string_equal(kp_labels_get(&p->node_selector, "tier"), "2");   /* explicit key wins */
	assert_string_equal(kp_labels_get(&p->node_selector, "enabled"), "yes");   /* as written */
	assert_int_equal(p->requests.v[KP_RES_CPU], 1000000);    /* 1_000 cores */
	assert_int_equal(p->requests.v[KP_RES_MEMORY], 1048576);
	assert_true(kp_req_has(req(&p->required_terms[0].reqs, "example.com/n"), "2.5"));
	assert_true(kp_req_has(req(&p->required_terms[0].reqs, "example.com/n"), "true"));
	assert_non_null(find_pod(&c, "yaml2"));
	kp_cluster_free(&c);
}

static void test_empty_inputs(void **state)
{
	static const char *const empties[] = {
		"", "\n\n", "# only a comment\n", "---\n---\n", "---\nnull\n---\n~\n...\n", "\xEF\xBB\xBF",
	};
	char tmpl[] = "/tmp/kp-load-empty-XXXXXX", *dir;
	const char *paths[1];
	struct kp_load_opts o = { NULL, NOW };
	struct kp_errbuf eb = { 0 };
	struct kp_cluster c;
	char txt[1024];
	FILE *f;

	(void)state;
	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		load_ok(&c, empties[i]);
		assert_int_equal(c.npods + c.npools + c.nnodes + c.nnamespaces, 0);
		kp_cluster_free(&c);
	}
	/* a directory with no manifests: not an error, a warning */
	dir = mkdtemp(tmpl);
	assert_non_null(dir);
	snprintf(txt, sizeof(txt), "%s/README.txt", dir);
	f = fopen(txt, "w");
	assert_non_null(f);
	fputs("apiVersion: v1\nkind: Pod\n", f);
	fclose(f);
	paths[0] = dir;
	kp_cluster_init(&c);
	assert_int_equal(kp_load_paths(&c, paths, 1, &o, &eb), KP_OK);
	assert_int_equal(c.npods, 0);
	kp_cluster_free(&c);
	unlink(txt);
	rmdir(dir);
}

static void test_directory_order(void **state)
{
	char tmpl[] = "/tmp/kp-load-dir-XXXXXX", *dir, p1[512], p2[512], p3[512], sub[512];
	const char *paths[1];
	struct kp_load_opts o = { NULL, NOW };
	struct kp_errbuf eb = { 0 };
	struct kp_cluster c;
	FILE *f;

	(void)state;
	dir = mkdtemp(tmpl);
	assert_non_null(dir);
	snprintf(p1, sizeof(p1), "%s/b.yml", dir);
	snprintf(p2, sizeof(p2), "%s/a.json", dir);
	snprintf(p3, sizeof(p3), "%s/c.txt", dir);
	snprintf(sub, sizeof(sub), "%s/sub.yaml", dir);   /* a directory: not read */
	assert_int_equal(mkdir(sub, 0700), 0);
	f = fopen(p1, "w");
	fputs("apiVersion: v1\nkind: Pod\nmetadata: {name: from-b}\nspec: {containers: [{name: a}]}\n", f);
	fclose(f);
	f = fopen(p2, "w");
	fputs("{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"from-a\"},"
	      " \"spec\": {\"containers\": [{\"name\": \"a\"}]}}", f);
	fclose(f);
	f = fopen(p3, "w");
	fputs("not yaml: [", f);
	fclose(f);
	paths[0] = dir;
	kp_cluster_init(&c);
	assert_int_equal(kp_load_paths(&c, paths, 1, &o, &eb), KP_OK);
	assert_int_equal(c.npods, 2);
	assert_string_equal(c.pods[0]->name, "from-a");
	assert_string_equal(c.pods[1]->name, "from-b");
	kp_cluster_free(&c);
	unlink(p1);
	unlink(p2);
	unlink(p3);
	rmdir(sub);
	rmdir(dir);
}

static void test_warnings(void **state)
{
	const char *yaml =
		"apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\n"
		"apiVersion: v1\nkind: ConfigMap\n---\n"
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {nodeName: ghost, containers: [{name: a}]}\n";
	struct kp_load_opts o = { NULL, NOW };
	struct kp_errbuf eb = { 0 };
	struct kp_cluster c;
	char *buf = NULL;
	size_t len = 0;

	(void)state;
	o.warn = open_memstream(&buf, &len);
	assert_non_null(o.warn);
	kp_cluster_init(&c);
	assert_int_equal(kp_load_buffer(&c, "w.yaml", yaml, strlen(yaml), &o, &eb), KP_OK);
	fclose(o.warn);
	assert_non_null(strstr(buf, "warning: w.yaml: skipping Service/web (kind not used by simulate)\n"));
	assert_non_null(strstr(buf, "warning: w.yaml: skipping ConfigMap (kind not used by simulate)\n"));
	assert_non_null(strstr(buf, "spec.nodeName \"ghost\" names no Node"));
	assert_int_equal(c.npods, 1);
	free(buf);
	kp_cluster_free(&c);
}

/* ---- errors ---- */

static void test_errors(void **state)
{
	static const struct { const char *yaml, *want; } cases[] = {
		{ "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: default}\nspec:\n  template:\n"
		  "    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n      requirements:\n"
		  "        - {key: a, operator: In, values: [x]}\n        - {key: b, operator: Inn, values: [y]}\n",
		  "t.yaml: NodePool/default: spec.template.spec.requirements[1].operator: unknown operator \"Inn\"" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\n"
		  "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}}}\n",
		  "nodeSelectorTerms: at least one node selector term is required" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\n"
		  "  affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 0, preference: {}}]}}\n",
		  "preferredDuringSchedulingIgnoredDuringExecution[0].weight: must be greater than zero, got 0" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n",
		  "Pod/p: spec.containers: a pod needs at least one container" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", "Pod/p: spec: required field is missing" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {controller.kubernetes.io/pod-deletion-cost: lots}}\n"
		  "spec: {containers: [{name: a}]}\n",
		  "metadata.annotations[\"controller.kubernetes.io/pod-deletion-cost\"]: must be a 32-bit integer" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a}]}\n---\n"
		  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: p}\n"
		  "spec: {replicas: 1, template: {spec: {containers: [{name: a}]}}}\n---\n"
		  "apiVersion: v1\nkind: Pod\nmetadata: {name: p-0}\nspec: {containers: [{name: a}]}\n",
		  "Pod/p-0: duplicate Pod \"default/p-0\"" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a}], tolerations: [{value: x}]}\n",
		  "spec.tolerations[0].operator: operator must be Exists when key is empty" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
		  "spec: {containers: [{name: a}], tolerations: [{key: k, effect: NoSchedule, tolerationSeconds: 5}]}\n",
		  "spec.tolerations[0].tolerationSeconds: only allowed with effect NoExecute" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\n"
		  "  topologySpreadConstraints:\n"
		  "    - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: ScheduleAnyway, minDomains: 2}\n",
		  "topologySpreadConstraints[0].minDomains: only allowed with whenUnsatisfiable DoNotSchedule" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\n"
		  "  topologySpreadConstraints:\n"
		  "    - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}\n"
		  "    - {maxSkew: 2, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}\n",
		  "topologySpreadConstraints[1]: duplicate topologyKey and whenUnsatisfiable" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\n"
		  "  topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule,"
		  " nodeTaintsPolicy: Maybe}]\n",
		  "nodeTaintsPolicy: unknown nodeTaintsPolicy \"Maybe\": want Honor or Ignore" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\n"
		  "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms:\n"
		  "    [{matchExpressions: [{key: a, operator: Exists, values: [x]}]}]}}}\n",
		  "matchExpressions[0].values: operator Exists takes no values" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\n"
		  "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms:\n"
		  "    [{matchExpressions: [{key: a, operator: Lt, values: [\"1\", \"2\"]}]}]}}}\n",
		  "matchExpressions[0].values: operator Lt needs exactly one integer value" },
		{ "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p}\nspec:\n  template:\n"
		  "    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n      requirements:\n"
		  "        - {key: kubernetes.io/hostname, operator: In, values: [x]}\n",
		  "requirements[0].key: label \"kubernetes.io/hostname\" is restricted" },
		{ "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p}\nspec:\n  template:\n"
		  "    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n      requirements:\n"
		  "        - {key: karpenter.sh/capacity-type, operator: In, values: [cheap]}\n",
		  "requirements[0].values: no valid capacity type" },
		{ "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p}\nspec:\n  template:\n"
		  "    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n      requirements:\n"
		  "        - {key: a, operator: In, values: [x], minValues: 2}\n",
		  "requirements[0].values: minValues is 2 but only 1 values are given" },
		{ "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p}\nspec:\n  template:\n"
		  "    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n      requirements: []\n"
		  "      taints: [{key: a, effect: NoSchedule}]\n      startupTaints: [{key: a, effect: NoSchedule}]\n",
		  "spec.template.spec.startupTaints[0]: duplicate taint a:NoSchedule" },
		{ "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p}\nspec:\n  template:\n"
		  "    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n      requirements: []\n"
		  "  disruption: {budgets: [{nodes: \"1\", schedule: \"*/0 * * * *\", duration: 1h}]}\n",
		  "budgets[0].schedule: invalid cron schedule \"*/0 * * * *\": minute: bad step" },
		{ "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p}\nspec:\n  template:\n"
		  "    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n      requirements: []\n"
		  "  disruption: {budgets: [{nodes: \"1\", schedule: \"@every 1h\", duration: 1h}]}\n",
		  "invalid cron schedule \"@every 1h\": @every is not allowed" },
		{ "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p}\nspec:\n  template:\n"
		  "    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n      requirements: []\n"
		  "  disruption: {budgets: [{nodes: \"1\", schedule: \"TZ=UTC 0 9 * * *\", duration: 1h}]}\n",
		  "time zones are not supported" },
		{ "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p}\nspec:\n  template:\n"
		  "    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n      requirements: []\n"
		  "  disruption: {budgets: [{nodes: \"1\", schedule: \"@daily\", duration: 30s}]}\n",
		  "budgets[0].duration: invalid duration \"30s\"" },
		{ "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: p}\nspec:\n  template:\n"
		  "    spec:\n      nodeClassRef: {group: g, kind: K, name: n}\n      requirements: []\n"
		  "  disruption: {budgets: [{nodes: \"1\", reasons: [Expired]}]}\n",
		  "budgets[0].reasons[0]: unknown reason \"Expired\"" },
		{ "apiVersion: karpenter.sh/v2\nkind: NodePool\nmetadata: {name: p}\n",
		  "NodePool/p: apiVersion: unsupported apiVersion \"karpenter.sh/v2\" for NodePool" },
		{ "kind: Pod\nmetadata: {name: p}\n", "Pod/p: apiVersion: required field is missing" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: [a]\n", "Pod: metadata: expected a mapping, got a list" },
		{ "apiVersion: v1\nkind: [Pod]\n", "t.yaml:1: document 1: kind: expected a string, got a list" },
		{ "just a string\n", "t.yaml:1: document 1: expected a Kubernetes object (a mapping), got a string" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, resources: {requests: {\"bad name!\": 1}}}]}\n",
		  "requests[\"bad name!\"]: invalid resource name" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {\"-bad\": x}}\nspec: {containers: [{name: a}]}\n",
		  "metadata.labels[\"-bad\"]: invalid label key" },
		{ "apiVersion: v1\nkind: Pod\nmetadata: {name: p, creationTimestamp: yesterday}\nspec: {containers: [{name: a}]}\n",
		  "metadata.creationTimestamp: invalid time \"yesterday\"" },
		{ "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nspec: {unschedulable: \"true\"}\n",
		  "Node/n: spec.unschedulable: expected a boolean, got a string \"true\"" },
		{ "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus: {capacity: {cpu: -1}}\n",
		  "status.capacity.cpu: quantity \"-1\" must not be negative" },
		{ "a: [1, 2\n", "t.yaml:2:1: yaml: did not find expected ',' or ']'" },
		{ "a: 'unterminated\n", "t.yaml:2:1: yaml: found unexpected end of stream" },
		{ "? [complex]\n: key\n", "yaml: mapping keys must be scalars" },
		{ "a: {x: 1}\nb:\n  <<: 5\n", "yaml: merge key \"<<\" needs a mapping or a list of mappings" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		load_bad(cases[i].yaml, cases[i].want);
	load_bad("{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"kind\": \"Node\"}", "t.yaml:1:");
	load_bad("{\"kind\": \"List\", \"items\": []} [", "t.yaml:1:31: json: ");
}

static void test_limits(void **state)
{
	struct kp_buf b;
	struct kp_cluster c;
	struct kp_errbuf eb = { 0 };
	struct kp_load_opts o = { NULL, NOW };
	char *s;

	(void)state;
	/* nesting: YAML and JSON */
	kp_buf_init(&b, 1 << 20);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(kp_buf_addstr(&b, "["), KP_OK);
	s = kp_buf_take(&b);
	load_bad(s, "yaml: nesting deeper than 128 levels");
	free(s);
	kp_buf_init(&b, 1 << 20);
	assert_int_equal(kp_buf_addstr(&b, "{\"a\": "), KP_OK);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(kp_buf_addstr(&b, "{\"a\": "), KP_OK);
	assert_int_equal(kp_buf_addstr(&b, "1"), KP_OK);
	for (int i = 0; i < 1001; i++)
		assert_int_equal(kp_buf_addstr(&b, "}"), KP_OK);
	s = kp_buf_take(&b);
	load_bad(s, "nesting deeper than 128 levels");
	free(s);
	/* alias expansion bomb */
	load_bad("a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
		 "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
		 "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
		 "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
		 "yaml: document too large");
	/* size cap: checked before parsing */
	kp_cluster_init(&c);
	assert_int_equal(kp_load_buffer(&c, "big.yaml", "", (size_t)64 * 1024 * 1024 + 1, &o, &eb), KP_ERR_LIMIT);
	assert_non_null(strstr(eb.msg, "big.yaml: input larger than 64 MiB"));
	kp_cluster_free(&c);
	/* replicas cap */
	load_bad("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
		 "spec: {replicas: 2000000000, template: {spec: {containers: [{name: a}]}}}\n",
		 "spec.replicas: must be between 0 and 100000");
	/* nonexistent path */
	{
		const char *paths[1] = { "/nonexistent/kp-load.yaml" };
		kp_cluster_init(&c);
		assert_int_equal(kp_load_paths(&c, paths, 1, &o, &eb), KP_ERR_IO);
		assert_non_null(strstr(eb.msg, "/nonexistent/kp-load.yaml: No such file"));
		kp_cluster_free(&c);
	}
}

/* Empty containers (issue 13): `[]` as the first value crashed (the value
 * stack was still NULL), an empty sequence opened just as the 256-slot value
 * stack was full read past its end, `{}` did NULL + 0. */
static void test_empty_containers(void **state)
{
	struct kp_buf b;
	struct kp_cluster c;
	char *s;

	(void)state;
	load_bad("[]\n", "expected a Kubernetes object (a mapping), got a list");
	load_bad("{}\n", "kind: required field is missing");
	load_bad("[[], {}, [[]]]\n", "expected a Kubernetes object (a mapping), got a list");
	kp_buf_init(&b, 1 << 20);
	assert_int_equal(kp_buf_addstr(&b, "["), KP_OK);
	for (int i = 0; i < 256; i++)
		assert_int_equal(kp_buf_addstr(&b, "1,"), KP_OK);
	assert_int_equal(kp_buf_addstr(&b, "[]]\n"), KP_OK);
	s = kp_buf_take(&b);
	load_bad(s, "expected a Kubernetes object (a mapping), got a list");
	free(s);
	load_ok(&c, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {}, annotations: {}}\n"
		    "spec: {containers: [{name: a, env: [], ports: []}], tolerations: []}\n");
	kp_cluster_free(&c);
}

/* Every prefix of a valid manifest must load or fail cleanly. */
static void test_truncations(void **state)
{
	size_t n = strlen(DEPLOY);

	(void)state;
	for (size_t i = 0; i <= n; i += 7) {
		struct kp_cluster c;
		struct kp_errbuf eb = { 0 };
		struct kp_load_opts o = { NULL, NOW };
		kp_cluster_init(&c);
		(void)kp_load_buffer(&c, "cut.yaml", DEPLOY, i, &o, &eb);
		kp_cluster_free(&c);
	}
}

static void test_many_pods(void **state)
{
	struct kp_buf b;
	struct kp_cluster c;
	struct kp_errbuf eb = { 0 };
	struct kp_load_opts o = { NULL, NOW };
	struct timespec t0, t1;
	double secs;
	char *s;

	(void)state;
	kp_buf_init(&b, 64u << 20);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(kp_buf_printf(&b,
			"---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-%d\n  namespace: ns-%d\n"
			"  labels: {app: app-%d, tier: web}\nspec:\n  containers:\n    - name: main\n"
			"      image: nginx\n      resources:\n        requests: {cpu: 250m, memory: 256Mi}\n"
			"        limits: {cpu: 500m, memory: 512Mi}\n"
			"  tolerations: [{key: dedicated, operator: Exists}]\n"
			"  nodeSelector: {kubernetes.io/arch: amd64}\n", i, i % 50, i % 100), KP_OK);
	s = kp_buf_take(&b);
	kp_cluster_init(&c);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(kp_load_buffer(&c, "many.yaml", s, strlen(s), &o, &eb), KP_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* reported, not asserted: sanitizer and valgrind runs are many times slower */
	fprintf(stderr, "loaded 20000 pods in %.3f s\n", secs);
	assert_int_equal(c.npods, 20000);
	assert_int_equal(c.nnamespaces, 50);
	assert_int_equal(c.pods[19999]->requests.v[KP_RES_CPU], 250);
	kp_cluster_free(&c);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples_v1),
		cmocka_unit_test(test_examples_workloads),
		cmocka_unit_test(test_nodepool_v1),
		cmocka_unit_test(test_nodepool_v1beta1),
		cmocka_unit_test(test_nodepool_hash),
		cmocka_unit_test(test_deployment),
		cmocka_unit_test(test_sidecars_and_overhead),
		cmocka_unit_test(test_runtime_class),
		cmocka_unit_test(test_job_and_daemonset),
		cmocka_unit_test(test_nodes_and_bound_pods),
		cmocka_unit_test(test_nodeclaims),
		cmocka_unit_test(test_pdbs_and_namespaces),
		cmocka_unit_test(test_nodeclass),
		cmocka_unit_test(test_terms_and_claim_templates),
		cmocka_unit_test(test_lists_and_json),
		cmocka_unit_test(test_yaml_features),
		cmocka_unit_test(test_empty_inputs),
		cmocka_unit_test(test_directory_order),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_empty_containers),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_many_pods),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
