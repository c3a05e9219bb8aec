/*
 * quantity.h - Kubernetes resource quantities as exact integers.
 *
 * Grammar (k8s.io/apimachinery resource.Quantity): an optional sign, a decimal
 * number (digits, optional fraction) and a suffix: binary Ki Mi Gi Ti Pi Ei,
 * decimal n u m "" k M G T P E, or an exponent e/E<int> ("1e3", "1.5E-3").
 * Values are held as int64 at a fixed scale: scale 3 = milli-units (cpu),
 * scale 0 = whole units (bytes, counts). Like Quantity.MilliValue()/Value(),
 * a value not exact at the scale is rounded up (towards +inf). Overflow of
 * int64 at the requested scale is KP_ERR_RANGE, never a wrap.
 */
#ifndef KARPENTER_QUANTITY_H
#define KARPENTER_QUANTITY_H

#include "karpenter/base.h"

#define KP_QTY_MILLI 3
#define KP_QTY_UNIT 0

/* Parses s at the given scale (KP_QTY_MILLI or KP_QTY_UNIT) into *out.
 * Returns KP_ERR_INVALID for bad syntax, KP_ERR_RANGE for overflow; the
 * message in eb quotes the input. */
kp_err kp_qty_parse(const char *s, int scale, int64_t *out, struct kp_errbuf *eb);

/* Output style for kp_qty_format. */
enum kp_qty_style {
	KP_QTY_DECIMAL,   /* cpu-like: "1500m", "2", "64" (milli only when needed) */
	KP_QTY_BINARY,    /* memory-like: largest exact binary suffix "16Gi", "512Mi", else bytes */
};

/* Formats v (held at scale) canonically into buf; returns buf.
 * buf should hold at least 32 bytes. */
char *kp_qty_format(int64_t v, int scale, enum kp_qty_style style, char *buf, size_t n);

/* Overflow-checked arithmetic; return false on overflow (result unchanged). */
bool kp_i64_add(int64_t a, int64_t b, int64_t *out);
bool kp_i64_mul(int64_t a, int64_t b, int64_t *out);

#endif
