/*
 * kube.h - a Kubernetes API client for the controller: configuration
 * (kubeconfig, in-cluster, exec credential plugins), a REST client over
 * libcurl, streaming watches, informers (list+watch caches) and leader
 * election with coordination.k8s.io/v1 Leases.
 *
 * The same code talks to `karpenter up` and to any real cluster: HTTPS only,
 * TLS always verified (a kubeconfig asking for insecure-skip-tls-verify is
 * refused), certificates handed to libcurl from memory, never via temp files.
 *
 * Threads. Everything here is single-threaded: one client, its loop, its
 * watches, informers and leases belong to the thread that runs the loop.
 * The program calls kp_kube_global_init() once in main() before any thread
 * starts (libcurl's global init is not thread-safe).
 *
 * The loop (watch.c). Watches do not get a thread each: every watch is a
 * libcurl easy handle on one curl multi handle (struct kp_kube_loop). The
 * loop exposes its sockets and its next deadline so that an `ae`-style event
 * loop can poll them: set kp_kube_loop_set_fd_hook() to learn which fds to
 * watch, call kp_kube_loop_fd_ready() when one is ready and
 * kp_kube_loop_tick() when kp_kube_loop_timeout_ms() has passed. A program
 * without its own loop calls kp_kube_loop_run_once(), which polls the same
 * fds itself. Event callbacks run inside those calls, on the loop's thread.
 * Plain REST calls (get, list, create, ...) are blocking (curl easy
 * interface, bounded by the request timeout) and are made from callbacks
 * or timers on the same thread; an informer's (re)list and a lease's
 * get/update are such blocking calls, so a slow API server delays the loop
 * by at most one request timeout (a lease try by at most its renew
 * deadline). Every request and every watch start takes one token from the
 * client's rate limiter and sleeps on the loop's thread if the bucket is
 * empty (milliseconds at the default 200 QPS / 300 burst).
 *
 * Ownership of json_t (jansson reference counts):
 *  - Objects passed IN (bodies, patches, objects to create) are borrowed:
 *    the callee takes its own reference if it keeps one.
 *  - `json_t **out` parameters receive a NEW reference: the caller
 *    json_decref()s it. On failure *out is set to NULL.
 *  - Objects passed to callbacks (watch events, informer add/update/delete,
 *    conflict mutators) are borrowed for the duration of the call; a callback
 *    that keeps one takes json_incref(). A mutator edits its argument in place.
 *  - kp_informer_get()/kp_informer_list() return borrowed references owned by
 *    the informer (its store, or for a compact informer a tree decoded for
 *    the call); they stay valid until control returns to the loop (the next
 *    kp_kube_loop_* call), or longer with json_incref(). Treat them as
 *    read-only.
 *
 * Errors. Functions return a kp_err and write a message into the caller's
 * kp_errbuf. An API error (HTTP >= 300) returns KP_ERR_NOTFOUND for 404 and
 * KP_ERR_IO otherwise; the decoded metav1 Status (code, reason, message)
 * goes into the optional struct kp_kube_status and into the message:
 * "PUT /api/v1/namespaces/default/configmaps/a: 409 Conflict: ...".
 */
#ifndef KARPENTER_KUBE_H
#define KARPENTER_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "karpenter/base.h"

/* ---- global ---- */

/* Initializes libcurl; call once from main() before starting threads. */
kp_err kp_kube_global_init(struct kp_errbuf *eb);
void kp_kube_global_cleanup(void);

/* ---- clock: injectable for tests (NULL fields = the real clock) ---- */
struct kp_kube_clock {
	int64_t (*mono_ms)(void *ud);           /* monotonic milliseconds */
	int64_t (*wall_ms)(void *ud);           /* unix time in milliseconds */
	void (*sleep_ms)(void *ud, int64_t ms); /* blocking wait */
	void *ud;
};
int64_t kp_kube_now_mono(const struct kp_kube_clock *c);
int64_t kp_kube_now_wall(const struct kp_kube_clock *c);
void kp_kube_sleep(const struct kp_kube_clock *c, int64_t ms);

/* ---- token bucket rate limiter (client.c) ----
 * Tokens refill at qps per second up to burst. A reservation always
 * succeeds and returns how long the caller must wait (the bucket may go
 * negative, as golang.org/x/time/rate's Reserve). qps <= 0 = unlimited. */
