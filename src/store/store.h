/*
 * store.h - the object store of the local control plane: SQLite in the data
 * directory, one row per object keyed by (group, resource, namespace, name)
 * holding the object's JSON and its resourceVersion.
 *
 * Invariants:
 *  - one global resourceVersion, strictly increasing across restarts; every
 *    successful write (create, update, delete) takes the next value and
 *    appends exactly one event (ADDED, MODIFIED, DELETED) carrying it;
 *  - a write is acknowledged (the call returns KP_STORE_OK) only after its
 *    transaction is durable (WAL, synchronous=FULL);
 *  - the events table keeps a bounded window: the last `window` versions,
 *    and (kp_store_set_retention) every event younger than a TTL, up to a
 *    maximum count; a watch from a version below the window fails with
 *    KP_STORE_GONE. An update's or delete's event also holds the state
 *    before it, so a list as of any version in the window can be rebuilt;
 *  - the store writes metadata.resourceVersion into every object it stores;
 *    it never interprets anything else except metadata.uid and
 *    metadata.ownerReferences[].uid, which it indexes for the garbage
 *    collector.
 *
 * Threads: every function may be called from any thread. Writes are
 * group-committed: the writes queued while a commit syncs share the next
 * transaction and fsync (kp_store_write_batch queues many at once); reads
 * (get, list) use a pool of read-only connections and see a consistent
 * snapshot with its resourceVersion. Watches are served from an in-memory
 * ring of the latest events, and from the events table further back.
 *
 * Life cycle: kp_store_open() -> calls -> kp_store_shutdown() (wakes every
 * waiting watcher, which then returns KP_STORE_CLOSED) -> kp_store_close()
 * once no thread uses the store. Watches are caller-owned handles opened
 * with kp_store_watch_open() and closed with kp_store_watch_close().
 */
#ifndef KARPENTER_STORE_STORE_H
#define KARPENTER_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "karpenter/base.h"

enum kp_store_rc {
	KP_STORE_OK = 0,
	KP_STORE_NOTFOUND,     /* no object with that key */
	KP_STORE_EXISTS,       /* create: the key is taken */
	KP_STORE_CONFLICT,     /* update/delete: resourceVersion precondition failed */
	KP_STORE_GONE,         /* watch: version older than the event window */
	KP_STORE_TIMEOUT,      /* watch: nothing arrived in time */
	KP_STORE_CLOSED,       /* the store is shutting down */
	KP_STORE_FAIL,         /* SQLite or memory failure; message in eb */
};

enum kp_store_evtype { KP_EV_ADDED = 1, KP_EV_MODIFIED, KP_EV_DELETED };

struct kp_store_key {
	const char *group;      /* "" for core */
	const char *resource;   /* plural: "pods" */
	const char *ns;         /* "" for cluster-scoped objects */
	const char *name;
};

struct kp_store;

#define KP_STORE_DEFAULT_WINDOW 10000
#define KP_STORE_DEFAULT_TTL_MS (300 * 1000)   /* as kube-apiserver's etcd compaction interval */
#define KP_STORE_MAX_EVENTS 200000

/* Opens (creating if needed) the database at path. window: events kept for
 * watch resume (0 = KP_STORE_DEFAULT_WINDOW). */
enum kp_store_rc kp_store_open(struct kp_store **out, const char *path, int64_t window,
			       struct kp_errbuf *eb);
/* Time-based retention: events younger than ttl_ms are kept besides the
 * window (ttl_ms 0: the window alone), but at most max_events (0 =
 * KP_STORE_MAX_EVENTS). A store opens with the window alone; `karpenter up`
 * sets KP_STORE_DEFAULT_TTL_MS. Call before the first write. */
void kp_store_set_retention(struct kp_store *st, int64_t ttl_ms, int64_t max_events);
/* Wakes all waiting watchers; later waits return KP_STORE_CLOSED. */
void kp_store_shutdown(struct kp_store *st);
/* Closes the database. No thread may use st afterwards. NULL is a no-op. */
void kp_store_close(struct kp_store *st);

/* Current global resourceVersion (of the last acknowledged write). */
int64_t kp_store_rv(struct kp_store *st);
/* Oldest version a watch may start from (versions below it are GONE). */
int64_t kp_store_oldest_rv(struct kp_store *st);
/* Static name of a result code. */
const char *kp_store_rc_str(enum kp_store_rc rc);
/* Static name of an event type: "ADDED", "MODIFIED", "DELETED". */
const char *kp_store_evtype_str(enum kp_store_evtype t);

