/*
 * cmd_controller.c - `karpenter controller`: the Karpenter controller
 * against any cluster (kubeconfig or in-cluster), with the health and
 * metrics listeners Karpenter's operator serves.
 *
 * Cloud providers: "fake" (the simulated cloud over --catalog; instances
 * live in this process) and "aws" (EC2 through src/cloud/aws; the catalog
 * gives labels and allocatable, the API the types, zones and spot prices). Leader election is on by default, as in
 * Karpenter. SIGINT/SIGTERM stop the loop, release the Lease and exit 0;
 * losing the Lease exits 1 (a restart re-joins the election). Exit status
 * 2 on bad usage.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/settings.h"
#include "cloud/aws/provider.h"
#include "cloud/fake.h"
#include "cloud/remote.h"
#include "ctrl/ctrl.h"
#include "karpenter/catalog.h"
#include "kube/kube.h"
#include "metrics/karpenter.h"
#include "metrics/metrics.h"

#ifndef KP_VERSION
#define KP_VERSION "0.1.0-dev"
#endif

static void ctl_usage(FILE *f)
{
	fputs("usage: karpenter controller [--kubeconfig PATH] [--context NAME] [--cloud-provider fake|aws]\n"
	      "                            [--catalog NAME|FILE] [options]\n"
	      "\n"
	      "  --kubeconfig PATH              kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)\n"
	      "  --context NAME                 kubeconfig context (default: current-context)\n"
	      "  --cloud-provider NAME          fake (simulated cloud, default) or aws (EC2, docs/aws.md)\n"
	      "  --catalog NAME|FILE            instance types of the fake cloud; labels/allocatable for aws (default aws)\n"
	      "  --aws-endpoint URL             aws: endpoint of every AWS service (default: AWS_ENDPOINT_URL*, AWS)\n"
	      "  --aws-pricing-endpoint URL     aws: Pricing API endpoint, beats --aws-endpoint (default:\n"
	      "                                 AWS_ENDPOINT_URL_PRICING, AWS_ENDPOINT_URL, the Pricing region's)\n"
	      "  --aws-region REGION            aws: region (default: AWS_REGION, profile, IMDS)\n"
	      "  --aws-profile NAME             aws: shared config profile (default: AWS_PROFILE, default)\n"
	      "  --kubernetes-version X.Y       aws: version in AMI alias SSM paths (default: the API\n"
	      "                                 server's /version; 1.32 when it cannot be read)\n"
	      "  --service-cidr CIDR            aws: the cluster's service CIDR for node bootstrap\n"
	      "                                 (default 10.100.0.0/16; Karpenter reads it from EKS)\n"
	      "  --launch-delay DURATION        fake cloud: create -> running (default 2s)\n"
	      "  --cloud-endpoint URL           fake cloud: use the one `karpenter up --cloud-listen` serves\n"
	      "                                 (instances become Nodes there) instead of one in this process\n"
	      "  --log-level LEVEL              debug, info, warn, error (default info)\n"
	      "  --metrics-listen ADDR:PORT     Prometheus metrics (default :8080; \"\" = off)\n"
	      "  --health-listen ADDR:PORT      /healthz and /readyz (default :8081; \"\" = off)\n"
	      "  --leader-elect[=BOOL]          Lease leader election (default true)\n"
	      "  --leader-election-namespace NS Lease namespace (default kube-system)\n"
	      "  --batch-idle-duration DURATION provisioning batch idle window (default 1s)\n"
	      "  --batch-max-duration DURATION  provisioning batch maximum window (default 10s)\n"
	      "  --packing MODE                 karpenter (default) or cost (docs/packing.md)\n", f);
	fputs(kp_cli_settings_usage, f);
}

static struct kp_ctrl *volatile g_ctrl;   /* for the signal handler only */

static void on_signal(int sig)
{
	(void)sig;
	if (g_ctrl)
		kp_ctrl_stop(g_ctrl);
}

static bool parse_bool(const char *s, bool *out)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
		*out = true;
		return true;
	}
	if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
		*out = false;
		return true;
	}
	return false;
}

struct ctl_args {
	const char *provider, *catalog, *metrics, *health;
	const char *cloud_endpoint;        /* --cloud-endpoint: the remote simulated cloud (src/cloud/remote.c) */
	int64_t launch_delay_ms;
	struct kp_cli_settings settings;   /* Karpenter's settings variables and flags */
	const char *aws_endpoint, *aws_region, *aws_profile, *k8s_version;
	const char *aws_pricing_endpoint;  /* --aws-pricing-endpoint */
	const char *service_cidr;          /* --service-cidr */
};

