/*
 * test_kube_http.c - the kube client against a tiny HTTPS server in this
 * process (tests/unit/kube_testsrv.h): TLS verified with the test's own CA,
 * bearer token sent, Status errors surfaced, 409 conflict retry, 429 retry,
 * paging, response cap, patch/delete bodies, token file re-read, exec
 * credential caching, client-side rate limit, watch streams (chunks split
 * mid-event, bookmarks, ERROR 410, HTTP 410), the informer's list/watch/
 * relist cycle, its transform hook, paged lists and compact (text) store,
 * and leader election between two contenders.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "kube/kube.h"
#include "kube_testsrv.h"

/* ---- scenario shared with the route function (under the server lock) ---- */

struct scen {
	const char *mode;
	int calls;              /* requests routed in this mode */
	int conflicts_left;     /* 409s to answer before accepting a PUT */
	int watch_n;
	int list_n;
	/* lease store */
	char *lease;            /* JSON or NULL */
	int lease_rv;
};

static struct ts_srv srv;
static struct scen sc;
static char tmpdir[256];

static void set_mode(const char *mode)
{
	pthread_mutex_lock(&srv.mu);
	free(sc.lease);
	memset(&sc, 0, sizeof(sc));
	sc.mode = mode;
	pthread_mutex_unlock(&srv.mu);
}

static char *event(const char *type, const char *name, const char *rv)
{
	char b[512];
	snprintf(b, sizeof(b),
		 "{\"type\":\"%s\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
		 "\"namespace\":\"default\",\"resourceVersion\":\"%s\"}}}\n",
		 type, name, rv);
	return ts_strdup(b);
}

static char *cm_list(const char *rv, const char *names)
{
	char b[2048];
	size_t n = (size_t)snprintf(b, sizeof(b), "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"%s\"},\"items\":[", rv);
	const char *p = names;
	int first = 1;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		/* items are "name:rv" */
		const char *colon = memchr(p, ':', l);
		n += (size_t)snprintf(b + n, sizeof(b) - n,
				      "%s{\"metadata\":{\"name\":\"%.*s\",\"namespace\":\"default\",\"resourceVersion\":\"%.*s\"}}",
				      first ? "" : ",", (int)(colon - p), p, (int)(l - (size_t)(colon - p) - 1), colon + 1);
		first = 0;
		p += l + (e ? 1 : 0);
	}
	snprintf(b + n, sizeof(b) - n, "]}");
	return ts_strdup(b);
}

static void lease_route(const struct ts_req *rq, struct ts_resp *rs)
{
	json_t *body, *meta;
	const char *rv;
	char rvs[32];

	if (strcmp(rq->method, "GET") == 0) {
		if (!sc.lease)
			ts_status(rs, 404, "NotFound", "leases.coordination.k8s.io \\\"l\\\" not found");
		else
			ts_json(rs, 200, sc.lease);
		return;
	}
	body = json_loads(rq->body, 0, NULL);
	meta = json_object_get(body, "metadata");
	rv = json_string_value(json_object_get(meta, "resourceVersion"));
	if (strcmp(rq->method, "POST") == 0 && sc.lease) {
		ts_status(rs, 409, "AlreadyExists", "leases.coordination.k8s.io \\\"l\\\" already exists");
	} else if (strcmp(rq->method, "PUT") == 0 && (!rv || strtoll(rv, NULL, 10) != sc.lease_rv)) {
		ts_status(rs, 409, "Conflict", "the object has been modified");
	} else {
		snprintf(rvs, sizeof(rvs), "%d", ++sc.lease_rv);
		json_object_set_new(meta, "resourceVersion", json_string(rvs));
		free(sc.lease);
		sc.lease = json_dumps(body, JSON_COMPACT);
		ts_json(rs, strcmp(rq->method, "POST") == 0 ? 201 : 200, sc.lease);
	}
	json_decref(body);
}

/* Objects with every kind of JSON value the compact store must give back
 * exactly: escapes, a surrogate pair, a long key, numbers, nesting, empty
 * containers; "junk" is what the test's transform drops. */
#define CX_A "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"namespace\":\"default\",\"resourceVersion\":\"1\"," \
	"\"annotations\":{\"q\":\"say \\\"hi\\\"\\\\ tab\\t nl\\n \\u00e9 \\u20ac \\ud83d\\ude00 \\/ \\u0001\"}}," \
	"\"data\":{\"n\":42,\"neg\":-7,\"big\":9007199254740993,\"r\":0.1,\"e\":1e300,\"t\":true,\"f\":false,\"z\":null," \
	"\"eo\":{},\"ea\":[],\"deep\":[[{\"x\":[1,2.5,\"s\"]}]]," \
	"\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" \
	"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\":\"long key\"}," \
	"\"junk\":{\"big\":\"dropped\"}}"
#define CX_B "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"b\",\"namespace\":\"default\",\"resourceVersion\":\"2\"},\"junk\":[1]}"
#define CX_C "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\",\"namespace\":\"other\",\"resourceVersion\":\"3\"},\"data\":{\"k\":\"v\"}}"
#define CX_A2 "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"namespace\":\"default\",\"resourceVersion\":\"11\"},\"data\":{\"n\":43},\"junk\":0}"

static void informer_compact_route(const struct ts_req *rq, struct ts_resp *rs)
{
	if (!strstr(rq->path, "watch=1")) {   /* two pages: a, b then c */
		sc.list_n++;
		if (!strstr(rq->path, "continue="))
			ts_json(rs, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\",\"continue\":\"p2\"},"
					 "\"items\":[" CX_A "," CX_B "]}");
		else
			ts_json(rs, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" CX_C "]}");
		return;
	}
	/* by resourceVersion, not by count: a late watch of the previous test
	 * (resuming from 11) must not take the events */
	if (strstr(rq->path, "resourceVersion=10&")) {   /* modify a, delete b, end */
		char b[512];
		snprintf(b, sizeof(b), "{\"type\":\"MODIFIED\",\"object\":%s}\n", CX_A2);
		rs->chunks[0] = ts_strdup(b);
		snprintf(b, sizeof(b), "{\"type\":\"DELETED\",\"object\":%s}\n", CX_B);
		rs->chunks[1] = ts_strdup(b);
		rs->nchunks = 2;
		rs->chunk_delay_ms = 20;
	} else {
		ts_status(rs, 500, "InternalError", "no more");
	}
}