/* Reads one object: *json is malloc'ed text (caller frees), *rv its version. */
enum kp_store_rc kp_store_get(struct kp_store *st, const struct kp_store_key *k, char **json, int64_t *rv,
			      struct kp_errbuf *eb);
/* Creates: sets obj's metadata.resourceVersion to the new version (mutates
 * obj) and stores it. *rv (may be NULL) receives the version. */
enum kp_store_rc kp_store_create(struct kp_store *st, const struct kp_store_key *k, json_t *obj, int64_t *rv,
				 struct kp_errbuf *eb);
/* Replaces an object. expect_rv > 0: fails with KP_STORE_CONFLICT unless the
 * stored version equals it. Mutates obj's metadata.resourceVersion. */
enum kp_store_rc kp_store_update(struct kp_store *st, const struct kp_store_key *k, json_t *obj,
				 int64_t expect_rv, int64_t *rv, struct kp_errbuf *eb);
/* Removes an object; the DELETED event carries its last state with the new
 * version. expect_rv > 0 as for update. *last (may be NULL) receives that
 * final JSON text (caller frees). */
enum kp_store_rc kp_store_delete(struct kp_store *st, const struct kp_store_key *k, int64_t expect_rv,
				 char **last, int64_t *rv, struct kp_errbuf *eb);

/* ---- batches ---- */
enum kp_store_op { KP_STORE_OP_CREATE = 1, KP_STORE_OP_UPDATE, KP_STORE_OP_DELETE };

/* One write of kp_store_write_batch: in (op, key, obj, expect_rv,
 * want_text), out (rc, rv, text). */
struct kp_store_write {
	enum kp_store_op op;
	struct kp_store_key key;     /* strings borrowed for the call */
	json_t *obj;                 /* create, update: mutated as by kp_store_create/update */
	int64_t expect_rv;           /* update, delete: > 0 as for kp_store_update */
	bool want_text;              /* return the stored JSON in text */
	enum kp_store_rc rc;
	int64_t rv;                  /* the version it took (rc OK) */
	char *text;                  /* rc OK and want_text: the stored JSON (delete: the final
	                              * state), malloc'ed, caller frees; else NULL */
};

/* Runs n writes as if each were its own kp_store_create/update/delete
 * (each succeeds or fails alone, takes its own version in array order and
 * appends its own event), in as few transactions as possible (one for up
 * to 1024 writes, plus whatever other threads queued meanwhile), so with
 * one fsync. Returns when all are durable: KP_STORE_OK if every write
 * succeeded, else the first failure's code with its message in eb (each
 * write's own code is in its rc). */
enum kp_store_rc kp_store_write_batch(struct kp_store *st, struct kp_store_write *w, size_t n,
				      struct kp_errbuf *eb);

/* Lists the objects of (group, resource), in one namespace or all (ns NULL
 * or ""), ordered by (namespace, name), from one consistent snapshot whose
 * version goes to *list_rv. fn is called per object with its JSON text
 * (valid during the call) and returns 0 to continue, non-zero to stop. */
typedef int (*kp_store_list_fn)(void *ud, const char *json, size_t len, int64_t rv);
enum kp_store_rc kp_store_list(struct kp_store *st, const char *group, const char *resource, const char *ns,
			       kp_store_list_fn fn, void *ud, int64_t *list_rv, struct kp_errbuf *eb);
/* A page of a list as of one version. at_rv 0: the current snapshot;
 * otherwise the objects as they were at at_rv, rebuilt from the current rows
 * and the events after at_rv (their previous states): KP_STORE_GONE when
 * at_rv is older than the window (or an event after it predates the store's
 * recording of previous states). after_ns/after_name
 * (NULL: from the start): only keys ordered after that one. fn gets each
 * object with its key, in (namespace, name) order, and returns non-zero to
 * stop. *list_rv: the version listed (at_rv, or the snapshot's). */
typedef int (*kp_store_page_fn)(void *ud, const char *ns, const char *name, const char *json, size_t len,
				int64_t rv);
enum kp_store_rc kp_store_list_page(struct kp_store *st, const char *group, const char *resource, const char *ns,
				    int64_t at_rv, const char *after_ns, const char *after_name, kp_store_page_fn fn,
				    void *ud, int64_t *list_rv, struct kp_errbuf *eb);
