/*
 * batch.c - CreateFleet batching, after karpenter-provider-aws
 * pkg/batcher/createfleet.go (NewCreateFleetBatcher: requests with the same
 * input arriving within a 35 ms idle window, at most 1 s, become one
 * CreateFleet with TotalTargetCapacity = their number; the instances of the
 * answer are dealt out one per request, and a request left without one
 * gets the answer's errors).
 *
 * One difference, documented in docs/aws.md: our CreateFleet tags the
 * instance with karpenter.sh/nodeclaim (so a controller restarted between
 * CreateFleet and the NodeClaim status write adopts the instance), so no
 * two requests are ever byte-identical. The batch key is the request
 * without that tag; a batch of one is sent as it was built (tag included);
 * a batch of N is sent without it and the batcher tags each instance it
 * deals out with CreateTags before answering (a crash in between leaves an
 * untagged instance, which garbage collection terminates, as Karpenter's
 * own tagging controller leaves it).
 *
 * Each waiter receives a CreateFleetResponse of its own, rebuilt as XML
 * (the answer's errorSet and its one instance) and parsed into its own
 * arena, so the caller reads it exactly as a direct answer.
 *
 * Locking: w->fleet_mu guards the open batches; it is never held across an
 * API call. A batch is owned by its first request (the leader), which
 * frees it after every waiter has taken its answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloud/aws/aws_int.h"

struct kp_aws__fleet_batch {
	char *key;
	int n, taken;
	char names[KP_AWS_FLEET_BATCH_MAX][256];  /* the waiters' NodeClaims */
	char *answer[KP_AWS_FLEET_BATCH_MAX];     /* rebuilt XML per waiter (NULL: rc) */
	kp_err rc;                                /* the call's result */
	struct kp_aws_resp resp;                  /* its codes (xml not shared) */
	char msg[sizeof(((struct kp_errbuf *)0)->msg)];
	int64_t first_ms, last_ms;
	bool closed, done;
	struct kp_aws__fleet_batch *next;
};

static void xml_escape(struct kp_buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '&')
			kp_buf_printf(b, "&amp;");
		else if (*s == '<')
			kp_buf_printf(b, "&lt;");
		else if (*s == '>')
			kp_buf_printf(b, "&gt;");
		else
			kp_buf_printf(b, "%c", *s);
	}
}

/* n as XML; skip: a child name left out (NULL = none). */
static void xml_write(struct kp_buf *b, const struct kp_aws_xnode *n, const char *skip)
{
	kp_buf_printf(b, "<%s>", n->name);
	if (n->child) {
		for (const struct kp_aws_xnode *c = n->child; c; c = c->next)
			if (!skip || strcmp(c->name, skip) != 0)
				xml_write(b, c, NULL);
	} else {
		xml_escape(b, n->text);
	}
	kp_buf_printf(b, "</%s>", n->name);
}

/* One answer per waiter: the errorSet, and the k-th instance id of the
 * answer (items in order, ids in order) with its item's details. */
static void deal(struct kp_aws__fleet_batch *bt, const struct kp_aws_xnode *root)
{
	const struct kp_aws_xnode *errs = kp_aws_xml_child(root, "errorSet");
	const struct kp_aws_xnode *set = kp_aws_xml_child(root, "fleetInstanceSet");
	const struct kp_aws_xnode *item = set ? set->child : NULL, *id = NULL;

	if (item)
		id = kp_aws_xml_child(item, "instanceIds") ? kp_aws_xml_child(item, "instanceIds")->child : NULL;
	for (int k = 0; k < bt->n; k++) {
		struct kp_buf b;

		while (item && !id) {
			item = item->next;
			id = item && kp_aws_xml_child(item, "instanceIds") ? kp_aws_xml_child(item, "instanceIds")->child : NULL;
		}
		kp_buf_init(&b, KP_AWS_BODY_MAX);
		kp_buf_printf(&b, "<CreateFleetResponse><fleetId>");
		xml_escape(&b, kp_aws_xml_text(root, "fleetId"));
		kp_buf_printf(&b, "</fleetId>");
		if (errs)
			xml_write(&b, errs, NULL);
		kp_buf_printf(&b, "<fleetInstanceSet>");
		if (item && id) {
			kp_buf_printf(&b, "<item>");
			for (const struct kp_aws_xnode *c = item->child; c; c = c->next)
				if (strcmp(c->name, "instanceIds") != 0)
					xml_write(&b, c, NULL);
			kp_buf_printf(&b, "<instanceIds><item>");
			xml_escape(&b, id->text);
			kp_buf_printf(&b, "</item></instanceIds></item>");
			id = id->next;
		}
		kp_buf_printf(&b, "</fleetInstanceSet></CreateFleetResponse>");
		bt->answer[k] = kp_buf_take(&b);
	}
}

/* Tags each dealt instance with its waiter's NodeClaim. Failures are
 * logged into nothing: the instance is then an orphan for GC, its claim
 * launches again (Karpenter's behaviour without the tag). */
