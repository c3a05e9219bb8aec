/*
 * pod.c - pod-level facts the scheduler needs: effective resource requests,
 * whether a pod is pending provisioning, its "ns/name" key.
 *
 * Effective requests follow k8s resourcehelper.PodRequests (the function
 * Karpenter's RequestsForPods calls), without pod-level resources:
 *   - a container's request for a resource defaults to its limit when only
 *     the limit is set (API defaulting; an explicit request of 0 cannot be
 *     told apart from an absent one here, so it defaults too);
 *   - regular containers are summed;
 *   - a restartable init container (sidecar, restartPolicy Always) keeps
 *     running: it adds to that sum, and to the running total of sidecars
 *     started so far;
 *   - while a regular init container i runs, the pod needs its request plus
 *     every sidecar started before i; a sidecar's own moment needs the
 *     sidecars up to and including itself;
 *   - the result is the entrywise max of the sum and every init moment,
 *     plus the pod overhead.
 * Also the karpenter.sh/do-not-disrupt rule on a pod (kp_pod_do_not_disrupt*),
 * the one place it is written.
 * Cost: O((containers + init containers) * KP_RES_MAX). No allocation.
 */
#include <stdio.h>
#include <string.h>

#include "karpenter/objects.h"

/* requests, with each unset entry taken from limits */
static void container_requests(const struct kp_container_res *c, struct kp_res *out)
{
	for (int i = 0; i < KP_RES_MAX; i++)
		out->v[i] = c->requests.v[i] ? c->requests.v[i] : c->limits.v[i];
}

bool kp_pod_effective_requests(const struct kp_container_res *containers, int ncontainers,
			       const struct kp_container_res *inits, int ninits,
			       const struct kp_res *overhead, struct kp_res *out)
{
	struct kp_res sum, sidecars, peak, r;
	bool ok = true;

	kp_res_zero(&sum);
	kp_res_zero(&sidecars);
	kp_res_zero(&peak);
	for (int i = 0; i < ncontainers; i++) {
		container_requests(&containers[i], &r);
		ok &= kp_res_add(&sum, &r);
	}
	for (int i = 0; i < ninits; i++) {
		container_requests(&inits[i], &r);
		if (inits[i].restartable) {
			ok &= kp_res_add(&sum, &r);
			ok &= kp_res_add(&sidecars, &r);
			kp_res_max(&peak, &sidecars);
		} else {
			ok &= kp_res_add(&r, &sidecars);
			kp_res_max(&peak, &r);
		}
	}
	kp_res_max(&sum, &peak);
	if (overhead)
		ok &= kp_res_add(&sum, overhead);
	*out = sum;
	return ok;
}

bool kp_pod_is_terminal(const struct kp_pod *p)
{
	return p->phase && (strcmp(p->phase, "Succeeded") == 0 || strcmp(p->phase, "Failed") == 0);
}

bool kp_pod_do_not_disrupt_value(const char *v, int64_t created_ms, int64_t now_ms)
{
	int64_t ms;

	if (!v)
		return false;
	if (strcmp(v, "true") == 0)
		return true;
	if (kp_parse_duration_ms(v, &ms) || ms <= 0)
		return false;   /* invalid values are ignored, as in Karpenter */
	return now_ms < created_ms + ms;
}

bool kp_pod_do_not_disrupt(const struct kp_pod *p, int64_t now)
{
	return kp_pod_do_not_disrupt_value(kp_labels_get(&p->annotations, KP_ANN_DO_NOT_DISRUPT), p->created * 1000,
					   now * 1000);
}

bool kp_pod_is_pending(const struct kp_pod *p)
{
	return (!p->node_name || !p->node_name[0]) && !p->is_daemon && !p->is_mirror &&
	       !kp_pod_is_terminal(p) && p->deleting == 0;
}

/* As client-go's MetaNamespaceKeyFunc: "ns/name", or "name" with no namespace. */
const char *kp_pod_key(const struct kp_pod *p, char *buf, size_t n)
{
	if (!buf || n == 0)
		return buf;
	if (p->ns && p->ns[0])
		snprintf(buf, n, "%s/%s", p->ns, p->name ? p->name : "");
	else
		snprintf(buf, n, "%s", p->name ? p->name : "");
	return buf;
}
