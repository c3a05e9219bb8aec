/*
 * expiration.c - node expiry, in its two generations.
 *
 * v1 (spec.template.spec.expireAfter): Karpenter's nodeclaim.expiration
 * controller deletes every NodeClaim at creationTimestamp + expireAfter,
 * ignoring budgets, PDBs and do-not-disrupt. Here that is one "delete"
 * command per pass listing every expired node; its replacements are what
 * the provisioner would launch for the evicted pods (a simulation that is
 * not required to place them all).
 *
 * v1beta1 (spec.disruption.expireAfter, v0.37): a graceful, budgeted
 * method run first: empty expired nodes in one delete, else the oldest
 * expired candidate whose pods all fit is replaced (replacements first).
 *
 * Cost: v1 one simulation; v1beta1 at most one per expired candidate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disrupt/disrupt_int.h"

struct by_expiry {
	int64_t t;
	const char *name;
	int idx;
};

static int cmp_expiry(const void *a, const void *b)
{
	const struct by_expiry *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return kp_strcmp0(x->name, y->name);
}

/* Expired nodes sorted by expiry time; beta selects the generation. */
static int expired(struct kp_disrupt__pass *p, bool beta, int *out)
{
	struct by_expiry *k = kp_arena_calloc(&p->arena, (size_t)p->nnodes + 1, sizeof(*k));
	int n = 0;

	if (!k)
		return -1;
	for (int i = 0; i < p->nnodes; i++) {
		const struct kp_disrupt__node *d = &p->nodes[i];
		if (!d->managed || !d->pool || d->deleting)
			continue;
		if (beta ? !d->expired_beta || d->node_block || d->pod_block : !d->expired_v1)
			continue;
		k[n].t = d->expire_at;
		k[n].name = d->node->name;
		k[n].idx = i;
		n++;
	}
	qsort(k, (size_t)n, sizeof(*k), cmp_expiry);
	for (int i = 0; i < n; i++)
		out[i] = k[i].idx;
	return n;
}

static void fmt_ms(int64_t ms, char *buf, size_t n)
{
	int64_t s = ms / 1000;

	if (s % 3600 == 0)
		snprintf(buf, n, "%lldh", (long long)(s / 3600));
	else if (s % 60 == 0)
		snprintf(buf, n, "%lldm", (long long)(s / 60));
	else
		snprintf(buf, n, "%llds", (long long)s);
}

static const char *expiry_reason(struct kp_disrupt__pass *p, int i)
{
	const struct kp_disrupt__node *d = &p->nodes[i];
	char after[32], at[32];

	fmt_ms(d->pool->expire_after_ms, after, sizeof(after));
	kp_format_rfc3339(d->expire_at, at, sizeof(at));
	return kp_disrupt__fmt(p, "Expired: nodepool %s expireAfter %s elapsed at %s", d->pool->name, after, at);
}

kp_err kp_disrupt__expiration_v1(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb)
{
	int *cand = kp_arena_calloc(&p->arena, (size_t)p->nnodes + 1, sizeof(int));
	struct kp_disrupt__sim_result *r = kp_arena_alloc(&p->arena, sizeof(*r));
	int n;
	kp_err rc;

	*found = false;
	memset(cmd, 0, sizeof(*cmd));
	if (!cand || !r || (n = expired(p, false, cand)) < 0)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
	if (n == 0)
		return KP_OK;
	rc = kp_disrupt__simulate(p, cand, n, false, r, eb);
	if (rc)
		return rc;
	cmd->method = KP_DISRUPT_EXPIRATION;
	cmd->action = KP_DISRUPT_DELETE;
	cmd->cand = cand;
	cmd->ncand = n;
	cmd->sim = r;
	for (int i = 0; i < n; i++) {
		cmd->price += p->nodes[cand[i]].price;
		cmd->npods += p->nodes[cand[i]].nresched;
	}
	rc = kp_disrupt__claims_unfiltered(p, cmd, eb);
	if (rc) {
		kp_disrupt__cmd_clear(cmd);
		return rc;
	}
	cmd->reason = n == 1 ? expiry_reason(p, cand[0])
			     : kp_disrupt__fmt(p, "Expired: %d nodes are past their nodepool's expireAfter", n);
	*found = true;
	return KP_OK;
}

kp_err kp_disrupt__expiration_beta(struct kp_disrupt__pass *p, struct kp_disrupt__cmd *cmd, bool *found, struct kp_errbuf *eb)
{
	int *cand = kp_arena_calloc(&p->arena, (size_t)p->nnodes + 1, sizeof(int));
	int n;
	kp_err rc;

	*found = false;
	memset(cmd, 0, sizeof(*cmd));
	if (!cand || (n = expired(p, true, cand)) < 0)
		return kp_errf(eb, KP_ERR_NOMEM, "disruption: out of memory");
	if (n == 0)
		return KP_OK;
	rc = kp_disrupt__replace_each(p, KP_DISRUPT_EXPIRATION, DR_EXPIRED, cand, n, "Expired", cmd, found, eb);
	if (rc)
		return rc;
	if (*found && cmd->ncand == 1)
		cmd->reason = expiry_reason(p, cmd->cand[0]);
	return KP_OK;
}