static void tag_instances(struct kp_aws_cloud *w, struct kp_aws__fleet_batch *bt)
{
	for (int k = 0; k < bt->n; k++) {
		struct kp_arena a;
		struct kp_aws_xnode *root = NULL;
		struct kp_errbuf eb = { 0 };
		struct kp_aws_params p;
		struct kp_aws_resp r;
		const char *id;

		if (!bt->answer[k])
			continue;
		kp_arena_init(&a);
		if (!kp_aws_xml_parse(&a, bt->answer[k], strlen(bt->answer[k]), &root, &eb) &&
		    (id = kp_aws_xml_text(root, "fleetInstanceSet/item/instanceIds/item")) != NULL) {
			kp_aws_params_init(&p, "CreateTags", KP_AWS_EC2_VERSION);
			kp_aws_params_add(&p, "ResourceId.1", id);
			kp_aws_params_add(&p, "Tag.1.Key", KP_AWS_TAG_NODECLAIM);
			kp_aws_params_add(&p, "Tag.1.Value", bt->names[k]);
			kp_aws_query(w->cl, "ec2", &p, false, false, &a, &r, &eb);
			kp_aws_params_free(&p);
		}
		kp_arena_free(&a);
	}
}

void kp_aws_fleet_init(struct kp_aws_cloud *w)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&w->fleet_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->fleet_cv, &ca);
	pthread_condattr_destroy(&ca);
}

void kp_aws_fleet_fini(struct kp_aws_cloud *w)
{
	pthread_cond_destroy(&w->fleet_cv);
	pthread_mutex_destroy(&w->fleet_mu);
}

kp_err kp_aws_fleet_call(struct kp_aws_cloud *w, const struct kp_aws_fleet_req *q, struct kp_arena *a,
			 struct kp_aws_resp *r, struct kp_errbuf *eb)
{
	struct kp_aws__fleet_batch *bt, **pp;
	int me;
	kp_err rc;

	memset(r, 0, sizeof(*r));
	if (w->fleet_idle_ms <= 0 || !q->key)
		return kp_aws_query(w->cl, "ec2", q->single, true, false, a, r, eb);
	pthread_mutex_lock(&w->fleet_mu);
	for (bt = w->fleet_open; bt; bt = bt->next)
		if (!bt->closed && bt->n < KP_AWS_FLEET_BATCH_MAX && strcmp(bt->key, q->key) == 0)
			break;
	if (bt) {
		/* a waiter: join, wait for the leader's answer */
		me = bt->n++;
		snprintf(bt->names[me], sizeof(bt->names[me]), "%s", q->claim ? q->claim : "");
		bt->last_ms = kp_mono_ms();
		pthread_cond_broadcast(&w->fleet_cv);
		while (!bt->done)
			pthread_cond_wait(&w->fleet_cv, &w->fleet_mu);
		goto answer;
	}
	/* the leader: open a batch, wait for the window to close */
	bt = calloc(1, sizeof(*bt));
	if (!bt || !(bt->key = strdup(q->key))) {
		pthread_mutex_unlock(&w->fleet_mu);
		if (bt)
			free(bt);
		return kp_aws_query(w->cl, "ec2", q->single, true, false, a, r, eb);
	}
	me = bt->n++;
	snprintf(bt->names[me], sizeof(bt->names[me]), "%s", q->claim ? q->claim : "");
	bt->first_ms = bt->last_ms = kp_mono_ms();
	bt->next = w->fleet_open;
	w->fleet_open = bt;
	for (;;) {
		int64_t now = kp_mono_ms(), until = bt->last_ms + w->fleet_idle_ms;
		struct timespec ts;

		if (until > bt->first_ms + w->fleet_max_ms)
			until = bt->first_ms + w->fleet_max_ms;
		if (now >= until || bt->n >= KP_AWS_FLEET_BATCH_MAX)
			break;
		kp_mono_deadline(&ts, until - now);
		pthread_cond_timedwait(&w->fleet_cv, &w->fleet_mu, &ts);
	}
	bt->closed = true;
	for (pp = &w->fleet_open; *pp; pp = &(*pp)->next)
		if (*pp == bt) {
			*pp = bt->next;
			break;
		}
	pthread_mutex_unlock(&w->fleet_mu);
	if (bt->n == 1) {
		/* alone: the request as built, NodeClaim tag included */
		pthread_mutex_lock(&w->fleet_mu);
		bt->done = true;
		pthread_mutex_unlock(&w->fleet_mu);
		rc = kp_aws_query(w->cl, "ec2", q->single, true, false, a, r, eb);
		free(bt->key);
		free(bt);
		return rc;
	}
	{
		struct kp_aws_params p;
		struct kp_arena ba;
		struct kp_errbuf beb = { 0 };

		kp_arena_init(&ba);
		q->build(q->build_ctx, bt->n, &p);
		bt->rc = kp_aws_query(w->cl, "ec2", &p, true, false, &ba, &bt->resp, &beb);
		kp_aws_params_free(&p);
		snprintf(bt->msg, sizeof(bt->msg), "%s", beb.msg);
		if (!bt->rc && bt->resp.xml) {
			deal(bt, bt->resp.xml);
			tag_instances(w, bt);
		}
		bt->resp.xml = NULL;
		kp_arena_free(&ba);
	}
	pthread_mutex_lock(&w->fleet_mu);
	bt->done = true;
	pthread_cond_broadcast(&w->fleet_cv);
answer:
	/* every waiter (the leader too) takes its own answer */
	*r = bt->resp;
	r->json = NULL;
	rc = bt->rc;
	if (rc)
		kp_errf(eb, rc, "%s", bt->msg);
	else if (!bt->answer[me] || kp_aws_xml_parse(a, bt->answer[me], strlen(bt->answer[me]), &r->xml, eb))
		rc = kp_errf(eb, KP_ERR_NOMEM, "CreateFleet batch: answer lost");
	free(bt->answer[me]);
	bt->answer[me] = NULL;
	if (++bt->taken == bt->n) {
		free(bt->key);
		free(bt);
	}
	pthread_mutex_unlock(&w->fleet_mu);
	return rc;
}
