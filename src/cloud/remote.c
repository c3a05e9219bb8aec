/*
 * remote.c - the remote cloud provider (see remote.h): each call is one
 * HTTP request with libcurl (a handle per call, 10 s timeout), its JSON
 * body built and read by wire.c. Cost: one round trip per call.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cloud/fake.h"
#include "cloud/remote.h"
#include "cloud/wire.h"

#define RESP_MAX (64 << 20)

struct remote {
	char *endpoint;
	const struct kp_catalog *cat;
	struct kp_resnames *rn;
	pthread_mutex_t mu;          /* rn grows when a reply names a new resource */
};

struct body {
	char *p;
	size_t n;
	bool too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb;
	char *np;

	if (b->n + n > RESP_MAX) {
		b->too_big = true;
		return 0;
	}
	np = realloc(b->p, b->n + n + 1);
	if (!np)
		return 0;
	b->p = np;
	memcpy(b->p + b->n, ptr, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

static enum kp_cloud_err err_from_name(const char *s)
{
	for (int e = KP_CLOUD_NOT_FOUND; e <= KP_CLOUD_INTERNAL; e++)
		if (s && strcmp(s, kp_cloud_err_str((enum kp_cloud_err)e)) == 0)
			return (enum kp_cloud_err)e;
	return KP_CLOUD_INTERNAL;
}

/* One call: POST req (or GET when req is NULL) to endpoint/v1/op. *out gets
 * the reply's JSON object on success. */
static enum kp_cloud_err call(struct remote *r, const char *op, json_t *req, json_t **out, struct kp_errbuf *eb)
{
	char url[1024], errbuf[CURL_ERROR_SIZE] = "";
	struct body b = { 0 };
	struct curl_slist *h = NULL;
	char *payload = NULL;
	long code = 0;
	CURL *cu;
	CURLcode cc;
	json_t *reply = NULL;
	enum kp_cloud_err e = KP_CLOUD_OK;

	*out = NULL;
	snprintf(url, sizeof(url), "%s/v1/%s", r->endpoint, op);
	if (req && !(payload = json_dumps(req, JSON_COMPACT)))
		return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "remote cloud %s: out of memory", op);
	cu = curl_easy_init();
	if (!cu) {
		free(payload);
		return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "remote cloud %s: curl init failed", op);
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(cu, CURLOPT_URL, url);
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(cu, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "http,https");
	if (payload)
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, payload);
	cc = curl_easy_perform(cu);
	curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(cu);
	curl_slist_free_all(h);
	free(payload);
	if (cc != CURLE_OK) {
		e = kp_cloud_errf(eb, KP_CLOUD_TRANSIENT, "remote cloud %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	reply = b.p ? json_loadb(b.p, b.n, 0, NULL) : NULL;
	if (!json_is_object(reply)) {
		e = kp_cloud_errf(eb, code >= 500 ? KP_CLOUD_TRANSIENT : KP_CLOUD_INTERNAL,
				  "remote cloud %s: HTTP %ld without a JSON object", url, code);
		goto out;
	}
	if (json_object_get(reply, "error")) {
		const char *m = json_string_value(json_object_get(reply, "message"));
		e = kp_cloud_errf(eb, err_from_name(json_string_value(json_object_get(reply, "error"))), "%s",
				  m ? m : "remote cloud error");
		goto out;
	}
	*out = reply;
	reply = NULL;
out:
	json_decref(reply);
	free(b.p);
	return e;
}

static enum kp_cloud_err read_instance(struct remote *r, const json_t *j, struct kp_arena *a, struct kp_instance *out,
				       struct kp_errbuf *eb)
{
	kp_err rc;

	pthread_mutex_lock(&r->mu);
	rc = kp_cloud_wire_instance_read(j, a, r->rn, out, eb);
	pthread_mutex_unlock(&r->mu);
	return rc ? kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "remote cloud: %s", eb ? eb->msg : "bad instance") : KP_CLOUD_OK;
}

static enum kp_cloud_err r_create(struct kp_cloud *cp, const struct kp_nodeclaim *claim, struct kp_arena *a,
				  struct kp_instance *out, struct kp_errbuf *eb)
{
	struct remote *r = cp->impl;
	json_t *req, *reply = NULL;
	enum kp_cloud_err e;

	pthread_mutex_lock(&r->mu);
	req = json_pack("{s:o}", "nodeclaim", kp_cloud_wire_claim(claim, r->rn));
	pthread_mutex_unlock(&r->mu);
	if (!req)
		return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "out of memory");
	e = call(r, "create", req, &reply, eb);
	json_decref(req);
	if (!e)
		e = read_instance(r, json_object_get(reply, "instance"), a, out, eb);
	json_decref(reply);
	return e;
}

static enum kp_cloud_err r_delete(struct kp_cloud *cp, const char *provider_id, struct kp_errbuf *eb)
{
	json_t *req = json_pack("{s:s}", "providerID", provider_id ? provider_id : ""), *reply = NULL;
	enum kp_cloud_err e = call(cp->impl, "delete", req, &reply, eb);

