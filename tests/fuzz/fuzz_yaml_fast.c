/*
 * fuzz_yaml_fast.c - libFuzzer harness: one input is a YAML stream, read
 * twice: by libyaml alone, and by the fast reader (src/load/yaml_fast.c)
 * with libyaml taking over where it stops. The documents (number, line and
 * every node: type, text, value, line, column) and the final status and
 * message must be the same; a difference aborts (a finding), as do
 * crashes, sanitizer reports, leaks and hangs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/internal.h"

#define DESCRIBE_MAX_NODES 100000   /* alias bombs: describe the first nodes only (same cut both ways) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct desc {
	struct kp_buf b;
	long nodes;
	bool full;
};

static void add(struct desc *d, const char *s)
{
	if (kp_buf_addstr(&d->b, s) != KP_OK)
		d->full = true;
}

static void node(struct desc *d, const struct kp_load_node *n)
{
	char t[128];

	if (++d->nodes > DESCRIBE_MAX_NODES || d->full)
		return;
	snprintf(t, sizeof(t), "(%d %d %u:%u %u ", n->type, n->plain, n->line, n->col, n->n);
	add(d, t);
	if (n->s)
		add(d, n->s);
	if (n->type == KP_LN_INT)
		snprintf(t, sizeof(t), " i%lld", (long long)n->u.i);
	else if (n->type == KP_LN_FLOAT)
		snprintf(t, sizeof(t), " f%.17g", n->u.f);
	else if (n->type == KP_LN_BOOL)
		snprintf(t, sizeof(t), " b%d", n->u.b);
	else
		t[0] = '\0';
	add(d, t);
	for (uint32_t i = 0; i < n->n; i++) {
		if (n->type == KP_LN_MAP) {
			add(d, " k=");
			add(d, n->u.pairs[i].key);
			node(d, n->u.pairs[i].val);
		} else if (n->type == KP_LN_SEQ) {
			node(d, n->u.items[i]);
		}
	}
	add(d, ")");
}

static kp_err on_doc(void *ctx, const struct kp_load_node *root, int docno, uint32_t line, struct kp_errbuf *eb)
{
	struct desc *d = ctx;
	char t[64];

	(void)eb;
	snprintf(t, sizeof(t), "\ndoc %d %u ", docno, line);
	add(d, t);
	d->nodes = 0;
	if (root)
		node(d, root);
	return KP_OK;
}

static char *describe(const char *data, size_t len, bool fast, bool *full)
{
	struct desc d = { .nodes = 0, .full = false };
	struct kp_arena tmp;
	struct kp_errbuf eb = { 0 };
	char t[32];
	kp_err rc;

	kp_buf_init(&d.b, 64u << 20);
	kp_arena_init(&tmp);
	rc = kp_load_parse_yaml_ex("fuzz.yaml", data, len, &tmp, on_doc, &d, &eb, fast);
	kp_arena_free(&tmp);
	snprintf(t, sizeof(t), "\nrc %d ", (int)rc);
	add(&d, t);
	if (rc)
		add(&d, eb.msg);
	*full = d.full || rc == KP_ERR_NOMEM;
	return kp_buf_take(&d.b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool full1, full2;
	char *slow = describe((const char *)data, size, false, &full1);
	char *fast = describe((const char *)data, size, true, &full2);

	/* out of memory (a sanitizer's allocator limit) makes no comparison */
	if (!full1 && !full2 && strcmp(slow, fast) != 0) {
		fprintf(stderr, "fast reader differs from libyaml\n--- libyaml\n%.3000s\n--- fast\n%.3000s\n", slow, fast);
		abort();
	}
	free(slow);
	free(fast);
	return 0;
}
