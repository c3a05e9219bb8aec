/*
 * server.h - the API server library behind `karpenter up` (src/apiserver):
 * an HTTPS Kubernetes API server over the object store (src/store) and the
 * API surface (apires.h). Used by src/up (which starts it), src/kcm (the
 * built-in controllers, in-process through the object helpers below) and
 * tests. It knows nothing of the controllers or the simulated cloud.
 *
 * Pieces: apiserver.c (life cycle, kubeconfig), server.c (libmicrohttpd
 * listener, thread per connection, watch streams), auth.c (bearer token),
 * rest.c and rest_*.c (routing and verbs, see rest_int.h), gc.c
 * (ownerReference garbage collection, namespace cleanup), tls.c
 * (certificates), podlog.c (pods/log files), pdb.c (budget arithmetic and
 * the eviction check), pbuf.c (protobuf bodies), registry.c, discovery.c,
 * openapi.c, validate.c, table.c, patch.c (the API surface, apires.h).
 *
 * Prefixes: kp_apiserver_ public, kp_apiserver__ internal to src/apiserver.
 *
 * Life cycle: kp_apiserver_start() opens the store, registry and
 * certificates, starts the garbage collector and the listener;
 * kp_apiserver_shutdown() wakes every watch; kp_apiserver_stop() stops the
 * listener and frees everything. Between the two, other threads of the
 * same process may use L->store (the in-process C API) and the
 * kp_apiserver_* object helpers.
 */
#ifndef KARPENTER_APISERVER_SERVER_H
#define KARPENTER_APISERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "karpenter/base.h"
#include "apiserver/apires.h"
#include "store/store.h"
#include "apiserver/tls.h"

struct kp_apiserver_config {
	const char *listen_host;     /* "127.0.0.1" */
	int port;                    /* 6443; 0 = pick a free port */
	const char *data_dir;        /* store, certificates, token */
	const char *crd_dir;         /* deploy/crds (may be NULL) */
	bool allow_remote;           /* allow a non-loopback listen address */
	int64_t bookmark_ms;         /* BOOKMARK period for watches (0 = 60s) */
	int64_t event_window;        /* store events kept for watch resume (0 = default) */
	int64_t event_ttl_ms;        /* ... and those younger than this (0 = default 5 min; < 0 = window only) */
	int64_t grace_cap_ms;        /* kubelet stand-in: longest wait of a terminating pod
	                              * (0 = 2000; < 0 = its whole grace period) */
	/* limits (server.c; 0 = the default in brackets); past one a request
	 * gets 429 TooManyRequests with Retry-After, as kube-apiserver's
	 * max-in-flight filter answers */
	int max_connections;         /* open connections [1024] */
	int max_inflight;            /* requests being handled, watches aside [400] */
	int max_watches_per_client;  /* open watches per client address + User-Agent [500] */
	int64_t max_watch_s;         /* a watch without timeoutSeconds ends after
	                              * [1800..3600) s, as kube's --min-request-timeout */
	int64_t request_timeout_s;   /* a request other than a watch or a log follow
	                              * must be read and answered within [60] s, as
	                              * kube's --request-timeout: 504 Timeout, or the
	                              * connection closed once the answer has begun */
};

struct kp_apiserver__gc;
struct kp_apiserver__limits;
struct kp_apiserver__enc_cache;

struct kp_apiserver {
	struct kp_apiserver_config cfg;
	struct kp_store *store;
	struct kp_apiserver__reg *reg;
	pthread_rwlock_t reg_lock;   /* writers: CRD create/delete; readers: every request */
	struct kp_apiserver__tls tls;
	char token[80];              /* bearer token (hex) */
	unsigned char sa_key[32];    /* service-account token key (satoken.c) */
	int port;                    /* bound port */
	void *mhd;                   /* struct MHD_Daemon */
	struct kp_apiserver__gc *gc;
	atomic_bool stopping;        /* set by kp_apiserver_shutdown, read by every thread */
	struct kp_apiserver__limits *limits;   /* server.c */
	struct kp_apiserver__enc_cache *enc;   /* encodings shared by streams (enccache.c) */
};

/* ---- life cycle (apiserver.c) ---- */
kp_err kp_apiserver_start(struct kp_apiserver **out, const struct kp_apiserver_config *cfg, struct kp_errbuf *eb);
/* Marks L stopping and shuts its store down, which wakes every watch (the
 * HTTP ones and in-process ones such as src/kcm's); idempotent. */
