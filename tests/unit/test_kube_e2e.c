/*
 * test_kube_e2e.c - the kube client against a real `karpenter up`: starts
 * it on a free 127.0.0.1 port with a temporary data dir, loads the
 * kubeconfig it writes, then creates, lists, watches (through an informer),
 * patches, updates with conflict retry and deletes a ConfigMap, checks a
 * Status error, and runs leader election for two contenders.
 *
 * The server binary is $KARPENTER_BIN or build/karpenter (the test runs
 * from the repository root); without it every test is skipped. The server
 * is always stopped (atexit, and PR_SET_PDEATHSIG if this process dies)
 * and every wait is bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kube/kube.h"

static pid_t server_pid = -1;
static char datadir[256];
static char kubeconfig[512];
static bool up;

static void msleep(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

static void stop_server(void)
{
	int i, status;
	char cmd[512];

	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		for (i = 0; i < 100; i++) {
			if (waitpid(server_pid, &status, WNOHANG) == server_pid)
				break;
			msleep(50);
		}
		if (i == 100) {
			kill(server_pid, SIGKILL);
			waitpid(server_pid, &status, 0);
		}
		server_pid = -1;
	}
	if (datadir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", datadir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", datadir);
		datadir[0] = '\0';
	}
}

static void start_server(void)
{
	const char *bin = getenv("KARPENTER_BIN");
	char log[512];
	int i;

	if (!bin || !*bin)
		bin = "build/karpenter";
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "test_kube_e2e: %s not built; skipping\n", bin);
		return;
	}
	snprintf(datadir, sizeof(datadir), "/tmp/test_kube_e2e.XXXXXX");
	if (!mkdtemp(datadir)) {
		datadir[0] = '\0';
		return;
	}
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", datadir);
	snprintf(log, sizeof(log), "%s/up.log", datadir);
	server_pid = fork();
	if (server_pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(bin, bin, "up", "--listen", "127.0.0.1:0", "--data-dir", datadir, "--kubeconfig", kubeconfig,
		      (char *)NULL);
		_exit(127);
	}
	atexit(stop_server);
	/* bounded wait for the kubeconfig, then for the API to answer */
	for (i = 0; i < 300; i++) {
		struct kp_kube_config *cfg = NULL;
		struct kp_kube_client *c = NULL;
		struct kp_errbuf eb = { 0 };
		json_t *ns = NULL;
		int status;

		if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
			fprintf(stderr, "test_kube_e2e: karpenter up exited (see %s)\n", log);
			server_pid = -1;
			return;
		}
		if (kp_kubeconfig_load(kubeconfig, NULL, &cfg, &eb) == KP_OK &&
		    kp_kube_client_new(cfg, NULL, &c, &eb) == KP_OK &&
		    kp_kube_get(c, &KP_KUBE_NAMESPACES, NULL, "default", &ns, NULL, &eb) == KP_OK)
			up = true;
		json_decref(ns);
		kp_kube_client_free(c);
		kp_kube_config_free(cfg);
		if (up)
			return;
		msleep(100);
	}
	fprintf(stderr, "test_kube_e2e: server not ready after 30 s\n");
}

static struct kp_kube_client *new_client(void)
{
	struct kp_kube_config *cfg = NULL;
	struct kp_kube_client *c = NULL;
	struct kp_errbuf eb = { 0 };
	if (kp_kubeconfig_load(kubeconfig, NULL, &cfg, &eb))
		fail_msg("%s", eb.msg);
	if (kp_kube_client_new(cfg, NULL, &c, &eb))
		fail_msg("%s", eb.msg);
	kp_kube_config_free(cfg);
	return c;
}

struct seen {
	char log[4096];
};
static void note(struct seen *s, const char *what, json_t *o)
{
	size_t n = strlen(s->log);
	json_t *m = json_object_get(o, "metadata");
	json_t *d = json_object_get(json_object_get(o, "data"), "k");
	snprintf(s->log + n, sizeof(s->log) - n, "%s %s=%s;", what, json_string_value(json_object_get(m, "name")),
		 json_string_value(d) ? json_string_value(d) : "-");
}
static void s_add(void *ud, json_t *o) { note(ud, "add", o); }
static void s_upd(void *ud, json_t *o, json_t *n) { (void)o; note(ud, "upd", n); }
static void s_del(void *ud, json_t *o) { note(ud, "del", o); }

