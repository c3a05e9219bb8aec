/*
 * ssa.c - server-side apply and managedFields (see ssa.h).
 *
 * Field sets are held in an expanded FieldsV1 form: every path that is a
 * member of the set has a "." child, so a leaf is {".":{}} and the set
 * operations (union, difference, intersection) are plain recursive walks;
 * FieldsV1 as stored collapses {".":{}} to {}. Followed: structured-merge-diff
 * v4 merge.Updater.Apply/Update (conflicts only where a value changes,
 * force removes the fields from the other managers, removal of fields the
 * applier no longer applies and nobody else owns) and apiserver's
 * fieldmanager (stripped metadata fields, conflict messages in
 * internal/conflict.go, manager identity = manager + operation + subresource).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver/ssa.h"

/* ---- list types ---- */

enum ssa_lt { LT_ATOMIC, LT_MAP, LT_SET };

struct ssa_ctx {
	const json_t *schema;       /* schema of the current value (CRDs), NULL for built-ins */
	const char *field;          /* name of the field holding the current value */
	const char *parent;         /* name of the field holding the enclosing object */
};

static const char *const keys_name[] = {"name", NULL};
static const char *const keys_cport[] = {"containerPort", "protocol", NULL};
static const char *const keys_port[] = {"port", "protocol", NULL};
static const char *const keys_mount[] = {"mountPath", NULL};
static const char *const keys_dev[] = {"devicePath", NULL};
static const char *const keys_type[] = {"type", NULL};
static const char *const keys_uid[] = {"uid", NULL};
static const char *const keys_ip[] = {"ip", NULL};
static const char *const keys_tsc[] = {"topologyKey", "whenUnsatisfiable", NULL};

/* built-in list types: the upstream types' patch merge keys / listType */
static enum ssa_lt builtin_list(const char *field, const char *parent, const char *const **keys)
{
	static const struct {
		const char *field;
		const char *const *keys;
	} maps[] = {
		{"containers", keys_name},     {"initContainers", keys_name}, {"ephemeralContainers", keys_name},
		{"volumes", keys_name},        {"env", keys_name},            {"imagePullSecrets", keys_name},
		{"volumeMounts", keys_mount},  {"volumeDevices", keys_dev},   {"conditions", keys_type},
		{"ownerReferences", keys_uid}, {"hostAliases", keys_ip},      {"resourceClaims", keys_name},
		{"topologySpreadConstraints", keys_tsc},
	};
	if (!field)
		return LT_ATOMIC;
	if (strcmp(field, "finalizers") == 0)
		return LT_SET;
	if (strcmp(field, "ports") == 0 && parent) {
		if (strcmp(parent, "containers") == 0 || strcmp(parent, "initContainers") == 0 ||
		    strcmp(parent, "ephemeralContainers") == 0) {
			*keys = keys_cport;
			return LT_MAP;
		}
		if (strcmp(parent, "spec") == 0) {
			*keys = keys_port;
			return LT_MAP;
		}
		return LT_ATOMIC;
	}
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if (strcmp(maps[i].field, field) == 0) {
			*keys = maps[i].keys;
			return LT_MAP;
		}
	return LT_ATOMIC;
}

/* List type of the array at ctx; map keys into keys[] (up to 7) */
static enum ssa_lt list_type(const struct ssa_ctx *c, const char **keys)
{
	keys[0] = NULL;
	if (c->schema) {
		const char *lt = json_string_value(json_object_get(c->schema, "x-kubernetes-list-type"));
		if (lt && strcmp(lt, "set") == 0)
			return LT_SET;
		if (lt && strcmp(lt, "map") == 0) {
			const json_t *mk = json_object_get(c->schema, "x-kubernetes-list-map-keys");
			size_t i;
			for (i = 0; i < json_array_size(mk) && i < 7; i++)
				keys[i] = json_string_value(json_array_get(mk, i));
			keys[i] = NULL;
			return i ? LT_MAP : LT_ATOMIC;
		}
		return LT_ATOMIC;
	}
	const char *const *bk = NULL;
	enum ssa_lt t = builtin_list(c->field, c->parent, &bk);
	if (t == LT_MAP) {
		size_t i;
		for (i = 0; bk[i] && i < 7; i++)
			keys[i] = bk[i];
		keys[i] = NULL;
	}
	return t;
}

static bool atomic_map(const struct ssa_ctx *c)
{
	const char *mt = c->schema ? json_string_value(json_object_get(c->schema, "x-kubernetes-map-type")) : NULL;
	return mt && strcmp(mt, "atomic") == 0;
}

static struct ssa_ctx child_ctx(const struct ssa_ctx *c, const char *key)
{
	struct ssa_ctx r = {NULL, key, c->field};
	if (c->schema) {
		const json_t *p = json_object_get(json_object_get(c->schema, "properties"), key);
		if (!p)
			p = json_object_get(c->schema, "additionalProperties");
		r.schema = json_is_object(p) ? p : NULL;
	}
	return r;
}

