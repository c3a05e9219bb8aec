/*
 * strmap.c - string -> int map for the scheduler (domains, groups, pod
 * classes, node names): base's map (karpenter/strmap.h) in arena mode, so
 * keys are borrowed and a grow abandons the old table in the arena.
 * Nothing iterates it, so its order never decides anything.
 */
#include <stdint.h>

#include "sched/sched_int.h"

int kp_sched__strmap_get(const struct kp_sched__strmap *m, const char *key)
{
	const struct kp_strmap_ent *e = kp_strmap_find(&m->m, key);

	return e ? (int)(intptr_t)e->val : -1;
}

kp_err kp_sched__strmap_put(struct kp_sched__strmap *m, struct kp_arena *a, const char *key, int val)
{
	if (!m->m.arena)
		m->m.arena = a;
	return kp_strmap_put(&m->m, key, (void *)(intptr_t)val, NULL);
}
