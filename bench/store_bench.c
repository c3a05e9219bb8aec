/*
 * store_bench.c - writes per second into `karpenter up`'s object store
 * (src/store): T threads each create N small ConfigMaps (one ~200-byte JSON
 * object per write, every write acknowledged only once durable), in a fresh
 * store under /tmp. Prints the median of 3 runs per thread count. Then one
 * thread writing B objects per kp_store_write_batch call (what `karpenter
 * up`'s built-in controllers do), for B in 16, 128, 512.
 *
 * With `update`, each thread creates one ConfigMap and then updates it
 * (every update's event also holds the state before it, see store.h).
 *
 * Usage: store_bench [WRITES_PER_THREAD] [update]   (default 400, creates)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

struct worker {
	struct kp_store *st;
	int id, n, fails;
	int batch;                  /* > 1: writes per kp_store_write_batch */
};

static int update_mode;   /* 1: one object per thread, updated n-1 times */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *configmap(const char *name, int i)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:i}}", "apiVersion", "v1", "kind", "ConfigMap",
			 "metadata", "name", name, "namespace", "default", "uid", name, "data", "k",
			 "a small value of some forty bytes......", "i", i);
}

static void work_batches(struct worker *w)
{
	struct kp_store_write *ws = calloc((size_t)w->batch, sizeof(*ws));
	char (*names)[64] = calloc((size_t)w->batch, sizeof(*names));

	for (int i = 0; ws && names && i < w->n; i += w->batch) {
		int m = w->n - i < w->batch ? w->n - i : w->batch;
		for (int j = 0; j < m; j++) {
			snprintf(names[j], sizeof(names[j]), "cm-%d-%d", w->id, i + j);
			ws[j] = (struct kp_store_write){ .op = KP_STORE_OP_CREATE, .obj = configmap(names[j], i + j) };
			ws[j].key = (struct kp_store_key){ "", "configmaps", "default", names[j] };
		}
		kp_store_write_batch(w->st, ws, (size_t)m, NULL);
		for (int j = 0; j < m; j++) {
			w->fails += ws[j].rc != KP_STORE_OK;
			json_decref(ws[j].obj);
		}
	}
	free(ws);
	free(names);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	char name[64];

	if (w->batch > 1) {
		work_batches(w);
		return NULL;
	}
	for (int i = 0; i < w->n; i++) {
		struct kp_errbuf eb = { 0 };
		snprintf(name, sizeof(name), "cm-%d-%d", w->id, update_mode ? 0 : i);
		struct kp_store_key k = { "", "configmaps", "default", name };
		json_t *o = configmap(name, i);
		if ((update_mode && i ? kp_store_update(w->st, &k, o, 0, NULL, &eb) : kp_store_create(w->st, &k, o, NULL, &eb)) !=
		    KP_STORE_OK)
			w->fails++;
		json_decref(o);
	}
	return NULL;
}

static double run(int threads, int n, int batch)
{
	char dir[] = "/tmp/kp-store-bench.XXXXXX", path[128], cmd[160];
	struct kp_store *st = NULL;
	struct kp_errbuf eb = { 0 };
	struct worker w[64];
	pthread_t th[64];
	double t0, dt;
	int fails = 0;

	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/store.db", dir);
	if (kp_store_open(&st, path, 0, &eb)) {
		fprintf(stderr, "store_bench: %s\n", eb.msg);
		return -1;
	}
	t0 = now_s();
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){ st, i, n, 0, batch };
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		fails += w[i].fails;
	}
	dt = now_s() - t0;
	kp_store_shutdown(st);
	kp_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "store_bench: cannot remove %s\n", dir);
	if (fails)
		fprintf(stderr, "store_bench: %d writes failed\n", fails);
	return (double)(threads * n - fails) / dt;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = 400;
	const int tc[] = { 1, 4, 16, 64 };

	if (argc > 1) {
		char *end;
		long v = strtol(argv[1], &end, 10);
		if (*end || v <= 0 || v > 1000000 || (argc > 2 && strcmp(argv[2], "update") != 0) || argc > 3) {
			fprintf(stderr, "usage: store_bench [WRITES_PER_THREAD] [update]\n");
			return 2;
		}
		n = (int)v;
		update_mode = argc > 2;
	}
	printf("%8s %10s %12s\n", "threads", "writes", "writes/s");
	for (size_t i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
		double r[3];
		int per = tc[i] == 1 ? n : n / 4 > 0 ? n / 4 : 1;
		for (int j = 0; j < 3; j++)
			r[j] = run(tc[i], per, 1);
		qsort(r, 3, sizeof(r[0]), cmp_d);
		printf("%8d %10d %12.0f\n", tc[i], tc[i] * per, r[1]);
	}
	const int bs[] = { 16, 128, 512 };
	printf("%8s %10s %12s  (one thread, kp_store_write_batch)\n", "batch", "writes", "writes/s");
	for (size_t i = 0; i < sizeof(bs) / sizeof(bs[0]); i++) {
		double r[3];
		int total = n * 10;
		for (int j = 0; j < 3; j++)
			r[j] = run(1, total, bs[i]);
		qsort(r, 3, sizeof(r[0]), cmp_d);
		printf("%8d %10d %12.0f\n", bs[i], total, r[1]);
	}
	return 0;
}
