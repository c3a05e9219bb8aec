/*
 * test_itype.c - instance types, offerings and the catalog core (allocatable,
 * requirements, offering order, compatibility, cheapest offering, lookup).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "karpenter/catalog.h"

#define MI ((int64_t)1024 * 1024)
#define GI (MI * 1024)

static struct kp_itype *mktype(struct kp_catalog *cat, const char *name)
{
	struct kp_itype *it = kp_arena_alloc(&cat->arena, sizeof(*it));

	assert_non_null(it);
	it->name = name;
	assert_int_equal(kp_labels_set(&it->labels, &cat->arena, KP_LABEL_INSTANCE_TYPE, name), KP_OK);
	return it;
}

static void set_offerings(struct kp_catalog *cat, struct kp_itype *it, const struct kp_offering *o, int n)
{
	it->off = kp_arena_memdup(&cat->arena, o, (size_t)n * sizeof(*o));
	assert_non_null(it->off);
	it->noff = n;
}

/* "a b c" for a requirement's values */
static const char *values_str(const struct kp_req *r, char *buf, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < r->n && used < n; i++)
		used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? " " : "", r->values[i]);
	return buf;
}

static const struct kp_offering offs4[] = {
	{ "us-east-1c", KP_CAP_ON_DEMAND, 0.20, true },
	{ "us-east-1a", KP_CAP_SPOT, 0.07, true },
	{ "us-east-1b", KP_CAP_SPOT, 0.05, false },     /* cheapest but unavailable */
	{ "us-east-1a", KP_CAP_ON_DEMAND, 0.20, true },
	{ "us-east-1b", KP_CAP_ON_DEMAND, 0.20, true },
	{ "us-east-1c", KP_CAP_SPOT, 0.07, true },
};

static void test_allocatable(void **state)
{
	struct kp_catalog cat;
	struct kp_itype *it;
	struct kp_errbuf eb = { 0 };

	(void)state;
	kp_catalog_init(&cat);
	it = mktype(&cat, "m5.large");
	it->capacity.v[KP_RES_CPU] = 2000;
	it->capacity.v[KP_RES_MEMORY] = 8 * GI;
	it->capacity.v[KP_RES_EPHEMERAL] = 20 * GI;
	it->capacity.v[KP_RES_PODS] = 29;
	it->capacity.v[KP_RES_POD_ENI] = 0;
	it->overhead.kube_reserved.v[KP_RES_CPU] = 70;
	it->overhead.kube_reserved.v[KP_RES_MEMORY] = 574 * MI;
	it->overhead.kube_reserved.v[KP_RES_EPHEMERAL] = 1 * GI;
	it->overhead.system_reserved.v[KP_RES_CPU] = 100;
	it->overhead.system_reserved.v[KP_RES_MEMORY] = 100 * MI;
	it->overhead.eviction_threshold.v[KP_RES_MEMORY] = 100 * MI;
	it->overhead.eviction_threshold.v[KP_RES_EPHEMERAL] = 2 * GI;
	it->overhead.kube_reserved.v[KP_RES_NVIDIA_GPU] = 1;    /* more than capacity: floor 0 */
	set_offerings(&cat, it, offs4, 6);
	assert_int_equal(kp_itype_finish(it, &cat.arena, &eb), KP_OK);
	assert_int_equal(it->allocatable.v[KP_RES_CPU], 1830);
	assert_int_equal(it->allocatable.v[KP_RES_MEMORY], 8 * GI - 774 * MI);
	assert_int_equal(it->allocatable.v[KP_RES_EPHEMERAL], 17 * GI);
	assert_int_equal(it->allocatable.v[KP_RES_PODS], 29);
	assert_int_equal(it->allocatable.v[KP_RES_NVIDIA_GPU], 0);
	/* capacity itself is untouched */
	assert_int_equal(it->capacity.v[KP_RES_MEMORY], 8 * GI);
	kp_catalog_free(&cat);
}

static void test_allocatable_hugepages(void **state)
{
	struct kp_catalog cat;
	struct kp_itype *it;

	(void)state;
	kp_catalog_init(&cat);
	it = mktype(&cat, "hp.large");
	it->capacity.v[KP_RES_MEMORY] = 16 * GI;
	it->capacity.v[KP_RES_HUGEPAGES_2MI] = 2 * GI;
	it->capacity.v[KP_RES_HUGEPAGES_1GI] = 4 * GI;
	it->overhead.kube_reserved.v[KP_RES_MEMORY] = 1 * GI;
	assert_int_equal(kp_itype_finish(it, &cat.arena, NULL), KP_OK);
	assert_int_equal(it->allocatable.v[KP_RES_MEMORY], 9 * GI);
	assert_int_equal(it->allocatable.v[KP_RES_HUGEPAGES_2MI], 2 * GI);
	assert_int_equal(it->allocatable.v[KP_RES_HUGEPAGES_1GI], 4 * GI);

	/* hugepages larger than what is left: memory floors at 0 */
	it->capacity.v[KP_RES_HUGEPAGES_1GI] = 14 * GI;
	assert_int_equal(kp_itype_finish(it, &cat.arena, NULL), KP_OK);
	assert_int_equal(it->allocatable.v[KP_RES_MEMORY], 0);
	kp_catalog_free(&cat);
}

