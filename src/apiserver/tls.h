/*
 * tls.h - the local control plane's certificates: a CA and a serving
 * certificate (SANs 127.0.0.1, ::1, localhost) generated with OpenSSL on
 * first start and kept in the data directory (ca.crt, ca.key, server.crt,
 * server.key; keys mode 0600). Later starts load them again, so kubeconfigs
 * written earlier stay valid.
 *
 * Life cycle: kp_apiserver__tls_load_or_create() fills a caller-owned struct kp_apiserver__tls
 * with malloc'ed PEM strings; kp_apiserver__tls_free() releases them (NULL-safe).
 */
#ifndef KARPENTER_APISERVER_TLS_H
#define KARPENTER_APISERVER_TLS_H

#include "karpenter/base.h"

struct kp_apiserver__tls {
	char *ca_pem;     /* CA certificate (for the kubeconfig) */
	char *cert_pem;   /* serving certificate */
	char *key_pem;    /* serving key (PKCS#8 PEM) */
};

/* Loads dir/{ca,server}.{crt,key}, creating whatever is missing. extra_san:
 * an additional IP or DNS name for the serving certificate (NULL = none). */
kp_err kp_apiserver__tls_load_or_create(struct kp_apiserver__tls *t, const char *dir, const char *extra_san, struct kp_errbuf *eb);
void kp_apiserver__tls_free(struct kp_apiserver__tls *t);

#endif
