/*
 * jsonw.c - streaming JSON writer (see jsonw.h for the format contract).
 *
 * Formatting mirrors jansson 2.14's dump.c (do_dump, dump_indent,
 * dump_string, jsonp_dtostr) for JSON_INDENT(2) without other flags, so
 * switching an output from json_dumpf to this writer changes no byte.
 * Cost: O(output bytes); memory: the struct (64 KiB buffer), nothing else.
 */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "jsonw/jsonw.h"

#define JW_INDENT 2

static void jw_flush(struct kp_jw *w)
{
	if (!w->err && w->n && fwrite(w->buf, 1, w->n, w->f) != w->n)
		w->err = true;
	w->n = 0;
}

static void jw_put(struct kp_jw *w, const char *p, size_t n)
{
	if (w->err)
		return;
	if (n > sizeof(w->buf) - w->n) {
		jw_flush(w);
		if (n > sizeof(w->buf)) {   /* larger than the buffer: write through */
			if (!w->err && fwrite(p, 1, n, w->f) != n)
				w->err = true;
			return;
		}
	}
	memcpy(w->buf + w->n, p, n);
	w->n += n;
}

static void jw_putc(struct kp_jw *w, char c)
{
	if (w->n == sizeof(w->buf))
		jw_flush(w);
	if (!w->err)
		w->buf[w->n++] = c;
}

/* Newline and indentation for depth d (jansson's dump_indent). */
static void jw_indent(struct kp_jw *w, int d)
{
	static const char spaces[] = "                                                                ";
	size_t n = (size_t)d * JW_INDENT;

	jw_putc(w, '\n');
	while (n) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
		jw_put(w, spaces, k);
		n -= k;
	}
}

/* Separator before a value: nothing after a key, else "," unless first, then
 * the newline and indentation of the container's members. */
static void jw_before_value(struct kp_jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0)
		return;
	if (w->nonempty[w->depth - 1])
		jw_putc(w, ',');
	w->nonempty[w->depth - 1] = true;
	jw_indent(w, w->depth);
}

void kp_jw_init(struct kp_jw *w, FILE *f)
{
	w->f = f;
	w->err = false;
	w->after_key = false;
	w->depth = 0;
	w->n = 0;
}

static void jw_open(struct kp_jw *w, char c)
{
	jw_before_value(w);
	assert(w->depth < KP_JW_MAX_DEPTH);
	if (w->depth >= KP_JW_MAX_DEPTH) {
		w->err = true;
		return;
	}
	jw_putc(w, c);
	w->nonempty[w->depth++] = false;
}

static void jw_close(struct kp_jw *w, char c)
{
	assert(w->depth > 0 && !w->after_key);
	if (w->depth <= 0) {
		w->err = true;
		return;
	}
	w->depth--;
	if (w->nonempty[w->depth])
		jw_indent(w, w->depth);
	jw_putc(w, c);
}

void kp_jw_obj_begin(struct kp_jw *w) { jw_open(w, '{'); }
void kp_jw_obj_end(struct kp_jw *w) { jw_close(w, '}'); }
void kp_jw_arr_begin(struct kp_jw *w) { jw_open(w, '['); }
void kp_jw_arr_end(struct kp_jw *w) { jw_close(w, ']'); }

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF (jansson's
 * utf8_check_full). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void jw_string(struct kp_jw *w, const char *str)
{
	const unsigned char *s = (const unsigned char *)str, *run = s;
	size_t left = strlen(str);

	jw_putc(w, '"');
	while (left) {
		unsigned char c = *s;
		const char *esc = NULL;
		char seq[8];
		size_t k;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			s++;
			left--;
			continue;
		}
		if (c >= 0x80 && (k = utf8_len(s, left)) != 0) {
			s += k;
			left -= k;
			continue;
		}
		jw_put(w, (const char *)run, (size_t)(s - run));
		switch (c) {
		case '\\': esc = "\\\\"; break;
		case '"': esc = "\\\""; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (c < 0x20) {
				snprintf(seq, sizeof(seq), "\\u%04X", (unsigned)c);
				esc = seq;
			} else {
				esc = "\xef\xbf\xbd";   /* not UTF-8: U+FFFD */
			}
		}
		jw_put(w, esc, strlen(esc));
		s++;
		left--;
		run = s;
	}
	jw_put(w, (const char *)run, (size_t)(s - run));
	jw_putc(w, '"');
}

void kp_jw_key(struct kp_jw *w, const char *key)
{
	assert(w->depth > 0 && !w->after_key);
	jw_before_value(w);
	jw_string(w, key);
	jw_put(w, ": ", 2);
	w->after_key = true;
}

void kp_jw_str(struct kp_jw *w, const char *s)
{
	if (!s) {
		kp_jw_null(w);
		return;
	}
	jw_before_value(w);
	jw_string(w, s);
}

void kp_jw_null(struct kp_jw *w)
{
	jw_before_value(w);
	jw_put(w, "null", 4);
}

void kp_jw_bool(struct kp_jw *w, bool v)
{
	jw_before_value(w);
	jw_put(w, v ? "true" : "false", v ? 4 : 5);
}

void kp_jw_int(struct kp_jw *w, int64_t v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%" PRId64, v);

	jw_before_value(w);
	jw_put(w, b, (size_t)n);
}

/* jansson's jsonp_dtostr with precision 17. The C locale is assumed (the
 * CLI never calls setlocale), so the decimal point is '.'. */
void kp_jw_real(struct kp_jw *w, double v)
{
	char b[40];
	int n;
	size_t len;
	char *start, *end;

	if (!isfinite(v)) {
		kp_jw_null(w);
		return;
	}
	n = snprintf(b, sizeof(b), "%.17g", v);
	if (n < 0 || (size_t)n >= sizeof(b) - 3) {
		kp_jw_null(w);
		return;
	}
	len = (size_t)n;
	if (!strchr(b, '.') && !strchr(b, 'e')) {
		b[len++] = '.';
		b[len++] = '0';
		b[len] = '\0';
	}
	/* drop the '+' and leading zeros of the exponent */
	start = strchr(b, 'e');
	if (start) {
		start++;
		end = start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len - (size_t)(end - b) + 1);
			len -= (size_t)(end - start);
		}
	}
	jw_before_value(w);
	jw_put(w, b, len);
}

void kp_jw_value(struct kp_jw *w, const json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	if (!v) {
		kp_jw_null(w);
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		kp_jw_obj_begin(w);
		/* insertion order, as json_dumpf without JSON_SORT_KEYS */
		json_object_foreach((json_t *)v, key, item) {
			kp_jw_key(w, key);
			kp_jw_value(w, item);
		}
		kp_jw_obj_end(w);
		break;
	case JSON_ARRAY:
		kp_jw_arr_begin(w);
		json_array_foreach(v, i, item)
			kp_jw_value(w, item);
		kp_jw_arr_end(w);
		break;
	case JSON_STRING:
		kp_jw_str(w, json_string_value(v));
		break;
	case JSON_INTEGER:
		kp_jw_int(w, (int64_t)json_integer_value(v));
		break;
	case JSON_REAL:
		kp_jw_real(w, json_real_value(v));
		break;
	case JSON_TRUE:
		kp_jw_bool(w, true);
		break;
	case JSON_FALSE:
		kp_jw_bool(w, false);
		break;
	default:
		kp_jw_null(w);
		break;
	}
}

int kp_jw_finish(struct kp_jw *w)
{
	jw_flush(w);
	if (!w->err && fflush(w->f) != 0)
		w->err = true;
	return w->err ? -1 : 0;
}
