/*
 * watch.c - the loop (one curl multi handle driven by socket readiness and
 * timers), its timers, streaming watches on it and the incremental parser
 * of the watch event stream.
 *
 * Data path: curl calls watch_write() with de-chunked bytes; the parser
 * splits them into newline-terminated JSON events and queues them on the
 * watch. Queued events and finished transfers are dispatched only after
 * curl_multi_socket_action() has returned, so user callbacks run outside
 * libcurl and may do anything: stop this or another watch, start watches,
 * make blocking REST calls.
 *
 * Invariants: a stopped watch never calls back; a dead watch is unlinked
 * from the multi handle only outside curl callbacks; one event is at most
 * max_event bytes (16 MiB), an error body at most 64 KiB.
 * Cost: O(bytes) parsing (each byte copied at most once, only when an event
 * straddles two reads); timers are a list scanned in O(timers) per tick,
 * fine for the handful a controller has (informers, leases).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_int.h"

#define MAX_EVENT_DEFAULT ((size_t)16 << 20)
#define MAX_ERROR_BODY ((size_t)64 << 10)
#define MAX_TIMER_FIRES 256

/* ---- parser ---- */

static const char *const TYPE_NAMES[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };

const char *kp_watch_type_name(enum kp_watch_type t)
{
	return (unsigned)t < KP_ARRAY_LEN(TYPE_NAMES) ? TYPE_NAMES[t] : "?";
}

void kp_watch_parser_init(struct kp_watch_parser *p, size_t max_event, kp_watch_event_fn fn, void *ud)
{
	memset(p, 0, sizeof(*p));
	kp_buf_init(&p->line, max_event ? max_event : MAX_EVENT_DEFAULT);
	p->fn = fn;
	p->ud = ud;
}

void kp_watch_parser_free(struct kp_watch_parser *p)
{
	if (p)
		kp_buf_free(&p->line);
}

static kp_err parse_line(struct kp_watch_parser *p, const char *s, size_t n, struct kp_errbuf *eb)
{
	json_error_t je;
	json_t *ev, *obj;
	const char *type, *rv;
	size_t i;
	int t = -1;

	while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n && (*s == ' ' || *s == '\t' || *s == '\r')) {
		s++;
		n--;
	}
	if (n == 0)
		return KP_OK;
	ev = json_loadb(s, n, 0, &je);
	if (!ev)
		return kp_errf(eb, KP_ERR_INVALID, "watch event %llu: %s", (unsigned long long)p->events + 1, je.text);
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	for (i = 0; type && i < KP_ARRAY_LEN(TYPE_NAMES); i++)
		if (strcmp(type, TYPE_NAMES[i]) == 0)
			t = (int)i;
	if (t < 0 || !json_is_object(obj)) {
		json_decref(ev);
		return kp_errf(eb, KP_ERR_INVALID, "watch event %llu: %s", (unsigned long long)p->events + 1,
			       t < 0 ? "unknown or missing type" : "missing object");
	}
	p->events++;
	if (t != KP_WATCH_ERROR) {
		rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
		if (rv && strlen(rv) < sizeof(p->rv))
			memcpy(p->rv, rv, strlen(rv) + 1);
	}
	if (p->fn && p->fn(p->ud, (enum kp_watch_type)t, obj))
		p->stopped = true;
	json_decref(ev);
	return KP_OK;
}

kp_err kp_watch_parser_feed(struct kp_watch_parser *p, const char *data, size_t n, struct kp_errbuf *eb)
{
	kp_err rc;

	while (n && !p->stopped) {
		const char *nl = memchr(data, '\n', n);
		size_t seg = nl ? (size_t)(nl - data) : n;

		if (!nl) {
			if (kp_buf_add(&p->line, data, n))
				return kp_errf(eb, KP_ERR_LIMIT, "watch event larger than %zu bytes", p->line.max);
			return KP_OK;
		}
		if (p->line.len == 0) {
			if (seg > p->line.max)
				return kp_errf(eb, KP_ERR_LIMIT, "watch event larger than %zu bytes", p->line.max);
			rc = parse_line(p, data, seg, eb);
		} else {
			if (kp_buf_add(&p->line, data, seg))
				return kp_errf(eb, KP_ERR_LIMIT, "watch event larger than %zu bytes", p->line.max);
			rc = parse_line(p, p->line.data, p->line.len, eb);
			p->line.len = 0;
			p->line.data[0] = '\0';
		}
		if (rc)
			return rc;
		data += seg + 1;
		n -= seg + 1;
	}
	return KP_OK;
}

