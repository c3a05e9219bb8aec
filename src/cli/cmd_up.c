/*
 * cmd_up.c - `karpenter up`: runs the local control plane until SIGINT or
 * SIGTERM, after writing a kubeconfig (mode 0600) that kubectl and the
 * official clients use unchanged.
 *
 * The listen address must be loopback unless --allow-remote is given. The
 * signals are blocked before any thread starts, so only the main thread
 * receives them (sigwait); shutdown then stops the listener, wakes every
 * watch and closes the store. Exit status: 0 after a clean stop, 1 when the
 * server cannot start, 2 on bad usage or when another `karpenter up` holds
 * the data directory.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "ctrl/ctrl.h"
#include "up/up.h"
#include "metrics/metrics.h"   /* kp_metrics_default for --metrics-listen */

static void up_usage(FILE *f)
{
	fputs("usage: karpenter up [--listen ADDR:PORT] [--kubeconfig PATH] [--data-dir DIR]\n"
	      "                    [--catalog NAME|FILE] [--launch-delay DURATION] [--allow-remote]\n"
	      "\n"
	      "  --listen ADDR:PORT       address to serve the Kubernetes API on (default 127.0.0.1:6443;\n"
	      "                           port 0 picks a free port)\n"
	      "  --kubeconfig PATH        where to write the kubeconfig (default DATA_DIR/kubeconfig)\n"
	      "  --data-dir DIR           store, certificates and token (default ~/.karpenter/up)\n"
	      "  --catalog NAME|FILE      instance-type catalog for the simulated cloud (default aws)\n"
	      "  --launch-delay DURATION  how long simulated instances take to boot (default 2s)\n"
	      "  --allow-remote           allow a non-loopback listen address\n"
	      "  --cloud fake|aws         the simulated cloud (default) or AWS (docs/aws.md): a Node for\n"
	      "                           every running instance of the cluster\n"
	      "  --aws-endpoint URL       --cloud aws: endpoint of every AWS service (e.g. moto)\n"
	      "  --aws-pricing-endpoint URL  --cloud aws: Pricing API endpoint, beats --aws-endpoint (default\n"
	      "                           AWS_ENDPOINT_URL_PRICING, AWS_ENDPOINT_URL, the Pricing region's)\n"
	      "  --aws-region REGION      --cloud aws: region (default AWS_REGION, profile, IMDS)\n"
	      "  --cluster-name NAME      --cloud aws: cluster name for tags (default $CLUSTER_NAME or karpenter)\n"
	      "  --packing MODE           karpenter (default) or cost (docs/packing.md)\n"
	      "  --metrics-listen ADDR:PORT  serve the controller's Prometheus /metrics (default off)\n"
	      "  --health-listen ADDR:PORT   serve /healthz and /readyz (default off)\n"
	      "  --no-controller          do not run the Karpenter controller in-process (also\n"
	      "                           KARPENTER_UP_CONTROLLER=off); run `karpenter controller` instead\n"
	      "  --cloud-listen ADDR:PORT serve the simulated cloud over HTTP on a loopback address, for\n"
	      "                           `karpenter controller --cloud-endpoint http://ADDR:PORT`\n"
	      /* ---- cloud persistence and fault injection (resilience work) ---- */
	      "  --fault FILE             inject faults into the simulated cloud from a JSON file (default\n"
	      "                           $KARPENTER_UP_FAULTS), re-read whenever it changes:\n"
	      "                             {\"insufficientCapacity\": [{\"instanceType\": T, \"zone\": Z,\n"
	      "                                                      \"capacityType\": \"spot\"}],\n"
	      "                              \"failNext\": [{\"ops\": [\"create\"], \"count\": 1,\n"
	      "                                            \"error\": \"InsufficientCapacity\"}],\n"
	      "                              \"bootDelay\": {\"delay\": \"30s\"|\"never\", \"count\": N}}\n"
	      "                           (omitted keys match anything; see docs/controller.md)\n"
	      "\n"
	      "The simulated cloud's instances are kept in DATA_DIR/cloud.json, saved on every change and\n"
	      "restored at start, so a restart neither forgets nor duplicates an instance.\n", f);
}

struct up_args {
	char host[INET6_ADDRSTRLEN];
	int port;
	const char *kubeconfig;
	const char *data_dir;
	const char *catalog;
	int64_t launch_delay_ms;
	int packing;                  /* --packing: 0 karpenter, 1 cost */
	bool allow_remote;
	const char *metrics_listen, *health_listen;   /* metrics listeners (src/ctrl/http.c); NULL = off */
	const char *fault_file;          /* --fault or $KARPENTER_UP_FAULTS; NULL = none */
	const char *cloud, *aws_endpoint, *aws_region, *cluster_name;   /* --cloud aws */
	const char *aws_pricing_endpoint;   /* --aws-pricing-endpoint */
	bool no_controller;              /* --no-controller or KARPENTER_UP_CONTROLLER=off */
	const char *cloud_listen;        /* --cloud-listen; NULL = the cloud is not served */
};

