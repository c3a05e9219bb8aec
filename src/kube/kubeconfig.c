/*
 * kubeconfig.c - kubeconfig files to struct kp_kube_config: the context
 * (current-context or a named one), its cluster (server, CA as data or file)
 * and its user (token, tokenFile, client certificate and key as data or
 * file, exec plugin). Relative paths resolve against the kubeconfig's
 * directory, as kubectl does. Also the default resolution order and the
 * file reader the other config sources use.
 *
 * The YAML is loaded with libyaml's document API (aliases resolved by
 * libyaml) into a jansson tree of strings, arrays and objects; every lookup
 * error names the field ("users[admin].user.client-key-data: bad base64").
 * Unsupported settings that would change security (insecure-skip-tls-verify,
 * auth-provider, basic auth, proxy-url, tls-server-name) are refused, not
 * ignored.
 * Cost: O(size of the file); files read are capped (kubeconfig 4 MiB,
 * certificates 1 MiB).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "kube/kube_int.h"

#define MAX_KUBECONFIG ((size_t)4 << 20)
#define MAX_PEM ((size_t)1 << 20)
#define MAX_DEPTH 64

/* ---- files ---- */

kp_err kp_kube__read_file(const char *path, size_t max, char **out, size_t *len, struct kp_errbuf *eb)
{
	struct kp_buf b;
	char chunk[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*out = NULL;
	if (fd < 0)
		return kp_errf(eb, errno == ENOENT ? KP_ERR_NOTFOUND : KP_ERR_IO, "read %s: %s", path, strerror(errno));
	kp_buf_init(&b, max);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (kp_buf_add(&b, chunk, (size_t)n)) {
			close(fd);
			kp_buf_free(&b);
			return kp_errf(eb, KP_ERR_LIMIT, "read %s: larger than %zu bytes", path, max);
		}
	}
	close(fd);
	if (n < 0) {
		kp_buf_free(&b);
		return kp_errf(eb, KP_ERR_IO, "read %s: %s", path, strerror(errno));
	}
	if (len)
		*len = b.len;
	*out = kp_buf_take(&b);
	return KP_OK;
}

/* ---- YAML to jansson ---- */

static json_t *node_to_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	json_t *j = NULL;

	if (!n || depth > MAX_DEPTH)
		return NULL;
	switch (n->type) {
	case YAML_SCALAR_NODE: {
		const char *v = (const char *)n->data.scalar.value;
		size_t len = n->data.scalar.length;
		if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0))
			return json_null();
		return json_stringn(v, len);
	}
	case YAML_SEQUENCE_NODE: {
		yaml_node_item_t *it;
		j = json_array();
		for (it = n->data.sequence.items.start; j && it < n->data.sequence.items.top; it++) {
			json_t *c = node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1);
			if (!c || json_array_append_new(j, c)) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	}
	case YAML_MAPPING_NODE: {
		yaml_node_pair_t *p;
		j = json_object();
		for (p = n->data.mapping.pairs.start; j && p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			json_t *c;
			if (!k || k->type != YAML_SCALAR_NODE) {
				json_decref(j);
				return NULL;
			}
			c = node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
			if (!c || json_object_set_new(j, (const char *)k->data.scalar.value, c)) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	}
	default:
		return NULL;
	}
}

static kp_err yaml_to_json(const char *text, size_t len, json_t **out, struct kp_errbuf *eb)
{
	yaml_parser_t p;
	yaml_document_t doc;
	yaml_node_t *root;
	kp_err rc = KP_OK;

	*out = NULL;
	if (!yaml_parser_initialize(&p))
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &doc)) {
		rc = kp_errf(eb, KP_ERR_INVALID, "yaml: %s at line %lu", p.problem ? p.problem : "syntax error",
			     (unsigned long)p.problem_mark.line + 1);
		yaml_parser_delete(&p);
		return rc;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root)
		rc = kp_errf(eb, KP_ERR_INVALID, "empty document");
	else if (!(*out = node_to_json(&doc, root, 0)))
		rc = kp_errf(eb, KP_ERR_INVALID, "yaml: unsupported structure or nesting deeper than %d", MAX_DEPTH);
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	return rc;
}

/* ---- helpers ---- */

