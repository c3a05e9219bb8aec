/*
 * toml.c - the small TOML reader/writer behind Bottlerocket user data:
 * the EC2NodeClass's userData is parsed into tables of "key = value"
 * entries, Karpenter's settings are set over it, and one document comes
 * out with each table once (Karpenter's bottlerocket.go parses the user's
 * TOML and overrides settings.kubernetes.*; appending a second
 * [settings.kubernetes] table would be invalid TOML).
 *
 * What it understands: comments, [table] and [[array-of-tables]] headers,
 * bare/quoted/dotted keys, and the extent of every value (basic, literal and
 * multi-line strings, arrays across lines, inline tables, numbers, dates,
 * booleans). Values are kept as their source text, not decoded. Dotted keys
 * and inline tables of ordinary tables become sub-tables, so that
 * `kubernetes.max-pods = 1` under [settings] and [settings.kubernetes]
 * merge; inside [[...]] elements entries are kept as written. No Debian
 * package provides a C TOML library (only C++ cpptoml), hence this module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/aws/aws_int.h"

#define TOML_MAX_DEPTH 32

struct entry {
	char *key;                       /* one encoded key (bare or quoted), or dotted inside [[...]] */
	char *raw;                       /* the value's source text */
};

struct table {
	char *path;                      /* encoded segments joined by '.'; "" = root */
	bool explicit_;                  /* defined by a header (emitted even when empty) */
	bool array;                      /* a [[path]] element: never merged */
	struct entry *e;
	int n, cap;
};

struct kp_aws_toml {
	struct table *t;                 /* t[0] is the root table */
	int n, cap;
};

struct rd {
	const char *s, *end;
	struct kp_errbuf *eb;
	int line;
};

static kp_err fail(struct rd *r, const char *what)
{
	return kp_errf(r->eb, KP_ERR_INVALID, "userData TOML line %d: %s", r->line, what);
}

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

static bool bare_ch(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* ---- tables ---- */

static struct table *table_find(struct kp_aws_toml *d, const char *path)
{
	for (int i = 0; i < d->n; i++)
		if (!d->t[i].array && strcmp(d->t[i].path, path) == 0)
			return &d->t[i];
	return NULL;
}

static struct table *table_add(struct kp_aws_toml *d, const char *path, bool array)
{
	struct table *t;

	if (!array && (t = table_find(d, path)))
		return t;
	if (d->n == d->cap) {
		int cap = d->cap ? d->cap * 2 : 8;
		void *nt = realloc(d->t, (size_t)cap * sizeof(*d->t));

		if (!nt)
			return NULL;
		d->t = nt;
		d->cap = cap;
	}
	t = &d->t[d->n];
	memset(t, 0, sizeof(*t));
	if (!(t->path = strdup(path)))
		return NULL;
	t->array = array;
	d->n++;
	return t;
}

/* Sets key to raw in t (replacing an entry of the same key). Takes both. */
static kp_err entry_set(struct table *t, char *key, char *raw)
{
	if (!key || !raw) {
		free(key);
		free(raw);
		return KP_ERR_NOMEM;
	}
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->e[i].key, key) == 0) {
			free(t->e[i].raw);
			free(key);
			t->e[i].raw = raw;
			return KP_OK;
		}
	if (t->n == t->cap) {
		int cap = t->cap ? t->cap * 2 : 8;
		void *ne = realloc(t->e, (size_t)cap * sizeof(*t->e));

		if (!ne) {
			free(key);
			free(raw);
			return KP_ERR_NOMEM;
		}
		t->e = ne;
		t->cap = cap;
	}
	t->e[t->n].key = key;
	t->e[t->n].raw = raw;
	t->n++;
	return KP_OK;
}

static void entry_del(struct table *t, const char *key)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->e[i].key, key) == 0) {
			free(t->e[i].key);
			free(t->e[i].raw);
			memmove(&t->e[i], &t->e[i + 1], (size_t)(t->n - i - 1) * sizeof(*t->e));
			t->n--;
			return;
		}
}

/* ---- lexing ---- */

static void skip_ws(struct rd *r)
{
	while (r->s < r->end && (*r->s == ' ' || *r->s == '\t'))
		r->s++;
}

