/*
 * solve.c - the scheduling loop (Karpenter's Scheduler.Solve, trySchedule
 * and add) and the public entry points.
 *
 * kp_sched_prepare builds everything that depends only on the cluster and
 * catalog; kp_sched_run places a set of pods on it, as often as needed
 * (the disruption planner runs one per candidate with that candidate's
 * nodes removed); kp_sched_solve is prepare + run + free.
 *
 * Per pod, in queue order: each relaxation variant in turn tries existing
 * nodes (initialized first, then by name), then the claims being built
 * (fewest pods first), then a new claim from each NodePool in weight order;
 * the first fit wins. A pod that fits nowhere goes back to the queue with
 * the reasons from its last (most relaxed) attempt. Every try works in a
 * scratch arena that is reset afterwards, so a failed try allocates
 * nothing that lasts.
 *
 * Cost: per pod O(existing nodes + claims) cheap checks, plus O(types) for
 * the claim it joins and for each new-claim try.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched_int.h"

#define ERR_MAX (64u * 1024u)
#define SCRATCH_WARM (256u * 1024u)

void kp_sched_opts_default(struct kp_sched_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_instance_types = 600;
}

void kp_sched_free(struct kp_sched *s)
{
	if (!s)
		return;
	kp_buf_free(&s->sigbuf);
	kp_arena_free(&s->scratch);
	kp_arena_free(&s->arena);
	free(s);
}

kp_err kp_sched_prepare(const struct kp_sched_input *in, const struct kp_sched_opts *opts, struct kp_sched **out,
			struct kp_errbuf *eb)
{
	struct kp_sched *s;
	kp_err rc;

	*out = NULL;
	if (!in || !in->cluster || !in->catalog)
		return kp_errf(eb, KP_ERR_INVALID, "scheduling needs a cluster and a catalog");
	s = calloc(1, sizeof(*s));
	if (!s)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	kp_arena_init(&s->arena);
	s->cl = in->cluster;
	s->cat = in->catalog;
	if (opts)
		s->opts = *opts;
	else
		kp_sched_opts_default(&s->opts);
	s->hidden = in->offering_hidden;
	s->hidden_ctx = in->offering_ctx;
	s->no_moves = in->node_no_moves;
	s->pool_catalog = in->pool_catalog;
	s->pool_catalog_ctx = in->pool_catalog_ctx;
	s->nres = s->cl->resnames.n > KP_RES_NWELLKNOWN ? s->cl->resnames.n : KP_RES_NWELLKNOWN;
	if (s->nres > KP_RES_MAX)
		s->nres = KP_RES_MAX;
	s->host_key = -1;
	/* Size the scratch arena once: blocks double, so after a 256 KiB one
	 * the next holds 512 KiB, and every try's mark/reset stays inside it
	 * instead of mallocing and freeing a block per try. */
	kp_arena_init(&s->scratch);
	if (!kp_arena_alloc(&s->scratch, SCRATCH_WARM) || !kp_arena_alloc(&s->scratch, 16)) {
		kp_sched_free(s);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	s->scratch0 = kp_arena_mark(&s->scratch);
	rc = kp_sched__daemons_collect(s);
	if (!rc)
		rc = kp_sched__templates_build(s, eb);
	if (!rc)
		rc = kp_sched__existing_build(s, eb);
	if (!rc) {
		kp_sched__limits_prep(s);
		rc = kp_sched__inverse_existing(s, eb);
	}
	if (rc) {
		if (rc == KP_ERR_NOMEM)
			kp_errf(eb, rc, "out of memory");
		kp_sched_free(s);
		return rc;
	}
	*out = s;
	return KP_OK;
}

/* ---- one pod ---- */

/* Karpenter's isUnderConsolidateAfter: in a consolidation simulation a
 * node still inside its consolidateAfter window takes no pod that is being
 * moved off another node, so a fresh node is not filled (and made
 * unconsolidatable) by the very consolidation that needs it. */
static bool under_consolidate_after(const struct kp_sched *s, int n, const struct kp_sched__pod *p)
{
	int idx = s->nodes[n].node_idx;

	return s->opts.consolidation && s->no_moves && idx >= 0 && s->no_moves[idx] && p->pod->node_name;
}

static bool try_existing(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v, kp_err *rc)
{
	struct kp_sched__try t;

	for (int n = 0; n < r->s->nnodes; n++) {
		struct kp_arena_mark m;
		bool ok;

		if (r->nodes[n].removed)
			continue;
		if (under_consolidate_after(r->s, n, p))
			continue;
		m = kp_arena_mark(r->scratch);
		ok = kp_sched__node_try(r, n, p, v, &t);
		if (ok)
			*rc = kp_sched__node_commit(r, n, p, &t);
		kp_arena_reset(r->scratch, m);
		if (ok)
			return true;
	}
	return false;
}

