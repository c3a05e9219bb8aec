/*
 * table.c - meta.k8s.io/v1 Table responses, the server-side printing that
 * `kubectl get` shows: column definitions and one row of cells per object,
 * computed as the real API server's printers do (pkg/printers/internalversion
 * for built-in kinds; additionalPrinterColumns for CRD kinds, with a small
 * JSONPath subset: .a.b, escaped dots (\.), [n], [*] and
 * [?(@.field=="value")] filters).
 *
 * Invariants: columns with priority 1 are the `-o wide` extras; AGE cells are
 * human durations from the registry clock (duration.HumanDuration rules);
 * missing values print as "<none>" where the real printer does so, and as
 * null cells for CRD columns.
 * Cost: O(objects x columns); no allocation beyond the result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver/apires_int.h"

/* ---- small JSON helpers ---- */

static const json_t *path_get(const json_t *o, const char *dotted)
{
	char key[128];
	const char *p = dotted;

	while (o && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = 0;
		o = json_object_get(o, key);
		p += n + (dot ? 1 : 0);
	}
	return o;
}

static const char *sget(const json_t *o, const char *dotted)
{
	return json_string_value(path_get(o, dotted));
}

static json_int_t iget(const json_t *o, const char *dotted)
{
	const json_t *v = path_get(o, dotted);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static json_t *nonestr(const char *s)
{
	return json_string(s && *s ? s : "<none>");
}

/* duration.HumanDuration */
static void human_duration(int64_t secs, char *b, size_t n)
{
	int64_t m, h;

	if (secs < -1) {
		snprintf(b, n, "<invalid>");
		return;
	}
	if (secs < 0)
		secs = 0;
	if (secs < 120) {
		snprintf(b, n, "%llds", (long long)secs);
		return;
	}
	m = secs / 60;
	if (m < 10) {
		if (secs % 60)
			snprintf(b, n, "%lldm%llds", (long long)m, (long long)(secs % 60));
		else
			snprintf(b, n, "%lldm", (long long)m);
		return;
	}
	if (m < 180) {
		snprintf(b, n, "%lldm", (long long)m);
		return;
	}
	h = secs / 3600;
	if (h < 8) {
		if (m % 60)
			snprintf(b, n, "%lldh%lldm", (long long)h, (long long)(m % 60));
		else
			snprintf(b, n, "%lldh", (long long)h);
	} else if (h < 48) {
		snprintf(b, n, "%lldh", (long long)h);
	} else if (h < 24 * 8) {
		if (h % 24)
			snprintf(b, n, "%lldd%lldh", (long long)(h / 24), (long long)(h % 24));
		else
			snprintf(b, n, "%lldd", (long long)(h / 24));
	} else if (h < 24 * 365 * 2) {
		snprintf(b, n, "%lldd", (long long)(h / 24));
	} else if (h < 24 * 365 * 8) {
		int64_t dy = (h / 24) % 365;
		if (dy)
			snprintf(b, n, "%lldy%lldd", (long long)(h / 24 / 365), (long long)dy);
		else
			snprintf(b, n, "%lldy", (long long)(h / 24 / 365));
	} else {
		snprintf(b, n, "%lldy", (long long)(h / 24 / 365));
	}
}

/* translateTimestampSince: "<unknown>" for a missing or bad timestamp. */
static json_t *age_cell(const struct kp_apiserver__reg *reg, const char *ts)
{
	int64_t t;
	char b[32];

	if (!ts || !*ts || kp_parse_rfc3339(ts, &t))
		return json_string("<unknown>");
	human_duration(kp_apiserver__reg_now(reg) - t, b, sizeof(b));
	return json_string(b);
}

static json_t *ratio(json_int_t a, json_int_t b)
{
	char s[48];
	snprintf(s, sizeof(s), "%lld/%lld", (long long)a, (long long)b);
	return json_string(s);
}

/* ---- columns ---- */

struct col {
	const char *name, *type, *format;
	int priority;
};

static const char desc_name[] = "Name must be unique within a namespace. Is required when creating "
				"resources, although some resources may allow a client to request the "
				"generation of an appropriate name automatically. Name is primarily intended "
				"for creation idempotence and configuration definition. Cannot be updated.";
static const char desc_age[] = "CreationTimestamp is a timestamp representing the server time when this "
			       "object was created.";

static json_t *coldef(const char *name, const char *type, const char *format, int prio, const char *desc)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", name, "type", type, "format", format ? format : "",
			 "description", desc ? desc : "", "priority", prio);
}

/* kind-specific printer: column list and a cell writer */
struct printer {
	const char *group, *kind;
	const struct col *cols;
	void (*cells)(const struct kp_apiserver__reg *reg, const json_t *obj, json_t *cells);
};

#define NAME_COL {"Name", "string", "name", 0}
#define AGE_COL {"Age", "string", "", 0}

