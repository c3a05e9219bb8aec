/*
 * access.c - who is asking and may they: the gate every request of
 * `karpenter up` passes before the REST layer (server.c calls
 * kp_apiserver__access).
 *
 * Authentication: the data directory's bearer token is the cluster admin
 * (user "kubernetes-admin", group system:masters, as kubeadm's admin.conf);
 * a service-account token (satoken.c, from the TokenRequest subresource) is
 * system:serviceaccount:NS:NAME with Kubernetes' groups, while its
 * ServiceAccount exists with the same uid. Anything else is 401.
 * Impersonation: Impersonate-User / -Group / -Uid, each checked as the verb
 * "impersonate" on users, serviceaccounts, groups or uids
 * (apiserver/pkg/endpoints/filters/impersonation.go). Authorization:
 * authz.c over the RBAC objects in the store; a denial is the API server's
 * 403 Status. Served here: TokenRequest, SelfSubjectAccessReview,
 * SubjectAccessReview, SelfSubjectRulesReview, SelfSubjectReview.
 *
 * Cost: the admin token short-cuts everything; other identities cost a
 * few store lists (RBAC objects) per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "apiserver/access.h"
#include "apiserver/authz.h"
#include "apiserver/rest_int.h"
#include "apiserver/satoken.h"
#include "apiserver/server.h"
#include "kobj/kobj.h"

#define RBAC_GROUP "rbac.authorization.k8s.io"
#define ADMIN_USER "kubernetes-admin"

/* The identity of one request and the storage its strings live in. */
struct who {
	struct kp_authz_user u;
	char name[600], uid[64], nsgroup[300];
	char imp_name[600];
};

