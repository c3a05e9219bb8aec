/*
 * simulate.c - the glue between disruption and the scheduling engine
 * (Karpenter's SimulateScheduling).
 *
 * One simulation removes the candidate nodes (and the nodes already
 * deleting) and asks the scheduler to place: every pending pod, the
 * reschedulable pods of the deleting nodes, and the candidates'
 * reschedulable pods. A bound pod that finds no place, or that lands on a
 * node that is not initialized, fails the simulation; pending pods that do
 * not fit do not. The per-pass state (the pod lists, the removal mask) is
 * built once by kp_disrupt__sim_prepare; each run only adds the candidates' pods.
 *
 * Cost: one kp_sched_solve per run, plus O(placed pods) to check the plan.
 */
#include <string.h>

#include "disrupt/disrupt_int.h"

kp_err kp_disrupt__sim_prepare(struct kp_disrupt__pass *p, struct kp_errbuf *eb)
{
	int total = p->npending;

	p->removed = kp_arena_calloc(&p->arena, (size_t)p->nnodes + 1, sizeof(bool));
	p->no_moves = kp_arena_calloc(&p->arena, (size_t)p->nnodes + 1, sizeof(bool));
	for (int i = 0; i < p->nnodes; i++)
		if (p->nodes[i].deleting)
			total += p->nodes[i].nresched;
	p->delpods = kp_arena_calloc(&p->arena, (size_t)total + 1, sizeof(*p->delpods));
	if (!p->removed || !p->no_moves || !p->delpods)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory preparing simulations");
	for (int i = 0; i < p->nnodes; i++)
		p->no_moves[i] = kp_disrupt__under_consolidate_after(p, &p->nodes[i]);
	for (int i = 0; i < p->nnodes; i++) {
		const struct kp_disrupt__node *d = &p->nodes[i];
		if (!d->deleting)
			continue;
		for (int k = 0; k < d->nresched; k++)
			p->delpods[p->ndelpods++] = d->resched[k];
	}
	return KP_OK;
}

void kp_disrupt__sim_release(struct kp_disrupt__pass *p)
{
	kp_sched_free(p->sched_state);
	p->sched_state = NULL;
}

void kp_disrupt__sim_result_free(struct kp_disrupt__sim_result *r)
{
	if (!r)
		return;
	if (r->have_plan)
		kp_plan_free(&r->plan);
	memset(r, 0, sizeof(*r));
}

static kp_err ensure_simpods(struct kp_disrupt__pass *p, int n, struct kp_errbuf *eb)
{
	const struct kp_pod **v;
	int cap;

	if (n <= p->simpods_cap)
		return KP_OK;
	cap = p->simpods_cap ? p->simpods_cap : 64;
	while (cap < n)
		cap *= 2;
	v = kp_arena_calloc(&p->arena, (size_t)cap, sizeof(*v));
	if (!v)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory building a simulation");
	p->simpods = v;
	p->simpods_cap = cap;
	return KP_OK;
}

static const char *pod_name(struct kp_disrupt__pass *p, const struct kp_pod *pod)
{
	char buf[512];
	return kp_disrupt__fmt(p, "%s", kp_pod_key(pod, buf, sizeof(buf)));
}

/* Managed nodes count as initialized once labelled so (or their NodeClaim
 * says so); unmanaged nodes always do. */
static bool node_initialized(const struct kp_node *n)
{
	const char *v = kp_labels_get(&n->labels, KP_LABEL_INITIALIZED);

	if (!kp_labels_has(&n->labels, KP_LABEL_NODEPOOL) && !n->claim)
		return true;
	return (v && strcmp(v, "true") == 0) || (n->claim && n->claim->initialized);
}

/* First bound pod the plan could not place or put on an uninitialized
 * node; pods from deleting nodes may use uninitialized nodes. */