static struct ssa_ctx item_ctx(const struct ssa_ctx *c)
{
	/* the element of list `field` is an object whose fields have parent `field` */
	struct ssa_ctx r = {NULL, c->field, c->parent};
	if (c->schema) {
		const json_t *it = json_object_get(c->schema, "items");
		r.schema = json_is_object(it) ? it : NULL;
	}
	return r;
}

/* "k:{...}" for a map-list element, NULL if the element lacks every key */
static char *elem_key(const json_t *e, const char **keys)
{
	if (!json_is_object(e))
		return NULL;
	json_t *k = json_object();
	if (!k)
		return NULL;
	for (int i = 0; keys[i]; i++) {
		json_t *v = json_object_get(e, keys[i]);
		if (v && !json_is_null(v))
			json_object_set(k, keys[i], v);
	}
	char *r = NULL;
	if (json_object_size(k)) {
		char *s = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
		if (s) {
			size_t l = strlen(s) + 3;
			r = malloc(l);
			if (r)
				snprintf(r, l, "k:%s", s);
			free(s);
		}
	}
	json_decref(k);
	return r;
}

static bool list_keyed(const json_t *arr, const char **keys)
{
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *e = json_array_get(arr, i);
		bool any = false;
		if (!json_is_object(e))
			return false;
		for (int k = 0; keys[k] && !any; k++) {
			const json_t *v = json_object_get(e, keys[k]);
			any = v && !json_is_null(v);
		}
		if (!any)
			return false;
	}
	return true;
}

/* ---- field sets ---- */

static json_t *node_child(json_t *node, const char *key)
{
	json_t *c = json_object_get(node, key);
	if (!c) {
		c = json_object();
		if (json_object_set_new(node, key, c))
			return NULL;
	}
	return c;
}

static int mark(json_t *node)
{
	return json_object_set_new(node, ".", json_object());
}

static int fs_value(json_t *node, const json_t *v, const struct ssa_ctx *c);

static int fs_object(json_t *node, const json_t *v, const struct ssa_ctx *c, bool root, bool ignore_status)
{
	const char *k;
	const json_t *cv;
	json_object_foreach((json_t *)v, k, cv) {
		if (json_is_null(cv))
			continue;
		if (root && (strcmp(k, "apiVersion") == 0 || strcmp(k, "kind") == 0 ||
			     (ignore_status && strcmp(k, "status") == 0)))
			continue;
		struct ssa_ctx cc = child_ctx(c, k);
		char fk[512];
		snprintf(fk, sizeof(fk), "f:%s", k);
		json_t *ch = node_child(node, fk);
		if (!ch)
			return -1;
		if (root && strcmp(k, "metadata") == 0 && json_is_object(cv)) {
			static const char *const server[] = {"name", "namespace", "uid", "resourceVersion",
							     "generation", "creationTimestamp", "deletionTimestamp",
							     "deletionGracePeriodSeconds", "managedFields", "selfLink",
							     "generateName", NULL};
			const char *mk;
			const json_t *mv;
			json_object_foreach((json_t *)cv, mk, mv) {
				bool skip = json_is_null(mv);
				for (int i = 0; server[i] && !skip; i++)
					skip = strcmp(server[i], mk) == 0;
				if (skip)
					continue;
				char mfk[512];
				snprintf(mfk, sizeof(mfk), "f:%s", mk);
				json_t *mch = node_child(ch, mfk);
				struct ssa_ctx mc = child_ctx(&cc, mk);
				if (!mch || fs_value(mch, mv, &mc))
					return -1;
			}
			if (!json_object_size(ch))
				json_object_del(node, fk);
			continue;
		}
		if (fs_value(ch, cv, &cc))
			return -1;
	}
	return 0;
}

static int fs_value(json_t *node, const json_t *v, const struct ssa_ctx *c)
{
	if (json_is_object(v) && json_object_size(v) && !atomic_map(c))
		return fs_object(node, v, c, false, false);
	if (json_is_array(v) && json_array_size(v)) {
		const char *keys[8];
		enum ssa_lt lt = list_type(c, keys);
		if (lt == LT_MAP && list_keyed(v, keys)) {
			struct ssa_ctx ic = item_ctx(c);
			for (size_t i = 0; i < json_array_size(v); i++) {
				const json_t *e = json_array_get(v, i);
				char *k = elem_key(e, keys);
				json_t *ch = k ? node_child(node, k) : NULL;
				free(k);
				if (!ch || mark(ch) || fs_object(ch, e, &ic, false, false))
					return -1;
			}
			return 0;
		}
		if (lt == LT_SET) {
			for (size_t i = 0; i < json_array_size(v); i++) {
				char *s = json_dumps(json_array_get(v, i), JSON_COMPACT | JSON_ENCODE_ANY);
				if (!s)
					return -1;
				size_t l = strlen(s) + 3;
				char *k = malloc(l);
				if (k)
					snprintf(k, l, "v:%s", s);
				free(s);
				json_t *ch = k ? node_child(node, k) : NULL;
				free(k);
				if (!ch || mark(ch))
					return -1;
			}
			return 0;
		}
	}
	return mark(node);
}

