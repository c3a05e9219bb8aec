/*
 * test_cloud_fake.c - the simulated cloud (src/cloud/fake.c) and the shared
 * cloud helpers (src/cloud/cloud.c): offering choice (cheapest, ties, spot
 * first, requirements, requests), insufficient-capacity fallback, boot and
 * termination timing on an injected clock, never-registering and slow
 * instances, delete/get/list, fault injection, drift, the poll hook
 * (each transition once, retries), save/restore, and the kwok and AWS
 * catalogs. Run from the repository root (the AWS catalog reads "data").
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloud/fake.h"

#define MI ((int64_t)1024 * 1024)
#define GI (MI * 1024)
#define T0 ((int64_t)1700000000000)   /* the test clock's start, unix ms */

/* ---- fixture: a small catalog, a test clock, claims ---- */

struct fx {
	struct kp_catalog cat;
	struct kp_arena a;                /* claims and results */
	int64_t now;                      /* the test clock, ms */
	struct kp_cloud *cp;
};

static int64_t test_clock(void *arg)
{
	return *(const int64_t *)arg;
}

static void add_type(struct kp_catalog *cat, const char *name, const char *arch, int64_t cpu_milli, int64_t mem,
		     const struct kp_offering *off, int noff)
{
	struct kp_itype *it = kp_arena_alloc(&cat->arena, sizeof(*it));
	struct kp_errbuf eb = { 0 };

	assert_non_null(it);
	it->name = name;
	assert_int_equal(kp_labels_set(&it->labels, &cat->arena, KP_LABEL_INSTANCE_TYPE, name), KP_OK);
	assert_int_equal(kp_labels_set(&it->labels, &cat->arena, KP_LABEL_ARCH, arch), KP_OK);
	assert_int_equal(kp_labels_set(&it->labels, &cat->arena, KP_LABEL_OS, "linux"), KP_OK);
	it->capacity.v[KP_RES_CPU] = cpu_milli;
	it->capacity.v[KP_RES_MEMORY] = mem;
	it->capacity.v[KP_RES_PODS] = 10;
	it->overhead.kube_reserved.v[KP_RES_CPU] = 100;
	it->overhead.kube_reserved.v[KP_RES_MEMORY] = 10 * MI;
	it->off = kp_arena_memdup(&cat->arena, off, (size_t)noff * sizeof(*off));
	it->noff = noff;
	assert_int_equal(kp_itype_finish(it, &cat->arena, &eb), KP_OK);
	assert_int_equal(kp_catalog_add(cat, it), KP_OK);
}

/* m.small and n.small tie on on-demand price; g.small is arm64 and the
 * cheapest overall; m.medium is the only type with 4 cpus. */
static const struct kp_offering off_m_small[] = {
	{ "zone-1", KP_CAP_SPOT, 0.04, true },      { "zone-2", KP_CAP_SPOT, 0.03, true },
	{ "zone-1", KP_CAP_ON_DEMAND, 0.10, true }, { "zone-2", KP_CAP_ON_DEMAND, 0.10, true },
	{ "zone-3", KP_CAP_ON_DEMAND, 0.10, true },
};
static const struct kp_offering off_n_small[] = {
	{ "zone-1", KP_CAP_ON_DEMAND, 0.10, true },
	{ "zone-2", KP_CAP_SPOT, 0.01, false },     /* cheapest of all, but unavailable */
};
static const struct kp_offering off_m_medium[] = {
	{ "zone-1", KP_CAP_SPOT, 0.06, true },
	{ "zone-1", KP_CAP_ON_DEMAND, 0.12, true },
	{ "zone-3", KP_CAP_ON_DEMAND, 0.11, true },
};
static const struct kp_offering off_g_small[] = {
	{ "zone-2", KP_CAP_SPOT, 0.02, true },
	{ "zone-2", KP_CAP_ON_DEMAND, 0.08, true },
	{ "zone-1", KP_CAP_ON_DEMAND, 0.08, true },
};

static struct fx *fx_new_opts(const struct kp_cloud_fake_opts *o)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct kp_cloud_fake_opts def;
	struct kp_errbuf eb = { 0 };

	assert_non_null(x);
	kp_catalog_init(&x->cat);
	x->cat.name = "test";
	x->cat.region = "region-1";
	add_type(&x->cat, "m.small", "amd64", 2000, 4 * GI, off_m_small, (int)KP_ARRAY_LEN(off_m_small));
	add_type(&x->cat, "n.small", "amd64", 2000, 4 * GI, off_n_small, (int)KP_ARRAY_LEN(off_n_small));
	add_type(&x->cat, "m.medium", "amd64", 4000, 8 * GI, off_m_medium, (int)KP_ARRAY_LEN(off_m_medium));
	add_type(&x->cat, "g.small", "arm64", 2000, 4 * GI, off_g_small, (int)KP_ARRAY_LEN(off_g_small));
	kp_catalog_sort(&x->cat);
	kp_arena_init(&x->a);
	x->now = T0;
	if (!o) {
		kp_cloud_fake_opts_init(&def);
		o = &def;
	}
	def = *o;
	def.clock = test_clock;
	def.clock_arg = &x->now;
	assert_int_equal(kp_cloud_fake_new(&x->cat, &def, &x->cp, &eb), KP_OK);
	assert_true(kp_cloud_is_fake(x->cp));
	return x;
}

static struct fx *fx_new(void)
{
	return fx_new_opts(NULL);
}

static void fx_free(struct fx *x)
{
	kp_cloud_destroy(x->cp);
	kp_arena_free(&x->a);
	kp_catalog_free(&x->cat);
	free(x);
}

