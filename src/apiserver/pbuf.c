/*
 * pbuf.c - decodes the Kubernetes protobuf request bodies that kubectl's
 * typed clients send (`kubectl create namespace|configmap|secret|
 * deployment|job|service|serviceaccount|priorityclass|pdb`) into the JSON
 * the rest of the server works with.
 *
 * The envelope is the 4-byte magic "k8s\0" and a runtime.Unknown message
 * (typeMeta, raw). The raw object is decoded with small schema tables that
 * name, per message, the fields kubectl's generators fill (field numbers
 * from k8s.io/api's generated.proto); unknown fields are skipped, so an
 * object decodes to a subset of itself, and a kind without a table is
 * refused (the caller answers 415). Empty strings are dropped as Go's
 * omitempty would; server-owned metadata (uid, resourceVersion,
 * timestamps) is never read. Cost: one pass over the bytes, depth <= 16.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "apiserver/server.h"

enum pbk { PB_STR, PB_INT, PB_BOOL, PB_BYTES, PB_MSG, PB_MAP_SS, PB_MAP_SB, PB_MAP_SQ, PB_INTSTR };

struct pbm;
struct pbf {
	int num;
	const char *name;
	enum pbk kind;
	bool rep;
	const struct pbm *msg;
};
struct pbm {
	const struct pbf *f;
	size_t n;
};

#define M(arr) { arr, sizeof(arr) / sizeof(arr[0]) }

static const struct pbf f_ownerref[] = {
	{ 1, "kind", PB_STR, 0, 0 }, { 3, "name", PB_STR, 0, 0 }, { 4, "uid", PB_STR, 0, 0 },
	{ 5, "apiVersion", PB_STR, 0, 0 }, { 6, "controller", PB_BOOL, 0, 0 }, { 7, "blockOwnerDeletion", PB_BOOL, 0, 0 },
};
static const struct pbm m_ownerref = M(f_ownerref);
static const struct pbf f_meta[] = {
	{ 1, "name", PB_STR, 0, 0 }, { 2, "generateName", PB_STR, 0, 0 }, { 3, "namespace", PB_STR, 0, 0 },
	{ 11, "labels", PB_MAP_SS, 0, 0 }, { 12, "annotations", PB_MAP_SS, 0, 0 },
	{ 13, "ownerReferences", PB_MSG, 1, &m_ownerref }, { 14, "finalizers", PB_STR, 1, 0 },
};
static const struct pbm m_meta = M(f_meta);
static const struct pbf f_selreq[] = {
	{ 1, "key", PB_STR, 0, 0 }, { 2, "operator", PB_STR, 0, 0 }, { 3, "values", PB_STR, 1, 0 },
};
static const struct pbm m_selreq = M(f_selreq);
static const struct pbf f_selector[] = {
	{ 1, "matchLabels", PB_MAP_SS, 0, 0 }, { 2, "matchExpressions", PB_MSG, 1, &m_selreq },
};
static const struct pbm m_selector = M(f_selector);
static const struct pbf f_localref[] = { { 1, "name", PB_STR, 0, 0 } };
static const struct pbm m_localref = M(f_localref);
static const struct pbf f_objref[] = {
	{ 1, "kind", PB_STR, 0, 0 }, { 2, "namespace", PB_STR, 0, 0 }, { 3, "name", PB_STR, 0, 0 },
	{ 4, "uid", PB_STR, 0, 0 }, { 5, "apiVersion", PB_STR, 0, 0 }, { 6, "resourceVersion", PB_STR, 0, 0 },
	{ 7, "fieldPath", PB_STR, 0, 0 },
};
static const struct pbm m_objref = M(f_objref);

/* core/v1 */
static const struct pbf f_nsspec[] = { { 1, "finalizers", PB_STR, 1, 0 } };
static const struct pbm m_nsspec = M(f_nsspec);
static const struct pbf f_namespace[] = { { 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "spec", PB_MSG, 0, &m_nsspec } };
static const struct pbf f_configmap[] = {
	{ 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "data", PB_MAP_SS, 0, 0 }, { 3, "binaryData", PB_MAP_SB, 0, 0 },
	{ 4, "immutable", PB_BOOL, 0, 0 },
};
static const struct pbf f_secret[] = {
	{ 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "data", PB_MAP_SB, 0, 0 }, { 3, "type", PB_STR, 0, 0 },
	{ 4, "stringData", PB_MAP_SS, 0, 0 }, { 5, "immutable", PB_BOOL, 0, 0 },
};
static const struct pbf f_sa[] = {
	{ 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "secrets", PB_MSG, 1, &m_objref },
	{ 3, "imagePullSecrets", PB_MSG, 1, &m_localref }, { 4, "automountServiceAccountToken", PB_BOOL, 0, 0 },
};
static const struct pbf f_svcport[] = {
	{ 1, "name", PB_STR, 0, 0 }, { 2, "protocol", PB_STR, 0, 0 }, { 3, "port", PB_INT, 0, 0 },
	{ 4, "targetPort", PB_INTSTR, 0, 0 }, { 5, "nodePort", PB_INT, 0, 0 }, { 6, "appProtocol", PB_STR, 0, 0 },
};
static const struct pbm m_svcport = M(f_svcport);
static const struct pbf f_svcspec[] = {
	{ 1, "ports", PB_MSG, 1, &m_svcport }, { 2, "selector", PB_MAP_SS, 0, 0 }, { 3, "clusterIP", PB_STR, 0, 0 },
	{ 4, "type", PB_STR, 0, 0 }, { 7, "sessionAffinity", PB_STR, 0, 0 }, { 10, "externalName", PB_STR, 0, 0 },
	{ 17, "ipFamilyPolicy", PB_STR, 0, 0 }, { 18, "clusterIPs", PB_STR, 1, 0 }, { 19, "ipFamilies", PB_STR, 1, 0 },
	{ 22, "internalTrafficPolicy", PB_STR, 0, 0 },
};
static const struct pbm m_svcspec = M(f_svcspec);
static const struct pbf f_service[] = { { 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "spec", PB_MSG, 0, &m_svcspec } };
static const struct pbf f_port[] = {
	{ 1, "name", PB_STR, 0, 0 }, { 2, "hostPort", PB_INT, 0, 0 }, { 3, "containerPort", PB_INT, 0, 0 },
	{ 4, "protocol", PB_STR, 0, 0 }, { 5, "hostIP", PB_STR, 0, 0 },
};
static const struct pbm m_port = M(f_port);
static const struct pbf f_env[] = { { 1, "name", PB_STR, 0, 0 }, { 2, "value", PB_STR, 0, 0 } };
static const struct pbm m_env = M(f_env);
static const struct pbf f_res[] = { { 1, "limits", PB_MAP_SQ, 0, 0 }, { 2, "requests", PB_MAP_SQ, 0, 0 } };
static const struct pbm m_res = M(f_res);
static const struct pbf f_container[] = {
	{ 1, "name", PB_STR, 0, 0 }, { 2, "image", PB_STR, 0, 0 }, { 3, "command", PB_STR, 1, 0 },
	{ 4, "args", PB_STR, 1, 0 }, { 5, "workingDir", PB_STR, 0, 0 }, { 6, "ports", PB_MSG, 1, &m_port },
	{ 7, "env", PB_MSG, 1, &m_env }, { 8, "resources", PB_MSG, 0, &m_res },
	{ 13, "terminationMessagePath", PB_STR, 0, 0 }, { 14, "imagePullPolicy", PB_STR, 0, 0 },
	{ 16, "stdin", PB_BOOL, 0, 0 }, { 17, "stdinOnce", PB_BOOL, 0, 0 }, { 18, "tty", PB_BOOL, 0, 0 },
	{ 20, "terminationMessagePolicy", PB_STR, 0, 0 },
};
static const struct pbm m_container = M(f_container);
static const struct pbf f_toleration[] = {
	{ 1, "key", PB_STR, 0, 0 }, { 2, "operator", PB_STR, 0, 0 }, { 3, "value", PB_STR, 0, 0 },
	{ 4, "effect", PB_STR, 0, 0 }, { 5, "tolerationSeconds", PB_INT, 0, 0 },
};
static const struct pbm m_toleration = M(f_toleration);
static const struct pbf f_podspec[] = {
	{ 2, "containers", PB_MSG, 1, &m_container }, { 3, "restartPolicy", PB_STR, 0, 0 },
	{ 4, "terminationGracePeriodSeconds", PB_INT, 0, 0 }, { 6, "dnsPolicy", PB_STR, 0, 0 },
	{ 7, "nodeSelector", PB_MAP_SS, 0, 0 }, { 8, "serviceAccountName", PB_STR, 0, 0 },
	{ 10, "nodeName", PB_STR, 0, 0 }, { 15, "imagePullSecrets", PB_MSG, 1, &m_localref },
	{ 19, "schedulerName", PB_STR, 0, 0 }, { 20, "initContainers", PB_MSG, 1, &m_container },
	{ 22, "tolerations", PB_MSG, 1, &m_toleration }, { 24, "priorityClassName", PB_STR, 0, 0 },
};
static const struct pbm m_podspec = M(f_podspec);
static const struct pbf f_template[] = { { 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "spec", PB_MSG, 0, &m_podspec } };
static const struct pbm m_template = M(f_template);