static const char *J(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static int collect(void *ud, const char *json, size_t len, int64_t rv)
{
	json_t *o = json_loadb(json, len, 0, NULL);
	(void)rv;
	if (o)
		json_array_append_new(ud, o);
	return 0;
}

static json_t *list_rbac(void *ud, const char *resource, const char *ns)
{
	struct kp_apiserver *L = ud;
	struct kp_errbuf eb = { 0 };
	json_t *arr = json_array();

	if (arr && kp_store_list(L->store, RBAC_GROUP, resource, ns, collect, arr, NULL, &eb) != KP_STORE_OK)
		json_array_clear(arr);
	return arr;
}

static json_t *get_obj(struct kp_apiserver *L, const char *group, const char *resource, const char *ns, const char *name)
{
	struct kp_store_key k = { group, resource, ns, name };
	struct kp_errbuf eb = { 0 };
	char *text = NULL;
	json_t *o = NULL;

	if (kp_store_get(L->store, &k, &text, NULL, &eb) == KP_STORE_OK && text)
		o = json_loads(text, 0, NULL);
	free(text);
	return o;
}

static void sa_identity(struct who *w, const char *ns, const char *name, const char *uid)
{
	snprintf(w->name, sizeof(w->name), "system:serviceaccount:%s:%s", ns, name);
	snprintf(w->uid, sizeof(w->uid), "%s", uid ? uid : "");
	w->u.name = w->name;
	w->u.uid = w->uid[0] ? w->uid : NULL;
	kp_authz_sa_groups(&w->u, ns, w->nsgroup, sizeof(w->nsgroup));
}

/* 0 = authenticated into w; else 401 written into rs. */
static int authenticate(struct kp_apiserver *L, const char *authorization, struct who *w,
			struct kp_apiserver__http_resp *rs)
{
	struct kp_satoken_claims c;
	struct kp_errbuf eb = { 0 };
	const char *tok;
	json_t *sa;
	bool ok;

	memset(w, 0, sizeof(*w));
	if (kp_apiserver__auth_check(L->token, authorization)) {
		w->u.name = ADMIN_USER;
		w->u.groups[0] = "system:masters";
		w->u.groups[1] = "system:authenticated";
		w->u.ngroups = 2;
		return 0;
	}
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		goto unauthorized;
	for (tok = authorization + 7; *tok == ' ';)
		tok++;
	if (kp_satoken_verify(L->sa_key, tok, (int64_t)time(NULL), &c, &eb))
		goto unauthorized;
	/* bound to the ServiceAccount object: deleting it revokes its tokens */
	sa = get_obj(L, "", "serviceaccounts", c.ns, c.name);
	ok = sa && (!c.uid[0] || strcmp(c.uid, J(json_object_get(sa, "metadata"), "uid")) == 0);
	json_decref(sa);
	if (!ok)
		goto unauthorized;
	sa_identity(w, c.ns, c.name, c.uid);
	return 0;
unauthorized:
	kp_apiserver__rest_status(rs, 401, "Unauthorized", "Unauthorized");
	return -1;
}

static bool allowed(struct kp_apiserver *L, const struct kp_authz_attrs *a, char *reason, size_t n)
{
	return kp_authz_allowed(a, list_rbac, L, reason, n);
}

static void forbid(struct kp_apiserver__http_resp *rs, const struct kp_authz_attrs *a)
{
	json_t *st = kp_authz_forbidden_status(a);
	if (st)
		kp_apiserver__resp_json(rs, 403, st, NULL);
	else
		kp_apiserver__rest_status(rs, 500, "InternalError", "out of memory");
}

/* May w act as in's Impersonate-* identity? On success w becomes it. */
static int impersonate(struct kp_apiserver *L, const struct kp_apiserver__access_in *in, struct who *w,
		       struct kp_apiserver__http_resp *rs)
{
	struct kp_authz_attrs a = { .user = &w->u, .verb = "impersonate", .resource_request = true, .api_group = "" };
	char ns[256], name[256];
	bool is_sa;

	if (!in->imp_user) {
		if (in->n_imp_groups || in->imp_uid) {
			kp_apiserver__rest_status(rs, 400, "BadRequest",
						  "requested impersonation of groups or uid without impersonating a user");
			return -1;
		}
		return 0;
	}
	is_sa = kp_authz_sa_split(in->imp_user, ns, name, sizeof(ns));
	if (is_sa) {
		a.resource = "serviceaccounts";
		a.ns = ns;
		a.name = name;
	} else {
		a.resource = "users";
		a.name = in->imp_user;
	}
	if (!allowed(L, &a, NULL, 0))
		goto denied;
	a.resource = "groups";
	a.ns = NULL;
	for (int i = 0; i < in->n_imp_groups; i++) {
		a.name = in->imp_groups[i];
		if (!allowed(L, &a, NULL, 0))
			goto denied;
	}
	if (in->imp_uid) {
		a.api_group = "authentication.k8s.io";
		a.resource = "uids";
		a.name = in->imp_uid;
		if (!allowed(L, &a, NULL, 0))
			goto denied;
	}
	if (is_sa && !in->n_imp_groups) {
		sa_identity(w, ns, name, in->imp_uid);
		return 0;
	}
	snprintf(w->imp_name, sizeof(w->imp_name), "%s", in->imp_user);
	memset(&w->u, 0, sizeof(w->u));
	w->u.name = w->imp_name;
	w->u.uid = in->imp_uid;
	for (int i = 0; i < in->n_imp_groups && w->u.ngroups < KP_AUTHZ_MAX_GROUPS - 1; i++)
		w->u.groups[w->u.ngroups++] = in->imp_groups[i];
	if (strcmp(in->imp_user, "system:anonymous") != 0)
		w->u.groups[w->u.ngroups++] = "system:authenticated";
	return 0;
denied:
	forbid(rs, &a);
	return -1;
}

/* ---- served here ---- */

static json_t *body_json(const struct kp_apiserver__http_req *rq, struct kp_apiserver__http_resp *rs)
{
	json_error_t err;
	struct kp_errbuf eb = { 0 };
	json_t *o = NULL;

	if (rq->body && rq->body_len && rq->content_type &&
	    strncmp(rq->content_type, "application/vnd.kubernetes.protobuf", 35) == 0)
		o = kp_apiserver__pbuf_decode(rq->body, rq->body_len, &eb);
	else if (rq->body && rq->body_len)
		o = json_loadb(rq->body, rq->body_len, 0, &err);

	if (!json_is_object(o)) {
		json_decref(o);
		kp_apiserver__rest_status(rs, 400, "BadRequest", "the request body must be a JSON object");
		return NULL;
	}
	return o;
}


/* POST serviceaccounts/NAME/token (TokenRequest, `kubectl create token`). */
static void token_request(struct kp_apiserver *L, const struct kp_authz_attrs *a, const struct kp_apiserver__http_req *rq,
			  struct kp_apiserver__http_resp *rs)
{
	json_t *req = body_json(rq, rs), *sa, *spec, *aud, *out;
	int64_t ttl = 3600, now = (int64_t)time(NULL);
	struct kp_errbuf eb = { 0 };
	char *tok = NULL, ts[40], exp[40], msg[600];
	const char *first = NULL;

	if (!req)
		return;
	sa = get_obj(L, "", "serviceaccounts", a->ns, a->name);
	if (!sa) {
		snprintf(msg, sizeof(msg), "serviceaccounts \"%s\" not found", a->name);
		kp_apiserver__status_details(rs, 404, "NotFound", msg, a->name, "", "serviceaccounts");
		json_decref(req);
		return;
	}
	spec = json_object_get(req, "spec");
	if (json_is_integer(json_object_get(spec, "expirationSeconds")))
		ttl = json_integer_value(json_object_get(spec, "expirationSeconds"));
	if (ttl < 600 || ttl > 365 * 86400) {
		kp_apiserver__rest_status(rs, 422, "Invalid",
					  "TokenRequest.authentication.k8s.io is invalid: spec.expirationSeconds: Invalid value: "
					  "may not specify a duration less than 10 minutes or more than a year");
		goto out;
	}
	aud = json_object_get(spec, "audiences");
	first = json_string_value(json_array_get(aud, 0));
	if (kp_satoken_issue(L->sa_key, a->ns, a->name, J(json_object_get(sa, "metadata"), "uid"), first, now, ttl, &tok,
			     &eb)) {
		kp_apiserver__rest_status(rs, 500, "InternalError", eb.msg);
		goto out;
	}
	kp_kobj_now_rfc3339(ts, sizeof(ts));
	kp_format_rfc3339(now + ttl, exp, sizeof(exp));
	out = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:o, s:I, s:n}, s:{s:s, s:s}}", "kind", "TokenRequest",
			"apiVersion", "authentication.k8s.io/v1", "metadata", "name", a->name, "namespace", a->ns,
			"creationTimestamp", ts, "spec", "audiences",
			json_is_array(aud) && json_array_size(aud) ? json_incref(aud) : json_pack("[s]", KP_SATOKEN_ISSUER),
			"expirationSeconds", (json_int_t)ttl, "boundObjectRef", "status", "token", tok, "expirationTimestamp",
			exp);
	kp_apiserver__resp_json(rs, 201, out, NULL);
