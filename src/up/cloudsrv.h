/*
 * cloudsrv.h - `karpenter up --cloud-listen ADDR:PORT`: serves up's
 * simulated cloud over plain HTTP (loopback) in the protocol of
 * src/cloud/remote.h, so a `karpenter controller` in its own process
 * launches instances that up's node-lifecycle controller registers as
 * Nodes, as the in-process controller's are.
 */
#ifndef KARPENTER_UP_CLOUDSRV_H
#define KARPENTER_UP_CLOUDSRV_H

#include "karpenter/cloud.h"
#include "karpenter/resources.h"

struct kp_up_cloudsrv;

/* Listens on listen ("127.0.0.1:PORT"; port 0 picks one) and calls cloud
 * (borrowed, thread-safe) for each request; rn names resources (borrowed,
 * grows under the server's lock). */
kp_err kp_up_cloudsrv_start(struct kp_cloud *cloud, struct kp_resnames *rn, const char *listen,
			    struct kp_up_cloudsrv **out, struct kp_errbuf *eb);
/* The bound port. */
int kp_up_cloudsrv_port(const struct kp_up_cloudsrv *s);
/* Stops listening and frees; NULL is a no-op. */
void kp_up_cloudsrv_stop(struct kp_up_cloudsrv *s);

#endif