/* apps/v1, batch/v1, scheduling/v1, policy/v1 */
static const struct pbf f_rolling[] = { { 1, "maxUnavailable", PB_INTSTR, 0, 0 }, { 2, "maxSurge", PB_INTSTR, 0, 0 } };
static const struct pbm m_rolling = M(f_rolling);
static const struct pbf f_strategy[] = { { 1, "type", PB_STR, 0, 0 }, { 2, "rollingUpdate", PB_MSG, 0, &m_rolling } };
static const struct pbm m_strategy = M(f_strategy);
static const struct pbf f_depspec[] = {
	{ 1, "replicas", PB_INT, 0, 0 }, { 2, "selector", PB_MSG, 0, &m_selector }, { 3, "template", PB_MSG, 0, &m_template },
	{ 4, "strategy", PB_MSG, 0, &m_strategy }, { 5, "minReadySeconds", PB_INT, 0, 0 },
	{ 6, "revisionHistoryLimit", PB_INT, 0, 0 }, { 7, "paused", PB_BOOL, 0, 0 },
	{ 9, "progressDeadlineSeconds", PB_INT, 0, 0 },
};
static const struct pbm m_depspec = M(f_depspec);
static const struct pbf f_deployment[] = { { 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "spec", PB_MSG, 0, &m_depspec } };
static const struct pbf f_jobspec[] = {
	{ 1, "parallelism", PB_INT, 0, 0 }, { 2, "completions", PB_INT, 0, 0 }, { 3, "activeDeadlineSeconds", PB_INT, 0, 0 },
	{ 4, "selector", PB_MSG, 0, &m_selector }, { 5, "manualSelector", PB_BOOL, 0, 0 },
	{ 6, "template", PB_MSG, 0, &m_template }, { 7, "backoffLimit", PB_INT, 0, 0 },
	{ 8, "ttlSecondsAfterFinished", PB_INT, 0, 0 }, { 9, "completionMode", PB_STR, 0, 0 }, { 10, "suspend", PB_BOOL, 0, 0 },
};
static const struct pbm m_jobspec = M(f_jobspec);
static const struct pbf f_job[] = { { 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "spec", PB_MSG, 0, &m_jobspec } };
static const struct pbf f_prio[] = {
	{ 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "value", PB_INT, 0, 0 }, { 3, "globalDefault", PB_BOOL, 0, 0 },
	{ 4, "description", PB_STR, 0, 0 }, { 5, "preemptionPolicy", PB_STR, 0, 0 },
};
static const struct pbf f_pdbspec[] = {
	{ 1, "minAvailable", PB_INTSTR, 0, 0 }, { 2, "selector", PB_MSG, 0, &m_selector },
	{ 3, "maxUnavailable", PB_INTSTR, 0, 0 }, { 4, "unhealthyPodEvictionPolicy", PB_STR, 0, 0 },
};
static const struct pbm m_pdbspec = M(f_pdbspec);
static const struct pbf f_pdb[] = { { 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "spec", PB_MSG, 0, &m_pdbspec } };

