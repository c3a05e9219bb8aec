/*
 * err.c - error codes and the caller-supplied error buffer.
 *
 * A message is written once where the failure is detected and grows context
 * at each caller through kp_err_prefix(); truncation is silent (the buffer
 * keeps the most specific part, which comes last).
 */
#include <stdio.h>
#include <string.h>

#include "karpenter/base.h"

kp_err kp_errf(struct kp_errbuf *eb, kp_err code, const char *fmt, ...)
{
	if (eb) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
		va_end(ap);
		eb->code = code;
	}
	return code;
}

void kp_err_prefix(struct kp_errbuf *eb, const char *fmt, ...)
{
	char pre[512], tmp[KP_ERRBUF_SIZE];
	va_list ap;

	if (!eb)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	size_t lp = strnlen(pre, sizeof(pre));
	size_t lm = strnlen(eb->msg, sizeof(eb->msg) - 1);

	if (lp > sizeof(tmp) - 1)
		lp = sizeof(tmp) - 1;
	if (lm > sizeof(tmp) - 1 - lp)
		lm = sizeof(tmp) - 1 - lp;
	memcpy(tmp, pre, lp);
	memcpy(tmp + lp, eb->msg, lm);
	tmp[lp + lm] = '\0';
	memcpy(eb->msg, tmp, sizeof(eb->msg));
}

const char *kp_err_str(kp_err code)
{
	switch (code) {
	case KP_OK: return "ok";
	case KP_ERR_NOMEM: return "out of memory";
	case KP_ERR_INVALID: return "invalid input";
	case KP_ERR_RANGE: return "out of range";
	case KP_ERR_IO: return "i/o error";
	case KP_ERR_NOTFOUND: return "not found";
	case KP_ERR_LIMIT: return "limit reached";
	}
	return "unknown error";
}
