# tests/e2e/ctrl_metrics.sh: the controller's metrics during the
# getting-started walkthrough in `karpenter up` (issue 5's observability).
# Sourced by tests/e2e/run (uses its free_port, stop_server, K, ok, bad,
# has, TMP, PIDS, BIN, ROOT, KC); starts and stops its own server. Every
# wait is bounded.
#
# Starts `up --metrics-listen`, applies examples/seed, waits for the pod to
# run on a new Node, scrapes /metrics and checks: promtool accepts it (only
# the lint notes the promtool stage tolerates for Karpenter's own names),
# the NodeClaim/Node/pod/cloud-call series Karpenter would export are there,
# and the pod's series goes when the pod does.

# cm_until SECONDS CMD...: retries CMD every 0.2 s until it succeeds
cm_until() {
	t=$(($1 * 5)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; t=$((t - 1)); done
	return 1
}
# cm_sum NAME [SUBSTR...]: sum of the samples of NAME whose line holds every SUBSTR ("" when none)
cm_sum() {
	n=$1; shift
	printf '%s\n' "$CM_OUT" | awk -v n="$n" -v subs="$(printf '%s\037' "$@")" '
		BEGIN { k = split(subs, s, "\037"); found = 0; t = 0 }
		index($0, n "{") == 1 || index($0, n " ") == 1 {
			for (i = 1; i < k; i++) if (index($0, s[i]) == 0) next
			t += $NF; found = 1
		}
		END { if (found) print t }'
}
# cm_ge NAME MIN [SUBSTR...]: the sum is at least MIN
cm_ge() {
	n=$1; min=$2; shift 2
	v=$(cm_sum "$n" "$@")
	[ -n "$v" ] && awk -v v="$v" -v m="$min" 'BEGIN { exit !(v + 0 >= m + 0) }'
}
cm_scrape() { CM_OUT=$(curl -sf -m 10 "http://127.0.0.1:$CM_MP/metrics" 2>/dev/null); }
cm_pod_running() {
	[ "$(K get pods -l app=oversized-app -o jsonpath='{.items[0].status.phase}' 2>/dev/null)" = Running ]
}
cm_has_pod_series() { cm_scrape && has "$CM_OUT" "karpenter_pods_state{" && has "$CM_OUT" "name=\"$CM_POD\""; }
cm_no_pod_series() { cm_scrape && has "$CM_OUT" "karpenter_cluster_state_synced" && ! has "$CM_OUT" "name=\"$CM_POD\""; }
cm_has_node_series() { cm_scrape && cm_ge karpenter_nodes_total_pod_requests 1 "node_name=\"$CM_NODE\"" 'resource_type="cpu"'; }

CM_PORT=$(free_port)
CM_MP=$(free_port)
CM_D=$TMP/ctrl-metrics
CM_OUT=""
mkdir -p "$CM_D"
env "$BIN" up --listen "127.0.0.1:$CM_PORT" --data-dir "$CM_D" --launch-delay 0s --metrics-listen "127.0.0.1:$CM_MP" >"$CM_D.log" 2>&1 &
CM_PID=$!
PIDS="$PIDS $CM_PID"
if cm_until 20 sh -c "[ -f '$CM_D/kubeconfig' ] && curl -sk -o /dev/null 'https://127.0.0.1:$CM_PORT/readyz' && curl -sf -o /dev/null 'http://127.0.0.1:$CM_MP/metrics'"; then
	KC=$CM_D/kubeconfig
	ok "metrics: up serves /metrics (--metrics-listen)"
	K apply -f "$ROOT/examples/seed/" >/dev/null 2>&1
	if cm_until 60 cm_pod_running; then ok "metrics: the seed pod runs on a new node"
	else bad "metrics: the seed pod runs on a new node" "$(K get pods,nodeclaims -o wide 2>&1 | tail -n 4)"; fi
	CM_POD=$(K get pods -l app=oversized-app -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
	CM_NODE=$(K get pods -l app=oversized-app -o jsonpath='{.items[0].spec.nodeName}' 2>/dev/null)
	# the node gauges are written on the controller's 1 s tick
	cm_until 10 cm_has_node_series
	cm_scrape
	printf '%s\n' "$CM_OUT" >"$CM_D.prom"

	# promtool: only the lint notes about Karpenter's own names
	if command -v promtool >/dev/null 2>&1; then
		allow='^karpenter_(cluster_state_node_count|scheduler_ignored_pods_count|scheduler_unschedulable_pods_count|scheduler_pending_pods_by_effective_zone_count) non-histogram and non-summary metrics should not have "_count" suffix$|^karpenter_nodepools_cost_total non-counter metrics should not have "_total" suffix$'
		lint=$(promtool check metrics <"$CM_D.prom" 2>&1); prc=$?
		extra=$(printf '%s\n' "$lint" | grep -Ev "$allow" | grep -v '^$')
		if [ -n "$CM_OUT" ] && { [ $prc -eq 0 ] || [ $prc -eq 3 ]; } && [ -z "$extra" ]; then
			ok "metrics: promtool check metrics (walkthrough scrape)"
		else bad "metrics: promtool check metrics" "exit $prc: $(printf '%s\n' "$extra" | head -n 5)"; fi
	else
		skip promtool "metrics: promtool check metrics (promtool is not installed)"
	fi

	if cm_ge karpenter_nodeclaims_created_total 1 'nodepool="default"' 'reason="provisioned"'; then
		ok "metrics: karpenter_nodeclaims_created_total{nodepool=\"default\"} >= 1"
	else bad "metrics: karpenter_nodeclaims_created_total" "$(printf '%s\n' "$CM_OUT" | grep '^karpenter_nodeclaims_created_total')"; fi
	if cm_ge karpenter_nodes_created_total 1 'nodepool="default"'; then ok "metrics: karpenter_nodes_created_total >= 1"
	else bad "metrics: karpenter_nodes_created_total" "$(printf '%s\n' "$CM_OUT" | grep '^karpenter_nodes_created_total')"; fi
	if [ -n "$CM_POD" ] && cm_ge karpenter_pods_state 1 "name=\"$CM_POD\"" 'namespace="default"' "node=\"$CM_NODE\"" \
		'phase="Running"' 'ready="true"' 'scheduled="true"' 'nodepool="default"' 'managed="true"'; then
		ok "metrics: karpenter_pods_state has the running pod with its node's labels"
	else bad "metrics: karpenter_pods_state has the pod" "$(printf '%s\n' "$CM_OUT" | grep '^karpenter_pods_state' | head -n 3)"; fi
	if cm_ge karpenter_cloudprovider_duration_seconds_count 1 'controller="nodeclaim.lifecycle"' 'method="Create"' 'provider="fake"'; then
		ok "metrics: karpenter_cloudprovider_duration_seconds_count{method=\"Create\"} >= 1"
	else bad "metrics: cloudprovider Create duration" "$(printf '%s\n' "$CM_OUT" | grep '^karpenter_cloudprovider_duration_seconds_count')"; fi
	if cm_ge karpenter_cloudprovider_duration_seconds_count 1 'controller="provisioner"' 'method="GetInstanceTypes"'; then
		ok "metrics: karpenter_cloudprovider_duration_seconds_count{method=\"GetInstanceTypes\"} >= 1"
	else bad "metrics: cloudprovider GetInstanceTypes duration" "$(printf '%s\n' "$CM_OUT" | grep '^karpenter_cloudprovider_duration_seconds_count')"; fi
	if cm_ge karpenter_nodes_allocatable 1 "node_name=\"$CM_NODE\"" 'resource_type="cpu"' 'nodepool="default"' &&
	   cm_ge karpenter_nodes_total_pod_requests 1 "node_name=\"$CM_NODE\"" 'resource_type="cpu"' &&
	   cm_ge karpenter_cluster_state_node_count 1 && cm_ge karpenter_cluster_state_synced 1; then
		ok "metrics: node gauges and cluster state (allocatable, pod requests, node count, synced)"
	else bad "metrics: node gauges and cluster state" "$(printf '%s\n' "$CM_OUT" | grep -E '^karpenter_(nodes_allocatable|nodes_total_pod_requests|cluster_state)' | head -n 4)"; fi
	if cm_ge karpenter_pods_startup_duration_seconds_count 1; then ok "metrics: karpenter_pods_startup_duration_seconds observed"
	else bad "metrics: karpenter_pods_startup_duration_seconds observed"; fi

	# the pod's series goes with the pod
	K delete deployment oversized-app --wait=false >/dev/null 2>&1
	if [ -n "$CM_POD" ] && cm_until 30 cm_no_pod_series; then ok "metrics: the pod's karpenter_pods_state series goes with the pod"
	else bad "metrics: the pod's karpenter_pods_state series goes with the pod" "$(K get pods 2>&1 | tail -n 2)"; fi

	if stop_server "$CM_PID"; then ok "metrics: server stops on SIGTERM"; else bad "metrics: server stops on SIGTERM"; fi
else
	bad "metrics: start up with --metrics-listen" "$(tail -n 5 "$CM_D.log" 2>/dev/null)"
	stop_server "$CM_PID" >/dev/null
fi
