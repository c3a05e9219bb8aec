# tests/e2e/parity.sh: Karpenter-equal decisions of issue 8, end to end with
# the real kubectl against `karpenter up` (in-process controller, simulated
# cloud). Sourced by tests/e2e/run (uses its start_server, stop_server,
# free_port, K, ok, bad, has, TMP, ROOT); starts and stops its own server.
# Every wait is bounded.
#
#  1. a NodePool without a karpenter.sh/capacity-type requirement launches
#     spot (no default; reserved > spot > on-demand);
#  2. a pod whose PersistentVolumeClaim is bound to a zonal PersistentVolume
#     lands in the volume's zone (skipped, and counted, while the API server
#     does not serve PersistentVolumeClaims); a volume whose first
#     nodeSelectorTerm (or StorageClass allowedTopologies term) names a zone
#     without nodes and whose second names us-east-1c: the pod binds there;
#  3. consolidateAfter for destinations: a node inside its window receives
#     no moved pod; once the window has passed, the pod moves and the other
#     node goes;
#  4. the simulated cloud has subnets in three zones (us-east-1a/b/c): a
#     zone spread of 4 replicas uses exactly those; a class whose
#     subnetSelectorTerms select subnet-us-east-1b launches only there and
#     its status lists that subnet;
#  5. node repair (FEATURE_GATES=NodeRepair=true, toleration 2 s): a Node
#     whose Ready turns False has its NodeClaim deleted, and the pod runs
#     on a new node; then one whose KernelReady (an EKS node monitoring
#     agent condition, an AWS repair policy) turns False;
#  6. capacity reservations in the simulated cloud: with a reservation of
#     one instance, two pods that cannot share a node get one reserved node
#     (its NodeClaim pinned to reserved) and one spot node.

pa_skipped=0
pa_skip() { pa_skipped=$((pa_skipped + 1)); echo "skip $1"; }
pa_until() {   # pa_until SECONDS CMD...: retries CMD every 0.2 s until it succeeds
	t=$(($1 * 5)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; t=$((t - 1)); done
	return 1
}
pa_running_on() {   # node of the first Running pod with label selector $1
	K get pods -l "$1" -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.spec.nodeName}{"\n"}{end}' 2>/dev/null | head -n 1
}
pa_has_running() { [ -n "$(pa_running_on "$1")" ]; }
pa_gone() { ! K get "$1" >/dev/null 2>&1; }
pa_claim_label() {   # pa_claim_label NODE KEY-JSONPATH
	K get nodeclaims -o jsonpath="{range .items[?(@.status.nodeName==\"$1\")]}{.metadata.labels.$2}{end}" 2>/dev/null
}

PORT=$(free_port)
D=$TMP/parity
if start_server "$D" "$PORT" KARPENTER_DISRUPTION_VALIDATION_DELAY=1s KARPENTER_DISRUPTION_POLL=1s; then
	SPA=$SPID
	KC=$D/kubeconfig

	# ---- 1. no capacity-type default: spot
	cat >"$TMP/pa-pool.yaml" <<'EOF2'
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  role: KarpenterNodeRole-e2e
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: e2e}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: e2e}}]
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: anyct}
spec:
  template:
    metadata: {labels: {pool: anyct}}
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [m5, c5]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: anyct}
spec:
  replicas: 1
  selector: {matchLabels: {app: anyct}}
  template:
    metadata: {labels: {app: anyct}}
    spec:
      nodeSelector: {pool: anyct}
      containers:
      - {name: app, image: registry.k8s.io/pause:3.9, resources: {requests: {cpu: 500m, memory: 256Mi}}}
