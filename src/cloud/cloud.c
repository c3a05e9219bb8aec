/*
 * cloud.c - what every cloud provider shares: error names and messages,
 * instance state names, deep copies of instances into an arena, and the
 * kp_cloud_* calls that dispatch through a provider's table.
 *
 * Invariants: a failing kp_cloud_* call leaves a message in eb (the
 * provider's own, or the error's name). Cost: the wrappers add one branch;
 * kp_instance_copy is O(labels + string bytes).
 */
#include <stdio.h>
#include <string.h>

#include "karpenter/cloud.h"

const char *kp_cloud_err_str(enum kp_cloud_err e)
{
	switch (e) {
	case KP_CLOUD_OK: return "ok";
	case KP_CLOUD_NOT_FOUND: return "not found";
	case KP_CLOUD_INSUFFICIENT_CAPACITY: return "insufficient capacity";
	case KP_CLOUD_NODECLASS_NOT_READY: return "node class not ready";
	case KP_CLOUD_CREATE_ERROR: return "create error";
	case KP_CLOUD_TRANSIENT: return "transient error";
	case KP_CLOUD_INTERNAL: return "internal error";
	}
	return "unknown cloud error";
}

static kp_err cloud_err_code(enum kp_cloud_err e)
{
	switch (e) {
	case KP_CLOUD_OK: return KP_OK;
	case KP_CLOUD_NOT_FOUND: return KP_ERR_NOTFOUND;
	case KP_CLOUD_INSUFFICIENT_CAPACITY: return KP_ERR_LIMIT;
	case KP_CLOUD_TRANSIENT: return KP_ERR_IO;
	default: return KP_ERR_INVALID;
	}
}

enum kp_cloud_err kp_cloud_errf(struct kp_errbuf *eb, enum kp_cloud_err e, const char *fmt, ...)
{
	if (eb) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
		va_end(ap);
		eb->code = cloud_err_code(e);
	}
	return e;
}

const char *kp_instance_state_name(enum kp_instance_state s)
{
	switch (s) {
	case KP_INSTANCE_PENDING: return "pending";
	case KP_INSTANCE_RUNNING: return "running";
	case KP_INSTANCE_TERMINATING: return "terminating";
	case KP_INSTANCE_TERMINATED: return "terminated";
	case KP_INSTANCE_STOPPED: return "stopped";
	}
	return "unknown";
}

/* Copies s into a unless it is NULL; false when out of memory. */
static bool dup_str(struct kp_arena *a, const char **dst, const char *s)
{
	*dst = NULL;
	if (!s)
		return true;
	*dst = kp_arena_strdup(a, s);
	return *dst != NULL;
}

kp_err kp_instance_copy(struct kp_instance *dst, struct kp_arena *a, const struct kp_instance *src)
{
	struct kp_instance o = *src;

	o.labels.n = o.labels.cap = 0;
	o.labels.kv = NULL;
	if (!dup_str(a, &o.provider_id, src->provider_id) || !dup_str(a, &o.nodeclaim, src->nodeclaim) ||
	    !dup_str(a, &o.nodepool, src->nodepool) || !dup_str(a, &o.instance_type, src->instance_type) ||
	    !dup_str(a, &o.zone, src->zone) || !dup_str(a, &o.image_id, src->image_id))
		goto nomem;
	if (src->labels.n > 0) {
		o.labels.kv = kp_arena_calloc(a, (size_t)src->labels.n, sizeof(*o.labels.kv));
		if (!o.labels.kv)
			goto nomem;
		for (int i = 0; i < src->labels.n; i++)
			if (!dup_str(a, &o.labels.kv[i].key, src->labels.kv[i].key) ||
			    !dup_str(a, &o.labels.kv[i].value, src->labels.kv[i].value))
				goto nomem;
		o.labels.n = o.labels.cap = src->labels.n;
	}
	*dst = o;
	return KP_OK;
nomem:
	memset(dst, 0, sizeof(*dst));
	return KP_ERR_NOMEM;
}

/* Makes sure a failed call explains itself. */
static enum kp_cloud_err ensure_msg(struct kp_cloud *cp, enum kp_cloud_err e, const char *op, struct kp_errbuf *eb)
{
	if (e != KP_CLOUD_OK && eb && eb->msg[0] == '\0')
		kp_cloud_errf(eb, e, "%s %s: %s", cp->ops->name ? cp->ops->name : "cloud", op, kp_cloud_err_str(e));
	return e;
}

static void clear_msg(struct kp_errbuf *eb)
{
	if (eb) {
		eb->msg[0] = '\0';
		eb->code = KP_OK;
	}
}

enum kp_cloud_err kp_cloud_create(struct kp_cloud *cp, const struct kp_nodeclaim *claim, struct kp_arena *a,
				  struct kp_instance *out, struct kp_errbuf *eb)
{
	clear_msg(eb);
	return ensure_msg(cp, cp->ops->create(cp, claim, a, out, eb), "create", eb);
}

