/*
 * up.c - `karpenter up`'s wiring: starts the API server library
 * (src/apiserver, with its store), the built-in controllers (src/kcm) and,
 * when asked, the Karpenter controller in-process (src/ctrl) with the
 * simulated cloud it shares with the node-lifecycle controller; saves that
 * cloud in DATA_DIR/cloud.json and restores it at start; injects faults
 * into it from a file. None of this is known to the API server: the
 * controllers act on it only through its in-process API and HTTP.
 *
 * Stop order (kp_up_stop): the Karpenter controller (it detaches the cloud
 * from the node-lifecycle controller), the store is shut down so every
 * watch wakes up, the built-in controllers are joined, then the API server
 * is stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apiserver/server.h"
#include "cloud/aws/provider.h"
#include "kcm/kcm.h"
#include "kobj/kobj.h"
#include "up/up.h"

/* ---- the API server and the built-in controllers ---- */

kp_err kp_up_start(struct kp_up **out, const struct kp_apiserver_config *cfg, struct kp_errbuf *eb)
{
	struct kp_up *U = calloc(1, sizeof(*U));
	kp_err rc;

	*out = NULL;
	if (!U)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	if ((rc = kp_apiserver_start(&U->api, cfg, eb))) {
		free(U);
		return rc;
	}
	if ((rc = kp_kcm_start(U->api, &U->kcm, eb))) {
		kp_err_prefix(eb, "controllers");
		kp_up_stop(U);
		return rc;
	}
	*out = U;
	return KP_OK;
}

static void karpenter_stop(struct kp_up *U, struct kp_up_karpenter *k);

void kp_up_stop(struct kp_up *U)
{
	if (!U)
		return;
	karpenter_stop(U, U->karp);
	kp_apiserver_shutdown(U->api);   /* wakes the controllers' watches */
	kp_kcm_stop(U->kcm);
	kp_apiserver_stop(U->api);
	free(U);
}

/* ---- persistence of the simulated cloud, and fault injection (owned by
 * the resilience work; docs/controller.md "Testing: cloud persistence and
 * fault injection"). Self-contained: the controller hook below calls
 * keep_start() after making the cloud and keep_stop() before destroying it.
 *
 * Persistence: DATA_DIR/cloud.json holds kp_cloud_fake_save()'s JSON,
 * replaced atomically (tmp file, fsync, rename, fsync of the directory).
 * The fake cloud's change hook saves it inside every create and delete,
 * before the call returns (so the controller never sees a launch the file
 * does not hold), and after every poll that registered or removed a Node.
 * A failed save makes that create or delete a transient error (the
 * controller retries and finds the instance by its NodeClaim tag) and is
 * retried by the keeper thread. At start the file is restored before the
 * controller or the node controller can touch the cloud; an instance whose
 * Node is already in the store is marked reported, so a crash between
 * "Node written" and "state saved" never registers a second Node.
 *
 * Faults: a JSON file (--fault FILE or $KARPENTER_UP_FAULTS) applied before
 * the controller starts and re-applied whenever its inode, size or mtime
 * change (checked every 200 ms): all rules are cleared, then the file's
 * are added, so call-failure counts and the boot delay start afresh. A file
 * that does not parse is reported and the rules in force stay; a file that
 * disappears clears them.
 *
 * Cost: a save is O(instances) JSON plus one fsync'ed write per change.
 */
#include <jansson.h>
#include <limits.h>
#include <pthread.h>

#include "cloud/fake.h"

#define KEEP_STATE_FILE "cloud.json"
#define KEEP_STATE_MAX (256L << 20)        /* refuse larger saved states */
#define KEEP_FAULT_MAX (1L << 20)
#define KEEP_TICK_MS 200

struct up_keep {
	struct kp_apiserver *L;
	struct kp_cloud *cloud;
	char state_path[4200];
	pthread_mutex_t save_mu;          /* one save at a time, latest state wins */
	bool dirty;                       /* the last save failed (retried by the thread) */
	char fault_path[PATH_MAX];        /* "" = none */
	struct stat fault_st;             /* what was applied last */
	bool fault_seen;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, thread_on;
	pthread_t th;
};

