/*
 * kobj.h - Kubernetes-object helpers over JSON (jansson), the one copy used
 * by the client (src/kube), the controller (src/ctrl), the API server
 * (src/apiserver) and the built-in controllers (src/kcm): member and dotted
 * path access, conditions, finalizers, owner references, timestamps, label
 * selectors (metav1.LabelSelector) over JSON labels, reading a whole file,
 * writing one atomically.
 *
 * Conventions: getters take const objects and return borrowed references
 * (NULL when absent or of another type); setters change the object in
 * place. Nothing here allocates except where it says "new reference" or
 * "malloc'ed". No I/O except kp_kobj_read_file, kp_kobj_write_file and
 * kp_kobj_mkdir_p; no global state.
 * Prefix kp_kobj_ (public); there are no internals.
 */
#ifndef KARPENTER_KOBJ_KOBJ_H
#define KARPENTER_KOBJ_KOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "karpenter/base.h"

/* ---- access ---- */
/* String member key of o, or NULL (key may contain dots: not a path). */
const char *kp_kobj_str(const json_t *o, const char *key);
/* Integer member key of o, or dflt. */
int64_t kp_kobj_int(const json_t *o, const char *key, int64_t dflt);
/* The value at a dotted path ("metadata.name", "status.conditions"), or
 * NULL; a segment is at most 127 bytes. */
json_t *kp_kobj_at(const json_t *o, const char *path);
/* String at a dotted path, or NULL. */
const char *kp_kobj_path_str(const json_t *o, const char *path);
/* Object member key of o, created empty when missing or not an object
 * (NULL only when out of memory or o is not an object). */
json_t *kp_kobj_child(json_t *o, const char *key);
/* metadata (created when missing) and one of its string members. */
json_t *kp_kobj_meta(json_t *obj);
const char *kp_kobj_meta_str(const json_t *obj, const char *key);

/* ---- conditions (status.conditions) ---- */
/* Condition of type in obj's status.conditions, or NULL. */
json_t *kp_kobj_condition(const json_t *obj, const char *type);
/* Its status is "True". */
bool kp_kobj_condition_true(const json_t *obj, const char *type);
/* Sets condition type in the array conds: status, reason (type when NULL),
 * message ("" when NULL), observedGeneration; lastTransitionTime (from
 * wall_ms) changes only when the status does. */
void kp_kobj_condition_set(json_t *conds, const char *type, const char *status, const char *reason,
			   const char *message, int64_t generation, int64_t wall_ms);

/* ---- finalizers (metadata.finalizers) ---- */
size_t kp_kobj_finalizers(const json_t *obj);
bool kp_kobj_has_finalizer(const json_t *obj, const char *f);
/* Appends f unless present; true when it changed obj. */
bool kp_kobj_add_finalizer(json_t *obj, const char *f);
/* Removes every f; true when it changed obj. */
bool kp_kobj_remove_finalizer(json_t *obj, const char *f);

/* ---- owner references ---- */
/* The controller reference of o (an ownerReference with controller true). */
const json_t *kp_kobj_controller_ref(const json_t *o);

/* ---- time ---- */
/* RFC 3339 UTC with seconds: of wall_ms, or of now. buf >= 32 bytes. */
void kp_kobj_time(int64_t wall_ms, char *buf, size_t n);
void kp_kobj_now_rfc3339(char *buf, size_t n);

/* ---- label selectors ---- */
/* True if labels (an object of strings, may be NULL) match a metav1
 * LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists,
 * DoesNotExist); an empty selector matches everything, a NULL one nothing. */
bool kp_kobj_selector_matches(const json_t *selector, const json_t *labels);

/* ---- files ---- */
/* Reads the whole file at path (at most max bytes, else KP_ERR_LIMIT) into
 * *out (malloc'ed, NUL-terminated, caller frees) and *len (may be NULL). */
kp_err kp_kobj_read_file(const char *path, size_t max, char **out, size_t *len, struct kp_errbuf *eb);
/* Creates dir and its missing parents with mode 0700 (mkdir -p); existing
 * ones are left as they are. KP_ERR_INVALID for an empty or too long path,
 * KP_ERR_IO naming the directory that could not be made. */
kp_err kp_kobj_mkdir_p(const char *dir, struct kp_errbuf *eb);
/* Replaces the file at path with data (len bytes), mode 0600, atomically:
 * written to "path.tmp", fsync'ed, renamed over path, the directory
 * fsync'ed (best effort). A crash leaves the old file or the new one. On
 * failure path is unchanged and the error names the file. For the keys,
 * tokens, certificates, kubeconfigs and state files `up` keeps. */
kp_err kp_kobj_write_file(const char *path, const char *data, size_t len, struct kp_errbuf *eb);

#endif