struct kp_ratelimit {
	double qps;
	double burst;
	double tokens;
	int64_t last_ms;
	bool started;
};
void kp_ratelimit_init(struct kp_ratelimit *rl, double qps, int burst);
/* Takes one token at now_ms; returns the wait in ms before using it (>= 0). */
int64_t kp_ratelimit_reserve(struct kp_ratelimit *rl, int64_t now_ms);

/* ---- jittered exponential backoff (client.c) ----
 * Attempt n waits d = min(max, base * 2^n) scaled by a uniform factor in
 * [1 - jitter, 1] ("equal jitter" for jitter = 0.5). Seeded: deterministic. */
struct kp_backoff {
	int64_t base_ms;
	int64_t max_ms;
	double jitter;        /* 0..1 */
	uint32_t attempt;
	uint64_t rng;
};
void kp_backoff_init(struct kp_backoff *b, int64_t base_ms, int64_t max_ms, double jitter, uint64_t seed);
int64_t kp_backoff_next(struct kp_backoff *b);
void kp_backoff_reset(struct kp_backoff *b);
/* xorshift64* step, uniform in [0, 1). */
double kp_kube_rand01(uint64_t *state);

/* ---- configuration (kubeconfig.c, incluster.c) ---- */
struct kp_kube_exec {
	char *api_version;      /* client.authentication.k8s.io/v1 or v1beta1 */
	char *command;          /* resolved: a relative path with a '/' is made absolute against the kubeconfig dir */
	char **args;            /* NULL-terminated argv (args[0] = command) */
	size_t nargs;
	char **env;             /* "NAME=value" extra environment entries */
	size_t nenv;
	bool provide_cluster_info;
	char *install_hint;
};

struct kp_kube_config {
	char *server;           /* "https://host:port" (no trailing slash) */
	char *ca_pem;           /* trusted CAs (PEM) or NULL = system store */
	size_t ca_len;
	char *cert_pem;         /* client certificate (PEM) or NULL */
	size_t cert_len;
	char *key_pem;          /* client key (PEM) or NULL */
	size_t key_len;
	char *token;            /* static bearer token or NULL */
	char *token_file;       /* re-read periodically; wins over token when set by in-cluster */
	struct kp_kube_exec *exec;   /* exec credential plugin or NULL */
	char *namespace;        /* context namespace, "default" when unset */
	char *context;          /* names, for messages (may be NULL) */
	char *cluster;
	char *user;
};

/* Parses kubeconfig text. dir: directory for relative paths (may be NULL =
 * cwd). context: NULL = current-context. *out is owned by the caller. */
kp_err kp_kubeconfig_parse(const char *text, size_t len, const char *dir, const char *context,
			   struct kp_kube_config **out, struct kp_errbuf *eb);
/* Reads and parses a kubeconfig file; relative paths resolve against its directory. */
kp_err kp_kubeconfig_load(const char *path, const char *context, struct kp_kube_config **out,
			  struct kp_errbuf *eb);
/* In-cluster config: KUBERNETES_SERVICE_HOST/PORT from the environment and
 * token, ca.crt, namespace from sa_dir (NULL = the standard service-account
 * directory). The token is used as token_file (re-read periodically). */
kp_err kp_incluster_load(const char *sa_dir, struct kp_kube_config **out, struct kp_errbuf *eb);
/* Resolution order of kubectl/controller-runtime: explicit path, then the
 * first existing file of $KUBECONFIG (':'-separated; files are not merged),
 * then in-cluster when KUBERNETES_SERVICE_HOST is set, then ~/.kube/config. */
kp_err kp_kube_config_default(const char *path, const char *context, struct kp_kube_config **out,
			      struct kp_errbuf *eb);
void kp_kube_config_free(struct kp_kube_config *c);

/* ---- exec credential plugins (exec.c) ---- */
struct kp_exec_cred {
	char *token;
	char *cert_pem;
	char *key_pem;
	int64_t expires_ms;     /* wall clock; 0 = no expiry (cached until a 401) */
};
/* Runs the plugin (stdin /dev/null, KUBERNETES_EXEC_INFO set, stdout capped
 * at 1 MiB, killed after timeout_ms) and decodes its ExecCredential. */
kp_err kp_exec_run(const struct kp_kube_exec *x, const char *server, const char *ca_pem, int64_t timeout_ms,
		   struct kp_exec_cred *out, struct kp_errbuf *eb);
