# tests/e2e/ctrl_walkthrough.sh: the Karpenter controller end to end with
# the real kubectl against `karpenter up` (the controller runs in-process,
# through HTTP, against up's API server). Sourced by tests/e2e/run (uses its
# start_server, stop_server, free_port, K, ok, bad, has, TMP, PIDS, BIN,
# ROOT); starts and stops its own servers. Every wait is bounded.
#
#  1. apply examples/seed: a NodeClaim is created, launched, registered and
#     initialized; the pod runs on the new Node; the log shows the decision;
#  2. NodePool limits hold with 40 pods arriving at once;
#  3. `karpenter controller` against the same server stands by (leader
#     election), serves /healthz, /readyz and /metrics, and stops cleanly;
#  4. `karpenter controller` alone (in-process controller off) provisions.

# cw_until SECONDS CMD...: retries CMD every 0.2 s until it succeeds
cw_until() {
	t=$(($1 * 5)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; t=$((t - 1)); done
	return 1
}
cw_has_claim() { [ -n "$(K get nodeclaims -o name 2>/dev/null)" ]; }
cw_log_has() { K logs -n karpenter karpenter-0 2>/dev/null | grep -qF -- "$1"; }

PORT=$(free_port)
D=$TMP/ctrl
if start_server "$D" "$PORT"; then
	SW=$SPID
	KC=$D/kubeconfig

	# ---- 1. the walkthrough
	if K apply -f "$ROOT/examples/seed/" >/dev/null 2>&1; then ok "ctrl: apply examples/seed"; else bad "ctrl: apply examples/seed"; fi
	if cw_until 30 cw_has_claim; then ok "ctrl: a NodeClaim is created for the pending pod"
	else bad "ctrl: a NodeClaim is created for the pending pod" "$(K logs -n karpenter karpenter-0 2>&1 | tail -n 5)"; fi
	NC=$(K get nodeclaims -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
	for cond in Launched Registered Initialized Ready; do
		if K wait --for=condition=$cond "nodeclaim/$NC" --timeout=60s >/dev/null 2>&1; then ok "ctrl: nodeclaim $cond"
		else bad "ctrl: nodeclaim $cond" "$(K get nodeclaim "$NC" -o jsonpath='{.status.conditions}' 2>&1)"; fi
	done
	if K wait --for=condition=Ready pod -l app=oversized-app --timeout=60s >/dev/null 2>&1; then ok "ctrl: the pod becomes Ready"
	else bad "ctrl: the pod becomes Ready" "$(K get pods -o wide 2>&1)"; fi
	NODE=$(K get nodeclaim "$NC" -o jsonpath='{.status.nodeName}' 2>/dev/null)
	PODNODE=$(K get pods -l app=oversized-app -o jsonpath='{.items[0].spec.nodeName}' 2>/dev/null)
	PHASE=$(K get pods -l app=oversized-app -o jsonpath='{.items[0].status.phase}' 2>/dev/null)
	if [ -n "$NODE" ] && [ "$NODE" = "$PODNODE" ] && [ "$PHASE" = Running ]; then ok "ctrl: the pod runs on the NodeClaim's node"
	else bad "ctrl: the pod runs on the NodeClaim's node" "claim node '$NODE' pod node '$PODNODE' phase '$PHASE'"; fi
	out=$(K get nodes,nodeclaims,pods -o wide 2>&1)
	printf '%s\n' "$out" | sed 's/^/    /'
	if has "$out" "nodeclaim.karpenter.sh/$NC" && has "$out" "node/$NODE" && has "$out" "Running"; then
		ok "ctrl: kubectl get nodes,nodeclaims,pods -o wide"
	else bad "ctrl: kubectl get nodes,nodeclaims,pods -o wide"; fi

	# the NodeClaim as Karpenter writes it
	out=$(K get nodeclaim "$NC" -o json 2>&1)
	okc=1; why=""
	for want in '"generateName": "default-"' '"karpenter.sh/nodepool": "default"' '"karpenter.sh/nodepool-hash"' \
		'"karpenter.k8s.aws/ec2nodeclass": "default"' '"kind": "NodePool"' '"karpenter.sh/termination"' \
		'"key": "node.kubernetes.io/instance-type"' '"providerID": "aws:///' '"imageID": "ami-' \
		'"cpu": "8"' '"memory": "16Gi"'; do
		has "$out" "$want" || { okc=0; why="$why missing $want;"; }
	done
	if [ $okc -eq 1 ]; then ok "ctrl: NodeClaim fields (labels, annotations, owner, finalizer, requirements, status)"
	else bad "ctrl: NodeClaim fields" "$why"; fi
	# the Node after registration and initialization
	out=$(K get node "$NODE" -o json 2>&1)
	okc=1; why=""
	for want in '"karpenter.sh/registered": "true"' '"karpenter.sh/initialized": "true"' '"karpenter.sh/termination"' \
		'"kind": "NodeClaim"' "\"name\": \"$NC\""; do
		has "$out" "$want" || { okc=0; why="$why missing $want;"; }
	done
	has "$out" '"key": "karpenter.sh/unregistered"' && { okc=0; why="$why unregistered taint still there;"; }
	if [ $okc -eq 1 ]; then ok "ctrl: Node registered (labels, finalizer, owner, unregistered taint gone)"
	else bad "ctrl: Node registered" "$why"; fi
	# the decision in the controller's log
	out=$(K logs -n karpenter karpenter-0 2>&1)
	if printf '%s\n' "$out" | grep '"message":"created nodeclaim"' | grep -q '"instance-types":"' &&
	   printf '%s\n' "$out" | grep '"message":"computed new nodeclaim(s) to fit pod(s)"' | grep -q '"decision":"'; then
		ok "ctrl: the log shows the decision (types and why)"
	else bad "ctrl: the log shows the decision" "$(printf '%s\n' "$out" | tail -n 5)"; fi
	for m in 'launched nodeclaim' 'registered nodeclaim' 'initialized nodeclaim'; do
		if has "$out" "\"message\":\"$m\""; then ok "ctrl: log \"$m\""; else bad "ctrl: log \"$m\""; fi
	done

	# ---- 2. limits hold with a burst of pods
	cat >"$TMP/cw-capped.yaml" <<'EOF2'
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: capped}
spec:
  limits: {cpu: "20"}
  template:
    metadata: {labels: {pool: capped}}
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [m5, c5]}
      - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: burst}
