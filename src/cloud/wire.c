/*
 * wire.c - JSON codec of NodeClaims and instances for the remote cloud
 * (see wire.h). Cost: linear in the labels, requirements and resources.
 */
#include <string.h>

#include "cloud/wire.h"
#include "karpenter/labels.h"
#include "karpenter/requirements.h"
#include "karpenter/resources.h"

static json_t *labels_json(const struct kp_labels *l)
{
	json_t *o = json_object();

	for (int i = 0; o && i < l->n; i++)
		json_object_set_new(o, l->kv[i].key, json_string(l->kv[i].value ? l->kv[i].value : ""));
	return o;
}

static json_t *res_json(const struct kp_res *r, const struct kp_resnames *rn)
{
	struct kp_resnames wk;
	json_t *o = json_object();

	if (!rn) {
		kp_resnames_init(&wk);
		rn = &wk;
	}
	for (int i = 0; o && i < rn->n && i < KP_RES_MAX; i++)
		if (r->v[i])
			json_object_set_new(o, rn->name[i], json_integer((json_int_t)r->v[i]));
	return o;
}

static const char *S(const char *s)
{
	return s ? s : "";
}

json_t *kp_cloud_wire_claim(const struct kp_nodeclaim *nc, const struct kp_resnames *rn)
{
	json_t *reqs = json_array(), *o;

	for (int i = 0; reqs && i < nc->reqs.n; i++) {
		const struct kp_req *r = &nc->reqs.r[i];
		json_t *vals = json_array(), *j;
		for (int k = 0; vals && k < r->n; k++)
			json_array_append_new(vals, json_string(r->values[k]));
		j = json_pack("{s:s, s:b, s:i, s:o}", "key", r->key, "complement", r->complement, "minValues", r->min_values,
			      "values", vals);
		if (j && r->has_gte)
			json_object_set_new(j, "gte", json_integer((json_int_t)r->gte));
		if (j && r->has_lte)
			json_object_set_new(j, "lte", json_integer((json_int_t)r->lte));
		json_array_append_new(reqs, j);
	}
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "name", S(nc->name), "nodepool", S(nc->nodepool), "providerID",
		      S(nc->provider_id), "labels", labels_json(&nc->labels), "requirements", reqs, "requests",
		      res_json(&nc->requests, rn));
	return o;
}

json_t *kp_cloud_wire_instance(const struct kp_instance *in, const struct kp_resnames *rn)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:s, s:I, s:s, s:o, s:o, s:o}", "providerID",
			 S(in->provider_id), "nodeclaim", S(in->nodeclaim), "nodepool", S(in->nodepool), "instanceType",
			 S(in->instance_type), "zone", S(in->zone), "capacityType", kp_captype_name(in->captype), "price",
			 in->price, "imageID", S(in->image_id), "launched", (json_int_t)in->launched, "state",
			 kp_instance_state_name(in->state), "labels", labels_json(&in->labels), "capacity",
			 res_json(&in->capacity, rn), "allocatable", res_json(&in->allocatable, rn));
}

static const char *dup(struct kp_arena *a, const json_t *o, const char *k, bool *ok)
{
	const char *s = json_string_value(json_object_get(o, k));
	char *d;

	if (!s || !*s)
		return NULL;
	d = kp_arena_strdup(a, s);
	if (!d)
		*ok = false;
	return d;
}

static kp_err labels_read(const json_t *o, struct kp_arena *a, struct kp_labels *l, const char *what,
			  struct kp_errbuf *eb)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		const char *ks = kp_arena_strdup(a, k), *vs = json_string_value(v) ? kp_arena_strdup(a, json_string_value(v)) : NULL;
		if (!json_is_string(v))
			return kp_errf(eb, KP_ERR_INVALID, "%s.%s: not a string", what, k);
		if (!ks || !vs || kp_labels_set(l, a, ks, vs))
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	return KP_OK;
}

static kp_err res_read(const json_t *o, struct kp_resnames *rn, struct kp_res *r, const char *what, struct kp_errbuf *eb)
{
	const char *k;
	json_t *v;

	memset(r, 0, sizeof(*r));
	json_object_foreach((json_t *)o, k, v) {
		int idx = kp_resnames_index(rn, k, eb);
		if (idx < 0)
			return kp_err_prefix(eb, "%s: ", what), eb->code ? eb->code : KP_ERR_RANGE;
		if (!json_is_integer(v))
			return kp_errf(eb, KP_ERR_INVALID, "%s.%s: not an integer", what, k);
		r->v[idx] = (int64_t)json_integer_value(v);
	}
	return KP_OK;
}

