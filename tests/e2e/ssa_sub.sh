# tests/e2e/ssa_sub.sh: server-side apply to subresources, as kube-apiserver
# does it: `kubectl apply --server-side --subresource=status` owns status
# fields only (the rest of the manifest is ignored), under a managedFields
# entry with `subresource: status`; conflicts name that manager; PATCH
# .../scale with an applied autoscaling/v1 Scale sets the parent's
# spec.replicas, owned under `subresource: scale`; plain status writes are
# recorded as Update entries of the status subresource.
# Sourced by tests/e2e/run (uses its start_server, stop_server, free_port, K,
# ok, bad, check, has, TMP, PIDS, PY); starts and stops its own server
# without the Karpenter controller. Every wait is bounded.

# sb_apply PATH MANAGER BODY [force]: PATCH with application/apply-patch+yaml; body, then the HTTP code
sb_apply() {
	curl -sk -m 20 -w '\n%{http_code}' -X PATCH -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/apply-patch+yaml' --data-binary "$3" \
		"https://127.0.0.1:$PORT$1?fieldManager=$2${4:+&force=true}"
}
# sb_mf RESOURCE: "manager/operation/subresource=fields" per managedFields entry, sorted
sb_mf() {
	K get "$1" -o json --show-managed-fields 2>/dev/null | $PY -c 'import json,sys
d=json.load(sys.stdin)
print(" ".join(sorted("%s/%s/%s=%s" % (e["manager"], e["operation"], e.get("subresource","-"), ",".join(sorted(e.get("fieldsV1",{})))) for e in d["metadata"].get("managedFields",[]))))'
}

SB_T0=$(date +%s)
PORT=$(free_port)
D=$TMP/ssasub
if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off; then
	SS=$SPID
	KC=$D/kubeconfig
	TOKEN=$(cat "$D/token")

	# ---- status: kubectl apply --server-side --subresource=status
	cat >"$TMP/sb-svc.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec:
  type: LoadBalancer
  ports: [{port: 80}]
EOF
	check "ssa-sub: kubectl apply --server-side a Service" K apply --server-side -f "$TMP/sb-svc.yaml"
	cat >"$TMP/sb-svc-status.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default, labels: {ignored: "yes"}}
spec:
  type: LoadBalancer
  ports: [{port: 8080}]
status:
  loadBalancer:
    ingress: [{ip: 192.0.2.10}]
EOF
	out=$(K apply --server-side --subresource=status --field-manager=lb-ctl -f "$TMP/sb-svc-status.yaml" 2>&1)
	if has "$out" "serverside-applied"; then ok "ssa-sub: kubectl apply --server-side --subresource=status"
	else bad "ssa-sub: kubectl apply --server-side --subresource=status" "$out"; fi
	out=$(K get service lb -o jsonpath='{.status.loadBalancer.ingress[0].ip} {.spec.ports[0].port} {.metadata.labels.ignored}' 2>&1)
	if [ "$out" = "192.0.2.10 80 " ]; then ok "ssa-sub: the status apply set status only (spec and labels untouched)"
	else bad "ssa-sub: the status apply set status only" "$out"; fi
	out=$(sb_mf service/lb)
	if has "$out" "lb-ctl/Apply/status=f:status" && has "$out" "kubectl/Apply/-=f:spec" && ! has "$out" "lb-ctl/Apply/status=f:metadata"
	then ok "ssa-sub: managedFields: lb-ctl owns status under subresource status ($out)"
	else bad "ssa-sub: managedFields: lb-ctl owns status under subresource status" "$out"; fi
	sed 's/192.0.2.10/192.0.2.11/' "$TMP/sb-svc-status.yaml" >"$TMP/sb-svc-status2.yaml"
	out=$(K apply --server-side --subresource=status --field-manager=lb-other -f "$TMP/sb-svc-status2.yaml" 2>&1)
	if has "$out" 'conflict with "lb-ctl" with subresource "status"' && has "$out" '.status.loadBalancer.ingress'
	then ok "ssa-sub: a second status applier gets a conflict naming lb-ctl and its subresource"
	else bad "ssa-sub: a second status applier gets a conflict naming lb-ctl" "$out"; fi
	check "ssa-sub: --force-conflicts takes the status field over" K apply --server-side --subresource=status --field-manager=lb-other --force-conflicts -f "$TMP/sb-svc-status2.yaml"
	out=$(K get service lb -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>&1)
	mf=$(sb_mf service/lb)
	if [ "$out" = 192.0.2.11 ] && has "$mf" "lb-other/Apply/status=f:status" && ! has "$mf" "lb-ctl/"; then ok "ssa-sub: forced: new value, lb-other owns it, lb-ctl's entry is gone"
	else bad "ssa-sub: forced status apply" "$out / $mf"; fi
	out=$(K apply --server-side -f "$TMP/sb-svc-status.yaml" 2>&1; K get service lb -o jsonpath='{.status.loadBalancer.ingress[0].ip} {.spec.ports[0].port}' 2>&1)
	if has "$out" "192.0.2.11 8080"; then ok "ssa-sub: an apply to the object itself ignores status"
	else bad "ssa-sub: an apply to the object itself ignores status" "$out"; fi
	K patch service lb --subresource=status --type=merge --field-manager=patcher -p '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Ok","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}' >/dev/null 2>&1
	out=$(sb_mf service/lb)
	if has "$out" "patcher/Update/status=f:status"; then ok "ssa-sub: a status patch is recorded as an Update of subresource status ($out)"
	else bad "ssa-sub: a status patch is recorded as an Update of subresource status" "$out"; fi

	# ---- status apply on a custom resource's status subresource
	cat >"$TMP/sb-crd.yaml" <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {replicas: {type: integer}, size: {type: string}}}
          status: {type: object, properties: {replicas: {type: integer}, phase: {type: string}}}
