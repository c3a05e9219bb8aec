/*
 * sched_bench.c - Karpenter's scheduling benchmark, reproduced.
 *
 * Mirrors pkg/controllers/provisioning/scheduling/scheduling_benchmark_test.go:
 * 400 instance types fake-it-i (cpu i+1, memory 2(i+1)Gi, pods 10(i+1);
 * spot offerings in zones 1-2, on-demand in zones 1-3; price 0.1/vCPU +
 * 0.1/GB; kubeReserved 100m / 10Mi), one NodePool with huge limits, and
 * pods in five equal groups (generic; zone spread maxSkew 1; hostname
 * spread; zone self-affinity; hostname anti-affinity among app=nginx), cpu
 * in {100,250,500,1000,1500}m, memory in {100,256,512,1024,2048,4096}Mi.
 * Karpenter draws with Go's math/rand seeded 42; this draws with a
 * SplitMix64 seeded 42, so the exact mix differs but the distribution is
 * the same. The pool allows spot and on-demand (Karpenter's test pool has
 * no capacity-type requirement and its fake provider offers both).
 *
 * Each size runs in a forked child so its peak RSS is its own. Prints, per
 * size: pods, nodes, median solve time over several runs, pods/s and the
 * child's peak RSS. Never fails on time: figures only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "karpenter/catalog.h"
#include "karpenter/sched.h"

static uint64_t rng_state = 42;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* CPU time of this process: the machine is shared, wall time includes waits. */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rng_int(int n)
{
	return (int)(rng_next() % (uint64_t)n);
}

#define DIE(...) do { fprintf(stderr, "sched_bench: " __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void build_catalog(struct kp_catalog *cat, struct kp_resnames *rn, int ntypes)
{
	struct kp_errbuf eb = { 0 };
	struct kp_arena *a = &cat->arena;
	static const char *const zones[] = { "test-zone-1", "test-zone-2", "test-zone-3" };

	cat->name = "fake-400";
	for (int i = 0; i < ntypes; i++) {
		struct kp_itype *it = kp_arena_alloc(a, sizeof(*it));
		int64_t cpu = i + 1, memgi = 2LL * (i + 1);
		double price = 0.1 * (double)cpu + 0.1 * (double)(memgi << 30) / 1e9;
		int k = 0;

		if (!it)
			DIE("out of memory");
		it->name = kp_arena_printf(a, "fake-it-%d", i);
		it->capacity.v[KP_RES_CPU] = cpu * 1000;
		it->capacity.v[KP_RES_MEMORY] = memgi << 30;
		it->capacity.v[KP_RES_PODS] = 10LL * (i + 1);
		it->overhead.kube_reserved.v[KP_RES_CPU] = 100;
		it->overhead.kube_reserved.v[KP_RES_MEMORY] = 10LL << 20;
		if (kp_labels_set(&it->labels, a, KP_LABEL_INSTANCE_TYPE, it->name) ||
		    kp_labels_set(&it->labels, a, KP_LABEL_ARCH, "amd64") ||
		    kp_labels_set(&it->labels, a, KP_LABEL_OS, "linux"))
			DIE("out of memory");
		it->off = kp_arena_calloc(a, 5, sizeof(*it->off));
		for (int z = 0; z < 2; z++)
			it->off[k++] = (struct kp_offering){ zones[z], KP_CAP_SPOT, price, true };
		for (int z = 0; z < 3; z++)
			it->off[k++] = (struct kp_offering){ zones[z], KP_CAP_ON_DEMAND, price, true };
		it->noff = k;
		if (kp_itype_finish(it, a, &eb) || kp_catalog_add(cat, it))
			DIE("catalog: %s", eb.msg);
	}
	kp_catalog_sort(cat);
	(void)rn;
}

static struct kp_selector *one_label_selector(struct kp_arena *a, const char *k, const char *v)
{
	struct kp_selector *s = kp_arena_alloc(a, sizeof(*s));
	if (!s || kp_labels_set(&s->match_labels, a, k, v))
		DIE("out of memory");
	return s;
}

