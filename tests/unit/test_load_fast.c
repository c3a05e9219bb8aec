/*
 * test_load_fast.c - src/load/yaml_fast.c, the fast YAML reader, against
 * libyaml: for every YAML input of the repository (scenarios, malformed
 * inputs, the manifest fuzz corpus, examples, the benchmark snapshots) and
 * for cases written at the edges of its subset, each alone and after a
 * document it reads (so libyaml takes over mid-stream), the documents
 * delivered (number, line, every node's type, text, value, line and
 * column) and the final status and message are the same with and without
 * the fast reader. Also checks that the fast reader takes the documents it
 * is for (a generated manifest like bench/cost/make-mix's is read whole),
 * and 20,000 random edits of the edge cases (seeded) for the same result.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "load/internal.h"

#define DUMP_MAX_NODES 200000   /* alias bombs: stop describing (same cut both ways) */

struct dump {
	struct kp_buf b;
	long nodes;
};

static void dump_node(struct dump *d, const struct kp_load_node *n, int depth)
{
	char line[160];

	if (++d->nodes > DUMP_MAX_NODES)
		return;
	snprintf(line, sizeof(line), "%*s%d p%d %u:%u n%u ", depth, "", n->type, n->plain, n->line, n->col, n->n);
	assert_int_equal(kp_buf_addstr(&d->b, line), KP_OK);
	if (n->s) {
		assert_int_equal(kp_buf_addstr(&d->b, "s="), KP_OK);
		assert_int_equal(kp_buf_addstr(&d->b, n->s), KP_OK);
	}
	switch (n->type) {
	case KP_LN_INT: snprintf(line, sizeof(line), " i=%lld", (long long)n->u.i); break;
	case KP_LN_FLOAT: snprintf(line, sizeof(line), " f=%.17g", n->u.f); break;
	case KP_LN_BOOL: snprintf(line, sizeof(line), " b=%d", n->u.b); break;
	default: line[0] = '\0';
	}
	assert_int_equal(kp_buf_addstr(&d->b, line), KP_OK);
	assert_int_equal(kp_buf_addstr(&d->b, "\n"), KP_OK);
	for (uint32_t i = 0; i < n->n && d->nodes <= DUMP_MAX_NODES; i++) {
		if (n->type == KP_LN_SEQ) {
			dump_node(d, n->u.items[i], depth + 1);
		} else if (n->type == KP_LN_MAP) {
			assert_int_equal(kp_buf_addstr(&d->b, "key="), KP_OK);
			assert_int_equal(kp_buf_addstr(&d->b, n->u.pairs[i].key), KP_OK);
			assert_int_equal(kp_buf_addstr(&d->b, "\n"), KP_OK);
			dump_node(d, n->u.pairs[i].val, depth + 1);
		}
	}
}

static kp_err on_doc(void *ctx, const struct kp_load_node *root, int docno, uint32_t line, struct kp_errbuf *eb)
{
	struct dump *d = ctx;
	char head[64];

	(void)eb;
	snprintf(head, sizeof(head), "doc %d line %u\n", docno, line);
	assert_int_equal(kp_buf_addstr(&d->b, head), KP_OK);
	d->nodes = 0;
	if (root)
		dump_node(d, root, 0);
	return KP_OK;
}

/* Everything one reader makes of data, malloc'ed. */
static char *describe(const char *name, const char *data, size_t len, bool fast)
{
	struct dump d;
	struct kp_arena tmp;
	struct kp_errbuf eb = { 0 };
	char tail[64];
	kp_err rc;

	kp_buf_init(&d.b, 256u << 20);
	d.nodes = 0;
	kp_arena_init(&tmp);
	rc = kp_load_parse_yaml_ex(name, data, len, &tmp, on_doc, &d, &eb, fast);
	kp_arena_free(&tmp);
	snprintf(tail, sizeof(tail), "rc %d: ", (int)rc);
	assert_int_equal(kp_buf_addstr(&d.b, tail), KP_OK);
	if (rc)
		assert_int_equal(kp_buf_addstr(&d.b, eb.msg), KP_OK);
	return kp_buf_take(&d.b);
}

/* Documents the fast reader takes from the start of data. */
static int fast_docs(const char *data, size_t len, size_t *off)
{
	struct dump d;
	struct kp_arena tmp;
	struct kp_errbuf eb = { 0 };
	uint32_t line;
	int docno;

	kp_buf_init(&d.b, 256u << 20);
	d.nodes = 0;
	kp_arena_init(&tmp);
	assert_int_equal(kp_load_fast_yaml("t", data, len, &tmp, on_doc, &d, &eb, off, &line, &docno), KP_OK);
	kp_arena_free(&tmp);
	kp_buf_free(&d.b);
	return docno;
}

