/*
 * kobj.c - Kubernetes-object helpers over JSON (see kobj.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kobj/kobj.h"

const char *kp_kobj_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int64_t kp_kobj_int(const json_t *o, const char *key, int64_t dflt)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

json_t *kp_kobj_at(const json_t *o, const char *path)
{
	const char *p = path;
	json_t *cur = (json_t *)(uintptr_t)o;

	while (cur && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char key[128];

		if (!json_is_object(cur) || n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		cur = json_object_get(cur, key);
		p += n + (dot ? 1 : 0);
	}
	return cur;
}

const char *kp_kobj_path_str(const json_t *o, const char *path)
{
	return json_string_value(kp_kobj_at(o, path));
}

json_t *kp_kobj_child(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_object(v) || !json_is_object(o))
		return json_is_object(v) ? v : NULL;
	v = json_object();
	if (!v || json_object_set_new(o, key, v))
		return NULL;
	return v;
}

json_t *kp_kobj_meta(json_t *obj)
{
	return kp_kobj_child(obj, "metadata");
}

const char *kp_kobj_meta_str(const json_t *obj, const char *key)
{
	return kp_kobj_str(json_object_get(obj, "metadata"), key);
}

json_t *kp_kobj_condition(const json_t *obj, const char *type)
{
	json_t *conds = kp_kobj_at(obj, "status.conditions"), *c;
	size_t i;

	json_array_foreach(conds, i, c) {
		const char *t = kp_kobj_str(c, "type");
		if (t && strcmp(t, type) == 0)
			return c;
	}
	return NULL;
}

bool kp_kobj_condition_true(const json_t *obj, const char *type)
{
	const char *s = kp_kobj_str(kp_kobj_condition(obj, type), "status");
	return s && strcmp(s, "True") == 0;
}

void kp_kobj_condition_set(json_t *conds, const char *type, const char *status, const char *reason,
			   const char *message, int64_t generation, int64_t wall_ms)
{
	json_t *c = NULL, *e;
	size_t i;
	char ts[40];

	json_array_foreach(conds, i, e) {
		const char *t = kp_kobj_str(e, "type");
		if (t && strcmp(t, type) == 0) {
			c = e;
			break;
		}
	}
	if (!c) {
		c = json_object();
		if (!c || json_array_append_new(conds, c))
			return;
	}
	const char *old = kp_kobj_str(c, "status");
	if (!old || strcmp(old, status) != 0 || !json_object_get(c, "lastTransitionTime")) {
		kp_kobj_time(wall_ms, ts, sizeof(ts));
		json_object_set_new(c, "lastTransitionTime", json_string(ts));
	}
	json_object_set_new(c, "type", json_string(type));
	json_object_set_new(c, "status", json_string(status));
	json_object_set_new(c, "reason", json_string(reason ? reason : type));
	json_object_set_new(c, "message", json_string(message ? message : ""));
	json_object_set_new(c, "observedGeneration", json_integer(generation));
}

static json_t *finalizers(const json_t *obj)
{
	return json_object_get(json_object_get(obj, "metadata"), "finalizers");
}

size_t kp_kobj_finalizers(const json_t *obj)
{
	return json_array_size(finalizers(obj));
}

bool kp_kobj_has_finalizer(const json_t *obj, const char *f)
{
	const json_t *v;
	size_t i;

	json_array_foreach(finalizers(obj), i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), f) == 0)
			return true;
	return false;
}

bool kp_kobj_add_finalizer(json_t *obj, const char *f)
{
	json_t *md, *arr;

	if (kp_kobj_has_finalizer(obj, f) || !(md = kp_kobj_meta(obj)))
		return false;
	arr = json_object_get(md, "finalizers");
	if (!json_is_array(arr)) {
		arr = json_array();
		if (!arr || json_object_set_new(md, "finalizers", arr))
			return false;
	}
	return json_array_append_new(arr, json_string(f)) == 0;
}

bool kp_kobj_remove_finalizer(json_t *obj, const char *f)
{
	json_t *a = finalizers(obj);
	bool changed = false;
	size_t i = 0;

	while (i < json_array_size(a)) {
		const char *v = json_string_value(json_array_get(a, i));
		if (v && strcmp(v, f) == 0) {
			json_array_remove(a, i);
			changed = true;
		} else {
			i++;
		}
	}
	return changed;
}

const json_t *kp_kobj_controller_ref(const json_t *o)
{
	const json_t *r;
	size_t i;

	json_array_foreach(kp_kobj_at(o, "metadata.ownerReferences"), i, r)
		if (json_is_true(json_object_get(r, "controller")))
			return r;
	return NULL;
}

void kp_kobj_time(int64_t wall_ms, char *buf, size_t n)
{
	kp_format_rfc3339(wall_ms / 1000, buf, n);
}

void kp_kobj_now_rfc3339(char *buf, size_t n)
{
	kp_format_rfc3339((int64_t)time(NULL), buf, n);
}

static bool in_values(const json_t *values, const char *v)
{
	const json_t *x;
	size_t i;

	json_array_foreach(values, i, x)
		if (json_is_string(x) && strcmp(json_string_value(x), v) == 0)
			return true;
	return false;
}

bool kp_kobj_selector_matches(const json_t *selector, const json_t *labels)
{
	const json_t *ml, *me, *v, *x;
	const char *k;
	size_t i;

	if (!json_is_object(selector))
		return false;
	ml = json_object_get(selector, "matchLabels");
	me = json_object_get(selector, "matchExpressions");
	if ((ml && !json_is_object(ml) && !json_is_null(ml)) || (me && !json_is_array(me) && !json_is_null(me)))
		return false;
	json_object_foreach((json_t *)ml, k, v) {
		const char *have = kp_kobj_str(labels, k);
		if (!json_is_string(v) || !have || strcmp(have, json_string_value(v)) != 0)
			return false;
	}
	json_array_foreach(me, i, x) {
		const char *key = kp_kobj_str(x, "key"), *op = kp_kobj_str(x, "operator");
		const json_t *vals = json_object_get(x, "values");
		const char *have;
		if (!key || !op)
			return false;
		have = kp_kobj_str(labels, key);
		if (!strcmp(op, "In")) {
			if (!have || !in_values(vals, have))
				return false;
		} else if (!strcmp(op, "NotIn")) {
			if (have && in_values(vals, have))
				return false;
		} else if (!strcmp(op, "Exists")) {
			if (!have)
				return false;
		} else if (!strcmp(op, "DoesNotExist")) {
			if (have)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

kp_err kp_kobj_read_file(const char *path, size_t max, char **out, size_t *len, struct kp_errbuf *eb)
{
	FILE *f = fopen(path, "rb");
	struct kp_buf b;
	char chunk[8192];
	size_t n;

	*out = NULL;
	if (len)
		*len = 0;
	if (!f)
		return kp_errf(eb, KP_ERR_IO, "open %s: %s", path, strerror(errno));
	kp_buf_init(&b, max);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (kp_buf_add(&b, chunk, n)) {
			fclose(f);
			kp_buf_free(&b);
			return kp_errf(eb, KP_ERR_LIMIT, "read %s: larger than %zu bytes", path, max);
		}
	if (ferror(f)) {
		fclose(f);
		kp_buf_free(&b);
		return kp_errf(eb, KP_ERR_IO, "read %s: %s", path, strerror(errno));
	}
	fclose(f);
	if (len)
		*len = b.len;
	*out = kp_buf_take(&b);
	if (!*out)
		*out = calloc(1, 1);
	return *out ? KP_OK : kp_errf(eb, KP_ERR_NOMEM, "out of memory");
}

kp_err kp_kobj_mkdir_p(const char *dir, struct kp_errbuf *eb)
{
	char buf[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return kp_errf(eb, KP_ERR_INVALID, "bad data directory: \"%s\"", dir);
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return kp_errf(eb, KP_ERR_IO, "mkdir %s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return kp_errf(eb, KP_ERR_IO, "mkdir %s: %s", buf, strerror(errno));
	return KP_OK;
}

kp_err kp_kobj_write_file(const char *path, const char *data, size_t len, struct kp_errbuf *eb)
{
	char tmp[4300], dir[4300];
	const char *slash;
	size_t off = 0;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return kp_errf(eb, KP_ERR_RANGE, "path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return kp_errf(eb, KP_ERR_IO, "write %s: %s", tmp, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			kp_errf(eb, KP_ERR_IO, "write %s: %s", tmp, w < 0 ? strerror(errno) : "short write");
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		kp_errf(eb, KP_ERR_IO, "fsync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		kp_errf(eb, KP_ERR_IO, "rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return KP_ERR_IO;
	}
	slash = strrchr(path, '/');
	if (slash && (size_t)(slash - path) < sizeof(dir)) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		fd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);   /* the rename itself; best effort */
			close(fd);
		}
	}
	return KP_OK;
fail:
	close(fd);
	unlink(tmp);
	return KP_ERR_IO;
}