static const char *label_value(void)
{
	static const char *const v[] = { "a", "b", "c", "d", "e", "f", "g" };
	return v[rng_int(7)];
}

static struct kp_pod *new_pod(struct kp_cluster *c, int idx)
{
	static const int cpu[] = { 100, 250, 500, 1000, 1500 };
	static const int mem[] = { 100, 256, 512, 1024, 2048, 4096 };
	struct kp_arena *a = &c->arena;
	struct kp_pod *p = kp_arena_alloc(a, sizeof(*p));

	if (!p)
		DIE("out of memory");
	p->ns = "default";
	p->name = kp_arena_printf(a, "pod-%d", idx);
	p->uid = kp_arena_printf(a, "uid-%08d", idx);
	p->created = 1700000000;
	p->termination_grace_s = 30;
	p->requests.v[KP_RES_CPU] = cpu[rng_int(5)];
	p->requests.v[KP_RES_MEMORY] = (int64_t)mem[rng_int(6)] << 20;
	return p;
}

static void add_pods(struct kp_cluster *c, int count)
{
	struct kp_arena *a = &c->arena;
	int per = count / 5, idx = 0;
	struct kp_selector *nginx = one_label_selector(a, "app", "nginx");

	for (int g = 0; g < 5; g++) {
		for (int i = 0; i < per; i++) {
			struct kp_pod *p = new_pod(c, idx++);
			switch (g) {
			case 0: /* generic */
				kp_labels_set(&p->labels, a, "my-label", label_value());
				break;
			case 1: /* zone spread */
			case 2: /* hostname spread */
				kp_labels_set(&p->labels, a, "my-label", label_value());
				p->ntsc = 1;
				p->tsc = kp_arena_alloc(a, sizeof(*p->tsc));
				p->tsc->max_skew = 1;
				p->tsc->topology_key = g == 1 ? KP_LABEL_ZONE : KP_LABEL_HOSTNAME;
				p->tsc->when_unsatisfiable = KP_DO_NOT_SCHEDULE;
				p->tsc->selector = one_label_selector(a, "my-label", label_value());
				p->tsc->node_taints_policy = KP_POLICY_IGNORE;
				break;
			case 3: { /* zone self-affinity */
				const char *v = label_value();
				kp_labels_set(&p->labels, a, "my-affininity", v);
				p->naffinity = 1;
				p->affinity = kp_arena_alloc(a, sizeof(*p->affinity));
				p->affinity->selector = one_label_selector(a, "my-affininity", v);
				p->affinity->topology_key = KP_LABEL_ZONE;
				break;
			}
			case 4: /* hostname anti-affinity among app=nginx */
				kp_labels_set(&p->labels, a, "app", "nginx");
				p->nanti = 1;
				p->anti = kp_arena_alloc(a, sizeof(*p->anti));
				p->anti->selector = nginx;
				p->anti->topology_key = KP_LABEL_HOSTNAME;
				break;
			}
			if (kp_cluster_add_pod(c, p))
				DIE("out of memory");
		}
	}
	while (idx < count) {
		struct kp_pod *p = new_pod(c, idx++);
		kp_labels_set(&p->labels, a, "my-label", label_value());
		if (kp_cluster_add_pod(c, p))
			DIE("out of memory");
	}
}

static void add_pool(struct kp_cluster *c)
{
	struct kp_arena *a = &c->arena;
	struct kp_nodepool *np = kp_arena_alloc(a, sizeof(*np));
	struct kp_errbuf eb = { 0 };
	struct kp_req r;
	const char *cts[] = { "spot", "on-demand" };

	np->name = "default";
	np->api_version = "karpenter.sh/v1";
	np->expire_after_ms = 720LL * 3600 * 1000;
	np->termination_grace_ms = KP_NEVER;
	np->limits.v[KP_RES_CPU] = 10000000LL * 1000;
	np->limits.v[KP_RES_MEMORY] = 10000000LL << 30;
	np->limit_mask = (1u << KP_RES_CPU) | (1u << KP_RES_MEMORY);
	if (kp_req_make(&r, a, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, cts, 2, 0, &eb) || kp_reqs_add(&np->reqs, a, &r))
		DIE("pool: %s", eb.msg);
	if (kp_cluster_add_pool(c, np))
		DIE("out of memory");
}

