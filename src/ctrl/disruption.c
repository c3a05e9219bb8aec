/*
 * disruption.c - the disruption controller and its orchestration queue,
 * and the NodeClaim expiration controller.
 *
 * Mirrors Karpenter v1 pkg/controllers/disruption: controller.go (a
 * singleton pass every 10 s once the cluster state is synced: clear stale
 * karpenter.sh/disrupted taints and DisruptionReason conditions, compute
 * the methods in order, act on the first command), validation.go (an
 * emptiness or consolidation command waits 15 s and is re-checked: the
 * planner must still produce it, for the same candidates, with the same
 * number of replacements whose instance types include the command's) and
 * queue.go (StartCommand: taint the candidates disrupted:NoSchedule, set
 * DisruptionReason, create the replacements; then wait until every
 * replacement is Initialized, 10 min at most, and delete the candidate
 * NodeClaims; on timeout or a vanished replacement, untaint and give up).
 * And pkg/controllers/nodeclaim/expiration: a NodeClaim whose
 * creationTimestamp + spec.expireAfter has passed is deleted, forcefully,
 * ignoring budgets.
 *
 * The decisions are the engine's (kp_disrupt_run with one pass over a
 * snapshot, include/karpenter/disrupt.h); this file turns its first command
 * into API writes. Replacements are NodeClaims in the provisioner's shape
 * (kp_ctrl__prov_nodeclaim_json), limited to the command's instance types.
 *
 * Invariants: at most one command is in flight (validating or executing);
 * while one executes no other is computed, so a node is never in two
 * commands. Candidates are deleted only after every replacement is
 * Initialized. A pass never runs before the informers have synced.
 * Cost: a pass is one snapshot plus one planner pass (its simulations, see
 * src/disrupt); passes run every poll period, and at most every 2 s after
 * cluster changes. Executing a command costs O(candidates + replacements)
 * API writes.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ext_int.h"
#include "karpenter/disrupt.h"
#include "karpenter/labels.h"
#include "karpenter/sched.h"

#define TRIGGER_MIN_GAP_MS 2000
#define PROGRESS_MS 1000
#define UNSYNCED_RETRY_MS 1000

struct dis_repl {
	const char *pool;
	int nopt;
	const char **opts;                /* instance type names, cheapest first */
	const char *name;                 /* created NodeClaim, once created */
	bool initialized;
};

struct dis_cmd {
	struct kp_arena a;                /* owns everything below */
	enum kp_disrupt_method method;
	enum kp_disrupt_action action;
	int ncand;
	const char **nodes, **claims, **pools, **captypes, **policies;
	int *npods;                       /* reschedulable pods per candidate */
	int nrepl;
	struct dis_repl *repl;
	double price, repl_price, savings;
	const char *why;                  /* the planner's explanation */
	int64_t decided_ms, exec_ms;      /* monotonic */
};

struct kp_ctrl__disruption {
	struct kp_kube_timer timer;
	bool armed;
	int64_t due_ms;                   /* monotonic, when armed */
	int64_t last_pass_ms;
	struct dis_cmd *pending;          /* waiting for validation */
	struct dis_cmd *running;          /* executed, waiting for its replacements */
	/* Node name -> monotonic ms its NodeClaim was deleted, until the
	 * informer shows it (Karpenter's cluster.MarkForDeletion): later
	 * passes treat these nodes as deleting */
	json_t *marked;
	/* "node\nreason\nmessage" -> monotonic ms an event was last
	 * published (Karpenter's recorder dedupes the same way) */
	json_t *published;
};

/* ---- names ---- */

static const char *reason_label(enum kp_disrupt_method m)
{
	switch (m) {
	case KP_DISRUPT_EXPIRATION: return "expired";
	case KP_DISRUPT_EMPTINESS: return "empty";
	case KP_DISRUPT_DRIFT: return "drifted";
	default: return "underutilized";
	}
}

static const char *reason_cond(enum kp_disrupt_method m)
{
	switch (m) {
	case KP_DISRUPT_EXPIRATION: return "Expired";
	case KP_DISRUPT_EMPTINESS: return "Empty";
	case KP_DISRUPT_DRIFT: return "Drifted";
	default: return "Underutilized";
	}
}

static const char *consolidation_type(enum kp_disrupt_method m)
{
	switch (m) {
	case KP_DISRUPT_EMPTINESS: return "empty";
	case KP_DISRUPT_MULTI: return "multi";
	case KP_DISRUPT_SINGLE: return "single";
	case KP_DISRUPT_SPLIT: return "split";
	default: return "";
	}
}

static const char *policy_label(enum kp_consolidation_policy p)
{
	switch (p) {
	case KP_CONSOLIDATE_WHEN_EMPTY: return "when_empty";
	case KP_CONSOLIDATE_BALANCED: return "balanced";
	default: return "when_empty_or_underutilized";
	}
}

static bool is_consolidation(enum kp_disrupt_method m)
{
	return m == KP_DISRUPT_MULTI || m == KP_DISRUPT_SINGLE || m == KP_DISRUPT_SPLIT;
}

/* ---- timer ---- */

static void pass(void *ud);

static void arm(struct kp_ctrl *c, int64_t delay)
{
	struct kp_ctrl__disruption *d = c->ext->dis;
	int64_t due = kp_ctrl__now(c) + (delay > 0 ? delay : 0);

	if (d->armed && d->due_ms <= due)
		return;
	d->armed = true;
	d->due_ms = due;
	kp_kube_timer_start(c->loop, &d->timer, delay > 0 ? delay : 0, pass, c);
}

/* Re-arms for exactly delay from now (the pass's own schedule). */
static void rearm(struct kp_ctrl *c, int64_t delay)
{
	c->ext->dis->armed = false;
	arm(c, delay);
}

