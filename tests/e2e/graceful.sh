# tests/e2e/graceful.sh: graceful pod deletion, the Eviction API and
# PodDisruptionBudgets in `karpenter up`. Sourced by tests/e2e/run (uses its
# start_server, stop_server, free_port, K, api, ok, bad, check, has, TMP,
# PIDS); starts and stops its own server (the Karpenter controller off, the
# kubelet stand-in's grace cap at 1 s). Every wait is bounded.

# g_until SECONDS CMD...: retries CMD every 0.2 s until it succeeds
g_until() {
	g_t=$(($1 * 5)); shift
	while [ $g_t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; g_t=$((g_t - 1)); done
	return 1
}
# g_ms: a millisecond clock
g_ms() { date +%s%3N; }
# g_eq WANT CMD...: CMD prints exactly WANT
g_eq() { g_w=$1; shift; [ "$("$@" 2>/dev/null)" = "$g_w" ]; }
# g_code METHOD PATH BODY: the HTTP status and body of one API call
g_code() {
	curl -sk -m 20 -w '\n%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data "$3" "https://127.0.0.1:$PORT$2"
}

PORT=$(free_port)
D=$TMP/graceful
if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off KARPENTER_UP_GRACE_CAP_MS=1000; then
	GS=$SPID
	KC=$D/kubeconfig
	TOKEN=$(cat "$D/token")

	for n in n1 n2; do
		cat >"$TMP/g$n.yaml" <<EON
apiVersion: v1
kind: Node
metadata:
  name: $n
  labels: {kubernetes.io/hostname: $n, kubernetes.io/os: linux}
status:
  capacity: {cpu: "8", memory: 16Gi, pods: "110"}
  allocatable: {cpu: "8", memory: 16Gi, pods: "110"}
  conditions:
  - {type: Ready, status: "True"}
  addresses:
  - {type: InternalIP, address: 10.0.1.1}
EON
		K apply -f "$TMP/g$n.yaml" >/dev/null 2>&1
	done

	# ---- graceful deletion of a bound pod: MODIFIED with deletionTimestamp, then DELETED
	K run gp1 --image=nginx --overrides='{"spec":{"terminationGracePeriodSeconds":20}}' >/dev/null 2>&1
	g_until 10 g_eq Running K get pod gp1 -o jsonpath='{.status.phase}'
	api GET "/api/v1/namespaces/default/pods?watch=1&fieldSelector=metadata.name%3Dgp1&timeoutSeconds=3" >"$TMP/gp1.watch" &
	GW=$!; PIDS="$PIDS $GW"
	sleep 0.3
	K delete pod gp1 --wait=false >/dev/null 2>&1
	out=$(K get pod gp1 -o jsonpath='{.metadata.deletionTimestamp} {.metadata.deletionGracePeriodSeconds}' 2>&1)
	if printf '%s' "$out" | grep -Eq '^[0-9T:-]+Z 20$'; then ok "graceful: DELETE of a bound pod keeps it with deletionTimestamp and its grace period"
	else bad "graceful: DELETE of a bound pod keeps it with deletionTimestamp and its grace period" "$out"; fi
	out=$(K get pod gp1 2>&1)
	if has "$out" Terminating; then ok "graceful: kubectl shows the pod Terminating"; else bad "graceful: kubectl shows the pod Terminating" "$out"; fi
	if g_until 5 sh -c "timeout 5 kubectl --kubeconfig '$KC' get pod gp1 2>&1 | grep -q NotFound"; then
		ok "graceful: the kubelet stand-in removes it after the (capped) grace period"
	else bad "graceful: the kubelet stand-in removes it after the (capped) grace period" "$(K get pod gp1 -o yaml 2>&1 | head -n 20)"; fi
	wait "$GW" 2>/dev/null
	out=$(grep -o '"type":"[A-Z]*"' "$TMP/gp1.watch" | tr '\n' ' ')
	if has "$out" '"type":"MODIFIED" "type":"DELETED"' && grep '"type":"MODIFIED"' "$TMP/gp1.watch" | grep -q deletionTimestamp; then
		ok "graceful: watch sees MODIFIED (deletionTimestamp) then DELETED"
	else bad "graceful: watch sees MODIFIED (deletionTimestamp) then DELETED" "$out"; fi

	# kubectl delete waits for the pod to disappear
	K run gp2 --image=nginx >/dev/null 2>&1
	g_until 10 g_eq Running K get pod gp2 -o jsonpath='{.status.phase}'
	t0=$(g_ms); out=$(K delete pod gp2 2>&1); rc=$?; t1=$(g_ms)
	out2=$(K get pod gp2 2>&1)
	if [ $rc -eq 0 ] && [ $((t1 - t0)) -ge 700 ] && has "$out2" NotFound; then ok "graceful: kubectl delete waits until the pod is gone ($((t1 - t0)) ms)"
	else bad "graceful: kubectl delete waits until the pod is gone" "rc=$rc $((t1 - t0)) ms $out $out2"; fi

	# --grace-period=0 --force, and unbound pods, go at once
	K run gp3 --image=nginx >/dev/null 2>&1
	g_until 10 g_eq Running K get pod gp3 -o jsonpath='{.status.phase}'
	t0=$(g_ms); out=$(K delete pod gp3 --grace-period=0 --force 2>&1); t1=$(g_ms)
	out2=$(api GET /api/v1/namespaces/default/pods/gp3)
	if has "$out" 'force deleted' && has "$out2" NotFound && [ $((t1 - t0)) -lt 900 ]; then ok "graceful: --grace-period=0 --force deletes at once ($((t1 - t0)) ms)"
	else bad "graceful: --grace-period=0 --force deletes at once" "$((t1 - t0)) ms $out $out2"; fi
	K run gp3b --image=nginx >/dev/null 2>&1
	g_until 10 g_eq Running K get pod gp3b -o jsonpath='{.status.phase}'
	out=$(api DELETE /api/v1/namespaces/default/pods/gp3b '{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0}'; api GET /api/v1/namespaces/default/pods/gp3b)
	if has "$out" '"reason":"NotFound"'; then ok "graceful: DeleteOptions gracePeriodSeconds 0 deletes a bound pod at once"
	else bad "graceful: DeleteOptions gracePeriodSeconds 0 deletes a bound pod at once" "$out"; fi
	K run gp4 --image=nginx --overrides='{"spec":{"nodeSelector":{"kubernetes.io/hostname":"nowhere"}}}' >/dev/null 2>&1
	out=$(api DELETE /api/v1/namespaces/default/pods/gp4; api GET /api/v1/namespaces/default/pods/gp4)
	if has "$out" '"reason":"NotFound"'; then ok "graceful: an unbound pod is deleted at once"
	else bad "graceful: an unbound pod is deleted at once" "$out"; fi

	# finalizers still hold a pod whose grace period is over
	K run gp5 --image=nginx --overrides='{"metadata":{"finalizers":["example.com/hold"]}}' >/dev/null 2>&1
	g_until 10 g_eq Running K get pod gp5 -o jsonpath='{.status.phase}'
	K delete pod gp5 --wait=false >/dev/null 2>&1
	if g_until 5 g_eq 0 K get pod gp5 -o jsonpath='{.metadata.deletionGracePeriodSeconds}'; then
		K patch pod gp5 --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
		if g_until 5 sh -c "timeout 5 kubectl --kubeconfig '$KC' get pod gp5 2>&1 | grep -q NotFound"; then
			ok "graceful: a finalizer keeps the terminated pod until it is removed"
		else bad "graceful: a finalizer keeps the terminated pod until it is removed" "$(K get pod gp5 -o yaml 2>&1 | head -n 20)"; fi
	else bad "graceful: a finalizer keeps the terminated pod (grace 0) until it is removed" "$(K get pod gp5 -o yaml 2>&1 | head -n 20)"; fi

	# a Deployment scaled to 0 removes its pods after their grace period
	K create deployment gd --image=nginx --replicas=2 >/dev/null 2>&1
	g_until 10 g_eq '2' sh -c "timeout 5 kubectl --kubeconfig '$KC' get pods -l app=gd -o jsonpath='{range .items[*]}{.status.phase}{\"\\n\"}{end}' | grep -c Running"
	K scale deployment gd --replicas=0 >/dev/null 2>&1
	if g_until 5 sh -c "timeout 5 kubectl --kubeconfig '$KC' get pods -l app=gd -o jsonpath='{.items[*].metadata.deletionTimestamp}' | grep -q Z"; then
		if g_until 8 g_eq '' K get pods -l app=gd -o name; then ok "graceful: scaling a Deployment to 0 terminates, then removes its pods"
		else bad "graceful: scaling a Deployment to 0 terminates, then removes its pods" "$(K get pods -l app=gd 2>&1)"; fi
	else bad "graceful: scaling a Deployment to 0 terminates its pods" "$(K get pods -l app=gd 2>&1)"; fi

	# ---- PodDisruptionBudgets: both guard pods land on n2 (n1 cordoned)
	K cordon n1 >/dev/null 2>&1
	K create deployment guard --image=nginx --replicas=2 >/dev/null 2>&1
	g_until 10 g_eq 'n2/Running n2/Running ' K get pods -l app=guard -o jsonpath='{range .items[*]}{.spec.nodeName}/{.status.phase} {end}'
	K create poddisruptionbudget guard --selector=app=guard --max-unavailable=0 >/dev/null 2>&1
	if g_until 5 g_eq '1 0 2 2 2' K get pdb guard -o jsonpath='{.status.observedGeneration} {.status.disruptionsAllowed} {.status.currentHealthy} {.status.desiredHealthy} {.status.expectedPods}'; then
		ok "pdb: maxUnavailable 0 -> status expected 2, healthy 2, desired 2, allowed 0"
	else bad "pdb: maxUnavailable 0 -> status expected 2, healthy 2, desired 2, allowed 0" "$(K get pdb guard -o jsonpath='{.status}' 2>&1)"; fi
	out=$(K get pdb guard 2>&1)
	if printf '%s' "$out" | grep -Eq 'ALLOWED DISRUPTIONS' && printf '%s' "$out" | grep -Eq '^guard +N/A +0 +0 '; then ok "pdb: kubectl get pdb shows ALLOWED DISRUPTIONS 0"
	else bad "pdb: kubectl get pdb shows ALLOWED DISRUPTIONS 0" "$out"; fi
	out=$(K get pdb guard -o jsonpath='{.status.conditions[?(@.type=="DisruptionAllowed")].status}/{.status.conditions[?(@.type=="DisruptionAllowed")].reason}' 2>&1)
	if [ "$out" = "False/InsufficientPods" ]; then ok "pdb: DisruptionAllowed=False InsufficientPods"
	else bad "pdb: DisruptionAllowed=False InsufficientPods" "$out"; fi
	GP=$(K get pods -l app=guard -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
	out=$(g_code POST "/api/v1/namespaces/default/pods/$GP/eviction" '{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"'"$GP"'"}}')
	if [ "$(printf '%s\n' "$out" | tail -n 1)" = 429 ] && has "$out" '"reason":"TooManyRequests"' &&
		has "$out" "Cannot evict pod as it would violate the pod's disruption budget." &&
		has "$out" '"causes":[{"reason":"DisruptionBudget","message":"The disruption budget guard needs 2 healthy pods and has 2 currently"}]'; then
		ok "pdb: a direct eviction -> 429 TooManyRequests with the DisruptionBudget cause"
	else bad "pdb: a direct eviction -> 429 TooManyRequests with the DisruptionBudget cause" "$out"; fi
	out=$(K drain n2 --ignore-daemonsets --timeout=2s 2>&1); rc=$?
	if [ $rc -ne 0 ] && has "$out" "Cannot evict pod as it would violate the pod's disruption budget"; then
		ok "pdb: kubectl drain fails to evict (violates the disruption budget)"
	else bad "pdb: kubectl drain fails to evict (violates the disruption budget)" "rc=$rc $(printf '%s' "$out" | tail -n 4)"; fi
	out=$(K get pods -l app=guard -o jsonpath='{.items[*].metadata.deletionTimestamp}' 2>&1)
	if [ -z "$out" ] && g_eq 2 sh -c "timeout 5 kubectl --kubeconfig '$KC' get pods -l app=guard -o name | wc -l"; then ok "pdb: the refused pods are untouched"
	else bad "pdb: the refused pods are untouched" "$out"; fi

	# two budgets for one pod: 500
	K create poddisruptionbudget guard2 --selector=app=guard --min-available=1 >/dev/null 2>&1
	out=$(g_code POST "/api/v1/namespaces/default/pods/$GP/eviction" '{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"'"$GP"'"}}')
	if [ "$(printf '%s\n' "$out" | tail -n 1)" = 500 ] && has "$out" 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.'; then
		ok "pdb: a pod with two budgets -> 500"
	else bad "pdb: a pod with two budgets -> 500" "$out"; fi
	K delete pdb guard2 >/dev/null 2>&1

	# maxUnavailable 1: the drain evicts one pod at a time and succeeds
	K uncordon n1 >/dev/null 2>&1
	K patch pdb guard --type=merge -p '{"spec":{"maxUnavailable":1}}' >/dev/null 2>&1
	if g_until 5 g_eq '2 1' K get pdb guard -o jsonpath='{.status.observedGeneration} {.status.disruptionsAllowed}'; then
		ok "pdb: maxUnavailable 1 -> disruptionsAllowed 1"
	else bad "pdb: maxUnavailable 1 -> disruptionsAllowed 1" "$(K get pdb guard -o jsonpath='{.status}' 2>&1)"; fi
	out=$(K drain n2 --ignore-daemonsets --timeout=20s 2>&1); rc=$?
	if [ $rc -eq 0 ] && has "$out" 'drained'; then ok "pdb: kubectl drain succeeds within the budget"
	else bad "pdb: kubectl drain succeeds within the budget" "rc=$rc $(printf '%s' "$out" | tail -n 4)"; fi
	out=$(K get pods -l app=guard -o jsonpath='{range .items[*]}{.spec.nodeName}/{.status.phase} {end}' 2>&1)
	if [ "$out" = "n1/Running n1/Running " ]; then ok "pdb: the evicted pods were replaced on the other node"
	else bad "pdb: the evicted pods were replaced on the other node" "$out"; fi

	if stop_server "$GS"; then ok "graceful: server stops cleanly"; else bad "graceful: server stops cleanly" "$(tail -n 5 "$D.log")"; fi
else
	bad "graceful: start server"
fi