EOF
	K apply -f "$TMP/sb-crd.yaml" >/dev/null 2>&1
	K wait --for=condition=Established crd/gadgets.example.com --timeout=10s >/dev/null 2>&1
	printf 'apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g1, namespace: default}\nspec: {replicas: 1, size: s}\n' >"$TMP/sb-g1.yaml"
	K apply --server-side -f "$TMP/sb-g1.yaml" >/dev/null 2>&1
	printf 'apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g1, namespace: default}\nspec: {size: ignored}\nstatus: {phase: Ready, replicas: 1}\n' >"$TMP/sb-g1s.yaml"
	out=$(K apply --server-side --subresource=status --field-manager=gadget-ctl -f "$TMP/sb-g1s.yaml" 2>&1; K get gadget g1 -o jsonpath='{.status.phase} {.spec.size}' 2>&1)
	if has "$out" "Ready s"; then ok "ssa-sub: status apply on a custom resource"
	else bad "ssa-sub: status apply on a custom resource" "$out"; fi

	# ---- scale: PATCH .../scale with an applied autoscaling/v1 Scale
	cat >"$TMP/sb-dep.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: sc, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: sc}}
  template:
    metadata: {labels: {app: sc}}
    spec: {containers: [{name: c, image: nginx}]}
EOF
	K apply --server-side -f "$TMP/sb-dep.yaml" >/dev/null 2>&1
	SCALE='{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"sc","namespace":"default"},"spec":{"replicas":4}}'
	out=$(sb_apply /apis/apps/v1/namespaces/default/deployments/sc/scale scaler "$SCALE")
	if [ "$(printf '%s' "$out" | tail -n 1)" = 409 ] && has "$out" 'conflict with \"kubectl\"' && has "$out" '.spec.replicas'
	then ok "ssa-sub: a scale apply conflicts with the manager of spec.replicas (409)"
	else bad "ssa-sub: a scale apply conflicts with the manager of spec.replicas (409)" "$out"; fi
	out=$(sb_apply /apis/apps/v1/namespaces/default/deployments/sc/scale scaler "$SCALE" force)
	if [ "$(printf '%s' "$out" | tail -n 1)" = 200 ] && has "$out" '"kind":"Scale"' && has "$out" '"replicas":4'
	then ok "ssa-sub: a forced scale apply answers the Scale"
	else bad "ssa-sub: a forced scale apply answers the Scale" "$out"; fi
	out=$(K get deployment sc -o jsonpath='{.spec.replicas}' 2>&1)
	mf=$(sb_mf deployment/sc)
	if [ "$out" = 4 ] && has "$mf" "scaler/Apply/scale=f:spec"; then ok "ssa-sub: spec.replicas 4, owned by scaler under subresource scale ($mf)"
	else bad "ssa-sub: spec.replicas owned by scaler under subresource scale" "$out / $mf"; fi
	out=$(K get deployment sc -o json --show-managed-fields 2>/dev/null | $PY -c 'import json,sys
d=json.load(sys.stdin)
e=[e for e in d["metadata"]["managedFields"] if e["manager"]=="kubectl"][0]
print("f:replicas" in e["fieldsV1"]["f:spec"], [x["apiVersion"] for x in d["metadata"]["managedFields"] if x["manager"]=="scaler"])' 2>&1)
	if [ "$out" = "False ['apps/v1']" ]; then ok "ssa-sub: kubectl no longer owns spec.replicas; the scale entry is recorded in apps/v1"
	else bad "ssa-sub: kubectl no longer owns spec.replicas" "$out"; fi
	out=$(sb_apply /apis/apps/v1/namespaces/default/deployments/sc/scale scaler "$(printf '%s' "$SCALE" | sed 's/autoscaling\/v1/apps\/v1/')")
	if [ "$(printf '%s' "$out" | tail -n 1)" = 400 ] && has "$out" 'Incorrect version specified in apply patch'; then ok "ssa-sub: a scale apply that is not a Scale -> 400"
	else bad "ssa-sub: a scale apply that is not a Scale -> 400" "$out"; fi
	out=$(sb_apply /apis/apps/v1/namespaces/default/deployments/nope/scale scaler "$(printf '%s' "$SCALE" | sed 's/"sc"/"nope"/')")
	if [ "$(printf '%s' "$out" | tail -n 1)" = 404 ]; then ok "ssa-sub: a subresource apply to a missing object -> 404"
	else bad "ssa-sub: a subresource apply to a missing object -> 404" "$out"; fi
	out=$(sb_apply /apis/example.com/v1/namespaces/default/gadgets/g1/scale scaler '{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"g1"},"spec":{"replicas":3}}' force)
	if [ "$(printf '%s' "$out" | tail -n 1)" = 200 ] && [ "$(K get gadget g1 -o jsonpath='{.spec.replicas} {.spec.size}' 2>&1)" = "3 s" ]
	then ok "ssa-sub: scale apply on a custom resource"
	else bad "ssa-sub: scale apply on a custom resource" "$out"; fi

	if stop_server "$SS"; then ok "ssa-sub: server stops cleanly"; else bad "ssa-sub: server stops cleanly" "$(tail -n 5 "$D.log")"; fi
	echo "ssa-sub: $(($(date +%s) - SB_T0)) s"
else
	bad "ssa-sub: start server"
fi
