/*
 * test_ctrl_clock.c - the controller's time-driven behaviour on a test
 * clock: the disruption, expiration and termination controllers through
 * their real interface (the controller on its thread, HTTP to `up`'s API
 * server in this process, the simulated cloud), with time moved forward by
 * the test instead of waited for (ctrl_env.h: struct ctrl_env_clock, given
 * to the controller as kp_ctrl_opts.clock).
 *
 * Setup (once, about a second of real time): four NodePools, each with one
 * node carrying the pods of one test, all provisioned in one batch. Then:
 *   - expireAfter 1h: the NodeClaim lives until the clock passes its
 *     creation + 1h, then is deleted (nodeclaim.expiration);
 *   - consolidateAfter 10h on an emptied node: passes see it blocked by
 *     consolidateAfter; 10 hours later it is disrupted as empty (after
 *     the 15 s validation delay, also advanced); 10h, longer than the other
 *     tests advance, so the node's last pod event is recent whichever ran
 *     first and whether or not the pass sees the pod's deletion first;
 *   - terminationGracePeriod 24h: a deleted NodeClaim's drain is held by a
 *     do-not-disrupt pod and a PDB (eviction refused), still a minute
 *     before the deadline; past it both pods are deleted anyway;
 *   - karpenter.sh/do-not-disrupt on the Node: an empty node past its
 *     consolidateAfter is reported blocked and left alone; without the
 *     annotation it is disrupted.
 * The pools never interfere: each has expireAfter Never (but the first)
 * and only its own node empties. The API server stamps creation and
 * deletion times on the real clock, which the test clock runs ahead of, so
 * deadlines derived from those stamps are aimed at from the stamps. Every
 * wait is bounded; each test takes a fraction of a second (printed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctrl_env.h"
#include "ctrl/ext_int.h"

#define STEP_MS 16000              /* past the disruption poll (10 s) and validation delay (15 s) */
#define WAIT_MS 8000               /* real time any one change may take (a bound: ms normally) */

static const struct kp_kube_res RES_PDBS = { "policy", "v1", "poddisruptionbudgets", true };
static struct ctrl_env_clock CLK;
static int64_t t_start;

static int64_t real_ms(void)
{
	return ctrl_env_real(CLOCK_MONOTONIC);
}

static void make_pool(const char *name, const char *disruption, const char *template_extra)
{
	char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\":\"karpenter.sh/v1\",\"kind\":\"NodePool\",\"metadata\":{\"name\":\"%s\"},\"spec\":{"
		 "\"disruption\":{%s,\"budgets\":[{\"nodes\":\"100%%\"}]},"
		 "\"template\":{\"metadata\":{\"labels\":{\"pool\":\"%s\"}},\"spec\":{%s\"nodeClassRef\":{\"group\":"
		 "\"karpenter.k8s.aws\",\"kind\":\"EC2NodeClass\",\"name\":\"default\"},\"requirements\":["
		 "{\"key\":\"karpenter.k8s.aws/instance-family\",\"operator\":\"In\",\"values\":[\"m5\",\"c5\"]},"
		 "{\"key\":\"karpenter.sh/capacity-type\",\"operator\":\"In\",\"values\":[\"on-demand\"]}]}}}}",
		 name, disruption, name, template_extra);
	create(&KP_KUBE_NODEPOOLS, NULL, buf);
}

/* A bare pod for pool with extra metadata fields (",\"annotations\":..."). */
static void make_pod(const char *pool, const char *name, const char *meta)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"%s},"
		 "\"spec\":{\"terminationGracePeriodSeconds\":0,\"nodeSelector\":{\"pool\":\"%s\"},\"containers\":"
		 "[{\"name\":\"c\",\"image\":\"pause\",\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}}}]}}",
		 name, meta, pool);
	create(&KP_KUBE_PODS, "default", buf);
}

/* The pool's one NodeClaim (new reference) or NULL. */
static json_t *claim_of(const char *pool)
{
	json_t *items = claims_of(pool), *c = json_incref(json_array_get(items, 0));
	json_decref(items);
	return c;
}

