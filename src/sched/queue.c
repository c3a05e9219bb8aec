/*
 * queue.c - the order pods are tried in (Karpenter's queue.go).
 *
 * Pods are sorted by cpu request descending, memory descending, creation
 * time ascending, then UID; ties beyond that keep input order (stable sort).
 * A pod that fails goes to the back, remembering the queue length at that
 * moment; popping a pod whose remembered length equals the current length
 * means a full pass made no progress, and the loop stops. A ring buffer of
 * pod indices: O(1) push/pop, O(n log n) setup.
 */
#include <string.h>

#include "sched/sched_int.h"

static int pod_cmp(void *ctx, int a, int b)
{
	const struct kp_sched__pod *pa = &((struct kp_sched__pod *)ctx)[a], *pb = &((struct kp_sched__pod *)ctx)[b];
	int c;

	if (pa->req.v[KP_RES_CPU] != pb->req.v[KP_RES_CPU])
		return pa->req.v[KP_RES_CPU] > pb->req.v[KP_RES_CPU] ? -1 : 1;
	if (pa->req.v[KP_RES_MEMORY] != pb->req.v[KP_RES_MEMORY])
		return pa->req.v[KP_RES_MEMORY] > pb->req.v[KP_RES_MEMORY] ? -1 : 1;
	if (pa->pod->created != pb->pod->created)
		return pa->pod->created < pb->pod->created ? -1 : 1;
	c = strcmp(pa->pod->uid ? pa->pod->uid : "", pb->pod->uid ? pb->pod->uid : "");
	return c;
}

kp_err kp_sched__queue_init(struct kp_sched__queue *q, struct kp_sched__run *r)
{
	int n = r->npods;
	int *tmp;

	memset(q, 0, sizeof(*q));
	q->ring = kp_arena_calloc(r->a, (size_t)n + 1, sizeof(int));
	tmp = kp_arena_calloc(r->scratch, (size_t)n + 1, sizeof(int));
	if (!q->ring || !tmp)
		return KP_ERR_NOMEM;
	for (int i = 0; i < n; i++)
		q->ring[i] = i;
	kp_sched__sort_ints(q->ring, n, pod_cmp, r->pods, tmp);
	q->cap = n;
	q->len = n;
	return KP_OK;
}

int kp_sched__queue_pop(struct kp_sched__queue *q, struct kp_sched__run *r)
{
	int p;

	if (q->len == 0)
		return -1;
	p = q->ring[q->head];
	if (r->pods[p].last_len == q->len)
		return -1;
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return p;
}

void kp_sched__queue_push(struct kp_sched__queue *q, struct kp_sched__run *r, int pod)
{
	q->ring[(q->head + q->len) % q->cap] = pod;
	q->len++;
	r->pods[pod].last_len = q->len;
}
