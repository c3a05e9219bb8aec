/*
 * cost_bench.c - issue 12's cost benchmark: the two trace snapshots of
 * bench/cost/ (pods alive at one instant of Alibaba's openb GPU and DLRM
 * traces, an on-demand amd64/arm64 NodePool, the built-in AWS catalog)
 * planned in both packing modes, against the column-generation lower bound.
 *
 * Prints per snapshot and mode: pods, nodes, plan $/h, the bound, the ratio
 * plan/bound, the plan's time (load manifests + prepare + solve, median of
 * 3, catalog loaded once beforehand) and the bound's time. Each snapshot runs
 * in a forked child so its peak RSS is its own. Run from the repository root
 * (reads data/ and bench/cost/). Figures only: never fails on time.
 *
 * Then the scale-down: each snapshot is planned in Karpenter mode, its pods
 * bound to Nodes of that plan, half of them deleted (seeded shuffle), and
 * `simulate --consolidate` (kp_disrupt_run, every pass) runs in both modes:
 * the fleet left (the plan's price minus every command's savings) against
 * the bound for the pods left, and the time of all passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "karpenter/catalog.h"
#include "karpenter/disrupt.h"
#include "karpenter/pack.h"
#include "karpenter/sched.h"
#include "load/load.h"

#define RUNS 3

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process (the bench machine is shared: wall time includes waits) */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double plan_price(const struct kp_plan *p)
{
	double s = 0;

	for (int i = 0; i < p->nclaims; i++)
		if (p->claims[i].launch)
			s += p->claims[i].launch->price;
	return s;
}

/* One snapshot in one mode; 0 or -1. */
static int one(const char *label, const char *path, enum kp_packing mode)
{
	double t[RUNS], tb = 0, price = 0;
	struct kp_cost_bound b = { 0 };
	int nodes = 0, pods = 0, unsched = 0;

	for (int run = 0; run < RUNS; run++) {
		struct kp_cluster cl;
		struct kp_catalog cat;
		struct kp_plan plan;
		struct kp_errbuf eb = { 0 };
		struct kp_load_opts lo = { .warn = NULL, .now = 1700000000 };
		struct kp_sched_input in;
		struct kp_sched_opts so;
		double t0;

		kp_cluster_init(&cl);
		kp_catalog_init(&cat);
		if (kp_catalog_open(&cat, &cl.resnames, "aws", "data", &eb)) {
			fprintf(stderr, "cost_bench: catalog: %s\n", eb.msg);
			return -1;
		}
		t0 = now_s();
		if (kp_load_paths(&cl, &path, 1, &lo, &eb)) {
			fprintf(stderr, "cost_bench: %s: %s\n", path, eb.msg);
			return -1;
		}
		kp_cluster_link(&cl);
		memset(&in, 0, sizeof(in));
		in.cluster = &cl;
		in.catalog = &cat;
		kp_sched_opts_default(&so);
		so.packing = mode;
		if (kp_sched_solve(&in, &so, &plan, &eb)) {
			fprintf(stderr, "cost_bench: solve: %s\n", eb.msg);
			return -1;
		}
		t[run] = now_s() - t0;
		if (run == 0) {
			price = plan_price(&plan);
			nodes = plan.nclaims;
			unsched = plan.nunsched;
			for (int i = 0; i < plan.nclaims; i++)
				pods += plan.claims[i].npods;
			t0 = now_s();
			if (kp_sched_cost_bound(&in, &so, &plan, &b, &eb)) {
				fprintf(stderr, "cost_bench: bound: %s\n", eb.msg);
				return -1;
			}
			tb = now_s() - t0;
		}
		kp_plan_free(&plan);
		kp_catalog_free(&cat);
		kp_cluster_free(&cl);
	}
	qsort(t, RUNS, sizeof(double), cmp_d);
	printf("| %s | %s | %d | %d | %d | $%.2f | $%.2f | %.3f× | %.3f s | %.3f s |\n", label,
	       mode == KP_PACKING_COST ? "cost" : "karpenter", pods, unsched, nodes, price, b.lower,
	       b.lower > 0 ? price / b.lower : 0.0, t[RUNS / 2], tb);
	return 0;
}

static int snapshot(const char *label, const char *path)
{
	struct rusage ru;
	int rc = one(label, path, KP_PACKING_KARPENTER);

	if (!rc)
		rc = one(label, path, KP_PACKING_COST);
	getrusage(RUSAGE_SELF, &ru);
	printf("|   peak RSS of this snapshot's runs: %.1f MB | | | | | | | | | |\n", ru.ru_maxrss / 1024.0);
	return rc;
}