out:
	free(tok);
	json_decref(sa);
	json_decref(req);
}

/* Fills a from a review's spec.resourceAttributes or nonResourceAttributes. */
static void review_attrs(const json_t *spec, const struct kp_authz_user *u, struct kp_authz_attrs *a)
{
	const json_t *ra = json_object_get(spec, "resourceAttributes"), *na = json_object_get(spec, "nonResourceAttributes");

	memset(a, 0, sizeof(*a));
	a->user = u;
	if (ra) {
		a->resource_request = true;
		a->verb = J(ra, "verb");
		a->api_group = J(ra, "group");
		a->resource = J(ra, "resource");
		a->subresource = J(ra, "subresource");
		a->ns = J(ra, "namespace");
		a->name = J(ra, "name");
	} else {
		a->verb = J(na, "verb");
		a->path = J(na, "path");
	}
}

/* SelfSubjectAccessReview (for w) and SubjectAccessReview (for spec.user). */
static void access_review(struct kp_apiserver *L, bool self, const struct who *w, const struct kp_apiserver__http_req *rq,
			  struct kp_apiserver__http_resp *rs)
{
	json_t *req = body_json(rq, rs), *spec, *status;
	struct kp_authz_user other = { 0 };
	struct kp_authz_attrs a;
	char reason[1024];
	bool ok;

