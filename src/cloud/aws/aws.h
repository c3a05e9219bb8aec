/*
 * aws.h - the AWS client under the AWS cloud provider: XML (EC2/IAM/STS
 * Query protocol answers) into a small arena tree, query parameters, one
 * request function per protocol (Query, JSON 1.0/1.1) signed with libcurl's
 * SigV4, retries with jittered backoff, and the credential chain.
 *
 * Life cycle: kp_aws_client_new() once (from main, before threads: it
 * initializes libxml2), then any thread may call kp_aws_query() or
 * kp_aws_json() on the same client (credentials are refreshed under a
 * mutex; each call uses its own curl handle). kp_aws_client_free().
 * Parsed XML lives in the arena the caller passes; JSON answers are owned
 * by the kp_aws_resp and released by kp_aws_resp_clear().
 *
 * Secrets never appear in a message or a log line.
 */
#ifndef KARPENTER_CLOUD_AWS_H
#define KARPENTER_CLOUD_AWS_H

#include <jansson.h>
#include <pthread.h>

#include "karpenter/base.h"

/* ---- XML (xml.c) ---- */

/* One element: local name (namespace dropped), its text when it has no
 * element children (else NULL), first child and next sibling. */
struct kp_aws_xnode {
	const char *name;
	const char *text;
	struct kp_aws_xnode *child;
	struct kp_aws_xnode *next;
};

#define KP_AWS_XML_MAX_DEPTH 64
#define KP_AWS_XML_MAX_NODES 2000000

/* Parses buf (len bytes, need not be NUL-terminated) into a tree allocated
 * in a: no network, no entity expansion, no DTD loading; depth and element
 * count are capped. The entry point a fuzz harness calls. KP_ERR_INVALID
 * (not XML, too deep, too many elements) or KP_ERR_NOMEM, with eb set. */
kp_err kp_aws_xml_parse(struct kp_arena *a, const char *buf, size_t len, struct kp_aws_xnode **root,
			struct kp_errbuf *eb);
/* First child of n named name, or NULL (n may be NULL). */
const struct kp_aws_xnode *kp_aws_xml_child(const struct kp_aws_xnode *n, const char *name);
/* Follows a path of child names separated by '/' ("reservationSet/item");
 * NULL if any step is absent. */
const struct kp_aws_xnode *kp_aws_xml_path(const struct kp_aws_xnode *n, const char *path);
/* Text of the element at path below n, or NULL. */
const char *kp_aws_xml_text(const struct kp_aws_xnode *n, const char *path);
/* First element named name anywhere below n (depth first), or NULL. */
const struct kp_aws_xnode *kp_aws_xml_find(const struct kp_aws_xnode *n, const char *name);

/* ---- query parameters (params.c) ---- */

/* A form-encoded Query protocol body being built: "Action=X&Version=Y&k=v...". */
struct kp_aws_params {
	struct kp_buf body;
	const char *action;     /* borrowed */
	bool failed;            /* an add ran out of room: the request is refused */
};

#define KP_AWS_BODY_MAX (4u << 20)

/* Starts a body for action (borrowed string) and API version. */
void kp_aws_params_init(struct kp_aws_params *p, const char *action, const char *version);
/* Appends key=value, both percent-encoded (RFC 3986 unreserved kept). */
void kp_aws_params_add(struct kp_aws_params *p, const char *key, const char *value);
/* Appends a key built from fmt (e.g. "Filter.%d.Value.%d") with value. */
void kp_aws_params_addf(struct kp_aws_params *p, const char *value, const char *keyfmt, ...)
	__attribute__((format(printf, 3, 4)));
/* True iff a parameter named key was added (exact key match). */
bool kp_aws_params_has(const struct kp_aws_params *p, const char *key);
void kp_aws_params_free(struct kp_aws_params *p);
/* Percent-encodes s into b (RFC 3986: A-Z a-z 0-9 - _ . ~ kept). */
kp_err kp_aws_urlencode(struct kp_buf *b, const char *s);
/* A random RFC 4122 version 4 UUID into buf (>= 37 bytes). */
void kp_aws_uuid(char *buf, size_t n);

