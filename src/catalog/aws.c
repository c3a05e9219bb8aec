/*
 * aws.c - the built-in AWS catalog: EC2 instance types of one region as
 * Karpenter's AWS provider resolves them for an AL2023 EC2NodeClass with
 * default settings (pkg/providers/instancetype/types.go, offering/).
 *
 * Inputs, all under <datadir>/aws/ (see data/README.md):
 *   instance-types.csv               one row per type (DescribeInstanceTypes facts)
 *   instance-type-zones-<region>.csv zones offering each type
 *   ondemand-prices-<region>.csv     static on-demand price table
 *   network-bandwidth-mbps.csv       instance-network-bandwidth label
 *   vpc-limits.csv                   pod-eni capacity (trunking)
 * Types are kept as the provider's DescribeInstanceTypes filter does
 * (virtualization hvm, an x86_64 or arm64 architecture) and only when the
 * region offers them in at least one zone. Spot prices are estimates
 * (kp_spot_estimate, docs/catalog.md); formulas are in docs/allocatable.md.
 *
 * Invariants: every string a type keeps is copied into cat->arena; the CSV
 * buffers are released before returning. Cost: one pass over each file,
 * side tables sorted once (O(n log n)) and binary-searched per type.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_io.h"
#include "catalog/csv.h"

#define AWS_LABEL(x) "karpenter.k8s.aws/" x

#define AWS_DEFAULT_REGION "us-east-1"
#define AWS_VM_MEMORY_OVERHEAD 0.075            /* VM_MEMORY_OVERHEAD_PERCENT default */
#define AWS_ROOT_VOLUME_BYTES (20LL << 30)      /* DefaultEBS volume size: 20Gi */
#define AWS_MAX_ZONES 64
#define AWS_LABELS_PER_TYPE 40

/* ---- formulas ---- */

int64_t kp_catalog_aws_memory_mib(int64_t mib, bool first_arch_arm64)
{
	return kp_catalog_aws_memory_mib_vm(mib, first_arch_arm64, AWS_VM_MEMORY_OVERHEAD);
}

int64_t kp_catalog_aws_memory_mib_vm(int64_t mib, bool first_arch_arm64, double vm_overhead)
{
	/* Graviton reserves 64 MiB of CMA memory; then the VM overhead is
	 * taken off, computed in floating point on bytes as the provider does. */
	double bytes, overhead;

	if (first_arch_arm64)
		mib -= 64;
	bytes = (double)(mib * 1024 * 1024);
	overhead = ceil(bytes * vm_overhead / 1024 / 1024);
	return mib - (int64_t)overhead;
}

int64_t kp_catalog_aws_eni_pods(int64_t enis, int64_t ipv4_per_eni, int64_t reserved_enis)
{
	int64_t usable = enis - reserved_enis;

	if (usable <= 0)
		return 0;
	return usable * (ipv4_per_eni - 1) + 2;
}

int64_t kp_catalog_aws_kube_memory(int64_t pods)
{
	return (11 * pods + 255) << 20;
}

int64_t kp_catalog_aws_kube_cpu_milli(int64_t vcpus)
{
	static const struct {
		int64_t start, end;
		double pct;
	} ranges[] = {
		{0, 1000, 0.06},
		{1000, 2000, 0.01},
		{2000, 4000, 0.005},
		{4000, (int64_t)1 << 31, 0.0025},
	};
	int64_t cpu = vcpus * 1000, total = 0;

	for (size_t i = 0; i < KP_ARRAY_LEN(ranges); i++) {
		double r;

		if (cpu < ranges[i].start)
			continue;
		r = (double)(ranges[i].end - ranges[i].start);
		if (cpu < ranges[i].end)
			r = (double)(cpu - ranges[i].start);
		total += (int64_t)(r * ranges[i].pct);   /* truncated per range */
	}
	return total;
}

int64_t kp_catalog_aws_eviction_storage(int64_t bytes)
{
	return (int64_t)ceil((double)bytes / 100 * 10);
}

/* ---- requirements beyond the labels ---- */

/* computeRequirements starts these as DoesNotExist and inserts a value only
 * when the type has the fact; with no capacity reservation the reservation
 * keys stay DoesNotExist too. */
