# tests/aws/reserved.sh: issue item 4, capacity reservations end to end.
# The proxy answers DescribeCapacityReservations (moto has none) with one
# reservation of one m5.large in the first subnet's zone; an EC2NodeClass
# selects it by id and a NodePool allows reserved and on-demand. Two pods
# that need a node each: exactly one NodeClaim is reserved (labels
# karpenter.sh/capacity-type=reserved and the reservation's id), the other
# falls back to on-demand (the scheduler counts the reserved claim against
# the reservation's count).
# Sourced by tests/aws/controller.sh while its controller runs (uses K, ec2,
# xml_all, until_ok, ok, bad, AMI, DSG, SA, ZA, PP, TMP).

curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{\"ssm\":{\"/aws/service/eks/optimized-ami/1.32/amazon-linux-2/recommended/image_id\":\"$AMI\"},\"crs\":[{\"id\":\"cr-0ctl\",\"type\":\"m5.large\",\"zone\":\"$ZA\",\"total\":1,\"avail\":1}]}" >/dev/null
{
	cat <<EOT
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: class-r}
spec:
  amiFamily: AL2023
  role: KarpenterNodeRole-demo
  amiSelectorTerms: [{id: $AMI}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: demo}}]
  securityGroupSelectorTerms: [{id: $DSG}]
  capacityReservationSelectorTerms: [{id: cr-0ctl}]
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: pool-r}
spec:
  template:
    spec:
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [reserved, on-demand]}
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: class-r}
---
EOT
	for i in 1 2; do
		cat <<EOT
apiVersion: v1
kind: Pod
metadata: {name: pod-r$i, namespace: default}
spec:
  nodeSelector: {karpenter.sh/nodepool: pool-r}
  terminationGracePeriodSeconds: 0
  containers:
    - name: app
      image: public.ecr.aws/eks-distro/kubernetes/pause:3.7
      ports: [{containerPort: 8080, hostPort: 8080}]
      resources: {requests: {cpu: 100m, memory: 64Mi}}
---
EOT
	done
} >"$TMP/reserved.yaml"
K apply -f "$TMP/reserved.yaml" >/dev/null 2>&1
r_launched() {
	[ "$(K get nodeclaims -l karpenter.sh/nodepool=pool-r -o jsonpath='{range .items[*]}{.status.providerID}{"\n"}{end}' 2>/dev/null | grep -c .)" -eq 2 ]
}
if until_ok 40 r_launched; then
	got=$(K get nodeclaims -l karpenter.sh/nodepool=pool-r -o jsonpath='{range .items[*]}{.metadata.labels.karpenter\.sh/capacity-type}/{.metadata.labels.karpenter\.k8s\.aws/capacity-reservation-id}/{.metadata.labels.topology\.kubernetes\.io/zone}{"\n"}{end}' 2>/dev/null | sort | tr '\n' ' ')
	case "$got" in
	"on-demand//"*" reserved/cr-0ctl/$ZA ") ok "reserved: a reservation of 1 -> one reserved NodeClaim (cr-0ctl, $ZA), the next on-demand ($got)" ;;
	*) bad "reserved: one reserved NodeClaim, the next on-demand" "$got $(grep -i 'reserv\|error' "$TMP/ctrl2.log" | tail -n 3)" ;;
	esac
else bad "reserved: two NodeClaims of pool-r launched" "$(K get nodeclaims -l karpenter.sh/nodepool=pool-r -o wide 2>&1 | tail -n 3) $(grep -i 'reserv\|error' "$TMP/ctrl2.log" | tail -n 3)"; fi
K delete -f "$TMP/reserved.yaml" --wait=false >/dev/null 2>&1
