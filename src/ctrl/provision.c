/*
 * provision.c - the provisioner: batches provisionable pods, simulates
 * with kp_sched_solve over a snapshot (existing nodes and in-flight
 * NodeClaims included) and creates the NodeClaims of the plan.
 *
 * Mirrors Karpenter v1 pkg/controllers/provisioning: provisioner.go
 * (Schedule, CreateNodeClaims, Create), batcher.go (idle/max window),
 * controller.go (PodController trigger) and scheduling/nodeclaimtemplate.go
 * (ToNodeClaim: generateName "<nodepool>-", template labels + nodepool +
 * NodeClass label + single-valued custom requirement labels, hash
 * annotations, the template spec with requirements incl. instance types
 * cheapest first, resources.requests, ownerReference to the NodePool).
 *
 * Invariants:
 *   - a pass runs only when every informer has synced and this replica
 *     leads; otherwise the batch is retried a second later;
 *   - limits are re-checked against the live cluster before each create
 *     (every NodeClaim of the pool, including ones created moments ago and
 *     not yet seen by the informer, counted at its capacity or, before
 *     launch, at the largest capacity among its instance types); instance
 *     types that would take the pool over a limit are dropped from the
 *     claim, and a claim with none left is not created. So no burst of pods
 *     can take a NodePool over its limits;
 *   - created claims are remembered (c->created) until the informer has
 *     them, so the next pass sees them as in-flight capacity.
 * Cost: one snapshot (O(objects)) and one solve per batch; one API create
 * per new NodeClaim and one Event per nominated pod.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ctrl_int.h"
#include "karpenter/labels.h"
#include "karpenter/sched.h"

#define MAX_EVENT_PODS 200        /* Nominated events per pass (beyond: logged only) */
#define MAX_LOGGED_UNSCHED 20

static void batch_fire(void *ud);

static void batch_arm(struct kp_ctrl *c)
{
	int64_t now = kp_ctrl__now(c), idle_at = c->batch_last_ms + c->o.batch_idle_ms,
		max_at = c->batch_start_ms + c->o.batch_max_ms;
	int64_t at = idle_at < max_at ? idle_at : max_at;

	kp_kube_timer_start(c->loop, &c->batch_timer, at > now ? at - now : 0, batch_fire, c);
}

void kp_ctrl__prov_trigger(struct kp_ctrl *c)
{
	int64_t now = kp_ctrl__now(c);

	if (!c->controllers_on)
		return;
	if (!c->batch_open) {
		c->batch_open = true;
		c->batch_start_ms = now;
	}
	c->batch_last_ms = now;
	batch_arm(c);
}

void kp_ctrl__prov_stop(struct kp_ctrl *c)
{
	kp_kube_timer_stop(c->loop, &c->batch_timer);
	c->batch_open = false;
}

/* ---- limits against the live cluster ---- */

struct usage {
	struct kp_res res;
	int64_t nodes;
};

/* Largest capacity among the instance types a claim's requirements name. */
static void claim_capacity(const struct kp_nodeclaim *nc, const struct kp_catalog *cat, struct kp_res *out)
{
	const struct kp_req *r = kp_reqs_get(&nc->reqs, KP_LABEL_INSTANCE_TYPE);

	kp_res_zero(out);
	if (!kp_res_is_zero(&nc->capacity)) {
		*out = nc->capacity;
		return;
	}
	if (!r || r->complement)
		return;
	for (int i = 0; i < r->n; i++) {
		const struct kp_itype *it = kp_catalog_find(cat, r->values[i]);
		if (it)
			kp_res_max(out, &it->capacity);
	}
}

static void pool_usage(const struct kp_cluster *cl, const struct kp_catalog *cat, const char *pool,
		       struct usage *u)
{
	memset(u, 0, sizeof(*u));
	for (int i = 0; i < cl->nclaims; i++) {
		const struct kp_nodeclaim *nc = cl->claims[i];
		struct kp_res cap;
		if (!nc->nodepool || strcmp(nc->nodepool, pool) != 0)
			continue;
		claim_capacity(nc, cat, &cap);
		kp_res_add(&u->res, &cap);
		u->nodes++;
	}
	/* Nodes of the pool without a NodeClaim (adopted or orphaned) count too. */
	for (int i = 0; i < cl->nnodes; i++) {
		const struct kp_node *n = cl->nodes[i];
		const char *np = kp_labels_get(&n->labels, KP_LABEL_NODEPOOL);
		if (n->claim || !np || strcmp(np, pool) != 0)
			continue;
		kp_res_add(&u->res, &n->capacity);
		u->nodes++;
	}
}

