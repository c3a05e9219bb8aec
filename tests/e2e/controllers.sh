# tests/e2e/controllers.sh: the built-in controllers of `karpenter up`
# (Deployment/ReplicaSet/StatefulSet/DaemonSet/Job, scheduler, kubelet
# stand-in, the controller's log pod). Sourced by tests/e2e/run (uses its
# start_server, stop_server, K, ok, bad, check, has, TMP, PIDS); starts and
# stops its own server. Every wait is bounded.

# until_ok SECONDS CMD...: retries CMD every 0.2 s until it succeeds
until_ok() {
	t=$(($1 * 5)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; t=$((t - 1)); done
	return 1
}

PORT=$(free_port)
D=$TMP/ctl
if start_server "$D" "$PORT"; then
	SC=$SPID
	KC=$D/kubeconfig
	TOKEN=$(cat "$D/token")

	for n in n1 n2; do
		cat >"$TMP/$n.yaml" <<EON
apiVersion: v1
kind: Node
metadata:
  name: $n
  labels: {kubernetes.io/hostname: $n, kubernetes.io/os: linux}
status:
  capacity: {cpu: "4", memory: 8Gi, pods: "110"}
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
  conditions:
  - {type: Ready, status: "True"}
  addresses:
  - {type: InternalIP, address: 10.0.0.1}
EON
		K apply -f "$TMP/$n.yaml" >/dev/null 2>&1
	done
	cat >"$TMP/web.yaml" <<'EOF2'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: nginx
        resources: {requests: {cpu: 500m, memory: 256Mi}}
EOF2
	check "ctl: apply a Deployment" K apply -f "$TMP/web.yaml"
	check "ctl: wait --for=condition=Available" K wait --for=condition=Available deployment/web --timeout=20s
	out=$(K get pods -l app=web -o jsonpath='{range .items[*]}{.status.phase}/{.spec.nodeName}/{.status.podIP} {end}' 2>&1)
	if [ "$(printf '%s' "$out" | grep -o 'Running/n[12]/10\.' | wc -l)" -eq 3 ]; then ok "ctl: 3 pods Running on the nodes with podIPs"
	else bad "ctl: 3 pods Running on the nodes with podIPs" "$out"; fi
	out=$(K get rs -l app=web -o jsonpath='{.items[0].metadata.labels.pod-template-hash} {.items[0].metadata.ownerReferences[0].kind} {.items[0].metadata.ownerReferences[0].controller} {.items[0].status.readyReplicas}' 2>&1)
	if printf '%s' "$out" | grep -Eq '^[a-z0-9]+ Deployment true 3$'; then ok "ctl: ReplicaSet with pod-template-hash, controller ownerReference, status"
	else bad "ctl: ReplicaSet with pod-template-hash, controller ownerReference, status" "$out"; fi
	out=$(K get deploy web 2>&1)
	if printf '%s' "$out" | grep -Eq 'web +3/3 +3 +3'; then ok "ctl: kubectl get deploy shows 3/3 up-to-date available"
	else bad "ctl: kubectl get deploy shows 3/3 up-to-date available" "$out"; fi
	out=$(K get pod -l app=web -o jsonpath='{.items[0].status.conditions[?(@.type=="Ready")].status} {.items[0].status.containerStatuses[0].ready} {.items[0].status.hostIP} {.items[0].metadata.generateName}' 2>&1)
	if printf '%s' "$out" | grep -Eq '^True true 10\.0\.0\.1 web-[a-z0-9]+-$'; then ok "ctl: pod conditions, containerStatuses, hostIP, generateName"
	else bad "ctl: pod conditions, containerStatuses, hostIP, generateName" "$out"; fi

	# a template change rolls out a new ReplicaSet
	K set image deployment/web c=nginx:2 >/dev/null 2>&1
	if until_ok 15 sh -c "[ \"\$(timeout 10 kubectl --kubeconfig '$KC' get pods -l app=web -o jsonpath='{range .items[*]}{.spec.containers[0].image} {.status.phase}{\"\\n\"}{end}' | grep -c 'nginx:2 Running')\" = 3 ] && [ \"\$(timeout 10 kubectl --kubeconfig '$KC' get pods -l app=web -o name | wc -l)\" = 3 ]"; then
		ok "ctl: template change rolls out a new ReplicaSet"
	else bad "ctl: template change rolls out a new ReplicaSet" "$(K get rs,pods -l app=web 2>&1)"; fi

	check "ctl: scale deployment to 0" K scale deployment web --replicas=0
	if until_ok 15 sh -c "[ -z \"\$(timeout 10 kubectl --kubeconfig '$KC' get pods -l app=web -o name)\" ]"; then ok "ctl: scale to 0 removes the pods"
	else bad "ctl: scale to 0 removes the pods" "$(K get pods -l app=web 2>&1)"; fi
	K scale deployment web --replicas=2 >/dev/null 2>&1
	until_ok 15 sh -c "[ \"\$(timeout 10 kubectl --kubeconfig '$KC' get pods -l app=web -o name | wc -l)\" = 2 ]"
	check "ctl: delete a Deployment" K delete deployment web --timeout=15s
	if until_ok 15 sh -c "[ -z \"\$(timeout 10 kubectl --kubeconfig '$KC' get rs,pods -l app=web -o name)\" ]"; then ok "ctl: deleting a Deployment removes its ReplicaSets and pods"
	else bad "ctl: deleting a Deployment removes its ReplicaSets and pods" "$(K get rs,pods -l app=web 2>&1)"; fi

	# the scheduler reports what does not fit
	K run big --image=nginx --overrides='{"spec":{"containers":[{"name":"big","image":"nginx","resources":{"requests":{"cpu":"64"}}}]}}' >/dev/null 2>&1
	if until_ok 10 sh -c "timeout 10 kubectl --kubeconfig '$KC' get pod big -o jsonpath='{.status.conditions[?(@.type==\"PodScheduled\")].reason}' | grep -qx Unschedulable"; then
		out=$(K get pod big -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].status} {.status.conditions[?(@.type=="PodScheduled")].message}' 2>&1)
		if [ "$out" = "False 0/2 nodes are available: 2 Insufficient cpu." ]; then ok "ctl: too-big pod -> PodScheduled=False Unschedulable with the scheduler's message"
		else bad "ctl: too-big pod -> PodScheduled=False Unschedulable with the scheduler's message" "$out"; fi
	else bad "ctl: too-big pod -> PodScheduled=False Unschedulable" "$(K get pod big -o yaml 2>&1 | tail -n 12)"; fi
	K delete pod big --wait=false >/dev/null 2>&1
	K run sel --image=nginx --overrides='{"spec":{"nodeSelector":{"kubernetes.io/hostname":"n2"}}}' >/dev/null 2>&1
	if until_ok 10 sh -c "[ \"\$(timeout 10 kubectl --kubeconfig '$KC' get pod sel -o jsonpath='{.spec.nodeName} {.status.phase}')\" = 'n2 Running' ]"; then ok "ctl: nodeSelector respected"
	else bad "ctl: nodeSelector respected" "$(K get pod sel -o wide 2>&1)"; fi

	# DaemonSet: one pod per node, pinned
	cat >"$TMP/ds.yaml" <<'EOF2'
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: a, image: busybox}]
EOF2
	K apply -f "$TMP/ds.yaml" >/dev/null 2>&1
	if until_ok 10 sh -c "[ \"\$(timeout 10 kubectl --kubeconfig '$KC' get pods -l app=agent -o jsonpath='{range .items[*]}{.spec.nodeName}/{.status.phase}{\"\\n\"}{end}' | sort | tr '\\n' ' ')\" = 'n1/Running n2/Running ' ]"; then
		ok "ctl: DaemonSet pod Running on each node"
	else bad "ctl: DaemonSet pod Running on each node" "$(K get pods -l app=agent -o wide 2>&1)"; fi

	# StatefulSet: ordinal names
	cat >"$TMP/ss.yaml" <<'EOF2'
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: d, image: postgres}]
EOF2
	K apply -f "$TMP/ss.yaml" >/dev/null 2>&1
	if until_ok 10 sh -c "[ \"\$(timeout 10 kubectl --kubeconfig '$KC' get pods -l app=db -o jsonpath='{range .items[*]}{.metadata.name}/{.status.phase} {end}')\" = 'db-0/Running db-1/Running ' ]"; then
		ok "ctl: StatefulSet pods db-0, db-1 Running"
	else bad "ctl: StatefulSet pods db-0, db-1 Running" "$(K get pods -l app=db 2>&1)"; fi

	# Job: parallelism pods (they stay Running)
	printf 'apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  parallelism: 2\n  completions: 4\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: j, image: busybox}]\n' >"$TMP/job.yaml"
	K apply -f "$TMP/job.yaml" >/dev/null 2>&1
	if until_ok 10 sh -c "[ \"\$(timeout 10 kubectl --kubeconfig '$KC' get pods -l job-name=j -o jsonpath='{range .items[*]}{.status.phase} {end}')\" = 'Running Running ' ] && [ \"\$(timeout 10 kubectl --kubeconfig '$KC' get job j -o jsonpath='{.status.active}')\" = 2 ]"; then
		ok "ctl: Job runs parallelism pods"
	else bad "ctl: Job runs parallelism pods" "$(K get pods -l job-name=j 2>&1; K get job j -o jsonpath='{.status}' 2>&1)"; fi

	# the controller's log pod
	out=$(K logs -n karpenter -l app.kubernetes.io/name=karpenter 2>&1)
	if has "$out" "started the local control plane"; then ok "ctl: kubectl logs of the karpenter pod"
	else bad "ctl: kubectl logs of the karpenter pod" "$out"; fi
	out=$(K logs -n karpenter karpenter-0 --tail=2 2>&1)
	if [ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] && has "$(K logs -n karpenter karpenter-0 2>&1)" "$(printf '%s\n' "$out" | head -n 1)"; then ok "ctl: kubectl logs --tail=2"
	else bad "ctl: kubectl logs --tail=2" "$out"; fi
	out=$(timeout 3 kubectl --kubeconfig "$KC" logs -f -n karpenter karpenter-0 2>&1)
	if has "$out" "controllers running"; then ok "ctl: kubectl logs -f streams the log"
	else bad "ctl: kubectl logs -f streams the log" "$out"; fi

	if stop_server "$SC"; then ok "ctl: server with controllers stops cleanly"; else bad "ctl: server with controllers stops cleanly" "$(tail -n 5 "$D.log")"; fi
else
	bad "ctl: start server"
fi
