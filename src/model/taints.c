/*
 * taints.c - taints, tolerations and host ports.
 *
 * Tolerations follow k8s.io/api core/v1 Toleration.ToleratesTaint: a set
 * effect must equal the taint's, a set key must equal the taint's, then
 * Equal compares values and Exists accepts any value. Karpenter's
 * Taints.Tolerates requires every taint to be tolerated by some toleration
 * (pkg/scheduling/taints.go). Host ports conflict as in
 * pkg/scheduling/hostportusage.go: same port and protocol, and equal IPs or
 * either IP unspecified.
 *
 * Invariants: a NULL taint value reads as ""; a NULL or "" toleration key
 * matches every key. Nothing here allocates except kp_hostports_add.
 *
 * Cost: kp_tolerates O(tolerations); kp_taints_tolerated O(taints x
 * tolerations); kp_hostports_conflict O(used x add), with IPs parsed only
 * when their strings differ.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "karpenter/taints.h"

static const char *const effect_names[] = {
	[KP_EFFECT_ANY] = "",
	[KP_EFFECT_NOSCHEDULE] = "NoSchedule",
	[KP_EFFECT_PREFERNOSCHEDULE] = "PreferNoSchedule",
	[KP_EFFECT_NOEXECUTE] = "NoExecute",
};

static inline const char *nz(const char *s)
{
	return s ? s : "";
}

int kp_effect_parse(const char *s, bool allow_any)
{
	s = nz(s);
	if (!*s)
		return allow_any ? KP_EFFECT_ANY : -1;
	for (int e = KP_EFFECT_NOSCHEDULE; e <= KP_EFFECT_NOEXECUTE; e++)
		if (strcmp(s, effect_names[e]) == 0)
			return e;
	return -1;
}

const char *kp_effect_name(enum kp_effect e)
{
	if ((unsigned)e < KP_ARRAY_LEN(effect_names))
		return effect_names[e];
	return "Unknown";
}

int kp_tol_op_parse(const char *s)
{
	s = nz(s);
	if (!*s || strcmp(s, "Equal") == 0)
		return KP_TOL_EQUAL;
	if (strcmp(s, "Exists") == 0)
		return KP_TOL_EXISTS;
	return -1;
}

bool kp_toleration_matches(const struct kp_toleration *tol, const struct kp_taint *taint)
{
	const char *key = nz(tol->key);

	if (tol->effect != KP_EFFECT_ANY && tol->effect != taint->effect)
		return false;
	if (*key && strcmp(key, nz(taint->key)) != 0)
		return false;
	switch (tol->op) {
	case KP_TOL_EQUAL:
		return strcmp(nz(tol->value), nz(taint->value)) == 0;
	case KP_TOL_EXISTS:
		return true;
	}
	return false;
}

bool kp_tolerates(const struct kp_tolerations *tols, const struct kp_taint *taint)
{
	if (!tols)
		return false;
	for (int i = 0; i < tols->n; i++)
		if (kp_toleration_matches(&tols->t[i], taint))
			return true;
	return false;
}

bool kp_taints_tolerated(const struct kp_taints *taints, const struct kp_tolerations *tols,
			 bool prefer_no_schedule, struct kp_errbuf *eb)
{
	size_t len = 0;
	bool ok = true;

	if (!taints)
		return true;
	for (int i = 0; i < taints->n; i++) {
		const struct kp_taint *t = &taints->t[i];
		const char *v = nz(t->value);
		int k;

		if (t->effect == KP_EFFECT_PREFERNOSCHEDULE && !prefer_no_schedule)
			continue;
		if (kp_tolerates(tols, t))
			continue;
		ok = false;
		if (!eb)
			return false;
		/* every untolerated taint, joined like multierr */
		k = snprintf(eb->msg + len, sizeof(eb->msg) - len, "%sdid not tolerate taint %s%s%s:%s",
			     len ? "; " : "", nz(t->key), *v ? "=" : "", v, kp_effect_name(t->effect));
		eb->code = KP_ERR_INVALID;
		if (k > 0)
			len += (size_t)k;
		if (len >= sizeof(eb->msg) - 1)
			break;
	}
	return ok;
}

bool kp_taint_equal(const struct kp_taint *a, const struct kp_taint *b)
{
	return a->effect == b->effect && strcmp(nz(a->key), nz(b->key)) == 0;
}

