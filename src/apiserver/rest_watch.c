/*
 * rest_watch.c - watch streams: the initial state, then the store's events
 * as JSON lines (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR), filtered by
 * selectors; also the pods/log follow stream.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "apiserver/pdb.h"
#include "apiserver/server.h"

#include "apiserver/rest_int.h"

/* ----------------------------------------------------------------- watch */
static void stream_line(struct kp_apiserver__watch_stream *s, const char *type, json_t *obj)
{
	json_t *ev = json_pack("{s:s, s:o}", "type", type, "object", obj);
	char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;

	if (!text || kp_buf_addstr(&s->pend, text) || kp_buf_add(&s->pend, "\n", 1))
		s->done = true;
	free(text);
	json_decref(ev);
}

/* The object as the watch serves it (converted, apiVersion set, a Table
 * if negotiated), a new reference (obj itself may be changed); NULL with *gone set when the resource
 * went away (CRD deleted), NULL alone when out of memory. */
static json_t *serve(struct kp_apiserver__watch_stream *s, json_t *obj, bool *gone)
{
	const struct kp_apiserver__res *res;
	json_t *served = NULL, *t = NULL;

	pthread_rwlock_rdlock(&s->L->reg_lock);
	res = kp_apiserver__reg_find(s->L->reg, s->group, s->version, s->plural);
	if (res) {
		served = kp_apiserver__served_of(s->L, res, s->gv, obj);
		if (s->table && served)
			t = kp_apiserver__reg_table(s->L->reg, res, served, s->include);
	}
	pthread_rwlock_unlock(&s->L->reg_lock);
	*gone = !res;
	if (t) {
		json_decref(served);
		served = t;
	}
	return served;
}

/* Formats one stored object as a watch event if it passes the selectors. */
static void stream_event(struct kp_apiserver__watch_stream *s, const char *type, const char *json, size_t len)
{
	json_t *obj = json_loadb(json, len, 0, NULL), *served;
	bool gone = false;

	if (!obj)
		return;
	if (!kp_apiserver__labels_match(&s->ls, obj) || !kp_apiserver__fields_match(&s->fs, obj)) {
		json_decref(obj);
		return;
	}
	served = serve(s, obj, &gone);
	json_decref(obj);
	if (gone)
		s->done = true;
	if (served)
		stream_line(s, type, served);
}

static void stream_bookmark(struct kp_apiserver__watch_stream *s)
{
	char rvs[32];
	snprintf(rvs, sizeof(rvs), "%lld", (long long)kp_store_watch_rv(s->w));
	stream_line(s, "BOOKMARK", json_pack("{s:s, s:s, s:{s:s}}", "kind", s->kind, "apiVersion", s->gv, "metadata",
					     "resourceVersion", rvs));
}

static void stream_expired(struct kp_apiserver__watch_stream *s, const char *msg)
{
	json_t *st = kp_apiserver__status_obj(410, "Expired", msg);
	stream_line(s, "ERROR", st);
	s->done = true;
}

