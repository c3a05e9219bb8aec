/*
 * json.c - JSON input (a stream of concatenated values, as kubectl accepts)
 * into the loader's document tree.
 *
 * jansson parses one value at a time (JSON_DISABLE_EOF_CHECK) with duplicate
 * keys rejected; the value is converted into the scratch arena, handed to the
 * callback and released. Numbers keep a textual form for quantities: integers
 * as decimal, reals as the shortest text that reads back to the same double
 * (so 0.1 stays "0.1", not "0.10000000000000001"). Depth and node caps match
 * yaml.c. Cost: O(bytes) plus jansson's own allocations per document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "load/internal.h"

struct conv {
	const char *name;
	struct kp_arena *tmp;
	struct kp_errbuf *eb;
	uint64_t count;
};

static kp_err conv_nomem(struct conv *cv)
{
	return kp_errf(cv->eb, KP_ERR_NOMEM, "%s: out of memory", cv->name);
}

static char *real_text(struct kp_arena *a, double v)
{
	char buf[40];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return kp_arena_strdup(a, buf);
}

static kp_err convert(struct conv *cv, json_t *j, int depth, struct kp_load_node **out)
{
	struct kp_load_node *n;
	kp_err rc;

	if (++cv->count > KP_LOAD_MAX_NODES)
		return kp_errf(cv->eb, KP_ERR_LIMIT, "%s: json: document too large: more than %u values",
			       cv->name, (unsigned)KP_LOAD_MAX_NODES);
	n = kp_arena_alloc(cv->tmp, sizeof(*n));
	if (!n)
		return conv_nomem(cv);
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *v;
		size_t i = 0;

		if (depth >= KP_LOAD_MAX_DEPTH)
			return kp_errf(cv->eb, KP_ERR_LIMIT, "%s: json: nesting deeper than %d levels",
				       cv->name, KP_LOAD_MAX_DEPTH);
		n->type = KP_LN_MAP;
		n->n = (uint32_t)json_object_size(j);
		n->u.pairs = kp_arena_calloc(cv->tmp, n->n ? n->n : 1, sizeof(*n->u.pairs));
		if (!n->u.pairs)
			return conv_nomem(cv);
		json_object_foreach(j, key, v) {
			if (i == n->n)
				break;
			n->u.pairs[i].key = kp_arena_strdup(cv->tmp, key);
			if (!n->u.pairs[i].key)
				return conv_nomem(cv);
			rc = convert(cv, v, depth + 1, &n->u.pairs[i].val);
			if (rc)
				return rc;
			i++;
		}
		break;
	}
	case JSON_ARRAY:
		if (depth >= KP_LOAD_MAX_DEPTH)
			return kp_errf(cv->eb, KP_ERR_LIMIT, "%s: json: nesting deeper than %d levels",
				       cv->name, KP_LOAD_MAX_DEPTH);
		n->type = KP_LN_SEQ;
		n->n = (uint32_t)json_array_size(j);
		n->u.items = kp_arena_calloc(cv->tmp, n->n ? n->n : 1, sizeof(*n->u.items));
		if (!n->u.items)
			return conv_nomem(cv);
		for (uint32_t i = 0; i < n->n; i++) {
			rc = convert(cv, json_array_get(j, i), depth + 1, &n->u.items[i]);
			if (rc)
				return rc;
		}
		break;
	case JSON_STRING:
		n->type = KP_LN_STR;
		n->s = kp_arena_strndup(cv->tmp, json_string_value(j), json_string_length(j));
		if (!n->s)
			return conv_nomem(cv);
		break;
	case JSON_INTEGER:
		n->type = KP_LN_INT;
		n->u.i = (int64_t)json_integer_value(j);
		n->s = kp_arena_printf(cv->tmp, "%lld", (long long)n->u.i);
		if (!n->s)
			return conv_nomem(cv);
		break;
	case JSON_REAL:
		n->type = KP_LN_FLOAT;
		n->u.f = json_real_value(j);
		n->s = real_text(cv->tmp, n->u.f);
		if (!n->s)
			return conv_nomem(cv);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		n->type = KP_LN_BOOL;
		n->u.b = json_is_true(j);
		n->s = n->u.b ? "true" : "false";
		break;
	case JSON_NULL:
		n->type = KP_LN_NULL;
		n->s = "null";
		break;
	}
	*out = n;
	return KP_OK;
}

kp_err kp_load_json_tree(const char *name, const struct json_t *j, struct kp_arena *tmp,
			 struct kp_load_node **out, struct kp_errbuf *eb)
{
	struct conv cv = { name, tmp, eb, 0 };

	*out = NULL;
	/* convert() only reads j; jansson's getters take non-const pointers */
	return convert(&cv, (json_t *)(uintptr_t)j, 0, out);
}

kp_err kp_load_parse_json(const char *name, const char *data, size_t len, struct kp_arena *tmp,
			  kp_load_doc_fn fn, void *ctx, struct kp_errbuf *eb)
{
	struct kp_arena_mark mark = kp_arena_mark(tmp);
	size_t off = 0, seen = 0;       /* lines counted up to byte seen */
	unsigned long seen_line = 1;
	int docno = 0;
	kp_err rc = KP_OK;

	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		off = 3;   /* a UTF-8 byte order mark, which jansson refuses */
	for (;;) {
		struct conv cv = { name, tmp, eb, 0 };
		struct kp_load_node *root = NULL;
		unsigned long line, col;
		json_error_t jerr;
		json_t *j;

		while (off < len && (data[off] == ' ' || data[off] == '\t' || data[off] == '\r' ||
				     data[off] == '\n'))
			off++;
		if (off >= len)
			break;
		j = json_loadb(data + off, len - off,
			       JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
		if (!j) {
			size_t at = off + (jerr.position > 0 ? (size_t)jerr.position : 0);
			if (at > 0 && at <= len && jerr.position > 0)
				at--;
			kp_load_offset_pos(data, len, at, &line, &col);
			return kp_errf(eb, KP_ERR_INVALID, "%s:%lu:%lu: json: %s", name, line, col, jerr.text);
		}
		docno++;
		for (; seen < off; seen++)          /* incremental: O(bytes) over the stream */
			seen_line += data[seen] == '\n';
		line = seen_line;
		rc = convert(&cv, j, 0, &root);
		json_decref(j);
		if (!rc)
			rc = fn(ctx, root && root->type != KP_LN_NULL ? root : NULL, docno, (uint32_t)line, eb);
		kp_arena_reset(tmp, mark);
		if (rc)
			return rc;
		if (jerr.position <= 0)
			break;
		off += (size_t)jerr.position;
	}
	return rc;
}
