/*
 * ctrl_env.h - the environment of the controller's integration tests
 * (test_ctrl, test_ctrl_clock): `karpenter up`'s API server and built-in
 * controllers started in this process (kp_up_start on a free port, a
 * temporary data dir), a simulated cloud shared with them, and the
 * controller on its own thread talking HTTP to them, exactly as in `up`.
 *
 * Also a test clock for the controller (struct ctrl_env_clock): real time
 * plus an offset the test advances, so time-driven behaviour (expiry,
 * consolidateAfter, grace periods, validation delays) happens at once.
 * It stays a running clock so the HTTP client's own short timeouts still
 * expire; the advances are hours or minutes, the real time a test takes
 * is milliseconds. Thread-safe (the controller reads it from its threads).
 *
 * Life cycle: fill a struct ctrl_env_opts, ctrl_env_up() once (later calls
 * return the first result), teardown at exit. Every wait is bounded and
 * stretched by KP_TEST_TIMEOUT_SCALE (valgrind); KP_TEST_CTRL_LOG=1 prints
 * the controller's log at exit. Runs from the repository root.
 */
#ifndef KP_TESTS_CTRL_ENV_H
#define KP_TESTS_CTRL_ENV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cloud/fake.h"
#include "ctrl/ctrl_int.h"
#include "kcm/kcm.h"
#include "up/up.h"
#include "apiserver/server.h"

/* LeakSanitizer: in these binaries only (client on a thread, API server in
 * the same process), libcurl 7.88 / OpenSSL 3.0 leave the SSL_CTX of the
 * client's first connection unreleased after curl_easy_cleanup; neither
 * `karpenter up` nor `karpenter controller` shows it under ASan. Not ours
 * to free; suppressed (by function, and by library since the default fast
 * unwinder stops inside libcrypto) so any other leak still fails the test. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:SSL_CTX_new_ex\nleak:libcrypto.so\n";
}

static inline void msleep(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

/* ---------------------------------------------------------------- clock */

struct ctrl_env_clock {
	struct kp_kube_clock k;      /* handed to the controller */
	atomic_llong offset_ms;      /* added to the real clocks */
};

static inline int64_t ctrl_env_real(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t ctrl_env_mono(void *ud)
{
	return ctrl_env_real(CLOCK_MONOTONIC) + atomic_load(&((struct ctrl_env_clock *)ud)->offset_ms);
}

static inline int64_t ctrl_env_wall(void *ud)
{
	return ctrl_env_real(CLOCK_REALTIME) + atomic_load(&((struct ctrl_env_clock *)ud)->offset_ms);
}

static inline void ctrl_env_clock_init(struct ctrl_env_clock *f)
{
	memset(f, 0, sizeof(*f));
	f->k.mono_ms = ctrl_env_mono;
	f->k.wall_ms = ctrl_env_wall;
	f->k.sleep_ms = NULL;   /* a sleep is a real one (the offset stays) */
	f->k.ud = f;
	atomic_init(&f->offset_ms, 0);
}

/* Moves the controller's clock ms forward. */
static inline void ctrl_env_advance(struct ctrl_env_clock *f, int64_t ms)
{
	atomic_fetch_add(&f->offset_ms, ms);
}

/* ---------------------------------------------------------------- environment */

struct ctrl_env_opts {
	int64_t batch_idle_ms, batch_max_ms, registration_ttl_ms, ice_ttl_ms;
	bool leader_elect;
	const struct kp_kube_clock *clock;   /* NULL = real */
	int64_t loop_wait_ms;                /* 0 = the controller's default */
};

struct env {
	struct kp_up *U;
	struct kp_apiserver *L;
	char dir[128];
	char kcfg[300];
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_cloud *cloud;
	struct kp_ctrl_thread *th;
	struct kp_kube_config *cfg;
	struct kp_kube_client *kc;
	FILE *log;
	char logpath[300];
	struct kp_metrics *reg;
};
static struct env E;

static inline void env_teardown(void)
{
	char cmd[300];

	kp_ctrl_thread_stop(E.th);
	kp_kube_client_free(E.kc);
	kp_kube_config_free(E.cfg);
	if (E.U)
		kp_kcm_set_cloud(E.U->kcm, NULL);
	kp_up_stop(E.U);
	kp_cloud_destroy(E.cloud);
	kp_catalog_free(&E.cat);
	if (getenv("KP_TEST_CTRL_LOG") && E.log) {
		char line[4096];
		rewind(E.log);
		while (fgets(line, sizeof(line), E.log))
			fputs(line, stderr);
	}
	if (E.log)
		fclose(E.log);
	if (E.dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", E.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", E.dir);
	}
	kp_metrics_free(E.reg);
	kp_ctrl_global_cleanup();
}

/* Starts the environment once (the integration tests of a binary share
 * it); it is torn down at exit. Returns 0 when it runs. */
