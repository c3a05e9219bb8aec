/*
 * daemon.c - DaemonSet overhead (Karpenter's buildDaemonOverheadGroups,
 * isDaemonPodCompatible and getCompatibleDaemonPods).
 *
 * One daemon pod per DaemonSet: the newest pod it owns, else its template.
 * For each template and
 * instance type, the daemons that would run there: they tolerate the pool's
 * taints (PreferNoSchedule ignored), and their strict node affinity (node
 * selector + a required term; the terms are tried in order, OR semantics)
 * is compatible with the template's requirements (well-known keys may be
 * undefined) and intersects the type's requirements. Types with the same
 * daemon set share one group: overhead = sum of the daemons' requests plus
 * one pod each, and the union of their host ports.
 *
 * For existing nodes, a daemon counts when it tolerates the node's taints
 * (PreferNoSchedule included, as Karpenter does there) and its first
 * required term is compatible with the node's labels.
 *
 * Cost: O(templates x types x daemons x keys) once per prep.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/sched_int.h"

static bool owned_by(const struct kp_pod *p, const struct kp_daemonset *ds)
{
	if (!p->owner_name || strcmp(p->owner_name, ds->name) != 0)
		return false;
	if (!p->is_daemon && (!p->owner_kind || strcmp(p->owner_kind, "DaemonSet") != 0))
		return false;
	return strcmp(p->ns ? p->ns : "", ds->ns ? ds->ns : "") == 0;
}

/* Karpenter's getDaemonSetPods: the newest pod the DaemonSet owns (it may
 * differ from the template, e.g. after a VPA resize), else the template;
 * either way with the template's required node affinity, which the
 * DaemonSet controller overrides on its pods. */
static kp_err daemon_pod(struct kp_sched *s, const struct kp_daemonset *ds, const struct kp_pod **out)
{
	const struct kp_cluster *cl = s->cl;
	const struct kp_pod *best = NULL;
	struct kp_pod *p;

	for (int i = 0; i < cl->npods; i++)
		if (owned_by(cl->pods[i], ds) && (!best || cl->pods[i]->created > best->created))
			best = cl->pods[i];
	if (!best) {
		*out = &ds->tmpl;
		return KP_OK;
	}
	p = kp_arena_memdup(&s->arena, best, sizeof(*best));
	if (!p)
		return KP_ERR_NOMEM;
	if (ds->tmpl.nrequired_terms > 0) {
		p->nrequired_terms = ds->tmpl.nrequired_terms;
		p->required_terms = ds->tmpl.required_terms;
	}
	*out = p;
	return KP_OK;
}

kp_err kp_sched__daemons_collect(struct kp_sched *s)
{
	const struct kp_cluster *cl = s->cl;

	s->daemons = kp_arena_calloc(&s->arena, (size_t)cl->ndaemonsets + 1, sizeof(*s->daemons));
	s->daemon_reqs = kp_arena_calloc(&s->arena, (size_t)cl->ndaemonsets + 1, sizeof(*s->daemon_reqs));
	if (!s->daemons || !s->daemon_reqs)
		return KP_ERR_NOMEM;
	for (int i = 0; i < cl->ndaemonsets; i++) {
		const struct kp_pod *p;
		int nt;
		struct kp_reqs *r;

		if (daemon_pod(s, cl->daemonsets[i], &p))
			return KP_ERR_NOMEM;
		nt = p->nrequired_terms > 0 ? p->nrequired_terms : 1;
		r = kp_arena_calloc(&s->arena, (size_t)nt, sizeof(*r));
		if (!r)
			return KP_ERR_NOMEM;
		for (int t = 0; t < nt; t++) {
			kp_err rc = kp_sched__pod_strict_reqs(&s->arena, p, p->nrequired_terms > 0 ? t : -1, &r[t]);
			if (rc)
				return rc;
		}
		s->daemons[s->ndaemons] = p;
		s->daemon_reqs[s->ndaemons] = r;
		s->ndaemons++;
	}
	return KP_OK;
}