json_t *kp_apiserver__ssa_fieldset(const json_t *obj, const json_t *schema, bool ignore_status)
{
	json_t *t = json_object();
	struct ssa_ctx c = {schema, NULL, NULL};
	if (!t)
		return NULL;
	if (json_is_object(obj) && fs_object(t, obj, &c, true, ignore_status)) {
		json_decref(t);
		return NULL;
	}
	return t;
}

/* expanded <-> stored FieldsV1 */
static json_t *fs_expand(const json_t *f)
{
	json_t *r = json_object();
	if (!r)
		return NULL;
	if (!json_is_object(f) || json_object_size(f) == 0) {
		mark(r);
		return r;
	}
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)f, k, v) {
		if (strcmp(k, ".") == 0)
			mark(r);
		else
			json_object_set_new(r, k, fs_expand(v));
	}
	return r;
}

static json_t *fs_collapse(const json_t *f)
{
	json_t *r = json_object();
	if (!r)
		return NULL;
	if (json_object_size(f) == 1 && json_object_get(f, "."))
		return r;
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)f, k, v)
		json_object_set_new(r, k, strcmp(k, ".") == 0 ? json_object() : fs_collapse(v));
	return r;
}

static json_t *fs_diff(const json_t *a, const json_t *b)
{
	json_t *r = json_object();
	const char *k;
	const json_t *v;
	if (!r)
		return NULL;
	json_object_foreach((json_t *)a, k, v) {
		const json_t *y = json_object_get(b, k);
		if (strcmp(k, ".") == 0) {
			if (!y)
				mark(r);
		} else if (!y) {
			json_object_set_new(r, k, json_deep_copy(v));
		} else {
			json_t *d = fs_diff(v, y);
			if (d && json_object_size(d))
				json_object_set_new(r, k, d);
			else
				json_decref(d);
		}
	}
	return r;
}

static json_t *fs_inter(const json_t *a, const json_t *b)
{
	json_t *r = json_object();
	const char *k;
	const json_t *v;
	if (!r)
		return NULL;
	json_object_foreach((json_t *)a, k, v) {
		const json_t *y = json_object_get(b, k);
		if (!y)
			continue;
		if (strcmp(k, ".") == 0) {
			mark(r);
			continue;
		}
		json_t *d = fs_inter(v, y);
		if (d && json_object_size(d))
			json_object_set_new(r, k, d);
		else
			json_decref(d);
	}
	return r;
}

/* ---- paths into objects ---- */

static bool elem_matches(const json_t *e, const json_t *key)
{
	const char *k;
	const json_t *v;
	if (!json_is_object(e))
		return false;
	json_object_foreach((json_t *)key, k, v)
		if (!json_equal(json_object_get(e, k), v))
			return false;
	return true;
}

/* index of the element of arr a path element names, -1 if none */
static long step_index(const json_t *arr, const char *pe)
{
	if (!json_is_array(arr) || (strncmp(pe, "k:", 2) != 0 && strncmp(pe, "v:", 2) != 0))
		return -1;
	json_t *want = json_loads(pe + 2, JSON_DECODE_ANY, NULL);
	long r = -1;
	for (size_t i = 0; want && i < json_array_size(arr) && r < 0; i++) {
		const json_t *e = json_array_get(arr, i);
		if (pe[0] == 'k' ? elem_matches(e, want) : json_equal(e, want))
			r = (long)i;
	}
	json_decref(want);
	return r;
}

static json_t *step(const json_t *obj, const char *pe)
{
	if (!obj)
		return NULL;
	if (strncmp(pe, "f:", 2) == 0)
		return json_is_object(obj) ? json_object_get(obj, pe + 2) : NULL;
	long i = step_index(obj, pe);
	return i >= 0 ? json_array_get(obj, (size_t)i) : NULL;
}

/* ".spec.containers[name=\"a\"].image" */
static void path_elem_str(const char *pe, char *buf, size_t n)
{
	if (strncmp(pe, "f:", 2) == 0) {
		snprintf(buf, n, ".%s", pe + 2);
		return;
	}
	if (strncmp(pe, "v:", 2) == 0) {
		snprintf(buf, n, "[=%s]", pe + 2);
		return;
	}
	json_t *k = json_loads(pe + 2, 0, NULL);
	size_t o = 0;
	const char *kk;
	json_t *v;
	o += (size_t)snprintf(buf, n, "[");
	json_object_foreach(k, kk, v) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (o < n)
			o += (size_t)snprintf(buf + o, n - o, "%s%s=%s", o > 1 ? "," : "", kk, s ? s : "");
		free(s);
	}
	if (o < n)
		snprintf(buf + o, n - o, "]");
	json_decref(k);
}