/* containers/images/selector wide columns shared by workload kinds */
static void wide_workload(const json_t *obj, json_t *cells, bool with_selector)
{
	const json_t *cs = path_get(obj, "spec.template.spec.containers");
	struct kp_buf names, images;
	size_t i;

	kp_buf_init(&names, 1 << 16);
	kp_buf_init(&images, 1 << 16);
	for (i = 0; i < json_array_size(cs); i++) {
		const json_t *c = json_array_get(cs, i);
		kp_buf_printf(&names, "%s%s", i ? "," : "", sget(c, "name") ? sget(c, "name") : "");
		kp_buf_printf(&images, "%s%s", i ? "," : "", sget(c, "image") ? sget(c, "image") : "");
	}
	json_array_append_new(cells, json_string(names.data ? names.data : ""));
	json_array_append_new(cells, json_string(images.data ? images.data : ""));
	kp_buf_free(&names);
	kp_buf_free(&images);
	if (with_selector) {
		const json_t *ml = path_get(obj, "spec.selector.matchLabels");
		const json_t *me = path_get(obj, "spec.selector.matchExpressions");
		struct kp_buf sel;
		const char *k;
		const json_t *v;
		const char **keys = calloc(json_object_size(ml) + 1, sizeof(*keys));
		size_t nk = 0;
		kp_buf_init(&sel, 1 << 16);
		json_object_foreach((json_t *)ml, k, v)
		{
			if (keys)
				keys[nk++] = k;
		}
		for (i = 1; i < nk; i++)
			for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
				const char *t = keys[j];
				keys[j] = keys[j - 1], keys[j - 1] = t;
			}
		for (i = 0; i < nk; i++)
			kp_buf_printf(&sel, "%s%s=%s", sel.len ? "," : "", keys[i],
				      json_string_value(json_object_get(ml, keys[i])) ?
					      json_string_value(json_object_get(ml, keys[i])) : "");
		free(keys);
		for (i = 0; i < json_array_size(me); i++) {
			const json_t *e = json_array_get(me, i);
			const char *op = sget(e, "operator") ? sget(e, "operator") : "";
			const char *key = sget(e, "key") ? sget(e, "key") : "";
			const json_t *vals = json_object_get(e, "values");
			if (!strcmp(op, "Exists")) {
				kp_buf_printf(&sel, "%s%s", sel.len ? "," : "", key);
			} else if (!strcmp(op, "DoesNotExist")) {
				kp_buf_printf(&sel, "%s!%s", sel.len ? "," : "", key);
			} else {
				kp_buf_printf(&sel, "%s%s %s (", sel.len ? "," : "", key,
					      !strcmp(op, "In") ? "in" : "notin");
				for (size_t j = 0; j < json_array_size(vals); j++)
					kp_buf_printf(&sel, "%s%s", j ? "," : "",
						      json_string_value(json_array_get(vals, j)) ?
							      json_string_value(json_array_get(vals, j)) : "");
				kp_buf_addstr(&sel, ")");
			}
		}
		json_array_append_new(cells, nonestr(sel.data));
		kp_buf_free(&sel);
	}
}

/* Pods: printPod */
static const struct col pod_cols[] = {
	NAME_COL,
	{"Ready", "string", "", 0},
	{"Status", "string", "", 0},
	{"Restarts", "string", "", 0},
	AGE_COL,
	{"IP", "string", "", 1},
	{"Node", "string", "", 1},
	{"Nominated Node", "string", "", 1},
	{"Readiness Gates", "string", "", 1},
	{NULL, NULL, NULL, 0},
};