static void route(struct ts_srv *s, const struct ts_req *rq, struct ts_resp *rs)
{
	const char *m = sc.mode ? sc.mode : "";
	(void)s;
	sc.calls++;
	if (strcmp(m, "basic") == 0) {
		if (strstr(rq->path, "/configmaps/missing"))
			ts_status(rs, 404, "NotFound", "configmaps \\\"missing\\\" not found");
		else if (strstr(rq->path, "/configmaps/bad"))
			ts_status(rs, 422, "Invalid", "ConfigMap \\\"bad\\\" is invalid: data: Too long");
		else if (strstr(rq->path, "/configmaps/big"))
			rs->body = calloc(1, 8192), memset(rs->body, ' ', 8191);
		else if (strstr(rq->path, "/configmaps/notjson"))
			ts_json(rs, 200, "<html>");
		else
			ts_json(rs, strcmp(rq->method, "POST") == 0 ? 201 : 200,
				"{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}");
	} else if (strcmp(m, "conflict") == 0) {
		if (strcmp(rq->method, "GET") == 0) {
			char b[256];
			snprintf(b, sizeof(b), "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"namespace\":\"default\",\"resourceVersion\":\"%d\"},\"data\":{\"n\":\"0\"}}", sc.calls);
			ts_json(rs, 200, b);
		} else if (sc.conflicts_left > 0) {
			sc.conflicts_left--;
			ts_status(rs, 409, "Conflict", "Operation cannot be fulfilled on configmaps \\\"a\\\": the object has been modified");
		} else {
			ts_json(rs, 200, rq->body);
		}
	} else if (strcmp(m, "429") == 0) {
		if (sc.calls == 1 || strstr(rq->path, "/eviction")) {
			ts_status(rs, 429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.");
			snprintf(rs->headers, sizeof(rs->headers), "Retry-After: 0\r\n");
		} else {
			ts_json(rs, 200, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}");
		}
	} else if (strcmp(m, "paging") == 0) {
		if (!strstr(rq->path, "continue="))
			ts_json(rs, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"50\",\"continue\":\"tok+/=\"},\"items\":[{\"metadata\":{\"name\":\"a\"}},{\"metadata\":{\"name\":\"b\"}}]}");
		else
			ts_json(rs, 200, "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"51\"},\"items\":[{\"metadata\":{\"name\":\"c\"}}]}");
	} else if (strcmp(m, "auth") == 0) {
		/* only the token "new" is accepted */
		if (strcmp(rq->auth, "Bearer new") != 0)
			ts_status(rs, 401, "Unauthorized", "Unauthorized");
		else
			ts_json(rs, 200, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}");
	} else if (strcmp(m, "watch") == 0) {
		/* events split in the middle of the JSON across chunks, a bookmark, then a clean end */
		char *a = event("ADDED", "x", "101"), *b = event("MODIFIED", "x", "102");
		char *all = malloc(strlen(a) + strlen(b) + 1);
		memcpy(all, a, strlen(a));
		memcpy(all + strlen(a), b, strlen(b) + 1);
		rs->chunks[0] = ts_strdup("");
		free(rs->chunks[0]);
		rs->chunks[0] = malloc(31);
		memcpy(rs->chunks[0], all, 30);
		rs->chunks[0][30] = '\0';
		rs->chunks[1] = ts_strdup(all + 30);
		rs->chunks[2] = ts_strdup("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":\"110\"}}}\n");
		rs->nchunks = 3;
		rs->chunk_delay_ms = 20;
		free(a);
		free(b);
		free(all);
	} else if (strcmp(m, "watch410") == 0) {
		ts_status(rs, 410, "Expired", "too old resource version: 1 (100)");
	} else if (strcmp(m, "informer") == 0) {
		if (!strstr(rq->path, "watch=1")) {
			sc.list_n++;
			rs->body = sc.list_n == 1 ? cm_list("100", "a:1,b:2") : cm_list("200", "a:102,c:150");
			return;
		}
		sc.watch_n++;
		if (sc.watch_n == 1) {          /* from 100: add c, modify a, bookmark, clean end */
			rs->chunks[0] = event("ADDED", "c", "101");
			rs->chunks[1] = event("MODIFIED", "a", "102");
			rs->chunks[2] = ts_strdup("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":\"105\"}}}\n");
			rs->nchunks = 3;
		} else if (sc.watch_n == 2) {   /* resumed from 105: ERROR 410 */
			rs->chunks[0] = ts_strdup("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"too old resource version: 105 (150)\",\"reason\":\"Expired\",\"code\":410}}\n");
			rs->nchunks = 1;
		} else if (sc.watch_n == 3) {   /* after the relist at 200: delete c, then a server error */
			rs->chunks[0] = event("DELETED", "c", "201");
			rs->nchunks = 1;
		} else if (sc.watch_n == 4) {
			ts_status(rs, 500, "InternalError", "etcd unavailable");
		} else {
			rs->chunks[0] = event("ADDED", "d", "300");
			rs->nchunks = 1;
			rs->chunk_delay_ms = 50;
		}
	} else if (strcmp(m, "informer_compact") == 0) {
		informer_compact_route(rq, rs);
	} else if (strcmp(m, "lease") == 0) {
		lease_route(rq, rs);
	} else {
		ts_status(rs, 404, "NotFound", "no route");
	}
}

/* ---- helpers ---- */

static struct kp_kube_config *config(const char *token)
{
	static char server[64];
	struct kp_kube_config *c = calloc(1, sizeof(*c));
	snprintf(server, sizeof(server), "https://127.0.0.1:%d", srv.port);
	c->server = ts_strdup(server);
	c->ca_pem = ts_strdup(srv.ca_pem);
	c->ca_len = strlen(srv.ca_pem);
	c->token = token ? ts_strdup(token) : NULL;
	c->namespace = ts_strdup("default");
	return c;
}

static struct kp_kube_client *client_with(const char *token, const struct kp_kube_client_opts *o)
{
	struct kp_kube_config *cfg = config(token);
	struct kp_kube_client *c = NULL;
	struct kp_errbuf eb = { 0 };
	assert_int_equal(kp_kube_client_new(cfg, o, &c, &eb), KP_OK);
	kp_kube_config_free(cfg);
	return c;
}

static void write_file(const char *name, const char *text, int mode)
{
	char path[512];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

/* fake clock: time moves only when told; sleeping advances it */
struct fclock {
	int64_t now;
	int64_t slept;
};
static int64_t fc_mono(void *ud) { return ((struct fclock *)ud)->now; }
static int64_t fc_wall(void *ud) { return 1700000000000LL + ((struct fclock *)ud)->now; }
static void fc_sleep(void *ud, int64_t ms)
{
	((struct fclock *)ud)->now += ms;
	((struct fclock *)ud)->slept += ms;
}

/* ---- tests ---- */

static void test_get_tls_token_status(void **state)
{
	struct kp_kube_client *c;
	struct kp_kube_status st;
	struct kp_errbuf eb = { 0 };
	struct ts_req last;
	json_t *obj = NULL;
	(void)state;
	set_mode("basic");
	c = client_with("s3cret", NULL);
	assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "a", &obj, &st, &eb), KP_OK);
	assert_int_equal(st.code, 200);
	assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")), "a");
	json_decref(obj);
	ts_last(&srv, &last);
	assert_string_equal(last.method, "GET");
	assert_string_equal(last.path, "/api/v1/namespaces/default/configmaps/a");
	assert_string_equal(last.auth, "Bearer s3cret");

	/* Status errors carry reason and message, not just a code */
	assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "missing", &obj, &st, &eb), KP_ERR_NOTFOUND);
	assert_null(obj);
	assert_true(kp_kube_is_notfound(&st));
	assert_string_equal(st.reason, "NotFound");
	assert_string_equal(st.message, "configmaps \"missing\" not found");
	assert_non_null(strstr(eb.msg, "404 NotFound: configmaps \"missing\" not found"));
	assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "bad", &obj, &st, &eb), KP_ERR_IO);
	assert_int_equal(st.code, 422);
	assert_string_equal(st.reason, "Invalid");
	assert_non_null(strstr(eb.msg, "is invalid: data: Too long"));
	assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "notjson", &obj, &st, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "decode response"));
	kp_kube_client_free(c);

	/* response cap */
	{
		struct kp_kube_client_opts o = { 0 };
		o.max_response = 1024;
		c = client_with("s3cret", &o);
		assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "big", &obj, &st, &eb), KP_ERR_LIMIT);
		assert_non_null(strstr(eb.msg, "larger than 1024 bytes"));
		kp_kube_client_free(c);
	}
}

