/*
 * provider.c - the AWS cloud provider's operations (provider.h): instance
 * types and offerings from DescribeInstanceTypes, DescribeInstanceType-
 * Offerings and DescribeSpotPriceHistory (labels and allocatable from the
 * built-in catalog); launch through launch templates ensured by name and
 * CreateFleet `instant`; Get/List/Delete over DescribeInstances and
 * TerminateInstances; the unavailable-offerings (ICE) cache; drift.
 *
 * Mirrors karpenter-provider-aws: pkg/cloudprovider/cloudprovider.go,
 * pkg/providers/instance/instance.go (launchInstance, getCapacityType,
 * filterInstanceTypes, at most 60 types), pkg/providers/launchtemplate
 * (EnsureAll), pkg/providers/subnet (ZonalSubnetsForLaunch: most free IPs),
 * pkg/cache/unavailableofferings.go (3 minutes), pkg/cloudprovider/drift.go.
 *
 * Locking: one mutex over the caches; it is released around API calls that
 * launch or terminate, so a slow CreateFleet does not stall instance_types.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloud/aws/aws_int.h"
#include "karpenter/labels.h"

#define MAX_FLEET_TYPES 60
#define STATE_FILTER_N 5
static const char *const LIVE_STATES[STATE_FILTER_N] = { "pending", "running", "stopping", "stopped",
							 "shutting-down" };

static void copy(char *dst, size_t n, const char *src)
{
	size_t k = strnlen(src ? src : "", n - 1);

	memcpy(dst, src ? src : "", k);
	dst[k] = 0;
}

static const char *or(const char *a, const char *b)
{
	return a ? a : b;
}

static struct kp_aws_cloud *aws_of(struct kp_cloud *cp)
{
	return cp->impl;
}

int64_t kp_aws_now_ms(struct kp_aws_cloud *w)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + w->clock_skew_ms;
}

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static char *b64(const char *in)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(in), o = 0;
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	const unsigned char *p = (const unsigned char *)in;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);

		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = 0;
	return out;
}

/* ---- EC2 pagination ---- */

kp_err kp_aws_ec2_each(struct kp_aws_cloud *w, struct kp_aws_params *p, const char *set, kp_aws_item_fn fn, void *ud,
		       struct kp_errbuf *eb)
{
	size_t base = p->body.len;
	char token[2048] = "";
	kp_err rc = KP_OK;

	for (int page = 0; page < 10000; page++) {
		struct kp_arena a;
		struct kp_aws_resp r;
		const struct kp_aws_xnode *list;
		const char *next;

		p->body.len = base;
		if (p->body.data)
			p->body.data[base] = 0;
		if (token[0])
			kp_aws_params_add(p, "NextToken", token);
		kp_arena_init(&a);
		rc = kp_aws_query(w->cl, "ec2", p, false, false, &a, &r, eb);
		if (!rc) {
			list = kp_aws_xml_child(r.xml, set);
			for (const struct kp_aws_xnode *it = list ? list->child : NULL; it && !rc; it = it->next)
				rc = fn(ud, it, eb);
			next = kp_aws_xml_text(r.xml, "nextToken");
			copy(token, sizeof(token), next);
		}
		kp_arena_free(&a);
		if (rc || !token[0])
			break;
	}
	p->body.len = base;
	if (p->body.data)
		p->body.data[base] = 0;
	return rc;
}

/* ---- instance types from the API ---- */

static kp_err on_type(void *ud, const struct kp_aws_xnode *it, struct kp_errbuf *eb)
{
	json_t *types = ud, *usage = json_array();
	const char *name = kp_aws_xml_text(it, "instanceType");
	const struct kp_aws_xnode *u = kp_aws_xml_child(it, "supportedUsageClasses");

	if (!name) {
		json_decref(usage);
		return KP_OK;
	}
	for (const struct kp_aws_xnode *c = u ? u->child : NULL; c; c = c->next)
		if (c->text)
			json_array_append_new(usage, json_string(c->text));
	if (json_object_set_new(types, name, json_pack("{s:o,s:[]}", "usage", usage, "zones")))
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	return KP_OK;
}

static kp_err on_offering(void *ud, const struct kp_aws_xnode *it, struct kp_errbuf *eb)
{
	json_t *types = ud, *t;
	const char *name = kp_aws_xml_text(it, "instanceType"), *zone = kp_aws_xml_text(it, "location");

	(void)eb;
	if (name && zone && (t = json_object_get(types, name)))
		json_array_append_new(json_object_get(t, "zones"), json_string(zone));
	return KP_OK;
}

static kp_err on_spot(void *ud, const struct kp_aws_xnode *it, struct kp_errbuf *eb)
{
	json_t *spot = ud, *t;
	const char *name = kp_aws_xml_text(it, "instanceType"), *zone = kp_aws_xml_text(it, "availabilityZone");
	const char *price = kp_aws_xml_text(it, "spotPrice");
	char *end;
	double v;

	(void)eb;
	if (!name || !zone || !price)
		return KP_OK;
	v = strtod(price, &end);
	if (end == price || v <= 0)
		return KP_OK;
	if (!(t = json_object_get(spot, name))) {
		t = json_object();
		json_object_set_new(spot, name, t);
	}
	/* the answer is newest first: keep the first price per zone */
	if (!json_object_get(t, zone))
		json_object_set_new(t, zone, json_real(v));
	return KP_OK;
}

/* Refreshes the API's instance types when older than types_ttl_ms. Called
 * without the lock; swaps the result in under it. */
static kp_err refresh_types(struct kp_aws_cloud *w, bool force, struct kp_errbuf *eb)
{
	json_t *types, *spot;
	struct kp_aws_params p;
	char now[32];
	kp_err rc;

	pthread_mutex_lock(&w->mu);
	if (!force && w->types && kp_aws_now_ms(w) - w->types_ms < w->o.types_ttl_ms) {
		pthread_mutex_unlock(&w->mu);
		return KP_OK;
	}
	pthread_mutex_unlock(&w->mu);
	types = json_object();
	spot = json_object();
	/* pkg/providers/instancetype: hvm, x86_64 or arm64 */
	kp_aws_params_init(&p, "DescribeInstanceTypes", KP_AWS_EC2_VERSION);
	kp_aws_params_add(&p, "Filter.1.Name", "supported-virtualization-type");
	kp_aws_params_add(&p, "Filter.1.Value.1", "hvm");
	kp_aws_params_add(&p, "Filter.2.Name", "processor-info.supported-architecture");
	kp_aws_params_add(&p, "Filter.2.Value.1", "x86_64");
	kp_aws_params_add(&p, "Filter.2.Value.2", "arm64");
	kp_aws_params_add(&p, "MaxResults", "100");
	rc = kp_aws_ec2_each(w, &p, "instanceTypeSet", on_type, types, eb);
	kp_aws_params_free(&p);
	if (!rc) {
		kp_aws_params_init(&p, "DescribeInstanceTypeOfferings", KP_AWS_EC2_VERSION);
		kp_aws_params_add(&p, "LocationType", "availability-zone");
		kp_aws_params_add(&p, "MaxResults", "1000");
		rc = kp_aws_ec2_each(w, &p, "instanceTypeOfferingSet", on_offering, types, eb);
		kp_aws_params_free(&p);
	}
	if (!rc) {
		struct kp_errbuf e2 = { 0 };

		kp_format_rfc3339(kp_aws_now_ms(w) / 1000, now, sizeof(now));
		kp_aws_params_init(&p, "DescribeSpotPriceHistory", KP_AWS_EC2_VERSION);
		kp_aws_params_add(&p, "ProductDescription.1", "Linux/UNIX");
		kp_aws_params_add(&p, "ProductDescription.2", "Linux/UNIX (Amazon VPC)");
		kp_aws_params_add(&p, "StartTime", now);
		kp_aws_params_add(&p, "MaxResults", "2000");
		/* spot prices are best effort: without them the built-in estimates hold */
		if (kp_aws_ec2_each(w, &p, "spotPriceHistorySet", on_spot, spot, &e2)) {
			json_decref(spot);
			spot = NULL;
		}
		kp_aws_params_free(&p);
	}
	if (rc) {
		json_decref(types);
		json_decref(spot);
		kp_err_prefix(eb, "instance types: ");
		return rc;
	}
	pthread_mutex_lock(&w->mu);
	json_decref(w->types);
	w->types = types;
	if (spot) {
		json_decref(w->spot);
		w->spot = spot;
	}
	w->types_ms = kp_aws_now_ms(w);
	w->types_gen++;
	pthread_mutex_unlock(&w->mu);
	return KP_OK;
}

/* ---- on-demand prices from the Pricing API (pricing.go UpdateOnDemandPricing) ---- */

/* One GetProducts query (ServiceCode AmazonEC2, TERM_MATCH filters as
 * Karpenter's, MaxResults 100), page after page, into prices {type: price}. */
static kp_err pricing_query(struct kp_aws_cloud *w, const char *tenancy, const char *family, json_t *prices,
			    struct kp_errbuf *eb)
{
	char token[2048] = "";
	int pages = 0;
	const char *currency = kp_aws_pricing_currency(w->cl->region);   /* CNY in cn-* (pricing.go) */

	do {
		/* regionCode: the cluster's region, not the Pricing endpoint's */
		char *body = kp_aws_pricing_body(w->cl->region, tenancy, family, token);
		struct kp_aws_resp r;
		kp_err rc;
		size_t i;
		json_t *pl;

		if (!body)
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		rc = kp_aws_json(w->cl, "pricing", "AWSPriceListService.GetProducts", "1.1", body, &r, eb);
		free(body);
		if (rc)
			return rc;
		json_array_foreach(json_object_get(r.json, "PriceList"), i, pl) {
			/* each entry is a JSON document in a string */
			json_t *doc = json_is_string(pl) ? json_loads(json_string_value(pl), 0, NULL) : json_incref(pl);
			const char *type = json_string_value(
				json_object_get(json_object_get(json_object_get(doc, "product"), "attributes"), "instanceType"));
			const char *k1, *k2;
			json_t *term, *dim;

			json_object_foreach(json_object_get(json_object_get(doc, "terms"), "OnDemand"), k1, term)
				json_object_foreach(json_object_get(term, "priceDimensions"), k2, dim) {
					const char *usd = json_string_value(
						json_object_get(json_object_get(dim, "pricePerUnit"), currency));
					char *end;
					double v = usd ? strtod(usd, &end) : 0;

					if (type && usd && end != usd && v > 0)
						json_object_set_new(prices, type, json_real(v));
				}
			json_decref(doc);
		}
		token[0] = 0;
		copy(token, sizeof(token), json_string_value(json_object_get(r.json, "NextToken")));
		kp_aws_resp_clear(&r);
	} while (token[0] && ++pages < 1000);
	return KP_OK;
}

/* Refreshes w->od from the Pricing API. Any failure keeps the previous
 * prices (the built-in table's at first) and is logged once until the next
 * success. Called from the types thread only. */
static void refresh_pricing(struct kp_aws_cloud *w)
{
	struct kp_errbuf eb = { 0 };
	json_t *prices = json_object();
	kp_err rc = prices ? KP_OK : kp_errf(&eb, KP_ERR_NOMEM, "out of memory");
	bool failing;

	if (!rc)
		rc = pricing_query(w, "Shared", "Compute Instance", prices, &eb);
	if (!rc)
		rc = pricing_query(w, "Dedicated", "Compute Instance (bare metal)", prices, &eb);
	if (!rc && json_object_size(prices) == 0)
		rc = kp_errf(&eb, KP_ERR_NOTFOUND, "no on-demand price in the answer");
	pthread_mutex_lock(&w->mu);
	w->pricing_ms = kp_aws_now_ms(w);
	failing = w->pricing_failing;
	w->pricing_failing = rc != KP_OK;
	if (!rc) {
		/* merged over the old prices, as pricing.go does */
		if (w->od)
			json_object_update(w->od, prices);
		else
			w->od = json_incref(prices);
		w->types_gen++;
	}
	pthread_mutex_unlock(&w->mu);
	if (rc && !failing)
		kp_log_warn(&w->log, "on-demand prices from the Pricing API failed; using the built-in table",
			    KP_LOG_FIELDS(kp_log_str("error", eb.msg)));
	else if (!rc)
		kp_log_info(&w->log, "on-demand prices updated from the Pricing API",
			    KP_LOG_FIELDS(kp_log_int("instanceTypes", (int64_t)json_object_size(prices))));
	json_decref(prices);
}

static void sleep_ms(struct kp_aws_cloud *w, int64_t ms);

/* The provider's own thread: loads the instance types at start and
 * refreshes them every types_ttl_ms (5 s after a failure). */
static void *types_main(void *arg)
{
	struct kp_aws_cloud *w = arg;

	while (!atomic_load(&w->stop)) {
		struct kp_errbuf eb = { 0 };
		kp_err rc = refresh_types(w, true, &eb);

		pthread_mutex_lock(&w->mu);
		w->types_tries++;
		if (rc)
			snprintf(w->types_err, sizeof(w->types_err), "%s", eb.msg);
		else
			w->types_err[0] = 0;
		pthread_cond_broadcast(&w->types_cv);
		pthread_mutex_unlock(&w->mu);
		/* the Pricing API: every pricing_ttl_ms, again at the next round
		 * after a failure (after the types so they come first) */
		if (!rc && w->o.pricing_ttl_ms > 0 && !atomic_load(&w->stop) &&
		    (w->pricing_ms == 0 || w->pricing_failing ||
		     kp_aws_now_ms(w) - w->pricing_ms >= w->o.pricing_ttl_ms))
			refresh_pricing(w);
		if (!rc && !atomic_load(&w->stop)) {
			struct kp_errbuf e2 = { 0 };
			int nd;

			if (kp_cloud_aws_lt_gc(&w->pub, &nd, &e2))
				kp_log_warn(&w->log, "launch template gc failed", KP_LOG_FIELDS(kp_log_str("error", e2.msg)));
		}
		sleep_ms(w, rc ? 5000 : w->o.types_ttl_ms);
	}
	return NULL;
}