static bool wait_log(struct kp_kube_loop *l, struct seen *s, const char *needle, int64_t ms)
{
	int64_t end = kp_kube_now_mono(NULL) + ms;
	struct kp_errbuf eb = { 0 };
	while (!strstr(s->log, needle) && kp_kube_now_mono(NULL) < end)
		kp_kube_loop_run_once(l, 50, &eb);
	return strstr(s->log, needle) != NULL;
}

static int set_v3(void *ud, json_t *obj, struct kp_errbuf *eb)
{
	(void)ud;
	(void)eb;
	json_object_set_new(json_object_get(obj, "data"), "k", json_string("v3"));
	return 0;
}

static void test_configmap_lifecycle(void **state)
{
	struct kp_kube_client *c;
	struct kp_kube_loop *l = NULL;
	struct kp_informer *inf = NULL;
	struct kp_informer_opts io = { 0 };
	struct kp_informer_handlers h = { s_add, s_upd, s_del, NULL };
	struct kp_kube_status st;
	struct kp_errbuf eb = { 0 };
	struct seen s = { { 0 } };
	json_t *cm, *out = NULL, *list = NULL, *patch;
	int64_t end;
	(void)state;
	if (!up) {
		fprintf(stderr, "# skip %s: karpenter up did not start (reason above)\n", __func__);
		skip();
	}
	c = new_client();
	assert_int_equal(kp_kube_loop_new(c, &l, &eb), KP_OK);
	io.ns = "default";
	io.label_selector = "e2e=kube-client";
	assert_int_equal(kp_informer_new(l, &KP_KUBE_CONFIGMAPS, &io, &h, &s, &inf, &eb), KP_OK);
	kp_informer_start(inf);
	end = kp_kube_now_mono(NULL) + 10000;
	while (!kp_informer_synced(inf) && kp_kube_now_mono(NULL) < end)
		kp_kube_loop_run_once(l, 50, &eb);
	assert_true(kp_informer_synced(inf));

	cm = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
		       "name", "e2e-cm", "labels", "e2e", "kube-client", "data", "k", "v1");
	if (kp_kube_create(c, &KP_KUBE_CONFIGMAPS, "default", cm, &out, &st, &eb))
		fail_msg("create: %s", eb.msg);
	assert_non_null(json_object_get(json_object_get(out, "metadata"), "uid"));
	json_decref(out);
	/* a second create is AlreadyExists, with the API's reason */
	assert_int_not_equal(kp_kube_create(c, &KP_KUBE_CONFIGMAPS, "default", cm, NULL, &st, &eb), KP_OK);
	assert_true(kp_kube_is_already_exists(&st));
	json_decref(cm);
	assert_true(wait_log(l, &s, "add e2e-cm=v1;", 10000));

	assert_int_equal(kp_kube_list(c, &KP_KUBE_CONFIGMAPS, "default", NULL, &list, NULL, &eb), KP_OK);
	assert_true(json_array_size(json_object_get(list, "items")) >= 1);
	json_decref(list);

	patch = json_pack("{s:{s:s}}", "data", "k", "v2");
	if (kp_kube_patch(c, &KP_KUBE_CONFIGMAPS, "default", "e2e-cm", KP_PATCH_MERGE, patch, NULL, &out, &st, &eb))
		fail_msg("patch: %s", eb.msg);
	json_decref(patch);
	assert_string_equal(json_string_value(json_object_get(json_object_get(out, "data"), "k")), "v2");
	json_decref(out);
	assert_true(wait_log(l, &s, "upd e2e-cm=v2;", 10000));

	if (kp_kube_retry_on_conflict(c, &KP_KUBE_CONFIGMAPS, "default", "e2e-cm", NULL, 0, set_v3, NULL, NULL, &st, &eb))
		fail_msg("update: %s", eb.msg);
	assert_true(wait_log(l, &s, "upd e2e-cm=v3;", 10000));
	assert_string_equal(json_string_value(json_object_get(json_object_get(kp_informer_get(inf, "default", "e2e-cm"), "data"), "k")), "v3");

	/* a stale resourceVersion is a 409 Conflict */
	cm = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
		       "e2e-cm", "resourceVersion", "1", "data", "k", "stale");
	assert_int_not_equal(kp_kube_update(c, &KP_KUBE_CONFIGMAPS, "default", cm, NULL, NULL, &st, &eb), KP_OK);
	assert_true(kp_kube_is_conflict(&st));
	json_decref(cm);

	if (kp_kube_delete(c, &KP_KUBE_CONFIGMAPS, "default", "e2e-cm", KP_PROPAGATE_BACKGROUND, NULL, &st, &eb))
		fail_msg("delete: %s", eb.msg);
	assert_true(wait_log(l, &s, "del e2e-cm=v3;", 10000));
	assert_null(kp_informer_get(inf, "default", "e2e-cm"));
	assert_int_equal(kp_kube_get(c, &KP_KUBE_CONFIGMAPS, "default", "e2e-cm", &out, &st, &eb), KP_ERR_NOTFOUND);
	assert_string_equal(st.reason, "NotFound");
	assert_true(st.message[0] != '\0');
	assert_int_equal(kp_informer_stats(inf).errors, 0);

	kp_informer_free(inf);
	kp_kube_loop_free(l);
	kp_kube_client_free(c);
}