/* authentication/v1 and authorization/v1: the requests access.c serves */
static const struct pbf f_tokenspec[] = { { 1, "audiences", PB_STR, 1, 0 }, { 4, "expirationSeconds", PB_INT, 0, 0 } };
static const struct pbm m_tokenspec = M(f_tokenspec);
static const struct pbf f_tokenreq[] = { { 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "spec", PB_MSG, 0, &m_tokenspec } };
static const struct pbf f_selfreview[] = { { 1, "metadata", PB_MSG, 0, &m_meta } };
static const struct pbf f_resattrs[] = {
	{ 1, "namespace", PB_STR, 0, 0 }, { 2, "verb", PB_STR, 0, 0 }, { 3, "group", PB_STR, 0, 0 },
	{ 4, "version", PB_STR, 0, 0 }, { 5, "resource", PB_STR, 0, 0 }, { 6, "subresource", PB_STR, 0, 0 },
	{ 7, "name", PB_STR, 0, 0 },
};
static const struct pbm m_resattrs = M(f_resattrs);
static const struct pbf f_nonresattrs[] = { { 1, "path", PB_STR, 0, 0 }, { 2, "verb", PB_STR, 0, 0 } };
static const struct pbm m_nonresattrs = M(f_nonresattrs);
static const struct pbf f_ssarspec[] = {
	{ 1, "resourceAttributes", PB_MSG, 0, &m_resattrs }, { 2, "nonResourceAttributes", PB_MSG, 0, &m_nonresattrs },
};
static const struct pbm m_ssarspec = M(f_ssarspec);
static const struct pbf f_ssar[] = { { 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "spec", PB_MSG, 0, &m_ssarspec } };
static const struct pbf f_sarspec[] = {
	{ 1, "resourceAttributes", PB_MSG, 0, &m_resattrs }, { 2, "nonResourceAttributes", PB_MSG, 0, &m_nonresattrs },
	{ 3, "user", PB_STR, 0, 0 }, { 4, "groups", PB_STR, 1, 0 }, { 6, "uid", PB_STR, 0, 0 },
};
static const struct pbm m_sarspec = M(f_sarspec);
static const struct pbf f_sar[] = { { 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "spec", PB_MSG, 0, &m_sarspec } };
static const struct pbf f_ssrrspec[] = { { 1, "namespace", PB_STR, 0, 0 } };
static const struct pbm m_ssrrspec = M(f_ssrrspec);
static const struct pbf f_ssrr[] = { { 1, "metadata", PB_MSG, 0, &m_meta }, { 2, "spec", PB_MSG, 0, &m_ssrrspec } };