kp_err kp_watch_parser_finish(struct kp_watch_parser *p, struct kp_errbuf *eb)
{
	kp_err rc = KP_OK;
	if (p->line.len && !p->stopped)
		rc = parse_line(p, p->line.data, p->line.len, eb);
	if (p->line.data) {
		p->line.len = 0;
		p->line.data[0] = '\0';
	}
	if (rc)
		kp_err_prefix(eb, "at end of stream");
	return rc;
}

/* ---- loop ---- */

struct sockent {
	int fd;
	int events;
};

struct pending {
	struct pending *next;
	enum kp_watch_type type;
	json_t *obj;
};

struct kp_watch {
	struct kp_watch *next;           /* loop->watches */
	struct kp_kube_loop *loop;
	CURL *h;
	struct curl_slist *hdrs;
	struct kp_watch_parser parser;
	kp_watch_event_fn fn;
	kp_watch_done_fn done;
	void *ud;
	struct pending *q_head, *q_tail;
	struct kp_buf errbody;           /* body of a non-200 answer */
	long http_code;
	bool dead;                       /* stopped: reap outside curl */
	bool finished;                   /* transfer done, done() pending */
	bool ev_error;                   /* an ERROR event ended it */
	struct kp_kube_status ev_status;
	kp_err parse_rc;
	char parse_msg[256];
	CURLcode result;
	char cerr[CURL_ERROR_SIZE];
	char path[128];                  /* start of the path, for messages */
};

struct kp_kube_loop {
	struct kp_kube_client *c;
	CURLM *multi;
	struct kp_kube_timer *timers;
	int64_t curl_due;                /* mono ms, -1 = none */
	struct sockent *socks;
	size_t nsocks, capsocks;
	kp_kube_fd_fn hook;
	void *hook_ud;
	struct kp_watch *watches;
	int in_curl;                     /* inside curl_multi_socket_action */
	int in_dispatch;                 /* inside user callbacks from dispatch() */
};

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct kp_kube_loop *l = userp;
	int ev = 0;
	size_t i;

	(void)e;
	(void)socketp;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= KP_KUBE_FD_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= KP_KUBE_FD_WRITE;
	for (i = 0; i < l->nsocks; i++)
		if (l->socks[i].fd == (int)s)
			break;
	if (what == CURL_POLL_REMOVE) {
		if (i < l->nsocks)
			l->socks[i] = l->socks[--l->nsocks];
		ev = 0;
	} else if (i < l->nsocks) {
		l->socks[i].events = ev;
	} else {
		if (l->nsocks == l->capsocks) {
			size_t cap = l->capsocks ? l->capsocks * 2 : 8;
			struct sockent *n = realloc(l->socks, cap * sizeof(*n));
			if (!n)
				return -1;
			l->socks = n;
			l->capsocks = cap;
		}
		l->socks[l->nsocks].fd = (int)s;
		l->socks[l->nsocks].events = ev;
		l->nsocks++;
	}
	if (l->hook)
		l->hook(l->hook_ud, (int)s, ev);
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct kp_kube_loop *l = userp;
	(void)m;
	l->curl_due = timeout_ms < 0 ? -1 : kp_kube_now_mono(l->c->clock) + timeout_ms;
	return 0;
}

