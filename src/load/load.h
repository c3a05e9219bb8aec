/*
 * load.h - reads Kubernetes manifests (multi-document YAML or JSON, files or
 * directories of .yaml, .yml and .json files) into a struct kp_cluster.
 *
 * Kinds read: NodePool (karpenter.sh/v1, v1beta1), EC2NodeClass
 * (karpenter.k8s.aws/v1, v1beta1), Pod, Deployment, ReplicaSet, StatefulSet,
 * Job, DaemonSet, Node, NodeClaim, PodDisruptionBudget, RuntimeClass,
 * Namespace. Other kinds are skipped with a warning. Workload controllers
 * expand to `replicas` pods named <name>-<i>; Jobs to `parallelism` pods
 * (at most `completions`).
 * Errors name the file, the object (Kind/name) and the field path:
 *   "FILE: NodePool/default: spec.template.spec.requirements[1].operator: unknown operator \"Inn\""
 * and syntax errors the position: "FILE:LINE:COL: yaml: ...". Empty and
 * null documents, empty files and directories without manifests are not
 * errors. Caps: 64 MiB per file, nesting depth 128, 16M values per document
 * (aliases expanded). See load.c for the rules applied after all documents
 * (RuntimeClass overhead, implicit namespaces); the objects are read-only
 * input (pods expanded from one template share arrays).
 */
#ifndef KARPENTER_LOAD_H
#define KARPENTER_LOAD_H

#include <stdio.h>

#include "karpenter/base.h"
#include "karpenter/objects.h"

struct kp_load_opts {
	FILE *warn;                 /* warnings (skipped kinds); NULL = silent */
	int64_t now;                /* creation time for objects without one (unix s) */
};

/* Loads every path (file or directory) into c. On error c may hold part of
 * the input; the caller frees it. */
kp_err kp_load_paths(struct kp_cluster *c, const char *const *paths, int npaths,
		     const struct kp_load_opts *opts, struct kp_errbuf *eb);
/* Decodes one API object (a jansson json_t, borrowed; e.g. from an informer)
 * into c with the decoders kp_load_paths uses, so a controller's snapshot
 * matches what `simulate` reads from the same manifests. def_kind and
 * def_api_version stand in when the object carries no kind/apiVersion (List
 * items); NULL = required in the object. Workloads expand as in files; a
 * "...List" object decodes its items. Unlike kp_load_paths, nothing runs
 * after the object: no implicit namespaces, no RuntimeClass overhead (a pod
 * from the API already carries spec.overhead), no kp_cluster_link (call it
 * once after the last object). Duplicates are not detected across calls.
 * name (may be NULL) prefixes messages. On error c is unchanged except for
 * arena memory. Cost: O(object size). */
struct json_t;
kp_err kp_load_object(struct kp_cluster *c, const struct json_t *obj, const char *def_kind,
		      const char *def_api_version, const char *name, const struct kp_load_opts *opts,
		      struct kp_errbuf *eb);
/* Loads one in-memory document stream; name is used in messages. */
kp_err kp_load_buffer(struct kp_cluster *c, const char *name, const char *data, size_t len,
		      const struct kp_load_opts *opts, struct kp_errbuf *eb);

#endif