static void test_tls_verified(void **state)
{
	struct kp_kube_config *cfg;
	struct kp_kube_client *c = NULL;
	struct kp_errbuf eb = { 0 };
	char *other = NULL, *key = NULL;
	json_t *obj = NULL;
	int before;
	(void)state;
	set_mode("basic");
	/* a client trusting a different CA must refuse the server */
	assert_int_equal(ts_make_cert(&other, &key), 0);
	cfg = config("s3cret");
	free(cfg->ca_pem);
	cfg->ca_pem = other;
	cfg->ca_len = strlen(other);
	assert_int_equal(kp_kube_client_new(cfg, NULL, &c, &eb), KP_OK);
	before = ts_count(&srv, NULL, NULL);
	assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "a", &obj, NULL, &eb), KP_ERR_IO);
	assert_true(strstr(eb.msg, "certificate") || strstr(eb.msg, "SSL"));
	assert_int_equal(ts_count(&srv, NULL, NULL), before);   /* no request got through */
	kp_kube_client_free(c);
	kp_kube_config_free(cfg);
	free(key);

	/* plain http is refused before any connection */
	cfg = config("x");
	memcpy(cfg->server, "http:/", 6);
	assert_int_equal(kp_kube_client_new(cfg, NULL, &c, &eb), KP_ERR_INVALID);
	kp_kube_config_free(cfg);
}

static int bump(void *ud, json_t *obj, struct kp_errbuf *eb)
{
	int *n = ud;
	(void)eb;
	(*n)++;
	json_object_set_new(json_object_get(obj, "data"), "n", json_string("1"));
	return 0;
}

static void test_conflict_retry(void **state)
{
	struct kp_kube_client *c;
	struct kp_kube_status st;
	struct kp_errbuf eb = { 0 };
	json_t *out = NULL;
	int calls = 0;
	(void)state;
	set_mode("conflict");
	sc.conflicts_left = 2;
	c = client_with("t", NULL);
	assert_int_equal(kp_kube_retry_on_conflict(c, &KP_KUBE_CONFIGMAPS, "default", "a", NULL, 5, bump, &calls, &out,
						   &st, &eb),
			 KP_OK);
	assert_int_equal(calls, 3);
	assert_int_equal(ts_count(&srv, "PUT", "/api/v1/namespaces/default/configmaps/a"), 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(out, "data"), "n")), "1");
	/* the PUT carried the resourceVersion of the latest GET */
	assert_string_equal(json_string_value(json_object_get(json_object_get(out, "metadata"), "resourceVersion")), "5");
	json_decref(out);

	/* bounded: always 409 gives up after max_attempts */
	set_mode("conflict");
	sc.conflicts_left = 100;
	calls = 0;
	assert_int_equal(kp_kube_retry_on_conflict(c, &KP_KUBE_CONFIGMAPS, "default", "a", NULL, 3, bump, &calls, NULL,
						   &st, &eb),
			 KP_ERR_IO);
	assert_int_equal(calls, 3);
	assert_true(kp_kube_is_conflict(&st));
	assert_non_null(strstr(eb.msg, "gave up after 3 conflicts"));
	assert_non_null(strstr(eb.msg, "409 Conflict"));
	kp_kube_client_free(c);
}

static void test_429_retry_and_eviction(void **state)
{
	struct kp_kube_client *c;
	struct kp_kube_status st;
	struct kp_errbuf eb = { 0 };
	json_t *obj = NULL;
	(void)state;
	set_mode("429");
	c = client_with("t", NULL);
	assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "a", &obj, &st, &eb), KP_OK);
	assert_int_equal(sc.calls, 2);
	json_decref(obj);
	/* an eviction blocked by a PDB is reported, not retried */
	assert_int_equal(kp_kube_evict(c, "default", "p1", &st, &eb), KP_ERR_IO);
	assert_int_equal(st.code, 429);
	assert_string_equal(st.reason, "TooManyRequests");
	assert_int_equal(ts_count(&srv, "POST", "/api/v1/namespaces/default/pods/p1/eviction"), 1);
	{
		struct ts_req last;
		json_t *b;
		ts_last(&srv, &last);
		b = json_loads(last.body, 0, NULL);
		assert_string_equal(json_string_value(json_object_get(b, "apiVersion")), "policy/v1");
		assert_string_equal(json_string_value(json_object_get(b, "kind")), "Eviction");
		json_decref(b);
	}
	kp_kube_client_free(c);
}

