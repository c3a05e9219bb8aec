/*
 * store.c - SQLite object store with a global resourceVersion and an event
 * window for watch resume (see store.h for the contract).
 *
 * Tables: objects (one row per key: rv, uid, JSON), owners (owner uid ->
 * dependent key, for garbage collection), events (rv -> type, key, JSON,
 * the JSON before the write; the last `window` versions and those younger
 * than the TTL, at most max_events), meta (compacted version).
 *
 * Invariants: st->rv is the version of the last committed write and equals
 * max(events.rv); events with rv <= st->compacted may be gone. Writes are
 * group-committed (do_write): one leader at a time runs the queued writes
 * in one transaction, each under a savepoint, and commits once; every
 * write is acknowledged after that commit. st->qmu guards the queue and
 * the leader flag and is never held while SQLite works; st->mu guards
 * rv/compacted/closed and the condition variable watchers sleep on. The writer publishes
 * st->compacted before it deletes old events, so a reader that checks it
 * after its query never misses a pruned event silently.
 *
 * Cost: a batch of concurrent writes is one transaction with one fsync
 * (synchronous=FULL), so throughput grows with concurrency; get is
 * a primary-key lookup; list is a range scan on the key index; a watch step
 * is a range scan of the event window from the watcher's position.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "karpenter/strmap.h"
#include "store/store.h"

#define READERS_MAX 16
#define WATCH_BATCH 128
#define PRUNE_EVERY 256
#define WRITE_BATCH 256          /* most writes in one group commit */
#define RETAIN_MARKS 128         /* samples of (version, time) for time-based retention */

struct kp_store {
	sqlite3 *db;                 /* the writer connection (the leader's, see do_write) */
	char *path;
	pthread_mutex_t qmu;         /* guards the write queue and the leader flag */
	pthread_cond_t qcond;        /* broadcast when a batch is acknowledged */
	struct wreq *qhead, **qtail; /* writes waiting for a group commit, FIFO */
	bool leading;                /* a writer is running a batch (owns db) */
	pthread_mutex_t mu;          /* guards the fields below */
	pthread_cond_t cond;         /* broadcast on every commit and at shutdown */
	int64_t rv;
	int64_t compacted;
	int64_t window;
	int64_t writes_since_prune;
	int64_t ttl_ms;              /* events younger than this are kept too (0: count only) */
	int64_t max_events;          /* ... but never more than this many */
	struct { int64_t rv, ms; } marks[RETAIN_MARKS];   /* (version, wall ms) samples, a ring */
	int nmarks, mark_next;
	bool closed;
	sqlite3 *readers[READERS_MAX];  /* idle read connections (under mu) */
	int nreaders;
};

struct watch_item {
	struct kp_store_event ev;
	char *strs;                  /* group\0resource\0ns\0name\0json\0 */
};

struct kp_store_watch {
	struct kp_store *st;
	char *group, *resource, *ns; /* filters; NULL = any */
	int64_t pos;                 /* every event <= pos was delivered or skipped */
	struct watch_item items[WATCH_BATCH];
	int nitems, next;
	struct watch_item cur;       /* the event last returned (owned here) */
	bool lazy;                   /* events carry no JSON: kp_store_watch_json reads it */
	char *cur_json;              /* kp_store_watch_json's copy, freed by the next call */
};

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS objects(grp TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL,"
	" name TEXT NOT NULL, rv INTEGER NOT NULL, uid TEXT, json TEXT NOT NULL);"
	"CREATE UNIQUE INDEX IF NOT EXISTS objects_key ON objects(grp, res, ns, name);"
	"CREATE INDEX IF NOT EXISTS objects_uid ON objects(uid);"
	"CREATE TABLE IF NOT EXISTS owners(owner TEXT NOT NULL, grp TEXT NOT NULL, res TEXT NOT NULL,"
	" ns TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY(owner, grp, res, ns, name)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS owners_dep ON owners(grp, res, ns, name);"
	"CREATE TABLE IF NOT EXISTS events(rv INTEGER PRIMARY KEY, type INTEGER NOT NULL, grp TEXT NOT NULL,"
	" res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, json TEXT NOT NULL, prev TEXT);"
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);";

const char *kp_store_rc_str(enum kp_store_rc rc)
{
	switch (rc) {
	case KP_STORE_OK: return "ok";
	case KP_STORE_NOTFOUND: return "not found";
	case KP_STORE_EXISTS: return "already exists";
	case KP_STORE_CONFLICT: return "conflict";
	case KP_STORE_GONE: return "too old resource version";
	case KP_STORE_TIMEOUT: return "timeout";
	case KP_STORE_CLOSED: return "store closed";
	case KP_STORE_FAIL: return "store failure";
	}
	return "unknown";
}

const char *kp_store_evtype_str(enum kp_store_evtype t)
{
	switch (t) {
	case KP_EV_ADDED: return "ADDED";
	case KP_EV_MODIFIED: return "MODIFIED";
	case KP_EV_DELETED: return "DELETED";
	}
	return "UNKNOWN";
}

static enum kp_store_rc dbfail(struct kp_errbuf *eb, sqlite3 *db, const char *what)
{
	kp_errf(eb, KP_ERR_IO, "%s: %s", what, db ? sqlite3_errmsg(db) : "no database");
	return KP_STORE_FAIL;
}

static const char *nz(const char *s)
{
	return s ? s : "";
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static sqlite3 *open_conn(const char *path, bool create)
{
	sqlite3 *db = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);

	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 10000);
	return db;
}

static int64_t query_i64(sqlite3 *db, const char *sql, int64_t dflt)
{
	sqlite3_stmt *s = NULL;
	int64_t v = dflt;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_type(s, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

enum kp_store_rc kp_store_open(struct kp_store **out, const char *path, int64_t window, struct kp_errbuf *eb)
{
	struct kp_store *st;
	pthread_condattr_t ca;
	int64_t a, b;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(path))) {
		free(st);
		kp_errf(eb, KP_ERR_NOMEM, "store: out of memory");
		return KP_STORE_FAIL;
	}
	st->window = window > 0 ? window : KP_STORE_DEFAULT_WINDOW;
	st->db = open_conn(path, true);
	if (!st->db) {
		kp_errf(eb, KP_ERR_IO, "open %s: cannot open database", path);
		free(st->path);
		free(st);
		return KP_STORE_FAIL;
	}
	if (exec(st->db, "PRAGMA journal_mode=WAL") || exec(st->db, "PRAGMA synchronous=FULL") ||
	    exec(st->db, SCHEMA) ||
	    /* stores of earlier versions: events without the previous state */
	    (query_i64(st->db, "SELECT count(*) FROM pragma_table_info('events') WHERE name='prev'", 1) == 0 &&
	     exec(st->db, "ALTER TABLE events ADD COLUMN prev TEXT"))) {
		dbfail(eb, st->db, path);
		sqlite3_close(st->db);
		free(st->path);
		free(st);
		return KP_STORE_FAIL;
	}
	a = query_i64(st->db, "SELECT max(rv) FROM events", 0);
	b = query_i64(st->db, "SELECT max(rv) FROM objects", 0);
	st->rv = a > b ? a : b;
	st->compacted = query_i64(st->db, "SELECT v FROM meta WHERE k='compacted'", 0);
	if (st->compacted > st->rv)
		st->rv = st->compacted;
	st->ttl_ms = 0;          /* the window alone until kp_store_set_retention */
	st->max_events = KP_STORE_MAX_EVENTS;
	/* the events of an earlier run count as old */
	st->marks[0].rv = st->rv;
	st->marks[0].ms = 0;
	st->nmarks = st->mark_next = 1;
	pthread_mutex_init(&st->qmu, NULL);
	pthread_cond_init(&st->qcond, NULL);
	st->qtail = &st->qhead;
	pthread_mutex_init(&st->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->cond, &ca);
	pthread_condattr_destroy(&ca);
	*out = st;
	return KP_STORE_OK;
}

