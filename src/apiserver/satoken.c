/*
 * satoken.c - HS256 JWTs for service accounts (see satoken.h): base64url
 * without padding, HMAC-SHA256 from OpenSSL, constant-time signature check.
 * Cost: one HMAC per issue or verify.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "apiserver/satoken.h"
#include "kobj/kobj.h"

#define TOKEN_MAX 8192

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64url_enc(const unsigned char *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);
		size_t k = n - i >= 3 ? 4 : n - i + 1;
		for (size_t j = 0; j < k; j++) {
			if (o + 1 >= cap)
				return 0;
			out[o++] = B64[(v >> (18 - 6 * j)) & 63];
		}
	}
	out[o] = '\0';
	return o;
}

/* Decodes n chars; returns the byte count or -1 on a bad character. */
static long b64url_dec(const char *in, size_t n, unsigned char *out, size_t cap)
{
	unsigned v = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		const char *p = strchr(B64, in[i]);
		if (!in[i] || !p)
			return -1;
		v = v << 6 | (unsigned)(p - B64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	return (long)o;
}

kp_err kp_satoken_key_load_or_create(const char *dir, unsigned char key[KP_SATOKEN_KEY_LEN], struct kp_errbuf *eb)
{
	char path[4096];
	ssize_t got;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/sa.key", dir) >= sizeof(path))
		return kp_errf(eb, KP_ERR_RANGE, "data dir path too long: %s", dir);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		got = read(fd, key, KP_SATOKEN_KEY_LEN);
		close(fd);
		if (got == KP_SATOKEN_KEY_LEN)
			return KP_OK;
	}
	if (getrandom(key, KP_SATOKEN_KEY_LEN, 0) != KP_SATOKEN_KEY_LEN)
		return kp_errf(eb, KP_ERR_IO, "sa.key: getrandom failed");
	return kp_kobj_write_file(path, (const char *)key, KP_SATOKEN_KEY_LEN, eb);
}

static void sign(const unsigned char key[KP_SATOKEN_KEY_LEN], const char *data, size_t n, unsigned char mac[32])
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, KP_SATOKEN_KEY_LEN, (const unsigned char *)data, n, mac, &len);
}

kp_err kp_satoken_issue(const unsigned char key[KP_SATOKEN_KEY_LEN], const char *ns, const char *name, const char *uid,
			const char *aud, int64_t now, int64_t ttl, char **out, struct kp_errbuf *eb)
{
	static const char header[] = "{\"alg\":\"HS256\",\"kid\":\"karpenter-up\",\"typ\":\"JWT\"}";
	char sub[600], *payload, *tok;
	unsigned char mac[32];
	json_t *claims;
	size_t o, plen;

	*out = NULL;
	snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", ns, name);
	claims = json_pack("{s:[s], s:I, s:I, s:s, s:I, s:s, s:{s:s, s:{s:s, s:s}}}", "aud", aud ? aud : KP_SATOKEN_ISSUER,
			   "exp", (json_int_t)(now + ttl), "iat", (json_int_t)now, "iss", KP_SATOKEN_ISSUER, "nbf",
			   (json_int_t)now, "sub", sub, "kubernetes.io", "namespace", ns, "serviceaccount", "name", name,
			   "uid", uid ? uid : "");
	payload = claims ? json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(claims);
	if (!payload)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	plen = strlen(payload);
	tok = malloc(TOKEN_MAX);
	if (!tok) {
		free(payload);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	o = b64url_enc((const unsigned char *)header, sizeof(header) - 1, tok, TOKEN_MAX);
	tok[o++] = '.';
	o += b64url_enc((const unsigned char *)payload, plen, tok + o, TOKEN_MAX - o);
	free(payload);
	if (o + 50 >= TOKEN_MAX) {
		free(tok);
		return kp_errf(eb, KP_ERR_RANGE, "token for %s/%s too long", ns, name);
	}
	sign(key, tok, o, mac);
	tok[o++] = '.';
	b64url_enc(mac, sizeof(mac), tok + o, TOKEN_MAX - o);
	*out = tok;
	return KP_OK;
}

kp_err kp_satoken_verify(const unsigned char key[KP_SATOKEN_KEY_LEN], const char *token, int64_t now,
			 struct kp_satoken_claims *c, struct kp_errbuf *eb)
{
	const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	unsigned char mac[32], got[40], payload[TOKEN_MAX];
	const json_t *k8s, *sa;
	json_t *claims;
	long n;
	kp_err rc = KP_OK;

	memset(c, 0, sizeof(*c));
	if (!d1 || !d2 || strchr(d2 + 1, '.') || strlen(token) >= TOKEN_MAX)
		return kp_errf(eb, KP_ERR_INVALID, "not a service-account token");
	sign(key, token, (size_t)(d2 - token), mac);
	if (b64url_dec(d2 + 1, strlen(d2 + 1), got, sizeof(got)) != 32 || CRYPTO_memcmp(mac, got, 32) != 0)
		return kp_errf(eb, KP_ERR_INVALID, "token signature is invalid");
	n = b64url_dec(d1 + 1, (size_t)(d2 - d1 - 1), payload, sizeof(payload) - 1);
	if (n < 0)
		return kp_errf(eb, KP_ERR_INVALID, "token payload is not base64url");
	claims = json_loadb((const char *)payload, (size_t)n, 0, NULL);
	k8s = json_object_get(claims, "kubernetes.io");
	sa = json_object_get(k8s, "serviceaccount");
	if (!json_is_integer(json_object_get(claims, "exp")) || !kp_kobj_str(k8s, "namespace") || !kp_kobj_str(sa, "name") ||
	    strcmp(kp_kobj_str(claims, "iss") ? kp_kobj_str(claims, "iss") : "", KP_SATOKEN_ISSUER) != 0) {
		rc = kp_errf(eb, KP_ERR_INVALID, "token claims are incomplete");
		goto out;
	}
	c->exp = json_integer_value(json_object_get(claims, "exp"));
	if (now >= c->exp || now < json_integer_value(json_object_get(claims, "nbf"))) {
		rc = kp_errf(eb, KP_ERR_INVALID, "token has expired");
		goto out;
	}
	snprintf(c->ns, sizeof(c->ns), "%s", kp_kobj_str(k8s, "namespace"));
	snprintf(c->name, sizeof(c->name), "%s", kp_kobj_str(sa, "name"));
	snprintf(c->uid, sizeof(c->uid), "%s", kp_kobj_str(sa, "uid") ? kp_kobj_str(sa, "uid") : "");
out:
	json_decref(claims);
	return rc;
}