static const char *const aws_optional_keys[] = {
	KP_LABEL_WINDOWS_BUILD,
	AWS_LABEL("capacity-reservation-id"),
	AWS_LABEL("capacity-reservation-interruptible"),
	AWS_LABEL("capacity-reservation-type"),
	AWS_LABEL("instance-accelerator-count"),
	AWS_LABEL("instance-accelerator-manufacturer"),
	AWS_LABEL("instance-accelerator-name"),
	AWS_LABEL("instance-capability-flex"),
	AWS_LABEL("instance-category"),
	AWS_LABEL("instance-cpu-manufacturer"),
	AWS_LABEL("instance-cpu-sustained-clock-speed-mhz"),
	AWS_LABEL("instance-ebs-bandwidth"),
	AWS_LABEL("instance-family"),
	AWS_LABEL("instance-generation"),
	AWS_LABEL("instance-gpu-count"),
	AWS_LABEL("instance-gpu-manufacturer"),
	AWS_LABEL("instance-gpu-memory"),
	AWS_LABEL("instance-gpu-name"),
	AWS_LABEL("instance-local-nvme"),
	AWS_LABEL("instance-network-bandwidth"),
	AWS_LABEL("instance-size"),
};

bool kp_catalog_is_aws_type(const struct kp_itype *it)
{
	for (int i = 0; i < it->labels.n; i++)
		if (strncmp(it->labels.kv[i].key, AWS_LABEL(""), sizeof(AWS_LABEL("")) - 1) == 0)
			return true;
	return false;
}

kp_err kp_catalog_aws_requirements(struct kp_itype *it, struct kp_arena *a, struct kp_errbuf *eb)
{
	static const char *const tenancy[] = {"default", "dedicated"};
	size_t want = (size_t)it->reqs.n + KP_ARRAY_LEN(aws_optional_keys) + 1;
	struct kp_req r;
	kp_err rc;

	/* one exact-size copy instead of repeated doubling */
	if ((size_t)it->reqs.cap < want) {
		struct kp_req *nr = kp_arena_grow(a, it->reqs.r, (size_t)it->reqs.n, want, sizeof(*nr));
		if (!nr)
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		it->reqs.r = nr;
		it->reqs.cap = (int)want;
	}
	for (size_t i = 0; i < KP_ARRAY_LEN(aws_optional_keys); i++) {
		if (kp_labels_has(&it->labels, aws_optional_keys[i]))
			continue;
		rc = kp_req_make(&r, a, aws_optional_keys[i], KP_OP_DOESNOTEXIST, NULL, 0, 0, eb);
		if (!rc)
			rc = kp_reqs_add(&it->reqs, a, &r);
		if (rc)
			return rc == KP_ERR_NOMEM ? kp_errf(eb, rc, "out of memory") : rc;
	}
	rc = kp_req_make(&r, a, AWS_LABEL("instance-tenancy"), KP_OP_IN, tenancy, 2, 0, eb);
	if (!rc)
		rc = kp_reqs_add(&it->reqs, a, &r);
	return rc == KP_ERR_NOMEM ? kp_errf(eb, rc, "out of memory") : rc;
}

/* ---- spot estimate ---- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* MurmurHash3's 64-bit finalizer: spreads FNV's weak low bits. */
static uint64_t fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

#define FNV_OFFSET 14695981039346656037ULL

double kp_spot_estimate(const char *itype, const char *family, const char *zone, double od_price)
{
	uint64_t hf = fmix64(fnv1a(FNV_OFFSET, family));
	uint64_t hz = fmix64(fnv1a(fnv1a(fnv1a(FNV_OFFSET, itype), "/"), zone));
	double ratio = 0.30 + 0.15 * (double)(hf % 1001) / 1000.0;           /* 0.30 .. 0.45 */
	double adj = 1.0 + 0.08 * ((double)(hz % 2001) / 1000.0 - 1.0);      /* 0.92 .. 1.08 */
	double p;

	if (!(od_price > 0))
		return 0;
	p = round(od_price * ratio * adj * 1e6) / 1e6;
	return p < 1e-6 ? 1e-6 : p;
}

/* ---- side tables: instance type -> one or two fields ---- */

struct aws_row {
	const char *key;
	const char *a, *b;
	int line;
};

struct aws_table {
	struct kp_csv csv;
	int n;
	struct aws_row *rows;   /* malloc'ed, sorted by key */
};

