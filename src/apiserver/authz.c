/*
 * authz.c - Kubernetes RBAC for `karpenter up`: which rule lets a request
 * through, and the attributes and 403 body of a request.
 *
 * Follows plugin/pkg/auth/authorizer/rbac (RBACAuthorizer.Authorize visits
 * ClusterRoleBindings, then the RoleBindings of the request's namespace; a
 * binding applies when a subject names the user, one of its groups, or the
 * service account "system:serviceaccount:NS:NAME"; RuleAllows matches verb,
 * API group, resource or "resource/subresource" or "*" / "*\/subresource",
 * resourceNames, and for non-resource requests nonResourceURLs with a
 * trailing "*" as a prefix). Cost: one pass over the bindings and their
 * roles per request; a cluster in `up` holds a few dozen.
 */
#include <stdio.h>
#include <string.h>

#include "apiserver/authz.h"

static const char *S(const char *s)
{
	return s ? s : "";
}

static bool str_in(const json_t *arr, const char *s, bool star)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		const char *x = json_string_value(v);
		if (!x)
			continue;
		if ((star && strcmp(x, "*") == 0) || strcmp(x, s) == 0)
			return true;
	}
	return false;
}

static bool resource_matches(const json_t *rule, const struct kp_authz_attrs *a)
{
	const json_t *res = json_object_get(rule, "resources");
	char combined[256];
	size_t i;
	json_t *v;

	if (*S(a->subresource))
		snprintf(combined, sizeof(combined), "%s/%s", S(a->resource), a->subresource);
	else
		snprintf(combined, sizeof(combined), "%s", S(a->resource));
	json_array_foreach(res, i, v) {
		const char *r = json_string_value(v);
		if (!r)
			continue;
		if (strcmp(r, "*") == 0 || strcmp(r, combined) == 0)
			return true;
		if (*S(a->subresource) && strncmp(r, "*/", 2) == 0 && strcmp(r + 2, a->subresource) == 0)
			return true;
	}
	return false;
}

static bool url_matches(const json_t *rule, const char *path)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(rule, "nonResourceURLs"), i, v) {
		const char *u = json_string_value(v);
		size_t n;
		if (!u)
			continue;
		n = strlen(u);
		if (strcmp(u, "*") == 0 || strcmp(u, path) == 0)
			return true;
		if (n && u[n - 1] == '*' && strncmp(u, path, n - 1) == 0)
			return true;
	}
	return false;
}

/* RuleAllows */
static bool rule_allows(const json_t *rule, const struct kp_authz_attrs *a)
{
	const json_t *names;

	if (!str_in(json_object_get(rule, "verbs"), S(a->verb), true))
		return false;
	if (!a->resource_request)
		return url_matches(rule, S(a->path));
	if (!str_in(json_object_get(rule, "apiGroups"), S(a->api_group), true) || !resource_matches(rule, a))
		return false;
	names = json_object_get(rule, "resourceNames");
	return json_array_size(names) == 0 || str_in(names, S(a->name), false);
}

/* appliesTo: which subject of the binding names the user, written into who. */
static bool applies_to(const json_t *binding, const struct kp_authz_user *u, const char *binding_ns, char *who,
		       size_t n)
{
	size_t i;
	json_t *s;

	json_array_foreach(json_object_get(binding, "subjects"), i, s) {
		const char *kind = json_string_value(json_object_get(s, "kind"));
		const char *name = json_string_value(json_object_get(s, "name"));
		const char *ns = json_string_value(json_object_get(s, "namespace"));
		if (!kind || !name)
			continue;
		if (strcmp(kind, "User") == 0 && strcmp(name, S(u->name)) == 0) {
			snprintf(who, n, "User \"%s\"", name);
			return true;
		}
		if (strcmp(kind, "Group") == 0) {
			for (int g = 0; g < u->ngroups; g++) {
				if (u->groups[g] && strcmp(u->groups[g], name) == 0) {
					snprintf(who, n, "Group \"%s\"", name);
					return true;
				}
			}
		}
		if (strcmp(kind, "ServiceAccount") == 0) {
			char full[512];
			/* a RoleBinding's ServiceAccount subject defaults to the binding's namespace */
			if (!ns || !*ns)
				ns = binding_ns;
			if (!ns || !*ns)
				continue;
			snprintf(full, sizeof(full), "system:serviceaccount:%s:%s", ns, name);
			if (strcmp(full, S(u->name)) == 0) {
				snprintf(who, n, "ServiceAccount \"%s/%s\"", name, ns);
				return true;
			}
		}
	}
	return false;
}

static const json_t *find_named(const json_t *arr, const char *name)
{
	size_t i;
	json_t *o;

	json_array_foreach(arr, i, o) {
		const char *n = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
		if (n && strcmp(n, name) == 0)
			return o;
	}
	return NULL;
}

static bool role_allows(const json_t *role, const struct kp_authz_attrs *a)
{
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(role, "rules"), i, r)
		if (rule_allows(r, a))
			return true;
	return false;
}