static void test_list_paging_patch_delete(void **state)
{
	struct kp_kube_client *c;
	struct kp_errbuf eb = { 0 };
	struct kp_kube_list_opts lo = { "app=web", NULL, 2, 0 };
	struct ts_req last;
	json_t *list = NULL, *p, *b;
	(void)state;
	set_mode("paging");
	c = client_with("t", NULL);
	assert_int_equal(kp_kube_list(c, &KP_KUBE_CONFIGMAPS, "default", &lo, &list, NULL, &eb), KP_OK);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion")), "50");
	assert_null(json_object_get(json_object_get(list, "metadata"), "continue"));
	json_decref(list);
	ts_last(&srv, &last);
	assert_string_equal(last.path, "/api/v1/namespaces/default/configmaps?limit=2&labelSelector=app%3Dweb&continue=tok%2B%2F%3D");
	lo.max_items = 2;
	assert_int_equal(kp_kube_list(c, &KP_KUBE_CONFIGMAPS, "default", &lo, &list, NULL, &eb), KP_ERR_LIMIT);
	assert_null(list);

	set_mode("basic");
	p = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "k", "v");
	assert_int_equal(kp_kube_patch(c, &KP_KUBE_CONFIGMAPS, "default", "a", KP_PATCH_MERGE, p, NULL, NULL, NULL, &eb), KP_OK);
	ts_last(&srv, &last);
	assert_string_equal(last.method, "PATCH");
	assert_string_equal(last.ctype, "application/merge-patch+json");
	assert_string_equal(last.body, "{\"metadata\":{\"labels\":{\"k\":\"v\"}}}");
	assert_int_equal(kp_kube_patch(c, &KP_KUBE_NODECLAIMS, NULL, "nc", KP_PATCH_STRATEGIC, p, "status", NULL, NULL, &eb), KP_OK);
	ts_last(&srv, &last);
	assert_string_equal(last.ctype, "application/strategic-merge-patch+json");
	assert_string_equal(last.path, "/apis/karpenter.sh/v1/nodeclaims/nc/status");
	/* a JSON patch must be an array */
	assert_int_equal(kp_kube_patch(c, &KP_KUBE_CONFIGMAPS, "default", "a", KP_PATCH_JSON, p, NULL, NULL, NULL, &eb), KP_ERR_INVALID);
	json_decref(p);
	p = json_pack("[{s:s, s:s}]", "op", "remove", "path", "/metadata/finalizers/0");
	assert_int_equal(kp_kube_patch(c, &KP_KUBE_CONFIGMAPS, "default", "a", KP_PATCH_JSON, p, NULL, NULL, NULL, &eb), KP_OK);
	ts_last(&srv, &last);
	assert_string_equal(last.ctype, "application/json-patch+json");
	json_decref(p);

	assert_int_equal(kp_kube_delete(c, &KP_KUBE_PODS, "default", "p1", KP_PROPAGATE_FOREGROUND, "uid-1", NULL, &eb), KP_OK);
	ts_last(&srv, &last);
	assert_string_equal(last.method, "DELETE");
	b = json_loads(last.body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(b, "propagationPolicy")), "Foreground");
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "preconditions"), "uid")), "uid-1");
	json_decref(b);

	/* an event */
	{
		json_t *pod = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata", "name",
					"p1", "namespace", "default", "uid", "u1");
		struct kp_kube_event ev = { pod, "Normal", "Nominated", NULL, "Pod should schedule on nc-1", "karpenter", "host-1", false };
		assert_int_equal(kp_kube_event_emit(c, &ev, NULL, &eb), KP_OK);
		ts_last(&srv, &last);
		assert_string_equal(last.path, "/apis/events.k8s.io/v1/namespaces/default/events");
		b = json_loads(last.body, 0, NULL);
		assert_string_equal(json_string_value(json_object_get(b, "reason")), "Nominated");
		assert_string_equal(json_string_value(json_object_get(json_object_get(b, "regarding"), "uid")), "u1");
		assert_non_null(strstr(json_string_value(json_object_get(b, "eventTime")), "Z"));
		json_decref(b);
		ev.use_core = true;
		assert_int_equal(kp_kube_event_emit(c, &ev, NULL, &eb), KP_OK);
		ts_last(&srv, &last);
		assert_string_equal(last.path, "/api/v1/namespaces/default/events");
		b = json_loads(last.body, 0, NULL);
		assert_string_equal(json_string_value(json_object_get(json_object_get(b, "involvedObject"), "uid")), "u1");
		assert_string_equal(json_string_value(json_object_get(b, "message")), "Pod should schedule on nc-1");
		assert_non_null(strstr(json_string_value(json_object_get(b, "eventTime")), "Z"));
		assert_string_equal(json_string_value(json_object_get(b, "action")), "Nominated");
		json_decref(b);
		json_decref(pod);
	}
	kp_kube_client_free(c);
}

static void test_token_file_reread_and_401(void **state)
{
	struct fclock fc = { 1000, 0 };
	struct kp_kube_clock clk = { fc_mono, fc_wall, fc_sleep, &fc };
	struct kp_kube_client_opts o = { 0 };
	struct kp_kube_config *cfg = config(NULL);
	struct kp_kube_client *c = NULL;
	struct kp_errbuf eb = { 0 };
	struct ts_req last;
	char path[512];
	json_t *obj = NULL;
	(void)state;
	set_mode("basic");
	o.clock = &clk;
	write_file("token", "old\n", 0600);
	snprintf(path, sizeof(path), "%s/token", tmpdir);
	cfg->token_file = ts_strdup(path);
	assert_int_equal(kp_kube_client_new(cfg, &o, &c, &eb), KP_OK);
	assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "a", &obj, NULL, &eb), KP_OK);
	json_decref(obj);
	ts_last(&srv, &last);
	assert_string_equal(last.auth, "Bearer old");
	write_file("token", "new\n", 0600);
	fc.now += 30000;   /* before the re-read period: still the cached token */
	assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "a", &obj, NULL, &eb), KP_OK);
	json_decref(obj);
	ts_last(&srv, &last);
	assert_string_equal(last.auth, "Bearer old");
	fc.now += 30000;   /* a minute after the first read */
	assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "a", &obj, NULL, &eb), KP_OK);
	json_decref(obj);
	ts_last(&srv, &last);
	assert_string_equal(last.auth, "Bearer new");
	kp_kube_client_free(c);

	/* a 401 forces a re-read at once */
	set_mode("auth");
	write_file("token", "old\n", 0600);
	assert_int_equal(kp_kube_client_new(cfg, &o, &c, &eb), KP_OK);
	assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "a", &obj, NULL, &eb), KP_ERR_IO);
	assert_non_null(strstr(eb.msg, "401 Unauthorized"));
	write_file("token", "new\n", 0600);
	assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "a", &obj, NULL, &eb), KP_OK);
	json_decref(obj);
	kp_kube_client_free(c);
	kp_kube_config_free(cfg);
}

