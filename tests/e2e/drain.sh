# tests/e2e/drain.sh: cordon and drain as in a real cluster (issue 10 item 1).
# Sourced by tests/e2e/run (uses its start_server, stop_server, free_port, K,
# ok, bad, has, TMP, PIDS, ROOT); starts and stops its own server (the
# controller in-process). Every wait is bounded.
#  1. `kubectl cordon` adds node.kubernetes.io/unschedulable:NoSchedule (the
#     node lifecycle controller's taint), `kubectl uncordon` removes it;
#  2. `kubectl drain` evicts the Deployment's pod, the controller does not
#     plan onto the cordoned node: the new pod runs on a new node.

dr_until() {
	t=$(($1 * 2)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; t=$((t - 1)); done
	return 1
}
dr_running_on() {   # the node of the Running pod of the seed Deployment
	K get pods -l app=oversized-app -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.metadata.deletionTimestamp}{"|"}{.spec.nodeName}{"\n"}{end}' 2>/dev/null |
		awk -F'|' '$1 == "" {print $2}' | head -n 1
}
dr_taint() { K get node "$1" -o jsonpath='{range .spec.taints[*]}{.key}:{.effect}{" "}{end}' 2>/dev/null; }
dr_has_taint() { dr_taint "$1" | grep -q 'node.kubernetes.io/unschedulable:NoSchedule'; }
dr_no_taint() { ! dr_taint "$1" | grep -q 'node.kubernetes.io/unschedulable'; }
dr_moved() { n=$(dr_running_on); [ -n "$n" ] && [ "$n" != "$1" ]; }

PORT=$(free_port)
D=$TMP/drain
if start_server "$D" "$PORT"; then
	SDR=$SPID
	KC=$D/kubeconfig
	K apply -f "$ROOT/examples/seed/" >/dev/null 2>&1
	if dr_until 60 sh -c "[ -n \"\$(kubectl --kubeconfig '$KC' get pods -l app=oversized-app -o jsonpath='{.items[?(@.status.phase==\"Running\")].spec.nodeName}' 2>/dev/null)\" ]"; then
		ok "drain: seed pod Running on a new node"
	else bad "drain: seed pod Running on a new node" "$(K get pods,nodes -o wide 2>&1 | tail -n 4)"; fi
	N1=$(dr_running_on)
	K cordon "$N1" >/dev/null 2>&1
	if dr_until 10 dr_has_taint "$N1"; then ok "drain: cordon adds node.kubernetes.io/unschedulable:NoSchedule"
	else bad "drain: cordon adds node.kubernetes.io/unschedulable:NoSchedule" "$(dr_taint "$N1")"; fi
	K uncordon "$N1" >/dev/null 2>&1
	if dr_until 10 dr_no_taint "$N1"; then ok "drain: uncordon removes the taint"
	else bad "drain: uncordon removes the taint" "$(dr_taint "$N1")"; fi
	if out=$(K drain "$N1" --ignore-daemonsets --delete-emptydir-data --timeout=60s 2>&1); then ok "drain: kubectl drain evicts the pods"
	else bad "drain: kubectl drain evicts the pods" "$(printf '%s' "$out" | tail -n 3)"; fi
	if dr_until 60 dr_moved "$N1"; then ok "drain: the evicted pod runs on a new node ($(dr_running_on))"
	else bad "drain: the evicted pod runs on a new node" "$(K get pods,nodes,nodeclaims -o wide 2>&1 | tail -n 6)"; fi
	out=$(K get pods -l app=oversized-app -o jsonpath='{.items[*].spec.nodeName}' 2>&1)
	if ! printf '%s' "$out" | grep -qw "$N1"; then ok "drain: nothing is placed on the cordoned node"
	else bad "drain: nothing is placed on the cordoned node" "$out"; fi
	stop_server "$SDR"
else
	bad "drain: server starts"
fi