/* ---- the Pricing API (pricing.c) ---- */

/* The region whose Pricing endpoint answers for a cluster in region, as
 * pricing.go NewAPI picks it: "ap-*" ap-south-1, "cn-*" cn-northwest-1,
 * "eu-*" eu-central-1, else us-east-1 (NULL region: us-east-1). */
const char *kp_aws_pricing_region(const char *region);
/* "amazonaws.com.cn" for the China regions ("cn-*"), else "amazonaws.com". */
const char *kp_aws_domain(const char *region);
/* The currency of the Pricing API's answers for region: "CNY" in cn-*, else "USD". */
const char *kp_aws_pricing_currency(const char *region);
/* The GetProducts body (compact JSON, malloc'ed; NULL when out of memory)
 * for the cluster's region (the regionCode filter), tenancy and
 * productFamily, with NextToken when next_token is non-empty. */
char *kp_aws_pricing_body(const char *region, const char *tenancy, const char *family, const char *next_token);

/* ---- credentials (creds.c) ---- */

struct kp_aws_creds {
	char akid[128];
	char secret[128];
	char token[4096];         /* session token, "" when none */
	int64_t expires_ms;       /* unix ms; 0 = never */
	char source[32];          /* "env", "profile", "web-identity", "container", "imds" */
};

struct kp_aws_client;

/* Resolves credentials by the SDK's default chain: environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), web
 * identity (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, STS
 * AssumeRoleWithWebIdentity), shared files (AWS_SHARED_CREDENTIALS_FILE,
 * AWS_CONFIG_FILE, profile AWS_PROFILE or "default"), EKS Pod Identity /
 * container (AWS_CONTAINER_CREDENTIALS_FULL_URI with
 * AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]), then IMDSv2 (unless
 * AWS_EC2_METADATA_DISABLED=true; AWS_EC2_METADATA_SERVICE_ENDPOINT
 * overrides the address). KP_ERR_NOTFOUND when no source has them. */
kp_err kp_aws_creds_resolve(struct kp_aws_client *c, struct kp_aws_creds *out, struct kp_errbuf *eb);
/* Region from AWS_REGION, AWS_DEFAULT_REGION, then the profile's region in
 * the config file; "" when none (buf gets it). */
void kp_aws_region_from_env(const char *profile, char *buf, size_t n);
/* Reads key from section of an INI-style AWS file ("default", "profile x"
 * or "x"); KP_ERR_NOTFOUND if absent. */
kp_err kp_aws_ini_get(const char *path, const char *section, const char *key, char *buf, size_t n);

/* ---- client (client.c) ---- */

struct kp_aws_config {
	const char *region;          /* NULL = from the environment / profile / IMDS */
	const char *endpoint;        /* --aws-endpoint: every service; NULL = AWS_ENDPOINT_URL or AWS's */
	const char *profile;         /* NULL = AWS_PROFILE or "default" */
	int max_attempts;            /* 0 = 5 */
	int64_t backoff_base_ms;     /* 0 = 100; full jitter, capped at backoff_cap_ms */
	int64_t backoff_cap_ms;      /* 0 = 5000 */
	int64_t timeout_ms;          /* per attempt; 0 = 30000 */
	const char *user_agent;      /* NULL = "karpenter-c" */
	const char *pricing_endpoint; /* the Pricing API's endpoint, beats every other; NULL = as the others */
};

struct kp_aws_client {
	struct kp_aws_config cfg;
	char region[64];
	char endpoint[512];          /* global override, "" = none */
	char pricing_endpoint[512];  /* the Pricing API's override, "" = none */
	char profile[128];
	pthread_mutex_t mu;          /* creds and stats */
	struct kp_aws_creds creds;
	bool have_creds;
	uint64_t rng;
	/* statistics, for tests and metrics (under mu) */
	uint64_t requests, attempts, retries, throttled;
};

