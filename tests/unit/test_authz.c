/*
 * test_authz.c - the RBAC authorizer: bindings and subjects (users, groups,
 * service accounts), Role vs ClusterRole, resourceNames, subresources and
 * "*\/sub", non-resource URLs, the bootstrap policy, request attributes from
 * paths, and the 403 text the real API server writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "apiserver/authz.h"

static json_t *g_objs;   /* {"clusterroles": [...], "roles/ns": [...], ...} */

static json_t *list(void *ud, const char *res, const char *ns)
{
	char key[128];
	json_t *arr;

	(void)ud;
	snprintf(key, sizeof(key), "%s%s%s", res, ns ? "/" : "", ns ? ns : "");
	arr = json_object_get(g_objs, key);
	return arr ? json_incref(arr) : NULL;
}

static int setup(void **state)
{
	json_error_t err;
	(void)state;
	g_objs = json_loads(
		"{\"clusterroles\": ["
		" {\"metadata\": {\"name\": \"karpenter\"}, \"rules\": ["
		"  {\"apiGroups\": [\"\"], \"resources\": [\"pods\"], \"verbs\": [\"list\", \"watch\", \"delete\"]},"
		"  {\"apiGroups\": [\"\"], \"resources\": [\"pods/eviction\"], \"verbs\": [\"create\"]},"
		"  {\"apiGroups\": [\"karpenter.sh\"], \"resources\": [\"nodeclaims\", \"nodeclaims/status\"], \"verbs\": [\"get\", \"update\"]}]},"
		" {\"metadata\": {\"name\": \"status-reader\"}, \"rules\": ["
		"  {\"apiGroups\": [\"*\"], \"resources\": [\"*/status\"], \"verbs\": [\"get\"]},"
		"  {\"nonResourceURLs\": [\"/metrics\", \"/debug/*\"], \"verbs\": [\"get\"]}]},"
		" {\"metadata\": {\"name\": \"ns-reader\"}, \"rules\": ["
		"  {\"apiGroups\": [\"\"], \"resources\": [\"configmaps\"], \"verbs\": [\"get\"]}]}],"
		" \"clusterrolebindings\": ["
		" {\"metadata\": {\"name\": \"karpenter\"}, \"roleRef\": {\"kind\": \"ClusterRole\", \"name\": \"karpenter\"},"
		"  \"subjects\": [{\"kind\": \"ServiceAccount\", \"name\": \"karpenter\", \"namespace\": \"karpenter\"}]},"
		" {\"metadata\": {\"name\": \"ops\"}, \"roleRef\": {\"kind\": \"ClusterRole\", \"name\": \"status-reader\"},"
		"  \"subjects\": [{\"kind\": \"Group\", \"name\": \"ops\"}, {\"kind\": \"User\", \"name\": \"alice\"}]}],"
		" \"roles/karpenter\": ["
		" {\"metadata\": {\"name\": \"lease\", \"namespace\": \"karpenter\"}, \"rules\": ["
		"  {\"apiGroups\": [\"coordination.k8s.io\"], \"resources\": [\"leases\"], \"verbs\": [\"get\", \"create\"]},"
		"  {\"apiGroups\": [\"coordination.k8s.io\"], \"resources\": [\"leases\"], \"verbs\": [\"update\"],"
		"   \"resourceNames\": [\"karpenter-leader-election\"]}]}],"
		" \"rolebindings/karpenter\": ["
		" {\"metadata\": {\"name\": \"lease\", \"namespace\": \"karpenter\"}, \"roleRef\": {\"kind\": \"Role\", \"name\": \"lease\"},"
		"  \"subjects\": [{\"kind\": \"ServiceAccount\", \"name\": \"karpenter\"}]},"
		" {\"metadata\": {\"name\": \"cm\", \"namespace\": \"karpenter\"}, \"roleRef\": {\"kind\": \"ClusterRole\", \"name\": \"ns-reader\"},"
		"  \"subjects\": [{\"kind\": \"User\", \"name\": \"bob\"}]}]}",
		0, &err);
	assert_non_null(g_objs);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(g_objs);
	return 0;
}

static bool can(const struct kp_authz_user *u, const char *method, const char *path, bool watch, char *reason)
{
	struct kp_authz_attrs a = { .user = u };
	char buf[512];

	kp_authz_attrs_from_request(method, path, watch, buf, sizeof(buf), &a);
	return kp_authz_allowed(&a, list, NULL, reason, 256);
}

static void sa_user(struct kp_authz_user *u, char *g, size_t n)
{
	memset(u, 0, sizeof(*u));
	u->name = "system:serviceaccount:karpenter:karpenter";
	kp_authz_sa_groups(u, "karpenter", g, n);
}