static bool fits_limits(const struct kp_nodepool *np, const struct usage *u, const struct kp_res *add,
			int *bad)
{
	struct kp_res total = u->res;

	kp_res_add(&total, add);
	return !kp_res_exceeds(&total, &np->limits, np->limit_mask, bad);
}

/* ---- NodeClaim JSON (ToNodeClaim) ---- */

static json_t *req_json(const char *key, const char *op, json_t *values, int min_values)
{
	json_t *r = json_pack("{s:s, s:s}", "key", key, "operator", op);

	if (r && values)
		json_object_set_new(r, "values", values);
	else
		json_decref(values);
	if (r && min_values > 0)
		json_object_set_new(r, "minValues", json_integer(min_values));
	return r;
}

static json_t *requirements_json(const struct kp_reqs *rs, const struct kp_itype *const *itypes, int nitypes)
{
	json_t *arr = json_array();

	for (int i = 0; arr && i < rs->n; i++) {
		const struct kp_req *r = &rs->r[i];
		char num[32];

		if (strcmp(r->key, KP_LABEL_HOSTNAME) == 0 || strcmp(r->key, KP_LABEL_REGISTERED) == 0 ||
		    strcmp(r->key, KP_LABEL_INITIALIZED) == 0)
			continue;
		if (strcmp(r->key, KP_LABEL_INSTANCE_TYPE) == 0 && nitypes > 0) {
			json_t *v = json_array();
			for (int k = 0; v && k < nitypes; k++)
				json_array_append_new(v, json_string(itypes[k]->name));
			json_array_append_new(arr, req_json(r->key, "In", v, r->min_values));
			continue;
		}
		if (r->has_gte) {
			snprintf(num, sizeof(num), "%lld", (long long)r->gte - 1);
			json_array_append_new(arr, req_json(r->key, "Gt", json_pack("[s]", num), 0));
		}
		if (r->has_lte) {
			snprintf(num, sizeof(num), "%lld", (long long)r->lte + 1);
			json_array_append_new(arr, req_json(r->key, "Lt", json_pack("[s]", num), 0));
		}
		if (!r->complement || r->n) {
			json_t *v = NULL;
			if (r->n) {
				v = json_array();
				for (int k = 0; v && k < r->n; k++)
					json_array_append_new(v, json_string(r->values[k]));
			}
			json_array_append_new(arr, req_json(r->key, r->complement ? "NotIn" : (r->n ? "In" : "DoesNotExist"),
							    v, r->min_values));
		} else if (!r->has_gte && !r->has_lte) {
			json_array_append_new(arr, req_json(r->key, "Exists", NULL, r->min_values));
		}
	}
	return arr;
}

