/*
 * terminate.c - TerminateInstances batching, after karpenter-provider-aws
 * pkg/batcher/terminateinstances.go (NewTerminateInstancesBatcher: every
 * request in one bucket, 100 ms idle window, 1 s at most, 500 ids;
 * execTerminateInstancesBatch: one TerminateInstances with every id; an id
 * the answer reports shutting-down or terminated is done; every other id
 * (all of them when the call failed, e.g. one id not found fails the whole
 * call) is terminated again alone, and that call's result is its answer).
 *
 * Locking: w->term_mu guards the open batch; it is never held across an
 * API call. A batch is owned by its first request (the leader), which
 * sends it and frees it after every waiter has taken its result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloud/aws/aws_int.h"

struct term_entry {
	char id[64];
	kp_err rc;
	char msg[512];
};

struct kp_aws__term_batch {
	int n, taken;
	struct term_entry e[KP_AWS_TERM_BATCH_MAX];
	int64_t first_ms, last_ms;
	bool done;
};

/* One TerminateInstances of ids[0..n); on success, the ids the answer
 * reports shutting-down or terminated get done[i] = true. */
static kp_err terminate(struct kp_aws_cloud *w, struct term_entry *e, int n, bool *done, struct kp_errbuf *eb)
{
	struct kp_aws_params p;
	struct kp_aws_resp r;
	struct kp_arena a;
	kp_err rc;

	kp_arena_init(&a);
	kp_aws_params_init(&p, "TerminateInstances", KP_AWS_EC2_VERSION);
	for (int i = 0; i < n; i++)
		kp_aws_params_addf(&p, e[i].id, "InstanceId.%d", i + 1);
	rc = kp_aws_query(w->cl, "ec2", &p, false, false, &a, &r, eb);
	kp_aws_params_free(&p);
	if (!rc) {
		const struct kp_aws_xnode *set = kp_aws_xml_child(r.xml, "instancesSet");

		for (const struct kp_aws_xnode *x = set ? set->child : NULL; x; x = x->next) {
			const char *id = kp_aws_xml_text(x, "instanceId"), *st = kp_aws_xml_text(x, "currentState/name");

			if (!id || !st || (strcmp(st, "shutting-down") != 0 && strcmp(st, "terminated") != 0))
				continue;
			for (int i = 0; i < n; i++)
				if (strcmp(e[i].id, id) == 0)
					done[i] = true;
		}
	}
	kp_arena_free(&a);
	return rc;
}

/* The leader's part: the batched call, then each id not reported
 * terminating alone (terminateinstances.go: "a single instance failure can
 * fail the entire batch"). */
static void run_batch(struct kp_aws_cloud *w, struct kp_aws__term_batch *bt)
{
	bool done[KP_AWS_TERM_BATCH_MAX] = { false };
	struct kp_errbuf eb = { 0 };

	if (bt->n > 1)
		terminate(w, bt->e, bt->n, done, &eb);
	for (int i = 0; i < bt->n; i++) {
		bool one = false;

		if (done[i])
			continue;
		memset(&eb, 0, sizeof(eb));
		bt->e[i].rc = terminate(w, &bt->e[i], 1, &one, &eb);
		if (bt->e[i].rc)
			snprintf(bt->e[i].msg, sizeof(bt->e[i].msg), "%.500s", eb.msg);
	}
}

void kp_aws_term_init(struct kp_aws_cloud *w)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&w->term_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->term_cv, &ca);
	pthread_condattr_destroy(&ca);
	w->term_idle_ms = 100;
	w->term_max_ms = 1000;
}

void kp_aws_term_fini(struct kp_aws_cloud *w)
{
	pthread_cond_destroy(&w->term_cv);
	pthread_mutex_destroy(&w->term_mu);
}

kp_err kp_aws_term_call(struct kp_aws_cloud *w, const char *id, struct kp_errbuf *eb)
{
	struct kp_aws__term_batch *bt;
	int me;
	kp_err rc;

	if (!id || strlen(id) >= sizeof(bt->e[0].id))
		return kp_errf(eb, KP_ERR_INVALID, "TerminateInstances: bad instance id");
	pthread_mutex_lock(&w->term_mu);
	bt = w->term_open;
	if (bt && bt->n < KP_AWS_TERM_BATCH_MAX) {
		/* a waiter: join, wait for the leader's answer */
		me = bt->n++;
		snprintf(bt->e[me].id, sizeof(bt->e[me].id), "%s", id);
		bt->last_ms = kp_mono_ms();
		pthread_cond_broadcast(&w->term_cv);
		while (!bt->done)
			pthread_cond_wait(&w->term_cv, &w->term_mu);
	} else {
		/* the leader: open the batch, wait for the window to close */
		bt = calloc(1, sizeof(*bt));
		if (!bt) {
			pthread_mutex_unlock(&w->term_mu);
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		}
		me = bt->n++;
		snprintf(bt->e[me].id, sizeof(bt->e[me].id), "%s", id);
		bt->first_ms = bt->last_ms = kp_mono_ms();
		w->term_open = bt;
		for (;;) {
			int64_t now = kp_mono_ms(), until = bt->last_ms + w->term_idle_ms;
			struct timespec ts;

			if (until > bt->first_ms + w->term_max_ms)
				until = bt->first_ms + w->term_max_ms;
			if (now >= until || bt->n >= KP_AWS_TERM_BATCH_MAX)
				break;
			kp_mono_deadline(&ts, until - now);
			pthread_cond_timedwait(&w->term_cv, &w->term_mu, &ts);
		}
		if (w->term_open == bt)
			w->term_open = NULL;
		pthread_mutex_unlock(&w->term_mu);
		run_batch(w, bt);
		pthread_mutex_lock(&w->term_mu);
		bt->done = true;
		pthread_cond_broadcast(&w->term_cv);
	}
	rc = bt->e[me].rc;
	if (rc)
		kp_errf(eb, rc, "%s", bt->e[me].msg);
	if (++bt->taken == bt->n)
		free(bt);
	pthread_mutex_unlock(&w->term_mu);
	return rc;
}
