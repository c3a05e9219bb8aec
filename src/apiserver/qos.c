/*
 * qos.c - a pod's QoS class, as k8s.io/kubernetes
 * pkg/apis/core/helper/qos.ComputePodQOS computes it for status.qosClass:
 * the API server sets it when a pod is written (defaulting, validate.c),
 * the kubelet stand-in reports it (src/kcm/podrun.c).
 *
 * Only cpu and memory count. Requests and limits are summed over
 * containers and initContainers; a pod with neither is BestEffort; it is
 * Guaranteed when every container limits both cpu and memory and the
 * summed requests equal the summed limits; otherwise Burstable. Zero
 * quantities are ignored, as upstream does.
 *
 * Cost: O(containers).
 */
#include <stdio.h>
#include <string.h>

#include "apiserver/server.h"
#include "karpenter/quantity.h"

enum { QOS_CPU, QOS_MEM, QOS_N };

/* Quantity of resource r in a requests/limits object, -1 when absent,
 * malformed or zero. cpu in millicores, memory in bytes. */
static int64_t qty(const json_t *list, int r)
{
	const json_t *v = json_object_get(list, r == QOS_CPU ? "cpu" : "memory");
	int64_t out = 0;
	char num[32];
	const char *s = json_string_value(v);

	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		s = num;
	}
	if (!s || kp_qty_parse(s, r == QOS_CPU ? KP_QTY_MILLI : KP_QTY_UNIT, &out, NULL) || out <= 0)
		return -1;
	return out;
}

struct qos_sum {
	int64_t req[QOS_N], lim[QOS_N];
	bool has_req[QOS_N], has_lim[QOS_N];
	bool guaranteed;
};

static void add_container(struct qos_sum *s, const json_t *c)
{
	const json_t *res = json_object_get(c, "resources");
	const json_t *reqs = json_object_get(res, "requests"), *lims = json_object_get(res, "limits");
	int nlim = 0;

	for (int r = 0; r < QOS_N; r++) {
		int64_t rq = qty(reqs, r), lm = qty(lims, r);
		if (rq < 0 && !json_object_get(reqs, r == QOS_CPU ? "cpu" : "memory"))
			rq = lm;   /* defaulted from the limit */
		if (rq > 0) {
			s->req[r] += rq;
			s->has_req[r] = true;
		}
		if (lm > 0) {
			s->lim[r] += lm;
			s->has_lim[r] = true;
			nlim++;
		}
	}
	if (nlim < QOS_N)
		s->guaranteed = false;
}

const char *kp_apiserver_pod_qos_class(const json_t *pod_spec)
{
	struct qos_sum s;
	const char *lists[] = { "initContainers", "containers" };
	const json_t *c;
	size_t i;
	int nreq = 0, nlim = 0;

	memset(&s, 0, sizeof(s));
	s.guaranteed = true;
	for (size_t l = 0; l < 2; l++)
		json_array_foreach(json_object_get(pod_spec, lists[l]), i, c)
			add_container(&s, c);
	for (int r = 0; r < QOS_N; r++) {
		nreq += s.has_req[r];
		nlim += s.has_lim[r];
	}
	if (!nreq && !nlim)
		return "BestEffort";
	for (int r = 0; r < QOS_N && s.guaranteed; r++)
		if (s.has_req[r] && (!s.has_lim[r] || s.lim[r] != s.req[r]))
			s.guaranteed = false;
	return s.guaranteed && nreq == nlim ? "Guaranteed" : "Burstable";
}