/* Copies the name of the pool's node (its claim's status.nodeName). */
static void node_of(const char *pool, char *out, size_t n)
{
	json_t *c = claim_of(pool);
	const char *nn = kp_ctrl__jstr(c, "status.nodeName");

	if (!nn)
		fail_msg("pool %s has no node", pool);
	snprintf(out, n, "%s", nn);
	json_decref(c);
}

/* The pool's claim is being deleted, or gone. */
static bool claim_deleting(const char *pool)
{
	json_t *c = claim_of(pool);
	bool yes = !c || kp_ctrl__jget(c, "metadata.deletionTimestamp") != NULL;

	json_decref(c);
	return yes;
}

static bool claim_draining(const char *pool)
{
	json_t *c = claim_of(pool), *cond = c ? kp_ctrl__condition(c, "Drained") : NULL;
	bool yes = cond && !kp_strcmp0(json_string_value(json_object_get(cond, "status")), "Unknown");

	json_decref(c);
	return yes;
}

/* The pod is being deleted, or gone. */
static bool pod_deleting(const char *name)
{
	json_t *p = NULL;
	bool yes;

	if (kp_kube_get(E.kc, &KP_KUBE_PODS, "default", name, &p, NULL, NULL))
		return true;
	yes = kp_ctrl__jget(p, "metadata.deletionTimestamp") != NULL;
	json_decref(p);
	return yes;
}

static bool pod_gone(const char *name)
{
	json_t *p = NULL;

	if (kp_kube_get(E.kc, &KP_KUBE_PODS, "default", name, &p, NULL, NULL))
		return true;
	json_decref(p);
	return false;
}

/* Log lines holding both strings of "a\tb". */
static int64_t log_count(const char *ab)
{
	char a[256], line[8192];
	const char *b = strchr(ab, '\t');
	int64_t n = 0;
	FILE *f;

	if (!b || (size_t)(b - ab) >= sizeof(a))
		return 0;
	memcpy(a, ab, (size_t)(b - ab));
	a[b - ab] = 0;
	b++;
	f = fopen(E.logpath, "r");
	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, a) && strstr(line, b);
	if (f)
		fclose(f);
	return n;
}

static bool log_line_has(const char *ab)
{
	return log_count(ab) > 0;
}

/* More such lines than count_mark. */
static int64_t count_mark;
static bool log_count_above(const char *ab)
{
	return log_count(ab) > count_mark;
}

/* Advances the clock by step every 20 ms of real time until pred holds,
 * for at most ms of real time; true when it held. */
static bool advance_until(int64_t step, int ms, bool (*pred)(const char *), const char *arg)
{
	const char *scale = getenv("KP_TEST_TIMEOUT_SCALE");
	int64_t k = 1;

	if (scale && kp_parse_i64(scale, &k) == KP_OK && k > 1 && k <= 100)
		ms *= (int)k;
	for (int t = 0; t < ms; t += 20) {
		if (pred(arg))
			return true;
		ctrl_env_advance(&CLK, step);
		msleep(20);
	}
	return pred(arg);
}

static void delete_pod_now(const char *name)
{
	struct kp_kube_status ks = { 0 };
	struct kp_errbuf eb = { 0 };
	char path[256];
	json_t *body = json_pack("{s:s, s:s, s:i}", "kind", "DeleteOptions", "apiVersion", "v1", "gracePeriodSeconds", 0);

	snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods/%s", name);
	if (kp_kube_request(E.kc, "DELETE", path, "application/json", body, NULL, &ks, &eb))
		fail_msg("delete pod %s: %s", name, eb.msg);
	json_decref(body);
}

static void annotate_node(const char *node, const char *value)
{
	struct kp_errbuf eb = { 0 };
	json_t *patch = json_pack("{s:{s:{s:s?}}}", "metadata", "annotations", "karpenter.sh/do-not-disrupt", value);

	if (kp_kube_patch(E.kc, &KP_KUBE_NODES, NULL, node, KP_PATCH_MERGE, patch, NULL, NULL, NULL, &eb))
		fail_msg("annotate node %s: %s", node, eb.msg);
	json_decref(patch);
}

