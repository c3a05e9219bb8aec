/*
 * fake.c - the simulated cloud (see fake.h): instances in memory that boot
 * on a clock, with offering choice as the AWS and kwok providers make it,
 * fault injection for tests, a poll hook for `karpenter up`, and its state
 * saved to and restored from JSON (with a change hook that lets `up` save
 * it before a create or delete returns).
 *
 * Choosing an offering for a NodeClaim (create):
 *   1. candidates: the claim's node.kubernetes.io/instance-type values (or
 *      every catalog type the requirement allows, or all when it is absent)
 *      that exist in the catalog, whose requirements are compatible with the
 *      claim's (kp_reqs_compatible: arch, os, zone, capacity type, any
 *      label) and whose allocatable fits the claim's resource requests;
 *   2. the capacity type: the first of reserved, spot, on-demand that the
 *      claim allows and for which some candidate has an available
 *      compatible offering (AWS's getCapacityType order);
 *   3. the offering: the cheapest available compatible offering of that
 *      capacity type over all candidates, ties by type name then zone.
 *      AWS asks CreateFleet for price-capacity-optimized spot and
 *      lowest-price on-demand; without capacity pools to weigh, both are
 *      lowest price here, which is also what kwok does (minus its random
 *      tie break).
 *   Injected insufficient capacity makes an offering unavailable, and a
 *   counted capacity reservation with no instance left is skipped, so step
 *   3 falls back to the next one (a reservation used up falls back to spot,
 *   then on-demand, when the claim allows them); nothing left is INSUFFICIENT_CAPACITY, as is
 *   a claim with no candidate at all (AWS filters those out the same way).
 *
 * Invariants: recs is sorted by provider id, with unique provider ids
 * (create also never reuses a live instance id); a record's strings and
 * label array live in its one blob and never change (only times, flags and
 * drift do); states are never stored, always computed from the clock
 * (rec_state); apart from restore replacing the whole table, a record
 * leaves it only when TERMINATED, not in flight with a poll callback, and
 * not owing a TERMINATED report (reported RUNNING, TERMINATED not yet).
 * The view catalog shares everything with the borrowed one except its
 * offering arrays, whose availability follows the ICE rules. One mutex
 * guards all of it; poll callbacks run without it.
 *
 * Cost: get, delete, drift are O(log n); create is O(candidates x
 * offerings) plus O(n) to check the id and insert; list and poll are O(n);
 * the first create or instance_types after an ICE rule changes is
 * O(offerings x rules), later ones O(1). Save and restore are O(state).
 */
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloud/fake.h"

#define FAKE_STATE_KIND "karpenter-c/fake-cloud"
#define FAKE_STATE_VERSION 1
#define FAKE_NAME_MAX 128
#define FAKE_MSG_MAX 256
#define FAKE_DRIFT_MAX 256
#define FAKE_MAX_INSTANCES 1000000
#define FAKE_NOPS 6
#define FAKE_MAX_SUBNETS 64
#define FAKE_MAX_CLASSES 64
#define FAKE_ALL_ZONES (~(uint64_t)0)

struct ice_rule {
	char itype[FAKE_NAME_MAX];            /* "" = any */
	char zone[FAKE_NAME_MAX];             /* "" = any */
	int captype;                          /* -1 = any */
};

struct fault_rule {
	unsigned ops;                         /* KP_CLOUD_FAKE_OP_* mask */
	int count;                            /* uses left; < 0 = unlimited */
	enum kp_cloud_err err;
	char msg[FAKE_MSG_MAX];               /* "" = default */
};

struct rec {
	struct kp_instance inst;              /* strings and labels in blob; state unused */
	void *blob;
	char id[24];                          /* "i-" + 17 hex */
	int64_t created_ms;
	int64_t running_ms;                   /* KP_NEVER = never boots */
	int64_t terminated_ms;                /* meaningful when deleting */
	bool deleting;
	bool reported_running, reported_terminated;
	bool inflight;                        /* an event for it is with a poll callback */
	char drift[FAKE_DRIFT_MAX];           /* "" = not drifted */
};

/* An EC2NodeClass seen by nodeclass_reconcile: the zones of the subnets its
 * subnetSelectorTerms select (bits over zone[]) and its own view catalog
 * (offerings outside those zones unavailable). A view replaced after a spec
 * change is kept in retired until the cloud is destroyed, as callers may
 * still hold it. */
struct fake_class {
	char name[FAKE_NAME_MAX];
	uint64_t zones;
	struct kp_catalog *view;
	unsigned view_gen;
};

struct fake {
	struct kp_cloud cloud;
	pthread_mutex_t mu;
	const struct kp_catalog *cat;         /* borrowed */
	struct kp_catalog view;               /* what instance_types returns */
	unsigned ice_gen, view_gen;           /* view is current when equal */
	const struct kp_resnames *rn;         /* names for saved resources */
	struct kp_resnames own_rn;
	int64_t launch_delay_ms, terminate_delay_ms;
	kp_cloud_fake_clock_fn clock;
	void *clock_arg;
	uint64_t rng;
	char cluster[FAKE_NAME_MAX];
	char image_id[FAKE_NAME_MAX];         /* "" = derived from arch */
	int n, cap;
	struct rec **recs;                    /* sorted by provider id */
	unsigned table_gen;                   /* bumped when restore swaps the table */
	int nice, nfaults;
	struct ice_rule ice[KP_CLOUD_FAKE_MAX_ICE];
	struct fault_rule faults[KP_CLOUD_FAKE_MAX_FAULTS];
	int next_boot_count;
	int64_t next_boot_extra_ms;
	int calls[FAKE_NOPS];
	kp_cloud_fake_change_fn on_change;    /* persistence hook (karpenter up); NULL = none */
	void *on_change_arg;
	int nsubnets;                         /* subnets, one per zone; 0 = every zone */
	const char *subnet_zone[FAKE_MAX_SUBNETS];
	int nzones;                           /* the catalog's zones, sorted (at most 64 counted) */
	const char *zone[FAKE_MAX_SUBNETS];
	int nclasses;
	struct fake_class classes[FAKE_MAX_CLASSES];
	int nretired;
	struct kp_catalog **retired;
};


static const struct kp_cloud_ops fake_ops;
static bool copy_name(char *dst, size_t n, const char *s);

static struct fake *fake_of(struct kp_cloud *cp)
{
	return cp->impl;
}

/* ---- small helpers ---- */

static int64_t real_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t fake_clock(const struct fake *f)
{
	return f->clock ? f->clock(f->clock_arg) : real_clock_ms();
}