kp_err kp_cloud_wire_claim_read(const json_t *j, struct kp_arena *a, struct kp_resnames *rn, struct kp_nodeclaim *out,
				struct kp_errbuf *eb)
{
	bool ok = true;
	size_t i;
	json_t *r;
	kp_err rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j))
		return kp_errf(eb, KP_ERR_INVALID, "nodeclaim: not an object");
	out->name = dup(a, j, "name", &ok);
	out->nodepool = dup(a, j, "nodepool", &ok);
	out->provider_id = dup(a, j, "providerID", &ok);
	if (!ok)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	if ((rc = labels_read(json_object_get(j, "labels"), a, &out->labels, "nodeclaim.labels", eb)) ||
	    (rc = res_read(json_object_get(j, "requests"), rn, &out->requests, "nodeclaim.requests", eb)))
		return rc;
	kp_reqs_init(&out->reqs);
	json_array_foreach(json_object_get(j, "requirements"), i, r) {
		struct kp_req q = { 0 };
		const json_t *vals = json_object_get(r, "values");
		q.key = dup(a, r, "key", &ok);
		if (!q.key)
			return kp_errf(eb, KP_ERR_INVALID, "nodeclaim.requirements[%zu].key: missing", i);
		q.complement = json_is_true(json_object_get(r, "complement"));
		q.min_values = (int)json_integer_value(json_object_get(r, "minValues"));
		if ((q.has_gte = json_is_integer(json_object_get(r, "gte"))))
			q.gte = (int64_t)json_integer_value(json_object_get(r, "gte"));
		if ((q.has_lte = json_is_integer(json_object_get(r, "lte"))))
			q.lte = (int64_t)json_integer_value(json_object_get(r, "lte"));
		q.n = (int)json_array_size(vals);
		q.values = q.n ? kp_arena_calloc(a, (size_t)q.n, sizeof(*q.values)) : NULL;
		if (q.n && !q.values)
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		for (int k = 0; k < q.n; k++) {
			const char *s = json_string_value(json_array_get(vals, (size_t)k));
			if (!s)
				return kp_errf(eb, KP_ERR_INVALID, "nodeclaim.requirements[%zu].values[%d]: not a string", i, k);
			if (!(q.values[k] = kp_arena_strdup(a, s)))
				return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		}
		if (kp_reqs_add(&out->reqs, a, &q))
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	return KP_OK;
}

kp_err kp_cloud_wire_instance_read(const json_t *j, struct kp_arena *a, struct kp_resnames *rn, struct kp_instance *out,
				   struct kp_errbuf *eb)
{
	static const char *const states[] = { "pending", "running", "terminating", "terminated", "stopped" };
	const char *st = json_string_value(json_object_get(j, "state"));
	const char *ct = json_string_value(json_object_get(j, "capacityType"));
	bool ok = true;
	int c;
	kp_err rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j))
		return kp_errf(eb, KP_ERR_INVALID, "instance: not an object");
	out->provider_id = dup(a, j, "providerID", &ok);
	out->nodeclaim = dup(a, j, "nodeclaim", &ok);
	out->nodepool = dup(a, j, "nodepool", &ok);
	out->instance_type = dup(a, j, "instanceType", &ok);
	out->zone = dup(a, j, "zone", &ok);
	out->image_id = dup(a, j, "imageID", &ok);
	if (!ok)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	if (!out->provider_id)
		return kp_errf(eb, KP_ERR_INVALID, "instance.providerID: missing");
	if ((c = kp_captype_parse(ct ? ct : "")) < 0)
		return kp_errf(eb, KP_ERR_INVALID, "instance.capacityType: \"%s\" is not a capacity type", ct ? ct : "");
	out->captype = (enum kp_captype)c;
	out->price = json_number_value(json_object_get(j, "price"));
	out->launched = (int64_t)json_integer_value(json_object_get(j, "launched"));
	for (c = 0; c < (int)KP_ARRAY_LEN(states) && (!st || strcmp(st, states[c]) != 0); c++)
		;
	if (c == (int)KP_ARRAY_LEN(states))
		return kp_errf(eb, KP_ERR_INVALID, "instance.state: \"%s\" is not a state", st ? st : "");
	out->state = (enum kp_instance_state)c;
	if ((rc = labels_read(json_object_get(j, "labels"), a, &out->labels, "instance.labels", eb)) ||
	    (rc = res_read(json_object_get(j, "capacity"), rn, &out->capacity, "instance.capacity", eb)) ||
	    (rc = res_read(json_object_get(j, "allocatable"), rn, &out->allocatable, "instance.allocatable", eb)))
		return rc;
	return KP_OK;
}
