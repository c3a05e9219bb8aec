/*
 * cloud_metrics.c - Karpenter's cloud-provider metrics decorator
 * (pkg/cloudprovider/metrics/cloudprovider.go): a struct kp_cloud whose
 * every operation forwards to an inner provider and records
 *   karpenter_cloudprovider_duration_seconds{controller,method,provider}
 *   karpenter_cloudprovider_errors_total{controller,method,provider,error}
 * with Karpenter's method names (Create, Delete, Get, List,
 * GetInstanceTypes, IsDrifted) and error values (InsufficientCapacityError,
 * NodeClaimNotFoundError, NodeClassNotReadyError, "" for anything else).
 *
 * Invariants: the decorator borrows the inner provider (destroying the
 * decorator leaves it alone); ops->name is the inner provider's name, so
 * logs and the provider label read the same (its repair policies and
 * nodeclass_optional are the inner provider's too); the controller label comes
 * from a caller callback evaluated at each call (Karpenter reads it from
 * the context). Durations are read on the controller's clock when it has
 * an injected one (tests), else on CLOCK_MONOTONIC with ns resolution.
 * Cost: two clock reads and two registry updates per call.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctrl/ctrl_int.h"

struct cloud_metrics {
	struct kp_cloud pub;            /* handed out; pub.impl == this */
	struct kp_cloud_ops ops;        /* per instance: carries the inner name */
	struct kp_cloud *inner;         /* borrowed */
	struct kp_metric *duration, *errors;
	kp_ctrl__caller_fn caller;
	void *ud;
	const struct kp_kube_clock *clock;   /* NULL = real; borrowed */
};

static void cm_destroy(struct kp_cloud *cp);

const char *kp_ctrl__cloud_error_label(enum kp_cloud_err e)
{
	switch (e) {
	case KP_CLOUD_INSUFFICIENT_CAPACITY: return "InsufficientCapacityError";
	case KP_CLOUD_NOT_FOUND: return "NodeClaimNotFoundError";
	case KP_CLOUD_NODECLASS_NOT_READY: return "NodeClassNotReadyError";
	default: return "";
	}
}

