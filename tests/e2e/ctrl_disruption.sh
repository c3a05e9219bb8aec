# tests/e2e/ctrl_disruption.sh: disruption, termination and NodePool status
# end to end with the real kubectl against `karpenter up` (the controller
# in-process). Sourced by tests/e2e/run (uses its start_server, stop_server,
# free_port, K, ok, bad, has, TMP, PIDS, ROOT); starts and stops its own
# server with short disruption timings. Every wait is bounded.
#
#  1. walkthrough: apply examples/seed, the pod runs on a new node; the
#     NodePool status (Ready, nodes, resources) and hash annotation;
#  2. scale to 0: the empty node is consolidated away (NodeClaim, Node and
#     instance), with the decision in the log;
#  3. a do-not-disrupt pod keeps its node through consolidation; without the
#     annotation the node is replaced by a cheaper one (replacement first);
#  4. a PDB with maxUnavailable 0 keeps its node; without it the node goes;
#  5. a NodePool limit is never exceeded with 50 pods arriving at once, and
#     status.resources stays within it;
#  6. an invalid NodePool gets ValidationSucceeded=False and is not used.

# cd_until SECONDS CMD...: retries CMD every 0.5 s until it succeeds
cd_until() {
	t=$(($1 * 2)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; t=$((t - 1)); done
	return 1
}
cd_log() { K logs -n karpenter karpenter-0 2>/dev/null; }
cd_nclaims() { K get nodeclaims -o name 2>/dev/null | wc -l; }
cd_claims_are() { [ "$(cd_nclaims)" -eq "$1" ]; }
cd_gone() { K get "$1" 2>&1 | grep -q 'NotFound'; }   # gone = the server says NotFound, not any error
cd_pod_running_on() {   # cd_pod_running_on SELECTOR: prints the node of a Running pod
	K get pods -l "$1" -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.spec.nodeName}{"\n"}{end}' 2>/dev/null | head -n 1
}
cd_has_running() { [ -n "$(cd_pod_running_on "$1")" ]; }
cd_node_of_claim() { K get nodeclaim "$1" -o jsonpath='{.status.nodeName}' 2>/dev/null; }
cd_claim_of_node() {
	K get nodeclaims -o jsonpath="{range .items[?(@.status.nodeName==\"$1\")]}{.metadata.name}{end}" 2>/dev/null
}
cd_ready_claims() {   # Initialized claims' node names
	K get nodeclaims -o jsonpath='{range .items[*]}{.status.nodeName}{" "}{.status.conditions[?(@.type=="Initialized")].status}{"\n"}{end}' 2>/dev/null |
		awk '$2 == "True" {print $1}'
}

