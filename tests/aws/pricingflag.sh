# tests/aws/pricingflag.sh: `--aws-pricing-endpoint URL` (issue 9 item 4)
# on `karpenter controller` and `karpenter up --cloud aws`. Sourced by
# tests/aws/run before controller.sh (uses MP, ROOT, O, TMP, PIDS, pass,
# fail). It starts a second tests/aws/proxy.py on its own free port whose
# only rule answers Pricing GetProducts, and sets PRICING_URL to it;
# controller.sh and up.sh pass `--aws-pricing-endpoint "$PRICING_URL"` to
# the processes they start (their other services go to the main proxy,
# which has no pricing rule, so a GetProducts sent there fails in moto) and
# call pricing_flag_check. Neither AWS_ENDPOINT_URL_PRICING nor
# AWS_ENDPOINT_URL is set: the flag alone must route the Pricing API.
# Here, at once: a bad URL exits 2 naming the flag, --help lists it.
# Costs about a second (the second proxy's start); every wait is bounded.

unset AWS_ENDPOINT_URL_PRICING AWS_ENDPOINT_URL
pf_ok()  { pass=$((pass + 1)); echo "ok   $1"; }
pf_bad() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }
# GetProducts calls a proxy (URL) has seen
pf_count() { curl -s -m 5 "$1/_proxy/log" | grep -o '"GetProducts"' | wc -l; }

for pf_cmd in "controller --cloud-provider aws --cluster-name demo" "up --cloud aws"; do
	# shellcheck disable=SC2086
	pf_err=$(timeout 10 "$ROOT/$O/karpenter" $pf_cmd --aws-pricing-endpoint ftp://127.0.0.1:1 2>&1 </dev/null); pf_rc=$?
	case "$pf_rc:$pf_err" in
	2:*--aws-pricing-endpoint*ftp://127.0.0.1:1*) pf_ok "pricing flag: karpenter ${pf_cmd%% *} --aws-pricing-endpoint ftp://… exits 2 naming the flag" ;;
	*) pf_bad "pricing flag: ${pf_cmd%% *} bad URL" "exit $pf_rc: $pf_err" ;;
	esac
	if timeout 10 "$ROOT/$O/karpenter" ${pf_cmd%% *} --help 2>/dev/null | grep -q -- '--aws-pricing-endpoint URL'; then
		pf_ok "pricing flag: karpenter ${pf_cmd%% *} --help lists --aws-pricing-endpoint"
	else pf_bad "pricing flag: ${pf_cmd%% *} --help"; fi
done

PRP=$(free_port)
python3 "$ROOT/tests/aws/proxy.py" "$PRP" "http://127.0.0.1:$MP" >"$TMP/pricing-proxy.log" 2>&1 &
PIDS="$PIDS $!"
PRICING_URL=http://127.0.0.1:$PRP
if wait_http "$PRICING_URL/_proxy/log" &&
	curl -s -m 5 -X POST "$PRICING_URL/_proxy/rules" -d '{"pricing":{"m5.large":0.096,"c5.large":0.085,"r5.large":0.126}}' >/dev/null; then
	pf_ok "pricing flag: a second proxy answers GetProducts at $PRICING_URL"
else pf_bad "pricing flag: second proxy" "$(tail -n 3 "$TMP/pricing-proxy.log")"; fi
PF_MAIN=$(pf_count "http://127.0.0.1:$PP")   # the main proxy's GetProducts so far (aws_provider_check's)
PF_SEEN=0

# pricing_flag_check LABEL [LOGFILE]: since the last check, the endpoint of
# --aws-pricing-endpoint got both GetProducts queries (shared and bare
# metal); with LOGFILE (a controller's own log), the controller logged the
# update and sent no GetProducts to the main proxy (its --aws-endpoint).
pricing_flag_check() {
	pf_t=80
	while [ "$(pf_count "$PRICING_URL")" -lt $((PF_SEEN + 2)) ] && [ $pf_t -gt 0 ]; do sleep 0.25; pf_t=$((pf_t - 1)); done
	pf_n=$(pf_count "$PRICING_URL")
	if [ "$pf_n" -ge $((PF_SEEN + 2)) ]; then
		pf_ok "pricing flag: $1 sent GetProducts to --aws-pricing-endpoint ($((pf_n - PF_SEEN)) calls)"
	else pf_bad "pricing flag: $1 GetProducts at --aws-pricing-endpoint" "$((pf_n - PF_SEEN)) calls"; fi
	PF_SEEN=$pf_n
	[ -n "${2:-}" ] || return 0
	pf_m=$(pf_count "http://127.0.0.1:$PP")
	if grep -q '"on-demand prices updated from the Pricing API"' "$2" && [ "$pf_m" -eq "$PF_MAIN" ]; then
		pf_ok "pricing flag: $1 updated its on-demand prices from there, none asked of --aws-endpoint"
	else pf_bad "pricing flag: $1 prices from --aws-pricing-endpoint" \
		"main proxy GetProducts $PF_MAIN -> $pf_m; $(grep -i 'pricing' "$2" | tail -n 2)"; fi
	PF_MAIN=$pf_m
}
