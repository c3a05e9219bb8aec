/*
 * load.c - the manifest loader's entry points: files and directories,
 * dispatch of each document by apiVersion and kind, expansion of workloads
 * into pods, and the steps that need every document first.
 *
 * A load reads each file whole (at most KP_LOAD_MAX_FILE bytes), parses it
 * one document at a time into a scratch tree and decodes each object into
 * the cluster's arena. Directories contribute their *.yaml, *.yml and *.json
 * files in name order (not recursive). `kind: List` (and typed lists such as
 * PodList) are unpacked. Deployment, ReplicaSet and StatefulSet become
 * `replicas` pods (default 1) named <name>-<i>; a Job becomes
 * min(parallelism, completions) pods (parallelism defaults to 1). Pods
 * expanded from one template share its decoded arrays: the cluster's objects
 * are read-only input. Unknown kinds are skipped with a warning.
 *
 * After the last document: RuntimeClass overhead is added to the pods that
 * name the class and set no spec.overhead (so order does not matter);
 * v1beta1 NodeClaims take expireAfter from their NodePool (as Karpenter's
 * conversion does); namespaces that objects use but no document declares are
 * added with the kubernetes.io/metadata.name label, in name order; pods bound
 * to a node missing from the input draw a warning; nodes and NodeClaims are
 * linked (kp_cluster_link).
 *
 * Duplicate objects (same kind, namespace and name) are errors. Cost: linear
 * in the input; duplicate checks and lookups use hash sets.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "karpenter/strmap.h"
#include "load/internal.h"

#define MAX_REPLICAS 100000      /* pods per workload */
#define MAX_PODS 1000000         /* pods per load */
#define DEFAULT_EXPIRE_MS (720LL * 3600 * 1000)

/* ---- string sets: kp_strmap in arena mode (keys and table in the loader's arena) ---- */

/* Adds key (copied into a) to m with value where. Returns 1 if added, 0 if
 * present (*prev = the where it was added with), -1 when out of memory. */
static int set_add(struct kp_strmap *m, struct kp_arena *a, const char *key, const char *where, const char **prev)
{
	const struct kp_strmap_ent *e = kp_strmap_find(m, key);
	const char *k;

	if (e) {
		if (prev)
			*prev = e->val;
		return 0;
	}
	if (!(k = kp_arena_strdup(a, key)) || kp_strmap_put(m, k, (void *)where, NULL))
		return -1;
	return 1;
}

static bool set_has(const struct kp_strmap *m, const char *key)
{
	return kp_strmap_find(m, key) != NULL;
}

/* ---- loader ---- */

struct rclass {
	const char *name;
	struct kp_res overhead;
	bool has;
};

struct podref {
	struct kp_pod *pod;
	const char *rclass;
};

struct loader {
	struct kp_cluster *c;
	struct kp_errbuf *eb;
	FILE *warn;
	int64_t now;
	struct kp_arena la;          /* loader-private: sets' keys, lists */
	struct kp_arena tmp;         /* document trees and per-object scratch */
	const char *file;            /* current file (in la) */
	unsigned gen;                /* counter for metadata.generateName */
	const char *last_ns;         /* last namespace copied into the cluster arena */
	struct kp_strmap objects;    /* "Kind/ns/name" of every object -> file that added it */
	struct kp_strmap nsref;      /* namespaces used by objects */
	struct rclass *rcs;
	int nrcs, caprcs;
	struct podref *refs;
	int nrefs, caprefs;
	struct kp_nodeclaim **b1claims;
	int nb1, capb1;
};

static kp_err lnomem(struct loader *L)
{
	return kp_errf(L->eb, KP_ERR_NOMEM, "%s: out of memory", L->file ? L->file : "load");
}

/* Appends to an array kept in L->la; returns the new element or NULL. */
static void *push_elem(struct loader *L, void **arr, int *n, int *cap, size_t sz)
{
	if (*n == *cap) {
		int ncap = *cap ? *cap * 2 : 16;
		void *p = kp_arena_grow(&L->la, *arr, (size_t)*n, (size_t)ncap, sz);
		if (!p)
			return NULL;
		*arr = p;
		*cap = ncap;
	}
	return (char *)*arr + (size_t)(*n)++ * sz;
}

static kp_err track_pod(struct loader *L, struct kp_pod *p, const struct kp_load_podref *ref)
{
	struct podref *r;

	if (!ref->runtime_class || !*ref->runtime_class || ref->has_overhead)
		return KP_OK;
	r = push_elem(L, (void **)&L->refs, &L->nrefs, &L->caprefs, sizeof(*r));
	if (!r)
		return lnomem(L);
	r->pod = p;
	r->rclass = ref->runtime_class;
	return KP_OK;
}

/* Registers an object's identity; a second one with the same identity is an error. */
static kp_err claim_name(struct loader *L, struct kp_load_dec *d, const char *kind, const char *ns,
			 const char *name)
{
	char key[1024];
	const char *prev = NULL;
	int r;

	snprintf(key, sizeof(key), "%s/%s/%s", kind, ns ? ns : "", name);
	r = set_add(&L->objects, &L->la, key, L->file, &prev);
	if (r < 0)
		return lnomem(L);
	if (r == 0) {
		char q[96], full[600];
		snprintf(full, sizeof(full), "%s%s%s", ns ? ns : "", ns ? "/" : "", name);
		return kp_load_fail(d, KP_ERR_INVALID, "duplicate %s %s (also defined in %s)", kind,
				    kp_load_quote(full, q, sizeof(q)), prev ? prev : "the input");
	}
	if (ns && set_add(&L->nsref, &L->la, ns, L->file, NULL) < 0)
		return lnomem(L);
	return KP_OK;
}