PORT=$(free_port)
D=$TMP/disrupt
if start_server "$D" "$PORT" KARPENTER_DISRUPTION_VALIDATION_DELAY=2s KARPENTER_DISRUPTION_POLL=1s; then
	SD=$SPID
	KC=$D/kubeconfig

	# ---- 1. walkthrough and NodePool status
	K apply -f "$ROOT/examples/seed/" >/dev/null 2>&1
	if cd_until 60 cd_has_running app=oversized-app; then ok "disrupt: seed pod Running on a new node"
	else bad "disrupt: seed pod Running on a new node" "$(K get pods,nodeclaims -o wide 2>&1 | tail -n 4)"; fi
	NODE1=$(cd_pod_running_on app=oversized-app)
	NC1=$(cd_claim_of_node "$NODE1")
	PID1=$(K get nodeclaim "$NC1" -o jsonpath='{.status.providerID}' 2>/dev/null)
	np_ready() { [ "$(K get nodepool default -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.nodes}')" = "True 1" ]; }
	if cd_until 20 np_ready; then ok "disrupt: NodePool Ready with status.nodes 1"
	else bad "disrupt: NodePool Ready with status.nodes 1" "$(K get nodepool default -o jsonpath='{.status}' 2>&1)"; fi
	out=$(K get nodepool default -o jsonpath='{.status.conditions[?(@.type=="ValidationSucceeded")].status} {.status.conditions[?(@.type=="NodeClassReady")].status} {.status.resources.cpu} {.status.resources.nodes}' 2>&1)
	if [ "$out" = "True True 16 1" ]; then ok "disrupt: NodePool status (ValidationSucceeded, NodeClassReady, resources)"
	else bad "disrupt: NodePool status" "$out"; fi
	h1=$(K get nodepool default -o jsonpath='{.metadata.annotations.karpenter\.sh/nodepool-hash} {.metadata.annotations.karpenter\.sh/nodepool-hash-version}' 2>/dev/null)
	h2=$(K get nodeclaim "$NC1" -o jsonpath='{.metadata.annotations.karpenter\.sh/nodepool-hash} {.metadata.annotations.karpenter\.sh/nodepool-hash-version}' 2>/dev/null)
	if [ -n "${h1% *}" ] && [ "$h1" = "$h2" ] && [ "${h1#* }" = kc-v1 ]; then ok "disrupt: nodepool-hash on the NodePool matches its NodeClaim's"
	else bad "disrupt: nodepool-hash on the NodePool matches its NodeClaim's" "pool '$h1' claim '$h2'"; fi

	# ---- 2. scale to 0: consolidated away
	K scale deployment oversized-app --replicas=0 >/dev/null 2>&1
	if cd_until 60 cd_gone "nodeclaim/$NC1" && cd_until 20 cd_gone "node/$NODE1"; then ok "disrupt: empty node consolidated away (NodeClaim and Node gone)"
	else bad "disrupt: empty node consolidated away" "$(K get nodes,nodeclaims 2>&1 | tail -n 4)"; fi
	out=$(cd_log)
	if printf '%s\n' "$out" | grep '"message":"disrupting node(s)"' | grep -q '"command":"Empty/Delete, terminating 1 nodes (0 pods)'; then
		ok "disrupt: the log shows the decision (method, nodes, savings)"
	else bad "disrupt: the log shows the decision" "$(printf '%s\n' "$out" | grep disruption | tail -n 3)"; fi
	if printf '%s\n' "$out" | grep '"message":"deleted nodeclaim"' | grep -qF "\"provider-id\":\"$PID1\""; then
		ok "disrupt: the instance is terminated before the NodeClaim goes"
	else bad "disrupt: the instance is terminated" "$(printf '%s\n' "$out" | grep -F "$NC1" | tail -n 3)"; fi
	if printf '%s\n' "$out" | grep '"controller":"node.termination"' | grep -q '"message":"deleted node"'; then
		ok "disrupt: the Node finalizer drained and released the Node"
	else bad "disrupt: the Node finalizer released the Node"; fi
	np_empty() { [ "$(K get nodepool default -o jsonpath='{.status.nodes} {.status.resources.cpu}')" = "0 0" ]; }
	if cd_until 15 np_empty; then ok "disrupt: NodePool status back to 0 nodes"
	else bad "disrupt: NodePool status back to 0 nodes" "$(K get nodepool default -o jsonpath='{.status}' 2>&1)"; fi

	# ---- 3. do-not-disrupt keeps its node; without it the node is replaced
	# (on-demand: Karpenter does not replace spot with spot by default)
	cat >"$TMP/cd-od.yaml" <<'EOF2'
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: od}
spec:
  disruption: {consolidateAfter: 0s}
  template:
    metadata: {labels: {pool: od}}
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [m5, c5, m6a, c6a]}
      - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: big}
spec:
  replicas: 1
  selector: {matchLabels: {app: big}}
  template:
    metadata: {labels: {app: big}}
    spec:
      nodeSelector: {pool: od}
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: pause
        resources: {requests: {cpu: "6", memory: 8Gi}}
EOF2
	K apply -f "$TMP/cd-od.yaml" >/dev/null 2>&1
	cd_until 60 cd_has_running app=big
	NODE2=$(cd_pod_running_on app=big)
	cat >"$TMP/dnd.yaml" <<'EOF2'
apiVersion: apps/v1
kind: Deployment
metadata: {name: small}
spec:
  replicas: 1
  selector: {matchLabels: {app: small}}
  template:
    metadata:
      labels: {app: small}
      annotations: {karpenter.sh/do-not-disrupt: "true"}
    spec:
      nodeSelector: {pool: od}
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: pause
        resources: {requests: {cpu: 100m, memory: 128Mi}}
