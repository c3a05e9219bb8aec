/*
 * server.c - the HTTPS listener of the local control plane (libmicrohttpd
 * with its GnuTLS backend, PEM key and certificate from memory).
 *
 * One thread per connection, so a watch can block in its content callback
 * while other requests go on; the request body is accumulated (capped at
 * BODY_MAX) and handed with the headers to rest.c, which returns either a
 * whole response or a watch stream that this file pulls from, chunked.
 * Every request except the health and version endpoints needs the bearer
 * token (auth.c); without it the answer is a 401 Status.
 *
 * Cost: a thread per open connection (kubectl keeps a handful; each watch
 * holds one), BODY_MAX bytes at most per request in flight.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "apiserver/server.h"

#define BODY_MAX (8u * 1024 * 1024)
#define STREAM_BLOCK (64 * 1024)

struct conn_ctx {
	struct kp_buf body;
	bool too_big;
};

struct stream_ctx {
	struct kp_apiserver__watch_stream *s;
	int fd;
};

static const char *get_arg(void *ctx, const char *key)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)ctx, MHD_GET_ARGUMENT_KIND, key);
}

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream_ctx *sc = cls;
	ssize_t n = kp_apiserver__rest_stream_read(sc->s, sc->fd, buf, max);

	(void)pos;
	if (n > 0)
		return n;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
	struct stream_ctx *sc = cls;
	kp_apiserver__rest_stream_free(sc->s);
	free(sc);
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct kp_apiserver__http_resp *rs)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (rs->stream) {
		struct stream_ctx *sc = calloc(1, sizeof(*sc));
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!sc) {
			kp_apiserver__rest_stream_free(rs->stream);
			return MHD_NO;
		}
		sc->s = rs->stream;
		sc->fd = ci ? ci->connect_fd : -1;
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_cb, sc, stream_free);
		if (!r) {
			stream_free(sc);
			return MHD_NO;
		}
	} else {
		r = MHD_create_response_from_buffer(rs->len, rs->body ? rs->body : (char *)"",
						    rs->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
		if (!r) {
			free(rs->body);
			free(rs->warnings);
			return MHD_NO;
		}
	}
	MHD_add_response_header(r, "Content-Type", rs->content_type ? rs->content_type : "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-cache, private");
	for (char *w = rs->warnings, *nl; w && *w; w = nl ? nl + 1 : NULL) {
		nl = strchr(w, '\n');
		if (nl)
			*nl = '\0';
		MHD_add_response_header(r, "Warning", w);
	}
	free(rs->warnings);
	rs->warnings = NULL;
	ret = MHD_queue_response(c, (unsigned int)rs->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct kp_apiserver *L = cls;
	struct conn_ctx *cc = *con_cls;
	struct kp_apiserver__http_resp rs = { 0 };
	struct kp_apiserver__http_req rq = { 0 };

	(void)version;
	if (!cc) {
		cc = calloc(1, sizeof(*cc));
		if (!cc)
			return MHD_NO;
		kp_buf_init(&cc->body, BODY_MAX);
		*con_cls = cc;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!cc->too_big && kp_buf_add(&cc->body, upload, *upload_size))
			cc->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	if (!kp_apiserver__auth_exempt(url) &&
	    !kp_apiserver__auth_check(L->token, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"))) {
		kp_apiserver__rest_status(&rs, 401, "Unauthorized", "Unauthorized");
		return send_resp(c, &rs);
	}
	if (cc->too_big) {
		kp_apiserver__rest_status(&rs, 413, "RequestEntityTooLarge", "request entity too large");
		return send_resp(c, &rs);
	}
	rq.method = method;
	rq.path = url;
	rq.user_agent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
	rq.arg = get_arg;
	rq.arg_ctx = c;
	rq.accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
	rq.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	rq.body = cc->body.data;
	rq.body_len = cc->body.len;
	kp_apiserver__rest_handle(L, &rq, &rs);
	return send_resp(c, &rs);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct conn_ctx *cc = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (cc) {
		kp_buf_free(&cc->body);
		free(cc);
		*con_cls = NULL;
	}
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (getenv("KARPENTER_UP_DEBUG"))
		vfprintf(stderr, fmt, ap);
}

kp_err kp_apiserver__listen_start(struct kp_apiserver *L, struct kp_errbuf *eb)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS |
			     MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;
	struct MHD_Daemon *d;

	if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
		return kp_errf(eb, KP_ERR_INVALID, "libmicrohttpd was built without TLS support");
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, L->cfg.listen_host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)L->cfg.port);
	} else if (inet_pton(AF_INET6, L->cfg.listen_host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)L->cfg.port);
		flags |= MHD_USE_IPv6;
	} else {
		return kp_errf(eb, KP_ERR_INVALID, "listen address is not an IP address: %s", L->cfg.listen_host);
	}
	d = MHD_start_daemon(flags, (uint16_t)L->cfg.port, NULL, NULL, handler, L,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			     MHD_OPTION_HTTPS_MEM_KEY, L->tls.key_pem,
			     MHD_OPTION_HTTPS_MEM_CERT, L->tls.cert_pem,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)600,
			     MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
			     MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
			     MHD_OPTION_END);
	if (!d)
		return kp_errf(eb, KP_ERR_IO, "listen on %s:%d: cannot start the HTTPS server (port in use?)",
			       L->cfg.listen_host, L->cfg.port);
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	L->port = di && di->port ? di->port : L->cfg.port;
	L->mhd = d;
	return KP_OK;
}

void kp_apiserver__listen_stop(struct kp_apiserver *L)
{
	if (!L || !L->mhd)
		return;
	MHD_stop_daemon((struct MHD_Daemon *)L->mhd);
	L->mhd = NULL;
}