/* Adds "key op v1 v2 ..." (values space separated, NULL for none). */
static void req(struct kp_arena *a, struct kp_nodeclaim *nc, const char *key, enum kp_op op, const char *vals)
{
	const char *v[16];
	char *copy = vals ? kp_arena_strdup(a, vals) : NULL, *p = copy;
	int n = 0;
	struct kp_req r;
	struct kp_errbuf eb = { 0 };

	while (p && *p && n < 16) {
		char *sp = strchr(p, ' ');
		v[n++] = p;
		if (!sp)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	assert_int_equal(kp_req_make(&r, a, key, op, v, n, 0, &eb), KP_OK);
	assert_int_equal(kp_reqs_add(&nc->reqs, a, &r), KP_OK);
}

static struct kp_nodeclaim *claim(struct fx *x, const char *name, const char *types)
{
	struct kp_nodeclaim *nc = kp_arena_alloc(&x->a, sizeof(*nc));

	assert_non_null(nc);
	nc->name = name;
	nc->nodepool = "default";
	assert_int_equal(kp_labels_set(&nc->labels, &x->a, KP_LABEL_NODEPOOL, "default"), KP_OK);
	if (types)
		req(&x->a, nc, KP_LABEL_INSTANCE_TYPE, KP_OP_IN, types);
	return nc;
}

static struct kp_instance create_ok(struct fx *x, const struct kp_nodeclaim *nc)
{
	struct kp_instance in;
	struct kp_errbuf eb = { 0 };
	enum kp_cloud_err e = kp_cloud_create(x->cp, nc, &x->a, &in, &eb);

	if (e)
		fprintf(stderr, "create: %s\n", eb.msg);
	assert_int_equal(e, KP_CLOUD_OK);
	return in;
}

static enum kp_instance_state state_of(struct fx *x, const char *pid)
{
	struct kp_instance in;

	assert_int_equal(kp_cloud_get(x->cp, pid, &x->a, &in, NULL), KP_CLOUD_OK);
	return in.state;
}

static void assert_provider_id(const char *pid, const char *zone)
{
	char want[64];
	size_t pre;

	snprintf(want, sizeof(want), "aws:///%s/i-", zone);
	pre = strlen(want);
	assert_non_null(pid);
	assert_int_equal(strncmp(pid, want, pre), 0);
	assert_int_equal(strlen(pid), pre + 17);
	for (size_t i = pre; pid[i]; i++)
		assert_non_null(strchr("0123456789abcdef", pid[i]));
}

/* ---- offering choice ---- */

static void test_cheapest_offering(void **state)
{
	struct fx *x = fx_new();
	struct kp_nodeclaim *nc = claim(x, "nc-1", "m.small m.medium g.small");
	struct kp_instance in;

	(void)state;
	req(&x->a, nc, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, "on-demand");
	in = create_ok(x, nc);
	/* g.small on-demand 0.08 in zone-1 and zone-2: the zone tie goes to zone-1 */
	assert_string_equal(in.instance_type, "g.small");
	assert_string_equal(in.zone, "zone-1");
	assert_int_equal(in.captype, KP_CAP_ON_DEMAND);
	assert_true(in.price == 0.08);
	assert_provider_id(in.provider_id, "zone-1");
	assert_int_equal(in.state, KP_INSTANCE_PENDING);
	assert_int_equal(in.launched, T0 / 1000);
	assert_string_equal(in.nodeclaim, "nc-1");
	assert_string_equal(in.nodepool, "default");
	assert_non_null(in.image_id);
	assert_int_equal(strncmp(in.image_id, "ami-", 4), 0);
	assert_int_equal(strlen(in.image_id), 21);
	/* labels: type labels + zone + region + capacity type + nodepool */
	assert_string_equal(kp_labels_get(&in.labels, KP_LABEL_INSTANCE_TYPE), "g.small");
	assert_string_equal(kp_labels_get(&in.labels, KP_LABEL_ARCH), "arm64");
	assert_string_equal(kp_labels_get(&in.labels, KP_LABEL_OS), "linux");
	assert_string_equal(kp_labels_get(&in.labels, KP_LABEL_ZONE), "zone-1");
	assert_string_equal(kp_labels_get(&in.labels, KP_LABEL_REGION), "region-1");
	assert_string_equal(kp_labels_get(&in.labels, KP_LABEL_CAPACITY_TYPE), "on-demand");
	assert_string_equal(kp_labels_get(&in.labels, KP_LABEL_NODEPOOL), "default");
	/* capacity and allocatable from the type */
	assert_int_equal(in.capacity.v[KP_RES_CPU], 2000);
	assert_int_equal(in.capacity.v[KP_RES_MEMORY], 4 * GI);
	assert_int_equal(in.allocatable.v[KP_RES_CPU], 1900);
	assert_int_equal(in.allocatable.v[KP_RES_MEMORY], 4 * GI - 10 * MI);
	assert_int_equal(in.allocatable.v[KP_RES_PODS], 10);
	fx_free(x);
}

static void test_ties_by_name_then_zone(void **state)
{
	struct fx *x = fx_new();
	struct kp_nodeclaim *nc = claim(x, "nc-1", "n.small m.small");
	struct kp_instance in;

	(void)state;
	req(&x->a, nc, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, "on-demand");
	/* m.small and n.small both 0.10 on-demand in zone-1: m.small by name;
	 * m.small's three 0.10 zones: zone-1 */
	in = create_ok(x, nc);
	assert_string_equal(in.instance_type, "m.small");
	assert_string_equal(in.zone, "zone-1");

	/* n.small's unavailable 0.01 spot offering is never picked */
	nc = claim(x, "nc-2", "n.small");
	in = create_ok(x, nc);
	assert_string_equal(in.instance_type, "n.small");
	assert_int_equal(in.captype, KP_CAP_ON_DEMAND);
	assert_true(in.price == 0.10);
	fx_free(x);
}

static void test_spot_preferred(void **state)
{
	struct fx *x = fx_new();
	struct kp_nodeclaim *nc;
	struct kp_instance in;

	(void)state;
	/* both allowed: the cheapest spot offering */
	nc = claim(x, "nc-1", "m.small m.medium g.small");
	req(&x->a, nc, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, "on-demand spot");
	in = create_ok(x, nc);
	assert_string_equal(in.instance_type, "g.small");
	assert_string_equal(in.zone, "zone-2");
	assert_int_equal(in.captype, KP_CAP_SPOT);
	assert_true(in.price == 0.02);
	assert_string_equal(kp_labels_get(&in.labels, KP_LABEL_CAPACITY_TYPE), "spot");

	/* no capacity-type requirement at all: spot too */
	nc = claim(x, "nc-2", "m.medium");
	in = create_ok(x, nc);
	assert_int_equal(in.captype, KP_CAP_SPOT);
	assert_true(in.price == 0.06);

	/* spot when allowed even though on-demand of another type is cheaper
	 * than this type's spot (capacity type is decided first, as AWS does) */
	nc = claim(x, "nc-3", "m.medium n.small");
	in = create_ok(x, nc);
	assert_string_equal(in.instance_type, "m.medium");
	assert_int_equal(in.captype, KP_CAP_SPOT);
	fx_free(x);
}

static void test_requirements_respected(void **state)
{
	struct fx *x = fx_new();
	struct kp_nodeclaim *nc;
	struct kp_instance in;
	struct kp_errbuf eb = { 0 };

	(void)state;
	/* zone In [zone-3]: no spot there, so on-demand; m.small 0.10 < m.medium 0.11 */
	nc = claim(x, "nc-zone", "m.small m.medium g.small");
	req(&x->a, nc, KP_LABEL_ZONE, KP_OP_IN, "zone-3");
	in = create_ok(x, nc);
	assert_string_equal(in.instance_type, "m.small");
	assert_string_equal(in.zone, "zone-3");
	assert_int_equal(in.captype, KP_CAP_ON_DEMAND);
	assert_string_equal(kp_labels_get(&in.labels, KP_LABEL_ZONE), "zone-3");

	/* on-demand only, amd64: never spot, never arm64 */
	nc = claim(x, "nc-od", "m.small m.medium g.small");
	req(&x->a, nc, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, "on-demand");
	req(&x->a, nc, KP_LABEL_ARCH, KP_OP_IN, "amd64");
	in = create_ok(x, nc);
	assert_string_equal(in.instance_type, "m.small");
	assert_int_equal(in.captype, KP_CAP_ON_DEMAND);
	assert_string_equal(kp_labels_get(&in.labels, KP_LABEL_ARCH), "amd64");

	/* arch arm64 and zone NotIn [zone-2]: g.small on-demand in zone-1 */
	nc = claim(x, "nc-arm", "m.small g.small");
	req(&x->a, nc, KP_LABEL_ARCH, KP_OP_IN, "arm64");
	req(&x->a, nc, KP_LABEL_ZONE, KP_OP_NOTIN, "zone-2");
	in = create_ok(x, nc);
	assert_string_equal(in.instance_type, "g.small");
	assert_string_equal(in.zone, "zone-1");
	assert_int_equal(in.captype, KP_CAP_ON_DEMAND);

	/* a custom single-value label requirement becomes a label; hostname does not */
	nc = claim(x, "nc-team", "m.small");
	req(&x->a, nc, "example.com/team", KP_OP_IN, "blue");
	req(&x->a, nc, KP_LABEL_HOSTNAME, KP_OP_IN, "nc-team");
	in = create_ok(x, nc);
	assert_string_equal(kp_labels_get(&in.labels, "example.com/team"), "blue");
	assert_null(kp_labels_get(&in.labels, KP_LABEL_HOSTNAME));

	/* arm64 in zone-3 exists nowhere */
	nc = claim(x, "nc-none", "m.small g.small");
	req(&x->a, nc, KP_LABEL_ARCH, KP_OP_IN, "arm64");
	req(&x->a, nc, KP_LABEL_ZONE, KP_OP_IN, "zone-3");
	assert_int_equal(kp_cloud_create(x->cp, nc, &x->a, &in, &eb), KP_CLOUD_INSUFFICIENT_CAPACITY);
	assert_non_null(strstr(eb.msg, "nc-none"));

	/* unknown instance-type values are ignored, known ones used */
	nc = claim(x, "nc-unknown", "x.nope m.medium");
	in = create_ok(x, nc);
	assert_string_equal(in.instance_type, "m.medium");

	/* no instance-type requirement: every compatible type is a candidate */
	nc = claim(x, "nc-any", NULL);
	in = create_ok(x, nc);
	assert_string_equal(in.instance_type, "g.small");
	fx_free(x);
}

static void test_requests_must_fit(void **state)
{
	struct fx *x = fx_new();
	struct kp_nodeclaim *nc;
	struct kp_instance in;
	struct kp_errbuf eb = { 0 };

	(void)state;
	/* 3 cpus fit only m.medium (allocatable 3900m) */
	nc = claim(x, "nc-big", "m.small m.medium g.small");
	nc->requests.v[KP_RES_CPU] = 3000;
	in = create_ok(x, nc);
	assert_string_equal(in.instance_type, "m.medium");

	/* 1900m fits the small types exactly; 1901m does not */
	nc = claim(x, "nc-edge", "m.small");
	nc->requests.v[KP_RES_CPU] = 1900;
	in = create_ok(x, nc);
	assert_string_equal(in.instance_type, "m.small");
	nc = claim(x, "nc-over", "m.small g.small");
	nc->requests.v[KP_RES_CPU] = 1901;
	assert_int_equal(kp_cloud_create(x->cp, nc, &x->a, &in, &eb), KP_CLOUD_INSUFFICIENT_CAPACITY);
	assert_non_null(strstr(eb.msg, "room"));
	assert_null(in.provider_id);
	fx_free(x);
}

/* ---- insufficient capacity ---- */

static void test_ice_fallback(void **state)
{
	struct fx *x = fx_new();
	struct kp_nodeclaim *nc = claim(x, "nc-1", "m.small g.small");
	struct kp_instance in;
	struct kp_errbuf eb = { 0 };
	const struct kp_catalog *cat;
	const struct kp_itype *it;
	int avail = 0;

	(void)state;
	req(&x->a, nc, KP_LABEL_ARCH, KP_OP_IN, "amd64");
	in = create_ok(x, nc);
	assert_string_equal(in.zone, "zone-2");                 /* m.small spot 0.03 */
	assert_int_equal(in.captype, KP_CAP_SPOT);

	assert_int_equal(kp_cloud_fake_ice(x->cp, "m.small", "zone-2", KP_CAP_SPOT), KP_OK);
	in = create_ok(x, nc);
	assert_string_equal(in.zone, "zone-1");                 /* next: spot 0.04 */
	assert_int_equal(in.captype, KP_CAP_SPOT);
	assert_true(in.price == 0.04);

	assert_int_equal(kp_cloud_fake_ice(x->cp, NULL, NULL, KP_CAP_SPOT), KP_OK);     /* all spot */
	in = create_ok(x, nc);
	assert_int_equal(in.captype, KP_CAP_ON_DEMAND);         /* on-demand fallback */
	assert_string_equal(in.instance_type, "m.small");
	assert_string_equal(in.zone, "zone-1");

	/* the catalog shows the injected shortage */
	assert_int_equal(kp_cloud_instance_types(x->cp, NULL, &cat, &eb), KP_CLOUD_OK);
	it = kp_catalog_find(cat, "m.small");
	assert_non_null(it);
	for (int i = 0; i < it->noff; i++) {
		if (it->off[i].captype == KP_CAP_SPOT)
			assert_false(it->off[i].available);
		else
			avail++;
	}
	assert_int_equal(avail, 3);
	assert_int_equal(it->noff, 5);

	/* nothing left */
	assert_int_equal(kp_cloud_fake_ice(x->cp, NULL, NULL, KP_CAP_ON_DEMAND), KP_OK);
	assert_int_equal(kp_cloud_create(x->cp, nc, &x->a, &in, &eb), KP_CLOUD_INSUFFICIENT_CAPACITY);
	assert_non_null(strstr(eb.msg, "insufficient capacity"));
	assert_int_equal(eb.code, KP_ERR_LIMIT);

	/* clearing restores every offering, but not the catalog's own unavailable one */
	kp_cloud_fake_clear_faults(x->cp);
	assert_int_equal(kp_cloud_instance_types(x->cp, NULL, &cat, &eb), KP_CLOUD_OK);
	it = kp_catalog_find(cat, "m.small");
	for (int i = 0; i < it->noff; i++)
		assert_true(it->off[i].available);
	it = kp_catalog_find(cat, "n.small");
	for (int i = 0; i < it->noff; i++)
		assert_int_equal(it->off[i].available, it->off[i].captype == KP_CAP_ON_DEMAND);
	in = create_ok(x, nc);
	assert_string_equal(in.zone, "zone-2");
	assert_int_equal(in.captype, KP_CAP_SPOT);

	/* the borrowed catalog itself is never changed */
	it = kp_catalog_find(&x->cat, "m.small");
	for (int i = 0; i < it->noff; i++)
		assert_true(it->off[i].available);
	assert_int_equal(kp_cloud_fake_ice(x->cp, NULL, NULL, 7), KP_ERR_INVALID);
	fx_free(x);
}

/* ---- capacity reservations ---- */

/* r.small: a reservation of 2 instances in zone-1 (dearer than spot: the
 * capacity type still goes reserved first), spot in zone-1. */
static const struct kp_offering off_r_small[] = {
	{ "zone-1", KP_CAP_RESERVED, 0.09, true },
	{ "zone-1", KP_CAP_SPOT, 0.03, true },
};
static const struct kp_reservation resv_r_small[] = { { "zone-1", 2 } };

static void test_reservation_count(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct kp_cloud_fake_opts o;
	struct kp_errbuf eb = { 0 };
	struct kp_nodeclaim *any, *only;
	struct kp_instance in, first;
	struct kp_itype *it;

	(void)state;
	assert_non_null(x);
	kp_catalog_init(&x->cat);
	x->cat.name = "test";
	add_type(&x->cat, "r.small", "amd64", 2000, 4 * GI, off_r_small, (int)KP_ARRAY_LEN(off_r_small));
	it = x->cat.types[0];
	it->resv = resv_r_small;
	it->nresv = 1;
	kp_catalog_sort(&x->cat);
	kp_arena_init(&x->a);
	x->now = T0;
	kp_cloud_fake_opts_init(&o);
	o.clock = test_clock;
	o.clock_arg = &x->now;
	o.terminate_delay_ms = 1000;
	assert_int_equal(kp_cloud_fake_new(&x->cat, &o, &x->cp, &eb), KP_OK);

	any = claim(x, "nc-any", "r.small");
	only = claim(x, "nc-reserved", "r.small");
	req(&x->a, only, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, "reserved");

	/* two launches use the reservation up */
	first = create_ok(x, any);
	assert_int_equal(first.captype, KP_CAP_RESERVED);
	assert_true(first.price == 0.09);
	in = create_ok(x, only);
	assert_int_equal(in.captype, KP_CAP_RESERVED);
	/* then a claim that allows spot falls back to it ... */
	in = create_ok(x, any);
	assert_int_equal(in.captype, KP_CAP_SPOT);
	assert_string_equal(in.zone, "zone-1");
	/* ... and one that only allows reserved gets nothing */
	assert_int_equal(kp_cloud_create(x->cp, only, &x->a, &in, &eb), KP_CLOUD_INSUFFICIENT_CAPACITY);

	/* a terminating instance still holds its slot; a terminated one gives it back */
	assert_int_equal(kp_cloud_delete(x->cp, first.provider_id, &eb), KP_CLOUD_OK);
	assert_int_equal(kp_cloud_create(x->cp, only, &x->a, &in, &eb), KP_CLOUD_INSUFFICIENT_CAPACITY);
	x->now += 1000;
	in = create_ok(x, only);
	assert_int_equal(in.captype, KP_CAP_RESERVED);
	assert_int_equal(kp_cloud_create(x->cp, only, &x->a, &in, &eb), KP_CLOUD_INSUFFICIENT_CAPACITY);
	fx_free(x);
}

/* ---- subnets and EC2NodeClass subnetSelectorTerms ---- */

static enum kp_cloud_err reconcile(struct fx *x, const char *name, const char *terms, char **status, char **conds)
{
	char json[512];
	struct kp_errbuf eb = { 0 };

	snprintf(json, sizeof(json), "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"subnetSelectorTerms\":%s}}", name, terms);
	return kp_cloud_nodeclass_reconcile(x->cp, json, status, conds, &eb);
}

/* zones of the available offerings of type name in the class's view */
static void avail_zones(struct fx *x, const char *cls, const char *type, char *out, size_t n)
{
	struct kp_nodepool np = { 0 };
	const struct kp_catalog *cat;
	const struct kp_itype *it;
	struct kp_errbuf eb = { 0 };

	np.name = "default";
	np.node_class.name = cls;
	out[0] = '\0';
	assert_int_equal(kp_cloud_instance_types(x->cp, &np, &cat, &eb), KP_CLOUD_OK);
	it = kp_catalog_find(cat, type);
	assert_non_null(it);
	for (int i = 0; i < it->noff; i++)
		if (it->off[i].available && !strstr(out, it->off[i].zone)) {
			strncat(out, it->off[i].zone, n - strlen(out) - 1);
			strncat(out, " ", n - strlen(out) - 1);
		}
}

static void test_subnet_selector_terms(void **state)
{
	struct fx *x = fx_new();
	struct kp_nodeclaim *nc = claim(x, "nc-1", "m.small");
	struct kp_instance in;
	struct kp_errbuf eb = { 0 };
	char *st = NULL, *cj = NULL, z[128];

	(void)state;
	/* by id: one subnet */
	assert_int_equal(reconcile(x, "by-id", "[{\"id\":\"subnet-zone-3\"}]", &st, &cj), KP_CLOUD_OK);
	assert_string_equal(st, "{\"subnets\":[{\"id\":\"subnet-zone-3\",\"zone\":\"zone-3\"}]}");
	assert_non_null(strstr(cj, "\"type\":\"Ready\",\"status\":\"True\""));
	free(st);
	free(cj);
	avail_zones(x, "by-id", "m.small", z, sizeof(z));
	assert_string_equal(z, "zone-3 ");
	nc->node_class = "by-id";
	in = create_ok(x, nc);                       /* spot is in zone-1/2 only: on-demand in zone-3 */
	assert_string_equal(in.zone, "zone-3");
	assert_int_equal(in.captype, KP_CAP_ON_DEMAND);

	/* by tags: the zone tag, or discovery with any value (with another term ORed) */
	assert_int_equal(reconcile(x, "by-tag", "[{\"tags\":{\"topology.kubernetes.io/zone\":\"zone-2\"}},"
				   "{\"id\":\"subnet-zone-1\"}]", &st, &cj), KP_CLOUD_OK);
	free(st);
	free(cj);
	avail_zones(x, "by-tag", "m.small", z, sizeof(z));
	assert_string_equal(z, "zone-2 zone-1 ");   /* offering order: price */
	assert_int_equal(reconcile(x, "all", "[{\"tags\":{\"karpenter.sh/discovery\":\"my-cluster\"}}]", &st, &cj),
			 KP_CLOUD_OK);
	free(st);
	free(cj);
	avail_zones(x, "all", "m.small", z, sizeof(z));
	assert_string_equal(z, "zone-2 zone-1 zone-3 ");

	/* nothing selected: not ready, and its claims do not launch */
	assert_int_equal(reconcile(x, "none", "[{\"tags\":{\"env\":\"prod\"}}]", &st, &cj),
			 KP_CLOUD_NODECLASS_NOT_READY);
	assert_string_equal(st, "{\"subnets\":[]}");
	assert_non_null(strstr(cj, "\"type\":\"SubnetsReady\",\"status\":\"False\",\"reason\":\"SubnetsNotFound\""));
	free(st);
	free(cj);
	nc->node_class = "none";
	assert_int_equal(kp_cloud_create(x->cp, nc, &x->a, &in, &eb), KP_CLOUD_NODECLASS_NOT_READY);

	/* a spec change swaps the view; forgetting a class restores every subnet */
	assert_int_equal(reconcile(x, "by-id", "[{\"id\":\"subnet-zone-1\"}]", &st, &cj), KP_CLOUD_OK);
	free(st);
	free(cj);
	avail_zones(x, "by-id", "m.small", z, sizeof(z));
	assert_string_equal(z, "zone-1 ");
	kp_cloud_nodeclass_forget(x->cp, "by-id");
	avail_zones(x, "by-id", "m.small", z, sizeof(z));
	assert_string_equal(z, "zone-2 zone-1 zone-3 ");
	fx_free(x);
}

/* Default: subnets in the first three zones (sorted) of a four-zone catalog. */
static const struct kp_offering off_q_small[] = {
	{ "zone-d", KP_CAP_ON_DEMAND, 0.05, true }, { "zone-a", KP_CAP_ON_DEMAND, 0.10, true },
	{ "zone-b", KP_CAP_ON_DEMAND, 0.10, true }, { "zone-c", KP_CAP_ON_DEMAND, 0.10, true },
};

static void test_default_subnets(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct kp_cloud_fake_opts o;
	struct kp_errbuf eb = { 0 };
	char *st = NULL, *cj = NULL, z[128];
	struct kp_instance in;

	(void)state;
	assert_non_null(x);
	kp_catalog_init(&x->cat);
	add_type(&x->cat, "q.small", "amd64", 2000, 4 * GI, off_q_small, (int)KP_ARRAY_LEN(off_q_small));
	kp_catalog_sort(&x->cat);
	kp_arena_init(&x->a);
	x->now = T0;
	kp_cloud_fake_opts_init(&o);
	assert_int_equal(o.subnet_zones, 3);
	o.clock = test_clock;
	o.clock_arg = &x->now;
	assert_int_equal(kp_cloud_fake_new(&x->cat, &o, &x->cp, &eb), KP_OK);
	avail_zones(x, NULL, "q.small", z, sizeof(z));
	assert_string_equal(z, "zone-a zone-b zone-c ");   /* zone-d, the cheapest, has no subnet */
	in = create_ok(x, claim(x, "nc-1", "q.small"));
	assert_string_equal(in.zone, "zone-a");
	assert_int_equal(reconcile(x, "d", "[{\"id\":\"subnet-zone-d\"}]", &st, &cj), KP_CLOUD_NODECLASS_NOT_READY);
	free(st);
	free(cj);
	assert_int_equal(reconcile(x, "any", "[{\"tags\":{\"Name\":\"*\"}}]", &st, &cj), KP_CLOUD_OK);
	assert_string_equal(st, "{\"subnets\":[{\"id\":\"subnet-zone-a\",\"zone\":\"zone-a\"},"
			    "{\"id\":\"subnet-zone-b\",\"zone\":\"zone-b\"},{\"id\":\"subnet-zone-c\",\"zone\":\"zone-c\"}]}");
	free(st);
	free(cj);
	fx_free(x);
}

/* ---- lifecycle ---- */

static void test_launch_delay(void **state)
{
	struct fx *x = fx_new();
	struct kp_instance in = create_ok(x, claim(x, "nc-1", "m.small"));
	struct kp_instance *all;
	int n;

	(void)state;
	assert_int_equal(in.state, KP_INSTANCE_PENDING);
	x->now += 1999;
	assert_int_equal(state_of(x, in.provider_id), KP_INSTANCE_PENDING);
	x->now += 1;
	assert_int_equal(state_of(x, in.provider_id), KP_INSTANCE_RUNNING);
	assert_int_equal(kp_cloud_list(x->cp, &x->a, &all, &n, NULL), KP_CLOUD_OK);
	assert_int_equal(n, 1);
	assert_int_equal(all[0].state, KP_INSTANCE_RUNNING);
	assert_string_equal(all[0].provider_id, in.provider_id);
	fx_free(x);

	/* a configured delay of 0 is RUNNING at once */
	{
		struct kp_cloud_fake_opts o;

		kp_cloud_fake_opts_init(&o);
		o.launch_delay_ms = 0;
		x = fx_new_opts(&o);
		in = create_ok(x, claim(x, "nc-1", "m.small"));
		assert_int_equal(in.state, KP_INSTANCE_RUNNING);
		fx_free(x);
	}
}

struct events {
	int n;
	int running, terminated;
	int refuse;                       /* refuse this many more events */
	char last[128];
	enum kp_cloud_fake_event last_kind;
	struct kp_instance last_inst;     /* scalars only (labels point into the poll's arena) */
	int last_labels;
	const char *want_zone_label;
};

static int on_event(void *ctx, enum kp_cloud_fake_event ev, const struct kp_instance *inst)
{
	struct events *e = ctx;

	if (e->refuse > 0) {
		e->refuse--;
		return 1;
	}
	e->n++;
	if (ev == KP_CLOUD_FAKE_RUNNING)
		e->running++;
	else
		e->terminated++;
	e->last_kind = ev;
	e->last_inst = *inst;
	e->last_labels = inst->labels.n;
	snprintf(e->last, sizeof(e->last), "%s", inst->provider_id);
	if (e->want_zone_label)
		assert_string_equal(kp_labels_get(&inst->labels, KP_LABEL_ZONE), e->want_zone_label);
	return 0;
}

static void test_never_registers_and_slow_boots(void **state)
{
	struct fx *x = fx_new();
	struct kp_instance never, slow, normal;
	struct events ev = { 0 };

	(void)state;
	kp_cloud_fake_delay_next_boots(x->cp, 1, KP_NEVER);
	never = create_ok(x, claim(x, "nc-never", "m.small"));
	normal = create_ok(x, claim(x, "nc-normal", "m.small"));
	slow = create_ok(x, claim(x, "nc-slow", "m.small"));
	assert_int_equal(kp_cloud_fake_delay_boot(x->cp, slow.provider_id, 10000), KP_OK);

	x->now += 2000;
	assert_int_equal(state_of(x, never.provider_id), KP_INSTANCE_PENDING);
	assert_int_equal(state_of(x, normal.provider_id), KP_INSTANCE_RUNNING);
	assert_int_equal(state_of(x, slow.provider_id), KP_INSTANCE_PENDING);
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, on_event, &ev), 1);
	assert_string_equal(ev.last, normal.provider_id);
	/* already running: too late to slow it down */
	assert_int_equal(kp_cloud_fake_delay_boot(x->cp, normal.provider_id, 5000), KP_ERR_INVALID);
	assert_int_equal(kp_cloud_fake_delay_boot(x->cp, "aws:///zone-1/i-00000000000000000", 1), KP_ERR_NOTFOUND);

	x->now += 10000;
	assert_int_equal(state_of(x, slow.provider_id), KP_INSTANCE_RUNNING);
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, on_event, &ev), 1);
	assert_string_equal(ev.last, slow.provider_id);

	x->now += (int64_t)1000 * 3600 * 24 * 365;
	assert_int_equal(state_of(x, never.provider_id), KP_INSTANCE_PENDING);
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, on_event, &ev), 0);
	assert_int_equal(ev.running, 2);

	/* an existing instance can be told never to boot */
	slow = create_ok(x, claim(x, "nc-later", "m.small"));
	assert_int_equal(kp_cloud_fake_delay_boot(x->cp, slow.provider_id, KP_NEVER), KP_OK);
	x->now += 100000;
	assert_int_equal(state_of(x, slow.provider_id), KP_INSTANCE_PENDING);
	fx_free(x);
}

