/*
 * selector.c - Kubernetes label selectors (metav1.LabelSelector) as
 * labels.Selector evaluates them: matchLabels AND every matchExpression.
 *
 * In: the key is present and its value listed. NotIn: the key is absent or
 * its value not listed. Exists / DoesNotExist: presence. Any other operator
 * makes the selector match nothing (LabelSelectorAsSelector would fail).
 * A NULL selector matches nothing; an empty one matches everything.
 *
 * Invariants: expression values need not be sorted (manifests keep their
 * order); kp_selector_str sorts and deduplicates so equal selectors give
 * equal strings.
 *
 * Cost: kp_selector_matches O(terms x (log labels + values)), no allocation;
 * kp_selector_str O(t log t) with malloc'ed scratch, result in the arena.
 */
#include <stdlib.h>
#include <string.h>

#include "karpenter/selector.h"

static bool listed(const struct kp_selector_expr *e, const char *v)
{
	for (int i = 0; i < e->n; i++)
		if (strcmp(e->values[i], v) == 0)
			return true;
	return false;
}

bool kp_selector_matches(const struct kp_selector *sel, const struct kp_labels *labels)
{
	if (!sel)
		return false;
	for (int i = 0; i < sel->match_labels.n; i++) {
		const struct kp_kv *kv = &sel->match_labels.kv[i];
		const char *v = kp_labels_get(labels, kv->key);
		if (!v || strcmp(v, kv->value ? kv->value : "") != 0)
			return false;
	}
	for (int i = 0; i < sel->nexpr; i++) {
		const struct kp_selector_expr *e = &sel->expr[i];
		const char *v = kp_labels_get(labels, e->key);

		switch (e->op) {
		case KP_OP_IN:
			if (!v || !listed(e, v))
				return false;
			break;
		case KP_OP_NOTIN:
			if (v && listed(e, v))
				return false;
			break;
		case KP_OP_EXISTS:
			if (!v)
				return false;
			break;
		case KP_OP_DOESNOTEXIST:
			if (v)
				return false;
			break;
		default:
			return false;
		}
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends "k in (a,b)" with values sorted and unique. */
static kp_err add_set(struct kp_buf *b, const struct kp_selector_expr *e, const char *word)
{
	const char **v = NULL;
	kp_err rc;

	if (e->n > 0) {
		v = malloc((size_t)e->n * sizeof(*v));
		if (!v)
			return KP_ERR_NOMEM;
		memcpy(v, e->values, (size_t)e->n * sizeof(*v));
		qsort(v, (size_t)e->n, sizeof(*v), cmp_str);
	}
	rc = kp_buf_printf(b, "%s %s (", e->key, word);
	for (int i = 0; !rc && i < e->n; i++)
		if (i == 0 || strcmp(v[i - 1], v[i]) != 0)
			rc = kp_buf_printf(b, "%s%s", i ? "," : "", v[i]);
	if (!rc)
		rc = kp_buf_addstr(b, ")");
	free(v);
	return rc;
}

/* One term of the canonical form, into b (reset first). */
static kp_err term_str(struct kp_buf *b, const struct kp_selector_expr *e)
{
	kp_buf_reset(b);
	switch (e->op) {
	case KP_OP_IN:
		if (e->n == 1)   /* same as a matchLabels entry */
			return kp_buf_printf(b, "%s=%s", e->key, e->values[0]);
		return add_set(b, e, "in");
	case KP_OP_NOTIN:
		return add_set(b, e, "notin");
	case KP_OP_EXISTS:
		return kp_buf_addstr(b, e->key);
	case KP_OP_DOESNOTEXIST:
		return kp_buf_printf(b, "!%s", e->key);
	default:
		return kp_buf_printf(b, "%s %s ?", e->key, kp_op_name(e->op));
	}
}

#define SELECTOR_STR_MAX (1u << 20)

char *kp_selector_str(const struct kp_selector *sel, struct kp_arena *a)
{
	struct kp_buf b, out;
	char **terms;
	int n = 0, total;
	char *res = NULL;
	kp_err rc = KP_OK;

	if (!sel)
		return kp_arena_strdup(a, "<nothing>");
	total = sel->match_labels.n + sel->nexpr;
	if (total == 0)
		return kp_arena_strdup(a, "");
	terms = calloc((size_t)total, sizeof(*terms));
	if (!terms)
		return NULL;
	kp_buf_init(&b, SELECTOR_STR_MAX);
	kp_buf_init(&out, SELECTOR_STR_MAX);
	for (int i = 0; !rc && i < sel->match_labels.n; i++) {
		const struct kp_kv *kv = &sel->match_labels.kv[i];
		kp_buf_reset(&b);
		rc = kp_buf_printf(&b, "%s=%s", kv->key, kv->value ? kv->value : "");
		if (!rc)
			terms[n++] = kp_buf_take(&b);
	}
	for (int i = 0; !rc && i < sel->nexpr; i++) {
		rc = term_str(&b, &sel->expr[i]);
		if (!rc)
			terms[n++] = kp_buf_take(&b);
	}
	for (int i = 0; i < n; i++)
		if (!terms[i])
			rc = KP_ERR_NOMEM;
	if (!rc) {
		qsort(terms, (size_t)n, sizeof(*terms), cmp_str);
		for (int i = 0; !rc && i < n; i++)
			if (i == 0 || strcmp(terms[i - 1], terms[i]) != 0)
				rc = kp_buf_printf(&out, "%s%s", out.len ? "," : "", terms[i]);
	}
	if (!rc)
		res = kp_arena_strndup(a, out.data ? out.data : "", out.len);
	for (int i = 0; i < n; i++)
		free(terms[i]);
	free(terms);
	kp_buf_free(&b);
	kp_buf_free(&out);
	return res;
}