/* a + b for non-negative b, saturating at KP_NEVER. */
static int64_t add_sat(int64_t a, int64_t b)
{
	if (a == KP_NEVER || b == KP_NEVER || (b > 0 && a > KP_NEVER - b))
		return KP_NEVER;
	return a + b;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* splitmix64: a bijection of the counter, so ids never repeat. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void lock(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
}

static void unlock(struct fake *f)
{
	pthread_mutex_unlock(&f->mu);
}

/* ---- records ---- */

static enum kp_instance_state rec_state(const struct rec *r, int64_t now)
{
	if (r->deleting)
		return now >= r->terminated_ms ? KP_INSTANCE_TERMINATED : KP_INSTANCE_TERMINATING;
	return now >= r->running_ms ? KP_INSTANCE_RUNNING : KP_INSTANCE_PENDING;
}

static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static const char *blob_put(char **p, const char *s)
{
	size_t n;
	char *at = *p;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	memcpy(at, s, n);
	*p += n;
	return at;
}

/* A record holding a copy of src in one malloc'ed blob; NULL when out of memory. */
static struct rec *rec_new(const struct kp_instance *src)
{
	const struct kp_labels *l = &src->labels;
	size_t size = (size_t)l->n * sizeof(struct kp_kv);
	struct rec *r;
	struct kp_kv *kv;
	char *p;

	size += str_size(src->provider_id) + str_size(src->nodeclaim) + str_size(src->nodepool) +
		str_size(src->instance_type) + str_size(src->zone) + str_size(src->image_id);
	for (int i = 0; i < l->n; i++)
		size += str_size(l->kv[i].key) + str_size(l->kv[i].value);
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->blob = malloc(size ? size : 1);
	if (!r->blob) {
		free(r);
		return NULL;
	}
	r->inst = *src;
	kv = r->blob;
	p = (char *)r->blob + (size_t)l->n * sizeof(struct kp_kv);
	for (int i = 0; i < l->n; i++) {
		kv[i].key = blob_put(&p, l->kv[i].key);
		kv[i].value = blob_put(&p, l->kv[i].value);
	}
	r->inst.labels.kv = l->n ? kv : NULL;
	r->inst.labels.n = r->inst.labels.cap = l->n;
	r->inst.provider_id = blob_put(&p, src->provider_id);
	r->inst.nodeclaim = blob_put(&p, src->nodeclaim);
	r->inst.nodepool = blob_put(&p, src->nodepool);
	r->inst.instance_type = blob_put(&p, src->instance_type);
	r->inst.zone = blob_put(&p, src->zone);
	r->inst.image_id = blob_put(&p, src->image_id);
	return r;
}

static void rec_free(struct rec *r)
{
	if (!r)
		return;
	free(r->blob);
	free(r);
}

/* Index of provider id pid in recs, or -(insertion point) - 1. */
static int rec_find(const struct rec *const *recs, int n, const char *pid)
{
	int lo = 0, hi = n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(recs[mid]->inst.provider_id, pid);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -lo - 1;
}

/* The live (not TERMINATED) record for pid, or NULL. */
static struct rec *rec_live(struct fake *f, const char *pid, int64_t now)
{
	int i;

	if (!pid || !*pid)
		return NULL;
	i = rec_find((const struct rec *const *)f->recs, f->n, pid);
	if (i < 0 || rec_state(f->recs[i], now) == KP_INSTANCE_TERMINATED)
		return NULL;
	return f->recs[i];
}

static kp_err rec_insert(struct fake *f, struct rec *r)
{
	int at = rec_find((const struct rec *const *)f->recs, f->n, r->inst.provider_id);

	if (at >= 0)
		return KP_ERR_INVALID;
	at = -at - 1;
	if (f->n == f->cap) {
		int cap = f->cap ? f->cap * 2 : 16;
		struct rec **t;

		if (f->cap > FAKE_MAX_INSTANCES)
			return KP_ERR_LIMIT;
		t = realloc(f->recs, (size_t)cap * sizeof(*t));
		if (!t)
			return KP_ERR_NOMEM;
		f->recs = t;
		f->cap = cap;
	}
	memmove(&f->recs[at + 1], &f->recs[at], (size_t)(f->n - at) * sizeof(*f->recs));
	f->recs[at] = r;
	f->n++;
	return KP_OK;
}

static bool id_in_use(const struct fake *f, const char *id)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->recs[i]->id, id) == 0)
			return true;
	return false;
}

/* Forgets terminated records that owe no report. */
static void prune(struct fake *f, int64_t now)
{
	int w = 0;

	for (int i = 0; i < f->n; i++) {
		struct rec *r = f->recs[i];

		if (rec_state(r, now) == KP_INSTANCE_TERMINATED && !r->inflight &&
		    (!r->reported_running || r->reported_terminated)) {
			rec_free(r);
			continue;
		}
		f->recs[w++] = r;
	}
	f->n = w;
}

static enum kp_cloud_err copy_out(const struct rec *r, int64_t now, struct kp_arena *a, struct kp_instance *out,
				  struct kp_errbuf *eb)
{
	if (kp_instance_copy(out, a, &r->inst))
		return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "instance %s: out of memory", r->inst.provider_id);
	out->state = rec_state(r, now);
	return KP_CLOUD_OK;
}

/* ---- fault injection ---- */

static int op_index(unsigned op)
{
	for (int i = 0; i < FAKE_NOPS; i++)
		if (op == 1u << i)
			return i;
	return 0;
}

/* Counts the call, then applies the first matching failure rule. */
static enum kp_cloud_err fault_check(struct fake *f, unsigned op, const char *what, struct kp_errbuf *eb)
{
	f->calls[op_index(op)]++;
	for (int i = 0; i < f->nfaults; i++) {
		struct fault_rule *r = &f->faults[i];
		enum kp_cloud_err err = r->err;

		if (!(r->ops & op) || r->count == 0)
			continue;
		if (r->msg[0])
			kp_cloud_errf(eb, err, "%s: %s", what, r->msg);
		else
			kp_cloud_errf(eb, err, "%s: injected %s", what, kp_cloud_err_str(err));
		if (r->count > 0 && --r->count == 0) {
			memmove(&f->faults[i], &f->faults[i + 1], (size_t)(f->nfaults - i - 1) * sizeof(*f->faults));
			f->nfaults--;
		}
		return err;
	}
	return KP_CLOUD_OK;
}

static bool iced(const struct fake *f, const char *itype, const struct kp_offering *o)
{
	for (int i = 0; i < f->nice; i++) {
		const struct ice_rule *r = &f->ice[i];

		if ((!r->itype[0] || strcmp(r->itype, itype) == 0) &&
		    (!r->zone[0] || (o->zone && strcmp(r->zone, o->zone) == 0)) &&
		    (r->captype < 0 || r->captype == (int)o->captype))
			return true;
	}
	return false;
}

/* ---- change hook (karpenter up's persistence; see fake.h) ---- */

/* Calls the hook, without the lock, after a successful create or delete;
 * a hook that cannot persist the change turns the call into a transient
 * error (the caller retries, and finds the instance by its tag). */
static enum kp_cloud_err notify_change(struct fake *f, enum kp_cloud_fake_change what, struct kp_errbuf *eb)
{
	kp_cloud_fake_change_fn fn;
	void *arg;

	lock(f);
	fn = f->on_change;
	arg = f->on_change_arg;
	unlock(f);
	if (fn && fn(arg, &f->cloud, what) != 0)
		return kp_cloud_errf(eb, KP_CLOUD_TRANSIENT, "%s: the change could not be saved",
				     what == KP_CLOUD_FAKE_CHANGED_CREATE ? "create" : "delete");
	return KP_CLOUD_OK;
}

void kp_cloud_fake_set_change_hook(struct kp_cloud *cp, kp_cloud_fake_change_fn fn, void *arg)
{
	struct fake *f = fake_of(cp);

	lock(f);
	f->on_change = fn;
	f->on_change_arg = arg;
	unlock(f);
}

/* ---- the view catalog ---- */

/* The simulated VPC: one subnet in each of the first opts.subnet_zones
 * zones (sorted) of the catalog, three by default, as an EKS cluster's
 * VPC usually has. A zone without a subnet cannot launch (the AWS
 * provider intersects offering zones with the EC2NodeClass's subnet zones),
 * so its offerings are unavailable in the view and the scheduler never
 * plans there. */
static int zone_cmp(const void *a, const void *b)
{
	return kp_strcmp0(*(const char *const *)a, *(const char *const *)b);
}

static void subnets_build(struct fake *f, int want)
{
	const char *z[FAKE_MAX_SUBNETS];
	int n = 0;

	f->nsubnets = 0;
	if (want <= 0)
		return;
	for (int i = 0; i < f->cat->n; i++)
		for (int j = 0; j < f->cat->types[i]->noff; j++) {
			const char *zone = f->cat->types[i]->off[j].zone;
			bool seen = !zone;
			for (int k = 0; k < n && !seen; k++)
				seen = strcmp(z[k], zone) == 0;
			if (!seen && n < FAKE_MAX_SUBNETS)
				z[n++] = zone;
		}
	qsort(z, (size_t)n, sizeof(*z), zone_cmp);
	memcpy(f->zone, z, (size_t)n * sizeof(*z));
	f->nzones = n;
	if (n <= want)
		return;   /* a subnet in every zone: nothing to restrict */
	for (int k = 0; k < want && k < FAKE_MAX_SUBNETS; k++)
		f->subnet_zone[f->nsubnets++] = z[k];
}

static bool has_subnet(const struct fake *f, const char *zone)
{
	if (f->nsubnets == 0)
		return true;
	for (int k = 0; zone && k < f->nsubnets; k++)
		if (strcmp(f->subnet_zone[k], zone) == 0)
			return true;
	return false;
}

/* Each view type is a shallow copy of a catalog type with its own offering
 * array of 2 x noff entries: [0, noff) is what callers see, [noff, 2 noff)
 * keeps the catalog's availability to recompute from. */
static int zone_index(const struct fake *f, const char *zone)
{
	for (int k = 0; zone && k < f->nzones; k++)
		if (strcmp(f->zone[k], zone) == 0)
			return k;
	return -1;
}

