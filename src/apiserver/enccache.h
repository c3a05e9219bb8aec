/*
 * enccache.h - shared encodings of stored objects for the streams that
 * send them (watch initial states, streamed lists).
 *
 * A stream that sends an object takes a reference on its encoding (the
 * compact JSON of one object version as one kind of request serves it)
 * and copies from it as the client reads; every stream sending the same
 * object version the same way shares one encoding, built once by the
 * first (the others wait for it) and freed about 2 s after the last
 * reference goes (64 MiB of such unreferenced encodings at most). So N idle
 * watches on a large object hold one copy of it, not N, and N watches
 * opened at once parse it once.
 *
 * Key: any text naming the object version and the encoding (src/apiserver
 * uses "group|plural|ns|name|rv|served form"). Threads: every function may
 * be called from any thread.
 *
 * Life cycle: kp_apiserver__enc_cache_new() -> get/put -> _free() once no
 * thread uses it and every reference was put back.
 */
#ifndef KARPENTER_APISERVER_ENCCACHE_H
#define KARPENTER_APISERVER_ENCCACHE_H

#include <stddef.h>

#include <jansson.h>

struct kp_apiserver__enc_entry;

/* What a reference gives (read-only while held). */
struct kp_apiserver__enc {
	const char *text;            /* the encoding, NUL-terminated */
	size_t len;
	const json_t *view;          /* what selectors read (kp_apiserver__enc_view), or NULL */
};

/* Builds an encoding: fills *text (malloc'ed, NUL-terminated, handed to
 * the cache), *len and *view (owned reference or NULL). Returns 0, or -1
 * when the object cannot be encoded (nothing is cached, callers get NULL). */
typedef int (*kp_apiserver__enc_make_fn)(void *ud, char **text, size_t *len, json_t **view);

struct kp_apiserver__enc_cache;

/* NULL when out of memory. */
struct kp_apiserver__enc_cache *kp_apiserver__enc_cache_new(void);
void kp_apiserver__enc_cache_free(struct kp_apiserver__enc_cache *ec);

/* A reference to the encoding named key, made by make(ud) if no stream
 * holds it (while another thread makes it, waits for that one). NULL when
 * make fails or out of memory. Give it back with kp_apiserver__enc_put. */
const struct kp_apiserver__enc *kp_apiserver__enc_get(struct kp_apiserver__enc_cache *ec, const char *key,
						      kp_apiserver__enc_make_fn make, void *ud);
/* Drops a reference (the encoding is freed a little after the last one).
 * NULL is a no-op. */
void kp_apiserver__enc_put(struct kp_apiserver__enc_cache *ec, const struct kp_apiserver__enc *e);
/* Encodings currently held or kept (for tests). */
size_t kp_apiserver__enc_count(struct kp_apiserver__enc_cache *ec);

/* The part of obj selectors read, as a new object: metadata's name,
 * namespace and labels, and every scalar (strings up to 1 KiB) at the top
 * level and one level down (spec.nodeName, status.phase, reason, ...):
 * every field label kube supports is within that depth. */
json_t *kp_apiserver__enc_view(const json_t *obj);

#endif