static void lowercase(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

json_t *kp_ctrl__prov_nodeclaim_json(struct kp_ctrl *c, const struct kp_plan_claim *pc, const json_t *pool_obj,
				const struct kp_itype *const *itypes, int nitypes, struct kp_arena *a)
{
	const struct kp_nodepool *np = pc->pool;
	json_t *tspec = kp_ctrl__jget(pool_obj, "spec.template.spec");
	json_t *tmeta = kp_ctrl__jget(pool_obj, "spec.template.metadata");
	json_t *labels = json_deep_copy(json_object_get(tmeta, "labels"));
	json_t *ann = json_deep_copy(json_object_get(tmeta, "annotations"));
	json_t *spec = json_is_object(tspec) ? json_deep_copy(tspec) : json_object();
	json_t *obj, *owner;
	struct kp_labels custom = { 0 };
	char nclabel[256];

	if (!labels)
		labels = json_object();
	if (!ann)
		ann = json_object();
	/* the template labels win over resolved custom labels (lo.Assign order) */
	if (!kp_reqs_custom_labels(&pc->reqs, a, &custom)) {
		for (int i = 0; i < custom.n; i++)
			if (!json_object_get(labels, custom.kv[i].key))
				json_object_set_new(labels, custom.kv[i].key, json_string(custom.kv[i].value));
	}
	json_object_set_new(labels, KP_LABEL_NODEPOOL, json_string(np->name));
	if (np->node_class.group && np->node_class.kind && np->node_class.name) {
		snprintf(nclabel, sizeof(nclabel), "%s/%s", np->node_class.group, np->node_class.kind);
		lowercase(nclabel + strlen(np->node_class.group));
		json_object_set_new(labels, nclabel, json_string(np->node_class.name));
	}
	json_object_set_new(ann, KPC_NODEPOOL_HASH_ANN, json_string(np->hash ? np->hash : ""));
	json_object_set_new(ann, KPC_NODEPOOL_HASH_VERSION_ANN, json_string(KPC_NODEPOOL_HASH_VERSION));
	owner = json_pack("{s:s, s:s, s:s, s:s, s:b}", "apiVersion", "karpenter.sh/v1", "kind", "NodePool", "name",
			  np->name, "uid", kp_ctrl__jstr(pool_obj, "metadata.uid") ? kp_ctrl__jstr(pool_obj, "metadata.uid") : "",
			  "blockOwnerDeletion", 1);
	json_object_set_new(spec, "requirements", requirements_json(&pc->reqs, itypes, nitypes));
	json_object_set_new(spec, "resources", json_pack("{s:o}", "requests", kp_ctrl__reslist(&c->rn, &pc->requests)));
	obj = json_pack("{s:s, s:s, s:{s:s, s:o, s:o, s:[o], s:[s]}, s:o}", "apiVersion", "karpenter.sh/v1", "kind",
			"NodeClaim", "metadata", "generateName", kp_arena_printf(a, "%s-", np->name), "labels", labels,
			"annotations", ann, "ownerReferences", owner, "finalizers", KPC_TERMINATION_FINALIZER, "spec",
			spec);
	return obj;
}

/* "c6g.2xlarge, m6g.2xlarge, ... and 12 other(s)" as Karpenter logs it. */
static const char *types_str(struct kp_arena *a, const struct kp_itype *const *it, int n)
{
	struct kp_buf b;
	char *s;
	const char *out;

	kp_buf_init(&b, 4096);
	for (int i = 0; i < n && i < 5; i++)
		kp_buf_printf(&b, "%s%s", i ? ", " : "", it[i]->name);
	if (n > 5)
		kp_buf_printf(&b, " and %d other(s)", n - 5);
	s = kp_buf_take(&b);
	out = kp_arena_strdup(a, s);
	free(s);
	return out ? out : "";
}

static void nominate(struct kp_ctrl *c, const struct kp_pod *const *pods, int npods, const char *target, int *budget)
{
	char note[512];

	snprintf(note, sizeof(note), "Pod should schedule on: %s", target);
	for (int i = 0; i < npods && *budget > 0; i++, (*budget)--)
		kp_ctrl__event(c, "Pod", "v1", pods[i]->ns, pods[i]->name, pods[i]->uid, "Normal", "Nominated", note);
}

/* Creates one claim of the plan after the live limits check; returns true if created. */
static bool create_claim(struct kp_ctrl *c, const struct kp_cluster *cl, const struct kp_catalog *cat,
			 const struct kp_plan_claim *pc, struct usage *u, struct kp_arena *a, int *ev_budget)
{
	const struct kp_nodepool *np = pc->pool;
	json_t *pool_obj = kp_informer_get(c->inf[KPC_NODEPOOLS], NULL, np->name), *obj, *made = NULL;
	const struct kp_itype **keep;
	struct kp_kube_status st;
	struct kp_errbuf eb = { 0 };
	struct kp_res maxcap;
	int nkeep = 0, bad = -1;
	const char *name;

	if (!pool_obj || kp_ctrl__jget(pool_obj, "metadata.deletionTimestamp")) {
		kp_log_info(&c->log_prov, "nodepool is gone or deleting, not creating nodeclaim",
			    KP_LOG_FIELDS(kp_log_object("NodePool", np->name)));
		return false;
	}
	if (np->has_node_limit && u->nodes + 1 > np->node_limit) {
		kp_log_error(&c->log_prov, "could not create nodeclaim",
			     KP_LOG_FIELDS(kp_log_object("NodePool", np->name),
					   kp_log_errmsg("nodepool node limit would be exceeded"),
					   kp_log_int("limit", np->node_limit), kp_log_int("nodes", u->nodes)));
		return false;
	}
	keep = kp_arena_calloc(a, (size_t)pc->nitypes + 1, sizeof(*keep));
	if (!keep)
		return false;
	kp_res_zero(&maxcap);
	for (int i = 0; i < pc->nitypes; i++) {
		if (!fits_limits(np, u, &pc->itypes[i]->capacity, &bad))
			continue;
		keep[nkeep++] = pc->itypes[i];
		kp_res_max(&maxcap, &pc->itypes[i]->capacity);
	}
	if (nkeep == 0) {
		const char *rname = bad >= 0 && bad < c->rn.n ? c->rn.name[bad] : "resources";
		kp_log_error(&c->log_prov, "could not create nodeclaim",
			     KP_LOG_FIELDS(kp_log_object("NodePool", np->name),
					   kp_log_errmsg(kp_arena_printf(a, "all available instance types exceed limits "
									 "for nodepool (%s)", rname))));
		return false;
	}
	obj = kp_ctrl__prov_nodeclaim_json(c, pc, pool_obj, keep, nkeep, a);
	if (!obj) {
		kp_log_error(&c->log_prov, "could not create nodeclaim", KP_LOG_FIELDS(kp_log_errmsg("out of memory")));
		return false;
	}
	if (kp_kube_create(c->kc, &KP_KUBE_NODECLAIMS, NULL, obj, &made, &st, &eb)) {
		kp_log_error(&c->log_prov, "could not create nodeclaim",
			     KP_LOG_FIELDS(kp_log_object("NodePool", np->name), kp_log_errmsg(eb.msg)));
		json_decref(obj);
		return false;
	}
	json_decref(obj);
	name = kp_arena_strdup(a, kp_ctrl__jstr(made, "metadata.name") ? kp_ctrl__jstr(made, "metadata.name") : "");
	json_object_set_new(made, KPC_CREATED_AT, json_integer(kp_ctrl__now(c)));
	json_array_append(c->created, made);
	kp_res_add(&u->res, &maxcap);
	u->nodes++;
	{
		const char *kv[2 * KP_RES_MAX];
		size_t nkv = 0;
		for (int k = 0; k < c->rn.n && k < KP_RES_MAX; k++) {
			char q[64];
			if (!pc->requests.v[k])
				continue;
			kp_qty_format(pc->requests.v[k], kp_res_scale(k), kp_res_style(&c->rn, k), q, sizeof(q));
			kv[2 * nkv] = c->rn.name[k];
			kv[2 * nkv + 1] = kp_arena_strdup(a, q);
			nkv++;
		}
		kp_log_info(&c->log_prov, "created nodeclaim",
			    KP_LOG_FIELDS(kp_log_object("NodePool", np->name), kp_log_object("NodeClaim", name),
					  kp_log_strmap("requests", kv, nkv),
					  kp_log_str("instance-types", types_str(a, keep, nkeep)),
					  kp_log_str("launch-choice", pc->launch_type ? pc->launch_type->name : ""),
					  kp_log_int("pods", pc->npods)));
	}
	if (c->m.nodeclaims_created_total)
		kp_metrics_inc(c->m.nodeclaims_created_total, KP_LV("provisioned", np->name, "false"));
	nominate(c, pc->pods, pc->npods, kp_arena_printf(a, "nodeclaim/%s", name), ev_budget);
	kp_ctrl__queue_add(&c->lifecycle, name, 0);
	json_decref(made);
	(void)cl;
	(void)cat;
	return true;
}

/* The instance types of every NodePool, asked of the provider per pool
 * (Karpenter's provisioner: cloudProvider.GetInstanceTypes(ctx, nodePool)
 * for each NodePool in NewScheduler). A pool whose types cannot be had
 * (its node class not ready, say) gets none and is skipped with a note;
 * the first pool's catalog that could be had serves as the scheduler's
 * default. Returns 0 when some pool has types. */
struct kp_ctrl__pool_cats {
	int n;
	const struct kp_nodepool **pool;
	const struct kp_catalog **cat;
	const struct kp_catalog *first;
	struct kp_catalog empty;
};

static const struct kp_catalog *pool_cats_get(void *ctx, const struct kp_nodepool *np)
{
	struct kp_ctrl__pool_cats *pc = ctx;

	for (int i = 0; i < pc->n; i++)
		if (pc->pool[i] == np || strcmp(pc->pool[i]->name, np->name) == 0)
			return pc->cat[i] ? pc->cat[i] : &pc->empty;
	return NULL;
}

int kp_ctrl__pool_cats_load(struct kp_ctrl *c, const struct kp_cluster *cl, struct kp_arena *a,
			    struct kp_ctrl__pool_cats **out, struct kp_log *log, struct kp_errbuf *eb)
{
	struct kp_ctrl__pool_cats *pc = kp_arena_calloc(a, 1, sizeof(*pc));

	*out = pc;
	if (!pc || !(pc->pool = kp_arena_calloc(a, (size_t)cl->npools + 1, sizeof(*pc->pool))) ||
	    !(pc->cat = kp_arena_calloc(a, (size_t)cl->npools + 1, sizeof(*pc->cat)))) {
		kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		return -1;
	}
	kp_catalog_init(&pc->empty);
	pc->n = cl->npools;
	for (int p = 0; p < cl->npools; p++) {
		struct kp_errbuf e1 = { 0 };
		const struct kp_catalog *cat = NULL;

		pc->pool[p] = cl->pools[p];
		if (kp_cloud_instance_types(c->o.cloud, cl->pools[p], &cat, &e1) || !cat) {
			if (log)
				kp_log_error(log, "could not get instance types",
					     KP_LOG_FIELDS(kp_log_object("NodePool", cl->pools[p]->name), kp_log_errmsg(e1.msg)));
			if (!pc->first)
				*eb = e1;
			continue;
		}
		pc->cat[p] = cat;
		if (!pc->first)
			pc->first = cat;
	}
	return pc->first ? 0 : -1;
}

const struct kp_catalog *kp_ctrl__pool_cat(struct kp_ctrl__pool_cats *pc, const char *pool)
{
	for (int i = 0; pool && i < pc->n; i++)
		if (strcmp(pc->pool[i]->name, pool) == 0 && pc->cat[i])
			return pc->cat[i];
	return pc->first;
}

void kp_ctrl__pool_cats_input(struct kp_ctrl__pool_cats *pc, struct kp_sched_input *in)
{
	in->catalog = pc->first;
	in->pool_catalog = pool_cats_get;
	in->pool_catalog_ctx = pc;
}

static double secs_since(struct kp_ctrl *c, int64_t t0)
{
	return (double)(kp_ctrl__now(c) - t0) / 1000.0;
}

static void prov_run(struct kp_ctrl *c)
{
	struct kp_cluster cl;
	struct kp_errbuf eb = { 0 };
	const struct kp_pod **prov = NULL;
	struct kp_sched_input in = { 0 };
	struct kp_sched_opts so;
	struct kp_plan plan = { 0 };
	struct kp_arena a;
	int nprov = 0, created = 0, ev_budget = MAX_EVENT_PODS;
	int64_t t0 = kp_ctrl__now(c);
	struct usage *usage = NULL;
	struct kp_ctrl__pool_cats *pcats = NULL;

	c->last_pass_ms = t0;
	c->unsched_left = false;
	if (kp_ctrl__snapshot(c, &cl, &prov, &nprov, &eb)) {
		kp_log_error(&c->log_prov, "could not snapshot cluster state", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		return;
	}
	if (nprov == 0) {
		kp_cluster_free(&cl);
		return;
	}
	kp_arena_init(&a);
	kp_log_info(&c->log_prov, "found provisionable pod(s)",
		    KP_LOG_FIELDS(kp_log_int("pods", nprov), kp_log_duration_ns("duration", (kp_ctrl__now(c) - t0) * 1000000)));
	if (cl.npools == 0) {
		kp_log_error(&c->log_prov, "could not schedule pods", KP_LOG_FIELDS(kp_log_errmsg("no nodepools found")));
		goto out;
	}
	if (kp_ctrl__pool_cats_load(c, &cl, &a, &pcats, &c->log_prov, &eb)) {
		c->unsched_left = true;
		goto out;
	}
	in.cluster = &cl;
	kp_ctrl__pool_cats_input(pcats, &in);
	in.npods = nprov;
	in.pods = prov;
	kp_sched_opts_default(&so);
	so.max_instance_types = c->o.max_instance_types;
	so.packing = (enum kp_packing)c->o.packing;
	if (kp_sched_solve(&in, &so, &plan, &eb)) {
		kp_log_error(&c->log_prov, "could not schedule pods", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		c->unsched_left = true;
		goto out;
	}
	if (c->m.scheduler_scheduling_duration_seconds)
		kp_metrics_observe(c->m.scheduler_scheduling_duration_seconds, KP_LV("provisioner"), secs_since(c, t0));
	if (c->m.scheduler_unschedulable_pods_count)
		kp_metrics_set(c->m.scheduler_unschedulable_pods_count, KP_LV("provisioner"), plan.nunsched);
	for (int i = 0; i < plan.nexisting; i++) {
		const struct kp_plan_existing *pe = &plan.existing[i];
		const char *target = pe->node ? kp_arena_printf(&a, "node/%s", pe->node->name)
					      : kp_arena_printf(&a, "nodeclaim/%s", pe->claim->name);
		nominate(c, pe->pods, pe->npods, target, &ev_budget);
	}
	if (plan.nclaims) {
		struct kp_buf why;
		char *whys;
		kp_buf_init(&why, 8192);
		for (int i = 0; i < plan.nnotes; i++)
			kp_buf_printf(&why, "%s%s", i ? "; " : "", plan.notes[i]);
		whys = kp_buf_take(&why);
		kp_log_info(&c->log_prov, "computed new nodeclaim(s) to fit pod(s)",
			    KP_LOG_FIELDS(kp_log_int("nodeclaims", plan.nclaims), kp_log_int("pods", nprov - plan.nunsched),
					  kp_log_str("decision", whys)));
		free(whys);
	}
	usage = calloc((size_t)cl.npools, sizeof(*usage));
	if (!usage)
		goto out;
	for (int p = 0; p < cl.npools; p++)
		pool_usage(&cl, kp_ctrl__pool_cat(pcats, cl.pools[p]->name), cl.pools[p]->name, &usage[p]);
	for (int i = 0; i < plan.nclaims && !atomic_load(&c->stop); i++) {
		int p = 0;
		while (p < cl.npools && cl.pools[p] != plan.claims[i].pool)
			p++;
		if (p == cl.npools)
			continue;
		created += create_claim(c, &cl, kp_ctrl__pool_cat(pcats, cl.pools[p]->name), &plan.claims[i], &usage[p], &a,
					&ev_budget);
	}
	c->unsched_left = plan.nunsched > 0 || created < plan.nclaims;
	for (int i = 0; i < plan.nunsched; i++) {
		const struct kp_pod *pod = plan.unsched[i].pod;
		if (i < MAX_LOGGED_UNSCHED)
			kp_log_error(&c->log_prov, "could not schedule pod",
				     KP_LOG_FIELDS(kp_log_nsobject("Pod", pod->ns, pod->name),
						   kp_log_errmsg(plan.unsched[i].reason ? plan.unsched[i].reason : "")));
		if (ev_budget-- > 0)
			kp_ctrl__event(c, "Pod", "v1", pod->ns, pod->name, pod->uid, "Warning", "FailedScheduling",
				  kp_arena_printf(&a, "Failed to schedule pod, %s",
						  plan.unsched[i].reason ? plan.unsched[i].reason : "no nodepool fits"));
	}
	if (c->m.provisioner_scheduling_duration_seconds)
		kp_metrics_observe(c->m.provisioner_scheduling_duration_seconds, NULL, 0, secs_since(c, t0));
out:
	free(usage);
	kp_plan_free(&plan);
	kp_cluster_free(&cl);
	kp_arena_free(&a);
}

static void batch_fire(void *ud)
{
	struct kp_ctrl *c = ud;
	int64_t now = kp_ctrl__now(c);

	if (!c->batch_open)
		return;
	if (now < c->batch_last_ms + c->o.batch_idle_ms && now < c->batch_start_ms + c->o.batch_max_ms) {
		batch_arm(c);
		return;
	}
	c->batch_open = false;
	if (!c->controllers_on)
		return;
	if (!atomic_load(&c->ready)) {   /* cluster state not synced: try again shortly */
		kp_ctrl__prov_trigger(c);
		return;
	}
	prov_run(c);
}