/* A zone a view with class zones mask may launch in. */
static bool zone_open(const struct fake *f, const char *zone, uint64_t mask)
{
	int k;

	if (!has_subnet(f, zone))
		return false;
	if (mask == FAKE_ALL_ZONES)
		return true;
	k = zone_index(f, zone);
	return k >= 0 && (mask >> k & 1);
}

static kp_err view_build_mask(struct fake *f, struct kp_catalog *v, uint64_t mask)
{

	kp_catalog_init(v);
	v->name = f->cat->name;
	v->region = f->cat->region;
	for (int i = 0; i < f->cat->n; i++) {
		const struct kp_itype *src = f->cat->types[i];
		struct kp_itype *t = kp_arena_memdup(&v->arena, src, sizeof(*src));

		if (!t)
			return KP_ERR_NOMEM;
		if (src->noff > 0) {
			t->off = kp_arena_calloc(&v->arena, 2 * (size_t)src->noff, sizeof(*src->off));
			if (!t->off)
				return KP_ERR_NOMEM;
			memcpy(t->off, src->off, (size_t)src->noff * sizeof(*src->off));
			memcpy(t->off + src->noff, src->off, (size_t)src->noff * sizeof(*src->off));
			for (int j = 0; j < 2 * src->noff; j++)
				if (!zone_open(f, t->off[j].zone, mask))
					t->off[j].available = false;
		}
		if (kp_catalog_add(v, t))
			return KP_ERR_NOMEM;
	}
	kp_catalog_sort(v);
	return KP_OK;
}

static kp_err view_build(struct fake *f)
{
	kp_err rc = view_build_mask(f, &f->view, FAKE_ALL_ZONES);

	f->view_gen = f->ice_gen + 1;   /* refreshed on first use (restore may add rules) */
	return rc;
}

/* Brings availability in view v up to date with the ICE rules. */
static void view_refresh_one(struct fake *f, struct kp_catalog *v, unsigned *gen)
{
	if (*gen == f->ice_gen)
		return;
	for (int i = 0; i < v->n; i++) {
		struct kp_itype *t = v->types[i];

		for (int j = 0; j < t->noff; j++)
			t->off[j].available = t->off[t->noff + j].available && !iced(f, t->name, &t->off[j]);
	}
	*gen = f->ice_gen;
}

static void view_refresh(struct fake *f)
{
	view_refresh_one(f, &f->view, &f->view_gen);
}

static struct fake_class *class_find(struct fake *f, const char *name)
{
	for (int i = 0; name && i < f->nclasses; i++)
		if (strcmp(f->classes[i].name, name) == 0)
			return &f->classes[i];
	return NULL;
}

/* The view for node class name (refreshed), the cloud's own when the class
 * was never reconciled. */
static const struct kp_catalog *class_view(struct fake *f, const char *name)
{
	struct fake_class *c = class_find(f, name);

	if (!c || !c->view) {
		view_refresh(f);
		return &f->view;
	}
	view_refresh_one(f, c->view, &c->view_gen);
	return c->view;
}

/* ---- create ---- */

struct choice {
	const struct kp_itype *it;
	const struct kp_offering *o;
};

static bool better(const struct kp_itype *it, const struct kp_offering *o, const struct choice *best)
{
	int c;

	if (!best->o)
		return true;
	if (o->price != best->o->price)
		return o->price < best->o->price;
	c = kp_strcmp0(it->name, best->it->name);
	if (c)
		return c < 0;
	return kp_strcmp0(o->zone, best->o->zone) < 0;
}

/* Appends it to cand when compatible with the claim and roomy enough. */
static void consider(const struct kp_itype *it, const struct kp_nodeclaim *claim, const struct kp_itype **cand,
		     int *ncand, int *ncompat)
{
	if (!it || !kp_reqs_compatible(&claim->reqs, &it->reqs, NULL))
		return;
	(*ncompat)++;
	if (kp_res_fits(&claim->requests, &it->allocatable, NULL))
		cand[(*ncand)++] = it;
}

/* A counted capacity reservation (kp_itype_reservation) holds
 * reservationCapacity instances: every instance launched into it that has
 * not TERMINATED uses one, so launching decrements what is left and
 * termination restores it (Karpenter's fake and kwok providers decrement
 * Offering.ReservationCapacity on Create). Uncounted reserved offerings
 * are unlimited. */
static bool reservation_full(const struct fake *f, const struct kp_itype *it, const struct kp_offering *o, int64_t now)
{
	const struct kp_reservation *rv = o->captype == KP_CAP_RESERVED ? kp_itype_reservation(it, o->zone) : NULL;
	int64_t used = 0;

	if (!rv)
		return false;
	for (int i = 0; i < f->n && used < rv->capacity; i++) {
		const struct rec *r = f->recs[i];
		used += r->inst.captype == KP_CAP_RESERVED && rec_state(r, now) != KP_INSTANCE_TERMINATED &&
			kp_strcmp0(r->inst.instance_type, it->name) == 0 && kp_strcmp0(r->inst.zone, o->zone) == 0;
	}
	return used >= rv->capacity;
}

static enum kp_cloud_err choose(struct fake *f, const struct kp_nodeclaim *claim, struct choice *best,
				struct kp_errbuf *eb)
{
	static const enum kp_captype order[] = { KP_CAP_RESERVED, KP_CAP_SPOT, KP_CAP_ON_DEMAND };
	const struct kp_catalog *cat = class_view(f, claim->node_class);
	const struct kp_req *itr = kp_reqs_get(&claim->reqs, KP_LABEL_INSTANCE_TYPE);
	const struct kp_req *ctr = kp_reqs_get(&claim->reqs, KP_LABEL_CAPACITY_TYPE);
	const char *name = claim->name ? claim->name : "(unnamed)";
	const struct kp_itype **cand;
	int ncand = 0, ncompat = 0;
	int64_t now = fake_clock(f);

	memset(best, 0, sizeof(*best));
	cand = malloc((size_t)(cat->n > 0 ? cat->n : 1) * sizeof(*cand));
	if (!cand)
		return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "nodeclaim %s: out of memory", name);
	if (itr && !itr->complement) {
		for (int i = 0; i < itr->n; i++)
			consider(kp_catalog_find(cat, itr->values[i]), claim, cand, &ncand, &ncompat);
	} else {
		for (int i = 0; i < cat->n; i++)
			if (!itr || kp_req_has(itr, cat->types[i]->name))
				consider(cat->types[i], claim, cand, &ncand, &ncompat);
	}

	for (size_t c = 0; c < KP_ARRAY_LEN(order) && !best->o; c++) {
		if (ctr && !kp_req_has(ctr, kp_captype_name(order[c])))
			continue;
		for (int i = 0; i < ncand; i++) {
			const struct kp_itype *it = cand[i];

			for (int j = 0; j < it->noff; j++) {
				const struct kp_offering *o = &it->off[j];

				if (o->captype != order[c] || !o->available || !kp_offering_compatible(o, &claim->reqs) ||
				    reservation_full(f, it, o, now))
					continue;
				if (better(it, o, best)) {
					best->it = it;
					best->o = o;
				}
			}
		}
	}
	free(cand);
	if (best->o)
		return KP_CLOUD_OK;
	if (ncompat == 0)
		return kp_cloud_errf(eb, KP_CLOUD_INSUFFICIENT_CAPACITY,
				     "nodeclaim %s: no instance type in catalog %s is compatible with its requirements",
				     name, cat->name ? cat->name : "(unnamed)");
	if (ncand == 0)
		return kp_cloud_errf(eb, KP_CLOUD_INSUFFICIENT_CAPACITY,
				     "nodeclaim %s: none of %d compatible instance types has room for its requests",
				     name, ncompat);
	return kp_cloud_errf(eb, KP_CLOUD_INSUFFICIENT_CAPACITY,
			     "nodeclaim %s: insufficient capacity: no available offering of %d instance types",
			     name, ncand);
}

/* Labels the Node will carry, lowest precedence first: the claim's labels,
 * its single-value requirements (hostname excepted: the Node names itself),
 * the type's labels, then zone, region, capacity type and nodepool. */
static kp_err build_labels(const struct fake *f, const struct kp_nodeclaim *claim, const struct choice *ch,
			   struct kp_arena *a, struct kp_labels *l)
{
	kp_err rc;

