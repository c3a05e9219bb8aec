# tests/e2e/iface.sh: what the controller reads from the cloud provider's
# ops table instead of asking which provider it has, end to end with the
# real kubectl against `karpenter up` (in-process controller, simulated
# cloud). Sourced by tests/e2e/run (uses its start_server, stop_server,
# free_port, K, ok, bad, TMP); starts and stops its own server. Every wait is
# bounded. (Repair policies from the table: parity.sh's node repair checks.)
#
#  1. nodeclass_optional (set by the simulated cloud): a NodePool whose
#     EC2NodeClass does not exist is NodeClassReady=True and Ready=True.

if_until() {   # if_until SECONDS CMD...: retries CMD every 0.2 s until it succeeds
	t=$(($1 * 5)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; t=$((t - 1)); done
	return 1
}
if_pool_conds() {
	K get nodepool if-orphan -o jsonpath='{.status.conditions[?(@.type=="NodeClassReady")].status} {.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null
}
if_pool_ready() { [ "$(if_pool_conds)" = "True True" ]; }

PORT=$(free_port)
D=$TMP/iface
if start_server "$D" "$PORT"; then
	SIF=$SPID
	KC=$D/kubeconfig
	cat >"$TMP/if-pool.yaml" <<'EOF2'
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: if-orphan}
spec:
  template:
    spec:
      requirements: [{key: kubernetes.io/os, operator: In, values: [linux]}]
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: if-absent}
EOF2
	if K apply -f "$TMP/if-pool.yaml" >/dev/null 2>&1 && if_until 20 if_pool_ready; then
		ok "iface: simulated cloud (nodeclass_optional): a NodePool whose EC2NodeClass is absent is NodeClassReady and Ready"
	else bad "iface: a NodePool whose EC2NodeClass is absent is NodeClassReady and Ready" "conditions '$(if_pool_conds)'"; fi
	stop_server "$SIF" >/dev/null
else
	bad "iface: karpenter up starts"
fi
