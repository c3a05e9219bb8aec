/*
 * test_store.c - the local control plane's object store without HTTP:
 * versions, optimistic concurrency, list snapshots, the event window,
 * watch resume and durability across reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

struct fx {
	char dir[64];
	char path[96];
	struct kp_store *st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/kp-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	if (kp_store_open(&f->st, f->path, 50, NULL) != KP_STORE_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[128];
	kp_store_close(f->st);
	const char *sfx[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static json_t *pod(const char *name, const char *uid)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata", "name", name,
			 "namespace", "default", "uid", uid);
}

static int64_t rv_of(const char *json)
{
	json_t *o = json_loads(json, 0, NULL);
	int64_t v = -1;
	const char *s = json_string_value(json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
	if (s)
		v = strtoll(s, NULL, 10);
	json_decref(o);
	return v;
}

static void test_create_get_update_conflict(void **state)
{
	struct fx *f = *state;
	struct kp_store_key k = { "", "pods", "default", "a" };
	int64_t rv1 = 0, rv2 = 0, got = 0;
	char *j = NULL;
	json_t *o = pod("a", "u-a");

	assert_int_equal(kp_store_create(f->st, &k, o, &rv1, NULL), KP_STORE_OK);
	assert_int_equal(rv1, 1);
	assert_int_equal(kp_store_create(f->st, &k, o, NULL, NULL), KP_STORE_EXISTS);
	assert_int_equal(kp_store_get(f->st, &k, &j, &got, NULL), KP_STORE_OK);
	assert_int_equal(got, rv1);
	assert_int_equal(rv_of(j), rv1);
	free(j);

	json_object_set_new(o, "spec", json_pack("{s:s}", "nodeName", "n1"));
	assert_int_equal(kp_store_update(f->st, &k, o, rv1, &rv2, NULL), KP_STORE_OK);
	assert_int_equal(rv2, 2);
	/* stale precondition */
	assert_int_equal(kp_store_update(f->st, &k, o, rv1, NULL, NULL), KP_STORE_CONFLICT);
	assert_int_equal(kp_store_delete(f->st, &k, rv1, NULL, NULL, NULL), KP_STORE_CONFLICT);
	/* unconditional update still works */
	assert_int_equal(kp_store_update(f->st, &k, o, 0, &rv2, NULL), KP_STORE_OK);
	assert_int_equal(rv2, 3);
	assert_int_equal(kp_store_rv(f->st), 3);
	json_decref(o);

	struct kp_store_key missing = { "", "pods", "default", "zz" };
	o = pod("zz", "u-zz");
	assert_int_equal(kp_store_update(f->st, &missing, o, 0, NULL, NULL), KP_STORE_NOTFOUND);
	assert_int_equal(kp_store_get(f->st, &missing, &j, NULL, NULL), KP_STORE_NOTFOUND);
	json_decref(o);
}

struct collect {
	int n;
	char names[16][16];
};

static int collect_fn(void *ud, const char *json, size_t len, int64_t rv)
{
	struct collect *c = ud;
	json_t *o = json_loadb(json, len, 0, NULL);
	const char *nm = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
	assert_non_null(nm);
	assert_int_equal(rv_of(json), rv);
	snprintf(c->names[c->n++], 16, "%s", nm);
	json_decref(o);
	return 0;
}

static void test_list_order_and_namespace(void **state)
{
	struct fx *f = *state;
	const char *names[] = { "c", "a", "b" };
	int64_t lrv = 0;
	struct collect c = { 0 };

	for (int i = 0; i < 3; i++) {
		struct kp_store_key k = { "", "pods", i == 2 ? "other" : "default", names[i] };
		json_t *o = pod(names[i], names[i]);
		assert_int_equal(kp_store_create(f->st, &k, o, NULL, NULL), KP_STORE_OK);
		json_decref(o);
	}
	assert_int_equal(kp_store_list(f->st, "", "pods", NULL, collect_fn, &c, &lrv, NULL), KP_STORE_OK);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.names[0], "a");   /* default/a, default/c, other/b */
	assert_string_equal(c.names[1], "c");
	assert_string_equal(c.names[2], "b");
	assert_int_equal(lrv, 3);
	memset(&c, 0, sizeof(c));
	assert_int_equal(kp_store_list(f->st, "", "pods", "other", collect_fn, &c, NULL, NULL), KP_STORE_OK);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.names[0], "b");
	memset(&c, 0, sizeof(c));
	assert_int_equal(kp_store_list(f->st, "apps", "pods", NULL, collect_fn, &c, NULL, NULL), KP_STORE_OK);
	assert_int_equal(c.n, 0);
	int64_t n = 0;
	assert_int_equal(kp_store_count(f->st, "", "pods", "default", &n, NULL), KP_STORE_OK);
	assert_int_equal(n, 2);
}