void kp_ctrl__dis_trigger(struct kp_ctrl *c)
{
	struct kp_ctrl__disruption *d = c->ext ? c->ext->dis : NULL;
	int64_t now, at;

	if (!d || !c->controllers_on || d->running || d->pending)
		return;
	now = kp_ctrl__now(c);
	at = d->last_pass_ms + TRIGGER_MIN_GAP_MS;
	arm(c, at > now ? at - now : 0);
}

/* ---- commands ---- */

static void cmd_free(struct dis_cmd *k)
{
	if (!k)
		return;
	kp_arena_free(&k->a);
	free(k);
}

static const char *node_label(const struct kp_node *n, const char *key)
{
	const char *v = n ? kp_labels_get(&n->labels, key) : NULL;
	return v ? v : "";
}

/* Copies the engine's command (names only: it outlives the snapshot). */
static struct dis_cmd *cmd_copy(struct kp_ctrl *c, const struct kp_disrupt_cmd *e, const struct kp_cluster *cl)
{
	struct dis_cmd *k = calloc(1, sizeof(*k));
	struct kp_arena *a;

	if (!k)
		return NULL;
	kp_arena_init(&k->a);
	a = &k->a;
	k->method = e->method;
	k->action = e->action;
	k->price = e->price;
	k->repl_price = e->repl_price;
	k->savings = e->savings;
	k->why = kp_arena_strdup(a, e->reason ? e->reason : "");
	k->decided_ms = kp_ctrl__now(c);
	k->ncand = e->nnodes;
	k->nodes = kp_arena_calloc(a, (size_t)e->nnodes + 1, sizeof(char *));
	k->claims = kp_arena_calloc(a, (size_t)e->nnodes + 1, sizeof(char *));
	k->pools = kp_arena_calloc(a, (size_t)e->nnodes + 1, sizeof(char *));
	k->captypes = kp_arena_calloc(a, (size_t)e->nnodes + 1, sizeof(char *));
	k->policies = kp_arena_calloc(a, (size_t)e->nnodes + 1, sizeof(char *));
	k->npods = kp_arena_calloc(a, (size_t)e->nnodes + 1, sizeof(int));
	k->repl = kp_arena_calloc(a, (size_t)e->nrepl + 1, sizeof(*k->repl));
	if (!k->why || !k->nodes || !k->claims || !k->pools || !k->captypes || !k->policies || !k->npods || !k->repl)
		goto fail;
	for (int i = 0; i < e->nnodes; i++) {
		const struct kp_node *n = kp_cluster_node(cl, e->nodes[i]);
		const struct kp_nodepool *np = kp_cluster_pool(cl, node_label(n, KP_LABEL_NODEPOOL));
		k->nodes[i] = kp_arena_strdup(a, e->nodes[i]);
		k->claims[i] = kp_arena_strdup(a, n && n->claim ? n->claim->name : "");
		k->pools[i] = kp_arena_strdup(a, node_label(n, KP_LABEL_NODEPOOL));
		k->captypes[i] = kp_arena_strdup(a, node_label(n, KP_LABEL_CAPACITY_TYPE));
		k->policies[i] = is_consolidation(e->method) || e->method == KP_DISRUPT_EMPTINESS
					 ? (np ? policy_label(np->policy) : "")
					 : "";
		if (!k->nodes[i] || !k->claims[i] || !k->pools[i] || !k->captypes[i])
			goto fail;
		for (int p = 0; p < cl->npods; p++)
			if (cl->pods[p]->node_name && strcmp(cl->pods[p]->node_name, e->nodes[i]) == 0 &&
			    kp_pod_is_reschedulable(cl->pods[p]))
				k->npods[i]++;
	}
	k->nrepl = e->nrepl;
	for (int i = 0; i < e->nrepl; i++) {
		struct dis_repl *r = &k->repl[i];
		r->pool = kp_arena_strdup(a, e->repl[i].pool ? e->repl[i].pool->name : "");
		r->nopt = e->repl[i].noptions;
		r->opts = kp_arena_calloc(a, (size_t)r->nopt + 1, sizeof(char *));
		if (!r->pool || !r->opts)
			goto fail;
		for (int o = 0; o < r->nopt; o++)
			if (!(r->opts[o] = kp_arena_strdup(a, e->repl[i].options[o]->name)))
				goto fail;
	}
	return k;
fail:
	cmd_free(k);
	return NULL;
}

