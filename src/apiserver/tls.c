/*
 * tls.c - CA and serving certificate for `karpenter up`, made with OpenSSL.
 *
 * Keys are EC P-256. The CA (CN karpenter-local-ca, CA:TRUE, keyCertSign)
 * lives ten years; the serving certificate (CN karpenter-local, serverAuth,
 * SANs 127.0.0.1, ::1, localhost and an optional extra name) is signed by
 * it. Files are written with mode 0600 (keys) via a temporary file and
 * rename, so a crash never leaves half a key. Cost: one key generation and
 * signature per missing file, milliseconds; nothing at steady state.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "apiserver/tls.h"
#include "kobj/kobj.h"

#define PEM_MAX (64 * 1024)
#define VALID_DAYS 3650

/* The PEM text of path into *out (malloc), NULL when the file is absent or
 * empty; unreadable or larger than PEM_MAX is an error naming the file. */
static kp_err read_pem(const char *path, char **out, struct kp_errbuf *eb)
{
	size_t n = 0;
	kp_err rc;

	*out = NULL;
	if (access(path, F_OK) != 0)
		return KP_OK;
	if ((rc = kp_kobj_read_file(path, PEM_MAX, out, &n, eb)))
		return rc;
	if (n == 0) {
		free(*out);
		*out = NULL;
	}
	return KP_OK;
}

static char *bio_text(BIO *b)
{
	char *p = NULL, *out;
	long n = BIO_get_mem_data(b, &p);

	if (n <= 0)
		return NULL;
	out = malloc((size_t)n + 1);
	if (!out)
		return NULL;
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	return out;
}

static char *key_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;
	if (b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL))
		s = bio_text(b);
	BIO_free(b);
	return s;
}

static char *cert_pem(X509 *c)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;
	if (b && PEM_write_bio_X509(b, c))
		s = bio_text(b);
	BIO_free(b);
	return s;
}

static EVP_PKEY *parse_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return k;
}

static X509 *parse_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return c;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -1;
	X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return 0;
}

