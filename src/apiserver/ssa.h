/*
 * ssa.h - server-side apply and field ownership (metadata.managedFields),
 * after sigs.k8s.io/structured-merge-diff as the API server uses it:
 *  - an apply (PATCH application/apply-patch+yaml) merges the applied
 *    configuration into the live object (maps field by field, lists by their
 *    list type: `map` lists by their keys, `set` lists by value, the rest
 *    replaced whole), gives the applier ownership of exactly the fields it
 *    applied, removes the fields it applied before and no longer applies
 *    (unless someone else owns them), and refuses with 409 when it would
 *    change a field another manager owns, naming that manager
 *    (`Apply failed with 1 conflict: conflict with "mgr": .data.key`) unless
 *    forced, which takes the fields over;
 *  - every other write (create, update, patch) gives its manager the fields
 *    it changed and takes them from everyone else.
 * Field sets are FieldsV1 (`{"f:spec":{"f:containers":{"k:{\"name\":\"a\"}":
 * {".":{},"f:image":{}}}}}`). List types come from a CRD's structural schema
 * (x-kubernetes-list-type, -list-map-keys, x-kubernetes-map-type) or, for
 * built-in kinds, from a table of the upstream patch merge keys
 * (containers by name, ports by containerPort/protocol, ...).
 *
 * Cost: a few walks of the object and of each manager's field set.
 */
#ifndef KARPENTER_APISERVER_SSA_H
#define KARPENTER_APISERVER_SSA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct kp_apiserver__ssa_req {
	const json_t *live;         /* the stored object, NULL when creating (borrowed) */
	const char *manager;        /* field manager */
	const char *api_version;    /* "apps/v1", recorded in the managedFields entry */
	const json_t *schema;       /* CRD openAPIV3Schema, NULL for built-in kinds (borrowed) */
	const char *now;            /* RFC 3339 time for the entry */
	bool force;                 /* force=true: take conflicting fields over */
	bool ignore_status;         /* the kind has a status subresource: status is not written */
	const char *subresource;    /* "status", "scale" or NULL: recorded in the entry, part of the
				       manager's identity (its writes to the object are another entry) */
};

/* Applies `applied` (borrowed). Returns the new object (new reference) with
 * its managedFields updated; or NULL with *code (400, 409, 500) and msg set,
 * and for 409 *causes (new array of StatusCause objects, type
 * FieldManagerConflict) — *causes is NULL otherwise. */
json_t *kp_apiserver__ssa_apply(const struct kp_apiserver__ssa_req *q, const json_t *applied, int *code, char *msg, size_t n,
		     json_t **causes);

/* Records a non-apply write of new_obj (mutated: its managedFields) over
 * q->live (NULL on create) by q->manager. Managed fields the client sent in
 * new_obj are replaced by the server's. Returns 0, or -1 when out of memory. */
int kp_apiserver__ssa_update(const struct kp_apiserver__ssa_req *q, json_t *new_obj);

/* The field set of obj as FieldsV1 (new reference), without the fields the
 * server owns (apiVersion, kind, metadata.name/namespace/uid/...). */
json_t *kp_apiserver__ssa_fieldset(const json_t *obj, const json_t *schema, bool ignore_status);

#endif