static inline int ctrl_env_up(const struct ctrl_env_opts *eo)
{
	static int state = 0;   /* 0 not tried, 1 up, -1 failed */
	struct kp_apiserver_config cfg = { 0 };
	struct kp_errbuf eb = { 0 };
	struct kp_cloud_fake_opts fo;
	struct kp_ctrl_opts co;

	if (state)
		return state > 0 ? 0 : -1;
	state = -1;
	atexit(env_teardown);
	if (access("deploy/crds", F_OK) != 0 || access("data/aws", F_OK) != 0) {
		fprintf(stderr, "ctrl env: run from the repository root (deploy/crds, data/aws)\n");
		return -1;
	}
	snprintf(E.dir, sizeof(E.dir), "/tmp/kp-test-ctrl.XXXXXX");
	if (!mkdtemp(E.dir))
		return -1;
	kp_ctrl_global_init(&eb);
	cfg.listen_host = "127.0.0.1";
	cfg.port = 0;
	cfg.data_dir = E.dir;
	cfg.crd_dir = "deploy/crds";
	if (kp_up_start(&E.U, &cfg, &eb)) {
		fprintf(stderr, "ctrl env: up start: %s\n", eb.msg);
		return -1;
	}
	E.L = E.U->api;
	snprintf(E.kcfg, sizeof(E.kcfg), "%s/kubeconfig", E.dir);
	if (kp_apiserver_write_kubeconfig(E.L, E.kcfg, &eb))
		return -1;
	kp_catalog_init(&E.cat);
	kp_resnames_init(&E.rn);
	if (kp_catalog_open(&E.cat, &E.rn, "aws", "data", &eb)) {
		fprintf(stderr, "ctrl env: catalog: %s\n", eb.msg);
		return -1;
	}
	kp_cloud_fake_opts_init(&fo);
	fo.launch_delay_ms = 0;
	fo.resnames = &E.rn;
	if (eo->ice_ttl_ms)
		fo.ice_ttl_ms = eo->ice_ttl_ms;
	if (kp_cloud_fake_new(&E.cat, &fo, &E.cloud, &eb))
		return -1;
	kp_kcm_set_cloud(E.U->kcm, E.cloud);
	snprintf(E.logpath, sizeof(E.logpath), "%s/controller.log", E.dir);
	E.log = fopen(E.logpath, "w+");
	if (!E.log)
		return -1;
	setvbuf(E.log, NULL, _IOLBF, 0);
	kp_ctrl_opts_init(&co);
	co.kubeconfig = E.kcfg;
	co.cloud = E.cloud;
	co.resnames = &E.rn;
	co.log_out = E.log;
	co.log_level = KP_LOG_DEBUG;
	co.batch_idle_ms = eo->batch_idle_ms;
	co.batch_max_ms = eo->batch_max_ms;
	if (eo->registration_ttl_ms)
		co.registration_ttl_ms = eo->registration_ttl_ms;
	co.leader_elect = eo->leader_elect;
	co.clock = eo->clock;
	co.loop_wait_ms = eo->loop_wait_ms;
	co.metrics = E.reg = kp_metrics_new();
	if (kp_ctrl_thread_start(&co, &E.th, &eb)) {
		fprintf(stderr, "ctrl env: controller: %s\n", eb.msg);
		return -1;
	}
	if (kp_kube_config_default(E.kcfg, NULL, &E.cfg, &eb) || kp_kube_client_new(E.cfg, NULL, &E.kc, &eb))
		return -1;
	state = 1;
	return 0;
}

/* ---------------------------------------------------------------- API helpers */

static inline json_t *env_json(const char *json)
{
	json_error_t je;
	json_t *o = json_loads(json, 0, &je);

	if (!o)
		fail_msg("bad test json: %s: %s", je.text, json);
	return o;
}

static inline void create(const struct kp_kube_res *r, const char *ns, const char *json)
{
	struct kp_errbuf eb = { 0 };
	json_t *o = env_json(json);

	if (kp_kube_create(E.kc, r, ns, o, NULL, NULL, &eb))
		fail_msg("create: %s", eb.msg);
	json_decref(o);
}

/* The NodeClaims of a pool (new reference to a JSON array). */
static inline json_t *claims_of(const char *pool)
{
	struct kp_kube_list_opts lo = { 0 };
	struct kp_errbuf eb = { 0 };
	char sel[128];
	json_t *list = NULL, *items;

	snprintf(sel, sizeof(sel), "karpenter.sh/nodepool=%s", pool);
	lo.label_selector = sel;
	if (kp_kube_list(E.kc, &KP_KUBE_NODECLAIMS, NULL, &lo, &list, NULL, &eb))
		fail_msg("list nodeclaims: %s", eb.msg);
	items = json_incref(json_object_get(list, "items"));
	json_decref(list);
	return items;
}

/* Waits up to ms (stretched by KP_TEST_TIMEOUT_SCALE: valgrind runs ~20x
 * slower), looking every step ms, for pred; true when it held. */
static inline bool wait_every(int ms, int step, bool (*pred)(const char *), const char *arg)
{
	const char *scale = getenv("KP_TEST_TIMEOUT_SCALE");
	int64_t k = 1;

	if (scale && kp_parse_i64(scale, &k) == KP_OK && k > 1 && k <= 100)
		ms *= (int)k;
	for (int t = 0; t < ms; t += step) {
		if (pred(arg))
			return true;
		msleep(step);
	}
	return pred(arg);
}

static inline bool wait_for(int ms, bool (*pred)(const char *), const char *arg)
{
	return wait_every(ms, 100, pred, arg);
}

static inline bool all_initialized(const char *pool)
{
	json_t *items = claims_of(pool), *e;
	size_t i;
	bool ok = json_array_size(items) > 0;

	json_array_foreach(items, i, e)
		ok = ok && kp_ctrl__condition_true(e, "Initialized") && kp_ctrl__condition_true(e, "Ready");
	json_decref(items);
	return ok;
}

static inline bool pod_bound(const char *name)
{
	json_t *p = NULL;
	bool ok;

	if (kp_kube_get(E.kc, &KP_KUBE_PODS, "default", name, &p, NULL, NULL))
		return false;
	ok = kp_ctrl__jstr(p, "spec.nodeName") != NULL;
	json_decref(p);
	return ok;
}

static inline bool log_has(const char *s)
{
	char line[8192];
	bool found = false;
	FILE *f = fopen(E.logpath, "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, s) != NULL;
	if (f)
		fclose(f);
	return found;
}

static inline bool ready(const char *unused)
{
	(void)unused;
	return log_has("\"starting controllers\"") && log_has("\"cluster state synced\"");
}

#endif
