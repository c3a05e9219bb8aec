/*
 * explain.c - why: failure reasons for unschedulable pods and notes for
 * people reading a plan.
 *
 * A pod's reason is built while its last (most relaxed) attempt runs: one
 * "nodepool "<name>": <constraint>" clause per pool that could not take it,
 * joined with "; ". Instance-type filter failures follow Karpenter's
 * InstanceTypeFilterError cascade (which of requirements / resources /
 * offerings no type met, alone or in pairs), in plainer words. Notes are
 * one line per decision: pools skipped, the launch choice of each claim,
 * pods placed only after relaxing preferences (grouped by pod class).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sched/sched_int.h"

static kp_err note_add(struct kp_sched__run *r, const char *line)
{
	struct kp_plan *plan = r->plan;

	if (!line)
		return KP_ERR_NOMEM;
	if (plan->nnotes == r->nnotes_cap) {
		const char **v;
		r->nnotes_cap = r->nnotes_cap ? r->nnotes_cap * 2 : 16;
		v = kp_arena_grow(&plan->arena, (void *)plan->notes, (size_t)plan->nnotes, (size_t)r->nnotes_cap,
				  sizeof(*v));
		if (!v)
			return KP_ERR_NOMEM;
		plan->notes = v;
	}
	((const char **)plan->notes)[plan->nnotes++] = line;
	return KP_OK;
}

kp_err kp_sched__note(struct kp_sched__run *r, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return note_add(r, kp_arena_strdup(r->a, buf));
}

kp_err kp_sched__prep_note(struct kp_sched *s, const char *fmt, ...)
{
	char buf[1024];
	const char **v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	v = kp_arena_grow(&s->arena, (void *)s->prep_notes, (size_t)s->nprep_notes, (size_t)s->nprep_notes + 1,
			  sizeof(*v));
	if (!v)
		return KP_ERR_NOMEM;
	v[s->nprep_notes] = kp_arena_strdup(&s->arena, buf);
	if (!v[s->nprep_notes])
		return KP_ERR_NOMEM;
	s->nprep_notes++;
	s->prep_notes = v;
	return KP_OK;
}

kp_err kp_sched__notes_prep(struct kp_sched__run *r)
{
	for (int i = 0; i < r->s->nprep_notes; i++) {
		kp_err rc = note_add(r, kp_arena_strdup(r->a, r->s->prep_notes[i]));
		if (rc)
			return rc;
	}
	return KP_OK;
}

kp_err kp_sched__notes_relaxed(struct kp_sched__run *r)
{
	struct agg {
		const struct kp_sched__class *cls;
		int var, count;
		const struct kp_pod *first;
	} *a = kp_arena_calloc(r->scratch, (size_t)r->npods + 1, sizeof(*a));
	int n = 0;

	if (!a)
		return KP_ERR_NOMEM;
	for (int i = 0; i < r->npods; i++) {
		const struct kp_sched__pod *p = &r->pods[i];
		int j;

		if (!p->placed || p->var_used <= 0 || !p->cls->var[p->var_used].relaxed)
			continue;   /* placed unrelaxed (another volume alternative is no relaxation) */
		for (j = 0; j < n; j++)
			if (a[j].cls == p->cls && a[j].var == p->var_used)
				break;
		if (j == n) {
			a[n].cls = p->cls;
			a[n].var = p->var_used;
			a[n].first = p->pod;
			n++;
		}
		a[j].count++;
	}
	for (int j = 0; j < n; j++) {
		char key[512], what[1024];
		size_t len = 0;

		what[0] = '\0';
		for (int v = 1; v <= a[j].var; v++) {
			int k;
			if (!a[j].cls->var[v].relaxed || a[j].cls->var[v].relaxed == a[j].cls->var[v - 1].relaxed)
				continue;   /* the same step for another volume alternative */
			k = snprintf(what + len, sizeof(what) - len, "%s%s", len ? ", " : "", a[j].cls->var[v].relaxed);
			if (k < 0 || (size_t)k >= sizeof(what) - len)
				break;
			len += (size_t)k;
		}
		kp_pod_key(a[j].first, key, sizeof(key));
		if (a[j].count == 1) {
			if (kp_sched__note(r, "pod %s placed after relaxing %s", key, what))
				return KP_ERR_NOMEM;
		} else if (kp_sched__note(r, "%d pods like %s placed after relaxing %s", a[j].count, key, what)) {
			return KP_ERR_NOMEM;
		}
	}
	return KP_OK;
}

void kp_sched__reason_add(struct kp_sched__run *r, const char *pool, const char *msg)
{
	if (r->err.len)
		kp_buf_addstr(&r->err, "; ");
	if (pool)
		kp_buf_printf(&r->err, "nodepool \"%s\": %s", pool, msg);
	else
		kp_buf_addstr(&r->err, msg);
}

void kp_sched__filter_reason(struct kp_sched__run *r, int tpl, const struct kp_res *requests, bool c, bool f, bool o,
		       bool cf, bool co, bool fo, bool ports, struct kp_errbuf *eb)
{
	char res[256];
	const char *rs = kp_sched__res_str(requests, &r->s->cl->resnames, res, sizeof(res));

	(void)tpl;
	if (!c && !f && !o && ports)
		kp_errf(eb, KP_ERR_INVALID, "host ports conflict with daemonset pods on every instance type");
	else if (!c && !f && !o)
		kp_errf(eb, KP_ERR_INVALID,
			"no instance type satisfies requirements, has enough resources (%s) or an available offering", rs);
	else if (!c && !f)
		kp_errf(eb, KP_ERR_INVALID, "no instance type satisfies requirements or has enough resources (%s)", rs);
	else if (!c && !o)
		kp_errf(eb, KP_ERR_INVALID, "no instance type satisfies requirements or has an available offering");
	else if (!f && !o)
		kp_errf(eb, KP_ERR_INVALID, "no instance type has enough resources (%s) or an available offering", rs);
	else if (!c)
		kp_errf(eb, KP_ERR_INVALID, "no instance type satisfies requirements");
	else if (!f)
		kp_errf(eb, KP_ERR_INVALID, "no instance type has enough resources (%s) and satisfies requirements", rs);
	else if (!o)
		kp_errf(eb, KP_ERR_INVALID, "no instance type has an available offering in the allowed zones and capacity types");
	else if (cf)
		kp_errf(eb, KP_ERR_INVALID,
			"no instance type that satisfies requirements and has enough resources (%s) has an available offering", rs);
	else if (fo)
		kp_errf(eb, KP_ERR_INVALID,
			"no instance type with enough resources (%s) and an available offering satisfies requirements", rs);
	else if (co)
		kp_errf(eb, KP_ERR_INVALID, "no instance type has enough resources (%s) and satisfies requirements", rs);
	else
		kp_errf(eb, KP_ERR_INVALID,
			"no instance type satisfies requirements, has enough resources (%s) and an available offering at once", rs);
}