static void test_service_account(void **state)
{
	struct kp_authz_user u;
	char g[64], reason[256];

	(void)state;
	sa_user(&u, g, sizeof(g));
	assert_true(can(&u, "GET", "/api/v1/pods?watch=1", true, reason));
	assert_string_equal(reason, "RBAC: allowed by ClusterRoleBinding \"karpenter\" of ClusterRole \"karpenter\" to "
				    "ServiceAccount \"karpenter/karpenter\"");
	assert_true(can(&u, "GET", "/api/v1/pods", false, reason));
	assert_true(can(&u, "DELETE", "/api/v1/namespaces/default/pods/web", false, reason));
	assert_false(can(&u, "GET", "/api/v1/namespaces/default/pods/web", false, reason));   /* no get */
	assert_string_equal(reason, "");
	assert_true(can(&u, "POST", "/api/v1/namespaces/default/pods/web/eviction", false, reason));
	assert_false(can(&u, "GET", "/api/v1/namespaces/default/pods/web/log", false, reason));
	assert_true(can(&u, "PUT", "/apis/karpenter.sh/v1/nodeclaims/c1/status", false, reason));
	assert_false(can(&u, "PATCH", "/apis/karpenter.sh/v1/nodeclaims/c1/status", false, reason));
	assert_false(can(&u, "GET", "/apis/karpenter.sh/v1/nodepools", false, reason));
	assert_false(can(&u, "GET", "/api/v1/secrets", false, reason));
	/* the Role in karpenter, through a RoleBinding whose subject has no namespace */
	assert_true(can(&u, "GET", "/apis/coordination.k8s.io/v1/namespaces/karpenter/leases/x", false, reason));
	assert_string_equal(reason, "RBAC: allowed by RoleBinding \"lease/karpenter\" of Role \"lease\" to "
				    "ServiceAccount \"karpenter/karpenter\"");
	assert_true(can(&u, "PUT", "/apis/coordination.k8s.io/v1/namespaces/karpenter/leases/karpenter-leader-election",
			false, reason));
	assert_false(can(&u, "PUT", "/apis/coordination.k8s.io/v1/namespaces/karpenter/leases/other", false, reason));
	assert_false(can(&u, "GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x", false, reason));
	/* another service account of the same name elsewhere gets nothing */
	u.name = "system:serviceaccount:other:karpenter";
	assert_false(can(&u, "GET", "/api/v1/pods", false, reason));
}