/* leaves of set `t` whose value differs between a and b */
static void changed_leaves(const json_t *t, const json_t *a, const json_t *b, char *path, size_t plen, size_t cap,
			   json_t *out)
{
	const char *k;
	const json_t *v;
	bool leaf = json_object_size(t) == 1 && json_object_get(t, ".");
	if (leaf) {
		if (!json_equal((json_t *)a, (json_t *)b) && !(a == NULL && b == NULL))
			json_array_append_new(out, json_string(path));
		return;
	}
	json_object_foreach((json_t *)t, k, v) {
		if (strcmp(k, ".") == 0) {
			/* a member with children: compare its presence only */
			if ((a == NULL) != (b == NULL))
				json_array_append_new(out, json_string(path));
			continue;
		}
		char pe[512];
		path_elem_str(k, pe, sizeof(pe));
		int w = snprintf(path + plen, cap - plen, "%s", pe);
		size_t nl = w > 0 && (size_t)w < cap - plen ? plen + (size_t)w : plen;
		changed_leaves(v, step(a, k), step(b, k), path, nl, cap, out);
		path[plen] = '\0';
	}
}

/* removes the members of set t from obj (in place) */
static void remove_set(json_t *obj, const json_t *t)
{
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)t, k, v) {
		if (strcmp(k, ".") == 0)
			continue;
		bool member = json_object_get(v, ".") != NULL;
		if (strncmp(k, "f:", 2) == 0) {
			if (!json_is_object(obj))
				continue;
			if (member)
				json_object_del(obj, k + 2);
			else
				remove_set(json_object_get(obj, k + 2), v);
		} else {
			long i = step_index(obj, k);
			if (i < 0)
				continue;
			if (member)
				json_array_remove(obj, (size_t)i);
			else
				remove_set(json_array_get(obj, (size_t)i), v);
		}
	}
}

/* ---- merge of an applied configuration ---- */

static json_t *merge(const json_t *live, const json_t *ap, const struct ssa_ctx *c)
{
	if (json_is_object(live) && json_is_object(ap) && !atomic_map(c)) {
		json_t *r = json_deep_copy(live);
		const char *k;
		const json_t *v;
		if (!r)
			return NULL;
		json_object_foreach((json_t *)ap, k, v) {
			if (json_is_null(v)) {
				json_object_del(r, k);
				continue;
			}
			struct ssa_ctx cc = child_ctx(c, k);
			json_t *x = json_object_get(r, k);
			json_object_set_new(r, k, x ? merge(x, v, &cc) : json_deep_copy(v));
		}
		return r;
	}
	if (json_is_array(live) && json_is_array(ap)) {
		const char *keys[8];
		enum ssa_lt lt = list_type(c, keys);
		if (lt == LT_MAP && list_keyed(ap, keys) && list_keyed(live, keys)) {
			json_t *r = json_deep_copy(live);
			struct ssa_ctx ic = item_ctx(c);
			for (size_t i = 0; r && i < json_array_size(ap); i++) {
				const json_t *e = json_array_get(ap, i);
				char *k = elem_key(e, keys);
				long at = k ? step_index(r, k) : -1;
				free(k);
				if (at >= 0)
					json_array_set_new(r, (size_t)at, merge(json_array_get(r, (size_t)at), e, &ic));
				else
					json_array_append_new(r, json_deep_copy(e));
			}
			return r;
		}
		if (lt == LT_SET) {
			json_t *r = json_deep_copy(live);
			for (size_t i = 0; r && i < json_array_size(ap); i++) {
				const json_t *e = json_array_get(ap, i);
				bool have = false;
				for (size_t j = 0; j < json_array_size(r) && !have; j++)
					have = json_equal(json_array_get(r, j), (json_t *)e);
				if (!have)
					json_array_append_new(r, json_deep_copy(e));
			}
			return r;
		}
	}
	return json_deep_copy(ap);
}

/* ---- managedFields entries ---- */

struct ssa_mgr {
	json_t *entry;              /* the entry as stored (held) */
	json_t *set;                /* expanded field set (owned) */
	bool clean;                 /* set unchanged since loaded: the stored entry is kept as is */
};

/* The entry of (manager, op, subresource): a manager's writes to the
 * object and to each of its subresources are separate entries. */
static bool entry_is(const json_t *e, const struct kp_apiserver__ssa_req *q, const char *op)
{
	const char *m = json_string_value(json_object_get(e, "manager"));
	const char *o = json_string_value(json_object_get(e, "operation"));
	const char *sub = json_string_value(json_object_get(e, "subresource"));
	const char *want = q->subresource ? q->subresource : "";
	return m && o && strcmp(m, q->manager) == 0 && strcmp(o, op) == 0 && strcmp(sub ? sub : "", want) == 0;
}

