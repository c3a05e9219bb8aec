/*
 * apires_int.h - internals shared by the API-surface files of the local
 * control plane (registry.c, discovery.c, openapi.c, table.c, patch.c,
 * validate.c). Not for the REST core: it uses apires.h only.
 *
 * Every registered resource is a struct kp_apires_entry; the public
 * struct kp_apires is its first member, so a const struct kp_apires *
 * handed out by the registry converts back with kp_apires_entry_of().
 * CRD entries point into their CRD's JSON (held by reference), so a
 * pointer from kp_apireg_find() stays valid until that CRD is removed or
 * replaced.
 */
#ifndef KARPENTER_LOCAL_APIRES_INT_H
#define KARPENTER_LOCAL_APIRES_INT_H

#include <stdint.h>

#include "local/apires.h"

struct kp_apires_entry {
	struct kp_apires r;               /* public view; first member */
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

struct kp_apireg {
	struct kp_apires_entry **v;       /* registration order; built-ins first */
	int n, cap;
	int64_t (*now)(void *ctx);        /* clock for AGE columns (unix seconds) */
	void *now_ctx;
};

static inline const struct kp_apires_entry *kp_apires_entry_of(const struct kp_apires *r)
{
	return (const struct kp_apires_entry *)r;
}

/* Current time of the registry's clock, unix seconds. */
int64_t kp_apireg_now(const struct kp_apireg *reg);
/* "karpenter.sh/v1" or "v1" for the core group; into buf. */
const char *kp_apires_api_version(const struct kp_apires *r, char *buf, size_t n);
/* True if s is in the NULL-terminated list (NULL list: false). */
bool kp_apires_list_has(const char *const *list, const char *s);
/* Kubernetes version priority order: v1 > v1beta2 > v1beta1 > v1alpha1 > other. */
int kp_apires_version_cmp(const char *a, const char *b);
/* The resource of `kind` that holds the storage version in group, or NULL. */
const struct kp_apires *kp_apireg_storage(const struct kp_apireg *reg, const char *group, const char *kind);

/* Reads a multi-document YAML buffer into a JSON array of documents (new
 * reference) or NULL with eb set. Plain scalars resolve as YAML 1.2 core
 * (null, true/false, integers, floats); everything else is a string. */
json_t *kp_apires_yaml_docs(const char *data, size_t len, struct kp_errbuf *eb);

#endif
