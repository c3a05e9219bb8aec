/*
 * creds.c - AWS credentials and region by the SDK's default chain, in its
 * order: environment, web identity (IRSA: STS AssumeRoleWithWebIdentity,
 * unsigned), shared credentials/config files with profiles, the container
 * endpoint (EKS Pod Identity / ECS), then IMDSv2 (token PUT, role name,
 * role credentials). Temporary credentials carry their expiry; the client
 * (client.c) resolves again 5 minutes before it.
 *
 * Invariants: no secret is ever written into a message; buffers holding
 * secrets are cleared after use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cloud/aws/aws.h"

static void copy(char *dst, size_t n, const char *src)
{
	size_t k = strnlen(src ? src : "", n - 1);

	memcpy(dst, src ? src : "", k);
	dst[k] = 0;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int64_t parse_expiry(const char *s)
{
	int64_t t;

	if (!s || kp_parse_rfc3339(s, &t))
		return 0;
	return t * 1000;
}

static char *trim(char *s)
{
	size_t k;

	while (*s == ' ' || *s == '\t')
		s++;
	k = strlen(s);
	while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t' || s[k - 1] == '\r' || s[k - 1] == '\n'))
		s[--k] = 0;
	return s;
}

/* ---- shared files ---- */

kp_err kp_aws_ini_get(const char *path, const char *section, const char *key, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	char line[4608];
	bool in = false;
	kp_err rc = KP_ERR_NOTFOUND;

	if (!f)
		return KP_ERR_NOTFOUND;
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq;

		if (*s == '#' || *s == ';' || !*s)
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (end)
				*end = 0;
			in = strcmp(trim(s + 1), section) == 0;
			continue;
		}
		if (!in || !(eq = strchr(s, '=')))
			continue;
		*eq = 0;
		if (strcmp(trim(s), key) == 0) {
			copy(buf, n, trim(eq + 1));
			rc = KP_OK;
			break;
		}
	}
	memset(line, 0, sizeof(line));
	fclose(f);
	return rc;
}

static void file_path(char *buf, size_t n, const char *var, const char *leaf)
{
	const char *v = env(var), *home = env("HOME");

	if (v)
		copy(buf, n, v);
	else
		snprintf(buf, n, "%s/.aws/%s", home ? home : "", leaf);
}

void kp_aws_region_from_env(const char *profile, char *buf, size_t n)
{
	char path[1024], sect[200];
	const char *v;

	buf[0] = 0;
	if ((v = env("AWS_REGION")) || (v = env("AWS_DEFAULT_REGION"))) {
		copy(buf, n, v);
		return;
	}
	file_path(path, sizeof(path), "AWS_CONFIG_FILE", "config");
	if (strcmp(profile, "default") == 0)
		copy(sect, sizeof(sect), "default");
	else
		snprintf(sect, sizeof(sect), "profile %s", profile);
	if (kp_aws_ini_get(path, sect, "region", buf, n) && strcmp(profile, "default") != 0)
		kp_aws_ini_get(path, profile, "region", buf, n);
}

static kp_err from_files(struct kp_aws_client *c, struct kp_aws_creds *out)
{
	char path[1024], sect[200];
	kp_err rc;

	file_path(path, sizeof(path), "AWS_SHARED_CREDENTIALS_FILE", "credentials");
	rc = kp_aws_ini_get(path, c->profile, "aws_access_key_id", out->akid, sizeof(out->akid));
	if (!rc)
		rc = kp_aws_ini_get(path, c->profile, "aws_secret_access_key", out->secret, sizeof(out->secret));
	if (!rc) {
		kp_aws_ini_get(path, c->profile, "aws_session_token", out->token, sizeof(out->token));
		copy(out->source, sizeof(out->source), "profile");
		return KP_OK;
	}
	file_path(path, sizeof(path), "AWS_CONFIG_FILE", "config");
	if (strcmp(c->profile, "default") == 0)
		copy(sect, sizeof(sect), "default");
	else
		snprintf(sect, sizeof(sect), "profile %s", c->profile);
	rc = kp_aws_ini_get(path, sect, "aws_access_key_id", out->akid, sizeof(out->akid));
	if (!rc)
		rc = kp_aws_ini_get(path, sect, "aws_secret_access_key", out->secret, sizeof(out->secret));
	if (!rc) {
		kp_aws_ini_get(path, sect, "aws_session_token", out->token, sizeof(out->token));
		copy(out->source, sizeof(out->source), "profile");
	}
	return rc;
}

