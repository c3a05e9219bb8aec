/*
 * test_aws_userdata.c - user data per AMI family (src/cloud/aws/userdata.c)
 * rendered from the published EC2NodeClass examples (tests/examples/v1) and
 * the TOML merging behind Bottlerocket (src/cloud/aws/toml.c): MIME
 * structure (one boundary, the user's parts kept and placed before
 * Karpenter's), one [settings.kubernetes] table with the user's keys kept
 * and Karpenter's winning, taints and labels passed to the kubelet; block
 * device sizes as quantities.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloud/aws/aws_int.h"
#include "karpenter/labels.h"
#include "karpenter/taints.h"

static struct kp_aws_cloud W;
static struct kp_arena A;
static struct kp_nodeclaim CLAIM;

/* spec.userData of a published example: the literal block scalar after
 * "userData:", its indentation removed (YAML's clip chomping). */
static char *example_user_data(const char *file)
{
	char path[256], line[4096];
	FILE *f;
	struct kp_buf b;
	int indent = -1;
	bool in = false;

	snprintf(path, sizeof(path), "tests/examples/v1/%s.yaml", file);
	f = fopen(path, "r");
	assert_non_null(f);
	kp_buf_init(&b, 1u << 20);
	while (fgets(line, sizeof(line), f)) {
		int sp = 0;

		while (line[sp] == ' ')
			sp++;
		if (!in) {
			in = strncmp(line + sp, "userData:", 9) == 0;
			continue;
		}
		if (line[sp] == '\n' || line[sp] == 0) {
			kp_buf_addstr(&b, "\n");
			continue;
		}
		if (indent < 0)
			indent = sp;
		if (sp < indent)
			break;
		kp_buf_addstr(&b, line + indent);
	}
	fclose(f);
	assert_true(in);
	/* clip: one final newline */
	while (b.len > 1 && b.data[b.len - 1] == '\n' && b.data[b.len - 2] == '\n')
		b.data[--b.len] = 0;
	return kp_buf_take(&b);
}

static void mkclass(struct kp_aws_class *c, const char *family, const char *user, const char *kubelet)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "demo");
	snprintf(c->family, sizeof(c->family), "%s", family);
	c->spec = json_object();
	if (user)
		json_object_set_new(c->spec, "userData", json_string(user));
	if (kubelet) {
		json_t *k = json_loads(kubelet, 0, NULL);

		assert_non_null(k);
		json_object_set_new(c->spec, "kubelet", k);
		c->max_pods = json_integer_value(json_object_get(k, "maxPods"));
	}
}

static char *render(const char *family, const char *user, const char *kubelet, struct kp_errbuf *eb)
{
	struct kp_aws_class c;
	char *out;

	mkclass(&c, family, user, kubelet);
	out = kp_aws_user_data(&W, &c, &CLAIM, KP_CAP_ON_DEMAND, eb);
	json_decref(c.spec);
	return out;
}

static int count_lines(const char *s, const char *line)
{
	size_t n = strlen(line);
	int k = 0;

	for (const char *p = s; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t ln = nl ? (size_t)(nl - p) : strlen(p);

		k += ln == n && memcmp(p, line, n) == 0;
		p = nl ? nl + 1 : NULL;
	}
	return k;
}

/* An independent reading of a multipart document: the header names the
 * boundary "//", every part opens with "--//" and has a Content-Type
 * header before its blank line, "--//--" closes it as the last line.
 * Returns the number of parts. */
static int mime_check(const char *ud)
{
	const char *head = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"//\"\n\n";
	const char *p;
	int parts = 0;

	assert_true(strncmp(ud, head, strlen(head)) == 0);
	p = ud + strlen(head);
	assert_true(strncmp(p, "--//\n", 5) == 0);
	while ((p = strstr(p, "--//\n")) != NULL && (p == ud || p[-1] == '\n')) {
		const char *blank = strstr(p, "\n\n"), *ct = strstr(p, "\nContent-Type: ");

		assert_non_null(blank);
		assert_true(ct && ct < blank);
		parts++;
		p += 5;
	}
	assert_int_equal(count_lines(ud, "--//--"), 1);
	assert_true(strlen(ud) >= 7 && strcmp(ud + strlen(ud) - 7, "--//--\n") == 0);
	assert_int_equal(count_lines(ud, "--//"), parts);
	return parts;
}

