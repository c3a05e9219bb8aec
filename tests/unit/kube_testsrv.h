/*
 * kube_testsrv.h - a tiny HTTPS server for the kube client tests: loopback
 * only, a self-signed P-256 certificate (SAN IP:127.0.0.1) made at start,
 * one thread per connection, HTTP/1.1 keep-alive, canned responses chosen
 * by the test's route function, optionally sent as chunks (watch streams).
 * Every request is logged (method, path, Authorization, Content-Type, body).
 * Header-only because each test binary is one .c file.
 */
#ifndef KUBE_TESTSRV_H
#define KUBE_TESTSRV_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TS_MAX_LOG 512
#define TS_MAX_CHUNKS 16
#define TS_MAX_CONNS 64

struct ts_req {
	char method[16];
	char path[2048];
	char auth[512];
	char ctype[128];
	char *body;
};

struct ts_resp {
	int status;
	char headers[512];            /* extra header lines, each ending in \r\n */
	char *body;                   /* malloc'ed (freed by the server) or NULL */
	char *chunks[TS_MAX_CHUNKS];  /* malloc'ed; when any, sent chunked */
	int nchunks;
	int chunk_delay_ms;
};

struct ts_srv;
typedef void (*ts_route_fn)(struct ts_srv *s, const struct ts_req *rq, struct ts_resp *rs);

struct ts_srv {
	int lfd, port;
	SSL_CTX *ctx;
	pthread_t th;
	atomic_int stop;
	ts_route_fn route;
	void *ud;
	pthread_mutex_t mu;
	struct ts_req log[TS_MAX_LOG];
	int nlog;
	char *ca_pem;                 /* the server's own (self-signed) certificate */
	pthread_t conn_th[TS_MAX_CONNS];
	int conn_fd[TS_MAX_CONNS];
	int nconns;
};

static char *ts_strdup(const char *s)
{
	size_t n = strlen(s);
	char *d = malloc(n + 1);
	if (d)
		memcpy(d, s, n + 1);
	return d;
}

static char *ts_bio_str(BIO *b)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	char *s = malloc((size_t)n + 1);
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	return s;
}

/* A self-signed certificate for 127.0.0.1 and its key, as PEM strings. */
static int ts_make_cert(char **cert_pem, char **key_pem)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	BIO *b;
	static const char *const exts[][2] = { { "basicConstraints", "critical,CA:TRUE" },
					       { "keyUsage", "critical,digitalSignature,keyCertSign" },
					       { "subjectAltName", "IP:127.0.0.1,DNS:localhost" } };
	size_t i;

	if (!k || !x)
		return -1;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"kube-test",
				   -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
		if (!ext)
			return -1;
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, k, EVP_sha256()))
		return -1;
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(b, x);
	*cert_pem = ts_bio_str(b);
	BIO_free(b);
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	*key_pem = ts_bio_str(b);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(k);
	return 0;
}

static int ts_ssl_write_all(SSL *ssl, const char *p, size_t n)
{
	while (n) {
		int w = SSL_write(ssl, p, (int)n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void ts_sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

static const char *ts_reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	default: return "Status";
	}
}

static int ts_send(SSL *ssl, struct ts_resp *rs)
{
	char head[1024];
	int i, rc = 0;

	if (rs->nchunks) {
		snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n%s\r\n",
			 rs->status, ts_reason(rs->status), rs->headers);
		rc = ts_ssl_write_all(ssl, head, strlen(head));
		for (i = 0; !rc && i < rs->nchunks; i++) {
			char len[32];
			size_t n = strlen(rs->chunks[i]);
			if (rs->chunk_delay_ms)
				ts_sleep_ms(rs->chunk_delay_ms);
			snprintf(len, sizeof(len), "%zx\r\n", n);
			rc = ts_ssl_write_all(ssl, len, strlen(len));
			if (!rc)
				rc = ts_ssl_write_all(ssl, rs->chunks[i], n);
			if (!rc)
				rc = ts_ssl_write_all(ssl, "\r\n", 2);
		}
		if (!rc)
			rc = ts_ssl_write_all(ssl, "0\r\n\r\n", 5);
	} else {
		size_t n = rs->body ? strlen(rs->body) : 0;
		snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
			 rs->status, ts_reason(rs->status), n, rs->headers);
		rc = ts_ssl_write_all(ssl, head, strlen(head));
		if (!rc && n)
			rc = ts_ssl_write_all(ssl, rs->body, n);
	}
	for (i = 0; i < rs->nchunks; i++)
		free(rs->chunks[i]);
	free(rs->body);
	return rc;
}

static void ts_header(const char *hdrs, const char *name, char *out, size_t n)
{
	const char *p = hdrs;
	size_t nl = strlen(name);
	out[0] = '\0';
	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *e;
			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			snprintf(out, n, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
			return;
		}
	}
}

struct ts_conn {
	struct ts_srv *s;
	int fd;
};

