/*
 * json.c - catalogs as JSON (the `karpenter catalog -o json` shape, see
 * catalog_io.h and docs/catalog.md) and as a table for people.
 *
 * Reading: the file is read with a size cap and parsed by jansson; each
 * entry is validated field by field and every error names the file, the
 * entry (instanceTypes[i] and its name) and the field path. Defaults: pods
 * 110, arch amd64, os linux, available true; allocatable is taken as given
 * (missing keys from capacity), or is capacity - overhead, or capacity.
 * Writing: a hand-rolled emitter into a bounded kp_buf, so key order and
 * number formatting are fixed (prices in the shortest form that reads back
 * to the same double).
 *
 * Invariants: everything a loaded type keeps lives in cat->arena; jansson
 * values never outlive the load. Cost: O(size of the file) plus a sort of
 * the names; the writer is O(output).
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_io.h"

#define JSON_MAX_TYPES 100000
#define JSON_MAX_OFFERINGS 1024
#define DEFAULT_PODS 110

static void fmt_double(double v, char *buf, size_t n);

/* ---- reading ---- */

struct jload {
	const char *path;
	struct kp_catalog *cat;
	struct kp_resnames *rn;
	struct kp_arena *a;
	int idx;             /* current entry */
	const char *name;    /* its name, or NULL before it is known */
	struct kp_errbuf *eb;
};