static void pod_cells(const struct kp_apiserver__reg *reg, const json_t *pod, json_t *cells)
{
	const json_t *st = json_object_get(pod, "status");
	const json_t *ics = json_object_get(st, "initContainerStatuses");
	const json_t *cs = json_object_get(st, "containerStatuses");
	size_t ninit = json_array_size(path_get(pod, "spec.initContainers"));
	size_t i, total = json_array_size(path_get(pod, "spec.containers"));
	json_int_t restarts = 0, ready = 0;
	int64_t last_restart = 0;
	char reason[256], b[64];
	bool initializing = false;

	snprintf(reason, sizeof(reason), "%s", sget(st, "phase") ? sget(st, "phase") : "");
	if (sget(st, "reason") && *sget(st, "reason"))
		snprintf(reason, sizeof(reason), "%s", sget(st, "reason"));
	for (i = 0; i < json_array_size(ics); i++) {
		const json_t *c = json_array_get(ics, i);
		const json_t *term = path_get(c, "state.terminated");
		const json_t *wait = path_get(c, "state.waiting");
		restarts += iget(c, "restartCount");
		if (term && iget(term, "exitCode") == 0)
			continue;
		if (term) {
			if (sget(term, "reason") && *sget(term, "reason"))
				snprintf(reason, sizeof(reason), "Init:%s", sget(term, "reason"));
			else if (iget(term, "signal"))
				snprintf(reason, sizeof(reason), "Init:Signal:%lld", (long long)iget(term, "signal"));
			else
				snprintf(reason, sizeof(reason), "Init:ExitCode:%lld",
					 (long long)iget(term, "exitCode"));
		} else if (wait && sget(wait, "reason") && *sget(wait, "reason") &&
			   strcmp(sget(wait, "reason"), "PodInitializing") != 0) {
			snprintf(reason, sizeof(reason), "Init:%s", sget(wait, "reason"));
		} else if (path_get(c, "state.running") && json_is_true(json_object_get(c, "started")) &&
			   json_is_true(json_object_get(c, "ready"))) {
			continue; /* a ready sidecar init container */
		} else {
			snprintf(reason, sizeof(reason), "Init:%zu/%zu", i, ninit);
		}
		initializing = true;
		break;
	}
	if (!initializing) {
		bool has_running = false;
		restarts = 0;
		for (i = json_array_size(cs); i-- > 0;) {
			const json_t *c = json_array_get(cs, i);
			const json_t *term = path_get(c, "state.terminated");
			const json_t *wait = path_get(c, "state.waiting");
			const char *fin = sget(c, "lastState.terminated.finishedAt");
			int64_t t;
			restarts += iget(c, "restartCount");
			if (fin && kp_parse_rfc3339(fin, &t) == KP_OK && t > last_restart)
				last_restart = t;
			if (wait && sget(wait, "reason") && *sget(wait, "reason")) {
				snprintf(reason, sizeof(reason), "%s", sget(wait, "reason"));
			} else if (term && sget(term, "reason") && *sget(term, "reason")) {
				snprintf(reason, sizeof(reason), "%s", sget(term, "reason"));
			} else if (term) {
				if (iget(term, "signal"))
					snprintf(reason, sizeof(reason), "Signal:%lld", (long long)iget(term, "signal"));
				else
					snprintf(reason, sizeof(reason), "ExitCode:%lld",
						 (long long)iget(term, "exitCode"));
			} else if (json_is_true(json_object_get(c, "ready")) && path_get(c, "state.running")) {
				has_running = true;
				ready++;
			}
		}
		if (!strcmp(reason, "Completed") && has_running) {
			bool pod_ready = false;
			const json_t *conds = json_object_get(st, "conditions");
			for (i = 0; i < json_array_size(conds); i++) {
				const json_t *c = json_array_get(conds, i);
				if (sget(c, "type") && !strcmp(sget(c, "type"), "Ready") && sget(c, "status") &&
				    !strcmp(sget(c, "status"), "True"))
					pod_ready = true;
			}
			snprintf(reason, sizeof(reason), "%s", pod_ready ? "Running" : "NotReady");
		}
	}
	if (sget(pod, "metadata.deletionTimestamp")) {
		if (!strcmp(reason, "NodeLost"))
			snprintf(reason, sizeof(reason), "Unknown");
		else
			snprintf(reason, sizeof(reason), "Terminating");
	}
	json_array_append_new(cells, ratio(ready, (json_int_t)total));
	json_array_append_new(cells, json_string(reason));
	if (last_restart) {
		char ago[32];
		human_duration(kp_apiserver__reg_now(reg) - last_restart, ago, sizeof(ago));
		snprintf(b, sizeof(b), "%lld (%s ago)", (long long)restarts, ago);
	} else {
		snprintf(b, sizeof(b), "%lld", (long long)restarts);
	}
	json_array_append_new(cells, json_string(b));
	json_array_append_new(cells, age_cell(reg, sget(pod, "metadata.creationTimestamp")));
	json_array_append_new(cells, nonestr(sget(st, "podIP")));
	json_array_append_new(cells, nonestr(sget(pod, "spec.nodeName")));
	json_array_append_new(cells, nonestr(sget(st, "nominatedNodeName")));
	const json_t *gates = path_get(pod, "spec.readinessGates");
	if (json_array_size(gates)) {
		size_t ok = 0;
		const json_t *conds = json_object_get(st, "conditions");
		for (i = 0; i < json_array_size(gates); i++) {
			const char *t = sget(json_array_get(gates, i), "conditionType");
			for (size_t j = 0; t && j < json_array_size(conds); j++) {
				const json_t *c = json_array_get(conds, j);
				if (sget(c, "type") && !strcmp(sget(c, "type"), t) && sget(c, "status") &&
				    !strcmp(sget(c, "status"), "True"))
					ok++;
			}
		}
		json_array_append_new(cells, ratio((json_int_t)ok, (json_int_t)json_array_size(gates)));
	} else {
		json_array_append_new(cells, json_string("<none>"));
	}
}

/* Nodes: printNode */
static const struct col node_cols[] = {
	NAME_COL,
	{"Status", "string", "", 0},
	{"Roles", "string", "", 0},
	AGE_COL,
	{"Version", "string", "", 0},
	{"Internal-IP", "string", "", 1},
	{"External-IP", "string", "", 1},
	{"OS-Image", "string", "", 1},
	{"Kernel-Version", "string", "", 1},
	{"Container-Runtime", "string", "", 1},
	{NULL, NULL, NULL, 0},
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void node_cells(const struct kp_apiserver__reg *reg, const json_t *node, json_t *cells)
{
	const json_t *conds = path_get(node, "status.conditions");
	const json_t *labels = path_get(node, "metadata.labels");
	const json_t *addrs = path_get(node, "status.addresses");
	const char *status = "Unknown", *k;
	const json_t *v;
	struct kp_buf b;
	const char *roles[64];
	size_t nr = 0, i;

	for (i = 0; i < json_array_size(conds); i++) {
		const json_t *c = json_array_get(conds, i);
		if (sget(c, "type") && !strcmp(sget(c, "type"), "Ready"))
			status = sget(c, "status") && !strcmp(sget(c, "status"), "True") ? "Ready" : "NotReady";
	}
	kp_buf_init(&b, 4096);
	kp_buf_addstr(&b, status);
	if (json_is_true(path_get(node, "spec.unschedulable")))
		kp_buf_addstr(&b, ",SchedulingDisabled");
	json_array_append_new(cells, json_string(b.data));
	kp_buf_reset(&b);
	json_object_foreach((json_t *)labels, k, v)
	{
		if (nr < KP_ARRAY_LEN(roles) && !strncmp(k, "node-role.kubernetes.io/", 24) && k[24])
			roles[nr++] = k + 24;
		else if (nr < KP_ARRAY_LEN(roles) && !strcmp(k, "kubernetes.io/role") && json_string_value(v) &&
			 *json_string_value(v))
			roles[nr++] = json_string_value(v);
	}
	qsort(roles, nr, sizeof(roles[0]), cmp_str);
	for (i = 0; i < nr; i++)
		kp_buf_printf(&b, "%s%s", i ? "," : "", roles[i]);
	json_array_append_new(cells, nonestr(b.data));
	kp_buf_free(&b);
	json_array_append_new(cells, age_cell(reg, sget(node, "metadata.creationTimestamp")));
	json_array_append_new(cells, json_string(sget(node, "status.nodeInfo.kubeletVersion") ?
							 sget(node, "status.nodeInfo.kubeletVersion") : ""));
	const char *iip = NULL, *eip = NULL;
	for (i = 0; i < json_array_size(addrs); i++) {
		const json_t *a = json_array_get(addrs, i);
		const char *t = sget(a, "type");
		if (t && !strcmp(t, "InternalIP") && !iip)
			iip = sget(a, "address");
		if (t && !strcmp(t, "ExternalIP") && !eip)
			eip = sget(a, "address");
	}
	json_array_append_new(cells, nonestr(iip));
	json_array_append_new(cells, nonestr(eip));
	json_array_append_new(cells, json_string(sget(node, "status.nodeInfo.osImage") ?
							 sget(node, "status.nodeInfo.osImage") : "<unknown>"));
	json_array_append_new(cells, json_string(sget(node, "status.nodeInfo.kernelVersion") ?
							 sget(node, "status.nodeInfo.kernelVersion") : "<unknown>"));
	json_array_append_new(cells, json_string(sget(node, "status.nodeInfo.containerRuntimeVersion") ?
							 sget(node, "status.nodeInfo.containerRuntimeVersion") :
							 "<unknown>"));
}

static json_int_t replicas(const json_t *o)
{
	const json_t *r = path_get(o, "spec.replicas");
	return json_is_integer(r) ? json_integer_value(r) : 1;
}

static const struct col deploy_cols[] = {
	NAME_COL,
	{"Ready", "string", "", 0},
	{"Up-to-date", "integer", "", 0},
	{"Available", "integer", "", 0},
	AGE_COL,
	{"Containers", "string", "", 1},
	{"Images", "string", "", 1},
	{"Selector", "string", "", 1},
	{NULL, NULL, NULL, 0},
};

static void deploy_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	json_array_append_new(cells, ratio(iget(o, "status.readyReplicas"), replicas(o)));
	json_array_append_new(cells, json_integer(iget(o, "status.updatedReplicas")));
	json_array_append_new(cells, json_integer(iget(o, "status.availableReplicas")));
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
	wide_workload(o, cells, true);
}