static int row_cmp(const void *x, const void *y)
{
	return strcmp(((const struct aws_row *)x)->key, ((const struct aws_row *)y)->key);
}

/* Loads dir/file keyed by column key with value columns a and b (b may be NULL). */
static kp_err table_load(struct aws_table *t, const char *path, const char *key, const char *a,
			 const char *b, struct kp_errbuf *eb)
{
	const char *names[3] = {key, a, b};
	int idx[3], ncol = b ? 3 : 2, cap = 0;
	bool got;
	kp_err rc;

	rc = kp_csv_open(&t->csv, path, KP_CSV_MAX_BYTES, eb);
	if (rc)
		return rc;
	rc = kp_csv_columns(&t->csv, names, idx, ncol, eb);
	if (rc)
		return rc;
	while (!(rc = kp_csv_next(&t->csv, &got, eb)) && got) {
		struct aws_row *r;

		if (t->n == cap) {
			int ncap = cap ? cap * 2 : 1024;
			struct aws_row *p = realloc(t->rows, (size_t)ncap * sizeof(*p));
			if (!p)
				return kp_errf(eb, KP_ERR_NOMEM, "%s: out of memory", path);
			t->rows = p;
			cap = ncap;
		}
		r = &t->rows[t->n++];
		r->key = t->csv.field[idx[0]];
		r->a = t->csv.field[idx[1]];
		r->b = b ? t->csv.field[idx[2]] : NULL;
		r->line = t->csv.line;
	}
	if (rc)
		return rc;
	if (t->n)
		qsort(t->rows, (size_t)t->n, sizeof(*t->rows), row_cmp);
	for (int i = 1; i < t->n; i++)
		if (strcmp(t->rows[i - 1].key, t->rows[i].key) == 0)
			return kp_errf(eb, KP_ERR_INVALID, "%s:%d: duplicate instance type \"%s\"", path,
				       t->rows[i].line > t->rows[i - 1].line ? t->rows[i].line : t->rows[i - 1].line,
				       t->rows[i].key);
	return KP_OK;
}

static const struct aws_row *table_get(const struct aws_table *t, const char *key)
{
	struct aws_row k = {.key = key};

	if (!t->n)
		return NULL;
	return bsearch(&k, t->rows, (size_t)t->n, sizeof(*t->rows), row_cmp);
}

static void table_free(struct aws_table *t)
{
	kp_csv_close(&t->csv);
	free(t->rows);
	t->rows = NULL;
	t->n = 0;
}

/* ---- one instance type ---- */

enum {
	C_NAME, C_ARCH, C_VIRT, C_VCPU, C_MEM, C_CPU_MFR, C_CLOCK,
	C_GPU_COUNT, C_GPU_MFR, C_GPU_NAME, C_GPU_MEM, C_GPU_ONE,
	C_NEURON_NAME, C_NEURON_COUNT, C_NEURON_CORES, C_ACCEL,
	C_ENIS, C_IPV4, C_EFA, C_ENCRYPT, C_HYPERVISOR, C_NITRO, C_USAGE,
	C_EBS_SUPPORT, C_EBS_MBPS, C_LOCAL_GB, C_NVME,
	C_COUNT
};

static const char *const type_cols[C_COUNT] = {
	"name", "architectures", "virtualization_types", "vcpu", "memory_mib", "cpu_manufacturer",
	"sustained_clock_mhz", "gpu_count", "gpu_manufacturer", "gpu_name", "gpu_memory_mib_each",
	"gpu_label_eligible", "neuron_device_name", "neuron_device_count", "neuron_cores_per_device",
	"inference_accelerator", "default_card_max_enis", "ipv4_per_eni", "max_efa_interfaces",
	"encryption_in_transit", "hypervisor", "nitro_enclaves", "usage_classes",
	"ebs_optimized_support", "ebs_max_bandwidth_mbps", "local_storage_gb", "local_nvme_support",
};

struct aws_load {
	struct kp_catalog *cat;
	struct kp_arena *a;
	const char *region;
	struct kp_csv types;
	int col[C_COUNT];
	struct aws_table zones, prices, bandwidth, vpc;
	int nzones;
	const char *zone[AWS_MAX_ZONES];   /* interned zone names (arena) */
	struct kp_catalog_aws_opts opts;
};

