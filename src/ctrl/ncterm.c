/*
 * ncterm.c - the node class termination controller: the finalizer
 * karpenter.k8s.aws/termination on every EC2NodeClass the status
 * controller (nodeclass.c) reconciles, and what happens when such a class
 * is deleted:
 *   - while NodeClaims still reference it (spec.nodeClassRef), a Normal
 *     event WaitingOnNodeClaimTermination on the class (at most one per
 *     class every 2 minutes, as Karpenter's recorder dedupes it) and a
 *     visit every 10 s, plus one as soon as such a NodeClaim goes;
 *   - then the provider's nodeclass_finalize (AWS: the class's launch
 *     templates and the instance profile it created from spec.role), off
 *     the loop thread like every cloud call (kp_ctrl__call_poll); an error
 *     keeps the finalizer and is retried after 10 s;
 *   - then the provider forgets the class and the finalizer is removed.
 * Generic over the provider: one without nodeclass_finalize gets no
 * finalizer (deleting a class never waits), and a finalizer left by an
 * earlier run with another provider is simply removed.
 *
 * Mirrors karpenter-provider-aws pkg/controllers/nodeclass/termination.go
 * (Reconcile/finalize) and events.go (WaitingOnNodeClaimTerminationEvent),
 * with the finalizer added as controller.go Reconcile does.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ext_int.h"

#define NCT_WAIT_MS 10000        /* claims left, or a failed finalize: look again */
#define NCT_POLL_MS 200          /* a provider call in flight */
#define NCT_EVENT_DEDUPE_MS 120000
#define NCT_SHOW 5               /* names in the event (utils.PrettySlice) */
#define NCT_MSG "Waiting on NodeClaim termination for "

static const struct kp_kube_res RES_NC = { "karpenter.k8s.aws", "v1", "ec2nodeclasses", false };

bool kp_ctrl__ncterm_enabled(const struct kp_ctrl *c)
{
	return c->cloud_raw && c->cloud_raw->ops->nodeclass_finalize;
}

static int add_fn(void *ud, json_t *obj, struct kp_errbuf *eb)
{
	(void)ud;
	(void)eb;
	if (kp_ctrl__jget(obj, "metadata.deletionTimestamp"))
		return 1;   /* finalizers can no longer be added */
	return kp_kobj_add_finalizer(obj, KPC_NC_FINALIZER) ? 0 : 1;
}

static int drop_fn(void *ud, json_t *obj, struct kp_errbuf *eb)
{
	(void)ud;
	(void)eb;
	return kp_kobj_remove_finalizer(obj, KPC_NC_FINALIZER) ? 0 : 1;
}

void kp_ctrl__ncterm_ensure(struct kp_ctrl *c, const char *name, const json_t *obj)
{
	struct kp_errbuf eb = { 0 };
	struct kp_kube_status ks;

	if (!kp_ctrl__ncterm_enabled(c) || kp_ctrl__has_finalizer(obj, KPC_NC_FINALIZER) ||
	    kp_ctrl__jget(obj, "metadata.deletionTimestamp"))
		return;
	if (kp_kube_retry_on_conflict(c->kc, &RES_NC, NULL, name, NULL, 0, add_fn, NULL, NULL, &ks, &eb) &&
	    !kp_kube_is_notfound(&ks))
		kp_log_error(&c->ext->log_nc, "failed to add finalizer",
			     KP_LOG_FIELDS(kp_log_str("EC2NodeClass", name), kp_log_errmsg(eb.msg)));
}