/* ---- web identity ---- */

static kp_err from_web_identity(struct kp_aws_client *c, const char *role, const char *tokfile,
				struct kp_aws_creds *out, struct kp_errbuf *eb)
{
	FILE *f = fopen(tokfile, "r");
	char tok[8192], sess[96];
	size_t k;
	struct kp_aws_params p;
	struct kp_aws_resp resp;
	struct kp_arena a;
	const struct kp_aws_xnode *cr;
	kp_err rc;

	if (!f)
		return kp_errf(eb, KP_ERR_IO, "web identity token file %s: cannot open", tokfile);
	k = fread(tok, 1, sizeof(tok) - 1, f);
	fclose(f);
	tok[k] = 0;
	copy(tok, sizeof(tok), trim(tok));
	if (!tok[0])
		return kp_errf(eb, KP_ERR_INVALID, "web identity token file %s: empty", tokfile);
	if (env("AWS_ROLE_SESSION_NAME"))
		copy(sess, sizeof(sess), env("AWS_ROLE_SESSION_NAME"));
	else
		snprintf(sess, sizeof(sess), "karpenter-c-%lld", (long long)time(NULL));
	kp_aws_params_init(&p, "AssumeRoleWithWebIdentity", "2011-06-15");
	kp_aws_params_add(&p, "RoleArn", role);
	kp_aws_params_add(&p, "RoleSessionName", sess);
	kp_aws_params_add(&p, "WebIdentityToken", tok);
	memset(tok, 0, sizeof(tok));
	kp_arena_init(&a);
	rc = kp_aws_query(c, "sts", &p, false, true, &a, &resp, eb);
	kp_aws_params_free(&p);
	if (!rc) {
		cr = kp_aws_xml_find(resp.xml, "Credentials");
		if (!kp_aws_xml_text(cr, "AccessKeyId") || !kp_aws_xml_text(cr, "SecretAccessKey")) {
			rc = kp_errf(eb, KP_ERR_INVALID, "sts AssumeRoleWithWebIdentity: answer without Credentials");
		} else {
			copy(out->akid, sizeof(out->akid), kp_aws_xml_text(cr, "AccessKeyId"));
			copy(out->secret, sizeof(out->secret), kp_aws_xml_text(cr, "SecretAccessKey"));
			copy(out->token, sizeof(out->token), kp_aws_xml_text(cr, "SessionToken"));
			out->expires_ms = parse_expiry(kp_aws_xml_text(cr, "Expiration"));
			copy(out->source, sizeof(out->source), "web-identity");
		}
	}
	kp_arena_free(&a);
	return rc;
}

/* ---- container (EKS Pod Identity) and IMDS ---- */

static kp_err from_json_creds(const char *body, const char *src, struct kp_aws_creds *out, struct kp_errbuf *eb)
{
	json_t *j = json_loads(body, 0, NULL);
	const char *ak, *sk, *tk;
	kp_err rc = KP_OK;

	ak = json_string_value(json_object_get(j, "AccessKeyId"));
	sk = json_string_value(json_object_get(j, "SecretAccessKey"));
	tk = json_string_value(json_object_get(j, "Token"));
	if (!ak || !sk) {
		rc = kp_errf(eb, KP_ERR_INVALID, "%s credentials: answer without AccessKeyId/SecretAccessKey", src);
	} else {
		copy(out->akid, sizeof(out->akid), ak);
		copy(out->secret, sizeof(out->secret), sk);
		copy(out->token, sizeof(out->token), tk ? tk : "");
		out->expires_ms = parse_expiry(json_string_value(json_object_get(j, "Expiration")));
		copy(out->source, sizeof(out->source), src);
	}
	json_decref(j);
	return rc;
}