static void test_watch_resume_and_gone(void **state)
{
	struct fx *f = *state;
	struct kp_store_watch *w = NULL;
	struct kp_store_event ev;
	char name[16];

	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		struct kp_store_key k = { "", "pods", "default", name };
		json_t *o = pod(name, name);
		assert_int_equal(kp_store_create(f->st, &k, o, NULL, NULL), KP_STORE_OK);
		json_decref(o);
	}
	struct kp_store_key cm = { "", "configmaps", "default", "x" };
	json_t *o = json_pack("{s:{s:s}}", "metadata", "name", "x");
	assert_int_equal(kp_store_create(f->st, &cm, o, NULL, NULL), KP_STORE_OK);   /* rv 11 */
	json_decref(o);
	struct kp_store_key p3 = { "", "pods", "default", "p3" };
	assert_int_equal(kp_store_delete(f->st, &p3, 0, NULL, NULL, NULL), KP_STORE_OK);   /* rv 12 */

	/* resume from 8: pods p8 (9), p9 (10), the delete (12); the configmap is filtered */
	assert_int_equal(kp_store_watch_open(f->st, "", "pods", NULL, 8, &w, NULL), KP_STORE_OK);
	assert_int_equal(kp_store_watch_next(w, 0, &ev, NULL), KP_STORE_OK);
	assert_int_equal(ev.rv, 9);
	assert_int_equal(ev.type, KP_EV_ADDED);
	assert_string_equal(ev.name, "p8");
	assert_int_equal(kp_store_watch_next(w, 0, &ev, NULL), KP_STORE_OK);
	assert_int_equal(ev.rv, 10);
	assert_int_equal(kp_store_watch_next(w, 0, &ev, NULL), KP_STORE_OK);
	assert_int_equal(ev.rv, 12);
	assert_int_equal(ev.type, KP_EV_DELETED);
	assert_string_equal(ev.name, "p3");
	assert_int_equal(rv_of(ev.json), 12);   /* last state carries the deletion's version */
	assert_int_equal(kp_store_watch_next(w, 50, &ev, NULL), KP_STORE_TIMEOUT);
	assert_int_equal(kp_store_watch_rv(w), 12);
	kp_store_watch_close(w);

	/* push the window (50) past version 8 */
	for (int i = 0; i < 300; i++) {
		struct kp_store_key k = { "", "configmaps", "default", "x" };
		json_t *u = json_pack("{s:{s:s}, s:i}", "metadata", "name", "x", "i", i);
		assert_int_equal(kp_store_update(f->st, &k, u, 0, NULL, NULL), KP_STORE_OK);
		json_decref(u);
	}
	assert_true(kp_store_oldest_rv(f->st) > 8);
	assert_int_equal(kp_store_watch_open(f->st, "", "pods", NULL, 8, &w, NULL), KP_STORE_GONE);
	assert_null(w);
	/* a recent version still resumes */
	assert_int_equal(kp_store_watch_open(f->st, "", "configmaps", NULL, kp_store_rv(f->st) - 1, &w, NULL),
			 KP_STORE_OK);
	assert_int_equal(kp_store_watch_next(w, 0, &ev, NULL), KP_STORE_OK);
	assert_int_equal(ev.rv, kp_store_rv(f->st));
	kp_store_watch_close(w);
}

static void test_reopen_keeps_writes_and_versions(void **state)
{
	struct fx *f = *state;
	struct kp_store_key k = { "karpenter.sh", "nodepools", "", "default" };
	json_t *o = json_pack("{s:{s:s, s:s}}", "metadata", "name", "default", "uid", "np-uid");
	int64_t rv = 0, got = 0;
	char *j = NULL;

	assert_int_equal(kp_store_create(f->st, &k, o, &rv, NULL), KP_STORE_OK);
	json_decref(o);
	kp_store_close(f->st);
	assert_int_equal(kp_store_open(&f->st, f->path, 50, NULL), KP_STORE_OK);
	assert_int_equal(kp_store_rv(f->st), rv);
	assert_int_equal(kp_store_get(f->st, &k, &j, &got, NULL), KP_STORE_OK);
	assert_int_equal(got, rv);
	free(j);
	/* versions keep increasing after reopen */
	o = json_pack("{s:{s:s}}", "metadata", "name", "default");
	int64_t rv2 = 0;
	assert_int_equal(kp_store_update(f->st, &k, o, rv, &rv2, NULL), KP_STORE_OK);
	assert_int_equal(rv2, rv + 1);
	json_decref(o);
}

struct keys {
	int n;
	char names[8][16];
};

static int key_fn(void *ud, const struct kp_store_key *k)
{
	struct keys *ks = ud;
	snprintf(ks->names[ks->n++], 16, "%s", k->name);
	return 0;
}

struct uidlist {
	int n;
	char uids[4][16];
};

static int uid_fn(void *ud, const char *uid)
{
	struct uidlist *ul = ud;
	snprintf(ul->uids[ul->n++], 16, "%s", uid);
	return ul->n == 4;
}

