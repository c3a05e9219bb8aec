/*
 * resources.c - resource names and fixed resource vectors.
 *
 * A struct kp_resnames maps names to indices: the KP_RES_NWELLKNOWN fixed
 * names first, then extended resources in the order they were first seen, up
 * to KP_RES_MAX. Names are validated as Kubernetes qualified names
 * ([dns-subdomain/]name). Lookups are linear over at most KP_RES_MAX short
 * strings; loaders call them once per quantity, never in the scheduler's
 * inner loop.
 *
 * Vector arithmetic is entrywise over all KP_RES_MAX entries: O(KP_RES_MAX),
 * branch-light, never undefined on overflow (add and sub saturate).
 */
#include <string.h>

#include "karpenter/resources.h"

static const char *const wellknown[KP_RES_NWELLKNOWN] = {
	[KP_RES_CPU] = "cpu",
	[KP_RES_MEMORY] = "memory",
	[KP_RES_EPHEMERAL] = "ephemeral-storage",
	[KP_RES_PODS] = "pods",
	[KP_RES_NVIDIA_GPU] = "nvidia.com/gpu",
	[KP_RES_AMD_GPU] = "amd.com/gpu",
	[KP_RES_NEURON] = "aws.amazon.com/neuron",
	[KP_RES_NEURONCORE] = "aws.amazon.com/neuroncore",
	[KP_RES_GAUDI] = "habana.ai/gaudi",
	[KP_RES_EFA] = "vpc.amazonaws.com/efa",
	[KP_RES_POD_ENI] = "vpc.amazonaws.com/pod-eni",
	[KP_RES_PRIVATE_IPV4] = "vpc.amazonaws.com/PrivateIPv4Address",
	[KP_RES_HUGEPAGES_2MI] = "hugepages-2Mi",
	[KP_RES_HUGEPAGES_1GI] = "hugepages-1Gi",
};

#define HUGEPAGES_PREFIX "hugepages-"

void kp_resnames_init(struct kp_resnames *rn)
{
	memset(rn, 0, sizeof(*rn));
	for (int i = 0; i < KP_RES_NWELLKNOWN; i++)
		memcpy(rn->name[i], wellknown[i], strlen(wellknown[i]) + 1);
	rn->n = KP_RES_NWELLKNOWN;
}

