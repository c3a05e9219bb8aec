# tests/e2e/cost.sh: cost packing in `karpenter up --packing cost` (issue 12).
# Sourced by tests/e2e/run (uses its stop_server, free_port, K, ok, bad, has,
# TMP, PIDS, BIN, PY); starts and stops its own servers. Every wait is bounded.
#
# The same burst of mixed pods (3 x 30 cpu / 120Gi, 6 x 6 cpu / 24Gi,
# 10 x 1 cpu / 2Gi) under an on-demand amd64/arm64 NodePool goes to a fresh
# `karpenter up` twice, once per packing mode. Once every pod runs, the
# NodeClaims' hourly prices (their instance type, zone and capacity type
# priced with `karpenter catalog`) must add up to less in cost mode.

# cs_start DIR PORT PACKING: `karpenter up --packing PACKING`, bounded wait for /readyz
cs_start() {
	"$BIN" up --listen "127.0.0.1:$2" --data-dir "$1" --launch-delay 0s --packing "$3" >"$1.log" 2>&1 &
	SPID=$!
	PIDS="$PIDS $SPID"
	cs_i=0
	while [ $cs_i -lt 100 ]; do
		if [ -f "$1/kubeconfig" ] && curl -sk -o /dev/null "https://127.0.0.1:$2/readyz"; then return 0; fi
		sleep 0.1; cs_i=$((cs_i + 1))
	done
	return 1
}
# cs_running N: N pods of the burst are Running
cs_running() { [ "$(K get pods -l burst=cost --field-selector=status.phase=Running -o name 2>/dev/null | wc -l)" -eq "$1" ]; }
cs_until() {
	cs_t=$(($1 * 5)); shift
	while [ $cs_t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; cs_t=$((cs_t - 1)); done
	return 1
}

cat >"$TMP/cost-burst.yaml" <<'EOF'
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
metadata: {name: default}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: kubernetes.io/os, operator: In, values: [linux]}
        - {key: kubernetes.io/arch, operator: In, values: [amd64, arm64]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
EOF
for spec in "big 3 30 120Gi" "mid 6 6 24Gi" "small 10 1 2Gi"; do
	set -- $spec
	cat >>"$TMP/cost-burst.yaml" <<EOF
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, namespace: default}
spec:
  replicas: $2
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1, burst: cost}}
    spec:
      containers:
        - {name: app, image: registry.k8s.io/pause:3.9, resources: {requests: {cpu: "$3", memory: "$4"}}}
EOF
done
cat >"$TMP/cost-price.py" <<'EOF'
import json, sys
cat = json.load(open(sys.argv[1]))
price = {(t["name"], o["zone"], o["capacityType"]): o["price"] for t in cat for o in t["offerings"]}
total = 0.0
for nc in json.load(sys.stdin)["items"]:
    l = nc["metadata"].get("labels", {})
    total += price[(l["node.kubernetes.io/instance-type"], l["topology.kubernetes.io/zone"], l["karpenter.sh/capacity-type"])]
print("%.4f" % total)
EOF
"$BIN" catalog -o json >"$TMP/cost-catalog.json" 2>/dev/null

CS_PRICE_karpenter=""; CS_PRICE_cost=""
for mode in karpenter cost; do
	PORT=$(free_port)
	D=$TMP/cost-$mode
	if cs_start "$D" "$PORT" "$mode"; then
		CS=$SPID
		KC=$D/kubeconfig
		K apply -f "$TMP/cost-burst.yaml" >/dev/null 2>&1
		if cs_until 90 cs_running 19; then ok "cost ($mode): the burst of 19 pods runs"
		else bad "cost ($mode): the burst of 19 pods runs" "$(K get pods -o wide 2>&1 | tail -n 5)"; fi
		p=$(K get nodeclaims -o json 2>/dev/null | $PY "$TMP/cost-price.py" "$TMP/cost-catalog.json" 2>&1)
		if printf '%s' "$p" | grep -Eq '^[0-9]+\.[0-9]+$'; then ok "cost ($mode): NodeClaims priced at \$$p/h"; eval "CS_PRICE_$mode=$p"
		else bad "cost ($mode): NodeClaims priced" "$p"; fi
		stop_server "$CS" || bad "cost ($mode): server stops on SIGTERM"
	else
		bad "cost ($mode): start karpenter up --packing $mode" "$(tail -n 5 "$D.log" 2>/dev/null)"
	fi
done
if [ -n "$CS_PRICE_karpenter" ] && [ -n "$CS_PRICE_cost" ] &&
	$PY -c "import sys; sys.exit(0 if $CS_PRICE_cost < $CS_PRICE_karpenter else 1)"; then
	ok "cost: cost packing's NodeClaims cost less (\$$CS_PRICE_cost/h < \$$CS_PRICE_karpenter/h)"
else
	bad "cost: cost packing's NodeClaims cost less" "cost \$${CS_PRICE_cost:-?}/h, karpenter \$${CS_PRICE_karpenter:-?}/h"
fi