static void test_owner_index(void **state)
{
	struct fx *f = *state;
	struct kp_store_key rs = { "apps", "replicasets", "default", "web" };
	json_t *o = json_pack("{s:{s:s, s:s}}", "metadata", "name", "web", "uid", "rs-uid");
	struct keys ks = { 0 };
	struct kp_store_key found;

	assert_int_equal(kp_store_create(f->st, &rs, o, NULL, NULL), KP_STORE_OK);
	json_decref(o);
	for (int i = 0; i < 2; i++) {
		char nm[16];
		snprintf(nm, sizeof(nm), "web-%d", i);
		struct kp_store_key k = { "", "pods", "default", nm };
		o = json_pack("{s:{s:s, s:[{s:s}]}}", "metadata", "name", nm, "ownerReferences", "uid", "rs-uid");
		assert_int_equal(kp_store_create(f->st, &k, o, NULL, NULL), KP_STORE_OK);
		json_decref(o);
	}
	assert_int_equal(kp_store_dependents(f->st, "rs-uid", key_fn, &ks, NULL), KP_STORE_OK);
	assert_int_equal(ks.n, 2);
	assert_string_equal(ks.names[0], "web-0");
	/* an update dropping the reference removes it from the index */
	struct kp_store_key k0 = { "", "pods", "default", "web-0" };
	o = json_pack("{s:{s:s}}", "metadata", "name", "web-0");
	assert_int_equal(kp_store_update(f->st, &k0, o, 0, NULL, NULL), KP_STORE_OK);
	json_decref(o);
	memset(&ks, 0, sizeof(ks));
	assert_int_equal(kp_store_dependents(f->st, "rs-uid", key_fn, &ks, NULL), KP_STORE_OK);
	assert_int_equal(ks.n, 1);
	assert_string_equal(ks.names[0], "web-1");

	assert_int_equal(kp_store_find_uid(f->st, "rs-uid", &found, NULL), KP_STORE_OK);
	assert_string_equal(found.resource, "replicasets");
	assert_string_equal(found.name, "web");
	kp_store_key_free(&found);
	assert_int_equal(kp_store_find_uid(f->st, "nope", &found, NULL), KP_STORE_NOTFOUND);

	/* the owner goes away: its uid is dangling until web-1 is collected */
	struct uidlist ul = { 0 };
	assert_int_equal(kp_store_dangling_owners(f->st, uid_fn, &ul, NULL), KP_STORE_OK);
	assert_int_equal(ul.n, 0);
	assert_int_equal(kp_store_delete(f->st, &rs, 0, NULL, NULL, NULL), KP_STORE_OK);
	assert_int_equal(kp_store_dangling_owners(f->st, uid_fn, &ul, NULL), KP_STORE_OK);
	assert_int_equal(ul.n, 1);
	assert_string_equal(ul.uids[0], "rs-uid");
	struct kp_store_key k1 = { "", "pods", "default", "web-1" };
	assert_int_equal(kp_store_delete(f->st, &k1, 0, NULL, NULL, NULL), KP_STORE_OK);
	memset(&ul, 0, sizeof(ul));
	assert_int_equal(kp_store_dangling_owners(f->st, uid_fn, &ul, NULL), KP_STORE_OK);
	assert_int_equal(ul.n, 0);
}

struct waiter {
	struct kp_store_watch *w;
	enum kp_store_rc rc1, rc2;
	int64_t rv1;
};

static void *wait_thread(void *arg)
{
	struct waiter *wt = arg;
	struct kp_store_event ev;
	wt->rc1 = kp_store_watch_next(wt->w, 5000, &ev, NULL);
	wt->rv1 = wt->rc1 == KP_STORE_OK ? ev.rv : -1;
	wt->rc2 = kp_store_watch_next(wt->w, -1, &ev, NULL);   /* until shutdown */
	return NULL;
}

static void test_watch_wakes_on_write_and_shutdown(void **state)
{
	struct fx *f = *state;
	struct waiter wt = { 0 };
	struct kp_store_key k = { "", "pods", "default", "late" };
	pthread_t th;
	json_t *o = pod("late", "u-late");

	assert_int_equal(kp_store_watch_open(f->st, "", "pods", "default", kp_store_rv(f->st), &wt.w, NULL), KP_STORE_OK);
	assert_int_equal(pthread_create(&th, NULL, wait_thread, &wt), 0);
	usleep(100 * 1000);
	assert_int_equal(kp_store_create(f->st, &k, o, NULL, NULL), KP_STORE_OK);
	json_decref(o);
	usleep(100 * 1000);
	kp_store_shutdown(f->st);
	pthread_join(th, NULL);
	assert_int_equal(wt.rc1, KP_STORE_OK);
	assert_int_equal(wt.rv1, 1);
	assert_int_equal(wt.rc2, KP_STORE_CLOSED);
	kp_store_watch_close(wt.w);
	/* writes after shutdown are refused */
	o = pod("after", "u-after");
	struct kp_store_key k2 = { "", "pods", "default", "after" };
	assert_int_equal(kp_store_create(f->st, &k2, o, NULL, NULL), KP_STORE_CLOSED);
	json_decref(o);
}

/* ---- group commit: concurrent writers share commits, each write keeps
 * its own outcome and version ---- */

#define GC_THREADS 16
#define GC_PER 40

struct gc_arg {
	struct kp_store *st;
	int id;
	int64_t rv[GC_PER];
	int64_t expect;              /* for the conflict round */
	enum kp_store_rc rc;
};