/* A list read one object at a time from one snapshot (for streamed
 * responses): the cursor holds a read transaction until closed, so close
 * it promptly. kp_store_cursor_next: the next object's key and version
 * (*ns, *name valid until the next call), KP_STORE_NOTFOUND at the end; it
 * does not read the JSON. kp_store_cursor_json: the JSON of the object
 * next returned last, from the same snapshot, valid until the next call
 * of either function or kp_store_cursor_release (which frees SQLite's copy
 * of it at once: call it when done with a large object). */
struct kp_store_cursor;
enum kp_store_rc kp_store_cursor_open(struct kp_store *st, const char *group, const char *resource, const char *ns,
				      int64_t *list_rv, struct kp_store_cursor **out, struct kp_errbuf *eb);
enum kp_store_rc kp_store_cursor_next(struct kp_store_cursor *cur, const char **ns, const char **name, int64_t *rv,
				      struct kp_errbuf *eb);
enum kp_store_rc kp_store_cursor_json(struct kp_store_cursor *cur, const char **json, size_t *len,
				      struct kp_errbuf *eb);
void kp_store_cursor_release(struct kp_store_cursor *cur);
void kp_store_cursor_close(struct kp_store_cursor *cur);
/* Counts the objects of (group, resource) (all namespaces if ns is NULL). */
enum kp_store_rc kp_store_count(struct kp_store *st, const char *group, const char *resource, const char *ns,
				int64_t *n, struct kp_errbuf *eb);

/* The garbage collector's indexes. kp_store_find_uid: key of the object
 * with that uid (strings malloc'ed into *out; free with kp_store_key_free).
 * kp_store_dependents: fn gets the keys of objects whose ownerReferences
 * name owner_uid, ordered by key. */
enum kp_store_rc kp_store_find_uid(struct kp_store *st, const char *uid, struct kp_store_key *out,
				   struct kp_errbuf *eb);
typedef int (*kp_store_key_fn)(void *ud, const struct kp_store_key *k);
enum kp_store_rc kp_store_dependents(struct kp_store *st, const char *owner_uid, kp_store_key_fn fn, void *ud,
				     struct kp_errbuf *eb);
void kp_store_key_free(struct kp_store_key *k);
/* Owner uids still named in ownerReferences although no object has them
 * (their dependents await collection), ascending. */
typedef int (*kp_store_uid_fn)(void *ud, const char *uid);
enum kp_store_rc kp_store_dangling_owners(struct kp_store *st, kp_store_uid_fn fn, void *ud, struct kp_errbuf *eb);

/* ---- watches (in-process; the HTTP watch is built on these) ---- */
struct kp_store_event {
	enum kp_store_evtype type;
	int64_t rv;
	const char *group, *resource, *ns, *name;   /* owned by the watch */
	const char *json;                           /* owned by the watch until the next call */
	size_t len;
};

struct kp_store_watch;
/* Watches (group, resource) (group NULL = every resource) in one namespace
 * or all (ns NULL or ""), delivering every event with version > from_rv.
 * KP_STORE_GONE if from_rv is older than the window. */
enum kp_store_rc kp_store_watch_open(struct kp_store *st, const char *group, const char *resource, const char *ns,
				     int64_t from_rv, struct kp_store_watch **out, struct kp_errbuf *eb);
/* Next event, waiting up to timeout_ms (< 0: forever). KP_STORE_TIMEOUT when
 * none came, KP_STORE_CLOSED at shutdown, KP_STORE_GONE if the watch fell
 * behind the window. */
enum kp_store_rc kp_store_watch_next(struct kp_store_watch *w, int64_t timeout_ms, struct kp_store_event *ev,
				     struct kp_errbuf *eb);
/* Makes w's events carry no JSON (json NULL, len 0), for a caller that may
 * already hold an encoding of the object version (src/apiserver/enccache.c):
 * it reads the JSON of the event last returned with kp_store_watch_json
 * (valid until the next call of either function or kp_store_watch_release),
 * KP_STORE_GONE if the event left the window meanwhile (an event the watch
 * got from the in-memory ring keeps its JSON). Call before the
 * first kp_store_watch_next. */
void kp_store_watch_lazy(struct kp_store_watch *w);
enum kp_store_rc kp_store_watch_json(struct kp_store_watch *w, const char **json, size_t *len, struct kp_errbuf *eb);
void kp_store_watch_release(struct kp_store_watch *w);
/* Version the watch has seen up to (for BOOKMARK events). */
int64_t kp_store_watch_rv(const struct kp_store_watch *w);
void kp_store_watch_close(struct kp_store_watch *w);

#endif
