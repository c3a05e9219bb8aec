/*
 * consolidate.c - `karpenter simulate --consolidate`: option parsing, the
 * call into the disruption engine, and its output.
 *
 * JSON (added to simulate's object; its other keys are untouched):
 *   "disruption": [{"method", "action", "nodes": [...], "replacements":
 *       [{"instanceType", "zone", "capacityType", "pricePerHour",
 *         "nodePool", "node", "options"}], "savingsPerHour", "reason",
 *       "pass", "pods"}]        one element per command, pass after pass
 *   "blocked": [{"node", "code", "reason"}]   the first pass, by node name
 * Prices are rounded to 1e-6 $/h so sums print cleanly. Written through the
 * streaming writer (src/jsonw), command by command.
 *
 * Cost: linear in the result.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/consolidate.h"

void kp_consolidate_usage(FILE *f)
{
	fputs("  --consolidate         also compute disruption: the commands Karpenter would run,\n"
	      "                        pass after pass, and the nodes it cannot disrupt\n"
	      "  --now TIME            RFC 3339 clock for disruption (default: the current time)\n"
	      "  --spot-to-spot        enable spot-to-spot consolidation (Karpenter's feature gate)\n"
	      "  --consolidate-all     beyond Karpenter: single-node evaluates every candidate and takes\n"
	      "                        the largest saving; multi-node batches are not capped at 100\n"
	      "  --repack              beyond Karpenter: allow replacing M nodes by N (1 < N < M)\n"
	      "  --min-savings-per-hour USD  beyond Karpenter: skip consolidations saving less (NodePool\n"
	      "                        annotation karpenter-c.sh/min-savings-per-hour wins)\n"
	      "  --min-savings-percent P  same, as a percentage of the removed nodes' price\n"
	      "                        (annotation karpenter-c.sh/min-savings-percent)\n", f);
}

void kp_consolidate_args_init(struct kp_consolidate_args *a)
{
	memset(a, 0, sizeof(*a));
	kp_disrupt_opts_default(&a->opts);
}

static int need_value(const char *name, const char **val, int argc, char **argv, int *i)
{
	if (*val)
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "karpenter simulate: %s needs a value\n", name);
		return -1;
	}
	*val = argv[++*i];
	return 0;
}

static int parse_money(const char *name, const char *val, double *out)
{
	char *end;
	double d = strtod(val, &end);

	if (!*val || *end || !isfinite(d) || d < 0 || d > 1e9) {
		fprintf(stderr, "karpenter simulate: %s must be a non-negative number, not \"%s\"\n", name, val);
		return -1;
	}
	*out = d;
	return 0;
}

int kp_consolidate_option(struct kp_consolidate_args *a, const char *name, const char *val, int argc,
			  char **argv, int *i)
{
	bool flag = true;

	if (strcmp(name, "--consolidate") == 0)
		a->enabled = true;
	else if (strcmp(name, "--spot-to-spot") == 0)
		a->opts.spot_to_spot = true;
	else if (strcmp(name, "--consolidate-all") == 0)
		a->opts.evaluate_all = true;
	else if (strcmp(name, "--repack") == 0)
		a->opts.repack = true;
	else
		flag = false;
	if (flag) {
		if (val) {
			fprintf(stderr, "karpenter simulate: %s takes no value\n", name);
			return -1;
		}
		return 1;
	}
	if (strcmp(name, "--now") == 0) {
		if (need_value(name, &val, argc, argv, i))
			return -1;
		if (kp_parse_rfc3339(val, &a->now)) {
			fprintf(stderr, "karpenter simulate: --now: \"%s\" is not an RFC 3339 time\n", val);
			return -1;
		}
		a->now_set = true;
		return 1;
	}
	if (strcmp(name, "--min-savings-per-hour") == 0) {
		if (need_value(name, &val, argc, argv, i) || parse_money(name, val, &a->opts.min_savings_per_hour))
			return -1;
		return 1;
	}
	if (strcmp(name, "--min-savings-percent") == 0) {
		if (need_value(name, &val, argc, argv, i) || parse_money(name, val, &a->opts.min_savings_percent))
			return -1;
		if (a->opts.min_savings_percent > 100) {
			fprintf(stderr, "karpenter simulate: --min-savings-percent must be 0..100\n");
			return -1;
		}
		return 1;
	}
	return 0;
}

kp_err kp_consolidate_run(const struct kp_cluster *c, const struct kp_catalog *cat,
			  const struct kp_consolidate_args *a, int64_t fallback_now,
			  const struct kp_sched_opts *sopts, struct kp_disrupt_result *res,
			  struct kp_errbuf *eb)
{
	struct kp_disrupt_opts o = a->opts;

	o.now = a->now_set ? a->now : fallback_now;
	if (sopts)
		o.sched = *sopts;
	return kp_disrupt_run(c, cat, &o, res, eb);
}

static double money(double v)
{
	return round(v * 1e6) / 1e6;
}

static void cmd_jw(struct kp_jw *w, const struct kp_disrupt_cmd *c)
{
	kp_jw_obj_begin(w);
	kp_jw_key(w, "method");
	kp_jw_str(w, kp_disrupt_method_name(c->method));
	kp_jw_key(w, "action");
	kp_jw_str(w, kp_disrupt_action_name(c->action));
	kp_jw_key(w, "nodes");
	kp_jw_arr_begin(w);
	for (int i = 0; i < c->nnodes; i++)
		kp_jw_str(w, c->nodes[i]);
	kp_jw_arr_end(w);
	kp_jw_key(w, "replacements");
	kp_jw_arr_begin(w);
	for (int i = 0; i < c->nrepl; i++) {
		const struct kp_disrupt_repl *r = &c->repl[i];

		kp_jw_obj_begin(w);
		kp_jw_key(w, "instanceType");
		kp_jw_str(w, r->itype ? r->itype->name : "");
		kp_jw_key(w, "zone");
		kp_jw_str(w, r->offering ? r->offering->zone : "");
		kp_jw_key(w, "capacityType");
		kp_jw_str(w, r->offering ? kp_captype_name(r->offering->captype) : "");
		kp_jw_key(w, "pricePerHour");
		kp_jw_real(w, money(r->offering ? r->offering->price : 0));
		kp_jw_key(w, "nodePool");
		kp_jw_str(w, r->pool ? r->pool->name : "");
		kp_jw_key(w, "node");
		kp_jw_str(w, r->node ? r->node : "");
		kp_jw_key(w, "options");
		kp_jw_int(w, r->noptions);
		kp_jw_obj_end(w);
	}
	kp_jw_arr_end(w);
	kp_jw_key(w, "savingsPerHour");
	kp_jw_real(w, money(c->savings));
	if (c->has_score) {   /* consolidationPolicy Balanced */
		kp_jw_key(w, "score");
		kp_jw_real(w, c->score);
	}
	kp_jw_key(w, "reason");
	kp_jw_str(w, c->reason ? c->reason : "");
	kp_jw_key(w, "pass");
	kp_jw_int(w, c->pass + 1);
	kp_jw_key(w, "pods");
	kp_jw_int(w, c->npods);
	kp_jw_obj_end(w);
}

