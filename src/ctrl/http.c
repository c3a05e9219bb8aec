/*
 * http.c - the controller's two small plain-HTTP listeners, as Karpenter's
 * operator serves them: metrics (default :8080, GET /metrics, Prometheus
 * text format 0.0.4 from the registry) and health (default :8081, GET
 * /healthz always 200 "ok" while the process runs, /readyz 200 once the
 * informers have synced, else 503).
 *
 * libmicrohttpd with its own polling thread per listener; handlers only
 * read the thread-safe registry and the controller's atomic flags.
 * Exposition is capped at 64 MiB. Cost: O(series) per scrape.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ctrl/ctrl.h"
#include "metrics/metrics.h"

#define MAX_EXPOSITION (64u << 20)

struct kp_ctrl_http {
	struct kp_ctrl *c;
	struct kp_metrics *reg;
	struct MHD_Daemon *d[2];
	int port[2];
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *ctype, char *body, size_t len,
			     bool own)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, own ? MHD_RESPMEM_MUST_FREE
										  : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r) {
		if (own)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **req)
{
	struct kp_ctrl_http *h = cls;
	static const char text[] = "text/plain; charset=utf-8";

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)req;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, (char *)"method not allowed\n", 19, false);
	if (strcmp(url, "/metrics") == 0 && h->reg) {
		struct kp_buf b;
		struct kp_errbuf eb = { 0 };
		size_t len;
		char *s;

		kp_buf_init(&b, MAX_EXPOSITION);
		if (kp_metrics_write(h->reg, &b, &eb)) {
			kp_buf_free(&b);
			return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text, (char *)"exposition failed\n", 18, false);
		}
		len = b.len;
		s = kp_buf_take(&b);
		return reply(conn, MHD_HTTP_OK, kp_metrics_content_type, s, len, true);
	}
	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/livez") == 0)
		return reply(conn, MHD_HTTP_OK, text, (char *)"ok", 2, false);
	if (strcmp(url, "/readyz") == 0) {
		if (!h->c || kp_ctrl_ready(h->c))
			return reply(conn, MHD_HTTP_OK, text, (char *)"ok", 2, false);
		return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text, (char *)"informers not synced", 20, false);
	}
	return reply(conn, MHD_HTTP_NOT_FOUND, text, (char *)"404 page not found\n", 19, false);
}

/* "ADDR:PORT", ":PORT" or "[v6]:PORT" into a sockaddr. */
static kp_err parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len, struct kp_errbuf *eb)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	size_t hl;
	int64_t port;

	memset(ss, 0, sizeof(*ss));
	if (!colon || kp_parse_i64(colon + 1, &port) || port < 0 || port > 65535)
		return kp_errf(eb, KP_ERR_INVALID, "bad listen address \"%s\" (want ADDR:PORT or :PORT)", s);
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return kp_errf(eb, KP_ERR_INVALID, "bad listen address \"%s\"", s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (hl == 0 || strcmp(host, "0.0.0.0") == 0 || strchr(host, '.')) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (hl == 0)
			a->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return kp_errf(eb, KP_ERR_INVALID, "bad listen address \"%s\"", host);
		*len = sizeof(*a);
	} else if (strcmp(host, "localhost") == 0) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return kp_errf(eb, KP_ERR_INVALID, "bad listen address \"%s\"", host);
		*len = sizeof(*a);
	}
	return KP_OK;
}

static kp_err start_one(struct kp_ctrl_http *h, int which, const char *addr, struct kp_errbuf *eb)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const union MHD_DaemonInfo *di;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	kp_err rc = parse_addr(addr, &ss, &len, eb);

	if (rc)
		return rc;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d[which] = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
	if (!h->d[which])
		return kp_errf(eb, KP_ERR_IO, "cannot listen on %s", addr);
	di = MHD_get_daemon_info(h->d[which], MHD_DAEMON_INFO_BIND_PORT);
	h->port[which] = di ? di->port : 0;
	return KP_OK;
}

kp_err kp_ctrl_http_start(struct kp_ctrl *c, struct kp_metrics *reg, const char *metrics_addr,
			  const char *health_addr, struct kp_ctrl_http **out, struct kp_errbuf *eb)
{
	struct kp_ctrl_http *h = calloc(1, sizeof(*h));
	kp_err rc = KP_OK;

	*out = NULL;
	if (!h)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	h->c = c;
	h->reg = reg;
	if (metrics_addr && *metrics_addr && (rc = start_one(h, 0, metrics_addr, eb)))
		kp_err_prefix(eb, "metrics: ");
	if (!rc && health_addr && *health_addr && (rc = start_one(h, 1, health_addr, eb)))
		kp_err_prefix(eb, "health: ");
	if (rc) {
		kp_ctrl_http_stop(h);
		return rc;
	}
	*out = h;
	return KP_OK;
}

int kp_ctrl_http_port(const struct kp_ctrl_http *h, int which)
{
	return h && (which == 0 || which == 1) ? h->port[which] : 0;
}

void kp_ctrl_http_stop(struct kp_ctrl_http *h)
{
	if (!h)
		return;
	for (int i = 0; i < 2; i++)
		if (h->d[i])
			MHD_stop_daemon(h->d[i]);
	free(h);
}
