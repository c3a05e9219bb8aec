/*
 * client.c - one logical AWS API call: endpoint resolution, SigV4 signing
 * by libcurl (CURLOPT_AWS_SIGV4, session token in X-Amz-Security-Token),
 * the Query protocol (form body, XML answer) and the JSON protocol
 * (X-Amz-Target, JSON answer), error decoding (EC2 <Response><Errors>,
 * IAM/STS <ErrorResponse>, JSON __type, SQS x-amzn-query-error), and
 * retries with full-jitter exponential backoff on throttling, 5xx and
 * transport errors. A ClientToken, when asked for, is drawn once per
 * logical call and sent unchanged on every retry (EC2 idempotency).
 *
 * Invariants: answers are capped at KP_AWS_RESP_MAX bytes; only http(s)
 * URLs; no redirects; secrets never reach a message.
 * Cost: one curl easy handle per attempt (calls come from several threads).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/parser.h>

#include "cloud/aws/aws.h"

#define KP_AWS_RESP_MAX (256u << 20)
#define KP_AWS_REFRESH_MS (5 * 60 * 1000)

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void copy(char *dst, size_t n, const char *src)
{
	size_t k;

	if (!n)
		return;
	src = src ? src : "";
	k = strnlen(src, n - 1);
	memcpy(dst, src, k);
	dst[k] = 0;
}

bool kp_aws_code_throttle(const char *code)
{
	static const char *const codes[] = { "Throttling", "ThrottlingException", "ThrottledException",
					     "RequestThrottledException", "TooManyRequestsException",
					     "ProvisionedThroughputExceededException", "TransactionInProgressException",
					     "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
					     "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
					     "EC2ThrottledException", "InternalError", "ServiceUnavailable",
					     "InternalFailure", "Unavailable" };

	for (size_t i = 0; code && i < KP_ARRAY_LEN(codes); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

bool kp_aws_code_ice(const char *code)
{
	/* karpenter-provider-aws pkg/errors/errors.go unfulfillableCapacityErrorCodes */
	static const char *const codes[] = { "InsufficientInstanceCapacity", "MaxSpotInstanceCountExceeded",
					     "VcpuLimitExceeded", "UnfulfillableCapacity", "Unsupported",
					     "InsufficientFreeAddressesInSubnet", "MaxFleetCountExceeded",
					     "ReservationCapacityExceeded" };

	for (size_t i = 0; code && i < KP_ARRAY_LEN(codes); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

static bool code_notfound(const char *code)
{
	return strstr(code, "NotFound") || strcmp(code, "NoSuchEntity") == 0 ||
	       strcmp(code, "ParameterNotFound") == 0 || strstr(code, "NonExistentQueue") ||
	       strcmp(code, "QueueDoesNotExist") == 0;
}

/* ---- client ---- */

kp_err kp_aws_client_new(const struct kp_aws_config *cfg, struct kp_aws_client **out, struct kp_errbuf *eb)
{
	struct kp_aws_client *c = calloc(1, sizeof(*c));
	const char *env;
	unsigned char seed[8];

	*out = NULL;
	if (!c)
		return kp_errf(eb, KP_ERR_NOMEM, "aws client: out of memory");
	xmlInitParser();
	if (cfg)
		c->cfg = *cfg;
	if (c->cfg.max_attempts <= 0)
		c->cfg.max_attempts = 5;
	if (c->cfg.backoff_base_ms <= 0)
		c->cfg.backoff_base_ms = 100;
	if (c->cfg.backoff_cap_ms <= 0)
		c->cfg.backoff_cap_ms = 5000;
	if (c->cfg.timeout_ms <= 0)
		c->cfg.timeout_ms = 30000;
	if (!c->cfg.user_agent)
		c->cfg.user_agent = "karpenter-c";
	copy(c->profile, sizeof(c->profile),
	     c->cfg.profile ? c->cfg.profile : ((env = getenv("AWS_PROFILE")) && *env ? env : "default"));
	copy(c->endpoint, sizeof(c->endpoint), c->cfg.endpoint);
	copy(c->pricing_endpoint, sizeof(c->pricing_endpoint), c->cfg.pricing_endpoint);
	if (c->cfg.endpoint && strncmp(c->cfg.endpoint, "http://", 7) != 0 &&
	    strncmp(c->cfg.endpoint, "https://", 8) != 0) {
		free(c);
		return kp_errf(eb, KP_ERR_INVALID, "aws endpoint \"%s\": want an http:// or https:// URL",
			       cfg->endpoint);
	}
	if (c->cfg.pricing_endpoint && *c->cfg.pricing_endpoint &&
	    strncmp(c->cfg.pricing_endpoint, "http://", 7) != 0 &&
	    strncmp(c->cfg.pricing_endpoint, "https://", 8) != 0) {
		free(c);
		return kp_errf(eb, KP_ERR_INVALID, "aws pricing endpoint \"%s\": want an http:// or https:// URL",
			       cfg->pricing_endpoint);
	}
	if (c->cfg.region && *c->cfg.region)
		copy(c->region, sizeof(c->region), c->cfg.region);
	else
		kp_aws_region_from_env(c->profile, c->region, sizeof(c->region));
	if (!c->region[0]) {
		/* IMDS: the instance's own region (skipped when disabled) */
		const char *dis = getenv("AWS_EC2_METADATA_DISABLED");

		if (!dis || strcasecmp(dis, "true") != 0) {
			const char *base = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
			char url[512], *tok = NULL, *reg = NULL, hdr[600];
			const char *th[] = { "X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL };
			long st = 0;

			base = base && *base ? base : "http://169.254.169.254";
			snprintf(url, sizeof(url), "%s/latest/api/token", base);
			if (!kp_aws_http("PUT", url, th, 1000, &st, &tok, NULL) && st == 200) {
				const char *gh[] = { hdr, NULL };

				snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", tok);
				snprintf(url, sizeof(url), "%s/latest/meta-data/placement/region", base);
				if (!kp_aws_http("GET", url, gh, 1000, &st, &reg, NULL) && st == 200)
					copy(c->region, sizeof(c->region), reg);
			}
			free(tok);
			free(reg);
		}
	}
	if (!c->region[0]) {
		free(c);
		return kp_errf(eb, KP_ERR_INVALID,
			       "aws: no region (set --aws-region, AWS_REGION, or region in the profile)");
	}
	pthread_mutex_init(&c->mu, NULL);
	if (getrandom(seed, sizeof(seed), 0) == (ssize_t)sizeof(seed))
		memcpy(&c->rng, seed, sizeof(seed));
	c->rng |= 1;
	*out = c;
	return KP_OK;
}

void kp_aws_client_free(struct kp_aws_client *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->mu);
	memset(&c->creds, 0, sizeof(c->creds));
	free(c);
}

void kp_aws_endpoint(const struct kp_aws_client *c, const char *service, char *buf, size_t n)
{
	char var[64];
	const char *env;
	size_t k;

	if (c->pricing_endpoint[0] && strcmp(service, "pricing") == 0) {
		copy(buf, n, c->pricing_endpoint);
		goto trim;
	}
	if (c->endpoint[0]) {
		copy(buf, n, c->endpoint);
		goto trim;
	}
	snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", service);
	for (char *p = var; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	if (((env = getenv(var)) && *env) || ((env = getenv("AWS_ENDPOINT_URL")) && *env)) {
		copy(buf, n, env);
		goto trim;
	}
	if (strcmp(service, "iam") == 0 && strncmp(c->region, "cn-", 3) == 0)
		snprintf(buf, n, "https://iam.cn-north-1.amazonaws.com.cn");
	else if (strcmp(service, "iam") == 0)
		snprintf(buf, n, "https://iam.amazonaws.com");
	else if (strcmp(service, "pricing") == 0)
		snprintf(buf, n, "https://api.pricing.%s.%s", kp_aws_pricing_region(c->region),
			 kp_aws_domain(c->region));
	else
		snprintf(buf, n, "https://%s.%s.%s", service, c->region, kp_aws_domain(c->region));
trim:
	k = strlen(buf);
	while (k > 0 && buf[k - 1] == '/')
		buf[--k] = 0;
}

const char *kp_aws_sign_region(const struct kp_aws_client *c, const char *service)
{
	if (strcmp(service, "iam") == 0)
		return strncmp(c->region, "cn-", 3) == 0 ? "cn-north-1" : "us-east-1";
	if (strcmp(service, "pricing") == 0)
		return kp_aws_pricing_region(c->region);
	return c->region;
}

/* The endpoint with the trailing "/" of the request path. */
static void endpoint_slash(const struct kp_aws_client *c, const char *service, char *url, size_t n)
{
	size_t k;

	kp_aws_endpoint(c, service, url, n - 1);
	k = strlen(url);
	url[k] = '/';
	url[k + 1] = 0;
}

/* ---- credentials cache ---- */

kp_err kp_aws_client_creds(struct kp_aws_client *c, struct kp_aws_creds *out, struct kp_errbuf *eb)
{
	kp_err rc = KP_OK;

	pthread_mutex_lock(&c->mu);
	if (!c->have_creds || (c->creds.expires_ms && c->creds.expires_ms - wall_ms() < KP_AWS_REFRESH_MS)) {
		struct kp_aws_creds fresh;

		pthread_mutex_unlock(&c->mu);
		/* resolved without the lock: the chain may make HTTP calls */
		rc = kp_aws_creds_resolve(c, &fresh, eb);
		pthread_mutex_lock(&c->mu);
		if (!rc) {
			c->creds = fresh;
			c->have_creds = true;
		} else if (c->have_creds && (!c->creds.expires_ms || c->creds.expires_ms > wall_ms())) {
			rc = KP_OK; /* refresh failed: the old ones still hold */
		}
		memset(&fresh, 0, sizeof(fresh));
	}
	if (!rc)
		*out = c->creds;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void creds_invalidate(struct kp_aws_client *c)
{
	pthread_mutex_lock(&c->mu);
	c->have_creds = false;
	pthread_mutex_unlock(&c->mu);
}

/* ---- one attempt ---- */

struct xfer {
	struct kp_buf body;
	char request_id[128];
	char query_error[160];
};

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
	struct xfer *x = ud;

	if (kp_buf_add(&x->body, p, sz * nm))
		return 0;
	return sz * nm;
}

static void header_value(const char *line, size_t n, const char *name, char *dst, size_t dn)
{
	size_t k = strlen(name);

	if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return;
	line += k + 1;
	n -= k + 1;
	while (n && (*line == ' ' || *line == '\t'))
		line++, n--;
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	if (n >= dn)
		n = dn - 1;
	memcpy(dst, line, n);
	dst[n] = 0;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
	struct xfer *x = ud;
	size_t n = sz * nm;

	header_value(p, n, "x-amzn-requestid", x->request_id, sizeof(x->request_id));
	header_value(p, n, "x-amz-request-id", x->request_id, sizeof(x->request_id));
	header_value(p, n, "x-amzn-query-error", x->query_error, sizeof(x->query_error));
	return n;
}

struct req {
	const char *service;
	const char *url;
	const char *content_type;
	const char *target;       /* X-Amz-Target or NULL */
	const char *body;
	size_t blen;
	bool sign;
};

/* Returns KP_OK when an HTTP answer came back (any status), KP_ERR_IO on a
 * transport failure (message in eb). */
static kp_err attempt(struct kp_aws_client *c, const struct req *rq, const struct kp_aws_creds *cr,
		      struct xfer *x, long *status, struct kp_errbuf *eb)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hl = NULL;
	char line[4200], sig[160];
	const char *sign_region = kp_aws_sign_region(c, rq->service);
	CURLcode res;
	kp_err rc = KP_OK;

	*status = 0;
	if (!h)
		return kp_errf(eb, KP_ERR_NOMEM, "curl: out of memory");
	snprintf(line, sizeof(line), "Content-Type: %s", rq->content_type);
	hl = curl_slist_append(hl, line);
	if (rq->target) {
		snprintf(line, sizeof(line), "X-Amz-Target: %s", rq->target);
		hl = curl_slist_append(hl, line);
	}
	if (rq->sign && cr->token[0]) {
		snprintf(line, sizeof(line), "X-Amz-Security-Token: %s", cr->token);
		hl = curl_slist_append(hl, line);
	}
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->blen);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->cfg.user_agent);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->cfg.timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (rq->sign) {
		snprintf(sig, sizeof(sig), "aws:amz:%s:%s", sign_region, rq->service);
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sig);
		curl_easy_setopt(h, CURLOPT_USERNAME, cr->akid);
		curl_easy_setopt(h, CURLOPT_PASSWORD, cr->secret);
	}
	res = curl_easy_perform(h);
	if (res != CURLE_OK)
		rc = kp_errf(eb, KP_ERR_IO, "%s: %s", rq->url, curl_easy_strerror(res));
	else
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hl);
	return rc;
}

