/*
 * yaml.c - libyaml events to the loader's document tree, one document at a
 * time, plus the tree accessors every decoder uses.
 *
 * The builder keeps one value stack: a container's children are the entries
 * pushed since it started; when it ends they are copied into the scratch
 * arena as its item or pair array. Plain scalars are typed with YAML 1.1 rules
 * as gopkg.in/yaml.v2 (and so kubectl) resolves them; quoted scalars are
 * strings. Anchors register finished nodes and aliases share them, so the
 * tree is a DAG; "<<" merge keys are applied when a mapping ends.
 *
 * Invariants: nesting depth <= KP_LOAD_MAX_DEPTH; a document's node count,
 * counting every alias as the size of what it names, <= KP_LOAD_MAX_NODES,
 * which bounds the work of anything that walks the tree (alias bombs fail
 * here instead of hanging a decoder); keys of a mapping are unique scalars.
 * Documents in the plain subset of YAML that manifests use are read by
 * yaml_fast.c instead, into the same tree; libyaml takes over from the
 * first document that is not (and reports every syntax error).
 *
 * Cost: O(bytes + nodes); duplicate-key checks sort keys of large mappings.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "load/internal.h"

struct frame {
	uint8_t type;                   /* KP_LN_SEQ or KP_LN_MAP */
	uint32_t line, col;
	size_t base;                    /* first child in the value stack */
	uint64_t cost0;                 /* node count before this container */
	const char *anchor;             /* registered when the container ends */
};

struct anchor {
	const char *name;
	struct kp_load_node *node;
	uint64_t cost;                  /* nodes in the subtree, aliases expanded */
};

struct builder {
	const char *name;               /* file name for messages */
	struct kp_arena *tmp;
	struct kp_errbuf *eb;
	struct kp_load_node **stack;    /* malloc'ed value stack */
	size_t nstack, capstack;
	struct frame frames[KP_LOAD_MAX_DEPTH];
	int depth;
	struct anchor *anchors;         /* malloc'ed */
	int nanchors, capanchors;
	uint64_t cost;
	struct kp_load_node *root;
	uint32_t line0;                 /* lines before the part libyaml reads (marks are relative) */
};

/* ---- scalar resolution ---- */

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static bool all_digits(const char *s, int base)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		int c = *s, v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return false;
		if (v >= base)
			return false;
	}
	return true;
}

/* YAML 1.1 integer as yaml.v2 reads it (underscores dropped, 0x/0o/0b and
 * leading-zero octal). False if s is not an integer or does not fit. */
static bool resolve_int(const char *s, int64_t *out)
{
	char buf[80];
	size_t n = 0;
	const char *p = s;
	bool neg = false;
	int base = 10;
	unsigned long long v;
	char *end;

	for (; *p; p++) {
		if (*p == '_')
			continue;
		if (n + 1 >= sizeof(buf))
			return false;
		buf[n++] = *p;
	}
	buf[n] = '\0';
	p = buf;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
		base = 8;
		p += 2;
	} else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
		base = 2;
		p += 2;
	} else if (p[0] == '0' && p[1]) {
		base = 8;
		p += 1;
	}
	if (!all_digits(p, base))
		return false;
	errno = 0;
	v = strtoull(p, &end, base);
	if (errno == ERANGE || *end)
		return false;
	if (neg) {
		if (v > (unsigned long long)INT64_MAX + 1)
			return false;
		*out = v == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (unsigned long long)INT64_MAX)
			return false;
		*out = (int64_t)v;
	}
	return true;
}

