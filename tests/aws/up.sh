# tests/aws/up.sh: `karpenter up --cloud aws --aws-endpoint URL` (issue
# item 11): the local control plane with its in-process controller on the
# AWS provider against moto (through the proxy, for the AL2 alias). The
# getting-started walkthrough: an instance in moto, a Node registered for
# it, the pod Running on that Node; scaling to 0 terminates the instance.
# Sourced by tests/aws/run after controller.sh (uses its helpers).

# shellcheck disable=SC1090
. "$ROOT/tests/aws/tagging.sh"
PORT=$(free_port)
D=$TMP/up-aws
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{\"ssm\":{\"/aws/service/eks/optimized-ami/1.32/amazon-linux-2/recommended/image_id\":\"$AMI\"}}" >/dev/null
AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true \
KARPENTER_DISRUPTION_POLL=1s KARPENTER_DISRUPTION_VALIDATION_DELAY=1s KARPENTER_DRIFT_POLL=2s \
	"$BIN" up --listen "127.0.0.1:$PORT" --data-dir "$D" --cloud aws --aws-endpoint "http://127.0.0.1:$PP" \
	--aws-region us-east-1 --cluster-name walk ${PRICING_URL:+--aws-pricing-endpoint "$PRICING_URL"} >"$D.log" 2>&1 &
UPID=$!
PIDS="$PIDS $UPID"
KC=$D/kubeconfig
until_ok 15 test -f "$KC"
until_ok 15 curl -sk -o /dev/null "https://127.0.0.1:$PORT/readyz"
K apply -f "$ROOT/examples/seed/" >/dev/null 2>&1
pod_running() { [ "$(K get pods -l app=oversized-app -o jsonpath='{.items[0].status.phase}')" = Running ]; }
if until_ok 60 pod_running; then
	NODE=$(K get pods -l app=oversized-app -o jsonpath='{.items[0].spec.nodeName}' 2>/dev/null)
	NPID=$(K get node "$NODE" -o jsonpath='{.spec.providerID}' 2>/dev/null)
	IID=${NPID##*/}
	desc=$(ec2 DescribeInstances "InstanceId.1=$IID")
	if printf '%s' "$desc" | grep -q "<key>eks:eks-cluster-name</key><value>walk</value>" &&
		printf '%s' "$desc" | grep -q '<name>running</name>'; then
		ok "up --cloud aws: the walkthrough pod runs on Node $NODE of moto instance $IID"
	else bad "up --cloud aws: Node for the moto instance" "node=$NODE pid=$NPID"; fi
else bad "up --cloud aws: the walkthrough pod Running" "$(K get nodeclaims,nodes -o wide 2>&1 | tail -n 3) $(grep -i error "$D.log" | tail -n 2)"; fi
pricing_flag_check "up --cloud aws"   # pricingflag.sh
tag_check "registered node" "${NODE:-}" "${IID:-}" "${NODE:-}"
# drift: the class's AMI changes -> the NodeClaim is marked Drifted and replaced
AMI2=$(ec2 DescribeImages "Filter.1.Name=architecture&Filter.1.Value.1=x86_64&Filter.2.Name=name&Filter.2.Value.1=al2023-ami-2023*&Owner.1=amazon" |
	xml_all imageId | grep -vx "$AMI" | head -n 1)
NC=$(K get nodeclaims -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
# (spec.tags Name: the replacement is launched with a Name, which tagging keeps)
K patch ec2nodeclass default --type merge -p "{\"spec\":{\"amiFamily\":\"AL2\",\"amiSelectorTerms\":[{\"id\":\"$AMI2\"}],\"tags\":{\"Name\":\"user-named\"}}}" >/dev/null 2>&1
drifted() { [ "$(K get nodeclaim "$NC" -o jsonpath='{.status.conditions[?(@.type=="Drifted")].status}' 2>/dev/null)" = True ]; }
if [ -n "$AMI2" ] && until_ok 30 drifted; then ok "up --cloud aws: AMI changed in the class -> NodeClaim $NC Drifted ($(K get nodeclaim "$NC" -o jsonpath='{.status.conditions[?(@.type=="Drifted")].reason}' 2>/dev/null))"
else
	bad "up --cloud aws: drift" "ami2=$AMI2 amis=$(K get ec2nodeclass default -o jsonpath='{.status.amis[*].id} {.status.conditions[?(@.type=="Ready")]}' 2>&1) ref=$(K get nodeclaim "$NC" -o jsonpath='{.spec.nodeClassRef}')"
	K logs -n karpenter karpenter-0 2>/dev/null | grep -i 'drift\|nodeclass\|error' | grep -v 'does not decode' | tail -n 8 | cut -c1-300
fi
replaced() {
	n2=$(K get pods -l app=oversized-app -o jsonpath='{.items[0].spec.nodeName}' 2>/dev/null)
	[ -n "$n2" ] && [ "$n2" != "$NODE" ] && pod_running && ec2 DescribeInstances "InstanceId.1=$IID" | grep -q '<name>terminated</name>'
}
if until_ok 90 replaced; then
	NODE=$(K get pods -l app=oversized-app -o jsonpath='{.items[0].spec.nodeName}' 2>/dev/null)
	NPID=$(K get node "$NODE" -o jsonpath='{.spec.providerID}' 2>/dev/null)
	IID=${NPID##*/}
	img=$(ec2 DescribeInstances "InstanceId.1=$IID" | xml_all imageId | head -n 1)
	[ "$img" = "$AMI2" ] && ok "up --cloud aws: drifted node replaced: the pod runs on $NODE ($IID, $AMI2), the old instance terminated" ||
		bad "up --cloud aws: replacement AMI" "$img"
	tag_check "replacement, Name from spec.tags kept" "$NODE" "$IID" user-named
else bad "up --cloud aws: drift replacement" "$(K get nodeclaims,nodes 2>&1 | tail -n 3)"; fi
K scale deployment oversized-app --replicas=0 >/dev/null 2>&1
inst_gone() {
	[ -n "$IID" ] && [ -z "$(K get nodes -o name 2>/dev/null)" ] &&
		ec2 DescribeInstances "InstanceId.1=$IID" | grep -q '<name>terminated</name>'
}
if until_ok 60 inst_gone; then ok "up --cloud aws: scaled to 0 -> the instance is terminated and its Node removed"
else bad "up --cloud aws: scale to 0" "$(K get nodeclaims,nodes 2>&1 | tail -n 2)"; fi
stop_pid "$UPID"