static const struct col rs_cols[] = {
	NAME_COL,
	{"Desired", "integer", "", 0},
	{"Current", "integer", "", 0},
	{"Ready", "integer", "", 0},
	AGE_COL,
	{"Containers", "string", "", 1},
	{"Images", "string", "", 1},
	{"Selector", "string", "", 1},
	{NULL, NULL, NULL, 0},
};

static void rs_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	json_array_append_new(cells, json_integer(replicas(o)));
	json_array_append_new(cells, json_integer(iget(o, "status.replicas")));
	json_array_append_new(cells, json_integer(iget(o, "status.readyReplicas")));
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
	wide_workload(o, cells, true);
}

static const struct col ds_cols[] = {
	NAME_COL,
	{"Desired", "integer", "", 0},
	{"Current", "integer", "", 0},
	{"Ready", "integer", "", 0},
	{"Up-to-date", "integer", "", 0},
	{"Available", "integer", "", 0},
	{"Node Selector", "string", "", 0},
	AGE_COL,
	{"Containers", "string", "", 1},
	{"Images", "string", "", 1},
	{"Selector", "string", "", 1},
	{NULL, NULL, NULL, 0},
};

static void ds_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	const json_t *ns = path_get(o, "spec.template.spec.nodeSelector");
	const char *keys[64], *k;
	const json_t *v;
	size_t n = 0;
	struct kp_buf b;

	json_array_append_new(cells, json_integer(iget(o, "status.desiredNumberScheduled")));
	json_array_append_new(cells, json_integer(iget(o, "status.currentNumberScheduled")));
	json_array_append_new(cells, json_integer(iget(o, "status.numberReady")));
	json_array_append_new(cells, json_integer(iget(o, "status.updatedNumberScheduled")));
	json_array_append_new(cells, json_integer(iget(o, "status.numberAvailable")));
	json_object_foreach((json_t *)ns, k, v)
	{
		if (n < KP_ARRAY_LEN(keys))
			keys[n++] = k;
	}
	qsort(keys, n, sizeof(keys[0]), cmp_str);
	kp_buf_init(&b, 1 << 16);
	for (size_t i = 0; i < n; i++) {
		const char *val = json_string_value(json_object_get(ns, keys[i]));
		kp_buf_printf(&b, "%s%s=%s", i ? "," : "", keys[i], val ? val : "");
	}
	json_array_append_new(cells, nonestr(b.data));
	kp_buf_free(&b);
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
	wide_workload(o, cells, true);
}

static const struct col sts_cols[] = {
	NAME_COL, {"Ready", "string", "", 0}, AGE_COL, {"Containers", "string", "", 1},
	{"Images", "string", "", 1}, {NULL, NULL, NULL, 0},
};

static void sts_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	json_array_append_new(cells, ratio(iget(o, "status.readyReplicas"), replicas(o)));
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
	wide_workload(o, cells, false);
}

static bool has_cond(const json_t *o, const char *type)
{
	const json_t *conds = path_get(o, "status.conditions");
	for (size_t i = 0; i < json_array_size(conds); i++) {
		const json_t *c = json_array_get(conds, i);
		if (sget(c, "type") && !strcmp(sget(c, "type"), type) && sget(c, "status") &&
		    !strcmp(sget(c, "status"), "True"))
			return true;
	}
	return false;
}

