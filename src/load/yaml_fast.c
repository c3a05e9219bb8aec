/*
 * yaml_fast.c - a fast reader for the plain subset of YAML that generated
 * and hand-written manifests use, falling back to libyaml for everything
 * else, document by document.
 *
 * libyaml costs about 250 instructions per byte (a token and an event per
 * scalar, each malloc'ed); on a 20,000-pod manifest it was half of
 * `simulate`'s time. This reader builds the same document tree (the same
 * nodes, texts, types, lines and columns as yaml.c builds from libyaml's
 * events) straight from the bytes, for documents made only of:
 *   - block mappings and block sequences (also compact "- key: v" and
 *     "- - x", and sequences at their key's indentation), indented with spaces;
 *   - single-line plain scalars, single-line quoted scalars ('' in single
 *     quotes; no escape sequences in double quotes);
 *   - single-line flow mappings and sequences of those;
 *   - comments, blank lines, "---" lines between documents.
 * Anything else - tabs, CR, bytes outside printable ASCII, anchors,
 * aliases, tags, block scalars, multi-line scalars or flow collections,
 * "?" keys, merge keys, directives, empty documents, duplicate keys,
 * documents over the tree caps - makes the document "not ours": the reader
 * stops at that document's first byte and libyaml reads the rest of the
 * stream from there (yaml.c), so every error message, and every document it
 * does not take, is exactly libyaml's. A stream with a "..." line anywhere
 * is libyaml's whole (libyaml cannot resume after one: what may follow it
 * depends on what came before), and so is a stream with any byte other than
 * printable ASCII, tab, LF and CR (libyaml's reader decodes ahead, so a byte
 * it refuses fails the stream before earlier documents are delivered). The subset is chosen so that each
 * document it accepts means the same to libyaml; tests/unit/test_load_fast.c
 * compares both trees on every manifest of the repository.
 *
 * Cost: O(bytes); the tree goes into the scratch arena as in yaml.c.
 */
#include <stdlib.h>
#include <string.h>

#include "load/internal.h"

#define FAST_MAX_KEY 1000       /* libyaml: a simple key spans at most 1024 characters */

struct fast {
	const char *d;
	size_t len;
	size_t i;                   /* cursor */
	size_t bol;                 /* offset of the cursor's line */
	uint32_t line;              /* 0-based line of the cursor */
	struct kp_arena *tmp;
	uint64_t nodes;
	int depth;
	bool nomem;
	struct kp_load_node **stack;   /* malloc'ed: children of open containers */
	size_t nstack, capstack;
};

#define NOT_OURS NULL

static int col_of(const struct fast *f)
{
	return (int)(f->i - f->bol);
}

static int peek(const struct fast *f, size_t k)
{
	return f->i + k < f->len ? (unsigned char)f->d[f->i + k] : -1;
}

/* A byte the subset allows anywhere: printable ASCII. */
static bool printable(int c)
{
	return c >= 0x20 && c < 0x7f;
}

/* End of a token: space, newline or the end. */
static bool blank_or_end(int c)
{
	return c == ' ' || c == '\n' || c == -1;
}

static void skip_spaces(struct fast *f)
{
	while (f->i < f->len && f->d[f->i] == ' ')
		f->i++;
}

/* Skips spaces, comments and line breaks; false on a byte the subset does
 * not allow (tab, CR, ...). */
static bool skip_lines(struct fast *f)
{
	for (;;) {
		int c;

		skip_spaces(f);
		c = peek(f, 0);
		if (c == '#') {
			while (f->i < f->len && f->d[f->i] != '\n') {
				if (!printable((unsigned char)f->d[f->i]))
					return false;
				f->i++;
			}
			continue;
		}
		if (c == '\n') {
			f->i++;
			f->bol = f->i;
			f->line++;
			continue;
		}
		return c == -1 || printable(c);
	}
}

