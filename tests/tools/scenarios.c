/*
 * scenarios.c - end-to-end scenario runner for `karpenter simulate`.
 *
 * Usage: scenarios KARPENTER DIR [NAME...]
 *
 * Each subdirectory DIR/NAME holding manifests.yaml is one scenario. The
 * runner executes
 *   KARPENTER simulate -f NAME/manifests.yaml [--catalog NAME/catalog.json]
 *             [words of NAME/args] -o json
 * with a time limit and an output cap, checks the exit status against
 * NAME/exit (default 0) and matches stdout against NAME/expected.json:
 *   objects   every expected key is present and matches (extra keys are fine)
 *   arrays    same length, element-wise in order
 *   {"$unordered": [...]}  same multiset in any order (bipartite matching,
 *                          so patterns that match several elements are fine)
 *   {"$count": N}          an array of length N
 *   {"$contains": "text"}  a string containing text
 *   {"$absent": true}      as an object member: the key must be absent
 *   numbers   equal within 1e-9 relative; strings, booleans, null exact
 * It prints one line per failing scenario (the path of the first mismatch
 * and both values), then exactly "scenarios: N passed, M failed", and exits
 * 1 if any failed, 2 on a usage or setup error.
 *
 * Invariants: scenarios run in name order, one at a time; the child never
 * outlives its scenario (killed at the deadline or when stdout passes the
 * cap). Cost: one process per scenario; matching is linear in the expected
 * document except $unordered, which is O(n^3) in the array length.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "karpenter/base.h"

#define SCN_TIMEOUT_MS   30000               /* per scenario */
#define SCN_STDOUT_MAX   (16u << 20)         /* cap on captured stdout */
#define SCN_STDERR_MAX   (64u << 10)         /* stderr kept; the rest is drained */
#define SCN_FILE_MAX     (1u << 20)          /* expected.json, args, exit */
#define SCN_MAX_ARGS     32                  /* words in an args file */
#define SCN_MSG_MAX      1024                /* one failure line */
#define SCN_SHOW_MAX     200                 /* characters of a value shown */
#define SCN_PATH_MAX     4096

/* Outcome of one child process. */
struct run_result {
	struct kp_buf out;
	struct kp_buf err;
	int status;            /* exit status when exited */
	int signal;            /* terminating signal, 0 if it exited */
	bool timed_out;
	bool out_overflow;
};

/* Matching state: the JSON path walked so far and the first mismatch. */
struct match_ctx {
	char path[SCN_PATH_MAX];
	size_t len;
	int quiet;             /* >0 inside a trial match: record nothing */
	char msg[SCN_MSG_MAX];
};

/* ---- small file helpers ---- */

/* snprintf into a message buffer; truncation is fine (messages are capped). */
static void msgf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void msgf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

/* Reads a whole file into b (capped at max). KP_ERR_NOTFOUND if absent. */
static kp_err read_file(const char *path, size_t max, struct kp_buf *b)
{
	char chunk[8192];
	size_t n;
	kp_err rc = KP_OK;
	FILE *f = fopen(path, "rb");

	kp_buf_init(b, max);
	if (!f)
		return errno == ENOENT ? KP_ERR_NOTFOUND : KP_ERR_IO;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		rc = kp_buf_add(b, chunk, n);
		if (rc)
			break;
	}
	if (!rc && ferror(f))
		rc = KP_ERR_IO;
	fclose(f);
	return rc;
}

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Joins dir and name into out; false if it does not fit. */
static bool join(char *out, size_t n, const char *dir, const char *name)
{
	int w = snprintf(out, n, "%s/%s", dir, name);
	return w > 0 && (size_t)w < n;
}

/* Copies s into out as one line: newlines and tabs become spaces, at most
 * max characters, "..." appended when cut. */
