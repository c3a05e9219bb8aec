/*
 * incluster.c - configuration for a pod: the API server from
 * KUBERNETES_SERVICE_HOST/PORT, the service account's CA, token and
 * namespace from its mounted directory (KARPENTER_SERVICEACCOUNT_DIR
 * overrides /var/run/secrets/kubernetes.io/serviceaccount). The token is handed over as a
 * token_file so the client re-reads it (bound tokens rotate hourly).
 *
 * Invariants: both environment variables are required; ca.crt and token
 * must be readable at load time; the namespace defaults to "default".
 * Cost: three small file reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_int.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

kp_err kp_incluster_load(const char *sa_dir, struct kp_kube_config **out, struct kp_errbuf *eb)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	struct kp_kube_config *c;
	char path[4096], server[512], *tok = NULL, *ns = NULL;
	size_t len = 0;
	int64_t portn;
	bool ok = true;
	kp_err rc;

	*out = NULL;
	/* KARPENTER_SERVICEACCOUNT_DIR: the mounted directory somewhere else
	 * (tests run a controller "as a pod" outside one) */
	if (!sa_dir)
		sa_dir = getenv("KARPENTER_SERVICEACCOUNT_DIR");
	if (!sa_dir || !*sa_dir)
		sa_dir = SA_DIR;
	if (!host || !*host || !port || !*port)
		return kp_errf(eb, KP_ERR_NOTFOUND,
			       "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
	if (kp_parse_i64(port, &portn) || portn < 1 || portn > 65535)
		return kp_errf(eb, KP_ERR_INVALID, "in-cluster config: KUBERNETES_SERVICE_PORT: bad port %s", port);
	if ((size_t)snprintf(server, sizeof(server), strchr(host, ':') ? "https://[%s]:%lld" : "https://%s:%lld", host,
			     (long long)portn) >= sizeof(server))
		return kp_errf(eb, KP_ERR_RANGE, "in-cluster config: KUBERNETES_SERVICE_HOST too long");
	c = calloc(1, sizeof(*c));
	if (!c)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	c->server = kp_kube__strdup(server, &ok);
	c->context = kp_kube__strdup("in-cluster", &ok);
	snprintf(path, sizeof(path), "%s/token", sa_dir);
	c->token_file = kp_kube__strdup(path, &ok);
	if (!ok) {
		rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		goto fail;
	}
	rc = kp_kube__read_file(path, 64 * 1024, &tok, &len, eb);
	if (rc)
		goto fail_ctx;
	memset(tok, 0, len);
	free(tok);
	if (len == 0) {
		rc = kp_errf(eb, KP_ERR_INVALID, "read %s: empty", path);
		goto fail_ctx;
	}
	snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
	rc = kp_kube__read_file(path, 1 << 20, &c->ca_pem, &c->ca_len, eb);
	if (rc)
		goto fail_ctx;
	snprintf(path, sizeof(path), "%s/namespace", sa_dir);
	if (kp_kube__read_file(path, 4096, &ns, &len, NULL) == KP_OK) {
		while (len && (ns[len - 1] == '\n' || ns[len - 1] == ' ' || ns[len - 1] == '\r'))
			ns[--len] = '\0';
	}
	if (ns && *ns) {
		c->namespace = ns;
	} else {
		free(ns);
		c->namespace = kp_kube__strdup("default", &ok);
	}
	if (!ok) {
		rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		goto fail;
	}
	*out = c;
	return KP_OK;
fail_ctx:
	kp_err_prefix(eb, "in-cluster config");
fail:
	kp_kube_config_free(c);
	return rc;
}