/* Saves the cloud's state; 0 or -1 (reported, and retried by the thread). */
static int keep_save(struct up_keep *kp)
{
	struct kp_errbuf eb = { 0 };
	char *s;
	int rc = -1;

	pthread_mutex_lock(&kp->save_mu);
	s = kp_cloud_fake_save(kp->cloud, &eb);
	if (s && kp_kobj_write_file(kp->state_path, s, strlen(s), &eb) == KP_OK)
		rc = 0;
	if (rc && !kp->dirty)
		fprintf(stderr, "karpenter up: saving the simulated cloud: %s\n", eb.msg);
	kp->dirty = rc != 0;
	pthread_mutex_unlock(&kp->save_mu);
	free(s);
	return rc;
}

static int keep_change_fn(void *arg, struct kp_cloud *cp, enum kp_cloud_fake_change what)
{
	(void)cp;
	(void)what;
	return keep_save(arg);
}

/* Reads a whole regular file of at most max bytes into a NUL-terminated
 * malloc'ed string; NULL with errno set (ENOENT when it does not exist). */
static char *keep_read_file(const char *path, long max, size_t *len)
{
	FILE *f = fopen(path, "rbe");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > max || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		errno = EFBIG;
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		errno = EIO;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

static int keep_node_fn(void *ud, const char *json, size_t len, int64_t rv)
{
	json_t *node = json_loadb(json, len, 0, NULL);
	const char *pid = json_string_value(json_object_get(json_object_get(node, "spec"), "providerID"));

	(void)rv;
	if (pid && *pid)
		json_object_set_new(ud, pid, json_true());
	json_decref(node);
	return 0;
}

/* Restores DATA_DIR/cloud.json (absent: a new cloud), first marking every
 * instance whose Node the store holds as reported RUNNING. */
static kp_err keep_restore(struct up_keep *kp, struct kp_errbuf *eb)
{
	json_t *root = NULL, *nodes = NULL, *arr, *in;
	char *raw, *fixed = NULL;
	size_t len = 0, i, n = 0;
	kp_err rc = KP_OK;

	raw = keep_read_file(kp->state_path, KEEP_STATE_MAX, &len);
	if (!raw) {
		if (errno == ENOENT)
			return KP_OK;
		return kp_errf(eb, KP_ERR_IO, "read %s: %s", kp->state_path, strerror(errno));
	}
	root = json_loadb(raw, len, 0, NULL);
	nodes = json_object();
	if (!root || !nodes) {
		rc = kp_errf(eb, KP_ERR_INVALID, "%s: not JSON (move it away to start with an empty cloud)",
			     kp->state_path);
		goto out;
	}
	kp_store_list(kp->L->store, "", "nodes", NULL, keep_node_fn, nodes, NULL, NULL);
	arr = json_object_get(root, "instances");
	json_array_foreach(arr, i, in) {
		const char *pid = json_string_value(json_object_get(in, "providerID"));
		if (pid && json_object_get(nodes, pid))
			json_object_set_new(in, "reportedRunning", json_true());
		n++;
	}
	fixed = json_dumps(root, JSON_COMPACT);
	if (!fixed) {
		rc = kp_errf(eb, KP_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = kp_cloud_fake_restore(kp->cloud, fixed, eb))) {
		kp_err_prefix(eb, "%s: ", kp->state_path);
		goto out;
	}
	kp_apiserver_logf(kp->L, "restored the simulated cloud from %s (%zu instances)", kp->state_path, n);
out:
	free(fixed);
	json_decref(nodes);
	json_decref(root);
	free(raw);
	return rc;
}

/* ---- the fault file ---- */

static int keep_err_parse(const char *s)
{
	static const struct { const char *name; enum kp_cloud_err e; } t[] = {
		{ "NotFound", KP_CLOUD_NOT_FOUND }, { "InsufficientCapacity", KP_CLOUD_INSUFFICIENT_CAPACITY },
		{ "NodeClassNotReady", KP_CLOUD_NODECLASS_NOT_READY }, { "CreateError", KP_CLOUD_CREATE_ERROR },
		{ "Transient", KP_CLOUD_TRANSIENT }, { "Internal", KP_CLOUD_INTERNAL },
	};
	for (size_t i = 0; s && i < KP_ARRAY_LEN(t); i++)
		if (strcmp(s, t[i].name) == 0)
			return (int)t[i].e;
	return -1;
}

static unsigned keep_op_parse(const char *s)
{
	static const struct { const char *name; unsigned op; } t[] = {
		{ "create", KP_CLOUD_FAKE_OP_CREATE }, { "delete", KP_CLOUD_FAKE_OP_DELETE },
		{ "get", KP_CLOUD_FAKE_OP_GET }, { "list", KP_CLOUD_FAKE_OP_LIST },
		{ "instanceTypes", KP_CLOUD_FAKE_OP_INSTANCE_TYPES }, { "isDrifted", KP_CLOUD_FAKE_OP_IS_DRIFTED },
		{ "all", KP_CLOUD_FAKE_OP_ALL },
	};
	for (size_t i = 0; s && i < KP_ARRAY_LEN(t); i++)
		if (strcmp(s, t[i].name) == 0)
			return t[i].op;
	return 0;
}

static bool keep_known_keys(json_t *o, const char *const *keys, size_t n, const char **bad)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		size_t i;
		for (i = 0; i < n && strcmp(keys[i], k) != 0; i++)
			;
		if (i == n) {
			*bad = k;
			return false;
		}
	}
	return true;
}

