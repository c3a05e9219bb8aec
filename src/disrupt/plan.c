/*
 * plan.c - the pass loop (Karpenter's disruption controller Reconcile):
 * build the pass, try the methods in order, keep the first command, apply
 * it to the simulated world, repeat until a pass finds nothing.
 *
 * Method order: v1 expiration (a separate controller in Karpenter v1,
 * listed first), v1beta1 expiration (first in v0.37), emptiness, drift,
 * multi-node consolidation, single-node consolidation. Every pass uses the
 * same clock (opts.now). The blocked report describes the first pass.
 *
 * Invariants: the input cluster is never modified; the result owns copies
 * of every string it shows. Cost: per pass, building the candidates plus
 * the simulations the methods run (see consolidation.c).
 */
#include <stdlib.h>
#include <string.h>

#include "disrupt/disrupt_int.h"

void kp_disrupt_opts_default(struct kp_disrupt_opts *o)
{
	memset(o, 0, sizeof(*o));
	kp_sched_opts_default(&o->sched);
	o->sched.consolidation = true;
}

const char *kp_disrupt_method_name(enum kp_disrupt_method m)
{
	switch (m) {
	case KP_DISRUPT_EXPIRATION: return "expiration";
	case KP_DISRUPT_EMPTINESS: return "emptiness";
	case KP_DISRUPT_DRIFT: return "drift";
	case KP_DISRUPT_MULTI: return "multi-node";
	case KP_DISRUPT_SINGLE: return "single-node";
	case KP_DISRUPT_SPLIT: return "split";
	}
	return "unknown";
}

const char *kp_disrupt_action_name(enum kp_disrupt_action a)
{
	return a == KP_DISRUPT_REPLACE ? "replace" : "delete";
}

void kp_disrupt_result_free(struct kp_disrupt_result *res)
{
	if (!res)
		return;
	kp_arena_free(&res->arena);
	memset(res, 0, sizeof(*res));
}

typedef kp_err (*kp_disrupt__method_fn)(struct kp_disrupt__pass *, struct kp_disrupt__cmd *, bool *, struct kp_errbuf *);

static const kp_disrupt__method_fn methods[] = {
	kp_disrupt__expiration_v1, kp_disrupt__expiration_beta, kp_disrupt__emptiness, kp_disrupt__drift, kp_disrupt__multi, kp_disrupt__single,
};

/* Copies the command into the result; replacement names come later. */
static struct kp_disrupt_cmd *record_cmd(struct kp_disrupt_result *res, struct kp_disrupt__pass *p,
					  const struct kp_disrupt__cmd *c, int *cap)
{
	struct kp_arena *a = &res->arena;
	struct kp_disrupt_cmd *o;

	if (res->ncmds == *cap) {
		int ncap = *cap ? *cap * 2 : 8;
		struct kp_disrupt_cmd *v = kp_arena_grow(a, res->cmds, (size_t)res->ncmds, (size_t)ncap, sizeof(*v));
		if (!v)
			return NULL;
		res->cmds = v;
		*cap = ncap;
	}
	o = &res->cmds[res->ncmds];
	memset(o, 0, sizeof(*o));
	o->method = c->method;
	o->action = c->action;
	o->pass = p->index;
	o->npods = c->npods;
	o->price = c->price;
	o->repl_price = c->repl_price;
	o->savings = c->savings;
	o->has_score = c->has_score;
	o->score = c->score;
	o->reason = kp_arena_strdup(a, c->reason ? c->reason : "");
	o->nodes = kp_arena_calloc(a, (size_t)c->ncand + 1, sizeof(*o->nodes));
	o->repl = kp_arena_calloc(a, (size_t)c->nclaims + 1, sizeof(*o->repl));
	if (!o->reason || !o->nodes || !o->repl)
		return NULL;
	for (int i = 0; i < c->ncand; i++) {
		o->nodes[i] = kp_arena_strdup(a, p->nodes[c->cand[i]].node->name);
		if (!o->nodes[i])
			return NULL;
	}
	o->nnodes = c->ncand;
	for (int i = 0; i < c->nclaims; i++) {
		const struct kp_disrupt__claim *dc = &c->claims[i];
		struct kp_disrupt_repl *r = &o->repl[i];

		r->pool = dc->pc->pool;
		r->itype = dc->it;
		r->offering = dc->off;
		r->npods = dc->pc->npods;
		r->noptions = dc->nopt;
		r->options = kp_arena_calloc(a, (size_t)dc->nopt + 1, sizeof(*r->options));
		if (!r->options)
			return NULL;
		for (int k = 0; k < dc->nopt; k++)
			r->options[k] = dc->opt[k];
	}
	o->nrepl = c->nclaims;
	res->ncmds++;
	return o;
}

static int cmp_blocked(const void *a, const void *b)
{
	const struct kp_disrupt_blocked *x = a, *y = b;
	return kp_strcmp0(x->node, y->node);
}