/* ---- kinds ---- */

struct objctx {
	const struct kp_load_node *root, *meta;
	const char *kind, *apiv, *name, *ns;
	bool v1beta1;
};

static kp_err do_pod(struct loader *L, struct kp_load_dec *d, const struct objctx *o)
{
	struct kp_pod *p = kp_arena_alloc(d->a, sizeof(*p));
	const struct kp_load_node *spec = NULL, *status = NULL;
	struct kp_load_podref ref;
	kp_err rc;

	if (!p)
		return lnomem(L);
	if (L->c->npods >= MAX_PODS)
		return kp_load_fail(d, KP_ERR_LIMIT, "more than %d pods in the input", MAX_PODS);
	p->ns = o->ns;
	p->name = o->name;
	p->created = L->now;
	rc = kp_load_map(d, o->root, "spec", &spec);
	if (!rc)
		rc = kp_load_map(d, o->root, "status", &status);
	if (!rc)
		rc = kp_load_pod(d, o->meta, spec, p, &ref, false);
	if (!rc && status) {
		size_t mark = kp_load_push(d, "status");
		rc = kp_load_str(d, status, "phase", &p->phase);
		kp_load_pop(d, mark);
	}
	if (!rc)
		rc = claim_name(L, d, "Pod", p->ns, p->name);
	if (!rc)
		rc = kp_cluster_add_pod(L->c, p) ? lnomem(L) : KP_OK;
	if (!rc)
		rc = track_pod(L, p, &ref);
	return rc;
}

/* A StatefulSet's spec.volumeClaimTemplates: names and storageClassNames
 * (each pod gets the claim "<template>-<sts>-<ordinal>", as the StatefulSet
 * controller names it). */
struct vct {
	const char *name;
	const char *sc;
};

