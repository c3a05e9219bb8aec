/*
 * server.h - the local control plane behind `karpenter up`: an HTTPS
 * Kubernetes API server over the object store (store.h) and the API surface
 * (apires.h). Internal to src/local and src/cli.
 *
 * Pieces: server.c (libmicrohttpd listener, thread per connection, watch
 * streams), auth.c (bearer token), rest.c (routing and verbs), gc.c
 * (ownerReference garbage collection, namespace cleanup), up.c (life cycle
 * of the whole thing), tls.c (certificates).
 *
 * Life cycle: kp_local_start() opens the store, registry and certificates,
 * starts the garbage collector and the listener; kp_local_stop() stops the
 * listener, wakes every watch and frees everything. Between the two, other
 * threads of the same process may use L->store (the in-process C API) and
 * kp_local_* object helpers.
 */
#ifndef KARPENTER_LOCAL_SERVER_H
#define KARPENTER_LOCAL_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "karpenter/base.h"
#include "local/apires.h"
#include "local/store.h"
#include "local/tls.h"

struct kp_local_config {
	const char *listen_host;     /* "127.0.0.1" */
	int port;                    /* 6443; 0 = pick a free port */
	const char *data_dir;        /* store, certificates, token */
	const char *crd_dir;         /* deploy/crds (may be NULL) */
	bool allow_remote;           /* allow a non-loopback listen address */
	int64_t bookmark_ms;         /* BOOKMARK period for watches (0 = 60s) */
	int64_t event_window;        /* store events kept for watch resume (0 = default) */
	int64_t grace_cap_ms;        /* kubelet stand-in: longest wait of a terminating pod
	                              * (0 = 2000; < 0 = its whole grace period) */
};

struct kp_gc;

struct kp_local {
	struct kp_local_config cfg;
	struct kp_store *store;
	struct kp_apireg *reg;
	pthread_rwlock_t reg_lock;   /* writers: CRD create/delete; readers: every request */
	struct kp_tls tls;
	char token[80];              /* bearer token (hex) */
	int port;                    /* bound port */
	void *mhd;                   /* struct MHD_Daemon */
	struct kp_gc *gc;
	volatile int stopping;
};

/* ---- life cycle (up.c) ---- */
kp_err kp_local_start(struct kp_local **out, const struct kp_local_config *cfg, struct kp_errbuf *eb);
void kp_local_stop(struct kp_local *L);
/* Writes a kubeconfig for L (mode 0600) at path. */
kp_err kp_local_write_kubeconfig(const struct kp_local *L, const char *path, struct kp_errbuf *eb);

/* ---- auth.c ---- */
/* Reads dir/token, creating it (32 random bytes, hex, mode 0600) if missing. */
kp_err kp_auth_load_or_create(const char *dir, char *token, size_t n, struct kp_errbuf *eb);
/* True if the Authorization header carries the token (constant-time compare). */
bool kp_auth_check(const char *token, const char *authorization);
/* Paths served without a token: /healthz, /livez, /readyz, /version. */
bool kp_auth_exempt(const char *path);

/* ---- server.c ---- */
kp_err kp_server_start(struct kp_local *L, struct kp_errbuf *eb);
void kp_server_stop(struct kp_local *L);

/* ---- rest.c: one HTTP request in, one response out ---- */
struct kp_http_req {
	const char *method;
	const char *path;            /* decoded, without the query */
	const char *(*arg)(void *ctx, const char *key);   /* query parameter or NULL */
	void *arg_ctx;
	const char *accept;          /* may be NULL */
	const char *content_type;    /* may be NULL */
	const char *body;            /* may be NULL */
	size_t body_len;
};

struct kp_watch_stream;

struct kp_http_resp {
	int status;
	char *body;                  /* malloc'ed; NULL when streaming */
	size_t len;
	const char *content_type;    /* static string */
	struct kp_watch_stream *stream;   /* a watch: the server pulls from it */
};

void kp_rest_handle(struct kp_local *L, const struct kp_http_req *rq, struct kp_http_resp *rs);
/* Fills rs with a metav1 Status (status "Failure" unless code < 300). */
void kp_rest_status(struct kp_http_resp *rs, int code, const char *reason, const char *message);
/* Fills buf with the next bytes of a watch stream, blocking until there is
 * something (an event or a BOOKMARK) or the client went away (fd readable
 * with hangup). Returns bytes written, 0 at the end of the stream, -1 on
 * error. fd: the connection's socket, polled for hangup (-1 = don't). */
ssize_t kp_rest_stream_read(struct kp_watch_stream *s, int fd, char *buf, size_t max);
void kp_rest_stream_free(struct kp_watch_stream *s);

/* ---- object helpers for in-process callers (rest.c) ---- */
enum kp_propagation { KP_PROP_BACKGROUND, KP_PROP_FOREGROUND, KP_PROP_ORPHAN };
/* Deletes one object with Kubernetes semantics: finalizers keep it (with a
 * deletionTimestamp) until they are removed; Foreground/Orphan add their
 * finalizer for the garbage collector; pods are deleted gracefully (see
 * kp_local_delete_grace, default period). *out (may be NULL) receives the
 * object's final or current state. */
enum kp_store_rc kp_local_delete(struct kp_local *L, const struct kp_store_key *k, enum kp_propagation prop,
				 int64_t expect_rv, const char *expect_uid, json_t **out, struct kp_errbuf *eb);
/* The same with a grace period, for pods (others ignore it): grace < 0
 * takes spec.terminationGracePeriodSeconds (default 30). A pod bound to a
 * node and not terminated is kept with deletionTimestamp (the end of the
 * grace period) and deletionGracePeriodSeconds until the kubelet deletes
 * it with grace 0; an unbound or terminated pod, or grace 0, goes at once
 * (finalizers permitting); a pod already terminating only accepts a shorter
 * period. *gone (may be NULL): the object was removed from the store. */
enum kp_store_rc kp_local_delete_grace(struct kp_local *L, const struct kp_store_key *k, enum kp_propagation prop,
				       int64_t grace, int64_t expect_rv, const char *expect_uid, json_t **out,
				       bool *gone, struct kp_errbuf *eb);
/* Read-modify-write with retries on conflict: fn edits obj and returns 0 to
 * write, 1 to leave it unchanged, -1 to fail. An object whose
 * deletionTimestamp is set and whose finalizers become empty is deleted. */
typedef int (*kp_local_mutate_fn)(void *ud, json_t *obj);
enum kp_store_rc kp_local_mutate(struct kp_local *L, const struct kp_store_key *k, kp_local_mutate_fn fn, void *ud,
				 struct kp_errbuf *eb);

/* ---- pbuf.c ---- */
/* Decodes a Kubernetes protobuf body ("k8s\0" + runtime.Unknown) of the
 * kinds kubectl's typed clients create into JSON (new reference); NULL with
 * eb set for malformed bodies and kinds without a schema table. */
json_t *kp_pbuf_decode(const void *data, size_t len, struct kp_errbuf *eb);

/* ---- gc.c ---- */
kp_err kp_gc_start(struct kp_local *L, struct kp_errbuf *eb);
void kp_gc_stop(struct kp_local *L);

#endif