static void *gc_create(void *p)
{
	struct gc_arg *a = p;
	char name[32], uid[32];
	for (int i = 0; i < GC_PER; i++) {
		snprintf(name, sizeof(name), "p-%d-%d", a->id, i);
		snprintf(uid, sizeof(uid), "u-%d-%d", a->id, i);
		struct kp_store_key k = { "", "pods", "default", name };
		json_t *o = pod(name, uid);
		if (kp_store_create(a->st, &k, o, &a->rv[i], NULL) != KP_STORE_OK)
			a->rv[i] = -1;
		json_decref(o);
	}
	return NULL;
}

static void *gc_update(void *p)
{
	struct gc_arg *a = p;
	struct kp_store_key k = { "", "pods", "default", "shared" };
	json_t *o = pod("shared", "u-shared");
	json_object_set_new(o, "spec", json_pack("{s:i}", "writer", a->id));
	a->rc = kp_store_update(a->st, &k, o, a->expect, NULL, NULL);
	json_decref(o);
	return NULL;
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

static void test_group_commit(void **state)
{
	struct fx *f = *state;
	struct gc_arg args[GC_THREADS];
	pthread_t th[GC_THREADS];
	int64_t all[GC_THREADS * GC_PER], base = kp_store_rv(f->st), n = 0, rv0;
	int ok = 0, conflicts = 0;

	for (int i = 0; i < GC_THREADS; i++) {
		args[i] = (struct gc_arg){ .st = f->st, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, gc_create, &args[i]), 0);
	}
	for (int i = 0; i < GC_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		for (int j = 0; j < GC_PER; j++) {
			assert_true(args[i].rv[j] > base);
			if (j)
				assert_true(args[i].rv[j] > args[i].rv[j - 1]);   /* a writer's own order */
			all[n++] = args[i].rv[j];
		}
	}
	/* every acknowledged write has its own version, with no gap, and the
	 * store's version is the last of them */
	qsort(all, (size_t)n, sizeof(all[0]), cmp_i64);
	for (int64_t i = 0; i < n; i++)
		assert_int_equal(all[i], base + 1 + i);
	assert_int_equal(kp_store_rv(f->st), base + n);
	int64_t cnt = 0;
	assert_int_equal(kp_store_count(f->st, "", "pods", NULL, &cnt, NULL), KP_STORE_OK);
	assert_int_equal(cnt, n);

	/* conflicting updates in the same batches: exactly one wins */
	struct kp_store_key k = { "", "pods", "default", "shared" };
	json_t *o = pod("shared", "u-shared");
	assert_int_equal(kp_store_create(f->st, &k, o, &rv0, NULL), KP_STORE_OK);
	json_decref(o);
	for (int i = 0; i < GC_THREADS; i++) {
		args[i] = (struct gc_arg){ .st = f->st, .id = i, .expect = rv0 };
		assert_int_equal(pthread_create(&th[i], NULL, gc_update, &args[i]), 0);
	}
	for (int i = 0; i < GC_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		ok += args[i].rc == KP_STORE_OK;
		conflicts += args[i].rc == KP_STORE_CONFLICT;
	}
	assert_int_equal(ok, 1);
	assert_int_equal(conflicts, GC_THREADS - 1);
	assert_int_equal(kp_store_rv(f->st), rv0 + 1);

	/* after shutdown a write is refused, not lost silently */
	kp_store_shutdown(f->st);
	o = pod("late", "u-late");
	struct kp_store_key lk = { "", "pods", "default", "late" };
	assert_int_equal(kp_store_create(f->st, &lk, o, NULL, NULL), KP_STORE_CLOSED);
	json_decref(o);
}

/* kp_store_write_batch: each write succeeds or fails alone, takes its own
 * version in array order and appends its own event; the stored text comes
 * back on request. */