/* At column 0: "---" or "..." followed by a blank (a document marker). */
static bool at_marker(const struct fast *f)
{
	return f->i == f->bol && f->i + 3 <= f->len &&
	       (memcmp(f->d + f->i, "---", 3) == 0 || memcmp(f->d + f->i, "...", 3) == 0) &&
	       blank_or_end(peek(f, 3));
}

/* Column of the next token after skip_lines: -1 at the end or a document
 * marker, -2 when the line starts with "---"/"..." in another way. */
static int tok_col(const struct fast *f)
{
	if (f->i >= f->len || at_marker(f))
		return -1;
	if (f->i == f->bol && f->i + 3 <= f->len &&
	    (memcmp(f->d + f->i, "---", 3) == 0 || memcmp(f->d + f->i, "...", 3) == 0))
		return -2;
	return col_of(f);
}

static struct kp_load_node *new_node(struct fast *f, uint8_t type, uint32_t line, int col)
{
	struct kp_load_node *n;

	if (++f->nodes > KP_LOAD_MAX_NODES)
		return NOT_OURS;
	n = kp_arena_alloc(f->tmp, sizeof(*n));
	if (!n) {
		f->nomem = true;
		return NULL;
	}
	n->type = type;
	n->line = line + 1;
	n->col = (uint32_t)col + 1;
	return n;
}

static bool push(struct fast *f, struct kp_load_node *n)
{
	if (f->nstack == f->capstack) {
		size_t cap = f->capstack ? f->capstack * 2 : 256;
		struct kp_load_node **s = realloc(f->stack, cap * sizeof(*s));
		if (!s) {
			f->nomem = true;
			return false;
		}
		f->stack = s;
		f->capstack = cap;
	}
	f->stack[f->nstack++] = n;
	return true;
}

/* Scalar text [s, s+n) copied into the arena; single-quoted (squote): ''
 * becomes '. */
static struct kp_load_node *scalar(struct fast *f, const char *s, size_t n, bool plain, bool squote,
				   uint32_t line, int col)
{
	struct kp_load_node *node = new_node(f, KP_LN_STR, line, col);
	char *t;

	if (!node)
		return NULL;
	t = kp_arena_alloc(f->tmp, n + 1);
	if (!t) {
		f->nomem = true;
		return NULL;
	}
	if (!squote || !memchr(s, '\'', n)) {
		memcpy(t, s, n);
		t[n] = '\0';
	} else {
		size_t k = 0;
		for (size_t j = 0; j < n; j++) {
			t[k++] = s[j];
			if (s[j] == '\'')
				j++;   /* '' */
		}
		t[k] = '\0';
	}
	node->s = t;
	node->plain = plain;
	if (plain)
		kp_load_resolve_plain(node);
	return node;
}

/* A quoted scalar on one line at the cursor. */
static struct kp_load_node *quoted(struct fast *f)
{
	char q = f->d[f->i];
	size_t start = f->i + 1, j = start;
	uint32_t line = f->line;
	int col = col_of(f);

	for (;;) {
		int c = j < f->len ? (unsigned char)f->d[j] : -1;
		if (c == -1 || !printable(c) || (q == '"' && c == '\\'))
			return NOT_OURS;
		if (c == q) {
			if (q == '\'' && j + 1 < f->len && f->d[j + 1] == '\'') {
				j += 2;
				continue;
			}
			break;
		}
		j++;
	}
	f->i = j + 1;
	return scalar(f, f->d + start, j - start, false, q == '\'', line, col);
}

/* First character of a plain scalar: not an indicator ("-" only before a
 * non-blank). Conservative: refuses a few that YAML would allow. */
static bool plain_start(const struct fast *f)
{
	int c = peek(f, 0);

	if (c == '-')
		return !blank_or_end(peek(f, 1)) && peek(f, 1) != '-';
	return printable(c) && !strchr("?:,[]{}#&*!|>'\"%@`", c);
}

