/*
 * util.c - small helpers of the controller: JSON paths into API objects,
 * status conditions (operatorpkg's shape: type, status, reason, message,
 * lastTransitionTime, observedGeneration), resource lists, events, the
 * keyed work queue and the insufficient-capacity cache.
 *
 * Invariants: the work queue holds each key once with its earliest due
 * time and visits due keys in key order (deterministic), for at most
 * QUEUE_SLICE_MS per pass (the rest stay due for the next loop turn, and
 * the next pass starts after the last key visited); a reconcile may re-add
 * its own key. The ICE cache holds at most 4096 entries, expired
 * ones are reused first. Cost: JSON paths O(depth); queue add O(n); queue
 * pass O(n log n); ICE lookups O(entries).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctrl/ctrl_int.h"
#include "karpenter/quantity.h"

#define ICE_MAX 4096
#define QUEUE_MAX 100000
/* One queue pass visits due keys for at most this long, then yields the
 * loop thread: the Lease renewal (src/kube/lease.c) and watch dispatch
 * share it, and 50 new NodeClaims' lifecycle visits (blocking API calls)
 * held it 3 s at load 10, past a 2 s retry period. */
#define QUEUE_SLICE_MS 100

json_t *kp_ctrl__reslist(const struct kp_resnames *rn, const struct kp_res *r)
{
	json_t *o = json_object();

	for (int k = 0; o && k < rn->n && k < KP_RES_MAX; k++) {
		char q[64];
		if (!r->v[k] || !rn->name[k][0])
			continue;
		kp_qty_format(r->v[k], kp_res_scale(k), kp_res_style(rn, k), q, sizeof(q));
		json_object_set_new(o, rn->name[k], json_string(q));
	}
	return o;
}

void kp_ctrl__event(struct kp_ctrl *c, const char *kind, const char *api_version, const char *ns, const char *name,
	       const char *uid, const char *type, const char *reason, const char *note)
{
	struct kp_errbuf eb = { 0 };
	struct kp_kube_event ev = { 0 };
	json_t *meta = json_pack("{s:s}", "name", name), *reg;

	if (!meta)
		return;
	if (ns)
		json_object_set_new(meta, "namespace", json_string(ns));
	if (uid)
		json_object_set_new(meta, "uid", json_string(uid));
	reg = json_pack("{s:s, s:s, s:o}", "kind", kind, "apiVersion", api_version, "metadata", meta);
	if (!reg)
		return;
	ev.regarding = reg;
	ev.type = type;
	ev.reason = reason;
	ev.note = note;
	ev.reporting_controller = "karpenter";
	ev.reporting_instance = c->identity;
	ev.use_core = true;
	if (kp_kube_event_emit(c->kc, &ev, NULL, &eb))
		kp_log_debug(&c->log, "failed to emit event",
			     KP_LOG_FIELDS(kp_log_str("reason", reason), kp_log_errmsg(eb.msg)));
	json_decref(reg);
}

/* ---- work queue ---- */

static void queue_arm(struct kp_ctrl__queue *q);

/* Real milliseconds since *t0 (the slice is CPU/wall time on this thread,
 * whatever clock the controller's due times use). */
static int64_t mono_since_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kp_ctrl__item *)a)->key, ((const struct kp_ctrl__item *)b)->key);
}

static void queue_fire(void *ud)
{
	struct kp_ctrl__queue *q = ud;
	struct kp_ctrl *c = q->c;
	int64_t now = kp_ctrl__now(c);
	struct kp_ctrl__item *due = NULL;
	int ndue = 0;

	if (!c->controllers_on)
		return;   /* re-armed when the controllers start */
	for (int i = 0; i < q->n; i++)
		ndue += q->items[i].due_ms <= now;
	if (ndue)
		due = malloc((size_t)ndue * sizeof(*due));
	if (due) {
		int j = 0, k = 0;
		for (int i = 0; i < q->n; i++) {
			if (q->items[i].due_ms <= now)
				due[j++] = q->items[i];
			else
				q->items[k++] = q->items[i];
		}
		q->n = k;
		qsort(due, (size_t)ndue, sizeof(*due), item_cmp);
		/* after a pass cut short, start past the last key visited (round
		 * robin): a key that is due again at once must not starve the rest */
		int first = 0;
		while (q->resume[0] && first < ndue && strcmp(due[first].key, q->resume) <= 0)
			first++;
		if (first == ndue)
			first = 0;
		q->resume[0] = '\0';
		q->running = true;
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int n = 0; n < ndue && !atomic_load(&c->stop); n++) {
			int i = (first + n) % ndue;
			if (n > 0 && mono_since_ms(&t0) >= QUEUE_SLICE_MS) {
				/* the rest stay due and run on the next loop turn,
				 * after the timers already due (the Lease renewal) */
				int last = (first + n - 1) % ndue;
				memcpy(q->resume, due[last].key, strlen(due[last].key) + 1);
				for (; n < ndue; n++)
					kp_ctrl__queue_add(q, due[(first + n) % ndue].key, 0);
				break;
			}
			int64_t again = q->fn(c, due[i].key);
			if (again >= 0)
				kp_ctrl__queue_add(q, due[i].key, again);
		}
		q->running = false;
		free(due);
	}
	queue_arm(q);
}

static void queue_arm(struct kp_ctrl__queue *q)
{
	int64_t first = INT64_MAX, now = kp_ctrl__now(q->c);

	if (q->running)
		return;
	for (int i = 0; i < q->n; i++)
		if (q->items[i].due_ms < first)
			first = q->items[i].due_ms;
	if (first == INT64_MAX) {
		kp_kube_timer_stop(q->c->loop, &q->timer);
		return;
	}
	kp_kube_timer_start(q->c->loop, &q->timer, first > now ? first - now : 0, queue_fire, q);
}