static void test_write_batch(void **state)
{
	struct fx *f = *state;
	int64_t base = kp_store_rv(f->st);
	struct kp_store_watch *w = NULL;
	struct kp_store_event ev;
	struct kp_store_write ws[4];
	json_t *o[4];
	struct kp_errbuf eb = { 0 };

	assert_int_equal(kp_store_watch_open(f->st, "", "pods", NULL, base, &w, NULL), KP_STORE_OK);
	o[0] = pod("b0", "u-b0");
	o[1] = pod("b0", "u-dup");   /* the same key again: EXISTS, the others go on */
	o[2] = pod("b2", "u-b2");
	o[3] = json_pack("{s:{s:s, s:[{s:s}]}}", "metadata", "name", "b3", "ownerReferences", "uid", "owner-b");
	const char *names[4] = { "b0", "b0", "b2", "b3" };
	for (int i = 0; i < 4; i++) {
		ws[i] = (struct kp_store_write){ .op = KP_STORE_OP_CREATE, .obj = o[i], .want_text = i != 2 };
		ws[i].key = (struct kp_store_key){ "", "pods", "default", names[i] };
	}
	assert_int_equal(kp_store_write_batch(f->st, ws, 4, &eb), KP_STORE_EXISTS);
	assert_int_equal(ws[0].rc, KP_STORE_OK);
	assert_int_equal(ws[1].rc, KP_STORE_EXISTS);
	assert_int_equal(ws[2].rc, KP_STORE_OK);
	assert_int_equal(ws[3].rc, KP_STORE_OK);
	assert_int_equal(ws[0].rv, base + 1);
	assert_int_equal(ws[2].rv, base + 2);
	assert_int_equal(ws[3].rv, base + 3);
	assert_null(ws[1].text);
	assert_null(ws[2].text);   /* not asked for */
	assert_non_null(ws[0].text);
	assert_int_equal(rv_of(ws[0].text), base + 1);
	assert_non_null(strstr(ws[0].text, "u-b0"));
	free(ws[0].text);
	free(ws[3].text);
	assert_int_equal(kp_store_rv(f->st), base + 3);

	/* updates and a delete: a stale precondition fails alone */
	for (int i = 0; i < 4; i++)
		json_object_set_new(json_object_get(o[i], "metadata"), "labels", json_pack("{s:s}", "v", "2"));
	ws[0] = (struct kp_store_write){ .op = KP_STORE_OP_UPDATE, .obj = o[0], .expect_rv = base + 1 };
	ws[1] = (struct kp_store_write){ .op = KP_STORE_OP_UPDATE, .obj = o[2], .expect_rv = base + 1 };
	ws[2] = (struct kp_store_write){ .op = KP_STORE_OP_DELETE, .want_text = true };
	ws[3] = (struct kp_store_write){ .op = KP_STORE_OP_UPDATE, .obj = o[3] };   /* same owner */
	ws[0].key = (struct kp_store_key){ "", "pods", "default", "b0" };
	ws[1].key = (struct kp_store_key){ "", "pods", "default", "b2" };
	ws[2].key = (struct kp_store_key){ "", "pods", "default", "b0" };
	ws[3].key = (struct kp_store_key){ "", "pods", "default", "b3" };
	assert_int_equal(kp_store_write_batch(f->st, ws, 4, NULL), KP_STORE_CONFLICT);
	assert_int_equal(ws[0].rc, KP_STORE_OK);
	assert_int_equal(ws[1].rc, KP_STORE_CONFLICT);
	assert_int_equal(ws[2].rc, KP_STORE_OK);   /* sees the update before it in the batch */
	assert_int_equal(ws[3].rc, KP_STORE_OK);
	assert_int_equal(ws[0].rv, base + 4);
	assert_int_equal(ws[2].rv, base + 5);
	assert_int_equal(ws[3].rv, base + 6);
	assert_non_null(ws[2].text);
	assert_non_null(strstr(ws[2].text, "\"v\":\"2\""));
	free(ws[2].text);
	struct keys ks = { 0 };
	assert_int_equal(kp_store_dependents(f->st, "owner-b", key_fn, &ks, NULL), KP_STORE_OK);
	assert_int_equal(ks.n, 1);
	assert_string_equal(ks.names[0], "b3");

	/* one event per successful write, each with its version, in order */
	static const enum kp_store_evtype want[] = { KP_EV_ADDED, KP_EV_ADDED, KP_EV_ADDED, KP_EV_MODIFIED,
						     KP_EV_DELETED, KP_EV_MODIFIED };
	static const char *const want_name[] = { "b0", "b2", "b3", "b0", "b0", "b3" };
	for (int i = 0; i < 6; i++) {
		assert_int_equal(kp_store_watch_next(w, 1000, &ev, NULL), KP_STORE_OK);
		assert_int_equal(ev.rv, base + 1 + i);
		assert_int_equal(ev.type, want[i]);
		assert_string_equal(ev.name, want_name[i]);
		assert_int_equal(rv_of(ev.json), base + 1 + i);
	}
	assert_int_equal(kp_store_watch_next(w, 0, &ev, NULL), KP_STORE_TIMEOUT);
	kp_store_watch_close(w);
	for (int i = 0; i < 4; i++)
		json_decref(o[i]);
}

/* A watch far behind reads the events table, then the in-memory ring,
 * without losing or repeating an event; filters apply to both. */
