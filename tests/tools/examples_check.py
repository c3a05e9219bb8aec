#!/usr/bin/env python3
"""examples_check.py KARPENTER: issue 8's acceptance over Karpenter's published
examples (tests/examples, copied from aws/karpenter-provider-aws).

For each tests/examples/v1/*.yaml, with ${CLUSTER_NAME} set to "demo", plus
tests/examples/workloads/inflate.yaml, `karpenter simulate -o json` must
place every inflate pod (none unschedulable). The Windows examples must get
nodes with kubernetes.io/os=windows and the windows-build of their AMI
family; the others Linux nodes. Prints "examples: N passed, M failed".
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

BUILDS = {"windows-2019": "10.0.17763", "windows-2022": "10.0.20348",
          "windows-2025": "10.0.26100", "windows-custom-userdata": "10.0.20348"}


def main():
    k = sys.argv[1]
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")
    inflate = os.path.join(root, "workloads", "inflate.yaml")
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="kp-examples.")
    try:
        files = sorted(glob.glob(os.path.join(root, "v1", "*.yaml")))
        for f in files:
            name = os.path.basename(f)[:-5]
            d = os.path.join(tmp, name)
            os.mkdir(d)
            with open(f) as src, open(os.path.join(d, "example.yaml"), "w") as dst:
                dst.write(src.read().replace("${CLUSTER_NAME}", "demo"))
            shutil.copy(inflate, os.path.join(d, "inflate.yaml"))
            r = subprocess.run([k, "simulate", "-f", d, "-o", "json"], capture_output=True, text=True, timeout=60)
            why = None
            if r.returncode != 0:
                why = "exit %d: %s" % (r.returncode, r.stderr.strip()[-300:])
            else:
                plan = json.loads(r.stdout)
                pods = [p for c in plan["nodeClaims"] for p in c["pods"]]
                oses = {c["labels"].get("kubernetes.io/os") for c in plan["nodeClaims"]}
                builds = {c["labels"].get("node.kubernetes.io/windows-build") for c in plan["nodeClaims"]}
                if plan["unschedulable"]:
                    why = "unschedulable: %s" % plan["unschedulable"][0]
                elif len(pods) != 1:
                    why = "placed %d inflate pods, want 1" % len(pods)
                elif name in BUILDS and (oses != {"windows"} or builds != {BUILDS[name]}):
                    why = "want windows nodes of build %s, got os %s build %s" % (BUILDS[name], oses, builds)
                elif name not in BUILDS and (oses != {"linux"} or builds != {None}):
                    why = "want linux nodes, got os %s build %s" % (oses, builds)
            if why:
                failed += 1
                print("FAIL %s: %s" % (name, why))
            else:
                passed += 1
                print("ok   %s" % name)
        if len(files) != 22:
            failed += 1
            print("FAIL expected the 22 published examples, found %d" % len(files))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("examples: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
