/*
 * nodeclass.c - the node class status controller and the interruption
 * controller, both generic over the cloud provider:
 *   - nodeclass.status: hands every EC2NodeClass object to the provider's
 *     nodeclass_reconcile (subnets, security groups, AMIs, instance
 *     profile) and writes back the status and conditions it returns;
 *     revisited every minute (Karpenter's nodeclass controllers requeue
 *     on the same order) and on every spec change (generation);
 *   - interruption: every second drains the provider's events (AWS: the
 *     SQS interruption queue, polled in the provider's own thread) and
 *     deletes the NodeClaim of each instance to drain, gracefully, as
 *     Karpenter's interruption controller (CordonAndDrain);
 *   - nodeclaim.disruption (drift): every KARPENTER_DRIFT_POLL (5 min, as
 *     Karpenter requeues drift) asks the provider's is_drifted for each
 *     launched NodeClaim, in a thread of its own, and sets or removes the
 *     NodeClaim's Drifted condition (the disruption planner replaces
 *     drifted nodes within budgets).
 *   - nodeclass.hash (hash.c) on each visit and annotation change.
 * A provider without these operations makes both no-ops.
 *
 * Mirrors karpenter-provider-aws pkg/controllers/nodeclass (status) and
 * pkg/controllers/interruption/controller.go (handleMessage).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ext_int.h"
#include "load/load.h"

#define NC_REVISIT_MS 60000
#define NC_CALL_POLL_MS 200     /* a reconcile in flight: look again */
#define INTR_PERIOD_MS 1000

static const struct kp_kube_res RES_NC = { "karpenter.k8s.aws", "v1", "ec2nodeclasses", false };

struct nc_write {
	json_t *status;      /* provider's status (without conditions) */
	json_t *conds;       /* provider's conditions */
	int64_t wall;
};

static int nc_status_fn(void *ud, json_t *obj, struct kp_errbuf *eb)
{
	struct nc_write *w = ud;
	json_t *st = json_object_get(obj, "status"), *before, *conds, *c;
	int64_t gen = json_integer_value(kp_ctrl__jget(obj, "metadata.generation"));
	const char *k;
	json_t *v;
	size_t i;
	int same;

	(void)eb;
	if (!json_is_object(st)) {
		st = json_object();
		json_object_set_new(obj, "status", st);
	}
	before = json_deep_copy(st);
	json_object_foreach(w->status, k, v)
		json_object_set(st, k, v);
	if (!json_object_get(w->status, "instanceProfile"))
		json_object_del(st, "instanceProfile");
	conds = json_object_get(st, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(st, "conditions", conds);
	}
	json_array_foreach(w->conds, i, c)
		kp_ctrl__condition_set(conds, json_string_value(json_object_get(c, "type")),
				  json_string_value(json_object_get(c, "status")), json_string_value(json_object_get(c, "reason")),
				  json_string_value(json_object_get(c, "message")), gen, w->wall);
	same = json_equal(before, st);
	json_decref(before);
	return same ? 1 : 0;
}

