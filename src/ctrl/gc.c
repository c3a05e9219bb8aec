/*
 * gc.c - garbage collection between the cluster and the cloud.
 *
 * Mirrors Karpenter v1 pkg/controllers/nodeclaim/garbagecollection (every
 * 2 min: a Registered NodeClaim, not deleting, whose providerID the cloud
 * no longer lists, is deleted, unless its Node is Ready; counted in
 * nodeclaims_disrupted_total{reason="garbage_collected"}), plus what
 * Karpenter leaves to providers (the AWS provider's instance garbage
 * collection): an instance the cloud lists that is older than a grace
 * period, not already terminating (a stopped one is collected: it still
 * exists, as in instance.go), and whose NodeClaim tag names no
 * NodeClaim the controller knows (the informer's, one just created, or one
 * whose launch it remembers) is terminated.
 *
 * Invariants: an instance is never terminated while any NodeClaim of that
 * name exists (a claim is created before its instance is launched, so the
 * grace period covers only the informer's lag); a pass runs only when the
 * caches have synced. The List and the Deletes run off the loop thread
 * (kp_ctrl__call_poll). Cost: one cloud List per period, O(instances +
 * claims) matching with a sorted name index, one API or cloud call per
 * collected object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ext_int.h"
#include "karpenter/labels.h"

#define GC_CALL_POLL_MS 200   /* the List in flight: look again */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool in_sorted(const char **v, size_t n, const char *s)
{
	return s && n && bsearch(&s, v, n, sizeof(*v), cmp_str) != NULL;
}

static void collect_claims(struct kp_ctrl *c, json_t **claims, size_t nclaims, const char **pids, size_t npids)
{
	for (size_t i = 0; i < nclaims; i++) {
		json_t *nc = claims[i], *node, *labels;
		const char *pid = kp_ctrl__jstr(nc, "status.providerID"), *name = kp_ctrl__ext_name(nc);
		const char *pool, *cap;
		struct kp_kube_status ks;
		struct kp_errbuf eb = { 0 };

		if (!kp_ctrl__condition_true(nc, "Registered") || kp_ctrl__jget(nc, "metadata.deletionTimestamp") || !pid || !*pid ||
		    in_sorted(pids, npids, pid))
			continue;
		node = kp_ctrl__ext_node_for_claim(c, nc);
		if (node && kp_ctrl__condition_true(node, "Ready"))
			continue;
		if (kp_kube_delete(c->kc, &KP_KUBE_NODECLAIMS, NULL, name, KP_PROPAGATE_DEFAULT, kp_ctrl__jstr(nc, "metadata.uid"),
				   &ks, &eb)) {
			if (!kp_kube_is_notfound(&ks))
				kp_log_error(&c->ext->log_gc, "failed to delete nodeclaim",
					     KP_LOG_FIELDS(kp_log_object("NodeClaim", name), kp_log_errmsg(eb.msg)));
			continue;
		}
		kp_log_info(&c->ext->log_gc, "garbage collecting nodeclaim with no cloudprovider representation",
			    KP_LOG_FIELDS(kp_log_object("NodeClaim", name),
					  kp_log_object("Node", kp_ctrl__jstr(nc, "status.nodeName") ? kp_ctrl__jstr(nc, "status.nodeName") : ""),
					  kp_log_str("provider-id", pid)));
		labels = kp_ctrl__jget(nc, "metadata.labels");
		pool = json_string_value(json_object_get(labels, KP_LABEL_NODEPOOL));
		cap = json_string_value(json_object_get(labels, KP_LABEL_CAPACITY_TYPE));
		if (c->m.nodeclaims_disrupted_total)
			kp_metrics_inc(c->m.nodeclaims_disrupted_total,
				       KP_LV("garbage_collected", pool ? pool : "", cap ? cap : "", "", "graceful"));
	}
}

static void collect_instances(struct kp_ctrl *c, const struct kp_instance *inst, int n, const char **names,
			      size_t nnames)
{
	int64_t wall = kp_ctrl__wall(c);

	for (int i = 0; i < n; i++) {
		const struct kp_instance *in = &inst[i];
		struct kp_errbuf eb = { 0 };
		struct kp_ctrl__call *j;
		enum kp_cloud_err e;
		char key[600];

		if (!in->provider_id)
			continue;
		if (in->state == KP_INSTANCE_TERMINATING || in->state == KP_INSTANCE_TERMINATED)
			continue;
		snprintf(key, sizeof(key), "gc:%s", in->provider_id);   /* GC's own Deletes */
		if (in->launched * 1000 + c->ext->gc_grace_ms > wall)
			continue;
		if (in->nodeclaim && (in_sorted(names, nnames, in->nodeclaim) || kp_ctrl__claim_get(c, in->nodeclaim) ||
				      json_object_get(c->launched, in->nodeclaim)))
			continue;
		/* off the loop thread (launcher.c): a pass that finds the call
		 * still running leaves it to the next pass */
		if (kp_ctrl__call_poll(c, KP_CTRL_CALL_DELETE, key, in->provider_id, &j) != 0)
			continue;
		e = j->e;
		eb = j->eb;
		kp_ctrl__call_release(c, j);
		if (e && e != KP_CLOUD_NOT_FOUND) {
			kp_log_error(&c->ext->log_gc, "failed to terminate orphaned instance",
				     KP_LOG_FIELDS(kp_log_str("provider-id", in->provider_id), kp_log_errmsg(eb.msg)));
			continue;
		}
		kp_log_info(&c->ext->log_gc, "garbage collecting instance with no nodeclaim",
			    KP_LOG_FIELDS(kp_log_str("provider-id", in->provider_id),
					  kp_log_str("nodeclaim", in->nodeclaim ? in->nodeclaim : ""),
					  kp_log_str("instance-type", in->instance_type ? in->instance_type : ""),
					  kp_log_int("age-seconds", (wall / 1000) - in->launched)));
	}
}

