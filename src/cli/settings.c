/*
 * settings.c - Karpenter's settings variables and their flags for
 * `karpenter controller`. One table names each setting's variable, its flag
 * (or none, when the controller already has its own flag for it) and its
 * kind; the same checks run on a variable's and a flag's value, and errors
 * name whichever was given. Mirrors the AWS provider's and core's
 * pkg/operator/options (AddFlags/Parse/Validate).
 *
 * Cost: one getenv per table row at start-up.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/settings.h"
#include "ctrl/ctrl.h"
#include "karpenter/base.h"

enum set_id {
	S_CLUSTER_NAME, S_CLUSTER_ENDPOINT, S_CLUSTER_CA, S_QUEUE, S_ISOLATED_VPC, S_VM_OVERHEAD, S_RESERVED_ENIS,
	S_FEATURE_GATES, S_KUBE_QPS, S_KUBE_BURST, S_LEASE_NAME, S_DISABLE_LE,
	/* variables only: the controller's own flags cover these */
	S_LOG_LEVEL, S_BATCH_MAX, S_BATCH_IDLE, S_LEASE_NS, S_SYSTEM_NS, S_METRICS_PORT, S_HEALTH_PORT,
};

struct setting {
	const char *env;
	const char *flag;   /* NULL: read from the variable only */
	enum set_id id;
	bool boolean;       /* flag may stand alone ("--isolated-vpc") */
};

static const struct setting TABLE[] = {
	{ "CLUSTER_NAME", "--cluster-name", S_CLUSTER_NAME, false },
	{ "CLUSTER_ENDPOINT", "--cluster-endpoint", S_CLUSTER_ENDPOINT, false },
	{ "CLUSTER_CA_BUNDLE", "--cluster-ca-bundle", S_CLUSTER_CA, false },
	{ "INTERRUPTION_QUEUE", "--interruption-queue", S_QUEUE, false },
	{ "ISOLATED_VPC", "--isolated-vpc", S_ISOLATED_VPC, true },
	{ "VM_MEMORY_OVERHEAD_PERCENT", "--vm-memory-overhead-percent", S_VM_OVERHEAD, false },
	{ "RESERVED_ENIS", "--reserved-enis", S_RESERVED_ENIS, false },
	{ "FEATURE_GATES", "--feature-gates", S_FEATURE_GATES, false },
	{ "KUBE_CLIENT_QPS", "--kube-client-qps", S_KUBE_QPS, false },
	{ "KUBE_CLIENT_BURST", "--kube-client-burst", S_KUBE_BURST, false },
	{ "LEADER_ELECTION_NAME", "--leader-election-name", S_LEASE_NAME, false },
	{ "DISABLE_LEADER_ELECTION", "--disable-leader-election", S_DISABLE_LE, true },
	{ "LOG_LEVEL", NULL, S_LOG_LEVEL, false },
	{ "BATCH_MAX_DURATION", NULL, S_BATCH_MAX, false },
	{ "BATCH_IDLE_DURATION", NULL, S_BATCH_IDLE, false },
	{ "SYSTEM_NAMESPACE", NULL, S_SYSTEM_NS, false },
	{ "LEADER_ELECTION_NAMESPACE", NULL, S_LEASE_NS, false },   /* after SYSTEM_NAMESPACE: wins over it */
	{ "METRICS_PORT", NULL, S_METRICS_PORT, false },
	{ "HEALTH_PROBE_PORT", NULL, S_HEALTH_PORT, false },
};

