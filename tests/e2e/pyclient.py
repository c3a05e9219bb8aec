#!/usr/bin/python3
"""pyclient.py KUBECONFIG: drives `karpenter up` with the official Python
client (python3-kubernetes) unchanged: list, create, read, patch, watch,
delete, and an expected 409 and 404. Prints "ok" and exits 0 on success."""
import sys, threading
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

def main():
    config.load_kube_config(config_file=sys.argv[1])
    v1 = client.CoreV1Api()
    names = [n.metadata.name for n in v1.list_namespace().items]
    assert "default" in names, names
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-cm", labels={"from": "python"}), data={"a": "1"})
    created = v1.create_namespaced_config_map("default", cm)
    assert created.metadata.uid and created.metadata.resource_version
    got = v1.read_namespaced_config_map("py-cm", "default")
    assert got.data == {"a": "1"}, got.data
    patched = v1.patch_namespaced_config_map("py-cm", "default", {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}, patched.data
    try:
        v1.create_namespaced_config_map("default", cm)
        raise AssertionError("duplicate create succeeded")
    except ApiException as e:
        assert e.status == 409, e.status
    try:
        v1.read_namespaced_config_map("nope", "default")
        raise AssertionError("missing read succeeded")
    except ApiException as e:
        assert e.status == 404, e.status
    lst = v1.list_namespaced_config_map("default", label_selector="from=python")
    assert [i.metadata.name for i in lst.items] == ["py-cm"]
    # watch from the list's version sees a later change
    seen = []
    def watcher():
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_config_map, "default", resource_version=lst.metadata.resource_version,
                           timeout_seconds=5):
            seen.append((ev["type"], ev["object"].metadata.name))
            if ev["type"] == "DELETED":
                w.stop()
    t = threading.Thread(target=watcher)
    t.start()
    import time; time.sleep(0.5)
    v1.delete_namespaced_config_map("py-cm", "default")
    t.join(10)
    assert ("DELETED", "py-cm") in seen, seen
    print("ok")

main()