/* The bootstrap policy every authenticated identity has: system:discovery,
 * system:public-info-viewer (non-resource GETs) and system:basic-user (self
 * reviews). */
static bool bootstrap_allows(const struct kp_authz_attrs *a)
{
	static const char *const urls[] = { "/api", "/api/", "/apis", "/apis/", "/healthz", "/livez", "/readyz",
					    "/version", "/version/", "/openapi", "/openapi/" };
	if (!a->resource_request) {
		const char *p = S(a->path);
		if (strcmp(S(a->verb), "get") != 0)
			return false;
		for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
			size_t n = strlen(urls[i]);
			if (strcmp(p, urls[i]) == 0 || (urls[i][n - 1] == '/' && strncmp(p, urls[i], n) == 0))
				return true;
		}
		return false;
	}
	if (strcmp(S(a->verb), "create") != 0 || *S(a->subresource))
		return false;
	if (strcmp(S(a->api_group), "authorization.k8s.io") == 0)
		return strcmp(S(a->resource), "selfsubjectaccessreviews") == 0 ||
		       strcmp(S(a->resource), "selfsubjectrulesreviews") == 0;
	return strcmp(S(a->api_group), "authentication.k8s.io") == 0 &&
	       strcmp(S(a->resource), "selfsubjectreviews") == 0;
}

static bool has_group(const struct kp_authz_user *u, const char *g)
{
	for (int i = 0; i < u->ngroups; i++)
		if (u->groups[i] && strcmp(u->groups[i], g) == 0)
			return true;
	return false;
}

/* Visits bindings (ClusterRoleBindings when ns is NULL) for one that applies
 * to the user and whose role allows a. */
static bool visit_bindings(const struct kp_authz_attrs *a, kp_authz_list_fn list, void *ud, const char *ns,
			   json_t *croles, char *reason, size_t n)
{
	json_t *bindings = list(ud, ns ? "rolebindings" : "clusterrolebindings", ns);
	json_t *roles = ns ? list(ud, "roles", ns) : NULL;
	bool ok = false;
	size_t i;
	json_t *b;

	json_array_foreach(bindings, i, b) {
		const json_t *ref = json_object_get(b, "roleRef");
		const char *rkind = json_string_value(json_object_get(ref, "kind"));
		const char *rname = json_string_value(json_object_get(ref, "name"));
		const char *bname = json_string_value(json_object_get(json_object_get(b, "metadata"), "name"));
		const json_t *role;
		char who[600];

		if (!rkind || !rname || !applies_to(b, a->user, ns, who, sizeof(who)))
			continue;
		if (strcmp(rkind, "ClusterRole") == 0)
			role = find_named(croles, rname);
		else if (ns && strcmp(rkind, "Role") == 0)
			role = find_named(roles, rname);
		else
			continue;
		if (!role || !role_allows(role, a))
			continue;
		if (reason && n) {
			if (ns)
				snprintf(reason, n, "RBAC: allowed by RoleBinding \"%s/%s\" of %s \"%s\" to %s", S(bname), ns,
					 rkind, rname, who);
			else
				snprintf(reason, n, "RBAC: allowed by ClusterRoleBinding \"%s\" of ClusterRole \"%s\" to %s",
					 S(bname), rname, who);
		}
		ok = true;
		break;
	}
	json_decref(bindings);
	json_decref(roles);
	return ok;
}

bool kp_authz_allowed(const struct kp_authz_attrs *a, kp_authz_list_fn list, void *ud, char *reason, size_t n)
{
	json_t *croles;
	bool ok;

	if (reason && n)
		reason[0] = '\0';
	if (!a->user)
		return false;
	if (has_group(a->user, "system:masters"))
		return true;
	if (has_group(a->user, "system:authenticated") && bootstrap_allows(a))
		return true;
	croles = list(ud, "clusterroles", NULL);
	ok = visit_bindings(a, list, ud, NULL, croles, reason, n) ||
	     (a->resource_request && *S(a->ns) && visit_bindings(a, list, ud, a->ns, croles, reason, n));
	json_decref(croles);
	return ok;
}

/* ---- request attributes ---- */

void kp_authz_attrs_from_request(const char *method, const char *path, bool watch_param, char *buf, size_t n,
				 struct kp_authz_attrs *a)
{
	char *parts[16], *p;
	int np = 0, i = 0;
	const struct kp_authz_user *user = a->user;