const char kp_cli_settings_usage[] =
	"  --cluster-name NAME            cluster name, tags launched instances ($CLUSTER_NAME)\n"
	"  --cluster-endpoint URL         API server endpoint for node bootstrap ($CLUSTER_ENDPOINT)\n"
	"  --cluster-ca-bundle PEM        cluster CA for node bootstrap ($CLUSTER_CA_BUNDLE)\n"
	"  --interruption-queue NAME      SQS queue of interruption events ($INTERRUPTION_QUEUE)\n"
	"  --isolated-vpc[=BOOL]          no public AWS endpoints reachable ($ISOLATED_VPC)\n"
	"  --vm-memory-overhead-percent F memory kept for the VM, 0.075 = 7.5% ($VM_MEMORY_OVERHEAD_PERCENT)\n"
	"  --reserved-enis N              ENIs kept out of max-pods ($RESERVED_ENIS)\n"
	"  --feature-gates LIST           Gate=BOOL,... : SpotToSpotConsolidation, ReservedCapacity,\n"
	"                                 NodeRepair, NodeOverlay, StaticCapacity ($FEATURE_GATES)\n"
	"  --kube-client-qps N            API client rate limit ($KUBE_CLIENT_QPS, default 200)\n"
	"  --kube-client-burst N          API client burst ($KUBE_CLIENT_BURST, default 300)\n"
	"  --leader-election-name NAME    Lease name ($LEADER_ELECTION_NAME)\n"
	"  --disable-leader-election[=BOOL] same as --leader-elect=false ($DISABLE_LEADER_ELECTION)\n"
	"  Variables without a flag of that name: LOG_LEVEL, BATCH_MAX_DURATION, BATCH_IDLE_DURATION,\n"
	"  SYSTEM_NAMESPACE and LEADER_ELECTION_NAMESPACE (Lease namespace), METRICS_PORT, HEALTH_PROBE_PORT.\n"
	"  Flags win over variables.\n";

void kp_cli_settings_init(struct kp_cli_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->vm_memory_overhead = 0.075;
	s->gates.reserved_capacity = true;
}

static int bad(const char *src, const char *fmt, const char *val)
{
	fprintf(stderr, "karpenter controller: %s: ", src);
	fprintf(stderr, fmt, val);
	fputc('\n', stderr);
	return -1;
}

static int parse_bool(const char *src, const char *v, bool *out)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "False") == 0 ||
		 strcmp(v, "FALSE") == 0)
		*out = false;
	else
		return bad(src, "expected true or false, got \"%s\"", v);
	return 0;
}

static int parse_count(const char *src, const char *v, int64_t max, int64_t *out)
{
	if (kp_parse_i64(v, out) || *out < 0 || *out > max)
		return bad(src, "expected a whole number >= 0, got \"%s\"", v);
	return 0;
}

static int parse_port(const char *src, const char *v, char *buf, size_t n)
{
	int64_t p;

	if (kp_parse_i64(v, &p) || p < 1 || p > 65535)
		return bad(src, "expected a port 1-65535, got \"%s\"", v);
	snprintf(buf, n, ":%lld", (long long)p);
	return 0;
}

static int parse_duration(const char *src, const char *v, int64_t *out)
{
	if (kp_parse_duration_ms(v, out) || *out <= 0)
		return bad(src, "expected a positive duration such as 10s or 500ms, got \"%s\"", v);
	return 0;
}

/* FEATURE_GATES: comma-separated Name=bool, names as Karpenter spells them;
 * an unknown name is an error, as in Karpenter's ParseFeatureGates. */
static int parse_gates(const char *src, const char *v, struct kp_cli_gates *g)
{
	static const struct {
		const char *name;
		size_t off;
		bool implemented;
	} G[] = {
		{ "SpotToSpotConsolidation", offsetof(struct kp_cli_gates, spot_to_spot), true },
		{ "ReservedCapacity", offsetof(struct kp_cli_gates, reserved_capacity), true },
		{ "NodeRepair", offsetof(struct kp_cli_gates, node_repair), true },
		{ "NodeOverlay", offsetof(struct kp_cli_gates, node_overlay), false },
		{ "StaticCapacity", offsetof(struct kp_cli_gates, static_capacity), false },
	};
	const char *p = v;

	while (*p) {
		const char *end = strchr(p, ','), *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char item[128], *val;
		bool b = false, found = false;

		while (len && *p == ' ')
			p++, len--;
		if (len == 0 || len >= sizeof(item))
			return bad(src, "bad feature gate list \"%s\" (want Name=true,Name=false)", v);
		memcpy(item, p, len);
		item[len] = '\0';
		while (len && item[len - 1] == ' ')
			item[--len] = '\0';
		eq = strchr(item, '=');
		if (!eq)
			return bad(src, "feature gate \"%s\" has no =true or =false", item);
		val = item + (eq - item);
		*val++ = '\0';
		if (parse_bool(src, val, &b))
			return -1;
		for (size_t k = 0; k < KP_ARRAY_LEN(G); k++) {
			if (strcmp(item, G[k].name) != 0)
				continue;
			found = true;
			if (b && !G[k].implemented)
				return bad(src, "feature gate %s=true is not implemented by karpenter-c", item);
			*(bool *)((char *)g + G[k].off) = b;
		}
		if (!found)
			return bad(src, "unrecognized feature gate \"%s\"", item);
		p += (end ? (size_t)(end - p) + 1 : strlen(p));
	}
	return 0;
}

