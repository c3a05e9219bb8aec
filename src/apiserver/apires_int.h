/*
 * apires_int.h - internals shared by the API-surface files of the local
 * control plane (registry.c, discovery.c, openapi.c, table.c, patch.c,
 * validate.c). Not for the REST core: it uses apires.h only.
 *
 * Every registered resource is a struct kp_apiserver__res_entry; the public
 * struct kp_apiserver__res is its first member, so a const struct kp_apiserver__res *
 * handed out by the registry converts back with kp_apiserver__res_entry_of().
 * CRD entries point into their CRD's JSON (held by reference), so a
 * pointer from kp_apiserver__reg_find() stays valid until that CRD is removed or
 * replaced.
 */
#ifndef KARPENTER_APISERVER_APIRES_INT_H
#define KARPENTER_APISERVER_APIRES_INT_H

#include <stdint.h>

#include "apiserver/apires.h"

struct kp_apiserver__res_entry {
	struct kp_apiserver__res r;               /* public view; first member */
	const char *const *subresources;  /* "status", "scale", "log", ...; NULL-terminated */
	json_t *crd;                      /* held CustomResourceDefinition; NULL for built-ins */
	const json_t *crd_version;        /* spec.versions[i] inside crd (borrowed) */
	const json_t *schema;             /* openAPIV3Schema of that version (borrowed), or NULL */
	const json_t *columns;            /* additionalPrinterColumns (borrowed), or NULL */
	char *crd_name;                   /* metadata.name of the CRD (malloc), or NULL */
	const char **owned_names;         /* malloc'ed arrays behind short_names/categories/subresources */
	const char **owned_cats;
	const char **owned_subs;
	char list_kind_buf[64];           /* "<Kind>List" for built-ins */
};

struct kp_apiserver__reg {
	struct kp_apiserver__res_entry **v;       /* registration order; built-ins first */
	int n, cap;
	int64_t (*now)(void *ctx);        /* clock for AGE columns (unix seconds) */
	void *now_ctx;
};

static inline const struct kp_apiserver__res_entry *kp_apiserver__res_entry_of(const struct kp_apiserver__res *r)
{
	return (const struct kp_apiserver__res_entry *)r;
}

/* Current time of the registry's clock, unix seconds. */
int64_t kp_apiserver__reg_now(const struct kp_apiserver__reg *reg);
/* "karpenter.sh/v1" or "v1" for the core group; into buf. */
const char *kp_apiserver__res_api_version(const struct kp_apiserver__res *r, char *buf, size_t n);
/* True if s is in the NULL-terminated list (NULL list: false). */
bool kp_apiserver__res_list_has(const char *const *list, const char *s);
/* Kubernetes version priority order: v1 > v1beta2 > v1beta1 > v1alpha1 > other. */
int kp_apiserver__res_version_cmp(const char *a, const char *b);
/* The resource of `kind` that holds the storage version in group, or NULL. */
const struct kp_apiserver__res *kp_apiserver__reg_storage(const struct kp_apiserver__reg *reg, const char *group, const char *kind);

/* Reads a multi-document YAML buffer into a JSON array of documents (new
 * reference) or NULL with eb set. Plain scalars resolve as YAML 1.2 core
 * (null, true/false, integers, floats); everything else is a string. */
json_t *kp_apiserver__res_yaml_docs(const char *data, size_t len, struct kp_errbuf *eb);

#endif