static const char TAINTS_ARG[] =
	"--register-with-taints=\"dedicated=gpu:NoSchedule,example.com/booting=:NoSchedule,"
	"karpenter.sh/unregistered=:NoExecute\"";
static const char LABELS_ARG[] =
	"--node-labels=\"karpenter.sh/capacity-type=on-demand,karpenter.sh/nodepool=default,team=blue\"";

/* AL2 with MIME user data (al2-custom-userdata, al2-kubelet-log-query):
 * the user's parts first, then the bootstrap script; never the user's
 * whole document inside one part. */
static void t_al2_mime(void **state)
{
	static const char *const files[] = { "al2-custom-userdata", "al2-kubelet-log-query" };
	struct kp_errbuf eb = { 0 };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char *user = example_user_data(files[i]);
		char *ud = render("AL2", user, "{\"maxPods\":58,\"clusterDNS\":[\"10.0.0.10\"]}", &eb);
		const char *from = strstr(user, "#!/bin/bash\n"), *to = from ? strstr(from, "\n--BOUNDARY") : NULL;
		char *script = from && to ? strndup(from, (size_t)(to - from)) : NULL;

		assert_non_null(ud);
		assert_int_equal(mime_check(ud), 2);
		assert_int_equal(count_lines(ud, "--BOUNDARY"), 0);
		assert_null(strstr(ud, "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BOUNDARY\""));
		assert_non_null(script);
		assert_non_null(strstr(ud, script));
		assert_true(strstr(ud, script) < strstr(ud, "/etc/eks/bootstrap.sh 'demo'"));
		assert_non_null(strstr(ud, TAINTS_ARG));
		assert_non_null(strstr(ud, LABELS_ARG));
		assert_non_null(strstr(ud, " --max-pods=58'"));
		assert_non_null(strstr(ud, "--dns-cluster-ip '10.0.0.10'"));
		assert_non_null(strstr(ud, "--use-max-pods false"));
		free(script);
		free(ud);
		free(user);
	}
}

/* AL2 with plain user data: one shell-script part, then the bootstrap. */
static void t_al2_plain(void **state)
{
	struct kp_errbuf eb = { 0 };
	char *ud = render("AL2", "#!/bin/bash\necho hi\n", NULL, &eb);

	(void)state;
	assert_non_null(ud);
	assert_int_equal(mime_check(ud), 2);
	assert_true(strstr(ud, "echo hi") < strstr(ud, "/etc/eks/bootstrap.sh"));
	assert_null(strstr(ud, "--use-max-pods"));
	assert_null(strstr(ud, "--max-pods"));
	assert_non_null(strstr(ud, TAINTS_ARG));
	free(ud);
	/* no user data: one part */
	ud = render("AL2", NULL, NULL, &eb);
	assert_int_equal(mime_check(ud), 1);
	free(ud);
}

/* AL2023 (al2023-custom-userdata: a NodeConfig part and a shell-script
 * part; its last delimiter is "--//" without the close): both parts kept
 * ahead of Karpenter's NodeConfig, which registers the taints. */
