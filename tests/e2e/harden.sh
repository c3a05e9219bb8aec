# tests/e2e/harden.sh: `karpenter up` safe to leave running (docs/up.md).
# Sourced by tests/e2e/run (uses its start_server, stop_server, free_port,
# ok, bad, skip, has, TMP, PIDS, PY, BIN). Starts and stops its own servers
# (the Karpenter controller off); every wait is bounded.
#  1. an existing 0755 data directory with a 0644 file becomes 0700 and every
#     file in it 0600 (SQLite store, WAL/SHM, keys, token, kubeconfig);
#  2. a second `up` on the same data directory exits 2 naming the holder's pid;
#  3. a second server cannot bind the same port (no SO_REUSEPORT);
#  4. TLS 1.0 and 1.1 are refused, 1.2 and 1.3 accepted;
#  5. past the limits (connections, watches per client) a 429 with
#     Retry-After; a watch without timeoutSeconds ends at the server's cap;
#  6. 300 idle watches with a 7 MB ConfigMap stored keep the peak RSS
#     (VmHWM) under 300 MB;
#  7. past the requests in flight a 429 with Retry-After; the request
#     timeout cuts a streamed list and a trickling request body.

# h_code [CURL ARGS...] PATH: the HTTP status of one GET (headers in $TMP/h.hdr)
h_code() {
	h_p=$1; shift
	curl -sk -m 20 -o /dev/null -D "$TMP/h.hdr" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$@" \
		"https://127.0.0.1:$PORT$h_p"
}
h_rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null; }