int64_t kp_ctrl__nc_reconcile(struct kp_ctrl *c, const char *name)
{
	struct kp_ctrl__ext *x = c->ext;
	json_t *obj = kp_informer_get(c->inf[KPC_NODECLASSES], NULL, name);
	char *text, *st = NULL, *cj = NULL;
	struct kp_errbuf eb = { 0 };
	struct kp_kube_status ks;
	struct nc_write w;
	struct kp_ctrl__call *j;
	enum kp_cloud_err e;
	char key[400];
	int r;

	if (!obj) {
		kp_cloud_nodeclass_forget(c->o.cloud, name);
		json_object_del(x->nc_gen, name);
		return -1;
	}
	if (kp_ctrl__jget(obj, "metadata.deletionTimestamp"))
		return kp_ctrl__ncterm_reconcile(c, name, obj);   /* the finalizer (ncterm.c) */
	/* nodeclass.hash (hash.c): before the provider's status */
	obj = json_incref(obj);
	kp_ctrl__nc_hash(c, &x->log_nc, obj);
	json_decref(obj);
	obj = kp_informer_get(c->inf[KPC_NODECLASSES], NULL, name);
	if (!obj)
		return -1;
	if (!c->cloud_raw->ops->nodeclass_reconcile)
		return -1;   /* no node classes in this provider */
	text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return NC_REVISIT_MS;
	/* the provider's calls (Describe*, IAM) run off the loop thread
	 * (launcher.c); one job per class generation: a spec change while a
	 * reconcile runs starts another and the older answer is dropped */
	snprintf(key, sizeof(key), "%s@%" JSON_INTEGER_FORMAT, name,
		 json_integer_value(kp_ctrl__jget(obj, "metadata.generation")));
	r = kp_ctrl__call_poll(c, KP_CTRL_CALL_NODECLASS, key, text, &j);
	free(text);
	if (r)
		return r > 0 ? NC_CALL_POLL_MS : NC_REVISIT_MS;
	e = j->e;
	eb = j->eb;
	st = j->status;
	cj = j->conds;
	j->status = j->conds = NULL;
	kp_ctrl__call_release(c, j);
	kp_ctrl__ncterm_ensure(c, name, obj);
	if (!st) {
		/* no node classes in this provider, or the call failed */
		if (e)
			kp_log_error(&x->log_nc, "could not resolve nodeclass",
				     KP_LOG_FIELDS(kp_log_str("EC2NodeClass", name), kp_log_errmsg(eb.msg)));
		free(cj);
		return e ? NC_REVISIT_MS : -1;
	}
	w.status = json_loads(st, 0, NULL);
	w.conds = cj ? json_loads(cj, 0, NULL) : json_array();
	w.wall = kp_ctrl__wall(c);
	free(st);
	free(cj);
	if (e == KP_CLOUD_NODECLASS_NOT_READY)
		kp_log_info(&x->log_nc, "nodeclass not ready",
			    KP_LOG_FIELDS(kp_log_str("EC2NodeClass", name), kp_log_errmsg(eb.msg)));
	if (w.status && w.conds &&
	    kp_kube_retry_on_conflict(c->kc, &RES_NC, NULL, name, "status", 0, nc_status_fn, &w, NULL, &ks, &eb) &&
	    !kp_kube_is_notfound(&ks))
		kp_log_error(&x->log_nc, "could not write nodeclass status",
			     KP_LOG_FIELDS(kp_log_str("EC2NodeClass", name), kp_log_errmsg(eb.msg)));
	json_decref(w.status);
	json_decref(w.conds);
	/* NodePools read the class's readiness; the provisioner may now launch */
	kp_ctrl__prov_trigger(c);
	return NC_REVISIT_MS;
}

void kp_ctrl__nc_event(struct kp_ctrl *c, const json_t *old, const json_t *obj, bool deleted)
{
	struct kp_ctrl__ext *x = c->ext;
	const char *name = kp_ctrl__ext_name(obj);
	json_int_t gen = json_integer_value(kp_ctrl__jget(obj, "metadata.generation"));

	if (deleted) {
		kp_cloud_nodeclass_forget(c->o.cloud, name);
		json_object_del(x->nc_gen, name);
		return;
	}
	if (kp_ctrl__jget(obj, "metadata.deletionTimestamp")) {
		kp_ctrl__queue_add(&x->nodeclasses, name, 0);   /* finalize (ncterm.c) */
		return;
	}
	/* only spec changes (or the first sight): status writes come back as
	 * updates; nodeclass.hash also looks at annotation changes (hash.c) */
	if (old && json_integer_value(json_object_get(x->nc_gen, name)) == gen) {
		const json_t *a0 = kp_ctrl__jget(old, "metadata.annotations"), *a1 = kp_ctrl__jget(obj, "metadata.annotations");

		if ((a0 || a1) && !json_equal(a0, a1) && !kp_ctrl__jget(obj, "metadata.deletionTimestamp"))
			kp_ctrl__nc_hash(c, &x->log_nc, (json_t *)obj);
		return;
	}
	json_object_set_new(x->nc_gen, name, json_integer(gen));
	kp_ctrl__queue_add(&x->nodeclasses, name, 0);
}