static const char *jtype(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* Puts "file: instanceTypes[i] (name): " in front of the message in eb. */
static kp_err jprefix(struct jload *J, kp_err code)
{
	if (J->name)
		kp_err_prefix(J->eb, "%s: instanceTypes[%d] (%s): ", J->path, J->idx, J->name);
	else
		kp_err_prefix(J->eb, "%s: instanceTypes[%d]: ", J->path, J->idx);
	if (J->eb)
		J->eb->code = code;
	return code;
}

static kp_err jfail(struct jload *J, kp_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static kp_err jfail(struct jload *J, kp_err code, const char *fmt, ...)
{
	char msg[KP_ERRBUF_SIZE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kp_errf(J->eb, code, "%s", msg);
	return jprefix(J, code);
}

/* Rejects keys of obj not in allowed (NULL-terminated); what names obj. */
static kp_err check_keys(struct jload *J, json_t *obj, const char *what, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		const char *const *p = allowed;
		while (*p && strcmp(*p, key) != 0)
			p++;
		if (!*p)
			return jfail(J, KP_ERR_INVALID, "%s%s%s: unknown field", what, *what ? "." : "", key);
	}
	return KP_OK;
}

/* A quantity given as a string or a JSON number, for resource idx. */
static kp_err get_qty(struct jload *J, json_t *v, int idx, const char *field, int64_t *out)
{
	char num[64];
	const char *s;

	if (json_is_string(v)) {
		s = json_string_value(v);
	} else if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		s = num;
	} else if (json_is_real(v)) {
		fmt_double(json_real_value(v), num, sizeof(num));
		s = num;
	} else {
		return jfail(J, KP_ERR_INVALID, "%s: expected a quantity, got %s", field, jtype(v));
	}
	if (kp_qty_parse(s, kp_res_scale(idx), out, J->eb)) {
		kp_err code = J->eb ? J->eb->code : KP_ERR_INVALID;
		kp_err_prefix(J->eb, "%s: ", field);
		return jprefix(J, code ? code : KP_ERR_INVALID);
	}
	if (*out < 0)
		return jfail(J, KP_ERR_RANGE, "%s: quantity \"%s\" must not be negative", field, s);
	return KP_OK;
}

/* Reads a {"resource": quantity} object into r; what names it ("capacity"). */
static kp_err get_resources(struct jload *J, json_t *obj, const char *what, struct kp_res *r,
			    uint32_t *seen)
{
	char field[KP_RES_NAME_MAX + 64];
	const char *key;
	json_t *v;
	kp_err rc;

	if (!json_is_object(obj))
		return jfail(J, KP_ERR_INVALID, "%s: expected an object, got %s", what, jtype(obj));
	json_object_foreach(obj, key, v) {
		int idx;

		snprintf(field, sizeof(field), "%s.%s", what, key);
		idx = kp_resnames_index(J->rn, key, J->eb);
		if (idx < 0) {
			kp_err code = J->eb && J->eb->code ? J->eb->code : KP_ERR_INVALID;
			kp_err_prefix(J->eb, "%s: ", field);
			return jprefix(J, code);
		}
		rc = get_qty(J, v, idx, field, &r->v[idx]);
		if (rc)
			return rc;
		if (seen)
			*seen |= 1u << idx;
	}
	return KP_OK;
}

static kp_err get_labels(struct jload *J, json_t *obj, struct kp_itype *it)
{
	const char *key, *given;
	json_t *v;

	if (obj) {
		if (!json_is_object(obj))
			return jfail(J, KP_ERR_INVALID, "labels: expected an object, got %s", jtype(obj));
		json_object_foreach(obj, key, v) {
			const char *k = kp_label_normalize(key), *val;

			if (!json_is_string(v))
				return jfail(J, KP_ERR_INVALID, "labels.%s: expected a string, got %s", key,
					     jtype(v));
			val = json_string_value(v);
			if (!kp_label_key_valid(k, J->eb) || !kp_label_value_valid(val, J->eb)) {
				kp_err_prefix(J->eb, "labels.%s: ", key);
				return jprefix(J, KP_ERR_INVALID);
			}
			k = kp_arena_strdup(J->a, k);
			val = kp_arena_strdup(J->a, val);
			if (!k || !val || kp_labels_set(&it->labels, J->a, k, val))
				return jfail(J, KP_ERR_NOMEM, "out of memory");
		}
	}
	given = kp_labels_get(&it->labels, KP_LABEL_INSTANCE_TYPE);
	if (given && strcmp(given, it->name) != 0)
		return jfail(J, KP_ERR_INVALID, "labels.%s: \"%s\" does not match the name", KP_LABEL_INSTANCE_TYPE,
			     given);
	if (kp_labels_set(&it->labels, J->a, KP_LABEL_INSTANCE_TYPE, it->name) ||
	    (!kp_labels_has(&it->labels, KP_LABEL_ARCH) &&
	     kp_labels_set(&it->labels, J->a, KP_LABEL_ARCH, "amd64")) ||
	    (!kp_labels_has(&it->labels, KP_LABEL_OS) && kp_labels_set(&it->labels, J->a, KP_LABEL_OS, "linux")))
		return jfail(J, KP_ERR_NOMEM, "out of memory");
	return KP_OK;
}

static kp_err get_offering(struct jload *J, json_t *o, int i, struct kp_offering *off, struct kp_itype *it,
			   struct kp_reservation *resv)
{
	static const char *const keys[] = {"zone", "capacityType", "price", "available", "reservationCapacity", NULL};
	char what[64];
	json_t *zone, *ct, *price, *avail;
	int c;
	kp_err rc;

	snprintf(what, sizeof(what), "offerings[%d]", i);
	if (!json_is_object(o))
		return jfail(J, KP_ERR_INVALID, "%s: expected an object, got %s", what, jtype(o));
	if ((rc = check_keys(J, o, what, keys)))
		return rc;
	zone = json_object_get(o, "zone");
	ct = json_object_get(o, "capacityType");
	price = json_object_get(o, "price");
	avail = json_object_get(o, "available");
	if (!zone)
		return jfail(J, KP_ERR_INVALID, "%s.zone: required", what);
	if (!json_is_string(zone))
		return jfail(J, KP_ERR_INVALID, "%s.zone: expected a string, got %s", what, jtype(zone));
	if (!json_string_length(zone) || !kp_label_value_valid(json_string_value(zone), J->eb)) {
		if (!json_string_length(zone))
			kp_errf(J->eb, KP_ERR_INVALID, "empty");
		kp_err_prefix(J->eb, "%s.zone: ", what);
		return jprefix(J, KP_ERR_INVALID);
	}
	if (!ct)
		return jfail(J, KP_ERR_INVALID, "%s.capacityType: required", what);
	if (!json_is_string(ct))
		return jfail(J, KP_ERR_INVALID, "%s.capacityType: expected a string, got %s", what, jtype(ct));
	c = kp_captype_parse(json_string_value(ct));
	if (c < 0)
		return jfail(J, KP_ERR_INVALID, "%s.capacityType: unknown capacity type \"%s\"", what,
			     json_string_value(ct));
	if (!price)
		return jfail(J, KP_ERR_INVALID, "%s.price: required", what);
	if (!json_is_number(price))
		return jfail(J, KP_ERR_INVALID, "%s.price: expected a number, got %s", what, jtype(price));
	off->price = json_number_value(price);
	if (!isfinite(off->price) || off->price < 0)
		return jfail(J, KP_ERR_RANGE, "%s.price: %g is not a price", what, off->price);
	if (avail && !json_is_boolean(avail))
		return jfail(J, KP_ERR_INVALID, "%s.available: expected a boolean, got %s", what, jtype(avail));
	off->available = avail ? json_is_true(avail) : true;
	off->captype = (enum kp_captype)c;
	if ((avail = json_object_get(o, "reservationCapacity"))) {
		if (c != KP_CAP_RESERVED)
			return jfail(J, KP_ERR_INVALID, "%s.reservationCapacity: only reserved offerings have one", what);
		if (!json_is_integer(avail) || json_integer_value(avail) < 0)
			return jfail(J, KP_ERR_INVALID, "%s.reservationCapacity: expected a non-negative integer", what);
		resv[it->nresv].capacity = (int64_t)json_integer_value(avail);
		resv[it->nresv].zone = kp_arena_strdup(J->a, json_string_value(zone));
		if (!resv[it->nresv].zone)
			return jfail(J, KP_ERR_NOMEM, "out of memory");
		it->nresv++;
	}
	off->zone = kp_arena_strdup(J->a, json_string_value(zone));
	if (!off->zone)
		return jfail(J, KP_ERR_NOMEM, "out of memory");
	return KP_OK;
}

static kp_err get_offerings(struct jload *J, json_t *arr, struct kp_itype *it)
{
	struct kp_reservation *resv;
	size_t n;
	kp_err rc;

	if (!arr)
		return jfail(J, KP_ERR_INVALID, "offerings: required");
	if (!json_is_array(arr))
		return jfail(J, KP_ERR_INVALID, "offerings: expected an array, got %s", jtype(arr));
	n = json_array_size(arr);
	if (n == 0)
		return jfail(J, KP_ERR_INVALID, "offerings: empty");
	if (n > JSON_MAX_OFFERINGS)
		return jfail(J, KP_ERR_LIMIT, "offerings: more than %d", JSON_MAX_OFFERINGS);
	it->off = kp_arena_calloc(J->a, n, sizeof(*it->off));
	resv = kp_arena_calloc(J->a, n, sizeof(*resv));
	if (!it->off || !resv)
		return jfail(J, KP_ERR_NOMEM, "out of memory");
	it->resv = resv;
	for (size_t i = 0; i < n; i++) {
		if ((rc = get_offering(J, json_array_get(arr, i), (int)i, &it->off[i], it, resv)))
			return rc;
		/* bounded by JSON_MAX_OFFERINGS per type */
		for (size_t j = 0; j < i; j++)
			if (it->off[j].captype == it->off[i].captype && strcmp(it->off[j].zone, it->off[i].zone) == 0)
				return jfail(J, KP_ERR_INVALID, "offerings[%zu]: duplicate of offerings[%zu] (%s %s)",
					     i, j, it->off[i].zone, kp_captype_name(it->off[i].captype));
		it->noff++;
	}
	return KP_OK;
}

/* allocatable, overhead or neither: sets it->overhead (and allocatable)
 * so that capacity - overhead is the allocatable the file means. */
static kp_err get_allocatable(struct jload *J, json_t *alloc, json_t *over, struct kp_itype *it,
			      uint32_t cap_seen)
{
	static const char *const parts[] = {"kubeReserved", "systemReserved", "evictionThreshold", NULL};
	struct kp_res *dst[] = {&it->overhead.kube_reserved, &it->overhead.system_reserved,
				&it->overhead.eviction_threshold};
	char field[KP_RES_NAME_MAX + 64];
	kp_err rc;

	if (alloc && over)
		return jfail(J, KP_ERR_INVALID, "allocatable: cannot be combined with overhead");
	if (alloc) {
		struct kp_res given;
		uint32_t seen = 0;

		kp_res_zero(&given);
		if ((rc = get_resources(J, alloc, "allocatable", &given, &seen)))
			return rc;
		for (int i = 0; i < KP_RES_MAX; i++) {
			int64_t limit = it->capacity.v[i];

			if (!(seen & (1u << i)))
				continue;
			snprintf(field, sizeof(field), "allocatable.%s", J->rn->name[i]);
			if (!(cap_seen & (1u << i)))
				return jfail(J, KP_ERR_INVALID, "%s: not in capacity", field);
			/* kp_itype_finish takes hugepages out of memory again */
			if (i == KP_RES_MEMORY) {
				int64_t hp;
				if (!kp_i64_add(it->capacity.v[KP_RES_HUGEPAGES_2MI],
						it->capacity.v[KP_RES_HUGEPAGES_1GI], &hp))
					return jfail(J, KP_ERR_RANGE, "capacity: hugepages out of range");
				limit -= hp;
			}
			if (given.v[i] > limit)
				return jfail(J, KP_ERR_RANGE, "%s: exceeds capacity%s", field,
					     limit < it->capacity.v[i] ? " less hugepages" : "");
			it->overhead.kube_reserved.v[i] = limit - given.v[i];
		}
	} else if (over) {
		if (!json_is_object(over))
			return jfail(J, KP_ERR_INVALID, "overhead: expected an object, got %s", jtype(over));
		if ((rc = check_keys(J, over, "overhead", parts)))
			return rc;
		for (int p = 0; parts[p]; p++) {
			json_t *v = json_object_get(over, parts[p]);
			snprintf(field, sizeof(field), "overhead.%s", parts[p]);
			if (v && (rc = get_resources(J, v, field, dst[p], NULL)))
				return rc;
		}
	}
	return KP_OK;   /* kp_itype_finish computes allocatable from the overhead */
}

static kp_err get_entry(struct jload *J, json_t *e)
{
	static const char *const keys[] = {"name", "labels", "capacity", "allocatable",
					   "overhead", "offerings", NULL};
	struct kp_itype *it;
	json_t *name, *cap;
	uint32_t cap_seen = 0;
	kp_err rc;

	J->name = NULL;
	if (!json_is_object(e))
		return jfail(J, KP_ERR_INVALID, "expected an object, got %s", jtype(e));
	name = json_object_get(e, "name");
	if (!name)
		return jfail(J, KP_ERR_INVALID, "name: required");
	if (!json_is_string(name))
		return jfail(J, KP_ERR_INVALID, "name: expected a string, got %s", jtype(name));
	if (!json_string_length(name))
		return jfail(J, KP_ERR_INVALID, "name: empty");
	it = kp_arena_alloc(J->a, sizeof(*it));
	if (!it || !(it->name = kp_arena_strdup(J->a, json_string_value(name))))
		return jfail(J, KP_ERR_NOMEM, "out of memory");
	J->name = it->name;
	if (!kp_label_value_valid(it->name, J->eb)) {
		kp_err_prefix(J->eb, "name: ");
		return jprefix(J, KP_ERR_INVALID);
	}
	if ((rc = check_keys(J, e, "", keys)))
		return rc;
	if ((rc = get_labels(J, json_object_get(e, "labels"), it)))
		return rc;

	cap = json_object_get(e, "capacity");
	if (!cap)
		return jfail(J, KP_ERR_INVALID, "capacity: required");
	if ((rc = get_resources(J, cap, "capacity", &it->capacity, &cap_seen)))
		return rc;
	if (!(cap_seen & (1u << KP_RES_CPU)))
		return jfail(J, KP_ERR_INVALID, "capacity.cpu: required");
	if (!(cap_seen & (1u << KP_RES_MEMORY)))
		return jfail(J, KP_ERR_INVALID, "capacity.memory: required");
	if (!(cap_seen & (1u << KP_RES_PODS))) {
		it->capacity.v[KP_RES_PODS] = DEFAULT_PODS;
		cap_seen |= 1u << KP_RES_PODS;
	}
	if ((rc = get_allocatable(J, json_object_get(e, "allocatable"), json_object_get(e, "overhead"), it,
				  cap_seen)))
		return rc;
	if ((rc = get_offerings(J, json_object_get(e, "offerings"), it)))
		return rc;
	rc = kp_itype_finish(it, J->a, J->eb);
	/* a type with AWS labels gets the AWS provider's other requirements,
	 * so an exported AWS catalog schedules as the built-in one */
	if (!rc && kp_catalog_is_aws_type(it))
		rc = kp_catalog_aws_requirements(it, J->a, J->eb);
	if (rc)
		return jprefix(J, rc);
	if (kp_catalog_add(J->cat, it))
		return jfail(J, KP_ERR_NOMEM, "out of memory");
	return KP_OK;
}

struct name_at {
	const char *name;
	int idx;
};

static int name_at_cmp(const void *x, const void *y)
{
	const struct name_at *a = x, *b = y;
	int r = strcmp(a->name, b->name);
	return r ? r : (a->idx > b->idx) - (a->idx < b->idx);
}

/* Names must be unique: sorts (name, index) pairs and reports the later twin. */
static kp_err check_unique(struct jload *J, json_t *arr)
{
	size_t n = json_array_size(arr);
	struct name_at *v = calloc(n ? n : 1, sizeof(*v));
	kp_err rc = KP_OK;

	if (!v)
		return kp_errf(J->eb, KP_ERR_NOMEM, "%s: out of memory", J->path);
	for (size_t i = 0; i < n; i++) {
		v[i].name = json_string_value(json_object_get(json_array_get(arr, i), "name"));
		v[i].idx = (int)i;
	}
	qsort(v, n, sizeof(*v), name_at_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i - 1].name, v[i].name) == 0) {
			J->idx = v[i].idx;
			J->name = v[i].name;
			rc = jfail(J, KP_ERR_INVALID, "name: duplicate of instanceTypes[%d]", v[i - 1].idx);
			break;
		}
	free(v);
	return rc;
}

