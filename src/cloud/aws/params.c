/*
 * params.c - AWS Query protocol bodies ("Action=...&Version=...&k=v"),
 * percent-encoding as botocore does (RFC 3986 unreserved characters kept,
 * everything else %XX), and random UUIDs for ClientToken.
 *
 * Invariants: the body is capped at KP_AWS_BODY_MAX; an add that does not
 * fit marks the params failed and kp_aws_query refuses them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cloud/aws/aws.h"

kp_err kp_aws_urlencode(struct kp_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char enc[3];
		kp_err rc;

		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '_' || *p == '.' || *p == '~') {
			rc = kp_buf_add(b, p, 1);
		} else {
			enc[0] = '%';
			enc[1] = hex[*p >> 4];
			enc[2] = hex[*p & 15];
			rc = kp_buf_add(b, enc, 3);
		}
		if (rc)
			return rc;
	}
	return KP_OK;
}

void kp_aws_params_init(struct kp_aws_params *p, const char *action, const char *version)
{
	kp_buf_init(&p->body, KP_AWS_BODY_MAX);
	p->action = action;
	p->failed = kp_buf_addstr(&p->body, "Action=") || kp_aws_urlencode(&p->body, action) ||
		    kp_buf_addstr(&p->body, "&Version=") || kp_aws_urlencode(&p->body, version);
}

void kp_aws_params_add(struct kp_aws_params *p, const char *key, const char *value)
{
	if (p->failed)
		return;
	if (kp_buf_addstr(&p->body, "&") || kp_aws_urlencode(&p->body, key) || kp_buf_addstr(&p->body, "=") ||
	    kp_aws_urlencode(&p->body, value ? value : ""))
		p->failed = true;
}

void kp_aws_params_addf(struct kp_aws_params *p, const char *value, const char *keyfmt, ...)
{
	char key[256];
	va_list ap;
	int k;

	va_start(ap, keyfmt);
	k = vsnprintf(key, sizeof(key), keyfmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(key)) {
		p->failed = true;
		return;
	}
	kp_aws_params_add(p, key, value);
}

bool kp_aws_params_has(const struct kp_aws_params *p, const char *key)
{
	struct kp_buf enc;
	bool found = false;

	if (!p->body.data)
		return false;
	kp_buf_init(&enc, 1024);
	if (!kp_buf_addstr(&enc, "&") && !kp_aws_urlencode(&enc, key) && !kp_buf_addstr(&enc, "=")) {
		const char *s = p->body.data;

		found = strstr(s, enc.data) != NULL;
	}
	kp_buf_free(&enc);
	return found;
}

void kp_aws_params_free(struct kp_aws_params *p)
{
	kp_buf_free(&p->body);
}

void kp_aws_uuid(char *buf, size_t n)
{
	unsigned char u[16] = { 0 };

	if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u)) {
		/* fall back to a clock-derived value: still unique per call in practice */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		memcpy(u, &ts, sizeof(ts) < sizeof(u) ? sizeof(ts) : sizeof(u));
	}
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	snprintf(buf, n, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
		 u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}