/* Decodes an error answer's code and message into resp. */
static void decode_error(const struct xfer *x, bool json, struct kp_aws_resp *resp)
{
	resp->code[0] = resp->message[0] = 0;
	if (x->query_error[0]) {
		/* "AWS.SimpleQueueService.NonExistentQueue;Sender" */
		const char *semi = strchr(x->query_error, ';');
		size_t k = semi ? (size_t)(semi - x->query_error) : strlen(x->query_error);

		if (k >= sizeof(resp->code))
			k = sizeof(resp->code) - 1;
		memcpy(resp->code, x->query_error, k);
		resp->code[k] = 0;
	}
	if (!x->body.data || !x->body.len)
		goto fallback;
	if (json || x->body.data[0] == '{') {
		json_t *j = json_loadb(x->body.data, x->body.len, 0, NULL);
		const char *t, *m;

		if (j) {
			t = json_string_value(json_object_get(j, "__type"));
			if (!t)
				t = json_string_value(json_object_get(j, "code"));
			m = json_string_value(json_object_get(j, "message"));
			if (!m)
				m = json_string_value(json_object_get(j, "Message"));
			if (t && !resp->code[0]) {
				const char *hash = strrchr(t, '#');

				copy(resp->code, sizeof(resp->code), hash ? hash + 1 : t);
			}
			if (m)
				copy(resp->message, sizeof(resp->message), m);
			json_decref(j);
		}
	} else {
		struct kp_arena a;
		struct kp_aws_xnode *root;

		kp_arena_init(&a);
		if (!kp_aws_xml_parse(&a, x->body.data, x->body.len, &root, NULL)) {
			const char *code = kp_aws_xml_text(kp_aws_xml_find(root, "Error"), "Code");
			const char *msg = kp_aws_xml_text(kp_aws_xml_find(root, "Error"), "Message");

			if (code && !resp->code[0])
				copy(resp->code, sizeof(resp->code), code);
			if (msg)
				copy(resp->message, sizeof(resp->message), msg);
		}
		kp_arena_free(&a);
	}
fallback:
	if (!resp->code[0])
		snprintf(resp->code, sizeof(resp->code), "HTTP%ld", resp->status);
	if (!resp->message[0] && x->body.data && x->body.len && x->body.data[0] != '<' && x->body.data[0] != '{')
		copy(resp->message, sizeof(resp->message) < 200 ? sizeof(resp->message) : 200, x->body.data);
}