/* Reads the whole file with a cap; *out is malloc'ed and NUL-terminated. */
static kp_err read_file(const char *path, size_t max, char **out, size_t *len, struct kp_errbuf *eb)
{
	struct kp_buf b;
	char chunk[65536];
	FILE *f = fopen(path, "rb");
	size_t n;
	kp_err rc = KP_OK;

	if (!f)
		return kp_errf(eb, errno == ENOENT ? KP_ERR_NOTFOUND : KP_ERR_IO, "%s: %s", path, strerror(errno));
	kp_buf_init(&b, max);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		rc = kp_buf_add(&b, chunk, n);
		if (rc == KP_ERR_LIMIT) {
			kp_errf(eb, rc, "%s: larger than %zu bytes", path, max);
			break;
		}
		if (rc) {
			kp_errf(eb, rc, "%s: out of memory", path);
			break;
		}
	}
	if (!rc && ferror(f))
		rc = kp_errf(eb, KP_ERR_IO, "%s: read error", path);
	fclose(f);
	if (rc) {
		kp_buf_free(&b);
		return rc;
	}
	*len = b.len;
	*out = kp_buf_take(&b);
	return *out ? KP_OK : kp_errf(eb, KP_ERR_NOMEM, "%s: out of memory", path);
}

/* The region every type's region label agrees on, or NULL. */
static const char *common_region(const struct kp_catalog *cat)
{
	const char *r = NULL;

	for (int i = 0; i < cat->n; i++) {
		const char *v = kp_labels_get(&cat->types[i]->labels, KP_LABEL_REGION);
		if (!v || (r && strcmp(r, v) != 0))
			return NULL;
		r = v;
	}
	return r;
}