static void test_offerings_sorted(void **state)
{
	struct kp_catalog cat;
	struct kp_itype *it;
	static const struct { const char *zone; enum kp_captype ct; double price; } want[] = {
		{ "us-east-1b", KP_CAP_SPOT, 0.05 },
		{ "us-east-1a", KP_CAP_SPOT, 0.07 },
		{ "us-east-1c", KP_CAP_SPOT, 0.07 },
		{ "us-east-1a", KP_CAP_ON_DEMAND, 0.20 },
		{ "us-east-1b", KP_CAP_ON_DEMAND, 0.20 },
		{ "us-east-1c", KP_CAP_ON_DEMAND, 0.20 },
	};

	(void)state;
	kp_catalog_init(&cat);
	it = mktype(&cat, "m5.large");
	set_offerings(&cat, it, offs4, 6);
	assert_int_equal(kp_itype_finish(it, &cat.arena, NULL), KP_OK);
	assert_int_equal(it->noff, 6);
	for (int i = 0; i < 6; i++) {
		assert_string_equal(it->off[i].zone, want[i].zone);
		assert_int_equal(it->off[i].captype, want[i].ct);
		assert_true(it->off[i].price == want[i].price);
	}
	kp_catalog_free(&cat);
}

static void test_requirements(void **state)
{
	struct kp_catalog cat;
	struct kp_itype *it;
	const struct kp_req *r;
	char buf[256];

	(void)state;
	kp_catalog_init(&cat);
	it = mktype(&cat, "m5.large");
	assert_int_equal(kp_labels_set(&it->labels, &cat.arena, "beta.kubernetes.io/arch", "amd64"), KP_OK);
	assert_int_equal(kp_labels_set(&it->labels, &cat.arena, "karpenter.k8s.aws/instance-cpu", "2"), KP_OK);
	set_offerings(&cat, it, offs4, 6);
	assert_int_equal(kp_itype_finish(it, &cat.arena, NULL), KP_OK);

	r = kp_reqs_get(&it->reqs, KP_LABEL_INSTANCE_TYPE);
	assert_non_null(r);
	assert_false(r->complement);
	assert_string_equal(values_str(r, buf, sizeof(buf)), "m5.large");
	/* the beta key is normalized */
	assert_null(kp_reqs_get(&it->reqs, "beta.kubernetes.io/arch"));
	r = kp_reqs_get(&it->reqs, KP_LABEL_ARCH);
	assert_non_null(r);
	assert_string_equal(values_str(r, buf, sizeof(buf)), "amd64");
	r = kp_reqs_get(&it->reqs, "karpenter.k8s.aws/instance-cpu");
	assert_non_null(r);
	assert_string_equal(values_str(r, buf, sizeof(buf)), "2");
	/* zones and capacity types over all offerings, available or not */
	r = kp_reqs_get(&it->reqs, KP_LABEL_ZONE);
	assert_non_null(r);
	assert_false(r->complement);
	assert_string_equal(values_str(r, buf, sizeof(buf)), "us-east-1a us-east-1b us-east-1c");
	r = kp_reqs_get(&it->reqs, KP_LABEL_CAPACITY_TYPE);
	assert_non_null(r);
	assert_string_equal(values_str(r, buf, sizeof(buf)), "on-demand spot");
	assert_int_equal(it->reqs.n, 5);

	/* finishing again rebuilds, it does not accumulate */
	assert_int_equal(kp_itype_finish(it, &cat.arena, NULL), KP_OK);
	assert_int_equal(it->reqs.n, 5);
	kp_catalog_free(&cat);
}

static void test_requirements_unavailable_only(void **state)
{
	static const struct kp_offering o[] = {
		{ "z1", KP_CAP_RESERVED, 0.01, false },
		{ "z2", KP_CAP_SPOT, 0.02, false },
	};
	struct kp_catalog cat;
	struct kp_itype *it;
	const struct kp_req *r;
	char buf[128];

	(void)state;
	kp_catalog_init(&cat);
	it = mktype(&cat, "x1.tiny");
	set_offerings(&cat, it, o, 2);
	assert_int_equal(kp_itype_finish(it, &cat.arena, NULL), KP_OK);
	r = kp_reqs_get(&it->reqs, KP_LABEL_ZONE);
	assert_string_equal(values_str(r, buf, sizeof(buf)), "z1 z2");
	r = kp_reqs_get(&it->reqs, KP_LABEL_CAPACITY_TYPE);
	assert_string_equal(values_str(r, buf, sizeof(buf)), "reserved spot");
	assert_null(kp_itype_cheapest(it, NULL));
	kp_catalog_free(&cat);
}