/* A byte that cannot end or stop a plain scalar. */
static bool ordinary(unsigned c)
{
	return c >= 0x20 && c < 0x7f && c != ':' && c != '#' && c != ',' && c != '[' && c != ']' && c != '{' &&
	       c != '}';
}

/* A plain scalar on one line. Block context: ends at ": ", ":" at the end
 * of the line, " #" or the end of the line; flow indicators refused. Flow
 * context: ends at ",", "]", "}", ":" (then only as a key: ": "); "#"
 * refused. *colon tells whether ": " (or ":" at the end of the line) ended
 * it. */
static struct kp_load_node *plain(struct fast *f, bool flow, bool *colon)
{
	size_t start = f->i, j = f->i, end;
	uint32_t line = f->line;
	int col = col_of(f);

	*colon = false;
	for (;;) {
		int c;
		while (j < f->len && ordinary((unsigned char)f->d[j]))
			j++;
		c = j < f->len ? (unsigned char)f->d[j] : -1;
		if (c == -1 || c == '\n')
			break;
		if (!printable(c))
			return NOT_OURS;
		if (c == ':') {
			int nx = j + 1 < f->len ? (unsigned char)f->d[j + 1] : -1;
			if (blank_or_end(nx)) {
				*colon = true;
				break;
			}
			if (flow)
				return NOT_OURS;
		} else if (c == '#') {
			if (flow || f->d[j - 1] == ' ')
				break;   /* flow: refused below; block: a comment */
		} else if (strchr(",[]{}", c)) {
			if (!flow)
				return NOT_OURS;
			break;
		}
		j++;
	}
	if (flow && j < f->len && f->d[j] == '#')
		return NOT_OURS;
	end = j;
	while (end > start && f->d[end - 1] == ' ')
		end--;
	if (end == start || end - start > FAST_MAX_KEY * 64)
		return NOT_OURS;
	f->i = end;
	return scalar(f, f->d + start, end - start, true, false, line, col);
}

/* After a value in block context: spaces, an optional comment, the end of
 * the line. */
static bool end_of_line(struct fast *f)
{
	skip_spaces(f);
	if (peek(f, 0) == '#') {
		if (f->i > 0 && f->d[f->i - 1] != ' ')
			return false;
		return skip_lines(f);
	}
	return peek(f, 0) == '\n' || peek(f, 0) == -1;
}

static struct kp_load_node *flow_node(struct fast *f);

/* Copies the children pushed since base into container n (pairs: key and
 * value alternate); refuses duplicate keys. */
static bool finish(struct fast *f, struct kp_load_node *n, size_t base)
{
	size_t count = f->nstack - base;

	if (n->type == KP_LN_SEQ) {
		n->u.items = kp_arena_calloc(f->tmp, count ? count : 1, sizeof(*n->u.items));
		if (!n->u.items) {
			f->nomem = true;
			return false;
		}
		if (count)   /* the stack is NULL before the first push: no arithmetic on it */
			memcpy(n->u.items, f->stack + base, count * sizeof(*n->u.items));
		n->n = (uint32_t)count;
	} else {
		size_t np = count / 2;
		struct kp_load_pair *p = kp_arena_calloc(f->tmp, np ? np : 1, sizeof(*p));

		if (!p) {
			f->nomem = true;
			return false;
		}
		for (size_t k = 0; k < np; k++) {
			p[k].key = f->stack[base + 2 * k]->s;
			p[k].val = f->stack[base + 2 * k + 1];
			if (f->stack[base + 2 * k]->plain && strcmp(p[k].key, "<<") == 0)
				return false;   /* merge key: libyaml's path applies it */
			for (size_t m = 0; m < k && np <= 64; m++)
				if (strcmp(p[m].key, p[k].key) == 0)
					return false;   /* duplicate: libyaml's path names it */
		}
		if (np > 64) {   /* large mappings: sort a copy */
			struct kp_load_pair *s = kp_arena_memdup(f->tmp, p, np * sizeof(*p));
			if (!s) {
				f->nomem = true;
				return false;
			}
			for (size_t k = 1; k < np; k++) {   /* insertion sort is fine: rare */
				struct kp_load_pair x = s[k];
				size_t m = k;
				while (m > 0 && strcmp(s[m - 1].key, x.key) > 0) {
					s[m] = s[m - 1];
					m--;
				}
				s[m] = x;
			}
			for (size_t k = 1; k < np; k++)
				if (strcmp(s[k - 1].key, s[k].key) == 0)
					return false;
		}
		n->u.pairs = p;
		n->n = (uint32_t)np;
	}
	f->nstack = base;
	return true;
}