/* Waits up to ms for the first load; true when types are there. */
static bool types_wait(struct kp_aws_cloud *w, int64_t ms)
{
	struct timespec dl;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)(ms / 1000);
	dl.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (!w->types && w->types_started && pthread_cond_timedwait(&w->types_cv, &w->mu, &dl) == 0)
		;
	ok = w->types != NULL;
	pthread_mutex_unlock(&w->mu);
	return ok;
}

/* ---- ICE cache (pkg/cache/unavailableofferings.go) ---- */

static void ice_key(char *buf, size_t n, const char *captype, const char *itype, const char *zone)
{
	snprintf(buf, n, "%s:%s:%s", captype, itype, zone);
}

/* Drops expired entries; bumps ice_gen when any went. Under the lock. */
static void ice_prune(struct kp_aws_cloud *w)
{
	int64_t now = kp_aws_now_ms(w);
	const char *k;
	json_t *v;
	void *tmp;
	bool changed = false;

	json_object_foreach_safe(w->ice, tmp, k, v) {
		if (json_integer_value(v) <= now) {
			json_object_del(w->ice, k);
			changed = true;
		}
	}
	if (changed)
		w->ice_gen++;
}

/* Marks an offering unavailable for ice_ttl_ms (marking again extends). Under the lock. */
static void ice_mark(struct kp_aws_cloud *w, const char *captype, const char *itype, const char *zone)
{
	char key[256];

	ice_key(key, sizeof(key), captype, itype, zone);
	json_object_set_new(w->ice, key, json_integer(kp_aws_now_ms(w) + w->o.ice_ttl_ms));
	w->ice_gen++;
}

static bool ice_hit(struct kp_aws_cloud *w, const char *captype, const char *itype, const char *zone)
{
	char key[256];
	json_t *v;

	ice_key(key, sizeof(key), captype, itype, zone);
	v = json_object_get(w->ice, key);
	return v && json_integer_value(v) > kp_aws_now_ms(w);
}

int kp_cloud_aws_ice_count(struct kp_cloud *cp)
{
	struct kp_aws_cloud *w = aws_of(cp);
	int n;

	pthread_mutex_lock(&w->mu);
	ice_prune(w);
	n = (int)json_object_size(w->ice);
	pthread_mutex_unlock(&w->mu);
	return n;
}

bool kp_cloud_aws_ice_has(struct kp_cloud *cp, const char *key)
{
	struct kp_aws_cloud *w = aws_of(cp);
	bool has;

	pthread_mutex_lock(&w->mu);
	ice_prune(w);
	has = json_object_get(w->ice, key) != NULL;
	pthread_mutex_unlock(&w->mu);
	return has;
}

void kp_cloud_aws_advance(struct kp_cloud *cp, int64_t ms)
{
	struct kp_aws_cloud *w = aws_of(cp);

	pthread_mutex_lock(&w->mu);
	w->clock_skew_ms += ms;
	pthread_mutex_unlock(&w->mu);
}

/* ---- classes ---- */

static struct kp_aws_class *class_find(struct kp_aws_cloud *w, const char *name)
{
	for (int i = 0; name && i < w->nclasses; i++)
		if (strcmp(w->classes[i]->name, name) == 0)
			return w->classes[i];
	return NULL;
}

static bool class_has_zone(const struct kp_aws_class *c, const char *zone)
{
	for (int i = 0; i < c->nsub; i++)
		if (strcmp(c->subnets[i].zone, zone) == 0)
			return true;
	return false;
}

static double base_price(const struct kp_itype *it, enum kp_captype ct, const char *zone)
{
	double any = 0;

	for (int i = 0; i < it->noff; i++) {
		if (it->off[i].captype != ct)
			continue;
		if (zone && it->off[i].zone && strcmp(it->off[i].zone, zone) == 0)
			return it->off[i].price;
		if (any == 0)
			any = it->off[i].price;
	}
	return any;
}

/* The on-demand price: the Pricing API's when it answered for the type,
 * else the built-in table's. Under the lock. */
static double od_price(struct kp_aws_cloud *w, const struct kp_itype *bt, const char *zone)
{
	json_t *v = json_object_get(w->od, bt->name);

	return json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : base_price(bt, KP_CAP_ON_DEMAND, zone);
}

/* Builds c's catalog: the base catalog's types the API offers, with one
 * offering per (zone of the class's subnets the type is offered in,
 * capacity type of its usage classes); prices on-demand from the base
 * table, spot from DescribeSpotPriceHistory (base estimate without it);
 * availability from the ICE cache. Windows families: windows os, amd64 only.
 * Under the lock. */
static kp_err class_catalog(struct kp_aws_cloud *w, struct kp_aws_class *c, struct kp_errbuf *eb)
{
	uint64_t gen = w->types_gen * 1000003u + w->ice_gen;
	struct kp_catalog *cat;
	bool win = kp_aws_family_windows(c->family);
	kp_err rc = KP_OK;

	struct kp_arena ka;
	struct kp_kubelet kk;

	if (c->cat && c->cat_gen == gen)
		return KP_OK;
	cat = calloc(1, sizeof(*cat));
	if (!cat)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	/* the class's kubelet settings: pods and allocatable as the simulator
	 * computes them (catalog/kubelet.c, instancetype/types.go) */
	kp_arena_init(&ka);
	if (kp_aws_class_kubelet(c, &ka, &kk))
		rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	kp_catalog_init(cat);
	cat->name = kp_arena_printf(&cat->arena, "aws-%s/%s", w->cl->region, c->name);
	cat->region = kp_arena_strdup(&cat->arena, w->cl->region);
	for (int i = 0; i < w->base->n && !rc; i++) {
		const struct kp_itype *bt = w->base->types[i];
		json_t *api = json_object_get(w->types, bt->name), *zones, *usage, *z, *u;
		struct kp_itype *it;
		size_t zi, ui;
		int n = 0, cap;

		if (!api)
			continue;
		if (win && kp_strcmp0(kp_labels_get(&bt->labels, KP_LABEL_ARCH), "amd64") != 0)
			continue;
		zones = json_object_get(api, "zones");
		usage = json_object_get(api, "usage");
		cap = (int)(json_array_size(zones) * 2);
		for (int k = 0; k < c->ncr; k++)
			cap += strcmp(c->crs[k].type, bt->name) == 0;
		if (cap == 0)
			continue;
		it = kp_arena_alloc(&cat->arena, sizeof(*it));
		if (!it) {
			rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
			break;
		}
		*it = *bt;
		it->off = kp_arena_calloc(&cat->arena, (size_t)cap, sizeof(*it->off));
		if (!it->off) {
			rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
			break;
		}
		json_array_foreach(zones, zi, z) {
			const char *zone = json_string_value(z);

			if (!zone || !class_has_zone(c, zone))
				continue;
			json_array_foreach(usage, ui, u) {
				const char *uc = json_string_value(u);
				struct kp_offering *o;
				json_t *sp;

				if (!uc || (strcmp(uc, "on-demand") != 0 && strcmp(uc, "spot") != 0) || n >= cap)
					continue;
				o = &it->off[n++];
				o->zone = kp_arena_strdup(&cat->arena, zone);
				o->captype = strcmp(uc, "spot") == 0 ? KP_CAP_SPOT : KP_CAP_ON_DEMAND;
				o->price = o->captype == KP_CAP_ON_DEMAND ? od_price(w, bt, zone) : base_price(bt, o->captype, zone);
				if (o->captype == KP_CAP_SPOT && (sp = json_object_get(json_object_get(w->spot, bt->name), zone)))
					o->price = json_real_value(sp);
				if (o->price <= 0)
					o->price = od_price(w, bt, zone);
				/* a type without any known price cannot be offered (pricing.go) */
				o->available = o->price > 0 && !ice_hit(w, uc, bt->name, zone);
			}
		}
		/* capacity reservations: one reserved offering per zone holding
		 * the type's reservations' total (the scheduler counts the
		 * cluster's reserved nodes and claims against it), available while
		 * one has instances left (instancetype/offering: reserved offerings) */
		if (c->ncr) {
			struct kp_reservation *rv = kp_arena_calloc(&cat->arena, (size_t)c->ncr, sizeof(*rv));
			int nrv = 0;

			if (!rv) {
				rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
				break;
			}
			for (int k = 0; k < c->ncr; k++) {
				const struct kp_aws_cr *cr = &c->crs[k];
				int j;

				if (strcmp(cr->type, bt->name) != 0 || !class_has_zone(c, cr->zone))
					continue;
				for (j = 0; j < nrv; j++)
					if (strcmp(rv[j].zone, cr->zone) == 0)
						break;
				if (j == nrv) {
					struct kp_offering *o;

					if (n >= cap)
						continue;
					rv[nrv].zone = kp_arena_strdup(&cat->arena, cr->zone);
					nrv++;
					o = &it->off[n++];
					o->zone = rv[j].zone;
					o->captype = KP_CAP_RESERVED;
					o->price = od_price(w, bt, cr->zone);
					o->available = false;
				}
				rv[j].capacity += cr->total;
				for (int m = 0; m < n; m++)
					if (it->off[m].captype == KP_CAP_RESERVED && strcmp(it->off[m].zone, cr->zone) == 0)
						it->off[m].available |= cr->avail > 0 && it->off[m].price > 0 &&
									!ice_hit(w, "reserved", bt->name, cr->zone);
			}
			it->resv = rv;
			it->nresv = nrv;
		}
		if (n == 0)
			continue;
		it->noff = n;
		memset(&it->reqs, 0, sizeof(it->reqs));
		if (win) {
			memset(&it->labels, 0, sizeof(it->labels));
			if (kp_labels_copy(&it->labels, &cat->arena, &bt->labels) ||
			    kp_labels_set(&it->labels, &cat->arena, KP_LABEL_OS, "windows")) {
				rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
				break;
			}
			kp_itype_windows_pods(it);
		}
		if ((rc = kp_itype_aws_kubelet(it, &kk, c->family, eb))) {
			kp_err_prefix(eb, "EC2NodeClass %s: ", c->name);
			break;
		}
		if (!(rc = kp_itype_finish(it, &cat->arena, eb)))
			rc = kp_catalog_add(cat, it);
	}
	kp_arena_free(&ka);
	if (rc) {
		kp_catalog_free(cat);
		free(cat);
		return rc;
	}
	kp_catalog_sort(cat);
	if (c->cat) {
		struct kp_catalog **r = realloc(w->retired, (size_t)(w->nretired + 1) * sizeof(*r));

		if (r) {
			w->retired = r;
			w->retired[w->nretired++] = c->cat;
		} else {
			kp_catalog_free(c->cat);
			free(c->cat);
		}
	}
	c->cat = cat;
	c->cat_gen = gen;
	return KP_OK;
}

/* The class of a claim: its nodeClassRef, else the one its NodePool's
 * instance types were asked with. Under the lock. */
static struct kp_aws_class *class_of_claim(struct kp_aws_cloud *w, const struct kp_nodeclaim *claim)
{
	struct kp_aws_class *c = class_find(w, claim->node_class);

	if (!c && claim->nodepool)
		c = class_find(w, json_string_value(json_object_get(w->pool_class, claim->nodepool)));
	return c;
}

/* ---- instance_types ---- */

static enum kp_cloud_err aws_instance_types(struct kp_cloud *cp, const struct kp_nodepool *np,
					    const struct kp_catalog **out, struct kp_errbuf *eb)
{
	struct kp_aws_cloud *w = aws_of(cp);
	struct kp_aws_class *c;
	const char *name = np ? np->node_class.name : NULL;
	enum kp_cloud_err e = KP_CLOUD_OK;

	*out = NULL;
	/* never an API call here (the controller's loop thread calls this):
	 * the types are loaded and refreshed by the provider's own thread */
	pthread_mutex_lock(&w->mu);
	if (!w->types) {
		pthread_mutex_unlock(&w->mu);
		return kp_cloud_errf(eb, KP_CLOUD_TRANSIENT, "instance types not loaded yet: %s",
				     w->types_err[0] ? w->types_err : "loading");
	}
	ice_prune(w);
	if (np && name)
		json_object_set_new(w->pool_class, np->name, json_string(name));
	c = name ? class_find(w, name) : (w->nclasses ? w->classes[0] : NULL);
	if (!c) {
		e = kp_cloud_errf(eb, KP_CLOUD_NODECLASS_NOT_READY, "EC2NodeClass %s not found (or not resolved yet)",
				  name ? name : "(none)");
	} else if (!c->ready) {
		e = kp_cloud_errf(eb, KP_CLOUD_NODECLASS_NOT_READY, "EC2NodeClass %s is not ready: %s", c->name, c->reason);
	} else if (class_catalog(w, c, eb)) {
		e = KP_CLOUD_INTERNAL;
	} else {
		*out = c->cat;
	}
	pthread_mutex_unlock(&w->mu);
	return e;
}

/* ---- DescribeInstances into kp_instance ---- */

struct inst_list {
	struct kp_aws_cloud *w;
	struct kp_arena *a;
	struct kp_instance *v;
	int n, cap;
	/* extra facts for drift */
	const char **subnet;
	const char **sgs;            /* comma-joined group ids */
};

static enum kp_instance_state state_of(const char *s)
{
	if (!s)
		return KP_INSTANCE_PENDING;
	if (strcmp(s, "running") == 0)
		return KP_INSTANCE_RUNNING;
	if (strcmp(s, "pending") == 0)
		return KP_INSTANCE_PENDING;
	if (strcmp(s, "terminated") == 0)
		return KP_INSTANCE_TERMINATED;
	/* a stopped instance still exists (instance.go Get filters out only
	 * shutting-down/terminated): Delete terminates it, GC collects it */
	if (strcmp(s, "stopping") == 0 || strcmp(s, "stopped") == 0)
		return KP_INSTANCE_STOPPED;
	return KP_INSTANCE_TERMINATING; /* shutting-down */
}

