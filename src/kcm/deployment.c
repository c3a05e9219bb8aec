/*
 * deployment.c - the Deployment controller of `karpenter up`: one ReplicaSet
 * per pod template (pod-template-hash), Recreate-like: a template change
 * creates the new ReplicaSet at full size and scales every older one to 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcm/kcm_int.h"
#include "load/load.h"

/* pod-template-hash: FNV-1a of the template's canonical JSON, its decimal
 * digits mapped onto the alphabet Kubernetes' rand.SafeEncodeString uses. */
static void template_hash(const json_t *tmpl, char out[16])
{
	char *text = json_dumps(tmpl, JSON_COMPACT | JSON_SORT_KEYS);
	uint32_t h = 2166136261u;
	char dec[16];

	for (const char *p = text ? text : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	free(text);
	snprintf(dec, sizeof(dec), "%u", h);
	size_t i = 0;
	for (; dec[i]; i++)
		out[i] = KP_KCM__ALNUM[(unsigned char)dec[i] % (sizeof(KP_KCM__ALNUM) - 1)];
	out[i] = '\0';
}

void kp_kcm__reconcile_deploy(struct kp_kcm *C, const char *key)
{
	struct kp_kcm__obj *e = kp_kcm__map_get(&C->objs[CK_DEPLOY], key);
	char hash[16];
	json_t *d;

	if (!e || kp_kcm__deleting(e->o))
		return;
	d = json_incref(e->o);
	const json_t *md = json_object_get(d, "metadata"), *spec = json_object_get(d, "spec");
	const char *ns = kp_kcm__jstr(md, "namespace"), *name = kp_kcm__jstr(md, "name"), *uid = kp_kcm__jstr(md, "uid");
	const json_t *tmpl = json_object_get(spec, "template");
	int64_t want = kp_kcm__int_or(spec, "replicas", 1);
	template_hash(tmpl, hash);

	struct kp_kcm__map *set = uid ? kp_kcm__map_get(&C->owned_rs, uid) : NULL;
	size_t nk = 0;
	const char **keys = set ? kp_kcm__map_keys(set, &nk) : NULL;
	char *newkey = NULL;
	for (size_t i = 0; i < nk; i++) {
		struct kp_kcm__obj *r = kp_kcm__map_get(&C->objs[CK_RS], keys[i]);
		const char *h;
		if (!r || kp_kcm__deleting(r->o))
			continue;
		h = kp_kcm__jstr(json_object_get(json_object_get(r->o, "metadata"), "labels"), "pod-template-hash");
		if (!newkey && h && !strcmp(h, hash))
			newkey = strdup(keys[i]);
		else
			kp_kcm__scale_rs(C, r->o, 0);
	}
	free(keys);
	if (!newkey) {
		json_t *rs = json_object(), *rmd = json_object(), *rspec = json_object();
		json_t *t = json_deep_copy(tmpl), *sel = json_deep_copy(json_object_get(spec, "selector"));
		char rname[300];
		snprintf(rname, sizeof(rname), "%s-%s", name, hash);
		if (!json_is_object(t)) {
			json_decref(t);
			t = json_object();
		}
		if (!json_is_object(sel)) {
			json_decref(sel);
			sel = json_object();
		}
		json_t *tl = kp_kcm__obj_at(kp_kcm__obj_at(t, "metadata"), "labels");
		json_object_set_new(tl, "pod-template-hash", json_string(hash));
		json_object_set_new(kp_kcm__obj_at(sel, "matchLabels"), "pod-template-hash", json_string(hash));
		json_object_set_new(rs, "apiVersion", json_string("apps/v1"));
		json_object_set_new(rs, "kind", json_string("ReplicaSet"));
		json_object_set_new(rmd, "name", json_string(rname));
		json_object_set_new(rmd, "namespace", json_string(ns));
		json_object_set_new(rmd, "labels", json_deep_copy(tl));
		json_object_set_new(rmd, "ownerReferences", json_pack("[o]", kp_kcm__owner_ref("apps/v1", "Deployment", d)));
		json_object_set_new(rs, "metadata", rmd);
		json_object_set_new(rspec, "replicas", json_integer(want));
		json_object_set_new(rspec, "selector", sel);
		json_object_set_new(rspec, "template", t);
		json_object_set_new(rs, "spec", rspec);
		struct kp_errbuf eb = { 0 };
		enum kp_store_rc rc = kp_kcm__create(C, "apps", "v1", "replicasets", rs, &eb);
		if (rc && rc != KP_STORE_EXISTS)
			fprintf(stderr, "karpenter up: create replicaset %s: %s\n", rname, eb.msg);
		json_decref(rs);
		char k2[600];
		kp_kcm__key_of(k2, sizeof(k2), ns, rname);
		if (kp_kcm__map_get(&C->objs[CK_RS], k2))
			newkey = strdup(k2);
	}
	/* status from every owned ReplicaSet */
	int64_t replicas = 0, ready = 0, avail = 0, updated = 0;
	set = uid ? kp_kcm__map_get(&C->owned_rs, uid) : NULL;
	keys = set ? kp_kcm__map_keys(set, &nk) : NULL;
	for (size_t i = 0; keys && i < nk; i++) {
		struct kp_kcm__obj *r = kp_kcm__map_get(&C->objs[CK_RS], keys[i]);
		const json_t *st = r ? json_object_get(r->o, "status") : NULL;
		if (!r)
			continue;
		if (newkey && !strcmp(keys[i], newkey)) {
			kp_kcm__scale_rs(C, r->o, want);
			updated = kp_kcm__int_or(st, "replicas", 0);
		}
		replicas += kp_kcm__int_or(st, "replicas", 0);
		ready += kp_kcm__int_or(st, "readyReplicas", 0);
		avail += kp_kcm__int_or(st, "availableReplicas", 0);
	}
	free(keys);
	int64_t max_unavail = want / 4;   /* default maxUnavailable 25%, rounded down */
	const json_t *ru = json_object_get(json_object_get(spec, "strategy"), "rollingUpdate");
	if (json_is_integer(json_object_get(ru, "maxUnavailable")))
		max_unavail = json_integer_value(json_object_get(ru, "maxUnavailable"));
	const char *rsname = newkey ? strchr(newkey, '/') + 1 : name;
	struct kp_kcm__status_upd u = { 0 };
	u.update_time = true;
	u.set = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "replicas", (json_int_t)replicas, "updatedReplicas",
			  (json_int_t)updated, "readyReplicas", (json_int_t)ready, "availableReplicas", (json_int_t)avail,
			  "unavailableReplicas", (json_int_t)(want > avail ? want - avail : 0), "observedGeneration",
			  (json_int_t)kp_kcm__int_or(md, "generation", 1));
	u.ncond = 2;
	u.cond[0].type = "Available";
	if (avail >= want - max_unavail) {
		u.cond[0].status = "True";
		u.cond[0].reason = "MinimumReplicasAvailable";
		snprintf(u.cond[0].message, sizeof(u.cond[0].message), "Deployment has minimum availability.");
	} else {
		u.cond[0].status = "False";
		u.cond[0].reason = "MinimumReplicasUnavailable";
		snprintf(u.cond[0].message, sizeof(u.cond[0].message), "Deployment does not have minimum availability.");
	}
	u.cond[1].type = "Progressing";
	u.cond[1].status = "True";
	if (updated == want && avail >= want && replicas == want) {
		u.cond[1].reason = "NewReplicaSetAvailable";
		snprintf(u.cond[1].message, sizeof(u.cond[1].message), "ReplicaSet \"%s\" has successfully progressed.",
			 rsname);
	} else {
		u.cond[1].reason = "ReplicaSetUpdated";
		snprintf(u.cond[1].message, sizeof(u.cond[1].message), "ReplicaSet \"%s\" is progressing.", rsname);
	}
	kp_kcm__write_status(C, CK_DEPLOY, ns, name, &u);
	free(newkey);
	json_decref(d);
}
