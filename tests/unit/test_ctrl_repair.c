/*
 * test_ctrl_repair.c - node repair's policy evaluation (src/ctrl/repair.c):
 * the policies come from the provider's ops table (a test provider with its
 * own table, one with none, the metrics decorator in between), the real
 * providers' tables (AWS's, the simulated cloud's, the remote's) and their
 * nodeclass_optional property, the condition whose toleration ends first,
 * the toleration override, and Karpenter's 20% rule. The end-to-end repair
 * (a NodeClaim deleted, the pod rescheduled, event, log) is in
 * tests/e2e/parity.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cloud/aws/provider.h"
#include "cloud/fake.h"
#include "cloud/remote.h"
#include "ctrl/ext_int.h"

#define T(s) ((int64_t)(s) * 1000)
#define MIN 60000

/* 2024-06-01T00:00:00Z */
#define T0 ((int64_t)1717200000)

static json_t *node_with(const char *conds_json)
{
	char buf[1024];
	json_t *n;

	snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"n\"},\"status\":{\"conditions\":%s}}", conds_json);
	n = json_loads(buf, 0, NULL);
	assert_non_null(n);
	return n;
}

/* ---- a provider that is nothing but an ops table (the interface itself) ---- */

static const struct kp_cloud_repair_policy test_table[] = {
	{ "ExampleReady", "False", 5 * MIN },
	{ "BadNode", "True", 1 * MIN },
};

static const struct kp_cloud_repair_policy *test_repair(struct kp_cloud *cp, int *n)
{
	(void)cp;
	*n = (int)KP_ARRAY_LEN(test_table);
	return test_table;
}

static enum kp_cloud_err t_create(struct kp_cloud *cp, const struct kp_nodeclaim *claim, struct kp_arena *a,
				  struct kp_instance *out, struct kp_errbuf *eb)
{
	(void)cp, (void)claim, (void)a, (void)out;
	return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "not in this test");
}
static enum kp_cloud_err t_delete(struct kp_cloud *cp, const char *id, struct kp_errbuf *eb)
{
	(void)cp, (void)id;
	return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "not in this test");
}
static enum kp_cloud_err t_get(struct kp_cloud *cp, const char *id, struct kp_arena *a, struct kp_instance *out,
			       struct kp_errbuf *eb)
{
	(void)cp, (void)id, (void)a, (void)out;
	return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "not in this test");
}
static enum kp_cloud_err t_list(struct kp_cloud *cp, struct kp_arena *a, struct kp_instance **out, int *n,
				struct kp_errbuf *eb)
{
	(void)cp, (void)a, (void)out, (void)n;
	return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "not in this test");
}
static enum kp_cloud_err t_types(struct kp_cloud *cp, const struct kp_nodepool *np, const struct kp_catalog **out,
				 struct kp_errbuf *eb)
{
	(void)cp, (void)np, (void)out;
	return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "not in this test");
}
static enum kp_cloud_err t_drifted(struct kp_cloud *cp, const struct kp_nodeclaim *claim, char *reason, size_t n,
				   struct kp_errbuf *eb)
{
	(void)cp, (void)claim, (void)reason, (void)n;
	return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "not in this test");
}
static void t_destroy(struct kp_cloud *cp)
{
	(void)cp;
}

/* named "aws" on purpose: the name must not decide anything */
static const struct kp_cloud_ops with_ops = {
	.version = KP_CLOUD_VERSION, .name = "aws", .create = t_create, .delete = t_delete, .get = t_get,
	.list = t_list, .instance_types = t_types, .is_drifted = t_drifted, .destroy = t_destroy,
	.repair_policies = test_repair, .nodeclass_optional = true,
};
static const struct kp_cloud_ops without_ops = {
	.version = KP_CLOUD_VERSION, .name = "fake", .create = t_create, .delete = t_delete, .get = t_get,
	.list = t_list, .instance_types = t_types, .is_drifted = t_drifted, .destroy = t_destroy,
};

static const char *const UNHEALTHY =
	"[{\"type\":\"Ready\",\"status\":\"False\",\"lastTransitionTime\":\"2024-06-01T00:00:00Z\"},"
	"{\"type\":\"ExampleReady\",\"status\":\"False\",\"lastTransitionTime\":\"2024-06-01T00:01:00Z\"}]";

