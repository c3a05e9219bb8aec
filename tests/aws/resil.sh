# tests/aws/resil.sh: cloud errors at the controller level (issue 9's
# "wrong secret -> AuthFailure ..., not a crash" and "moto restarted
# mid-run -> recovered"). Sourced by tests/aws/controller.sh while its
# second controller runs (uses K, until_ok, ok, bad, AMI, MP, PP, TMP, ROOT,
# CPID, PIDS); its log is $TMP/ctrl2.log.
#
#  1. the proxy answers 401 AuthFailure to CreateFleet: the pending pod's
#     NodeClaim gets Launched=False, reason LaunchFailed, a message naming
#     AuthFailure (launch.go: a Create error other than insufficient
#     capacity / NodeClass not ready sets the condition and requeues), the
#     log has an error line naming AuthFailure, the controller is the same
#     process; once the injection is lifted the claim launches.
#  2. moto keeps its state in memory, so "moto restarted" is simulated by
#     stopping the proxy in front of it (the endpoint the controller uses)
#     and starting it again on the same port: while it is down a launch
#     fails with a connection error (logged, retried), the controller stays
#     up and keeps the Lease; once it is back the launch succeeds.

RLOG=$TMP/ctrl2.log
SSM_RULE="\"ssm\":{\"/aws/service/eks/optimized-ami/1.32/amazon-linux-2/recommended/image_id\":\"$AMI\"}"
r_yaml() { # POD: a pod of pool-x needing a node of its own (1.5 of m5.large's 2 CPUs)
	cat <<EOT
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: default}
spec:
  nodeSelector: {karpenter.sh/nodepool: pool-x}
  terminationGracePeriodSeconds: 0
  containers:
    - name: app
      image: public.ecr.aws/eks-distro/kubernetes/pause:3.7
      resources: {requests: {cpu: 1500m, memory: 64Mi}}
EOT
}
cat >"$TMP/resil.yaml" <<EOT
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: pool-x}
spec:
  template:
    spec:
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
---
$(r_yaml pod-x1)
EOT
x_claims() { K get nodeclaims -l karpenter.sh/nodepool=pool-x -o jsonpath='{range .items[*]}{.metadata.name} {.status.providerID}{"\n"}{end}' 2>/dev/null; }
x_launched() { [ "$(x_claims | grep -c ' aws:///')" -ge "$1" ]; }

# ---- 1. AuthFailure on CreateFleet
R_CPID=$CPID
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{$SSM_RULE,\"auth_fail\":[\"CreateFleet\"]}" >/dev/null
K apply -f "$TMP/resil.yaml" >/dev/null 2>&1
x_authcond() {
	K get nodeclaims -l karpenter.sh/nodepool=pool-x -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Launched")].status} {.status.conditions[?(@.type=="Launched")].reason} {.status.conditions[?(@.type=="Launched")].message}{"\n"}{end}' 2>/dev/null |
		grep -q '^False LaunchFailed .*AuthFailure'
}
if until_ok 20 x_authcond; then
	ok "resil: AuthFailure on CreateFleet -> NodeClaim Launched=False LaunchFailed naming AuthFailure"
else bad "resil: AuthFailure in the NodeClaim condition" "$(K get nodeclaims -l karpenter.sh/nodepool=pool-x -o jsonpath='{.items[*].status.conditions}' 2>&1 | head -c 400)"; fi
if grep '"level":"ERROR"' "$RLOG" | grep '"failed launching nodeclaim"' | grep '"pool-x-' | grep -q 'AuthFailure'; then
	ok "resil: the controller log has an error line naming AuthFailure"
else bad "resil: AuthFailure in the log" "$(grep -i 'auth' "$RLOG" | tail -n 2)"; fi
if [ "$CPID" = "$R_CPID" ] && kill -0 "$CPID" 2>/dev/null; then ok "resil: the controller is still running after AuthFailure (pid $CPID)"
else bad "resil: controller alive after AuthFailure" "pid $CPID $(tail -n 3 "$RLOG")"; fi
curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{$SSM_RULE}" >/dev/null
if until_ok 20 x_launched 1; then ok "resil: injection lifted -> the NodeClaim of pool-x launches"
else bad "resil: launch after AuthFailure is lifted" "$(x_claims) $(grep -i error "$RLOG" | tail -n 2)"; fi

# ---- 2. the endpoint goes away and comes back (the proxy restarted on its port)
R_PPID=""
for p in $PIDS; do
	tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q "proxy.py $PP " && R_PPID=$p
done
lease() { K get lease -n kube-system karpenter-leader-election -o jsonpath='{.spec.holderIdentity} {.spec.renewTime}' 2>/dev/null; }
L0=$(lease)
errs0=$(grep -c '"failed launching nodeclaim"' "$RLOG")
if [ -n "$R_PPID" ]; then
	kill "$R_PPID" 2>/dev/null; wait "$R_PPID" 2>/dev/null
	r_yaml pod-x2 | K apply -f - >/dev/null 2>&1
	# a new error line for a pool-x claim, not launched: a connection error
	x_connerr() {
		[ "$(grep -c '"failed launching nodeclaim"' "$RLOG")" -gt "$errs0" ] &&
			grep '"failed launching nodeclaim"' "$RLOG" | tail -n 1 | grep '"pool-x-' | grep -qv 'AuthFailure'
	}
	if until_ok 20 x_connerr && ! x_launched 2; then
		ok "resil: endpoint down -> launch fails with a logged error ($(grep '"failed launching nodeclaim"' "$RLOG" | tail -n 1 | sed -n 's/.*"error":"\([^"]*\)".*/\1/p' | head -c 80))"
	else bad "resil: launch error while the endpoint is down" "$(tail -n 3 "$RLOG")"; fi
	sleep 3   # a few retries against the dead endpoint (retry period 2 s for the Lease)
	if [ "$CPID" = "$R_CPID" ] && kill -0 "$CPID" 2>/dev/null; then ok "resil: the controller is still running with the endpoint down"
	else bad "resil: controller alive with the endpoint down" "$(tail -n 3 "$RLOG")"; fi
	L1=$(lease)
	if [ -n "$L0" ] && [ "${L1%% *}" = "${L0%% *}" ] && [ "$L1" != "$L0" ] && ! grep -q 'leader election lost' "$RLOG"; then
		ok "resil: the Lease stays held and renewed while the endpoint is down"
	else bad "resil: Lease while the endpoint is down" "before '$L0' after '$L1'"; fi
	python3 "$ROOT/tests/aws/proxy.py" "$PP" "http://127.0.0.1:$MP" >>"$TMP/proxy.log" 2>&1 &
	PIDS="$PIDS $!"
	until_ok 10 curl -s -o /dev/null "http://127.0.0.1:$PP/_proxy/log"
	curl -s -X POST "http://127.0.0.1:$PP/_proxy/rules" -d "{$SSM_RULE}" >/dev/null
	if until_ok 20 x_launched 2; then ok "resil: endpoint back -> the second NodeClaim of pool-x launches, same controller"
	else bad "resil: launch after the endpoint is back" "$(x_claims) $(tail -n 3 "$RLOG")"; fi
else bad "resil: the proxy on port $PP not found among the test's processes"; fi
K delete pod pod-x2 --wait=false >/dev/null 2>&1
K delete -f "$TMP/resil.yaml" --wait=false >/dev/null 2>&1
