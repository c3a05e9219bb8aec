# tests/aws/ncterm.sh: the EC2NodeClass termination finalizer
# (karpenter-provider-aws pkg/controllers/nodeclass/termination.go) against
# moto. A class made from a role gets karpenter.k8s.aws/termination and an
# instance profile; a NodeClaim launches through its launch template; the
# class is deleted while the NodeClaim lives: it stays (finalizer) with a
# WaitingOnNodeClaimTermination event; once the NodeClaim is gone the class
# goes, with its launch templates and the instance profile it created. A
# class given a spec.instanceProfile goes without touching that profile.
# Sourced by tests/aws/controller.sh while its controller runs (uses K, ec2,
# aws_q, xml_all, until_ok, ok, bad, AMI, DSG, TMP). About 10-20 s.

cat >"$TMP/ncterm.yaml" <<EOT
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: class-t}
spec:
  amiFamily: AL2023
  role: KarpenterNodeRole-demo
  amiSelectorTerms: [{id: $AMI}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: demo}}]
  securityGroupSelectorTerms: [{id: $DSG}]
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: pool-t}
spec:
  template:
    spec:
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: class-t}
---
apiVersion: v1
kind: Pod
metadata: {name: pod-t, namespace: default}
spec:
  nodeSelector: {karpenter.sh/nodepool: pool-t}
  terminationGracePeriodSeconds: 0
  containers:
    - name: app
      image: public.ecr.aws/eks-distro/kubernetes/pause:3.7
      resources: {requests: {cpu: 100m, memory: 64Mi}}
EOT
K apply -f "$TMP/ncterm.yaml" >/dev/null 2>&1
t_lts() { ec2 DescribeLaunchTemplates "Filter.1.Name=tag:karpenter.k8s.aws/ec2nodeclass&Filter.1.Value.1=$1" | xml_all launchTemplateName; }
t_fin() { K get ec2nodeclass "$1" -o jsonpath='{.metadata.finalizers}' 2>/dev/null | grep -q 'karpenter.k8s.aws/termination'; }
t_launched() { [ -n "$(K get nodeclaims -l karpenter.sh/nodepool=pool-t -o jsonpath='{.items[*].status.providerID}' 2>/dev/null)" ]; }
if until_ok 30 t_fin class-t; then ok "ncterm: the status controller adds karpenter.k8s.aws/termination to the EC2NodeClass"
else bad "ncterm: finalizer added" "$(K get ec2nodeclass class-t -o jsonpath='{.metadata}' 2>&1 | head -c 300)"; fi
if until_ok 40 t_launched; then
	TNC=$(K get nodeclaims -l karpenter.sh/nodepool=pool-t -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
	TPROF=$(K get ec2nodeclass class-t -o jsonpath='{.status.instanceProfile}' 2>/dev/null)
	TLT=$(t_lts class-t | head -n 1)
	prof_there=$(aws_q iam "Action=GetInstanceProfile&Version=2010-05-08&InstanceProfileName=$TPROF" | grep -c "<InstanceProfileName>$TPROF<")
	if [ -n "$TNC" ] && [ -n "$TLT" ] && [ -n "$TPROF" ] && [ "$prof_there" -ge 1 ]; then
		ok "ncterm: NodeClaim $TNC launched with launch template $TLT and instance profile $TPROF"
	else bad "ncterm: launch fixtures" "claim=$TNC lt=$TLT profile=$TPROF ($prof_there)"; fi

	# ---- delete the class while its NodeClaim lives: it waits
	K delete ec2nodeclass class-t --wait=false >/dev/null 2>&1
	t_deleting() { [ -n "$(K get ec2nodeclass class-t -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)" ]; }
	t_event() {
		K get events -A -o jsonpath='{range .items[?(@.reason=="WaitingOnNodeClaimTermination")]}{.involvedObject.kind}/{.involvedObject.name}/{.type}: {.message}{"\n"}{end}' 2>/dev/null |
			grep -qF "EC2NodeClass/class-t/Normal: Waiting on NodeClaim termination for $TNC"
	}
	until_ok 10 t_event
	sleep 1
	if t_deleting && t_fin class-t && t_event && [ -n "$(t_lts class-t)" ]; then
		ok "ncterm: a class being deleted stays while NodeClaim $TNC uses it (finalizer, WaitingOnNodeClaimTermination event, launch template kept)"
	else bad "ncterm: class waits for its NodeClaims" "deleting=$(t_deleting && echo y) lts=$(t_lts class-t | wc -l) events=$(K get events -A 2>&1 | grep -i waiting | tail -n 2)"; fi

	# ---- the NodeClaim goes: so do the class, its templates and its profile
	t0=$(date +%s)
	K delete pod pod-t --wait=false >/dev/null 2>&1
	K delete nodepool pool-t --wait=false >/dev/null 2>&1
	K delete nodeclaim "$TNC" --wait=false >/dev/null 2>&1
	t_gone() { ! K get ec2nodeclass class-t >/dev/null 2>&1; }
	if until_ok 40 t_gone; then ok "ncterm: the class is deleted once its NodeClaim is gone ($(( $(date +%s) - t0 )) s)"
	else bad "ncterm: class deleted after its NodeClaim" "$(K get nodeclaims 2>&1 | tail -n 3) $(grep -i 'nodeclass' "$TMP/ctrl2.log" | tail -n 3)"; fi
	left=$(t_lts class-t | wc -l)
	[ "$left" -eq 0 ] && ok "ncterm: DescribeLaunchTemplates shows no template of the class left" || bad "ncterm: launch templates deleted" "$left left"
	out=$(aws_q iam "Action=GetInstanceProfile&Version=2010-05-08&InstanceProfileName=$TPROF")
	if printf '%s' "$out" | grep -q NoSuchEntity; then ok "ncterm: the instance profile $TPROF the provider created is deleted"
	else bad "ncterm: instance profile deleted" "$(printf '%s' "$out" | head -c 300)"; fi
else
	bad "ncterm: a NodeClaim of pool-t launched" "$(K get nodeclaims -l karpenter.sh/nodepool=pool-t -o wide 2>&1 | tail -n 2) $(grep -i error "$TMP/ctrl2.log" | tail -n 3)"
	K delete -f "$TMP/ncterm.yaml" --wait=false >/dev/null 2>&1
fi

# ---- a user-given instance profile is never deleted
aws_q iam "Action=CreateInstanceProfile&Version=2010-05-08&InstanceProfileName=user-prof-t" >/dev/null
cat >"$TMP/ncterm-u.yaml" <<EOT
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: class-u}
spec:
  amiFamily: AL2023
  instanceProfile: user-prof-t
  amiSelectorTerms: [{id: $AMI}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: demo}}]
  securityGroupSelectorTerms: [{id: $DSG}]
EOT
K apply -f "$TMP/ncterm-u.yaml" >/dev/null 2>&1
ufin=0; until_ok 30 t_fin class-u && ufin=1
K delete ec2nodeclass class-u --wait=false >/dev/null 2>&1
tu_gone() { ! K get ec2nodeclass class-u >/dev/null 2>&1; }
if [ $ufin = 1 ] && until_ok 20 tu_gone &&
	aws_q iam "Action=GetInstanceProfile&Version=2010-05-08&InstanceProfileName=user-prof-t" | grep -q '<InstanceProfileName>user-prof-t<'; then
	ok "ncterm: a class with a given spec.instanceProfile (no NodeClaims) goes at once and leaves that profile alone"
else bad "ncterm: class with a given instanceProfile" "finalizer=$ufin $(K get ec2nodeclass class-u -o jsonpath='{.metadata}' 2>&1 | head -c 300)"; fi