static bool all_pools_ready(const char *unused)
{
	static const char *pools[] = { "exp", "empty", "tgp", "dnd" };
	static const char *pods[] = { "exp-0", "empty-0", "tgp-dnd", "tgp-pdb", "dnd-0" };

	(void)unused;
	for (size_t i = 0; i < KP_ARRAY_LEN(pools); i++)
		if (!all_initialized(pools[i]))
			return false;
	for (size_t i = 0; i < KP_ARRAY_LEN(pods); i++)
		if (!pod_bound(pods[i]))
			return false;
	return true;
}

static int setup(void **state)
{
	struct ctrl_env_opts eo = { 0 };
	int64_t t0 = real_ms();

	(void)state;
	ctrl_env_clock_init(&CLK);
	eo.batch_idle_ms = 100;
	eo.batch_max_ms = 500;
	eo.clock = &CLK.k;
	eo.loop_wait_ms = 10;
	if (ctrl_env_up(&eo) || !wait_for(10000, ready, NULL)) {
		fprintf(stderr, "# skip test_ctrl_clock: the in-process API server or controller did not start\n");
		return 0;
	}
	create(&RES_PDBS, "default",
	       "{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":\"tgp-pdb\","
	       "\"namespace\":\"default\"},\"spec\":{\"minAvailable\":1,\"selector\":{\"matchLabels\":{\"app\":\"tgp-pdb\"}}}}");
	make_pool("exp", "\"consolidationPolicy\":\"WhenEmpty\",\"consolidateAfter\":\"Never\"", "\"expireAfter\":\"1h\",");
	make_pool("empty", "\"consolidationPolicy\":\"WhenEmpty\",\"consolidateAfter\":\"10h\"", "\"expireAfter\":\"Never\",");
	make_pool("tgp", "\"consolidationPolicy\":\"WhenEmpty\",\"consolidateAfter\":\"Never\"",
		  "\"expireAfter\":\"Never\",\"terminationGracePeriod\":\"24h\",");
	make_pool("dnd", "\"consolidationPolicy\":\"WhenEmpty\",\"consolidateAfter\":\"1m\"", "\"expireAfter\":\"Never\",");
	make_pod("exp", "exp-0", "");
	make_pod("empty", "empty-0", "");
	make_pod("tgp", "tgp-dnd", ",\"annotations\":{\"karpenter.sh/do-not-disrupt\":\"true\"}");
	make_pod("tgp", "tgp-pdb", ",\"labels\":{\"app\":\"tgp-pdb\"}");
	make_pod("dnd", "dnd-0", "");
	if (!wait_every(20000, 20, all_pools_ready, NULL))
		fail_msg("the four pools' nodes did not come up");
	fprintf(stderr, "# setup: %lld ms\n", (long long)(real_ms() - t0));
	return 0;
}

static int env_ok(void)
{
	return E.th != NULL && E.kc != NULL;
}

#define NEED_ENV()                                                                                   \
	do {                                                                                         \
		if (!env_ok()) {                                                                     \
			fprintf(stderr, "# skip %s: the in-process API server did not start\n", __func__); \
			skip();                                                                      \
		}                                                                                    \
		t_start = real_ms();                                                                 \
	} while (0)

#define DONE() fprintf(stderr, "# %s: %lld ms\n", __func__, (long long)(real_ms() - t_start))

/* Advances the clock to at_ms (unix ms, on the controller's clock) when that is ahead. */
static void advance_to(int64_t at_ms)
{
	int64_t now = ctrl_env_wall(&CLK);

	if (at_ms > now)
		ctrl_env_advance(&CLK, at_ms - now);
}