/* ---- interruption ---- */

static json_t *claim_of_instance(struct kp_ctrl *c, const char *id)
{
	json_t **all = NULL;
	json_t *hit = NULL;
	size_t n = 0, k = strlen(id);

	if (!*id || kp_informer_list(c->inf[KPC_NODECLAIMS], NULL, &all, &n, NULL))
		return NULL;
	for (size_t i = 0; i < n && !hit; i++) {
		const char *pid = kp_ctrl__jstr(all[i], "status.providerID");
		size_t pl = pid ? strlen(pid) : 0;

		if (pl > k && strcmp(pid + pl - k, id) == 0 && pid[pl - k - 1] == '/')
			hit = all[i];
	}
	free(all);
	return hit;
}

/* Acts on one event (CordonAndDrain: delete its NodeClaim gracefully);
 * false when the NodeClaim could not be deleted (the message stays). */
static bool interruption_event(struct kp_ctrl *c, const struct kp_cloud_event *ev)
{
	struct kp_ctrl__ext *x = c->ext;
	struct kp_errbuf eb = { 0 };
	struct kp_kube_status ks;
	json_t *claim;
	const char *name;

	if (ev->kind == KP_CLOUD_EV_NOOP)
		return true;
	claim = claim_of_instance(c, ev->instance_id);
	name = claim ? kp_ctrl__ext_name(claim) : NULL;
	kp_log_info(&x->log_intr, "received interruption message",
		    KP_LOG_FIELDS(kp_log_str("messageKind", ev->kind_name), kp_log_str("instanceID", ev->instance_id),
				  kp_log_str("NodeClaim", name ? name : "")));
	if (!claim || !ev->drain || kp_ctrl__jget(claim, "metadata.deletionTimestamp"))
		return true;
	kp_ctrl__event(c, "NodeClaim", "karpenter.sh/v1", NULL, name, kp_ctrl__jstr(claim, "metadata.uid"), "Warning",
		       "Interrupted", ev->kind_name);
	if (kp_kube_delete(c->kc, &KP_KUBE_NODECLAIMS, NULL, name, KP_PROPAGATE_DEFAULT, NULL, &ks, &eb) &&
	    !kp_kube_is_notfound(&ks)) {
		kp_log_error(&x->log_intr, "could not delete nodeclaim",
			     KP_LOG_FIELDS(kp_log_str("NodeClaim", name), kp_log_errmsg(eb.msg)));
		return false;
	}
	kp_log_info(&x->log_intr, "initiating delete from interruption message",
		    KP_LOG_FIELDS(kp_log_str("messageKind", ev->kind_name), kp_log_str("NodeClaim", name)));
	return true;
}

/* controller.go Reconcile per message: an unparseable one is logged and
 * deleted; a parsed one is counted (received_messages_total{message_type}),
 * handled, its queue time observed, then deleted (ack_event,
 * deleted_messages_total); a failure leaves it for redelivery. The events
 * of one message are consecutive and share ev.msg. */
