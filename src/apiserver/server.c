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
 * Hardening (docs/up.md): TLS 1.2 and 1.3 only, AEAD ciphers with ECDHE
 * (TLS_PRIORITIES); no SO_REUSEPORT, so a second server cannot bind the same
 * port; limits on open connections, requests in flight (watches aside) and
 * open watches per client (address + User-Agent), answered with 429
 * TooManyRequests and Retry-After as kube-apiserver's max-in-flight filter
 * does; a watch without timeoutSeconds ends after 30 to 60 minutes as with
 * kube's --min-request-timeout, and the client re-watches; any other request
 * (pods/log?follow aside) must be read and answered within the request
 * timeout (60 s, kube's --request-timeout, WithTimeoutForNonLongRunningRequests):
 * a body still arriving past it, or a streamed list still being sent,
 * closes the connection (as kube-apiserver aborts a response already
 * begun; libmicrohttpd 0.9.75 cannot answer before a body is read, so no
 * 504 either), and a connection that makes no progress is closed by
 * libmicrohttpd's per-connection timeout, set to the request timeout while
 * a request is read or a list streamed. Handlers themselves are short and
 * are not interrupted. A streamed list counts against the requests in
 * flight until it ends.
 *
 * Cost: a thread per open connection (kubectl keeps a handful; each watch
 * holds one), BODY_MAX bytes at most per request in flight.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <pthread.h>
#include <sys/random.h>

#include "apiserver/access.h"
#include "apiserver/server.h"
#include "apiserver/rest_int.h"

#define BODY_MAX (8u * 1024 * 1024)
#define STREAM_BLOCK (64 * 1024)

/* GnuTLS priorities of the API listener: TLS 1.3 and 1.2 only, ECDHE key
 * exchange, AEAD ciphers (AES-GCM, ChaCha20-Poly1305), no SHA-1 signatures;
 * what Go's crypto/tls (so kube-apiserver) negotiates by default. */
#define TLS_PRIORITIES                                                                                   \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"             \
	"+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-SIGN-RSA-SHA1:"             \
	"-SIGN-ECDSA-SHA1:-SIGN-DSA-SHA1:%SERVER_PRECEDENCE"

#define DEF_MAX_CONNECTIONS 1024
#define DEF_MAX_INFLIGHT 400
#define DEF_MAX_WATCHES_PER_CLIENT 500
#define DEF_REQUEST_TIMEOUT_S 60
#define IDLE_TIMEOUT_S 600            /* a connection between requests */
#define MAX_CLIENTS 4096
#define CLIENT_KEY 192

struct client {
	char key[CLIENT_KEY];         /* "ADDRESS|User-Agent" */
	int watches;
};

struct kp_apiserver__limits {
	pthread_mutex_t mu;
	int max_conns, max_inflight, max_watches;
	int64_t max_watch_ms;         /* 0 = a random 30..60 minutes per watch */
	int64_t request_ms;           /* request timeout */
	int conns, inflight;
	struct client *clients;       /* open watches per client; unused slots have watches == 0 */
	int nclients;
};

struct conn_ctx {
	struct kp_buf body;
	bool too_big;
	bool over_conns;              /* opened past max_conns: answered 429 */
	int64_t deadline;             /* monotonic ms: the request timeout */
};

struct stream_ctx {
	struct kp_apiserver__watch_stream *s;
	int fd;
	struct kp_apiserver__limits *lim;
	char client[CLIENT_KEY];      /* counted in lim->clients while open */
	bool inflight;                /* a streamed list: counted in lim->inflight while open */
	int64_t deadline;             /* a streamed list: monotonic ms when it is cut (0 = none) */
};

/* ---- limits ---- */

static struct client *client_get(struct kp_apiserver__limits *lim, const char *key, bool add)
{
	struct client *free_slot = NULL;

	for (int i = 0; i < lim->nclients; i++) {
		if (lim->clients[i].watches && strcmp(lim->clients[i].key, key) == 0)
			return &lim->clients[i];
		if (!lim->clients[i].watches && !free_slot)
			free_slot = &lim->clients[i];
	}
	if (!add)
		return NULL;
	if (!free_slot && lim->nclients < MAX_CLIENTS)
		free_slot = &lim->clients[lim->nclients++];
	if (free_slot)
		snprintf(free_slot->key, sizeof(free_slot->key), "%s", key);
	return free_slot;
}

static void client_key(struct MHD_Connection *c, char *buf, size_t n)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
	char addr[INET6_ADDRSTRLEN] = "?";

	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof(addr));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr, sizeof(addr));
	}
	snprintf(buf, n, "%s|%s", addr, ua ? ua : "");
}