static kp_err from_container(const char *url, struct kp_aws_creds *out, struct kp_errbuf *eb)
{
	char auth[4200], tok[4096] = "";
	const char *h[2] = { NULL, NULL };
	const char *tf = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	char *body = NULL;
	long st = 0;
	kp_err rc;

	if (tf) {
		FILE *f = fopen(tf, "r");
		size_t k;

		if (!f)
			return kp_errf(eb, KP_ERR_IO, "container authorization token file %s: cannot open", tf);
		k = fread(tok, 1, sizeof(tok) - 1, f);
		fclose(f);
		tok[k] = 0;
		copy(tok, sizeof(tok), trim(tok));
	} else if (env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
		copy(tok, sizeof(tok), env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
	}
	if (tok[0]) {
		snprintf(auth, sizeof(auth), "Authorization: %s", tok);
		h[0] = auth;
	}
	rc = kp_aws_http("GET", url, h, 5000, &st, &body, eb);
	memset(auth, 0, sizeof(auth));
	memset(tok, 0, sizeof(tok));
	if (!rc && st != 200)
		rc = kp_errf(eb, KP_ERR_IO, "container credentials %s: HTTP %ld", url, st);
	if (!rc)
		rc = from_json_creds(body, "container", out, eb);
	free(body);
	return rc;
}

static kp_err from_imds(struct kp_aws_creds *out, struct kp_errbuf *eb)
{
	const char *base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *th[] = { "X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL };
	char url[768], hdr[700], role[256];
	const char *gh[] = { hdr, NULL };
	char *tok = NULL, *body = NULL;
	long st = 0;
	kp_err rc;

	base = base ? base : "http://169.254.169.254";
	snprintf(url, sizeof(url), "%s/latest/api/token", base);
	if ((rc = kp_aws_http("PUT", url, th, 1000, &st, &tok, eb)))
		return rc;
	if (st != 200) {
		free(tok);
		return kp_errf(eb, KP_ERR_IO, "imds token: HTTP %ld", st);
	}
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", trim(tok));
	free(tok);
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
	if ((rc = kp_aws_http("GET", url, gh, 1000, &st, &body, eb)))
		return rc;
	if (st != 200 || !body[0]) {
		free(body);
		return kp_errf(eb, KP_ERR_NOTFOUND, "imds: no instance role (HTTP %ld)", st);
	}
	body[strcspn(body, "\r\n")] = 0; /* the first role listed */
	copy(role, sizeof(role), trim(body));
	free(body);
	body = NULL;
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", base, role);
	if ((rc = kp_aws_http("GET", url, gh, 1000, &st, &body, eb)))
		return rc;
	if (st != 200)
		rc = kp_errf(eb, KP_ERR_IO, "imds role credentials: HTTP %ld", st);
	else
		rc = from_json_creds(body, "imds", out, eb);
	free(body);
	return rc;
}

kp_err kp_aws_creds_resolve(struct kp_aws_client *c, struct kp_aws_creds *out, struct kp_errbuf *eb)
{
	const char *ak = env("AWS_ACCESS_KEY_ID"), *sk = env("AWS_SECRET_ACCESS_KEY");
	const char *role = env("AWS_ROLE_ARN"), *wtf = env("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *dis = env("AWS_EC2_METADATA_DISABLED");
	struct kp_errbuf ign;

	memset(out, 0, sizeof(*out));
	if (ak && sk) {
		copy(out->akid, sizeof(out->akid), ak);
		copy(out->secret, sizeof(out->secret), sk);
		copy(out->token, sizeof(out->token), env("AWS_SESSION_TOKEN"));
		copy(out->source, sizeof(out->source), "env");
		return KP_OK;
	}
	if (role && wtf)
		return from_web_identity(c, role, wtf, out, eb);
	if (!from_files(c, out))
		return KP_OK;
	memset(out, 0, sizeof(*out));
	if (full)
		return from_container(full, out, eb);
	if (rel) {
		char url[1024];

		snprintf(url, sizeof(url), "http://169.254.170.2%s", rel);
		return from_container(url, out, eb);
	}
	if (dis && strcasecmp(dis, "true") == 0)
		return kp_errf(eb, KP_ERR_NOTFOUND, "no AWS credentials (environment, web identity, profile \"%s\", "
						    "container; IMDS disabled)", c->profile);
	if (!from_imds(out, &ign))
		return KP_OK;
	memset(out, 0, sizeof(*out));
	return kp_errf(eb, KP_ERR_NOTFOUND, "no AWS credentials (environment, web identity, profile \"%s\", "
					    "container, IMDS: %s)", c->profile, ign.msg);
}