EOF2
	if K apply -f "$TMP/pa-pool.yaml" >/dev/null 2>&1 && pa_until 60 pa_has_running app=anyct; then
		ok "parity: a pod of a pool without capacity-type runs"
	else bad "parity: a pod of a pool without capacity-type runs" "$(K get pods,nodeclaims -o wide 2>&1 | tail -n 4)"; fi
	N=$(pa_running_on app=anyct)
	ct=$(pa_claim_label "$N" 'karpenter\.sh/capacity-type')
	nct=$(K get node "$N" -o jsonpath='{.metadata.labels.karpenter\.sh/capacity-type}' 2>/dev/null)
	if [ "$ct" = spot ] && [ "$nct" = spot ]; then ok "parity: a pool without capacity-type launches spot (NodeClaim and Node)"
	else bad "parity: a pool without capacity-type launches spot" "claim '$ct' node '$nct'"; fi
	if K logs -n karpenter karpenter-0 2>/dev/null | grep '"message":"launched nodeclaim"' | grep -q '"capacity-type":"spot"'; then
		ok "parity: the launch log line says spot"
	else bad "parity: the launch log line says spot" "$(K logs -n karpenter karpenter-0 2>&1 | grep launched | tail -n 2)"; fi
	K delete deployment anyct >/dev/null 2>&1

	# ---- 2. a PVC-bound pod lands in its volume's zone
	if K api-resources 2>/dev/null | grep -q '^persistentvolumeclaims'; then
		cat >"$TMP/pa-pv.yaml" <<'EOF2'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: zonal}
provisioner: ebs.csi.aws.com
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pa-pv}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: zonal
  csi: {driver: ebs.csi.aws.com, volumeHandle: vol-0123456789abcdef0}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1b]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pa-data, namespace: default}
spec:
  storageClassName: zonal
  volumeName: pa-pv
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: vol}
spec:
  template:
    metadata: {labels: {pool: vol}}
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [m5, c5]}
---
apiVersion: v1
kind: Pod
metadata: {name: pa-vol, namespace: default, labels: {app: pa-vol}}
spec:
  nodeSelector: {pool: vol}
  containers:
  - {name: app, image: registry.k8s.io/pause:3.9, resources: {requests: {cpu: 500m, memory: 256Mi}}}
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: pa-data}}
EOF2
		if K apply -f "$TMP/pa-pv.yaml" >/dev/null 2>&1 && pa_until 60 pa_has_running app=pa-vol; then
			ok "parity: the PVC-bound pod runs"
		else bad "parity: the PVC-bound pod runs" "$(K get pods,nodeclaims -o wide 2>&1 | tail -n 4)"; fi
		N=$(pa_running_on app=pa-vol)
		z=$(K get node "$N" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}' 2>/dev/null)
		if [ "$z" = us-east-1b ]; then ok "parity: the PVC-bound pod lands in its volume's zone (us-east-1b)"
		else bad "parity: the PVC-bound pod lands in its volume's zone" "node '$N' zone '$z'"; fi
		K delete pod pa-vol --wait=false >/dev/null 2>&1
		# every nodeSelectorTerm of a PersistentVolume and every allowedTopologies
		# term of a WaitForFirstConsumer StorageClass is an alternative (ORed),
		# for `up`'s scheduler as for the engine: the first term names a zone
		# without subnets (no node can be there), the second us-east-1c
		cat >"$TMP/pa-pv2.yaml" <<'EOF2'
apiVersion: v1
kind: PersistentVolume
metadata: {name: pa-pv2}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: zonal
  csi: {driver: ebs.csi.aws.com, volumeHandle: vol-0123456789abcdef2}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1z]}
      - matchExpressions:
        - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1c]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pa-data2, namespace: default}
spec:
  storageClassName: zonal
  volumeName: pa-pv2
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: zonal-two}
provisioner: ebs.csi.aws.com
volumeBindingMode: WaitForFirstConsumer
allowedTopologies:
- matchLabelExpressions:
  - {key: topology.kubernetes.io/zone, values: [us-east-1z]}
- matchLabelExpressions:
  - {key: topology.kubernetes.io/zone, values: [us-east-1c]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pa-data3, namespace: default}
