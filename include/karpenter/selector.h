/*
 * selector.h - Kubernetes label selectors (metav1.LabelSelector).
 *
 * matchLabels AND matchExpressions (In, NotIn, Exists, DoesNotExist). An
 * empty selector matches everything; a NULL selector pointer matches nothing
 * (as for pod affinity terms and PDBs with no selector).
 */
#ifndef KARPENTER_SELECTOR_H
#define KARPENTER_SELECTOR_H

#include "karpenter/base.h"
#include "karpenter/labels.h"
#include "karpenter/requirements.h"

struct kp_selector_expr {
	const char *key;
	enum kp_op op;            /* only IN, NOTIN, EXISTS, DOESNOTEXIST */
	int n;
	const char **values;
};

struct kp_selector {
	struct kp_labels match_labels;
	int nexpr;
	struct kp_selector_expr *expr;
};

/* NULL sel matches nothing. */
bool kp_selector_matches(const struct kp_selector *sel, const struct kp_labels *labels);
/* Stable textual form for hashing/grouping ("app=web,tier in (a,b)"). */
char *kp_selector_str(const struct kp_selector *sel, struct kp_arena *a);

#endif