static void test_delete_then_not_found(void **state)
{
	struct fx *x = fx_new();
	struct kp_instance in = create_ok(x, claim(x, "nc-1", "m.small"));
	struct kp_instance got;
	struct kp_errbuf eb = { 0 };

	(void)state;
	assert_int_equal(kp_cloud_delete(x->cp, in.provider_id, &eb), KP_CLOUD_OK);
	/* terminate delay 0: gone at once */
	assert_int_equal(kp_cloud_get(x->cp, in.provider_id, &x->a, &got, &eb), KP_CLOUD_NOT_FOUND);
	assert_non_null(strstr(eb.msg, in.provider_id));
	assert_int_equal(eb.code, KP_ERR_NOTFOUND);
	assert_int_equal(kp_cloud_delete(x->cp, in.provider_id, &eb), KP_CLOUD_NOT_FOUND);
	assert_int_equal(kp_cloud_delete(x->cp, "aws:///zone-1/i-0123456789abcdef0", &eb), KP_CLOUD_NOT_FOUND);
	assert_int_equal(kp_cloud_delete(x->cp, NULL, &eb), KP_CLOUD_NOT_FOUND);
	assert_int_equal(kp_cloud_get(x->cp, "", &x->a, &got, &eb), KP_CLOUD_NOT_FOUND);
	fx_free(x);

	/* with a terminate delay: TERMINATING (still listed), then NOT_FOUND */
	{
		struct kp_cloud_fake_opts o;
		struct kp_instance *all;
		int n;

		kp_cloud_fake_opts_init(&o);
		o.terminate_delay_ms = 1000;
		x = fx_new_opts(&o);
		in = create_ok(x, claim(x, "nc-1", "m.small"));
		x->now += 5000;
		assert_int_equal(kp_cloud_delete(x->cp, in.provider_id, &eb), KP_CLOUD_OK);
		assert_int_equal(state_of(x, in.provider_id), KP_INSTANCE_TERMINATING);
		x->now += 500;
		assert_int_equal(kp_cloud_delete(x->cp, in.provider_id, &eb), KP_CLOUD_OK);  /* still going */
		assert_int_equal(kp_cloud_list(x->cp, &x->a, &all, &n, &eb), KP_CLOUD_OK);
		assert_int_equal(n, 1);
		assert_int_equal(all[0].state, KP_INSTANCE_TERMINATING);
		x->now += 500;      /* 1000 after the first delete, not the second */
		assert_int_equal(kp_cloud_get(x->cp, in.provider_id, &x->a, &got, &eb), KP_CLOUD_NOT_FOUND);
		assert_int_equal(kp_cloud_delete(x->cp, in.provider_id, &eb), KP_CLOUD_NOT_FOUND);
		fx_free(x);
	}
}