void kp_apiserver_shutdown(struct kp_apiserver *L);
/* Shuts down (if not yet), stops the listener and the collector, closes the
 * store and frees L. NULL is a no-op. */
void kp_apiserver_stop(struct kp_apiserver *L);
/* Writes a kubeconfig for L (mode 0600) at path. */
kp_err kp_apiserver_write_kubeconfig(const struct kp_apiserver *L, const char *path, struct kp_errbuf *eb);

/* ---- auth.c ---- */
/* Reads dir/token, creating it (32 random bytes, hex, mode 0600) if missing. */
kp_err kp_apiserver__auth_load_or_create(const char *dir, char *token, size_t n, struct kp_errbuf *eb);
/* True if the Authorization header carries the token (constant-time compare). */
bool kp_apiserver__auth_check(const char *token, const char *authorization);
/* Paths served without a token: /healthz, /livez, /readyz, /version. */
bool kp_apiserver__auth_exempt(const char *path);

/* ---- server.c ---- */
kp_err kp_apiserver__listen_start(struct kp_apiserver *L, struct kp_errbuf *eb);
void kp_apiserver__listen_stop(struct kp_apiserver *L);

/* ---- rest.c: one HTTP request in, one response out ---- */
struct kp_apiserver__http_req {
	const char *method;
	const char *path;            /* decoded, without the query */
	const char *(*arg)(void *ctx, const char *key);   /* query parameter or NULL */
	void *arg_ctx;
	const char *accept;          /* may be NULL */
	const char *content_type;    /* may be NULL */
	const char *body;            /* may be NULL */
	size_t body_len;
	const char *user_agent;      /* may be NULL */
	bool streamable;             /* the caller serves resp.stream (server.c): lists may stream */
};

struct kp_apiserver__watch_stream;

struct kp_apiserver__http_resp {
	int status;
	char *body;                  /* malloc'ed; NULL when streaming */
	size_t len;
	const char *content_type;    /* static string */
	struct kp_apiserver__watch_stream *stream;   /* a watch: the server pulls from it */
	struct kp_apiserver__limits *lim;            /* server.c: the watch counted against client */
	char client[192];
	bool inflight;                               /* server.c: a streamed list counted in flight */
	int64_t deadline;                            /* server.c: when a streamed list is cut */
	char *warnings;              /* malloc'ed `Warning:` header values, one per line, or NULL */
};

void kp_apiserver__rest_handle(struct kp_apiserver *L, const struct kp_apiserver__http_req *rq, struct kp_apiserver__http_resp *rs);
/* Fills rs with a metav1 Status (status "Failure" unless code < 300). */
void kp_apiserver__rest_status(struct kp_apiserver__http_resp *rs, int code, const char *reason, const char *message);
/* Fills buf with the next bytes of a watch stream, blocking until there is
 * something (an event or a BOOKMARK) or the client went away (fd readable
 * with hangup). Returns bytes written, 0 at the end of the stream, -1 on
 * error. fd: the connection's socket, polled for hangup (-1 = don't). */
ssize_t kp_apiserver__rest_stream_read(struct kp_apiserver__watch_stream *s, int fd, char *buf, size_t max);
void kp_apiserver__rest_stream_free(struct kp_apiserver__watch_stream *s);

/* ---- object helpers for in-process callers (rest.c) ---- */
enum kp_apiserver_propagation { KP_APISERVER_PROP_BACKGROUND, KP_APISERVER_PROP_FOREGROUND, KP_APISERVER_PROP_ORPHAN };
/* Deletes one object with Kubernetes semantics: finalizers keep it (with a
 * deletionTimestamp) until they are removed; Foreground/Orphan add their
 * finalizer for the garbage collector; pods are deleted gracefully (see
 * kp_apiserver_delete_grace, default period). *out (may be NULL) receives the
 * object's final or current state. */
enum kp_store_rc kp_apiserver_delete(struct kp_apiserver *L, const struct kp_store_key *k, enum kp_apiserver_propagation prop,
				 int64_t expect_rv, const char *expect_uid, json_t **out, struct kp_errbuf *eb);
