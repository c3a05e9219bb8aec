/*
 * test_settings.c - Karpenter's settings variables for `karpenter
 * controller`: each variable reaches its option, flags win over variables,
 * bad values are refused naming the variable or flag.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctrl/ctrl.h"

/* The command-line helpers live outside the library; compile them in here. */
#include "cli/args.c"
#include "cli/settings.c"

static const char *const VARS[] = { "CLUSTER_NAME", "CLUSTER_ENDPOINT", "INTERRUPTION_QUEUE", "BATCH_MAX_DURATION",
				    "BATCH_IDLE_DURATION", "FEATURE_GATES", "LOG_LEVEL", "SYSTEM_NAMESPACE",
				    "LEADER_ELECTION_NAMESPACE", "METRICS_PORT", "HEALTH_PROBE_PORT",
				    "DISABLE_LEADER_ELECTION", "KUBE_CLIENT_QPS", "VM_MEMORY_OVERHEAD_PERCENT",
				    "ISOLATED_VPC" };

static int clear_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < KP_ARRAY_LEN(VARS); i++)
		unsetenv(VARS[i]);
	return 0;
}

/* Runs the flags in argv through kp_cli_settings_flag; returns the first
 * non-1 result (0 = an argument that is not a settings flag). */
static int flags(struct kp_cli_settings *s, struct kp_ctrl_opts *o, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		struct kp_cli_arg opt;
		int r;

		kp_cli_arg_split(argv[i], &opt);
		r = kp_cli_settings_flag(s, o, &opt, argc, argv, &i);
		if (r != 1)
			return r;
	}
	return 1;
}

static void test_variables_reach_options(void **state)
{
	struct kp_cli_settings s;
	struct kp_ctrl_opts o;

	(void)state;
	setenv("CLUSTER_NAME", "demo", 1);
	setenv("CLUSTER_ENDPOINT", "https://api.example:443", 1);
	setenv("INTERRUPTION_QUEUE", "demo-queue", 1);
	setenv("BATCH_MAX_DURATION", "20s", 1);
	setenv("BATCH_IDLE_DURATION", "500ms", 1);
	setenv("FEATURE_GATES", "SpotToSpotConsolidation=true,NodeRepair=true", 1);
	setenv("LOG_LEVEL", "debug", 1);
	setenv("SYSTEM_NAMESPACE", "karpenter", 1);
	setenv("METRICS_PORT", "9090", 1);
	setenv("DISABLE_LEADER_ELECTION", "true", 1);
	setenv("VM_MEMORY_OVERHEAD_PERCENT", "0.1", 1);
	kp_ctrl_opts_init(&o);
	o.leader_elect = true;
	kp_cli_settings_init(&s);
	assert_int_equal(kp_cli_settings_env(&s, &o), 0);
	assert_string_equal(s.cluster_name, "demo");
	assert_string_equal(s.cluster_endpoint, "https://api.example:443");
	assert_string_equal(s.interruption_queue, "demo-queue");
	assert_int_equal(o.batch_max_ms, 20000);
	assert_int_equal(o.batch_idle_ms, 500);
	assert_true(o.spot_to_spot);
	assert_true(s.gates.spot_to_spot);
	assert_true(o.node_repair);   /* NodeRepair is implemented (src/ctrl/repair.c) */
	assert_true(s.gates.reserved_capacity);
	assert_int_equal(o.log_level, KP_LOG_DEBUG);
	assert_string_equal(o.lease_ns, "karpenter");
	assert_string_equal(s.metrics_listen, ":9090");
	assert_string_equal(s.health_listen, "");
	assert_false(o.leader_elect);
	assert_true(s.vm_memory_overhead > 0.099 && s.vm_memory_overhead < 0.101);
	clear_env(NULL);
}

static void test_flags_win(void **state)
{
	struct kp_cli_settings s;
	struct kp_ctrl_opts o;
	char *argv[] = { "--cluster-name", "from-flag", "--feature-gates=SpotToSpotConsolidation=false",
			 "--interruption-queue=q2", "--isolated-vpc", "--leader-election-name", "lease-x" };

	(void)state;
	setenv("CLUSTER_NAME", "from-env", 1);
	setenv("FEATURE_GATES", "SpotToSpotConsolidation=true", 1);
	setenv("SYSTEM_NAMESPACE", "sys", 1);
	setenv("LEADER_ELECTION_NAMESPACE", "le", 1);
	kp_ctrl_opts_init(&o);
	kp_cli_settings_init(&s);
	assert_int_equal(kp_cli_settings_env(&s, &o), 0);
	assert_true(o.spot_to_spot);
	assert_string_equal(o.lease_ns, "le");   /* LEADER_ELECTION_NAMESPACE over SYSTEM_NAMESPACE */
	assert_int_equal(flags(&s, &o, (int)KP_ARRAY_LEN(argv), argv), 1);
	assert_string_equal(s.cluster_name, "from-flag");
	assert_false(o.spot_to_spot);
	assert_string_equal(s.interruption_queue, "q2");
	assert_true(s.isolated_vpc);
	assert_string_equal(o.lease_name, "lease-x");
	clear_env(NULL);
}

static void test_bad_values_refused(void **state)
{
	static const char *const BAD[][2] = {
		{ "FEATURE_GATES", "NodeOverlay=true" },     { "FEATURE_GATES", "Nope=true" },
		{ "FEATURE_GATES", "SpotToSpotConsolidation" }, { "FEATURE_GATES", "SpotToSpotConsolidation=maybe" },
		{ "BATCH_MAX_DURATION", "ten" },             { "BATCH_IDLE_DURATION", "0s" },
		{ "LOG_LEVEL", "loud" },                     { "METRICS_PORT", "70000" },
		{ "CLUSTER_ENDPOINT", "api.example" },       { "VM_MEMORY_OVERHEAD_PERCENT", "7.5" },
		{ "KUBE_CLIENT_QPS", "-1" },                 { "ISOLATED_VPC", "yes" },
	};
	struct kp_cli_settings s;
	struct kp_ctrl_opts o;

	(void)state;
	for (size_t i = 0; i < KP_ARRAY_LEN(BAD); i++) {
		setenv(BAD[i][0], BAD[i][1], 1);
		kp_ctrl_opts_init(&o);
		kp_cli_settings_init(&s);
		assert_int_equal(kp_cli_settings_env(&s, &o), 2);
		unsetenv(BAD[i][0]);
	}
}

static void test_flag_errors(void **state)
{
	struct kp_cli_settings s;
	struct kp_ctrl_opts o;
	char *missing[] = { "--cluster-name" };
	char *badgate[] = { "--feature-gates=StaticCapacity=true" };
	char *other[] = { "--catalog", "kwok" };

	(void)state;
	kp_ctrl_opts_init(&o);
	kp_cli_settings_init(&s);
	assert_int_equal(flags(&s, &o, 1, missing), -1);
	assert_int_equal(flags(&s, &o, 1, badgate), -1);
	assert_int_equal(flags(&s, &o, 2, other), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_variables_reach_options, clear_env),
		cmocka_unit_test_setup(test_flags_win, clear_env),
		cmocka_unit_test_setup(test_bad_values_refused, clear_env),
		cmocka_unit_test_setup(test_flag_errors, clear_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