static void test_list_excludes_terminated(void **state)
{
	struct fx *x = fx_new();
	struct kp_instance a, b, c, *all;
	int n;

	(void)state;
	a = create_ok(x, claim(x, "nc-a", "m.small"));
	b = create_ok(x, claim(x, "nc-b", "m.medium"));
	c = create_ok(x, claim(x, "nc-c", "g.small"));
	assert_int_equal(kp_cloud_list(x->cp, &x->a, &all, &n, NULL), KP_CLOUD_OK);
	assert_int_equal(n, 3);
	assert_int_equal(kp_cloud_delete(x->cp, b.provider_id, NULL), KP_CLOUD_OK);
	assert_int_equal(kp_cloud_list(x->cp, &x->a, &all, &n, NULL), KP_CLOUD_OK);
	assert_int_equal(n, 2);
	/* sorted by provider id, deterministic */
	assert_true(strcmp(all[0].provider_id, all[1].provider_id) < 0);
	for (int i = 0; i < n; i++) {
		assert_true(strcmp(all[i].provider_id, b.provider_id) != 0);
		assert_true(strcmp(all[i].provider_id, a.provider_id) == 0 ||
			    strcmp(all[i].provider_id, c.provider_id) == 0);
		assert_non_null(all[i].nodeclaim);
	}
	assert_int_equal(kp_cloud_delete(x->cp, a.provider_id, NULL), KP_CLOUD_OK);
	assert_int_equal(kp_cloud_delete(x->cp, c.provider_id, NULL), KP_CLOUD_OK);
	assert_int_equal(kp_cloud_list(x->cp, &x->a, &all, &n, NULL), KP_CLOUD_OK);
	assert_int_equal(n, 0);
	assert_non_null(all);
	fx_free(x);
}