enum kp_cloud_err kp_cloud_delete(struct kp_cloud *cp, const char *provider_id, struct kp_errbuf *eb)
{
	clear_msg(eb);
	return ensure_msg(cp, cp->ops->delete(cp, provider_id, eb), "delete", eb);
}

enum kp_cloud_err kp_cloud_get(struct kp_cloud *cp, const char *provider_id, struct kp_arena *a,
			       struct kp_instance *out, struct kp_errbuf *eb)
{
	clear_msg(eb);
	return ensure_msg(cp, cp->ops->get(cp, provider_id, a, out, eb), "get", eb);
}

enum kp_cloud_err kp_cloud_list(struct kp_cloud *cp, struct kp_arena *a, struct kp_instance **out, int *n,
				struct kp_errbuf *eb)
{
	clear_msg(eb);
	return ensure_msg(cp, cp->ops->list(cp, a, out, n, eb), "list", eb);
}

enum kp_cloud_err kp_cloud_instance_types(struct kp_cloud *cp, const struct kp_nodepool *np,
					  const struct kp_catalog **out, struct kp_errbuf *eb)
{
	clear_msg(eb);
	return ensure_msg(cp, cp->ops->instance_types(cp, np, out, eb), "instance types", eb);
}

enum kp_cloud_err kp_cloud_is_drifted(struct kp_cloud *cp, const struct kp_nodeclaim *claim, char *reason, size_t n,
				      struct kp_errbuf *eb)
{
	clear_msg(eb);
	return ensure_msg(cp, cp->ops->is_drifted(cp, claim, reason, n, eb), "is drifted", eb);
}

enum kp_cloud_err kp_cloud_nodeclass_reconcile(struct kp_cloud *cp, const char *nodeclass_json, char **status,
					       char **conds, struct kp_errbuf *eb)
{
	*status = NULL;
	*conds = NULL;
	clear_msg(eb);
	if (!cp->ops->nodeclass_reconcile)
		return KP_CLOUD_OK;
	return ensure_msg(cp, cp->ops->nodeclass_reconcile(cp, nodeclass_json, status, conds, eb), "nodeclass", eb);
}

void kp_cloud_nodeclass_forget(struct kp_cloud *cp, const char *name)
{
	if (cp->ops->nodeclass_forget)
		cp->ops->nodeclass_forget(cp, name);
}

enum kp_cloud_err kp_cloud_poll_events(struct kp_cloud *cp, struct kp_arena *a, struct kp_cloud_event **out, int *n,
				       struct kp_errbuf *eb)
{
	*out = NULL;
	*n = 0;
	clear_msg(eb);
	if (!cp->ops->poll_events)
		return KP_CLOUD_OK;
	return ensure_msg(cp, cp->ops->poll_events(cp, a, out, n, eb), "poll events", eb);
}

const struct kp_cloud_repair_policy *kp_cloud_repair_policies(struct kp_cloud *cp, int *n)
{
	const struct kp_cloud_repair_policy *p = NULL;

	*n = 0;
	if (cp && cp->ops && cp->ops->repair_policies)
		p = cp->ops->repair_policies(cp, n);
	if (!p || *n < 0)
		*n = 0;
	return *n ? p : NULL;
}

bool kp_cloud_nodeclass_optional(const struct kp_cloud *cp)
{
	return cp && cp->ops && cp->ops->nodeclass_optional;
}

enum kp_cloud_err kp_cloud_nodeclass_hash(struct kp_cloud *cp, const char *nodeclass_json, struct kp_cloud_hash *out,
					  struct kp_errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	clear_msg(eb);
	if (!cp->ops->nodeclass_hash)
		return KP_CLOUD_OK;
	return ensure_msg(cp, cp->ops->nodeclass_hash(cp, nodeclass_json, out, eb), "nodeclass hash", eb);
}

enum kp_cloud_err kp_cloud_tag_instance(struct kp_cloud *cp, const char *provider_id, const char *node_name,
					const char *claim_name, struct kp_errbuf *eb)
{
	clear_msg(eb);
	if (!cp->ops->tag_instance)
		return KP_CLOUD_OK;
	return ensure_msg(cp, cp->ops->tag_instance(cp, provider_id, node_name, claim_name, eb), "tag instance", eb);
}

enum kp_cloud_err kp_cloud_nodeclass_finalize(struct kp_cloud *cp, const char *name, const char *nodeclass_json,
					      struct kp_errbuf *eb)
{
	clear_msg(eb);
	if (!cp->ops->nodeclass_finalize)
		return KP_CLOUD_OK;
	return ensure_msg(cp, cp->ops->nodeclass_finalize(cp, name, nodeclass_json, eb), "nodeclass finalize", eb);
}

void kp_cloud_destroy(struct kp_cloud *cp)
{
	if (cp && cp->ops && cp->ops->destroy)
		cp->ops->destroy(cp);
}