/* Labels the Node will carry: the type's, zone, region, capacity type, nodepool. */
static kp_err inst_labels(struct kp_aws_cloud *w, const struct kp_itype *it, struct kp_instance *in,
			  struct kp_arena *a)
{
	kp_err rc = KP_OK;

	memset(&in->labels, 0, sizeof(in->labels));
	for (int i = 0; it && rc == KP_OK && i < it->labels.n; i++)
		rc = kp_labels_set(&in->labels, a, it->labels.kv[i].key, it->labels.kv[i].value);
	if (!rc)
		rc = kp_labels_set(&in->labels, a, KP_LABEL_INSTANCE_TYPE, in->instance_type);
	if (!rc && in->zone)
		rc = kp_labels_set(&in->labels, a, KP_LABEL_ZONE, in->zone);
	if (!rc)
		rc = kp_labels_set(&in->labels, a, KP_LABEL_REGION, kp_arena_strdup(a, w->cl->region));
	if (!rc)
		rc = kp_labels_set(&in->labels, a, KP_LABEL_CAPACITY_TYPE, kp_captype_name(in->captype));
	if (!rc && in->nodepool)
		rc = kp_labels_set(&in->labels, a, KP_LABEL_NODEPOOL, in->nodepool);
	return rc;
}

static kp_err on_reservation(void *ud, const struct kp_aws_xnode *res, struct kp_errbuf *eb)
{
	struct inst_list *L = ud;
	const struct kp_aws_xnode *set = kp_aws_xml_child(res, "instancesSet");

	for (const struct kp_aws_xnode *x = set ? set->child : NULL; x; x = x->next) {
		struct kp_instance *in;
		const struct kp_aws_xnode *tags = kp_aws_xml_child(x, "tagSet"), *groups = kp_aws_xml_child(x, "groupSet");
		const char *id = kp_aws_xml_text(x, "instanceId"), *lc = kp_aws_xml_text(x, "instanceLifecycle");
		const char *launch = kp_aws_xml_text(x, "launchTime");
		const struct kp_itype *it;
		struct kp_buf g;
		int64_t t = 0;

		if (!id)
			continue;
		if (L->n == L->cap) {
			int cap = L->cap ? L->cap * 2 : 16;
			struct kp_instance *v = kp_arena_grow(L->a, L->v, (size_t)L->n, (size_t)cap, sizeof(*v));
			const char **s1 = kp_arena_grow(L->a, L->subnet, (size_t)L->n, (size_t)cap, sizeof(*s1));
			const char **s2 = kp_arena_grow(L->a, L->sgs, (size_t)L->n, (size_t)cap, sizeof(*s2));

			if (!v || !s1 || !s2)
				return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
			L->v = v;
			L->subnet = s1;
			L->sgs = s2;
			L->cap = cap;
		}
		in = &L->v[L->n];
		memset(in, 0, sizeof(*in));
		in->instance_type = kp_arena_strdup(L->a, kp_aws_xml_text(x, "instanceType"));
		in->zone = kp_arena_strdup(L->a, kp_aws_xml_text(x, "placement/availabilityZone"));
		in->image_id = kp_arena_strdup(L->a, kp_aws_xml_text(x, "imageId"));
		in->provider_id = kp_arena_printf(L->a, "aws:///%s/%s", in->zone ? in->zone : "", id);
		in->state = state_of(kp_aws_xml_text(x, "instanceState/name"));
		/* spot: SpotInstanceRequestId (Karpenter) or InstanceLifecycle=spot (moto) */
		in->captype = (kp_aws_xml_text(x, "spotInstanceRequestId") && *kp_aws_xml_text(x, "spotInstanceRequestId")) ||
					      (lc && strcmp(lc, "spot") == 0)
				      ? KP_CAP_SPOT
			      : kp_aws_xml_text(x, "capacityReservationId") && *kp_aws_xml_text(x, "capacityReservationId")
				      ? KP_CAP_RESERVED
				      : KP_CAP_ON_DEMAND;
		if (launch && !kp_parse_rfc3339(launch, &t))
			in->launched = t;
		for (const struct kp_aws_xnode *tg = tags ? tags->child : NULL; tg; tg = tg->next) {
			const char *k = kp_aws_xml_text(tg, "key"), *v = kp_aws_xml_text(tg, "value");

			if (k && strcmp(k, KP_AWS_TAG_NODEPOOL) == 0)
				in->nodepool = kp_arena_strdup(L->a, v);
			else if (k && strcmp(k, KP_AWS_TAG_NODECLAIM) == 0)
				in->nodeclaim = kp_arena_strdup(L->a, v);
		}
		kp_buf_init(&g, 1 << 16);
		for (const struct kp_aws_xnode *gi = groups ? groups->child : NULL; gi; gi = gi->next)
			if (kp_aws_xml_text(gi, "groupId"))
				kp_buf_printf(&g, "%s%s", g.len ? "," : "", kp_aws_xml_text(gi, "groupId"));
		L->sgs[L->n] = kp_arena_strdup(L->a, g.data ? g.data : "");
		kp_buf_free(&g);
		L->subnet[L->n] = kp_arena_strdup(L->a, kp_aws_xml_text(x, "subnetId"));
		it = in->instance_type ? kp_catalog_find(L->w->base, in->instance_type) : NULL;
		if (it) {
			in->capacity = it->capacity;
			in->allocatable = it->allocatable;
			in->price = base_price(it, in->captype, in->zone);
		}
		if (inst_labels(L->w, it, in, L->a))
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		L->n++;
	}
	return KP_OK;
}

static const char *instance_id(const char *pid)
{
	const char *s = pid ? strrchr(pid, '/') : NULL;

	return s && strncmp(s + 1, "i-", 2) == 0 ? s + 1 : NULL;
}

static void add_state_filter(struct kp_aws_params *p, int nf)
{
	kp_aws_params_addf(p, "instance-state-name", "Filter.%d.Name", nf);
	for (int i = 0; i < STATE_FILTER_N; i++)
		kp_aws_params_addf(p, LIVE_STATES[i], "Filter.%d.Value.%d", nf, i + 1);
}

/* DescribeInstances of one id (live states). NOT_FOUND when gone. */
static enum kp_cloud_err describe_one(struct kp_aws_cloud *w, const char *pid, struct kp_arena *a,
				      struct inst_list *L, struct kp_errbuf *eb)
{
	const char *id = instance_id(pid);
	struct kp_aws_params p;
	kp_err rc;

	memset(L, 0, sizeof(*L));
	L->w = w;
	L->a = a;
	if (!id)
		return kp_cloud_errf(eb, KP_CLOUD_NOT_FOUND, "provider id \"%s\" is not an AWS instance", pid ? pid : "");
	kp_aws_params_init(&p, "DescribeInstances", KP_AWS_EC2_VERSION);
	kp_aws_params_add(&p, "InstanceId.1", id);
	add_state_filter(&p, 1);
	rc = kp_aws_ec2_each(w, &p, "reservationSet", on_reservation, L, eb);
	kp_aws_params_free(&p);
	if (rc == KP_ERR_NOTFOUND)
		return kp_cloud_errf(eb, KP_CLOUD_NOT_FOUND, "instance %s not found", id);
	if (rc)
		return rc == KP_ERR_IO ? KP_CLOUD_TRANSIENT : KP_CLOUD_INTERNAL;
	if (L->n == 0)
		return kp_cloud_errf(eb, KP_CLOUD_NOT_FOUND, "instance %s not found", id);
	return KP_CLOUD_OK;
}

static enum kp_cloud_err aws_get(struct kp_cloud *cp, const char *provider_id, struct kp_arena *a,
				 struct kp_instance *out, struct kp_errbuf *eb)
{
	struct inst_list L;
	enum kp_cloud_err e = describe_one(aws_of(cp), provider_id, a, &L, eb);

	memset(out, 0, sizeof(*out));
	if (!e)
		*out = L.v[0];
	return e;
}

static enum kp_cloud_err aws_list(struct kp_cloud *cp, struct kp_arena *a, struct kp_instance **out, int *n,
				  struct kp_errbuf *eb)
{
	struct kp_aws_cloud *w = aws_of(cp);
	struct inst_list L = { w, a, NULL, 0, 0, NULL, NULL };
	struct kp_aws_params p;
	char tagname[300];
	kp_err rc;

	*out = NULL;
	*n = 0;
	/* instance.go List: tag-key nodepool, tag-key ec2nodeclass, cluster tag, live states */
	kp_aws_params_init(&p, "DescribeInstances", KP_AWS_EC2_VERSION);
	kp_aws_params_add(&p, "Filter.1.Name", "tag-key");
	kp_aws_params_add(&p, "Filter.1.Value.1", KP_AWS_TAG_NODEPOOL);
	kp_aws_params_add(&p, "Filter.2.Name", "tag-key");
	kp_aws_params_add(&p, "Filter.2.Value.1", KP_AWS_TAG_NODECLASS);
	snprintf(tagname, sizeof(tagname), "tag:%s", KP_AWS_TAG_CLUSTER);
	kp_aws_params_add(&p, "Filter.3.Name", tagname);
	kp_aws_params_add(&p, "Filter.3.Value.1", w->cluster);
	add_state_filter(&p, 4);
	kp_aws_params_add(&p, "MaxResults", "1000");
	rc = kp_aws_ec2_each(w, &p, "reservationSet", on_reservation, &L, eb);
	kp_aws_params_free(&p);
	if (rc)
		return rc == KP_ERR_IO ? KP_CLOUD_TRANSIENT : KP_CLOUD_INTERNAL;
	*out = L.v;
	*n = L.n;
	return KP_CLOUD_OK;
}

static enum kp_cloud_err aws_delete(struct kp_cloud *cp, const char *provider_id, struct kp_errbuf *eb)
{
	struct kp_aws_cloud *w = aws_of(cp);
	struct kp_arena a;
	struct inst_list L;
	enum kp_cloud_err e;
	kp_err rc;

	/* instance.go Delete: TerminateInstances unless already shutting-down
	 * (a stopped instance is terminated) */
	kp_arena_init(&a);
	e = describe_one(w, provider_id, &a, &L, eb);
	if (e || L.v[0].state == KP_INSTANCE_TERMINATING) {
		kp_arena_free(&a);
		return e;
	}
	kp_arena_free(&a);
	rc = kp_aws_term_call(w, instance_id(provider_id), eb);   /* batched (terminate.c) */
	if (rc == KP_ERR_NOTFOUND)
		return kp_cloud_errf(eb, KP_CLOUD_NOT_FOUND, "instance %s not found", instance_id(provider_id));
	if (rc)
		return rc == KP_ERR_IO ? KP_CLOUD_TRANSIENT : KP_CLOUD_INTERNAL;
	return KP_CLOUD_OK;
}

/* ---- launch ---- */

struct pick {
	const struct kp_itype *it;
	const struct kp_offering *o;
	const struct kp_aws_subnet *sn;
	const struct kp_aws_ami *ami;
	char cr[64];                  /* capacity reservation targeted (reserved only) */
};

static int pick_cmp(const void *x, const void *y)
{
	const struct pick *a = x, *b = y;
	int c;

	if (a->o->price != b->o->price)
		return a->o->price < b->o->price ? -1 : 1;
	if ((c = strcmp(a->it->name, b->it->name)))
		return c;
	return strcmp(a->o->zone, b->o->zone);
}

static const struct kp_aws_subnet *zonal_subnet(const struct kp_aws_class *c, const char *zone)
{
	const struct kp_aws_subnet *best = NULL;

	for (int i = 0; i < c->nsub; i++)
		if (strcmp(c->subnets[i].zone, zone) == 0 && (!best || c->subnets[i].free_ips > best->free_ips))
			best = &c->subnets[i];
	return best;
}

static void add_tags(struct kp_aws_params *p, const char *prefix, int *nt, const char *k, const char *v)
{
	(*nt)++;
	kp_aws_params_addf(p, k, "%s.Tag.%d.Key", prefix, *nt);
	kp_aws_params_addf(p, v, "%s.Tag.%d.Value", prefix, *nt);
}

/* spec.tags plus Karpenter's own (instance.go getTags). */
static void fleet_tags(struct kp_aws_cloud *w, const struct kp_aws_class *c, const struct kp_nodeclaim *claim,
		       struct kp_aws_params *p, const char *prefix)
{
	const char *k;
	json_t *v;
	char ck[300];
	int nt = 0;

	json_object_foreach(json_object_get(c->spec, "tags"), k, v)
		if (json_string_value(v))
			add_tags(p, prefix, &nt, k, json_string_value(v));
	snprintf(ck, sizeof(ck), "kubernetes.io/cluster/%s", w->cluster);
	add_tags(p, prefix, &nt, ck, "owned");
	add_tags(p, prefix, &nt, KP_AWS_TAG_CLUSTER, w->cluster);
	add_tags(p, prefix, &nt, KP_AWS_TAG_NODECLASS, c->name);
	if (claim && claim->nodepool)
		add_tags(p, prefix, &nt, KP_AWS_TAG_NODEPOOL, claim->nodepool);
	if (claim && claim->name)
		add_tags(p, prefix, &nt, KP_AWS_TAG_NODECLAIM, claim->name);
}