/* The ctrl side takes the provider's table from its ops, whatever its name. */
static void test_policies_from_ops(void **state)
{
	struct kp_cloud with = { &with_ops, NULL }, without = { &without_ops, NULL };
	const struct kp_cloud_repair_policy *p;
	json_t *node = node_with(UNHEALTHY);
	int64_t end;
	int n = -1;

	(void)state;
	p = kp_ctrl__repair_policies(&with, &n);
	assert_ptr_equal(p, test_table);
	assert_int_equal(n, 2);
	/* Ready False is no policy of this provider: ExampleReady decides */
	assert_string_equal(kp_ctrl__repair_match(node, p, n, -1, &end), "ExampleReady");
	assert_true(end == T(T0 + 60) + 5 * MIN);

	/* a provider without repair policies: nothing is unhealthy */
	n = -1;
	p = kp_ctrl__repair_policies(&without, &n);
	assert_null(p);
	assert_int_equal(n, 0);
	assert_null(kp_ctrl__repair_match(node, p, n, -1, &end));
	n = -1;
	assert_null(kp_ctrl__repair_policies(NULL, &n));
	assert_int_equal(n, 0);

	/* the property is read from the table too */
	assert_true(kp_cloud_nodeclass_optional(&with));
	assert_false(kp_cloud_nodeclass_optional(&without));
	assert_false(kp_cloud_nodeclass_optional(NULL));
	json_decref(node);
}

/* The controller holds the cloudprovider metrics decorator: it carries the
 * inner provider's policies and property (and none when the inner has none). */
static void test_decorator_forwards(void **state)
{
	struct kp_cloud with = { &with_ops, NULL }, without = { &without_ops, NULL }, *dec = NULL;
	struct kp_errbuf eb = { 0 };
	int n = -1;

	(void)state;
	assert_int_equal(kp_ctrl__cloud_metrics_new(&with, NULL, NULL, NULL, NULL, NULL, &dec, &eb), KP_OK);
	assert_ptr_not_equal(dec, &with);
	assert_ptr_equal(kp_ctrl__repair_policies(dec, &n), test_table);
	assert_int_equal(n, 2);
	assert_true(kp_cloud_nodeclass_optional(dec));
	kp_cloud_destroy(dec);

	assert_int_equal(kp_ctrl__cloud_metrics_new(&without, NULL, NULL, NULL, NULL, NULL, &dec, &eb), KP_OK);
	n = -1;
	assert_null(dec->ops->repair_policies);
	assert_null(kp_ctrl__repair_policies(dec, &n));
	assert_int_equal(n, 0);
	assert_false(kp_cloud_nodeclass_optional(dec));
	kp_cloud_destroy(dec);
}

/* AWS's table (aws/karpenter-provider-aws RepairPolicies). */
static void check_aws_table(const struct kp_cloud_repair_policy *p, int n)
{
	bool agent[5] = { false };
	static const char *const types[5] = { "AcceleratedHardwareReady", "StorageReady", "NetworkingReady",
					      "KernelReady", "ContainerRuntimeReady" };

	assert_int_equal(n, 7);
	for (int i = 0; i < n; i++) {
		if (strcmp(p[i].type, "Ready") == 0) {
			assert_true(strcmp(p[i].status, "False") == 0 || strcmp(p[i].status, "Unknown") == 0);
			assert_int_equal(p[i].toleration_ms, 30 * MIN);
			continue;
		}
		for (int k = 0; k < 5; k++)
			if (strcmp(p[i].type, types[k]) == 0) {
				agent[k] = true;
				assert_string_equal(p[i].status, "False");
				assert_int_equal(p[i].toleration_ms, k == 0 ? 10 * MIN : 30 * MIN);
			}
	}
	for (int k = 0; k < 5; k++)
		assert_true(agent[k]);
}