static bool is_watch(const char *url, struct MHD_Connection *c)
{
	const char *w = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "watch");
	return strstr(url, "/watch/") != NULL || (w && kp_apiserver__truthy(w));
}

static void notify_conn(void *cls, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode code)
{
	struct kp_apiserver__limits *lim = cls;

	(void)c;
	pthread_mutex_lock(&lim->mu);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		lim->conns++;
		*socket_ctx = lim->conns > lim->max_conns ? (void *)lim : NULL;   /* non-NULL: over the limit */
	} else {
		lim->conns--;
	}
	pthread_mutex_unlock(&lim->mu);
}

static const char *get_arg(void *ctx, const char *key)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)ctx, MHD_GET_ARGUMENT_KIND, key);
}

/* Collects the Impersonate-* headers (Impersonate-Group may repeat). */
static enum MHD_Result imp_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct kp_apiserver__access_in *in = cls;

	(void)kind;
	if (!value)
		return MHD_YES;
	if (strcasecmp(key, "Impersonate-User") == 0)
		in->imp_user = value;
	else if (strcasecmp(key, "Impersonate-Uid") == 0)
		in->imp_uid = value;
	else if (strcasecmp(key, "Impersonate-Group") == 0 && in->n_imp_groups < KP_AUTHZ_MAX_GROUPS - 4)
		in->imp_groups[in->n_imp_groups++] = value;
	return MHD_YES;
}

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream_ctx *sc = cls;
	ssize_t n;

	(void)pos;
	if (sc->deadline && kp_apiserver__mono_ms() >= sc->deadline)
		return MHD_CONTENT_READER_END_WITH_ERROR;   /* past the request timeout: cut */
	n = kp_apiserver__rest_stream_read(sc->s, sc->fd, buf, max);
	if (n > 0)
		return n;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
	struct stream_ctx *sc = cls;
	kp_apiserver__rest_stream_free(sc->s);
	if (sc->lim && (sc->client[0] || sc->inflight)) {
		struct client *cl;
		pthread_mutex_lock(&sc->lim->mu);
		cl = sc->client[0] ? client_get(sc->lim, sc->client, false) : NULL;
		if (cl)
			cl->watches--;
		if (sc->inflight)
			sc->lim->inflight--;
		pthread_mutex_unlock(&sc->lim->mu);
	}
	free(sc);
}

/* libmicrohttpd's per-connection timeout (whole seconds, at least 1) for ms */
static unsigned int timeout_s(int64_t ms)
{
	int64_t s = (ms + 999) / 1000;
	return s < 1 ? 1u : s > 86400 ? 86400u : (unsigned int)s;
}

