/*
 * patch.c - the three PATCH bodies the API server accepts:
 *  - JSON merge patch (RFC 7386, application/merge-patch+json);
 *  - JSON patch (RFC 6902, application/json-patch+json): add, remove,
 *    replace, move, copy, test over RFC 6901 pointers;
 *  - strategic merge patch (application/strategic-merge-patch+json) for
 *    built-in kinds, as `kubectl apply` and `kubectl patch` produce it: lists
 *    with a patch merge key are merged element by element (containers by
 *    name, container ports by containerPort, Service ports by port, env by
 *    name, volumes by name, volumeMounts by mountPath, conditions by type,
 *    ownerReferences by uid, ...), finalizers merge as a set, every other
 *    list is replaced; directives $patch (replace, delete, merge),
 *    $retainKeys, $setElementOrder/<field> and
 *    $deleteFromPrimitiveList/<field>.
 *
 * Invariants: inputs are never modified; results are fresh trees with no
 * directive keys left in them. The merge key of a list is chosen by its
 * field name and its parent's field name, which is unambiguous for the
 * kinds the local control plane serves.
 * Cost: O(size of orig + patch x list length) for strategic lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver/apires_int.h"

/* ---- RFC 7386 ---- */

static json_t *merge_rec(const json_t *target, const json_t *patch)
{
	json_t *out;
	const char *k;
	json_t *v;

	if (!json_is_object(patch))
		return json_deep_copy(patch);
	out = json_is_object(target) ? json_deep_copy(target) : json_object();
	if (!out)
		return NULL;
	json_object_foreach((json_t *)patch, k, v)
	{
		if (json_is_null(v)) {
			json_object_del(out, k);
			continue;
		}
		json_t *m = merge_rec(json_object_get(out, k), v);
		if (!m || json_object_set_new(out, k, m)) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

json_t *kp_apiserver__patch_merge(const json_t *orig, const json_t *patch)
{
	return merge_rec(orig, patch);
}

/* ---- RFC 6902 ---- */

/* Decodes one reference token (~1 -> /, ~0 -> ~) into buf; false if malformed. */
static bool ptr_token(const char *s, size_t n, char *buf, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '~') {
			if (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1'))
				return false;
			c = s[++i] == '0' ? '~' : '/';
		}
		if (o + 1 >= cap)
			return false;
		buf[o++] = c;
	}
	buf[o] = 0;
	return true;
}

static bool array_index(const char *tok, size_t size, bool allow_end, size_t *out)
{
	int64_t v;
	if (allow_end && strcmp(tok, "-") == 0) {
		*out = size;
		return true;
	}
	if (!tok[0] || (tok[0] == '0' && tok[1]) || tok[0] == '-' || tok[0] == '+')
		return false;
	if (kp_parse_i64(tok, &v) || v < 0 || (uint64_t)v > size - (allow_end ? 0 : 1) || (!allow_end && !size))
		return false;
	*out = (size_t)v;
	return true;
}

/* Resolves all but the last token of ptr; *parent is the container, last
 * the decoded final token. Returns false if a step does not exist. */
static bool ptr_parent(json_t *doc, const char *ptr, json_t **parent, char *last, size_t cap)
{
	const char *p = ptr;
	json_t *cur = doc;
	char tok[1024];

	if (*p != '/')
		return false;
	for (;;) {
		const char *next = strchr(p + 1, '/');
		size_t n = next ? (size_t)(next - p - 1) : strlen(p + 1);
		if (!ptr_token(p + 1, n, tok, sizeof(tok)))
			return false;
		if (!next) {
			if (strlen(tok) + 1 > cap)
				return false;
			memcpy(last, tok, strlen(tok) + 1);
			*parent = cur;
			return true;
		}
		if (json_is_object(cur)) {
			cur = json_object_get(cur, tok);
		} else if (json_is_array(cur)) {
			size_t i;
			if (!array_index(tok, json_array_size(cur), false, &i))
				return false;
			cur = json_array_get(cur, i);
		} else {
			return false;
		}
		if (!cur)
			return false;
		p = next;
	}
}

static json_t *ptr_get(json_t *doc, const char *ptr)
{
	json_t *parent;
	char last[1024];
	size_t i;

	if (!*ptr)
		return doc;
	if (!ptr_parent(doc, ptr, &parent, last, sizeof(last)))
		return NULL;
	if (json_is_object(parent))
		return json_object_get(parent, last);
	if (json_is_array(parent) && array_index(last, json_array_size(parent), false, &i))
		return json_array_get(parent, i);
	return NULL;
}

/* add: steals val. *root may be replaced (pointer ""). */
static kp_err jp_add(json_t **root, const char *path, json_t *val, struct kp_errbuf *eb)
{
	json_t *parent;
	char last[1024];
	size_t i;

	if (!*path) {
		json_decref(*root);
		*root = val;
		return KP_OK;
	}
	if (!ptr_parent(*root, path, &parent, last, sizeof(last))) {
		json_decref(val);
		return kp_errf(eb, KP_ERR_INVALID, "add operation does not apply: doc is missing path: \"%s\"", path);
	}
	if (json_is_object(parent))
		return json_object_set_new(parent, last, val) ? KP_ERR_NOMEM : KP_OK;
	if (json_is_array(parent) && array_index(last, json_array_size(parent), true, &i))
		return json_array_insert_new(parent, i, val) ? KP_ERR_NOMEM : KP_OK;
	json_decref(val);
	return kp_errf(eb, KP_ERR_INVALID, "add operation does not apply: doc is missing path: \"%s\"", path);
}

static kp_err jp_remove(json_t *root, const char *path, const char *opname, struct kp_errbuf *eb)
{
	json_t *parent;
	char last[1024];
	size_t i;

	if (!*path || !ptr_parent(root, path, &parent, last, sizeof(last)))
		return kp_errf(eb, KP_ERR_INVALID, "%s operation does not apply: doc is missing path: \"%s\"", opname,
			       path);
	if (json_is_object(parent) && json_object_get(parent, last)) {
		json_object_del(parent, last);
		return KP_OK;
	}
	if (json_is_array(parent) && array_index(last, json_array_size(parent), false, &i)) {
		json_array_remove(parent, i);
		return KP_OK;
	}
	return kp_errf(eb, KP_ERR_INVALID, "%s operation does not apply: doc is missing path: \"%s\"", opname, path);
}

/* true if from is a proper prefix (by tokens) of path */
static bool ptr_is_prefix(const char *from, const char *path)
{
	size_t n = strlen(from);
	return strncmp(from, path, n) == 0 && path[n] == '/';
}

json_t *kp_apiserver__patch_json(const json_t *orig, const json_t *patch, struct kp_errbuf *eb)
{
	json_t *doc;
	size_t i;

	if (!json_is_array(patch)) {
		kp_errf(eb, KP_ERR_INVALID, "json patch must be an array of operations");
		return NULL;
	}
	doc = json_deep_copy(orig);
	if (!doc) {
		kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	for (i = 0; i < json_array_size(patch); i++) {
		const json_t *opj = json_array_get(patch, i);
		const char *op = json_string_value(json_object_get(opj, "op"));
		const char *path = json_string_value(json_object_get(opj, "path"));
		const char *from = json_string_value(json_object_get(opj, "from"));
		const json_t *value = json_object_get(opj, "value");
		kp_err rc = KP_OK;

		if (!op || !path) {
			rc = kp_errf(eb, KP_ERR_INVALID, "operation %zu: \"op\" and \"path\" are required", i);
		} else if (!strcmp(op, "add")) {
			rc = value ? jp_add(&doc, path, json_deep_copy(value), eb)
				   : kp_errf(eb, KP_ERR_INVALID, "add operation: missing value");
		} else if (!strcmp(op, "remove")) {
			rc = jp_remove(doc, path, "remove", eb);
		} else if (!strcmp(op, "replace")) {
			if (!value)
				rc = kp_errf(eb, KP_ERR_INVALID, "replace operation: missing value");
			else if (!*path) {
				json_decref(doc);
				doc = json_deep_copy(value);
			} else if (!(rc = jp_remove(doc, path, "replace", eb)))
				rc = jp_add(&doc, path, json_deep_copy(value), eb);
		} else if (!strcmp(op, "move") || !strcmp(op, "copy")) {
			json_t *src = from ? ptr_get(doc, from) : NULL;
			if (!from || !src) {
				rc = kp_errf(eb, KP_ERR_INVALID, "%s operation does not apply: doc is missing from "
								 "path: \"%s\"", op, from ? from : "");
			} else if (!strcmp(op, "move") && ptr_is_prefix(from, path)) {
				rc = kp_errf(eb, KP_ERR_INVALID, "move operation: path \"%s\" is inside from \"%s\"",
					     path, from);
			} else {
				json_t *val = json_deep_copy(src);
				if (!strcmp(op, "move") && strcmp(from, path) != 0)
					rc = jp_remove(doc, from, "move", eb);
				if (!rc && !(!strcmp(op, "move") && !strcmp(from, path)))
					rc = jp_add(&doc, path, json_incref(val), eb);
				json_decref(val);
			}
		} else if (!strcmp(op, "test")) {
			json_t *cur = ptr_get(doc, path);
			if (!cur || !value || !json_equal(cur, (json_t *)value))
				rc = kp_errf(eb, KP_ERR_INVALID, "testing value %s failed: test failed", path);
		} else {
			rc = kp_errf(eb, KP_ERR_INVALID, "unexpected kind: %s", op);
		}
		if (rc) {
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}

/* ---- strategic merge patch ---- */

enum list_strategy { LIST_REPLACE, LIST_MERGE_MAPS, LIST_MERGE_PRIMITIVES };

struct list_rule {
	const char *parent;   /* field name of the enclosing map's list/field, NULL = any */
	const char *field;
	const char *key;      /* merge key; NULL for primitive set merge */
};

static const struct list_rule list_rules[] = {
	{NULL, "containers", "name"},
	{NULL, "initContainers", "name"},
	{NULL, "ephemeralContainers", "name"},
	{"spec", "ports", "port"},           /* Service */
	{NULL, "ports", "containerPort"},    /* containers[].ports */
	{NULL, "env", "name"},
	{NULL, "volumes", "name"},
	{NULL, "volumeMounts", "mountPath"},
	{NULL, "volumeDevices", "devicePath"},
	{NULL, "imagePullSecrets", "name"},
	{NULL, "ownerReferences", "uid"},
	{NULL, "conditions", "type"},
	{NULL, "hostAliases", "ip"},
	{NULL, "topologySpreadConstraints", "topologyKey"},
	{NULL, "resourceClaims", "name"},
	{NULL, "schedulingGates", "name"},
	{NULL, "addresses", "type"},
	{NULL, "podIPs", "ip"},
	{NULL, "hostIPs", "ip"},
	{NULL, "resizePolicy", "resourceName"},
	{NULL, "finalizers", NULL},
};

static enum list_strategy list_strategy(const char *parent, const char *field, const char **key)
{
	*key = NULL;
	for (size_t i = 0; i < KP_ARRAY_LEN(list_rules); i++) {
		const struct list_rule *r = &list_rules[i];
		if (strcmp(r->field, field) != 0)
			continue;
		if (r->parent && (!parent || strcmp(r->parent, parent) != 0))
			continue;
		*key = r->key;
		return r->key ? LIST_MERGE_MAPS : LIST_MERGE_PRIMITIVES;
	}
	return LIST_REPLACE;
}

struct smp {
	struct kp_errbuf *eb;
	int depth;
};

static json_t *smp_map(struct smp *s, const json_t *orig, const json_t *patch, const char *field, bool *deleted);
static json_t *smp_list(struct smp *s, const json_t *orig, const json_t *patch, const char *parent,
			const char *field);

static bool is_directive(const char *k)
{
	return k[0] == '$';
}

/* Strips directives from a value that has no original to merge with. */
static json_t *smp_fresh(struct smp *s, const json_t *v, const char *parent, const char *field)
{
	bool del = false;
	if (json_is_object(v)) {
		json_t *r = smp_map(s, NULL, v, field, &del);
		if (del) {
			json_decref(r);
			return NULL;
		}
		return r;
	}
	if (json_is_array(v))
		return smp_list(s, NULL, v, parent, field);
	return json_deep_copy(v);
}

/* Index of the element of list whose `key` equals that of el, or -1. */
static long find_by_key(const json_t *list, const char *key, const json_t *kv)
{
	for (size_t i = 0; kv && i < json_array_size(list); i++)
		if (json_equal(json_object_get(json_array_get(list, i), key), (json_t *)kv))
			return (long)i;
	return -1;
}

static long find_value(const json_t *list, const json_t *v)
{
	for (size_t i = 0; i < json_array_size(list); i++)
		if (json_equal(json_array_get(list, i), (json_t *)v))
			return (long)i;
	return -1;
}

static json_t *smp_list(struct smp *s, const json_t *orig, const json_t *patch, const char *parent,
			const char *field)
{
	const char *key;
	enum list_strategy st = list_strategy(parent, field, &key);
	json_t *out;
	size_t i;
	bool replace = false;

	for (i = 0; i < json_array_size(patch); i++) {
		const char *d = json_string_value(json_object_get(json_array_get(patch, i), "$patch"));
		if (d && !strcmp(d, "replace"))
			replace = true;
	}
	if (st == LIST_REPLACE || replace || !json_is_array(orig)) {
		out = json_array();
		for (i = 0; i < json_array_size(patch); i++) {
			const json_t *el = json_array_get(patch, i);
			const char *d = json_string_value(json_object_get(el, "$patch"));
			json_t *c;
			if (json_is_object(el) && d && (!strcmp(d, "replace") || !strcmp(d, "delete")))
				continue;
			c = smp_fresh(s, el, field, field);
			if (c)
				json_array_append_new(out, c);
		}
		return out;
	}
	out = json_deep_copy(orig);
	if (st == LIST_MERGE_PRIMITIVES) {
		for (i = 0; i < json_array_size(patch); i++) {
			const json_t *el = json_array_get(patch, i);
			if (json_is_object(el))
				continue;
			if (find_value(out, el) < 0)
				json_array_append_new(out, json_deep_copy(el));
		}
		return out;
	}
	for (i = 0; i < json_array_size(patch); i++) {
		const json_t *el = json_array_get(patch, i);
		const json_t *kv = json_object_get(el, key);
		const char *d = json_string_value(json_object_get(el, "$patch"));
		long at = find_by_key(out, key, kv);
		bool del = false;
		json_t *m;

		if (!json_is_object(el))
			continue;
		if (d && !strcmp(d, "delete")) {
			while (at >= 0) {
				json_array_remove(out, (size_t)at);
				at = find_by_key(out, key, kv);
			}
			continue;
		}
		m = smp_map(s, at >= 0 ? json_array_get(out, (size_t)at) : NULL, el, field, &del);
		if (!m && !del) {
			json_decref(out);
			return NULL;
		}
		if (del) {
			json_decref(m);
			if (at >= 0)
				json_array_remove(out, (size_t)at);
		} else if (at >= 0) {
			json_array_set_new(out, (size_t)at, m);
		} else {
			json_array_append_new(out, m);
		}
	}
	return out;
}

/* Identity of a list element for ordering: its merge key value or itself. */
static const json_t *elem_id(const json_t *el, const char *key)
{
	return key && json_is_object(el) ? json_object_get(el, key) : el;
}

static long index_of_id(const json_t *list, const char *key, const json_t *id)
{
	for (size_t i = 0; id && i < json_array_size(list); i++)
		if (json_equal((json_t *)elem_id(json_array_get(list, i), key), (json_t *)id))
			return (long)i;
	return -1;
}

/* $setElementOrder: elements named in order come in that order; the others
 * (present only on the server) keep their server order, merged in front of
 * a patch element unless both are known and the patch one came first
 * (mergeSortedSlice in apimachinery). */
static json_t *apply_order(const json_t *merged, const json_t *order, const json_t *server, const char *key)
{
	json_t *left = json_array(), *right = json_array(), *out = json_array();
	size_t i, j;

	for (i = 0; i < json_array_size(order); i++) {
		const json_t *id = elem_id(json_array_get(order, i), key);
		long at = index_of_id(merged, key, id);
		if (at >= 0 && index_of_id(left, key, id) < 0)
			json_array_append(left, json_array_get(merged, (size_t)at));
	}
	for (i = 0; i < json_array_size(merged); i++) {
		const json_t *el = json_array_get(merged, i);
		if (index_of_id(order, key, elem_id(el, key)) < 0 &&
		    !(key && index_of_id(order, NULL, elem_id(el, key)) >= 0))
			json_array_append(right, (json_t *)el);
	}
	i = j = 0;
	while (i < json_array_size(left) || j < json_array_size(right)) {
		if (i >= json_array_size(left)) {
			json_array_append(out, json_array_get(right, j++));
		} else if (j >= json_array_size(right)) {
			json_array_append(out, json_array_get(left, i++));
		} else {
			long li = index_of_id(server, key, elem_id(json_array_get(left, i), key));
			long ri = index_of_id(server, key, elem_id(json_array_get(right, j), key));
			if (li >= 0 && ri >= 0 && li < ri)
				json_array_append(out, json_array_get(left, i++));
			else
				json_array_append(out, json_array_get(right, j++));
		}
	}
	json_decref(left);
	json_decref(right);
	return out;
}

static json_t *smp_map(struct smp *s, const json_t *orig, const json_t *patch, const char *field, bool *deleted)
{
	const char *d = json_string_value(json_object_get(patch, "$patch"));
	const json_t *retain = json_object_get(patch, "$retainKeys");
	const char *k;
	json_t *v, *out;

	*deleted = false;
	if (++s->depth > 100) {
		kp_errf(s->eb, KP_ERR_LIMIT, "strategic merge patch nested too deeply");
		s->depth--;
		return NULL;
	}
	if (d && !strcmp(d, "delete")) {
		*deleted = true;
		s->depth--;
		return NULL;
	}
	if (d && !strcmp(d, "replace"))
		orig = NULL;
	else if (d && strcmp(d, "merge") != 0) {
		kp_errf(s->eb, KP_ERR_INVALID, "unknown patch type: %s in map: %s", d, field ? field : "");
		s->depth--;
		return NULL;
	}
	out = json_is_object(orig) ? json_deep_copy(orig) : json_object();
	json_object_foreach((json_t *)patch, k, v)
	{
		if (is_directive(k)) {
			if (!strncmp(k, "$deleteFromPrimitiveList/", 25)) {
				json_t *list = json_object_get(out, k + 25);
				for (size_t i = 0; json_is_array(list) && i < json_array_size(v); i++) {
					long at;
					while ((at = find_value(list, json_array_get(v, i))) >= 0)
						json_array_remove(list, (size_t)at);
				}
			}
			continue;
		}
		if (json_is_null(v)) {
			json_object_del(out, k);
		} else if (json_is_object(v)) {
			bool del = false;
			json_t *m = smp_map(s, json_object_get(out, k), v, k, &del);
			if (!m && !del)
				goto fail;
			if (del)
				json_object_del(out, k);
			else
				json_object_set_new(out, k, m);
		} else if (json_is_array(v)) {
			json_t *m = smp_list(s, json_object_get(out, k), v, field, k);
			if (!m)
				goto fail;
			json_object_set_new(out, k, m);
		} else {
			json_object_set_new(out, k, json_deep_copy(v));
		}
	}
	json_object_foreach((json_t *)patch, k, v)
	{
		if (strncmp(k, "$setElementOrder/", 17) != 0)
			continue;
		json_t *list = json_object_get(out, k + 17);
		const char *key;
		if (!json_is_array(list))
			continue;
		list_strategy(field, k + 17, &key);
		json_object_set_new(out, k + 17,
				    apply_order(list, v, json_object_get(orig, k + 17), key));
	}
	if (json_is_array(retain)) {
		void *it = json_object_iter(out);
		while (it) {
			const char *key = json_object_iter_key(it);
			void *next = json_object_iter_next(out, it);
			bool keep = false;
			for (size_t i = 0; i < json_array_size(retain) && !keep; i++)
				keep = json_string_value(json_array_get(retain, i)) &&
				       !strcmp(json_string_value(json_array_get(retain, i)), key);
			if (!keep)
				json_object_del(out, key);
			it = next;
		}
	}
	s->depth--;
	return out;
fail:
	json_decref(out);
	s->depth--;
	return NULL;
}

json_t *kp_apiserver__patch_strategic(const struct kp_apiserver__res *res, const json_t *orig, const json_t *patch,
			   struct kp_errbuf *eb)
{
	struct smp s = {eb, 0};
	bool del = false;
	json_t *out;

	if (res && !res->builtin) {
		kp_errf(eb, KP_ERR_INVALID, "strategic merge patch is not supported for %s.%s: use a merge patch",
			res->plural, res->group);
		return NULL;
	}
	if (!json_is_object(patch)) {
		kp_errf(eb, KP_ERR_INVALID, "strategic merge patch must be a JSON object");
		return NULL;
	}
	out = smp_map(&s, orig, patch, NULL, &del);
	if (del) {
		json_decref(out);
		kp_errf(eb, KP_ERR_INVALID, "strategic merge patch may not delete the whole object");
		return NULL;
	}
	if (!out && eb && !eb->msg[0])
		kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	return out;
}
