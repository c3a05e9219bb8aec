#!/usr/bin/python3
"""builtins_py.py KUBECONFIG MODE: the built-in controllers of `karpenter up`
seen through the official Python client (python3-kubernetes) and its watch.

  list       list_node() and list_pod_for_all_namespaces() deserialize every
             object (nodeInfo, containerStatuses complete); prints counts
  rollout D SECONDS
             watches the ReplicaSets of Deployment D (namespace default) for
             at most SECONDS and prints the largest sum of spec.replicas and
             the smallest sum of status.availableReplicas seen after the
             first event, and the number of events
"""
import sys
from kubernetes import client, config, watch


def list_all(kc):
    config.load_kube_config(config_file=kc)
    v1 = client.CoreV1Api()
    nodes = v1.list_node().items
    for n in nodes:
        info = n.status.node_info
        assert info.boot_id and info.machine_id and info.system_uuid and info.kernel_version, n.metadata.name
        assert info.kubelet_version and info.container_runtime_version, n.metadata.name
    pods = v1.list_pod_for_all_namespaces().items
    for p in pods:
        for cs in p.status.container_statuses or []:
            assert cs.image_id is not None and cs.restart_count is not None, p.metadata.name
    print("nodes=%d pods=%d" % (len(nodes), len(pods)))


def rollout(kc, deploy, seconds):
    config.load_kube_config(config_file=kc)
    apps = client.AppsV1Api()
    start = apps.list_namespaced_replica_set("default")
    state = {}
    for rs in start.items:
        state[rs.metadata.name] = rs
    mine = lambda rs: any(r.name == deploy and r.controller for r in rs.metadata.owner_references or [])
    max_spec, min_avail, events = 0, 1 << 30, 0
    w = watch.Watch()
    for ev in w.stream(apps.list_namespaced_replica_set, "default", resource_version=start.metadata.resource_version,
                       timeout_seconds=int(seconds)):
        rs = ev["object"]
        if ev["type"] == "DELETED":
            state.pop(rs.metadata.name, None)
        else:
            state[rs.metadata.name] = rs
        events += 1
        sets = [r for r in state.values() if mine(r)]
        spec = sum(r.spec.replicas or 0 for r in sets)
        avail = sum(min((r.status.available_replicas or 0) if r.status else 0, r.spec.replicas or 0) for r in sets)
        max_spec = max(max_spec, spec)
        min_avail = min(min_avail, avail)
    print("max_spec=%d min_avail=%d events=%d" % (max_spec, min_avail, events))


if __name__ == "__main__":
    if sys.argv[2] == "list":
        list_all(sys.argv[1])
    else:
        rollout(sys.argv[1], sys.argv[3], float(sys.argv[4]))
