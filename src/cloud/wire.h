/*
 * wire.h - the JSON form of the cloud interface's arguments and results,
 * shared by the remote provider (remote.c, the client) and the cloud that
 * `karpenter up` serves (src/up/cloudsrv.c): a NodeClaim as the provider
 * sees it and an instance. Resources travel by name with their exact
 * integer values; requirements as their internal form (complement, bounds,
 * sorted values), so nothing is re-normalized on the way.
 */
#ifndef KARPENTER_CLOUD_WIRE_H
#define KARPENTER_CLOUD_WIRE_H

#include <jansson.h>

#include "karpenter/cloud.h"

/* New references; NULL on out of memory. rn names the resources (NULL =
 * well-known only). */
json_t *kp_cloud_wire_claim(const struct kp_nodeclaim *nc, const struct kp_resnames *rn);
json_t *kp_cloud_wire_instance(const struct kp_instance *in, const struct kp_resnames *rn);
/* Decodes into *out with every string and array in a; rn gains the names
 * of resources it does not know yet. KP_ERR_INVALID naming the field. */
kp_err kp_cloud_wire_claim_read(const json_t *j, struct kp_arena *a, struct kp_resnames *rn, struct kp_nodeclaim *out,
				struct kp_errbuf *eb);
kp_err kp_cloud_wire_instance_read(const json_t *j, struct kp_arena *a, struct kp_resnames *rn, struct kp_instance *out,
				   struct kp_errbuf *eb);

#endif
