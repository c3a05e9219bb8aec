/*
 * client.c - the blocking half of the Kubernetes client: one curl easy
 * handle reused for every request (so connections are kept alive), TLS
 * material handed to libcurl from memory (CURLOPT_*_BLOB, copied by curl),
 * bearer tokens from the config, a token file re-read periodically, or an
 * exec plugin cached until its expirationTimestamp; a client-side token
 * bucket (QPS/burst, 200/300 by default as Karpenter's KUBE_CLIENT_QPS and
 * KUBE_CLIENT_BURST); responses capped at max_response bytes; API errors
 * decoded from their metav1 Status. Also the clock, rate limiter and
 * backoff helpers the other files use.
 *
 * Invariants: TLS peer and host are always verified; only https:// servers;
 * no redirects are followed; a token never appears in a message.
 * Cost: one request = one curl transfer plus one JSON decode of the body.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/kube_int.h"

/* ---- global ---- */

kp_err kp_kube_global_init(struct kp_errbuf *eb)
{
	CURLcode res = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (res)
		return kp_errf(eb, KP_ERR_IO, "curl global init: %s", curl_easy_strerror(res));
	return KP_OK;
}

void kp_kube_global_cleanup(void)
{
	curl_global_cleanup();
}

/* ---- clock ---- */

int64_t kp_kube_now_mono(const struct kp_kube_clock *c)
{
	if (c && c->mono_ms)
		return c->mono_ms(c->ud);
	return kp_mono_ms();
}