/* True iff list (separated by ';') contains item. */
static bool list_has(const char *list, const char *item)
{
	size_t n = strlen(item);

	for (const char *p = list; *p;) {
		const char *e = strchr(p, ';');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && memcmp(p, item, n) == 0)
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

/* Kubernetes architecture of the first supported architecture the
 * provider knows (x86_64 -> amd64, arm64), or NULL. */
static const char *kube_arch(const char *list)
{
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ';');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 6 && memcmp(p, "x86_64", 6) == 0)
			return "amd64";
		if (len == 5 && memcmp(p, "arm64", 5) == 0)
			return "arm64";
		if (!e)
			break;
		p = e + 1;
	}
	return NULL;
}

static bool first_is(const char *list, const char *item)
{
	size_t n = strlen(item);
	return strncmp(list, item, n) == 0 && (list[n] == '\0' || list[n] == ';');
}

/* The provider's lowerKabobCase: lower case, spaces to dashes. */
static char *kebab(struct kp_arena *a, const char *s)
{
	char *p = kp_arena_strdup(a, s);

	if (!p)
		return NULL;
	for (char *q = p; *q; q++) {
		if (*q == ' ')
			*q = '-';
		else if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	}
	return p;
}

/* Category and generation as the provider's ^([a-z]+)(-[0-9]+tb)?([0-9]+).*\.
 * reads them: m5.large -> m/5, u-6tb1.metal -> u/1; false if no match. */
static bool parse_category(const char *name, size_t *cat_len, const char **gen, size_t *gen_len)
{
	size_t i = 0, j, k;

	while (name[i] >= 'a' && name[i] <= 'z')
		i++;
	if (i == 0)
		return false;
	j = i;
	if (name[j] == '-' && name[j + 1] >= '0' && name[j + 1] <= '9') {
		k = j + 1;
		while (name[k] >= '0' && name[k] <= '9')
			k++;
		if (name[k] == 't' && name[k + 1] == 'b' && name[k + 2] >= '0' && name[k + 2] <= '9')
			j = k + 2;
	}
	k = j;
	while (name[k] >= '0' && name[k] <= '9')
		k++;
	if (k == j || !strchr(name + k, '.'))
		return false;
	*cat_len = i;
	*gen = name + j;
	*gen_len = k - j;
	return true;
}

static kp_err field_i64(struct aws_load *L, int c, bool required, int64_t *out, struct kp_errbuf *eb)
{
	const char *s = L->types.field[L->col[c]];

	*out = 0;
	if (!*s && !required)
		return KP_OK;
	if (kp_parse_i64(s, out) || *out < 0)
		return kp_errf(eb, KP_ERR_INVALID, "%s:%d: %s: invalid count \"%s\"", L->types.name,
			       L->types.line, type_cols[c], s);
	return KP_OK;
}

static kp_err parse_price(const char *s, double *out)
{
	char *end;

	if (!*s)
		return KP_ERR_INVALID;
	errno = 0;
	*out = strtod(s, &end);
	if (*end || errno || !isfinite(*out) || *out < 0)
		return KP_ERR_INVALID;
	return KP_OK;
}

static const char *zone_intern(struct aws_load *L, const char *z, size_t n)
{
	for (int i = 0; i < L->nzones; i++)
		if (strlen(L->zone[i]) == n && memcmp(L->zone[i], z, n) == 0)
			return L->zone[i];
	if (L->nzones == AWS_MAX_ZONES)
		return NULL;
	L->zone[L->nzones] = kp_arena_strndup(L->a, z, n);
	return L->zone[L->nzones++];
}

#define SET(k, v)                                                  \
	do {                                                       \
		const char *v_ = (v);                              \
		if (!v_ || kp_labels_set(&it->labels, a, (k), v_)) \
			goto nomem;                                \
	} while (0)

static kp_err set_labels(struct aws_load *L, struct kp_itype *it, const char *arch, char **f,
			 struct kp_errbuf *eb)
{
	struct kp_arena *a = L->a;
	const char *name = it->name, *dot = strchr(name, '.'), *gen;
	const struct aws_row *bw;
	size_t clen, glen;

	it->labels.kv = kp_arena_calloc(a, AWS_LABELS_PER_TYPE, sizeof(*it->labels.kv));
	if (!it->labels.kv)
		goto nomem;
	it->labels.cap = AWS_LABELS_PER_TYPE;