/* ---- scale-down ---- */

static const char NODEPOOL[] =
	"apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata:\n  name: default\nspec:\n  template:\n    spec:\n"
	"      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}\n"
	"      requirements:\n        - {key: kubernetes.io/os, operator: In, values: [linux]}\n"
	"        - {key: kubernetes.io/arch, operator: In, values: [amd64, arm64]}\n"
	"        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}\n";

static void put_res(struct kp_buf *b, const struct kp_res *r, const struct kp_resnames *rn, bool pods)
{
	bool first = true;

	kp_buf_addstr(b, "{");
	for (int k = 0; k < rn->n; k++) {
		if (!r->v[k] || (k == KP_RES_PODS && !pods))
			continue;
		if (k == KP_RES_CPU)
			kp_buf_printf(b, "%s\"cpu\": \"%lldm\"", first ? "" : ", ", (long long)r->v[k]);
		else
			kp_buf_printf(b, "%s\"%s\": \"%lld\"", first ? "" : ", ", rn->name[k], (long long)r->v[k]);
		first = false;
	}
	kp_buf_addstr(b, "}");
}

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

/* Nodes of plan with half its pods (keep[i] per pod in claim order) bound;
 * pending = the kept pods without nodes. */
static void scale_yaml(const struct kp_plan *plan, const struct kp_resnames *rn, const bool *keep, bool bound,
		       struct kp_buf *b)
{
	int k = 0;

	kp_buf_addstr(b, NODEPOOL);
	for (int i = 0; i < plan->nclaims; i++) {
		const struct kp_plan_claim *c = &plan->claims[i];
		if (bound) {
			kp_buf_printf(b, "---\napiVersion: v1\nkind: Node\nmetadata:\n  name: node-%d\n"
				      "  creationTimestamp: \"2024-06-01T00:00:00Z\"\n  labels:\n", i);
			for (int l = 0; l < c->launch_type->labels.n; l++)
				kp_buf_printf(b, "    %s: \"%s\"\n", c->launch_type->labels.kv[l].key,
					      c->launch_type->labels.kv[l].value);
			kp_buf_printf(b, "    kubernetes.io/hostname: node-%d\n    karpenter.sh/nodepool: default\n"
				      "    topology.kubernetes.io/zone: %s\n    karpenter.sh/capacity-type: %s\n"
				      "    karpenter.sh/registered: \"true\"\n    karpenter.sh/initialized: \"true\"\n"
				      "status:\n  conditions: [{type: Ready, status: \"True\"}]\n  capacity: ",
				      i, c->launch->zone, kp_captype_name(c->launch->captype));
			put_res(b, &c->launch_type->capacity, rn, true);
			kp_buf_addstr(b, "\n  allocatable: ");
			put_res(b, &c->launch_type->allocatable, rn, true);
			kp_buf_addstr(b, "\n");
		}
		for (int j = 0; j < c->npods; j++, k++) {
			if (!keep[k])
				continue;
			kp_buf_printf(b, "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p-%d\n  namespace: default\n"
				      "  creationTimestamp: \"2024-06-01T00:00:00Z\"\n"
				      "  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: rs, controller: true}]\n"
				      "spec:\n", k);
			if (bound)
				kp_buf_printf(b, "  nodeName: node-%d\n", i);
			kp_buf_addstr(b, "  containers:\n    - name: app\n      image: registry.k8s.io/pause:3.9\n"
				      "      resources:\n        requests: ");
			put_res(b, &c->pods[j]->requests, rn, false);
			kp_buf_addstr(b, bound ? "\nstatus: {phase: Running}\n" : "\n");
		}
	}
}

static int load_yaml(struct kp_cluster *cl, struct kp_catalog *cat, struct kp_buf *b)
{
	struct kp_errbuf eb = { 0 };
	struct kp_load_opts lo = { .warn = NULL, .now = 1717243200 };

	kp_cluster_init(cl);
	kp_catalog_init(cat);
	if (kp_catalog_open(cat, &cl->resnames, "aws", "data", &eb) ||
	    kp_load_buffer(cl, "scale-down", b->data, b->len, &lo, &eb)) {
		fprintf(stderr, "cost_bench: scale-down: %s\n", eb.msg);
		return -1;
	}
	kp_cluster_link(cl);
	return 0;
}

