/*
 * up.h - `karpenter up`: the API server (src/apiserver) with its store,
 * the built-in controllers (src/kcm) and, optionally, the Karpenter
 * controller in-process (src/ctrl) against a simulated cloud that is saved
 * in the data directory and can be given faults.
 *
 * Life cycle: kp_up_start() -> [kp_up_karpenter_start()] -> kp_up_stop().
 * U->api is the API server for in-process callers (its store, its object
 * helpers) between the two.
 */
#ifndef KARPENTER_UP_UP_H
#define KARPENTER_UP_UP_H

#include <stdbool.h>
#include <stdint.h>

#include "apiserver/server.h"
#include "karpenter/base.h"
#include "karpenter/log.h"

struct kp_kcm;
struct kp_up_karpenter;

struct kp_up {
	struct kp_apiserver *api;          /* the API server and its store */
	struct kp_kcm *kcm;                /* the built-in controllers */
	struct kp_up_karpenter *karp;      /* the Karpenter controller, or NULL */
};

/* Starts the API server (cfg) and the built-in controllers. */
kp_err kp_up_start(struct kp_up **out, const struct kp_apiserver_config *cfg, struct kp_errbuf *eb);
/* Stops the Karpenter controller (if it runs), the built-in controllers
 * and the API server, and frees U. NULL is a no-op. */
void kp_up_stop(struct kp_up *U);

/* The Karpenter controller in-process: opens the catalog, makes the
 * simulated cloud (shared with the node-lifecycle controller through
 * kp_kcm_set_cloud, so launched instances become Nodes), writes
 * DATA_DIR/karpenter-controller.kubeconfig and runs the controller on its
 * own thread through HTTP against the API server, exactly as against any
 * cluster, with its JSON log lines going to the karpenter pod's log
 * (kubectl logs -n karpenter karpenter-0). kp_up_stop stops it. */
struct kp_up_karpenter_opts {
	const char *catalog;             /* NAME|FILE; NULL = "aws" */
	const char *datadir;             /* built-in data (data/aws) */
	int64_t launch_delay_ms;         /* simulated boot time */
	enum kp_log_level log_level;
	int64_t batch_idle_ms, batch_max_ms;   /* 0 = defaults */
	bool leader_elect;
	const char *fault_file;          /* fault-injection JSON, re-read on change; NULL = none (up.c) */
	int packing;                     /* enum kp_packing: --packing (docs/packing.md) */
	/* --cloud aws: the AWS provider (src/cloud/aws) instead of the simulated
	 * cloud; every running instance of the cluster becomes a Node */
	const char *cloud;               /* NULL or "fake", or "aws" */
	const char *aws_endpoint;        /* --aws-endpoint (NULL = AWS_ENDPOINT_URL*, AWS) */
	const char *aws_region;          /* NULL = AWS_REGION, profile, IMDS */
	const char *aws_pricing_endpoint; /* --aws-pricing-endpoint (NULL = as the other services) */
	const char *cluster_name;        /* tags; NULL = "karpenter" */
	const char *cluster_endpoint;    /* written into user data */
	bool controller_off;             /* the cloud only, no controller thread (with cloud_listen) */
	const char *cloud_listen;        /* serve the cloud over HTTP there (cloudsrv.h); NULL = don't */
};
/* The port the cloud is served on (cloud_listen), 0 if it is not. */
int kp_up_cloud_port(const struct kp_up *U);
kp_err kp_up_karpenter_start(struct kp_up *U, const struct kp_up_karpenter_opts *o, struct kp_errbuf *eb);

/* ---- the data directory (datadir.c) ----
 * Creates dir 0700 (forcing an existing one to 0700 and every file below it
 * to 0600) and takes an exclusive lock on dir/up.lock for as long as
 * *lock_fd stays open. KP_ERR_LIMIT when another process holds it, with its
 * pid in *holder (-1 if unknown); call before anything writes into dir. */
kp_err kp_up_datadir_lock(const char *dir, int *lock_fd, long *holder, struct kp_errbuf *eb);
void kp_up_datadir_unlock(int lock_fd);

#endif