/* ---- poll ---- */

static void test_poll_each_transition_once(void **state)
{
	struct fx *x = fx_new();
	struct kp_instance a, b, c;
	struct events ev = { 0 };

	(void)state;
	a = create_ok(x, claim(x, "nc-a", "m.small"));
	b = create_ok(x, claim(x, "nc-b", "m.small"));
	c = create_ok(x, claim(x, "nc-c", "m.small"));
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, on_event, &ev), 0);
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now + 1999, on_event, &ev), 0);

	/* c is deleted before it boots: never reported either way */
	assert_int_equal(kp_cloud_delete(x->cp, c.provider_id, NULL), KP_CLOUD_OK);

	x->now += 2000;
	ev.want_zone_label = "zone-2";
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, on_event, &ev), 2);
	assert_int_equal(ev.running, 2);
	assert_int_equal(ev.last_kind, KP_CLOUD_FAKE_RUNNING);
	assert_int_equal(ev.last_inst.state, KP_INSTANCE_RUNNING);
	assert_true(ev.last_labels >= 6);
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, on_event, &ev), 0);
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now + 60000, on_event, &ev), 0);

	/* a refused event comes back at the next poll, and only then */
	assert_int_equal(kp_cloud_delete(x->cp, a.provider_id, NULL), KP_CLOUD_OK);
	ev.refuse = 1;
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, on_event, &ev), 0);
	assert_int_equal(ev.terminated, 0);
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, on_event, &ev), 1);
	assert_int_equal(ev.terminated, 1);
	assert_int_equal(ev.last_kind, KP_CLOUD_FAKE_TERMINATED);
	assert_int_equal(ev.last_inst.state, KP_INSTANCE_TERMINATED);
	assert_string_equal(ev.last, a.provider_id);
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, on_event, &ev), 0);

	/* TERMINATED is reported even when list pruned in between */
	assert_int_equal(kp_cloud_delete(x->cp, b.provider_id, NULL), KP_CLOUD_OK);
	{
		struct kp_instance *all;
		int n;

		assert_int_equal(kp_cloud_list(x->cp, &x->a, &all, &n, NULL), KP_CLOUD_OK);
		assert_int_equal(n, 0);
	}
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, on_event, &ev), 1);
	assert_string_equal(ev.last, b.provider_id);
	assert_int_equal(ev.running, 2);
	assert_int_equal(ev.terminated, 2);
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now + 1000000, on_event, &ev), 0);
	fx_free(x);
}

