# tests/e2e/builtins.sh: the built-in controllers that complete `karpenter
# up`'s picture, with the real kubectl and the official Python client.
# Sourced by tests/e2e/run (uses its start_server, stop_server, free_port, K,
# ok, bad, has, TMP, PIDS, ROOT, PY, E2E); starts and stops its own server
# with short disruption timings. Every wait is bounded.
#
#  1. Jobs: `sleep 2` pods succeed (containers terminated, exit 0), the Job
#     honours completions and parallelism, gets Complete and is deleted by
#     ttlSecondsAfterFinished; its node is consolidated away once empty; a
#     failing Job stops at backoffLimit with Failed/BackoffLimitExceeded;
#  2. a CronJob (created suspended, its lastScheduleTime set two minutes
#     back, then resumed) creates the Job of its latest activation at once
#     (named after the activation), with lastScheduleTime and history;
#  3. Deployment rolling update: maxSurge 1 / maxUnavailable 0 respected
#     (every ReplicaSet change watched with the Python client); `kubectl
#     rollout status`, `rollout history` (revisions, change-cause) and
#     `rollout undo` (the old ReplicaSet comes back as the new revision);
#  4. status.qosClass for Guaranteed, Burstable and BestEffort pods;
#  5. the Python client's list_node() and list_pod_for_all_namespaces();
#  6. NodeClaim events Launched, Registered, Initialized, and DisruptionBlocked
#     on the node of a do-not-disrupt pod (core/v1);
#  7. node Leases in kube-node-lease, owned by their Node, renewed.

