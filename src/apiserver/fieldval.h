/*
 * fieldval.h - field validation of a written object, as the real API server
 * decodes it before anything else looks at it:
 *  - types: ObjectMeta and the fields the engine decodes (labels,
 *    annotations, finalizers, ownerReferences, nodeName, nodeSelector,
 *    tolerations, taints, resources) must have their Go types; the first
 *    mismatch is reported with encoding/json's text (`json: cannot unmarshal
 *    number into Go struct field ObjectMeta.metadata.labels of type string`),
 *    which the API server answers with 400 BadRequest;
 *  - unknown fields: every field a CRD's structural schema (or a built-in
 *    kind's Go struct, where this module knows all of its fields) does not
 *    declare, as a path (`spec.disruption.expireAfter`, `a.b[0].c`);
 *    `fieldValidation=Strict` rejects them (400, `strict decoding error:
 *    unknown field "..."`), Warn answers a `Warning:` header per field, Ignore
 *    is silent; Warn and Ignore prune them, as the typed decoder and the CRD
 *    pruning algorithm do, except below x-kubernetes-preserve-unknown-fields.
 *
 * Cost: one walk of the object (and the schema beside it); no allocation but
 * the list of unknown paths.
 */
#ifndef KARPENTER_APISERVER_FIELDVAL_H
#define KARPENTER_APISERVER_FIELDVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum kp_apiserver__fieldval_mode {
	KP_APISERVER_FIELDVAL_WARN = 0,   /* the API server's default when the parameter is absent */
	KP_APISERVER_FIELDVAL_STRICT,     /* kubectl >= 1.27's default */
	KP_APISERVER_FIELDVAL_IGNORE,
};

/* Parses the fieldValidation query value (NULL or "" = Warn). Returns -1 for
 * anything else; *msg then gets the upstream 400 text. */
int kp_apiserver__fieldval_mode_parse(const char *s, enum kp_apiserver__fieldval_mode *out, char *msg, size_t n);

struct kp_apiserver__fieldval_result {
	json_t *unknown;        /* array of path strings, in document order (owned) */
	char decode_err[512];   /* first Go type error, "" if none */
};

/* Checks obj. crd_schema is the openAPIV3Schema of the CRD version written
 * (borrowed), or NULL for a built-in kind named by kind. prune removes the
 * unknown fields from obj. Returns 0, or -1 when out of memory. The caller
 * frees with kp_apiserver__fieldval_result_free. */
int kp_apiserver__fieldval_check(const json_t *crd_schema, const char *kind, json_t *obj, bool prune,
		      struct kp_apiserver__fieldval_result *out);
void kp_apiserver__fieldval_result_free(struct kp_apiserver__fieldval_result *r);

/* The whole decision for one write: checks obj (pruning unless Strict) and
 * returns 0 when it may be stored, with *warnings (new array of warning
 * texts, `unknown field "spec.x"`, may be empty) to send as `Warning: 299 -`
 * headers; or 400 with msg set to the API server's BadRequest message
 * (`NodePool in version "v1" cannot be handled as a NodePool: strict
 * decoding error: unknown field "spec.disruption.expireAfter"`); or 500 when
 * out of memory. */
int kp_apiserver__fieldval_decide(const json_t *crd_schema, const char *kind, const char *version, json_t *obj,
		       enum kp_apiserver__fieldval_mode mode, json_t **warnings, char *msg, size_t n);

/* Parses a resourceVersion precondition: "" means none (*out = 0); else a
 * decimal (strconv.ParseUint). Returns -1 with msg set to the field error
 * the API server reports as 422 (`resourceVersion: Invalid value: "abc":
 * strconv.ParseUint: parsing "abc": invalid syntax`). */
int kp_apiserver__fieldval_rv(const char *rv, uint64_t *out, char *msg, size_t n);

#endif