/* Makes a certificate for key, signed by (issuer, issuer_key); self-signed
 * when issuer is NULL. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, const char *san)
{
	X509 *c = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	bool ca = issuer == NULL;

	if (!c)
		return NULL;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;   /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)))
		goto fail;
	X509_set_version(c, 2);
	X509_gmtime_adj(X509_getm_notBefore(c), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c), (long)VALID_DAYS * 24 * 3600);
	X509_set_pubkey(c, key);
	name = X509_get_subject_name(c);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(c, ca ? name : X509_get_subject_name(issuer));
	if (add_ext(c, ca ? c : issuer, NID_subject_key_identifier, "hash"))
		goto fail;
	if (ca) {
		if (add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE") ||
		    add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"))
			goto fail;
	} else {
		if (add_ext(c, issuer, NID_authority_key_identifier, "keyid:always") ||
		    add_ext(c, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
		    add_ext(c, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
		    add_ext(c, issuer, NID_ext_key_usage, "serverAuth") ||
		    add_ext(c, issuer, NID_subject_alt_name, san))
			goto fail;
	}
	if (!X509_sign(c, ca ? key : issuer_key, EVP_sha256()))
		goto fail;
	BN_free(bn);
	return c;
fail:
	BN_free(bn);
	X509_free(c);
	return NULL;
}

static kp_err path_in(char *buf, size_t n, const char *dir, const char *file, struct kp_errbuf *eb)
{
	if ((size_t)snprintf(buf, n, "%s/%s", dir, file) >= n)
		return kp_errf(eb, KP_ERR_RANGE, "data dir path too long: %s", dir);
	return KP_OK;
}

static bool valid_san_name(const char *s)
{
	for (; *s; s++)
		if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') || ('0' <= *s && *s <= '9') ||
		      *s == '.' || *s == '-' || *s == ':'))
			return false;
	return true;
}

kp_err kp_apiserver__tls_load_or_create(struct kp_apiserver__tls *t, const char *dir, const char *extra_san, struct kp_errbuf *eb)
{
	char p_ca[4096], p_cakey[4096], p_crt[4096], p_key[4096], san[512];
	char *ca_key_pem = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	X509 *ca = NULL, *crt = NULL;
	kp_err rc;

	memset(t, 0, sizeof(*t));
	if ((rc = path_in(p_ca, sizeof(p_ca), dir, "ca.crt", eb)) ||
	    (rc = path_in(p_cakey, sizeof(p_cakey), dir, "ca.key", eb)) ||
	    (rc = path_in(p_crt, sizeof(p_crt), dir, "server.crt", eb)) ||
	    (rc = path_in(p_key, sizeof(p_key), dir, "server.key", eb)))
		return rc;

	if ((rc = read_pem(p_ca, &t->ca_pem, eb)) || (rc = read_pem(p_cakey, &ca_key_pem, eb)))
		goto out;
	if (t->ca_pem && ca_key_pem) {
		ca = parse_cert(t->ca_pem);
		cakey = parse_key(ca_key_pem);
		if (!ca || !cakey) {
			rc = kp_errf(eb, KP_ERR_INVALID, "%s: cannot parse the CA certificate or key", dir);
			goto out;
		}
	} else {
		free(t->ca_pem);
		free(ca_key_pem);
		t->ca_pem = ca_key_pem = NULL;
		cakey = EVP_EC_gen("P-256");
		ca = cakey ? make_cert(cakey, "karpenter-local-ca", NULL, NULL, NULL) : NULL;
		if (!ca || !(t->ca_pem = cert_pem(ca)) || !(ca_key_pem = key_pem(cakey))) {
			rc = kp_errf(eb, KP_ERR_INVALID, "generate CA: openssl failure");
			goto out;
		}
		if ((rc = kp_kobj_write_file(p_cakey, ca_key_pem, strlen(ca_key_pem), eb)) ||
		    (rc = kp_kobj_write_file(p_ca, t->ca_pem, strlen(t->ca_pem), eb)))
			goto out;
		/* a new CA invalidates any old serving certificate */
		unlink(p_crt);
		unlink(p_key);
	}

	if ((rc = read_pem(p_crt, &t->cert_pem, eb)) || (rc = read_pem(p_key, &t->key_pem, eb)))
		goto out;
	if (t->cert_pem && t->key_pem && !extra_san)
		goto out;
	free(t->cert_pem);
	free(t->key_pem);
	t->cert_pem = t->key_pem = NULL;
	if (extra_san && !valid_san_name(extra_san)) {
		rc = kp_errf(eb, KP_ERR_INVALID, "bad certificate name: %s", extra_san);
		goto out;
	}
	if (extra_san) {
		unsigned char ipbuf[16];
		bool ip = inet_pton(AF_INET, extra_san, ipbuf) == 1 || inet_pton(AF_INET6, extra_san, ipbuf) == 1;
		snprintf(san, sizeof(san), "IP:127.0.0.1,IP:::1,DNS:localhost,%s:%s", ip ? "IP" : "DNS", extra_san);
	} else {
		snprintf(san, sizeof(san), "IP:127.0.0.1,IP:::1,DNS:localhost");
	}
	key = EVP_EC_gen("P-256");
	crt = key ? make_cert(key, "karpenter-local", ca, cakey, san) : NULL;
	if (!crt || !(t->cert_pem = cert_pem(crt)) || !(t->key_pem = key_pem(key))) {
		rc = kp_errf(eb, KP_ERR_INVALID, "generate serving certificate: openssl failure");
		goto out;
	}
	if ((rc = kp_kobj_write_file(p_key, t->key_pem, strlen(t->key_pem), eb)) ||
	    (rc = kp_kobj_write_file(p_crt, t->cert_pem, strlen(t->cert_pem), eb)))
		goto out;
out:
	free(ca_key_pem);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(key);
	X509_free(ca);
	X509_free(crt);
	if (rc)
		kp_apiserver__tls_free(t);
	return rc;
}

void kp_apiserver__tls_free(struct kp_apiserver__tls *t)
{
	if (!t)
		return;
	free(t->ca_pem);
	free(t->cert_pem);
	free(t->key_pem);
	memset(t, 0, sizeof(*t));
}
