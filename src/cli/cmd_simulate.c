/*
 * cmd_simulate.c - `karpenter simulate`: offline what-if over manifests.
 *
 * Loads the catalog and the manifests into one world (they share the
 * resource-name table), runs the scheduling engine once and prints the plan
 * as a table or as JSON. Exit 0 when a plan was computed (even with
 * unschedulable pods), 2 on bad usage or bad input, 1 on internal failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/consolidate.h"
#include "cli/render.h"
#include "karpenter/catalog.h"
#include "karpenter/pack.h"
#include "karpenter/sched.h"
#include "load/load.h"

#define SIM_MAX_PATHS 256

static void sim_usage(FILE *f)
{
	fputs("usage: karpenter simulate -f PATH [-f PATH ...] [--catalog NAME|FILE] [-o json|table]\n"
	      "\n"
	      "  -f, --filename PATH   manifest file (multi-document YAML or JSON) or directory of\n"
	      "                        *.yaml, *.yml, *.json files; repeatable\n"
	      "  --catalog NAME|FILE   instance types: aws (default, us-east-1), kwok, or a JSON file\n"
	      "  -o, --output FORMAT   table (default) or json\n"
	      "  --preference-policy   Respect (default) or Ignore\n"
	      "  --max-instance-types  N  launch list truncation (default 600)\n"
	      "  --packing MODE        karpenter (default) or cost (docs/packing.md)\n"
	      "  --bound               add costBound: a lower bound on the plan's cost and the gap\n"
	      "  --all-instance-type-options  list every remaining type per claim (default: the\n"
	      "                        cheapest 60 a launch sends, then instanceTypeOptionsTotal)\n"
	      "  --timings             print each phase's wall and CPU time to stderr\n", f);
	kp_consolidate_usage(f);
}

struct sim_args {
	const char *paths[SIM_MAX_PATHS];
	int npaths;
	const char *catalog;
	bool json;
	bool bound;                        /* --bound */
	bool all_options;                  /* --all-instance-type-options */
	bool timings;                      /* --timings */
	struct kp_sched_opts sopts;
	struct kp_consolidate_args cons;   /* --consolidate and its flags */
};

/* Returns 0 or an exit status. */
static int sim_parse(int argc, char **argv, struct sim_args *a)
{
	int rc;

	kp_sched_opts_default(&a->sopts);
	kp_consolidate_args_init(&a->cons);
	for (int i = 1; i < argc; i++) {
		struct kp_cli_arg o;
		const char *arg, *val;

		kp_cli_arg_split(argv[i], &o);
		arg = o.name;
		val = o.val;
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			sim_usage(stdout);
			return -1;
		}
#define NEXTVAL()                                                          \
	do {                                                               \
		if (!(val = kp_cli_arg_value("simulate", &o, argc, argv, &i))) \
			return KP_EXIT_USAGE;                              \
	} while (0)
		if (strcmp(arg, "-f") == 0 || strcmp(arg, "--filename") == 0) {
			NEXTVAL();
			if (a->npaths >= SIM_MAX_PATHS) {
				fprintf(stderr, "karpenter simulate: too many -f paths (max %d)\n", SIM_MAX_PATHS);
				return KP_EXIT_USAGE;
			}
			a->paths[a->npaths++] = val;
		} else if (strcmp(arg, "--catalog") == 0) {
			NEXTVAL();
			a->catalog = val;
		} else if (strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0) {
			NEXTVAL();
			if (strcmp(val, "json") == 0)
				a->json = true;
			else if (strcmp(val, "table") == 0)
				a->json = false;
			else {
				fprintf(stderr, "karpenter simulate: unknown output format \"%s\" (json or table)\n", val);
				return KP_EXIT_USAGE;
			}
		} else if (strcmp(arg, "--preference-policy") == 0) {
			NEXTVAL();
			if (strcmp(val, "Ignore") == 0)
				a->sopts.ignore_preferences = true;
			else if (strcmp(val, "Respect") == 0)
				a->sopts.ignore_preferences = false;
			else {
				fprintf(stderr, "karpenter simulate: --preference-policy must be Respect or Ignore\n");
				return KP_EXIT_USAGE;
			}
		} else if (strcmp(arg, "--max-instance-types") == 0) {
			int64_t v;
			NEXTVAL();
			if (kp_parse_i64(val, &v) || v < 1 || v > 100000) {
				fprintf(stderr, "karpenter simulate: --max-instance-types must be 1..100000\n");
				return KP_EXIT_USAGE;
			}
			a->sopts.max_instance_types = (int)v;
		} else if (strcmp(arg, "--packing") == 0) {
			NEXTVAL();
			if (strcmp(val, "cost") == 0)
				a->sopts.packing = KP_PACKING_COST;
			else if (strcmp(val, "karpenter") == 0)
				a->sopts.packing = KP_PACKING_KARPENTER;
			else {
				fprintf(stderr, "karpenter simulate: --packing must be karpenter or cost\n");
				return KP_EXIT_USAGE;
			}
		} else if (strcmp(arg, "--bound") == 0) {
			a->bound = true;
		} else if (strcmp(arg, "--all-instance-type-options") == 0) {
			a->all_options = true;
		} else if (strcmp(arg, "--timings") == 0) {
			a->timings = true;
		} else if ((rc = kp_consolidate_option(&a->cons, arg, val, argc, argv, &i)) != 0) {
			if (rc < 0)
				return KP_EXIT_USAGE;
		} else {
			fprintf(stderr, "karpenter simulate: unknown option \"%s\"\n", argv[i]);
			sim_usage(stderr);
			return KP_EXIT_USAGE;
		}
#undef NEXTVAL
	}
	if (a->npaths == 0) {
		fprintf(stderr, "karpenter simulate: at least one -f PATH is required\n");
		sim_usage(stderr);
		return KP_EXIT_USAGE;
	}
	return 0;
}