static void one_line(char *out, size_t n, const char *s, size_t max)
{
	size_t i, j = 0;

	if (n == 0)
		return;
	for (i = 0; s && s[i] && j + 1 < n && i < max; i++) {
		char c = s[i];
		out[j++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
	}
	while (j > 0 && out[j - 1] == ' ')
		j--;
	out[j] = '\0';
	if (s && s[i] && j + 4 < n)
		memcpy(out + j, "...", 4);
}

/* ---- running the binary ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Child side of run(): wires the pipes and execs; never returns. */
static void run_child(char *const argv[], int outfd, int errfd)
{
	int nullfd = open("/dev/null", O_RDONLY);

	setpgid(0, 0);	/* its own group, so a timeout kills its children too */
	if (nullfd >= 0)
		dup2(nullfd, STDIN_FILENO);
	if (dup2(outfd, STDOUT_FILENO) < 0 || dup2(errfd, STDERR_FILENO) < 0)
		_exit(127);
	execv(argv[0], argv);
	dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Reads what is ready on fd into b. Returns false at end of file. Data past
 * b's cap is drained and dropped; *overflow is set when that happens. */
static bool drain(int fd, struct kp_buf *b, bool *overflow)
{
	char chunk[16384];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	if (kp_buf_add(b, chunk, (size_t)n) != KP_OK)
		*overflow = true;
	return true;
}

/* Runs argv[0] with argv, capturing stdout and stderr until both close,
 * the deadline passes or stdout overflows; then reaps the child. Returns
 * 0, or -1 with errno when the process could not be started. */
static int run(char *const argv[], struct run_result *r)
{
	int outp[2] = {-1, -1}, errp[2] = {-1, -1};
	struct pollfd pf[2];
	int64_t deadline;
	bool err_overflow = false;
	pid_t pid;
	int wst;

	memset(r, 0, sizeof(*r));
	kp_buf_init(&r->out, SCN_STDOUT_MAX);
	kp_buf_init(&r->err, SCN_STDERR_MAX);
	if (pipe2(outp, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(errp, O_CLOEXEC) < 0)
		goto close_out;
	pid = fork();
	if (pid < 0)
		goto close_err;
	if (pid == 0)
		run_child(argv, outp[1], errp[1]);
	setpgid(pid, pid);	/* also here, so the group exists before any kill */
	close(outp[1]);
	close(errp[1]);

	deadline = now_ms() + SCN_TIMEOUT_MS;
	pf[0] = (struct pollfd){.fd = outp[0], .events = POLLIN};
	pf[1] = (struct pollfd){.fd = errp[0], .events = POLLIN};
	while (pf[0].fd >= 0 || pf[1].fd >= 0) {
		int64_t left = deadline - now_ms();
		int pr;

		if (left <= 0) {
			r->timed_out = true;
			break;
		}
		pr = poll(pf, 2, (int)left);
		if (pr < 0 && errno != EINTR)
			break;
		for (int i = 0; pr > 0 && i < 2; i++) {
			bool more;

			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			more = drain(pf[i].fd, i == 0 ? &r->out : &r->err,
				     i == 0 ? &r->out_overflow : &err_overflow);
			if (!more) {
				close(pf[i].fd);
				pf[i].fd = -1;
			}
		}
		if (r->out_overflow)
			break;
	}
	for (int i = 0; i < 2; i++)
		if (pf[i].fd >= 0)
			close(pf[i].fd);
	if (r->timed_out || r->out_overflow) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, &wst, 0) < 0) {
		if (errno != EINTR) {
			wst = 0;
			break;
		}
	}
	if (WIFSIGNALED(wst))
		r->signal = WTERMSIG(wst);
	else
		r->status = WEXITSTATUS(wst);
	return 0;

close_err:
	close(errp[0]);
	close(errp[1]);
close_out:
	close(outp[0]);
	close(outp[1]);
	return -1;
}

static void run_result_free(struct run_result *r)
{
	kp_buf_free(&r->out);
	kp_buf_free(&r->err);
}

/* ---- matching ---- */

static void path_push(struct match_ctx *m, size_t *saved, const char *fmt, const char *key,
		      size_t index)
{
	size_t room = sizeof(m->path) - m->len;
	int w;

	*saved = m->len;
	if (key)
		w = snprintf(m->path + m->len, room, fmt, key);
	else
		w = snprintf(m->path + m->len, room, fmt, index);
	if (w > 0 && (size_t)w < room)
		m->len += (size_t)w;
	else
		m->path[m->len] = '\0';
}

static void path_pop(struct match_ctx *m, size_t saved)
{
	m->len = saved;
	m->path[saved] = '\0';
}

/* Renders v compactly for a message; "(absent)" for NULL. */
static void show(char *out, size_t n, const json_t *v)
{
	char *s;

	if (!v) {
		snprintf(out, n, "(absent)");
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS | JSON_REAL_PRECISION(12));
	one_line(out, n, s ? s : "(unprintable)", SCN_SHOW_MAX);
	free(s);
}

/* Records the first mismatch at the current path (unless quiet). */
static bool mismatch(struct match_ctx *m, const char *what, const json_t *exp, const json_t *act)
{
	char e[SCN_SHOW_MAX + 8], a[SCN_SHOW_MAX + 8];

	if (m->quiet)
		return false;
	if (exp) {
		show(e, sizeof(e), exp);
		show(a, sizeof(a), act);
		msgf(m->msg, sizeof(m->msg), "$%s: %s: expected %s, got %s", m->path, what, e, a);
	} else {
		show(a, sizeof(a), act);
		msgf(m->msg, sizeof(m->msg), "$%s: %s, got %s", m->path, what, a);
	}
	return false;
}

/* The matcher key of a special object ({"$x": ...}), or NULL. */
static const char *matcher_key(const json_t *exp)
{
	const char *key;
	json_t *v;

	if (!json_is_object(exp) || json_object_size(exp) != 1)
		return NULL;
	json_object_foreach((json_t *)exp, key, v) {
		(void)v;
		return key[0] == '$' ? key : NULL;
	}
	return NULL;
}

static bool match(const json_t *exp, const json_t *act, struct match_ctx *m);

static bool numbers_equal(double e, double a)
{
	double scale = fmax(fabs(e), fabs(a));
	return e == a || fabs(e - a) <= 1e-9 * scale;
}

/* Kuhn's augmenting path for the $unordered bipartite matching. */
static bool augment(const bool *ok, size_t n, size_t i, bool *seen, size_t *owner)
{
	for (size_t j = 0; j < n; j++) {
		if (!ok[i * n + j] || seen[j])
			continue;
		seen[j] = true;
		if (owner[j] == SIZE_MAX || augment(ok, n, owner[j], seen, owner)) {
			owner[j] = i;
			return true;
		}
	}
	return false;
}

/* After $unordered[i] found no partner, replaces m->msg with why: the
 * first mismatch against the first actual element it does not match, or
 * that every element it matches is taken by another expected element. */
static void explain_unmatched(const json_t *e, const json_t *act, const bool *ok, size_t n,
			      size_t i, const char *what, struct match_ctx *m)
{
	struct match_ctx *sub;
	size_t saved;

	for (size_t j = 0; j < n; j++) {
		if (ok[i * n + j])
			continue;
		sub = calloc(1, sizeof(*sub));
		if (!sub)
			return;
		memcpy(sub->path, m->path, m->len + 1);
		sub->len = m->len;
		path_push(sub, &saved, "[%zu]", NULL, j);
		match(e, json_array_get(act, j), sub);
		msgf(m->msg, sizeof(m->msg), "$%s: %s; e.g. %s", m->path, what, sub->msg);
		free(sub);
		return;
	}
	msgf(m->msg, sizeof(m->msg), "$%s: %s; the elements it matches are taken by other expected ones",
	     m->path, what);
}

static bool match_unordered(const json_t *exp, const json_t *act, struct match_ctx *m)
{
	size_t n = json_array_size(exp), i, j;
	bool *ok = NULL, *seen = NULL, good = true;
	size_t *owner = NULL;

	if (!json_is_array(exp))
		return mismatch(m, "bad expected: $unordered takes an array", NULL, exp);
	if (!json_is_array(act))
		return mismatch(m, "not an array", exp, act);
	if (json_array_size(act) != n) {
		char what[64];
		msgf(what, sizeof(what), "array length %zu, expected %zu",
			 json_array_size(act), n);
		return mismatch(m, what, NULL, act);
	}
	if (n == 0)
		return true;
	ok = calloc(n * n, sizeof(*ok));
	seen = calloc(n, sizeof(*seen));
	owner = calloc(n, sizeof(*owner));
	if (!ok || !seen || !owner) {
		good = mismatch(m, "out of memory", NULL, NULL);
		goto out;
	}
	m->quiet++;
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			ok[i * n + j] = match(json_array_get(exp, i), json_array_get(act, j), m);
	m->quiet--;
	for (j = 0; j < n; j++)
		owner[j] = SIZE_MAX;
	for (i = 0; i < n && good; i++) {
		memset(seen, 0, n * sizeof(*seen));
		if (!augment(ok, n, i, seen, owner)) {
			char what[SCN_SHOW_MAX + 64], e[SCN_SHOW_MAX + 8];
			show(e, sizeof(e), json_array_get(exp, i));
			msgf(what, sizeof(what),
			     "no distinct element matches expected $unordered[%zu] %s", i, e);
			good = mismatch(m, what, NULL, act);
			if (!m->quiet)
				explain_unmatched(json_array_get(exp, i), act, ok, n, i, what, m);
		}
	}
out:
	free(ok);
	free(seen);
	free(owner);
	return good;
}

static bool match_special(const char *key, const json_t *arg, const json_t *act,
			  struct match_ctx *m)
{
	if (strcmp(key, "$unordered") == 0)
		return match_unordered(arg, act, m);
	if (strcmp(key, "$count") == 0) {
		if (!json_is_integer(arg))
			return mismatch(m, "bad expected: $count takes an integer", NULL, arg);
		if (!json_is_array(act))
			return mismatch(m, "not an array", arg, act);
		if ((json_int_t)json_array_size(act) != json_integer_value(arg)) {
			char what[64];
			msgf(what, sizeof(what), "array length %zu, expected %lld",
				 json_array_size(act), (long long)json_integer_value(arg));
			return mismatch(m, what, NULL, act);
		}
		return true;
	}
	if (strcmp(key, "$contains") == 0) {
		if (!json_is_string(arg))
			return mismatch(m, "bad expected: $contains takes a string", NULL, arg);
		if (!json_is_string(act) || !strstr(json_string_value(act), json_string_value(arg)))
			return mismatch(m, "no substring", arg, act);
		return true;
	}
	if (strcmp(key, "$absent") == 0)
		return mismatch(m, "bad expected: $absent is only valid as an object member",
				NULL, arg);
	{
		char what[128];
		msgf(what, sizeof(what), "bad expected: unknown matcher %s", key);
		return mismatch(m, what, NULL, arg);
	}
}

static bool match_object(const json_t *exp, const json_t *act, struct match_ctx *m)
{
	const char *key;
	json_t *ev;

	if (!json_is_object(act))
		return mismatch(m, "not an object", exp, act);
	json_object_foreach((json_t *)exp, key, ev) {
		const json_t *av = json_object_get(act, key);
		const char *mk = matcher_key(ev);
		size_t saved;
		bool good;

		path_push(m, &saved, ".%s", key, 0);
		if (mk && strcmp(mk, "$absent") == 0) {
			bool want_absent = json_is_true(json_object_get(ev, mk));
			good = want_absent == (av == NULL);
			if (!good)
				mismatch(m, want_absent ? "key should be absent" : "key missing",
					 NULL, av);
		} else if (!av) {
			good = mismatch(m, "key missing", ev, NULL);
		} else {
			good = match(ev, av, m);
		}
		path_pop(m, saved);
		if (!good)
			return false;
	}
	return true;
}

static bool match_array(const json_t *exp, const json_t *act, struct match_ctx *m)
{
	size_t n = json_array_size(exp);

	if (!json_is_array(act))
		return mismatch(m, "not an array", exp, act);
	if (json_array_size(act) != n) {
		char what[64];
		msgf(what, sizeof(what), "array length %zu, expected %zu",
			 json_array_size(act), n);
		return mismatch(m, what, NULL, act);
	}
	for (size_t i = 0; i < n; i++) {
		size_t saved;
		bool good;

		path_push(m, &saved, "[%zu]", NULL, i);
		good = match(json_array_get(exp, i), json_array_get(act, i), m);
		path_pop(m, saved);
		if (!good)
			return false;
	}
	return true;
}

/* True iff act matches the pattern exp; on the first mismatch records the
 * path and both values in m (unless quiet). */
static bool match(const json_t *exp, const json_t *act, struct match_ctx *m)
{
	const char *mk = matcher_key(exp);

	if (mk)
		return match_special(mk, json_object_get(exp, mk), act, m);
	switch (json_typeof(exp)) {
	case JSON_OBJECT:
		return match_object(exp, act, m);
	case JSON_ARRAY:
		return match_array(exp, act, m);
	case JSON_STRING:
		if (!json_is_string(act) || strcmp(json_string_value(exp), json_string_value(act)))
			return mismatch(m, "value", exp, act);
		return true;
	case JSON_INTEGER:
	case JSON_REAL:
		if (!json_is_number(act) ||
		    !numbers_equal(json_number_value(exp), json_number_value(act)))
			return mismatch(m, "value", exp, act);
		return true;
	case JSON_TRUE:
	case JSON_FALSE:
	case JSON_NULL:
		if (json_typeof(act) != json_typeof(exp))
			return mismatch(m, "value", exp, act);
		return true;
	}
	return mismatch(m, "bad expected value", NULL, exp);
}

/* ---- one scenario ---- */

/* Splits the first line of text into at most max words (in place). */
static int split_words(char *text, char **words, int max)
{
	int n = 0;
	char *p = text, *nl = strchr(text, '\n');

	if (nl)
		*nl = '\0';
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			*p++ = '\0';
		if (!*p)
			break;
		if (n == max)
			return -1;
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
	}
	return n;
}

