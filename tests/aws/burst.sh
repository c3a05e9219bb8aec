# tests/aws/burst.sh: issue item 10 against moto. 50 pods (one per node:
# a hostPort) arrive at once while the proxy adds 200 ms to every EC2 call
# and holds each CreateFleet answer 2.5 s; meanwhile the other cloud calls
# the controller makes are exercised with their answers held 3 s each: the
# EC2NodeClass spec changes (reconcile: DescribeSubnets, DescribeSecurity-
# Groups, ...), an orphan instance appears (garbage collection: Describe-
# Instances, TerminateInstances) and three NodeClaims are deleted
# (finalization: TerminateInstances). Cloud calls run off the controller's
# loop thread, so:
#   - the Lease keeps being renewed (below: the contract it is held to);
#   - watch events keep flowing while launches are in flight: a pod created
#     while CreateFleet calls are held shows up in the controller's
#     karpenter_pods_state metric within 3 s.
# Sourced by tests/aws/run after controller.sh (uses its helpers and the
# tagged default VPC). Prints the measured figures.

PORT=$(free_port)
D=$TMP/up-burst
KARPENTER_UP_CONTROLLER=off "$BIN" up --listen "127.0.0.1:$PORT" --data-dir "$D" >"$D.log" 2>&1 &
UPID=$!
PIDS="$PIDS $UPID"
KC=$D/kubeconfig
until_ok 15 test -f "$KC"
until_ok 15 curl -sk -o /dev/null "https://127.0.0.1:$PORT/readyz"
MPORT=$(free_port)
AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true \
	KARPENTER_GC_PERIOD=1s KARPENTER_GC_INSTANCE_GRACE=10s \
	"$BIN" controller --kubeconfig "$KC" --cloud-provider aws --cluster-name burst \
	--aws-endpoint "http://127.0.0.1:$PP" --aws-region us-east-1 --cluster-endpoint "https://127.0.0.1:$PORT" \
	--metrics-listen "127.0.0.1:$MPORT" --health-listen "" \
	--batch-idle-duration 500ms --batch-max-duration 2s >"$TMP/burst.log" 2>&1 &
BPID=$!
PIDS="$PIDS $BPID"

cat >"$TMP/burst.yaml" <<'EOF'
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: burst}
spec:
  template:
    spec:
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large, c5.large]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
  limits: {cpu: 1000}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: burst, namespace: default}
