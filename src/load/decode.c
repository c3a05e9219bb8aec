/*
 * decode.c - typed field access over the document tree, with the field path
 * kept for messages, and the decoders shared by several kinds: labels,
 * resource lists, durations, times, taints, label selectors, conditions.
 *
 * Every accessor either fills its output or writes "PATH: what is wrong" into
 * the error buffer; none leaves a partial result the caller must undo (the
 * cluster arena owns whatever was copied). Strings are copied into d->a, the
 * cluster's arena, except by kp_load_strview which returns a view into the
 * tree for values that are only inspected. Cost: O(size of the field); map
 * lookups are linear (Kubernetes objects have small mappings).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "load/internal.h"

/* ---- path ---- */

/* Keys printed bare in a path: identifiers like "spec" or "maxSkew". */
static bool plain_key(const char *k)
{
	if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || *k == '_'))
		return false;
	for (; *k; k++) {
		char c = *k;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void path_add(struct kp_load_dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void path_add(struct kp_load_dec *d, const char *fmt, ...)
{
	size_t room = sizeof(d->path) - d->plen;
	va_list ap;
	int n;

	if (room <= 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(d->path + d->plen, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		d->path[d->plen] = '\0';
	else
		d->plen += (size_t)n < room ? (size_t)n : room - 1;
}

/* Appends n bytes of s; drops what does not fit (the path is for messages). */
static void path_cat(struct kp_load_dec *d, const char *s, size_t n)
{
	size_t room = sizeof(d->path) - 1 - d->plen;

	if (n > room)
		n = room;
	memcpy(d->path + d->plen, s, n);
	d->plen += n;
	d->path[d->plen] = '\0';
}

size_t kp_load_push(struct kp_load_dec *d, const char *key)
{
	size_t mark = d->plen;
	char q[96];

	if (plain_key(key)) {
		if (d->plen)
			path_cat(d, ".", 1);
		path_cat(d, key, strlen(key));
	} else {
		path_add(d, "[%s]", kp_load_quote(key, q, sizeof(q)));
	}
	return mark;
}

size_t kp_load_pushi(struct kp_load_dec *d, size_t idx)
{
	size_t mark = d->plen;
	char buf[24];
	int i = (int)sizeof(buf);

	buf[--i] = ']';
	do {
		buf[--i] = (char)('0' + idx % 10);
		idx /= 10;
	} while (idx && i > 1);
	buf[--i] = '[';
	path_cat(d, buf + i, sizeof(buf) - (size_t)i);
	return mark;
}

void kp_load_pop(struct kp_load_dec *d, size_t mark)
{
	if (mark < sizeof(d->path)) {
		d->plen = mark;
		d->path[mark] = '\0';
	}
}

/* ---- messages ---- */

const char *kp_load_quote(const char *s, char *buf, size_t n)
{
	size_t max = n > 8 ? n - 6 : 1, o = 0, i = 0;

	if (n < 8) {
		if (n)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (; s && s[i] && o < max; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (s && s[i]) {
		/* do not cut a UTF-8 sequence in half */
		while (o > 1 && ((unsigned char)buf[o - 1] & 0xC0) == 0x80)
			o--;
		if (o > 1 && ((unsigned char)buf[o - 1] & 0xC0) == 0xC0)
			o--;
		buf[o++] = '.';
		buf[o++] = '.';
		buf[o++] = '.';
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static kp_err vfail(struct kp_load_dec *d, kp_err code, const char *fmt, va_list ap)
{
	char msg[KP_ERRBUF_SIZE];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (d->plen)
		return kp_errf(d->eb, code, "%s: %s", d->path, msg);
	return kp_errf(d->eb, code, "%s", msg);
}

kp_err kp_load_fail(struct kp_load_dec *d, kp_err code, const char *fmt, ...)
{
	va_list ap;
	kp_err rc;

	va_start(ap, fmt);
	rc = vfail(d, code, fmt, ap);
	va_end(ap);
	return rc;
}

kp_err kp_load_fail_at(struct kp_load_dec *d, const char *key, kp_err code, const char *fmt, ...)
{
	size_t mark = kp_load_push(d, key);
	va_list ap;
	kp_err rc;

	va_start(ap, fmt);
	rc = vfail(d, code, fmt, ap);
	va_end(ap);
	kp_load_pop(d, mark);
	return rc;
}

kp_err kp_load_wrap(struct kp_load_dec *d, kp_err code)
{
	if (!code)
		code = KP_ERR_INVALID;
	if (d->eb) {
		d->eb->code = code;
		if (d->plen)
			kp_err_prefix(d->eb, "%s: ", d->path);
	}
	return code;
}

void kp_load_warn(struct kp_load_dec *d, const char *fmt, ...)
{
	va_list ap;

	if (!d->warn)
		return;
	fprintf(d->warn, "warning: %s: %s: ", d->file ? d->file : "-", d->obj ? d->obj : "-");
	if (d->plen)
		fprintf(d->warn, "%s: ", d->path);
	va_start(ap, fmt);
	vfprintf(d->warn, fmt, ap);
	va_end(ap);
	fputc('\n', d->warn);
}

kp_err kp_load_type_error(struct kp_load_dec *d, const struct kp_load_node *n, const char *want)
{
	char q[96];

	if (n && n->type >= KP_LN_BOOL && n->type <= KP_LN_STR)
		return kp_load_fail(d, KP_ERR_INVALID, "expected %s, got %s %s", want,
				    kp_load_type_name(n), kp_load_quote(n->s, q, sizeof(q)));
	return kp_load_fail(d, KP_ERR_INVALID, "expected %s, got %s", want, kp_load_type_name(n));
}

static kp_err type_error_at(struct kp_load_dec *d, const char *key, const struct kp_load_node *n,
			    const char *want)
{
	size_t mark = kp_load_push(d, key);
	kp_err rc = kp_load_type_error(d, n, want);
	kp_load_pop(d, mark);
	return rc;
}

static kp_err nomem(struct kp_load_dec *d)
{
	return kp_load_fail(d, KP_ERR_NOMEM, "out of memory");
}

/* ---- scalars and containers ---- */

kp_err kp_load_map(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		   const struct kp_load_node **out)
{
	const struct kp_load_node *v = kp_load_get(m, key);

	*out = NULL;
	if (!v)
		return KP_OK;
	if (v->type != KP_LN_MAP)
		return type_error_at(d, key, v, "a mapping");
	*out = v;
	return KP_OK;
}

kp_err kp_load_seq(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		   const struct kp_load_node **out)
{
	const struct kp_load_node *v = kp_load_get(m, key);

	*out = NULL;
	if (!v)
		return KP_OK;
	if (v->type != KP_LN_SEQ)
		return type_error_at(d, key, v, "a list");
	*out = v;
	return KP_OK;
}

kp_err kp_load_node_str(struct kp_load_dec *d, const struct kp_load_node *n, const char **view)
{
	if (!n || n->type == KP_LN_NULL) {
		*view = "";
		return KP_OK;
	}
	if (n->type == KP_LN_SEQ || n->type == KP_LN_MAP)
		return kp_load_type_error(d, n, "a string");
	*view = n->s;
	return KP_OK;
}

kp_err kp_load_strview(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		       const char **out)
{
	const struct kp_load_node *v = kp_load_get(m, key);

	if (!v)
		return KP_OK;
	if (v->type == KP_LN_SEQ || v->type == KP_LN_MAP)
		return type_error_at(d, key, v, "a string");
	*out = v->s;
	return KP_OK;
}

kp_err kp_load_str(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		   const char **out)
{
	const char *v = NULL;
	kp_err rc = kp_load_strview(d, m, key, &v);

	if (rc || !v)
		return rc;
	*out = kp_arena_strdup(d->a, v);
	return *out ? KP_OK : nomem(d);
}

kp_err kp_load_str_req(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		       const char **out)
{
	const char *v = NULL;
	kp_err rc = kp_load_strview(d, m, key, &v);

	if (rc)
		return rc;
	if (!v)
		return kp_load_fail_at(d, key, KP_ERR_INVALID, "required field is missing");
	if (!*v)
		return kp_load_fail_at(d, key, KP_ERR_INVALID, "must not be empty");
	*out = kp_arena_strdup(d->a, v);
	return *out ? KP_OK : nomem(d);
}

kp_err kp_load_int(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		   int64_t min, int64_t max, int64_t *out, bool *present)
{
	const struct kp_load_node *v = kp_load_get(m, key);

	if (present)
		*present = false;
	if (!v)
		return KP_OK;
	if (v->type != KP_LN_INT)
		return type_error_at(d, key, v, "an integer");
	if (v->u.i < min || v->u.i > max) {
		if (v->u.i < min && min == 0)
			return kp_load_fail_at(d, key, KP_ERR_RANGE, "must not be negative, got %lld",
					       (long long)v->u.i);
		if (v->u.i < min && min == 1)
			return kp_load_fail_at(d, key, KP_ERR_RANGE, "must be greater than zero, got %lld",
					       (long long)v->u.i);
		return kp_load_fail_at(d, key, KP_ERR_RANGE, "must be between %lld and %lld, got %lld",
				       (long long)min, (long long)max, (long long)v->u.i);
	}
	*out = v->u.i;
	if (present)
		*present = true;
	return KP_OK;
}

kp_err kp_load_bool(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		    bool *out, bool *present)
{
	const struct kp_load_node *v = kp_load_get(m, key);

	if (present)
		*present = false;
	if (!v)
		return KP_OK;
	if (v->type != KP_LN_BOOL)
		return type_error_at(d, key, v, "a boolean");
	*out = v->u.b;
	if (present)
		*present = true;
	return KP_OK;
}

static kp_err strlist(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		      bool copy, const char ***out, int *nout)
{
	const struct kp_load_node *seq;
	const char **v;
	kp_err rc = kp_load_seq(d, m, key, &seq);
	size_t mark;

	*out = NULL;
	*nout = 0;
	if (rc || !seq)
		return rc;
	v = kp_arena_calloc(copy ? d->a : d->tmp, seq->n ? seq->n : 1, sizeof(*v));
	if (!v)
		return nomem(d);
	mark = kp_load_push(d, key);
	for (uint32_t i = 0; i < seq->n; i++) {
		const char *s = "";
		size_t m2 = kp_load_pushi(d, i);
		rc = kp_load_node_str(d, seq->u.items[i], &s);
		kp_load_pop(d, m2);
		if (rc)
			goto out;
		v[i] = copy ? kp_arena_strdup(d->a, s) : s;
		if (!v[i]) {
			rc = nomem(d);
			goto out;
		}
	}
	*out = v;
	*nout = (int)seq->n;
out:
	kp_load_pop(d, mark);
	return rc;
}

kp_err kp_load_strlist(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		       const char ***out, int *nout)
{
	return strlist(d, m, key, true, out, nout);
}

kp_err kp_load_strviews(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			const char ***out, int *nout)
{
	return strlist(d, m, key, false, out, nout);
}

/* ---- labels ---- */

kp_err kp_load_labels(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		      struct kp_labels *out, bool normalize, bool validate)
{
	const struct kp_load_node *map;
	kp_err rc = kp_load_map(d, m, key, &map);
	size_t mark;

	if (rc || !map)
		return rc;
	mark = kp_load_push(d, key);
	for (uint32_t i = 0; i < map->n; i++) {
		const char *k = map->u.pairs[i].key, *v = "";
		size_t m2 = kp_load_push(d, k);
		struct kp_errbuf why;

		rc = kp_load_node_str(d, map->u.pairs[i].val, &v);
		if (rc)
			goto next;
		if (validate && !kp_label_key_valid(k, &why)) {
			rc = kp_load_fail(d, KP_ERR_INVALID, "invalid label key: %s", why.msg);
			goto next;
		}
		if (validate && !kp_label_value_valid(v, &why)) {
			rc = kp_load_fail(d, KP_ERR_INVALID, "invalid label value: %s", why.msg);
			goto next;
		}
		if (normalize)
			k = kp_label_normalize(k);
		k = kp_arena_strdup(d->a, k);
		v = kp_arena_strdup(d->a, v);
		if (!k || !v)
			rc = nomem(d);
		else if (kp_labels_set(out, d->a, k, v))
			rc = nomem(d);
next:
		kp_load_pop(d, m2);
		if (rc)
			break;
	}
	kp_load_pop(d, mark);
	return rc;
}

/* ---- resources ---- */

static kp_err parse_qty(struct kp_load_dec *d, const struct kp_load_node *v, int scale, int64_t *out)
{
	struct kp_errbuf why;
	char q[96];
	kp_err rc;

	if (v->type == KP_LN_BOOL || v->type == KP_LN_SEQ || v->type == KP_LN_MAP)
		return kp_load_type_error(d, v, "a quantity");
	if (v->type == KP_LN_INT) {
		/* an integer's value, not its spelling (0x10, 1_000) */
		char num[24];
		snprintf(num, sizeof(num), "%lld", (long long)v->u.i);
		rc = kp_qty_parse(num, scale, out, &why);
	} else {
		rc = kp_qty_parse(v->s, scale, out, &why);
	}
	if (rc == KP_ERR_RANGE)
		return kp_load_fail(d, rc, "quantity %s is too large", kp_load_quote(v->s, q, sizeof(q)));
	if (rc)
		return kp_load_fail(d, KP_ERR_INVALID, "invalid quantity %s", kp_load_quote(v->s, q, sizeof(q)));
	if (*out < 0)
		return kp_load_fail(d, KP_ERR_RANGE, "quantity %s must not be negative",
				    kp_load_quote(v->s, q, sizeof(q)));
	return KP_OK;
}

kp_err kp_load_reslist(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		       struct kp_res *out, uint32_t *mask, int64_t *nodes_out, bool *has_nodes,
		       bool tolerate_full)
{
	const struct kp_load_node *map;
	struct kp_resnames *rn = &d->c->resnames;
	kp_err rc = kp_load_map(d, m, key, &map);
	size_t mark;

	if (rc || !map)
		return rc;
	mark = kp_load_push(d, key);
	for (uint32_t i = 0; i < map->n; i++) {
		const char *name = map->u.pairs[i].key;
		const struct kp_load_node *v = map->u.pairs[i].val;
		size_t m2 = kp_load_push(d, name);
		int64_t val;
		int idx;

		if (v->type == KP_LN_NULL)
			goto next;
		if (nodes_out && strcmp(name, "nodes") == 0) {
			rc = parse_qty(d, v, KP_QTY_UNIT, &val);
			if (!rc) {
				*nodes_out = val;
				if (has_nodes)
					*has_nodes = true;
			}
			goto next;
		}
		idx = kp_resnames_find(rn, name);
		if (idx < 0 && tolerate_full && rn->n >= KP_RES_MAX) {
			kp_load_warn(d, "ignoring resource (more than %d resource names)", KP_RES_MAX);
			goto next;
		}
		if (idx < 0) {
			idx = kp_resnames_index(rn, name, d->eb);
			if (idx < 0) {
				rc = kp_load_wrap(d, d->eb ? d->eb->code : KP_ERR_INVALID);
				goto next;
			}
		}
		rc = parse_qty(d, v, kp_res_scale(idx), &val);
		if (!rc) {
			out->v[idx] = val;
			if (mask)
				*mask |= 1u << idx;
		}
next:
		kp_load_pop(d, m2);
		if (rc)
			break;
	}
	kp_load_pop(d, mark);
	return rc;
}

/* ---- durations and times ---- */

/* ^([0-9]+(s|m|h))+$ */
static bool duration_shape(const char *s)
{
	if (!*s)
		return false;
	while (*s) {
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
		if (*s != 's' && *s != 'm' && *s != 'h')
			return false;
		s++;
	}
	return true;
}

kp_err kp_load_duration(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			bool allow_never, int64_t *out_ms, bool *present)
{
	const char *s = NULL;
	char q[96];
	int64_t ms;
	kp_err rc = kp_load_strview(d, m, key, &s);

	if (present)
		*present = false;
	if (rc || !s)
		return rc;
	if (allow_never && strcmp(s, "Never") == 0) {
		*out_ms = KP_NEVER;
	} else {
		if (!duration_shape(s) || kp_parse_duration_ms(s, &ms))
			return kp_load_fail_at(d, key, KP_ERR_INVALID,
					       "invalid duration %s: want a number with a unit s, m or h, "
					       "like \"30s\", \"15m\" or \"720h\"%s",
					       kp_load_quote(s, q, sizeof(q)), allow_never ? ", or \"Never\"" : "");
		*out_ms = ms;
	}
	if (present)
		*present = true;
	return KP_OK;
}

kp_err kp_load_time(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		    int64_t *out, bool *present)
{
	const char *s = NULL;
	char q[96];
	kp_err rc = kp_load_strview(d, m, key, &s);

	if (present)
		*present = false;
	if (rc || !s)
		return rc;
	if (kp_parse_rfc3339(s, out))
		return kp_load_fail_at(d, key, KP_ERR_INVALID,
				       "invalid time %s: want RFC 3339, like \"2024-01-02T03:04:05Z\"",
				       kp_load_quote(s, q, sizeof(q)));
	if (present)
		*present = true;
	return KP_OK;
}

/* ---- taints ---- */

static kp_err load_taint(struct kp_load_dec *d, const struct kp_load_node *m, struct kp_taint *t)
{
	const char *key = NULL, *value = NULL, *effect = NULL;
	struct kp_errbuf why;
	char q[96];
	int e;
	kp_err rc;

	if (m->type != KP_LN_MAP)
		return kp_load_type_error(d, m, "a mapping");
	rc = kp_load_str_req(d, m, "key", &key);
	if (!rc)
		rc = kp_load_str(d, m, "value", &value);
	if (!rc)
		rc = kp_load_strview(d, m, "effect", &effect);
	if (rc)
		return rc;
	if (!kp_label_key_valid(key, &why))
		return kp_load_fail_at(d, "key", KP_ERR_INVALID, "invalid taint key: %s", why.msg);
	if (value && *value && !kp_label_value_valid(value, &why))
		return kp_load_fail_at(d, "value", KP_ERR_INVALID, "invalid taint value: %s", why.msg);
	if (!effect)
		return kp_load_fail_at(d, "effect", KP_ERR_INVALID, "required field is missing");
	e = kp_effect_parse(effect, false);
	if (e < 0 || e == KP_EFFECT_ANY)
		return kp_load_fail_at(d, "effect", KP_ERR_INVALID,
				       "unknown taint effect %s: want NoSchedule, PreferNoSchedule or NoExecute",
				       kp_load_quote(effect, q, sizeof(q)));
	t->key = key;
	t->value = value && *value ? value : NULL;
	t->effect = (enum kp_effect)e;
	return KP_OK;
}

kp_err kp_load_taints(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
		      struct kp_taints *out)
{
	const struct kp_load_node *seq;
	kp_err rc = kp_load_seq(d, m, key, &seq);
	size_t mark;

	if (rc || !seq || seq->n == 0)
		return rc;
	out->t = kp_arena_calloc(d->a, seq->n, sizeof(*out->t));
	if (!out->t)
		return nomem(d);
	mark = kp_load_push(d, key);
	for (uint32_t i = 0; i < seq->n && !rc; i++) {
		size_t m2 = kp_load_pushi(d, i);
		rc = load_taint(d, seq->u.items[i], &out->t[i]);
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	out->n = rc ? 0 : (int)seq->n;
	return rc;
}

/* ---- label selectors ---- */

static kp_err load_selector_expr(struct kp_load_dec *d, const struct kp_load_node *m,
				 struct kp_selector_expr *e)
{
	const char *op = NULL;
	char q[96];
	int o;
	kp_err rc;

	if (m->type != KP_LN_MAP)
		return kp_load_type_error(d, m, "a mapping");
	rc = kp_load_str_req(d, m, "key", &e->key);
	if (!rc)
		rc = kp_load_strview(d, m, "operator", &op);
	if (!rc)
		rc = kp_load_strlist(d, m, "values", &e->values, &e->n);
	if (rc)
		return rc;
	if (!op)
		return kp_load_fail_at(d, "operator", KP_ERR_INVALID, "required field is missing");
	o = kp_op_parse(op);
	if (o != KP_OP_IN && o != KP_OP_NOTIN && o != KP_OP_EXISTS && o != KP_OP_DOESNOTEXIST)
		return kp_load_fail_at(d, "operator", KP_ERR_INVALID,
				       "unknown operator %s: want In, NotIn, Exists or DoesNotExist",
				       kp_load_quote(op, q, sizeof(q)));
	e->op = (enum kp_op)o;
	if ((o == KP_OP_IN || o == KP_OP_NOTIN) && e->n == 0)
		return kp_load_fail_at(d, "values", KP_ERR_INVALID, "operator %s needs at least one value", op);
	if ((o == KP_OP_EXISTS || o == KP_OP_DOESNOTEXIST) && e->n != 0)
		return kp_load_fail_at(d, "values", KP_ERR_INVALID, "operator %s takes no values", op);
	return KP_OK;
}

kp_err kp_load_selector(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			const struct kp_selector **out)
{
	const struct kp_load_node *sel, *exprs = NULL;
	struct kp_selector *s;
	size_t mark;
	kp_err rc = kp_load_map(d, m, key, &sel);

	*out = NULL;
	if (rc || !sel)
		return rc;
	s = kp_arena_alloc(d->a, sizeof(*s));
	if (!s)
		return nomem(d);
	mark = kp_load_push(d, key);
	rc = kp_load_labels(d, sel, "matchLabels", &s->match_labels, false, false);
	if (!rc)
		rc = kp_load_seq(d, sel, "matchExpressions", &exprs);
	if (!rc && exprs && exprs->n) {
		size_t m2 = kp_load_push(d, "matchExpressions");
		s->expr = kp_arena_calloc(d->a, exprs->n, sizeof(*s->expr));
		if (!s->expr)
			rc = nomem(d);
		for (uint32_t i = 0; !rc && i < exprs->n; i++) {
			size_t m3 = kp_load_pushi(d, i);
			rc = load_selector_expr(d, exprs->u.items[i], &s->expr[i]);
			kp_load_pop(d, m3);
		}
		if (!rc)
			s->nexpr = (int)exprs->n;
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	if (!rc)
		*out = s;
	return rc;
}

/* ---- conditions ---- */

kp_err kp_load_condition_time(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			      const char *type, int64_t *out)
{
	const struct kp_load_node *seq;
	kp_err rc = kp_load_seq(d, m, key, &seq);
	size_t mark;

	*out = 0;
	if (rc || !seq)
		return rc;
	mark = kp_load_push(d, key);
	for (uint32_t i = 0; i < seq->n && !rc; i++) {
		const struct kp_load_node *c = seq->u.items[i];
		const char *t = NULL;
		size_t m2 = kp_load_pushi(d, i);

		if (c->type != KP_LN_MAP)
			rc = kp_load_type_error(d, c, "a mapping");
		if (!rc)
			rc = kp_load_strview(d, c, "type", &t);
		if (!rc && t && strcmp(t, type) == 0)
			rc = kp_load_time(d, c, "lastTransitionTime", out, NULL);
		kp_load_pop(d, m2);
	}
	kp_load_pop(d, mark);
	return rc;
}

kp_err kp_load_condition(struct kp_load_dec *d, const struct kp_load_node *m, const char *key,
			 const char *type, bool *is_true, bool *found)
{
	const struct kp_load_node *seq;
	kp_err rc = kp_load_seq(d, m, key, &seq);
	size_t mark;

	*found = false;
	if (rc || !seq)
		return rc;
	mark = kp_load_push(d, key);
	for (uint32_t i = 0; i < seq->n && !rc; i++) {
		const struct kp_load_node *c = seq->u.items[i];
		const char *t = NULL, *status = NULL;
		size_t m2 = kp_load_pushi(d, i);

		if (c->type != KP_LN_MAP)
			rc = kp_load_type_error(d, c, "a mapping");
		if (!rc)
			rc = kp_load_strview(d, c, "type", &t);
		if (!rc)
			rc = kp_load_strview(d, c, "status", &status);
		kp_load_pop(d, m2);
		if (!rc && t && strcmp(t, type) == 0) {
			*found = true;
			*is_true = status && strcmp(status, "True") == 0;
		}
	}
	kp_load_pop(d, mark);
	return rc;
}