static void *ts_conn_main(void *arg)
{
	struct ts_conn *cn = arg;
	struct ts_srv *s = cn->s;
	SSL *ssl = SSL_new(s->ctx);
	char *buf = malloc(1 << 20);
	size_t len = 0;

	SSL_set_fd(ssl, cn->fd);
	if (SSL_accept(ssl) <= 0)
		goto out;
	while (!s->stop) {
		char *end, cl[32];
		size_t hlen, blen = 0;
		struct ts_req rq;
		struct ts_resp rs;
		int r;

		while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
			if (len >= (1 << 20) - 1)
				goto out;
			r = SSL_read(ssl, buf + len, (int)((1 << 20) - 1 - len));
			if (r <= 0)
				goto out;
			len += (size_t)r;
		}
		hlen = (size_t)(end - buf) + 4;
		buf[hlen - 2] = '\0';
		memset(&rq, 0, sizeof(rq));
		sscanf(buf, "%15s %2047s", rq.method, rq.path);
		ts_header(buf, "Authorization", rq.auth, sizeof(rq.auth));
		ts_header(buf, "Content-Type", rq.ctype, sizeof(rq.ctype));
		ts_header(buf, "Content-Length", cl, sizeof(cl));
		if (cl[0])
			blen = (size_t)strtoul(cl, NULL, 10);
		while (len < hlen + blen) {
			r = SSL_read(ssl, buf + len, (int)((1 << 20) - 1 - len));
			if (r <= 0)
				goto out;
			len += (size_t)r;
		}
		rq.body = malloc(blen + 1);
		memcpy(rq.body, buf + hlen, blen);
		rq.body[blen] = '\0';
		memmove(buf, buf + hlen + blen, len - hlen - blen);
		len -= hlen + blen;

		memset(&rs, 0, sizeof(rs));
		rs.status = 200;
		pthread_mutex_lock(&s->mu);   /* routes run one at a time */
		s->route(s, &rq, &rs);
		if (s->nlog < TS_MAX_LOG)
			s->log[s->nlog++] = rq;
		else
			free(rq.body);
		pthread_mutex_unlock(&s->mu);
		if (ts_send(ssl, &rs))
			goto out;
	}
out:
	free(buf);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	free(cn);
	return NULL;
}

static void *ts_accept_main(void *arg)
{
	struct ts_srv *s = arg;
	while (!s->stop) {
		struct pollfd pf = { s->lfd, POLLIN, 0 };
		struct ts_conn *cn;
		int fd;
		if (poll(&pf, 1, 50) <= 0)
			continue;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&s->mu);
		if (s->nconns >= TS_MAX_CONNS) {
			pthread_mutex_unlock(&s->mu);
			close(fd);
			continue;
		}
		cn = malloc(sizeof(*cn));
		cn->s = s;
		cn->fd = fd;
		s->conn_fd[s->nconns] = fd;
		pthread_create(&s->conn_th[s->nconns], NULL, ts_conn_main, cn);
		s->nconns++;
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

static int ts_start(struct ts_srv *s, ts_route_fn route, void *ud)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	char *key = NULL;
	BIO *b;
	X509 *x;
	EVP_PKEY *k;
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->route = route;
	s->ud = ud;
	pthread_mutex_init(&s->mu, NULL);
	if (ts_make_cert(&s->ca_pem, &key))
		return -1;
	s->ctx = SSL_CTX_new(TLS_server_method());
	b = BIO_new_mem_buf(s->ca_pem, -1);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	b = BIO_new_mem_buf(key, -1);
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	free(key);
	if (!x || !k || SSL_CTX_use_certificate(s->ctx, x) != 1 || SSL_CTX_use_PrivateKey(s->ctx, k) != 1)
		return -1;
	X509_free(x);
	EVP_PKEY_free(k);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(s->lfd, 16) ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al))
		return -1;
	s->port = ntohs(a.sin_port);
	return pthread_create(&s->th, NULL, ts_accept_main, s);
}

static void ts_stop(struct ts_srv *s)
{
	int i;
	s->stop = 1;
	pthread_join(s->th, NULL);
	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->nconns; i++)
		shutdown(s->conn_fd[i], SHUT_RDWR);
	pthread_mutex_unlock(&s->mu);
	for (i = 0; i < s->nconns; i++) {
		pthread_join(s->conn_th[i], NULL);
		close(s->conn_fd[i]);
	}
	close(s->lfd);
	for (i = 0; i < s->nlog; i++)
		free(s->log[i].body);
	SSL_CTX_free(s->ctx);
	free(s->ca_pem);
	pthread_mutex_destroy(&s->mu);
}

/* Copies of the log entries (under the lock). */
static int ts_count(struct ts_srv *s, const char *method, const char *path_prefix)
{
	int i, n = 0;
	pthread_mutex_lock(&s->mu);
	for (i = 0; i < s->nlog; i++)
		if ((!method || strcmp(s->log[i].method, method) == 0) &&
		    (!path_prefix || strncmp(s->log[i].path, path_prefix, strlen(path_prefix)) == 0))
			n++;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void ts_last(struct ts_srv *s, struct ts_req *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->log[s->nlog - 1];
	pthread_mutex_unlock(&s->mu);
}

static void ts_json(struct ts_resp *rs, int status, const char *body)
{
	rs->status = status;
	rs->body = ts_strdup(body);
}

static void ts_status(struct ts_resp *rs, int code, const char *reason, const char *msg)
{
	char b[1024];
	snprintf(b, sizeof(b),
		 "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"%s\","
		 "\"reason\":\"%s\",\"code\":%d}",
		 msg, reason, code);
	ts_json(rs, code, b);
}

#endif