static kp_err load_vcts(struct kp_load_dec *d, const struct kp_load_node *spec, struct vct **out, int *n)
{
	const struct kp_load_node *list = NULL;
	size_t mark;
	kp_err rc = kp_load_seq(d, spec, "volumeClaimTemplates", &list);

	*out = NULL;
	*n = 0;
	if (rc || !list || list->n == 0)
		return rc;
	*out = kp_arena_calloc(d->a, list->n, sizeof(**out));
	if (!*out)
		return kp_load_wrap(d, KP_ERR_NOMEM);
	mark = kp_load_push(d, "volumeClaimTemplates");
	for (uint32_t i = 0; i < list->n && !rc; i++) {
		const struct kp_load_node *t = list->u.items[i], *meta = NULL, *tspec = NULL;
		size_t m2 = kp_load_pushi(d, i);

		rc = kp_load_map(d, t, "metadata", &meta);
		if (!rc && meta) {
			size_t m3 = kp_load_push(d, "metadata");
			rc = kp_load_str(d, meta, "name", &(*out)[*n].name);
			kp_load_pop(d, m3);
		}
		if (!rc && (!(*out)[*n].name || !*(*out)[*n].name))
			rc = kp_load_fail(d, KP_ERR_INVALID, "metadata.name: required field is missing");
		if (!rc)
			rc = kp_load_map(d, t, "spec", &tspec);
		if (!rc && tspec) {
			size_t m3 = kp_load_push(d, "spec");
			rc = kp_load_str(d, tspec, "storageClassName", &(*out)[*n].sc);
			kp_load_pop(d, m3);
		}
		if (!rc)
			(*n)++;
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	return rc;
}

static kp_err do_workload(struct loader *L, struct kp_load_dec *d, const struct objctx *o)
{
	const struct kp_load_node *spec = NULL, *tmpl = NULL, *tmeta = NULL, *tspec = NULL;
	bool job = strcmp(o->kind, "Job") == 0, has_comp = false;
	int64_t count = 1, completions = 0, created = L->now;
	struct kp_load_podref ref;
	struct kp_pod proto;
	struct vct *vcts = NULL;
	int nvcts = 0;
	size_t mark;
	kp_err rc;

	memset(&proto, 0, sizeof(proto));
	rc = kp_load_map(d, o->root, "spec", &spec);
	if (!rc && !spec)
		rc = kp_load_fail(d, KP_ERR_INVALID, "spec: required field is missing");
	if (!rc && o->meta) {
		mark = kp_load_push(d, "metadata");
		rc = kp_load_time(d, o->meta, "creationTimestamp", &created, NULL);
		kp_load_pop(d, mark);
	}
	if (rc)
		return rc;
	mark = kp_load_push(d, "spec");
	if (job) {
		rc = kp_load_int(d, spec, "parallelism", 0, MAX_REPLICAS, &count, NULL);
		if (!rc)
			rc = kp_load_int(d, spec, "completions", 0, INT32_MAX, &completions, &has_comp);
		if (has_comp && completions < count)
			count = completions;
	} else {
		rc = kp_load_int(d, spec, "replicas", 0, MAX_REPLICAS, &count, NULL);
	}
	if (!rc && strcmp(o->kind, "StatefulSet") == 0)
		rc = load_vcts(d, spec, &vcts, &nvcts);
	if (!rc)
		rc = kp_load_map(d, spec, "template", &tmpl);
	if (!rc && !tmpl)
		rc = kp_load_fail_at(d, "template", KP_ERR_INVALID, "required field is missing");
	if (!rc) {
		kp_load_push(d, "template");
		rc = kp_load_map(d, tmpl, "metadata", &tmeta);
		if (!rc)
			rc = kp_load_map(d, tmpl, "spec", &tspec);
		if (!rc)
			rc = kp_load_pod(d, tmeta, tspec, &proto, &ref, true);
	}
	kp_load_pop(d, mark);
	if (rc)
		return rc;
	if (L->c->npods + count > MAX_PODS)
		return kp_load_fail(d, KP_ERR_LIMIT, "more than %d pods in the input", MAX_PODS);
	for (int64_t i = 0; i < count; i++) {
		struct kp_pod *p = kp_arena_alloc(d->a, sizeof(*p));
		if (!p)
			return lnomem(L);
		*p = proto;
		p->ns = o->ns;
		p->name = kp_arena_printf(d->a, "%s-%lld", o->name, (long long)i);
		if (!p->name)
			return lnomem(L);
		p->created = created;
		p->owner_kind = o->kind;
		p->owner_name = o->name;
		if (nvcts) {
			struct kp_pod_volume *v = kp_arena_calloc(d->a, (size_t)(proto.nvolumes + nvcts), sizeof(*v));
			if (!v)
				return lnomem(L);
			if (proto.nvolumes)
				memcpy(v, proto.volumes, (size_t)proto.nvolumes * sizeof(*v));
			for (int k = 0; k < nvcts; k++) {
				struct kp_pod_volume *x = &v[proto.nvolumes + k];
				x->name = vcts[k].name;
				x->claim = kp_arena_printf(d->a, "%s-%s", vcts[k].name, p->name);
				x->claim_template = true;
				x->template_sc = vcts[k].sc;
				if (!x->claim)
					return lnomem(L);
			}
			p->volumes = v;
			p->nvolumes = proto.nvolumes + nvcts;
		}
		rc = claim_name(L, d, "Pod", p->ns, p->name);
		if (!rc)
			rc = kp_cluster_add_pod(L->c, p) ? lnomem(L) : KP_OK;
		if (!rc)
			rc = track_pod(L, p, &ref);
		if (rc)
			return rc;
	}
	return KP_OK;
}

static kp_err do_daemonset(struct loader *L, struct kp_load_dec *d, const struct objctx *o)
{
	struct kp_daemonset *ds = kp_arena_alloc(d->a, sizeof(*ds));
	struct kp_load_podref ref;
	kp_err rc;

	if (!ds)
		return lnomem(L);
	ds->ns = o->ns;
	ds->name = o->name;
	ds->tmpl.created = L->now;
	rc = kp_load_daemonset(d, o->root, ds, &ref);
	if (!rc)
		rc = claim_name(L, d, "DaemonSet", ds->ns, ds->name);
	if (!rc)
		rc = kp_cluster_add_daemonset(L->c, ds) ? lnomem(L) : KP_OK;
	if (!rc)
		rc = track_pod(L, &ds->tmpl, &ref);
	return rc;
}

static kp_err do_node(struct loader *L, struct kp_load_dec *d, const struct objctx *o)
{
	struct kp_node *n = kp_arena_alloc(d->a, sizeof(*n));
	kp_err rc;

	if (!n)
		return lnomem(L);
	n->name = o->name;
	n->created = L->now;
	rc = kp_load_node_obj(d, o->root, n);
	if (!rc)
		rc = claim_name(L, d, "Node", NULL, n->name);
	if (!rc)
		rc = kp_cluster_add_node(L->c, n) ? lnomem(L) : KP_OK;
	return rc;
}

static kp_err do_nodeclaim(struct loader *L, struct kp_load_dec *d, const struct objctx *o)
{
	struct kp_nodeclaim *nc = kp_arena_alloc(d->a, sizeof(*nc));
	kp_err rc;

	if (!nc)
		return lnomem(L);
	nc->name = o->name;
	nc->created = L->now;
	rc = kp_load_nodeclaim(d, o->root, nc);
	if (!rc)
		rc = claim_name(L, d, "NodeClaim", NULL, nc->name);
	if (!rc)
		rc = kp_cluster_add_claim(L->c, nc) ? lnomem(L) : KP_OK;
	if (!rc && o->v1beta1) {
		struct kp_nodeclaim **slot = push_elem(L, (void **)&L->b1claims, &L->nb1, &L->capb1,
						       sizeof(*slot));
		if (!slot)
			return lnomem(L);
		*slot = nc;
	}
	return rc;
}

static kp_err do_nodepool(struct loader *L, struct kp_load_dec *d, const struct objctx *o)
{
	struct kp_nodepool *np = kp_arena_alloc(d->a, sizeof(*np));
	kp_err rc = KP_OK;

	if (!np)
		return lnomem(L);
	np->name = o->name;
	np->api_version = kp_arena_strdup(d->a, o->apiv);
	np->created = L->now;
	if (!np->api_version)
		return lnomem(L);
	if (o->meta) {
		size_t mark = kp_load_push(d, "metadata");
		rc = kp_load_time(d, o->meta, "creationTimestamp", &np->created, NULL);
		kp_load_pop(d, mark);
	}
	if (!rc)
		rc = kp_load_nodepool(d, o->root, np);
	if (!rc)
		rc = claim_name(L, d, "NodePool", NULL, np->name);
	if (!rc)
		rc = kp_cluster_add_pool(L->c, np) ? lnomem(L) : KP_OK;
	return rc;
}

static kp_err do_nodeclass(struct loader *L, struct kp_load_dec *d, const struct objctx *o)
{
	struct kp_nodeclass *nc = kp_arena_alloc(d->a, sizeof(*nc));
	kp_err rc;

	if (!nc)
		return lnomem(L);
	nc->name = o->name;
	nc->api_version = kp_arena_strdup(d->a, o->apiv);
	if (!nc->api_version)
		return lnomem(L);
	rc = kp_load_nodeclass(d, o->root, nc);
	if (!rc)
		rc = claim_name(L, d, "EC2NodeClass", NULL, nc->name);
	if (!rc)
		rc = kp_cluster_add_nodeclass(L->c, nc) ? lnomem(L) : KP_OK;
	return rc;
}

static kp_err do_pdb(struct loader *L, struct kp_load_dec *d, const struct objctx *o)
{
	struct kp_pdb *pdb = kp_arena_alloc(d->a, sizeof(*pdb));
	kp_err rc;

	if (!pdb)
		return lnomem(L);
	pdb->ns = o->ns;
	pdb->name = o->name;
	rc = kp_load_pdb(d, o->root, strcmp(o->apiv, "policy/v1beta1") == 0, pdb);
	if (!rc)
		rc = claim_name(L, d, "PodDisruptionBudget", pdb->ns, pdb->name);
	if (!rc)
		rc = kp_cluster_add_pdb(L->c, pdb) ? lnomem(L) : KP_OK;
	return rc;
}

static kp_err do_namespace(struct loader *L, struct kp_load_dec *d, const struct objctx *o)
{
	struct kp_namespace *ns = kp_arena_alloc(d->a, sizeof(*ns));
	kp_err rc;

	if (!ns)
		return lnomem(L);
	ns->name = o->name;
	rc = kp_load_namespace(d, o->root, ns);
	if (!rc)
		rc = claim_name(L, d, "Namespace", NULL, ns->name);
	if (!rc)
		rc = kp_cluster_add_namespace(L->c, ns) ? lnomem(L) : KP_OK;
	return rc;
}

static kp_err do_runtimeclass(struct loader *L, struct kp_load_dec *d, const struct objctx *o)
{
	struct rclass rcl;
	struct rclass *slot;
	kp_err rc;

	memset(&rcl, 0, sizeof(rcl));
	rcl.name = o->name;
	rc = kp_load_runtimeclass(d, o->root, &rcl.overhead, &rcl.has);
	if (!rc)
		rc = claim_name(L, d, "RuntimeClass", NULL, o->name);
	if (rc)
		return rc;
	slot = push_elem(L, (void **)&L->rcs, &L->nrcs, &L->caprcs, sizeof(*slot));
	if (!slot)
		return lnomem(L);
	*slot = rcl;
	return KP_OK;
}

static kp_err do_storageclass(struct loader *L, struct kp_load_dec *d, const struct objctx *o)
{
	struct kp_storageclass *sc = kp_arena_alloc(d->a, sizeof(*sc));
	kp_err rc;

	if (!sc)
		return lnomem(L);
	memset(sc, 0, sizeof(*sc));
	sc->name = o->name;
	rc = kp_load_storageclass(d, o->root, sc);
	if (!rc)
		rc = claim_name(L, d, "StorageClass", NULL, sc->name);
	if (!rc)
		rc = kp_cluster_add_storageclass(L->c, sc) ? lnomem(L) : KP_OK;
	return rc;
}

static kp_err do_pvc(struct loader *L, struct kp_load_dec *d, const struct objctx *o)
{
	struct kp_pvc *pvc = kp_arena_alloc(d->a, sizeof(*pvc));
	kp_err rc;

	if (!pvc)
		return lnomem(L);
	memset(pvc, 0, sizeof(*pvc));
	pvc->ns = o->ns;
	pvc->name = o->name;
	rc = kp_load_pvc(d, o->root, pvc);
	if (!rc)
		rc = claim_name(L, d, "PersistentVolumeClaim", pvc->ns, pvc->name);
	if (!rc)
		rc = kp_cluster_add_pvc(L->c, pvc) ? lnomem(L) : KP_OK;
	return rc;
}

static kp_err do_pv(struct loader *L, struct kp_load_dec *d, const struct objctx *o)
{
	struct kp_pv *pv = kp_arena_alloc(d->a, sizeof(*pv));
	kp_err rc;

	if (!pv)
		return lnomem(L);
	memset(pv, 0, sizeof(*pv));
	pv->name = o->name;
	rc = kp_load_pv(d, o->root, pv);
	if (!rc)
		rc = claim_name(L, d, "PersistentVolume", NULL, pv->name);
	if (!rc)
		rc = kp_cluster_add_pv(L->c, pv) ? lnomem(L) : KP_OK;
	return rc;
}

struct kindspec {
	const char *kind;
	const char *versions[5];     /* accepted apiVersions; first is the preferred */
	bool namespaced;
	bool generate_name;          /* metadata.generateName may stand in for name */
	kp_err (*fn)(struct loader *L, struct kp_load_dec *d, const struct objctx *o);
};

static const struct kindspec kinds[] = {
	{ "NodePool", { "karpenter.sh/v1", "karpenter.sh/v1beta1" }, false, false, do_nodepool },
	{ "EC2NodeClass", { "karpenter.k8s.aws/v1", "karpenter.k8s.aws/v1beta1" }, false, false, do_nodeclass },
	{ "NodeClaim", { "karpenter.sh/v1", "karpenter.sh/v1beta1" }, false, true, do_nodeclaim },
	{ "Pod", { "v1" }, true, true, do_pod },
	{ "Deployment", { "apps/v1", "apps/v1beta2", "apps/v1beta1", "extensions/v1beta1" }, true, true, do_workload },
	{ "ReplicaSet", { "apps/v1", "apps/v1beta2", "extensions/v1beta1" }, true, true, do_workload },
	{ "StatefulSet", { "apps/v1", "apps/v1beta2", "apps/v1beta1" }, true, false, do_workload },
	{ "Job", { "batch/v1" }, true, true, do_workload },
	{ "DaemonSet", { "apps/v1", "apps/v1beta2", "extensions/v1beta1" }, true, true, do_daemonset },
	{ "Node", { "v1" }, false, false, do_node },
	{ "PodDisruptionBudget", { "policy/v1", "policy/v1beta1" }, true, false, do_pdb },
	{ "RuntimeClass", { "node.k8s.io/v1", "node.k8s.io/v1beta1" }, false, false, do_runtimeclass },
	{ "Namespace", { "v1" }, false, false, do_namespace },
	{ "StorageClass", { "storage.k8s.io/v1", "storage.k8s.io/v1beta1" }, false, false, do_storageclass },
	{ "PersistentVolumeClaim", { "v1" }, true, false, do_pvc },
	{ "PersistentVolume", { "v1" }, false, false, do_pv },
};

static const struct kindspec *find_kind(const char *kind)
{
	for (size_t i = 0; i < KP_ARRAY_LEN(kinds); i++)
		if (strcmp(kinds[i].kind, kind) == 0)
			return &kinds[i];
	return NULL;
}

static void warn_skip(struct loader *L, const char *kind, const char *name)
{
	if (L->warn)
		fprintf(L->warn, "warning: %s: skipping %s%s%s (kind not used by simulate)\n", L->file, kind,
			name ? "/" : "", name ? name : "");
}

/* "FILE:LINE: document N: " or "FILE: document N: " */
static void doc_prefix(struct loader *L, uint32_t line, int docno)
{
	if (line)
		kp_err_prefix(L->eb, "%s:%u: document %d: ", L->file, line, docno);
	else
		kp_err_prefix(L->eb, "%s: document %d: ", L->file, docno);
}

static kp_err decode_object(struct loader *L, const struct kp_load_node *root, int docno, uint32_t line,
			    const char *def_kind, const char *def_apiv, int depth);

static kp_err decode_list(struct loader *L, struct kp_load_dec *d, const struct kp_load_node *items,
			  const char *kind, const char *apiv, int docno, uint32_t line, int depth)
{
	size_t klen = strlen(kind);
	char item_kind[128] = "";
	kp_err rc = KP_OK;

	/* Typed lists (PodList) may leave kind and apiVersion off their items. */
	if (klen > 4 && klen - 4 < sizeof(item_kind)) {
		memcpy(item_kind, kind, klen - 4);
		item_kind[klen - 4] = '\0';
	}
	for (uint32_t i = 0; i < items->n && !rc; i++) {
		const struct kp_load_node *it = items->u.items[i];
		if (it->type == KP_LN_NULL)
			continue;
		if (it->type != KP_LN_MAP) {
			size_t mark = kp_load_push(d, "items");
			kp_load_pushi(d, i);
			rc = kp_load_type_error(d, it, "a Kubernetes object (a mapping)");
			kp_load_pop(d, mark);
			doc_prefix(L, line, docno);
			return rc;
		}
		rc = decode_object(L, it, docno, it->line ? it->line : line, item_kind[0] ? item_kind : NULL,
				   item_kind[0] ? apiv : NULL, depth + 1);
	}
	return rc;
}

static kp_err decode_object(struct loader *L, const struct kp_load_node *root, int docno, uint32_t line,
			    const char *def_kind, const char *def_apiv, int depth)
{
	struct kp_load_dec d;
	struct objctx o;
	const struct kindspec *ks;
	const struct kp_load_node *items;
	struct kp_arena_mark mark = kp_arena_mark(&L->tmp);
	char label[300];
	const char *gen = NULL;
	bool ok = false;
	kp_err rc;

	memset(&d, 0, sizeof(d));
	memset(&o, 0, sizeof(o));
	d.c = L->c;
	d.a = &L->c->arena;
	d.tmp = &L->tmp;
	d.eb = L->eb;
	d.warn = L->warn;
	d.file = L->file;
	o.root = root;
	o.kind = def_kind;
	o.apiv = def_apiv;
	rc = kp_load_strview(&d, root, "kind", &o.kind);
	if (!rc)
		rc = kp_load_strview(&d, root, "apiVersion", &o.apiv);
	if (!rc && (!o.kind || !*o.kind))
		rc = kp_load_fail(&d, KP_ERR_INVALID, "kind: required field is missing");
	if (rc) {
		doc_prefix(L, line, docno);
		return rc;
	}
	/* kind: List, or a typed list (PodList), with items */
	items = kp_load_get(root, "items");
	if ((strcmp(o.kind, "List") == 0 || (strlen(o.kind) > 4 && strcmp(o.kind + strlen(o.kind) - 4, "List") == 0))
	    && !find_kind(o.kind)) {
		if (depth >= 4) {
			rc = kp_load_fail(&d, KP_ERR_LIMIT, "lists nested too deeply");
		} else if (!items) {
			if (strcmp(o.kind, "List") != 0)
				warn_skip(L, o.kind, NULL);
			return KP_OK;
		} else if (items->type != KP_LN_SEQ) {
			rc = kp_load_fail_at(&d, "items", KP_ERR_INVALID, "expected a list, got %s",
					     kp_load_type_name(items));
		} else {
			return decode_list(L, &d, items, o.kind, o.apiv, docno, line, depth);
		}
		doc_prefix(L, line, docno);
		return rc;
	}
	rc = kp_load_map(&d, root, "metadata", &o.meta);
	if (!rc)
		rc = kp_load_strview(&d, o.meta, "name", &o.name);
	if (!rc)
		rc = kp_load_strview(&d, o.meta, "generateName", &gen);
	if (!rc)
		rc = kp_load_strview(&d, o.meta, "namespace", &o.ns);
	ks = find_kind(o.kind);
	snprintf(label, sizeof(label), "%s%s%s", o.kind, o.name && *o.name ? "/" : "",
		 o.name && *o.name ? o.name : "");
	if (rc)
		goto fail;
	if (!ks) {
		warn_skip(L, o.kind, o.name && *o.name ? o.name : NULL);
		return KP_OK;
	}
	if (!o.apiv) {
		rc = kp_load_fail(&d, KP_ERR_INVALID, "apiVersion: required field is missing");
		goto fail;
	}
	for (int i = 0; i < 5 && ks->versions[i] && !ok; i++)
		ok = strcmp(o.apiv, ks->versions[i]) == 0;
	if (!ok) {
		char q[96];
		rc = kp_load_fail(&d, KP_ERR_INVALID, "apiVersion: unsupported apiVersion %s for %s (want %s%s%s)",
				  kp_load_quote(o.apiv, q, sizeof(q)), o.kind, ks->versions[0],
				  ks->versions[1] ? " or " : "", ks->versions[1] ? ks->versions[1] : "");
		goto fail;
	}
	o.kind = ks->kind;   /* static: pods keep it as owner_kind */
	o.v1beta1 = strstr(o.apiv, "karpenter") && strstr(o.apiv, "/v1beta1");
	d.v1beta1 = o.v1beta1;
	if ((!o.name || !*o.name) && gen && *gen && ks->generate_name) {
		o.name = kp_arena_printf(&L->c->arena, "%s%05u", gen, L->gen++);
		if (!o.name)
			return lnomem(L);
		snprintf(label, sizeof(label), "%s/%s", o.kind, o.name);
	} else if (!o.name || !*o.name) {
		rc = kp_load_fail(&d, KP_ERR_INVALID, "metadata.name: required field is missing");
		snprintf(label, sizeof(label), "%s (document %d)", o.kind, docno);
		goto fail;
	} else {
		o.name = kp_arena_strdup(&L->c->arena, o.name);
	}
	if (ks->namespaced) {
		const char *ns = o.ns && *o.ns ? o.ns : "default";
		/* objects come in runs of one namespace: share the copy */
		if (!L->last_ns || strcmp(L->last_ns, ns) != 0)
			L->last_ns = kp_arena_strdup(&L->c->arena, ns);
		o.ns = L->last_ns;
	} else {
		o.ns = NULL;
	}
	if (!o.name || (ks->namespaced && !o.ns))
		return lnomem(L);
	d.obj = label;
	rc = ks->fn(L, &d, &o);
	kp_arena_reset(&L->tmp, mark);
	if (!rc)
		return KP_OK;
fail:
	kp_err_prefix(L->eb, "%s: %s: ", L->file, label);
	return rc;
}

static kp_err on_doc(void *ctx, const struct kp_load_node *root, int docno, uint32_t line, struct kp_errbuf *eb)
{
	struct loader *L = ctx;

	(void)eb;
	if (!root || root->type == KP_LN_NULL)
		return KP_OK;
	if (root->type != KP_LN_MAP) {
		kp_errf(L->eb, KP_ERR_INVALID, "expected a Kubernetes object (a mapping), got %s",
			kp_load_type_name(root));
		doc_prefix(L, line, docno);
		return KP_ERR_INVALID;
	}
	return decode_object(L, root, docno, line, NULL, NULL, 0);
}

/* ---- after the last document ---- */

static kp_err apply_runtime_classes(struct loader *L)
{
	struct kp_strmap warned;
	kp_err rc = KP_OK;

	kp_strmap_init_arena(&warned, &L->la);
	for (int i = 0; i < L->nrefs && !rc; i++) {
		struct kp_pod *p = L->refs[i].pod;
		const struct rclass *rcl = NULL;

		for (int j = 0; j < L->nrcs && !rcl; j++)
			if (strcmp(L->rcs[j].name, L->refs[i].rclass) == 0)
				rcl = &L->rcs[j];
		if (!rcl) {
			int r = set_add(&warned, &L->la, L->refs[i].rclass, NULL, NULL);
			if (r < 0)
				rc = lnomem(L);
			else if (r > 0 && L->warn)
				fprintf(L->warn, "warning: Pod/%s: spec.runtimeClassName \"%s\" names no RuntimeClass "
					"in the input; no overhead added\n", p->name, L->refs[i].rclass);
			continue;
		}
		if (!rcl->has)
			continue;
		for (int k = 0; k < KP_RES_MAX; k++) {
			if (!kp_i64_add(p->requests.v[k], rcl->overhead.v[k], &p->requests.v[k]) ||
			    (p->limits.v[k] && !kp_i64_add(p->limits.v[k], rcl->overhead.v[k], &p->limits.v[k]))) {
				rc = kp_errf(L->eb, KP_ERR_RANGE, "Pod/%s: resource requests overflow with the "
					     "overhead of RuntimeClass/%s", p->name, rcl->name);
				break;
			}
		}
	}
	return rc;
}

static void fix_v1beta1_claims(struct loader *L)
{
	for (int i = 0; i < L->nb1; i++) {
		struct kp_nodeclaim *nc = L->b1claims[i];
		const struct kp_nodepool *np = nc->nodepool ? kp_cluster_pool(L->c, nc->nodepool) : NULL;
		nc->expire_after_ms = np ? np->expire_after_ms : DEFAULT_EXPIRE_MS;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static kp_err add_namespaces(struct loader *L)
{
	const char **names;
	size_t n = 0;
	kp_err rc = KP_OK;

	if (!L->nsref.n)
		return KP_OK;
	names = kp_strmap_keys(&L->nsref, &n);   /* sorted */
	if (!names)
		return lnomem(L);
	for (size_t i = 0; i < n && !rc; i++) {
		struct kp_namespace *ns;
		char key[1024];

		snprintf(key, sizeof(key), "Namespace//%s", names[i]);
		if (set_has(&L->objects, key) || kp_cluster_namespace(L->c, names[i]))
			continue;
		ns = kp_arena_alloc(&L->c->arena, sizeof(*ns));
		if (!ns || !(ns->name = kp_arena_strdup(&L->c->arena, names[i])) ||
		    kp_labels_set(&ns->labels, &L->c->arena, "kubernetes.io/metadata.name", ns->name) ||
		    kp_cluster_add_namespace(L->c, ns))
			rc = lnomem(L);
	}
	free(names);
	return rc;
}

static kp_err warn_unbound(struct loader *L)
{
	struct kp_strmap warned;
	kp_err rc = KP_OK;

	if (!L->warn)
		return KP_OK;
	kp_strmap_init_arena(&warned, &L->la);
	for (int i = 0; i < L->c->npods && !rc; i++) {
		const struct kp_pod *p = L->c->pods[i];
		char key[1024];
		int r;

		if (!p->node_name)
			continue;
		snprintf(key, sizeof(key), "Node//%s", p->node_name);
		if (set_has(&L->objects, key) || kp_cluster_node(L->c, p->node_name))
			continue;
		r = set_add(&warned, &L->la, p->node_name, NULL, NULL);
		if (r < 0)
			rc = lnomem(L);
		else if (r > 0)
			fprintf(L->warn, "warning: Pod/%s: spec.nodeName \"%s\" names no Node in the input\n",
				p->name, p->node_name);
	}
	return rc;
}

static kp_err finish(struct loader *L)
{
	kp_err rc = apply_runtime_classes(L);

	if (rc)
		return rc;
	fix_v1beta1_claims(L);
	rc = add_namespaces(L);
	if (!rc)
		rc = warn_unbound(L);
	if (!rc)
		kp_cluster_link(L->c);
	return rc;
}

/* ---- files ---- */

static void loader_init(struct loader *L, struct kp_cluster *c, const struct kp_load_opts *opts,
			struct kp_errbuf *eb)
{
	memset(L, 0, sizeof(*L));
	L->c = c;
	L->eb = eb;
	L->warn = opts ? opts->warn : NULL;
	L->now = opts ? opts->now : 0;
	kp_arena_init(&L->la);
	kp_arena_init(&L->tmp);
	kp_strmap_init_arena(&L->objects, &L->la);
	kp_strmap_init_arena(&L->nsref, &L->la);
}

static void loader_free(struct loader *L)
{
	kp_arena_free(&L->tmp);
	kp_arena_free(&L->la);
}

static kp_err load_data(struct loader *L, const char *name, const char *data, size_t len)
{
	L->file = kp_arena_strdup(&L->la, name);
	if (!L->file)
		return kp_errf(L->eb, KP_ERR_NOMEM, "%s: out of memory", name);
	if (len > KP_LOAD_MAX_FILE)
		return kp_errf(L->eb, KP_ERR_LIMIT, "%s: input larger than %u MiB", name,
			       (unsigned)(KP_LOAD_MAX_FILE >> 20));
	return kp_load_parse_stream(L->file, data, len, &L->tmp, on_doc, L, L->eb);
}

static kp_err read_stream(FILE *f, const char *name, char **out, size_t *outlen, struct kp_errbuf *eb)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;

	for (;;) {
		size_t got;
		if (cap - len < 65536) {
			size_t ncap = cap ? cap * 2 : 65536 * 2;
			char *nb;
			if (ncap > KP_LOAD_MAX_FILE + 65536 * 2)
				ncap = KP_LOAD_MAX_FILE + 65536 * 2;
			if (ncap <= cap) {
				free(buf);
				return kp_errf(eb, KP_ERR_LIMIT, "%s: input larger than %u MiB", name,
					       (unsigned)(KP_LOAD_MAX_FILE >> 20));
			}
			nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				return kp_errf(eb, KP_ERR_NOMEM, "%s: out of memory", name);
			}
			buf = nb;
			cap = ncap;
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (len > KP_LOAD_MAX_FILE) {
			free(buf);
			return kp_errf(eb, KP_ERR_LIMIT, "%s: input larger than %u MiB", name,
				       (unsigned)(KP_LOAD_MAX_FILE >> 20));
		}
		if (got == 0) {
			if (ferror(f)) {
				int e = errno;
				free(buf);
				return kp_errf(eb, KP_ERR_IO, "%s: %s", name, strerror(e));
			}
			break;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return KP_OK;
}

static kp_err load_file(struct loader *L, const char *path)
{
	char *data = NULL;
	size_t len = 0;
	kp_err rc;

	if (strcmp(path, "-") == 0) {
		rc = read_stream(stdin, "<stdin>", &data, &len, L->eb);
		if (!rc)
			rc = load_data(L, "<stdin>", data, len);
	} else {
		struct stat st;
		FILE *f = fopen(path, "rb");
		if (!f)
			return kp_errf(L->eb, KP_ERR_IO, "%s: %s", path, strerror(errno));
		if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > (off_t)KP_LOAD_MAX_FILE) {
			fclose(f);
			return kp_errf(L->eb, KP_ERR_LIMIT, "%s: input larger than %u MiB", path,
				       (unsigned)(KP_LOAD_MAX_FILE >> 20));
		}
		rc = read_stream(f, path, &data, &len, L->eb);
		fclose(f);
		if (!rc)
			rc = load_data(L, path, data, len);
	}
	free(data);
	return rc;
}

static bool manifest_name(const char *n)
{
	size_t len = strlen(n);
	if (n[0] == '.')
		return false;
	return (len > 5 && strcmp(n + len - 5, ".yaml") == 0) || (len > 4 && strcmp(n + len - 4, ".yml") == 0) ||
	       (len > 5 && strcmp(n + len - 5, ".json") == 0);
}

static kp_err load_dir(struct loader *L, const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, loaded = 0;
	kp_err rc = KP_OK;

	if (!dp)
		return kp_errf(L->eb, KP_ERR_IO, "%s: %s", dir, strerror(errno));
	while ((de = readdir(dp)) != NULL) {
		if (!manifest_name(de->d_name))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			char **nn = realloc(names, ncap * sizeof(*nn));
			if (!nn) {
				rc = kp_errf(L->eb, KP_ERR_NOMEM, "%s: out of memory", dir);
				break;
			}
			names = nn;
			cap = ncap;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			rc = kp_errf(L->eb, KP_ERR_NOMEM, "%s: out of memory", dir);
			break;
		}
		n++;
	}
	closedir(dp);
	if (!rc && n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && !rc; i++) {
		size_t dl = strlen(dir);
		char *path = malloc(dl + strlen(names[i]) + 2);
		struct stat st;

		if (!path) {
			rc = kp_errf(L->eb, KP_ERR_NOMEM, "%s: out of memory", dir);
			break;
		}
		memcpy(path, dir, dl);
		if (dl && dir[dl - 1] != '/')
			path[dl++] = '/';
		memcpy(path + dl, names[i], strlen(names[i]) + 1);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			rc = load_file(L, path);
			loaded++;
		}
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (!rc && loaded == 0 && L->warn)
		fprintf(L->warn, "warning: %s: no manifests (*.yaml, *.yml, *.json) in the directory\n", dir);
	return rc;
}

kp_err kp_load_paths(struct kp_cluster *c, const char *const *paths, int npaths,
		     const struct kp_load_opts *opts, struct kp_errbuf *eb)
{
	struct loader L;
	kp_err rc = KP_OK;

	loader_init(&L, c, opts, eb);
	for (int i = 0; i < npaths && !rc; i++) {
		struct stat st;

		if (strcmp(paths[i], "-") != 0 && stat(paths[i], &st) != 0)
			rc = kp_errf(eb, KP_ERR_IO, "%s: %s", paths[i], strerror(errno));
		else if (strcmp(paths[i], "-") != 0 && S_ISDIR(st.st_mode))
			rc = load_dir(&L, paths[i]);
		else
			rc = load_file(&L, paths[i]);
	}
	if (!rc)
		rc = finish(&L);
	loader_free(&L);
	return rc;
}

kp_err kp_load_buffer(struct kp_cluster *c, const char *name, const char *data, size_t len,
		      const struct kp_load_opts *opts, struct kp_errbuf *eb)
{
	struct loader L;
	kp_err rc;

	loader_init(&L, c, opts, eb);
	rc = load_data(&L, name ? name : "<input>", data, len);
	if (!rc)
		rc = finish(&L);
	loader_free(&L);
	return rc;
}

kp_err kp_load_object(struct kp_cluster *c, const struct json_t *obj, const char *def_kind,
		      const char *def_api_version, const char *name, const struct kp_load_opts *opts,
		      struct kp_errbuf *eb)
{
	struct kp_load_node *root = NULL;
	struct loader L;
	kp_err rc;

	loader_init(&L, c, opts, eb);
	L.file = kp_arena_strdup(&L.la, name ? name : "object");
	if (!L.file) {
		loader_free(&L);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	rc = kp_load_json_tree(L.file, obj, &L.tmp, &root, eb);
	if (!rc && (!root || root->type != KP_LN_MAP))
		rc = kp_errf(eb, KP_ERR_INVALID, "%s: expected a Kubernetes object (a mapping), got %s", L.file,
			     root ? kp_load_type_name(root) : "nothing");
	if (!rc)
		rc = decode_object(&L, root, 1, 0, def_kind, def_api_version, 0);
	if (!rc)
		fix_v1beta1_claims(&L);
	loader_free(&L);
	return rc;
}