/* Applies one value; src names it in errors (the variable or the flag). */
static int apply(struct kp_cli_settings *s, struct kp_ctrl_opts *o, enum set_id id, const char *src, const char *v)
{
	int64_t n = 0;
	bool b = false;

	switch (id) {
	case S_CLUSTER_NAME:
		s->cluster_name = v;
		return 0;
	case S_CLUSTER_ENDPOINT:
		if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
			return bad(src, "expected an http(s) URL, got \"%s\"", v);
		s->cluster_endpoint = v;
		return 0;
	case S_CLUSTER_CA:
		s->cluster_ca_bundle = v;
		return 0;
	case S_QUEUE:
		s->interruption_queue = v;
		return 0;
	case S_ISOLATED_VPC:
		return parse_bool(src, v, &s->isolated_vpc);
	case S_VM_OVERHEAD: {
		char *end = NULL;
		double d = strtod(v, &end);
		if (!*v || !end || *end || !isfinite(d) || d < 0 || d >= 1)
			return bad(src, "expected a fraction in [0, 1) such as 0.075, got \"%s\"", v);
		s->vm_memory_overhead = d;
		return 0;
	}
	case S_RESERVED_ENIS:
		return parse_count(src, v, 1000, &s->reserved_enis);
	case S_FEATURE_GATES:
		if (parse_gates(src, v, &s->gates))
			return -1;
		o->spot_to_spot = s->gates.spot_to_spot;
		o->node_repair = s->gates.node_repair;
		return 0;
	case S_KUBE_QPS:
		if (parse_count(src, v, 100000, &n))
			return -1;
		o->kube_qps = (double)n;
		return 0;
	case S_KUBE_BURST:
		if (parse_count(src, v, 100000, &n))
			return -1;
		o->kube_burst = (int)n;
		return 0;
	case S_LEASE_NAME:
		o->lease_name = v;
		return 0;
	case S_DISABLE_LE:
		if (parse_bool(src, v, &b))
			return -1;
		o->leader_elect = !b;
		return 0;
	case S_LOG_LEVEL: {
		struct kp_errbuf eb = { 0 };
		if (kp_log_parse_level(v, &o->log_level, &eb))
			return bad(src, "%s", eb.msg);
		return 0;
	}
	case S_BATCH_MAX:
		return parse_duration(src, v, &o->batch_max_ms);
	case S_BATCH_IDLE:
		return parse_duration(src, v, &o->batch_idle_ms);
	case S_SYSTEM_NS:
	case S_LEASE_NS:
		o->lease_ns = v;
		return 0;
	case S_METRICS_PORT:
		return parse_port(src, v, s->metrics_listen, sizeof(s->metrics_listen));
	case S_HEALTH_PORT:
		return parse_port(src, v, s->health_listen, sizeof(s->health_listen));
	}
	return bad(src, "unknown setting%s", "");
}

int kp_cli_settings_env(struct kp_cli_settings *s, struct kp_ctrl_opts *o)
{
	for (size_t k = 0; k < KP_ARRAY_LEN(TABLE); k++) {
		const char *v = getenv(TABLE[k].env);
		if (v && *v && apply(s, o, TABLE[k].id, TABLE[k].env, v))
			return 2;
	}
	return 0;
}

int kp_cli_settings_flag(struct kp_cli_settings *s, struct kp_ctrl_opts *o, struct kp_cli_arg *opt, int argc,
			 char **argv, int *i)
{
	for (size_t k = 0; k < KP_ARRAY_LEN(TABLE); k++) {
		const char *v;

		if (!TABLE[k].flag || strcmp(opt->name, TABLE[k].flag) != 0)
			continue;
		if (TABLE[k].boolean && !opt->val)
			v = "true";
		else if (!(v = kp_cli_arg_value("controller", opt, argc, argv, i)))
			return -1;
		return apply(s, o, TABLE[k].id, TABLE[k].flag, v) ? -1 : 1;
	}
	return 0;
}