static int load_mgrs(const json_t *obj, struct ssa_mgr **out, size_t *n)
{
	const json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
	size_t cnt = json_array_size(mf);
	*out = calloc(cnt ? cnt : 1, sizeof(**out));
	*n = 0;
	if (!*out)
		return -1;
	for (size_t i = 0; i < cnt; i++) {
		json_t *e = json_array_get(mf, i);
		if (!json_is_object(e) || !json_string_value(json_object_get(e, "manager")))
			continue;
		(*out)[*n].entry = json_incref(e);
		(*out)[*n].set = fs_expand(json_object_get(e, "fieldsV1"));
		(*n)++;
	}
	return 0;
}

static void free_mgrs(struct ssa_mgr *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(m[i].entry);
		json_decref(m[i].set);
	}
	free(m);
}

static json_t *new_entry(const struct kp_apiserver__ssa_req *q, const char *op)
{
	json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s}", "manager", q->manager, "operation", op, "apiVersion",
			      q->api_version ? q->api_version : "v1", "time", q->now ? q->now : "1970-01-01T00:00:00Z",
			      "fieldsType", "FieldsV1");
	if (e && q->subresource && *q->subresource)
		json_object_set_new(e, "subresource", json_string(q->subresource));
	return e;
}

/* writes the managers back into obj's metadata.managedFields; mine (may be
 * NULL) replaces the entry of (manager, op) */
static int store_mgrs(json_t *obj, struct ssa_mgr *m, size_t n, const struct kp_apiserver__ssa_req *q, const char *op,
		      json_t *mine_set)
{
	json_t *arr = json_array();
	json_t *meta = json_object_get(obj, "metadata");
	bool placed = false;
	if (!arr)
		return -1;
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	for (size_t i = 0; i <= n; i++) {
		json_t *e, *set;
		if (i < n && entry_is(m[i].entry, q, op)) {
			if (placed)
				continue;
			e = new_entry(q, op);
			set = mine_set;
			placed = true;
		} else if (i < n && m[i].clean) {
			json_array_append(arr, m[i].entry);
			continue;
		} else if (i < n) {
			e = json_deep_copy(m[i].entry);
			set = m[i].set;
		} else {
			if (placed || !mine_set)
				break;
			e = new_entry(q, op);
			set = mine_set;
		}
		if (!e)
			continue;
		if (!set || json_object_size(set) == 0) {
			json_decref(e);
			continue;
		}
		json_object_set_new(e, "fieldsV1", fs_collapse(set));
		json_array_append_new(arr, e);
	}
	if (json_array_size(arr))
		json_object_set_new(meta, "managedFields", arr);
	else {
		json_decref(arr);
		json_object_del(meta, "managedFields");
	}
	return 0;
}

/* `"mgr"` or `"mgr" using v1 at TIME` for Update managers (internal/conflict.go printManager) */
static void print_manager(const json_t *e, char *buf, size_t n)
{
	const char *m = json_string_value(json_object_get(e, "manager"));
	const char *op = json_string_value(json_object_get(e, "operation"));
	const char *sub = json_string_value(json_object_get(e, "subresource"));
	const char *av = json_string_value(json_object_get(e, "apiVersion"));
	const char *t = json_string_value(json_object_get(e, "time"));
	size_t o = (size_t)snprintf(buf, n, "\"%s\"", m ? m : "");
	if (sub && *sub && o < n)
		o += (size_t)snprintf(buf + o, n - o, " with subresource \"%s\"", sub);
	if (op && strcmp(op, "Update") == 0 && o < n) {
		if (t)
			snprintf(buf + o, n - o, " using %s at %s", av ? av : "", t);
		else
			snprintf(buf + o, n - o, " using %s", av ? av : "");
	}
}

/* drops null members of objects, recursively: a null in an applied
 * configuration applies nothing (and a non-nullable field's null is pruned) */
