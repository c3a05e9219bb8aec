/*
 * internal.h - the manifest loader's private interfaces, shared by the files
 * of src/load/ and by nothing else.
 *
 * Two layers:
 *
 *   1. A document tree (struct kp_load_node): what yaml.c builds from libyaml
 *      events and json.c from jansson values. Scalars keep the text as written
 *      plus a resolved type (YAML 1.1 rules, as sigs.k8s.io/yaml resolves them),
 *      so a quantity written as 0.5 or "500m" reaches kp_qty_parse unchanged.
 *      Aliases share nodes (the tree is a DAG); the builders cap nesting depth,
 *      node count including alias expansion, and file size. A tree lives in a
 *      scratch arena that is reset after each document.
 *
 *   2. A decode context (struct kp_load_dec): typed field access that knows the
 *      field path ("spec.template.spec.requirements[1].operator") so every
 *      message names the field. Decoded values are copied into the cluster's
 *      arena; nothing decoded points into the document tree.
 *
 * Null values count as absent everywhere (as Go's JSON decoding leaves a
 * field unset). A string field accepts any scalar and takes its text as
 * written (so `values: [2]` works); integer and boolean fields accept only
 * integers and booleans, as the Kubernetes API does.
 */
#ifndef KARPENTER_LOAD_INTERNAL_H
#define KARPENTER_LOAD_INTERNAL_H

#include <stdio.h>

#include "karpenter/base.h"
#include "karpenter/objects.h"
#include "load/load.h"

/* ---- limits ---- */
#define KP_LOAD_MAX_FILE   (64u * 1024u * 1024u)  /* bytes per file or buffer */
#define KP_LOAD_MAX_DEPTH  128                    /* nested mappings/lists */
#define KP_LOAD_MAX_NODES  (16u * 1024u * 1024u)  /* nodes per document, aliases expanded */
#define KP_LOAD_MAX_ANCHORS 4096                  /* anchors per document */
#define KP_LOAD_PATH_MAX   512                    /* field path in messages */

/* ---- document tree ---- */

enum kp_load_type {
	KP_LN_NULL = 0,
	KP_LN_BOOL,
	KP_LN_INT,
	KP_LN_FLOAT,
	KP_LN_STR,
	KP_LN_SEQ,
	KP_LN_MAP,
};

struct kp_load_pair;

struct kp_load_node {
	uint8_t type;                   /* enum kp_load_type */
	bool plain;                     /* YAML plain (unquoted) scalar */
	uint32_t line;                  /* 1-based source line; 0 = unknown (JSON) */
	uint32_t n;                     /* items of a SEQ, pairs of a MAP */
	uint32_t col;                   /* 1-based source column; 0 = unknown */
	const char *s;                  /* scalar text as written; STR: the value */
	union {
		int64_t i;                  /* INT */
		double f;                   /* FLOAT */
		bool b;                     /* BOOL */
		struct kp_load_node **items;   /* SEQ */
		struct kp_load_pair *pairs;    /* MAP, in document order, unique keys */
	} u;
};

struct kp_load_pair {
	const char *key;
	struct kp_load_node *val;
};

/* Called for each document of a stream with its root (NULL for an empty
 * document) and its 1-based number; line is where it starts (0 if unknown).
 * The tree is valid only during the call. */
typedef kp_err (*kp_load_doc_fn)(void *ctx, const struct kp_load_node *root, int docno,
				 uint32_t line, struct kp_errbuf *eb);

/* Parses a YAML stream (yaml.c). tmp is reset after each document. Syntax
 * errors read "NAME:LINE:COL: yaml: ..."; errors from fn pass through. */
kp_err kp_load_parse_yaml(const char *name, const char *data, size_t len, struct kp_arena *tmp,
			  kp_load_doc_fn fn, void *ctx, struct kp_errbuf *eb);
/* Same, choosing whether the fast reader (yaml_fast.c) may take the
 * documents it can (kp_load_parse_yaml: always); for tests comparing both. */
kp_err kp_load_parse_yaml_ex(const char *name, const char *data, size_t len, struct kp_arena *tmp,
			     kp_load_doc_fn fn, void *ctx, struct kp_errbuf *eb, bool fast);
/* The fast reader: delivers documents from the start of data while each is
 * in its subset; stops at the first that is not, with *off its first byte,
 * *line its 0-based line and *docno the documents delivered (*off == len:
 * the whole stream was read). Errors only from fn or out of memory. */
kp_err kp_load_fast_yaml(const char *name, const char *data, size_t len, struct kp_arena *tmp,
			 kp_load_doc_fn fn, void *ctx, struct kp_errbuf *eb, size_t *off, uint32_t *line,
			 int *docno);