static void skip_comment(struct rd *r)
{
	if (r->s < r->end && *r->s == '#')
		while (r->s < r->end && *r->s != '\n')
			r->s++;
}

/* After a value or header: blanks, a comment, then the end of the line. */
static kp_err end_of_line(struct rd *r)
{
	skip_ws(r);
	skip_comment(r);
	if (r->s < r->end && *r->s == '\r')
		r->s++;
	if (r->s < r->end && *r->s != '\n')
		return fail(r, "unexpected text after a value");
	if (r->s < r->end) {
		r->s++;
		r->line++;
	}
	return KP_OK;
}

/* Blanks, newlines and comments (inside arrays). */
static void skip_all(struct rd *r)
{
	for (;;) {
		skip_ws(r);
		skip_comment(r);
		if (r->s < r->end && (*r->s == '\n' || *r->s == '\r')) {
			r->line += *r->s == '\n';
			r->s++;
			continue;
		}
		return;
	}
}

/* One key segment, encoded into out (bare, else the quoted source). */
static kp_err key_seg(struct rd *r, struct kp_buf *out)
{
	const char *b = r->s;

	if (r->s < r->end && (*r->s == '"' || *r->s == '\'')) {
		char q = *r->s++;
		bool esc = false, bare = true;

		for (; r->s < r->end && *r->s != q; r->s++) {
			if (*r->s == '\n' || *r->s == '\r' || (unsigned char)*r->s < 0x20)
				return fail(r, "newline or control character in a quoted key");
			if (q == '"' && *r->s == '\\') {
				esc = true;
				if (++r->s >= r->end)
					break;
			}
			bare &= bare_ch(*r->s);
		}
		if (r->s >= r->end)
			return fail(r, "unterminated quoted key");
		r->s++;
		/* one spelling per key: bare when it can be, else "..." when no
		 * escape is needed ('a.b' and "a.b" are the same key) */
		if (bare && !esc && r->s - b > 2) {
			kp_buf_printf(out, "%.*s", (int)(r->s - b - 2), b + 1);
		} else if (q == '\'' && !memchr(b + 1, '"', (size_t)(r->s - b - 2)) &&
			   !memchr(b + 1, '\\', (size_t)(r->s - b - 2))) {
			kp_buf_printf(out, "\"%.*s\"", (int)(r->s - b - 2), b + 1);
		} else {
			kp_buf_printf(out, "%.*s", (int)(r->s - b), b);
		}
		return KP_OK;
	}
	while (r->s < r->end && bare_ch(*r->s))
		r->s++;
	if (r->s == b)
		return fail(r, "expected a key");
	kp_buf_printf(out, "%.*s", (int)(r->s - b), b);
	return KP_OK;
}

/* A dotted key: its segments, encoded, into segs[] (at most nmax). */
static kp_err key_path(struct rd *r, char **segs, int nmax, int *nseg)
{
	*nseg = 0;
	for (;;) {
		struct kp_buf b;
		kp_err rc;

		skip_ws(r);
		if (*nseg == nmax)
			return fail(r, "key with too many parts");
		kp_buf_init(&b, 4096);
		if ((rc = key_seg(r, &b))) {
			kp_buf_free(&b);
			return rc;
		}
		segs[(*nseg)++] = kp_buf_take(&b);
		if (!segs[*nseg - 1])
			return kp_errf(r->eb, KP_ERR_NOMEM, "out of memory");
		skip_ws(r);
		if (r->s < r->end && *r->s == '.') {
			r->s++;
			continue;
		}
		return KP_OK;
	}
}

static void segs_free(char **segs, int n)
{
	for (int i = 0; i < n; i++)
		free(segs[i]);
}

/* path + "." + segs[0..n) */
static char *join(const char *path, char **segs, int n)
{
	struct kp_buf b;

	kp_buf_init(&b, 1u << 16);
	kp_buf_addstr(&b, path);
	for (int i = 0; i < n; i++) {
		if (b.len)
			kp_buf_addstr(&b, ".");
		kp_buf_addstr(&b, segs[i]);
	}
	return kp_buf_take(&b);
}