static const struct col job_cols[] = {
	NAME_COL,
	{"Status", "string", "", 0},
	{"Completions", "string", "", 0},
	{"Duration", "string", "", 0},
	AGE_COL,
	{"Containers", "string", "", 1},
	{"Images", "string", "", 1},
	{"Selector", "string", "", 1},
	{NULL, NULL, NULL, 0},
};

static void job_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	const json_t *comp = path_get(o, "spec.completions");
	const char *status = "Running";
	char b[64];
	int64_t start, end;

	if (has_cond(o, "Complete"))
		status = "Complete";
	else if (has_cond(o, "Failed"))
		status = "Failed";
	else if (sget(o, "metadata.deletionTimestamp"))
		status = "Terminating";
	else if (has_cond(o, "SuccessCriteriaMet"))
		status = "SuccessCriteriaMet";
	else if (has_cond(o, "FailureTarget"))
		status = "FailureTarget";
	else if (has_cond(o, "Suspended"))
		status = "Suspended";
	json_array_append_new(cells, json_string(status));
	if (json_is_integer(comp)) {
		json_array_append_new(cells, ratio(iget(o, "status.succeeded"), json_integer_value(comp)));
	} else {
		json_int_t par = json_is_integer(path_get(o, "spec.parallelism")) ?
					 iget(o, "spec.parallelism") : 1;
		if (par > 1)
			snprintf(b, sizeof(b), "%lld/1 of %lld", (long long)iget(o, "status.succeeded"),
				 (long long)par);
		else
			snprintf(b, sizeof(b), "%lld/1", (long long)iget(o, "status.succeeded"));
		json_array_append_new(cells, json_string(b));
	}
	if (!sget(o, "status.startTime") || kp_parse_rfc3339(sget(o, "status.startTime"), &start)) {
		json_array_append_new(cells, json_string(""));
	} else {
		if (!sget(o, "status.completionTime") || kp_parse_rfc3339(sget(o, "status.completionTime"), &end))
			end = kp_apiserver__reg_now(reg);
		human_duration(end - start, b, sizeof(b));
		json_array_append_new(cells, json_string(b));
	}
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
	wide_workload(o, cells, true);
}

static const struct col ns_cols[] = {NAME_COL, {"Status", "string", "", 0}, AGE_COL, {NULL, NULL, NULL, 0}};

static void ns_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	json_array_append_new(cells, json_string(sget(o, "status.phase") ? sget(o, "status.phase") : "Active"));
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
}

static const struct col event_cols[] = {
	{"Last Seen", "string", "", 0},
	{"Type", "string", "", 0},
	{"Reason", "string", "", 0},
	{"Object", "string", "", 0},
	{"Subobject", "string", "", 1},
	{"Source", "string", "", 1},
	{"Message", "string", "", 0},
	{"First Seen", "string", "", 1},
	{"Count", "string", "", 1},
	{"Name", "string", "name", 1},
	{NULL, NULL, NULL, 0},
};

static void event_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	/* core/v1 and events.k8s.io/v1 field names */
	const json_t *inv = json_object_get(o, "involvedObject");
	const char *last = sget(o, "lastTimestamp");
	const char *first = sget(o, "firstTimestamp");
	const char *msg = sget(o, "message");
	char obj[512], lower[128], src[512], b[32];
	json_int_t count = iget(o, "count");

	if (!inv)
		inv = json_object_get(o, "regarding");
	if (!last)
		last = sget(o, "deprecatedLastTimestamp");
	if (!last)
		last = sget(o, "series.lastObservedTime");
	if (!last)
		last = sget(o, "eventTime");
	if (!first)
		first = sget(o, "deprecatedFirstTimestamp");
	if (!first)
		first = sget(o, "eventTime");
	if (!msg)
		msg = sget(o, "note");
	if (!count)
		count = iget(o, "deprecatedCount");
	if (!count)
		count = iget(o, "series.count");
	if (!count)
		count = 1;
	const char *kind = sget(inv, "kind") ? sget(inv, "kind") : "";
	size_t i;
	for (i = 0; kind[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)(kind[i] >= 'A' && kind[i] <= 'Z' ? kind[i] + 32 : kind[i]);
	lower[i] = 0;
	snprintf(obj, sizeof(obj), "%s/%s", lower, sget(inv, "name") ? sget(inv, "name") : "");
	const char *comp = sget(o, "source.component");
	const char *host = sget(o, "source.host");
	if (!comp)
		comp = sget(o, "reportingController");
	if (!comp)
		comp = sget(o, "reportingComponent");
	if (host && *host)
		snprintf(src, sizeof(src), "%s, %s", comp ? comp : "", host);
	else
		snprintf(src, sizeof(src), "%s", comp ? comp : "");
	json_array_append_new(cells, age_cell(reg, last));
	json_array_append_new(cells, json_string(sget(o, "type") ? sget(o, "type") : ""));
	json_array_append_new(cells, json_string(sget(o, "reason") ? sget(o, "reason") : ""));
	json_array_append_new(cells, json_string(obj));
	json_array_append_new(cells, json_string(sget(inv, "fieldPath") ? sget(inv, "fieldPath") : ""));
	json_array_append_new(cells, json_string(src));
	json_array_append_new(cells, json_string(msg ? msg : ""));
	json_array_append_new(cells, age_cell(reg, first));
	snprintf(b, sizeof(b), "%lld", (long long)count);
	json_array_append_new(cells, json_string(b));
	json_array_append_new(cells, json_string(sget(o, "metadata.name") ? sget(o, "metadata.name") : ""));
}

