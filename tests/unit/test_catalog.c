/*
 * test_catalog.c - the catalog builders (src/catalog/): the CSV reader, the
 * AWS formulas and catalog (m5.large and p4d.24xlarge against Karpenter's
 * worked examples), the kwok catalog, JSON loading (defaults and errors that
 * name file, entry and field), JSON round trips, the table and the
 * `karpenter catalog` command. Run from the repository root (data dir "data").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog/catalog_io.h"
#include "catalog/csv.h"
#include "cli/commands.h"

/* The command lives outside the library; compile it in here. */
#include "cli/args.c"
#include "cli/cmd_catalog.c"

#define MI ((int64_t)1024 * 1024)
#define GI (MI * 1024)
#define DATA "data"

/* ---- helpers ---- */

static char tmpdir[64];

static void tmp_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* A private scratch directory, made on first use and removed at exit. */
static void tmp_init(void)
{
	if (tmpdir[0])
		return;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kp-test-catalog-XXXXXX");
	if (!mkdtemp(tmpdir))
		fail_msg("mkdtemp failed");
	atexit(tmp_cleanup);
}

/* Writes text to tmpdir/name; returns the path (static buffer per slot). */
static const char *write_tmp(const char *name, const char *text)
{
	static char paths[4][256];
	static int slot;
	char *p = paths[slot++ % 4];
	FILE *f;

	tmp_init();
	snprintf(p, 256, "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return p;
}

static const struct kp_itype *must_find(const struct kp_catalog *cat, const char *name)
{
	const struct kp_itype *it = kp_catalog_find(cat, name);
	if (!it)
		fail_msg("instance type %s not in catalog %s", name, cat->name);
	return it;
}

static void assert_label(const struct kp_itype *it, const char *key, const char *want)
{
	const char *got = kp_labels_get(&it->labels, key);
	if (!want) {
		if (got)
			fail_msg("%s: label %s=%s, want none", it->name, key, got);
		return;
	}
	if (!got)
		fail_msg("%s: label %s missing, want %s", it->name, key, want);
	assert_string_equal(got, want);
}

static int count_off(const struct kp_itype *it, enum kp_captype ct, bool available)
{
	int n = 0;
	for (int i = 0; i < it->noff; i++)
		n += it->off[i].captype == ct && it->off[i].available == available;
	return n;
}

/* ---- CSV ---- */

static void test_csv_quotes_crlf(void **state)
{
	static const char text[] = "a,b,c\r\n1,\"x,y\",\"say \"\"hi\"\"\"\r\n\r\n2,,\"multi\nline\"\n3,z,w";
	struct kp_csv c;
	struct kp_errbuf eb = {0};
	bool got;
	(void)state;

	assert_int_equal(kp_csv_open_mem(&c, "t.csv", text, sizeof(text) - 1, &eb), KP_OK);
	assert_int_equal(c.ncols, 3);
	assert_int_equal(kp_csv_col(&c, "c"), 2);
	assert_int_equal(kp_csv_col(&c, "d"), -1);
	assert_int_equal(kp_csv_next(&c, &got, &eb), KP_OK);
	assert_true(got);
	assert_string_equal(c.field[0], "1");
	assert_string_equal(c.field[1], "x,y");
	assert_string_equal(c.field[2], "say \"hi\"");
	assert_int_equal(c.line, 2);
	assert_int_equal(kp_csv_next(&c, &got, &eb), KP_OK);
	assert_true(got);
	assert_string_equal(c.field[1], "");
	assert_string_equal(c.field[2], "multi\nline");
	assert_int_equal(c.line, 4);
	assert_int_equal(kp_csv_next(&c, &got, &eb), KP_OK);
	assert_true(got);
	assert_string_equal(c.field[2], "w");
	assert_int_equal(c.line, 6);
	assert_int_equal(kp_csv_next(&c, &got, &eb), KP_OK);
	assert_false(got);
	kp_csv_close(&c);
	kp_csv_close(&c);   /* twice is harmless */
}

static void test_csv_errors(void **state)
{
	static const char short_row[] = "a,b\n1,2\n3\n";
	static const char bad_quote[] = "a,b\n1,\"x\"y\n";
	static const char open_quote[] = "a,b\n1,\"xy\n";
	const char *names[] = {"a", "zz"};
	int idx[2];
	struct kp_csv c;
	struct kp_errbuf eb = {0};
	bool got;
	(void)state;

	assert_int_equal(kp_csv_open_mem(&c, "s.csv", short_row, sizeof(short_row) - 1, &eb), KP_OK);
	assert_int_equal(kp_csv_columns(&c, names, idx, 2, &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "s.csv: missing column \"zz\"");
	assert_int_equal(kp_csv_next(&c, &got, &eb), KP_OK);
	assert_int_equal(kp_csv_next(&c, &got, &eb), KP_ERR_INVALID);
	assert_false(got);
	assert_string_equal(eb.msg, "s.csv:3: 1 fields, header has 2");
	kp_csv_close(&c);

	assert_int_equal(kp_csv_open_mem(&c, "q.csv", bad_quote, sizeof(bad_quote) - 1, &eb), KP_OK);
	assert_int_equal(kp_csv_next(&c, &got, &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "q.csv:2: text after closing quote");
	kp_csv_close(&c);

	assert_int_equal(kp_csv_open_mem(&c, "o.csv", open_quote, sizeof(open_quote) - 1, &eb), KP_OK);
	assert_int_equal(kp_csv_next(&c, &got, &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "o.csv:2: unterminated quoted field");
	kp_csv_close(&c);

	assert_int_equal(kp_csv_open_mem(&c, "e.csv", "", 0, &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "e.csv: missing header");
	kp_csv_close(&c);

	assert_int_equal(kp_csv_open(&c, "/nonexistent/x.csv", KP_CSV_MAX_BYTES, &eb), KP_ERR_IO);
	assert_string_equal(eb.msg, "/nonexistent/x.csv: No such file or directory");
	kp_csv_close(&c);
}

static void test_csv_size_cap(void **state)
{
	char big[5000];
	struct kp_csv c;
	struct kp_errbuf eb = {0};
	const char *path;
	(void)state;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	path = write_tmp("big.csv", big);
	assert_int_equal(kp_csv_open(&c, path, 1000, &eb), KP_ERR_LIMIT);
	assert_non_null(strstr(eb.msg, "larger than 1000 bytes"));
	kp_csv_close(&c);
	assert_int_equal(kp_csv_open(&c, path, 10000, &eb), KP_OK);
	assert_int_equal((int)strlen(c.header[0]), 4999);
	kp_csv_close(&c);
}

/* ---- AWS formulas ---- */

static void test_aws_formulas(void **state)
{
	(void)state;
	/* m5.large: 8192 MiB - ceil(614.4) */
	assert_int_equal(kp_catalog_aws_memory_mib(8192, false), 7577);
	/* m7g.large: (8192 - 64) - ceil(609.6) */
	assert_int_equal(kp_catalog_aws_memory_mib(8192, true), 7518);
	/* exact products still round as the provider's float arithmetic does */
	assert_int_equal(kp_catalog_aws_memory_mib(4000, false), 4000 - 300);
	assert_int_equal(kp_catalog_aws_eni_pods(3, 10, 0), 29);
	assert_int_equal(kp_catalog_aws_eni_pods(15, 50, 0), 737);
	assert_int_equal(kp_catalog_aws_eni_pods(3, 10, 1), 20);
	assert_int_equal(kp_catalog_aws_eni_pods(3, 10, 3), 0);
	assert_int_equal(kp_catalog_aws_kube_cpu_milli(1), 60);
	assert_int_equal(kp_catalog_aws_kube_cpu_milli(2), 70);
	assert_int_equal(kp_catalog_aws_kube_cpu_milli(4), 80);
	assert_int_equal(kp_catalog_aws_kube_cpu_milli(8), 90);
	assert_int_equal(kp_catalog_aws_kube_cpu_milli(96), 310);
	assert_int_equal(kp_catalog_aws_eviction_storage(20 * GI), 2 * GI);
	assert_int_equal(kp_catalog_aws_eviction_storage(105), 11);
}

static void test_spot_estimate(void **state)
{
	static const char *const zones[] = {"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d",
					    "us-east-1e", "us-east-1f"};
	double first = -1;
	bool varies = false;
	(void)state;

	for (size_t i = 0; i < KP_ARRAY_LEN(zones); i++) {
		double p = kp_spot_estimate("m5.large", "m5", zones[i], 0.096);
		assert_true(p >= 0.096 * 0.30 * 0.92 - 1e-6);
		assert_true(p <= 0.096 * 0.45 * 1.08 + 1e-6);
		assert_true(p == kp_spot_estimate("m5.large", "m5", zones[i], 0.096));   /* deterministic */
		assert_true(fabs(p * 1e6 - round(p * 1e6)) < 1e-6);                       /* micro-dollars */
		if (first >= 0 && p != first)
			varies = true;
		first = p;
	}
	assert_true(varies);
	assert_true(kp_spot_estimate("x.large", "x", "z", 0) == 0);
	assert_true(kp_spot_estimate("t4g.nano", "t4g", "z", 0.000001) == 1e-6);
}

/* ---- AWS catalog ---- */

static void test_aws_counts_and_filters(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = {0};
	int linux_types = 0;
	(void)state;

	kp_resnames_init(&rn);
	assert_int_equal(kp_catalog_load_aws(&cat, &rn, DATA, NULL, &eb), KP_OK);
	assert_string_equal(cat.name, "aws-us-east-1");
	assert_string_equal(cat.region, "us-east-1");
	/* 1243 types offered in us-east-1, less the 8 mac types the provider's
	 * architecture filter (x86_64, arm64) drops */
	assert_int_equal(cat.n, 1235);
	for (int i = 0; i < cat.n; i++) {
		const struct kp_itype *it = cat.types[i];
		if (i)
			assert_true(strcmp(cat.types[i - 1]->name, it->name) < 0);
		assert_true(it->noff > 0);
		assert_non_null(kp_reqs_get(&it->reqs, KP_LABEL_ZONE));
		assert_non_null(kp_reqs_get(&it->reqs, KP_LABEL_CAPACITY_TYPE));
		linux_types += strcmp(kp_labels_get(&it->labels, KP_LABEL_OS), "linux") == 0;
		assert_true(it->allocatable.v[KP_RES_CPU] > 0 && it->allocatable.v[KP_RES_MEMORY] > 0);
	}
	assert_int_equal(linux_types, cat.n);
	assert_null(kp_catalog_find(&cat, "mac1.metal"));      /* x86_64_mac */
	assert_null(kp_catalog_find(&cat, "mac2.metal"));      /* arm64_mac */
	assert_null(kp_catalog_find(&cat, "dl2q.24xlarge"));   /* no zone in us-east-1 */
	assert_null(kp_catalog_find(&cat, "hpc7a.96xlarge"));
	kp_catalog_free(&cat);
	kp_catalog_free(&cat);   /* free twice / of a freed catalog is harmless */
}

static void test_aws_m5_large(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = {0};
	const struct kp_itype *it;
	const struct kp_req *zone;
	(void)state;

	kp_resnames_init(&rn);
	assert_int_equal(kp_catalog_load_aws(&cat, &rn, DATA, "us-east-1", &eb), KP_OK);
	it = must_find(&cat, "m5.large");

	/* capacity */
	assert_int_equal(it->capacity.v[KP_RES_CPU], 2000);
	assert_int_equal(it->capacity.v[KP_RES_MEMORY], 7577 * MI);
	assert_int_equal(it->capacity.v[KP_RES_EPHEMERAL], 20 * GI);
	assert_int_equal(it->capacity.v[KP_RES_PODS], 29);
	assert_int_equal(it->capacity.v[KP_RES_POD_ENI], 9);
	assert_int_equal(it->capacity.v[KP_RES_NVIDIA_GPU], 0);
	assert_int_equal(it->capacity.v[KP_RES_EFA], 0);
	/* overhead */
	assert_int_equal(it->overhead.kube_reserved.v[KP_RES_CPU], 70);
	assert_int_equal(it->overhead.kube_reserved.v[KP_RES_MEMORY], 574 * MI);
	assert_int_equal(it->overhead.kube_reserved.v[KP_RES_EPHEMERAL], GI);
	assert_int_equal(it->overhead.eviction_threshold.v[KP_RES_MEMORY], 100 * MI);
	assert_int_equal(it->overhead.eviction_threshold.v[KP_RES_EPHEMERAL], 2 * GI);
	/* Karpenter's worked example */
	assert_int_equal(it->allocatable.v[KP_RES_CPU], 1930);
	assert_int_equal(it->allocatable.v[KP_RES_MEMORY], 6903 * MI);
	assert_int_equal(it->allocatable.v[KP_RES_EPHEMERAL], 17 * GI);
	assert_int_equal(it->allocatable.v[KP_RES_PODS], 29);

	assert_label(it, KP_LABEL_INSTANCE_TYPE, "m5.large");
	assert_label(it, KP_LABEL_ARCH, "amd64");
	assert_label(it, KP_LABEL_OS, "linux");
	assert_label(it, KP_LABEL_REGION, "us-east-1");
	assert_label(it, "karpenter.k8s.aws/instance-category", "m");
	assert_label(it, "karpenter.k8s.aws/instance-family", "m5");
	assert_label(it, "karpenter.k8s.aws/instance-generation", "5");
	assert_label(it, "karpenter.k8s.aws/instance-size", "large");
	assert_label(it, "karpenter.k8s.aws/instance-cpu", "2");
	assert_label(it, "karpenter.k8s.aws/instance-memory", "8192");
	assert_label(it, "karpenter.k8s.aws/instance-cpu-manufacturer", "intel");
	assert_label(it, "karpenter.k8s.aws/instance-cpu-sustained-clock-speed-mhz", "3100");
	assert_label(it, "karpenter.k8s.aws/instance-hypervisor", "nitro");
	assert_label(it, "karpenter.k8s.aws/instance-encryption-in-transit-supported", "false");
	assert_label(it, "karpenter.k8s.aws/nitro-sandbox", "false");
	assert_label(it, "karpenter.k8s.aws/instance-capability-flex", "false");
	assert_label(it, "karpenter.k8s.aws/instance-network-bandwidth", "750");
	assert_label(it, "karpenter.k8s.aws/instance-ebs-bandwidth", "4750");
	assert_label(it, "karpenter.k8s.aws/instance-local-nvme", NULL);
	assert_label(it, "karpenter.k8s.aws/instance-gpu-name", NULL);
	assert_label(it, "karpenter.k8s.aws/instance-accelerator-name", NULL);
	assert_label(it, KP_LABEL_ZONE, NULL);   /* zones are offerings, not labels */

	/* offerings: 5 zones x {on-demand, spot}, on-demand from the price table */
	assert_int_equal(it->noff, 10);
	assert_int_equal(count_off(it, KP_CAP_ON_DEMAND, true), 5);
	assert_int_equal(count_off(it, KP_CAP_SPOT, true), 5);
	for (int i = 0; i < it->noff; i++) {
		const struct kp_offering *o = &it->off[i];
		if (o->captype == KP_CAP_ON_DEMAND)
			assert_true(o->price == 0.096);
		else
			assert_true(o->price == kp_spot_estimate("m5.large", "m5", o->zone, 0.096));
		if (i)
			assert_true(it->off[i - 1].price <= o->price);
	}
	zone = kp_reqs_get(&it->reqs, KP_LABEL_ZONE);
	assert_non_null(zone);
	assert_int_equal(zone->n, 5);
	assert_false(kp_req_has(zone, "us-east-1e"));
	assert_true(kp_req_has(zone, "us-east-1f"));
	kp_catalog_free(&cat);
}

/* A requirement set holding one requirement, for compatibility checks. */
static void one_req(struct kp_reqs *rs, struct kp_arena *a, const char *key, enum kp_op op, const char *value)
{
	struct kp_req r;

	kp_reqs_init(rs);
	assert_int_equal(kp_req_make(&r, a, key, op, value ? &value : NULL, value ? 1 : 0, 0, NULL), KP_OK);
	assert_int_equal(kp_reqs_add(rs, a, &r), KP_OK);
}

/* The provider's DoesNotExist requirements: a pod asking for a GPU name
 * must not fit m5.large, as in Karpenter. */
static void test_aws_requirements(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = {0};
	struct kp_arena a;
	struct kp_reqs gpu, tenancy, flex;
	const struct kp_itype *m5, *p4d;
	const struct kp_req *r;
	(void)state;

	kp_arena_init(&a);
	kp_resnames_init(&rn);
	assert_int_equal(kp_catalog_load_aws(&cat, &rn, DATA, NULL, &eb), KP_OK);
	m5 = must_find(&cat, "m5.large");
	p4d = must_find(&cat, "p4d.24xlarge");
	r = kp_reqs_get(&m5->reqs, "karpenter.k8s.aws/instance-gpu-name");
	assert_non_null(r);
	assert_int_equal(kp_req_op(r), KP_OP_DOESNOTEXIST);
	r = kp_reqs_get(&m5->reqs, KP_LABEL_WINDOWS_BUILD);
	assert_non_null(r);
	assert_int_equal(kp_req_op(r), KP_OP_DOESNOTEXIST);
	r = kp_reqs_get(&m5->reqs, "karpenter.k8s.aws/instance-tenancy");
	assert_non_null(r);
	assert_int_equal(r->n, 2);
	r = kp_reqs_get(&p4d->reqs, "karpenter.k8s.aws/instance-gpu-name");
	assert_non_null(r);
	assert_int_equal(kp_req_op(r), KP_OP_IN);
	assert_true(kp_req_has(r, "a100"));

	one_req(&gpu, &a, "karpenter.k8s.aws/instance-gpu-name", KP_OP_EXISTS, NULL);
	assert_false(kp_reqs_compatible(&m5->reqs, &gpu, NULL));
	assert_true(kp_reqs_compatible(&p4d->reqs, &gpu, NULL));
	one_req(&tenancy, &a, "karpenter.k8s.aws/instance-tenancy", KP_OP_IN, "dedicated");
	assert_true(kp_reqs_compatible(&m5->reqs, &tenancy, NULL));
	one_req(&flex, &a, "karpenter.k8s.aws/instance-capability-flex", KP_OP_IN, "true");
	assert_false(kp_reqs_compatible(&m5->reqs, &flex, NULL));
	assert_true(kp_reqs_compatible(&must_find(&cat, "c7i-flex.large")->reqs, &flex, NULL));
	kp_arena_free(&a);
	kp_catalog_free(&cat);
}

static void test_aws_other_types(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = {0};
	const struct kp_itype *it;
	(void)state;

	kp_resnames_init(&rn);
	assert_int_equal(kp_catalog_open(&cat, &rn, "aws", DATA, &eb), KP_OK);

	/* p4d.24xlarge: the reference's second example */
	it = must_find(&cat, "p4d.24xlarge");
	assert_int_equal(it->capacity.v[KP_RES_PODS], 737);
	assert_int_equal(it->overhead.kube_reserved.v[KP_RES_CPU], 310);
	assert_int_equal(it->overhead.kube_reserved.v[KP_RES_MEMORY], 8362 * MI);
	assert_int_equal(it->capacity.v[KP_RES_NVIDIA_GPU], 8);
	assert_int_equal(it->capacity.v[KP_RES_EFA], 4);
	assert_int_equal(it->allocatable.v[KP_RES_CPU], 96000 - 310);
	assert_label(it, "karpenter.k8s.aws/instance-gpu-name", "a100");
	assert_label(it, "karpenter.k8s.aws/instance-gpu-manufacturer", "nvidia");
	assert_label(it, "karpenter.k8s.aws/instance-gpu-count", "8");
	assert_label(it, "karpenter.k8s.aws/instance-gpu-memory", "40960");
	assert_label(it, "karpenter.k8s.aws/instance-local-nvme", "8000");
	assert_int_equal(count_off(it, KP_CAP_ON_DEMAND, true), 4);

	/* Graviton: 64 MiB of CMA less */
	it = must_find(&cat, "m7g.large");
	assert_label(it, KP_LABEL_ARCH, "arm64");
	assert_int_equal(it->capacity.v[KP_RES_MEMORY], 7518 * MI);
	assert_label(it, "karpenter.k8s.aws/instance-cpu-manufacturer", "aws");

	/* Neuron: accelerator labels, neuron and neuroncore resources */
	it = must_find(&cat, "inf2.xlarge");
	assert_int_equal(it->capacity.v[KP_RES_NEURON], 1);
	assert_int_equal(it->capacity.v[KP_RES_NEURONCORE], 2);
	assert_label(it, "karpenter.k8s.aws/instance-accelerator-name", "inferentia2");
	assert_label(it, "karpenter.k8s.aws/instance-accelerator-manufacturer", "aws");
	assert_label(it, "karpenter.k8s.aws/instance-accelerator-count", "1");
	it = must_find(&cat, "trn1.2xlarge");
	assert_label(it, "karpenter.k8s.aws/instance-accelerator-name", "trainium");

	/* other GPU vendors */
	it = must_find(&cat, "g4ad.2xlarge");
	assert_int_equal(it->capacity.v[KP_RES_AMD_GPU], 1);
	assert_int_equal(it->capacity.v[KP_RES_NVIDIA_GPU], 0);
	assert_label(it, "karpenter.k8s.aws/instance-gpu-name", "radeon-pro-v520");
	it = must_find(&cat, "dl1.24xlarge");
	assert_int_equal(it->capacity.v[KP_RES_GAUDI], 8);
	assert_label(it, "karpenter.k8s.aws/instance-gpu-name", "gaudi-hl-205");

	/* metal: empty hypervisor, as the provider sets it */
	it = must_find(&cat, "m5.metal");
	assert_label(it, "karpenter.k8s.aws/instance-hypervisor", "");

	/* category regex: u-6tb1 is category u, generation 1; flex types */
	it = must_find(&cat, "u-6tb1.56xlarge");
	assert_label(it, "karpenter.k8s.aws/instance-category", "u");
	assert_label(it, "karpenter.k8s.aws/instance-generation", "1");
	assert_label(it, "karpenter.k8s.aws/instance-family", "u-6tb1");
	it = must_find(&cat, "u7in-16tb.224xlarge");
	assert_label(it, "karpenter.k8s.aws/instance-category", "u");
	assert_label(it, "karpenter.k8s.aws/instance-generation", "7");
	it = must_find(&cat, "c7i-flex.large");
	assert_label(it, "karpenter.k8s.aws/instance-capability-flex", "true");
	assert_label(it, "karpenter.k8s.aws/instance-category", "c");

	/* old xen type: no sustained clock in the data -> "0"; EBS not default */
	it = must_find(&cat, "c1.medium");
	assert_label(it, "karpenter.k8s.aws/instance-cpu-sustained-clock-speed-mhz", "0");
	assert_label(it, "karpenter.k8s.aws/instance-ebs-bandwidth", NULL);
	assert_label(it, KP_LABEL_ARCH, "amd64");   /* i386;x86_64 */

	/* on-demand only usage class: no spot offerings */
	it = must_find(&cat, "c8ine.large");
	assert_int_equal(count_off(it, KP_CAP_SPOT, true) + count_off(it, KP_CAP_SPOT, false), 0);
	assert_true(count_off(it, KP_CAP_ON_DEMAND, true) > 0);
	kp_catalog_free(&cat);
}

/* A private data dir exercising what the real data does not: a type with no
 * price, a filtered architecture, a type without zones, and data errors. */
static const char *mkdata(const char *types_extra_row)
{
	static char dir[256];
	char path[320];
	FILE *f;
	static const char *const files[][2] = {
		{"instance-type-zones-us-east-1.csv",
		 "instance_type,zones\na1.large,z-a;z-b\nb1.large,z-a\nmac9.metal,z-a\n"},
		{"ondemand-prices-us-east-1.csv", "instance_type,usd_per_hour\na1.large,0.100000\n"},
		{"network-bandwidth-mbps.csv", "instance_type,network_bandwidth_mbps\n"},
		{"vpc-limits.csv", "instance_type,trunking_compatible,branch_enis_pod_eni\n"},
	};
	static const char header[] =
		"name,architectures,virtualization_types,vcpu,memory_mib,cpu_manufacturer,"
		"sustained_clock_mhz,gpu_count,gpu_manufacturer,gpu_name,gpu_memory_mib_each,"
		"gpu_label_eligible,neuron_device_name,neuron_device_count,neuron_cores_per_device,"
		"inference_accelerator,default_card_max_enis,ipv4_per_eni,max_efa_interfaces,"
		"encryption_in_transit,hypervisor,nitro_enclaves,usage_classes,ebs_optimized_support,"
		"ebs_max_bandwidth_mbps,local_storage_gb,local_nvme_support\n"
		"a1.large,arm64,hvm,2,4096,aws,2300,0,,,,false,,0,,,3,10,,false,nitro,unsupported,on-demand;spot,default,3500,,\n"
		"b1.large,x86_64,hvm,2,4096,intel,,0,,,,false,,0,,Qualcomm/Qualcomm AI100x8,3,10,,false,nitro,unsupported,on-demand;spot,,,,\n"
		"c1.large,x86_64,hvm,2,4096,intel,,0,,,,false,,0,,,3,10,,false,nitro,unsupported,on-demand;spot,,,,\n"
		"mac9.metal,x86_64_mac,hvm,12,32768,intel,,0,,,,false,,0,,,8,30,,false,,unsupported,on-demand,,,,\n";

	tmp_init();
	snprintf(dir, sizeof(dir), "%s/data", tmpdir);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/aws", dir);
	mkdir(path, 0700);
	for (size_t i = 0; i < KP_ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s/aws/%s", dir, files[i][0]);
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(files[i][1], f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/aws/instance-types.csv", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(header, f);
	fputs(types_extra_row, f);
	fclose(f);
	return dir;
}

static void test_aws_private_data(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = {0};
	const struct kp_itype *it;
	const char *dir = mkdata("");
	(void)state;

	kp_resnames_init(&rn);
	assert_int_equal(kp_catalog_load_aws(&cat, &rn, dir, NULL, &eb), KP_OK);
	assert_int_equal(cat.n, 2);   /* c1 has no zone, mac9 is not x86_64/arm64 */
	it = must_find(&cat, "a1.large");
	assert_int_equal(count_off(it, KP_CAP_ON_DEMAND, true), 2);
	assert_int_equal(count_off(it, KP_CAP_SPOT, true), 2);
	/* no on-demand price: every offering unavailable */
	it = must_find(&cat, "b1.large");
	assert_int_equal(it->noff, 2);
	assert_int_equal(count_off(it, KP_CAP_ON_DEMAND, false), 1);
	assert_int_equal(count_off(it, KP_CAP_SPOT, false), 1);
	/* an inference accelerator without Neuron */
	assert_label(it, "karpenter.k8s.aws/instance-accelerator-name", "qualcomm-ai100");
	assert_label(it, "karpenter.k8s.aws/instance-accelerator-manufacturer", "qualcomm");
	assert_label(it, "karpenter.k8s.aws/instance-accelerator-count", "8");
	assert_label(it, "karpenter.k8s.aws/instance-network-bandwidth", NULL);
	kp_catalog_free(&cat);

	/* not offered in a zone: never parsed */
	dir = mkdata("d1.large,x86_64,hvm,two,4096,intel,,0,,,,false,,0,,,3,10,,false,nitro,unsupported,on-demand,,,,\n");
	assert_int_equal(kp_catalog_load_aws(&cat, &rn, dir, NULL, &eb), KP_OK);
	assert_int_equal(cat.n, 2);
	kp_catalog_free(&cat);
	/* offered: the error names file, line and column */
	dir = mkdata("a1.large,x86_64,hvm,two,4096,intel,,0,,,,false,,0,,,3,10,,false,nitro,unsupported,on-demand,,,,\n");
	assert_int_equal(kp_catalog_load_aws(&cat, &rn, dir, NULL, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "instance-types.csv:6: vcpu: invalid count \"two\""));
	kp_catalog_free(&cat);
	dir = mkdata("a1.large,x86_64,hvm,2,4096\n");
	assert_int_equal(kp_catalog_load_aws(&cat, &rn, dir, NULL, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "instance-types.csv:6: 5 fields, header has 27"));
	kp_catalog_free(&cat);
}

static void test_aws_missing_data(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = {0};
	(void)state;

	kp_resnames_init(&rn);
	assert_int_equal(kp_catalog_load_aws(&cat, &rn, DATA, "us-west-2", &eb), KP_ERR_NOTFOUND);
	assert_string_equal(eb.msg, "no AWS catalog data for region us-west-2: "
			    "data/aws/instance-type-zones-us-west-2.csv: No such file or directory");
	kp_catalog_free(&cat);
	assert_int_equal(kp_catalog_load_aws(&cat, &rn, "/nonexistent", NULL, &eb), KP_ERR_NOTFOUND);
	kp_catalog_free(&cat);
	assert_int_equal(kp_catalog_load_aws(&cat, &rn, DATA, "../us-east-1", &eb), KP_ERR_INVALID);
	assert_string_equal(eb.msg, "invalid region \"../us-east-1\"");
	kp_catalog_free(&cat);
}

/* ---- kwok ---- */

static void test_kwok(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = {0};
	const struct kp_itype *it;
	int windows = 0, arm = 0;
	(void)state;

	kp_resnames_init(&rn);
	assert_int_equal(kp_catalog_build_kwok(&cat, &rn, &eb), KP_OK);
	assert_string_equal(cat.name, "kwok");
	assert_null(cat.region);
	assert_int_equal(cat.n, 144);
	for (int i = 0; i < cat.n; i++) {
		windows += strcmp(kp_labels_get(&cat.types[i]->labels, KP_LABEL_OS), "windows") == 0;
		arm += strcmp(kp_labels_get(&cat.types[i]->labels, KP_LABEL_ARCH), "arm64") == 0;
		assert_int_equal(cat.types[i]->noff, 8);
		assert_null(kp_labels_get(&cat.types[i]->labels, KP_LABEL_REGION));
	}
	assert_int_equal(windows, 72);
	assert_int_equal(arm, 72);

	it = must_find(&cat, "c-1x-amd64-linux");
	assert_label(it, KP_LABEL_INSTANCE_TYPE, "c-1x-amd64-linux");
	assert_label(it, KP_LABEL_ARCH, "amd64");
	assert_label(it, KP_LABEL_OS, "linux");
	assert_label(it, "karpenter.kwok.sh/instance-size", "1");
	assert_label(it, "karpenter.kwok.sh/instance-family", "c");
	assert_label(it, "karpenter.kwok.sh/instance-cpu", "1");
	assert_label(it, "karpenter.kwok.sh/instance-memory", "2Gi");
	assert_int_equal(it->labels.n, 7);
	assert_int_equal(it->capacity.v[KP_RES_CPU], 1000);
	assert_int_equal(it->capacity.v[KP_RES_MEMORY], 2 * GI);
	assert_int_equal(it->capacity.v[KP_RES_PODS], 16);
	assert_int_equal(it->capacity.v[KP_RES_EPHEMERAL], 20 * GI);
	assert_int_equal(it->allocatable.v[KP_RES_CPU], 900);
	assert_int_equal(it->allocatable.v[KP_RES_MEMORY], 2 * GI - 10 * MI);
	assert_int_equal(it->allocatable.v[KP_RES_EPHEMERAL], 20 * GI);
	for (int i = 0; i < it->noff; i++) {
		/* the exact doubles of kwok/cloudprovider/instance_types.json */
		if (it->off[i].captype == KP_CAP_SPOT)
			assert_true(it->off[i].price == 0.019003238553599998);
		else
			assert_true(it->off[i].price == 0.027147483648);
		assert_true(it->off[i].available);
	}
	assert_true(fabs(it->off[0].price - 0.0190032385536) < 1e-15);
	assert_string_equal(it->off[0].zone, "test-zone-a");

	it = must_find(&cat, "m-256x-arm64-windows");
	assert_label(it, "karpenter.kwok.sh/instance-memory", "2Ti");
	assert_label(it, "karpenter.kwok.sh/instance-family", "m");
	assert_label(it, "karpenter.kwok.sh/instance-size", "256");
	assert_int_equal(it->capacity.v[KP_RES_PODS], 1024);
	it = must_find(&cat, "s-48x-amd64-linux");
	assert_int_equal(it->capacity.v[KP_RES_PODS], 768);
	assert_label(it, "karpenter.kwok.sh/instance-memory", "192Gi");
	kp_catalog_free(&cat);
}

/* ---- JSON loading ---- */

static void test_json_defaults(void **state)
{
	static const char text[] =
		"[{\"name\": \"t.small\", \"capacity\": {\"cpu\": \"2\", \"memory\": \"4Gi\"},\n"
		"  \"offerings\": [{\"zone\": \"z-a\", \"capacityType\": \"spot\", \"price\": 0.5}]},\n"
		" {\"name\": \"t.over\", \"labels\": {\"kubernetes.io/arch\": \"arm64\", \"beta.kubernetes.io/os\": \"windows\",\n"
		"   \"topology.kubernetes.io/region\": \"r1\", \"team\": \"a\"},\n"
		"  \"capacity\": {\"cpu\": 4, \"memory\": \"8Gi\", \"pods\": \"20\", \"fake.com/vendor-a\": \"2\"},\n"
		"  \"overhead\": {\"kubeReserved\": {\"cpu\": \"100m\", \"memory\": \"100Mi\"},\n"
		"               \"systemReserved\": {\"cpu\": 0.5}, \"evictionThreshold\": {\"memory\": \"100Mi\"}},\n"
		"  \"offerings\": [{\"zone\": \"z-a\", \"capacityType\": \"on-demand\", \"price\": 1, \"available\": false},\n"
		"                {\"zone\": \"z-b\", \"capacityType\": \"reserved\", \"price\": 0.25}]},\n"
		" {\"name\": \"t.alloc\", \"capacity\": {\"cpu\": \"2\", \"memory\": \"4Gi\", \"ephemeral-storage\": \"20Gi\"},\n"
		"  \"allocatable\": {\"cpu\": \"1500m\"},\n"
		"  \"offerings\": [{\"zone\": \"z-a\", \"capacityType\": \"on-demand\", \"price\": 0.1}]}]\n";
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = {0};
	const struct kp_itype *it;
	const char *path = write_tmp("defaults.json", text);
	int vendor;
	(void)state;

	kp_resnames_init(&rn);
	assert_int_equal(kp_catalog_load_json(&cat, &rn, path, &eb), KP_OK);
	assert_int_equal(cat.n, 3);
	assert_string_equal(cat.name, path);
	assert_null(cat.region);   /* not every type has r1 */

	it = must_find(&cat, "t.small");
	assert_int_equal(it->capacity.v[KP_RES_PODS], 110);
	assert_label(it, KP_LABEL_ARCH, "amd64");
	assert_label(it, KP_LABEL_OS, "linux");
	assert_label(it, KP_LABEL_INSTANCE_TYPE, "t.small");
	assert_int_equal(it->labels.n, 3);
	assert_int_equal(it->allocatable.v[KP_RES_CPU], 2000);
	assert_int_equal(it->allocatable.v[KP_RES_MEMORY], 4 * GI);
	assert_int_equal(it->allocatable.v[KP_RES_PODS], 110);
	assert_int_equal(it->noff, 1);
	assert_true(it->off[0].available);
	assert_true(it->off[0].price == 0.5);
	assert_null(kp_reqs_get(&it->reqs, "karpenter.k8s.aws/instance-tenancy"));   /* not an AWS type */
	assert_non_null(kp_reqs_get(&it->reqs, KP_LABEL_ZONE));
	assert_int_equal(it->off[0].captype, KP_CAP_SPOT);

	it = must_find(&cat, "t.over");
	assert_label(it, KP_LABEL_ARCH, "arm64");
	assert_label(it, KP_LABEL_OS, "windows");   /* beta key normalized */
	assert_label(it, "team", "a");
	vendor = kp_resnames_find(&rn, "fake.com/vendor-a");
	assert_true(vendor >= KP_RES_NWELLKNOWN);
	assert_int_equal(it->capacity.v[vendor], 2);
	assert_int_equal(it->allocatable.v[vendor], 2);
	assert_int_equal(it->capacity.v[KP_RES_PODS], 20);
	assert_int_equal(it->allocatable.v[KP_RES_CPU], 4000 - 100 - 500);
	assert_int_equal(it->allocatable.v[KP_RES_MEMORY], 8 * GI - 200 * MI);
	assert_int_equal(count_off(it, KP_CAP_ON_DEMAND, false), 1);
	assert_int_equal(count_off(it, KP_CAP_RESERVED, true), 1);
	assert_true(it->off[0].price == 0.25);   /* sorted by price */

	it = must_find(&cat, "t.alloc");
	assert_int_equal(it->allocatable.v[KP_RES_CPU], 1500);
	assert_int_equal(it->allocatable.v[KP_RES_MEMORY], 4 * GI);   /* omitted: from capacity */
	assert_int_equal(it->allocatable.v[KP_RES_EPHEMERAL], 20 * GI);
	assert_int_equal(it->overhead.kube_reserved.v[KP_RES_CPU], 500);
	kp_catalog_free(&cat);

	/* the object form, and a region every type agrees on */
	path = write_tmp("object.json",
			 "{\"instanceTypes\": [{\"name\": \"x\", \"labels\": {\"topology.kubernetes.io/region\": \"r9\"},"
			 " \"capacity\": {\"cpu\": \"1\", \"memory\": \"1Gi\"},"
			 " \"offerings\": [{\"zone\": \"z\", \"capacityType\": \"spot\", \"price\": 0}]}]}");
	assert_int_equal(kp_catalog_load_json(&cat, &rn, path, &eb), KP_OK);
	assert_int_equal(cat.n, 1);
	assert_string_equal(cat.region, "r9");
	kp_catalog_free(&cat);
}

struct json_case {
	const char *text;
	kp_err code;
	const char *msg;   /* expected after "<path>: " */
};

#define OFF_OK "\"offerings\": [{\"zone\": \"z\", \"capacityType\": \"spot\", \"price\": 1}]"
#define CAP_OK "\"capacity\": {\"cpu\": \"1\", \"memory\": \"1Gi\"}"
#define GOOD "{\"name\": \"ok.large\", " CAP_OK ", " OFF_OK "}"

static const struct json_case json_cases[] = {
	{"[" GOOD ", {\"name\": \"m5.large\", " CAP_OK ", \"offerings\": [{\"zone\": \"z\", "
	 "\"capacityType\": \"ondemand\", \"price\": 1}]}]",
	 KP_ERR_INVALID, "instanceTypes[1] (m5.large): offerings[0].capacityType: unknown capacity type \"ondemand\""},
	{"[{" CAP_OK ", " OFF_OK "}]", KP_ERR_INVALID, "instanceTypes[0]: name: required"},
	{"[{\"name\": 5}]", KP_ERR_INVALID, "instanceTypes[0]: name: expected a string, got a number"},
	{"[{\"name\": \"\"}]", KP_ERR_INVALID, "instanceTypes[0]: name: empty"},
	{"[{\"name\": \"a\", " OFF_OK "}]", KP_ERR_INVALID, "instanceTypes[0] (a): capacity: required"},
	{"[{\"name\": \"a\", \"capacity\": {\"memory\": \"1Gi\"}, " OFF_OK "}]", KP_ERR_INVALID,
	 "instanceTypes[0] (a): capacity.cpu: required"},
	{"[{\"name\": \"a\", \"capacity\": {\"cpu\": \"1\"}, " OFF_OK "}]", KP_ERR_INVALID,
	 "instanceTypes[0] (a): capacity.memory: required"},
	{"[{\"name\": \"a\", \"capacity\": {\"cpu\": \"1\", \"memory\": \"-1Gi\"}, " OFF_OK "}]", KP_ERR_RANGE,
	 "instanceTypes[0] (a): capacity.memory: quantity \"-1Gi\" must not be negative"},
	{"[{\"name\": \"a\", \"capacity\": {\"cpu\": true, \"memory\": \"1Gi\"}, " OFF_OK "}]", KP_ERR_INVALID,
	 "instanceTypes[0] (a): capacity.cpu: expected a quantity, got a boolean"},
	{"[{\"name\": \"a\", \"capcity\": {}, " CAP_OK ", " OFF_OK "}]", KP_ERR_INVALID,
	 "instanceTypes[0] (a): capcity: unknown field"},
	{"[{\"name\": \"a\", " CAP_OK "}]", KP_ERR_INVALID, "instanceTypes[0] (a): offerings: required"},
	{"[{\"name\": \"a\", " CAP_OK ", \"offerings\": []}]", KP_ERR_INVALID,
	 "instanceTypes[0] (a): offerings: empty"},
	{"[{\"name\": \"a\", " CAP_OK ", \"offerings\": {}}]", KP_ERR_INVALID,
	 "instanceTypes[0] (a): offerings: expected an array, got an object"},
	{"[{\"name\": \"a\", " CAP_OK ", \"offerings\": [{\"capacityType\": \"spot\", \"price\": 1}]}]",
	 KP_ERR_INVALID, "instanceTypes[0] (a): offerings[0].zone: required"},
	{"[{\"name\": \"a\", " CAP_OK ", \"offerings\": [{\"zone\": \"z\", \"price\": 1}]}]", KP_ERR_INVALID,
	 "instanceTypes[0] (a): offerings[0].capacityType: required"},
	{"[{\"name\": \"a\", " CAP_OK ", \"offerings\": [{\"zone\": \"z\", \"capacityType\": \"spot\"}]}]",
	 KP_ERR_INVALID, "instanceTypes[0] (a): offerings[0].price: required"},
	{"[{\"name\": \"a\", " CAP_OK ", \"offerings\": [{\"zone\": \"z\", \"capacityType\": \"spot\", "
	 "\"price\": \"1\"}]}]",
	 KP_ERR_INVALID, "instanceTypes[0] (a): offerings[0].price: expected a number, got a string"},
	{"[{\"name\": \"a\", " CAP_OK ", \"offerings\": [{\"zone\": \"z\", \"capacityType\": \"spot\", "
	 "\"price\": -1}]}]",
	 KP_ERR_RANGE, "instanceTypes[0] (a): offerings[0].price: -1 is not a price"},
	{"[{\"name\": \"a\", " CAP_OK ", \"offerings\": [{\"zone\": \"z\", \"capacityType\": \"spot\", "
	 "\"price\": 1, \"available\": \"yes\"}]}]",
	 KP_ERR_INVALID, "instanceTypes[0] (a): offerings[0].available: expected a boolean, got a string"},
	{"[{\"name\": \"a\", " CAP_OK ", \"offerings\": [{\"zone\": \"z\", \"capacityType\": \"spot\", "
	 "\"price\": 1, \"prize\": 2}]}]",
	 KP_ERR_INVALID, "instanceTypes[0] (a): offerings[0].prize: unknown field"},
	{"[{\"name\": \"a\", " CAP_OK ", \"offerings\": [{\"zone\": \"z\", \"capacityType\": \"spot\", "
	 "\"price\": 1}, {\"zone\": \"z\", \"capacityType\": \"spot\", \"price\": 2}]}]",
	 KP_ERR_INVALID, "instanceTypes[0] (a): offerings[1]: duplicate of offerings[0] (z spot)"},
	{"[{\"name\": \"a\", " CAP_OK ", \"allocatable\": {\"cpu\": \"2\"}, " OFF_OK "}]", KP_ERR_RANGE,
	 "instanceTypes[0] (a): allocatable.cpu: exceeds capacity"},
	{"[{\"name\": \"a\", " CAP_OK ", \"allocatable\": {\"nvidia.com/gpu\": \"1\"}, " OFF_OK "}]",
	 KP_ERR_INVALID, "instanceTypes[0] (a): allocatable.nvidia.com/gpu: not in capacity"},
	{"[{\"name\": \"a\", " CAP_OK ", \"allocatable\": {}, \"overhead\": {}, " OFF_OK "}]", KP_ERR_INVALID,
	 "instanceTypes[0] (a): allocatable: cannot be combined with overhead"},
	{"[{\"name\": \"a\", " CAP_OK ", \"overhead\": {\"kubeReserved\": {\"cpu\": \"x\"}}, " OFF_OK "}]",
	 KP_ERR_INVALID, "instanceTypes[0] (a): overhead.kubeReserved.cpu: "},
	{"[{\"name\": \"a\", " CAP_OK ", \"overhead\": {\"kubereserved\": {}}, " OFF_OK "}]", KP_ERR_INVALID,
	 "instanceTypes[0] (a): overhead.kubereserved: unknown field"},
	{"[{\"name\": \"a\", \"labels\": {\"x\": 1}, " CAP_OK ", " OFF_OK "}]", KP_ERR_INVALID,
	 "instanceTypes[0] (a): labels.x: expected a string, got a number"},
	{"[{\"name\": \"a\", \"labels\": {\"node.kubernetes.io/instance-type\": \"b\"}, " CAP_OK ", " OFF_OK "}]",
	 KP_ERR_INVALID, "instanceTypes[0] (a): labels.node.kubernetes.io/instance-type: \"b\" does not match the name"},
	{"[{\"name\": \"a\", \"labels\": {\"bad key!\": \"v\"}, " CAP_OK ", " OFF_OK "}]", KP_ERR_INVALID,
	 "instanceTypes[0] (a): labels.bad key!: "},
	{"[" GOOD ", 7]", KP_ERR_INVALID, "instanceTypes[1]: expected an object, got a number"},
	{"[" GOOD ", " GOOD "]", KP_ERR_INVALID, "instanceTypes[1] (ok.large): name: duplicate of instanceTypes[0]"},
	{"[]", KP_ERR_INVALID, "no instance types"},
	{"{\"types\": []}", KP_ERR_INVALID, "expected an array of instance types"},
	{"{\"instanceTypes\": {}}", KP_ERR_INVALID, "expected an array of instance types"},
	{"\"x\"", KP_ERR_INVALID, "1:"},
	{"[{\"name\": \"a\",}]", KP_ERR_INVALID, "1:"},
	{"[{\"name\": \"a\", \"name\": \"b\"}]", KP_ERR_INVALID, "1:"},
};

static void test_json_errors(void **state)
{
	struct kp_resnames rn;
	(void)state;

	for (size_t i = 0; i < KP_ARRAY_LEN(json_cases); i++) {
		const struct json_case *c = &json_cases[i];
		struct kp_catalog cat;
		struct kp_errbuf eb = {0};
		char want[512];
		const char *path = write_tmp("bad.json", c->text);
		kp_err rc;

		kp_resnames_init(&rn);
		rc = kp_catalog_load_json(&cat, &rn, path, &eb);
		if (rc != c->code)
			fail_msg("case %zu: code %d (%s), want %d", i, rc, eb.msg, c->code);
		assert_int_equal(eb.code, c->code);
		snprintf(want, sizeof(want), "%s: %s", path, c->msg);
		if (c->msg[0] == '1' && c->msg[1] == ':')   /* syntax error: "path:1:col: ..." */
			snprintf(want, sizeof(want), "%s:1:", path);
		if (strncmp(eb.msg, want, strlen(want)) != 0)
			fail_msg("case %zu:\n got  %s\n want %s...", i, eb.msg, want);
		kp_catalog_free(&cat);
	}
}

static void test_json_missing_file(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = {0};
	(void)state;

	kp_resnames_init(&rn);
	assert_int_equal(kp_catalog_load_json(&cat, &rn, "/nonexistent/c.json", &eb), KP_ERR_NOTFOUND);
	assert_string_equal(eb.msg, "/nonexistent/c.json: No such file or directory");
	kp_catalog_free(&cat);
	assert_int_equal(kp_catalog_open(&cat, &rn, "nosuch", DATA, &eb), KP_ERR_NOTFOUND);
	assert_string_equal(eb.msg, "unknown catalog (built in: aws, aws-us-east-1, kwok): "
			    "nosuch: No such file or directory");
	kp_catalog_free(&cat);
}

/* ---- round trips ---- */

static void assert_same_types(const struct kp_catalog *a, const struct kp_catalog *b)
{
	assert_int_equal(a->n, b->n);
	for (int i = 0; i < a->n; i++) {
		const struct kp_itype *x = a->types[i], *y = b->types[i];

		assert_string_equal(x->name, y->name);
		assert_int_equal(x->labels.n, y->labels.n);
		for (int k = 0; k < x->labels.n; k++) {
			assert_string_equal(x->labels.kv[k].key, y->labels.kv[k].key);
			assert_string_equal(x->labels.kv[k].value, y->labels.kv[k].value);
		}
		for (int r = 0; r < KP_RES_MAX; r++) {
			assert_int_equal(x->capacity.v[r], y->capacity.v[r]);
			assert_int_equal(x->allocatable.v[r], y->allocatable.v[r]);
		}
		assert_int_equal(x->noff, y->noff);
		for (int k = 0; k < x->noff; k++) {
			assert_string_equal(x->off[k].zone, y->off[k].zone);
			assert_int_equal(x->off[k].captype, y->off[k].captype);
			assert_true(x->off[k].price == y->off[k].price);
			assert_int_equal(x->off[k].available, y->off[k].available);
		}
		assert_int_equal(x->reqs.n, y->reqs.n);
	}
}

static void round_trip(const char *name)
{
	struct kp_catalog a, b;
	struct kp_resnames rn;
	struct kp_errbuf eb = {0};
	struct kp_buf j1, j2;
	const char *path;

	kp_resnames_init(&rn);
	kp_buf_init(&j1, KP_CATALOG_JSON_MAX);
	kp_buf_init(&j2, KP_CATALOG_JSON_MAX);
	assert_int_equal(kp_catalog_open(&a, &rn, name, DATA, &eb), KP_OK);
	assert_int_equal(kp_catalog_to_json(&a, &rn, &j1, &eb), KP_OK);
	path = write_tmp("round.json", j1.data);
	assert_int_equal(kp_catalog_open(&b, &rn, path, DATA, &eb), KP_OK);
	assert_same_types(&a, &b);
	assert_int_equal(kp_catalog_to_json(&b, &rn, &j2, &eb), KP_OK);
	assert_int_equal(j1.len, j2.len);
	assert_int_equal(memcmp(j1.data, j2.data, j1.len), 0);
	kp_buf_free(&j1);
	kp_buf_free(&j2);
	kp_catalog_free(&a);
	kp_catalog_free(&b);
}

static void test_round_trip_kwok(void **state)
{
	(void)state;
	round_trip("kwok");
}

static void test_round_trip_aws(void **state)
{
	(void)state;
	round_trip(NULL);
}

static void test_json_shape(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = {0};
	struct kp_buf out;
	const char *m5;
	(void)state;

	kp_resnames_init(&rn);
	kp_buf_init(&out, KP_CATALOG_JSON_MAX);
	assert_int_equal(kp_catalog_open(&cat, &rn, "aws-us-east-1", DATA, &eb), KP_OK);
	assert_int_equal(kp_catalog_to_json(&cat, &rn, &out, &eb), KP_OK);
	m5 = strstr(out.data, "\"name\": \"m5.large\"");
	assert_non_null(m5);
	assert_non_null(strstr(m5, "\"capacity\": {\"cpu\": \"2\", \"memory\": \"7577Mi\", "
				   "\"ephemeral-storage\": \"20Gi\", \"pods\": \"29\", \"vpc.amazonaws.com/pod-eni\": \"9\"}"));
	assert_non_null(strstr(m5, "\"allocatable\": {\"cpu\": \"1930m\", \"memory\": \"6903Mi\", "
				   "\"ephemeral-storage\": \"17Gi\", \"pods\": \"29\", \"vpc.amazonaws.com/pod-eni\": \"9\"}"));
	assert_non_null(strstr(m5, "{\"zone\": \"us-east-1a\", \"capacityType\": \"on-demand\", \"price\": 0.096, "
				   "\"available\": true}"));
	kp_buf_free(&out);

	/* the cap is honoured */
	kp_buf_init(&out, 1000);
	assert_int_equal(kp_catalog_to_json(&cat, &rn, &out, &eb), KP_ERR_LIMIT);
	kp_buf_free(&out);
	kp_catalog_free(&cat);
}

static void test_json_escaping(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = {0};
	struct kp_buf out;
	const char *path = write_tmp("esc.json",
				     "[{\"name\": \"a\", \"labels\": {\"example.com/k\": \"v_1.x-Y\"},"
				     " \"capacity\": {\"cpu\": \"1\", \"memory\": \"1Gi\"},"
				     " \"offerings\": [{\"zone\": \"z\\\"q\", \"capacityType\": \"spot\", \"price\": 1e-7}]}]");
	(void)state;

	kp_resnames_init(&rn);
	kp_buf_init(&out, 1 << 20);
	/* a quote is not a valid label value: zones must be label values */
	assert_int_equal(kp_catalog_load_json(&cat, &rn, path, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "offerings[0].zone: "));
	kp_catalog_free(&cat);
	path = write_tmp("esc.json", "[{\"name\": \"a\", \"capacity\": {\"cpu\": 0.1, \"memory\": \"1Gi\"},"
				     " \"offerings\": [{\"zone\": \"z\", \"capacityType\": \"spot\", \"price\": 1e-7}]}]");
	assert_int_equal(kp_catalog_load_json(&cat, &rn, path, &eb), KP_OK);
	assert_int_equal(cat.types[0]->capacity.v[KP_RES_CPU], 100);   /* 0.1 read as "0.1", not rounded up */
	assert_int_equal(kp_catalog_to_json(&cat, &rn, &out, &eb), KP_OK);
	assert_non_null(strstr(out.data, "\"price\": 1e-07,"));
	assert_non_null(strstr(out.data, "\"cpu\": \"100m\""));
	kp_buf_free(&out);
	kp_catalog_free(&cat);
}

/* ---- table and command ---- */

static void test_table(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = {0};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	const char *line;
	(void)state;

	assert_non_null(f);
	kp_resnames_init(&rn);
	assert_int_equal(kp_catalog_build_kwok(&cat, &rn, &eb), KP_OK);
	assert_int_equal(kp_catalog_print_table(&cat, &rn, f, &eb), KP_OK);
	fclose(f);
	assert_true(strncmp(text, "NAME ", 5) == 0);
	assert_non_null(strstr(text, "CPU"));
	assert_non_null(strstr(text, "ON-DEMAND"));
	line = strstr(text, "\nc-1x-amd64-linux ");
	assert_non_null(line);
	line++;
	{
		static const char tail[] = "  0.0190      0.0271  test-zone-a,test-zone-b,test-zone-c,test-zone-d\n";
		const char *nl = strchr(line, '\n');
		assert_string_equal(strstr(line, tail), nl + 1 - (sizeof(tail) - 1));
	}
	assert_non_null(strstr(line, " 2Gi "));
	assert_non_null(strstr(line, " amd64 "));
	free(text);
	kp_catalog_free(&cat);
}

/* Runs the command with stdout to out_path and stderr to err_path. */
static int run_cmd(int argc, char **argv, const char *out_path, const char *err_path)
{
	int saved_out, saved_err, rc;

	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	assert_non_null(freopen(out_path, "w", stdout));
	assert_non_null(freopen(err_path, "w", stderr));
	rc = kp_cmd_catalog(argc, argv, DATA);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	clearerr(stdout);
	clearerr(stderr);
	return rc;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 22);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 22) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_command(void **state)
{
	char out[300], err[300], *text;
	const char *bad = write_tmp("cmd-bad.json", "[{\"name\": \"m5.large\", \"capacity\": {\"cpu\": \"1\", "
						    "\"memory\": \"1Gi\"}, \"offerings\": [{\"zone\": \"z\", "
						    "\"capacityType\": \"ondemand\", \"price\": 1}]}]");
	char *a_json[] = {"catalog", "--catalog", "kwok", "-o", "json", NULL};
	char *a_table[] = {"catalog", "--catalog=kwok", NULL};
	char *a_ojson[] = {"catalog", "-ojson", "--catalog", "kwok", NULL};
	char *a_bad[] = {"catalog", "--catalog", (char *)bad, NULL};
	char *a_fmt[] = {"catalog", "-o", "yaml", NULL};
	char *a_opt[] = {"catalog", "--frobnicate", NULL};
	char *a_noval[] = {"catalog", "--catalog", NULL};
	char *a_help[] = {"catalog", "--help", NULL};
	(void)state;

	tmp_init();
	snprintf(out, sizeof(out), "%s/out.txt", tmpdir);
	snprintf(err, sizeof(err), "%s/err.txt", tmpdir);

	assert_int_equal(run_cmd(5, a_json, out, err), KP_EXIT_OK);
	text = slurp(out);
	assert_true(text[0] == '[');
	assert_non_null(strstr(text, "\"name\": \"c-1x-amd64-linux\""));
	free(text);
	assert_int_equal(run_cmd(4, a_ojson, out, err), KP_EXIT_OK);
	text = slurp(out);
	assert_true(text[0] == '[');
	free(text);
	assert_int_equal(run_cmd(2, a_table, out, err), KP_EXIT_OK);
	text = slurp(out);
	assert_true(strncmp(text, "NAME", 4) == 0);
	free(text);

	assert_int_equal(run_cmd(3, a_bad, out, err), KP_EXIT_USAGE);
	text = slurp(err);
	assert_non_null(strstr(text, "cmd-bad.json: instanceTypes[0] (m5.large): offerings[0].capacityType: "
				     "unknown capacity type \"ondemand\""));
	free(text);
	assert_int_equal(run_cmd(3, a_fmt, out, err), KP_EXIT_USAGE);
	text = slurp(err);
	assert_non_null(strstr(text, "unknown output format \"yaml\""));
	free(text);
	assert_int_equal(run_cmd(2, a_opt, out, err), KP_EXIT_USAGE);
	assert_int_equal(run_cmd(2, a_noval, out, err), KP_EXIT_USAGE);
	assert_int_equal(run_cmd(2, a_help, out, err), KP_EXIT_OK);
	text = slurp(out);
	assert_non_null(strstr(text, "usage: karpenter catalog"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_quotes_crlf),
		cmocka_unit_test(test_csv_errors),
		cmocka_unit_test(test_csv_size_cap),
		cmocka_unit_test(test_aws_formulas),
		cmocka_unit_test(test_spot_estimate),
		cmocka_unit_test(test_aws_counts_and_filters),
		cmocka_unit_test(test_aws_m5_large),
		cmocka_unit_test(test_aws_other_types),
		cmocka_unit_test(test_aws_requirements),
		cmocka_unit_test(test_aws_private_data),
		cmocka_unit_test(test_aws_missing_data),
		cmocka_unit_test(test_kwok),
		cmocka_unit_test(test_json_defaults),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_json_missing_file),
		cmocka_unit_test(test_round_trip_kwok),
		cmocka_unit_test(test_round_trip_aws),
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
