/*
 * test_bound.c - the column-generation lower bound and the integer fleet
 * (src/bound): hand-checked LP values, existing capacity, classes nothing
 * holds, and on random small instances bound <= true integer optimum (by
 * exhaustive search) <= fleet cost.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/bound.h"

/* 1 dim (cpu), one class of 3 pods of 1 cpu; kind A holds 1 for $1, kind B
 * holds 2 for $1.5: the LP uses 1.5 B = $2.25; the fleet B + A = $2.5. */
static void test_lp_value(void **state)
{
	struct kp_bound_kind kinds[2] = { { .price = 1.0, .free = { 1 } }, { .price = 1.5, .free = { 2 } } };
	struct kp_bound_class cls = { .req = { 1 }, .demand = 3 };
	struct kp_bound_problem p = { .ndims = 1, .nkinds = 2, .kinds = kinds, .nclasses = 1, .classes = &cls };
	struct kp_bound_result r;
	struct kp_bound_fleet f;
	struct kp_errbuf eb;

	(void)state;
	assert_int_equal(kp_bound_solve(&p, &r, &eb), KP_OK);
	assert_true(r.lower > 2.25 - 1e-6 && r.lower < 2.25 + 1e-6);
	assert_true(r.lp > 2.25 - 1e-6 && r.lp < 2.25 + 1e-6);
	assert_int_equal(r.ninfeasible, 0);
	kp_bound_result_free(&r);
	assert_int_equal(kp_bound_fleet(&p, &f, &eb), KP_OK);
	assert_int_equal(f.nbins, 2);
	assert_true(f.cost > 2.5 - 1e-9 && f.cost < 2.5 + 1e-9);
	kp_bound_fleet_free(&f);
}

/* Existing nodes with 2 cpu free absorb two pods at no cost: $0.75 left. */
static void test_existing(void **state)
{
	struct kp_bound_kind kinds[2] = { { .price = 1.0, .free = { 1 } }, { .price = 1.5, .free = { 2 } } };
	struct kp_bound_class cls = { .req = { 1 }, .demand = 3 };
	struct kp_bound_problem p = { .ndims = 1, .nkinds = 2, .kinds = kinds, .nclasses = 1, .classes = &cls,
				      .has_existing = true, .existing = { 2 } };
	struct kp_bound_result r;

	(void)state;
	assert_int_equal(kp_bound_solve(&p, &r, NULL), KP_OK);
	assert_true(r.lower > 0.75 - 1e-6 && r.lower < 0.75 + 1e-6);
	kp_bound_result_free(&r);
}

/* A class no kind holds (and no compatible kind) is left out and counted. */
static void test_infeasible(void **state)
{
	uint64_t none = 0;
	struct kp_bound_kind kinds[1] = { { .price = 1.0, .free = { 4, 8 } } };
	struct kp_bound_class cls[3] = { { .req = { 8, 1 }, .demand = 2 },
					 { .req = { 1, 1 }, .demand = 4 },
					 { .req = { 1, 1 }, .demand = 5, .compat = &none } };
	struct kp_bound_problem p = { .ndims = 2, .nkinds = 1, .kinds = kinds, .nclasses = 3, .classes = cls };
	struct kp_bound_result r;

	(void)state;
	assert_int_equal(kp_bound_solve(&p, &r, NULL), KP_OK);
	assert_int_equal(r.ninfeasible, 2);
	assert_true(r.lower > 1.0 - 1e-6 && r.lower < 1.0 + 1e-6);
	kp_bound_result_free(&r);
}

/* ---- random instances against exhaustive search ---- */

#define RC 2                        /* classes */
#define RK 3                        /* kinds */
#define RD 4                        /* demand per class at most */

struct inst {
	struct kp_bound_kind kinds[RK];
	struct kp_bound_class cls[RC];
	double memo[RD + 1][RD + 1];
};

static uint32_t rnd(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 8) & 0xffffff;
}

/* Cheapest fleet for demand (d0, d1): some bin, then the rest. */
static double opt(struct inst *in, int d0, int d1)
{
	double best = 1e300;

	if (!d0 && !d1)
		return 0;
	if (in->memo[d0][d1] >= 0)
		return in->memo[d0][d1];
	for (int k = 0; k < RK; k++) {
		for (int a0 = 0; a0 <= d0; a0++) {
			for (int a1 = 0; a1 <= d1; a1++) {
				bool fit = a0 + a1 > 0;
				for (int r = 0; fit && r < 2; r++)
					fit = a0 * in->cls[0].req[r] + a1 * in->cls[1].req[r] <= in->kinds[k].free[r];
				if (fit) {
					double v = in->kinds[k].price + opt(in, d0 - a0, d1 - a1);
					if (v < best)
						best = v;
				}
			}
		}
	}
	in->memo[d0][d1] = best;
	return best;
}

static void test_random_valid(void **state)
{
	uint32_t seed = 42;

	(void)state;
	for (int t = 0; t < 300; t++) {
		struct inst in;
		struct kp_bound_problem p;
		struct kp_bound_result r;
		struct kp_bound_fleet f;
		double o;

		memset(&in, 0, sizeof(in));
		for (int k = 0; k < RK; k++) {
			in.kinds[k].free[0] = 4 + (int64_t)(rnd(&seed) % 13);
			in.kinds[k].free[1] = 4 + (int64_t)(rnd(&seed) % 13);
			in.kinds[k].price = 0.5 + (double)(rnd(&seed) % 1000) / 250.0;
		}
		for (int i = 0; i < RC; i++) {
			in.cls[i].req[0] = 1 + (int64_t)(rnd(&seed) % 4);
			in.cls[i].req[1] = 1 + (int64_t)(rnd(&seed) % 4);
			in.cls[i].demand = 1 + (int64_t)(rnd(&seed) % RD);
		}
		for (int a = 0; a <= RD; a++)
			for (int b = 0; b <= RD; b++)
				in.memo[a][b] = -1;
		memset(&p, 0, sizeof(p));
		p.ndims = 2;
		p.nkinds = RK;
		p.kinds = in.kinds;
		p.nclasses = RC;
		p.classes = in.cls;
		o = opt(&in, (int)in.cls[0].demand, (int)in.cls[1].demand);
		assert_int_equal(kp_bound_solve(&p, &r, NULL), KP_OK);
		assert_int_equal(kp_bound_fleet(&p, &f, NULL), KP_OK);
		if (r.lower > o + 1e-6 || f.cost < o - 1e-6)
			fail_msg("instance %d: bound %.6f, optimum %.6f, fleet %.6f", t, r.lower, o, f.cost);
		kp_bound_result_free(&r);
		kp_bound_fleet_free(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lp_value),
		cmocka_unit_test(test_existing),
		cmocka_unit_test(test_infeasible),
		cmocka_unit_test(test_random_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