kp_err kp_kube_loop_new(struct kp_kube_client *c, struct kp_kube_loop **out, struct kp_errbuf *eb)
{
	struct kp_kube_loop *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (!l)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	l->c = c;
	l->curl_due = -1;
	l->multi = curl_multi_init();
	if (!l->multi) {
		free(l);
		return kp_errf(eb, KP_ERR_NOMEM, "curl multi init failed");
	}
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
	*out = l;
	return KP_OK;
}

static void watch_destroy(struct kp_watch *w);

void kp_kube_loop_free(struct kp_kube_loop *l)
{
	if (!l)
		return;
	while (l->watches) {
		struct kp_watch *w = l->watches;
		l->watches = w->next;
		watch_destroy(w);
	}
	curl_multi_cleanup(l->multi);
	free(l->socks);
	free(l);
}

struct kp_kube_client *kp_kube_loop_client(struct kp_kube_loop *l)
{
	return l->c;
}

void kp_kube_loop_set_fd_hook(struct kp_kube_loop *l, kp_kube_fd_fn fn, void *ud)
{
	size_t i;
	l->hook = fn;
	l->hook_ud = ud;
	for (i = 0; fn && i < l->nsocks; i++)
		fn(ud, l->socks[i].fd, l->socks[i].events);
}

void kp_kube_timer_start(struct kp_kube_loop *l, struct kp_kube_timer *t, int64_t delay_ms, kp_kube_timer_fn fn,
			 void *ud)
{
	kp_kube_timer_stop(l, t);
	t->due_ms = kp_kube_now_mono(l->c->clock) + (delay_ms > 0 ? delay_ms : 0);
	t->fn = fn;
	t->ud = ud;
	t->armed = true;
	t->next = l->timers;
	l->timers = t;
}

void kp_kube_timer_stop(struct kp_kube_loop *l, struct kp_kube_timer *t)
{
	struct kp_kube_timer **pp;
	if (!t->armed)
		return;
	for (pp = &l->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->armed = false;
	t->next = NULL;
}

int64_t kp_kube_loop_timeout_ms(struct kp_kube_loop *l)
{
	int64_t now = kp_kube_now_mono(l->c->clock), due = l->curl_due;
	struct kp_kube_timer *t;
	struct kp_watch *w;

	for (w = l->watches; w; w = w->next)
		if (w->dead || w->finished || w->q_head)
			return 0;
	for (t = l->timers; t; t = t->next)
		if (due < 0 || t->due_ms < due)
			due = t->due_ms;
	if (due < 0)
		return -1;
	return due > now ? due - now : 0;
}

/* ---- dispatch (outside curl) ---- */

static void watch_unlink(struct kp_watch *w)
{
	struct kp_watch **pp;
	for (pp = &w->loop->watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return;
		}
	}
}

static void queue_clear(struct kp_watch *w)
{
	while (w->q_head) {
		struct pending *e = w->q_head;
		w->q_head = e->next;
		json_decref(e->obj);
		free(e);
	}
	w->q_tail = NULL;
}

static void watch_destroy(struct kp_watch *w)
{
	if (w->h) {
		curl_multi_remove_handle(w->loop->multi, w->h);
		curl_easy_cleanup(w->h);
	}
	curl_slist_free_all(w->hdrs);
	queue_clear(w);
	kp_watch_parser_free(&w->parser);
	kp_buf_free(&w->errbody);
	free(w);
}

static void reap(struct kp_kube_loop *l)
{
	struct kp_watch **pp = &l->watches;
	while (*pp) {
		struct kp_watch *w = *pp;
		if (w->dead) {
			*pp = w->next;
			watch_destroy(w);
		} else {
			pp = &w->next;
		}
	}
}

static void collect_done(struct kp_kube_loop *l)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(l->multi, &left))) {
		struct kp_watch *w;
		if (m->msg != CURLMSG_DONE)
			continue;
		for (w = l->watches; w; w = w->next)
			if (w->h == m->easy_handle)
				break;
		if (!w || w->dead)
			continue;
		w->finished = true;
		w->result = m->data.result;
	}
}