/* RFC 3339 time s as unix ms; fails the test when absent (what names it). */
static int64_t time_ms(const char *s, const char *what)
{
	int64_t t = 0;

	if (!s || kp_parse_rfc3339(s, &t))
		fail_msg("no time at %s", what);
	return t * 1000;
}

static int64_t time_at(const json_t *obj, const char *path)
{
	return time_ms(kp_ctrl__jstr(obj, path), path);
}

static void test_expire_after(void **state)
{
	json_t *c;
	int64_t expires;

	(void)state;
	NEED_ENV();
	/* the API server stamps creation on the real clock: the test clock
	 * may already be ahead of it (other tests), so aim from the stamp */
	c = claim_of("exp");
	assert_non_null(c);
	assert_false(claim_deleting("exp"));
	expires = time_at(c, "metadata.creationTimestamp") + 60 * 60 * 1000;
	json_decref(c);
	/* a minute before: a disruption pass runs (its 10 s poll is due) and the claim stays */
	advance_to(expires - 60 * 1000);
	msleep(50);
	assert_false(claim_deleting("exp"));
	advance_to(expires + 1000);
	assert_true(wait_every(WAIT_MS, 10, claim_deleting, "exp"));
	/* (the log line follows the API call the test saw) */
	assert_true(wait_every(WAIT_MS, 10, log_has, "deleting expired nodeclaim"));
	DONE();
}

static int64_t del_mark;   /* unix ms, whole seconds */

/* The pool's claim's lastPodEventTime is at or after del_mark. */
static bool last_pod_event_since(const char *pool)
{
	json_t *c = claim_of(pool);
	const char *s = kp_ctrl__jstr(c, "status.lastPodEventTime");
	int64_t t = 0;
	bool yes = s && !kp_parse_rfc3339(s, &t) && t * 1000 >= del_mark;

	json_decref(c);
	return yes;
}

/* Deletes pod (of pool) and waits until it is gone and the controller has
 * seen it: the pool's claim's status.lastPodEventTime (podevents) moves to
 * the deletion. The clock first passes podevents' 10 s dedupe window. */
static void empty_node(const char *pool, const char *pod)
{
	ctrl_env_advance(&CLK, 11 * 1000);
	del_mark = ctrl_env_wall(&CLK) / 1000 * 1000;
	delete_pod_now(pod);
	assert_true(wait_every(WAIT_MS, 10, pod_gone, pod));
	assert_true(wait_every(WAIT_MS, 10, last_pod_event_since, pool));
}

static void test_consolidate_after_empty(void **state)
{
	char node[256], probe[400];

	(void)state;
	NEED_ENV();
	node_of("empty", node, sizeof(node));
	empty_node("empty", "empty-0");
	/* empty, but its last pod event is recent: passes report consolidateAfter */
	snprintf(probe, sizeof(probe), "%s\tconsolidate-after: last pod event", node);
	count_mark = log_count(probe);
	assert_true(advance_until(STEP_MS, WAIT_MS, log_count_above, probe));
	assert_false(claim_deleting("empty"));
	/* ten hours on: an empty-node command, validated 15 s later, executed */
	ctrl_env_advance(&CLK, 10 * 60 * 60 * 1000);
	assert_true(advance_until(STEP_MS, WAIT_MS, claim_deleting, "empty"));
	snprintf(probe, sizeof(probe), "validating disruption command\t%s", node);
	assert_true(log_line_has(probe));
	DONE();
}