PORT=$(free_port)
D=$TMP/harden
mkdir -p "$D" && chmod 755 "$D" && echo old >"$D/notes.txt" && chmod 644 "$D/notes.txt"
if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off KARPENTER_UP_MAX_WATCHES_PER_CLIENT=2 \
	KARPENTER_UP_MAX_CONNECTIONS=40 KARPENTER_UP_MAX_WATCH_SECONDS=2; then
	HS=$SPID
	TOKEN=$(cat "$D/token")
	KC=$D/kubeconfig
	# a write, so the store's WAL and SHM files exist
	curl -sk -m 20 -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data '{"metadata":{"name":"h1"}}' "https://127.0.0.1:$PORT/api/v1/namespaces/default/configmaps"

	# ---- 1. permissions
	mode=$(stat -c '%a' "$D" 2>&1)
	loose=$(find "$D" -type f ! -perm 600 -printf '%m %p\n' 2>&1)
	nfiles=$(find "$D" -type f | wc -l)
	if [ "$mode" = 700 ] && [ -z "$loose" ] && [ -f "$D/store.db-wal" ] && [ -f "$D/server.key" ] && [ "$nfiles" -ge 8 ]; then
		ok "harden: data directory 0700, its $nfiles files 0600 (store, WAL, keys, token, kubeconfig)"
	else bad "harden: data directory 0700 and files 0600" "dir $mode; not 0600: $loose; files: $(ls "$D")"; fi

	# ---- 2. the lock
	out=$(timeout 20 "$BIN" up --listen 127.0.0.1:0 --data-dir "$D" 2>&1); rc=$?
	if [ $rc -eq 2 ] && has "$out" "in use by another karpenter up (pid $HS)"; then
		ok "harden: a second up on the same data directory exits 2 naming pid $HS"
	else bad "harden: a second up on the same data directory exits 2" "exit $rc: $out"; fi

	# ---- 3. no address reuse
	out=$(timeout 20 env KARPENTER_UP_CONTROLLER=off "$BIN" up --listen "127.0.0.1:$PORT" --data-dir "$TMP/harden-2" 2>&1); rc=$?
	if [ $rc -ne 0 ] && [ $rc -lt 124 ] && has "$out" "cannot start the HTTPS server"; then
		ok "harden: a second server cannot bind the same port"
	else bad "harden: a second server cannot bind the same port" "exit $rc: $out"; fi

	# ---- 4. TLS versions (the client allows old versions: SECLEVEL=0)
	if command -v openssl >/dev/null 2>&1; then
		for v in tls1 tls1_1; do
			out=$(timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -$v -cipher 'DEFAULT:@SECLEVEL=0' </dev/null 2>&1); rc=$?
			if [ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -q 'Cipher is [A-Z]'; then ok "harden: openssl s_client -$v is refused"
			else bad "harden: openssl s_client -$v is refused" "exit $rc: $(printf '%s\n' "$out" | grep -E 'Protocol|Cipher' | head -n 2)"; fi
		done
		for v in tls1_2 tls1_3; do
			out=$(timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -$v </dev/null 2>&1); rc=$?
			if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q 'Cipher is [A-Z].*GCM\|Cipher is [A-Z].*CHACHA'; then
				ok "harden: openssl s_client -$v connects with an AEAD cipher"
			else bad "harden: openssl s_client -$v connects" "exit $rc: $(printf '%s\n' "$out" | grep -E 'Protocol|Cipher|error' | head -n 3)"; fi
		done
	else
		skip openssl "harden: TLS version checks (openssl is not installed)"
	fi

	# ---- 5. limits: watches per client (2 here), then another client, then connections (40 here)
	W=/api/v1/namespaces/default/configmaps?watch=1
	curl -sk -m 15 -N -o /dev/null -H "Authorization: Bearer $TOKEN" -A h-client "https://127.0.0.1:$PORT$W&timeoutSeconds=12" &
	PIDS="$PIDS $!"
	curl -sk -m 15 -N -o /dev/null -H "Authorization: Bearer $TOKEN" -A h-client "https://127.0.0.1:$PORT$W&timeoutSeconds=12" &
	PIDS="$PIDS $!"
	sleep 1
	code=$(h_code "$W&timeoutSeconds=1" -A h-client)
	if [ "$code" = 429 ] && grep -qi '^Retry-After: 1' "$TMP/h.hdr"; then ok "harden: the third watch of one client gets 429 with Retry-After"
	else bad "harden: the third watch of one client gets 429 with Retry-After" "HTTP $code: $(cat "$TMP/h.hdr")"; fi
	code=$(h_code "$W&timeoutSeconds=1" -A h-other)
	if [ "$code" = 200 ]; then ok "harden: another client's watch is served meanwhile"
	else bad "harden: another client's watch is served meanwhile" "HTTP $code"; fi
	code=$(h_code "/api/v1/namespaces/default/configmaps" -A h-client)
	if [ "$code" = 200 ]; then ok "harden: the client's other requests are served meanwhile"
	else bad "harden: the client's other requests are served meanwhile" "HTTP $code"; fi
	t0=$(date +%s)
	code=$(h_code "/api/v1/namespaces/default/configmaps?watch=1" -A h-long)
	t1=$(date +%s)
	if [ "$code" = 200 ] && [ $((t1 - t0)) -le 8 ]; then ok "harden: a watch without timeoutSeconds ends at the server's cap (2 s here)"
	else bad "harden: a watch without timeoutSeconds ends at the server's cap" "HTTP $code after $((t1 - t0)) s"; fi
	# 45 idle TLS connections (the limit is 40): the next request gets 429
	HP=$TMP/h-conns.py
	cat >"$HP" <<'EOPY'
import socket, ssl, sys, time
port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
conns = []
for _ in range(n):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
    conns.append(s)
time.sleep(0.5)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
s.sendall(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode() + b"\r\n\r\n")
head = s.recv(4096).decode("latin-1")
print(head.split("\r\n")[0], "|", "retry-after: 1" in head.lower())
EOPY
	out=$(timeout 40 $PY "$HP" "$PORT" "$TOKEN" 45 2>&1)
	if has "$out" "429" && has "$out" "| True"; then ok "harden: past the connection limit a request gets 429 with Retry-After"
	else bad "harden: past the connection limit a request gets 429 with Retry-After" "$out"; fi
	sleep 1
	code=$(h_code "/api/v1/namespaces")
	if [ "$code" = 200 ]; then ok "harden: served again once the connections closed"; else bad "harden: served again once the connections closed" "HTTP $code"; fi
	if stop_server "$HS"; then ok "harden: the server stops cleanly after the limit checks"
	else bad "harden: the server stops cleanly after the limit checks" "$(tail -n 5 "$D.log")"; fi
	# the lock went with the process: a new up on the same directory starts
	PORT=$(free_port)
	if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off; then
		ok "harden: the data directory is free again after a stop"
		stop_server "$SPID" >/dev/null
	else bad "harden: the data directory is free again after a stop"; fi
else
	bad "harden: karpenter up starts" "$(tail -n 5 "$D.log")"
fi

# ---- 6. memory: 300 idle watches with a 7 MB ConfigMap stored, opened at
# once, half of them as kubectl's Table watches, half of each from the
# version before the object's creation (the object comes as an ADDED event,
# not from the initial state), each client with a small receive buffer (so
# the kernel cannot take the object off the server's hands) that reads the
# response head and then nothing. Each watch sends the object from one
# shared encoding (src/apiserver/enccache.c) instead of a private copy
# (before: about 15 MB per watch held). One more watch reads the whole
# event, so the object is really sent.
# The figure is the plain build's: under ASan (make test runs e2e on
# build/san) the allocator's quarantine and shadow memory swamp it, so a
# sanitizer build is measured through the plain one beside it.
PORT=$(free_port)
D=$TMP/harden-mem
MEMBIN=$BIN
case $BIN in */san/karpenter | */tsan/karpenter) MEMBIN=${BIN%/*/karpenter}/karpenter ;; esac
if [ ! -x "$MEMBIN" ]; then
	skip watch-memory-plain-build "harden: 300 idle watches with a 7 MB object: no plain build beside $BIN to measure"
elif OBIN=$BIN && BIN=$MEMBIN && start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off; then
	BIN=$OBIN
	HS=$SPID
	TOKEN=$(cat "$D/token")
	HP=$TMP/h-watches.py
	cat >"$HP" <<'EOPY'
import json, socket, ssl, sys, time, urllib.request
port, token, n, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
W = "/api/v1/namespaces/default/configmaps?watch=1"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
def mem(field):
    for line in open("/proc/%s/status" % pid):
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
def watch(i, accept, rv=None):
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    raw.settimeout(30)
    raw.connect(("127.0.0.1", port))
    s = ctx.wrap_socket(raw)
    s.sendall(("GET %s%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nUser-Agent: idle-%d\r\nAccept: %s\r\n\r\n"
               % (W, "&resourceVersion=%d" % rv if rv else "", token, i, accept)).encode())
    return s
blob = "x" * (7 << 20)
body = json.dumps({"metadata": {"name": "big"}, "data": {"blob": blob}}).encode()
rq = urllib.request.Request("https://127.0.0.1:%d/api/v1/namespaces/default/configmaps" % port, data=body,
                            headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
rv = int(json.loads(urllib.request.urlopen(rq, context=ctx, timeout=60).read())["metadata"]["resourceVersion"])
before = mem("VmRSS")
t0 = time.time()
# a quarter of each kind from just before the object's creation: its ADDED
# comes as an event, not from the initial state
conns = [watch(i, TABLE if i % 2 else "application/json", rv - 1 if i % 4 >= 2 else None) for i in range(n)]
ok = sum(1 for s in conns if s.recv(64).startswith(b"HTTP/1.1 200"))
# the whole object on one more watch, as an event (chunked: read until the event's line ends)
s = watch(n, "application/json", rv - 1)
s.settimeout(20)
data = b""
while b"}\n" not in data[-64:] and len(data) < (9 << 20):
    b = s.recv(1 << 16)
    if not b:
        break
    data += b
line = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
# strip chunk framing: hex size line, data, CRLF
out, rest = b"", line
while rest:
    size, _, rest = rest.partition(b"\r\n")
    k = int(size, 16) if size.strip() else 0
    out, rest = out + rest[:k], rest[k + 2:]
ev = json.loads(out.split(b"\n")[0])
full = ev["type"] == "ADDED" and ev["object"]["data"]["blob"] == blob
time.sleep(1)
print("watches %d answered %d rss_before_mb %d rss_mb %d hwm_mb %d object_sent %s secs %.1f" % (
    len(conns), ok, before, mem("VmRSS"), mem("VmHWM"), full, time.time() - t0))
EOPY
	out=$(timeout 90 $PY "$HP" "$PORT" "$TOKEN" 300 "$HS" 2>&1)
	hwm=$(printf '%s\n' "$out" | sed -n 's/.*hwm_mb \([0-9]*\).*/\1/p')
	rss=$(printf '%s\n' "$out" | sed -n 's/.* rss_mb \([0-9]*\).*/\1/p')
	if [ -n "$hwm" ] && [ "$hwm" -lt 300 ] && [ "$rss" -lt 300 ] && has "$out" "answered 300 " && has "$out" "object_sent True"; then
		ok "harden: 300 idle watches with a 7 MB object stored: VmHWM ${hwm} MB, VmRSS ${rss} MB (< 300; ${MEMBIN#"$ROOT"/})"
	else bad "harden: 300 idle watches with a 7 MB object stored keep VmHWM < 300 MB" "$(printf '%s\n' "$out" | tail -n 3)"; fi
	stop_server "$HS" >/dev/null
else
	BIN=$OBIN
	bad "harden: karpenter up starts (memory check)" "$(tail -n 5 "$D.log")"
fi

# ---- 7. requests in flight (2 here) and the request timeout (2 s here), on
# the data directory of 6 (the 7 MB ConfigMap is there): two plain lists
# whose clients stop reading (one reads nothing more, one a trickle) stay
# in flight, so a third request gets 429 with Retry-After while a watch is
# still served; once the timeout passed both lists are cut (requests are
# served again; the clients, reading fast now, see the connection end
# before the list's end); a request body that keeps trickling past the
# timeout gets its connection closed, without an answer.
PORT=$(free_port)
if start_server "$D" "$PORT" KARPENTER_UP_CONTROLLER=off KARPENTER_UP_MAX_INFLIGHT=2 \
	KARPENTER_UP_REQUEST_TIMEOUT_SECONDS=2; then
	HS=$SPID
	HP=$TMP/h-inflight.py
	cat >"$HP" <<'EOPY'
import socket, ssl, sys, threading, time
port, token = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def conn():
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    raw.settimeout(15)
    raw.connect(("127.0.0.1", port))
    return ctx.wrap_socket(raw)
def get(path, ua="h-probe"):
    s = conn()
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nUser-Agent: %s\r\n\r\n" % (path, token, ua)).encode())
    return s, s.recv(4096).decode("latin-1")
L = "/api/v1/namespaces/default/configmaps"
slow = [get(L, "h-slow-%d" % i) for i in range(2)]
print("slow lists:", [h.split("\r\n")[0] for _, h in slow])
_, h = get("/api/v1/namespaces")
print("third:", h.split("\r\n")[0], "| retry-after 1:", "retry-after: 1" in h.lower())
_, h = get(L + "?watch=1&timeoutSeconds=1", "h-watch")
print("watch:", h.split("\r\n")[0])
got, fast = [0, 0], threading.Event()
def drain(i, s, pause):
    try:
        while True:
            b = s.recv(65536 if fast.is_set() else 1024)
            if not b:
                break
            got[i] += len(b)
            if pause and not fast.is_set():
                time.sleep(pause)
    except OSError:
        pass
# the first reads nothing more, the second trickles (1 KiB every 50 ms)
th = [threading.Thread(target=drain, args=(1, slow[1][0], 0.05))]
th[0].start()
time.sleep(3.5)
_, h = get("/api/v1/namespaces")
print("after the timeout:", h.split("\r\n")[0])
fast.set()
th.append(threading.Thread(target=drain, args=(0, slow[0][0], 0)))
th[1].start()
for t in th:
    t.join(20)
print("cut: %s received %s (the list is more than 7340032 bytes)" % (
      all(g < 7340032 for g in got) and not any(t.is_alive() for t in th), got))
# a body trickling past the timeout
s = conn()
s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
           "Content-Length: 100000\r\n\r\n{" % (L, token)).encode())