/* Block devices: spec.blockDeviceMappings, else the family's default. */
static void add_bdms(const struct kp_aws_class *c, struct kp_aws_params *p)
{
	json_t *bdms = json_object_get(c->spec, "blockDeviceMappings"), *b;
	size_t i;

	if (!json_array_size(bdms)) {
		bool br = strcmp(c->family, "Bottlerocket") == 0, win = kp_aws_family_windows(c->family);
		bool sda = win || strcmp(c->family, "Ubuntu") == 0; /* v0.37 ubuntu.go: /dev/sda1 20Gi */

		kp_aws_params_add(p, "LaunchTemplateData.BlockDeviceMapping.1.DeviceName", sda ? "/dev/sda1" : "/dev/xvda");
		kp_aws_params_add(p, "LaunchTemplateData.BlockDeviceMapping.1.Ebs.VolumeSize", br ? "4" : win ? "50" : "20");
		kp_aws_params_add(p, "LaunchTemplateData.BlockDeviceMapping.1.Ebs.VolumeType", "gp3");
		kp_aws_params_add(p, "LaunchTemplateData.BlockDeviceMapping.1.Ebs.Encrypted", "true");
		if (br) {
			kp_aws_params_add(p, "LaunchTemplateData.BlockDeviceMapping.2.DeviceName", "/dev/xvdb");
			kp_aws_params_add(p, "LaunchTemplateData.BlockDeviceMapping.2.Ebs.VolumeSize", "20");
			kp_aws_params_add(p, "LaunchTemplateData.BlockDeviceMapping.2.Ebs.VolumeType", "gp3");
			kp_aws_params_add(p, "LaunchTemplateData.BlockDeviceMapping.2.Ebs.Encrypted", "true");
		}
		return;
	}
	json_array_foreach(bdms, i, b) {
		json_t *ebs = json_object_get(b, "ebs");
		int64_t gib;
		int n = (int)i + 1;

		if (json_string_value(json_object_get(b, "deviceName")))
			kp_aws_params_addf(p, json_string_value(json_object_get(b, "deviceName")),
					   "LaunchTemplateData.BlockDeviceMapping.%d.DeviceName", n);
		if (kp_aws_volume_gib(json_object_get(ebs, "volumeSize"), &gib) > 0) {
			char v[32];

			snprintf(v, sizeof(v), "%lld", (long long)gib);
			kp_aws_params_addf(p, v, "LaunchTemplateData.BlockDeviceMapping.%d.Ebs.VolumeSize", n);
		}
		if (json_string_value(json_object_get(ebs, "snapshotID")))
			kp_aws_params_addf(p, json_string_value(json_object_get(ebs, "snapshotID")),
					   "LaunchTemplateData.BlockDeviceMapping.%d.Ebs.SnapshotId", n);
		if (json_string_value(json_object_get(ebs, "volumeType")))
			kp_aws_params_addf(p, json_string_value(json_object_get(ebs, "volumeType")),
					   "LaunchTemplateData.BlockDeviceMapping.%d.Ebs.VolumeType", n);
		if (json_is_boolean(json_object_get(ebs, "encrypted")))
			kp_aws_params_addf(p, json_is_true(json_object_get(ebs, "encrypted")) ? "true" : "false",
					   "LaunchTemplateData.BlockDeviceMapping.%d.Ebs.Encrypted", n);
		if (json_is_boolean(json_object_get(ebs, "deleteOnTermination")))
			kp_aws_params_addf(p, json_is_true(json_object_get(ebs, "deleteOnTermination")) ? "true" : "false",
					   "LaunchTemplateData.BlockDeviceMapping.%d.Ebs.DeleteOnTermination", n);
		if (json_integer_value(json_object_get(ebs, "iops"))) {
			char v[32];

			snprintf(v, sizeof(v), "%lld", (long long)json_integer_value(json_object_get(ebs, "iops")));
			kp_aws_params_addf(p, v, "LaunchTemplateData.BlockDeviceMapping.%d.Ebs.Iops", n);
		}
		if (json_integer_value(json_object_get(ebs, "throughput"))) {
			char v[32];

			snprintf(v, sizeof(v), "%lld", (long long)json_integer_value(json_object_get(ebs, "throughput")));
			kp_aws_params_addf(p, v, "LaunchTemplateData.BlockDeviceMapping.%d.Ebs.Throughput", n);
		}
		if (json_string_value(json_object_get(ebs, "kmsKeyID")))
			kp_aws_params_addf(p, json_string_value(json_object_get(ebs, "kmsKeyID")),
					   "LaunchTemplateData.BlockDeviceMapping.%d.Ebs.KmsKeyId", n);
	}
}

/* The class-level part of a launch template's name: what the class and
 * its resolution decide (cluster, class, spec hash, AMI, profile, security
 * groups, capacity reservation). Launch-template gc keeps a template whose
 * name starts with one of a class's current values. */
static uint64_t lt_class_hash(struct kp_aws_cloud *w, const struct kp_aws_class *c, const struct kp_aws_ami *ami,
			      const char *cr)
{
	uint64_t h = 14695981039346656037ULL;

	if (cr && *cr)
		h = fnv(h, cr);
	h = fnv(h, w->cluster);
	h = fnv(h, c->name);
	h = fnv(h, c->hash);
	h = fnv(h, ami->id);
	h = fnv(h, c->profile);
	for (int i = 0; i < c->nsg; i++)
		h = fnv(h, c->sgs[i].id);
	return h;
}

/* Name of the launch template for (class, AMI, reservation, NodePool,
 * capacity type, user data): "karpenter.k8s.aws/<hash of the options>"
 * (launchtemplate.go LaunchTemplateName hashes the whole amifamily.Options,
 * tags included, so templates are per NodePool: they carry its tag). The
 * hash is 32 hex digits: 16 of lt_class_hash, then 16 of the rest. */
static void lt_name(struct kp_aws_cloud *w, const struct kp_aws_class *c, const struct kp_aws_ami *ami, const char *cr,
		    const char *pool, enum kp_captype ct, const char *ud, char *buf, size_t n)
{
	uint64_t h = 14695981039346656037ULL;

	h = fnv(h, pool ? pool : "");
	h = fnv(fnv(h, "|"), kp_captype_name(ct));
	h = fnv(fnv(h, "|"), ud ? ud : "");
	snprintf(buf, n, "karpenter.k8s.aws/%016" PRIx64 "%016" PRIx64, lt_class_hash(w, c, ami, cr), h);
}

/* The tags of a launch template and of what it launches
 * (launchtemplate.go createLaunchTemplate, utils.GetTags): spec.tags,
 * kubernetes.io/cluster/<cluster>=owned, eks:eks-cluster-name, the class
 * and the NodePool. The shipped IAM policy requires the NodePool tag on
 * CreateLaunchTemplate (aws:RequestTag) and on DeleteLaunchTemplate
 * (aws:ResourceTag). */
static void lt_tags(struct kp_aws_cloud *w, const struct kp_aws_class *c, const char *pool, struct kp_aws_params *p,
		    const char *prefix)
{
	struct kp_nodeclaim anon;

	memset(&anon, 0, sizeof(anon));
	anon.nodepool = pool;
	fleet_tags(w, c, &anon, p, prefix);
}

/* launchtemplate.go ensureLaunchTemplate: find by name, else create.
 * ud is the user data (plain text, base64 here), pool and ct the NodePool
 * and capacity type it is for. */
static kp_err ensure_lt(struct kp_aws_cloud *w, const struct kp_aws_class *c, const struct kp_aws_ami *ami,
			const char *cr, const char *pool, enum kp_captype ct, const char *ud, const char *name,
			struct kp_errbuf *eb)
{
	struct kp_aws_params p;
	struct kp_aws_resp r;
	struct kp_arena a;
	const json_t *md = json_object_get(c->spec, "metadataOptions");
	char *ud64;
	char hop[16];
	kp_err rc;

	pthread_mutex_lock(&w->mu);
	rc = json_object_get(w->lts, name) ? KP_OK : KP_ERR_NOTFOUND;
	pthread_mutex_unlock(&w->mu);
	if (!rc)
		return KP_OK;
	kp_arena_init(&a);
	kp_aws_params_init(&p, "DescribeLaunchTemplates", KP_AWS_EC2_VERSION);
	kp_aws_params_add(&p, "LaunchTemplateName.1", name);
	rc = kp_aws_query(w->cl, "ec2", &p, false, false, &a, &r, eb);
	kp_aws_params_free(&p);
	if (rc == KP_ERR_NOTFOUND) {
		ud64 = ud ? b64(ud) : NULL;
		kp_aws_params_init(&p, "CreateLaunchTemplate", KP_AWS_EC2_VERSION);
		kp_aws_params_add(&p, "LaunchTemplateName", name);
		kp_aws_params_add(&p, "LaunchTemplateData.ImageId", ami->id);
		if (ud64 && *ud64)
			kp_aws_params_add(&p, "LaunchTemplateData.UserData", ud64);
		free(ud64);
		kp_aws_params_add(&p, "LaunchTemplateData.IamInstanceProfile.Name", c->profile);
		kp_aws_params_add(&p, "LaunchTemplateData.Monitoring.Enabled",
				  json_is_true(json_object_get(c->spec, "detailedMonitoring")) ? "true" : "false");
		snprintf(hop, sizeof(hop), "%lld",
			 json_integer_value(json_object_get(md, "httpPutResponseHopLimit"))
				 ? (long long)json_integer_value(json_object_get(md, "httpPutResponseHopLimit"))
				 : c->v1beta1 ? 2LL : 1LL); /* the CRD default: 2 in v1beta1, 1 in v1 */
		kp_aws_params_add(&p, "LaunchTemplateData.MetadataOptions.HttpEndpoint",
				  or(json_string_value(json_object_get(md, "httpEndpoint")), "enabled"));
		kp_aws_params_add(&p, "LaunchTemplateData.MetadataOptions.HttpProtocolIpv6",
				  or(json_string_value(json_object_get(md, "httpProtocolIPv6")), "disabled"));
		kp_aws_params_add(&p, "LaunchTemplateData.MetadataOptions.HttpPutResponseHopLimit", hop);
		kp_aws_params_add(&p, "LaunchTemplateData.MetadataOptions.HttpTokens",
				  or(json_string_value(json_object_get(md, "httpTokens")), "required"));
		kp_aws_params_add(&p, "LaunchTemplateData.MetadataOptions.InstanceMetadataTags", "disabled");
		add_bdms(c, &p);
		kp_aws_params_add(&p, "LaunchTemplateData.NetworkInterface.1.DeviceIndex", "0");
		for (int i = 0; i < c->nsg; i++)
			kp_aws_params_addf(&p, c->sgs[i].id, "LaunchTemplateData.NetworkInterface.1.SecurityGroupId.%d", i + 1);
		if (json_is_boolean(json_object_get(c->spec, "associatePublicIPAddress")))
			kp_aws_params_add(&p, "LaunchTemplateData.NetworkInterface.1.AssociatePublicIpAddress",
					  json_is_true(json_object_get(c->spec, "associatePublicIPAddress")) ? "true" : "false");
		/* launchtemplate.go: a reserved launch targets its reservation */
		if (cr && *cr)
			kp_aws_params_add(&p,
					  "LaunchTemplateData.CapacityReservationSpecification.CapacityReservationTarget."
					  "CapacityReservationId",
					  cr);
		/* what the template launches is tagged as the template */
		{
			static const char *const kinds[] = { "instance", "volume", "network-interface",
							     "spot-instances-request" };
			char pre[64];

			for (int i = 0; i < (ct == KP_CAP_SPOT ? 4 : 3); i++) {
				snprintf(pre, sizeof(pre), "LaunchTemplateData.TagSpecification.%d", i + 1);
				kp_aws_params_addf(&p, kinds[i], "%s.ResourceType", pre);
				lt_tags(w, c, pool, &p, pre);
			}
		}
		kp_aws_params_add(&p, "TagSpecification.1.ResourceType", "launch-template");
		lt_tags(w, c, pool, &p, "TagSpecification.1");
		rc = kp_aws_query(w->cl, "ec2", &p, true, false, &a, &r, eb);
		kp_aws_params_free(&p);
		if (rc && strstr(r.code, "AlreadyExists"))
			rc = KP_OK;
	}
	kp_arena_free(&a);
	if (!rc) {
		pthread_mutex_lock(&w->mu);
		json_object_set_new(w->lts, name, json_true());
		pthread_mutex_unlock(&w->mu);
	}
	return rc;
}

static void lt_forget(struct kp_aws_cloud *w, const char *name)
{
	pthread_mutex_lock(&w->mu);
	json_object_del(w->lts, name);
	pthread_mutex_unlock(&w->mu);
}

/* A launch into reservation id of class: one instance fewer left until the
 * next DescribeCapacityReservations (capacityreservation provider's
 * MarkLaunched); the catalogs are rebuilt so the offering follows. */
static void cr_launched(struct kp_aws_cloud *w, const char *klass, const char *id)
{
	struct kp_aws_class *c;

	pthread_mutex_lock(&w->mu);
	c = class_find(w, klass);
	for (int i = 0; c && i < c->ncr; i++)
		if (strcmp(c->crs[i].id, id) == 0 && c->crs[i].avail > 0) {
			c->crs[i].avail--;
			w->ice_gen++;
		}
	pthread_mutex_unlock(&w->mu);
}

/* A metal type or one with GPUs or accelerators (instance.go
 * filterExoticInstanceTypes: instance-size containing "metal", or any
 * Neuron, NeuronCore, AMD GPU, NVIDIA GPU or Habana Gaudi capacity). */
static bool exotic_type(const struct kp_itype *it)
{
	const char *size = kp_labels_get(&it->labels, "karpenter.k8s.aws/instance-size");

	return (size && strstr(size, "metal")) || it->capacity.v[KP_RES_NEURON] > 0 ||
	       it->capacity.v[KP_RES_NEURONCORE] > 0 || it->capacity.v[KP_RES_AMD_GPU] > 0 ||
	       it->capacity.v[KP_RES_NVIDIA_GPU] > 0 || it->capacity.v[KP_RES_GAUDI] > 0;
}

/* An offering the launch may use: available, compatible with the claim,
 * of a capacity type it allows. */
static bool launchable(const struct kp_offering *o, const struct kp_nodeclaim *claim, const struct kp_req *ctr)
{
	return o->available && (!ctr || kp_req_has(ctr, kp_captype_name(o->captype))) &&
	       kp_offering_compatible(o, &claim->reqs);
}

/* Marks in drop[] the candidate types (ok[]) the launch leaves out before
 * CreateFleet (instance.go filterInstanceTypes): exotic types when any
 * other candidate remains (filterExoticInstanceTypes), then, when the
 * claim allows both spot and on-demand and the candidates offer both
 * (isMixedCapacityLaunch), every type whose cheapest offering costs more
 * than the cheapest on-demand offering (filterUnwantedSpot). */