/* --timings: wall and CPU seconds of each phase, one stderr line at the end. */
struct sim_clock {
	bool on;
	double wall0, cpu0;
	char line[512];
	size_t len;
};

static double sim_now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sim_clock_start(struct sim_clock *t, bool on)
{
	memset(t, 0, sizeof(*t));
	t->on = on;
	t->wall0 = sim_now(CLOCK_MONOTONIC);
	t->cpu0 = sim_now(CLOCK_PROCESS_CPUTIME_ID);
}

/* Ends the phase called name and starts the next. */
static void sim_clock_lap(struct sim_clock *t, const char *name)
{
	double wall, cpu;
	int n;

	if (!t->on)
		return;
	wall = sim_now(CLOCK_MONOTONIC);
	cpu = sim_now(CLOCK_PROCESS_CPUTIME_ID);
	n = snprintf(t->line + t->len, sizeof(t->line) - t->len, "%s%s %.3f s (cpu %.3f s)",
		     t->len ? ", " : "", name, wall - t->wall0, cpu - t->cpu0);
	if (n > 0 && (size_t)n < sizeof(t->line) - t->len)
		t->len += (size_t)n;
	t->wall0 = wall;
	t->cpu0 = cpu;
}

int kp_cmd_simulate(int argc, char **argv, const char *datadir)
{
	struct sim_clock clk;
	struct sim_args args;
	struct kp_cluster cluster;
	struct kp_catalog catalog;
	struct kp_plan plan;
	struct kp_errbuf eb = { 0 };
	struct kp_load_opts lopts = { .warn = stderr, .now = (int64_t)time(NULL) };
	struct kp_sched_input in;
	struct kp_disrupt_result dres;
	struct kp_cost_bound bound = { 0 };
	struct kp_pool_kubelet pk = { 0 };
	int status = KP_EXIT_OK, rc;
	kp_err err;

	memset(&args, 0, sizeof(args));
	memset(&dres, 0, sizeof(dres));
	rc = sim_parse(argc, argv, &args);
	if (rc)
		return rc < 0 ? KP_EXIT_OK : rc;
	if (args.cons.now_set)
		lopts.now = args.cons.now;

	kp_cluster_init(&cluster);
	kp_catalog_init(&catalog);
	memset(&plan, 0, sizeof(plan));
	sim_clock_start(&clk, args.timings);

	err = kp_catalog_open(&catalog, &cluster.resnames, args.catalog, datadir, &eb);
	if (err) {
		fprintf(stderr, "karpenter simulate: catalog: %s\n", eb.msg);
		status = err == KP_ERR_NOMEM ? KP_EXIT_FAIL : KP_EXIT_USAGE;
		goto out;
	}
	sim_clock_lap(&clk, "catalog");
	err = kp_load_paths(&cluster, args.paths, args.npaths, &lopts, &eb);
	if (err) {
		fprintf(stderr, "karpenter simulate: %s\n", eb.msg);
		status = err == KP_ERR_NOMEM ? KP_EXIT_FAIL : KP_EXIT_USAGE;
		goto out;
	}
	kp_cluster_link(&cluster);
	/* Windows EC2NodeClasses get Windows instance types (catalog/windows.c) */
	for (int i = 0; !err && i < cluster.nnodeclasses; i++) {
		const char *fam = cluster.nodeclasses[i]->ami_family;
		if (kp_catalog_windows_build(fam))
			err = kp_catalog_add_windows(&catalog, &fam, 1, &eb);
	}
	if (err) {
		fprintf(stderr, "karpenter simulate: catalog: %s\n", eb.msg);
		status = KP_EXIT_FAIL;
		goto out;
	}

	/* the class's (or v1beta1 pool's) kubelet settings: pods and allocatable
	 * per NodePool, as the AWS provider's class catalogs (catalog/kubelet.c) */
	err = kp_pool_kubelet_build(&pk, &cluster, &catalog, &eb);
	if (err) {
		fprintf(stderr, "karpenter simulate: %s\n", eb.msg);
		status = err == KP_ERR_NOMEM ? KP_EXIT_FAIL : KP_EXIT_USAGE;
		goto out;
	}

	sim_clock_lap(&clk, "load");
	memset(&in, 0, sizeof(in));
	in.cluster = &cluster;
	in.catalog = &catalog;
	if (pk.n) {
		in.pool_catalog = kp_pool_kubelet_catalog;
		in.pool_catalog_ctx = &pk;
		args.cons.opts.pool_catalog = kp_pool_kubelet_catalog;
		args.cons.opts.pool_catalog_ctx = &pk;
	}
	err = kp_sched_solve(&in, &args.sopts, &plan, &eb);
	if (err) {
		fprintf(stderr, "karpenter simulate: scheduling: %s\n", eb.msg);
		status = err == KP_ERR_INVALID ? KP_EXIT_USAGE : KP_EXIT_FAIL;
		goto out;
	}
	sim_clock_lap(&clk, "solve");
	if (args.bound) {
		err = kp_sched_cost_bound(&in, &args.sopts, &plan, &bound, &eb);
		if (err) {
			fprintf(stderr, "karpenter simulate: bound: %s\n", eb.msg);
			status = KP_EXIT_FAIL;
			goto out;
		}
		sim_clock_lap(&clk, "bound");
	}
	if (args.cons.enabled) {
		err = kp_consolidate_run(&cluster, &catalog, &args.cons, lopts.now, &args.sopts, &dres, &eb);
		if (err) {
			fprintf(stderr, "karpenter simulate: disruption: %s\n", eb.msg);
			status = err == KP_ERR_INVALID ? KP_EXIT_USAGE : KP_EXIT_FAIL;
			goto out;
		}
		sim_clock_lap(&clk, "disruption");
	}
	if (args.json) {
		/* streamed: written as it is produced, constant memory */
		struct kp_jw *w = malloc(sizeof(*w));

		if (!w) {
			fprintf(stderr, "karpenter simulate: out of memory\n");
			status = KP_EXIT_FAIL;
			goto out;
		}
		kp_jw_init(w, stdout);
		kp_jw_obj_begin(w);
		kp_render_plan_jw(w, &plan, &cluster.resnames, args.all_options ? 0 : KP_RENDER_MAX_OPTIONS);
		if (args.cons.enabled)
			kp_consolidate_jw(w, &dres);
		if (args.bound)
			kp_render_bound_jw(w, &bound);
		kp_jw_obj_end(w);
		if (kp_jw_finish(w) != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
			fprintf(stderr, "karpenter simulate: cannot write JSON output\n");
			status = KP_EXIT_FAIL;
		}
		free(w);
	} else {
		kp_render_plan_table(stdout, &plan, &cluster.resnames);
		if (args.bound)
			kp_render_bound_table(stdout, &bound);
		if (args.cons.enabled)
			kp_consolidate_table(stdout, &dres);
	}
	sim_clock_lap(&clk, "output");
out:
	kp_disrupt_result_free(&dres);
	kp_plan_free(&plan);
	kp_pool_kubelet_free(&pk);
	kp_catalog_free(&catalog);
	kp_cluster_free(&cluster);
	sim_clock_lap(&clk, "free");
	if (clk.on)
		fprintf(stderr, "karpenter simulate: timings: %s\n", clk.line);
	return status;
}