static void strip_nulls(json_t *v)
{
	if (json_is_object(v)) {
		const char *k;
		json_t *c;
		void *tmp;
		json_object_foreach_safe(v, tmp, k, c) {
			if (json_is_null(c))
				json_object_del(v, k);
			else
				strip_nulls(c);
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			strip_nulls(json_array_get(v, i));
	}
}

static json_t *strip_applied(const json_t *applied)
{
	json_t *a = json_deep_copy(applied);
	strip_nulls(a);
	json_t *meta = json_object_get(a, "metadata");
	if (json_is_object(meta)) {
		json_object_del(meta, "managedFields");
		json_object_del(meta, "resourceVersion");
	}
	return a;
}

json_t *kp_apiserver__ssa_apply(const struct kp_apiserver__ssa_req *q, const json_t *applied, int *code, char *msg, size_t n,
		     json_t **causes)
{
	struct ssa_ctx root = {q->schema, NULL, NULL};
	struct ssa_mgr *m = NULL;
	size_t nm = 0;
	json_t *ap = NULL, *aset = NULL, *out = NULL, *live = NULL, *conf = NULL;
	*causes = NULL;
	*code = 500;
	snprintf(msg, n, "out of memory");
	if (!json_is_object(applied)) {
		*code = 400;
		snprintf(msg, n, "the applied configuration must be an object");
		return NULL;
	}
	ap = strip_applied(applied);
	if (q->ignore_status && ap)
		json_object_del(ap, "status");
	aset = ap ? kp_apiserver__ssa_fieldset(ap, q->schema, q->ignore_status) : NULL;
	if (!aset)
		goto out;
	if (q->live) {
		/* field sets never hold metadata.managedFields: the live object is used as is */
		if (load_mgrs(q->live, &m, &nm))
			goto out;
		live = json_incref((json_t *)q->live);
		out = merge(live, ap, &root);
	} else {
		out = json_deep_copy(ap);
	}
	if (!out)
		goto out;
	/* conflicts: fields another manager owns whose value this apply changes */
	conf = json_array();
	json_t *mgrs_of = json_array();     /* manager label per conflict */
	if (!conf || !mgrs_of) {
		json_decref(mgrs_of);
		goto out;
	}
	for (size_t i = 0; i < nm; i++) {
		if (entry_is(m[i].entry, q, "Apply"))
			continue;
		json_t *in = fs_inter(aset, m[i].set);
		json_t *ch = json_array();
		char path[2048] = "";
		if (in && ch)
			changed_leaves(in, live, out, path, 0, sizeof(path), ch);
		char who[512];
		print_manager(m[i].entry, who, sizeof(who));
		for (size_t j = 0; j < json_array_size(ch); j++) {
			json_array_append(conf, json_array_get(ch, j));
			json_array_append_new(mgrs_of, json_string(who));
		}
		json_decref(in);
		json_decref(ch);
	}
	if (json_array_size(conf) && !q->force) {
		size_t nc = json_array_size(conf);
		*code = 409;
		*causes = json_array();
		for (size_t j = 0; j < nc; j++) {
			char cm[600];
			snprintf(cm, sizeof(cm), "conflict with %s", json_string_value(json_array_get(mgrs_of, j)));
			json_array_append_new(*causes, json_pack("{s:s, s:s, s:s}", "type", "FieldManagerConflict",
								 "message", cm, "field",
								 json_string_value(json_array_get(conf, j))));
		}
		if (nc == 1) {
			snprintf(msg, n, "Apply failed with 1 conflict: conflict with %s: %s",
				 json_string_value(json_array_get(mgrs_of, 0)), json_string_value(json_array_get(conf, 0)));
		} else {
			/* grouped by manager, managers in sorted order */
			size_t o = (size_t)snprintf(msg, n, "Apply failed with %zu conflicts: ", nc);
			json_t *done = json_object();
			for (size_t pass = 0; pass < nc; pass++) {
				const char *best = NULL;
				for (size_t j = 0; j < nc; j++) {
					const char *w = json_string_value(json_array_get(mgrs_of, j));
					if (!json_object_get(done, w) && (!best || strcmp(w, best) < 0))
						best = w;
				}
				if (!best)
					break;
				if (o < n)
					o += (size_t)snprintf(msg + o, n - o, "%sconflicts with %s:", pass ? "\n" : "", best);
				for (size_t j = 0; j < nc; j++)
					if (strcmp(json_string_value(json_array_get(mgrs_of, j)), best) == 0 && o < n)
						o += (size_t)snprintf(msg + o, n - o, "\n- %s",
								      json_string_value(json_array_get(conf, j)));
				json_object_set_new(done, best, json_true());
			}
			json_decref(done);
		}
		json_decref(mgrs_of);
		json_decref(out);
		out = NULL;
		goto out;
	}
	json_decref(mgrs_of);
	/* force: the others lose what this apply sets */
	for (size_t i = 0; i < nm && q->force; i++) {
		if (entry_is(m[i].entry, q, "Apply"))
			continue;
		json_t *d = fs_diff(m[i].set, aset);
		json_decref(m[i].set);
		m[i].set = d;
	}
	/* removal: what this manager applied before and no longer applies, unless someone else owns it */
	for (size_t i = 0; i < nm; i++) {
		if (!entry_is(m[i].entry, q, "Apply"))
			continue;
		json_t *gone = fs_diff(m[i].set, aset);
		for (size_t j = 0; gone && j < nm; j++) {
			if (j == i)
				continue;
			json_t *d = fs_diff(gone, m[j].set);
			json_decref(gone);
			gone = d;
		}
		if (gone)
			remove_set(out, gone);
		json_decref(gone);
	}
	if (store_mgrs(out, m, nm, q, "Apply", aset)) {
		json_decref(out);
		out = NULL;
		goto out;
	}
	*code = 0;
	msg[0] = '\0';
out:
	free_mgrs(m, nm);
	json_decref(ap);
	json_decref(aset);
	json_decref(live);
	json_decref(conf);
	return out;
}

/* set -= t, in place; true if set changed */
static bool fs_sub_inplace(json_t *set, const json_t *t)
{
	const char *k;
	const json_t *v;
	bool changed = false;
	json_object_foreach((json_t *)t, k, v) {
		json_t *x = json_object_get(set, k);
		if (!x)
			continue;
		if (strcmp(k, ".") == 0) {
			json_object_del(set, ".");
			changed = true;
			continue;
		}
		changed |= fs_sub_inplace(x, v);
		if (json_object_size(x) == 0)
			json_object_del(set, k);
	}
	return changed;
}

/* set |= t, in place */
static void fs_add_inplace(json_t *set, const json_t *t)
{
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)t, k, v) {
		json_t *x = json_object_get(set, k);
		if (x)
			fs_add_inplace(x, v);
		else
			json_object_set_new(set, k, json_deep_copy(v));
	}
}

