/*
 * fuzz_requirements.c - libFuzzer harness for node selector requirements and
 * label selectors (karpenter/requirements.h, karpenter/selector.h).
 *
 * Input: text lines. "KEY OP [VALUE...]" builds a requirement with
 * kp_req_make (a trailing "min=N" token sets minValues) and adds it to the
 * current set; a line "---" switches to the second set; "=KEY VALUE" sets a
 * label. Every set operation then runs on the two sets and the labels:
 * intersections, the compatibility checks, label matching, derived labels,
 * and a label selector built from the second set's In/NotIn/Exists/
 * DoesNotExist requirements. Invariant checked: a requirement that allows
 * at least one value intersects itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "karpenter/labels.h"
#include "karpenter/requirements.h"
#include "karpenter/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TOK 64

static int split(char *line, char **tok)
{
	int n = 0;
	char *p = line;

	while (*p && n < MAX_TOK) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		tok[n++] = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_arena a;
	struct kp_reqs set[2], both;
	struct kp_labels labels = { 0 }, out = { 0 };
	struct kp_selector sel = { 0 };
	struct kp_errbuf eb = { 0 };
	char *text, *line, *next, buf[256];
	int cur = 0;

	if (size > 1 << 16)
		return 0;
	kp_arena_init(&a);
	kp_reqs_init(&set[0]);
	kp_reqs_init(&set[1]);
	kp_reqs_init(&both);
	text = kp_arena_strndup(&a, (const char *)data, size);
	if (!text)
		goto out;
	sel.expr = kp_arena_calloc(&a, 256, sizeof(*sel.expr));
	if (!sel.expr)
		goto out;
	for (line = text; line; line = next) {
		char *tok[MAX_TOK];
		int n, op, min = 0, nv;
		struct kp_req r;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		n = split(line, tok);
		if (n == 0)
			continue;
		if (strcmp(tok[0], "---") == 0) {
			cur = 1;
			continue;
		}
		if (tok[0][0] == '=') {
			if (n >= 2 && tok[0][1] && kp_labels_set(&labels, &a, kp_label_normalize(tok[0] + 1), tok[1]))
				goto out;
			continue;
		}
		if (n < 2 || (op = kp_op_parse(tok[1])) < 0)
			continue;
		nv = n - 2;
		if (nv > 0 && strncmp(tok[n - 1], "min=", 4) == 0) {
			/* at most 3 digits: kp_req_make range-checks the rest */
			for (const char *d = tok[n - 1] + 4; *d >= '0' && *d <= '9' && d < tok[n - 1] + 7; d++)
				min = min * 10 + (*d - '0');
			nv--;
		}
		if (kp_req_make(&r, &a, tok[0], (enum kp_op)op, (const char *const *)tok + 2, nv, min, &eb))
			continue;
		(void)kp_req_str(&r, buf, sizeof(buf));
		(void)kp_req_len(&r);
		(void)kp_req_op(&r);
		if (nv > 0)
			(void)kp_req_has(&r, tok[2]);
		if (kp_req_len(&r) > 0 && !kp_req_intersects(&r, &r))
			abort(); /* a non-empty set must intersect itself */
		if (kp_reqs_add(&set[cur], &a, &r))
			goto out;
		if (cur == 1 && op <= KP_OP_DOESNOTEXIST && sel.nexpr < 256) {
			struct kp_selector_expr *e = &sel.expr[sel.nexpr++];
			e->key = r.key;
			e->op = (enum kp_op)op;
			e->n = nv;
			e->values = (const char **)kp_arena_calloc(&a, nv ? (size_t)nv : 1, sizeof(char *));
			if (!e->values)
				goto out;
			for (int i = 0; i < nv; i++)
				e->values[i] = tok[2 + i];
		}
	}
	(void)kp_reqs_compatible(&set[0], &set[1], &eb);
	(void)kp_reqs_compatible_strict(&set[0], &set[1], &eb);
	(void)kp_reqs_intersects(&set[0], &set[1], &eb);
	(void)kp_reqs_match_labels(&set[0], &labels, &eb);
	(void)kp_reqs_match_labels(&set[1], &labels, &eb);
	if (kp_reqs_copy(&both, &a, &set[0]) == KP_OK && kp_reqs_add_all(&both, &a, &set[1]) == KP_OK) {
		(void)kp_reqs_single_value_labels(&both, &a, &out);
		(void)kp_reqs_custom_labels(&both, &a, &out);
		for (int i = 0; i < both.n; i++)
			(void)kp_reqs_get(&both, both.r[i].key);
	}
	if (kp_reqs_from_labels(&both, &a, &labels) == KP_OK)
		(void)kp_reqs_compatible(&both, &set[0], &eb);
	(void)kp_selector_matches(&sel, &labels);
	(void)kp_selector_str(&sel, &a);
	sel.match_labels = labels;
	(void)kp_selector_matches(&sel, &out);
	(void)kp_selector_str(&sel, &a);
out:
	kp_arena_free(&a);
	return 0;
}