static bool hung_up(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	if (fd < 0)
		return false;
	if (poll(&p, 1, 0) <= 0)
		return false;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

/* ---- shared encodings (enccache.h) ----
 * A watch's initial state and a streamed list send each object from an
 * encoding shared by every stream sending that object version in the same
 * form, built once from the store cursor's row; a stream holds a reference
 * while its client reads it, never a private copy. */
#define ENC_INLINE ((size_t)16 * 1024)   /* encodings up to this are copied into pend */

bool kp_apiserver__enc_key(char *key, size_t n, const char *group, const char *plural, const char *ns,
			   const char *name, int64_t rv, const char *form)
{
	int w = snprintf(key, n, "%s\n%s\n%s\n%s\n%lld\n%s", group, plural, ns, name, (long long)rv, form);
	return w > 0 && (size_t)w < n;
}

bool kp_apiserver__stream_enc(struct kp_apiserver__watch_stream *s, const struct kp_apiserver__enc *e,
			      const char *tail)
{
	if (e->len <= ENC_INLINE) {
		bool ok = kp_buf_add(&s->pend, e->text, e->len) == KP_OK && kp_buf_addstr(&s->pend, tail) == KP_OK;
		kp_apiserver__enc_put(s->L->enc, e);
		return ok;
	}
	s->enc = e;
	s->enc_off = 0;
	s->enc_tail = tail;
	return true;
}

struct served_src {
	struct kp_apiserver__watch_stream *s;
	bool made;                     /* make_* ran for this stream */
	bool gone;                     /* the resource went away */
	enum kp_store_rc rc;           /* reading the JSON failed */
	struct kp_errbuf eb;
};

/* Encodes stored JSON as the watch serves it, with its selector view. */
static int encode(struct served_src *src, json_t *obj, char **text, size_t *len, json_t **view)
{
	json_t *served;

	*view = kp_apiserver__enc_view(obj);
	served = serve(src->s, obj, &src->gone);
	json_decref(obj);
	*text = served ? json_dumps(served, JSON_COMPACT) : NULL;
	json_decref(served);
	if (!*text)
		return -1;
	*len = strlen(*text);
	return 0;
}

/* kp_apiserver__enc_make_fn: the cursor's current object as the watch serves it. */
static int make_served(void *ud, char **text, size_t *len, json_t **view)
{
	struct served_src *src = ud;
	json_t *obj;
	const char *j;
	size_t n;

	src->made = true;
	if ((src->rc = kp_store_cursor_json(src->s->initial, &j, &n, &src->eb)))
		return -1;
	obj = json_loadb(j, n, 0, NULL);
	kp_store_cursor_release(src->s->initial);   /* SQLite's copy of the row goes now */
	return obj ? encode(src, obj, text, len, view) : -1;
}

/* kp_apiserver__enc_make_fn: the object of the watch's current event. */
static int make_event(void *ud, char **text, size_t *len, json_t **view)
{
	struct served_src *src = ud;
	json_t *obj;
	const char *j;
	size_t n;

	src->made = true;
	if ((src->rc = kp_store_watch_json(src->s->w, &j, &n, &src->eb)))
		return -1;
	obj = json_loadb(j, n, 0, NULL);
	kp_store_watch_release(src->s->w);
	return obj ? encode(src, obj, text, len, view) : -1;
}

/* Queues one event (type, the object ns/name at version rv) from its
 * shared encoding if it passes the selectors; true if the stream goes on. */
static bool queue_event(struct kp_apiserver__watch_stream *s, const char *type, const char *ns, const char *name,
			int64_t rv, kp_apiserver__enc_make_fn make)
{
	struct served_src src = { .s = s };
	const struct kp_apiserver__enc *e = NULL;
	char key[2048], head[64];

	if (!kp_apiserver__enc_key(key, sizeof(key), s->group, s->plural, ns, name, rv, s->form))
		return true;
	/* twice: another stream's make may have failed where ours would not */
	for (int i = 0; i < 2 && !e && !src.made; i++)
		e = kp_apiserver__enc_get(s->L->enc, key, make, &src);
	if (!e) {
		if (src.rc == KP_STORE_GONE)
			stream_expired(s, src.eb.msg);
		else if (src.gone || (src.rc != KP_STORE_OK && src.rc != KP_STORE_NOTFOUND))
			s->done = true;
		return !s->done;   /* otherwise not valid JSON: skipped */
	}
	if (!kp_apiserver__labels_match(&s->ls, e->view) || !kp_apiserver__fields_match(&s->fs, e->view)) {
		kp_apiserver__enc_put(s->L->enc, e);
		return true;
	}
	snprintf(head, sizeof(head), "{\"type\":\"%s\",\"object\":", type);
	if (kp_buf_addstr(&s->pend, head) || !kp_apiserver__stream_enc(s, e, "}\n"))
		s->done = true;
	return !s->done;
}

/* Adds the next block of a watch's initial state (ADDED events read from
 * the store cursor) to pend, or queues one large object's shared
 * encoding; closes the cursor at its end. */
static void initial_fill(struct kp_apiserver__watch_stream *s)
{
	struct kp_errbuf eb = { 0 };

	while (s->initial && !s->done && !s->enc && s->pend.len < (size_t)64 * 1024) {
		const char *ns, *name;
		int64_t rv;
		enum kp_store_rc rc = kp_store_cursor_next(s->initial, &ns, &name, &rv, &eb);
		if (rc == KP_STORE_OK) {
			queue_event(s, "ADDED", ns, name, rv, make_served);
			continue;
		}
		kp_store_cursor_close(s->initial);
		s->initial = NULL;
		if (rc != KP_STORE_NOTFOUND)
			s->done = true;
	}
}

ssize_t kp_apiserver__rest_stream_read(struct kp_apiserver__watch_stream *s, int fd, char *buf, size_t max)
{
	if (s->follow && s->off >= s->pend.len)
		return kp_apiserver_podlog_follow_read(s->follow, fd, buf, max);
	for (;;) {
		struct kp_store_event ev;
		struct kp_errbuf eb = { 0 };
		enum kp_store_rc rc;
		int64_t now, wait;

		if (s->off < s->pend.len) {
			size_t n = s->pend.len - s->off;
			if (n > max)
				n = max;
			memcpy(buf, s->pend.data + s->off, n);
			s->off += n;
			if (s->off == s->pend.len) {
				s->off = 0;
				s->pend.len = 0;
				if (s->pend.cap > 1024 * 1024)
					kp_buf_free(&s->pend);
			}
			return (ssize_t)n;
		}
		if (s->enc) {   /* a shared encoding, copied as the client reads */
			size_t n = s->enc->len - s->enc_off;
			if (n > max)
				n = max;
			memcpy(buf, s->enc->text + s->enc_off, n);
			s->enc_off += n;
			if (s->enc_off == s->enc->len) {
				kp_apiserver__enc_put(s->L->enc, s->enc);
				s->enc = NULL;
				if (kp_buf_addstr(&s->pend, s->enc_tail))
					s->done = true;
			}
			if (n)
				return (ssize_t)n;
			continue;
		}
		if (s->list) {
			if (!kp_apiserver__list_stream_fill(s) && s->pend.len == 0)
				return 0;
			continue;
		}
		if (s->initial && !s->done) {
			initial_fill(s);
			continue;
		}
		if (s->done || !s->w)
			return 0;
		now = kp_apiserver__mono_ms();
		wait = 1000;
		if (s->deadline && s->deadline - now < wait)
			wait = s->deadline - now;
		if (s->bookmarks && s->next_bookmark - now < wait)
			wait = s->next_bookmark - now;
		if (wait < 0)
			wait = 0;
		rc = kp_store_watch_next(s->w, wait, &ev, &eb);
		switch (rc) {
		case KP_STORE_OK:
			if (ev.json)
				stream_event(s, kp_store_evtype_str(ev.type), ev.json, ev.len);
			else
				queue_event(s, kp_store_evtype_str(ev.type), ev.ns, ev.name, ev.rv, make_event);
			break;
		case KP_STORE_TIMEOUT:
			if (hung_up(fd))
				return -1;
			now = kp_apiserver__mono_ms();
			if (s->deadline && now >= s->deadline)
				return 0;
			if (s->bookmarks && now >= s->next_bookmark) {
				stream_bookmark(s);
				s->next_bookmark = now + s->bookmark_every;
			}
			break;
		case KP_STORE_GONE:
			stream_expired(s, eb.msg);
			break;
		case KP_STORE_CLOSED:
			return 0;
		default:
			return -1;
		}
	}
}

void kp_apiserver__rest_stream_free(struct kp_apiserver__watch_stream *s)
{
	if (!s)
		return;
	kp_store_watch_close(s->w);
	if (s->enc)
		kp_apiserver__enc_put(s->L->enc, s->enc);
	kp_store_cursor_close(s->list);
	kp_store_cursor_close(s->initial);
	kp_apiserver_podlog_follow_close(s->follow);
	kp_buf_free(&s->pend);
	kp_arena_free(&s->arena);
	free(s->group);
	free(s->version);
	free(s->plural);
	free(s);
}

static int initial_fn(void *ud, const char *json, size_t len, int64_t rv)
{
	struct kp_apiserver__watch_stream *s = ud;
	(void)rv;
	stream_event(s, "ADDED", json, len);
	return s->done;
}

void kp_apiserver__do_watch(struct kp_apiserver__req *c)
{
	struct kp_apiserver__watch_stream *s = calloc(1, sizeof(*s));
	struct kp_errbuf eb = { 0 };
	const char *rvs = kp_apiserver__arg(c->rq, "resourceVersion");
	const char *ts = kp_apiserver__arg(c->rq, "timeoutSeconds"), *tmo = kp_apiserver__arg(c->rq, "timeout");
	const char *ns = c->res->namespaced ? c->r.ns : NULL;
	int64_t from = 0, secs = 0;
	enum kp_store_rc rc;
	bool initial;

	if (!s) {
		kp_apiserver__rest_status(c->rs, 500, "InternalError", "out of memory");
		return;
	}
	s->L = c->L;
	kp_arena_init(&s->arena);
	kp_buf_init(&s->pend, LIST_MAX);
	s->group = strdup(c->r.group);
	s->version = strdup(c->r.version);
	s->plural = strdup(c->r.plural);
	snprintf(s->gv, sizeof(s->gv), "%s", c->r.gv);
	snprintf(s->kind, sizeof(s->kind), "%s", c->res->kind);
	s->table = kp_apiserver__wants_table(c->rq);
	snprintf(s->include, sizeof(s->include), "%s", kp_apiserver__include_object(c->rq));
	/* how this watch encodes objects: the part of a shared encoding's key (enccache.h) */
	snprintf(s->form, sizeof(s->form), "watch\n%s\n%s", s->gv,
		 !s->table ? "" : strcmp(s->include, "None") == 0 || strcmp(s->include, "Object") == 0 ? s->include
												    : "Metadata");
	s->bookmarks = kp_apiserver__truthy(kp_apiserver__arg(c->rq, "allowWatchBookmarks"));
	s->bookmark_every = c->L->cfg.bookmark_ms > 0 ? c->L->cfg.bookmark_ms : 60000;
	s->next_bookmark = kp_apiserver__mono_ms() + s->bookmark_every;
	if (!s->group || !s->version || !s->plural) {
		kp_apiserver__rest_stream_free(s);
		kp_apiserver__rest_status(c->rs, 500, "InternalError", "out of memory");
		return;
	}
	if (kp_apiserver__sel_parse(&s->ls, &s->arena, kp_apiserver__arg(c->rq, "labelSelector"), true, &eb) ||
	    kp_apiserver__sel_parse(&s->fs, &s->arena, kp_apiserver__arg(c->rq, "fieldSelector"), false, &eb) ||
	    kp_apiserver__fields_check(&s->fs, c->r.group, c->r.plural, &eb)) {
		kp_apiserver__rest_stream_free(s);
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", eb.msg);
		return;
	}
	if (ts && *ts) {
		if (kp_parse_i64(ts, &secs) || secs < 0) {
			kp_apiserver__rest_stream_free(s);
			kp_apiserver__rest_status(c->rs, 400, "BadRequest", "invalid timeoutSeconds");
			return;
		}
		if (secs > 0)
			s->deadline = kp_apiserver__mono_ms() + secs * 1000;
	} else if (tmo && *tmo) {
		int64_t ms = 0;
		if (kp_parse_duration_ms(tmo, &ms) || ms < 0) {
			kp_apiserver__rest_stream_free(s);
			kp_apiserver__rest_status(c->rs, 400, "BadRequest", "invalid timeout");
			return;
		}
		if (ms > 0)
			s->deadline = kp_apiserver__mono_ms() + ms;
	}
	initial = !rvs || !*rvs || strcmp(rvs, "0") == 0;
	if (!initial && (kp_parse_i64(rvs, &from) || from < 0)) {
		kp_apiserver__rest_stream_free(s);
		kp_apiserver__rest_status(c->rs, 400, "BadRequest", "invalid resourceVersion");
		return;
	}
	if (initial && c->rq->streamable) {
		/* streamed object by object from one snapshot by the reads (initial_fill) */
		rc = kp_store_cursor_open(c->L->store, kp_apiserver__store_group(c), c->r.plural, ns, &from, &s->initial,
					  &eb);
		if (rc) {
			kp_apiserver__rest_stream_free(s);
			kp_apiserver__err_store(c, rc, "", &eb);
			return;
		}
	} else if (initial) {
		rc = kp_store_list(c->L->store, kp_apiserver__store_group(c), c->r.plural, ns, initial_fn, s, &from, &eb);
		if (rc) {
			kp_apiserver__rest_stream_free(s);
			kp_apiserver__err_store(c, rc, "", &eb);
			return;
		}
	}
	rc = kp_store_watch_open(c->L->store, kp_apiserver__store_group(c), c->r.plural, ns, from, &s->w, &eb);
	if (rc == KP_STORE_OK)
		kp_store_watch_lazy(s->w);   /* events from shared encodings (queue_event) */
	if (rc == KP_STORE_GONE) {
		stream_expired(s, eb.msg);
	} else if (rc) {
		kp_apiserver__rest_stream_free(s);
		kp_apiserver__err_store(c, rc, "", &eb);
		return;
	}
	c->rs->status = 200;
	c->rs->content_type = s->table ? CT_TABLE : CT_JSON;
	c->rs->stream = s;
}