static void test_watch_table_then_ring(void **state)
{
	struct fx *f = *state;
	struct kp_store *st = NULL;
	char path[128];
	enum { N = 5000, CHUNK = 500 };
	struct kp_store_watch *all = NULL, *cms = NULL;
	struct kp_store_event ev;
	struct kp_store_write *ws = calloc(CHUNK, sizeof(*ws));
	json_t **objs = calloc(CHUNK, sizeof(*objs));
	char (*names)[16] = calloc(CHUNK, sizeof(*names));

	snprintf(path, sizeof(path), "%s/big.db", f->dir);
	assert_int_equal(kp_store_open(&st, path, 20000, NULL), KP_STORE_OK);
	assert_int_equal(kp_store_watch_open(st, NULL, NULL, NULL, 0, &all, NULL), KP_STORE_OK);
	assert_int_equal(kp_store_watch_open(st, "", "configmaps", NULL, 0, &cms, NULL), KP_STORE_OK);
	for (int c = 0; c < N / CHUNK; c++) {
		for (int i = 0; i < CHUNK; i++) {
			int n = c * CHUNK + i;
			snprintf(names[i], sizeof(names[i]), "o%05d", n);
			objs[i] = json_pack("{s:{s:s}}", "metadata", "name", names[i]);
			ws[i] = (struct kp_store_write){ .op = KP_STORE_OP_CREATE, .obj = objs[i] };
			ws[i].key = (struct kp_store_key){ "", n % 10 ? "pods" : "configmaps", "default", names[i] };
		}
		assert_int_equal(kp_store_write_batch(st, ws, CHUNK, NULL), KP_STORE_OK);
		for (int i = 0; i < CHUNK; i++)
			json_decref(objs[i]);
	}
	assert_int_equal(kp_store_rv(st), N);
	for (int i = 1; i <= N; i++) {
		char nm[16];
		assert_int_equal(kp_store_watch_next(all, 1000, &ev, NULL), KP_STORE_OK);
		assert_int_equal(ev.rv, i);
		snprintf(nm, sizeof(nm), "o%05d", i - 1);
		assert_string_equal(ev.name, nm);
		assert_int_equal(rv_of(ev.json), i);
	}
	assert_int_equal(kp_store_watch_next(all, 0, &ev, NULL), KP_STORE_TIMEOUT);
	for (int i = 0; i < N / 10; i++) {
		assert_int_equal(kp_store_watch_next(cms, 1000, &ev, NULL), KP_STORE_OK);
		assert_int_equal(ev.rv, i * 10 + 1);
		assert_string_equal(ev.resource, "configmaps");
	}
	assert_int_equal(kp_store_watch_next(cms, 0, &ev, NULL), KP_STORE_TIMEOUT);
	assert_int_equal(kp_store_watch_rv(cms), N);
	kp_store_watch_close(all);
	kp_store_watch_close(cms);
	kp_store_close(st);
	const char *sfx[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/big.db%s", f->dir, sfx[i]);
		unlink(path);
	}
	free(ws);
	free(objs);
	free(names);
}

/* A cursor returns keys and versions in order from its snapshot; the JSON
 * of the current row is read on demand, as of that snapshot, after later
 * writes too. */
static void test_cursor_keys_then_json(void **state)
{
	struct fx *f = *state;
	const char *names[] = { "c", "a", "b" };
	struct kp_store_cursor *cur = NULL;
	const char *ns, *name, *j;
	int64_t lrv = 0, rv;
	size_t n;

	for (int i = 0; i < 3; i++) {
		struct kp_store_key k = { "", "pods", i == 2 ? "other" : "default", names[i] };
		json_t *o = pod(names[i], names[i]);
		assert_int_equal(kp_store_create(f->st, &k, o, NULL, NULL), KP_STORE_OK);
		json_decref(o);
	}
	assert_int_equal(kp_store_cursor_open(f->st, "", "pods", NULL, &lrv, &cur, NULL), KP_STORE_OK);
	assert_int_equal(lrv, 3);
	/* a write after the snapshot: the cursor still sees default/a at version 2 */
	{
		struct kp_store_key k = { "", "pods", "default", "a" };
		json_t *o = pod("a", "a2");
		assert_int_equal(kp_store_update(f->st, &k, o, 0, NULL, NULL), KP_STORE_OK);
		json_decref(o);
	}
	assert_int_equal(kp_store_cursor_next(cur, &ns, &name, &rv, NULL), KP_STORE_OK);
	assert_string_equal(ns, "default");
	assert_string_equal(name, "a");
	assert_int_equal(rv, 2);
	assert_int_equal(kp_store_cursor_json(cur, &j, &n, NULL), KP_STORE_OK);
	assert_int_equal(n, strlen(j));
	assert_int_equal(rv_of(j), 2);
	assert_non_null(strstr(j, "\"uid\":\"a\""));
	kp_store_cursor_release(cur);
	assert_int_equal(kp_store_cursor_next(cur, &ns, &name, &rv, NULL), KP_STORE_OK);
	assert_string_equal(name, "c");
	assert_int_equal(rv, 1);
	assert_int_equal(kp_store_cursor_next(cur, &ns, &name, &rv, NULL), KP_STORE_OK);   /* JSON not read: fine */
	assert_string_equal(ns, "other");
	assert_string_equal(name, "b");
	assert_int_equal(kp_store_cursor_json(cur, &j, &n, NULL), KP_STORE_OK);
	assert_int_equal(rv_of(j), 3);
	assert_int_equal(kp_store_cursor_next(cur, &ns, &name, &rv, NULL), KP_STORE_NOTFOUND);
	assert_int_equal(kp_store_cursor_json(cur, &j, &n, NULL), KP_STORE_FAIL);   /* no current row */
	kp_store_cursor_close(cur);
	/* one namespace */
	assert_int_equal(kp_store_cursor_open(f->st, "", "pods", "other", &lrv, &cur, NULL), KP_STORE_OK);
	assert_int_equal(lrv, 4);
	assert_int_equal(kp_store_cursor_next(cur, &ns, &name, &rv, NULL), KP_STORE_OK);
	assert_string_equal(name, "b");
	assert_int_equal(kp_store_cursor_next(cur, &ns, &name, &rv, NULL), KP_STORE_NOTFOUND);
	kp_store_cursor_close(cur);
}

