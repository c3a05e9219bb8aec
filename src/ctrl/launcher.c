/*
 * launcher.c - NodeClaim launches off the controller's loop thread. The
 * loop thread runs every watch and the Lease renewal; a CreateFleet can
 * take seconds (and a slow or throttled cloud longer), so the lifecycle
 * controller hands each launch (find an instance already tagged with the
 * claim, else Create) to a thread of its own and polls for the result:
 * watches keep flowing and the Lease keeps being renewed while launches
 * are in flight (issue 10).
 *
 * Ownership: a job belongs to the loop thread (c->launches) from
 * kp_ctrl__launch_poll until kp_ctrl__launch_release; the worker writes only its own
 * job and publishes it with a release store on done. The worker calls the
 * provider as given (c->cloud_raw; providers are thread-safe), never the
 * metrics decorator; the lifecycle controller records the call's duration
 * and error on the loop thread. kp_ctrl__launch_free_all joins every worker
 * (before the provider is destroyed).
 *
 * The other cloud calls the controllers make (Get and Delete for
 * termination and finalization, List and Delete for garbage collection,
 * the node class reconcile, the tagging of registered instances) run the
 * same way: kp_ctrl__call_poll starts a thread per (kind, key) and the
 * caller comes back for the result, so no
 * API call (each may take seconds on a slow or throttled cloud) runs on the
 * loop thread. Karpenter's controllers each run in goroutines of their own;
 * this is the single-loop equivalent.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctrl/ctrl_int.h"
#include "load/load.h"

#define LAUNCH_WAIT_MS 30    /* a fast cloud answers within the visit */

static void *worker(void *arg)
{
	struct kp_ctrl__launch *j = arg;
	struct kp_cluster cl;
	struct kp_load_opts lo = { NULL, 0 };
	struct kp_instance *all = NULL;
	int n = 0;
	int64_t t0 = kp_kube_now_mono(j->clock);

	kp_cluster_init(&cl);
	cl.resnames = j->rn;
	j->e = KP_CLOUD_NOT_FOUND;
	if (kp_load_object(&cl, j->obj, "NodeClaim", "karpenter.sh/v1", "NodeClaim", &lo, &j->eb) || cl.nclaims != 1) {
		j->e = KP_CLOUD_INTERNAL;
		goto out;
	}
	/* an instance launched for it already (remembered, or after a restart
	 * found by its tag): adopt it rather than launch a second one */
	if (j->memo[0])
		j->e = kp_cloud_get(j->cloud, j->memo, &j->a, &j->inst, &j->eb);
	if (j->e == KP_CLOUD_NOT_FOUND && !(j->e = kp_cloud_list(j->cloud, &j->a, &all, &n, &j->eb))) {
		j->e = KP_CLOUD_NOT_FOUND;
		for (int i = 0; i < n; i++)
			if (all[i].nodeclaim && strcmp(all[i].nodeclaim, j->name) == 0 &&
			    all[i].state != KP_INSTANCE_TERMINATING && all[i].state != KP_INSTANCE_TERMINATED) {
				j->inst = all[i];
				j->e = KP_CLOUD_OK;
				break;
			}
	}
	if (j->e == KP_CLOUD_NOT_FOUND) {
		t0 = kp_kube_now_mono(j->clock);
		memset(&j->eb, 0, sizeof(j->eb));
		j->created = true;
		j->e = kp_cloud_create(j->cloud, cl.claims[0], &j->a, &j->inst, &j->eb);
	}
out:
	j->ms = kp_kube_now_mono(j->clock) - t0;
	kp_cluster_free(&cl);
	atomic_store_explicit(&j->done, 1, memory_order_release);
	return NULL;
}

static struct kp_ctrl__launch *find(struct kp_ctrl *c, const char *name)
{
	for (int i = 0; i < c->nlaunches; i++)
		if (strcmp(c->launches[i]->name, name) == 0)
			return c->launches[i];
	return NULL;
}

