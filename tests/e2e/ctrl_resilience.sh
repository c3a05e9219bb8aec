# tests/e2e/ctrl_resilience.sh: the controller under faults and crashes, end
# to end with the real kubectl against `karpenter up`. Sourced by
# tests/e2e/run (uses its start_server, stop_server, free_port, K, ok, bad,
# has, TMP, PIDS, BIN, ROOT, PY); starts and stops its own servers with short
# timings. Every wait is bounded. The simulated cloud's instances are read
# from DATA_DIR/cloud.json, which `up` rewrites on every change.
#
#  a. insufficient capacity: the cheapest offering of the seed workload
#     (m6g.4xlarge spot in us-east-1c; a weight-100 NodePool allows only it)
#     gets a NodeClaim while launches are held by a transient fault, then runs
#     out of capacity (rewritten fault file): the launch fails with
#     InsufficientCapacity, the NodeClaim is deleted, the offering hidden, and
#     a new NodeClaim from the default NodePool launches a different
#     offering; the pod runs. Then an
#     "all spot" rule from the rewritten fault file makes the next claim
#     on-demand (the file is re-read when it changes);
#  b. kill -9 of `up` mid-launch (slow boots keep the claim un-Initialized):
#     the state file holds exactly the claim's instance; the claim's status
#     is then wiped (as if the crash came between "instance created" and
#     "status written") and an orphan instance is planted; after the restart
#     the instance is reused (not launched twice), the orphan is garbage
#     collected, the pod runs, and claims, instances and Nodes agree;
#  c. API server restart under an external `karpenter controller`: `up`
#     (KARPENTER_UP_CONTROLLER=off) is killed with -9 and restarted while the
#     controller and a re-listing `kubectl get pods -w` run; a pod created
#     right after the restart is seen by both (the controller's informers
#     resume and it launches a NodeClaim for it). Instances launched by a
#     separate controller process live in its own simulated cloud, so they
#     never become Nodes in `up`: this part stops at Launched.

# cr_until SECONDS CMD...: retries CMD every 0.2 s until it succeeds
cr_until() {
	t=$(($1 * 5)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; t=$((t - 1)); done
	return 1
}
cr_log() { K logs -n karpenter karpenter-0 2>/dev/null; }
cr_running_node() {   # cr_running_node SELECTOR: node of a Running pod
	K get pods -l "$1" -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.spec.nodeName}{"\n"}{end}' 2>/dev/null | head -n 1
}
cr_has_running() { [ -n "$(cr_running_node "$1")" ]; }
cr_claim_of_node() {
	K get nodeclaims -o jsonpath="{range .items[?(@.status.nodeName==\"$1\")]}{.metadata.name}{end}" 2>/dev/null
}
cr_offering() {   # cr_offering CLAIM: "type zone capacity-type nodepool"
	K get nodeclaim "$1" -o jsonpath='{.metadata.labels.node\.kubernetes\.io/instance-type} {.metadata.labels.topology\.kubernetes\.io/zone} {.metadata.labels.karpenter\.sh/capacity-type} {.metadata.labels.karpenter\.sh/nodepool}' 2>/dev/null
}
cr_cond() { K get nodeclaim "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].status}" 2>/dev/null; }
cr_launched() { [ "$(cr_cond "$1" Launched)" = True ]; }
cr_first_claim() { K get nodeclaims -o jsonpath='{.items[0].metadata.name}' 2>/dev/null; }
cr_nclaims() { K get nodeclaims -o name 2>/dev/null | wc -l; }
# cr_instances DIR: "providerID nodeClaim deleting" per instance in the saved cloud state
cr_instances() {
	$PY -c '
import json, sys
for i in json.load(open(sys.argv[1]))["instances"]:
    print(i["providerID"], i["nodeClaim"], "deleting" if i["deleting"] else "live")' "$1/cloud.json" 2>/dev/null
}
cr_live() { cr_instances "$1" | awk '$3 == "live"'; }
cr_put() { printf '%s\n' "$2" >"$1.tmp" && mv "$1.tmp" "$1"; }   # atomic rewrite of a fault file
cr_kill9() { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

cat >"$TMP/cr-pools.yaml" <<'EOF2'
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: first}
spec:
  weight: 100
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
      - {key: node.kubernetes.io/instance-type, operator: In, values: [m6g.4xlarge]}
      - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1c]}
      - {key: karpenter.sh/capacity-type, operator: In, values: [spot]}
EOF2