static void test_exec_plugin_cached(void **state)
{
	struct fclock fc = { 1000, 0 };
	struct kp_kube_clock clk = { fc_mono, fc_wall, fc_sleep, &fc };
	struct kp_kube_client_opts o = { 0 };
	struct kp_kube_config *cfg = config(NULL);
	struct kp_kube_exec x = { 0 };
	struct kp_kube_client *c = NULL;
	struct kp_errbuf eb = { 0 };
	char cmd[512], script[1024], count[512], *args[2];
	json_t *obj = NULL;
	FILE *f;
	int runs = 0, i;
	(void)state;
	set_mode("auth");
	o.clock = &clk;
	snprintf(count, sizeof(count), "%s/runs", tmpdir);
	/* expires at 2023-11-14T22:13:30Z = fake wall clock 1700000010000 ms */
	snprintf(script, sizeof(script),
		 "#!/bin/sh\necho run >> '%s'\n"
		 "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
		 "\"status\":{\"token\":\"new\",\"expirationTimestamp\":\"2023-11-14T22:13:30Z\"}}'\n",
		 count);
	write_file("cred.sh", script, 0700);
	snprintf(cmd, sizeof(cmd), "%s/cred.sh", tmpdir);
	args[0] = cmd;
	args[1] = NULL;
	x.api_version = (char *)"client.authentication.k8s.io/v1beta1";
	x.command = cmd;
	x.args = args;
	x.nargs = 1;
	cfg->exec = &x;
	assert_int_equal(kp_kube_client_new(cfg, &o, &c, &eb), KP_OK);
	cfg->exec = NULL;
	for (i = 0; i < 3; i++) {
		assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "a", &obj, NULL, &eb), KP_OK);
		json_decref(obj);
	}
	fc.now += 20000;   /* past expirationTimestamp: run again */
	assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "a", &obj, NULL, &eb), KP_OK);
	json_decref(obj);
	f = fopen(count, "r");
	assert_non_null(f);
	while (fgets(script, sizeof(script), f))
		runs++;
	fclose(f);
	assert_int_equal(runs, 2);
	kp_kube_client_free(c);
	kp_kube_config_free(cfg);
}

static void test_client_rate_limit(void **state)
{
	struct fclock fc = { 1000, 0 };
	struct kp_kube_clock clk = { fc_mono, fc_wall, fc_sleep, &fc };
	struct kp_kube_client_opts o = { 0 };
	struct kp_kube_client *c;
	struct kp_errbuf eb = { 0 };
	json_t *obj = NULL;
	int i;
	(void)state;
	set_mode("basic");
	o.clock = &clk;
	o.qps = 10;
	o.burst = 2;
	c = client_with("t", &o);
	for (i = 0; i < 5; i++) {
		assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "a", &obj, NULL, &eb), KP_OK);
		json_decref(obj);
	}
	/* two from the burst, then three at 10/s */
	assert_int_equal(fc.slept, 300);
	assert_int_equal(kp_kube_client_requests(c), 5);
	kp_kube_client_free(c);
}

/* ---- watch ---- */

struct wstate {
	int n;
	enum kp_watch_type types[8];
	bool done;
	kp_err rc;
	struct kp_kube_status st;
	char msg[256];
};

static int wev(void *ud, enum kp_watch_type t, json_t *obj)
{
	struct wstate *w = ud;
	(void)obj;
	if (w->n < 8)
		w->types[w->n] = t;
	w->n++;
	return 0;
}

static void wdone(void *ud, kp_err rc, const struct kp_kube_status *st, const char *msg)
{
	struct wstate *w = ud;
	w->done = true;
	w->rc = rc;
	w->st = *st;
	snprintf(w->msg, sizeof(w->msg), "%s", msg);
}

static void run_until(struct kp_kube_loop *l, bool *flag, int64_t max_ms)
{
	int64_t end = kp_kube_now_mono(NULL) + max_ms;
	struct kp_errbuf eb = { 0 };
	while (!*flag && kp_kube_now_mono(NULL) < end)
		assert_int_equal(kp_kube_loop_run_once(l, 50, &eb), KP_OK);
}

