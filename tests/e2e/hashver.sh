# tests/e2e/hashver.sh: the NodePool hash controller after a hash-version
# change (Karpenter's nodepool/hash updateNodeClaimHash) on `karpenter up`
# with the simulated cloud. Two NodeClaims of a pool carry Karpenter's
# karpenter.sh/nodepool-hash-version (v3, ours is kc-v1) and a hash that is
# not ours, as after a take-over; one of them is already Drifted. When the
# pool's own hash-version annotation is Karpenter's too, the controller
# rewrites the claims before the pool: the plain claim gets the pool's hash
# and the current version and no Drifted condition, the drifted one keeps
# its hash and gets the version.
# With the current version on both sides, a hash that differs is drift.
# Sourced by tests/e2e/run (uses its start_server, stop_server, free_port,
# K, ok, bad, TMP); starts and stops its own server. Every wait is bounded.

hv_until() {   # hv_until SECONDS CMD...: retries CMD every 0.2 s
	t=$(($1 * 5)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; t=$((t - 1)); done
	return 1
}
hv_ann() {   # hv_ann KIND/NAME: "<hash> <hash-version>"
	K get "$1" -o jsonpath='{.metadata.annotations.karpenter\.sh/nodepool-hash} {.metadata.annotations.karpenter\.sh/nodepool-hash-version}' 2>/dev/null
}
hv_drifted() { K get nodeclaim "$1" -o jsonpath='{.status.conditions[?(@.type=="Drifted")].status}' 2>/dev/null; }

PORT=$(free_port)
D=$TMP/hashver
if start_server "$D" "$PORT" KARPENTER_DISRUPTION_POLL=1s; then
	SH=$SPID
	KC=$D/kubeconfig
	# budget 0: the Drifted claim is not replaced while the test looks at it
	cat >"$TMP/hv.yaml" <<'EOF2'
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: hv}
spec:
  disruption: {budgets: [{nodes: "0"}]}
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}
      - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: hv}
spec:
  replicas: 2
  selector: {matchLabels: {app: hv}}
  template:
    metadata: {labels: {app: hv}}
    spec:
      nodeSelector: {karpenter.sh/nodepool: hv}
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: pause
        ports: [{containerPort: 80, hostPort: 80}]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
EOF2
	K apply -f "$TMP/hv.yaml" >/dev/null 2>&1
	hv_two() { [ "$(K get nodeclaims -l karpenter.sh/nodepool=hv -o jsonpath='{range .items[*]}{.status.providerID}{"\n"}{end}' | grep -c .)" -eq 2 ]; }
	hv_pool_hashed() { case "$(hv_ann nodepool/hv)" in ?*" kc-v1") return 0 ;; esac; return 1; }
	if hv_until 30 hv_two && hv_until 10 hv_pool_hashed; then
		H=$(hv_ann nodepool/hv); H=${H% *}
		set -- $(K get nodeclaims -l karpenter.sh/nodepool=hv -o jsonpath='{.items[*].metadata.name}' 2>/dev/null)
		A=$1 B=$2
		for n in "$A" "$B"; do
			K annotate --overwrite nodeclaim "$n" karpenter.sh/nodepool-hash=12345 karpenter.sh/nodepool-hash-version=v3 >/dev/null 2>&1
		done
		K patch nodeclaim "$B" --subresource=status --type=json \
			-p '[{"op":"add","path":"/status/conditions/-","value":{"type":"Drifted","status":"True","reason":"NodePoolDrifted","message":"test","lastTransitionTime":"2026-01-01T00:00:00Z"}}]' >/dev/null 2>&1
		before="$(hv_ann "nodeclaim/$A")/$(hv_ann "nodeclaim/$B")/$(hv_drifted "$B")"
		# the pool as Karpenter left it
		K annotate --overwrite nodepool hv karpenter.sh/nodepool-hash-version=v3 >/dev/null 2>&1
		hv_done() { [ "$(hv_ann nodeclaim/"$A")" = "$H kc-v1" ] && [ "$(hv_ann nodepool/hv)" = "$H kc-v1" ] && [ "$(hv_ann nodeclaim/"$B")" = "12345 kc-v1" ]; }
		if [ "$before" = "12345 v3/12345 v3/True" ] && hv_until 15 hv_done && [ -z "$(hv_drifted "$A")" ] && [ "$(hv_drifted "$B")" = True ]; then
			ok "hashver: old hash-version: the claim gets the pool's hash and kc-v1, the Drifted one keeps its hash, then the pool kc-v1"
		else bad "hashver: NodeClaim hash rewrite after a hash-version change" \
			"before '$before' pool '$(hv_ann nodepool/hv)' want '$H kc-v1'; $A '$(hv_ann nodeclaim/"$A")' drifted '$(hv_drifted "$A")'; $B '$(hv_ann nodeclaim/"$B")' drifted '$(hv_drifted "$B")'"; fi
		# the same version: nothing is rewritten (the claim's hash is compared, not replaced)
		K annotate --overwrite nodeclaim "$A" karpenter.sh/nodepool-hash=999 >/dev/null 2>&1
		sleep 1
		K annotate --overwrite nodepool hv example.com/touch=1 >/dev/null 2>&1
		sleep 1
		if [ "$(hv_ann nodeclaim/"$A")" = "999 kc-v1" ]; then ok "hashver: with the current hash-version the claims' hashes are left alone"
		else bad "hashver: with the current hash-version the claims' hashes are left alone" "$A '$(hv_ann nodeclaim/"$A")'"; fi
		# ... and compared: with the budget open, the claim whose hash is not the
		# pool's (same version) is drifted (drift.go areStaticFieldsDrifted); the
		# other claim, without its Drifted condition and with the pool's hash, is not
		K annotate --overwrite nodeclaim "$B" karpenter.sh/nodepool-hash="$H" >/dev/null 2>&1
		i=$(K get nodeclaim "$B" -o json 2>/dev/null | $PY -c 'import json,sys; print([c["type"] for c in json.load(sys.stdin)["status"]["conditions"]].index("Drifted"))' 2>/dev/null)
		[ -n "$i" ] && K patch nodeclaim "$B" --subresource=status --type=json -p "[{\"op\":\"remove\",\"path\":\"/status/conditions/$i\"}]" >/dev/null 2>&1
		K patch nodepool hv --type=merge -p '{"spec":{"disruption":{"budgets":[{"nodes":"100%"}]}}}' >/dev/null 2>&1
		hv_static() { K logs -n karpenter karpenter-0 2>/dev/null | grep '"message":"disrupting node(s)"' | grep -q "NodePoolDrifted: karpenter.sh/nodepool-hash 999 differs"; }
		if hv_until 15 hv_static; then ok "hashver: a claim whose hash differs from the pool's (same hash-version) is disrupted as NodePoolDrifted"
		else bad "hashver: static drift by the NodePool hash" "$(K logs -n karpenter karpenter-0 2>/dev/null | grep -i drift | tail -n 3)"; fi
	else bad "hashver: two NodeClaims of pool hv launched and the pool hashed" \
		"$(K get nodeclaims -o wide 2>&1 | tail -n 3) pool '$(hv_ann nodepool/hv)'"; fi
	stop_server "$SH" || bad "hashver: server stops on SIGTERM"
else
	bad "hashver: start server"
fi