spec:
  storageClassName: zonal-two
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: pa-vol2, namespace: default, labels: {app: pa-vol2}}
spec:
  nodeSelector: {pool: vol}
  containers:
  - {name: app, image: registry.k8s.io/pause:3.9, resources: {requests: {cpu: 500m, memory: 256Mi}}}
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: pa-data2}}
---
apiVersion: v1
kind: Pod
metadata: {name: pa-vol3, namespace: default, labels: {app: pa-vol3}}
spec:
  nodeSelector: {pool: vol}
  containers:
  - {name: app, image: registry.k8s.io/pause:3.9, resources: {requests: {cpu: 500m, memory: 256Mi}}}
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: pa-data3}}
EOF2
		for a in pa-vol2 pa-vol3; do
			what="parity: a pod whose volume's second topology term matches binds ($a)"
			if K apply -f "$TMP/pa-pv2.yaml" >/dev/null 2>&1 && pa_until 60 pa_has_running app=$a; then
				N=$(pa_running_on app=$a)
				z=$(K get node "$N" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}' 2>/dev/null)
				if [ "$z" = us-east-1c ]; then ok "$what, in us-east-1c"
				else bad "$what" "node '$N' zone '$z'"; fi
			else bad "$what" "$(K get pod $a -o jsonpath='{.status.conditions}' 2>&1 | tail -c 300)"; fi
		done
		K delete pod pa-vol2 pa-vol3 --wait=false >/dev/null 2>&1
	else
		pa_skip "parity: a PVC-bound pod lands in its volume's zone (the API server does not serve PersistentVolumeClaims)"
	fi

	# ---- 3. consolidateAfter: a destination inside its window takes no moved pod
	cat >"$TMP/pa-ca.yaml" <<'EOF2'
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: ca}
spec:
  disruption: {consolidateAfter: 20s}
  template:
    metadata: {labels: {pool: ca}}
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}
      - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
---
apiVersion: v1
kind: Pod
metadata: {name: pa-a, namespace: default, labels: {app: pa-a}}
spec:
  nodeSelector: {pool: ca}
  containers:
  - {name: app, image: registry.k8s.io/pause:3.9, resources: {requests: {cpu: 500m, memory: 256Mi}}}
EOF2
	K apply -f "$TMP/pa-ca.yaml" >/dev/null 2>&1
	if pa_until 60 pa_has_running app=pa-a; then ok "parity: consolidateAfter: pod a runs on node 1"
	else bad "parity: consolidateAfter: pod a runs on node 1" "$(K get pods,nodeclaims -o wide 2>&1 | tail -n 4)"; fi
	N1=$(pa_running_on app=pa-a)
	sleep 21   # node 1's window passes: it is consolidatable from here on
	cat >"$TMP/pa-b.yaml" <<EOF2
apiVersion: v1
kind: Pod
metadata: {name: pa-b, namespace: default, labels: {app: pa-b}}
spec:
  nodeSelector: {pool: ca}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - {key: kubernetes.io/hostname, operator: NotIn, values: [$N1]}
  containers:
  - {name: app, image: registry.k8s.io/pause:3.9, resources: {requests: {cpu: 500m, memory: 256Mi}}}
