/*
 * lease.c - leader election on a coordination.k8s.io/v1 Lease, with the
 * semantics of client-go's leaderelection as controller-runtime configures
 * it: lease duration 15 s, renew deadline 10 s, retry period 2 s.
 *
 * Every retry period (jittered by up to 20% while not leading) the
 * contender gets the Lease and, if it is free (no holder, or the holder has
 * not renewed it for leaseDurationSeconds as observed on OUR clock since the
 * record last changed) or already ours, writes holderIdentity, renewTime
 * (and acquireTime and leaseTransitions+1 when taking it over) with an
 * optimistic-concurrency PUT; a 409 means someone else won. A leader that
 * cannot renew for the renew deadline stops leading. Release on shutdown
 * empties holderIdentity and sets leaseDurationSeconds to 1 so a successor
 * takes over at once.
 *
 * Invariants: on_started/on_stopped alternate, starting with on_started;
 * each try is a blocking get (+ create or update) bounded by the renew
 * deadline. Cost: one or two requests per retry period.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "kube/kube_int.h"

struct kp_lease {
	struct kp_kube_loop *l;
	struct kp_lease_opts o;
	char ns[256], name[256], identity[320];
	struct kp_kube_timer timer;
	bool leader, running;
	json_t *observed;            /* last seen spec */
	int64_t observed_mono;       /* when it last changed */
	int64_t last_renew_mono;
	char holder[320];            /* last observed holder */
	uint64_t rng;
};

kp_err kp_lease_default_identity(char *buf, size_t n, struct kp_errbuf *eb)
{
	unsigned char u[16];
	char host[256];
	int w;

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u))
		return kp_errf(eb, KP_ERR_IO, "lease identity: getrandom failed");
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	w = snprintf(buf, n, "%s_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", host, u[0],
		     u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	if (w < 0 || (size_t)w >= n)
		return kp_errf(eb, KP_ERR_RANGE, "lease identity: buffer too small");
	return KP_OK;
}

kp_err kp_lease_new(struct kp_kube_loop *l, const struct kp_lease_opts *o, struct kp_lease **out,
		    struct kp_errbuf *eb)
{
	struct kp_lease *le;
	kp_err rc;

	*out = NULL;
	if (!o->ns || !o->name || strlen(o->ns) >= 256 || strlen(o->name) >= 256)
		return kp_errf(eb, KP_ERR_INVALID, "lease: namespace and name are required");
	le = calloc(1, sizeof(*le));
	if (!le)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	le->l = l;
	le->o = *o;
	memcpy(le->ns, o->ns, strlen(o->ns) + 1);
	memcpy(le->name, o->name, strlen(o->name) + 1);
	if (o->identity) {
		if (strlen(o->identity) >= sizeof(le->identity) || !*o->identity) {
			free(le);
			return kp_errf(eb, KP_ERR_INVALID, "lease: bad identity");
		}
		memcpy(le->identity, o->identity, strlen(o->identity) + 1);
	} else if ((rc = kp_lease_default_identity(le->identity, sizeof(le->identity), eb))) {
		free(le);
		return rc;
	}
	le->o.ns = le->ns;
	le->o.name = le->name;
	le->o.identity = le->identity;
	if (le->o.lease_ms <= 0)
		le->o.lease_ms = 15000;
	if (le->o.renew_deadline_ms <= 0)
		le->o.renew_deadline_ms = 10000;
	if (le->o.retry_ms <= 0)
		le->o.retry_ms = 2000;
	le->rng = (uint64_t)kp_kube_now_mono(NULL) ^ (uintptr_t)le;
	*out = le;
	return KP_OK;
}

static void tick(void *ud);

void kp_lease_start(struct kp_lease *le)
{
	le->running = true;
	kp_kube_timer_start(le->l, &le->timer, 0, tick, le);
}

bool kp_lease_is_leader(const struct kp_lease *le)
{
	return le->leader;
}

const char *kp_lease_identity(const struct kp_lease *le)
{
	return le->identity;
}

static json_t *lease_spec(struct kp_lease *le, int64_t wall, const char *acquire, int64_t transitions,
			  int64_t duration_s, const char *holder)
{
	char now[64];
	kp_kube__micro_time(wall, now, sizeof(now));
	return json_pack("{s:s, s:I, s:s, s:s, s:I}", "holderIdentity", holder, "leaseDurationSeconds",
			 (json_int_t)duration_s, "acquireTime", acquire ? acquire : now, "renewTime", now,
			 "leaseTransitions", (json_int_t)transitions);
}