static void filter_types(const struct kp_catalog *cat, const struct kp_nodeclaim *claim, const struct kp_req *ctr,
			 const bool *ok, bool *drop)
{
	bool generic = false, has_spot = false, has_od = false;
	double cheapest_od = 0;

	for (int i = 0; i < cat->n; i++)
		generic |= ok[i] && !exotic_type(cat->types[i]);
	for (int i = 0; i < cat->n; i++)
		drop[i] = !ok[i] || (generic && exotic_type(cat->types[i]));
	if (ctr && (!kp_req_has(ctr, "spot") || !kp_req_has(ctr, "on-demand")))
		return;
	for (int i = 0; i < cat->n; i++)
		for (int j = 0; !drop[i] && j < cat->types[i]->noff; j++) {
			const struct kp_offering *o = &cat->types[i]->off[j];

			if (!launchable(o, claim, ctr))
				continue;
			has_spot |= o->captype == KP_CAP_SPOT;
			if (o->captype == KP_CAP_ON_DEMAND) {
				if (!has_od || o->price < cheapest_od)
					cheapest_od = o->price;
				has_od = true;
			}
		}
	if (!has_spot || !has_od)
		return;
	for (int i = 0; i < cat->n; i++) {
		double cheapest = -1;

		for (int j = 0; !drop[i] && j < cat->types[i]->noff; j++)
			if (launchable(&cat->types[i]->off[j], claim, ctr) &&
			    (cheapest < 0 || cat->types[i]->off[j].price < cheapest))
				cheapest = cat->types[i]->off[j].price;
		if (cheapest > cheapest_od)
			drop[i] = true;
	}
}

/* Picks the capacity type and the offerings to send (instance.go). Under the lock. */
static enum kp_cloud_err choose(struct kp_aws_cloud *w, struct kp_aws_class *c, const struct kp_nodeclaim *claim,
				struct pick **out, int *nout, enum kp_captype *ct, struct kp_errbuf *eb)
{
	static const enum kp_captype order[] = { KP_CAP_RESERVED, KP_CAP_SPOT, KP_CAP_ON_DEMAND };
	const struct kp_catalog *cat = c->cat;
	const struct kp_req *itr = kp_reqs_get(&claim->reqs, KP_LABEL_INSTANCE_TYPE);
	const struct kp_req *ctr = kp_reqs_get(&claim->reqs, KP_LABEL_CAPACITY_TYPE);
	struct pick *v = calloc((size_t)(cat->n ? cat->n : 1) * 12, sizeof(*v));
	int n = 0, ncompat = 0, cap = (cat->n ? cat->n : 1) * 12;
	const char *name = claim->name ? claim->name : "(unnamed)";
	bool *ok = calloc((size_t)(cat->n ? cat->n : 1) * 2, sizeof(*ok)), *drop = ok ? ok + cat->n : NULL;

	(void)w;
	*out = NULL;
	*nout = 0;
	if (!v || !ok) {
		free(v);
		free(ok);
		return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "out of memory");
	}
	/* the candidates: compatible, fitting, with an AMI for their architecture */
	for (int i = 0; i < cat->n; i++) {
		const struct kp_itype *it = cat->types[i];

		if (itr && !kp_req_has(itr, it->name))
			continue;
		if (!kp_reqs_compatible(&claim->reqs, &it->reqs, NULL) || !kp_res_fits(&claim->requests, &it->allocatable, NULL))
			continue;
		if (!kp_aws_class_ami(c, kp_labels_get(&it->labels, KP_LABEL_ARCH) ? kp_labels_get(&it->labels, KP_LABEL_ARCH)
										     : "amd64"))
			continue;
		ncompat++;
		for (int j = 0; j < it->noff && !ok[i]; j++)
			ok[i] = launchable(&it->off[j], claim, ctr) && zonal_subnet(c, it->off[j].zone);
	}
	filter_types(cat, claim, ctr, ok, drop);
	for (size_t k = 0; k < KP_ARRAY_LEN(order) && n == 0; k++) {
		if (ctr && !kp_req_has(ctr, kp_captype_name(order[k])))
			continue;
		for (int i = 0; i < cat->n; i++) {
			const struct kp_itype *it = cat->types[i];
			const struct kp_aws_ami *ami;

			if (drop[i])
				continue;
			ami = kp_aws_class_ami(c, kp_labels_get(&it->labels, KP_LABEL_ARCH) ? kp_labels_get(&it->labels, KP_LABEL_ARCH) : "amd64");
			if (!ami)
				continue;
			for (int j = 0; j < it->noff && n < cap; j++) {
				const struct kp_offering *o = &it->off[j];
				const struct kp_aws_subnet *sn;

				if (o->captype != order[k] || !o->available || !kp_offering_compatible(o, &claim->reqs))
					continue;
				if (!(sn = zonal_subnet(c, o->zone)))
					continue;
				v[n] = (struct pick){ it, o, sn, ami, "" };
				if (o->captype == KP_CAP_RESERVED) {
					/* the reservation of that type and zone with the most left */
					const struct kp_aws_cr *best = NULL;

					for (int r = 0; r < c->ncr; r++)
						if (strcmp(c->crs[r].type, it->name) == 0 &&
						    strcmp(c->crs[r].zone, o->zone) == 0 && c->crs[r].avail > 0 &&
						    (!best || c->crs[r].avail > best->avail))
							best = &c->crs[r];
					if (!best)
						continue;
					copy(v[n].cr, sizeof(v[n].cr), best->id);
				}
				n++;
			}
		}
		if (n)
			*ct = order[k];
	}
	free(ok);
	if (n == 0) {
		free(v);
		if (ncompat == 0)
			return kp_cloud_errf(eb, KP_CLOUD_INSUFFICIENT_CAPACITY,
					     "nodeclaim %s: no instance type of EC2NodeClass %s is compatible with its "
					     "requirements and requests (and has an AMI for its architecture)",
					     name, c->name);
		return kp_cloud_errf(eb, KP_CLOUD_INSUFFICIENT_CAPACITY,
				     "nodeclaim %s: all requested instance types were unavailable during launch", name);
	}
	qsort(v, (size_t)n, sizeof(*v), pick_cmp);
	/* at most 60 distinct types, cheapest first (maxInstanceTypes) */
	{
		int keep = 0, types = 0;

		for (int i = 0; i < n; i++) {
			bool seen = false;

			for (int j = 0; j < keep && !seen; j++)
				seen = v[j].it == v[i].it;
			if (!seen && ++types > MAX_FLEET_TYPES)
				continue;
			v[keep++] = v[i];
		}
		n = keep;
	}
	*out = v;
	*nout = n;
	return KP_CLOUD_OK;
}

/* What a CreateFleet request is built from (aws_create's choices). */
struct fleet_build {
	struct kp_aws_cloud *w;
	const struct kp_aws_class *snap;
	const struct kp_nodeclaim *claim;   /* name NULL: no NodeClaim tag (a batch) */
	int nlt;
	char (*lt_names)[96];
	const struct kp_aws_ami **lt_ami;
	char (*lt_cr)[64];
	const struct pick *picks;
	int npick;
	enum kp_captype ct;
};

/* CreateFleet `instant` for n instances: one launch template config per
 * AMI with its overrides (type x zonal subnet, priority = price), the
 * capacity type's allocation strategy, tags on instance, volume, fleet. */
static void fleet_params(const struct fleet_build *b, int n, struct kp_aws_params *p)
{
	const struct pick *picks = b->picks;
	char cap[16];

	kp_aws_params_init(p, "CreateFleet", KP_AWS_EC2_VERSION);
	kp_aws_params_add(p, "Type", "instant");
	if (json_string_value(json_object_get(b->snap->spec, "context")))
		kp_aws_params_add(p, "Context", json_string_value(json_object_get(b->snap->spec, "context")));
	for (int j = 0; j < b->nlt; j++) {
		int no = 0;

		kp_aws_params_addf(p, b->lt_names[j], "LaunchTemplateConfigs.%d.LaunchTemplateSpecification.LaunchTemplateName",
				   j + 1);
		kp_aws_params_addf(p, "$Latest", "LaunchTemplateConfigs.%d.LaunchTemplateSpecification.Version", j + 1);
		for (int i = 0; i < b->npick; i++) {
			char pr[32];

			if (picks[i].ami != b->lt_ami[j] || strcmp(picks[i].cr, b->lt_cr[j]) != 0)
				continue;
			no++;
			snprintf(pr, sizeof(pr), "%.6f", picks[i].o->price);
			kp_aws_params_addf(p, picks[i].it->name, "LaunchTemplateConfigs.%d.Overrides.%d.InstanceType", j + 1, no);
			kp_aws_params_addf(p, picks[i].sn->id, "LaunchTemplateConfigs.%d.Overrides.%d.SubnetId", j + 1, no);
			kp_aws_params_addf(p, picks[i].ami->id, "LaunchTemplateConfigs.%d.Overrides.%d.ImageId", j + 1, no);
			kp_aws_params_addf(p, picks[i].o->zone, "LaunchTemplateConfigs.%d.Overrides.%d.AvailabilityZone", j + 1, no);
			kp_aws_params_addf(p, pr, "LaunchTemplateConfigs.%d.Overrides.%d.Priority", j + 1, no);
		}
	}
	kp_aws_params_add(p, "TargetCapacitySpecification.DefaultTargetCapacityType",
			  b->ct == KP_CAP_SPOT ? "spot" : b->ct == KP_CAP_RESERVED ? "reserved-capacity" : "on-demand");
	snprintf(cap, sizeof(cap), "%d", n);
	kp_aws_params_add(p, "TargetCapacitySpecification.TotalTargetCapacity", cap);
	if (b->ct == KP_CAP_SPOT)
		kp_aws_params_add(p, "SpotOptions.AllocationStrategy", "price-capacity-optimized");
	else
		kp_aws_params_add(p, "OnDemandOptions.AllocationStrategy", "lowest-price");
	kp_aws_params_add(p, "TagSpecification.1.ResourceType", "instance");
	fleet_tags(b->w, b->snap, b->claim, p, "TagSpecification.1");
	kp_aws_params_add(p, "TagSpecification.2.ResourceType", "volume");
	fleet_tags(b->w, b->snap, b->claim, p, "TagSpecification.2");
	kp_aws_params_add(p, "TagSpecification.3.ResourceType", "fleet");
	fleet_tags(b->w, b->snap, b->claim, p, "TagSpecification.3");
}

static void fleet_build_anon(void *ctx, int n, struct kp_aws_params *p)
{
	fleet_params(ctx, n, p);
}

static enum kp_cloud_err aws_create(struct kp_cloud *cp, const struct kp_nodeclaim *claim, struct kp_arena *a,
				    struct kp_instance *out, struct kp_errbuf *eb)
{
	struct kp_aws_cloud *w = aws_of(cp);
	struct kp_aws_class *c, snap;
	struct pick *picks = NULL;
	struct kp_aws_ami *amis = NULL;
	struct kp_aws_subnet *subs = NULL;
	int npick = 0, nlt = 0, na = 0;
	enum kp_captype ct = KP_CAP_ON_DEMAND;
	const struct kp_aws_ami *lt_ami[16];
	char lt_names[16][96], lt_cr[16][64];
	char *ud = NULL;
	enum kp_cloud_err e;
	struct kp_aws_params p;
	struct kp_aws_resp r;
	struct kp_arena ra;
	kp_err rc;