/* [-+]?(digits(.digits*)?|.digits)([eE][-+]?digits)? */
static bool looks_float(const char *s)
{
	const char *p = s;
	bool digits = false;

	if (*p == '+' || *p == '-')
		p++;
	while (*p >= '0' && *p <= '9') {
		p++;
		digits = true;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* Types a plain scalar; its text stays as written, so a string field gets
 * what the user typed (`name: no` is "no", not "false"). */
void kp_load_resolve_plain(struct kp_load_node *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const trues[] = { "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
					     "on", "On", "ON", NULL };
	static const char *const falses[] = { "n", "N", "no", "No", "NO", "false", "False",
					      "FALSE", "off", "Off", "OFF", NULL };
	static const char *const infs[] = { ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL };
	static const char *const ninfs[] = { "-.inf", "-.Inf", "-.INF", NULL };
	static const char *const nans[] = { ".nan", ".NaN", ".NAN", NULL };
	const char *s = n->s;
	int64_t iv;

	n->type = KP_LN_STR;
	/* Every null and boolean spelling is at most 5 bytes long and starts
	 * with one of these; most strings skip the table lookups. */
	if (strlen(s) <= 5 && strchr("~nNyYtTfFoO", s[0]) && in_list(s, nulls)) {
		n->type = KP_LN_NULL;
	} else if (s[0] && strlen(s) <= 5 && strchr("yYtToO", s[0]) && in_list(s, trues)) {
		n->type = KP_LN_BOOL;
		n->u.b = true;
	} else if (s[0] && strlen(s) <= 5 && strchr("nNfFoO", s[0]) && in_list(s, falses)) {
		n->type = KP_LN_BOOL;
		n->u.b = false;
	} else if (s[0] && strchr("+-.0123456789", s[0])) {
		if (resolve_int(s, &iv)) {
			n->type = KP_LN_INT;
			n->u.i = iv;
		} else if (looks_float(s)) {
			n->type = KP_LN_FLOAT;
			n->u.f = strtod(s, NULL);
		} else if (in_list(s, infs)) {
			n->type = KP_LN_FLOAT;
			n->u.f = HUGE_VAL;
		} else if (in_list(s, ninfs)) {
			n->type = KP_LN_FLOAT;
			n->u.f = -HUGE_VAL;
		} else if (in_list(s, nans)) {
			n->type = KP_LN_FLOAT;
			n->u.f = NAN;
		}
	}
}

/* ---- builder ---- */

static kp_err b_fail(struct builder *b, const yaml_mark_t *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static kp_err b_fail(struct builder *b, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kp_errf(b->eb, KP_ERR_INVALID, "%s:%lu:%lu: yaml: %s", b->name,
		       (unsigned long)m->line + 1 + b->line0, (unsigned long)m->column + 1, msg);
}

static kp_err b_push(struct builder *b, struct kp_load_node *n)
{
	if (b->nstack == b->capstack) {
		size_t cap = b->capstack ? b->capstack * 2 : 256;
		struct kp_load_node **s = realloc(b->stack, cap * sizeof(*s));
		if (!s)
			return kp_errf(b->eb, KP_ERR_NOMEM, "%s: out of memory", b->name);
		b->stack = s;
		b->capstack = cap;
	}
	b->stack[b->nstack++] = n;
	return KP_OK;
}

static kp_err b_count(struct builder *b, uint64_t add, const yaml_mark_t *m)
{
	b->cost += add;
	if (b->cost > KP_LOAD_MAX_NODES)
		return b_fail(b, m, "document too large: more than %u values (counting aliases expanded)",
			      (unsigned)KP_LOAD_MAX_NODES);
	return KP_OK;
}

static kp_err b_anchor(struct builder *b, const char *name, struct kp_load_node *n, uint64_t cost,
		       const yaml_mark_t *m)
{
	if (b->nanchors == KP_LOAD_MAX_ANCHORS)
		return b_fail(b, m, "more than %d anchors in one document", KP_LOAD_MAX_ANCHORS);
	if (b->nanchors == b->capanchors) {
		int cap = b->capanchors ? b->capanchors * 2 : 16;
		struct anchor *a = realloc(b->anchors, (size_t)cap * sizeof(*a));
		if (!a)
			return kp_errf(b->eb, KP_ERR_NOMEM, "%s: out of memory", b->name);
		b->anchors = a;
		b->capanchors = cap;
	}
	b->anchors[b->nanchors].name = name;
	b->anchors[b->nanchors].node = n;
	b->anchors[b->nanchors].cost = cost;
	b->nanchors++;
	return KP_OK;
}

/* True when the next value pushed in the current frame is a mapping key. */
static bool b_at_key(const struct builder *b)
{
	const struct frame *f;

	if (b->depth == 0)
		return false;
	f = &b->frames[b->depth - 1];
	return f->type == KP_LN_MAP && (b->nstack - f->base) % 2 == 0;
}

/* A value is complete: attach it to the enclosing container or make it the root. */
static kp_err b_value(struct builder *b, struct kp_load_node *n, const yaml_mark_t *m)
{
	if (b_at_key(b) && n->type >= KP_LN_SEQ)
		return b_fail(b, m, "mapping keys must be scalars");
	if (b->depth == 0) {
		b->root = n;
		return KP_OK;
	}
	return b_push(b, n);
}

static int cmp_key(const void *x, const void *y)
{
	const struct kp_load_pair *a = x, *b = y;
	return strcmp(a->key, b->key);
}

static bool pairs_have(const struct kp_load_pair *p, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(p[i].key, key) == 0)
			return true;
	return false;
}

/* First duplicate key of p[0..n), or NULL. */
static const char *dup_key(const struct kp_load_pair *p, size_t n, struct kp_arena *tmp)
{
	struct kp_load_pair *s;

	if (n <= 16) {
		for (size_t i = 1; i < n; i++)
			if (pairs_have(p, i, p[i].key))
				return p[i].key;
		return NULL;
	}
	s = kp_arena_memdup(tmp, p, n * sizeof(*p));
	if (!s)
		return NULL;
	qsort(s, n, sizeof(*s), cmp_key);
	for (size_t i = 1; i < n; i++)
		if (strcmp(s[i - 1].key, s[i].key) == 0)
			return s[i].key;
	return NULL;
}

static kp_err b_end_map(struct builder *b, struct frame *f, const yaml_mark_t *m,
			struct kp_load_node *n)
{
	size_t nkv = (b->nstack - f->base) / 2, nexp = 0, nmerge = 0, total;
	/* b->stack is NULL until the first push: no pointer arithmetic on it
	 * for an empty mapping ({} is NULL + 0 otherwise) */
	struct kp_load_node **kv = nkv ? b->stack + f->base : NULL;
	struct kp_load_pair *pairs;
	const char *dup;

	/* Merge sources ("<<": a mapping or a list of mappings) add their
	 * keys after the explicit ones; earlier sources win. */
	for (size_t i = 0; i < nkv; i++) {
		const struct kp_load_node *k = kv[2 * i], *v = kv[2 * i + 1];
		if (!(k->plain && strcmp(k->s, "<<") == 0)) {
			nexp++;
			continue;
		}
		if (v->type == KP_LN_MAP) {
			nmerge += v->n;
		} else if (v->type == KP_LN_SEQ) {
			for (uint32_t j = 0; j < v->n; j++) {
				if (v->u.items[j]->type != KP_LN_MAP)
					return b_fail(b, m, "merge key \"<<\" needs a mapping or a list of mappings");
				nmerge += v->u.items[j]->n;
			}
		} else {
			return b_fail(b, m, "merge key \"<<\" needs a mapping or a list of mappings");
		}
	}
	/* merging is quadratic; real manifests merge a handful of keys */
	if (nmerge > 4096 || (uint64_t)(nexp + nmerge) * nmerge > (1u << 24))
		return b_fail(b, m, "merge keys: mapping too large to merge (at most 4096 merged keys)");
	pairs = kp_arena_calloc(b->tmp, nexp + nmerge ? nexp + nmerge : 1, sizeof(*pairs));
	if (!pairs)
		return kp_errf(b->eb, KP_ERR_NOMEM, "%s: out of memory", b->name);
	total = 0;
	for (size_t i = 0; i < nkv; i++) {
		const struct kp_load_node *k = kv[2 * i];
		if (k->plain && strcmp(k->s, "<<") == 0)
			continue;
		pairs[total].key = k->s;
		pairs[total].val = kv[2 * i + 1];
		total++;
	}
	dup = dup_key(pairs, total, b->tmp);
	if (dup) {
		yaml_mark_t at = *m;
		char q[96];
		/* point at the second occurrence */
		for (size_t i = 0, seen = 0; i < nkv; i++) {
			const struct kp_load_node *k = kv[2 * i];
			if (strcmp(k->s, dup) == 0 && seen++ == 1 && k->line) {
				at.line = k->line - 1 - b->line0;
				at.column = k->col ? k->col - 1 : 0;
				break;
			}
		}
		return b_fail(b, &at, "mapping has duplicate key %s", kp_load_quote(dup, q, sizeof(q)));
	}
	for (size_t i = 0; i < nkv && nmerge; i++) {
		const struct kp_load_node *k = kv[2 * i], *v = kv[2 * i + 1];
		size_t nsrc = v->type == KP_LN_MAP ? 1 : v->n;
		if (!(k->plain && strcmp(k->s, "<<") == 0))
			continue;
		for (size_t j = 0; j < nsrc; j++) {
			const struct kp_load_node *src = v->type == KP_LN_MAP ? v : v->u.items[j];
			for (uint32_t q = 0; q < src->n; q++) {
				if (pairs_have(pairs, total, src->u.pairs[q].key))
					continue;
				pairs[total++] = src->u.pairs[q];
			}
		}
	}
	n->n = (uint32_t)total;
	n->u.pairs = pairs;
	return KP_OK;
}

static kp_err b_start(struct builder *b, uint8_t type, const yaml_mark_t *m, const yaml_char_t *anchor)
{
	struct frame *f;
	kp_err rc;

	if (b_at_key(b))
		return b_fail(b, m, "mapping keys must be scalars");
	if (b->depth == KP_LOAD_MAX_DEPTH)
		return b_fail(b, m, "nesting deeper than %d levels", KP_LOAD_MAX_DEPTH);
	rc = b_count(b, 1, m);
	if (rc)
		return rc;
	f = &b->frames[b->depth++];
	f->type = type;
	f->line = (uint32_t)m->line + 1 + b->line0;
	f->col = (uint32_t)m->column + 1;
	f->base = b->nstack;
	f->cost0 = b->cost - 1;
	f->anchor = NULL;
	if (anchor) {
		f->anchor = kp_arena_strdup(b->tmp, (const char *)anchor);
		if (!f->anchor)
			return kp_errf(b->eb, KP_ERR_NOMEM, "%s: out of memory", b->name);
	}
	return KP_OK;
}

static kp_err b_end(struct builder *b, const yaml_mark_t *m)
{
	struct frame *f = &b->frames[--b->depth];
	struct kp_load_node *n = kp_arena_alloc(b->tmp, sizeof(*n));
	size_t count = b->nstack - f->base;
	kp_err rc;

	if (!n)
		return kp_errf(b->eb, KP_ERR_NOMEM, "%s: out of memory", b->name);
	n->type = f->type;
	n->line = f->line;
	n->col = f->col;
	if (f->type == KP_LN_SEQ) {
		/* an empty sequence copies nothing: the stack may be NULL ([] as
		 * the first value) or full (its slot past the end unallocated) */
		n->n = (uint32_t)count;
		n->u.items = kp_arena_calloc(b->tmp, count ? count : 1, sizeof(*n->u.items));
		if (!n->u.items)
			return kp_errf(b->eb, KP_ERR_NOMEM, "%s: out of memory", b->name);
		if (count)
			memcpy(n->u.items, b->stack + f->base, count * sizeof(*n->u.items));
	} else {
		rc = b_end_map(b, f, m, n);
		if (rc)
			return rc;
	}
	b->nstack = f->base;
	if (f->anchor) {
		rc = b_anchor(b, f->anchor, n, b->cost - f->cost0, m);
		if (rc)
			return rc;
	}
	return b_value(b, n, m);
}

static kp_err b_scalar(struct builder *b, const yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	const char *tag = (const char *)ev->data.scalar.tag;
	size_t len = ev->data.scalar.length;
	struct kp_load_node *n;
	kp_err rc;

	rc = b_count(b, 1, m);
	if (rc)
		return rc;
	if (memchr(ev->data.scalar.value, '\0', len))
		return b_fail(b, m, "NUL character in a scalar");
	n = kp_arena_alloc(b->tmp, sizeof(*n));
	if (!n || !(n->s = kp_arena_strndup(b->tmp, (const char *)ev->data.scalar.value, len)))
		return kp_errf(b->eb, KP_ERR_NOMEM, "%s: out of memory", b->name);
	n->line = (uint32_t)m->line + 1 + b->line0;
	n->col = (uint32_t)m->column + 1;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	n->type = KP_LN_STR;
	if (tag && (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "!") == 0 ||
		    strcmp(tag, "tag:yaml.org,2002:binary") == 0)) {
		n->plain = false;
	} else if (n->plain || (tag && strncmp(tag, "tag:yaml.org,2002:", 18) == 0)) {
		kp_load_resolve_plain(n);
	}
	if (ev->data.scalar.anchor) {
		const char *a = kp_arena_strdup(b->tmp, (const char *)ev->data.scalar.anchor);
		if (!a)
			return kp_errf(b->eb, KP_ERR_NOMEM, "%s: out of memory", b->name);
		rc = b_anchor(b, a, n, 1, m);
		if (rc)
			return rc;
	}
	return b_value(b, n, m);
}

static kp_err b_alias(struct builder *b, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	const yaml_mark_t *m = &ev->start_mark;
	char q[96];
	kp_err rc;

	for (int i = b->nanchors - 1; i >= 0; i--) {
		if (strcmp(b->anchors[i].name, name) != 0)
			continue;
		rc = b_count(b, b->anchors[i].cost, m);
		if (rc)
			return rc;
		return b_value(b, b->anchors[i].node, m);
	}
	return b_fail(b, m, "unknown anchor %s", kp_load_quote(name, q, sizeof(q)));
}

void kp_load_offset_pos(const char *data, size_t len, size_t off, unsigned long *line,
			unsigned long *col)
{
	unsigned long l = 1, c = 1;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		if (data[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)data[i] & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

/* Byte at (line, column) as libyaml counts them (0-based, columns in characters). */
static int char_at(const char *data, size_t len, size_t line, size_t column)
{
	size_t i = 0, l = 0, c = 0;

	while (i < len && l < line) {
		if (data[i++] == '\n')
			l++;
	}
	while (i < len && c < column && data[i] != '\n') {
		i++;
		while (i < len && ((unsigned char)data[i] & 0xC0) == 0x80)
			i++;
		c++;
	}
	return i < len ? (unsigned char)data[i] : -1;
}

/* data, len: the whole stream; libyaml read it from byte off (line b->line0). */
static kp_err parser_error(struct builder *b, const yaml_parser_t *p, const char *data, size_t len, size_t off)
{
	const char *problem = p->problem ? p->problem : "syntax error";
	unsigned long line, col;

	if (p->error == YAML_MEMORY_ERROR)
		return kp_errf(b->eb, KP_ERR_NOMEM, "%s: yaml: out of memory", b->name);
	if (p->error == YAML_READER_ERROR) {
		kp_load_offset_pos(data, len, p->problem_offset + off, &line, &col);
		if (p->problem_value != -1)
			return kp_errf(b->eb, KP_ERR_INVALID, "%s:%lu:%lu: yaml: %s (byte 0x%02x): not UTF-8 text",
				       b->name, line, col, problem, (unsigned)p->problem_value & 0xff);
		return kp_errf(b->eb, KP_ERR_INVALID, "%s:%lu:%lu: yaml: %s", b->name, line, col, problem);
	}
	line = (unsigned long)p->problem_mark.line + 1 + b->line0;
	col = (unsigned long)p->problem_mark.column + 1;
	if (p->error == YAML_SCANNER_ERROR &&
	    char_at(data, len, p->problem_mark.line + b->line0, p->problem_mark.column) == '\t')
		return kp_errf(b->eb, KP_ERR_INVALID,
			       "%s:%lu:%lu: yaml: found a tab character where indentation or a value "
			       "was expected (indent with spaces, not tabs)", b->name, line, col);
	if (p->context && p->context_mark.line != p->problem_mark.line)
		return kp_errf(b->eb, KP_ERR_INVALID, "%s:%lu:%lu: yaml: %s %s that started at line %lu",
			       b->name, line, col, problem, p->context,
			       (unsigned long)p->context_mark.line + 1 + b->line0);
	if (p->context)
		return kp_errf(b->eb, KP_ERR_INVALID, "%s:%lu:%lu: yaml: %s %s", b->name, line, col,
			       problem, p->context);
	return kp_errf(b->eb, KP_ERR_INVALID, "%s:%lu:%lu: yaml: %s", b->name, line, col, problem);
}

/* libyaml reads the stream from byte off, the start of a line (line0,
 * 0-based), after docno documents: every line reported is counted from the
 * start of the stream. */
static kp_err parse_libyaml(const char *name, const char *data, size_t len, size_t off, uint32_t line0,
			    int docno, struct kp_arena *tmp, kp_load_doc_fn fn, void *ctx, struct kp_errbuf *eb)
{
	struct builder b;
	struct kp_arena_mark mark = kp_arena_mark(tmp);
	yaml_parser_t p;
	uint32_t docline = 0;
	kp_err rc = KP_OK;
	bool done = false;

	memset(&b, 0, sizeof(b));
	b.name = name;
	b.tmp = tmp;
	b.eb = eb;
	b.line0 = line0;
	if (!yaml_parser_initialize(&p))
		return kp_errf(eb, KP_ERR_NOMEM, "%s: yaml: out of memory", name);
	yaml_parser_set_input_string(&p, (const unsigned char *)data + off, len - off);
	while (!done && !rc) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&p, &ev)) {
			rc = parser_error(&b, &p, data, len, off);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			docno++;
			docline = (uint32_t)ev.start_mark.line + 1 + line0;
			b.root = NULL;
			b.cost = 0;
			b.nanchors = 0;
			break;
		case YAML_DOCUMENT_END_EVENT:
			rc = fn(ctx, b.root, docno, b.root && b.root->line ? b.root->line : docline, eb);
			b.root = NULL;
			b.nanchors = 0;
			b.nstack = 0;
			kp_arena_reset(tmp, mark);
			break;
		case YAML_ALIAS_EVENT:
			rc = b_alias(&b, &ev);
			break;
		case YAML_SCALAR_EVENT:
			rc = b_scalar(&b, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = b_start(&b, KP_LN_SEQ, &ev.start_mark, ev.data.sequence_start.anchor);
			break;
		case YAML_MAPPING_START_EVENT:
			rc = b_start(&b, KP_LN_MAP, &ev.start_mark, ev.data.mapping_start.anchor);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			rc = b_end(&b, &ev.start_mark);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	free(b.stack);
	free(b.anchors);
	kp_arena_reset(tmp, mark);
	return rc;
}

kp_err kp_load_parse_yaml_ex(const char *name, const char *data, size_t len, struct kp_arena *tmp,
			     kp_load_doc_fn fn, void *ctx, struct kp_errbuf *eb, bool fast)
{
	size_t off = 0;
	uint32_t line0 = 0;
	int docno = 0;
	kp_err rc;

	if (fast) {
		rc = kp_load_fast_yaml(name, data, len, tmp, fn, ctx, eb, &off, &line0, &docno);
		if (rc || off >= len)
			return rc;
	}
	return parse_libyaml(name, data, len, off, line0, docno, tmp, fn, ctx, eb);
}

kp_err kp_load_parse_yaml(const char *name, const char *data, size_t len, struct kp_arena *tmp,
			  kp_load_doc_fn fn, void *ctx, struct kp_errbuf *eb)
{
	return kp_load_parse_yaml_ex(name, data, len, tmp, fn, ctx, eb, true);
}

kp_err kp_load_parse_stream(const char *name, const char *data, size_t len, struct kp_arena *tmp,
			    kp_load_doc_fn fn, void *ctx, struct kp_errbuf *eb)
{
	size_t i = 0;

	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	if (i < len && data[i] == '{')
		return kp_load_parse_json(name, data, len, tmp, fn, ctx, eb);
	return kp_load_parse_yaml(name, data, len, tmp, fn, ctx, eb);
}

/* ---- tree access ---- */

const struct kp_load_node *kp_load_get(const struct kp_load_node *n, const char *key)
{
	if (!n || n->type != KP_LN_MAP)
		return NULL;
	for (uint32_t i = 0; i < n->n; i++) {
		const char *k = n->u.pairs[i].key;
		if (k[0] == key[0] && strcmp(k, key) == 0) {
			const struct kp_load_node *v = n->u.pairs[i].val;
			return v->type == KP_LN_NULL ? NULL : v;
		}
	}
	return NULL;
}

const char *kp_load_type_name(const struct kp_load_node *n)
{
	switch (n ? n->type : KP_LN_NULL) {
	case KP_LN_NULL: return "null";
	case KP_LN_BOOL: return "a boolean";
	case KP_LN_INT: return "an integer";
	case KP_LN_FLOAT: return "a number";
	case KP_LN_STR: return "a string";
	case KP_LN_SEQ: return "a list";
	case KP_LN_MAP: return "a mapping";
	}
	return "a value";
}