/* A parsed fault file: validated completely before anything is applied. */
struct keep_faults {
	int nice, nfail;
	struct { const char *itype, *zone; int captype; } ice[KP_CLOUD_FAKE_MAX_ICE];
	struct { unsigned ops; int count; int err; const char *msg; } fail[KP_CLOUD_FAKE_MAX_FAULTS];
	int boot_count;                   /* 0 = no boot delay */
	int64_t boot_ms;                  /* KP_NEVER = never boots */
};

static kp_err keep_parse_faults(json_t *root, struct keep_faults *f, struct kp_errbuf *eb)
{
	static const char *const top[] = { "insufficientCapacity", "failNext", "bootDelay" };
	static const char *const ice_keys[] = { "instanceType", "zone", "capacityType" };
	static const char *const fail_keys[] = { "ops", "count", "error", "message" };
	static const char *const boot_keys[] = { "count", "delay" };
	const char *bad = NULL;
	json_t *arr, *e, *v;
	size_t i;

	memset(f, 0, sizeof(*f));
	if (!json_is_object(root))
		return kp_errf(eb, KP_ERR_INVALID, "not a JSON object");
	if (!keep_known_keys(root, top, KP_ARRAY_LEN(top), &bad))
		return kp_errf(eb, KP_ERR_INVALID, "unknown key \"%s\"", bad);
	arr = json_object_get(root, "insufficientCapacity");
	if (arr && !json_is_array(arr))
		return kp_errf(eb, KP_ERR_INVALID, "insufficientCapacity: not a list");
	json_array_foreach(arr, i, e) {
		const char *ct;
		if (!json_is_object(e) || !keep_known_keys(e, ice_keys, KP_ARRAY_LEN(ice_keys), &bad))
			return kp_errf(eb, KP_ERR_INVALID, "insufficientCapacity[%zu]: %s%s", i,
				       bad ? "unknown key " : "not an object", bad ? bad : "");
		if (f->nice == KP_CLOUD_FAKE_MAX_ICE)
			return kp_errf(eb, KP_ERR_LIMIT, "insufficientCapacity: more than %d rules", KP_CLOUD_FAKE_MAX_ICE);
		f->ice[f->nice].itype = json_string_value(json_object_get(e, "instanceType"));
		f->ice[f->nice].zone = json_string_value(json_object_get(e, "zone"));
		ct = json_string_value(json_object_get(e, "capacityType"));
		f->ice[f->nice].captype = ct ? kp_captype_parse(ct) : -1;
		if (ct && f->ice[f->nice].captype < 0)
			return kp_errf(eb, KP_ERR_INVALID, "insufficientCapacity[%zu]: unknown capacityType \"%s\"", i, ct);
		f->nice++;
	}
	arr = json_object_get(root, "failNext");
	if (arr && !json_is_array(arr))
		return kp_errf(eb, KP_ERR_INVALID, "failNext: not a list");
	json_array_foreach(arr, i, e) {
		json_t *ops;
		size_t j;
		if (!json_is_object(e) || !keep_known_keys(e, fail_keys, KP_ARRAY_LEN(fail_keys), &bad))
			return kp_errf(eb, KP_ERR_INVALID, "failNext[%zu]: %s%s", i, bad ? "unknown key " : "not an object",
				       bad ? bad : "");
		if (f->nfail == KP_CLOUD_FAKE_MAX_FAULTS)
			return kp_errf(eb, KP_ERR_LIMIT, "failNext: more than %d rules", KP_CLOUD_FAKE_MAX_FAULTS);
		f->fail[f->nfail].ops = 0;
		ops = json_object_get(e, "ops");
		json_array_foreach(ops, j, v) {
			unsigned op = keep_op_parse(json_string_value(v));
			if (!op)
				return kp_errf(eb, KP_ERR_INVALID, "failNext[%zu]: unknown op", i);
			f->fail[f->nfail].ops |= op;
		}
		if (!f->fail[f->nfail].ops)
			f->fail[f->nfail].ops = KP_CLOUD_FAKE_OP_CREATE;
		v = json_object_get(e, "count");
		if (v && (!json_is_integer(v) || json_integer_value(v) < -1 || json_integer_value(v) > INT_MAX))
			return kp_errf(eb, KP_ERR_INVALID, "failNext[%zu]: count is not an integer >= -1", i);
		f->fail[f->nfail].count = v ? (int)json_integer_value(v) : -1;
		f->fail[f->nfail].err = keep_err_parse(json_string_value(json_object_get(e, "error")));
		if (f->fail[f->nfail].err < 0)
			return kp_errf(eb, KP_ERR_INVALID, "failNext[%zu]: error is not one of NotFound, InsufficientCapacity, "
				       "NodeClassNotReady, CreateError, Transient, Internal", i);
		f->fail[f->nfail].msg = json_string_value(json_object_get(e, "message"));
		f->nfail++;
	}
	e = json_object_get(root, "bootDelay");
	if (e) {
		const char *d = json_string_value(json_object_get(e, "delay"));
		if (!json_is_object(e) || !keep_known_keys(e, boot_keys, KP_ARRAY_LEN(boot_keys), &bad) || !d)
			return kp_errf(eb, KP_ERR_INVALID, "bootDelay: want {\"delay\": DURATION|\"never\", \"count\": N}");
		if (strcmp(d, "never") == 0)
			f->boot_ms = KP_NEVER;
		else if (kp_parse_duration_ms(d, &f->boot_ms) || f->boot_ms < 0)
			return kp_errf(eb, KP_ERR_INVALID, "bootDelay: bad delay \"%s\"", d);
		v = json_object_get(e, "count");
		if (v && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX))
			return kp_errf(eb, KP_ERR_INVALID, "bootDelay: count is not an integer >= 0");
		f->boot_count = v ? (int)json_integer_value(v) : INT_MAX;
	}
	return KP_OK;
}

