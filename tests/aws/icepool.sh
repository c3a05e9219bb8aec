# tests/aws/icepool.sh: an insufficient-capacity error marks unavailable
# only the offerings of the failed claim's own NodePool (its class's types
# and zones; lifecycle.c claim_pool), never another pool's. pool-bx
# (class-b, zone ZB) and pool-ax (class-a, zone ZA) both allow only
# on-demand m5.xlarge. The proxy refuses on-demand m5.xlarge in ZB; pod-bx's
# claim fails with InsufficientCapacityError and is deleted. pod-ax must
# then still launch in ZA at once: marking the failed claim's types through
# another class's offerings (the first class's, which spans every tagged
# zone) would hide on-demand m5.xlarge in ZA for the 3 minute ICE TTL too.
# Sourced by tests/aws/pools.sh while class-a and class-b exist (uses K,
# until_ok, ok, bad, AMI, PP, TMP, ZA, ZB).

ice_yaml() { # POOL CLASS OS
	cat <<EOT
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: $1}
spec:
  template:
    spec:
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.xlarge]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: $2}
---
apiVersion: v1
kind: Pod
metadata: {name: pod-${1#pool-}, namespace: default}
spec:
  nodeSelector: {karpenter.sh/nodepool: $1, kubernetes.io/os: $3}
  terminationGracePeriodSeconds: 0
  containers:
    - name: app
      image: public.ecr.aws/eks-distro/kubernetes/pause:3.7
      resources: {requests: {cpu: 100m, memory: 64Mi}}
---
EOT
}
ice_yaml pool-bx class-b windows >"$TMP/icepool-b.yaml"
ice_yaml pool-ax class-a linux >"$TMP/icepool-a.yaml"
SSM_RULE="\"ssm\":{\"/aws/service/eks/optimized-ami/1.32/amazon-linux-2/recommended/image_id\":\"$AMI\"}"
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{$SSM_RULE,\"ice\":[\"on-demand:m5.xlarge:$ZB\"]}" >/dev/null
ice_before=$(grep -c '"deleted nodeclaim, insufficient capacity"' "$TMP/ctrl2.log")
K apply -f "$TMP/icepool-b.yaml" >/dev/null 2>&1
ice_seen() { [ "$(grep -c '"deleted nodeclaim, insufficient capacity"' "$TMP/ctrl2.log")" -gt "$ice_before" ]; }
if until_ok 30 ice_seen; then
	K apply -f "$TMP/icepool-a.yaml" >/dev/null 2>&1
	ax_launched() {
		n=$(pool_claim pool-ax)
		[ -n "$n" ] && [ -n "$(K get nodeclaim "$n" -o jsonpath='{.status.providerID}' 2>/dev/null)" ]
	}
	if until_ok 20 ax_launched; then
		z=$(K get nodeclaim "$(pool_claim pool-ax)" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}' 2>/dev/null)
		[ "$z" = "$ZA" ] && ok "icepool: ICE on pool-bx's claim (on-demand m5.xlarge, $ZB) leaves pool-ax's on-demand m5.xlarge in $ZA launchable" ||
			bad "icepool: pool-ax's claim zone" "$z want $ZA"
	else bad "icepool: pool-ax launches after pool-bx's ICE" "no launched claim in 20 s (its offering hidden by another pool's capacity error?) $(grep -i 'insufficient\|error' "$TMP/ctrl2.log" | tail -n 2)"; fi
else bad "icepool: pool-bx's claim fails with insufficient capacity" "$(K get nodeclaims -l karpenter.sh/nodepool=pool-bx -o name 2>&1 | head -n 2) $(tail -n 2 "$TMP/ctrl2.log")"; fi
K delete -f "$TMP/icepool-b.yaml" -f "$TMP/icepool-a.yaml" --wait=false >/dev/null 2>&1
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{$SSM_RULE}" >/dev/null