	SET(KP_LABEL_INSTANCE_TYPE, name);
	SET(KP_LABEL_ARCH, arch);
	SET(KP_LABEL_OS, "linux");
	SET(KP_LABEL_REGION, L->region);
	SET(AWS_LABEL("instance-cpu"), kp_arena_strdup(a, f[L->col[C_VCPU]]));
	SET(AWS_LABEL("instance-memory"), kp_arena_strdup(a, f[L->col[C_MEM]]));
	SET(AWS_LABEL("instance-hypervisor"), kp_arena_strdup(a, f[L->col[C_HYPERVISOR]]));
	SET(AWS_LABEL("instance-encryption-in-transit-supported"),
	    strcmp(f[L->col[C_ENCRYPT]], "true") == 0 ? "true" : "false");
	SET(AWS_LABEL("nitro-sandbox"), strcmp(f[L->col[C_NITRO]], "supported") == 0 ? "true" : "false");

	if (parse_category(name, &clen, &gen, &glen)) {
		SET(AWS_LABEL("instance-category"), kp_arena_strndup(a, name, clen));
		SET(AWS_LABEL("instance-generation"), kp_arena_strndup(a, gen, glen));
	}
	if (dot && !strchr(dot + 1, '.')) {
		const char *family = kp_arena_strndup(a, name, (size_t)(dot - name));
		SET(AWS_LABEL("instance-family"), family);
		SET(AWS_LABEL("instance-size"), dot + 1);   /* name lives in the arena */
	}
	{
		size_t flen = dot ? (size_t)(dot - name) : strlen(name);
		const char *flex = memmem(name, flen, "-flex", 5);
		SET(AWS_LABEL("instance-capability-flex"), flex ? "true" : "false");
	}
	if (*f[L->col[C_NVME]] && strcmp(f[L->col[C_NVME]], "unsupported") != 0 && *f[L->col[C_LOCAL_GB]])
		SET(AWS_LABEL("instance-local-nvme"), kp_arena_strdup(a, f[L->col[C_LOCAL_GB]]));
	bw = table_get(&L->bandwidth, name);
	if (bw)
		SET(AWS_LABEL("instance-network-bandwidth"), kp_arena_strdup(a, bw->a));
	if (strcmp(f[L->col[C_GPU_ONE]], "true") == 0) {
		SET(AWS_LABEL("instance-gpu-name"), kebab(a, f[L->col[C_GPU_NAME]]));
		SET(AWS_LABEL("instance-gpu-manufacturer"), kebab(a, f[L->col[C_GPU_MFR]]));
		SET(AWS_LABEL("instance-gpu-count"), kp_arena_strdup(a, f[L->col[C_GPU_COUNT]]));
		SET(AWS_LABEL("instance-gpu-memory"), kp_arena_strdup(a, f[L->col[C_GPU_MEM]]));
	}
	if (*f[L->col[C_NEURON_NAME]]) {
		SET(AWS_LABEL("instance-accelerator-name"), kebab(a, f[L->col[C_NEURON_NAME]]));
		SET(AWS_LABEL("instance-accelerator-manufacturer"), "aws");
		SET(AWS_LABEL("instance-accelerator-count"), kp_arena_strdup(a, f[L->col[C_NEURON_COUNT]]));
	} else if (*f[L->col[C_ACCEL]]) {
		/* "Manufacturer/Name x<count>" written as "Qualcomm/Qualcomm AI100x8" */
		const char *s = f[L->col[C_ACCEL]], *slash = strchr(s, '/'), *x = strrchr(s, 'x');
		int64_t count;

		if (!slash || !x || x < slash || kp_parse_i64(x + 1, &count) || count < 0)
			return kp_errf(eb, KP_ERR_INVALID, "%s:%d: %s: cannot parse \"%s\"", L->types.name,
				       L->types.line, type_cols[C_ACCEL], s);
		SET(AWS_LABEL("instance-accelerator-name"),
		    kebab(a, kp_arena_strndup(a, slash + 1, (size_t)(x - slash - 1))));
		SET(AWS_LABEL("instance-accelerator-manufacturer"),
		    kebab(a, kp_arena_strndup(a, s, (size_t)(slash - s))));
		SET(AWS_LABEL("instance-accelerator-count"), kp_arena_strdup(a, x + 1));
	}
	SET(AWS_LABEL("instance-cpu-manufacturer"), kebab(a, f[L->col[C_CPU_MFR]]));
	SET(AWS_LABEL("instance-cpu-sustained-clock-speed-mhz"),
	    *f[L->col[C_CLOCK]] ? kp_arena_strdup(a, f[L->col[C_CLOCK]]) : "0");
	if (strcmp(f[L->col[C_EBS_SUPPORT]], "default") == 0 && *f[L->col[C_EBS_MBPS]])
		SET(AWS_LABEL("instance-ebs-bandwidth"), kp_arena_strdup(a, f[L->col[C_EBS_MBPS]]));
	return KP_OK;
nomem:
	return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
}
#undef SET