/* One try; true when we hold the lease afterwards. */
static bool try_acquire_or_renew(struct kp_lease *le)
{
	struct kp_kube_client *c = kp_kube_loop_client(le->l);
	struct kp_kube_status st;
	struct kp_errbuf eb = { 0 };
	int64_t wall = kp_kube_now_wall(c->clock), mono = kp_kube_now_mono(c->clock);
	json_t *lease = NULL, *spec, *nspec, *upd = NULL;
	const char *holder;
	int64_t dur_s, trans;
	bool ok = false;

	if (kp_kube_get(c, &KP_KUBE_LEASES, le->ns, le->name, &lease, &st, &eb)) {
		if (!kp_kube_is_notfound(&st))
			return false;
		nspec = lease_spec(le, wall, NULL, 0, le->o.lease_ms / 1000, le->identity);
		lease = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "coordination.k8s.io/v1", "kind",
				  "Lease", "metadata", "name", le->name, "namespace", le->ns, "spec", nspec);
		if (!lease)
			return false;
		ok = kp_kube_create(c, &KP_KUBE_LEASES, le->ns, lease, NULL, &st, &eb) == KP_OK;
		if (ok) {
			json_decref(le->observed);
			le->observed = json_incref(json_object_get(lease, "spec"));
			le->observed_mono = mono;
		}
		json_decref(lease);
		return ok;
	}
	spec = json_object_get(lease, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(lease, "spec", spec);
	}
	if (!le->observed || !json_equal(le->observed, spec)) {
		json_decref(le->observed);
		le->observed = json_deep_copy(spec);
		le->observed_mono = mono;
	}
	holder = json_string_value(json_object_get(spec, "holderIdentity"));
	if (!holder)
		holder = "";
	if (strcmp(holder, le->holder) != 0) {
		snprintf(le->holder, sizeof(le->holder), "%s", holder);
		if (le->o.on_new_leader && *holder)
			le->o.on_new_leader(le->o.ud, holder);
	}
	dur_s = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	if (dur_s <= 0)
		dur_s = le->o.lease_ms / 1000;
	if (*holder && strcmp(holder, le->identity) != 0 && le->observed_mono + dur_s * 1000 > mono) {
		json_decref(lease);
		return false;
	}
	trans = json_integer_value(json_object_get(spec, "leaseTransitions"));
	if (strcmp(holder, le->identity) == 0)
		nspec = lease_spec(le, wall, json_string_value(json_object_get(spec, "acquireTime")), trans,
				   le->o.lease_ms / 1000, le->identity);
	else
		nspec = lease_spec(le, wall, NULL, trans + 1, le->o.lease_ms / 1000, le->identity);
	if (!nspec) {
		json_decref(lease);
		return false;
	}
	json_object_set_new(lease, "spec", nspec);
	ok = kp_kube_update(c, &KP_KUBE_LEASES, le->ns, lease, NULL, &upd, &st, &eb) == KP_OK;
	if (ok) {
		json_decref(le->observed);
		le->observed = json_incref(json_object_get(upd, "spec") ? json_object_get(upd, "spec") : nspec);
		le->observed_mono = mono;
		snprintf(le->holder, sizeof(le->holder), "%s", le->identity);
	}
	json_decref(upd);
	json_decref(lease);
	return ok;
}

static void tick(void *ud)
{
	struct kp_lease *le = ud;
	struct kp_kube_client *c = kp_kube_loop_client(le->l);
	int64_t saved = c->opts.timeout_ms, now, delay = le->o.retry_ms;
	bool ok;

	if (!le->running)
		return;
	/* a try must not outlive the renew deadline */
	if (c->opts.timeout_ms > le->o.renew_deadline_ms)
		c->opts.timeout_ms = le->o.renew_deadline_ms;
	ok = try_acquire_or_renew(le);
	c->opts.timeout_ms = saved;
	now = kp_kube_now_mono(c->clock);
	if (ok) {
		le->last_renew_mono = now;
		if (!le->leader) {
			le->leader = true;
			if (le->o.on_started)
				le->o.on_started(le->o.ud);
		}
	} else if (le->leader && now - le->last_renew_mono >= le->o.renew_deadline_ms) {
		le->leader = false;
		if (le->o.on_stopped)
			le->o.on_stopped(le->o.ud);
	}
	if (!le->leader)
		delay += (int64_t)((double)le->o.retry_ms * 0.2 * kp_kube_rand01(&le->rng));
	if (le->running)
		kp_kube_timer_start(le->l, &le->timer, delay, tick, le);
}

kp_err kp_lease_release(struct kp_lease *le, struct kp_errbuf *eb)
{
	struct kp_kube_client *c = kp_kube_loop_client(le->l);
	struct kp_kube_status st;
	json_t *lease = NULL, *spec;
	kp_err rc = KP_OK;

	le->running = false;
	kp_kube_timer_stop(le->l, &le->timer);
	if (!le->leader)
		return KP_OK;
	rc = kp_kube_get(c, &KP_KUBE_LEASES, le->ns, le->name, &lease, &st, eb);
	if (!rc) {
		spec = json_object_get(lease, "spec");
		if (kp_strcmp0(json_string_value(json_object_get(spec, "holderIdentity")), le->identity) == 0) {
			json_t *nspec = lease_spec(le, kp_kube_now_wall(c->clock), NULL,
						   json_integer_value(json_object_get(spec, "leaseTransitions")), 1, "");
			json_object_set_new(lease, "spec", nspec);
			rc = kp_kube_update(c, &KP_KUBE_LEASES, le->ns, lease, NULL, NULL, &st, eb);
		}
	}
	json_decref(lease);
	le->leader = false;
	if (le->o.on_stopped)
		le->o.on_stopped(le->o.ud);
	if (rc)
		kp_err_prefix(eb, "release lease %s/%s", le->ns, le->name);
	return rc;
}

void kp_lease_free(struct kp_lease *le)
{
	if (!le)
		return;
	kp_kube_timer_stop(le->l, &le->timer);
	json_decref(le->observed);
	free(le);
}
