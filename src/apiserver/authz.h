/*
 * authz.h - authorization with Kubernetes RBAC semantics for `karpenter up`
 * (plugin/pkg/auth/authorizer/rbac: RBACAuthorizer.Authorize, RuleAllows,
 * appliesTo; the request attributes of apiserver/pkg/endpoints/request
 * RequestInfoFactory; the 403 text of responsewriters.forbiddenMessage).
 *
 * Pure: the RBAC objects come from a caller's list function, so this module
 * does no I/O and holds no state. Members of system:masters are allowed
 * everything (the API server's privileged-group short cut); every
 * authenticated identity also has the bootstrap roles system:discovery,
 * system:basic-user and system:public-info-viewer (discovery, version,
 * health, self reviews), as a real cluster's bootstrap policy grants.
 * Aggregated ClusterRoles (aggregationRule) are not expanded.
 */
#ifndef KARPENTER_APISERVER_AUTHZ_H
#define KARPENTER_APISERVER_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define KP_AUTHZ_MAX_GROUPS 16

/* Who is asking (authenticated or impersonated). Strings borrowed. */
struct kp_authz_user {
	const char *name;
	const char *uid;                         /* may be NULL */
	const char *groups[KP_AUTHZ_MAX_GROUPS];
	int ngroups;
};

/* authorizer.Attributes. Strings borrowed; NULL and "" are the same. */
struct kp_authz_attrs {
	const struct kp_authz_user *user;
	const char *verb;          /* get list watch create update patch delete deletecollection impersonate ... */
	bool resource_request;
	const char *api_group;     /* "" = core */
	const char *resource;      /* plural */
	const char *subresource;
	const char *ns;            /* "" = cluster scope */
	const char *name;
	const char *path;          /* non-resource requests ("/healthz") */
};

/* Lists the objects of one RBAC kind: resource is "clusterroles",
 * "clusterrolebindings", "roles" or "rolebindings" (ns names the namespace
 * for the last two). Returns a new reference to a JSON array of objects (or
 * NULL when there are none); the caller decrefs. */
typedef json_t *(*kp_authz_list_fn)(void *ud, const char *resource, const char *ns);

/* True when a rule grants a. reason (size n, may be NULL) gets Kubernetes'
 * reason text: "RBAC: allowed by ClusterRoleBinding \"b\" of ClusterRole
 * \"r\" to ServiceAccount \"sa/ns\"", or "" when denied. */
bool kp_authz_allowed(const struct kp_authz_attrs *a, kp_authz_list_fn list, void *ud, char *reason, size_t n);

/* Request attributes from an HTTP request (RequestInfoFactory.NewRequestInfo):
 * method, path and the watch query value. Writes into a, with strings
 * pointing into buf (size n, at least the path's length + 8). */
void kp_authz_attrs_from_request(const char *method, const char *path, bool watch_param, char *buf, size_t n,
				 struct kp_authz_attrs *a);

/* The 403 Status body the API server writes for a denied request (message
 * "pods is forbidden: User \"u\" cannot list resource \"pods\" in API group
 * \"\" at the cluster scope", reason Forbidden, details, code 403). New
 * reference; NULL on out of memory. */
json_t *kp_authz_forbidden_status(const struct kp_authz_attrs *a);

/* Fills user's groups the way Kubernetes does for a service account:
 * system:serviceaccounts, system:serviceaccounts:NS (nsgroup is the caller's
 * buffer for that string, size n), system:authenticated. */
void kp_authz_sa_groups(struct kp_authz_user *u, const char *ns, char *nsgroup, size_t n);
/* Splits "system:serviceaccount:NS:NAME" into ns/name (buffers of size n);
 * false if the name is not a service account's. */
bool kp_authz_sa_split(const char *user, char *ns, char *name, size_t n);

#endif
