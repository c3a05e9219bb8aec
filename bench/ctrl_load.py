#!/usr/bin/python3
"""ctrl_load.py: the load driver of bench/ctrl_bench.sh (stdlib only).

ctrl_load.py --kubeconfig KC --pods N --nodes M [--metrics URL] [--steady S] NAME=PID...

Creates M Ready Node objects labelled as Karpenter nodes (4 cpu, 16Gi, 110
pods each), then one Deployment of N pods (10m cpu, 16Mi each), waits until
the Deployment reports N ready replicas, then S seconds of steady state.
Reads /proc/PID/status (VmRSS, VmHWM) and /proc/PID/stat (utime + stime)
of each named process before, after loading and after the steady state,
scrapes URL once, and prints the figures. Exits 1 if the load did not
finish (the figures printed so far stay valid)."""
import base64, http.client, json, os, ssl, sys, time, urllib.request

TICK = os.sysconf("SC_CLK_TCK")


def kubeconfig(path):
    server = ca = token = None
    for line in open(path):
        line = line.strip()
        if line.startswith("server:"): server = line.split(None, 1)[1]
        elif line.startswith("certificate-authority-data:"): ca = base64.b64decode(line.split(None, 1)[1]).decode()
        elif line.startswith("token:"): token = line.split(None, 1)[1]
    return server, ca, token


class Api:
    def __init__(self, path):
        server, ca, token = kubeconfig(path)
        self.ctx = ssl.create_default_context(cadata=ca)
        self.hostport = server[len("https://"):]
        self.hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        self.conn = None

    def call(self, method, path, body=None):
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPSConnection(self.hostport, context=self.ctx, timeout=30)
                self.conn.request(method, path, json.dumps(body) if body is not None else None, self.hdr)
                r = self.conn.getresponse()
                data = r.read()
                return r.status, data
            except (OSError, http.client.HTTPException):
                self.conn = None
                time.sleep(0.2)
        raise RuntimeError("%s %s: connection failed" % (method, path))


def proc(pid):
    st = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                st[k] = int(v.split()[0]) / 1024.0
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    st["cpu"] = (int(fields[11]) + int(fields[12])) / TICK   # utime, stime (fields 14, 15)
    return st


def node(i):
    zone = "us-east-1" + "abc"[i % 3]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "bench-node-%04d" % i, "labels": {
                "karpenter.sh/nodepool": "bench", "karpenter.sh/capacity-type": "on-demand",
                "node.kubernetes.io/instance-type": "m5.xlarge", "topology.kubernetes.io/zone": zone,
                "topology.kubernetes.io/region": "us-east-1", "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux", "kubernetes.io/hostname": "bench-node-%04d" % i,
                "karpenter.sh/registered": "true", "karpenter.sh/initialized": "true"}},
            "spec": {"providerID": "aws:///%s/i-bench%012d" % (zone, i)},
            "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                       "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}


def deployment(n):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench", "namespace": "default"},
            "spec": {"replicas": n, "selector": {"matchLabels": {"app": "bench"}},
                     "template": {"metadata": {"labels": {"app": "bench"}},
                                  "spec": {"containers": [{"name": "c", "image": "pause",
                                                           "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}}


def main():
    args = sys.argv[1:]
    opts = {"--pods": "10000", "--nodes": "1000", "--metrics": "", "--steady": "20", "--kubeconfig": ""}
    procs = []
    i = 0
    while i < len(args):
        if args[i] in opts:
            opts[args[i]] = args[i + 1]
            i += 2
        else:
            name, _, pid = args[i].partition("=")
            procs.append((name, int(pid)))
            i += 1
    npods, nnodes, steady = int(opts["--pods"]), int(opts["--nodes"]), float(opts["--steady"])
    api = Api(opts["--kubeconfig"])
    start = {n: proc(p) for n, p in procs}

    def row(label, cur, base, secs):
        for n, _ in procs:
            c, b = cur[n], base[n]
            cpu = c["cpu"] - b["cpu"]
            print("  %-10s %-22s RSS %6.1f MB  peak %6.1f MB  CPU %6.2f s%s" % (
                n, label, c["VmRSS"], c["VmHWM"], cpu,
                ("  (%.1f%% of a core)" % (100.0 * cpu / secs)) if secs else ""))

    row("idle, synced", start, {n: {"cpu": 0} for n, _ in procs}, 0)
    t0 = time.time()
    for k in range(nnodes):
        s, body = api.call("POST", "/api/v1/nodes", node(k))
        if s not in (200, 201, 409):
            print("create node: HTTP %d %s" % (s, body[:200]))
            return 1
    t_nodes = time.time() - t0
    t1 = time.time()
    s, body = api.call("POST", "/apis/apps/v1/namespaces/default/deployments", deployment(npods))
    if s not in (200, 201):
        print("create deployment: HTTP %d %s" % (s, body[:200]))
        return 1
    ready = 0
    deadline = t1 + 170
    while time.time() < deadline:
        s, body = api.call("GET", "/apis/apps/v1/namespaces/default/deployments/bench")
        if s == 200:
            ready = json.loads(body).get("status", {}).get("readyReplicas", 0) or 0
            if ready >= npods:
                break
        time.sleep(0.5)
    t_run = time.time() - t1
    loaded = {n: proc(p) for n, p in procs}
    print("  %d nodes created in %.1f s; %d/%d pods Running %.1f s after the Deployment was created" % (
        nnodes, t_nodes, ready, npods, t_run))
    row("load (nodes + pods)", loaded, start, time.time() - t0)
    time.sleep(steady)
    after = {n: proc(p) for n, p in procs}
    row("steady %.0f s" % steady, after, loaded, steady)
    if opts["--metrics"]:
        t2 = time.time()
        try:
            text = urllib.request.urlopen(opts["--metrics"], timeout=30).read().decode()
        except OSError as e:
            text = ""
            print("  /metrics: %s" % e)
        dt = time.time() - t2
        pods = sum(1 for l in text.splitlines() if l.startswith("karpenter_pods_state{"))
        count = [l.split()[-1] for l in text.splitlines() if l.startswith("karpenter_cluster_state_node_count ")]
        print("  /metrics: %d bytes in %.2f s; karpenter_pods_state series %d; cluster_state_node_count %s" % (
            len(text), dt, pods, count[0] if count else "-"))
    return 0 if ready >= npods else 1


if __name__ == "__main__":
    sys.exit(main())
