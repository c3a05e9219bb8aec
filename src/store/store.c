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
 * group-committed (submit): one leader at a time runs the queued writes
 * (those of kp_store_write_batch and of concurrent callers) in one
 * transaction, each under a savepoint, and commits once; every write is
 * acknowledged after that commit. st->qmu guards the queue and the leader
 * flag and is never held while SQLite works; st->mu guards
 * rv/compacted/closed, the event ring and the condition variable watchers
 * sleep on. The writer publishes st->compacted before it deletes old
 * events, so a reader that checks it after its query never misses a pruned
 * event silently.
 *
 * Event ring: after a commit the leader puts the batch's events (shared,
 * reference-counted blobs) into st->ring, which holds every version in
 * (ring_lo, rv]; a watch at or above ring_lo copies references to its
 * matches under st->mu instead of querying the events table, so N watches
 * cost one encode of each event, not N queries. A watch further behind
 * reads the table (WATCH_BATCH rows a query) until it reaches the ring.
 *
 * Statements: every connection keeps its prepared statements (struct conn,
 * keyed by the SQL literal's address); preparing used to cost more than
 * running a small statement.
 *
 * Cost: a batch of writes is one transaction with one fsync
 * (synchronous=FULL), so throughput grows with batch size and concurrency;
 * get is a primary-key lookup; list is a range scan on the key index; a
 * watch step near the head is O(events since its position) string
 * compares under st->mu, further back a range scan of the event window.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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
#define WRITE_BATCH 1024         /* most writes in one group commit */
#define RETAIN_MARKS 128         /* samples of (version, time) for time-based retention */
#define STMT_CACHE 24            /* prepared statements kept per connection */
#define RING 4096                /* recent events kept in memory for watches (power of 2) */
#define RING_BYTES (64 << 20)    /* ... and at most about this much of their JSON */

/* One committed event, shared by the in-memory ring and the watches that
 * are delivering it (reference counted; immutable once made). */
struct evblob {
	atomic_int refs;
	bool has_json;               /* false: read by a lazy watch without its JSON */
	struct kp_store_event ev;    /* strings point into s */
	char s[];                    /* group\0resource\0ns\0name\0json\0 */
};

/* A connection with its prepared statements, kept by the SQL text's
 * address (every caller passes a string literal): preparing is most of the
 * cost of a small statement. Used by one thread at a time. */
struct conn {
	sqlite3 *db;
	int n;
	struct {
		const char *sql;
		sqlite3_stmt *s;
	} c[STMT_CACHE];
};

struct kp_store {
	struct conn *wc;             /* the writer connection (the leader's, see do_write) */
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
	struct conn *readers[READERS_MAX];  /* idle read connections (under mu) */
	int nreaders;
	/* the events with rv in (ring_lo, rv] at ring[rv % RING] (under mu) */
	struct evblob *ring[RING];
	int64_t ring_lo;
	size_t ring_bytes;           /* JSON bytes of the ring's events */
};

struct kp_store_watch {
	struct kp_store *st;
	char *group, *resource, *ns; /* filters; NULL = any */
	int64_t pos;                 /* every event <= pos was delivered or skipped */
	int64_t filled;              /* items[] hold the matches up to here */
	struct evblob *items[WATCH_BATCH];
	int nitems, next;
	struct evblob *cur;          /* the event last returned (a reference) */
	bool lazy;                   /* events carry no JSON: kp_store_watch_json reads it */
	char *cur_json;              /* kp_store_watch_json's copy (an event read without JSON) */
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

/* A new event (one reference) from its five strings. */
static struct evblob *blob_new(enum kp_store_evtype type, int64_t rv, const char *const f[5], const size_t len[5])
{
	size_t total = 0, off = 0;
	struct evblob *b;
	char *p[5];

	for (int i = 0; i < 5; i++)
		total += len[i] + 1;
	b = malloc(sizeof(*b) + total);
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->has_json = true;
	for (int i = 0; i < 5; i++) {
		p[i] = b->s + off;
		memcpy(p[i], f[i], len[i]);
		p[i][len[i]] = '\0';
		off += len[i] + 1;
	}
	b->ev.type = type;
	b->ev.rv = rv;
	b->ev.group = p[0];
	b->ev.resource = p[1];
	b->ev.ns = p[2];
	b->ev.name = p[3];
	b->ev.json = p[4];
	b->ev.len = len[4];
	return b;
}

static struct evblob *blob_ref(struct evblob *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

static void blob_unref(struct evblob *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		free(b);
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static struct conn *conn_new(sqlite3 *db)
{
	struct conn *c;

	if (!db)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		sqlite3_close(db);
		return NULL;
	}
	c->db = db;
	return c;
}

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		sqlite3_finalize(c->c[i].s);
	sqlite3_close(c->db);
	free(c);
}

/* The statement for sql (a string literal) on c, ready to bind; give it
 * back with unprep. NULL on error (message in c->db). */
static sqlite3_stmt *prep(struct conn *c, const char *sql)
{
	sqlite3_stmt *s = NULL;

	for (int i = 0; i < c->n; i++)
		if (c->c[i].sql == sql)
			return c->c[i].s;
	if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
		sqlite3_finalize(s);
		return NULL;
	}
	if (c->n < STMT_CACHE) {
		c->c[c->n].sql = sql;
		c->c[c->n++].s = s;
	}
	return s;
}

/* Resets a statement from prep (ending its read), or finalizes one that
 * did not fit the cache. */
static void unprep(struct conn *c, sqlite3_stmt *s)
{
	if (!s)
		return;
	for (int i = c->n - 1; i >= 0; i--)
		if (c->c[i].s == s) {
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			return;
		}
	sqlite3_finalize(s);
}

/* Runs one statement without parameters through the cache: 0 or -1. */
static int cexec(struct conn *c, const char *sql)
{
	sqlite3_stmt *s = prep(c, sql);
	int r;

	if (!s)
		return -1;
	r = sqlite3_step(s);
	unprep(c, s);
	return r == SQLITE_DONE || r == SQLITE_ROW ? 0 : -1;
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

static int64_t query_i64(struct conn *c, const char *sql, int64_t dflt)
{
	sqlite3_stmt *s = prep(c, sql);
	int64_t v = dflt;

	if (s && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(s, 0);
	unprep(c, s);
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
	st->wc = conn_new(open_conn(path, true));
	if (!st->wc) {
		kp_errf(eb, KP_ERR_IO, "open %s: cannot open database", path);
		free(st->path);
		free(st);
		return KP_STORE_FAIL;
	}
	/* the writer's page cache holds a batch's pages (16 MiB at most, only as used) */
	if (exec(st->wc->db, "PRAGMA journal_mode=WAL") || exec(st->wc->db, "PRAGMA synchronous=FULL") ||
	    exec(st->wc->db, "PRAGMA cache_size=-16384") ||
	    exec(st->wc->db, SCHEMA) ||
	    /* stores of earlier versions: events without the previous state */
	    (query_i64(st->wc, "SELECT count(*) FROM pragma_table_info('events') WHERE name='prev'", 1) == 0 &&
	     exec(st->wc->db, "ALTER TABLE events ADD COLUMN prev TEXT"))) {
		dbfail(eb, st->wc->db, path);
		conn_free(st->wc);
		free(st->path);
		free(st);
		return KP_STORE_FAIL;
	}
	a = query_i64(st->wc, "SELECT max(rv) FROM events", 0);
	b = query_i64(st->wc, "SELECT max(rv) FROM objects", 0);
	st->rv = a > b ? a : b;
	st->compacted = query_i64(st->wc, "SELECT v FROM meta WHERE k='compacted'", 0);
	if (st->compacted > st->rv)
		st->rv = st->compacted;
	st->ring_lo = st->rv;
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
		conn_free(st->readers[i]);
	conn_free(st->wc);
	for (int i = 0; i < RING; i++)
		blob_unref(st->ring[i]);
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

static struct conn *reader_take(struct kp_store *st)
{
	struct conn *c = NULL;

	pthread_mutex_lock(&st->mu);
	if (st->nreaders > 0)
		c = st->readers[--st->nreaders];
	pthread_mutex_unlock(&st->mu);
	if (!c) {
		c = conn_new(open_conn(st->path, false));
		if (c)
			exec(c->db, "PRAGMA query_only=1");
	}
	return c;
}

static void reader_give(struct kp_store *st, struct conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&st->mu);
	if (st->nreaders < READERS_MAX) {
		st->readers[st->nreaders++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&st->mu);
	conn_free(c);
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
	struct conn *cn = reader_take(st);
	sqlite3 *db = cn ? cn->db : NULL;
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc;
	int r;

	*json = NULL;
	if (!db)
		return dbfail(eb, NULL, "store get");
	if (!(s = prep(cn, "SELECT json, rv FROM objects WHERE grp=?1 AND res=?2 AND ns=?3 AND name=?4"))) {
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
	unprep(cn, s);
	reader_give(st, cn);
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
static int cur_rv(struct conn *c, const struct kp_store_key *k, int64_t *rv, char **json)
{
	sqlite3_stmt *s = prep(c, "SELECT rv, json FROM objects WHERE grp=?1 AND res=?2 AND ns=?3 AND name=?4");
	int r, found = -1;

	if (!s)
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
	unprep(c, s);
	return found;
}

static int step_done(struct conn *c, const char *sql, const struct kp_store_key *k, int64_t rv, int type,
		     const char *uid, const char *json, size_t json_len)
{
	sqlite3_stmt *s = prep(c, sql);
	int r;

	if (!s)
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
		sqlite3_bind_text(s, 8, json, json ? (int)json_len : -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	unprep(c, s);
	return r == SQLITE_DONE ? 0 : -1;
}

/* Appends the event of a write: the new state and, for an update or a
 * delete, the state before it (prev), so that a list as of any version in
 * the window can be rebuilt from the events after it alone. */
static int insert_event(struct conn *c, const struct kp_store_key *k, int64_t rv, int type, const char *json,
			size_t json_len, const char *prev)
{
	sqlite3_stmt *s = prep(c, "INSERT INTO events(rv, type, grp, res, ns, name, json, prev) "
				  "VALUES(?5, ?6, ?1, ?2, ?3, ?4, ?7, ?8)");
	int r;

	if (!s)
		return -1;
	bind_key(s, 1, k);
	sqlite3_bind_int64(s, 5, rv);
	sqlite3_bind_int(s, 6, type);
	sqlite3_bind_text(s, 7, json, (int)json_len, SQLITE_STATIC);
	if (prev)
		sqlite3_bind_text(s, 8, prev, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	unprep(c, s);
	return r == SQLITE_DONE ? 0 : -1;
}

/* True when the owner rows s yields are exactly the uids of refs. */
static bool same_owners(sqlite3_stmt *s, const json_t *refs)
{
	size_t n = json_array_size(refs), distinct = 0, rows = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		const char *u = json_string_value(json_object_get(json_array_get(refs, i), "uid"));
		bool dup = !u;
		for (size_t j = 0; j < i && !dup; j++)
			dup = kp_strcmp0(u, json_string_value(json_object_get(json_array_get(refs, j), "uid"))) == 0;
		distinct += !dup;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		const char *have = (const char *)sqlite3_column_text(s, 0);
		bool found = false;
		for (size_t i = 0; i < n && !found; i++)
			found = kp_strcmp0(have, json_string_value(json_object_get(json_array_get(refs, i), "uid"))) == 0;
		if (!found)
			return false;
		rows++;
	}
	return r == SQLITE_DONE && rows == distinct;
}

static int write_owners(struct conn *c, const struct kp_store_key *k, const json_t *obj, bool existed)
{
	json_t *refs = obj ? json_object_get(json_object_get(obj, "metadata"), "ownerReferences") : NULL, *ref;
	size_t i;

	if (!existed && !json_array_size(refs))
		return 0;
	if (existed) {
		/* most updates keep the owners: leave the rows alone then */
		sqlite3_stmt *s = prep(c, "SELECT owner FROM owners WHERE grp=?1 AND res=?2 AND ns=?3 AND name=?4");
		bool same;
		if (!s)
			return -1;
		bind_key(s, 1, k);
		same = obj && same_owners(s, refs);
		unprep(c, s);
		if (same)
			return 0;
		if (step_done(c, "DELETE FROM owners WHERE grp=?1 AND res=?2 AND ns=?3 AND name=?4", k, 0, 0, NULL,
			      NULL, 0))
			return -1;
	}
	json_array_foreach(refs, i, ref) {
		const char *u = json_string_value(json_object_get(ref, "uid"));
		if (!u)
			continue;
		if (step_done(c, "INSERT OR IGNORE INTO owners(owner, grp, res, ns, name) VALUES(?7, ?1, ?2, ?3, ?4)",
			      k, 0, 0, u, NULL, 0))
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
	sqlite3_stmt *s;
	int r;

	if (below <= st->compacted)
		return 0;
	pthread_mutex_lock(&st->mu);
	st->compacted = below;   /* published before the delete: see the file comment */
	pthread_mutex_unlock(&st->mu);
	if (!(s = prep(st->wc, "DELETE FROM events WHERE rv <= ?1")))
		return -1;
	sqlite3_bind_int64(s, 1, below);
	r = sqlite3_step(s);
	unprep(st->wc, s);
	if (r != SQLITE_DONE)
		return -1;
	if (!(s = prep(st->wc, "INSERT OR REPLACE INTO meta(k, v) VALUES('compacted', ?1)")))
		return -1;
	sqlite3_bind_int64(s, 1, below);
	r = sqlite3_step(s);
	unprep(st->wc, s);
	return r == SQLITE_DONE ? 0 : -1;
}

enum wop { OP_CREATE, OP_UPDATE, OP_DELETE };

/* One write waiting for (or in) a group commit. */
struct wreq {
	enum wop op;
	const struct kp_store_key *k;
	json_t *obj;
	int64_t expect_rv;
	bool want_text;
	enum kp_store_rc rc;
	int64_t rv;
	char *text;                  /* the stored text (DELETE: the final object's), when want_text */
	struct evblob *ev;           /* its event, published after the commit */
	kp_err err;                  /* a failure's code and message (malloc'ed, NULL: none) */
	char *msg;
	bool done;
	struct wreq *next;
};

/* Records why w failed (the first reason wins). */
static enum kp_store_rc wfail(struct wreq *w, sqlite3 *db, kp_err code, const char *what)
{
	struct kp_errbuf eb;

	if (code == KP_ERR_IO)
		dbfail(&eb, db, what);
	else
		kp_errf(&eb, code, "%s", what);
	if (!w->msg) {
		w->err = code;
		w->msg = strdup(eb.msg);
	}
	return KP_STORE_FAIL;
}

/* Hands w's failure message to eb (may be NULL) and frees it. */
static void wmsg(struct wreq *w, struct kp_errbuf *eb)
{
	if (eb && w->msg)
		kp_errf(eb, w->err, "%s", w->msg);
	free(w->msg);
	w->msg = NULL;
}

/* Applies one write inside the leader's open transaction, under its own
 * savepoint so a failed write leaves the batch's other writes intact. rv is
 * the version it takes if it succeeds. */
static enum kp_store_rc apply_one(struct kp_store *st, struct wreq *w, int64_t rv)
{
	struct conn *c = st->wc;
	enum kp_store_rc rc = KP_STORE_OK;
	int64_t old_rv = 0;
	char *old = NULL, *text = NULL;
	json_t *lastobj = NULL, *obj = w->obj;
	const struct kp_store_key *k = w->k;
	enum wop op = w->op;
	enum kp_store_evtype type = op == OP_CREATE ? KP_EV_ADDED : op == OP_UPDATE ? KP_EV_MODIFIED : KP_EV_DELETED;
	size_t len;
	int found;

	if (cexec(c, "SAVEPOINT w"))
		return wfail(w, c->db, KP_ERR_IO, "store savepoint");
	found = cur_rv(c, k, &old_rv, op != OP_CREATE ? &old : NULL);
	if (found < 0) {
		rc = wfail(w, c->db, KP_ERR_IO, "store read");
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
		rc = wfail(w, NULL, KP_ERR_NOMEM, "store: cannot encode object");
		goto rollback;
	}
	len = strlen(text);
	if (op == OP_CREATE) {
		if (step_done(c, "INSERT INTO objects(grp, res, ns, name, rv, uid, json) "
				 "VALUES(?1, ?2, ?3, ?4, ?5, ?7, ?8)", k, rv, 0, obj_uid(obj), text, len))
			goto fail;
	} else if (op == OP_UPDATE) {
		if (step_done(c, "UPDATE objects SET rv=?5, uid=?7, json=?8 "
				 "WHERE grp=?1 AND res=?2 AND ns=?3 AND name=?4", k, rv, 0, obj_uid(obj), text, len))
			goto fail;
	} else {
		if (step_done(c, "DELETE FROM objects WHERE grp=?1 AND res=?2 AND ns=?3 AND name=?4",
			      k, 0, 0, NULL, NULL, 0))
			goto fail;
	}
	if (write_owners(c, k, op == OP_DELETE ? NULL : obj, op != OP_CREATE))
		goto fail;
	if (insert_event(c, k, rv, type, text, len, old))
		goto fail;
	retain_mark(st, rv);
	if (++st->writes_since_prune >= PRUNE_EVERY ||
	    rv - st->compacted > (st->ttl_ms > 0 ? st->max_events : st->window) + PRUNE_EVERY) {
		st->writes_since_prune = 0;
		if (prune(st, rv))
			goto fail;
	}
	if (cexec(c, "RELEASE w")) {
		rc = wfail(w, c->db, KP_ERR_IO, "store release");
		goto rollback;
	}
	w->rv = rv;
	{
		const char *f[5] = { nz(k->group), nz(k->resource), nz(k->ns), nz(k->name), text };
		size_t l[5] = { strlen(f[0]), strlen(f[1]), strlen(f[2]), strlen(f[3]), len };
		w->ev = blob_new(type, rv, f, l);   /* NULL (out of memory): watches read it from the table */
	}
	if (w->want_text) {
		w->text = text;
		text = NULL;
	}
	goto out;
fail:
	rc = wfail(w, c->db, KP_ERR_IO, "store write");
rollback:
	cexec(c, "ROLLBACK TO w");
	cexec(c, "RELEASE w");
out:
	free(old);
	free(text);
	json_decref(lastobj);
	return rc;
}

/* Drops what a write made for its acknowledgement when it did not commit. */
static void uncommit(struct wreq *w, struct kp_store *st, const char *why)
{
	if (w->rc != KP_STORE_OK)
		return;
	w->rc = wfail(w, st->wc->db, KP_ERR_IO, why);
	free(w->text);
	w->text = NULL;
	blob_unref(w->ev);
	w->ev = NULL;
}

/* Puts the committed events of batch into the ring (under st->mu). */
static void ring_drop(struct kp_store *st, struct evblob **slot)
{
	if (*slot)
		st->ring_bytes -= (*slot)->ev.len;
	blob_unref(*slot);
	*slot = NULL;
}

/* Puts the committed events of batch into the ring (under st->mu): at most
 * RING events and about RING_BYTES of JSON (the oldest go first). */
static void ring_publish(struct kp_store *st, struct wreq *batch, int64_t rv)
{
	for (struct wreq *w = batch; w; w = w->next) {
		struct evblob **slot;
		if (w->rc != KP_STORE_OK)
			continue;
		slot = &st->ring[w->rv & (RING - 1)];
		ring_drop(st, slot);
		*slot = w->ev;
		w->ev = NULL;
		if (*slot)
			st->ring_bytes += (*slot)->ev.len;
		else if (w->rv > st->ring_lo)
			st->ring_lo = w->rv;   /* not in memory: nothing at or below it is served from the ring */
	}
	if (rv - RING > st->ring_lo)
		st->ring_lo = rv - RING;
	while (st->ring_bytes > RING_BYTES && st->ring_lo < rv)
		ring_drop(st, &st->ring[++st->ring_lo & (RING - 1)]);
}

/* The leader's part: the writes of batch in one transaction, one commit
 * (one fsync), then the new version and the events are published and
 * watchers woken. No mutex is held while SQLite works or syncs: the leader
 * role (st->leading) keeps the writer connection to this thread. */
static void run_batch(struct kp_store *st, struct wreq *batch)
{
	int64_t rv;
	bool closed, any = false;

	pthread_mutex_lock(&st->mu);
	closed = st->closed;
	rv = st->rv;
	pthread_mutex_unlock(&st->mu);
	if (closed) {
		for (struct wreq *w = batch; w; w = w->next)
			w->rc = KP_STORE_CLOSED;
		return;
	}
	if (cexec(st->wc, "BEGIN IMMEDIATE")) {
		for (struct wreq *w = batch; w; w = w->next)
			w->rc = wfail(w, st->wc->db, KP_ERR_IO, "store begin");
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
		cexec(st->wc, "ROLLBACK");
		return;
	}
	if (cexec(st->wc, "COMMIT")) {
		for (struct wreq *w = batch; w; w = w->next)
			uncommit(w, st, "store commit");
		cexec(st->wc, "ROLLBACK");
		return;
	}
	pthread_mutex_lock(&st->mu);
	ring_publish(st, batch, rv);
	st->rv = rv;   /* only the leader writes st->rv */
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->mu);
}

/* Group commit: a writer queues its requests; whoever finds no leader
 * becomes it, takes up to WRITE_BATCH queued requests, runs them in one
 * transaction and acknowledges them after the commit. Every write is thus
 * acknowledged only once durable, and writes that arrive while a commit is
 * syncing share the next one. Batches are taken in queue order, so the
 * last of reqs done means all of them are. */
static void submit(struct kp_store *st, struct wreq *reqs, size_t n)
{
	if (!n)
		return;
	pthread_mutex_lock(&st->qmu);
	for (size_t i = 0; i < n; i++) {
		*st->qtail = &reqs[i];
		st->qtail = &reqs[i].next;
	}
	while (!reqs[n - 1].done) {
		if (st->leading) {
			pthread_cond_wait(&st->qcond, &st->qmu);
			continue;
		}
		struct wreq *batch = st->qhead, *end = batch;
		for (int i = 1; i < WRITE_BATCH && end->next; i++)
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
			blob_unref(w->ev);   /* a write that failed after making its event */
			w->ev = NULL;
			w->done = true;
		}
		st->leading = false;
		pthread_cond_broadcast(&st->qcond);
	}
	pthread_mutex_unlock(&st->qmu);
}

static enum kp_store_rc do_write(struct kp_store *st, enum wop op, const struct kp_store_key *k, json_t *obj,
				 int64_t expect_rv, char **last, int64_t *rv_out, struct kp_errbuf *eb)
{
	struct wreq r = { .op = op, .k = k, .obj = obj, .expect_rv = expect_rv, .want_text = last != NULL };

	if (last)
		*last = NULL;
	submit(st, &r, 1);
	if (r.rc == KP_STORE_OK) {
		if (rv_out)
			*rv_out = r.rv;
		if (last)
			*last = r.text;
		else
			free(r.text);
	}
	wmsg(&r, r.rc == KP_STORE_OK ? NULL : eb);
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

enum kp_store_rc kp_store_write_batch(struct kp_store *st, struct kp_store_write *ws, size_t n,
				      struct kp_errbuf *eb)
{
	struct wreq *r;
	enum kp_store_rc first = KP_STORE_OK;

	if (!n)
		return KP_STORE_OK;
	r = calloc(n, sizeof(*r));
	if (!r) {
		for (size_t i = 0; i < n; i++)
			ws[i].rc = KP_STORE_FAIL;
		kp_errf(eb, KP_ERR_NOMEM, "store: out of memory");
		return KP_STORE_FAIL;
	}
	for (size_t i = 0; i < n; i++) {
		r[i].op = ws[i].op == KP_STORE_OP_CREATE ? OP_CREATE : ws[i].op == KP_STORE_OP_UPDATE ? OP_UPDATE : OP_DELETE;
		r[i].k = &ws[i].key;
		r[i].obj = r[i].op == OP_DELETE ? NULL : ws[i].obj;
		r[i].expect_rv = r[i].op == OP_CREATE ? 0 : ws[i].expect_rv;
		r[i].want_text = ws[i].want_text;
	}
	submit(st, r, n);
	for (size_t i = 0; i < n; i++) {
		ws[i].rc = r[i].rc;
		ws[i].rv = r[i].rc == KP_STORE_OK ? r[i].rv : 0;
		ws[i].text = r[i].text;
		if (r[i].rc != KP_STORE_OK && first == KP_STORE_OK) {
			first = r[i].rc;
			wmsg(&r[i], eb);
		}
		wmsg(&r[i], NULL);
	}
	free(r);
	return first;
}

/* ---- list ---- */

enum kp_store_rc kp_store_list(struct kp_store *st, const char *group, const char *resource, const char *ns,
			       kp_store_list_fn fn, void *ud, int64_t *list_rv, struct kp_errbuf *eb)
{
	struct conn *cn = reader_take(st);
	sqlite3 *db = cn ? cn->db : NULL;
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_OK;
	bool all = !ns || !*ns;
	int r;

	if (!db)
		return dbfail(eb, NULL, "store list");
	if (cexec(cn, "BEGIN")) {
		rc = dbfail(eb, db, "store list");
		reader_give(st, cn);
		return rc;
	}
	/* the snapshot's version: the newest event visible in this transaction */
	if (list_rv) {
		*list_rv = query_i64(cn, "SELECT max(rv) FROM events", 0);
		if (*list_rv == 0)
			*list_rv = query_i64(cn, "SELECT max(rv) FROM objects", 0);
	}
	if (!(s = prep(cn, all ? "SELECT json, rv FROM objects WHERE grp=?1 AND res=?2 ORDER BY ns, name"
				       : "SELECT json, rv FROM objects WHERE grp=?1 AND res=?2 AND ns=?3 ORDER BY name"))) {
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
	unprep(cn, s);
	cexec(cn, "COMMIT");
	reader_give(st, cn);
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
static enum kp_store_rc past_scan(struct conn *cn, const char *group, const char *resource, const char *ns,
				  int64_t at_rv, struct kp_strmap *m, struct kp_errbuf *eb)
{
	bool all = !ns || !*ns;
	sqlite3_stmt *s = NULL;
	int r;
	const char *sql = all ? "SELECT type, ns, name, prev FROM events WHERE rv > ?4 AND grp=?1 AND res=?2 ORDER BY rv"
			      : "SELECT type, ns, name, prev FROM events WHERE rv > ?4 AND grp=?1 AND res=?2 AND ns=?3 "
				"ORDER BY rv";

	if (!(s = prep(cn, sql)))
		return dbfail(eb, cn->db, "store list");
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
			unprep(cn, s);
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
				unprep(cn, s);
				return kp_errf(eb, KP_ERR_NOMEM, "store list: out of memory"), KP_STORE_FAIL;
			}
		}
	}
	unprep(cn, s);
	if (r != SQLITE_DONE)
		return dbfail(eb, cn->db, "store list");
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
	struct conn *cn = reader_take(st);
	sqlite3 *db = cn ? cn->db : NULL;
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
	if (cexec(cn, "BEGIN")) {
		rc = dbfail(eb, db, "store list");
		reader_give(st, cn);
		return rc;
	}
	snap = query_i64(cn, "SELECT max(rv) FROM events", 0);
	if (snap == 0)
		snap = query_i64(cn, "SELECT max(rv) FROM objects", 0);
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
		rc = past_scan(cn, group, resource, ns, at_rv, &m, eb);
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
	if (!(s = prep(cn, all ? "SELECT ns, name, json, rv FROM objects WHERE grp=?1 AND res=?2 AND rv <= ?4 "
					 "AND (ns > ?5 OR (ns = ?5 AND name > ?6)) ORDER BY ns, name"
				       : "SELECT ns, name, json, rv FROM objects WHERE grp=?1 AND res=?2 AND ns=?3 AND rv <= ?4 "
					 "AND (ns > ?5 OR (ns = ?5 AND name > ?6)) ORDER BY name"))) {
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
	unprep(cn, s);
	cexec(cn, "COMMIT");
	reader_give(st, cn);
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
	struct conn *cn;
	sqlite3_stmt *s;             /* ns, name, rv, rowid in key order */
	sqlite3_stmt *j;             /* json of one rowid; reset after each use */
	char *group, *resource, *ns;
	bool have_row;
};

void kp_store_cursor_close(struct kp_store_cursor *cur)
{
	if (!cur)
		return;
	if (cur->cn) {
		unprep(cur->cn, cur->s);
		unprep(cur->cn, cur->j);
		cexec(cur->cn, "COMMIT");
		reader_give(cur->st, cur->cn);
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
	cur->cn = reader_take(st);
	if (!cur->group || !cur->resource || !cur->ns || !cur->cn) {
		kp_store_cursor_close(cur);
		return dbfail(eb, NULL, "store list");
	}
	if (cexec(cur->cn, "BEGIN")) {
		enum kp_store_rc rc = dbfail(eb, cur->cn->db, "store list");
		reader_give(st, cur->cn);
		cur->cn = NULL;
		kp_store_cursor_close(cur);
		return rc;
	}
	*list_rv = query_i64(cur->cn, "SELECT max(rv) FROM events", 0);
	if (*list_rv == 0)
		*list_rv = query_i64(cur->cn, "SELECT max(rv) FROM objects", 0);
	if (!(cur->s = prep(cur->cn, all ? "SELECT ns, name, rv, rowid FROM objects WHERE grp=?1 AND res=?2 "
					   "ORDER BY ns, name"
					 : "SELECT ns, name, rv, rowid FROM objects WHERE grp=?1 AND res=?2 AND ns=?3 "
					   "ORDER BY name")) ||
	    !(cur->j = prep(cur->cn, "SELECT json FROM objects WHERE rowid=?1"))) {
		enum kp_store_rc rc = dbfail(eb, cur->cn->db, "store list");
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
	return dbfail(eb, cur->cn->db, "store list");
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
	return dbfail(eb, cur->cn->db, "store list");
}

void kp_store_cursor_release(struct kp_store_cursor *cur)
{
	if (cur)
		sqlite3_reset(cur->j);
}

enum kp_store_rc kp_store_count(struct kp_store *st, const char *group, const char *resource, const char *ns,
				int64_t *n, struct kp_errbuf *eb)
{
	struct conn *cn = reader_take(st);
	sqlite3 *db = cn ? cn->db : NULL;
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_OK;
	bool all = !ns;

	*n = 0;
	if (!db)
		return dbfail(eb, NULL, "store count");
	if (!(s = prep(cn, all ? "SELECT count(*) FROM objects WHERE grp=?1 AND res=?2"
				       : "SELECT count(*) FROM objects WHERE grp=?1 AND res=?2 AND ns=?3"))) {
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
	unprep(cn, s);
	reader_give(st, cn);
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
	struct conn *cn = reader_take(st);
	sqlite3 *db = cn ? cn->db : NULL;
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_NOTFOUND;
	int r;

	memset(out, 0, sizeof(*out));
	if (!db)
		return dbfail(eb, NULL, "store find uid");
	if (!(s = prep(cn, "SELECT grp, res, ns, name FROM objects WHERE uid=?1"))) {
		rc = dbfail(eb, db, "store find uid");
	} else {
		sqlite3_bind_text(s, 1, uid, -1, SQLITE_STATIC);
		r = sqlite3_step(s);
		if (r == SQLITE_ROW)
			rc = key_from_row(s, 0, out) ? KP_STORE_FAIL : KP_STORE_OK;
		else if (r != SQLITE_DONE)
			rc = dbfail(eb, db, "store find uid");
	}
	unprep(cn, s);
	reader_give(st, cn);
	return rc;
}

enum kp_store_rc kp_store_dependents(struct kp_store *st, const char *owner_uid, kp_store_key_fn fn, void *ud,
				     struct kp_errbuf *eb)
{
	struct conn *cn = reader_take(st);
	sqlite3 *db = cn ? cn->db : NULL;
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_OK;
	int r;

	if (!db)
		return dbfail(eb, NULL, "store dependents");
	if (!(s = prep(cn, "SELECT grp, res, ns, name FROM owners WHERE owner=?1 ORDER BY grp, res, ns, name"))) {
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
	unprep(cn, s);
	reader_give(st, cn);
	return rc;
}

enum kp_store_rc kp_store_dangling_owners(struct kp_store *st, kp_store_uid_fn fn, void *ud, struct kp_errbuf *eb)
{
	struct conn *cn = reader_take(st);
	sqlite3 *db = cn ? cn->db : NULL;
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_OK;
	int r;

	if (!db)
		return dbfail(eb, NULL, "store dangling owners");
	if (!(s = prep(cn, "SELECT DISTINCT owner FROM owners WHERE NOT EXISTS "
				   "(SELECT 1 FROM objects WHERE objects.uid = owners.owner) ORDER BY owner"))) {
		rc = dbfail(eb, db, "store dangling owners");
		goto out;
	}
	while ((r = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(ud, (const char *)sqlite3_column_text(s, 0)))
			break;
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = dbfail(eb, db, "store dangling owners");
out:
	unprep(cn, s);
	reader_give(st, cn);
	return rc;
}

/* ---- watches ---- */

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
	w->pos = w->filled = from_rv;
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

static void items_clear(struct kp_store_watch *w)
{
	for (int i = w->next; i < w->nitems; i++)
		blob_unref(w->items[i]);
	w->nitems = w->next = 0;
}

void kp_store_watch_close(struct kp_store_watch *w)
{
	if (!w)
		return;
	items_clear(w);
	blob_unref(w->cur);
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

void kp_store_watch_release(struct kp_store_watch *w)
{
	free(w->cur_json);
	w->cur_json = NULL;
}

enum kp_store_rc kp_store_watch_json(struct kp_store_watch *w, const char **json, size_t *len, struct kp_errbuf *eb)
{
	struct kp_store *st = w->st;
	struct conn *cn;
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_OK;
	int64_t compacted;

	kp_store_watch_release(w);
	if (!w->cur)
		return kp_errf(eb, KP_ERR_INVALID, "store watch: no current event"), KP_STORE_FAIL;
	if (w->cur->has_json) {   /* from the ring: shared, no copy */
		*json = w->cur->ev.json;
		*len = w->cur->ev.len;
		return KP_STORE_OK;
	}
	if (!(cn = reader_take(st)))
		return dbfail(eb, NULL, "store watch");
	if (!(s = prep(cn, "SELECT json FROM events WHERE rv = ?1"))) {
		rc = dbfail(eb, cn->db, "store watch");
		goto out;
	}
	sqlite3_bind_int64(s, 1, w->cur->ev.rv);
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
	unprep(cn, s);
	reader_give(st, cn);
	if (rc == KP_STORE_GONE) {
		pthread_mutex_lock(&st->mu);
		compacted = st->compacted;
		pthread_mutex_unlock(&st->mu);
		kp_errf(eb, KP_ERR_RANGE, "too old resource version: %lld (%lld)", (long long)w->cur->ev.rv - 1,
			(long long)compacted);
	}
	return rc;
}

static bool watch_match(const struct kp_store_watch *w, const struct kp_store_event *ev)
{
	return (!w->group || strcmp(ev->group, w->group) == 0) && (!w->resource || strcmp(ev->resource, w->resource) == 0) &&
	       (!w->ns || strcmp(ev->ns, w->ns) == 0);
}

/* Takes the events in (w->filled, upto] that pass the filters from the
 * ring into w->items (under st->mu; the caller checked that they are
 * there: w->filled >= st->ring_lo). */
static void ring_fill(struct kp_store_watch *w, int64_t upto)
{
	struct kp_store *st = w->st;
	int64_t v = w->filled;
	int n = 0;

	while (v < upto && n < WATCH_BATCH) {
		struct evblob *b = st->ring[++v & (RING - 1)];
		if (watch_match(w, &b->ev))
			w->items[n++] = blob_ref(b);
	}
	w->nitems = n;
	w->next = 0;
	w->filled = v;
}

/* Reads the events in (w->filled, upto] that pass the filters into
 * w->items from the events table. */
static enum kp_store_rc watch_fill(struct kp_store_watch *w, int64_t upto, struct kp_errbuf *eb)
{
	struct kp_store *st = w->st;
	struct conn *cn = reader_take(st);
	sqlite3 *db = cn ? cn->db : NULL;
	sqlite3_stmt *s = NULL;
	enum kp_store_rc rc = KP_STORE_OK;
	int r, n = 0;

	if (!db)
		return dbfail(eb, NULL, "store watch");
	/* a lazy watch reads each event's JSON only if it asks (kp_store_watch_json) */
	if (!(s = prep(cn, w->lazy ? "SELECT rv, type, grp, res, ns, name, '' FROM events WHERE rv > ?1 AND rv <= ?2"
				     " AND (?3 IS NULL OR grp = ?3) AND (?4 IS NULL OR res = ?4)"
				     " AND (?5 IS NULL OR ns = ?5) ORDER BY rv LIMIT ?6"
				   : "SELECT rv, type, grp, res, ns, name, json FROM events WHERE rv > ?1 AND rv <= ?2"
				     " AND (?3 IS NULL OR grp = ?3) AND (?4 IS NULL OR res = ?4)"
				     " AND (?5 IS NULL OR ns = ?5) ORDER BY rv LIMIT ?6"))) {
		rc = dbfail(eb, db, "store watch");
		goto out;
	}
	sqlite3_bind_int64(s, 1, w->filled);
	sqlite3_bind_int64(s, 2, upto);
	if (w->group)
		sqlite3_bind_text(s, 3, w->group, -1, SQLITE_STATIC);
	if (w->resource)
		sqlite3_bind_text(s, 4, w->resource, -1, SQLITE_STATIC);
	if (w->ns)
		sqlite3_bind_text(s, 5, w->ns, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, WATCH_BATCH);
	while (n < WATCH_BATCH && (r = sqlite3_step(s)) == SQLITE_ROW) {
		const char *f[5];
		size_t len[5];

		for (int i = 0; i < 5; i++) {
			f[i] = (const char *)sqlite3_column_text(s, 2 + i);
			len[i] = (size_t)sqlite3_column_bytes(s, 2 + i);
			if (!f[i])
				f[i] = "";
		}
		w->items[n] = blob_new((enum kp_store_evtype)sqlite3_column_int(s, 1), sqlite3_column_int64(s, 0), f, len);
		if (!w->items[n]) {
			rc = KP_STORE_FAIL;
			kp_errf(eb, KP_ERR_NOMEM, "store watch: out of memory");
			break;
		}
		w->items[n]->has_json = !w->lazy;
		n++;
	}
	w->nitems = n;
	w->next = 0;
out:
	unprep(cn, s);
	reader_give(st, cn);
	if (rc == KP_STORE_OK) {
		int64_t compacted;
		pthread_mutex_lock(&st->mu);
		compacted = st->compacted;
		pthread_mutex_unlock(&st->mu);
		if (w->filled < compacted) {
			items_clear(w);
			kp_errf(eb, KP_ERR_RANGE, "too old resource version: %lld (%lld)", (long long)w->pos,
				(long long)compacted);
			return KP_STORE_GONE;
		}
		/* a short batch means everything up to `upto` was seen */
		w->filled = n < WATCH_BATCH ? upto : w->items[n - 1]->ev.rv;
	} else {
		items_clear(w);
	}
	return rc;
}

enum kp_store_rc kp_store_watch_next(struct kp_store_watch *w, int64_t timeout_ms, struct kp_store_event *ev,
				     struct kp_errbuf *eb)
{
	struct kp_store *st = w->st;
	struct timespec dl;

	blob_unref(w->cur);
	w->cur = NULL;
	kp_store_watch_release(w);
	if (timeout_ms >= 0)
		kp_mono_deadline(&dl, timeout_ms);
	for (;;) {
		int64_t upto;
		enum kp_store_rc rc;

		if (w->next < w->nitems) {
			w->cur = w->items[w->next];
			w->items[w->next++] = NULL;
			if (w->cur->ev.rv > w->pos)
				w->pos = w->cur->ev.rv;
			*ev = w->cur->ev;
			if (w->lazy) {
				ev->json = NULL;
				ev->len = 0;
			}
			return KP_STORE_OK;
		}
		w->nitems = w->next = 0;
		if (w->filled > w->pos)
			w->pos = w->filled;   /* everything scanned was delivered or skipped */
		pthread_mutex_lock(&st->mu);
		while (!st->closed && st->rv <= w->filled) {
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
		if (upto > w->filled && w->filled >= st->ring_lo) {
			if (w->filled < st->compacted) {
				int64_t compacted = st->compacted;
				pthread_mutex_unlock(&st->mu);
				kp_errf(eb, KP_ERR_RANGE, "too old resource version: %lld (%lld)", (long long)w->pos,
					(long long)compacted);
				return KP_STORE_GONE;
			}
			ring_fill(w, upto);
			pthread_mutex_unlock(&st->mu);
			continue;
		}
		pthread_mutex_unlock(&st->mu);
		if (upto <= w->filled)
			return KP_STORE_TIMEOUT;
		rc = watch_fill(w, upto, eb);
		if (rc)
			return rc;
	}
}
