/*
 * operator.c - the controller's operator: configuration, the kube loop,
 * informers, leader election, the housekeeping tick and shutdown.
 *
 * Mirrors Karpenter v1 pkg/operator (operator.go: manager, leader election
 * with the "karpenter-leader-election" Lease in kube-system, health and
 * readiness) and controller-runtime's cache start / WaitForCacheSync.
 *
 * The loop's phases: kp_kube_loop_run_once() waits at most 200 ms for watch
 * traffic or a timer; informer callbacks fan out to the provisioner trigger
 * and the lifecycle queue; timers run the batcher, the queue and the 1 s
 * tick (metrics, forgetting seen just-created claims). kp_ctrl_stop() sets
 * an atomic flag the loop checks after every turn, so a stop takes effect
 * within 200 ms plus at most one blocking API call.
 *
 * Invariants: informers run on every replica (a standby has warm caches,
 * as controller-runtime does); controllers run only while leading; losing
 * the lease makes kp_ctrl_run return an error. Readiness = every informer
 * synced at least once. Cost: the loop itself is O(1) per turn; see the
 * controllers' files for theirs.
 */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctrl/ctrl_int.h"
#include "ctrl/ext_int.h"   /* ext: disruption, termination, GC, nodepool, podevents */

#define LOOP_WAIT_MS 200
#define TICK_MS 1000
#define RETRY_UNSCHED_MS 30000     /* re-run provisioning for pods left unplaced */

static const struct kp_kube_res RES_DAEMONSETS = { "apps", "v1", "daemonsets", true };
static const struct kp_kube_res RES_PDBS = { "policy", "v1", "poddisruptionbudgets", true };
static const struct kp_kube_res RES_EC2NODECLASSES = { "karpenter.k8s.aws", "v1", "ec2nodeclasses", false };
static const struct kp_kube_res RES_STORAGECLASSES = { "storage.k8s.io", "v1", "storageclasses", false };
static const struct kp_kube_res RES_PVCS = { "", "v1", "persistentvolumeclaims", true };
static const struct kp_kube_res RES_PVS = { "", "v1", "persistentvolumes", false };

int64_t kp_ctrl__now(const struct kp_ctrl *c)
{
	return kp_kube_now_mono(c->o.clock);
}

int64_t kp_ctrl__wall(const struct kp_ctrl *c)
{
	return kp_kube_now_wall(c->o.clock);
}

/* kp_log_clock_fn: the controller's log lines carry its clock's time. */
static int64_t log_clock(void *arg)
{
	return kp_kube_now_wall(arg);
}

kp_err kp_ctrl_global_init(struct kp_errbuf *eb)
{
	return kp_kube_global_init(eb);
}

void kp_ctrl_global_cleanup(void)
{
	kp_kube_global_cleanup();
}

void kp_ctrl_opts_init(struct kp_ctrl_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->log_level = KP_LOG_INFO;
	o->lease_ns = "kube-system";
	o->lease_name = "karpenter-leader-election";
	o->batch_idle_ms = 1000;
	o->batch_max_ms = 10000;
	o->launch_ttl_ms = 5 * 60 * 1000;
	o->registration_ttl_ms = 15 * 60 * 1000;
}

/* ---- informer callbacks ---- */

struct inf_ud {
	struct kp_ctrl *c;
	enum kp_ctrl__inf kind;
};

static void check_synced(struct kp_ctrl *c)
{
	bool all = true;

	for (int i = 0; i < KPC_NINF; i++)
		if (c->inf[i] && !kp_informer_synced(c->inf[i]) && !kp_ctrl__inf_optional((enum kp_ctrl__inf)i))
			all = false;
	if (all && !atomic_load(&c->ready)) {
		atomic_store(&c->ready, 1);
		kp_log_info(&c->log_op, "cluster state synced", NULL, 0);
		if (c->m.cluster_state_synced)
			kp_metrics_set(c->m.cluster_state_synced, NULL, 0, 1);
		kp_ctrl__prov_trigger(c);
	}
}