static int64_t jitter(struct kp_aws_client *c, int attempt_no)
{
	int64_t cap = c->cfg.backoff_base_ms;
	uint64_t r;

	for (int i = 1; i < attempt_no && cap < c->cfg.backoff_cap_ms; i++)
		cap *= 2;
	if (cap > c->cfg.backoff_cap_ms)
		cap = c->cfg.backoff_cap_ms;
	pthread_mutex_lock(&c->mu);
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	r = c->rng;
	pthread_mutex_unlock(&c->mu);
	return (int64_t)(r % (uint64_t)(cap + 1));
}

static void stat_add(struct kp_aws_client *c, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&c->mu);
	*field += n;
	pthread_mutex_unlock(&c->mu);
}

/* The retry loop around attempt(). On success *x holds the body. */
static kp_err call(struct kp_aws_client *c, const struct req *rq, const char *what, bool json, struct xfer *x,
		   struct kp_aws_resp *resp, struct kp_errbuf *eb)
{
	struct kp_aws_creds cr;
	kp_err rc = KP_ERR_IO;
	bool refreshed = false;

	memset(&cr, 0, sizeof(cr));
	stat_add(c, &c->requests, 1);
	for (int n = 1; n <= c->cfg.max_attempts; n++) {
		bool retry = false;
		long st = 0;

		kp_buf_free(&x->body);
		kp_buf_init(&x->body, KP_AWS_RESP_MAX);
		x->request_id[0] = x->query_error[0] = 0;
		resp->attempts = n;
		if (rq->sign && (rc = kp_aws_client_creds(c, &cr, eb))) {
			kp_err_prefix(eb, "%s: credentials: ", what);
			resp->status = 0;
			copy(resp->code, sizeof(resp->code), "NoCredentials");
			copy(resp->message, sizeof(resp->message), eb ? eb->msg : "no credentials");
			rc = KP_ERR_INVALID;
			break;
		}
		stat_add(c, &c->attempts, 1);
		rc = attempt(c, rq, &cr, x, &st, eb);
		resp->status = st;
		copy(resp->request_id, sizeof(resp->request_id), x->request_id);
		if (rc) {
			copy(resp->code, sizeof(resp->code), "RequestError");
			copy(resp->message, sizeof(resp->message), eb ? eb->msg : "transport error");
			retry = true;
		} else if (st >= 200 && st < 300) {
			resp->code[0] = resp->message[0] = 0;
			rc = KP_OK;
			break;
		} else {
			decode_error(x, json, resp);
			if (kp_aws_code_throttle(resp->code))
				stat_add(c, &c->throttled, 1);
			retry = st >= 500 || st == 429 || kp_aws_code_throttle(resp->code);
			if (!retry && !refreshed &&
			    (strcmp(resp->code, "ExpiredToken") == 0 || strcmp(resp->code, "ExpiredTokenException") == 0 ||
			     strcmp(resp->code, "RequestExpired") == 0)) {
				/* credentials expired under us: resolve again once */
				creds_invalidate(c);
				refreshed = true;
				retry = true;
			}
			rc = code_notfound(resp->code) ? KP_ERR_NOTFOUND : retry ? KP_ERR_IO : KP_ERR_INVALID;
		}
		if (!retry || n == c->cfg.max_attempts)
			break;
		stat_add(c, &c->retries, 1);
		sleep_ms(jitter(c, n));
	}
	memset(&cr, 0, sizeof(cr));
	if (rc)
		kp_errf(eb, rc, "%s: %s%s%s (HTTP %ld, %d attempt%s)", what, resp->code, resp->message[0] ? ": " : "",
			resp->message, resp->status, resp->attempts, resp->attempts == 1 ? "" : "s");
	return rc;
}

