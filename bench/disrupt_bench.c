/*
 * disrupt_bench.c - the disruption engine on a large cluster: one full
 * pass that evaluates every consolidation candidate.
 *
 * Cluster: the catalog of sched_bench.c (400 fake types, 0.1/vCPU +
 * 0.1/GB, spot in zones 1-2, on-demand in zones 1-3), one NodePool (spot
 * and on-demand, budget 100%), 1000 initialized nodes (8-32 vCPU, zones
 * round-robin, 30% spot) and 10,000 pods bound to them, drawn like
 * Karpenter's scheduling benchmark: five equal groups (generic; zone spread
 * maxSkew 1; hostname spread maxSkew 1; zone self-affinity; hostname
 * anti-affinity), cpu in {100,250,500,1000,1500}m, memory in
 * {100,...,4096}Mi. One change so 10,000 pods fit on 1000 nodes: the
 * anti-affinity group repels pods of its own label value (7 values)
 * instead of every app=nginx pod. Pods are placed first-fit from a
 * rotating start, honouring those constraints, so nodes run ~35% full.
 *
 * Figures (medians of several runs, one core): building a pass (candidates,
 * PDB and budgets), multi-node consolidation (binary search, capped at 100
 * candidates as in Karpenter, then uncapped with evaluate_all), single-node
 * consolidation simulating every candidate (evaluate_all), the full pass
 * (build + capped multi-node + single-node), and the first pass of
 * kp_disrupt_run as Karpenter would run it. Prints candidates evaluated and simulations.
 * Never fails on time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disrupt/disrupt_int.h"
#include "karpenter/catalog.h"
#include "karpenter/disrupt.h"

#define NNODES 1000
#define NPODS 10000
#define RUNS 5
#define NOW 1700003600

static uint64_t rng_state = 42;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int rng_int(int n)
{
	return (int)(rng_next() % (uint64_t)n);
}

#define DIE(...) do { fprintf(stderr, "disrupt_bench: " __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

static const char *const zones[] = { "test-zone-1", "test-zone-2", "test-zone-3" };
static const char *const values[] = { "a", "b", "c", "d", "e", "f", "g" };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void build_catalog(struct kp_catalog *cat)
{
	struct kp_errbuf eb = { 0 };
	struct kp_arena *a = &cat->arena;

	cat->name = "fake-400";
	for (int i = 0; i < 400; i++) {
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
		if (!it->off)
			DIE("out of memory");
		for (int z = 0; z < 2; z++)
			it->off[k++] = (struct kp_offering){ zones[z], KP_CAP_SPOT, price * 0.4, true };
		for (int z = 0; z < 3; z++)
			it->off[k++] = (struct kp_offering){ zones[z], KP_CAP_ON_DEMAND, price, true };
		it->noff = k;
		if (kp_itype_finish(it, a, &eb) || kp_catalog_add(cat, it))
			DIE("catalog: %s", eb.msg);
	}
	kp_catalog_sort(cat);
}

static void add_pool(struct kp_cluster *c)
{
	struct kp_arena *a = &c->arena;
	struct kp_nodepool *np = kp_arena_alloc(a, sizeof(*np));
	struct kp_errbuf eb = { 0 };
	struct kp_req r;
	const char *cts[] = { "spot", "on-demand" };

	if (!np)
		DIE("out of memory");
	np->name = "default";
	np->api_version = "karpenter.sh/v1";
	np->expire_after_ms = 720LL * 3600 * 1000;
	np->termination_grace_ms = KP_NEVER;
	np->limits.v[KP_RES_CPU] = 10000000LL * 1000;
	np->limits.v[KP_RES_MEMORY] = 10000000LL << 30;
	np->limit_mask = (1u << KP_RES_CPU) | (1u << KP_RES_MEMORY);
	np->budgets = kp_arena_calloc(a, 1, sizeof(*np->budgets));
	if (!np->budgets)
		DIE("out of memory");
	np->budgets[0].percent = true;
	np->budgets[0].nodes = 100;
	np->nbudgets = 1;
	if (kp_req_make(&r, a, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, cts, 2, 0, &eb) || kp_reqs_add(&np->reqs, a, &r))
		DIE("pool: %s", eb.msg);
	if (kp_cluster_add_pool(c, np))
		DIE("out of memory");
}

struct slot {
	struct kp_node *node;
	int zone;
	int64_t cpu, mem, pods;         /* free */
	unsigned used;                  /* bit g*8+v: a group 2 or 4 pod with value v */
};