static long peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Runs in a child: builds everything, solves `runs` times, prints one row. */
static void run_size(int npods, int runs, bool ignore_prefs, enum kp_packing packing)
{
	struct kp_cluster c;
	struct kp_catalog cat;
	struct kp_sched_opts opts;
	struct kp_sched_input in = { 0 };
	struct kp_errbuf eb = { 0 };
	double t[16], tc[16], price = 0;
	int nodes = 0, unsched = 0;

	rng_state = 42;
	kp_cluster_init(&c);
	kp_catalog_init(&cat);
	build_catalog(&cat, &c.resnames, 400);
	add_pool(&c);
	add_pods(&c, npods);
	kp_sched_opts_default(&opts);
	opts.ignore_preferences = ignore_prefs;
	opts.packing = packing;
	in.cluster = &c;
	in.catalog = &cat;
	if (runs > 16)
		runs = 16;
	for (int r = 0; r < runs; r++) {
		struct kp_plan plan;
		double t0 = now_s(), c0 = cpu_s();
		if (kp_sched_solve(&in, &opts, &plan, &eb))
			DIE("solve: %s", eb.msg);
		t[r] = now_s() - t0;
		tc[r] = cpu_s() - c0;
		if (r == 0) {
			for (int i = 0; i < plan.nclaims; i++)
				price += plan.claims[i].launch ? plan.claims[i].launch->price : 0;
			nodes = plan.nclaims;
			unsched = plan.nunsched;
		}
		kp_plan_free(&plan);
	}
	qsort(t, (size_t)runs, sizeof(t[0]), cmp_double);
	qsort(tc, (size_t)runs, sizeof(tc[0]), cmp_double);
	printf("%8d %8d %8d %12.2f %10.2f %14.0f %10.1f %6d %12.2f\n", npods, nodes, unsched, t[runs / 2] * 1e3,
	       tc[runs / 2] * 1e3, npods / t[runs / 2], peak_rss_kb() / 1024.0, runs, price);
	fflush(stdout);
	kp_catalog_free(&cat);
	kp_cluster_free(&c);
}

int main(int argc, char **argv)
{
	static const int sizes[] = { 1, 50, 100, 500, 1000, 2000, 5000, 10000, 20000 };
	int only = 0;
	enum kp_packing packing = KP_PACKING_KARPENTER;

	if (argc > 1) {
		int64_t v;
		if (kp_parse_i64(argv[1], &v) || v < 1 || v > 1000000)
			DIE("usage: sched_bench [NPODS [karpenter|cost]]");
		only = (int)v;
	}
	if (argc > 2 && strcmp(argv[2], "cost") == 0)
		packing = KP_PACKING_COST;   /* docs/packing.md: the cost mode on the same mix */
	else if (argc > 2 && strcmp(argv[2], "karpenter") != 0)
		DIE("usage: sched_bench [NPODS [karpenter|cost]]");
	printf("Karpenter scheduling benchmark (400 instance types, diverse pods), one core\n");
	printf("%8s %8s %8s %12s %10s %14s %10s %6s %12s\n", "pods", "nodes", "unsched", "median ms", "cpu ms", "pods/s",
	       "peak MB", "runs", "$/h");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int n = only ? only : sizes[i];
		int runs = n <= 1000 ? 11 : n <= 5000 ? 7 : 5;
		pid_t pid;

		fflush(stdout);  /* the child must not inherit unflushed lines */
		pid = fork();
		if (pid < 0)
			DIE("fork failed");
		if (pid == 0) {
			run_size(n, runs, false, packing);
			_exit(0);
		}
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			DIE("size %d failed", n);
		if (only)
			break;
	}
	return 0;
}
