/*
 * fake.h - the simulated cloud: a struct kp_cloud whose instances live in
 * memory and "boot" on a clock, for `karpenter up` and controller tests.
 *
 * Behaviour (see fake.c for the details):
 *   - create picks, among the claim's instance-type values that are
 *     compatible with its requirements and whose allocatable fits its
 *     requests, the cheapest available offering of the first capacity type
 *     the claim allows and some candidate offers, in the order reserved >
 *     spot > on-demand (as the AWS provider picks the fleet's capacity
 *     type); ties by type name then zone. Spot is chosen by lowest price
 *     too: there is no capacity-pool model to be "capacity optimized" on.
 *   - an instance is PENDING from create until launch_delay_ms (plus any
 *     injected extra delay) has passed, then RUNNING; delete makes it
 *     TERMINATING, and TERMINATED terminate_delay_ms later. States are
 *     computed lazily from the clock on every call; nothing runs by itself.
 *   - provider ids look like AWS's: "aws:///<zone>/i-<17 hex digits>", the
 *     ids drawn from a seeded generator (no two live instances share one).
 *
 * Life cycle: kp_cloud_fake_opts_init(), adjust the options, then
 * kp_cloud_fake_new(); the catalog is borrowed and must outlive the cloud.
 * Release with kp_cloud_destroy() (or cp->ops->destroy). Every function is
 * thread-safe (one mutex); kp_cloud_fake_poll() calls its callback without
 * holding it, so the callback may call back into the cloud. The catalog
 * instance_types returns is the cloud's own copy, valid until destroy; its
 * offerings' availability is rewritten (on the next create or
 * instance_types call) only after an insufficient-capacity rule is added or
 * cleared, so inject those from the thread that reads the catalog.
 *
 * Persistence: `karpenter up` saves kp_cloud_fake_save()'s JSON after each
 * poll whose callbacks succeeded (and after create/delete), and restores it
 * at start, so no instance is launched twice or forgotten, and no Node is
 * registered twice. The cluster name is the owner tag: a state saved for
 * another cluster is refused. Provider ids keep AWS's form and do not
 * contain it.
 */
#ifndef KARPENTER_CLOUD_FAKE_H
#define KARPENTER_CLOUD_FAKE_H

#include "karpenter/cloud.h"

/* Returns the current time as unix milliseconds (like kp_log_clock_fn). */
typedef int64_t (*kp_cloud_fake_clock_fn)(void *arg);

struct kp_cloud_fake_opts {
	int64_t launch_delay_ms;          /* create -> RUNNING; default 2000 */
	int64_t terminate_delay_ms;       /* delete -> TERMINATED; default 0 */
	kp_cloud_fake_clock_fn clock;     /* NULL = the real-time clock */
	void *clock_arg;
	uint64_t seed;                    /* instance-id generator; default 1 */
	const char *cluster;              /* owner tag, checked on restore; default "karpenter" (copied) */
	const char *image_id;             /* NULL = "ami-" + 17 hex derived from the arch label */
	const struct kp_resnames *resnames; /* names resources in saved state; NULL = well-known only (borrowed) */
	int subnet_zones;                 /* subnets in the first N zones (sorted) of the catalog; default 3,
					   * 0 = every zone: offerings elsewhere are unavailable */
};

/* Sets the defaults above. */
void kp_cloud_fake_opts_init(struct kp_cloud_fake_opts *o);

/* Creates a simulated cloud over cat (borrowed: it must outlive the cloud
 * and stay unchanged). NULL o means the defaults. KP_ERR_NOMEM or
 * KP_ERR_INVALID (negative delay, empty cluster name) with eb set. */
kp_err kp_cloud_fake_new(const struct kp_catalog *cat, const struct kp_cloud_fake_opts *o, struct kp_cloud **out,
			 struct kp_errbuf *eb);

/* True iff cp was made by kp_cloud_fake_new (the functions below require it). */
bool kp_cloud_is_fake(const struct kp_cloud *cp);

/* The simulated cloud's repair policies (its ops' repair_policies; the
 * remote provider serves the same): a static table, *n entries. */
const struct kp_cloud_repair_policy *kp_cloud_fake_repair_policies(int *n);

/* The cloud's clock, unix milliseconds. */
int64_t kp_cloud_fake_now(struct kp_cloud *cp);

/* ---- poll: what `karpenter up` turns into Nodes ---- */

enum kp_cloud_fake_event {
	KP_CLOUD_FAKE_RUNNING = 1,        /* booted: register a Node for it */
	KP_CLOUD_FAKE_TERMINATED,         /* gone: remove its Node */
};

/* Handles one transition. inst lives until the callback returns. Returns 0
 * when handled; nonzero to have the same transition reported again at the
 * next poll (e.g. the Node could not be written). */
typedef int (*kp_cloud_fake_poll_fn)(void *ctx, enum kp_cloud_fake_event ev, const struct kp_instance *inst);

/* Reports, at time now_ms, every instance that became RUNNING (and is not
 * being deleted) and every instance reported RUNNING before that has since
 * TERMINATED; each transition exactly once (unless the callback asks for a
 * retry). An instance deleted before it was reported RUNNING is reported
 * neither way. Events come in provider-id order, RUNNING and TERMINATED
 * interleaved. Also forgets terminated instances that need no further
 * report. Returns the number of transitions handled, or -1 when out of
 * memory (transitions not delivered are reported at the next poll) or cb
 * is NULL. */
