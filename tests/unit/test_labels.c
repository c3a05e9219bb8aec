/*
 * test_labels.c - sorted label maps, beta-key normalization, the well-known
 * and restricted key tables, and Kubernetes key/value syntax.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/labels.h"

static struct kp_arena A;

static int setup(void **state)
{
	(void)state;
	kp_arena_init(&A);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kp_arena_free(&A);
	return 0;
}

static void test_map_set_get(void **state)
{
	struct kp_labels l = { 0 }, c;
	char keys[200][8];
	(void)state;

	assert_null(kp_labels_get(&l, "a"));
	assert_false(kp_labels_has(&l, "a"));
	assert_null(kp_labels_get(NULL, "a"));
	/* insert in a scrambled order; the array stays sorted and grows */
	for (int i = 0; i < 200; i++) {
		int k = (i * 73) % 200;
		snprintf(keys[k], sizeof(keys[k]), "k%03d", k);
		assert_int_equal(kp_labels_set(&l, &A, keys[k], keys[k]), KP_OK);
	}
	assert_int_equal(l.n, 200);
	assert_true(l.cap >= 200);
	for (int i = 1; i < l.n; i++)
		assert_true(strcmp(l.kv[i - 1].key, l.kv[i].key) < 0);
	for (int i = 0; i < 200; i++) {
		assert_string_equal(kp_labels_get(&l, keys[i]), keys[i]);
		assert_true(kp_labels_has(&l, keys[i]));
	}
	assert_null(kp_labels_get(&l, "k200"));
	assert_null(kp_labels_get(&l, "a"));
	assert_null(kp_labels_get(&l, "z"));

	/* replace keeps one entry */
	assert_int_equal(kp_labels_set(&l, &A, "k100", "new"), KP_OK);
	assert_int_equal(l.n, 200);
	assert_string_equal(kp_labels_get(&l, "k100"), "new");

	/* copy is independent */
	assert_int_equal(kp_labels_copy(&c, &A, &l), KP_OK);
	assert_int_equal(c.n, 200);
	assert_int_equal(kp_labels_set(&c, &A, "extra", "1"), KP_OK);
	assert_int_equal(c.n, 201);
	assert_int_equal(l.n, 200);
	assert_null(kp_labels_get(&l, "extra"));
	assert_int_equal(kp_labels_copy(&c, &A, NULL), KP_OK);
	assert_int_equal(c.n, 0);
}

static void test_normalize(void **state)
{
	(void)state;
	assert_string_equal(kp_label_normalize("failure-domain.beta.kubernetes.io/zone"), KP_LABEL_ZONE);
	assert_string_equal(kp_label_normalize("failure-domain.beta.kubernetes.io/region"), KP_LABEL_REGION);
	assert_string_equal(kp_label_normalize("beta.kubernetes.io/arch"), KP_LABEL_ARCH);
	assert_string_equal(kp_label_normalize("beta.kubernetes.io/os"), KP_LABEL_OS);
	assert_string_equal(kp_label_normalize("beta.kubernetes.io/instance-type"), KP_LABEL_INSTANCE_TYPE);
	const char *k = "topology.kubernetes.io/zone";
	assert_ptr_equal(kp_label_normalize(k), k);
	k = "beta.kubernetes.io/other";
	assert_ptr_equal(kp_label_normalize(k), k);
	assert_null(kp_label_normalize(NULL));
}