kp_err kp_catalog_load_json(struct kp_catalog *cat, struct kp_resnames *rn, const char *path,
			    struct kp_errbuf *eb)
{
	struct jload J = {.path = path, .cat = cat, .rn = rn, .eb = eb};
	json_error_t jerr;
	json_t *root = NULL, *arr;
	char *text = NULL;
	size_t len = 0, n;
	kp_err rc;

	kp_catalog_init(cat);
	J.a = &cat->arena;
	rc = read_file(path, KP_CATALOG_JSON_MAX, &text, &len, eb);
	if (rc)
		return rc;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!root)
		return kp_errf(eb, KP_ERR_INVALID, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
	/* an array, or {"instanceTypes": [...]} */
	arr = root;
	if (json_is_object(root))
		arr = json_object_size(root) == 1 ? json_object_get(root, "instanceTypes") : NULL;
	if (!json_is_array(arr)) {
		rc = kp_errf(eb, KP_ERR_INVALID, "%s: expected an array of instance types", path);
		goto out;
	}
	n = json_array_size(arr);
	if (n == 0) {
		rc = kp_errf(eb, KP_ERR_INVALID, "%s: no instance types", path);
		goto out;
	}
	if (n > JSON_MAX_TYPES) {
		rc = kp_errf(eb, KP_ERR_LIMIT, "%s: more than %d instance types", path, JSON_MAX_TYPES);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		J.idx = (int)i;
		if ((rc = get_entry(&J, json_array_get(arr, i))))
			goto out;
	}
	if ((rc = check_unique(&J, arr)))
		goto out;
	kp_catalog_sort(cat);
	cat->name = kp_arena_strdup(&cat->arena, path);
	cat->region = common_region(cat);
	if (!cat->name)
		rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
out:
	json_decref(root);
	return rc;
}