int64_t kp_kube_now_wall(const struct kp_kube_clock *c)
{
	struct timespec ts;
	if (c && c->wall_ms)
		return c->wall_ms(c->ud);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kp_kube_sleep(const struct kp_kube_clock *c, int64_t ms)
{
	struct timespec ts;
	if (ms <= 0)
		return;
	if (c && c->sleep_ms) {
		c->sleep_ms(c->ud, ms);
		return;
	}
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- rate limiter ---- */

void kp_ratelimit_init(struct kp_ratelimit *rl, double qps, int burst)
{
	memset(rl, 0, sizeof(*rl));
	rl->qps = qps;
	rl->burst = burst > 0 ? burst : 1;
	rl->tokens = rl->burst;
}

int64_t kp_ratelimit_reserve(struct kp_ratelimit *rl, int64_t now_ms)
{
	double wait;

	if (rl->qps <= 0)
		return 0;
	if (!rl->started) {
		rl->started = true;
		rl->last_ms = now_ms;
	}
	if (now_ms > rl->last_ms) {
		rl->tokens += (double)(now_ms - rl->last_ms) * rl->qps / 1000.0;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
		rl->last_ms = now_ms;
	}
	rl->tokens -= 1.0;
	if (rl->tokens >= 0)
		return 0;
	wait = -rl->tokens * 1000.0 / rl->qps;
	return (int64_t)ceil(wait);
}

/* ---- backoff ---- */

double kp_kube_rand01(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return (double)((x * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
}

void kp_backoff_init(struct kp_backoff *b, int64_t base_ms, int64_t max_ms, double jitter, uint64_t seed)
{
	memset(b, 0, sizeof(*b));
	b->base_ms = base_ms > 0 ? base_ms : 1;
	b->max_ms = max_ms >= b->base_ms ? max_ms : b->base_ms;
	b->jitter = jitter < 0 ? 0 : jitter > 1 ? 1 : jitter;
	b->rng = seed ? seed : 0x853c49e6748fea9bull;
}

int64_t kp_backoff_next(struct kp_backoff *b)
{
	int64_t d = b->base_ms;
	uint32_t i;
	double f;

	for (i = 0; i < b->attempt && d < b->max_ms; i++)
		d *= 2;
	if (d > b->max_ms)
		d = b->max_ms;
	if (b->attempt < 64)
		b->attempt++;
	f = 1.0 - b->jitter * kp_kube_rand01(&b->rng);
	d = (int64_t)((double)d * f);
	return d < 1 ? 1 : d;
}

void kp_backoff_reset(struct kp_backoff *b)
{
	b->attempt = 0;
}

/* ---- small helpers ---- */

char *kp_kube__strdup(const char *s, bool *ok)
{
	char *d;
	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*ok = false;
	return d;
}

kp_err kp_kube__query_add(struct kp_buf *buf, const char *key, const char *val)
{
	static const char hex[] = "0123456789ABCDEF";
	kp_err rc;
	const unsigned char *p;

	rc = kp_buf_addstr(buf, strchr(buf->data ? buf->data : "", '?') ? "&" : "?");
	if (!rc)
		rc = kp_buf_addstr(buf, key);
	if (!rc)
		rc = kp_buf_addstr(buf, "=");
	for (p = (const unsigned char *)val; !rc && *p; p++) {
		char e[3];
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			rc = kp_buf_add(buf, p, 1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[*p >> 4];
		e[2] = hex[*p & 15];
		rc = kp_buf_add(buf, e, 3);
	}
	return rc;
}

/* ---- client life cycle ---- */

static struct kp_kube_exec *exec_dup(const struct kp_kube_exec *x, bool *ok)
{
	struct kp_kube_exec *d = calloc(1, sizeof(*d));
	size_t i;

	if (!d) {
		*ok = false;
		return NULL;
	}
	d->api_version = kp_kube__strdup(x->api_version, ok);
	d->command = kp_kube__strdup(x->command, ok);
	d->install_hint = kp_kube__strdup(x->install_hint, ok);
	d->provide_cluster_info = x->provide_cluster_info;
	d->args = calloc(x->nargs + 1, sizeof(char *));
	d->env = calloc(x->nenv + 1, sizeof(char *));
	if (!d->args || !d->env) {
		*ok = false;
		return d;
	}
	d->nargs = x->nargs;
	d->nenv = x->nenv;
	for (i = 0; i < x->nargs; i++)
		d->args[i] = kp_kube__strdup(x->args[i], ok);
	for (i = 0; i < x->nenv; i++)
		d->env[i] = kp_kube__strdup(x->env[i], ok);
	return d;
}

static char *memdup0(const char *p, size_t n, bool *ok)
{
	char *d;
	if (!p)
		return NULL;
	d = malloc(n + 1);
	if (!d) {
		*ok = false;
		return NULL;
	}
	memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

static struct kp_kube_config *config_dup(const struct kp_kube_config *s, bool *ok)
{
	struct kp_kube_config *d = calloc(1, sizeof(*d));
	if (!d) {
		*ok = false;
		return NULL;
	}
	d->server = kp_kube__strdup(s->server, ok);
	d->ca_pem = memdup0(s->ca_pem, s->ca_len, ok);
	d->ca_len = s->ca_len;
	d->cert_pem = memdup0(s->cert_pem, s->cert_len, ok);
	d->cert_len = s->cert_len;
	d->key_pem = memdup0(s->key_pem, s->key_len, ok);
	d->key_len = s->key_len;
	d->token = kp_kube__strdup(s->token, ok);
	d->token_file = kp_kube__strdup(s->token_file, ok);
	d->namespace = kp_kube__strdup(s->namespace ? s->namespace : "default", ok);
	d->context = kp_kube__strdup(s->context, ok);
	d->cluster = kp_kube__strdup(s->cluster, ok);
	d->user = kp_kube__strdup(s->user, ok);
	if (s->exec)
		d->exec = exec_dup(s->exec, ok);
	return d;
}

kp_err kp_kube_client_new(const struct kp_kube_config *cfg, const struct kp_kube_client_opts *opts,
			  struct kp_kube_client **out, struct kp_errbuf *eb)
{
	struct kp_kube_client *c;
	bool ok = true;

	*out = NULL;
	if (!cfg || !cfg->server || strncmp(cfg->server, "https://", 8) != 0)
		return kp_errf(eb, KP_ERR_INVALID, "kube client: server must be an https:// URL, got %s",
			       cfg && cfg->server ? cfg->server : "(none)");
	if ((cfg->cert_pem == NULL) != (cfg->key_pem == NULL))
		return kp_errf(eb, KP_ERR_INVALID, "kube client: client certificate and key must be given together");
	c = calloc(1, sizeof(*c));
	if (!c)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	if (opts)
		c->opts = *opts;
	if (c->opts.qps == 0)
		c->opts.qps = KP_KUBE_DEFAULT_QPS;
	if (c->opts.burst <= 0)
		c->opts.burst = KP_KUBE_DEFAULT_BURST;
	if (c->opts.timeout_ms <= 0)
		c->opts.timeout_ms = 30000;
	if (c->opts.max_response == 0)
		c->opts.max_response = (size_t)64 << 20;
	if (c->opts.token_reread_ms <= 0)
		c->opts.token_reread_ms = 60000;
	if (c->opts.max_retries == 0)
		c->opts.max_retries = 3;
	if (c->opts.max_retries < 0)
		c->opts.max_retries = 0;
	if (c->opts.max_retry_after_ms <= 0)
		c->opts.max_retry_after_ms = 10000;
	snprintf(c->user_agent, sizeof(c->user_agent), "%s",
		 c->opts.user_agent ? c->opts.user_agent : "karpenter-c");
	c->opts.user_agent = NULL;
	c->clock = c->opts.clock;
	kp_ratelimit_init(&c->rl, c->opts.qps, c->opts.burst);
	c->cfg = config_dup(cfg, &ok);
	c->easy = curl_easy_init();
	if (!ok || !c->easy) {
		kp_kube_client_free(c);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	*out = c;
	return KP_OK;
}

void kp_kube_client_free(struct kp_kube_client *c)
{
	if (!c)
		return;
	if (c->easy)
		curl_easy_cleanup(c->easy);
	kp_kube_config_free(c->cfg);
	if (c->file_token) {
		memset(c->file_token, 0, strlen(c->file_token));
		free(c->file_token);
	}
	kp_exec_cred_clear(&c->exec);
	free(c);
}

const char *kp_kube_client_namespace(const struct kp_kube_client *c)
{
	return c->cfg->namespace;
}

uint64_t kp_kube_client_requests(const struct kp_kube_client *c)
{
	return c->requests;
}

/* ---- credentials ---- */

static kp_err read_token_file(const char *path, char **out, struct kp_errbuf *eb)
{
	struct kp_buf b;
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return kp_errf(eb, KP_ERR_IO, "read token file %s: %s", path, strerror(errno));
	kp_buf_init(&b, 64 * 1024);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (kp_buf_add(&b, chunk, (size_t)n)) {
			close(fd);
			kp_buf_free(&b);
			return kp_errf(eb, KP_ERR_LIMIT, "read token file %s: larger than 64 KiB", path);
		}
	}
	close(fd);
	if (n < 0) {
		kp_buf_free(&b);
		return kp_errf(eb, KP_ERR_IO, "read token file %s: %s", path, strerror(errno));
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
		b.data[--b.len] = '\0';
	if (b.len == 0) {
		kp_buf_free(&b);
		return kp_errf(eb, KP_ERR_INVALID, "read token file %s: empty", path);
	}
	*out = kp_buf_take(&b);
	return KP_OK;
}

kp_err kp_kube__auth_refresh(struct kp_kube_client *c, bool force, struct kp_errbuf *eb)
{
	const struct kp_kube_config *cfg = c->cfg;
	kp_err rc;

	if (cfg->exec) {
		int64_t now = kp_kube_now_wall(c->clock);
		if (force || !c->exec_valid || (c->exec.expires_ms && now >= c->exec.expires_ms)) {
			struct kp_exec_cred nc = { 0 };
			rc = kp_exec_run(cfg->exec, cfg->server, cfg->ca_pem, c->opts.timeout_ms, &nc, eb);
			if (rc)
				return rc;
			kp_exec_cred_clear(&c->exec);
			c->exec = nc;
			c->exec_valid = true;
		}
	}
	if (cfg->token_file) {
		int64_t now = kp_kube_now_mono(c->clock);
		if (force || !c->file_token || now - c->file_token_read_ms >= c->opts.token_reread_ms) {
			char *t = NULL;
			rc = read_token_file(cfg->token_file, &t, eb);
			if (rc && !c->file_token)
				return rc;
			if (!rc) {
				free(c->file_token);
				c->file_token = t;
			}
			/* a failed re-read keeps the last good token, as client-go does */
			c->file_token_read_ms = now;
		}
	}
	return KP_OK;
}

static const char *current_token(const struct kp_kube_client *c)
{
	if (c->exec_valid && c->exec.token)
		return c->exec.token;
	if (c->file_token)
		return c->file_token;
	return c->cfg->token;
}

kp_err kp_kube__setup_easy(struct kp_kube_client *c, CURL *h, const char *method, const char *path,
			   const char *content_type, struct curl_slist **hdrs, struct kp_errbuf *eb)
{
	char url[KP_KUBE_MAX_URL];
	struct curl_slist *l = NULL, *t;
	const char *tok = current_token(c);
	const char *cert = c->cfg->cert_pem, *key = c->cfg->key_pem;
	size_t cert_len = c->cfg->cert_len, key_len = c->cfg->key_len;
	char line[8192];
	struct curl_blob blob;
	int bad = 0;

	*hdrs = NULL;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->cfg->server, path) >= sizeof(url))
		return kp_errf(eb, KP_ERR_RANGE, "%s %s: URL too long", method, path);
	if (c->exec_valid && c->exec.cert_pem && c->exec.key_pem) {
		cert = c->exec.cert_pem;
		cert_len = strlen(cert);
		key = c->exec.key_pem;
		key_len = strlen(key);
	}
	bad |= curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK;
	if (c->cfg->ca_pem) {
		blob.data = c->cfg->ca_pem;
		blob.len = c->cfg->ca_len;
		blob.flags = CURL_BLOB_COPY;
		bad |= curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK;
	}
	if (cert && key) {
		blob.data = (void *)cert;
		blob.len = cert_len;
		blob.flags = CURL_BLOB_COPY;
		bad |= curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob) != CURLE_OK;
		blob.data = (void *)key;
		blob.len = key_len;
		bad |= curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob) != CURLE_OK;
	}
	if (strcmp(method, "GET") == 0)
		bad |= curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) != CURLE_OK;
	else
		bad |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK;
	if (bad)
		return kp_errf(eb, KP_ERR_IO, "%s %s: libcurl refused an option (TLS backend without blob support?)",
			       method, path);

	t = curl_slist_append(l, "Accept: application/json");
	if (t)
		l = t;
	if (t && content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", content_type);
		t = curl_slist_append(l, line);
	}
	if (t && tok) {
		if ((size_t)snprintf(line, sizeof(line), "Authorization: Bearer %s", tok) >= sizeof(line)) {
			curl_slist_free_all(l);
			return kp_errf(eb, KP_ERR_LIMIT, "%s %s: bearer token too long", method, path);
		}
		t = curl_slist_append(l, line);
		memset(line, 0, sizeof(line));
	}
	/* curl adds "Expect: 100-continue" to large bodies; the API server does not need it */
	if (t)
		t = curl_slist_append(l, "Expect:");
	if (!t) {
		curl_slist_free_all(l);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
	*hdrs = l;
	return KP_OK;
}

/* ---- status ---- */

static const char *reason_for(long code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 406: return "NotAcceptable";
	case 409: return "Conflict";
	case 410: return "Expired";
	case 413: return "RequestEntityTooLarge";
	case 415: return "UnsupportedMediaType";
	case 422: return "Invalid";
	case 429: return "TooManyRequests";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	case 504: return "Timeout";
	default: return "";
	}
}

void kp_kube__status_from_body(struct kp_kube_status *st, long code, const char *body, size_t len)
{
	json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	const char *reason = NULL, *msg = NULL;
	size_t i;

	st->code = code;
	st->reason[0] = st->message[0] = '\0';
	if (json_is_object(j) && kp_strcmp0(json_string_value(json_object_get(j, "kind")), "Status") == 0) {
		json_t *jc = json_object_get(j, "code");
		reason = json_string_value(json_object_get(j, "reason"));
		msg = json_string_value(json_object_get(j, "message"));
		if (json_is_integer(jc) && json_integer_value(jc) > 0 && code == 200)
			st->code = (long)json_integer_value(jc);
	}
	snprintf(st->reason, sizeof(st->reason), "%s", reason && *reason ? reason : reason_for(st->code));
	if (msg) {
		snprintf(st->message, sizeof(st->message), "%s", msg);
	} else if (body && len) {
		size_t n = len < sizeof(st->message) - 1 ? len : sizeof(st->message) - 1;
		for (i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)body[i];
			st->message[i] = ch >= 32 && ch < 127 ? (char)ch : ' ';
		}
		st->message[n] = '\0';
		while (n && st->message[n - 1] == ' ')
			st->message[--n] = '\0';
	}
	json_decref(j);
}

kp_err kp_kube__status_err(struct kp_errbuf *eb, const char *method, const char *path,
			   const struct kp_kube_status *st)
{
	kp_err code = st->code == 404 ? KP_ERR_NOTFOUND : KP_ERR_IO;
	return kp_errf(eb, code, "%s %s: %ld %s: %s", method, path, st->code, st->reason[0] ? st->reason : "Error",
		       st->message[0] ? st->message : "(no message)");
}

bool kp_kube_is_notfound(const struct kp_kube_status *st)
{
	return st && st->code == 404;
}

bool kp_kube_is_conflict(const struct kp_kube_status *st)
{
	return st && st->code == 409 && strcmp(st->reason, "AlreadyExists") != 0;
}

bool kp_kube_is_gone(const struct kp_kube_status *st)
{
	return st && st->code == 410;
}

bool kp_kube_is_already_exists(const struct kp_kube_status *st)
{
	return st && st->code == 409 && strcmp(st->reason, "AlreadyExists") == 0;
}

void kp_kube__throttle(struct kp_kube_client *c)
{
	int64_t wait = kp_ratelimit_reserve(&c->rl, kp_kube_now_mono(c->clock));
	kp_kube_sleep(c->clock, wait);
}

/* ---- blocking request ---- */

struct sink {
	struct kp_buf body;
	bool over;
	int64_t retry_after_ms;
};

static size_t sink_write(char *p, size_t sz, size_t n, void *ud)
{
	struct sink *s = ud;
	if (kp_buf_add(&s->body, p, sz * n)) {
		s->over = true;
		return 0;
	}
	return sz * n;
}

static size_t sink_header(char *p, size_t sz, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = sz * n;
	char v[32];
	int64_t secs;

	if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		size_t i = 12, j = 0;
		while (i < len && p[i] == ' ')
			i++;
		while (i < len && j < sizeof(v) - 1 && p[i] >= '0' && p[i] <= '9')
			v[j++] = p[i++];
		v[j] = '\0';
		if (j && kp_parse_i64(v, &secs) == KP_OK && secs < 1000000)
			s->retry_after_ms = secs * 1000;
	}
	return len;
}