static void t_al2023_mime(void **state)
{
	struct kp_errbuf eb = { 0 };
	char *user = example_user_data("al2023-custom-userdata");
	char *ud = render("AL2023", user, "{\"maxPods\":30,\"clusterDNS\":[\"10.0.0.10\"]}", &eb);
	const char *mine = strstr(ud ? ud : "", "apiServerEndpoint");

	(void)state;
	assert_non_null(ud);
	assert_int_equal(mime_check(ud), 3);
	assert_non_null(strstr(ud, "strategy: Mount"));
	assert_non_null(strstr(ud, "echo \"Hello, AL2023!\""));
	assert_non_null(mine);
	assert_true(strstr(ud, "strategy: Mount") < mine);
	assert_true(strstr(ud, "echo \"Hello, AL2023!\"") < mine);
	assert_non_null(strstr(ud, "      registerWithTaints:\n      - key: \"dedicated\"\n        value: \"gpu\"\n"
				   "        effect: NoSchedule\n"));
	assert_non_null(strstr(ud, "      - key: \"karpenter.sh/unregistered\"\n        effect: NoExecute\n"));
	assert_non_null(strstr(ud, "      maxPods: 30\n"));
	assert_non_null(strstr(ud, "      clusterDNS:\n      - \"10.0.0.10\"\n"));
	assert_non_null(strstr(ud, "    - \"--node-labels=karpenter.sh/capacity-type=on-demand,karpenter.sh/nodepool=default,"
				   "team=blue\"\n"));
	free(ud);
	free(user);
	/* the AL2-style shell MIME example under AL2023 too */
	user = example_user_data("al2-custom-userdata");
	ud = render("AL2023", user, NULL, &eb);
	assert_int_equal(mime_check(ud), 2);
	assert_int_equal(count_lines(ud, "--BOUNDARY"), 0);
	free(ud);
	free(user);
	/* plain NodeConfig YAML becomes a NodeConfig part */
	ud = render("AL2023", "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\n", NULL, &eb);
	assert_int_equal(mime_check(ud), 2);
	assert_non_null(strstr(ud, "--//\nContent-Type: application/node.eks.aws\n\napiVersion: node.eks.aws/v1alpha1\nkind"));
	free(ud);
}

/* Broken MIME user data is an error naming the problem, not a launch. */
static void t_mime_bad(void **state)
{
	struct kp_errbuf eb = { 0 };

	(void)state;
	assert_null(render("AL2", "MIME-Version: 1.0\nContent-Type: multipart/mixed\n\n--x\n\nhi\n", NULL, &eb));
	assert_non_null(strstr(eb.msg, "boundary"));
	assert_null(render("AL2023", "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"x\"\n\n--x\n"
				     "Content-Type: text/x-shellscript\n\necho no close\n",
			   NULL, &eb));
	assert_non_null(strstr(eb.msg, "closing"));
	assert_null(render("AL2", "#!/bin/sh\n--//\n", NULL, &eb));
}

static int count_str(const char *s, const char *sub)
{
	int k = 0;

	for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub))
		k++;
	return k;
}

/* Bottlerocket (br-custom-userdata): one [settings.kubernetes] table, the
 * user's kube-api-qps kept, Karpenter's settings in it. */
static void t_bottlerocket_example(void **state)
{
	struct kp_errbuf eb = { 0 };
	char *user = example_user_data("br-custom-userdata");
	char *ud = render("Bottlerocket", user, "{\"maxPods\":58,\"clusterDNS\":[\"10.0.0.10\"]}", &eb);
	struct kp_aws_toml *d = NULL;

	(void)state;
	assert_non_null(ud);
	assert_int_equal(count_lines(ud, "[settings.kubernetes]"), 1);
	assert_non_null(strstr(ud, "[settings.kubernetes]\nkube-api-qps = 30\napi-server = \"https://api.demo\"\n"
				   "cluster-certificate = \"Q0E=\"\ncluster-name = \"demo\"\ncluster-dns-ip = \"10.0.0.10\"\n"
				   "max-pods = 58\n"));
	assert_non_null(strstr(ud, "[settings.kubernetes.node-labels]\n\"karpenter.sh/capacity-type\" = \"on-demand\"\n"
				   "\"karpenter.sh/nodepool\" = \"default\"\nteam = \"blue\"\n"));
	assert_non_null(strstr(ud, "[settings.kubernetes.node-taints]\ndedicated = [\"gpu:NoSchedule\"]\n"
				   "\"example.com/booting\" = [\":NoSchedule\"]\n\"karpenter.sh/unregistered\" = [\":NoExecute\"]\n"));
	/* what comes out reads back */
	assert_int_equal(kp_aws_toml_parse(ud, strlen(ud), &d, &eb), KP_OK);
	kp_aws_toml_free(d);
	free(ud);
	free(user);
}

/* Bottlerocket: the user's settings Karpenter manages are overridden,
 * whatever their spelling (dotted keys, inline tables, quoted keys);
 * everything else is kept. */
