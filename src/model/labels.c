/*
 * labels.c - sorted label maps and the label-key tables Karpenter consults:
 * normalized beta keys, well-known keys (core + AWS provider + kwok), the
 * restricted domains, and the Kubernetes syntax of keys and values.
 *
 * Invariants: a kp_labels array is sorted by key (strcmp) with unique keys;
 * strings are borrowed. The key tables are static, sorted, and never change,
 * so lookups are binary searches with no global mutable state.
 *
 * Cost: get/has O(log n); set O(n) worst case (insertion shift), amortized
 * growth by doubling in the arena; table lookups O(log 40).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "karpenter/labels.h"

#define QNAME_NAME_MAX 63
#define QNAME_PREFIX_MAX 253
#define LABEL_VALUE_MAX 63

/* ---- label maps ---- */

static inline int keycmp(const char *a, const char *b)
{
	return a == b ? 0 : strcmp(a, b);
}

/* Index of key, or -(insertion point) - 1. */
static int labels_find(const struct kp_labels *l, const char *key)
{
	int lo = 0, hi = l->n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = keycmp(l->kv[mid].key, key);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -lo - 1;
}

const char *kp_labels_get(const struct kp_labels *l, const char *key)
{
	int i;

	if (!l || l->n == 0 || !key)
		return NULL;
	i = labels_find(l, key);
	return i >= 0 ? l->kv[i].value : NULL;
}

bool kp_labels_has(const struct kp_labels *l, const char *key)
{
	return l && l->n > 0 && key && labels_find(l, key) >= 0;
}

kp_err kp_labels_set(struct kp_labels *l, struct kp_arena *a, const char *key, const char *value)
{
	int i = l->n ? labels_find(l, key) : -1;

	if (i >= 0) {
		l->kv[i].value = value;
		return KP_OK;
	}
	i = -i - 1;
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 8;
		struct kp_kv *kv = kp_arena_grow(a, l->kv, (size_t)l->n, (size_t)cap, sizeof(*kv));
		if (!kv)
			return KP_ERR_NOMEM;
		l->kv = kv;
		l->cap = cap;
	}
	memmove(&l->kv[i + 1], &l->kv[i], (size_t)(l->n - i) * sizeof(*l->kv));
	l->kv[i].key = key;
	l->kv[i].value = value;
	l->n++;
	return KP_OK;
}

kp_err kp_labels_copy(struct kp_labels *dst, struct kp_arena *a, const struct kp_labels *src)
{
	struct kp_labels out = { 0 };

	if (src && src->n > 0) {
		out.kv = kp_arena_memdup(a, src->kv, (size_t)src->n * sizeof(*src->kv));
		if (!out.kv)
			return KP_ERR_NOMEM;
		out.n = out.cap = src->n;
	}
	*dst = out;
	return KP_OK;
}

/* ---- key tables ---- */

static const struct kp_kv normalized[] = {   /* sorted by key */
	{ "beta.kubernetes.io/arch", KP_LABEL_ARCH },
	{ "beta.kubernetes.io/instance-type", KP_LABEL_INSTANCE_TYPE },
	{ "beta.kubernetes.io/os", KP_LABEL_OS },
	{ "failure-domain.beta.kubernetes.io/region", KP_LABEL_REGION },
	{ "failure-domain.beta.kubernetes.io/zone", KP_LABEL_ZONE },
};

/* Core WellKnownLabels, then the AWS provider's and kwok's init() additions.
 * Sorted by strcmp (checked by the unit test). kubernetes.io/hostname is not
 * here: Karpenter lists it in RestrictedLabels instead. Rows of one block, so
 * that an interned key (kp_label_intern) is recognized by its address. */
const char kp__well_known[][KP__WK_ROW] = {
	"karpenter.k8s.aws/capacity-reservation-id",
	"karpenter.k8s.aws/capacity-reservation-interruptible",
	"karpenter.k8s.aws/capacity-reservation-type",
	"karpenter.k8s.aws/instance-accelerator-count",
	"karpenter.k8s.aws/instance-accelerator-manufacturer",
	"karpenter.k8s.aws/instance-accelerator-name",
	"karpenter.k8s.aws/instance-capability-flex",
	"karpenter.k8s.aws/instance-category",
	"karpenter.k8s.aws/instance-cpu",
	"karpenter.k8s.aws/instance-cpu-manufacturer",
	"karpenter.k8s.aws/instance-cpu-sustained-clock-speed-mhz",
	"karpenter.k8s.aws/instance-ebs-bandwidth",
	"karpenter.k8s.aws/instance-encryption-in-transit-supported",
	"karpenter.k8s.aws/instance-family",
	"karpenter.k8s.aws/instance-generation",
	"karpenter.k8s.aws/instance-gpu-count",
	"karpenter.k8s.aws/instance-gpu-manufacturer",
	"karpenter.k8s.aws/instance-gpu-memory",
	"karpenter.k8s.aws/instance-gpu-name",
	"karpenter.k8s.aws/instance-hypervisor",
	"karpenter.k8s.aws/instance-local-nvme",
	"karpenter.k8s.aws/instance-memory",
	"karpenter.k8s.aws/instance-network-bandwidth",
	"karpenter.k8s.aws/instance-size",
	"karpenter.k8s.aws/instance-tenancy",
	"karpenter.k8s.aws/nitro-sandbox",
	"karpenter.k8s.aws/placement-group-id",
	"karpenter.k8s.aws/placement-group-partition",
	"karpenter.kwok.sh/instance-cpu",
	"karpenter.kwok.sh/instance-family",
	"karpenter.kwok.sh/instance-memory",
	"karpenter.kwok.sh/instance-size",
	KP_LABEL_CAPACITY_TYPE,
	KP_LABEL_NODEPOOL,
	KP_LABEL_ARCH,
	KP_LABEL_OS,
	KP_LABEL_INSTANCE_TYPE,
	KP_LABEL_WINDOWS_BUILD,
	KP_LABEL_ZONE_ID,
	KP_LABEL_REGION,
	KP_LABEL_ZONE,
};
const int kp__well_known_n = (int)KP_ARRAY_LEN(kp__well_known);