static int compared, fast_taken;

static void same(const char *name, const char *data, size_t len)
{
	char *slow = describe(name, data, len, false), *fast = describe(name, data, len, true);
	size_t off;

	if (strcmp(slow, fast) != 0) {
		print_error("fast reader differs on %s:\n--- input\n%.*s\n--- libyaml\n%.2000s\n--- fast\n%.2000s\n",
			    name, (int)(len < 4000 ? len : 4000), data, slow, fast);
		fail();
	}
	compared++;
	fast_taken += fast_docs(data, len, &off);
	free(slow);
	free(fast);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n < 0 || n > 64L << 20) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static bool yaml_name(const char *n)
{
	size_t l = strlen(n);
	return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) || (l > 4 && strcmp(n + l - 4, ".yml") == 0);
}

/* Every YAML file under dir (recursive); all: every file, whatever its name. */
static void walk(const char *dir, bool all)
{
	DIR *dp = opendir(dir);
	struct dirent *e;

	if (!dp)
		return;
	while ((e = readdir(dp)) != NULL) {
		char path[1024];
		struct stat st;
		size_t len;
		char *data;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk(path, all);
			continue;
		}
		if (!all && !yaml_name(e->d_name))
			continue;
		data = read_all(path, &len);
		if (data) {
			same(path, data, len);
			free(data);
		}
	}
	closedir(dp);
}

static void test_repository_inputs(void **state)
{
	(void)state;
	compared = fast_taken = 0;
	walk("tests/scenarios", false);
	walk("tests/scenarios-disrupt", false);
	walk("tests/malformed", false);
	walk("tests/fuzz/corpus/manifest", true);
	walk("examples", false);
	walk("bench/cost", false);
	print_message("compared %d inputs; the fast reader took %d documents\n", compared, fast_taken);
	assert_true(compared > 250);
	assert_true(fast_taken > 500);
}

static const char *const edge_cases[] = {
	"a: 1\n",
	"key : v\n",
	"- - a\n  - b\n- c\n",
	"a:\n- b\n- c\nd: e\n",
	"a:\n  - b\n  -\n  - c: d\n    e: f\n  - - x\n",
	"k: 'it''s'\nq: \"x y\"\ne: ''\nd: \"\"\nr: \"'}\"\ns: \"a''b\"\n",
	"k: {a: [1, 2], b: {}, c: [], 'd': \"e\", f: g h}\n",
	"k:\nl:\n",
	"- \n- a\n-\n",
	"k: v # c\nl: a#b\n# only a comment\n\nm: x   \n",
	"a:    # c\n  b: 1\n",
	"- a: 1\n  b: 2\n- c\n",
	"a: http://x:8080/y\nb: b:c\nc: -1\nd: ~\ne: yes\nf: 0x1F\ng: 1e3\nh: .inf\ni: 1.5\nj: 0o17\nk: 012\nl: +1\n",
	"'a': 1\n\"b\": 2\n'c' : 3\n",
	"a: 'x' \n",
	"  a: 1\n  b: 2\n",
	"  a: 1\nb: 2\n",
	"a: b\n  c\n",
	"a: [1,\n 2]\n",
	"a:\n\tb: 1\n",
	"a: 1\na: 2\n",
	"<<: {a: 1}\nb: 2\n",
	"a: &x 1\nb: *x\n",
	"? a\n: b\n",
	"a: |\n  x\n",
	"a: [a: b]\n",
	"a: {a}\n",
	"a: [a, b,]\n",
	"a: {x: 1}#c\n",
	"a: {x: 1} # c\n",
	"a: b: c\n",
	"a: - b\n",
	"---\n---\n",
	"---\n",
	"a: 1\n...\n",
	"- []\n- {}\n- [[]]\n",
	"a: 1\n\x01\n",
	"a: 1\n...\nb: 2\n",
	"a: 1\n...\n...\n",
	"a: 1\n... # c\nb: 2\n",
	"a: 1\n...\n---\nb: 2\n...\n",
	"a: 1\n...\n%YAML 1.1\n---\nb: 2\n",
	"a: 1\n--- \nb: 2\n",
	"a: 1\n--- b\n",
	"%YAML 1.1\n---\na: 1\n",
	"\xef\xbb\xbf" "a: 1\n",
	"a: 1\n---x: 2\n",
	"a: 1\n----\n",
	"a: 1\r\nb: 2\r\n",
	"a: caf\xc3\xa9\n",
	"a: \"esc\\n\"\n",
	"a: !!str 1\n",
	"a: 1\n---\n- x\n- y\n",
	"[a, b]\n",
	"{a: 1}\n",
	"just a scalar\n",
	"a:\n  b:\n    c:\n      - d\n      - e: {f: [g]}\n",
	"a: 1",
	"a:",
	"- a",
	"a: 'unterminated\n",
	"a: \"x\"y\n",
	"a: {b: c\n",
	"a: [b, c]]\n",
	"a: x\n b: y\n",
	"a:\n  b: 1\n c: 2\n",
	"- a\nb: 1\n",
	"a: 1 #\n#\n",
	"a: @x\n",
	"a: `x\n",
	"a: %x\n",
	"a: >\n  x\n",
	"a: ? b\n",
	"a: :b\n",
	"a: -\n",
	"a: --x\n",
	"a:\n- b\n  c\n",
	"a: 'x'\n---\n# c\n---\nb: 1\n",
	"# head\n\n---\na: 1\n---\n# tail\n",
	"apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: b}}\nspec:\n  containers:\n  - {name: c, image: i, resources: {requests: {cpu: 100m, memory: 64Mi}}}\n",
};