EOF2
	K apply -f "$TMP/dnd.yaml" >/dev/null 2>&1
	cd_until 30 cd_has_running app=small
	SMALLNODE=$(cd_pod_running_on app=small)
	if [ -n "$NODE2" ] && [ "$SMALLNODE" = "$NODE2" ]; then ok "disrupt: do-not-disrupt pod placed on the big node"
	else bad "disrupt: do-not-disrupt pod placed on the big node" "big '$NODE2' small '$SMALLNODE'"; fi
	K scale deployment big --replicas=0 >/dev/null 2>&1
	sleep 8   # 2 s validation + passes: consolidation would have acted by now
	NC2=$(cd_claim_of_node "$NODE2")
	del=$(K get nodeclaim "$NC2" -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)
	if [ -n "$NC2" ] && [ -z "$del" ] && [ "$(cd_nclaims)" -eq 1 ]; then ok "disrupt: a do-not-disrupt pod keeps its node through consolidation"
	else bad "disrupt: a do-not-disrupt pod keeps its node" "claim '$NC2' deleting '$del' claims $(cd_nclaims)"; fi
	# the log must be readable (and not empty) for its silence to mean anything
	if ! cdlog=$(cd_log) || [ -z "$cdlog" ]; then
		bad "disrupt: no command for the do-not-disrupt node" "could not read the controller's log"
	elif printf '%s\n' "$cdlog" | grep '"message":"validating disruption command"' | grep -qF "$NODE2"; then
		bad "disrupt: no command for the do-not-disrupt node" "$(printf '%s\n' "$cdlog" | grep -F "$NODE2" | grep disruption | tail -n 2)"
	else ok "disrupt: no command for the do-not-disrupt node"; fi
	# without the annotation: replaced by a cheaper node, which initializes first
	K patch deployment small --type=json -p '[{"op":"remove","path":"/spec/template/metadata/annotations"}]' >/dev/null 2>&1
	if cd_until 90 cd_gone "node/$NODE2"; then ok "disrupt: without do-not-disrupt the node is consolidated"
	else bad "disrupt: without do-not-disrupt the node is consolidated" "$(cd_log | grep '"disruption"' | tail -n 3)"; fi
	out=$(cd_log)
	if printf '%s\n' "$out" | grep '"message":"disrupting node(s)"' | grep -q 'Underutilized/Replace'; then
		ok "disrupt: consolidation replaced it with a cheaper node"
	else bad "disrupt: consolidation replaced it with a cheaper node" "$(printf '%s\n' "$out" | grep '"disrupting node' | tail -n 2)"; fi
	if cd_until 30 cd_has_running app=small; then ok "disrupt: the evicted pod runs on the replacement"
	else bad "disrupt: the evicted pod runs on the replacement" "$(K get pods -o wide 2>&1)"; fi
	if printf '%s\n' "$out" | grep '"message":"evicted pod"' | grep -q '"namespace":"default"'; then ok "disrupt: drained through the Eviction API"
	else bad "disrupt: drained through the Eviction API"; fi
	SMALLNODE=$(cd_pod_running_on app=small)

	# ---- 4. a PDB with maxUnavailable 0 keeps its node; without it the node goes
	cat >"$TMP/pdb.yaml" <<'EOF2'
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: small}
spec:
  maxUnavailable: 0
  selector: {matchLabels: {app: small}}