/* Karpenter's KnownEphemeralTaints, matched on key and effect. */
static const struct kp_taint ephemeral[] = {
	{ "node.kubernetes.io/not-ready", NULL, KP_EFFECT_NOSCHEDULE },
	{ "node.kubernetes.io/not-ready", NULL, KP_EFFECT_NOEXECUTE },
	{ "node.kubernetes.io/unreachable", NULL, KP_EFFECT_NOSCHEDULE },
	{ "node.cloudprovider.kubernetes.io/uninitialized", "true", KP_EFFECT_NOSCHEDULE },
	{ "karpenter.sh/unregistered", NULL, KP_EFFECT_NOEXECUTE },
};

#define EPHEMERAL_PREFIX "readiness.k8s.io/"

bool kp_taint_is_ephemeral(const struct kp_taint *t)
{
	if (!t)
		return false;
	for (size_t i = 0; i < KP_ARRAY_LEN(ephemeral); i++)
		if (kp_taint_equal(&ephemeral[i], t))
			return true;
	return strncmp(nz(t->key), EPHEMERAL_PREFIX, sizeof(EPHEMERAL_PREFIX) - 1) == 0;
}

/* ---- host ports ---- */

static const char *const protocol_names[] = { "TCP", "UDP", "SCTP" };

int kp_protocol_parse(const char *s)
{
	s = nz(s);
	if (!*s)
		return 0;
	for (size_t i = 0; i < KP_ARRAY_LEN(protocol_names); i++)
		if (strcmp(s, protocol_names[i]) == 0)
			return (int)i;
	return -1;
}

static const char *protocol_name(int p)
{
	return p >= 0 && (size_t)p < KP_ARRAY_LEN(protocol_names) ? protocol_names[p] : "?";
}

/* An IP as 16 bytes (IPv4 mapped into ::ffff:0:0/96, as Go's net.IP does).
 * "" reads as 0.0.0.0, as GetHostPorts defaults it. False if unparseable. */
static bool ip_parse(const char *s, unsigned char out[16])
{
	static const unsigned char v4prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	s = nz(s);
	if (!*s)
		s = "0.0.0.0";
	if (inet_pton(AF_INET6, s, out) == 1)
		return true;
	memcpy(out, v4prefix, sizeof(v4prefix));
	return inet_pton(AF_INET, s, out + 12) == 1;
}

static bool ip_unspecified(const unsigned char ip[16])
{
	static const unsigned char zero[16];
	static const unsigned char v4zero[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0 };
	return memcmp(ip, zero, 16) == 0 || memcmp(ip, v4zero, 16) == 0;
}

bool kp_hostport_conflicts(const struct kp_hostport *a, const struct kp_hostport *b)
{
	unsigned char ia[16], ib[16];
	bool pa, pb;

	if (a->port != b->port || a->protocol != b->protocol)
		return false;
	if (strcmp(nz(a->ip), nz(b->ip)) == 0)
		return true;
	pa = ip_parse(a->ip, ia);
	pb = ip_parse(b->ip, ib);
	if (pa && ip_unspecified(ia))
		return true;
	if (pb && ip_unspecified(ib))
		return true;
	/* two unparseable addresses compare as Go's nil IPs: equal */
	if (!pa || !pb)
		return !pa && !pb;
	return memcmp(ia, ib, 16) == 0;
}

bool kp_hostports_conflict(const struct kp_hostports *used, const struct kp_hostports *add, struct kp_errbuf *eb)
{
	if (!used || !add)
		return false;
	for (int i = 0; i < add->n; i++) {
		const struct kp_hostport *p = &add->p[i];
		for (int j = 0; j < used->n; j++) {
			const struct kp_hostport *q = &used->p[j];
			if (!kp_hostport_conflicts(p, q))
				continue;
			kp_errf(eb, KP_ERR_INVALID,
				"host port %d/%s on ip \"%s\" conflicts with host port %d/%s on ip \"%s\"",
				p->port, protocol_name(p->protocol), nz(p->ip),
				q->port, protocol_name(q->protocol), nz(q->ip));
			return true;
		}
	}
	return false;
}

kp_err kp_hostports_add(struct kp_hostports *used, struct kp_arena *a, const struct kp_hostports *add)
{
	if (!add || add->n == 0)
		return KP_OK;
	if (used->n + add->n > used->cap) {
		int cap = used->cap ? used->cap : 4;
		struct kp_hostport *np;
		while (cap < used->n + add->n)
			cap *= 2;
		np = kp_arena_grow(a, used->p, (size_t)used->n, (size_t)cap, sizeof(*np));
		if (!np)
			return KP_ERR_NOMEM;
		used->p = np;
		used->cap = cap;
	}
	memcpy(used->p + used->n, add->p, (size_t)add->n * sizeof(*add->p));
	used->n += add->n;
	return KP_OK;
}