/* 429 as kube-apiserver's max-in-flight filter answers it */
static void too_many(struct kp_apiserver__http_resp *rs)
{
	kp_apiserver__rest_status(rs, 429, "TooManyRequests", "Too many requests, please try again later.");
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
		sc->lim = rs->lim;
		if (rs->lim && rs->client[0])
			snprintf(sc->client, sizeof(sc->client), "%s", rs->client);
		sc->inflight = rs->lim && rs->inflight;
		sc->deadline = rs->deadline;
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
	if (rs->status == 429)
		MHD_add_response_header(r, "Retry-After", "1");
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

	struct kp_apiserver__limits *lim = L->limits;
	bool watch;

	(void)version;
	if (!cc) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		cc = calloc(1, sizeof(*cc));
		if (!cc)
			return MHD_NO;
		kp_buf_init(&cc->body, BODY_MAX);
		cc->over_conns = ci && ci->socket_context != NULL;
		cc->deadline = kp_apiserver__mono_ms() + lim->request_ms;
		/* a request that stops arriving is closed at the request timeout */
		MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, timeout_s(lim->request_ms));
		*con_cls = cc;
		return MHD_YES;
	}
	if (*upload_size) {
		/* libmicrohttpd 0.9.75 cannot answer before the whole body is read:
		 * a body still arriving past the timeout closes the connection */
		if (kp_apiserver__mono_ms() >= cc->deadline)
			return MHD_NO;
		if (!cc->too_big && kp_buf_add(&cc->body, upload, *upload_size))
			cc->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, IDLE_TIMEOUT_S);
	if (cc->over_conns) {
		too_many(&rs);
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
	rq.streamable = true;
	watch = is_watch(url, c);
	/* authentication, impersonation, RBAC (access.c) */
	if (!kp_apiserver__auth_exempt(url)) {
		struct kp_apiserver__access_in in = { 0 };

		in.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		in.watch = watch;
		MHD_get_connection_values(c, MHD_HEADER_KIND, imp_header, &in);
		if (!kp_apiserver__access(L, &in, &rq, &rs))
			return send_resp(c, &rs);
	}
	pthread_mutex_lock(&lim->mu);
	if (watch) {
		struct client *cl;
		client_key(c, rs.client, sizeof(rs.client));
		cl = client_get(lim, rs.client, true);
		if (!cl || cl->watches >= lim->max_watches) {
			pthread_mutex_unlock(&lim->mu);
			too_many(&rs);
			return send_resp(c, &rs);
		}
		cl->watches++;   /* held while the request is handled, then by the stream */
	} else if (lim->inflight >= lim->max_inflight) {
		pthread_mutex_unlock(&lim->mu);
		too_many(&rs);
		return send_resp(c, &rs);
	} else {
		lim->inflight++;
	}
	pthread_mutex_unlock(&lim->mu);
	kp_apiserver__rest_handle(L, &rq, &rs);
	if (watch && rs.stream) {
		int64_t cap = lim->max_watch_ms;
		uint32_t r = 0;
		if (!cap) {   /* [30, 60) minutes, as kube's --min-request-timeout 1800 */
			if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
				r = 0;
			cap = 1800000 + (int64_t)(r % 1800000);
		}
		if (!rs.stream->deadline || rs.stream->deadline - kp_apiserver__mono_ms() > cap)
			rs.stream->deadline = kp_apiserver__mono_ms() + cap;
		rs.lim = lim;   /* stream_free gives the client's watch back */
	} else if (!watch && rs.stream && rs.stream->list) {
		/* a streamed list stays in flight, and under the request timeout, until it ends */
		rs.lim = lim;
		rs.inflight = true;
		rs.deadline = cc->deadline;
		MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, timeout_s(cc->deadline - kp_apiserver__mono_ms()));
	} else {
		pthread_mutex_lock(&lim->mu);
		if (watch) {
			struct client *cl = client_get(lim, rs.client, false);
			if (cl)
				cl->watches--;
		} else {
			lim->inflight--;
		}
		pthread_mutex_unlock(&lim->mu);
	}
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

static void limits_free(struct kp_apiserver__limits *lim)
{
	if (!lim)
		return;
	pthread_mutex_destroy(&lim->mu);
	free(lim->clients);
	free(lim);
}

kp_err kp_apiserver__listen_start(struct kp_apiserver *L, struct kp_errbuf *eb)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			     MHD_USE_TLS | MHD_USE_ERROR_LOG;
	struct kp_apiserver__limits *lim;
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
	lim = calloc(1, sizeof(*lim));
	if (!lim || !(lim->clients = calloc(MAX_CLIENTS, sizeof(*lim->clients)))) {
		free(lim);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	pthread_mutex_init(&lim->mu, NULL);
	lim->max_conns = L->cfg.max_connections > 0 ? L->cfg.max_connections : DEF_MAX_CONNECTIONS;
	lim->max_inflight = L->cfg.max_inflight > 0 ? L->cfg.max_inflight : DEF_MAX_INFLIGHT;
	lim->max_watches = L->cfg.max_watches_per_client > 0 ? L->cfg.max_watches_per_client
							     : DEF_MAX_WATCHES_PER_CLIENT;
	lim->max_watch_ms = L->cfg.max_watch_s > 0 ? L->cfg.max_watch_s * 1000 : 0;
	lim->request_ms = (L->cfg.request_timeout_s > 0 ? L->cfg.request_timeout_s : DEF_REQUEST_TIMEOUT_S) * 1000;
	L->limits = lim;
	/* No MHD_OPTION_LISTENING_ADDRESS_REUSE: with it (SO_REUSEPORT) a second
	 * server could bind the same port and share its connections. The hard
	 * connection limit leaves room above max_conns for the 429 answers. */
	d = MHD_start_daemon(flags, (uint16_t)L->cfg.port, NULL, NULL, handler, L,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			     MHD_OPTION_HTTPS_MEM_KEY, L->tls.key_pem,
			     MHD_OPTION_HTTPS_MEM_CERT, L->tls.cert_pem,
			     MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
			     MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
			     MHD_OPTION_NOTIFY_CONNECTION, notify_conn, lim,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)(lim->max_conns + 64),
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)IDLE_TIMEOUT_S,
			     MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
			     MHD_OPTION_END);
	if (!d) {
		L->limits = NULL;
		limits_free(lim);
		return kp_errf(eb, KP_ERR_IO, "listen on %s:%d: cannot start the HTTPS server (port in use?)",
			       L->cfg.listen_host, L->cfg.port);
	}
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
	limits_free(L->limits);
	L->limits = NULL;
}
