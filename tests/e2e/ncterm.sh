# tests/e2e/ncterm.sh: the EC2NodeClass termination finalizer on `karpenter
# up` (simulated cloud): the class of the getting-started walkthrough gets
# karpenter.k8s.aws/termination; deleting it while its NodeClaim lives
# leaves it Terminating with a WaitingOnNodeClaimTermination event; the
# getting-started cleanup (delete the NodePool, then the EC2NodeClass)
# finishes once the NodeClaim is gone. Sourced by tests/e2e/run (uses its
# start_server, stop_server, free_port, K, ok, bad, TMP, ROOT); starts and
# stops its own server. Every wait is bounded. About 10 s.

nt_until() {   # nt_until SECONDS CMD...: retries CMD every 0.25 s until it succeeds
	t=$(($1 * 4)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; t=$((t - 1)); done
	return 1
}
PORT=$(free_port)
D=$TMP/ncterm
if start_server "$D" "$PORT"; then
	SN=$SPID
	KC=$D/kubeconfig
	K apply -f "$ROOT/examples/seed/" >/dev/null 2>&1
	nt_fin() { K get ec2nodeclass default -o jsonpath='{.metadata.finalizers}' 2>/dev/null | grep -q 'karpenter.k8s.aws/termination'; }
	nt_launched() { [ -n "$(K get nodeclaims -o jsonpath='{.items[*].status.providerID}' 2>/dev/null)" ]; }
	if nt_until 30 nt_fin && nt_until 30 nt_launched; then
		ok "ncterm: the EC2NodeClass gets karpenter.k8s.aws/termination; a NodeClaim launches"
		NTC=$(K get nodeclaims -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
		K delete ec2nodeclass default --wait=false >/dev/null 2>&1
		nt_event() {
			K get events -A -o jsonpath='{range .items[?(@.reason=="WaitingOnNodeClaimTermination")]}{.involvedObject.name}: {.message}{"\n"}{end}' 2>/dev/null |
				grep -qF "default: Waiting on NodeClaim termination for $NTC"
		}
		if nt_until 10 nt_event && [ -n "$(K get ec2nodeclass default -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)" ]; then
			ok "ncterm: the deleted class waits for NodeClaim $NTC (Terminating, WaitingOnNodeClaimTermination event)"
		else bad "ncterm: the deleted class waits for its NodeClaim" "$(K get ec2nodeclass default -o jsonpath='{.metadata}' 2>&1 | head -c 300) $(K get events -A 2>&1 | grep -i waiting | tail -n 2)"; fi
		# the getting-started cleanup
		t0=$(date +%s)
		K delete deployment oversized-app >/dev/null 2>&1
		K delete nodepool default >/dev/null 2>&1
		if timeout 60 kubectl --kubeconfig "$KC" delete ec2nodeclass default --timeout=50s >/dev/null 2>&1 ||
			! K get ec2nodeclass default >/dev/null 2>&1; then
			ok "ncterm: kubectl delete nodepool, then ec2nodeclass default, finishes once the NodeClaim is gone ($(( $(date +%s) - t0 )) s)"
		else bad "ncterm: ec2nodeclass deletion finishes" "$(K get nodeclaims 2>&1 | tail -n 2) $(K get ec2nodeclass default -o jsonpath='{.metadata}' 2>&1 | head -c 300)"; fi
		if K get nodeclaims -o name 2>/dev/null | grep -q .; then bad "ncterm: no NodeClaim left" "$(K get nodeclaims 2>&1)"
		else ok "ncterm: no NodeClaim left after the cleanup"; fi
	else
		bad "ncterm: finalizer and launch" "$(K get ec2nodeclass default -o jsonpath='{.metadata}' 2>&1 | head -c 300) $(K get nodeclaims 2>&1 | tail -n 2)"
	fi
	stop_server "$SN" || bad "ncterm: server stops on SIGTERM"
else
	bad "ncterm: start server"
fi
