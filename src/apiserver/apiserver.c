/*
 * apiserver.c - life cycle of the API server library: data directory, store,
 * registry (built-ins, deploy/crds and the CRDs stored earlier), default
 * namespaces, certificates, token, garbage collector and listener; the
 * kubeconfig that points kubectl at it; and the orderly stop.
 *
 * The API server knows nothing of the controllers that act through it: the
 * built-in ones (src/kcm), the Karpenter controller and the simulated cloud
 * are started and stopped around it by src/up.
 *
 * Stop order matters: the store is shut down first so every watch stream
 * and the collector wake up and return; then the listener (which joins the
 * connection threads), the collector, and finally the store is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "apiserver/enccache.h"
#include "apiserver/satoken.h"
#include "kobj/kobj.h"
#include "apiserver/server.h"
#include "apiserver/rest_int.h"

static const char *const DEFAULT_NAMESPACES[] = { "default", "kube-system", "kube-public", "kube-node-lease" };

static int crd_fn(void *ud, const char *json, size_t len, int64_t rv)
{
	struct kp_apiserver *L = ud;
	json_t *crd = json_loadb(json, len, 0, NULL);
	struct kp_errbuf eb = { 0 };

	(void)rv;
	if (crd && kp_apiserver__reg_add_crd(L->reg, crd, &eb))
		fprintf(stderr, "karpenter up: stored CRD: %s\n", eb.msg);
	json_decref(crd);
	return 0;
}

static void ensure_namespace(struct kp_apiserver *L, const char *name)
{
	struct kp_store_key k = { "", "namespaces", "", name };
	unsigned char b[16];
	char uid[40], ts[40];
	char *have = NULL;
	json_t *ns;

	if (kp_store_get(L->store, &k, &have, NULL, NULL) == KP_STORE_OK) {
		free(have);
		return;
	}
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		memset(b, 0x5a, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(uid, sizeof(uid), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	kp_format_rfc3339((int64_t)time(NULL), ts, sizeof(ts));
	ns = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s}}, s:{s:[s]}, s:{s:s}}", "apiVersion", "v1", "kind",
		       "Namespace", "metadata", "name", name, "uid", uid, "creationTimestamp", ts, "labels",
		       "kubernetes.io/metadata.name", name, "spec", "finalizers", "kubernetes", "status", "phase",
		       "Active");
	kp_store_create(L->store, &k, ns, NULL, NULL);
	json_decref(ns);
}

kp_err kp_apiserver_start(struct kp_apiserver **out, const struct kp_apiserver_config *cfg, struct kp_errbuf *eb)
{
	struct kp_apiserver *L;
	char path[4096];
	kp_err rc;

	*out = NULL;
	L = calloc(1, sizeof(*L));
	if (!L)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	L->cfg = *cfg;
	pthread_rwlock_init(&L->reg_lock, NULL);
	if (!(L->enc = kp_apiserver__enc_cache_new())) {
		rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if ((rc = kp_kobj_mkdir_p(cfg->data_dir, eb)))
		goto fail;
	if ((size_t)snprintf(path, sizeof(path), "%s/store.db", cfg->data_dir) >= sizeof(path)) {
		rc = kp_errf(eb, KP_ERR_RANGE, "data dir path too long");
		goto fail;
	}
	if (kp_store_open(&L->store, path, cfg->event_window, eb)) {
		rc = KP_ERR_IO;
		goto fail;
	}
	kp_store_set_retention(L->store, cfg->event_ttl_ms ? cfg->event_ttl_ms : KP_STORE_DEFAULT_TTL_MS, 0);
	if ((rc = kp_apiserver__reg_new(&L->reg, cfg->crd_dir, eb))) {
		kp_err_prefix(eb, "api registry");
		goto fail;
	}
	kp_store_list(L->store, "apiextensions.k8s.io", "customresourcedefinitions", NULL, crd_fn, L, NULL, NULL);
	kp_apiserver__events_migrate(L->store);
	for (size_t i = 0; i < KP_ARRAY_LEN(DEFAULT_NAMESPACES); i++)
		ensure_namespace(L, DEFAULT_NAMESPACES[i]);
	if ((rc = kp_apiserver__tls_load_or_create(&L->tls, cfg->data_dir, NULL, eb)))
		goto fail;
	if ((rc = kp_apiserver__auth_load_or_create(cfg->data_dir, L->token, sizeof(L->token), eb)))
		goto fail;
	if ((rc = kp_satoken_key_load_or_create(cfg->data_dir, L->sa_key, eb)))
		goto fail;
	if ((rc = kp_apiserver__gc_start(L, eb)))
		goto fail;
	if ((rc = kp_apiserver__listen_start(L, eb)))
		goto fail;
	kp_apiserver_logf(L, "started the local control plane on %s:%d (data %s)", cfg->listen_host, L->port, cfg->data_dir);
	*out = L;
	return KP_OK;
fail:
	kp_apiserver_stop(L);
	return rc;
}

void kp_apiserver_shutdown(struct kp_apiserver *L)
{
	if (!L)
		return;
	atomic_store(&L->stopping, true);
	kp_store_shutdown(L->store);
}

void kp_apiserver_stop(struct kp_apiserver *L)
{
	if (!L)
		return;
	kp_apiserver_shutdown(L);
	kp_apiserver__listen_stop(L);
	kp_apiserver__gc_stop(L);
	kp_store_close(L->store);
	kp_apiserver__reg_free(L->reg);
	kp_apiserver__tls_free(&L->tls);
	kp_apiserver__enc_cache_free(L->enc);
	pthread_rwlock_destroy(&L->reg_lock);
	free(L);
}

kp_err kp_apiserver_write_kubeconfig(const struct kp_apiserver *L, const char *path, struct kp_errbuf *eb)
{
	const char *h = L->cfg.listen_host;
	size_t calen = strlen(L->tls.ca_pem);
	unsigned char *b64 = malloc(4 * ((calen + 2) / 3) + 1);
	char host[128];
	struct kp_buf out;
	kp_err rc;

	if (!b64)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	EVP_EncodeBlock(b64, (const unsigned char *)L->tls.ca_pem, (int)calen);
	if (strcmp(h, "0.0.0.0") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	else if (strcmp(h, "::") == 0)
		snprintf(host, sizeof(host), "[::1]");
	else if (strchr(h, ':'))
		snprintf(host, sizeof(host), "[%s]", h);
	else
		snprintf(host, sizeof(host), "%s", h);
	kp_buf_init(&out, 1 << 20);
	rc = kp_buf_printf(&out,
		"apiVersion: v1\n"
		"kind: Config\n"
		"clusters:\n"
		"- name: karpenter-local\n"
		"  cluster:\n"
		"    server: https://%s:%d\n"
		"    certificate-authority-data: %s\n"
		"users:\n"
		"- name: karpenter-local\n"
		"  user:\n"
		"    token: %s\n"
		"contexts:\n"
		"- name: karpenter-local\n"
		"  context:\n"
		"    cluster: karpenter-local\n"
		"    user: karpenter-local\n"
		"    namespace: default\n"
		"current-context: karpenter-local\n",
		host, L->port, (const char *)b64, L->token);
	free(b64);
	if (rc) {
		kp_buf_free(&out);
		return kp_errf(eb, KP_ERR_NOMEM, "kubeconfig %s: out of memory", path);
	}
	rc = kp_kobj_write_file(path, out.data, out.len, eb);
	kp_buf_free(&out);
	return rc;
}