/* Reads, validates and applies the fault file (absent: no faults). On an
 * error the rules in force stay. */
static kp_err keep_apply_faults(struct up_keep *kp, struct kp_errbuf *eb)
{
	struct keep_faults f;
	json_t *root;
	json_error_t je;
	char *raw;
	size_t len = 0;
	kp_err rc;

	raw = keep_read_file(kp->fault_path, KEEP_FAULT_MAX, &len);
	if (!raw) {
		if (errno != ENOENT)
			return kp_errf(eb, KP_ERR_IO, "fault file %s: %s", kp->fault_path, strerror(errno));
		kp_cloud_fake_clear_faults(kp->cloud);
		kp_apiserver_logf(kp->L, "fault file %s absent: no faults injected", kp->fault_path);
		return KP_OK;
	}
	root = json_loadb(raw, len, JSON_REJECT_DUPLICATES, &je);
	free(raw);
	if (!root)
		return kp_errf(eb, KP_ERR_INVALID, "fault file %s: line %d: %s", kp->fault_path, je.line, je.text);
	if ((rc = keep_parse_faults(root, &f, eb))) {
		kp_err_prefix(eb, "fault file %s: ", kp->fault_path);
		json_decref(root);
		return rc;
	}
	kp_cloud_fake_clear_faults(kp->cloud);
	for (int i = 0; i < f.nice; i++)
		kp_cloud_fake_ice(kp->cloud, f.ice[i].itype, f.ice[i].zone, f.ice[i].captype);
	for (int i = 0; i < f.nfail; i++)
		kp_cloud_fake_fail_next(kp->cloud, f.fail[i].ops, f.fail[i].count, (enum kp_cloud_err)f.fail[i].err,
					f.fail[i].msg);
	if (f.boot_count > 0)
		kp_cloud_fake_delay_next_boots(kp->cloud, f.boot_count, f.boot_ms);
	kp_apiserver_logf(kp->L, "fault file %s applied: %d insufficient-capacity rules, %d call-failure rules, boot delay %s",
		      kp->fault_path, f.nice, f.nfail,
		      f.boot_count == 0 ? "none" : f.boot_ms == KP_NEVER ? "never boots" : "set");
	json_decref(root);
	return KP_OK;
}