static void add_nodes(struct kp_cluster *c, const struct kp_catalog *cat, struct slot *s)
{
	static const int sizes[] = { 8, 12, 16, 24, 32 };
	struct kp_arena *a = &c->arena;

	for (int i = 0; i < NNODES; i++) {
		struct kp_node *n = kp_arena_alloc(a, sizeof(*n));
		const struct kp_itype *it;
		char tname[32];
		int z = i % 3;
		bool spot = z < 2 && rng_int(10) < 3;

		if (!n)
			DIE("out of memory");
		snprintf(tname, sizeof(tname), "fake-it-%d", sizes[rng_int(5)] - 1);
		it = kp_catalog_find(cat, tname);
		n->name = kp_arena_printf(a, "node-%04d", i);
		n->created = NOW - 7200;
		n->ready = true;
		n->capacity = it->capacity;
		n->allocatable = it->allocatable;
		if (kp_labels_set(&n->labels, a, KP_LABEL_NODEPOOL, "default") ||
		    kp_labels_set(&n->labels, a, KP_LABEL_INSTANCE_TYPE, it->name) ||
		    kp_labels_set(&n->labels, a, KP_LABEL_ZONE, zones[z]) ||
		    kp_labels_set(&n->labels, a, KP_LABEL_CAPACITY_TYPE, spot ? KP_CT_SPOT : KP_CT_ON_DEMAND) ||
		    kp_labels_set(&n->labels, a, KP_LABEL_HOSTNAME, n->name) ||
		    kp_labels_set(&n->labels, a, KP_LABEL_INITIALIZED, "true") ||
		    kp_labels_set(&n->labels, a, KP_LABEL_ARCH, "amd64") ||
		    kp_labels_set(&n->labels, a, KP_LABEL_OS, "linux") || kp_cluster_add_node(c, n))
			DIE("out of memory");
		s[i].node = n;
		s[i].zone = z;
		s[i].cpu = it->allocatable.v[KP_RES_CPU];
		s[i].mem = it->allocatable.v[KP_RES_MEMORY];
		s[i].pods = it->allocatable.v[KP_RES_PODS];
	}
}

static struct kp_selector *sel1(struct kp_arena *a, const char *k, const char *v)
{
	struct kp_selector *s = kp_arena_alloc(a, sizeof(*s));
	if (!s || kp_labels_set(&s->match_labels, a, k, v))
		DIE("out of memory");
	return s;
}

/* First node from a rotating start that fits and keeps the constraints. */
static int place(struct slot *s, const struct kp_pod *p, int group, int v, int zone, int *cursor)
{
	for (int k = 0; k < NNODES; k++) {
		int i = (*cursor + k) % NNODES;
		unsigned bit = (group == 2 || group == 4) ? 1u << ((group == 4 ? 8 : 0) + v) : 0;

		if (zone >= 0 && s[i].zone != zone)
			continue;
		if (s[i].cpu < p->requests.v[KP_RES_CPU] || s[i].mem < p->requests.v[KP_RES_MEMORY] || s[i].pods < 1)
			continue;
		if (bit && (s[i].used & bit))
			continue;
		s[i].cpu -= p->requests.v[KP_RES_CPU];
		s[i].mem -= p->requests.v[KP_RES_MEMORY];
		s[i].pods--;
		s[i].used |= bit;
		*cursor = i + 1;
		return i;
	}
	return -1;
}

