# tests/aws/controller.sh: `karpenter controller --cloud-provider aws` as a
# real process against `karpenter up` (its in-process controller off) and
# moto behind tests/aws/proxy.py. Sourced by tests/aws/run (uses MP, PP,
# TMP, ROOT, O, PIDS, pass, fail). Every wait is bounded.
#
#  1. the getting-started walkthrough (examples/seed: v1beta1 AL2 class with
#     tag selectors, the AMI from the family's SSM alias answered by the
#     proxy): EC2NodeClass Ready with its status; a NodeClaim launched as an
#     instance in moto with the class's tags, launch template and subnet;
#  2. deleting the NodeClaim terminates the instance;
#  3. an orphan instance (cluster tags, no NodeClaim) is garbage-collected;
#  4. kill -9 between CreateFleet and the status write: the restarted
#     controller adopts the instance, no second one is launched;
#  5. a spot interruption message on the SQS queue deletes the NodeClaim;
#  6. two NodePools with their own EC2NodeClasses (pools.sh);
#  7. a capacity reservation of 1: one reserved NodeClaim, the next on-demand (reserved.sh);
#  8. stopped instances are terminated: instance_stopped message, stopped orphan (stopped.sh);
#  9. on-demand prices from --aws-pricing-endpoint alone (pricingflag.sh);
# 10. a spot capacity error: the next NodeClaim launches on-demand within seconds (ice.sh);
# 11. deleting an EC2NodeClass waits for its NodeClaims, then deletes its
#      launch templates and instance profile (ncterm.sh).