	json_decref(req);
	json_decref(reply);
	return e;
}

static enum kp_cloud_err r_get(struct kp_cloud *cp, const char *provider_id, struct kp_arena *a, struct kp_instance *out,
			       struct kp_errbuf *eb)
{
	json_t *req = json_pack("{s:s}", "providerID", provider_id ? provider_id : ""), *reply = NULL;
	enum kp_cloud_err e = call(cp->impl, "get", req, &reply, eb);

	json_decref(req);
	if (!e)
		e = read_instance(cp->impl, json_object_get(reply, "instance"), a, out, eb);
	json_decref(reply);
	return e;
}

static enum kp_cloud_err r_list(struct kp_cloud *cp, struct kp_arena *a, struct kp_instance **out, int *n,
				struct kp_errbuf *eb)
{
	json_t *reply = NULL, *arr;
	enum kp_cloud_err e = call(cp->impl, "list", NULL, &reply, eb);
	size_t cnt;

	*out = NULL;
	*n = 0;
	if (e)
		return e;
	arr = json_object_get(reply, "instances");
	cnt = json_array_size(arr);
	if (cnt && !(*out = kp_arena_calloc(a, cnt, sizeof(**out)))) {
		json_decref(reply);
		return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "out of memory");
	}
	for (size_t i = 0; i < cnt && !e; i++)
		e = read_instance(cp->impl, json_array_get(arr, i), a, &(*out)[i], eb);
	*n = e ? 0 : (int)cnt;
	json_decref(reply);
	return e;
}

static enum kp_cloud_err r_instance_types(struct kp_cloud *cp, const struct kp_nodepool *np, const struct kp_catalog **out,
					  struct kp_errbuf *eb)
{
	struct remote *r = cp->impl;
	(void)np;
	(void)eb;
	*out = r->cat;
	return KP_CLOUD_OK;
}

static enum kp_cloud_err r_is_drifted(struct kp_cloud *cp, const struct kp_nodeclaim *claim, char *reason, size_t n,
				      struct kp_errbuf *eb)
{
	struct remote *r = cp->impl;
	json_t *req, *reply = NULL;
	enum kp_cloud_err e;

	if (n)
		reason[0] = '\0';
	pthread_mutex_lock(&r->mu);
	req = json_pack("{s:o}", "nodeclaim", kp_cloud_wire_claim(claim, r->rn));
	pthread_mutex_unlock(&r->mu);
	if (!req)
		return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "out of memory");
	e = call(r, "drifted", req, &reply, eb);
	json_decref(req);
	if (!e && n && json_string_value(json_object_get(reply, "reason")))
		snprintf(reason, n, "%s", json_string_value(json_object_get(reply, "reason")));
	json_decref(reply);
	return e;
}

static void r_destroy(struct kp_cloud *cp)
{
	struct remote *r = cp ? cp->impl : NULL;

	if (r) {
		pthread_mutex_destroy(&r->mu);
		free(r->endpoint);
		free(r);
	}
	free(cp);
}

/* The served cloud is the simulated one: its repair policies (a static
 * table, not state, so not asked over the wire). */
static const struct kp_cloud_repair_policy *r_repair_policies(struct kp_cloud *cp, int *n)
{
	(void)cp;
	return kp_cloud_fake_repair_policies(n);
}

static const struct kp_cloud_ops REMOTE_OPS = {
	.version = KP_CLOUD_VERSION,
	.name = "fake",
	.create = r_create,
	.delete = r_delete,
	.get = r_get,
	.list = r_list,
	.instance_types = r_instance_types,
	.is_drifted = r_is_drifted,
	.destroy = r_destroy,
	.repair_policies = r_repair_policies,
	/* no node class operations: the serving side (`karpenter up
	 * --cloud-listen`) keeps no class state for this client, so there is
	 * nothing to finalize and classes get no finalizer from a controller
	 * on this provider (deleting one never waits) */
};

kp_err kp_cloud_remote_new(const char *endpoint, const struct kp_catalog *cat, struct kp_resnames *rn,
			   struct kp_cloud **out, struct kp_errbuf *eb)
{
	struct kp_cloud *cp;
	struct remote *r;
	size_t n = endpoint ? strlen(endpoint) : 0;

	*out = NULL;
	if (n == 0 || (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0))
		return kp_errf(eb, KP_ERR_INVALID, "cloud endpoint \"%s\": expected http://HOST:PORT", endpoint ? endpoint : "");
	cp = calloc(1, sizeof(*cp));
	r = calloc(1, sizeof(*r));
	if (!cp || !r || !(r->endpoint = strdup(endpoint))) {
		free(cp);
		if (r)
			free(r->endpoint);
		free(r);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	while (n > 0 && r->endpoint[n - 1] == '/')
		r->endpoint[--n] = '\0';
	r->cat = cat;
	r->rn = rn;
	pthread_mutex_init(&r->mu, NULL);
	cp->ops = &REMOTE_OPS;
	cp->impl = r;
	*out = cp;
	return KP_OK;
}