static const struct col lease_cols[] = {NAME_COL, {"Holder", "string", "", 0}, AGE_COL, {NULL, NULL, NULL, 0}};

static void lease_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	json_array_append_new(cells, json_string(sget(o, "spec.holderIdentity") ? sget(o, "spec.holderIdentity")
										 : "<none>"));
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
}

static json_t *intorstr(const json_t *v)
{
	char b[32];
	if (json_is_string(v))
		return json_string(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(b, sizeof(b), "%lld", (long long)json_integer_value(v));
		return json_string(b);
	}
	return json_string("N/A");
}

static const struct col pdb_cols[] = {
	NAME_COL,
	{"Min Available", "string", "", 0},
	{"Max Unavailable", "string", "", 0},
	{"Allowed Disruptions", "integer", "", 0},
	AGE_COL,
	{NULL, NULL, NULL, 0},
};

static void pdb_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	json_array_append_new(cells, intorstr(path_get(o, "spec.minAvailable")));
	json_array_append_new(cells, intorstr(path_get(o, "spec.maxUnavailable")));
	json_array_append_new(cells, json_integer(iget(o, "status.disruptionsAllowed")));
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
}

static const struct col crd_cols[] = {NAME_COL, {"Created At", "date", "", 0}, {NULL, NULL, NULL, 0}};

static void crd_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	const char *ts = sget(o, "metadata.creationTimestamp");
	json_array_append_new(cells, ts ? json_string(ts) : json_null());
}

static const struct col cm_cols[] = {NAME_COL, {"Data", "integer", "", 0}, AGE_COL, {NULL, NULL, NULL, 0}};

static void cm_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	json_array_append_new(cells, json_integer((json_int_t)(json_object_size(json_object_get(o, "data")) +
							       json_object_size(json_object_get(o, "binaryData")))));
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
}

static const struct col secret_cols[] = {
	NAME_COL, {"Type", "string", "", 0}, {"Data", "integer", "", 0}, AGE_COL, {NULL, NULL, NULL, 0},
};

static void secret_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	json_array_append_new(cells, json_string(sget(o, "type") ? sget(o, "type") : "Opaque"));
	json_array_append_new(cells, json_integer((json_int_t)json_object_size(json_object_get(o, "data"))));
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
}

static const struct col sa_cols[] = {NAME_COL, {"Secrets", "string", "", 0}, AGE_COL, {NULL, NULL, NULL, 0}};

static void sa_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	json_array_append_new(cells, json_integer((json_int_t)json_array_size(json_object_get(o, "secrets"))));
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
}

static const struct col svc_cols[] = {
	NAME_COL,
	{"Type", "string", "", 0},
	{"Cluster-IP", "string", "", 0},
	{"External-IP", "string", "", 0},
	{"Port(s)", "string", "", 0},
	AGE_COL,
	{"Selector", "string", "", 1},
	{NULL, NULL, NULL, 0},
};

static void svc_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	const json_t *ports = path_get(o, "spec.ports");
	const json_t *sel = path_get(o, "spec.selector");
	struct kp_buf b;
	const char *keys[64], *k;
	const json_t *v;
	size_t n = 0, i;

	json_array_append_new(cells, json_string(sget(o, "spec.type") ? sget(o, "spec.type") : "ClusterIP"));
	json_array_append_new(cells, nonestr(sget(o, "spec.clusterIP")));
	json_array_append_new(cells, json_string("<none>"));
	kp_buf_init(&b, 1 << 16);
	for (i = 0; i < json_array_size(ports); i++) {
		const json_t *p = json_array_get(ports, i);
		kp_buf_printf(&b, "%s%lld", i ? "," : "", (long long)iget(p, "port"));
		if (iget(p, "nodePort"))
			kp_buf_printf(&b, ":%lld", (long long)iget(p, "nodePort"));
		kp_buf_printf(&b, "/%s", sget(p, "protocol") ? sget(p, "protocol") : "TCP");
	}
	json_array_append_new(cells, nonestr(b.data));
	kp_buf_reset(&b);
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
	json_object_foreach((json_t *)sel, k, v)
	{
		if (n < KP_ARRAY_LEN(keys))
			keys[n++] = k;
	}
	qsort(keys, n, sizeof(keys[0]), cmp_str);
	for (i = 0; i < n; i++) {
		const char *val = json_string_value(json_object_get(sel, keys[i]));
		kp_buf_printf(&b, "%s%s=%s", i ? "," : "", keys[i], val ? val : "");
	}
	json_array_append_new(cells, nonestr(b.data));
	kp_buf_free(&b);
}

static const struct col rc_cols[] = {NAME_COL, {"Handler", "string", "", 0}, AGE_COL, {NULL, NULL, NULL, 0}};

static void rc_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	json_array_append_new(cells, json_string(sget(o, "handler") ? sget(o, "handler") : ""));
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
}

static const struct col pc_cols[] = {
	NAME_COL, {"Value", "integer", "", 0}, {"Global-Default", "boolean", "", 0}, AGE_COL,
	{"Preemption-Policy", "string", "", 1}, {NULL, NULL, NULL, 0},
};

static void pc_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	json_array_append_new(cells, json_integer(iget(o, "value")));
	json_array_append_new(cells, json_boolean(json_is_true(json_object_get(o, "globalDefault"))));
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
	json_array_append_new(cells, json_string(sget(o, "preemptionPolicy") ? sget(o, "preemptionPolicy")
									 : "PreemptLowerPriority"));
}

static const struct col default_cols[] = {NAME_COL, AGE_COL, {NULL, NULL, NULL, 0}};