/* The bound for the kept pods, planned from scratch. */
static int kept_bound(const struct kp_plan *plan, const struct kp_resnames *rn, const bool *keep, double *lower)
{
	struct kp_buf b;
	struct kp_cluster cl;
	struct kp_catalog cat;
	struct kp_plan p2;
	struct kp_sched_input in;
	struct kp_cost_bound cb;
	struct kp_errbuf eb = { 0 };
	int rc = -1;

	kp_buf_init(&b, (size_t)1 << 30);
	scale_yaml(plan, rn, keep, false, &b);
	if (load_yaml(&cl, &cat, &b) == 0) {
		memset(&in, 0, sizeof(in));
		in.cluster = &cl;
		in.catalog = &cat;
		if (!kp_sched_solve(&in, NULL, &p2, &eb)) {
			if (!kp_sched_cost_bound(&in, NULL, &p2, &cb, &eb)) {
				*lower = cb.lower;
				rc = 0;
			}
			kp_plan_free(&p2);
		}
		if (rc)
			fprintf(stderr, "cost_bench: kept bound: %s\n", eb.msg);
	}
	kp_catalog_free(&cat);
	kp_cluster_free(&cl);
	kp_buf_free(&b);
	return rc;
}

static int g_passes;   /* scale-down pass cap (0 = kp_disrupt_run's 1000), set from argv in main */
static bool g_verbose;   /* --verbose: one line per command */
static int g_modes = 3;   /* scale-down modes: bit 0 karpenter, bit 1 cost */

