/*
 * rest_select.c - label and field selectors of list and watch requests
 * (labelSelector=, fieldSelector=): parsing into terms and matching
 * against an object.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "apiserver/pdb.h"
#include "apiserver/server.h"

#include "apiserver/rest_int.h"

/* ------------------------------------------------------------ selectors */

static char *trim(char *s)
{
	char *e;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* Label key: [prefix/]name, name 1-63 of [A-Za-z0-9._-] starting and ending
 * alphanumeric, prefix a DNS subdomain (validation.IsQualifiedName). */
static bool label_name_ok(const char *s, size_t n, bool value)
{
	if (n == 0)
		return value;
	if (n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
		if (!alnum && ((i == 0 || i == n - 1) || (ch != '-' && ch != '_' && ch != '.')))
			return false;
	}
	return true;
}

static bool label_key_ok(const char *k)
{
	const char *slash = strchr(k, '/');
	if (slash) {
		size_t pn = (size_t)(slash - k);
		if (pn == 0 || pn > 253)
			return false;
		for (size_t i = 0; i < pn; i++) {
			char ch = k[i];
			if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
				return false;
		}
		k = slash + 1;
	}
	return label_name_ok(k, strlen(k), false);
}

/* Checks a parsed label selector's keys and values: 400 texts follow
 * k8s.io/apimachinery/pkg/labels/selector.go (Parser.parseRequirement). */
static kp_err label_terms_check(const struct kp_apiserver__sel_term *t, const char *text, struct kp_errbuf *eb)
{
	if (!*t->key || strpbrk(t->key, "()!=<>, ") || !label_key_ok(t->key))
		return kp_errf(eb, KP_ERR_INVALID, "unable to parse requirement: found '%s', expected: identifier "
				"(label selector '%s')", t->key, text);
	for (int i = 0; i < t->nv; i++)
		if (!label_name_ok(t->vals[i], strlen(t->vals[i]), true) ||
		    ((t->op == SEL_GT || t->op == SEL_LT) && !*t->vals[i]))
			return kp_errf(eb, KP_ERR_INVALID, "unable to parse requirement: invalid label value: '%s' "
					"(label selector '%s')", t->vals[i], text);
	return KP_OK;
}

/* Field labels each resource supports (the AddFieldLabelConversionFunc
 * tables of k8s.io/kubernetes pkg/apis/{core,apps,batch,certificates}/v1);
 * every resource, custom ones too, supports metadata.name and
 * metadata.namespace. */
static const struct {
	const char *group, *plural, *fields;
} FIELD_LABELS[] = {
	{ "", "pods", " spec.nodeName spec.restartPolicy spec.schedulerName spec.serviceAccountName spec.hostNetwork"
		      " status.phase status.podIP status.podIPs status.nominatedNodeName " },
	{ "", "nodes", " spec.unschedulable " },
	{ "", "events", " involvedObject.kind involvedObject.namespace involvedObject.name involvedObject.uid"
			" involvedObject.apiVersion involvedObject.resourceVersion involvedObject.fieldPath reason"
			" reportingComponent source type " },
	{ "", "namespaces", " status.phase " },
	{ "", "secrets", " type " },
	{ "", "replicationcontrollers", " status.replicas " },
	{ "apps", "replicasets", " status.replicas " },
	{ "batch", "jobs", " status.successful " },
	{ "certificates.k8s.io", "certificatesigningrequests", " spec.signerName " },
};

kp_err kp_apiserver__fields_check(struct kp_apiserver__selector *fs, const char *group, const char *plural,
				  struct kp_errbuf *eb)
{
	bool ev_v1 = group && strcmp(group, "events.k8s.io") == 0 && strcmp(plural, "events") == 0;

	for (int i = 0; i < fs->n; i++) {
		const char *k = fs->t[i].key;
		bool ok = strcmp(k, "metadata.name") == 0 || strcmp(k, "metadata.namespace") == 0;
		if (ev_v1) {
			/* selected on the stored core Event (events.c) */
			const char *core = kp_apiserver__event_field(k);
			if (!core)
				return kp_errf(eb, KP_ERR_INVALID, "field label not supported: %s", k);
			fs->t[i].key = (char *)core;
			continue;
		}
		for (size_t j = 0; !ok && j < sizeof(FIELD_LABELS) / sizeof(FIELD_LABELS[0]); j++) {
			const char *f = FIELD_LABELS[j].fields, *hit;
			size_t n = strlen(k);
			if (strcmp(FIELD_LABELS[j].group, group ? group : "") != 0 || strcmp(FIELD_LABELS[j].plural, plural) != 0)
				continue;
			for (hit = strstr(f, k); hit && !ok; hit = strstr(hit + 1, k))
				ok = hit[-1] == ' ' && hit[n] == ' ';
		}
		if (!ok)
			return kp_errf(eb, KP_ERR_INVALID, "field label not supported: %s", k);
	}
	return KP_OK;
}

/* Parses a label (labels=true) or field selector into sel; strings live in a. */
kp_err kp_apiserver__sel_parse(struct kp_apiserver__selector *sel, struct kp_arena *a, const char *text, bool labels,
			struct kp_errbuf *eb)
{
	char *buf, *p;

	memset(sel, 0, sizeof(*sel));
	if (!text || !*text)
		return KP_OK;
	buf = kp_arena_strdup(a, text);
	if (!buf)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	p = buf;
	while (*p) {
		char *start = p, *term, *op;
		int depth = 0;
		struct kp_apiserver__sel_term *t;

		while (*p && (depth || *p != ',')) {
			if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			p++;
		}
		if (*p)
			*p++ = '\0';
		term = trim(start);
		if (!*term)
			continue;
		if (sel->n == MAX_TERMS)
			return kp_errf(eb, KP_ERR_LIMIT, "too many selector terms");
		t = &sel->t[sel->n++];
		if (labels && term[0] == '!') {
			t->key = trim(term + 1);
			t->op = SEL_NOTEXISTS;
			if (label_terms_check(t, text, eb))
				return KP_ERR_INVALID;
			continue;
		}
		if ((op = strstr(term, "!=")) != NULL) {
			*op = '\0';
			t->op = SEL_NEQ;
			t->vals[t->nv++] = trim(op + 2);
		} else if ((op = strstr(term, "==")) != NULL) {
			*op = '\0';
			t->op = SEL_EQ;
			t->vals[t->nv++] = trim(op + 2);
		} else if ((op = strchr(term, '=')) != NULL) {
			*op = '\0';
			t->op = SEL_EQ;
			t->vals[t->nv++] = trim(op + 1);
		} else if (labels && ((op = strchr(term, '>')) != NULL || (op = strchr(term, '<')) != NULL)) {
			t->op = *op == '>' ? SEL_GT : SEL_LT;
			*op = '\0';
			t->vals[t->nv++] = trim(op + 1);
		} else if (labels && ((op = strstr(term, " notin ")) != NULL || (op = strstr(term, " in ")) != NULL)) {
			char *lp, *rp, *v;
			t->op = op[1] == 'n' ? SEL_NOTIN : SEL_IN;
			*op = '\0';
			lp = strchr(op + 1, '(');
			rp = lp ? strrchr(lp, ')') : NULL;
			if (!lp || !rp)
				return kp_errf(eb, KP_ERR_INVALID, "unable to parse requirement: found '%s'", op + 1);
			*rp = '\0';
			v = lp + 1;
			while (v) {
				char *c = strchr(v, ',');
				if (c)
					*c++ = '\0';
				if (t->nv == MAX_VALUES)
					return kp_errf(eb, KP_ERR_LIMIT, "too many selector values");
				t->vals[t->nv++] = trim(v);
				v = c;
			}
		} else if (labels) {
			t->op = SEL_EXISTS;
		} else {
			return kp_errf(eb, KP_ERR_INVALID, "invalid selector: '%s'; can't understand '%s'", text, term);
		}
		t->key = trim(term);
		if (!*t->key)
			return kp_errf(eb, KP_ERR_INVALID, "invalid selector: '%s'", text);
		if (labels && label_terms_check(t, text, eb))
			return KP_ERR_INVALID;
	}
	return KP_OK;
}

static bool term_match(const struct kp_apiserver__sel_term *t, const char *v)
{
	int64_t a, b;

	switch (t->op) {
	case SEL_EXISTS: return v != NULL;
	case SEL_NOTEXISTS: return v == NULL;
	case SEL_EQ: return v && strcmp(v, t->vals[0]) == 0;
	case SEL_NEQ: return !v || strcmp(v, t->vals[0]) != 0;
	case SEL_IN:
	case SEL_NOTIN: {
		bool in = false;
		for (int i = 0; v && i < t->nv; i++)
			in = in || strcmp(v, t->vals[i]) == 0;
		return t->op == SEL_IN ? in : !in;
	}
	case SEL_GT:
	case SEL_LT:
		if (!v || kp_parse_i64(v, &a) || kp_parse_i64(t->vals[0], &b))
			return false;
		return t->op == SEL_GT ? a > b : a < b;
	}
	return false;
}

bool kp_apiserver__labels_match(const struct kp_apiserver__selector *sel, const json_t *obj)
{
	const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	for (int i = 0; i < sel->n; i++)
		if (!term_match(&sel->t[i], json_string_value(json_object_get(labels, sel->t[i].key))))
			return false;
	return true;
}

/* Field value at a dotted path as text ("" if missing), for field selectors. */
static const char *field_value(const json_t *obj, const char *path, char *buf, size_t n)
{
	const json_t *cur = obj;
	const char *p = path;

	while (*p && cur) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		char key[128];
		if (len >= sizeof(key))
			return "";
		memcpy(key, p, len);
		key[len] = '\0';
		cur = json_object_get(cur, key);
		p = dot ? dot + 1 : p + len;
	}
	if (!cur || json_is_null(cur))
		return "";
	if (json_is_string(cur))
		return json_string_value(cur);
	if (json_is_integer(cur)) {
		snprintf(buf, n, "%lld", (long long)json_integer_value(cur));
		return buf;
	}
	if (json_is_boolean(cur))
		return json_is_true(cur) ? "true" : "false";
	return "";
}

/* A core Event's selectable field "source": source.component, else the
 * reporting controller (pkg/registry/core/event/strategy.go ToSelectableFields). */
static const char *event_source(const json_t *obj)
{
	const char *v = kp_kobj_str(json_object_get(obj, "source"), "component");
	if (!v || !*v)
		v = kp_kobj_str(obj, "reportingComponent");
	return v ? v : "";
}

bool kp_apiserver__fields_match(const struct kp_apiserver__selector *sel, const json_t *obj)
{
	char buf[64];
	for (int i = 0; i < sel->n; i++) {
		const char *k = sel->t[i].key;
		const char *v = strcmp(k, "source") == 0 ? event_source(obj) : field_value(obj, k, buf, sizeof(buf));
		if (!term_match(&sel->t[i], v))
			return false;
	}
	return true;
}
