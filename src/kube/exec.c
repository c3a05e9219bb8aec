/*
 * exec.c - exec credential plugins (client.authentication.k8s.io/v1 and
 * v1beta1 ExecCredential), as `aws eks get-token` provides: run the command
 * with KUBERNETES_EXEC_INFO in its environment, read an ExecCredential from
 * its stdout, keep the token or client certificate until its
 * expirationTimestamp (the client caches it; see client.c).
 *
 * Invariants: the child gets stdin from /dev/null (never interactive),
 * inherits stderr, and is killed after the timeout; stdout is capped at
 * 1 MiB; the apiVersion of the answer must match the configured one.
 * posix_spawnp with a prepared environment: safe in a threaded program,
 * and a missing command is reported by the spawn itself.
 * Cost: one process per credential refresh.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "kube/kube_int.h"

#define MAX_OUTPUT ((size_t)1 << 20)

extern char **environ;

void kp_exec_cred_clear(struct kp_exec_cred *c)
{
	if (!c)
		return;
	if (c->token) {
		memset(c->token, 0, strlen(c->token));
		free(c->token);
	}
	if (c->key_pem) {
		memset(c->key_pem, 0, strlen(c->key_pem));
		free(c->key_pem);
	}
	free(c->cert_pem);
	memset(c, 0, sizeof(*c));
}

kp_err kp_exec_decode(const char *text, size_t len, const char *want, struct kp_exec_cred *out,
		      struct kp_errbuf *eb)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, 0, &je), *st;
	const char *api, *kind, *tok, *cert, *key, *exp;
	kp_err rc = KP_OK;
	bool ok = true;

	memset(out, 0, sizeof(*out));
	if (!j)
		return kp_errf(eb, KP_ERR_INVALID, "exec credential: decode: %s", je.text);
	api = json_string_value(json_object_get(j, "apiVersion"));
	kind = json_string_value(json_object_get(j, "kind"));
	st = json_object_get(j, "status");
	if (kp_strcmp0(kind, "ExecCredential") != 0) {
		rc = kp_errf(eb, KP_ERR_INVALID, "exec credential: kind: want ExecCredential, got %s",
			     kind ? kind : "(none)");
		goto out;
	}
	if (want && kp_strcmp0(api, want) != 0) {
		rc = kp_errf(eb, KP_ERR_INVALID, "exec credential: apiVersion: want %s, got %s", want,
			     api ? api : "(none)");
		goto out;
	}
	if (!json_is_object(st)) {
		rc = kp_errf(eb, KP_ERR_INVALID, "exec credential: status: missing");
		goto out;
	}
	tok = json_string_value(json_object_get(st, "token"));
	cert = json_string_value(json_object_get(st, "clientCertificateData"));
	key = json_string_value(json_object_get(st, "clientKeyData"));
	exp = json_string_value(json_object_get(st, "expirationTimestamp"));
	if ((cert && *cert) != (key && *key)) {
		rc = kp_errf(eb, KP_ERR_INVALID,
			     "exec credential: status: clientCertificateData and clientKeyData go together");
		goto out;
	}
	if (!(tok && *tok) && !(cert && *cert)) {
		rc = kp_errf(eb, KP_ERR_INVALID, "exec credential: status: neither token nor client certificate");
		goto out;
	}
	if (exp && *exp) {
		int64_t t;
		if (kp_parse_rfc3339(exp, &t)) {
			rc = kp_errf(eb, KP_ERR_INVALID, "exec credential: status.expirationTimestamp: bad time %s", exp);
			goto out;
		}
		out->expires_ms = t * 1000;
	}
	if (tok && *tok)
		out->token = kp_kube__strdup(tok, &ok);
	if (cert && *cert) {
		out->cert_pem = kp_kube__strdup(cert, &ok);
		out->key_pem = kp_kube__strdup(key, &ok);
	}
	if (!ok)
		rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
out:
	if (rc)
		kp_exec_cred_clear(out);
	json_decref(j);
	return rc;
}

/* The KUBERNETES_EXEC_INFO value. */
static char *exec_info(const struct kp_kube_exec *x, const char *server, const char *ca_pem)
{
	json_t *j = json_pack("{s:s, s:s, s:{s:b}}", "apiVersion", x->api_version, "kind", "ExecCredential", "spec",
			      "interactive", 0);
	char *s;

	if (!j)
		return NULL;
	if (x->provide_cluster_info && server) {
		json_t *cl = json_pack("{s:s}", "server", server);
		if (cl && ca_pem) {
			size_t n = strlen(ca_pem);
			unsigned char *b = malloc(4 * ((n + 2) / 3) + 1);
			if (b) {
				EVP_EncodeBlock(b, (const unsigned char *)ca_pem, (int)n);
				json_object_set_new(cl, "certificate-authority-data", json_string((char *)b));
				free(b);
			}
		}
		if (cl)
			json_object_set_new(json_object_get(j, "spec"), "cluster", cl);
	}
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static char **build_env(const struct kp_kube_exec *x, const char *info)
{
	size_t n = 0, i, k = 0;
	char **env;
	size_t len = strlen(info) + sizeof("KUBERNETES_EXEC_INFO=");

	while (environ && environ[n])
		n++;
	env = calloc(n + x->nenv + 2, sizeof(char *));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21) != 0)
			env[k++] = environ[i];
	for (i = 0; i < x->nenv; i++)
		env[k++] = x->env[i];
	env[k] = malloc(len);
	if (!env[k]) {
		free(env);
		return NULL;
	}
	snprintf(env[k], len, "KUBERNETES_EXEC_INFO=%s", info);
	return env;
}