/* The same with a grace period, for pods (others ignore it): grace < 0
 * takes spec.terminationGracePeriodSeconds (default 30). A pod bound to a
 * node and not terminated is kept with deletionTimestamp (the end of the
 * grace period) and deletionGracePeriodSeconds until the kubelet deletes
 * it with grace 0; an unbound or terminated pod, or grace 0, goes at once
 * (finalizers permitting); a pod already terminating only accepts a shorter
 * period. *gone (may be NULL): the object was removed from the store. */
enum kp_store_rc kp_apiserver_delete_grace(struct kp_apiserver *L, const struct kp_store_key *k, enum kp_apiserver_propagation prop,
				       int64_t grace, int64_t expect_rv, const char *expect_uid, json_t **out,
				       bool *gone, struct kp_errbuf *eb);
/* Read-modify-write with retries on conflict: fn edits obj and returns 0 to
 * write, 1 to leave it unchanged, -1 to fail. An object whose
 * deletionTimestamp is set and whose finalizers become empty is deleted. */
/* "Guaranteed", "Burstable" or "BestEffort" for a pod's spec (borrowed),
 * as the API server computes status.qosClass (qos.c: containers and
 * initContainers; cpu and memory only; a limit without a request counts
 * as that request). Never NULL. */
const char *kp_apiserver_pod_qos_class(const json_t *pod_spec);

typedef int (*kp_apiserver_mutate_fn)(void *ud, json_t *obj);
enum kp_store_rc kp_apiserver_mutate(struct kp_apiserver *L, const struct kp_store_key *k, kp_apiserver_mutate_fn fn, void *ud,
				 struct kp_errbuf *eb);

/* Namespace, name and app label of the pod that stands for the Karpenter
 * controller: kp_apiserver_log_sink appends to its log (src/kcm creates it). */
#define KP_APISERVER_LOG_NS   "karpenter"
#define KP_APISERVER_LOG_POD  "karpenter-0"
#define KP_APISERVER_LOG_APP  "karpenter"

/* ---- pod logs (podlog.c): the log of the pod that stands for the
 * controller, served through pods/log ---- */

/* Appends one line (a trailing newline is added when missing) to the log
 * the controller's pod serves through pods/log. Thread-safe; lines longer
 * than 16 KiB are cut. The file rotates at 8 MiB (one old generation). */
void kp_apiserver_log_sink(struct kp_apiserver *L, const char *line);
void kp_apiserver_logf(struct kp_apiserver *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Path of the log file of pod ns/name into buf (size n); false when it
 * does not fit. The file may not exist (a pod without a log). */
bool kp_apiserver_podlog_path(const struct kp_apiserver *L, const char *ns, const char *name, char *buf, size_t n);

/* The body of GET pods/NAME/log for the REST layer: the whole log or its
 * last tail_lines lines (tail_lines < 0: all), at most limit_bytes (<= 0:
 * no limit). *out is malloc'ed (caller frees), possibly empty. */
kp_err kp_apiserver_podlog_read(const struct kp_apiserver *L, const char *ns, const char *name, int64_t tail_lines,
		       int64_t limit_bytes, char **out, size_t *len, int64_t *end_off, struct kp_errbuf *eb);

/* A follow (?follow=true) stream: starts at byte offset off of the log
 * file, then returns new bytes as they are appended. */
struct kp_apiserver_podlog_follow;
struct kp_apiserver_podlog_follow *kp_apiserver_podlog_follow_open(const struct kp_apiserver *L, const char *ns, const char *name,
						 int64_t off);
/* Fills buf with new log bytes, blocking (polling the file every 100 ms)
 * until there are some, the client hangs up (fd, -1 = don't check) or the
 * control plane stops. Returns bytes, 0 at the end, -1 on error. */
ssize_t kp_apiserver_podlog_follow_read(struct kp_apiserver_podlog_follow *f, int fd, char *buf, size_t max);
void kp_apiserver_podlog_follow_close(struct kp_apiserver_podlog_follow *f);

/* ---- pbuf.c ---- */
/* Decodes a Kubernetes protobuf body ("k8s\0" + runtime.Unknown) of the
 * kinds kubectl's typed clients create into JSON (new reference); NULL with
 * eb set for malformed bodies and kinds without a schema table. */
json_t *kp_apiserver__pbuf_decode(const void *data, size_t len, struct kp_errbuf *eb);

/* ---- gc.c ---- */
kp_err kp_apiserver__gc_start(struct kp_apiserver *L, struct kp_errbuf *eb);
void kp_apiserver__gc_stop(struct kp_apiserver *L);

#endif