static const char *plan_failure(struct kp_disrupt__pass *p, const struct kp_plan *plan)
{
	for (int i = 0; i < plan->nunsched; i++) {
		const struct kp_pod *pod = plan->unsched[i].pod;
		if (pod->node_name)
			return kp_disrupt__fmt(p, "pods-do-not-fit: pod %s: %s", pod_name(p, pod),
				      plan->unsched[i].reason ? plan->unsched[i].reason : "no node fits");
	}
	for (int e = 0; e < plan->nexisting; e++) {
		const struct kp_plan_existing *x = &plan->existing[e];

		if (!x->node || node_initialized(x->node))
			continue;
		for (int j = 0; j < x->npods; j++) {
			const struct kp_pod *pod = x->pods[j];
			bool from_deleting = false;

			if (!pod->node_name)
				continue;
			for (int k = 0; k < p->ndelpods && !from_deleting; k++)
				from_deleting = p->delpods[k] == pod;
			if (!from_deleting)
				return kp_disrupt__fmt(p, "pods-do-not-fit: pod %s would schedule on uninitialized node %s",
					      pod_name(p, pod), x->node->name);
		}
	}
	return NULL;
}

/* Consolidation runs share one prepared scheduler per pass (built on first
 * use: many passes need none); the rare provisioning runs solve afresh. */
static kp_err run(struct kp_disrupt__pass *p, int npods, bool consolidation, struct kp_disrupt__sim_result *r,
		  struct kp_errbuf *eb)
{
	struct kp_sched_input in;
	struct kp_sched_opts so = p->opts->sched;
	kp_err rc;

	memset(r, 0, sizeof(*r));
	memset(&in, 0, sizeof(in));
	in.cluster = &p->w->cl;
	in.catalog = p->cat;
	in.pool_catalog = p->opts->pool_catalog;
	in.pool_catalog_ctx = p->opts->pool_catalog_ctx;
	in.npods = npods;
	in.pods = p->simpods;
	in.node_removed = p->removed;
	in.node_no_moves = p->no_moves;
	so.consolidation = consolidation;
	p->simulations++;
	if (consolidation) {
		if (!p->sched_state) {
			rc = kp_sched_prepare(&in, &so, &p->sched_state, eb);
			if (rc) {
				kp_err_prefix(eb, "disruption simulation: ");
				return rc;
			}
		}
		rc = kp_sched_run(p->sched_state, p->removed, p->simpods, npods, &r->plan, eb);
	} else {
		rc = kp_sched_solve(&in, &so, &r->plan, eb);
	}
	if (rc) {
		kp_err_prefix(eb, "disruption simulation: ");
		return rc;
	}
	r->have_plan = true;
	r->fail = plan_failure(p, &r->plan);
	return KP_OK;
}

kp_err kp_disrupt__simulate(struct kp_disrupt__pass *p, const int *cand, int ncand, bool consolidation,
		   struct kp_disrupt__sim_result *r, struct kp_errbuf *eb)
{
	int n = p->npending + p->ndelpods;
	kp_err rc;

	for (int i = 0; i < ncand; i++)
		n += p->nodes[cand[i]].nresched;
	rc = ensure_simpods(p, n, eb);
	if (rc)
		return rc;
	n = 0;
	for (int i = 0; i < p->npending; i++)
		p->simpods[n++] = p->pending[i];
	for (int i = 0; i < p->ndelpods; i++)
		p->simpods[n++] = p->delpods[i];
	for (int i = 0; i < ncand; i++) {
		const struct kp_disrupt__node *d = &p->nodes[cand[i]];
		for (int k = 0; k < d->nresched; k++)
			p->simpods[n++] = d->resched[k];
	}
	for (int i = 0; i < p->nnodes; i++)
		p->removed[i] = p->nodes[i].deleting;
	for (int i = 0; i < ncand; i++)
		p->removed[cand[i]] = true;
	rc = run(p, n, consolidation, r, eb);
	for (int i = 0; i < ncand; i++)
		p->removed[cand[i]] = false;
	return rc;
}

kp_err kp_disrupt__provision(struct kp_disrupt__pass *p, struct kp_disrupt__sim_result *r, struct kp_errbuf *eb)
{
	kp_err rc = ensure_simpods(p, p->npending, eb);

	if (rc)
		return rc;
	for (int i = 0; i < p->npending; i++)
		p->simpods[i] = p->pending[i];
	for (int i = 0; i < p->nnodes; i++)
		p->removed[i] = p->nodes[i].deleting;
	return run(p, p->npending, false, r, eb);
}
