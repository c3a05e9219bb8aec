# tests/e2e/paging.sh: list paging (limit/continue) with a consistent
# snapshot, 410 Expired for compacted continue tokens and resourceVersions,
# 400 for unknown field selector fields and label selector syntax errors.
# Sourced by tests/e2e/run (uses its start_server, stop_server, free_port,
# K, api, ok, bad, check, has, TMP, PIDS, PY); starts and stops its own
# server with a one-event window so that compaction is easy to reach.
# Every wait is bounded.

# pg_code PATH: the body, then the HTTP status on the last line
pg_code() { curl -sk -m 20 -w '\n%{http_code}' -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT$1"; }
# pg_field JSON-TEXT PYEXPR: evaluates PYEXPR on the parsed document d
pg_field() { printf '%s' "$1" | sed '$d' | $PY -c "import json,sys; d=json.load(sys.stdin); print($2)" 2>/dev/null; }
pg_field_stdin() { sed '$d' | $PY -c "import json,sys; d=json.load(sys.stdin); print($1)" 2>/dev/null; }
# pg_enc TEXT: URL-encodes TEXT
pg_enc() { $PY -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
# pg_walk PATH LIMIT: follows continue tokens; prints the names, then "pages=N"
pg_walk() {
	$PY - "$PORT" "$TOKEN" "$1" "$2" <<'EOP'
import json, ssl, sys, urllib.parse, urllib.request
port, token, path, limit = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
cont, pages, names = "", 0, []
while pages < 50:
    q = "?limit=" + limit + ("&continue=" + urllib.parse.quote(cont, safe="") if cont else "")
    req = urllib.request.Request("https://127.0.0.1:%s%s%s" % (port, path, q), headers={"Authorization": "Bearer " + token})
    d = json.load(urllib.request.urlopen(req, context=ctx, timeout=20))
    pages += 1
    names += [i["metadata"]["name"] for i in d["items"]]
    cont = d["metadata"].get("continue", "")
    if not cont:
        break
print(" ".join(names)); print("pages=%d" % pages)
EOP
}
# pg_writes N NAME: N label updates of configmap NAME over one connection
pg_writes() {
	$PY - "$PORT" "$TOKEN" "$1" "$2" <<'EOP'
import http.client, json, ssl, sys
port, token, n, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=20)
for i in range(n):
    body = json.dumps({"metadata": {"labels": {"i": str(i)}}})
    c.request("PATCH", "/api/v1/namespaces/default/configmaps/" + name, body,
              {"Authorization": "Bearer " + token, "Content-Type": "application/merge-patch+json"})
    r = c.getresponse(); r.read()
    if r.status != 200:
        sys.exit("write %d: %d" % (i, r.status))
EOP
}

PORT=$(free_port)
D=$TMP/paging
if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off KARPENTER_UP_EVENT_WINDOW=1 KARPENTER_UP_EVENT_TTL=0; then
	PS=$SPID
	KC=$D/kubeconfig
	TOKEN=$(cat "$D/token")

	: >"$TMP/pg.yaml"
	for i in 1 2 3 4 5 6 7; do
		printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: pp%s, labels: {app: pg}}\nspec:\n  containers: [{name: c, image: nginx}]\n' "$i" >>"$TMP/pg.yaml"
	done
	printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: churn}\ndata: {a: b}\n' >>"$TMP/pg.yaml"
	check "paging: create 7 pods" K apply -f "$TMP/pg.yaml"

	# ---- kubectl pages with --chunk-size and still shows every pod
	out=$(K get pods --chunk-size=2 -o name -v=6 2>&1)
	n=$(printf '%s\n' "$out" | grep -c '^pod/pp')
	reqs=$(printf '%s\n' "$out" | grep -c 'GET https://[^ ]*/pods?[^ ]*limit=2')
	if [ "$n" -eq 7 ] && [ "$reqs" -ge 4 ]; then ok "paging: kubectl get pods --chunk-size=2 makes $reqs requests and returns all 7"
	else bad "paging: kubectl get pods --chunk-size=2 makes several requests and returns all 7" "n=$n reqs=$reqs $(printf '%s' "$out" | tail -n 3)"; fi
	out=$(K get pods --chunk-size=3 2>&1)
	if [ "$(printf '%s\n' "$out" | grep -c '^pp')" -eq 7 ]; then ok "paging: kubectl table output over pages"
	else bad "paging: kubectl table output over pages" "$out"; fi

	# ---- curl ?limit=2 following continue tokens
	out=$(pg_walk /api/v1/namespaces/default/pods 2 2>&1)
	if [ "$out" = "pp1 pp2 pp3 pp4 pp5 pp6 pp7
pages=4" ]; then ok "paging: limit=2 + continue returns every pod once, in order, in 4 pages"
	else bad "paging: limit=2 + continue returns every pod once, in order, in 4 pages" "$out"; fi
	out=$(pg_code "/api/v1/namespaces/default/pods?limit=2")
	if [ "$(pg_field "$out" 'd["metadata"]["remainingItemCount"], len(d["items"]), bool(d["metadata"]["continue"])')" = "5 2 True" ]
	then ok "paging: metadata.continue and remainingItemCount (5) on the first page"
	else bad "paging: metadata.continue and remainingItemCount (5) on the first page" "$(printf '%s' "$out" | head -c 300)"; fi
	out=$(pg_code "/api/v1/namespaces/default/pods?limit=7")
	if [ "$(pg_field "$out" '"continue" in d["metadata"], len(d["items"])')" = "False 7" ]; then ok "paging: no continue when the page holds the rest"
	else bad "paging: no continue when the page holds the rest" "$(printf '%s' "$out" | head -c 300)"; fi
	p1=$(pg_code "/api/v1/namespaces/default/pods?limit=2&labelSelector=app%3Dpg")
	if [ "$(pg_field "$p1" 'len(d["items"]), "remainingItemCount" in d["metadata"], bool(d["metadata"].get("continue"))')" = "2 False True" ]
	then ok "paging: with a selector: continue set, no remainingItemCount"
	else bad "paging: with a selector: continue set, no remainingItemCount" "$p1"; fi

	# ---- a consistent snapshot: later pages list as of the first page's version
	p1=$(pg_code "/api/v1/namespaces/default/pods?limit=3")
	rv1=$(pg_field "$p1" 'd["metadata"]["resourceVersion"]')
	c1=$(pg_field "$p1" 'd["metadata"]["continue"]')
	K label pod pp5 extra=after >/dev/null 2>&1
	K delete pod pp6 --wait=false >/dev/null 2>&1
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: pp4a}\nspec:\n  containers: [{name: c, image: nginx}]\n' | K apply -f - >/dev/null 2>&1
	p2=$(pg_code "/api/v1/namespaces/default/pods?limit=10&continue=$(pg_enc "$c1")")
	got=$(pg_field "$p2" '" ".join(i["metadata"]["name"] for i in d["items"]), d["metadata"]["resourceVersion"], [i for i in d["items"] if i["metadata"]["name"]=="pp5"][0]["metadata"].get("labels",{}).get("extra","-")')
	if [ "$got" = "pp4 pp5 pp6 pp7 $rv1 -" ]; then ok "paging: the next page shows the first page's snapshot (rv $rv1), not later writes"
	else bad "paging: the next page shows the first page's snapshot" "got '$got' want 'pp4 pp5 pp6 pp7 $rv1 -' $(printf '%s' "$p2" | tail -c 300)"; fi
	out=$(pg_walk /api/v1/namespaces/default/pods 2 2>&1)
	if [ "$out" = "pp1 pp2 pp3 pp4 pp4a pp5 pp7
pages=4" ]; then ok "paging: a new list sees the current state"
	else bad "paging: a new list sees the current state" "$out"; fi

	# ---- custom resources page too
	check "paging: apply a CRD" sh -c "timeout 20 kubectl --kubeconfig '$KC' apply -f '$TMP/crd.yaml' && timeout 20 kubectl --kubeconfig '$KC' wait --for=condition=Established crd/widgets.example.com --timeout=10s"
	for i in 1 2 3 4 5; do printf -- '---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: pw%s}\nspec: {size: s%s}\n' "$i" "$i"; done >"$TMP/pgw.yaml"
	K apply -f "$TMP/pgw.yaml" >/dev/null 2>&1
	out=$(pg_walk /apis/example.com/v1/namespaces/default/widgets 2 2>&1)
	if [ "$out" = "pw1 pw2 pw3 pw4 pw5
pages=3" ]; then ok "paging: custom resources page (3 pages of 2)"
	else bad "paging: custom resources page (3 pages of 2)" "$out"; fi
	out=$(K get widgets --chunk-size=2 -o name 2>&1)
	if [ "$(printf '%s\n' "$out" | grep -c '^widget')" -eq 5 ]; then ok "paging: kubectl --chunk-size on custom resources"
	else bad "paging: kubectl --chunk-size on custom resources" "$out"; fi

	# ---- garbage continue -> 400; expired continue -> 410 Expired with a fresh token
	out=$(pg_code "/api/v1/pods?limit=2&continue=not-a-token")
	if [ "$(printf '%s' "$out" | tail -n 1)" = 400 ] && has "$out" BadRequest; then ok "paging: a garbage continue token -> 400"
	else bad "paging: a garbage continue token -> 400" "$out"; fi
	out=$(pg_code "/api/v1/pods?limit=2&continue=$(pg_enc "$c1")&resourceVersion=5")
	if [ "$(printf '%s' "$out" | tail -n 1)" = 400 ]; then ok "paging: continue with resourceVersion -> 400"
	else bad "paging: continue with resourceVersion -> 400" "$out"; fi
	p1=$(pg_code "/api/v1/namespaces/default/pods?limit=2")
	c1=$(pg_field "$p1" 'd["metadata"]["continue"]')
	rv1=$(pg_field "$p1" 'd["metadata"]["resourceVersion"]')
	if pg_writes 300 churn; then ok "paging: 300 writes to compact the event window"; else bad "paging: 300 writes to compact the event window"; fi
	out=$(pg_code "/api/v1/namespaces/default/pods?limit=2&continue=$(pg_enc "$c1")")
	if [ "$(printf '%s' "$out" | tail -n 1)" = 410 ] && has "$out" '"reason":"Expired"' &&
	   has "$out" 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue value from the 410 response.'
	then ok "paging: an expired continue token -> 410 Expired with the upstream message"
	else bad "paging: an expired continue token -> 410 Expired with the upstream message" "$out"; fi
	c2=$(pg_field "$out" 'd["metadata"]["continue"]')
	out=$(pg_code "/api/v1/namespaces/default/pods?limit=10&continue=$(pg_enc "$c2")")
	if [ "$(pg_field "$out" '" ".join(i["metadata"]["name"] for i in d["items"])')" = "pp3 pp4 pp4a pp5 pp7" ]; then ok "paging: the 410's continue token resumes after the same key"
	else bad "paging: the 410's continue token resumes after the same key" "$(printf '%s' "$out" | head -c 300)"; fi
	out=$(pg_code "/api/v1/namespaces/default/pods?resourceVersion=$rv1&resourceVersionMatch=Exact")
	if [ "$(printf '%s' "$out" | tail -n 1)" = 410 ] && has "$out" Expired; then ok "paging: list at a compacted resourceVersion (Exact) -> 410"
	else bad "paging: list at a compacted resourceVersion (Exact) -> 410" "$out"; fi
	out=$(pg_code "/api/v1/namespaces/default/pods?resourceVersion=$rv1&limit=2")
	if [ "$(printf '%s' "$out" | tail -n 1)" = 410 ]; then ok "paging: limit with a compacted resourceVersion -> 410"
	else bad "paging: limit with a compacted resourceVersion -> 410" "$out"; fi
	out=$(curl -sk -m 10 -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT/api/v1/namespaces/default/pods?watch=1&resourceVersion=$rv1&timeoutSeconds=2")
	if has "$out" '"type":"ERROR"' && has "$out" '"code":410'; then ok "paging: watch from a compacted resourceVersion -> ERROR 410"
	else bad "paging: watch from a compacted resourceVersion -> ERROR 410" "$out"; fi

	# ---- selectors: unknown field -> 400, label selector syntax errors -> 400
	out=$(pg_code "/api/v1/pods?fieldSelector=spec.bogus%3Dx")
	if [ "$(printf '%s' "$out" | tail -n 1)" = 400 ] && has "$out" 'field label not supported: spec.bogus'; then ok "paging: unknown field selector field -> 400"
	else bad "paging: unknown field selector field -> 400" "$out"; fi
	out=$(K get pods --field-selector spec.bogus=x 2>&1)
	if has "$out" 'field label not supported: spec.bogus'; then ok "paging: kubectl --field-selector with an unknown field fails"
	else bad "paging: kubectl --field-selector with an unknown field fails" "$out"; fi
	out=$(pg_code "/api/v1/pods?watch=1&fieldSelector=spec.bogus%3Dx")
	if [ "$(printf '%s' "$out" | tail -n 1)" = 400 ]; then ok "paging: watch with an unknown field selector field -> 400"
	else bad "paging: watch with an unknown field selector field -> 400" "$out"; fi
	out=$(pg_code "/apis/example.com/v1/widgets?fieldSelector=spec.size%3Ds1")
	if [ "$(printf '%s' "$out" | tail -n 1)" = 400 ]; then ok "paging: custom resources select by metadata fields only -> 400"
	else bad "paging: custom resources select by metadata fields only -> 400" "$out"; fi
	out=$(K get pods --field-selector status.phase=Pending,metadata.name=pp1 -o name 2>&1)
	if [ "$out" = "pod/pp1" ]; then ok "paging: supported field selectors still work"
	else bad "paging: supported field selectors still work" "$out"; fi
	for sel in '(' '!' 'a=(b' 'app in (x' '!=' ; do
		out=$(pg_code "/api/v1/pods?labelSelector=$(pg_enc "$sel")")
		if [ "$(printf '%s' "$out" | tail -n 1)" = 400 ]; then ok "paging: label selector '$sel' -> 400"
		else bad "paging: label selector '$sel' -> 400" "$out"; fi
	done
	out=$(K get pods -l 'app=pg,!missing,app in (pg,x)' -o name 2>&1)
	if [ "$(printf '%s\n' "$out" | grep -c '^pod/')" -eq 6 ]; then ok "paging: valid label selectors still work"
	else bad "paging: valid label selectors still work" "$out"; fi

	# ---- a plain list is streamed (chunked) and still one valid List
	out=$(curl -sk -m 20 -D "$TMP/pg.hdr" -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT/api/v1/namespaces/default/pods")
	if grep -qi '^transfer-encoding: chunked' "$TMP/pg.hdr" &&
	   [ "$(printf '%s\n200' "$out" | pg_field_stdin 'd["kind"], len(d["items"])')" = "PodList 7" ]
	then ok "paging: a plain list is streamed (chunked) as one valid PodList"
	else bad "paging: a plain list is streamed (chunked) as one valid PodList" "$(cat "$TMP/pg.hdr"; printf '%s' "$out" | head -c 300)"; fi
	out=$(curl -sk -m 20 -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT/api/v1/configmaps")
	if printf '%s' "$out" | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["kind"]=="ConfigMapList" and any(i["metadata"]["name"]=="churn" for i in d["items"])' 2>/dev/null
	then ok "paging: a streamed list across namespaces parses"
	else bad "paging: a streamed list across namespaces parses" "$(printf '%s' "$out" | head -c 300)"; fi

	out=$(curl -sk -m 10 -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=1")
	if [ "$(printf '%s\n' "$out" | grep -c '^{"type":"ADDED"')" -eq 7 ]; then ok "paging: a watch's streamed initial state has one ADDED per pod"
	else bad "paging: a watch's streamed initial state has one ADDED per pod" "$(printf '%s' "$out" | head -c 300)"; fi

	if stop_server "$PS"; then ok "paging: server stops cleanly"; else bad "paging: server stops cleanly" "$(tail -n 5 "$D.log")"; fi
else
	bad "paging: start server"
fi
