#!/usr/bin/env python3
"""seed_check.py KARPENTER: the getting-started acceptance check of issue 2.

`karpenter simulate -f examples/seed` must plan exactly one spot node, and it
must be the cheapest feasible offering that `karpenter catalog` lists: among
the types the seed NodePool allows (arch amd64/arm64, os linux, categories
c/m/r, the nine families) whose allocatable holds the 8 cpu / 16Gi pod, the
capacity type by the AWS precedence (spot before on-demand, the pool allows
both), then the cheapest available offering of it (ties by type name, then
zone). Prints
"seed: N passed, M failed".
"""
import json
import subprocess
import sys

FAMILIES = {"c5", "m5", "r5", "c6a", "m6a", "r6a", "c6g", "m6g", "r6g"}
SUFFIX = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def qty(s):
    for suf in sorted(SUFFIX, key=len, reverse=True):
        if s.endswith(suf):
            return float(s[: -len(suf)]) * SUFFIX[suf]
    return float(s)


def main():
    k = sys.argv[1]
    cat = json.loads(subprocess.run([k, "catalog", "-o", "json"], check=True,
                                    capture_output=True, text=True).stdout)
    best = None
    for it in cat:
        lab = it["labels"]
        if lab.get("kubernetes.io/arch") not in ("amd64", "arm64") or lab.get("kubernetes.io/os") != "linux":
            continue
        if lab.get("karpenter.k8s.aws/instance-category") not in ("c", "m", "r"):
            continue
        if lab.get("karpenter.k8s.aws/instance-family") not in FAMILIES:
            continue
        a = it["allocatable"]
        if qty(a.get("cpu", "0")) < 8 or qty(a.get("memory", "0")) < 16 * 2**30 or qty(a.get("pods", "0")) < 1:
            continue
        for o in it["offerings"]:
            if not o.get("available", True) or o["capacityType"] not in ("spot", "on-demand"):
                continue
            rank = 0 if o["capacityType"] == "spot" else 1
            key = (rank, o["price"], it["name"], o["zone"])
            if best is None or key < best[0]:
                best = (key, it["name"], o)
    plan = json.loads(subprocess.run([k, "simulate", "-f", "examples/seed", "-o", "json"], check=True,
                                     capture_output=True, text=True).stdout)
    checks = []
    claims = plan["nodeClaims"]
    checks.append(("exactly one node planned", len(claims) == 1))
    checks.append(("no pod left unschedulable", plan["unschedulable"] == []))
    if claims and best:
        c = claims[0]
        checks.append(("the node is spot", c["capacityType"] == "spot"))
        checks.append(("it is the cheapest feasible offering of the catalog (%s %s %s $%.4f/h; planned %s %s %s $%.4f/h)"
                       % (best[1], best[2]["zone"], best[2]["capacityType"], best[2]["price"],
                          c["instanceType"], c["zone"], c["capacityType"], c["pricePerHour"]),
                       (c["instanceType"], c["zone"], c["capacityType"]) == (best[1], best[2]["zone"], best[2]["capacityType"])
                       and abs(c["pricePerHour"] - best[2]["price"]) < 1e-9))
        checks.append(("the pod is on it", c["pods"] == ["default/oversized-app-0"]))
    passed = sum(1 for _, ok in checks if ok)
    for name, ok in checks:
        print(("ok   " if ok else "FAIL ") + name)
    print("seed: %d passed, %d failed" % (passed, len(checks) - passed))
    return 0 if passed == len(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