	if (!req)
		return;
	spec = json_object_get(req, "spec");
	if (!json_object_get(spec, "resourceAttributes") && !json_object_get(spec, "nonResourceAttributes")) {
		kp_apiserver__rest_status(rs, 422, "Invalid",
					  "spec: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be "
					  "specified");
		json_decref(req);
		return;
	}
	if (!self) {
		size_t i;
		json_t *g;
		other.name = J(spec, "user");
		other.uid = J(spec, "uid");
		json_array_foreach(json_object_get(spec, "groups"), i, g)
			if (json_string_value(g) && other.ngroups < KP_AUTHZ_MAX_GROUPS)
				other.groups[other.ngroups++] = json_string_value(g);
	}
	review_attrs(spec, self ? &w->u : &other, &a);
	ok = allowed(L, &a, reason, sizeof(reason));
	status = json_pack("{s:b}", "allowed", ok);
	if (reason[0])
		json_object_set_new(status, "reason", json_string(reason));
	json_object_set_new(req, "status", status);
	json_object_set_new(req, "kind", json_string(self ? "SelfSubjectAccessReview" : "SubjectAccessReview"));
	json_object_set_new(req, "apiVersion", json_string("authorization.k8s.io/v1"));
	if (!json_is_object(json_object_get(req, "metadata")))
		json_object_set_new(req, "metadata", json_object());
	kp_apiserver__resp_json(rs, 201, req, NULL);
}

/* SelfSubjectReview (`kubectl auth whoami`). */
static void self_review(const struct who *w, const char *version, struct kp_apiserver__http_resp *rs)
{
	char av[64];
	json_t *groups = json_array(), *ui, *out;

	for (int i = 0; i < w->u.ngroups; i++)
		json_array_append_new(groups, json_string(w->u.groups[i]));
	ui = json_pack("{s:s, s:o}", "username", w->u.name, "groups", groups);
	if (ui && w->u.uid)
		json_object_set_new(ui, "uid", json_string(w->u.uid));
	snprintf(av, sizeof(av), "authentication.k8s.io/%s", version);
	out = json_pack("{s:s, s:s, s:{}, s:{s:o}}", "kind", "SelfSubjectReview", "apiVersion", av, "metadata", "status",
			"userInfo", ui);
	kp_apiserver__resp_json(rs, 201, out, NULL);
}

/* SelfSubjectRulesReview (`kubectl auth can-i --list`): the rules of every
 * binding that applies to w, cluster-wide and in spec.namespace. */
static void rules_of(struct kp_apiserver *L, const struct who *w, const char *ns, json_t *res_rules, json_t *url_rules);

static void rules_review(struct kp_apiserver *L, const struct who *w, const struct kp_apiserver__http_req *rq,
			 struct kp_apiserver__http_resp *rs)
{
	json_t *req = body_json(rq, rs), *rr, *nr;

	if (!req)
		return;
	rr = json_array();
	nr = json_array();
	rules_of(L, w, J(json_object_get(req, "spec"), "namespace"), rr, nr);
	json_object_set_new(req, "status", json_pack("{s:o, s:o, s:b}", "resourceRules", rr, "nonResourceRules", nr,
						     "incomplete", false));
	json_object_set_new(req, "kind", json_string("SelfSubjectRulesReview"));
	json_object_set_new(req, "apiVersion", json_string("authorization.k8s.io/v1"));
	kp_apiserver__resp_json(rs, 201, req, NULL);
}

static bool subject_matches(const json_t *b, const struct kp_authz_user *u, const char *bns)
{
	size_t i;
	json_t *s;

	json_array_foreach(json_object_get(b, "subjects"), i, s) {
		const char *kind = J(s, "kind"), *name = J(s, "name"), *sns = J(s, "namespace");
		char full[600];
		if (strcmp(kind, "User") == 0 && strcmp(name, u->name) == 0)
			return true;
		for (int g = 0; strcmp(kind, "Group") == 0 && g < u->ngroups; g++)
			if (strcmp(u->groups[g], name) == 0)
				return true;
		if (strcmp(kind, "ServiceAccount") == 0) {
			snprintf(full, sizeof(full), "system:serviceaccount:%s:%s", *sns ? sns : bns ? bns : "", name);
			if (strcmp(full, u->name) == 0)
				return true;
		}
	}
	return false;
}

static void add_rules(const json_t *role, json_t *rr, json_t *nr)
{
	size_t i;
	json_t *r;

	json_array_foreach(json_object_get(role, "rules"), i, r)
		json_array_append(json_object_get(r, "nonResourceURLs") ? nr : rr, r);
}