/* The answer to one logical call (after its retries). */
struct kp_aws_resp {
	long status;                 /* HTTP status of the last attempt; 0 = no answer */
	char code[128];              /* AWS error code, "" on success */
	char message[512];
	char request_id[128];
	int attempts;
	struct kp_aws_xnode *xml;    /* Query protocol body (in the arena given) */
	json_t *json;                /* JSON protocol body (owned) */
};

kp_err kp_aws_client_new(const struct kp_aws_config *cfg, struct kp_aws_client **out, struct kp_errbuf *eb);
void kp_aws_client_free(struct kp_aws_client *c);
/* Endpoint URL (no trailing slash) for service ("ec2", "sqs", "ssm",
 * "sts", "iam", "pricing") into buf: for "pricing" the pricing_endpoint
 * first; then --aws-endpoint, else AWS_ENDPOINT_URL_<SERVICE>, else
 * AWS_ENDPOINT_URL, else AWS's own (https://SERVICE.REGION.amazonaws.com,
 * .com.cn in cn-*; IAM global; Pricing in kp_aws_pricing_region()). */
void kp_aws_endpoint(const struct kp_aws_client *c, const char *service, char *buf, size_t n);
/* The region SigV4 signs service's requests for: IAM's global region
 * (us-east-1, cn-north-1 in cn-*), kp_aws_pricing_region() for "pricing",
 * else the client's region. */
const char *kp_aws_sign_region(const struct kp_aws_client *c, const char *service);

/* Sends a Query protocol call (EC2, IAM, STS, SQS legacy) to service. With
 * client_token, one UUID is added as ClientToken and kept across retries.
 * Retries throttling codes, 5xx and transport errors with full-jitter
 * backoff. unsigned_ skips signing (STS AssumeRoleWithWebIdentity).
 * Returns KP_OK on 2xx (resp->xml set); else KP_ERR_IO (transport, 5xx,
 * throttled after the last attempt), KP_ERR_NOTFOUND (a *NotFound* /
 * NoSuchEntity / ParameterNotFound code) or KP_ERR_INVALID (other API
 * errors), with resp->code/message and eb "service Action: Code: message". */
kp_err kp_aws_query(struct kp_aws_client *c, const char *service, struct kp_aws_params *p, bool client_token,
		    bool unsigned_, struct kp_arena *a, struct kp_aws_resp *resp, struct kp_errbuf *eb);
/* JSON protocol (SSM "AmazonSSM.X" 1.1, SQS "AmazonSQS.X" 1.0): body is
 * compact JSON text; resp->json gets the parsed answer. Same errors. */
kp_err kp_aws_json(struct kp_aws_client *c, const char *service, const char *target, const char *json_version,
		   const char *body, struct kp_aws_resp *resp, struct kp_errbuf *eb);
void kp_aws_resp_clear(struct kp_aws_resp *r);
/* True for the throttling codes retried (RequestLimitExceeded, Throttling...). */
bool kp_aws_code_throttle(const char *code);
/* True for Karpenter's insufficient-capacity codes (pkg/errors). */
bool kp_aws_code_ice(const char *code);
/* Plain HTTP for credential endpoints (IMDS, container): method, url,
 * headers (NULL-terminated), answer body into out (malloc'ed). */
kp_err kp_aws_http(const char *method, const char *url, const char *const *headers, int64_t timeout_ms,
		   long *status, char **out, struct kp_errbuf *eb);
/* Current credentials, refreshed when absent or within 5 minutes of
 * expiry; copied into out under the lock. */
kp_err kp_aws_client_creds(struct kp_aws_client *c, struct kp_aws_creds *out, struct kp_errbuf *eb);

#endif
