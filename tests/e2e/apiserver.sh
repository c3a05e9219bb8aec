# tests/e2e/apiserver.sh: what `karpenter up` answers the way a real API
# server does for every client: field validation (Strict/Warn/Ignore, the
# upstream texts), type errors of metadata and the engine's fields (400/422),
# resourceVersion preconditions, server-side apply (kubectl, the Python
# client, @kubernetes/client-node), the built-in kinds a workload file holds,
# /openapi/v2 and Debian's kubectl 1.20. Sourced by tests/e2e/run (uses its
# start_server, stop_server, free_port, K, ok, bad, check, has, TMP, PIDS,
# PY, ROOT, E2E, skip); starts and stops its own server (controller off).
# Skips go through run's `skip ID REASON` (printed, counted; allowed under
# CI only as listed in tests/skips-allowed). Every wait is bounded.

# a_call METHOD PATH BODY [CONTENT-TYPE]: body, then the HTTP status on the last line
a_call() {
	curl -sk -m 20 -w '\n%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
		-H "Content-Type: ${4:-application/json}" --data "$3" "https://127.0.0.1:$PORT$2"
}
# a_expect NAME CODE TEXT METHOD PATH BODY: the call answers CODE and its body holds TEXT
a_expect() {
	a_n=$1; a_c=$2; a_t=$3; shift 3
	a_out=$(a_call "$@")
	if [ "$(printf '%s' "$a_out" | tail -n 1)" = "$a_c" ] && has "$a_out" "$a_t"; then ok "$a_n"
	else bad "$a_n" "$(printf '%s' "$a_out" | tail -n 3)"; fi
}

PORT=$(free_port)
D=$TMP/apisrv
if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off; then
	AS=$SPID
	KC=$D/kubeconfig
	TOKEN=$(cat "$D/token")
	NS=/api/v1/namespaces/default

	# ---- field validation: Strict (kubectl's default), Ignore (--validate=false), Warn
	cat >"$TMP/np-bad.yaml" <<'EOF'
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: misplaced}
spec:
  disruption:
    expireAfter: 24h
    consolidateafter: 1m
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: kubernetes.io/arch, operator: In, values: [amd64]}
EOF
	out=$(K apply -f "$TMP/np-bad.yaml" 2>&1)
	if has "$out" 'NodePool in version "v1" cannot be handled as a NodePool: strict decoding error:' &&
		has "$out" 'unknown field "spec.disruption.expireAfter"' &&
		has "$out" 'unknown field "spec.disruption.consolidateafter"'; then
		ok "strict validation rejects v1beta1 expireAfter and consolidateafter in a v1 NodePool"
	else bad "strict validation rejects v1beta1 expireAfter and consolidateafter in a v1 NodePool" "$out"; fi
	out=$(K get nodepool misplaced 2>&1)
	if has "$out" NotFound; then ok "rejected NodePool not stored"; else bad "rejected NodePool not stored" "$out"; fi
	out=$(K apply --validate=false -f "$TMP/np-bad.yaml" 2>&1 &&
		K get nodepool misplaced -o jsonpath='[{.spec.disruption.expireAfter}|{.spec.disruption.consolidateafter}|{.spec.disruption.consolidateAfter}]' 2>&1)
	if has "$out" 'created' && has "$out" '[||0s]'; then ok "fieldValidation=Ignore prunes the unknown fields (defaults fill in)"
	else bad "fieldValidation=Ignore prunes the unknown fields (defaults fill in)" "$out"; fi
	out=$(curl -sk -m 20 -D - -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"warned","lables":{"a":"b"}},"data":{"a":"b"},"extra":1}' \
		"https://127.0.0.1:$PORT$NS/configmaps?fieldValidation=Warn")
	if has "$out" ' 201' && has "$out" 'Warning: 299 - "unknown field \"metadata.lables\""'; then
		ok "fieldValidation=Warn stores and answers Warning headers"; else bad "fieldValidation=Warn stores and answers Warning headers" "$out"; fi
	a_expect "unknown fieldValidation value -> 400" 400 'fieldValidation must be one of' \
		POST "$NS/configmaps?fieldValidation=strict" '{"metadata":{"name":"x"}}'
	cat >"$TMP/dep-typo.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
  lables: {app: typo}