/* Karpenter's cheap necessary conditions before a full try on a claim:
 * taints, zones, resources against the claim's largest type (both packers). */
bool kp_sched__inflight_quick(const struct kp_sched__run *r, const struct kp_sched__claim *c,
			      const struct kp_sched__pod *p, uint64_t zones)
{
	if (!r->tol[c->tpl] || !(c->zmask & zones))
		return false;
	for (int i = 0; i < r->nres_used; i++) {
		int k = r->res_used[i];
		if (c->req.v[k] + p->req.v[k] > c->maxfree.v[k])
			return false;
	}
	return true;
}

static bool try_inflight(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v, kp_err *rc)
{
	struct kp_arena_mark m0 = kp_arena_mark(r->scratch);
	struct kp_sched__try t;
	uint64_t zones;
	int *cand, ncand = 0, n;

	if (!r->nclaims)
		return false;
	for (int i = 0; i < r->s->ntpl; i++)
		r->tol[i] = !r->s->tpl[i].skipped && kp_sched__variant_tolerates(r->s, v, p->pod, i, NULL);
	zones = kp_sched__topo_zone_premask(r, p, v);
	cand = kp_sched__topo_host_candidates(r, p, v, &ncand);
	n = cand ? ncand : r->nclaims;
	for (int k = 0; k < n; k++) {
		struct kp_sched__claim *c = r->claims[cand ? cand[k] : r->order[k]];
		struct kp_arena_mark m;
		bool ok;

		if (!kp_sched__inflight_quick(r, c, p, zones))
			continue;
		m = kp_arena_mark(r->scratch);
		ok = kp_sched__claim_try(r, c, p, v, &t, NULL);

		if (ok) {
			int old = c->npods;
			*rc = kp_sched__claim_commit(r, c, p, &t);
			kp_sched__claim_order_bump(r, c, old);
		}
		kp_arena_reset(r->scratch, m);
		if (ok) {
			kp_arena_reset(r->scratch, m0);
			return true;
		}
	}
	kp_arena_reset(r->scratch, m0);
	return false;
}

static bool try_new(struct kp_sched__run *r, struct kp_sched__pod *p, struct kp_sched__variant *v, kp_err *rc)
{
	struct kp_sched *s = r->s;
	struct kp_errbuf eb;
	int usable = 0;

	for (int i = 0; i < s->ntpl; i++) {
		struct kp_sched__claim cand, *c;
		struct kp_sched__try t;
		struct kp_arena_mark m;
		bool ok;

		if (s->tpl[i].skipped)
			continue;
		usable++;
		eb.msg[0] = '\0';
		if (!kp_sched__limits_allow_claim(r, i, &eb)) {
			kp_sched__reason_add(r, s->tpl[i].name, eb.msg);
			continue;
		}
		m = kp_arena_mark(r->scratch);
		*rc = kp_sched__claim_candidate(r, i, &cand, &eb, &ok);
		if (!*rc && ok)
			ok = kp_sched__claim_try(r, &cand, p, v, &t, &eb);
		if (*rc) {
			kp_arena_reset(r->scratch, m);
			return false;
		}
		if (!ok) {
			kp_sched__reason_add(r, s->tpl[i].name, eb.msg[0] ? eb.msg : "cannot place the pod");
			kp_arena_reset(r->scratch, m);
			continue;
		}
		*rc = kp_sched__claim_materialize(r, &cand, &c);
		if (!*rc) {
			*rc = kp_sched__claim_commit(r, c, p, &t);
			kp_sched__claim_order_bump(r, c, 0);
			kp_sched__limits_charge(r, c);
		}
		kp_arena_reset(r->scratch, m);
		return true;
	}
	if (!usable)
		kp_sched__reason_add(r, NULL, s->ntpl ? "no nodepool has instance types compatible with its requirements"
						: "no nodepools");
	return false;
}