BIN=$ROOT/$O/karpenter
export KARPENTER_DATA_DIR=$ROOT/data
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }
until_ok() { # SECONDS CMD...: retries every 0.25 s
	t=$(($1 * 4)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; t=$((t - 1)); done
	return 1
}
aws_q() { # SERVICE BODY: signed Query call to moto
	curl -s -m 20 --aws-sigv4 "aws:amz:us-east-1:$1" -u testing:testing "http://127.0.0.1:$MP/" \
		-H 'Content-Type: application/x-www-form-urlencoded' -d "$2"
}
ec2() { aws_q ec2 "Action=$1&Version=2016-11-15${2:+&$2}"; }
xml_all() { grep -o "<$1>[^<]*</$1>" | sed "s|<$1>||;s|</$1>||"; }
K() { timeout 20 kubectl --kubeconfig "$KC" "$@"; }
stop_pid() {
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
# running instances tagged with the cluster
live_ids() {
	ec2 DescribeInstances "Filter.1.Name=tag:eks:eks-cluster-name&Filter.1.Value.1=demo&Filter.2.Name=instance-state-name&Filter.2.Value.1=pending&Filter.2.Value.2=running$1" |
		xml_all instanceId
}

if ! command -v kubectl >/dev/null 2>&1; then
	echo "SKIP aws controller: kubectl not installed"
	return 0 2>/dev/null || exit 0
fi

# ---- fixtures: the default VPC's subnets and security group carry the
# getting-started discovery tag (moto puts fleet instances in the default
# group whatever the launch template says); the node role exists
DVPC=$(ec2 DescribeVpcs "Filter.1.Name=isDefault&Filter.1.Value.1=true" | xml_all vpcId | head -n 1)
SUBNETS=$(ec2 DescribeSubnets "Filter.1.Name=vpc-id&Filter.1.Value.1=$DVPC" | xml_all subnetId | head -n 3)
DSG=$(ec2 DescribeSecurityGroups "Filter.1.Name=vpc-id&Filter.1.Value.1=$DVPC&Filter.2.Name=group-name&Filter.2.Value.1=default" | xml_all groupId | head -n 1)
n=1; args=""
for s in $SUBNETS $DSG; do args="$args&ResourceId.$n=$s"; n=$((n + 1)); done
ec2 CreateTags "Tag.1.Key=karpenter.sh%2Fdiscovery&Tag.1.Value=demo$args" >/dev/null
aws_q iam "Action=CreateRole&Version=2010-05-08&RoleName=KarpenterNodeRole-demo&AssumeRolePolicyDocument=%7B%7D" >/dev/null
AMI=ami-0ed094fb1304fd857
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{\"ssm\":{\"/aws/service/eks/optimized-ami/1.32/amazon-linux-2/recommended/image_id\":\"$AMI\"}}" >/dev/null
QURL=$(curl -s --aws-sigv4 "aws:amz:us-east-1:sqs" -u testing:testing "http://127.0.0.1:$MP/" \
	-H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: AmazonSQS.CreateQueue' \
	-d '{"QueueName":"demo-interruption"}' | sed -n 's/.*"QueueUrl": *"\([^"]*\)".*/\1/p')
[ -n "$DVPC" ] && [ -n "$SUBNETS" ] && [ -n "$DSG" ] && [ -n "$QURL" ] && ok "ctl: moto fixtures (default VPC tagged, role, queue)" ||
	bad "ctl: moto fixtures" "vpc=$DVPC sg=$DSG queue=$QURL"

# ---- karpenter up without its own controller
PORT=$(free_port)
D=$TMP/up
KARPENTER_UP_CONTROLLER=off "$BIN" up --listen "127.0.0.1:$PORT" --data-dir "$D" >"$D.log" 2>&1 &
UPID=$!
PIDS="$PIDS $UPID"
KC=$D/kubeconfig
until_ok 15 test -f "$KC"
until_ok 15 curl -sk -o /dev/null "https://127.0.0.1:$PORT/readyz"

start_ctrl() { # LOGFILE: the AWS controller against the proxy
	CMPORT=$(free_port)   # its metrics (stopped.sh reads the interruption counters)
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true \
	KARPENTER_GC_PERIOD=2s KARPENTER_GC_INSTANCE_GRACE=3s \
		"$BIN" controller --kubeconfig "$KC" --cloud-provider aws --cluster-name demo \
		--aws-endpoint "http://127.0.0.1:$PP" --aws-region us-east-1 --interruption-queue demo-interruption \
		--cluster-endpoint "https://127.0.0.1:$PORT" --metrics-listen "127.0.0.1:$CMPORT" --health-listen "" \
		--batch-idle-duration 200ms --batch-max-duration 1s ${PRICING_URL:+--aws-pricing-endpoint "$PRICING_URL"} >>"$1" 2>&1 &
	CPID=$!
	PIDS="$PIDS $CPID"
}
start_ctrl "$TMP/ctrl.log"

# ---- 1. walkthrough
K apply -f "$ROOT/examples/seed/" >/dev/null 2>&1
nc_ready() { [ "$(K get ec2nodeclass default -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
if until_ok 30 nc_ready; then ok "ctl: EC2NodeClass default Ready (subnets, security groups, AMI by alias, profile)"
else bad "ctl: EC2NodeClass Ready" "$(K get ec2nodeclass default -o jsonpath='{.status}' 2>&1 | head -c 600) $(tail -n 3 "$TMP/ctrl.log")"; fi
st=$(K get ec2nodeclass default -o jsonpath='{.status.amis[0].id} {.status.securityGroups[0].id} {.status.instanceProfile}' 2>/dev/null)
case "$st" in "$AMI $DSG demo_"*) ok "ctl: status has the AMI, security group and instance profile" ;;
	*) bad "ctl: EC2NodeClass status" "$st" ;; esac
has_launched() { [ -n "$(K get nodeclaims -o jsonpath='{.items[?(@.status.providerID)].metadata.name}')" ]; }
if until_ok 40 has_launched; then ok "ctl: the pending pod gets a NodeClaim launched through CreateFleet"
else bad "ctl: NodeClaim launched" "$(grep -i error "$TMP/ctrl.log" | tail -n 3)"; fi
NC=$(K get nodeclaims -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
PID=$(K get nodeclaim "$NC" -o jsonpath='{.status.providerID}' 2>/dev/null)
IID=${PID##*/}
desc=$(ec2 DescribeInstances "InstanceId.1=$IID")
tags_ok=1
for kv in "karpenter.sh/nodeclaim $NC" "karpenter.sh/nodepool default" "eks:eks-cluster-name demo" \
	"karpenter.k8s.aws/ec2nodeclass default" "kubernetes.io/cluster/demo owned"; do
	k=${kv% *}; v=${kv#* }
	printf '%s' "$desc" | grep -q "<key>$k</key><value>$v</value>" || tags_ok=0
done
[ $tags_ok = 1 ] && ok "ctl: instance $IID in moto carries the class's and Karpenter's tags" || bad "ctl: instance tags" "$IID"
sub=$(printf '%s' "$desc" | xml_all subnetId | head -n 1)
printf '%s\n' $SUBNETS | grep -qx "$sub" && ok "ctl: instance is in a subnet the class selected" || bad "ctl: instance subnet" "$sub"
lt=$(ec2 DescribeLaunchTemplates "Filter.1.Name=tag:karpenter.k8s.aws/ec2nodeclass&Filter.1.Value.1=default" | xml_all launchTemplateName | head -n 1)
ltd=$(ec2 DescribeLaunchTemplateVersions "LaunchTemplateName=$lt&Versions.1=%24Latest")
if printf '%s' "$ltd" | grep -q "<imageId>$AMI</imageId>" && printf '%s' "$ltd" | grep -q "<groupId>$DSG</groupId>" &&
	printf '%s' "$ltd" | grep -q '<userData>'; then ok "ctl: launch template $lt with the class's AMI, security group and AL2 user data"
else bad "ctl: launch template" "$lt"; fi
labels=$(K get nodeclaim "$NC" -o jsonpath='{.metadata.labels.node\.kubernetes\.io/instance-type} {.metadata.labels.karpenter\.sh/capacity-type}' 2>/dev/null)
case "$labels" in [cmr]5.*" spot"|[cmr]5.*" on-demand"|[cmr]6*" spot"|[cmr]6*" on-demand") ok "ctl: NodeClaim labels from the launched instance ($labels)" ;;
	*) bad "ctl: NodeClaim labels" "$labels" ;; esac

# ---- 2. deleting the NodeClaim terminates the instance
K scale deployment oversized-app --replicas=0 >/dev/null 2>&1
K delete nodeclaim "$NC" --wait=false >/dev/null 2>&1
gone() { [ -z "$(live_ids "&InstanceId.1=$IID" 2>/dev/null)" ] && ! K get nodeclaim "$NC" >/dev/null 2>&1; }
if until_ok 30 gone; then ok "ctl: NodeClaim deleted -> TerminateInstances, finalizer released"
else bad "ctl: terminate on delete" "$(tail -n 3 "$TMP/ctrl.log")"; fi

# ---- 3. garbage collection of an orphan
ORPHAN=$(ec2 RunInstances "ImageId=$AMI&MinCount=1&MaxCount=1&InstanceType=t3.micro&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=karpenter.sh%2Fnodepool&TagSpecification.1.Tag.1.Value=default&TagSpecification.1.Tag.2.Key=karpenter.k8s.aws%2Fec2nodeclass&TagSpecification.1.Tag.2.Value=default&TagSpecification.1.Tag.3.Key=eks%3Aeks-cluster-name&TagSpecification.1.Tag.3.Value=demo&TagSpecification.1.Tag.4.Key=karpenter.sh%2Fnodeclaim&TagSpecification.1.Tag.4.Value=no-such-claim" | xml_all instanceId | head -n 1)
orphan_gone() { [ -z "$(live_ids "&InstanceId.1=$ORPHAN" 2>/dev/null)" ]; }
if [ -n "$ORPHAN" ] && until_ok 20 orphan_gone; then ok "ctl: orphan instance $ORPHAN (no NodeClaim, older than the grace) garbage-collected"
else bad "ctl: orphan GC" "$ORPHAN $(grep -i garbage "$TMP/ctrl.log" | tail -n 2)"; fi

# ---- 4. kill -9 between CreateFleet and the NodeClaim status write
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{\"ssm\":{\"/aws/service/eks/optimized-ami/1.32/amazon-linux-2/recommended/image_id\":\"$AMI\"},\"hold_ms\":{\"CreateFleet\":4000}}" >/dev/null
before=$(curl -s "http://127.0.0.1:$PP/_proxy/log" | grep -o '"CreateFleet"' | wc -l)
K scale deployment oversized-app --replicas=1 >/dev/null 2>&1
fleet_sent() { [ "$(curl -s "http://127.0.0.1:$PP/_proxy/log" | grep -o '"CreateFleet"' | wc -l)" -gt "$before" ]; }
until_ok 30 fleet_sent
sleep 1
kill -9 "$CPID" 2>/dev/null; wait "$CPID" 2>/dev/null
NC2=$(K get nodeclaims -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
pid_before=$(K get nodeclaim "$NC2" -o jsonpath='{.status.providerID}' 2>/dev/null)
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{\"ssm\":{\"/aws/service/eks/optimized-ami/1.32/amazon-linux-2/recommended/image_id\":\"$AMI\"}}" >/dev/null
start_ctrl "$TMP/ctrl2.log"
launched2() { [ -n "$(K get nodeclaim "$NC2" -o jsonpath='{.status.providerID}' 2>/dev/null)" ]; }
if [ -n "$NC2" ] && [ -z "$pid_before" ] && until_ok 30 launched2; then
	n=$(live_ids "&Filter.3.Name=tag:karpenter.sh/nodeclaim&Filter.3.Value.1=$NC2" | wc -l)
	all=$(live_ids "" | wc -l)
	if [ "$n" -eq 1 ] && [ "$all" -eq 1 ]; then ok "ctl: kill -9 after CreateFleet: the restarted controller adopts the instance (1 instance, no orphan)"
	else bad "ctl: adoption after kill -9" "instances for $NC2: $n, cluster: $all"; fi
else bad "ctl: adoption after kill -9" "claim=$NC2 before=$pid_before $(tail -n 3 "$TMP/ctrl2.log")"; fi

# ---- 5. a spot interruption warning deletes the NodeClaim
PID2=$(K get nodeclaim "$NC2" -o jsonpath='{.status.providerID}' 2>/dev/null)
IID2=${PID2##*/}
msg=$(printf '{"version":"0","id":"1","detail-type":"EC2 Spot Instance Interruption Warning","source":"aws.ec2","account":"123456789012","time":"2026-11-27T20:00:00Z","region":"us-east-1","resources":[],"detail":{"instance-id":"%s","instance-action":"terminate"}}' "$IID2")
body=$(python3 -c 'import json,sys; print(json.dumps({"QueueUrl": sys.argv[1], "MessageBody": sys.argv[2]}))' "$QURL" "$msg")
curl -s --aws-sigv4 "aws:amz:us-east-1:sqs" -u testing:testing "http://127.0.0.1:$MP/" \
	-H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: AmazonSQS.SendMessage' -d "$body" >/dev/null
claim_deleting() { ! K get nodeclaim "$NC2" >/dev/null 2>&1 || [ -n "$(K get nodeclaim "$NC2" -o jsonpath='{.metadata.deletionTimestamp}')" ]; }
if [ -n "$IID2" ] && until_ok 20 claim_deleting && grep -q '"initiating delete from interruption message"' "$TMP/ctrl2.log"; then
	ok "ctl: spot interruption message on SQS -> NodeClaim deleted"
else bad "ctl: interruption" "$(grep -i interrupt "$TMP/ctrl2.log" | tail -n 2)"; fi

# ---- 6. instance types per NodePool (two classes, two subnets)
. "$ROOT/tests/aws/pools.sh"
# ---- 7. capacity reservations: one reserved NodeClaim, the next on-demand
. "$ROOT/tests/aws/reserved.sh"
# ---- 8. stopped instances: an instance_stopped message, a stopped orphan
. "$ROOT/tests/aws/stopped.sh"
# ---- 9. on-demand prices from --aws-pricing-endpoint (pricingflag.sh)
pricing_flag_check "controller" "$TMP/ctrl.log"
# ---- 10. a spot capacity error falls back to on-demand at once (provider-side marking)
. "$ROOT/tests/aws/ice.sh"
# ---- 11. the EC2NodeClass termination finalizer (ncterm.sh)
. "$ROOT/tests/aws/ncterm.sh"
. "$ROOT/tests/aws/resil.sh"   # 12. AuthFailure on CreateFleet, the endpoint restarted (resil.sh)

stop_pid "$CPID"
stop_pid "$UPID"