/* Decodes an ExecCredential document (exposed for tests). */
kp_err kp_exec_decode(const char *json, size_t len, const char *want_api_version, struct kp_exec_cred *out,
		      struct kp_errbuf *eb);
void kp_exec_cred_clear(struct kp_exec_cred *c);

/* ---- client (client.c) ---- */
struct kp_kube_client_opts {
	double qps;                  /* 0 = 200 (KUBE_CLIENT_QPS default); < 0 = unlimited */
	int burst;                   /* 0 = 300 */
	int64_t timeout_ms;          /* per blocking request; 0 = 30 s */
	size_t max_response;         /* 0 = 64 MiB */
	int64_t token_reread_ms;     /* token_file refresh period; 0 = 60 s */
	int max_retries;             /* on 429 / Retry-After; 0 = 3, < 0 = none */
	int64_t max_retry_after_ms;  /* cap on a server's Retry-After; 0 = 10 s */
	const char *user_agent;      /* NULL = "karpenter-c" */
	const struct kp_kube_clock *clock;   /* NULL = real; kept by pointer */
};

struct kp_kube_status {
	long code;                   /* HTTP status (0 = no response) */
	char reason[64];             /* Status.reason ("Conflict", "NotFound", ...) or "" */
	char message[512];           /* Status.message or the start of the body */
	int64_t retry_after_ms;      /* Retry-After, -1 when absent */
};

struct kp_kube_client;

/* Copies cfg; the client keeps opts->clock by pointer. */
kp_err kp_kube_client_new(const struct kp_kube_config *cfg, const struct kp_kube_client_opts *opts,
			  struct kp_kube_client **out, struct kp_errbuf *eb);
void kp_kube_client_free(struct kp_kube_client *c);
const char *kp_kube_client_namespace(const struct kp_kube_client *c);
/* Number of HTTP requests sent (including retries), for tests and metrics. */
uint64_t kp_kube_client_requests(const struct kp_kube_client *c);

/* One blocking request. path includes the query. body (borrowed) may be
 * NULL. *out (may be NULL) gets the decoded JSON response (new reference),
 * NULL for an empty body. Retries 429 (and 5xx with Retry-After) up to
 * max_retries, and a 401 once after refreshing the credentials. */
kp_err kp_kube_request(struct kp_kube_client *c, const char *method, const char *path, const char *content_type,
		       json_t *body, json_t **out, struct kp_kube_status *st, struct kp_errbuf *eb);

bool kp_kube_is_notfound(const struct kp_kube_status *st);
bool kp_kube_is_conflict(const struct kp_kube_status *st);
bool kp_kube_is_gone(const struct kp_kube_status *st);
bool kp_kube_is_already_exists(const struct kp_kube_status *st);

/* ---- typed REST verbs (rest.c) ---- */
struct kp_kube_res {
	const char *group;      /* "" for the core group */
	const char *version;    /* "v1" */
	const char *resource;   /* plural: "pods" */
	bool namespaced;
};
extern const struct kp_kube_res KP_KUBE_PODS, KP_KUBE_NODES, KP_KUBE_CONFIGMAPS, KP_KUBE_EVENTS,
	KP_KUBE_LEASES, KP_KUBE_NAMESPACES, KP_KUBE_NODECLAIMS, KP_KUBE_NODEPOOLS;

/* Writes "/api/v1/namespaces/ns/pods/name/sub" (ns, name, sub may be NULL). */
kp_err kp_kube_path(const struct kp_kube_res *r, const char *ns, const char *name, const char *sub, char *buf,
		    size_t n, struct kp_errbuf *eb);

struct kp_kube_list_opts {
	const char *label_selector;
	const char *field_selector;
	int64_t page_size;      /* 0 = 500 */
	size_t max_items;       /* 0 = 1,000,000 */
};

enum kp_kube_patch { KP_PATCH_MERGE, KP_PATCH_STRATEGIC, KP_PATCH_JSON };
enum kp_kube_propagation { KP_PROPAGATE_DEFAULT, KP_PROPAGATE_BACKGROUND, KP_PROPAGATE_FOREGROUND,
			   KP_PROPAGATE_ORPHAN };

kp_err kp_kube_get(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns, const char *name,
		   json_t **out, struct kp_kube_status *st, struct kp_errbuf *eb);
/* Lists every page (limit/continue) into one List object whose "items" holds
 * all items and whose metadata.resourceVersion is the first page's. */