	memset(out, 0, sizeof(*out));
	if (!claim)
		return kp_cloud_errf(eb, KP_CLOUD_CREATE_ERROR, "create: no nodeclaim");
	if (!types_wait(w, 30000))
		return kp_cloud_errf(eb, KP_CLOUD_TRANSIENT, "instance types not loaded yet: %s",
				     w->types_err[0] ? w->types_err : "loading");
	pthread_mutex_lock(&w->mu);
	ice_prune(w);
	c = class_of_claim(w, claim);
	if (!c || !c->ready) {
		e = kp_cloud_errf(eb, KP_CLOUD_NODECLASS_NOT_READY, "nodeclaim %s: EC2NodeClass %s %s",
				  claim->name ? claim->name : "", claim->node_class ? claim->node_class : "(unknown)",
				  c ? c->reason : "not found or not resolved yet");
		pthread_mutex_unlock(&w->mu);
		return e;
	}
	if (class_catalog(w, c, eb)) {
		pthread_mutex_unlock(&w->mu);
		return KP_CLOUD_INTERNAL;
	}
	e = choose(w, c, claim, &picks, &npick, &ct, eb);
	/* a snapshot of the class for the calls made without the lock */
	snap = *c;
	snap.spec = json_incref(c->spec);
	snap.subnets = NULL;
	snap.amis = NULL;
	snap.cat = NULL;
	snap.crs = NULL;
	snap.ncr = 0;
	snap.sgs = malloc((size_t)(c->nsg ? c->nsg : 1) * sizeof(*snap.sgs));
	if (snap.sgs)
		memcpy(snap.sgs, c->sgs, (size_t)c->nsg * sizeof(*snap.sgs));
	/* AMIs used by the picks are copied: the class may be re-resolved
	 * meanwhile (at most 16 distinct AMIs, one launch template each) */
	amis = calloc(16, sizeof(*amis));
	for (int i = 0; !e && amis && i < npick; i++) {
		int j;

		for (j = 0; j < na; j++)
			if (strcmp(amis[j].id, picks[i].ami->id) == 0)
				break;
		if (j == na && na == 16) {
			picks[i].ami = NULL; /* dropped below */
			continue;
		}
		if (j == na)
			amis[na++] = *picks[i].ami;
		picks[i].ami = &amis[j];
	}
	/* the subnets likewise */
	subs = calloc((size_t)(npick ? npick : 1), sizeof(*subs));
	for (int i = 0; !e && subs && i < npick; i++) {
		subs[i] = *picks[i].sn;
		picks[i].sn = &subs[i];
	}
	pthread_mutex_unlock(&w->mu);
	if (!e && (!snap.sgs || !amis || !subs))
		e = kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "out of memory");
	if (e) {
		free(amis);
		free(subs);
		free(picks);
		free(snap.sgs);
		json_decref(snap.spec);
		return e;
	}
	/* one launch template per AMI (and reservation), for this NodePool and
	 * capacity type, with the user data in its name's hash */
	{
		struct kp_errbuf e2 = { 0 };

		if (!(ud = kp_aws_user_data(w, &snap, claim, ct, &e2))) {
			free(amis);
			free(subs);
			free(picks);
			free(snap.sgs);
			json_decref(snap.spec);
			return kp_cloud_errf(eb, KP_CLOUD_CREATE_ERROR, "EC2NodeClass %s: %s", snap.name, e2.msg);
		}
	}
	for (int i = 0; i < npick; i++) {
		int j;

		if (!picks[i].ami)
			continue;
		for (j = 0; j < nlt; j++)
			if (lt_ami[j] == picks[i].ami && strcmp(lt_cr[j], picks[i].cr) == 0)
				break;
		if (j == nlt && nlt < 16) {
			lt_ami[nlt] = picks[i].ami;
			copy(lt_cr[nlt], sizeof(lt_cr[nlt]), picks[i].cr);
			lt_name(w, &snap, picks[i].ami, picks[i].cr, claim->nodepool, ct, ud, lt_names[nlt],
				sizeof(lt_names[nlt]));
			nlt++;
		}
	}
	kp_arena_init(&ra);
	for (int attempt = 0; attempt < 2; attempt++) {
		const struct kp_aws_xnode *inst, *errs;
		const char *id = NULL;
		bool all_ice = true, lt_missing = false;
		char first_err[512] = "";

		e = KP_CLOUD_OK;
		for (int j = 0; j < nlt; j++) {
			if ((rc = ensure_lt(w, &snap, lt_ami[j], lt_cr[j], claim->nodepool, ct, ud, lt_names[j], eb))) {
				e = rc == KP_ERR_IO ? KP_CLOUD_TRANSIENT : KP_CLOUD_CREATE_ERROR;
				kp_err_prefix(eb, "launch template %s: ", lt_names[j]);
				goto done;
			}
		}
		{
			struct fleet_build fb = { w, &snap, claim, nlt, lt_names, lt_ami, lt_cr, picks, npick, ct };
			struct fleet_build fk = fb;
			struct kp_nodeclaim anon = *claim;
			struct kp_aws_params kp;
			struct kp_aws_fleet_req q = { NULL, claim->name, &p, fleet_build_anon, &fk };

			anon.name = NULL;
			fk.claim = &anon;
			fleet_params(&fb, 1, &p);
			fleet_params(&fk, 1, &kp);
			q.key = kp.failed ? NULL : kp.body.data;
			rc = kp_aws_fleet_call(w, &q, &ra, &r, eb);
			kp_aws_params_free(&kp);
		}
		kp_aws_params_free(&p);
		if (rc) {
			if (strstr(r.code, "InvalidLaunchTemplateName.NotFound") || strstr(r.code, "InvalidLaunchTemplateId.NotFound")) {
				for (int j = 0; j < nlt; j++)
					lt_forget(w, lt_names[j]);
				continue; /* instance.go: invalidate the LT cache and retry once */
			}
			if (kp_aws_code_ice(r.code)) {
				e = kp_cloud_errf(eb, KP_CLOUD_INSUFFICIENT_CAPACITY, "creating fleet: %s: %s", r.code, r.message);
				goto done;
			}
			e = rc == KP_ERR_IO ? KP_CLOUD_TRANSIENT : KP_CLOUD_CREATE_ERROR;
			kp_err_prefix(eb, "creating fleet: ");
			goto done;
		}
		/* errors feed the ICE cache (instance.go updateUnavailableOfferingsCache) */
		errs = kp_aws_xml_child(r.xml, "errorSet");
		pthread_mutex_lock(&w->mu);
		for (const struct kp_aws_xnode *x = errs ? errs->child : NULL; x; x = x->next) {
			const char *code = kp_aws_xml_text(x, "errorCode");
			const char *ty = kp_aws_xml_text(x, "launchTemplateAndOverrides/overrides/instanceType");
			const char *zn = kp_aws_xml_text(x, "launchTemplateAndOverrides/overrides/availabilityZone");

			if (!first_err[0])
				snprintf(first_err, sizeof(first_err), "%s: %s", code ? code : "?",
					 or(kp_aws_xml_text(x, "errorMessage"), ""));
			if (kp_aws_code_ice(code) && ty && zn)
				ice_mark(w, kp_captype_name(ct), ty, zn);
			else
				all_ice = false;
		}
		pthread_mutex_unlock(&w->mu);
		inst = kp_aws_xml_path(r.xml, "fleetInstanceSet/item");
		id = kp_aws_xml_text(inst, "instanceIds/item");
		if (!id) {
			if (errs && errs->child && all_ice)
				e = kp_cloud_errf(eb, KP_CLOUD_INSUFFICIENT_CAPACITY, "creating fleet: %s", first_err);
			else if (first_err[0])
				e = kp_cloud_errf(eb, KP_CLOUD_CREATE_ERROR, "creating fleet: %s", first_err);
			else
				e = kp_cloud_errf(eb, KP_CLOUD_CREATE_ERROR, "creating fleet: no instance and no error returned");
			goto done;
		}
		{
			const struct kp_aws_xnode *ov = kp_aws_xml_path(inst, "launchTemplateAndOverrides/overrides");
			const char *ty = or(kp_aws_xml_text(inst, "instanceType"), kp_aws_xml_text(ov, "instanceType"));
			const char *zn = kp_aws_xml_text(ov, "availabilityZone");
			const char *lc = kp_aws_xml_text(inst, "lifecycle");
			const struct kp_itype *it = NULL;
			const struct kp_offering *off = NULL;
			const char *crid = NULL;

			for (int i = 0; i < npick; i++)
				if (ty && strcmp(picks[i].it->name, ty) == 0 && (!zn || strcmp(picks[i].o->zone, zn) == 0)) {
					it = picks[i].it;
					off = picks[i].o;
					crid = picks[i].cr[0] ? picks[i].cr : NULL;
					if (!zn)
						zn = off->zone;
					break;
				}
			(void)lt_missing;
			out->instance_type = kp_arena_strdup(a, ty);
			out->zone = kp_arena_strdup(a, zn ? zn : "");
			out->provider_id = kp_arena_printf(a, "aws:///%s/%s", zn ? zn : "", id);
			out->nodeclaim = claim->name ? kp_arena_strdup(a, claim->name) : NULL;
			out->nodepool = claim->nodepool ? kp_arena_strdup(a, claim->nodepool) : NULL;
			out->captype = lc && strcmp(lc, "spot") == 0 ? KP_CAP_SPOT
				       : ct == KP_CAP_RESERVED       ? KP_CAP_RESERVED
				       : lc                          ? KP_CAP_ON_DEMAND
								     : ct;
			if (out->captype == KP_CAP_RESERVED && crid)
				cr_launched(w, snap.name, crid);
			out->price = off ? off->price : 0;
			out->image_id = kp_arena_strdup(a, kp_aws_xml_text(ov, "imageId"));
			out->launched = kp_aws_now_ms(w) / 1000;
			out->state = KP_INSTANCE_PENDING;
			if (!it)
				it = kp_catalog_find(w->base, ty ? ty : "");
			if (it) {
				out->capacity = it->capacity;
				out->allocatable = it->allocatable;
			}
			/* cloudprovider.go Create: the class's hash and hash version
			 * go on the NodeClaim (static drift compares them) */
			if (!out->provider_id || inst_labels(w, it, out, a) ||
			    (out->captype == KP_CAP_RESERVED && crid &&
			     kp_labels_set(&out->labels, a, KP_AWS_LABEL_CR_ID, kp_arena_strdup(a, crid))) ||
			    kp_labels_set(&out->annotations, a, KP_AWS_ANN_HASH, kp_arena_strdup(a, snap.hash)) ||
			    kp_labels_set(&out->annotations, a, KP_AWS_ANN_HASH_VERSION, KP_AWS_HASH_VERSION))
				e = kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "out of memory");
		}
		goto done;
	}
	e = kp_cloud_errf(eb, KP_CLOUD_CREATE_ERROR, "creating fleet: launch template not found after re-creating it");
done:
	kp_arena_free(&ra);
	free(ud);
	free(amis);
	free(subs);
	free(picks);
	free(snap.sgs);
	json_decref(snap.spec);
	return e;
}

/* ---- drift (pkg/cloudprovider/drift.go) ---- */

static enum kp_cloud_err aws_is_drifted(struct kp_cloud *cp, const struct kp_nodeclaim *claim, char *reason, size_t n,
					struct kp_errbuf *eb)
{
	struct kp_aws_cloud *w = aws_of(cp);
	struct kp_arena a;
	struct inst_list L;
	struct kp_aws_class *c;
	enum kp_cloud_err e;
	const char *ann;

	reason[0] = 0;
	if (!claim || !claim->provider_id)
		return KP_CLOUD_OK;
	kp_arena_init(&a);
	e = describe_one(w, claim->provider_id, &a, &L, eb);
	if (e) {
		kp_arena_free(&a);
		return e;
	}
	pthread_mutex_lock(&w->mu);
	c = class_of_claim(w, claim);
	if (c && c->ready) {
		bool ami = false, sub = false;
		const struct kp_itype *it = L.v[0].instance_type ? kp_catalog_find(w->base, L.v[0].instance_type) : NULL;
		const char *arch = it ? kp_labels_get(&it->labels, KP_LABEL_ARCH) : NULL;

		/* drift.go isAMIDrifted: the instance's image must be the AMI
		 * the class maps its instance type to (MapToInstanceTypes: the
		 * newest for its arch); a type we do not know: any of them */
		if (!arch)
			arch = kp_labels_get(&claim->labels, KP_LABEL_ARCH);
		for (int i = 0; i < c->nami && L.v[0].image_id; i++)
			if (!arch || (!c->amis[i].mac && strcmp(c->amis[i].arch, arch) == 0))
				ami |= strcmp(c->amis[i].id, L.v[0].image_id) == 0;
		for (int i = 0; i < c->nsub && L.subnet[0]; i++)
			sub |= strcmp(c->subnets[i].id, L.subnet[0]) == 0;
		ann = kp_labels_get(&claim->annotations, KP_AWS_ANN_HASH);
		if (!ami)
			snprintf(reason, n, "AMIDrift");
		else if (!sub)
			snprintf(reason, n, "SubnetDrift");
		else {
			/* security groups: the instance's set must equal the class's */
			int match = 0, total = 0;
			const char *s = L.sgs[0];

			while (s && *s) {
				const char *comma = strchr(s, ',');
				size_t k = comma ? (size_t)(comma - s) : strlen(s);

				total++;
				for (int i = 0; i < c->nsg; i++)
					if (strlen(c->sgs[i].id) == k && strncmp(c->sgs[i].id, s, k) == 0)
						match++;
				s = comma ? comma + 1 : s + k;
			}
			if (total && (match != total || total != c->nsg))
				snprintf(reason, n, "SecurityGroupDrift");
			else if (ann && kp_strcmp0(kp_labels_get(&claim->annotations, KP_AWS_ANN_HASH_VERSION),
						   KP_AWS_HASH_VERSION) == 0 && strcmp(ann, c->hash) != 0)
				/* drift.go areStaticFieldsDrifted: only when both
				 * hashes are there and their versions match */
				snprintf(reason, n, "NodeClassDrift");
		}
	}
	pthread_mutex_unlock(&w->mu);
	kp_arena_free(&a);
	return KP_CLOUD_OK;
}

/* ---- node classes ---- */

static enum kp_cloud_err aws_nodeclass_reconcile(struct kp_cloud *cp, const char *text, char **status, char **conds,
						 struct kp_errbuf *eb)
{
	struct kp_aws_cloud *w = aws_of(cp);
	json_error_t je;
	json_t *obj = json_loads(text, 0, &je), *st = NULL, *cj = NULL;
	struct kp_aws_class *c, *old;
	enum kp_cloud_err e;

	*status = *conds = NULL;
	if (!obj)
		return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "EC2NodeClass: bad JSON: %s", je.text);
	c = calloc(1, sizeof(*c));
	if (!c) {
		json_decref(obj);
		return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "out of memory");
	}
	if (kp_aws_class_resolve(w, obj, c, &st, &cj, eb)) {
		json_decref(obj);
		kp_aws_class_clear(c);
		free(c);
		return KP_CLOUD_INTERNAL;
	}
	json_decref(obj);
	*status = json_dumps(st, JSON_COMPACT);
	*conds = json_dumps(cj, JSON_COMPACT);
	json_decref(st);
	json_decref(cj);
	e = c->ready ? KP_CLOUD_OK
		     : kp_cloud_errf(eb, KP_CLOUD_NODECLASS_NOT_READY, "EC2NodeClass %s: %s", c->name, c->reason);
	pthread_mutex_lock(&w->mu);
	old = class_find(w, c->name);
	if (old) {
		/* swap the contents: pointers to the class stay valid; the old
		 * catalog is retired (a caller may still hold it) */
		struct kp_aws_class tmp = *old;

		*old = *c;
		if (tmp.cat) {
			struct kp_catalog **r = realloc(w->retired, (size_t)(w->nretired + 1) * sizeof(*r));

			if (r) {
				w->retired = r;
				w->retired[w->nretired++] = tmp.cat;
				tmp.cat = NULL;
			}
		}
		*c = tmp;
		kp_aws_class_clear(c);
		free(c);
	} else {
		struct kp_aws_class **v = realloc(w->classes, (size_t)(w->nclasses + 1) * sizeof(*v));

		if (!v) {
			kp_aws_class_clear(c);
			free(c);
		} else {
			w->classes = v;
			w->classes[w->nclasses++] = c;
		}
	}
	pthread_mutex_unlock(&w->mu);
	return e;
}

