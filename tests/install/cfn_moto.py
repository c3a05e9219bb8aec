#!/usr/bin/env python3
"""cfn_moto.py TEMPLATE: creates deploy/aws/cloudformation.yaml as a stack in
moto_server (started here on a free 127.0.0.1 port, stopped on exit) and checks
what it made: the interruption queue and its policy, the five EventBridge rules
targeting it, the controller policy's statements and cluster-tag conditions,
the node role, and the IRSA controller role's trust. Prints "ok"/"FAIL" lines
and "cfn: N passed, M failed"; prints "SKIP ..." and "cfn: 0 passed, 0 failed,
1 skipped" when moto_server or boto3 is not installed (PyPI is not reachable
from the test machines, so they cannot be fetched)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + (": " + str(detail)[:300] if detail else ""))


def skip(why):
    print("SKIP cloudformation stack in moto: " + why)
    print("cfn: 0 passed, 0 failed, 1 skipped")
    sys.exit(0)


def main():
    template = sys.argv[1] if len(sys.argv) > 1 else "deploy/aws/cloudformation.yaml"
    moto = shutil.which("moto_server")
    if not moto:
        skip("moto_server is not installed")
    try:
        import boto3
    except ImportError:
        skip("python module boto3 is not installed")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log = open(os.devnull, "w")
    proc = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    try:
        run(boto3, template, port)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
    print("cfn: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


def moto_policy_object(body, cluster):
    """moto 5.2.1 json-encodes a ManagedPolicy's PolicyDocument even when it
    is already a JSON string (iam/models.py ManagedPolicy.create_from_
    cloudformation_json), which real CloudFormation accepts and the template
    needs (its condition keys name the cluster). So moto gets the same
    document as an object: keys with ${ClusterName} resolved to the test's
    cluster, "${X.Arn}" values as Fn::GetAtt, other ${...} values as Fn::Sub."""
    import re
    import yaml
    t = yaml.safe_load(body)
    props = t["Resources"]["KarpenterControllerPolicy"]["Properties"]
    doc = json.loads(props["PolicyDocument"]["Fn::Sub"])

    def conv(v):
        if isinstance(v, dict):
            return {k.replace("${ClusterName}", cluster): conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, str):
            m = re.fullmatch(r"\$\{(\w+)\.(\w+)\}", v)
            if m:
                return {"Fn::GetAtt": [m.group(1), m.group(2)]}
            if "${" in v:
                return {"Fn::Sub": v}
        return v
    props["PolicyDocument"] = conv(doc)
    return json.dumps(t)


def run(boto3, template, port):
    url = "http://127.0.0.1:%d" % port
    kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
              aws_secret_access_key="testing")
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            break
        except OSError:
            if time.time() > deadline:
                check("moto_server starts", False, "no listener after 20 s")
                return
            time.sleep(0.1)
    cfn = boto3.client("cloudformation", **kw)
    body = open(template).read()
    try:
        cfn.validate_template(TemplateBody=body)
        check("template validates", True)
    except Exception as e:  # noqa: BLE001 - any error is the finding
        check("template validates", False, e)
    try:
        mbody = moto_policy_object(body, "demo")
    except Exception as e:  # noqa: BLE001
        check("controller policy is a Fn::Sub'd JSON document", False, e)
        return
    oidc = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    try:
        cfn.create_stack(StackName="karpenter-demo", TemplateBody=mbody, Capabilities=["CAPABILITY_NAMED_IAM"],
                         Parameters=[{"ParameterKey": "ClusterName", "ParameterValue": "demo"},
                                     {"ParameterKey": "OIDCProvider", "ParameterValue": oidc}])
    except Exception as e:  # noqa: BLE001
        check("create stack", False, e)
        return
    st = cfn.describe_stacks(StackName="karpenter-demo")["Stacks"][0]
    check("stack CREATE_COMPLETE", st["StackStatus"] == "CREATE_COMPLETE", st.get("StackStatusReason"))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in st.get("Outputs", [])}
    check("outputs name the queue, node role, policy and controller role",
          outputs.get("InterruptionQueueName") == "demo" and outputs.get("KarpenterNodeRoleName") ==
          "KarpenterNodeRole-demo" and "KarpenterControllerPolicy-demo" in outputs.get(
              "KarpenterControllerPolicyArn", "") and "KarpenterControllerRole-demo" in outputs.get(
              "KarpenterControllerRoleArn", ""), outputs)

    sqs = boto3.client("sqs", **kw)
    qurl = sqs.get_queue_url(QueueName="demo")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=qurl, AttributeNames=["All"])["Attributes"]
    qarn = attrs.get("QueueArn", "")
    check("interruption queue exists, 300 s retention", attrs.get("MessageRetentionPeriod") == "300", attrs)
    # moto 5.2.1 does not implement AWS::SQS::QueuePolicy nor a Role's
    # ManagedPolicyArns in CloudFormation: those two are checked in the
    # template itself, and say so.
    import yaml
    res = yaml.safe_load(body)["Resources"]
    qp = res.get("KarpenterInterruptionQueuePolicy", {}).get("Properties", {})
    allow = [s for s in qp.get("PolicyDocument", {}).get("Statement", []) if s.get("Effect") == "Allow"]
    check("queue policy lets EventBridge send to the queue (template; not in moto)",
          qp.get("Queues") == [{"Ref": "KarpenterInterruptionQueue"}] and
          any("events.amazonaws.com" in json.dumps(s.get("Principal")) and s.get("Action") == "sqs:SendMessage"
              and s.get("Resource") == {"Fn::GetAtt": ["KarpenterInterruptionQueue", "Arn"]} for s in allow), qp)

    ev = boto3.client("events", **kw)
    rules = {r["Name"]: r for r in ev.list_rules(NamePrefix="Karpenter-demo-")["Rules"]}
    want = {"ScheduledChange": ("aws.health", "AWS Health Event"),
            "SpotInterruption": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
            "Rebalance": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
            "InstanceStateChange": ("aws.ec2", "EC2 Instance State-change Notification"),
            "CapacityReservationInterruption": ("aws.ec2", "EC2 Capacity Reservation Instance Interruption Warning")}
    for short, (source, dtype) in want.items():
        name = "Karpenter-demo-" + short
        r = rules.get(name)
        pat = json.loads(r["EventPattern"]) if r else {}
        targets = ev.list_targets_by_rule(Rule=name)["Targets"] if r else []
        check("rule %s matches %s / %s and targets the queue" % (short, source, dtype),
              pat.get("source") == [source] and pat.get("detail-type") == [dtype] and
              any(t["Arn"] == qarn for t in targets), (pat, targets))

    iam = boto3.client("iam", **kw)
    role = iam.get_role(RoleName="KarpenterNodeRole-demo")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    check("node role trusts EC2", "ec2.amazonaws.com" in json.dumps(trust), trust)
    arns = res["KarpenterNodeRole"]["Properties"].get("ManagedPolicyArns", [])
    names = sorted(a["Fn::Sub"].rsplit("/", 1)[1] for a in arns)
    check("node role has the EKS worker, CNI, ECR and SSM policies (template; not in moto)",
          names == sorted(["AmazonEKS_CNI_Policy", "AmazonEKSWorkerNodePolicy",
                           "AmazonEC2ContainerRegistryReadOnly", "AmazonSSMManagedInstanceCore"]), names)

    parn = outputs.get("KarpenterControllerPolicyArn", "")
    try:
        p = iam.get_policy(PolicyArn=parn)["Policy"]
        doc = iam.get_policy_version(PolicyArn=parn, VersionId=p["DefaultVersionId"])["PolicyVersion"]["Document"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
    except Exception as e:  # noqa: BLE001
        check("controller policy readable", False, e)
        return
    sids = {s.get("Sid"): s for s in doc.get("Statement", [])}
    check("controller policy has Karpenter's 16 statements", len(sids) == 16, sorted(sids))
    text = json.dumps(doc)
    check("no wildcard actions", '"*"' not in json.dumps([s.get("Action") for s in sids.values()]) and
          "ec2:*" not in text and "iam:*" not in text)
    deletion = sids.get("AllowScopedDeletion", {})
    check("terminate only instances tagged as the cluster's",
          deletion.get("Condition", {}).get("StringEquals", {}).get(
              "aws:ResourceTag/kubernetes.io/cluster/demo") == "owned", deletion)
    create = sids.get("AllowScopedEC2InstanceActionsWithTags", {})
    check("create only with the cluster's tags",
          create.get("Condition", {}).get("StringEquals", {}).get("aws:RequestTag/kubernetes.io/cluster/demo") ==
          "owned" and create.get("Condition", {}).get("StringEquals", {}).get(
              "aws:RequestTag/eks:eks-cluster-name") == "demo", create)
    queue = sids.get("AllowInterruptionQueueActions", {})
    check("queue actions scoped to the queue's ARN", queue.get("Resource") == qarn, queue)
    passrole = sids.get("AllowPassingInstanceRole", {})
    check("PassRole only for the node role", passrole.get("Resource") == role["Arn"], passrole)

    crole = iam.get_role(RoleName="KarpenterControllerRole-demo")["Role"]
    ctrust = crole["AssumeRolePolicyDocument"]
    ctrust = json.loads(ctrust) if isinstance(ctrust, str) else ctrust
    cond = ctrust["Statement"][0].get("Condition", {}).get("StringEquals", {})
    check("controller role trusts the karpenter ServiceAccount through the OIDC provider",
          cond.get(oidc + ":sub") == "system:serviceaccount:karpenter:karpenter" and
          ctrust["Statement"][0].get("Action") == "sts:AssumeRoleWithWebIdentity", ctrust)
    carns = res["KarpenterControllerRole"]["Properties"].get("ManagedPolicyArns", [])
    check("controller role carries the controller policy (template; not in moto)",
          carns == [{"Ref": "KarpenterControllerPolicy"}], carns)

if __name__ == "__main__":
    main()