static const char *const VALUED[] = { "--cloud-endpoint", "--kubeconfig", "--context", "--cloud-provider", "--catalog", "--launch-delay",
				      "--log-level", "--metrics-listen", "--health-listen",
				      "--leader-election-namespace", "--batch-idle-duration", "--batch-max-duration",
				      "--packing", "--aws-endpoint", "--aws-region", "--aws-profile", "--kubernetes-version",
				      "--aws-pricing-endpoint", "--service-cidr" };

/* "a.b.c.d/N" (N <= 32) or an IPv6 address with /N (N <= 128). */
static bool cidr_valid(const char *s)
{
	const char *slash = strchr(s, '/');
	unsigned char addr[16];
	char host[64];
	int64_t bits;
	bool v6;

	if (!slash || (size_t)(slash - s) >= sizeof(host) || kp_parse_i64(slash + 1, &bits))
		return false;
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = 0;
	v6 = strchr(host, ':') != NULL;
	return inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) == 1 && bits >= 0 && bits <= (v6 ? 128 : 32);
}

/* The API server's major.minor from GET /version, as Karpenter's version
 * provider (pkg/providers/version: Major "." Minor without a trailing "+")
 * into buf; false (eb says why) when it cannot be read. */
static bool server_version(const struct kp_ctrl_opts *o, char *buf, size_t n, struct kp_errbuf *eb)
{
	struct kp_kube_config *cfg = NULL;
	struct kp_kube_client *c = NULL;
	struct kp_kube_client_opts co = { .timeout_ms = 10000, .max_retries = 1 };
	struct kp_kube_status st;
	json_t *v = NULL;
	const char *major, *minor;
	bool ok = false;

	if (!kp_kube_config_default(o->kubeconfig, o->context, &cfg, eb) && !kp_kube_client_new(cfg, &co, &c, eb) &&
	    !kp_kube_request(c, "GET", "/version", NULL, NULL, &v, &st, eb)) {
		major = json_string_value(json_object_get(v, "major"));
		minor = json_string_value(json_object_get(v, "minor"));
		if (major && minor && *major && *minor) {
			size_t k = strlen(minor);

			snprintf(buf, n, "%s.%.*s", major, (int)(minor[k - 1] == '+' ? k - 1 : k), minor);
			ok = true;
		} else {
			kp_errf(eb, KP_ERR_INVALID, "/version has no major/minor");
		}
	}
	json_decref(v);
	kp_kube_client_free(c);
	kp_kube_config_free(cfg);
	return ok;
}