static int b64val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Standard base64 (whitespace ignored, padding optional) into a malloc'ed, NUL-terminated buffer. */
static kp_err b64_decode(const char *s, char **out, size_t *outlen)
{
	size_t n = strlen(s), o = 0;
	unsigned acc = 0;
	int bits = 0, pad = 0;
	char *d = malloc(n / 4 * 3 + 4);

	if (!d)
		return KP_ERR_NOMEM;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		int v;
		if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
			continue;
		if (ch == '=') {
			pad++;
			continue;
		}
		v = b64val(ch);
		if (v < 0 || pad) {
			free(d);
			return KP_ERR_INVALID;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			d[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (bits >= 6 || pad > 2) {
		free(d);
		return KP_ERR_INVALID;
	}
	d[o] = '\0';
	*out = d;
	*outlen = o;
	return KP_OK;
}

static char *resolve_path(const char *dir, const char *p)
{
	size_t n;
	char *r;

	if (p[0] == '/' || !dir || !*dir)
		return strdup(p);
	n = strlen(dir) + strlen(p) + 2;
	r = malloc(n);
	if (r)
		snprintf(r, n, "%s/%s", dir, p);
	return r;
}

static const char *str_field(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Finds the entry named name in a kubeconfig list (clusters, users,
 * contexts) and returns its inner object (entry[inner]); KP_ERR_NOTFOUND
 * when there is no such entry, KP_ERR_INVALID when it has no inner mapping. */
static kp_err find_named(json_t *root, const char *list, const char *inner, const char *name, json_t **out,
			 struct kp_errbuf *eb)
{
	json_t *arr = json_object_get(root, list), *e;
	size_t i;

	*out = NULL;
	if (arr && !json_is_array(arr) && !json_is_null(arr))
		return kp_errf(eb, KP_ERR_INVALID, "%s: not a list", list);
	json_array_foreach(arr, i, e) {
		if (kp_strcmp0(str_field(e, "name"), name) == 0) {
			*out = json_object_get(e, inner);
			if (!json_is_object(*out))
				return kp_errf(eb, KP_ERR_INVALID, "%s[%s].%s: missing or not a mapping", list, name,
					       inner);
			return KP_OK;
		}
	}
	return kp_errf(eb, KP_ERR_NOTFOUND, "%s: no entry named %s", list, name);
}

/* Loads "<key>-data" (base64) or "<key>" (a file) into *out. */
static kp_err data_or_file(json_t *obj, const char *key, const char *where, const char *dir, char **out,
			   size_t *len, struct kp_errbuf *eb)
{
	char dkey[64];
	const char *data, *file;
	kp_err rc;

	snprintf(dkey, sizeof(dkey), "%s-data", key);
	data = str_field(obj, dkey);
	file = str_field(obj, key);
	if (data && *data) {
		rc = b64_decode(data, out, len);
		if (rc == KP_ERR_NOMEM)
			return kp_errf(eb, rc, "out of memory");
		if (rc)
			return kp_errf(eb, rc, "%s.%s: not valid base64", where, dkey);
		if (*len == 0) {
			free(*out);
			*out = NULL;
			return kp_errf(eb, KP_ERR_INVALID, "%s.%s: empty", where, dkey);
		}
		return KP_OK;
	}
	if (file && *file) {
		char *path = resolve_path(dir, file);
		if (!path)
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		rc = kp_kube__read_file(path, MAX_PEM, out, len, eb);
		free(path);
		if (rc)
			kp_err_prefix(eb, "%s.%s", where, key);
		return rc;
	}
	return KP_OK;
}

static kp_err parse_exec(json_t *x, const char *where, const char *dir, struct kp_kube_exec **out,
			 struct kp_errbuf *eb)
{
	struct kp_kube_exec *e;
	const char *cmd = str_field(x, "command"), *api = str_field(x, "apiVersion");
	json_t *args = json_object_get(x, "args"), *env = json_object_get(x, "env"), *it;
	size_t i;
	bool ok = true;

	*out = NULL;
	if (!cmd || !*cmd)
		return kp_errf(eb, KP_ERR_INVALID, "%s.exec.command: missing", where);
	if (!api || (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
		     strcmp(api, "client.authentication.k8s.io/v1beta1") != 0))
		return kp_errf(eb, KP_ERR_INVALID,
			       "%s.exec.apiVersion: must be client.authentication.k8s.io/v1 or v1beta1, got %s", where,
			       api ? api : "(none)");
	if (args && !json_is_array(args) && !json_is_null(args))
		return kp_errf(eb, KP_ERR_INVALID, "%s.exec.args: not a list", where);
	if (env && !json_is_array(env) && !json_is_null(env))
		return kp_errf(eb, KP_ERR_INVALID, "%s.exec.env: not a list", where);
	e = calloc(1, sizeof(*e));
	if (!e)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	*out = e;
	e->api_version = kp_kube__strdup(api, &ok);
	e->command = strchr(cmd, '/') ? resolve_path(dir, cmd) : strdup(cmd);
	if (!e->command)
		ok = false;
	e->install_hint = kp_kube__strdup(str_field(x, "installHint"), &ok);
	e->provide_cluster_info = kp_strcmp0(str_field(x, "provideClusterInfo"), "true") == 0;
	e->args = calloc(json_array_size(args) + 2, sizeof(char *));
	e->env = calloc(json_array_size(env) + 1, sizeof(char *));
	if (!e->args || !e->env || !ok)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	e->args[0] = strdup(e->command);
	e->nargs = 1;
	if (!e->args[0])
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	json_array_foreach(args, i, it) {
		if (!json_is_string(it))
			return kp_errf(eb, KP_ERR_INVALID, "%s.exec.args[%zu]: not a string", where, i);
		if (!(e->args[e->nargs++] = strdup(json_string_value(it))))
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	json_array_foreach(env, i, it) {
		const char *n = str_field(it, "name"), *v = str_field(it, "value");
		size_t len;
		if (!n || !*n || strchr(n, '='))
			return kp_errf(eb, KP_ERR_INVALID, "%s.exec.env[%zu].name: missing or invalid", where, i);
		if (!v)
			v = "";
		len = strlen(n) + strlen(v) + 2;
		if (!(e->env[e->nenv] = malloc(len)))
			return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		snprintf(e->env[e->nenv++], len, "%s=%s", n, v);
	}
	return KP_OK;
}

static void exec_free(struct kp_kube_exec *e)
{
	size_t i;
	if (!e)
		return;
	free(e->api_version);
	free(e->command);
	free(e->install_hint);
	if (e->args)
		for (i = 0; e->args[i]; i++)
			free(e->args[i]);
	if (e->env)
		for (i = 0; i < e->nenv; i++)
			free(e->env[i]);
	free(e->args);
	free(e->env);
	free(e);
}

void kp_kube_config_free(struct kp_kube_config *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->ca_pem);
	free(c->cert_pem);
	if (c->key_pem) {
		memset(c->key_pem, 0, c->key_len);
		free(c->key_pem);
	}
	if (c->token) {
		memset(c->token, 0, strlen(c->token));
		free(c->token);
	}
	free(c->token_file);
	exec_free(c->exec);
	free(c->namespace);
	free(c->context);
	free(c->cluster);
	free(c->user);
	free(c);
}

static bool truthy(json_t *v)
{
	const char *s = json_string_value(v);
	return json_is_true(v) || (s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0));
}

static kp_err parse_tree(json_t *root, const char *dir, const char *context, struct kp_kube_config **out,
			 struct kp_errbuf *eb)
{
	struct kp_kube_config *c = NULL;
	json_t *ctx, *cl, *us = NULL;
	const char *ctxname = context && *context ? context : str_field(root, "current-context");
	const char *clname, *usname, *server, *s;
	char where[320];
	bool ok = true;
	kp_err rc;

	if (!json_is_object(root))
		return kp_errf(eb, KP_ERR_INVALID, "not a mapping");
	if (!ctxname || !*ctxname)
		return kp_errf(eb, KP_ERR_INVALID, "current-context: not set and no context given");
	if ((rc = find_named(root, "contexts", "context", ctxname, &ctx, eb)))
		return rc;
	clname = str_field(ctx, "cluster");
	usname = str_field(ctx, "user");
	if (!clname || !*clname)
		return kp_errf(eb, KP_ERR_INVALID, "contexts[%s].context.cluster: missing", ctxname);
	if ((rc = find_named(root, "clusters", "cluster", clname, &cl, eb)))
		return rc;
	if (usname && *usname && (rc = find_named(root, "users", "user", usname, &us, eb)))
		return rc;

	snprintf(where, sizeof(where), "clusters[%s].cluster", clname);
	server = str_field(cl, "server");
	if (!server || !*server)
		return kp_errf(eb, KP_ERR_INVALID, "%s.server: missing", where);
	if (strncmp(server, "https://", 8) != 0)
		return kp_errf(eb, KP_ERR_INVALID, "%s.server: must be https://, got %s", where, server);
	if (truthy(json_object_get(cl, "insecure-skip-tls-verify")))
		return kp_errf(eb, KP_ERR_INVALID, "%s.insecure-skip-tls-verify: not supported (TLS is always verified)",
			       where);
	if ((s = str_field(cl, "tls-server-name")) && *s)
		return kp_errf(eb, KP_ERR_INVALID, "%s.tls-server-name: not supported", where);
	if ((s = str_field(cl, "proxy-url")) && *s)
		return kp_errf(eb, KP_ERR_INVALID, "%s.proxy-url: not supported", where);

	c = calloc(1, sizeof(*c));
	if (!c)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	c->server = strdup(server);
	if (c->server) {
		size_t n = strlen(c->server);
		while (n > 8 && c->server[n - 1] == '/')
			c->server[--n] = '\0';
	}
	c->context = kp_kube__strdup(ctxname, &ok);
	c->cluster = kp_kube__strdup(clname, &ok);
	c->user = kp_kube__strdup(usname, &ok);
	s = str_field(ctx, "namespace");
	c->namespace = kp_kube__strdup(s && *s ? s : "default", &ok);
	if (!ok || !c->server) {
		rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		goto fail;
	}
	rc = data_or_file(cl, "certificate-authority", where, dir, &c->ca_pem, &c->ca_len, eb);
	if (rc)
		goto fail;
	if (us) {
		json_t *x = json_object_get(us, "exec");
		snprintf(where, sizeof(where), "users[%s].user", usname);
		if (json_object_get(us, "auth-provider")) {
			rc = kp_errf(eb, KP_ERR_INVALID, "%s.auth-provider: not supported (use exec)", where);
			goto fail;
		}
		if (((s = str_field(us, "username")) && *s) || ((s = str_field(us, "password")) && *s)) {
			rc = kp_errf(eb, KP_ERR_INVALID, "%s.username: basic authentication not supported", where);
			goto fail;
		}
		rc = data_or_file(us, "client-certificate", where, dir, &c->cert_pem, &c->cert_len, eb);
		if (!rc)
			rc = data_or_file(us, "client-key", where, dir, &c->key_pem, &c->key_len, eb);
		if (rc)
			goto fail;
		if ((c->cert_pem == NULL) != (c->key_pem == NULL)) {
			rc = kp_errf(eb, KP_ERR_INVALID, "%s.%s: missing (client-certificate and client-key go together)",
				     where, c->cert_pem ? "client-key" : "client-certificate");
			goto fail;
		}
		s = str_field(us, "token");
		if (s && *s && !(c->token = strdup(s))) {
			rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
			goto fail;
		}
		s = str_field(us, "tokenFile");
		if (s && *s) {
			struct stat sb;
			if (!(c->token_file = resolve_path(dir, s))) {
				rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
				goto fail;
			}
			if (stat(c->token_file, &sb) != 0) {
				rc = kp_errf(eb, KP_ERR_NOTFOUND, "%s.tokenFile: %s: %s", where, c->token_file,
					     strerror(errno));
				goto fail;
			}
		}
		if (json_is_object(x)) {
			rc = parse_exec(x, where, dir, &c->exec, eb);
			if (rc)
				goto fail;
		} else if (x && !json_is_null(x)) {
			rc = kp_errf(eb, KP_ERR_INVALID, "%s.exec: not a mapping", where);
			goto fail;
		}
	}
	*out = c;
	return KP_OK;
fail:
	kp_kube_config_free(c);
	return rc;
}

kp_err kp_kubeconfig_parse(const char *text, size_t len, const char *dir, const char *context,
			   struct kp_kube_config **out, struct kp_errbuf *eb)
{
	json_t *root = NULL;
	kp_err rc;

	*out = NULL;
	rc = yaml_to_json(text, len, &root, eb);
	if (!rc)
		rc = parse_tree(root, dir, context, out, eb);
	json_decref(root);
	return rc;
}

kp_err kp_kubeconfig_load(const char *path, const char *context, struct kp_kube_config **out,
			  struct kp_errbuf *eb)
{
	char *text = NULL, *dir, *slash;
	size_t len = 0;
	kp_err rc;

	*out = NULL;
	rc = kp_kube__read_file(path, MAX_KUBECONFIG, &text, &len, eb);
	if (rc) {
		kp_err_prefix(eb, "kubeconfig");
		return rc;
	}
	dir = strdup(path);
	if (!dir) {
		free(text);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	rc = kp_kubeconfig_parse(text, len, dir, context, out, eb);
	if (rc)
		kp_err_prefix(eb, "kubeconfig %s", path);
	free(dir);
	free(text);
	return rc;
}

kp_err kp_kube_config_default(const char *path, const char *context, struct kp_kube_config **out,
			      struct kp_errbuf *eb)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME"), *host = getenv("KUBERNETES_SERVICE_HOST");
	char buf[PATH_MAX];

	*out = NULL;
	if (path && *path)
		return kp_kubeconfig_load(path, context, out, eb);
	if (env && *env) {
		const char *p = env;
		while (*p) {
			const char *e = strchr(p, ':');
			size_t n = e ? (size_t)(e - p) : strlen(p);
			if (n && n < sizeof(buf)) {
				memcpy(buf, p, n);
				buf[n] = '\0';
				if (access(buf, R_OK) == 0)
					return kp_kubeconfig_load(buf, context, out, eb);
			}
			p += n + (e ? 1 : 0);
		}
	}
	if (host && *host)
		return kp_incluster_load(NULL, out, eb);
	if (home && *home && (size_t)snprintf(buf, sizeof(buf), "%s/.kube/config", home) < sizeof(buf) &&
	    access(buf, R_OK) == 0)
		return kp_kubeconfig_load(buf, context, out, eb);
	return kp_errf(eb, KP_ERR_NOTFOUND,
		       "no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster");
}