static bool parse_listen(const char *s, struct up_args *a)
{
	const char *colon = strrchr(s, ':');
	const char *h = s;
	size_t hl;
	int64_t port;

	if (!colon)
		return false;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		h = s + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(a->host) || kp_parse_i64(colon + 1, &port) || port < 0 || port > 65535)
		return false;
	memcpy(a->host, h, hl);
	a->host[hl] = '\0';
	if (strcmp(a->host, "localhost") == 0)
		snprintf(a->host, sizeof(a->host), "127.0.0.1");
	a->port = (int)port;
	return true;
}

static bool is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/* Returns 0 to go on, -1 after --help, or an exit status. */
static int up_parse(int argc, char **argv, struct up_args *a)
{
	for (int i = 1; i < argc; i++) {
		struct kp_cli_arg o;
		const char *arg, *val;

		kp_cli_arg_split(argv[i], &o);
		arg = o.name;
		val = o.val;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			up_usage(stdout);
			return -1;
		}
		if (strcmp(arg, "--allow-remote") == 0) {
			a->allow_remote = true;
			continue;
		}
		if (strcmp(arg, "--no-controller") == 0) {
			a->no_controller = true;
			continue;
		}
		if (strcmp(arg, "--cloud-listen") == 0) {
			if (!(val = kp_cli_arg_value("up", &o, argc, argv, &i)))
				return KP_EXIT_USAGE;
			a->cloud_listen = val;
			continue;
		}
		if (strcmp(arg, "--listen") != 0 && strcmp(arg, "--kubeconfig") != 0 && strcmp(arg, "--data-dir") != 0 &&
		    strcmp(arg, "--catalog") != 0 && strcmp(arg, "--launch-delay") != 0 &&
		    strcmp(arg, "--metrics-listen") != 0 && strcmp(arg, "--health-listen") != 0 &&
		    strcmp(arg, "--fault") != 0 && strcmp(arg, "--packing") != 0 && strcmp(arg, "--cloud") != 0 &&
		    strcmp(arg, "--aws-endpoint") != 0 && strcmp(arg, "--aws-region") != 0 &&
		    strcmp(arg, "--cluster-name") != 0 && strcmp(arg, "--aws-pricing-endpoint") != 0) {
			fprintf(stderr, "karpenter up: unknown option \"%s\"\n", argv[i]);
			up_usage(stderr);
			return KP_EXIT_USAGE;
		}
		if (!(val = kp_cli_arg_value("up", &o, argc, argv, &i)))
			return KP_EXIT_USAGE;
		if (strcmp(arg, "--listen") == 0) {
			if (!parse_listen(val, a)) {
				fprintf(stderr, "karpenter up: --listen: expected ADDR:PORT, got \"%s\"\n", val);
				return KP_EXIT_USAGE;
			}
		} else if (strcmp(arg, "--kubeconfig") == 0) {
			a->kubeconfig = val;
		} else if (strcmp(arg, "--data-dir") == 0) {
			a->data_dir = val;
		} else if (strcmp(arg, "--catalog") == 0) {
			a->catalog = val;
		} else if (strcmp(arg, "--fault") == 0) {
			a->fault_file = val;
		} else if (strcmp(arg, "--cloud") == 0) {
			if (strcmp(val, "fake") != 0 && strcmp(val, "aws") != 0) {
				fprintf(stderr, "karpenter up: --cloud must be fake or aws, got \"%s\"\n", val);
				return KP_EXIT_USAGE;
			}
			a->cloud = val;
		} else if (strcmp(arg, "--aws-endpoint") == 0) {
			a->aws_endpoint = val;
		} else if (strcmp(arg, "--aws-pricing-endpoint") == 0) {
			if (strncmp(val, "http://", 7) != 0 && strncmp(val, "https://", 8) != 0) {
				fprintf(stderr, "karpenter up: --aws-pricing-endpoint: expected an http:// or https:// URL, "
					"got \"%s\"\n", val);
				return KP_EXIT_USAGE;
			}
			a->aws_pricing_endpoint = val;
		} else if (strcmp(arg, "--aws-region") == 0) {
			a->aws_region = val;
		} else if (strcmp(arg, "--cluster-name") == 0) {
			a->cluster_name = val;
		} else if (strcmp(arg, "--packing") == 0) {
			if (strcmp(val, "cost") != 0 && strcmp(val, "karpenter") != 0) {
				fprintf(stderr, "karpenter up: --packing must be karpenter or cost\n");
				return KP_EXIT_USAGE;
			}
			a->packing = strcmp(val, "cost") == 0;
		} else if (strcmp(arg, "--metrics-listen") == 0 || strcmp(arg, "--health-listen") == 0) {
			struct up_args t = { 0 };
			if (!parse_listen(val, &t) || (!a->allow_remote && !is_loopback(t.host))) {
				fprintf(stderr, "karpenter up: %s: expected a loopback ADDR:PORT, got \"%s\"\n", arg, val);
				return KP_EXIT_USAGE;
			}
			*(strcmp(arg, "--metrics-listen") == 0 ? &a->metrics_listen : &a->health_listen) = val;
		} else if (kp_parse_duration_ms(val, &a->launch_delay_ms) || a->launch_delay_ms < 0) {
			fprintf(stderr, "karpenter up: --launch-delay: bad duration \"%s\"\n", val);
			return KP_EXIT_USAGE;
		}
	}
	if (!a->allow_remote && !is_loopback(a->host)) {
		fprintf(stderr, "karpenter up: refusing to listen on non-loopback address %s (use --allow-remote)\n",
			a->host);
		return KP_EXIT_USAGE;
	}
	return 0;
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int kp_cmd_up(int argc, char **argv, const char *datadir)
{
	struct up_args a = { .port = 6443, .catalog = "aws", .launch_delay_ms = 2000 };
	struct kp_apiserver_config cfg = { 0 };
	struct kp_errbuf eb = { 0 };
	struct kp_up *U = NULL;
	struct kp_ctrl_http *http = NULL;
	char ddir[PATH_MAX], kcfg[PATH_MAX + 16], crds[PATH_MAX + 32];
	sigset_t set;
	int sig = 0, rc, lock_fd = -1;

	snprintf(a.host, sizeof(a.host), "127.0.0.1");
	rc = up_parse(argc, argv, &a);
	if (rc)
		return rc < 0 ? KP_EXIT_OK : rc;
	if (a.data_dir) {
		snprintf(ddir, sizeof(ddir), "%s", a.data_dir);
	} else {
		const char *home = getenv("HOME");
		snprintf(ddir, sizeof(ddir), "%s/.karpenter/up", home && *home ? home : ".");
	}
	if (a.kubeconfig)
		snprintf(kcfg, sizeof(kcfg), "%s", a.kubeconfig);
	else
		snprintf(kcfg, sizeof(kcfg), "%s/kubeconfig", ddir);
	if ((size_t)snprintf(crds, sizeof(crds), "%s/../deploy/crds", datadir) >= sizeof(crds))
		crds[0] = '\0';
	cfg.listen_host = a.host;
	cfg.port = a.port;
	cfg.data_dir = ddir;
	cfg.crd_dir = crds[0] && is_dir(crds) ? crds : NULL;
	cfg.allow_remote = a.allow_remote;
	{
		const char *bm = getenv("KARPENTER_UP_BOOKMARK_MS");
		int64_t v = 0;
		if (bm && !kp_parse_i64(bm, &v) && v > 0)
			cfg.bookmark_ms = v;
		bm = getenv("KARPENTER_UP_EVENT_WINDOW");
		if (bm && !kp_parse_i64(bm, &v) && v > 0)
			cfg.event_window = v;
		/* events younger than this many seconds are kept too (0: the window alone) */
		bm = getenv("KARPENTER_UP_EVENT_TTL");
		if (bm && !kp_parse_i64(bm, &v) && v >= 0 && v <= INT64_MAX / 1000)
			cfg.event_ttl_ms = v > 0 ? v * 1000 : -1;
		/* kubelet stand-in: longest wait of a terminating pod (ms; < 0: its whole grace) */
		bm = getenv("KARPENTER_UP_GRACE_CAP_MS");
		if (bm && !kp_parse_i64(bm, &v))
			cfg.grace_cap_ms = v;
		/* the API server's limits (docs/up.md); unset = its defaults */
		bm = getenv("KARPENTER_UP_MAX_CONNECTIONS");
		if (bm && !kp_parse_i64(bm, &v) && v > 0 && v <= 65536)
			cfg.max_connections = (int)v;
		bm = getenv("KARPENTER_UP_MAX_INFLIGHT");
		if (bm && !kp_parse_i64(bm, &v) && v > 0 && v <= 65536)
			cfg.max_inflight = (int)v;
		bm = getenv("KARPENTER_UP_MAX_WATCHES_PER_CLIENT");
		if (bm && !kp_parse_i64(bm, &v) && v > 0 && v <= 65536)
			cfg.max_watches_per_client = (int)v;
		bm = getenv("KARPENTER_UP_MAX_WATCH_SECONDS");
		if (bm && !kp_parse_i64(bm, &v) && v > 0)
			cfg.max_watch_s = v;
		bm = getenv("KARPENTER_UP_REQUEST_TIMEOUT_SECONDS");
		if (bm && !kp_parse_i64(bm, &v) && v > 0 && v <= 86400)
			cfg.request_timeout_s = v;
	}

	/* the data directory: private (0700, files 0600, and so every file
	 * created from here on) and ours alone; a second `up` on it exits 2
	 * naming the holder (src/up/datadir.c) */
	umask(077);
	{
		long holder = 0;
		if (kp_up_datadir_lock(ddir, &lock_fd, &holder, &eb)) {
			fprintf(stderr, "karpenter up: %s\n", eb.msg);
			return holder ? KP_EXIT_USAGE : KP_EXIT_FAIL;
		}
	}

	/* every thread started from here on inherits the blocked signals */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (kp_up_start(&U, &cfg, &eb)) {
		fprintf(stderr, "karpenter up: %s\n", eb.msg);
		return KP_EXIT_FAIL;
	}
	if (kp_apiserver_write_kubeconfig(U->api, kcfg, &eb)) {
		fprintf(stderr, "karpenter up: %s\n", eb.msg);
		kp_up_stop(U);
		return KP_EXIT_FAIL;
	}
	/* ---- the Karpenter controller, in-process through HTTP (src/ctrl);
	 * KARPENTER_UP_CONTROLLER=off leaves it out (to run `karpenter
	 * controller` against this server instead) ---- */
	if (getenv("KARPENTER_UP_CONTROLLER") && strcmp(getenv("KARPENTER_UP_CONTROLLER"), "off") == 0)
		a.no_controller = true;
	if (!a.no_controller || a.cloud_listen) {
		struct kp_up_karpenter_opts ko = { .catalog = a.catalog, .datadir = datadir,
						   .launch_delay_ms = a.launch_delay_ms, .log_level = KP_LOG_INFO,
						   .leader_elect = true, .controller_off = a.no_controller,
						   .cloud_listen = a.cloud_listen };
		const char *lv = getenv("KARPENTER_UP_LOG_LEVEL");
		const char *ff = getenv("KARPENTER_UP_FAULTS");   /* fault injection (resilience work) */
		ko.fault_file = a.fault_file ? a.fault_file : ff && *ff ? ff : NULL;
		ko.packing = a.packing;
		ko.cloud = a.cloud;
		ko.aws_endpoint = a.aws_endpoint;
		ko.aws_region = a.aws_region;
		ko.aws_pricing_endpoint = a.aws_pricing_endpoint;
		ko.cluster_name = a.cluster_name ? a.cluster_name : getenv("CLUSTER_NAME");
		ko.cluster_endpoint = NULL;
		if (lv)
			kp_log_parse_level(lv, &ko.log_level, NULL);
		if (kp_up_karpenter_start(U, &ko, &eb)) {
			fprintf(stderr, "karpenter up: controller: %s\n", eb.msg);
			kp_up_stop(U);
			return KP_EXIT_FAIL;
		}
	}
	/* ---- metrics and health listeners (off unless asked for) ---- */
	if ((a.metrics_listen || a.health_listen) &&
	    kp_ctrl_http_start(NULL, kp_metrics_default(), a.metrics_listen, a.health_listen, &http, &eb)) {
		fprintf(stderr, "karpenter up: %s\n", eb.msg);
		kp_up_stop(U);
		return KP_EXIT_FAIL;
	}
	printf("karpenter up: serving the Kubernetes API on https://%s:%d (data in %s)\n", a.host, U->api->port, ddir);
	printf("karpenter up: catalog %s, launch delay %lldms\n", a.catalog, (long long)a.launch_delay_ms);
	if (kp_up_cloud_port(U))
		printf("karpenter up: simulated cloud served on http://127.0.0.1:%d%s\n", kp_up_cloud_port(U),
		       a.no_controller ? " (no controller in-process)" : "");
	printf("karpenter up: kubeconfig written to %s; use it with:\n\n    export KUBECONFIG=%s\n    kubectl get nodes\n\n",
	       kcfg, kcfg);
	printf("karpenter up: ready (Ctrl-C to stop)\n");
	fflush(stdout);
	while (sigwait(&set, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
		;
	printf("karpenter up: %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	fflush(stdout);
	kp_ctrl_http_stop(http);
	kp_up_stop(U);
	kp_up_datadir_unlock(lock_fd);
	printf("karpenter up: stopped\n");
	return KP_EXIT_OK;
}
