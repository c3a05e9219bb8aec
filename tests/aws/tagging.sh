# tests/aws/tagging.sh: the NodeClaim tagging controller (nodeclaim.tagging,
# src/ctrl/tagging.c over the AWS provider's tag_instance) against moto.
# Defines tag_check; up.sh calls it where a Node has registered for a moto
# instance (the first node of the walkthrough, and the drift replacement,
# launched after the class's spec.tags got a Name), so it adds no launch.
#
#   tag_check LABEL NODE IID WANT_NAME
#
# waits (bounded) for the Node's NodeClaim to carry karpenter.k8s.aws/tagged
# and compatibility.karpenter.k8s.aws/cluster-name-tagged = "true", then
# checks that the instance's Name is WANT_NAME (the Node's name; or a Name
# the instance had before, which the controller must keep),
# karpenter.sh/nodeclaim is that NodeClaim and eks:eks-cluster-name is the
# cluster (walk). Uses K, ec2, until_ok, ok, bad from controller.sh.

tag_check() {
	tc_label=$1 tc_node=$2 tc_iid=$3 tc_name=$4
	tc_nc=$(K get nodeclaims -o jsonpath="{range .items[?(@.status.nodeName==\"$tc_node\")]}{.metadata.name}{end}" 2>/dev/null)
	tc_tagged() {
		[ "$(K get nodeclaim "$tc_nc" -o jsonpath='{.metadata.annotations.karpenter\.k8s\.aws/tagged}/{.metadata.annotations.compatibility\.karpenter\.k8s\.aws/cluster-name-tagged}' 2>/dev/null)" = true/true ]
	}
	if [ -z "$tc_node" ] || [ -z "$tc_iid" ] || [ -z "$tc_nc" ] || ! until_ok 15 tc_tagged; then
		bad "tagging ($tc_label): NodeClaim of Node '$tc_node' annotated karpenter.k8s.aws/tagged=true" \
			"claim=$tc_nc $(K get nodeclaim "$tc_nc" -o jsonpath='{.metadata.annotations}' 2>&1 | head -c 300) $(K logs -n karpenter karpenter-0 2>/dev/null | grep 'nodeclaim.tagging' | tail -n 2 | cut -c1-300)"
		return
	fi
	tc_desc=$(ec2 DescribeInstances "InstanceId.1=$tc_iid")
	tc_bad=""
	for kv in "Name $tc_name" "karpenter.sh/nodeclaim $tc_nc" "eks:eks-cluster-name walk"; do
		printf '%s' "$tc_desc" | grep -q "<key>${kv% *}</key><value>${kv#* }</value>" || tc_bad="$tc_bad ${kv% *}"
	done
	if [ -z "$tc_bad" ]; then
		ok "tagging ($tc_label): NodeClaim $tc_nc annotated tagged; instance $tc_iid has Name=$tc_name, its NodeClaim and cluster tags"
	else
		bad "tagging ($tc_label): instance $tc_iid tags (want Name=$tc_name)" "wrong or missing:$tc_bad; has: $(printf '%s' "$tc_desc" | grep -o '<key>[^<]*</key><value>[^<]*</value>' | tr '\n' ' ' | cut -c1-400)"
	fi
}