static void test_edges(void **state)
{
	(void)state;
	compared = fast_taken = 0;
	for (size_t i = 0; i < KP_ARRAY_LEN(edge_cases); i++) {
		const char *c = edge_cases[i];
		char *buf;
		size_t n = strlen(c);

		same(c, c, n);
		/* after two documents the fast reader takes: libyaml may take over mid-stream */
		buf = malloc(n + 64);
		assert_non_null(buf);
		memcpy(buf, "x: 1\n# c\n---\ny: [2]\n---\n", 24);
		memcpy(buf + 24, c, n);
		same(c, buf, n + 24);
		free(buf);
	}
	assert_true(fast_taken > 50);
}

/* Random edits of the edge cases (seeded): the readers still agree. */
static void test_mutations(void **state)
{
	static const char alphabet[] = " -:#'\"{}[],\n\ta1.&*!|>?%~x\xc3\x01\r";
	uint64_t rng = 7;
	char buf[512];

	(void)state;
	compared = fast_taken = 0;
	for (int round = 0; round < 20000; round++) {
		const char *c = edge_cases[round % KP_ARRAY_LEN(edge_cases)];
		size_t n = strlen(c);
		int edits;

		if (n >= sizeof(buf) - 16)
			continue;
		memcpy(buf, c, n);
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		edits = 1 + (int)((rng >> 33) % 3);
		for (int e = 0; e < edits && n > 0; e++) {
			size_t at;
			char ch;
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			at = (size_t)((rng >> 33) % n);
			ch = alphabet[(rng >> 20) % (sizeof(alphabet) - 1)];
			switch ((rng >> 50) % 3) {
			case 0: buf[at] = ch; break;                                   /* replace */
			case 1: memmove(buf + at + 1, buf + at, n - at); buf[at] = ch; n++; break;   /* insert */
			default: memmove(buf + at, buf + at + 1, n - at - 1); n--; break;          /* delete */
			}
		}
		buf[n] = '\0';
		same("mutated", buf, n);
	}
	print_message("mutations: compared %d; the fast reader took %d documents\n", compared, fast_taken);
	assert_true(fast_taken > 1000);
}

/* The shape bench/cost/make-mix writes: read whole by the fast reader. */
static void test_generated_manifest_is_fast(void **state)
{
	struct kp_buf b;
	size_t off;
	char *s;

	(void)state;
	kp_buf_init(&b, 1u << 20);
	assert_int_equal(kp_buf_addstr(&b, "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: default}\nspec:\n"
					   "  limits: {cpu: \"10000000\", memory: 10000000Gi}\n  template:\n    spec:\n"
					   "      requirements:\n        - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}\n"), KP_OK);
	for (int i = 0; i < 50; i++)
		assert_int_equal(kp_buf_printf(&b, "---\napiVersion: v1\nkind: Pod\nmetadata: {name: pod-%d, namespace: default, "
					       "uid: uid-%08d, labels: {my-label: a}, creationTimestamp: \"2023-11-14T22:13:20Z\"}\n"
					       "spec:\n  topologySpreadConstraints:\n  - {maxSkew: 1, topologyKey: kubernetes.io/hostname, "
					       "whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {my-label: b}}}\n"
					       "  affinity:\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n"
					       "      - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: nginx}}}\n"
					       "  containers:\n  - {name: app, image: pause, resources: {requests: {cpu: 100m, memory: 64Mi}}}\n",
					       i, i), KP_OK);
	s = kp_buf_take(&b);
	assert_int_equal(fast_docs(s, strlen(s), &off), 51);
	assert_int_equal(off, strlen(s));
	same("generated", s, strlen(s));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_generated_manifest_is_fast),
		cmocka_unit_test(test_repository_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