/* Types a plain scalar n->s by YAML 1.1 rules (null, bool, int, float, else string). */
void kp_load_resolve_plain(struct kp_load_node *n);
/* Parses a stream of concatenated JSON values (json.c); same contract. */
kp_err kp_load_parse_json(const char *name, const char *data, size_t len, struct kp_arena *tmp,
			  kp_load_doc_fn fn, void *ctx, struct kp_errbuf *eb);
/* Converts one jansson value (borrowed) into a document tree in tmp, with
 * the same caps as kp_load_parse_json; *out is valid until tmp is reset
 * (json.c). Used by kp_load_object. */
kp_err kp_load_json_tree(const char *name, const struct json_t *j, struct kp_arena *tmp,
			 struct kp_load_node **out, struct kp_errbuf *eb);
/* Picks JSON when the first significant byte is '{' (as kubectl does), else YAML. */
kp_err kp_load_parse_stream(const char *name, const char *data, size_t len, struct kp_arena *tmp,
			    kp_load_doc_fn fn, void *ctx, struct kp_errbuf *eb);
/* Line/column (1-based) of byte offset off in data. */
void kp_load_offset_pos(const char *data, size_t len, size_t off, unsigned long *line,
			unsigned long *col);

/* Value for key in a MAP node; NULL when absent, null, or n is not a map. */
const struct kp_load_node *kp_load_get(const struct kp_load_node *n, const char *key);
/* "a mapping", "a string", ... for messages. */
const char *kp_load_type_name(const struct kp_load_node *n);

/* ---- decode context ---- */

struct kp_load_dec {
	struct kp_cluster *c;
	struct kp_arena *a;             /* == &c->arena: decoded objects */
	struct kp_arena *tmp;           /* scratch for one object */
	struct kp_errbuf *eb;
	FILE *warn;                     /* opts->warn */
	const char *file;               /* for warnings */
	const char *obj;                /* "Kind/name" for warnings */
	bool v1beta1;                   /* decoding a karpenter v1beta1 object */
	size_t plen;
	char path[KP_LOAD_PATH_MAX];    /* current field path, "" at the object */
};

/* Path stack: push returns the mark to pop back to. */
size_t kp_load_push(struct kp_load_dec *d, const char *key);
size_t kp_load_pushi(struct kp_load_dec *d, size_t idx);
void kp_load_pop(struct kp_load_dec *d, size_t mark);

