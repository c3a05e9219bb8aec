/*
 * repair.c - node repair (Karpenter's pkg/controllers/node/health, behind
 * the NodeRepair feature gate, off by default: --feature-gates
 * NodeRepair=true).
 *
 * The cloud provider's repair policies (CloudProvider.RepairPolicies, the
 * repair_policies op of its table: AWS's in src/cloud/aws/provider.c, the
 * simulated cloud's in src/cloud/fake.c) say which Node conditions are
 * unhealthy and for how long each is tolerated; a provider with none makes
 * node repair do nothing, as the controller never asks which provider it
 * has. KARPENTER_NODE_REPAIR_TOLERATION
 * overrides every toleration (for tests). As node/health's
 * findUnhealthyConditions, the matching condition whose toleration ends
 * first decides. A managed Node past it gets its NodeClaim deleted with
 * karpenter.sh/nodeclaim-termination-timestamp set to now (forceful: the
 * drain does not wait), an event and the metric
 * karpenter_nodeclaims_unhealthy_disrupted_total{condition, nodepool,
 * capacity_type, image_id}; unless more than 20% (rounded up) of its
 * NodePool's nodes match a policy (tolerated or not, as isNodePoolHealthy
 * counts), when Karpenter stops repairing that pool (a NodeRepairBlocked
 * event on the NodePool and the Node; retried every minute).
 *
 * One reconcile per Node name (queue), requeued for when its toleration
 * ends. Cost: O(nodes) per reconcile that reaches the 20% check.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/ctrl_int.h"
#include "ctrl/ext_int.h"

#define REPAIR_BLOCKED_RETRY_MS 60000

bool kp_ctrl_gate_on(const char *gates, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = gates; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len && *p == ' ')
			p++, len--;
		while (len && p[len - 1] == ' ')
			len--;
		if (len == n + 5 && strncmp(p, name, n) == 0 && strncmp(p + n, "=true", 5) == 0)
			return true;
		p = end ? end + 1 : p + len;
	}
	return false;
}

const struct kp_cloud_repair_policy *kp_ctrl__repair_policies(struct kp_cloud *cp, int *n)
{
	return kp_cloud_repair_policies(cp, n);
}

static int64_t toleration_override(void)
{
	const char *e = getenv("KARPENTER_NODE_REPAIR_TOLERATION");
	int64_t ms;

	if (e && !kp_parse_duration_ms(e, &ms) && ms >= 0)
		return ms;
	return -1;
}

const char *kp_ctrl__repair_match(const json_t *node, const struct kp_cloud_repair_policy *pol, int npol,
				  int64_t override_ms, int64_t *deadline_ms)
{
	const char *found = NULL;

	*deadline_ms = 0;
	for (int i = 0; i < npol; i++) {
		json_t *cond = kp_ctrl__condition(node, pol[i].type);
		const char *st = json_string_value(json_object_get(cond, "status"));
		const char *lt = json_string_value(json_object_get(cond, "lastTransitionTime"));
		int64_t t = 0, end;

		if (!cond || !st || strcmp(st, pol[i].status) != 0 || !lt || kp_parse_rfc3339(lt, &t))
			continue;
		end = t * 1000 + (override_ms >= 0 ? override_ms : pol[i].toleration_ms);
		if (!found || end < *deadline_ms) {
			found = pol[i].type;
			*deadline_ms = end;
		}
	}
	return found;
}

bool kp_ctrl__repair_pool_ok(int unhealthy, int total)
{
	return unhealthy <= (int)ceil(0.2 * total);
}

static const struct kp_cloud_repair_policy *policies(const struct kp_ctrl *c, int *n)
{
	return kp_ctrl__repair_policies(c->o.cloud, n);
}

static const char *pool_of(const json_t *o)
{
	return json_string_value(json_object_get(kp_ctrl__jget(o, "metadata.labels"), KP_LABEL_NODEPOOL));
}

/* Karpenter's isNodePoolHealthy: repair only while at most 20% (rounded
 * up) of the pool's nodes match a repair policy. */
static bool pool_allows(struct kp_ctrl *c, const char *pool, int *nbad, int *ntotal)
{
	json_t **all = NULL;
	size_t n = 0;
	int npol;
	const struct kp_cloud_repair_policy *pol = policies(c, &npol);

	*nbad = *ntotal = 0;
	if (kp_informer_list(c->inf[KPC_NODES], NULL, &all, &n, NULL))
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *p = pool_of(all[i]);
		int64_t end;

		if (!p || strcmp(p, pool) != 0)
			continue;
		(*ntotal)++;
		if (kp_ctrl__repair_match(all[i], pol, npol, -1, &end))
			(*nbad)++;
	}
	free(all);
	return kp_ctrl__repair_pool_ok(*nbad, *ntotal);
}