/* Karpenter's RestrictedLabelDomains: core's plus the two providers'. */
static const char *const restricted_domains[] = {
	"karpenter.k8s.aws",
	"karpenter.kwok.sh",
	"karpenter.sh",
};

static const char *const ct_values[] = { KP_CT_ON_DEMAND, KP_CT_RESERVED, KP_CT_SPOT };
static const char *const tenancy_values[] = { "dedicated", "default" };

const char *kp_label_normalize(const char *key)
{
	int lo = 0, hi = (int)KP_ARRAY_LEN(normalized);

	if (!key || (key[0] != 'b' && key[0] != 'f'))
		return key;   /* fast path: every beta key starts with b or f */
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(normalized[mid].key, key);
		if (c == 0)
			return normalized[mid].value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return key;
}

static int well_known_find(const char *key)
{
	int lo = 0, hi = (int)KP_ARRAY_LEN(kp__well_known);

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(kp__well_known[mid], key);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

bool kp_label_is_well_known(const char *key)
{
	if (!key)
		return false;
	return kp__is_interned(key) || well_known_find(key) >= 0;
}

const char *kp_label_intern(const char *key)
{
	int i;

	if (!key || kp__is_interned(key))
		return key;
	i = well_known_find(key);
	return i >= 0 ? kp__well_known[i] : key;
}

/* The same keys in precedence order: core's first, as Karpenter declares
 * them, then the providers'. Typo hints try them in this order so that
 * "zone" suggests topology.kubernetes.io/zone before topology.k8s.aws/zone-id. */
static const char *const well_known_ordered[] = {
	KP_LABEL_NODEPOOL,
	KP_LABEL_ZONE,
	KP_LABEL_REGION,
	KP_LABEL_INSTANCE_TYPE,
	KP_LABEL_ARCH,
	KP_LABEL_OS,
	KP_LABEL_CAPACITY_TYPE,
	KP_LABEL_WINDOWS_BUILD,
	"karpenter.k8s.aws/capacity-reservation-id",
	"karpenter.k8s.aws/capacity-reservation-type",
	"karpenter.k8s.aws/capacity-reservation-interruptible",
	"karpenter.k8s.aws/instance-hypervisor",
	"karpenter.k8s.aws/instance-encryption-in-transit-supported",
	"karpenter.k8s.aws/nitro-sandbox",
	"karpenter.k8s.aws/instance-category",
	"karpenter.k8s.aws/instance-capability-flex",
	"karpenter.k8s.aws/instance-family",
	"karpenter.k8s.aws/instance-generation",
	"karpenter.k8s.aws/instance-size",
	"karpenter.k8s.aws/instance-local-nvme",
	"karpenter.k8s.aws/instance-cpu",
	"karpenter.k8s.aws/instance-cpu-manufacturer",
	"karpenter.k8s.aws/instance-cpu-sustained-clock-speed-mhz",
	"karpenter.k8s.aws/instance-memory",
	"karpenter.k8s.aws/instance-ebs-bandwidth",
	"karpenter.k8s.aws/instance-network-bandwidth",
	"karpenter.k8s.aws/instance-gpu-name",
	"karpenter.k8s.aws/instance-gpu-manufacturer",
	"karpenter.k8s.aws/instance-gpu-count",
	"karpenter.k8s.aws/instance-gpu-memory",
	"karpenter.k8s.aws/instance-accelerator-name",
	"karpenter.k8s.aws/instance-accelerator-manufacturer",
	"karpenter.k8s.aws/instance-accelerator-count",
	KP_LABEL_ZONE_ID,
	"karpenter.k8s.aws/instance-tenancy",
	"karpenter.k8s.aws/placement-group-id",
	"karpenter.k8s.aws/placement-group-partition",
	"karpenter.kwok.sh/instance-size",
	"karpenter.kwok.sh/instance-family",
	"karpenter.kwok.sh/instance-cpu",
	"karpenter.kwok.sh/instance-memory",
};

_Static_assert(KP_ARRAY_LEN(well_known_ordered) == KP_ARRAY_LEN(kp__well_known), "well-known tables differ");

const char *const *kp_label_well_known_keys(int *n)
{
	*n = (int)KP_ARRAY_LEN(well_known_ordered);
	return well_known_ordered;
}

const char *const *kp_label_known_values(const char *key, int *n)
{
	*n = 0;
	if (!key)
		return NULL;
	if (strcmp(key, KP_LABEL_CAPACITY_TYPE) == 0) {
		*n = (int)KP_ARRAY_LEN(ct_values);
		return ct_values;
	}
	if (strcmp(key, "karpenter.k8s.aws/instance-tenancy") == 0) {
		*n = (int)KP_ARRAY_LEN(tenancy_values);
		return tenancy_values;
	}
	return NULL;
}

/* labelDomain == d or labelDomain ends with "." + d. */
static bool domain_restricted(const char *key)
{
	const char *slash = strchr(key, '/');
	size_t dlen;

	if (!slash)
		return false;
	dlen = (size_t)(slash - key);
	for (size_t i = 0; i < KP_ARRAY_LEN(restricted_domains); i++) {
		const char *d = restricted_domains[i];
		size_t n = strlen(d);
		if (dlen == n && memcmp(key, d, n) == 0)
			return true;
		if (dlen > n && key[dlen - n - 1] == '.' && memcmp(key + dlen - n, d, n) == 0)
			return true;
	}
	return false;
}

bool kp_label_is_restricted_for_pod(const char *key)
{
	if (!key || kp_label_is_well_known(key))
		return false;
	return domain_restricted(key) || strcmp(key, KP_LABEL_HOSTNAME) == 0;
}

bool kp_label_is_restricted(const char *key)
{
	if (key && strcmp(key, KP_LABEL_NODEPOOL) == 0)
		return true;
	return kp_label_is_restricted_for_pod(key);
}

/* ---- syntax ---- */

static inline bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static inline bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over s[0..n). */
static bool name_chars_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	if (!is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* DNS-1123 subdomain: dot-separated labels of [a-z0-9]([-a-z0-9]*[a-z0-9])?. */
static bool dns1123_subdomain_ok(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!is_lower_alnum(s[i]) && s[i] != '-')
				return false;
			continue;
		}
		if (i == start || s[start] == '-' || s[i - 1] == '-')
			return false;
		start = i + 1;
	}
	return true;
}