void kp_consolidate_jw(struct kp_jw *w, const struct kp_disrupt_result *res)
{
	kp_jw_key(w, "disruption");
	kp_jw_arr_begin(w);
	for (int i = 0; i < res->ncmds; i++)
		cmd_jw(w, &res->cmds[i]);
	kp_jw_arr_end(w);
	kp_jw_key(w, "blocked");
	kp_jw_arr_begin(w);
	for (int i = 0; i < res->nblocked; i++) {
		kp_jw_obj_begin(w);
		kp_jw_key(w, "node");
		kp_jw_str(w, res->blocked[i].node);
		kp_jw_key(w, "code");
		kp_jw_str(w, res->blocked[i].code);
		kp_jw_key(w, "reason");
		kp_jw_str(w, res->blocked[i].reason);
		kp_jw_obj_end(w);
	}
	kp_jw_arr_end(w);
}

static void print_nodes(FILE *f, const char *const *names, int n, int width)
{
	int used = 0;

	for (int i = 0; i < n; i++) {
		int len = (int)strlen(names[i]) + (i ? 2 : 0);
		if (used + len > width && i > 0) {
			used += fprintf(f, ", +%d", n - i);
			break;
		}
		used += fprintf(f, "%s%s", i ? ", " : "", names[i]);
	}
	if (used < width)
		fprintf(f, "%*s", width - used, "");
}

void kp_consolidate_table(FILE *f, const struct kp_disrupt_result *res)
{
	double total = 0;

	for (int i = 0; i < res->ncmds; i++)
		total += res->cmds[i].savings;
	fprintf(f, "\nDISRUPTION: %d command%s in %d pass%s, saving $%.4f/hour%s\n", res->ncmds,
		res->ncmds == 1 ? "" : "s", res->npasses, res->npasses == 1 ? "" : "es", total,
		res->pass_limit ? " (stopped at the pass limit)" : "");
	if (res->ncmds) {
		fprintf(f, "%-4s %-11s %-7s %-30s %-36s %9s  %s\n", "PASS", "METHOD", "ACTION", "NODES",
			"REPLACEMENTS", "SAVED $/H", "REASON");
		for (int i = 0; i < res->ncmds; i++) {
			const struct kp_disrupt_cmd *c = &res->cmds[i];
			char repl[64] = "-";

			if (c->nrepl == 1 && c->repl[0].itype && c->repl[0].offering)
				snprintf(repl, sizeof(repl), "%s %s %s", c->repl[0].itype->name,
					 kp_captype_name(c->repl[0].offering->captype), c->repl[0].offering->zone);
			else if (c->nrepl > 1)
				snprintf(repl, sizeof(repl), "%d nodes", c->nrepl);
			fprintf(f, "%-4d %-11s %-7s ", c->pass + 1, kp_disrupt_method_name(c->method),
				kp_disrupt_action_name(c->action));
			print_nodes(f, c->nodes, c->nnodes, 30);
			fprintf(f, " %-36s %9.4f  %s\n", repl, c->savings, c->reason ? c->reason : "");
		}
	}
	if (res->nblocked) {
		fprintf(f, "\nNOT DISRUPTED (first pass)\n");
		for (int i = 0; i < res->nblocked; i++)
			fprintf(f, "  %s: %s\n", res->blocked[i].node, res->blocked[i].reason);
	}
}