/* A lazy watch returns events without JSON; kp_store_watch_json reads the
 * current event's: from memory while the event is recent (it stays readable
 * once the watch holds it), from the events table further back, and then
 * KP_STORE_GONE once the window has moved past it. */
static void test_watch_lazy_json(void **state)
{
	struct fx *f = *state;
	struct kp_store_watch *w = NULL;
	struct kp_store_event ev;
	struct kp_store_key k = { "", "configmaps", "default", "x" };
	const char *j;
	size_t n;

	assert_int_equal(kp_store_watch_open(f->st, "", "configmaps", NULL, 0, &w, NULL), KP_STORE_OK);
	kp_store_watch_lazy(w);
	assert_int_equal(kp_store_watch_json(w, &j, &n, NULL), KP_STORE_FAIL);   /* no event yet */
	for (int i = 0; i < 2; i++) {
		json_t *o = json_pack("{s:{s:s}, s:i}", "metadata", "name", "x", "i", i);
		assert_int_equal(i ? kp_store_update(f->st, &k, o, 0, NULL, NULL) : kp_store_create(f->st, &k, o, NULL, NULL),
				 KP_STORE_OK);
		json_decref(o);
	}
	assert_int_equal(kp_store_watch_next(w, 0, &ev, NULL), KP_STORE_OK);
	assert_int_equal(ev.rv, 1);
	assert_null(ev.json);
	assert_string_equal(ev.name, "x");
	assert_int_equal(kp_store_watch_json(w, &j, &n, NULL), KP_STORE_OK);
	assert_int_equal(n, strlen(j));
	assert_int_equal(rv_of(j), 1);
	assert_non_null(strstr(j, "\"i\":0"));
	kp_store_watch_release(w);
	assert_int_equal(kp_store_watch_next(w, 0, &ev, NULL), KP_STORE_OK);
	assert_int_equal(ev.rv, 2);
	assert_int_equal(ev.type, KP_EV_MODIFIED);
	/* the window (50) moves past version 2: the event the watch holds came
	 * from memory and keeps its JSON */
	for (int i = 0; i < 300; i++) {
		json_t *u = json_pack("{s:{s:s}, s:i}", "metadata", "name", "x", "i", i + 2);
		assert_int_equal(kp_store_update(f->st, &k, u, 0, NULL, NULL), KP_STORE_OK);
		json_decref(u);
	}
	assert_int_equal(kp_store_watch_json(w, &j, &n, NULL), KP_STORE_OK);
	assert_int_equal(rv_of(j), 2);
	kp_store_watch_close(w);

	/* after a reopen the events are in the table only: read on demand, GONE once pruned */
	int64_t top = kp_store_rv(f->st);
	kp_store_close(f->st);
	assert_int_equal(kp_store_open(&f->st, f->path, 50, NULL), KP_STORE_OK);
	assert_int_equal(kp_store_watch_open(f->st, "", "configmaps", NULL, top - 10, &w, NULL), KP_STORE_OK);
	kp_store_watch_lazy(w);
	assert_int_equal(kp_store_watch_next(w, 0, &ev, NULL), KP_STORE_OK);
	assert_int_equal(ev.rv, top - 9);
	assert_null(ev.json);
	assert_int_equal(kp_store_watch_json(w, &j, &n, NULL), KP_STORE_OK);
	assert_int_equal(rv_of(j), top - 9);
	for (int i = 0; i < 300; i++) {
		json_t *u = json_pack("{s:{s:s}, s:i}", "metadata", "name", "x", "i", i + 1000);
		assert_int_equal(kp_store_update(f->st, &k, u, 0, NULL, NULL), KP_STORE_OK);
		json_decref(u);
	}
	assert_int_equal(kp_store_watch_json(w, &j, &n, NULL), KP_STORE_GONE);
	kp_store_watch_close(w);
}

struct page_names {
	char names[512];
	char labels[512];
};

static int page_names_fn(void *ud, const char *ns, const char *name, const char *json, size_t len, int64_t rv)
{
	struct page_names *p = ud;
	json_t *o = json_loadb(json, len, 0, NULL);
	const char *l = json_string_value(json_object_get(json_object_get(json_object_get(o, "metadata"), "labels"), "v"));
	size_t n = strlen(p->names), m = strlen(p->labels);
	(void)ns;
	assert_true(rv > 0);
	snprintf(p->names + n, sizeof(p->names) - n, "%s%s", n ? " " : "", name);
	snprintf(p->labels + m, sizeof(p->labels) - m, "%s%s", m ? " " : "", l ? l : "-");
	json_decref(o);
	return 0;
}

static void set_label(struct fx *f, const char *name, const char *v)
{
	struct kp_store_key k = { "", "pods", "default", name };
	json_t *o = pod(name, name);
	json_object_set_new(json_object_get(o, "metadata"), "labels", json_pack("{s:s}", "v", v));
	assert_int_equal(kp_store_update(f->st, &k, o, 0, NULL, NULL), KP_STORE_OK);
	json_decref(o);
}