/* A refused RUNNING event is delivered again */
static void test_poll_retry_running(void **state)
{
	struct fx *x = fx_new();
	struct kp_instance a = create_ok(x, claim(x, "nc-a", "m.small"));
	struct events ev = { 0 };

	(void)state;
	x->now += 2000;
	ev.refuse = 1;
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, on_event, &ev), 0);
	assert_int_equal(ev.running, 0);
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, on_event, &ev), 1);
	assert_int_equal(ev.running, 1);
	assert_string_equal(ev.last, a.provider_id);
	fx_free(x);
}

/* The callback may call back into the cloud (no lock is held). */
static int reentrant_cb(void *ctx, enum kp_cloud_fake_event ev, const struct kp_instance *inst)
{
	struct kp_cloud *cp = ctx;
	struct kp_arena a;
	struct kp_instance got;

	kp_arena_init(&a);
	assert_int_equal(kp_cloud_get(cp, inst->provider_id, &a, &got, NULL), KP_CLOUD_OK);
	assert_int_equal(got.state, KP_INSTANCE_RUNNING);
	kp_arena_free(&a);
	return ev == KP_CLOUD_FAKE_RUNNING ? 0 : 1;
}

static void test_poll_reentrant(void **state)
{
	struct fx *x = fx_new();

	(void)state;
	create_ok(x, claim(x, "nc-a", "m.small"));
	x->now += 2000;
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, reentrant_cb, x->cp), 1);
	fx_free(x);
}

/* ---- faults and drift ---- */

static void test_fault_injection(void **state)
{
	struct fx *x = fx_new();
	struct kp_nodeclaim *nc = claim(x, "nc-1", "m.small");
	struct kp_instance in, *all;
	struct kp_errbuf eb = { 0 };
	const struct kp_catalog *cat;
	int n;

	(void)state;
	assert_int_equal(kp_cloud_fake_fail_next(x->cp, KP_CLOUD_FAKE_OP_CREATE, 1, KP_CLOUD_CREATE_ERROR,
						 "launch template not found"), KP_OK);
	assert_int_equal(kp_cloud_create(x->cp, nc, &x->a, &in, &eb), KP_CLOUD_CREATE_ERROR);
	assert_string_equal(eb.msg, "create: launch template not found");
	assert_int_equal(kp_cloud_list(x->cp, &x->a, &all, &n, &eb), KP_CLOUD_OK);
	assert_int_equal(n, 0);                                  /* nothing launched */
	in = create_ok(x, nc);                                   /* one use only */

	/* throttling for the next 2 calls of any kind */
	assert_int_equal(kp_cloud_fake_fail_next(x->cp, KP_CLOUD_FAKE_OP_ALL, 2, KP_CLOUD_TRANSIENT, NULL), KP_OK);
	assert_int_equal(kp_cloud_get(x->cp, in.provider_id, &x->a, &in, &eb), KP_CLOUD_TRANSIENT);
	assert_string_equal(eb.msg, "get: injected transient error");
	assert_int_equal(kp_cloud_instance_types(x->cp, NULL, &cat, &eb), KP_CLOUD_TRANSIENT);
	assert_null(cat);
	assert_int_equal(kp_cloud_list(x->cp, &x->a, &all, &n, &eb), KP_CLOUD_OK);
	assert_int_equal(n, 1);

	/* an unlimited rule on delete only, until cleared */
	assert_int_equal(kp_cloud_fake_fail_next(x->cp, KP_CLOUD_FAKE_OP_DELETE, -1, KP_CLOUD_INTERNAL, NULL), KP_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(kp_cloud_delete(x->cp, all[0].provider_id, &eb), KP_CLOUD_INTERNAL);
	assert_int_equal(kp_cloud_get(x->cp, all[0].provider_id, &x->a, &in, &eb), KP_CLOUD_OK);
	kp_cloud_fake_clear_faults(x->cp);
	assert_int_equal(kp_cloud_delete(x->cp, all[0].provider_id, &eb), KP_CLOUD_OK);

	assert_int_equal(kp_cloud_fake_fail_next(x->cp, KP_CLOUD_FAKE_OP_GET, 1, KP_CLOUD_OK, NULL), KP_ERR_INVALID);
	assert_int_equal(kp_cloud_fake_fail_next(x->cp, 0, 1, KP_CLOUD_TRANSIENT, NULL), KP_ERR_INVALID);

	/* calls are counted, failed or not */
	assert_int_equal(kp_cloud_fake_calls(x->cp, KP_CLOUD_FAKE_OP_CREATE), 2);
	assert_int_equal(kp_cloud_fake_calls(x->cp, KP_CLOUD_FAKE_OP_DELETE), 4);
	assert_int_equal(kp_cloud_fake_calls(x->cp, KP_CLOUD_FAKE_OP_GET | KP_CLOUD_FAKE_OP_LIST), 4);
	fx_free(x);
}

static void test_drift(void **state)
{
	struct fx *x = fx_new();
	struct kp_instance in = create_ok(x, claim(x, "nc-1", "m.small"));
	struct kp_nodeclaim *nc = claim(x, "nc-1", "m.small");
	char reason[64] = "junk";
	struct kp_errbuf eb = { 0 };

	(void)state;
	nc->provider_id = in.provider_id;
	assert_int_equal(kp_cloud_is_drifted(x->cp, nc, reason, sizeof(reason), &eb), KP_CLOUD_OK);
	assert_string_equal(reason, "");
	assert_int_equal(kp_cloud_fake_drift(x->cp, in.provider_id, "AMIDrift"), KP_OK);
	assert_int_equal(kp_cloud_is_drifted(x->cp, nc, reason, sizeof(reason), &eb), KP_CLOUD_OK);
	assert_string_equal(reason, "AMIDrift");
	assert_int_equal(kp_cloud_fake_drift(x->cp, in.provider_id, NULL), KP_OK);
	assert_int_equal(kp_cloud_is_drifted(x->cp, nc, reason, sizeof(reason), &eb), KP_CLOUD_OK);
	assert_string_equal(reason, "");
	/* a claim not launched yet is not drifted; a gone instance is not found */
	nc->provider_id = NULL;
	assert_int_equal(kp_cloud_is_drifted(x->cp, nc, reason, sizeof(reason), &eb), KP_CLOUD_OK);
	assert_int_equal(kp_cloud_delete(x->cp, in.provider_id, &eb), KP_CLOUD_OK);
	nc->provider_id = in.provider_id;
	assert_int_equal(kp_cloud_is_drifted(x->cp, nc, reason, sizeof(reason), &eb), KP_CLOUD_NOT_FOUND);
	assert_int_equal(kp_cloud_fake_drift(x->cp, in.provider_id, "x"), KP_ERR_NOTFOUND);
	fx_free(x);
}

/* ---- persistence ---- */

static void test_save_restore_round_trip(void **state)
{
	struct kp_cloud_fake_opts o;
	struct fx *x, *y;
	struct kp_instance run, pend, term, never, *l1, *l2, nx, ny;
	struct kp_nodeclaim *nc;
	struct events ev = { 0 };
	struct kp_errbuf eb = { 0 };
	char reason[64];
	char *js, *js2;
	int n1, n2;

	(void)state;
	kp_cloud_fake_opts_init(&o);
	o.terminate_delay_ms = 5000;
	o.seed = 42;
	o.cluster = "demo";
	x = fx_new_opts(&o);
	y = fx_new_opts(&o);

	run = create_ok(x, claim(x, "nc-run", "m.small"));
	term = create_ok(x, claim(x, "nc-term", "m.medium"));
	kp_cloud_fake_delay_next_boots(x->cp, 1, KP_NEVER);
	never = create_ok(x, claim(x, "nc-never", "g.small"));
	x->now += 2000;
	assert_int_equal(kp_cloud_fake_poll(x->cp, x->now, on_event, &ev), 2);   /* run, term */
	assert_int_equal(kp_cloud_delete(x->cp, term.provider_id, NULL), KP_CLOUD_OK);
	nc = claim(x, "nc-pend", "m.small");
	req(&x->a, nc, "example.com/team", KP_OP_IN, "blue");
	nc->requests.v[KP_RES_CPU] = 500;
	pend = create_ok(x, nc);
	assert_int_equal(kp_cloud_fake_drift(x->cp, run.provider_id, "AMIDrift"), KP_OK);

	js = kp_cloud_fake_save(x->cp, &eb);
	assert_non_null(js);
	y->now = x->now;
	assert_int_equal(kp_cloud_fake_restore(y->cp, js, &eb), KP_OK);

	/* same table */
	assert_int_equal(kp_cloud_list(x->cp, &x->a, &l1, &n1, NULL), KP_CLOUD_OK);
	assert_int_equal(kp_cloud_list(y->cp, &y->a, &l2, &n2, NULL), KP_CLOUD_OK);
	assert_int_equal(n1, 4);
	assert_int_equal(n2, n1);
	for (int i = 0; i < n1; i++) {
		assert_string_equal(l2[i].provider_id, l1[i].provider_id);
		assert_string_equal(l2[i].nodeclaim, l1[i].nodeclaim);
		assert_string_equal(l2[i].nodepool, l1[i].nodepool);
		assert_string_equal(l2[i].instance_type, l1[i].instance_type);
		assert_string_equal(l2[i].zone, l1[i].zone);
		assert_string_equal(l2[i].image_id, l1[i].image_id);
		assert_int_equal(l2[i].captype, l1[i].captype);
		assert_true(l2[i].price == l1[i].price);
		assert_int_equal(l2[i].launched, l1[i].launched);
		assert_int_equal(l2[i].state, l1[i].state);
		assert_int_equal(l2[i].labels.n, l1[i].labels.n);
		for (int j = 0; j < l1[i].labels.n; j++) {
			assert_string_equal(l2[i].labels.kv[j].key, l1[i].labels.kv[j].key);
			assert_string_equal(l2[i].labels.kv[j].value, l1[i].labels.kv[j].value);
		}
		assert_memory_equal(&l2[i].capacity, &l1[i].capacity, sizeof(l1[i].capacity));
		assert_memory_equal(&l2[i].allocatable, &l1[i].allocatable, sizeof(l1[i].allocatable));
	}
	/* saving the restored state gives the same text */
	js2 = kp_cloud_fake_save(y->cp, &eb);
	assert_non_null(js2);
	assert_string_equal(js2, js);
	free(js2);

	/* drift survives */
	nc = claim(y, "nc-run", NULL);
	nc->provider_id = run.provider_id;
	assert_int_equal(kp_cloud_is_drifted(y->cp, nc, reason, sizeof(reason), &eb), KP_CLOUD_OK);
	assert_string_equal(reason, "AMIDrift");

	/* the poll bookkeeping survives: no duplicate RUNNING, pending and
	 * terminating instances still report, the never-booting one does not */
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(kp_cloud_fake_poll(y->cp, y->now, on_event, &ev), 0);
	y->now += 2000;
	assert_int_equal(kp_cloud_fake_poll(y->cp, y->now, on_event, &ev), 1);
	assert_string_equal(ev.last, pend.provider_id);
	y->now += 3000;
	assert_int_equal(kp_cloud_fake_poll(y->cp, y->now, on_event, &ev), 1);
	assert_int_equal(ev.last_kind, KP_CLOUD_FAKE_TERMINATED);
	assert_string_equal(ev.last, term.provider_id);
	assert_int_equal(state_of(y, never.provider_id), KP_INSTANCE_PENDING);

	/* the id generator continues where it was: both clouds make the same next id */
	nx = create_ok(x, claim(x, "nc-next", "m.small"));
	ny = create_ok(y, claim(y, "nc-next", "m.small"));
	assert_string_equal(nx.provider_id, ny.provider_id);
	assert_int_equal(kp_cloud_get(y->cp, run.provider_id, &y->a, &nx, NULL), KP_CLOUD_OK);

	/* a bad state changes nothing */
	assert_int_equal(kp_cloud_fake_restore(y->cp, "{", &eb), KP_ERR_INVALID);
	assert_int_equal(kp_cloud_fake_restore(y->cp, "{\"kind\":\"karpenter-c/fake-cloud\",\"version\":1,"
				"\"cluster\":\"other\",\"rng\":\"0000000000000001\",\"instances\":[]}", &eb),
			 KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "other"));
	assert_int_equal(kp_cloud_fake_restore(y->cp, "{\"kind\":\"karpenter-c/fake-cloud\",\"version\":1,"
				"\"cluster\":\"demo\",\"rng\":\"0000000000000001\",\"instances\":[{\"id\":5}]}", &eb),
			 KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "instances[0]"));
	assert_int_equal(kp_cloud_list(y->cp, &y->a, &l2, &n2, NULL), KP_CLOUD_OK);
	assert_int_equal(n2, 4);    /* run, never, pend, next (term is gone) */

	/* an empty state empties the table */
	assert_int_equal(kp_cloud_fake_restore(y->cp, "{\"kind\":\"karpenter-c/fake-cloud\",\"version\":1,"
				"\"cluster\":\"demo\",\"rng\":\"0000000000000001\",\"instances\":[]}", &eb), KP_OK);
	assert_int_equal(kp_cloud_list(y->cp, &y->a, &l2, &n2, NULL), KP_CLOUD_OK);
	assert_int_equal(n2, 0);
	free(js);
	fx_free(x);
	fx_free(y);
}

