# tests/e2e/install.sh: the install proof (docs/install.md). Sourced by
# tests/e2e/run (uses free_port, stop_server, ok, bad, has, TMP, PIDS, BIN,
# ROOT); starts and stops its own server. Every wait is bounded; about 40 s.
#
#  1. `karpenter up --no-controller --cloud-listen`, then `kubectl apply -k
#     deploy/` (the Deployment scaled to 0: up runs no containers, so the
#     controller runs as a process, "as the pod" below);
#  2. `kubectl auth can-i --as=system:serviceaccount:karpenter:karpenter`
#     says yes for every verb of the shipped ClusterRole and Role and no
#     for what they leave out; `kubectl auth whoami` with the SA's token;
#  3. `karpenter controller` as that ServiceAccount through in-cluster
#     configuration (KUBERNETES_SERVICE_HOST/PORT, token, ca.crt, namespace
#     from a TokenRequest), the simulated cloud through --cloud-endpoint:
#     the getting-started walkthrough (examples/seed) runs its pod on a
#     launched Node and consolidates it away, with no 403 in the log;
#  4. one rule removed from the ClusterRole: the controller reports the
#     API server's 403 (naming user, verb, resource) and, once
#     `kubectl apply -k deploy/` restores it, provisions again.

in_until() {   # in_until SECONDS CMD...: retries CMD every 0.2 s until it succeeds
	t=$(($1 * 5)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; t=$((t - 1)); done
	return 1
}
IK() { timeout 20 kubectl --kubeconfig "$IKC" "$@"; }
in_sa="system:serviceaccount:karpenter:karpenter"

IPORT=$(free_port)
ICPORT=$(free_port)
ID=$TMP/install
"$BIN" up --listen "127.0.0.1:$IPORT" --data-dir "$ID" --launch-delay 0s --no-controller \
	--cloud-listen "127.0.0.1:$ICPORT" >"$ID.log" 2>&1 &
IS=$!
PIDS="$PIDS $IS"
if in_until 10 sh -c "[ -f '$ID/kubeconfig' ] && curl -sk -o /dev/null https://127.0.0.1:$IPORT/readyz"; then
	ok "install: up --no-controller --cloud-listen starts"
else
	bad "install: up --no-controller --cloud-listen starts" "$(tail -n 5 "$ID.log")"
fi
IKC=$ID/kubeconfig
if in_until 10 grep -qF "simulated cloud served on http://127.0.0.1:$ICPORT" "$ID.log"; then ok "install: up serves its cloud"
else bad "install: up serves its cloud" "want port $ICPORT: $(sed -n 3p "$ID.log")"; fi

# ---- 1. the manifests
out=$(IK apply -k "$ROOT/deploy/" 2>&1)
if [ $? -eq 0 ] && has "$out" "clusterrole.rbac.authorization.k8s.io/karpenter created" && has "$out" "deployment.apps/karpenter created"; then
	ok "install: kubectl apply -k deploy/"
else
	bad "install: kubectl apply -k deploy/" "$out"
fi
IK -n karpenter scale deployment karpenter --replicas=0 >/dev/null 2>&1

# ---- 2. can-i for each verb of the shipped roles, and what they leave out
rules=$(IK get clusterrole karpenter -o jsonpath='{range .rules[*]}{.apiGroups[0]}|{.resources}|{.verbs}{"\n"}{end}' 2>&1 | tr -d '[]"')
nyes=0; nno=""
while IFS='|' read -r grp ress verbs; do
	[ -n "$ress" ] || continue
	for r in $(printf '%s' "$ress" | tr ',' ' '); do
		for v in $(printf '%s' "$verbs" | tr ',' ' '); do
			sub=${r#*/}; [ "$sub" = "$r" ] && sub=""
			res=${r%%/*}; [ -n "$grp" ] && res="$res.$grp"
			a=$(IK auth can-i "$v" "$res" ${sub:+--subresource=$sub} --as="$in_sa" 2>/dev/null)
			if [ "$a" = yes ]; then nyes=$((nyes + 1)); else nno="$nno $v:$res=$a"; fi
		done
	done
done <<EOF2
$rules
EOF2
if [ $nyes -ge 30 ] && [ -z "$nno" ]; then ok "install: can-i yes for all $nyes verbs of the ClusterRole"
else bad "install: can-i yes for every verb of the ClusterRole" "$nyes yes;$nno"; fi
a=$(IK auth can-i get leases -n karpenter --as="$in_sa" 2>&1)
b=$(IK auth can-i update leases/karpenter-leader-election -n karpenter --as="$in_sa" 2>&1)
c=$(IK auth can-i update leases/other -n karpenter --as="$in_sa" 2>&1)
d=$(IK auth can-i get leases -n kube-system --as="$in_sa" 2>&1)
if [ "$a $b $c $d" = "yes yes no no" ]; then ok "install: can-i for the lease Role (resourceNames, namespace)"
else bad "install: can-i for the lease Role" "$a $b $c $d"; fi
out=""
for q in "get secrets -A" "create pods -n default" "create nodes" "delete nodepools.karpenter.sh" "get pods -n default" "update deployments.apps -n default" "create serviceaccounts --subresource=token -n karpenter" "update nodepools.karpenter.sh --subresource=finalizers"; do
	# shellcheck disable=SC2086
	a=$(IK auth can-i $q --as="$in_sa" 2>/dev/null); [ "$a" = no ] || out="$out [$q: $a]"
done
if [ -z "$out" ]; then ok "install: can-i no for what the roles leave out"; else bad "install: can-i no for what the roles leave out" "$out"; fi
out=$(IK auth can-i --list --as="$in_sa" 2>&1)
if has "$out" "nodeclaims.karpenter.sh" && has "$out" "pods/eviction"; then ok "install: can-i --list"; else bad "install: can-i --list" "$out"; fi

# ---- the ServiceAccount as a pod sees it
SA=$ID-sa
mkdir -p "$SA"
IK create token karpenter -n karpenter --duration=2h >"$SA/token" 2>"$SA.err"
cp "$ID/ca.crt" "$SA/ca.crt" 2>/dev/null
printf karpenter >"$SA/namespace"
if [ -s "$SA/token" ] && has "$(head -c 3 "$SA/token")" "eyJ"; then ok "install: kubectl create token (TokenRequest)"
else bad "install: kubectl create token (TokenRequest)" "$(cat "$SA.err")"; fi
out=$(timeout 20 kubectl --server "https://127.0.0.1:$IPORT" --certificate-authority "$SA/ca.crt" --token "$(cat "$SA/token")" auth whoami 2>&1)
if has "$out" "$in_sa" && has "$out" "system:serviceaccounts:karpenter"; then ok "install: auth whoami with the token"
else bad "install: auth whoami with the token" "$out"; fi
out=$(curl -sk -m 10 -H "Authorization: Bearer $(cat "$SA/token")" "https://127.0.0.1:$IPORT/api/v1/secrets")
if has "$out" '"code":403' && has "$out" "secrets is forbidden: User \\\"$in_sa\\\" cannot list resource \\\"secrets\\\" in API group \\\"\\\" at the cluster scope"; then
	ok "install: 403 Status as the API server writes it"; else bad "install: 403 Status as the API server writes it" "$out"; fi

# ---- 3. the controller as that ServiceAccount, in-cluster configuration
in_ctl_start() {
	env -u KUBECONFIG KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$IPORT" \
		KARPENTER_SERVICEACCOUNT_DIR="$SA" SYSTEM_NAMESPACE=karpenter HOME="$ID" BATCH_IDLE_DURATION=300ms \
		"$BIN" controller --metrics-listen= --health-listen= --cloud-endpoint "http://127.0.0.1:$ICPORT" \
		>>"$ID-ctl.log" 2>&1 &
	IC=$!
	PIDS="$PIDS $IC"
}
in_ctl_start
in_running() { [ "$(IK get pods -l app=oversized-app -o jsonpath='{.items[0].status.phase}' 2>/dev/null)" = Running ]; }
IK apply -f "$ROOT/examples/seed/" >/dev/null 2>&1
if in_until 40 in_running; then ok "install: walkthrough: the pod runs on a Node the controller launched"
else bad "install: walkthrough: the pod runs on a Node the controller launched" "$(IK get nodeclaims,nodes,pods -o wide 2>&1 | tail -n 6; tail -n 3 "$ID-ctl.log")"; fi
if has "$(IK get lease -n karpenter karpenter-leader-election -o jsonpath='{.spec.holderIdentity}' 2>&1)" "_"; then
	ok "install: leader election in the karpenter namespace"; else bad "install: leader election in the karpenter namespace"; fi
IK scale deployment oversized-app --replicas=0 >/dev/null 2>&1
in_no_nodes() { [ -z "$(IK get nodes -o name 2>/dev/null)" ] && [ -z "$(IK get nodeclaims -o name 2>/dev/null)" ]; }
if in_until 40 in_no_nodes; then ok "install: walkthrough: the empty node is consolidated away"
else bad "install: walkthrough: the empty node is consolidated away" "$(IK get nodeclaims,nodes 2>&1)"; fi
n403=$(grep -c -i -E 'forbidden|" 403|code 403' "$ID-ctl.log")
if [ "$n403" -eq 0 ] && [ -s "$ID-ctl.log" ]; then ok "install: no 403 in the controller's log ($(wc -l <"$ID-ctl.log") lines)"
else bad "install: no 403 in the controller's log" "$(grep -i -m 3 forbidden "$ID-ctl.log")"; fi

# ---- 4. one rule removed: a clear 403, then recovery
IK get clusterrole karpenter -o json >"$ID-role.json" 2>/dev/null
/usr/bin/python3 - "$ID-role.json" >"$ID-role-cut.json" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1]))
for rule in r["rules"]:
    if rule.get("resources") == ["nodeclaims"]:
        rule["verbs"] = [v for v in rule["verbs"] if v != "create"]
for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
    r["metadata"].pop(k, None)
print(json.dumps(r))
EOF2
if IK replace -f "$ID-role-cut.json" >/dev/null 2>&1 && [ "$(IK auth can-i create nodeclaims.karpenter.sh --as="$in_sa" 2>/dev/null)" = no ]; then
	ok "install: ClusterRole without nodeclaims create"; else bad "install: ClusterRole without nodeclaims create"; fi
IK scale deployment oversized-app --replicas=1 >/dev/null 2>&1
want="nodeclaims.karpenter.sh is forbidden: User \\\"$in_sa\\\" cannot create resource \\\"nodeclaims\\\" in API group \\\"karpenter.sh\\\" at the cluster scope"
in_log_403() { grep -qF -- "$want" "$ID-ctl.log"; }
if in_until 30 in_log_403; then ok "install: the controller reports the 403 ($(grep -cF -- "$want" "$ID-ctl.log") lines)"
else bad "install: the controller reports the 403" "$(tail -n 3 "$ID-ctl.log")"; fi
if [ -z "$(IK get nodeclaims -o name 2>/dev/null)" ]; then ok "install: nothing launched without the permission"
else bad "install: nothing launched without the permission" "$(IK get nodeclaims 2>&1)"; fi
IK apply -k "$ROOT/deploy/" >/dev/null 2>&1
if in_until 40 in_running; then ok "install: with the rule back the controller provisions again"
else bad "install: with the rule back the controller provisions again" "$(IK get nodeclaims,pods 2>&1; tail -n 3 "$ID-ctl.log")"; fi
if kill -0 "$IC" 2>/dev/null && stop_server "$IC"; then ok "install: the controller ran throughout and stops cleanly"
else bad "install: the controller ran throughout and stops cleanly" "$(tail -n 3 "$ID-ctl.log")"; fi
stop_server "$IS" >/dev/null 2>&1
