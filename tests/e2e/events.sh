# tests/e2e/events.sh: core v1 Events and events.k8s.io/v1 Events are one
# storage seen through two groups, as on a real API server: the
# controller's NodeClaim and Node events are listed, selected and watched in
# both (kubectl, `kubectl events`, the Python client's CoreV1Api and
# EventsV1Api); an Event written, patched or deleted in one group changes
# it in the other, with the field conversion (involvedObject<->regarding,
# message<->note, reportingComponent<->reportingController, ...).
# Sourced by tests/e2e/run (uses its start_server, stop_server, free_port, K,
# api, ok, bad, check, has, TMP, PIDS, ROOT, PY); starts and stops its own
# server with a fast disruption poll. Every wait is bounded.

ev_until() {   # ev_until SECONDS CMD...: retries CMD every 0.3 s until it succeeds
	t=$(($1 * 3)); shift
	while [ $t -gt 0 ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.3; t=$((t - 1)); done
	return 1
}
# ev_reasons RESOURCE KINDFIELD KIND: the sorted, distinct reasons of the events about objects of KIND
ev_reasons() {
	K get "$1" -A -o jsonpath="{range .items[?(@.$2.kind==\"$3\")]}{.reason}{\"\\n\"}{end}" 2>/dev/null | sort -u | tr '\n' ' '
}

EV_T0=$(date +%s)
PORT=$(free_port)
D=$TMP/events
if start_server "$D" "$PORT" KARPENTER_DISRUPTION_VALIDATION_DELAY=1s KARPENTER_DISRUPTION_POLL=1s; then
	SE=$SPID
	KC=$D/kubeconfig
	TOKEN=$(cat "$D/token")
	K apply -f "$ROOT/examples/seed/nodeclass.yaml" -f "$ROOT/examples/seed/nodepool.yaml" >/dev/null 2>&1
	K run evdnd --image=nginx --restart=Never --annotations=karpenter.sh/do-not-disrupt=true >/dev/null 2>&1

	# ---- the controller's NodeClaim events, in both groups
	ev_nc_core() { o=$(ev_reasons events involvedObject NodeClaim); has "$o" Launched && has "$o" Registered && has "$o" Initialized; }
	if ev_until 40 ev_nc_core; then ok "events: NodeClaim events (core v1)"
	else bad "events: NodeClaim events (core v1)" "$(ev_reasons events involvedObject NodeClaim)"; fi
	out=$(ev_reasons events.events.k8s.io regarding NodeClaim)
	if has "$out" Launched && has "$out" Registered && has "$out" Initialized; then ok "events: the same NodeClaim events through events.k8s.io/v1 ($out)"
	else bad "events: the same NodeClaim events through events.k8s.io/v1" "$out / $(K get events.events.k8s.io -A 2>&1 | tail -n 3)"; fi
	NC=$(K get nodeclaims -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
	out=$(K get events.events.k8s.io -A -o jsonpath="{range .items[?(@.reason==\"Launched\")]}{.regarding.name} {.reportingController} {.note}|{.eventTime}|{.deprecatedCount}{\"\\n\"}{end}" 2>&1 | head -n 1)
	if printf '%s' "$out" | grep -Eq "^$NC karpenter [^|]+\|[0-9T:.-]+Z\|1$"; then ok "events: events.k8s.io fields converted (regarding, reportingController, note, eventTime, deprecatedCount)"
	else bad "events: events.k8s.io fields converted" "nc=$NC: $out"; fi
	out=$(K get events.events.k8s.io -A 2>&1)
	if has "$out" Launched && has "$out" "nodeclaim/$NC"; then ok "events: kubectl get events.events.k8s.io -A (Table)"
	else bad "events: kubectl get events.events.k8s.io -A (Table)" "$(printf '%s' "$out" | tail -n 3)"; fi

	# ---- field selectors: involvedObject.* in core, regarding.* in events.k8s.io
	out=$(K get events -A --field-selector "involvedObject.kind=NodeClaim,involvedObject.name=$NC,reason=Launched" -o jsonpath='{.items[*].reason}' 2>&1)
	if [ "$out" = Launched ]; then ok "events: core field selector involvedObject.name, reason"
	else bad "events: core field selector involvedObject.name, reason" "$out"; fi
	out=$(K get events.events.k8s.io -A --field-selector "regarding.kind=NodeClaim,regarding.name=$NC,reason=Launched,reportingController=karpenter" -o jsonpath='{.items[*].reason}' 2>&1)
	if [ "$out" = Launched ]; then ok "events: events.k8s.io field selector regarding.name, reportingController"
	else bad "events: events.k8s.io field selector regarding.name, reportingController" "$out"; fi
	out=$(K get events -A --field-selector source=karpenter,type=Normal -o name 2>&1 | wc -l)
	if [ "$out" -ge 3 ]; then ok "events: core field selector source ($out events)"; else bad "events: core field selector source" "$out"; fi
	out=$(api GET "/apis/events.k8s.io/v1/events?fieldSelector=involvedObject.name%3Dx")
	if has "$out" '"code":400' && has "$out" 'field label not supported: involvedObject.name'; then ok "events: events.k8s.io rejects the core field name (400)"
	else bad "events: events.k8s.io rejects the core field name (400)" "$out"; fi

	# ---- the Node event of a do-not-disrupt pod, in both groups
	DNODE=$(K get pod evdnd -o jsonpath='{.spec.nodeName}' 2>/dev/null)
	ev_blocked() { K get events.events.k8s.io -A --field-selector "regarding.kind=Node,regarding.name=$DNODE,reason=DisruptionBlocked" -o jsonpath='{.items[*].note}' 2>/dev/null | grep -q evdnd; }
	if [ -n "$DNODE" ] && ev_until 30 ev_blocked; then ok "events: Node event DisruptionBlocked through events.k8s.io/v1"
	else bad "events: Node event DisruptionBlocked through events.k8s.io/v1" "node=$DNODE $(ev_reasons events.events.k8s.io regarding Node)"; fi
	out=$(K get events -A --field-selector "involvedObject.kind=Node,involvedObject.name=$DNODE,reason=DisruptionBlocked" -o jsonpath='{.items[*].message}' 2>&1)
	if has "$out" evdnd; then ok "events: the same Node event in core v1"; else bad "events: the same Node event in core v1" "$out"; fi

	# ---- kubectl events and describe
	out=$(K events -A -v=6 2>&1)
	if has "$out" Launched && has "$out" "nodeclaim/$NC"; then ok "events: kubectl events lists the controller's events ($(printf '%s' "$out" | grep -o 'GET https://[^ ]*events[^ ]*' | head -n 1 | sed 's|^GET https://[^/]*||'))"
	else bad "events: kubectl events lists the controller's events" "$(printf '%s' "$out" | tail -n 3)"; fi
	out=$(K events --for "nodeclaim/$NC" 2>&1)
	if has "$out" Launched && has "$out" Registered; then ok "events: kubectl events --for nodeclaim/NAME"
	else bad "events: kubectl events --for nodeclaim/NAME" "$(printf '%s' "$out" | tail -n 3)"; fi
	out=$(K describe nodeclaim "$NC" 2>&1)
	if has "$out" Launched && has "$out" Initialized; then ok "events: kubectl describe nodeclaim shows its events"
	else bad "events: kubectl describe nodeclaim shows its events" "$(printf '%s' "$out" | tail -n 5)"; fi

	# ---- written in one group, read, patched and deleted in the other
	cat >"$TMP/ev-v1.yaml" <<'EOF'
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: ev-new, namespace: default}
eventTime: "2026-01-02T03:04:05.000000Z"
reportingController: example.com/ctl
reportingInstance: ctl-1
action: Testing
reason: Tested
type: Normal
note: written as events.k8s.io/v1
regarding: {apiVersion: v1, kind: Pod, name: evdnd, namespace: default}
series: {count: 2, lastObservedTime: "2026-01-02T03:04:06.000000Z"}
EOF
	check "events: create an events.k8s.io/v1 Event" K create -f "$TMP/ev-v1.yaml"
	out=$(K get events ev-new -o jsonpath='{.apiVersion} {.involvedObject.name} {.reportingComponent} {.reportingInstance} {.action} {.series.count} {.message}' 2>&1)
	if [ "$out" = "v1 evdnd example.com/ctl ctl-1 Testing 2 written as events.k8s.io/v1" ]; then ok "events: read back as a core v1 Event"
	else bad "events: read back as a core v1 Event" "$out"; fi
	api POST /api/v1/namespaces/default/events '{"apiVersion":"v1","kind":"Event","metadata":{"name":"ev-old"},"involvedObject":{"kind":"Pod","name":"evdnd","namespace":"default"},"reason":"Legacy","message":"written as core v1","type":"Warning","source":{"component":"old-ctl","host":"h1"},"firstTimestamp":"2026-01-02T03:04:05Z","lastTimestamp":"2026-01-02T03:05:05Z","count":4}' >/dev/null
	out=$(K get events.events.k8s.io ev-old -o jsonpath='{.apiVersion} {.regarding.name} {.note}|{.deprecatedSource.component} {.deprecatedSource.host} {.deprecatedCount} {.deprecatedFirstTimestamp} {.deprecatedLastTimestamp} {.type}' 2>&1)
	if [ "$out" = "events.k8s.io/v1 evdnd written as core v1|old-ctl h1 4 2026-01-02T03:04:05Z 2026-01-02T03:05:05Z Warning" ]; then ok "events: a core v1 Event read through events.k8s.io/v1 (deprecated* fields)"
	else bad "events: a core v1 Event read through events.k8s.io/v1" "$out"; fi
	K patch events.events.k8s.io ev-old --type=merge -p '{"note":"patched in events.k8s.io"}' >/dev/null 2>&1
	out=$(K get events ev-old -o jsonpath='{.message} {.count} {.source.component}' 2>&1)
	if [ "$out" = "patched in events.k8s.io 4 old-ctl" ]; then ok "events: a patch in events.k8s.io/v1 changes the core Event, keeping the rest"
	else bad "events: a patch in events.k8s.io/v1 changes the core Event" "$out"; fi
	out=$(K get events.events.k8s.io ev-old -o json --show-managed-fields 2>/dev/null | $PY -c 'import json,sys
d=json.load(sys.stdin)
print(" ".join("%s:%s" % (e["manager"], ",".join(sorted(e.get("fieldsV1", {})))) for e in d["metadata"].get("managedFields", []) if e["manager"] == "kubectl-patch"))' 2>&1)
	if [ "$out" = "kubectl-patch:f:note" ]; then ok "events: the patch's field ownership is named in events.k8s.io/v1 fields (f:note)"
	else bad "events: the patch's field ownership is named in events.k8s.io/v1 fields" "$out"; fi
	out=$(api GET "/api/v1/namespaces/default/events?limit=1" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["kind"], d["apiVersion"], len(d["items"]), bool(d["metadata"].get("continue")))' 2>&1)
	if [ "$out" = "EventList v1 1 True" ]; then ok "events: core list pages"; else bad "events: core list pages" "$out"; fi
	out=$(api GET "/apis/events.k8s.io/v1/namespaces/default/events?limit=1" | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["kind"], d["apiVersion"], len(d["items"]), d["items"][0]["apiVersion"], "note" in d["items"][0], bool(d["metadata"].get("continue")))' 2>&1)
	if [ "$out" = "EventList events.k8s.io/v1 1 events.k8s.io/v1 True True" ]; then ok "events: events.k8s.io list pages with converted items"
	else bad "events: events.k8s.io list pages with converted items" "$out"; fi

	# ---- watch through events.k8s.io/v1 sees a core write (and the reverse)
	RV=$(api GET "/api/v1/namespaces/default/events?limit=1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])' 2>/dev/null)
	curl -sk -m 15 -N -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT/apis/events.k8s.io/v1/namespaces/default/events?watch=1&resourceVersion=$RV&timeoutSeconds=4" >"$TMP/ev-w1" 2>&1 &
	W1=$!; PIDS="$PIDS $W1"
	curl -sk -m 15 -N -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT/api/v1/namespaces/default/events?watch=1&resourceVersion=$RV&timeoutSeconds=4&fieldSelector=involvedObject.name%3Devdnd,reason%3DWatched" >"$TMP/ev-w2" 2>&1 &
	W2=$!; PIDS="$PIDS $W2"
	sleep 1
	api POST /api/v1/namespaces/default/events '{"apiVersion":"v1","kind":"Event","metadata":{"name":"ev-watched"},"involvedObject":{"kind":"Pod","name":"evdnd","namespace":"default"},"reason":"Watched","message":"seen by both","type":"Normal"}' >/dev/null
	K delete events.events.k8s.io ev-new >/dev/null 2>&1
	wait "$W1" 2>/dev/null; wait "$W2" 2>/dev/null
	out=$($PY -c 'import json,sys
ev=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(" ".join("%s:%s:%s:%s" % (e["type"], e["object"]["metadata"]["name"], e["object"]["apiVersion"], e["object"].get("note","-")) for e in ev if e["object"]["metadata"]["name"] in ("ev-watched","ev-new")))' "$TMP/ev-w1" 2>&1)
	if [ "$out" = "ADDED:ev-watched:events.k8s.io/v1:seen by both DELETED:ev-new:events.k8s.io/v1:written as events.k8s.io/v1" ]; then ok "events: an events.k8s.io/v1 watch sees core writes and its own deletes, converted"
	else bad "events: an events.k8s.io/v1 watch sees core writes, converted" "$out / $(head -c 300 "$TMP/ev-w1")"; fi
	out=$($PY -c 'import json,sys
ev=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(" ".join("%s:%s" % (e["type"], e["object"]["metadata"]["name"]) for e in ev))' "$TMP/ev-w2" 2>&1)
	if [ "$out" = "ADDED:ev-watched" ]; then ok "events: a core watch with involvedObject.name and reason selectors"
	else bad "events: a core watch with involvedObject.name and reason selectors" "$out"; fi
	out=$(K get events ev-new 2>&1)
	if has "$out" NotFound; then ok "events: deleted through events.k8s.io/v1, gone from core v1"; else bad "events: deleted through events.k8s.io/v1, gone from core v1" "$out"; fi

	# ---- the Python client: CoreV1Api and EventsV1Api see the same events
	if $PY -c 'import kubernetes' 2>/dev/null; then
		out=$($PY - "$KC" "$NC" "$DNODE" <<'EOP' 2>&1
import sys
from kubernetes import client, config
config.load_kube_config(config_file=sys.argv[1])
nc, node = sys.argv[2], sys.argv[3]
core = client.CoreV1Api().list_event_for_all_namespaces(field_selector="involvedObject.kind=NodeClaim").items
v1 = client.EventsV1Api().list_event_for_all_namespaces(field_selector="regarding.kind=NodeClaim").items
assert core and len(core) == len(v1), (len(core), len(v1))
assert sorted(e.metadata.name for e in core) == sorted(e.metadata.name for e in v1)
assert all(e.regarding.kind == "NodeClaim" and e.event_time and e.note for e in v1)
mine = client.EventsV1Api().list_namespaced_event("default", field_selector="regarding.name=%s,reason=Launched" % nc).items
assert [e.reason for e in mine] == ["Launched"], mine
blocked = client.EventsV1Api().list_event_for_all_namespaces(field_selector="regarding.kind=Node,regarding.name=%s" % node).items
assert any(e.reason == "DisruptionBlocked" for e in blocked), [e.reason for e in blocked]
print("nodeclaim-events=%d" % len(v1))
EOP
)
		if has "$out" nodeclaim-events=; then ok "events: python CoreV1Api and EventsV1Api list the same NodeClaim and Node events ($out)"
		else bad "events: python CoreV1Api and EventsV1Api list the same events" "$(printf '%s' "$out" | tail -n 3)"; fi
	else
		skip "events: python EventsV1Api" "python3-kubernetes not installed"
	fi

	if stop_server "$SE"; then ok "events: server stops cleanly"; else bad "events: server stops cleanly" "$(tail -n 5 "$D.log")"; fi

	# ---- an events.k8s.io Event stored under its own group by an earlier version moves to the core storage at start
	$PY - "$D/store.db" <<'EOP'
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rv = c.execute("SELECT max(rv) FROM objects").fetchone()[0] + 1
ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "ev-legacy", "namespace": "default", "uid": "u-legacy", "resourceVersion": str(rv)},
      "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "old-up", "reportingInstance": "i", "action": "Old", "reason": "Stored",
      "note": "stored by an older up", "type": "Normal", "regarding": {"kind": "Pod", "name": "evdnd", "namespace": "default"}}
c.execute("INSERT INTO objects(grp, res, ns, name, rv, uid, json) VALUES('events.k8s.io', 'events', 'default', 'ev-legacy', ?, 'u-legacy', ?)", (rv, json.dumps(ev)))
c.execute("INSERT OR REPLACE INTO meta(k, v) VALUES('compacted', ?)", (rv,))
c.commit()
EOP
	if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off; then
		SE=$SPID
		out=$(K get events ev-legacy -o jsonpath='{.message} {.reportingComponent}' 2>&1; K get events.events.k8s.io ev-legacy -o jsonpath=' {.note}' 2>&1)
		left=$($PY -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM objects WHERE grp=\"events.k8s.io\"").fetchone()[0])' "$D/store.db" 2>&1)
		if [ "$out" = "stored by an older up old-up stored by an older up" ] && [ "$left" = 0 ]; then ok "events: events an older up stored under events.k8s.io move to the core storage at start"
		else bad "events: events stored under events.k8s.io move to the core storage at start" "$out / left=$left"; fi
		stop_server "$SE" >/dev/null
	else
		bad "events: restart on the same data directory"
	fi
	echo "events: $(($(date +%s) - EV_T0)) s"
else
	bad "events: start server"
fi