/* ---- catalogs ---- */

static void test_kwok_catalog(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = { 0 };
	struct kp_cloud *cp;
	struct kp_cloud_fake_opts o;
	struct kp_arena a;
	struct kp_nodeclaim nc = { 0 };
	struct kp_instance in;
	struct kp_req r;
	int64_t now = T0;
	const char *types[] = { "c-1x-amd64-linux", "c-2x-amd64-linux", "c-1x-arm64-linux" };
	const char *od[] = { "on-demand" };

	(void)state;
	kp_resnames_init(&rn);
	kp_arena_init(&a);
	assert_int_equal(kp_catalog_build_kwok(&cat, &rn, &eb), KP_OK);
	kp_cloud_fake_opts_init(&o);
	o.clock = test_clock;
	o.clock_arg = &now;
	o.resnames = &rn;
	assert_int_equal(kp_cloud_fake_new(&cat, &o, &cp, &eb), KP_OK);
	nc.name = "kwok-1";
	assert_int_equal(kp_req_make(&r, &a, KP_LABEL_INSTANCE_TYPE, KP_OP_IN, types, 3, 0, &eb), KP_OK);
	assert_int_equal(kp_reqs_add(&nc.reqs, &a, &r), KP_OK);
	nc.requests.v[KP_RES_CPU] = 1000;   /* c-1x has 900m allocatable */
	assert_int_equal(kp_cloud_create(cp, &nc, &a, &in, &eb), KP_CLOUD_OK);
	assert_string_equal(in.instance_type, "c-2x-amd64-linux");
	assert_string_equal(in.zone, "test-zone-a");
	assert_int_equal(in.captype, KP_CAP_SPOT);
	assert_provider_id(in.provider_id, "test-zone-a");
	assert_null(kp_labels_get(&in.labels, KP_LABEL_REGION));    /* kwok has no region */
	assert_string_equal(kp_labels_get(&in.labels, "karpenter.kwok.sh/instance-cpu"), "2");
	assert_null(in.nodepool);

	assert_int_equal(kp_req_make(&r, &a, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, od, 1, 0, &eb), KP_OK);
	assert_int_equal(kp_reqs_add(&nc.reqs, &a, &r), KP_OK);
	nc.requests.v[KP_RES_CPU] = 0;
	assert_int_equal(kp_cloud_create(cp, &nc, &a, &in, &eb), KP_CLOUD_OK);
	assert_int_equal(in.captype, KP_CAP_ON_DEMAND);
	/* c-1x amd64 and arm64 cost the same: amd64 wins by name */
	assert_string_equal(in.instance_type, "c-1x-amd64-linux");

	/* extended resources and names survive a save/restore with resnames */
	{
		char *js = kp_cloud_fake_save(cp, &eb);

		assert_non_null(js);
		assert_non_null(strstr(js, "\"ephemeral-storage\":"));
		assert_int_equal(kp_cloud_fake_restore(cp, js, &eb), KP_OK);
		free(js);
	}
	kp_cloud_destroy(cp);
	kp_arena_free(&a);
	kp_catalog_free(&cat);
}