static void test_well_known(void **state)
{
	static const char *const yes[] = {
		"karpenter.sh/nodepool", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
		"node.kubernetes.io/instance-type", "kubernetes.io/arch", "kubernetes.io/os",
		"karpenter.sh/capacity-type", "node.kubernetes.io/windows-build",
		"karpenter.k8s.aws/instance-category", "karpenter.k8s.aws/instance-family",
		"karpenter.k8s.aws/instance-generation", "karpenter.k8s.aws/instance-size",
		"karpenter.k8s.aws/instance-cpu", "karpenter.k8s.aws/instance-cpu-manufacturer",
		"karpenter.k8s.aws/instance-cpu-sustained-clock-speed-mhz", "karpenter.k8s.aws/instance-memory",
		"karpenter.k8s.aws/instance-ebs-bandwidth", "karpenter.k8s.aws/instance-network-bandwidth",
		"karpenter.k8s.aws/instance-gpu-name", "karpenter.k8s.aws/instance-gpu-manufacturer",
		"karpenter.k8s.aws/instance-gpu-count", "karpenter.k8s.aws/instance-gpu-memory",
		"karpenter.k8s.aws/instance-accelerator-name", "karpenter.k8s.aws/instance-accelerator-manufacturer",
		"karpenter.k8s.aws/instance-accelerator-count", "karpenter.k8s.aws/instance-hypervisor",
		"karpenter.k8s.aws/instance-encryption-in-transit-supported", "karpenter.k8s.aws/instance-local-nvme",
		"karpenter.k8s.aws/instance-capability-flex", "karpenter.k8s.aws/instance-tenancy",
		"karpenter.k8s.aws/capacity-reservation-id", "karpenter.k8s.aws/capacity-reservation-type",
		"karpenter.k8s.aws/capacity-reservation-interruptible", "karpenter.k8s.aws/nitro-sandbox",
		"karpenter.k8s.aws/placement-group-id", "karpenter.k8s.aws/placement-group-partition",
		"topology.k8s.aws/zone-id", "karpenter.kwok.sh/instance-size", "karpenter.kwok.sh/instance-family",
		"karpenter.kwok.sh/instance-cpu", "karpenter.kwok.sh/instance-memory",
	};
	static const char *const no[] = {
		"kubernetes.io/hostname", "karpenter.sh/registered", "karpenter.sh/initialized",
		"karpenter.k8s.aws/ec2nodeclass", "team", "", "failure-domain.beta.kubernetes.io/zone",
		"topology.kubernetes.io/zon", "topology.kubernetes.io/zonee",
	};
	int n;
	const char *const *ordered = kp_label_well_known_keys(&n);
	(void)state;

	for (size_t i = 0; i < KP_ARRAY_LEN(yes); i++)
		if (!kp_label_is_well_known(yes[i]))
			fail_msg("%s should be well known", yes[i]);
	for (size_t i = 0; i < KP_ARRAY_LEN(no); i++)
		if (kp_label_is_well_known(no[i]))
			fail_msg("%s should not be well known", no[i]);
	assert_false(kp_label_is_well_known(NULL));
	/* the ordered list holds exactly these keys (the sorted table is searchable) */
	assert_int_equal(n, (int)KP_ARRAY_LEN(yes));
	for (int i = 0; i < n; i++)
		assert_true(kp_label_is_well_known(ordered[i]));
	/* the interned rows are strictly sorted (address order = strcmp order) */
	assert_int_equal(kp__well_known_n, n);
	for (int i = 1; i < kp__well_known_n; i++)
		if (strcmp(kp__well_known[i - 1], kp__well_known[i]) >= 0)
			fail_msg("well-known table not sorted at %s", kp__well_known[i]);
	for (int i = 0; i < kp__well_known_n; i++)
		assert_true(strlen(kp__well_known[i]) < KP__WK_ROW);
	assert_string_equal(ordered[0], "karpenter.sh/nodepool");
	assert_string_equal(ordered[1], "topology.kubernetes.io/zone");
}

static void test_intern(void **state)
{
	char buf[64];
	const char *a, *b;
	(void)state;

	snprintf(buf, sizeof(buf), "%s", "topology.kubernetes.io/zone");
	a = kp_label_intern(buf);
	b = kp_label_intern(KP_LABEL_ZONE);
	assert_ptr_not_equal(a, buf);
	assert_ptr_equal(a, b);
	assert_string_equal(a, "topology.kubernetes.io/zone");
	assert_ptr_equal(kp_label_intern(a), a);
	assert_true(kp__is_interned(a));
	assert_false(kp__is_interned(buf));
	assert_true(kp_label_is_well_known(a));
	snprintf(buf, sizeof(buf), "%s", "team");
	assert_ptr_equal(kp_label_intern(buf), buf);
	assert_null(kp_label_intern(NULL));
	/* interned keys compare by address in strcmp order */
	a = kp_label_intern("karpenter.k8s.aws/instance-category");
	b = kp_label_intern("karpenter.k8s.aws/instance-cpu");
	assert_true((uintptr_t)a < (uintptr_t)b);
}

static void test_known_values(void **state)
{
	int n;
	const char *const *v = kp_label_known_values("karpenter.sh/capacity-type", &n);
	(void)state;

	assert_int_equal(n, 3);
	assert_string_equal(v[0], "on-demand");
	assert_string_equal(v[1], "reserved");
	assert_string_equal(v[2], "spot");
	v = kp_label_known_values("karpenter.k8s.aws/instance-tenancy", &n);
	assert_int_equal(n, 2);
	assert_string_equal(v[0], "dedicated");
	assert_string_equal(v[1], "default");
	assert_null(kp_label_known_values("topology.kubernetes.io/zone", &n));
	assert_int_equal(n, 0);
}