static kp_err try_schedule(struct kp_sched__run *r, struct kp_sched__pod *p, bool *placed)
{
	kp_err rc = KP_OK;

	*placed = false;
	if (p->cls->vol_err) {
		/* the class lives in the prep; the reason must outlive it */
		p->err = kp_arena_strdup(r->a, p->cls->vol_err);
		return p->err ? KP_OK : KP_ERR_NOMEM;
	}
	for (int v = 0; v < p->cls->nvar; v++) {
		struct kp_sched__variant *var = &p->cls->var[v];

		kp_buf_reset(&r->err);
		if (r->cost ? kp_sched__cost_place(r, p, var, &rc) :
			      (try_existing(r, p, var, &rc) || (!rc && try_inflight(r, p, var, &rc)) ||
			       (!rc && try_new(r, p, var, &rc)))) {
			if (rc)
				return rc;
			p->placed = true;
			p->var_used = v;
			*placed = true;
			return KP_OK;
		}
		if (rc)
			return rc;
	}
	p->err = kp_arena_strdup(r->a, r->err.data && r->err.len ? r->err.data : "cannot place the pod");
	return p->err ? KP_OK : KP_ERR_NOMEM;
}

/* ---- run ---- */

/* Pods of a node being deleted that must find a new home (Karpenter's
 * CurrentlyReschedulablePods): active, or a terminating StatefulSet pod;
 * not a DaemonSet or mirror pod; not marked do-not-disrupt. */
static bool reschedulable(const struct kp_sched *s, const struct kp_pod *p, int node)
{
	const struct kp_node *n;
	const char *dnd;
	bool sts = p->owner_kind && strcmp(p->owner_kind, "StatefulSet") == 0;

	if (node < 0)
		return false;
	n = s->cl->nodes[node];
	if (!n->deleting && !(n->claim && n->claim->deleting))
		return false;
	if (kp_pod_is_terminal(p) || (p->deleting && !sts) || p->is_daemon || p->is_mirror)
		return false;
	dnd = kp_labels_get(&p->annotations, KP_ANN_DO_NOT_DISRUPT);
	return !(dnd && strcmp(dnd, "true") == 0);
}

/* Pods to place when the caller names none: pending pods, then the
 * reschedulable pods of deleting nodes (provisioner.go Schedule). */
static bool wanted(const struct kp_sched *s, int i)
{
	const struct kp_pod *p = s->cl->pods[i];
	return kp_pod_is_pending(p) || reschedulable(s, p, s->pod_node[i]);
}

static kp_err run_pods(struct kp_sched__run *r, const struct kp_pod *const *pods, int npods, struct kp_errbuf *eb)
{
	const struct kp_cluster *cl = r->s->cl;
	bool used[KP_RES_MAX] = { false };
	int n = 0;

	if (!pods) {
		npods = 0;
		for (int i = 0; i < cl->npods; i++)
			npods += wanted(r->s, i);
	}
	r->pods = kp_arena_calloc(r->a, (size_t)npods + 1, sizeof(*r->pods));
	if (!r->pods)
		return KP_ERR_NOMEM;
	for (int i = 0; pods ? i < npods : i < cl->npods; i++) {
		const struct kp_pod *p = pods ? pods[i] : cl->pods[i];
		struct kp_sched__pod *kp = &r->pods[n];
		kp_err rc;

		if (!pods && !wanted(r->s, i))
			continue;
		kp->pod = p;
		kp->req = p->requests;
		kp->req.v[KP_RES_PODS] += 1;
		kp->last_len = -1;
		kp->var_used = -1;
		rc = kp_sched__class_for(r->s, p, &kp->cls, eb);
		if (rc) {
			char key[256];
			if (rc == KP_ERR_NOMEM)
				return rc;
			kp_err_prefix(eb, "pod %s: ", kp_pod_key(p, key, sizeof(key)));
			return rc;
		}
		for (int k = 0; k < r->nres; k++)
			if (kp->req.v[k])
				used[k] = true;
		n++;
	}
	r->npods = n;
	for (int k = 0; k < r->nres; k++)
		if (used[k] || k == KP_RES_PODS)
			r->res_used[r->nres_used++] = k;
	return KP_OK;
}

static kp_err plan_existing(struct kp_sched__run *r)
{
	struct kp_sched *s = r->s;
	struct kp_plan *plan = r->plan;
	int n = 0;

	for (int i = 0; i < s->nnodes; i++)
		n += r->nodes[i].npods > 0;
	plan->existing = kp_arena_calloc(r->a, (size_t)n + 1, sizeof(*plan->existing));
	if (!plan->existing)
		return KP_ERR_NOMEM;
	for (int i = 0; i < s->nnodes; i++) {
		struct kp_plan_existing *e;

		if (!r->nodes[i].npods)
			continue;
		e = &plan->existing[plan->nexisting++];
		e->node = s->nodes[i].node;
		e->claim = s->nodes[i].claim;
		e->npods = r->nodes[i].npods;
		e->pods = r->nodes[i].pods;
		if (s->opts.consolidation && !s->nodes[i].initialized) {
			/* the disruption engine must not count on a node that is not
			 * ready, except for pods of nodes already being deleted
			 * (disruption/helpers.go SimulateScheduling) */
			for (int j = 0; j < e->npods; j++) {
				int from = kp_sched__node_index(s, e->pods[j]->node_name);
				const struct kp_node *fn = from >= 0 ? s->cl->nodes[from] : NULL;

				if (fn && (fn->deleting || (fn->claim && fn->claim->deleting)))
					continue;
				for (int k = 0; k < r->npods; k++) {
					if (r->pods[k].pod != e->pods[j])
						continue;
					r->pods[k].placed = false;
					r->pods[k].err = kp_arena_printf(r->a, "would schedule against uninitialized node \"%s\"",
									 s->nodes[i].name);
					if (!r->pods[k].err)
						return KP_ERR_NOMEM;
				}
			}
		}
	}
	return KP_OK;
}

