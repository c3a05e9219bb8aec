/*
 * log.c - structured JSON-lines logger shaped like Karpenter's zap output.
 *
 * A line is built in a bounded buffer, then written with one fwrite under the
 * stream's stdio lock (flockfile), so concurrent lines never interleave and
 * the stream is flushed after each line, as zap's stdout sink is unbuffered.
 * JSON strings escape ", \ and control characters; invalid UTF-8 bytes become
 * U+FFFD, as zap does, so every line is valid JSON whatever the input.
 *
 * Invariants: no global state; the logger struct is only read. Cost: one
 * malloc'ed buffer per written line (lines below the level cost a compare).
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "karpenter/log.h"

#define LOG_LINE_MAX (1u << 20)   /* a larger line is replaced by a short notice */

void kp_log_init(struct kp_log *l, FILE *out, const char *name)
{
	memset(l, 0, sizeof(*l));
	l->level = KP_LOG_INFO;
	l->out = out;
	l->name = name;
}

kp_err kp_log_parse_level(const char *s, enum kp_log_level *out, struct kp_errbuf *eb)
{
	static const struct { const char *name; enum kp_log_level lv; } levels[] = {
		{"debug", KP_LOG_DEBUG}, {"info", KP_LOG_INFO}, {"warn", KP_LOG_WARN}, {"error", KP_LOG_ERROR},
	};
	if (!s || !*s) {
		*out = KP_LOG_INFO;
		return KP_OK;
	}
	for (size_t i = 0; i < KP_ARRAY_LEN(levels); i++) {
		if (strcasecmp(s, levels[i].name) == 0) {
			*out = levels[i].lv;
			return KP_OK;
		}
	}
	return kp_errf(eb, KP_ERR_INVALID, "log level \"%s\" is not one of debug, info, warn, error", s);
}

const char *kp_log_level_name(enum kp_log_level lv)
{
	switch (lv) {
	case KP_LOG_DEBUG: return "DEBUG";
	case KP_LOG_INFO: return "INFO";
	case KP_LOG_WARN: return "WARN";
	case KP_LOG_ERROR: return "ERROR";
	}
	return "INFO";
}

bool kp_log_enabled(const struct kp_log *l, enum kp_log_level lv)
{
	return l && l->out && lv >= l->level;
}

static int64_t real_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "2026-11-27T20:53:04.123Z" (zap's ISO8601TimeEncoder for UTC). */
static void format_time(int64_t ms, char *buf, size_t n)
{
	int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int milli = (int)(ms - sec * 1000);
	time_t t = (time_t)sec;
	struct tm tm;
	char date[32];

	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, n, "1970-01-01T00:00:00.000Z");
		return;
	}
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%03dZ", date, milli);
}

/* Appends digits of v / 10^prec with the fraction's trailing zeros dropped. */
static size_t frac(char *b, size_t n, uint64_t v, int prec, const char *unit)
{
	uint64_t p10 = 1;
	for (int i = 0; i < prec; i++)
		p10 *= 10;
	uint64_t ip = v / p10, fp = v % p10;
	if (!fp)
		return (size_t)snprintf(b, n, "%" PRIu64 "%s", ip, unit);
	char f[24];
	size_t k = (size_t)prec;   /* prec <= 9: digits of fp, zero-padded */
	f[k] = '\0';
	for (size_t i = k; i > 0; i--, fp /= 10)
		f[i - 1] = (char)('0' + fp % 10);
	while (k > 0 && f[k - 1] == '0')
		f[--k] = '\0';
	return (size_t)snprintf(b, n, "%" PRIu64 ".%s%s", ip, f, unit);
}