kp_err kp_kube_list(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns,
		    const struct kp_kube_list_opts *o, json_t **out, struct kp_kube_status *st, struct kp_errbuf *eb);
kp_err kp_kube_create(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns, json_t *obj,
		      json_t **out, struct kp_kube_status *st, struct kp_errbuf *eb);
/* PUT of obj (name from metadata.name; resourceVersion in obj = precondition). sub: NULL or "status". */
kp_err kp_kube_update(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns, json_t *obj,
		      const char *sub, json_t **out, struct kp_kube_status *st, struct kp_errbuf *eb);
kp_err kp_kube_patch(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns, const char *name,
		     enum kp_kube_patch type, json_t *patch, const char *sub, json_t **out,
		     struct kp_kube_status *st, struct kp_errbuf *eb);
/* uid (may be NULL) is a precondition. A 404 is returned as KP_ERR_NOTFOUND. */
kp_err kp_kube_delete(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns, const char *name,
		      enum kp_kube_propagation prop, const char *uid, struct kp_kube_status *st,
		      struct kp_errbuf *eb);
/* policy/v1 Eviction of a pod; a 429 (PDB) is returned, not retried. */
kp_err kp_kube_evict(struct kp_kube_client *c, const char *ns, const char *pod, struct kp_kube_status *st,
		     struct kp_errbuf *eb);

/* An event about an object (events.k8s.io/v1; core/v1 when use_core). */
struct kp_kube_event {
	json_t *regarding;       /* borrowed: the object (needs kind, apiVersion, metadata) */
	const char *type;        /* "Normal" or "Warning" */
	const char *reason;      /* "Launched" */
	const char *action;      /* events.k8s.io requires one; NULL = reason */
	const char *note;        /* message */
	const char *reporting_controller;   /* "karpenter" */
	const char *reporting_instance;     /* hostname */
	bool use_core;
};
kp_err kp_kube_event_emit(struct kp_kube_client *c, const struct kp_kube_event *ev, struct kp_kube_status *st,
			  struct kp_errbuf *eb);

/* Conflict retry: get, mutate, update; on 409 start again, at most max_attempts
 * (0 = 5) times. fn returns 0 to write, 1 to skip the write (no change), -1
 * to fail (its message in eb). *out (may be NULL) gets the written object. */
typedef int (*kp_kube_mutate_fn)(void *ud, json_t *obj, struct kp_errbuf *eb);
kp_err kp_kube_retry_on_conflict(struct kp_kube_client *c, const struct kp_kube_res *r, const char *ns,
				 const char *name, const char *sub, int max_attempts, kp_kube_mutate_fn fn,
				 void *ud, json_t **out, struct kp_kube_status *st, struct kp_errbuf *eb);

/* ---- the loop (watch.c) ---- */
struct kp_kube_loop;

enum { KP_KUBE_FD_READ = 1, KP_KUBE_FD_WRITE = 2 };
/* events = 0: stop watching fd. */
typedef void (*kp_kube_fd_fn)(void *ud, int fd, int events);

struct kp_kube_timer;
typedef void (*kp_kube_timer_fn)(void *ud);
/* Caller-allocated timer handle; zero it before first use. */
struct kp_kube_timer {
	struct kp_kube_timer *next;
	int64_t due_ms;
	kp_kube_timer_fn fn;
	void *ud;
	bool armed;
};

kp_err kp_kube_loop_new(struct kp_kube_client *c, struct kp_kube_loop **out, struct kp_errbuf *eb);
/* Stops every watch (no callbacks) and frees the loop. Informers and leases
 * on it must be freed first. */
void kp_kube_loop_free(struct kp_kube_loop *l);
struct kp_kube_client *kp_kube_loop_client(struct kp_kube_loop *l);
/* Waits at most max_wait_ms for socket activity or a timer, then handles it. */
kp_err kp_kube_loop_run_once(struct kp_kube_loop *l, int64_t max_wait_ms, struct kp_errbuf *eb);
/* Embedding: the hook is told every change of interest in an fd. */
void kp_kube_loop_set_fd_hook(struct kp_kube_loop *l, kp_kube_fd_fn fn, void *ud);
void kp_kube_loop_fd_ready(struct kp_kube_loop *l, int fd, int events);
/* Milliseconds until kp_kube_loop_tick() is due; -1 = nothing pending. */
int64_t kp_kube_loop_timeout_ms(struct kp_kube_loop *l);
void kp_kube_loop_tick(struct kp_kube_loop *l);
/* (Re)arms t to run fn(ud) after delay_ms on the loop. */
void kp_kube_timer_start(struct kp_kube_loop *l, struct kp_kube_timer *t, int64_t delay_ms, kp_kube_timer_fn fn,
			 void *ud);