static kp_err plan_unsched(struct kp_sched__run *r)
{
	struct kp_plan *plan = r->plan;
	int n = 0;

	for (int i = 0; i < r->npods; i++)
		n += !r->pods[i].placed;
	plan->unsched = kp_arena_calloc(r->a, (size_t)n + 1, sizeof(*plan->unsched));
	if (!plan->unsched)
		return KP_ERR_NOMEM;
	for (int i = 0; i < r->npods; i++) {
		if (r->pods[i].placed)
			continue;
		plan->unsched[plan->nunsched].pod = r->pods[i].pod;
		plan->unsched[plan->nunsched].reason = r->pods[i].err ? r->pods[i].err : "not attempted";
		plan->nunsched++;
	}
	return KP_OK;
}

/* One run; cost: in cost packing mode (pack_cost.c's kp_sched_run decides). */
kp_err kp_sched__run_once(struct kp_sched *s, const bool *node_removed, const struct kp_pod *const *pods, int npods,
		    struct kp_plan *plan, bool cost, struct kp_errbuf *eb)
{
	struct kp_sched__run r;
	struct kp_sched__queue q;
	kp_err rc;
	int i;

	memset(plan, 0, sizeof(*plan));
	kp_arena_init(&plan->arena);
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.plan = plan;
	r.a = &plan->arena;
	r.nres = s->nres;
	r.removed = node_removed;
	r.host_key = -1;
	r.scratch = &s->scratch;
	kp_buf_init(&r.err, ERR_MAX);

	r.zone_key = -1;
	r.tol = kp_arena_alloc(r.a, (size_t)s->ntpl + 1);
	rc = r.tol ? run_pods(&r, pods, npods, eb) : KP_ERR_NOMEM;
	if (!rc)
		rc = kp_sched__topo_run_init(&r, eb);
	if (!rc)
		rc = kp_sched__existing_run_init(&r);
	if (!rc)
		rc = kp_sched__limits_run_init(&r);
	if (!rc && cost)
		rc = kp_sched__cost_run_init(&r, eb);
	if (!rc)
		rc = kp_sched__queue_init(&q, &r);
	while (!rc && (i = kp_sched__queue_pop(&q, &r)) >= 0) {
		bool placed;
		rc = try_schedule(&r, &r.pods[i], &placed);
		if (!rc && !placed)
			kp_sched__queue_push(&q, &r, i);
	}
	if (!rc)
		rc = kp_sched__notes_prep(&r);
	if (!rc)
		rc = kp_sched__claims_finalize(&r, eb);
	if (!rc)
		rc = plan_existing(&r);
	if (!rc)
		rc = plan_unsched(&r);
	if (!rc)
		rc = kp_sched__notes_relaxed(&r);
	kp_buf_free(&r.err);
	kp_arena_reset(&s->scratch, s->scratch0);
	if (rc) {
		if (rc == KP_ERR_NOMEM)
			kp_errf(eb, rc, "out of memory");
		kp_plan_free(plan);
	}
	return rc;
}

kp_err kp_sched_solve(const struct kp_sched_input *in, const struct kp_sched_opts *opts, struct kp_plan *plan,
		      struct kp_errbuf *eb)
{
	struct kp_sched *s;
	kp_err rc;

	memset(plan, 0, sizeof(*plan));
	rc = kp_sched_prepare(in, opts, &s, eb);
	if (rc)
		return rc;
	rc = kp_sched_run(s, in->node_removed, in->pods, in->npods, plan, eb);
	kp_sched_free(s);
	return rc;
}

void kp_plan_free(struct kp_plan *plan)
{
	if (!plan)
		return;
	kp_arena_free(&plan->arena);
	memset(plan, 0, sizeof(*plan));
}