	memset(l, 0, sizeof(*l));
	rc = kp_labels_copy(l, a, &claim->labels);
	for (int i = 0; rc == KP_OK && i < claim->reqs.n; i++) {
		const struct kp_req *r = &claim->reqs.r[i];

		if (!r->complement && r->n == 1 && strcmp(r->key, KP_LABEL_HOSTNAME) != 0)
			rc = kp_labels_set(l, a, r->key, r->values[0]);
	}
	for (int i = 0; rc == KP_OK && i < ch->it->labels.n; i++)
		rc = kp_labels_set(l, a, ch->it->labels.kv[i].key, ch->it->labels.kv[i].value);
	if (rc == KP_OK)
		rc = kp_labels_set(l, a, KP_LABEL_INSTANCE_TYPE, ch->it->name);
	if (rc == KP_OK && ch->o->zone)
		rc = kp_labels_set(l, a, KP_LABEL_ZONE, ch->o->zone);
	if (rc == KP_OK && f->cat->region)
		rc = kp_labels_set(l, a, KP_LABEL_REGION, f->cat->region);
	if (rc == KP_OK)
		rc = kp_labels_set(l, a, KP_LABEL_CAPACITY_TYPE, kp_captype_name(ch->o->captype));
	if (rc == KP_OK && claim->nodepool)
		rc = kp_labels_set(l, a, KP_LABEL_NODEPOOL, claim->nodepool);
	return rc;
}

static const char *image_for(const struct fake *f, const struct kp_itype *it, struct kp_arena *a)
{
	if (f->image_id[0])
		return kp_arena_strdup(a, f->image_id);
	return kp_arena_printf(a, "ami-0%016" PRIx64, fnv1a64(kp_labels_get(&it->labels, KP_LABEL_ARCH)));
}

static enum kp_cloud_err fake_create(struct kp_cloud *cp, const struct kp_nodeclaim *claim, struct kp_arena *a,
				     struct kp_instance *out, struct kp_errbuf *eb)
{
	struct fake *f = fake_of(cp);
	struct kp_instance inst = { 0 };
	struct choice ch;
	struct rec *r = NULL;
	char id[24], pid[320];
	int64_t now, extra = 0;
	enum kp_cloud_err e;

	memset(out, 0, sizeof(*out));
	lock(f);
	e = fault_check(f, KP_CLOUD_FAKE_OP_CREATE, "create", eb);
	if (e)
		goto out;
	if (!claim) {
		e = kp_cloud_errf(eb, KP_CLOUD_CREATE_ERROR, "create: no nodeclaim");
		goto out;
	}
	{
		const struct fake_class *fc = class_find(f, claim->node_class);
		if (fc && fc->zones == 0) {
			e = kp_cloud_errf(eb, KP_CLOUD_NODECLASS_NOT_READY,
					  "nodeclaim %s: EC2NodeClass %s selects no subnet", claim->name ? claim->name : "",
					  fc->name);
			goto out;
		}
	}
	e = choose(f, claim, &ch, eb);
	if (e)
		goto out;
	now = fake_clock(f);
	for (int tries = 0;; tries++) {
		uint64_t x = rng_next(&f->rng);

		snprintf(id, sizeof(id), "i-0%016" PRIx64, x);
		if (!id_in_use(f, id))
			break;
		if (tries == 64) {
			e = kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "create: no free instance id");
			goto out;
		}
	}
	if ((size_t)snprintf(pid, sizeof(pid), "aws:///%s/%s", ch.o->zone ? ch.o->zone : "", id) >= sizeof(pid)) {
		e = kp_cloud_errf(eb, KP_CLOUD_CREATE_ERROR, "create: zone name of %s too long", ch.it->name);
		goto out;
	}
	inst.provider_id = pid;
	inst.nodeclaim = claim->name;
	inst.nodepool = claim->nodepool ? claim->nodepool : kp_labels_get(&claim->labels, KP_LABEL_NODEPOOL);
	inst.instance_type = ch.it->name;
	inst.zone = ch.o->zone;
	inst.captype = ch.o->captype;
	inst.price = ch.o->price;
	inst.image_id = image_for(f, ch.it, a);
	inst.launched = floor_div(now, 1000);
	inst.state = KP_INSTANCE_PENDING;
	inst.capacity = ch.it->capacity;
	inst.allocatable = ch.it->allocatable;
	if (!inst.image_id || build_labels(f, claim, &ch, a, &inst.labels) != KP_OK)
		goto nomem;
	r = rec_new(&inst);
	if (!r)
		goto nomem;
	memcpy(r->id, id, sizeof(id));
	if (f->next_boot_count > 0) {
		extra = f->next_boot_extra_ms;
		f->next_boot_count--;
	}
	r->created_ms = now;
	r->running_ms = add_sat(add_sat(now, f->launch_delay_ms), extra);
	if (rec_insert(f, r) != KP_OK)
		goto nomem;
	e = copy_out(r, now, a, out, eb);
	goto out;
nomem:
	rec_free(r);
	e = kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "create nodeclaim %s: out of memory",
			  claim->name ? claim->name : "(unnamed)");
out:
	unlock(f);
	if (e == KP_CLOUD_OK)
		e = notify_change(f, KP_CLOUD_FAKE_CHANGED_CREATE, eb);
	return e;
}

/* ---- the other operations ---- */

static enum kp_cloud_err fake_delete(struct kp_cloud *cp, const char *provider_id, struct kp_errbuf *eb)
{
	struct fake *f = fake_of(cp);
	struct rec *r;
	int64_t now;
	enum kp_cloud_err e;
	bool changed = false;

	lock(f);
	e = fault_check(f, KP_CLOUD_FAKE_OP_DELETE, "delete", eb);
	if (e)
		goto out;
	now = fake_clock(f);
	r = rec_live(f, provider_id, now);
	if (!r) {
		e = kp_cloud_errf(eb, KP_CLOUD_NOT_FOUND, "delete: instance %s not found", provider_id ? provider_id : "");
		goto out;
	}
	if (!r->deleting) {
		r->deleting = true;
		r->terminated_ms = add_sat(now, f->terminate_delay_ms);
		changed = true;
	}
out:
	unlock(f);
	if (changed)
		e = notify_change(f, KP_CLOUD_FAKE_CHANGED_DELETE, eb);
	return e;
}

static enum kp_cloud_err fake_get(struct kp_cloud *cp, const char *provider_id, struct kp_arena *a,
				  struct kp_instance *out, struct kp_errbuf *eb)
{
	struct fake *f = fake_of(cp);
	struct rec *r;
	int64_t now;
	enum kp_cloud_err e;

	memset(out, 0, sizeof(*out));
	lock(f);
	e = fault_check(f, KP_CLOUD_FAKE_OP_GET, "get", eb);
	if (e)
		goto out;
	now = fake_clock(f);
	r = rec_live(f, provider_id, now);
	if (!r)
		e = kp_cloud_errf(eb, KP_CLOUD_NOT_FOUND, "get: instance %s not found", provider_id ? provider_id : "");
	else
		e = copy_out(r, now, a, out, eb);
out:
	unlock(f);
	return e;
}

static enum kp_cloud_err fake_list(struct kp_cloud *cp, struct kp_arena *a, struct kp_instance **out, int *n,
				   struct kp_errbuf *eb)
{
	struct fake *f = fake_of(cp);
	struct kp_instance *v;
	int64_t now;
	int k = 0;
	enum kp_cloud_err e;

	*out = NULL;
	*n = 0;
	lock(f);
	e = fault_check(f, KP_CLOUD_FAKE_OP_LIST, "list", eb);
	if (e)
		goto out;
	now = fake_clock(f);
	prune(f, now);
	v = kp_arena_calloc(a, (size_t)(f->n > 0 ? f->n : 1), sizeof(*v));
	if (!v) {
		e = kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "list: out of memory");
		goto out;
	}
	for (int i = 0; i < f->n; i++) {
		if (rec_state(f->recs[i], now) == KP_INSTANCE_TERMINATED)
			continue;
		e = copy_out(f->recs[i], now, a, &v[k], eb);
		if (e)
			goto out;
		k++;
	}
	*out = v;
	*n = k;
out:
	unlock(f);
	return e;
}

static enum kp_cloud_err fake_instance_types(struct kp_cloud *cp, const struct kp_nodepool *np,
					     const struct kp_catalog **out, struct kp_errbuf *eb)
{
	struct fake *f = fake_of(cp);
	enum kp_cloud_err e;

	*out = NULL;
	lock(f);
	e = fault_check(f, KP_CLOUD_FAKE_OP_INSTANCE_TYPES, "instance types", eb);
	if (e == KP_CLOUD_OK)
		*out = class_view(f, np ? np->node_class.name : NULL);
	unlock(f);
	return e;
}

