# tests/e2e/continue.sh: continue tokens stay valid while a list is paged
# under concurrent writes, as on a real cluster (etcd keeps ~5 minutes of
# history): the store keeps the events of the last 5 minutes besides its
# count window, and every update's event holds the state before it, so a
# page as of the first page's version is rebuilt even for objects last
# written long before the window. Two servers: the default retention with a
# 50-event window (writes far past the window during paging: no 410), and
# the window alone (KARPENTER_UP_EVENT_TTL=0) where the listed objects'
# own events were compacted before a few of them changed (no 410 either).
# Sourced by tests/e2e/run (uses its start_server, stop_server, free_port, K,
# ok, bad, check, has, TMP, PIDS, PY). Every wait is bounded.

# ct_page_walk LIMIT WRITES_BETWEEN [MUTATE]: pages configmaps in default, running
# WRITES_BETWEEN writes (churn updates; after page 1 also: update ct-30..34,
# delete ct-35, create ct-new, unless MUTATE is 0) between pages; prints "codes=... names=N
# snapshot=ok|bad"
ct_page_walk() {
	$PY - "$PORT" "$TOKEN" "$1" "$2" "${3:-1}" <<'EOP'
import http.client, json, ssl, sys, urllib.parse
port, token, limit, between, mutate = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=20)
H = {"Authorization": "Bearer " + token}
def req(m, path, body=None, ct="application/merge-patch+json"):
    h = dict(H)
    if body is not None:
        h["Content-Type"] = ct
    c.request(m, path, json.dumps(body) if body is not None else None, h)
    r = c.getresponse(); return r.status, r.read()
base = "/api/v1/namespaces/default/configmaps"
cont, pages, names, codes, data = "", 0, [], [], {}
while pages < 100:
    st, b = req("GET", base + "?limit=" + limit + ("&continue=" + urllib.parse.quote(cont, safe="") if cont else ""))
    codes.append(st)
    if st != 200:
        break
    d = json.loads(b); pages += 1
    for i in d["items"]:
        names.append(i["metadata"]["name"]); data[i["metadata"]["name"]] = i.get("data", {})
    cont = d["metadata"].get("continue", "")
    if not cont:
        break
    for j in range(between):
        st, _ = req("PATCH", base + "/churn", {"data": {"i": str(j)}})
        assert st == 200, st
    if pages == 1 and mutate:
        for n in range(30, 35):
            assert req("PATCH", base + "/ct-%02d" % n, {"data": {"v": "changed"}})[0] == 200
        assert req("DELETE", base + "/ct-35")[0] == 200
        assert req("POST", base, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ct-new"}})[0] == 201
snap = all(data.get("ct-%02d" % n, {}).get("v") == "orig" for n in range(30, 35)) and "ct-35" in names and "ct-new" not in names
print("codes=%s pages=%d names=%d snapshot=%s" % (",".join(sorted(set(map(str, codes)))), pages, len(names), "ok" if snap else "bad"))
EOP
}
# ct_seed: 40 configmaps ct-00..ct-39 (data v=orig) and churn, one apply
ct_seed() {
	: >"$TMP/ct.yaml"
	i=0
	while [ $i -lt 40 ]; do
		printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ct-%02d}\ndata: {v: orig}\n' "$i" >>"$TMP/ct.yaml"
		i=$((i + 1))
	done
	printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: churn}\ndata: {i: "0"}\n' >>"$TMP/ct.yaml"
	K apply -f "$TMP/ct.yaml" >/dev/null 2>&1
}
# ct_writes N: N updates of configmap churn over one connection
ct_writes() {
	$PY - "$PORT" "$TOKEN" "$1" <<'EOP'
import http.client, json, ssl, sys
port, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=20)
for i in range(n):
    c.request("PATCH", "/api/v1/namespaces/default/configmaps/churn", json.dumps({"data": {"w": str(i)}}),
              {"Authorization": "Bearer " + token, "Content-Type": "application/merge-patch+json"})
    r = c.getresponse(); r.read()
    if r.status != 200:
        sys.exit("write %d: %d" % (i, r.status))
EOP
}

CT_T0=$(date +%s)
# ---- 1. default retention (5 minutes) with a 50-event window
PORT=$(free_port)
D=$TMP/continue1
if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off KARPENTER_UP_EVENT_WINDOW=50; then
	SC=$SPID
	KC=$D/kubeconfig
	TOKEN=$(cat "$D/token")
	ct_seed
	out=$(ct_page_walk 2 30 2>&1)
	if [ "$out" = "codes=200 pages=21 names=41 snapshot=ok" ]; then ok "continue: limit=2 paging with 30 writes between pages (600, window 50): no 410, one snapshot ($out)"
	else bad "continue: limit=2 paging with writes far past the window: no 410" "$out"; fi
	# kubectl --chunk-size=2 while a writer runs
	ct_writes 400 >"$TMP/ct-w.out" 2>&1 &
	CW=$!; PIDS="$PIDS $CW"
	n=0; fails=0
	for r in 1 2 3; do
		out=$(K get configmaps --chunk-size=2 -o name 2>&1) || fails=$((fails + 1))
		has "$out" "Expired" && fails=$((fails + 1))
		n=$(printf '%s\n' "$out" | grep -c '^configmap/ct-')
	done
	wait "$CW" 2>/dev/null; wrc=$?
	if [ $fails -eq 0 ] && [ "$n" -eq 40 ] && [ $wrc -eq 0 ]; then ok "continue: kubectl get --chunk-size=2 three times during 400 concurrent writes: all listed, no 410"
	else bad "continue: kubectl get --chunk-size=2 under concurrent writes" "fails=$fails n=$n writer=$wrc $(cat "$TMP/ct-w.out") $(printf '%s' "$out" | tail -n 2)"; fi
	if stop_server "$SC"; then ok "continue: server 1 stops cleanly"; else bad "continue: server 1 stops cleanly" "$(tail -n 5 "$D.log")"; fi
else
	bad "continue: start server 1"
fi

# ---- 2. the count window alone: the listed objects' own events are compacted before they change
PORT=$(free_port)
D=$TMP/continue2
if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off KARPENTER_UP_EVENT_WINDOW=50 KARPENTER_UP_EVENT_TTL=0; then
	SC=$SPID
	KC=$D/kubeconfig
	TOKEN=$(cat "$D/token")
	ct_seed
	ct_writes 400 >/dev/null 2>&1
	out=$(ct_page_walk 2 0 2>&1)
	if [ "$out" = "codes=200 pages=21 names=41 snapshot=ok" ]; then ok "continue: a few writes to objects older than the window do not expire the token ($out)"
	else bad "continue: a few writes to objects older than the window do not expire the token" "$out"; fi
	out=$(ct_page_walk 2 400 0 2>&1)
	if has "$out" "410"; then ok "continue: past the window (TTL 0, 400 writes per page) the token expires with 410"
	else bad "continue: past the window (TTL 0) the token expires with 410" "$out"; fi
	if stop_server "$SC"; then ok "continue: server 2 stops cleanly"; else bad "continue: server 2 stops cleanly" "$(tail -n 5 "$D.log")"; fi
else
	bad "continue: start server 2"
fi
echo "continue: $(($(date +%s) - CT_T0)) s"