static void finish(struct kp_watch *w)
{
	struct kp_kube_status st;
	struct kp_errbuf eb = { 0 };
	kp_err rc = KP_OK;
	kp_watch_done_fn done = w->done;
	void *ud = w->ud;

	memset(&st, 0, sizeof(st));
	st.retry_after_ms = -1;
	st.code = w->http_code;
	if (w->ev_error) {
		st = w->ev_status;
		rc = st.code == 404 ? KP_ERR_NOTFOUND : KP_ERR_IO;
		kp_errf(&eb, rc, "watch %s: ERROR event: %ld %s: %s", w->path, st.code, st.reason, st.message);
	} else if (w->parse_rc) {
		rc = kp_errf(&eb, w->parse_rc, "watch %s: %s", w->path, w->parse_msg);
	} else if (w->http_code && w->http_code != 200) {
		kp_kube__status_from_body(&st, w->http_code, w->errbody.data, w->errbody.len);
		rc = kp_kube__status_err(&eb, "watch", w->path, &st);
	} else if (w->result != CURLE_OK) {
		rc = kp_errf(&eb, KP_ERR_IO, "watch %s: %s", w->path,
			     w->cerr[0] ? w->cerr : curl_easy_strerror(w->result));
	} else {
		rc = kp_watch_parser_finish(&w->parser, &eb);
		if (rc)
			kp_err_prefix(&eb, "watch %s", w->path);
	}
	/* the watch is over: free it before calling back, so done() may start a new one */
	w->dead = true;
	w->fn = NULL;
	w->done = NULL;
	if (done)
		done(ud, rc, &st, rc ? eb.msg : "");
}

static void dispatch(struct kp_kube_loop *l)
{
	struct kp_watch *w;
	bool again = true;

	collect_done(l);
	l->in_dispatch++;
	/* callbacks may stop or start watches: restart the scan after each one */
	while (again) {
		again = false;
		for (w = l->watches; w; w = w->next) {
			if (w->dead)
				continue;
			if (w->q_head) {
				struct pending *e = w->q_head;
				w->q_head = e->next;
				if (!w->q_head)
					w->q_tail = NULL;
				if (w->fn && w->fn(w->ud, e->type, e->obj)) {
					w->fn = NULL;
					queue_clear(w);
				}
				json_decref(e->obj);
				free(e);
				again = true;
				break;
			}
			if (w->finished) {
				finish(w);
				again = true;
				break;
			}
		}
	}
	l->in_dispatch--;
	if (!l->in_dispatch)
		reap(l);
}

static void socket_action(struct kp_kube_loop *l, curl_socket_t fd, int flags)
{
	int running;
	l->in_curl++;
	curl_multi_socket_action(l->multi, fd, flags, &running);
	l->in_curl--;
	dispatch(l);
}

void kp_kube_loop_fd_ready(struct kp_kube_loop *l, int fd, int events)
{
	int flags = 0;
	if (events & KP_KUBE_FD_READ)
		flags |= CURL_CSELECT_IN;
	if (events & KP_KUBE_FD_WRITE)
		flags |= CURL_CSELECT_OUT;
	socket_action(l, fd, flags);
}

void kp_kube_loop_tick(struct kp_kube_loop *l)
{
	int64_t now = kp_kube_now_mono(l->c->clock);
	int fired = 0;

	if (l->curl_due >= 0 && l->curl_due <= now) {
		l->curl_due = -1;
		socket_action(l, CURL_SOCKET_TIMEOUT, 0);
	} else {
		dispatch(l);
	}
	while (fired < MAX_TIMER_FIRES) {
		struct kp_kube_timer *t, *best = NULL;
		for (t = l->timers; t; t = t->next)
			if (t->due_ms <= now && (!best || t->due_ms < best->due_ms))
				best = t;
		if (!best)
			break;
		kp_kube_timer_stop(l, best);
		fired++;
		best->fn(best->ud);
	}
}

