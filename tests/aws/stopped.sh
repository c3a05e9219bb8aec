# tests/aws/stopped.sh: stopped instances (instance.go Get/Delete: only
# shutting-down/terminated count as gone; a stopped instance is terminated).
#  a. an instance_stopped message (EC2 Instance State-change Notification,
#     state stopped) for a launched NodeClaim whose instance was stopped in
#     EC2: the NodeClaim is deleted, its instance terminated, the finalizer
#     released (before: Delete saw "terminating" and never terminated);
#  b. a stopped orphan (cluster tags, no NodeClaim) is garbage-collected.
# Sourced by tests/aws/controller.sh while its controller runs (uses K, ec2,
# xml_all, until_ok, ok, bad, AMI, DSG, QURL, MP, TMP).

cat >"$TMP/stopped.yaml" <<EOT
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: pool-s}
spec:
  template:
    spec:
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
---
apiVersion: v1
kind: Pod
metadata: {name: pod-s, namespace: default}
spec:
  nodeSelector: {karpenter.sh/nodepool: pool-s}
  terminationGracePeriodSeconds: 0
  containers:
    - name: app
      image: public.ecr.aws/eks-distro/kubernetes/pause:3.7
      resources: {requests: {cpu: 100m, memory: 64Mi}}
EOT
K apply -f "$TMP/stopped.yaml" >/dev/null 2>&1
s_pid() { K get nodeclaims -l karpenter.sh/nodepool=pool-s -o jsonpath='{.items[0].status.providerID}' 2>/dev/null; }
s_launched() { [ -n "$(s_pid)" ]; }
if until_ok 40 s_launched; then
	SNC=$(K get nodeclaims -l karpenter.sh/nodepool=pool-s -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
	SPID=$(s_pid); SIID=${SPID##*/}
	K delete pod pod-s --wait=false >/dev/null 2>&1   # no re-provisioning after the claim goes
	ec2 StopInstances "InstanceId.1=$SIID" >/dev/null
	msg=$(printf '{"version":"0","id":"2","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2026-11-27T20:00:00Z","region":"us-east-1","resources":[],"detail":{"instance-id":"%s","state":"stopped"}}' "$SIID")
	body=$(python3 -c 'import json,sys; print(json.dumps({"QueueUrl": sys.argv[1], "MessageBody": sys.argv[2]}))' "$QURL" "$msg")
	curl -s --aws-sigv4 "aws:amz:us-east-1:sqs" -u testing:testing "http://127.0.0.1:$MP/" \
		-H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: AmazonSQS.SendMessage' -d "$body" >/dev/null
	s_state() { ec2 DescribeInstances "InstanceId.1=$SIID" | sed -n 's|.*<instanceState><code>[0-9]*</code><name>\([a-z-]*\)</name>.*|\1|p' | head -n 1; }
	s_done() { ! K get nodeclaim "$SNC" >/dev/null 2>&1 && [ "$(s_state)" = terminated ]; }
	if until_ok 20 s_done; then ok "stopped: instance_stopped message -> NodeClaim $SNC deleted, its stopped instance terminated"
	else bad "stopped: instance_stopped message" "claim $(K get nodeclaim "$SNC" -o jsonpath='{.metadata.deletionTimestamp}' 2>&1) instance $(s_state) $(grep -i 'interrupt\|terminate' "$TMP/ctrl2.log" | tail -n 2)"; fi
else bad "stopped: pool-s NodeClaim launched" "$(grep -i error "$TMP/ctrl2.log" | tail -n 2)"; fi
K delete nodepool pool-s --wait=false >/dev/null 2>&1

SORPHAN=$(ec2 RunInstances "ImageId=$AMI&MinCount=1&MaxCount=1&InstanceType=t3.micro&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=karpenter.sh%2Fnodepool&TagSpecification.1.Tag.1.Value=default&TagSpecification.1.Tag.2.Key=karpenter.k8s.aws%2Fec2nodeclass&TagSpecification.1.Tag.2.Value=default&TagSpecification.1.Tag.3.Key=eks%3Aeks-cluster-name&TagSpecification.1.Tag.3.Value=demo&TagSpecification.1.Tag.4.Key=karpenter.sh%2Fnodeclaim&TagSpecification.1.Tag.4.Value=no-such-claim-s" | xml_all instanceId | head -n 1)
[ -n "$SORPHAN" ] && ec2 StopInstances "InstanceId.1=$SORPHAN" >/dev/null
so_gone() { ec2 DescribeInstances "InstanceId.1=$SORPHAN" | grep -q '<name>terminated</name>'; }
if [ -n "$SORPHAN" ] && until_ok 20 so_gone; then ok "stopped: a stopped orphan instance $SORPHAN is garbage-collected (terminated)"
else bad "stopped: stopped orphan GC" "$SORPHAN $(grep -i garbage "$TMP/ctrl2.log" | tail -n 2)"; fi