/* Skips one value starting at r->s (its extent only). */
static kp_err value_skip(struct rd *r, int depth)
{
	if (depth > TOML_MAX_DEPTH)
		return fail(r, "values nested too deep");
	if (r->s >= r->end)
		return fail(r, "expected a value");
	if (r->end - r->s >= 3 && (memcmp(r->s, "\"\"\"", 3) == 0 || memcmp(r->s, "'''", 3) == 0)) {
		char q = *r->s;

		r->s += 3;
		for (;;) {
			if (r->s >= r->end)
				return fail(r, "unterminated multi-line string");
			if (q == '"' && *r->s == '\\') {
				r->s++;
				if (r->s < r->end && *r->s == '\n')
					r->line++;
				if (r->s < r->end)
					r->s++;
				continue;
			}
			if (r->end - r->s >= 3 && r->s[0] == q && r->s[1] == q && r->s[2] == q) {
				r->s += 3;
				/* up to two more quotes belong to the content */
				for (int k = 0; k < 2 && r->s < r->end && *r->s == q; k++)
					r->s++;
				return KP_OK;
			}
			r->line += *r->s == '\n';
			r->s++;
		}
	}
	if (*r->s == '"' || *r->s == '\'') {
		char q = *r->s++;

		for (; r->s < r->end && *r->s != q; r->s++) {
			if (*r->s == '\n' || *r->s == '\r')
				return fail(r, "newline in a string");
			if (q == '"' && *r->s == '\\' && r->s + 1 < r->end && r->s[1] != '\n')
				r->s++;
		}
		if (r->s >= r->end)
			return fail(r, "unterminated string");
		r->s++;
		return KP_OK;
	}
	if (*r->s == '[') {
		r->s++;
		for (;;) {
			kp_err rc;

			skip_all(r);
			if (r->s < r->end && *r->s == ']') {
				r->s++;
				return KP_OK;
			}
			if ((rc = value_skip(r, depth + 1)))
				return rc;
			skip_all(r);
			if (r->s < r->end && *r->s == ',') {
				r->s++;
				continue;
			}
			if (r->s < r->end && *r->s == ']') {
				r->s++;
				return KP_OK;
			}
			return fail(r, "expected , or ] in an array");
		}
	}
	if (*r->s == '{') {
		r->s++;
		skip_ws(r);
		if (r->s < r->end && *r->s == '}') {
			r->s++;
			return KP_OK;
		}
		for (;;) {
			char *segs[16];
			int nseg;
			kp_err rc = key_path(r, segs, 16, &nseg);

			segs_free(segs, nseg);
			if (rc)
				return rc;
			if (r->s >= r->end || *r->s != '=')
				return fail(r, "expected = in an inline table");
			r->s++;
			skip_ws(r);
			if ((rc = value_skip(r, depth + 1)))
				return rc;
			skip_ws(r);
			if (r->s < r->end && *r->s == ',') {
				r->s++;
				continue;
			}
			if (r->s < r->end && *r->s == '}') {
				r->s++;
				return KP_OK;
			}
			return fail(r, "expected , or } in an inline table");
		}
	}
	{
		/* numbers, booleans, dates ("1979-05-27 07:32:00Z": one space allowed after a date) */
		const char *b = r->s;

		while (r->s < r->end && (bare_ch(*r->s) || *r->s == '+' || *r->s == '.' || *r->s == ':'))
			r->s++;
		if (r->s - b == 10 && b[4] == '-' && b[7] == '-' && r->end - r->s >= 2 && *r->s == ' ' && r->s[1] >= '0' &&
		    r->s[1] <= '9') {
			r->s++;
			while (r->s < r->end && (bare_ch(*r->s) || *r->s == '+' || *r->s == '.' || *r->s == ':'))
				r->s++;
		}
		if (r->s == b)
			return fail(r, "expected a value");
		return KP_OK;
	}
}

static kp_err entry_into(struct kp_aws_toml *d, const char *path, char **segs, int nseg, struct rd *r, int depth);