void kp_log_format_duration(int64_t ns, char *buf, size_t n)
{
	uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
	size_t off = 0;

	if (n == 0)
		return;
	buf[0] = '\0';
	if (ns < 0)
		off = (size_t)snprintf(buf, n, "-");
	if (off >= n)
		return;
	if (u == 0) {
		snprintf(buf, n, "0s");
	} else if (u < 1000) {
		snprintf(buf + off, n - off, "%" PRIu64 "ns", u);
	} else if (u < 1000000) {
		frac(buf + off, n - off, u, 3, "\xc2\xb5s");
	} else if (u < 1000000000) {
		frac(buf + off, n - off, u, 6, "ms");
	} else {
		uint64_t h = u / 3600000000000ULL, m = u / 60000000000ULL % 60, s = u % 60000000000ULL;
		if (h)
			off += (size_t)snprintf(buf + off, n - off, "%" PRIu64 "h", h);
		if (off < n && (h || m))
			off += (size_t)snprintf(buf + off, n - off, "%" PRIu64 "m", m);
		if (off < n)
			frac(buf + off, n - off, s, 9, "s");
	}
}

/* ---- JSON encoding ---- */

/* Length of the valid UTF-8 sequence at s, or 0 if the bytes are invalid. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 1, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n + 1;
}

static kp_err json_str(struct kp_buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	kp_err rc = kp_buf_add(b, "\"", 1);
	while (!rc && *s) {
		unsigned c = *s;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			rc = kp_buf_add(b, e, 2);
			s++;
		} else if (c < 0x20) {
			if (c == '\n')
				rc = kp_buf_addstr(b, "\\n");
			else if (c == '\r')
				rc = kp_buf_addstr(b, "\\r");
			else if (c == '\t')
				rc = kp_buf_addstr(b, "\\t");
			else
				rc = kp_buf_printf(b, "\\u%04x", c);
			s++;
		} else {
			size_t k = utf8_len(s);
			if (k == 0) {
				rc = kp_buf_addstr(b, "\\ufffd");
				s++;
			} else {
				rc = kp_buf_add(b, s, k);
				s += k;
			}
		}
	}
	if (!rc)
		rc = kp_buf_add(b, "\"", 1);
	return rc;
}

static kp_err json_key(struct kp_buf *b, const char *key)
{
	kp_err rc = kp_buf_add(b, ",", 1);
	if (!rc)
		rc = json_str(b, key);
	if (!rc)
		rc = kp_buf_add(b, ":", 1);
	return rc;
}

static kp_err json_double(struct kp_buf *b, double d)
{
	char tmp[40];
	int p;
	if (isnan(d))
		return kp_buf_addstr(b, "\"NaN\"");
	if (isinf(d))
		return kp_buf_addstr(b, d > 0 ? "\"+Inf\"" : "\"-Inf\"");
	for (p = 1; p < 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*g", p, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*g", p, d);
	return kp_buf_addstr(b, tmp);
}

static kp_err json_field(struct kp_buf *b, const struct kp_log_field *f)
{
	char tmp[64];
	kp_err rc = json_key(b, f->key);
	if (rc)
		return rc;
	switch (f->type) {
	case KP_LOG_F_STR:
		return json_str(b, f->v.s);
	case KP_LOG_F_INT:
		return kp_buf_printf(b, "%" PRId64, f->v.i);
	case KP_LOG_F_UINT:
		return kp_buf_printf(b, "%" PRIu64, f->v.u);
	case KP_LOG_F_DOUBLE:
		return json_double(b, f->v.d);
	case KP_LOG_F_BOOL:
		return kp_buf_addstr(b, f->v.b ? "true" : "false");
	case KP_LOG_F_DURATION:
		kp_log_format_duration(f->v.ns, tmp, sizeof(tmp));
		return json_str(b, tmp);
	case KP_LOG_F_OBJECT:
		rc = kp_buf_add(b, "{", 1);
		if (!rc && f->v.obj.ns && *f->v.obj.ns) {
			rc = kp_buf_addstr(b, "\"namespace\":");
			if (!rc)
				rc = json_str(b, f->v.obj.ns);
			if (!rc)
				rc = kp_buf_add(b, ",", 1);
		}
		if (!rc)
			rc = kp_buf_addstr(b, "\"name\":");
		if (!rc)
			rc = json_str(b, f->v.obj.name);
		if (!rc)
			rc = kp_buf_add(b, "}", 1);
		return rc;
	case KP_LOG_F_STRMAP:
		rc = kp_buf_add(b, "{", 1);
		for (size_t i = 0; i < f->v.map.n && !rc; i++) {
			if (i)
				rc = kp_buf_add(b, ",", 1);
			if (!rc)
				rc = json_str(b, f->v.map.kv[2 * i]);
			if (!rc)
				rc = kp_buf_add(b, ":", 1);
			if (!rc)
				rc = json_str(b, f->v.map.kv[2 * i + 1]);
		}
		if (!rc)
			rc = kp_buf_add(b, "}", 1);
		return rc;
	}
	return json_str(b, "");
}

static kp_err build_line(struct kp_buf *b, const struct kp_log *l, enum kp_log_level lv, const char *ts,
	const char *msg, const struct kp_log_field *f, size_t n)
{
	kp_err rc = kp_buf_printf(b, "{\"level\":\"%s\",\"time\":\"%s\"", kp_log_level_name(lv), ts);
	if (!rc && l->name && *l->name) {
		rc = kp_buf_addstr(b, ",\"logger\":");
		if (!rc)
			rc = json_str(b, l->name);
	}
	if (!rc) {
		rc = kp_buf_addstr(b, ",\"message\":");
		if (!rc)
			rc = json_str(b, msg);
	}
	if (!rc && l->commit) {
		rc = kp_buf_addstr(b, ",\"commit\":");
		if (!rc)
			rc = json_str(b, l->commit);
	}
	for (size_t i = 0; i < l->nbase && !rc; i++)
		rc = json_field(b, &l->base[i]);
	for (size_t i = 0; i < n && !rc; i++)
		rc = json_field(b, &f[i]);
	if (!rc)
		rc = kp_buf_addstr(b, "}\n");
	return rc;
}

void kp_log_write(const struct kp_log *l, enum kp_log_level lv, const char *msg, const struct kp_log_field *f,
	size_t n)
{
	char ts[40];
	struct kp_buf b;

	if (!kp_log_enabled(l, lv))
		return;
	format_time(l->clock ? l->clock(l->clock_arg) : real_clock_ms(), ts, sizeof(ts));
	kp_buf_init(&b, LOG_LINE_MAX);
	if (build_line(&b, l, lv, ts, msg, f, n)) {
		/* Too large or out of memory: say so on a line that is still valid JSON. */
		kp_buf_free(&b);
		kp_buf_init(&b, 4096);
		if (kp_buf_printf(&b, "{\"level\":\"%s\",\"time\":\"%s\",\"message\":\"log line dropped: too large "
			"or out of memory\"}\n", kp_log_level_name(lv), ts)) {
			kp_buf_free(&b);
			return;
		}
	}
	flockfile(l->out);
	fwrite(b.data, 1, b.len, l->out);
	fflush(l->out);
	funlockfile(l->out);
	kp_buf_free(&b);
}

void kp_log_debug(const struct kp_log *l, const char *msg, const struct kp_log_field *f, size_t n)
{
	kp_log_write(l, KP_LOG_DEBUG, msg, f, n);
}

void kp_log_info(const struct kp_log *l, const char *msg, const struct kp_log_field *f, size_t n)
{
	kp_log_write(l, KP_LOG_INFO, msg, f, n);
}

void kp_log_warn(const struct kp_log *l, const char *msg, const struct kp_log_field *f, size_t n)
{
	kp_log_write(l, KP_LOG_WARN, msg, f, n);
}

void kp_log_error(const struct kp_log *l, const char *msg, const struct kp_log_field *f, size_t n)
{
	kp_log_write(l, KP_LOG_ERROR, msg, f, n);
}
