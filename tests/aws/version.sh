# tests/aws/version.sh: the Kubernetes version for AMI alias SSM paths
# comes from the API server's /version when --kubernetes-version is not
# given (Karpenter's pkg/providers/version: Major.Minor, "+" dropped), and
# --service-cidr is checked. Sourced by tests/aws/run (uses ROOT, O, TMP,
# PIDS, PP, pass, fail, free_port). A tiny HTTP server answers
# /version with 1.31+; the controller is stopped after its start-up line
# (bounded: 10 s). About 2 s.
vs_ok()  { pass=$((pass + 1)); echo "ok   $1"; }
vs_bad() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }

VSP=$(free_port)
# the kube client speaks https only, verifying the server: a self-signed
# certificate for 127.0.0.1, given as the kubeconfig's certificate-authority
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/version-key.pem" -out "$TMP/version-cert.pem" -days 1 \
	-subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1
python3 - "$VSP" "$TMP/version-cert.pem" "$TMP/version-key.pem" >"$TMP/version-server.log" 2>&1 <<'PY' &
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"major":"1","minor":"31+","gitVersion":"v1.31.4-eks"}' if self.path.startswith("/version") else b'{}'
        self.send_response(200 if self.path.startswith("/version") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
PIDS="$PIDS $!"
cat >"$TMP/version.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: v, cluster: {server: "https://127.0.0.1:$VSP", certificate-authority: "$TMP/version-cert.pem"}}]
users: [{name: v, user: {token: t}}]
contexts: [{name: v, context: {cluster: v, user: v}}]
current-context: v
KC
vs_t=50
until curl -s -o /dev/null --cacert "$TMP/version-cert.pem" "https://127.0.0.1:$VSP/version" || [ $vs_t -le 0 ]; do
	sleep 0.2; vs_t=$((vs_t - 1))
done
if [ $vs_t -gt 0 ]; then
	vs_start() { # LOG ARGS...: a controller until it has started (or 10 s)
		vs_log=$1; shift
		: >"$vs_log"
		"$ROOT/$O/karpenter" controller --kubeconfig "$TMP/version.kubeconfig" --cloud-provider aws --cluster-name v \
			--aws-endpoint "http://127.0.0.1:$PP" --aws-region us-east-1 --metrics-listen "" --health-listen "" \
			"$@" >"$vs_log" 2>&1 &
		vs_pid=$!
		vs_t=40
		while [ $vs_t -gt 0 ] && ! grep -q "starting karpenter controller" "$vs_log"; do sleep 0.25; vs_t=$((vs_t - 1)); done
		kill "$vs_pid" 2>/dev/null; wait "$vs_pid" 2>/dev/null
	}
	vs_start "$TMP/version1.log"
	if grep -q "Kubernetes version 1.31 (the API server's /version)" "$TMP/version1.log"; then
		vs_ok "kubernetes version: 1.31 from the API server's /version (\"31+\" read as 31)"
	else vs_bad "kubernetes version from /version" "$(head -n 3 "$TMP/version1.log")"; fi
	vs_start "$TMP/version2.log" --kubernetes-version 1.30
	if ! grep -q "Kubernetes version" "$TMP/version2.log"; then
		vs_ok "kubernetes version: --kubernetes-version wins, /version not used"
	else vs_bad "--kubernetes-version" "$(head -n 3 "$TMP/version2.log")"; fi
else
	vs_bad "version server did not start" "$(tail -n 3 "$TMP/version-server.log")"
fi
vs_err=$(timeout 10 "$ROOT/$O/karpenter" controller --cloud-provider aws --cluster-name v --service-cidr 10.0.0.0/33 2>&1 </dev/null); vs_rc=$?
case "$vs_rc:$vs_err" in
2:*--service-cidr*) vs_ok "--service-cidr 10.0.0.0/33: exit 2 naming the flag" ;;
*) vs_bad "--service-cidr bad value" "exit $vs_rc: $vs_err" ;;
esac