static int64_t mono_ms(void)
{
	return kp_kube_now_mono(NULL);
}

kp_err kp_exec_run(const struct kp_kube_exec *x, const char *server, const char *ca_pem, int64_t timeout_ms,
		   struct kp_exec_cred *out, struct kp_errbuf *eb)
{
	char *info = exec_info(x, server, ca_pem);
	char **env = info ? build_env(x, info) : NULL;
	int p[2] = { -1, -1 }, status = 0, err;
	posix_spawn_file_actions_t fa;
	struct kp_buf b;
	pid_t pid;
	int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 30000);
	kp_err rc = KP_OK;

	memset(out, 0, sizeof(*out));
	kp_buf_init(&b, MAX_OUTPUT);
	if (!env) {
		free(info);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	if (pipe2(p, O_CLOEXEC) != 0) {
		rc = kp_errf(eb, KP_ERR_IO, "exec %s: pipe: %s", x->command, strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	err = posix_spawnp(&pid, x->command, &fa, NULL, x->args, env);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		rc = kp_errf(eb, err == ENOENT || err == EACCES ? KP_ERR_NOTFOUND : KP_ERR_IO,
			     "exec %s: %s%s%s", x->command, strerror(err), x->install_hint ? ": " : "",
			     x->install_hint ? x->install_hint : "");
		goto out;
	}
	close(p[1]);
	p[1] = -1;
	for (;;) {
		struct pollfd pf = { p[0], POLLIN, 0 };
		int64_t left = deadline - mono_ms();
		char chunk[4096];
		ssize_t n;
		int r;

		if (left <= 0) {
			kill(pid, SIGKILL);
			rc = kp_errf(eb, KP_ERR_IO, "exec %s: timed out after %lld ms", x->command,
				     (long long)(timeout_ms > 0 ? timeout_ms : 30000));
			break;
		}
		r = poll(&pf, 1, (int)(left > 1000 ? 1000 : left));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		n = read(p[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (kp_buf_add(&b, chunk, (size_t)n)) {
			kill(pid, SIGKILL);
			rc = kp_errf(eb, KP_ERR_LIMIT, "exec %s: output larger than %zu bytes", x->command, MAX_OUTPUT);
			break;
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!rc && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			rc = kp_errf(eb, KP_ERR_NOTFOUND, "exec %s: command not found or not executable%s%s", x->command,
				     x->install_hint ? ": " : "", x->install_hint ? x->install_hint : "");
		else
			rc = kp_errf(eb, KP_ERR_IO, "exec %s: exited with status %d", x->command,
				     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
	if (!rc) {
		rc = kp_exec_decode(b.data ? b.data : "", b.len, x->api_version, out, eb);
		if (rc)
			kp_err_prefix(eb, "exec %s", x->command);
	}
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	/* the last entry is ours; the rest borrow from environ and x->env */
	{
		size_t i = 0;
		while (env[i])
			i++;
		if (i)
			free(env[i - 1]);
	}
	free(env);
	free(info);
	kp_buf_free(&b);
	return rc;
}