static bool keep_same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Re-applies the fault file when it changed (or appeared, or went). */
static void keep_check_faults(struct up_keep *kp)
{
	struct kp_errbuf eb = { 0 };
	struct stat st;
	bool exists = stat(kp->fault_path, &st) == 0;

	if (exists == kp->fault_seen && (!exists || keep_same_stat(&st, &kp->fault_st)))
		return;
	kp->fault_seen = exists;
	if (exists)
		kp->fault_st = st;
	if (keep_apply_faults(kp, &eb)) {
		fprintf(stderr, "karpenter up: %s (the earlier rules stay)\n", eb.msg);
		kp_apiserver_logf(kp->L, "%s (the earlier rules stay)", eb.msg);
	}
}

static void *keep_thread(void *arg)
{
	struct up_keep *kp = arg;

	pthread_mutex_lock(&kp->mu);
	while (!kp->stop) {
		struct timespec ts;
		bool dirty;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += KEEP_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&kp->cv, &kp->mu, &ts);
		if (kp->stop)
			break;
		pthread_mutex_unlock(&kp->mu);
		if (kp->fault_path[0])
			keep_check_faults(kp);
		pthread_mutex_lock(&kp->save_mu);
		dirty = kp->dirty;
		pthread_mutex_unlock(&kp->save_mu);
		if (dirty)
			keep_save(kp);
		pthread_mutex_lock(&kp->mu);
	}
	pthread_mutex_unlock(&kp->mu);
	return NULL;
}

static void keep_stop(struct up_keep *kp);

/* Restores the saved cloud, installs the save hook, applies the fault file
 * and starts the keeper thread; call before anything else uses cloud. */
static kp_err keep_start(struct kp_apiserver *L, struct kp_cloud *cloud, const char *fault_file, struct up_keep **out,
			 struct kp_errbuf *eb)
{
	struct up_keep *kp = calloc(1, sizeof(*kp));
	kp_err rc;

	*out = NULL;
	if (!kp)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	kp->L = L;
	kp->cloud = cloud;
	pthread_mutex_init(&kp->save_mu, NULL);
	pthread_mutex_init(&kp->mu, NULL);
	pthread_cond_init(&kp->cv, NULL);
	if ((size_t)snprintf(kp->state_path, sizeof(kp->state_path), "%s/%s", L->cfg.data_dir, KEEP_STATE_FILE) >=
		    sizeof(kp->state_path) ||
	    (fault_file && (size_t)snprintf(kp->fault_path, sizeof(kp->fault_path), "%s", fault_file) >=
				   sizeof(kp->fault_path))) {
		rc = kp_errf(eb, KP_ERR_RANGE, "data dir or fault file path too long");
		goto fail;
	}
	if ((rc = keep_restore(kp, eb)))
		goto fail;
	kp_cloud_fake_set_change_hook(cloud, keep_change_fn, kp);
	if (kp->fault_path[0]) {
		struct stat st;
		kp->fault_seen = stat(kp->fault_path, &st) == 0;
		if (kp->fault_seen)
			kp->fault_st = st;
		if ((rc = keep_apply_faults(kp, eb)))
			goto fail;
	}
	if (pthread_create(&kp->th, NULL, keep_thread, kp) != 0) {
		rc = kp_errf(eb, KP_ERR_NOMEM, "cannot start the cloud keeper thread");
		goto fail;
	}
	kp->thread_on = true;
	*out = kp;
	return KP_OK;
fail:
	keep_stop(kp);
	return rc;
}

/* Stops the thread, saves a last time and removes the hook; NULL is a no-op.
 * The node controller must no longer poll the cloud. */