/* pkg/controllers/nodeclass/hash: the hash the hash controller writes on
 * the EC2NodeClass, the same create puts on its NodeClaims. */
static enum kp_cloud_err aws_nodeclass_hash(struct kp_cloud *cp, const char *text, struct kp_cloud_hash *out,
					    struct kp_errbuf *eb)
{
	json_error_t je;
	json_t *obj = json_loads(text, 0, &je);
	const json_t *spec = json_object_get(obj, "spec");

	(void)cp;
	if (!json_is_object(spec)) {
		json_decref(obj);
		return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "EC2NodeClass: %s", obj ? "no spec" : je.text);
	}
	kp_aws_class_hash(spec, out->value, sizeof(out->value));
	json_decref(obj);
	snprintf(out->key, sizeof(out->key), "%s", KP_AWS_ANN_HASH);
	snprintf(out->version_key, sizeof(out->version_key), "%s", KP_AWS_ANN_HASH_VERSION);
	snprintf(out->version, sizeof(out->version), "%s", KP_AWS_HASH_VERSION);
	return KP_CLOUD_OK;
}

static void aws_nodeclass_forget(struct kp_cloud *cp, const char *name)
{
	struct kp_aws_cloud *w = aws_of(cp);

	pthread_mutex_lock(&w->mu);
	for (int i = 0; i < w->nclasses; i++) {
		if (strcmp(w->classes[i]->name, name) != 0)
			continue;
		/* keep the struct alive (callers may hold its catalog): mark it not ready */
		w->classes[i]->ready = false;
		w->classes[i]->deleted = true;
		snprintf(w->classes[i]->reason, sizeof(w->classes[i]->reason), "deleted");
	}
	pthread_mutex_unlock(&w->mu);
}

/* ---- launch-template garbage collection (launchtemplate.go DeleteAll and
 * cache eviction: templates no class uses any more are deleted) ---- */

struct lt_seen {
	json_t *names;                        /* {name: class} of the cluster's templates */
};

static kp_err on_lt(void *ud, const struct kp_aws_xnode *it, struct kp_errbuf *eb)
{
	struct lt_seen *s = ud;
	const char *name = kp_aws_xml_text(it, "launchTemplateName");
	const struct kp_aws_xnode *tags = kp_aws_xml_child(it, "tagSet");

	(void)eb;
	for (const struct kp_aws_xnode *t = tags ? tags->child : NULL; name && t; t = t->next)
		if (kp_strcmp0(kp_aws_xml_text(t, "key"), KP_AWS_TAG_NODECLASS) == 0 && kp_aws_xml_text(t, "value"))
			json_object_set_new(s->names, name, json_string(kp_aws_xml_text(t, "value")));
	return KP_OK;
}

/* The cluster's launch templates ({name: class} in s->names), only those
 * tagged with class klass when it is not NULL (launchtemplate.go DeleteAll's
 * filter: the cluster tag and the class tag). */
static kp_err lt_list(struct kp_aws_cloud *w, const char *klass, struct lt_seen *s, struct kp_errbuf *eb)
{
	struct kp_aws_params p;
	kp_err rc;

	kp_aws_params_init(&p, "DescribeLaunchTemplates", KP_AWS_EC2_VERSION);
	kp_aws_params_add(&p, "Filter.1.Name", "tag:" KP_AWS_TAG_CLUSTER);
	kp_aws_params_add(&p, "Filter.1.Value.1", w->cluster);
	if (klass) {
		kp_aws_params_add(&p, "Filter.2.Name", "tag:" KP_AWS_TAG_NODECLASS);
		kp_aws_params_add(&p, "Filter.2.Value.1", klass);
	}
	kp_aws_params_add(&p, "MaxResults", "200");
	rc = kp_aws_ec2_each(w, &p, "launchTemplates", on_lt, s, eb);
	kp_aws_params_free(&p);
	return rc;
}

/* Deletes the templates named in doomed (not found counts as deleted);
 * the first failure goes into eb (prefixed with what), the others are
 * still tried. */
static kp_err lt_delete_all(struct kp_aws_cloud *w, const json_t *doomed, const char *what, int *deleted,
			    struct kp_errbuf *eb)
{
	struct kp_aws_params p;
	json_t *v;
	size_t i;
	kp_err rc = KP_OK;

	json_array_foreach(doomed, i, v) {
		struct kp_aws_resp r;
		struct kp_arena a;
		struct kp_errbuf e2 = { 0 };

		kp_arena_init(&a);
		kp_aws_params_init(&p, "DeleteLaunchTemplate", KP_AWS_EC2_VERSION);
		kp_aws_params_add(&p, "LaunchTemplateName", json_string_value(v));
		if (!kp_aws_query(w->cl, "ec2", &p, false, false, &a, &r, &e2) || strstr(r.code, "NotFound")) {
			lt_forget(w, json_string_value(v));
			(*deleted)++;
			kp_log_info(&w->log, "deleted launch template", KP_LOG_FIELDS(kp_log_str("name", json_string_value(v))));
		} else if (!rc) {
			rc = kp_errf(eb, e2.code ? e2.code : KP_ERR_IO, "%s: %s", what, e2.msg);
		}
		kp_aws_params_free(&p);
		kp_arena_free(&a);
	}
	return rc;
}

kp_err kp_cloud_aws_lt_gc(struct kp_cloud *cp, int *deleted, struct kp_errbuf *eb)
{
	struct kp_aws_cloud *w = aws_of(cp);
	struct lt_seen s = { json_object() };
	json_t *keep = json_object(), *doomed = json_array(), *v;
	const char *name;
	kp_err rc;

	*deleted = 0;
	rc = lt_list(w, NULL, &s, eb);
	if (rc) {
		kp_err_prefix(eb, "launch template gc: ");
		goto out;
	}
	/* under the lock: the templates each known class uses now */
	pthread_mutex_lock(&w->mu);
	for (int c = 0; c < w->nclasses; c++) {
		const struct kp_aws_class *k = w->classes[c];
		char nm[24];

		if (k->deleted || !k->ready)
			continue;
		for (int a = 0; a < k->nami; a++)
			for (int r = -1; r < k->ncr; r++) {
				snprintf(nm, sizeof(nm), "%016" PRIx64,
					 lt_class_hash(w, k, &k->amis[a], r < 0 ? "" : k->crs[r].id));
				json_object_set_new(keep, nm, json_true());
			}
	}
	json_object_foreach(s.names, name, v) {
		const struct kp_aws_class *k = class_find(w, json_string_value(v));
		char head[24] = "";

		/* the class-level part of the name (lt_name): every NodePool's
		 * and capacity type's template of a current (AMI, reservation) */
		if (strncmp(name, "karpenter.k8s.aws/", 18) == 0 && strlen(name) == 18 + 32)
			copy(head, 17, name + 18);
		/* a class not resolved here (yet), or not ready: left alone */
		if (!k || (!k->deleted && !k->ready) || (head[0] && json_object_get(keep, head)))
			continue;
		json_array_append_new(doomed, json_string(name));
	}
	pthread_mutex_unlock(&w->mu);
	rc = lt_delete_all(w, doomed, "launch template gc", deleted, eb);
out:
	json_decref(s.names);
	json_decref(keep);
	json_decref(doomed);
	return rc;
}

/* ---- node class termination (pkg/controllers/nodeclass/termination.go
 * finalize: the instance profile made from spec.role, then
 * launchtemplate.go DeleteAll). The controller calls it once no NodeClaim
 * uses the class, off its loop thread. ---- */

static enum kp_cloud_err aws_nodeclass_finalize(struct kp_cloud *cp, const char *name, const char *text,
						struct kp_errbuf *eb)
{
	struct kp_aws_cloud *w = aws_of(cp);
	struct lt_seen s = { json_object() };
	json_t *obj = json_loads(text, 0, NULL), *doomed = json_array(), *v;
	const char *role = json_string_value(json_object_get(json_object_get(obj, "spec"), "role"));
	char why[KP_ERRBUF_SIZE];
	const char *lt;
	int nd = 0;
	kp_err rc = KP_OK;

	if (!obj || !s.names || !doomed) {
		rc = kp_errf(eb, KP_ERR_INVALID, "EC2NodeClass %s: bad JSON", name);
		goto out;
	}
	/* only a profile the provider created (spec.role), never a given
	 * spec.instanceProfile */
	if (role && *role && (rc = kp_aws_profile_delete(w, name, eb)))
		goto out;
	if ((rc = lt_list(w, name, &s, eb))) {
		kp_err_prefix(eb, "deleting launch templates: ");
		goto out;
	}
	json_object_foreach(s.names, lt, v)
		if (kp_strcmp0(json_string_value(v), name) == 0)
			json_array_append_new(doomed, json_string(lt));
	rc = lt_delete_all(w, doomed, "deleting launch templates", &nd, eb);
out:
	json_decref(obj);
	json_decref(s.names);
	json_decref(doomed);
	if (!rc)
		return KP_CLOUD_OK;
	snprintf(why, sizeof(why), "%s", eb->msg);
	return kp_cloud_errf(eb, rc == KP_ERR_IO ? KP_CLOUD_TRANSIENT : KP_CLOUD_INTERNAL, "EC2NodeClass %s: %s", name,
			     why);
}

/* ---- interruption (pkg/controllers/interruption) ---- */

/* Adds one event of a message being parsed to evs (queued all at once). */
static void ev_push(json_t *evs, enum kp_cloud_event_kind kind, const char *id)
{
	json_array_append_new(evs, json_pack("{s:i,s:s}", "kind", (int)kind, "id", id ? id : ""));
}

/* Queues the events of one message together, tagged with its receipt
 * handle and send time, so poll_events hands them out consecutively. */
static void ev_queue(struct kp_aws_cloud *w, json_t *evs, const char *rh, int64_t sent_ms)
{
	json_t *e;
	size_t i;

	pthread_mutex_lock(&w->mu);
	json_array_foreach(evs, i, e) {
		json_object_set_new(e, "msg", rh ? json_string(rh) : json_null());
		json_object_set_new(e, "sent", json_integer(sent_ms));
		json_array_append(w->events, e);
	}
	pthread_mutex_unlock(&w->mu);
}

static const char *id_of_arn(const char *s)
{
	const char *slash = s ? strrchr(s, '/') : NULL;

	return slash ? slash + 1 : s;
}

/* Parses one EventBridge message (parser key: version, source, detail-type)
 * into evs (none for a no-op kind) and *sent_ms (the envelope's time,
 * Metadata.StartTime); false when it cannot be parsed. */
static bool handle_message(struct kp_aws_cloud *w, const char *body, json_t *evs, int64_t *sent_ms)
{
	json_t *m = json_loads(body ? body : "", 0, NULL), *d;
	const char *tm;
	int64_t t = 0;
	const char *src, *dt, *id;
	bool ok = true;

	if (!json_is_object(m)) {
		json_decref(m);
		return false;
	}
	tm = json_string_value(json_object_get(m, "time"));
	if (tm && !kp_parse_rfc3339(tm, &t))
		*sent_ms = t * 1000;
	src = json_string_value(json_object_get(m, "source"));
	dt = json_string_value(json_object_get(m, "detail-type"));
	d = json_object_get(m, "detail");
	id = json_string_value(json_object_get(d, "instance-id"));
	if (!src || !dt || !json_is_object(d)) {
		ok = false;
	} else if (strcmp(src, "aws.ec2") == 0 && strcmp(dt, "EC2 Spot Instance Interruption Warning") == 0 && id) {
		struct kp_arena a;
		struct inst_list L;
		struct kp_errbuf eb = { 0 };
		char pid[128];

		/* the offering is marked unavailable (spot:type:zone) */
		snprintf(pid, sizeof(pid), "aws:///x/%s", id);
		kp_arena_init(&a);
		if (!describe_one(w, pid, &a, &L, &eb) && L.v[0].instance_type && L.v[0].zone) {
			pthread_mutex_lock(&w->mu);
			ice_mark(w, "spot", L.v[0].instance_type, L.v[0].zone);
			pthread_mutex_unlock(&w->mu);
		}
		kp_arena_free(&a);
		ev_push(evs, KP_CLOUD_EV_SPOT_INTERRUPTED, id);
	} else if (strcmp(src, "aws.ec2") == 0 && strcmp(dt, "EC2 Instance Rebalance Recommendation") == 0 && id) {
		ev_push(evs, KP_CLOUD_EV_REBALANCE, id);
	} else if (strcmp(src, "aws.ec2") == 0 && strcmp(dt, "EC2 Instance State-change Notification") == 0 && id) {
		const char *st = json_string_value(json_object_get(d, "state"));

		if (st && (strcmp(st, "stopping") == 0 || strcmp(st, "stopped") == 0))
			ev_push(evs, KP_CLOUD_EV_STOPPED, id);
		else if (st && (strcmp(st, "shutting-down") == 0 || strcmp(st, "terminated") == 0))
			ev_push(evs, KP_CLOUD_EV_TERMINATED, id);
	} else if (strcmp(src, "aws.ec2") == 0 &&
		   strcmp(dt, "EC2 Capacity Reservation Instance Interruption Warning") == 0 && id) {
		ev_push(evs, KP_CLOUD_EV_RESERVATION_INTERRUPTED, id);
	} else if (strcmp(src, "aws.health") == 0 && strcmp(dt, "AWS Health Event") == 0) {
		const char *svc = json_string_value(json_object_get(d, "service"));
		const char *cat = json_string_value(json_object_get(d, "eventTypeCategory"));
		json_t *ents = json_object_get(d, "affectedEntities"), *e;
		size_t i;

		if (svc && cat && strcmp(svc, "EC2") == 0 && strcmp(cat, "scheduledChange") == 0)
			json_array_foreach(ents, i, e) {
				const char *v = json_string_value(json_object_get(e, "entityValue"));

				if (v)
					ev_push(evs, KP_CLOUD_EV_SCHEDULED_CHANGE, id_of_arn(v));
			}
	}
	/* other kinds: no-op, deleted (parser.go) */
	json_decref(m);
	return ok;
}