kp_err kp_kube__request_ex(struct kp_kube_client *c, const char *method, const char *path, const char *ctype,
			   json_t *body, bool retry_429, json_t **out, struct kp_kube_status *st,
			   struct kp_errbuf *eb)
{
	struct kp_kube_status local;
	char *payload = NULL;
	char cerr[CURL_ERROR_SIZE];
	struct sink s;
	bool auth_retried = false, force_auth = false;
	int attempt = 0;
	kp_err rc = KP_OK;

	if (out)
		*out = NULL;
	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	st->retry_after_ms = -1;
	if (body) {
		payload = json_dumps(body, JSON_COMPACT);
		if (!payload)
			return kp_errf(eb, KP_ERR_NOMEM, "%s %s: encode body: out of memory", method, path);
		if (!ctype)
			ctype = "application/json";
	}
	kp_buf_init(&s.body, c->opts.max_response);
	for (;;) {
		struct curl_slist *hdrs = NULL;
		CURLcode res;
		long code = 0;

		kp_buf_reset(&s.body);
		s.over = false;
		s.retry_after_ms = -1;
		kp_kube__throttle(c);
		rc = kp_kube__auth_refresh(c, force_auth, eb);
		force_auth = false;
		if (rc) {
			kp_err_prefix(eb, "%s %s: credentials", method, path);
			break;
		}
		curl_easy_reset(c->easy);
		rc = kp_kube__setup_easy(c, c->easy, method, path, ctype, &hdrs, eb);
		if (rc)
			break;
		cerr[0] = '\0';
		curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, cerr);
		curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)c->opts.timeout_ms);
		curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, sink_write);
		curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &s);
		curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, sink_header);
		curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, &s);
		if (payload) {
			curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, payload);
			curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
		}
		c->requests++;
		res = curl_easy_perform(c->easy);
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(hdrs);
		if (res != CURLE_OK) {
			if (s.over)
				rc = kp_errf(eb, KP_ERR_LIMIT, "%s %s: response larger than %zu bytes", method, path,
					     c->opts.max_response);
			else
				rc = kp_errf(eb, KP_ERR_IO, "%s %s: %s", method, path,
					     cerr[0] ? cerr : curl_easy_strerror(res));
			break;
		}
		st->code = code;
		st->retry_after_ms = s.retry_after_ms;
		if (code == 401 && !auth_retried && (c->cfg->exec || c->cfg->token_file)) {
			auth_retried = true;
			force_auth = true;
			continue;
		}
		if (retry_429 && attempt < c->opts.max_retries &&
		    (code == 429 || (code >= 500 && s.retry_after_ms >= 0))) {
			int64_t wait = s.retry_after_ms >= 0 ? s.retry_after_ms : 1000;
			if (wait > c->opts.max_retry_after_ms)
				wait = c->opts.max_retry_after_ms;
			attempt++;
			kp_kube_sleep(c->clock, wait);
			continue;
		}
		if (code < 200 || code >= 300) {
			kp_kube__status_from_body(st, code, s.body.data, s.body.len);
			st->retry_after_ms = s.retry_after_ms;
			rc = kp_kube__status_err(eb, method, path, st);
			break;
		}
		if (out && s.body.len) {
			json_error_t je;
			*out = json_loadb(s.body.data, s.body.len, 0, &je);
			if (!*out)
				rc = kp_errf(eb, KP_ERR_INVALID, "%s %s: decode response: %s at line %d", method, path,
					     je.text, je.line);
		}
		break;
	}
	kp_buf_free(&s.body);
	free(payload);
	return rc;
}

kp_err kp_kube_request(struct kp_kube_client *c, const char *method, const char *path, const char *content_type,
		       json_t *body, json_t **out, struct kp_kube_status *st, struct kp_errbuf *eb)
{
	return kp_kube__request_ex(c, method, path, content_type, body, true, out, st, eb);
}