/* ---- writing ---- */

static kp_err put_str(struct kp_buf *b, const char *s)
{
	kp_err rc = kp_buf_add(b, "\"", 1);
	const char *p = s;

	while (!rc && *p) {
		const char *run = p;
		unsigned char c;

		while ((unsigned char)*p >= 0x20 && *p != '"' && *p != '\\')
			p++;
		if (p > run && (rc = kp_buf_add(b, run, (size_t)(p - run))))
			break;
		if (!*p)
			break;
		c = (unsigned char)*p++;
		switch (c) {
		case '"': rc = kp_buf_addstr(b, "\\\""); break;
		case '\\': rc = kp_buf_addstr(b, "\\\\"); break;
		case '\n': rc = kp_buf_addstr(b, "\\n"); break;
		case '\r': rc = kp_buf_addstr(b, "\\r"); break;
		case '\t': rc = kp_buf_addstr(b, "\\t"); break;
		default: rc = kp_buf_printf(b, "\\u%04x", c); break;
		}
	}
	return rc ? rc : kp_buf_add(b, "\"", 1);
}

/* Shortest %g form that reads back to the same double. */
static void fmt_double(double v, char *buf, size_t n)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* {"cpu": "2", ...}: entries of r set in capacity (or non-zero in r). */
static kp_err put_res(struct kp_buf *b, const struct kp_resnames *rn, const struct kp_res *r,
		      const struct kp_res *capacity)
{
	char q[64];
	bool first = true;
	kp_err rc = kp_buf_add(b, "{", 1);

	for (int i = 0; !rc && i < rn->n && i < KP_RES_MAX; i++) {
		if (!r->v[i] && !capacity->v[i])
			continue;
		kp_qty_format(r->v[i], kp_res_scale(i), kp_res_style(rn, i), q, sizeof(q));
		if (!first)
			rc = kp_buf_addstr(b, ", ");
		first = false;
		if (!rc)
			rc = put_str(b, rn->name[i]);
		if (!rc)
			rc = kp_buf_addstr(b, ": ");
		if (!rc)
			rc = put_str(b, q);
	}
	return rc ? rc : kp_buf_add(b, "}", 1);
}

