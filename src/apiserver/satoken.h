/*
 * satoken.h - service-account tokens for `karpenter up`: what the
 * TokenRequest subresource (POST serviceaccounts/NAME/token, `kubectl create
 * token`) returns and what the API server accepts as a service account's
 * identity. A token is a JWT with Kubernetes' claims (iss, sub
 * "system:serviceaccount:NS:NAME", aud, iat, nbf, exp, and
 * kubernetes.io.{namespace, serviceaccount.{name, uid}}), signed HS256 with a
 * 32-byte key kept in DATA_DIR/sa.key (mode 0600), so tokens survive a
 * restart of `up` and die with the data directory. Real clusters sign RS256
 * with a published key; clients treat the token as opaque either way.
 *
 * Pure apart from kp_satoken_key_load_or_create (one file).
 */
#ifndef KARPENTER_APISERVER_SATOKEN_H
#define KARPENTER_APISERVER_SATOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "karpenter/base.h"

#define KP_SATOKEN_KEY_LEN 32
#define KP_SATOKEN_ISSUER "https://kubernetes.default.svc.cluster.local"

struct kp_satoken_claims {
	char ns[254];
	char name[254];
	char uid[64];
	int64_t exp;               /* unix seconds */
};

/* Reads dir/sa.key, creating it (random, mode 0600) if missing. */
kp_err kp_satoken_key_load_or_create(const char *dir, unsigned char key[KP_SATOKEN_KEY_LEN], struct kp_errbuf *eb);
/* Issues a token for ns/name (uid of the ServiceAccount) valid from now for
 * ttl seconds, for the audience aud (NULL = the issuer). *out is malloc'ed
 * (caller frees). KP_ERR_NOMEM / KP_ERR_RANGE. */
kp_err kp_satoken_issue(const unsigned char key[KP_SATOKEN_KEY_LEN], const char *ns, const char *name, const char *uid,
			const char *aud, int64_t now, int64_t ttl, char **out, struct kp_errbuf *eb);
/* Verifies signature, shape and time (nbf <= now < exp); fills c.
 * KP_ERR_INVALID with the reason in eb otherwise. */
kp_err kp_satoken_verify(const unsigned char key[KP_SATOKEN_KEY_LEN], const char *token, int64_t now,
			 struct kp_satoken_claims *c, struct kp_errbuf *eb);

#endif