/* A loopback port nothing listens on (bound, not listening: refused). */
static int refused_port(int *fd)
{
	struct sockaddr_in sa = { 0 };
	socklen_t len = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*fd >= 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

/* The real providers, built through their constructors. */
static void test_provider_tables(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_cloud *fake = NULL, *remote = NULL, *aws = NULL;
	struct kp_cloud_aws_opts ao;
	struct kp_errbuf eb = { 0 };
	const struct kp_cloud_repair_policy *p, *q;
	char url[64];
	int n = -1, m = -1, fd, port;

	(void)state;
	kp_catalog_init(&cat);
	kp_resnames_init(&rn);

	/* the simulated cloud: kwok's Ready 10 min + the agent conditions;
	 * node classes optional */
	assert_int_equal(kp_cloud_fake_new(&cat, NULL, &fake, &eb), KP_OK);
	p = kp_ctrl__repair_policies(fake, &n);
	assert_non_null(p);
	assert_int_equal(n, 7);
	assert_string_equal(p[0].type, "Ready");
	assert_int_equal(p[0].toleration_ms, 10 * MIN);   /* kwok's */
	assert_string_equal(p[1].status, "Unknown");
	assert_int_equal(p[1].toleration_ms, 10 * MIN);
	assert_string_equal(p[6].type, "ContainerRuntimeReady");
	assert_true(kp_cloud_nodeclass_optional(fake));

	/* the remote provider serves the simulated cloud: the same table, and
	 * (as before the property existed) classes not optional */
	port = refused_port(&fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	assert_int_equal(kp_cloud_remote_new(url, &cat, &rn, &remote, &eb), KP_OK);
	q = kp_ctrl__repair_policies(remote, &m);
	assert_ptr_equal(q, p);
	assert_int_equal(m, n);
	assert_false(kp_cloud_nodeclass_optional(remote));

	/* AWS: credentials from the environment, EC2 on the refused port (its
	 * instance-type refresh fails at once; nothing leaves loopback) */
	setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	kp_cloud_aws_opts_init(&ao);
	ao.cluster = "test";
	ao.base = &cat;
	ao.region = "us-east-1";
	ao.endpoint = url;
	ao.max_attempts = 1;
	assert_int_equal(kp_cloud_aws_new(&ao, &aws, &eb), KP_OK);
	n = -1;
	p = kp_ctrl__repair_policies(aws, &n);
	assert_non_null(p);
	check_aws_table(p, n);
	assert_false(kp_cloud_nodeclass_optional(aws));

	kp_cloud_destroy(aws);
	kp_cloud_destroy(remote);
	kp_cloud_destroy(fake);
	close(fd);
	kp_catalog_free(&cat);
}

/* AWS's values, for the matching tests below. */
static const struct kp_cloud_repair_policy aws_like[] = {
	{ "Ready", "False", 30 * MIN },
	{ "Ready", "Unknown", 30 * MIN },
	{ "AcceleratedHardwareReady", "False", 10 * MIN },
	{ "StorageReady", "False", 30 * MIN },
	{ "NetworkingReady", "False", 30 * MIN },
	{ "KernelReady", "False", 30 * MIN },
	{ "ContainerRuntimeReady", "False", 30 * MIN },
};

static void test_match(void **state)
{
	int n = (int)KP_ARRAY_LEN(aws_like);
	const struct kp_cloud_repair_policy *p = aws_like;
	int64_t end;
	json_t *node;

	(void)state;
	/* healthy: Ready True, an agent condition True */
	node = node_with("[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"2024-06-01T00:00:00Z\"},"
			 "{\"type\":\"KernelReady\",\"status\":\"True\",\"lastTransitionTime\":\"2024-06-01T00:00:00Z\"}]");
	assert_null(kp_ctrl__repair_match(node, p, n, -1, &end));
	json_decref(node);

	/* Ready Unknown: 30 min */
	node = node_with("[{\"type\":\"Ready\",\"status\":\"Unknown\",\"lastTransitionTime\":\"2024-06-01T00:00:00Z\"}]");
	assert_string_equal(kp_ctrl__repair_match(node, p, n, -1, &end), "Ready");
	assert_true(end == T(T0) + 30 * MIN);
	assert_string_equal(kp_ctrl__repair_match(node, p, n, 2000, &end), "Ready");   /* the override */
	assert_true(end == T(T0) + 2000);
	json_decref(node);

	/* an agent condition alone */
	node = node_with("[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"2024-06-01T00:00:00Z\"},"
			 "{\"type\":\"StorageReady\",\"status\":\"False\",\"lastTransitionTime\":\"2024-06-01T00:05:00Z\"}]");
	assert_string_equal(kp_ctrl__repair_match(node, p, n, -1, &end), "StorageReady");
	assert_true(end == T(T0 + 300) + 30 * MIN);
	json_decref(node);

	/* several: the one whose toleration ends first decides (accelerated
	 * hardware's 10 min beats Ready's 30 min though it turned later) */
	node = node_with("[{\"type\":\"Ready\",\"status\":\"False\",\"lastTransitionTime\":\"2024-06-01T00:00:00Z\"},"
			 "{\"type\":\"AcceleratedHardwareReady\",\"status\":\"False\",\"lastTransitionTime\":\"2024-06-01T00:10:00Z\"}]");
	assert_string_equal(kp_ctrl__repair_match(node, p, n, -1, &end), "AcceleratedHardwareReady");
	assert_true(end == T(T0 + 600) + 10 * MIN);
	json_decref(node);

	/* Unknown is no policy for an agent condition; a bad time matches nothing */
	node = node_with("[{\"type\":\"KernelReady\",\"status\":\"Unknown\",\"lastTransitionTime\":\"2024-06-01T00:00:00Z\"},"
			 "{\"type\":\"Ready\",\"status\":\"False\",\"lastTransitionTime\":\"yesterday\"}]");
	assert_null(kp_ctrl__repair_match(node, p, n, -1, &end));
	json_decref(node);
}

static void test_twenty_percent(void **state)
{
	(void)state;
	assert_true(kp_ctrl__repair_pool_ok(1, 1));     /* ceil(0.2) = 1 */
	assert_true(kp_ctrl__repair_pool_ok(1, 5));
	assert_true(kp_ctrl__repair_pool_ok(2, 6));     /* ceil(1.2) = 2 */
	assert_false(kp_ctrl__repair_pool_ok(2, 5));
	assert_false(kp_ctrl__repair_pool_ok(3, 10));
	assert_true(kp_ctrl__repair_pool_ok(2, 10));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policies_from_ops),
		cmocka_unit_test(test_decorator_forwards),
		cmocka_unit_test(test_provider_tables),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_twenty_percent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