static enum kp_cloud_err fake_is_drifted(struct kp_cloud *cp, const struct kp_nodeclaim *claim, char *reason,
					 size_t n, struct kp_errbuf *eb)
{
	struct fake *f = fake_of(cp);
	const char *pid = claim ? claim->provider_id : NULL;
	struct rec *r;
	enum kp_cloud_err e;

	if (reason && n)
		reason[0] = '\0';
	lock(f);
	e = fault_check(f, KP_CLOUD_FAKE_OP_IS_DRIFTED, "is drifted", eb);
	if (e || !pid || !*pid)
		goto out;
	r = rec_live(f, pid, fake_clock(f));
	if (!r)
		e = kp_cloud_errf(eb, KP_CLOUD_NOT_FOUND, "is drifted: instance %s not found", pid);
	else if (reason && n)
		snprintf(reason, n, "%s", r->drift);
out:
	unlock(f);
	return e;
}

/* ---- node classes (subnetSelectorTerms) ---- */

static json_t *cond_json(const char *type, bool ok, const char *reason, const char *msg)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "type", type, "status", ok ? "True" : "False", "reason",
			 ok ? type : reason, "message", ok ? "" : msg);
}

/* The AWS provider's subnet.List for one EC2NodeClass over the simulated
 * VPC (catalog/subnets.c: subnet-<zone>, tagged Name, zone and
 * karpenter.sh/discovery): status.subnets and the SubnetsReady and Ready
 * conditions; the class's pools then see only the selected zones
 * (instance_types) and its NodeClaims launch only there (create). */
static enum kp_cloud_err fake_nodeclass_reconcile(struct kp_cloud *cp, const char *nodeclass_json, char **status,
						  char **conds, struct kp_errbuf *eb)
{
	struct fake *f = fake_of(cp);
	json_t *obj = nodeclass_json ? json_loads(nodeclass_json, 0, NULL) : NULL;
	json_t *terms, *subnets = json_array(), *st = NULL, *cj = json_array();
	const char *name = obj ? json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")) : NULL;
	struct kp_arena a;
	struct kp_nodeclass nc = { 0 };
	enum kp_cloud_err e = KP_CLOUD_OK;
	uint64_t mask = 0;
	size_t i;
	json_t *t;

	*status = NULL;
	*conds = NULL;
	kp_arena_init(&a);
	if (!obj || !name || !subnets || !cj) {
		e = kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "nodeclass: not a named object");
		goto out;
	}
	terms = json_object_get(json_object_get(obj, "spec"), "subnetSelectorTerms");
	nc.name = name;
	nc.subnet_terms = kp_arena_calloc(&a, json_array_size(terms) + 1, sizeof(*nc.subnet_terms));
	if (!nc.subnet_terms)
		goto nomem;
	json_array_foreach(terms, i, t) {
		struct kp_subnet_term *term = &nc.subnet_terms[nc.nsubnet_terms];
		json_t *tags = json_object_get(t, "tags");
		const char *k;
		json_t *v;

		term->id = json_string_value(json_object_get(t, "id"));
		json_object_foreach(tags, k, v)
			if (json_is_string(v) && kp_labels_set(&term->tags, &a, k, json_string_value(v)))
				goto nomem;
		if (term->id || term->tags.n)
			nc.nsubnet_terms++;
	}
	lock(f);
	for (int k = 0; k < f->nzones && k < 64; k++) {
		if (!has_subnet(f, f->zone[k]) || !kp_subnet_zone_selected(&nc, f->zone[k]) ||
		    nc.nsubnet_terms == 0)
			continue;
		mask |= (uint64_t)1 << k;
		if (json_array_append_new(subnets, json_pack("{s:s+, s:s}", "id", "subnet-", f->zone[k], "zone",
							     f->zone[k]))) {
			unlock(f);
			goto nomem;
		}
	}
	{
		struct fake_class *c = class_find(f, name);
		if (!c && f->nclasses < FAKE_MAX_CLASSES) {
			c = &f->classes[f->nclasses++];
			memset(c, 0, sizeof(*c));
			copy_name(c->name, sizeof(c->name), name);
		}
		if (c && (!c->view || c->zones != mask)) {
			struct kp_catalog *v = NULL, **r = c->view ? realloc(f->retired, (size_t)(f->nretired + 1) *
										   sizeof(*r)) : f->retired;
			if (r)
				f->retired = r;
			if ((c->view && !r) || !(v = calloc(1, sizeof(*v))) || view_build_mask(f, v, mask) != KP_OK) {
				if (v)
					kp_catalog_free(v);
				free(v);
				unlock(f);
				goto nomem;
			}
			if (c->view)
				f->retired[f->nretired++] = c->view;
			c->view = v;
			c->zones = mask;
			c->view_gen = f->ice_gen + 1;
		}
	}
	unlock(f);
	st = json_pack("{s:O}", "subnets", subnets);
	if (!st || json_array_append_new(cj, cond_json("SubnetsReady", mask != 0, "SubnetsNotFound",
							  "SubnetSelector did not match any Subnets")) ||
	    json_array_append_new(cj, cond_json("Ready", mask != 0, "SubnetsNotFound",
						"SubnetSelector did not match any Subnets")))
		goto nomem;
	*status = json_dumps(st, JSON_COMPACT);
	*conds = json_dumps(cj, JSON_COMPACT);
	if (!*status || !*conds)
		goto nomem;
	if (mask == 0)
		e = kp_cloud_errf(eb, KP_CLOUD_NODECLASS_NOT_READY, "EC2NodeClass %s: SubnetSelector did not match any Subnets",
				  name);
	goto out;
nomem:
	free(*status);
	free(*conds);
	*status = *conds = NULL;
	e = kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "nodeclass: out of memory");
out:
	json_decref(st);
	json_decref(subnets);
	json_decref(cj);
	json_decref(obj);
	kp_arena_free(&a);
	return e;
}

/* Forgets a deleted class: its pools see every subnet again. The view
 * stays alive (retired) for callers that may hold it. */
static void fake_nodeclass_forget(struct kp_cloud *cp, const char *name)
{
	struct fake *f = fake_of(cp);
	struct fake_class *c;

	lock(f);
	c = class_find(f, name);
	if (c) {
		struct kp_catalog **r = realloc(f->retired, (size_t)(f->nretired + 1) * sizeof(*r));
		if (r) {
			f->retired = r;
			if (c->view)
				f->retired[f->nretired++] = c->view;
			*c = f->classes[--f->nclasses];
		}
	}
	unlock(f);
}

/* A deleted class whose NodeClaims are gone: the simulated cloud made no
 * launch template or instance profile for it, so nothing is left to
 * delete; having the operation gives `karpenter up`'s classes the
 * karpenter.k8s.aws/termination finalizer, as on AWS. */
static enum kp_cloud_err fake_nodeclass_finalize(struct kp_cloud *cp, const char *name, const char *nodeclass_json,
						 struct kp_errbuf *eb)
{
	(void)cp;
	(void)name;
	(void)nodeclass_json;
	(void)eb;
	return KP_CLOUD_OK;
}

static void free_table(struct rec **recs, int n)
{
	for (int i = 0; i < n; i++)
		rec_free(recs[i]);
	free(recs);
}

static void fake_destroy(struct kp_cloud *cp)
{
	struct fake *f;

	if (!cp)
		return;
	f = fake_of(cp);
	free_table(f->recs, f->n);
	kp_catalog_free(&f->view);
	for (int i = 0; i < f->nclasses; i++)
		if (f->classes[i].view) {
			kp_catalog_free(f->classes[i].view);
			free(f->classes[i].view);
		}
	for (int i = 0; i < f->nretired; i++) {
		kp_catalog_free(f->retired[i]);
		free(f->retired[i]);
	}
	free(f->retired);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* Repair policies: kwok's (Karpenter's kwok CloudProvider.RepairPolicies:
 * Ready False or Unknown for 10 min) plus the EKS node monitoring agent's
 * conditions as AWS tolerates them (aws/karpenter-provider-aws
 * pkg/cloudprovider RepairPolicies), as this cloud stands in for AWS. */