spec:
  selector: {matchLabels: {app: typo}}
  template:
    metadata: {labels: {app: typo}}
    spec:
      containers: [{name: c, image: nginx}]
EOF
	out=$(K apply -f "$TMP/dep-typo.yaml" 2>&1)
	if has "$out" 'strict decoding error: unknown field "metadata.lables"'; then ok "strict validation of a built-in kind's metadata"
	else bad "strict validation of a built-in kind's metadata" "$out"; fi

	# ---- wrongly typed metadata and engine fields: 400 with encoding/json's text
	P='{"apiVersion":"v1","kind":"Pod","metadata":{"name":"t"'
	C='"spec":{"containers":[{"name":"c","image":"i"}]'
	a_expect "labels {a: 5} -> 400" 400 'json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string' \
		POST "$NS/pods" "$P,\"labels\":{\"a\":5}},$C}}"
	a_expect "labels [1] -> 400" 400 'cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string' \
		POST "$NS/pods" "$P,\"labels\":[1]},$C}}"
	a_expect "finalizers [5, null] -> 400" 400 'cannot unmarshal number into Go struct field ObjectMeta.metadata.finalizers of type string' \
		POST "$NS/pods" "$P,\"finalizers\":[5,null]},$C}}"
	a_expect "ownerReferences [{uid: 5}] -> 400" 400 'cannot unmarshal number into Go struct field OwnerReference.metadata.ownerReferences.uid of type types.UID' \
		POST "$NS/pods" "$P,\"ownerReferences\":[{\"uid\":5}]},$C}}"
	a_expect "spec.nodeName 5 -> 400" 400 'cannot be handled as a Pod: json: cannot unmarshal number into Go struct field PodSpec.spec.nodeName of type string' \
		POST "$NS/pods" "$P},$C,\"nodeName\":5}}"
	a_expect "nodeSelector {a: [1]} -> 400" 400 'cannot unmarshal array into Go struct field PodSpec.spec.nodeSelector of type string' \
		POST "$NS/pods" "$P},$C,\"nodeSelector\":{\"a\":[1]}}}"
	a_expect "tolerations of the wrong type -> 400" 400 'cannot unmarshal string into Go struct field PodSpec.spec.tolerations of type []v1.Toleration' \
		POST "$NS/pods" "$P},$C,\"tolerations\":\"x\"}}"
	a_expect "resources with a bad quantity -> 400" 400 'quantities must match the regular expression' \
		POST "$NS/pods" "$P},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"lots\"}}}]}}"
	a_expect "custom resource metadata typed too -> 400" 400 'cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string' \
		POST /apis/karpenter.sh/v1/nodepools '{"apiVersion":"karpenter.sh/v1","kind":"NodePool","metadata":{"name":"t","labels":{"a":5}},"spec":{}}'
	a_expect "a well-typed pod is created" 201 '"name":"t"' POST "$NS/pods" "$P,\"labels\":{\"a\":\"5\"},\"finalizers\":[\"x.io/y\"]},$C,\"nodeSelector\":{\"a\":\"b\"}}}"
	# ---- resourceVersion: a decimal the store issued
	CM='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"rv"'
	a_expect "a ConfigMap is created" 201 '"name":"rv"' POST "$NS/configmaps" "$CM},\"data\":{\"a\":\"1\"}}"
	RV=$(a_call GET "$NS/configmaps/rv" '' | head -n -1 | $PY -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
	for bad_rv in abc -1; do
		a_expect "PUT with resourceVersion $bad_rv -> 422" 422 "configmaps \\\"rv\\\" is invalid: resourceVersion: Invalid value: \\\"$bad_rv\\\": strconv.ParseUint: parsing \\\"$bad_rv\\\": invalid syntax" \
			PUT "$NS/configmaps/rv" "$CM,\"resourceVersion\":\"$bad_rv\"},\"data\":{\"a\":\"2\"}}"
	done
	a_expect "PATCH setting resourceVersion abc -> 422" 422 'resourceVersion: Invalid value: \"abc\"' \
		PATCH "$NS/configmaps/rv" '{"metadata":{"resourceVersion":"abc"}}' application/merge-patch+json
	a_expect "PUT with a resourceVersion never issued -> 409" 409 'the object has been modified' \
		PUT "$NS/configmaps/rv" "$CM,\"resourceVersion\":\"$((RV + 100000))\"},\"data\":{\"a\":\"2\"}}"
	a_expect "PUT with the current resourceVersion -> 200" 200 '"a":"2"' \
		PUT "$NS/configmaps/rv" "$CM,\"resourceVersion\":\"$RV\"},\"data\":{\"a\":\"2\"}}"

	# ---- server-side apply with kubectl
	cat >"$TMP/ssa1.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: ssa, namespace: default}
data: {key: one, other: x}
EOF
	sed 's/key: one/key: two/' "$TMP/ssa1.yaml" >"$TMP/ssa2.yaml"
	sed 's/key: one/key: three/' "$TMP/ssa1.yaml" >"$TMP/ssa3.yaml"
	out=$(K apply --server-side -f "$TMP/ssa1.yaml" 2>&1)
	if has "$out" 'configmap/ssa serverside-applied'; then ok "kubectl apply --server-side creates"; else bad "kubectl apply --server-side creates" "$out"; fi
	out=$(K apply --server-side -f "$TMP/ssa2.yaml" 2>&1 && K get cm ssa -o jsonpath='{.data.key} {.metadata.managedFields[0].manager} {.metadata.managedFields[0].operation}' 2>&1)
	if has "$out" 'two kubectl Apply'; then ok "kubectl apply --server-side updates, managedFields record it"
	else bad "kubectl apply --server-side updates, managedFields record it" "$out"; fi
	out=$(K apply --server-side --field-manager=other -f "$TMP/ssa3.yaml" 2>&1)
	if has "$out" 'Apply failed with 1 conflict: conflict with "kubectl": .data.key'; then
		ok "kubectl apply --server-side reports a conflict naming the manager"
	else bad "kubectl apply --server-side reports a conflict naming the manager" "$out"; fi
	out=$(K apply --server-side --field-manager=other --force-conflicts -f "$TMP/ssa3.yaml" 2>&1 && K get cm ssa -o jsonpath='{.data.key}' 2>&1)
	if has "$out" 'three'; then ok "--force-conflicts wins"; else bad "--force-conflicts wins" "$out"; fi
	out=$(K apply --server-side -f "$TMP/np-bad.yaml" 2>&1)
	if has "$out" 'unknown field "spec.disruption.expireAfter"'; then ok "server-side apply validates strictly too"
	else bad "server-side apply validates strictly too" "$out"; fi
	sed -e '/expireAfter: 24h/d' -e '/consolidateafter/d' -e 's/name: misplaced/name: applied/' "$TMP/np-bad.yaml" >"$TMP/np-ok.yaml"
	out=$(K apply --server-side -f "$TMP/np-ok.yaml" 2>&1 && K get nodepool applied -o jsonpath='{.spec.disruption.consolidationPolicy}' 2>&1)
	if has "$out" 'serverside-applied' && has "$out" 'WhenEmptyOrUnderutilized'; then ok "server-side apply of a custom resource (defaults applied)"
	else bad "server-side apply of a custom resource (defaults applied)" "$out"; fi

	# ---- server-side apply through the client libraries
	if $PY -c 'import kubernetes' 2>/dev/null; then
		out=$(timeout 60 $PY "$E2E/ssa_py.py" "$KC" 2>&1)
		if has "$out" 'created 1' && has "$out" 'updated 2 py-a' && has "$out" 'conflict 409 True' && has "$out" 'forced 3'; then
			ok "Python client server-side apply: create, update, conflict, force"
		else bad "Python client server-side apply: create, update, conflict, force" "$out"; fi
	else skip python3-kubernetes "Python client server-side apply: python3-kubernetes is not installed"; fi
	NODE_PKG=$ROOT/build/node-client/node_modules/@kubernetes/client-node
	if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
		[ -d "$NODE_PKG" ] || timeout 300 npm install --prefix "$ROOT/build/node-client" @kubernetes/client-node@1.4.0 \
			--no-audit --no-fund --loglevel=error >/dev/null 2>&1
		if [ -d "$NODE_PKG" ]; then
			out=$(timeout 60 node "$E2E/ssa_node.mjs" "$KC" "$NODE_PKG/dist/index.js" 2>&1)
			if has "$out" 'created 1' && has "$out" 'updated 2 node-a' && has "$out" 'conflict 409 true' && has "$out" 'forced 3'; then
				ok "client-node server-side apply: create, update, conflict, force"
			else bad "client-node server-side apply: create, update, conflict, force" "$out"; fi
		else bad "client-node installs with npm" "npm install @kubernetes/client-node failed"; fi
	else skip client-node-server-side-apply "npm or node is not installed"; fi

	# ---- the kinds a workload file holds, without controllers
	cat >"$TMP/workload.yaml" <<'EOF'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: c, image: busybox, command: [sleep, "1"]}]