/* the field set of the value v alone (new reference) */
static json_t *subtree_set(const json_t *v, const struct ssa_ctx *c)
{
	json_t *n = json_object();
	if (n && fs_value(n, v, c)) {
		json_decref(n);
		return NULL;
	}
	return n;
}

/* puts sub (taken, may be NULL) under key k of *tree, creating *tree */
static void put(json_t **tree, const char *k, json_t *sub)
{
	if (!sub)
		return;
	if (json_object_size(sub) == 0) {
		json_decref(sub);
		return;
	}
	if (!*tree)
		*tree = json_object();
	if (*tree)
		json_object_set_new(*tree, k, sub);
	else
		json_decref(sub);
}

static bool root_skip(int level, const char *k, bool ignore_status)
{
	static const char *const server[] = {"name", "namespace", "uid", "resourceVersion", "generation",
					     "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
					     "managedFields", "selfLink", "generateName", NULL};
	if (level == 0)
		return strcmp(k, "apiVersion") == 0 || strcmp(k, "kind") == 0 ||
		       (ignore_status && strcmp(k, "status") == 0);
	if (level == 1)
		for (int i = 0; server[i]; i++)
			if (strcmp(server[i], k) == 0)
				return true;
	return false;
}

static const json_t *find_keyed(const json_t *arr, const json_t *e, const char **keys)
{
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *x = json_array_get(arr, i);
		bool eq = json_is_object(x);
		for (int k = 0; eq && keys[k]; k++)
			eq = json_equal(json_object_get(x, keys[k]), json_object_get(e, keys[k])) ||
			     (!json_object_get(x, keys[k]) && !json_object_get(e, keys[k]));
		if (eq)
			return x;
	}
	return NULL;
}

static bool in_array(const json_t *arr, const json_t *e)
{
	for (size_t i = 0; i < json_array_size(arr); i++)
		if (json_equal(json_array_get(arr, i), (json_t *)e))
			return true;
	return false;
}

/* What a write changed between a (old, may be NULL) and b (new): *chg gets
 * the members of b whose value is new or differs, *rem the members of a
 * that are gone (both left NULL when empty). level: 0 root, 1 root
 * metadata, 2 below. */