int kp_ctrl__launch_poll(struct kp_ctrl *c, const char *name, const json_t *obj, const char *memo, struct kp_ctrl__launch **out)
{
	struct kp_ctrl__launch *j = find(c, name), **v;

	*out = NULL;
	if (!j) {
		if (strlen(name) >= sizeof(j->name) || (memo && strlen(memo) >= sizeof(j->memo)))
			return -1;
		j = calloc(1, sizeof(*j));
		v = realloc(c->launches, (size_t)(c->nlaunches + 1) * sizeof(*v));
		if (!j || !v) {
			free(j);
			if (v)
				c->launches = v;
			return -1;
		}
		c->launches = v;
		memcpy(j->name, name, strlen(name) + 1);
		if (memo)
			memcpy(j->memo, memo, strlen(memo) + 1);
		j->obj = json_deep_copy(obj);
		j->cloud = c->cloud_raw;
		j->rn = c->rn;
		j->clock = c->o.clock;
		kp_arena_init(&j->a);
		atomic_init(&j->done, 0);
		if (!j->obj || pthread_create(&j->th, NULL, worker, j) != 0) {
			json_decref(j->obj);
			free(j);
			return -1;
		}
		c->launches[c->nlaunches++] = j;
		for (int w = 0; w < LAUNCH_WAIT_MS && !atomic_load_explicit(&j->done, memory_order_acquire); w++) {
			struct timespec ts = { 0, 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	if (!atomic_load_explicit(&j->done, memory_order_acquire))
		return 1;
	*out = j;
	return 0;
}

int kp_ctrl__launch_inflight(const struct kp_ctrl *c)
{
	int n = 0;

	for (int i = 0; i < c->nlaunches; i++)
		n += !atomic_load_explicit(&c->launches[i]->done, memory_order_acquire);
	return n;
}

void kp_ctrl__launch_release(struct kp_ctrl *c, struct kp_ctrl__launch *j)
{
	for (int i = 0; i < c->nlaunches; i++) {
		if (c->launches[i] != j)
			continue;
		c->launches[i] = c->launches[--c->nlaunches];
		break;
	}
	pthread_join(j->th, NULL);
	json_decref(j->obj);
	kp_arena_free(&j->a);
	free(j);
}

void kp_ctrl__launch_free_all(struct kp_ctrl *c)
{
	while (c->nlaunches > 0)
		kp_ctrl__launch_release(c, c->launches[c->nlaunches - 1]);
	free(c->launches);
	c->launches = NULL;
	while (c->ncalls > 0)
		kp_ctrl__call_release(c, c->calls[c->ncalls - 1]);
	free(c->calls);
	c->calls = NULL;
}

/* ---- other cloud calls ---- */

#define CALL_STALE_MS 300000   /* > the GC period (2 min): GC reaps its own */

static const char *const CALL_KIND[] = { "get", "delete", "list", "nodeclass", "tag", "ncfinalize" };

static void *call_worker(void *arg)
{
	struct kp_ctrl__call *j = arg;
	int64_t t0 = kp_kube_now_mono(j->clock);

	switch (j->kind) {
	case KP_CTRL_CALL_GET:
		j->e = kp_cloud_get(j->cloud, j->arg, &j->a, &j->inst, &j->eb);
		break;
	case KP_CTRL_CALL_DELETE:
		j->e = kp_cloud_delete(j->cloud, j->arg, &j->eb);
		break;
	case KP_CTRL_CALL_LIST:
		j->e = kp_cloud_list(j->cloud, &j->a, &j->all, &j->n, &j->eb);
		break;
	case KP_CTRL_CALL_NODECLASS:
		j->e = kp_cloud_nodeclass_reconcile(j->cloud, j->arg, &j->status, &j->conds, &j->eb);
		break;
	case KP_CTRL_CALL_TAG: {
		json_t *t = json_loads(j->arg, 0, NULL);

		j->e = t ? kp_cloud_tag_instance(j->cloud, json_string_value(json_object_get(t, "providerID")),
						 json_string_value(json_object_get(t, "nodeName")),
						 json_string_value(json_object_get(t, "nodeClaim")), &j->eb)
			 : kp_cloud_errf(&j->eb, KP_CLOUD_INTERNAL, "tag: bad arguments");
		json_decref(t);
		break;
	}
	case KP_CTRL_CALL_NODECLASS_FINALIZE:
		/* the key is "ncfinalize:<name>" */
		j->e = kp_cloud_nodeclass_finalize(j->cloud, strchr(j->key, ':') + 1, j->arg, &j->eb);
		break;
	}
	j->ms = kp_kube_now_mono(j->clock) - t0;
	atomic_store_explicit(&j->done, 1, memory_order_release);
	return NULL;
}

void kp_ctrl__call_release(struct kp_ctrl *c, struct kp_ctrl__call *j)
{
	for (int i = 0; i < c->ncalls; i++) {
		if (c->calls[i] != j)
			continue;
		c->calls[i] = c->calls[--c->ncalls];
		break;
	}
	pthread_join(j->th, NULL);
	kp_arena_free(&j->a);
	free(j->status);
	free(j->conds);
	free(j->arg);
	free(j->key);
	free(j);
}

/* Frees finished jobs nobody came back for (their caller moved on: the
 * object went away, a GC candidate was adopted). */
static void call_reap(struct kp_ctrl *c, int64_t now)
{
	for (int i = c->ncalls - 1; i >= 0; i--) {
		struct kp_ctrl__call *j = c->calls[i];

		if (!atomic_load_explicit(&j->done, memory_order_acquire))
			continue;
		if (!j->done_ms)
			j->done_ms = now;
		else if (now - j->done_ms > CALL_STALE_MS)
			kp_ctrl__call_release(c, j);
	}
}

int kp_ctrl__call_poll(struct kp_ctrl *c, enum kp_ctrl__call_kind kind, const char *key, const char *arg,
		       struct kp_ctrl__call **out)
{
	struct kp_ctrl__call *j = NULL, **v;
	struct kp_buf kb;
	char *k;
	int64_t now = kp_kube_now_mono(c->o.clock);

	*out = NULL;
	call_reap(c, now);
	kp_buf_init(&kb, 1 << 20);
	kp_buf_printf(&kb, "%s:%s", CALL_KIND[kind], key ? key : arg ? arg : "");
	k = kp_buf_take(&kb);
	if (!k)
		return -1;
	for (int i = 0; i < c->ncalls && !j; i++)
		if (strcmp(c->calls[i]->key, k) == 0)
			j = c->calls[i];
	/* a reconcile of an older spec: its answer is stale */
	if (j && (kind == KP_CTRL_CALL_NODECLASS || kind == KP_CTRL_CALL_TAG) &&
	    atomic_load_explicit(&j->done, memory_order_acquire) &&
	    strcmp(j->arg, arg ? arg : "") != 0) {
		kp_ctrl__call_release(c, j);
		j = NULL;
	}
	if (j) {
		free(k);
	} else {
		j = calloc(1, sizeof(*j));
		v = realloc(c->calls, (size_t)(c->ncalls + 1) * sizeof(*v));
		if (v)
			c->calls = v;
		if (!j || !v || !(j->arg = strdup(arg ? arg : ""))) {
			free(j);
			free(k);
			return -1;
		}
		j->key = k;
		j->kind = kind;
		j->cloud = c->cloud_raw;
		j->clock = c->o.clock;
		kp_arena_init(&j->a);
		atomic_init(&j->done, 0);
		if (pthread_create(&j->th, NULL, call_worker, j) != 0) {
			free(j->arg);
			free(j->key);
			free(j);
			return -1;
		}
		c->calls[c->ncalls++] = j;
		for (int w = 0; w < LAUNCH_WAIT_MS && !atomic_load_explicit(&j->done, memory_order_acquire); w++) {
			struct timespec ts = { 0, 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	if (!atomic_load_explicit(&j->done, memory_order_acquire))
		return 1;
	if (kind <= KP_CTRL_CALL_LIST && !j->recorded) {   /* the CloudProvider methods */
		static const char *const METHOD[] = { "Get", "Delete", "List" };

		j->recorded = true;
		kp_ctrl__cloud_metrics_record(c->o.cloud, kp_ctrl__ms_caller(c, METHOD[kind]), METHOD[kind], j->ms, j->e);
	}
	*out = j;
	return 0;
}

int kp_ctrl__call_inflight(const struct kp_ctrl *c)
{
	int n = 0;

	for (int i = 0; i < c->ncalls; i++)
		n += !atomic_load_explicit(&c->calls[i]->done, memory_order_acquire);
	return n;
}