EOF
	out=$(K apply -f "$TMP/workload.yaml" 2>&1)
	if has "$out" 'persistentvolumeclaim/data created' && has "$out" 'horizontalpodautoscaler.autoscaling/web created' &&
		has "$out" 'cronjob.batch/nightly created'; then ok "a file with PVC + HPA + CronJob applies"
	else bad "a file with PVC + HPA + CronJob applies" "$out"; fi
	cat >"$TMP/kinds.yaml" <<'EOF'
apiVersion: v1
kind: Endpoints
metadata: {name: ep}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: eps}
addressType: IPv4
endpoints: []
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv1}
spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /tmp/x}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: gp3}
provisioner: ebs.csi.aws.com
---
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata: {name: n1}
spec: {drivers: []}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny}
spec: {podSelector: {}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: l1}
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: e1}
eventTime: "2026-01-01T00:00:00.000000Z"
reportingController: x
reportingInstance: y
action: A
reason: R
EOF
	out=$(K apply -f "$TMP/kinds.yaml" 2>&1)
	n=$(printf '%s\n' "$out" | grep -c ' created$')
	if [ "$n" = 12 ]; then ok "12 more built-in kinds stored without controllers"; else bad "12 more built-in kinds stored without controllers" "$out"; fi

	# ---- /openapi/v2
	out=$(curl -sk -m 20 -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT/openapi/v2")
	if has "$out" '"swagger":"2.0"' && has "$out" '"io.k8s.api.core.v1.Pod"' && has "$out" '"#/definitions/'; then
		ok "/openapi/v2 (JSON) holds the definitions"; else bad "/openapi/v2 (JSON) holds the definitions" "$(printf '%s' "$out" | head -c 300)"; fi

	# ---- Debian's kubectl 1.20 (kubernetes-client)
	K120=""
	if kubectl version --client 2>/dev/null | grep -q 'v1\.20\.'; then K120=$(command -v kubectl)
	elif [ -x "$ROOT/build/kubectl-1.20/usr/bin/kubectl" ]; then K120=$ROOT/build/kubectl-1.20/usr/bin/kubectl
	elif command -v apt-get >/dev/null 2>&1; then
		mkdir -p "$ROOT/build/kubectl-1.20"
		(cd "$TMP" && timeout 120 apt-get download kubernetes-client >/dev/null 2>&1 &&
			dpkg -x kubernetes-client_*.deb "$ROOT/build/kubectl-1.20") && K120=$ROOT/build/kubectl-1.20/usr/bin/kubectl
	fi
	if [ -n "$K120" ] && [ -x "$K120" ]; then
		out=$(timeout 60 "$K120" --kubeconfig "$KC" apply -f "$ROOT/examples/seed/" 2>&1)
		if has "$out" 'nodepool.karpenter.sh/default created' && has "$out" 'ec2nodeclass.karpenter.k8s.aws/default created'; then
			ok "kubectl 1.20 apply -f examples/seed/"; else bad "kubectl 1.20 apply -f examples/seed/" "$out"; fi
		out=$(timeout 60 "$K120" --kubeconfig "$KC" apply -f "$TMP/workload.yaml" 2>&1 && timeout 20 "$K120" --kubeconfig "$KC" get pvc,cronjob 2>&1)
		if has "$out" 'unchanged' && has "$out" 'nightly'; then ok "kubectl 1.20 re-applies the workload file"
		else bad "kubectl 1.20 re-applies the workload file" "$out"; fi
	else skip kubectl-1.20 "kubernetes-client is neither installed nor downloadable"; fi

	stop_server "$AS" || bad "apiserver server stops on SIGTERM"
else
	bad "apiserver: server starts"
fi
