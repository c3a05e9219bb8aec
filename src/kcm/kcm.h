/*
 * kcm.h - the built-in controllers of `karpenter up` (a stand-in for
 * kube-controller-manager, kube-scheduler and the kubelets): what they do
 * in a real cluster, minimal but with the same observable results
 * (Deployment -> ReplicaSet -> Pods, StatefulSet, DaemonSet and Job pods,
 * binding of pending pods to Nodes, pods becoming Running, Nodes for the
 * simulated cloud's instances, PodDisruptionBudget status), plus the pod
 * that stands for the Karpenter controller.
 *
 * Life cycle: kp_kcm_start() after the API server started (src/up does
 * it), kp_kcm_stop() after kp_apiserver_shutdown() (the store must be shut
 * down so the controllers' watch wakes up) and before kp_apiserver_stop().
 * The controllers act only through the store and kp_apiserver_mutate /
 * kp_apiserver_delete, so resourceVersions, watches and the garbage
 * collector see their writes like any client's. The API server does not
 * know about them.
 */
#ifndef KARPENTER_KCM_KCM_H
#define KARPENTER_KCM_KCM_H

#include "karpenter/base.h"
#include "karpenter/cloud.h"

struct kp_apiserver;
struct kp_kcm;

/* Starts the controllers' threads on L (and creates the karpenter
 * namespace and the controller's log pod); *out is the handle for
 * kp_kcm_stop. eb gets the reason on failure. */
kp_err kp_kcm_start(struct kp_apiserver *L, struct kp_kcm **out, struct kp_errbuf *eb);
/* Joins the controllers' threads and frees K (the store must be shut down
 * first so their watches wake up). NULL is a no-op. */
void kp_kcm_stop(struct kp_kcm *K);
/* Gives the node-lifecycle controller a simulated cloud (borrowed; made by
 * kp_cloud_fake_new, it must outlive kp_kcm_stop): every instance that
 * becomes RUNNING gets a Node, every terminated one loses it. NULL detaches. */
void kp_kcm_set_cloud(struct kp_kcm *K, struct kp_cloud *cloud);

#endif
