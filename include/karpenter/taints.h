/*
 * taints.h - taints, tolerations and host ports.
 *
 * Toleration semantics follow k8s.io/api core/v1 ToleratesTaint: an empty key
 * with operator Exists tolerates every taint; an empty effect matches every
 * effect; operator Equal (the default) compares values. Karpenter checks
 * NoSchedule and NoExecute taints when placing pods; PreferNoSchedule is only
 * honoured through preference relaxation.
 */
#ifndef KARPENTER_TAINTS_H
#define KARPENTER_TAINTS_H

#include "karpenter/base.h"

enum kp_effect {
	KP_EFFECT_ANY = 0,          /* only in tolerations: every effect */
	KP_EFFECT_NOSCHEDULE,
	KP_EFFECT_PREFERNOSCHEDULE,
	KP_EFFECT_NOEXECUTE,
};

/* The taint a cordoned Node (spec.unschedulable) carries (NoSchedule). */
#define KP_TAINT_UNSCHEDULABLE "node.kubernetes.io/unschedulable"

struct kp_taint {
	const char *key;
	const char *value;          /* may be NULL (no value) */
	enum kp_effect effect;
};

enum kp_tol_op { KP_TOL_EQUAL = 0, KP_TOL_EXISTS };

struct kp_toleration {
	const char *key;            /* NULL or "" = any key (only with Exists) */
	enum kp_tol_op op;
	const char *value;
	enum kp_effect effect;      /* KP_EFFECT_ANY = all */
	bool has_seconds;
	int64_t seconds;
};

struct kp_taints {
	int n;
	struct kp_taint *t;
};

struct kp_tolerations {
	int n;
	struct kp_toleration *t;
};

/* "NoSchedule" etc. to enum; -1 if unknown ("" gives KP_EFFECT_ANY when allow_any). */
int kp_effect_parse(const char *s, bool allow_any);
const char *kp_effect_name(enum kp_effect e);
int kp_tol_op_parse(const char *s);   /* "" and "Equal" -> EQUAL, "Exists"; -1 if unknown */

bool kp_toleration_matches(const struct kp_toleration *tol, const struct kp_taint *taint);
bool kp_tolerates(const struct kp_tolerations *tols, const struct kp_taint *taint);
/* Karpenter's Taints.ToleratesPod: every taint with effect NoSchedule or
 * NoExecute must be tolerated (PreferNoSchedule too when prefer_no_schedule).
 * On failure writes "did not tolerate key=value:Effect" into eb. */
bool kp_taints_tolerated(const struct kp_taints *taints, const struct kp_tolerations *tols,
			 bool prefer_no_schedule, struct kp_errbuf *eb);
/* Taints Karpenter ignores on nodes that are not initialized yet:
 * node.kubernetes.io/not-ready, node.kubernetes.io/unreachable,
 * node.cloudprovider.kubernetes.io/uninitialized, karpenter.sh/unregistered,
 * and any key with prefix readiness.k8s.io/. */
bool kp_taint_is_ephemeral(const struct kp_taint *t);
/* corev1 Taint.MatchTaint: same key and effect; the value is ignored (as
 * Karpenter uses it for merging, duplicates and the ephemeral list). */
bool kp_taint_equal(const struct kp_taint *a, const struct kp_taint *b);

/* ---- host ports ---- */
struct kp_hostport {
	const char *ip;        /* "" or "0.0.0.0" = all addresses */
	int port;
	int protocol;          /* 0 TCP, 1 UDP, 2 SCTP */
};

struct kp_hostports {
	int n;
	int cap;
	struct kp_hostport *p;
};

int kp_protocol_parse(const char *s);   /* "" -> TCP; -1 if unknown */
/* Conflict as the kube-scheduler NodePorts plugin decides it: same port and
 * protocol, and the IPs are equal or either is a wildcard. */
bool kp_hostport_conflicts(const struct kp_hostport *a, const struct kp_hostport *b);
/* true iff any port of add conflicts with used; eb names the port. */
bool kp_hostports_conflict(const struct kp_hostports *used, const struct kp_hostports *add, struct kp_errbuf *eb);
kp_err kp_hostports_add(struct kp_hostports *used, struct kp_arena *a, const struct kp_hostports *add);

#endif