kp_err kp_aws_query(struct kp_aws_client *c, const char *service, struct kp_aws_params *p, bool client_token,
		    bool unsigned_, struct kp_arena *a, struct kp_aws_resp *resp, struct kp_errbuf *eb)
{
	char url[600], what[160];
	struct xfer x;
	struct req rq;
	kp_err rc;

	memset(resp, 0, sizeof(*resp));
	snprintf(what, sizeof(what), "%s %s", service, p->action);
	if (client_token && !kp_aws_params_has(p, "ClientToken")) {
		char tok[40];

		kp_aws_uuid(tok, sizeof(tok));
		kp_aws_params_add(p, "ClientToken", tok);
	}
	if (p->failed || !p->body.data)
		return kp_errf(eb, KP_ERR_LIMIT, "%s: request too large", what);
	endpoint_slash(c, service, url, sizeof(url));
	rq = (struct req){ service, url, "application/x-www-form-urlencoded; charset=utf-8", NULL, p->body.data,
			   p->body.len, !unsigned_ };
	memset(&x, 0, sizeof(x));
	kp_buf_init(&x.body, KP_AWS_RESP_MAX);
	rc = call(c, &rq, what, false, &x, resp, eb);
	if (!rc) {
		if ((rc = kp_aws_xml_parse(a, x.body.data, x.body.len, &resp->xml, eb)))
			kp_err_prefix(eb, "%s: answer: ", what);
	}
	kp_buf_free(&x.body);
	return rc;
}