void kp_store_set_retention(struct kp_store *st, int64_t ttl_ms, int64_t max_events)
{
	st->ttl_ms = ttl_ms > 0 ? ttl_ms : 0;
	st->max_events = max_events > 0 ? max_events : KP_STORE_MAX_EVENTS;
}

void kp_store_shutdown(struct kp_store *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&st->mu);
	st->closed = true;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->mu);
}

void kp_store_close(struct kp_store *st)
{
	if (!st)
		return;
	for (int i = 0; i < st->nreaders; i++)
		sqlite3_close(st->readers[i]);
	sqlite3_close(st->db);
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->qmu);
	pthread_cond_destroy(&st->qcond);
	free(st->path);
	free(st);
}

int64_t kp_store_rv(struct kp_store *st)
{
	int64_t v;
	pthread_mutex_lock(&st->mu);
	v = st->rv;
	pthread_mutex_unlock(&st->mu);
	return v;
}

int64_t kp_store_oldest_rv(struct kp_store *st)
{
	int64_t v;
	pthread_mutex_lock(&st->mu);
	v = st->compacted;
	pthread_mutex_unlock(&st->mu);
	return v;
}

/* ---- read connections ---- */

static sqlite3 *reader_take(struct kp_store *st)
{
	sqlite3 *db = NULL;

	pthread_mutex_lock(&st->mu);
	if (st->nreaders > 0)
		db = st->readers[--st->nreaders];
	pthread_mutex_unlock(&st->mu);
	if (!db) {
		db = open_conn(st->path, false);
		if (db)
			exec(db, "PRAGMA query_only=1");
	}
	return db;
}

static void reader_give(struct kp_store *st, sqlite3 *db)
{
	if (!db)
		return;
	pthread_mutex_lock(&st->mu);
	if (st->nreaders < READERS_MAX) {
		st->readers[st->nreaders++] = db;
		db = NULL;
	}
	pthread_mutex_unlock(&st->mu);
	sqlite3_close(db);
}

static void bind_key(sqlite3_stmt *s, int first, const struct kp_store_key *k)
{
	sqlite3_bind_text(s, first, nz(k->group), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, first + 1, nz(k->resource), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, first + 2, nz(k->ns), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, first + 3, nz(k->name), -1, SQLITE_STATIC);
}

enum kp_store_rc kp_store_get(struct kp_store *st, const struct kp_store_key *k, char **json, int64_t *rv,
			      struct kp_errbuf *eb)
{
	sqlite3 *db = reader_take(st);
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc;
	int r;

	*json = NULL;
	if (!db)
		return dbfail(eb, NULL, "store get");
	if (sqlite3_prepare_v2(db, "SELECT json, rv FROM objects WHERE grp=?1 AND res=?2 AND ns=?3 AND name=?4",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = dbfail(eb, db, "store get");
		goto out;
	}
	bind_key(s, 1, k);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		*json = strdup((const char *)sqlite3_column_text(s, 0));
		if (rv)
			*rv = sqlite3_column_int64(s, 1);
		rc = *json ? KP_STORE_OK : KP_STORE_FAIL;
		if (!*json)
			kp_errf(eb, KP_ERR_NOMEM, "store get: out of memory");
	} else if (r == SQLITE_DONE) {
		rc = KP_STORE_NOTFOUND;
	} else {
		rc = dbfail(eb, db, "store get");
	}
out:
	sqlite3_finalize(s);
	reader_give(st, db);
	return rc;
}

/* ---- writes ---- */

static void set_rv(json_t *obj, int64_t rv)
{
	json_t *md = json_object_get(obj, "metadata");
	char buf[32];

	if (!json_is_object(md)) {
		md = json_object();
		json_object_set_new(obj, "metadata", md);
	}
	snprintf(buf, sizeof(buf), "%lld", (long long)rv);
	json_object_set_new(md, "resourceVersion", json_string(buf));
}

static const char *obj_uid(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid"));
}

/* Row state of a key inside the write transaction: 1 found, 0 not, -1 error. */
static int cur_rv(sqlite3 *db, const struct kp_store_key *k, int64_t *rv, char **json)
{
	sqlite3_stmt *s = NULL;
	int r, found = -1;

	if (sqlite3_prepare_v2(db, "SELECT rv, json FROM objects WHERE grp=?1 AND res=?2 AND ns=?3 AND name=?4",
			       -1, &s, NULL) != SQLITE_OK)
		return -1;
	bind_key(s, 1, k);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW) {
		*rv = sqlite3_column_int64(s, 0);
		if (json)
			*json = strdup((const char *)sqlite3_column_text(s, 1));
		found = (json && !*json) ? -1 : 1;
	} else if (r == SQLITE_DONE) {
		found = 0;
	}
	sqlite3_finalize(s);
	return found;
}

static int step_done(sqlite3 *db, const char *sql, const struct kp_store_key *k, int64_t rv, int type,
		     const char *uid, const char *json)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	bind_key(s, 1, k);
	/* ?5 rv, ?6 type, ?7 uid, ?8 json; binding past the statement's count is a harmless SQLITE_RANGE */
	int n = sqlite3_bind_parameter_count(s);
	if (n >= 5)
		sqlite3_bind_int64(s, 5, rv);
	if (n >= 6)
		sqlite3_bind_int(s, 6, type);
	if (n >= 7)
		sqlite3_bind_text(s, 7, uid, -1, SQLITE_STATIC);
	if (n >= 8)
		sqlite3_bind_text(s, 8, json, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : -1;
}

/* Appends the event of a write: the new state and, for an update or a
 * delete, the state before it (prev), so that a list as of any version in
 * the window can be rebuilt from the events after it alone. */
static int insert_event(sqlite3 *db, const struct kp_store_key *k, int64_t rv, int type, const char *json,
			const char *prev)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (sqlite3_prepare_v2(db, "INSERT INTO events(rv, type, grp, res, ns, name, json, prev) "
				   "VALUES(?5, ?6, ?1, ?2, ?3, ?4, ?7, ?8)", -1, &s, NULL) != SQLITE_OK)
		return -1;
	bind_key(s, 1, k);
	sqlite3_bind_int64(s, 5, rv);
	sqlite3_bind_int(s, 6, type);
	sqlite3_bind_text(s, 7, json, -1, SQLITE_STATIC);
	if (prev)
		sqlite3_bind_text(s, 8, prev, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : -1;
}