EOF2
	K apply -f "$TMP/pa-b.yaml" >/dev/null 2>&1
	if pa_until 60 pa_has_running app=pa-b; then ok "parity: consolidateAfter: pod b runs on a new node 2"
	else bad "parity: consolidateAfter: pod b runs on a new node 2" "$(K get pods,nodeclaims -o wide 2>&1 | tail -n 4)"; fi
	N2=$(pa_running_on app=pa-b)
	# node 2 has room for a, but is inside its 20 s window: node 1 stays
	sleep 8
	if [ -n "$N1" ] && [ "$N1" != "$N2" ] && K get node "$N1" >/dev/null 2>&1 && [ "$(pa_running_on app=pa-a)" = "$N1" ]; then
		ok "parity: consolidateAfter: node 2, inside its window, receives no moved pod (node 1 kept for 8 s)"
	else bad "parity: consolidateAfter: node 2 inside its window receives no moved pod" "n1 '$N1' n2 '$N2' $(K get pods,nodes -o wide 2>&1 | tail -n 5)"; fi
	# once node 2's window has passed, a moves there and node 1 goes
	if pa_until 40 pa_gone "node/$N1"; then ok "parity: consolidateAfter: after node 2's window, node 1 is consolidated away"
	else bad "parity: consolidateAfter: after node 2's window, node 1 is consolidated away" "$(K get nodes,nodeclaims 2>&1 | tail -n 4)"; fi
	# ---- 4. the simulated cloud has subnets in three zones: a zone spread uses those only
	cat >"$TMP/pa-spread.yaml" <<'EOF2'
apiVersion: apps/v1
kind: Deployment
metadata: {name: spread}
spec:
  replicas: 4
  selector: {matchLabels: {app: spread}}
  template:
    metadata: {labels: {app: spread}}
    spec:
      nodeSelector: {pool: anyct}
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: spread}}}
      containers:
      - {name: app, image: registry.k8s.io/pause:3.9, resources: {requests: {cpu: 1500m, memory: 256Mi}}}
EOF2
	pa_spread_running() {
		[ "$(K get pods -l app=spread -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.metadata.name}{"\n"}{end}' 2>/dev/null | grep -c .)" -eq 4 ]
	}
	K apply -f "$TMP/pa-spread.yaml" >/dev/null 2>&1
	if pa_until 60 pa_spread_running; then ok "parity: subnets: 4 zone-spread replicas run"
	else bad "parity: subnets: 4 zone-spread replicas run" "$(K get pods -l app=spread -o wide 2>&1 | tail -n 5)"; fi
	zones=$(for n in $(K get pods -l app=spread -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' 2>/dev/null); do
		K get node "$n" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}{"\n"}' 2>/dev/null; done | sort -u | tr '\n' ' ')
	if [ "$zones" = "us-east-1a us-east-1b us-east-1c " ]; then ok "parity: subnets: the spread uses the three subnet zones only ($zones)"
	else bad "parity: subnets: the spread uses the three subnet zones only" "zones '$zones'"; fi
	K delete deployment spread >/dev/null 2>&1
	# a class's subnetSelectorTerms choose among them: subnet-us-east-1b by id
	cat >"$TMP/pa-subnet.yaml" <<'EOF2'
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: only-1b}
spec:
  role: KarpenterNodeRole-e2e
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{id: subnet-us-east-1b}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: e2e}}]
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: only-1b}
spec:
  template:
    metadata: {labels: {pool: only-1b}}
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: only-1b}
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [m5, c5]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: only-1b}
spec:
  replicas: 1
  selector: {matchLabels: {app: only-1b}}
  template:
    metadata: {labels: {app: only-1b}}
    spec:
      nodeSelector: {pool: only-1b}
      containers:
      - {name: app, image: registry.k8s.io/pause:3.9, resources: {requests: {cpu: 500m, memory: 256Mi}}}