kp_err kp_kube_loop_run_once(struct kp_kube_loop *l, int64_t max_wait_ms, struct kp_errbuf *eb)
{
	struct pollfd pf[64];
	size_t i, n = l->nsocks < KP_ARRAY_LEN(pf) ? l->nsocks : KP_ARRAY_LEN(pf);
	int64_t wait = kp_kube_loop_timeout_ms(l);
	int r;

	if (wait < 0 || wait > max_wait_ms)
		wait = max_wait_ms < 0 ? 0 : max_wait_ms;
	for (i = 0; i < n; i++) {
		pf[i].fd = l->socks[i].fd;
		pf[i].events = (short)(((l->socks[i].events & KP_KUBE_FD_READ) ? POLLIN : 0) |
				       ((l->socks[i].events & KP_KUBE_FD_WRITE) ? POLLOUT : 0));
		pf[i].revents = 0;
	}
	if (n == 0) {
		kp_kube_sleep(l->c->clock, wait);
		r = 0;
	} else {
		r = poll(pf, (nfds_t)n, (int)wait);
	}
	if (r < 0 && errno != EINTR)
		return kp_errf(eb, KP_ERR_IO, "poll: %s", strerror(errno));
	for (i = 0; r > 0 && i < n; i++) {
		int ev = 0;
		if (pf[i].revents & (POLLIN | POLLHUP | POLLERR))
			ev |= KP_KUBE_FD_READ;
		if (pf[i].revents & (POLLOUT | POLLERR))
			ev |= KP_KUBE_FD_WRITE;
		if (ev)
			kp_kube_loop_fd_ready(l, pf[i].fd, ev);
	}
	kp_kube_loop_tick(l);
	return KP_OK;
}

/* ---- watch ---- */

static int queue_event(void *ud, enum kp_watch_type type, json_t *obj)
{
	struct kp_watch *w = ud;
	struct pending *e;

	if (type == KP_WATCH_ERROR) {
		json_t *jc = json_object_get(obj, "code");
		const char *reason = json_string_value(json_object_get(obj, "reason"));
		const char *msg = json_string_value(json_object_get(obj, "message"));
		w->ev_error = true;
		w->ev_status.code = json_is_integer(jc) ? (long)json_integer_value(jc) : 500;
		w->ev_status.retry_after_ms = -1;
		snprintf(w->ev_status.reason, sizeof(w->ev_status.reason), "%s", reason ? reason : "");
		snprintf(w->ev_status.message, sizeof(w->ev_status.message), "%s", msg ? msg : "");
		return 1;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		w->parse_rc = KP_ERR_NOMEM;
		snprintf(w->parse_msg, sizeof(w->parse_msg), "out of memory");
		return 1;
	}
	e->type = type;
	e->obj = json_incref(obj);
	if (w->q_tail)
		w->q_tail->next = e;
	else
		w->q_head = e;
	w->q_tail = e;
	return 0;
}

static size_t watch_write(char *p, size_t sz, size_t n, void *ud)
{
	struct kp_watch *w = ud;
	size_t len = sz * n;
	struct kp_errbuf eb = { 0 };

	if (w->dead || w->ev_error || w->parse_rc)
		return 0;
	if (!w->http_code)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->http_code);
	if (w->http_code != 200) {
		if (kp_buf_add(&w->errbody, p, len) == KP_OK)
			return len;
		return len;   /* keep what fits; the Status is at the start */
	}
	if (kp_watch_parser_feed(&w->parser, p, len, &eb)) {
		w->parse_rc = eb.code ? eb.code : KP_ERR_INVALID;
		snprintf(w->parse_msg, sizeof(w->parse_msg), "%.255s", eb.msg);
		return 0;
	}
	return w->parser.stopped ? 0 : len;
}

kp_err kp_watch_start(struct kp_kube_loop *l, const struct kp_kube_res *r, const struct kp_watch_opts *o,
		      kp_watch_event_fn fn, kp_watch_done_fn done, void *ud, struct kp_watch **out,
		      struct kp_errbuf *eb)
{
	struct kp_watch_opts def = { 0 };
	struct kp_kube_client *c = l->c;
	struct kp_watch *w;
	struct kp_buf q;
	char path[1024], tmo[32];
	kp_err rc;