/* Writes "PATH: message" into eb (just the message at the object's root). */
kp_err kp_load_fail(struct kp_load_dec *d, kp_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same with key appended to the path for this message only. */
kp_err kp_load_fail_at(struct kp_load_dec *d, const char *key, kp_err code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Puts "PATH: " in front of a message a model call already wrote into eb. */
kp_err kp_load_wrap(struct kp_load_dec *d, kp_err code);
/* Prints "warning: FILE: OBJ: PATH: message" to d->warn if set. */
void kp_load_warn(struct kp_load_dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Quotes s for a message, truncating long values: "abc" or "abcdef...". */
const char *kp_load_quote(const char *s, char *buf, size_t n);

/* Error for a node of the wrong type: "expected WANT, got a string \"x\"". */
kp_err kp_load_type_error(struct kp_load_dec *d, const struct kp_load_node *n, const char *want);

/* Typed access to field key of map m. Absent (or null) fields leave *out
 * untouched and set *present (when not NULL) to false. Errors name the field. */
kp_err kp_load_map(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		   const struct kp_load_node **out);
kp_err kp_load_seq(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		   const struct kp_load_node **out);
/* String copied into d->a (text of any scalar). */
kp_err kp_load_str(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		   const char **out);
/* Same, but a missing or empty value is an error. */
kp_err kp_load_str_req(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		       const char **out);
/* String view into the tree (not copied): valid only while the tree is. */
kp_err kp_load_strview(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		       const char **out);
kp_err kp_load_int(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		   int64_t min, int64_t max, int64_t *out, bool *present);
kp_err kp_load_bool(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		    bool *out, bool *present);
/* Scalar text of n for a string-typed position (node itself, no key). */
kp_err kp_load_node_str(struct kp_load_dec *d, const struct kp_load_node *n, const char **view);
/* List of strings (copied into d->a). */
kp_err kp_load_strlist(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		       const char ***out, int *nout);
/* Same as views into the tree, array in d->tmp: for values that are copied
 * elsewhere (kp_req_make) or only inspected. */
kp_err kp_load_strviews(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			const char ***out, int *nout);
/* A kubelet object (EC2NodeClass v1 spec.kubelet, v1beta1 NodePool
 * template kubelet) into k: maxPods, podsPerCore and the quantity maps
 * (objects.c). */
kp_err kp_load_kubelet(struct kp_load_dec *d, const struct kp_load_node *kubelet, struct kp_kubelet *k);
/* map[string]string into labels. normalize: beta keys become stable keys;
 * validate: key and value syntax as Kubernetes checks labels. */
kp_err kp_load_labels(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		      struct kp_labels *out, bool normalize, bool validate);
/* Resource list (map name -> quantity): registers names in c->resnames,
 * parses each quantity at its resource's scale, rejects negatives. mask (may
 * be NULL) gets a bit per resource present. With nodes_out, a "nodes" entry
 * is parsed as a count into it instead. With tolerate_full, names that do not
 * fit the resource table are skipped with a warning (node status). */
kp_err kp_load_reslist(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		       struct kp_res *out, uint32_t *mask, int64_t *nodes_out, bool *has_nodes,
		       bool tolerate_full);
/* Go duration matching ^([0-9]+(s|m|h))+$, or "Never" when allow_never
 * (KP_NEVER). Absent leaves *out untouched. */
kp_err kp_load_duration(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			bool allow_never, int64_t *out_ms, bool *present);
/* RFC 3339 time in unix seconds. */
kp_err kp_load_time(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		    int64_t *out, bool *present);
/* Taint list (NodePool, NodeClaim, Node). */
kp_err kp_load_taints(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		      struct kp_taints *out);
/* metav1.LabelSelector; *out = NULL when absent. */
kp_err kp_load_selector(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			const struct kp_selector **out);
/* Condition list: status of condition type (true iff "True"); *found false if absent. */
/* lastTransitionTime (unix seconds, 0 when absent) of the condition
 * of the given type in the sequence m[key]. */
kp_err kp_load_condition_time(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			      const char *type, int64_t *out);
kp_err kp_load_condition(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			 const char *type, bool *is_true, bool *found);

/* ---- object decoders ---- */

/* What a pod template refers to that is only resolved after all documents. */
struct kp_load_podref {
	const char *runtime_class;      /* spec.runtimeClassName, or NULL */
	bool has_overhead;              /* spec.overhead was given */
};

/* Decodes metadata and spec of a Pod or a PodTemplateSpec into p (pod.c).
 * meta may be NULL. For templates (is_template) metadata.name is not
 * required and owner/timestamps come from the caller. */
kp_err kp_load_pod(struct kp_load_dec *d, const struct kp_load_node *meta,
		   const struct kp_load_node *spec, struct kp_pod *p, struct kp_load_podref *ref,
		   bool is_template);
/* Node selector requirement list (matchExpressions) into reqs (pod.c). */
kp_err kp_load_node_reqs(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			 struct kp_reqs *reqs);

/* NodePool (nodepool.c). root is the whole object; name already decoded. */
kp_err kp_load_nodepool(struct kp_load_dec *d, const struct kp_load_node *root,
			struct kp_nodepool *np);
/* NodePool/NodeClaim requirement list with CRD rules (nodepool.c).
 * pool_rules: apply the NodePool label-domain restrictions. */
kp_err kp_load_karp_reqs(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			 struct kp_reqs *reqs, bool pool_rules);
/* Stable FNV-1a 64 hash of a NodePool's template, as 16 hex digits
 * (see nodepool.c for what it covers); NULL when out of memory. */
const char *kp_load_nodepool_hash(struct kp_arena *a, const struct kp_nodepool *np);

/* Other kinds (objects.c). */
kp_err kp_load_node_obj(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_node *n);
kp_err kp_load_nodeclaim(struct kp_load_dec *d, const struct kp_load_node *root,
			 struct kp_nodeclaim *nc);
kp_err kp_load_pdb(struct kp_load_dec *d, const struct kp_load_node *root, bool v1beta1,
		   struct kp_pdb *pdb);
kp_err kp_load_namespace(struct kp_load_dec *d, const struct kp_load_node *root,
			 struct kp_namespace *ns);
kp_err kp_load_storageclass(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_storageclass *sc);
kp_err kp_load_pvc(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_pvc *pvc);
kp_err kp_load_pv(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_pv *pv);
kp_err kp_load_nodeclass(struct kp_load_dec *d, const struct kp_load_node *root,
			 struct kp_nodeclass *nc);
/* DaemonSet: spec.template decoded into ds->tmpl (ds->ns, ds->name set by
 * the caller), marked is_daemon and owned by the DaemonSet. */
kp_err kp_load_daemonset(struct kp_load_dec *d, const struct kp_load_node *root, struct kp_daemonset *ds,
			 struct kp_load_podref *ref);
/* RuntimeClass overhead.podFixed into *overhead; *has set when given. */
kp_err kp_load_runtimeclass(struct kp_load_dec *d, const struct kp_load_node *root,
			    struct kp_res *overhead, bool *has);

#endif