static void on_obj(struct kp_ctrl *c, enum kp_ctrl__inf kind, json_t *obj, bool deleted)
{
	const char *name = kp_ctrl__jstr(obj, "metadata.name");

	switch (kind) {
	case KPC_PODS:
		if (!deleted && kp_ctrl__pod_provisionable(obj))
			kp_ctrl__prov_trigger(c);
		break;
	case KPC_NODES:
		if (c->controllers_on)
			kp_ctrl__lifecycle_node_event(c, obj);
		break;
	case KPC_NODECLAIMS:
		if (deleted) {
			if (name) {
				json_object_del(c->launched, name);
				kp_ctrl__created_forget(c, name);
			}
			kp_ctrl__prov_trigger(c);
		} else if (name && c->controllers_on) {
			kp_ctrl__queue_add(&c->lifecycle, name, 0);
		}
		break;
	case KPC_NODEPOOLS:
		if (!deleted)
			kp_ctrl__prov_trigger(c);
		break;
	default:
		break;
	}
}

static void h_add(void *ud, json_t *obj)
{
	struct inf_ud *u = ud;
	on_obj(u->c, u->kind, obj, false);
	kp_ctrl__ext_event(u->c, u->kind, NULL, obj, false);   /* ext */
	kp_ctrl__ms_event(u->c, u->kind, obj, false);   /* metrics */
}

static void h_update(void *ud, json_t *old_obj, json_t *new_obj)
{
	struct inf_ud *u = ud;
	(void)old_obj;
	on_obj(u->c, u->kind, new_obj, false);
	kp_ctrl__ext_event(u->c, u->kind, old_obj, new_obj, false);   /* ext */
	kp_ctrl__ms_event(u->c, u->kind, new_obj, false);   /* metrics */
}

static void h_delete(void *ud, json_t *obj)
{
	struct inf_ud *u = ud;
	on_obj(u->c, u->kind, obj, true);
	kp_ctrl__ext_event(u->c, u->kind, NULL, obj, true);   /* ext */
	kp_ctrl__ms_event(u->c, u->kind, obj, true);   /* metrics */
}

static void h_synced(void *ud)
{
	struct inf_ud *u = ud;
	check_synced(u->c);
}

/* ---- controllers on/off (leadership) ---- */

static void requeue_all_claims(struct kp_ctrl *c)
{
	json_t **all = NULL;
	size_t n = 0;

	if (kp_informer_list(c->inf[KPC_NODECLAIMS], NULL, &all, &n, NULL))
		return;
	for (size_t i = 0; i < n; i++)
		kp_ctrl__queue_add(&c->lifecycle, kp_ctrl__jstr(all[i], "metadata.name"), 0);
	free(all);
}

static void controllers_start(struct kp_ctrl *c)
{
	if (c->controllers_on)
		return;
	c->controllers_on = true;
	atomic_store(&c->leading, 1);
	kp_log_info(&c->log_op, "starting controllers",
		    KP_LOG_FIELDS(kp_log_str("controllers", "provisioner, nodeclaim.lifecycle")));
	requeue_all_claims(c);
	kp_ctrl__prov_trigger(c);
	kp_ctrl__ext_start(c);   /* ext */
}

static void controllers_stop(struct kp_ctrl *c)
{
	if (!c->controllers_on)
		return;
	c->controllers_on = false;
	atomic_store(&c->leading, 0);
	kp_ctrl__prov_stop(c);
	kp_ctrl__ext_stop(c);   /* ext */
}

static void on_started(void *ud)
{
	struct kp_ctrl *c = ud;
	kp_log_info(&c->log_op, "successfully acquired lease",
		    KP_LOG_FIELDS(kp_log_str("lease", c->o.lease_name), kp_log_str("identity", c->identity)));
	controllers_start(c);
}

static void on_stopped(void *ud)
{
	struct kp_ctrl *c = ud;
	if (!c->controllers_on)
		return;
	controllers_stop(c);
	if (!atomic_load(&c->stop)) {
		kp_log_error(&c->log_op, "leader election lost", KP_LOG_FIELDS(kp_log_str("lease", c->o.lease_name)));
		c->lost = true;
	}
}

static void on_new_leader(void *ud, const char *identity)
{
	struct kp_ctrl *c = ud;
	if (identity && *identity && strcmp(identity, c->identity) != 0)
		kp_log_info(&c->log_op, "new leader elected", KP_LOG_FIELDS(kp_log_str("identity", identity)));
}

/* ---- tick ---- */