static void test_no_offerings(void **state)
{
	struct kp_catalog cat;
	struct kp_itype *it;
	const struct kp_req *r;

	(void)state;
	kp_catalog_init(&cat);
	it = mktype(&cat, "empty.large");
	assert_int_equal(kp_itype_finish(it, &cat.arena, NULL), KP_OK);
	r = kp_reqs_get(&it->reqs, KP_LABEL_ZONE);
	assert_non_null(r);
	assert_false(r->complement);
	assert_int_equal(r->n, 0);                 /* allows nothing */
	assert_false(kp_req_has(r, "us-east-1a"));
	r = kp_reqs_get(&it->reqs, KP_LABEL_CAPACITY_TYPE);
	assert_non_null(r);
	assert_int_equal(r->n, 0);
	assert_null(kp_itype_cheapest(it, NULL));
	kp_catalog_free(&cat);
}

static void test_bad_label(void **state)
{
	struct kp_catalog cat;
	struct kp_itype *it;
	struct kp_errbuf eb = { 0 };

	(void)state;
	kp_catalog_init(&cat);
	it = mktype(&cat, "bad.large");
	assert_int_equal(kp_labels_set(&it->labels, &cat.arena, "example.com/x", "not a value!"), KP_OK);
	assert_int_equal(kp_itype_finish(it, &cat.arena, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "instance type bad.large: "));
	assert_non_null(strstr(eb.msg, "example.com/x"));
	kp_catalog_free(&cat);
}

static kp_err reqs_in(struct kp_reqs *rs, struct kp_arena *a, const char *key, const char *const *v, int n)
{
	struct kp_req r;
	kp_err rc = kp_req_make(&r, a, key, KP_OP_IN, v, n, 0, NULL);

	return rc ? rc : kp_reqs_add(rs, a, &r);
}

static void test_compatible_and_cheapest(void **state)
{
	struct kp_catalog cat;
	struct kp_itype *it;
	struct kp_reqs rs;
	struct kp_req notin;
	const struct kp_offering *o;
	static const char *const zb[] = { "us-east-1b" };
	static const char *const zbc[] = { "us-east-1c", "us-east-1b" };
	static const char *const od[] = { "on-demand" };
	static const char *const spot[] = { "spot" };
	static const char *const zx[] = { "us-west-2a" };

	(void)state;
	kp_catalog_init(&cat);
	it = mktype(&cat, "m5.large");
	set_offerings(&cat, it, offs4, 6);
	assert_int_equal(kp_itype_finish(it, &cat.arena, NULL), KP_OK);

	/* no requirements: the cheapest available (1b spot 0.05 is unavailable;
	 * 1a and 1c spot tie at 0.07: zone order decides) */
	o = kp_itype_cheapest(it, NULL);
	assert_non_null(o);
	assert_string_equal(o->zone, "us-east-1a");
	assert_int_equal(o->captype, KP_CAP_SPOT);
	kp_reqs_init(&rs);
	o = kp_itype_cheapest(it, &rs);           /* empty: a missing key allows all */
	assert_string_equal(o->zone, "us-east-1a");

	/* zone 1b: its spot offering is unavailable, so on-demand */
	assert_int_equal(reqs_in(&rs, &cat.arena, KP_LABEL_ZONE, zb, 1), KP_OK);
	o = kp_itype_cheapest(it, &rs);
	assert_non_null(o);
	assert_string_equal(o->zone, "us-east-1b");
	assert_int_equal(o->captype, KP_CAP_ON_DEMAND);
	assert_true(o->price == 0.20);

	/* compatibility itself ignores availability */
	for (int i = 0; i < it->noff; i++) {
		bool want = strcmp(it->off[i].zone, "us-east-1b") == 0;
		assert_int_equal(kp_offering_compatible(&it->off[i], &rs), want);
	}

	/* zones b or c, spot only: 1c spot */
	kp_reqs_init(&rs);
	assert_int_equal(reqs_in(&rs, &cat.arena, KP_LABEL_ZONE, zbc, 2), KP_OK);
	assert_int_equal(reqs_in(&rs, &cat.arena, KP_LABEL_CAPACITY_TYPE, spot, 1), KP_OK);
	o = kp_itype_cheapest(it, &rs);
	assert_non_null(o);
	assert_string_equal(o->zone, "us-east-1c");
	assert_int_equal(o->captype, KP_CAP_SPOT);

	/* on-demand only: three tie at 0.20, zone order picks 1a */
	kp_reqs_init(&rs);
	assert_int_equal(reqs_in(&rs, &cat.arena, KP_LABEL_CAPACITY_TYPE, od, 1), KP_OK);
	o = kp_itype_cheapest(it, &rs);
	assert_string_equal(o->zone, "us-east-1a");
	assert_int_equal(o->captype, KP_CAP_ON_DEMAND);

	/* a zone the type is not offered in */
	kp_reqs_init(&rs);
	assert_int_equal(reqs_in(&rs, &cat.arena, KP_LABEL_ZONE, zx, 1), KP_OK);
	assert_null(kp_itype_cheapest(it, &rs));

	/* NotIn spot */
	kp_reqs_init(&rs);
	assert_int_equal(kp_req_make(&notin, &cat.arena, KP_LABEL_CAPACITY_TYPE, KP_OP_NOTIN, spot, 1, 0, NULL),
			 KP_OK);
	assert_int_equal(kp_reqs_add(&rs, &cat.arena, &notin), KP_OK);
	o = kp_itype_cheapest(it, &rs);
	assert_int_equal(o->captype, KP_CAP_ON_DEMAND);
	assert_false(kp_offering_compatible(&it->off[0], &rs));   /* 1b spot */
	kp_catalog_free(&cat);
}