void kp_kube_timer_stop(struct kp_kube_loop *l, struct kp_kube_timer *t);

/* ---- watch stream parser (watch.c; exposed for tests) ----
 * Input: the body of a watch response after HTTP de-chunking, in pieces of
 * any size; output: one callback per newline-terminated JSON event. */
enum kp_watch_type { KP_WATCH_ADDED, KP_WATCH_MODIFIED, KP_WATCH_DELETED, KP_WATCH_BOOKMARK, KP_WATCH_ERROR };
/* obj is borrowed. For ERROR it is the Status. Return non-zero to stop. */
typedef int (*kp_watch_event_fn)(void *ud, enum kp_watch_type type, json_t *obj);

struct kp_watch_parser {
	struct kp_buf line;       /* the incomplete event so far (capped) */
	kp_watch_event_fn fn;
	void *ud;
	char rv[128];             /* resourceVersion of the last event (not ERROR) */
	uint64_t events;
	bool stopped;             /* a callback returned non-zero */
};
/* max_event: cap on one event's size (0 = 16 MiB). */
void kp_watch_parser_init(struct kp_watch_parser *p, size_t max_event, kp_watch_event_fn fn, void *ud);
/* KP_ERR_INVALID on a malformed event, KP_ERR_LIMIT on an oversized one.
 * After a callback asks to stop, the rest of the input is ignored (KP_OK). */
kp_err kp_watch_parser_feed(struct kp_watch_parser *p, const char *data, size_t n, struct kp_errbuf *eb);
/* End of stream: a final event without a newline is processed; truncated JSON is an error. */
kp_err kp_watch_parser_finish(struct kp_watch_parser *p, struct kp_errbuf *eb);
void kp_watch_parser_free(struct kp_watch_parser *p);
const char *kp_watch_type_name(enum kp_watch_type t);

/* ---- watch (watch.c) ---- */
struct kp_watch;
struct kp_watch_opts {
	const char *ns;                 /* NULL = all namespaces */
	const char *label_selector;
	const char *field_selector;
	const char *resource_version;   /* NULL/"" = from now ("most recent") */
	int timeout_s;                  /* server-side timeoutSeconds; 0 = none */
	bool bookmarks;                 /* allowWatchBookmarks */
};
/* Why a watch ended. rc = KP_OK: the server closed the stream normally
 * (timeoutSeconds); st->code = 410 for "Gone" (HTTP 410 or an ERROR event
 * with code 410); other errors carry the Status or curl's message in msg. */
typedef void (*kp_watch_done_fn)(void *ud, kp_err rc, const struct kp_kube_status *st, const char *msg);
/* Starts a watch on the loop. ERROR events are not passed to fn: they end the
 * watch through done. Nothing is called back if this fails. */
kp_err kp_watch_start(struct kp_kube_loop *l, const struct kp_kube_res *r, const struct kp_watch_opts *o,
		      kp_watch_event_fn fn, kp_watch_done_fn done, void *ud, struct kp_watch **out,
		      struct kp_errbuf *eb);
/* Stops and frees w; no callback after. Safe inside w's own callbacks. NULL is a no-op. */
void kp_watch_stop(struct kp_watch *w);
/* The last resourceVersion seen (events and bookmarks). */
const char *kp_watch_rv(const struct kp_watch *w);

/* ---- informer (informer.c) ---- */
struct kp_informer;
struct kp_informer_handlers {
	void (*on_add)(void *ud, json_t *obj);
	void (*on_update)(void *ud, json_t *old_obj, json_t *new_obj);
	void (*on_delete)(void *ud, json_t *obj);
	void (*on_synced)(void *ud);           /* after each complete (re)list */
};
/* Edits obj in place before it is cached or handed to a handler (client-go's
 * SetTransform), on every listed item and watch event (deletes included):
 * drop what the program never reads. It must leave metadata.name,
 * metadata.namespace and metadata.resourceVersion alone. */