# ---- a. insufficient capacity
PORT=$(free_port)
D=$TMP/res-ice
FA=$TMP/res-ice-faults.json
# launches fail (transiently) until the claim for the cheapest offering exists;
# then that offering runs out of capacity for good
cr_put "$FA" '{"failNext": [{"ops": ["create"], "error": "Transient", "message": "injected: hold the launch"}]}'
if start_server "$D" "$PORT" KARPENTER_UP_FAULTS="$FA"; then
	SR=$SPID
	KC=$D/kubeconfig
	K apply -f "$ROOT/examples/seed/nodeclass.yaml" -f "$ROOT/examples/seed/nodepool.yaml" -f "$TMP/cr-pools.yaml" >/dev/null 2>&1
	K apply -f "$ROOT/examples/seed/oversized-app.yaml" >/dev/null 2>&1
	cr_held() { [ "$(K get nodeclaims -o jsonpath='{.items[*].status.conditions[?(@.type=="Launched")].reason}' 2>/dev/null)" = LaunchFailed ]; }
	cr_until 20 cr_held
	NC0=$(cr_first_claim)
	case "$NC0" in first-*) ok "resilience: ICE: the first NodeClaim is for the cheapest offering ($NC0, launch held)" ;;
	*) bad "resilience: ICE: the first NodeClaim is for the cheapest offering" "'$NC0' $(K get nodeclaims 2>&1 | tail -n 2)" ;; esac
	cr_put "$FA" '{"insufficientCapacity": [{"instanceType": "m6g.4xlarge", "zone": "us-east-1c", "capacityType": "spot"}]}'
	if cr_until 30 cr_has_running app=oversized-app; then ok "resilience: ICE: the pod runs after the failed launch"
	else bad "resilience: ICE: the pod runs after the failed launch" "$(K get pods,nodeclaims 2>&1 | tail -n 4)"; fi
	out=$(cr_log)
	if printf '%s\n' "$out" | grep '"message":"deleted nodeclaim, insufficient capacity"' | grep -q '"NodeClaim":{"name":"first-'; then
		ok "resilience: ICE: the NodeClaim for the cheapest offering is deleted"
	else bad "resilience: ICE: the NodeClaim for the cheapest offering is deleted" "$(printf '%s\n' "$out" | grep -i capacity | tail -n 3)"; fi
	NC=$(cr_claim_of_node "$(cr_running_node app=oversized-app)")
	off=$(cr_offering "$NC")
	set -- $off
	if [ $# -eq 4 ] && [ "$1 $2 $3" != "m6g.4xlarge us-east-1c spot" ] && [ "$4" = default ]; then
		ok "resilience: ICE: a new NodeClaim launches another offering ($1 $2 $3)"
	else bad "resilience: ICE: a new NodeClaim launches another offering" "claim '$NC': '$off'"; fi
	if [ "$(cr_nclaims)" -eq 1 ] && ! printf '%s\n' "$out" | grep '"message":"launched nodeclaim"' | grep -q '"instance-type":"m6g.4xlarge","zone":"us-east-1c","capacity-type":"spot"'; then
		ok "resilience: ICE: the offering stays hidden (one NodeClaim, never launched there)"
	else bad "resilience: ICE: the offering stays hidden" "$(K get nodeclaims 2>&1)"; fi

	# the fault file is re-read: all spot is out of capacity now
	cr_put "$FA" '{"insufficientCapacity": [{"capacityType": "spot"}]}'
	cr_rules_applied() { cr_log | grep -q '"message":"fault file .* applied: 1 insufficient-capacity rules'; }
	if cr_until 5 cr_rules_applied; then ok "resilience: ICE: the rewritten fault file is applied"
	else bad "resilience: ICE: the rewritten fault file is applied" "$(cr_log | grep 'fault file' | tail -n 2)"; fi
	printf '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"res-od"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"res-od"}},"template":{"metadata":{"labels":{"app":"res-od"}},"spec":{"containers":[{"name":"c","image":"pause","resources":{"requests":{"cpu":"12","memory":"8Gi"}}}]}}}}' |
		K apply -f - >/dev/null 2>&1
	if cr_until 30 cr_has_running app=res-od; then
		off=$(cr_offering "$(cr_claim_of_node "$(cr_running_node app=res-od)")")
		set -- $off
		if [ "${3:-}" = on-demand ]; then ok "resilience: ICE: \"all spot\" from the rewritten fault file -> on-demand ($1 $2)"
		else bad "resilience: ICE: all spot -> on-demand" "$off"; fi
	else bad "resilience: ICE: all spot -> on-demand" "$(K get pods,nodeclaims 2>&1 | tail -n 4)"; fi
	stop_server "$SR" >/dev/null
else
	bad "resilience: start server (ICE)"
fi

# ---- b. kill -9 mid-launch, restart on the same data directory
PORT=$(free_port)
D=$TMP/res-crash
FB=$TMP/res-crash-faults.json
cr_put "$FB" '{"bootDelay": {"delay": "4s"}}'
GCENV="KARPENTER_GC_PERIOD=1s KARPENTER_GC_INSTANCE_GRACE=1s"
if start_server "$D" "$PORT" $GCENV KARPENTER_UP_FAULTS="$FB"; then
	SR=$SPID
	KC=$D/kubeconfig
	K apply -f "$ROOT/examples/seed/" >/dev/null 2>&1
	cr_until 20 sh -c "[ -n \"\$(kubectl --kubeconfig '$KC' get nodeclaims -o name 2>/dev/null)\" ]"
	NC=$(cr_first_claim)
	cr_until 10 cr_launched "$NC"
	init=$(cr_cond "$NC" Initialized)
	PIDB=$(K get nodeclaim "$NC" -o jsonpath='{.status.providerID}' 2>/dev/null)
	cr_kill9 "$SR"
	live=$(cr_live "$D")
	if [ -n "$NC" ] && [ "$init" != True ] && [ "$live" = "$PIDB $NC live" ]; then
		ok "resilience: crash: killed mid-launch; the saved cloud holds exactly the claim's instance"
	else bad "resilience: crash: killed mid-launch with the instance saved" "claim '$NC' initialized '$init' instances '$live' pid '$PIDB'"; fi

	# the crash window: the instance exists, the claim's status was never written
	if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off; then
		K patch nodeclaim "$NC" --subresource=status --type=merge -p '{"status": null}' >/dev/null 2>&1
		st=$(K get nodeclaim "$NC" -o jsonpath='{.status.providerID}{.status.conditions}' 2>/dev/null)
		stop_server "$SPID" >/dev/null
	else st=unreachable; fi
	# and an orphan: an instance whose NodeClaim does not exist (it never boots)
	$PY -c '
import json, sys
p = sys.argv[1]; s = json.load(open(p)); i = dict(s["instances"][0])
i["id"] = "i-0ffffffffffffff01"; i["providerID"] = i["providerID"].rsplit("/", 1)[0] + "/" + i["id"]
i["nodeClaim"] = "ghost-orphan"; i["runningMs"] = None; i["createdMs"] -= 60000; i["reportedRunning"] = False
s["instances"].append(i); open(p, "w").write(json.dumps(s))' "$D/cloud.json" 2>/dev/null
	[ -z "$st" ] || bad "resilience: crash: wipe the claim's status" "$st"

	cr_put "$FB" '{}'
	if start_server "$D" "$PORT" $GCENV KARPENTER_UP_FAULTS="$FB"; then
		SR=$SPID
		if cr_until 30 cr_has_running app=oversized-app; then ok "resilience: crash: the pod ends Running after the restart"
		else bad "resilience: crash: the pod ends Running after the restart" "$(K get pods,nodeclaims 2>&1 | tail -n 4)"; fi
		cr_until 10 sh -c "[ \"\$(kubectl --kubeconfig '$KC' get nodeclaim '$NC' -o jsonpath='{.status.conditions[?(@.type==\"Initialized\")].status}')\" = True ]"
		pid2=$(K get nodeclaim "$NC" -o jsonpath='{.status.providerID}' 2>/dev/null)
		if [ "$pid2" = "$PIDB" ] && [ "$(cr_nclaims)" -eq 1 ] && [ "$(cr_cond "$NC" Initialized)" = True ]; then
			ok "resilience: crash: the claim reuses its instance (found by its NodeClaim tag)"
		else bad "resilience: crash: the claim reuses its instance" "before '$PIDB' after '$pid2' claims $(cr_nclaims)"; fi
		orphan_gone() { cr_instances "$D" | grep -q 'ghost-orphan deleting' || ! cr_instances "$D" | grep -q ghost-orphan; }
		if cr_until 10 orphan_gone && cr_log | grep -q '"message":"garbage collecting instance with no nodeclaim"'; then
			ok "resilience: crash: the orphaned instance is garbage collected"
		else bad "resilience: crash: the orphaned instance is garbage collected" "$(cr_instances "$D")"; fi
		sleep 2   # two more GC passes: nothing else may go
		claims=$(K get nodeclaims -o jsonpath='{range .items[*]}{.status.providerID} {.metadata.name} live{"\n"}{end}' 2>/dev/null)
		live=$(cr_live "$D")
		nodes=$(K get nodes -o jsonpath='{range .items[*]}{.spec.providerID}{"\n"}{end}' 2>/dev/null | grep -cxF "$PIDB")
		if [ -n "$live" ] && [ "$live" = "$claims" ] && [ "$nodes" -eq 1 ]; then
			ok "resilience: crash: NodeClaims and instances agree, one Node ($live)"
		else bad "resilience: crash: NodeClaims and instances agree" "claims '$claims' instances '$live' nodes $nodes"; fi
		nl=$(cr_log | grep -c '"message":"launched nodeclaim"')
		if [ "$nl" -ge 1 ] && [ "$(cr_log | grep '"message":"launched nodeclaim"' | grep -cvF "\"provider-id\":\"$PIDB\"")" -eq 0 ]; then
			ok "resilience: crash: never launched twice (every launch record names the one instance)"
		else bad "resilience: crash: never launched twice" "$(cr_log | grep '"message":"launched nodeclaim"' | cut -c1-200)"; fi
		stop_server "$SR" >/dev/null
	else
		bad "resilience: crash: restart on the same data directory" "$(tail -n 5 "$D.log")"
	fi
else
	bad "resilience: start server (crash)"
fi

# ---- c. API server restart under an external controller and a watch
PORT=$(free_port)
D=$TMP/res-api
cr_pod() {   # cr_pod NAME: a pod that needs a new node
	printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","labels":{"app":"res-api"}},"spec":{"containers":[{"name":"c","image":"pause","resources":{"requests":{"cpu":"8","memory":"16Gi"}}}]}}' "$1" |
		K apply -f - >/dev/null 2>&1
}
cr_claims_launched() {   # cr_claims_launched N: N NodeClaims, all Launched
	[ "$(K get nodeclaims -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Launched")].status}{"\n"}{end}' 2>/dev/null | grep -c True)" -eq "$1" ]
}
if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off; then
	SR=$SPID
	KC=$D/kubeconfig
	MP=$(free_port); HP=$(free_port)
	"$BIN" controller --kubeconfig "$KC" --launch-delay 0s --metrics-listen "127.0.0.1:$MP" \
		--health-listen "127.0.0.1:$HP" >"$TMP/res-ext.log" 2>&1 &
	CP=$!; PIDS="$PIDS $CP"
	# a client that re-lists and re-watches whenever its watch ends, as reflectors do
	(
		while [ ! -f "$TMP/res-watch.stop" ]; do
			timeout 20 kubectl --kubeconfig "$KC" get pods -w -o name 2>/dev/null
			sleep 0.2
		done
	) >"$TMP/res-watch.out" &
	WP=$!; PIDS="$PIDS $WP"
	K apply -f "$ROOT/examples/seed/nodeclass.yaml" -f "$ROOT/examples/seed/nodepool.yaml" >/dev/null 2>&1
	cr_pod res-before
	if cr_until 20 cr_claims_launched 1; then ok "resilience: api restart: the external controller launches a NodeClaim"
	else bad "resilience: api restart: the external controller launches a NodeClaim" "$(tail -n 3 "$TMP/res-ext.log")"; fi
	cr_kill9 "$SR"
	if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off; then
		SR=$SPID
		cr_pod res-after   # right after the restart, before the clients reconnect
		K create configmap res-after-cm >/dev/null 2>&1
		if cr_until 25 cr_claims_launched 2; then
			ok "resilience: api restart: the controller's informers resume and it provisions for a pod created after the restart"
		else bad "resilience: api restart: the controller provisions after the restart" "$(K get nodeclaims 2>&1; tail -n 3 "$TMP/res-ext.log")"; fi
		if kill -0 "$CP" 2>/dev/null && ! grep -q '"leader election lost"' "$TMP/res-ext.log"; then
			ok "resilience: api restart: the controller kept running and leading"
		else bad "resilience: api restart: the controller kept running and leading" "$(tail -n 3 "$TMP/res-ext.log")"; fi
		w_has() { grep -qx "pod/$1" "$TMP/res-watch.out"; }
		if cr_until 10 w_has res-after && w_has res-before; then ok "resilience: api restart: the re-listing watch sees every pod"
		else bad "resilience: api restart: the re-listing watch sees every pod" "$(sort -u "$TMP/res-watch.out" | tr '\n' ' ')"; fi
		if K get configmap res-after-cm >/dev/null 2>&1; then ok "resilience: api restart: writes right after the restart are kept"
		else bad "resilience: api restart: writes right after the restart are kept"; fi
	else
		bad "resilience: api restart: restart" "$(tail -n 5 "$D.log")"
	fi
	: >"$TMP/res-watch.stop"
	stop_server "$CP" >/dev/null
	stop_server "$SR" >/dev/null   # ends the watch, and the loop sees the stop file
	i=0; while kill -0 "$WP" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$WP" 2>/dev/null; then
		for p in $(ps -o pid= --ppid "$WP" 2>/dev/null); do kill "$p" 2>/dev/null; done
		kill "$WP" 2>/dev/null
	fi
	wait "$WP" 2>/dev/null
else
	bad "resilience: start server (api restart)"
fi
