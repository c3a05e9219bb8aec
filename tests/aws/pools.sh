# tests/aws/pools.sh: issue item 10, instance types per NodePool. Two
# NodePools whose EC2NodeClasses differ: class-a (AL2023) selects one
# subnet, class-b (Windows2022) another, in another zone. Each pool's
# NodeClaim must be computed from its own class's types and offerings:
# pod-b asks for kubernetes.io/os=windows, which only class-b's types
# carry, and each claim must land in its own class's zone and subnet.
# (Asking the provider with the first pool for every pool leaves pod-b
# unschedulable: the first pool's linux types.)
# Sourced by tests/aws/controller.sh while its controller runs (uses K,
# ec2, xml_all, until_ok, ok, bad, AMI, DSG, SUBNETS, TMP).

SA=$(printf '%s\n' $SUBNETS | sed -n 1p)
SB=$(printf '%s\n' $SUBNETS | sed -n 2p)
ZA=$(ec2 DescribeSubnets "SubnetId.1=$SA" | xml_all availabilityZone | head -n 1)
ZB=$(ec2 DescribeSubnets "SubnetId.1=$SB" | xml_all availabilityZone | head -n 1)
{
	for x in a b; do
		[ $x = a ] && { s=$SA; fam=AL2023; os=linux; } || { s=$SB; fam=Windows2022; os=windows; }
		cat <<EOT
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: class-$x}
spec:
  amiFamily: $fam
  role: KarpenterNodeRole-demo
  amiSelectorTerms: [{id: $AMI}]
  subnetSelectorTerms: [{id: $s}]
  securityGroupSelectorTerms: [{id: $DSG}]
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: pool-$x}
spec:
  template:
    spec:
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: class-$x}
---
apiVersion: v1
kind: Pod
metadata: {name: pod-$x, namespace: default}
spec:
  nodeSelector: {karpenter.sh/nodepool: pool-$x, kubernetes.io/os: $os}
  terminationGracePeriodSeconds: 0
  containers:
    - name: app
      image: public.ecr.aws/eks-distro/kubernetes/pause:3.7
      resources: {requests: {cpu: 100m, memory: 64Mi}}
---
EOT
	done
} >"$TMP/pools.yaml"
K apply -f "$TMP/pools.yaml" >/dev/null 2>&1
pool_claim() { K get nodeclaims -l "karpenter.sh/nodepool=$1" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null; }
pools_launched() {
	for x in a b; do
		n=$(pool_claim pool-$x)
		[ -n "$n" ] && [ -n "$(K get nodeclaim "$n" -o jsonpath='{.status.providerID}' 2>/dev/null)" ] || return 1
	done
}
if [ -n "$SA" ] && [ -n "$SB" ] && [ "$ZA" != "$ZB" ] && until_ok 40 pools_launched; then
	for x in a b; do
		[ $x = a ] && { s=$SA; z=$ZA; os=linux; } || { s=$SB; z=$ZB; os=windows; }
		n=$(pool_claim pool-$x)
		pid=$(K get nodeclaim "$n" -o jsonpath='{.status.providerID}' 2>/dev/null)
		zl=$(K get nodeclaim "$n" -o jsonpath='{.metadata.labels.topology\.kubernetes\.io/zone}' 2>/dev/null)
		osl=$(K get nodeclaim "$n" -o jsonpath='{.metadata.labels.kubernetes\.io/os}' 2>/dev/null)
		zr=$(K get nodeclaim "$n" -o jsonpath='{.spec.requirements[?(@.key=="topology.kubernetes.io/zone")].values}' 2>/dev/null)
		isub=$(ec2 DescribeInstances "InstanceId.1=${pid##*/}" | xml_all subnetId | head -n 1)
		if [ "$zl" = "$z" ] && [ "$osl" = "$os" ] && [ "$isub" = "$s" ] && { [ -z "$zr" ] || printf '%s' "$zr" | grep -q "\"$z\"" && ! printf '%s' "$zr" | grep -q "\"$([ $x = a ] && echo "$ZB" || echo "$ZA")\""; }; then
			ok "pools: pool-$x's NodeClaim uses class-$x's types and offerings ($os, zone $z, subnet $s)"
		else bad "pools: pool-$x's NodeClaim" "os=$osl want $os, zone label=$zl want $z, requirement=$zr, subnet=$isub want $s"; fi
	done
else bad "pools: one NodeClaim per pool launched" "a=$(pool_claim pool-a) b=$(pool_claim pool-b) zones $ZA/$ZB $(grep -i 'instance types\|error' "$TMP/ctrl2.log" | tail -n 3)"; fi
# item 8: Create's annotations land on the NodeClaim (PopulateNodeClaimDetails)
n=$(pool_claim pool-a)
ann=$(K get nodeclaim "$n" -o jsonpath='{.metadata.annotations.karpenter\.k8s\.aws/ec2nodeclass-hash} {.metadata.annotations.karpenter\.k8s\.aws/ec2nodeclass-hash-version}' 2>/dev/null)
case "$ann" in [0-9]*" kc-v1") ok "pools: NodeClaim $n carries karpenter.k8s.aws/ec2nodeclass-hash and -hash-version ($ann)" ;;
	*) bad "pools: NodeClaim hash annotations" "$n: '$ann'" ;; esac
# item 8: the EC2NodeClass hash controller (hash.sh)
. "$ROOT/tests/aws/hash.sh"
# a capacity error marks only its own NodePool's offerings (icepool.sh)
. "$ROOT/tests/aws/icepool.sh"
K delete -f "$TMP/pools.yaml" --wait=false >/dev/null 2>&1