typedef void (*kp_informer_transform_fn)(void *ud, json_t *obj);
struct kp_informer_opts {
	const char *ns;                 /* NULL = all namespaces */
	const char *label_selector;
	const char *field_selector;
	int64_t page_size;              /* 0 = 500 */
	int64_t backoff_base_ms;        /* 0 = 800 ms (client-go reflector) */
	int64_t backoff_max_ms;         /* 0 = 30 s */
	int watch_timeout_s;            /* 0 = random in [300, 600) as client-go */
	uint64_t seed;                  /* jitter seed; 0 = from the clock */
	kp_informer_transform_fn transform;   /* NULL = cache objects as received */
	void *transform_ud;
	/* Keep each cached object as compact JSON text (about a tenth of a
	 * jansson tree's memory) and decode it on access: kp_informer_get and
	 * kp_informer_list then cost a decode per object, and the trees they
	 * return are released when control returns to the loop (a timer).
	 * Meant for large caches read in bulk; use kp_informer_foreach to read
	 * one object at a time. */
	bool compact;
};
struct kp_informer_stats {
	uint64_t lists, watches, relists_gone, errors;
	uint64_t stored_bytes;          /* compact: bytes of JSON text held (else 0) */
};
/* Copies opts strings; handlers and ud are kept. */
kp_err kp_informer_new(struct kp_kube_loop *l, const struct kp_kube_res *r, const struct kp_informer_opts *o,
		       const struct kp_informer_handlers *h, void *ud, struct kp_informer **out,
		       struct kp_errbuf *eb);
/* Schedules the first list on the loop (it runs on the next loop call). */
void kp_informer_start(struct kp_informer *inf);
void kp_informer_free(struct kp_informer *inf);
bool kp_informer_synced(const struct kp_informer *inf);
/* Borrowed; ns "" or NULL for cluster-scoped objects. NULL when absent
 * (or, compact, when out of memory). */
json_t *kp_informer_get(const struct kp_informer *inf, const char *ns, const char *name);
/* Objects of namespace ns (NULL = all) sorted by namespace/name, into a
 * malloc'ed array of borrowed references (caller frees the array). */
kp_err kp_informer_list(const struct kp_informer *inf, const char *ns, json_t ***out, size_t *n,
			struct kp_errbuf *eb);
/* Calls fn for the objects of namespace ns (NULL = all) in namespace/name
 * order until it returns non-zero. obj is borrowed for the call only (a
 * compact informer decodes one object at a time and releases it after the
 * call); fn must not run the loop. Fails only when out of memory. */
typedef int (*kp_informer_each_fn)(void *ud, json_t *obj);
kp_err kp_informer_foreach(const struct kp_informer *inf, const char *ns, kp_informer_each_fn fn, void *ud,
			   struct kp_errbuf *eb);
size_t kp_informer_size(const struct kp_informer *inf);
struct kp_informer_stats kp_informer_stats(const struct kp_informer *inf);
const char *kp_informer_last_rv(const struct kp_informer *inf);

/* ---- leader election (lease.c) ---- */
struct kp_lease;
struct kp_lease_opts {
	const char *ns;                 /* "kube-system" */
	const char *name;               /* "karpenter-leader-election" */
	const char *identity;           /* NULL = hostname_uuid */
	int64_t lease_ms;               /* 0 = 15000 */
	int64_t renew_deadline_ms;      /* 0 = 10000 */
	int64_t retry_ms;               /* 0 = 2000 */
	void (*on_started)(void *ud);   /* became leader */
	void (*on_stopped)(void *ud);   /* lost or released leadership */
	void (*on_new_leader)(void *ud, const char *identity);   /* observed holder changed */
	void *ud;
};
kp_err kp_lease_new(struct kp_kube_loop *l, const struct kp_lease_opts *o, struct kp_lease **out,
		    struct kp_errbuf *eb);
/* Tries to acquire at once, then every retry period. */
void kp_lease_start(struct kp_lease *le);
/* Stops renewing; if leading, releases the lease (holderIdentity "",
 * leaseDurationSeconds 1) and calls on_stopped. */
kp_err kp_lease_release(struct kp_lease *le, struct kp_errbuf *eb);
void kp_lease_free(struct kp_lease *le);
bool kp_lease_is_leader(const struct kp_lease *le);
const char *kp_lease_identity(const struct kp_lease *le);
/* Makes "hostname_uuid" into buf. */
kp_err kp_lease_default_identity(char *buf, size_t n, struct kp_errbuf *eb);

#endif