int kp_cloud_fake_poll(struct kp_cloud *cp, int64_t now_ms, kp_cloud_fake_poll_fn cb, void *ctx);

/* ---- persistence ---- */

/* The instance table (with the poll bookkeeping and the id generator) as a
 * JSON string, malloc'ed: the caller frees it with free(). NULL with eb set
 * when out of memory. */
char *kp_cloud_fake_save(struct kp_cloud *cp, struct kp_errbuf *eb);
/* Replaces the instance table (and the id generator) with one saved by
 * kp_cloud_fake_save, after validating all of it; on error nothing changes.
 * KP_ERR_INVALID for bad JSON or a state saved for another cluster. Fault
 * injections are left as they are. */
kp_err kp_cloud_fake_restore(struct kp_cloud *cp, const char *json, struct kp_errbuf *eb);

/* Persistence hook: what changed. */
enum kp_cloud_fake_change {
	KP_CLOUD_FAKE_CHANGED_CREATE = 1, /* an instance was created */
	KP_CLOUD_FAKE_CHANGED_DELETE,     /* an instance started terminating */
	KP_CLOUD_FAKE_CHANGED_POLL,       /* a poll handled transitions */
};
/* Called without the cloud's lock (it may call kp_cloud_fake_save) after a
 * successful create, a delete that changed an instance, and a poll that
 * handled at least one transition, before that call returns. Returns 0
 * when the state is saved; nonzero turns a create or delete into
 * KP_CLOUD_TRANSIENT (the change stays in memory: a retried create finds
 * the instance through list, by its NodeClaim tag); a poll ignores it. */
typedef int (*kp_cloud_fake_change_fn)(void *arg, struct kp_cloud *cp, enum kp_cloud_fake_change what);
/* Installs (fn NULL: removes) the hook; thread-safe. */
void kp_cloud_fake_set_change_hook(struct kp_cloud *cp, kp_cloud_fake_change_fn fn, void *arg);

/* ---- failure injection (tests) ---- */

enum kp_cloud_fake_op {
	KP_CLOUD_FAKE_OP_CREATE = 1 << 0,
	KP_CLOUD_FAKE_OP_DELETE = 1 << 1,
	KP_CLOUD_FAKE_OP_GET = 1 << 2,
	KP_CLOUD_FAKE_OP_LIST = 1 << 3,
	KP_CLOUD_FAKE_OP_INSTANCE_TYPES = 1 << 4,
	KP_CLOUD_FAKE_OP_IS_DRIFTED = 1 << 5,
	KP_CLOUD_FAKE_OP_ALL = (1 << 6) - 1,
};

#define KP_CLOUD_FAKE_MAX_ICE 64          /* insufficient-capacity rules */
#define KP_CLOUD_FAKE_MAX_FAULTS 16       /* call-failure rules */

/* Makes matching offerings unavailable (insufficient capacity) until
 * kp_cloud_fake_clear_faults: itype and zone NULL match any, captype -1
 * matches any. "All spot" is (NULL, NULL, KP_CAP_SPOT). create skips them
 * (falling back to the next offering) and instance_types reports them
 * unavailable. KP_ERR_LIMIT past KP_CLOUD_FAKE_MAX_ICE rules. */
kp_err kp_cloud_fake_ice(struct kp_cloud *cp, const char *itype, const char *zone, int captype);

/* The next count calls of the operations in ops (a KP_CLOUD_FAKE_OP_*
 * mask) fail with err and message msg (NULL: a default one); count < 0
 * means until cleared. Rules are checked in the order added; a call
 * consumes one use of the first rule that matches. Create errors are
 * (KP_CLOUD_FAKE_OP_CREATE, n, KP_CLOUD_CREATE_ERROR, ...), throttling is
 * (KP_CLOUD_FAKE_OP_ALL, n, KP_CLOUD_TRANSIENT, NULL). KP_ERR_INVALID for
 * err == KP_CLOUD_OK, KP_ERR_LIMIT past KP_CLOUD_FAKE_MAX_FAULTS rules. */
kp_err kp_cloud_fake_fail_next(struct kp_cloud *cp, unsigned ops, int count, enum kp_cloud_err err,
			       const char *msg);

/* Sets an existing instance to boot extra_ms after the normal launch delay
 * (KP_NEVER: it never becomes RUNNING, so it never registers). Returns
 * KP_ERR_NOTFOUND for an unknown or terminated id, KP_ERR_INVALID when the
 * instance is already RUNNING. */
kp_err kp_cloud_fake_delay_boot(struct kp_cloud *cp, const char *provider_id, int64_t extra_ms);

/* The next count instances created boot extra_ms late (KP_NEVER: never).
 * Replaces any earlier such setting; count 0 cancels it. */
void kp_cloud_fake_delay_next_boots(struct kp_cloud *cp, int count, int64_t extra_ms);

/* Marks an instance drifted with reason (NULL or "" clears it); is_drifted
 * reports it for the claim whose providerID is that instance.
 * KP_ERR_NOTFOUND for an unknown or terminated id. */
kp_err kp_cloud_fake_drift(struct kp_cloud *cp, const char *provider_id, const char *reason);

/* Removes every insufficient-capacity and call-failure rule and the
 * next-boot delay (per-instance delays and drift stay). */
void kp_cloud_fake_clear_faults(struct kp_cloud *cp);

/* How many calls of the operations in ops were made so far, failed or not. */
int kp_cloud_fake_calls(struct kp_cloud *cp, unsigned ops);

#endif