#define MIN_MS 60000
static const struct kp_cloud_repair_policy fake_repair[] = {
	{ "Ready", "False", 10 * MIN_MS },
	{ "Ready", "Unknown", 10 * MIN_MS },
	{ "AcceleratedHardwareReady", "False", 10 * MIN_MS },
	{ "StorageReady", "False", 30 * MIN_MS },
	{ "NetworkingReady", "False", 30 * MIN_MS },
	{ "KernelReady", "False", 30 * MIN_MS },
	{ "ContainerRuntimeReady", "False", 30 * MIN_MS },
};
#undef MIN_MS

const struct kp_cloud_repair_policy *kp_cloud_fake_repair_policies(int *n)
{
	*n = (int)(sizeof(fake_repair) / sizeof(fake_repair[0]));
	return fake_repair;
}

static const struct kp_cloud_repair_policy *fake_repair_policies(struct kp_cloud *cp, int *n)
{
	(void)cp;
	return kp_cloud_fake_repair_policies(n);
}

static const struct kp_cloud_ops fake_ops = {
	.version = KP_CLOUD_VERSION,
	.name = "fake",
	.create = fake_create,
	.delete = fake_delete,
	.get = fake_get,
	.list = fake_list,
	.instance_types = fake_instance_types,
	.is_drifted = fake_is_drifted,
	.destroy = fake_destroy,
	.nodeclass_reconcile = fake_nodeclass_reconcile,
	.nodeclass_forget = fake_nodeclass_forget,
	.repair_policies = fake_repair_policies,
	.nodeclass_optional = true,   /* launches without a node class */
	.nodeclass_finalize = fake_nodeclass_finalize,
};

/* ---- construction ---- */

void kp_cloud_fake_opts_init(struct kp_cloud_fake_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->launch_delay_ms = 2000;
	o->terminate_delay_ms = 0;
	o->seed = 1;
	o->cluster = "karpenter";
	o->subnet_zones = 3;
}

static bool copy_name(char *dst, size_t n, const char *s)
{
	size_t len = s ? strlen(s) : 0;

	if (len >= n)
		return false;
	if (len)
		memcpy(dst, s, len);
	dst[len] = '\0';
	return true;
}

kp_err kp_cloud_fake_new(const struct kp_catalog *cat, const struct kp_cloud_fake_opts *o, struct kp_cloud **out,
			 struct kp_errbuf *eb)
{
	struct kp_cloud_fake_opts def;
	struct fake *f;

	*out = NULL;
	if (!o) {
		kp_cloud_fake_opts_init(&def);
		o = &def;
	}
	if (!cat)
		return kp_errf(eb, KP_ERR_INVALID, "fake cloud: no catalog");
	if (o->launch_delay_ms < 0 || o->terminate_delay_ms < 0)
		return kp_errf(eb, KP_ERR_INVALID, "fake cloud: negative delay");
	if (!o->cluster || !*o->cluster)
		return kp_errf(eb, KP_ERR_INVALID, "fake cloud: empty cluster name");
	f = calloc(1, sizeof(*f));
	if (!f)
		return kp_errf(eb, KP_ERR_NOMEM, "fake cloud: out of memory");
	if (!copy_name(f->cluster, sizeof(f->cluster), o->cluster) ||
	    !copy_name(f->image_id, sizeof(f->image_id), o->image_id)) {
		free(f);
		return kp_errf(eb, KP_ERR_RANGE, "fake cloud: cluster name or image id longer than %d bytes",
			       FAKE_NAME_MAX - 1);
	}
	if (pthread_mutex_init(&f->mu, NULL) != 0) {
		free(f);
		return kp_errf(eb, KP_ERR_NOMEM, "fake cloud: cannot create mutex");
	}
	f->cat = cat;
	subnets_build(f, o->subnet_zones);
	f->launch_delay_ms = o->launch_delay_ms;
	f->terminate_delay_ms = o->terminate_delay_ms;
	f->clock = o->clock;
	f->clock_arg = o->clock_arg;
	f->rng = o->seed;
	kp_resnames_init(&f->own_rn);
	f->rn = o->resnames ? o->resnames : &f->own_rn;
	f->cloud.ops = &fake_ops;
	f->cloud.impl = f;
	if (view_build(f) != KP_OK) {
		fake_destroy(&f->cloud);
		return kp_errf(eb, KP_ERR_NOMEM, "fake cloud: out of memory");
	}
	*out = &f->cloud;
	return KP_OK;
}

bool kp_cloud_is_fake(const struct kp_cloud *cp)
{
	return cp && cp->ops == &fake_ops;
}

int64_t kp_cloud_fake_now(struct kp_cloud *cp)
{
	struct fake *f = fake_of(cp);
	int64_t now;

	lock(f);
	now = fake_clock(f);
	unlock(f);
	return now;
}

/* ---- injection API ---- */

kp_err kp_cloud_fake_ice(struct kp_cloud *cp, const char *itype, const char *zone, int captype)
{
	struct fake *f = fake_of(cp);
	struct ice_rule r;
	kp_err rc = KP_OK;

	if (!copy_name(r.itype, sizeof(r.itype), itype) || !copy_name(r.zone, sizeof(r.zone), zone))
		return KP_ERR_RANGE;
	if (captype < -1 || captype >= KP_CAP_COUNT)
		return KP_ERR_INVALID;
	r.captype = captype;
	lock(f);
	if (f->nice == KP_CLOUD_FAKE_MAX_ICE) {
		rc = KP_ERR_LIMIT;
	} else {
		f->ice[f->nice++] = r;
		f->ice_gen++;
	}
	unlock(f);
	return rc;
}

kp_err kp_cloud_fake_fail_next(struct kp_cloud *cp, unsigned ops, int count, enum kp_cloud_err err,
			       const char *msg)
{
	struct fake *f = fake_of(cp);
	struct fault_rule r;
	kp_err rc = KP_OK;

	if (err == KP_CLOUD_OK || (ops & KP_CLOUD_FAKE_OP_ALL) == 0)
		return KP_ERR_INVALID;
	if (count == 0)
		return KP_OK;
	r.ops = ops & KP_CLOUD_FAKE_OP_ALL;
	r.count = count;
	r.err = err;
	snprintf(r.msg, sizeof(r.msg), "%s", msg ? msg : "");
	lock(f);
	if (f->nfaults == KP_CLOUD_FAKE_MAX_FAULTS)
		rc = KP_ERR_LIMIT;
	else
		f->faults[f->nfaults++] = r;
	unlock(f);
	return rc;
}

kp_err kp_cloud_fake_delay_boot(struct kp_cloud *cp, const char *provider_id, int64_t extra_ms)
{
	struct fake *f = fake_of(cp);
	struct rec *r;
	int64_t now;
	kp_err rc = KP_OK;

	if (extra_ms < 0)
		return KP_ERR_INVALID;
	lock(f);
	now = fake_clock(f);
	r = rec_live(f, provider_id, now);
	if (!r)
		rc = KP_ERR_NOTFOUND;
	else if (rec_state(r, now) == KP_INSTANCE_RUNNING)
		rc = KP_ERR_INVALID;
	else
		r->running_ms = add_sat(add_sat(r->created_ms, f->launch_delay_ms), extra_ms);
	unlock(f);
	return rc;
}

void kp_cloud_fake_delay_next_boots(struct kp_cloud *cp, int count, int64_t extra_ms)
{
	struct fake *f = fake_of(cp);

	lock(f);
	f->next_boot_count = count > 0 ? count : 0;
	f->next_boot_extra_ms = extra_ms > 0 ? extra_ms : 0;
	unlock(f);
}

kp_err kp_cloud_fake_drift(struct kp_cloud *cp, const char *provider_id, const char *reason)
{
	struct fake *f = fake_of(cp);
	struct rec *r;
	kp_err rc = KP_OK;

	lock(f);
	r = rec_live(f, provider_id, fake_clock(f));
	if (!r)
		rc = KP_ERR_NOTFOUND;
	else
		snprintf(r->drift, sizeof(r->drift), "%s", reason ? reason : "");
	unlock(f);
	return rc;
}

void kp_cloud_fake_clear_faults(struct kp_cloud *cp)
{
	struct fake *f = fake_of(cp);

	lock(f);
	if (f->nice) {
		f->nice = 0;
		f->ice_gen++;
	}
	f->nfaults = 0;
	f->next_boot_count = 0;
	f->next_boot_extra_ms = 0;
	unlock(f);
}