static void default_cells(const struct kp_apiserver__reg *reg, const json_t *o, json_t *cells)
{
	json_array_append_new(cells, age_cell(reg, sget(o, "metadata.creationTimestamp")));
}

static const struct printer printers[] = {
	{"", "Pod", pod_cols, pod_cells},
	{"", "Node", node_cols, node_cells},
	{"", "Namespace", ns_cols, ns_cells},
	{"", "Event", event_cols, event_cells},
	{"events.k8s.io", "Event", event_cols, event_cells},
	{"", "ConfigMap", cm_cols, cm_cells},
	{"", "Secret", secret_cols, secret_cells},
	{"", "ServiceAccount", sa_cols, sa_cells},
	{"", "Service", svc_cols, svc_cells},
	{"apps", "Deployment", deploy_cols, deploy_cells},
	{"apps", "ReplicaSet", rs_cols, rs_cells},
	{"apps", "DaemonSet", ds_cols, ds_cells},
	{"apps", "StatefulSet", sts_cols, sts_cells},
	{"batch", "Job", job_cols, job_cells},
	{"policy", "PodDisruptionBudget", pdb_cols, pdb_cells},
	{"coordination.k8s.io", "Lease", lease_cols, lease_cells},
	{"apiextensions.k8s.io", "CustomResourceDefinition", crd_cols, crd_cells},
	{"node.k8s.io", "RuntimeClass", rc_cols, rc_cells},
	{"scheduling.k8s.io", "PriorityClass", pc_cols, pc_cells},
};

/* ---- JSONPath subset for additionalPrinterColumns ---- */

/* Appends to out every value reached from v by the path suffix p. */
static void jp_eval(const json_t *v, const char *p, json_t *out, int depth)
{
	char key[256];
	size_t n = 0;

	if (!v || depth > 32)
		return;
	if (!*p) {
		json_array_append(out, (json_t *)v);
		return;
	}
	if (*p == '.') {
		p++;
		while (*p && *p != '.' && *p != '[' && n + 1 < sizeof(key)) {
			if (*p == '\\' && p[1])
				p++;
			key[n++] = *p++;
		}
		key[n] = 0;
		jp_eval(json_object_get(v, key), p, out, depth + 1);
		return;
	}
	if (*p == '[') {
		const char *close;
		if (p[1] == '?') {
			/* [?(@.field=="value")] or [?(@.field)] */
			const char *f = strstr(p, "@.");
			close = strstr(p, ")]");
			if (!f || !close)
				return;
			f += 2;
			const char *eq = strstr(f, "==");
			char field[128], want[256];
			if (eq && eq < close) {
				snprintf(field, sizeof(field), "%.*s", (int)(eq - f), f);
				const char *q = eq + 2;
				char quote = (*q == '"' || *q == '\'') ? *q++ : 0;
				const char *qe = quote ? strchr(q, quote) : close;
				if (!qe || qe > close)
					return;
				snprintf(want, sizeof(want), "%.*s", (int)(qe - q), q);
			} else {
				snprintf(field, sizeof(field), "%.*s", (int)(close - f), f);
				want[0] = 0;
				eq = NULL;
			}
			for (size_t i = 0; i < json_array_size(v); i++) {
				const json_t *el = json_array_get(v, i);
				const json_t *fv = json_object_get(el, field);
				bool match;
				if (eq) {
					char tmp[64];
					const char *s = json_string_value(fv);
					if (json_is_integer(fv)) {
						snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(fv));
						s = tmp;
					}
					match = s && !strcmp(s, want);
				} else {
					match = fv != NULL;
				}
				if (match)
					jp_eval(el, close + 2, out, depth + 1);
			}
			return;
		}
		close = strchr(p, ']');
		if (!close)
			return;
		if (p[1] == '*') {
			size_t i;
			const char *k;
			json_t *el;
			if (json_is_array(v))
				for (i = 0; i < json_array_size(v); i++)
					jp_eval(json_array_get(v, i), close + 1, out, depth + 1);
			else if (json_is_object(v))
				json_object_foreach((json_t *)v, k, el) jp_eval(el, close + 1, out, depth + 1);
			return;
		}
		char idx[32];
		int64_t i;
		snprintf(idx, sizeof(idx), "%.*s", (int)(close - p - 1), p + 1);
		if (kp_parse_i64(idx, &i))
			return;
		if (i < 0)
			i += (int64_t)json_array_size(v);
		if (i >= 0)
			jp_eval(json_array_get(v, (size_t)i), close + 1, out, depth + 1);
	}
}

/* Text of a value as kubectl's JSONPath printer writes it. */
static void jp_text(struct kp_buf *b, const json_t *v)
{
	if (json_is_string(v)) {
		kp_buf_addstr(b, json_string_value(v));
	} else if (json_is_integer(v)) {
		kp_buf_printf(b, "%lld", (long long)json_integer_value(v));
	} else if (json_is_real(v)) {
		kp_buf_printf(b, "%g", json_real_value(v));
	} else if (json_is_boolean(v)) {
		kp_buf_addstr(b, json_is_true(v) ? "true" : "false");
	} else if (!json_is_null(v)) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		kp_buf_addstr(b, s ? s : "");
		free(s);
	}
}