/* The pairs of an inline table at r->s ('{') into table path. */
static kp_err inline_into(struct kp_aws_toml *d, const char *path, struct rd *r, int depth)
{
	struct table *t;

	if (depth > TOML_MAX_DEPTH)
		return fail(r, "values nested too deep");
	if (!(t = table_add(d, path, false)))
		return kp_errf(r->eb, KP_ERR_NOMEM, "out of memory");
	t->explicit_ = true;              /* `a = {}` still defines a */
	r->s++;
	skip_ws(r);
	if (r->s < r->end && *r->s == '}') {
		r->s++;
		return KP_OK;
	}
	for (;;) {
		char *segs[16];
		int nseg;
		kp_err rc = key_path(r, segs, 16, &nseg);

		if (!rc && (r->s >= r->end || *r->s != '='))
			rc = fail(r, "expected = in an inline table");
		if (!rc) {
			r->s++;
			skip_ws(r);
			rc = entry_into(d, path, segs, nseg, r, depth + 1);
		}
		segs_free(segs, nseg);
		if (rc)
			return rc;
		skip_ws(r);
		if (r->s < r->end && *r->s == ',') {
			r->s++;
			skip_ws(r);
			continue;
		}
		if (r->s < r->end && *r->s == '}') {
			r->s++;
			return KP_OK;
		}
		return fail(r, "expected , or } in an inline table");
	}
}

/* The value at r->s for key segs under table path: dotted keys and inline
 * tables become sub-tables. */
static kp_err entry_into(struct kp_aws_toml *d, const char *path, char **segs, int nseg, struct rd *r, int depth)
{
	char *tp = join(path, segs, nseg - 1);
	struct table *t;
	const char *b = r->s;
	kp_err rc;

	if (!tp)
		return kp_errf(r->eb, KP_ERR_NOMEM, "out of memory");
	if (r->s < r->end && *r->s == '{') {
		char *sub = join(tp, segs + nseg - 1, 1);

		free(tp);
		if (!sub)
			return kp_errf(r->eb, KP_ERR_NOMEM, "out of memory");
		rc = inline_into(d, sub, r, depth);
		free(sub);
		return rc;
	}
	rc = value_skip(r, depth);
	if (!rc && !(t = table_add(d, tp, false)))
		rc = kp_errf(r->eb, KP_ERR_NOMEM, "out of memory");
	if (!rc && entry_set(t, strdup(segs[nseg - 1]), dupn(b, (size_t)(r->s - b))))
		rc = kp_errf(r->eb, KP_ERR_NOMEM, "out of memory");
	free(tp);
	return rc;
}

void kp_aws_toml_free(struct kp_aws_toml *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->n; i++) {
		for (int j = 0; j < d->t[i].n; j++) {
			free(d->t[i].e[j].key);
			free(d->t[i].e[j].raw);
		}
		free(d->t[i].e);
		free(d->t[i].path);
	}
	free(d->t);
	free(d);
}