static void sleep_ms(struct kp_aws_cloud *w, int64_t ms)
{
	while (ms > 0 && !atomic_load(&w->stop)) {
		struct timespec ts = { 0, 100 * 1000000L };

		nanosleep(&ts, NULL);
		ms -= 100;
	}
}

/* DeleteMessage for every message the controller acknowledged. */
static void delete_acked(struct kp_aws_cloud *w)
{
	json_t *acks, *h;
	size_t i;

	pthread_mutex_lock(&w->mu);
	acks = w->acks;
	w->acks = json_array();
	pthread_mutex_unlock(&w->mu);
	json_array_foreach(acks, i, h) {
		json_t *dq = json_pack("{s:s,s:s}", "QueueUrl", w->queue_url, "ReceiptHandle", json_string_value(h));
		char *dt = dq ? json_dumps(dq, JSON_COMPACT) : NULL;
		struct kp_errbuf eb = { 0 };
		struct kp_aws_resp r2;

		json_decref(dq);
		/* a failure leaves the message for redelivery (at least once) */
		if (dt && kp_aws_json(w->cl, "sqs", "AmazonSQS.DeleteMessage", "1.0", dt, &r2, &eb) == KP_OK)
			kp_aws_resp_clear(&r2);
		else if (dt)
			kp_log_error(&w->log, "deleting sqs message", KP_LOG_FIELDS(kp_log_errmsg(eb.msg)));
		free(dt);
	}
	json_decref(acks);
}

static void *sqs_main(void *arg)
{
	struct kp_aws_cloud *w = arg;

	while (!atomic_load(&w->stop)) {
		if (w->queue_url[0])
			delete_acked(w);
		struct kp_aws_resp r;
		struct kp_errbuf eb = { 0 };
		json_t *req, *msgs, *m;
		char *text;
		size_t i;

		if (!w->queue_url[0]) {
			req = json_pack("{s:s}", "QueueName", w->queue);
			text = json_dumps(req, JSON_COMPACT);
			json_decref(req);
			if (text && !kp_aws_json(w->cl, "sqs", "AmazonSQS.GetQueueUrl", "1.0", text, &r, &eb) &&
			    json_string_value(json_object_get(r.json, "QueueUrl")))
				copy(w->queue_url, sizeof(w->queue_url), json_string_value(json_object_get(r.json, "QueueUrl")));
			free(text);
			kp_aws_resp_clear(&r);
			if (!w->queue_url[0]) {
				sleep_ms(w, 2000);
				continue;
			}
		}
		req = json_pack("{s:s,s:i,s:i,s:i,s:[s],s:[s]}", "QueueUrl", w->queue_url, "MaxNumberOfMessages", 10,
				"VisibilityTimeout", 20, "WaitTimeSeconds", (int)w->o.sqs_wait_s, "AttributeNames",
				"SentTimestamp", "MessageAttributeNames", "All");
		text = json_dumps(req, JSON_COMPACT);
		json_decref(req);
		if (!text || kp_aws_json(w->cl, "sqs", "AmazonSQS.ReceiveMessage", "1.0", text, &r, &eb)) {
			free(text);
			kp_aws_resp_clear(&r);
			if (strstr(r.code, "NonExistent"))
				w->queue_url[0] = 0;
			sleep_ms(w, 1000);
			continue;
		}
		free(text);
		msgs = json_object_get(r.json, "Messages");
		json_array_foreach(msgs, i, m) {
			const char *body = json_string_value(json_object_get(m, "Body"));
			const char *rh = json_string_value(json_object_get(m, "ReceiptHandle"));
			const char *st = json_string_value(json_object_get(json_object_get(m, "Attributes"), "SentTimestamp"));
			json_t *evs = json_array();
			int64_t sent_ms = 0;

			/* deleted only once the controller acted (ack_event):
			 * controller.go handleMessage, then deleteMessage */
			if (!handle_message(w, body, evs, &sent_ms)) {
				json_array_clear(evs);
				ev_push(evs, KP_CLOUD_EV_UNPARSEABLE, "");
			} else if (json_array_size(evs) == 0) {
				ev_push(evs, KP_CLOUD_EV_NOOP, "");
			}
			if (!sent_ms && st)
				kp_parse_i64(st, &sent_ms);
			ev_queue(w, evs, rh, sent_ms);
			json_decref(evs);
		}
		delete_acked(w);
		kp_aws_resp_clear(&r);
	}
	return NULL;
}

static const char *kind_name(enum kp_cloud_event_kind k)
{
	switch (k) {
	case KP_CLOUD_EV_SPOT_INTERRUPTED: return "spot_interrupted";
	case KP_CLOUD_EV_REBALANCE: return "rebalance_recommendation";
	case KP_CLOUD_EV_SCHEDULED_CHANGE: return "scheduled_change";
	case KP_CLOUD_EV_STOPPED: return "instance_stopped";
	case KP_CLOUD_EV_TERMINATED: return "instance_terminated";
	case KP_CLOUD_EV_RESERVATION_INTERRUPTED: return "capacity_reservation_interrupted";
	case KP_CLOUD_EV_UNPARSEABLE: return "unparseable";
	case KP_CLOUD_EV_NOOP: return "no_op";
	}
	return "unknown";
}

static enum kp_cloud_err aws_poll_events(struct kp_cloud *cp, struct kp_arena *a, struct kp_cloud_event **out, int *n,
					 struct kp_errbuf *eb)
{
	struct kp_aws_cloud *w = aws_of(cp);
	size_t i, k;
	json_t *e;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&w->mu);
	k = json_array_size(w->events);
	if (k) {
		struct kp_cloud_event *v = kp_arena_calloc(a, k, sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&w->mu);
			return kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "out of memory");
		}
		json_array_foreach(w->events, i, e) {
			v[i].kind = (enum kp_cloud_event_kind)json_integer_value(json_object_get(e, "kind"));
			v[i].kind_name = kind_name(v[i].kind);
			v[i].instance_id = kp_arena_strdup(a, json_string_value(json_object_get(e, "id")));
			v[i].drain = v[i].kind != KP_CLOUD_EV_REBALANCE && v[i].kind != KP_CLOUD_EV_UNPARSEABLE &&
				     v[i].kind != KP_CLOUD_EV_NOOP;
			v[i].msg = json_is_string(json_object_get(e, "msg"))
					   ? kp_arena_strdup(a, json_string_value(json_object_get(e, "msg")))
					   : NULL;
			v[i].sent_ms = (int64_t)json_integer_value(json_object_get(e, "sent"));
		}
		json_array_clear(w->events);
		*out = v;
		*n = (int)k;
	}
	pthread_mutex_unlock(&w->mu);
	return KP_CLOUD_OK;
}

static enum kp_cloud_err aws_ack_event(struct kp_cloud *cp, const char *msg, struct kp_errbuf *eb)
{
	struct kp_aws_cloud *w = aws_of(cp);
	int rc;

	pthread_mutex_lock(&w->mu);
	rc = json_array_append_new(w->acks, json_string(msg));
	pthread_mutex_unlock(&w->mu);
	return rc ? kp_cloud_errf(eb, KP_CLOUD_INTERNAL, "out of memory") : KP_CLOUD_OK;
}

/* ---- construction ---- */

static void aws_destroy(struct kp_cloud *cp)
{
	struct kp_aws_cloud *w = aws_of(cp);

	if (!w)
		return;
	atomic_store(&w->stop, 1);
	if (w->sqs_started)
		pthread_join(w->sqs, NULL);
	if (w->types_started)
		pthread_join(w->types_th, NULL);
	pthread_cond_destroy(&w->types_cv);
	for (int i = 0; i < w->nclasses; i++) {
		kp_aws_class_clear(w->classes[i]);
		free(w->classes[i]);
	}
	free(w->classes);
	for (int i = 0; i < w->nretired; i++) {
		kp_catalog_free(w->retired[i]);
		free(w->retired[i]);
	}
	free(w->retired);
	json_decref(w->types);
	json_decref(w->spot);
	json_decref(w->od);
	json_decref(w->ice);
	json_decref(w->pool_class);
	json_decref(w->lts);
	json_decref(w->events);
	json_decref(w->acks);
	free(w->cluster_ca);
	kp_aws_client_free(w->cl);
	pthread_mutex_destroy(&w->mu);
	kp_aws_fleet_fini(w);
	kp_aws_term_fini(w);
	free(w);
}

/* Repair policies (aws/karpenter-provider-aws pkg/cloudprovider
 * CloudProvider.RepairPolicies): the kubelet's Ready False or Unknown, and
 * the EKS node monitoring agent's conditions, AcceleratedHardwareReady for
 * 10 min and the others for 30. */
#define MIN_MS 60000
static const struct kp_cloud_repair_policy aws_repair[] = {
	{ "Ready", "False", 30 * MIN_MS },
	{ "Ready", "Unknown", 30 * MIN_MS },
	{ "AcceleratedHardwareReady", "False", 10 * MIN_MS },
	{ "StorageReady", "False", 30 * MIN_MS },
	{ "NetworkingReady", "False", 30 * MIN_MS },
	{ "KernelReady", "False", 30 * MIN_MS },
	{ "ContainerRuntimeReady", "False", 30 * MIN_MS },
};
#undef MIN_MS

static const struct kp_cloud_repair_policy *aws_repair_policies(struct kp_cloud *cp, int *n)
{
	(void)cp;
	*n = (int)(sizeof(aws_repair) / sizeof(aws_repair[0]));
	return aws_repair;
}

static const struct kp_cloud_ops aws_ops = {
	.version = KP_CLOUD_VERSION,
	.name = "aws",
	.create = aws_create,
	.delete = aws_delete,
	.get = aws_get,
	.list = aws_list,
	.instance_types = aws_instance_types,
	.is_drifted = aws_is_drifted,
	.destroy = aws_destroy,
	.nodeclass_reconcile = aws_nodeclass_reconcile,
	.nodeclass_forget = aws_nodeclass_forget,
	.poll_events = aws_poll_events,
	.ack_event = aws_ack_event,
	.repair_policies = aws_repair_policies,
	.nodeclass_hash = aws_nodeclass_hash,
	.tag_instance = kp_aws_tag_instance,
	.nodeclass_finalize = aws_nodeclass_finalize,
};

void kp_cloud_aws_opts_init(struct kp_cloud_aws_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->k8s_version = "1.32";
	o->cluster_cidr = "10.100.0.0/16";
}

kp_err kp_cloud_aws_new(const struct kp_cloud_aws_opts *o, struct kp_cloud **out, struct kp_errbuf *eb)
{
	struct kp_aws_cloud *w;
	struct kp_aws_config cfg = { 0 };

	*out = NULL;
	if (!o || !o->cluster || !*o->cluster)
		return kp_errf(eb, KP_ERR_INVALID, "aws: a cluster name is required (--cluster-name)");
	if (!o->base)
		return kp_errf(eb, KP_ERR_INVALID, "aws: no base catalog");
	w = calloc(1, sizeof(*w));
	if (!w)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	w->o = *o;
	if (w->o.ice_ttl_ms <= 0)
		w->o.ice_ttl_ms = 3 * 60 * 1000;
	if (w->o.types_ttl_ms <= 0)
		w->o.types_ttl_ms = 5 * 60 * 1000;
	if (w->o.sqs_wait_s <= 0)
		w->o.sqs_wait_s = 5;
	if (w->o.pricing_ttl_ms == 0)
		w->o.pricing_ttl_ms = 12 * 3600 * 1000LL;   /* pricing controller: every 12 h */
	kp_log_init(&w->log, o->log_out, "aws");
	if (w->o.sqs_wait_s > 20)
		w->o.sqs_wait_s = 20;
	copy(w->cluster, sizeof(w->cluster), o->cluster);
	copy(w->queue, sizeof(w->queue), o->interruption_queue);
	copy(w->cluster_endpoint, sizeof(w->cluster_endpoint), o->cluster_endpoint ? o->cluster_endpoint : "");
	copy(w->cluster_cidr, sizeof(w->cluster_cidr), o->cluster_cidr ? o->cluster_cidr : "10.100.0.0/16");
	copy(w->k8s_version, sizeof(w->k8s_version), o->k8s_version ? o->k8s_version : "1.32");
	w->cluster_ca = strdup(o->cluster_ca ? o->cluster_ca : "");
	w->base = o->base;
	cfg.region = o->region;
	cfg.endpoint = o->endpoint;
	cfg.profile = o->profile;
	cfg.max_attempts = o->max_attempts;
	cfg.backoff_base_ms = o->backoff_base_ms;
	cfg.pricing_endpoint = o->pricing_endpoint;
	if (kp_aws_client_new(&cfg, &w->cl, eb)) {
		free(w->cluster_ca);
		free(w);
		return eb ? eb->code : KP_ERR_INVALID;
	}
	pthread_mutex_init(&w->mu, NULL);
	kp_aws_fleet_init(w);
	kp_aws_term_init(w);
	w->fleet_idle_ms = 35;   /* createfleet.go: 35 ms idle, 1 s max */
	w->fleet_max_ms = 1000;
	w->ice = json_object();
	w->pool_class = json_object();
	w->lts = json_object();
	w->events = json_array();
	w->acks = json_array();
	w->pub.ops = &aws_ops;
	w->pub.impl = w;
	pthread_cond_init(&w->types_cv, NULL);
	if (pthread_create(&w->types_th, NULL, types_main, w) == 0) {
		w->types_started = true;
		/* Karpenter hydrates the instance types before it starts: wait
		 * (bounded) for the first answer, whatever it is */
		pthread_mutex_lock(&w->mu);
		while (w->types_tries == 0) {
			struct timespec dl;

			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_sec += 60;
			if (pthread_cond_timedwait(&w->types_cv, &w->mu, &dl) != 0)
				break;
		}
		pthread_mutex_unlock(&w->mu);
	}
	if (w->queue[0]) {
		if (pthread_create(&w->sqs, NULL, sqs_main, w) == 0)
			w->sqs_started = true;
	}
	*out = &w->pub;
	return KP_OK;
}