static void test_termination_grace_period(void **state)
{
	const char *refused = "eviction refused, retrying\ttgp-pdb";
	json_t *c;
	int64_t deadline, n;

	(void)state;
	NEED_ENV();
	c = claim_of("tgp");
	assert_non_null(c);
	{
		struct kp_errbuf eb = { 0 };
		if (kp_kube_delete(E.kc, &KP_KUBE_NODECLAIMS, NULL, kp_ctrl__jstr(c, "metadata.name"), KP_PROPAGATE_DEFAULT,
				   NULL, NULL, &eb))
			fail_msg("delete nodeclaim: %s", eb.msg);
	}
	json_decref(c);
	/* draining, held: the do-not-disrupt pod is waited for, the PDB refuses the eviction */
	assert_true(wait_every(WAIT_MS, 10, claim_draining, "tgp"));
	assert_true(advance_until(1000, WAIT_MS, log_line_has, refused));
	assert_false(pod_deleting("tgp-dnd"));
	assert_false(pod_deleting("tgp-pdb"));
	/* the deadline: the claim's deletion (stamped by the API server on the real
	 * clock, which the test clock may be hours ahead of) + 24h */
	c = claim_of("tgp");
	assert_non_null(c);
	deadline = time_ms(json_string_value(json_object_get(kp_ctrl__jget(c, "metadata.annotations"), KPC_TERMINATION_TS_ANN)),
			   KPC_TERMINATION_TS_ANN);
	assert_int_equal(deadline, time_at(c, "metadata.deletionTimestamp") + 24 * 60 * 60 * 1000);
	json_decref(c);
	/* a minute before it: still held (a later drain visit is refused again) */
	advance_to(deadline - 60 * 1000);
	n = count_mark = log_count(refused);
	assert_true(advance_until(1000, WAIT_MS, log_count_above, refused));
	assert_true(log_count(refused) > n);
	assert_false(pod_deleting("tgp-dnd"));
	assert_false(pod_deleting("tgp-pdb"));
	/* past it: both are deleted anyway */
	advance_to(deadline + 1000);
	assert_true(wait_every(WAIT_MS, 10, pod_deleting, "tgp-dnd"));
	assert_true(wait_every(WAIT_MS, 10, pod_deleting, "tgp-pdb"));
	/* (the log line follows the API call the test saw) */
	assert_true(wait_every(WAIT_MS, 10, log_line_has, "deleting pod\ttgp-dnd"));
	assert_true(wait_every(WAIT_MS, 10, log_line_has, "deleting pod\ttgp-pdb"));
	DONE();
}

static void test_node_do_not_disrupt(void **state)
{
	char node[256], probe[400];

	(void)state;
	NEED_ENV();
	node_of("dnd", node, sizeof(node));
	annotate_node(node, "true");
	/* a pass reports the block (so the controller has the annotation) */
	snprintf(probe, sizeof(probe), "%s\tdo-not-disrupt: node has karpenter.sh/do-not-disrupt=true", node);
	assert_true(advance_until(STEP_MS, WAIT_MS, log_line_has, probe));
	empty_node("dnd", "dnd-0");
	/* empty and past consolidateAfter (1m), but the node says do-not-disrupt */
	ctrl_env_advance(&CLK, 2 * 60 * 1000);
	count_mark = log_count(probe);
	assert_true(advance_until(STEP_MS, WAIT_MS, log_count_above, probe));
	assert_false(claim_deleting("dnd"));
	/* the annotation removed: the same node goes */
	annotate_node(node, NULL);
	assert_true(advance_until(STEP_MS, WAIT_MS, claim_deleting, "dnd"));
	DONE();
}

/* Garbage collection's requeue (both garbagecollection controllers):
 * 10 s for the first 20 successful passes, then 2 min; the
 * KARPENTER_GC_PERIOD override is a fixed period. */
static void test_gc_schedule(void **state)
{
	(void)state;
	assert_int_equal(kp_ctrl__gc_next_ms(0, 0), 10000);
	assert_int_equal(kp_ctrl__gc_next_ms(0, 1), 10000);
	assert_int_equal(kp_ctrl__gc_next_ms(0, 20), 10000);
	assert_int_equal(kp_ctrl__gc_next_ms(0, 21), 120000);
	assert_int_equal(kp_ctrl__gc_next_ms(2000, 0), 2000);
	assert_int_equal(kp_ctrl__gc_next_ms(2000, 21), 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gc_schedule),
		cmocka_unit_test(test_expire_after),
		cmocka_unit_test(test_consolidate_after_empty),
		cmocka_unit_test(test_termination_grace_period),
		cmocka_unit_test(test_node_do_not_disrupt),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