static void add_pods(struct kp_cluster *c, struct slot *s)
{
	static const int cpu[] = { 100, 250, 500, 1000, 1500 };
	static const int mem[] = { 100, 256, 512, 1024, 2048, 4096 };
	struct kp_arena *a = &c->arena;
	int zone_count[7][3] = { { 0 } };
	int cursor = 0;

	for (int idx = 0; idx < NPODS; idx++) {
		struct kp_pod *p = kp_arena_alloc(a, sizeof(*p));
		int g = idx / (NPODS / 5), v = rng_int(7), zone = -1, at;

		if (!p)
			DIE("out of memory");
		p->ns = "default";
		p->name = kp_arena_printf(a, "pod-%05d", idx);
		p->uid = kp_arena_printf(a, "uid-%08d", idx);
		p->created = NOW - 7200;
		p->phase = "Running";
		p->owner_kind = "ReplicaSet";
		p->termination_grace_s = 30;
		p->requests.v[KP_RES_CPU] = cpu[rng_int(5)];
		p->requests.v[KP_RES_MEMORY] = (int64_t)mem[rng_int(6)] << 20;
		switch (g) {
		case 0:
			kp_labels_set(&p->labels, a, "my-label", values[v]);
			break;
		case 1:
		case 2:
			kp_labels_set(&p->labels, a, "my-label", values[v]);
			p->ntsc = 1;
			p->tsc = kp_arena_alloc(a, sizeof(*p->tsc));
			p->tsc->max_skew = 1;
			p->tsc->topology_key = g == 1 ? KP_LABEL_ZONE : KP_LABEL_HOSTNAME;
			p->tsc->when_unsatisfiable = KP_DO_NOT_SCHEDULE;
			p->tsc->selector = sel1(a, "my-label", values[v]);
			p->tsc->node_taints_policy = KP_POLICY_IGNORE;
			if (g == 1) {
				zone = 0;
				for (int z = 1; z < 3; z++)
					if (zone_count[v][z] < zone_count[v][zone])
						zone = z;
				zone_count[v][zone]++;
			}
			break;
		case 3:
			kp_labels_set(&p->labels, a, "my-affininity", values[v]);
			p->naffinity = 1;
			p->affinity = kp_arena_alloc(a, sizeof(*p->affinity));
			p->affinity->selector = sel1(a, "my-affininity", values[v]);
			p->affinity->topology_key = KP_LABEL_ZONE;
			zone = v % 3;
			break;
		default:
			kp_labels_set(&p->labels, a, "app", values[v]);
			p->nanti = 1;
			p->anti = kp_arena_alloc(a, sizeof(*p->anti));
			p->anti->selector = sel1(a, "app", values[v]);
			p->anti->topology_key = KP_LABEL_HOSTNAME;
			break;
		}
		at = place(s, p, g, v, zone, &cursor);
		if (at < 0)
			DIE("pod %d does not fit the generated cluster", idx);
		p->node_name = s[at].node->name;
		if (kp_cluster_add_pod(c, p))
			DIE("out of memory");
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	return t[n / 2];
}

int main(void)
{
	struct kp_cluster c;
	struct kp_catalog cat;
	struct kp_disrupt_opts opts;
	struct kp_errbuf eb = { 0 };
	struct slot *slots = calloc(NNODES, sizeof(*slots));
	double tb[RUNS], tm[RUNS], tu[RUNS], ts[RUNS], tf[RUNS], tr[RUNS];
	int64_t eval_single = 0, sims_multi = 0, multi_nodes = 0, single_valid = 0, ncand = 0;
	int64_t sims_uncapped = 0, uncapped_nodes = 0;
	double single_best = 0;
	int first_ncmds = 0;

	if (!slots)
		DIE("out of memory");
	kp_cluster_init(&c);
	kp_catalog_init(&cat);
	build_catalog(&cat);
	add_pool(&c);
	add_nodes(&c, &cat, slots);
	add_pods(&c, slots);
	kp_cluster_link(&c);
	kp_disrupt_opts_default(&opts);
	opts.now = NOW;

	for (int r = 0; r < RUNS; r++) {
		struct kp_disrupt__world w;
		struct kp_disrupt__pass p;
		struct kp_disrupt__cmd cmd;
		bool found;
		double t0;

		if (kp_disrupt__world_init(&w, &c, &eb))
			DIE("world: %s", eb.msg);
		t0 = now_s();
		if (kp_disrupt__pass_build(&p, &w, &cat, &opts, 0, &eb))
			DIE("pass: %s", eb.msg);
		tb[r] = now_s() - t0;
		if (r == 0)
			for (int i = 0; i < p.nnodes; i++)
				ncand += !p.nodes[i].node_block && !p.nodes[i].pod_block && !p.nodes[i].cons_block;

		opts.evaluate_all = false;
		t0 = now_s();
		if (kp_disrupt__multi(&p, &cmd, &found, &eb))
			DIE("multi-node: %s", eb.msg);
		tm[r] = now_s() - t0;
		sims_multi = p.simulations;
		multi_nodes = found ? cmd.ncand : 0;
		kp_disrupt__cmd_clear(&cmd);

		opts.evaluate_all = true;
		p.simulations = 0;
		t0 = now_s();
		if (kp_disrupt__multi(&p, &cmd, &found, &eb))
			DIE("multi-node: %s", eb.msg);
		tu[r] = now_s() - t0;
		sims_uncapped = p.simulations;
		uncapped_nodes = found ? cmd.ncand : 0;
		kp_disrupt__cmd_clear(&cmd);

		p.evaluated = 0;
		t0 = now_s();
		if (kp_disrupt__single(&p, &cmd, &found, &eb))
			DIE("single-node: %s", eb.msg);
		ts[r] = now_s() - t0;
		eval_single = p.evaluated;
		single_best = found ? cmd.savings : 0;
		single_valid = found;
		kp_disrupt__cmd_clear(&cmd);
		tf[r] = tb[r] + tm[r] + ts[r];
		opts.evaluate_all = false;
		kp_disrupt__pass_free(&p);
		kp_disrupt__world_free(&w);
	}
	for (int r = 0; r < RUNS; r++) {
		struct kp_disrupt_result res;
		struct kp_disrupt_opts o = opts;
		double t0 = now_s();

		o.max_passes = 1;
		if (kp_disrupt_run(&c, &cat, &o, &res, &eb))
			DIE("run: %s", eb.msg);
		tr[r] = now_s() - t0;
		first_ncmds = res.ncmds;
		kp_disrupt_result_free(&res);
	}

	printf("Disruption benchmark: %d nodes, %d pods (Karpenter's diverse mix), 400 types, one core\n",
	       NNODES, NPODS);
	printf("  consolidation candidates:            %lld\n", (long long)ncand);
	printf("  build pass (candidates, budgets):    %8.1f ms (median of %d)\n", median(tb, RUNS) * 1e3, RUNS);
	printf("  multi-node (binary search, cap 100): %8.1f ms, %lld simulations, command of %lld nodes\n",
	       median(tm, RUNS) * 1e3, (long long)sims_multi, (long long)multi_nodes);
	printf("  multi-node, uncapped (evaluate_all): %8.1f ms, %lld simulations, command of %lld nodes\n",
	       median(tu, RUNS) * 1e3, (long long)sims_uncapped, (long long)uncapped_nodes);
	printf("  single-node, every candidate:        %8.1f ms, %lld candidates evaluated (%.3f ms each)%s\n",
	       median(ts, RUNS) * 1e3, (long long)eval_single,
	       eval_single ? median(ts, RUNS) * 1e3 / (double)eval_single : 0.0,
	       single_valid ? "" : ", none valid");
	if (single_valid)
		printf("                                       best single-node saving $%.4f/h\n", single_best);
	printf("  full pass (build + multi + single):  %8.1f ms\n", median(tf, RUNS) * 1e3);
	printf("  kp_disrupt_run, first pass only:     %8.1f ms (%d command)\n", median(tr, RUNS) * 1e3, first_ncmds);
	kp_catalog_free(&cat);
	kp_cluster_free(&c);
	free(slots);
	return 0;
}
