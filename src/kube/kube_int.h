/*
 * kube_int.h - internals shared by the files of src/kube (not for callers).
 */
#ifndef KARPENTER_KUBE_INT_H
#define KARPENTER_KUBE_INT_H

#include <curl/curl.h>

#include "kube/kube.h"

#define KP_KUBE_DEFAULT_QPS 200.0
#define KP_KUBE_DEFAULT_BURST 300
#define KP_KUBE_MAX_URL 4096

struct kp_kube_client {
	struct kp_kube_config *cfg;          /* owned copy */
	struct kp_kube_client_opts opts;     /* defaults filled in; strings not kept */
	char user_agent[128];
	const struct kp_kube_clock *clock;
	struct kp_ratelimit rl;
	CURL *easy;                          /* reused for blocking calls (keeps connections) */
	/* credentials */
	char *file_token;                    /* last token read from cfg->token_file */
	int64_t file_token_read_ms;          /* mono time of that read */
	struct kp_exec_cred exec;            /* cached exec credential */
	bool exec_valid;
	uint64_t requests;
};

/* Chooses the bearer token / client certificate for the next request,
 * running the exec plugin or re-reading token_file when due. */
kp_err kp_kube__auth_refresh(struct kp_kube_client *c, bool force, struct kp_errbuf *eb);
/* Sets URL, method, TLS material, timeouts and headers on h. *hdrs receives
 * the header list the caller frees after the transfer. */
kp_err kp_kube__setup_easy(struct kp_kube_client *c, CURL *h, const char *method, const char *path,
			   const char *content_type, struct curl_slist **hdrs, struct kp_errbuf *eb);
/* Fills st from an HTTP code and a response body (a Status when it parses). */
void kp_kube__status_from_body(struct kp_kube_status *st, long code, const char *body, size_t len);
/* "METHOD path: code Reason: message" into eb; returns the matching kp_err. */
kp_err kp_kube__status_err(struct kp_errbuf *eb, const char *method, const char *path,
			   const struct kp_kube_status *st);
/* kp_kube_request with a choice about retrying 429 (evictions must not). */
kp_err kp_kube__request_ex(struct kp_kube_client *c, const char *method, const char *path, const char *ctype,
			   json_t *body, bool retry_429, json_t **out, struct kp_kube_status *st,
			   struct kp_errbuf *eb);
/* Waits for a rate-limiter token (sleeping on the client's clock). */
void kp_kube__throttle(struct kp_kube_client *c);
/* Appends a query parameter ("?k=v" or "&k=v", v URL-escaped) to buf. */
kp_err kp_kube__query_add(struct kp_buf *buf, const char *key, const char *val);
/* Reads a whole file (at most max bytes) into a malloc'ed NUL-terminated buffer. */
kp_err kp_kube__read_file(const char *path, size_t max, char **out, size_t *len, struct kp_errbuf *eb);
/* metav1.MicroTime text ("2024-01-02T03:04:05.123000Z") for a wall time; n >= 32. */
void kp_kube__micro_time(int64_t wall_ms, char *buf, size_t n);
/* strdup that reports failure through *ok. */
char *kp_kube__strdup(const char *s, bool *ok);

#endif
