/*
 * batch.c - how long a simulated container runs, and how many pods a Job
 * wants running.
 *
 * `karpenter up` runs no containers: its kubelet stand-in ends a pod when
 * the time its containers would take is over. That time is the
 * karpenter-c.sh/run-for annotation (a Go duration) or, failing that, the
 * longest `sleep N` among its containers: argv is command + args (args
 * alone when command is empty, as with an image whose entrypoint is a
 * shell); `sleep N`, `/bin/sleep N` and `sh -c "sleep N[; ...]"` are
 * understood, N as GNU sleep takes it (a decimal with an optional s, m, h
 * or d suffix; several arguments add up). Any other container runs for
 * ever, and so does the pod.
 *
 * Job arithmetic after pkg/controller/job (manageJob, non-indexed):
 * wantActive = completions - succeeded, capped at parallelism; a Job
 * without completions (a work queue) wants parallelism pods until one
 * succeeds, then none.
 *
 * Cost: O(containers x argv).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kcm/rules.h"

#define SLEEP_MAX_MS ((int64_t)1e15)

/* One GNU sleep operand ("5", "0.5", "2m", "1.5h", "1d") in ms. */
static bool sleep_operand(const char *s, size_t n, int64_t *ms)
{
	char buf[40], *end;
	double v, mult = 1000;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!isdigit((unsigned char)buf[0]) && buf[0] != '.')
		return false;
	errno = 0;
	v = strtod(buf, &end);
	if (end == buf || errno)
		return false;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mult = 60e3, end++;
	else if (*end == 'h')
		mult = 3600e3, end++;
	else if (*end == 'd')
		mult = 86400e3, end++;
	if (*end || v < 0 || v * mult > (double)SLEEP_MAX_MS)
		return false;
	*ms = (int64_t)(v * mult);
	return true;
}

/* The duration of "sleep A B ..." given as words w[0..n) (w[0] the
 * command). */
static bool sleep_words(const char *const *w, const size_t *len, size_t n, int64_t *ms)
{
	int64_t total = 0, one;
	const char *base;

	if (n < 2)
		return false;
	base = memrchr(w[0], '/', len[0]);
	base = base ? base + 1 : w[0];
	if ((size_t)(w[0] + len[0] - base) != 5 || strncmp(base, "sleep", 5) != 0)
		return false;
	for (size_t i = 1; i < n; i++) {
		if (!sleep_operand(w[i], len[i], &one))
			return false;
		total += one;
	}
	*ms = total;
	return true;
}

/* A shell script that starts with "sleep N" (the rest, after ; or &&,
 * runs instantly). */
static bool sleep_script(const char *s, int64_t *ms)
{
	const char *w[8];
	size_t len[8], n = 0;

	while (*s && n < 8) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == ';' || *s == '&' || *s == '|' || *s == '\n')
			break;
		w[n] = s;
		while (*s && !strchr(" \t;&|\n", *s))
			s++;
		len[n] = (size_t)(s - w[n]);
		n++;
	}
	return sleep_words(w, len, n, ms);
}

/* How long container c runs; false when for ever. */
static bool container_ms(const json_t *c, int64_t *ms)
{
	const json_t *cmd = json_object_get(c, "command"), *args = json_object_get(c, "args"), *v;
	const char *w[16];
	size_t len[16], n = 0, i;

	json_array_foreach(cmd, i, v)
		if (json_is_string(v) && n < 16) {
			w[n] = json_string_value(v);
			len[n++] = strlen(json_string_value(v));
		}
	json_array_foreach(args, i, v)
		if (json_is_string(v) && n < 16) {
			w[n] = json_string_value(v);
			len[n++] = strlen(json_string_value(v));
		}
	if (n == 0)
		return false;
	if (sleep_words(w, len, n, ms))
		return true;
	/* sh -c SCRIPT, bash -c SCRIPT */
	const char *base = strrchr(w[0], '/');
	base = base ? base + 1 : w[0];
	if (n >= 3 && (!strcmp(base, "sh") || !strcmp(base, "bash") || !strcmp(base, "ash")) && !strcmp(w[1], "-c"))
		return sleep_script(w[2], ms);
	return false;
}

bool kp_kcm_run_for(const json_t *pod, int64_t *ms, int *exit_code, struct kp_errbuf *eb)
{
	const json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
	const char *rf = json_string_value(json_object_get(ann, KP_KCM_RUN_FOR));
	const char *ec = json_string_value(json_object_get(ann, KP_KCM_EXIT_CODE));
	const json_t *c;
	int64_t longest = 0, one, code = 0;
	size_t i;

	*ms = 0;
	*exit_code = 0;
	if (ec && (kp_parse_i64(ec, &code) || code < 0 || code > 255)) {
		kp_errf(eb, KP_ERR_INVALID, "metadata.annotations[%s]: \"%s\" is not an exit code 0-255", KP_KCM_EXIT_CODE,
			ec);
		return false;
	}
	if (rf) {
		if (kp_parse_duration_ms(rf, &one) || one < 0) {
			kp_errf(eb, KP_ERR_INVALID, "metadata.annotations[%s]: \"%s\" is not a duration", KP_KCM_RUN_FOR, rf);
			return false;
		}
		*ms = one;
		*exit_code = (int)code;
		return true;
	}
	const json_t *cs = json_object_get(json_object_get(pod, "spec"), "containers");
	if (!json_array_size(cs))
		return false;
	json_array_foreach(cs, i, c) {
		if (!container_ms(c, &one))
			return false;
		if (one > longest)
			longest = one;
	}
	*ms = longest;
	*exit_code = (int)code;
	return true;
}

int64_t kp_kcm_job_want_active(int64_t parallelism, bool has_comp, int64_t completions, int64_t succeeded)
{
	int64_t want;

	if (parallelism < 0)
		parallelism = 0;
	if (!has_comp)
		return succeeded > 0 ? 0 : parallelism;
	want = completions - succeeded;
	if (want > parallelism)
		want = parallelism;
	return want > 0 ? want : 0;
}