EOF2
	K apply -f "$TMP/pa-subnet.yaml" >/dev/null 2>&1
	if pa_until 60 pa_has_running app=only-1b; then
		z=$(K get node "$(pa_running_on app=only-1b)" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}' 2>/dev/null)
		if [ "$z" = us-east-1b ]; then ok "parity: subnets: a class selecting subnet-us-east-1b launches there"
		else bad "parity: subnets: a class selecting subnet-us-east-1b launches there" "zone '$z'"; fi
	else bad "parity: subnets: a class selecting subnet-us-east-1b launches there" "$(K get pods,nodeclaims -o wide 2>&1 | tail -n 4)"; fi
	st=$(K get ec2nodeclass only-1b -o jsonpath='{.status.subnets[*].id} {.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)
	if [ "$st" = "subnet-us-east-1b True" ]; then ok "parity: subnets: the class's status lists its one subnet, Ready"
	else bad "parity: subnets: the class's status lists its one subnet, Ready" "'$st'"; fi
	stop_server "$SPA" >/dev/null
else
	bad "parity: karpenter up starts"
fi
# ---- 5. node repair (--feature-gates NodeRepair=true): an unhealthy node is replaced
PORT=$(free_port)
D=$TMP/parity-repair
if start_server "$D" "$PORT" FEATURE_GATES=NodeRepair=true KARPENTER_NODE_REPAIR_TOLERATION=2s; then
	SPR=$SPID
	KC=$D/kubeconfig
	K apply -f "$TMP/pa-pool.yaml" >/dev/null 2>&1
	if pa_until 60 pa_has_running app=anyct; then ok "parity: repair: a pod runs on a new node"
	else bad "parity: repair: a pod runs on a new node" "$(K get pods,nodeclaims -o wide 2>&1 | tail -n 4)"; fi
	RN=$(pa_running_on app=anyct)
	RC=$(K get nodeclaims -o jsonpath="{range .items[?(@.status.nodeName==\"$RN\")]}{.metadata.name}{end}" 2>/dev/null)
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	K patch node "$RN" --subresource=status --type=merge \
		-p "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"KubeletDown\",\"lastTransitionTime\":\"$now\",\"lastHeartbeatTime\":\"$now\"}]}}" >/dev/null 2>&1
	if [ -n "$RC" ] && pa_until 40 pa_gone "nodeclaim/$RC"; then ok "parity: repair: the unhealthy node's NodeClaim is deleted after the toleration"
	else bad "parity: repair: the unhealthy node's NodeClaim is deleted" "claim '$RC' $(K get nodes,nodeclaims -o wide 2>&1 | tail -n 4)"; fi
	pa_new_node() { n=$(pa_running_on app=anyct); [ -n "$n" ] && [ "$n" != "$RN" ]; }
	if pa_until 60 pa_new_node; then ok "parity: repair: the pod runs again on a new node"
	else bad "parity: repair: the pod runs again on a new node" "$(K get pods,nodes -o wide 2>&1 | tail -n 4)"; fi
	out=$(K logs -n karpenter karpenter-0 2>&1)
	if printf '%s\n' "$out" | grep '"message":"deleting unhealthy nodeclaim"' | grep -q "\"$RC\""; then ok "parity: repair: the log names the unhealthy NodeClaim"
	else bad "parity: repair: the log names the unhealthy NodeClaim" "$(printf '%s\n' "$out" | grep -i unhealthy | tail -n 2)"; fi
	if K get events -A 2>/dev/null | grep -q NodeRepair; then ok "parity: repair: a NodeRepair event"
	else bad "parity: repair: a NodeRepair event" "$(K get events -A 2>&1 | tail -n 3)"; fi
	# the AWS provider's node-monitoring-agent conditions are repair policies too
	RN2=$(pa_running_on app=anyct)
	RC2=$(K get nodeclaims -o jsonpath="{range .items[?(@.status.nodeName==\"$RN2\")]}{.metadata.name}{end}" 2>/dev/null)
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	K patch node "$RN2" --subresource=status --type=merge \
		-p "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"lastTransitionTime\":\"$now\",\"lastHeartbeatTime\":\"$now\"},{\"type\":\"KernelReady\",\"status\":\"False\",\"reason\":\"KernelBug\",\"lastTransitionTime\":\"$now\",\"lastHeartbeatTime\":\"$now\"}]}}" >/dev/null 2>&1
	if [ -n "$RC2" ] && [ "$RC2" != "$RC" ] && pa_until 40 pa_gone "nodeclaim/$RC2"; then ok "parity: repair: KernelReady False (node monitoring agent) is repaired too"
	else bad "parity: repair: KernelReady False is repaired too" "claim '$RC2' $(K get nodes,nodeclaims -o wide 2>&1 | tail -n 4)"; fi
	if K logs -n karpenter karpenter-0 2>/dev/null | grep '"message":"deleting unhealthy nodeclaim"' | grep "\"$RC2\"" | grep -q '"condition":"KernelReady"'; then
		ok "parity: repair: the log names the KernelReady condition"
	else bad "parity: repair: the log names the KernelReady condition" "$(K logs -n karpenter karpenter-0 2>&1 | grep -i unhealthy | tail -n 2)"; fi
	stop_server "$SPR" >/dev/null
else
	bad "parity: karpenter up (NodeRepair) starts"
fi
# ---- 6. capacity reservations: the simulated cloud counts them down; the
# claim holding one is pinned to reserved, the next one launches spot
cat >"$TMP/pa-resv.json" <<'EOF2'
[{"name": "small-2x", "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
  "offerings": [
    {"zone": "test-zone-a", "capacityType": "reserved", "price": 0.1, "reservationCapacity": 1},
    {"zone": "test-zone-a", "capacityType": "spot", "price": 0.04},
    {"zone": "test-zone-b", "capacityType": "spot", "price": 0.05},
    {"zone": "test-zone-a", "capacityType": "on-demand", "price": 0.1}]}]
EOF2
PORT=$(free_port)
D=$TMP/parity-resv
"$BIN" up --listen "127.0.0.1:$PORT" --data-dir "$D" --launch-delay 0s --catalog "$TMP/pa-resv.json" >"$D.log" 2>&1 &
SPV=$!
PIDS="$PIDS $SPV"
KC=$D/kubeconfig
pa_ready() { [ -f "$KC" ] && curl -sk -o /dev/null "https://127.0.0.1:$PORT/readyz"; }
if pa_until 20 pa_ready; then
	cat >"$TMP/pa-resv.yaml" <<'EOF2'
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  role: KarpenterNodeRole-e2e
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: e2e}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: e2e}}]
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: resv}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements: []
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: resv}
spec:
  replicas: 2
  selector: {matchLabels: {app: resv}}
  template:
    metadata: {labels: {app: resv}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: resv}}}
      containers:
      - {name: app, image: registry.k8s.io/pause:3.9, resources: {requests: {cpu: 1500m, memory: 256Mi}}}