static kp_err record_blocked(struct kp_disrupt_result *res, struct kp_disrupt__pass *p)
{
	struct kp_arena *a = &res->arena;

	res->blocked = kp_arena_calloc(a, (size_t)p->nnodes + 1, sizeof(*res->blocked));
	if (!res->blocked)
		return KP_ERR_NOMEM;
	for (int i = 0; i < p->nnodes; i++) {
		const char *why = kp_disrupt__blocked_reason(p, i);
		struct kp_disrupt_blocked *b;
		const char *colon;

		if (!why)
			continue;
		b = &res->blocked[res->nblocked++];
		b->node = kp_arena_strdup(a, p->nodes[i].node->name);
		b->reason = kp_arena_strdup(a, why);
		colon = strchr(why, ':');
		b->code = colon ? kp_arena_strndup(a, why, (size_t)(colon - why)) : kp_arena_strdup(a, why);
		if (!b->node || !b->reason || !b->code)
			return KP_ERR_NOMEM;
	}
	qsort(res->blocked, (size_t)res->nblocked, sizeof(*res->blocked), cmp_blocked);
	return KP_OK;
}

/* The provisioner runs before disruption does: pending pods go where it
 * would put them, its new nodes launched and initialized, so the passes see
 * the cluster settled (as Karpenter's disruption controller would, once the
 * nodes it launched are up). Pods that fit nowhere stay pending. */
static kp_err settle_pending(struct kp_disrupt__world *w, const struct kp_catalog *cat,
			     const struct kp_disrupt_opts *opts, struct kp_errbuf *eb)
{
	struct kp_disrupt__pass p;
	struct kp_disrupt__cmd cmd;
	struct kp_disrupt__sim_result *r;
	const char **names;
	kp_err rc;

	memset(&cmd, 0, sizeof(cmd));
	rc = kp_disrupt__pass_build(&p, w, cat, opts, 0, eb);
	if (rc || p.npending == 0)
		goto out;
	r = kp_arena_alloc(&p.arena, sizeof(*r));
	if (!r) {
		rc = kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
		goto out;
	}
	rc = kp_disrupt__provision(&p, r, eb);
	if (rc)
		goto out;
	cmd.sim = r;
	cmd.provisioning = true;
	rc = kp_disrupt__claims_unfiltered(&p, &cmd, eb);
	if (rc)
		goto out;
	names = kp_arena_calloc(&p.arena, (size_t)cmd.nclaims + 1, sizeof(*names));
	rc = names ? kp_disrupt__world_apply(&p, &cmd, names, eb)
		   : kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
out:
	kp_disrupt__cmd_clear(&cmd);
	kp_disrupt__pass_free(&p);
	return rc;
}

kp_err kp_disrupt_run(const struct kp_cluster *c, const struct kp_catalog *cat,
		      const struct kp_disrupt_opts *opts, struct kp_disrupt_result *res,
		      struct kp_errbuf *eb)
{
	struct kp_disrupt__world w;
	struct kp_disrupt__pass p;
	int max = opts->max_passes > 0 ? opts->max_passes : DD_PASSES_DEFAULT;
	int cap = 0;
	kp_err rc;

	memset(res, 0, sizeof(*res));
	kp_arena_init(&res->arena);
	memset(&p, 0, sizeof(p));
	rc = kp_disrupt__world_init(&w, c, eb);
	if (rc)
		return rc;
	rc = settle_pending(&w, cat, opts, eb);
	if (rc) {
		kp_disrupt__world_free(&w);
		return rc;
	}
	for (int pass = 0;; pass++) {
		struct kp_disrupt__cmd cmd;
		struct kp_disrupt_cmd *out;
		const char **names;
		bool found = false;

		memset(&cmd, 0, sizeof(cmd));
		if (pass == max) {
			res->pass_limit = true;
			break;
		}
		rc = kp_disrupt__pass_build(&p, &w, cat, opts, pass, eb);
		for (size_t m = 0; !rc && !found && m < KP_ARRAY_LEN(methods); m++)
			rc = methods[m](&p, &cmd, &found, eb);
		if (rc)
			goto fail;
		res->npasses++;
		for (int i = 0; found && i < cmd.ncand; i++)
			p.nodes[cmd.cand[i]].in_cmd = true;
		if (pass == 0 && record_blocked(res, &p)) {
			rc = kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
			goto fail;
		}
		if (!found) {
			res->candidates_evaluated += p.evaluated;
			res->simulations += p.simulations;
			kp_disrupt__pass_free(&p);
			break;
		}
		out = record_cmd(res, &p, &cmd, &cap);
		names = kp_arena_calloc(&p.arena, (size_t)cmd.nclaims + 1, sizeof(*names));
		if (!out || !names) {
			rc = kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
			goto fail;
		}
		rc = kp_disrupt__world_apply(&p, &cmd, names, eb);
		if (rc)
			goto fail;
		for (int i = 0; i < cmd.nclaims; i++) {
			out->repl[i].node = kp_arena_strdup(&res->arena, names[i] ? names[i] : "");
			if (!out->repl[i].node) {
				rc = kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
				goto fail;
			}
		}
		kp_disrupt__cmd_clear(&cmd);
		res->candidates_evaluated += p.evaluated;
		res->simulations += p.simulations;
		kp_disrupt__pass_free(&p);
		continue;
fail:
		kp_disrupt__cmd_clear(&cmd);
		kp_disrupt__pass_free(&p);
		kp_disrupt__world_free(&w);
		kp_disrupt_result_free(res);
		return rc;
	}
	kp_disrupt__world_free(&w);
	return KP_OK;
}
