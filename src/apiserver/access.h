/*
 * access.h - authentication, impersonation and RBAC authorization of every
 * request to `karpenter up`'s API server, and the endpoints that answer
 * questions about them (access.c).
 */
#ifndef KARPENTER_APISERVER_ACCESS_H
#define KARPENTER_APISERVER_ACCESS_H

#include <stdbool.h>

#include "apiserver/authz.h"

struct kp_apiserver;
struct kp_apiserver__http_req;
struct kp_apiserver__http_resp;

/* The request headers and query values the gate reads (borrowed). */
struct kp_apiserver__access_in {
	const char *authorization;                     /* Authorization header */
	const char *imp_user, *imp_uid;                /* Impersonate-User, Impersonate-Uid */
	const char *imp_groups[KP_AUTHZ_MAX_GROUPS];   /* Impersonate-Group (repeatable) */
	int n_imp_groups;
	bool watch;                                    /* ?watch=true|1 */
};

/* True when rq may go on to kp_apiserver__rest_handle. Otherwise rs holds
 * the answer: 401, 403 (the API server's Forbidden Status), 400, or the
 * response of an endpoint served here (TokenRequest, SelfSubjectAccessReview,
 * SubjectAccessReview, SelfSubjectRulesReview, SelfSubjectReview). */
bool kp_apiserver__access(struct kp_apiserver *L, const struct kp_apiserver__access_in *in,
			  const struct kp_apiserver__http_req *rq, struct kp_apiserver__http_resp *rs);

#endif
