# tests/aws/hash.sh: issue item 8, the EC2NodeClass hash controller
# (karpenter-provider-aws pkg/controllers/nodeclass/hash) through the
# generic controller and the provider's nodeclass_hash:
#  1. each EC2NodeClass carries karpenter.k8s.aws/ec2nodeclass-hash and
#     -hash-version equal to what its new NodeClaims carry (and the two
#     classes' hashes differ);
#  2. a class whose hash-version annotation is old (here Karpenter's v4, as
#     after a take-over) first rewrites its NodeClaims whose version is old:
#     the current version, and the class's hash unless the claim is already
#     Drifted (that one keeps its hash); then the class gets the current
#     version back.
# Sourced by tests/aws/pools.sh while pool-a's and pool-b's NodeClaims run
# (uses K, until_ok, ok, bad, pool_claim).

ha_ann() { # KIND/NAME: "<hash> <hash-version>"
	K get "$1" -o jsonpath='{.metadata.annotations.karpenter\.k8s\.aws/ec2nodeclass-hash} {.metadata.annotations.karpenter\.k8s\.aws/ec2nodeclass-hash-version}' 2>/dev/null
}
ha_drifted() { K get nodeclaim "$1" -o jsonpath='{.status.conditions[?(@.type=="Drifted")].status}' 2>/dev/null; }
HA=$(pool_claim pool-a)
HB=$(pool_claim pool-b)
ha_same() { [ "$(ha_ann ec2nodeclasses/class-a)" = "$(ha_ann nodeclaim/"$HA")" ] && [ "$(ha_ann ec2nodeclasses/class-b)" = "$(ha_ann nodeclaim/"$HB")" ]; }
if [ -n "$HA" ] && [ -n "$HB" ] && until_ok 10 ha_same && case "$(ha_ann ec2nodeclasses/class-a)" in [0-9]*" kc-v1") true ;; *) false ;; esac &&
	[ "$(ha_ann ec2nodeclasses/class-a)" != "$(ha_ann ec2nodeclasses/class-b)" ]; then
	ok "hash: each EC2NodeClass carries the ec2nodeclass-hash and -hash-version its NodeClaims got ($(ha_ann ec2nodeclasses/class-a))"
else bad "hash: EC2NodeClass hash annotations" \
	"class-a '$(ha_ann ec2nodeclasses/class-a)' claim '$(ha_ann nodeclaim/"$HA")'; class-b '$(ha_ann ec2nodeclasses/class-b)' claim '$(ha_ann nodeclaim/"$HB")'"; fi

# 2. after a hash-version change (budget 0: the Drifted claim stays while we look)
K patch nodepool pool-b --type=merge -p '{"spec":{"disruption":{"budgets":[{"nodes":"0"}]}}}' >/dev/null 2>&1
CA=$(ha_ann ec2nodeclasses/class-a); CA=${CA% *}
for n in "$HA" "$HB"; do
	K annotate --overwrite nodeclaim "$n" karpenter.k8s.aws/ec2nodeclass-hash=123 karpenter.k8s.aws/ec2nodeclass-hash-version=v4 >/dev/null 2>&1
done
K patch nodeclaim "$HB" --subresource=status --type=json \
	-p '[{"op":"add","path":"/status/conditions/-","value":{"type":"Drifted","status":"True","reason":"NodeClassDrift","message":"test","lastTransitionTime":"2026-01-01T00:00:00Z"}}]' >/dev/null 2>&1
before="$(ha_ann nodeclaim/"$HA")/$(ha_ann nodeclaim/"$HB")/$(ha_drifted "$HB")"
K annotate --overwrite ec2nodeclasses class-a class-b karpenter.k8s.aws/ec2nodeclass-hash-version=v4 >/dev/null 2>&1
ha_done() {
	[ "$(ha_ann nodeclaim/"$HA")" = "$CA kc-v1" ] && [ "$(ha_ann ec2nodeclasses/class-a)" = "$CA kc-v1" ] &&
		[ "$(ha_ann nodeclaim/"$HB")" = "123 kc-v1" ] && [ "$(ha_ann ec2nodeclasses/class-b | cut -d' ' -f2)" = kc-v1 ]
}
if [ "$before" = "123 v4/123 v4/True" ] && until_ok 10 ha_done && [ -z "$(ha_drifted "$HA")" ] && [ "$(ha_drifted "$HB")" = True ]; then
	ok "hash: old ec2nodeclass-hash-version: claims get kc-v1 and the class's hash (a Drifted one keeps its hash), then the class kc-v1"
else bad "hash: NodeClaim rewrite after an ec2nodeclass-hash-version change" \
	"before '$before'; $HA '$(ha_ann nodeclaim/"$HA")' want '$CA kc-v1' drifted '$(ha_drifted "$HA")'; $HB '$(ha_ann nodeclaim/"$HB")' drifted '$(ha_drifted "$HB")'; class-a '$(ha_ann ec2nodeclasses/class-a)'"; fi