spec:
  replicas: 50
  selector: {matchLabels: {app: burst}}
  template:
    metadata: {labels: {app: burst}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - name: app
          image: public.ecr.aws/eks-distro/kubernetes/pause:3.7
          ports: [{containerPort: 8080, hostPort: 8080}]
          resources: {requests: {cpu: 100m, memory: 64Mi}}
EOF
K apply -f "$ROOT/examples/seed/nodeclass.yaml" >/dev/null 2>&1
until_ok 30 nc_ready
leader() { [ -n "$(K get lease -n kube-system karpenter-leader-election -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)" ]; }
until_ok 20 leader
HELD=3000
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{\"ssm\":{\"/aws/service/eks/optimized-ami/1.32/amazon-linux-2/recommended/image_id\":\"$AMI\"},\"delay_ms\":200,\"hold_ms\":{\"CreateFleet\":2500,\"TerminateInstances\":$HELD,\"DescribeInstances\":$HELD,\"DescribeSubnets\":$HELD,\"DescribeSecurityGroups\":$HELD}}" >/dev/null

# every Lease update, as written (renewTime is the controller's clock)
timeout 120 kubectl --kubeconfig "$KC" get lease -n kube-system karpenter-leader-election -w \
	-o jsonpath='{.spec.renewTime} {.spec.holderIdentity}{"\n"}' >"$TMP/lease.watch" 2>"$TMP/lease.err" &
WATCHER=$!
PIDS="$PIDS $WATCHER"
sleep 1

T0=$(date +%s.%N)
K apply -f "$TMP/burst.yaml" >/dev/null 2>&1
inflight() { curl -s "http://127.0.0.1:$PP/_proxy/inflight" | sed -n 's/.*"CreateFleet": *\([0-9]*\).*/\1/p'; }
fleets_held() { [ "$(inflight)" -ge 1 ] 2>/dev/null; }
if until_ok 40 fleets_held; then
	n_before=$(inflight)
	K run probe --image=public.ecr.aws/eks-distro/kubernetes/pause:3.7 --restart=Never >/dev/null 2>&1
	TP=$(date +%s.%N)
	probe_seen() { curl -s "http://127.0.0.1:$MPORT/metrics" | grep -q 'karpenter_pods_state{[^}]*name="probe"'; }
	if until_ok 3 probe_seen; then
		TS=$(date +%s.%N)
		n_after=$(inflight)
		lag=$(echo "$TS $TP" | awk '{printf "%.2f", $1 - $2}')
		if [ "${n_after:-0}" -ge 1 ]; then ok "burst: a pod created while $n_before CreateFleet calls were in flight reached the controller in ${lag}s ($n_after still in flight)"
		else bad "burst: watch during launches" "no CreateFleet in flight any more when the probe was seen"; fi
	else bad "burst: watch events while launches are in flight" "probe not in metrics within 3 s"; fi
else bad "burst: CreateFleet calls in flight" "$(inflight) $(tail -n 3 "$TMP/burst.log")"; fi

# the other cloud calls, during the burst: a node class spec change and an orphan
TC=$(date +%s.%N)
K patch ec2nodeclass default --type merge -p '{"spec":{"tags":{"burst":"1"}}}' >/dev/null 2>&1
BORPHAN=$(ec2 RunInstances "ImageId=$AMI&MinCount=1&MaxCount=1&InstanceType=t3.micro&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=karpenter.sh%2Fnodepool&TagSpecification.1.Tag.1.Value=burst&TagSpecification.1.Tag.2.Key=eks%3Aeks-cluster-name&TagSpecification.1.Tag.2.Value=burst&TagSpecification.1.Tag.3.Key=karpenter.sh%2Fnodeclaim&TagSpecification.1.Tag.3.Value=no-such-claim&TagSpecification.1.Tag.4.Key=karpenter.k8s.aws%2Fec2nodeclass&TagSpecification.1.Tag.4.Value=default" | xml_all instanceId | head -n 1)

all_launched() { [ "$(K get nodeclaims -o jsonpath='{range .items[*]}{.status.providerID}{"\n"}{end}' 2>/dev/null | grep -c 'aws:///')" -ge 50 ]; }
if until_ok 60 all_launched; then
	TL=$(date +%s.%N)
	ok "burst: 50 NodeClaims launched in $(echo "$TL $T0" | awk '{printf "%.1f", $1 - $2}')s with 200 ms per EC2 call, 2.5 s per CreateFleet, 3 s per DescribeInstances"
else bad "burst: 50 NodeClaims launched" "$(K get nodeclaims -o name 2>/dev/null | wc -l) claims; $(grep -c '"launched nodeclaim"' "$TMP/burst.log") launched"; fi

# item 5: identical CreateFleet requests arriving together were batched;
# every NodeClaim still got an instance of its own, tagged with its name
nfleet=$(curl -s "http://127.0.0.1:$PP/_proxy/log" | python3 -c 'import json,sys; t=float(sys.argv[1]); print(sum(1 for e in json.load(sys.stdin) if e["t"] > t and e["action"] == "CreateFleet"))' "$T0")
pids=$(K get nodeclaims -o jsonpath='{range .items[*]}{.metadata.name} {.status.providerID}{"\n"}{end}' 2>/dev/null | grep 'aws:///')
nids=$(printf '%s\n' "$pids" | awk '{print $2}' | sort -u | wc -l)
ids=""; i=1
for p in $(printf '%s\n' "$pids" | awk '{print $2}'); do ids="$ids&InstanceId.$i=${p##*/}"; i=$((i + 1)); done
tagged=$(ec2 DescribeInstances "${ids#&}" | python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
out = set()
for el in root.iter():
    if not el.tag.endswith("instancesSet"):
        continue
    for it in el:
        iid = [c.text for c in it if c.tag.endswith("}instanceId") or c.tag == "instanceId"]
        for ts in it:
            if not ts.tag.endswith("tagSet"):
                continue
            for t in ts:
                kv = {c.tag.split("}")[-1]: c.text for c in t}
                if kv.get("key") == "karpenter.sh/nodeclaim" and iid:
                    out.add(iid[0] + " " + (kv.get("value") or ""))
print("\n".join(sorted(out)))')
want=$(printf '%s\n' "$pids" | awk '{n=split($2, a, "/"); print a[n] " " $1}' | LC_ALL=C sort)
if [ "${nfleet:-0}" -ge 1 ] && [ "$nfleet" -lt 50 ] && [ "$nids" -ge 50 ] && [ "$tagged" = "$want" ]; then
	ok "burst: 50 launches took $nfleet CreateFleet calls (identical requests batched); $nids distinct instances, each tagged with its NodeClaim"
else bad "burst: CreateFleet batching" "CreateFleet calls=$nfleet instances=$nids missing: $(printf '%s\n' "$want" | grep -vxF "$tagged" | head -n 3 | tr '\n' ' ') ($(printf "%s\n" "$tagged" | grep -c .) tagged of $(printf "%s\n" "$want" | grep -c .))"; fi

# three NodeClaims deleted: finalization terminates their instances
DEL=$(K get nodeclaims -o jsonpath='{range .items[?(@.status.providerID)]}{.metadata.name}{"\n"}{end}' 2>/dev/null | head -n 3)
K delete nodeclaim $DEL --wait=false >/dev/null 2>&1
dels_gone() { for n in $DEL; do K get nodeclaim "$n" >/dev/null 2>&1 && return 1; done; return 0; }
borphan_gone() { [ -z "$(ec2 DescribeInstances "InstanceId.1=$BORPHAN&Filter.1.Name=instance-state-name&Filter.1.Value.1=pending&Filter.1.Value.2=running" | xml_all instanceId)" ]; }
until_ok 30 dels_gone; dg=$?
until_ok 30 borphan_gone; og=$?
nc_calls=$(curl -s "http://127.0.0.1:$PP/_proxy/log" | python3 -c 'import json,sys; t=float(sys.argv[1]); L=json.load(sys.stdin); print(sum(1 for e in L if e["t"] > t and e["action"] == "DescribeSubnets"), sum(1 for e in L if e["t"] > t and e["action"] == "TerminateInstances"))' "$TC")
if [ $dg = 0 ] && [ $og = 0 ] && [ "$(echo "$DEL" | wc -w)" -eq 3 ] && [ "${nc_calls%% *}" -ge 1 ] && [ "${nc_calls##* }" -ge 4 ] &&
	grep -q '"garbage collecting instance with no nodeclaim"' "$TMP/burst.log"; then
	ok "burst: during the window the class was reconciled (DescribeSubnets held 3 s), the orphan garbage-collected and 3 NodeClaims finalized (TerminateInstances held 3 s: ${nc_calls##* } calls)"
else bad "burst: reconcile, GC and termination during the window" "claims gone=$dg orphan gone=$og DescribeSubnets/TerminateInstances after the change: $nc_calls"; fi
TE=$(date +%s.%N)
kill "$WATCHER" 2>/dev/null; wait "$WATCHER" 2>/dev/null

# gaps between consecutive renewTime values in [T0 - 3 s, TE], and from the last to TE
read -r gap renewals holders <<EOT
$(python3 - "$TMP/lease.watch" "$T0" "$TE" <<'PY'
import sys, datetime
t0, te = float(sys.argv[2]) - 3, float(sys.argv[3])
ts, holders = [], set()
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 2:
        continue
    s = f[0].rstrip("Z")
    try:
        t = datetime.datetime.fromisoformat(s).replace(tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        continue
    holders.add(f[1])
    if not ts or t != ts[-1]:
        ts.append(t)
inwin = [t for t in ts if t >= t0]
before = [t for t in ts if t < t0]
pts = (before[-1:] + inwin) if inwin else before[-1:]
gaps = [b - a for a, b in zip(pts, pts[1:])]
if pts:
    gaps.append(te - pts[-1])
print("%.2f %d %d" % (max(gaps) if gaps else 99, len(inwin), len(holders)))
PY
)
EOT
# The contract is client-go's leaderelection as Karpenter configures it
# (lease 15 s, renew deadline 10 s, retry period 2 s): the leader renews
# within the renew deadline of its last renewal or gives up leading. So:
# the largest gap between consecutive renewTime values (as the controller
# wrote them, read from a watch, so the sampler's latency does not count),
# and from the last one to the end of the window, stays under 10 s; one
# holder; no "leader election lost"; the Lease acquired once (the leader
# loop never restarted). Not a tighter bound: a renewal comes 2 s (the
# retry period, counted from the end of the previous try like wait.Until's
# sliding period) after the previous try, plus that try's GET/PUT latency,
# plus whatever the loop thread was running when the timer fell due. Cloud
# calls are off that thread, but the provisioning pass (snapshot,
# scheduling, 50 NodeClaim creates) is on it and took 1.1-1.8 s at load
# average 10, so gaps of 4-5 s happen with no cloud call on the loop thread
# (the lifecycle queue, 3 s there before, now yields every 100 ms:
# src/ctrl/util.c QUEUE_SLICE_MS). What this no longer catches: one held
# 3 s call on the loop thread (a gap of about 5 s); the watch check above
# still catches CreateFleet there, and many held calls there (the 3
# finalizations) still pass the renew deadline.
acquired=$(grep -c '"successfully acquired lease"' "$TMP/burst.log")
if awk -v g="$gap" 'BEGIN { exit !(g > 0 && g < 10) }' && [ "$holders" -eq 1 ] && [ "$renewals" -ge 5 ] &&
	[ "$acquired" -eq 1 ] && ! grep -q '"leader election lost"' "$TMP/burst.log"; then
	ok "burst: Lease renewed $renewals times during the burst, largest gap ${gap}s between renewTime values (< renew deadline 10s), one holder, acquired once"
else bad "burst: Lease renewals" "gap=${gap}s renewals=$renewals holders=$holders acquired=$acquired $(head -c 300 "$TMP/lease.err")"; fi
echo "burst figures: lease max gap ${gap}s (renewTime), renewals $renewals, window $(echo "$TE $T0" | awk '{printf "%.1f", $1 - $2}')s"
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d '{}' >/dev/null
stop_pid "$BPID"
stop_pid "$UPID"
