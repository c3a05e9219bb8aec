/*
 * kwok.c - Karpenter's kwok catalog (kwok/tools/gen_instance_types.go and
 * kwok/cloudprovider/helpers.go), built in memory.
 *
 * 144 types: cpu {1,2,4,...,256} x memory factor {2 c, 4 s, 8 m} GiB per
 * cpu x os {linux, windows} x arch {amd64, arm64}, named
 * <family>-<cpu>x-<arch>-<os>. Capacity cpu, memory, pods = min(16 cpu,
 * 1024), ephemeral-storage 20Gi; kube-reserved 100m / 10Mi. Eight offerings
 * each, zones test-zone-a..d x {spot, on-demand}, all available; on-demand
 * price 0.025 per cpu + 0.001 per 1e9 bytes of memory, spot 0.7 x that.
 * Labels: instance-type, arch, os and karpenter.kwok.sh/instance-size
 * (the cpu count: kwok names are not AWS-style), -family, -cpu, -memory
 * (canonical quantity, "2Gi", "2Ti"). No region label, as in kwok.
 *
 * Invariants: all strings live in cat->arena. Cost: O(types), no I/O.
 */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog_io.h"

#define KWOK_LABEL(x) "karpenter.kwok.sh/" x

static const int kwok_cpus[] = {1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192, 256};
static const int kwok_mem_factors[] = {2, 4, 8};
static const char *const kwok_oses[] = {"linux", "windows"};
static const char *const kwok_arches[] = {"amd64", "arm64"};
static const char *const kwok_zones[] = {"test-zone-a", "test-zone-b", "test-zone-c", "test-zone-d"};

static const char *kwok_family(int factor)
{
	switch (factor) {
	case 2: return "c";   /* cpu */
	case 4: return "s";   /* standard */
	case 8: return "m";   /* memory */
	}
	return "e";           /* exotic */
}

static kp_err kwok_type(struct kp_catalog *cat, const struct kp_resnames *rn, int cpu, int factor,
			const char *os, const char *arch, struct kp_errbuf *eb)
{
	struct kp_arena *a = &cat->arena;
	struct kp_itype *it = kp_arena_alloc(a, sizeof(*it));
	const char *family = kwok_family(factor), *cpu_s, *mem_s;
	int64_t mem = (int64_t)cpu * factor << 30;
	double od;
	char q[64];
	kp_err rc;

	if (!it)
		goto nomem;
	it->name = kp_arena_printf(a, "%s-%dx-%s-%s", family, cpu, arch, os);
	cpu_s = kp_arena_printf(a, "%d", cpu);
	mem_s = kp_arena_strdup(a, kp_qty_format(mem, KP_QTY_UNIT, kp_res_style(rn, KP_RES_MEMORY), q, sizeof(q)));
	if (!it->name || !cpu_s || !mem_s)
		goto nomem;
	if (kp_labels_set(&it->labels, a, KP_LABEL_INSTANCE_TYPE, it->name) ||
	    kp_labels_set(&it->labels, a, KP_LABEL_ARCH, arch) || kp_labels_set(&it->labels, a, KP_LABEL_OS, os) ||
	    kp_labels_set(&it->labels, a, KWOK_LABEL("instance-size"), cpu_s) ||
	    kp_labels_set(&it->labels, a, KWOK_LABEL("instance-family"), family) ||
	    kp_labels_set(&it->labels, a, KWOK_LABEL("instance-cpu"), cpu_s) ||
	    kp_labels_set(&it->labels, a, KWOK_LABEL("instance-memory"), mem_s))
		goto nomem;

	it->capacity.v[KP_RES_CPU] = (int64_t)cpu * 1000;
	it->capacity.v[KP_RES_MEMORY] = mem;
	it->capacity.v[KP_RES_PODS] = cpu * 16 > 1024 ? 1024 : cpu * 16;
	it->capacity.v[KP_RES_EPHEMERAL] = 20LL << 30;
	it->overhead.kube_reserved.v[KP_RES_CPU] = 100;
	it->overhead.kube_reserved.v[KP_RES_MEMORY] = 10LL << 20;

	/* same double arithmetic as the generator: 0.025*cpu + 0.001*bytes/1e9 */
	od = 0.025 * (double)cpu + 0.001 * (double)mem / 1e9;
	it->noff = (int)KP_ARRAY_LEN(kwok_zones) * 2;
	it->off = kp_arena_calloc(a, (size_t)it->noff, sizeof(*it->off));
	if (!it->off)
		goto nomem;
	for (size_t z = 0; z < KP_ARRAY_LEN(kwok_zones); z++) {
		it->off[2 * z] = (struct kp_offering){ .zone = kwok_zones[z], .captype = KP_CAP_SPOT,
						       .price = od * .7, .available = true };
		it->off[2 * z + 1] = (struct kp_offering){ .zone = kwok_zones[z], .captype = KP_CAP_ON_DEMAND,
							   .price = od, .available = true };
	}
	rc = kp_itype_finish(it, a, eb);
	if (rc) {
		kp_err_prefix(eb, "kwok: ");
		return rc;
	}
	if (kp_catalog_add(cat, it))
		goto nomem;
	return KP_OK;
nomem:
	return kp_errf(eb, KP_ERR_NOMEM, "kwok: out of memory");
}

kp_err kp_catalog_build_kwok(struct kp_catalog *cat, struct kp_resnames *rn, struct kp_errbuf *eb)
{
	kp_err rc;

	kp_catalog_init(cat);
	cat->name = "kwok";
	cat->region = NULL;
	for (size_t c = 0; c < KP_ARRAY_LEN(kwok_cpus); c++)
		for (size_t m = 0; m < KP_ARRAY_LEN(kwok_mem_factors); m++)
			for (size_t o = 0; o < KP_ARRAY_LEN(kwok_oses); o++)
				for (size_t r = 0; r < KP_ARRAY_LEN(kwok_arches); r++) {
					rc = kwok_type(cat, rn, kwok_cpus[c], kwok_mem_factors[m], kwok_oses[o],
						       kwok_arches[r], eb);
					if (rc)
						return rc;
				}
	kp_catalog_sort(cat);
	return KP_OK;
}