static void tick(void *ud)
{
	struct kp_ctrl *c = ud;
	int64_t now = kp_ctrl__now(c);

	kp_ctrl__created_gc(c);
	/* Provisioning retries without a pod event: pods were left unplaced
	 * (limits, no capacity, offerings the provider marked unavailable)
	 * and the periodic retry is due. */
	if (c->controllers_on && c->unsched_left && now - c->last_pass_ms >= RETRY_UNSCHED_MS)
		kp_ctrl__prov_trigger(c);
	kp_ctrl__ms_tick(c);   /* metrics: node gauges, cluster_state_node_count, utilization */
	kp_kube_timer_start(c->loop, &c->tick, TICK_MS, tick, c);
}

/* ---- informer transforms (memory): what the controller never reads ----
 *
 * Every cached object loses metadata.managedFields and the
 * kubectl.kubernetes.io/last-applied-configuration annotation (nothing
 * reads either; every other annotation stays: do-not-disrupt, the
 * nodepool hash, pod-deletion-cost, config.mirror ... are read). Pods and
 * Nodes are cut further with the keep-lists below, each field named with
 * its readers. A field a controller starts reading must be added here. The
 * cached objects are read-only: writes go through get/patch, never a PUT of
 * a cached object, so nothing dropped here is written back. Pods are kept
 * as compact JSON text (kp_informer_opts.compact), about 1/9 of a tree. */

/* Pod spec.containers[*] / initContainers[*] / ephemeralContainers[*]:
 * src/load/pod.c load_container (resources, restartPolicy, ports),
 * metrics_state.c containers() (resources, restartPolicy); name for logs. */
static const char *const POD_CONTAINER_KEEP[] = { "name", "resources", "ports", "restartPolicy", NULL };
/* Pod status: phase (snapshot.c kp_ctrl__pod_provisionable, src/load/load.c,
 * metrics_state.c, termination.c, podevents.c), conditions (PodScheduled:
 * snapshot.c, metrics_state.c; Ready: metrics_state.c), nominatedNodeName
 * (snapshot.c). Dropped: containerStatuses, podIPs, hostIPs, qosClass, ... */
static const char *const POD_STATUS_KEEP[] = { "phase", "conditions", "nominatedNodeName", NULL };
/* Pod status.conditions: the types read (PodScheduled: snapshot.c,
 * metrics_state.c; Ready: metrics_state.c) with type, status, reason
 * (snapshot.c) and lastTransitionTime (metrics_state.c durations). */
static const char *const POD_COND_TYPES[] = { "PodScheduled", "Ready", NULL };
static const char *const POD_COND_KEEP[] = { "type", "status", "reason", "lastTransitionTime", NULL };
/* Node status: capacity, allocatable (src/load/objects.c, metrics_state.c),
 * conditions (objects.c Ready, lifecycle.c, termination.c), phase
 * (metrics_state.c). Dropped: images, nodeInfo, addresses, volumes*, ... */
static const char *const NODE_STATUS_KEEP[] = { "capacity", "allocatable", "conditions", "phase", NULL };

static void keep_only(json_t *obj, const char *const *keep)
{
	const char *k;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(obj, tmp, k, v) {
		size_t i = 0;
		while (keep[i] && strcmp(keep[i], k) != 0)
			i++;
		if (!keep[i])
			json_object_del(obj, k);
	}
}

static void tf_common(void *ud, json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");

	(void)ud;
	json_object_del(meta, "managedFields");
	json_object_del(json_object_get(meta, "annotations"), "kubectl.kubernetes.io/last-applied-configuration");
}

/* memory: of a pod's volumes only the claim-backed ones are read (volume
 * topology), trimmed to their name, claimName and ephemeral class */
static void tf_volumes(json_t *spec)
{
	json_t *vols = json_object_get(spec, "volumes"), *keep = json_array(), *v;
	size_t i;

	json_array_foreach(vols, i, v) {
		json_t *pvc = json_object_get(v, "persistentVolumeClaim"), *eph = json_object_get(v, "ephemeral");
		json_t *o;

		if (!json_is_object(pvc) && !json_is_object(eph))
			continue;
		o = json_object();
		if (!o)
			continue;
		json_object_set(o, "name", json_object_get(v, "name"));
		if (json_is_object(pvc)) {
			json_object_set_new(o, "persistentVolumeClaim",
					    json_pack("{s:O?}", "claimName", json_object_get(pvc, "claimName")));
		} else {
			json_t *sc = json_object_get(json_object_get(json_object_get(eph, "volumeClaimTemplate"), "spec"),
						     "storageClassName");
			json_object_set_new(o, "ephemeral", json_pack("{s:{s:{s:O?}}}", "volumeClaimTemplate", "spec",
								      "storageClassName", sc));
		}
		json_array_append_new(keep, o);
	}
	if (keep && json_array_size(keep))
		json_object_set_new(spec, "volumes", keep);
	else {
		json_decref(keep);
		json_object_del(spec, "volumes");
	}
}