static void t_bottlerocket_merge(void **state)
{
	static const char user[] =
		"# user settings\n"
		"settings.kubernetes.cluster-name = \"theirs\"\n"
		"settings.motd = \"hello\"\n"
		"[settings.kubernetes]\n"
		"max-pods = 10 # too few\n"
		"'api-server' = 'https://elsewhere'\n"
		"node-labels = { team = \"red\", keep = \"me\" }\n"
		"eviction-hard = { \"memory.available\" = \"15%\" }\n"
		"[settings.kubernetes.node-taints]\n"
		"dedicated = [\"cpu:NoSchedule\"]\n"
		"mine = [\n  \"x:NoSchedule\", # why\n  \"y:NoExecute\",\n]\n"
		"[[settings.container-registry.credentials]]\n"
		"registry = \"docker.io\"\nauth = \"\"\"\nab\n[cd]\n\"\"\"\n"
		"[settings.host-containers.admin]\nenabled = true\n";
	struct kp_errbuf eb = { 0 };
	char *ud = render("Bottlerocket", user, "{\"maxPods\":58}", &eb);
	struct kp_aws_toml *d = NULL;

	(void)state;
	assert_non_null(ud);
	assert_int_equal(count_lines(ud, "[settings.kubernetes]"), 1);
	assert_int_equal(count_lines(ud, "[settings.kubernetes.node-labels]"), 1);
	assert_int_equal(count_lines(ud, "[settings.kubernetes.node-taints]"), 1);
	assert_int_equal(count_str(ud, "cluster-name ="), 1);
	assert_non_null(strstr(ud, "cluster-name = \"demo\""));
	assert_int_equal(count_str(ud, "api-server ="), 1);
	assert_non_null(strstr(ud, "api-server = \"https://api.demo\""));
	assert_int_equal(count_str(ud, "max-pods ="), 1);
	assert_non_null(strstr(ud, "max-pods = 58"));
	assert_non_null(strstr(ud, "[settings]\nmotd = \"hello\"\n"));
	assert_non_null(strstr(ud, "team = \"blue\""));
	assert_null(strstr(ud, "team = \"red\""));
	assert_non_null(strstr(ud, "keep = \"me\""));
	assert_non_null(strstr(ud, "[settings.kubernetes.eviction-hard]\n\"memory.available\" = \"15%\"\n"));
	assert_non_null(strstr(ud, "dedicated = [\"gpu:NoSchedule\"]"));
	assert_non_null(strstr(ud, "mine = [\n  \"x:NoSchedule\", # why\n  \"y:NoExecute\",\n]\n"));
	assert_non_null(strstr(ud, "[[settings.container-registry.credentials]]\nregistry = \"docker.io\"\n"
				   "auth = \"\"\"\nab\n[cd]\n\"\"\"\n"));
	assert_non_null(strstr(ud, "[settings.host-containers.admin]\nenabled = true\n"));
	assert_int_equal(kp_aws_toml_parse(ud, strlen(ud), &d, &eb), KP_OK);
	kp_aws_toml_free(d);
	free(ud);
}

/* Invalid TOML: an error with the line, no user data. */
static void t_toml_bad(void **state)
{
	static const char *const bad[] = { "[settings.kubernetes\nx = 1\n", "a = \"open\n", "a = [1, 2\n", "a =\n",
					   "a = 1 b = 2\n", "= 1\n", "a = { b = 1\n", "a = \"\"\"never closed\n",
					   "[[x]\n" };
	struct kp_errbuf eb = { 0 };
	struct kp_aws_toml *d = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&eb, 0, sizeof(eb));
		assert_int_equal(kp_aws_toml_parse(bad[i], strlen(bad[i]), &d, &eb), KP_ERR_INVALID);
		assert_null(d);
		assert_non_null(strstr(eb.msg, "userData TOML line"));
	}
	assert_null(render("Bottlerocket", "[settings.kubernetes\n", NULL, &eb));
	assert_non_null(strstr(eb.msg, "line 1"));
}

/* Windows and Custom: the user's script kept, the kubelet arguments
 * carry labels and taints (Windows); Custom is verbatim. */