bi_until() {   # bi_until SECONDS CMD...: retries CMD every 0.3 s until it succeeds
	t=$(($1 * 3)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.3; t=$((t - 1)); done
	return 1
}
bi_jp() { K get "$1" -o jsonpath="$2" 2>/dev/null; }
bi_is() { [ "$(bi_jp "$1" "$2")" = "$3" ]; }
bi_gone() { ! K get "$1" >/dev/null 2>&1; }

BI_T0=$(date +%s)
PORT=$(free_port)
D=$TMP/builtins
if start_server "$D" "$PORT" KARPENTER_DISRUPTION_VALIDATION_DELAY=1s KARPENTER_DISRUPTION_POLL=1s; then
	SB=$SPID
	KC=$D/kubeconfig
	K apply -f "$ROOT/examples/seed/nodeclass.yaml" -f "$ROOT/examples/seed/nodepool.yaml" >/dev/null 2>&1

	# ---- 1. Jobs
	cat >"$TMP/bi-job.yaml" <<'EOF'
apiVersion: batch/v1
kind: Job
metadata: {name: batch}
spec:
  completions: 3
  parallelism: 2
  ttlSecondsAfterFinished: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox
        command: ["sleep", "2"]
        resources: {requests: {cpu: "1", memory: 1Gi}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  backoffLimit: 1
  template:
    metadata:
      annotations: {karpenter-c.sh/run-for: 300ms, karpenter-c.sh/exit-code: "3"}
    spec:
      restartPolicy: Never
      containers: [{name: work, image: busybox}]
EOF
	K apply -f "$TMP/bi-job.yaml" >/dev/null 2>&1
	bi_active_le_2() { [ "$(bi_jp job/batch '{.status.active}')" -le 2 ] 2>/dev/null; }
	bi_running2() { [ "$(K get pods -l job-name=batch --field-selector=status.phase=Running -o name 2>/dev/null | wc -l)" -eq 2 ]; }
	if bi_until 40 bi_running2 && bi_active_le_2; then ok "builtins: job runs parallelism (2) pods at once"
	else bad "builtins: job runs parallelism (2) pods at once" "$(K get job,pods -o wide 2>&1 | tail -n 5)"; fi
	JNODE=$(K get pods -l job-name=batch -o jsonpath='{.items[0].spec.nodeName}' 2>/dev/null)
	bi_complete() { bi_is job/batch '{.status.conditions[?(@.type=="Complete")].status} {.status.succeeded}' "True 3"; }
	if bi_until 30 bi_complete; then ok "builtins: job Complete after 3 completions"
	else bad "builtins: job Complete after 3 completions" "$(bi_jp job/batch '{.status}')"; fi
	out=$(K get pods -l job-name=batch -o jsonpath='{range .items[*]}{.status.phase} {.status.containerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.terminated.reason}{"\n"}{end}' 2>&1 | sort -u)
	if [ "$out" = "Succeeded 0 Completed" ]; then ok "builtins: job pods Succeeded, containers terminated with exit 0"
	else bad "builtins: job pods Succeeded, containers terminated with exit 0" "$out"; fi
	out=$(bi_jp job/batch '{.status.conditions[?(@.type=="Complete")].reason} {.status.completionTime} {.status.startTime}')
	if printf '%s' "$out" | grep -Eq '^CompletionsReached [0-9T:-]+Z [0-9T:-]+Z$'; then ok "builtins: job conditions and times as the Job controller writes them"
	else bad "builtins: job conditions and times" "$out"; fi
	if bi_until 20 bi_gone job/batch; then ok "builtins: ttlSecondsAfterFinished deletes the finished job"
	else bad "builtins: ttlSecondsAfterFinished deletes the finished job" "$(bi_jp job/batch '{.status}')"; fi
	if [ -n "$JNODE" ] && bi_until 40 bi_gone "node/$JNODE"; then ok "builtins: the job's node is consolidated away once empty"
	else bad "builtins: the job's node is consolidated away once empty" "node=$JNODE $(K get nodes,nodeclaims 2>&1 | tail -n 3)"; fi
	bi_failed() { bi_is job/flaky '{.status.conditions[?(@.type=="Failed")].reason} {.status.failed}' "BackoffLimitExceeded 2"; }
	if bi_until 30 bi_failed; then ok "builtins: a failing job stops at backoffLimit (Failed, BackoffLimitExceeded)"
	else bad "builtins: a failing job stops at backoffLimit" "$(bi_jp job/flaky '{.status}')"; fi
	out=$(K get pods -l job-name=flaky -o jsonpath='{range .items[*]}{.status.phase} {.status.containerStatuses[0].state.terminated.exitCode}{"\n"}{end}' 2>&1 | sort -u)
	if [ "$out" = "Failed 3" ]; then ok "builtins: failed pods carry the container's exit code"
	else bad "builtins: failed pods carry the container's exit code" "$out"; fi

	# ---- 2. CronJob: lastScheduleTime two minutes back, so one activation is due now
	cat >"$TMP/bi-cron.yaml" <<'EOF'
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "* * * * *"
  suspend: true
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        metadata:
          annotations: {karpenter-c.sh/run-for: 200ms}
        spec:
          restartPolicy: OnFailure
          containers: [{name: tick, image: busybox}]
EOF
	K apply -f "$TMP/bi-cron.yaml" >/dev/null 2>&1
	PAST=$($PY -c 'import time; print(time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(time.time() - 120)))')
	K patch cronjob tick --subresource=status --type=merge -p "{\"status\":{\"lastScheduleTime\":\"$PAST\"}}" >/dev/null 2>&1
	BI_T1=$(date +%s)
	K patch cronjob tick --type=merge -p '{"spec":{"suspend":false}}' >/dev/null 2>&1
	bi_cj_job() { [ -n "$(K get jobs -o jsonpath='{range .items[?(@.metadata.ownerReferences[0].kind=="CronJob")]}{.metadata.name}{end}' 2>/dev/null)" ]; }
	if bi_until 45 bi_cj_job; then ok "builtins: a CronJob creates the Job of its missed activation"
	else bad "builtins: a CronJob creates a Job" "$(K get cronjob tick -o jsonpath='{.status}' 2>&1; K get events 2>&1 | grep -i cron | tail -n 2)"; fi
	BI_T2=$(date +%s)
	CJ=$(K get jobs -o jsonpath='{range .items[?(@.metadata.ownerReferences[0].kind=="CronJob")]}{.metadata.name}{"\n"}{end}' 2>/dev/null | head -n 1)
	# the activation due when the controller saw the resumed CronJob: a minute between the resume and now
	# (however slow the machine), and the minute of the Job's scheduled-timestamp annotation
	ts=$(K get job "$CJ" -o jsonpath='{.metadata.annotations.batch\.kubernetes\.io/cronjob-scheduled-timestamp}' 2>/dev/null)
	out=$($PY -c 'import calendar, sys, time
cj, t1, t2, ts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
m = int(cj.rsplit("-", 1)[1])
print("ok" if t1 // 60 <= m <= t2 // 60 and calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) == m * 60 else "no")' "$CJ" "$BI_T1" "$BI_T2" "$ts" 2>&1)
	if [ "$out" = ok ]; then ok "builtins: the Job is named after the activation (unix minutes)"
	else bad "builtins: the Job is named after the activation" "got $CJ ($ts), resumed at $BI_T1, seen by $BI_T2: $out"; fi
	# (a minute boundary may add a second Job; history keeps one successful)
	bi_cj_done() {
		[ -n "$(bi_jp cronjob/tick '{.status.lastSuccessfulTime}')" ] &&
			[ "$(K get jobs -o jsonpath='{range .items[?(@.metadata.ownerReferences[0].kind=="CronJob")]}{.status.conditions[?(@.type=="Complete")].status}{"\n"}{end}' 2>/dev/null | grep -c True)" -le 1 ]
	}
	if [ -n "$CJ" ] && bi_until 45 bi_cj_done; then ok "builtins: CronJob status follows its Job (lastSuccessfulTime), history limit 1"
	else bad "builtins: CronJob status follows its Job" "$(bi_jp cronjob/tick '{.status}')"; fi
	# lastScheduleTime is written with (or just after) the Job's creation: wait for it, bounded
	bi_cj_advanced() { out=$(bi_jp cronjob/tick '{.status.lastScheduleTime}'); [ -n "$out" ] && [ "$out" != "$PAST" ]; }
	if bi_until 15 bi_cj_advanced; then ok "builtins: CronJob lastScheduleTime advanced"
	else bad "builtins: CronJob lastScheduleTime advanced" "$out (was $PAST)"; fi
	K delete cronjob tick --wait=false >/dev/null 2>&1

	# ---- 3. Deployment rolling update, rollout status / history / undo
	cat >"$TMP/bi-web.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: nginx, image: "nginx:1.26", resources: {requests: {cpu: 100m, memory: 64Mi}}}
EOF
	K apply -f "$TMP/bi-web.yaml" >/dev/null 2>&1
	if K rollout status deploy/web --timeout=60s >/dev/null 2>&1; then ok "builtins: kubectl rollout status (first rollout)"
	else bad "builtins: kubectl rollout status (first rollout)" "$(K get deploy,rs,pods 2>&1 | tail -n 4)"; fi
	bi_leases() { K get lease -n kube-node-lease -o jsonpath='{range .items[*]}{.metadata.name}={.spec.renewTime}{"\n"}{end}' 2>/dev/null | sort; }
	R1=$(bi_leases)
	$PY "$E2E/builtins_py.py" "$KC" rollout web 8 >"$TMP/bi-roll.out" 2>&1 &
	BI_W=$!
	sleep 1
	K annotate deploy web kubernetes.io/change-cause="nginx 1.27" >/dev/null 2>&1
	K set image deploy/web nginx=nginx:1.27 >/dev/null 2>&1
	if K rollout status deploy/web --timeout=60s >/dev/null 2>&1; then ok "builtins: kubectl rollout status (rolling update)"
	else bad "builtins: kubectl rollout status (rolling update)" "$(K get deploy,rs 2>&1 | tail -n 4)"; fi
	wait $BI_W
	out=$(cat "$TMP/bi-roll.out")
	ms=$(printf '%s' "$out" | sed -n 's/.*max_spec=\([0-9]*\).*/\1/p'); ma=$(printf '%s' "$out" | sed -n 's/.*min_avail=\([0-9]*\).*/\1/p')
	if [ "${ms:-99}" -le 5 ] && [ "${ma:-0}" -ge 4 ] && has "$out" "events="; then ok "builtins: maxSurge 1 / maxUnavailable 0 held at every ReplicaSet change ($out)"
	else bad "builtins: maxSurge / maxUnavailable held during the update" "$out"; fi
	out=$(K rollout history deploy/web 2>&1)
	if printf '%s\n' "$out" | grep -Eq '^1 ' && printf '%s\n' "$out" | grep -Eq '^2 +nginx 1.27'; then ok "builtins: kubectl rollout history (revisions, change-cause)"
	else bad "builtins: kubectl rollout history" "$out"; fi
	RS1=$(K get rs -l app=web -o jsonpath='{range .items[?(@.metadata.annotations.deployment\.kubernetes\.io/revision=="1")]}{.metadata.name}{end}' 2>/dev/null)
	K rollout undo deploy/web >/dev/null 2>&1
	if K rollout status deploy/web --timeout=60s >/dev/null 2>&1 && bi_is deploy/web '{.spec.template.spec.containers[0].image}' "nginx:1.26"; then ok "builtins: kubectl rollout undo restores the previous template"
	else bad "builtins: kubectl rollout undo" "$(K get deploy,rs 2>&1 | tail -n 4)"; fi
	out=$(bi_jp "rs/$RS1" '{.spec.replicas} {.metadata.annotations.deployment\.kubernetes\.io/revision} {.metadata.annotations.deployment\.kubernetes\.io/revision-history}')
	out2=$(bi_jp deploy/web '{.metadata.annotations.deployment\.kubernetes\.io/revision}')
	if [ -n "$RS1" ] && [ "$out" = "4 3 1" ] && [ "$out2" = 3 ]; then ok "builtins: undo brings the revision-1 ReplicaSet back as revision 3"
	else bad "builtins: undo brings the old ReplicaSet back" "rs=$RS1: $out; deploy revision $out2"; fi

	# ---- 4. qosClass
	cat >"$TMP/bi-qos.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: qos-g}
spec: {containers: [{name: c, image: nginx, resources: {limits: {cpu: 100m, memory: 64Mi}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: qos-b}
spec: {containers: [{name: c, image: nginx, resources: {requests: {cpu: 100m}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: qos-be}
spec: {containers: [{name: c, image: nginx}]}
EOF
	K apply -f "$TMP/bi-qos.yaml" >/dev/null 2>&1
	bi_qos() { [ "$(K get pods qos-g qos-b qos-be -o jsonpath='{.items[*].status.qosClass}' 2>/dev/null)" = "Guaranteed Burstable BestEffort" ]; }
	if bi_qos; then ok "builtins: status.qosClass Guaranteed, Burstable, BestEffort, set at creation"
	else bad "builtins: status.qosClass" "$(K get pods qos-g qos-b qos-be -o jsonpath='{.items[*].status.qosClass}' 2>&1)"; fi
	bi_qos_run() { [ "$(K get pods qos-g qos-b qos-be -o jsonpath='{.items[*].status.phase}' 2>/dev/null)" = "Running Running Running" ]; }
	bi_until 30 bi_qos_run
	out=$(K get pod qos-g -o jsonpath='{.status.containerStatuses[0].image} {.status.containerStatuses[0].imageID} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].started} {.status.containerStatuses[0].ready} {.status.containerStatuses[0].restartCount}' 2>&1)
	if printf '%s' "$out" | grep -Eq '^docker.io/library/nginx:latest docker.io/library/nginx@sha256:[0-9a-f]{64} containerd://[0-9a-f]{64} true true 0$'; then ok "builtins: container statuses with image, imageID, containerID, started, ready, restartCount"
	else bad "builtins: container statuses" "$out"; fi

	# ---- 5. the Python client lists nodes and every pod
	out=$(timeout 60 $PY "$E2E/builtins_py.py" "$KC" list 2>&1)
	if printf '%s' "$out" | grep -Eq '^nodes=[1-9][0-9]* pods=[1-9][0-9]*$'; then ok "builtins: python client list_node() and list_pod_for_all_namespaces() ($out)"
	else bad "builtins: python client list_node() and list_pod_for_all_namespaces()" "$(printf '%s' "$out" | tail -n 3)"; fi
	out=$(K get nodes -o jsonpath='{.items[0].status.nodeInfo.bootID} {.items[0].status.nodeInfo.machineID} {.items[0].status.nodeInfo.systemUUID} {.items[0].status.nodeInfo.kernelVersion}' 2>&1)
	if printf '%s' "$out" | grep -Eq '^[0-9a-f-]{36} [0-9a-f]{32} ec2[0-9a-f-]{33} [0-9.]+-'; then ok "builtins: nodeInfo bootID, machineID, systemUUID, kernelVersion"
	else bad "builtins: nodeInfo" "$out"; fi

	# ---- 6. NodeClaim events as Karpenter publishes them
	out=$(K get events -o jsonpath='{range .items[?(@.involvedObject.kind=="NodeClaim")]}{.reason}{"\n"}{end}' 2>&1 | sort -u | tr '\n' ' ')
	if has "$out" Launched && has "$out" Registered && has "$out" Initialized; then ok "builtins: NodeClaim events Launched, Registered, Initialized"
	else bad "builtins: NodeClaim events Launched, Registered, Initialized" "$out"; fi

	K run dnd --image=nginx --restart=Never --annotations=karpenter.sh/do-not-disrupt=true >/dev/null 2>&1
	bi_dnd_node() { [ -n "$(bi_jp pod/dnd '{.spec.nodeName}')" ]; }
	bi_until 30 bi_dnd_node
	DNODE=$(bi_jp pod/dnd '{.spec.nodeName}')
	bi_blocked() { K get events -o jsonpath="{range .items[?(@.reason==\"DisruptionBlocked\")]}{.involvedObject.kind}/{.involvedObject.name}: {.message}{\"\\n\"}{end}" 2>/dev/null | grep -F "Node/$DNODE: Cannot disrupt Node: " | grep -q "dnd"; }
	if [ -n "$DNODE" ] && bi_until 20 bi_blocked; then ok "builtins: DisruptionBlocked event on the node of a do-not-disrupt pod"
	else bad "builtins: DisruptionBlocked event" "node=$DNODE $(K get events 2>&1 | grep -i -E 'blocked|unconsol' | tail -n 3)"; fi

	# ---- 7. node Leases, renewed every 10 s
	NODE=$(K get nodes -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
	out=$(K get lease -n kube-node-lease "$NODE" -o jsonpath='{.spec.holderIdentity} {.spec.leaseDurationSeconds} {.metadata.ownerReferences[0].kind}' 2>&1)
	if [ -n "$NODE" ] && [ "$out" = "$NODE 40 Node" ]; then ok "builtins: every Node has its Lease in kube-node-lease"
	else bad "builtins: node Lease" "node=$NODE: $out"; fi
	# a Lease seen before changes its renewTime; when every node seen before
	# is gone (consolidation), start over from the current ones
	bi_renewed() {
		bi_leases >"$TMP/bi-l2"
		printf '%s\n' "$R1" | awk -F= 'NR == FNR { t[$1] = $2; next } ($1 in t) { c = 1; if (t[$1] != $2) f = 1 } END { exit f ? 0 : c ? 1 : 2 }' "$TMP/bi-l2" -
		r=$?
		[ $r -eq 2 ] && R1=$(cat "$TMP/bi-l2")
		return $r
	}
	if [ -n "$R1" ] && bi_until 25 bi_renewed; then ok "builtins: node Leases are renewed"
	else bad "builtins: node Leases are renewed" "$R1 / $(cat "$TMP/bi-l2" 2>/dev/null)"; fi

	stop_server "$SB" || bad "builtins: server stops on SIGTERM"
else
	bad "builtins: server starts"
fi
echo "builtins: $(( $(date +%s) - BI_T0 )) s"