EOF2
	pa_two_running() {
		[ "$(K get pods -l app=resv -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.metadata.name}{"\n"}{end}' 2>/dev/null | grep -c .)" -eq 2 ]
	}
	K apply -f "$TMP/pa-resv.yaml" >/dev/null 2>&1
	if pa_until 60 pa_two_running; then ok "parity: reservations: both pods run"
	else bad "parity: reservations: both pods run" "$(K get pods,nodeclaims -o wide 2>&1 | tail -n 4)"; fi
	cts=$(K get nodes -o jsonpath='{range .items[*]}{.metadata.labels.karpenter\.sh/capacity-type}{"\n"}{end}' 2>/dev/null | sort | tr '\n' ' ')
	if [ "$cts" = "reserved spot " ]; then ok "parity: reservations: one node on the reservation of 1, the other spot"
	else bad "parity: reservations: one node on the reservation of 1, the other spot" "'$cts'"; fi
	req=$(K get nodeclaims -o jsonpath='{range .items[?(@.metadata.labels.karpenter\.sh/capacity-type=="reserved")]}{.spec.requirements[?(@.key=="karpenter.sh/capacity-type")].values}{end}' 2>/dev/null)
	if [ "$req" = '["reserved"]' ]; then ok "parity: reservations: the reserved NodeClaim is pinned to reserved"
	else bad "parity: reservations: the reserved NodeClaim is pinned to reserved" "'$req'"; fi
	stop_server "$SPV" >/dev/null
else
	bad "parity: karpenter up --catalog (reservations) starts" "$(tail -n 5 "$D.log")"
fi
echo "parity: $pa_skipped skipped"