int kp_cloud_fake_calls(struct kp_cloud *cp, unsigned ops)
{
	struct fake *f = fake_of(cp);
	int sum = 0;

	lock(f);
	for (int i = 0; i < FAKE_NOPS; i++)
		if (ops & (1u << i))
			sum += f->calls[i];
	unlock(f);
	return sum;
}

/* ---- poll ---- */

struct poll_ev {
	enum kp_cloud_fake_event kind;
	bool retry;
	struct kp_instance inst;
};

/* Clears the in-flight marks and undoes the reports the callback refused. */
static void poll_settle(struct fake *f, unsigned gen, struct poll_ev *ev, int nev)
{
	lock(f);
	for (int i = 0; gen == f->table_gen && i < nev; i++) {
		int at = rec_find((const struct rec *const *)f->recs, f->n, ev[i].inst.provider_id);
		struct rec *r;

		if (at < 0)
			continue;
		r = f->recs[at];
		r->inflight = false;
		if (!ev[i].retry)
			continue;
		if (ev[i].kind == KP_CLOUD_FAKE_RUNNING)
			r->reported_running = false;
		else
			r->reported_terminated = false;
	}
	unlock(f);
}

int kp_cloud_fake_poll(struct kp_cloud *cp, int64_t now_ms, kp_cloud_fake_poll_fn cb, void *ctx)
{
	struct fake *f = fake_of(cp);
	struct kp_arena a;
	struct poll_ev *ev = NULL;
	int nev = 0, cap = 0, handled = 0;
	unsigned gen;
	bool nomem = false;

	if (!cb)
		return -1;
	kp_arena_init(&a);
	lock(f);
	prune(f, now_ms);
	gen = f->table_gen;
	for (int i = 0; i < f->n; i++) {
		struct rec *r = f->recs[i];
		enum kp_instance_state st = rec_state(r, now_ms);
		enum kp_cloud_fake_event kind;

		if (r->inflight)
			continue;
		if (st == KP_INSTANCE_RUNNING && !r->reported_running)
			kind = KP_CLOUD_FAKE_RUNNING;
		else if (st == KP_INSTANCE_TERMINATED && r->reported_running && !r->reported_terminated)
			kind = KP_CLOUD_FAKE_TERMINATED;
		else
			continue;
		if (nev == cap) {
			int ncap = cap ? cap * 2 : 16;
			struct poll_ev *t = kp_arena_grow(&a, ev, (size_t)nev, (size_t)ncap, sizeof(*ev));

			if (!t) {
				nomem = true;
				break;
			}
			ev = t;
			cap = ncap;
		}
		if (kp_instance_copy(&ev[nev].inst, &a, &r->inst)) {
			nomem = true;
			break;
		}
		ev[nev].inst.state = st;
		ev[nev].kind = kind;
		ev[nev].retry = false;
		nev++;
		if (kind == KP_CLOUD_FAKE_RUNNING)
			r->reported_running = true;
		else
			r->reported_terminated = true;
		r->inflight = true;
	}
	unlock(f);

	for (int i = 0; i < nev; i++) {
		if (cb(ctx, ev[i].kind, &ev[i].inst) == 0)
			handled++;
		else
			ev[i].retry = true;
	}
	if (nev)
		poll_settle(f, gen, ev, nev);
	kp_arena_free(&a);
	if (handled > 0)
		notify_change(f, KP_CLOUD_FAKE_CHANGED_POLL, NULL);
	return nomem ? -1 : handled;
}

/* ---- save ---- */

/* Sets key to v (taking v); false when v is NULL or out of memory. */
static bool jset(json_t *obj, const char *key, json_t *v)
{
	return v && json_object_set_new(obj, key, v) == 0;
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *res_to_json(const struct fake *f, const struct kp_res *r)
{
	json_t *o = json_object();

	for (int i = 0; o && i < KP_RES_MAX; i++) {
		char name[32];
		const char *key = name;

		if (r->v[i] == 0)
			continue;
		if (i < f->rn->n)
			key = f->rn->name[i];
		else
			snprintf(name, sizeof(name), "#%d", i);
		if (!jset(o, key, json_integer(r->v[i]))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *rec_to_json(const struct fake *f, const struct rec *r)
{
	const struct kp_instance *in = &r->inst;
	json_t *o = json_object(), *labels = json_object();
	bool ok = o && labels;

	for (int i = 0; ok && i < in->labels.n; i++)
		ok = jset(labels, in->labels.kv[i].key, json_string(in->labels.kv[i].value));
	ok = ok && jset(o, "providerID", json_string(in->provider_id)) && jset(o, "id", json_string(r->id)) &&
	     jset(o, "nodeClaim", jstr_or_null(in->nodeclaim)) && jset(o, "nodePool", jstr_or_null(in->nodepool)) &&
	     jset(o, "instanceType", jstr_or_null(in->instance_type)) && jset(o, "zone", jstr_or_null(in->zone)) &&
	     jset(o, "capacityType", json_string(kp_captype_name(in->captype))) &&
	     jset(o, "price", json_real(in->price)) && jset(o, "imageID", jstr_or_null(in->image_id)) &&
	     jset(o, "createdMs", json_integer(r->created_ms)) &&
	     jset(o, "runningMs", r->running_ms == KP_NEVER ? json_null() : json_integer(r->running_ms)) &&
	     jset(o, "deleting", json_boolean(r->deleting)) &&
	     jset(o, "terminatedMs", json_integer(r->deleting ? r->terminated_ms : 0)) &&
	     jset(o, "reportedRunning", json_boolean(r->reported_running)) &&
	     jset(o, "reportedTerminated", json_boolean(r->reported_terminated)) &&
	     jset(o, "drift", json_string(r->drift)) && jset(o, "labels", labels);
	labels = ok ? NULL : labels;
	ok = ok && jset(o, "capacity", res_to_json(f, &in->capacity)) &&
	     jset(o, "allocatable", res_to_json(f, &in->allocatable));
	json_decref(labels);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *kp_cloud_fake_save(struct kp_cloud *cp, struct kp_errbuf *eb)
{
	struct fake *f = fake_of(cp);
	json_t *root = json_object(), *arr = json_array();
	char rng[24];
	char *s = NULL;
	bool ok = root && arr;

	lock(f);
	snprintf(rng, sizeof(rng), "%016" PRIx64, f->rng);
	for (int i = 0; ok && i < f->n; i++) {
		json_t *o = rec_to_json(f, f->recs[i]);

		ok = o && json_array_append_new(arr, o) == 0;
	}
	ok = ok && jset(root, "kind", json_string(FAKE_STATE_KIND)) &&
	     jset(root, "version", json_integer(FAKE_STATE_VERSION)) && jset(root, "cluster", json_string(f->cluster)) &&
	     jset(root, "rng", json_string(rng)) && jset(root, "instances", arr);
	unlock(f);
	if (!ok)
		json_decref(arr);
	else
		s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!s)
		kp_errf(eb, KP_ERR_NOMEM, "save fake cloud state: out of memory");
	return s;
}

/* ---- restore ---- */

struct jctx {
	struct kp_errbuf *eb;
	size_t idx;                           /* instances[idx] */
};

static kp_err jerr(struct jctx *c, const char *key, const char *what)
{
	return kp_errf(c->eb, KP_ERR_INVALID, "fake cloud state: instances[%zu].%s: %s", c->idx, key, what);
}

/* A string member (or NULL when null and nullable). */
static kp_err jget_str(struct jctx *c, json_t *o, const char *key, bool nullable, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (nullable && (!v || json_is_null(v)))
		return KP_OK;
	if (!json_is_string(v))
		return jerr(c, key, "expected a string");
	*out = json_string_value(v);
	return KP_OK;
}

static kp_err jget_i64(struct jctx *c, json_t *o, const char *key, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v))
		return jerr(c, key, "expected an integer");
	*out = (int64_t)json_integer_value(v);
	return KP_OK;
}

static kp_err jget_bool(struct jctx *c, json_t *o, const char *key, bool *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_boolean(v))
		return jerr(c, key, "expected true or false");
	*out = json_is_true(v);
	return KP_OK;
}

static kp_err jget_res(struct jctx *c, const struct fake *f, json_t *o, const char *key, struct kp_res *out)
{
	json_t *obj = json_object_get(o, key), *v;
	const char *name;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj))
		return jerr(c, key, "expected an object");
	json_object_foreach(obj, name, v) {
		int idx = kp_resnames_find(f->rn, name);
		int64_t x;

		if (idx < 0 && name[0] == '#' && kp_parse_i64(name + 1, &x) == KP_OK && x >= f->rn->n &&
		    x < KP_RES_MAX)
			idx = (int)x;
		if (idx < 0)
			return kp_errf(c->eb, KP_ERR_INVALID, "fake cloud state: instances[%zu].%s: unknown resource \"%s\"",
				       c->idx, key, name);
		if (!json_is_integer(v))
			return kp_errf(c->eb, KP_ERR_INVALID, "fake cloud state: instances[%zu].%s.%s: expected an integer",
				       c->idx, key, name);
		out->v[idx] = (int64_t)json_integer_value(v);
	}
	return KP_OK;
}