static int write_owners(sqlite3 *db, const struct kp_store_key *k, const json_t *obj)
{
	json_t *refs, *ref;
	size_t i;

	if (step_done(db, "DELETE FROM owners WHERE grp=?1 AND res=?2 AND ns=?3 AND name=?4", k, 0, 0, NULL, NULL))
		return -1;
	if (!obj)
		return 0;
	refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
	json_array_foreach(refs, i, ref) {
		const char *u = json_string_value(json_object_get(ref, "uid"));
		if (!u)
			continue;
		if (step_done(db, "INSERT OR IGNORE INTO owners(owner, grp, res, ns, name) VALUES(?7, ?1, ?2, ?3, ?4)",
			      k, 0, 0, u, NULL))
			return -1;
	}
	return 0;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Records (rv, now) at most every ttl/64 (at least 1 s), so the ring covers
 * about two TTLs. Writer only. */
static void retain_mark(struct kp_store *st, int64_t rv)
{
	int64_t now = wall_ms(), step = st->ttl_ms / 64 > 1000 ? st->ttl_ms / 64 : 1000;
	int last = (st->mark_next + RETAIN_MARKS - 1) % RETAIN_MARKS;

	if (st->ttl_ms <= 0 || (st->nmarks && now - st->marks[last].ms < step))
		return;
	st->marks[st->mark_next].rv = rv;
	st->marks[st->mark_next].ms = now;
	st->mark_next = (st->mark_next + 1) % RETAIN_MARKS;
	if (st->nmarks < RETAIN_MARKS)
		st->nmarks++;
}

/* The compaction point for the latest version rv: events outside the
 * window (the last `window` versions) AND older than the TTL may go, but
 * never more than max_events are kept (the etcd-like "history for a time",
 * bounded). */
static int64_t compaction_point(const struct kp_store *st, int64_t rv)
{
	int64_t below = rv - st->window, old = 0, now = wall_ms();

	if (st->ttl_ms > 0) {
		/* the newest sample older than the TTL: everything up to its version is old enough */
		for (int i = 0; i < st->nmarks; i++)
			if (now - st->marks[i].ms >= st->ttl_ms && st->marks[i].rv > old)
				old = st->marks[i].rv;
		if (old < below)
			below = old;
		if (st->max_events > st->window && below < rv - st->max_events)
			below = rv - st->max_events;
	}
	return below;
}

static int prune(struct kp_store *st, int64_t rv)
{
	int64_t below = compaction_point(st, rv);
	sqlite3_stmt *s = NULL;
	int r;

	if (below <= st->compacted)
		return 0;
	pthread_mutex_lock(&st->mu);
	st->compacted = below;   /* published before the delete: see the file comment */
	pthread_mutex_unlock(&st->mu);
	if (sqlite3_prepare_v2(st->db, "DELETE FROM events WHERE rv <= ?1", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, below);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	if (r != SQLITE_DONE)
		return -1;
	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO meta(k, v) VALUES('compacted', ?1)", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, below);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : -1;
}

enum wop { OP_CREATE, OP_UPDATE, OP_DELETE };

/* One write waiting for (or in) a group commit. */
struct wreq {
	enum wop op;
	const struct kp_store_key *k;
	json_t *obj;
	int64_t expect_rv;
	bool want_last;
	enum kp_store_rc rc;
	int64_t rv;
	char *last;                  /* the DELETED object's final text (want_last) */
	struct kp_errbuf eb;
	bool done;
	struct wreq *next;
};

/* Applies one write inside the leader's open transaction, under its own
 * savepoint so a failed write leaves the batch's other writes intact. rv is
 * the version it takes if it succeeds. */
static enum kp_store_rc apply_one(struct kp_store *st, struct wreq *w, int64_t rv)
{
	enum kp_store_rc rc = KP_STORE_OK;
	int64_t old_rv = 0;
	char *old = NULL, *text = NULL;
	json_t *lastobj = NULL, *obj = w->obj;
	const struct kp_store_key *k = w->k;
	enum wop op = w->op;
	int found;

	if (exec(st->db, "SAVEPOINT w"))
		return dbfail(&w->eb, st->db, "store savepoint");
	found = cur_rv(st->db, k, &old_rv, op != OP_CREATE ? &old : NULL);
	if (found < 0) {
		rc = dbfail(&w->eb, st->db, "store read");
		goto rollback;
	}
	if (op == OP_CREATE && found) {
		rc = KP_STORE_EXISTS;
		goto rollback;
	}
	if (op != OP_CREATE && !found) {
		rc = KP_STORE_NOTFOUND;
		goto rollback;
	}
	if (op != OP_CREATE && w->expect_rv > 0 && w->expect_rv != old_rv) {
		rc = KP_STORE_CONFLICT;
		goto rollback;
	}
	if (op == OP_DELETE) {
		lastobj = json_loads(old, 0, NULL);
		if (!lastobj)
			lastobj = json_object();
		obj = lastobj;
	}
	set_rv(obj, rv);
	text = json_dumps(obj, JSON_COMPACT);
	if (!text) {
		rc = KP_STORE_FAIL;
		kp_errf(&w->eb, KP_ERR_NOMEM, "store: cannot encode object");
		goto rollback;
	}
	if (op == OP_CREATE) {
		if (step_done(st->db, "INSERT INTO objects(grp, res, ns, name, rv, uid, json) "
				      "VALUES(?1, ?2, ?3, ?4, ?5, ?7, ?8)", k, rv, 0, obj_uid(obj), text))
			goto fail;
	} else if (op == OP_UPDATE) {
		if (step_done(st->db, "UPDATE objects SET rv=?5, uid=?7, json=?8 "
				      "WHERE grp=?1 AND res=?2 AND ns=?3 AND name=?4", k, rv, 0, obj_uid(obj), text))
			goto fail;
	} else {
		if (step_done(st->db, "DELETE FROM objects WHERE grp=?1 AND res=?2 AND ns=?3 AND name=?4",
			      k, 0, 0, NULL, NULL))
			goto fail;
	}
	if (write_owners(st->db, k, op == OP_DELETE ? NULL : obj))
		goto fail;
	if (insert_event(st->db, k, rv, op == OP_CREATE ? KP_EV_ADDED : op == OP_UPDATE ? KP_EV_MODIFIED : KP_EV_DELETED,
			 text, old))
		goto fail;
	retain_mark(st, rv);
	if (++st->writes_since_prune >= PRUNE_EVERY ||
	    rv - st->compacted > (st->ttl_ms > 0 ? st->max_events : st->window) + PRUNE_EVERY) {
		st->writes_since_prune = 0;
		if (prune(st, rv))
			goto fail;
	}
	if (exec(st->db, "RELEASE w")) {
		rc = dbfail(&w->eb, st->db, "store release");
		goto rollback;
	}
	w->rv = rv;
	if (w->want_last) {
		w->last = text;
		text = NULL;
	}
	goto out;
fail:
	rc = dbfail(&w->eb, st->db, "store write");
rollback:
	exec(st->db, "ROLLBACK TO w");
	exec(st->db, "RELEASE w");
out:
	free(old);
	free(text);
	json_decref(lastobj);
	return rc;
}

/* The leader's part: the writes of batch in one transaction, one commit
 * (one fsync), then the new version is published and watchers woken. No
 * mutex is held while SQLite works or syncs: the leader role (st->leading)
 * keeps the writer connection to this thread. */
static void run_batch(struct kp_store *st, struct wreq *batch)
{
	int64_t rv, base;
	bool closed, any = false;

	pthread_mutex_lock(&st->mu);
	closed = st->closed;
	base = rv = st->rv;
	pthread_mutex_unlock(&st->mu);
	if (closed) {
		for (struct wreq *w = batch; w; w = w->next)
			w->rc = KP_STORE_CLOSED;
		return;
	}
	if (exec(st->db, "BEGIN IMMEDIATE")) {
		for (struct wreq *w = batch; w; w = w->next)
			w->rc = dbfail(&w->eb, st->db, "store begin");
		return;
	}
	for (struct wreq *w = batch; w; w = w->next) {
		w->rc = apply_one(st, w, rv + 1);
		if (w->rc == KP_STORE_OK) {
			rv++;
			any = true;
		}
	}
	if (!any) {
		exec(st->db, "ROLLBACK");
		return;
	}
	if (exec(st->db, "COMMIT")) {
		for (struct wreq *w = batch; w; w = w->next)
			if (w->rc == KP_STORE_OK) {
				w->rc = dbfail(&w->eb, st->db, "store commit");
				free(w->last);
				w->last = NULL;
			}
		exec(st->db, "ROLLBACK");
		return;
	}
	pthread_mutex_lock(&st->mu);
	if (st->rv == base)
		st->rv = rv;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->mu);
}

/* Group commit: a writer queues its request; whoever finds no leader
 * becomes it, takes up to WRITE_BATCH queued requests, runs them in one
 * transaction and acknowledges them after the commit. Every write is thus
 * acknowledged only once durable, and writes that arrive while a commit is
 * syncing share the next one. */
static enum kp_store_rc do_write(struct kp_store *st, enum wop op, const struct kp_store_key *k, json_t *obj,
				 int64_t expect_rv, char **last, int64_t *rv_out, struct kp_errbuf *eb)
{
	struct wreq r = { .op = op, .k = k, .obj = obj, .expect_rv = expect_rv, .want_last = last != NULL };

	if (last)
		*last = NULL;
	pthread_mutex_lock(&st->qmu);
	*st->qtail = &r;
	st->qtail = &r.next;
	while (!r.done) {
		if (st->leading) {
			pthread_cond_wait(&st->qcond, &st->qmu);
			continue;
		}
		struct wreq *batch = st->qhead, *end = batch;
		for (int n = 1; n < WRITE_BATCH && end->next; n++)
			end = end->next;
		st->qhead = end->next;
		if (!st->qhead)
			st->qtail = &st->qhead;
		end->next = NULL;
		st->leading = true;
		pthread_mutex_unlock(&st->qmu);
		run_batch(st, batch);
		pthread_mutex_lock(&st->qmu);
		for (struct wreq *w = batch, *next; w; w = next) {
			next = w->next;
			w->done = true;
		}
		st->leading = false;
		pthread_cond_broadcast(&st->qcond);
	}
	pthread_mutex_unlock(&st->qmu);
	if (r.rc == KP_STORE_OK) {
		if (rv_out)
			*rv_out = r.rv;
		if (last)
			*last = r.last;
		else
			free(r.last);
	} else if (eb && r.eb.msg[0]) {
		*eb = r.eb;
	}
	return r.rc;
}

enum kp_store_rc kp_store_create(struct kp_store *st, const struct kp_store_key *k, json_t *obj, int64_t *rv,
				 struct kp_errbuf *eb)
{
	return do_write(st, OP_CREATE, k, obj, 0, NULL, rv, eb);
}

enum kp_store_rc kp_store_update(struct kp_store *st, const struct kp_store_key *k, json_t *obj,
				 int64_t expect_rv, int64_t *rv, struct kp_errbuf *eb)
{
	return do_write(st, OP_UPDATE, k, obj, expect_rv, NULL, rv, eb);
}

enum kp_store_rc kp_store_delete(struct kp_store *st, const struct kp_store_key *k, int64_t expect_rv,
				 char **last, int64_t *rv, struct kp_errbuf *eb)
{
	return do_write(st, OP_DELETE, k, NULL, expect_rv, last, rv, eb);
}

/* ---- list ---- */

enum kp_store_rc kp_store_list(struct kp_store *st, const char *group, const char *resource, const char *ns,
			       kp_store_list_fn fn, void *ud, int64_t *list_rv, struct kp_errbuf *eb)
{
	sqlite3 *db = reader_take(st);
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_OK;
	bool all = !ns || !*ns;
	int r;

	if (!db)
		return dbfail(eb, NULL, "store list");
	if (exec(db, "BEGIN")) {
		reader_give(st, db);
		return dbfail(eb, db, "store list");
	}
	/* the snapshot's version: the newest event visible in this transaction */
	if (list_rv) {
		*list_rv = query_i64(db, "SELECT max(rv) FROM events", 0);
		if (*list_rv == 0)
			*list_rv = query_i64(db, "SELECT max(rv) FROM objects", 0);
	}
	if (sqlite3_prepare_v2(db, all ? "SELECT json, rv FROM objects WHERE grp=?1 AND res=?2 ORDER BY ns, name"
				       : "SELECT json, rv FROM objects WHERE grp=?1 AND res=?2 AND ns=?3 ORDER BY name",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = dbfail(eb, db, "store list");
		goto out;
	}
	sqlite3_bind_text(s, 1, nz(group), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, nz(resource), -1, SQLITE_STATIC);
	if (!all)
		sqlite3_bind_text(s, 3, ns, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		const char *j = (const char *)sqlite3_column_text(s, 0);
		size_t n = (size_t)sqlite3_column_bytes(s, 0);
		if (fn(ud, j, n, sqlite3_column_int64(s, 1)))
			break;
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = dbfail(eb, db, "store list");
out:
	sqlite3_finalize(s);
	exec(db, "COMMIT");
	reader_give(st, db);
	return rc;
}

/* ---- lists as of a past version (kp_store_list_page) ---- */

/* What the event window says of one key changed after the listed version. */
struct past {
	const char *ns, *name;      /* borrowed from the map's key */
	int first_after;            /* type of the first event after at_rv */
	char *json;                 /* the state at at_rv (that event's prev), NULL if absent then or unknown */
	int64_t rv;                 /* its resourceVersion */
};

static int past_cmp(const void *a, const void *b)
{
	const struct past *x = *(const struct past *const *)a, *y = *(const struct past *const *)b;
	int c = strcmp(x->ns, y->ns);
	return c ? c : strcmp(x->name, y->name);
}

static bool key_after(const char *ns, const char *name, const char *after_ns, const char *after_name)
{
	int c;
	if (!after_ns)
		return true;
	c = strcmp(ns, after_ns);
	return c > 0 || (c == 0 && strcmp(name, nz(after_name)) > 0);
}

static void past_free(struct kp_strmap *m)
{
	KP_STRMAP_FOREACH(m, e) {
		struct past *p = e->val;
		free(p->json);
		free(p);
	}
	kp_strmap_free(m);
}

/* Reads the events of (group, resource[, ns]) after at_rv into m: every
 * key with an event after at_rv, with its state at at_rv (the first such
 * event's prev; none when that event is ADDED). One range scan of the
 * window from at_rv. */
static enum kp_store_rc past_scan(sqlite3 *db, const char *group, const char *resource, const char *ns,
				  int64_t at_rv, struct kp_strmap *m, struct kp_errbuf *eb)
{
	bool all = !ns || !*ns;
	sqlite3_stmt *s = NULL;
	int r;
	const char *sql = all ? "SELECT type, ns, name, prev FROM events WHERE rv > ?4 AND grp=?1 AND res=?2 ORDER BY rv"
			      : "SELECT type, ns, name, prev FROM events WHERE rv > ?4 AND grp=?1 AND res=?2 AND ns=?3 "
				"ORDER BY rv";

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return dbfail(eb, db, "store list");
	sqlite3_bind_text(s, 1, nz(group), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, nz(resource), -1, SQLITE_STATIC);
	if (!all)
		sqlite3_bind_text(s, 3, ns, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, at_rv);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		const char *ens = (const char *)sqlite3_column_text(s, 1), *enm = (const char *)sqlite3_column_text(s, 2);
		const char *prev = (const char *)sqlite3_column_text(s, 3);
		size_t a = strlen(nz(ens)), b = strlen(nz(enm));
		char key[1024];
		struct past *p;
		if (a + b + 2 > sizeof(key))
			continue;
		memcpy(key, nz(ens), a);
		/* the map key is "ns" only up to its NUL: use a printable separator */
		key[a] = '\x01';
		memcpy(key + a + 1, nz(enm), b + 1);
		if (kp_strmap_get(m, key))
			continue;
		p = calloc(1, sizeof(*p));
		if (!p || kp_strmap_put(m, key, p, NULL)) {
			free(p);
			sqlite3_finalize(s);
			return kp_errf(eb, KP_ERR_NOMEM, "store list: out of memory"), KP_STORE_FAIL;
		}
		p->first_after = sqlite3_column_int(s, 0);
		if (p->first_after != KP_EV_ADDED && prev) {
			json_t *o = json_loads(prev, 0, NULL);
			const char *v = json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
			if (v)
				kp_parse_i64(v, &p->rv);
			json_decref(o);
			p->json = strdup(prev);
			if (!p->json) {
				sqlite3_finalize(s);
				return kp_errf(eb, KP_ERR_NOMEM, "store list: out of memory"), KP_STORE_FAIL;
			}
		}
	}
	sqlite3_finalize(s);
	if (r != SQLITE_DONE)
		return dbfail(eb, db, "store list");
	KP_STRMAP_FOREACH(m, e) {
		struct past *p = e->val;
		char *sep = strchr(e->key, '\x01');
		p->ns = e->key;      /* split below: the key is ns \x01 name */
		p->name = sep ? sep + 1 : "";
	}
	return KP_STORE_OK;
}

enum kp_store_rc kp_store_list_page(struct kp_store *st, const char *group, const char *resource, const char *ns,
				    int64_t at_rv, const char *after_ns, const char *after_name, kp_store_page_fn fn,
				    void *ud, int64_t *list_rv, struct kp_errbuf *eb)
{
	sqlite3 *db = reader_take(st);
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_OK;
	bool all = !ns || !*ns;
	struct kp_strmap m;
	struct past **pv = NULL;
	char **nsv = NULL;
	size_t np = 0, pi = 0;
	int64_t snap, compacted;
	int r;

	kp_strmap_init(&m);
	if (!db)
		return dbfail(eb, NULL, "store list");
	if (exec(db, "BEGIN")) {
		reader_give(st, db);
		return dbfail(eb, db, "store list");
	}
	snap = query_i64(db, "SELECT max(rv) FROM events", 0);
	if (snap == 0)
		snap = query_i64(db, "SELECT max(rv) FROM objects", 0);
	/* read after the snapshot began: every event above it is visible to us */
	compacted = kp_store_oldest_rv(st);
	if (at_rv <= 0 || at_rv >= snap) {
		at_rv = snap;
	} else if (at_rv < compacted) {
		kp_errf(eb, KP_ERR_RANGE, "too old resource version: %lld (%lld)", (long long)at_rv,
			(long long)compacted);
		rc = KP_STORE_GONE;
		goto out;
	} else {
		rc = past_scan(db, group, resource, ns, at_rv, &m, eb);
		if (rc)
			goto out;
		pv = calloc(m.cap ? m.cap : 1, sizeof(*pv));
		nsv = calloc(m.cap ? m.cap : 1, sizeof(*nsv));
		if (!pv || !nsv) {
			rc = KP_STORE_FAIL;
			kp_errf(eb, KP_ERR_NOMEM, "store list: out of memory");
			goto out;
		}
		KP_STRMAP_FOREACH(&m, e) {
			struct past *p = e->val;
			const char *sep = strchr(e->key, '\x01');
			nsv[np] = strndup(e->key, sep ? (size_t)(sep - e->key) : strlen(e->key));
			if (!nsv[np]) {
				rc = KP_STORE_FAIL;
				kp_errf(eb, KP_ERR_NOMEM, "store list: out of memory");
				goto out;
			}
			p->ns = nsv[np++];
			if (!key_after(p->ns, p->name, after_ns, after_name))
				continue;
			if (p->first_after == KP_EV_ADDED)
				continue;       /* created after at_rv */
			if (p->json) {
				pv[pi++] = p;
			} else {
				/* an event written by an earlier version of the store, without prev */
				kp_errf(eb, KP_ERR_RANGE, "too old resource version: %lld (the state of %s/%s then is unknown)",
					(long long)at_rv, p->ns, p->name);
				rc = KP_STORE_GONE;
				goto out;
			}
		}
		qsort(pv, pi, sizeof(*pv), past_cmp);
	}
	if (list_rv)
		*list_rv = at_rv;
	if (sqlite3_prepare_v2(db, all ? "SELECT ns, name, json, rv FROM objects WHERE grp=?1 AND res=?2 AND rv <= ?4 "
					 "AND (ns > ?5 OR (ns = ?5 AND name > ?6)) ORDER BY ns, name"
				       : "SELECT ns, name, json, rv FROM objects WHERE grp=?1 AND res=?2 AND ns=?3 AND rv <= ?4 "
					 "AND (ns > ?5 OR (ns = ?5 AND name > ?6)) ORDER BY name",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = dbfail(eb, db, "store list");
		goto out;
	}
	sqlite3_bind_text(s, 1, nz(group), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, nz(resource), -1, SQLITE_STATIC);
	if (!all)
		sqlite3_bind_text(s, 3, ns, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, at_rv);
	/* no after key: "" sorts before every namespace, and (ns = "" AND name > "") before every name */
	sqlite3_bind_text(s, 5, after_ns ? after_ns : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, after_ns ? nz(after_name) : "", -1, SQLITE_STATIC);
	{
		size_t k = 0;
		bool stop = false;
		r = sqlite3_step(s);
		while (!stop && (r == SQLITE_ROW || k < pi)) {
			const char *ons = r == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
			const char *onm = r == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 1) : NULL;
			bool take_past = k < pi && (!ons || strcmp(pv[k]->ns, nz(ons)) < 0 ||
						    (strcmp(pv[k]->ns, nz(ons)) == 0 && strcmp(pv[k]->name, nz(onm)) < 0));
			if (take_past) {
				stop = fn(ud, pv[k]->ns, pv[k]->name, pv[k]->json, strlen(pv[k]->json), pv[k]->rv) != 0;
				k++;
				continue;
			}
			stop = fn(ud, nz(ons), nz(onm), (const char *)sqlite3_column_text(s, 2),
				  (size_t)sqlite3_column_bytes(s, 2), sqlite3_column_int64(s, 3)) != 0;
			r = sqlite3_step(s);
		}
		if (!stop && r != SQLITE_ROW && r != SQLITE_DONE)
			rc = dbfail(eb, db, "store list");
	}
out:
	sqlite3_finalize(s);
	exec(db, "COMMIT");
	reader_give(st, db);
	for (size_t i = 0; i < np; i++)
		free(nsv[i]);
	free(nsv);
	free(pv);
	past_free(&m);
	return rc;
}

/* ---- cursors (streamed lists) ----
 * The scan reads each row's key and version only (the key index and the
 * row's first page); kp_store_cursor_json reads the JSON of the row last
 * returned, in the same read transaction, so a caller that already holds
 * an encoding of that version (src/apiserver/enccache.c) never makes
 * SQLite assemble a large object's overflow pages again. */
struct kp_store_cursor {
	struct kp_store *st;
	sqlite3 *db;
	sqlite3_stmt *s;             /* ns, name, rv, rowid in key order */
	sqlite3_stmt *j;             /* json of one rowid; reset after each use */
	char *group, *resource, *ns;
	bool have_row;
};

void kp_store_cursor_close(struct kp_store_cursor *cur)
{
	if (!cur)
		return;
	sqlite3_finalize(cur->s);
	sqlite3_finalize(cur->j);
	if (cur->db) {
		exec(cur->db, "COMMIT");
		reader_give(cur->st, cur->db);
	}
	free(cur->group);
	free(cur->resource);
	free(cur->ns);
	free(cur);
}

enum kp_store_rc kp_store_cursor_open(struct kp_store *st, const char *group, const char *resource, const char *ns,
				      int64_t *list_rv, struct kp_store_cursor **out, struct kp_errbuf *eb)
{
	struct kp_store_cursor *cur = calloc(1, sizeof(*cur));
	bool all = !ns || !*ns;

	*out = NULL;
	if (!cur)
		return kp_errf(eb, KP_ERR_NOMEM, "store list: out of memory"), KP_STORE_FAIL;
	cur->st = st;
	cur->group = strdup(nz(group));
	cur->resource = strdup(nz(resource));
	cur->ns = strdup(nz(ns));
	cur->db = reader_take(st);
	if (!cur->group || !cur->resource || !cur->ns || !cur->db) {
		kp_store_cursor_close(cur);
		return dbfail(eb, NULL, "store list");
	}
	if (exec(cur->db, "BEGIN")) {
		enum kp_store_rc rc = dbfail(eb, cur->db, "store list");
		reader_give(st, cur->db);
		cur->db = NULL;
		kp_store_cursor_close(cur);
		return rc;
	}
	*list_rv = query_i64(cur->db, "SELECT max(rv) FROM events", 0);
	if (*list_rv == 0)
		*list_rv = query_i64(cur->db, "SELECT max(rv) FROM objects", 0);
	if (sqlite3_prepare_v2(cur->db, all ? "SELECT ns, name, rv, rowid FROM objects WHERE grp=?1 AND res=?2 "
					      "ORDER BY ns, name"
					    : "SELECT ns, name, rv, rowid FROM objects WHERE grp=?1 AND res=?2 AND ns=?3 "
					      "ORDER BY name",
			       -1, &cur->s, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(cur->db, "SELECT json FROM objects WHERE rowid=?1", -1, &cur->j, NULL) != SQLITE_OK) {
		enum kp_store_rc rc = dbfail(eb, cur->db, "store list");
		kp_store_cursor_close(cur);
		return rc;
	}
	sqlite3_bind_text(cur->s, 1, cur->group, -1, SQLITE_STATIC);
	sqlite3_bind_text(cur->s, 2, cur->resource, -1, SQLITE_STATIC);
	if (!all)
		sqlite3_bind_text(cur->s, 3, cur->ns, -1, SQLITE_STATIC);
	*out = cur;
	return KP_STORE_OK;
}

enum kp_store_rc kp_store_cursor_next(struct kp_store_cursor *cur, const char **ns, const char **name, int64_t *rv,
				      struct kp_errbuf *eb)
{
	int r;

	sqlite3_reset(cur->j);
	r = sqlite3_step(cur->s);
	cur->have_row = r == SQLITE_ROW;
	if (r == SQLITE_ROW) {
		*ns = nz((const char *)sqlite3_column_text(cur->s, 0));
		*name = nz((const char *)sqlite3_column_text(cur->s, 1));
		*rv = sqlite3_column_int64(cur->s, 2);
		return KP_STORE_OK;
	}
	if (r == SQLITE_DONE)
		return KP_STORE_NOTFOUND;
	return dbfail(eb, cur->db, "store list");
}

enum kp_store_rc kp_store_cursor_json(struct kp_store_cursor *cur, const char **json, size_t *len,
				      struct kp_errbuf *eb)
{
	int r;

	if (!cur->have_row)
		return kp_errf(eb, KP_ERR_INVALID, "store list: no current row"), KP_STORE_FAIL;
	sqlite3_reset(cur->j);
	sqlite3_bind_int64(cur->j, 1, sqlite3_column_int64(cur->s, 3));
	r = sqlite3_step(cur->j);
	if (r == SQLITE_ROW) {
		*json = (const char *)sqlite3_column_text(cur->j, 0);
		*len = (size_t)sqlite3_column_bytes(cur->j, 0);
		return *json ? KP_STORE_OK : (kp_errf(eb, KP_ERR_NOMEM, "store list: out of memory"), KP_STORE_FAIL);
	}
	return dbfail(eb, cur->db, "store list");
}

void kp_store_cursor_release(struct kp_store_cursor *cur)
{
	if (cur)
		sqlite3_reset(cur->j);
}

enum kp_store_rc kp_store_count(struct kp_store *st, const char *group, const char *resource, const char *ns,
				int64_t *n, struct kp_errbuf *eb)
{
	sqlite3 *db = reader_take(st);
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_OK;
	bool all = !ns;

	*n = 0;
	if (!db)
		return dbfail(eb, NULL, "store count");
	if (sqlite3_prepare_v2(db, all ? "SELECT count(*) FROM objects WHERE grp=?1 AND res=?2"
				       : "SELECT count(*) FROM objects WHERE grp=?1 AND res=?2 AND ns=?3",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = dbfail(eb, db, "store count");
	} else {
		sqlite3_bind_text(s, 1, nz(group), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, nz(resource), -1, SQLITE_STATIC);
		if (!all)
			sqlite3_bind_text(s, 3, ns, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			*n = sqlite3_column_int64(s, 0);
		else
			rc = dbfail(eb, db, "store count");
	}
	sqlite3_finalize(s);
	reader_give(st, db);
	return rc;
}

/* ---- garbage-collector indexes ---- */

void kp_store_key_free(struct kp_store_key *k)
{
	if (!k)
		return;
	free((char *)k->group);
	free((char *)k->resource);
	free((char *)k->ns);
	free((char *)k->name);
	memset(k, 0, sizeof(*k));
}

static int key_from_row(sqlite3_stmt *s, int first, struct kp_store_key *k)
{
	k->group = strdup((const char *)sqlite3_column_text(s, first));
	k->resource = strdup((const char *)sqlite3_column_text(s, first + 1));
	k->ns = strdup((const char *)sqlite3_column_text(s, first + 2));
	k->name = strdup((const char *)sqlite3_column_text(s, first + 3));
	if (!k->group || !k->resource || !k->ns || !k->name) {
		kp_store_key_free(k);
		return -1;
	}
	return 0;
}

enum kp_store_rc kp_store_find_uid(struct kp_store *st, const char *uid, struct kp_store_key *out,
				   struct kp_errbuf *eb)
{
	sqlite3 *db = reader_take(st);
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_NOTFOUND;
	int r;

	memset(out, 0, sizeof(*out));
	if (!db)
		return dbfail(eb, NULL, "store find uid");
	if (sqlite3_prepare_v2(db, "SELECT grp, res, ns, name FROM objects WHERE uid=?1", -1, &s, NULL) != SQLITE_OK) {
		rc = dbfail(eb, db, "store find uid");
	} else {
		sqlite3_bind_text(s, 1, uid, -1, SQLITE_STATIC);
		r = sqlite3_step(s);
		if (r == SQLITE_ROW)
			rc = key_from_row(s, 0, out) ? KP_STORE_FAIL : KP_STORE_OK;
		else if (r != SQLITE_DONE)
			rc = dbfail(eb, db, "store find uid");
	}
	sqlite3_finalize(s);
	reader_give(st, db);
	return rc;
}

enum kp_store_rc kp_store_dependents(struct kp_store *st, const char *owner_uid, kp_store_key_fn fn, void *ud,
				     struct kp_errbuf *eb)
{
	sqlite3 *db = reader_take(st);
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_OK;
	int r;

	if (!db)
		return dbfail(eb, NULL, "store dependents");
	if (sqlite3_prepare_v2(db, "SELECT grp, res, ns, name FROM owners WHERE owner=?1 ORDER BY grp, res, ns, name",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = dbfail(eb, db, "store dependents");
		goto out;
	}
	sqlite3_bind_text(s, 1, owner_uid, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		struct kp_store_key k = {
			(const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
			(const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3),
		};
		if (fn(ud, &k))
			break;
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = dbfail(eb, db, "store dependents");
out:
	sqlite3_finalize(s);
	reader_give(st, db);
	return rc;
}

enum kp_store_rc kp_store_dangling_owners(struct kp_store *st, kp_store_uid_fn fn, void *ud, struct kp_errbuf *eb)
{
	sqlite3 *db = reader_take(st);
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_OK;
	int r;

	if (!db)
		return dbfail(eb, NULL, "store dangling owners");
	if (sqlite3_prepare_v2(db, "SELECT DISTINCT owner FROM owners WHERE NOT EXISTS "
				   "(SELECT 1 FROM objects WHERE objects.uid = owners.owner) ORDER BY owner",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = dbfail(eb, db, "store dangling owners");
		goto out;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(ud, (const char *)sqlite3_column_text(s, 0)))
			break;
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = dbfail(eb, db, "store dangling owners");
out:
	sqlite3_finalize(s);
	reader_give(st, db);
	return rc;
}

/* ---- watches ---- */

static void item_clear(struct watch_item *it)
{
	free(it->strs);
	memset(it, 0, sizeof(*it));
}

static char *dupn(const char *s)
{
	return s ? strdup(s) : NULL;
}

enum kp_store_rc kp_store_watch_open(struct kp_store *st, const char *group, const char *resource, const char *ns,
				     int64_t from_rv, struct kp_store_watch **out, struct kp_errbuf *eb)
{
	struct kp_store_watch *w;

	*out = NULL;
	pthread_mutex_lock(&st->mu);
	if (from_rv < st->compacted) {
		int64_t oldest = st->compacted;
		pthread_mutex_unlock(&st->mu);
		kp_errf(eb, KP_ERR_RANGE, "too old resource version: %lld (%lld)", (long long)from_rv,
			(long long)oldest);
		return KP_STORE_GONE;
	}
	pthread_mutex_unlock(&st->mu);
	w = calloc(1, sizeof(*w));
	if (!w)
		goto nomem;
	w->st = st;
	w->pos = from_rv;
	w->group = dupn(group);
	w->resource = dupn(group ? resource : NULL);
	w->ns = (ns && *ns) ? strdup(ns) : NULL;
	if ((group && !w->group) || (group && resource && !w->resource) || (ns && *ns && !w->ns)) {
		kp_store_watch_close(w);
		goto nomem;
	}
	*out = w;
	return KP_STORE_OK;
nomem:
	kp_errf(eb, KP_ERR_NOMEM, "store watch: out of memory");
	return KP_STORE_FAIL;
}

int64_t kp_store_watch_rv(const struct kp_store_watch *w)
{
	return w->pos;
}

void kp_store_watch_close(struct kp_store_watch *w)
{
	if (!w)
		return;
	for (int i = w->next; i < w->nitems; i++)
		item_clear(&w->items[i]);
	item_clear(&w->cur);
	free(w->cur_json);
	free(w->group);
	free(w->resource);
	free(w->ns);
	free(w);
}

void kp_store_watch_lazy(struct kp_store_watch *w)
{
	w->lazy = true;
}

enum kp_store_rc kp_store_watch_json(struct kp_store_watch *w, const char **json, size_t *len, struct kp_errbuf *eb)
{
	struct kp_store *st = w->st;
	sqlite3 *db;
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_OK;
	int64_t compacted;

	free(w->cur_json);
	w->cur_json = NULL;
	if (!w->cur.strs)
		return kp_errf(eb, KP_ERR_INVALID, "store watch: no current event"), KP_STORE_FAIL;
	if (!(db = reader_take(st)))
		return dbfail(eb, NULL, "store watch");
	if (sqlite3_prepare_v2(db, "SELECT json FROM events WHERE rv = ?1", -1, &s, NULL) != SQLITE_OK) {
		rc = dbfail(eb, db, "store watch");
		goto out;
	}
	sqlite3_bind_int64(s, 1, w->cur.ev.rv);
	if (sqlite3_step(s) == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(s, 0);
		const char *t = (const char *)sqlite3_column_text(s, 0);
		w->cur_json = t ? malloc(n + 1) : NULL;
		if (!w->cur_json) {
			rc = KP_STORE_FAIL;
			kp_errf(eb, KP_ERR_NOMEM, "store watch: out of memory");
			goto out;
		}
		memcpy(w->cur_json, t, n);
		w->cur_json[n] = '\0';
		*json = w->cur_json;
		*len = n;
	} else {
		rc = KP_STORE_GONE;   /* pruned since the batch was read */
	}
out:
	sqlite3_finalize(s);
	reader_give(st, db);
	if (rc == KP_STORE_GONE) {
		pthread_mutex_lock(&st->mu);
		compacted = st->compacted;
		pthread_mutex_unlock(&st->mu);
		kp_errf(eb, KP_ERR_RANGE, "too old resource version: %lld (%lld)", (long long)w->cur.ev.rv - 1,
			(long long)compacted);
	}
	return rc;
}

void kp_store_watch_release(struct kp_store_watch *w)
{
	free(w->cur_json);
	w->cur_json = NULL;
}

/* Reads the events in (w->pos, upto] that pass the filters into w->items. */
static enum kp_store_rc watch_fill(struct kp_store_watch *w, int64_t upto, struct kp_errbuf *eb)
{
	struct kp_store *st = w->st;
	sqlite3 *db = reader_take(st);
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_OK;
	int r, n = 0;

	if (!db)
		return dbfail(eb, NULL, "store watch");
	if (sqlite3_prepare_v2(db, w->lazy ? "SELECT rv, type, grp, res, ns, name, '' FROM events WHERE rv > ?1 AND rv <= ?2"
					     " AND (?3 IS NULL OR grp = ?3) AND (?4 IS NULL OR res = ?4)"
					     " AND (?5 IS NULL OR ns = ?5) ORDER BY rv LIMIT ?6"
					   : "SELECT rv, type, grp, res, ns, name, json FROM events WHERE rv > ?1 AND rv <= ?2"
					     " AND (?3 IS NULL OR grp = ?3) AND (?4 IS NULL OR res = ?4)"
					     " AND (?5 IS NULL OR ns = ?5) ORDER BY rv LIMIT ?6",
			       -1, &s, NULL) != SQLITE_OK) {
		rc = dbfail(eb, db, "store watch");
		goto out;
	}
	sqlite3_bind_int64(s, 1, w->pos);
	sqlite3_bind_int64(s, 2, upto);
	if (w->group)
		sqlite3_bind_text(s, 3, w->group, -1, SQLITE_STATIC);
	if (w->resource)
		sqlite3_bind_text(s, 4, w->resource, -1, SQLITE_STATIC);
	if (w->ns)
		sqlite3_bind_text(s, 5, w->ns, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, WATCH_BATCH);
	while (n < WATCH_BATCH && (r = sqlite3_step(s)) == SQLITE_ROW) {
		struct watch_item *it = &w->items[n];
		const char *f[5];
		size_t len[5], total = 0, off = 0;

		for (int i = 0; i < 5; i++) {
			f[i] = (const char *)sqlite3_column_text(s, 2 + i);
			len[i] = (size_t)sqlite3_column_bytes(s, 2 + i);
			total += len[i] + 1;
		}
		it->strs = malloc(total);
		if (!it->strs) {
			rc = KP_STORE_FAIL;
			kp_errf(eb, KP_ERR_NOMEM, "store watch: out of memory");
			break;
		}
		for (int i = 0; i < 5; i++) {
			memcpy(it->strs + off, f[i], len[i]);
			it->strs[off + len[i]] = '\0';
			off += len[i] + 1;
		}
		it->ev.rv = sqlite3_column_int64(s, 0);
		it->ev.type = (enum kp_store_evtype)sqlite3_column_int(s, 1);
		it->ev.group = it->strs;
		it->ev.resource = it->ev.group + len[0] + 1;
		it->ev.ns = it->ev.resource + len[1] + 1;
		it->ev.name = it->ev.ns + len[2] + 1;
		it->ev.json = w->lazy ? NULL : it->ev.name + len[3] + 1;
		it->ev.len = len[4];
		n++;
	}
	w->nitems = n;
	w->next = 0;
out:
	sqlite3_finalize(s);
	reader_give(st, db);
	if (rc == KP_STORE_OK) {
		int64_t compacted;
		pthread_mutex_lock(&st->mu);
		compacted = st->compacted;
		pthread_mutex_unlock(&st->mu);
		if (w->pos < compacted) {
			for (int i = 0; i < n; i++)
				item_clear(&w->items[i]);
			w->nitems = 0;
			kp_errf(eb, KP_ERR_RANGE, "too old resource version: %lld (%lld)", (long long)w->pos,
				(long long)compacted);
			return KP_STORE_GONE;
		}
		/* a short batch means everything up to `upto` was seen */
		if (n < WATCH_BATCH)
			w->pos = upto;
	}
	return rc;
}

static void deadline_after(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

enum kp_store_rc kp_store_watch_next(struct kp_store_watch *w, int64_t timeout_ms, struct kp_store_event *ev,
				     struct kp_errbuf *eb)
{
	struct kp_store *st = w->st;
	struct timespec dl;

	item_clear(&w->cur);
	kp_store_watch_release(w);
	if (timeout_ms >= 0)
		deadline_after(&dl, timeout_ms);
	for (;;) {
		int64_t upto;
		enum kp_store_rc rc;

		if (w->next < w->nitems) {
			w->cur = w->items[w->next];
			memset(&w->items[w->next], 0, sizeof(w->items[0]));
			w->next++;
			if (w->cur.ev.rv > w->pos)
				w->pos = w->cur.ev.rv;
			*ev = w->cur.ev;
			return KP_STORE_OK;
		}
		pthread_mutex_lock(&st->mu);
		while (!st->closed && st->rv <= w->pos) {
			int r;
			if (timeout_ms < 0) {
				pthread_cond_wait(&st->cond, &st->mu);
				continue;
			}
			r = pthread_cond_timedwait(&st->cond, &st->mu, &dl);
			if (r == ETIMEDOUT)
				break;
		}
		if (st->closed) {
			pthread_mutex_unlock(&st->mu);
			return KP_STORE_CLOSED;
		}
		upto = st->rv;
		pthread_mutex_unlock(&st->mu);
		if (upto <= w->pos)
			return KP_STORE_TIMEOUT;
		rc = watch_fill(w, upto, eb);
		if (rc)
			return rc;
	}
}
