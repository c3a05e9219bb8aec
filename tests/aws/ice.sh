# tests/aws/ice.sh: capacity errors are marked by the provider, for the
# offerings that failed only (instance.go: CreateFleet errors ->
# unavailableOfferings per capacity-type/type/zone; launch.go only deletes
# the NodeClaim). Every spot m5.large offering answers
# InsufficientInstanceCapacity (the proxy); a NodePool allowing m5.large
# spot and on-demand gets a spot NodeClaim, which fails and is deleted, and
# the next NodeClaim launches on-demand within seconds (before: the
# controller hid every offering of the claim, on-demand too, for 3 min).
# Sourced by tests/aws/controller.sh while its controller runs (uses K,
# until_ok, ok, bad, AMI, PP, TMP).

ice=""
for z in a b c d e f; do ice="$ice${ice:+,}\"spot:m5.large:us-east-1$z\""; done
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{\"ssm\":{\"/aws/service/eks/optimized-ami/1.32/amazon-linux-2/recommended/image_id\":\"$AMI\"},\"ice\":[$ice]}" >/dev/null
cat >"$TMP/ice.yaml" <<EOT
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: pool-i}
spec:
  template:
    spec:
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [spot, on-demand]}
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
---
apiVersion: v1
kind: Pod
metadata: {name: pod-i, namespace: default}
spec:
  nodeSelector: {karpenter.sh/nodepool: pool-i}
  terminationGracePeriodSeconds: 0
  containers:
    - name: app
      image: public.ecr.aws/eks-distro/kubernetes/pause:3.7
      resources: {requests: {cpu: 100m, memory: 64Mi}}
EOT
t0=$(date +%s)
K apply -f "$TMP/ice.yaml" >/dev/null 2>&1
i_od() {
	K get nodeclaims -l karpenter.sh/nodepool=pool-i -o jsonpath='{range .items[*]}{.status.providerID} {.metadata.labels.karpenter\.sh/capacity-type}{"\n"}{end}' 2>/dev/null |
		grep -q '^aws:///.* on-demand$'
}
if until_ok 30 i_od; then
	dt=$(($(date +%s) - t0))
	if grep '"deleted nodeclaim, insufficient capacity"' "$TMP/ctrl2.log" | grep -q '"pool-i-'; then
		ok "ice: spot m5.large out of capacity everywhere -> the spot NodeClaim deleted, the next launched on-demand after ${dt}s"
	else bad "ice: the spot NodeClaim failed with insufficient capacity" "$(grep -i 'capacity' "$TMP/ctrl2.log" | tail -n 2)"; fi
else bad "ice: on-demand fallback after a spot capacity error" "$(K get nodeclaims -l karpenter.sh/nodepool=pool-i -o wide 2>&1 | tail -n 2) $(grep -i 'capacity' "$TMP/ctrl2.log" | tail -n 2)"; fi
K delete -f "$TMP/ice.yaml" --wait=false >/dev/null 2>&1
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{\"ssm\":{\"/aws/service/eks/optimized-ami/1.32/amazon-linux-2/recommended/image_id\":\"$AMI\"}}" >/dev/null
