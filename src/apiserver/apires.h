/*
 * apires.h - the API surface of the local control plane behind `karpenter up`:
 * which resources exist (built-in kinds and CRDs), how they are discovered
 * (/api, /apis, aggregated discovery), described (/openapi/v3), printed
 * (Table responses), validated (422 details) and patched (strategic merge).
 *
 * The REST core (server, store, watch) asks this module everything that
 * depends on the kind; this module never touches storage or sockets.
 * JSON values are jansson json_t; ownership rules are stated per function.
 */
#ifndef KARPENTER_APISERVER_APIRES_H
#define KARPENTER_APISERVER_APIRES_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "karpenter/base.h"

struct kp_apiserver__res {
	const char *group;          /* "" for core */
	const char *version;        /* "v1", "v1beta1" */
	const char *kind;           /* "Pod" */
	const char *list_kind;      /* "PodList" */
	const char *plural;         /* "pods" */
	const char *singular;       /* "pod" */
	const char *const *short_names;   /* NULL-terminated, may be NULL */
	const char *const *categories;    /* NULL-terminated ("all", "karpenter"), may be NULL */
	bool namespaced;
	bool has_status;            /* status subresource */
	bool has_scale;             /* scale subresource */
	const char *storage_version;/* version objects are stored in (conversion target) */
	bool builtin;               /* strategic merge patch applies */
	const char *storage_group;  /* group whose storage holds the objects when not its own (events.k8s.io
				       Events are core Events, converted by events.c), else NULL */
};

struct kp_apiserver__reg;               /* the registry: built-ins plus installed CRDs */

/* Creates the registry with the built-in kinds and the CRDs found in
 * crd_dir (deploy/crds). Caller frees with kp_apiserver__reg_free. */
kp_err kp_apiserver__reg_new(struct kp_apiserver__reg **out, const char *crd_dir, struct kp_errbuf *eb);
void kp_apiserver__reg_free(struct kp_apiserver__reg *reg);
/* Registers (or replaces) the resources of a CustomResourceDefinition
 * object (apiextensions.k8s.io/v1). Borrowed crd. */
kp_err kp_apiserver__reg_add_crd(struct kp_apiserver__reg *reg, const json_t *crd, struct kp_errbuf *eb);
/* Removes the resources of a CRD by its name (plural.group). */
void kp_apiserver__reg_remove_crd(struct kp_apiserver__reg *reg, const char *crd_name);

/* Sets the clock used for AGE columns (unix seconds); NULL restores time(2).
 * (Added by the API-surface module.) */
void kp_apiserver__reg_set_clock(struct kp_apiserver__reg *reg, int64_t (*now)(void *ctx), void *ctx);

/* Lookups; NULL if unknown. */
const struct kp_apiserver__res *kp_apiserver__reg_find(const struct kp_apiserver__reg *reg, const char *group,
				       const char *version, const char *plural);
const struct kp_apiserver__res *kp_apiserver__reg_find_kind(const struct kp_apiserver__reg *reg, const char *group,
					    const char *version, const char *kind);
/* Iteration: index 0..n-1, NULL past the end. */
const struct kp_apiserver__res *kp_apiserver__reg_at(const struct kp_apiserver__reg *reg, int i);

/* Discovery documents (new references, caller decrefs). */
json_t *kp_apiserver__reg_core_versions(const struct kp_apiserver__reg *reg);                 /* GET /api */
json_t *kp_apiserver__reg_groups(const struct kp_apiserver__reg *reg);                        /* GET /apis */
json_t *kp_apiserver__reg_resource_list(const struct kp_apiserver__reg *reg, const char *group, const char *version);
/* Aggregated discovery (apidiscovery.k8s.io/v2 APIGroupDiscoveryList) for
 * /api (core=true) or /apis (core=false). */
json_t *kp_apiserver__reg_aggregated(const struct kp_apiserver__reg *reg, bool core);
/* OpenAPI v3: the index at /openapi/v3 and the document for one
 * group-version path ("api/v1", "apis/apps/v1"); NULL if unknown. */
json_t *kp_apiserver__reg_openapi_index(const struct kp_apiserver__reg *reg);
json_t *kp_apiserver__reg_openapi_doc(const struct kp_apiserver__reg *reg, const char *gv_path);

/* Table response (meta.k8s.io/v1 Table) for one object or a list's items
 * (borrowed). include_object: "None" | "Metadata" | "Object". */
json_t *kp_apiserver__reg_table(const struct kp_apiserver__reg *reg, const struct kp_apiserver__res *res, const json_t *obj_or_list,
			const char *include_object);

/* Validates an object about to be stored (create/update/patch result).
 * Returns KP_ERR_INVALID with a message naming the field path, e.g.
 * `spec.template.spec.requirements[0].operator: Unsupported value: "Inn"`. */
kp_err kp_apiserver__reg_validate(const struct kp_apiserver__reg *reg, const struct kp_apiserver__res *res, const json_t *obj,
			  struct kp_errbuf *eb);
/* The same checks as kp_apiserver__reg_validate as a Status details.causes array
 * ([{reason, message, field}], empty if valid); new reference.
 * (Added by the API-surface module.) */
json_t *kp_apiserver__reg_validate_causes(const struct kp_apiserver__reg *reg, const struct kp_apiserver__res *res, const json_t *obj);
/* Defaults applied on create (CRD schema defaults, built-in defaults). Mutates obj. */
void kp_apiserver__reg_default(const struct kp_apiserver__reg *reg, const struct kp_apiserver__res *res, json_t *obj);
/* Converts obj (borrowed) to version (e.g. a stored karpenter.sh/v1 NodePool
 * served as v1beta1); returns a new reference. */
json_t *kp_apiserver__reg_convert(const struct kp_apiserver__reg *reg, const struct kp_apiserver__res *res, const json_t *obj,
			  const char *to_version, struct kp_errbuf *eb);

/* Patches (return a new reference or NULL with eb set). */
json_t *kp_apiserver__patch_merge(const json_t *orig, const json_t *patch);                      /* RFC 7386 */
json_t *kp_apiserver__patch_json(const json_t *orig, const json_t *patch, struct kp_errbuf *eb); /* RFC 6902 */
/* Strategic merge patch for built-in kinds (lists merged by their patch merge
 * key: containers by name, ports by containerPort, env by name, volumes by
 * name, tolerations replaced, ...; $patch directives; $setElementOrder). */
json_t *kp_apiserver__patch_strategic(const struct kp_apiserver__res *res, const json_t *orig, const json_t *patch,
			   struct kp_errbuf *eb);

#endif