t1, resp, closed = time.time(), b"", False
s.settimeout(0.3)
while time.time() - t1 < 8 and not closed:
    try:
        s.sendall(b" " * 10)
        b = s.recv(4096)
        closed = not b
        resp += b
    except socket.timeout:
        pass
    except OSError:
        closed = True
print("trickled body: closed %s after %.1f s, answer %r" % (closed, time.time() - t1, resp[:40]))
EOPY
	out=$(timeout 60 $PY "$HP" "$PORT" "$(cat "$D/token")" 2>&1)
	if has "$out" "slow lists: ['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']" && has "$out" "third: HTTP/1.1 429" && has "$out" "retry-after 1: True"; then
		ok "harden: past the requests in flight (2 streamed lists) a request gets 429 with Retry-After"
	else bad "harden: past the requests in flight a request gets 429 with Retry-After" "$out"; fi
	if has "$out" "watch: HTTP/1.1 200"; then ok "harden: watches do not count against the requests in flight"
	else bad "harden: watches do not count against the requests in flight" "$out"; fi
	if has "$out" "after the timeout: HTTP/1.1 200" && has "$out" "cut: True"; then
		ok "harden: lists still being sent at the request timeout are cut, then requests are served again"
	else bad "harden: lists still being sent at the request timeout are cut" "$out"; fi
	secs=$(printf '%s\n' "$out" | sed -n 's/^trickled body: closed True after \([0-9]*\)\..*/\1/p')
	if [ -n "$secs" ] && [ "$secs" -ge 1 ] && [ "$secs" -le 4 ] && has "$out" "answer b''"; then
		ok "harden: a request body still arriving at the request timeout has its connection closed (${secs} s)"
	else bad "harden: a request body still arriving at the request timeout has its connection closed" "$out"; fi
	stop_server "$HS" >/dev/null
else
	bad "harden: karpenter up starts (request limits)" "$(tail -n 5 "$D.log")"
fi