static json_t *crd_cell(const struct kp_apiserver__reg *reg, const json_t *col, const json_t *obj)
{
	const char *path = json_string_value(json_object_get(col, "jsonPath"));
	const char *type = json_string_value(json_object_get(col, "type"));
	json_t *res = json_array(), *cell = NULL;
	const json_t *v;

	if (!path || !type || !res) {
		json_decref(res);
		return json_null();
	}
	/* jsonPath may be wrapped in {} */
	char p[512];
	size_t l = strlen(path);
	if (l >= 2 && path[0] == '{' && path[l - 1] == '}')
		snprintf(p, sizeof(p), "%.*s", (int)(l - 2), path + 1);
	else
		snprintf(p, sizeof(p), "%s", path);
	jp_eval(obj, p, res, 0);
	v = json_array_get(res, 0);
	if (!v || json_is_null(v)) {
		cell = json_null();
	} else if (!strcmp(type, "string")) {
		struct kp_buf b;
		kp_buf_init(&b, 1 << 16);
		for (size_t i = 0; i < json_array_size(res); i++) {
			if (i)
				kp_buf_addstr(&b, " ");
			jp_text(&b, json_array_get(res, i));
		}
		cell = json_string(b.data ? b.data : "");
		kp_buf_free(&b);
	} else if (!strcmp(type, "date")) {
		cell = json_is_string(v) ? age_cell(reg, json_string_value(v)) : json_string("<invalid>");
	} else if (!strcmp(type, "integer")) {
		cell = json_is_integer(v) ? json_integer(json_integer_value(v)) : json_null();
	} else if (!strcmp(type, "number")) {
		cell = json_is_number(v) ? json_real(json_number_value(v)) : json_null();
	} else if (!strcmp(type, "boolean")) {
		cell = json_is_boolean(v) ? json_boolean(json_is_true(v)) : json_null();
	} else {
		cell = json_deep_copy(v);
	}
	json_decref(res);
	return cell;
}

/* ---- the table ---- */

static const struct printer *find_printer(const struct kp_apiserver__res *res)
{
	if (!res->builtin)
		return NULL;
	for (size_t i = 0; i < KP_ARRAY_LEN(printers); i++)
		if (!strcmp(printers[i].group, res->group) && !strcmp(printers[i].kind, res->kind))
			return &printers[i];
	return NULL;
}

static json_t *row_object(const json_t *obj, const char *include)
{
	if (include && !strcmp(include, "None"))
		return NULL;
	if (include && !strcmp(include, "Object"))
		return json_deep_copy(obj);
	return json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata", "apiVersion", "meta.k8s.io/v1",
			 "metadata", json_object_get(obj, "metadata") ? json_object_get(obj, "metadata")
								       : json_object());
}

json_t *kp_apiserver__reg_table(const struct kp_apiserver__reg *reg, const struct kp_apiserver__res *res, const json_t *obj_or_list,
			const char *include_object)
{
	const struct kp_apiserver__res_entry *e = kp_apiserver__res_entry_of(res);
	const struct printer *pr = find_printer(res);
	const json_t *items = json_object_get(obj_or_list, "items");
	json_t *cols = json_array(), *rows = json_array(), *table;
	const char *rv = sget(obj_or_list, "metadata.resourceVersion");
	size_t i, n;
	bool single = !json_is_array(items);

	if (pr) {
		for (const struct col *c = pr->cols; c->name; c++)
			json_array_append_new(cols, coldef(c->name, c->type, c->format, c->priority,
							   !strcmp(c->name, "Name") ? desc_name :
							   !strcmp(c->name, "Age") ? desc_age : ""));
	} else if (json_array_size(e->columns)) {
		json_array_append_new(cols, coldef("Name", "string", "name", 0, desc_name));
		for (i = 0; i < json_array_size(e->columns); i++) {
			const json_t *c = json_array_get(e->columns, i);
			const char *nm = json_string_value(json_object_get(c, "name"));
			const char *ty = json_string_value(json_object_get(c, "type"));
			const char *fm = json_string_value(json_object_get(c, "format"));
			const char *de = json_string_value(json_object_get(c, "description"));
			json_array_append_new(cols, coldef(nm ? nm : "", ty ? ty : "string", fm, (int)json_integer_value(
				json_object_get(c, "priority")), de));
		}
	} else {
		for (const struct col *c = default_cols; c->name; c++)
			json_array_append_new(cols, coldef(c->name, c->type, c->format, c->priority,
							   !strcmp(c->name, "Name") ? desc_name : desc_age));
	}
	n = single ? 1 : json_array_size(items);
	for (i = 0; i < n; i++) {
		const json_t *obj = single ? obj_or_list : json_array_get(items, i);
		json_t *cells = json_array(), *row;
		const char *name = sget(obj, "metadata.name");
		/* the events printer has no leading Name column */
		if (!pr || pr->cols[0].format[0])
			json_array_append_new(cells, json_string(name ? name : ""));
		if (pr)
			pr->cells(reg, obj, cells);
		else if (json_array_size(e->columns))
			for (size_t j = 0; j < json_array_size(e->columns); j++)
				json_array_append_new(cells, crd_cell(reg, json_array_get(e->columns, j), obj));
		else
			default_cells(reg, obj, cells);
		row = json_pack("{s:o}", "cells", cells);
		json_t *ro = row_object(obj, include_object);
		if (ro)
			json_object_set_new(row, "object", ro);
		json_array_append_new(rows, row);
	}
	table = json_pack("{s:s, s:s, s:{}, s:o, s:o}", "kind", "Table", "apiVersion", "meta.k8s.io/v1", "metadata",
			  "columnDefinitions", cols, "rows", rows);
	if (rv)
		json_object_set_new(json_object_get(table, "metadata"), "resourceVersion", json_string(rv));
	if (!single) {
		const char *cont = sget(obj_or_list, "metadata.continue");
		if (cont && *cont)
			json_object_set_new(json_object_get(table, "metadata"), "continue", json_string(cont));
	}
	return table;
}