static kp_err set_resources(struct aws_load *L, struct kp_itype *it, char **f, struct kp_errbuf *eb)
{
	int64_t vcpu, mib, gpus, ndev, ncores, enis, ipv4, efa, pods;
	const struct aws_row *vpc = table_get(&L->vpc, it->name);
	struct kp_res *cap = &it->capacity;
	const char *mfr = f[L->col[C_GPU_MFR]];
	kp_err rc;

	if ((rc = field_i64(L, C_VCPU, true, &vcpu, eb)) || (rc = field_i64(L, C_MEM, true, &mib, eb)) ||
	    (rc = field_i64(L, C_GPU_COUNT, false, &gpus, eb)) ||
	    (rc = field_i64(L, C_NEURON_COUNT, false, &ndev, eb)) ||
	    (rc = field_i64(L, C_NEURON_CORES, false, &ncores, eb)) ||
	    (rc = field_i64(L, C_ENIS, true, &enis, eb)) || (rc = field_i64(L, C_IPV4, true, &ipv4, eb)) ||
	    (rc = field_i64(L, C_EFA, false, &efa, eb)))
		return rc;
	if (vcpu > 1000000 || mib > ((int64_t)1 << 40) || enis > 100000 || ipv4 > 100000 ||
	    gpus > 100000 || ndev > 100000 || ncores > 100000)
		return kp_errf(eb, KP_ERR_RANGE, "%s:%d: %s: value out of range", L->types.name,
			       L->types.line, it->name);

	/* --reserved-enis and --vm-memory-overhead-percent (ENILimitedPods,
	 * computeCapacity's memory) */
	pods = kp_catalog_aws_eni_pods(enis, ipv4, L->opts.reserved_enis);
	cap->v[KP_RES_CPU] = vcpu * 1000;
	cap->v[KP_RES_MEMORY] = kp_catalog_aws_memory_mib_vm(mib, first_is(f[L->col[C_ARCH]], "arm64"),
							     L->opts.vm_memory_overhead) << 20;
	cap->v[KP_RES_EPHEMERAL] = AWS_ROOT_VOLUME_BYTES;
	cap->v[KP_RES_PODS] = pods;
	if (strcmp(mfr, "NVIDIA") == 0)
		cap->v[KP_RES_NVIDIA_GPU] = gpus;
	else if (strcmp(mfr, "AMD") == 0)
		cap->v[KP_RES_AMD_GPU] = gpus;
	else if (strcmp(mfr, "Habana") == 0)
		cap->v[KP_RES_GAUDI] = gpus;
	if (*f[L->col[C_NEURON_NAME]]) {
		cap->v[KP_RES_NEURON] = ndev;
		cap->v[KP_RES_NEURONCORE] = ndev * ncores;
	}
	cap->v[KP_RES_EFA] = efa;
	if (vpc && strcmp(vpc->a, "true") == 0) {
		int64_t branch;
		if (kp_parse_i64(vpc->b, &branch) || branch < 0 || branch > 100000)
			return kp_errf(eb, KP_ERR_INVALID, "%s:%d: branch_enis_pod_eni: invalid count \"%s\"",
				       L->vpc.csv.name, vpc->line, vpc->b);
		cap->v[KP_RES_POD_ENI] = branch;
	}

	/* AL2023 defaults: kube-reserved by cores and ENI-limited pods (with
	 * no reserved ENIs), eviction-hard memory 100Mi and nodefs 10%. */
	it->overhead.kube_reserved.v[KP_RES_CPU] = kp_catalog_aws_kube_cpu_milli(vcpu);
	it->overhead.kube_reserved.v[KP_RES_MEMORY] = kp_catalog_aws_kube_memory(kp_catalog_aws_eni_pods(enis, ipv4, 0));
	it->overhead.kube_reserved.v[KP_RES_EPHEMERAL] = 1LL << 30;
	it->overhead.eviction_threshold.v[KP_RES_MEMORY] = 100LL << 20;
	it->overhead.eviction_threshold.v[KP_RES_EPHEMERAL] = kp_catalog_aws_eviction_storage(AWS_ROOT_VOLUME_BYTES);
	return KP_OK;
}