	memset(a, 0, sizeof(*a));
	a->user = user;
	a->path = path;
	snprintf(buf, n, "%s", path);
	if ((p = strchr(buf, '?')))
		*p = '\0';
	for (p = buf; *p && np < (int)(sizeof(parts) / sizeof(parts[0]));) {
		while (*p == '/')
			*p++ = '\0';
		if (!*p)
			break;
		parts[np++] = p;
		while (*p && *p != '/')
			p++;
	}
	/* verb for non-resource requests: the lower-case method */
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		a->verb = "get";
	else if (strcmp(method, "POST") == 0)
		a->verb = "post";
	else if (strcmp(method, "PUT") == 0)
		a->verb = "put";
	else if (strcmp(method, "PATCH") == 0)
		a->verb = "patch";
	else if (strcmp(method, "DELETE") == 0)
		a->verb = "delete";
	else
		a->verb = "";
	if (np >= 3 && strcmp(parts[0], "api") == 0) {
		a->api_group = "";
		i = 2;
	} else if (np >= 4 && strcmp(parts[0], "apis") == 0) {
		a->api_group = parts[1];
		i = 3;
	} else {
		return;   /* discovery, /healthz, /version, /openapi: non-resource */
	}
	a->resource_request = true;
	if (strcmp(parts[i], "watch") == 0 && np > i + 1) {   /* deprecated /api/v1/watch/... paths */
		watch_param = true;
		i++;
	}
	if (strcmp(parts[i], "namespaces") == 0 && np > i + 1) {
		a->ns = parts[i + 1];
		if (np > i + 2 && strcmp(parts[i + 2], "status") != 0 && strcmp(parts[i + 2], "finalize") != 0)
			i += 2;
	}
	a->resource = parts[i];
	if (np > i + 1)
		a->name = parts[i + 1];
	if (np > i + 2)
		a->subresource = parts[i + 2];
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		a->verb = watch_param ? "watch" : a->name ? "get" : "list";
	else if (strcmp(method, "POST") == 0)
		a->verb = "create";
	else if (strcmp(method, "PUT") == 0)
		a->verb = "update";
	else if (strcmp(method, "PATCH") == 0)
		a->verb = "patch";
	else if (strcmp(method, "DELETE") == 0)
		a->verb = a->name ? "delete" : "deletecollection";
}

/* ---- 403 ---- */

json_t *kp_authz_forbidden_status(const struct kp_authz_attrs *a)
{
	char msg[2048], what[600], qual[300];
	const char *user = a->user ? S(a->user->name) : "";
	json_t *details, *st;

	if (!a->resource_request) {
		snprintf(msg, sizeof(msg), "forbidden: User \"%s\" cannot %s path \"%s\"", user, S(a->verb), S(a->path));
		details = json_object();
	} else {
		if (*S(a->subresource))
			snprintf(what, sizeof(what), "%s/%s", S(a->resource), a->subresource);
		else
			snprintf(what, sizeof(what), "%s", S(a->resource));
		if (*S(a->api_group))
			snprintf(qual, sizeof(qual), "%s.%s", S(a->resource), a->api_group);
		else
			snprintf(qual, sizeof(qual), "%s", S(a->resource));
		{
			char head[700], tail[1300];
			if (*S(a->name))
				snprintf(head, sizeof(head), "%s \"%s\" is forbidden", qual, a->name);
			else
				snprintf(head, sizeof(head), "%s is forbidden", qual);
			if (*S(a->ns))
				snprintf(tail, sizeof(tail),
					 "User \"%s\" cannot %s resource \"%s\" in API group \"%s\" in the namespace \"%s\"", user,
					 S(a->verb), what, S(a->api_group), a->ns);
			else
				snprintf(tail, sizeof(tail), "User \"%s\" cannot %s resource \"%s\" in API group \"%s\" at the cluster scope",
					 user, S(a->verb), what, S(a->api_group));
			snprintf(msg, sizeof(msg), "%s: %s", head, tail);
		}
		details = json_object();
		if (details) {
			if (*S(a->name))
				json_object_set_new(details, "name", json_string(a->name));
			if (*S(a->api_group))
				json_object_set_new(details, "group", json_string(a->api_group));
			json_object_set_new(details, "kind", json_string(S(a->resource)));
		}
	}
	if (!details)
		return NULL;
	st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:o, s:i}", "kind", "Status", "apiVersion", "v1", "metadata",
		       "status", "Failure", "message", msg, "reason", "Forbidden", "details", details, "code", 403);
	return st;
}

/* ---- service-account identities ---- */

void kp_authz_sa_groups(struct kp_authz_user *u, const char *ns, char *nsgroup, size_t n)
{
	snprintf(nsgroup, n, "system:serviceaccounts:%s", ns);
	u->ngroups = 0;
	u->groups[u->ngroups++] = "system:serviceaccounts";
	u->groups[u->ngroups++] = nsgroup;
	u->groups[u->ngroups++] = "system:authenticated";
}

bool kp_authz_sa_split(const char *user, char *ns, char *name, size_t n)
{
	static const char pfx[] = "system:serviceaccount:";
	const char *rest, *colon;

	if (!user || strncmp(user, pfx, sizeof(pfx) - 1) != 0)
		return false;
	rest = user + sizeof(pfx) - 1;
	colon = strchr(rest, ':');
	if (!colon || colon == rest || !colon[1] || strchr(colon + 1, ':') || (size_t)(colon - rest) >= n ||
	    strlen(colon + 1) >= n)
		return false;
	memcpy(ns, rest, (size_t)(colon - rest));
	ns[colon - rest] = '\0';
	snprintf(name, n, "%s", colon + 1);
	return true;
}