static void keep_stop(struct up_keep *kp)
{
	if (!kp)
		return;
	if (kp->thread_on) {
		pthread_mutex_lock(&kp->mu);
		kp->stop = true;
		pthread_cond_signal(&kp->cv);
		pthread_mutex_unlock(&kp->mu);
		pthread_join(kp->th, NULL);
	}
	if (kp->cloud)
		kp_cloud_fake_set_change_hook(kp->cloud, NULL, NULL);
	if (kp->thread_on)
		keep_save(kp);
	pthread_cond_destroy(&kp->cv);
	pthread_mutex_destroy(&kp->mu);
	pthread_mutex_destroy(&kp->save_mu);
	free(kp);
}
/* The in-process controller's leader-election identity, kept in
 * DATA_DIR/controller-identity so that `up` restarted on the same data
 * directory (after a crash, when its Lease is still held) is the holder
 * already and resumes at once instead of waiting out the Lease (15 s). */
static kp_err keep_identity(struct kp_apiserver *L, char *buf, size_t n, struct kp_errbuf *eb)
{
	char path[4200];
	unsigned char b[8];
	size_t len = 0;
	char *have;

	if ((size_t)snprintf(path, sizeof(path), "%s/controller-identity", L->cfg.data_dir) >= sizeof(path))
		return kp_errf(eb, KP_ERR_RANGE, "data dir path too long");
	have = keep_read_file(path, 256, &len);
	while (have && len && (have[len - 1] == '\n' || have[len - 1] == ' '))
		have[--len] = '\0';
	if (have && len > 0 && len < n) {
		memcpy(buf, have, len + 1);
		free(have);
		return KP_OK;
	}
	free(have);
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return kp_errf(eb, KP_ERR_IO, "getrandom: %s", strerror(errno));
	snprintf(buf, n, "karpenter-up_%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
	return kp_kobj_write_file(path, buf, strlen(buf), eb);
}
/* ---- end of cloud persistence and fault injection ---- */

/* ---- the Karpenter controller in-process (hook owned by src/ctrl; see
 * docs/controller.md). Self-contained: nothing above depends on it. The
 * controller talks to this server through HTTP with its own kubeconfig,
 * never through the store, so `up` exercises exactly the code that runs
 * against a real cluster. ---- */

#include "cloud/fake.h"
#include "ctrl/ctrl.h"
#include "up/cloudsrv.h"

struct kp_up_karpenter {
	struct kp_apiserver *L;
	struct kp_catalog cat;
	struct kp_resnames rn;
	struct kp_cloud *cloud;
	FILE *log;                       /* fopencookie stream into the pod's log */
	char line[16384];                /* partial line being assembled */
	size_t len;
	struct kp_ctrl_thread *th;
	struct up_keep *keep;            /* cloud persistence and faults (section above) */
	struct kp_up_cloudsrv *srv;      /* the cloud over HTTP (--cloud-listen), or NULL */
};

int kp_up_cloud_port(const struct kp_up *U)
{
	return U && U->karp ? kp_up_cloudsrv_port(U->karp->srv) : 0;
}

static ssize_t karpenter_log_write(void *cookie, const char *buf, size_t n)
{
	struct kp_up_karpenter *k = cookie;

	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || k->len == sizeof(k->line) - 1) {
			k->line[k->len] = '\0';
			kp_apiserver_log_sink(k->L, k->line);
			k->len = 0;
			if (buf[i] == '\n')
				continue;
		}
		k->line[k->len++] = buf[i];
	}
	return (ssize_t)n;
}