EOF2
	K apply -f "$TMP/pdb.yaml" >/dev/null 2>&1
	K scale deployment big --replicas=1 >/dev/null 2>&1
	cd_until 60 cd_has_running app=big
	NODE3=$(cd_pod_running_on app=big)
	sleep 8   # the small node's pod would fit on the big one: consolidation wants it
	if [ -n "$SMALLNODE" ] && [ "$SMALLNODE" != "$NODE3" ] && K get node "$SMALLNODE" >/dev/null 2>&1 &&
	   [ "$(cd_pod_running_on app=small)" = "$SMALLNODE" ]; then
		ok "disrupt: a PDB with maxUnavailable 0 keeps its node"
	else bad "disrupt: a PDB with maxUnavailable 0 keeps its node" "small node '$SMALLNODE' big '$NODE3' now '$(cd_pod_running_on app=small)'"; fi
	K delete pdb small >/dev/null 2>&1
	if [ -n "$SMALLNODE" ] && cd_until 60 cd_gone "node/$SMALLNODE"; then ok "disrupt: without the PDB the node is consolidated"
	else bad "disrupt: without the PDB the node is consolidated" "$(cd_log | grep '"disruption"' | tail -n 3)"; fi
	if cd_until 30 cd_has_running app=small && [ "$(cd_pod_running_on app=small)" = "$NODE3" ]; then ok "disrupt: its pod moved to the existing node (delete)"
	else bad "disrupt: its pod moved to the existing node" "$(K get pods -o wide 2>&1)"; fi
	K delete deployment small big --wait=false >/dev/null 2>&1
	cd_until 60 cd_claims_are 0

	# ---- 5. a NodePool limit holds with 50 pods at once
	cat >"$TMP/cd-limited.yaml" <<'EOF2'
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: limited}
spec:
  limits: {cpu: "16"}
  disruption: {consolidateAfter: Never}
  template:
    metadata: {labels: {pool: limited}}
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [m5, c5]}
      - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: fifty}
spec:
  replicas: 50
  selector: {matchLabels: {app: fifty}}
  template:
    metadata: {labels: {app: fifty}}
    spec:
      nodeSelector: {pool: limited}
      containers:
      - name: c
        image: pause
        resources: {requests: {cpu: "1", memory: 1Gi}}
EOF2
	K apply -f "$TMP/cd-limited.yaml" >/dev/null 2>&1
	cd_until 30 sh -c "[ \$(timeout 20 kubectl --kubeconfig '$KC' get nodeclaims -l karpenter.sh/nodepool=limited -o name | wc -l) -ge 1 ]"
	sleep 6
	cpu=$(K get nodeclaims -l karpenter.sh/nodepool=limited -o json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
t = 0
for i in json.load(sys.stdin)["items"]:
    c = i.get("status", {}).get("capacity", {}).get("cpu", "0")
    t += int(c[:-1]) / 1000 if c.endswith("m") else int(c)
print(int(t))' 2>/dev/null)
	if [ -n "$cpu" ] && [ "$cpu" -le 16 ] && [ "$cpu" -ge 8 ]; then ok "disrupt: NodePool cpu limit 16 holds for 50 pods ($cpu cpu)"
	else bad "disrupt: NodePool cpu limit 16 holds for 50 pods" "cpu=$cpu"; fi
	scpu=$(K get nodepool limited -o jsonpath='{.status.resources.cpu}' 2>/dev/null)
	if [ -n "$scpu" ] && [ "${scpu%m}" = "$scpu" ] && [ "$scpu" -le 16 ]; then ok "disrupt: NodePool status.resources.cpu within the limit ($scpu)"
	else bad "disrupt: NodePool status.resources.cpu within the limit" "'$scpu'"; fi
	K delete deployment fifty --wait=false >/dev/null 2>&1

	# ---- 6. an invalid NodePool is reported and not used
	cat >"$TMP/cd-bad.yaml" <<'EOF2'
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: badpool}
spec:
  template:
    metadata: {labels: {pool: bad}}
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
      - {key: node.kubernetes.io/instance-type, operator: Gt, values: ["x"]}
EOF2
	if K apply -f "$TMP/cd-bad.yaml" >/dev/null 2>&1; then
		np_invalid() { [ "$(K get nodepool badpool -o jsonpath='{.status.conditions[?(@.type=="ValidationSucceeded")].status}')" = False ]; }
		if cd_until 20 np_invalid; then ok "disrupt: an invalid NodePool gets ValidationSucceeded=False"
		else bad "disrupt: an invalid NodePool gets ValidationSucceeded=False" "$(K get nodepool badpool -o jsonpath='{.status}' 2>&1)"; fi
	else
		ok "disrupt: an invalid NodePool is refused at admission"
	fi

	if stop_server "$SD"; then ok "disrupt: server stops"; else bad "disrupt: server stops"; fi
else
	bad "disrupt: start server"
fi
