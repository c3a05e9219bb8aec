/*
 * snapshot.c - the cluster-state cache as the engine sees it: turns the
 * informers' objects into a struct kp_cluster (Karpenter's state.Cluster
 * plus the scheduler's view of it, pkg/controllers/state).
 *
 * The informer stores are the cache; a snapshot decodes them on demand
 * with kp_load_object (the same decoders `simulate` uses), so nothing is
 * kept in sync by hand and a snapshot is never stale relative to the
 * caches. NodeClaims the provisioner created but the NodeClaim informer
 * has not delivered yet are added from c->created, so two passes in a row
 * never provision twice for the same pods. Nodes are decoded before pods
 * (Karpenter snapshots nodes before listing pods, so capacity is never
 * under-counted).
 *
 * Invariants: the snapshot owns everything (its arena); objects that fail
 * to decode are logged at warn and left out, never fatal. Decisions made
 * from a snapshot are deterministic: the informer lists are sorted by key.
 * Cost: O(objects) decoding per snapshot, taken only when the provisioner
 * (or later, disruption) runs, never per event.
 */
#include <stdlib.h>
#include <string.h>

#include "ctrl/ctrl_int.h"
#include "load/load.h"

bool kp_ctrl__inf_optional(enum kp_ctrl__inf kind)
{
	return kind == KPC_STORAGECLASSES || kind == KPC_PVCS || kind == KPC_PVS;
}

bool kp_ctrl__pod_provisionable(const json_t *pod)
{
	const char *nn = kp_ctrl__jstr(pod, "spec.nodeName");
	const char *nominated = kp_ctrl__jstr(pod, "status.nominatedNodeName");
	json_t *cond = kp_ctrl__condition(pod, "PodScheduled");
	const char *reason = json_string_value(json_object_get(cond, "reason"));
	const char *status = json_string_value(json_object_get(cond, "status"));

	if ((nn && *nn) || (nominated && *nominated) || kp_ctrl__jget(pod, "metadata.deletionTimestamp"))
		return false;
	if (kp_ctrl__pod_terminal(pod))
		return false;
	if (!reason || strcmp(reason, "Unschedulable") != 0 || !status || strcmp(status, "False") != 0)
		return false;
	if (json_object_get(kp_ctrl__jget(pod, "metadata.annotations"), "kubernetes.io/config.mirror"))
		return false;
	return !kp_ctrl__pod_daemon(pod);
}

json_t *kp_ctrl__claim_get(struct kp_ctrl *c, const char *name)
{
	json_t *o = kp_informer_get(c->inf[KPC_NODECLAIMS], NULL, name), *e;
	size_t i;

	if (o)
		return o;
	json_array_foreach(c->created, i, e) {
		const char *n = kp_ctrl__jstr(e, "metadata.name");
		if (n && strcmp(n, name) == 0)
			return e;
	}
	return NULL;
}

void kp_ctrl__created_forget(struct kp_ctrl *c, const char *name)
{
	size_t i = 0;

	while (i < json_array_size(c->created)) {
		const char *n = kp_ctrl__jstr(json_array_get(c->created, i), "metadata.name");
		if (!n || strcmp(n, name) == 0)
			json_array_remove(c->created, i);
		else
			i++;
	}
}

void kp_ctrl__created_gc(struct kp_ctrl *c)
{
	size_t i = 0;
	int64_t now = kp_ctrl__now(c);

	while (i < json_array_size(c->created)) {
		json_t *e = json_array_get(c->created, i);
		const char *n = kp_ctrl__jstr(e, "metadata.name");
		json_t *seen = n ? kp_informer_get(c->inf[KPC_NODECLAIMS], NULL, n) : NULL;
		int64_t at = json_integer_value(json_object_get(e, KPC_CREATED_AT));

		/* seen by the informer, or never seen within the window (deleted
		 * before its watch event came, or the watch lags badly) */
		if (!n || seen || now - at > KPC_CREATED_WINDOW_MS)
			json_array_remove(c->created, i);
		else
			i++;
	}
}