/* Writes the reason into eb; returns false for `return invalid(...)`. */
static bool invalid(struct kp_errbuf *eb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool invalid(struct kp_errbuf *eb, const char *fmt, ...)
{
	va_list ap;

	if (eb) {
		va_start(ap, fmt);
		vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
		va_end(ap);
		eb->code = KP_ERR_INVALID;
	}
	return false;
}

bool kp_label_key_valid(const char *key, struct kp_errbuf *eb)
{
	const char *slash, *name;
	size_t nlen;

	if (!key || !*key)
		return invalid(eb, "label key is empty");
	slash = strchr(key, '/');
	name = slash ? slash + 1 : key;
	if (slash) {
		size_t plen = (size_t)(slash - key);
		if (strchr(name, '/'))
			return invalid(eb, "label key \"%s\" has more than one '/'", key);
		if (plen == 0)
			return invalid(eb, "label key \"%s\" has an empty prefix", key);
		if (plen > QNAME_PREFIX_MAX)
			return invalid(eb, "label key prefix is longer than %d characters",
				       QNAME_PREFIX_MAX);
		if (!dns1123_subdomain_ok(key, plen))
			return invalid(eb, "label key prefix \"%.*s\" is not a DNS-1123 subdomain (lower case alphanumerics, '-' and '.')",
				       (int)plen, key);
	}
	nlen = strlen(name);
	if (nlen == 0)
		return invalid(eb, "label key \"%s\" has an empty name part", key);
	if (nlen > QNAME_NAME_MAX)
		return invalid(eb, "label key name part is longer than %d characters",
			       QNAME_NAME_MAX);
	if (!name_chars_ok(name, nlen))
		return invalid(eb, "label key \"%s\": name part must be alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric",
			       key);
	return true;
}

bool kp_label_value_valid(const char *value, struct kp_errbuf *eb)
{
	size_t n;

	if (!value)
		return true;
	n = strlen(value);
	if (n == 0)
		return true;
	if (n > LABEL_VALUE_MAX)
		return invalid(eb, "label value is longer than %d characters", LABEL_VALUE_MAX);
	if (!name_chars_ok(value, n))
		return invalid(eb, "label value \"%s\" must be alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric",
			       value);
	return true;
}