/* Cheapest does not depend on the offerings being sorted. */
static void test_cheapest_unsorted(void **state)
{
	static const struct kp_offering o[] = {
		{ "z3", KP_CAP_ON_DEMAND, 0.30, true },
		{ "z2", KP_CAP_ON_DEMAND, 0.10, true },
		{ "z2", KP_CAP_SPOT, 0.10, true },
		{ "z1", KP_CAP_SPOT, 0.10, true },
	};
	struct kp_itype it;
	const struct kp_offering *best;

	(void)state;
	memset(&it, 0, sizeof(it));
	it.off = (struct kp_offering *)o;
	it.noff = 4;
	best = kp_itype_cheapest(&it, NULL);
	assert_ptr_equal(best, &o[3]);
	it.noff = 3;
	best = kp_itype_cheapest(&it, NULL);
	assert_ptr_equal(best, &o[1]);            /* z2: on-demand before spot */
}

static void test_catalog_add_sort_find(void **state)
{
	struct kp_catalog cat;
	char name[32];

	(void)state;
	kp_catalog_init(&cat);
	assert_null(kp_catalog_find(&cat, "m5.large"));
	/* 300 types added in scrambled order */
	for (int i = 0; i < 300; i++) {
		int k = (i * 7919) % 300;
		struct kp_itype *it = kp_arena_alloc(&cat.arena, sizeof(*it));
		snprintf(name, sizeof(name), "t%03d.large", k);
		it->name = kp_arena_strdup(&cat.arena, name);
		assert_int_equal(kp_catalog_add(&cat, it), KP_OK);
	}
	assert_int_equal(kp_catalog_add(&cat, NULL), KP_ERR_INVALID);
	assert_int_equal(cat.n, 300);
	kp_catalog_sort(&cat);
	for (int i = 1; i < cat.n; i++)
		assert_true(strcmp(cat.types[i - 1]->name, cat.types[i]->name) < 0);
	for (int k = 0; k < 300; k++) {
		const struct kp_itype *it;
		snprintf(name, sizeof(name), "t%03d.large", k);
		it = kp_catalog_find(&cat, name);
		assert_non_null(it);
		assert_string_equal(it->name, name);
	}
	assert_null(kp_catalog_find(&cat, "t300.large"));
	assert_null(kp_catalog_find(&cat, "a"));
	assert_null(kp_catalog_find(&cat, "z"));
	assert_null(kp_catalog_find(&cat, NULL));
	assert_null(kp_catalog_find(NULL, "a"));
	kp_catalog_free(&cat);
	assert_int_equal(cat.n, 0);
	kp_catalog_free(&cat);
	kp_catalog_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocatable),
		cmocka_unit_test(test_allocatable_hugepages),
		cmocka_unit_test(test_offerings_sorted),
		cmocka_unit_test(test_requirements),
		cmocka_unit_test(test_requirements_unavailable_only),
		cmocka_unit_test(test_no_offerings),
		cmocka_unit_test(test_bad_label),
		cmocka_unit_test(test_compatible_and_cheapest),
		cmocka_unit_test(test_cheapest_unsorted),
		cmocka_unit_test(test_catalog_add_sort_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