/* Reads the expected exit status from dir/exit (default 0). */
static bool expected_exit(const char *dir, int *out, char *msg, size_t n)
{
	char path[SCN_PATH_MAX];
	struct kp_buf b;
	int64_t v;
	kp_err rc;
	char *s, *e;

	*out = 0;
	if (!join(path, sizeof(path), dir, "exit")) {
		msgf(msg, n, "path too long");
		return false;
	}
	rc = read_file(path, SCN_FILE_MAX, &b);
	if (rc == KP_ERR_NOTFOUND)
		return true;
	if (rc) {
		kp_buf_free(&b);
		msgf(msg, n, "read exit: %s", kp_err_str(rc));
		return false;
	}
	if (!b.data) {
		msgf(msg, n, "exit file: empty");
		return false;
	}
	s = b.data;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	rc = kp_parse_i64(s, &v);
	if (rc || v < 0 || v > 255) {
		msgf(msg, n, "exit file: bad status \"%s\"", s);
		kp_buf_free(&b);
		return false;
	}
	*out = (int)v;
	kp_buf_free(&b);
	return true;
}

/* Runs the scenario in dir; on failure fills msg (one line) and returns false. */
static bool run_scenario(const char *karpenter, const char *dir, char *msg, size_t msgn)
{
	char manifests[SCN_PATH_MAX], catalog[SCN_PATH_MAX];
	char argspath[SCN_PATH_MAX], exppath[SCN_PATH_MAX];
	char errline[SCN_SHOW_MAX + 8];
	char *argv[SCN_MAX_ARGS + 12];
	struct kp_buf args, expbuf;
	struct run_result r;
	struct match_ctx *mc = NULL;
	json_t *exp = NULL, *act = NULL;
	json_error_t jerr;
	int argc = 0, want_exit, nwords;
	bool ok = false, have_expected;
	kp_err rc;

	kp_buf_init(&args, SCN_FILE_MAX);
	kp_buf_init(&expbuf, SCN_FILE_MAX);
	memset(&r, 0, sizeof(r));
	if (!join(manifests, sizeof(manifests), dir, "manifests.yaml") ||
	    !join(catalog, sizeof(catalog), dir, "catalog.json") ||
	    !join(argspath, sizeof(argspath), dir, "args") ||
	    !join(exppath, sizeof(exppath), dir, "expected.json")) {
		msgf(msg, msgn, "path too long");
		goto out;
	}
	if (!expected_exit(dir, &want_exit, msg, msgn))
		goto out;

	argv[argc++] = (char *)karpenter;
	argv[argc++] = "simulate";
	argv[argc++] = "-f";
	argv[argc++] = manifests;
	if (is_file(catalog)) {
		argv[argc++] = "--catalog";
		argv[argc++] = catalog;
	}
	rc = read_file(argspath, SCN_FILE_MAX, &args);
	if (rc && rc != KP_ERR_NOTFOUND) {
		msgf(msg, msgn, "read args: %s", kp_err_str(rc));
		goto out;
	}
	if (!rc && args.data) {
		nwords = split_words(args.data, argv + argc, SCN_MAX_ARGS);
		if (nwords < 0) {
			msgf(msg, msgn, "args: more than %d words", SCN_MAX_ARGS);
			goto out;
		}
		argc += nwords;
	}
	argv[argc++] = "-o";
	argv[argc++] = "json";
	argv[argc] = NULL;

	rc = read_file(exppath, SCN_FILE_MAX, &expbuf);
	have_expected = rc == KP_OK;
	if (rc && rc != KP_ERR_NOTFOUND) {
		msgf(msg, msgn, "read expected.json: %s", kp_err_str(rc));
		goto out;
	}
	if (!have_expected && want_exit == 0) {
		msgf(msg, msgn, "missing expected.json");
		goto out;
	}
	if (have_expected) {
		exp = json_loadb(expbuf.data ? expbuf.data : "", expbuf.len, 0, &jerr);
		if (!exp) {
			msgf(msg, msgn, "expected.json:%d: %s", jerr.line, jerr.text);
			goto out;
		}
	}

	if (run(argv, &r) < 0) {
		msgf(msg, msgn, "cannot run %s: %s", karpenter, strerror(errno));
		goto out;
	}
	one_line(errline, sizeof(errline), r.err.data ? r.err.data : "", SCN_SHOW_MAX);
	if (r.timed_out) {
		msgf(msg, msgn, "timed out after %d s", SCN_TIMEOUT_MS / 1000);
		goto out;
	}
	if (r.out_overflow) {
		msgf(msg, msgn, "stdout exceeds %u bytes", SCN_STDOUT_MAX);
		goto out;
	}
	if (r.signal) {
		msgf(msg, msgn, "killed by signal %d (%s): %s", r.signal, strsignal(r.signal),
			 errline);
		goto out;
	}
	if (r.status != want_exit) {
		msgf(msg, msgn, "exit status %d, expected %d: %s", r.status, want_exit, errline);
		goto out;
	}
	if (!exp) {
		ok = true;
		goto out;
	}
	act = json_loadb(r.out.data ? r.out.data : "", r.out.len, 0, &jerr);
	if (!act) {
		msgf(msg, msgn, "stdout is not JSON (line %d: %s); stderr: %s", jerr.line,
			 jerr.text, errline);
		goto out;
	}
	mc = calloc(1, sizeof(*mc));
	if (!mc) {
		msgf(msg, msgn, "out of memory");
		goto out;
	}
	ok = match(exp, act, mc);
	if (!ok)
		msgf(msg, msgn, "%s", mc->msg);
out:
	free(mc);
	json_decref(act);
	json_decref(exp);
	run_result_free(&r);
	kp_buf_free(&args);
	kp_buf_free(&expbuf);
	return ok;
}