static int scale_down(const char *label, const char *path)
{
	struct kp_cluster cl;
	struct kp_catalog cat;
	struct kp_plan plan;
	struct kp_sched_input in;
	struct kp_errbuf eb = { 0 };
	struct kp_load_opts lo = { .warn = NULL, .now = 1717243200 };
	struct kp_buf b;
	bool *keep;
	int *idx, npods = 0, nkept;
	uint32_t seed = 12;
	double fleet = 0, lower = 0;

	kp_cluster_init(&cl);
	kp_catalog_init(&cat);
	if (kp_catalog_open(&cat, &cl.resnames, "aws", "data", &eb) || kp_load_paths(&cl, &path, 1, &lo, &eb)) {
		fprintf(stderr, "cost_bench: %s\n", eb.msg);
		return -1;
	}
	kp_cluster_link(&cl);
	memset(&in, 0, sizeof(in));
	in.cluster = &cl;
	in.catalog = &cat;
	if (kp_sched_solve(&in, NULL, &plan, &eb))
		return -1;
	for (int i = 0; i < plan.nclaims; i++) {
		npods += plan.claims[i].npods;
		fleet += plan.claims[i].launch->price;
	}
	keep = calloc((size_t)npods + 1, sizeof(bool));
	idx = calloc((size_t)npods + 1, sizeof(int));
	if (!keep || !idx)
		return -1;
	for (int i = 0; i < npods; i++)
		idx[i] = i;
	for (int i = npods - 1; i > 0; i--) {
		int j = (int)(lcg(&seed) % (uint32_t)(i + 1)), t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
	nkept = npods - npods / 2;
	for (int i = 0; i < nkept; i++)
		keep[idx[i]] = true;
	if (kept_bound(&plan, &cl.resnames, keep, &lower))
		return -1;
	for (int mode = 0; mode < 2; mode++) {
		struct kp_cluster c2;
		if (!(g_modes >> mode & 1))
			continue;
		struct kp_catalog cat2;
		struct kp_disrupt_opts o;
		struct kp_disrupt_result res;
		double t0, t, c0, tc, saved = 0;
		int split = 0;

		kp_buf_init(&b, (size_t)1 << 30);
		scale_yaml(&plan, &cl.resnames, keep, true, &b);
		if (load_yaml(&c2, &cat2, &b))
			return -1;
		kp_disrupt_opts_default(&o);
		o.now = 1717243200;
		o.sched.packing = mode ? KP_PACKING_COST : KP_PACKING_KARPENTER;
		o.max_passes = g_passes;
		t0 = now_s();
		c0 = cpu_s();
		if (kp_disrupt_run(&c2, &cat2, &o, &res, &eb)) {
			fprintf(stderr, "cost_bench: consolidate: %s\n", eb.msg);
			return -1;
		}
		t = now_s() - t0;
		tc = cpu_s() - c0;
		for (int i = 0; i < res.ncmds; i++) {
			if (g_verbose)
				printf("  pass %d %s %s: %d nodes -> %d, $%.2f -> $%.2f, %d pods\n", res.cmds[i].pass,
				       kp_disrupt_method_name(res.cmds[i].method), kp_disrupt_action_name(res.cmds[i].action),
				       res.cmds[i].nnodes, res.cmds[i].nrepl, res.cmds[i].price, res.cmds[i].repl_price,
				       res.cmds[i].npods);
			saved += res.cmds[i].savings;
			split += res.cmds[i].method == KP_DISRUPT_SPLIT;
		}
		if (g_verbose)
			printf("  %d passes, %lld simulations, %lld candidates evaluated\n", res.npasses,
			       (long long)res.simulations, (long long)res.candidates_evaluated);
		printf("| %s | %s | %d → %d | %d | %d (%d split)%s | $%.2f → $%.2f | $%.2f | %.3f× | %.2f s | %.2f s |\n",
		       label, mode ? "cost" : "karpenter", npods, nkept, plan.nclaims, res.ncmds, split,
		       res.pass_limit ? ", pass limit" : "", fleet, fleet - saved, lower,
		       lower > 0 ? (fleet - saved) / lower : 0.0, t, tc);
		fflush(stdout);
		kp_disrupt_result_free(&res);
		kp_catalog_free(&cat2);
		kp_cluster_free(&c2);
		kp_buf_free(&b);
	}
	free(keep);
	free(idx);
	kp_plan_free(&plan);
	kp_catalog_free(&cat);
	kp_cluster_free(&cl);
	return 0;
}

static int run_child(int (*fn)(const char *, const char *), const char *label, const char *path)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int rc = fn(label, path);
		fflush(stdout);
		_exit(rc ? 1 : 0);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: cost_bench [--plans | --scale] [--full | --passes N] [--mode karpenter|cost] "
			"[--snap openb|dlrm] [--verbose]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const char *const snaps[][3] = {
		{ "openb GPU, t = 12522200 s", "bench/cost/openb-12522200.yaml", "openb" },
		{ "DLRM, t = 2631395 s", "bench/cost/dlrm-2631395.yaml", "dlrm" },
	};
	int bad = 0, tables = 3, snapmask = 3;

	/* every pass costs a consolidation search: the default caps the
	 * scale-down at 60 passes; --full runs them all */
	g_passes = 60;
	for (int i = 1; i < argc; i++) {
		int64_t v;
		if (strcmp(argv[i], "--plans") == 0)
			tables = 1;
		else if (strcmp(argv[i], "--scale") == 0)
			tables = 2;
		else if (strcmp(argv[i], "--verbose") == 0)
			g_verbose = true;
		else if (strcmp(argv[i], "--full") == 0)
			g_passes = 0;
		else if (strcmp(argv[i], "--passes") == 0 && i + 1 < argc && !kp_parse_i64(argv[i + 1], &v) && v > 0 &&
			 v < 1000000)
			g_passes = (int)v, i++;
		else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
			g_modes = strcmp(argv[++i], "cost") == 0 ? 2 : strcmp(argv[i], "karpenter") == 0 ? 1 : (usage(), 0);
		else if (strcmp(argv[i], "--snap") == 0 && i + 1 < argc)
			snapmask = strcmp(argv[++i], "openb") == 0 ? 1 : strcmp(argv[i], "dlrm") == 0 ? 2 : (usage(), 0);
		else
			usage();
	}
	if (tables & 1) {
		printf("| snapshot | packing | pods | unplaced | nodes | plan $/h | lower bound $/h | ratio | plan time | bound time |\n");
		printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
		for (size_t i = 0; i < sizeof(snaps) / sizeof(snaps[0]); i++)
			if (snapmask >> i & 1)
				bad |= run_child(snapshot, snaps[i][0], snaps[i][1]) != 0;
	}
	if (!(tables & 2))
		return bad;
	if (g_passes)
		printf("\nscale-down: Karpenter's plan, half the pods deleted (seeded), then at most %d consolidation passes\n\n",
		       g_passes);
	else
		printf("\nscale-down: Karpenter's plan, half the pods deleted (seeded), then every consolidation pass\n\n");
	printf("| snapshot | packing | pods | nodes | commands | fleet $/h | bound $/h (pods left) | ratio | time | CPU time |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < sizeof(snaps) / sizeof(snaps[0]); i++)
		if (snapmask >> i & 1)
			bad |= run_child(scale_down, snaps[i][0], snaps[i][1]) != 0;
	return bad;
}