void kp_ctrl__queue_init(struct kp_ctrl__queue *q, struct kp_ctrl *c, const char *name, kp_ctrl__reconcile_fn fn)
{
	memset(q, 0, sizeof(*q));
	q->c = c;
	q->name = name;
	q->fn = fn;
}

void kp_ctrl__queue_add(struct kp_ctrl__queue *q, const char *key, int64_t delay_ms)
{
	int64_t due = kp_ctrl__now(q->c) + (delay_ms > 0 ? delay_ms : 0);

	if (strlen(key) >= KPC_KEY_MAX)
		return;
	for (int i = 0; i < q->n; i++) {
		if (strcmp(q->items[i].key, key) == 0) {
			if (due < q->items[i].due_ms) {
				q->items[i].due_ms = due;
				queue_arm(q);
			}
			return;
		}
	}
	if (q->n == q->cap) {
		int ncap = q->cap ? q->cap * 2 : 64;
		struct kp_ctrl__item *ni;
		if (ncap > QUEUE_MAX || !(ni = realloc(q->items, (size_t)ncap * sizeof(*ni)))) {
			kp_log_error(&q->c->log, "work queue full, dropping key",
				     KP_LOG_FIELDS(kp_log_str("queue", q->name), kp_log_str("key", key)));
			return;
		}
		q->items = ni;
		q->cap = ncap;
	}
	memcpy(q->items[q->n].key, key, strlen(key) + 1);
	q->items[q->n].due_ms = due;
	q->n++;
	queue_arm(q);
}

void kp_ctrl__queue_free(struct kp_ctrl__queue *q)
{
	if (q->c && q->c->loop)
		kp_kube_timer_stop(q->c->loop, &q->timer);
	free(q->items);
	q->items = NULL;
	q->n = q->cap = 0;
}

/* ---- insufficient-capacity cache ---- */

static bool ice_match(const struct kp_ctrl__ice_entry *e, const char *itype, const char *zone, int captype)
{
	return e->captype == captype && strcmp(e->itype, itype) == 0 && strcmp(e->zone, zone ? zone : "") == 0;
}

void kp_ctrl__ice_mark(struct kp_ctrl__ice *ice, const char *itype, const char *zone, int captype, int64_t now_ms)
{
	struct kp_ctrl__ice_entry *slot = NULL;

	for (int i = 0; i < ice->n; i++) {
		if (ice_match(&ice->e[i], itype, zone, captype) || ice->e[i].until_ms <= now_ms) {
			slot = &ice->e[i];
			if (ice_match(slot, itype, zone, captype))
				break;
		}
	}
	if (!slot) {
		if (ice->n == ice->cap) {
			int ncap = ice->cap ? ice->cap * 2 : 64;
			struct kp_ctrl__ice_entry *ne;
			if (ncap > ICE_MAX || !(ne = realloc(ice->e, (size_t)ncap * sizeof(*ne))))
				return;
			ice->e = ne;
			ice->cap = ncap;
		}
		slot = &ice->e[ice->n++];
	}
	snprintf(slot->itype, sizeof(slot->itype), "%s", itype);
	snprintf(slot->zone, sizeof(slot->zone), "%s", zone ? zone : "");
	slot->captype = captype;
	slot->until_ms = now_ms + ice->ttl_ms;
}

bool kp_ctrl__ice_has(const struct kp_ctrl__ice *ice, const char *itype, const char *zone, int captype, int64_t now_ms)
{
	for (int i = 0; i < ice->n; i++)
		if (ice->e[i].until_ms > now_ms && ice_match(&ice->e[i], itype, zone, captype))
			return true;
	return false;
}

bool kp_ctrl__ice_expired_since(const struct kp_ctrl__ice *ice, int64_t since_ms, int64_t now_ms)
{
	for (int i = 0; i < ice->n; i++)
		if (ice->e[i].until_ms > since_ms && ice->e[i].until_ms <= now_ms)
			return true;
	return false;
}

bool kp_ctrl__ice_hidden(void *ctx, const struct kp_itype *it, const struct kp_offering *o)
{
	const struct kp_ctrl__ice_ctx *x = ctx;
	return kp_ctrl__ice_has(x->ice, it->name, o->zone, (int)o->captype, x->now_ms);
}

void kp_ctrl__ice_free(struct kp_ctrl__ice *ice)
{
	free(ice->e);
	ice->e = NULL;
	ice->n = ice->cap = 0;
}

/* ---- pods and finalizers (shared by the loops) ---- */

bool kp_ctrl__pod_terminal(const json_t *pod)
{
	const char *ph = kp_ctrl__jstr(pod, "status.phase");
	return ph && (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0);
}

bool kp_ctrl__pod_daemon(const json_t *pod)
{
	json_t *o;
	size_t i;

	json_array_foreach(kp_ctrl__jget(pod, "metadata.ownerReferences"), i, o)
		if (kp_strcmp0(json_string_value(json_object_get(o, "kind")), "DaemonSet") == 0)
			return true;
	return false;
}

int kp_ctrl__drop_termination_finalizer(void *ud, json_t *obj, struct kp_errbuf *eb)
{
	(void)ud;
	(void)eb;
	return kp_kobj_remove_finalizer(obj, KPC_TERMINATION_FINALIZER) ? 0 : 1;
}