/* A flow mapping or sequence on one line at the cursor. */
static struct kp_load_node *flow_coll(struct fast *f)
{
	bool map = f->d[f->i] == '{';
	char close = map ? '}' : ']';
	struct kp_load_node *n = new_node(f, map ? KP_LN_MAP : KP_LN_SEQ, f->line, col_of(f));
	size_t base = f->nstack;

	if (!n || ++f->depth > KP_LOAD_MAX_DEPTH)
		return NOT_OURS;
	f->i++;
	skip_spaces(f);
	if (peek(f, 0) == close) {
		f->i++;
		f->depth--;
		return finish(f, n, base) ? n : NOT_OURS;
	}
	for (;;) {
		struct kp_load_node *v;
		bool colon = false;

		if (map) {
			struct kp_load_node *k;
			if (peek(f, 0) == '"' || peek(f, 0) == '\'') {
				k = quoted(f);
				colon = true;
			} else {
				k = plain_start(f) ? plain(f, true, &colon) : NOT_OURS;
			}
			if (!k || !colon || strlen(k->s) > FAST_MAX_KEY || !push(f, k))
				return NOT_OURS;
			skip_spaces(f);
			if (peek(f, 0) != ':' || !blank_or_end(peek(f, 1)))
				return NOT_OURS;
			f->i++;
			skip_spaces(f);
		}
		v = flow_node(f);
		if (!v || !push(f, v))
			return NOT_OURS;
		skip_spaces(f);
		if (peek(f, 0) == ',') {
			f->i++;
			skip_spaces(f);
			if (peek(f, 0) == close)
				return NOT_OURS;   /* trailing comma */
			continue;
		}
		if (peek(f, 0) != close)
			return NOT_OURS;
		f->i++;
		break;
	}
	f->depth--;
	return finish(f, n, base) ? n : NOT_OURS;
}

/* A value inside a flow collection. */
static struct kp_load_node *flow_node(struct fast *f)
{
	int c = peek(f, 0);
	bool colon;
	struct kp_load_node *n;

	if (c == '{' || c == '[')
		return flow_coll(f);
	if (c == '"' || c == '\'')
		return quoted(f);
	if (!plain_start(f))
		return NOT_OURS;
	n = plain(f, true, &colon);
	return n && !colon ? n : NOT_OURS;   /* "[a: b]" pairs are libyaml's */
}

static struct kp_load_node *block_node(struct fast *f, int col);
static struct kp_load_node *block_map(struct fast *f, int col);
static struct kp_load_node *block_seq(struct fast *f, int col);

/* The key at the cursor and the ':' after it, or NULL. */
static struct kp_load_node *block_key(struct fast *f)
{
	struct kp_load_node *k;
	bool colon = false;

	if (peek(f, 0) == '"' || peek(f, 0) == '\'') {
		k = quoted(f);
		colon = true;
	} else {
		k = plain_start(f) ? plain(f, false, &colon) : NOT_OURS;
	}
	if (!k || !colon || strlen(k->s) > FAST_MAX_KEY)
		return NOT_OURS;
	skip_spaces(f);   /* "key : v" */
	if (peek(f, 0) != ':' || !blank_or_end(peek(f, 1)))
		return NOT_OURS;
	f->i++;
	return k;
}