kp_err kp_aws_json(struct kp_aws_client *c, const char *service, const char *target, const char *json_version,
		   const char *body, struct kp_aws_resp *resp, struct kp_errbuf *eb)
{
	char url[600], ct[64], what[160];
	struct xfer x;
	struct req rq;
	const char *dot = strrchr(target, '.');
	kp_err rc;

	memset(resp, 0, sizeof(*resp));
	snprintf(what, sizeof(what), "%s %s", service, dot ? dot + 1 : target);
	snprintf(ct, sizeof(ct), "application/x-amz-json-%s", json_version);
	endpoint_slash(c, service, url, sizeof(url));
	rq = (struct req){ service, url, ct, target, body, strlen(body), true };
	memset(&x, 0, sizeof(x));
	kp_buf_init(&x.body, KP_AWS_RESP_MAX);
	rc = call(c, &rq, what, true, &x, resp, eb);
	if (!rc) {
		json_error_t je;

		resp->json = x.body.len ? json_loadb(x.body.data, x.body.len, 0, &je) : json_object();
		if (!resp->json)
			rc = kp_errf(eb, KP_ERR_INVALID, "%s: answer: %s", what, je.text);
	}
	kp_buf_free(&x.body);
	return rc;
}

void kp_aws_resp_clear(struct kp_aws_resp *r)
{
	if (!r)
		return;
	json_decref(r->json);
	r->json = NULL;
	r->xml = NULL;
}

/* ---- plain HTTP for credential endpoints ---- */

kp_err kp_aws_http(const char *method, const char *url, const char *const *headers, int64_t timeout_ms,
		   long *status, char **out, struct kp_errbuf *eb)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct xfer x;
	CURLcode res;
	kp_err rc = KP_OK;

	*out = NULL;
	*status = 0;
	if (!h)
		return kp_errf(eb, KP_ERR_NOMEM, "curl: out of memory");
	memset(&x, 0, sizeof(x));
	kp_buf_init(&x.body, 1u << 20);
	for (int i = 0; headers && headers[i]; i++)
		hl = curl_slist_append(hl, headers[i]);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	res = curl_easy_perform(h);
	if (res != CURLE_OK)
		rc = kp_errf(eb, KP_ERR_IO, "%s %s: %s", method, url, curl_easy_strerror(res));
	else
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hl);
	if (rc)
		kp_buf_free(&x.body);
	else
		*out = kp_buf_take(&x.body);
	return rc;
}