static kp_err put_type(struct kp_buf *b, const struct kp_resnames *rn, const struct kp_itype *it)
{
	char price[40];
	kp_err rc;

	if ((rc = kp_buf_addstr(b, "  {\n    \"name\": ")) || (rc = put_str(b, it->name)) ||
	    (rc = kp_buf_addstr(b, ",\n    \"labels\": {")))
		return rc;
	for (int i = 0; i < it->labels.n; i++) {
		if ((rc = kp_buf_addstr(b, i ? ",\n      " : "\n      ")) ||
		    (rc = put_str(b, it->labels.kv[i].key)) || (rc = kp_buf_addstr(b, ": ")) ||
		    (rc = put_str(b, it->labels.kv[i].value)))
			return rc;
	}
	if ((rc = kp_buf_addstr(b, it->labels.n ? "\n    },\n    \"capacity\": " : "},\n    \"capacity\": ")) ||
	    (rc = put_res(b, rn, &it->capacity, &it->capacity)) ||
	    (rc = kp_buf_addstr(b, ",\n    \"allocatable\": ")) ||
	    (rc = put_res(b, rn, &it->allocatable, &it->capacity)) ||
	    (rc = kp_buf_addstr(b, ",\n    \"offerings\": [")))
		return rc;
	for (int i = 0; i < it->noff; i++) {
		const struct kp_offering *o = &it->off[i];

		fmt_double(o->price, price, sizeof(price));
		if ((rc = kp_buf_addstr(b, i ? ",\n      {\"zone\": " : "\n      {\"zone\": ")) ||
		    (rc = put_str(b, o->zone)) ||
		    (rc = kp_buf_printf(b, ", \"capacityType\": \"%s\", \"price\": %s, \"available\": %s",
					kp_captype_name(o->captype), price, o->available ? "true" : "false")) ||
		    (o->captype == KP_CAP_RESERVED && kp_itype_reservation(it, o->zone) &&
		     (rc = kp_buf_printf(b, ", \"reservationCapacity\": %lld",
					 (long long)kp_itype_reservation(it, o->zone)->capacity))) ||
		    (rc = kp_buf_addstr(b, "}")))
			return rc;
	}
	return kp_buf_addstr(b, it->noff ? "\n    ]\n  }" : "]\n  }");
}