static void tf_pod(void *ud, json_t *obj)
{
	static const char *const lists[] = { "containers", "initContainers", "ephemeralContainers" };
	json_t *spec = json_object_get(obj, "spec"), *ct, *st = json_object_get(obj, "status"), *conds;
	size_t i;

	tf_common(ud, obj);
	tf_volumes(spec);
	for (size_t l = 0; l < KP_ARRAY_LEN(lists); l++)
		json_array_foreach(json_object_get(spec, lists[l]), i, ct)
			if (json_is_object(ct))
				keep_only(ct, POD_CONTAINER_KEEP);
	if (!json_is_object(st))
		return;
	keep_only(st, POD_STATUS_KEEP);
	conds = json_object_get(st, "conditions");
	for (i = 0; i < json_array_size(conds);) {
		json_t *cd = json_array_get(conds, i);
		const char *t = json_string_value(json_object_get(cd, "type"));
		size_t k = 0;
		while (t && POD_COND_TYPES[k] && strcmp(POD_COND_TYPES[k], t) != 0)
			k++;
		if (!json_is_object(cd) || !t || !POD_COND_TYPES[k]) {
			json_array_remove(conds, i);
			continue;
		}
		keep_only(cd, POD_COND_KEEP);
		i++;
	}
}

static void tf_node(void *ud, json_t *obj)
{
	json_t *st = json_object_get(obj, "status");

	tf_common(ud, obj);
	if (json_is_object(st))
		keep_only(st, NODE_STATUS_KEEP);
}

/* ---- life cycle ---- */

static kp_err add_informer(struct kp_ctrl *c, enum kp_ctrl__inf kind, const struct kp_kube_res *res,
			   struct kp_errbuf *eb)
{
	static const struct kp_informer_handlers h = { h_add, h_update, h_delete, h_synced };
	struct kp_informer_opts io = { 0 };
	struct inf_ud *u = malloc(sizeof(*u));

	if (!u)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	u->c = c;
	u->kind = kind;
	io.seed = (uint64_t)kp_ctrl__wall(c) + (uint64_t)kind;
	/* memory: informer transforms (above); pods cached as compact text */
	io.transform = kind == KPC_PODS ? tf_pod : kind == KPC_NODES ? tf_node : tf_common;
	io.compact = kind == KPC_PODS;
	if (kp_informer_new(c->loop, res, &io, &h, u, &c->inf[kind], eb)) {
		free(u);
		return eb ? eb->code : KP_ERR_INVALID;
	}
	/* the informer keeps u as its ud; kp_ctrl_free releases it */
	c->inf_ud[kind] = u;
	return KP_OK;
}