kp_err kp_aws_toml_parse(const char *text, size_t len, struct kp_aws_toml **out, struct kp_errbuf *eb)
{
	struct kp_aws_toml *d = calloc(1, sizeof(*d));
	struct rd r = { text, text + len, eb, 1 };
	int cur = 0;                      /* index of the current table */
	kp_err rc = KP_OK;

	*out = NULL;
	if (!d || !table_add(d, "", false)) {
		kp_aws_toml_free(d);
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	}
	if (memchr(text, 0, len)) {
		kp_aws_toml_free(d);
		return kp_errf(eb, KP_ERR_INVALID, "userData TOML: NUL byte");
	}
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		r.s += 3;
	while (!rc && r.s < r.end) {
		char *segs[16];
		int nseg = 0;

		skip_ws(&r);
		if (r.s >= r.end)
			break;
		if (*r.s == '#' || *r.s == '\n' || *r.s == '\r') {
			rc = end_of_line(&r);
			continue;
		}
		if (*r.s == '[') {
			bool array = r.end - r.s >= 2 && r.s[1] == '[';
			struct table *t;
			char *path;

			r.s += array ? 2 : 1;
			if ((rc = key_path(&r, segs, 16, &nseg))) {
				segs_free(segs, nseg);
				break;
			}
			if (r.end - r.s < (array ? 2 : 1) || *r.s != ']' || (array && r.s[1] != ']')) {
				segs_free(segs, nseg);
				rc = fail(&r, array ? "expected ]] after a table name" : "expected ] after a table name");
				break;
			}
			r.s += array ? 2 : 1;
			path = join("", segs, nseg);
			segs_free(segs, nseg);
			t = path ? table_add(d, path, array) : NULL;
			free(path);
			if (!t) {
				rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
				break;
			}
			t->explicit_ = true;
			cur = (int)(t - d->t);
			rc = end_of_line(&r);
			continue;
		}
		if ((rc = key_path(&r, segs, 16, &nseg))) {
			segs_free(segs, nseg);
			break;
		}
		if (r.s >= r.end || *r.s != '=') {
			segs_free(segs, nseg);
			rc = fail(&r, "expected = after a key");
			break;
		}
		r.s++;
		skip_ws(&r);
		if (d->t[cur].array) {
			/* an element of an array of tables: kept as written */
			char *key = join("", segs, nseg);
			const char *b = r.s;

			if (!(rc = value_skip(&r, 0)) && entry_set(&d->t[cur], key, dupn(b, (size_t)(r.s - b))))
				rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
			else if (rc)
				free(key);
		} else {
			char *path = strdup(d->t[cur].path);

			rc = path ? entry_into(d, path, segs, nseg, &r, 0) : kp_errf(eb, KP_ERR_NOMEM, "out of memory");
			free(path);
		}
		segs_free(segs, nseg);
		if (!rc)
			rc = end_of_line(&r);
	}
	if (rc) {
		kp_aws_toml_free(d);
		return rc;
	}
	*out = d;
	return KP_OK;
}

/* Encodes one key segment: bare when it can be, else a basic string. */
static void enc_seg(struct kp_buf *b, const char *k)
{
	bool bare = *k != 0;

	for (const char *p = k; *p; p++)
		bare &= bare_ch(*p);
	if (bare) {
		kp_buf_addstr(b, k);
		return;
	}
	kp_buf_addstr(b, "\"");
	for (const char *p = k; *p; p++) {
		if (*p == '"' || *p == '\\')
			kp_buf_printf(b, "\\%c", *p);
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			kp_buf_printf(b, "\\u%04x", (unsigned char)*p);
		else
			kp_buf_printf(b, "%c", *p);
	}
	kp_buf_addstr(b, "\"");
}

static char *enc(const char *k)
{
	struct kp_buf b;

	kp_buf_init(&b, 1u << 16);
	enc_seg(&b, k);
	return kp_buf_take(&b);
}

kp_err kp_aws_toml_set(struct kp_aws_toml *d, const char *const *table, int ntable, const char *key, const char *raw)
{
	char *segs[16];
	char *path = NULL, *parent = NULL;
	struct table *t;
	kp_err rc = KP_ERR_NOMEM;

	if (ntable > 16)
		return KP_ERR_INVALID;
	for (int i = 0; i < ntable; i++)
		segs[i] = enc(table[i]);
	for (int i = 0; i < ntable; i++)
		if (!segs[i])
			goto out;
	path = join("", segs, ntable);
	parent = join("", segs, ntable > 0 ? ntable - 1 : 0);
	if (!path || !parent)
		goto out;
	/* a scalar where the table goes would define it twice */
	if (ntable > 0 && (t = table_find(d, parent)))
		entry_del(t, segs[ntable - 1]);
	if ((t = table_add(d, path, false)))
		rc = entry_set(t, enc(key), strdup(raw));
out:
	segs_free(segs, ntable);
	free(path);
	free(parent);
	return rc;
}

char *kp_aws_toml_emit(const struct kp_aws_toml *d)
{
	struct kp_buf b;

	kp_buf_init(&b, 1u << 22);
	for (int i = 0; i < d->n; i++) {
		const struct table *t = &d->t[i];

		if (i > 0 && !t->n && !t->explicit_)
			continue;
		if (i > 0)
			kp_buf_printf(&b, "%s%s%s%s\n", b.len ? "\n" : "", t->array ? "[[" : "[", t->path, t->array ? "]]" : "]");
		for (int j = 0; j < t->n; j++)
			kp_buf_printf(&b, "%s = %s\n", t->e[j].key, t->e[j].raw);
	}
	return kp_buf_take(&b);
}