static void test_restricted(void **state)
{
	(void)state;
	/* NodePool: karpenter.sh/nodepool itself, hostname, restricted domains except well-known keys */
	assert_true(kp_label_is_restricted("karpenter.sh/nodepool"));
	assert_true(kp_label_is_restricted("kubernetes.io/hostname"));
	assert_true(kp_label_is_restricted("karpenter.sh/custom"));
	assert_true(kp_label_is_restricted("karpenter.sh/registered"));
	assert_true(kp_label_is_restricted("sub.karpenter.sh/x"));
	assert_true(kp_label_is_restricted("karpenter.k8s.aws/ec2nodeclass"));
	assert_true(kp_label_is_restricted("karpenter.k8s.aws/anything"));
	assert_true(kp_label_is_restricted("karpenter.kwok.sh/kwoknodeclass"));
	assert_false(kp_label_is_restricted("karpenter.sh/capacity-type"));
	assert_false(kp_label_is_restricted("karpenter.k8s.aws/instance-family"));
	assert_false(kp_label_is_restricted("topology.kubernetes.io/zone"));
	assert_false(kp_label_is_restricted("team"));
	assert_false(kp_label_is_restricted("notkarpenter.sh/x"));       /* not a subdomain */
	assert_false(kp_label_is_restricted("karpenter.shx/x"));
	assert_false(kp_label_is_restricted("example.com/karpenter.sh"));
	assert_false(kp_label_is_restricted("node.kubernetes.io/foo"));  /* relaxed in v1.9 */
	assert_false(kp_label_is_restricted("kubernetes.io/foo"));
	assert_false(kp_label_is_restricted(NULL));

	/* pods: IsRestrictedLabel exactly, karpenter.sh/nodepool allowed */
	assert_false(kp_label_is_restricted_for_pod("karpenter.sh/nodepool"));
	assert_true(kp_label_is_restricted_for_pod("kubernetes.io/hostname"));
	assert_true(kp_label_is_restricted_for_pod("karpenter.sh/initialized"));
	assert_false(kp_label_is_restricted_for_pod("karpenter.sh/capacity-type"));
	assert_false(kp_label_is_restricted_for_pod("app"));
}

static void expect_key(const char *key, bool ok, const char *msg)
{
	struct kp_errbuf eb = { 0 };
	bool got = kp_label_key_valid(key, &eb);

	if (got != ok)
		fail_msg("key \"%s\": valid=%d, want %d (%s)", key ? key : "(null)", got, ok, eb.msg);
	if (!ok && msg && !strstr(eb.msg, msg))
		fail_msg("key \"%s\": message \"%s\" lacks \"%s\"", key, eb.msg, msg);
}

static void test_key_syntax(void **state)
{
	char long_name[80], long_prefix[300];
	(void)state;

	expect_key("app", true, NULL);
	expect_key("a", true, NULL);
	expect_key("A_b-c.d9", true, NULL);
	expect_key("example.com/app", true, NULL);
	expect_key("a-b.c-d/x", true, NULL);
	expect_key("kubernetes.io/hostname", true, NULL);
	expect_key("", false, "empty");
	expect_key(NULL, false, "empty");
	expect_key("/app", false, "empty prefix");
	expect_key("example.com/", false, "empty name part");
	expect_key("a/b/c", false, "more than one '/'");
	expect_key("Example.com/app", false, "DNS-1123");
	expect_key("-a.com/app", false, "DNS-1123");
	expect_key("a-.com/app", false, "DNS-1123");
	expect_key("a..com/app", false, "DNS-1123");
	expect_key("a.com./app", false, "DNS-1123");
	expect_key("a_b.com/app", false, "DNS-1123");
	expect_key("-app", false, "name part");
	expect_key("app-", false, "name part");
	expect_key("ap p", false, "name part");
	expect_key("app!", false, "name part");
	expect_key(".app", false, "name part");

	memset(long_name, 'a', 63);
	long_name[63] = '\0';
	expect_key(long_name, true, NULL);
	long_name[63] = 'a';
	long_name[64] = '\0';
	expect_key(long_name, false, "longer than 63");

	memset(long_prefix, 'a', 253);
	memcpy(long_prefix + 253, "/x", 3);
	expect_key(long_prefix, true, NULL);
	memset(long_prefix, 'a', 254);
	memcpy(long_prefix + 254, "/x", 3);
	expect_key(long_prefix, false, "longer than 253");
}

static void test_value_syntax(void **state)
{
	struct kp_errbuf eb = { 0 };
	char v[80];
	(void)state;

	assert_true(kp_label_value_valid("", &eb));
	assert_true(kp_label_value_valid(NULL, &eb));
	assert_true(kp_label_value_valid("us-east-1a", &eb));
	assert_true(kp_label_value_valid("A.b_c-9", &eb));
	assert_true(kp_label_value_valid("x", &eb));
	assert_false(kp_label_value_valid("-x", &eb));
	assert_false(kp_label_value_valid("x_", &eb));
	assert_false(kp_label_value_valid("a/b", &eb));
	assert_false(kp_label_value_valid("a b", &eb));
	assert_true(strstr(eb.msg, "\"a b\"") != NULL);
	memset(v, 'v', 63);
	v[63] = '\0';
	assert_true(kp_label_value_valid(v, &eb));
	v[63] = 'v';
	v[64] = '\0';
	assert_false(kp_label_value_valid(v, &eb));
	assert_string_equal(eb.msg, "label value is longer than 63 characters");
	assert_int_equal(eb.code, KP_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_map_set_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_normalize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_well_known, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intern, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restricted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_value_syntax, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