kp_err kp_ctrl_new(const struct kp_ctrl_opts *o, struct kp_ctrl **out, struct kp_errbuf *eb)
{
	struct kp_ctrl *c;
	struct kp_kube_client_opts co = { 0 };
	kp_err rc;

	*out = NULL;
	if (!o->cloud)
		return kp_errf(eb, KP_ERR_INVALID, "controller: no cloud provider");
	if (o->batch_idle_ms <= 0 || o->batch_max_ms <= 0)
		return kp_errf(eb, KP_ERR_INVALID, "controller: batch durations must be positive");
	c = calloc(1, sizeof(*c));
	if (!c)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	c->o = *o;
	if (o->resnames)
		c->rn = *o->resnames;
	else
		kp_resnames_init(&c->rn);
	c->created = json_array();
	c->launched = json_object();
	kp_log_init(&c->log, o->log_out ? o->log_out : stderr, "controller");
	c->log.level = o->log_level;
	if (o->clock) {
		c->log.clock = log_clock;
		c->log.clock_arg = (void *)o->clock;
	}
	c->lf_prov[0] = kp_log_str("controller", "provisioner");
	c->lf_life[0] = kp_log_str("controller", "nodeclaim.lifecycle");
	c->lf_op[0] = kp_log_str("controller", "operator");
	c->log_prov = c->log;
	c->log_prov.base = c->lf_prov;
	c->log_prov.nbase = 1;
	c->log_life = c->log;
	c->log_life.base = c->lf_life;
	c->log_life.nbase = 1;
	c->log_op = c->log;
	c->log_op.base = c->lf_op;
	c->log_op.nbase = 1;
	c->reg = o->metrics ? o->metrics : kp_metrics_default();
	if (!c->created || !c->launched || !c->reg) {
		rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if ((rc = kp_metrics_register_karpenter(c->reg, NULL, &c->m, eb)))
		goto fail;
	/* metrics: state gauges, and Karpenter's cloudprovider decorator around
	 * the cloud; the decorator owns the two cloudprovider families (their
	 * handles in c->m are cleared so no call is recorded twice) */
	if ((rc = kp_ctrl__ms_new(c, eb)))
		goto fail;
	c->cloud_raw = o->cloud;
	if ((rc = kp_ctrl__cloud_metrics_new(o->cloud, c->m.cloudprovider_duration_seconds, c->m.cloudprovider_errors_total,
					kp_ctrl__ms_caller, c, o->clock, &c->o.cloud, eb)))
		goto fail;
	c->m.cloudprovider_duration_seconds = NULL;
	c->m.cloudprovider_errors_total = NULL;
	if (o->identity)
		snprintf(c->identity, sizeof(c->identity), "%s", o->identity);
	else if ((rc = kp_lease_default_identity(c->identity, sizeof(c->identity), eb)))
		goto fail;
	if ((rc = kp_kube_config_default(o->kubeconfig, o->context, &c->cfg, eb)))
		goto fail;
	co.qps = o->kube_qps;
	co.burst = o->kube_burst;
	co.user_agent = "karpenter-c/controller";
	co.clock = o->clock;
	if ((rc = kp_kube_client_new(c->cfg, &co, &c->kc, eb)))
		goto fail;
	if ((rc = kp_kube_loop_new(c->kc, &c->loop, eb)))
		goto fail;
	kp_ctrl__queue_init(&c->lifecycle, c, "nodeclaim.lifecycle", kp_ctrl__lifecycle_reconcile);
	if ((rc = kp_ctrl__ext_new(c, eb)))   /* ext */
		goto fail;
	if ((rc = add_informer(c, KPC_PODS, &KP_KUBE_PODS, eb)) || (rc = add_informer(c, KPC_NODES, &KP_KUBE_NODES, eb)) ||
	    (rc = add_informer(c, KPC_NODECLAIMS, &KP_KUBE_NODECLAIMS, eb)) ||
	    (rc = add_informer(c, KPC_NODEPOOLS, &KP_KUBE_NODEPOOLS, eb)) ||
	    (rc = add_informer(c, KPC_DAEMONSETS, &RES_DAEMONSETS, eb)) ||
	    (rc = add_informer(c, KPC_PDBS, &RES_PDBS, eb)) ||
	    (rc = add_informer(c, KPC_NAMESPACES, &KP_KUBE_NAMESPACES, eb)) ||
	    (rc = add_informer(c, KPC_NODECLASSES, &RES_EC2NODECLASSES, eb)) ||
	    (rc = add_informer(c, KPC_STORAGECLASSES, &RES_STORAGECLASSES, eb)) ||
	    (rc = add_informer(c, KPC_PVCS, &RES_PVCS, eb)) || (rc = add_informer(c, KPC_PVS, &RES_PVS, eb)))
		goto fail;
	if (o->leader_elect) {
		struct kp_lease_opts lo = { 0 };
		lo.ns = o->lease_ns;
		lo.name = o->lease_name;
		lo.identity = c->identity;
		lo.on_started = on_started;
		lo.on_stopped = on_stopped;
		lo.on_new_leader = on_new_leader;
		lo.ud = c;
		if ((rc = kp_lease_new(c->loop, &lo, &c->lease, eb)))
			goto fail;
	}
	*out = c;
	return KP_OK;
fail:
	kp_err_prefix(eb, "controller: ");
	kp_ctrl_free(c);
	return rc;
}

kp_err kp_ctrl_run(struct kp_ctrl *c, struct kp_errbuf *eb)
{
	kp_err rc = KP_OK;

	kp_log_info(&c->log_op, "starting karpenter controller",
		    KP_LOG_FIELDS(kp_log_str("server", c->cfg->server), kp_log_str("cloud-provider", c->o.cloud->ops->name),
				  kp_log_bool("leader-elect", c->o.leader_elect), kp_log_str("identity", c->identity)));
	for (int i = 0; i < KPC_NINF; i++)
		kp_informer_start(c->inf[i]);
	c->inf_started = true;
	kp_kube_timer_start(c->loop, &c->tick, TICK_MS, tick, c);
	if (c->lease)
		kp_lease_start(c->lease);
	else
		controllers_start(c);
	while (!atomic_load(&c->stop) && !c->lost) {
		struct kp_errbuf leb = { 0 };
		if (kp_kube_loop_run_once(c->loop, c->o.loop_wait_ms > 0 ? c->o.loop_wait_ms : LOOP_WAIT_MS, &leb)) {
			kp_log_error(&c->log_op, "event loop", KP_LOG_FIELDS(kp_log_errmsg(leb.msg)));
			struct timespec ts = { 0, 100 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	controllers_stop(c);
	if (c->lease && kp_lease_is_leader(c->lease)) {
		struct kp_errbuf leb = { 0 };
		if (kp_lease_release(c->lease, &leb))
			kp_log_warn(&c->log_op, "failed to release lease", KP_LOG_FIELDS(kp_log_errmsg(leb.msg)));
	}
	if (c->lost)
		rc = kp_errf(eb, KP_ERR_IO, "leader election lost");
	kp_log_info(&c->log_op, "stopped karpenter controller", NULL, 0);
	return rc;
}

void kp_ctrl_stop(struct kp_ctrl *c)
{
	if (c)
		atomic_store(&c->stop, 1);
}

bool kp_ctrl_ready(const struct kp_ctrl *c)
{
	return c && atomic_load(&((struct kp_ctrl *)(uintptr_t)c)->ready);
}

bool kp_ctrl_leading(const struct kp_ctrl *c)
{
	return c && atomic_load(&((struct kp_ctrl *)(uintptr_t)c)->leading);
}

void kp_ctrl_free(struct kp_ctrl *c)
{
	if (!c)
		return;
	kp_lease_free(c->lease);
	for (int i = 0; i < KPC_NINF; i++) {
		kp_informer_free(c->inf[i]);
		free(c->inf_ud[i]);
	}
	if (c->loop) {
		kp_kube_timer_stop(c->loop, &c->tick);
		kp_kube_timer_stop(c->loop, &c->batch_timer);
	}
	kp_ctrl__ext_free(c);   /* ext: before the loop its timers are on */
	kp_ctrl__launch_free_all(c);   /* launcher threads: before the provider goes */
	kp_ctrl__queue_free(&c->lifecycle);
	kp_kube_loop_free(c->loop);
	kp_kube_client_free(c->kc);
	kp_kube_config_free(c->cfg);
	kp_ctrl__ms_free(c);   /* metrics */
	if (c->cloud_raw && c->o.cloud != c->cloud_raw)
		kp_cloud_destroy(c->o.cloud);   /* metrics: the decorator only */
	json_decref(c->created);
	json_decref(c->launched);
	free(c);
}

/* ---- thread ---- */

struct kp_ctrl_thread {
	struct kp_ctrl *c;
	pthread_t th;
};

static void *thread_main(void *arg)
{
	struct kp_ctrl_thread *t = arg;
	struct kp_errbuf eb = { 0 };

	if (kp_ctrl_run(t->c, &eb))
		kp_log_error(&t->c->log_op, "controller stopped", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
	/* the client is freed on the joining thread: release this thread's
	 * OpenSSL state (error queue, DRBGs) here, or it outlives the thread */
	OPENSSL_thread_stop();
	return NULL;
}

kp_err kp_ctrl_thread_start(const struct kp_ctrl_opts *o, struct kp_ctrl_thread **out, struct kp_errbuf *eb)
{
	struct kp_ctrl_thread *t = calloc(1, sizeof(*t));
	kp_err rc;

	*out = NULL;
	if (!t)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	if ((rc = kp_ctrl_new(o, &t->c, eb))) {
		free(t);
		return rc;
	}
	if (pthread_create(&t->th, NULL, thread_main, t) != 0) {
		kp_ctrl_free(t->c);
		free(t);
		return kp_errf(eb, KP_ERR_IO, "controller: cannot start thread");
	}
	*out = t;
	return KP_OK;
}

void kp_ctrl_thread_stop(struct kp_ctrl_thread *t)
{
	if (!t)
		return;
	kp_ctrl_stop(t->c);
	pthread_join(t->th, NULL);
	kp_ctrl_free(t->c);
	free(t);
}