int kp_resnames_find(const struct kp_resnames *rn, const char *name)
{
	if (!rn || !name)
		return -1;
	for (int i = 0; i < rn->n; i++)
		if (strcmp(rn->name[i], name) == 0)
			return i;
	return -1;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* DNS-1123 subdomain: lower-case alphanumerics, '-' and '.', starting and
 * ending alphanumeric, at most 253 characters. */
static bool dns_subdomain_ok(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return is_alnum(s[0]) && is_alnum(s[n - 1]);
}

/* Qualified name part: alphanumerics, '-', '_' and '.', starting and ending
 * alphanumeric, at most 63 characters. */
static bool name_part_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!(is_alnum(c) || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return is_alnum(s[0]) && is_alnum(s[n - 1]);
}

static bool resname_ok(const char *name)
{
	const char *slash = strchr(name, '/');

	if (!slash)
		return name_part_ok(name, strlen(name));
	return dns_subdomain_ok(name, (size_t)(slash - name)) &&
	       name_part_ok(slash + 1, strlen(slash + 1));
}

int kp_resnames_index(struct kp_resnames *rn, const char *name, struct kp_errbuf *eb)
{
	int i = kp_resnames_find(rn, name);

	if (i >= 0)
		return i;
	if (!name) {
		kp_errf(eb, KP_ERR_INVALID, "invalid resource name (null)");
		return -1;
	}
	if (strlen(name) >= KP_RES_NAME_MAX) {
		kp_errf(eb, KP_ERR_LIMIT, "resource name \"%.64s...\" is longer than %d characters",
			name, KP_RES_NAME_MAX - 1);
		return -1;
	}
	if (!resname_ok(name)) {
		kp_errf(eb, KP_ERR_INVALID,
			"invalid resource name \"%s\": must be a qualified name such as example.com/device", name);
		return -1;
	}
	if (rn->n >= KP_RES_MAX) {
		kp_errf(eb, KP_ERR_LIMIT, "too many resource names: cannot add \"%s\", at most %d are supported",
			name, KP_RES_MAX);
		return -1;
	}
	i = rn->n++;
	memcpy(rn->name[i], name, strlen(name) + 1);
	return i;
}

int kp_res_scale(int idx)
{
	return idx == KP_RES_CPU ? KP_QTY_MILLI : KP_QTY_UNIT;
}

enum kp_qty_style kp_res_style(const struct kp_resnames *rn, int idx)
{
	switch (idx) {
	case KP_RES_MEMORY:
	case KP_RES_EPHEMERAL:
	case KP_RES_HUGEPAGES_2MI:
	case KP_RES_HUGEPAGES_1GI:
		return KP_QTY_BINARY;
	default:
		break;
	}
	if (rn && idx >= KP_RES_NWELLKNOWN && idx < rn->n && idx < KP_RES_MAX &&
	    strncmp(rn->name[idx], HUGEPAGES_PREFIX, strlen(HUGEPAGES_PREFIX)) == 0)
		return KP_QTY_BINARY;
	return KP_QTY_DECIMAL;
}

kp_err kp_res_set_str(struct kp_res *r, int idx, const char *qty, struct kp_errbuf *eb)
{
	int64_t v;
	kp_err rc;

	if (idx < 0 || idx >= KP_RES_MAX)
		return kp_errf(eb, KP_ERR_INVALID, "resource index %d out of range", idx);
	rc = kp_qty_parse(qty, kp_res_scale(idx), &v, eb);
	if (rc)
		return rc;
	r->v[idx] = v;
	return KP_OK;
}

void kp_res_zero(struct kp_res *r)
{
	memset(r, 0, sizeof(*r));
}

bool kp_res_is_zero(const struct kp_res *r)
{
	for (int i = 0; i < KP_RES_MAX; i++)
		if (r->v[i])
			return false;
	return true;
}

bool kp_res_add(struct kp_res *a, const struct kp_res *b)
{
	bool ok = true;

	for (int i = 0; i < KP_RES_MAX; i++) {
		if (!kp_i64_add(a->v[i], b->v[i], &a->v[i])) {
			a->v[i] = b->v[i] > 0 ? INT64_MAX : INT64_MIN;
			ok = false;
		}
	}
	return ok;
}

void kp_res_sub(struct kp_res *a, const struct kp_res *b)
{
	for (int i = 0; i < KP_RES_MAX; i++) {
		int64_t r;
		if (__builtin_sub_overflow(a->v[i], b->v[i], &r))
			r = b->v[i] > 0 ? INT64_MIN : INT64_MAX;
		a->v[i] = r;
	}
}

void kp_res_max(struct kp_res *a, const struct kp_res *b)
{
	for (int i = 0; i < KP_RES_MAX; i++)
		if (b->v[i] > a->v[i])
			a->v[i] = b->v[i];
}

bool kp_res_fits(const struct kp_res *req, const struct kp_res *avail, int *bad_idx)
{
	for (int i = 0; i < KP_RES_MAX; i++) {
		if (req->v[i] != 0 && req->v[i] > avail->v[i]) {
			if (bad_idx)
				*bad_idx = i;
			return false;
		}
	}
	return true;
}

bool kp_res_exceeds(const struct kp_res *used, const struct kp_res *limit, uint32_t mask, int *bad_idx)
{
	for (int i = 0; i < KP_RES_MAX; i++) {
		if (((mask >> i) & 1u) && used->v[i] > limit->v[i]) {
			if (bad_idx)
				*bad_idx = i;
			return true;
		}
	}
	return false;
}
