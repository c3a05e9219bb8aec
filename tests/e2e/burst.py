#!/usr/bin/python3
"""burst.py KUBECONFIG OUT N: creates ConfigMaps burst-0..N-1 as fast as it can
over HTTPS (stdlib only) and appends "name rv" to OUT after each 201, flushed
and fsynced, so the file lists exactly the acknowledged writes. Stops at the
first connection error (the server was killed)."""
import json, os, ssl, sys, base64, http.client

def kubeconfig(path):
    # the kubeconfig written by `karpenter up` is simple YAML: read the 3 fields
    server = ca = token = None
    for line in open(path):
        line = line.strip()
        if line.startswith("server:"): server = line.split(None, 1)[1]
        elif line.startswith("certificate-authority-data:"): ca = base64.b64decode(line.split(None, 1)[1]).decode()
        elif line.startswith("token:"): token = line.split(None, 1)[1]
    return server, ca, token

def main():
    server, ca, token = kubeconfig(sys.argv[1])
    out = open(sys.argv[2], "a")
    n = int(sys.argv[3])
    ctx = ssl.create_default_context(cadata=ca)
    hostport = server[len("https://"):]
    conn = http.client.HTTPSConnection(hostport, context=ctx, timeout=10)
    hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    for i in range(n):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "burst-%d" % i}, "data": {"i": str(i)}})
        try:
            conn.request("POST", "/api/v1/namespaces/default/configmaps", body, hdr)
            r = conn.getresponse()
            data = r.read()
        except Exception:
            return 0
        if r.status != 201:
            print("unexpected status", r.status, data[:200], file=sys.stderr)
            return 1
        rv = json.loads(data)["metadata"]["resourceVersion"]
        out.write("burst-%d %s\n" % (i, rv))
        out.flush()
        os.fsync(out.fileno())
    return 0

sys.exit(main())