/* One offering per (zone, capacity type) the type supports; without an
 * on-demand price both kinds are unavailable, as the provider marks them. */
static kp_err set_offerings(struct aws_load *L, struct kp_itype *it, const char *zones, char **f,
			    struct kp_errbuf *eb)
{
	const char *usage = f[L->col[C_USAGE]], *family = kp_labels_get(&it->labels, AWS_LABEL("instance-family"));
	bool od = list_has(usage, "on-demand"), spot = list_has(usage, "spot");
	const struct aws_row *pr = table_get(&L->prices, it->name);
	double price = 0;
	bool priced = false;
	int nz = 1, k = 0;

	if (pr) {
		if (parse_price(pr->a, &price))
			return kp_errf(eb, KP_ERR_INVALID, "%s:%d: usd_per_hour: invalid price \"%s\"",
				       L->prices.csv.name, pr->line, pr->a);
		priced = price > 0;
	}
	for (const char *p = zones; *p; p++)
		nz += *p == ';';
	it->off = kp_arena_calloc(L->a, (size_t)nz * 2, sizeof(*it->off));
	if (!it->off)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	for (const char *p = zones; *p;) {
		const char *e = strchr(p, ';');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		const char *zone;

		if (len) {
			zone = zone_intern(L, p, len);
			if (!zone)
				return kp_errf(eb, KP_ERR_LIMIT, "%s: more than %d zones", L->zones.csv.name,
					       AWS_MAX_ZONES);
			if (od)
				it->off[k++] = (struct kp_offering){ .zone = zone, .captype = KP_CAP_ON_DEMAND,
								     .price = priced ? price : 0, .available = priced };
			if (spot)
				it->off[k++] = (struct kp_offering){
					.zone = zone, .captype = KP_CAP_SPOT,
					.price = priced ? kp_spot_estimate(it->name, family ? family : it->name, zone, price) : 0,
					.available = priced };
		}
		if (!e)
			break;
		p = e + 1;
	}
	it->noff = k;
	return KP_OK;
}

static kp_err aws_type(struct aws_load *L, struct kp_errbuf *eb)
{
	char **f = L->types.field;
	const char *name = f[L->col[C_NAME]], *arch = kube_arch(f[L->col[C_ARCH]]);
	const struct aws_row *z;
	struct kp_itype *it;
	kp_err rc;

	/* DescribeInstanceTypes filters: hvm and x86_64 or arm64 */
	if (!arch || !list_has(f[L->col[C_VIRT]], "hvm"))
		return KP_OK;
	z = table_get(&L->zones, name);
	if (!z || !*z->a)
		return KP_OK;
	if (!*name)
		return kp_errf(eb, KP_ERR_INVALID, "%s:%d: empty name", L->types.name, L->types.line);

	it = kp_arena_alloc(L->a, sizeof(*it));
	if (!it || !(it->name = kp_arena_strdup(L->a, name)))
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	if ((rc = set_labels(L, it, arch, f, eb)) || (rc = set_resources(L, it, f, eb)) ||
	    (rc = set_offerings(L, it, z->a, f, eb)))
		return rc;
	rc = kp_itype_finish(it, L->a, eb);
	if (!rc)
		rc = kp_catalog_aws_requirements(it, L->a, eb);
	if (rc) {
		kp_err_prefix(eb, "%s:%d: ", L->types.name, L->types.line);
		return rc;
	}
	rc = kp_catalog_add(L->cat, it);
	if (rc)
		return kp_errf(eb, rc, "out of memory");
	return KP_OK;
}

