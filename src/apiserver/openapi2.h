/*
 * openapi2.h - the /openapi/v2 document (Swagger 2.0) for clients that
 * still read it: JSON built from the /openapi/v3 documents, and the
 * protobuf form kubectl asks for (see openapi2.c).
 */
#ifndef KARPENTER_APISERVER_OPENAPI2_H
#define KARPENTER_APISERVER_OPENAPI2_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "apiserver/apires.h"

/* The JSON document (new reference), NULL when out of memory. */
json_t *kp_apiserver__openapi2_json(const struct kp_apiserver__reg *reg);
/* The protobuf document (static bytes). */
const unsigned char *kp_apiserver__openapi2_pb(size_t *len);

#endif