/* ---- driver ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists subdirectories of root holding manifests.yaml, sorted by name.
 * Returns the count, or -1 on error; *out is malloc'ed (free with free_names). */
static int list_scenarios(const char *root, char ***out)
{
	DIR *d = opendir(root);
	struct dirent *de;
	char **names = NULL;
	int n = 0, cap = 0;

	*out = NULL;
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char sub[SCN_PATH_MAX], man[SCN_PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		if (!join(sub, sizeof(sub), root, de->d_name) || !is_dir(sub) ||
		    !join(man, sizeof(man), sub, "manifests.yaml") || !is_file(man))
			continue;
		if (n == cap) {
			int ncap = cap ? cap * 2 : 64;
			char **p = realloc(names, (size_t)ncap * sizeof(*names));
			if (!p)
				goto fail;
			names = p;
			cap = ncap;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			goto fail;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, (size_t)n, sizeof(*names), cmp_names);
	*out = names;
	return n;
fail:
	closedir(d);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return -1;
}

static void free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static bool selected(const char *name, char **want, int nwant)
{
	if (nwant == 0)
		return true;
	for (int i = 0; i < nwant; i++)
		if (strcmp(name, want[i]) == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	char **names;
	int n, pass = 0, fail = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: scenarios KARPENTER DIR [NAME...]\n");
		return 2;
	}
	if (access(argv[1], X_OK) != 0) {
		fprintf(stderr, "scenarios: %s: %s\n", argv[1], strerror(errno));
		printf("scenarios: 0 passed, 1 failed\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	n = list_scenarios(argv[2], &names);
	if (n < 0) {
		fprintf(stderr, "scenarios: cannot list %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	for (int i = 0; i < n; i++) {
		char dir[SCN_PATH_MAX], msg[SCN_MSG_MAX];

		if (!selected(names[i], argv + 3, argc - 3))
			continue;
		msg[0] = '\0';
		if (join(dir, sizeof(dir), argv[2], names[i]) &&
		    run_scenario(argv[1], dir, msg, sizeof(msg))) {
			pass++;
		} else {
			printf("FAIL %s: %s\n", names[i], msg[0] ? msg : "path too long");
			fail++;
		}
		fflush(stdout);
	}
	free_names(names, n);
	printf("scenarios: %d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}