static void test_users_groups_bootstrap(void **state)
{
	struct kp_authz_user alice = { .name = "alice", .groups = { "system:authenticated" }, .ngroups = 1 };
	struct kp_authz_user carol = { .name = "carol", .groups = { "ops", "system:authenticated" }, .ngroups = 2 };
	struct kp_authz_user bob = { .name = "bob", .groups = { "system:authenticated" }, .ngroups = 1 };
	struct kp_authz_user admin = { .name = "kubernetes-admin", .groups = { "system:masters" }, .ngroups = 1 };
	struct kp_authz_user anon = { .name = "system:anonymous", .groups = { "system:unauthenticated" }, .ngroups = 1 };
	char reason[256];

	(void)state;
	assert_true(can(&alice, "GET", "/api/v1/namespaces/x/pods/p/status", false, reason));   /* "*\/status" */
	assert_false(can(&alice, "GET", "/api/v1/namespaces/x/pods/p", false, reason));
	assert_true(can(&carol, "GET", "/apis/apps/v1/namespaces/x/deployments/d/status", false, reason));
	assert_string_equal(reason, "RBAC: allowed by ClusterRoleBinding \"ops\" of ClusterRole \"status-reader\" to Group \"ops\"");
	assert_true(can(&carol, "GET", "/metrics", false, reason));
	assert_true(can(&carol, "GET", "/debug/pprof/heap", false, reason));
	assert_false(can(&carol, "POST", "/metrics", false, reason));
	/* a ClusterRole bound by a RoleBinding grants only in that namespace */
	assert_true(can(&bob, "GET", "/api/v1/namespaces/karpenter/configmaps/c", false, reason));
	assert_false(can(&bob, "GET", "/api/v1/namespaces/default/configmaps/c", false, reason));
	/* bootstrap: discovery and self reviews for every authenticated identity */
	assert_true(can(&bob, "GET", "/apis/karpenter.sh/v1", false, reason));
	assert_true(can(&bob, "GET", "/version", false, reason));
	assert_true(can(&bob, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", false, reason));
	assert_true(can(&bob, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", false, reason));
	assert_false(can(&bob, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", false, reason));
	assert_false(can(&anon, "GET", "/apis", false, reason));
	/* system:masters */
	assert_true(can(&admin, "DELETE", "/api/v1/namespaces/kube-system", false, reason));
}

static void test_attrs(void **state)
{
	struct kp_authz_attrs a = { 0 };
	char buf[256];

	(void)state;
	kp_authz_attrs_from_request("GET", "/api/v1/namespaces/foo", false, buf, sizeof(buf), &a);
	assert_true(a.resource_request);
	assert_string_equal(a.resource, "namespaces");
	assert_string_equal(a.name, "foo");
	assert_string_equal(a.verb, "get");
	kp_authz_attrs_from_request("PUT", "/api/v1/namespaces/foo/finalize", false, buf, sizeof(buf), &a);
	assert_string_equal(a.resource, "namespaces");
	assert_string_equal(a.subresource, "finalize");
	kp_authz_attrs_from_request("DELETE", "/apis/karpenter.sh/v1/nodeclaims", false, buf, sizeof(buf), &a);
	assert_string_equal(a.verb, "deletecollection");
	assert_string_equal(a.api_group, "karpenter.sh");
	kp_authz_attrs_from_request("GET", "/apis/karpenter.sh/v1", false, buf, sizeof(buf), &a);
	assert_false(a.resource_request);
	assert_string_equal(a.path, "/apis/karpenter.sh/v1");
	kp_authz_attrs_from_request("GET", "/api/v1/watch/namespaces/k/pods", false, buf, sizeof(buf), &a);
	assert_string_equal(a.verb, "watch");
	assert_string_equal(a.resource, "pods");
	assert_string_equal(a.ns, "k");
	kp_authz_attrs_from_request("POST", "/api/v1/namespaces/k/serviceaccounts/sa/token", false, buf, sizeof(buf), &a);
	assert_string_equal(a.verb, "create");
	assert_string_equal(a.resource, "serviceaccounts");
	assert_string_equal(a.subresource, "token");
	assert_string_equal(a.ns, "k");
}

static void test_forbidden_text(void **state)
{
	struct kp_authz_user u;
	struct kp_authz_attrs a;
	char g[64], buf[256];
	json_t *st;

	(void)state;
	sa_user(&u, g, sizeof(g));
	a.user = &u;
	kp_authz_attrs_from_request("GET", "/apis/karpenter.sh/v1/nodepools", true, buf, sizeof(buf), &a);
	st = kp_authz_forbidden_status(&a);
	assert_string_equal(json_string_value(json_object_get(st, "message")),
			    "nodepools.karpenter.sh is forbidden: User \"system:serviceaccount:karpenter:karpenter\" cannot "
			    "watch resource \"nodepools\" in API group \"karpenter.sh\" at the cluster scope");
	assert_string_equal(json_string_value(json_object_get(st, "reason")), "Forbidden");
	assert_int_equal(json_integer_value(json_object_get(st, "code")), 403);
	assert_string_equal(json_string_value(json_object_get(json_object_get(st, "details"), "group")), "karpenter.sh");
	json_decref(st);
	a.user = &u;
	kp_authz_attrs_from_request("POST", "/api/v1/namespaces/default/pods/web/eviction", false, buf, sizeof(buf), &a);
	st = kp_authz_forbidden_status(&a);
	assert_string_equal(json_string_value(json_object_get(st, "message")),
			    "pods \"web\" is forbidden: User \"system:serviceaccount:karpenter:karpenter\" cannot create "
			    "resource \"pods/eviction\" in API group \"\" in the namespace \"default\"");
	json_decref(st);
	a.user = &u;
	kp_authz_attrs_from_request("GET", "/logs", false, buf, sizeof(buf), &a);
	st = kp_authz_forbidden_status(&a);
	assert_string_equal(json_string_value(json_object_get(st, "message")),
			    "forbidden: User \"system:serviceaccount:karpenter:karpenter\" cannot get path \"/logs\"");
	json_decref(st);
}

static void test_sa_split(void **state)
{
	char ns[64], name[64];

	(void)state;
	assert_true(kp_authz_sa_split("system:serviceaccount:karpenter:karpenter", ns, name, sizeof(ns)));
	assert_string_equal(ns, "karpenter");
	assert_string_equal(name, "karpenter");
	assert_false(kp_authz_sa_split("system:serviceaccount:karpenter", ns, name, sizeof(ns)));
	assert_false(kp_authz_sa_split("system:serviceaccount::x", ns, name, sizeof(ns)));
	assert_false(kp_authz_sa_split("alice", ns, name, sizeof(ns)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_account), cmocka_unit_test(test_users_groups_bootstrap),
		cmocka_unit_test(test_attrs), cmocka_unit_test(test_forbidden_text), cmocka_unit_test(test_sa_split),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