kp_err kp_catalog_to_json(const struct kp_catalog *cat, const struct kp_resnames *rn,
			  struct kp_buf *out, struct kp_errbuf *eb)
{
	kp_err rc = kp_buf_addstr(out, "[");

	for (int i = 0; !rc && i < cat->n; i++) {
		rc = kp_buf_addstr(out, i ? ",\n" : "\n");
		if (!rc)
			rc = put_type(out, rn, cat->types[i]);
	}
	if (!rc)
		rc = kp_buf_addstr(out, cat->n ? "\n]\n" : "]\n");
	if (rc)
		return kp_errf(eb, rc, "catalog json: %s", kp_err_str(rc));
	return KP_OK;
}

/* ---- table ---- */

#define TABLE_MAX_ZONES 64

static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

kp_err kp_catalog_print_table(const struct kp_catalog *cat, const struct kp_resnames *rn, FILE *out,
			      struct kp_errbuf *eb)
{
	int wname = 4;

	for (int i = 0; i < cat->n; i++) {
		int l = (int)strlen(cat->types[i]->name);
		if (l > wname)
			wname = l;
	}
	fprintf(out, "%-*s  %6s  %10s  %5s  %-5s  %10s  %10s  %s\n", wname, "NAME", "CPU", "MEMORY", "PODS",
		"ARCH", "SPOT", "ON-DEMAND", "ZONES");
	for (int i = 0; i < cat->n; i++) {
		const struct kp_itype *it = cat->types[i];
		const char *arch = kp_labels_get(&it->labels, KP_LABEL_ARCH);
		char cpu[40], mem[40], spot[40] = "-", od[40] = "-", zones[512] = "";
		const char *zv[TABLE_MAX_ZONES];
		double best[KP_CAP_COUNT] = {0};
		bool have[KP_CAP_COUNT] = {false};
		size_t zl = 0;
		int nz = 0;

		kp_qty_format(it->capacity.v[KP_RES_CPU], KP_QTY_MILLI, kp_res_style(rn, KP_RES_CPU), cpu, sizeof(cpu));
		kp_qty_format(it->capacity.v[KP_RES_MEMORY], KP_QTY_UNIT, kp_res_style(rn, KP_RES_MEMORY), mem,
			      sizeof(mem));
		for (int k = 0; k < it->noff; k++) {
			const struct kp_offering *o = &it->off[k];
			int z = 0;

			if (!o->available || o->captype >= KP_CAP_COUNT)
				continue;
			if (!have[o->captype] || o->price < best[o->captype])
				best[o->captype] = o->price;
			have[o->captype] = true;
			while (z < nz && strcmp(zv[z], o->zone) != 0)
				z++;
			if (z == nz && nz < TABLE_MAX_ZONES)
				zv[nz++] = o->zone;
		}
		qsort(zv, (size_t)nz, sizeof(zv[0]), str_cmp);
		for (int z = 0; z < nz; z++) {
			size_t l = strlen(zv[z]);
			if (zl + l + 2 >= sizeof(zones))
				break;
			if (zl)
				zones[zl++] = ',';
			memcpy(zones + zl, zv[z], l + 1);
			zl += l;
		}
		if (have[KP_CAP_SPOT])
			snprintf(spot, sizeof(spot), "%.4f", best[KP_CAP_SPOT]);
		if (have[KP_CAP_ON_DEMAND])
			snprintf(od, sizeof(od), "%.4f", best[KP_CAP_ON_DEMAND]);
		fprintf(out, "%-*s  %6s  %10s  %5lld  %-5s  %10s  %10s  %s\n", wname, it->name, cpu, mem,
			(long long)it->capacity.v[KP_RES_PODS], arch ? arch : "-", spot, od, zl ? zones : "-");
	}
	if (fflush(out) || ferror(out))
		return kp_errf(eb, KP_ERR_IO, "writing table: %s", strerror(errno));
	return KP_OK;
}