static void t_windows_custom(void **state)
{
	struct kp_errbuf eb = { 0 };
	char *user = example_user_data("custom-family");
	char *ud = render("Custom", user, NULL, &eb);

	(void)state;
	assert_string_equal(ud, user);
	free(ud);
	free(user);
	ud = render("Windows2022", "Write-Host hi", "{\"clusterDNS\":[\"10.0.0.10\"]}", &eb);
	assert_non_null(ud);
	assert_true(strstr(ud, "Write-Host hi") < strstr(ud, "Start-EKSBootstrap.ps1"));
	assert_non_null(strstr(ud, TAINTS_ARG));
	assert_non_null(strstr(ud, "-DNSClusterIP '10.0.0.10'"));
	free(ud);
}

/* A taint with karpenter.sh/unregistered:NoExecute already there is not
 * doubled. */
static void t_unregistered_once(void **state)
{
	struct kp_taint t[1] = { { "karpenter.sh/unregistered", NULL, KP_EFFECT_NOEXECUTE } };
	struct kp_taints saved = CLAIM.startup_taints;
	struct kp_errbuf eb = { 0 };
	char *ud;

	(void)state;
	CLAIM.startup_taints.t = t;
	CLAIM.startup_taints.n = 1;
	ud = render("AL2", NULL, NULL, &eb);
	assert_int_equal(count_str(ud, "karpenter.sh/unregistered"), 1);
	free(ud);
	CLAIM.startup_taints = saved;
}

/* blockDeviceMappings volumeSize: quantities to GiB rounded up. */
static void t_volume_gib(void **state)
{
	static const struct {
		const char *json;
		int rc;
		int64_t gib;
	} cases[] = { { "\"20Gi\"", 1, 20 },   { "\"100G\"", 1, 94 }, { "\"1Ti\"", 1, 1024 }, { "\"512Mi\"", 1, 1 },
		      { "\"2T\"", 1, 1863 },   { "1073741824", 1, 1 },   { "\"lots\"", -1, 0 }, { "\"0\"", -1, 0 },
		      { "\"-1Gi\"", -1, 0 },   { "true", -1, 0 } };
	int64_t gib;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);

		assert_non_null(v);
		assert_int_equal(kp_aws_volume_gib(v, &gib), cases[i].rc);
		assert_int_equal(gib, cases[i].gib);
		json_decref(v);
	}
	assert_int_equal(kp_aws_volume_gib(NULL, &gib), 0);
}

static int setup(void **state)
{
	static struct kp_taint taints[1] = { { "dedicated", "gpu", KP_EFFECT_NOSCHEDULE } };
	static struct kp_taint startup[1] = { { "example.com/booting", NULL, KP_EFFECT_NOSCHEDULE } };

	(void)state;
	memset(&W, 0, sizeof(W));
	snprintf(W.cluster, sizeof(W.cluster), "demo");
	snprintf(W.cluster_endpoint, sizeof(W.cluster_endpoint), "https://api.demo");
	snprintf(W.cluster_cidr, sizeof(W.cluster_cidr), "10.100.0.0/16");
	W.cluster_ca = "Q0E=";
	kp_arena_init(&A);
	memset(&CLAIM, 0, sizeof(CLAIM));
	CLAIM.name = "default-abc";
	CLAIM.nodepool = "default";
	kp_labels_set(&CLAIM.labels, &A, KP_LABEL_NODEPOOL, "default");
	kp_labels_set(&CLAIM.labels, &A, "team", "blue");
	CLAIM.taints.t = taints;
	CLAIM.taints.n = 1;
	CLAIM.startup_taints.t = startup;
	CLAIM.startup_taints.n = 1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kp_arena_free(&A);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_al2_mime),
		cmocka_unit_test(t_al2_plain),
		cmocka_unit_test(t_al2023_mime),
		cmocka_unit_test(t_mime_bad),
		cmocka_unit_test(t_bottlerocket_example),
		cmocka_unit_test(t_bottlerocket_merge),
		cmocka_unit_test(t_toml_bad),
		cmocka_unit_test(t_windows_custom),
		cmocka_unit_test(t_unregistered_once),
		cmocka_unit_test(t_volume_gib),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