/* Does the NodeClaim point at the EC2NodeClass name? */
static bool claim_uses(const json_t *claim, const char *name)
{
	const char *n = kp_ctrl__jstr(claim, "spec.nodeClassRef.name");
	const char *g = kp_ctrl__jstr(claim, "spec.nodeClassRef.group");
	const char *k = kp_ctrl__jstr(claim, "spec.nodeClassRef.kind");

	return n && strcmp(n, name) == 0 && (!g || !*g || strcmp(g, "karpenter.k8s.aws") == 0) &&
	       (!k || !*k || strcmp(k, "EC2NodeClass") == 0);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names of the NodeClaims using the class, sorted, in a malloc'd array
 * (*n of them; NULL when none or on failure). */
static const char **claims_of(struct kp_ctrl *c, const char *name, size_t *n)
{
	json_t **all = NULL;
	const char **names;
	size_t na = 0;

	*n = 0;
	if (kp_informer_list(c->inf[KPC_NODECLAIMS], NULL, &all, &na, NULL) || na == 0) {
		free(all);
		return NULL;
	}
	names = calloc(na, sizeof(*names));
	for (size_t i = 0; names && i < na; i++)
		if (claim_uses(all[i], name))
			names[(*n)++] = kp_ctrl__ext_name(all[i]);
	free(all);
	if (names && *n)
		qsort(names, *n, sizeof(*names), name_cmp);
	return names;
}

/* Karpenter's WaitingOnNodeClaimTerminationEvent, deduped per class. */
static void waiting_event(struct kp_ctrl *c, const char *name, const json_t *obj, const char **names, size_t n)
{
	struct kp_ctrl__ext *x = c->ext;
	int64_t now = kp_ctrl__now(c);
	json_t *last = json_object_get(x->nc_wait, name);
	struct kp_buf b;
	char *msg;

	if (last && now - json_integer_value(last) < NCT_EVENT_DEDUPE_MS)
		return;
	kp_buf_init(&b, 4096);
	kp_buf_printf(&b, "%s", NCT_MSG);
	for (size_t i = 0; i < n; i++) {
		if (i >= NCT_SHOW) {
			kp_buf_printf(&b, " and %zu other(s)", n - i);
			break;
		}
		kp_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
	}
	msg = kp_buf_take(&b);
	if (!msg)
		return;
	kp_ctrl__event(c, "EC2NodeClass", "karpenter.k8s.aws/v1", NULL, name, kp_ctrl__jstr(obj, "metadata.uid"), "Normal",
		       "WaitingOnNodeClaimTermination", msg);
	kp_log_info(&x->log_nc, "waiting on nodeclaim termination",
		    KP_LOG_FIELDS(kp_log_str("EC2NodeClass", name), kp_log_str("NodeClaims", msg + strlen(NCT_MSG))));
	free(msg);
	json_object_set_new(x->nc_wait, name, json_integer(now));
}

/* Is a status reconcile of the class still running (nodeclass.c starts one
 * per generation, keyed "nodeclass:<name>@<generation>")? Finalizing while
 * it runs could let it re-create what the finalize deletes. */
static bool reconcile_running(struct kp_ctrl *c, const char *name)
{
	size_t nl = strlen(name);

	for (int i = 0; i < c->ncalls; i++) {
		const struct kp_ctrl__call *j = c->calls[i];

		if (j->kind == KP_CTRL_CALL_NODECLASS && strncmp(j->key, "nodeclass:", 10) == 0 &&
		    strncmp(j->key + 10, name, nl) == 0 && j->key[10 + nl] == '@' &&
		    !atomic_load_explicit(&j->done, memory_order_acquire))
			return true;
	}
	return false;
}

int64_t kp_ctrl__ncterm_reconcile(struct kp_ctrl *c, const char *name, json_t *obj)
{
	struct kp_ctrl__ext *x = c->ext;
	struct kp_errbuf eb = { 0 };
	struct kp_kube_status ks;
	const char **names;
	size_t n = 0;

	if (!kp_ctrl__has_finalizer(obj, KPC_NC_FINALIZER))
		return -1;
	if (reconcile_running(c, name))
		return NCT_POLL_MS;
	names = claims_of(c, name, &n);
	if (n > 0) {
		waiting_event(c, name, obj, names, n);
		free(names);
		return NCT_WAIT_MS;
	}
	free(names);
	if (kp_ctrl__ncterm_enabled(c)) {
		struct kp_ctrl__call *j;
		char *text = json_dumps(obj, JSON_COMPACT);
		enum kp_cloud_err e;
		int r;

		if (!text)
			return NCT_WAIT_MS;
		r = kp_ctrl__call_poll(c, KP_CTRL_CALL_NODECLASS_FINALIZE, name, text, &j);
		free(text);
		if (r)
			return r > 0 ? NCT_POLL_MS : NCT_WAIT_MS;
		e = j->e;
		eb = j->eb;
		kp_ctrl__call_release(c, j);
		if (e) {
			kp_log_error(&x->log_nc, "could not finalize nodeclass",
				     KP_LOG_FIELDS(kp_log_str("EC2NodeClass", name), kp_log_errmsg(eb.msg)));
			return NCT_WAIT_MS;
		}
	}
	kp_cloud_nodeclass_forget(c->o.cloud, name);
	if (kp_kube_retry_on_conflict(c->kc, &RES_NC, NULL, name, NULL, 0, drop_fn, NULL, NULL, &ks, &eb) &&
	    !kp_kube_is_notfound(&ks)) {
		kp_log_error(&x->log_nc, "failed to remove finalizer",
			     KP_LOG_FIELDS(kp_log_str("EC2NodeClass", name), kp_log_errmsg(eb.msg)));
		return NCT_WAIT_MS;
	}
	json_object_del(x->nc_wait, name);
	kp_log_info(&x->log_nc, "finalized nodeclass", KP_LOG_FIELDS(kp_log_str("EC2NodeClass", name)));
	return -1;
}

void kp_ctrl__ncterm_claim_event(struct kp_ctrl *c, const json_t *claim, bool deleted)
{
	const char *cls = kp_ctrl__jstr(claim, "spec.nodeClassRef.name");
	json_t *obj;

	if (!deleted || !cls || !claim_uses(claim, cls) || !c->inf[KPC_NODECLASSES])
		return;
	obj = kp_informer_get(c->inf[KPC_NODECLASSES], NULL, cls);
	if (obj && kp_ctrl__jget(obj, "metadata.deletionTimestamp") && kp_ctrl__has_finalizer(obj, KPC_NC_FINALIZER))
		kp_ctrl__queue_add(&c->ext->nodeclasses, cls, 0);
}