static json_t *claim_of_node(struct kp_ctrl *c, const char *node)
{
	json_t **all = NULL, *found = NULL;
	size_t n = 0;

	if (kp_informer_list(c->inf[KPC_NODECLAIMS], NULL, &all, &n, NULL))
		return NULL;
	for (size_t i = 0; i < n && !found; i++) {
		const char *nn = kp_ctrl__jstr(all[i], "status.nodeName");
		if (nn && strcmp(nn, node) == 0)
			found = all[i];
	}
	free(all);
	return found;
}

int64_t kp_ctrl__repair_reconcile(struct kp_ctrl *c, const char *name)
{
	json_t *node = kp_informer_get(c->inf[KPC_NODES], NULL, name), *nc, *patch;
	const char *pool, *ncname, *cap, *image, *cond;
	int64_t deadline, left;
	struct kp_kube_status ks;
	struct kp_errbuf eb = { 0 };
	char ts[40], msg[256];
	int nbad, ntotal, npol;
	const struct kp_cloud_repair_policy *pol = policies(c, &npol);

	if (!c->o.node_repair || !node || kp_ctrl__jget(node, "metadata.deletionTimestamp") || !(pool = pool_of(node)))
		return -1;
	cond = kp_ctrl__repair_match(node, pol, npol, toleration_override(), &deadline);
	if (!cond)
		return -1;   /* healthy: a later condition change enqueues it again */
	left = deadline - kp_ctrl__wall(c);
	if (left > 0)
		return left;
	nc = claim_of_node(c, name);
	if (!nc || kp_ctrl__jget(nc, "metadata.deletionTimestamp"))
		return -1;
	ncname = kp_ctrl__jstr(nc, "metadata.name");
	if (!pool_allows(c, pool, &nbad, &ntotal)) {
		snprintf(msg, sizeof(msg), "more than 20%% of nodepool %s's nodes are unhealthy (%d of %d)", pool, nbad,
			 ntotal);
		kp_log_info(&c->ext->log_rep, "node repair blocked",
			    KP_LOG_FIELDS(kp_log_object("Node", name), kp_log_str("condition", cond),
					  kp_log_str("reason", msg)));
		kp_ctrl__event(c, "NodePool", "karpenter.sh/v1", NULL, pool, NULL, "Warning", "NodeRepairBlocked", msg);
		kp_ctrl__event(c, "Node", "v1", NULL, name, kp_ctrl__jstr(node, "metadata.uid"), "Warning",
			       "NodeRepairBlocked", msg);
		return REPAIR_BLOCKED_RETRY_MS;
	}
	kp_format_rfc3339(kp_ctrl__wall(c) / 1000, ts, sizeof(ts));
	patch = json_pack("{s:{s:{s:s}}}", "metadata", "annotations", "karpenter.sh/nodeclaim-termination-timestamp", ts);
	if (patch) {
		kp_kube_patch(c->kc, &KP_KUBE_NODECLAIMS, NULL, ncname, KP_PATCH_MERGE, patch, NULL, NULL, &ks, &eb);
		json_decref(patch);
	}
	if (kp_kube_delete(c->kc, &KP_KUBE_NODECLAIMS, NULL, ncname, KP_PROPAGATE_DEFAULT, kp_ctrl__jstr(nc, "metadata.uid"),
			   &ks, &eb)) {
		if (kp_kube_is_notfound(&ks))
			return -1;
		kp_log_error(&c->ext->log_rep, "failed to delete unhealthy nodeclaim",
			     KP_LOG_FIELDS(kp_log_object("NodeClaim", ncname), kp_log_errmsg(eb.msg)));
		return 5000;
	}
	kp_log_info(&c->ext->log_rep, "deleting unhealthy nodeclaim",
		    KP_LOG_FIELDS(kp_log_object("NodeClaim", ncname), kp_log_object("Node", name),
				  kp_log_str("condition", cond)));
	snprintf(msg, sizeof(msg), "Deleting the NodeClaim of an unhealthy node (condition %s)", cond);
	kp_ctrl__event(c, "Node", "v1", NULL, name, kp_ctrl__jstr(node, "metadata.uid"), "Warning", "NodeRepair", msg);
	cap = json_string_value(json_object_get(kp_ctrl__jget(nc, "metadata.labels"), KP_LABEL_CAPACITY_TYPE));
	image = kp_ctrl__jstr(nc, "status.imageID");
	if (c->m.nodeclaims_unhealthy_disrupted_total)
		kp_metrics_inc(c->m.nodeclaims_unhealthy_disrupted_total,
			       KP_LV(cond, pool, cap ? cap : "", image ? image : ""));
	return -1;
}