static bool has_str(const char *const *v, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* NULL when the fresh command e still confirms k; else why not. */
static const char *validate(const struct dis_cmd *k, const struct kp_disrupt_cmd *e)
{
	if (!e)
		return "the candidates are no longer disruptable";
	if (k->method == KP_DISRUPT_EMPTINESS) {
		if (e->method != KP_DISRUPT_EMPTINESS)
			return "the candidates are no longer empty";
		for (int i = 0; i < k->ncand; i++)
			if (!has_str(e->nodes, e->nnodes, k->nodes[i]))
				return "a candidate is no longer empty or in budget";
		return NULL;
	}
	if (!is_consolidation(e->method))
		return "another disruption method now applies";
	if (e->nnodes != k->ncand)
		return "the candidates changed";
	for (int i = 0; i < k->ncand; i++)
		if (!has_str(e->nodes, e->nnodes, k->nodes[i]))
			return "the candidates changed";
	if (e->nrepl != k->nrepl)
		return "the number of replacements changed";
	for (int i = 0; i < k->nrepl; i++) {
		for (int o = 0; o < k->repl[i].nopt; o++) {
			bool found = false;
			for (int q = 0; q < e->repl[i].noptions && !found; q++)
				found = strcmp(e->repl[i].options[q]->name, k->repl[i].opts[o]) == 0;
			if (!found)
				return "the replacement's instance types are no longer all valid";
		}
	}
	return NULL;
}

/* "Underutilized/Replace, terminating 1 nodes (3 pods) ip-a; replacing with 1 nodeclaim(s) of c6g.large, ..." */
static const char *cmd_str(struct kp_arena *a, const struct dis_cmd *k)
{
	struct kp_buf b;
	char *s;
	const char *out;
	int pods = 0;

	for (int i = 0; i < k->ncand; i++)
		pods += k->npods[i];
	kp_buf_init(&b, 4096);
	kp_buf_printf(&b, "%s/%s, terminating %d nodes (%d pods)", reason_cond(k->method),
		      k->action == KP_DISRUPT_REPLACE ? "Replace" : "Delete", k->ncand, pods);
	for (int i = 0; i < k->ncand && i < 10; i++)
		kp_buf_printf(&b, "%s%s", i ? ", " : " ", k->nodes[i]);
	if (k->ncand > 10)
		kp_buf_printf(&b, " and %d other(s)", k->ncand - 10);
	if (k->nrepl) {
		kp_buf_printf(&b, "; replacing with %d nodeclaim(s) of", k->nrepl);
		for (int o = 0; o < k->repl[0].nopt && o < 5; o++)
			kp_buf_printf(&b, "%s%s", o ? ", " : " ", k->repl[0].opts[o]);
		if (k->repl[0].nopt > 5)
			kp_buf_printf(&b, " and %d other(s)", k->repl[0].nopt - 5);
	}
	s = kp_buf_take(&b);
	out = kp_arena_strdup(a, s ? s : "");
	free(s);
	return out ? out : "";
}

static void log_cmd(struct kp_ctrl *c, const char *msg, const struct dis_cmd *k, const char *err)
{
	struct kp_arena a;
	const char *s;

	kp_arena_init(&a);
	s = cmd_str(&a, k);
	if (err)
		kp_log_error(&c->ext->log_dis, msg,
			     KP_LOG_FIELDS(kp_log_str("command", s), kp_log_str("reason", reason_label(k->method)),
					   kp_log_str("method", kp_disrupt_method_name(k->method)), kp_log_errmsg(err)));
	else
		kp_log_info(&c->ext->log_dis, msg,
			    KP_LOG_FIELDS(kp_log_str("command", s), kp_log_str("reason", reason_label(k->method)),
					  kp_log_str("method", kp_disrupt_method_name(k->method)),
					  kp_log_str("decision", kp_disrupt_action_name(k->action)),
					  kp_log_double("savings", k->savings), kp_log_double("price", k->price),
					  kp_log_double("replacement-price", k->repl_price), kp_log_str("why", k->why)));
	kp_arena_free(&a);
}

static void node_event(struct kp_ctrl *c, const struct dis_cmd *k, int i, const char *type, const char *reason,
		       const char *note)
{
	json_t *n = kp_informer_get(c->inf[KPC_NODES], NULL, k->nodes[i]);
	json_t *nc = kp_ctrl__claim_get(c, k->claims[i]);

	kp_ctrl__event(c, "Node", "v1", NULL, k->nodes[i], kp_ctrl__jstr(n, "metadata.uid"), type, reason, note);
	if (k->claims[i][0])
		kp_ctrl__event(c, "NodeClaim", "karpenter.sh/v1", NULL, k->claims[i], kp_ctrl__jstr(nc, "metadata.uid"), type,
			  reason, note);
}

/* Untaints the candidates and clears their DisruptionReason. */
static void rollback(struct kp_ctrl *c, const struct dis_cmd *k)
{
	for (int i = 0; i < k->ncand; i++) {
		kp_ctrl__ext_taint(c, &c->ext->log_dis, k->nodes[i], false, false);
		if (k->claims[i][0])
			kp_ctrl__ext_claim_condition(c, &c->ext->log_dis, k->claims[i], "DisruptionReason", NULL, NULL, NULL);
	}
}

/* Creates replacement i from the engine's replacement e (same pool object
 * and catalog types), limited to k's types. Returns the name or NULL. */
static const char *create_replacement(struct kp_ctrl *c, struct dis_cmd *k, int i, const struct kp_disrupt_repl *e,
				      const struct kp_cluster *cl, struct kp_arena *a)
{
	struct kp_plan_claim pc;
	const struct kp_itype **its;
	const char **names;
	struct kp_req r;
	struct kp_errbuf eb = { 0 };
	struct kp_kube_status ks;
	json_t *pool_obj, *obj, *made = NULL;
	const char *name;
	int n = 0;

	memset(&pc, 0, sizeof(pc));
	pool_obj = kp_informer_get(c->inf[KPC_NODEPOOLS], NULL, e->pool->name);
	if (!pool_obj)
		return NULL;
	its = kp_arena_calloc(a, (size_t)e->noptions + 1, sizeof(*its));
	names = kp_arena_calloc(a, (size_t)e->noptions + 1, sizeof(*names));
	if (!its || !names)
		return NULL;
	for (int o = 0; o < e->noptions; o++)
		if (has_str(k->repl[i].opts, k->repl[i].nopt, e->options[o]->name)) {
			its[n] = e->options[o];
			names[n++] = e->options[o]->name;
		}
	if (n == 0)
		return NULL;
	pc.pool = e->pool;
	if (kp_reqs_copy(&pc.reqs, a, &e->pool->reqs) ||
	    kp_req_make(&r, a, KP_LABEL_INSTANCE_TYPE, KP_OP_IN, names, n, 0, &eb) || kp_reqs_add(&pc.reqs, a, &r))
		return NULL;
	/* pinned to spot when the launch is spot (Karpenter never lets a
	 * spot replacement fall back to pricier on-demand) */
	if (e->offering && e->offering->captype == KP_CAP_SPOT) {
		const char *spot = "spot";
		if (kp_req_make(&r, a, KP_LABEL_CAPACITY_TYPE, KP_OP_IN, &spot, 1, 0, &eb) ||
		    kp_reqs_add(&pc.reqs, a, &r))
			return NULL;
	}
	/* requests: the reschedulable pods of the candidates (all of them go
	 * to the one replacement of a consolidation) */
	kp_res_zero(&pc.requests);
	for (int ci = 0; ci < k->ncand; ci++)
		for (int p = 0; p < cl->npods; p++) {
			const struct kp_pod *pod = cl->pods[p];
			if (!pod->node_name || strcmp(pod->node_name, k->nodes[ci]) != 0 || !kp_pod_is_reschedulable(pod))
				continue;
			kp_res_add(&pc.requests, &pod->requests);
			pc.requests.v[KP_RES_PODS] += 1;
		}
	pc.itypes = its;
	pc.nitypes = n;
	pc.launch_type = its[0];
	obj = kp_ctrl__prov_nodeclaim_json(c, &pc, pool_obj, its, n, a);
	if (!obj)
		return NULL;
	if (kp_kube_create(c->kc, &KP_KUBE_NODECLAIMS, NULL, obj, &made, &ks, &eb)) {
		kp_log_error(&c->ext->log_dis, "could not create replacement nodeclaim",
			     KP_LOG_FIELDS(kp_log_object("NodePool", e->pool->name), kp_log_errmsg(eb.msg)));
		json_decref(obj);
		return NULL;
	}
	json_decref(obj);
	name = kp_arena_strdup(&k->a, kp_ctrl__jstr(made, "metadata.name") ? kp_ctrl__jstr(made, "metadata.name") : "");
	json_array_append(c->created, made);
	json_decref(made);
	if (!name || !*name)
		return NULL;
	kp_ctrl__queue_add(&c->lifecycle, name, 0);
	if (c->m.nodeclaims_created_total)
		kp_metrics_inc(c->m.nodeclaims_created_total, KP_LV(reason_label(k->method), e->pool->name, "false"));
	kp_log_info(&c->ext->log_dis, "created nodeclaim",
		    KP_LOG_FIELDS(kp_log_object("NodePool", e->pool->name), kp_log_object("NodeClaim", name),
				  kp_log_str("reason", reason_label(k->method)), kp_log_str("instance-types", names[0]),
				  kp_log_int("instance-type-count", n)));
	kp_ctrl__event(c, "NodeClaim", "karpenter.sh/v1", NULL, name, NULL, "Normal", "DisruptionLaunching",
		  reason_cond(k->method));
	return name;
}

static void count_decision(struct kp_ctrl *c, const struct dis_cmd *k)
{
	const char *dec = kp_disrupt_action_name(k->action);

	if (c->m.voluntary_disruption_decisions_total)
		kp_metrics_inc(c->m.voluntary_disruption_decisions_total,
			       KP_LV(dec, reason_label(k->method), consolidation_type(k->method)));
	for (int i = 0; i < k->ncand && c->m.voluntary_disruption_decisions_by_nodepool_total; i++) {
		bool seen = false;
		for (int j = 0; j < i; j++)
			seen |= strcmp(k->pools[j], k->pools[i]) == 0;
		if (!seen)
			kp_metrics_inc(c->m.voluntary_disruption_decisions_by_nodepool_total,
				       KP_LV(k->pools[i], dec, reason_label(k->method), consolidation_type(k->method)));
	}
}

/* StartCommand. On success k becomes the running command (owned by d). */
static bool execute(struct kp_ctrl *c, struct dis_cmd *k, const struct kp_disrupt_cmd *e, const struct kp_cluster *cl)
{
	struct kp_ctrl__disruption *d = c->ext->dis;
	struct kp_arena a;
	char note[256];
	int marked = 0;

	log_cmd(c, "disrupting node(s)", k, NULL);
	for (int i = 0; i < k->ncand; i++) {
		int r = kp_ctrl__ext_taint(c, &c->ext->log_dis, k->nodes[i], true, false);
		if (r == 0 && k->claims[i][0])
			r = kp_ctrl__ext_claim_condition(c, &c->ext->log_dis, k->claims[i], "DisruptionReason", "True",
						    reason_cond(k->method), reason_cond(k->method));
		marked += r == 0;
	}
	if (marked < k->ncand) {
		log_cmd(c, "failed to start disruption command", k, "marking candidates disrupted failed");
		rollback(c, k);
		return false;
	}
	kp_arena_init(&a);
	for (int i = 0; i < k->nrepl; i++) {
		k->repl[i].name = create_replacement(c, k, i, &e->repl[i], cl, &a);
		if (!k->repl[i].name) {
			kp_arena_free(&a);
			log_cmd(c, "failed to start disruption command", k, "launching replacement nodeclaim failed");
			rollback(c, k);
			return false;
		}
	}
	kp_arena_free(&a);
	k->exec_ms = kp_ctrl__now(c);
	count_decision(c, k);
	snprintf(note, sizeof(note), "Disrupting Node: %s/%s", reason_cond(k->method),
		 k->action == KP_DISRUPT_REPLACE ? "Replace" : "Delete");
	for (int i = 0; i < k->ncand; i++)
		node_event(c, k, i, "Normal", "DisruptionTerminating", note);
	d->running = k;
	return true;
}

/* Waits for the replacements, then deletes the candidates. Returns the
 * delay before the next visit. */
static int64_t progress(struct kp_ctrl *c)
{
	struct kp_ctrl__disruption *d = c->ext->dis;
	struct dis_cmd *k = d->running;
	int waiting = 0;
	const char *fail = NULL;

	for (int i = 0; i < k->nrepl && !fail; i++) {
		json_t *nc;
		if (k->repl[i].initialized)
			continue;
		nc = kp_ctrl__claim_get(c, k->repl[i].name);
		if (!nc || kp_ctrl__jget(nc, "metadata.deletionTimestamp"))
			fail = "replacement was deleted";
		else if (kp_ctrl__condition_true(nc, "Initialized"))
			k->repl[i].initialized = true;
		else
			waiting++;
	}
	if (!fail && waiting && kp_ctrl__now(c) - k->exec_ms > c->ext->replace_timeout_ms)
		fail = "command reached timeout waiting for replacement initialization";
	if (fail) {
		if (c->m.voluntary_disruption_queue_failures_total)
			kp_metrics_add(c->m.voluntary_disruption_queue_failures_total,
				       KP_LV(kp_disrupt_action_name(k->action), reason_label(k->method),
					     consolidation_type(k->method)),
				       (double)waiting + 1);
		rollback(c, k);
		log_cmd(c, "failed terminating nodes while executing a disruption command", k, fail);
		cmd_free(k);
		d->running = NULL;
		return 0;
	}
	if (waiting)
		return PROGRESS_MS;
	for (int i = 0; i < k->ncand; i++) {
		struct kp_kube_status ks;
		struct kp_errbuf eb = { 0 };
		char note[256];

		if (!k->claims[i][0])
			continue;
		if (kp_kube_delete(c->kc, &KP_KUBE_NODECLAIMS, NULL, k->claims[i], KP_PROPAGATE_DEFAULT, NULL, &ks, &eb) &&
		    !kp_kube_is_notfound(&ks)) {
			kp_log_error(&c->ext->log_dis, "failed to delete nodeclaim",
				     KP_LOG_FIELDS(kp_log_object("NodeClaim", k->claims[i]), kp_log_errmsg(eb.msg)));
			return PROGRESS_MS;   /* retried; the replacements stay initialized */
		}
		snprintf(note, sizeof(note), "Disrupting NodeClaim: %s", reason_cond(k->method));
		kp_log_info(&c->ext->log_dis, "deleting nodeclaim",
			    KP_LOG_FIELDS(kp_log_object("NodeClaim", k->claims[i]), kp_log_object("Node", k->nodes[i]),
					  kp_log_str("reason", reason_label(k->method))));
		if (c->m.nodeclaims_disrupted_total)
			kp_metrics_inc(c->m.nodeclaims_disrupted_total,
				       KP_LV(reason_label(k->method), k->pools[i], k->captypes[i], k->policies[i], "graceful"));
		if (c->m.pods_disruption_initiated_total)
			kp_metrics_add(c->m.pods_disruption_initiated_total,
				       KP_LV(reason_label(k->method), k->pools[i], k->captypes[i], k->policies[i], "graceful"),
				       k->npods[i]);
		json_object_set_new(d->marked, k->nodes[i], json_integer(kp_ctrl__now(c)));
		k->claims[i] = "";   /* done: a retry does not delete it again */
	}
	kp_log_info(&c->ext->log_dis, "command succeeded",
		    KP_LOG_FIELDS(kp_log_str("reason", reason_label(k->method)), kp_log_int("nodes", k->ncand),
				  kp_log_duration_ns("duration", (kp_ctrl__now(c) - k->decided_ms) * 1000000)));
	cmd_free(k);
	d->running = NULL;
	return 0;
}

/* v1 expiration found by the planner: delete, forcefully, no budgets. */
static void expire_now(struct kp_ctrl *c, const struct kp_disrupt_cmd *e, const struct kp_cluster *cl)
{
	for (int i = 0; i < e->nnodes; i++) {
		const struct kp_node *n = kp_cluster_node(cl, e->nodes[i]);
		if (n && n->claim)
			kp_ctrl__queue_add(&c->ext->expiration, n->claim->name, 0);
	}
}

/* Forgets marked nodes the informer shows deleting or gone (or after a minute). */
static void prune_marked(struct kp_ctrl *c)
{
	struct kp_ctrl__disruption *d = c->ext->dis;
	const char *key;
	json_t *val;
	void *tmp;
	int64_t now = kp_ctrl__now(c);

	json_object_foreach_safe(d->marked, tmp, key, val) {
		json_t *n = kp_informer_get(c->inf[KPC_NODES], NULL, key), *nc = n ? kp_ctrl__ext_claim_for_node(c, n) : NULL;
		if (!n || kp_ctrl__jget(n, "metadata.deletionTimestamp") || !nc || kp_ctrl__jget(nc, "metadata.deletionTimestamp") ||
		    now - json_integer_value(val) > 60000)
			json_object_del(d->marked, key);
	}
}

/* Clears disrupted taints and DisruptionReason left by a command that is
 * not running (a restart, a failed command) on nodes not being deleted. */
static void clear_stale(struct kp_ctrl *c)
{
	json_t **all = NULL;
	size_t n = 0;

	if (!kp_informer_list(c->inf[KPC_NODES], NULL, &all, &n, NULL)) {
		for (size_t i = 0; i < n; i++) {
			json_t *nc;
			if (!kp_ctrl__ext_node_has_taint(all[i], KPC_DISRUPTED_TAINT, "NoSchedule") ||
			    kp_ctrl__jget(all[i], "metadata.deletionTimestamp") || json_object_get(c->ext->dis->marked, kp_ctrl__ext_name(all[i])))
				continue;
			nc = kp_ctrl__ext_claim_for_node(c, all[i]);
			if (nc && kp_ctrl__jget(nc, "metadata.deletionTimestamp"))
				continue;
			kp_ctrl__ext_taint(c, &c->ext->log_dis, kp_ctrl__ext_name(all[i]), false, false);
		}
		free(all);
	}
	all = NULL;
	if (!kp_informer_list(c->inf[KPC_NODECLAIMS], NULL, &all, &n, NULL)) {
		for (size_t i = 0; i < n; i++)
			if (kp_ctrl__condition(all[i], "DisruptionReason") && !kp_ctrl__jget(all[i], "metadata.deletionTimestamp") &&
			    !json_object_get(c->ext->dis->marked, kp_ctrl__jstr(all[i], "status.nodeName") ? kp_ctrl__jstr(all[i], "status.nodeName") : ""))
				kp_ctrl__ext_claim_condition(c, &c->ext->log_dis, kp_ctrl__ext_name(all[i]), "DisruptionReason", NULL,
							NULL, NULL);
		free(all);
	}
}

/* nodepools_allowed_disruptions and eligible-node gauges. */
static void budget_metrics(struct kp_ctrl *c, const struct kp_cluster *cl, const struct kp_disrupt_result *res,
			   int64_t now_s)
{
	static const struct {
		unsigned bit;
		const char *label;
	} R[] = { { KP_REASON_EMPTY, "empty" }, { KP_REASON_UNDERUTILIZED, "underutilized" },
		  { KP_REASON_DRIFTED, "drifted" } };
	int64_t eligible = 0;

	for (int p = 0; p < cl->npools; p++) {
		const struct kp_nodepool *np = cl->pools[p];
		int64_t num = 0, disrupting = 0;
		for (int i = 0; i < cl->nnodes; i++) {
			const struct kp_node *n = cl->nodes[i];
			const char *pl = kp_labels_get(&n->labels, KP_LABEL_NODEPOOL);
			if (!pl || strcmp(pl, np->name) != 0 || !n->claim || !n->claim->initialized)
				continue;
			num++;
			if (n->deleting || n->claim->deleting || !n->ready)
				disrupting++;
		}
		for (size_t r = 0; r < KP_ARRAY_LEN(R); r++) {
			int64_t allowed = kp_nodepool_allowed_disruptions(np, R[r].bit, now_s, num) - disrupting;
			if (allowed < 0)
				allowed = 0;
			if (c->m.nodepools_allowed_disruptions)
				kp_metrics_set(c->m.nodepools_allowed_disruptions, KP_LV(np->name, R[r].label),
					       (double)allowed);
			if (c->m.nodepools_nodes_consuming_budgets)
				kp_metrics_set(c->m.nodepools_nodes_consuming_budgets, KP_LV(np->name, R[r].label),
					       (double)disrupting);
		}
	}
	for (int i = 0; i < cl->nnodes; i++)
		if (cl->nodes[i]->claim && cl->nodes[i]->claim->initialized && !cl->nodes[i]->deleting)
			eligible++;
	eligible -= res->nblocked;
	if (eligible < 0)
		eligible = 0;
	for (size_t r = 0; r < KP_ARRAY_LEN(R) && c->m.voluntary_disruption_eligible_nodes; r++)
		kp_metrics_set(c->m.voluntary_disruption_eligible_nodes, KP_LV(R[r].label), (double)eligible);
}

/* Dedupe windows of Karpenter's disruption events
 * (pkg/controllers/disruption/events: Blocked uses the recorder's default,
 * Unconsolidatable 15 minutes). */
#define BLOCKED_DEDUPE_MS (2 * 60 * 1000)
#define UNCONSOLIDATABLE_DEDUPE_MS (15 * 60 * 1000)

/* The events Karpenter publishes for nodes a pass could not disrupt
 * (events.Blocked from NewCandidate's checks: "Cannot disrupt Node: ...",
 * and events.Unconsolidatable from computeConsolidation), on the Node and
 * its NodeClaim, at most once per dedupe window for the same message.
 * Budget, consolidateAfter and policy blocks publish nothing per node, as
 * in Karpenter. */
static void blocked_events(struct kp_ctrl *c, const struct kp_cluster *cl, const struct kp_disrupt_result *res)
{
	struct kp_ctrl__disruption *d = c->ext->dis;
	int64_t now = kp_ctrl__now(c);
	const char *key;
	json_t *val;
	void *tmp;

	json_object_foreach_safe(d->published, tmp, key, val)
		if (now - json_integer_value(val) > UNCONSOLIDATABLE_DEDUPE_MS)
			json_object_del(d->published, key);
	for (int i = 0; i < res->nblocked; i++) {
		const struct kp_disrupt_blocked *b = &res->blocked[i];
		const char *reason, *detail = b->reason ? strchr(b->reason, ':') : NULL;
		int64_t window = BLOCKED_DEDUPE_MS;
		char note[600], dk[900];
		if (!b->code || !detail)
			continue;
		if (!strcmp(b->code, "do-not-disrupt") || !strcmp(b->code, "pdb") || !strcmp(b->code, "nominated") ||
		    !strcmp(b->code, "uninitialized")) {
			reason = "DisruptionBlocked";
		} else if (!strcmp(b->code, "not-cheaper") || !strcmp(b->code, "pods-do-not-fit")) {
			reason = "Unconsolidatable";
			window = UNCONSOLIDATABLE_DEDUPE_MS;
		} else {
			continue;
		}
		for (detail++; *detail == ' '; detail++)
			;
		snprintf(dk, sizeof(dk), "%s\n%s\n%s", b->node, reason, detail);
		val = json_object_get(d->published, dk);
		if (val && now - json_integer_value(val) < window)
			continue;
		json_object_set_new(d->published, dk, json_integer(now));
		const struct kp_node *n = kp_cluster_node(cl, b->node);
		const char *claim = n && n->claim ? n->claim->name : NULL;
		json_t *no = kp_informer_get(c->inf[KPC_NODES], NULL, b->node);
		json_t *nc = claim ? kp_ctrl__claim_get(c, claim) : NULL;
		if (!strcmp(reason, "Unconsolidatable"))
			snprintf(note, sizeof(note), "%c%s", toupper((unsigned char)detail[0]), detail + 1);
		else
			snprintf(note, sizeof(note), "Cannot disrupt Node: %c%s", toupper((unsigned char)detail[0]), detail + 1);
		kp_ctrl__event(c, "Node", "v1", NULL, b->node, kp_ctrl__jstr(no, "metadata.uid"), "Normal", reason, note);
		if (!claim)
			continue;
		if (strcmp(reason, "Unconsolidatable") != 0)
			snprintf(note, sizeof(note), "Cannot disrupt NodeClaim: %c%s", toupper((unsigned char)detail[0]),
				 detail + 1);
		kp_ctrl__event(c, "NodeClaim", "karpenter.sh/v1", NULL, claim, kp_ctrl__jstr(nc, "metadata.uid"), "Normal", reason,
			  note);
	}
}

static void pass(void *ud)
{
	struct kp_ctrl *c = ud;
	struct kp_ctrl__disruption *d = c->ext->dis;
	struct kp_cluster cl;
	struct kp_errbuf eb = { 0 };
	struct kp_disrupt_opts o;
	struct kp_disrupt_result res;
	const struct kp_catalog *cat = NULL;
	const struct kp_disrupt_cmd *e = NULL;
	struct kp_ctrl__pool_cats *pcats = NULL;
	struct kp_arena pa;
	int64_t now = kp_ctrl__now(c), t0 = now, delay = c->ext->disrupt_poll_ms;

	d->armed = false;
	if (!c->controllers_on)
		return;
	if (!atomic_load(&c->ready)) {
		rearm(c, UNSYNCED_RETRY_MS);
		return;
	}
	d->last_pass_ms = now;
	if (d->running) {
		delay = progress(c);
		rearm(c, delay);
		return;
	}
	if (d->pending && now < d->pending->decided_ms + c->ext->validation_ms) {
		rearm(c, d->pending->decided_ms + c->ext->validation_ms - now);
		return;
	}
	prune_marked(c);
	clear_stale(c);
	/* nothing to disrupt without NodePools and NodeClaims: skip decoding
	 * every pod into a snapshot (the pod cache may be compact text) */
	if (kp_informer_size(c->inf[KPC_NODEPOOLS]) == 0 || kp_informer_size(c->inf[KPC_NODECLAIMS]) == 0) {
		rearm(c, delay);
		return;
	}
	if (kp_ctrl__snapshot(c, &cl, NULL, NULL, &eb)) {
		kp_log_error(&c->ext->log_dis, "could not snapshot cluster state", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		rearm(c, delay);
		return;
	}
	memset(&res, 0, sizeof(res));
	kp_arena_init(&pa);
	if (cl.npools == 0 || cl.nnodes == 0)
		goto out;
	c->cloud_caller = "disruption";
	if (kp_ctrl__pool_cats_load(c, &cl, &pa, &pcats, NULL, &eb)) {
		kp_log_error(&c->ext->log_dis, "could not get instance types", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		goto out;
	}
	{
		struct kp_sched_input si = { 0 };

		kp_ctrl__pool_cats_input(pcats, &si);
		cat = si.catalog;
		kp_disrupt_opts_default(&o);
		o.pool_catalog = si.pool_catalog;
		o.pool_catalog_ctx = si.pool_catalog_ctx;
	}
	o.spot_to_spot = c->o.spot_to_spot;
	o.now = kp_ctrl__wall(c) / 1000;
	{
		const char *key;
		json_t *val;
		json_object_foreach(d->marked, key, val) {
			struct kp_node *n = kp_cluster_node(&cl, key);
			if (n && !n->deleting)
				n->deleting = o.now;
			if (n && n->claim && !n->claim->deleting)
				n->claim->deleting = o.now;
		}
	}
	o.max_passes = 1;
	o.sched.max_instance_types = c->o.max_instance_types;
	o.sched.packing = (enum kp_packing)c->o.packing;
	if (kp_disrupt_run(&cl, cat, &o, &res, &eb)) {
		kp_log_error(&c->ext->log_dis, "disruption pass failed", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		goto out;
	}
	budget_metrics(c, &cl, &res, o.now);
	if (res.ncmds > 0 && res.cmds[0].pass == 0)
		e = &res.cmds[0];
	if (c->m.voluntary_disruption_decision_evaluation_duration_seconds && e)
		kp_metrics_observe(c->m.voluntary_disruption_decision_evaluation_duration_seconds,
				   KP_LV(reason_label(e->method), consolidation_type(e->method)),
				   (double)(kp_ctrl__now(c) - t0) / 1000.0);
	if (d->pending) {
		struct dis_cmd *k = d->pending;
		const char *why = validate(k, e);
		d->pending = NULL;
		if (why) {
			if (c->m.voluntary_disruption_failed_validations_total)
				kp_metrics_inc(c->m.voluntary_disruption_failed_validations_total,
					       KP_LV(consolidation_type(k->method)));
			kp_log_info(&c->ext->log_dis, "abandoning disruption command, validation failed",
				    KP_LOG_FIELDS(kp_log_str("method", kp_disrupt_method_name(k->method)),
						  kp_log_str("node", k->nodes[0]), kp_log_str("reason", why)));
			cmd_free(k);
			delay = 0;
		} else if (execute(c, k, e, &cl)) {
			delay = progress(c);
		} else {
			cmd_free(k);
		}
		goto out;
	}
	blocked_events(c, &cl, &res);
	if (!e) {
		for (int i = 0; i < res.nblocked && i < 20 && kp_log_enabled(&c->ext->log_dis, KP_LOG_DEBUG); i++)
			kp_log_debug(&c->ext->log_dis, "node not disruptable",
				     KP_LOG_FIELDS(kp_log_object("Node", res.blocked[i].node),
						   kp_log_str("reason", res.blocked[i].reason ? res.blocked[i].reason : "")));
		goto out;
	}
	if (e->method == KP_DISRUPT_EXPIRATION) {
		expire_now(c, e, &cl);
		goto out;
	}
	{
		struct dis_cmd *k = cmd_copy(c, e, &cl);
		if (!k) {
			kp_log_error(&c->ext->log_dis, "disruption pass failed", KP_LOG_FIELDS(kp_log_errmsg("out of memory")));
			goto out;
		}
		if (e->method == KP_DISRUPT_DRIFT) {   /* no validation delay */
			if (execute(c, k, e, &cl))
				delay = progress(c);
			else
				cmd_free(k);
			goto out;
		}
		d->pending = k;
		delay = c->ext->validation_ms;
		{
			struct kp_arena a;
			kp_arena_init(&a);
			kp_log_info(&c->ext->log_dis, "validating disruption command",
				    KP_LOG_FIELDS(kp_log_str("command", cmd_str(&a, k)),
						  kp_log_str("method", kp_disrupt_method_name(k->method)),
						  kp_log_double("savings", k->savings), kp_log_str("why", k->why),
						  kp_log_duration_ns("delay", c->ext->validation_ms * 1000000)));
			kp_arena_free(&a);
		}
	}
out:
	c->cloud_caller = NULL;
	kp_disrupt_result_free(&res);
	kp_cluster_free(&cl);
	kp_arena_free(&pa);
	rearm(c, delay);
}

/* ---- life cycle ---- */

kp_err kp_ctrl__dis_new(struct kp_ctrl *c, struct kp_errbuf *eb)
{
	c->ext->dis = calloc(1, sizeof(*c->ext->dis));
	if (!c->ext->dis || !(c->ext->dis->marked = json_object()) || !(c->ext->dis->published = json_object()))
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	return KP_OK;
}

void kp_ctrl__dis_start(struct kp_ctrl *c)
{
	rearm(c, UNSYNCED_RETRY_MS);
}

void kp_ctrl__dis_stop(struct kp_ctrl *c)
{
	struct kp_ctrl__disruption *d = c->ext->dis;

	if (!d)
		return;
	if (c->loop)
		kp_kube_timer_stop(c->loop, &d->timer);
	d->armed = false;
	/* a stopped replica forgets its commands; the next leader clears the
	 * taints they left (clear_stale) */
	cmd_free(d->pending);
	cmd_free(d->running);
	d->pending = d->running = NULL;
}

void kp_ctrl__dis_free(struct kp_ctrl *c)
{
	if (!c->ext->dis)
		return;
	kp_ctrl__dis_stop(c);
	json_decref(c->ext->dis->marked);
	json_decref(c->ext->dis->published);
	free(c->ext->dis);
	c->ext->dis = NULL;
}

/* ---- nodeclaim.expiration ---- */

int64_t kp_ctrl__expiration_reconcile(struct kp_ctrl *c, const char *name)
{
	json_t *nc = kp_informer_get(c->inf[KPC_NODECLAIMS], NULL, name);
	const char *ea = kp_ctrl__jstr(nc, "spec.expireAfter");
	int64_t created, ms, left;
	struct kp_kube_status ks;
	struct kp_errbuf eb = { 0 };
	json_t *labels;
	const char *pool, *cap, *mode;

	if (!nc || kp_ctrl__jget(nc, "metadata.deletionTimestamp") || !ea || strcmp(ea, "Never") == 0)
		return -1;
	if (kp_parse_duration_ms(ea, &ms) || ms <= 0)
		return -1;
	created = kp_ctrl__ext_time_ms(nc, "metadata.creationTimestamp");
	if (!created)
		return -1;
	left = created + ms - kp_ctrl__wall(c);
	if (left > 0)
		return left;
	labels = kp_ctrl__jget(nc, "metadata.labels");
	pool = json_string_value(json_object_get(labels, KP_LABEL_NODEPOOL));
	cap = json_string_value(json_object_get(labels, KP_LABEL_CAPACITY_TYPE));
	mode = kp_ctrl__jget(nc, "spec.terminationGracePeriod") ? "forceful" : "graceful";
	if (kp_kube_delete(c->kc, &KP_KUBE_NODECLAIMS, NULL, name, KP_PROPAGATE_DEFAULT, kp_ctrl__jstr(nc, "metadata.uid"), &ks,
			   &eb)) {
		if (kp_kube_is_notfound(&ks))
			return -1;
		kp_log_error(&c->ext->log_exp, "failed to delete expired nodeclaim",
			     KP_LOG_FIELDS(kp_log_object("NodeClaim", name), kp_log_errmsg(eb.msg)));
		return 5000;
	}
	kp_log_info(&c->ext->log_exp, "deleting expired nodeclaim",
		    KP_LOG_FIELDS(kp_log_object("NodeClaim", name), kp_log_str("expireAfter", ea)));
	kp_ctrl__event(c, "NodeClaim", "karpenter.sh/v1", NULL, name, kp_ctrl__jstr(nc, "metadata.uid"), "Normal",
		  "DisruptionTerminating", "Disrupting NodeClaim: Expired");
	if (c->m.nodeclaims_disrupted_total)
		kp_metrics_inc(c->m.nodeclaims_disrupted_total, KP_LV("expired", pool ? pool : "", cap ? cap : "", "", mode));
	return -1;
}