static int ctl_parse(int argc, char **argv, struct kp_ctrl_opts *o, struct ctl_args *a)
{
	for (int i = 1; i < argc; i++) {
		struct kp_cli_arg opt;
		const char *arg, *val;
		bool valued = false;

		kp_cli_arg_split(argv[i], &opt);
		arg = opt.name;
		val = opt.val;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			ctl_usage(stdout);
			return -1;
		}
		if (strcmp(arg, "--leader-elect") == 0) {
			bool b = true;
			if (val && !parse_bool(val, &b)) {
				fprintf(stderr, "karpenter controller: --leader-elect: expected true or false, got \"%s\"\n", val);
				return KP_EXIT_USAGE;
			}
			o->leader_elect = b;
			continue;
		}
		switch (kp_cli_settings_flag(&a->settings, o, &opt, argc, argv, &i)) {
		case 1:
			continue;
		case -1:
			return KP_EXIT_USAGE;
		}
		for (size_t k = 0; k < KP_ARRAY_LEN(VALUED); k++)
			valued = valued || strcmp(arg, VALUED[k]) == 0;
		if (!valued) {
			fprintf(stderr, "karpenter controller: unknown option \"%s\"\n", argv[i]);
			ctl_usage(stderr);
			return KP_EXIT_USAGE;
		}
		if (!(val = kp_cli_arg_value("controller", &opt, argc, argv, &i)))
			return KP_EXIT_USAGE;
		if (strcmp(arg, "--kubeconfig") == 0) {
			o->kubeconfig = val;
		} else if (strcmp(arg, "--context") == 0) {
			o->context = val;
		} else if (strcmp(arg, "--cloud-provider") == 0) {
			a->provider = val;
		} else if (strcmp(arg, "--cloud-endpoint") == 0) {
			if (strncmp(val, "http://", 7) != 0 && strncmp(val, "https://", 8) != 0) {
				fprintf(stderr, "karpenter controller: --cloud-endpoint: expected http://HOST:PORT, got \"%s\"\n", val);
				return KP_EXIT_USAGE;
			}
			a->cloud_endpoint = val;
		} else if (strcmp(arg, "--catalog") == 0) {
			a->catalog = val;
		} else if (strcmp(arg, "--metrics-listen") == 0) {
			a->metrics = val;
		} else if (strcmp(arg, "--health-listen") == 0) {
			a->health = val;
		} else if (strcmp(arg, "--aws-endpoint") == 0) {
			a->aws_endpoint = val;
		} else if (strcmp(arg, "--aws-pricing-endpoint") == 0) {
			if (strncmp(val, "http://", 7) != 0 && strncmp(val, "https://", 8) != 0) {
				fprintf(stderr, "karpenter controller: --aws-pricing-endpoint: expected an http:// or https:// URL, "
					"got \"%s\"\n", val);
				return KP_EXIT_USAGE;
			}
			a->aws_pricing_endpoint = val;
		} else if (strcmp(arg, "--aws-region") == 0) {
			a->aws_region = val;
		} else if (strcmp(arg, "--aws-profile") == 0) {
			a->aws_profile = val;
		} else if (strcmp(arg, "--kubernetes-version") == 0) {
			a->k8s_version = val;
		} else if (strcmp(arg, "--service-cidr") == 0) {
			if (!cidr_valid(val)) {
				fprintf(stderr, "karpenter controller: --service-cidr: expected an IPv4 or IPv6 CIDR, got \"%s\"\n", val);
				return KP_EXIT_USAGE;
			}
			a->service_cidr = val;
		} else if (strcmp(arg, "--packing") == 0) {
			if (strcmp(val, "cost") != 0 && strcmp(val, "karpenter") != 0) {
				fprintf(stderr, "karpenter controller: --packing must be karpenter or cost\n");
				return KP_EXIT_USAGE;
			}
			o->packing = strcmp(val, "cost") == 0;
		} else if (strcmp(arg, "--leader-election-namespace") == 0) {
			o->lease_ns = val;
		} else if (strcmp(arg, "--log-level") == 0) {
			struct kp_errbuf eb = { 0 };
			if (kp_log_parse_level(val, &o->log_level, &eb)) {
				fprintf(stderr, "karpenter controller: --log-level: %s\n", eb.msg);
				return KP_EXIT_USAGE;
			}
		} else {
			int64_t ms = 0;
			if (kp_parse_duration_ms(val, &ms) || ms < 0 ||
			    (strcmp(arg, "--launch-delay") != 0 && ms == 0)) {
				fprintf(stderr, "karpenter controller: %s: bad duration \"%s\"\n", arg, val);
				return KP_EXIT_USAGE;
			}
			if (strcmp(arg, "--launch-delay") == 0)
				a->launch_delay_ms = ms;
			else if (strcmp(arg, "--batch-idle-duration") == 0)
				o->batch_idle_ms = ms;
			else
				o->batch_max_ms = ms;
		}
	}
	return 0;
}

