/*
 * remote.h - a cloud provider that forwards create, delete, get, list and
 * is-drifted over HTTP/JSON to a cloud served elsewhere: `karpenter up
 * --cloud-listen ADDR:PORT` serves its simulated cloud that way, so a
 * `karpenter controller --cloud-provider fake --cloud-endpoint URL` running
 * as its own process launches instances that `up` registers as Nodes.
 * Instance types come from the caller's catalog (the same one the serving
 * side opened). A thin client: all state stays with the server. Its repair
 * policies are the simulated cloud's (a static table, not asked over HTTP).
 *
 * Protocol (wire.h for the JSON forms): POST URL/v1/create {"nodeclaim"},
 * /v1/delete {"providerID"}, /v1/get {"providerID"}, /v1/drifted
 * {"nodeclaim"}, GET /v1/list. 200 with {"instance"}, {"instances"} or
 * {"reason"}; an error is {"error": kp_cloud_err_str name, "message"}.
 * Transport failures are KP_CLOUD_TRANSIENT.
 */
#ifndef KARPENTER_CLOUD_REMOTE_H
#define KARPENTER_CLOUD_REMOTE_H

#include "karpenter/cloud.h"

/* endpoint: "http://127.0.0.1:PORT" (copied); cat and rn borrowed, they
 * must outlive the provider. Needs libcurl initialised (kp_ctrl_global_init). */
kp_err kp_cloud_remote_new(const char *endpoint, const struct kp_catalog *cat, struct kp_resnames *rn,
			   struct kp_cloud **out, struct kp_errbuf *eb);

#endif
