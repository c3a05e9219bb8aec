/*
 * cloudsrv.c - the simulated cloud over HTTP (see cloudsrv.h and
 * src/cloud/remote.h for the protocol). libmicrohttpd, plain HTTP, one
 * thread per connection; bodies capped at 1 MiB; only loopback addresses.
 * Each request decodes its NodeClaim or provider id (src/cloud/wire.c),
 * makes one call on the cloud in a request arena and encodes the answer.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "cloud/wire.h"
#include "up/cloudsrv.h"

#define BODY_MAX (1 << 20)

struct kp_up_cloudsrv {
	struct kp_cloud *cloud;
	struct kp_resnames *rn;
	pthread_mutex_t mu;        /* rn */
	struct MHD_Daemon *d;
	int port;
};

struct conn {
	char *p;
	size_t n;
	bool too_big;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct MHD_Response *r;
	enum MHD_Result ret;

	json_decref(body);
	if (!text)
		text = strdup("{\"error\":\"internal error\",\"message\":\"out of memory\"}");
	r = MHD_create_response_from_buffer(text ? strlen(text) : 0, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result fail(struct MHD_Connection *c, enum kp_cloud_err e, const char *msg)
{
	unsigned int code = e == KP_CLOUD_NOT_FOUND ? 404 : e == KP_CLOUD_TRANSIENT ? 503 : e == KP_CLOUD_INTERNAL ? 500 : 409;
	return reply(c, code, json_pack("{s:s, s:s}", "error", kp_cloud_err_str(e), "message", msg && *msg ? msg : kp_cloud_err_str(e)));
}

static enum MHD_Result bad(struct MHD_Connection *c, const char *msg)
{
	return reply(c, 400, json_pack("{s:s, s:s}", "error", kp_cloud_err_str(KP_CLOUD_INTERNAL), "message", msg));
}

static json_t *instance(struct kp_up_cloudsrv *s, const struct kp_instance *in)
{
	json_t *j;

	pthread_mutex_lock(&s->mu);
	j = kp_cloud_wire_instance(in, s->rn);
	pthread_mutex_unlock(&s->mu);
	return j;
}

/* One decoded request: op, its body, answered into c. */
static enum MHD_Result serve(struct kp_up_cloudsrv *s, struct MHD_Connection *c, const char *op, const json_t *req)
{
	struct kp_errbuf eb = { 0 };
	struct kp_arena a;
	struct kp_nodeclaim nc;
	struct kp_instance in, *all = NULL;
	const char *pid = json_string_value(json_object_get(req, "providerID"));
	enum kp_cloud_err e = KP_CLOUD_OK;
	enum MHD_Result ret;
	json_t *out = NULL;
	char reason[512] = "";
	int n = 0;

	kp_arena_init(&a);
	if (strcmp(op, "create") == 0 || strcmp(op, "drifted") == 0) {
		kp_err rc;
		pthread_mutex_lock(&s->mu);
		rc = kp_cloud_wire_claim_read(json_object_get(req, "nodeclaim"), &a, s->rn, &nc, &eb);
		pthread_mutex_unlock(&s->mu);
		if (rc) {
			ret = bad(c, eb.msg);
			goto done;
		}
		if (op[0] == 'c') {
			memset(&in, 0, sizeof(in));
			if (!(e = kp_cloud_create(s->cloud, &nc, &a, &in, &eb)))
				out = json_pack("{s:o}", "instance", instance(s, &in));
		} else if (!(e = kp_cloud_is_drifted(s->cloud, &nc, reason, sizeof(reason), &eb))) {
			out = json_pack("{s:s}", "reason", reason);
		}
	} else if (strcmp(op, "delete") == 0 || strcmp(op, "get") == 0) {
		if (!pid) {
			ret = bad(c, "providerID: missing");
			goto done;
		}
		if (op[0] == 'd') {
			if (!(e = kp_cloud_delete(s->cloud, pid, &eb)))
				out = json_object();
		} else {
			memset(&in, 0, sizeof(in));
			if (!(e = kp_cloud_get(s->cloud, pid, &a, &in, &eb)))
				out = json_pack("{s:o}", "instance", instance(s, &in));
		}
	} else if (strcmp(op, "list") == 0) {
		if (!(e = kp_cloud_list(s->cloud, &a, &all, &n, &eb))) {
			json_t *arr = json_array();
			for (int i = 0; arr && i < n; i++)
				json_array_append_new(arr, instance(s, &all[i]));
			out = json_pack("{s:o}", "instances", arr);
		}
	} else {
		ret = reply(c, 404, json_pack("{s:s, s:s}", "error", kp_cloud_err_str(KP_CLOUD_INTERNAL), "message",
					      "no such cloud call"));
		goto done;
	}
	ret = e ? fail(c, e, eb.msg) : reply(c, 200, out);
done:
	kp_arena_free(&a);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct kp_up_cloudsrv *s = cls;
	struct conn *cc = *con_cls;
	json_t *req = NULL;
	enum MHD_Result ret;

	(void)version;
	if (!cc) {
		if (!(cc = calloc(1, sizeof(*cc))))
			return MHD_NO;
		*con_cls = cc;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!cc->too_big && cc->n + *upload_size <= BODY_MAX) {
			char *np = realloc(cc->p, cc->n + *upload_size + 1);
			if (np) {
				cc->p = np;
				memcpy(cc->p + cc->n, upload, *upload_size);
				cc->n += *upload_size;
			} else {
				cc->too_big = true;
			}
		} else {
			cc->too_big = true;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (cc->too_big)
		return bad(c, "request body too large");
	if (strncmp(url, "/v1/", 4) != 0)
		return reply(c, 404, json_pack("{s:s, s:s}", "error", kp_cloud_err_str(KP_CLOUD_INTERNAL), "message",
					       "no such path"));
	if (strcmp(method, "POST") == 0) {
		req = cc->p ? json_loadb(cc->p, cc->n, 0, NULL) : NULL;
		if (!json_is_object(req)) {
			json_decref(req);
			return bad(c, "the request body must be a JSON object");
		}
	} else if (strcmp(method, "GET") != 0 || strcmp(url, "/v1/list") != 0) {
		return reply(c, 405, json_pack("{s:s, s:s}", "error", kp_cloud_err_str(KP_CLOUD_INTERNAL), "message",
					       "method not allowed"));
	}
	ret = serve(s, c, url + 4, req);
	json_decref(req);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct conn *cc = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (cc) {
		free(cc->p);
		free(cc);
		*con_cls = NULL;
	}
}

kp_err kp_up_cloudsrv_start(struct kp_cloud *cloud, struct kp_resnames *rn, const char *listen,
			    struct kp_up_cloudsrv **out, struct kp_errbuf *eb)
{
	struct kp_up_cloudsrv *s;
	struct sockaddr_in sa;
	const char *colon = listen ? strrchr(listen, ':') : NULL;
	char host[64];
	int64_t port;
	const union MHD_DaemonInfo *di;

	*out = NULL;
	if (!colon || (size_t)(colon - listen) >= sizeof(host) || kp_parse_i64(colon + 1, &port) || port < 0 ||
	    port > 65535)
		return kp_errf(eb, KP_ERR_INVALID, "--cloud-listen \"%s\": expected 127.0.0.1:PORT", listen ? listen : "");
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host[0] ? host : "127.0.0.1", &sa.sin_addr) != 1 ||
	    (ntohl(sa.sin_addr.s_addr) >> 24) != 127)
		return kp_errf(eb, KP_ERR_INVALID, "--cloud-listen \"%s\": only loopback addresses (127.x.x.x)", listen);
	if (!(s = calloc(1, sizeof(*s))))
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	s->cloud = cloud;
	s->rn = rn;
	pthread_mutex_init(&s->mu, NULL);
	s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL,
				NULL, handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED,
				completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60, MHD_OPTION_END);
	if (!s->d) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		return kp_errf(eb, KP_ERR_IO, "--cloud-listen %s: cannot listen (port in use?)", listen);
	}
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di && di->port ? di->port : (int)port;
	*out = s;
	return KP_OK;
}

int kp_up_cloudsrv_port(const struct kp_up_cloudsrv *s)
{
	return s ? s->port : 0;
}

void kp_up_cloudsrv_stop(struct kp_up_cloudsrv *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
