# tests/aws/burst.sh: issue item 10 against moto. 50 pods (one per node:
# a hostPort) arrive at once while the proxy adds 200 ms to every EC2 call
# and holds each CreateFleet answer 2.5 s. Cloud calls run off the
# controller's loop thread, so:
#   - the Lease keeps being renewed (largest gap between renewTime values
#     stays far below the 10 s renew deadline; no leadership loss);
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
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{\"ssm\":{\"/aws/service/eks/optimized-ami/1.32/amazon-linux-2/recommended/image_id\":\"$AMI\"},\"delay_ms\":200,\"hold_ms\":{\"CreateFleet\":2500}}" >/dev/null
MPORT=$(free_port)
AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true \
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
HOLDER=$(K get lease -n kube-system karpenter-leader-election -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)

# sample the Lease's renewTime every 0.25 s in the background
( end=$(($(date +%s) + 45)); last=""
  while [ "$(date +%s)" -lt "$end" ]; do
	r=$(timeout 5 kubectl --kubeconfig "$KC" get lease -n kube-system karpenter-leader-election \
		-o jsonpath='{.spec.renewTime} {.spec.holderIdentity}' 2>/dev/null)
	[ -n "$r" ] && [ "$r" != "$last" ] && { echo "$(date +%s.%N) $r"; last=$r; }
	sleep 0.25
  done ) >"$TMP/lease.samples" 2>/dev/null &
SAMPLER=$!
PIDS="$PIDS $SAMPLER"

T0=$(date +%s.%N)
K apply -f "$TMP/burst.yaml" >/dev/null 2>&1
inflight() { curl -s "http://127.0.0.1:$PP/_proxy/inflight" | sed -n 's/.*"CreateFleet": *\([0-9]*\).*/\1/p'; }
fleets_held() { [ "$(inflight)" -ge 3 ] 2>/dev/null; }
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

all_launched() { [ "$(K get nodeclaims -o jsonpath='{range .items[*]}{.status.providerID}{"\n"}{end}' 2>/dev/null | grep -c 'aws:///')" -ge 50 ]; }
if until_ok 60 all_launched; then
	TL=$(date +%s.%N)
	ok "burst: 50 NodeClaims launched in $(echo "$TL $T0" | awk '{printf "%.1f", $1 - $2}')s with 200 ms per EC2 call and 2.5 s per CreateFleet"
else bad "burst: 50 NodeClaims launched" "$(K get nodeclaims -o name 2>/dev/null | wc -l) claims; $(grep -c '"launched nodeclaim"' "$TMP/burst.log") launched"; fi
kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
gap=$(awk -v t0="$T0" '$1 >= t0 - 3 { if (p) { g = $1 - p; if (g > m) m = g } p = $1 } END { printf "%.2f", m }' "$TMP/lease.samples")
renewals=$(awk -v t0="$T0" '$1 >= t0' "$TMP/lease.samples" | wc -l)
holders=$(awk '{print $3}' "$TMP/lease.samples" | sort -u | wc -l)
if awk -v g="$gap" 'BEGIN { exit !(g > 0 && g < 5) }' && [ "$holders" -eq 1 ] && [ "$renewals" -ge 5 ] &&
	! grep -q '"leader election lost"' "$TMP/burst.log"; then
	ok "burst: Lease renewed $renewals times during the burst, largest gap ${gap}s (renew deadline 10s), one holder"
else bad "burst: Lease renewals" "gap=${gap}s renewals=$renewals holders=$holders"; fi
echo "burst figures: lease max gap ${gap}s, renewals $renewals"
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d '{}' >/dev/null
stop_pid "$BPID"
stop_pid "$UPID"