/* The Deletes earlier passes started and did not see finish (the cloud
 * no longer lists a terminated instance): their outcome, logged. */
static void reap_deletes(struct kp_ctrl *c)
{
	static const char PREFIX[] = "delete:gc:";

	for (int i = c->ncalls - 1; i >= 0; i--) {
		struct kp_ctrl__call *j = c->calls[i];

		if (strncmp(j->key, PREFIX, sizeof(PREFIX) - 1) != 0 || !atomic_load_explicit(&j->done, memory_order_acquire))
			continue;
		if (j->e && j->e != KP_CLOUD_NOT_FOUND)
			kp_log_error(&c->ext->log_gc, "failed to terminate orphaned instance",
				     KP_LOG_FIELDS(kp_log_str("provider-id", j->arg), kp_log_errmsg(j->eb.msg)));
		else
			kp_log_info(&c->ext->log_gc, "garbage collecting instance with no nodeclaim",
				    KP_LOG_FIELDS(kp_log_str("provider-id", j->arg)));
		kp_ctrl__call_release(c, j);
	}
}

static void gc_pass(void *ud)
{
	struct kp_ctrl *c = ud;
	struct kp_ctrl__call *lj = NULL;
	struct kp_instance *inst = NULL;
	struct kp_errbuf eb = { 0 };
	json_t **claims = NULL;
	size_t nclaims = 0, npids = 0, nnames = 0;
	const char **pids = NULL, **names = NULL;
	int n = 0, r;

	if (!c->controllers_on)
		return;
	if (!atomic_load(&c->ready)) {
		kp_kube_timer_start(c->loop, &c->ext->gc_timer, 1000, gc_pass, c);
		return;
	}
	reap_deletes(c);
	c->cloud_caller = "nodeclaim.garbagecollection";
	/* the List runs off the loop thread (launcher.c): come back for it */
	r = kp_ctrl__call_poll(c, KP_CTRL_CALL_LIST, "gc", "", &lj);
	if (r > 0) {
		c->cloud_caller = NULL;
		kp_kube_timer_start(c->loop, &c->ext->gc_timer, GC_CALL_POLL_MS, gc_pass, c);
		return;
	}
	if (r < 0)
		goto out;
	if (lj->e) {
		kp_log_error(&c->ext->log_gc, "failed to list instances", KP_LOG_FIELDS(kp_log_errmsg(lj->eb.msg)));
		goto out;
	}
	inst = lj->all;
	n = lj->n;
	if (kp_informer_list(c->inf[KPC_NODECLAIMS], NULL, &claims, &nclaims, &eb))
		goto out;
	pids = calloc((size_t)n + 1, sizeof(*pids));
	names = calloc(nclaims + 1, sizeof(*names));
	if (!pids || !names)
		goto out;
	for (int i = 0; i < n; i++)
		if (inst[i].provider_id && inst[i].state != KP_INSTANCE_TERMINATED && inst[i].state != KP_INSTANCE_TERMINATING)
			pids[npids++] = inst[i].provider_id;
	qsort(pids, npids, sizeof(*pids), cmp_str);
	for (size_t i = 0; i < nclaims; i++)
		names[nnames++] = kp_ctrl__ext_name(claims[i]);
	qsort(names, nnames, sizeof(*names), cmp_str);
	collect_claims(c, claims, nclaims, pids, npids);
	collect_instances(c, inst, n, names, nnames);
out:
	c->cloud_caller = NULL;
	free(pids);
	free(names);
	free(claims);
	if (lj)
		kp_ctrl__call_release(c, lj);
	kp_kube_timer_start(c->loop, &c->ext->gc_timer, c->ext->gc_period_ms, gc_pass, c);
}

void kp_ctrl__gc_start(struct kp_ctrl *c)
{
	kp_kube_timer_start(c->loop, &c->ext->gc_timer, c->ext->gc_period_ms, gc_pass, c);
}

void kp_ctrl__gc_stop(struct kp_ctrl *c)
{
	if (c->loop)
		kp_kube_timer_stop(c->loop, &c->ext->gc_timer);
}
