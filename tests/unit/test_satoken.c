/*
 * test_satoken.c - service-account tokens: issue and verify, the claims a
 * pod's token carries, tampering, another key, expiry, the key file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "apiserver/satoken.h"

static void test_issue_verify(void **state)
{
	unsigned char key[KP_SATOKEN_KEY_LEN], other[KP_SATOKEN_KEY_LEN];
	struct kp_satoken_claims c;
	struct kp_errbuf eb = { 0 };
	char *tok = NULL, *bad;

	(void)state;
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	assert_int_equal(kp_satoken_issue(key, "karpenter", "karpenter", "u-1", NULL, 1000, 3600, &tok, &eb), KP_OK);
	assert_int_equal(strncmp(tok, "eyJ", 3), 0);   /* a JWT: base64url of '{"' */
	assert_int_equal(kp_satoken_verify(key, tok, 1001, &c, &eb), KP_OK);
	assert_string_equal(c.ns, "karpenter");
	assert_string_equal(c.name, "karpenter");
	assert_string_equal(c.uid, "u-1");
	assert_int_equal(c.exp, 4600);
	/* expired, not yet valid, other key */
	assert_int_equal(kp_satoken_verify(key, tok, 4600, &c, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "expired"));
	assert_int_equal(kp_satoken_verify(key, tok, 999, &c, &eb), KP_ERR_INVALID);
	assert_int_equal(kp_satoken_verify(other, tok, 1001, &c, &eb), KP_ERR_INVALID);
	assert_non_null(strstr(eb.msg, "signature"));
	/* one changed character in the payload */
	bad = strdup(tok);
	bad[strchr(bad, '.') - bad + 5] ^= 1;
	assert_int_equal(kp_satoken_verify(key, bad, 1001, &c, &eb), KP_ERR_INVALID);
	free(bad);
	assert_int_equal(kp_satoken_verify(key, "abc", 1001, &c, &eb), KP_ERR_INVALID);
	assert_int_equal(kp_satoken_verify(key, "a.b.c.d", 1001, &c, &eb), KP_ERR_INVALID);
	free(tok);
}

static void test_key_file(void **state)
{
	char dir[] = "/tmp/kp-satoken.XXXXXX", path[128];
	unsigned char k1[KP_SATOKEN_KEY_LEN], k2[KP_SATOKEN_KEY_LEN];
	struct kp_errbuf eb = { 0 };
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(kp_satoken_key_load_or_create(dir, k1, &eb), KP_OK);
	assert_int_equal(kp_satoken_key_load_or_create(dir, k2, &eb), KP_OK);
	assert_memory_equal(k1, k2, sizeof(k1));
	snprintf(path, sizeof(path), "%s/sa.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_issue_verify), cmocka_unit_test(test_key_file) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