	*out = NULL;
	if (!o)
		o = &def;
	rc = kp_kube_path(r, o->ns, NULL, NULL, path, sizeof(path), eb);
	if (rc)
		return rc;
	kp_buf_init(&q, KP_KUBE_MAX_URL);
	rc = kp_buf_addstr(&q, path);
	if (!rc)
		rc = kp_kube__query_add(&q, "watch", "1");
	if (!rc && o->resource_version && *o->resource_version)
		rc = kp_kube__query_add(&q, "resourceVersion", o->resource_version);
	if (!rc && o->bookmarks)
		rc = kp_kube__query_add(&q, "allowWatchBookmarks", "true");
	if (!rc && o->timeout_s > 0) {
		snprintf(tmo, sizeof(tmo), "%d", o->timeout_s);
		rc = kp_kube__query_add(&q, "timeoutSeconds", tmo);
	}
	if (!rc && o->label_selector && *o->label_selector)
		rc = kp_kube__query_add(&q, "labelSelector", o->label_selector);
	if (!rc && o->field_selector && *o->field_selector)
		rc = kp_kube__query_add(&q, "fieldSelector", o->field_selector);
	if (rc) {
		kp_buf_free(&q);
		return kp_errf(eb, rc, "watch %s: query too long", path);
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		kp_buf_free(&q);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	w->loop = l;
	w->fn = fn;
	w->done = done;
	w->ud = ud;
	snprintf(w->path, sizeof(w->path), "%.127s", path);
	kp_watch_parser_init(&w->parser, 0, queue_event, w);
	kp_buf_init(&w->errbody, MAX_ERROR_BODY);
	if (o->resource_version && strlen(o->resource_version) < sizeof(w->parser.rv))
		memcpy(w->parser.rv, o->resource_version, strlen(o->resource_version) + 1);

	kp_kube__throttle(c);
	rc = kp_kube__auth_refresh(c, false, eb);
	if (rc) {
		kp_err_prefix(eb, "watch %s: credentials", path);
		goto fail;
	}
	w->h = curl_easy_init();
	if (!w->h) {
		rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		goto fail;
	}
	rc = kp_kube__setup_easy(c, w->h, "GET", q.data, NULL, &w->hdrs, eb);
	if (rc)
		goto fail;
	curl_easy_setopt(w->h, CURLOPT_ERRORBUFFER, w->cerr);
	curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(w->h, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->h, CURLOPT_PRIVATE, w);
	/* a dead connection must not hang a watch forever: server timeout plus a minute */
	if (o->timeout_s > 0)
		curl_easy_setopt(w->h, CURLOPT_TIMEOUT_MS, (long)(o->timeout_s + 60) * 1000L);
	c->requests++;
	if (curl_multi_add_handle(l->multi, w->h) != CURLM_OK) {
		rc = kp_errf(eb, KP_ERR_IO, "watch %s: cannot add to the loop", path);
		goto fail;
	}
	kp_buf_free(&q);
	w->next = l->watches;
	l->watches = w;
	*out = w;
	return KP_OK;
fail:
	kp_buf_free(&q);
	if (w->h) {
		curl_easy_cleanup(w->h);
		w->h = NULL;
	}
	watch_destroy(w);
	return rc;
}

void kp_watch_stop(struct kp_watch *w)
{
	struct kp_kube_loop *l;
	if (!w)
		return;
	l = w->loop;
	w->dead = true;
	w->fn = NULL;
	w->done = NULL;
	queue_clear(w);
	if (l->in_curl || l->in_dispatch)
		return;   /* reaped by dispatch() */
	watch_unlink(w);
	watch_destroy(w);
}

const char *kp_watch_rv(const struct kp_watch *w)
{
	return w->parser.rv;
}