void kp_catalog_aws_opts_init(struct kp_catalog_aws_opts *o)
{
	o->vm_memory_overhead = AWS_VM_MEMORY_OVERHEAD;
	o->reserved_enis = 0;
}

kp_err kp_catalog_load_aws(struct kp_catalog *cat, struct kp_resnames *rn, const char *datadir,
			   const char *region, struct kp_errbuf *eb)
{
	struct kp_catalog_aws_opts o;

	kp_catalog_aws_opts_init(&o);
	return kp_catalog_load_aws_opts(cat, rn, datadir, region, &o, eb);
}

kp_err kp_catalog_load_aws_opts(struct kp_catalog *cat, struct kp_resnames *rn, const char *datadir,
				const char *region, const struct kp_catalog_aws_opts *o, struct kp_errbuf *eb)
{
	struct aws_load L;
	char path[4096];
	bool got;
	kp_err rc;

	(void)rn;   /* AWS resources are all well known */
	kp_catalog_init(cat);
	memset(&L, 0, sizeof(L));
	L.opts = *o;
	if (!(o->vm_memory_overhead >= 0 && o->vm_memory_overhead < 1) || o->reserved_enis < 0)
		return kp_errf(eb, KP_ERR_INVALID, "VM memory overhead %g (want 0 <= F < 1) or reserved ENIs %lld (want >= 0)",
			       o->vm_memory_overhead, (long long)o->reserved_enis);
	L.cat = cat;
	L.a = &cat->arena;
	if (!region)
		region = AWS_DEFAULT_REGION;
	if (!datadir)
		datadir = "data";
	if (!*region || strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
		return kp_errf(eb, KP_ERR_INVALID, "invalid region \"%s\"", region);
	L.region = kp_arena_strdup(L.a, region);
	cat->region = L.region;
	cat->name = kp_arena_printf(L.a, "aws-%s", region);
	if (!cat->region || !cat->name)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");

	snprintf(path, sizeof(path), "%s/aws/instance-type-zones-%s.csv", datadir, region);
	rc = table_load(&L.zones, path, "instance_type", "zones", NULL, eb);
	if (rc == KP_ERR_IO) {
		kp_err_prefix(eb, "no AWS catalog data for region %s: ", region);
		rc = KP_ERR_NOTFOUND;
		if (eb)
			eb->code = rc;
	}
	if (rc)
		goto out;
	snprintf(path, sizeof(path), "%s/aws/ondemand-prices-%s.csv", datadir, region);
	if ((rc = table_load(&L.prices, path, "instance_type", "usd_per_hour", NULL, eb)))
		goto out;
	snprintf(path, sizeof(path), "%s/aws/network-bandwidth-mbps.csv", datadir);
	if ((rc = table_load(&L.bandwidth, path, "instance_type", "network_bandwidth_mbps", NULL, eb)))
		goto out;
	snprintf(path, sizeof(path), "%s/aws/vpc-limits.csv", datadir);
	if ((rc = table_load(&L.vpc, path, "instance_type", "trunking_compatible", "branch_enis_pod_eni", eb)))
		goto out;

	snprintf(path, sizeof(path), "%s/aws/instance-types.csv", datadir);
	if ((rc = kp_csv_open(&L.types, path, KP_CSV_MAX_BYTES, eb)) ||
	    (rc = kp_csv_columns(&L.types, type_cols, L.col, C_COUNT, eb)))
		goto out;
	while (!(rc = kp_csv_next(&L.types, &got, eb)) && got)
		if ((rc = aws_type(&L, eb)))
			goto out;
	if (rc)
		goto out;
	if (cat->n == 0) {
		rc = kp_errf(eb, KP_ERR_NOTFOUND, "%s: no instance type offered in %s", path, region);
		goto out;
	}
	kp_catalog_sort(cat);
	for (int i = 1; i < cat->n; i++)
		if (strcmp(cat->types[i - 1]->name, cat->types[i]->name) == 0) {
			rc = kp_errf(eb, KP_ERR_INVALID, "%s: duplicate instance type \"%s\"", path,
				     cat->types[i]->name);
			goto out;
		}
out:
	kp_csv_close(&L.types);
	table_free(&L.vpc);
	table_free(&L.bandwidth);
	table_free(&L.prices);
	table_free(&L.zones);
	return rc;
}