static void test_aws_catalog(void **state)
{
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_errbuf eb = { 0 };
	struct kp_cloud *cp;
	struct kp_arena a;
	struct kp_nodeclaim nc = { 0 };
	struct kp_instance in;
	struct kp_req r;
	const char *types[] = { "m5.large", "m5.xlarge" };
	const char *od[] = { "on-demand" };
	kp_err rc;

	(void)state;
	kp_resnames_init(&rn);
	kp_arena_init(&a);
	rc = kp_catalog_open(&cat, &rn, NULL, "data", &eb);
	if (rc)
		fprintf(stderr, "aws catalog: %s\n", eb.msg);
	assert_int_equal(rc, KP_OK);
	assert_int_equal(kp_cloud_fake_new(&cat, NULL, &cp, &eb), KP_OK);   /* defaults, real clock */
	nc.name = "aws-1";
	nc.nodepool = "default";
	assert_int_equal(kp_req_make(&r, &a, KP_LABEL_INSTANCE_TYPE, KP_OP_IN, types, 2, 0, &eb), KP_OK);
	assert_int_equal(kp_reqs_add(&nc.reqs, &a, &r), KP_OK);
	assert_int_equal(kp_req_make(&r, &a, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, od, 1, 0, &eb), KP_OK);
	assert_int_equal(kp_reqs_add(&nc.reqs, &a, &r), KP_OK);
	assert_int_equal(kp_cloud_create(cp, &nc, &a, &in, &eb), KP_CLOUD_OK);
	assert_string_equal(in.instance_type, "m5.large");
	assert_int_equal(strncmp(in.provider_id, "aws:///us-east-1", 16), 0);
	assert_string_equal(kp_labels_get(&in.labels, KP_LABEL_REGION), "us-east-1");
	assert_string_equal(kp_labels_get(&in.labels, KP_LABEL_ZONE), in.zone);
	assert_true(in.price > 0.05 && in.price < 0.2);
	assert_int_equal(in.state, KP_INSTANCE_PENDING);            /* 2 s default delay */
	kp_cloud_destroy(cp);
	kp_arena_free(&a);
	kp_catalog_free(&cat);
}

/* ---- threads ---- */

struct thr {
	struct kp_cloud *cp;
	int64_t *now;
	pthread_mutex_t *clock_mu;
	int created, deleted, running, terminated;
};

static int count_cb(void *ctx, enum kp_cloud_fake_event ev, const struct kp_instance *inst)
{
	struct thr *t = ctx;

	(void)inst;
	if (ev == KP_CLOUD_FAKE_RUNNING)
		t->running++;
	else
		t->terminated++;
	return 0;
}

static void *worker(void *arg)
{
	struct thr *t = arg;
	struct kp_arena a;
	struct kp_nodeclaim nc = { 0 };
	struct kp_instance in;

	kp_arena_init(&a);
	nc.name = "nc-thread";
	for (int i = 0; i < 300; i++) {
		if (kp_cloud_create(t->cp, &nc, &a, &in, NULL) == KP_CLOUD_OK) {
			t->created++;
			if (i % 2 == 0 && kp_cloud_delete(t->cp, in.provider_id, NULL) == KP_CLOUD_OK)
				t->deleted++;
		}
		if (i % 50 == 49) {
			kp_arena_free(&a);
			kp_arena_init(&a);
		}
	}
	kp_arena_free(&a);
	return NULL;
}

static void test_threads(void **state)
{
	struct kp_cloud_fake_opts o;
	struct fx *x;
	struct thr t = { 0 };
	pthread_t th;
	struct kp_instance *all;
	int n;

	(void)state;
	kp_cloud_fake_opts_init(&o);
	o.launch_delay_ms = 0;
	x = fx_new_opts(&o);
	t.cp = x->cp;
	assert_int_equal(pthread_create(&th, NULL, worker, &t), 0);
	for (int i = 0; i < 200; i++)
		assert_true(kp_cloud_fake_poll(x->cp, x->now, count_cb, &t) >= 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	while (kp_cloud_fake_poll(x->cp, x->now, count_cb, &t) > 0)
		;
	assert_int_equal(t.created, 300);
	assert_int_equal(t.deleted, 150);
	assert_int_equal(kp_cloud_list(x->cp, &x->a, &all, &n, NULL), KP_CLOUD_OK);
	assert_int_equal(n, 150);
	/* every RUNNING report of a deleted instance was followed by TERMINATED */
	assert_int_equal(t.running - t.terminated, 150);
	fx_free(x);
}

/* ---- helpers in cloud.c ---- */

static void test_helpers(void **state)
{
	struct kp_arena a;
	struct kp_instance src = { 0 }, dst;
	struct kp_errbuf eb = { 0 };

	(void)state;
	assert_string_equal(kp_cloud_err_str(KP_CLOUD_OK), "ok");
	assert_string_equal(kp_cloud_err_str(KP_CLOUD_NOT_FOUND), "not found");
	assert_string_equal(kp_cloud_err_str(KP_CLOUD_INSUFFICIENT_CAPACITY), "insufficient capacity");
	assert_string_equal(kp_cloud_err_str(KP_CLOUD_NODECLASS_NOT_READY), "node class not ready");
	assert_string_equal(kp_cloud_err_str(KP_CLOUD_CREATE_ERROR), "create error");
	assert_string_equal(kp_cloud_err_str(KP_CLOUD_TRANSIENT), "transient error");
	assert_string_equal(kp_cloud_err_str(KP_CLOUD_INTERNAL), "internal error");
	assert_string_equal(kp_cloud_err_str((enum kp_cloud_err)99), "unknown cloud error");
	assert_string_equal(kp_instance_state_name(KP_INSTANCE_PENDING), "pending");
	assert_string_equal(kp_instance_state_name(KP_INSTANCE_TERMINATED), "terminated");
	assert_int_equal(kp_cloud_errf(&eb, KP_CLOUD_TRANSIENT, "describe instances: %s", "throttled"),
			 KP_CLOUD_TRANSIENT);
	assert_string_equal(eb.msg, "describe instances: throttled");
	assert_int_equal(eb.code, KP_ERR_IO);
	assert_int_equal(kp_cloud_errf(NULL, KP_CLOUD_NOT_FOUND, "x"), KP_CLOUD_NOT_FOUND);

	kp_arena_init(&a);
	src.provider_id = "aws:///z/i-1";
	src.zone = "z";
	src.price = 1.5;
	assert_int_equal(kp_labels_set(&src.labels, &a, "k", "v"), KP_OK);
	assert_int_equal(kp_instance_copy(&dst, &a, &src), KP_OK);
	assert_string_equal(dst.provider_id, "aws:///z/i-1");
	assert_true(dst.provider_id != src.provider_id);
	assert_null(dst.nodeclaim);
	assert_string_equal(kp_labels_get(&dst.labels, "k"), "v");
	assert_true(dst.labels.kv != src.labels.kv);
	assert_true(dst.price == 1.5);
	kp_arena_free(&a);
	kp_cloud_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cheapest_offering),
		cmocka_unit_test(test_ties_by_name_then_zone),
		cmocka_unit_test(test_spot_preferred),
		cmocka_unit_test(test_requirements_respected),
		cmocka_unit_test(test_requests_must_fit),
		cmocka_unit_test(test_ice_fallback),
		cmocka_unit_test(test_reservation_count),
		cmocka_unit_test(test_subnet_selector_terms),
		cmocka_unit_test(test_default_subnets),
		cmocka_unit_test(test_launch_delay),
		cmocka_unit_test(test_never_registers_and_slow_boots),
		cmocka_unit_test(test_delete_then_not_found),
		cmocka_unit_test(test_list_excludes_terminated),
		cmocka_unit_test(test_poll_each_transition_once),
		cmocka_unit_test(test_poll_retry_running),
		cmocka_unit_test(test_poll_reentrant),
		cmocka_unit_test(test_fault_injection),
		cmocka_unit_test(test_drift),
		cmocka_unit_test(test_save_restore_round_trip),
		cmocka_unit_test(test_kwok_catalog),
		cmocka_unit_test(test_aws_catalog),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