struct lstate {
	int started, stopped;
};
static void l_start(void *ud) { ((struct lstate *)ud)->started++; }
static void l_stop(void *ud) { ((struct lstate *)ud)->stopped++; }

static void test_leader_election(void **state)
{
	struct kp_kube_client *c;
	struct kp_kube_loop *l = NULL;
	struct kp_lease *a = NULL, *b = NULL;
	struct lstate sa = { 0 }, sb = { 0 };
	struct kp_lease_opts oa = { "kube-system", "e2e-leader", "a", 2000, 1000, 200, l_start, l_stop, NULL, &sa };
	struct kp_lease_opts ob = oa;
	struct kp_errbuf eb = { 0 };
	json_t *lease = NULL;
	int64_t end;
	(void)state;
	if (!up) {
		fprintf(stderr, "# skip %s: karpenter up did not start (reason above)\n", __func__);
		skip();
	}
	ob.identity = "b";
	ob.ud = &sb;
	c = new_client();
	assert_int_equal(kp_kube_loop_new(c, &l, &eb), KP_OK);
	assert_int_equal(kp_lease_new(l, &oa, &a, &eb), KP_OK);
	assert_int_equal(kp_lease_new(l, &ob, &b, &eb), KP_OK);
	kp_lease_start(a);
	end = kp_kube_now_mono(NULL) + 5000;
	while (!kp_lease_is_leader(a) && kp_kube_now_mono(NULL) < end)
		kp_kube_loop_run_once(l, 50, &eb);
	assert_true(kp_lease_is_leader(a));
	kp_lease_start(b);
	end = kp_kube_now_mono(NULL) + 3000;   /* longer than the lease: a keeps renewing */
	while (kp_kube_now_mono(NULL) < end)
		kp_kube_loop_run_once(l, 50, &eb);
	assert_true(kp_lease_is_leader(a));
	assert_false(kp_lease_is_leader(b));
	assert_int_equal(kp_kube_get(c, &KP_KUBE_LEASES, "kube-system", "e2e-leader", &lease, NULL, &eb), KP_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(lease, "spec"), "holderIdentity")), "a");
	json_decref(lease);

	assert_int_equal(kp_lease_release(a, &eb), KP_OK);
	assert_int_equal(sa.stopped, 1);
	end = kp_kube_now_mono(NULL) + 5000;
	while (!kp_lease_is_leader(b) && kp_kube_now_mono(NULL) < end)
		kp_kube_loop_run_once(l, 50, &eb);
	assert_true(kp_lease_is_leader(b));
	assert_int_equal(sb.started, 1);
	assert_int_equal(kp_kube_get(c, &KP_KUBE_LEASES, "kube-system", "e2e-leader", &lease, NULL, &eb), KP_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(lease, "spec"), "holderIdentity")), "b");
	json_decref(lease);
	assert_int_equal(kp_lease_release(b, &eb), KP_OK);
	kp_lease_free(a);
	kp_lease_free(b);
	kp_kube_loop_free(l);
	kp_kube_client_free(c);
}

int main(void)
{
	struct kp_errbuf eb = { 0 };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_configmap_lifecycle),
		cmocka_unit_test(test_leader_election),
	};
	if (kp_kube_global_init(&eb))
		return 1;
	start_server();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