static const struct {
	enum kp_ctrl__inf inf;
	const char *kind, *apiv;
} ORDER[] = {
	{ KPC_NAMESPACES, "Namespace", "v1" },
	{ KPC_NODECLASSES, "EC2NodeClass", "karpenter.k8s.aws/v1" },
	{ KPC_NODEPOOLS, "NodePool", "karpenter.sh/v1" },
	{ KPC_NODES, "Node", "v1" },
	{ KPC_NODECLAIMS, "NodeClaim", "karpenter.sh/v1" },
	{ KPC_DAEMONSETS, "DaemonSet", "apps/v1" },
	{ KPC_PDBS, "PodDisruptionBudget", "policy/v1" },
	{ KPC_STORAGECLASSES, "StorageClass", "storage.k8s.io/v1" },
	{ KPC_PVCS, "PersistentVolumeClaim", "v1" },
	{ KPC_PVS, "PersistentVolume", "v1" },
	{ KPC_PODS, "Pod", "v1" },
};

static void decode_one(struct kp_ctrl *c, struct kp_cluster *out, const json_t *o, const char *kind,
		       const char *apiv)
{
	struct kp_load_opts lo = { NULL, kp_ctrl__wall(c) / 1000 };
	struct kp_errbuf eb = { 0 };
	const char *ns = kp_ctrl__jstr(o, "metadata.namespace"), *name = kp_ctrl__jstr(o, "metadata.name");
	char label[400];

	snprintf(label, sizeof(label), "%s/%s%s%s", kind, ns ? ns : "", ns ? "/" : "", name ? name : "?");
	if (kp_load_object(out, o, kind, apiv, label, &lo, &eb))
		kp_log_warn(&c->log, "ignoring object that does not decode", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
}

/* memory: objects are decoded one at a time with kp_informer_foreach (the
 * pod informer keeps compact text; listing all pods at once would hold
 * every decoded tree until the pass returns to the loop) */
struct snap_each {
	struct kp_ctrl *c;
	struct kp_cluster *out;
	const char *kind, *apiv;
	const struct kp_pod **prov;     /* NULL: not collecting */
	int np, cap;
};

static int snap_one(void *ud, json_t *o)
{
	struct snap_each *e = ud;
	int before = e->out->npods;

	decode_one(e->c, e->out, o, e->kind, e->apiv);
	if (e->prov && e->np < e->cap && e->out->npods == before + 1 && kp_ctrl__pod_provisionable(o))
		e->prov[e->np++] = e->out->pods[before];
	return 0;
}

kp_err kp_ctrl__snapshot(struct kp_ctrl *c, struct kp_cluster *out, const struct kp_pod ***provisionable, int *nprov,
		    struct kp_errbuf *eb)
{
	const struct kp_pod **prov = NULL;
	int np = 0;
	kp_err rc = KP_OK;

	kp_cluster_init(out);
	out->resnames = c->rn;
	kp_ctrl__created_gc(c);
	for (size_t k = 0; k < KP_ARRAY_LEN(ORDER) && !rc; k++) {
		struct kp_informer *inf = c->inf[ORDER[k].inf];
		struct snap_each se = { c, out, ORDER[k].kind, ORDER[k].apiv, NULL, 0, 0 };
		size_t n;

		if (!inf)
			continue;
		n = kp_informer_size(inf);
		if (ORDER[k].inf == KPC_PODS && provisionable) {
			prov = kp_arena_calloc(&out->arena, n + 1, sizeof(*prov));
			if (!prov) {
				rc = kp_errf(eb, KP_ERR_NOMEM, "snapshot: out of memory");
				break;
			}
			se.prov = prov;
			se.cap = (int)n;
		}
		rc = kp_informer_foreach(inf, NULL, snap_one, &se, eb);
		if (rc)
			break;
		if (se.prov)
			np = se.np;
		if (ORDER[k].inf == KPC_NODECLAIMS) {
			size_t i;
			json_t *e;
			json_array_foreach(c->created, i, e)
				decode_one(c, out, e, "NodeClaim", "karpenter.sh/v1");
		}
	}
	if (rc) {
		kp_cluster_free(out);
		return rc;
	}
	kp_cluster_link(out);
	for (int i = KPC_STORAGECLASSES; i <= KPC_PVS; i++)
		if (!c->inf[i] || !kp_informer_synced(c->inf[i]))
			out->volumes_unknown = true;
	if (provisionable) {
		*provisionable = prov;
		*nprov = np;
	}
	return KP_OK;
}
