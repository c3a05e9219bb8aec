# tests/e2e/driftcond.sh: the NodeClaim Drifted condition for static and
# requirements drift (Karpenter's nodeclaim/disruption/drift.go isDrifted) on
# `karpenter up` with the simulated cloud. A pool with a disruption budget of
# 0 (nothing is replaced while the test looks) launches one NodeClaim; a
# template label change (new NodePool hash) gives the claim Drifted=True
# reason NodePoolDrifted; reverting it clears the condition; a requirement
# the claim's labels no longer satisfy gives reason RequirementsDrifted.
# Sourced by tests/e2e/run (uses its start_server, stop_server, free_port,
# K, ok, bad, TMP); starts and stops its own server. Every wait is bounded.

dc_until() {   # dc_until SECONDS CMD...: retries CMD every 0.2 s
	t=$(($1 * 5)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; t=$((t - 1)); done
	return 1
}
dc_cond() {   # dc_cond CLAIM: "<status> <reason>" of its Drifted condition, "" without one
	K get nodeclaim "$1" -o jsonpath='{.status.conditions[?(@.type=="Drifted")].status} {.status.conditions[?(@.type=="Drifted")].reason}' 2>/dev/null
}

PORT=$(free_port)
D=$TMP/driftcond
if start_server "$D" "$PORT"; then
	SDC=$SPID
	KC=$D/kubeconfig
	cat >"$TMP/dc.yaml" <<'EOF2'
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: dc}
spec:
  disruption: {budgets: [{nodes: "0"}]}
  template:
    metadata: {labels: {team: a}}
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}
      - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand, spot]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: dc}
spec:
  replicas: 1
  selector: {matchLabels: {app: dc}}
  template:
    metadata: {labels: {app: dc}}
    spec:
      nodeSelector: {karpenter.sh/nodepool: dc}
      terminationGracePeriodSeconds: 0
      containers:
      - name: c
        image: pause
        resources: {requests: {cpu: 100m, memory: 64Mi}}
EOF2
	K apply -f "$TMP/dc.yaml" >/dev/null 2>&1
	dc_claim() { K get nodeclaims -l karpenter.sh/nodepool=dc -o jsonpath='{range .items[*]}{.metadata.name} {.status.providerID}{"\n"}{end}' 2>/dev/null | awk 'NF == 2 { print $1; exit }'; }
	dc_launched() { [ -n "$(dc_claim)" ]; }
	if dc_until 30 dc_launched; then
		N=$(dc_claim)
		CT=$(K get nodeclaim "$N" -o jsonpath='{.metadata.labels.karpenter\.sh/capacity-type}' 2>/dev/null)
		sleep 1
		before=$(dc_cond "$N")
		K patch nodepool dc --type=merge -p '{"spec":{"template":{"metadata":{"labels":{"team":"b"}}}}}' >/dev/null 2>&1
		dc_is() { [ "$(dc_cond "$N")" = "$1" ]; }
		if [ "$before" = " " ] && dc_until 10 dc_is "True NodePoolDrifted"; then
			ok "driftcond: a NodePool template change gives the NodeClaim Drifted=True reason NodePoolDrifted"
		else bad "driftcond: static drift condition" "before '$before' after '$(dc_cond "$N")'"; fi
		K patch nodepool dc --type=merge -p '{"spec":{"template":{"metadata":{"labels":{"team":"a"}}}}}' >/dev/null 2>&1
		if dc_until 10 dc_is " "; then ok "driftcond: reverting the template clears the Drifted condition"
		else bad "driftcond: static drift cleared" "'$(dc_cond "$N")'"; fi
		case "$CT" in spot) other=on-demand ;; *) other=spot ;; esac
		K patch nodepool dc --type=json -p "[{\"op\":\"replace\",\"path\":\"/spec/template/spec/requirements/1/values\",\"value\":[\"$other\"]}]" >/dev/null 2>&1
		if dc_until 10 dc_is "True RequirementsDrifted"; then
			ok "driftcond: a requirement the NodeClaim's labels no longer satisfy gives Drifted reason RequirementsDrifted"
		else bad "driftcond: requirements drift condition" "capacity-type '$CT' -> '$other': '$(dc_cond "$N")'"; fi
	else bad "driftcond: a NodeClaim of pool dc launched" "$(K get nodeclaims -o wide 2>&1 | tail -n 3)"; fi
	stop_server "$SDC" || bad "driftcond: server stops on SIGTERM"
else
	bad "driftcond: start server"
fi