static void test_watch_stream(void **state)
{
	struct kp_kube_client *c;
	struct kp_kube_loop *l = NULL;
	struct kp_watch *w = NULL;
	struct kp_watch_opts o = { "default", NULL, NULL, "100", 30, true };
	struct kp_errbuf eb = { 0 };
	struct wstate ws = { 0 };
	struct ts_req last;
	(void)state;
	set_mode("watch");
	c = client_with("wtok", NULL);
	assert_int_equal(kp_kube_loop_new(c, &l, &eb), KP_OK);
	assert_int_equal(kp_watch_start(l, &KP_KUBE_CONFIGMAPS, &o, wev, wdone, &ws, &w, &eb), KP_OK);
	assert_string_equal(kp_watch_rv(w), "100");
	run_until(l, &ws.done, 5000);
	assert_true(ws.done);
	assert_int_equal(ws.rc, KP_OK);
	assert_int_equal(ws.n, 3);
	assert_int_equal(ws.types[0], KP_WATCH_ADDED);
	assert_int_equal(ws.types[1], KP_WATCH_MODIFIED);
	assert_int_equal(ws.types[2], KP_WATCH_BOOKMARK);
	ts_last(&srv, &last);
	assert_string_equal(last.path, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=100&allowWatchBookmarks=true&timeoutSeconds=30");
	assert_string_equal(last.auth, "Bearer wtok");

	/* HTTP 410 on the watch request */
	set_mode("watch410");
	memset(&ws, 0, sizeof(ws));
	assert_int_equal(kp_watch_start(l, &KP_KUBE_CONFIGMAPS, &o, wev, wdone, &ws, &w, &eb), KP_OK);
	run_until(l, &ws.done, 5000);
	assert_true(ws.done);
	assert_int_equal(ws.rc, KP_ERR_IO);
	assert_true(kp_kube_is_gone(&ws.st));
	assert_string_equal(ws.st.reason, "Expired");
	assert_non_null(strstr(ws.msg, "too old resource version"));

	/* a stopped watch never calls back */
	set_mode("watch");
	memset(&ws, 0, sizeof(ws));
	assert_int_equal(kp_watch_start(l, &KP_KUBE_CONFIGMAPS, &o, wev, wdone, &ws, &w, &eb), KP_OK);
	kp_watch_stop(w);
	{
		int i;
		for (i = 0; i < 10; i++)
			kp_kube_loop_run_once(l, 20, &eb);
	}
	assert_false(ws.done);
	assert_int_equal(ws.n, 0);
	kp_kube_loop_free(l);
	kp_kube_client_free(c);
}

/* an ae-style host loop: it learns fds through the hook and polls them itself */
struct host {
	int fds[16], ev[16], n;
	int hook_calls;
};

static void host_hook(void *ud, int fd, int events)
{
	struct host *h = ud;
	int i;
	h->hook_calls++;
	for (i = 0; i < h->n; i++)
		if (h->fds[i] == fd)
			break;
	if (events == 0) {
		if (i < h->n) {
			h->fds[i] = h->fds[h->n - 1];
			h->ev[i] = h->ev[h->n - 1];
			h->n--;
		}
		return;
	}
	if (i == h->n && h->n < 16)
		h->n++;
	h->fds[i] = fd;
	h->ev[i] = events;
}

static void test_watch_fd_hook(void **state)
{
	struct kp_kube_client *c;
	struct kp_kube_loop *l = NULL;
	struct kp_watch *w = NULL;
	struct kp_watch_opts o = { "default", NULL, NULL, "100", 30, true };
	struct kp_errbuf eb = { 0 };
	struct wstate ws = { 0 };
	struct host h = { { 0 }, { 0 }, 0, 0 };
	int64_t end;
	(void)state;
	set_mode("watch");
	c = client_with("t", NULL);
	assert_int_equal(kp_kube_loop_new(c, &l, &eb), KP_OK);
	kp_kube_loop_set_fd_hook(l, host_hook, &h);
	assert_int_equal(kp_watch_start(l, &KP_KUBE_CONFIGMAPS, &o, wev, wdone, &ws, &w, &eb), KP_OK);
	end = kp_kube_now_mono(NULL) + 5000;
	while (!ws.done && kp_kube_now_mono(NULL) < end) {
		struct pollfd pf[16];
		int64_t t = kp_kube_loop_timeout_ms(l);
		int i, n = h.n, r;
		for (i = 0; i < n; i++) {
			pf[i].fd = h.fds[i];
			pf[i].events = (short)(((h.ev[i] & KP_KUBE_FD_READ) ? POLLIN : 0) | ((h.ev[i] & KP_KUBE_FD_WRITE) ? POLLOUT : 0));
			pf[i].revents = 0;
		}
		r = poll(pf, (nfds_t)n, (int)(t < 0 || t > 100 ? 100 : t));
		for (i = 0; r > 0 && i < n; i++) {
			int ev = ((pf[i].revents & (POLLIN | POLLHUP | POLLERR)) ? KP_KUBE_FD_READ : 0) |
				 ((pf[i].revents & POLLOUT) ? KP_KUBE_FD_WRITE : 0);
			if (ev)
				kp_kube_loop_fd_ready(l, pf[i].fd, ev);
		}
		if (kp_kube_loop_timeout_ms(l) == 0)
			kp_kube_loop_tick(l);
	}
	assert_true(ws.done);
	assert_int_equal(ws.rc, KP_OK);
	assert_int_equal(ws.n, 3);
	assert_true(h.hook_calls >= 1);
	kp_kube_loop_free(l);
	kp_kube_client_free(c);
}

/* ---- informer ---- */

struct istate {
	char log[2048];
	int synced;
};

static void ilog(struct istate *s, const char *what, json_t *obj)
{
	size_t n = strlen(s->log);
	json_t *m = json_object_get(obj, "metadata");
	snprintf(s->log + n, sizeof(s->log) - n, "%s %s@%s;", what, json_string_value(json_object_get(m, "name")),
		 json_string_value(json_object_get(m, "resourceVersion")));
}
static void i_add(void *ud, json_t *o) { ilog(ud, "add", o); }
static void i_upd(void *ud, json_t *o, json_t *n) { (void)o; ilog(ud, "upd", n); }
static void i_del(void *ud, json_t *o) { ilog(ud, "del", o); }
static void i_sync(void *ud)
{
	struct istate *s = ud;
	size_t n = strlen(s->log);
	s->synced++;
	snprintf(s->log + n, sizeof(s->log) - n, "synced;");
}

static void test_informer_cycle(void **state)
{
	struct kp_kube_client *c;
	struct kp_kube_loop *l = NULL;
	struct kp_informer *inf = NULL;
	struct kp_informer_opts o = { 0 };
	struct kp_informer_handlers h = { i_add, i_upd, i_del, i_sync };
	struct kp_errbuf eb = { 0 };
	struct istate is = { { 0 }, 0 };
	json_t **items = NULL;
	size_t n = 0;
	bool have_d = false;
	int64_t end;
	(void)state;
	set_mode("informer");
	o.ns = "default";
	o.backoff_base_ms = 10;
	o.backoff_max_ms = 50;
	o.watch_timeout_s = 30;
	o.seed = 42;
	c = client_with("t", NULL);
	assert_int_equal(kp_kube_loop_new(c, &l, &eb), KP_OK);
	assert_int_equal(kp_informer_new(l, &KP_KUBE_CONFIGMAPS, &o, &h, &is, &inf, &eb), KP_OK);
	kp_informer_start(inf);
	end = kp_kube_now_mono(NULL) + 10000;
	while (!have_d && kp_kube_now_mono(NULL) < end) {
		assert_int_equal(kp_kube_loop_run_once(l, 50, &eb), KP_OK);
		have_d = kp_informer_get(inf, "default", "d") != NULL;
	}
	assert_true(have_d);
	assert_string_equal(is.log,
			    "add a@1;add b@2;synced;"           /* list at 100 */
			    "add c@101;upd a@102;"              /* watch from 100, bookmark 105, clean end */
			    "upd c@150;del b@2;synced;"         /* ERROR 410 -> relist at 200: a unchanged, c changed, b gone */
			    "del c@201;"                        /* watch from 200 */
			    "add d@300;");                      /* 500 -> backoff -> watch resumed from 201 */
	{
		struct kp_informer_stats st = kp_informer_stats(inf);
		assert_int_equal(st.lists, 2);
		assert_int_equal(st.relists_gone, 1);
		assert_int_equal(st.errors, 1);
		assert_true(st.watches >= 5);
	}
	assert_int_equal(is.synced, 2);
	assert_int_equal(kp_informer_size(inf), 2);
	assert_int_equal(kp_informer_list(inf, "default", &items, &n, &eb), KP_OK);
	assert_int_equal(n, 2);
	assert_string_equal(json_string_value(json_object_get(json_object_get(items[0], "metadata"), "name")), "a");
	assert_string_equal(json_string_value(json_object_get(json_object_get(items[1], "metadata"), "name")), "d");
	free(items);
	assert_int_equal(kp_informer_list(inf, "other", &items, &n, &eb), KP_OK);
	assert_int_equal(n, 0);
	free(items);
	assert_string_equal(kp_informer_last_rv(inf), "300");
	/* the resumed watches used the tracked resourceVersions */
	assert_int_equal(ts_count(&srv, "GET", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=105&"), 1);
	assert_true(ts_count(&srv, "GET", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=201&") >= 2);
	kp_informer_free(inf);
	kp_kube_loop_free(l);
	kp_kube_client_free(c);
}

/* ---- informer: transform, pages, compact store ---- */

struct cstate {
	struct istate is;       /* first: i_sync and ilog take it */
	int transforms;
	json_t *old_a;          /* the old object of a's update (a copy) */
	json_t *deleted;        /* the object of the delete (a copy) */
};

static void c_transform(void *ud, json_t *obj)
{
	((struct cstate *)ud)->transforms++;
	json_object_del(obj, "junk");
}
static void c_add(void *ud, json_t *o) { ilog(&((struct cstate *)ud)->is, "add", o); }
static void c_upd(void *ud, json_t *o, json_t *n)
{
	struct cstate *cs = ud;
	ilog(&cs->is, "upd", n);
	cs->old_a = json_deep_copy(o);
}
static void c_del(void *ud, json_t *o)
{
	struct cstate *cs = ud;
	ilog(&cs->is, "del", o);
	cs->deleted = json_deep_copy(o);
}

static int c_each(void *ud, json_t *obj)
{
	char *log = ud;
	size_t n = strlen(log);
	snprintf(log + n, 256 - n, "%s;", json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")));
	return strcmp(json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")), "a") == 0 &&
	       strstr(log, "stop") != NULL;
}

/* The object literal as the transform leaves it. */
static json_t *expect(const char *lit)
{
	json_t *o = json_loads(lit, 0, NULL);
	assert_non_null(o);
	json_object_del(o, "junk");
	return o;
}

static size_t text_len(const char *lit)
{
	json_t *o = expect(lit);
	char *t = json_dumps(o, JSON_COMPACT);
	size_t n = strlen(t);
	free(t);
	json_decref(o);
	return n;
}

static void informer_compact_run(bool compact)
{
	struct kp_kube_client *c;
	struct kp_kube_loop *l = NULL;
	struct kp_informer *inf = NULL;
	struct kp_informer_opts o = { 0 };
	struct kp_informer_handlers h = { c_add, c_upd, c_del, i_sync };
	struct kp_errbuf eb = { 0 };
	struct cstate st;
	json_t **items = NULL, *want, *a1, *a2;
	char each[256] = "";
	size_t n = 0;
	int64_t end;
	int pages0 = ts_count(&srv, "GET", "/api/v1/configmaps?limit=2");
	int conts0 = ts_count(&srv, "GET", "/api/v1/configmaps?limit=2&continue=p2");

	/* the informer is freed while the server may be answering a watch */
	signal(SIGPIPE, SIG_IGN);
	memset(&st, 0, sizeof(st));
	set_mode("informer_compact");
	o.page_size = 2;
	o.backoff_base_ms = 10;
	o.backoff_max_ms = 50;
	o.watch_timeout_s = 30;
	o.seed = 7;
	o.transform = c_transform;
	o.transform_ud = &st;
	o.compact = compact;
	c = client_with("t", NULL);
	assert_int_equal(kp_kube_loop_new(c, &l, &eb), KP_OK);
	assert_int_equal(kp_informer_new(l, &KP_KUBE_CONFIGMAPS, &o, &h, &st, &inf, &eb), KP_OK);
	kp_informer_start(inf);
	end = kp_kube_now_mono(NULL) + 10000;
	while (!strstr(st.is.log, "del b@2;") && kp_kube_now_mono(NULL) < end)
		assert_int_equal(kp_kube_loop_run_once(l, 50, &eb), KP_OK);
	assert_string_equal(st.is.log, "add a@1;add b@2;add c@3;synced;upd a@11;del b@2;");
	/* the list came in two pages of at most 2 items */
	assert_int_equal(ts_count(&srv, "GET", "/api/v1/configmaps?limit=2") - pages0, 2);
	assert_int_equal(ts_count(&srv, "GET", "/api/v1/configmaps?limit=2&continue=p2") - conts0, 1);
	/* every listed item and watch event went through the transform */
	assert_int_equal(st.transforms, 5);
	/* the old object of the update is the stored (transformed) a, exactly */
	want = expect(CX_A);
	assert_non_null(st.old_a);
	assert_true(json_equal(st.old_a, want));
	json_decref(want);
	want = expect(CX_B);
	assert_true(json_equal(st.deleted, want));
	json_decref(want);
	/* get gives back the transformed object, value for value */
	want = expect(CX_A2);
	a1 = kp_informer_get(inf, "default", "a");
	assert_non_null(a1);
	assert_true(json_equal(a1, want));
	json_decref(want);
	want = expect(CX_C);
	assert_true(json_equal(kp_informer_get(inf, "other", "c"), want));
	json_decref(want);
	assert_null(kp_informer_get(inf, "default", "b"));
	/* a compact store decodes per access (distinct trees), a tree store
	 * hands out the stored object */
	a2 = kp_informer_get(inf, "default", "a");
	if (compact)
		assert_ptr_not_equal(a1, a2);
	else
		assert_ptr_equal(a1, a2);
	assert_int_equal(kp_informer_stats(inf).stored_bytes, compact ? text_len(CX_A2) + text_len(CX_C) : 0);
	assert_int_equal(kp_informer_size(inf), 2);
	assert_int_equal(kp_informer_list(inf, NULL, &items, &n, &eb), KP_OK);
	assert_int_equal(n, 2);
	assert_string_equal(json_string_value(json_object_get(json_object_get(items[0], "metadata"), "name")), "a");
	assert_string_equal(json_string_value(json_object_get(json_object_get(items[1], "metadata"), "name")), "c");
	free(items);
	/* foreach: key order, namespace filter, early stop */
	assert_int_equal(kp_informer_foreach(inf, NULL, c_each, each, &eb), KP_OK);
	assert_string_equal(each, "a;c;");
	snprintf(each, sizeof(each), "stop:");
	assert_int_equal(kp_informer_foreach(inf, NULL, c_each, each, &eb), KP_OK);
	assert_string_equal(each, "stop:a;");
	each[0] = '\0';
	assert_int_equal(kp_informer_foreach(inf, "other", c_each, each, &eb), KP_OK);
	assert_string_equal(each, "c;");
	/* a loop turn releases what get/list lent (ASan checks the frees) */
	assert_int_equal(kp_kube_loop_run_once(l, 0, &eb), KP_OK);
	json_decref(st.old_a);
	json_decref(st.deleted);
	kp_informer_free(inf);
	kp_kube_loop_free(l);
	kp_kube_client_free(c);
}

static void test_informer_transform_tree(void **state)
{
	(void)state;
	informer_compact_run(false);
}

static void test_informer_transform_compact(void **state)
{
	(void)state;
	informer_compact_run(true);
}

/* ---- leader election ---- */

struct lstate {
	int started, stopped;
	char leader[320];
};
static void l_start(void *ud) { ((struct lstate *)ud)->started++; }
static void l_stop(void *ud) { ((struct lstate *)ud)->stopped++; }
static void l_new(void *ud, const char *id) { snprintf(((struct lstate *)ud)->leader, 320, "%s", id); }

static void test_lease_two_contenders(void **state)
{
	struct kp_kube_client *c;
	struct kp_kube_loop *l = NULL;
	struct kp_lease *a = NULL, *b = NULL;
	struct lstate sa = { 0 }, sb = { 0 };
	struct kp_lease_opts oa = { "kube-system", "karpenter-leader-election", "a", 1000, 600, 100, l_start, l_stop, l_new, &sa };
	struct kp_lease_opts ob = oa;
	struct kp_errbuf eb = { 0 };
	bool flag = false;
	json_t *lease;
	char id[320];
	(void)state;
	set_mode("lease");
	ob.identity = "b";
	ob.ud = &sb;
	c = client_with("t", NULL);
	assert_int_equal(kp_kube_loop_new(c, &l, &eb), KP_OK);
	assert_int_equal(kp_lease_new(l, &oa, &a, &eb), KP_OK);
	assert_int_equal(kp_lease_new(l, &ob, &b, &eb), KP_OK);
	kp_lease_start(a);
	run_until(l, &flag, 150);
	assert_true(kp_lease_is_leader(a));
	kp_lease_start(b);
	/* b keeps trying for longer than the lease duration: a renews, b never leads */
	run_until(l, &flag, 1500);
	assert_true(kp_lease_is_leader(a));
	assert_false(kp_lease_is_leader(b));
	assert_int_equal(sa.started, 1);
	assert_int_equal(sb.started, 0);
	assert_string_equal(sb.leader, "a");
	pthread_mutex_lock(&srv.mu);
	lease = json_loads(sc.lease, 0, NULL);
	pthread_mutex_unlock(&srv.mu);
	assert_string_equal(json_string_value(json_object_get(json_object_get(lease, "spec"), "holderIdentity")), "a");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(lease, "spec"), "leaseDurationSeconds")), 1);
	json_decref(lease);

	/* a releases on shutdown: b takes over within a few retry periods */
	assert_int_equal(kp_lease_release(a, &eb), KP_OK);
	assert_int_equal(sa.stopped, 1);
	assert_false(kp_lease_is_leader(a));
	{
		int64_t end = kp_kube_now_mono(NULL) + 2000;
		while (!kp_lease_is_leader(b) && kp_kube_now_mono(NULL) < end)
			kp_kube_loop_run_once(l, 20, &eb);
	}
	assert_true(kp_lease_is_leader(b));
	assert_int_equal(sb.started, 1);
	pthread_mutex_lock(&srv.mu);
	lease = json_loads(sc.lease, 0, NULL);
	pthread_mutex_unlock(&srv.mu);
	assert_string_equal(json_string_value(json_object_get(json_object_get(lease, "spec"), "holderIdentity")), "b");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(lease, "spec"), "leaseTransitions")), 1);
	json_decref(lease);

	/* b loses the API server: it stops leading after the renew deadline */
	set_mode("none");
	{
		int64_t end = kp_kube_now_mono(NULL) + 3000;
		while (kp_lease_is_leader(b) && kp_kube_now_mono(NULL) < end)
			kp_kube_loop_run_once(l, 20, &eb);
	}
	assert_false(kp_lease_is_leader(b));
	assert_int_equal(sb.stopped, 1);
	kp_lease_free(a);
	kp_lease_free(b);

	assert_int_equal(kp_lease_default_identity(id, sizeof(id), &eb), KP_OK);
	assert_non_null(strchr(id, '_'));
	assert_int_equal(strlen(strchr(id, '_') + 1), 36);
	kp_kube_loop_free(l);
	kp_kube_client_free(c);
}

static void cleanup(void)
{
	char cmd[512];
	ts_stop(&srv);
	free(sc.lease);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	kp_kube_global_cleanup();
}

int main(void)
{
	struct kp_errbuf eb = { 0 };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_tls_token_status),
		cmocka_unit_test(test_tls_verified),
		cmocka_unit_test(test_conflict_retry),
		cmocka_unit_test(test_429_retry_and_eviction),
		cmocka_unit_test(test_list_paging_patch_delete),
		cmocka_unit_test(test_token_file_reread_and_401),
		cmocka_unit_test(test_exec_plugin_cached),
		cmocka_unit_test(test_client_rate_limit),
		cmocka_unit_test(test_watch_stream),
		cmocka_unit_test(test_watch_fd_hook),
		cmocka_unit_test(test_informer_cycle),
		cmocka_unit_test(test_informer_transform_tree),
		cmocka_unit_test(test_informer_transform_compact),
		cmocka_unit_test(test_lease_two_contenders),
	};
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_kube_http.XXXXXX");
	if (kp_kube_global_init(&eb) || !mkdtemp(tmpdir) || ts_start(&srv, route, NULL)) {
		fprintf(stderr, "test setup failed\n");
		return 1;
	}
	atexit(cleanup);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
