/*
 * consolidate.h - the `karpenter simulate --consolidate` face of the
 * disruption engine: its options, and the commands it prints (JSON keys
 * "disruption" and "blocked" added to simulate's object, or tables).
 */
#ifndef KARPENTER_CLI_CONSOLIDATE_H
#define KARPENTER_CLI_CONSOLIDATE_H

#include <stdio.h>

#include "jsonw/jsonw.h"

#include "karpenter/disrupt.h"

struct kp_consolidate_args {
	bool enabled;                 /* --consolidate */
	bool now_set;                 /* --now given */
	int64_t now;                  /* unix seconds */
	struct kp_disrupt_opts opts;  /* feature flags */
};

/* Usage lines for simulate's help. */
void kp_consolidate_usage(FILE *f);
/* Defaults (everything off, now unset). */
void kp_consolidate_args_init(struct kp_consolidate_args *a);
/* Handles one simulate option if it is ours. name is the option without
 * any "=value"; val is that value or NULL, in which case the value (when
 * the option takes one) is argv[*i + 1] and *i advances. Returns 1 when
 * consumed, 0 when not ours, -1 after printing a usage error. */
int kp_consolidate_option(struct kp_consolidate_args *a, const char *name, const char *val, int argc,
			  char **argv, int *i);
/* Runs the disruption engine on the loaded cluster (now = a->now, or the
 * fallback when --now was not given). */
kp_err kp_consolidate_run(const struct kp_cluster *c, const struct kp_catalog *cat,
			  const struct kp_consolidate_args *a, int64_t fallback_now,
			  const struct kp_sched_opts *sopts, struct kp_disrupt_result *res,
			  struct kp_errbuf *eb);
/* Members "disruption" and "blocked" of the object open in w. */
void kp_consolidate_jw(struct kp_jw *w, const struct kp_disrupt_result *res);
/* Tables for people: the commands pass by pass, then the blocked nodes. */
void kp_consolidate_table(FILE *f, const struct kp_disrupt_result *res);

#endif