static void rules_from(struct kp_apiserver *L, const struct who *w, const char *ns, json_t *croles, json_t *rr, json_t *nr)
{
	json_t *bindings = list_rbac(L, ns ? "rolebindings" : "clusterrolebindings", ns);
	json_t *roles = ns ? list_rbac(L, "roles", ns) : NULL;
	size_t i, j;
	json_t *b, *r;

	json_array_foreach(bindings, i, b) {
		const json_t *ref = json_object_get(b, "roleRef");
		json_t *pool = strcmp(J(ref, "kind"), "Role") == 0 ? roles : croles;
		if (!subject_matches(b, &w->u, ns))
			continue;
		json_array_foreach(pool, j, r)
			if (strcmp(J(json_object_get(r, "metadata"), "name"), J(ref, "name")) == 0)
				add_rules(r, rr, nr);
	}
	json_decref(bindings);
	json_decref(roles);
}

static void rules_of(struct kp_apiserver *L, const struct who *w, const char *ns, json_t *rr, json_t *nr)
{
	json_t *croles = list_rbac(L, "clusterroles", NULL);

	for (int g = 0; g < w->u.ngroups; g++) {
		if (strcmp(w->u.groups[g], "system:masters") == 0) {
			json_array_append_new(rr, json_pack("{s:[s], s:[s], s:[s]}", "verbs", "*", "apiGroups", "*",
							    "resources", "*"));
			json_array_append_new(nr, json_pack("{s:[s], s:[s]}", "verbs", "*", "nonResourceURLs", "*"));
		}
		if (strcmp(w->u.groups[g], "system:authenticated") == 0) {
			json_array_append_new(rr, json_pack("{s:[s], s:[s], s:[s, s]}", "verbs", "create", "apiGroups",
							    "authorization.k8s.io", "resources", "selfsubjectaccessreviews",
							    "selfsubjectrulesreviews"));
			json_array_append_new(rr, json_pack("{s:[s], s:[s], s:[s]}", "verbs", "create", "apiGroups",
							    "authentication.k8s.io", "resources", "selfsubjectreviews"));
			json_array_append_new(nr, json_pack("{s:[s], s:[s, s, s, s, s, s, s, s, s]}", "verbs", "get",
							    "nonResourceURLs", "/api", "/api/*", "/apis", "/apis/*", "/healthz",
							    "/livez", "/readyz", "/version", "/version/"));
		}
	}
	rules_from(L, w, NULL, croles, rr, nr);
	if (ns && *ns)
		rules_from(L, w, ns, croles, rr, nr);
	json_decref(croles);
}

static bool is(const struct kp_authz_attrs *a, const char *group, const char *resource)
{
	return a->resource_request && strcmp(a->verb, "create") == 0 && strcmp(a->api_group, group) == 0 &&
	       strcmp(a->resource, resource) == 0;
}

bool kp_apiserver__access(struct kp_apiserver *L, const struct kp_apiserver__access_in *in,
			  const struct kp_apiserver__http_req *rq, struct kp_apiserver__http_resp *rs)
{
	struct who w;
	struct kp_authz_attrs a;
	char buf[4096];
	const char *ver;

	if (authenticate(L, in->authorization, &w, rs) || impersonate(L, in, &w, rs))
		return false;
	a.user = &w.u;
	kp_authz_attrs_from_request(rq->method, rq->path, in->watch, buf, sizeof(buf), &a);
	if (!allowed(L, &a, NULL, 0)) {
		forbid(rs, &a);
		return false;
	}
	if (is(&a, "", "serviceaccounts") && a.subresource && strcmp(a.subresource, "token") == 0 && a.name && a.ns) {
		token_request(L, &a, rq, rs);
		return false;
	}
	if (is(&a, "authorization.k8s.io", "selfsubjectaccessreviews") && !a.name) {
		access_review(L, true, &w, rq, rs);
		return false;
	}
	if (is(&a, "authorization.k8s.io", "subjectaccessreviews") && !a.name) {
		access_review(L, false, &w, rq, rs);
		return false;
	}
	if (is(&a, "authorization.k8s.io", "selfsubjectrulesreviews") && !a.name) {
		rules_review(L, &w, rq, rs);
		return false;
	}
	if (is(&a, "authentication.k8s.io", "selfsubjectreviews") && !a.name) {
		ver = strstr(rq->path, "/v1beta1/") ? "v1beta1" : strstr(rq->path, "/v1alpha1/") ? "v1alpha1" : "v1";
		self_review(&w, ver, rs);
		return false;
	}
	return true;
}
