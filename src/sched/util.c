/*
 * util.c - small helpers shared by the scheduler: per-key requirement
 * operations in Karpenter's terms (equality, one key of Compatible),
 * resource fits and formatting, and a stable sort of index arrays.
 *
 * Invariants: requirement results live in the arena passed in and may share
 * value arrays with the inputs (never modified). Cost: per-key operations are
 * O(values); kp_sched__sort_ints is an O(n log n) merge sort (stable, so equal keys
 * keep their input order and results stay deterministic).
 */
#include <stdio.h>
#include <string.h>

#include "sched/sched_int.h"

static bool neg_op(enum kp_op op)
{
	return op == KP_OP_NOTIN || op == KP_OP_DOESNOTEXIST;
}

bool kp_sched__req_equal(const struct kp_req *a, const struct kp_req *b)
{
	if (a == b)
		return true;
	if (a->complement != b->complement || a->n != b->n || a->has_gte != b->has_gte ||
	    a->has_lte != b->has_lte || a->min_values != b->min_values)
		return false;
	if ((a->has_gte && a->gte != b->gte) || (a->has_lte && a->lte != b->lte))
		return false;
	if (a->values == b->values)
		return true;
	for (int i = 0; i < a->n; i++)
		if (a->values[i] != b->values[i] && strcmp(a->values[i], b->values[i]) != 0)
			return false;
	return true;
}

bool kp_sched__req_compat_one(const struct kp_req *existing, const struct kp_req *incoming, bool allow_undef)
{
	if (!existing)
		return allow_undef || neg_op(kp_req_op(incoming));
	if (kp_req_intersects(existing, incoming))
		return true;
	return neg_op(kp_req_op(incoming)) && neg_op(kp_req_op(existing));
}

kp_err kp_sched__reqs_with(struct kp_reqs *out, struct kp_arena *a, const struct kp_reqs *rs,
		     const struct kp_req *set, int nset)
{
	struct kp_reqs r;
	kp_err rc;

	kp_reqs_init(&r);
	if (rs && rs->n) {
		rc = kp_reqs_copy(&r, a, rs);
		if (rc)
			return rc;
	}
	for (int i = 0; i < nset; i++) {
		const struct kp_req *cur = kp_reqs_get(&r, set[i].key);
		if (cur) {
			*(struct kp_req *)cur = set[i];
			continue;
		}
		rc = kp_reqs_add(&r, a, &set[i]);
		if (rc)
			return rc;
	}
	*out = r;
	return KP_OK;
}

bool kp_sched__res_fits(const struct kp_res *req, const struct kp_res *avail, int nres, int *bad)
{
	for (int i = 0; i < nres; i++) {
		if (avail->v[i] < 0 || req->v[i] > avail->v[i]) {
			if (bad)
				*bad = i;
			return false;
		}
	}
	return true;
}

const char *kp_sched__res_str(const struct kp_res *r, const struct kp_resnames *rn, char *buf, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < rn->n && i < KP_RES_MAX; i++) {
		char q[48];
		int k;

		if (i == KP_RES_PODS || r->v[i] == 0)
			continue;
		kp_qty_format(r->v[i], kp_res_scale(i), kp_res_style(rn, i), q, sizeof(q));
		k = snprintf(buf + len, n - len, "%s%s %s", len ? ", " : "", rn->name[i], q);
		if (k < 0 || (size_t)k >= n - len)
			break;
		len += (size_t)k;
	}
	return buf;
}

void kp_sched__sort_ints(int *v, int n, int (*cmp)(void *ctx, int a, int b), void *ctx, int *tmp)
{
	for (int w = 1; w < n; w *= 2) {
		for (int lo = 0; lo < n - w; lo += 2 * w) {
			int mid = lo + w, hi = lo + 2 * w < n ? lo + 2 * w : n;
			int i = lo, j = mid, k = lo;

			if (cmp(ctx, v[mid - 1], v[mid]) <= 0)
				continue;
			while (i < mid && j < hi)
				tmp[k++] = cmp(ctx, v[j], v[i]) < 0 ? v[j++] : v[i++];
			while (i < mid)
				tmp[k++] = v[i++];
			while (j < hi)
				tmp[k++] = v[j++];
			memcpy(v + lo, tmp + lo, (size_t)(hi - lo) * sizeof(*v));
		}
	}
}
