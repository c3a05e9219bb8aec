#!/usr/bin/env python3
"""cost_props.py KARPENTER: properties of cost packing and the bound over every
scenario in tests/scenarios (issue 12).

For each scenario that plans (exit 0), `simulate` runs with its own args in
Karpenter mode and in cost mode (--packing cost), both with --bound, and checks:
  1. the bound never exceeds the plan (either mode), and is not negative;
  2. cost mode leaves unplaced no pod Karpenter mode places;
  3. cost mode's plan costs no more than Karpenter's;
  4. every cost-mode claim's pods fit its allocatable (cpu, memory, pods, GPUs)
     (scenarios without DaemonSets).
Scenarios named in NOT_ZERO must show a strictly cheaper cost plan (so the
test can fail if cost mode silently falls back). Prints "cost-props: N passed, M failed".
"""
import json
import os
import subprocess
import sys

SUFFIX = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
CHEAPER = {"cost-gpu-5379-karpenter"}


def qty(s):
    s = str(s)
    for suf in sorted(SUFFIX, key=len, reverse=True):
        if s.endswith(suf):
            return float(s[: -len(suf)]) * SUFFIX[suf]
    return float(s)


def run(k, d, extra):
    args = ["simulate", "-f", os.path.join(d, "manifests.yaml"), "-o", "json", "--bound"] + extra
    if os.path.exists(os.path.join(d, "catalog.json")):
        args += ["--catalog", os.path.join(d, "catalog.json")]
    if os.path.exists(os.path.join(d, "args")):
        args += open(os.path.join(d, "args")).read().split()
    p = subprocess.run([k] + args, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return None, p.stderr
    return json.loads(p.stdout), ""


def unplaced(plan):
    return {u["pod"] for u in plan["unschedulable"]}


def price(plan):
    return sum(c["pricePerHour"] for c in plan["nodeClaims"])


def main():
    k = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else "tests/scenarios"
    passed = failed = 0
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        if not os.path.isfile(os.path.join(d, "manifests.yaml")):
            continue
        if os.path.exists(os.path.join(d, "exit")) and open(os.path.join(d, "exit")).read().strip() != "0":
            continue
        errs = []
        base, err = run(k, d, ["--packing", "karpenter"])
        cost, err2 = run(k, d, ["--packing", "cost"])
        if base is None or cost is None:
            errs.append("simulate failed: " + (err or err2).strip())
        else:
            for mode, plan in (("karpenter", base), ("cost", cost)):
                b = plan["costBound"]
                if b["lowerBoundPerHour"] < 0 or b["lowerBoundPerHour"] > price(plan) * (1 + 1e-9) + 1e-9:
                    errs.append("%s: bound %.6f above plan %.6f" % (mode, b["lowerBoundPerHour"], price(plan)))
            extra = unplaced(cost) - unplaced(base)
            if extra:
                errs.append("cost mode leaves unplaced what Karpenter places: %s" % sorted(extra))
            if price(cost) > price(base) * (1 + 1e-9) + 1e-9:
                errs.append("cost plan %.6f costs more than Karpenter's %.6f" % (price(cost), price(base)))
            if name in CHEAPER and not price(cost) < price(base) - 1e-9:
                errs.append("cost plan %.6f not cheaper than %.6f" % (price(cost), price(base)))
            # "requests" includes the smallest daemon overhead among the claim's
            # remaining types, not the launched one's: compare only without daemons
            daemons = "kind: DaemonSet" in open(os.path.join(d, "manifests.yaml")).read()
            for c in ([] if daemons else cost["nodeClaims"]):
                alloc = {r: qty(v) for r, v in c.get("allocatable", {}).items()}
                req = {r: qty(v) for r, v in c.get("requests", {}).items()}
                for r, v in req.items():
                    if r in alloc and v > alloc[r] * (1 + 1e-9):
                        errs.append("claim %s: %s requests %s > allocatable %s" % (c.get("name"), r, v, alloc[r]))
        if errs:
            failed += 1
            print("FAIL %s: %s" % (name, "; ".join(errs)))
        else:
            passed += 1
    print("cost-props: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


sys.exit(main())