/* A list as of a version in the window is rebuilt from the events after it
 * (their previous states): objects last written long before the window
 * (their own events pruned) may change, be deleted or appear after it. */
static void test_list_page_past_objects_outside_window(void **state)
{
	struct fx *f = *state;
	struct page_names pn = { 0 };
	char name[16];
	int64_t at = 0;

	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		struct kp_store_key k = { "", "pods", "default", name };
		json_t *o = pod(name, name);
		assert_int_equal(kp_store_create(f->st, &k, o, NULL, NULL), KP_STORE_OK);
		json_decref(o);
	}
	set_label(f, "p2", "old");
	/* 300 writes elsewhere: the pods' own events leave the window (50) */
	for (int i = 0; i < 300; i++) {
		struct kp_store_key k = { "", "configmaps", "default", "churn" };
		json_t *u = json_pack("{s:{s:s}, s:i}", "metadata", "name", "churn", "i", i);
		assert_int_equal(i ? kp_store_update(f->st, &k, u, 0, NULL, NULL) : kp_store_create(f->st, &k, u, NULL, NULL),
				 KP_STORE_OK);
		json_decref(u);
	}
	assert_true(kp_store_oldest_rv(f->st) > 7);
	at = kp_store_rv(f->st);
	/* after the listed version: p2 and p4 change, p3 goes, p9 appears */
	set_label(f, "p2", "new");
	set_label(f, "p4", "new");
	struct kp_store_key p3 = { "", "pods", "default", "p3" };
	assert_int_equal(kp_store_delete(f->st, &p3, 0, NULL, NULL, NULL), KP_STORE_OK);
	json_t *o = pod("p9", "p9");
	struct kp_store_key p9 = { "", "pods", "default", "p9" };
	assert_int_equal(kp_store_create(f->st, &p9, o, NULL, NULL), KP_STORE_OK);
	json_decref(o);
	int64_t lrv = 0;
	assert_int_equal(kp_store_list_page(f->st, "", "pods", "default", at, "default", "p1", page_names_fn, &pn, &lrv,
					    NULL), KP_STORE_OK);
	assert_int_equal(lrv, at);
	assert_string_equal(pn.names, "p2 p3 p4 p5");
	assert_string_equal(pn.labels, "old - - -");
	/* the current state */
	memset(&pn, 0, sizeof(pn));
	assert_int_equal(kp_store_list_page(f->st, "", "pods", "default", 0, NULL, NULL, page_names_fn, &pn, NULL, NULL),
			 KP_STORE_OK);
	assert_string_equal(pn.names, "p0 p1 p2 p4 p5 p9");
	assert_string_equal(pn.labels, "- - new new - -");
	/* a version below the window is still GONE */
	assert_int_equal(kp_store_list_page(f->st, "", "pods", "default", 5, NULL, NULL, page_names_fn, &pn, NULL, NULL),
			 KP_STORE_GONE);
}

/* With a TTL the events younger than it stay past the window, up to the
 * maximum count; without one the window alone decides. */
static void test_retention_ttl(void **state)
{
	struct fx *f = *state;
	struct kp_store_key k = { "", "configmaps", "default", "x" };

	kp_store_set_retention(f->st, 60 * 1000, 400);
	for (int i = 0; i < 350; i++) {
		json_t *u = json_pack("{s:{s:s}, s:i}", "metadata", "name", "x", "i", i);
		assert_int_equal(i ? kp_store_update(f->st, &k, u, 0, NULL, NULL) : kp_store_create(f->st, &k, u, NULL, NULL),
				 KP_STORE_OK);
		json_decref(u);
	}
	assert_true(kp_store_oldest_rv(f->st) <= 1);     /* all 350 kept: younger than a minute */
	for (int i = 0; i < 700; i++) {
		json_t *u = json_pack("{s:{s:s}, s:i}", "metadata", "name", "x", "i", i);
		assert_int_equal(kp_store_update(f->st, &k, u, 0, NULL, NULL), KP_STORE_OK);
		json_decref(u);
	}
	/* the maximum count (400) bounds it, with the prune period's slack */
	assert_true(kp_store_rv(f->st) - kp_store_oldest_rv(f->st) <= 400 + 256 + 1);
	assert_true(kp_store_oldest_rv(f->st) > 1);
	kp_store_set_retention(f->st, 0, 0);
	for (int i = 0; i < 300; i++) {
		json_t *u = json_pack("{s:{s:s}, s:i}", "metadata", "name", "x", "i", i);
		assert_int_equal(kp_store_update(f->st, &k, u, 0, NULL, NULL), KP_STORE_OK);
		json_decref(u);
	}
	assert_true(kp_store_rv(f->st) - kp_store_oldest_rv(f->st) <= 50 + 256 + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_get_update_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_order_and_namespace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_keys_then_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_resume_and_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_lazy_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_writes_and_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_wakes_on_write_and_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_table_then_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_page_past_objects_outside_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_ttl, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
