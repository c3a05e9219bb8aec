/*
 * bound.h - a lower bound on the hourly cost of the nodes a set of pods
 * needs, and an integer fleet close to it (column generation over node
 * patterns, solved with COIN-OR CLP).
 *
 * The problem: pods grouped in classes (same requests, same set of node
 * kinds they may use) with a demand; node kinds (an instance type as a
 * NodePool may launch it: price of its cheapest allowed offering, free
 * resources after daemon overhead). A pattern is a kind with a count of
 * pods per class that fits its free resources. The master LP covers every
 * class's demand with patterns at least cost; pricing looks for a pattern
 * whose pod value under the LP's duals exceeds its kind's price.
 *
 * The bound is Farley's: with the final duals y and, per kind, an upper
 * bound U_k on the value of any pattern of kind k (a surrogate fractional
 * knapsack), y / max(1, max_k U_k / price_k) is feasible for the dual of
 * the full LP, so its objective is a valid lower bound even though the
 * pricing itself is a heuristic. Constraints the problem leaves out
 * (topology, limits, minValues, zones) only lower it.
 *
 * Existing capacity enters as an aggregate: pods may be absorbed by the
 * sum of the existing nodes' free resources at no cost (a relaxation of
 * per-node bins).
 *
 * Pure (no I/O); results in an arena owned by the result.
 */
#ifndef KARPENTER_BOUND_H
#define KARPENTER_BOUND_H

#include "karpenter/base.h"
#include "karpenter/resources.h"

#define KP_BOUND_DIMS 8             /* resource dimensions at most */

struct kp_bound_kind {
	double price;                   /* $/h of its cheapest allowed offering */
	int64_t free[KP_BOUND_DIMS];    /* allocatable - daemon overhead, per dimension */
};

struct kp_bound_class {
	int64_t req[KP_BOUND_DIMS];     /* one pod's requests (pods dimension: 1) */
	int64_t demand;                 /* pods in the class */
	const uint64_t *compat;         /* bitset over kinds it may use; NULL = every kind */
};

struct kp_bound_problem {
	int ndims;
	int nkinds;
	const struct kp_bound_kind *kinds;
	int nclasses;
	const struct kp_bound_class *classes;
	bool has_existing;
	int64_t existing[KP_BOUND_DIMS];/* summed free resources of existing nodes */
	int max_iters;                  /* column generation rounds; 0 = 400 */
};

struct kp_bound_column {
	int kind;
	double x;                       /* LP value */
	int32_t *count;                 /* per class */
};

struct kp_bound_result {
	struct kp_arena arena;
	double lower;                   /* valid lower bound, $/h */
	double lp;                      /* restricted master's optimum (>= lower) */
	int iters;                      /* pricing rounds */
	int ncols;
	struct kp_bound_column *cols;   /* every column of the master, with x */
	int ninfeasible;                /* classes no kind fits (left out of the bound) */
};

/* Column generation to a lower bound. On success fills *out (free with
 * kp_bound_result_free). Classes no compatible kind can hold are left out
 * and counted in out->ninfeasible. */
kp_err kp_bound_solve(const struct kp_bound_problem *p, struct kp_bound_result *out, struct kp_errbuf *eb);
void kp_bound_result_free(struct kp_bound_result *r);

/* An integer fleet for the classes (existing capacity ignored): bins of
 * one kind each with pod counts per class, found by rounding the LP down,
 * re-solving the rest, and rounding up the largest column when nothing
 * rounds down. Each bin's kind is then the cheapest compatible kind that
 * holds its pods. */
struct kp_bound_bin {
	int kind;
	int32_t *count;                 /* per class */
};
struct kp_bound_fleet {
	struct kp_arena arena;
	int nbins;
	struct kp_bound_bin *bins;
	double cost;
	double lower;                   /* the first round's restricted LP optimum (no certificate:
					 * kp_bound_solve gives the bound) */
};
kp_err kp_bound_fleet(const struct kp_bound_problem *p, struct kp_bound_fleet *out, struct kp_errbuf *eb);
void kp_bound_fleet_free(struct kp_bound_fleet *f);

#endif