static int64_t mono_ns(const struct cloud_metrics *m)
{
	struct timespec ts;
	if (m->clock && m->clock->mono_ms)
		return kp_kube_now_mono(m->clock) * 1000000;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct cloud_metrics *cm_of(struct kp_cloud *cp)
{
	return cp->impl;
}

/* Records one call of method that started at t0 (mono ns) and returned e. */
static enum kp_cloud_err record(struct cloud_metrics *m, const char *method, int64_t t0, enum kp_cloud_err e)
{
	const char *ctrl = m->caller ? m->caller(m->ud, method) : NULL;
	const char *prov = m->ops.name ? m->ops.name : "";

	if (!ctrl)
		ctrl = "";
	if (m->duration)
		kp_metrics_observe(m->duration, KP_LV(ctrl, method, prov), (double)(mono_ns(m) - t0) / 1e9);
	if (e != KP_CLOUD_OK && m->errors)
		kp_metrics_inc(m->errors, KP_LV(ctrl, method, prov, kp_ctrl__cloud_error_label(e)));
	return e;
}

static enum kp_cloud_err cm_create(struct kp_cloud *cp, const struct kp_nodeclaim *claim, struct kp_arena *a,
				   struct kp_instance *out, struct kp_errbuf *eb)
{
	struct cloud_metrics *m = cm_of(cp);
	int64_t t0 = mono_ns(m);
	return record(m, "Create", t0, m->inner->ops->create(m->inner, claim, a, out, eb));
}

static enum kp_cloud_err cm_delete(struct kp_cloud *cp, const char *provider_id, struct kp_errbuf *eb)
{
	struct cloud_metrics *m = cm_of(cp);
	int64_t t0 = mono_ns(m);
	return record(m, "Delete", t0, m->inner->ops->delete(m->inner, provider_id, eb));
}

static enum kp_cloud_err cm_get(struct kp_cloud *cp, const char *provider_id, struct kp_arena *a,
				struct kp_instance *out, struct kp_errbuf *eb)
{
	struct cloud_metrics *m = cm_of(cp);
	int64_t t0 = mono_ns(m);
	return record(m, "Get", t0, m->inner->ops->get(m->inner, provider_id, a, out, eb));
}

static enum kp_cloud_err cm_list(struct kp_cloud *cp, struct kp_arena *a, struct kp_instance **out, int *n,
				 struct kp_errbuf *eb)
{
	struct cloud_metrics *m = cm_of(cp);
	int64_t t0 = mono_ns(m);
	return record(m, "List", t0, m->inner->ops->list(m->inner, a, out, n, eb));
}

static enum kp_cloud_err cm_instance_types(struct kp_cloud *cp, const struct kp_nodepool *np,
					   const struct kp_catalog **out, struct kp_errbuf *eb)
{
	struct cloud_metrics *m = cm_of(cp);
	int64_t t0 = mono_ns(m);
	return record(m, "GetInstanceTypes", t0, m->inner->ops->instance_types(m->inner, np, out, eb));
}

static enum kp_cloud_err cm_is_drifted(struct kp_cloud *cp, const struct kp_nodeclaim *claim, char *reason, size_t n,
				       struct kp_errbuf *eb)
{
	struct cloud_metrics *m = cm_of(cp);
	int64_t t0 = mono_ns(m);
	return record(m, "IsDrifted", t0, m->inner->ops->is_drifted(m->inner, claim, reason, n, eb));
}

static enum kp_cloud_err cm_nodeclass_reconcile(struct kp_cloud *cp, const char *nc, char **status, char **conds,
						struct kp_errbuf *eb)
{
	struct cloud_metrics *m = cm_of(cp);
	return kp_cloud_nodeclass_reconcile(m->inner, nc, status, conds, eb);
}

static void cm_nodeclass_forget(struct kp_cloud *cp, const char *name)
{
	kp_cloud_nodeclass_forget(cm_of(cp)->inner, name);
}

static enum kp_cloud_err cm_poll_events(struct kp_cloud *cp, struct kp_arena *a, struct kp_cloud_event **out, int *n,
					struct kp_errbuf *eb)
{
	return kp_cloud_poll_events(cm_of(cp)->inner, a, out, n, eb);
}

/* Karpenter's decorator forwards RepairPolicies unrecorded. */
static const struct kp_cloud_repair_policy *cm_repair_policies(struct kp_cloud *cp, int *n)
{
	return kp_cloud_repair_policies(cm_of(cp)->inner, n);
}

static enum kp_cloud_err cm_nodeclass_hash(struct kp_cloud *cp, const char *nc, struct kp_cloud_hash *out,
					   struct kp_errbuf *eb)
{
	return kp_cloud_nodeclass_hash(cm_of(cp)->inner, nc, out, eb);
}

static enum kp_cloud_err cm_tag_instance(struct kp_cloud *cp, const char *pid, const char *node, const char *claim,
					 struct kp_errbuf *eb)
{
	return kp_cloud_tag_instance(cm_of(cp)->inner, pid, node, claim, eb);
}

static enum kp_cloud_err cm_nodeclass_finalize(struct kp_cloud *cp, const char *name, const char *nc,
					       struct kp_errbuf *eb)
{
	return kp_cloud_nodeclass_finalize(cm_of(cp)->inner, name, nc, eb);
}

static void cm_destroy(struct kp_cloud *cp)
{
	free(cm_of(cp));
}

kp_err kp_ctrl__cloud_metrics_new(struct kp_cloud *inner, struct kp_metric *duration, struct kp_metric *errors,
			     kp_ctrl__caller_fn caller, void *ud, const struct kp_kube_clock *clock,
			     struct kp_cloud **out, struct kp_errbuf *eb)
{
	struct cloud_metrics *m;
	const struct kp_cloud_ops *io;

	*out = NULL;
	if (!inner || !inner->ops)
		return kp_errf(eb, KP_ERR_INVALID, "cloud metrics: no provider");
	io = inner->ops;
	if (!io->create || !io->delete || !io->get || !io->list || !io->instance_types || !io->is_drifted)
		return kp_errf(eb, KP_ERR_INVALID, "cloud metrics: provider %s lacks an operation",
			       io->name ? io->name : "?");
	m = calloc(1, sizeof(*m));
	if (!m)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	m->ops.version = KP_CLOUD_VERSION;
	m->ops.name = io->name;
	m->ops.create = cm_create;
	m->ops.delete = cm_delete;
	m->ops.get = cm_get;
	m->ops.list = cm_list;
	m->ops.instance_types = cm_instance_types;
	m->ops.is_drifted = cm_is_drifted;
	m->ops.destroy = cm_destroy;
	m->ops.nodeclass_reconcile = io->nodeclass_reconcile ? cm_nodeclass_reconcile : NULL;
	m->ops.nodeclass_forget = io->nodeclass_forget ? cm_nodeclass_forget : NULL;
	m->ops.poll_events = io->poll_events ? cm_poll_events : NULL;
	m->ops.repair_policies = io->repair_policies ? cm_repair_policies : NULL;
	m->ops.nodeclass_optional = io->nodeclass_optional;
	m->ops.nodeclass_hash = io->nodeclass_hash ? cm_nodeclass_hash : NULL;
	m->ops.tag_instance = io->tag_instance ? cm_tag_instance : NULL;
	m->ops.nodeclass_finalize = io->nodeclass_finalize ? cm_nodeclass_finalize : NULL;
	m->pub.ops = &m->ops;
	m->pub.impl = m;
	m->inner = inner;
	m->duration = duration;
	m->errors = errors;
	m->caller = caller;
	m->ud = ud;
	m->clock = clock;
	*out = &m->pub;
	return KP_OK;
}

void kp_ctrl__cloud_metrics_record(struct kp_cloud *cp, const char *ctrl, const char *method, int64_t ms,
			      enum kp_cloud_err e)
{
	struct cloud_metrics *m;
	const char *prov;

	if (!cp || !cp->ops || cp->ops->create != cm_create)
		return;
	m = cm_of(cp);
	prov = m->ops.name ? m->ops.name : "";
	if (m->duration)
		kp_metrics_observe(m->duration, KP_LV(ctrl, method, prov), (double)ms / 1000.0);
	if (e != KP_CLOUD_OK && m->errors)
		kp_metrics_inc(m->errors, KP_LV(ctrl, method, prov, kp_ctrl__cloud_error_label(e)));
}

struct kp_cloud *kp_ctrl__cloud_metrics_inner(struct kp_cloud *cp)
{
	if (cp && cp->ops && cp->ops->create == cm_create)
		return cm_of(cp)->inner;
	return cp;
}