static bool daemon_fits_type(const struct kp_sched *s, const struct kp_sched__tpl *t, const struct kp_itype *it, int d)
{
	const struct kp_pod *p = s->daemons[d];
	int nt = p->nrequired_terms > 0 ? p->nrequired_terms : 1;

	if (!kp_taints_tolerated(&t->pool->taints, &p->tolerations, false, NULL))
		return false;
	for (int i = 0; i < nt; i++) {
		const struct kp_reqs *r = &s->daemon_reqs[d][i];
		if (kp_reqs_compatible(&t->reqs, r, NULL) && kp_reqs_intersects(&it->reqs, r, NULL))
			return true;
	}
	return false;
}

bool kp_sched__daemon_fits_node(const struct kp_sched *s, int d, const struct kp_taints *taints,
			  const struct kp_reqs *labels)
{
	if (!kp_taints_tolerated(taints, &s->daemons[d]->tolerations, true, NULL))
		return false;
	return kp_reqs_compatible_strict(labels, &s->daemon_reqs[d][0], NULL);
}

kp_err kp_sched__daemon_groups_build(struct kp_sched *s, struct kp_sched__tpl *t)
{
	int words = (s->ndaemons + 63) / 64 + 1;
	uint64_t *sets = kp_arena_calloc(&s->arena, (size_t)(t->ntypes + 1) * (size_t)words, sizeof(uint64_t));
	int *group_rep = kp_arena_calloc(&s->arena, (size_t)t->ntypes + 1, sizeof(int));

	if (!sets || !group_rep)
		return KP_ERR_NOMEM;
	t->dg = kp_arena_calloc(&s->arena, (size_t)t->ntypes + 1, sizeof(*t->dg));
	if (!t->dg)
		return KP_ERR_NOMEM;
	for (int i = 0; i < t->ntypes; i++) {
		uint64_t *set = &sets[(size_t)i * (size_t)words];
		struct kp_sched__itype *ti = &t->types[i];
		int g;

		for (int d = 0; d < s->ndaemons; d++)
			if (daemon_fits_type(s, t, ti->it, d))
				set[d / 64] |= (uint64_t)1 << (d % 64);
		for (g = 0; g < t->ndg; g++)
			if (memcmp(&sets[(size_t)group_rep[g] * (size_t)words], set, (size_t)words * sizeof(uint64_t)) == 0)
				break;
		if (g == t->ndg) {
			struct kp_sched__dgroup *dg = &t->dg[t->ndg];

			group_rep[t->ndg++] = i;
			for (int d = 0; d < s->ndaemons; d++) {
				struct kp_res req;
				if (!(set[d / 64] >> (d % 64) & 1))
					continue;
				req = s->daemons[d]->requests;
				req.v[KP_RES_PODS] += 1;
				kp_res_add(&dg->overhead, &req);
				dg->has_overhead = true;
				dg->ndaemons++;
				if (s->daemons[d]->host_ports.n &&
				    kp_hostports_add(&dg->ports, &s->arena, &s->daemons[d]->host_ports))
					return KP_ERR_NOMEM;
			}
		}
		ti->dgroup = g;
		ti->free = ti->it->allocatable;
		kp_res_sub(&ti->free, &t->dg[g].overhead);
		for (int k = 0; k < KP_RES_MAX; k++)
			if (ti->free.v[k] < 0)
				ti->never_fits = true;
	}
	for (int k = 0; k < KP_RES_MAX; k++)
		t->maxfree.v[k] = INT64_MIN;
	for (int i = 0; i < t->ntypes; i++) {
		kp_res_max(&t->maxcap, &t->types[i].it->capacity);
		for (int k = 0; k < KP_RES_MAX; k++)
			if (t->types[i].free.v[k] > t->maxfree.v[k])
				t->maxfree.v[k] = t->types[i].free.v[k];
	}
	return KP_OK;
}