/* One saved instance into a record (strings copied into its blob). */
static kp_err rec_from_json(struct jctx *c, const struct fake *f, json_t *o, struct kp_arena *a, struct rec **out)
{
	struct kp_instance in = { 0 };
	const char *id, *ct, *drift, *k;
	json_t *labels, *v, *price, *running;
	int64_t created, terminated;
	bool deleting, rep_run, rep_term;
	struct rec *r;
	int captype;
	kp_err rc;

	*out = NULL;
	if (!json_is_object(o))
		return kp_errf(c->eb, KP_ERR_INVALID, "fake cloud state: instances[%zu]: expected an object", c->idx);
	if ((rc = jget_str(c, o, "providerID", false, &in.provider_id)) || (rc = jget_str(c, o, "id", false, &id)) ||
	    (rc = jget_str(c, o, "nodeClaim", true, &in.nodeclaim)) ||
	    (rc = jget_str(c, o, "nodePool", true, &in.nodepool)) ||
	    (rc = jget_str(c, o, "instanceType", true, &in.instance_type)) ||
	    (rc = jget_str(c, o, "zone", true, &in.zone)) || (rc = jget_str(c, o, "capacityType", false, &ct)) ||
	    (rc = jget_str(c, o, "imageID", true, &in.image_id)) || (rc = jget_str(c, o, "drift", false, &drift)) ||
	    (rc = jget_i64(c, o, "createdMs", &created)) || (rc = jget_i64(c, o, "terminatedMs", &terminated)) ||
	    (rc = jget_bool(c, o, "deleting", &deleting)) || (rc = jget_bool(c, o, "reportedRunning", &rep_run)) ||
	    (rc = jget_bool(c, o, "reportedTerminated", &rep_term)) ||
	    (rc = jget_res(c, f, o, "capacity", &in.capacity)) ||
	    (rc = jget_res(c, f, o, "allocatable", &in.allocatable)))
		return rc;
	if (strlen(id) < 3 || strlen(id) >= sizeof(((struct rec *)0)->id) || strncmp(id, "i-", 2) != 0)
		return jerr(c, "id", "not an instance id");
	if (strlen(drift) >= FAKE_DRIFT_MAX)
		return jerr(c, "drift", "too long");
	captype = kp_captype_parse(ct);
	if (captype < 0)
		return jerr(c, "capacityType", "unknown capacity type");
	in.captype = (enum kp_captype)captype;
	price = json_object_get(o, "price");
	if (!json_is_number(price))
		return jerr(c, "price", "expected a number");
	in.price = json_number_value(price);
	running = json_object_get(o, "runningMs");
	if (!json_is_null(running) && !json_is_integer(running))
		return jerr(c, "runningMs", "expected an integer or null");
	labels = json_object_get(o, "labels");
	if (!json_is_object(labels))
		return jerr(c, "labels", "expected an object");
	json_object_foreach(labels, k, v) {
		if (!json_is_string(v))
			return jerr(c, "labels", "expected string values");
		if (kp_labels_set(&in.labels, a, k, json_string_value(v)))
			return kp_errf(c->eb, KP_ERR_NOMEM, "fake cloud state: out of memory");
	}
	in.launched = floor_div(created, 1000);
	r = rec_new(&in);
	if (!r)
		return kp_errf(c->eb, KP_ERR_NOMEM, "fake cloud state: out of memory");
	memcpy(r->id, id, strlen(id) + 1);
	memcpy(r->drift, drift, strlen(drift) + 1);
	r->created_ms = created;
	r->running_ms = json_is_null(running) ? KP_NEVER : (int64_t)json_integer_value(running);
	r->deleting = deleting;
	r->terminated_ms = terminated;
	r->reported_running = rep_run;
	r->reported_terminated = rep_term;
	*out = r;
	return KP_OK;
}

static int rec_ptr_cmp(const void *a, const void *b)
{
	const struct rec *x = *(const struct rec *const *)a, *y = *(const struct rec *const *)b;

	return strcmp(x->inst.provider_id, y->inst.provider_id);
}

kp_err kp_cloud_fake_restore(struct kp_cloud *cp, const char *json, struct kp_errbuf *eb)
{
	struct fake *f = fake_of(cp);
	struct jctx c = { eb, 0 };
	struct kp_arena a;
	json_error_t je;
	json_t *root, *arr, *v;
	struct rec **recs = NULL, **old;
	const char *s;
	uint64_t rng = 0;
	size_t n = 0;
	int nold;
	kp_err rc = KP_OK;

	if (!json)
		return kp_errf(eb, KP_ERR_INVALID, "fake cloud state: empty");
	root = json_loads(json, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return kp_errf(eb, KP_ERR_INVALID, "fake cloud state: line %d: %s", je.line, je.text);
	kp_arena_init(&a);
	v = json_object_get(root, "kind");
	if (!json_is_string(v) || strcmp(json_string_value(v), FAKE_STATE_KIND) != 0) {
		rc = kp_errf(eb, KP_ERR_INVALID, "fake cloud state: kind is not \"%s\"", FAKE_STATE_KIND);
		goto out;
	}
	v = json_object_get(root, "version");
	if (!json_is_integer(v) || json_integer_value(v) != FAKE_STATE_VERSION) {
		rc = kp_errf(eb, KP_ERR_INVALID, "fake cloud state: unsupported version (want %d)", FAKE_STATE_VERSION);
		goto out;
	}
	v = json_object_get(root, "cluster");
	if (!json_is_string(v) || strcmp(json_string_value(v), f->cluster) != 0) {
		rc = kp_errf(eb, KP_ERR_INVALID, "fake cloud state: saved for cluster \"%s\", not \"%s\"",
			     json_is_string(v) ? json_string_value(v) : "", f->cluster);
		goto out;
	}
	v = json_object_get(root, "rng");
	s = json_is_string(v) ? json_string_value(v) : NULL;
	if (!s || strlen(s) != 16 || sscanf(s, "%16" SCNx64, &rng) != 1) {
		rc = kp_errf(eb, KP_ERR_INVALID, "fake cloud state: rng: expected 16 hex digits");
		goto out;
	}
	arr = json_object_get(root, "instances");
	if (!json_is_array(arr) || json_array_size(arr) > FAKE_MAX_INSTANCES) {
		rc = kp_errf(eb, KP_ERR_INVALID, "fake cloud state: instances: expected an array of at most %d",
			     FAKE_MAX_INSTANCES);
		goto out;
	}
	recs = calloc(json_array_size(arr) + 1, sizeof(*recs));
	if (!recs) {
		rc = kp_errf(eb, KP_ERR_NOMEM, "fake cloud state: out of memory");
		goto out;
	}
	json_array_foreach(arr, c.idx, v) {
		rc = rec_from_json(&c, f, v, &a, &recs[n]);
		if (rc)
			goto out;
		n++;
	}
	if (n > 1)
		qsort(recs, n, sizeof(*recs), rec_ptr_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(recs[i - 1]->inst.provider_id, recs[i]->inst.provider_id) == 0) {
			rc = kp_errf(eb, KP_ERR_INVALID, "fake cloud state: duplicate instance %s",
				     recs[i]->inst.provider_id);
			goto out;
		}

	lock(f);
	old = f->recs;
	nold = f->n;
	f->recs = recs;
	f->n = (int)n;
	f->cap = (int)json_array_size(arr) + 1;
	f->rng = rng;
	f->table_gen++;
	unlock(f);
	free_table(old, nold);
	recs = NULL;
	n = 0;
out:
	if (recs)
		free_table(recs, (int)n);
	kp_arena_free(&a);
	json_decref(root);
	return rc;
}