spec:
  replicas: 40
  selector: {matchLabels: {app: burst}}
  template:
    metadata: {labels: {app: burst}}
    spec:
      nodeSelector: {pool: capped}
      containers:
      - name: c
        image: pause
        resources: {requests: {cpu: "1", memory: 1Gi}}
EOF2
	K apply -f "$TMP/cw-capped.yaml" >/dev/null 2>&1
	cw_until 30 cw_log_has '"NodePool":{"name":"capped"}'
	sleep 4   # let the burst settle (batch windows, launches)
	caps=$(K get nodeclaims -l karpenter.sh/nodepool=capped -o jsonpath='{range .items[*]}{.spec.requirements}{"\n"}{end}' 2>/dev/null | wc -l)
	cpu=$(K get nodeclaims -l karpenter.sh/nodepool=capped -o json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
t = 0
for i in json.load(sys.stdin)["items"]:
    c = i.get("status", {}).get("capacity", {}).get("cpu", "0")
    t += int(c[:-1]) / 1000 if c.endswith("m") else int(c)
print(int(t))' 2>/dev/null)
	if [ "${caps:-0}" -ge 1 ] && [ -n "$cpu" ] && [ "$cpu" -le 20 ] && [ "$cpu" -ge 8 ]; then
		ok "ctrl: NodePool cpu limit 20 holds for 40 pods ($caps nodeclaims, $cpu cpu)"
	else bad "ctrl: NodePool cpu limit 20 holds for 40 pods" "nodeclaims=$caps cpu=$cpu"; fi
	if cw_log_has 'exceed limits for nodepool' || cw_log_has 'could not schedule pod'; then ok "ctrl: pods over the limit are reported"
	else bad "ctrl: pods over the limit are reported"; fi

	# ---- 3. a second controller stands by; health and metrics
	MP=$(free_port); HP=$(free_port)
	KARPENTER_DATA_DIR=$ROOT/data "$BIN" controller --kubeconfig "$KC" --metrics-listen "127.0.0.1:$MP" \
		--health-listen "127.0.0.1:$HP" >"$TMP/ctrl-standby.log" 2>&1 &
	CP=$!
	PIDS="$PIDS $CP"
	if cw_until 20 curl -sf "http://127.0.0.1:$HP/readyz"; then ok "ctrl: standby controller /readyz"
	else bad "ctrl: standby controller /readyz" "$(tail -n 3 "$TMP/ctrl-standby.log")"; fi
	if curl -sf "http://127.0.0.1:$HP/healthz" >/dev/null; then ok "ctrl: /healthz"; else bad "ctrl: /healthz"; fi
	out=$(curl -sf "http://127.0.0.1:$MP/metrics" 2>&1)
	if has "$out" "karpenter_build_info" && has "$out" "karpenter_cluster_state_synced 1"; then ok "ctrl: /metrics"
	else bad "ctrl: /metrics" "$(printf '%s' "$out" | head -n 3)"; fi
	sleep 1
	if grep -q '"starting controllers"' "$TMP/ctrl-standby.log"; then bad "ctrl: second replica does not lead" "$(cat "$TMP/ctrl-standby.log")"
	else ok "ctrl: second replica does not lead while the first holds the Lease"; fi
	holder=$(K get lease -n kube-system karpenter-leader-election -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)
	if [ -n "$holder" ]; then ok "ctrl: Lease kube-system/karpenter-leader-election held"; else bad "ctrl: Lease held"; fi
	if stop_server "$CP"; then ok "ctrl: controller stops on SIGTERM"; else bad "ctrl: controller stops on SIGTERM"; fi

	stop_server "$SW" >/dev/null
else
	bad "ctrl: start server"
fi

# ---- 4. `karpenter controller` as a separate process against up
PORT=$(free_port)
D=$TMP/ctrl2
if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off; then
	SW=$SPID
	KC=$D/kubeconfig
	MP=$(free_port); HP=$(free_port)
	KARPENTER_DATA_DIR=$ROOT/data "$BIN" controller --kubeconfig "$KC" --metrics-listen "127.0.0.1:$MP" \
		--health-listen "127.0.0.1:$HP" --launch-delay 0s >"$TMP/ctrl-alone.log" 2>&1 &
	CP=$!
	PIDS="$PIDS $CP"
	K apply -f "$ROOT/examples/seed/" >/dev/null 2>&1
	if cw_until 30 cw_has_claim; then ok "ctrl: external controller creates a NodeClaim"
	else bad "ctrl: external controller creates a NodeClaim" "$(tail -n 5 "$TMP/ctrl-alone.log")"; fi
	NC=$(K get nodeclaims -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
	if K wait --for=condition=Launched "nodeclaim/$NC" --timeout=30s >/dev/null 2>&1; then ok "ctrl: external controller launches it"
	else bad "ctrl: external controller launches it" "$(tail -n 5 "$TMP/ctrl-alone.log")"; fi
	if grep -q '"successfully acquired lease"' "$TMP/ctrl-alone.log"; then ok "ctrl: external controller acquires the Lease"
	else bad "ctrl: external controller acquires the Lease"; fi
	if stop_server "$CP"; then ok "ctrl: external controller stops on SIGTERM"; else bad "ctrl: external controller stops on SIGTERM"; fi
	# released = the Lease is there with an empty holder; a failed query is a failure
	if ! holder=$(K get lease -n kube-system karpenter-leader-election -o jsonpath='{.spec.holderIdentity}' 2>&1); then
		bad "ctrl: the Lease is released on shutdown" "kubectl get lease failed: $holder"
	elif [ -z "$holder" ]; then ok "ctrl: the Lease is released on shutdown"; else bad "ctrl: the Lease is released on shutdown" "$holder"; fi
	stop_server "$SW" >/dev/null
else
	bad "ctrl: start server without the in-process controller"
fi
