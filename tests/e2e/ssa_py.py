"""Server-side apply through the official Python client's dynamic client
(python3-kubernetes): create, update, conflict (409 naming the manager) and
force. Usage: ssa_py.py KUBECONFIG. Prints one line per step; exit 0 when
all steps behaved."""
import sys

from kubernetes import config, dynamic
from kubernetes.client.exceptions import ApiException

api = config.new_client_from_config(config_file=sys.argv[1])
dyn = dynamic.DynamicClient(api)
cms = dyn.resources.get(api_version="v1", kind="ConfigMap")


def body(v):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "py-ssa", "namespace": "default"}, "data": {"k": v}}


dyn.server_side_apply(cms, body=body("1"), namespace="default", field_manager="py-a")
print("created", cms.get(name="py-ssa", namespace="default").data.k)
dyn.server_side_apply(cms, body=body("2"), namespace="default", field_manager="py-a")
got = cms.get(name="py-ssa", namespace="default")
print("updated", got.data.k, got.metadata.managedFields[0].manager)
try:
    dyn.server_side_apply(cms, body=body("3"), namespace="default", field_manager="py-b")
    print("no conflict")
    sys.exit(1)
except ApiException as e:
    print("conflict", e.status, "conflict with \"py-a\"" in (e.body or ""))
    if e.status != 409:
        sys.exit(1)
dyn.server_side_apply(cms, body=body("3"), namespace="default", field_manager="py-b", force_conflicts=True)
print("forced", cms.get(name="py-ssa", namespace="default").data.k)