kp_err kp_up_karpenter_start(struct kp_up *U, const struct kp_up_karpenter_opts *o, struct kp_errbuf *eb)
{
	struct kp_apiserver *L = U->api;
	cookie_io_functions_t io = { NULL, karpenter_log_write, NULL, NULL };
	struct kp_up_karpenter *k;
	struct kp_cloud_fake_opts fo;
	struct kp_ctrl_opts co;
	char kcfg[4200], ident[128];
	kp_err rc;

	if (U->karp)
		return kp_errf(eb, KP_ERR_INVALID, "the controller runs already");
	k = calloc(1, sizeof(*k));
	if (!k)
		return kp_errf(eb, KP_ERR_NOMEM, "out of memory");
	k->L = L;
	kp_catalog_init(&k->cat);
	kp_resnames_init(&k->rn);
	if ((rc = kp_ctrl_global_init(eb)))
		goto fail;
	if ((rc = kp_catalog_open(&k->cat, &k->rn, o->catalog ? o->catalog : "aws", o->datadir, eb))) {
		kp_err_prefix(eb, "catalog: ");
		goto fail;
	}
	if (o->cloud && strcmp(o->cloud, "aws") == 0) {
		struct kp_cloud_aws_opts ao;

		if (o->fault_file) {
			rc = kp_errf(eb, KP_ERR_INVALID, "--fault applies to the simulated cloud only, not to --cloud aws");
			goto fail;
		}
		kp_cloud_aws_opts_init(&ao);
		ao.cluster = o->cluster_name ? o->cluster_name : "karpenter";
		ao.endpoint = o->aws_endpoint;
		ao.region = o->aws_region;
		ao.pricing_endpoint = o->aws_pricing_endpoint;
		ao.cluster_endpoint = o->cluster_endpoint;
		ao.base = &k->cat;
		if ((rc = kp_cloud_aws_new(&ao, &k->cloud, eb))) {
			kp_err_prefix(eb, "aws: ");
			goto fail;
		}
	} else {
		kp_cloud_fake_opts_init(&fo);
		fo.launch_delay_ms = o->launch_delay_ms;
		fo.resnames = &k->rn;
		if ((rc = kp_cloud_fake_new(&k->cat, &fo, &k->cloud, eb)))
			goto fail;
		if ((rc = keep_start(L, k->cloud, o->fault_file, &k->keep, eb)))   /* before anything uses the cloud */
			goto fail;
	}
	if ((size_t)snprintf(kcfg, sizeof(kcfg), "%s/karpenter-controller.kubeconfig", L->cfg.data_dir) >= sizeof(kcfg)) {
		rc = kp_errf(eb, KP_ERR_RANGE, "data dir path too long");
		goto fail;
	}
	if ((rc = kp_apiserver_write_kubeconfig(L, kcfg, eb)))
		goto fail;
	k->log = fopencookie(k, "w", io);
	if (!k->log) {
		rc = kp_errf(eb, KP_ERR_IO, "cannot open the controller's log");
		goto fail;
	}
	setvbuf(k->log, NULL, _IOLBF, 0);
	kp_kcm_set_cloud(U->kcm, k->cloud);
	if (o->cloud_listen && (rc = kp_up_cloudsrv_start(k->cloud, &k->rn, o->cloud_listen, &k->srv, eb)))
		goto fail;
	if (o->controller_off) {   /* a controller elsewhere uses the cloud through srv */
		U->karp = k;
		return KP_OK;
	}
	kp_ctrl_opts_init(&co);
	co.kubeconfig = kcfg;
	co.cloud = k->cloud;
	co.resnames = &k->rn;
	co.log_out = k->log;
	co.log_level = o->log_level;
	co.leader_elect = o->leader_elect;
	if ((rc = keep_identity(L, ident, sizeof(ident), eb)))   /* stable across restarts (section above) */
		goto fail;
	co.identity = ident;
	if (o->batch_idle_ms > 0)
		co.batch_idle_ms = o->batch_idle_ms;
	if (o->batch_max_ms > 0)
		co.batch_max_ms = o->batch_max_ms;
	co.packing = o->packing;
	co.node_repair = kp_ctrl_gate_on(getenv("FEATURE_GATES"), "NodeRepair");   /* node repair (off by default) */
	if ((rc = kp_ctrl_thread_start(&co, &k->th, eb)))
		goto fail;
	U->karp = k;
	return KP_OK;
fail:
	karpenter_stop(U, k);
	return rc;
}

static void karpenter_stop(struct kp_up *U, struct kp_up_karpenter *k)
{
	if (!k)
		return;
	kp_up_cloudsrv_stop(k->srv);   /* no remote call runs past here */
	kp_ctrl_thread_stop(k->th);
	if (k->cloud)
		kp_kcm_set_cloud(U->kcm, NULL);
	keep_stop(k->keep);   /* after the last create, delete and poll */
	kp_cloud_destroy(k->cloud);
	if (k->log)
		fclose(k->log);
	kp_catalog_free(&k->cat);
	free(k);
}
