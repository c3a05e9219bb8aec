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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "karpenter/catalog.h"
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

int main(void)
{
	static const char *const snaps[][2] = {
		{ "openb GPU, t = 12522200 s", "bench/cost/openb-12522200.yaml" },
		{ "DLRM, t = 2631395 s", "bench/cost/dlrm-2631395.yaml" },
	};
	int bad = 0;

	printf("| snapshot | packing | pods | unplaced | nodes | plan $/h | lower bound $/h | ratio | plan time | bound time |\n");
	printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	fflush(stdout);
	for (size_t i = 0; i < sizeof(snaps) / sizeof(snaps[0]); i++) {
		pid_t pid = fork();
		int st;

		if (pid < 0)
			return 1;
		if (pid == 0) {
			int rc = snapshot(snaps[i][0], snaps[i][1]);
			fflush(stdout);
			_exit(rc ? 1 : 0);
		}
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			bad = 1;
	}
	return bad;
}