int kp_cmd_controller(int argc, char **argv, const char *datadir)
{
	struct kp_ctrl_opts o;
	struct ctl_args a = { .provider = "fake", .catalog = "aws", .metrics = ":8080", .health = ":8081", .launch_delay_ms = 2000 };
	struct kp_errbuf eb = { 0 };
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_cloud *cloud = NULL;
	struct kp_cloud_fake_opts fo;
	struct kp_ctrl *c = NULL;
	struct kp_ctrl_http *http = NULL;
	struct kp_karpenter_metrics km;
	struct sigaction sa;
	int rc, status = KP_EXIT_FAIL;

	kp_ctrl_opts_init(&o);
	o.leader_elect = true;
	kp_cli_settings_init(&a.settings);
	if ((rc = kp_cli_settings_env(&a.settings, &o)))
		return rc;
	if (a.settings.metrics_listen[0])
		a.metrics = a.settings.metrics_listen;
	if (a.settings.health_listen[0])
		a.health = a.settings.health_listen;
	rc = ctl_parse(argc, argv, &o, &a);
	if (rc)
		return rc < 0 ? KP_EXIT_OK : rc;
	if (strcmp(a.provider, "aws") == 0 && (!a.settings.cluster_name || !*a.settings.cluster_name)) {
		fprintf(stderr, "karpenter controller: --cloud-provider aws needs --cluster-name (or CLUSTER_NAME)\n");
		return KP_EXIT_USAGE;
	}
	if (strcmp(a.provider, "fake") != 0 && strcmp(a.provider, "aws") != 0) {
		fprintf(stderr, "karpenter controller: unknown cloud provider \"%s\" (want fake or aws)\n", a.provider);
		return KP_EXIT_USAGE;
	}
	if (kp_ctrl_global_init(&eb)) {
		fprintf(stderr, "karpenter controller: %s\n", eb.msg);
		return KP_EXIT_FAIL;
	}
	kp_catalog_init(&cat);
	kp_resnames_init(&rn);
	if (!a.catalog || strcmp(a.catalog, "aws") == 0 || strcmp(a.catalog, "aws-us-east-1") == 0) {
		/* VM_MEMORY_OVERHEAD_PERCENT and RESERVED_ENIS shape the built-in types */
		struct kp_catalog_aws_opts co;

		kp_catalog_aws_opts_init(&co);
		co.vm_memory_overhead = a.settings.vm_memory_overhead;
		co.reserved_enis = a.settings.reserved_enis;
		if (kp_catalog_load_aws_opts(&cat, &rn, datadir, "us-east-1", &co, &eb)) {
			fprintf(stderr, "karpenter controller: catalog: %s\n", eb.msg);
			status = KP_EXIT_USAGE;
			goto out;
		}
	} else if (kp_catalog_open(&cat, &rn, a.catalog, datadir, &eb)) {
		fprintf(stderr, "karpenter controller: catalog: %s\n", eb.msg);
		status = KP_EXIT_USAGE;
		goto out;
	}
	if (strcmp(a.provider, "aws") == 0) {
		struct kp_cloud_aws_opts ao;
		char k8s_version[32];

		kp_cloud_aws_opts_init(&ao);
		ao.cluster = a.settings.cluster_name;
		ao.cluster_endpoint = a.settings.cluster_endpoint;
		ao.cluster_ca = a.settings.cluster_ca_bundle;
		ao.interruption_queue = a.settings.interruption_queue;
		ao.endpoint = a.aws_endpoint;
		ao.pricing_endpoint = a.aws_pricing_endpoint;
		ao.region = a.aws_region;
		ao.profile = a.aws_profile;
		if (a.k8s_version) {
			ao.k8s_version = a.k8s_version;
		} else if (server_version(&o, k8s_version, sizeof(k8s_version), &eb)) {
			ao.k8s_version = k8s_version;
			fprintf(stderr, "karpenter controller: Kubernetes version %s (the API server's /version) for AMI aliases\n",
				k8s_version);
		} else {
			fprintf(stderr, "karpenter controller: Kubernetes version from the API server's /version: %s; "
				"AMI aliases use %s (--kubernetes-version sets it)\n", eb.msg, ao.k8s_version);
		}
		if (a.service_cidr)
			ao.cluster_cidr = a.service_cidr;
		/* ISOLATED_VPC: no Pricing API calls (the built-in prices stay) */
		if (a.settings.isolated_vpc)
			ao.pricing_ttl_ms = -1;
		ao.base = &cat;
		ao.log_out = stderr;
		if (kp_cloud_aws_new(&ao, &cloud, &eb)) {
			fprintf(stderr, "karpenter controller: aws: %s\n", eb.msg);
			status = eb.code == KP_ERR_INVALID ? KP_EXIT_USAGE : KP_EXIT_FAIL;
			goto out;
		}
	} else {
		kp_cloud_fake_opts_init(&fo);
		fo.launch_delay_ms = a.launch_delay_ms;
		fo.resnames = &rn;
		if (a.cloud_endpoint ? kp_cloud_remote_new(a.cloud_endpoint, &cat, &rn, &cloud, &eb)
				     : kp_cloud_fake_new(&cat, &fo, &cloud, &eb)) {
			fprintf(stderr, "karpenter controller: fake cloud: %s\n", eb.msg);
			goto out;
		}
	}
	o.cloud = cloud;
	o.resnames = &rn;
	o.log_out = stderr;
	o.metrics = kp_metrics_default();
	if (kp_metrics_register_karpenter(o.metrics, NULL, &km, &eb) == KP_OK)
		kp_metrics_set_build_info(&km, KP_VERSION, "");
	if (kp_ctrl_new(&o, &c, &eb)) {
		fprintf(stderr, "karpenter controller: %s\n", eb.msg);
		goto out;
	}
	if (kp_ctrl_http_start(c, o.metrics, a.metrics, a.health, &http, &eb)) {
		fprintf(stderr, "karpenter controller: %s\n", eb.msg);
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	g_ctrl = c;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (kp_ctrl_run(c, &eb)) {
		fprintf(stderr, "karpenter controller: %s\n", eb.msg);
		status = KP_EXIT_FAIL;
	} else {
		status = KP_EXIT_OK;
	}
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	g_ctrl = NULL;
out:
	kp_ctrl_http_stop(http);
	kp_ctrl_free(c);
	kp_cloud_destroy(cloud);
	kp_catalog_free(&cat);
	kp_ctrl_global_cleanup();
	return status;
}