/* A value that starts on the line of its key or "- ": a flow collection or
 * a scalar, then the end of that line. In a sequence item it may also be a
 * compact mapping or sequence (in_seq). */
static struct kp_load_node *inline_value(struct fast *f, bool in_seq)
{
	int c = peek(f, 0), col = col_of(f);
	struct kp_load_node *n;

	if (c == '{' || c == '[') {
		n = flow_coll(f);
	} else if (c == '-' && blank_or_end(peek(f, 1))) {
		return in_seq ? block_seq(f, col) : NOT_OURS;   /* "- - x" */
	} else if (c == '"' || c == '\'') {
		size_t save = f->i, sbol = f->bol;
		uint32_t sline = f->line;
		n = quoted(f);
		skip_spaces(f);
		if (n && in_seq && peek(f, 0) == ':' && blank_or_end(peek(f, 1))) {
			f->i = save;   /* "- 'k': v": a compact mapping */
			f->bol = sbol;
			f->line = sline;
			return block_map(f, col);
		}
	} else if (plain_start(f)) {
		size_t save = f->i;
		bool colon;
		n = plain(f, false, &colon);
		if (n && colon) {
			if (!in_seq)
				return NOT_OURS;   /* "k: a: b" */
			f->i = save;             /* "- k: v": a compact mapping */
			return block_map(f, col);
		}
	} else {
		return NOT_OURS;
	}
	if (!n || !end_of_line(f) || !skip_lines(f))
		return NOT_OURS;
	return n;
}

/* Block mapping whose first key is at the cursor, at column col. */
static struct kp_load_node *block_map(struct fast *f, int col)
{
	struct kp_load_node *m = new_node(f, KP_LN_MAP, f->line, col);
	size_t base = f->nstack;

	if (!m || ++f->depth > KP_LOAD_MAX_DEPTH)
		return NOT_OURS;
	for (;;) {
		struct kp_load_node *k = block_key(f), *v;
		uint32_t kline = f->line;
		int ccol = col_of(f), next;

		if (!k || !push(f, k))
			return NOT_OURS;
		skip_spaces(f);
		if (peek(f, 0) == '#' || peek(f, 0) == '\n' || peek(f, 0) == -1) {
			if (peek(f, 0) == '#' && f->d[f->i - 1] != ' ')
				return NOT_OURS;
			if (!skip_lines(f))
				return NOT_OURS;
			next = tok_col(f);
			if (next > col)
				v = block_node(f, next);
			else if (next == col && peek(f, 0) == '-' && blank_or_end(peek(f, 1)))
				v = block_seq(f, col);   /* a sequence at its key's indentation */
			else if (next >= -1)
				v = scalar(f, "", 0, true, false, kline, ccol);   /* empty: null, marked after ':' */
			else
				return NOT_OURS;
		} else {
			v = inline_value(f, false);
		}
		if (!v || !push(f, v))
			return NOT_OURS;
		next = tok_col(f);
		if (next < col && next >= -1)
			break;
		if (next != col || (peek(f, 0) == '-' && blank_or_end(peek(f, 1))))
			return NOT_OURS;
	}
	f->depth--;
	return finish(f, m, base) ? m : NOT_OURS;
}

/* Block sequence whose first "-" is at the cursor, at column col. */
static struct kp_load_node *block_seq(struct fast *f, int col)
{
	struct kp_load_node *s = new_node(f, KP_LN_SEQ, f->line, col);
	size_t base = f->nstack;