static void delta(const json_t *a, const json_t *b, const struct ssa_ctx *c, int level, bool ignore_status,
		  json_t **chg, json_t **rem)
{
	const char *k;
	const json_t *v;
	char fk[512];

	if (json_is_object(b) && (json_object_size(b) || level < 2) && !atomic_map(c)) {
		const json_t *ao = json_is_object(a) ? a : NULL;
		if (a && !ao)
			*rem = subtree_set(a, c);
		json_object_foreach((json_t *)b, k, v) {
			if (json_is_null(v) || root_skip(level, k, ignore_status))
				continue;
			struct ssa_ctx cc = child_ctx(c, k);
			json_t *sc = NULL, *sr = NULL;
			const json_t *av = json_object_get(ao, k);
			delta(json_is_null(av) ? NULL : av, v, &cc, level == 0 && strcmp(k, "metadata") == 0 ? 1 : 2,
			      ignore_status, &sc, &sr);
			if (!sc && !sr)
				continue;
			snprintf(fk, sizeof(fk), "f:%s", k);
			put(chg, fk, sc);
			put(rem, fk, sr);
		}
		json_object_foreach((json_t *)ao, k, v) {
			const json_t *bv = json_object_get(b, k);
			if (json_is_null(v) || (bv && !json_is_null(bv)) || root_skip(level, k, ignore_status))
				continue;
			struct ssa_ctx cc = child_ctx(c, k);
			snprintf(fk, sizeof(fk), "f:%s", k);
			put(rem, fk, subtree_set(v, &cc));
		}
		return;
	}
	if (json_is_array(b) && json_array_size(b)) {
		const char *keys[8];
		enum ssa_lt lt = list_type(c, keys);
		const json_t *aa = json_is_array(a) ? a : NULL;
		if (lt == LT_MAP && list_keyed(b, keys) && (!aa || list_keyed(aa, keys))) {
			struct ssa_ctx ic = item_ctx(c);
			if (a && !aa)
				*rem = subtree_set(a, c);
			for (size_t i = 0; i < json_array_size(b); i++) {
				const json_t *e = json_array_get(b, i), *ae = find_keyed(aa, e, keys);
				json_t *sc = NULL, *sr = NULL;
				if (ae) {
					delta(ae, e, &ic, 2, false, &sc, &sr);
				} else {
					sc = json_object();
					if (sc && (mark(sc) || fs_object(sc, e, &ic, false, false))) {
						json_decref(sc);
						sc = NULL;
					}
				}
				if (sc || sr) {
					char *ek = elem_key(e, keys);
					if (ek) {
						put(chg, ek, sc);
						put(rem, ek, sr);
						sc = sr = NULL;
					}
					free(ek);
				}
				json_decref(sc);
				json_decref(sr);
			}
			for (size_t i = 0; i < json_array_size(aa); i++) {
				const json_t *ae = json_array_get(aa, i);
				if (find_keyed(b, ae, keys))
					continue;
				json_t *sr = json_object();
				char *ek = elem_key(ae, keys);
				if (sr && ek && !mark(sr) && !fs_object(sr, ae, &ic, false, false))
					put(rem, ek, sr);
				else
					json_decref(sr);
				free(ek);
			}
			return;
		}
		if (lt == LT_SET) {
			if (a && !aa)
				*rem = subtree_set(a, c);
			for (int pass = 0; pass < 2; pass++) {
				const json_t *from = pass ? aa : b, *other = pass ? b : aa;
				for (size_t i = 0; i < json_array_size(from); i++) {
					const json_t *e = json_array_get(from, i);
					if (in_array(other, e))
						continue;
					char *sv = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
					json_t *leaf = json_object();
					if (sv && leaf && !mark(leaf)) {
						char vk[1024];
						snprintf(vk, sizeof(vk), "v:%s", sv);
						put(pass ? rem : chg, vk, leaf);
						leaf = NULL;
					}
					json_decref(leaf);
					free(sv);
				}
			}
			return;
		}
	}
	/* a leaf (scalar, empty map or list, atomic list or map) */
	if (a && json_equal((json_t *)a, (json_t *)b))
		return;
	if (a && (json_is_object(a) || json_is_array(a)))
		*rem = subtree_set(a, c);
	*chg = subtree_set(b, c);
}

int kp_apiserver__ssa_update(const struct kp_apiserver__ssa_req *q, json_t *new_obj)
{
	struct ssa_ctx root = {q->schema, NULL, NULL};
	struct ssa_mgr *m = NULL;
	size_t nm = 0;
	int rc = -1;
	json_t *changed = NULL, *removed = NULL, *mine = NULL;
	json_t *nmeta = json_object_get(new_obj, "metadata");
	const json_t *old_mf = json_object_get(json_object_get(q->live, "metadata"), "managedFields");

	if (json_is_object(nmeta))
		json_object_del(nmeta, "managedFields");
	if (!q->live) {
		changed = kp_apiserver__ssa_fieldset(new_obj, q->schema, q->ignore_status);
		if (!changed)
			return -1;
		m = calloc(1, sizeof(*m));
	} else {
		/* field sets never hold metadata.managedFields: the objects are walked as they are */
		delta(q->live, new_obj, &root, 0, q->ignore_status, &changed, &removed);
		if (!changed && !removed) {
			/* nothing this manager could own changed: ownership stays as it was */
			if (old_mf && json_is_object(nmeta))
				json_object_set_new(nmeta, "managedFields", json_deep_copy(old_mf));
			return 0;
		}
		if (load_mgrs(q->live, &m, &nm))
			goto out;
	}
	if (!m)
		goto out;
	for (size_t i = 0; i < nm; i++) {
		bool me = entry_is(m[i].entry, q, "Update");
		if (!m[i].set)
			continue;
		bool dirty = removed && fs_sub_inplace(m[i].set, removed);
		if (me) {
			if (changed)
				fs_add_inplace(m[i].set, changed);
			mine = json_incref(m[i].set);
		} else if (changed) {
			dirty |= fs_sub_inplace(m[i].set, changed);
		}
		m[i].clean = !dirty;
	}
	if (!mine)
		mine = changed ? json_deep_copy(changed) : json_object();
	rc = store_mgrs(new_obj, m, nm, q, "Update", mine);
out:
	free_mgrs(m, nm);
	json_decref(changed);
	json_decref(removed);
	json_decref(mine);
	return rc;
}