static void interruption_tick(void *ud)
{
	struct kp_ctrl *c = ud;
	struct kp_ctrl__ext *x = c->ext;
	struct kp_arena a;
	struct kp_cloud_event *ev = NULL;
	struct kp_errbuf eb = { 0 };
	int n = 0;

	kp_arena_init(&a);
	if (!kp_cloud_poll_events(c->o.cloud, &a, &ev, &n, &eb)) {
		for (int i = 0, j; i < n; i = j) {
			bool ok = true, parsed = ev[i].kind != KP_CLOUD_EV_UNPARSEABLE;

			for (j = i + 1; j < n && ev[i].msg && kp_strcmp0(ev[j].msg, ev[i].msg) == 0; j++)
				;
			if (!parsed) {
				kp_log_error(&x->log_intr, "failed parsing interruption message; deleted",
					     KP_LOG_FIELDS(kp_log_str("messageKind", ev[i].kind_name)));
			} else if (c->m.interruption_received_messages_total) {
				kp_metrics_inc(c->m.interruption_received_messages_total, KP_LV(ev[i].kind_name));
			}
			for (int k = i; parsed && k < j; k++)
				ok = interruption_event(c, &ev[k]) && ok;
			if (!ok)
				continue;
			if (parsed && ev[i].sent_ms > 0 && c->m.interruption_message_queue_duration_seconds)
				kp_metrics_observe(c->m.interruption_message_queue_duration_seconds, NULL, 0,
						   (double)(kp_ctrl__wall(c) - ev[i].sent_ms) / 1000.0);
			if (!ev[i].msg)
				continue;
			if (kp_cloud_ack_event(c->o.cloud, ev[i].msg, &eb))
				kp_log_error(&x->log_intr, "could not delete interruption message",
					     KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
			else if (c->m.interruption_deleted_messages_total)
				kp_metrics_inc(c->m.interruption_deleted_messages_total, NULL, 0);
		}
	}
	kp_arena_free(&a);
	if (c->controllers_on)
		kp_kube_timer_start(c->loop, &x->intr_timer, INTR_PERIOD_MS, interruption_tick, c);
}

void kp_ctrl__intr_start(struct kp_ctrl *c)
{
	kp_kube_timer_start(c->loop, &c->ext->intr_timer, INTR_PERIOD_MS, interruption_tick, c);
}

void kp_ctrl__intr_stop(struct kp_ctrl *c)
{
	kp_kube_timer_stop(c->loop, &c->ext->intr_timer);
}

/* ---- cloud drift ---- */

struct kp_ctrl__drift_job {
	struct kp_cluster cl;            /* the claims, decoded */
	struct kp_cloud *cloud;          /* c->cloud_raw */
	char **reason;                   /* per claim: "" not drifted, reason, or NULL unknown */
	char **err;                      /* per claim: the error when reason is NULL */
	pthread_t th;
	atomic_int done;
};

static void *drift_main(void *arg)
{
	struct kp_ctrl__drift_job *j = arg;

	for (int i = 0; i < j->cl.nclaims; i++) {
		char reason[128] = "";
		struct kp_errbuf eb = { 0 };

		if (kp_cloud_is_drifted(j->cloud, j->cl.claims[i], reason, sizeof(reason), &eb) == KP_CLOUD_OK)
			j->reason[i] = strdup(reason);
		else
			j->err[i] = strdup(eb.msg);
	}
	atomic_store_explicit(&j->done, 1, memory_order_release);
	return NULL;
}

static void drift_job_free(struct kp_ctrl__drift_job *j)
{
	if (!j)
		return;
	pthread_join(j->th, NULL);
	for (int i = 0; i < j->cl.nclaims; i++) {
		free(j->reason[i]);
		free(j->err[i]);
	}
	free(j->reason);
	free(j->err);
	kp_cluster_free(&j->cl);
	free(j);
}

/* Writes the finished pass's conditions (loop thread). */
static void drift_apply(struct kp_ctrl *c, struct kp_ctrl__drift_job *j)
{
	struct kp_ctrl__ext *x = c->ext;

	for (int i = 0; i < j->cl.nclaims; i++) {
		const char *name = j->cl.claims[i]->name, *r = j->reason[i];
		json_t *obj = name ? kp_ctrl__claim_get(c, name) : NULL;
		bool has = obj && kp_ctrl__condition_true(obj, "Drifted");

		if (!r && j->err[i])
			kp_log_error(&x->log_drift, "could not check drift",
				     KP_LOG_FIELDS(kp_log_str("NodeClaim", name ? name : ""), kp_log_errmsg(j->err[i])));
		if (!r || !obj || kp_ctrl__jget(obj, "metadata.deletionTimestamp"))
			continue;
		if (*r && !has) {
			kp_log_info(&x->log_drift, "marking drifted", KP_LOG_FIELDS(kp_log_str("NodeClaim", name),
										  kp_log_str("reason", r)));
			kp_ctrl__ext_claim_condition(c, &x->log_drift, name, "Drifted", "True", r, r);
		} else if (!*r && has && !kp_ctrl__claim_drift_is_static(obj)) {
			kp_ctrl__ext_claim_condition(c, &x->log_drift, name, "Drifted", NULL, NULL, NULL);
		}
	}
}

static void drift_tick(void *ud)
{
	struct kp_ctrl *c = ud;
	struct kp_ctrl__ext *x = c->ext;
	struct kp_ctrl__drift_job *j = x->drift;
	json_t **all = NULL;
	size_t n = 0;

	if (!c->controllers_on)
		return;
	if (j) {
		if (!atomic_load_explicit(&j->done, memory_order_acquire)) {
			kp_kube_timer_start(c->loop, &x->drift_timer, 500, drift_tick, c);
			return;
		}
		drift_apply(c, j);
		drift_job_free(j);
		x->drift = NULL;
		kp_kube_timer_start(c->loop, &x->drift_timer, x->drift_poll_ms, drift_tick, c);
		return;
	}
	/* start a pass over the launched, not deleting NodeClaims */
	j = calloc(1, sizeof(*j));
	if (!j || kp_informer_list(c->inf[KPC_NODECLAIMS], NULL, &all, &n, NULL)) {
		free(j);
		kp_kube_timer_start(c->loop, &x->drift_timer, x->drift_poll_ms, drift_tick, c);
		return;
	}
	kp_cluster_init(&j->cl);
	j->cl.resnames = c->rn;
	j->cloud = c->cloud_raw;
	for (size_t i = 0; i < n; i++) {
		struct kp_load_opts lo = { NULL, 0 };

		if (!kp_ctrl__jstr(all[i], "status.providerID") || !kp_ctrl__condition_true(all[i], "Launched") ||
		    kp_ctrl__jget(all[i], "metadata.deletionTimestamp"))
			continue;
		kp_load_object(&j->cl, all[i], "NodeClaim", "karpenter.sh/v1", "NodeClaim", &lo, NULL);
	}
	free(all);
	j->reason = calloc((size_t)(j->cl.nclaims ? j->cl.nclaims : 1), sizeof(*j->reason));
	j->err = calloc((size_t)(j->cl.nclaims ? j->cl.nclaims : 1), sizeof(*j->err));
	atomic_init(&j->done, 0);
	if (!j->reason || !j->err || j->cl.nclaims == 0 || pthread_create(&j->th, NULL, drift_main, j) != 0) {
		free(j->reason);
		free(j->err);
		kp_cluster_free(&j->cl);
		free(j);
		kp_kube_timer_start(c->loop, &x->drift_timer, x->drift_poll_ms, drift_tick, c);
		return;
	}
	x->drift = j;
	kp_kube_timer_start(c->loop, &x->drift_timer, 500, drift_tick, c);
}

void kp_ctrl__drift_start(struct kp_ctrl *c)
{
	kp_kube_timer_start(c->loop, &c->ext->drift_timer, c->ext->drift_poll_ms, drift_tick, c);
}

void kp_ctrl__drift_stop(struct kp_ctrl *c)
{
	if (c->loop)
		kp_kube_timer_stop(c->loop, &c->ext->drift_timer);
}

void kp_ctrl__drift_free(struct kp_ctrl *c)
{
	drift_job_free(c->ext->drift);
	c->ext->drift = NULL;
}