static const struct {
	const char *api_version, *kind;
	struct pbm m;
} KINDS[] = {
	{ "v1", "Namespace", M(f_namespace) },
	{ "v1", "ConfigMap", M(f_configmap) },
	{ "v1", "Secret", M(f_secret) },
	{ "v1", "ServiceAccount", M(f_sa) },
	{ "v1", "Service", M(f_service) },
	{ "apps/v1", "Deployment", M(f_deployment) },
	{ "batch/v1", "Job", M(f_job) },
	{ "scheduling.k8s.io/v1", "PriorityClass", M(f_prio) },
	{ "policy/v1", "PodDisruptionBudget", M(f_pdb) },
	{ "authentication.k8s.io/v1", "TokenRequest", M(f_tokenreq) },
	{ "authentication.k8s.io/v1", "SelfSubjectReview", M(f_selfreview) },
	{ "authorization.k8s.io/v1", "SelfSubjectAccessReview", M(f_ssar) },
	{ "authorization.k8s.io/v1", "SubjectAccessReview", M(f_sar) },
	{ "authorization.k8s.io/v1", "SelfSubjectRulesReview", M(f_ssrr) },
};

/* ---- wire format ---- */

struct rd {
	const unsigned char *p, *end;
};

static bool varint(struct rd *r, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
		unsigned char b = *r->p++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

static bool lenbytes(struct rd *r, struct rd *out)
{
	uint64_t n;
	if (!varint(r, &n) || n > (uint64_t)(r->end - r->p))
		return false;
	out->p = r->p;
	out->end = r->p + n;
	r->p += n;
	return true;
}

static bool skip(struct rd *r, int wt)
{
	uint64_t v;
	struct rd sub;
	switch (wt) {
	case 0: return varint(r, &v);
	case 1: if (r->end - r->p < 8) return false; r->p += 8; return true;
	case 2: return lenbytes(r, &sub);
	case 5: if (r->end - r->p < 4) return false; r->p += 4; return true;
	default: return false;
	}
}

static json_t *b64(struct rd *v)
{
	size_t n = (size_t)(v->end - v->p);
	unsigned char *out = malloc(4 * ((n + 2) / 3) + 1);
	json_t *s;
	if (!out)
		return NULL;
	EVP_EncodeBlock(out, v->p, (int)n);
	s = json_string((const char *)out);
	free(out);
	return s;
}

static json_t *decode(struct rd *r, const struct pbm *m, int depth);

/* Reads a map entry {1: key, 2: value}; value per kind. */
static bool map_entry(struct rd *e, enum pbk kind, json_t *obj)
{
	char *key = NULL;
	json_t *val = NULL;
	bool ok = true;

	while (ok && e->p < e->end) {
		uint64_t tag;
		struct rd v;
		if (!varint(e, &tag))
			return false;
		if ((tag & 7) != 2) {
			ok = skip(e, (int)(tag & 7));
			continue;
		}
		if (!lenbytes(e, &v))
			break;
		if ((tag >> 3) == 1) {
			free(key);
			key = strndup((const char *)v.p, (size_t)(v.end - v.p));
		} else if ((tag >> 3) == 2) {
			json_decref(val);
			if (kind == PB_MAP_SS) {
				val = json_stringn((const char *)v.p, (size_t)(v.end - v.p));
			} else if (kind == PB_MAP_SB) {
				val = b64(&v);
			} else {   /* Quantity {1: string} */
				json_t *q = NULL;
				while (v.p < v.end) {
					uint64_t t2;
					struct rd s;
					if (!varint(&v, &t2))
						break;
					if ((t2 >> 3) == 1 && (t2 & 7) == 2 && lenbytes(&v, &s)) {
						json_decref(q);
						q = json_stringn((const char *)s.p, (size_t)(s.end - s.p));
					} else if (!skip(&v, (int)(t2 & 7))) {
						break;
					}
				}
				val = q;
			}
		}
	}
	if (ok && key && val)
		json_object_set_new(obj, key, val);
	else
		json_decref(val);
	ok = ok && key;
	free(key);
	return ok;
}

static json_t *intstr(struct rd *v)
{
	int64_t type = 0, iv = 0;
	json_t *sv = NULL;
	while (v->p < v->end) {
		uint64_t tag, x;
		struct rd s;
		if (!varint(v, &tag))
			break;
		if ((tag & 7) == 0 && varint(v, &x)) {
			if ((tag >> 3) == 1)
				type = (int64_t)x;
			else if ((tag >> 3) == 2)
				iv = (int32_t)x;
		} else if ((tag >> 3) == 3 && (tag & 7) == 2 && lenbytes(v, &s)) {
			json_decref(sv);
			sv = json_stringn((const char *)s.p, (size_t)(s.end - s.p));
		} else if (!skip(v, (int)(tag & 7))) {
			break;
		}
	}
	if (type == 1)
		return sv ? sv : json_string("");
	json_decref(sv);
	return json_integer(iv);
}

static json_t *decode(struct rd *r, const struct pbm *m, int depth)
{
	json_t *obj = json_object();

	if (!obj || depth > 16) {
		json_decref(obj);
		return NULL;
	}
	while (r->p < r->end) {
		uint64_t tag, x;
		const struct pbf *f = NULL;
		int wt;
		json_t *val = NULL;
		struct rd v;

		if (!varint(r, &tag))
			goto bad;
		wt = (int)(tag & 7);
		for (size_t i = 0; i < m->n; i++)
			if ((uint64_t)m->f[i].num == (tag >> 3))
				f = &m->f[i];
		if (!f || (f->kind == PB_INT || f->kind == PB_BOOL ? wt != 0 : wt != 2)) {
			if (!skip(r, wt))
				goto bad;
			continue;
		}
		if (wt == 0) {
			if (!varint(r, &x))
				goto bad;
			/* omitempty, except where zero means something */
			if (x == 0 && !f->rep && strcmp(f->name, "replicas") != 0 && strcmp(f->name, "value") != 0 &&
			    strcmp(f->name, "completions") != 0 && strcmp(f->name, "parallelism") != 0 &&
			    strcmp(f->name, "backoffLimit") != 0 && strcmp(f->name, "terminationGracePeriodSeconds") != 0)
				continue;
			val = f->kind == PB_BOOL ? json_boolean(x != 0) : json_integer((json_int_t)(int64_t)x);
		} else {
			if (!lenbytes(r, &v))
				goto bad;
			switch (f->kind) {
			case PB_STR:
				if (v.p == v.end && !f->rep)
					continue;   /* omitempty */
				val = json_stringn((const char *)v.p, (size_t)(v.end - v.p));
				if (!val)
					goto bad;   /* not UTF-8 */
				break;
			case PB_BYTES: val = b64(&v); break;
			case PB_MSG: val = decode(&v, f->msg, depth + 1); if (!val) goto bad; break;
			case PB_INTSTR: val = intstr(&v); break;
			case PB_MAP_SS:
			case PB_MAP_SB:
			case PB_MAP_SQ: {
				json_t *mp = json_object_get(obj, f->name);
				if (!mp) {
					mp = json_object();
					json_object_set_new(obj, f->name, mp);
				}
				if (!map_entry(&v, f->kind, mp))
					goto bad;
				continue;
			}
			default: continue;
			}
		}
		if (f->rep) {
			json_t *arr = json_object_get(obj, f->name);
			if (!json_is_array(arr)) {
				arr = json_array();
				json_object_set_new(obj, f->name, arr);
			}
			json_array_append_new(arr, val);
		} else {
			json_object_set_new(obj, f->name, val);
		}
	}
	return obj;
bad:
	json_decref(obj);
	return NULL;
}

json_t *kp_apiserver__pbuf_decode(const void *data, size_t len, struct kp_errbuf *eb)
{
	struct rd r = { data, (const unsigned char *)data + len }, raw = { NULL, NULL };
	char api_version[128] = "", kind[128] = "";
	bool have_raw = false;
	json_t *obj;

	if (len < 4 || memcmp(data, "k8s\0", 4) != 0) {
		kp_errf(eb, KP_ERR_INVALID, "protobuf body without the k8s envelope");
		return NULL;
	}
	r.p += 4;
	while (r.p < r.end) {
		uint64_t tag;
		struct rd v;
		if (!varint(&r, &tag))
			goto bad;
		if ((tag & 7) != 2) {
			if (!skip(&r, (int)(tag & 7)))
				goto bad;
			continue;
		}
		if (!lenbytes(&r, &v))
			goto bad;
		if ((tag >> 3) == 1) {   /* TypeMeta {1 apiVersion, 2 kind} */
			while (v.p < v.end) {
				uint64_t t2;
				struct rd s;
				if (!varint(&v, &t2) || (t2 & 7) != 2 || !lenbytes(&v, &s))
					goto bad;
				if ((t2 >> 3) == 1)
					snprintf(api_version, sizeof(api_version), "%.*s", (int)(s.end - s.p), (const char *)s.p);
				else if ((t2 >> 3) == 2)
					snprintf(kind, sizeof(kind), "%.*s", (int)(s.end - s.p), (const char *)s.p);
			}
		} else if ((tag >> 3) == 2) {
			raw = v;
			have_raw = true;
		}
	}
	if (!have_raw)
		goto bad;
	for (size_t i = 0; i < KP_ARRAY_LEN(KINDS); i++) {
		if (strcmp(KINDS[i].kind, kind) != 0 || strcmp(KINDS[i].api_version, api_version) != 0)
			continue;
		obj = decode(&raw, &KINDS[i].m, 0);
		if (!obj)
			goto bad;
		json_object_set_new(obj, "apiVersion", json_string(api_version));
		json_object_set_new(obj, "kind", json_string(kind));
		return obj;
	}
	kp_errf(eb, KP_ERR_INVALID, "protobuf is not supported for %s %s: send application/json", api_version, kind);
	return NULL;
bad:
	kp_errf(eb, KP_ERR_INVALID, "malformed protobuf body");
	return NULL;
}