	if (!s || ++f->depth > KP_LOAD_MAX_DEPTH)
		return NOT_OURS;
	for (;;) {
		struct kp_load_node *v;
		uint32_t dline = f->line;
		int dcol = col_of(f), next;

		f->i++;   /* '-' */
		skip_spaces(f);
		if (peek(f, 0) == '#' || peek(f, 0) == '\n' || peek(f, 0) == -1) {
			if (peek(f, 0) == '#' && f->d[f->i - 1] != ' ')
				return NOT_OURS;
			if (!skip_lines(f))
				return NOT_OURS;
			next = tok_col(f);
			if (next > col)
				v = block_node(f, next);
			else if (next >= -1)
				v = scalar(f, "", 0, true, false, dline, dcol + 1);   /* empty: null, marked after '-' */
			else
				return NOT_OURS;
		} else {
			v = inline_value(f, true);
		}
		if (!v || !push(f, v))
			return NOT_OURS;
		next = tok_col(f);
		if (next == col && peek(f, 0) == '-' && blank_or_end(peek(f, 1)))
			continue;
		if (next <= col && next >= -1)
			break;
		return NOT_OURS;
	}
	f->depth--;
	return finish(f, s, base) ? s : NOT_OURS;
}

/* A block mapping or sequence starting at the cursor (column col). */
static struct kp_load_node *block_node(struct fast *f, int col)
{
	if (peek(f, 0) == '-' && blank_or_end(peek(f, 1)))
		return block_seq(f, col);
	return block_map(f, col);
}

/* Only tab, LF, CR and printable ASCII: nothing libyaml's reader refuses. */
static bool plain_ascii(const char *d, size_t len)
{
	const unsigned char *p = (const unsigned char *)d;

	for (size_t i = 0; i < len; i++) {
		unsigned c = p[i];
		if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c >= 0x7f)
			return false;
	}
	return true;
}

kp_err kp_load_fast_yaml(const char *name, const char *data, size_t len, struct kp_arena *tmp,
			 kp_load_doc_fn fn, void *ctx, struct kp_errbuf *eb, size_t *off, uint32_t *line,
			 int *docno)
{
	struct fast f;
	struct kp_arena_mark mark = kp_arena_mark(tmp);
	kp_err rc = KP_OK;
	bool first = true;

	memset(&f, 0, sizeof(f));
	f.d = data;
	f.len = len;
	f.tmp = tmp;
	*off = 0;
	*line = 0;
	*docno = 0;
	/* a directive, a "..." line, or a byte libyaml's reader could refuse
	 * (it decodes ahead: a bad byte in a later document fails the stream
	 * before the documents ahead of it are delivered): libyaml reads the
	 * whole stream */
	if ((len >= 1 && data[0] == '%') || (len >= 3 && memcmp(data, "...", 3) == 0) ||
	    memmem(data, len, "\n...", 4) || !plain_ascii(data, len))
		return KP_OK;
	for (;;) {
		struct kp_load_node *root;
		size_t start = f.i;
		uint32_t sline = f.line;
		int c;

		*off = start;
		*line = sline;
		/* a document starts here: at the stream's start or at a "---" line */
		if (!skip_lines(&f))
			break;
		if (f.i >= f.len) {
			*off = f.len;   /* only comments and blanks left: no document */
			break;
		}
		if (at_marker(&f)) {
			if (f.d[f.i] == '.' || peek(&f, 3) == ' ')
				break;   /* "...", "--- value" */
			f.i += 3;
			if (!skip_lines(&f))
				break;
		} else if (!first) {
			break;
		}
		c = tok_col(&f);
		if (c < 0)
			break;   /* an empty document */
		f.nodes = 0;
		f.depth = 0;
		f.nstack = 0;
		root = block_node(&f, c);
		if (f.nomem) {
			rc = kp_errf(eb, KP_ERR_NOMEM, "%s: out of memory", name);
			break;
		}
		if (!root || tok_col(&f) != -1) {
			kp_arena_reset(tmp, mark);
			break;   /* not ours: libyaml reads from *off */
		}
		(*docno)++;
		rc = fn(ctx, root, *docno, root->line, eb);
		kp_arena_reset(tmp, mark);
		first = false;
		if (rc)
			break;
		/* f.i is at the end or at the next "---" line */
	}
	free(f.stack);
	return rc;
}
